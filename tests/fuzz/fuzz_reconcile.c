/* libFuzzer harness for proto/reconcile: the message codec, a responder's and an initiator's
 * processing of arbitrary messages, and whole sessions between sets chosen by the input.
 *
 * The first input byte picks the target (modulo 4); the rest is laid out per target:
 *   0 codec:      bytes handed to sz_recon_check
 *   1 responder:  a message processed by a fresh session over a fixed set of 300 ids
 *   2 initiator:  a reply processed by a session over the same set after sz_recon_initiate
 *   3 session:    a0 a1 b0 b1 (u16 BE each), branch u8, idlist u8, small u8: A holds ids
 *                 [a0, a1), B holds [b0, b1) (each range capped at 1500 ids); they reconcile
 *                 with those options (4 KiB messages when small is odd) and the result must be
 *                 exactly the symmetric difference.
 * Invariants: errors are only SZ_E_PROTOCOL or SZ_E_TOO_LARGE; whatever a session writes passes
 * sz_recon_check and fits max_message. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "reconcile.h"

static void check(int cond) {
    if (!cond)
        abort();
}

static void make_id(uint8_t id[32], uint64_t n) {
    uint8_t in[8];
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(n >> (8 * i));
    crypto_hash_sha256(id, in, sizeof in);
}

static sz_recon_array_t *make_set(uint64_t from, uint64_t to) {
    size_t n = (size_t)(to > from ? to - from : 0);
    uint8_t(*ids)[32] = malloc((n ? n : 1) * 32);
    check(ids != NULL);
    for (size_t i = 0; i < n; i++)
        make_id(ids[i], from + i);
    sz_recon_array_t *a;
    check(sz_recon_array_new(&a, (const uint8_t(*)[32])ids, n) == 0);
    free(ids);
    return a;
}

static sz_recon_array_t *fixed;

static void check_output(const uint8_t *out, size_t out_len, size_t max) {
    if (out_len == 0)
        return;
    check(out_len <= max);
    check(sz_recon_check(out, out_len, max, NULL, NULL) == 0);
}

static void fuzz_codec(const uint8_t *d, size_t n) {
    size_t nranges = 0;
    int reply = 0;
    int rc = sz_recon_check(d, n, 0, &nranges, &reply);
    check(rc == 0 || rc == SZ_E_PROTOCOL || rc == SZ_E_TOO_LARGE);
    if (rc == 0)
        check(nranges <= SZ_RECON_MAX_RANGES && n >= 1);
}

static void fuzz_process(const uint8_t *d, size_t n, int initiate) {
    sz_recon_source_t src;
    sz_recon_array_source(fixed, &src);
    static const size_t sizes[] = {SZ_RECON_MIN_MESSAGE, 0};
    for (size_t k = 0; k < 2; k++) {
        sz_recon_options_t o = {0};
        o.max_message = sizes[k];
        size_t max = sizes[k] ? sizes[k] : SZ_RECON_DEFAULT_MESSAGE;
        sz_recon_t *r;
        check(sz_recon_new(&r, &src, &o) == 0);
        const uint8_t *out;
        size_t out_len;
        int done = 0;
        if (initiate) {
            check(sz_recon_initiate(r, &out, &out_len) == 0);
            check_output(out, out_len, max);
        }
        int rc = sz_recon_process(r, d, n, &out, &out_len, &done);
        check(rc == 0 || rc == SZ_E_PROTOCOL || rc == SZ_E_TOO_LARGE);
        if (rc == 0) {
            check_output(out, out_len, max);
            check(done == sz_recon_done(r));
        } else {
            check(sz_recon_check(d, n, max, NULL, NULL) == rc || rc == SZ_E_PROTOCOL);
        }
        sz_recon_free(r);
    }
}

typedef struct tally_s {
    uint64_t have, need;
    uint64_t lo_mine, hi_mine, lo_theirs, hi_theirs; /* id numbers of each set */
} tally_t;

