/* libFuzzer harness for proto/merkle: proof verification with arbitrary bytes, the tree-head and
 * frontier decoders, and proof generation over a small tree built from the input.
 *
 * The first input byte picks the target (modulo 5); the rest is laid out per target:
 *   0 inclusion:   index u64 BE, size u64 BE, leaf hash 32, root 32, proof bytes...
 *   1 consistency: size1 u64 BE, size2 u64 BE, root1 32, root2 32, proof bytes...
 *   2 tree head:   bytes handed to sz_tree_head_open and sz_tree_head_decode
 *   3 frontier:    bytes handed to sz_merkle_frontier_decode
 *   4 generate:    n (1 byte), m (1 byte), then leaf bytes; a tree of 1..64 leaves is built, its
 *                  proofs must verify, and any change the input makes to a proof must not. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "merkle.h"

static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void check(int cond) {
    if (!cond)
        abort();
}

static void fuzz_inclusion(const uint8_t *d, size_t n) {
    if (n < 80)
        return;
    int rc = sz_merkle_verify_inclusion(d + 16, rd64(d), rd64(d + 8), d + 80, n - 80, d + 48);
    check(rc == 0 || rc == SZ_E_PROOF);
}

static void fuzz_consistency(const uint8_t *d, size_t n) {
    if (n < 80)
        return;
    int rc = sz_merkle_verify_consistency(rd64(d), rd64(d + 8), d + 16, d + 48, d + 80, n - 80);
    check(rc == 0 || rc == SZ_E_PROOF);
}

static void fuzz_tree_head(const uint8_t *d, size_t n) {
    sz_tree_head_t th;
    int rc = sz_tree_head_decode(&th, d, n);
    if (rc != 0) {
        check(rc == SZ_E_TRUNCATED || rc == SZ_E_TRAILING || rc == SZ_E_MALFORMED);
        return;
    }
    /* Decoding is exact: encoding what was decoded gives the same bytes back. */
    uint8_t again[SZ_TREE_HEAD_LEN];
    sz_tree_head_encode(again, &th);
    check(n == SZ_TREE_HEAD_LEN && memcmp(again, d, n) == 0);
    rc = sz_tree_head_open(&th, d, n);
    check(rc == 0 || rc == SZ_E_SIGNATURE);
}

static void fuzz_frontier(const uint8_t *d, size_t n) {
    sz_merkle_frontier_t f;
    int rc = sz_merkle_frontier_decode(&f, d, n);
    if (rc != 0) {
        check(rc == SZ_E_TRUNCATED || rc == SZ_E_TRAILING || rc == SZ_E_VERSION ||
              rc == SZ_E_CORRUPT);
        return;
    }
    uint8_t again[SZ_MERKLE_FRONTIER_MAX_LEN];
    size_t len = 0;
    check(sz_merkle_frontier_encode(&f, again, sizeof(again), &len) == 0);
    check(len == n && memcmp(again, d, n) == 0);
    uint8_t root[32];
    sz_merkle_frontier_root(&f, root);
    if (f.size < UINT64_MAX)
        check(sz_merkle_frontier_append(&f, root, NULL, NULL) == 0);
}

/* A tree of up to 64 leaves, every perfect subtree stored as the frontier reports it. */
typedef struct small_s {
    uint8_t nodes[7][64][32];
    uint64_t limit;
} small_t;

static int small_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]) {
    small_t *s = ctx;
    check(level < 7 && index < (s->limit >> level));
    memcpy(out, s->nodes[level][index], 32);
    return 0;
}

static void fuzz_generate(const uint8_t *d, size_t n) {
    if (n < 2)
        return;
    uint64_t size = (uint64_t)(d[0] % 64) + 1;
    uint64_t m = d[1] % size;
    d += 2;
    n -= 2;
    static small_t s;
    sz_merkle_frontier_t f;
    sz_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < size; i++) {
        uint8_t leaf[32];
        /* Leaves take the input's bytes in turn, and their own index so they stay distinct. */
        uint8_t raw[2] = {(uint8_t)i, n > 0 ? d[i % n] : 0};
        sz_merkle_leaf_hash(leaf, raw, sizeof(raw));
        sz_merkle_node_t out[SZ_MERKLE_MAX_LEVELS];
        size_t nn = 0;
        check(sz_merkle_frontier_append(&f, leaf, out, &nn) == 0);
        for (size_t j = 0; j < nn; j++)
            memcpy(s.nodes[out[j].level][out[j].index], out[j].hash, 32);
    }
    s.limit = size;
    uint8_t root[32], root_m[32], froot[32];
    check(sz_merkle_root(small_get, &s, size, root) == 0);
    sz_merkle_frontier_root(&f, froot);
    check(memcmp(root, froot, 32) == 0);

    uint8_t proof[SZ_MERKLE_MAX_PROOF_LEN];
    size_t len = 0;
    check(sz_merkle_inclusion_proof(small_get, &s, m, size, proof, &len) == 0);
    check(sz_merkle_verify_inclusion(s.nodes[0][m], m, size, proof, len, root) == 0);
    if (len > 0 && n > 0) {
        /* XOR the input into the proof: any change must be caught. */
        int changed = 0;
        for (size_t i = 0; i < len && i < n; i++) {
            proof[i] ^= d[i];
            changed |= d[i];
        }
        if (changed)
            check(sz_merkle_verify_inclusion(s.nodes[0][m], m, size, proof, len, root) ==
                  SZ_E_PROOF);
    }

    uint64_t m1 = m + 1; /* 1..size */
    check(sz_merkle_root(small_get, &s, m1, root_m) == 0);
    check(sz_merkle_consistency_proof(small_get, &s, m1, size, proof, &len) == 0);
    check(sz_merkle_verify_consistency(m1, size, root_m, root, proof, len) == 0);
    if (len > 0 && n > 0) {
        int changed = 0;
        for (size_t i = 0; i < len && i < n; i++) {
            proof[len - 1 - i] ^= d[i];
            changed |= d[i];
        }
        if (changed)
            check(sz_merkle_verify_consistency(m1, size, root_m, root, proof, len) == SZ_E_PROOF);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (sodium_init() < 0)
        abort();
    switch (data[0] % 5) {
    case 0:
        fuzz_inclusion(data + 1, size - 1);
        break;
    case 1:
        fuzz_consistency(data + 1, size - 1);
        break;
    case 2:
        fuzz_tree_head(data + 1, size - 1);
        break;
    case 3:
        fuzz_frontier(data + 1, size - 1);
        break;
    default:
        fuzz_generate(data + 1, size - 1);
        break;
    }
    return 0;
}
