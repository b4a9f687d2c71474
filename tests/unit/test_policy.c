/* Node policy: open and allow-list submission, admin and editor rules, amend rights, reasons,
 * and the store's editor callback end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "encoding.h"
#include "error.h"
#include "policy.h"
#include "record.h"
#include "store.h"

#include <unistd.h>

static uint8_t alice[32], bob[32], carol[32], ed[32], root[32], extra[32];

static void key(uint8_t k[32], int v) {
    memset(k, v, 32);
}

static int setup(void **state) {
    (void)state;
    key(alice, 1);
    key(bob, 2);
    key(carol, 3);
    key(ed, 4);
    key(root, 5);
    key(extra, 6);
    return sodium_init() < 0 ? -1 : 0;
}

static sz_policy_t *make(int allowlist) {
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    cfg.submission = allowlist ? SZ_SUBMISSION_ALLOWLIST : SZ_SUBMISSION_OPEN;
    assert_int_equal(sz_keylist_add(&cfg.contributors, alice), 0);
    assert_int_equal(sz_keylist_add(&cfg.editors, ed), 0);
    assert_int_equal(sz_keylist_add(&cfg.admins, root), 0);
    sz_policy_t *p = NULL;
    const uint8_t(*admins)[32] = (const uint8_t(*)[32])extra;
    assert_int_equal(sz_policy_new(&p, &cfg, admins, 1), 0);
    /* The policy keeps its own copies. */
    sz_config_free(&cfg);
    return p;
}

static void test_open(void **state) {
    (void)state;
    sz_policy_t *p = make(0);
    char why[SZ_POLICY_WHY_MAX];
    assert_int_equal(sz_policy_submission(p), SZ_SUBMISSION_OPEN);
    assert_int_equal(sz_policy_may_submit(p, alice, why, sizeof(why)), 0);
    assert_int_equal(sz_policy_may_submit(p, carol, why, sizeof(why)), 0);
    assert_int_equal(sz_policy_may_submit(p, root, NULL, 0), 0);
    sz_policy_free(p);
}

static void test_allowlist(void **state) {
    (void)state;
    sz_policy_t *p = make(1);
    char why[SZ_POLICY_WHY_MAX];
    assert_int_equal(sz_policy_submission(p), SZ_SUBMISSION_ALLOWLIST);
    assert_int_equal(sz_policy_may_submit(p, alice, why, sizeof(why)), 0);
    /* Editors and admins (from the config and from outside it) may always submit. */
    assert_int_equal(sz_policy_may_submit(p, ed, why, sizeof(why)), 0);
    assert_int_equal(sz_policy_may_submit(p, root, why, sizeof(why)), 0);
    assert_int_equal(sz_policy_may_submit(p, extra, why, sizeof(why)), 0);
    memset(why, 0, sizeof(why));
    assert_int_equal(sz_policy_may_submit(p, carol, why, sizeof(why)), SZ_E_DENIED);
    char text[45], want[200];
    sz_pubkey_format(text, carol);
    snprintf(want, sizeof(want), "contributor key %s is not on this node's allow-list", text);
    assert_string_equal(why, want);
    assert_int_equal(sz_policy_may_submit(p, bob, NULL, 0), SZ_E_DENIED);
    /* A short reason buffer is cut, never overrun. */
    char tiny[8];
    assert_int_equal(sz_policy_may_submit(p, bob, tiny, sizeof(tiny)), SZ_E_DENIED);
    assert_int_equal(strlen(tiny), 7);
    sz_policy_free(p);
}

static void test_roles(void **state) {
    (void)state;
    sz_policy_t *p = make(0);
    assert_true(sz_policy_is_admin(p, root));
    assert_true(sz_policy_is_admin(p, extra));
    assert_false(sz_policy_is_admin(p, ed));
    assert_false(sz_policy_is_admin(p, alice));
    assert_true(sz_policy_is_editor(p, ed));
    assert_true(sz_policy_is_editor(p, root)); /* admins are editors */
    assert_true(sz_policy_is_editor(p, extra));
    assert_false(sz_policy_is_editor(p, alice));
    assert_true(sz_policy_is_contributor(p, alice));
    assert_false(sz_policy_is_contributor(p, ed));
    char why[SZ_POLICY_WHY_MAX];
    assert_int_equal(sz_policy_may_admin(p, root, why, sizeof(why)), 0);
    assert_int_equal(sz_policy_may_admin(p, ed, why, sizeof(why)), SZ_E_DENIED);
    char text[45];
    sz_pubkey_format(text, ed);
    assert_non_null(strstr(why, text));
    assert_non_null(strstr(why, "not an admin"));
    sz_policy_free(p);
}

