/* Tests for proto/merkle: the transparency-dev/merkle vectors, known answers from RFC 6962's test
 * data, and property tests against a naive recursive reference written here from the RFC text. */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "encoding.h"
#include "error.h"
#include "merkle.h"

#define H 32

/* ---- Vectors ------------------------------------------------------------------------------ */

/* Our wire format and API carry only 32-byte hashes. A vector's root or leaf hash of another
 * length ("don't care", "WrongLeaf", "") cannot reach our verifier at all: a peer's message holding
 * one is refused by its framing. Such vectors are counted as unrepresentable and must be negative
 * ones, with one deliberate exception listed in stricter_than_go[]. A proof component of another
 * length ("preceding garbage") is replaced by an opaque 32-byte stand-in, SHA-256 of a label and
 * the value, so the verifier still sees a proof with one hash too many and must refuse it. */
static int standins;

/* Vectors the Go implementation accepts and samizdat refuses on purpose: with equal sizes Go only
 * compares the two roots as byte strings, of any length; samizdat's roots are always 32 bytes. */
static const char *const stricter_than_go[] = {"sizes-are-equal-one-and-proof-is-empty.json"};

/* Decodes base64 text into out; returns 1 if it is exactly 32 bytes, else 0 (out then holds the
 * stand-in). */
static int b64_hash(const char *text, uint8_t out[H]) {
    uint8_t raw[256];
    size_t raw_len = 0;
    assert_int_equal(sodium_base642bin(raw, sizeof(raw), text, strlen(text), NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    if (raw_len == H) {
        memcpy(out, raw, H);
        return 1;
    }
    static const char label[] = "samizdat test stand-in";
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *)label, sizeof(label));
    crypto_hash_sha256_update(&st, raw, raw_len);
    crypto_hash_sha256_final(&st, out);
    return 0;
}

static const char *json_str(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    assert_non_null(v);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Jansson cannot hold integers above INT64_MAX (leafIdx 2^64 - 1 appears), so files are parsed
 * with integers as reals and the exact value is read from the file's text, then cross-checked
 * against what Jansson saw. */
static char vector_text[16384];

static uint64_t json_u64(json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    assert_non_null(v);
    assert_true(json_is_number(v));
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "\"%s\"", key);
    const char *p = strstr(vector_text, quoted);
    assert_non_null(p);
    assert_null(strstr(p + 1, quoted));
    p += strlen(quoted);
    while (*p == ' ' || *p == ':')
        p++;
    assert_true(*p >= '0' && *p <= '9');
    char *end;
    unsigned long long x = strtoull(p, &end, 10);
    assert_true(*end == ',' || *end == '\n' || *end == ' ' || *end == '}');
    double approx = json_number_value(v);
    double diff = approx - (double)x;
    assert_true(diff < 1e-9 * (double)x + 0.5 && -diff < 1e-9 * (double)x + 0.5);
    return (uint64_t)x;
}

/* Returns a malloc'd concatenation of the proof's hashes and its byte length in *len. */
static uint8_t *json_proof(json_t *obj, size_t *len) {
    json_t *arr = json_object_get(obj, "proof");
    assert_non_null(arr);
    size_t n = json_is_null(arr) ? 0 : json_array_size(arr);
    if (!json_is_null(arr))
        assert_true(json_is_array(arr));
    uint8_t *buf = malloc(n * H + 1);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(arr, i);
        assert_true(json_is_string(item));
        if (!b64_hash(json_string_value(item), buf + i * H))
            standins++;
    }
    *len = n * H;
    return buf;
}

typedef struct vector_count_s {
    int inclusion_ok, inclusion_err, consistency_ok, consistency_err, unrepresentable, stricter;
} vector_count_t;

static void run_vector(const char *path, vector_count_t *count) {
    json_error_t jerr;
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t got = fread(vector_text, 1, sizeof(vector_text) - 1, fp);
    assert_true(got < sizeof(vector_text) - 1);
    vector_text[got] = 0;
    fclose(fp);
    json_t *v = json_loads(vector_text, JSON_DECODE_INT_AS_REAL, &jerr);
    if (v == NULL)
        fail_msg("%s: %s", path, jerr.text);
    json_t *want = json_object_get(v, "wantErr");
    assert_true(json_is_boolean(want));
    int want_err = json_is_true(want);
    size_t proof_len;
    uint8_t *proof = json_proof(v, &proof_len);
    int rc, representable;
    if (json_object_get(v, "leafIdx") != NULL) {
        uint8_t leaf[H], root[H];
        representable = b64_hash(json_str(v, "leafHash"), leaf);
        representable &= b64_hash(json_str(v, "root"), root);
        rc = sz_merkle_verify_inclusion(leaf, json_u64(v, "leafIdx"), json_u64(v, "treeSize"),
                                        proof, proof_len, root);
        if (want_err)
            count->inclusion_err++;
        else
            count->inclusion_ok++;
    } else {
        uint8_t root1[H], root2[H];
        representable = b64_hash(json_str(v, "root1"), root1);
        representable &= b64_hash(json_str(v, "root2"), root2);
        rc = sz_merkle_verify_consistency(json_u64(v, "size1"), json_u64(v, "size2"), root1, root2,
                                          proof, proof_len);
        if (want_err)
            count->consistency_err++;
        else
            count->consistency_ok++;
    }
    if (!representable) {
        count->unrepresentable++;
        const char *base = strrchr(path, '/') + 1;
        int stricter = 0;
        for (size_t i = 0; i < sizeof(stricter_than_go) / sizeof(stricter_than_go[0]); i++)
            stricter |= strcmp(base, stricter_than_go[i]) == 0;
        if (stricter) {
            assert_false(want_err);
            count->stricter++;
        } else if (!want_err) {
            fail_msg("%s: a positive vector with a hash that is not 32 bytes", path);
        }
    } else {
        if (want_err && rc != SZ_E_PROOF)
            fail_msg("%s: expected SZ_E_PROOF, got %d", path, rc);
        if (!want_err && rc != 0)
            fail_msg("%s: expected success, got %s", path, sz_errname(rc));
    }
    free(proof);
    json_decref(v);
}

