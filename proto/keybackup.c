/* Key backups with optional escrow. See proto/KEYS.md, "Key backup and escrow". The passphrase
 * copy is a secret key file line, so all of its work is done by proto/keyfile.c. */
#include "keybackup.h"

#include "encoding.h"
#include "error.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum {
    ESC_MAGIC = 0,
    ESC_VERSION = 4,
    ESC_CIPHER = 5,
    ESC_PUBLIC = 6,
    ESC_BOX = ESC_PUBLIC + 32,
    ESC_END = ESC_BOX + SZ_KEYBACKUP_ESCROW_BOX_LEN,
};
_Static_assert(ESC_END == SZ_KEYBACKUP_ESCROW_LEN, "escrow layout");
_Static_assert(SZ_KEYBACKUP_ESCROW_BOX_LEN == crypto_box_SEALBYTES + crypto_sign_SECRETKEYBYTES,
               "escrow box holds one Ed25519 secret key");

#define ESC_B64_LEN (((SZ_KEYBACKUP_ESCROW_LEN + 2) / 3) * 4)
#define COMMENT_PREFIX "untrusted comment:"

/* A backup split into its parts. keyfile_len covers lines 1 and 2 (with line 2's newline, if
 * any): exactly a secret key file. escrow is NULL when there is no third line. */
typedef struct {
    size_t keyfile_len;
    const char *escrow;
    size_t escrow_len;
} parts_t;

static int split(parts_t *p, const char *text, size_t len) {
    size_t plen = strlen(COMMENT_PREFIX);
    if (text == NULL || len > SZ_KEYBACKUP_TEXT_MAX || len < plen ||
        memcmp(text, COMMENT_PREFIX, plen) != 0)
        return SZ_E_KEYFILE;
    const char *nl1 = memchr(text, '\n', len);
    if (nl1 == NULL)
        return SZ_E_KEYFILE;
    size_t off2 = (size_t)(nl1 + 1 - text);
    const char *nl2 = memchr(text + off2, '\n', len - off2);
    p->escrow = NULL;
    p->escrow_len = 0;
    if (nl2 == NULL || (size_t)(nl2 + 1 - text) == len) {
        p->keyfile_len = len;
        return 0;
    }
    p->keyfile_len = (size_t)(nl2 + 1 - text);
    const char *line = nl2 + 1;
    size_t rest = len - p->keyfile_len;
    const char *nl3 = memchr(line, '\n', rest);
    /* Nothing may follow the third line's newline. */
    if (nl3 != NULL && (size_t)(nl3 + 1 - line) != rest)
        return SZ_E_KEYFILE;
    size_t line_len = nl3 != NULL ? (size_t)(nl3 - line) : rest;
    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    p->escrow = line;
    p->escrow_len = line_len;
    return 0;
}

/* Decodes the escrow line into esc, insisting on canonical base64 so no two texts decode to the
 * same struct, and checks its header and public key against the key file's. */
static int decode_escrow(uint8_t esc[static SZ_KEYBACKUP_ESCROW_LEN], const parts_t *p,
                         const uint8_t public_key[static 32]) {
    if (p->escrow_len != ESC_B64_LEN)
        return SZ_E_KEYFILE;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(esc, SZ_KEYBACKUP_ESCROW_LEN, p->escrow, p->escrow_len, NULL, &got, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != SZ_KEYBACKUP_ESCROW_LEN || end != p->escrow + p->escrow_len)
        return SZ_E_KEYFILE;
    char again[ESC_B64_LEN + 1];
    sodium_bin2base64(again, sizeof(again), esc, SZ_KEYBACKUP_ESCROW_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    if (memcmp(again, p->escrow, ESC_B64_LEN) != 0)
        return SZ_E_KEYFILE;
    if (memcmp(esc + ESC_MAGIC, SZ_KEYBACKUP_ESCROW_MAGIC, 4) != 0 ||
        esc[ESC_VERSION] != SZ_KEYBACKUP_ESCROW_VERSION ||
        esc[ESC_CIPHER] != SZ_KEYBACKUP_ESCROW_CIPHER_BOX_SEAL)
        return SZ_E_KEYFILE;
    /* An escrow copy of someone else's key must not travel under this identity. */
    if (memcmp(esc + ESC_PUBLIC, public_key, 32) != 0)
        return SZ_E_KEYFILE;
    return 0;
}

/* Splits and checks the whole text; esc is filled when info->has_escrow. */
static int parse(sz_keybackup_info_t *info, parts_t *p, uint8_t esc[static SZ_KEYBACKUP_ESCROW_LEN],
                 const char *text, size_t len) {
    int rc = split(p, text, len);
    if (rc != 0)
        return rc;
    if (sz_keyfile_inspect(&info->key, text, p->keyfile_len) != 0)
        return SZ_E_KEYFILE;
    /* A backup travels to USB sticks and other people's safes; an unprotected one is refused. */
    if (info->key.kdf == SZ_KEYFILE_KDF_NONE)
        return SZ_E_KEYFILE;
    info->has_escrow = p->escrow != NULL;
    if (info->has_escrow && (rc = decode_escrow(esc, p, info->key.public_key)) != 0)
        return rc;
    return 0;
}

int sz_keybackup_decode(sz_keybackup_info_t *info, const char *text, size_t len) {
    parts_t p;
    uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN];
    sz_keybackup_info_t tmp;
    int rc = parse(&tmp, &p, esc, text, len);
    if (rc == 0)
        *info = tmp;
    return rc;
}

