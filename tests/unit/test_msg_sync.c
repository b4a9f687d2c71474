/* The replication and audit messages of proto/msg.h (types 17..31): round trips, the size query,
 * and every class of malformed input: truncation at each length, trailing bytes, out-of-bound
 * counts and lengths, unknown enum values, broken sequences, proofs that are not whole hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"
#include "record.h"

typedef int (*enc_fn)(const void *m, uint8_t *out, size_t cap, size_t *len);
typedef int (*dec_fn)(void *m, const uint8_t *in, size_t len);

/* Encodes m, checks the size query and the small-buffer error; returns a malloc'd copy. */
static uint8_t *encode(enc_fn enc, const void *m, size_t *len) {
    size_t want = 0, n = 0;
    assert_int_equal(enc(m, NULL, 0, &want), 0);
    uint8_t *buf = malloc(want + 1);
    assert_non_null(buf);
    assert_int_equal(enc(m, buf, want, &n), 0);
    assert_int_equal(n, want);
    if (want > 0)
        assert_int_equal(enc(m, buf, want - 1, &n), SZ_E_ARGUMENT);
    *len = want;
    return buf;
}

/* Every strict prefix fails; one extra byte is trailing; re-encoding gives the same bytes. */
static void check_strict(dec_fn dec, enc_fn enc, void *scratch, const uint8_t *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        int rc = dec(scratch, buf, i);
        assert_true(rc == SZ_E_TRUNCATED || rc == SZ_E_MALFORMED);
    }
    uint8_t *more = malloc(len + 1);
    assert_non_null(more);
    memcpy(more, buf, len);
    more[len] = 0x41;
    assert_int_equal(dec(scratch, more, len + 1), SZ_E_TRAILING);
    free(more);
    assert_int_equal(dec(scratch, buf, len), 0);
    size_t n = 0;
    uint8_t *again = encode(enc, scratch, &n);
    assert_int_equal(n, len);
    assert_memory_equal(again, buf, len);
    free(again);
}

static sz_msg_peer_info_t g_peers[4];
static sz_msg_log_entry_t g_entries[8];
static sz_msg_fetched_item_t g_items[8];
static sz_msg_push_item_t g_push[8];

#define ADAPT(name, type)                                                                          \
    static int enc_##name(const void *m, uint8_t *o, size_t c, size_t *l) {                        \
        return sz_msg_##name##_encode((const type *)m, o, c, l);                                   \
    }                                                                                              \
    static int dec_##name(void *m, const uint8_t *in, size_t l) {                                  \
        return sz_msg_##name##_decode((type *)m, in, l);                                           \
    }
#define ADAPT_CAP(name, type, field, arr)                                                          \
    static int enc_##name(const void *m, uint8_t *o, size_t c, size_t *l) {                        \
        return sz_msg_##name##_encode((const type *)m, o, c, l);                                   \
    }                                                                                              \
    static int dec_##name(void *m, const uint8_t *in, size_t l) {                                  \
        ((type *)m)->field = arr;                                                                  \
        return sz_msg_##name##_decode((type *)m, sizeof arr / sizeof arr[0], in, l);               \
    }
ADAPT(peer_add, sz_msg_peer_add_t)
ADAPT(peer_remove, sz_msg_peer_remove_t)
ADAPT(sync_now, sz_msg_sync_now_t)
ADAPT(sync, sz_msg_sync_t)
ADAPT(recon, sz_msg_recon_t)
ADAPT(fetch, sz_msg_fetch_t)
ADAPT(audit_head, sz_msg_audit_head_t)
ADAPT(audit_head_ok, sz_msg_audit_head_ok_t)
ADAPT(audit_prove, sz_msg_audit_prove_t)
ADAPT(audit_proof, sz_msg_audit_proof_t)
ADAPT_CAP(peers, sz_msg_peers_t, peers, g_peers)
ADAPT_CAP(log_page, sz_msg_log_page_t, entries, g_entries)
ADAPT_CAP(fetched, sz_msg_fetched_t, items, g_items)
ADAPT_CAP(push, sz_msg_push_t, items, g_push)

static void signed_head(sz_tree_head_t *th, uint64_t size) {
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    memset(th, 0, sizeof *th);
    th->size = size;
    memset(th->root, 0x22, 32);
    th->timestamp = 1700000000000ull;
    assert_int_equal(sz_tree_head_sign(th, sk), 0);
}

