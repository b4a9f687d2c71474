/* Tests for proto/reconcile: two in-memory sets reconcile to exactly their symmetric difference,
 * within bounds on rounds and bytes, and hostile messages are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "error.h"
#include "reconcile.h"

/* ---- Helpers ---- */

/* Deterministic pseudo-random ids: SHA-256 of a counter, like version hashes. */
static void make_id(uint8_t id[32], uint64_t n) {
    uint8_t in[8];
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(n >> (8 * i));
    crypto_hash_sha256(id, in, sizeof in);
}

typedef struct idvec_s {
    uint8_t (*ids)[32];
    size_t n, cap;
} idvec_t;

static void vec_push(idvec_t *v, const uint8_t id[32]) {
    if (v->n == v->cap) {
        v->cap = v->cap ? v->cap * 2 : 64;
        v->ids = realloc(v->ids, v->cap * 32);
        assert_non_null(v->ids);
    }
    memcpy(v->ids[v->n++], id, 32);
}

static int cmp_id(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* Sorts and drops duplicates; returns how many duplicates there were. */
static size_t vec_unique(idvec_t *v) {
    if (v->n == 0)
        return 0;
    qsort(v->ids, v->n, 32, cmp_id);
    size_t m = 1;
    for (size_t i = 1; i < v->n; i++)
        if (memcmp(v->ids[m - 1], v->ids[i], 32) != 0)
            memcpy(v->ids[m++], v->ids[i], 32);
    size_t dups = v->n - m;
    v->n = m;
    return dups;
}

static void vec_free(idvec_t *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}

typedef struct side_s {
    idvec_t have, need;
} side_t;

static int on_id(void *arg, int kind, const uint8_t id[32]) {
    side_t *s = arg;
    assert_true(kind == SZ_RECON_HAVE || kind == SZ_RECON_NEED);
    vec_push(kind == SZ_RECON_HAVE ? &s->have : &s->need, id);
    return 0;
}

typedef struct run_s {
    size_t messages;           /* messages sent in total, both ways */
    size_t bytes_ab, bytes_ba; /* initiator -> responder, and back */
    size_t first_len, second_len;
    size_t dups;
    sz_recon_stats_t sa, sb;
} run_t;

/* Runs a whole session: A initiates, B responds, until a side has nothing to send. Checks that
 * each side's HAVE/NEED sets equal the true differences. */
static void reconcile(const idvec_t *a, const idvec_t *b, const sz_recon_options_t *base,
                      run_t *out) {
    sz_recon_array_t *aa, *ab;
    assert_int_equal(sz_recon_array_new(&aa, (const uint8_t(*)[32])a->ids, a->n), 0);
    assert_int_equal(sz_recon_array_new(&ab, (const uint8_t(*)[32])b->ids, b->n), 0);
    sz_recon_source_t src_a, src_b;
    sz_recon_array_source(aa, &src_a);
    sz_recon_array_source(ab, &src_b);
    side_t side_a = {0}, side_b = {0};
    sz_recon_options_t oa = {0}, ob = {0};
    if (base != NULL)
        oa = ob = *base;
    oa.on_id = on_id;
    oa.arg = &side_a;
    ob.on_id = on_id;
    ob.arg = &side_b;
    sz_recon_t *ra, *rb;
    assert_int_equal(sz_recon_new(&ra, &src_a, &oa), 0);
    assert_int_equal(sz_recon_new(&rb, &src_b, &ob), 0);

    memset(out, 0, sizeof *out);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(sz_recon_initiate(ra, &msg, &len), 0);
    out->first_len = len;
    out->messages = 1;
    out->bytes_ab = len;
    sz_recon_t *turn = rb, *other = ra;
    int done = 0;
    for (;;) {
        const uint8_t *reply;
        size_t rlen;
        /* Copy: the reply buffer belongs to the session that wrote it. */
        uint8_t *copy = malloc(len);
        assert_non_null(copy);
        memcpy(copy, msg, len);
        int rc = sz_recon_process(turn, copy, len, &reply, &rlen, &done);
        free(copy);
        assert_int_equal(rc, 0);
        if (rlen == 0) {
            assert_true(done);
            break;
        }
        out->messages++;
        if (out->messages == 2)
            out->second_len = rlen;
        if (turn == ra)
            out->bytes_ab += rlen;
        else
            out->bytes_ba += rlen;
        msg = reply;
        len = rlen;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
        assert_true(out->messages < 2000);
    }
    /* Both sides agree the session is over. */
    assert_true(sz_recon_done(ra));
    assert_true(sz_recon_done(rb));
    sz_recon_get_stats(ra, &out->sa);
    sz_recon_get_stats(rb, &out->sb);

    /* Expected differences, by merging the two sorted sets. */
    idvec_t sa = {0}, sb = {0}, only_a = {0}, only_b = {0};
    for (size_t i = 0; i < a->n; i++)
        vec_push(&sa, a->ids[i]);
    for (size_t i = 0; i < b->n; i++)
        vec_push(&sb, b->ids[i]);
    vec_unique(&sa);
    vec_unique(&sb);
    size_t i = 0, j = 0;
    while (i < sa.n || j < sb.n) {
        int c = i == sa.n ? 1 : j == sb.n ? -1 : memcmp(sa.ids[i], sb.ids[j], 32);
        if (c < 0)
            vec_push(&only_a, sa.ids[i++]);
        else if (c > 0)
            vec_push(&only_b, sb.ids[j++]);
        else
            i++, j++;
    }
    out->dups = vec_unique(&side_a.have) + vec_unique(&side_a.need) + vec_unique(&side_b.have) +
                vec_unique(&side_b.need);
    if (out->sa.overflows == 0 && out->sb.overflows == 0)
        assert_int_equal(out->dups, 0);
    assert_int_equal(side_a.have.n, only_a.n);
    assert_int_equal(side_b.need.n, only_a.n);
    assert_int_equal(side_a.need.n, only_b.n);
    assert_int_equal(side_b.have.n, only_b.n);
    if (only_a.n > 0) {
        assert_memory_equal(side_a.have.ids, only_a.ids, only_a.n * 32);
        assert_memory_equal(side_b.need.ids, only_a.ids, only_a.n * 32);
    }
    if (only_b.n > 0) {
        assert_memory_equal(side_a.need.ids, only_b.ids, only_b.n * 32);
        assert_memory_equal(side_b.have.ids, only_b.ids, only_b.n * 32);
    }
    vec_free(&sa);
    vec_free(&sb);
    vec_free(&only_a);
    vec_free(&only_b);
    vec_free(&side_a.have);
    vec_free(&side_a.need);
    vec_free(&side_b.have);
    vec_free(&side_b.need);
    sz_recon_free(ra);
    sz_recon_free(rb);
    sz_recon_array_free(aa);
    sz_recon_array_free(ab);
}

/* Fills a with ids [from, to) and b likewise. */
static void fill(idvec_t *v, uint64_t from, uint64_t to) {
    for (uint64_t k = from; k < to; k++) {
        uint8_t id[32];
        make_id(id, k);
        vec_push(v, id);
    }
}

static size_t round_trips(const run_t *r) {
    return (r->messages + 1) / 2;
}

/* ---- Reconciliation cases ---- */

static void test_identical(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 100000);
    fill(&b, 0, 100000);
    run_t r;
    reconcile(&a, &b, NULL, &r);
    /* One round trip: the opening and an empty reply. */
    assert_int_equal(r.messages, 2);
    assert_true(r.bytes_ab < 512);
    assert_int_equal(r.bytes_ba, 1);
    assert_int_equal(r.sa.have + r.sa.need + r.sb.have + r.sb.need, 0);
    vec_free(&a);
    vec_free(&b);
}

