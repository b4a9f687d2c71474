/* Tests for proto/frame: frame headers, the incremental decoder (whole, byte-at-a-time and
 * random chunks; truncated, zero-length, oversized and garbage input), message headers,
 * fragmentation and bounded reassembly, sealing and opening over real Noise ciphers, and the
 * HELLO and ERROR payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "frame.h"
#include "noise.h"

/* A fixed-seed generator, so a failure can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void fill(uint8_t *p, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((i * 31 + seed * 17 + (i >> 8)) & 0xff);
}

static void test_frame_header(void **state) {
    (void)state;
    uint8_t h[4];
    size_t len;
    assert_int_equal(sz_frame_header_encode(h, 0), SZ_E_PROTOCOL);
    assert_int_equal(sz_frame_header_encode(h, SZ_FRAME_MAX + 1), SZ_E_TOO_LARGE);
    assert_int_equal(sz_frame_header_encode(h, SZ_FRAME_MAX), 0);
    assert_memory_equal(h, "\x00\x00\xff\xff", 4);
    assert_int_equal(sz_frame_header_decode(h, &len), 0);
    assert_int_equal(len, SZ_FRAME_MAX);
    assert_int_equal(sz_frame_header_encode(h, 0x0102), 0);
    assert_memory_equal(h, "\x00\x00\x01\x02", 4);
    assert_int_equal(sz_frame_header_decode((const uint8_t *)"\x00\x00\x00\x00", &len),
                     SZ_E_PROTOCOL);
    assert_int_equal(sz_frame_header_decode((const uint8_t *)"\x00\x01\x00\x00", &len),
                     SZ_E_TOO_LARGE);
    assert_int_equal(sz_frame_header_decode((const uint8_t *)"\xff\xff\xff\xff", &len),
                     SZ_E_TOO_LARGE);
    assert_int_equal(sz_frame_header_decode((const uint8_t *)"\x00\x00\x00\x01", &len), 0);
    assert_int_equal(len, 1);
}

/* A stream of frames of the given lengths; bodies are filled from their index. */
typedef struct stream_s {
    uint8_t *bytes;
    size_t len;
    size_t count;
    size_t lens[64];
} stream_t;

static void stream_build(stream_t *s, const size_t *lens, size_t count) {
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += 4 + lens[i];
    s->bytes = malloc(total);
    assert_non_null(s->bytes);
    s->len = 0;
    s->count = count;
    for (size_t i = 0; i < count; i++) {
        assert_int_equal(sz_frame_header_encode(s->bytes + s->len, lens[i]), 0);
        fill(s->bytes + s->len + 4, lens[i], (uint32_t)i);
        s->len += 4 + lens[i];
        s->lens[i] = lens[i];
    }
}

/* Feeds s in chunks (chunk 0: random sizes 1..max_chunk) and checks every frame comes out
 * intact and in order. Returns how many frames were handed over without copying. */
static size_t feed_stream(const stream_t *s, size_t chunk, size_t max_chunk) {
    sz_frame_decoder_t d;
    size_t pos = 0, next = 0, in_place = 0;
    uint8_t expect[SZ_FRAME_MAX];
    sz_frame_decoder_init(&d);
    while (pos < s->len) {
        size_t n = chunk != 0 ? chunk : 1 + rnd() % max_chunk;
        if (n > s->len - pos)
            n = s->len - pos;
        const uint8_t *data = s->bytes + pos;
        size_t off = 0;
        while (off < n) {
            size_t used;
            const uint8_t *f;
            size_t flen;
            int rc = sz_frame_decoder_feed(&d, data + off, n - off, &used, &f, &flen);
            assert_true(rc == 0 || rc == 1);
            assert_true(used <= n - off);
            off += used;
            if (rc == 1) {
                assert_true(next < s->count);
                assert_int_equal(flen, s->lens[next]);
                fill(expect, flen, (uint32_t)next);
                assert_memory_equal(f, expect, flen);
                if (f >= s->bytes && f < s->bytes + s->len)
                    in_place++;
                /* Never more memory than the largest declared frame. */
                assert_true(d.cap <= SZ_FRAME_MAX);
                next++;
            } else {
                assert_int_equal(off, n);
            }
        }
        pos += n;
    }
    assert_int_equal(next, s->count);
    assert_false(sz_frame_decoder_pending(&d));
    sz_frame_decoder_free(&d);
    return in_place;
}

