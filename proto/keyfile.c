#include "keyfile.h"

#include "encoding.h"
#include "error.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Offsets into the decoded struct; KEYS.md has the same table. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_KDF = 5,
    OFF_CIPHER = 6,
    OFF_PUBLIC = 7,
    OFF_OPSLIMIT = OFF_PUBLIC + 32,
    OFF_MEMLIMIT = OFF_OPSLIMIT + 8,
    OFF_SALT = OFF_MEMLIMIT + 8,
    OFF_NONCE = OFF_SALT + SZ_KEYFILE_SALT_LEN,
    OFF_BOX = OFF_NONCE + SZ_KEYFILE_NONCE_LEN,
    OFF_END = OFF_BOX + SZ_KEYFILE_BOX_LEN,
};
_Static_assert(OFF_END == SZ_KEYFILE_BLOB_LEN, "key file layout");
_Static_assert(SZ_KEYFILE_BOX_LEN == crypto_sign_SECRETKEYBYTES + crypto_secretbox_MACBYTES,
               "box holds one Ed25519 secret key");
_Static_assert(SZ_KEYFILE_NONCE_LEN == crypto_secretbox_NONCEBYTES, "secretbox nonce");
_Static_assert(SZ_KEYFILE_SALT_LEN == crypto_pwhash_SALTBYTES, "Argon2id salt");

#define B64_LEN (((SZ_KEYFILE_BLOB_LEN + 2) / 3) * 4)
#define COMMENT_PREFIX "untrusted comment:"