int sz_keybackup_encode(char **text, const uint8_t sk[static 64], const char *passphrase,
                        size_t pass_len, const sz_kdf_limits_t *limits,
                        const uint8_t *recovery_pk) {
    *text = NULL;
    if (passphrase == NULL || pass_len == 0)
        return SZ_E_ARGUMENT;
    sz_kdf_limits_t lim = {crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
    if (limits != NULL)
        lim = *limits;

    /* Check the recovery key before the expensive KDF. */
    uint8_t xpk[crypto_box_PUBLICKEYBYTES];
    if (recovery_pk != NULL && crypto_sign_ed25519_pk_to_curve25519(xpk, recovery_pk) != 0)
        return SZ_E_KEY;

    char *keytext = NULL;
    int rc = sz_keyfile_encode(&keytext, sk, passphrase, pass_len, &lim);
    if (rc != 0)
        return rc;
    /* Line 2 of the key file is reused verbatim; sz_keyfile_encode ends it with a newline. */
    const char *line2 = strchr(keytext, '\n') + 1;
    size_t line2_len = strlen(line2);

    uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN];
    if (recovery_pk != NULL) {
        memcpy(esc + ESC_MAGIC, SZ_KEYBACKUP_ESCROW_MAGIC, 4);
        esc[ESC_VERSION] = SZ_KEYBACKUP_ESCROW_VERSION;
        esc[ESC_CIPHER] = SZ_KEYBACKUP_ESCROW_CIPHER_BOX_SEAL;
        memcpy(esc + ESC_PUBLIC, sk + 32, 32);
        if (crypto_box_seal(esc + ESC_BOX, sk, crypto_sign_SECRETKEYBYTES, xpk) != 0) {
            sz_keyfile_text_free(keytext);
            return SZ_E_CRYPTO;
        }
    }

    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, sk + 32);
    size_t clen = strlen(SZ_KEYBACKUP_COMMENT);
    size_t total =
        clen + SZ_PUBKEY_TEXT_LEN + 1 + line2_len + (recovery_pk != NULL ? ESC_B64_LEN + 1 : 0);
    char *out = malloc(total + 1);
    if (out == NULL) {
        sz_keyfile_text_free(keytext);
        return -ENOMEM;
    }
    char *w = out;
    memcpy(w, SZ_KEYBACKUP_COMMENT, clen);
    w += clen;
    memcpy(w, pk_text, SZ_PUBKEY_TEXT_LEN);
    w += SZ_PUBKEY_TEXT_LEN;
    *w++ = '\n';
    memcpy(w, line2, line2_len);
    w += line2_len;
    if (recovery_pk != NULL) {
        sodium_bin2base64(w, ESC_B64_LEN + 1, esc, sizeof(esc), sodium_base64_VARIANT_ORIGINAL);
        w += ESC_B64_LEN;
        *w++ = '\n';
    }
    *w = '\0';
    sz_keyfile_text_free(keytext);
    *text = out;
    return 0;
}

int sz_keybackup_restore(uint8_t **sk, const char *text, size_t len, const char *passphrase,
                         size_t pass_len) {
    *sk = NULL;
    sz_keybackup_info_t info;
    parts_t p;
    uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN];
    int rc = parse(&info, &p, esc, text, len);
    if (rc != 0)
        return rc;
    return sz_keyfile_decode(sk, text, p.keyfile_len, passphrase, pass_len);
}

int sz_keybackup_restore_escrow(uint8_t **sk, const char *text, size_t len,
                                const uint8_t recovery_sk[static 64]) {
    *sk = NULL;
    sz_keybackup_info_t info;
    parts_t p;
    uint8_t esc[SZ_KEYBACKUP_ESCROW_LEN];
    int rc = parse(&info, &p, esc, text, len);
    if (rc != 0)
        return rc;
    if (!info.has_escrow)
        return SZ_E_NOT_FOUND;

    uint8_t xsk[crypto_box_SECRETKEYBYTES], xpk[crypto_box_PUBLICKEYBYTES];
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *out = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    uint8_t *check_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (out == NULL || check_sk == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    if (crypto_sign_ed25519_sk_to_curve25519(xsk, recovery_sk) != 0 ||
        crypto_scalarmult_curve25519_base(xpk, xsk) != 0 ||
        crypto_box_seal_open(out, esc + ESC_BOX, SZ_KEYBACKUP_ESCROW_BOX_LEN, xpk, xsk) != 0) {
        rc = SZ_E_KEY;
        goto done;
    }
    /* The opened key must be the backup's identity, and its halves must agree, exactly as a key
     * file's must: otherwise a backup could show one identity and sign as another. */
    crypto_sign_ed25519_sk_to_seed(seed, out);
    crypto_sign_seed_keypair(pk, check_sk, seed);
    if (sodium_memcmp(pk, info.key.public_key, 32) != 0 || sodium_memcmp(out + 32, pk, 32) != 0) {
        rc = SZ_E_KEYFILE;
        goto done;
    }
    *sk = out;
    out = NULL;
    rc = 0;
done:
    sodium_memzero(xsk, sizeof(xsk));
    sodium_memzero(seed, sizeof(seed));
    if (check_sk != NULL)
        sodium_free(check_sk);
    if (out != NULL)
        sodium_free(out);
    return rc;
}
