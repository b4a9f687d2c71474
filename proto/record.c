/* The record envelope codec: strict decoding, signing and verification. See proto/RECORD.md. */
#include "record.h"
#include "encoding.h"

#include "error.h"
#include "sha256.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Offsets of the fixed-position fields; everything after nparents moves with the parent count. */
enum {
    OFF_FORMAT = 3,
    OFF_KIND = 4,
    OFF_FLAGS = 5,
    OFF_CREATED = 6,
    OFF_RECORD_ID = 14,
    OFF_NPARENTS = 46,
    OFF_PARENTS = 47,
};

/* The domain prefix: the 18 characters of SZ_RECORD_SIG_DOMAIN and their terminating 0x00. */
#define DOMAIN_LEN (sizeof(SZ_RECORD_SIG_DOMAIN))

/* Records up to this many signed bytes are verified from a stack copy; 8 KiB covers typical
 * testimony while staying well inside any thread's stack. */
#define VERIFY_STACK_LEN 8192

static int is_zero32(const uint8_t *p) {
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= p[i];
    return acc == 0;
}

static int kind_known(unsigned kind) {
    return kind >= SZ_KIND_TESTIMONY && kind <= SZ_KIND_REVOCATION;
}

size_t sz_record_encoded_len(unsigned nparents, uint32_t body_len) {
    return SZ_RECORD_MIN_LEN + (size_t)nparents * SZ_HASH_LEN + body_len;
}

/* Fields are read in order and each check runs as soon as the bytes it needs have been read, so
 * that every implementation reports the same error for the same bytes (RECORD.md, "Errors"). */
int sz_record_decode(sz_record_t *rec, const uint8_t *buf, size_t len) {
    memset(rec, 0, sizeof(*rec));
    if (len < 3)
        return SZ_E_TRUNCATED;
    if (memcmp(buf, SZ_RECORD_MAGIC, 3) != 0)
        return SZ_E_MAGIC;
    if (len < OFF_FORMAT + 1)
        return SZ_E_TRUNCATED;
    if (buf[OFF_FORMAT] != SZ_RECORD_FORMAT)
        return SZ_E_VERSION;
    if (len < OFF_KIND + 1)
        return SZ_E_TRUNCATED;
    if (!kind_known(buf[OFF_KIND]))
        return SZ_E_KIND;
    if (len < OFF_FLAGS + 1)
        return SZ_E_TRUNCATED;
    if ((buf[OFF_FLAGS] & ~SZ_FLAGS_KNOWN) != 0)
        return SZ_E_FLAGS;
    if (len < OFF_NPARENTS + 1)
        return SZ_E_TRUNCATED;
    unsigned nparents = buf[OFF_NPARENTS];
    if (nparents > SZ_RECORD_MAX_PARENTS)
        return SZ_E_PARENTS;
    if ((nparents == 0) != is_zero32(buf + OFF_RECORD_ID))
        return SZ_E_RECORD_ID;
    size_t off = OFF_PARENTS;
    if (len - off < (size_t)nparents * SZ_HASH_LEN)
        return SZ_E_TRUNCATED;
    for (unsigned i = 1; i < nparents; i++)
        if (memcmp(buf + off + (i - 1) * SZ_HASH_LEN, buf + off + i * SZ_HASH_LEN, SZ_HASH_LEN) >=
            0)
            return SZ_E_PARENTS;
    size_t off_author = off + (size_t)nparents * SZ_HASH_LEN;
    size_t off_body_len = off_author + SZ_PUBKEY_LEN;
    if (len - off_author < SZ_PUBKEY_LEN + 4)
        return SZ_E_TRUNCATED;
    uint32_t body_len = sz_be32_get(buf + off_body_len);
    if (body_len > SZ_RECORD_MAX_BODY)
        return SZ_E_TOO_LARGE;
    size_t off_body = off_body_len + 4;
    if (len - off_body < body_len)
        return SZ_E_TRUNCATED;
    size_t off_sig = off_body + body_len;
    if (len - off_sig < SZ_SIG_LEN)
        return SZ_E_TRUNCATED;
    if (len - off_sig > SZ_SIG_LEN)
        return SZ_E_TRAILING;

    rec->format = buf[OFF_FORMAT];
    rec->kind = buf[OFF_KIND];
    rec->flags = buf[OFF_FLAGS];
    rec->created = sz_be64_get(buf + OFF_CREATED);
    rec->record_id = buf + OFF_RECORD_ID;
    rec->nparents = (uint8_t)nparents;
    rec->parents = buf + OFF_PARENTS;
    rec->author = buf + off_author;
    rec->body_len = body_len;
    rec->body = buf + off_body;
    rec->signature = buf + off_sig;
    rec->envelope = buf;
    rec->envelope_len = len;
    return 0;
}

int sz_record_verify_signature(const sz_record_t *rec) {
    /* Ed25519 has no streaming form in libsodium, so the prefix and the signed bytes must be one
     * contiguous message: copy them, on the stack when small enough. */
    size_t signed_len = rec->envelope_len - SZ_SIG_LEN;
    size_t msg_len = DOMAIN_LEN + signed_len;
    uint8_t stack_buf[VERIFY_STACK_LEN];
    uint8_t *msg = stack_buf;
    if (msg_len > sizeof(stack_buf)) {
        msg = malloc(msg_len);
        if (msg == NULL)
            return -ENOMEM;
    }
    memcpy(msg, SZ_RECORD_SIG_DOMAIN, DOMAIN_LEN);
    memcpy(msg + DOMAIN_LEN, rec->envelope, signed_len);
    int rc = crypto_sign_verify_detached(rec->signature, msg, msg_len, rec->author);
    if (msg != stack_buf)
        free(msg);
    return rc == 0 ? 0 : SZ_E_SIGNATURE;
}

