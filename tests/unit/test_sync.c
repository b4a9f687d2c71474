/* Replication against a hostile peer: a node under test (the real server, in-process on its own
 * libuv thread) mirrors a fake peer H written here on plain sockets. H sends forged or invalid
 * records in a LOG_PAGE (answering the node's pull) and in a PUSH (on its own inbound
 * connection); the node must disconnect H and store nothing H sent in that message. A valid page
 * is stored (the control), and a mirror key the node does not know is refused at HELLO. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "encoding.h"
#include "invite.h"
#include "node.h"
#include "policy.h"
#include "reconcile.h"
#include "record.h"
#include "server.h"
#include "store.h"
#include "sz_testclient.h"

#define TIMEOUT_MS 8000

typedef struct fx_s {
    char dir[256];
    sz_config_t cfg;
    sz_node_t node;
    sz_store_t *store;
    sz_policy_t *policy;
    uv_loop_t loop;
    sz_server_t *srv;
    pthread_t th;
    uint16_t port;
    uint8_t h_sk[64], h_pk[32]; /* the hostile peer */
    int lfd;                    /* H's listening socket */
    uint16_t h_port;
} fx_t;

static void *loop_main(void *arg) {
    fx_t *f = arg;
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return NULL;
}

static int listen_any(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t l = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &l), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* Starts the node with H as its peer (H listening at h_port when listen_h, else an address where
 * nothing listens). */
static void fx_start(fx_t *f, int listen_h) {
    memset(f, 0, sizeof *f);
    crypto_sign_keypair(f->h_pk, f->h_sk);
    f->lfd = -1;
    if (listen_h) {
        f->lfd = listen_any(&f->h_port);
    } else {
        int fd = listen_any(&f->h_port);
        close(fd); /* a port where nothing listens: the node's outbound attempts fail */
    }
    snprintf(f->dir, sizeof f->dir, "/tmp/sz_test_sync_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char sub[300];
    snprintf(sub, sizeof sub, "%s/node", f->dir);
    char err[SZ_CONFIG_ERR_MAX] = "";
    assert_int_equal(sz_config_init(&f->cfg), 0);
    f->cfg.listen.port = 0;
    snprintf(f->cfg.listen.host, sizeof f->cfg.listen.host, "127.0.0.1");
    snprintf(f->cfg.advertise.host, sizeof f->cfg.advertise.host, "127.0.0.1");
    f->cfg.advertise.port = 9;
    sz_node_options_t no = {.cfg = &f->cfg, .errbuf = err, .errlen = sizeof err};
    int rc = sz_node_init(&f->node, sub, &no);
    if (rc != 0)
        fprintf(stderr, "node init: %s\n", err);
    assert_int_equal(rc, 0);
    /* H's invite, in this archive: a config `peer` line. */
    char inv[SZ_INVITE_BUF];
    assert_true(sz_invite_format(inv, sizeof inv, "127.0.0.1", f->h_port, f->h_pk,
                                 f->node.network_key) > 0);
    assert_int_equal(sz_config_set(&f->cfg, "peer", inv, "test", 0, err, sizeof err), 0);
    sodium_memzero(inv, sizeof inv);
    assert_int_equal(
        sz_policy_new(&f->policy, &f->cfg, (const uint8_t(*)[32])f->node.admins, f->node.nadmins),
        0);
    sz_store_options_t so = {.editor = sz_policy_editor_cb, .editor_arg = f->policy};
    assert_int_equal(sz_store_open(&f->store, sub, &so), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    sz_server_options_t o = {.cfg = &f->cfg,
                             .node = &f->node,
                             .store = f->store,
                             .policy = f->policy,
                             .software = "samizdatd/test"};
    assert_int_equal(sz_server_new(&f->srv, &f->loop, &o), 0);
    assert_int_equal(sz_server_start(f->srv), 0);
    f->port = sz_server_port(f->srv);
    assert_int_equal(pthread_create(&f->th, NULL, loop_main, f), 0);
}

static void fx_stop(fx_t *f) {
    sz_server_stop(f->srv);
    pthread_join(f->th, NULL);
    sz_server_free(f->srv);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    sz_store_close(f->store);
    sz_policy_free(f->policy);
    sz_node_free(&f->node);
    sz_config_free(&f->cfg);
    if (f->lfd >= 0)
        close(f->lfd);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static uint64_t versions(fx_t *f) {
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(f->store, &st), 0);
    return st.versions;
}

/* ---- Records ---- */

typedef struct env_s {
    uint8_t *buf;
    size_t len;
} env_t;

static env_t mk(const uint8_t *sk, int i) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"title\":\"Testimony %d\",\"statement\":{\"text\":\"This fictional witness "
             "number %d speaks\",\"language\":\"en\"},\"witness\":{\"role\":\"civilian\"},"
             "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"other\"]}",
             i, i);
    sz_record_fields_t fl = {.kind = SZ_KIND_TESTIMONY,
                             .created = 1700000000000ull + (uint64_t)i,
                             .body = (const uint8_t *)body,
                             .body_len = (uint32_t)strlen(body)};
    env_t e = {0};
    assert_int_equal(sz_record_sign(&fl, sk, &e.buf, &e.len), 0);
    return e;
}