static void test_both_empty(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    run_t r;
    reconcile(&a, &b, NULL, &r);
    assert_int_equal(r.messages, 2);
    assert_int_equal(r.first_len, 4);  /* format, infinity, IDLIST, 0 */
    assert_int_equal(r.second_len, 1); /* equal lists: nothing to say */
}

static void test_small_sets(void **state) {
    (void)state;
    /* Sizes around the IDLIST threshold and the branch factor, overlapping in various ways. */
    static const size_t sizes[] = {0, 1, 2, 15, 16, 17, 31, 32, 33, 100, 513};
    for (size_t x = 0; x < sizeof sizes / sizeof sizes[0]; x++) {
        for (size_t y = 0; y < sizeof sizes / sizeof sizes[0]; y++) {
            idvec_t a = {0}, b = {0};
            fill(&a, 0, sizes[x]);
            fill(&b, sizes[x] / 2, sizes[x] / 2 + sizes[y]);
            run_t r;
            reconcile(&a, &b, NULL, &r);
            vec_free(&a);
            vec_free(&b);
        }
    }
}

static void test_disjoint(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 5000);
    fill(&b, 5000, 12000);
    run_t r;
    reconcile(&a, &b, NULL, &r);
    assert_int_equal(r.sa.have, 5000);
    assert_int_equal(r.sa.need, 7000);
    /* Every id crosses about once each way, plus fingerprints. */
    assert_true(r.bytes_ab + r.bytes_ba < 12000 * 32 * 2);
    vec_free(&a);
    vec_free(&b);
}

static void test_one_empty(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&b, 0, 100000);
    run_t r;
    reconcile(&a, &b, NULL, &r); /* the empty side initiates */
    assert_int_equal(r.sa.need, 100000);
    assert_true(r.bytes_ba < 100000 * 33 + 8192);
    assert_true(round_trips(&r) <= 6);
    reconcile(&b, &a, NULL, &r); /* the full side initiates */
    assert_int_equal(r.sb.need, 100000);
    assert_true(round_trips(&r) <= 7);
    vec_free(&b);
}

static void test_hundred_new(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 100000);
    fill(&b, 0, 100100);
    run_t r;
    reconcile(&a, &b, NULL, &r);
    assert_int_equal(r.sa.need, 100);
    assert_int_equal(r.sb.have, 100);
    assert_true(round_trips(&r) <= 4);
    assert_true(r.bytes_ab + r.bytes_ba < 200000);
    print_message("100 new among 100k: %zu messages, %zu B out, %zu B back\n", r.messages,
                  r.bytes_ab, r.bytes_ba);
    reconcile(&b, &a, NULL, &r);
    assert_int_equal(r.sa.have, 100);
    assert_true(round_trips(&r) <= 4);
    vec_free(&a);
    vec_free(&b);
}

static void test_many_small_differences(void **state) {
    (void)state;
    /* Shared base of 20000; each side has 300 of its own, interleaved across the space. */
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 20000);
    fill(&b, 0, 20000);
    fill(&a, 100000, 100300);
    fill(&b, 200000, 200300);
    run_t r;
    reconcile(&a, &b, NULL, &r);
    assert_int_equal(r.sa.have, 300);
    assert_int_equal(r.sa.need, 300);
    assert_true(round_trips(&r) <= 5);
    vec_free(&a);
    vec_free(&b);
}

