/* Tests for full-text search (daemon/fts.h) on real LMDB environments in temporary folders:
 * Russian, Ukrainian and English text, AND and phrase semantics, BM25 order, replace and delete
 * (pending and merged), malformed bodies and queries, the per-document cap, and a randomized
 * comparison against a brute-force model across merges, out-of-order docnos and deletes. */
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
    MDB_txn *txn; /* the open write transaction, if any */
} env_t;

static void rm_dir(const char *dir) {
    char p[128];
    snprintf(p, sizeof(p), "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static int setup(void **state) {
    env_t *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    strcpy(e->dir, "/tmp/sz_test_fts_XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    assert_int_equal(mdb_env_create(&e->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(e->env, SZ_FTS_DBS), 0);
    assert_int_equal(mdb_env_set_mapsize(e->env, (size_t)1 << 30), 0);
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
    if (e->txn != NULL)
        mdb_txn_abort(e->txn);
    sz_fts_close(e->fts);
    mdb_env_close(e->env);
    rm_dir(e->dir);
    free(e);
    return 0;
}

static MDB_txn *wtxn(env_t *e) {
    if (e->txn == NULL)
        assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &e->txn), 0);
    return e->txn;
}

static void commit(env_t *e) {
    if (e->txn != NULL)
        assert_int_equal(mdb_txn_commit(e->txn), 0);
    e->txn = NULL;
}

static void set_testimony(env_t *e, uint64_t docno, const char *title, const char *text) {
    char *body = malloc(strlen(title) + strlen(text) + 128);
    assert_non_null(body);
    sprintf(body, "{\"title\":\"%s\",\"statement\":{\"text\":\"%s\",\"language\":\"ru\"}}", title,
            text);
    assert_int_equal(
        sz_fts_set(e->fts, wtxn(e), docno, SZ_KIND_TESTIMONY, (const uint8_t *)body, strlen(body)),
        0);
    free(body);
}

static void set_body(env_t *e, uint64_t docno, unsigned kind, const char *body) {
    assert_int_equal(sz_fts_set(e->fts, wtxn(e), docno, kind, (const uint8_t *)body, strlen(body)),
                     0);
}

/* Runs query in a read transaction (or the open write one) and returns the hit count. */
static int search(env_t *e, const char *query, sz_fts_hit_t *hits, size_t max, size_t *n) {
    MDB_txn *txn = e->txn;
    if (txn == NULL)
        assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    int rc = sz_fts_search(e->fts, txn, query, hits, max, n);
    if (txn != e->txn)
        mdb_txn_abort(txn);
    return rc;
}

/* Returns the docnos that match query, in rank order, as "1,5,3". */
static const char *found(env_t *e, const char *query) {
    static char out[4096];
    sz_fts_hit_t hits[256];
    size_t n = 99;
    assert_int_equal(search(e, query, hits, 256, &n), 0);
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            assert_true(hits[i - 1].score >= hits[i].score);
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%llu", i ? "," : "",
                                (unsigned long long)hits[i].docno);
    }
    return out;
}

/* Same, sorted by docno, for set comparisons. */
static const char *found_set(env_t *e, const char *query) {
    sz_fts_hit_t hits[256];
    size_t n = 0;
    assert_int_equal(search(e, query, hits, 256, &n), 0);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && hits[j - 1].docno > hits[j].docno; j--) {
            sz_fts_hit_t t = hits[j];
            hits[j] = hits[j - 1];
            hits[j - 1] = t;
        }
    static char out[4096];
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%llu", i ? "," : "",
                                (unsigned long long)hits[i].docno);
    return out;
}

static void flush(env_t *e) {
    assert_int_equal(sz_fts_flush(e->fts, wtxn(e)), 0);
    commit(e);
}

static void add_sample(env_t *e) {
    set_testimony(e, 1, "Показания солдата", "СОЛДАТ отказался стрелять в мирных жителей.");
    set_testimony(e, 2, "Свідчення", "ДЕЗЕРТИРСТВО з частини. Він п’ять днів ховався.");
    set_testimony(e, 3, "Refusal", "The soldier refused to shoot; he didn't obey the order.");
    set_testimony(e, 4, "Приказ", "Стрелять он отказался, солдат был арестован.");
    set_body(
        e, 5, SZ_KIND_CASE,
        "{\"title\":\"Дело о дезертирстве\",\"summary\":\"Солдат дезертирство, мобилизация\"}");
    commit(e);
}