/* ---- The hostile peer's side of a connection ---- */

/* Accepts the node's outbound connection and runs the responder handshake and HELLO_OK as H. */
static void h_accept(fx_t *f, tc_t *t) {
    memset(t, 0, sizeof *t);
    sz_frame_decoder_init(&t->dec);
    sz_msg_assembler_init(&t->a, 0);
    t->fd = accept(f->lfd, NULL, NULL);
    assert_true(t->fd >= 0);
    struct timeval tv = {.tv_sec = TIMEOUT_MS / 1000};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sz_noise_t *hs = NULL;
    assert_int_equal(sz_noise_new_samizdat(&hs, SZ_NOISE_RESPONDER, f->h_sk, f->node.network_key),
                     0);
    const uint8_t *fr = NULL;
    size_t flen = 0;
    uint8_t buf[256], pl[256];
    size_t n = 0, pn = 0;
    assert_int_equal(tc_read_frame(t, &fr, &flen), 1);
    assert_int_equal(sz_noise_read_message(hs, fr, flen, pl, sizeof pl, &pn), 0);
    assert_int_equal(sz_noise_write_message(hs, f->h_pk, 32, buf, sizeof buf, &n), 0);
    assert_int_equal(tc_send_frame(t, buf, n), 0);
    assert_int_equal(tc_read_frame(t, &fr, &flen), 1);
    assert_int_equal(sz_noise_read_message(hs, fr, flen, pl, sizeof pl, &pn), 0);
    assert_int_equal(sz_noise_verify_peer(hs, pl, pn, t->node_key), 0);
    assert_memory_equal(t->node_key, f->node.public_key, 32);
    sz_cipher_t *a = NULL, *b = NULL; /* this side's send and receive */
    assert_int_equal(sz_noise_split(hs, &a, &b), 0);
    sz_noise_free(hs);
    t->send = a;
    t->recv = b;
    t->plain = malloc(SZ_NOISE_MAX_PLAINTEXT);
    assert_int_equal(tc_recv(t), 1);
    assert_int_equal(t->hdr.type, SZ_MSG_HELLO);
    sz_msg_hello_t h;
    assert_int_equal(sz_msg_hello_decode(&h, t->msg, t->msg_len), 0);
    assert_int_equal(h.role, SZ_ROLE_MIRROR);
    sz_msg_hello_ok_t ok = {
        .version = SZ_PROTOCOL_VERSION, .max_message = SZ_MSG_MAX, .max_inflight = 16};
    memcpy(ok.node_key, f->h_pk, 32);
    snprintf(ok.software, sizeof ok.software, "hostile/1");
    assert_int_equal(sz_msg_hello_ok_encode(&ok, buf, sizeof buf, &n), 0);
    assert_int_equal(tc_send(t, SZ_MSG_HELLO_OK, 0, buf, n), 0);
}

/* Waits for the node's SYNC; returns its request id. */
static uint32_t h_wait_sync(tc_t *t, sz_msg_sync_t *q) {
    for (;;) {
        assert_int_equal(tc_recv(t), 1);
        if (t->hdr.type == SZ_MSG_SYNC) {
            assert_int_equal(sz_msg_sync_decode(q, t->msg, t->msg_len), 0);
            return t->hdr.request_id;
        }
    }
}