static void test_million(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 1000000);
    fill(&b, 0, 1000010);
    run_t r;
    reconcile(&a, &b, NULL, &r);
    assert_int_equal(r.sa.need, 10);
    assert_true(round_trips(&r) <= 5);
    assert_true(r.bytes_ab + r.bytes_ba < 64 * 1024);
    vec_free(&a);
    vec_free(&b);
}

static void test_overflow_small_messages(void **state) {
    (void)state;
    /* The smallest messages force overflows in every kind of answer; the result must still be
     * exact (after dropping repeats) and every message must respect the bound. */
    sz_recon_options_t o = {0};
    o.max_message = SZ_RECON_MIN_MESSAGE;
    idvec_t a = {0}, b = {0};
    fill(&b, 0, 3000);
    run_t r;
    reconcile(&a, &b, &o, &r);
    assert_true(r.sb.overflows > 0);
    reconcile(&b, &a, &o, &r);
    assert_true(r.sa.overflows > 0);
    fill(&a, 0, 1000);
    fill(&a, 5000, 7000);
    reconcile(&a, &b, &o, &r);
    reconcile(&b, &a, &o, &r);
    vec_free(&a);
    vec_free(&b);
}

static void test_options(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 2000);
    fill(&b, 1000, 3000);
    static const unsigned branches[] = {2, 3, 16, 64};
    static const unsigned idlists[] = {1, 2, 32, 100};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 4; j++) {
            sz_recon_options_t o = {0};
            o.branch = branches[i];
            o.idlist = idlists[j];
            run_t r;
            reconcile(&a, &b, &o, &r);
        }
    sz_recon_array_t *arr;
    assert_int_equal(sz_recon_array_new(&arr, NULL, 0), 0);
    sz_recon_source_t src;
    sz_recon_array_source(arr, &src);
    sz_recon_t *rs;
    sz_recon_options_t bad = {0};
    bad.branch = 1;
    assert_int_equal(sz_recon_new(&rs, &src, &bad), SZ_E_ARGUMENT);
    bad.branch = SZ_RECON_MAX_BRANCH + 1;
    assert_int_equal(sz_recon_new(&rs, &src, &bad), SZ_E_ARGUMENT);
    memset(&bad, 0, sizeof bad);
    bad.max_message = SZ_RECON_MIN_MESSAGE - 1;
    assert_int_equal(sz_recon_new(&rs, &src, &bad), SZ_E_ARGUMENT);
    bad.max_message = SZ_RECON_MAX_MESSAGE + 1;
    assert_int_equal(sz_recon_new(&rs, &src, &bad), SZ_E_ARGUMENT);
    memset(&bad, 0, sizeof bad);
    bad.max_message = SZ_RECON_MIN_MESSAGE;
    bad.idlist = 200; /* 200 ids cannot fit in 4 KiB */
    assert_int_equal(sz_recon_new(&rs, &src, &bad), SZ_E_ARGUMENT);
    sz_recon_source_t nosrc = {0};
    assert_int_equal(sz_recon_new(&rs, &nosrc, NULL), SZ_E_ARGUMENT);
    sz_recon_array_free(arr);
    vec_free(&a);
    vec_free(&b);
}

/* ---- Other sources ---- */

/* A source the way a store without precomputed sums would do it: sum by iterating. It can also
 * switch to a bigger array between messages, as live pushes grow a node's set mid-session. */
typedef struct slow_s {
    sz_recon_source_t inner;
} slow_t;

typedef struct sum_acc_s {
    uint64_t count;
    uint8_t *sum;
} sum_acc_t;

static int sum_acc_cb(void *arg, const uint8_t id[32]) {
    sum_acc_t *a = arg;
    sz_recon_sum_add(a->sum, id);
    a->count++;
    return 0;
}

static int slow_sum(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                    uint64_t *count, uint8_t sum[32]) {
    slow_t *s = ctx;
    memset(sum, 0, 32);
    sum_acc_t a = {0, sum};
    int rc = s->inner.iterate(s->inner.ctx, lo, hi, sum_acc_cb, &a);
    *count = a.count;
    return rc;
}

static int slow_iterate(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                        sz_recon_item_cb cb, void *cb_arg) {
    slow_t *s = ctx;
    return s->inner.iterate(s->inner.ctx, lo, hi, cb, cb_arg);
}