static void test_decoder_chunking(void **state) {
    (void)state;
    size_t lens[] = {1,  2, 3,     4, 5, 16, 100, 1000, 4096, SZ_FRAME_MAX, 1, SZ_FRAME_MAX - 1,
                     48, 7, 65000, 2};
    size_t count = sizeof(lens) / sizeof(lens[0]);
    stream_t s;
    stream_build(&s, lens, count);
    /* Whole stream at once: every frame is returned in place, no copying. */
    assert_int_equal(feed_stream(&s, s.len, 0), count);
    /* One byte at a time: everything is copied, nothing in place. */
    assert_int_equal(feed_stream(&s, 1, 0), 0);
    feed_stream(&s, 3, 0);
    feed_stream(&s, 4, 0);
    feed_stream(&s, 5, 0);
    for (int round = 0; round < 20; round++)
        feed_stream(&s, 0, round < 10 ? 10 : 70000);
    free(s.bytes);

    /* Many small frames in random chunks. */
    size_t small[64];
    for (size_t i = 0; i < 64; i++)
        small[i] = 1 + rnd() % 300;
    stream_build(&s, small, 64);
    for (int round = 0; round < 50; round++)
        feed_stream(&s, 0, 1 + round * 13);
    free(s.bytes);
}

static void test_decoder_allocation(void **state) {
    (void)state;
    sz_frame_decoder_t d;
    size_t used, flen;
    const uint8_t *f;
    sz_frame_decoder_init(&d);
    /* Nothing is allocated before a header is complete... */
    assert_int_equal(
        sz_frame_decoder_feed(&d, (const uint8_t *)"\x00\x00\x01", 3, &used, &f, &flen), 0);
    assert_int_equal(used, 3);
    assert_null(d.buf);
    assert_true(sz_frame_decoder_pending(&d));
    /* ...then exactly what it declares (0x100 = 256 bytes). */
    assert_int_equal(sz_frame_decoder_feed(&d, (const uint8_t *)"\x00\xaa", 2, &used, &f, &flen),
                     0);
    assert_int_equal(d.cap, 256);
    assert_true(sz_frame_decoder_pending(&d));
    sz_frame_decoder_free(&d);

    /* A frame that arrives whole allocates nothing at all. */
    sz_frame_decoder_init(&d);
    assert_int_equal(
        sz_frame_decoder_feed(&d, (const uint8_t *)"\x00\x00\x00\x02hiXX", 8, &used, &f, &flen), 1);
    assert_int_equal(used, 6);
    assert_int_equal(flen, 2);
    assert_memory_equal(f, "hi", 2);
    assert_null(d.buf);
    /* The rest ("XX") starts a header. */
    assert_int_equal(sz_frame_decoder_feed(&d, (const uint8_t *)"XX", 2, &used, &f, &flen), 0);
    assert_true(sz_frame_decoder_pending(&d));
    sz_frame_decoder_free(&d);
}

