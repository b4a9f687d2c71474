/* Benchmark of the archive store at scale. Usage: bench_store [N [DIR]]
 *
 * Builds N (default 1,000,000) distinct signed testimony records of about 1 KiB (signing is a
 * pre-pass, timed separately), then prints, in one run: the raw batched LMDB put rate (version hash
 * -> envelope, same batch size and durability) and the store's ingest rate of pre-verified records
 * with every index but full text, and their ratio; the full-text catch-up rate; get-by-id per
 * second on one thread; filtered list and two-word full-text query latencies; bytes per record on
 * disk without the full-text index against the envelope size; and the store's open time. Figures
 * only: nothing here passes or fails. */
#include "error.h"
#include "record.h"
#include "store.h"

#include <lmdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
#define VOCAB 8192
#define T0 1764000000000ull

static char vocab[VOCAB][32];
static uint8_t sk[64];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *st) {
    /* xorshift64*: deterministic and cheap; quality is irrelevant here. */
    uint64_t x = *st;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *st = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* Word ranks skewed towards the front, so some words are common and most are rare. */
static unsigned word_rank(uint64_t *st) {
    double u = (double)(rnd(st) >> 11) / 9007199254740992.0;
    return (unsigned)(u * u * u * VOCAB) % VOCAB;
}

static void make_vocab(void) {
    static const char *syl[] = {"ka",  "lo",  "mi",  "ne",  "ru", "sta", "vo", "zhe",
                                "dor", "pel", "tin", "gra", "bo", "shu", "ve", "li"};
    uint64_t st = 12345;
    for (int i = 0; i < VOCAB; i++) {
        char w[16] = "";
        int n = 2 + (int)(rnd(&st) % 3);
        for (int j = 0; j < n; j++)
            strcat(w, syl[rnd(&st) % 16]);
        snprintf(vocab[i], sizeof(vocab[i]), "%.15s%d", w, i % 10);
    }
}

typedef struct gen_s {
    size_t from, to;
    uint8_t **env;
    size_t *len;
} gen_t;

static void *gen_main(void *p) {
    gen_t *g = p;
    static const char *roles[] = {"soldier", "officer", "conscript", "relative", "civilian"};
    static const char *acts[] = {"desertion", "defection", "refusal", "draft-evasion", "mutiny"};
    static const char *langs[] = {"en", "ru", "uk"};
    char body[1400], text[1100];
    for (size_t i = g->from; i < g->to; i++) {
        uint64_t st = 0x51ed2701ull + i * 0x9e3779b97f4a7c15ull;
        size_t tl = 0;
        while (tl < 860) {
            const char *w = vocab[word_rank(&st)];
            size_t wl = strlen(w);
            memcpy(text + tl, w, wl);
            tl += wl;
            text[tl++] = ' ';
        }
        text[tl - 1] = '\0';
        int bl =
            snprintf(body, sizeof(body),
                     "{\"title\":\"Testimony %zu %s\",\"statement\":{\"text\":\"%s\","
                     "\"language\":\"%s\"},\"witness\":{\"role\":\"%s\"},"
                     "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"%s\"]}",
                     i, vocab[word_rank(&st)], text, langs[i % 3], roles[i % 5], acts[(i / 5) % 5]);
        sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                                .created = T0 + i * 1000,
                                .body = (const uint8_t *)body,
                                .body_len = (uint32_t)bl};
        if (sz_record_sign(&f, sk, &g->env[i], &g->len[i]) != 0) {
            fprintf(stderr, "signing failed\n");
            exit(1);
        }
    }
    return NULL;
}

/* Sum of the pages of every named database whose name does not start with skip_prefix. */
static double db_bytes(const char *dir, const char *skip_prefix, double *fts) {
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi main;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 64);
    if (mdb_env_open(env, dir, MDB_RDONLY, 0600) != 0)
        return -1;
    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    mdb_dbi_open(txn, NULL, 0, &main);
    MDB_cursor *c;
    mdb_cursor_open(txn, main, &c);
    MDB_val k, v;
    double total = 0;
    *fts = 0;
    MDB_stat st;
    mdb_stat(txn, main, &st);
    total += (double)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
    while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
        char name[128];
        size_t n = k.mv_size < sizeof(name) - 1 ? k.mv_size : sizeof(name) - 1;
        memcpy(name, k.mv_data, n);
        name[n] = '\0';
        MDB_dbi d;
        if (mdb_dbi_open(txn, name, 0, &d) != 0 || mdb_stat(txn, d, &st) != 0)
            continue;
        double b =
            (double)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
        if (strncmp(name, skip_prefix, strlen(skip_prefix)) == 0)
            *fts += b;
        else
            total += b;
    }
    mdb_cursor_close(c);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return total;
}