static void test_iterating_source(void **state) {
    (void)state;
    idvec_t a = {0}, b = {0};
    fill(&a, 0, 20000);
    fill(&a, 50000, 50100);
    fill(&b, 0, 20000);
    fill(&b, 60000, 60050);
    sz_recon_array_t *aa, *ab;
    assert_int_equal(sz_recon_array_new(&aa, (const uint8_t(*)[32])a.ids, a.n), 0);
    assert_int_equal(sz_recon_array_new(&ab, (const uint8_t(*)[32])b.ids, b.n), 0);
    slow_t sa, sb;
    sz_recon_array_source(aa, &sa.inner);
    sz_recon_array_source(ab, &sb.inner);
    sz_recon_source_t src_a = {slow_sum, slow_iterate, &sa}, src_b = {slow_sum, slow_iterate, &sb};
    side_t side_a = {0}, side_b = {0};
    sz_recon_options_t oa = {0}, ob = {0};
    oa.on_id = on_id;
    oa.arg = &side_a;
    ob.on_id = on_id;
    ob.arg = &side_b;
    sz_recon_t *ra, *rb;
    assert_int_equal(sz_recon_new(&ra, &src_a, &oa), 0);
    assert_int_equal(sz_recon_new(&rb, &src_b, &ob), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(sz_recon_initiate(ra, &msg, &len), 0);
    sz_recon_t *turn = rb, *other = ra;
    uint8_t *copy = malloc(SZ_RECON_DEFAULT_MESSAGE);
    assert_non_null(copy);
    for (;;) {
        const uint8_t *reply;
        size_t rlen;
        memcpy(copy, msg, len);
        assert_int_equal(sz_recon_process(turn, copy, len, &reply, &rlen, NULL), 0);
        if (rlen == 0)
            break;
        msg = reply;
        len = rlen;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
    }
    assert_int_equal(vec_unique(&side_a.have), 0);
    assert_int_equal(side_a.have.n, 100);
    assert_int_equal(side_a.need.n, 50);
    assert_int_equal(side_b.have.n, 50);
    assert_int_equal(side_b.need.n, 100);
    free(copy);
    vec_free(&side_a.have);
    vec_free(&side_a.need);
    vec_free(&side_b.have);
    vec_free(&side_b.need);
    sz_recon_free(ra);
    sz_recon_free(rb);
    sz_recon_array_free(aa);
    sz_recon_array_free(ab);
    vec_free(&a);
    vec_free(&b);
}

/* A source whose array is replaced by a superset between messages. */
typedef struct growing_s {
    sz_recon_array_t *now;
} growing_t;

static int growing_sum(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                       uint64_t *count, uint8_t sum[32]) {
    growing_t *g = ctx;
    sz_recon_source_t s;
    sz_recon_array_source(g->now, &s);
    return s.sum(s.ctx, lo, hi, count, sum);
}

static int growing_iterate(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                           sz_recon_item_cb cb, void *cb_arg) {
    growing_t *g = ctx;
    sz_recon_source_t s;
    sz_recon_array_source(g->now, &s);
    return s.iterate(s.ctx, lo, hi, cb, cb_arg);
}

static int in_range(const idvec_t *v, const uint8_t id[32]) {
    return bsearch(id, v->ids, v->n, 32, cmp_id) != NULL;
}

static void test_growing_set(void **state) {
    (void)state;
    /* B gains 500 ids (half of which A already holds) after each message it handles, up to five
     * times. The session must still end; every NEED of A must be an id A lacks and B holds by
     * the end, every HAVE an id A holds, and no id of A that B still lacks at the end may be
     * missed (B only grows, so such a range never looks equal). Versions B gains in a range
     * already settled are left to the next sync, as SYNC.md section 3.5 says. */
    idvec_t a = {0}, b0 = {0};
    fill(&a, 0, 30000);
    fill(&a, 100000, 100200);
    fill(&b0, 0, 29000);
    sz_recon_array_t *aa, *stages[6];
    assert_int_equal(sz_recon_array_new(&aa, (const uint8_t(*)[32])a.ids, a.n), 0);
    idvec_t grow = {0};
    fill(&grow, 0, 29000);
    for (int k = 0; k < 6; k++) {
        assert_int_equal(sz_recon_array_new(&stages[k], (const uint8_t(*)[32])grow.ids, grow.n), 0);
        fill(&grow, 29000 + 250 * (uint64_t)k, 29000 + 250 * (uint64_t)(k + 1));   /* A has these */
        fill(&grow, 200000 + 250 * (uint64_t)k, 200000 + 250 * (uint64_t)(k + 1)); /* new */
    }
    sz_recon_source_t src_a;
    sz_recon_array_source(aa, &src_a);
    growing_t g = {stages[0]};
    sz_recon_source_t src_b = {growing_sum, growing_iterate, &g};
    side_t side_a = {0}, side_b = {0};
    sz_recon_options_t oa = {0}, ob = {0};
    oa.on_id = on_id;
    oa.arg = &side_a;
    ob.on_id = on_id;
    ob.arg = &side_b;
    sz_recon_t *ra, *rb;
    assert_int_equal(sz_recon_new(&ra, &src_a, &oa), 0);
    assert_int_equal(sz_recon_new(&rb, &src_b, &ob), 0);
    const uint8_t *msg;
    size_t len;
    assert_int_equal(sz_recon_initiate(ra, &msg, &len), 0);
    sz_recon_t *turn = rb, *other = ra;
    uint8_t *copy = malloc(SZ_RECON_DEFAULT_MESSAGE);
    assert_non_null(copy);
    int stage = 0;
    for (;;) {
        const uint8_t *reply;
        size_t rlen;
        memcpy(copy, msg, len);
        assert_int_equal(sz_recon_process(turn, copy, len, &reply, &rlen, NULL), 0);
        if (turn == rb && stage < 5)
            g.now = stages[++stage];
        if (rlen == 0)
            break;
        msg = reply;
        len = rlen;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
    }
    /* Sound: every reported id is a real difference against the final sets or the set B had. */
    idvec_t bfinal = {0};
    fill(&bfinal, 0, 29000 + 250 * (uint64_t)stage);
    fill(&bfinal, 200000, 200000 + 250 * (uint64_t)stage);
    vec_unique(&bfinal);
    vec_unique(&a);
    vec_unique(&side_a.have);
    vec_unique(&side_a.need);
    for (size_t i = 0; i < side_a.need.n; i++) {
        assert_false(in_range(&a, side_a.need.ids[i]));
        assert_true(in_range(&bfinal, side_a.need.ids[i]));
    }
    for (size_t i = 0; i < side_a.have.n; i++)
        assert_true(in_range(&a, side_a.have.ids[i]));
    /* Complete against B's final set: A learns it has the 200 ids B never gets, and those of
     * its [29000, 30000) that B had not gained by the end. */
    size_t found = 0;
    for (size_t i = 0; i < side_a.have.n; i++)
        found += !in_range(&bfinal, side_a.have.ids[i]);
    uint64_t b_top = 29000 + 250 * (uint64_t)stage;
    assert_int_equal(found, 200 + (b_top < 30000 ? 30000 - b_top : 0));
    free(copy);
    vec_free(&bfinal);
    vec_free(&grow);
    vec_free(&side_a.have);
    vec_free(&side_a.need);
    vec_free(&side_b.have);
    vec_free(&side_b.need);
    sz_recon_free(ra);
    sz_recon_free(rb);
    sz_recon_array_free(aa);
    for (int k = 0; k < 6; k++)
        sz_recon_array_free(stages[k]);
    vec_free(&a);
    vec_free(&b0);
}

/* ---- Fingerprint ---- */

static void test_fingerprint(void **state) {
    (void)state;
    /* Empty range: SHA-256 of 40 zero bytes. */
    uint8_t zero[40] = {0}, h[32], fp[16], sum[32] = {0};
    crypto_hash_sha256(h, zero, sizeof zero);
    sz_recon_fingerprint(sum, 0, fp);
    assert_memory_equal(fp, h, 16);
    /* Sums are little-endian with carries across all 32 bytes and wrap mod 2^256. */
    uint8_t ff[32], one[32] = {1};
    memset(ff, 0xff, 32);
    memcpy(sum, ff, 32);
    sz_recon_sum_add(sum, one);
    assert_memory_equal(sum, (uint8_t[32]){0}, 32);
    uint8_t a[32] = {0xff, 0xff}, b[32] = {0x01}, want[32] = {0x00, 0x00, 0x01};
    memset(sum, 0, 32);
    sz_recon_sum_add(sum, a);
    sz_recon_sum_add(sum, b);
    assert_memory_equal(sum, want, 32);
    /* The count is part of the input: {x} and {x, 0} differ. */
    uint8_t in[40] = {0};
    memcpy(in, want, 32);
    in[32] = 2;
    crypto_hash_sha256(h, in, sizeof in);
    sz_recon_fingerprint(want, 2, fp);
    assert_memory_equal(fp, h, 16);
    /* The array source computes the same sums as adding ids one by one. */
    idvec_t v = {0};
    fill(&v, 0, 1000);
    sz_recon_array_t *arr;
    assert_int_equal(sz_recon_array_new(&arr, (const uint8_t(*)[32])v.ids, v.n), 0);
    sz_recon_source_t src;
    sz_recon_array_source(arr, &src);
    vec_unique(&v);
    for (size_t i = 0; i < v.n; i += 97) {
        for (size_t j = i; j <= v.n; j += 131) {
            sz_recon_bound_t lo = {{0}, 0}, hi = {{0}, 1};
            memcpy(lo.v, v.ids[i], 32);
            if (j < v.n)
                memcpy(hi.v, v.ids[j], 32), hi.inf = 0;
            uint64_t count;
            uint8_t got[32], exp[32] = {0};
            assert_int_equal(src.sum(src.ctx, &lo, &hi, &count, got), 0);
            for (size_t k = i; k < j; k++)
                sz_recon_sum_add(exp, v.ids[k]);
            assert_int_equal(count, j - i);
            assert_memory_equal(got, exp, 32);
        }
    }
    sz_recon_array_free(arr);
    vec_free(&v);
}

/* ---- The worked example of SYNC.md section 3.9, byte for byte ---- */

static size_t unhex(uint8_t *out, const char *hex) {
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned v;
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
    }
    return n;
}

