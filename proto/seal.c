/* Sealed record bodies: padding, content encryption, recipient slots. See proto/SEALING.md. */
#include "seal.h"
#include "encoding.h"

#include "error.h"
#include "record.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
    OFF_VERSION = 0,
    OFF_NSLOTS = 1,
    OFF_NONCE = 2,
    OFF_COMMIT = OFF_NONCE + SZ_SEAL_NONCE_LEN,
    OFF_SLOTS = OFF_COMMIT + SZ_SEAL_COMMIT_LEN,
};
_Static_assert(OFF_SLOTS == SZ_SEAL_HEADER_LEN, "sealed body layout");
_Static_assert(SZ_SEAL_NONCE_LEN == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(SZ_SEAL_TAG_LEN == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(SZ_SEAL_SLOT_LEN == crypto_box_SEALBYTES + 32, "a slot wraps one 32-byte key");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == 32, "content subkey");
_Static_assert(crypto_kdf_KEYBYTES == 32, "content key");

/* The content key is split with crypto_kdf (keyed BLAKE2b) into the AEAD key and the commitment,
 * so the key that encrypts is never itself published. */
#define KDF_CONTEXT "szseal01"
#define SUBKEY_AEAD 1
#define SUBKEY_COMMIT 2
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context is 8 bytes");

#define DOMAIN_LEN (sizeof(SZ_SEAL_AD_DOMAIN)) /* the 18 characters and their 0x00 */
#define AD_FIXED_LEN (DOMAIN_LEN + 1 + 32)     /* domain, kind, author */
#define AD_MAX_LEN (AD_FIXED_LEN + SZ_SEAL_HEADER_LEN + SZ_SEAL_MAX_RECIPIENTS * SZ_SEAL_SLOT_LEN)

unsigned sz_seal_slot_count(size_t nrecipients) {
    if (nrecipients == 0 || nrecipients > SZ_SEAL_MAX_RECIPIENTS)
        return 0;
    unsigned s = SZ_SEAL_SLOTS_MIN;
    while (s < nrecipients)
        s *= 2;
    return s;
}

static int valid_slot_count(unsigned s) {
    return s >= SZ_SEAL_SLOTS_MIN && s <= SZ_SEAL_MAX_RECIPIENTS && (s & (s - 1)) == 0;
}

/* The most padded plaintext a body with s slots can carry within the record body limit. */
static size_t padded_cap(unsigned s) {
    return SZ_RECORD_MAX_BODY - SZ_SEAL_HEADER_LEN - (size_t)s * SZ_SEAL_SLOT_LEN - SZ_SEAL_TAG_LEN;
}

static unsigned floor_log2(size_t n) {
    unsigned e = 0;
    while (n >>= 1)
        e++;
    return e;
}

/* Padmé (Nikitin et al., PETS 2019): rounds n up so that only the top floor(log2 E) + 1 bits of
 * the length remain, E = floor(log2 n). The overhead is under 1/2^(that many bits), so at most
 * 6.25% from 1 KiB up, and a length leaks O(log log n) bits instead of log n. */
static size_t padme(size_t n) {
    if (n < 2)
        return n;
    unsigned e = floor_log2(n);
    unsigned s = floor_log2(e) + 1;
    if (s >= e) /* only for n < 8, which the 1 KiB floor never passes */
        return n;
    size_t mask = ((size_t)1 << (e - s)) - 1;
    return (n + mask) & ~mask;
}

/* The padded length for content of n bytes (length field included) with s slots, or 0 when it
 * cannot fit. Lengths the padding would push past the limit are padded to the limit itself, so the
 * largest bodies still fit and form one more bucket. */
static size_t padded_len(size_t n, unsigned s) {
    size_t cap = padded_cap(s);
    if (n > cap)
        return 0;
    size_t p = padme(n < SZ_SEAL_PAD_MIN ? SZ_SEAL_PAD_MIN : n);
    return p > cap ? cap : p;
}

int sz_seal_body_len(size_t plain_len, size_t nrecipients, size_t *body_len) {
    unsigned s = sz_seal_slot_count(nrecipients);
    if (s == 0)
        return SZ_E_ARGUMENT;
    if (plain_len > SZ_RECORD_MAX_BODY)
        return SZ_E_TOO_LARGE;
    size_t m = padded_len(SZ_SEAL_LENGTH_LEN + plain_len, s);
    if (m == 0)
        return SZ_E_TOO_LARGE;
    *body_len = SZ_SEAL_HEADER_LEN + (size_t)s * SZ_SEAL_SLOT_LEN + m + SZ_SEAL_TAG_LEN;
    return 0;
}

int sz_seal_parse(const uint8_t *body, size_t len, sz_seal_info_t *info) {
    if (len > SZ_RECORD_MAX_BODY)
        return SZ_E_TOO_LARGE;
    if (len < 1)
        return SZ_E_MALFORMED;
    if (body[OFF_VERSION] != SZ_SEAL_VERSION)
        return SZ_E_VERSION;
    if (len < SZ_SEAL_HEADER_LEN)
        return SZ_E_MALFORMED;
    unsigned s = body[OFF_NSLOTS];
    if (!valid_slot_count(s))
        return SZ_E_MALFORMED;
    size_t fixed = SZ_SEAL_HEADER_LEN + (size_t)s * SZ_SEAL_SLOT_LEN + SZ_SEAL_TAG_LEN;
    if (len < fixed + SZ_SEAL_PAD_MIN)
        return SZ_E_MALFORMED;
    size_t m = len - fixed;
    /* Only lengths the padding rule produces are accepted, so a body's length can never become a
     * fingerprint of the software or person that sealed it. */
    if (m != padded_cap(s) && padme(m) != m)
        return SZ_E_MALFORMED;
    if (info != NULL) {
        info->version = body[OFF_VERSION];
        info->nslots = s;
        info->padded_len = m;
        info->max_plain = m - SZ_SEAL_LENGTH_LEN;
    }
    return 0;
}

/* The associated data: domain, kind, author, then the body's header and slots. Binding kind and
 * author means a body re-signed by someone else, or under another kind, no longer decrypts;
 * binding the header and slots makes every byte of the body authenticated for the reader. */
static size_t build_ad(uint8_t ad[static AD_MAX_LEN], uint8_t kind, const uint8_t author[32],
                       const uint8_t *body, unsigned nslots) {
    size_t head = SZ_SEAL_HEADER_LEN + (size_t)nslots * SZ_SEAL_SLOT_LEN;
    memcpy(ad, SZ_SEAL_AD_DOMAIN, DOMAIN_LEN);
    ad[DOMAIN_LEN] = kind;
    memcpy(ad + DOMAIN_LEN + 1, author, 32);
    memcpy(ad + AD_FIXED_LEN, body, head);
    return AD_FIXED_LEN + head;
}

static void derive_subkeys(uint8_t aead_key[static 32], uint8_t commit[static 32],
                           const uint8_t content_key[static 32]) {
    crypto_kdf_derive_from_key(aead_key, 32, SUBKEY_AEAD, KDF_CONTEXT, content_key);
    crypto_kdf_derive_from_key(commit, SZ_SEAL_COMMIT_LEN, SUBKEY_COMMIT, KDF_CONTEXT, content_key);
}

/* A decoy slot has exactly the distribution of a real one as seen without a recipient's key: a real
 * slot is an ephemeral X25519 public key (a genuine curve point, which random bytes are not: the
 * top bit is clear and most strings are off the subgroup) followed by 48 bytes of XSalsa20-Poly1305
 * output under a key nobody else can derive, which is indistinguishable from random. So a decoy is
 * a fresh public key made the same way, followed by 48 random bytes: one scalar multiplication
 * instead of the three a sealed box to a throwaway key would cost. */
static int decoy_slot(uint8_t slot[static SZ_SEAL_SLOT_LEN]) {
    uint8_t scalar[crypto_scalarmult_SCALARBYTES];
    randombytes_buf(scalar, sizeof(scalar));
    int rc = crypto_scalarmult_base(slot, scalar);
    sodium_memzero(scalar, sizeof(scalar));
    randombytes_buf(slot + crypto_box_PUBLICKEYBYTES, SZ_SEAL_SLOT_LEN - crypto_box_PUBLICKEYBYTES);
    return rc == 0 ? 0 : SZ_E_CRYPTO;
}

int sz_seal(const uint8_t *plaintext, size_t len, uint8_t kind, const uint8_t author_pk[static 32],
            const uint8_t *recipients, size_t nrecipients, uint8_t **out, size_t *out_len) {
    if (out == NULL || out_len == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    if ((plaintext == NULL && len > 0) || recipients == NULL || kind == 0 || nrecipients == 0 ||
        nrecipients > SZ_SEAL_MAX_RECIPIENTS)
        return SZ_E_ARGUMENT;

    /* Convert every recipient first, so a bad key fails before any work, and drop duplicates: one
     * recipient in two slots would tell a mirror nothing, but it wastes a slot and can push the
     * count into a larger bucket. */
    uint8_t xpk[SZ_SEAL_MAX_RECIPIENTS][crypto_box_PUBLICKEYBYTES];
    const uint8_t *seen[SZ_SEAL_MAX_RECIPIENTS] = {0};
    size_t nreal = 0;
    for (size_t i = 0; i < nrecipients; i++) {
        const uint8_t *r = recipients + 32 * i;
        int dup = 0;
        for (size_t j = 0; j < nreal && !dup; j++)
            dup = memcmp(seen[j], r, 32) == 0;
        if (dup)
            continue;
        if (crypto_sign_ed25519_pk_to_curve25519(xpk[nreal], r) != 0)
            return SZ_E_KEY;
        seen[nreal++] = r;
    }

    unsigned nslots = sz_seal_slot_count(nreal);
    size_t total;
    int rc = sz_seal_body_len(len, nreal, &total);
    if (rc != 0)
        return rc;
    size_t head = SZ_SEAL_HEADER_LEN + (size_t)nslots * SZ_SEAL_SLOT_LEN;
    size_t m = total - head - SZ_SEAL_TAG_LEN;

    uint8_t *buf = malloc(total);
    if (buf == NULL)
        return -ENOMEM;
    uint8_t content_key[32], aead_key[32];
    uint8_t ad[AD_MAX_LEN];

    buf[OFF_VERSION] = SZ_SEAL_VERSION;
    buf[OFF_NSLOTS] = (uint8_t)nslots;
    randombytes_buf(buf + OFF_NONCE, SZ_SEAL_NONCE_LEN);
    crypto_kdf_keygen(content_key);
    derive_subkeys(aead_key, buf + OFF_COMMIT, content_key);

    /* Real slots go to random positions among the decoys (Fisher-Yates over slot indexes), so a
     * slot's position says nothing either. */
    unsigned order[SZ_SEAL_MAX_RECIPIENTS];
    for (unsigned i = 0; i < nslots; i++)
        order[i] = i;
    for (unsigned i = nslots - 1; i > 0; i--) {
        unsigned j = randombytes_uniform(i + 1);
        unsigned t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (unsigned i = 0; i < nslots && rc == 0; i++) {
        uint8_t *slot = buf + OFF_SLOTS + (size_t)order[i] * SZ_SEAL_SLOT_LEN;
        if (i < nreal)
            rc = crypto_box_seal(slot, content_key, 32, xpk[i]) == 0 ? 0 : SZ_E_CRYPTO;
        else
            rc = decoy_slot(slot);
    }
    sodium_memzero(content_key, sizeof(content_key));
    if (rc != 0)
        goto fail;

    /* The padded plaintext is built where its ciphertext goes and encrypted in place, so no
     * second copy of the plaintext exists; this buffer is overwritten by ciphertext before the
     * function returns on every path. */
    uint8_t *ct = buf + head;
    sz_be32_put(ct, (uint32_t)len);
    if (len > 0)
        memcpy(ct + SZ_SEAL_LENGTH_LEN, plaintext, len);
    memset(ct + SZ_SEAL_LENGTH_LEN + len, 0, m - SZ_SEAL_LENGTH_LEN - len);
    size_t adlen = build_ad(ad, kind, author_pk, buf, nslots);
    unsigned long long clen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, ct, m, ad, adlen, NULL,
                                                   buf + OFF_NONCE, aead_key) != 0 ||
        clen != m + SZ_SEAL_TAG_LEN) {
        sodium_memzero(ct, m);
        rc = SZ_E_CRYPTO;
        goto fail;
    }
    sodium_memzero(aead_key, sizeof(aead_key));
    *out = buf;
    *out_len = total;
    return 0;
fail:
    sodium_memzero(aead_key, sizeof(aead_key));
    free(buf);
    return rc;
}

int sz_unseal(const uint8_t *body, size_t len, uint8_t kind, const uint8_t author_pk[static 32],
              const uint8_t reader_sk[static 64], uint8_t **plaintext, size_t *plen) {
    if (plaintext == NULL || plen == NULL)
        return SZ_E_ARGUMENT;
    *plaintext = NULL;
    *plen = 0;
    if (body == NULL && len > 0)
        return SZ_E_ARGUMENT;
    sz_seal_info_t info;
    int rc = sz_seal_parse(body, len, &info);
    if (rc != 0)
        return rc;

    uint8_t xsk[crypto_box_SECRETKEYBYTES], xpk[crypto_box_PUBLICKEYBYTES];
    uint8_t content_key[32], aead_key[32], commit[SZ_SEAL_COMMIT_LEN];
    uint8_t *out = NULL;
    if (crypto_sign_ed25519_sk_to_curve25519(xsk, reader_sk) != 0 ||
        crypto_scalarmult_curve25519_base(xpk, xsk) != 0) {
        rc = SZ_E_SEALED;
        goto done;
    }

    /* Slots carry no recipient ids, so the reader tries each. A slot that opens but whose key does
     * not match the commitment is skipped: an author could otherwise give different recipients
     * different keys, and so different texts, under one signature. */
    int found = 0, opened = 0;
    for (unsigned i = 0; i < info.nslots && !found; i++) {
        const uint8_t *slot = body + OFF_SLOTS + (size_t)i * SZ_SEAL_SLOT_LEN;
        if (crypto_box_seal_open(content_key, slot, SZ_SEAL_SLOT_LEN, xpk, xsk) != 0)
            continue;
        opened = 1;
        derive_subkeys(aead_key, commit, content_key);
        found = sodium_memcmp(commit, body + OFF_COMMIT, SZ_SEAL_COMMIT_LEN) == 0;
    }
    if (!found) {
        rc = opened ? SZ_E_DECRYPT : SZ_E_SEALED;
        goto done;
    }

    size_t m = info.padded_len;
    out = sodium_malloc(m);
    if (out == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    uint8_t ad[AD_MAX_LEN];
    size_t adlen = build_ad(ad, kind, author_pk, body, info.nslots);
    const uint8_t *ct = body + SZ_SEAL_HEADER_LEN + (size_t)info.nslots * SZ_SEAL_SLOT_LEN;
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, m + SZ_SEAL_TAG_LEN, ad,
                                                   adlen, body + OFF_NONCE, aead_key) != 0 ||
        mlen != m) {
        rc = SZ_E_DECRYPT;
        goto done;
    }
    /* The plaintext is authentic, but its length field and padding must still be canonical: the
     * sealer's software is not trusted to have followed the rule. */
    size_t plain = sz_be32_get(out);
    if (plain > m - SZ_SEAL_LENGTH_LEN ||
        padded_len(SZ_SEAL_LENGTH_LEN + plain, info.nslots) != m) {
        rc = SZ_E_MALFORMED;
        goto done;
    }
    uint8_t nonzero = 0;
    for (size_t i = SZ_SEAL_LENGTH_LEN + plain; i < m; i++)
        nonzero |= out[i];
    if (nonzero != 0) {
        rc = SZ_E_MALFORMED;
        goto done;
    }
    memmove(out, out + SZ_SEAL_LENGTH_LEN, plain);
    sodium_memzero(out + plain, m - plain);
    *plaintext = out;
    *plen = plain;
    out = NULL;
    rc = 0;
done:
    sodium_memzero(xsk, sizeof(xsk));
    sodium_memzero(content_key, sizeof(content_key));
    sodium_memzero(aead_key, sizeof(aead_key));
    if (out != NULL)
        sodium_free(out);
    return rc;
}
