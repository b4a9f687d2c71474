/* Full-text field extraction (daemon/fts.c) reads well-formed bodies with the zero-allocation
 * scanner and everything else through jansson. These cases pin that both routes index the same
 * words: escapes in values and keys, \u sequences that decode to Cyrillic, wrong types, arrays
 * with odd items, numbers only jansson reads, and bodies that must be refused (SZ_E_JSON). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "error.h"
#include "fts.h"
#include "record.h"

typedef struct env_s {
    char dir[64];
    MDB_env *env;
    sz_fts_t *fts;
} env_t;

static int setup(void **state) {
    env_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->dir, "/tmp/sz_test_fts_scan_XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    assert_int_equal(mdb_env_create(&e->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(e->env, SZ_FTS_DBS), 0);
    assert_int_equal(mdb_env_set_mapsize(e->env, (size_t)1 << 28), 0);
    assert_int_equal(mdb_env_open(e->env, e->dir, MDB_NOSYNC, 0600), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
    assert_int_equal(sz_fts_open(&e->fts, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    *state = e;
    return 0;
}

static int teardown(void **state) {
    env_t *e = *state;
    sz_fts_close(e->fts);
    mdb_env_close(e->env);
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", e->dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", e->dir);
    unlink(p);
    rmdir(e->dir);
    free(e);
    return 0;
}

typedef struct {
    unsigned kind;
    const char *body;
    int rc;           /* what sz_fts_set returns */
    const char *hit;  /* a query that must find the document, or NULL */
    const char *miss; /* a query that must not, or NULL */
} case_t;

static const case_t cases[] = {
    {SZ_KIND_TESTIMONY, "{\"title\":\"plain words here\"}", 0, "plain words", "absent"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"\\u0416\\u0443\\u043a beetle\"}", 0, "жук", NULL},
    {SZ_KIND_TESTIMONY, "{\"title\":\"line\\nbreak \\\"quoted\\\" tab\\tstop\"}", 0,
     "\"line break quoted tab stop\"", NULL},
    {SZ_KIND_TESTIMONY, "{\"\\u0074itle\":\"escaped key\"}", 0, "escaped key", NULL},
    {SZ_KIND_TESTIMONY,
     "{\"statement\":{\"text\":\"main story\",\"translations\":[7,{\"text\":\"first\"},"
     "{\"text\":[\"no\"]},{\"language\":\"en\"},{\"text\":\"sec\\u006fnd\"}]}}",
     0, "main first second", "no"},
    {SZ_KIND_TESTIMONY, "{\"title\":7,\"statement\":[\"array\"],\"summary\":\"ignored\"}", 0, NULL,
     "ignored"},
    {SZ_KIND_CASE,
     "{\"title\":\"case title\",\"summary\":\"case summary\","
     "\"statement\":{\"text\":\"notcase\"}}",
     0, "title summary", "notcase"},
    {SZ_KIND_TESTIMONY, "{\"n\":1234567890123456789,\"title\":\"bignumber\"}", 0, "bignumber",
     NULL},
    {SZ_KIND_TESTIMONY, "{\"n\":[1.5e3,-0,true,null],\"title\":\"numbers \\ud83d\\ude00 ok\"}", 0,
     "numbers ok", NULL},
    {SZ_KIND_TESTIMONY, "  [\"top array\"]  ", 0, NULL, "top"},
    {SZ_KIND_TESTIMONY, "\"bare string\"", SZ_E_JSON, NULL, "bare"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"dup\",\"\\u0074itle\":\"dup2\"}", SZ_E_JSON, NULL, "dup2"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"nul\\u0000byte\"}", SZ_E_JSON, NULL, "byte"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"lone \\ud800 surrogate\"}", SZ_E_JSON, NULL, "surrogate"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"trailing\"} x", SZ_E_JSON, NULL, "trailing"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"bad\xc0\xaf utf8\"}", SZ_E_JSON, NULL, "utf8"},
    {SZ_KIND_TESTIMONY, "{\"title\":\"ctrl\x01char\"}", SZ_E_JSON, NULL, "ctrl"},
    {SZ_KIND_TESTIMONY, "{\"n\":01,\"title\":\"leading zero\"}", SZ_E_JSON, NULL, "leading"},
    {SZ_KIND_TESTIMONY, "{\"n\":1e999,\"title\":\"overflow\"}", SZ_E_JSON, NULL, "overflow"},
};

static void test_extraction(void **state) {
    env_t *e = *state;
    size_t n = sizeof(cases) / sizeof(cases[0]);
    for (size_t i = 0; i < n; i++) {
        MDB_txn *txn;
        assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
        uint64_t docno = 100 + i;
        int rc = sz_fts_set(e->fts, txn, docno, cases[i].kind, (const uint8_t *)cases[i].body,
                            strlen(cases[i].body));
        if (rc != cases[i].rc)
            fail_msg("case %zu: sz_fts_set %s, want %s", i, sz_errname(rc),
                     sz_errname(cases[i].rc));
        assert_int_equal(mdb_txn_commit(txn), 0);
        /* Each case runs once pending and once merged. */
        for (int merged = 0; merged < 2; merged++) {
            assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
            if (merged)
                assert_int_equal(sz_fts_flush(e->fts, txn), 0);
            sz_fts_hit_t hits[64];
            size_t nh = 0;
            const char *q[2] = {cases[i].hit, cases[i].miss};
            for (int k = 0; k < 2; k++) {
                if (q[k] == NULL)
                    continue;
                assert_int_equal(sz_fts_search(e->fts, txn, q[k], hits, 64, &nh), 0);
                int seen = 0;
                for (size_t h = 0; h < nh; h++)
                    seen |= hits[h].docno == docno;
                if (seen != (k == 0))
                    fail_msg("case %zu (%s): query %s %s", i, merged ? "merged" : "pending", q[k],
                             k == 0 ? "missed" : "matched");
            }
            assert_int_equal(mdb_txn_commit(txn), 0);
        }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extraction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