static void walk_vectors(const char *dir, vector_count_t *count) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        fail_msg("cannot open %s", dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            walk_vectors(path, count);
            continue;
        }
        size_t nl = strlen(e->d_name);
        if (nl > 5 && strcmp(e->d_name + nl - 5, ".json") == 0)
            run_vector(path, count);
    }
    closedir(d);
}

static void test_vectors(void **state) {
    (void)state;
    const char *src = getenv("SZ_SOURCE_DIR");
    assert_non_null(src);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/tests/vectors/merkle", src);
    vector_count_t count = {0, 0, 0, 0, 0, 0};
    standins = 0;
    walk_vectors(dir, &count);
    print_message("merkle vectors: inclusion %d ok + %d err, consistency %d ok + %d err; "
                  "%d with a non-32-byte root or leaf (%d refused on purpose), %d stand-in proof "
                  "hashes\n",
                  count.inclusion_ok, count.inclusion_err, count.consistency_ok,
                  count.consistency_err, count.unrepresentable, count.stricter, standins);
    assert_int_equal(count.stricter, 1);
    /* 196 files were copied; all of them must have run. */
    assert_int_equal(count.inclusion_ok + count.inclusion_err + count.consistency_ok +
                         count.consistency_err,
                     196);
    assert_true(count.inclusion_ok > 0 && count.inclusion_err > 0);
    assert_true(count.consistency_ok > 0 && count.consistency_err > 0);
}

/* ---- Known answers (RFC 6962 test data of certificate-transparency) ----------------------- */