/* Every test runs twice over the same data: documents still pending, then merged. */
static void both_states(env_t *e, void (*check)(env_t *)) {
    check(e);
    flush(e);
    check(e);
}

static void check_languages(env_t *e) {
    assert_string_equal(found_set(e, "солдат"), "1,4,5");
    assert_string_equal(found_set(e, "Солдат"), "1,4,5");
    assert_string_equal(found_set(e, "СОЛДАТ"), "1,4,5");
    assert_string_equal(found_set(e, "дезертирство"), "2,5");
    assert_string_equal(found_set(e, "ДЕЗЕРТИРСТВО"), "2,5");
    assert_string_equal(found_set(e, "п'ять"), "2");
    assert_string_equal(found_set(e, "пʼять"), "2");
    assert_string_equal(found_set(e, "SOLDIER"), "3");
    assert_string_equal(found_set(e, "didn’t"), "3");
    assert_string_equal(found_set(e, "показания"), "1");
    assert_string_equal(found_set(e, "мобилизация"), "5");
    assert_string_equal(found_set(e, "nonexistent"), "");
}

static void test_languages(void **state) {
    env_t *e = *state;
    add_sample(e);
    both_states(e, check_languages);
}

static void check_and_phrase(env_t *e) {
    assert_string_equal(found_set(e, "солдат отказался"), "1,4");
    assert_string_equal(found_set(e, "отказался стрелять"), "1,4");
    assert_string_equal(found_set(e, "\"отказался стрелять\""), "1");
    assert_string_equal(found_set(e, "\"стрелять он отказался\""), "4");
    assert_string_equal(found_set(e, "\"СОЛДАТ ОТКАЗАЛСЯ\" мирных"), "1");
    assert_string_equal(found_set(e, "\"солдат отказался\" арестован"), "");
    assert_string_equal(found_set(e, "солдат nonexistent"), "");
    /* A phrase does not run across fields: title "Показания солдата" ends, text begins. */
    assert_string_equal(found_set(e, "\"солдата солдат\""), "");
    assert_string_equal(found_set(e, "солдата солдат"), "1");
    /* An unbalanced quote runs to the end; a one-word phrase is a plain word. */
    assert_string_equal(found_set(e, "мирных \"отказался стрелять"), "1");
    assert_string_equal(found_set(e, "\"солдат\""), "1,4,5");
    assert_string_equal(found_set(e, "\"refused to shoot\""), "3");
    assert_string_equal(found_set(e, "\"to refused\""), "");
}

static void test_and_phrase(void **state) {
    env_t *e = *state;
    add_sample(e);
    both_states(e, check_and_phrase);
}

static void check_ranking(env_t *e) {
    /* 10 mentions in a short text beat 3 in a longer one, which beat 1 in a long one. */
    assert_string_equal(found(e, "дезертир"), "10,12,11");
}

static void test_ranking(void **state) {
    env_t *e = *state;
    char text[8192];
    strcpy(text, "дезертир");
    for (int i = 0; i < 9; i++)
        strcat(text, " дезертир");
    strcat(text, " бежал");
    set_testimony(e, 10, "a", text);
    strcpy(text, "дезертир");
    for (int i = 0; i < 200; i++)
        strcat(text, " слово");
    set_testimony(e, 11, "b", text);
    strcpy(text, "дезертир дезертир дезертир");
    for (int i = 0; i < 100; i++)
        strcat(text, " слово");
    set_testimony(e, 12, "c", text);
    for (uint64_t d = 20; d < 40; d++)
        set_testimony(e, d, "filler", "слово другое");
    commit(e);
    both_states(e, check_ranking);
    /* A shorter document with the same count ranks higher, and ties go to the newer docno. */
    set_testimony(e, 50, "x", "побег побег слово слово слово слово слово слово");
    set_testimony(e, 51, "x", "побег побег");
    set_testimony(e, 52, "x", "побег побег");
    commit(e);
    assert_string_equal(found(e, "побег"), "52,51,50");
    flush(e);
    assert_string_equal(found(e, "побег"), "52,51,50");
}

