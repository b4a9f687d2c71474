/* Full-text benchmark: indexes N synthetic record bodies of about 1 KiB (testimonies whose words
 * follow a Zipf-like law over a vocabulary mixing Latin and Cyrillic words) in write transactions
 * of 1000 documents, then runs two-word AND queries of mixed rarity and prints:
 *   - documents indexed per second (overall, and over the last 10% to show the trend),
 *   - index bytes per document (pages of the fts_ databases),
 *   - query latency p50/p99/max per rarity class and overall.
 *
 * Usage: bench_fts [-n DOCS] [-d DIR] [-q QUERIES] [-s] [-k] [-p PENDING]
 *   -n  documents to index (default 1000000)
 *   -d  folder for the LMDB environment (default: a new folder under /tmp, removed at the end)
 *   -q  queries per rarity class (default 50; six classes)
 *   -s  sync every commit (default: MDB_NOSYNC, as a catch-up pass that can be redone)
 *   -k  keep the folder
 *   -p  pending documents that trigger a merge (default SZ_FTS_PENDING_MAX)
 *   -r  reuse the index already in DIR (from a run with -k) and only run the queries */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "fts.h"
#include "record.h"

#define VOCAB 200000
#define BATCH 1000
#define BODY_TARGET 1000

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) {
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread, to tell our cost from other load on a shared machine. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *words[VOCAB];
static double cdf[VOCAB];

/* Even ranks are Latin words, odd ranks Cyrillic, 2..11 letters; the first letter of some is
 * capitalised in text so folding is exercised. */
static void make_vocab(void) {
    static const char *lat = "abcdefghijklmnopqrstuvwxyz";
    static const char *cyr[] = {"а", "б", "в", "г", "д", "е", "ж", "з", "и", "й", "к", "л",
                                "м", "н", "о", "п", "р", "с", "т", "у", "ф", "х", "ц", "ч",
                                "ш", "щ", "ы", "ь", "э", "ю", "я", "і", "ї", "є"};
    double sum = 0;
    for (size_t r = 0; r < VOCAB; r++) {
        char w[64];
        size_t n = 0, letters = 2 + (size_t)(rng() % 10);
        if (r < 100)
            letters = 1 + r % 4; /* the most common words are short, like function words */
        for (size_t i = 0; i < letters; i++) {
            if (r % 2 == 0)
                w[n++] = lat[rng() % 26];
            else {
                const char *c = cyr[rng() % (sizeof(cyr) / sizeof(cyr[0]))];
                memcpy(w + n, c, strlen(c));
                n += strlen(c);
            }
        }
        /* Make each word unique by its rank so ranks and terms correspond. */
        n += (size_t)snprintf(w + n, sizeof(w) - n, "%zx", r);
        w[n] = 0;
        words[r] = strdup(w);
        sum += 1.0 / (double)(r + 1);
        cdf[r] = sum;
    }
    for (size_t r = 0; r < VOCAB; r++)
        cdf[r] /= sum;
}

static size_t zipf(void) {
    double u = (double)(rng() >> 11) / 9007199254740992.0;
    size_t lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t make_body(char *out, size_t cap) {
    size_t n = (size_t)snprintf(out, cap, "{\"title\":\"");
    for (int i = 0; i < 4; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? " " : "", words[zipf()]);
    n += (size_t)snprintf(out + n, cap - n, "\",\"statement\":{\"language\":\"ru\",\"text\":\"");
    int first = 1;
    while (n < BODY_TARGET - 20) {
        const char *w = words[zipf()];
        int cap_first = rng() % 16 == 0 && w[0] >= 'a' && w[0] <= 'z';
        n += (size_t)snprintf(out + n, cap - n, "%s%c%s", first ? "" : (rng() % 12 ? " " : ", "),
                              cap_first ? w[0] - 32 : w[0], w + 1);
        first = 0;
    }
    n += (size_t)snprintf(out + n, cap - n, "\"}}");
    return n;
}

static int dcmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(void) {
    fprintf(stderr, "usage: bench_fts [-n DOCS] [-d DIR] [-q QUERIES] [-s] [-k] [-p PENDING]\n");
    exit(2);
}

static void check(int rc, const char *what) {
    if (rc != 0) {
        fprintf(stderr, "bench_fts: %s failed: %d (%s)\n", what, rc,
                rc > 0 ? mdb_strerror(rc) : "");
        exit(1);
    }
}

/* Runs nq queries of the two rank ranges and appends latencies (ms) to lat. */
static void run_class(MDB_env *env, sz_fts_t *fts, const char *name, size_t a0, size_t a1,
                      size_t b0, size_t b1, size_t nq, double *all, double *allc, size_t *nall) {
    double *lat = malloc(nq * sizeof(double)), *cpu = malloc(nq * sizeof(double));
    sz_fts_hit_t hits[100];
    double total_hits = 0;
    for (size_t i = 0; i < nq; i++) {
        char q[256];
        size_t a = a0 + rng() % (a1 - a0), b = b0 + rng() % (b1 - b0);
        if (a == b)
            b = b + 1 < b1 ? b + 1 : b0;
        snprintf(q, sizeof(q), "%s %s", words[a], words[b]);
        double t0 = now(), c0 = cpu_now();
        MDB_txn *txn;
        check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "read txn");
        size_t n;
        int rc = sz_fts_search(fts, txn, q, hits, 100, &n);
        mdb_txn_abort(txn);
        lat[i] = (now() - t0) * 1e3;
        cpu[i] = (cpu_now() - c0) * 1e3;
        check(rc, "search");
        total_hits += (double)n;
        allc[*nall] = cpu[i];
        all[(*nall)++] = lat[i];
    }
    qsort(lat, nq, sizeof(double), dcmp);
    qsort(cpu, nq, sizeof(double), dcmp);
    printf(
        "  %-14s wall p50 %7.3f p99 %7.3f max %7.3f ms | CPU p50 %7.3f p99 %7.3f ms | hits %.1f\n",
        name, lat[nq / 2], lat[(nq * 99) / 100], lat[nq - 1], cpu[nq / 2], cpu[(nq * 99) / 100],
        total_hits / (double)nq);
    free(lat);
    free(cpu);
}

static void run_queries(MDB_env *env, sz_fts_t *fts, size_t nq, size_t ndocs) {
    /* Rarity classes by rank: common words are in most documents, rare ones in a handful. */
    double *all = malloc(6 * nq * sizeof(double)), *allc = malloc(6 * nq * sizeof(double));
    size_t nall = 0;
    (void)ndocs;
    run_class(env, fts, "common+common", 0, 50, 0, 50, nq, all, allc, &nall);
    run_class(env, fts, "common+medium", 0, 50, 50, 2000, nq, all, allc, &nall);
    run_class(env, fts, "medium+medium", 50, 2000, 50, 2000, nq, all, allc, &nall);
    run_class(env, fts, "common+rare", 0, 50, 2000, VOCAB, nq, all, allc, &nall);
    run_class(env, fts, "medium+rare", 50, 2000, 2000, VOCAB, nq, all, allc, &nall);
    run_class(env, fts, "rare+rare", 2000, VOCAB, 2000, VOCAB, nq, all, allc, &nall);
    qsort(all, nall, sizeof(double), dcmp);
    qsort(allc, nall, sizeof(double), dcmp);
    printf("  %-14s wall p50 %7.3f p99 %7.3f max %7.3f ms | CPU p50 %7.3f p99 %7.3f ms | %zu "
           "queries\n",
           "all", all[nall / 2], all[(nall * 99) / 100], all[nall - 1], allc[nall / 2],
           allc[(nall * 99) / 100], nall);
    free(all);
    free(allc);
}

int main(int argc, char **argv) {
    size_t ndocs = 1000000, nq = 50, pending = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *dir = NULL;
    int sync = 0, keep = 0, reuse = 0, opt;
    while ((opt = getopt(argc, argv, "n:d:q:skp:r")) != -1) {
        switch (opt) {
        case 'n':
            ndocs = strtoull(optarg, NULL, 10);
            break;
        case 'd':
            dir = optarg;
            break;
        case 'q':
            nq = strtoull(optarg, NULL, 10);
            break;
        case 's':
            sync = 1;
            break;
        case 'k':
            keep = 1;
            break;
        case 'r':
            reuse = 1;
            keep = 1;
            break;
        case 'p':
            pending = strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (ndocs < BATCH || nq < 2)
        usage();
    char tmpl[] = "/tmp/bench_fts_XXXXXX";
    if (dir == NULL) {
        dir = mkdtemp(tmpl);
        if (dir == NULL) {
            perror("mkdtemp");
            return 1;
        }
    } else {
        mkdir(dir, 0700);
    }
    make_vocab();
    MDB_env *env;
    check(mdb_env_create(&env), "env create");
    check(mdb_env_set_maxdbs(env, SZ_FTS_DBS), "maxdbs");
    check(mdb_env_set_mapsize(env, (size_t)64 << 30), "mapsize");
    check(mdb_env_open(env, dir, sync ? 0 : MDB_NOSYNC, 0600), "env open");
    MDB_txn *txn;
    sz_fts_t *fts;
    check(mdb_txn_begin(env, NULL, 0, &txn), "txn");
    check(sz_fts_open(&fts, txn), "fts open");
    sz_fts_set_pending_limit(fts, pending);
    check(mdb_txn_commit(txn), "commit");

    char(*bodies)[2048] = malloc(BATCH * sizeof(*bodies));
    size_t *lens = malloc(BATCH * sizeof(size_t));
    double t_index = 0, t_tail = 0, t_commit = 0, c_index = 0, c_tail = 0, body_bytes = 0;
    size_t tail_from = ndocs - ndocs / 10;
    printf("bench_fts: %zu documents of ~%d bytes, vocabulary %d words (Zipf s=1, Latin and "
           "Cyrillic), %d per transaction, %s\n",
           ndocs, BODY_TARGET, VOCAB, BATCH, sync ? "synced commits" : "MDB_NOSYNC");
    for (size_t done = 0; done < ndocs && !reuse; done += BATCH) {
        for (size_t i = 0; i < BATCH; i++) {
            lens[i] = make_body(bodies[i], sizeof(bodies[i]));
            body_bytes += (double)lens[i];
        }
        double t0 = now(), c0 = cpu_now();
        check(mdb_txn_begin(env, NULL, 0, &txn), "txn");
        for (size_t i = 0; i < BATCH; i++)
            check(sz_fts_set(fts, txn, done + i + 1, SZ_KIND_TESTIMONY, (uint8_t *)bodies[i],
                             lens[i]),
                  "set");
        double tc = now();
        check(mdb_txn_commit(txn), "commit");
        double dt = now() - t0;
        t_commit += now() - tc;
        c_index += cpu_now() - c0;
        t_index += dt;
        if (done >= tail_from) {
            t_tail += dt;
            c_tail += cpu_now() - c0;
        }
        if ((done + BATCH) % (ndocs / 10 < BATCH ? BATCH : ndocs / 10) == 0 && isatty(2))
            fprintf(stderr, "  %zu documents, %.0f docs/s so far\n", done + BATCH,
                    (double)(done + BATCH) / t_index);
    }
    double t0 = now(), c0 = cpu_now();
    check(mdb_txn_begin(env, NULL, 0, &txn), "txn");
    check(sz_fts_flush(fts, txn), "flush");
    check(mdb_txn_commit(txn), "commit");
    t_index += now() - t0;
    c_index += cpu_now() - c0;
    sz_fts_stats_t st;
    check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "txn");
    check(sz_fts_stats(fts, txn, &st), "stats");
    mdb_txn_abort(txn);
    if (!reuse) {
        printf("indexing: %.0f docs/s overall (%.1f s, of which %.1f s in commits), %.0f docs/s "
               "over the last 10%%\n",
               (double)ndocs / t_index, t_index, t_commit, (double)(ndocs - tail_from) / t_tail);
        printf("indexing CPU: %.0f docs per CPU-second overall (%.1f s of thread CPU time), %.0f "
               "over the last 10%%\n",
               (double)ndocs / c_index, c_index, (double)(ndocs - tail_from) / c_tail);
        printf("bodies average %.0f bytes\n", body_bytes / (double)ndocs);
    }
    printf("index: %.0f bytes/doc (%.1f MiB for %llu docs), %.1f words/doc, %llu distinct terms\n",
           (double)st.bytes / (double)st.docs, (double)st.bytes / 1048576.0,
           (unsigned long long)st.docs, (double)st.tokens / (double)st.docs,
           (unsigned long long)st.terms);
    printf("two-word AND queries, top 100, merged index (%zu per class):\n", nq);
    run_queries(env, fts, nq, ndocs);

    /* The same in the worst case: one document short of a merge still pending. */
    size_t extra = (pending ? pending : SZ_FTS_PENDING_MAX) - 1;
    for (size_t done = 0; done < extra; done += BATCH) {
        check(mdb_txn_begin(env, NULL, 0, &txn), "txn");
        for (size_t i = 0; i < BATCH && done + i < extra; i++) {
            lens[i] = make_body(bodies[i], sizeof(bodies[i]));
            check(sz_fts_set(fts, txn, st.docs + done + i + 1, SZ_KIND_TESTIMONY,
                             (uint8_t *)bodies[i], lens[i]),
                  "set");
        }
        check(mdb_txn_commit(txn), "commit");
    }
    printf("two-word AND queries with %zu documents pending:\n", extra);
    run_queries(env, fts, nq, ndocs);

    mdb_env_close(env);
    sz_fts_close(fts);
    if (!keep) {
        char p[4096];
        snprintf(p, sizeof(p), "%s/data.mdb", dir);
        unlink(p);
        snprintf(p, sizeof(p), "%s/lock.mdb", dir);
        unlink(p);
        rmdir(dir);
    }
    free(bodies);
    free(lens);
    for (size_t r = 0; r < VOCAB; r++)
        free(words[r]);
    return 0;
}