static void test_decoder_errors(void **state) {
    (void)state;
    sz_frame_decoder_t d;
    size_t used, flen;
    const uint8_t *f;

    /* Oversized: rejected as soon as the 4 header bytes are in, before any buffering, whether
     * they arrive together or one at a time. */
    const uint8_t big[] = {0x00, 0x01, 0x00, 0x00, 'a', 'b'};
    sz_frame_decoder_init(&d);
    assert_int_equal(sz_frame_decoder_feed(&d, big, sizeof(big), &used, &f, &flen), SZ_E_TOO_LARGE);
    assert_null(d.buf);
    assert_null(f);
    /* Sticky. */
    assert_int_equal(
        sz_frame_decoder_feed(&d, (const uint8_t *)"\x00\x00\x00\x01x", 5, &used, &f, &flen),
        SZ_E_TOO_LARGE);
    sz_frame_decoder_free(&d);
    sz_frame_decoder_init(&d);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(sz_frame_decoder_feed(&d, big + i, 1, &used, &f, &flen), 0);
    assert_int_equal(sz_frame_decoder_feed(&d, big + 3, 1, &used, &f, &flen), SZ_E_TOO_LARGE);
    assert_null(d.buf);
    sz_frame_decoder_free(&d);

    /* Zero-length frames are a protocol violation, after a good frame too. */
    sz_frame_decoder_init(&d);
    const uint8_t zero[] = {0, 0, 0, 1, 'z', 0, 0, 0, 0};
    assert_int_equal(sz_frame_decoder_feed(&d, zero, sizeof(zero), &used, &f, &flen), 1);
    assert_int_equal(used, 5);
    assert_int_equal(sz_frame_decoder_feed(&d, zero + 5, 4, &used, &f, &flen), SZ_E_PROTOCOL);
    sz_frame_decoder_free(&d);
    sz_frame_decoder_init(&d);
    for (size_t i = 5; i < 8; i++)
        assert_int_equal(sz_frame_decoder_feed(&d, zero + i, 1, &used, &f, &flen), 0);
    assert_int_equal(sz_frame_decoder_feed(&d, zero + 8, 1, &used, &f, &flen), SZ_E_PROTOCOL);
    sz_frame_decoder_free(&d);

    /* Truncated: a header and part of a body leave the decoder waiting. */
    sz_frame_decoder_init(&d);
    assert_int_equal(sz_frame_decoder_feed(&d,
                                           (const uint8_t *)"\x00\x00\x00\x0a"
                                                            "abc",
                                           7, &used, &f, &flen),
                     0);
    assert_int_equal(used, 7);
    assert_true(sz_frame_decoder_pending(&d));
    assert_int_equal(sz_frame_decoder_feed(&d, NULL, 0, &used, &f, &flen), 0);
    assert_int_equal(sz_frame_decoder_feed(&d, (const uint8_t *)"defghij", 7, &used, &f, &flen), 1);
    assert_int_equal(flen, 10);
    assert_memory_equal(f, "abcdefghij", 10);
    assert_false(sz_frame_decoder_pending(&d));
    sz_frame_decoder_free(&d);

    /* Garbage: random streams either yield frames within bounds or fail with a decoder error;
     * a random first byte other than 0 is always too large. */
    for (int round = 0; round < 200; round++) {
        uint8_t junk[512];
        for (size_t i = 0; i < sizeof(junk); i++)
            junk[i] = (uint8_t)rnd();
        if (junk[0] == 0)
            junk[0] = 1;
        sz_frame_decoder_init(&d);
        size_t off = 0;
        int rc = 0;
        while (off < sizeof(junk)) {
            size_t n = 1 + rnd() % 64;
            if (n > sizeof(junk) - off)
                n = sizeof(junk) - off;
            rc = sz_frame_decoder_feed(&d, junk + off, n, &used, &f, &flen);
            if (rc < 0)
                break;
            off += used;
        }
        assert_int_equal(rc, SZ_E_TOO_LARGE);
        sz_frame_decoder_free(&d);
    }
}

