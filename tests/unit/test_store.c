/* Unit tests of the archive store (daemon/store.h) and its maintenance helpers (daemon/maint.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "error.h"
#include "maint.h"
#include "merkle.h"
#include "record.h"
#include "seal.h"
#include "store.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define T0 1764000000000ull

static uint8_t sk_a[64], sk_b[64];

/* ---- helpers ---- */

static char *tmpdir(void) {
    char tmpl[] = "/tmp/sz-test-store-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rmtree(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

typedef struct env_s {
    uint8_t *buf;
    size_t len;
    uint8_t hash[32];
} env_t;

static env_t mk(const uint8_t *sk, unsigned kind, uint64_t created, const uint8_t *rid,
                const uint8_t *parents, unsigned np, const char *text, unsigned flags) {
    char body[1024];
    if (flags & SZ_FLAG_SEALED)
        snprintf(body, sizeof(body), "ciphertext %s", text);
    else if (kind == SZ_KIND_CASE)
        snprintf(body, sizeof(body),
                 "{\"title\":\"Case %s\",\"summary\":\"A fictional case %s\",\"period\":\"1990\","
                 "\"event_type\":\"desertion\"}",
                 text, text);
    else
        snprintf(body, sizeof(body),
                 "{\"title\":\"Testimony %s\",\"statement\":{\"text\":\"This fictional witness "
                 "speaks about %s\",\"language\":\"en\"},\"witness\":{\"role\":\"civilian\"},"
                 "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"other\"]}",
                 text, text);
    sz_record_fields_t f = {.kind = (uint8_t)kind,
                            .flags = (uint8_t)flags,
                            .created = created,
                            .record_id = rid,
                            .parents = parents,
                            .nparents = (uint8_t)np,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)strlen(body)};
    env_t e;
    assert_int_equal(sz_record_sign(&f, sk, &e.buf, &e.len), 0);
    crypto_hash_sha256(e.hash, e.buf, e.len);
    return e;
}

static int put1(sz_store_t *s, const env_t *e, sz_put_result_t *r) {
    const uint8_t *b = e->buf;
    sz_put_result_t tmp;
    if (r == NULL)
        r = &tmp;
    int rc = sz_store_put_batch(s, &b, &e->len, 1, r);
    assert_int_equal(rc, 0);
    return r->err;
}

static sz_store_t *open_store(const char *dir) {
    sz_store_t *s = NULL;
    char err[256] = "";
    sz_store_options_t o = {.errbuf = err, .errlen = sizeof(err)};
    int rc = sz_store_open(&s, dir, &o);
    if (rc != 0)
        fprintf(stderr, "open: %s (%s)\n", sz_strerror(rc), err);
    assert_int_equal(rc, 0);
    return s;
}

static uint64_t nversions(sz_store_t *s) {
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(s, &st), 0);
    return st.versions;
}

/* ---- ingest, reads, history ---- */

typedef struct collect_s {
    size_t n;
    uint64_t seq[64];
    uint8_t hash[64][32];
    uint32_t gen[64];
} collect_t;

static int collect_cb(void *arg, const sz_version_info_t *v) {
    collect_t *c = arg;
    if (c->n < 64) {
        c->seq[c->n] = v->seq;
        memcpy(c->hash[c->n], v->version_hash, 32);
        c->gen[c->n] = v->generation;
    }
    c->n++;
    return 0;
}

static void test_basic(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "first", 0);
    sz_put_result_t r;
    assert_int_equal(put1(s, &f, &r), 0);
    assert_true(r.flags & SZ_PUT_NEW_RECORD);
    assert_true(r.flags & SZ_PUT_CURRENT);
    assert_int_equal(r.seq, 0);
    assert_memory_equal(r.record_id, f.hash, 32);

    env_t a = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 60000, f.hash, f.hash, 1, "amended", 0);
    assert_int_equal(put1(s, &a, &r), 0);
    assert_int_equal(r.seq, 1);
    assert_true(r.flags & SZ_PUT_CURRENT);
    assert_false(r.flags & SZ_PUT_CONFLICT);

    uint8_t *buf;
    size_t len;
    assert_int_equal(sz_store_get_version(s, f.hash, &buf, &len), 0);
    assert_int_equal(len, f.len);
    assert_memory_equal(buf, f.buf, len);
    free(buf);
    uint8_t nothing[32] = {1};
    assert_int_equal(sz_store_get_version(s, nothing, &buf, &len), SZ_E_NOT_FOUND);
    uint64_t seq = 99;
    assert_int_equal(sz_store_version_seq(s, a.hash, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(sz_store_version_seq(s, nothing, &seq), SZ_E_NOT_FOUND);

    sz_store_record_t *rec;
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_memory_equal(rec->current, a.hash, 32);
    assert_int_equal(rec->generation, 1);
    assert_int_equal(rec->nheads, 1);
    assert_int_equal(rec->nversions, 2);
    assert_int_equal(rec->first_created, T0);
    assert_int_equal(rec->envelope_len, a.len);
    assert_memory_equal(rec->envelope, a.buf, a.len);
    sz_store_record_free(rec);
    assert_int_equal(sz_store_get_record(s, a.hash, &rec), SZ_E_NOT_FOUND);

    collect_t c = {0};
    assert_int_equal(sz_store_history(s, f.hash, collect_cb, &c), 0);
    assert_int_equal(c.n, 2);
    assert_memory_equal(c.hash[0], f.hash, 32);
    assert_memory_equal(c.hash[1], a.hash, 32);
    assert_int_equal(c.gen[0], 0);
    assert_int_equal(c.gen[1], 1);
    assert_int_equal(sz_store_history(s, nothing, collect_cb, &c), SZ_E_NOT_FOUND);

    /* Persistence across reopen. */
    sz_store_close(s);
    s = open_store(dir);
    uint8_t cur[32];
    uint32_t gen;
    assert_int_equal(sz_store_get_current(s, f.hash, cur, &gen), 0);
    assert_memory_equal(cur, a.hash, 32);
    assert_int_equal(gen, 1);
    assert_int_equal(nversions(s), 2);
    env_t g = mk(sk_a, SZ_KIND_CASE, T0, NULL, NULL, 0, "case", 0);
    assert_int_equal(put1(s, &g, &r), 0);
    assert_int_equal(r.seq, 2);
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(s, &st), 0);
    assert_int_equal(st.records, 2);
    assert_int_equal(st.versions, 3);
    sz_store_close(s);
    free(f.buf);
    free(a.buf);
    free(g.buf);
    rmtree(dir);
    free(dir);
}

