/* Unit tests of the audit server side (daemon/audit.h) over a real store: signed heads verify,
 * consistency proofs verify from every earlier size, possession digests equal SHA-256(nonce ||
 * envelope) computed here, inclusion proofs verify, bounds hold, and every class of malformed
 * request is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "audit.h"
#include "encoding.h"
#include "error.h"
#include "merkle.h"
#include "msg.h"
#include "record.h"
#include "store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NREC 21
#define T0 1764000000000ull

typedef struct fx_s {
    char dir[64];
    sz_store_t *st;
    uint8_t pk[32], sk[64];
    uint8_t *env[NREC + 8];
    size_t len[NREC + 8];
    uint8_t hash[NREC + 8][32];
    size_t n;
} fx_t;

static void add_records(fx_t *f, size_t count) {
    for (size_t k = 0; k < count; k++) {
        size_t i = f->n;
        char body[512];
        snprintf(body, sizeof body,
                 "{\"title\":\"Audit %zu\",\"statement\":{\"text\":\"Fictional statement %zu\","
                 "\"language\":\"en\"},\"witness\":{\"role\":\"civilian\"},"
                 "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"other\"]}",
                 i, i);
        sz_record_fields_t rf = {.kind = SZ_KIND_TESTIMONY,
                                 .created = T0 + i,
                                 .body = (const uint8_t *)body,
                                 .body_len = (uint32_t)strlen(body)};
        assert_int_equal(sz_record_sign(&rf, f->sk, &f->env[i], &f->len[i]), 0);
        crypto_hash_sha256(f->hash[i], f->env[i], f->len[i]);
        sz_put_result_t res;
        const uint8_t *e = f->env[i];
        assert_int_equal(sz_store_put_batch(f->st, &e, &f->len[i], 1, &res), 0);
        assert_int_equal(res.err, 0);
        assert_int_equal(res.seq, i);
        f->n++;
    }
}

static int setup(void **state) {
    fx_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sz-test-audit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(sz_store_open(&f->st, f->dir, NULL), 0);
    crypto_sign_keypair(f->pk, f->sk);
    add_records(f, NREC);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    sz_store_close(f->st);
    for (size_t i = 0; i < f->n; i++)
        free(f->env[i]);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs one request; returns the code and fills r on success. */
static int ask(fx_t *f, uint8_t type, const uint8_t *req, size_t len, sz_audit_reply_t *r) {
    const char *why = NULL;
    int rc = sz_audit_answer(f->st, f->sk, T0, type, req, len, r, &why);
    assert_non_null(why);
    if (rc < 0) {
        assert_true(why[0] != '\0');
        assert_null(r->payload);
    }
    return rc;
}

static void head(fx_t *f, uint64_t from, sz_tree_head_t *th, uint8_t *proof, size_t *plen) {
    uint8_t req[8];
    size_t n;
    sz_msg_audit_head_t q = {.from_size = from};
    assert_int_equal(sz_msg_audit_head_encode(&q, req, sizeof req, &n), 0);
    sz_audit_reply_t r;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, req, n, &r), 0);
    assert_int_equal(r.type, SZ_MSG_AUDIT_HEAD_OK);
    sz_msg_audit_head_ok_t m;
    assert_int_equal(sz_msg_audit_head_ok_decode(&m, r.payload, r.len), 0);
    *th = m.head;
    memcpy(proof, m.proof, m.proof_len);
    *plen = m.proof_len;
    free(r.payload);
}

static void expect_digest(const uint8_t nonce[32], const uint8_t *env, size_t len,
                          const uint8_t got[32]) {
    uint8_t *buf = malloc(32 + len);
    assert_non_null(buf);
    memcpy(buf, nonce, 32);
    memcpy(buf + 32, env, len);
    uint8_t want[32];
    crypto_hash_sha256(want, buf, 32 + len);
    free(buf);
    assert_memory_equal(want, got, 32);
    uint8_t d[32];
    sz_audit_digest(d, nonce, env, len);
    assert_memory_equal(want, d, 32);
}

/* ---- AUDIT_HEAD ---- */

static void test_head_signed(void **state) {
    fx_t *f = *state;
    sz_tree_head_t th;
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    size_t plen;
    head(f, 0, &th, proof, &plen);
    assert_int_equal(plen, 0);
    assert_int_equal(th.size, NREC);
    assert_int_equal(th.timestamp, T0);
    assert_memory_equal(th.node_key, f->pk, 32);
    assert_int_equal(sz_tree_head_verify(&th), 0);
    uint8_t root[32];
    assert_int_equal(sz_store_tree_root(f->st, NREC, root), 0);
    assert_memory_equal(th.root, root, 32);
    /* The root is the RFC 6962 root of the version hashes in log order. */
    sz_merkle_frontier_t fr;
    sz_merkle_frontier_init(&fr);
    for (size_t i = 0; i < f->n; i++) {
        uint8_t leaf[32];
        sz_merkle_leaf_hash(leaf, f->hash[i], 32);
        assert_int_equal(sz_merkle_frontier_append(&fr, leaf, NULL, NULL), 0);
    }
    sz_merkle_frontier_root(&fr, root);
    assert_memory_equal(th.root, root, 32);
    /* A flipped bit of the signed bytes breaks the signature. */
    th.size--;
    assert_int_not_equal(sz_tree_head_verify(&th), 0);
}