/* Reads on one thread over n record ids (borrowed): gets, filtered lists, full-text catch-up
 * (nothing to do when already caught up) and two-word searches. Returns 0 or -1. */
static int measure_reads(sz_store_t *s, uint8_t (*ids_in)[32], size_t n) {
    double t;
    int rc;
    /* Get by record id, one thread, random order. The machine may be shared, so the rate is also
     * given per second of this thread's CPU time, which waiting for a core does not inflate. */
    size_t gets = n < 1000000 ? n : 1000000;
    double c0;
    for (int pass = 1; pass <= 2; pass++) {
        uint64_t st = 99;
        t = now();
        c0 = cpu_now();
        for (size_t i = 0; i < gets; i++) {
            uint8_t cur[32];
            size_t j = rnd(&st) % n;
            if (sz_store_get_current(s, ids_in[j], cur, NULL) != 0)
                return -1;
        }
        double get_s = now() - t, get_c = cpu_now() - c0;
        printf("get current:      %.0f per second wall, %.0f per CPU-second, one thread, pass %d "
               "(target >= 500k/s)\n",
               (double)gets / get_s, (double)gets / get_c, pass);
    }
    /* Twice over the same ids: the first pass also maps the pages into this process (as a
     * daemon's first reads do), the second is the steady state. */
    size_t gets2 = gets / 2;
    for (int pass = 1; pass <= 2; pass++) {
        uint64_t st2 = 4242;
        t = now();
        c0 = cpu_now();
        for (size_t i = 0; i < gets2; i++) {
            sz_store_record_t *r;
            size_t j = rnd(&st2) % n;
            if (sz_store_get_record(s, ids_in[j], &r) != 0)
                return -1;
            sz_store_record_free(r);
        }
        double get2_s = now() - t, get2_c = cpu_now() - c0;
        printf("get record:       %.0f per second wall, %.0f per CPU-second, one thread, pass %d "
               "(current envelope copied out, heads)\n",
               (double)gets2 / get2_s, (double)gets2 / get2_c, pass);
    }

    /* Filtered list of 100. */
    static const char *roles[] = {"soldier", "officer", "conscript", "relative", "civilian"};
    uint8_t(*ids)[32] = calloc(100, 32);
    char cursor[SZ_CURSOR_TOKEN_LEN + 1] = "", next[SZ_CURSOR_TOKEN_LEN + 1];
    double worst = 0, sum = 0;
    int queries = 0;
    size_t got = 0;
    for (int qn = 0; qn < 500; qn++) {
        /* Pairs: a first page, then the next page of the same query through its cursor. */
        int p = qn / 2;
        sz_query_t q = {.kind = SZ_KIND_TESTIMONY, .limit = 100, .newest_first = p % 2};
        q.filters[0].field = "witness_role";
        q.filters[0].value = roles[p % 5];
        q.nfilters = 1;
        if (p % 3 == 2) {
            q.filters[1].field = "language";
            q.filters[1].value = "uk";
            q.nfilters = 2;
        }
        q.cursor = (qn % 2 == 1 && cursor[0]) ? cursor : NULL;
        size_t nn = 0;
        double t1 = now();
        rc = sz_store_list(s, &q, ids, &nn, next);
        double d = now() - t1;
        if (rc != 0) {
            printf("list:             failed: %s\n", sz_strerror(rc));
            break;
        }
        memcpy(cursor, next, sizeof(cursor));
        got += nn;
        sum += d;
        queries++;
        if (d > worst)
            worst = d;
    }
    if (queries > 0)
        printf("list 100 filtered: mean %.3f ms, worst %.3f ms over %d queries, %.0f results "
               "each (target < 1 ms)\n",
               sum / queries * 1e3, worst * 1e3, queries, (double)got / queries);

    /* Full-text catch-up. */
    t = now();
    uint64_t done = 0;
    rc = sz_store_fts_catchup(s, 0, &done);
    double fts_s = now() - t;
    if (rc != 0)
        printf("fts catch-up:     failed: %s %s\n", sz_strerror(rc), sz_store_errmsg(s));
    else
        printf("fts catch-up:     %.0f records/s (%llu in %.1f s) (target >= 20k/s)\n",
               (double)done / fts_s, (unsigned long long)done, fts_s);

    /* Two-word queries. */
    sz_search_hit_t hits[20];
    sum = worst = 0;
    queries = 0;
    size_t total_hits = 0;
    uint64_t qs = 7;
    for (int qn = 0; qn < 200 && rc == 0; qn++) {
        char q[64];
        snprintf(q, sizeof(q), "%s %s", vocab[word_rank(&qs)], vocab[word_rank(&qs)]);
        size_t nh = 0;
        double t1 = now();
        int r2 = sz_store_search(s, q, hits, 20, &nh);
        double d = now() - t1;
        if (r2 != 0) {
            printf("search:           failed: %s\n", sz_strerror(r2));
            break;
        }
        total_hits += nh;
        sum += d;
        queries++;
        if (d > worst)
            worst = d;
    }
    if (queries > 0)
        printf("search two words: mean %.3f ms, worst %.3f ms over %d queries, %.1f hits each "
               "(top 20) (target < 10 ms)\n",
               sum / queries * 1e3, worst * 1e3, queries, (double)total_hits / queries);

    free(ids);
    return 0;
}

