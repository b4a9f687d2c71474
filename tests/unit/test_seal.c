/* Sealed bodies: round trips with 1..64 recipients, non-recipients, every bit flip, bodies moved
 * to another author or kind, what padding hides, truncation, extension, size limits, and bodies
 * built by hand from SEALING.md to check the format and the canonical-padding rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record.h"
#include "seal.h"

#define NKEYS 66
#define MARKER "MARKER-7f3a9c-unique-witness-text"

static uint8_t pks[NKEYS][32], sks[NKEYS][64];
static uint8_t author_pk[32], author_sk[64];

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < NKEYS; i++)
        crypto_sign_keypair(pks[i], sks[i]);
    crypto_sign_keypair(author_pk, author_sk);
    return 0;
}

/* Recipients 0..n-1 back to back. */
static const uint8_t *recips(void) {
    return &pks[0][0];
}

/* Returns 1 if needle (n bytes) occurs anywhere in hay (len bytes). */
static int contains(const uint8_t *hay, size_t len, const void *needle, size_t n) {
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

static const char *body_json =
    "{\"title\":\"Refusal\",\"statement\":{\"text\":\"" MARKER "\",\"language\":\"en\"}}";

static void seal_ok(const void *plain, size_t len, uint8_t kind, const uint8_t *r, size_t n,
                    uint8_t **out, size_t *out_len) {
    assert_int_equal(sz_seal(plain, len, kind, author_pk, r, n, out, out_len), 0);
    assert_non_null(*out);
    size_t expect = 0;
    assert_int_equal(sz_seal_body_len(len, n, &expect), 0);
    assert_int_equal(*out_len, expect);
    assert_int_equal(sz_seal_parse(*out, *out_len, NULL), 0);
}

static void unseal_expect(const uint8_t *body, size_t len, uint8_t kind, const uint8_t *apk,
                          const uint8_t *sk, const void *plain, size_t plain_len) {
    uint8_t *p = NULL;
    size_t plen = 99;
    assert_int_equal(sz_unseal(body, len, kind, apk, sk, &p, &plen), 0);
    assert_non_null(p);
    assert_int_equal(plen, plain_len);
    if (plain_len > 0)
        assert_memory_equal(p, plain, plain_len);
    sodium_free(p);
}

static int unseal_rc(const uint8_t *body, size_t len, uint8_t kind, const uint8_t *apk,
                     const uint8_t *sk) {
    uint8_t *p = (uint8_t *)1;
    size_t plen = 99;
    int rc = sz_unseal(body, len, kind, apk, sk, &p, &plen);
    if (rc == 0) {
        sodium_free(p);
    } else {
        assert_null(p);
        assert_int_equal(plen, 0);
    }
    return rc;
}

static void test_slot_count(void **state) {
    (void)state;
    assert_int_equal(sz_seal_slot_count(0), 0);
    assert_int_equal(sz_seal_slot_count(1), 4);
    assert_int_equal(sz_seal_slot_count(4), 4);
    assert_int_equal(sz_seal_slot_count(5), 8);
    assert_int_equal(sz_seal_slot_count(9), 16);
    assert_int_equal(sz_seal_slot_count(17), 32);
    assert_int_equal(sz_seal_slot_count(33), 64);
    assert_int_equal(sz_seal_slot_count(64), 64);
    assert_int_equal(sz_seal_slot_count(65), 0);
}

/* Every recipient count from 1 to 64: the first, a middle and the last recipient read it, and the
 * slot count is the bucket. */
static void test_roundtrip_1_to_64(void **state) {
    (void)state;
    size_t len = strlen(body_json);
    for (size_t n = 1; n <= 64; n++) {
        uint8_t *b = NULL;
        size_t blen = 0;
        seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), n, &b, &blen);
        sz_seal_info_t info;
        assert_int_equal(sz_seal_parse(b, blen, &info), 0);
        assert_int_equal(info.nslots, sz_seal_slot_count(n));
        assert_int_equal(info.version, SZ_SEAL_VERSION);
        assert_int_equal(info.padded_len, SZ_SEAL_PAD_MIN);
        size_t who[3] = {0, n / 2, n - 1};
        for (int k = 0; k < 3; k++)
            unseal_expect(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[who[k]], body_json, len);
        /* Keys 64 and 65 are never recipients. */
        assert_int_equal(unseal_rc(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[65]), SZ_E_SEALED);
        free(b);
    }
}