/* Expands "XX*" into 32 bytes XX, and copies other hex as is. */
static size_t expand(uint8_t *out, const char *spec) {
    char buf[8192];
    size_t k = 0;
    for (const char *p = spec; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        if (p[1] != 0 && p[2] == '*') {
            for (int i = 0; i < 32; i++) {
                buf[k++] = p[0];
                buf[k++] = p[1];
            }
            p += 3;
        } else {
            buf[k++] = *p++;
        }
        assert_true(k < sizeof buf - 70);
    }
    buf[k] = 0;
    return unhex(out, buf);
}

static void run_example(unsigned idlist, const char *const *msgs, size_t nmsgs) {
    uint8_t a[3][32], b[3][32];
    memset(a[0], 0x11, 32);
    memset(a[1], 0x22, 32);
    memset(a[2], 0x33, 32);
    memset(b[0], 0x22, 32);
    memset(b[1], 0x33, 32);
    memset(b[2], 0x44, 32);
    sz_recon_array_t *aa, *ab;
    assert_int_equal(sz_recon_array_new(&aa, (const uint8_t(*)[32])a, 3), 0);
    assert_int_equal(sz_recon_array_new(&ab, (const uint8_t(*)[32])b, 3), 0);
    sz_recon_source_t sa, sb;
    sz_recon_array_source(aa, &sa);
    sz_recon_array_source(ab, &sb);
    side_t side_a = {0}, side_b = {0};
    sz_recon_options_t oa = {0}, ob = {0};
    oa.idlist = ob.idlist = idlist;
    oa.on_id = ob.on_id = on_id;
    oa.arg = &side_a;
    ob.arg = &side_b;
    sz_recon_t *ra, *rb;
    assert_int_equal(sz_recon_new(&ra, &sa, &oa), 0);
    assert_int_equal(sz_recon_new(&rb, &sb, &ob), 0);
    uint8_t want[4096], copy[4096];
    const uint8_t *m;
    size_t n;
    assert_int_equal(sz_recon_initiate(ra, &m, &n), 0);
    sz_recon_t *turn = rb, *other = ra;
    for (size_t i = 0;; i++) {
        assert_true(i < nmsgs);
        size_t wn = expand(want, msgs[i]);
        assert_int_equal(n, wn);
        assert_memory_equal(m, want, n);
        memcpy(copy, m, n);
        const uint8_t *r;
        size_t rn;
        assert_int_equal(sz_recon_process(turn, copy, n, &r, &rn, NULL), 0);
        if (rn == 0) {
            assert_int_equal(i + 1, nmsgs);
            break;
        }
        m = r;
        n = rn;
        sz_recon_t *t = turn;
        turn = other;
        other = t;
    }
    assert_int_equal(side_a.have.n, 1);
    assert_int_equal(side_a.have.ids[0][0], 0x11);
    assert_int_equal(side_a.need.n, 1);
    assert_int_equal(side_a.need.ids[0][0], 0x44);
    assert_int_equal(side_b.have.n, 1);
    assert_int_equal(side_b.have.ids[0][0], 0x44);
    assert_int_equal(side_b.need.n, 1);
    assert_int_equal(side_b.need.ids[0][0], 0x11);
    vec_free(&side_a.have);
    vec_free(&side_a.need);
    vec_free(&side_b.have);
    vec_free(&side_b.need);
    sz_recon_free(ra);
    sz_recon_free(rb);
    sz_recon_array_free(aa);
    sz_recon_array_free(ab);
}

