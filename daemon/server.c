/* The listener, connections, the responder handshake, HELLO and request dispatch. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "reconcile.h"
#include "server_int.h"
#include "sync.h"

const char *sz_daemon_version(void);

#define READ_BUF (64 * 1024)
#define HS1_LEN 48 /* WIRE.md section 1 */
#define HS3_LEN 96

/* ---- Writing ---- */

typedef struct wreq_s {
    uv_write_t req;
    sz_conn_t *c;
    size_t len, cap;
    uint8_t data[];
} wreq_t;

static void update_reading(sz_conn_t *c);

static void on_write(uv_write_t *req, int status) {
    wreq_t *w = (wreq_t *)req;
    sz_conn_t *c = w->c;
    c->queued -= w->len;
    free(w);
    if (status < 0 && status != UV_ECANCELED)
        sz_conn_close(c, "write_failed", status);
    else if (c->state != SZ_CONN_CLOSING) {
        if (c->close_when_drained && c->queued == 0 && c->inflight == 0) {
            sz_conn_close(c, c->srv->stopping ? "shutdown" : "after_error", 0);
        } else {
            update_reading(c);
            sz_handlers_pump(c);
        }
    }
    sz_conn_unref(c);
}

static int queue_write(sz_conn_t *c, wreq_t *w) {
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
    w->c = c;
    int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (rc < 0) {
        free(w);
        sz_conn_close(c, "write_failed", rc);
        return rc;
    }
    c->refs++;
    c->queued += w->len;
    update_reading(c);
    return 0;
}

void sz_conn_cork(sz_conn_t *c) {
    c->corked++;
}

void sz_conn_uncork(sz_conn_t *c) {
    if (c->corked == 0 || --c->corked > 0)
        return;
    wreq_t *w = c->cork_buf;
    c->cork_buf = NULL;
    if (w != NULL && c->state == SZ_CONN_CLOSING)
        free(w);
    else if (w != NULL)
        queue_write(c, w);
    /* A shutdown may have been waiting for this connection's answers. */
    if (c->srv->stopping && c->state != SZ_CONN_CLOSING)
        sz_server_check_finish(c->srv);
}

/* Returns a write request with room for n more bytes at w->data + w->len: the cork buffer when
 * corked (grown as needed), else a fresh one. */
static wreq_t *reserve(sz_conn_t *c, size_t n) {
    wreq_t *w = c->corked ? c->cork_buf : NULL;
    if (w != NULL && w->cap - w->len >= n)
        return w;
    size_t cap = n;
    if (w != NULL) {
        cap = w->cap * 2;
        if (cap < w->len + n)
            cap = w->len + n;
    } else if (c->corked && cap < 16384) {
        cap = 16384;
    }
    wreq_t *g = realloc(w, sizeof *g + cap);
    if (g == NULL)
        return NULL;
    if (w == NULL)
        g->len = 0;
    g->cap = cap;
    if (c->corked)
        c->cork_buf = g;
    return g;
}

int sz_conn_send(sz_conn_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                 size_t len) {
    if (c->state == SZ_CONN_CLOSING || c->send == NULL)
        return SZ_E_STATE;
    size_t n = sz_msg_wire_size(len);
    wreq_t *w = reserve(c, n);
    if (w == NULL) {
        sz_conn_close(c, "out_of_memory", -ENOMEM);
        return -ENOMEM;
    }
    sz_msg_header_t h = {.type = type, .flags = 0, .request_id = request_id};
    size_t out = 0;
    int rc = sz_msg_seal(c->send, &h, payload, len, w->data + w->len, n, &out);
    if (rc < 0) {
        if (!c->corked)
            free(w);
        sz_conn_close(c, "seal_failed", rc);
        return rc;
    }
    w->len += out;
    return c->corked ? 0 : queue_write(c, w);
}

int sz_conn_send_error(sz_conn_t *c, uint32_t request_id, int code, const char *text) {
    char buf[SZ_ERROR_MAX_TEXT];
    sz_error_msg_t e;
    sz_msg_error_make(&e, code, text, buf);
    uint8_t out[4 + 2 + SZ_ERROR_MAX_TEXT + 64];
    size_t n = 0;
    int rc = sz_error_msg_encode(&e, out, sizeof out, &n);
    if (rc < 0)
        return rc;
    return sz_conn_send(c, SZ_MSG_ERROR, request_id, out, n);
}

/* ---- Connection lifetime ---- */

static void conn_free(sz_conn_t *c) {
    sz_recon_free(c->recon);
    free(c->cork_buf);
    sz_frame_decoder_free(&c->dec);
    sz_msg_assembler_free(&c->asm_);
    sz_noise_free(c->hs);
    sz_cipher_free(c->send);
    sz_cipher_free(c->recv);
    free(c);
}

void sz_conn_unref(sz_conn_t *c) {
    if (--c->refs == 0) {
        sz_server_t *s = c->srv;
        conn_free(c);
        sz_server_check_finish(s);
    }
}

