#include "merkle.h"
#include "encoding.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "error.h"
#include "sha256.h"

#define HLEN SZ_MERKLE_HASH_LEN

static unsigned popcount64(uint64_t v) {
    unsigned c = 0;
    for (; v != 0; v &= v - 1)
        c++;
    return c;
}

/* Largest power of two strictly below n; n must be at least 2. */
static uint64_t split_point(uint64_t n) {
    return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

static unsigned log2_exact(uint64_t k) {
    return (unsigned)__builtin_ctzll(k);
}

void sz_merkle_leaf_hash(uint8_t out[static 32], const uint8_t *leaf, size_t len) {
    static const uint8_t prefix = 0x00;
    sz_sha256_2(out, &prefix, 1, leaf, len);
}

void sz_merkle_node_hash(uint8_t out[static 32], const uint8_t left[static 32],
                         const uint8_t right[static 32]) {
    /* Copy into one block first so that out may alias either input. */
    uint8_t buf[1 + 2 * HLEN];
    buf[0] = 0x01;
    memcpy(buf + 1, left, HLEN);
    memcpy(buf + 1 + HLEN, right, HLEN);
    sz_sha256(out, buf, sizeof(buf));
}

void sz_merkle_empty_root(uint8_t out[static 32]) {
    sz_sha256(out, NULL, 0);
}

/* ---- Frontier ------------------------------------------------------------------------------ */

void sz_merkle_frontier_init(sz_merkle_frontier_t *f) {
    memset(f, 0, sizeof(*f));
}

int sz_merkle_frontier_append(sz_merkle_frontier_t *f, const uint8_t leaf_hash[static 32],
                              sz_merkle_node_t *nodes, size_t *nnodes) {
    if (f->size == UINT64_MAX)
        return SZ_E_TOO_LARGE;
    uint64_t i = f->size;
    uint8_t carry[HLEN];
    memcpy(carry, leaf_hash, HLEN);
    size_t count = 0;
    unsigned level = 0;
    for (;;) {
        if (nodes != NULL) {
            nodes[count].level = level;
            nodes[count].index = i >> level;
            memcpy(nodes[count].hash, carry, HLEN);
        }
        count++;
        /* A set bit means a finished subtree of this level waits on the left: merge with it. The
         * size is below 2^64 - 1, so some bit under 64 is clear and the loop ends by level 63. */
        if (((f->size >> level) & 1) == 0)
            break;
        sz_merkle_node_hash(carry, f->roots[level], carry);
        memset(f->roots[level], 0, HLEN);
        level++;
    }
    memcpy(f->roots[level], carry, HLEN);
    f->size++;
    if (nnodes != NULL)
        *nnodes = count;
    return 0;
}

void sz_merkle_frontier_root(const sz_merkle_frontier_t *f, uint8_t out[static 32]) {
    if (f->size == 0) {
        sz_merkle_empty_root(out);
        return;
    }
    /* Fold from the smallest (rightmost) subtree leftwards, as MTH's recursion does. */
    int have = 0;
    uint8_t acc[HLEN];
    for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS; l++) {
        if (((f->size >> l) & 1) == 0)
            continue;
        if (!have) {
            memcpy(acc, f->roots[l], HLEN);
            have = 1;
        } else {
            sz_merkle_node_hash(acc, f->roots[l], acc);
        }
    }
    memcpy(out, acc, HLEN);
}

size_t sz_merkle_frontier_encoded_len(const sz_merkle_frontier_t *f) {
    return 1 + 8 + (size_t)popcount64(f->size) * HLEN + 8;
}

int sz_merkle_frontier_encode(const sz_merkle_frontier_t *f, uint8_t *out, size_t out_cap,
                              size_t *out_len) {
    size_t need = sz_merkle_frontier_encoded_len(f);
    if (out_cap < need)
        return SZ_E_TOO_LARGE;
    size_t pos = 0;
    out[pos++] = SZ_MERKLE_FRONTIER_FORMAT;
    sz_be64_put(out + pos, f->size);
    pos += 8;
    for (int l = SZ_MERKLE_MAX_LEVELS - 1; l >= 0; l--) {
        if ((f->size >> l) & 1) {
            memcpy(out + pos, f->roots[l], HLEN);
            pos += HLEN;
        }
    }
    uint8_t digest[HLEN];
    sz_sha256(digest, out, pos);
    memcpy(out + pos, digest, 8);
    pos += 8;
    *out_len = pos;
    return 0;
}