/* Answers a SYNC with the given envelopes as H's log entries from 0. */
static void h_send_page(fx_t *f, tc_t *t, uint32_t rid, env_t *e, size_t n) {
    sz_msg_log_entry_t ent[8];
    for (size_t i = 0; i < n; i++) {
        ent[i].seq = i;
        ent[i].envelope = e[i].buf;
        ent[i].len = e[i].len;
    }
    sz_msg_log_page_t pg = {.from = 0, .count = (uint16_t)n, .entries = ent};
    pg.head.size = n;
    pg.head.timestamp = 1700000000000ull;
    /* First contact: the node has no earlier head to check this one's root against. */
    memset(pg.head.root, 0x33, 32);
    assert_int_equal(sz_tree_head_sign(&pg.head, f->h_sk), 0);
    size_t len = 0;
    assert_int_equal(sz_msg_log_page_encode(&pg, NULL, 0, &len), 0);
    uint8_t *buf = malloc(len);
    assert_int_equal(sz_msg_log_page_encode(&pg, buf, len, &len), 0);
    assert_int_equal(tc_send(t, SZ_MSG_LOG_PAGE, rid, buf, len), 0);
    free(buf);
}

/* The node closes the connection (bounded by the receive timeout). */
static void expect_closed(tc_t *t) {
    int rc;
    while ((rc = tc_recv(t)) == 1) {
    }
    assert_true(rc == 0 || rc == -ECONNRESET);
}

static void flip_body_byte(env_t *e) {
    /* A byte in the middle of the body: structure intact, signature broken. */
    e->buf[e->len / 2] ^= 0x01;
}

/* ---- Tests ---- */

static void test_valid_page_is_stored(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 1);
    uint8_t ask[32], asp[64];
    crypto_sign_keypair(ask, asp);
    env_t e[3] = {mk(asp, 1), mk(asp, 2), mk(asp, 3)};
    tc_t t;
    h_accept(&f, &t);
    sz_msg_sync_t q;
    uint32_t rid = h_wait_sync(&t, &q);
    assert_int_equal(q.from, 0);
    h_send_page(&f, &t, rid, e, 3);
    /* Bounded wait for the commit. */
    for (int i = 0; i < 400 && versions(&f) < 3; i++)
        usleep(10000);
    assert_int_equal(versions(&f), 3);
    tc_close(&t);
    for (int i = 0; i < 3; i++)
        free(e[i].buf);
    fx_stop(&f);
}

static void test_forged_page_stores_nothing(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 1);
    uint8_t ask[32], asp[64];
    crypto_sign_keypair(ask, asp);
    env_t e[3] = {mk(asp, 1), mk(asp, 2), mk(asp, 3)};
    flip_body_byte(&e[1]);
    tc_t t;
    h_accept(&f, &t);
    sz_msg_sync_t q;
    uint32_t rid = h_wait_sync(&t, &q);
    h_send_page(&f, &t, rid, e, 3);
    expect_closed(&t);
    tc_close(&t);
    /* The two valid records of the page were refused with the forged one. */
    assert_int_equal(versions(&f), 0);
    for (int i = 0; i < 3; i++)
        free(e[i].buf);
    fx_stop(&f);
}

static void test_invalid_page_stores_nothing(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 1);
    uint8_t ask[32], asp[64];
    crypto_sign_keypair(ask, asp);
    env_t e[2] = {mk(asp, 1), mk(asp, 2)};
    /* Not a record at all: a wrong magic. */
    e[1].buf[0] ^= 0xFF;
    tc_t t;
    h_accept(&f, &t);
    sz_msg_sync_t q;
    uint32_t rid = h_wait_sync(&t, &q);
    h_send_page(&f, &t, rid, e, 2);
    expect_closed(&t);
    tc_close(&t);
    assert_int_equal(versions(&f), 0);
    for (int i = 0; i < 2; i++)
        free(e[i].buf);
    fx_stop(&f);
}

/* H connects to the node as a mirror (the initiator side). */
static void h_connect(fx_t *f, tc_t *t, const uint8_t *sk) {
    assert_int_equal(tc_connect(t, f->port, TIMEOUT_MS), 0);
    assert_int_equal(tc_handshake(t, sk, f->node.network_key), 0);
    sz_msg_hello_t h;
    memset(&h, 0, sizeof h);
    h.versions.count = 1;
    h.versions.versions[0] = SZ_PROTOCOL_VERSION;
    h.role = SZ_ROLE_MIRROR;
    snprintf(h.software, sizeof h.software, "hostile/1");
    uint8_t buf[128];
    size_t n = 0;
    assert_int_equal(sz_msg_hello_encode(&h, buf, sizeof buf, &n), 0);
    assert_int_equal(tc_send(t, SZ_MSG_HELLO, 0, buf, n), 0);
}