int sz_kdf_limits_named(sz_kdf_limits_t *out, const char *name) {
    if (strcmp(name, "interactive") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        out->memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (strcmp(name, "moderate") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_MODERATE;
        out->memlimit = crypto_pwhash_MEMLIMIT_MODERATE;
    } else if (strcmp(name, "sensitive") == 0) {
        out->opslimit = crypto_pwhash_OPSLIMIT_SENSITIVE;
        out->memlimit = crypto_pwhash_MEMLIMIT_SENSITIVE;
    } else if (strcmp(name, "min") == 0) {
        out->opslimit = SZ_KEYFILE_OPSLIMIT_MIN;
        out->memlimit = SZ_KEYFILE_MEMLIMIT_MIN;
    } else {
        return SZ_E_ARGUMENT;
    }
    return 0;
}

/* Argon2id counts memory in KiB and ignores the rest, so only multiples of 1024 are accepted:
 * otherwise two different files would decode to the same key. */
static int limits_in_bounds(uint64_t opslimit, uint64_t memlimit) {
    return opslimit >= SZ_KEYFILE_OPSLIMIT_MIN && opslimit <= SZ_KEYFILE_OPSLIMIT_MAX &&
           memlimit >= SZ_KEYFILE_MEMLIMIT_MIN && memlimit <= SZ_KEYFILE_MEMLIMIT_MAX &&
           opslimit >= crypto_pwhash_OPSLIMIT_MIN && memlimit >= crypto_pwhash_MEMLIMIT_MIN &&
           memlimit % 1024 == 0;
}

int sz_secretkey_generate(uint8_t **sk) {
    *sk = NULL;
    uint8_t *key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (key == NULL)
        return -ENOMEM;
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    crypto_sign_keypair(pk, key);
    *sk = key;
    return 0;
}

void sz_secretkey_free(uint8_t *sk) {
    /* sodium_free wipes the region before releasing it. */
    if (sk != NULL)
        sodium_free(sk);
}

void sz_keyfile_text_free(char *text) {
    if (text == NULL)
        return;
    sodium_memzero(text, strlen(text));
    free(text);
}

/* Derives the wrapping key: Argon2id for a protected file, all zeros for an unprotected one, so
 * both take the same secretbox path. */
static int derive_key(uint8_t key[static crypto_secretbox_KEYBYTES], uint8_t kdf,
                      const char *passphrase, size_t pass_len, const uint8_t *salt,
                      uint64_t opslimit, uint64_t memlimit) {
    if (kdf == SZ_KEYFILE_KDF_NONE) {
        memset(key, 0, crypto_secretbox_KEYBYTES);
        return 0;
    }
    if (crypto_pwhash(key, crypto_secretbox_KEYBYTES, passphrase, pass_len, salt,
                      (unsigned long long)opslimit, (size_t)memlimit,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        sodium_memzero(key, crypto_secretbox_KEYBYTES);
        return SZ_E_CRYPTO;
    }
    return 0;
}

int sz_keyfile_encode(char **text, const uint8_t sk[static 64], const char *passphrase,
                      size_t pass_len, const sz_kdf_limits_t *limits) {
    *text = NULL;
    sz_kdf_limits_t lim = {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
    if (limits != NULL)
        lim = *limits;
    uint8_t kdf = passphrase != NULL ? SZ_KEYFILE_KDF_ARGON2ID13 : SZ_KEYFILE_KDF_NONE;
    if (kdf != SZ_KEYFILE_KDF_NONE &&
        (pass_len == 0 || !limits_in_bounds(lim.opslimit, lim.memlimit)))
        return SZ_E_ARGUMENT;

    /* A secret key whose second half is not its own public key would sign as someone else. */
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    if (crypto_sign_ed25519_sk_to_pk(pk, sk) != 0)
        return SZ_E_KEY;
    uint8_t seed[crypto_sign_SEEDBYTES], check_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *check_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (check_sk == NULL)
        return -ENOMEM;
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    crypto_sign_seed_keypair(check_pk, check_sk, seed);
    sodium_memzero(seed, sizeof(seed));
    sodium_free(check_sk);
    if (sodium_memcmp(check_pk, pk, sizeof(pk)) != 0)
        return SZ_E_KEY;

    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    memset(blob, 0, sizeof(blob));
    memcpy(blob + OFF_MAGIC, SZ_KEYFILE_MAGIC, 4);
    blob[OFF_VERSION] = SZ_KEYFILE_VERSION;
    blob[OFF_KDF] = kdf;
    blob[OFF_CIPHER] = SZ_KEYFILE_CIPHER_SECRETBOX;
    memcpy(blob + OFF_PUBLIC, pk, 32);
    if (kdf != SZ_KEYFILE_KDF_NONE) {
        sz_be64_put(blob + OFF_OPSLIMIT, lim.opslimit);
        sz_be64_put(blob + OFF_MEMLIMIT, lim.memlimit);
        randombytes_buf(blob + OFF_SALT, SZ_KEYFILE_SALT_LEN);
    }
    randombytes_buf(blob + OFF_NONCE, SZ_KEYFILE_NONCE_LEN);

    uint8_t key[crypto_secretbox_KEYBYTES];
    int rc =
        derive_key(key, kdf, passphrase, pass_len, blob + OFF_SALT, lim.opslimit, lim.memlimit);
    if (rc != 0) {
        sodium_memzero(blob, sizeof(blob));
        return rc;
    }
    crypto_secretbox_easy(blob + OFF_BOX, sk, crypto_sign_SECRETKEYBYTES, blob + OFF_NONCE, key);
    sodium_memzero(key, sizeof(key));

    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, pk);
    size_t comment_len = strlen(SZ_KEYFILE_SECRET_COMMENT) + SZ_PUBKEY_TEXT_LEN;
    size_t total = comment_len + 1 + B64_LEN + 1;
    char *out = malloc(total + 1);
    if (out == NULL) {
        sodium_memzero(blob, sizeof(blob));
        return -ENOMEM;
    }
    memcpy(out, SZ_KEYFILE_SECRET_COMMENT, strlen(SZ_KEYFILE_SECRET_COMMENT));
    memcpy(out + strlen(SZ_KEYFILE_SECRET_COMMENT), pk_text, SZ_PUBKEY_TEXT_LEN);
    out[comment_len] = '\n';
    sodium_bin2base64(out + comment_len + 1, B64_LEN + 1, blob, sizeof(blob),
                      sodium_base64_VARIANT_ORIGINAL);
    out[comment_len + 1 + B64_LEN] = '\n';
    out[total] = '\0';
    sodium_memzero(blob, sizeof(blob));
    *text = out;
    return 0;
}

/* Finds the base64 line of a key file and decodes it into blob, insisting on the canonical
 * encoding so that no two texts decode to the same struct. */
static int decode_blob(uint8_t blob[static SZ_KEYFILE_BLOB_LEN], const char *text, size_t len) {
    size_t plen = strlen(COMMENT_PREFIX);
    if (len > SZ_KEYFILE_TEXT_MAX || len < plen || memcmp(text, COMMENT_PREFIX, plen) != 0)
        return SZ_E_KEYFILE;
    const char *nl = memchr(text, '\n', len);
    if (nl == NULL)
        return SZ_E_KEYFILE;
    const char *line = nl + 1;
    size_t rest = len - (size_t)(line - text);
    const char *end = memchr(line, '\n', rest);
    size_t line_len = end != NULL ? (size_t)(end - line) : rest;
    /* Nothing may follow the second line's newline. */
    if (end != NULL && (size_t)(end - line) + 1 != rest)
        return SZ_E_KEYFILE;
    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    if (line_len != B64_LEN)
        return SZ_E_KEYFILE;
    size_t got = 0;
    const char *b64_end = NULL;
    if (sodium_base642bin(blob, SZ_KEYFILE_BLOB_LEN, line, line_len, NULL, &got, &b64_end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != SZ_KEYFILE_BLOB_LEN || b64_end != line + line_len)
        goto bad;
    char again[B64_LEN + 1];
    sodium_bin2base64(again, sizeof(again), blob, SZ_KEYFILE_BLOB_LEN,
                      sodium_base64_VARIANT_ORIGINAL);
    int same = memcmp(again, line, B64_LEN) == 0;
    sodium_memzero(again, sizeof(again));
    if (!same)
        goto bad;
    return 0;
bad:
    sodium_memzero(blob, SZ_KEYFILE_BLOB_LEN);
    return SZ_E_KEYFILE;
}

static int check_blob(sz_keyfile_info_t *info, const uint8_t blob[static SZ_KEYFILE_BLOB_LEN]) {
    static const uint8_t zero_salt[SZ_KEYFILE_SALT_LEN];
    if (memcmp(blob + OFF_MAGIC, SZ_KEYFILE_MAGIC, 4) != 0)
        return SZ_E_KEYFILE;
    if (blob[OFF_VERSION] != SZ_KEYFILE_VERSION)
        return SZ_E_KEYFILE;
    if (blob[OFF_CIPHER] != SZ_KEYFILE_CIPHER_SECRETBOX)
        return SZ_E_KEYFILE;
    uint64_t ops = sz_be64_get(blob + OFF_OPSLIMIT), mem = sz_be64_get(blob + OFF_MEMLIMIT);
    switch (blob[OFF_KDF]) {
    case SZ_KEYFILE_KDF_NONE:
        /* An unprotected key has no KDF parameters; anything there means damage or tampering. */
        if (ops != 0 || mem != 0 || memcmp(blob + OFF_SALT, zero_salt, sizeof(zero_salt)) != 0)
            return SZ_E_KEYFILE;
        break;
    case SZ_KEYFILE_KDF_ARGON2ID13:
        if (!limits_in_bounds(ops, mem))
            return SZ_E_KEYFILE;
        break;
    default:
        return SZ_E_KEYFILE;
    }
    info->version = blob[OFF_VERSION];
    info->kdf = blob[OFF_KDF];
    info->cipher = blob[OFF_CIPHER];
    info->opslimit = ops;
    info->memlimit = mem;
    memcpy(info->public_key, blob + OFF_PUBLIC, 32);
    return 0;
}

int sz_keyfile_inspect(sz_keyfile_info_t *info, const char *text, size_t len) {
    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    int rc = decode_blob(blob, text, len);
    if (rc == 0)
        rc = check_blob(info, blob);
    sodium_memzero(blob, sizeof(blob));
    return rc;
}

int sz_keyfile_decode(uint8_t **sk, const char *text, size_t len, const char *passphrase,
                      size_t pass_len) {
    *sk = NULL;
    uint8_t blob[SZ_KEYFILE_BLOB_LEN];
    uint8_t key[crypto_secretbox_KEYBYTES];
    uint8_t *out = NULL;
    sz_keyfile_info_t info;
    int rc = decode_blob(blob, text, len);
    if (rc != 0)
        goto done;
    if ((rc = check_blob(&info, blob)) != 0)
        goto done;
    if (info.kdf != SZ_KEYFILE_KDF_NONE && passphrase == NULL) {
        rc = SZ_E_ARGUMENT;
        goto done;
    }
    out = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (out == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    rc = derive_key(key, info.kdf, passphrase, pass_len, blob + OFF_SALT, info.opslimit,
                    info.memlimit);
    if (rc != 0)
        goto done;
    if (crypto_secretbox_open_easy(out, blob + OFF_BOX, SZ_KEYFILE_BOX_LEN, blob + OFF_NONCE,
                                   key) != 0) {
        /* Without a passphrase a failed MAC can only mean a damaged file. */
        rc = info.kdf == SZ_KEYFILE_KDF_NONE ? SZ_E_KEYFILE : SZ_E_PASSPHRASE;
        goto done;
    }
    /* The stored public key must be this secret key's, and the secret's own halves must agree:
     * otherwise the file would show one identity and sign as another. */
    uint8_t seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t *check_sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (check_sk == NULL) {
        rc = -ENOMEM;
        goto done;
    }
    crypto_sign_ed25519_sk_to_seed(seed, out);
    crypto_sign_seed_keypair(pk, check_sk, seed);
    sodium_memzero(seed, sizeof(seed));
    sodium_free(check_sk);
    if (sodium_memcmp(pk, info.public_key, 32) != 0 || sodium_memcmp(out + 32, pk, 32) != 0) {
        rc = SZ_E_KEYFILE;
        goto done;
    }
    *sk = out;
    out = NULL;
    rc = 0;
done:
    sodium_memzero(key, sizeof(key));
    sodium_memzero(blob, sizeof(blob));
    if (out != NULL)
        sodium_free(out);
    return rc;
}

void sz_pubfile_format(char out[static SZ_PUBFILE_TEXT_LEN + 1], const uint8_t pk[static 32]) {
    size_t clen = strlen(SZ_KEYFILE_PUBLIC_COMMENT);
    memcpy(out, SZ_KEYFILE_PUBLIC_COMMENT, clen);
    out[clen] = '\n';
    sz_pubkey_format(out + clen + 1, pk);
    out[clen + 1 + SZ_PUBKEY_TEXT_LEN] = '\n';
    out[clen + 2 + SZ_PUBKEY_TEXT_LEN] = '\0';
}

int sz_pubkey_parse_any(uint8_t pk[static 32], const char *text, size_t len) {
    if (len > SZ_PUBFILE_TEXT_MAX)
        return SZ_E_KEY;
    size_t plen = strlen(COMMENT_PREFIX);
    /* Skip a comment line if present; the comment itself is untrusted and ignored. */
    if (len >= plen && memcmp(text, COMMENT_PREFIX, plen) == 0) {
        const char *nl = memchr(text, '\n', len);
        if (nl == NULL)
            return SZ_E_KEY;
        len -= (size_t)(nl + 1 - text);
        text = nl + 1;
    }
    if (memchr(text, '\0', len) != NULL)
        return SZ_E_KEY;
    char buf[SZ_PUBFILE_TEXT_MAX + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    return sz_pubkey_parse(pk, buf);
}