void sz_record_version_hash(const sz_record_t *rec, uint8_t out[static 32]) {
    sz_sha256(out, rec->envelope, rec->envelope_len);
}

void sz_record_id(const sz_record_t *rec, const uint8_t version_hash[static 32],
                  uint8_t out[static 32]) {
    memmove(out, rec->nparents == 0 ? version_hash : rec->record_id, SZ_HASH_LEN);
}

int sz_record_open(sz_record_t *rec, const uint8_t *buf, size_t len, uint8_t *version_hash) {
    int rc = sz_record_decode(rec, buf, len);
    if (rc != 0)
        return rc;
    rc = sz_record_verify_signature(rec);
    if (rc != 0)
        return rc;
    if (version_hash != NULL)
        sz_record_version_hash(rec, version_hash);
    return 0;
}

static int compare_hash(const void *a, const void *b) {
    return memcmp(a, b, SZ_HASH_LEN);
}

/* Checks that the public half of sk belongs to its seed. Signing with a mismatched public key
 * would give signatures that do not verify and, worse, two such signatures over one message under
 * different public halves reveal the secret scalar. The derived secret copy lives on the stack
 * only for this call and is wiped, as libsodium does with its own temporaries. */
static int check_secret_key(const uint8_t sk[static 64]) {
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t derived[crypto_sign_SECRETKEYBYTES];
    crypto_sign_seed_keypair(pk, derived, sk);
    sodium_memzero(derived, sizeof(derived));
    return sodium_memcmp(pk, sk + 32, sizeof(pk)) == 0 ? 0 : SZ_E_KEY;
}

int sz_record_sign(const sz_record_fields_t *fields, const uint8_t sk[static 64], uint8_t **out,
                   size_t *out_len) {
    if (fields == NULL || out == NULL || out_len == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    if ((fields->body == NULL && fields->body_len > 0) ||
        (fields->parents == NULL && fields->nparents > 0))
        return SZ_E_ARGUMENT;
    if (!kind_known(fields->kind))
        return SZ_E_KIND;
    if ((fields->flags & ~SZ_FLAGS_KNOWN) != 0)
        return SZ_E_FLAGS;
    if (fields->body_len > SZ_RECORD_MAX_BODY)
        return SZ_E_TOO_LARGE;
    if (fields->nparents > SZ_RECORD_MAX_PARENTS)
        return SZ_E_PARENTS;
    if ((fields->nparents == 0) != (fields->record_id == NULL) ||
        (fields->record_id != NULL && is_zero32(fields->record_id)))
        return SZ_E_RECORD_ID;
    int rc = check_secret_key(sk);
    if (rc != 0)
        return rc;

    size_t len = sz_record_encoded_len(fields->nparents, fields->body_len);
    /* The envelope is built after room for the domain prefix, so the signed message is contiguous
     * without a second buffer; it is moved to the front once signed. */
    uint8_t *buf = malloc(DOMAIN_LEN + len);
    if (buf == NULL)
        return -ENOMEM;
    uint8_t *env = buf + DOMAIN_LEN;
    memcpy(buf, SZ_RECORD_SIG_DOMAIN, DOMAIN_LEN);
    memcpy(env, SZ_RECORD_MAGIC, 3);
    env[OFF_FORMAT] = SZ_RECORD_FORMAT;
    env[OFF_KIND] = fields->kind;
    env[OFF_FLAGS] = fields->flags;
    sz_be64_put(env + OFF_CREATED, fields->created);
    if (fields->record_id != NULL)
        memcpy(env + OFF_RECORD_ID, fields->record_id, SZ_HASH_LEN);
    else
        memset(env + OFF_RECORD_ID, 0, SZ_HASH_LEN);
    env[OFF_NPARENTS] = fields->nparents;
    uint8_t *parents = env + OFF_PARENTS;
    if (fields->nparents > 0) {
        memcpy(parents, fields->parents, (size_t)fields->nparents * SZ_HASH_LEN);
        qsort(parents, fields->nparents, SZ_HASH_LEN, compare_hash);
        for (unsigned i = 1; i < fields->nparents; i++)
            if (memcmp(parents + (i - 1) * SZ_HASH_LEN, parents + i * SZ_HASH_LEN, SZ_HASH_LEN) ==
                0) {
                free(buf);
                return SZ_E_PARENTS;
            }
    }
    size_t off = OFF_PARENTS + (size_t)fields->nparents * SZ_HASH_LEN;
    memcpy(env + off, sk + 32, SZ_PUBKEY_LEN);
    off += SZ_PUBKEY_LEN;
    sz_be32_put(env + off, fields->body_len);
    off += 4;
    if (fields->body_len > 0)
        memcpy(env + off, fields->body, fields->body_len);
    off += fields->body_len;
    if (crypto_sign_detached(env + off, NULL, buf, DOMAIN_LEN + off, sk) != 0) {
        free(buf);
        return SZ_E_CRYPTO;
    }
    memmove(buf, env, len);
    *out = buf;
    *out_len = len;
    return 0;
}

static const char *const kind_names[] = {
    [SZ_KIND_TESTIMONY] = "testimony",
    [SZ_KIND_CASE] = "case",
    [SZ_KIND_RETRACTION] = "retraction",
    [SZ_KIND_REVOCATION] = "revocation",
};

const char *sz_kind_name(unsigned kind) {
    return kind_known(kind) ? kind_names[kind] : NULL;
}

int sz_kind_from_name(const char *name) {
    if (name == NULL)
        return 0;
    for (unsigned k = SZ_KIND_TESTIMONY; k <= SZ_KIND_REVOCATION; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return (int)k;
    return 0;
}
