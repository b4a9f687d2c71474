#include "net.h"

#include "encoding.h"
#include "error.h"
#include "msg.h"
#include "noise.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK (256u * 1024u)
/* Bytes the node may send while we are still writing, before we give up on it. */
#define IN_MAX (64u * 1024u * 1024u)

struct sz_net_s {
    int fd;
    int timeout_ms;
    sz_cipher_t *send, *recv;
    sz_frame_decoder_t dec;
    sz_msg_assembler_t assembler;
    uint8_t *plain; /* SZ_NOISE_MAX_PLAINTEXT bytes for one decrypted fragment */
    uint8_t *out;   /* sealed bytes waiting to be written: [out_off, out_len) */
    size_t out_len, out_off, out_cap;
    uint8_t *in; /* bytes read and not yet cut into frames: [in_off, in_len) */
    size_t in_len, in_off, in_cap;
    int eof;   /* the node closed its side */
    int error; /* sticky: the connection is unusable */
    uint32_t next_id;
    uint8_t node_key[32];
    char software[SZ_MSG_MAX_SOFTWARE + 1];
    unsigned max_inflight;
    uint32_t max_message;
    char err[SZ_NET_ERROR_MAX];
};

static int set_err(sz_net_t *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set_err(sz_net_t *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    for (char *p = c->err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return rc;
}

/* Marks the connection unusable: after a failed read or write, or a bad message, the stream
 * cannot be trusted to continue. */
static int fail(sz_net_t *c, int rc) {
    if (c->error == 0)
        c->error = rc;
    return rc;
}

const uint8_t *sz_net_node_key(const sz_net_t *c) {
    return c->node_key;
}
const char *sz_net_error(const sz_net_t *c) {
    return c->err;
}
int sz_net_fd(const sz_net_t *c) {
    return c->fd;
}

unsigned sz_net_max_inflight(const sz_net_t *c) {
    return c->max_inflight;
}

const char *sz_net_software(const sz_net_t *c) {
    return c->software;
}
size_t sz_net_pending(const sz_net_t *c) {
    return c->out_len - c->out_off;
}

void sz_net_set_timeout(sz_net_t *c, int timeout_ms) {
    if (timeout_ms > 0)
        c->timeout_ms = timeout_ms;
}

uint32_t sz_net_next_id(sz_net_t *c) {
    if (++c->next_id == 0)
        c->next_id = 1;
    return c->next_id;
}

static int reserve(uint8_t **buf, size_t *cap, size_t need) {
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *p = realloc(*buf, n);
    if (p == NULL)
        return -ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

/* Appends raw bytes (a handshake frame) to the outgoing buffer. */
static int queue_raw(sz_net_t *c, const uint8_t *data, size_t len) {
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (reserve(&c->out, &c->out_cap, c->out_len + len) != 0)
        return set_err(c, -ENOMEM, "out of memory");
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    return 0;
}

int sz_net_queue(sz_net_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                 size_t len) {
    if (c->error != 0)
        return c->error;
    if (len > SZ_MSG_MAX)
        return set_err(c, SZ_E_TOO_LARGE, "message of %zu bytes exceeds the %u-byte limit", len,
                       (unsigned)SZ_MSG_MAX);
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    size_t need = sz_msg_wire_size(len);
    if (reserve(&c->out, &c->out_cap, c->out_len + need) != 0)
        return set_err(c, -ENOMEM, "out of memory");
    sz_msg_header_t h = {.type = type, .flags = 0, .request_id = request_id};
    size_t n = 0;
    int rc = sz_msg_seal(c->send, &h, payload, len, c->out + c->out_len, need, &n);
    if (rc != 0)
        return fail(c, set_err(c, rc, "cannot seal a message: %s", sz_strerror(rc)));
    c->out_len += n;
    return 0;
}

/* Reads what the socket has into the incoming buffer. Returns 0 (including at end of stream,
 * which sets c->eof) or a negative errno. */
static int read_some(sz_net_t *c) {
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0 && c->in_cap - c->in_len < READ_CHUNK) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len - c->in_off > IN_MAX)
        return fail(c, set_err(c, SZ_E_TOO_LARGE,
                               "the node sent more than %u MiB that we could not read yet",
                               IN_MAX >> 20));
    if (reserve(&c->in, &c->in_cap, c->in_len + READ_CHUNK) != 0)
        return fail(c, set_err(c, -ENOMEM, "out of memory"));
    for (;;) {
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r > 0) {
            c->in_len += (size_t)r;
            return 0;
        }
        if (r == 0) {
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ECONNRESET) {
            c->eof = 1;
            return 0;
        }
        int e = errno;
        return fail(c, set_err(c, -e, "cannot read from the node: %s", strerror(e)));
    }
}