static void test_forged_push_stores_nothing(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 0);
    uint8_t ask[32], asp[64];
    crypto_sign_keypair(ask, asp);
    env_t e[3] = {mk(asp, 1), mk(asp, 2), mk(asp, 3)};
    flip_body_byte(&e[2]);
    tc_t t;
    h_connect(&f, &t, f.h_sk);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_HELLO_OK);
    sz_msg_push_item_t it[3];
    for (int i = 0; i < 3; i++) {
        it[i].envelope = e[i].buf;
        it[i].len = e[i].len;
    }
    sz_msg_push_t p = {.log_size = 3, .count = 3, .items = it};
    size_t n = 0;
    assert_int_equal(sz_msg_push_encode(&p, NULL, 0, &n), 0);
    uint8_t *buf = malloc(n);
    assert_int_equal(sz_msg_push_encode(&p, buf, n, &n), 0);
    assert_int_equal(tc_send(&t, SZ_MSG_PUSH, 0, buf, n), 0);
    free(buf);
    expect_closed(&t);
    tc_close(&t);
    assert_int_equal(versions(&f), 0);

    /* The control: a valid push from H on a new connection is stored. */
    env_t g[2] = {mk(asp, 4), mk(asp, 5)};
    h_connect(&f, &t, f.h_sk);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_HELLO_OK);
    for (int i = 0; i < 2; i++) {
        it[i].envelope = g[i].buf;
        it[i].len = g[i].len;
    }
    p.count = 2;
    assert_int_equal(sz_msg_push_encode(&p, NULL, 0, &n), 0);
    buf = malloc(n);
    assert_int_equal(sz_msg_push_encode(&p, buf, n, &n), 0);
    assert_int_equal(tc_send(&t, SZ_MSG_PUSH, 0, buf, n), 0);
    free(buf);
    for (int i = 0; i < 400 && versions(&f) < 2; i++)
        usleep(10000);
    assert_int_equal(versions(&f), 2);
    tc_close(&t);
    for (int i = 0; i < 3; i++)
        free(e[i].buf);
    for (int i = 0; i < 2; i++)
        free(g[i].buf);
    fx_stop(&f);
}

/* Regression: a FETCH naming a version whose body a retraction purged is answered, item by item,
 * with PURGED for that version and the envelope of the others; it used to refuse the whole FETCH,
 * so a mirror could never finish fetching from a node that had honoured a retraction. */