static const char *const kat_roots[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void test_known_roots(void **state) {
    (void)state;
    static const uint8_t l1[] = {0x00}, l2[] = {0x10}, l3[] = {0x20, 0x21}, l4[] = {0x30, 0x31},
                         l5[] = {0x40, 0x41, 0x42, 0x43},
                         l6[] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
                         l7[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
                                 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
    const uint8_t *leaves[8] = {NULL, l1, l2, l3, l4, l5, l6, l7};
    const size_t lens[8] = {0,          sizeof(l1), sizeof(l2), sizeof(l3),
                            sizeof(l4), sizeof(l5), sizeof(l6), sizeof(l7)};
    uint8_t got[H], want[H];
    sz_merkle_empty_root(got);
    assert_int_equal(
        sz_hex_decode(want, H, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        0);
    assert_memory_equal(got, want, H);
    sz_merkle_frontier_t f;
    sz_merkle_frontier_init(&f);
    sz_merkle_frontier_root(&f, got);
    assert_memory_equal(got, want, H);
    for (int i = 0; i < 8; i++) {
        uint8_t leaf[H];
        sz_merkle_leaf_hash(leaf, leaves[i], lens[i]);
        assert_int_equal(sz_merkle_frontier_append(&f, leaf, NULL, NULL), 0);
        sz_merkle_frontier_root(&f, got);
        assert_int_equal(sz_hex_decode(want, H, kat_roots[i]), 0);
        assert_memory_equal(got, want, H);
    }
}

/* ---- A naive reference and an in-memory store ---------------------------------------------- */

#define NMAX 300

typedef struct tree_s {
    uint64_t n;                          /* leaves held */
    uint8_t leaves[NMAX][H];             /* leaf hashes */
    uint8_t *levels[64];                 /* levels[l][i] = stored hash of subtree (l, i) */
    uint64_t nlevel[64];                 /* entries stored per level */
    uint64_t limit;                      /* the tree size the code under test may look at */
    int calls, fail_at, fail_rc;         /* fault injection: fail the fail_at'th call */
    uint8_t memo[NMAX + 1][NMAX + 1][H]; /* naive MTH(D[b:e]) cache */
    uint8_t memo_ok[NMAX + 1][NMAX + 1];
} tree_t;

static uint64_t ref_split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[b:e]) exactly as RFC 6962 section 2.1 defines it. */
static const uint8_t *ref_mth(tree_t *t, uint64_t b, uint64_t e) {
    if (t->memo_ok[b][e])
        return t->memo[b][e];
    if (e - b == 1) {
        memcpy(t->memo[b][e], t->leaves[b], H);
    } else {
        uint64_t k = ref_split(e - b);
        uint8_t buf[1 + 2 * H];
        buf[0] = 0x01;
        memcpy(buf + 1, ref_mth(t, b, b + k), H);
        memcpy(buf + 1 + H, ref_mth(t, b + k, e), H);
        crypto_hash_sha256(t->memo[b][e], buf, sizeof(buf));
    }
    t->memo_ok[b][e] = 1;
    return t->memo[b][e];
}

static void ref_root(tree_t *t, uint64_t n, uint8_t out[H]) {
    if (n == 0)
        crypto_hash_sha256(out, NULL, 0);
    else
        memcpy(out, ref_mth(t, 0, n), H);
}

/* PATH(m, D[b:e]) appended to out. */
static void ref_path(tree_t *t, uint64_t m, uint64_t b, uint64_t e, uint8_t *out, size_t *len) {
    if (e - b <= 1)
        return;
    uint64_t k = ref_split(e - b);
    if (m < k) {
        ref_path(t, m, b, b + k, out, len);
        memcpy(out + *len, ref_mth(t, b + k, e), H);
    } else {
        ref_path(t, m - k, b + k, e, out, len);
        memcpy(out + *len, ref_mth(t, b, b + k), H);
    }
    *len += H;
}

/* SUBPROOF(m, D[b:e], whole) appended to out. */
static void ref_subproof(tree_t *t, uint64_t m, uint64_t b, uint64_t e, int whole, uint8_t *out,
                         size_t *len) {
    if (m == e - b) {
        if (!whole) {
            memcpy(out + *len, ref_mth(t, b, e), H);
            *len += H;
        }
        return;
    }
    uint64_t k = ref_split(e - b);
    if (m <= k) {
        ref_subproof(t, m, b, b + k, whole, out, len);
        memcpy(out + *len, ref_mth(t, b + k, e), H);
    } else {
        ref_subproof(t, m - k, b + k, e, 0, out, len);
        memcpy(out + *len, ref_mth(t, b, b + k), H);
    }
    *len += H;
}

static int tree_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]) {
    tree_t *t = ctx;
    t->calls++;
    if (t->fail_at != 0 && t->calls == t->fail_at)
        return t->fail_rc;
    /* The contract: only subtrees wholly inside the size asked about. */
    assert_true(level < 64);
    assert_true(index < (t->limit >> level));
    assert_true(index < t->nlevel[level]);
    memcpy(out, t->levels[level] + index * H, H);
    return 0;
}

/* Builds a tree of NMAX distinct leaves through the frontier, storing every node it reports and
 * checking each against the reference; also checks the frontier's root and codec at every size. */
static tree_t *tree_build(void) {
    tree_t *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    for (int l = 0; l < 64; l++) {
        t->levels[l] = calloc(NMAX, H);
        assert_non_null(t->levels[l]);
    }
    sz_merkle_frontier_t f;
    sz_merkle_frontier_init(&f);
    for (uint64_t i = 0; i < NMAX; i++) {
        uint8_t leaf[8];
        for (int j = 0; j < 8; j++)
            leaf[j] = (uint8_t)(i >> (8 * j));
        sz_merkle_leaf_hash(t->leaves[i], leaf, sizeof(leaf));
        t->n = i + 1;
        sz_merkle_node_t nodes[SZ_MERKLE_MAX_LEVELS];
        size_t nn = 0;
        assert_int_equal(sz_merkle_frontier_append(&f, t->leaves[i], nodes, &nn), 0);
        assert_int_equal(f.size, i + 1);
        /* One node per trailing one bit of the old size, plus the leaf itself. */
        size_t want_nn = 1;
        for (uint64_t s = i; s & 1; s >>= 1)
            want_nn++;
        assert_int_equal(nn, want_nn);
        for (size_t j = 0; j < nn; j++) {
            assert_int_equal(nodes[j].level, j);
            uint64_t b = nodes[j].index << nodes[j].level;
            uint64_t e = (nodes[j].index + 1) << nodes[j].level;
            assert_int_equal(e, i + 1);
            assert_memory_equal(nodes[j].hash, ref_mth(t, b, e), H);
            assert_int_equal(nodes[j].index, t->nlevel[nodes[j].level]);
            memcpy(t->levels[nodes[j].level] + nodes[j].index * H, nodes[j].hash, H);
            t->nlevel[nodes[j].level]++;
        }
    }
    return t;
}

static void tree_free(tree_t *t) {
    for (int l = 0; l < 64; l++)
        free(t->levels[l]);
    free(t);
}

