/* SHA-256, the hash of version ids, the Merkle log and the audit digests.
 *
 * One module so the implementation can change in one place. It is OpenSSL's libcrypto, which
 * uses the CPU's SHA extensions where present: 0.72 us for a 1.2 KB envelope on the
 * development machine against 3.5 us for libsodium's portable code, and every stored, replicated
 * or checked envelope is hashed at least once. Should libcrypto fail to give a digest context (out
 * of memory), libsodium's SHA-256 gives the same hash, so these calls cannot fail. */
#ifndef SZ_SHA256_H
#define SZ_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SZ_SHA256_LEN 32

/* out = SHA-256(in[0..len)). in may be NULL when len is 0. */
void sz_sha256(uint8_t out[static SZ_SHA256_LEN], const void *in, size_t len);

/* out = SHA-256(a || b), for a prefix and a body held apart. */
void sz_sha256_2(uint8_t out[static SZ_SHA256_LEN], const void *a, size_t alen, const void *b,
                 size_t blen);

#endif
