/* Key backups: a secret key protected by a passphrase for its owner, with an optional escrow copy
 * sealed to an archive's recovery key, so the archive's recovery officer can restore it.
 *
 * proto/KEYS.md ("Key backup and escrow") is the normative specification; this header is the C
 * contract. A backup is a text file of two or three lines: a comment line, the base64 line of a
 * secret key file (KEYS.md) protected with Argon2id, SENSITIVE limits by default, and optionally
 * the base64 line of an escrow struct. Its first two lines are therefore a valid secret key file,
 * and this module hands them to proto/keyfile.h rather than repeating its work. The module is pure;
 * passphrases and keys are borrowed, and every decoded secret key is sodium_malloc'd and released
 * with sz_secretkey_free(). Call sodium_init() before using it. */
#ifndef SZ_KEYBACKUP_H
#define SZ_KEYBACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "keyfile.h"

#define SZ_KEYBACKUP_COMMENT "untrusted comment: samizdat key backup "
#define SZ_KEYBACKUP_ESCROW_MAGIC "SZKE"
#define SZ_KEYBACKUP_ESCROW_VERSION 1
#define SZ_KEYBACKUP_ESCROW_CIPHER_BOX_SEAL                                                        \
    1 /* crypto_box_seal to the recovery key's X25519 form */
#define SZ_KEYBACKUP_ESCROW_BOX_LEN                                                                \
    (48 + 64) /* crypto_box_SEALBYTES and the 64-byte secret key                                   \
               */
/* magic | version | cipher | public key | box */
#define SZ_KEYBACKUP_ESCROW_LEN (4 + 1 + 1 + 32 + SZ_KEYBACKUP_ESCROW_BOX_LEN)
#define SZ_KEYBACKUP_TEXT_MAX 4096u /* the largest backup text read */

/* What can be learnt from a backup without a passphrase or recovery key. */
typedef struct sz_keybackup_info_s {
    sz_keyfile_info_t key; /* the passphrase-protected copy: public key, KDF and its limits */
    int has_escrow;        /* 1 if an escrow copy is present */
} sz_keybackup_info_t;

/* Writes a backup of sk (borrowed, 64 bytes) to *text, a malloc'd NUL-terminated string the
 * caller owns and frees with sz_keyfile_text_free(). passphrase (borrowed, pass_len bytes, not
 * wiped here) is required: a backup is never unprotected. It is stretched with Argon2id at limits,
 * or at libsodium's SENSITIVE preset (4 passes over 1 GiB) when limits is NULL. When recovery_pk
 * (borrowed, 32 bytes: the archive's Ed25519 recovery public key) is not NULL an escrow copy sealed
 * to it is added. Returns 0; SZ_E_ARGUMENT (NULL or empty passphrase, limits out of bounds);
 * SZ_E_KEY (the public half of sk does not match its seed, or recovery_pk is not a valid Ed25519
 * public key); SZ_E_CRYPTO if Argon2id could not run; -ENOMEM. */
int sz_keybackup_encode(char **text, const uint8_t sk[static 64], const char *passphrase,
                        size_t pass_len, const sz_kdf_limits_t *limits, const uint8_t *recovery_pk);

/* Checks the structure of a backup (text borrowed, len bytes, need not be NUL-terminated) without
 * decrypting anything and fills *info. Returns 0 or SZ_E_KEYFILE: the text is over
 * SZ_KEYBACKUP_TEXT_MAX, its first two lines are not a well-formed secret key file (as
 * sz_keyfile_inspect() judges), that key file is unprotected, the third line is not canonical
 * base64 of an escrow struct with the right magic, version and cipher and the same public key, or
 * anything follows the third line. */
int sz_keybackup_decode(sz_keybackup_info_t *info, const char *text, size_t len);

/* Restores the secret key from a backup (text borrowed) with its passphrase (borrowed). The whole
 * text is checked as sz_keybackup_decode() does. On success *sk is a sodium_malloc'd 64-byte secret
 * key the caller owns and releases with sz_secretkey_free(); on failure *sk is NULL. Returns 0,
 * SZ_E_KEYFILE (as above, or as sz_keyfile_decode() reports), SZ_E_PASSPHRASE (wrong passphrase or
 * damaged salt, nonce or box), SZ_E_ARGUMENT (NULL passphrase), SZ_E_CRYPTO or -ENOMEM. */
int sz_keybackup_restore(uint8_t **sk, const char *text, size_t len, const char *passphrase,
                         size_t pass_len);

/* Restores the secret key from a backup's escrow copy (text borrowed) with the archive's recovery
 * secret key (borrowed, 64-byte Ed25519 secret key). On success *sk is a sodium_malloc'd 64-byte
 * secret key the caller owns (sz_secretkey_free()); on failure *sk is NULL. Returns 0;
 * SZ_E_KEYFILE as sz_keybackup_decode() reports, or when the opened key does not match the
 * backup's public key; SZ_E_NOT_FOUND when the backup has no escrow copy; SZ_E_KEY when the escrow
 * copy does not open with this recovery key (another archive's key, or a damaged box); -ENOMEM. */
int sz_keybackup_restore_escrow(uint8_t **sk, const char *text, size_t len,
                                const uint8_t recovery_sk[static 64]);

#endif