static int setup_tree(void **state) {
    *state = tree_build();
    return 0;
}

static int teardown_tree(void **state) {
    tree_free(*state);
    return 0;
}

/* ---- Property tests -------------------------------------------------------------------------- */

static void test_frontier_every_size(void **state) {
    tree_t *t = *state;
    sz_merkle_frontier_t f;
    sz_merkle_frontier_init(&f);
    for (uint64_t n = 0; n <= NMAX; n++) {
        uint8_t got[H], want[H];
        ref_root(t, n, want);
        sz_merkle_frontier_root(&f, got);
        assert_memory_equal(got, want, H);

        t->limit = n;
        assert_int_equal(sz_merkle_root(tree_get, t, n, got), 0);
        assert_memory_equal(got, want, H);

        sz_merkle_frontier_t rebuilt;
        assert_int_equal(sz_merkle_frontier_rebuild(&rebuilt, tree_get, t, n), 0);
        assert_memory_equal(&rebuilt, &f, sizeof(f));

        uint8_t buf[SZ_MERKLE_FRONTIER_MAX_LEN];
        size_t len = 0;
        assert_int_equal(sz_merkle_frontier_encode(&f, buf, sizeof(buf), &len), 0);
        assert_int_equal(len, sz_merkle_frontier_encoded_len(&f));
        sz_merkle_frontier_t back;
        assert_int_equal(sz_merkle_frontier_decode(&back, buf, len), 0);
        assert_memory_equal(&back, &f, sizeof(f));

        if (n < NMAX)
            assert_int_equal(sz_merkle_frontier_append(&f, t->leaves[n], NULL, NULL), 0);
    }
}

static void test_frontier_codec_rejects(void **state) {
    tree_t *t = *state;
    const uint64_t sizes[] = {0, 1, 2, 7, 8, 255, 300};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        sz_merkle_frontier_t f;
        sz_merkle_frontier_init(&f);
        for (uint64_t i = 0; i < sizes[s]; i++)
            assert_int_equal(sz_merkle_frontier_append(&f, t->leaves[i], NULL, NULL), 0);
        uint8_t buf[SZ_MERKLE_FRONTIER_MAX_LEN + 1];
        size_t len = 0;
        assert_int_equal(sz_merkle_frontier_encode(&f, buf, sizeof(buf), &len), 0);
        assert_int_equal(len, 17 + 32 * (size_t)__builtin_popcountll(sizes[s]));
        sz_merkle_frontier_t out, sentinel;
        memset(&sentinel, 0xa5, sizeof(sentinel));

        /* Too small a buffer. */
        assert_int_equal(sz_merkle_frontier_encode(&f, buf, len - 1, &len), SZ_E_TOO_LARGE);

        /* Every truncation and one trailing byte. */
        for (size_t cut = 0; cut < len; cut++) {
            out = sentinel;
            int rc = sz_merkle_frontier_decode(&out, buf, cut);
            assert_true(rc == SZ_E_TRUNCATED || rc == SZ_E_TRAILING || rc == SZ_E_CORRUPT);
            assert_memory_equal(&out, &sentinel, sizeof(out));
        }
        buf[len] = 0;
        assert_int_equal(sz_merkle_frontier_decode(&out, buf, len + 1), SZ_E_TRAILING);

        /* Every flipped bit. */
        for (size_t bit = 0; bit < len * 8; bit++) {
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
            out = sentinel;
            int rc = sz_merkle_frontier_decode(&out, buf, len);
            assert_true(rc == SZ_E_VERSION || rc == SZ_E_TRUNCATED || rc == SZ_E_TRAILING ||
                        rc == SZ_E_CORRUPT);
            assert_memory_equal(&out, &sentinel, sizeof(out));
            buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        assert_int_equal(sz_merkle_frontier_decode(&out, buf, len), 0);
    }
    sz_merkle_frontier_t f;
    assert_int_equal(sz_merkle_frontier_decode(&f, NULL, 0), SZ_E_TRUNCATED);
    const uint8_t v2[17] = {2};
    assert_int_equal(sz_merkle_frontier_decode(&f, v2, sizeof(v2)), SZ_E_VERSION);
}