/* Concurrent branches, ties and merges against RECORD.md's rule. */
static void test_current_rule(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    sz_put_result_t r;
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "f", 0);
    assert_int_equal(put1(s, &f, &r), 0);
    env_t a1 = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 60000, f.hash, f.hash, 1, "a1", 0);
    env_t a2 = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 120000, f.hash, f.hash, 1, "a2", 0);
    assert_int_equal(put1(s, &a2, &r), 0);
    assert_true(r.flags & SZ_PUT_CURRENT);
    /* a1 is older than a2 at the same generation: stored, a head, not current. */
    assert_int_equal(put1(s, &a1, &r), 0);
    assert_false(r.flags & SZ_PUT_CURRENT);
    assert_true(r.flags & SZ_PUT_CONFLICT);
    sz_store_record_t *rec;
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_int_equal(rec->nheads, 2);
    assert_memory_equal(rec->current, a2.hash, 32);
    assert_memory_equal(rec->heads[0], a2.hash, 32);
    assert_memory_equal(rec->heads[1], a1.hash, 32);
    sz_store_record_free(rec);

    /* A tie on generation and created: the bytewise greater hash wins. */
    env_t a3 = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 120000, f.hash, f.hash, 1, "a3", 0);
    assert_int_equal(put1(s, &a3, &r), 0);
    const uint8_t *tie_winner = memcmp(a3.hash, a2.hash, 32) > 0 ? a3.hash : a2.hash;
    const uint8_t *tie_loser = tie_winner == a3.hash ? a2.hash : a3.hash;
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_int_equal(rec->nheads, 3);
    assert_memory_equal(rec->current, tie_winner, 32);
    assert_memory_equal(rec->heads[0], tie_winner, 32);
    assert_memory_equal(rec->heads[1], tie_loser, 32);
    assert_memory_equal(rec->heads[2], a1.hash, 32);
    sz_store_record_free(rec);

    /* A child of the non-current a1 has a greater generation and becomes current, even though it
     * is older than every other head. */
    env_t b = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1000, f.hash, a1.hash, 1, "b", 0);
    assert_int_equal(put1(s, &b, &r), 0);
    assert_true(r.flags & SZ_PUT_CURRENT);
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_int_equal(rec->nheads, 3);
    assert_memory_equal(rec->current, b.hash, 32);
    assert_int_equal(rec->generation, 2);
    sz_store_record_free(rec);

    /* A merge of every head resolves the conflict. */
    uint8_t ps[96];
    memcpy(ps, b.hash, 32);
    memcpy(ps + 32, a2.hash, 32);
    memcpy(ps + 64, a3.hash, 32);
    env_t m = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 500, f.hash, ps, 3, "merge", 0);
    assert_int_equal(put1(s, &m, &r), 0);
    assert_true(r.flags & SZ_PUT_CURRENT);
    assert_false(r.flags & SZ_PUT_CONFLICT);
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_int_equal(rec->nheads, 1);
    assert_memory_equal(rec->current, m.hash, 32);
    assert_int_equal(rec->generation, 3);
    assert_int_equal(rec->nversions, 6);
    sz_store_record_free(rec);

    /* A late branch off the first version does not displace the merge. */
    env_t late = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 999999999, f.hash, f.hash, 1, "late", 0);
    assert_int_equal(put1(s, &late, &r), 0);
    assert_false(r.flags & SZ_PUT_CURRENT);
    assert_true(r.flags & SZ_PUT_CONFLICT);
    assert_int_equal(sz_store_get_record(s, f.hash, &rec), 0);
    assert_int_equal(rec->nheads, 2);
    assert_memory_equal(rec->current, m.hash, 32);
    assert_memory_equal(rec->heads[1], late.hash, 32);
    sz_store_record_free(rec);

    collect_t c = {0};
    assert_int_equal(sz_store_history(s, f.hash, collect_cb, &c), 0);
    assert_int_equal(c.n, 7);
    for (size_t i = 1; i < c.n; i++)
        assert_true(c.seq[i] > c.seq[i - 1]);

    env_t *all[] = {&f, &a1, &a2, &a3, &b, &m, &late};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]->buf);
    sz_store_close(s);
    /* Heads, conflicts and the current version pass the independent recomputation. */
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);
    rmtree(dir);
    free(dir);
}