static void on_handle_closed(uv_handle_t *h) {
    sz_conn_unref(h->data);
}

/* Our codes have names in error.h; libuv's (including UV_EOF) in libuv. */
static const char *err_text(int err) {
    if (err == 0)
        return "none";
    return (err <= -1000 && err > -2000) ? sz_errname(err) : uv_err_name(err);
}

void sz_conn_close(sz_conn_t *c, const char *reason, int err) {
    if (c->state == SZ_CONN_CLOSING)
        return;
    sz_server_t *s = c->srv;
    int quiet = (err == 0 || err == UV_EOF) && !s->cfg->log_connections;
    if (!quiet)
        SZ_LOG(err == 0 || err == UV_EOF ? SZ_LOG_INFO : SZ_LOG_WARN, "conn_close",
               SZ_LF_STR("peer", c->addr), SZ_LF_STR("reason", reason),
               SZ_LF_STR("err", err_text(err)));
    int was = c->state;
    c->state = SZ_CONN_CLOSING;
    if (c->outbound && was != SZ_CONN_CLOSING)
        sz_sync_on_close(c);
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    /* The keys go now; the struct lives on until pending writes and jobs let go of it. */
    sz_noise_free(c->hs);
    c->hs = NULL;
    sz_cipher_free(c->send);
    c->send = NULL;
    sz_cipher_free(c->recv);
    c->recv = NULL;
    sz_frame_decoder_free(&c->dec);
    sz_msg_assembler_free(&c->asm_);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    s->nconns--;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    sz_handlers_pump(c); /* drops read requests that had not started */
}

static void on_timer(uv_timer_t *t) {
    sz_conn_t *c = t->data;
    if (c->state == SZ_CONN_READY && (c->outbound || c->role == SZ_ROLE_MIRROR)) {
        /* Mirror links stay open while idle: sync polls them, and TCP keepalive finds dead ones. */
        uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
        return;
    }
    if (c->state != SZ_CONN_READY) {
        sz_conn_close(c, "handshake_timeout", SZ_E_TIMEOUT);
        return;
    }
    if (c->inflight > 0) { /* working for the peer is not idleness */
        uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
        return;
    }
    sz_conn_close(c, "idle_timeout", SZ_E_TIMEOUT);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    sz_conn_t *c = h->data;
    sz_server_t *s = c->srv;
    if (s->rbuf == NULL)
        s->rbuf = malloc(READ_BUF);
    *buf = uv_buf_init((char *)s->rbuf, s->rbuf ? READ_BUF : 0);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void update_reading(sz_conn_t *c) {
    const sz_config_t *cfg = c->srv->cfg;
    int want = c->state != SZ_CONN_CLOSING && !c->srv->stopping && !c->close_when_drained &&
               c->inflight < cfg->max_inflight_per_conn && c->queued <= cfg->max_write_queue &&
               c->held <= cfg->max_request_bytes && c->srv->held_total <= cfg->max_request_memory;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
        if (c->paused) {
            c->paused = 0;
            SZ_LOG(SZ_LOG_DEBUG, "backpressure", SZ_LF_STR("peer", c->addr),
                   SZ_LF_STR("reading", "resumed"), SZ_LF_UINT("inflight", c->inflight),
                   SZ_LF_UINT("queued", c->queued));
        }
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        /* Limits, not closing or shutdown: say so at debug level. */
        if (c->state != SZ_CONN_CLOSING && !c->srv->stopping && !c->close_when_drained) {
            c->paused = 1;
            SZ_LOG(SZ_LOG_DEBUG, "backpressure", SZ_LF_STR("peer", c->addr),
                   SZ_LF_STR("reading", "paused"), SZ_LF_UINT("inflight", c->inflight),
                   SZ_LF_UINT("queued", c->queued));
        }
    }
}

/* A request of c starts, holding len bytes of payload until sz_conn_request_done. */
static void request_begin(sz_conn_t *c, size_t len) {
    c->inflight++;
    c->held += len;
    c->srv->held_total += len;
    c->refs++;
}

void sz_conn_request_done(sz_conn_t *c, size_t held) {
    sz_server_t *s = c->srv;
    int was_over = s->held_total > s->cfg->max_request_memory;
    c->inflight--;
    c->held -= held;
    s->held_total -= held;
    if (was_over && s->held_total <= s->cfg->max_request_memory) {
        /* The node-wide limit paused every connection: each may read again. */
        for (sz_conn_t *o = s->conns; o != NULL; o = o->next)
            if (o->state != SZ_CONN_CLOSING)
                update_reading(o);
    } else if (c->state != SZ_CONN_CLOSING) {
        update_reading(c);
    }
    sz_conn_unref(c);
    sz_server_check_finish(s);
}

/* ---- Handshake ---- */