static void flip(uint8_t *p, size_t bit) {
    p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static void test_inclusion_all(void **state) {
    tree_t *t = *state;
    long proofs = 0;
    for (uint64_t n = 1; n <= NMAX; n++) {
        uint8_t root[H];
        ref_root(t, n, root);
        t->limit = n;
        for (uint64_t m = 0; m < n; m++) {
            uint8_t proof[SZ_MERKLE_MAX_INCLUSION_LEN + H], want[SZ_MERKLE_MAX_INCLUSION_LEN];
            size_t len = 0, want_len = 0;
            assert_int_equal(sz_merkle_inclusion_proof(tree_get, t, m, n, proof, &len), 0);
            ref_path(t, m, 0, n, want, &want_len);
            assert_int_equal(len, want_len);
            assert_memory_equal(proof, want, len);
            assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len, root), 0);
            proofs++;

            /* Another leaf, another position, a shorter or longer proof, another root. */
            assert_int_equal(
                sz_merkle_verify_inclusion(t->leaves[(m + 1) % NMAX], m, n, proof, len, root),
                SZ_E_PROOF);
            if (n > 1) {
                assert_int_equal(
                    sz_merkle_verify_inclusion(t->leaves[m], (m + 1) % n, n, proof, len, root),
                    SZ_E_PROOF);
                assert_int_equal(
                    sz_merkle_verify_inclusion(t->leaves[m], m ^ 1, n, proof, len, root),
                    SZ_E_PROOF);
            }
            assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], n, n, proof, len, root),
                             SZ_E_PROOF);
            if (len > 0) {
                assert_int_equal(
                    sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len - H, root),
                    SZ_E_PROOF);
                assert_int_equal(
                    sz_merkle_verify_inclusion(t->leaves[m], m, n, proof + H, len - H, root),
                    SZ_E_PROOF);
                assert_int_equal(
                    sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len - 1, root),
                    SZ_E_PROOF);
            }
            memcpy(proof + len, root, H);
            assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len + H, root),
                             SZ_E_PROOF);
            /* A partial trailing hash is refused, not ignored. */
            assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len + 1, root),
                             SZ_E_PROOF);
            assert_int_equal(
                sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len + H - 1, root),
                SZ_E_PROOF);
            uint8_t other[H];
            ref_root(t, n - 1, other);
            assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len, other),
                             SZ_E_PROOF);
            /* The same proof under another size's true root only verifies if that size's proof
             * is byte for byte the same one. */
            if (n < NMAX) {
                uint8_t root_next[H], next[SZ_MERKLE_MAX_INCLUSION_LEN];
                size_t next_len = 0;
                ref_root(t, n + 1, root_next);
                ref_path(t, m, 0, n + 1, next, &next_len);
                if (next_len != len || memcmp(next, proof, len) != 0)
                    assert_int_equal(
                        sz_merkle_verify_inclusion(t->leaves[m], m, n + 1, proof, len, root_next),
                        SZ_E_PROOF);
            }
            /* Every flipped bit of a small sample of proofs; one bit per hash elsewhere. */
            size_t step = (n <= 20) ? 1 : 8 * H;
            for (size_t bit = 0; bit < len * 8; bit += step) {
                flip(proof, bit);
                assert_int_equal(sz_merkle_verify_inclusion(t->leaves[m], m, n, proof, len, root),
                                 SZ_E_PROOF);
                flip(proof, bit);
            }
        }
    }
    print_message("inclusion: %ld proofs generated and verified\n", proofs);
}

static void test_consistency_all(void **state) {
    tree_t *t = *state;
    long proofs = 0;
    size_t longest = 0;
    for (uint64_t n = 1; n <= NMAX; n++) {
        uint8_t root2[H];
        ref_root(t, n, root2);
        t->limit = n;
        for (uint64_t m = 1; m <= n; m++) {
            uint8_t root1[H];
            ref_root(t, m, root1);
            uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN + H], want[SZ_MERKLE_MAX_CONSISTENCY_LEN];
            size_t len = 0, want_len = 0;
            assert_int_equal(sz_merkle_consistency_proof(tree_get, t, m, n, proof, &len), 0);
            ref_subproof(t, m, 0, n, 1, want, &want_len);
            assert_int_equal(len, want_len);
            assert_memory_equal(proof, want, len);
            if (len > longest)
                longest = len;
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len), 0);
            proofs++;

            assert_int_equal(sz_merkle_verify_consistency(n, m, root2, root1, proof, len),
                             m == n ? 0 : SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(0, n, root1, root2, proof, len),
                             SZ_E_PROOF);
            if (m == n) {
                assert_int_equal(len, 0);
                uint8_t other[H];
                ref_root(t, n - 1 > 0 ? n - 1 : 1, other);
                if (memcmp(other, root1, H) != 0)
                    assert_int_equal(sz_merkle_verify_consistency(m, n, other, root2, NULL, 0),
                                     SZ_E_PROOF);
                memcpy(proof, root1, H);
                assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, H),
                                 SZ_E_PROOF);
                continue;
            }
            assert_true(len > 0);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, NULL, 0), SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len - H),
                             SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof + H, len - H),
                             SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len - 1),
                             SZ_E_PROOF);
            memcpy(proof + len, root2, H);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len + H),
                             SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len + 1),
                             SZ_E_PROOF);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len + H - 1),
                             SZ_E_PROOF);
            /* Swapped roots, and each root replaced by a neighbour's. */
            assert_int_equal(sz_merkle_verify_consistency(m, n, root2, root1, proof, len),
                             SZ_E_PROOF);
            uint8_t other[H];
            ref_root(t, m - 1 > 0 ? m - 1 : m + 1, other);
            assert_int_equal(sz_merkle_verify_consistency(m, n, other, root2, proof, len),
                             SZ_E_PROOF);
            ref_root(t, n - 1, other);
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, other, proof, len),
                             SZ_E_PROOF);
            size_t step = (n <= 20) ? 1 : 8 * H;
            for (size_t bit = 0; bit < len * 8; bit += step) {
                flip(proof, bit);
                assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root2, proof, len),
                                 SZ_E_PROOF);
                flip(proof, bit);
            }
        }
    }
    print_message("consistency: %ld proofs generated and verified, longest %zu hashes\n", proofs,
                  longest / H);
}