int sz_merkle_frontier_decode(sz_merkle_frontier_t *f, const uint8_t *in, size_t len) {
    if (len < 1)
        return SZ_E_TRUNCATED;
    if (in[0] != SZ_MERKLE_FRONTIER_FORMAT)
        return SZ_E_VERSION;
    if (len < 1 + 8)
        return SZ_E_TRUNCATED;
    sz_merkle_frontier_t tmp;
    sz_merkle_frontier_init(&tmp);
    tmp.size = sz_be64_get(in + 1);
    size_t need = sz_merkle_frontier_encoded_len(&tmp);
    if (len < need)
        return SZ_E_TRUNCATED;
    if (len > need)
        return SZ_E_TRAILING;
    uint8_t digest[HLEN];
    sz_sha256(digest, in, need - 8);
    if (sodium_memcmp(digest, in + need - 8, 8) != 0)
        return SZ_E_CORRUPT;
    size_t pos = 9;
    for (int l = SZ_MERKLE_MAX_LEVELS - 1; l >= 0; l--) {
        if ((tmp.size >> l) & 1) {
            memcpy(tmp.roots[l], in + pos, HLEN);
            pos += HLEN;
        }
    }
    *f = tmp;
    return 0;
}

/* ---- Hashes from stored subtrees ---------------------------------------------------------- */

static int fetch(sz_merkle_get_cb get, void *ctx, unsigned level, uint64_t index,
                 uint8_t out[static 32]) {
    int rc = get(ctx, level, index, out);
    return rc > 0 ? SZ_E_STORE : rc;
}

/* Writes MTH(D[begin:end]) for a range that is a node of the tree: end > begin and begin a
 * multiple of the smallest power of two >= end - begin. Such a range splits into perfect subtrees
 * of the set bits of its length, largest first, each aligned to its own size. */
static int range_hash(sz_merkle_get_cb get, void *ctx, uint64_t begin, uint64_t end,
                      uint8_t out[static 32]) {
    uint64_t len = end - begin;
    int have = 0;
    uint8_t piece[HLEN];
    for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS; l++) {
        if (((len >> l) & 1) == 0)
            continue;
        /* Pieces of higher levels come first, so this one starts after all of them. */
        uint64_t higher = len & ~((((uint64_t)2) << l) - 1);
        uint64_t start = begin + higher;
        if ((start & ((((uint64_t)1) << l) - 1)) != 0)
            return SZ_E_ARGUMENT;
        int rc = fetch(get, ctx, l, start >> l, have ? piece : out);
        if (rc != 0)
            return rc;
        if (have)
            sz_merkle_node_hash(out, piece, out);
        have = 1;
    }
    return have ? 0 : SZ_E_ARGUMENT;
}

int sz_merkle_frontier_rebuild(sz_merkle_frontier_t *f, sz_merkle_get_cb get, void *ctx,
                               uint64_t size) {
    sz_merkle_frontier_t tmp;
    sz_merkle_frontier_init(&tmp);
    tmp.size = size;
    for (unsigned l = 0; l < SZ_MERKLE_MAX_LEVELS; l++) {
        if (((size >> l) & 1) == 0)
            continue;
        int rc = fetch(get, ctx, l, (size >> l) - 1, tmp.roots[l]);
        if (rc != 0)
            return rc;
    }
    *f = tmp;
    return 0;
}

int sz_merkle_root(sz_merkle_get_cb get, void *ctx, uint64_t n, uint8_t out[static 32]) {
    if (n == 0) {
        sz_merkle_empty_root(out);
        return 0;
    }
    return range_hash(get, ctx, 0, n, out);
}

/* Reverses the order of count 32-byte hashes in place. */
static void reverse_hashes(uint8_t *p, size_t count) {
    uint8_t tmp[HLEN];
    for (size_t i = 0, j = count; i + 1 < j; i++, j--) {
        memcpy(tmp, p + i * HLEN, HLEN);
        memcpy(p + i * HLEN, p + (j - 1) * HLEN, HLEN);
        memcpy(p + (j - 1) * HLEN, tmp, HLEN);
    }
}

int sz_merkle_inclusion_proof(sz_merkle_get_cb get, void *ctx, uint64_t m, uint64_t n,
                              uint8_t proof[static SZ_MERKLE_MAX_INCLUSION_LEN],
                              size_t *proof_len) {
    if (m >= n)
        return SZ_E_ARGUMENT;
    /* Walk RFC 6962's PATH recursion from the root down, collecting siblings root-first; the
     * proof lists them leaf-first, so reverse at the end. */
    uint64_t begin = 0, size = n;
    size_t count = 0;
    while (size > 1) {
        uint64_t k = split_point(size);
        uint8_t *slot = proof + count * HLEN;
        int rc;
        if (m < k) {
            rc = range_hash(get, ctx, begin + k, begin + size, slot);
            size = k;
        } else {
            unsigned lk = log2_exact(k);
            rc = fetch(get, ctx, lk, begin >> lk, slot);
            m -= k;
            begin += k;
            size -= k;
        }
        if (rc != 0)
            return rc;
        count++;
    }
    reverse_hashes(proof, count);
    *proof_len = count * HLEN;
    return 0;
}