/* Every one of 16 recipients can read; the author, unless a recipient, cannot. */
static void test_every_recipient_and_author(void **state) {
    (void)state;
    size_t len = strlen(body_json);
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(body_json, len, SZ_KIND_CASE, recips(), 16, &b, &blen);
    for (int i = 0; i < 16; i++)
        unseal_expect(b, blen, SZ_KIND_CASE, author_pk, sks[i], body_json, len);
    for (int i = 16; i < NKEYS; i++)
        assert_int_equal(unseal_rc(b, blen, SZ_KIND_CASE, author_pk, sks[i]), SZ_E_SEALED);
    assert_int_equal(unseal_rc(b, blen, SZ_KIND_CASE, author_pk, author_sk), SZ_E_SEALED);
    free(b);

    /* Sealing to oneself as well is how an author keeps a readable copy. */
    uint8_t two[64];
    memcpy(two, pks[0], 32);
    memcpy(two + 32, author_pk, 32);
    seal_ok(body_json, len, SZ_KIND_CASE, two, 2, &b, &blen);
    unseal_expect(b, blen, SZ_KIND_CASE, author_pk, author_sk, body_json, len);
    free(b);
}

static void test_empty_and_binary_plaintext(void **state) {
    (void)state;
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(NULL, 0, SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    unseal_expect(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[0], NULL, 0);
    free(b);

    uint8_t bin[3000];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(i * 7 + 1);
    bin[0] = 0;
    bin[sizeof(bin) - 1] = 0; /* trailing zeros must survive unpadding */
    bin[sizeof(bin) - 2] = 0;
    seal_ok(bin, sizeof(bin), SZ_KIND_TESTIMONY, recips(), 3, &b, &blen);
    unseal_expect(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[2], bin, sizeof(bin));
    free(b);
}

/* The output never holds the plaintext, nor its first 16 bytes anywhere. */
static void test_marker_absent(void **state) {
    (void)state;
    size_t len = strlen(body_json);
    for (size_t n = 1; n <= 8; n++) {
        uint8_t *b = NULL;
        size_t blen = 0;
        seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), n, &b, &blen);
        assert_false(contains(b, blen, MARKER, strlen(MARKER)));
        assert_false(contains(b, blen, MARKER, 8));
        assert_false(contains(b, blen, body_json, 16));
        free(b);
    }
}

/* What the padding hides: the exact recipient count inside a bucket and the exact size of the
 * plaintext inside a padding step. What it does not: the bucket. */