static void test_argument_checks(void **state) {
    tree_t *t = *state;
    uint8_t proof[SZ_MERKLE_MAX_PROOF_LEN];
    size_t len = 12345;
    t->limit = 10;
    assert_int_equal(sz_merkle_inclusion_proof(tree_get, t, 10, 10, proof, &len), SZ_E_ARGUMENT);
    assert_int_equal(sz_merkle_inclusion_proof(tree_get, t, 0, 0, proof, &len), SZ_E_ARGUMENT);
    assert_int_equal(sz_merkle_consistency_proof(tree_get, t, 0, 10, proof, &len), SZ_E_ARGUMENT);
    assert_int_equal(sz_merkle_consistency_proof(tree_get, t, 11, 10, proof, &len), SZ_E_ARGUMENT);
    assert_int_equal(len, 12345);
    assert_int_equal(sz_merkle_inclusion_proof(tree_get, t, 0, 1, proof, &len), 0);
    assert_int_equal(len, 0);

    uint8_t leaf[H] = {0}, root[H] = {0};
    assert_int_equal(sz_merkle_verify_inclusion(leaf, 0, 0, NULL, 0, root), SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_inclusion(leaf, UINT64_MAX, UINT64_MAX, NULL, 0, root),
                     SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_inclusion(leaf, 0, 2, NULL, H, root), SZ_E_PROOF);
    /* Too many hashes for any tree is refused before any hashing. */
    static uint8_t big[SZ_MERKLE_MAX_PROOF_LEN + H];
    assert_int_equal(
        sz_merkle_verify_inclusion(leaf, 0, UINT64_MAX, big, SZ_MERKLE_MAX_INCLUSION_LEN + H, root),
        SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_consistency(1, UINT64_MAX, leaf, root, big,
                                                  SZ_MERKLE_MAX_CONSISTENCY_LEN + H),
                     SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_consistency(0, 0, root, root, NULL, 0), SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_consistency(2, 1, root, root, NULL, 0), SZ_E_PROOF);
    assert_int_equal(sz_merkle_verify_consistency(1, 1, root, root, NULL, 0), 0);
}

/* Store errors reach the caller unchanged, whichever fetch fails. */
static void test_callback_errors(void **state) {
    tree_t *t = *state;
    uint8_t proof[SZ_MERKLE_MAX_PROOF_LEN], out[H];
    size_t len;
    const uint64_t n = 299, m = 77;
    t->limit = n;
    for (int which = 0; which < 4; which++) {
        for (int at = 1;; at++) {
            t->calls = 0;
            t->fail_at = at;
            t->fail_rc = (at % 2) ? SZ_E_NOT_FOUND : 7;
            int want = (at % 2) ? SZ_E_NOT_FOUND : SZ_E_STORE;
            int rc;
            sz_merkle_frontier_t f;
            switch (which) {
            case 0:
                rc = sz_merkle_root(tree_get, t, n, out);
                break;
            case 1:
                rc = sz_merkle_inclusion_proof(tree_get, t, m, n, proof, &len);
                break;
            case 2:
                rc = sz_merkle_consistency_proof(tree_get, t, m, n, proof, &len);
                break;
            default:
                rc = sz_merkle_frontier_rebuild(&f, tree_get, t, n);
                break;
            }
            if (t->calls < at) {
                /* Finished without reaching the failing call: every call has been covered. */
                assert_int_equal(rc, 0);
                assert_true(at > 1);
                break;
            }
            assert_int_equal(rc, want);
        }
    }
    t->fail_at = 0;
}

/* A virtual tree whose leaves are all equal, so that subtree (l, i) has a hash depending on l only
 * and trees of up to 2^64 - 1 leaves can be checked end to end. */
static uint8_t uniform[64][H];

static int uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]) {
    uint64_t limit = *(const uint64_t *)ctx;
    assert_true(level < 64);
    assert_true(index < (limit >> level));
    memcpy(out, uniform[level], H);
    return 0;
}