static void test_replace_delete(void **state) {
    env_t *e = *state;
    add_sample(e);
    /* Replace while pending. */
    set_testimony(e, 1, "Новый", "Совсем другой текст про мобилизацию");
    commit(e);
    assert_string_equal(found_set(e, "солдат"), "4,5");
    assert_string_equal(found_set(e, "мобилизацию"), "1");
    flush(e);
    assert_string_equal(found_set(e, "солдат"), "4,5");
    assert_string_equal(found_set(e, "мобилизацию"), "1");
    /* Replace and delete after the merge. */
    set_testimony(e, 4, "Заново", "мобилизацию отменили");
    assert_int_equal(sz_fts_delete(e->fts, wtxn(e), 5), 0);
    assert_int_equal(sz_fts_delete(e->fts, wtxn(e), 999), 0); /* never indexed: fine */
    commit(e);
    assert_string_equal(found_set(e, "солдат"), "");
    assert_string_equal(found_set(e, "стрелять"), "");
    assert_string_equal(found_set(e, "дезертирство"), "2");
    assert_string_equal(found_set(e, "мобилизацию"), "1,4");
    flush(e);
    assert_string_equal(found_set(e, "мобилизацию"), "1,4");
    assert_string_equal(found_set(e, "мобилизация"), "");
    /* A body with no text, or a kind without text fields, empties the document. */
    set_body(e, 1, SZ_KIND_TESTIMONY, "{\"title\":\"\",\"statement\":{\"text\":\"...\"}}");
    set_body(e, 2, SZ_KIND_RETRACTION, "{\"title\":\"дезертирство\"}");
    commit(e);
    assert_string_equal(found_set(e, "мобилизацию"), "4");
    assert_string_equal(found_set(e, "дезертирство"), "");
    MDB_txn *txn;
    sz_fts_stats_t st;
    assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sz_fts_stats(e->fts, txn, &st), 0);
    mdb_txn_abort(txn);
    assert_int_equal(st.docs, 2); /* 3 and 4 */
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.tokens, 11 + 3);
    assert_true(st.bytes > 0);
}

static void test_fields_and_kinds(void **state) {
    env_t *e = *state;
    set_body(e, 1, SZ_KIND_TESTIMONY,
             "{\"title\":\"Заголовок\",\"statement\":{\"text\":\"основной\",\"language\":\"ru\","
             "\"translations\":[{\"text\":\"translated words\",\"language\":\"en\"},"
             "{\"text\":\"перекладені слова\",\"language\":\"uk\"}]},"
             "\"witness\":{\"pseudonym\":\"скрытый\"}}");
    set_body(e, 2, SZ_KIND_CASE,
             "{\"title\":\"Дело\",\"summary\":\"краткое описание\",\"event_type\":\"скрытый\"}");
    /* Fields of the wrong type are skipped, not fatal. */
    set_body(e, 3, SZ_KIND_TESTIMONY,
             "{\"title\":7,\"statement\":{\"text\":[\"x\"],\"translations\":{\"a\":1}}}");
    set_body(e, 4, SZ_KIND_CASE, "[\"not an object\"]");
    commit(e);
    assert_string_equal(found_set(e, "заголовок"), "1");
    assert_string_equal(found_set(e, "translated"), "1");
    assert_string_equal(found_set(e, "перекладені"), "1");
    assert_string_equal(found_set(e, "описание дело"), "2");
    assert_string_equal(found_set(e, "скрытый"), ""); /* not a searched field */
    /* Invalid JSON (including invalid UTF-8 and duplicate keys) changes nothing. */
    const char *bad[] = {"{", "{\"title\":\"\xff\xfe\"}", "{\"title\":\"a\",\"title\":\"b\"}", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sz_fts_set(e->fts, wtxn(e), 1, SZ_KIND_TESTIMONY, (const uint8_t *)bad[i],
                                    strlen(bad[i])),
                         SZ_E_JSON);
    commit(e);
    assert_string_equal(found_set(e, "заголовок"), "1");
}

