/* The record envelope: the exact bytes that are signed, hashed, stored and replicated.
 *
 * proto/RECORD.md is the normative specification; this header is the C contract. Decoding is
 * strict: only the canonical encoding of a record is accepted, never re-serialised, and every
 * pointer in a decoded sz_record_t borrows from the caller's buffer. */
#ifndef SZ_RECORD_H
#define SZ_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "encoding.h"

#define SZ_RECORD_MAGIC "SZR"         /* 3 bytes, then the format version byte */
#define SZ_RECORD_FORMAT 1            /* the only format version this code reads and writes */
#define SZ_RECORD_MAX_BODY (1u << 20) /* 1 MiB; attachments travel separately */
#define SZ_RECORD_MAX_PARENTS 16
#define SZ_SIG_LEN 64
#define SZ_SECRETKEY_LEN 64 /* libsodium Ed25519 secret key: seed || public key */
#define SZ_RECORD_SIG_DOMAIN "samizdat record v1" /* signed as these 18 bytes and a 0x00 */

/* The smallest and largest possible envelopes. */
#define SZ_RECORD_MIN_LEN (4 + 1 + 1 + 8 + 32 + 1 + 32 + 4 + SZ_SIG_LEN)
#define SZ_RECORD_MAX_LEN                                                                          \
    (SZ_RECORD_MIN_LEN + SZ_RECORD_MAX_PARENTS * SZ_HASH_LEN + SZ_RECORD_MAX_BODY)

typedef enum sz_kind_e {
    SZ_KIND_TESTIMONY = 1,
    SZ_KIND_CASE = 2,
    SZ_KIND_RETRACTION = 3,
    SZ_KIND_REVOCATION = 4,
} sz_kind_t;

#define SZ_FLAG_SEALED 0x01u /* body is ciphertext (see RECORD.md, sealing) */
#define SZ_FLAGS_KNOWN SZ_FLAG_SEALED

typedef struct sz_record_s sz_record_t;
struct sz_record_s {
    uint8_t format;           /* SZ_RECORD_FORMAT */
    uint8_t kind;             /* sz_kind_t */
    uint8_t flags;            /* SZ_FLAG_* */
    uint64_t created;         /* milliseconds since the Unix epoch, UTC */
    const uint8_t *record_id; /* 32 bytes; all zero in a record's first version */
    uint8_t nparents;         /* 0 for a first version, 1..SZ_RECORD_MAX_PARENTS otherwise */
    const uint8_t *parents;   /* nparents * 32 bytes, strictly ascending */
    const uint8_t *author;    /* 32-byte Ed25519 public key */
    uint32_t body_len;
    const uint8_t *body;
    const uint8_t *signature; /* 64 bytes */
    const uint8_t *envelope;  /* the whole envelope, as given */
    size_t envelope_len;
};

/* What a new version is made of, for sz_record_sign(). Every pointer is borrowed. */
typedef struct sz_record_fields_s {
    uint8_t kind;
    uint8_t flags;
    uint64_t created;         /* milliseconds since the epoch */
    const uint8_t *record_id; /* NULL for a first version */
    const uint8_t *parents;   /* nparents * 32 bytes, any order; NULL when nparents == 0 */
    uint8_t nparents;
    const uint8_t *body;
    uint32_t body_len;
} sz_record_fields_t;

/* Returns the envelope length for a record with these counts. */
size_t sz_record_encoded_len(unsigned nparents, uint32_t body_len);

/* Parses buf (borrowed; rec points into it) strictly: magic, format, known kind and flags, limits,
 * parents strictly ascending, the record id rule, the exact length. Checks run in the order of
 * RECORD.md section 3 and the first failure is returned, so every implementation reports the same
 * error for the same bytes. It does not check the signature. buf may be NULL when len is 0.
 * Returns 0 or one of SZ_E_TRUNCATED, SZ_E_TRAILING, SZ_E_MAGIC, SZ_E_VERSION, SZ_E_KIND,
 * SZ_E_FLAGS, SZ_E_TOO_LARGE, SZ_E_PARENTS, SZ_E_RECORD_ID. */
int sz_record_decode(sz_record_t *rec, const uint8_t *buf, size_t len);

/* Checks the Ed25519 signature of a decoded record (borrowed) over the domain prefix and every
 * byte before the signature, with libsodium's strict rules (canonical S, no small-order R or
 * author key). Records whose signed bytes fit in 8 KiB are checked without allocating; larger
 * ones need one malloc. Returns 0, SZ_E_SIGNATURE, or -ENOMEM if that malloc fails. */
int sz_record_verify_signature(const sz_record_t *rec);

/* Writes the version hash, SHA-256 of the whole envelope, to out. */
void sz_record_version_hash(const sz_record_t *rec, uint8_t out[static 32]);

/* Writes the record id to out: the record_id field, or for a first version its own version hash
 * (which the caller passes in, so it is computed once). out may be version_hash itself. */
void sz_record_id(const sz_record_t *rec, const uint8_t version_hash[static 32],
                  uint8_t out[static 32]);

/* Decodes, verifies the signature and computes the version hash (32 bytes) in one call: what every
 * node does with untrusted bytes. buf is borrowed and rec points into it. version_hash may be NULL;
 * it is written only on success. Returns 0 or any error of the decode and verify calls above. */
int sz_record_open(sz_record_t *rec, const uint8_t *buf, size_t len, uint8_t *version_hash);

/* Encodes and signs a new version with sk (borrowed; SZ_SECRETKEY_LEN bytes, public key in its
 * second half, which becomes the author). Parents are sorted here. Before signing, the public half
 * is checked against the seed, because signing under a wrong public half can leak the secret key.
 * On success *out is a malloc'd envelope the caller owns and frees with free(); on failure *out is
 * NULL. Returns 0, SZ_E_ARGUMENT (NULL pointer where data is needed), SZ_E_KIND, SZ_E_FLAGS,
 * SZ_E_TOO_LARGE, SZ_E_PARENTS (too many, duplicates), SZ_E_RECORD_ID (id given without parents,
 * parents without id, or an all-zero id), SZ_E_KEY (public half does not match the seed),
 * SZ_E_CRYPTO or -ENOMEM. */
int sz_record_sign(const sz_record_fields_t *fields, const uint8_t sk[static 64], uint8_t **out,
                   size_t *out_len);

/* Returns "testimony", "case", "retraction" or "revocation", or NULL for an unknown kind. */
const char *sz_kind_name(unsigned kind);

/* Returns the kind for a name above, or 0 if the name is not a kind. */
int sz_kind_from_name(const char *name);

#endif
