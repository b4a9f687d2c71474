/* What a one-lookup get by id would cost in space. Usage: bench_layout [N [VALUE_BYTES [DIR]]]
 *
 * The store keeps each envelope in the append log and finds it through the record entry: two
 * random B-tree leaves per get, which caps get-with-envelope at about 160-210k/s at 1M records
 * (bench_store). The alternative is to keep the envelope beside the record entry, in one tree
 * keyed by a random hash. This builds exactly that tree in plain LMDB (N random 32-byte keys,
 * values of VALUE_BYTES, default 1,209 = a 1,177-byte envelope + 32 bytes of version metadata,
 * committed in batches of 4,096 as the node does), then prints random get-and-copy per second on
 * one thread and the tree's pages per entry, so the speed and the space of that layout can be
 * weighed in one run. Figures only: nothing here passes or fails. */
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

int main(int argc, char **argv) {
    unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000000u;
    size_t vlen = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 1209u;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", argc > 3 ? argv[3] : "/tmp/sz-bench-layout.XXXXXX");
    if (n == 0 || vlen == 0 || vlen > 65536 || sodium_init() < 0)
        return 1;
    if (argc <= 3 && mkdtemp(dir) == NULL)
        return 1;
    uint8_t(*keys)[32] = malloc((size_t)n * 32);
    uint8_t *val = malloc(vlen), *copy = NULL;
    if (keys == NULL || val == NULL)
        return 1;
    for (unsigned i = 0; i < n; i++)
        crypto_hash_sha256(keys[i], (const uint8_t *)&i, sizeof i);
    randombytes_buf(val, vlen);

    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi = 0;
    if (check(mdb_env_create(&env), "create") || check(mdb_env_set_maxdbs(env, 2), "maxdbs") ||
        check(mdb_env_set_mapsize(env, (size_t)n * (vlen + 4096) * 2 + (64u << 20)), "mapsize") ||
        check(mdb_env_open(env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600), dir))
        return 1;
    double t0 = now();
    for (unsigned i = 0; i < n;) {
        if (check(mdb_txn_begin(env, NULL, 0, &txn), "begin") ||
            check(mdb_dbi_open(txn, "versions", MDB_CREATE, &dbi), "dbi"))
            return 1;
        for (unsigned k = 0; k < BATCH && i < n; k++, i++) {
            MDB_val key = {32, keys[i]}, data = {vlen, val};
            if (check(mdb_put(txn, dbi, &key, &data, MDB_NOOVERWRITE), "put"))
                return 1;
        }
        if (check(mdb_txn_commit(txn), "commit"))
            return 1;
    }
    double put_s = now() - t0;

    MDB_stat st;
    if (check(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), "read") ||
        check(mdb_stat(txn, dbi, &st), "stat"))
        return 1;
    size_t pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    double per = (double)pages * st.ms_psize / n;
    printf("bench_layout: %u entries of %zu-byte values under random 32-byte keys, "
           "batches of %d, %.1f s to fill\n",
           n, vlen, BATCH, put_s);
    printf("tree: depth %u, %zu branch + %zu leaf + %zu overflow pages of %u bytes = "
           "%.2f entries per leaf, %.0f bytes per entry = %.2f x the value\n",
           st.ms_depth, st.ms_branch_pages, st.ms_leaf_pages, st.ms_overflow_pages, st.ms_psize,
           (double)n / (double)(st.ms_leaf_pages ? st.ms_leaf_pages : 1), per, per / (double)vlen);

    uint64_t x = 88172645463325252ull, sum = 0;
    for (int pass = 1; pass <= 3; pass++) {
        t0 = now();
        for (unsigned i = 0; i < GETS; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            MDB_val key = {32, keys[x % n]}, data;
            if (check(mdb_get(txn, dbi, &key, &data), "get"))
                return 1;
            /* Copied out as a get returns it. */
            copy = malloc(data.mv_size);
            if (copy == NULL)
                return 1;
            memcpy(copy, data.mv_data, data.mv_size);
            sum += copy[data.mv_size - 1];
            free(copy);
        }
        printf("random get + copy, one thread, pass %d: %.0f per second\n", pass,
               GETS / (now() - t0));
    }
    printf("(checksum %llu)\n", (unsigned long long)sum);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    if (argc <= 3) {
        char path[600];
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        unlink(path);
        snprintf(path, sizeof path, "%s/lock.mdb", dir);
        unlink(path);
        rmdir(dir);
    }
    free(keys);
    free(val);
    return 0;
}