static void test_idempotent_and_batch_order(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "f", 0);
    env_t a = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, f.hash, f.hash, 1, "a", 0);
    env_t b = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 2, f.hash, a.hash, 1, "b", 0);
    /* Children before parents, and a duplicate, in one batch. */
    const uint8_t *bufs[] = {b.buf, a.buf, f.buf, a.buf};
    size_t lens[] = {b.len, a.len, f.len, a.len};
    sz_put_result_t r[4];
    assert_int_equal(sz_store_put_batch(s, bufs, lens, 4, r), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(r[i].err, 0);
    /* The later copy of a may be stored first (its parent arrived in between): exactly one of
     * the two is the duplicate, both name the same log entry. */
    assert_true(((r[3].flags & SZ_PUT_EXISTED) != 0) != ((r[1].flags & SZ_PUT_EXISTED) != 0));
    assert_int_equal(r[3].seq, r[1].seq);
    assert_int_equal(nversions(s), 3);
    assert_true(r[2].seq < r[1].seq && r[1].seq < r[0].seq);
    /* Re-put: idempotent, same seq, nothing appended. */
    sz_put_result_t again;
    assert_int_equal(put1(s, &b, &again), 0);
    assert_true(again.flags & SZ_PUT_EXISTED);
    assert_int_equal(again.seq, r[0].seq);
    assert_memory_equal(again.record_id, f.hash, 32);
    assert_int_equal(nversions(s), 3);
    free(f.buf);
    free(a.buf);
    free(b.buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

static void test_refusals(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    sz_put_result_t r;
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "f", 0);
    env_t g = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "g", 0);
    assert_int_equal(put1(s, &f, &r), 0);
    assert_int_equal(put1(s, &g, &r), 0);
    uint64_t n0 = nversions(s);

    /* Dangling parent: refused, nothing stored. */
    uint8_t ghost[32];
    memset(ghost, 0x42, 32);
    env_t d = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, f.hash, ghost, 1, "d", 0);
    assert_int_equal(put1(s, &d, &r), SZ_E_PARENT_MISSING);
    uint8_t *buf;
    size_t len;
    assert_int_equal(sz_store_get_version(s, d.hash, &buf, &len), SZ_E_NOT_FOUND);
    /* A version built on the refused one is refused too. */
    env_t d2 = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 2, f.hash, d.hash, 1, "d2", 0);
    assert_int_equal(put1(s, &d2, &r), SZ_E_PARENT_MISSING);

    /* Record id of another record than the parent's. */
    env_t x = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, g.hash, f.hash, 1, "x", 0);
    assert_int_equal(put1(s, &x, &r), SZ_E_RECORD_ID);
    /* Parents from two records. */
    uint8_t two[64];
    int fg = memcmp(f.hash, g.hash, 32) < 0;
    memcpy(two, fg ? f.hash : g.hash, 32);
    memcpy(two + 32, fg ? g.hash : f.hash, 32);
    env_t y = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, f.hash, two, 2, "y", 0);
    assert_int_equal(put1(s, &y, &r), SZ_E_RECORD_ID);
    /* Record id that names no record (but a valid parent). */
    env_t z = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, ghost, f.hash, 1, "z", 0);
    assert_int_equal(put1(s, &z, &r), SZ_E_RECORD_ID);
    /* Another kind than the first version's. */
    env_t k = mk(sk_a, SZ_KIND_CASE, T0 + 1, f.hash, f.hash, 1, "k", 0);
    assert_int_equal(put1(s, &k, &r), SZ_E_KIND);
    /* Another author, no editor policy. */
    env_t e = mk(sk_b, SZ_KIND_TESTIMONY, T0 + 1, f.hash, f.hash, 1, "e", 0);
    assert_int_equal(put1(s, &e, &r), SZ_E_DENIED);

    /* Forged: a flipped signature bit and a flipped body byte. */
    env_t v = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 5, NULL, NULL, 0, "forged", 0);
    v.buf[v.len - 1] ^= 1;
    assert_int_equal(put1(s, &v, &r), SZ_E_SIGNATURE);
    v.buf[v.len - 1] ^= 1;
    v.buf[v.len - 80] ^= 1;
    assert_int_equal(put1(s, &v, &r), SZ_E_SIGNATURE);
    /* Truncated and garbage bytes. */
    assert_int_equal(put1(s, &(env_t){.buf = v.buf, .len = 10}, &r), SZ_E_TRUNCATED);
    uint8_t junk[200];
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(put1(s, &(env_t){.buf = junk, .len = sizeof(junk)}, &r), SZ_E_MAGIC);
    /* A body that is not valid for its schema. */
    {
        const char *body = "{\"title\":\"no statement\"}";
        sz_record_fields_t fl = {.kind = SZ_KIND_TESTIMONY,
                                 .created = T0,
                                 .body = (const uint8_t *)body,
                                 .body_len = (uint32_t)strlen(body)};
        env_t bad;
        assert_int_equal(sz_record_sign(&fl, sk_a, &bad.buf, &bad.len), 0);
        assert_int_equal(put1(s, &bad, &r), SZ_E_SCHEMA);
        free(bad.buf);
    }
    /* A sealed body is not schema checked, only its structure (SEALING.md section 7). */
    env_t sealed = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 9, NULL, NULL, 0, "sealed", SZ_FLAG_SEALED);
    assert_int_equal(put1(s, &sealed, &r), SZ_E_VERSION);
    {
        const char *plain = "{\"not\":\"a testimony\"}";
        uint8_t *body = NULL;
        size_t blen = 0;
        assert_int_equal(sz_seal((const uint8_t *)plain, strlen(plain), SZ_KIND_TESTIMONY,
                                 sk_a + 32, sk_b + 32, 1, &body, &blen),
                         0);
        sz_record_fields_t fs = {.kind = SZ_KIND_TESTIMONY,
                                 .flags = SZ_FLAG_SEALED,
                                 .created = T0 + 9,
                                 .body = body,
                                 .body_len = (uint32_t)blen};
        env_t ok;
        assert_int_equal(sz_record_sign(&fs, sk_a, &ok.buf, &ok.len), 0);
        assert_int_equal(put1(s, &ok, &r), 0);
        free(ok.buf);
        free(body);
    }
    assert_int_equal(nversions(s), n0 + 1);

    env_t *all[] = {&f, &g, &d, &d2, &x, &y, &z, &k, &e, &v, &sealed};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]->buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

static int editor_allows_b(void *arg, const uint8_t rid[32], const uint8_t first[32],
                           const uint8_t author[32]) {
    (void)rid;
    (void)first;
    (*(int *)arg)++;
    return memcmp(author, sk_b + 32, 32) == 0;
}

