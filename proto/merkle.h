/* The tamper-evident log: an RFC 6962 Merkle tree of SHA-256 hashes, its proofs, and signed tree
 * heads.
 *
 * proto/MERKLE.md is the normative specification; this header is the C contract. Everything here
 * is pure computation: the storage of node hashes belongs to the caller (the daemon's store), which
 * hands hashes in through sz_merkle_get_cb.
 *
 * Terms. A leaf hash is SHA-256(0x00 || leaf) and a node hash SHA-256(0x01 || left || right). The
 * perfect subtree (level, index) covers the 2^level leaves [index << level, (index + 1) << level);
 * its hash is a leaf hash when level is 0. A tree of n < 2^64 leaves only ever needs levels 0..63.
 * A proof on the wire is the plain concatenation of its 32-byte hashes, in the order RFC 6962
 * section 2.1 defines; every length below named *_len counts bytes, always a multiple of 32.
 *
 * Every function is pure and thread-safe (no globals); call sodium_init() once before any of them.
 * Nothing here allocates except sz_tree_head_sign (one sodium_malloc, freed before it returns). */
#ifndef SZ_MERKLE_H
#define SZ_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define SZ_MERKLE_HASH_LEN 32
#define SZ_MERKLE_MAX_LEVELS 64
/* The longest inclusion proof (a tree of more than 2^63 leaves) and consistency proof. */
#define SZ_MERKLE_MAX_INCLUSION_LEN (64 * SZ_MERKLE_HASH_LEN)
#define SZ_MERKLE_MAX_CONSISTENCY_LEN (65 * SZ_MERKLE_HASH_LEN)
#define SZ_MERKLE_MAX_PROOF_LEN SZ_MERKLE_MAX_CONSISTENCY_LEN

/* Writes SHA-256(0x00 || leaf) to out. leaf (borrowed) may be NULL when len is 0. In samizdat a
 * leaf is the 32-byte version hash of an accepted record. */
void sz_merkle_leaf_hash(uint8_t out[static 32], const uint8_t *leaf, size_t len);

/* Writes SHA-256(0x01 || left || right) to out. out may alias left or right. */
void sz_merkle_node_hash(uint8_t out[static 32], const uint8_t left[static 32],
                         const uint8_t right[static 32]);

/* Writes the root of the empty tree, SHA-256 of no bytes, to out. */
void sz_merkle_empty_root(uint8_t out[static 32]);

/* ---- The frontier: the log's running state ----------------------------------------------- */

/* The frontier (a "compact range" covering [0, size)) holds the roots of the perfect subtrees
 * that make up the tree so far: roots[l] is the hash of subtree (l, (size >> l) - 1) whenever bit
 * l of size is set, and is unused (kept zero) otherwise. It is a plain value: copy it freely. */
typedef struct sz_merkle_frontier_s sz_merkle_frontier_t;
struct sz_merkle_frontier_s {
    uint64_t size;
    uint8_t roots[SZ_MERKLE_MAX_LEVELS][SZ_MERKLE_HASH_LEN];
};

/* One perfect subtree hash that came into existence: what the store persists under
 * (level, index). */
typedef struct sz_merkle_node_s sz_merkle_node_t;
struct sz_merkle_node_s {
    unsigned level;
    uint64_t index;
    uint8_t hash[SZ_MERKLE_HASH_LEN];
};

/* Sets f to the empty tree. */
void sz_merkle_frontier_init(sz_merkle_frontier_t *f);

/* Appends one leaf, given by its leaf hash (borrowed), as leaf number f->size. When nodes is not
 * NULL it receives (caller's array of SZ_MERKLE_MAX_LEVELS entries) every perfect subtree hash
 * that exists from now on and did not before: first (0, i, leaf_hash), then each completed parent
 * in ascending level, and *nnodes their count (1..64). Amortised cost is two SHA-256 blocks.
 * Returns 0, or SZ_E_TOO_LARGE when the tree already holds 2^64 - 1 leaves (f is unchanged). */
int sz_merkle_frontier_append(sz_merkle_frontier_t *f, const uint8_t leaf_hash[static 32],
                              sz_merkle_node_t *nodes, size_t *nnodes);