static void test_head_consistency(void **state) {
    fx_t *f = *state;
    uint8_t old_roots[NREC + 1][32];
    for (uint64_t m = 1; m <= NREC; m++)
        assert_int_equal(sz_store_tree_root(f->st, m, old_roots[m]), 0);
    add_records(f, 5); /* the log grows after the auditor's earlier heads */
    for (uint64_t m = 1; m <= NREC; m++) {
        sz_tree_head_t th;
        uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
        size_t plen;
        head(f, m, &th, proof, &plen);
        assert_int_equal(th.size, NREC + 5);
        assert_int_equal(
            sz_merkle_verify_consistency(m, th.size, old_roots[m], th.root, proof, plen), 0);
        /* Against another earlier root (a rewritten history) the proof fails. */
        uint8_t other[32];
        memcpy(other, old_roots[m], 32);
        other[0] ^= 1;
        assert_int_equal(sz_merkle_verify_consistency(m, th.size, other, th.root, proof, plen),
                         SZ_E_PROOF);
    }
    /* From the current size: an empty proof. */
    sz_tree_head_t th;
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    size_t plen = 99;
    head(f, NREC + 5, &th, proof, &plen);
    assert_int_equal(plen, 0);
}

static void test_head_beyond_log(void **state) {
    fx_t *f = *state;
    uint8_t req[8];
    size_t n;
    sz_msg_audit_head_t q = {.from_size = NREC + 1};
    assert_int_equal(sz_msg_audit_head_encode(&q, req, sizeof req, &n), 0);
    sz_audit_reply_t r;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, req, n, &r), SZ_E_ARGUMENT);
    q.from_size = UINT64_MAX;
    assert_int_equal(sz_msg_audit_head_encode(&q, req, sizeof req, &n), 0);
    assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, req, n, &r), SZ_E_ARGUMENT);
}

static void test_head_malformed(void **state) {
    fx_t *f = *state;
    uint8_t req[9] = {0};
    sz_audit_reply_t r;
    for (size_t n = 0; n < 8; n++)
        assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, req, n, &r), SZ_E_MALFORMED);
    assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, req, 9, &r), SZ_E_MALFORMED);
    assert_int_equal(ask(f, SZ_MSG_AUDIT_HEAD, NULL, 0, &r), SZ_E_MALFORMED);
    /* Not an audit request at all. */
    assert_int_equal(ask(f, SZ_MSG_GET, req, 8, &r), SZ_E_PROTOCOL);
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROOF, req, 8, &r), SZ_E_PROTOCOL);
}

/* ---- AUDIT_PROVE ---- */

static void prove(fx_t *f, const sz_msg_audit_prove_t *q, sz_msg_audit_proof_t *m,
                  sz_audit_reply_t *r) {
    static uint8_t req[32 + 8 + 1 + SZ_MSG_MAX_PROVE * 33];
    size_t n;
    assert_int_equal(sz_msg_audit_prove_encode(q, req, sizeof req, &n), 0);
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, n, r), 0);
    assert_int_equal(r->type, SZ_MSG_AUDIT_PROOF);
    assert_int_equal(sz_msg_audit_proof_decode(m, r->payload, r->len), 0);
    assert_int_equal(m->count, q->count);
}

static void test_prove_by_hash(void **state) {
    fx_t *f = *state;
    sz_msg_audit_prove_t q;
    memset(&q, 0, sizeof q);
    randombytes_buf(q.nonce, 32);
    q.count = 4;
    memcpy(q.items[0].version_hash, f->hash[0], 32);
    memcpy(q.items[1].version_hash, f->hash[NREC - 1], 32);
    randombytes_buf(q.items[2].version_hash, 32); /* not held */
    memcpy(q.items[3].version_hash, f->hash[7], 32);
    sz_msg_audit_proof_t m;
    sz_audit_reply_t r;
    prove(f, &q, &m, &r);
    size_t idx[4] = {0, NREC - 1, 0, 7};
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(m.items[i].version_hash, q.items[i].version_hash, 32);
        assert_int_equal(m.items[i].proof_len, 0);
        if (i == 2) {
            assert_int_equal(m.items[i].status, SZ_PROVE_NOT_HELD);
            assert_true(sodium_is_zero(m.items[i].digest, 32));
            continue;
        }
        assert_int_equal(m.items[i].status, SZ_PROVE_OK);
        expect_digest(q.nonce, f->env[idx[i]], f->len[idx[i]], m.items[i].digest);
    }
    uint8_t first[32];
    memcpy(first, m.items[0].digest, 32);
    free(r.payload);
    /* A fresh nonce gives a different digest: answers cannot be replayed. */
    q.nonce[0] ^= 0x80;
    prove(f, &q, &m, &r);
    assert_memory_not_equal(first, m.items[0].digest, 32);
    expect_digest(q.nonce, f->env[0], f->len[0], m.items[0].digest);
    free(r.payload);
}