static void test_bad_queries(void **state) {
    env_t *e = *state;
    add_sample(e);
    sz_fts_hit_t hits[4];
    size_t n = 7;
    assert_int_equal(search(e, "", hits, 4, &n), SZ_E_ARGUMENT);
    assert_int_equal(n, 0);
    assert_int_equal(search(e, "   ", hits, 4, &n), SZ_E_ARGUMENT);
    assert_int_equal(search(e, "!!! --- \"\"", hits, 4, &n), SZ_E_ARGUMENT);
    assert_int_equal(search(e, "\xff\xfe\xc0", hits, 4, &n), SZ_E_ARGUMENT);
    char q[SZ_FTS_MAX_QUERY + 2];
    memset(q, 'a', sizeof(q) - 1);
    q[sizeof(q) - 1] = 0;
    assert_int_equal(search(e, q, hits, 4, &n), SZ_E_ARGUMENT);
    q[SZ_FTS_MAX_QUERY] = 0; /* exactly the limit: accepted */
    assert_int_equal(search(e, q, hits, 4, &n), 0);
    assert_int_equal(n, 0);
    /* Too many distinct words; repeated words count once. */
    char many[1024] = "";
    for (int i = 0; i <= SZ_FTS_MAX_QUERY_TERMS; i++)
        sprintf(many + strlen(many), "w%d ", i);
    assert_int_equal(search(e, many, hits, 4, &n), SZ_E_ARGUMENT);
    strcpy(many, "");
    for (int i = 0; i < 40; i++)
        strcat(many, "солдат ");
    assert_int_equal(search(e, many, hits, 4, &n), 0);
    assert_int_equal(n, 3);
    /* A phrase longer than SZ_FTS_MAX_PHRASE. */
    strcpy(many, "\"");
    for (int i = 0; i <= SZ_FTS_MAX_PHRASE; i++)
        strcat(many, "a ");
    assert_int_equal(search(e, many, hits, 4, &n), SZ_E_ARGUMENT);
    assert_int_equal(sz_fts_search(e->fts, NULL, "a", hits, 4, &n), SZ_E_ARGUMENT);
    assert_int_equal(search(e, "солдат", NULL, 4, &n), SZ_E_ARGUMENT);
    /* Invalid UTF-8 in a query is a separator. */
    assert_int_equal(search(e, "солдат\xff", hits, 4, &n), 0);
    assert_int_equal(n, 3);
    /* max limits the output to the best hits. */
    assert_int_equal(search(e, "солдат", hits, 1, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(search(e, "солдат", NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        sz_fts_set(e->fts, wtxn(e), UINT64_MAX, SZ_KIND_CASE, (const uint8_t *)"{}", 2),
        SZ_E_ARGUMENT);
}

static void test_huge_document(void **state) {
    env_t *e = *state;
    size_t words = SZ_FTS_MAX_DOC_TOKENS + 5000;
    char *body = malloc(words * 8 + 128);
    assert_non_null(body);
    size_t n = (size_t)sprintf(body, "{\"title\":\"big\",\"statement\":{\"text\":\"");
    for (size_t i = 0; i < words; i++)
        n += (size_t)sprintf(body + n, "w%zu ", i);
    n += (size_t)sprintf(body + n, "\"}}");
    assert_int_equal(sz_fts_set(e->fts, wtxn(e), 1, SZ_KIND_TESTIMONY, (const uint8_t *)body, n),
                     0);
    free(body);
    commit(e);
    for (int pass = 0; pass < 2; pass++) {
        assert_string_equal(found_set(e, "big"), "1");
        assert_string_equal(found_set(e, "w0"), "1");
        /* The title is word 1; statement words up to the cap are indexed, later ones not. */
        assert_string_equal(found_set(e, "w65534"), "1");
        assert_string_equal(found_set(e, "w65535"), "");
        assert_string_equal(found_set(e, "w70000"), "");
        assert_string_equal(found_set(e, "\"w100 w101 w102\""), "1");
        flush(e);
    }
}

static void test_reopen_format(void **state) {
    env_t *e = *state;
    add_sample(e);
    flush(e);
    sz_fts_close(e->fts);
    e->fts = NULL;
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
    assert_int_equal(sz_fts_open(&e->fts, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    assert_string_equal(found_set(e, "солдат"), "1,4,5");
    /* A newer layout is refused. */
    assert_int_equal(mdb_txn_begin(e->env, NULL, 0, &txn), 0);
    MDB_dbi meta;
    assert_int_equal(mdb_dbi_open(txn, "fts_meta", 0, &meta), 0);
    MDB_val k = {6, "format"}, v = {4, "\x02\0\0\0"};
    assert_int_equal(mdb_put(txn, meta, &k, &v, 0), 0);
    sz_fts_t *other = NULL;
    assert_int_equal(sz_fts_open(&other, txn), SZ_E_FORMAT);
    assert_null(other);
    mdb_txn_abort(txn);
}

/* ---- Randomized comparison with a brute-force model ---- */

#define RDOCS 2500
#define RVOCAB 40

static const char *rvocab[RVOCAB] = {
    "alpha", "beta",  "gamma", "delta", "солдат",  "приказ", "война", "мир",   "побег", "дезертир",
    "armée", "ОТКАЗ", "їжак",  "ґанок", "єдність", "ўсход",  "w1",    "w2",    "w3",    "w4",
    "w5",    "w6",    "w7",    "w8",    "w9",      "w10",    "x1",    "x2",    "x3",    "x4",
    "x5",    "x6",    "x7",    "x8",    "x9",      "x10",    "rare1", "rare2", "rare3", "rare4"};
static const char *rfold[RVOCAB] = {
    "alpha", "beta",  "gamma", "delta", "солдат",  "приказ", "война", "мир",   "побег", "дезертир",
    "armee", "отказ", "їжак",  "ґанок", "єдність", "ўсход",  "w1",    "w2",    "w3",    "w4",
    "w5",    "w6",    "w7",    "w8",    "w9",      "w10",    "x1",    "x2",    "x3",    "x4",
    "x5",    "x6",    "x7",    "x8",    "x9",      "x10",    "rare1", "rare2", "rare3", "rare4"};

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* Skewed choice: low word numbers are common, the last ones rare. */
static int rword(void) {
    uint32_t r = rnd(1000);
    if (r < 600)
        return (int)rnd(8);
    if (r < 950)
        return 8 + (int)rnd(28);
    return 36 + (int)rnd(4);
}

static uint8_t model[RDOCS + 1][RVOCAB]; /* counts */

static void rset(env_t *e, uint64_t d) {
    char text[2048] = "";
    memset(model[d], 0, RVOCAB);
    int nw = 1 + (int)rnd(25);
    for (int i = 0; i < nw; i++) {
        int w = rword();
        model[d][w]++;
        strcat(text, rvocab[w]);
        strcat(text, rnd(3) ? " " : ", ");
    }
    set_testimony(e, d, "", text);
}

static void rcheck(env_t *e, size_t queries) {
    static sz_fts_hit_t hits[RDOCS];
    for (size_t qi = 0; qi < queries; qi++) {
        int a = rword(), b = rword();
        char q[128];
        snprintf(q, sizeof(q), "%s %s", rvocab[a], rfold[b]);
        size_t n;
        assert_int_equal(search(e, q, hits, RDOCS, &n), 0);
        size_t want = 0;
        for (uint64_t d = 1; d <= RDOCS; d++)
            want += model[d][a] && model[d][b];
        assert_int_equal(n, want);
        for (size_t i = 0; i < n; i++) {
            assert_true(hits[i].docno >= 1 && hits[i].docno <= RDOCS);
            assert_true(model[hits[i].docno][a] && model[hits[i].docno][b]);
            if (i > 0)
                assert_true(hits[i - 1].score >= hits[i].score);
        }
    }
}

static void test_randomized(void **state) {
    env_t *e = *state;
    sz_fts_set_pending_limit(e->fts, 97);
    memset(model, 0, sizeof(model));
    /* Insert in a shuffled order so merges land in the middle of posting lists. */
    static uint64_t order[RDOCS];
    for (uint64_t i = 0; i < RDOCS; i++)
        order[i] = i + 1;
    for (size_t i = RDOCS - 1; i > 0; i--) {
        size_t j = rnd((uint32_t)i + 1);
        uint64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t i = 0; i < RDOCS; i++) {
        rset(e, order[i]);
        if (i % 300 == 299)
            commit(e);
    }
    commit(e);
    rcheck(e, 150);
    /* Replace and delete about a third, half of it inside one transaction. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 400; i++) {
            uint64_t d = 1 + rnd(RDOCS);
            if (rnd(4) == 0) {
                assert_int_equal(sz_fts_delete(e->fts, wtxn(e), d), 0);
                memset(model[d], 0, RVOCAB);
            } else {
                rset(e, d);
            }
            if (i == 200)
                commit(e);
        }
        commit(e);
        rcheck(e, 100);
        if (round == 1)
            flush(e);
    }
    flush(e);
    rcheck(e, 150);
    /* Everything deleted: no term remains. */
    for (uint64_t d = 1; d <= RDOCS; d++) {
        assert_int_equal(sz_fts_delete(e->fts, wtxn(e), d), 0);
        memset(model[d], 0, RVOCAB);
    }
    commit(e);
    rcheck(e, 20);
    MDB_txn *txn;
    sz_fts_stats_t st;
    assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sz_fts_stats(e->fts, txn, &st), 0);
    mdb_txn_abort(txn);
    assert_int_equal(st.docs, 0);
    assert_int_equal(st.terms, 0);
    assert_int_equal(st.tokens, 0);
}

/* Merging on every set (limit 1) exercises the postings path for each document. */
static void test_merge_every_set(void **state) {
    env_t *e = *state;
    sz_fts_set_pending_limit(e->fts, 1);
    add_sample(e);
    check_languages(e);
    check_and_phrase(e);
    MDB_txn *txn;
    sz_fts_stats_t st;
    assert_int_equal(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sz_fts_stats(e->fts, txn, &st), 0);
    mdb_txn_abort(txn);
    assert_int_equal(st.pending, 0);
    assert_int_equal(st.docs, 5);
}

/* Many documents sharing a word spill its tail into closed blocks; deleting from the middle,
 * the first and the last of a block keeps every other document findable. */
static void test_blocks(void **state) {
    env_t *e = *state;
    sz_fts_set_pending_limit(e->fts, 50);
    for (uint64_t d = 1; d <= 1000; d++)
        set_testimony(e, d * 2, d % 2 ? "odd" : "even", "common");
    commit(e);
    flush(e);
    uint64_t gone[] = {2, 4, 256, 258, 1000, 2000, 1998, 1500};
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_int_equal(sz_fts_delete(e->fts, wtxn(e), gone[i]), 0);
    /* Out-of-order inserts fall inside existing blocks. */
    for (uint64_t d = 1; d <= 1999; d += 2)
        set_testimony(e, d, "odd", "common");
    commit(e);
    flush(e);
    static sz_fts_hit_t hits[3000];
    size_t n;
    assert_int_equal(search(e, "common", hits, 3000, &n), 0);
    assert_int_equal(n, 2000 - 8);
    uint8_t seen[2001] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(hits[i].docno >= 1 && hits[i].docno <= 2000);
        assert_int_equal(seen[hits[i].docno], 0);
        seen[hits[i].docno] = 1;
    }
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        assert_int_equal(seen[gone[i]], 0);
    assert_int_equal(search(e, "common odd", hits, 3000, &n), 0);
    assert_int_equal(n, 500 - 3 + 1000);
}

/* Damaged values in any database give SZ_E_CORRUPT (or, where the damage happens to decode,
 * success), never a crash or a sanitizer report. Each round damages one value in a write
 * transaction, runs searches, a replace and a delete through it, and aborts. */
static void test_corrupt_values(void **state) {
    env_t *e = *state;
    sz_fts_set_pending_limit(e->fts, 100000);
    for (uint64_t d = 1; d <= 300; d++)
        set_testimony(e, d, "common", d % 3 ? "alpha beta gamma" : "beta delta");
    commit(e);
    flush(e);
    set_testimony(e, 301, "common", "pending alpha"); /* one pending document */
    commit(e);
    static const char *targets[][2] = {
        {"fts_tail", "common"}, {"fts_tail", "alpha"}, {"fts_docs", NULL},
        {"fts_post", NULL},     {"fts_pending", NULL}, {"fts_meta", "tokens"},
    };
    uint8_t junk[600];
    for (size_t ti = 0; ti < sizeof(targets) / sizeof(targets[0]); ti++) {
        for (int round = 0; round < 60; round++) {
            MDB_txn *txn = wtxn(e);
            MDB_dbi dbi;
            assert_int_equal(mdb_dbi_open(txn, targets[ti][0], 0, &dbi), 0);
            MDB_val k, v;
            uint8_t kb[8];
            if (targets[ti][1] != NULL) {
                k.mv_data = (void *)targets[ti][1];
                k.mv_size = strlen(targets[ti][1]);
            } else if (strcmp(targets[ti][0], "fts_post") == 0) {
                MDB_cursor *c;
                assert_int_equal(mdb_cursor_open(txn, dbi, &c), 0);
                assert_int_equal(mdb_cursor_get(c, &k, &v, MDB_FIRST), 0);
                for (uint32_t skip = rnd(20); skip > 0; skip--)
                    if (mdb_cursor_get(c, &k, &v, MDB_NEXT) != 0)
                        break;
                static uint8_t keep[80];
                memcpy(keep, k.mv_data, k.mv_size);
                k.mv_data = keep;
                mdb_cursor_close(c);
            } else {
                uint64_t d = strcmp(targets[ti][0], "fts_pending") == 0 ? 301 : 1 + rnd(300);
                for (int i = 7; i >= 0; i--, d >>= 8)
                    kb[i] = (uint8_t)d;
                k.mv_data = kb;
                k.mv_size = 8;
            }
            /* Either random bytes or a truncated or bit-flipped copy of the real value. */
            size_t len;
            if (round % 3 == 0 || mdb_get(txn, dbi, &k, &v) != 0) {
                len = rnd(sizeof(junk));
                for (size_t i = 0; i < len; i++)
                    junk[i] = (uint8_t)rnd(256);
            } else {
                len = v.mv_size < sizeof(junk) ? v.mv_size : sizeof(junk);
                memcpy(junk, v.mv_data, len);
                if (round % 3 == 1)
                    len = rnd((uint32_t)len + 1);
                else if (len > 0)
                    junk[rnd((uint32_t)len)] ^= (uint8_t)(1u << rnd(8));
            }
            v.mv_data = junk;
            v.mv_size = len;
            assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
            const char *queries[] = {"common", "alpha beta", "\"alpha beta\"", "delta common",
                                     "pending"};
            sz_fts_hit_t hits[400];
            size_t n;
            for (size_t qi = 0; qi < sizeof(queries) / sizeof(queries[0]); qi++) {
                int rc = sz_fts_search(e->fts, txn, queries[qi], hits, 400, &n);
                assert_true(rc == 0 || rc == SZ_E_CORRUPT);
            }
            int rc = sz_fts_delete(e->fts, txn, 1 + rnd(301));
            assert_true(rc == 0 || rc == SZ_E_CORRUPT);
            if (rc == 0) {
                const char *body = "{\"title\":\"common\",\"statement\":{\"text\":\"alpha\"}}";
                rc = sz_fts_set(e->fts, txn, 1 + rnd(301), SZ_KIND_TESTIMONY, (const uint8_t *)body,
                                strlen(body));
                assert_true(rc == 0 || rc == SZ_E_CORRUPT);
            }
            if (rc == 0) {
                rc = sz_fts_flush(e->fts, txn);
                assert_true(rc == 0 || rc == SZ_E_CORRUPT);
            }
            mdb_txn_abort(txn);
            e->txn = NULL;
        }
    }
    /* Nothing was committed: the index is intact. */
    assert_string_equal(found_set(e, "pending"), "301");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_languages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_and_phrase, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_and_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_huge_document, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_randomized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_merge_every_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_values, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
