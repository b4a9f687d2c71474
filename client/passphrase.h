/* Reading passphrases: from the terminal with echo off, or from the file named by
 * SAMIZDAT_PASSPHRASE_FILE (its first line, without the line end) for scripts and tests.
 *
 * Passphrases live only in sodium_malloc'd memory and are wiped when freed. */
#ifndef SZ_PASSPHRASE_H
#define SZ_PASSPHRASE_H

#include <stddef.h>

#define SZ_PASSPHRASE_MAX 1023 /* bytes, without the NUL */
#define SZ_PASSPHRASE_ENV "SAMIZDAT_PASSPHRASE_FILE"
#define SZ_BACKUP_PASSPHRASE_ENV "SAMIZDAT_BACKUP_PASSPHRASE_FILE"

/* Reads a passphrase. prompt (borrowed) is shown on the terminal; when confirm is set and the
 * passphrase comes from the terminal it is asked twice and must match. On success *out is a
 * sodium_malloc'd NUL-terminated string of *len bytes that the caller owns and releases with
 * sz_passphrase_free(). On failure writes a reason to why (borrowed, why_cap bytes) and returns a
 * negative errno or SZ_E_PASSPHRASE (mismatch), SZ_E_TOO_LARGE or SZ_E_ARGUMENT (no terminal). */
int sz_passphrase_read(const char *prompt, int confirm, char **out, size_t *len, char *why,
                       size_t why_cap);

/* Like sz_passphrase_read, with the file named by the environment variable env (borrowed)
 * instead of SAMIZDAT_PASSPHRASE_FILE: 'samizdat key' reads a backup's passphrase from
 * SZ_BACKUP_PASSPHRASE_ENV so that a script can give both it and the key's own. */
int sz_passphrase_read_env(const char *env, const char *prompt, int confirm, char **out,
                           size_t *len, char *why, size_t why_cap);

/* Wipes and frees a passphrase from sz_passphrase_read(). NULL is allowed. Takes ownership. */
void sz_passphrase_free(char *pass);

/* Returns 1 if the passphrase will come from SAMIZDAT_PASSPHRASE_FILE rather than a terminal. */
int sz_passphrase_from_file(void);

#endif