static void test_amend(void **state) {
    (void)state;
    for (int allow = 0; allow <= 1; allow++) {
        sz_policy_t *p = make(allow);
        char why[SZ_POLICY_WHY_MAX];
        /* The original author, whatever the lists say (carol is on none). */
        assert_int_equal(sz_policy_may_amend(p, carol, carol, why, sizeof(why)), 0);
        assert_int_equal(sz_policy_may_amend(p, alice, alice, why, sizeof(why)), 0);
        /* Editors and admins may amend others' records. */
        assert_int_equal(sz_policy_may_amend(p, alice, ed, why, sizeof(why)), 0);
        assert_int_equal(sz_policy_may_amend(p, alice, root, why, sizeof(why)), 0);
        assert_int_equal(sz_policy_may_amend(p, alice, extra, why, sizeof(why)), 0);
        /* A contributor may not amend someone else's record. */
        assert_int_equal(sz_policy_may_amend(p, carol, alice, why, sizeof(why)), SZ_E_DENIED);
        char text[45];
        sz_pubkey_format(text, alice);
        assert_non_null(strstr(why, text));
        assert_non_null(strstr(why, "neither the record's author nor an editor"));
        char why2[SZ_POLICY_WHY_MAX];
        assert_int_equal(sz_policy_amend_reason(p, alice, why2, sizeof(why2)), SZ_E_DENIED);
        assert_string_equal(why2, why);
        assert_int_equal(sz_policy_may_amend(p, alice, bob, NULL, 0), SZ_E_DENIED);

        uint8_t id[32] = {9};
        assert_int_equal(sz_policy_editor_cb(p, id, alice, ed), 1);
        assert_int_equal(sz_policy_editor_cb(p, id, alice, root), 1);
        assert_int_equal(sz_policy_editor_cb(p, id, alice, bob), 0);
        assert_int_equal(sz_policy_editor_cb(p, id, alice, carol), 0);
        assert_int_equal(sz_policy_editor_cb(p, id, carol, carol), 1);
        sz_policy_free(p);
    }
}

static void test_many_keys(void **state) {
    (void)state;
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    cfg.submission = SZ_SUBMISSION_ALLOWLIST;
    uint8_t k[32];
    for (int i = 0; i < 3000; i++) {
        randombytes_buf(k, 32);
        k[0] = (uint8_t)(i & 0xff);
        k[1] = (uint8_t)(i >> 8);
        assert_int_equal(sz_keylist_add(&cfg.contributors, k), 0);
    }
    sz_policy_t *p = NULL;
    assert_int_equal(sz_policy_new(&p, &cfg, NULL, 0), 0);
    for (size_t i = 0; i < cfg.contributors.n; i++)
        assert_int_equal(sz_policy_may_submit(p, cfg.contributors.keys[i], NULL, 0), 0);
    memset(k, 0xff, 32);
    assert_int_equal(sz_policy_may_submit(p, k, NULL, 0), SZ_E_DENIED);
    assert_false(sz_policy_is_admin(p, k));
    sz_policy_free(p);
    sz_config_free(&cfg);
    sz_policy_free(NULL);
}

/* Signs a testimony version with sk; parent/rid NULL for a first version. */
static uint8_t *sign(const uint8_t sk[64], const uint8_t *rid, const uint8_t *parent, size_t *len,
                     const char *title) {
    char body[512];
    snprintf(body, sizeof(body),
             "{\"title\":\"%s\",\"statement\":{\"text\":\"A fictional statement\","
             "\"language\":\"en\"},\"witness\":{\"role\":\"civilian\"},"
             "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"other\"]}",
             title);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = 1700000000000ull,
                            .record_id = rid,
                            .parents = parent,
                            .nparents = parent ? 1 : 0,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)strlen(body)};
    uint8_t *out = NULL;
    assert_int_equal(sz_record_sign(&f, sk, &out, len), 0);
    return out;
}

static int put(sz_store_t *s, const uint8_t *env, size_t len, sz_put_result_t *r) {
    assert_int_equal(sz_store_put_batch(s, &env, &len, 1, r), 0);
    return r->err;
}

/* The store applies the policy's amend rule through sz_policy_editor_cb. */
static void test_store_editor_cb(void **state) {
    (void)state;
    uint8_t sk_author[64], sk_editor[64], sk_other[64], pk[32];
    crypto_sign_keypair(pk, sk_author);
    crypto_sign_keypair(pk, sk_editor);
    crypto_sign_keypair(pk, sk_other);
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    assert_int_equal(sz_keylist_add(&cfg.editors, sk_editor + 32), 0);
    sz_policy_t *p = NULL;
    assert_int_equal(sz_policy_new(&p, &cfg, NULL, 0), 0);
    sz_config_free(&cfg);

    char dir[] = "/tmp/sz-test-policy-XXXXXX";
    assert_non_null(mkdtemp(dir));
    sz_store_t *s = NULL;
    sz_store_options_t o = {.editor = sz_policy_editor_cb, .editor_arg = p};
    assert_int_equal(sz_store_open(&s, dir, &o), 0);

    size_t len;
    sz_put_result_t r;
    uint8_t *first = sign(sk_author, NULL, NULL, &len, "first");
    assert_int_equal(put(s, first, len, &r), 0);
    uint8_t rid[32], v1[32];
    memcpy(rid, r.record_id, 32);
    memcpy(v1, r.version_hash, 32);
    free(first);

    uint8_t *own = sign(sk_author, rid, v1, &len, "own amendment");
    assert_int_equal(put(s, own, len, &r), 0);
    free(own);
    uint8_t *by_editor = sign(sk_editor, rid, v1, &len, "editor amendment");
    assert_int_equal(put(s, by_editor, len, &r), 0);
    free(by_editor);
    uint8_t *by_other = sign(sk_other, rid, v1, &len, "other amendment");
    assert_int_equal(put(s, by_other, len, &r), SZ_E_DENIED);
    free(by_other);

    sz_store_close(s);
    sz_policy_free(p);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    sodium_memzero(sk_author, 64);
    sodium_memzero(sk_editor, 64);
    sodium_memzero(sk_other, 64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),      cmocka_unit_test(test_allowlist),
        cmocka_unit_test(test_roles),     cmocka_unit_test(test_amend),
        cmocka_unit_test(test_many_keys), cmocka_unit_test(test_store_editor_cb),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
