/* Key files: round trips, wrong passphrases, and every kind of damage a key file can suffer. */
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
#include "keyfile.h"

#define PASS "correct horse battery staple"
#define B64_LEN (((SZ_KEYFILE_BLOB_LEN + 2) / 3) * 4)
#define OFF_PUBLIC 7
#define OFF_OPSLIMIT 39
#define OFF_MEMLIMIT 47
#define OFF_SALT 55
#define OFF_NONCE 71
#define OFF_BOX 95

static sz_kdf_limits_t min_limits(void) {
    sz_kdf_limits_t l;
    assert_int_equal(sz_kdf_limits_named(&l, "min"), 0);
    return l;
}

/* Splits a key file text into its comment line (with newline) and its decoded struct. */
static void split(const char *text, char *comment, size_t comment_cap, uint8_t *blob) {
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    size_t clen = (size_t)(nl + 1 - text);
    assert_true(clen < comment_cap);
    memcpy(comment, text, clen);
    comment[clen] = '\0';
    size_t got = 0;
    assert_int_equal(sodium_base642bin(blob, SZ_KEYFILE_BLOB_LEN, nl + 1, B64_LEN, NULL, &got, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    assert_int_equal(got, SZ_KEYFILE_BLOB_LEN);
}

/* Rebuilds a key file text from a comment line and a struct. Returns a malloc'd string. */
static char *join(const char *comment, const uint8_t *blob) {
    size_t clen = strlen(comment);
    char *t = malloc(clen + B64_LEN + 2);
    assert_non_null(t);
    memcpy(t, comment, clen);
    sodium_bin2base64(t + clen, B64_LEN + 1, blob, SZ_KEYFILE_BLOB_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    strcat(t, "\n");
    return t;
}

static void put_u64be(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int decode_text(const char *text, const char *pass, uint8_t **sk) {
    return sz_keyfile_decode(sk, text, strlen(text), pass, pass ? strlen(pass) : 0);
}

static void test_roundtrip_unprotected(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL;
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, NULL, 0, NULL), 0);

    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, sk + 32);
    assert_non_null(strstr(text, pk_text));
    assert_int_equal(strncmp(text, SZ_KEYFILE_SECRET_COMMENT, strlen(SZ_KEYFILE_SECRET_COMMENT)),
                     0);

    sz_keyfile_info_t info;
    assert_int_equal(sz_keyfile_inspect(&info, text, strlen(text)), 0);
    assert_int_equal(info.kdf, SZ_KEYFILE_KDF_NONE);
    assert_int_equal(info.cipher, SZ_KEYFILE_CIPHER_SECRETBOX);
    assert_int_equal(info.opslimit, 0);
    assert_int_equal(info.memlimit, 0);
    assert_memory_equal(info.public_key, sk + 32, 32);

    /* The passphrase is ignored for an unprotected key, whatever it is. */
    assert_int_equal(decode_text(text, NULL, &back), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);
    assert_int_equal(decode_text(text, "anything", &back), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);

    /* Two encodings of one key differ (fresh nonce) but both decode. */
    char *text2 = NULL;
    assert_int_equal(sz_keyfile_encode(&text2, sk, NULL, 0, NULL), 0);
    assert_string_not_equal(text, text2);
    sz_keyfile_text_free(text2);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

static void test_roundtrip_protected(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL;
    sz_kdf_limits_t lim = min_limits();
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, PASS, strlen(PASS), &lim), 0);

    sz_keyfile_info_t info;
    assert_int_equal(sz_keyfile_inspect(&info, text, strlen(text)), 0);
    assert_int_equal(info.kdf, SZ_KEYFILE_KDF_ARGON2ID13);
    assert_int_equal(info.opslimit, lim.opslimit);
    assert_int_equal(info.memlimit, lim.memlimit);
    assert_memory_equal(info.public_key, sk + 32, 32);

    assert_int_equal(decode_text(text, PASS, &back), 0);
    assert_non_null(back);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);

    back = (uint8_t *)1;
    assert_int_equal(decode_text(text, "correct horse battery stapl", &back), SZ_E_PASSPHRASE);
    assert_null(back);
    assert_int_equal(decode_text(text, "", &back), SZ_E_PASSPHRASE);
    assert_null(back);
    assert_int_equal(decode_text(text, NULL, &back), SZ_E_ARGUMENT);
    assert_null(back);
    sz_keyfile_text_free(text);

    /* The passphrase length is honoured: bytes after pass_len are not part of it. */
    assert_int_equal(sz_keyfile_encode(&text, sk, PASS "xyz", strlen(PASS), &lim), 0);
    assert_int_equal(decode_text(text, PASS, &back), 0);
    sz_secretkey_free(back);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