static void test_padding_hides(void **state) {
    (void)state;
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    size_t len = strlen(body_json);
    seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), 1, &a, &alen);
    seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), 3, &b, &blen);
    assert_int_equal(alen, blen);
    free(b);
    seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), 4, &b, &blen);
    assert_int_equal(alen, blen);
    free(b);
    seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), 5, &b, &blen);
    assert_int_equal(blen, alen + 4 * SZ_SEAL_SLOT_LEN);
    free(b);
    /* 1 byte and 1000 bytes of plaintext give the same size. */
    static uint8_t plain[5000];
    memset(plain, 'x', sizeof(plain));
    seal_ok(plain, 1, SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    assert_int_equal(blen, alen);
    free(b);
    seal_ok(plain, 1000, SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    assert_int_equal(blen, alen);
    free(b);
    /* 1021 bytes need 1025 padded bytes and so the next step, 1088. */
    seal_ok(plain, 1021, SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    assert_int_equal(blen, alen + 64);
    free(b);
    /* Sizes within one Padmé step collide: 4000 and 4090 bytes (steps of 256 from 4096). */
    size_t c1, c2;
    assert_int_equal(sz_seal_body_len(4000, 1, &c1), 0);
    assert_int_equal(sz_seal_body_len(4090, 1, &c2), 0);
    assert_int_equal(c1, c2);
    /* The overhead of padding stays under 1/8 of the plaintext from 1 KiB up. */
    for (size_t n = 1024; n < 900000; n = n * 5 / 4 + 13) {
        size_t bl;
        assert_int_equal(sz_seal_body_len(n, 1, &bl), 0);
        size_t padded = bl - SZ_SEAL_HEADER_LEN - 4 * SZ_SEAL_SLOT_LEN - SZ_SEAL_TAG_LEN;
        assert_true(padded >= n + 4);
        assert_true(padded - n - 4 <= n / 8);
    }
    free(a);
}

/* Decoys look like real slots: every slot's ephemeral key is a canonical X25519 key (top bit 0),
 * no two slots are equal, and the real slot's position varies from seal to seal. */
static void test_decoys_and_positions(void **state) {
    (void)state;
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(body_json, strlen(body_json), SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    sz_seal_info_t info;
    assert_int_equal(sz_seal_parse(b, blen, &info), 0);
    free(b);
    seal_ok(body_json, strlen(body_json), SZ_KIND_TESTIMONY, recips(), 33, &b, &blen);
    assert_int_equal(sz_seal_parse(b, blen, &info), 0);
    assert_int_equal(info.nslots, 64);
    for (unsigned i = 0; i < info.nslots; i++) {
        const uint8_t *s = b + SZ_SEAL_HEADER_LEN + i * SZ_SEAL_SLOT_LEN;
        assert_int_equal(s[31] & 0x80, 0);
        for (unsigned j = 0; j < i; j++)
            assert_memory_not_equal(s, b + SZ_SEAL_HEADER_LEN + j * SZ_SEAL_SLOT_LEN, 32);
    }
    free(b);

    unsigned seen_pos = 0;
    uint8_t xpk[32], xsk[32], key[32];
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, pks[0]), 0);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sks[0]), 0);
    for (int round = 0; round < 40; round++) {
        seal_ok("x", 1, SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
        int hits = 0;
        for (unsigned i = 0; i < 4; i++) {
            if (crypto_box_seal_open(key, b + SZ_SEAL_HEADER_LEN + i * SZ_SEAL_SLOT_LEN,
                                     SZ_SEAL_SLOT_LEN, xpk, xsk) == 0) {
                seen_pos |= 1u << i;
                hits++;
            }
        }
        assert_int_equal(hits, 1);
        free(b);
    }
    /* With 40 seals the chance of the real slot sitting at one position every time is 4^-39. */
    assert_int_not_equal(seen_pos & (seen_pos - 1), 0);
}

static void test_duplicates_and_bad_keys(void **state) {
    (void)state;
    uint8_t r[6 * 32];
    for (int i = 0; i < 5; i++)
        memcpy(r + 32 * i, pks[7], 32);
    memcpy(r + 5 * 32, pks[8], 32);
    uint8_t *b = NULL;
    size_t blen = 0;
    assert_int_equal(
        sz_seal((const uint8_t *)body_json, strlen(body_json), 1, author_pk, r, 6, &b, &blen), 0);
    sz_seal_info_t info;
    assert_int_equal(sz_seal_parse(b, blen, &info), 0);
    assert_int_equal(info.nslots, 4); /* two distinct recipients */
    unseal_expect(b, blen, 1, author_pk, sks[7], body_json, strlen(body_json));
    unseal_expect(b, blen, 1, author_pk, sks[8], body_json, strlen(body_json));
    free(b);

    /* The identity point (a small-order point) and a non-canonical encoding are not keys. */
    uint8_t bad[2][32];
    memset(bad[0], 0, 32);
    bad[0][0] = 1;
    memset(bad[1], 0xff, 32);
    for (int i = 0; i < 2; i++) {
        memcpy(r, pks[0], 32);
        memcpy(r + 32, bad[i], 32);
        b = (uint8_t *)1;
        assert_int_equal(sz_seal((const uint8_t *)body_json, 10, 1, author_pk, r, 2, &b, &blen),
                         SZ_E_KEY);
        assert_null(b);
    }
}