static void test_fetch_of_purged_version(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 0);
    uint8_t apk[32], ask[64];
    crypto_sign_keypair(apk, ask);
    env_t e[2] = {mk(ask, 1), mk(ask, 2)};
    uint8_t h[2][32];
    for (int i = 0; i < 2; i++) {
        crypto_hash_sha256(h[i], e[i].buf, e[i].len);
        sz_put_result_t res;
        const uint8_t *b = e[i].buf;
        assert_int_equal(sz_store_put_batch(f.store, &b, &e[i].len, 1, &res), 0);
        assert_int_equal(res.err, 0);
    }
    /* The author retracts the first record. */
    char body[256], hex[65];
    sz_hex_encode(hex, h[0], 32);
    int blen =
        snprintf(body, sizeof body,
                 "{\"record\":\"%s\",\"versions\":[\"%s\"],\"reason\":\"danger\"}", hex, hex);
    sz_record_fields_t rf = {.kind = SZ_KIND_RETRACTION,
                             .created = 1700000009000ull,
                             .body = (const uint8_t *)body,
                             .body_len = (uint32_t)blen};
    env_t r = {0};
    assert_int_equal(sz_record_sign(&rf, ask, &r.buf, &r.len), 0);
    sz_put_result_t res;
    const uint8_t *rb = r.buf;
    assert_int_equal(sz_store_put_batch(f.store, &rb, &r.len, 1, &res), 0);
    assert_int_equal(res.err, 0);

    tc_t t;
    h_connect(&f, &t, f.h_sk);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_HELLO_OK);
    uint8_t hashes[64], req[128];
    memcpy(hashes, h[0], 32);
    memcpy(hashes + 32, h[1], 32);
    sz_msg_fetch_t q = {.count = 2, .hashes = hashes};
    size_t n = 0;
    assert_int_equal(sz_msg_fetch_encode(&q, req, sizeof req, &n), 0);
    assert_int_equal(tc_send(&t, SZ_MSG_FETCH, 9, req, n), 0);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_FETCHED);
    sz_msg_fetched_item_t items[2];
    sz_msg_fetched_t m = {.items = items};
    assert_int_equal(sz_msg_fetched_decode(&m, 2, t.msg, t.msg_len), 0);
    assert_int_equal(m.count, 2);
    int purged = 0, ok = 0;
    for (int i = 0; i < 2; i++) {
        if (memcmp(items[i].version_hash, h[0], 32) == 0) {
            assert_int_equal(items[i].status, SZ_FETCH_PURGED);
            purged++;
        } else {
            assert_memory_equal(items[i].version_hash, h[1], 32);
            assert_int_equal(items[i].status, SZ_FETCH_OK);
            assert_int_equal(items[i].len, e[1].len);
            assert_memory_equal(items[i].envelope, e[1].buf, e[1].len);
            ok++;
        }
    }
    assert_int_equal(purged, 1);
    assert_int_equal(ok, 1);
    tc_close(&t);
    for (int i = 0; i < 2; i++)
        free(e[i].buf);
    free(r.buf);
    fx_stop(&f);
}

static void test_unknown_mirror_refused(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 0);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    tc_t t;
    h_connect(&f, &t, sk);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_ERROR);
    sz_error_msg_t em;
    assert_int_equal(sz_error_msg_decode(&em, t.msg, t.msg_len), 0);
    assert_int_equal(em.code, SZ_E_DENIED);
    expect_closed(&t);
    tc_close(&t);
    fx_stop(&f);
}

/* A client (role 1) may not use mirror requests, and a non-admin no admin requests. */
static void test_roles(void **state) {
    (void)state;
    fx_t f;
    fx_start(&f, 0);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    tc_t t;
    assert_int_equal(tc_connect(&t, f.port, TIMEOUT_MS), 0);
    assert_int_equal(tc_handshake(&t, sk, f.node.network_key), 0);
    sz_msg_hello_ok_t ok;
    assert_int_equal(tc_hello(&t, &ok), 0);
    uint8_t req[SZ_MSG_SYNC_LEN];
    size_t n = 0;
    sz_msg_sync_t q = {.max_count = 10, .max_bytes = 1000};
    q.head.size = 0;
    crypto_hash_sha256(q.head.root, NULL, 0);
    assert_int_equal(sz_msg_sync_encode(&q, req, sizeof req, &n), 0);
    assert_int_equal(tc_send(&t, SZ_MSG_SYNC, 7, req, n), 0);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_ERROR);
    sz_error_msg_t em;
    assert_int_equal(sz_error_msg_decode(&em, t.msg, t.msg_len), 0);
    assert_int_equal(em.code, SZ_E_DENIED);
    assert_int_equal(tc_send(&t, SZ_MSG_PEER_LIST, 8, NULL, 0), 0);
    assert_int_equal(tc_recv(&t), 1);
    assert_int_equal(t.hdr.type, SZ_MSG_ERROR);
    assert_int_equal(sz_error_msg_decode(&em, t.msg, t.msg_len), 0);
    assert_int_equal(em.code, SZ_E_DENIED);
    tc_close(&t);
    fx_stop(&f);
}

/* ---- The store's side: checkpoints, set digest, reconciliation source ---- */

typedef struct diff_s {
    size_t have, need;
} diff_t;

static int on_diff(void *arg, int kind, const uint8_t id[32]) {
    (void)id;
    diff_t *d = arg;
    if (kind == SZ_RECON_HAVE)
        d->have++;
    else
        d->need++;
    return 0;
}

