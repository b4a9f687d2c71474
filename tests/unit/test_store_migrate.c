/* Tests for the store's format-1 to format-2 migration (daemon/STORE.md, "Format versions"), on a
 * store the format-1 code wrote (tests/fixtures/store-v1, made by make_fixture.c there): every
 * record reads back as expected.txt says, check finds nothing, the Merkle root is unchanged, writes
 * go on, and a format-1 store that cannot be migrated is refused and left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "encoding.h"
#include "error.h"
#include "maint.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_HEADS 4

typedef struct expected_s {
    uint8_t id[32];
    int err; /* the get's error, or 0 */
    uint64_t recno;
    uint8_t current[32];
    uint32_t generation, nversions;
    size_t nheads;
    uint8_t heads[MAX_HEADS][32];
} expected_t;

static expected_t want[64];
static size_t nwant;
static uint64_t want_versions, want_records;
static uint8_t want_root[32];

static void unhex(const char *text, uint8_t out[32]) {
    assert_int_equal(strlen(text), 64);
    for (int i = 0; i < 32; i++) {
        unsigned x;
        assert_int_equal(sscanf(text + 2 * i, "%2x", &x), 1);
        out[i] = (uint8_t)x;
    }
}

static const char *fixture_dir(void) {
    static char dir[1024];
    const char *src = getenv("SZ_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/tests/fixtures/store-v1", src ? src : "..");
    return dir;
}

/* Parses expected.txt: "record ID recno N current H generation G versions V heads K H1..HK",
 * "record ID err E" and "stats versions V records R root H". */
static void load_expected(void) {
    char path[1100], line[1024];
    snprintf(path, sizeof path, "%s/expected.txt", fixture_dir());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    nwant = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        char a[65], b[65];
        expected_t *e = &want[nwant];
        unsigned long long recno;
        unsigned gen, nv;
        size_t nh;
        int used = 0, err;
        if (sscanf(line, "record %64s err %d", a, &err) == 2) {
            memset(e, 0, sizeof *e);
            unhex(a, e->id);
            e->err = err;
            nwant++;
        } else if (sscanf(line,
                          "record %64s recno %llu current %64s generation %u versions %u "
                          "heads %zu%n",
                          a, &recno, b, &gen, &nv, &nh, &used) == 6) {
            memset(e, 0, sizeof *e);
            unhex(a, e->id);
            unhex(b, e->current);
            e->recno = recno;
            e->generation = gen;
            e->nversions = nv;
            assert_true(nh >= 1 && nh <= MAX_HEADS);
            e->nheads = nh;
            const char *p = line + used;
            for (size_t i = 0; i < nh; i++) {
                assert_int_equal(sscanf(p, " %64s%n", a, &used), 1);
                unhex(a, e->heads[i]);
                p += used;
            }
            nwant++;
        } else {
            unsigned long long v, r;
            assert_int_equal(sscanf(line, "stats versions %llu records %llu root %64s", &v, &r, a),
                             3);
            want_versions = v;
            want_records = r;
            unhex(a, want_root);
        }
        assert_true(nwant < sizeof want / sizeof want[0]);
    }
    fclose(f);
    assert_true(nwant > 20);
    assert_true(want_versions > 0);
}

/* A fresh folder holding a copy of the fixture's data.mdb. */
static char *copy_fixture(void) {
    char tmpl[] = "/tmp/sz-test-migrate-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    dir = strdup(dir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp '%s/data.mdb' '%s/data.mdb'", fixture_dir(), dir);
    assert_int_equal(system(cmd), 0);
    return dir;
}

static void rmtree(char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* The format number in the folder's meta database, and whether "records" still exists. */
static uint32_t raw_format(const char *dir, int *has_records) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta, rec;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k = {6, "format"}, v;
    assert_int_equal(mdb_get(txn, meta, &k, &v), 0);
    assert_int_equal(v.mv_size, 18);
    const uint8_t *p = v.mv_data;
    uint32_t fmt = (uint32_t)p[14] << 24 | (uint32_t)p[15] << 16 | (uint32_t)p[16] << 8 | p[17];
    *has_records = mdb_dbi_open(txn, "records", 0, &rec) == 0;
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return fmt;
}

