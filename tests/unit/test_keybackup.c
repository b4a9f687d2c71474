/* Key backups: round trips, escrow restore with the recovery key, wrong passphrases and recovery
 * keys, the SENSITIVE default, and every kind of damage a backup file can suffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "error.h"
#include "keybackup.h"
#include "keyfile.h"

#define PASS "a long passphrase for the backup"
#define ESC_B64_LEN 200

static uint8_t owner_pk[32], owner_sk[64];
static uint8_t other_pk[32], other_sk[64];
static uint8_t recovery_pk[32], recovery_sk[64];
static uint8_t recovery2_pk[32], recovery2_sk[64];
static sz_kdf_limits_t lim;

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(owner_pk, owner_sk);
    crypto_sign_keypair(other_pk, other_sk);
    crypto_sign_keypair(recovery_pk, recovery_sk);
    crypto_sign_keypair(recovery2_pk, recovery2_sk);
    return sz_kdf_limits_named(&lim, "min");
}

/* noinline: once inlined, GCC 12 at -O2 mistakes the returned text for a pointer to the local
 * variable t (-Wdangling-pointer false positive). */
__attribute__((noinline)) static char *backup(const uint8_t *sk, const uint8_t *rpk) {
    char *t = NULL;
    assert_int_equal(sz_keybackup_encode(&t, sk, PASS, strlen(PASS), &lim, rpk), 0);
    assert_non_null(t);
    return t;
}

static int restore(const char *t, size_t len, const char *pass, uint8_t **sk) {
    return sz_keybackup_restore(sk, t, len, pass, pass ? strlen(pass) : 0);
}

static void expect_restores(const char *t, size_t len, const uint8_t *want_sk) {
    uint8_t *sk = NULL;
    assert_int_equal(restore(t, len, PASS, &sk), 0);
    assert_memory_equal(sk, want_sk, 64);
    sz_secretkey_free(sk);
}

static void test_roundtrip_no_escrow(void **state) {
    (void)state;
    char *t = backup(owner_sk, NULL);
    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, owner_pk);
    assert_memory_equal(t, SZ_KEYBACKUP_COMMENT, strlen(SZ_KEYBACKUP_COMMENT));
    assert_non_null(strstr(t, pk_text));
    sz_keybackup_info_t info;
    assert_int_equal(sz_keybackup_decode(&info, t, strlen(t)), 0);
    assert_int_equal(info.has_escrow, 0);
    assert_int_equal(info.key.kdf, SZ_KEYFILE_KDF_ARGON2ID13);
    assert_int_equal(info.key.opslimit, lim.opslimit);
    assert_int_equal(info.key.memlimit, lim.memlimit);
    assert_memory_equal(info.key.public_key, owner_pk, 32);
    expect_restores(t, strlen(t), owner_sk);
    /* Without an escrow copy, a backup is exactly a secret key file. */
    uint8_t *sk = NULL;
    assert_int_equal(sz_keyfile_decode(&sk, t, strlen(t), PASS, strlen(PASS)), 0);
    assert_memory_equal(sk, owner_sk, 64);
    sz_secretkey_free(sk);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, strlen(t), recovery_sk), SZ_E_NOT_FOUND);
    assert_null(sk);
    sz_keyfile_text_free(t);
}

static void test_roundtrip_escrow(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    sz_keybackup_info_t info;
    assert_int_equal(sz_keybackup_decode(&info, t, strlen(t)), 0);
    assert_int_equal(info.has_escrow, 1);
    assert_memory_equal(info.key.public_key, owner_pk, 32);
    expect_restores(t, strlen(t), owner_sk);

    uint8_t *sk = NULL;
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, strlen(t), recovery_sk), 0);
    assert_memory_equal(sk, owner_sk, 64);
    sz_secretkey_free(sk);
    sk = NULL;

    /* Another archive's recovery key, the owner's own key: not this escrow copy's key. */
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, strlen(t), recovery2_sk), SZ_E_KEY);
    assert_null(sk);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, strlen(t), owner_sk), SZ_E_KEY);
    assert_null(sk);

    /* Lines 1 and 2 on their own are the owner's secret key file. */
    const char *nl = strchr(strchr(t, '\n') + 1, '\n');
    size_t kf_len = (size_t)(nl + 1 - t);
    assert_int_equal(sz_keyfile_decode(&sk, t, kf_len, PASS, strlen(PASS)), 0);
    assert_memory_equal(sk, owner_sk, 64);
    sz_secretkey_free(sk);

    /* The recovery key appears nowhere in the backup, in any form. */
    char rk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(rk_text, recovery_pk);
    assert_null(strstr(t, rk_text));
    sz_keyfile_text_free(t);
}