static int write_some(sz_net_t *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w < 0 && (errno == EPIPE || errno == ECONNRESET))
            return fail(c, set_err(c, -ECONNRESET, "the node closed the connection"));
        int e = w < 0 ? errno : EIO;
        return fail(c, set_err(c, -e, "cannot write to the node: %s", strerror(e)));
    }
    return 0;
}

/* Waits until the socket can make progress (reading always, writing when bytes are queued) and
 * makes it. Returns 0, SZ_E_TIMEOUT, or the error that broke the connection. */
static int pump(sz_net_t *c) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (sz_net_pending(c) > 0)
        p.events |= POLLOUT;
    int r;
    do
        r = poll(&p, 1, c->timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        return fail(c, set_err(c, -e, "poll: %s", strerror(e)));
    }
    if (r == 0)
        return set_err(c, SZ_E_TIMEOUT, "the node did not answer within %d ms", c->timeout_ms);
    int rc = 0;
    if (p.revents & (POLLOUT | POLLERR | POLLHUP))
        if (sz_net_pending(c) > 0 && (rc = write_some(c)) != 0)
            return rc;
    if (p.revents & (POLLIN | POLLERR | POLLHUP))
        rc = read_some(c);
    return rc;
}

int sz_net_flush(sz_net_t *c) {
    if (c->error != 0)
        return c->error;
    while (sz_net_pending(c) > 0) {
        int rc = write_some(c);
        if (rc != 0)
            return rc;
        if (sz_net_pending(c) == 0)
            break;
        if ((rc = pump(c)) != 0)
            return rc;
        if (c->eof && sz_net_pending(c) > 0)
            return fail(c, set_err(c, -ECONNRESET, "the node closed the connection"));
    }
    return 0;
}

/* Returns 1 with the next whole frame (borrowed, valid until the next call), 0 at a clean end of
 * stream, or a negative error. */
static int next_frame(sz_net_t *c, const uint8_t **frame, size_t *len) {
    for (;;) {
        if (c->error != 0)
            return c->error;
        if (c->in_off < c->in_len) {
            size_t used = 0;
            int rc = sz_frame_decoder_feed(&c->dec, c->in + c->in_off, c->in_len - c->in_off, &used,
                                           frame, len);
            c->in_off += used;
            if (rc < 0)
                return fail(c, set_err(c, rc, "the node sent a bad frame: %s", sz_strerror(rc)));
            if (rc == 1)
                return 1;
            continue;
        }
        if (c->eof)
            return 0;
        if (sz_net_pending(c) > 0) {
            int rc = write_some(c);
            if (rc != 0)
                return rc;
        }
        int rc = pump(c);
        if (rc != 0)
            return rc;
    }
}

int sz_net_recv(sz_net_t *c, sz_msg_t *msg) {
    for (;;) {
        const uint8_t *frame = NULL;
        size_t len = 0;
        int rc = next_frame(c, &frame, &len);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return fail(c, set_err(c, -ECONNRESET, "the node closed the connection"));
        rc = sz_msg_open(c->recv, &c->assembler, frame, len, c->plain, msg);
        if (rc < 0)
            return fail(c, set_err(c, rc, "the node sent a bad message: %s", sz_strerror(rc)));
        if (rc == 1)
            return 0;
    }
}

int sz_net_take_error(sz_net_t *c, const sz_msg_t *msg) {
    sz_error_msg_t e;
    if (sz_error_msg_decode(&e, msg->payload, msg->len) != 0)
        return fail(c, set_err(c, SZ_E_PROTOCOL, "the node sent an ERROR that does not decode"));
    if (e.text_len > 0)
        set_err(c, e.code, "%.*s", (int)e.text_len, e.text);
    else
        set_err(c, e.code, "%s", sz_strerror(e.code));
    return e.code;
}

int sz_net_call(sz_net_t *c, uint8_t type, const uint8_t *payload, size_t len, sz_msg_t *reply) {
    uint32_t id = sz_net_next_id(c);
    int rc = sz_net_queue(c, type, id, payload, len);
    if (rc != 0)
        return rc;
    if ((rc = sz_net_recv(c, reply)) != 0)
        return rc;
    if (reply->header.type == SZ_MSG_ERROR &&
        (reply->header.request_id == id || reply->header.request_id == 0))
        return sz_net_take_error(c, reply);
    if (reply->header.request_id != id)
        return fail(c, set_err(c, SZ_E_PROTOCOL,
                               "the node answered request %u when %u was asked (protocol error)",
                               (unsigned)reply->header.request_id, (unsigned)id));
    return 0;
}