static void test_arguments(void **state) {
    (void)state;
    uint8_t *b = NULL;
    size_t blen = 0;
    assert_int_equal(sz_seal((const uint8_t *)body_json, 5, 1, author_pk, recips(), 0, &b, &blen),
                     SZ_E_ARGUMENT);
    assert_int_equal(sz_seal((const uint8_t *)body_json, 5, 1, author_pk, recips(), 65, &b, &blen),
                     SZ_E_ARGUMENT);
    assert_int_equal(sz_seal((const uint8_t *)body_json, 5, 0, author_pk, recips(), 1, &b, &blen),
                     SZ_E_ARGUMENT);
    assert_int_equal(sz_seal(NULL, 5, 1, author_pk, recips(), 1, &b, &blen), SZ_E_ARGUMENT);
    assert_int_equal(sz_seal((const uint8_t *)body_json, 5, 1, author_pk, NULL, 1, &b, &blen),
                     SZ_E_ARGUMENT);
    assert_int_equal(sz_seal((const uint8_t *)body_json, 5, 1, author_pk, recips(), 1, NULL, &blen),
                     SZ_E_ARGUMENT);
    assert_null(b);
    size_t bl;
    assert_int_equal(sz_seal_body_len(5, 0, &bl), SZ_E_ARGUMENT);
    assert_int_equal(sz_seal_body_len(5, 65, &bl), SZ_E_ARGUMENT);
    uint8_t *p = NULL;
    size_t plen = 0;
    assert_int_equal(sz_unseal(NULL, 5, 1, author_pk, sks[0], &p, &plen), SZ_E_ARGUMENT);
    assert_int_equal(sz_unseal(NULL, 0, 1, author_pk, sks[0], &p, &plen), SZ_E_MALFORMED);
    assert_int_equal(sz_unseal((const uint8_t *)"x", 1, 1, author_pk, sks[0], NULL, &plen),
                     SZ_E_ARGUMENT);
}

/* A body moved under another author key or another kind no longer opens; nor does one whose
 * author was swapped for the reader's own key. */
static void test_moved_context(void **state) {
    (void)state;
    size_t len = strlen(body_json);
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(body_json, len, SZ_KIND_TESTIMONY, recips(), 2, &b, &blen);
    unseal_expect(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[1], body_json, len);
    assert_int_equal(unseal_rc(b, blen, SZ_KIND_TESTIMONY, pks[5], sks[1]), SZ_E_DECRYPT);
    assert_int_equal(unseal_rc(b, blen, SZ_KIND_TESTIMONY, pks[1], sks[1]), SZ_E_DECRYPT);
    for (unsigned k = 0; k < 256; k++) {
        if (k == SZ_KIND_TESTIMONY)
            continue;
        assert_int_equal(unseal_rc(b, blen, (uint8_t)k, author_pk, sks[0]), SZ_E_DECRYPT);
    }
    /* Every single-bit change of the author key breaks it too. */
    for (int bit = 0; bit < 256; bit++) {
        uint8_t other[32];
        memcpy(other, author_pk, 32);
        other[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(unseal_rc(b, blen, SZ_KIND_TESTIMONY, other, sks[0]), SZ_E_DECRYPT);
    }
    free(b);
}

/* No single-bit change of a sealed body opens, and each field fails the way SEALING.md says. */
static void test_every_bit_flip(void **state) {
    (void)state;
    const char *msg = "short " MARKER;
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(msg, strlen(msg), SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    uint8_t xpk[32], xsk[32], key[32];
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, pks[0]), 0);
    assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, sks[0]), 0);
    size_t mine = 99;
    for (unsigned i = 0; i < 4; i++)
        if (crypto_box_seal_open(key, b + SZ_SEAL_HEADER_LEN + i * SZ_SEAL_SLOT_LEN,
                                 SZ_SEAL_SLOT_LEN, xpk, xsk) == 0)
            mine = SZ_SEAL_HEADER_LEN + i * SZ_SEAL_SLOT_LEN;
    assert_int_not_equal(mine, 99);
    for (size_t i = 0; i < blen; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            int rc = unseal_rc(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[0]);
            if (i == 0)
                assert_int_equal(rc, SZ_E_VERSION);
            else if (i == 1)
                assert_int_equal(rc, SZ_E_MALFORMED);
            else if (i >= mine && i < mine + SZ_SEAL_SLOT_LEN)
                assert_int_equal(rc, SZ_E_SEALED);
            else /* nonce, commitment, other slots (associated data), ciphertext */
                assert_int_equal(rc, SZ_E_DECRYPT);
            b[i] ^= (uint8_t)(1u << bit);
        }
    }
    unseal_expect(b, blen, SZ_KIND_TESTIMONY, author_pk, sks[0], msg, strlen(msg));
    free(b);
}