static void test_wrong_passphrase(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    uint8_t *sk = NULL;
    assert_int_equal(restore(t, strlen(t), "a long passphrase for the backuP", &sk),
                     SZ_E_PASSPHRASE);
    assert_null(sk);
    assert_int_equal(restore(t, strlen(t), "x", &sk), SZ_E_PASSPHRASE);
    assert_int_equal(restore(t, strlen(t), NULL, &sk), SZ_E_ARGUMENT);
    assert_null(sk);
    sz_keyfile_text_free(t);
}

static void test_encode_arguments(void **state) {
    (void)state;
    char *t = (char *)1;
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, NULL, 0, &lim, NULL), SZ_E_ARGUMENT);
    assert_null(t);
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, "", 0, &lim, NULL), SZ_E_ARGUMENT);
    sz_kdf_limits_t big = {SZ_KEYFILE_OPSLIMIT_MAX + 1, SZ_KEYFILE_MEMLIMIT_MIN};
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, PASS, strlen(PASS), &big, NULL),
                     SZ_E_ARGUMENT);
    big = (sz_kdf_limits_t){1, SZ_KEYFILE_MEMLIMIT_MAX + 1024};
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, PASS, strlen(PASS), &big, NULL),
                     SZ_E_ARGUMENT);
    /* A secret key whose halves disagree, and recovery keys that are not keys. */
    uint8_t mixed[64];
    memcpy(mixed, owner_sk, 32);
    memcpy(mixed + 32, other_pk, 32);
    assert_int_equal(sz_keybackup_encode(&t, mixed, PASS, strlen(PASS), &lim, NULL), SZ_E_KEY);
    uint8_t bad[32] = {1};
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, PASS, strlen(PASS), &lim, bad), SZ_E_KEY);
    memset(bad, 0xff, sizeof(bad));
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, PASS, strlen(PASS), &lim, bad), SZ_E_KEY);
    assert_null(t);
}

/* The default is libsodium's SENSITIVE preset. This runs Argon2id once over 1 GiB. */
static void test_default_sensitive(void **state) {
    (void)state;
    char *t = NULL;
    assert_int_equal(sz_keybackup_encode(&t, owner_sk, PASS, strlen(PASS), NULL, recovery_pk), 0);
    sz_keybackup_info_t info;
    assert_int_equal(sz_keybackup_decode(&info, t, strlen(t)), 0);
    assert_int_equal(info.key.opslimit, crypto_pwhash_OPSLIMIT_SENSITIVE);
    assert_int_equal(info.key.memlimit, crypto_pwhash_MEMLIMIT_SENSITIVE);
    /* Escrow restore needs no Argon2id run. */
    uint8_t *sk = NULL;
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, strlen(t), recovery_sk), 0);
    assert_memory_equal(sk, owner_sk, 64);
    sz_secretkey_free(sk);
    sz_keyfile_text_free(t);
}

/* Line ends: CRLF throughout and a missing final newline are accepted, as for key files. */
static void test_line_ends(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    size_t len = strlen(t);
    /* No final newline. */
    expect_restores(t, len - 1, owner_sk);
    /* CRLF. */
    char crlf[SZ_KEYBACKUP_TEXT_MAX];
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '\n')
            crlf[w++] = '\r';
        crlf[w++] = t[i];
    }
    expect_restores(crlf, w, owner_sk);
    uint8_t *sk = NULL;
    assert_int_equal(sz_keybackup_restore_escrow(&sk, crlf, w, recovery_sk), 0);
    sz_secretkey_free(sk);
    sz_keyfile_text_free(t);
}

static int decode_rc(const char *t, size_t len) {
    sz_keybackup_info_t info;
    return sz_keybackup_decode(&info, t, len);
}