static int send_raw_frame(sz_conn_t *c, const uint8_t *msg, size_t len) {
    wreq_t *w = malloc(sizeof *w + SZ_FRAME_HEADER_LEN + len);
    if (w == NULL)
        return -ENOMEM;
    int rc = sz_frame_header_encode(w->data, len);
    if (rc < 0) {
        free(w);
        return rc;
    }
    memcpy(w->data + SZ_FRAME_HEADER_LEN, msg, len);
    w->len = w->cap = SZ_FRAME_HEADER_LEN + len;
    return queue_write(c, w);
}

static void on_hs1(sz_conn_t *c, const uint8_t *frame, size_t len) {
    sz_server_t *s = c->srv;
    if (len != HS1_LEN) {
        sz_conn_close(c, "handshake_msg1_length", SZ_E_HANDSHAKE);
        return;
    }
    int rc = sz_noise_new_samizdat(&c->hs, SZ_NOISE_RESPONDER, s->node->secret_key,
                                   s->node->network_key);
    uint8_t payload[HS1_LEN];
    size_t plen = 0;
    if (rc == 0)
        rc = sz_noise_read_message(c->hs, frame, len, payload, sizeof payload, &plen);
    if (rc == 0 && plen != 0)
        rc = SZ_E_HANDSHAKE;
    uint8_t out[256];
    size_t n = 0;
    if (rc == 0)
        rc = sz_noise_write_message(c->hs, s->node->public_key, 32, out, sizeof out, &n);
    if (rc == 0)
        rc = send_raw_frame(c, out, n);
    if (rc < 0) {
        sz_conn_close(c, "handshake_msg1", rc);
        return;
    }
    c->state = SZ_CONN_HS3;
}

static void on_hs3(sz_conn_t *c, const uint8_t *frame, size_t len) {
    if (len != HS3_LEN) {
        sz_conn_close(c, "handshake_msg3_length", SZ_E_HANDSHAKE);
        return;
    }
    uint8_t payload[HS3_LEN];
    size_t plen = 0;
    int rc = sz_noise_read_message(c->hs, frame, len, payload, sizeof payload, &plen);
    if (rc == 0)
        rc = sz_noise_verify_peer(c->hs, payload, plen, c->peer_key);
    if (rc == 0)
        rc = sz_noise_split(c->hs, &c->send, &c->recv);
    sz_noise_free(c->hs);
    c->hs = NULL;
    if (rc < 0) {
        /* The usual cause is a wrong network key: say so in the log. */
        sz_conn_close(c, "handshake_msg3", rc);
        return;
    }
    c->state = SZ_CONN_HELLO;
}

static void on_hello(sz_conn_t *c, const sz_msg_t *m) {
    sz_server_t *s = c->srv;
    if (m->header.type != SZ_MSG_HELLO) {
        sz_conn_send_error(c, m->header.request_id, SZ_E_PROTOCOL,
                           "the first message must be HELLO");
        c->close_when_drained = 1;
        update_reading(c);
        return;
    }
    sz_msg_hello_t h;
    int rc = sz_msg_hello_decode(&h, m->payload, m->len);
    sz_hello_t local = {.count = 1, .versions = {SZ_PROTOCOL_VERSION}};
    uint16_t version = 0;
    if (rc == 0 && (rc = sz_hello_choose(&local, &h.versions, &version)) == SZ_E_UPGRADE) {
        char text[SZ_ERROR_MAX_TEXT];
        snprintf(text, sizeof text, "this node speaks samizdat protocol versions %u",
                 (unsigned)SZ_PROTOCOL_VERSION);
        sz_error_msg_t e = {
            .code = SZ_E_UPGRADE, .text = text, .text_len = strlen(text), .versions = local};
        uint8_t out[SZ_ERROR_MAX_TEXT + 64];
        size_t n = 0;
        if (sz_error_msg_encode(&e, out, sizeof out, &n) == 0)
            sz_conn_send(c, SZ_MSG_ERROR, 0, out, n);
        SZ_LOG(SZ_LOG_WARN, "hello_upgrade", SZ_LF_STR("peer", c->addr),
               SZ_LF_UINT("peer_min", h.versions.versions[0]),
               SZ_LF_UINT("peer_max", h.versions.versions[h.versions.count - 1]));
        c->close_when_drained = 1;
        update_reading(c);
        return;
    }
    if (rc < 0) {
        sz_conn_send_error(c, 0, SZ_E_PROTOCOL, "HELLO does not decode");
        c->close_when_drained = 1;
        update_reading(c);
        return;
    }
    /* Mirroring is mutual and explicit: only keys in the peer table may speak as mirrors. */
    if (h.role == SZ_ROLE_MIRROR && !sz_sync_is_peer(s, c->peer_key)) {
        sz_conn_send_error(c, 0, SZ_E_DENIED, "this node does not mirror your key (peer add?)");
        SZ_LOG(SZ_LOG_WARN, "mirror_refused", SZ_LF_STR("peer", c->addr),
               SZ_LF_PUBKEY("key", c->peer_key));
        c->close_when_drained = 1;
        update_reading(c);
        return;
    }
    c->role = h.role;
    sz_msg_hello_ok_t ok = {.version = version,
                            .max_message = s->cfg->max_message,
                            .max_inflight = (uint16_t)(s->cfg->max_inflight_per_conn > 65535
                                                           ? 65535
                                                           : s->cfg->max_inflight_per_conn)};
    memcpy(ok.node_key, s->node->public_key, 32);
    memcpy(ok.software, s->software, sizeof ok.software);
    uint8_t out[128];
    size_t n = 0;
    rc = sz_msg_hello_ok_encode(&ok, out, sizeof out, &n);
    if (rc == 0)
        rc = sz_conn_send(c, SZ_MSG_HELLO_OK, 0, out, n);
    if (rc < 0)
        return;
    c->state = SZ_CONN_READY;
    if (s->cfg->log_connections)
        SZ_LOG(SZ_LOG_INFO, "conn_ready", SZ_LF_STR("peer", c->addr),
               SZ_LF_PUBKEY("key", c->peer_key), SZ_LF_UINT("role", h.role),
               SZ_LF_PEER("software", h.software));
}