/* A version purged by its author's retraction is answered as PURGED, not as an error that fails
 * the whole request: the node holds only its hash and the tombstone, as it should. */
static void test_prove_purged(void **state) {
    fx_t *f = *state;
    char body[256], hex[65];
    sz_hex_encode(hex, f->hash[3], 32);
    int blen =
        snprintf(body, sizeof body,
                 "{\"record\":\"%s\",\"versions\":[\"%s\"],\"reason\":\"danger\"}", hex, hex);
    sz_record_fields_t rf = {.kind = SZ_KIND_RETRACTION,
                             .created = T0 + 1000,
                             .body = (const uint8_t *)body,
                             .body_len = (uint32_t)blen};
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(sz_record_sign(&rf, f->sk, &env, &len), 0);
    sz_put_result_t res;
    const uint8_t *e = env;
    assert_int_equal(sz_store_put_batch(f->st, &e, &len, 1, &res), 0);
    assert_int_equal(res.err, 0);
    free(env);

    sz_msg_audit_prove_t q;
    memset(&q, 0, sizeof q);
    randombytes_buf(q.nonce, 32);
    q.count = 2;
    memcpy(q.items[0].version_hash, f->hash[3], 32);
    memcpy(q.items[1].version_hash, f->hash[4], 32);
    sz_msg_audit_proof_t m;
    sz_audit_reply_t r;
    prove(f, &q, &m, &r);
    assert_int_equal(m.items[0].status, SZ_PROVE_PURGED);
    assert_int_equal(m.items[1].status, SZ_PROVE_OK);
    expect_digest(q.nonce, f->env[4], f->len[4], m.items[1].digest);
    free(r.payload);
}

static void test_prove_by_index(void **state) {
    fx_t *f = *state;
    uint64_t sizes[] = {1, 2, 7, NREC};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t size = sizes[s];
        sz_msg_audit_prove_t q;
        memset(&q, 0, sizeof q);
        randombytes_buf(q.nonce, 32);
        q.tree_size = size;
        q.count = (uint8_t)size;
        for (uint64_t i = 0; i < size; i++) {
            q.items[i].by = SZ_PROVE_BY_INDEX;
            q.items[i].index = size - 1 - i;
        }
        uint8_t root[32];
        assert_int_equal(sz_store_tree_root(f->st, size, root), 0);
        sz_msg_audit_proof_t m;
        sz_audit_reply_t r;
        prove(f, &q, &m, &r);
        for (uint64_t i = 0; i < size; i++) {
            uint64_t leaf_index = size - 1 - i;
            assert_int_equal(m.items[i].status, SZ_PROVE_OK);
            assert_memory_equal(m.items[i].version_hash, f->hash[leaf_index], 32);
            uint8_t leaf[32];
            sz_merkle_leaf_hash(leaf, m.items[i].version_hash, 32);
            assert_int_equal(sz_merkle_verify_inclusion(leaf, leaf_index, size, m.items[i].proof,
                                                        m.items[i].proof_len, root),
                             0);
            /* The proof is for that leaf only. */
            if (size > 1)
                assert_int_equal(sz_merkle_verify_inclusion(leaf, (leaf_index + 1) % size, size,
                                                            m.items[i].proof, m.items[i].proof_len,
                                                            root),
                                 SZ_E_PROOF);
            expect_digest(q.nonce, f->env[leaf_index], f->len[leaf_index], m.items[i].digest);
        }
        free(r.payload);
    }
}

static void test_prove_mixed_and_bad_index(void **state) {
    fx_t *f = *state;
    sz_msg_audit_prove_t q;
    memset(&q, 0, sizeof q);
    randombytes_buf(q.nonce, 32);
    /* A tree size beyond the log: every by-index item is BAD_INDEX, by-hash items still work. */
    q.tree_size = NREC + 10;
    q.count = 3;
    q.items[0].by = SZ_PROVE_BY_INDEX;
    q.items[0].index = 0;
    q.items[1].by = SZ_PROVE_BY_HASH;
    memcpy(q.items[1].version_hash, f->hash[3], 32);
    q.items[2].by = SZ_PROVE_BY_INDEX;
    q.items[2].index = NREC + 5;
    sz_msg_audit_proof_t m;
    sz_audit_reply_t r;
    prove(f, &q, &m, &r);
    assert_int_equal(m.items[0].status, SZ_PROVE_BAD_INDEX);
    assert_true(sodium_is_zero(m.items[0].digest, 32));
    assert_int_equal(m.items[0].proof_len, 0);
    assert_int_equal(m.items[1].status, SZ_PROVE_OK);
    expect_digest(q.nonce, f->env[3], f->len[3], m.items[1].digest);
    assert_int_equal(m.items[2].status, SZ_PROVE_BAD_INDEX);
    free(r.payload);
}

