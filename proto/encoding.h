/* Encodings used everywhere: lowercase hex for hashes and ids, the single text form of a public
 * key, and big-endian integers (whose bytewise order is numeric order, as LMDB keys need).
 *
 * A public key's text form is standard base64 with padding of its 32 bytes (44 characters), as
 * WireGuard does; the same form is used in config files, on the command line, in invites and in
 * JSON output. Hashes and record ids are 64 lowercase hex characters, as sha256sum prints. */
#ifndef SZ_ENCODING_H
#define SZ_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#define SZ_HASH_LEN 32
#define SZ_HASH_HEX_LEN 64
#define SZ_PUBKEY_LEN 32
#define SZ_PUBKEY_TEXT_LEN 44

/* Writes 2*len lowercase hex characters and a NUL to out (borrowed, at least 2*len+1 bytes). */
void sz_hex_encode(char *out, const uint8_t *in, size_t len);

/* Decodes exactly 2*len hex characters from text (either case) into out. Returns 0, or
 * SZ_E_MALFORMED if text is not exactly that long or holds a non-hex character. */
int sz_hex_decode(uint8_t *out, size_t len, const char *text);

/* The value of one hex digit (either case) given as a char or a byte, or -1. */
int sz_hex_digit(int c);

/* Returns 1 if text is a non-empty string of lowercase or uppercase hex of at most max chars. */
int sz_hex_is_prefix(const char *text, size_t max);

/* Writes the text form of a public key and a NUL to out (SZ_PUBKEY_TEXT_LEN + 1 bytes). */
void sz_pubkey_format(char out[static SZ_PUBKEY_TEXT_LEN + 1], const uint8_t pk[static 32]);

/* Parses the text form of a public key, ignoring surrounding whitespace. Returns 0, or SZ_E_KEY
 * when the text is not 44 characters of base64 that decode to 32 bytes. */
int sz_pubkey_parse(uint8_t pk[static 32], const char *text);

/* Big-endian 32-bit integers. */
static inline void sz_be32_put(uint8_t p[static 4], uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint32_t sz_be32_get(const uint8_t p[static 4]) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Big-endian 64-bit integers. */
static inline void sz_be64_put(uint8_t p[static 8], uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static inline uint64_t sz_be64_get(const uint8_t p[static 8]) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

#endif
