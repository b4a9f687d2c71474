/* Sealed record bodies: a record body encrypted so that only named recipients can read it, while
 * every node can still check its structure and the record's signature.
 *
 * proto/SEALING.md is the normative specification; this header is the C contract. The module is
 * pure (no I/O). In short: the plaintext is padded and encrypted with XChaCha20-Poly1305 under a
 * random content key, with the record kind and author key as associated data; the content key is
 * wrapped once per recipient with an X25519 sealed box to the recipient's Ed25519 key converted
 * to X25519; the slots carry no recipient ids and their number is padded to a bucket with decoy
 * slots that look like real ones. Readers trial-open every slot.
 *
 * Call sodium_init() before using this module. */
#ifndef SZ_SEAL_H
#define SZ_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define SZ_SEAL_VERSION 1
#define SZ_SEAL_AD_DOMAIN "samizdat sealed v1" /* used as these 18 bytes and a 0x00 */
#define SZ_SEAL_NONCE_LEN 24                   /* XChaCha20-Poly1305 nonce */
#define SZ_SEAL_COMMIT_LEN 32                  /* key commitment */
#define SZ_SEAL_SLOT_LEN 80                    /* crypto_box_seal of a 32-byte content key */
#define SZ_SEAL_TAG_LEN 16                     /* Poly1305 tag */
/* version | slot count | nonce | commitment; the slots and the ciphertext follow. */
#define SZ_SEAL_HEADER_LEN (1 + 1 + SZ_SEAL_NONCE_LEN + SZ_SEAL_COMMIT_LEN)
#define SZ_SEAL_LENGTH_LEN 4  /* the u32 plaintext length at the start of the padded plaintext */
#define SZ_SEAL_PAD_MIN 1024u /* the smallest padded plaintext: hides the size of short bodies */
#define SZ_SEAL_SLOTS_MIN 4u  /* slot counts are 4, 8, 16, 32 or 64 */
#define SZ_SEAL_MAX_RECIPIENTS 64u

/* What every node can learn from a sealed body without a key. */
typedef struct sz_seal_info_s {
    uint8_t version;   /* SZ_SEAL_VERSION */
    unsigned nslots;   /* 4, 8, 16, 32 or 64: an upper bound on the recipients, not their number */
    size_t padded_len; /* bytes of padded plaintext: an upper bound on the body size */
    size_t max_plain;  /* padded_len minus the length field: the largest plaintext it can hold */
} sz_seal_info_t;

/* Returns the slot count used for n recipients (the smallest bucket of 4, 8, 16, 32, 64 that holds
 * n), or 0 when n is 0 or more than SZ_SEAL_MAX_RECIPIENTS. */
unsigned sz_seal_slot_count(size_t nrecipients);

/* Computes in *body_len the exact length of the sealed body sz_seal() would produce for a plaintext
 * of plain_len bytes and nrecipients distinct recipients. Returns 0, SZ_E_ARGUMENT (no recipients
 * or more than 64), or SZ_E_TOO_LARGE when the sealed body would exceed SZ_RECORD_MAX_BODY. */
int sz_seal_body_len(size_t plain_len, size_t nrecipients, size_t *body_len);

/* Seals plaintext (borrowed, len bytes; normally the UTF-8 JSON body) for a record of this kind
 * (sz_kind_t) signed by author_pk, to the recipients (borrowed: nrecipients Ed25519 public keys of
 * 32 bytes each, back to back; a key given twice gets one slot). On success *out is a malloc'd
 * sealed body the caller owns and frees with free(), and *out_len its length; on failure *out is
 * NULL. The content key and every copy of the plaintext made here are wiped before returning.
 * Returns 0, SZ_E_ARGUMENT (NULL pointer where data is needed, no recipients or more than
 * SZ_SEAL_MAX_RECIPIENTS, kind 0), SZ_E_KEY (a recipient key is not a valid Ed25519 public key),
 * SZ_E_TOO_LARGE (the sealed body would exceed SZ_RECORD_MAX_BODY), SZ_E_CRYPTO or -ENOMEM. */
int sz_seal(const uint8_t *plaintext, size_t len, uint8_t kind, const uint8_t author_pk[static 32],
            const uint8_t *recipients, size_t nrecipients, uint8_t **out, size_t *out_len);

/* Checks the structure of a sealed body (borrowed) with no key, as every node does before storing
 * a sealed record: the version, a slot count of 4, 8, 16, 32 or 64, a length within
 * SZ_RECORD_MAX_BODY, and a padded length that is one the padding rule produces, with nothing
 * after the ciphertext. info may be NULL; it is filled only on success. body may be NULL when len
 * is 0. Returns 0, SZ_E_TOO_LARGE (over SZ_RECORD_MAX_BODY), SZ_E_VERSION (an unknown version
 * byte) or SZ_E_MALFORMED (anything else). */
int sz_seal_parse(const uint8_t *body, size_t len, sz_seal_info_t *info);

/* Opens a sealed body (borrowed) of a record of this kind by author_pk, with reader_sk (borrowed,
 * the reader's 64-byte Ed25519 secret key: seed then public key). Every slot is tried. On success
 * *plaintext is a sodium_malloc'd buffer holding *plen bytes of plaintext, which the caller owns
 * and releases with sodium_free() (which wipes it) as soon as it is done; on failure *plaintext is
 * NULL and *plen 0. Returns 0; SZ_E_TOO_LARGE, SZ_E_VERSION or SZ_E_MALFORMED as sz_seal_parse()
 * does, or SZ_E_MALFORMED when the authenticated plaintext's length field or padding is wrong;
 * SZ_E_SEALED when no slot opens with this key ("this key is not a recipient"); SZ_E_DECRYPT when
 * a slot opens but the ciphertext fails authentication, which is what a body moved to another
 * kind or author, or damaged, gives; SZ_E_ARGUMENT for a NULL pointer; -ENOMEM. */
int sz_unseal(const uint8_t *body, size_t len, uint8_t kind, const uint8_t author_pk[static 32],
              const uint8_t reader_sk[static 64], uint8_t **plaintext, size_t *plen);

#endif