static void test_msg_header(void **state) {
    (void)state;
    uint8_t buf[SZ_MSG_HEADER_LEN];
    sz_msg_header_t h = {.type = 0x42, .flags = SZ_MSG_FLAG_REKEY, .request_id = 0xdeadbeef};
    sz_msg_header_t g;
    sz_msg_header_encode(buf, &h);
    assert_memory_equal(buf, "\x42\x02\xde\xad\xbe\xef", 6);
    assert_int_equal(sz_msg_header_decode(&g, buf, 6), 0);
    assert_int_equal(g.type, 0x42);
    assert_int_equal(g.flags, SZ_MSG_FLAG_REKEY);
    assert_int_equal(g.request_id, 0xdeadbeefu);
    assert_int_equal(sz_msg_header_decode(&g, buf, 5), SZ_E_TRUNCATED);
    assert_int_equal(sz_msg_header_decode(&g, NULL, 0), SZ_E_TRUNCATED);
    buf[1] = 0x04;
    assert_int_equal(sz_msg_header_decode(&g, buf, 6), SZ_E_FLAGS);
    buf[1] = 0x80;
    assert_int_equal(sz_msg_header_decode(&g, buf, 6), SZ_E_FLAGS);
    buf[1] = 0;
    buf[0] = 0;
    assert_int_equal(sz_msg_header_decode(&g, buf, 6), SZ_E_PROTOCOL);
}

/* Fragments a message of len bytes and reassembles it; returns the number of fragments. */
static size_t roundtrip(size_t len, uint8_t flags) {
    uint8_t *payload = malloc(len + 1);
    static uint8_t frag[SZ_NOISE_MAX_PLAINTEXT];
    assert_non_null(payload);
    fill(payload, len, (uint32_t)len);
    sz_msg_header_t h = {.type = 9, .flags = flags, .request_id = (uint32_t)len};
    sz_msg_assembler_t a;
    sz_msg_assembler_init(&a, 0);
    size_t offset = 0, frags = 0;
    int more, rc = 0;
    sz_msg_t msg;
    do {
        size_t flen;
        more = sz_msg_fragment(&h, payload, len, &offset, frag, sizeof(frag), &flen);
        assert_true(more == 0 || more == 1);
        assert_true(flen <= SZ_NOISE_MAX_PLAINTEXT);
        frags++;
        rc = sz_msg_assembler_add(&a, frag, flen, &msg);
        assert_int_equal(rc, more ? 0 : 1);
    } while (more);
    assert_int_equal(offset, len);
    assert_int_equal(msg.len, len);
    assert_int_equal(msg.header.type, 9);
    assert_int_equal(msg.header.flags, flags);
    assert_int_equal(msg.header.request_id, (uint32_t)len);
    if (len > 0)
        assert_memory_equal(msg.payload, payload, len);
    /* A single fragment is returned in place. */
    if (frags == 1)
        assert_ptr_equal(msg.payload, frag + SZ_MSG_HEADER_LEN);
    sz_msg_assembler_free(&a);
    free(payload);
    return frags;
}

static void test_fragments(void **state) {
    (void)state;
    assert_int_equal(roundtrip(0, 0), 1);
    assert_int_equal(roundtrip(1, SZ_MSG_FLAG_REKEY), 1);
    assert_int_equal(roundtrip(SZ_MSG_MAX_FRAGMENT, 0), 1);
    assert_int_equal(roundtrip(SZ_MSG_MAX_FRAGMENT + 1, SZ_MSG_FLAG_REKEY), 2);
    assert_int_equal(roundtrip(2 * SZ_MSG_MAX_FRAGMENT, 0), 2);
    assert_int_equal(roundtrip(1u << 20, 0), 17);
    assert_int_equal(roundtrip(SZ_MSG_MAX, 0), 33);

    uint8_t frag[SZ_NOISE_MAX_PLAINTEXT];
    size_t offset = 0, flen;
    sz_msg_header_t h = {.type = 1, .flags = 0, .request_id = 0};
    assert_int_equal(sz_msg_fragment(&h, frag, SZ_MSG_MAX + 1, &offset, frag, sizeof(frag), &flen),
                     SZ_E_TOO_LARGE);
    h.flags = SZ_MSG_FLAG_CONTINUED;
    assert_int_equal(sz_msg_fragment(&h, frag, 1, &offset, frag, sizeof(frag), &flen), SZ_E_FLAGS);
    h.flags = 0x10;
    assert_int_equal(sz_msg_fragment(&h, frag, 1, &offset, frag, sizeof(frag), &flen), SZ_E_FLAGS);
    h.flags = 0;
    h.type = 0;
    assert_int_equal(sz_msg_fragment(&h, frag, 1, &offset, frag, sizeof(frag), &flen),
                     SZ_E_ARGUMENT);
    h.type = 1;
    assert_int_equal(sz_msg_fragment(&h, frag, 10, &offset, frag, 15, &flen), SZ_E_ARGUMENT);
    offset = 11;
    assert_int_equal(sz_msg_fragment(&h, frag, 10, &offset, frag, sizeof(frag), &flen),
                     SZ_E_ARGUMENT);
}