int sz_merkle_consistency_proof(sz_merkle_get_cb get, void *ctx, uint64_t m, uint64_t n,
                                uint8_t proof[static SZ_MERKLE_MAX_CONSISTENCY_LEN],
                                size_t *proof_len) {
    if (m == 0 || m > n)
        return SZ_E_ARGUMENT;
    /* RFC 6962's SUBPROOF, unrolled from the root down. Slot 0 is kept free for the final
     * MTH(D[m]) that is needed when the old tree's root is not itself a node on the path. */
    uint64_t begin = 0, size = n;
    size_t count = 0;
    int whole = 1;
    while (m != size) {
        uint64_t k = split_point(size);
        uint8_t *slot = proof + (1 + count) * HLEN;
        int rc;
        if (m <= k) {
            rc = range_hash(get, ctx, begin + k, begin + size, slot);
            size = k;
        } else {
            unsigned lk = log2_exact(k);
            rc = fetch(get, ctx, lk, begin >> lk, slot);
            m -= k;
            begin += k;
            size -= k;
            whole = 0;
        }
        if (rc != 0)
            return rc;
        count++;
    }
    reverse_hashes(proof + HLEN, count);
    if (!whole) {
        int rc = range_hash(get, ctx, begin, begin + size, proof);
        if (rc != 0)
            return rc;
        count++;
    } else {
        memmove(proof, proof + HLEN, count * HLEN);
    }
    *proof_len = count * HLEN;
    return 0;
}

/* ---- Verification ---------------------------------------------------------------------- */