static void test_default_limits_are_moderate(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL;
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, PASS, strlen(PASS), NULL), 0);
    sz_keyfile_info_t info;
    assert_int_equal(sz_keyfile_inspect(&info, text, strlen(text)), 0);
    assert_int_equal(info.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
    assert_int_equal(info.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
    assert_int_equal(decode_text(text, PASS, &back), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

static void test_encode_arguments(void **state) {
    (void)state;
    uint8_t *sk = NULL;
    char *text = (char *)1;
    sz_kdf_limits_t lim;
    assert_int_equal(sz_kdf_limits_named(&lim, "fast"), SZ_E_ARGUMENT);
    assert_int_equal(sz_kdf_limits_named(&lim, "interactive"), 0);
    assert_int_equal(lim.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    assert_int_equal(sz_kdf_limits_named(&lim, "sensitive"), 0);
    assert_int_equal(lim.memlimit, crypto_pwhash_MEMLIMIT_SENSITIVE);
    assert_true(lim.memlimit <= SZ_KEYFILE_MEMLIMIT_MAX);

    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, "", 0, NULL), SZ_E_ARGUMENT);
    assert_null(text);
    sz_kdf_limits_t bad[] = {{0, 8192},
                             {1, 4096},
                             {SZ_KEYFILE_OPSLIMIT_MAX + 1, 8192},
                             {1, (uint64_t)SZ_KEYFILE_MEMLIMIT_MAX + 1},
                             {UINT64_MAX, UINT64_MAX},
                             {1, 8192 + 1}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sz_keyfile_encode(&text, sk, PASS, strlen(PASS), &bad[i]), SZ_E_ARGUMENT);

    /* A secret key whose second half is another key's public key is refused. */
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair(other_pk, other_sk);
    uint8_t mixed[64];
    memcpy(mixed, sk, 32);
    memcpy(mixed + 32, other_pk, 32);
    assert_int_equal(sz_keyfile_encode(&text, mixed, NULL, 0, NULL), SZ_E_KEY);
    assert_null(text);
    sz_secretkey_free(sk);
}

/* Flips bits in every byte of the decoded struct; each must give an error, never a key. */
static void flip_every_byte(const char *pass) {
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL, comment[256];
    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    sz_kdf_limits_t lim = min_limits();
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, pass, pass ? strlen(pass) : 0, &lim), 0);
    split(text, comment, sizeof(comment), blob);
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    int seen_passphrase = 0, seen_keyfile = 0;
    for (size_t i = 0; i < SZ_KEYFILE_BLOB_LEN; i++) {
        for (size_t m = 0; m < sizeof(masks); m++) {
            blob[i] ^= masks[m];
            char *bad = join(comment, blob);
            back = (uint8_t *)1;
            int rc = decode_text(bad, pass, &back);
            if (rc == 0)
                fail_msg("byte %zu mask %02x decoded to a key", i, masks[m]);
            assert_null(back);
            if (pass == NULL) {
                /* Nothing about an unprotected file can be blamed on a passphrase. */
                assert_int_equal(rc, SZ_E_KEYFILE);
            } else if (i < OFF_OPSLIMIT) {
                assert_int_equal(rc, SZ_E_KEYFILE);
            } else if (i >= OFF_SALT) {
                assert_int_equal(rc, SZ_E_PASSPHRASE);
            } else {
                /* A changed KDF cost is either out of bounds or derives another key. */
                assert_true(rc == SZ_E_KEYFILE || rc == SZ_E_PASSPHRASE);
            }
            seen_passphrase += rc == SZ_E_PASSPHRASE;
            seen_keyfile += rc == SZ_E_KEYFILE;
            /* inspect never decrypts, so it fails exactly for structural damage. */
            sz_keyfile_info_t info;
            int irc = sz_keyfile_inspect(&info, bad, strlen(bad));
            if (pass != NULL && i >= OFF_SALT)
                assert_int_equal(irc, 0);
            free(bad);
            blob[i] ^= masks[m];
        }
    }
    assert_true(seen_keyfile > 0);
    assert_true(pass == NULL ? seen_passphrase == 0 : seen_passphrase > 0);
    /* And the untouched struct still decodes, so the failures above were the flips. */
    char *good = join(comment, blob);
    assert_int_equal(decode_text(good, pass, &back), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);
    free(good);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

static void test_flip_protected(void **state) {
    (void)state;
    flip_every_byte(PASS);
}

static void test_flip_unprotected(void **state) {
    (void)state;
    flip_every_byte(NULL);
}

static void test_truncations(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL;
    sz_kdf_limits_t lim = min_limits();
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, PASS, strlen(PASS), &lim), 0);
    size_t len = strlen(text);
    for (size_t n = 0; n + 1 < len; n++) {
        assert_int_equal(sz_keyfile_decode(&back, text, n, PASS, strlen(PASS)), SZ_E_KEYFILE);
        assert_null(back);
        sz_keyfile_info_t info;
        assert_int_equal(sz_keyfile_inspect(&info, text, n), SZ_E_KEYFILE);
    }
    /* Only the final newline is optional. */
    assert_int_equal(sz_keyfile_decode(&back, text, len - 1, PASS, strlen(PASS)), 0);
    sz_secretkey_free(back);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

