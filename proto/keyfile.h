/* Key files: the text form of an Ed25519 signing key, protected by a passphrase, and of its public
 * half.
 *
 * proto/KEYS.md is the normative specification; this header is the C contract. The module is pure:
 * it turns keys into text and text into keys, and never touches files or terminals. Every decoded
 * secret key lives in sodium_malloc'd memory that the caller releases with sz_secretkey_free().
 * Passphrases are always borrowed; the caller wipes them. */
#ifndef SZ_KEYFILE_H
#define SZ_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define SZ_KEYFILE_MAGIC "SZSK" /* 4 bytes at the start of the decoded struct */
#define SZ_KEYFILE_VERSION 1
#define SZ_KEYFILE_KDF_NONE 0         /* unprotected: wrapped under an all-zero key */
#define SZ_KEYFILE_KDF_ARGON2ID13 1   /* libsodium crypto_pwhash_ALG_ARGON2ID13 */
#define SZ_KEYFILE_CIPHER_SECRETBOX 1 /* crypto_secretbox (XSalsa20-Poly1305) */

#define SZ_KEYFILE_SALT_LEN 16
#define SZ_KEYFILE_NONCE_LEN 24
#define SZ_KEYFILE_BOX_LEN (64 + 16) /* the 64-byte secret key and the Poly1305 tag */
/* magic | version | kdf | cipher | public key | opslimit | memlimit | salt | nonce | box */
#define SZ_KEYFILE_BLOB_LEN                                                                        \
    (4 + 1 + 1 + 1 + 32 + 8 + 8 + SZ_KEYFILE_SALT_LEN + SZ_KEYFILE_NONCE_LEN + SZ_KEYFILE_BOX_LEN)

/* Bounds on the KDF cost a key file may ask for, so a hostile file cannot make us allocate or spin
 * without limit. The upper bounds are libsodium's SENSITIVE level (1 GiB) and eight times its
 * operations; the lower bounds are Argon2id's own minimums. */
#define SZ_KEYFILE_OPSLIMIT_MIN 1u
#define SZ_KEYFILE_OPSLIMIT_MAX 32u
#define SZ_KEYFILE_MEMLIMIT_MIN 8192u
#define SZ_KEYFILE_MEMLIMIT_MAX (1024u * 1024u * 1024u) /* and a multiple of 1024 */

/* The largest key file text we read: generous room for an edited comment line. */
#define SZ_KEYFILE_TEXT_MAX 4096u
/* The largest public key file text we read. */
#define SZ_PUBFILE_TEXT_MAX 4096u

#define SZ_KEYFILE_SECRET_COMMENT "untrusted comment: samizdat secret key "
#define SZ_KEYFILE_PUBLIC_COMMENT "untrusted comment: samizdat public key"

/* Argon2id cost. Use the SZ_KDF_* presets below or libsodium's own constants. */
typedef struct sz_kdf_limits_s {
    uint64_t opslimit;
    uint64_t memlimit; /* bytes */
} sz_kdf_limits_t;

/* Named presets: libsodium's crypto_pwhash_*_INTERACTIVE, _MODERATE (our default), _SENSITIVE,
 * and the minimum, which only tests should use. name is "interactive", "moderate", "sensitive" or
 * "min". Returns 0 and fills *out, or SZ_E_ARGUMENT for another name. */
int sz_kdf_limits_named(sz_kdf_limits_t *out, const char *name);

/* What can be learnt from a key file without the passphrase. */
typedef struct sz_keyfile_info_s {
    uint8_t version;   /* SZ_KEYFILE_VERSION */
    uint8_t kdf;       /* SZ_KEYFILE_KDF_* */
    uint8_t cipher;    /* SZ_KEYFILE_CIPHER_* */
    uint64_t opslimit; /* 0 when kdf is NONE */
    uint64_t memlimit; /* 0 when kdf is NONE */
    uint8_t public_key[32];
} sz_keyfile_info_t;

/* Generates a new Ed25519 key pair. On success *sk is a sodium_malloc'd SZ_SECRETKEY_LEN-byte
 * secret key (seed then public key) that the caller owns and releases with sz_secretkey_free().
 * Returns 0 or -ENOMEM. */
int sz_secretkey_generate(uint8_t **sk);

/* Wipes and frees a secret key from this module. NULL is allowed. Takes ownership. */
void sz_secretkey_free(uint8_t *sk);

/* Writes the secret key file text for sk (borrowed, 64 bytes) to *text, a malloc'd NUL-terminated
 * string the caller owns and frees with free() (sz_keyfile_text_free() also wipes it first, which
 * matters for unprotected keys). When passphrase is NULL the key is stored unprotected (KDF NONE);
 * otherwise passphrase (borrowed, pass_len bytes, not wiped here) is stretched with Argon2id at
 * limits, or at the MODERATE preset when limits is NULL. Returns 0, SZ_E_ARGUMENT (limits out of
 * bounds, or an empty passphrase), SZ_E_KEY (the public half of sk does not match its seed),
 * -ENOMEM, or SZ_E_CRYPTO if Argon2id could not run. */
int sz_keyfile_encode(char **text, const uint8_t sk[static 64], const char *passphrase,
                      size_t pass_len, const sz_kdf_limits_t *limits);

/* Wipes and frees text returned by sz_keyfile_encode(). NULL is allowed. Takes ownership. */
void sz_keyfile_text_free(char *text);

/* Parses the structure of a secret key file (text borrowed, len bytes, need not be
 * NUL-terminated) without decrypting it, and fills *info. Returns 0 or SZ_E_KEYFILE for anything
 * that is not a well-formed key file: the comment line, base64, length, magic, version, algorithm
 * tags, KDF limits out of bounds, or KDF fields that are not zero for an unprotected key. */
int sz_keyfile_inspect(sz_keyfile_info_t *info, const char *text, size_t len);

/* Decodes and decrypts a secret key file (text borrowed, len bytes). passphrase (borrowed,
 * pass_len bytes) is ignored for an unprotected key and required for a protected one. On success
 * *sk is a sodium_malloc'd 64-byte secret key the caller owns (sz_secretkey_free()). Every
 * intermediate secret is wiped on every path. Returns 0; SZ_E_KEYFILE as sz_keyfile_inspect() does,
 * or when the decrypted key's public half differs from the stored public key, or when an
 * unprotected key fails its MAC; SZ_E_PASSPHRASE when a protected key fails its MAC (a wrong
 * passphrase, or a damaged file); SZ_E_ARGUMENT when the key is protected and passphrase is NULL;
 * SZ_E_CRYPTO if Argon2id could not run (usually no memory); -ENOMEM. */
int sz_keyfile_decode(uint8_t **sk, const char *text, size_t len, const char *passphrase,
                      size_t pass_len);

/* Writes the public key file text for pk: the comment line, the key text and a newline, with a NUL
 * after it. */
#define SZ_PUBFILE_TEXT_LEN (sizeof(SZ_KEYFILE_PUBLIC_COMMENT) - 1 + 1 + 44 + 1)
void sz_pubfile_format(char out[static SZ_PUBFILE_TEXT_LEN + 1], const uint8_t pk[static 32]);

/* Parses a public key given either as public key file text (an "untrusted comment:" line, then
 * the key text) or as bare key text; surrounding whitespace is ignored. text is borrowed, len
 * bytes. Returns 0 or SZ_E_KEY. */
int sz_pubkey_parse_any(uint8_t pk[static 32], const char *text, size_t len);

#endif