static void test_editor(void **state) {
    (void)state;
    char *dir = tmpdir();
    int calls = 0;
    sz_store_t *s = NULL;
    sz_store_options_t o = {.editor = editor_allows_b, .editor_arg = &calls};
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    env_t f = mk(sk_a, SZ_KIND_CASE, T0, NULL, NULL, 0, "f", 0);
    env_t e = mk(sk_b, SZ_KIND_CASE, T0 + 1, f.hash, f.hash, 1, "e", 0);
    env_t own = mk(sk_a, SZ_KIND_CASE, T0 + 2, f.hash, e.hash, 1, "own", 0);
    sz_put_result_t r;
    assert_int_equal(put1(s, &f, &r), 0);
    assert_int_equal(put1(s, &e, &r), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(put1(s, &own, &r), 0);
    assert_int_equal(calls, 1); /* the original author needs no policy */
    free(f.buf);
    free(e.buf);
    free(own.buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

/* ---- prefixes and the log ---- */

static void test_prefix_and_log(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    enum { N = 40 };
    env_t e[N];
    char hex[N][65];
    for (int i = 0; i < N; i++) {
        char t[16];
        snprintf(t, sizeof(t), "p%d", i);
        e[i] = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
        assert_int_equal(put1(s, &e[i], NULL), 0);
        sz_hex_encode(hex[i], e[i].hash, 32);
    }
    /* A version that is not a record id. */
    env_t v = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 100, e[0].hash, e[0].hash, 1, "v", 0);
    assert_int_equal(put1(s, &v, NULL), 0);
    char vhex[65];
    sz_hex_encode(vhex, v.hash, 32);

    uint8_t out[32];
    for (int i = 0; i < N; i++) {
        /* The shortest unique prefix among the record ids, computed here independently. */
        size_t need = 1;
        for (int j = 0; j < N; j++) {
            if (j == i)
                continue;
            size_t common = 0;
            while (common < 64 && hex[i][common] == hex[j][common])
                common++;
            if (common + 1 > need)
                need = common + 1;
        }
        char p[65];
        memcpy(p, hex[i], need);
        p[need] = '\0';
        assert_int_equal(sz_store_resolve(s, p, SZ_RESOLVE_RECORD, out), 0);
        assert_memory_equal(out, e[i].hash, 32);
        if (need > 1) {
            p[need - 1] = '\0';
            assert_int_equal(sz_store_resolve(s, p, SZ_RESOLVE_RECORD, out), SZ_E_AMBIGUOUS);
        }
        /* Uppercase works too. */
        for (int k = 0; k < 64; k++)
            p[k] = (char)(hex[i][k] >= 'a' ? hex[i][k] - 32 : hex[i][k]);
        p[64] = '\0';
        assert_int_equal(sz_store_resolve(s, p, SZ_RESOLVE_RECORD | SZ_RESOLVE_VERSION, out), 0);
        assert_memory_equal(out, e[i].hash, 32);
    }
    /* The version's full hash is a version, not a record. */
    assert_int_equal(sz_store_resolve(s, vhex, SZ_RESOLVE_RECORD, out), SZ_E_NOT_FOUND);
    assert_int_equal(sz_store_resolve(s, vhex, SZ_RESOLVE_VERSION, out), 0);
    assert_memory_equal(out, v.hash, 32);
    /* A prefix nothing has. */
    char none[65];
    memcpy(none, hex[0], 65);
    none[20] = none[20] == '0' ? '1' : '0';
    none[21] = '\0';
    assert_int_equal(sz_store_resolve(s, none, SZ_RESOLVE_VERSION | SZ_RESOLVE_RECORD, out),
                     SZ_E_NOT_FOUND);
    assert_int_equal(sz_store_resolve(s, "xyz", SZ_RESOLVE_RECORD, out), SZ_E_ARGUMENT);
    assert_int_equal(sz_store_resolve(s, "", SZ_RESOLVE_RECORD, out), SZ_E_ARGUMENT);
    /* 41 entries over 16 first digits: some first digit is shared. */
    int shared = -1;
    for (int i = 0; i < N && shared < 0; i++)
        for (int j = i + 1; j < N; j++)
            if (hex[i][0] == hex[j][0])
                shared = i;
    char one[2] = {hex[shared][0], 0};
    assert_int_equal(sz_store_resolve(s, one, SZ_RESOLVE_RECORD, out), SZ_E_AMBIGUOUS);

    /* The log, in pieces. */
    collect_t c = {0};
    uint64_t next = 0;
    assert_int_equal(sz_store_log(s, 0, 10, collect_cb, &c, &next), 0);
    assert_int_equal(c.n, 10);
    assert_int_equal(next, 10);
    assert_int_equal(sz_store_log(s, next, 0, collect_cb, &c, &next), 0);
    assert_int_equal(c.n, N + 1);
    assert_int_equal(next, N + 1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(c.seq[i], (uint64_t)i);
        assert_memory_equal(c.hash[i], e[i].hash, 32);
    }
    assert_memory_equal(c.hash[N], v.hash, 32);
    c.n = 0;
    assert_int_equal(sz_store_log(s, next, 0, collect_cb, &c, &next), 0);
    assert_int_equal(c.n, 0);
    assert_int_equal(next, N + 1);

    for (int i = 0; i < N; i++)
        free(e[i].buf);
    free(v.buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

/* ---- Merkle ---- */

/* MTH(D[a:b]) straight from RFC 6962, over leaf hashes, for comparison. */
static void ref_mth(uint8_t (*leaves)[32], uint64_t a, uint64_t b, uint8_t out[32]) {
    if (b - a == 1) {
        memcpy(out, leaves[a], 32);
        return;
    }
    uint64_t k = 1;
    while (k * 2 < b - a)
        k *= 2;
    uint8_t l[32], r[32];
    ref_mth(leaves, a, a + k, l);
    ref_mth(leaves, a + k, b, r);
    sz_merkle_node_hash(out, l, r);
}

static void test_merkle(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    enum { N = 37 };
    uint8_t leaves[N][32], roots[N + 1][32];
    sz_merkle_empty_root(roots[0]);
    uint8_t r0[32];
    assert_int_equal(sz_store_tree_root(s, 0, r0), 0);
    assert_memory_equal(r0, roots[0], 32);
    for (int i = 0; i < N; i++) {
        char t[16];
        snprintf(t, sizeof(t), "m%d", i);
        env_t e = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
        assert_int_equal(put1(s, &e, NULL), 0);
        sz_merkle_leaf_hash(leaves[i], e.hash, 32);
        free(e.buf);
        ref_mth(leaves, 0, (uint64_t)i + 1, roots[i + 1]);
        sz_store_stats_t st;
        assert_int_equal(sz_store_stats(s, &st), 0);
        assert_memory_equal(st.root, roots[i + 1], 32);
    }
    sz_store_close(s);
    s = open_store(dir);
    for (uint64_t n = 1; n <= N; n++) {
        uint8_t root[32];
        assert_int_equal(sz_store_tree_root(s, n, root), 0);
        assert_memory_equal(root, roots[n], 32);
        for (uint64_t m = 0; m < n; m++) {
            uint8_t proof[SZ_MERKLE_MAX_INCLUSION_LEN];
            size_t plen = 0;
            assert_int_equal(sz_store_inclusion_proof(s, m, n, proof, &plen), 0);
            assert_int_equal(sz_merkle_verify_inclusion(leaves[m], m, n, proof, plen, roots[n]), 0);
            /* The proof is bound to its leaf. */
            assert_int_equal(
                sz_merkle_verify_inclusion(leaves[(m + 1) % N], m, n, proof, plen, roots[n]),
                SZ_E_PROOF);
        }
        for (uint64_t m = 1; m <= n; m++) {
            uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
            size_t plen = 0;
            assert_int_equal(sz_store_consistency_proof(s, m, n, proof, &plen), 0);
            assert_int_equal(sz_merkle_verify_consistency(m, n, roots[m], roots[n], proof, plen),
                             0);
        }
    }
    uint8_t root[32];
    assert_int_equal(sz_store_tree_root(s, N + 1, root), SZ_E_ARGUMENT);
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    size_t plen;
    assert_int_equal(sz_store_inclusion_proof(s, N, N, proof, &plen), SZ_E_ARGUMENT);

    sz_tree_head_t th;
    assert_int_equal(sz_store_tree_head(s, sk_a, T0, &th), 0);
    assert_int_equal(th.size, N);
    assert_memory_equal(th.root, roots[N], 32);
    assert_memory_equal(th.node_key, sk_a + 32, 32);
    assert_int_equal(sz_tree_head_verify(&th), 0);
    th.root[0] ^= 1;
    assert_int_equal(sz_tree_head_verify(&th), SZ_E_SIGNATURE);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

/* ---- corrupt and foreign data folders ---- */

static int open_err(const char *dir, char *err, size_t len) {
    sz_store_t *s = NULL;
    err[0] = '\0';
    sz_store_options_t o = {.errbuf = err, .errlen = len};
    int rc = sz_store_open(&s, dir, &o);
    if (rc == 0)
        sz_store_close(s);
    return rc;
}

static void write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_open_bad_folder(void **state) {
    (void)state;
    char err[512];
    char path[512];
    char *dir = tmpdir();
    snprintf(path, sizeof(path), "%s/data.mdb", dir);

    /* Garbage. */
    char junk[8192];
    memset(junk, 'J', sizeof(junk));
    write_file(path, junk, sizeof(junk));
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_CORRUPT);
    assert_non_null(strstr(err, "not an LMDB"));
    /* Empty. */
    write_file(path, "", 0);
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_CORRUPT);
    assert_non_null(strstr(err, "truncated"));
    unlink(path);

    /* Truncated: a real archive cut short. */
    sz_store_t *s = open_store(dir);
    for (int i = 0; i < 200; i++) {
        char t[16];
        snprintf(t, sizeof(t), "t%d", i);
        env_t e = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
        assert_int_equal(put1(s, &e, NULL), 0);
        free(e.buf);
    }
    sz_store_close(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_CORRUPT);
    assert_non_null(strstr(err, "truncated"));
    rmtree(dir);
    free(dir);

    /* A foreign LMDB environment. */
    dir = tmpdir();
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    MDB_val k = {5, "hello"}, v = {5, "world"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_FORMAT);
    assert_non_null(strstr(err, "not a samizdat archive"));
    rmtree(dir);
    free(dir);

    /* Another program's "meta" database. */
    dir = tmpdir();
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 4), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", MDB_CREATE, &dbi), 0);
    MDB_val fk = {6, "format"}, fv = {7, "other-1"};
    assert_int_equal(mdb_put(txn, dbi, &fk, &fv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_FORMAT);
    rmtree(dir);
    free(dir);

    /* A newer format version of our own archive. */
    dir = tmpdir();
    s = open_store(dir);
    sz_store_close(s);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    uint8_t fmt[18];
    memcpy(fmt, "samizdat-store", 14);
    fmt[14] = 0;
    fmt[15] = 0;
    fmt[16] = 0;
    fmt[17] = SZ_STORE_FORMAT + 1;
    fv.mv_size = sizeof(fmt);
    fv.mv_data = fmt;
    assert_int_equal(mdb_put(txn, dbi, &fk, &fv, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    assert_int_equal(open_err(dir, err, sizeof(err)), SZ_E_FORMAT);
    assert_non_null(strstr(err, "newer"));
    rmtree(dir);
    free(dir);
}

/* ---- space ---- */

static void test_map_growth_and_group_commit(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = NULL;
    sz_store_options_t o = {.initial_map = 256 * 1024};
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    sz_store_stats_t st0, st1;
    assert_int_equal(sz_store_stats(s, &st0), 0);
    enum { N = 3000, B = 1000 };
    env_t *e = calloc(N, sizeof(*e));
    const uint8_t **bufs = calloc(B, sizeof(*bufs));
    size_t *lens = calloc(B, sizeof(*lens));
    sz_put_result_t *r = calloc(B, sizeof(*r));
    for (int i = 0; i < N; i++) {
        char t[16];
        snprintf(t, sizeof(t), "g%d", i);
        e[i] = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
    }
    for (int b = 0; b < N / B; b++) {
        for (int i = 0; i < B; i++) {
            bufs[i] = e[b * B + i].buf;
            lens[i] = e[b * B + i].len;
        }
        /* B records, one transaction, one commit. */
        assert_int_equal(sz_store_put_batch(s, bufs, lens, B, r), 0);
        for (int i = 0; i < B; i++) {
            assert_int_equal(r[i].err, 0);
            assert_int_equal(r[i].seq, (uint64_t)(b * B + i));
        }
    }
    assert_int_equal(sz_store_stats(s, &st1), 0);
    assert_int_equal(st1.versions, N);
    assert_true(st1.map_size > st0.map_size);
    sz_store_close(s);
    s = open_store(dir);
    for (int i = 0; i < N; i += 7) {
        uint8_t cur[32];
        assert_int_equal(sz_store_get_current(s, e[i].hash, cur, NULL), 0);
        assert_memory_equal(cur, e[i].hash, 32);
    }
    sz_store_close(s);
    for (int i = 0; i < N; i++)
        free(e[i].buf);
    free(e);
    free(bufs);
    free(lens);
    free(r);
    rmtree(dir);
    free(dir);
}

/* A map that may not grow past its maximum: a clean SZ_E_NO_SPACE, nothing half-stored. */
static void test_max_map(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = NULL;
    sz_store_options_t o = {.initial_map = 256 * 1024, .max_map = 2 * 1024 * 1024};
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    int full = 0;
    uint64_t stored = 0;
    for (int b = 0; b < 100 && !full; b++) {
        env_t e[20];
        const uint8_t *bufs[20];
        size_t lens[20];
        sz_put_result_t r[20];
        for (int i = 0; i < 20; i++) {
            char t[16];
            snprintf(t, sizeof(t), "mm%d", b * 20 + i);
            e[i] = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)(b * 20 + i), NULL, NULL, 0, t, 0);
            bufs[i] = e[i].buf;
            lens[i] = e[i].len;
        }
        int rc = sz_store_put_batch(s, bufs, lens, 20, r);
        if (rc == 0) {
            stored += 20;
        } else {
            assert_int_equal(rc, SZ_E_NO_SPACE);
            assert_int_equal(r[19].err, SZ_E_NO_SPACE);
            if (strstr(sz_store_errmsg(s), "maximum size") == NULL)
                fprintf(stderr, "errmsg: %s\n", sz_store_errmsg(s));
            assert_non_null(strstr(sz_store_errmsg(s), "maximum size"));
            full = 1;
        }
        for (int i = 0; i < 20; i++)
            free(e[i].buf);
    }
    assert_true(full);
    assert_true(stored > 0);
    assert_int_equal(nversions(s), stored);
    sz_store_close(s);
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);
    rmtree(dir);
    free(dir);
}

/* In a child, a file size limit makes the data file's writes fail with EFBIG, as a full disk
 * would: the batch must fail cleanly, earlier data must survive, and once the limit is raised
 * the next batch must succeed. */
static int full_disk_child(const char *dir) {
    sz_store_t *s = NULL;
    if (sz_store_open(&s, dir, NULL) != 0)
        return 10;
    enum { B = 400 };
    env_t e[2 * B];
    const uint8_t *bufs[B];
    size_t lens[B];
    sz_put_result_t r[B];
    for (int i = 0; i < 2 * B; i++) {
        char t[16];
        snprintf(t, sizeof(t), "fd%d", i);
        e[i] = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
    }
    for (int i = 0; i < 10; i++) {
        bufs[i] = e[i].buf;
        lens[i] = e[i].len;
    }
    if (sz_store_put_batch(s, bufs, lens, 10, r) != 0)
        return 11;
    char path[512];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    struct stat st;
    if (stat(path, &st) != 0)
        return 12;
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {(rlim_t)st.st_size + 8192, RLIM_INFINITY};
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        return 13;
    for (int i = 0; i < B; i++) {
        bufs[i] = e[B + i].buf;
        lens[i] = e[B + i].len;
    }
    int rc = sz_store_put_batch(s, bufs, lens, B, r);
    if (rc != SZ_E_NO_SPACE)
        return 14;
    if (r[0].err != SZ_E_NO_SPACE || strstr(sz_store_errmsg(s), "disk") == NULL) {
        fprintf(stderr, "full disk: err=%d msg=%s\n", r[0].err, sz_store_errmsg(s));
        return 15;
    }
    uint8_t *buf;
    size_t len;
    if (sz_store_get_version(s, e[B].hash, &buf, &len) != SZ_E_NOT_FOUND)
        return 16;
    for (int i = 0; i < 10; i++) {
        if (sz_store_get_version(s, e[i].hash, &buf, &len) != 0)
            return 17;
        free(buf);
    }
    lim.rlim_cur = RLIM_INFINITY;
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0)
        return 18;
    if (sz_store_put_batch(s, bufs, lens, B, r) != 0)
        return 19;
    sz_store_close(s);
    if (sz_store_open(&s, dir, NULL) != 0)
        return 20;
    sz_store_stats_t sst;
    if (sz_store_stats(s, &sst) != 0 || sst.versions != 10 + B)
        return 21;
    sz_store_close(s);
    for (int i = 0; i < 2 * B; i++)
        free(e[i].buf);
    return 0;
}

static void test_full_disk(void **state) {
    (void)state;
    char *dir = tmpdir();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(full_disk_child(dir));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* And the folder passes a full check afterwards. */
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);
    rmtree(dir);
    free(dir);
}