/* Every proper prefix fails, and so does every extension up to 128 bytes, whether or not the new
 * length happens to be a valid padded length. */
static void test_truncated_and_extended(void **state) {
    (void)state;
    const char *msg = "truncate me";
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok(msg, strlen(msg), SZ_KIND_TESTIMONY, recips(), 1, &b, &blen);
    for (size_t n = 0; n < blen; n++) {
        assert_int_equal(sz_seal_parse(b, n, NULL), SZ_E_MALFORMED);
        assert_int_not_equal(unseal_rc(b, n, SZ_KIND_TESTIMONY, author_pk, sks[0]), 0);
    }
    uint8_t *ext = malloc(blen + 128);
    assert_non_null(ext);
    memcpy(ext, b, blen);
    randombytes_buf(ext + blen, 128);
    int parsed = 0;
    for (size_t k = 1; k <= 128; k++) {
        int rc = sz_seal_parse(ext, blen + k, NULL);
        if (rc == 0)
            parsed++; /* 1024 + 64 is the next padded length */
        else
            assert_int_equal(rc, SZ_E_MALFORMED);
        assert_int_not_equal(unseal_rc(ext, blen + k, SZ_KIND_TESTIMONY, author_pk, sks[0]), 0);
    }
    assert_int_equal(parsed, 2); /* +64 and +128 */
    free(ext);
    free(b);
}

static void test_size_limits(void **state) {
    (void)state;
    for (size_t n = 1; n <= 64; n = n * 2 + 1) {
        unsigned s = sz_seal_slot_count(n);
        size_t cap = SZ_RECORD_MAX_BODY - SZ_SEAL_HEADER_LEN - s * SZ_SEAL_SLOT_LEN -
                     SZ_SEAL_TAG_LEN - SZ_SEAL_LENGTH_LEN;
        size_t bl = 0;
        assert_int_equal(sz_seal_body_len(cap, n, &bl), 0);
        assert_int_equal(bl, SZ_RECORD_MAX_BODY);
        assert_int_equal(sz_seal_body_len(cap + 1, n, &bl), SZ_E_TOO_LARGE);
        /* Just below the top bucket the padding is clamped to the limit, not refused. */
        assert_int_equal(sz_seal_body_len(cap - 5000, n, &bl), 0);
        assert_true(bl <= SZ_RECORD_MAX_BODY);
    }
    assert_int_equal(sz_seal_body_len((size_t)SZ_RECORD_MAX_BODY * 4, 1, &(size_t){0}),
                     SZ_E_TOO_LARGE);

    size_t cap = SZ_RECORD_MAX_BODY - SZ_SEAL_HEADER_LEN - 64 * SZ_SEAL_SLOT_LEN - SZ_SEAL_TAG_LEN -
                 SZ_SEAL_LENGTH_LEN;
    uint8_t *big = malloc(cap + 1);
    assert_non_null(big);
    memset(big, 'q', cap + 1);
    uint8_t *b = (uint8_t *)1;
    size_t blen = 0;
    assert_int_equal(sz_seal(big, cap + 1, 1, author_pk, recips(), 64, &b, &blen), SZ_E_TOO_LARGE);
    assert_null(b);
    seal_ok(big, cap, 1, recips(), 64, &b, &blen);
    assert_int_equal(blen, SZ_RECORD_MAX_BODY);
    unseal_expect(b, blen, 1, author_pk, sks[63], big, cap);
    free(b);
    /* A plaintext a little under the limit with one recipient lands in the clamped top bucket. */
    seal_ok(big, cap - 3000, 1, recips(), 1, &b, &blen);
    assert_int_equal(blen, SZ_RECORD_MAX_BODY);
    unseal_expect(b, blen, 1, author_pk, sks[0], big, cap - 3000);
    free(b);
    free(big);

    uint8_t *huge = calloc(1, SZ_RECORD_MAX_BODY + 1);
    assert_non_null(huge);
    huge[0] = SZ_SEAL_VERSION;
    huge[1] = 4;
    assert_int_equal(sz_seal_parse(huge, SZ_RECORD_MAX_BODY + 1, NULL), SZ_E_TOO_LARGE);
    assert_int_equal(sz_seal_parse(huge, SZ_RECORD_MAX_BODY, NULL), 0); /* the top bucket */
    free(huge);
}