static void test_prove_bounds(void **state) {
    fx_t *f = *state;
    /* The most items a request may hold: 64, all answered. */
    sz_msg_audit_prove_t q;
    memset(&q, 0, sizeof q);
    randombytes_buf(q.nonce, 32);
    q.count = SZ_MSG_MAX_PROVE;
    q.tree_size = NREC;
    for (unsigned i = 0; i < SZ_MSG_MAX_PROVE; i++) {
        q.items[i].by = (uint8_t)(i % 2);
        q.items[i].index = i % NREC;
        memcpy(q.items[i].version_hash, f->hash[(i * 5) % NREC], 32);
    }
    sz_msg_audit_proof_t m;
    sz_audit_reply_t r;
    prove(f, &q, &m, &r);
    for (unsigned i = 0; i < SZ_MSG_MAX_PROVE; i++)
        assert_int_equal(m.items[i].status, SZ_PROVE_OK);
    free(r.payload);

    /* 65 items, or none: refused. Built by hand since the encoder refuses them. */
    uint8_t req[32 + 8 + 1 + 65 * 33];
    memset(req, 0, sizeof req);
    req[40] = 65;
    for (unsigned i = 0; i < 65; i++) {
        req[41 + i * 33] = SZ_PROVE_BY_HASH;
        memcpy(req + 42 + i * 33, f->hash[i % NREC], 32);
    }
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, sizeof req, &r), SZ_E_MALFORMED);
    req[40] = 0;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, 41, &r), SZ_E_MALFORMED);
}

static void test_prove_malformed(void **state) {
    fx_t *f = *state;
    sz_msg_audit_prove_t q;
    memset(&q, 0, sizeof q);
    q.count = 2;
    q.tree_size = NREC;
    q.items[0].by = SZ_PROVE_BY_HASH;
    memcpy(q.items[0].version_hash, f->hash[1], 32);
    q.items[1].by = SZ_PROVE_BY_INDEX;
    q.items[1].index = 4;
    uint8_t req[256];
    size_t n;
    assert_int_equal(sz_msg_audit_prove_encode(&q, req, sizeof req, &n), 0);
    sz_audit_reply_t r;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, n, &r), 0);
    free(r.payload);
    /* Every truncation, and a trailing byte. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, k, &r), SZ_E_MALFORMED);
    req[n] = 0;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, req, n + 1, &r), SZ_E_MALFORMED);
    /* An unknown item kind. */
    uint8_t bad[256];
    memcpy(bad, req, n);
    bad[41 + 33] = 2;
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, bad, n, &r), SZ_E_MALFORMED);
    /* A leaf index not below the tree size. */
    memcpy(bad, req, n);
    bad[41 + 33 + 8] = NREC; /* low byte of the u64 index */
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, bad, n, &r), SZ_E_MALFORMED);
    /* A tree size with no by-index item. */
    sz_msg_audit_prove_t h;
    memset(&h, 0, sizeof h);
    h.count = 1;
    memcpy(h.items[0].version_hash, f->hash[1], 32);
    assert_int_equal(sz_msg_audit_prove_encode(&h, bad, sizeof bad, &n), 0);
    bad[39] = 1; /* tree size 1 */
    assert_int_equal(ask(f, SZ_MSG_AUDIT_PROVE, bad, n, &r), SZ_E_MALFORMED);
    /* Random bytes never crash and are answered or refused cleanly. */
    for (int i = 0; i < 2000; i++) {
        uint8_t junk[200];
        size_t len = randombytes_uniform(sizeof junk + 1);
        randombytes_buf(junk, len);
        if (len > 40 && i % 2)
            junk[40] = (uint8_t)(1 + junk[40] % 4); /* a plausible count */
        int rc = ask(f, SZ_MSG_AUDIT_PROVE, junk, len, &r);
        if (rc == 0) {
            sz_msg_audit_proof_t m;
            assert_int_equal(sz_msg_audit_proof_decode(&m, r.payload, r.len), 0);
            free(r.payload);
        } else {
            assert_int_equal(rc, SZ_E_MALFORMED);
        }
    }
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_head_signed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_consistency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_beyond_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_by_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_purged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_by_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_mixed_and_bad_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prove_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
