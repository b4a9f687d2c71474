/* The two ways to lay out envelopes for a get by id, in plain LMDB, in one run.
 * Usage: bench_layout [N [ENVELOPE_BYTES [DIR]]]
 *
 * 1. "log + index", the store's layout: envelopes appended to a log keyed by sequence number
 *    (MDB_APPEND, so pages fill), found through a random-keyed index whose 32-byte values hold the
 *    sequence number. A get reads two random leaves.
 * 2. "one tree": envelope + 32 bytes of metadata under the random key. A get reads one leaf,
 *    but random inserts split the leaves, and every new entry rewrites a random leaf.
 *
 * Each is built from N random 32-byte keys (ENVELOPE_BYTES default 1,177, the bench envelope),
 * committed in batches of 4,096 as the node does, each in its own environment. Printed per
 * layout: the time to fill, pages written per entry in the last tenth of the fill (the commit
 * cost a node pays per new record at that size), bytes per entry on disk, and random
 * get-and-copy per second on one thread. Figures only: nothing here passes or fails. */
#include <lmdb.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BATCH 4096
#define GETS 1000000
#define META 32

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check(int rc, const char *what) {
    if (rc != 0)
        fprintf(stderr, "bench_layout: %s: %s\n", what, mdb_strerror(rc));
    return rc;
}

static void be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

typedef struct layout_s {
    const char *name;
    int one_tree;
    MDB_env *env;
    MDB_dbi log, index; /* one tree: index only */
} layout_t;

/* Bytes this process has passed to write system calls (/proc/self/io), or 0. */
static size_t wchar(void) {
    size_t v = 0;
    char line[128];
    FILE *io = fopen("/proc/self/io", "r");
    while (io != NULL && fgets(line, sizeof line, io) != NULL)
        if (sscanf(line, "wchar: %zu", &v) == 1)
            break;
    if (io != NULL)
        fclose(io);
    return v;
}

/* Pages of the layout's trees (free pages not counted). */
static size_t pages_used(const layout_t *l) {
    MDB_txn *txn;
    size_t pages = 0;
    if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn) != 0)
        return 0;
    MDB_dbi dbis[2] = {l->index, l->log};
    for (int i = 0; i < (l->one_tree ? 1 : 2); i++) {
        MDB_stat st;
        if (mdb_stat(txn, dbis[i], &st) == 0)
            pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    }
    mdb_txn_abort(txn);
    return pages;
}

static int fill(layout_t *l, const char *dir, uint8_t (*keys)[32], unsigned n, uint8_t *env,
                size_t elen) {
    if (check(mdb_env_create(&l->env), "create") ||
        check(mdb_env_set_maxdbs(l->env, 4), "maxdbs") ||
        check(mdb_env_set_mapsize(l->env, (size_t)n * (elen + 4096) * 3 + (64u << 20)),
              "mapsize") ||
        check(mdb_env_open(l->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600), dir))
        return -1;
    uint8_t val[META + 65536];
    memcpy(val + META, env, elen);
    double t0 = now();
    size_t written = 0, tail_entries = 0;
    for (unsigned i = 0; i < n;) {
        MDB_txn *txn;
        if (check(mdb_txn_begin(l->env, NULL, 0, &txn), "begin") ||
            check(mdb_dbi_open(txn, "index", MDB_CREATE, &l->index), "dbi") ||
            (!l->one_tree && check(mdb_dbi_open(txn, "log", MDB_CREATE, &l->log), "dbi")))
            return -1;
        unsigned first = i;
        for (unsigned k = 0; k < BATCH && i < n; k++, i++) {
            be64(val, i); /* metadata: the sequence number first */
            MDB_val key = {32, keys[i]};
            MDB_val data = {l->one_tree ? META + elen : META, val};
            if (check(mdb_put(txn, l->index, &key, &data, MDB_NOOVERWRITE), "put"))
                return -1;
            if (!l->one_tree) {
                MDB_val sk = {8, val}, sv = {elen, val + META};
                if (check(mdb_put(txn, l->log, &sk, &sv, MDB_APPEND), "append"))
                    return -1;
            }
        }
        /* What the commit writes, from this process's write count: LMDB writes each dirty page
         * with pwrite or writev. */
        size_t before = wchar(), after;
        if (check(mdb_txn_commit(txn), "commit"))
            return -1;
        after = wchar();
        if (first >= n - n / 10) {
            written += after - before;
            tail_entries += i - first;
        }
    }
    double fill_s = now() - t0;
    double per = (double)pages_used(l) * 4096.0 / n;
    printf("%s: filled in %.1f s; last tenth wrote %.0f bytes (%.2f pages) per new entry; "
           "%.0f bytes per entry on disk = %.2f x the envelope\n",
           l->name, fill_s, tail_entries ? (double)written / tail_entries : 0.0,
           tail_entries ? (double)written / tail_entries / 4096.0 : 0.0, per, per / (double)elen);
    return 0;
}

static int gets(layout_t *l, uint8_t (*keys)[32], unsigned n) {
    MDB_txn *txn;
    if (check(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn), "read"))
        return -1;
    uint64_t x = 88172645463325252ull, sum = 0;
    for (int pass = 1; pass <= 3; pass++) {
        double t0 = now();
        for (unsigned i = 0; i < GETS; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            MDB_val key = {32, keys[x % n]}, data;
            if (check(mdb_get(txn, l->index, &key, &data), "get"))
                return -1;
            if (!l->one_tree) {
                uint8_t seq[8];
                memcpy(seq, data.mv_data, 8);
                MDB_val sk = {8, seq};
                if (check(mdb_get(txn, l->log, &sk, &data), "log get"))
                    return -1;
            }
            /* Copied out as a get returns it. */
            uint8_t *copy = malloc(data.mv_size);
            if (copy == NULL)
                return -1;
            memcpy(copy, data.mv_data, data.mv_size);
            sum += copy[data.mv_size - 1];
            free(copy);
        }
        printf("%s: random get + copy, one thread, pass %d: %.0f per second\n", l->name, pass,
               GETS / (now() - t0));
    }
    mdb_txn_abort(txn);
    printf("%s: (checksum %llu)\n", l->name, (unsigned long long)sum);
    return 0;
}

static void remove_env(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000000u;
    size_t elen = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1177u;
    char base[480];
    snprintf(base, sizeof base, "%s", argc > 3 ? argv[3] : "/tmp/sz-bench-layout.XXXXXX");
    if (n < 10 || elen == 0 || elen > 65536 || sodium_init() < 0)
        return 1;
    if (argc <= 3 && mkdtemp(base) == NULL)
        return 1;
    uint8_t(*keys)[32] = malloc((size_t)n * 32);
    uint8_t *env = malloc(elen);
    if (keys == NULL || env == NULL)
        return 1;
    for (unsigned i = 0; i < n; i++)
        crypto_hash_sha256(keys[i], (const uint8_t *)&i, sizeof i);
    randombytes_buf(env, elen);
    printf("bench_layout: %u entries, %zu-byte envelopes, random 32-byte keys, batches of %d\n", n,
           elen, BATCH);
    layout_t ls[2] = {{"log + index", 0, NULL, 0, 0}, {"one tree", 1, NULL, 0, 0}};
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%d", base, i);
        mkdir(dir, 0700);
        rc = fill(&ls[i], dir, keys, n, env, elen);
        if (rc == 0)
            rc = gets(&ls[i], keys, n);
        if (ls[i].env != NULL)
            mdb_env_close(ls[i].env);
        remove_env(dir);
    }
    if (argc <= 3)
        rmdir(base);
    free(keys);
    free(env);
    return rc == 0 ? 0 : 1;
}