static void test_bad_text(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL;
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, NULL, 0, NULL), 0);
    size_t len = strlen(text);
    const char *line2 = strchr(text, '\n') + 1;
    size_t off2 = (size_t)(line2 - text);
    char buf[1024];

    /* Characters that are not base64, or base64 in the wrong place, anywhere on line 2. */
    static const char bad_chars[] = {'!', '=', ' ', '-', '_', '\0', '\t', '\r'};
    for (size_t pos = off2; pos < len - 1; pos += 7) {
        for (size_t c = 0; c < sizeof(bad_chars); c++) {
            memcpy(buf, text, len + 1);
            if (buf[pos] == bad_chars[c])
                continue;
            buf[pos] = bad_chars[c];
            assert_int_equal(sz_keyfile_decode(&back, buf, len, NULL, 0), SZ_E_KEYFILE);
        }
    }
    /* A non-canonical last character (unused low bits set) before the padding. */
    memcpy(buf, text, len + 1);
    char *pad = strchr(buf + off2, '=');
    assert_non_null(pad);
    char *last = pad - 1;
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t v = (size_t)(strchr(alphabet, *last) - alphabet);
    *last = alphabet[v ^ 1];
    assert_int_equal(sz_keyfile_decode(&back, buf, len, NULL, 0), SZ_E_KEYFILE);

    /* Extra bytes: after the final newline, a third line, one more base64 group. */
    snprintf(buf, sizeof(buf), "%sx", text);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), SZ_E_KEYFILE);
    snprintf(buf, sizeof(buf), "%s\n", text);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), SZ_E_KEYFILE);
    snprintf(buf, sizeof(buf), "%.*sAAAA\n", (int)(len - 1), text);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), SZ_E_KEYFILE);

    /* No comment line, a comment with another prefix, an empty text, a public key file. */
    assert_int_equal(sz_keyfile_decode(&back, line2, strlen(line2), NULL, 0), SZ_E_KEYFILE);
    snprintf(buf, sizeof(buf), "trusted comment: x\n%s", line2);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), SZ_E_KEYFILE);
    assert_int_equal(sz_keyfile_decode(&back, "", 0, NULL, 0), SZ_E_KEYFILE);
    char pub[SZ_PUBFILE_TEXT_LEN + 1];
    sz_pubfile_format(pub, sk + 32);
    assert_int_equal(sz_keyfile_decode(&back, pub, strlen(pub), NULL, 0), SZ_E_KEYFILE);
    assert_null(back);

    /* What is allowed: an edited comment and CRLF line ends. */
    snprintf(buf, sizeof(buf), "untrusted comment: my field key\n%s", line2);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);
    snprintf(buf, sizeof(buf), "untrusted comment: x\r\n%.*s\r\n", (int)(len - off2 - 1), line2);
    assert_int_equal(sz_keyfile_decode(&back, buf, strlen(buf), NULL, 0), 0);
    sz_secretkey_free(back);

    /* Huge text is refused before any work. */
    char *huge = malloc(SZ_KEYFILE_TEXT_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'A', SZ_KEYFILE_TEXT_MAX + 1);
    memcpy(huge, text, len);
    huge[SZ_KEYFILE_TEXT_MAX + 1] = '\0';
    assert_int_equal(sz_keyfile_decode(&back, huge, SZ_KEYFILE_TEXT_MAX + 1, NULL, 0),
                     SZ_E_KEYFILE);
    free(huge);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