static void test_parse_header(void **state) {
    (void)state;
    uint8_t *b = NULL;
    size_t blen = 0;
    seal_ok("x", 1, 1, recips(), 1, &b, &blen);
    assert_int_equal(sz_seal_parse(NULL, 0, NULL), SZ_E_MALFORMED);
    for (unsigned v = 0; v < 256; v++) {
        b[0] = (uint8_t)v;
        assert_int_equal(sz_seal_parse(b, blen, NULL), v == 1 ? 0 : SZ_E_VERSION);
    }
    b[0] = 1;
    for (unsigned s = 0; s < 256; s++) {
        b[1] = (uint8_t)s;
        int rc = sz_seal_parse(b, blen, NULL);
        if (s == 4)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, SZ_E_MALFORMED); /* other counts leave a non-bucket length */
    }
    b[1] = 4;
    free(b);
    /* A header alone, and a header with slots but no room for the minimum padding. */
    uint8_t small[SZ_SEAL_HEADER_LEN + 4 * SZ_SEAL_SLOT_LEN + SZ_SEAL_TAG_LEN + 1000] = {1, 4};
    assert_int_equal(sz_seal_parse(small, SZ_SEAL_HEADER_LEN, NULL), SZ_E_MALFORMED);
    assert_int_equal(sz_seal_parse(small, sizeof(small), NULL), SZ_E_MALFORMED);
}

/* ---- Bodies built by hand, from SEALING.md alone ------------------------------------------- */

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Builds a body with nslots slots, m padded bytes whose first 4 + ptlen bytes are the given length
 * field and plaintext and the rest `fill`. Slots for the reader pks[0], by other_key: 0, the real
 * key in slot 0; 1, the real key in slot 0 and a different (uncommitted) key in slot 1; 2, the
 * uncommitted key in slot 0 and the real one in slot 1; 3, only the uncommitted key, in slot 0.
 * All other slots are decoys. Returns a malloc'd body. */
static uint8_t *hand_build(unsigned nslots, size_t m, uint32_t len_field, const void *pt,
                           size_t ptlen, uint8_t fill, int other_key, uint8_t kind, size_t *out) {
    size_t head = SZ_SEAL_HEADER_LEN + nslots * SZ_SEAL_SLOT_LEN;
    size_t total = head + m + 16;
    uint8_t *b = malloc(total);
    assert_non_null(b);
    uint8_t k[32], k2[32], aead[32], xpk[32];
    randombytes_buf(k, 32);
    randombytes_buf(k2, 32);
    b[0] = 1;
    b[1] = (uint8_t)nslots;
    randombytes_buf(b + 2, 24);
    assert_int_equal(crypto_kdf_derive_from_key(aead, 32, 1, "szseal01", k), 0);
    assert_int_equal(crypto_kdf_derive_from_key(b + 26, 32, 2, "szseal01", k), 0);
    assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, pks[0]), 0);
    int real_pos = other_key == 2 ? 1 : other_key == 3 ? -1 : 0;
    int bogus_pos = other_key == 1 ? 1 : other_key >= 2 ? 0 : -1;
    for (unsigned i = 0; i < nslots; i++) {
        uint8_t *slot = b + SZ_SEAL_HEADER_LEN + i * SZ_SEAL_SLOT_LEN;
        if ((int)i == real_pos) {
            assert_int_equal(crypto_box_seal(slot, k, 32, xpk), 0);
        } else if ((int)i == bogus_pos) {
            assert_int_equal(crypto_box_seal(slot, k2, 32, xpk), 0);
        } else {
            uint8_t dpk[32], dsk[32], dk[32];
            crypto_box_keypair(dpk, dsk);
            randombytes_buf(dk, 32);
            assert_int_equal(crypto_box_seal(slot, dk, 32, dpk), 0);
        }
    }
    uint8_t *pt_buf = malloc(m);
    assert_non_null(pt_buf);
    memset(pt_buf, fill, m);
    be32(pt_buf, len_field);
    memcpy(pt_buf + 4, pt, ptlen);
    size_t adlen = 19 + 1 + 32 + head;
    uint8_t *ad = malloc(adlen);
    assert_non_null(ad);
    memcpy(ad, "samizdat sealed v1", 19); /* includes the 0x00 */
    ad[19] = kind;
    memcpy(ad + 20, author_pk, 32);
    memcpy(ad + 52, b, head);
    unsigned long long clen = 0;
    assert_int_equal(crypto_aead_xchacha20poly1305_ietf_encrypt(b + head, &clen, pt_buf, m, ad,
                                                                adlen, NULL, b + 2, aead),
                     0);
    assert_int_equal(clen, m + 16);
    free(ad);
    free(pt_buf);
    *out = total;
    return b;
}