/* ---- Connecting ---------------------------------------------------------------------------- */

static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r;
        do
            r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
            *err = r == 0 ? ETIMEDOUT : errno;
            close(fd);
            return -1;
        }
        int so = 0;
        socklen_t sl = sizeof(so);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0) {
            *err = so != 0 ? so : errno;
            close(fd);
            return -1;
        }
    }
    /* Requests are small and latency matters more than packet count. */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static int tcp_connect(sz_net_t *c, const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0)
        return set_err(c, SZ_E_CONFIG, "cannot resolve %.200s port %.20s: %s", host, port,
                       gai_strerror(g));
    int err = ECONNREFUSED;
    for (const struct addrinfo *ai = res; ai != NULL && c->fd < 0; ai = ai->ai_next)
        c->fd = connect_one(ai, c->timeout_ms, &err);
    freeaddrinfo(res);
    if (c->fd < 0) {
        if (err == ETIMEDOUT)
            return set_err(c, SZ_E_TIMEOUT, "cannot connect to %.200s:%.20s: timed out", host,
                           port);
        return set_err(c, -err, "cannot connect to %.200s:%.20s: %s", host, port, strerror(err));
    }
    return 0;
}

static int send_handshake(sz_net_t *c, sz_noise_t *hs, const uint8_t *payload, size_t len) {
    uint8_t buf[SZ_FRAME_HEADER_LEN + 256];
    size_t n = 0;
    int rc = sz_noise_write_message(hs, payload, len, buf + SZ_FRAME_HEADER_LEN,
                                    sizeof(buf) - SZ_FRAME_HEADER_LEN, &n);
    if (rc != 0)
        return set_err(c, rc, "handshake: %s", sz_strerror(rc));
    sz_frame_header_encode(buf, n);
    if ((rc = queue_raw(c, buf, SZ_FRAME_HEADER_LEN + n)) != 0)
        return rc;
    return sz_net_flush(c);
}

static int handshake(sz_net_t *c, const sz_net_params_t *p) {
    sz_noise_t *hs = NULL;
    int rc = sz_noise_new_samizdat(&hs, SZ_NOISE_INITIATOR, p->secret_key, p->network_key);
    if (rc != 0)
        return set_err(c, rc, "cannot start the handshake: %s", sz_strerror(rc));
    uint8_t payload[SZ_NOISE_MAX_MSG];
    size_t plen = 0;
    const uint8_t *frame = NULL;
    size_t flen = 0;
    char want[SZ_PUBKEY_TEXT_LEN + 1], got[SZ_PUBKEY_TEXT_LEN + 1];

    if ((rc = send_handshake(c, hs, NULL, 0)) != 0)
        goto out;
    rc = next_frame(c, &frame, &flen);
    if (rc == 0) {
        rc = set_err(c, SZ_E_HANDSHAKE,
                     "the node closed the connection at the start of the handshake (not a "
                     "samizdat node, another protocol generation, or at its connection limit?)");
        goto out;
    }
    if (rc < 0)
        goto out;
    rc = sz_noise_read_message(hs, frame, flen, payload, sizeof(payload), &plen);
    if (rc != 0) {
        rc = set_err(c, SZ_E_HANDSHAKE,
                     "handshake failed: the node's first answer does not authenticate (%s; not "
                     "a samizdat node, or the connection was tampered with)",
                     sz_strerror(rc));
        goto out;
    }
    if (sz_noise_verify_peer(hs, payload, plen, c->node_key) != 0) {
        rc = set_err(c, SZ_E_HANDSHAKE,
                     "handshake failed: the node's identity does not match its Noise key");
        goto out;
    }
    /* Checked before our identity leaves: a node we did not ask for learns nothing about us. */
    if (p->node_key != NULL && sodium_memcmp(p->node_key, c->node_key, 32) != 0) {
        sz_pubkey_format(want, p->node_key);
        sz_pubkey_format(got, c->node_key);
        rc = set_err(c, SZ_E_KEY,
                     "node key mismatch: expected %s, got %s (wrong invite, or someone is "
                     "intercepting)",
                     want, got);
        goto out;
    }
    if ((rc = send_handshake(c, hs, p->secret_key + 32, 32)) != 0)
        goto out;
    if (sz_noise_action(hs) != SZ_NOISE_ACTION_SPLIT) {
        rc = set_err(c, SZ_E_STATE, "handshake did not complete (this is a bug)");
        goto out;
    }
    if ((rc = sz_noise_split(hs, &c->send, &c->recv)) != 0)
        rc = set_err(c, rc, "handshake: %s", sz_strerror(rc));
out:
    sodium_memzero(payload, sizeof(payload));
    sz_noise_free(hs);
    return rc;
}