static void test_huge_trees(void **state) {
    (void)state;
    sz_merkle_leaf_hash(uniform[0], (const uint8_t *)"x", 1);
    for (int l = 1; l < 64; l++)
        sz_merkle_node_hash(uniform[l], uniform[l - 1], uniform[l - 1]);
    const uint64_t sizes[] = {UINT64_MAX,         UINT64_MAX - 1,     (1ull << 63) + 1,
                              (1ull << 63),       (1ull << 63) - 1,   (1ull << 62) + 12345,
                              0xaaaaaaaaaaaaaaaa, 0x5555555555555555, 3};
    const size_t ns = sizeof(sizes) / sizeof(sizes[0]);
    size_t longest_incl = 0, longest_cons = 0;
    for (size_t a = 0; a < ns; a++) {
        uint64_t n = sizes[a];
        uint8_t root[H];
        assert_int_equal(sz_merkle_root(uniform_get, &n, n, root), 0);
        sz_merkle_frontier_t f;
        assert_int_equal(sz_merkle_frontier_rebuild(&f, uniform_get, &n, n), 0);
        uint8_t froot[H];
        sz_merkle_frontier_root(&f, froot);
        assert_memory_equal(froot, root, H);
        const uint64_t ms[] = {0, 1, n / 2, n - 2, n - 1, (n - 1) & ~1ull, (1ull << 63) + 1};
        for (size_t b = 0; b < sizeof(ms) / sizeof(ms[0]); b++) {
            uint64_t m = ms[b];
            if (m >= n)
                continue;
            uint8_t proof[SZ_MERKLE_MAX_PROOF_LEN];
            size_t len;
            assert_int_equal(sz_merkle_inclusion_proof(uniform_get, &n, m, n, proof, &len), 0);
            assert_true(len <= SZ_MERKLE_MAX_INCLUSION_LEN);
            longest_incl = len > longest_incl ? len : longest_incl;
            assert_int_equal(sz_merkle_verify_inclusion(uniform[0], m, n, proof, len, root), 0);
            if (m == 0)
                continue;
            uint8_t root1[H];
            assert_int_equal(sz_merkle_root(uniform_get, &n, m, root1), 0);
            assert_int_equal(sz_merkle_consistency_proof(uniform_get, &n, m, n, proof, &len), 0);
            assert_true(len <= SZ_MERKLE_MAX_CONSISTENCY_LEN);
            longest_cons = len > longest_cons ? len : longest_cons;
            assert_int_equal(sz_merkle_verify_consistency(m, n, root1, root, proof, len), 0);
        }
    }
    /* The bounds in merkle.h are reached, not just respected. */
    assert_int_equal(longest_incl, SZ_MERKLE_MAX_INCLUSION_LEN);
    assert_int_equal(longest_cons, SZ_MERKLE_MAX_CONSISTENCY_LEN);

    /* The last possible append completes 64 subtrees; one more is refused. */
    uint64_t n = UINT64_MAX - 1;
    sz_merkle_frontier_t f;
    assert_int_equal(sz_merkle_frontier_rebuild(&f, uniform_get, &n, n), 0);
    sz_merkle_node_t nodes[SZ_MERKLE_MAX_LEVELS];
    size_t nn = 0;
    assert_int_equal(sz_merkle_frontier_append(&f, uniform[0], nodes, &nn), 0);
    assert_int_equal(nn, 1);
    assert_int_equal(f.size, UINT64_MAX);
    uint8_t before[H], after[H];
    sz_merkle_frontier_root(&f, before);
    n = UINT64_MAX;
    assert_int_equal(sz_merkle_root(uniform_get, &n, n, after), 0);
    assert_memory_equal(before, after, H);
    sz_merkle_frontier_t copy = f;
    assert_int_equal(sz_merkle_frontier_append(&f, uniform[0], nodes, &nn), SZ_E_TOO_LARGE);
    assert_memory_equal(&copy, &f, sizeof(f));
    uint8_t buf[SZ_MERKLE_FRONTIER_MAX_LEN];
    size_t len;
    assert_int_equal(sz_merkle_frontier_encode(&f, buf, sizeof(buf), &len), 0);
    assert_int_equal(len, SZ_MERKLE_FRONTIER_MAX_LEN);
    assert_int_equal(sz_merkle_frontier_decode(&copy, buf, len), 0);
    assert_memory_equal(&copy, &f, sizeof(f));

    /* 2^63 - 1 leaves: the next append completes every level from 0 to 63. */
    n = (1ull << 63) - 1;
    assert_int_equal(sz_merkle_frontier_rebuild(&f, uniform_get, &n, n), 0);
    assert_int_equal(sz_merkle_frontier_append(&f, uniform[0], nodes, &nn), 0);
    assert_int_equal(nn, 64);
    for (unsigned l = 0; l < 64; l++) {
        assert_int_equal(nodes[l].level, l);
        assert_int_equal(nodes[l].index, ((1ull << 63) - 1) >> l);
        assert_memory_equal(nodes[l].hash, uniform[l], H);
    }
}

/* ---- Signed tree heads ----------------------------------------------------------------------- */