/* ---- Outbound connections (initiator side, for sync.c) ---- */

static void on_outbound_message(sz_conn_t *c, const sz_msg_t *m) {
    if (c->state == SZ_CONN_OUT_HELLO_OK) {
        sz_msg_hello_ok_t ok;
        if (m->header.type != SZ_MSG_HELLO_OK || m->header.request_id != 0 ||
            sz_msg_hello_ok_decode(&ok, m->payload, m->len) != 0 ||
            ok.version != SZ_PROTOCOL_VERSION || sodium_memcmp(ok.node_key, c->peer_key, 32) != 0) {
            sz_conn_close(c, m->header.type == SZ_MSG_ERROR ? "mirror_refused" : "bad_hello_ok",
                          m->header.type == SZ_MSG_ERROR ? SZ_E_DENIED : SZ_E_PROTOCOL);
            return;
        }
        c->state = SZ_CONN_READY;
        uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
        if (c->srv->cfg->log_connections)
            SZ_LOG(SZ_LOG_INFO, "conn_ready", SZ_LF_STR("peer", c->addr),
                   SZ_LF_PUBKEY("key", c->peer_key), SZ_LF_STR("direction", "outbound"),
                   SZ_LF_PEER("software", ok.software));
        sz_sync_on_ready(c, &ok);
        return;
    }
    if (c->state == SZ_CONN_READY)
        sz_sync_on_message(c, m);
}

static void on_out_hs2(sz_conn_t *c, const uint8_t *frame, size_t len) {
    sz_server_t *s = c->srv;
    uint8_t payload[256];
    size_t plen = 0;
    uint8_t expected[32];
    memcpy(expected, c->peer_key, 32);
    int rc = sz_noise_read_message(c->hs, frame, len, payload, sizeof payload, &plen);
    if (rc == 0)
        rc = sz_noise_verify_peer(c->hs, payload, plen, c->peer_key);
    /* Checked before our identity leaves: a node we did not ask for learns nothing of us. */
    if (rc == 0 && sodium_memcmp(expected, c->peer_key, 32) != 0)
        rc = SZ_E_KEY;
    uint8_t out[256];
    size_t n = 0;
    if (rc == 0)
        rc = sz_noise_write_message(c->hs, s->node->public_key, 32, out, sizeof out, &n);
    if (rc == 0)
        rc = send_raw_frame(c, out, n);
    if (rc == 0)
        rc = sz_noise_split(c->hs, &c->send, &c->recv);
    sz_noise_free(c->hs);
    c->hs = NULL;
    if (rc != 0) {
        sz_conn_close(c, rc == SZ_E_KEY ? "peer_key_mismatch" : "handshake_msg2", rc);
        return;
    }
    sz_msg_hello_t h;
    memset(&h, 0, sizeof h);
    h.versions.count = 1;
    h.versions.versions[0] = SZ_PROTOCOL_VERSION;
    h.role = SZ_ROLE_MIRROR;
    memcpy(h.software, s->software, sizeof h.software);
    uint8_t hb[128];
    if (sz_msg_hello_encode(&h, hb, sizeof hb, &n) == 0 &&
        sz_conn_send(c, SZ_MSG_HELLO, 0, hb, n) == 0)
        c->state = SZ_CONN_OUT_HELLO_OK;
}

static void on_connect(uv_connect_t *req, int status) {
    sz_conn_t *c = req->data;
    sz_server_t *s = c->srv;
    if (c->state != SZ_CONN_CLOSING) {
        int rc = status;
        uint8_t out[128];
        size_t n = 0;
        if (rc == 0)
            rc = sz_noise_new_samizdat(&c->hs, SZ_NOISE_INITIATOR, s->node->secret_key,
                                       s->node->network_key);
        if (rc == 0)
            rc = sz_noise_write_message(c->hs, NULL, 0, out, sizeof out, &n);
        if (rc == 0) {
            uv_tcp_nodelay(&c->tcp, 1);
            uv_tcp_keepalive(&c->tcp, 1, 60);
            rc = send_raw_frame(c, out, n);
        }
        if (rc != 0) {
            sz_conn_close(c, status < 0 ? "connect_failed" : "handshake_msg1", rc);
        } else {
            c->state = SZ_CONN_OUT_HS2;
            update_reading(c);
        }
    }
    sz_conn_unref(c);
}