/* The version hashes of v as a packed array of ids (first versions: id = hash). */
static void *v_ids(const sz_verified_t *v, size_t n) {
    static uint8_t(*out)[32];
    free(out);
    out = calloc(n, 32);
    for (size_t i = 0; i < n; i++)
        memcpy(out[i], v[i].version_hash, 32);
    return out;
}

typedef struct idcollect_s {
    uint8_t (*ids)[32];
    size_t n, cap;
} idcollect_t;

static int collect_id(void *arg, const sz_version_info_t *vi) {
    idcollect_t *c = arg;
    if (vi->rec->nparents != 0)
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->ids = realloc(c->ids, c->cap * 32);
    }
    memcpy(c->ids[c->n++], vi->version_hash, 32);
    return 0;
}

/* bench_store --reads STOREDIR: the read figures and open time of an existing store. */
static int reads_only(const char *dir) {
    sz_store_t *s = NULL;
    double t = now();
    if (sz_store_open(&s, dir, NULL) != 0)
        return 1;
    printf("open:             %.2f ms (first open in this process)\n", (now() - t) * 1e3);
    idcollect_t c = {0};
    uint64_t next = 0;
    if (sz_store_log(s, 0, 0, collect_id, &c, &next) != 0 || c.n == 0)
        return 1;
    printf("bench_store --reads: %zu records in %s\n", c.n, dir);
    int rc = measure_reads(s, c.ids, c.n);
    sz_store_close(s);
    free(c.ids);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--reads") == 0) {
        make_vocab();
        return reads_only(argv[2]);
    }
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n < BATCH)
        n = BATCH;
    n -= n % BATCH;
    char base[512];
    if (argc > 2)
        snprintf(base, sizeof(base), "%s", argv[2]);
    else {
        snprintf(base, sizeof(base), "/tmp/sz-bench-store-XXXXXX");
        if (mkdtemp(base) == NULL)
            return 1;
    }
    mkdir(base, 0700);
    if (sodium_init() < 0)
        return 1;
    uint8_t pk[32];
    crypto_sign_seed_keypair(pk, sk, (const uint8_t *)"bench-store-seed-bench-store-see");
    make_vocab();
    printf("bench_store: N=%zu records, batch %d, folder %s\n", n, BATCH, base);

    /* Pre-pass: sign N records on two threads. */
    uint8_t **env = calloc(n, sizeof(*env));
    size_t *len = calloc(n, sizeof(*len));
    double t = now();
    enum { TH = 2 };
    pthread_t th[TH];
    gen_t g[TH];
    for (int i = 0; i < TH; i++) {
        g[i] = (gen_t){n * i / TH, n * (i + 1) / TH, env, len};
        pthread_create(&th[i], NULL, gen_main, &g[i]);
    }
    for (int i = 0; i < TH; i++)
        pthread_join(th[i], NULL);
    double sign_s = now() - t;
    double env_total = 0;
    for (size_t i = 0; i < n; i++)
        env_total += (double)len[i];
    double env_avg = env_total / (double)n;
    printf("presign:          %.1f s on %d threads (%.0f records/s), mean envelope %.0f bytes\n",
           sign_s, TH, (double)n / sign_s, env_avg);

    /* Decode and hash (the pre-verified form), and time full verification on a sample. */
    sz_verified_t *v = calloc(n, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        if (sz_record_decode(&v[i].rec, env[i], len[i]) != 0)
            return 1;
        sz_record_version_hash(&v[i].rec, v[i].version_hash);
    }
    size_t sample = n < 20000 ? n : 20000;
    t = now();
    for (size_t i = 0; i < sample; i++) {
        sz_verified_t x;
        if (sz_store_verify(&x, env[i], len[i]) != 0) {
            fprintf(stderr, "verify failed\n");
            return 1;
        }
    }
    double ver_s = now() - t;
    printf("verify:           %.0f records/s on one thread (signature + schema, %zu sample)\n",
           (double)sample / ver_s, sample);

    /* Raw LMDB: hash -> envelope, the same batches, durable commits. */
    char raw[600];
    snprintf(raw, sizeof(raw), "%s/raw", base);
    mkdir(raw, 0700);
    MDB_env *renv;
    MDB_dbi rdbi;
    mdb_env_create(&renv);
    mdb_env_set_mapsize(renv, (size_t)64 << 30);
    if (mdb_env_open(renv, raw, MDB_NOTLS, 0600) != 0)
        return 1;
    t = now();
    for (size_t b = 0; b < n; b += BATCH) {
        MDB_txn *txn;
        mdb_txn_begin(renv, NULL, 0, &txn);
        mdb_dbi_open(txn, NULL, 0, &rdbi);
        for (size_t i = b; i < b + BATCH; i++) {
            MDB_val k = {32, v[i].version_hash}, d = {len[i], env[i]};
            if (mdb_put(txn, rdbi, &k, &d, 0) != 0)
                return 1;
        }
        if (mdb_txn_commit(txn) != 0)
            return 1;
    }
    double raw_s = now() - t;
    mdb_env_close(renv);
    double raw_rate = (double)n / raw_s;
    printf("raw lmdb put:     %.0f records/s (%.1f s)\n", raw_rate, raw_s);

    /* The store: pre-verified ingest with every index except full text. */
    char sdir[600];
    snprintf(sdir, sizeof(sdir), "%s/store", base);
    sz_store_t *s = NULL;
    char err[256] = "";
    sz_store_options_t o = {.errbuf = err, .errlen = sizeof(err)};
    int rc = sz_store_open(&s, sdir, &o);
    if (rc != 0) {
        fprintf(stderr, "open: %s %s\n", sz_strerror(rc), err);
        return 1;
    }
    sz_put_result_t *res = calloc(BATCH, sizeof(*res));
    t = now();
    for (size_t b = 0; b < n; b += BATCH) {
        rc = sz_store_put_verified(s, v + b, BATCH, res);
        if (rc != 0 || res[0].err != 0) {
            fprintf(stderr, "put: %s %s\n", sz_strerror(rc ? rc : res[0].err), sz_store_errmsg(s));
            return 1;
        }
    }
    double ing_s = now() - t;
    double ing_rate = (double)n / ing_s;
    printf("store ingest:     %.0f records/s (%.1f s), %.2f of raw (target >= 0.5)\n", ing_rate,
           ing_s, ing_rate / raw_rate);

    if (measure_reads(s, (uint8_t(*)[32])v_ids(v, n), n) != 0)
        return 1;

    sz_store_stats_t ss;
    sz_store_stats(s, &ss);
    sz_store_close(s);

    double fts_bytes = 0;
    double bytes = db_bytes(sdir, "fts_", &fts_bytes);
    printf("space:            %.0f bytes/record without full text = %.2fx the envelope "
           "(target <= 2x); full text adds %.0f bytes/record; data.mdb pages in use %.2f GB\n",
           bytes / (double)n, bytes / (double)n / env_avg, fts_bytes / (double)n,
           (double)ss.used_bytes / 1e9);

    double worst_open = 0;
    for (int i = 0; i < 5; i++) {
        t = now();
        rc = sz_store_open(&s, sdir, NULL);
        double d = now() - t;
        if (rc != 0)
            return 1;
        sz_store_close(s);
        if (d > worst_open)
            worst_open = d;
    }
    printf("open:             %.2f ms worst of 5 (target < 50 ms)\n", worst_open * 1e3);

    for (size_t i = 0; i < n; i++)
        free(env[i]);
    free(env);
    free(len);
    free(v);
    free(res);
    return 0;
}