static void test_store_side(void **state) {
    (void)state;
    char dir[] = "/tmp/sz_test_sync_store_XXXXXX";
    assert_non_null(mkdtemp(dir));
    sz_store_t *st = NULL;
    assert_int_equal(sz_store_open(&st, dir, NULL), 0);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    enum { N = 300 };
    uint8_t *env[N];
    size_t len[N];
    uint8_t ids[N][32];
    for (int i = 0; i < N; i++) {
        env_t e = mk(sk, i);
        env[i] = e.buf;
        len[i] = e.len;
        crypto_hash_sha256(ids[i], e.buf, e.len);
    }
    sz_put_result_t res[N];
    /* The store holds the first 280; the array (the "peer") holds all but the first 10. */
    assert_int_equal(sz_store_put_batch(st, (const uint8_t *const *)env, len, 280, res), 0);

    /* Checkpoints: absent, written, read back, deleted. */
    uint8_t peer[32];
    randombytes_buf(peer, 32);
    sz_checkpoint_t cp, back;
    assert_int_equal(sz_store_checkpoint_get(st, peer, &back), SZ_E_NOT_FOUND);
    cp = (sz_checkpoint_t){.next = 17, .verified_size = 20, .last_sync_ms = 99};
    memset(cp.verified_root, 0x42, 32);
    assert_int_equal(sz_store_checkpoint_put(st, peer, &cp), 0);
    assert_int_equal(sz_store_checkpoint_get(st, peer, &back), 0);
    assert_memory_equal(&back, &cp, sizeof cp);
    assert_int_equal(sz_store_checkpoint_del(st, peer), 0);
    assert_int_equal(sz_store_checkpoint_get(st, peer, &back), SZ_E_NOT_FOUND);

    /* The set digest is the fingerprint of the whole set, as an array source computes it. */
    uint64_t count = 0;
    uint8_t fp[16], fp2[16], sum[32] = {0};
    assert_int_equal(sz_store_set_digest(st, &count, fp), 0);
    assert_int_equal(count, 280);
    for (int i = 0; i < 280; i++)
        sz_recon_sum_add(sum, ids[i]);
    sz_recon_fingerprint(sum, 280, fp2);
    assert_memory_equal(fp, fp2, 16);
    assert_int_equal(sz_store_has_version(st, ids[0]), 1);
    assert_int_equal(sz_store_has_version(st, ids[290]), 0);

    /* Reconciliation between the store and an array finds exactly the difference. */
    sz_recon_array_t *arr = NULL;
    assert_int_equal(sz_recon_array_new(&arr, (const uint8_t(*)[32])ids + 10, N - 10), 0);
    sz_recon_source_t a_src, s_src;
    sz_recon_array_source(arr, &a_src);
    sz_store_recon_source(st, &s_src);
    diff_t d = {0}, e = {0};
    sz_recon_options_t so = {.on_id = on_diff, .arg = &d, .idlist = 8};
    sz_recon_options_t ao = {.on_id = on_diff, .arg = &e, .idlist = 8};
    sz_recon_t *ini = NULL, *rsp = NULL;
    assert_int_equal(sz_recon_new(&ini, &s_src, &so), 0);
    assert_int_equal(sz_recon_new(&rsp, &a_src, &ao), 0);
    const uint8_t *out = NULL;
    size_t olen = 0;
    assert_int_equal(sz_recon_initiate(ini, &out, &olen), 0);
    int done = 0;
    for (int round = 0; round < 64 && olen > 0; round++) {
        sz_recon_t *to = round % 2 == 0 ? rsp : ini;
        uint8_t *copy = malloc(olen);
        memcpy(copy, out, olen);
        assert_int_equal(sz_recon_process(to, copy, olen, &out, &olen, &done), 0);
        free(copy);
    }
    assert_int_equal(d.have, 10); /* the store holds 10 the array lacks */
    assert_int_equal(d.need, 20); /* and lacks 20 the array holds */
    assert_int_equal(e.have, 20);
    assert_int_equal(e.need, 10);
    sz_recon_free(ini);
    sz_recon_free(rsp);
    sz_recon_array_free(arr);
    for (int i = 0; i < N; i++)
        free(env[i]);
    sz_store_close(st);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_page_is_stored),
        cmocka_unit_test(test_forged_page_stores_nothing),
        cmocka_unit_test(test_invalid_page_stores_nothing),
        cmocka_unit_test(test_forged_push_stores_nothing),
        cmocka_unit_test(test_fetch_of_purged_version),
        cmocka_unit_test(test_unknown_mirror_refused),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_store_side),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