static int tally_cb(void *arg, int kind, const uint8_t id[32]) {
    (void)id;
    tally_t *t = arg;
    if (kind == SZ_RECON_HAVE)
        t->have++;
    else
        t->need++;
    return 0;
}

static uint64_t overlap(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
    uint64_t lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

static void fuzz_session(const uint8_t *d, size_t n) {
    if (n < 11)
        return;
    uint64_t a0 = (uint64_t)d[0] << 8 | d[1], a1 = (uint64_t)d[2] << 8 | d[3];
    uint64_t b0 = (uint64_t)d[4] << 8 | d[5], b1 = (uint64_t)d[6] << 8 | d[7];
    if (a1 < a0)
        a1 = a0;
    if (b1 < b0)
        b1 = b0;
    if (a1 - a0 > 1500)
        a1 = a0 + 1500;
    if (b1 - b0 > 1500)
        b1 = b0 + 1500;
    sz_recon_options_t o = {0};
    o.branch = 2 + d[8] % (SZ_RECON_MAX_BRANCH - 1);
    o.idlist = 1 + d[9] % 100;
    if (d[10] & 1)
        o.max_message = SZ_RECON_MIN_MESSAGE;
    size_t max = o.max_message ? o.max_message : SZ_RECON_DEFAULT_MESSAGE;
    sz_recon_array_t *sa = make_set(a0, a1), *sb = make_set(b0, b1);
    sz_recon_source_t src_a, src_b;
    sz_recon_array_source(sa, &src_a);
    sz_recon_array_source(sb, &src_b);
    tally_t ta = {0}, tb = {0};
    sz_recon_options_t oa = o, ob = o;
    oa.on_id = tally_cb;
    oa.arg = &ta;
    ob.on_id = tally_cb;
    ob.arg = &tb;
    sz_recon_t *ra, *rb;
    check(sz_recon_new(&ra, &src_a, &oa) == 0);
    check(sz_recon_new(&rb, &src_b, &ob) == 0);
    uint8_t *copy = malloc(max);
    check(copy != NULL);
    const uint8_t *msg;
    size_t len;
    check(sz_recon_initiate(ra, &msg, &len) == 0);
    sz_recon_t *turn = rb, *other = ra;
    for (;;) {
        check_output(msg, len, max);
        memcpy(copy, msg, len);
        const uint8_t *reply;
        size_t rlen;
        check(sz_recon_process(turn, copy, len, &reply, &rlen, NULL) == 0);
        if (rlen == 0)
            break;
        msg = reply;
        len = rlen;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
    }
    check(sz_recon_done(ra) && sz_recon_done(rb));
    sz_recon_stats_t s1, s2;
    sz_recon_get_stats(ra, &s1);
    sz_recon_get_stats(rb, &s2);
    uint64_t common = overlap(a0, a1, b0, b1);
    uint64_t only_a = (a1 - a0) - common, only_b = (b1 - b0) - common;
    if (s1.overflows + s2.overflows == 0) {
        check(ta.have == only_a && ta.need == only_b);
        check(tb.have == only_b && tb.need == only_a);
    } else {
        check(ta.have >= only_a && ta.need >= only_b);
        check(tb.have >= only_b && tb.need >= only_a);
    }
    free(copy);
    sz_recon_free(ra);
    sz_recon_free(rb);
    sz_recon_array_free(sa);
    sz_recon_array_free(sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (fixed == NULL) {
        if (sodium_init() < 0)
            abort();
        fixed = make_set(0, 300);
    }
    switch (data[0] % 4) {
    case 0:
        fuzz_codec(data + 1, size - 1);
        break;
    case 1:
        fuzz_process(data + 1, size - 1, 0);
        break;
    case 2:
        fuzz_process(data + 1, size - 1, 1);
        break;
    default:
        fuzz_session(data + 1, size - 1);
        break;
    }
    return 0;
}