/* Hostile KDF parameters are refused before any Argon2id run (this test would take minutes and
 * gigabytes otherwise). */
static void test_hostile_limits(void **state) {
    (void)state;
    uint8_t *sk = NULL, *back = NULL;
    char *text = NULL, comment[256];
    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    sz_kdf_limits_t lim = min_limits();
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&text, sk, PASS, strlen(PASS), &lim), 0);
    split(text, comment, sizeof(comment), blob);
    struct {
        uint64_t ops, mem;
    } cases[] = {
        {1, 100ull << 30}, /* 100 GiB */
        {1, (uint64_t)SZ_KEYFILE_MEMLIMIT_MAX + 1},
        {1, UINT64_MAX},
        {1ull << 40, 8192},
        {SZ_KEYFILE_OPSLIMIT_MAX + 1, 8192},
        {UINT64_MAX, UINT64_MAX},
        {0, 8192},
        {1, 0},
        {1, 8191},
        {1, 8193},
        {1, 9216 + 512},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put_u64be(blob + OFF_OPSLIMIT, cases[i].ops);
        put_u64be(blob + OFF_MEMLIMIT, cases[i].mem);
        char *bad = join(comment, blob);
        sz_keyfile_info_t info;
        assert_int_equal(sz_keyfile_inspect(&info, bad, strlen(bad)), SZ_E_KEYFILE);
        assert_int_equal(decode_text(bad, PASS, &back), SZ_E_KEYFILE);
        assert_null(back);
        free(bad);
    }
    /* KDF fields in an unprotected file are damage too. */
    sz_keyfile_text_free(text);
    assert_int_equal(sz_keyfile_encode(&text, sk, NULL, 0, NULL), 0);
    split(text, comment, sizeof(comment), blob);
    blob[OFF_SALT + 3] = 1;
    char *bad = join(comment, blob);
    assert_int_equal(decode_text(bad, NULL, &back), SZ_E_KEYFILE);
    free(bad);
    sz_keyfile_text_free(text);
    sz_secretkey_free(sk);
}

/* Builds an unprotected key file around an arbitrary 64-byte secret and clear public key. */
static char *forge_unprotected(const uint8_t secret[64], const uint8_t clear_pk[32]) {
    uint8_t blob[SZ_KEYFILE_BLOB_LEN] = {0}, zero_key[32] = {0};
    memcpy(blob, SZ_KEYFILE_MAGIC, 4);
    blob[4] = SZ_KEYFILE_VERSION;
    blob[5] = SZ_KEYFILE_KDF_NONE;
    blob[6] = SZ_KEYFILE_CIPHER_SECRETBOX;
    memcpy(blob + OFF_PUBLIC, clear_pk, 32);
    randombytes_buf(blob + OFF_NONCE, 24);
    crypto_secretbox_easy(blob + OFF_BOX, secret, 64, blob + OFF_NONCE, zero_key);
    return join("untrusted comment: forged\n", blob);
}

static void test_public_key_mismatch(void **state) {
    (void)state;
    uint8_t pk[32], sk[64], other_pk[32], other_sk[64], *back = NULL;
    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(other_pk, other_sk);

    /* The forger's control: a consistent forged file does decode, so the checks below matter. */
    char *t = forge_unprotected(sk, pk);
    assert_int_equal(decode_text(t, NULL, &back), 0);
    assert_memory_equal(back, sk, 64);
    sz_secretkey_free(back);
    free(t);

    /* The clear public key names another key. */
    t = forge_unprotected(sk, other_pk);
    assert_int_equal(decode_text(t, NULL, &back), SZ_E_KEYFILE);
    assert_null(back);
    free(t);

    /* The secret's own second half names another key, and so does the clear key. */
    uint8_t mixed[64];
    memcpy(mixed, sk, 32);
    memcpy(mixed + 32, other_pk, 32);
    t = forge_unprotected(mixed, other_pk);
    assert_int_equal(decode_text(t, NULL, &back), SZ_E_KEYFILE);
    assert_null(back);
    free(t);
    t = forge_unprotected(mixed, pk);
    assert_int_equal(decode_text(t, NULL, &back), SZ_E_KEYFILE);
    assert_null(back);
    free(t);

    /* A protected file whose clear key was swapped still fails after a good decryption. */
    uint8_t *gen = NULL;
    char *text = NULL, comment[256];
    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    sz_kdf_limits_t lim = min_limits();
    assert_int_equal(sz_secretkey_generate(&gen), 0);
    assert_int_equal(sz_keyfile_encode(&text, gen, PASS, strlen(PASS), &lim), 0);
    split(text, comment, sizeof(comment), blob);
    memcpy(blob + OFF_PUBLIC, other_pk, 32);
    t = join(comment, blob);
    assert_int_equal(decode_text(t, PASS, &back), SZ_E_KEYFILE);
    assert_null(back);
    free(t);
    sz_keyfile_text_free(text);
    sz_secretkey_free(gen);
}

