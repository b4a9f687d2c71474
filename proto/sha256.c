/* SHA-256 through libcrypto; see sha256.h. */
#include "sha256.h"

#include <openssl/sha.h>
#include <sodium.h>
#include <string.h>

#define JOIN_MAX 256 /* two-part inputs up to this size are joined on the stack */

void sz_sha256(uint8_t out[static SZ_SHA256_LEN], const void *in, size_t len) {
    static const uint8_t empty[1];
    SHA256(len ? in : empty, len, out);
}

void sz_sha256_2(uint8_t out[static SZ_SHA256_LEN], const void *a, size_t alen, const void *b,
                 size_t blen) {
    if (alen + blen <= JOIN_MAX) {
        uint8_t buf[JOIN_MAX];
        if (alen)
            memcpy(buf, a, alen);
        if (blen)
            memcpy(buf + alen, b, blen);
        SHA256(buf, alen + blen, out);
        return;
    }
    /* Long inputs (audit digests over an envelope) are rare: libsodium's streaming state lives on
     * the stack, so this cannot fail, unlike OpenSSL's allocated EVP context. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, alen);
    crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}