/* Builds a fragment by hand. */
static size_t make_frag(uint8_t *out, uint8_t type, uint8_t flags, uint32_t id, size_t plen) {
    sz_msg_header_t h = {.type = type, .flags = flags, .request_id = id};
    sz_msg_header_encode(out, &h);
    fill(out + SZ_MSG_HEADER_LEN, plen, id);
    return SZ_MSG_HEADER_LEN + plen;
}

static void test_assembler_errors(void **state) {
    (void)state;
    static uint8_t f[SZ_NOISE_MAX_PLAINTEXT];
    sz_msg_assembler_t a;
    sz_msg_t msg;
    size_t n;

    /* Interleaving another message, by type or by request id. */
    for (int which = 0; which < 2; which++) {
        sz_msg_assembler_init(&a, 0);
        n = make_frag(f, 5, SZ_MSG_FLAG_CONTINUED, 7, SZ_MSG_MAX_FRAGMENT);
        assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), 0);
        n = make_frag(f, which ? 6 : 5, 0, which ? 7 : 8, 10);
        assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_PROTOCOL);
        /* Sticky. */
        n = make_frag(f, 5, 0, 7, 10);
        assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_PROTOCOL);
        sz_msg_assembler_free(&a);
    }

    /* A CONTINUED fragment that is not full, or that asks for a rekey. */
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 5, SZ_MSG_FLAG_CONTINUED, 7, 100);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_PROTOCOL);
    sz_msg_assembler_free(&a);
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 5, SZ_MSG_FLAG_CONTINUED | SZ_MSG_FLAG_REKEY, 7, SZ_MSG_MAX_FRAGMENT);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_PROTOCOL);
    sz_msg_assembler_free(&a);

    /* Truncated header, bad type, unknown flag. */
    sz_msg_assembler_init(&a, 0);
    assert_int_equal(sz_msg_assembler_add(&a, f, 5, &msg), SZ_E_TRUNCATED);
    sz_msg_assembler_free(&a);
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 0, 0, 1, 3);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_PROTOCOL);
    sz_msg_assembler_free(&a);
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 1, 0x40, 1, 3);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_FLAGS);
    sz_msg_assembler_free(&a);

    /* The bound: with max 100000 bytes, two full fragments (131026) exceed it on the second,
     * before it is buffered; a single fragment above a small bound is refused too. */
    sz_msg_assembler_init(&a, 100000);
    n = make_frag(f, 3, SZ_MSG_FLAG_CONTINUED, 1, SZ_MSG_MAX_FRAGMENT);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), 0);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_TOO_LARGE);
    assert_true(a.cap <= 100000);
    assert_int_equal(a.len, SZ_MSG_MAX_FRAGMENT);
    sz_msg_assembler_free(&a);
    sz_msg_assembler_init(&a, 10);
    n = make_frag(f, 3, 0, 1, 11);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), SZ_E_TOO_LARGE);
    sz_msg_assembler_free(&a);

    /* The default bound is SZ_MSG_MAX: 33 full continued fragments are too many. */
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 3, SZ_MSG_FLAG_CONTINUED, 1, SZ_MSG_MAX_FRAGMENT);
    int rc = 0, i;
    for (i = 0; i < 40 && rc == 0; i++)
        rc = sz_msg_assembler_add(&a, f, n, &msg);
    assert_int_equal(rc, SZ_E_TOO_LARGE);
    assert_int_equal(i, 33);
    assert_true(a.cap <= SZ_MSG_MAX);
    sz_msg_assembler_free(&a);

    /* After a message completes the assembler takes the next one. */
    sz_msg_assembler_init(&a, 0);
    n = make_frag(f, 3, SZ_MSG_FLAG_CONTINUED, 1, SZ_MSG_MAX_FRAGMENT);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), 0);
    n = make_frag(f, 3, 0, 1, 5);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), 1);
    assert_int_equal(msg.len, SZ_MSG_MAX_FRAGMENT + 5);
    n = make_frag(f, 4, 0, 2, 5);
    assert_int_equal(sz_msg_assembler_add(&a, f, n, &msg), 1);
    assert_int_equal(msg.len, 5);
    assert_int_equal(msg.header.type, 4);
    sz_msg_assembler_free(&a);
}