/* Writes the root hash of the tree of f->size leaves to out (the empty root for size 0). Costs
 * one SHA-256 per set bit of the size beyond the first. */
void sz_merkle_frontier_root(const sz_merkle_frontier_t *f, uint8_t out[static 32]);

/* The serialised frontier: 0x01 (format) || size u64 big-endian || the roots of the set bits of
 * size from the highest level down (left to right in the tree) || the first 8 bytes of SHA-256 of
 * everything before them. Its length is 17 + 32 * popcount(size). */
#define SZ_MERKLE_FRONTIER_FORMAT 1
#define SZ_MERKLE_FRONTIER_MAX_LEN (1 + 8 + SZ_MERKLE_MAX_LEVELS * SZ_MERKLE_HASH_LEN + 8)

/* Returns the serialised length of f. */
size_t sz_merkle_frontier_encoded_len(const sz_merkle_frontier_t *f);

/* Writes f into out (caller's buffer of out_cap bytes; SZ_MERKLE_FRONTIER_MAX_LEN always
 * suffices) and its length to *out_len. Returns 0, or SZ_E_TOO_LARGE if out_cap is too small. */
int sz_merkle_frontier_encode(const sz_merkle_frontier_t *f, uint8_t *out, size_t out_cap,
                              size_t *out_len);

/* Parses a serialised frontier (borrowed) into f, strictly: the exact length for its size, the
 * format byte and the checksum. f is written only on success. Returns 0, SZ_E_TRUNCATED,
 * SZ_E_TRAILING, SZ_E_VERSION (unknown format byte) or SZ_E_CORRUPT (checksum mismatch). */
int sz_merkle_frontier_decode(sz_merkle_frontier_t *f, const uint8_t *in, size_t len);

/* ---- Hashes and proofs from stored subtrees ---------------------------------------------- */

/* Supplies the hash of perfect subtree (level, index) into out (32 bytes). It is only ever asked
 * for subtrees that lie wholly inside the tree size the caller passed. Returns 0 or a negative
 * error code, which the calling function returns unchanged (a positive value is taken as
 * SZ_E_STORE). */
typedef int (*sz_merkle_get_cb)(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

/* Rebuilds into f the frontier of a tree of size leaves, fetching popcount(size) subtree hashes.
 * Useful when a stored frontier is lost or corrupt. f is written only on success. Returns 0 or the
 * callback's error. */
int sz_merkle_frontier_rebuild(sz_merkle_frontier_t *f, sz_merkle_get_cb get, void *ctx,
                               uint64_t size);

/* Writes MTH(D[0:n]), the root of the tree of the first n leaves, to out, fetching at most 64
 * subtree hashes. n may be 0 (the empty root). Returns 0 or the callback's error. */
int sz_merkle_root(sz_merkle_get_cb get, void *ctx, uint64_t n, uint8_t out[static 32]);

/* Writes PATH(m, D[0:n]) (RFC 6962 section 2.1.1), the inclusion proof of leaf m in the tree of n
 * leaves, into proof (caller's buffer of SZ_MERKLE_MAX_INCLUSION_LEN bytes) and its byte length to
 * *proof_len. Returns 0, SZ_E_ARGUMENT when m >= n, or the callback's error. */
int sz_merkle_inclusion_proof(sz_merkle_get_cb get, void *ctx, uint64_t m, uint64_t n,
                              uint8_t proof[static SZ_MERKLE_MAX_INCLUSION_LEN], size_t *proof_len);

/* Writes PROOF(m, D[0:n]) (RFC 6962 section 2.1.2), the consistency proof between the trees of m
 * and n leaves, into proof (caller's buffer of SZ_MERKLE_MAX_CONSISTENCY_LEN bytes) and its byte
 * length to *proof_len. m == n gives the empty proof. Returns 0, SZ_E_ARGUMENT when m == 0 or
 * m > n, or the callback's error. */
int sz_merkle_consistency_proof(sz_merkle_get_cb get, void *ctx, uint64_t m, uint64_t n,
                                uint8_t proof[static SZ_MERKLE_MAX_CONSISTENCY_LEN],
                                size_t *proof_len);

/* ---- Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ------------------------------- */

/* Checks that leaf_hash is leaf number index of the tree of size leaves whose root is root, given
 * an inclusion proof (borrowed, proof_len bytes; NULL allowed when proof_len is 0). Returns 0, or
 * SZ_E_PROOF when index >= size, proof_len is not a multiple of 32, the proof has the wrong number
 * of hashes for (index, size), or the computed root differs. */
int sz_merkle_verify_inclusion(const uint8_t leaf_hash[static 32], uint64_t index, uint64_t size,
                               const uint8_t *proof, size_t proof_len,
                               const uint8_t root[static 32]);

/* Checks that the tree of size1 leaves with root1 is a prefix of the tree of size2 leaves with
 * root2, given a consistency proof (borrowed, proof_len bytes; NULL allowed when 0). Equal sizes
 * need an empty proof and equal roots. Returns 0, or SZ_E_PROOF when size1 == 0 (nothing to prove;
 * see MERKLE.md), size1 > size2, proof_len is not a multiple of 32 or holds the wrong number of
 * hashes, or either computed root differs. */
int sz_merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t root1[static 32],
                                 const uint8_t root2[static 32], const uint8_t *proof,
                                 size_t proof_len);