static void test_tree_head(void **state) {
    (void)state;
    uint8_t pk[32];
    uint8_t *sk = sodium_malloc(64);
    assert_non_null(sk);
    assert_int_equal(crypto_sign_keypair(pk, sk), 0);

    sz_tree_head_t th;
    memset(&th, 0, sizeof(th));
    th.size = 0x0102030405060708ull;
    for (int i = 0; i < H; i++)
        th.root[i] = (uint8_t)(0xa0 + i);
    th.timestamp = 1790000000123ull;
    assert_int_equal(sz_tree_head_sign(&th, sk), 0);
    assert_memory_equal(th.node_key, pk, 32);
    assert_int_equal(sz_tree_head_verify(&th), 0);

    uint8_t enc[SZ_TREE_HEAD_LEN + 1];
    sz_tree_head_encode(enc, &th);
    /* The layout, checked byte by byte against the spec rather than against the decoder. */
    static const uint8_t size_be[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal(enc, size_be, 8);
    assert_memory_equal(enc + 8, th.root, H);
    static const uint8_t ts_be[8] = {0x00, 0x00, 0x01, 0xa0, 0xc4, 0x50, 0x6c, 0x7b};
    assert_memory_equal(enc + 40, ts_be, 8);
    assert_memory_equal(enc + 48, pk, 32);
    assert_memory_equal(enc + 80, th.signature, 64);
    uint8_t msg[22 + 80];
    memcpy(msg, "samizdat tree head v1", 21);
    msg[21] = 0;
    memcpy(msg + 22, enc, 80);
    assert_int_equal(crypto_sign_verify_detached(enc + 80, msg, sizeof(msg), pk), 0);

    sz_tree_head_t back, sentinel;
    memset(&sentinel, 0x5a, sizeof(sentinel));
    assert_int_equal(sz_tree_head_open(&back, enc, SZ_TREE_HEAD_LEN), 0);
    assert_int_equal(back.size, th.size);
    assert_int_equal(back.timestamp, th.timestamp);
    assert_memory_equal(back.root, th.root, H);
    assert_memory_equal(back.node_key, pk, 32);
    assert_memory_equal(back.signature, th.signature, 64);

    for (size_t cut = 0; cut < SZ_TREE_HEAD_LEN; cut++) {
        back = sentinel;
        assert_int_equal(sz_tree_head_open(&back, enc, cut), SZ_E_TRUNCATED);
        assert_memory_equal(&back, &sentinel, sizeof(back));
    }
    enc[SZ_TREE_HEAD_LEN] = 0;
    assert_int_equal(sz_tree_head_open(&back, enc, SZ_TREE_HEAD_LEN + 1), SZ_E_TRAILING);
    for (size_t bit = 0; bit < SZ_TREE_HEAD_LEN * 8; bit++) {
        flip(enc, bit);
        back = sentinel;
        int rc = sz_tree_head_open(&back, enc, SZ_TREE_HEAD_LEN);
        if (rc != SZ_E_SIGNATURE && rc != SZ_E_MALFORMED)
            fail_msg("bit %zu: %s", bit, sz_errname(rc));
        assert_memory_equal(&back, &sentinel, sizeof(back));
        flip(enc, bit);
    }
    assert_int_equal(sz_tree_head_open(&back, enc, SZ_TREE_HEAD_LEN), 0);

    /* Another key's signature, and a secret key with a wrong public half. */
    uint8_t pk2[32];
    uint8_t *sk2 = sodium_malloc(64);
    assert_non_null(sk2);
    assert_int_equal(crypto_sign_keypair(pk2, sk2), 0);
    memcpy(back.node_key, pk2, 32);
    assert_int_equal(sz_tree_head_verify(&back), SZ_E_SIGNATURE);
    memcpy(sk2 + 32, pk, 32);
    assert_int_equal(sz_tree_head_sign(&back, sk2), SZ_E_KEY);

    /* The empty tree: only the empty root is allowed, when signing and when decoding. */
    sz_tree_head_t empty;
    memset(&empty, 0, sizeof(empty));
    empty.timestamp = 1;
    assert_int_equal(sz_tree_head_sign(&empty, sk), SZ_E_ARGUMENT);
    sz_merkle_empty_root(empty.root);
    assert_int_equal(sz_tree_head_sign(&empty, sk), 0);
    sz_tree_head_encode(enc, &empty);
    assert_int_equal(sz_tree_head_open(&back, enc, SZ_TREE_HEAD_LEN), 0);
    enc[8] ^= 1;
    assert_int_equal(sz_tree_head_decode(&back, enc, SZ_TREE_HEAD_LEN), SZ_E_MALFORMED);

    sodium_free(sk);
    sodium_free(sk2);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_known_roots),
        cmocka_unit_test_setup_teardown(test_frontier_every_size, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_frontier_codec_rejects, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_inclusion_all, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_consistency_all, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_argument_checks, setup_tree, teardown_tree),
        cmocka_unit_test_setup_teardown(test_callback_errors, setup_tree, teardown_tree),
        cmocka_unit_test(test_huge_trees),
        cmocka_unit_test(test_tree_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