static int negotiate(sz_net_t *c) {
    sz_msg_hello_t mine;
    memset(&mine, 0, sizeof(mine));
    mine.versions.count = 1;
    mine.versions.versions[0] = SZ_PROTOCOL_VERSION;
    mine.role = SZ_ROLE_CLIENT;
    snprintf(mine.software, sizeof(mine.software), "%s", SZ_NET_SOFTWARE);
    uint8_t buf[256];
    size_t n = 0;
    int rc = sz_msg_hello_encode(&mine, buf, sizeof(buf), &n);
    if (rc != 0)
        return set_err(c, rc, "cannot encode HELLO: %s", sz_strerror(rc));
    if ((rc = sz_net_queue(c, SZ_MSG_HELLO, 0, buf, n)) != 0)
        return rc;
    sz_msg_t m;
    memset(&m, 0, sizeof(m));
    rc = sz_net_recv(c, &m);
    if (rc == -ECONNRESET)
        /* The psk is only checked by the node at message 3, and it can only hang up. */
        return set_err(c, SZ_E_HANDSHAKE,
                       "the node closed the connection at the end of the handshake: wrong network "
                       "key (an invite or network.key from another archive?), or the connection "
                       "was tampered with");
    if (rc != 0)
        return rc;
    if (m.header.type == SZ_MSG_ERROR) {
        sz_error_msg_t e;
        if (sz_error_msg_decode(&e, m.payload, m.len) != 0)
            return fail(c, set_err(c, SZ_E_PROTOCOL,
                                   "the node sent an ERROR that does not "
                                   "decode"));
        if (e.code == SZ_E_UPGRADE) {
            int older = e.versions.count > 0 &&
                        e.versions.versions[e.versions.count - 1] < SZ_PROTOCOL_VERSION;
            return fail(c, set_err(c, SZ_E_UPGRADE,
                                   "no common protocol version: this client speaks %d, %s "
                                   "(the node said: %.*s)",
                                   SZ_PROTOCOL_VERSION,
                                   older ? "the node needs upgrading" : "upgrade this client",
                                   (int)e.text_len, e.text));
        }
        return fail(c, set_err(c, e.code, "the node refused the connection: %.*s", (int)e.text_len,
                               e.text));
    }
    sz_msg_hello_ok_t ok;
    if (m.header.type != SZ_MSG_HELLO_OK || m.header.request_id != 0 ||
        sz_msg_hello_ok_decode(&ok, m.payload, m.len) != 0 || ok.version != SZ_PROTOCOL_VERSION)
        return fail(c, set_err(c, SZ_E_PROTOCOL,
                               "the node answered HELLO with something else (protocol error)"));
    if (sodium_memcmp(ok.node_key, c->node_key, 32) != 0)
        return fail(c, set_err(c, SZ_E_PROTOCOL,
                               "the node's HELLO_OK names another key than its handshake"));
    memcpy(c->software, ok.software, sizeof(c->software));
    c->max_inflight = ok.max_inflight > 0 ? ok.max_inflight : 1;
    c->max_message = ok.max_message;
    return 0;
}

int sz_net_connect(sz_net_t **out, const sz_net_params_t *p, char *why, size_t cap) {
    *out = NULL;
    if (cap > 0)
        why[0] = '\0';
    sz_net_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(why, cap, "out of memory");
        return -ENOMEM;
    }
    c->fd = -1;
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : SZ_NET_DEFAULT_TIMEOUT_MS;
    sz_frame_decoder_init(&c->dec);
    sz_msg_assembler_init(&c->assembler, 0);
    int rc = 0;
    c->plain = malloc(SZ_NOISE_MAX_PLAINTEXT);
    if (c->plain == NULL)
        rc = set_err(c, -ENOMEM, "out of memory");
    if (rc == 0)
        rc = tcp_connect(c, p->host, p->port);
    if (rc == 0)
        rc = handshake(c, p);
    if (rc == 0)
        rc = negotiate(c);
    if (rc != 0) {
        snprintf(why, cap, "%s", c->err[0] ? c->err : sz_strerror(rc));
        sz_net_close(c);
        return rc;
    }
    c->err[0] = '\0';
    *out = c;
    return 0;
}

void sz_net_close(sz_net_t *c) {
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    sz_cipher_free(c->send);
    sz_cipher_free(c->recv);
    sz_frame_decoder_free(&c->dec);
    sz_msg_assembler_free(&c->assembler);
    if (c->plain != NULL) {
        sodium_memzero(c->plain, SZ_NOISE_MAX_PLAINTEXT);
        free(c->plain);
    }
    free(c->out);
    free(c->in);
    free(c);
}