static void test_worked_example(void **state) {
    (void)state;
    static const char *const plain[] = {
        "01 21 02 03 11* 22* 33*",
        "01 21 03 01 11* 01 44*",
    };
    run_example(32, plain, 2);
    static const char *const split[] = {
        "01 0122 01 337c72ce284faa49b9e253bd87596208 0133 01 52577d5bda71d993d5e09d0e5dafd119"
        " 21 01 0a4f557456d68ff5f467631ec89660cf",
        "01 0122 0200 0133 00 0144 01 0a4f557456d68ff5f467631ec89660cf"
        " 21 01 459d9a10d9f83f2616e4900734c9c5cd",
        "01 0122 03 00 01 11* 0144 00 21 02 00",
        "01 0144 00 21 03 00 01 44*",
    };
    run_example(1, split, 4);
}

/* ---- Hostile input ---- */

typedef struct fixture_s {
    idvec_t ids;
    sz_recon_array_t *arr;
    sz_recon_source_t src;
} fixture_t;

static fixture_t fx;

static int setup_fixture(void **state) {
    (void)state;
    memset(&fx, 0, sizeof fx);
    fill(&fx.ids, 0, 300);
    if (sz_recon_array_new(&fx.arr, (const uint8_t(*)[32])fx.ids.ids, fx.ids.n) != 0)
        return -1;
    sz_recon_array_source(fx.arr, &fx.src);
    vec_unique(&fx.ids);
    return 0;
}

static int teardown_fixture(void **state) {
    (void)state;
    sz_recon_array_free(fx.arr);
    vec_free(&fx.ids);
    return 0;
}

/* Feeds msg to a fresh responder over the fixture set; returns what process returned, and checks
 * that sz_recon_check agrees and that a failed session stays failed. */
static int feed(const uint8_t *msg, size_t len) {
    sz_recon_t *r;
    assert_int_equal(sz_recon_new(&r, &fx.src, NULL), 0);
    const uint8_t *out;
    size_t out_len;
    int done;
    int rc = sz_recon_process(r, msg, len, &out, &out_len, &done);
    int check = sz_recon_check(msg, len, 0, NULL, NULL);
    /* The codec check catches every encoding error; process may also refuse what only the set
     * can judge (a DIFF naming an id we never listed). */
    if (check != 0)
        assert_int_equal(rc, check);
    if (rc != 0) {
        uint8_t ok[1] = {SZ_RECON_FORMAT};
        assert_int_equal(sz_recon_process(r, ok, 1, &out, &out_len, &done), SZ_E_STATE);
    }
    sz_recon_free(r);
    return rc;
}

typedef struct buf_s {
    uint8_t b[4096];
    size_t n;
} buf_t;

static void put(buf_t *b, const void *p, size_t n) {
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, p, n);
    b->n += n;
}
static void put8(buf_t *b, uint8_t v) {
    put(b, &v, 1);
}
/* A bound as the codec writes it: length then bytes without trailing zeros. */
static void put_bound(buf_t *b, const uint8_t v[32]) {
    size_t l = 32;
    while (l > 0 && v[l - 1] == 0)
        l--;
    put8(b, (uint8_t)l);
    put(b, v, l);
}
static void put_inf(buf_t *b) {
    put8(b, 33);
}

static void test_hostile_framing(void **state) {
    (void)state;
    uint8_t fp[16] = {0};
    buf_t m = {0};
    assert_int_equal(feed(NULL, 0), SZ_E_PROTOCOL);
    put8(&m, 2); /* unknown format */
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    assert_int_equal(feed(m.b, m.n), 0); /* an empty message is valid and needs no reply */
    put_inf(&m);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL); /* bound without mode */
    put8(&m, 1);
    put(&m, fp, 15);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL); /* short fingerprint */
    put8(&m, 0);
    assert_int_equal(feed(m.b, m.n), 0);
    put8(&m, 0);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL); /* trailing byte after infinity */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 4); /* unknown mode */
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put8(&m, 34); /* bound length out of range */
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put8(&m, 2);
    put8(&m, 0x80);
    put8(&m, 0x00); /* non-canonical: trailing zero byte */
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put8(&m, 0); /* the zero bound: an empty first range */
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put8(&m, 5); /* bound longer than the message */
    put8(&m, 1);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
}