/* ---- Signed tree heads ------------------------------------------------------------------- */

/* A tree head: a node's signed statement that its log held size leaves with this root at
 * timestamp (milliseconds since the Unix epoch, UTC). Encoded as exactly SZ_TREE_HEAD_LEN bytes:
 * size u64 BE || root || timestamp u64 BE || node_key || signature, where the Ed25519 signature
 * covers SZ_TREE_HEAD_DOMAIN || 0x00 || the 80 bytes before it. */
#define SZ_TREE_HEAD_DOMAIN "samizdat tree head v1" /* signed as these 21 bytes and a 0x00 */
#define SZ_TREE_HEAD_LEN (8 + 32 + 8 + 32 + 64)

typedef struct sz_tree_head_s sz_tree_head_t;
struct sz_tree_head_s {
    uint64_t size;
    uint8_t root[SZ_MERKLE_HASH_LEN];
    uint64_t timestamp;
    uint8_t node_key[32];  /* Ed25519 public key of the signing node */
    uint8_t signature[64]; /* written by sz_tree_head_sign */
};

/* Signs th (size, root and timestamp filled in by the caller) with sk (borrowed; libsodium's
 * 64-byte Ed25519 secret key, public key in its second half), setting node_key and signature. The
 * public half is checked against the seed first, since signing under a wrong public key can leak
 * the secret key. Returns 0, SZ_E_ARGUMENT (size 0 with a root other than the empty root), SZ_E_KEY
 * SZ_E_CRYPTO or -ENOMEM. */
int sz_tree_head_sign(sz_tree_head_t *th, const uint8_t sk[static 64]);

/* Writes the SZ_TREE_HEAD_LEN-byte encoding of th to out. */
void sz_tree_head_encode(uint8_t out[static SZ_TREE_HEAD_LEN], const sz_tree_head_t *th);

/* Parses exactly SZ_TREE_HEAD_LEN bytes (borrowed) into th, without checking the signature. th is
 * written only on success. Returns 0, SZ_E_TRUNCATED, SZ_E_TRAILING, or SZ_E_MALFORMED when size
 * is 0 and the root is not the empty root. */
int sz_tree_head_decode(sz_tree_head_t *th, const uint8_t *in, size_t len);

/* Checks th's signature under th->node_key with libsodium's strict rules. Whether that key is the
 * expected node is the caller's question. Returns 0 or SZ_E_SIGNATURE. */
int sz_tree_head_verify(const sz_tree_head_t *th);

/* Decodes and verifies in one call: what a mirror does with a head from the network. in is
 * borrowed; th is written only on success. Returns 0 or any error of the two calls above. */
int sz_tree_head_open(sz_tree_head_t *th, const uint8_t *in, size_t len);

#endif