static void expect_records(sz_store_t *s) {
    for (size_t i = 0; i < nwant; i++) {
        const expected_t *e = &want[i];
        sz_store_record_t *r = NULL;
        int rc = sz_store_get_record(s, e->id, &r);
        if (e->err != 0) {
            assert_int_equal(rc, e->err);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(r->recno, e->recno);
        assert_memory_equal(r->current, e->current, 32);
        assert_int_equal(r->generation, e->generation);
        assert_int_equal(r->nversions, e->nversions);
        assert_int_equal(r->nheads, e->nheads);
        for (size_t h = 0; h < e->nheads; h++)
            assert_memory_equal(r->heads[h], e->heads[h], 32);
        sz_store_record_free(r);
        uint8_t cur[32];
        assert_int_equal(sz_store_get_current(s, e->id, cur, NULL), 0);
        assert_memory_equal(cur, e->current, 32);
    }
}

static size_t check_problems(const char *dir) {
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    return problems;
}

static int count_cb(void *arg, const sz_version_info_t *v) {
    (void)v;
    (*(size_t *)arg)++;
    return 0;
}

static uint8_t sk_a[64];

static void test_migrates_format_1(void **state) {
    (void)state;
    load_expected();
    char *dir = copy_fixture();
    int has_records = 0;
    assert_int_equal(raw_format(dir, &has_records), 1);
    assert_true(has_records);

    sz_store_t *s = NULL;
    char err[512] = "";
    sz_store_options_t o = {.errbuf = err, .errlen = sizeof err};
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    assert_int_equal(sz_store_migrated_from(s), 1);
    expect_records(s);
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(s, &st), 0);
    assert_int_equal(st.versions, want_versions);
    assert_int_equal(st.records, want_records);
    assert_memory_equal(st.root, want_root, 32);
    /* Ids still resolve from a prefix, as records, and the history walks every version. */
    char hex[65], prefix[13];
    sz_hex_encode(hex, want[0].id, 32);
    memcpy(prefix, hex, 12);
    prefix[12] = '\0';
    uint8_t got[32];
    assert_int_equal(sz_store_resolve(s, prefix, SZ_RESOLVE_RECORD, got), 0);
    assert_memory_equal(got, want[0].id, 32);
    sz_hex_encode(hex, want[0].current, 32);
    memcpy(prefix, hex, 12);
    /* A later version's hash is no record id. */
    assert_int_equal(sz_store_resolve(s, prefix, SZ_RESOLVE_RECORD, got), SZ_E_NOT_FOUND);
    size_t n = 0;
    assert_int_equal(sz_store_history(s, want[0].id, count_cb, &n), 0);
    assert_int_equal(n, want[0].nversions);

    /* Writes go on: amend a migrated single-version record, and add a new one. */
    const expected_t *single = NULL;
    for (size_t i = 0; i < nwant && single == NULL; i++)
        if (want[i].err == 0 && want[i].nversions == 1 && want[i].recno < 25)
            single = &want[i];
    assert_non_null(single);
    const char *body = "{\"title\":\"Amended after migration\",\"statement\":{\"text\":\"The "
                       "witness adds a date\",\"language\":\"en\"},\"witness\":{\"role\":"
                       "\"conscript\"},\"consent\":{\"scope\":\"archive-only\"},"
                       "\"act_types\":[\"desertion\"]}";
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = 1764000900000ull,
                            .record_id = single->id,
                            .parents = single->id,
                            .nparents = 1,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)strlen(body)};
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(sz_record_sign(&f, sk_a, &env, &len), 0);
    const uint8_t *e1 = env;
    sz_put_result_t res;
    assert_int_equal(sz_store_put_batch(s, &e1, &len, 1, &res), 0);
    assert_int_equal(res.err, 0);
    assert_true(res.flags & SZ_PUT_CURRENT);
    free(env);
    f.record_id = NULL;
    f.parents = NULL;
    f.nparents = 0;
    assert_int_equal(sz_record_sign(&f, sk_a, &env, &len), 0);
    e1 = env;
    assert_int_equal(sz_store_put_batch(s, &e1, &len, 1, &res), 0);
    assert_int_equal(res.err, 0);
    assert_true(res.flags & SZ_PUT_NEW_RECORD);
    uint8_t new_id[32];
    memcpy(new_id, res.record_id, 32);
    free(env);
    sz_store_record_t *r = NULL;
    assert_int_equal(sz_store_get_record(s, single->id, &r), 0);
    assert_int_equal(r->nversions, 2);
    assert_int_equal(r->generation, 1);
    sz_store_record_free(r);
    sz_store_close(s);

    /* Reopening finds format 2: nothing is migrated twice, and everything still checks. */
    assert_int_equal(raw_format(dir, &has_records), SZ_STORE_FORMAT);
    assert_false(has_records);
    assert_int_equal(sz_store_open(&s, dir, NULL), 0);
    assert_int_equal(sz_store_migrated_from(s), 0);
    assert_int_equal(sz_store_stats(s, &st), 0);
    assert_int_equal(st.versions, want_versions + 2);
    assert_int_equal(st.records, want_records + 1);
    assert_int_equal(sz_store_get_record(s, new_id, &r), 0);
    assert_int_equal(r->nversions, 1);
    sz_store_record_free(r);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    rmtree(dir);
}

/* A format-1 store whose record entry names a first version that is not stored cannot be
 * migrated: the open fails with a sentence, and the folder stays a format-1 store. */
static void test_refuses_broken_format_1(void **state) {
    (void)state;
    load_expected();
    char *dir = copy_fixture();
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi byhash;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "byhash", 0, &byhash), 0);
    MDB_val k = {32, want[3].id};
    assert_int_equal(mdb_del(txn, byhash, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    sz_store_t *s = NULL;
    char err[512] = "";
    sz_store_options_t o = {.errbuf = err, .errlen = sizeof err};
    assert_int_equal(sz_store_open(&s, dir, &o), SZ_E_CORRUPT);
    assert_null(s);
    assert_non_null(strstr(err, "cannot migrate"));
    assert_non_null(strstr(err, "unchanged"));
    int has_records = 0;
    assert_int_equal(raw_format(dir, &has_records), 1);
    assert_true(has_records);
    rmtree(dir);
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t seed[32], pk[32];
    memset(seed, 'a', 32); /* author A of the fixture (make_fixture.c) */
    crypto_sign_seed_keypair(pk, sk_a, seed);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrates_format_1),
        cmocka_unit_test(test_refuses_broken_format_1),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