static void test_public_key_files(void **state) {
    (void)state;
    uint8_t pk[32], sk[64], back[32];
    crypto_sign_keypair(pk, sk);
    char pub[SZ_PUBFILE_TEXT_LEN + 1], key_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubfile_format(pub, pk);
    sz_pubkey_format(key_text, pk);
    assert_int_equal(strlen(pub), SZ_PUBFILE_TEXT_LEN);
    char expect[128];
    snprintf(expect, sizeof(expect), "untrusted comment: samizdat public key\n%s\n", key_text);
    assert_string_equal(pub, expect);

    memset(back, 0, 32);
    assert_int_equal(sz_pubkey_parse_any(back, pub, strlen(pub)), 0);
    assert_memory_equal(back, pk, 32);
    memset(back, 0, 32);
    assert_int_equal(sz_pubkey_parse_any(back, key_text, strlen(key_text)), 0);
    assert_memory_equal(back, pk, 32);
    char buf[256];
    snprintf(buf, sizeof(buf), "  %s \r\n", key_text);
    assert_int_equal(sz_pubkey_parse_any(back, buf, strlen(buf)), 0);
    assert_memory_equal(back, pk, 32);
    snprintf(buf, sizeof(buf), "untrusted comment: edited\r\n%s", key_text);
    assert_int_equal(sz_pubkey_parse_any(back, buf, strlen(buf)), 0);
    assert_memory_equal(back, pk, 32);

    /* What is not a public key. */
    assert_int_equal(sz_pubkey_parse_any(back, "", 0), SZ_E_KEY);
    assert_int_equal(sz_pubkey_parse_any(back, pub, strlen(pub) - 10), SZ_E_KEY);
    assert_int_equal(sz_pubkey_parse_any(back, key_text, 43), SZ_E_KEY);
    assert_int_equal(sz_pubkey_parse_any(back, "untrusted comment: x", 20), SZ_E_KEY);
    snprintf(buf, sizeof(buf), "%s\n%s\n", key_text, key_text);
    assert_int_equal(sz_pubkey_parse_any(back, buf, strlen(buf)), SZ_E_KEY);
    char nul_text[SZ_PUBKEY_TEXT_LEN + 2];
    memcpy(nul_text, key_text, SZ_PUBKEY_TEXT_LEN);
    nul_text[SZ_PUBKEY_TEXT_LEN] = '\0';
    nul_text[SZ_PUBKEY_TEXT_LEN + 1] = 'A';
    assert_int_equal(sz_pubkey_parse_any(back, nul_text, sizeof(nul_text)), SZ_E_KEY);
    uint8_t *gen = NULL;
    char *text = NULL;
    assert_int_equal(sz_secretkey_generate(&gen), 0);
    assert_int_equal(sz_keyfile_encode(&text, gen, NULL, 0, NULL), 0);
    assert_int_equal(sz_pubkey_parse_any(back, text, strlen(text)), SZ_E_KEY);
    sz_keyfile_text_free(text);
    sz_secretkey_free(gen);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_unprotected),
        cmocka_unit_test(test_roundtrip_protected),
        cmocka_unit_test(test_default_limits_are_moderate),
        cmocka_unit_test(test_encode_arguments),
        cmocka_unit_test(test_flip_protected),
        cmocka_unit_test(test_flip_unprotected),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_bad_text),
        cmocka_unit_test(test_hostile_limits),
        cmocka_unit_test(test_public_key_mismatch),
        cmocka_unit_test(test_public_key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