/* ---- readers during writes ---- */

typedef struct reader_arg_s {
    sz_store_t *s;
    uint8_t rid[32];
    atomic_int stop; /* shared by the reader threads and the writer: atomics, not volatile */
    atomic_long reads;
    atomic_int bad;
} reader_arg_t;

static void *reader_main(void *p) {
    reader_arg_t *a = p;
    while (!a->stop) {
        sz_store_record_t *r;
        if (sz_store_get_record(a->s, a->rid, &r) != 0) {
            a->bad++;
            continue;
        }
        sz_store_record_free(r);
        a->reads++;
    }
    return NULL;
}

static void test_readers_during_writes(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = NULL;
    sz_store_options_t o = {.initial_map = 256 * 1024}; /* forces remaps under the readers */
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "f", 0);
    assert_int_equal(put1(s, &f, NULL), 0);
    reader_arg_t a = {.s = s};
    memcpy(a.rid, f.hash, 32);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader_main, &a), 0);
    for (int i = 0; i < 300; i++) {
        char t[16];
        snprintf(t, sizeof(t), "w%d", i);
        env_t e = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
        assert_int_equal(put1(s, &e, NULL), 0);
        free(e.buf);
    }
    a.stop = 1;
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(a.bad, 0);
    free(f.buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

/* A thread's parked read transaction must not hide a later commit: one by this process's writer
 * (which resets parked readers) or one by another process (caught by the txnid comparison). */
static void test_reader_sees_commits(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    env_t f = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "f", 0);
    env_t a = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, f.hash, f.hash, 1, "a", 0);
    env_t b = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 2, f.hash, a.hash, 1, "b", 0);
    assert_int_equal(put1(s, &f, NULL), 0);
    uint8_t cur[32];
    assert_int_equal(sz_store_get_current(s, f.hash, cur, NULL), 0);
    assert_memory_equal(cur, f.hash, 32);
    assert_int_equal(put1(s, &a, NULL), 0);
    assert_int_equal(sz_store_get_current(s, f.hash, cur, NULL), 0);
    assert_memory_equal(cur, a.hash, 32);
    /* Another process appends b while this one's reader is parked. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sz_store_t *c = NULL;
        sz_put_result_t r;
        const uint8_t *buf = b.buf;
        if (sz_store_open(&c, dir, NULL) != 0 || sz_store_put_batch(c, &buf, &b.len, 1, &r) != 0 ||
            r.err != 0)
            _exit(1);
        sz_store_close(c);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(sz_store_get_current(s, f.hash, cur, NULL), 0);
    assert_memory_equal(cur, b.hash, 32);
    free(f.buf);
    free(a.buf);
    free(b.buf);
    sz_store_close(s);
    rmtree(dir);
    free(dir);
}

/* ---- indexes, full text, maintenance ---- */

