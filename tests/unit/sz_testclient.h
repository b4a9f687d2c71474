/* A tiny blocking samizdat client for tests and benchmarks: proto/noise + proto/frame + proto/msg
 * over a plain socket to 127.0.0.1. Header-only (static functions) so test_server.c and
 * bench_idle_conns.c can share it without a library. Every read has a receive timeout, so a
 * broken server fails a test instead of hanging it. */
#ifndef SZ_TESTCLIENT_H
#define SZ_TESTCLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "error.h"
#include "frame.h"
#include "msg.h"
#include "noise.h"

typedef struct tc_s {
    int fd;
    sz_cipher_t *send, *recv;
    sz_frame_decoder_t dec;
    sz_msg_assembler_t a;
    uint8_t node_key[32];
    uint8_t rbuf[65536];
    size_t rlen, roff;
    uint8_t *plain;
    uint8_t *msg; /* last message's payload (malloc'd copy) */
    size_t msg_len;
    sz_msg_header_t hdr;
    uint8_t hs1[64], hs3[128]; /* the raw handshake messages sent, for replay tests */
    size_t hs1_len, hs3_len;
} tc_t;

static int tc_connect(tc_t *t, uint16_t port, int timeout_ms) {
    memset(t, 0, sizeof *t);
    sz_frame_decoder_init(&t->dec);
    sz_msg_assembler_init(&t->a, 0);
    t->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (t->fd < 0)
        return -errno;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(t->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(t->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        int e = -errno;
        close(t->fd);
        t->fd = -1;
        return e;
    }
    return 0;
}

static void tc_close(tc_t *t) {
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    sz_cipher_free(t->send);
    sz_cipher_free(t->recv);
    t->send = t->recv = NULL;
    sz_frame_decoder_free(&t->dec);
    sz_msg_assembler_free(&t->a);
    free(t->plain);
    free(t->msg);
    t->plain = NULL;
    t->msg = NULL;
}

static int tc_write_all(tc_t *t, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(t->fd, b, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

static int tc_send_frame(tc_t *t, const uint8_t *msg, size_t len) {
    uint8_t h[4];
    int rc = sz_frame_header_encode(h, len);
    if (rc < 0)
        return rc;
    rc = tc_write_all(t, h, 4);
    return rc < 0 ? rc : tc_write_all(t, msg, len);
}

/* Reads one frame. Returns 1 with *frame (borrowed until the next call), 0 on EOF, or an error
 * (-EAGAIN on timeout, -ECONNRESET, a frame error). */
static int tc_read_frame(tc_t *t, const uint8_t **frame, size_t *len) {
    for (;;) {
        if (t->roff < t->rlen) {
            size_t used = 0;
            int rc = sz_frame_decoder_feed(&t->dec, t->rbuf + t->roff, t->rlen - t->roff, &used,
                                           frame, len);
            t->roff += used;
            if (rc != 0)
                return rc;
            continue;
        }
        ssize_t r = recv(t->fd, t->rbuf, sizeof t->rbuf, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
        if (r == 0)
            return 0;
        t->rlen = (size_t)r;
        t->roff = 0;
    }
}

/* Runs the initiator handshake with Ed25519 secret key sk and network key nk. Returns 0, or an
 * error (0 from the peer closing is reported as -ECONNRESET). */
static int tc_handshake(tc_t *t, const uint8_t sk[64], const uint8_t nk[32]) {
    sz_noise_t *hs = NULL;
    int rc = sz_noise_new_samizdat(&hs, SZ_NOISE_INITIATOR, sk, nk);
    uint8_t buf[256], pl[256];
    size_t n = 0, pn = 0;
    const uint8_t *f = NULL;
    size_t flen = 0;
    if (rc == 0)
        rc = sz_noise_write_message(hs, NULL, 0, buf, sizeof buf, &n);
    if (rc == 0) {
        memcpy(t->hs1, buf, n);
        t->hs1_len = n;
        rc = tc_send_frame(t, buf, n);
    }
    if (rc == 0) {
        rc = tc_read_frame(t, &f, &flen);
        rc = rc == 1 ? 0 : rc == 0 ? -ECONNRESET : rc;
    }
    if (rc == 0)
        rc = sz_noise_read_message(hs, f, flen, pl, sizeof pl, &pn);
    if (rc == 0)
        rc = sz_noise_verify_peer(hs, pl, pn, t->node_key);
    if (rc == 0)
        rc = sz_noise_write_message(hs, sk + 32, 32, buf, sizeof buf, &n);
    if (rc == 0) {
        memcpy(t->hs3, buf, n);
        t->hs3_len = n;
        rc = tc_send_frame(t, buf, n);
    }
    if (rc == 0)
        rc = sz_noise_split(hs, &t->send, &t->recv);
    sz_noise_free(hs);
    if (rc == 0 && t->plain == NULL)
        t->plain = malloc(SZ_NOISE_MAX_PLAINTEXT);
    return rc;
}

static int tc_send(tc_t *t, uint8_t type, uint32_t rid, const uint8_t *payload, size_t len) {
    size_t cap = sz_msg_wire_size(len), n = 0;
    uint8_t *out = malloc(cap);
    if (out == NULL)
        return -ENOMEM;
    sz_msg_header_t h = {.type = type, .request_id = rid};
    int rc = sz_msg_seal(t->send, &h, payload, len, out, cap, &n);
    if (rc == 0)
        rc = tc_write_all(t, out, n);
    free(out);
    return rc;
}

/* Receives one message into t->hdr, t->msg and t->msg_len. Returns 1, 0 on EOF, or an error. */
static int tc_recv(tc_t *t) {
    for (;;) {
        const uint8_t *f = NULL;
        size_t flen = 0;
        int rc = tc_read_frame(t, &f, &flen);
        if (rc <= 0)
            return rc;
        sz_msg_t m;
        rc = sz_msg_open(t->recv, &t->a, f, flen, t->plain, &m);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            free(t->msg);
            t->msg = malloc(m.len ? m.len : 1);
            if (t->msg == NULL)
                return -ENOMEM;
            memcpy(t->msg, m.payload, m.len);
            t->msg_len = m.len;
            t->hdr = m.header;
            return 1;
        }
    }
}

/* Sends HELLO (version 1, client) and expects HELLO_OK. Returns 0 or an error. */
static int tc_hello(tc_t *t, sz_msg_hello_ok_t *ok) {
    sz_msg_hello_t h = {.versions = {.count = 1, .versions = {SZ_PROTOCOL_VERSION}},
                        .role = SZ_ROLE_CLIENT};
    strcpy(h.software, "sz-testclient/1");
    uint8_t buf[128];
    size_t n = 0;
    int rc = sz_msg_hello_encode(&h, buf, sizeof buf, &n);
    if (rc == 0)
        rc = tc_send(t, SZ_MSG_HELLO, 0, buf, n);
    if (rc == 0) {
        rc = tc_recv(t);
        rc = rc == 1 ? 0 : rc == 0 ? -ECONNRESET : rc;
    }
    if (rc == 0 && t->hdr.type != SZ_MSG_HELLO_OK)
        rc = SZ_E_PROTOCOL;
    sz_msg_hello_ok_t tmp;
    if (rc == 0)
        rc = sz_msg_hello_ok_decode(ok ? ok : &tmp, t->msg, t->msg_len);
    return rc;
}

/* Waits until the server closes the connection: returns 1 on EOF or reset, 0 on timeout, and
 * discards anything else that arrives (it may have queued a reply first). */
__attribute__((unused)) static int tc_wait_closed(tc_t *t) {
    uint8_t b[4096];
    for (;;) {
        ssize_t r = recv(t->fd, b, sizeof b, 0);
        if (r == 0)
            return 1;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno == EWOULDBLOCK || errno == EAGAIN ? 0 : 1;
    }
}

#endif
