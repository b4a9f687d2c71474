/* Fuzzes sealed bodies. The first input byte picks a mode:
 *
 * - even: the rest is a sealed body. sz_seal_parse must accept or refuse it without reading out of
 *   bounds, and sz_unseal (kind testimony, a fixed author, the fixed reader key) must agree with
 *   it: the same error for what parse refuses, and only SEALED, DECRYPT or MALFORMED otherwise,
 *   with no plaintext left behind on failure. Corpus bodies sealed to the reader reach the AEAD.
 * - odd: the rest (up to 16 KiB) is a plaintext sealed to 1..64 fixed recipients with the reader
 *   at a chosen position (bits 1..6 give the count, the first plaintext byte the position). The
 *   body must parse, open to the same plaintext for the reader, refuse a non-recipient with SEALED,
 *   and refuse another kind or author with DECRYPT.
 *
 * Keys come from fixed seeds, BLAKE2b of "samizdat fuzz seal key <i>", so corpus files stay valid.
 * Key 0 is the reader, keys 1..64 other recipients, key 65 never a recipient, key 66 the author. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record.h"
#include "seal.h"

#define NKEYS 67
#define MAX_PLAIN 16384

static uint8_t pks[NKEYS][32], sks[NKEYS][64];

static void init_keys(void) {
    for (int i = 0; i < NKEYS; i++) {
        char label[64];
        uint8_t seed[32];
        int n = snprintf(label, sizeof(label), "samizdat fuzz seal key %d", i);
        crypto_generichash(seed, sizeof(seed), (const uint8_t *)label, (size_t)n, NULL, 0);
        crypto_sign_seed_keypair(pks[i], sks[i], seed);
    }
}

static void check_body(const uint8_t *body, size_t len) {
    sz_seal_info_t info;
    int prc = sz_seal_parse(body, len, &info);
    if (prc == 0) {
        if (info.nslots < 4 || info.nslots > 64 || (info.nslots & (info.nslots - 1)) != 0 ||
            info.padded_len < SZ_SEAL_PAD_MIN ||
            len != SZ_SEAL_HEADER_LEN + info.nslots * SZ_SEAL_SLOT_LEN + info.padded_len +
                       SZ_SEAL_TAG_LEN)
            abort();
    } else if (prc != SZ_E_MALFORMED && prc != SZ_E_VERSION && prc != SZ_E_TOO_LARGE) {
        abort();
    }
    uint8_t *p = NULL;
    size_t plen = 1;
    int rc = sz_unseal(body, len, SZ_KIND_TESTIMONY, pks[66], sks[0], &p, &plen);
    if (rc == 0) {
        if (prc != 0 || p == NULL || plen > info.max_plain)
            abort();
        sodium_free(p);
        return;
    }
    if (p != NULL || plen != 0)
        abort();
    if (prc != 0 ? rc != prc : (rc != SZ_E_SEALED && rc != SZ_E_DECRYPT && rc != SZ_E_MALFORMED))
        abort();
}

static void roundtrip(uint8_t sel, const uint8_t *plain, size_t len) {
    if (len > MAX_PLAIN)
        len = MAX_PLAIN;
    size_t n = (size_t)(sel >> 1) % 64 + 1;
    size_t pos = len > 0 ? plain[0] % n : 0;
    uint8_t r[64 * 32];
    /* Recipients 1..n, with the reader (key 0) swapped in at pos. */
    for (size_t i = 0; i < n; i++)
        memcpy(r + 32 * i, i == pos ? pks[0] : pks[i + 1], 32);
    uint8_t *b = NULL;
    size_t blen = 0;
    if (sz_seal(plain, len, SZ_KIND_CASE, pks[66], r, n, &b, &blen) != 0 || b == NULL)
        abort();
    sz_seal_info_t info;
    if (sz_seal_parse(b, blen, &info) != 0 || info.nslots != sz_seal_slot_count(n))
        abort();
    uint8_t *p = NULL;
    size_t plen = 0;
    if (sz_unseal(b, blen, SZ_KIND_CASE, pks[66], sks[0], &p, &plen) != 0 || plen != len ||
        (len > 0 && memcmp(p, plain, len) != 0))
        abort();
    sodium_free(p);
    if (sz_unseal(b, blen, SZ_KIND_CASE, pks[66], sks[65], &p, &plen) != SZ_E_SEALED ||
        sz_unseal(b, blen, SZ_KIND_TESTIMONY, pks[66], sks[0], &p, &plen) != SZ_E_DECRYPT ||
        sz_unseal(b, blen, SZ_KIND_CASE, pks[1], sks[0], &p, &plen) != SZ_E_DECRYPT)
        abort();
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        init_keys();
        ready = 1;
    }
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        check_body(data + 1, size - 1);
    else
        roundtrip(data[0], data + 1, size - 1);
    return 0;
}
