/* Benchmark for daemon/index: the cost of sz_index_update per record against the raw batched LMDB
 * put rate of the same envelopes, and the latency of filtered list queries of 100 results.
 *
 * usage: bench_index [RECORDS] [DIR] [own-map]
 *   (default 200000 records in a fresh temporary folder; by default the index resolves record ids
 *   through a resolver, as the store provides; "own-map" makes it keep its own id map instead)
 *
 * Records are ~1 KiB testimonies and cases with realistic field mixes. They are not signed: the
 * index never checks signatures, and signing would dominate set-up time. Prints one key=value
 * line per figure. */
#include <lmdb.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "error.h"
#include "index.h"
#include "record.h"

#define BATCH 1000

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *countries[] = {"UA", "RU", "SUHH", "BY", "GE", "AM", "AZ", "KZ"};
static const char *dates[] = {"1989",      "1989-04-12", "1990-01/1990-03", "1991-24", "198X",
                              "1988/1991", "2014-03-XX", "2022-02-24",      "2023~",   "2022/2024"};
static const char *acts[] = {"desertion", "defection", "refusal", "draft-evasion", "mutiny"};
static const char *wroles[] = {"soldier", "officer", "conscript", "relative", "civilian"};

typedef struct item_s {
    uint8_t id[32];
    uint8_t author[32];
    unsigned kind;
    uint64_t created;
    char *body;
    size_t len;
} item_t;

static void make_body(item_t *it, size_t i, const item_t *items) {
    char filler[700];
    memset(filler, 'x', sizeof(filler) - 1);
    filler[sizeof(filler) - 1] = 0;
    for (size_t k = 0; k < sizeof(filler) - 1; k += 7)
        filler[k] = ' ';
    char buf[2048], hex[65];
    int n;
    if (it->kind == SZ_KIND_TESTIMONY) {
        const item_t *c = &items[(i / 10) * 10]; /* every tenth item is a case */
        sz_hex_encode(hex, c->id, 32);
        n = snprintf(buf, sizeof(buf),
                     "{\"title\":\"Testimony %zu\",\"statement\":{\"text\":\"%s\",\"language\":"
                     "\"%s\"},\"witness\":{\"pseudonym\":\"W%zu\",\"role\":\"%s\",\"unit\":\"unit "
                     "%zu\"},\"consent\":{\"scope\":\"public\"},\"event\":{\"date\":\"%s\","
                     "\"place\":{\"name\":\"Town\",\"country\":\"%s\"}},\"recorded\":{\"date\":"
                     "\"2024-01-02\",\"method\":\"audio\"},\"act_types\":[\"%s\",\"%s\"],"
                     "\"cases\":[\"%s\"]}",
                     i, filler, i % 3 ? "ru" : "uk", i, wroles[i % 5], i % 97, dates[i % 10],
                     countries[i % 8], acts[i % 5], acts[(i / 5) % 5], hex);
    } else {
        n = snprintf(
            buf, sizeof(buf),
            "{\"title\":\"Case %zu\",\"summary\":\"%s\",\"period\":\"%s\",\"place\":{"
            "\"name\":\"Region\",\"country\":\"%s\"},\"event_type\":\"military-defection\","
            "\"actors\":[{\"name\":\"a\",\"role\":\"commander\"},{\"name\":\"b\",\"role\":"
            "\"subordinate\"}],\"defection_type\":\"%s\",\"pathways\":[\"coup\"],"
            "\"attributes\":{\"mobilisation\":\"%s\",\"size\":%zu}}",
            i, filler, dates[i % 10], countries[i % 8], i % 2 ? "exit" : "resistance",
            i % 3 ? "high" : "low", i % 50);
    }
    it->body = malloc((size_t)n);
    memcpy(it->body, buf, (size_t)n);
    it->len = (size_t)n;
}

/* The resolver the store would provide: here a sorted array of (id, created). */
typedef struct idtime_s {
    uint8_t id[32];
    uint64_t created;
} idtime_t;
static idtime_t *by_id;
static size_t n_by_id;

static int idtime_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

static int bench_resolve(void *ctx, MDB_txn *txn, const uint8_t id[static 32], uint64_t *created) {
    (void)ctx;
    (void)txn;
    const idtime_t *hit = bsearch(id, by_id, n_by_id, sizeof(*by_id), idtime_cmp);
    if (hit == NULL)
        return SZ_E_NOT_FOUND;
    *created = hit->created;
    return 0;
}

static void fill_record(sz_record_t *r, const item_t *it) {
    memset(r, 0, sizeof(*r));
    r->format = SZ_RECORD_FORMAT;
    r->kind = (uint8_t)it->kind;
    r->created = it->created;
    r->author = it->author;
    r->body = (const uint8_t *)it->body;
    r->body_len = (uint32_t)it->len;
}