static void test_list_search_check_backup(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    env_t t1 = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "zebras and tractors", 0);
    env_t t2 = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, NULL, NULL, 0, "tractors only", 0);
    env_t c1 = mk(sk_a, SZ_KIND_CASE, T0 + 2, NULL, NULL, 0, "zebras", 0);
    assert_int_equal(put1(s, &t1, NULL), 0);
    assert_int_equal(put1(s, &t2, NULL), 0);
    assert_int_equal(put1(s, &c1, NULL), 0);
    /* Amend t2 so it no longer mentions tractors. */
    env_t t2b = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 3, t2.hash, t2.hash, 1, "giraffes", 0);
    assert_int_equal(put1(s, &t2b, NULL), 0);

    sz_query_t q = {.kind = SZ_KIND_TESTIMONY, .limit = 10};
    uint8_t ids[10][32];
    size_t n = 0;
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    assert_int_equal(sz_store_list(s, &q, ids, &n, next), 0);
    assert_int_equal(n, 2);

    uint64_t done = 0;
    assert_int_equal(sz_store_fts_catchup(s, 0, &done), 0);
    assert_int_equal(done, 4);
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(s, &st), 0);
    assert_int_equal(st.fts_seq, 4);
    sz_search_hit_t hits[10];
    assert_int_equal(sz_store_search(s, "tractors", hits, 10, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(hits[0].record_id, t1.hash, 32);
    assert_int_equal(sz_store_search(s, "zebras", hits, 10, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sz_store_search(s, "giraffes", hits, 10, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(hits[0].record_id, t2.hash, 32);
    /* Nothing more to do. */
    assert_int_equal(sz_store_fts_catchup(s, 0, &done), 0);
    assert_int_equal(done, 0);
    sz_store_close(s);

    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);

    char out[600];
    snprintf(out, sizeof(out), "%s/backup", dir);
    mode_t old_mask = umask(022);
    assert_int_equal(sz_maint_backup(dir, out, NULL, 0), 0);
    umask(old_mask);
    /* A backup holds the whole archive: only its owner may read it, whatever the umask. */
    char copy[700];
    snprintf(copy, sizeof(copy), "%s/data.mdb", out);
    struct stat mode_st;
    assert_int_equal(stat(copy, &mode_st), 0);
    assert_int_equal(mode_st.st_mode & 0777, 0600);
    /* Refuses to overwrite. */
    assert_int_equal(sz_maint_backup(dir, out, NULL, 0), SZ_E_EXISTS);
    s = open_store(out);
    uint8_t cur[32];
    assert_int_equal(sz_store_get_current(s, t2.hash, cur, NULL), 0);
    assert_memory_equal(cur, t2b.hash, 32);
    sz_store_close(s);
    problems = 99;
    assert_int_equal(sz_maint_check(out, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);

    free(t1.buf);
    free(t2.buf);
    free(c1.buf);
    free(t2b.buf);
    rmtree(dir);
    free(dir);
}

typedef struct lines_s {
    int n;
    char first[512];
} lines_t;

static void line_cb(void *arg, const char *line) {
    lines_t *l = arg;
    if (l->n++ == 0)
        snprintf(l->first, sizeof(l->first), "%s", line);
}

/* Tampering behind the store's back is found by the check. */
static void test_check_finds_tampering(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    env_t e[5];
    for (int i = 0; i < 5; i++) {
        char t[16];
        snprintf(t, sizeof(t), "c%d", i);
        e[i] = mk(sk_a, SZ_KIND_TESTIMONY, T0 + (uint64_t)i, NULL, NULL, 0, t, 0);
        assert_int_equal(put1(s, &e[i], NULL), 0);
    }
    sz_store_close(s);
    /* Rewrite log entry 2 with another valid envelope, as a forger with write access might. */
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "log", 0, &dbi), 0);
    env_t x = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 77, NULL, NULL, 0, "rewritten", 0);
    uint8_t k8[8] = {0, 0, 0, 0, 0, 0, 0, 2};
    MDB_val k = {8, k8}, v = {x.len, x.buf};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    lines_t l = {0};
    size_t problems = 0;
    assert_int_equal(sz_maint_check(dir, line_cb, &l, &problems), 0);
    assert_true(problems > 0);
    assert_int_equal(l.n, (int)problems);
    assert_non_null(strstr(l.first, "problem="));
    for (int i = 0; i < 5; i++)
        free(e[i].buf);
    free(x.buf);
    rmtree(dir);
    free(dir);
}

typedef struct alllines_s {
    char text[8192];
    size_t len;
} alllines_t;

static void all_cb(void *arg, const char *line) {
    alllines_t *l = arg;
    int n = snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s\n", line);
    if (n > 0 && l->len + (size_t)n < sizeof(l->text))
        l->len += (size_t)n;
}

/* Rewrites the byhash value under key with f applied to a copy of it. */
static void tamper_byhash(const char *dir, const uint8_t *key,
                          void (*f)(MDB_val *v, uint8_t *buf)) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "byhash", 0, &dbi), 0);
    MDB_val k = {32, (void *)key}, v;
    assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
    uint8_t buf[256];
    assert_true(v.mv_size <= 128);
    memcpy(buf, v.mv_data, v.mv_size);
    v.mv_data = buf;
    f(&v, buf);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void grow_to_record_entry(MDB_val *v, uint8_t *buf) {
    memset(buf + v->mv_size, 0, 80); /* a later version's value given a record entry */
    v->mv_size += 80;
}