int sz_merkle_verify_inclusion(const uint8_t leaf_hash[static 32], uint64_t index, uint64_t size,
                               const uint8_t *proof, size_t proof_len,
                               const uint8_t root[static 32]) {
    if (index >= size)
        return SZ_E_PROOF;
    if (proof_len % HLEN != 0 || proof_len > SZ_MERKLE_MAX_INCLUSION_LEN)
        return SZ_E_PROOF;
    if (proof_len > 0 && proof == NULL)
        return SZ_E_PROOF;
    size_t count = proof_len / HLEN;
    uint64_t fn = index, sn = size - 1;
    uint8_t r[HLEN];
    memcpy(r, leaf_hash, HLEN);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *p = proof + i * HLEN;
        /* sn reaching 0 early means the proof is longer than the path to the root. */
        if (sn == 0)
            return SZ_E_PROOF;
        if ((fn & 1) || fn == sn) {
            sz_merkle_node_hash(r, p, r);
            /* On the right border a node may have no sibling at some levels; skip them. */
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            sz_merkle_node_hash(r, r, p);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return SZ_E_PROOF;
    return sodium_memcmp(r, root, HLEN) == 0 ? 0 : SZ_E_PROOF;
}

int sz_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[static 32],
                                 const uint8_t root2[static 32], const uint8_t *proof,
                                 size_t proof_len) {
    if (size1 > size2 || size1 == 0)
        return SZ_E_PROOF;
    if (proof_len % HLEN != 0 || proof_len > SZ_MERKLE_MAX_CONSISTENCY_LEN)
        return SZ_E_PROOF;
    if (proof_len > 0 && proof == NULL)
        return SZ_E_PROOF;
    if (size1 == size2) {
        if (proof_len != 0)
            return SZ_E_PROOF;
        return sodium_memcmp(root1, root2, HLEN) == 0 ? 0 : SZ_E_PROOF;
    }
    if (proof_len == 0)
        return SZ_E_PROOF;
    size_t count = proof_len / HLEN;
    /* When the old tree is a perfect subtree its root is the first node of the path, so RFC 9162
     * prepends it rather than sending it. */
    int prepend = (size1 & (size1 - 1)) == 0;
    size_t total = count + (size_t)prepend;
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[HLEN], sr[HLEN];
    memcpy(fr, prepend ? root1 : proof, HLEN);
    memcpy(sr, fr, HLEN);
    for (size_t i = 1; i < total; i++) {
        const uint8_t *c = proof + (i - (size_t)prepend) * HLEN;
        if (sn == 0)
            return SZ_E_PROOF;
        if ((fn & 1) || fn == sn) {
            sz_merkle_node_hash(fr, c, fr);
            sz_merkle_node_hash(sr, c, sr);
            while ((fn & 1) == 0 && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            sz_merkle_node_hash(sr, sr, c);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0)
        return SZ_E_PROOF;
    if (sodium_memcmp(fr, root1, HLEN) != 0 || sodium_memcmp(sr, root2, HLEN) != 0)
        return SZ_E_PROOF;
    return 0;
}

/* ---- Signed tree heads ------------------------------------------------------------------- */

#define DOMAIN_LEN (sizeof(SZ_TREE_HEAD_DOMAIN) - 1)
#define FIELDS_LEN (8 + HLEN + 8 + 32)
#define SIGNED_LEN (DOMAIN_LEN + 1 + FIELDS_LEN)

/* Writes the signed message: domain || 0x00 || size || root || timestamp || node_key. */
static void signed_message(uint8_t out[static SIGNED_LEN], const sz_tree_head_t *th) {
    memcpy(out, SZ_TREE_HEAD_DOMAIN, DOMAIN_LEN);
    out[DOMAIN_LEN] = 0x00;
    uint8_t *p = out + DOMAIN_LEN + 1;
    sz_be64_put(p, th->size);
    memcpy(p + 8, th->root, HLEN);
    sz_be64_put(p + 8 + HLEN, th->timestamp);
    memcpy(p + 16 + HLEN, th->node_key, 32);
}

static int root_fits_size(uint64_t size, const uint8_t root[static 32]) {
    if (size != 0)
        return 1;
    uint8_t empty[HLEN];
    sz_merkle_empty_root(empty);
    return sodium_memcmp(empty, root, HLEN) == 0;
}

int sz_tree_head_sign(sz_tree_head_t *th, const uint8_t sk[static 64]) {
    if (!root_fits_size(th->size, th->root))
        return SZ_E_ARGUMENT;
    uint8_t *derived = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (derived == NULL)
        return -ENOMEM;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    int rc = crypto_sign_seed_keypair(pk, derived, sk);
    sodium_free(derived); /* sodium_free wipes before releasing */
    if (rc != 0)
        return SZ_E_CRYPTO;
    if (sodium_memcmp(pk, sk + 32, sizeof(pk)) != 0)
        return SZ_E_KEY;
    memcpy(th->node_key, pk, sizeof(pk));
    uint8_t msg[SIGNED_LEN];
    signed_message(msg, th);
    if (crypto_sign_detached(th->signature, NULL, msg, sizeof(msg), sk) != 0)
        return SZ_E_CRYPTO;
    return 0;
}

void sz_tree_head_encode(uint8_t out[static SZ_TREE_HEAD_LEN], const sz_tree_head_t *th) {
    sz_be64_put(out, th->size);
    memcpy(out + 8, th->root, HLEN);
    sz_be64_put(out + 8 + HLEN, th->timestamp);
    memcpy(out + 16 + HLEN, th->node_key, 32);
    memcpy(out + FIELDS_LEN, th->signature, 64);
}

int sz_tree_head_decode(sz_tree_head_t *th, const uint8_t *in, size_t len) {
    if (len < SZ_TREE_HEAD_LEN)
        return SZ_E_TRUNCATED;
    if (len > SZ_TREE_HEAD_LEN)
        return SZ_E_TRAILING;
    sz_tree_head_t tmp;
    tmp.size = sz_be64_get(in);
    memcpy(tmp.root, in + 8, HLEN);
    tmp.timestamp = sz_be64_get(in + 8 + HLEN);
    memcpy(tmp.node_key, in + 16 + HLEN, 32);
    memcpy(tmp.signature, in + FIELDS_LEN, 64);
    if (!root_fits_size(tmp.size, tmp.root))
        return SZ_E_MALFORMED;
    *th = tmp;
    return 0;
}

int sz_tree_head_verify(const sz_tree_head_t *th) {
    uint8_t msg[SIGNED_LEN];
    signed_message(msg, th);
    if (crypto_sign_verify_detached(th->signature, msg, sizeof(msg), th->node_key) != 0)
        return SZ_E_SIGNATURE;
    return 0;
}

int sz_tree_head_open(sz_tree_head_t *th, const uint8_t *in, size_t len) {
    sz_tree_head_t tmp;
    int rc = sz_tree_head_decode(&tmp, in, len);
    if (rc != 0)
        return rc;
    rc = sz_tree_head_verify(&tmp);
    if (rc != 0)
        return rc;
    *th = tmp;
    return 0;
}