static MDB_env *open_env(const char *dir) {
    MDB_env *env;
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
        mdb_env_set_mapsize(env, (size_t)16 << 30) ||
        mdb_env_open(env, dir, MDB_NOSYNC | MDB_NOMETASYNC, 0600)) {
        fprintf(stderr, "bench_index: cannot open LMDB in %s\n", dir);
        exit(1);
    }
    return env;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
    char tmpl[] = "/tmp/sz_bench_index_XXXXXX";
    const char *dir = argc > 2 ? argv[2] : mkdtemp(tmpl);
    if (n < 1000 || dir == NULL || sodium_init() < 0) {
        fprintf(stderr, "usage: bench_index [RECORDS>=1000] [DIR]\n");
        return 1;
    }
    item_t *items = calloc(n, sizeof(*items));
    uint8_t authors[16][32];
    randombytes_buf(authors, sizeof(authors));
    size_t body_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        randombytes_buf(items[i].id, 32);
        memcpy(items[i].author, authors[i % 16], 32);
        items[i].kind = i % 10 == 0 ? SZ_KIND_CASE : SZ_KIND_TESTIMONY;
        items[i].created = 1700000000000ull + i * 10 + (i % 7); /* roughly increasing */
        make_body(&items[i], i, items);
        body_bytes += items[i].len;
    }
    printf("records=%zu avg_body_bytes=%zu\n", n, body_bytes / n);

    /* Raw batched puts of the bodies keyed by record id, in a database of their own. */
    MDB_env *env = open_env(dir);
    MDB_txn *txn;
    MDB_dbi raw;
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "raw", MDB_CREATE, &raw);
    sz_index_t *idx;
    if (sz_index_open(&idx, txn) != 0)
        return 1;
    mdb_txn_commit(txn);
    int own_map = argc > 3 && strcmp(argv[3], "own-map") == 0;
    if (!own_map) {
        by_id = malloc(n * sizeof(*by_id));
        for (size_t i = 0; i < n; i++) {
            memcpy(by_id[i].id, items[i].id, 32);
            by_id[i].created = items[i].created;
        }
        n_by_id = n;
        qsort(by_id, n, sizeof(*by_id), idtime_cmp);
        sz_index_set_resolver(idx, bench_resolve, NULL);
    }
    printf("id_resolution=%s\n", own_map ? "own-map" : "store-resolver");
    /* Raw puts and index updates alternate batch by batch, so both see the same machine load
     * and the same growing file; each batch is one write transaction. */
    double raw_s = 0, raw_c = 0, idx_s = 0, idx_c = 0, t0, c0;
    for (size_t i = 0; i < n; i += BATCH) {
        size_t end = i + BATCH < n ? i + BATCH : n;
        t0 = now();
        c0 = cpu();
        mdb_txn_begin(env, NULL, 0, &txn);
        for (size_t j = i; j < end; j++) {
            MDB_val k = {32, items[j].id}, v = {items[j].len, items[j].body};
            if (mdb_put(txn, raw, &k, &v, 0) != 0)
                return 1;
        }
        mdb_txn_commit(txn);
        raw_s += now() - t0;
        raw_c += cpu() - c0;
        t0 = now();
        c0 = cpu();
        mdb_txn_begin(env, NULL, 0, &txn);
        for (size_t j = i; j < end; j++) {
            sz_record_t r;
            fill_record(&r, &items[j]);
            int rc = sz_index_update(idx, txn, items[j].id, items[j].created, NULL, &r);
            if (rc != 0) {
                fprintf(stderr, "bench_index: update failed: %d\n", rc);
                return 1;
            }
        }
        mdb_txn_commit(txn);
        idx_s += now() - t0;
        idx_c += cpu() - c0;
    }
    printf("raw_put_us_per_record=%.2f raw_puts_per_s=%.0f cpu_us_per_record=%.2f\n",
           raw_s * 1e6 / (double)n, (double)n / raw_s, raw_c * 1e6 / (double)n);
    printf("index_update_us_per_record=%.2f index_updates_per_s=%.0f cpu_us_per_record=%.2f "
           "wall_ratio_to_raw_put=%.2f cpu_ratio_to_raw_put=%.2f\n",
           idx_s * 1e6 / (double)n, (double)n / idx_s, idx_c * 1e6 / (double)n, raw_s / idx_s,
           raw_c / idx_c);

    /* Amendments that change one field: only the difference is written. */
    size_t namend = n / 10;
    t0 = now();
    for (size_t i = 0; i < namend; i += BATCH) {
        mdb_txn_begin(env, NULL, 0, &txn);
        for (size_t j = i; j < i + BATCH && j < namend; j++) {
            item_t *it = &items[j];
            sz_record_t old, cur;
            fill_record(&old, it);
            char *nb = malloc(it->len);
            memcpy(nb, it->body, it->len);
            char *p = strstr(nb, "\"country\":\"");
            if (p != NULL)
                memcpy(p + 11, "MD", 2); /* first two letters of the code */
            item_t copy = *it;
            copy.body = nb;
            fill_record(&cur, &copy);
            if (sz_index_update(idx, txn, it->id, it->created, &old, &cur) != 0)
                return 1;
            free(it->body);
            it->body = nb;
        }
        mdb_txn_commit(txn);
    }
    double am_s = now() - t0;
    printf("amend_us_per_record=%.2f\n", am_s * 1e6 / (double)namend);

    MDB_stat st;
    mdb_env_stat(env, &st);
    MDB_envinfo info;
    mdb_env_info(env, &info);
    printf("data_file_pages=%zu page_size=%u\n", info.me_last_pgno + 1, st.ms_psize);

    /* Filtered list queries of 100 results, each in its own read transaction. */
    char case_hex[65], pk[SZ_PUBKEY_TEXT_LEN + 1];
    sz_hex_encode(case_hex, items[n / 2 - (n / 2) % 10].id, 32);
    sz_pubkey_format(pk, authors[3]);
    struct {
        const char *name;
        unsigned kind;
        const char *f[3], *v[3];
        unsigned nf;
        int desc;
    } qs[] = {
        {"all_newest", 0, {0}, {0}, 0, 1},
        {"kind_testimony", SZ_KIND_TESTIMONY, {0}, {0}, 0, 0},
        {"country_UA", 0, {"country"}, {"UA"}, 1, 0},
        {"country_UA_act_refusal", 0, {"country", "act_type"}, {"UA", "refusal"}, 2, 1},
        {"period_1989", 0, {"period"}, {"1989"}, 1, 0},
        {"period_2022_country_RU", 0, {"period", "country"}, {"2022", "RU"}, 2, 1},
        {"case_link", 0, {"case"}, {case_hex}, 1, 0},
        {"author_case_pathway", SZ_KIND_CASE, {"author", "pathway"}, {pk, "coup"}, 2, 0},
        {"attr_role_lang",
         0,
         {"witness_role", "language", "country"},
         {"officer", "uk", "GE"},
         3,
         0},
        {"attr_mobilisation", 0, {"attr.mobilisation"}, {"high"}, 1, 0},
    };
    uint8_t(*ids)[32] = malloc(100 * 32);
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    for (size_t qi = 0; qi < sizeof(qs) / sizeof(qs[0]); qi++) {
        sz_query_t q = {0};
        q.kind = qs[qi].kind;
        q.limit = 100;
        q.newest_first = qs[qi].desc;
        for (unsigned f = 0; f < qs[qi].nf; f++) {
            q.filters[f].field = qs[qi].f[f];
            q.filters[f].value = qs[qi].v[f];
        }
        q.nfilters = qs[qi].nf;
        int runs = 200;
        size_t got = 0;
        double worst = 0;
        t0 = now();
        for (int r = 0; r < runs; r++) {
            double s = now();
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
            int rc = sz_index_list(idx, txn, &q, ids, &got, next);
            mdb_txn_abort(txn);
            if (rc != 0) {
                fprintf(stderr, "bench_index: query %s failed: %d\n", qs[qi].name, rc);
                return 1;
            }
            double e = now() - s;
            if (e > worst)
                worst = e;
        }
        double avg = (now() - t0) / runs;
        /* The second page, through the cursor. */
        double page2 = 0;
        if (next[0] != '\0') {
            q.cursor = next;
            double s = now();
            mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
            char next2[SZ_CURSOR_TOKEN_LEN + 1];
            sz_index_list(idx, txn, &q, ids, &got, next2);
            mdb_txn_abort(txn);
            page2 = now() - s;
        }
        printf("list query=%s results=%zu avg_ms=%.3f worst_ms=%.3f page2_ms=%.3f\n", qs[qi].name,
               got, avg * 1e3, worst * 1e3, page2 * 1e3);
    }
    free(ids);
    sz_index_close(idx);
    mdb_env_close(env);
    for (size_t i = 0; i < n; i++)
        free(items[i].body);
    free(items);
    if (argc <= 2) {
        char path[128];
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        unlink(path);
        snprintf(path, sizeof(path), "%s/lock.mdb", dir);
        unlink(path);
        rmdir(dir);
    }
    return 0;
}