static void test_hand_built(void **state) {
    (void)state;
    const char *msg = "hand built " MARKER;
    size_t n = strlen(msg), blen = 0;
    /* Canonical: opens. This checks the spec and the code agree byte for byte. */
    uint8_t *b = hand_build(4, 1024, (uint32_t)n, msg, n, 0, 0, 2, &blen);
    unseal_expect(b, blen, 2, author_pk, sks[0], msg, n);
    free(b);
    /* A second, non-committed key for the same reader is skipped, before or after the real one;
     * with only a non-committed key the body does not open. */
    b = hand_build(4, 1024, (uint32_t)n, msg, n, 0, 1, 2, &blen);
    unseal_expect(b, blen, 2, author_pk, sks[0], msg, n);
    free(b);
    b = hand_build(4, 1024, (uint32_t)n, msg, n, 0, 2, 2, &blen);
    unseal_expect(b, blen, 2, author_pk, sks[0], msg, n);
    free(b);
    b = hand_build(4, 1024, (uint32_t)n, msg, n, 0, 3, 2, &blen);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[0]), SZ_E_DECRYPT);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[1]), SZ_E_SEALED);
    free(b);
    /* Non-zero padding. */
    b = hand_build(4, 1024, (uint32_t)n, msg, n, 0x20, 0, 2, &blen);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[0]), SZ_E_MALFORMED);
    free(b);
    /* A length field past the padded plaintext. */
    b = hand_build(4, 1024, 1021, msg, n, 0, 0, 2, &blen);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[0]), SZ_E_MALFORMED);
    free(b);
    b = hand_build(4, 1024, 0xffffffffu, msg, n, 0, 0, 2, &blen);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[0]), SZ_E_MALFORMED);
    free(b);
    /* The largest length the minimum bucket holds. */
    static uint8_t full[1020];
    memset(full, 'z', sizeof(full));
    b = hand_build(4, 1024, 1020, full, 1020, 0, 0, 2, &blen);
    unseal_expect(b, blen, 2, author_pk, sks[0], full, 1020);
    free(b);
    /* A bigger bucket than the plaintext needs (2048 for a short text) is not canonical. */
    b = hand_build(4, 2048, (uint32_t)n, msg, n, 0, 0, 2, &blen);
    assert_int_equal(sz_seal_parse(b, blen, NULL), 0);
    assert_int_equal(unseal_rc(b, blen, 2, author_pk, sks[0]), SZ_E_MALFORMED);
    free(b);
    /* Eight slots for one recipient are structurally fine (the count is only an upper bound). */
    b = hand_build(8, 1024, (uint32_t)n, msg, n, 0, 0, 2, &blen);
    unseal_expect(b, blen, 2, author_pk, sks[0], msg, n);
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_count),
        cmocka_unit_test(test_roundtrip_1_to_64),
        cmocka_unit_test(test_every_recipient_and_author),
        cmocka_unit_test(test_empty_and_binary_plaintext),
        cmocka_unit_test(test_marker_absent),
        cmocka_unit_test(test_padding_hides),
        cmocka_unit_test(test_decoys_and_positions),
        cmocka_unit_test(test_duplicates_and_bad_keys),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_moved_context),
        cmocka_unit_test(test_every_bit_flip),
        cmocka_unit_test(test_truncated_and_extended),
        cmocka_unit_test(test_size_limits),
        cmocka_unit_test(test_parse_header),
        cmocka_unit_test(test_hand_built),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