static void test_hostile_ranges(void **state) {
    (void)state;
    uint8_t fp[16] = {0}, lo[32] = {0x40}, hi[32] = {0x80};
    buf_t m = {0};
    /* Bounds going down. */
    put8(&m, 1);
    put_bound(&m, hi);
    put8(&m, 1);
    put(&m, fp, 16);
    put_bound(&m, lo);
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Equal bounds (an empty range). */
    m.n = 0;
    put8(&m, 1);
    put_bound(&m, lo);
    put8(&m, 1);
    put(&m, fp, 16);
    put_bound(&m, lo);
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Two SKIPs in a row, and a trailing SKIP. */
    m.n = 0;
    put8(&m, 1);
    put_bound(&m, lo);
    put8(&m, 0);
    put_bound(&m, hi);
    put8(&m, 0);
    put_inf(&m);
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put_bound(&m, lo);
    put8(&m, 1);
    put(&m, fp, 16);
    put_bound(&m, hi);
    put8(&m, 0);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Well-formed: SKIP then FINGERPRINT then nothing. */
    m.n = 0;
    put8(&m, 1);
    put_bound(&m, lo);
    put8(&m, 0);
    put_bound(&m, hi);
    put8(&m, 1);
    put(&m, fp, 16);
    assert_int_equal(feed(m.b, m.n), 0);
    /* Too many ranges: SZ_RECON_MAX_RANGES + 1 SKIP/FINGERPRINT pairs would be huge; use
     * fingerprints over consecutive 2-byte bounds. */
    size_t cap = 1 + (SZ_RECON_MAX_RANGES + 1) * 20;
    uint8_t *big = malloc(cap);
    assert_non_null(big);
    size_t n = 0;
    big[n++] = 1;
    for (unsigned k = 1; k <= SZ_RECON_MAX_RANGES + 1; k++) {
        big[n++] = 2;
        big[n++] = (uint8_t)(k >> 8);
        big[n++] = (uint8_t)k;
        if ((k & 0xff) == 0) { /* canonical: drop the trailing zero byte */
            n -= 3;
            big[n++] = 1;
            big[n++] = (uint8_t)(k >> 8);
        }
        big[n++] = 1;
        memset(big + n, 0, 16);
        n += 16;
    }
    assert_int_equal(sz_recon_check(big, n, 0, NULL, NULL), SZ_E_PROTOCOL);
    assert_int_equal(feed(big, n), SZ_E_PROTOCOL);
    /* One fewer is accepted by the codec. */
    size_t n_ok = 0;
    for (unsigned k = 1, pos = 1; k <= SZ_RECON_MAX_RANGES; k++) {
        pos += (k & 0xff) == 0 ? 2 : 3;
        pos += 17;
        n_ok = pos;
    }
    size_t nr;
    assert_int_equal(sz_recon_check(big, n_ok, 0, &nr, NULL), 0);
    assert_int_equal(nr, SZ_RECON_MAX_RANGES);
    free(big);
}

static void test_hostile_idlists(void **state) {
    (void)state;
    const uint8_t *x = fx.ids.ids[10], *y = fx.ids.ids[20];
    buf_t m = {0};
    /* Well-formed IDLIST over everything. */
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 2);
    put(&m, x, 32);
    put(&m, y, 32);
    assert_int_equal(feed(m.b, m.n), 0);
    /* Unsorted. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 2);
    put(&m, y, 32);
    put(&m, x, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Duplicate. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 2);
    put(&m, x, 32);
    put(&m, x, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* An id outside its range: the range ends at x, which is not below x. */
    m.n = 0;
    put8(&m, 1);
    put_bound(&m, x);
    put8(&m, 2);
    put8(&m, 1);
    put(&m, x, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* A count larger than the bytes present, and beyond the protocol bound. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 3);
    put(&m, x, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 0x81);
    put8(&m, 0x08); /* 1025 */
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Non-minimal varint (0 as two bytes), and a varint that never ends. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 0x80);
    put8(&m, 0x00);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    for (int i = 0; i < 5; i++)
        put8(&m, 0xff);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
}

static void test_hostile_diffs(void **state) {
    (void)state;
    const uint8_t *x = fx.ids.ids[10];
    uint8_t unknown[32];
    make_id(unknown, 999999);
    buf_t m = {0};
    /* A DIFF that claims the peer lacks an id we never listed and do not hold. */
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 3);
    put8(&m, 1);
    put(&m, unknown, 32);
    put8(&m, 0);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* Claiming it lacks an id we hold is fine, and needs no reply. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 3);
    put8(&m, 1);
    put(&m, x, 32);
    put8(&m, 1);
    put(&m, unknown, 32);
    assert_int_equal(feed(m.b, m.n), 0);
    /* The same id on both lists. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 3);
    put8(&m, 1);
    put(&m, x, 32);
    put8(&m, 1);
    put(&m, x, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
    /* A have list whose count runs past the end. */
    m.n = 0;
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 3);
    put8(&m, 0);
    put8(&m, 2);
    put(&m, unknown, 32);
    assert_int_equal(feed(m.b, m.n), SZ_E_PROTOCOL);
}