static void count_nine_versions(MDB_val *v, uint8_t *buf) {
    assert_int_equal(v->mv_size, 112);
    buf[32 + 68 + 3] = 9; /* nversions, big-endian u32 after the 32 byhash bytes */
}

/* A store with an amended record (its entry stored after the first version's byhash value) and a
 * single-version one (its entry implied), for the tampering below. */
static char *amended_store(env_t *a, env_t *b, env_t *c) {
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir);
    *a = mk(sk_a, SZ_KIND_TESTIMONY, T0, NULL, NULL, 0, "entry", 0);
    *b = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 1, a->hash, a->hash, 1, "entry v2", 0);
    *c = mk(sk_a, SZ_KIND_TESTIMONY, T0 + 2, NULL, NULL, 0, "single", 0);
    assert_int_equal(put1(s, a, NULL), 0);
    assert_int_equal(put1(s, b, NULL), 0);
    assert_int_equal(put1(s, c, NULL), 0);
    sz_store_close(s);
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);
    return dir;
}

/* Format 2 keeps record entries in byhash: a later version holding one, and an entry whose counts
 * disagree with the versions, are both reported by the check. */
static void test_check_finds_bad_record_entries(void **state) {
    (void)state;
    env_t a, b, c;
    void (*tampers[2])(MDB_val *, uint8_t *) = {grow_to_record_entry, count_nine_versions};
    const char *expect[2] = {"record entry on a later version", "problem="};
    for (int i = 0; i < 2; i++) {
        char *dir = amended_store(&a, &b, &c);
        tamper_byhash(dir, i == 0 ? b.hash : a.hash, tampers[i]);
        alllines_t l = {0};
        size_t problems = 0;
        assert_int_equal(sz_maint_check(dir, all_cb, &l, &problems), 0);
        assert_true(problems > 0);
        assert_non_null(strstr(l.text, expect[i]));
        rmtree(dir);
        free(dir);
        free(a.buf);
        free(b.buf);
        free(c.buf);
    }
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t pk[32];
    crypto_sign_keypair(pk, sk_a);
    crypto_sign_keypair(pk, sk_b);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_current_rule),
        cmocka_unit_test(test_idempotent_and_batch_order),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_editor),
        cmocka_unit_test(test_prefix_and_log),
        cmocka_unit_test(test_merkle),
        cmocka_unit_test(test_open_bad_folder),
        cmocka_unit_test(test_map_growth_and_group_commit),
        cmocka_unit_test(test_max_map),
        cmocka_unit_test(test_full_disk),
        cmocka_unit_test(test_readers_during_writes),
        cmocka_unit_test(test_reader_sees_commits),
        cmocka_unit_test(test_list_search_check_backup),
        cmocka_unit_test(test_check_finds_tampering),
        cmocka_unit_test(test_check_finds_bad_record_entries),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