/* What may follow, precede or replace the lines. */
static void test_framing(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    size_t len = strlen(t);
    char buf[SZ_KEYBACKUP_TEXT_MAX + 16];
    /* Anything after the third line. */
    const char *tails[] = {"\n", "x", "x\n", " ", "\r\n"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", t, tails[i]);
        assert_int_equal(decode_rc(buf, strlen(buf)), SZ_E_KEYFILE);
        uint8_t *sk = NULL;
        assert_int_equal(restore(buf, strlen(buf), PASS, &sk), SZ_E_KEYFILE);
        assert_int_equal(sz_keybackup_restore_escrow(&sk, buf, strlen(buf), recovery_sk),
                         SZ_E_KEYFILE);
        assert_null(sk);
    }
    /* An empty third line. */
    const char *nl2 = strchr(strchr(t, '\n') + 1, '\n');
    size_t kf_len = (size_t)(nl2 + 1 - t);
    memcpy(buf, t, kf_len);
    buf[kf_len] = '\n';
    assert_int_equal(decode_rc(buf, kf_len + 1), SZ_E_KEYFILE);
    /* No comment line, a different first word, and an oversized text. */
    assert_int_equal(decode_rc(strchr(t, '\n') + 1, len - (size_t)(strchr(t, '\n') + 1 - t)),
                     SZ_E_KEYFILE);
    memcpy(buf, t, len + 1);
    buf[0] = 'U';
    assert_int_equal(decode_rc(buf, len), SZ_E_KEYFILE);
    /* A long comment line: exactly SZ_KEYBACKUP_TEXT_MAX bytes in all is read, one more is not. */
    const char *nl1 = strchr(t, '\n');
    size_t rest = len - (size_t)(nl1 - t);
    for (size_t total = SZ_KEYBACKUP_TEXT_MAX; total <= SZ_KEYBACKUP_TEXT_MAX + 1; total++) {
        char *big = malloc(total);
        assert_non_null(big);
        memset(big, 'a', total - rest);
        memcpy(big, "untrusted comment: ", 19);
        memcpy(big + total - rest, nl1, rest);
        assert_int_equal(decode_rc(big, total), total == SZ_KEYBACKUP_TEXT_MAX ? 0 : SZ_E_KEYFILE);
        free(big);
    }
    /* The comment line is untrusted and may be edited. */
    int n = snprintf(buf, sizeof(buf), "untrusted comment: my old laptop key%s", nl1);
    expect_restores(buf, (size_t)n, owner_sk);
    assert_int_equal(decode_rc(NULL, 0), SZ_E_KEYFILE);
    assert_int_equal(decode_rc("", 0), SZ_E_KEYFILE);
    sz_keyfile_text_free(t);
}

/* Every prefix fails, except the three that are themselves whole backups: without the final
 * newline, and the two-line form without its escrow line (with and without its newline). */
static void test_truncation(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    size_t len = strlen(t);
    const char *nl2 = strchr(strchr(t, '\n') + 1, '\n');
    size_t kf_len = (size_t)(nl2 + 1 - t);
    for (size_t n = 0; n < len; n++) {
        int rc = decode_rc(t, n);
        if (n == len - 1 || n == kf_len || n == kf_len - 1)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, SZ_E_KEYFILE);
    }
    sz_keyfile_text_free(t);
}

static void split_escrow(const char *t, size_t *line3_off, uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN]) {
    const char *nl2 = strchr(strchr(t, '\n') + 1, '\n');
    *line3_off = (size_t)(nl2 + 1 - t);
    size_t got = 0;
    assert_int_equal(sodium_base642bin(esc, SZ_KEYBACKUP_ESCROW_LEN, t + *line3_off, ESC_B64_LEN,
                                       NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(got, SZ_KEYBACKUP_ESCROW_LEN);
}

static void put_escrow(char *t, size_t line3_off, const uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN]) {
    char b64[ESC_B64_LEN + 1];
    sodium_bin2base64(b64, sizeof(b64), esc, SZ_KEYBACKUP_ESCROW_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    memcpy(t + line3_off, b64, ESC_B64_LEN);
}

/* Every bit of the escrow struct: header and public key bits make the file corrupt; box bits make
 * the recovery key fail to open it. The passphrase copy is untouched by any of them. */
static void test_escrow_bit_flips(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    size_t len = strlen(t), off;
    uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN], orig[SZ_KEYBACKUP_ESCROW_LEN];
    split_escrow(t, &off, orig);
    for (size_t i = 0; i < SZ_KEYBACKUP_ESCROW_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(esc, orig, sizeof(esc));
            esc[i] ^= (uint8_t)(1u << bit);
            put_escrow(t, off, esc);
            uint8_t *sk = NULL;
            int rc = sz_keybackup_restore_escrow(&sk, t, len, recovery_sk);
            assert_null(sk);
            if (i < 38) {
                assert_int_equal(rc, SZ_E_KEYFILE);
                assert_int_equal(decode_rc(t, len), SZ_E_KEYFILE);
            } else {
                assert_int_equal(rc, SZ_E_KEY);
                assert_int_equal(decode_rc(t, len), 0);
            }
        }
    }
    put_escrow(t, off, orig);
    uint8_t *sk = NULL;
    assert_int_equal(sz_keybackup_restore_escrow(&sk, t, len, recovery_sk), 0);
    sz_secretkey_free(sk);
    /* A character outside base64, and padding where none belongs. */
    t[off + 10] = '*';
    assert_int_equal(decode_rc(t, len), SZ_E_KEYFILE);
    t[off + 10] = 'A';
    t[off + ESC_B64_LEN - 1] = '=';
    assert_int_equal(decode_rc(t, len), SZ_E_KEYFILE);
    sz_keyfile_text_free(t);
}