static void test_seal_open(void **state) {
    (void)state;
    uint8_t k[32];
    sz_cipher_t *tx = NULL, *rx = NULL;
    randombytes_buf(k, 32);
    assert_int_equal(sz_cipher_new(&tx, k), 0);
    assert_int_equal(sz_cipher_new(&rx, k), 0);

    /* Messages of many sizes, some asking for a rekey, sealed into one byte stream. */
    size_t sizes[] = {0,      1, 100,      SZ_MSG_MAX_FRAGMENT, SZ_MSG_MAX_FRAGMENT + 1,
                      300000, 5, 1u << 20, SZ_MSG_MAX,          17};
    size_t count = sizeof(sizes) / sizeof(sizes[0]);
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += sz_msg_wire_size(sizes[i]);
    uint8_t *wire = malloc(total);
    uint8_t *payload = malloc(SZ_MSG_MAX);
    assert_non_null(wire);
    assert_non_null(payload);
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n;
        sz_msg_header_t h = {.type = (uint8_t)(10 + i),
                             .flags = i % 3 == 1 ? SZ_MSG_FLAG_REKEY : 0,
                             .request_id = (uint32_t)i};
        fill(payload, sizes[i], (uint32_t)i);
        assert_int_equal(sz_msg_seal(tx, &h, payload, sizes[i], wire + pos, total - pos, &n), 0);
        assert_int_equal(n, sz_msg_wire_size(sizes[i]));
        pos += n;
    }
    assert_int_equal(pos, total);

    /* Received in random chunks. */
    static uint8_t plain[SZ_NOISE_MAX_PLAINTEXT];
    sz_frame_decoder_t d;
    sz_msg_assembler_t a;
    sz_frame_decoder_init(&d);
    sz_msg_assembler_init(&a, 0);
    size_t got = 0, off = 0;
    while (off < total) {
        size_t n = 1 + rnd() % 100000;
        if (n > total - off)
            n = total - off;
        size_t coff = 0;
        while (coff < n) {
            size_t used, flen;
            const uint8_t *f;
            int rc = sz_frame_decoder_feed(&d, wire + off + coff, n - coff, &used, &f, &flen);
            assert_true(rc >= 0);
            coff += used;
            if (rc == 0)
                continue;
            sz_msg_t msg;
            rc = sz_msg_open(rx, &a, f, flen, plain, &msg);
            assert_true(rc == 0 || rc == 1);
            if (rc == 1) {
                assert_true(got < count);
                assert_int_equal(msg.len, sizes[got]);
                assert_int_equal(msg.header.type, 10 + got);
                assert_int_equal(msg.header.request_id, got);
                fill(payload, sizes[got], (uint32_t)got);
                if (msg.len > 0)
                    assert_memory_equal(msg.payload, payload, msg.len);
                got++;
            }
        }
        off += n;
    }
    assert_int_equal(got, count);
    assert_int_equal(sz_cipher_nonce(tx), sz_cipher_nonce(rx));

    /* A flipped bit in a sealed frame fails the cipher. */
    size_t n, used, flen;
    const uint8_t *f;
    sz_msg_t msg;
    sz_msg_header_t h = {.type = 1, .flags = 0, .request_id = 0};
    assert_int_equal(sz_msg_seal(tx, &h, payload, 10, wire, total, &n), 0);
    wire[n - 1] ^= 1;
    assert_int_equal(sz_frame_decoder_feed(&d, wire, n, &used, &f, &flen), 1);
    assert_int_equal(sz_msg_open(rx, &a, f, flen, plain, &msg), SZ_E_DECRYPT);
    assert_int_equal(sz_msg_seal(tx, &h, payload, SZ_MSG_MAX + 1, wire, total, &n), SZ_E_TOO_LARGE);
    assert_int_equal(sz_msg_seal(tx, &h, payload, 10, wire, sz_msg_wire_size(10) - 1, &n),
                     SZ_E_ARGUMENT);

    sz_frame_decoder_free(&d);
    sz_msg_assembler_free(&a);
    sz_cipher_free(tx);
    sz_cipher_free(rx);
    free(wire);
    free(payload);
}

