/* Benchmark for proto/reconcile: two in-memory sets of version hashes reconciled end to end,
 * printing round trips, messages, bytes each way and time for the cases of SYNC.md section 3.8.
 *   bench_reconcile [N [BRANCH IDLIST]]    N items (default 100000), defaults for the rest.
 * It never fails on timing; it exits non-zero only if a result is wrong. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "reconcile.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void make_id(uint8_t id[32], uint64_t n) {
    uint8_t in[8];
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(n >> (8 * i));
    crypto_hash_sha256(id, in, sizeof in);
}

typedef struct counts_s {
    uint64_t have, need;
} counts_t;

static int on_id(void *arg, int kind, const uint8_t id[32]) {
    (void)id;
    counts_t *c = arg;
    if (kind == SZ_RECON_HAVE)
        c->have++;
    else
        c->need++;
    return 0;
}

/* Builds the two sets from the id ranges [a0, a1) + [a2, a3) and [b0, b1) + [b2, b3). */
static sz_recon_array_t *build(uint64_t r0, uint64_t r1, uint64_t r2, uint64_t r3) {
    size_t n = (size_t)((r1 - r0) + (r3 - r2));
    uint8_t(*ids)[32] = malloc((n ? n : 1) * 32);
    if (ids == NULL)
        return NULL;
    size_t k = 0;
    for (uint64_t i = r0; i < r1; i++)
        make_id(ids[k++], i);
    for (uint64_t i = r2; i < r3; i++)
        make_id(ids[k++], i);
    sz_recon_array_t *a = NULL;
    int rc = sz_recon_array_new(&a, (const uint8_t(*)[32])ids, n);
    free(ids);
    return rc == 0 ? a : NULL;
}

static int run(const char *name, sz_recon_array_t *a, sz_recon_array_t *b,
               const sz_recon_options_t *base, uint64_t want_a_have, uint64_t want_a_need) {
    sz_recon_source_t sa, sb;
    sz_recon_array_source(a, &sa);
    sz_recon_array_source(b, &sb);
    counts_t ca = {0}, cb = {0};
    sz_recon_options_t oa = *base, ob = *base;
    oa.on_id = on_id;
    oa.arg = &ca;
    ob.on_id = on_id;
    ob.arg = &cb;
    sz_recon_t *ra = NULL, *rb = NULL;
    int rc = 1;
    uint8_t *copy = malloc(SZ_RECON_MAX_MESSAGE);
    if (copy == NULL || sz_recon_new(&ra, &sa, &oa) != 0 || sz_recon_new(&rb, &sb, &ob) != 0)
        goto out;
    double t0 = now();
    const uint8_t *msg;
    size_t len, messages = 1, ab, ba = 0;
    if (sz_recon_initiate(ra, &msg, &len) != 0)
        goto out;
    ab = len;
    sz_recon_t *turn = rb, *other = ra;
    for (;;) {
        const uint8_t *reply;
        size_t rlen;
        memcpy(copy, msg, len);
        int e = sz_recon_process(turn, copy, len, &reply, &rlen, NULL);
        if (e != 0) {
            fprintf(stderr, "%s: %s\n", name, sz_strerror(e));
            goto out;
        }
        if (rlen == 0)
            break;
        messages++;
        if (turn == ra)
            ab += rlen;
        else
            ba += rlen;
        msg = reply;
        len = rlen;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
    }
    double secs = now() - t0;
    sz_recon_stats_t st_a, st_b;
    sz_recon_get_stats(ra, &st_a);
    sz_recon_get_stats(rb, &st_b);
    printf("%-26s %3zu round trips %3zu messages %10zu B out %10zu B back %8.1f ms"
           "  diff %llu+%llu%s\n",
           name, (messages + 1) / 2, messages, ab, ba, secs * 1e3, (unsigned long long)ca.have,
           (unsigned long long)ca.need, st_a.overflows + st_b.overflows ? " (overflowed)" : "");
    /* After an overflow an id may be reported twice; the counts are then upper bounds. */
    int overflowed = st_a.overflows + st_b.overflows > 0;
    if ((!overflowed && (ca.have != want_a_have || ca.need != want_a_need)) ||
        ca.have < want_a_have || ca.need < want_a_need || cb.need < want_a_have ||
        cb.have < want_a_need) {
        fprintf(stderr, "%s: wrong differences\n", name);
        goto out;
    }
    rc = 0;
out:
    free(copy);
    sz_recon_free(ra);
    sz_recon_free(rb);
    return rc;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    sz_recon_options_t o = {0};
    if (argc > 3) {
        o.branch = (unsigned)strtoul(argv[2], NULL, 10);
        o.idlist = (unsigned)strtoul(argv[3], NULL, 10);
    }
    if (n < 1000) {
        fprintf(stderr, "bench_reconcile: need at least 1000 items\n");
        return 1;
    }
    printf("items %llu, branch %u, idlist %u, max message %u B (0 = default)\n",
           (unsigned long long)n, o.branch, o.idlist, (unsigned)o.max_message);
    uint64_t pct = n / 100;
    sz_recon_array_t *base = build(0, n, 0, 0);
    sz_recon_array_t *plus100 = build(0, n, n, n + 100);
    /* 1%: each side holds n/200 ids the other lacks. */
    sz_recon_array_t *pa = build(0, n - pct / 2, n, n + pct / 2);
    sz_recon_array_t *pb = build(0, n - pct / 2, 2 * n, 2 * n + pct / 2);
    sz_recon_array_t *empty = build(0, 0, 0, 0);
    int rc = 1;
    if (base == NULL || plus100 == NULL || pa == NULL || pb == NULL || empty == NULL)
        goto out;
    char name[64];
    rc = 0;
    snprintf(name, sizeof name, "identical %lluk", (unsigned long long)(n / 1000));
    rc |= run(name, base, base, &o, 0, 0);
    snprintf(name, sizeof name, "100 new among %lluk", (unsigned long long)(n / 1000));
    rc |= run(name, base, plus100, &o, 0, 100);
    rc |= run("  (new side initiates)", plus100, base, &o, 100, 0);
    snprintf(name, sizeof name, "1%% differ among %lluk", (unsigned long long)(n / 1000));
    rc |= run(name, pa, pb, &o, pct / 2, pct / 2);
    snprintf(name, sizeof name, "empty vs %lluk", (unsigned long long)(n / 1000));
    rc |= run(name, empty, base, &o, 0, n);
    rc |= run("  (full side initiates)", base, empty, &o, n, 0);
out:
    sz_recon_array_free(base);
    sz_recon_array_free(plus100);
    sz_recon_array_free(pa);
    sz_recon_array_free(pb);
    sz_recon_array_free(empty);
    return rc;
}