int sz_conn_connect(sz_server_t *s, const struct sockaddr *addr, const uint8_t expected_key[32],
                    struct sz_peer_s *peer, sz_conn_t **out) {
    *out = NULL;
    if (s->stopping)
        return SZ_E_STATE;
    sz_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    c->srv = s;
    c->state = SZ_CONN_OUT_CONNECT;
    c->refs = 3; /* two handles and the connect request */
    c->outbound = 1;
    c->role = SZ_ROLE_MIRROR;
    c->peer = peer;
    memcpy(c->peer_key, expected_key, 32);
    sz_frame_decoder_init(&c->dec);
    /* Pages and fetch answers may be as large as any message. */
    sz_msg_assembler_init(&c->asm_, SZ_MSG_MAX);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->connect_req.data = c;
    char ip[48] = "?";
    if (addr->sa_family == AF_INET) {
        uv_ip4_name((const struct sockaddr_in *)addr, ip, sizeof ip);
        snprintf(c->addr, sizeof c->addr, "%s:%u", ip,
                 (unsigned)ntohs(((const struct sockaddr_in *)addr)->sin_port));
    } else {
        uv_ip6_name((const struct sockaddr_in6 *)addr, ip, sizeof ip);
        snprintf(c->addr, sizeof c->addr, "[%s]:%u", ip,
                 (unsigned)ntohs(((const struct sockaddr_in6 *)addr)->sin6_port));
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    int rc = uv_tcp_connect(&c->connect_req, &c->tcp, addr, on_connect);
    if (rc < 0) {
        c->refs--; /* no connect callback will come */
        c->peer = NULL;
        sz_conn_close(c, "connect_failed", rc);
        return rc;
    }
    uv_timer_start(&c->timer, on_timer, s->cfg->handshake_timeout_ms, 0);
    *out = c;
    return 0;
}

/* ---- Requests ---- */

static void on_message(sz_conn_t *c, const sz_msg_t *m) {
    uint8_t type = m->header.type;
    uint32_t rid = m->header.request_id;
    if (c->state == SZ_CONN_HELLO) {
        on_hello(c, m);
        return;
    }
    if (c->outbound) {
        on_outbound_message(c, m);
        return;
    }
    if (type == SZ_MSG_PUSH && rid == 0) {
        if (c->role != SZ_ROLE_MIRROR) {
            sz_conn_close(c, "push_from_client", SZ_E_DENIED);
            return;
        }
        request_begin(c, m->len);
        sz_sync_push_in(c, m->payload, m->len);
        update_reading(c);
        return;
    }
    if (type == SZ_MSG_HELLO) {
        sz_conn_close(c, "second_hello", SZ_E_PROTOCOL);
        return;
    }
    if (rid == 0) {
        sz_conn_close(c, "request_id_zero", SZ_E_PROTOCOL);
        return;
    }
    switch (type) {
    case SZ_MSG_SUBMIT:
        request_begin(c, m->len);
        sz_ingest_submit(c, rid, m->payload, m->len);
        break;
    case SZ_MSG_GET:
    case SZ_MSG_HISTORY:
    case SZ_MSG_LIST:
    case SZ_MSG_SEARCH:
    case SZ_MSG_STATUS:
    case SZ_MSG_AUDIT_HEAD: /* audit.c, through handlers.c */
    case SZ_MSG_AUDIT_PROVE:
        request_begin(c, m->len);
        sz_handlers_request(c, type, rid, m->payload, m->len);
        break;
    case SZ_MSG_SYNC:
    case SZ_MSG_FETCH:
    case SZ_MSG_RECON:
        if (c->role != SZ_ROLE_MIRROR || !sz_sync_is_peer(c->srv, c->peer_key)) {
            sz_conn_send_error(c, rid, SZ_E_DENIED, "sync requests are for mirror peers only");
            break;
        }
        request_begin(c, m->len);
        if (type == SZ_MSG_RECON)
            sz_sync_recon_in(c, rid, m->payload, m->len);
        else
            sz_handlers_request(c, type, rid, m->payload, m->len);
        break;
    case SZ_MSG_PEER_ADD:
    case SZ_MSG_PEER_REMOVE:
    case SZ_MSG_PEER_LIST:
    case SZ_MSG_SYNC_NOW: {
        char why[SZ_POLICY_WHY_MAX];
        if (sz_policy_may_admin(c->srv->policy, c->peer_key, why, sizeof why) != 0) {
            sz_conn_send_error(c, rid, SZ_E_DENIED, why);
            break;
        }
        request_begin(c, m->len);
        sz_sync_admin(c, type, rid, m->payload, m->len);
        break;
    }
    default: {
        char text[96];
        snprintf(text, sizeof text, "message type %u (%s) is not a request this node serves",
                 (unsigned)type, sz_msg_type_name(type));
        sz_conn_send_error(c, rid, SZ_E_PROTOCOL, text);
        break;
    }
    }
    update_reading(c);
}

static void on_frame(sz_conn_t *c, const uint8_t *frame, size_t len) {
    sz_server_t *s = c->srv;
    if (len > s->cfg->max_frame) {
        sz_conn_close(c, "frame_too_large", SZ_E_TOO_LARGE);
        return;
    }
    switch (c->state) {
    case SZ_CONN_HS1:
        on_hs1(c, frame, len);
        return;
    case SZ_CONN_HS3:
        on_hs3(c, frame, len);
        return;
    case SZ_CONN_OUT_HS2:
        on_out_hs2(c, frame, len);
        return;
    case SZ_CONN_HELLO:
    case SZ_CONN_READY:
    case SZ_CONN_OUT_HELLO_OK:
        break;
    default:
        return;
    }
    sz_msg_t m;
    int rc = sz_msg_open(c->recv, &c->asm_, frame, len, s->plain, &m);
    if (rc < 0) {
        sz_conn_close(c, rc == SZ_E_DECRYPT ? "decrypt_failed" : "bad_fragment", rc);
        return;
    }
    if (rc == 1) {
        on_message(c, &m);
        /* Handlers copied what they keep; release a multi-fragment buffer at once. */
        if (c->state != SZ_CONN_CLOSING)
            sz_msg_assembler_free(&c->asm_);
    }
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
    sz_conn_t *c = st->data;
    if (nread < 0) {
        if (nread == UV_EOF)
            sz_conn_close(c, sz_frame_decoder_pending(&c->dec) ? "truncated_frame" : "eof",
                          sz_frame_decoder_pending(&c->dec) ? SZ_E_TRUNCATED : UV_EOF);
        else
            sz_conn_close(c, "read_failed", (int)nread);
        return;
    }
    if (nread == 0)
        return;
    if (c->state == SZ_CONN_READY)
        uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
    const uint8_t *p = (const uint8_t *)buf->base;
    size_t left = (size_t)nread;
    while (left > 0 && c->state != SZ_CONN_CLOSING && !c->close_when_drained) {
        size_t used = 0;
        const uint8_t *frame = NULL;
        size_t flen = 0;
        int rc = sz_frame_decoder_feed(&c->dec, p, left, &used, &frame, &flen);
        if (rc < 0) {
            sz_conn_close(c, rc == SZ_E_TOO_LARGE ? "frame_too_large" : "bad_frame", rc);
            break;
        }
        p += used;
        left -= used;
        if (rc == 1) {
            int was = c->state;
            on_frame(c, frame, flen);
            if (was == SZ_CONN_HELLO && c->state == SZ_CONN_READY)
                uv_timer_start(&c->timer, on_timer, c->srv->cfg->idle_timeout_ms, 0);
        }
    }
    sz_ingest_flush(c->srv);
    /* An idle connection keeps no frame buffer. */
    if (c->state != SZ_CONN_CLOSING && !sz_frame_decoder_pending(&c->dec) && c->dec.buf != NULL)
        sz_frame_decoder_free(&c->dec);
}

/* ---- Listener ---- */

/* Writes the peer's address text to out and its IP (16 bytes, IPv4 mapped into IPv6) to ip16. */
static void peer_text(uv_tcp_t *t, char *out, size_t cap, uint8_t ip16[16]) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    snprintf(out, cap, "?");
    memset(ip16, 0, 16);
    if (uv_tcp_getpeername(t, (struct sockaddr *)&ss, &len) != 0)
        return;
    char ip[64] = "";
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        ip16[10] = ip16[11] = 0xFF;
        memcpy(ip16 + 12, &a->sin_addr, 4);
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        memcpy(ip16, &a->sin6_addr, 16);
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

static void on_refused_closed(uv_handle_t *h) {
    free(h);
}

static void on_connection(uv_stream_t *server, int status) {
    sz_server_t *s = server->data;
    if (status < 0) {
        SZ_LOG(SZ_LOG_WARN, "accept_failed", SZ_LF_STR("err", uv_err_name(status)));
        return;
    }
    if (s->stopping || s->nconns >= s->cfg->max_connections) {
        uv_tcp_t *t = malloc(sizeof *t);
        if (t == NULL)
            return;
        uv_tcp_init(s->loop, t);
        if (uv_accept(server, (uv_stream_t *)t) == 0) {
            char addr[64];
            uint8_t ip16[16];
            peer_text(t, addr, sizeof addr, ip16);
            s->refused_full++;
            SZ_LOG(SZ_LOG_WARN, "conn_refused", SZ_LF_STR("peer", addr),
                   SZ_LF_STR("reason", s->stopping ? "shutting_down" : "max_connections"),
                   SZ_LF_UINT("open", s->nconns));
        }
        uv_close((uv_handle_t *)t, on_refused_closed);
        return;
    }
    sz_conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    c->srv = s;
    c->state = SZ_CONN_HS1;
    c->refs = 2;
    sz_frame_decoder_init(&c->dec);
    sz_msg_assembler_init(&c->asm_, s->cfg->max_message);
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        sz_conn_close(c, "accept_failed", SZ_E_STATE);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_text(&c->tcp, c->addr, sizeof c->addr, c->ip);
    /* Each handshake costs the node three X25519 operations before the network key is checked
     * (WIRE.md section 1): bound the handshakes one address may have in progress. */
    unsigned same = 0;
    for (sz_conn_t *o = s->conns; o != NULL; o = o->next)
        if (o != c && o->state != SZ_CONN_READY && memcmp(o->ip, c->ip, 16) == 0)
            same++;
    if (same >= SZ_HANDSHAKES_PER_ADDRESS) {
        sz_conn_close(c, "handshakes_per_address", SZ_E_DENIED);
        return;
    }
    s->accepted++;
    if (s->cfg->log_connections)
        SZ_LOG(SZ_LOG_INFO, "conn_open", SZ_LF_STR("peer", c->addr), SZ_LF_UINT("open", s->nconns));
    uv_timer_start(&c->timer, on_timer, s->cfg->handshake_timeout_ms, 0);
    update_reading(c);
}

/* ---- Lifecycle ---- */

static void on_final_closed(uv_handle_t *h) {
    (void)h;
}

void sz_server_check_finish(sz_server_t *s) {
    if (!s->stopping || s->finished)
        return;
    if (s->pending_work > 0 || sz_ingest_busy(s))
        return;
    /* Every ack has been queued: close each connection once its output is written. */
    sz_conn_t *c = s->conns;
    while (c != NULL) {
        sz_conn_t *next = c->next;
        /* A corked connection holds answers not yet queued: wait for them to be written. */
        if (c->inflight == 0 && c->queued == 0 && c->corked == 0)
            sz_conn_close(c, "shutdown", 0);
        else
            c->close_when_drained = 1;
        c = next;
    }
    if (s->nconns > 0)
        return;
    s->finished = 1;
    if (!uv_is_closing((uv_handle_t *)&s->stop_async))
        uv_close((uv_handle_t *)&s->stop_async, on_final_closed);
    if (!uv_is_closing((uv_handle_t *)&s->fts_timer))
        uv_close((uv_handle_t *)&s->fts_timer, on_final_closed);
    sz_ingest_close(s);
    SZ_LOG(SZ_LOG_INFO, "shutdown", SZ_LF_STR("msg", "graceful shutdown"),
           SZ_LF_UINT("accepted", s->accepted));
}

static void begin_stop(sz_server_t *s) {
    if (s->stopping)
        return;
    s->stopping = 1;
    SZ_LOG(SZ_LOG_INFO, "shutdown_begin", SZ_LF_UINT("open", s->nconns),
           SZ_LF_UINT("pending", s->pending_work));
    if (s->listening && !uv_is_closing((uv_handle_t *)&s->listener))
        uv_close((uv_handle_t *)&s->listener, on_final_closed);
    s->listening = 0;
    sz_sync_stop(s);
    sz_conn_t *c = s->conns;
    while (c != NULL) {
        sz_conn_t *next = c->next;
        if (c->state != SZ_CONN_READY)
            sz_conn_close(c, "shutdown", 0);
        else
            update_reading(c);
        c = next;
    }
    sz_server_check_finish(s);
}

static void on_stop_async(uv_async_t *a) {
    begin_stop(a->data);
}

void sz_server_stop(sz_server_t *s) {
    uv_async_send(&s->stop_async);
}

/* Pool threads beyond the verification workers: one for the commit, one for full-text steps and
 * reads. */
#define POOL_SPARE 2

int sz_server_new(sz_server_t **out, uv_loop_t *loop, const sz_server_options_t *opts) {
    *out = NULL;
    /* libuv writes with write(2): a peer that vanished must give EPIPE, not kill the daemon. */
    signal(SIGPIPE, SIG_IGN);
    /* The pool holds the verification workers plus POOL_SPARE threads, so that a commit waiting
     * on fdatasync and a full-text step never leave a CPU without a signature to check. */
    unsigned pool = 0, verifiers = 0;
    const char *env = getenv("UV_THREADPOOL_SIZE");
    if (env != NULL) {
        pool = (unsigned)strtoul(env, NULL, 10);
        if (pool == 0)
            pool = 1; /* as libuv reads it */
        verifiers = pool > POOL_SPARE ? pool - POOL_SPARE : 1;
    } else {
        verifiers = opts->cfg->verify_threads;
        if (verifiers == 0) {
            uv_cpu_info_t *info = NULL;
            int count = 0;
            if (uv_cpu_info(&info, &count) == 0)
                uv_free_cpu_info(info, count);
            /* One per CPU: workers take jobs from the queue themselves and never wait for the
             * event loop, and a second per CPU only takes CPU time from the commit (bench_submit:
             * 2 CPUs 91-94% busy with 2 workers, 86-89% with 4). At most the config's bound. */
            verifiers = count > 0 ? (unsigned)count : 2;
            if (verifiers > 128)
                verifiers = 128;
        }
        pool = verifiers + POOL_SPARE;
        char v[16];
        snprintf(v, sizeof v, "%u", pool);
        setenv("UV_THREADPOOL_SIZE", v, 0);
    }
    sz_server_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -ENOMEM;
    s->plain = malloc(SZ_NOISE_MAX_PLAINTEXT);
    if (s->plain == NULL) {
        free(s);
        return -ENOMEM;
    }
    s->loop = loop;
    s->max_verify_workers = verifiers;
    s->cfg = opts->cfg;
    s->node = opts->node;
    s->store = opts->store;
    s->policy = opts->policy;
    if (opts->software != NULL)
        snprintf(s->software, sizeof s->software, "%s", opts->software);
    else
        snprintf(s->software, sizeof s->software, "samizdatd/%s", sz_daemon_version());
    int rc = uv_async_init(loop, &s->stop_async, on_stop_async);
    if (rc < 0) {
        free(s->plain);
        free(s);
        return rc;
    }
    s->stop_async.data = s;
    if ((rc = sz_ingest_init(s)) < 0) {
        /* The handle must be closed before its memory goes. */
        uv_close((uv_handle_t *)&s->stop_async, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        free(s->plain);
        free(s);
        return rc;
    }
    uv_timer_init(loop, &s->fts_timer);
    s->fts_timer.data = s;
    *out = s;
    return 0;
}

int sz_server_start(sz_server_t *s) {
    const sz_hostport_t *hp = &s->cfg->listen;
    struct sockaddr_storage ss;
    const char *host = hp->host[0] ? hp->host : "127.0.0.1";
    if (uv_ip4_addr(host, hp->port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, hp->port, (struct sockaddr_in6 *)&ss) != 0) {
        SZ_LOG(SZ_LOG_ERROR, "listen_failed", SZ_LF_STR("host", host),
               SZ_LF_STR("reason", "not a numeric IPv4 or IPv6 address"));
        return SZ_E_CONFIG;
    }
    int rc = uv_tcp_init(s->loop, &s->listener);
    if (rc < 0)
        return rc;
    s->listener.data = s;
    s->listening = 1;
    rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc < 0) {
        SZ_LOG(SZ_LOG_ERROR, "listen_failed", SZ_LF_STR("host", host), SZ_LF_UINT("port", hp->port),
               SZ_LF_STR("err", uv_err_name(rc)));
        return rc;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &blen) == 0)
        s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                   : ((struct sockaddr_in6 *)&bound)->sin6_port);
    SZ_LOG(SZ_LOG_INFO, "listen", SZ_LF_STR("host", host), SZ_LF_UINT("port", s->port),
           SZ_LF_PUBKEY("node", s->node->public_key),
           SZ_LF_UINT("max_connections", s->cfg->max_connections));
    return sz_sync_start(s);
}