/* Every character of line 2 (the key file line) changed to another base64 character: the file is
 * corrupt or, where the change only touches salt, nonce or box, the passphrase no longer works. No
 * change yields a key. Checked on the decoded struct's bytes through the restore path. */
static void test_keyline_damage(void **state) {
    (void)state;
    char *t = backup(owner_sk, recovery_pk);
    size_t len = strlen(t);
    const char *line2 = strchr(t, '\n') + 1;
    size_t off2 = (size_t)(line2 - t);
    for (size_t i = 0; i < 236; i += 3) {
        char saved = t[off2 + i];
        t[off2 + i] = saved == 'A' ? 'B' : 'A';
        uint8_t *sk = NULL;
        int rc = restore(t, len, PASS, &sk);
        assert_true(rc == SZ_E_KEYFILE || rc == SZ_E_PASSPHRASE);
        assert_null(sk);
        t[off2 + i] = saved;
    }
    expect_restores(t, len, owner_sk);
    sz_keyfile_text_free(t);
}

/* An escrow line lifted from another person's backup (same recovery key) does not travel under
 * this identity, and an unprotected key file is not a backup. */
static void test_spliced_and_unprotected(void **state) {
    (void)state;
    char *mine = backup(owner_sk, recovery_pk);
    char *theirs = backup(other_sk, recovery_pk);
    size_t off_m, off_t;
    uint8_t esc_t[SZ_KEYBACKUP_ESCROW_LEN], esc_m[SZ_KEYBACKUP_ESCROW_LEN];
    split_escrow(mine, &off_m, esc_m);
    split_escrow(theirs, &off_t, esc_t);
    memcpy(mine + off_m, theirs + off_t, ESC_B64_LEN);
    uint8_t *sk = NULL;
    assert_int_equal(decode_rc(mine, strlen(mine)), SZ_E_KEYFILE);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, mine, strlen(mine), recovery_sk),
                     SZ_E_KEYFILE);
    /* Same, with the public key field rewritten to match: the box opens, but to their key. */
    memcpy(esc_t + 6, owner_pk, 32);
    put_escrow(mine, off_m, esc_t);
    assert_int_equal(decode_rc(mine, strlen(mine)), 0);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, mine, strlen(mine), recovery_sk),
                     SZ_E_KEYFILE);
    assert_null(sk);
    /* A box holding a secret key whose halves disagree. */
    uint8_t mixed[64], xpk[32];
    memcpy(mixed, other_sk, 32);
    memcpy(mixed + 32, owner_pk, 32);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, recovery_pk), 0);
    memcpy(esc_t, esc_m, sizeof(esc_t));
    assert_int_equal(crypto_box_seal(esc_t + 38, mixed, 64, xpk), 0);
    put_escrow(mine, off_m, esc_t);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, mine, strlen(mine), recovery_sk),
                     SZ_E_KEYFILE);
    assert_null(sk);
    /* The owner's seed with someone else's public half: the seed matches, the halves do not. */
    memcpy(mixed, owner_sk, 32);
    memcpy(mixed + 32, other_pk, 32);
    memcpy(esc_t, esc_m, sizeof(esc_t));
    assert_int_equal(crypto_box_seal(esc_t + 38, mixed, 64, xpk), 0);
    put_escrow(mine, off_m, esc_t);
    assert_int_equal(sz_keybackup_restore_escrow(&sk, mine, strlen(mine), recovery_sk),
                     SZ_E_KEYFILE);
    assert_null(sk);
    sz_keyfile_text_free(mine);
    sz_keyfile_text_free(theirs);

    char *plain = NULL;
    assert_int_equal(sz_keyfile_encode(&plain, owner_sk, NULL, 0, NULL), 0);
    assert_int_equal(decode_rc(plain, strlen(plain)), SZ_E_KEYFILE);
    assert_int_equal(restore(plain, strlen(plain), PASS, &sk), SZ_E_KEYFILE);
    sz_keyfile_text_free(plain);
    /* A protected secret key file is a valid backup without escrow. */
    assert_int_equal(sz_keyfile_encode(&plain, owner_sk, PASS, strlen(PASS), &lim), 0);
    expect_restores(plain, strlen(plain), owner_sk);
    sz_keyfile_text_free(plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_no_escrow),
        cmocka_unit_test(test_roundtrip_escrow),
        cmocka_unit_test(test_wrong_passphrase),
        cmocka_unit_test(test_encode_arguments),
        cmocka_unit_test(test_default_sensitive),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_escrow_bit_flips),
        cmocka_unit_test(test_keyline_damage),
        cmocka_unit_test(test_spliced_and_unprotected),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