static void test_hello(void **state) {
    (void)state;
    sz_hello_t h = {.count = 3, .versions = {1, 2, 7}}, g;
    uint8_t buf[64];
    size_t n;
    assert_int_equal(sz_hello_encode(&h, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "\x03\x00\x01\x00\x02\x00\x07", 7);
    assert_int_equal(sz_hello_decode(&g, buf, n), 0);
    assert_int_equal(g.count, 3);
    assert_int_equal(g.versions[2], 7);
    /* Trailing bytes are reserved for later versions and ignored. */
    buf[7] = 0xee;
    assert_int_equal(sz_hello_decode(&g, buf, 8), 0);
    assert_int_equal(sz_hello_decode(&g, buf, 6), SZ_E_TRUNCATED);
    assert_int_equal(sz_hello_decode(&g, buf, 0), SZ_E_TRUNCATED);
    assert_int_equal(sz_hello_decode(&g, (const uint8_t *)"\x00", 1), SZ_E_MALFORMED);
    assert_int_equal(sz_hello_decode(&g, (const uint8_t *)"\x11", 1), SZ_E_MALFORMED);
    assert_int_equal(sz_hello_decode(&g, (const uint8_t *)"\x01\x00\x00", 3), SZ_E_MALFORMED);
    assert_int_equal(sz_hello_decode(&g, (const uint8_t *)"\x02\x00\x02\x00\x02", 5),
                     SZ_E_MALFORMED);
    assert_int_equal(sz_hello_decode(&g, (const uint8_t *)"\x02\x00\x03\x00\x02", 5),
                     SZ_E_MALFORMED);
    sz_hello_t bad = {.count = 2, .versions = {2, 1}};
    assert_int_equal(sz_hello_encode(&bad, buf, sizeof(buf), &n), SZ_E_ARGUMENT);
    bad.count = 0;
    assert_int_equal(sz_hello_encode(&bad, buf, sizeof(buf), &n), SZ_E_ARGUMENT);
    assert_int_equal(sz_hello_encode(&h, buf, 6, &n), SZ_E_ARGUMENT);

    uint16_t v;
    sz_hello_t remote = {.count = 2, .versions = {2, 5}};
    assert_int_equal(sz_hello_choose(&h, &remote, &v), 0);
    assert_int_equal(v, 2);
    sz_hello_t other = {.count = 1, .versions = {3}};
    assert_int_equal(sz_hello_choose(&h, &other, &v), SZ_E_UPGRADE);
    sz_hello_t ours = {.count = 1, .versions = {SZ_PROTOCOL_VERSION}};
    assert_int_equal(sz_hello_choose(&ours, &h, &v), 0);
    assert_int_equal(v, SZ_PROTOCOL_VERSION);
}

static void test_error_msg(void **state) {
    (void)state;
    uint8_t buf[512];
    size_t n;
    sz_error_msg_t e = {.code = SZ_E_DENIED, .text = "not on the allow-list", .text_len = 21};
    sz_error_msg_t g;
    assert_int_equal(sz_error_msg_encode(&e, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 6 + 21);
    assert_memory_equal(buf, "\xff\xff\xfc\x01\x00\x15", 6); /* -1023, 21 */
    assert_int_equal(sz_error_msg_decode(&g, buf, n), 0);
    assert_int_equal(g.code, SZ_E_DENIED);
    assert_int_equal(g.text_len, 21);
    assert_memory_equal(g.text, "not on the allow-list", 21);
    assert_int_equal(g.versions.count, 0);
    assert_int_equal(sz_error_msg_decode(&g, buf, n + 1), SZ_E_TRAILING);
    assert_int_equal(sz_error_msg_decode(&g, buf, n - 1), SZ_E_TRUNCATED);
    assert_int_equal(sz_error_msg_decode(&g, buf, 5), SZ_E_TRUNCATED);

    /* UPGRADE names the sender's versions. */
    sz_error_msg_t u = {.code = SZ_E_UPGRADE,
                        .text = "speaks version 1",
                        .text_len = 16,
                        .versions = {.count = 1, .versions = {1}}};
    assert_int_equal(sz_error_msg_encode(&u, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, 6 + 16 + 3);
    assert_int_equal(sz_error_msg_decode(&g, buf, n), 0);
    assert_int_equal(g.code, SZ_E_UPGRADE);
    assert_int_equal(g.versions.count, 1);
    assert_int_equal(g.versions.versions[0], 1);
    assert_int_equal(sz_error_msg_decode(&g, buf, n - 3), SZ_E_TRUNCATED);
    u.versions.count = 0;
    assert_int_equal(sz_error_msg_encode(&u, buf, sizeof(buf), &n), SZ_E_ARGUMENT);
    e.versions.count = 1;
    e.versions.versions[0] = 1;
    assert_int_equal(sz_error_msg_encode(&e, buf, sizeof(buf), &n), SZ_E_ARGUMENT);

    /* Malformed: a non-negative code, control characters, text too long. */
    sz_error_msg_t bad = {.code = 5, .text = "", .text_len = 0};
    assert_int_equal(sz_error_msg_encode(&bad, buf, sizeof(buf), &n), SZ_E_ARGUMENT);
    assert_int_equal(sz_error_msg_decode(&g, (const uint8_t *)"\x00\x00\x00\x05\x00\x00", 6),
                     SZ_E_MALFORMED);
    assert_int_equal(sz_error_msg_decode(&g, (const uint8_t *)"\xff\xff\xff\xff\x00\x01\n", 7),
                     SZ_E_MALFORMED);
    assert_int_equal(sz_error_msg_decode(&g, (const uint8_t *)"\xff\xff\xff\xff\x01\x01", 6),
                     SZ_E_MALFORMED);
    sz_error_msg_t ctl = {.code = -1, .text = "a\rb", .text_len = 3};
    assert_int_equal(sz_error_msg_encode(&ctl, buf, sizeof(buf), &n), SZ_E_ARGUMENT);
    assert_int_equal(sz_error_msg_decode(&g, (const uint8_t *)"\xff\xff\xff\xff\x00\x00", 6), 0);
    assert_int_equal(g.code, -1);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_header),
        cmocka_unit_test(test_decoder_chunking),
        cmocka_unit_test(test_decoder_allocation),
        cmocka_unit_test(test_decoder_errors),
        cmocka_unit_test(test_msg_header),
        cmocka_unit_test(test_fragments),
        cmocka_unit_test(test_assembler_errors),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_error_msg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