uint16_t sz_server_port(const sz_server_t *s) {
    return s->port;
}

void sz_server_free(sz_server_t *s) {
    if (s == NULL)
        return;
    sz_sync_free(s);
    sz_ingest_free(s);
    free(s->rbuf);
    free(s->plain);
    free(s);
}

static void on_signal(uv_signal_t *sig, int signum) {
    SZ_LOG(SZ_LOG_INFO, "signal", SZ_LF_STR("name", signum == SIGINT ? "SIGINT" : "SIGTERM"));
    begin_stop(sig->data);
    uv_close((uv_handle_t *)sig, NULL);
}

int sz_server_run(const sz_server_options_t *opts) {
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc < 0)
        return rc;
    sz_server_t *s = NULL;
    rc = sz_server_new(&s, &loop, opts);
    if (rc == 0)
        rc = sz_server_start(s);
    uv_signal_t sigint, sigterm;
    if (rc == 0) {
        uv_signal_init(&loop, &sigint);
        uv_signal_init(&loop, &sigterm);
        sigint.data = sigterm.data = s;
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sigterm, on_signal, SIGTERM);
        /* Once stopping, the signal handles must not keep the loop alive. */
        uv_unref((uv_handle_t *)&sigint);
        uv_unref((uv_handle_t *)&sigterm);
        uv_run(&loop, UV_RUN_DEFAULT);
        if (!uv_is_closing((uv_handle_t *)&sigint))
            uv_close((uv_handle_t *)&sigint, NULL);
        if (!uv_is_closing((uv_handle_t *)&sigterm))
            uv_close((uv_handle_t *)&sigterm, NULL);
    } else if (s != NULL) {
        begin_stop(s);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    sz_server_free(s);
    uv_loop_close(&loop);
    return rc;
}