static void test_peer_admin(void **state) {
    (void)state;
    sz_msg_peer_add_t a;
    strcpy(a.invite, "sz1:127.0.0.1:7433:AAAA:BBBB");
    size_t n;
    uint8_t *b = encode(enc_peer_add, &a, &n);
    sz_msg_peer_add_t d;
    check_strict(dec_peer_add, enc_peer_add, &d, b, n);
    assert_string_equal(d.invite, a.invite);
    b[4] = 0x0A; /* a control character */
    assert_int_equal(dec_peer_add(&d, b, n), SZ_E_MALFORMED);
    free(b);
    uint8_t empty[2] = {0, 0};
    assert_int_equal(dec_peer_add(&d, empty, 2), SZ_E_MALFORMED);
    a.invite[0] = 0;
    assert_int_equal(enc_peer_add(&a, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_peer_remove_t r;
    memset(r.key, 7, 32);
    b = encode(enc_peer_remove, &r, &n);
    assert_int_equal(n, 32);
    sz_msg_peer_remove_t dr;
    check_strict(dec_peer_remove, enc_peer_remove, &dr, b, n);
    free(b);
    assert_int_equal(sz_msg_peer_list_decode(NULL, 0), 0);
    assert_int_equal(sz_msg_peer_list_decode((const uint8_t *)"x", 1), SZ_E_TRAILING);

    sz_msg_sync_now_t s = {.wait_ms = 5000};
    b = encode(enc_sync_now, &s, &n);
    sz_msg_sync_now_t ds;
    check_strict(dec_sync_now, enc_sync_now, &ds, b, n);
    assert_int_equal(ds.wait_ms, 5000);
    b[32] = 0xFF; /* wait beyond its bound */
    assert_int_equal(dec_sync_now(&ds, b, n), SZ_E_MALFORMED);
    free(b);
    s.wait_ms = SZ_MSG_SYNC_NOW_MAX_WAIT + 1;
    assert_int_equal(enc_sync_now(&s, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_peers(void **state) {
    (void)state;
    sz_msg_peer_info_t p[2] = {
        {.address = (const uint8_t *)"127.0.0.1:1",
         .address_len = 11,
         .state = SZ_PEER_STATE_CONNECTED,
         .last_seen = 5,
         .checkpoint = 10,
         .remote_size = 12,
         .received = 3,
         .sent = 4,
         .reconciliations = 1,
         .last_error = SZ_E_PROTOCOL},
        {.address = (const uint8_t *)"[::1]:2", .address_len = 7, .state = SZ_PEER_STATE_BACKOFF}};
    memset(p[0].key, 1, 32);
    memset(p[1].key, 2, 32);
    sz_msg_peers_t m = {.count = 2, .peers = p};
    size_t n;
    uint8_t *b = encode(enc_peers, &m, &n);
    sz_msg_peers_t d;
    check_strict(dec_peers, enc_peers, &d, b, n);
    assert_int_equal(d.count, 2);
    assert_int_equal(g_peers[0].remote_size, 12);
    assert_int_equal(g_peers[0].last_error, SZ_E_PROTOCOL);
    assert_int_equal(g_peers[1].state, SZ_PEER_STATE_BACKOFF);
    /* state out of range: offset of peer 0's state = 2 + 32 + 1 + 11 */
    b[46] = SZ_PEER_STATE_MAX + 1;
    assert_int_equal(dec_peers(&d, b, n), SZ_E_MALFORMED);
    b[46] = SZ_PEER_STATE_CONNECTED;
    b[34] = 0; /* empty address */
    assert_int_equal(dec_peers(&d, b, n), SZ_E_MALFORMED);
    b[34] = 11;
    /* positive last error */
    size_t e0 = 2 + 32 + 1 + 11 + 1 + 8 * 5 + 4;
    uint8_t save = b[e0];
    b[e0] = 0x00;
    b[e0 + 3] = 1;
    assert_int_equal(dec_peers(&d, b, n), SZ_E_MALFORMED);
    b[e0] = save;
    free(b);
    /* more peers than the caller's array */
    sz_msg_peers_t d2 = {.peers = g_peers};
    b = encode(enc_peers, &m, &n);
    assert_int_equal(sz_msg_peers_decode(&d2, 1, b, n), SZ_E_TOO_LARGE);
    b[0] = 0xFF; /* count above 1024 */
    assert_int_equal(sz_msg_peers_decode(&d2, 4, b, n), SZ_E_MALFORMED);
    free(b);
    p[0].state = 9;
    assert_int_equal(enc_peers(&m, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_sync_and_page(void **state) {
    (void)state;
    sz_msg_sync_t s = {.from = 100, .max_count = 512, .max_bytes = 1 << 20, .proof_from = 90};
    signed_head(&s.head, 7);
    size_t n;
    uint8_t *b = encode(enc_sync, &s, &n);
    assert_int_equal(n, SZ_MSG_SYNC_LEN);
    sz_msg_sync_t ds;
    check_strict(dec_sync, enc_sync, &ds, b, n);
    assert_int_equal(ds.from, 100);
    assert_int_equal(ds.max_count, 512);
    assert_int_equal(sz_tree_head_verify(&ds.head), 0);
    b[0] = 0x02; /* unknown flag */
    assert_int_equal(dec_sync(&ds, b, n), SZ_E_MALFORMED);
    b[0] = 0;
    b[9] = 0xFF; /* max count beyond SZ_MSG_MAX_PAGE */
    assert_int_equal(dec_sync(&ds, b, n), SZ_E_MALFORMED);
    b[9] = 0;
    b[13] = 0xFF; /* max bytes beyond its bound */
    assert_int_equal(dec_sync(&ds, b, n), SZ_E_MALFORMED);
    b[13] = 0;
    /* head of size 0 must carry the empty root */
    memset(b + 25, 0, 8);
    assert_int_equal(dec_sync(&ds, b, n), SZ_E_MALFORMED);
    free(b);

    uint8_t env1[100], env2[300], proof[64];
    memset(env1, 1, sizeof env1);
    memset(env2, 2, sizeof env2);
    memset(proof, 3, sizeof proof);
    sz_msg_log_entry_t e[2] = {{.seq = 5, .envelope = env1, .len = sizeof env1},
                               {.seq = 6, .envelope = env2, .len = sizeof env2}};
    sz_msg_log_page_t p = {.proof = proof, .proof_len = 64, .from = 5, .count = 2, .entries = e};
    signed_head(&p.head, 10);
    b = encode(enc_log_page, &p, &n);
    sz_msg_log_page_t dp;
    check_strict(dec_log_page, enc_log_page, &dp, b, n);
    assert_int_equal(dp.count, 2);
    assert_int_equal(g_entries[1].len, 300);
    assert_memory_equal(g_entries[1].envelope, env2, 300);
    size_t off = SZ_TREE_HEAD_LEN + 2 + 64 + 1 + 8 + 2; /* first entry's seq */
    b[SZ_TREE_HEAD_LEN + 2 + 64] = 4;                   /* unknown flag */
    assert_int_equal(dec_log_page(&dp, b, n), SZ_E_MALFORMED);
    b[SZ_TREE_HEAD_LEN + 2 + 64] = 0;
    b[off + 7] = 6; /* seq must equal from */
    assert_int_equal(dec_log_page(&dp, b, n), SZ_E_MALFORMED);
    b[off + 7] = 5;
    b[off + 8] = 0xFF; /* envelope longer than SZ_RECORD_MAX_LEN */
    assert_int_equal(dec_log_page(&dp, b, n), SZ_E_MALFORMED);
    b[off + 8] = 0;
    b[SZ_TREE_HEAD_LEN + 1] = 63; /* proof not a whole number of hashes */
    assert_int_equal(dec_log_page(&dp, b, n), SZ_E_MALFORMED);
    free(b);
    /* an entry at or beyond the head's size */
    p.head.size = 6;
    assert_int_equal(enc_log_page(&p, NULL, 0, &n), SZ_E_ARGUMENT);
    signed_head(&p.head, 7);
    e[1].seq = 7;
    assert_int_equal(enc_log_page(&p, NULL, 0, &n), SZ_E_ARGUMENT);
    e[1].seq = 6;
    b = encode(enc_log_page, &p, &n);
    sz_msg_log_page_t small = {.entries = g_entries};
    assert_int_equal(sz_msg_log_page_decode(&small, 1, b, n), SZ_E_TOO_LARGE);
    free(b);
    /* a page of hashes */
    uint8_t h1[32], h2[32];
    memset(h1, 0xA1, 32);
    memset(h2, 0xB2, 32);
    sz_msg_log_entry_t he[2] = {{.seq = 5, .envelope = h1, .len = 32},
                                {.seq = 6, .envelope = h2, .len = 32}};
    sz_msg_log_page_t hp = p;
    hp.flags = SZ_SYNC_HASHES;
    hp.entries = he;
    b = encode(enc_log_page, &hp, &n);
    check_strict(dec_log_page, enc_log_page, &dp, b, n);
    assert_int_equal(dp.flags, SZ_SYNC_HASHES);
    assert_memory_equal(g_entries[1].envelope, h2, 32);
    free(b);
    he[1].len = 31;
    assert_int_equal(enc_log_page(&hp, NULL, 0, &n), SZ_E_ARGUMENT);
    /* an empty page (peers in sync) */
    p.count = 0;
    p.proof_len = 0;
    b = encode(enc_log_page, &p, &n);
    check_strict(dec_log_page, enc_log_page, &dp, b, n);
    assert_true(n < 200);
    free(b);
}

static void test_recon_fetch_push(void **state) {
    (void)state;
    uint8_t msg[3] = {1, 33, 0};
    sz_msg_recon_t r = {.data = msg, .len = 3};
    size_t n;
    uint8_t *b = encode(enc_recon, &r, &n);
    sz_msg_recon_t dr;
    assert_int_equal(dec_recon(&dr, b, n), 0);
    assert_int_equal(dr.len, 3);
    assert_int_equal(dec_recon(&dr, b, 0), SZ_E_TRUNCATED);
    free(b);
    r.len = 0;
    assert_int_equal(enc_recon(&r, NULL, 0, &n), SZ_E_ARGUMENT);

    uint8_t hashes[3 * 32];
    randombytes_buf(hashes, sizeof hashes);
    sz_msg_fetch_t f = {.count = 3, .hashes = hashes};
    b = encode(enc_fetch, &f, &n);
    sz_msg_fetch_t df;
    check_strict(dec_fetch, enc_fetch, &df, b, n);
    assert_memory_equal(df.hashes, hashes, sizeof hashes);
    b[0] = 0;
    b[1] = 0; /* zero hashes */
    assert_int_equal(dec_fetch(&df, b, n), SZ_E_MALFORMED);
    free(b);

    uint8_t env[50];
    memset(env, 9, sizeof env);
    sz_msg_fetched_item_t it[3] = {{.status = SZ_FETCH_OK, .seq = 4, .envelope = env, .len = 50},
                                   {.status = SZ_FETCH_NOT_HELD},
                                   {.status = SZ_FETCH_PURGED}};
    memset(it[1].version_hash, 1, 32);
    sz_msg_fetched_t fd = {.count = 3, .items = it};
    b = encode(enc_fetched, &fd, &n);
    sz_msg_fetched_t dfd;
    check_strict(dec_fetched, enc_fetched, &dfd, b, n);
    assert_int_equal(g_items[0].len, 50);
    assert_int_equal(g_items[2].status, SZ_FETCH_PURGED);
    b[2] = SZ_FETCH_STATUS_MAX + 1;
    assert_int_equal(dec_fetched(&dfd, b, n), SZ_E_MALFORMED);
    free(b);
    it[0].envelope = NULL;
    assert_int_equal(enc_fetched(&fd, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_push_item_t pi[2] = {{.envelope = env, .len = 50}, {.envelope = env, .len = 1}};
    sz_msg_push_t pm = {.log_size = 77, .count = 2, .items = pi};
    b = encode(enc_push, &pm, &n);
    sz_msg_push_t dpm;
    check_strict(dec_push, enc_push, &dpm, b, n);
    assert_int_equal(dpm.log_size, 77);
    assert_int_equal(g_push[1].len, 1);
    b[8] = 0;
    b[9] = 0; /* a push of nothing */
    assert_int_equal(dec_push(&dpm, b, n), SZ_E_MALFORMED);
    b[9] = 2;
    b[10] = b[11] = b[12] = b[13] = 0; /* an empty envelope */
    assert_int_equal(dec_push(&dpm, b, n), SZ_E_MALFORMED);
    free(b);
}

static void test_audit(void **state) {
    (void)state;
    sz_msg_audit_head_t h = {.from_size = 42};
    size_t n;
    uint8_t *b = encode(enc_audit_head, &h, &n);
    sz_msg_audit_head_t dh;
    check_strict(dec_audit_head, enc_audit_head, &dh, b, n);
    free(b);

    uint8_t proof[96];
    memset(proof, 5, sizeof proof);
    sz_msg_audit_head_ok_t ok = {.proof = proof, .proof_len = 96};
    signed_head(&ok.head, 50);
    b = encode(enc_audit_head_ok, &ok, &n);
    sz_msg_audit_head_ok_t dok;
    check_strict(dec_audit_head_ok, enc_audit_head_ok, &dok, b, n);
    assert_int_equal(sz_tree_head_verify(&dok.head), 0);
    assert_int_equal(dok.proof_len, 96);
    free(b);
    ok.proof_len = 95;
    assert_int_equal(enc_audit_head_ok(&ok, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_audit_prove_t pr = {.tree_size = 10, .count = 2};
    randombytes_buf(pr.nonce, 32);
    pr.items[0].by = SZ_PROVE_BY_HASH;
    memset(pr.items[0].version_hash, 8, 32);
    pr.items[1].by = SZ_PROVE_BY_INDEX;
    pr.items[1].index = 9;
    b = encode(enc_audit_prove, &pr, &n);
    sz_msg_audit_prove_t dpr;
    check_strict(dec_audit_prove, enc_audit_prove, &dpr, b, n);
    assert_int_equal(dpr.items[1].index, 9);
    b[n - 1] = 10; /* index not below tree size */
    assert_int_equal(dec_audit_prove(&dpr, b, n), SZ_E_MALFORMED);
    b[n - 1] = 9;
    b[32 + 8 + 1] = 2; /* unknown "by" */
    assert_int_equal(dec_audit_prove(&dpr, b, n), SZ_E_MALFORMED);
    b[32 + 8 + 1] = 0;
    b[32 + 8] = 0; /* zero items */
    assert_int_equal(dec_audit_prove(&dpr, b, n), SZ_E_MALFORMED);
    b[32 + 8] = SZ_MSG_MAX_PROVE + 1;
    assert_int_equal(dec_audit_prove(&dpr, b, n), SZ_E_MALFORMED);
    free(b);
    /* tree size without any by-index item */
    pr.items[1].by = SZ_PROVE_BY_HASH;
    assert_int_equal(enc_audit_prove(&pr, NULL, 0, &n), SZ_E_ARGUMENT);

    sz_msg_audit_proof_t pf = {.count = 2};
    pf.items[0].status = SZ_PROVE_OK;
    memset(pf.items[0].digest, 3, 32);
    pf.items[0].proof = proof;
    pf.items[0].proof_len = 64;
    pf.items[1].status = SZ_PROVE_NOT_HELD;
    b = encode(enc_audit_proof, &pf, &n);
    sz_msg_audit_proof_t dpf;
    check_strict(dec_audit_proof, enc_audit_proof, &dpf, b, n);
    assert_int_equal(dpf.items[0].proof_len, 64);
    /* a non-OK item with a digest */
    size_t i1 = 1 + (1 + 32 + 32 + 2 + 64);
    b[i1 + 1 + 32] = 1;
    assert_int_equal(dec_audit_proof(&dpf, b, n), SZ_E_MALFORMED);
    b[i1 + 1 + 32] = 0;
    b[i1] = SZ_PROVE_STATUS_MAX + 1;
    assert_int_equal(dec_audit_proof(&dpf, b, n), SZ_E_MALFORMED);
    free(b);
    pf.items[1].digest[0] = 1;
    assert_int_equal(enc_audit_proof(&pf, NULL, 0, &n), SZ_E_ARGUMENT);
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(sz_msg_type_name(SZ_MSG_PEER_ADD), "PEER_ADD");
    assert_string_equal(sz_msg_type_name(SZ_MSG_LOG_PAGE), "LOG_PAGE");
    assert_string_equal(sz_msg_type_name(SZ_MSG_PUSH), "PUSH");
    assert_string_equal(sz_msg_type_name(SZ_MSG_AUDIT_PROOF), "AUDIT_PROOF");
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_admin),    cmocka_unit_test(test_peers),
        cmocka_unit_test(test_sync_and_page), cmocka_unit_test(test_recon_fetch_push),
        cmocka_unit_test(test_audit),         cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