static void test_limits_and_state(void **state) {
    (void)state;
    sz_recon_t *r;
    sz_recon_options_t o = {0};
    o.max_message = SZ_RECON_MIN_MESSAGE;
    o.max_rounds = 3;
    assert_int_equal(sz_recon_new(&r, &fx.src, &o), 0);
    const uint8_t *out;
    size_t out_len;
    int done;
    /* A message longer than max_message. */
    uint8_t *big = calloc(1, SZ_RECON_MIN_MESSAGE + 1);
    assert_non_null(big);
    big[0] = 1;
    assert_int_equal(sz_recon_process(r, big, SZ_RECON_MIN_MESSAGE + 1, &out, &out_len, &done),
                     SZ_E_TOO_LARGE);
    free(big);
    sz_recon_free(r);

    /* A peer that keeps asking about the same range hits max_rounds. */
    assert_int_equal(sz_recon_new(&r, &fx.src, &o), 0);
    uint8_t ask[19] = {1, 33, 1};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sz_recon_process(r, ask, sizeof ask, &out, &out_len, &done), 0);
        assert_true(out_len > 1);
        assert_false(done);
    }
    assert_int_equal(sz_recon_process(r, ask, sizeof ask, &out, &out_len, &done), SZ_E_TOO_LARGE);
    sz_recon_free(r);

    /* initiate only once, and not after process; process not after done. */
    assert_int_equal(sz_recon_new(&r, &fx.src, NULL), 0);
    assert_int_equal(sz_recon_initiate(r, &out, &out_len), 0);
    assert_int_equal(sz_recon_initiate(r, &out, &out_len), SZ_E_STATE);
    uint8_t empty[1] = {1};
    assert_int_equal(sz_recon_process(r, empty, 1, &out, &out_len, &done), 0);
    assert_int_equal(out_len, 0);
    assert_true(done);
    assert_true(sz_recon_done(r));
    assert_int_equal(sz_recon_process(r, empty, 1, &out, &out_len, &done), SZ_E_STATE);
    sz_recon_free(r);

    /* Every message the session writes passes the codec check. */
    assert_int_equal(sz_recon_new(&r, &fx.src, NULL), 0);
    assert_int_equal(sz_recon_initiate(r, &out, &out_len), 0);
    int reply;
    assert_int_equal(sz_recon_check(out, out_len, 0, NULL, &reply), 0);
    assert_true(reply);
    sz_recon_free(r);
}

/* With small messages, an IDLIST too long for its DIFF answer to fit is refused; one id fewer
 * is answered within the bound. */
static void test_idlist_bound(void **state) {
    (void)state;
    sz_recon_options_t o = {0};
    o.max_message = SZ_RECON_MIN_MESSAGE;
    size_t limit = (SZ_RECON_MIN_MESSAGE - 256) / 32;
    for (size_t n = limit; n <= limit + 1; n++) {
        uint8_t *m = malloc(4 + n * 32);
        assert_non_null(m);
        size_t len = 0;
        m[len++] = 1;
        m[len++] = 33;
        m[len++] = 2;
        m[len++] = (uint8_t)n; /* 120 and 121: one varint byte */
        memcpy(m + len, fx.ids.ids, n * 32);
        len += n * 32;
        assert_true(len <= SZ_RECON_MIN_MESSAGE);
        sz_recon_t *r;
        assert_int_equal(sz_recon_new(&r, &fx.src, &o), 0);
        const uint8_t *out;
        size_t out_len;
        int rc = sz_recon_process(r, m, len, &out, &out_len, NULL);
        if (n == limit) {
            assert_int_equal(rc, 0);
            assert_true(out_len > 1 && out_len <= SZ_RECON_MIN_MESSAGE);
        } else {
            assert_int_equal(rc, SZ_E_PROTOCOL);
            assert_int_equal(sz_recon_check(m, len, SZ_RECON_MIN_MESSAGE, NULL, NULL),
                             SZ_E_PROTOCOL);
            assert_int_equal(sz_recon_check(m, len, 0, NULL, NULL), 0);
        }
        sz_recon_free(r);
        free(m);
    }
}

/* An on_id error stops the session and is returned. */
static int refuse(void *arg, int kind, const uint8_t id[32]) {
    (void)arg;
    (void)kind;
    (void)id;
    return -5;
}

static void test_callback_error(void **state) {
    (void)state;
    sz_recon_options_t o = {0};
    o.on_id = refuse;
    sz_recon_t *r;
    assert_int_equal(sz_recon_new(&r, &fx.src, &o), 0);
    buf_t m = {0};
    put8(&m, 1);
    put_inf(&m);
    put8(&m, 2);
    put8(&m, 0); /* the peer is empty: every id of ours is a HAVE */
    const uint8_t *out;
    size_t out_len;
    assert_int_equal(sz_recon_process(r, m.b, m.n, &out, &out_len, NULL), -5);
    assert_false(sz_recon_done(r));
    sz_recon_free(r);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fingerprint),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_both_empty),
        cmocka_unit_test(test_small_sets),
        cmocka_unit_test(test_disjoint),
        cmocka_unit_test(test_one_empty),
        cmocka_unit_test(test_hundred_new),
        cmocka_unit_test(test_many_small_differences),
        cmocka_unit_test(test_million),
        cmocka_unit_test(test_overflow_small_messages),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_iterating_source),
        cmocka_unit_test(test_growing_set),
        cmocka_unit_test_setup_teardown(test_hostile_framing, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_hostile_ranges, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_hostile_idlists, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_hostile_diffs, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_limits_and_state, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_callback_error, setup_fixture, teardown_fixture),
        cmocka_unit_test_setup_teardown(test_idlist_bound, setup_fixture, teardown_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
