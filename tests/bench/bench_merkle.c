/* Benchmark for proto/merkle: frontier appends, root computation, and proof generation and
 * verification over a tree of 1M leaves (or argv[1]) whose subtree hashes live in memory, as the
 * store keeps them in LMDB. Prints one line per figure; it never fails on timing. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "merkle.h"

typedef struct mem_s {
    uint8_t *levels[SZ_MERKLE_MAX_LEVELS];
    uint64_t count[SZ_MERKLE_MAX_LEVELS];
    uint64_t fetches;
} mem_t;

static int mem_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]) {
    mem_t *m = ctx;
    if (level >= SZ_MERKLE_MAX_LEVELS || index >= m->count[level])
        return SZ_E_NOT_FOUND;
    memcpy(out, m->levels[level] + index * 32, 32);
    m->fetches++;
    return 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: cheap, reproducible positions for the proof loops. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t bound) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (rng_state * 0x2545f4914f6cdd1dull) % bound;
}

static void report(const char *what, uint64_t ops, double secs) {
    printf("%-34s %10llu ops %8.3f s %12.0f ops/s\n", what, (unsigned long long)ops, secs,
           (double)ops / secs);
}

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 2) {
        fprintf(stderr, "bench_merkle: need at least 2 leaves\n");
        return 1;
    }
    const uint64_t rounds = 100000;
    int rc = 1;
    uint8_t *sk = NULL;

    uint8_t *leaves = malloc(n * 32);
    mem_t mem;
    memset(&mem, 0, sizeof(mem));
    int oom = leaves == NULL;
    for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS && (n >> l) > 0; l++) {
        mem.levels[l] = malloc((n >> l) * 32);
        oom |= mem.levels[l] == NULL;
    }
    if (oom) {
        fprintf(stderr, "bench_merkle: out of memory for %llu leaves\n", (unsigned long long)n);
        for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS; l++)
            free(mem.levels[l]);
        free(leaves);
        return 1;
    }
    for (uint64_t i = 0; i < n; i++)
        sz_merkle_leaf_hash(leaves + i * 32, (const uint8_t *)&i, sizeof(i));

    /* Appends alone, then appends that also store every new subtree hash. */
    sz_merkle_frontier_t f;
    sz_merkle_frontier_init(&f);
    double t0 = now();
    for (uint64_t i = 0; i < n; i++)
        if (sz_merkle_frontier_append(&f, leaves + i * 32, NULL, NULL) != 0)
            goto fail;
    report("frontier append", n, now() - t0);

    sz_merkle_frontier_init(&f);
    t0 = now();
    for (uint64_t i = 0; i < n; i++) {
        sz_merkle_node_t nodes[SZ_MERKLE_MAX_LEVELS];
        size_t nn;
        if (sz_merkle_frontier_append(&f, leaves + i * 32, nodes, &nn) != 0)
            goto fail;
        for (size_t j = 0; j < nn; j++) {
            memcpy(mem.levels[nodes[j].level] + nodes[j].index * 32, nodes[j].hash, 32);
            mem.count[nodes[j].level] = nodes[j].index + 1;
        }
    }
    report("frontier append + store nodes", n, now() - t0);

    uint8_t froot[32], root[32];
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++)
        sz_merkle_frontier_root(&f, froot);
    report("frontier root", rounds, now() - t0);

    mem.fetches = 0;
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++)
        if (sz_merkle_root(mem_get, &mem, n - rnd(n / 2), root) != 0)
            goto fail;
    report("root of a random size (callback)", rounds, now() - t0);
    if (sz_merkle_root(mem_get, &mem, n, root) != 0 || memcmp(root, froot, 32) != 0)
        goto fail;

    static uint8_t proofs[1000][SZ_MERKLE_MAX_PROOF_LEN];
    static size_t lens[1000];
    static uint64_t idx[1000];
    size_t total_len = 0;
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++) {
        size_t k = r % 1000;
        idx[k] = rnd(n);
        if (sz_merkle_inclusion_proof(mem_get, &mem, idx[k], n, proofs[k], &lens[k]) != 0)
            goto fail;
        total_len += lens[k];
    }
    report("inclusion proof generate", rounds, now() - t0);
    printf("%-34s %10.1f hashes\n", "  mean inclusion proof", (double)total_len / 32 / rounds);
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++) {
        size_t k = r % 1000;
        if (sz_merkle_verify_inclusion(leaves + idx[k] * 32, idx[k], n, proofs[k], lens[k], root) !=
            0)
            goto fail;
    }
    report("inclusion proof verify", rounds, now() - t0);

    static uint8_t roots1[1000][32];
    total_len = 0;
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++) {
        size_t k = r % 1000;
        idx[k] = 1 + rnd(n - 1);
        if (sz_merkle_consistency_proof(mem_get, &mem, idx[k], n, proofs[k], &lens[k]) != 0)
            goto fail;
        total_len += lens[k];
    }
    report("consistency proof generate", rounds, now() - t0);
    printf("%-34s %10.1f hashes\n", "  mean consistency proof", (double)total_len / 32 / rounds);
    for (size_t k = 0; k < 1000; k++)
        if (sz_merkle_root(mem_get, &mem, idx[k], roots1[k]) != 0)
            goto fail;
    t0 = now();
    for (uint64_t r = 0; r < rounds; r++) {
        size_t k = r % 1000;
        if (sz_merkle_verify_consistency(idx[k], n, roots1[k], root, proofs[k], lens[k]) != 0)
            goto fail;
    }
    report("consistency proof verify", rounds, now() - t0);

    uint8_t pk[32];
    sk = sodium_malloc(64);
    if (sk == NULL)
        goto fail;
    crypto_sign_keypair(pk, sk);
    sz_tree_head_t th;
    memset(&th, 0, sizeof(th));
    th.size = n;
    memcpy(th.root, root, 32);
    th.timestamp = 1;
    const uint64_t heads = 10000;
    t0 = now();
    for (uint64_t r = 0; r < heads; r++)
        if (sz_tree_head_sign(&th, sk) != 0)
            goto fail;
    report("tree head sign", heads, now() - t0);
    uint8_t enc[SZ_TREE_HEAD_LEN];
    sz_tree_head_encode(enc, &th);
    t0 = now();
    for (uint64_t r = 0; r < heads; r++)
        if (sz_tree_head_open(&th, enc, sizeof(enc)) != 0)
            goto fail;
    report("tree head decode + verify", heads, now() - t0);

    printf("leaves %llu, root ", (unsigned long long)n);
    for (int i = 0; i < 32; i++)
        printf("%02x", root[i]);
    printf("\n");
    rc = 0;
fail:
    if (rc != 0)
        fprintf(stderr, "bench_merkle: a merkle call failed or two roots disagree\n");
    sodium_free(sk);
    for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS; l++)
        free(mem.levels[l]);
    free(leaves);
    return rc;
}
