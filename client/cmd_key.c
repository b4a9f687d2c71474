/* samizdat key: backup, restore, revoke and show. A backup is a passphrase-protected copy of the
 * secret key meant to leave the machine, optionally with an escrow copy sealed to the archive's
 * recovery key (proto/KEYS.md, proto/keybackup.h); a revocation is a signed record (kind 4,
 * schema/revocation.schema.json) telling nodes to refuse the key's new records. */
#include "commands.h"

#include "encoding.h"
#include "error.h"
#include "keybackup.h"
#include "keyfile.h"
#include "node_ops.h"
#include "passphrase.h"

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PATH_SHOWN 200

const char sz_usage_key[] =
    "usage: samizdat [--key FILE] key backup [-o FILE] [--escrow RECOVERY_KEY] [--kdf LEVEL]\n"
    "                                        [--force]\n"
    "       samizdat key restore BACKUP [-o KEYFILE] [--recovery-key FILE] [--kdf LEVEL]\n"
    "       samizdat [--node NODE] [--key FILE] key revoke [--reason TEXT]\n"
    "                                        [--key-to-revoke PUBKEY] [--effective EDTF]\n"
    "                                        [--backup BACKUP]\n"
    "       samizdat [--key FILE] key show\n"
    "\n"
    "backup   Writes a backup of your secret key (--key, $SAMIZDAT_KEY or the default) to FILE\n"
    "         (default samizdat-key-XXXXXXXX.backup here), mode 0600, protected by a NEW backup\n"
    "         passphrase asked twice (or the first line of $SAMIZDAT_BACKUP_PASSPHRASE_FILE) and\n"
    "         stretched with Argon2id at the 'sensitive' level (1 GiB, a few seconds), since a\n"
    "         backup may be exposed to guessing for years. With --escrow RECOVERY_KEY (the\n"
    "         archive's recovery public key, as text or a .pub file) an escrow copy is added:\n"
    "         the archive's recovery officer can then restore the key WITHOUT your passphrase.\n"
    "         Keep the backup off this machine (USB stick, paper, safe).\n"
    "restore  Turns BACKUP back into a secret key file (-o KEYFILE, else --key, $SAMIZDAT_KEY or\n"
    "         the default) and KEYFILE.pub; refuses to replace an existing file. Asks for the\n"
    "         backup passphrase ($SAMIZDAT_BACKUP_PASSPHRASE_FILE), or with --recovery-key FILE\n"
    "         opens the escrow copy with the archive's recovery secret key instead. The new key\n"
    "         file is protected by a new passphrase (asked twice, or $SAMIZDAT_PASSPHRASE_FILE).\n"
    "revoke   Signs and submits a revocation record (kind 4): nodes that accept it refuse new\n"
    "         records signed by the key. Without --key-to-revoke the signing key revokes itself\n"
    "         (after a laptop was stolen: sign with --backup BACKUP, which asks the backup's\n"
    "         passphrase, instead of the lost key file); an admin key may revoke another key\n"
    "         by naming it. Prints the revocation's record id.\n"
    "show     Prints the public key of your secret key file (no passphrase needed).\n"
    "\n"
    "  -o, --output FILE       where to write the backup (backup) or key file (restore)\n"
    "  --escrow KEY            add an escrow copy sealed to this recovery public key\n"
    "  --recovery-key FILE     restore from the escrow copy with this recovery secret key file\n"
    "  --kdf LEVEL             Argon2id cost: interactive, moderate or sensitive (defaults:\n"
    "                          sensitive for a backup, moderate for a restored key file)\n"
    "  --force                 replace an existing backup file\n"
    "  --reason TEXT           why the key is revoked (default \"compromised\"); public\n"
    "  --key-to-revoke PUBKEY  the key to revoke (key text or .pub file; default: your own)\n"
    "  --effective EDTF        from when the key is no longer trusted (default: now)\n"
    "  --backup BACKUP         revoke: sign with the key in this backup file (its passphrase)\n"
    "  --json                  print the result as JSON\n"
    "\n"
    "Passphrases come from the terminal, or for scripts from the first line of the files named\n"
    "by $SAMIZDAT_PASSPHRASE_FILE (the key file's) and $SAMIZDAT_BACKUP_PASSPHRASE_FILE (the\n"
    "backup's).\n";

enum {
    OPT_OUTPUT = 1,
    OPT_ESCROW,
    OPT_RECOVERY_KEY,
    OPT_KDF,
    OPT_FORCE,
    OPT_REASON,
    OPT_KEY_TO_REVOKE,
    OPT_EFFECTIVE,
    OPT_BACKUP
};

typedef struct key_args_s {
    const char *output;
    const char *escrow;
    const char *recovery_key;
    const char *reason;
    const char *key_to_revoke;
    const char *effective;
    const char *backup;
    int force;
    int kdf_given;
    sz_kdf_limits_t limits;
} key_args_t;

static int key_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    key_args_t *a = ctx;
    switch (id) {
    case OPT_OUTPUT:
        if (arg[0] == '\0')
            return sz_cli_usage_error(cli, "-o needs a file name");
        a->output = arg;
        break;
    case OPT_ESCROW:
        a->escrow = arg;
        break;
    case OPT_RECOVERY_KEY:
        a->recovery_key = arg;
        break;
    case OPT_KDF:
        if (strcmp(arg, "min") == 0 || sz_kdf_limits_named(&a->limits, arg) != 0)
            return sz_cli_usage_error(cli, "--kdf must be interactive, moderate or sensitive");
        a->kdf_given = 1;
        break;
    case OPT_FORCE:
        a->force = 1;
        break;
    case OPT_REASON:
        if (arg[0] == '\0')
            return sz_cli_usage_error(cli, "--reason must not be empty");
        a->reason = arg;
        break;
    case OPT_KEY_TO_REVOKE:
        a->key_to_revoke = arg;
        break;
    case OPT_EFFECTIVE:
        a->effective = arg;
        break;
    case OPT_BACKUP:
        a->backup = arg;
        break;
    }
    return SZ_CLI_GO;
}

static const sz_cli_option_t backup_options[] = {
    {"output", 'o', 1, OPT_OUTPUT},
    {"escrow", 0, 1, OPT_ESCROW},
    {"kdf", 0, 1, OPT_KDF},
    {"force", 0, 0, OPT_FORCE},
    {NULL, 0, 0, 0},
};
static const sz_cli_option_t restore_options[] = {
    {"output", 'o', 1, OPT_OUTPUT},
    {"recovery-key", 0, 1, OPT_RECOVERY_KEY},
    {"kdf", 0, 1, OPT_KDF},
    {NULL, 0, 0, 0},
};
static const sz_cli_option_t revoke_options[] = {
    {"reason", 0, 1, OPT_REASON},
    {"key-to-revoke", 0, 1, OPT_KEY_TO_REVOKE},
    {"effective", 0, 1, OPT_EFFECTIVE},
    {"backup", 0, 1, OPT_BACKUP},
    {NULL, 0, 0, 0},
};

/* Reads a new passphrase (asked twice on a terminal) from env or the terminal; refuses an empty
 * one. Prints why on failure. */
static int new_passphrase(sz_cli_t *cli, const char *env, const char *prompt, char **pass,
                          size_t *len) {
    char why[512];
    int rc = sz_passphrase_read_env(env, prompt, 1, pass, len, why, sizeof(why));
    if (rc != 0)
        return sz_cli_fail(cli, "passphrase: %s", why);
    if (*len == 0) {
        sz_passphrase_free(*pass);
        *pass = NULL;
        return sz_cli_fail(cli, "passphrase: empty passphrase; a key that leaves the machine "
                                "must be protected");
    }
    return SZ_EXIT_OK;
}

/* ---- backup ---------------------------------------------------------------------------------- */

static int key_backup(sz_cli_t *cli, key_args_t *a) {
    uint8_t recovery_pk[32];
    int rc;
    if (a->escrow != NULL &&
        (rc = sz__parse_key_arg(cli, "--escrow", a->escrow, recovery_pk)) != SZ_EXIT_OK)
        return rc;
    if (!a->kdf_given)
        sz_kdf_limits_named(&a->limits, "sensitive");
    uint8_t *sk = NULL;
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        return rc;
    char path[PATH_MAX], pk_text[SZ_PUBKEY_TEXT_LEN + 1], hex[65];
    sz_pubkey_format(pk_text, sk + 32);
    sz_hex_encode(hex, sk + 32, 32);
    if (a->output != NULL)
        snprintf(path, sizeof(path), "%s", a->output);
    else
        snprintf(path, sizeof(path), "samizdat-key-%.8s.backup", hex);
    if (!a->force && access(path, F_OK) == 0) {
        sz_secretkey_free(sk);
        return sz_cli_fail(cli, "%.*s already exists (use --force to replace it)", MAX_PATH_SHOWN,
                           path);
    }
    char *pass = NULL, *text = NULL;
    size_t pass_len = 0;
    rc = new_passphrase(cli, SZ_BACKUP_PASSPHRASE_ENV, "New passphrase for the backup: ", &pass,
                        &pass_len);
    if (rc != SZ_EXIT_OK) {
        sz_secretkey_free(sk);
        return rc;
    }
    rc = sz_keybackup_encode(&text, sk, pass, pass_len, &a->limits,
                             a->escrow != NULL ? recovery_pk : NULL);
    sz_passphrase_free(pass);
    sz_secretkey_free(sk);
    if (rc == SZ_E_KEY && a->escrow != NULL)
        return sz_cli_fail(cli, "--escrow: %.80s is not a valid Ed25519 public key", a->escrow);
    if (rc == SZ_E_CRYPTO)
        return sz_cli_fail(cli, "cannot derive the backup key from the passphrase (Argon2id "
                                "needs up to 1 GiB of memory; try --kdf moderate)");
    if (rc != 0)
        return sz_cli_fail(cli, "cannot make the backup: %s", sz_strerror(rc));
    rc = sz_cli_write_file(path, (const uint8_t *)text, strlen(text), 0600, a->force);
    sz_keyfile_text_free(text);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot write %.*s: %s", MAX_PATH_SHOWN, path, sz_strerror(rc));
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:b}", "public_key", pk_text, "backup_file", path,
                              "escrow", a->escrow != NULL);
        if (o != NULL) {
            sz__dump_json(o);
            json_decref(o);
        }
    } else {
        printf("public key   %s\n", pk_text);
        printf("backup file  %s (mode 0600%s)\n", path,
               a->escrow != NULL ? ", with an escrow copy for the archive's recovery key" : "");
    }
    return SZ_EXIT_OK;
}

/* ---- restore --------------------------------------------------------------------------------- */

/* Loads the recovery secret key file at path (asking its passphrase if it has one). */
static int load_recovery_key(const sz_cli_t *cli, const char *path, uint8_t **sk) {
    sz_cli_t other = *cli;
    other.key_path = path;
    return sz_cli_load_secret_key(&other, sk);
}

/* Opens the backup file at path: with the archive's recovery secret key file when recovery_key is
 * not NULL (escrow), else with the backup's passphrase. On success *sk is a sodium_malloc'd secret
 * key the caller owns (sz_secretkey_free). Prints why on failure. */
static int open_backup(sz_cli_t *cli, const char *backup, const char *recovery_key, uint8_t **out) {
    int rc;
    *out = NULL;
    uint8_t *text = NULL;
    size_t len = 0;
    rc = sz_cli_read_file(backup, SZ_KEYBACKUP_TEXT_MAX, 1, &text, &len);
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli, "%.*s: not a samizdat key backup (larger than %u bytes)",
                           MAX_PATH_SHOWN, backup, SZ_KEYBACKUP_TEXT_MAX);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read %.*s: %s", MAX_PATH_SHOWN, backup, sz_strerror(rc));
    sz_keybackup_info_t info;
    if (sz_keybackup_decode(&info, (const char *)text, len) != 0) {
        sodium_free(text);
        return sz_cli_fail(cli, "%.*s: the backup is corrupted or not a samizdat key backup",
                           MAX_PATH_SHOWN, backup);
    }
    uint8_t *sk = NULL;
    if (recovery_key != NULL) {
        if (!info.has_escrow) {
            sodium_free(text);
            return sz_cli_fail(cli, "%.*s has no escrow copy: restore it with its passphrase",
                               MAX_PATH_SHOWN, backup);
        }
        uint8_t *rsk = NULL;
        if ((rc = load_recovery_key(cli, recovery_key, &rsk)) != SZ_EXIT_OK) {
            sodium_free(text);
            return rc;
        }
        rc = sz_keybackup_restore_escrow(&sk, (const char *)text, len, rsk);
        sz_secretkey_free(rsk);
        sodium_free(text);
        if (rc == SZ_E_KEY)
            return sz_cli_fail(cli,
                               "%.*s: the escrow copy does not open with this recovery key "
                               "(another archive's key, or the backup is damaged)",
                               MAX_PATH_SHOWN, backup);
        if (rc == SZ_E_KEYFILE)
            return sz_cli_fail(cli,
                               "%.*s: the backup is corrupted (its escrow copy is not of its "
                               "key)",
                               MAX_PATH_SHOWN, backup);
        if (rc != 0)
            return sz_cli_fail(cli, "%.*s: %s", MAX_PATH_SHOWN, backup, sz_strerror(rc));
    } else {
        char *pass = NULL, why[512];
        size_t pass_len = 0;
        rc = sz_passphrase_read_env(SZ_BACKUP_PASSPHRASE_ENV, "Passphrase of the backup: ", 0,
                                    &pass, &pass_len, why, sizeof(why));
        if (rc != 0) {
            sodium_free(text);
            return sz_cli_fail(cli, "passphrase: %s", why);
        }
        rc = sz_keybackup_restore(&sk, (const char *)text, len, pass, pass_len);
        sz_passphrase_free(pass);
        sodium_free(text);
        if (rc == SZ_E_PASSPHRASE)
            return sz_cli_fail(cli, "%.*s: wrong backup passphrase (or the backup is damaged)",
                               MAX_PATH_SHOWN, backup);
        if (rc == SZ_E_KEYFILE)
            return sz_cli_fail(cli, "%.*s: the backup is corrupted or not a samizdat key backup",
                               MAX_PATH_SHOWN, backup);
        if (rc == SZ_E_CRYPTO)
            return sz_cli_fail(cli,
                               "%.*s: cannot derive the key from the passphrase (not enough "
                               "memory for Argon2id? a backup may need 1 GiB)",
                               MAX_PATH_SHOWN, backup);
        if (rc != 0)
            return sz_cli_fail(cli, "%.*s: %s", MAX_PATH_SHOWN, backup, sz_strerror(rc));
    }
    if (sk == NULL)
        return sz_cli_fail(cli, "%.*s: no key was restored (this is a bug)", MAX_PATH_SHOWN,
                           backup);
    *out = sk;
    return SZ_EXIT_OK;
}

static int key_restore(sz_cli_t *cli, key_args_t *a, const char *backup) {
    char path[PATH_MAX], pub_path[PATH_MAX + 8];
    int rc, is_default = 0;
    if (a->output != NULL) {
        snprintf(path, sizeof(path), "%s", a->output);
    } else {
        rc = sz_cli_key_path(cli, path, sizeof(path), &is_default);
        if (rc != 0)
            return sz_cli_fail(cli, "no home directory to put the key in: use -o KEYFILE");
    }
    snprintf(pub_path, sizeof(pub_path), "%s.pub", path);
    /* Checked before any passphrase is asked, and the write refuses to replace again. */
    if (access(path, F_OK) == 0)
        return sz_cli_fail(cli, "%.*s already exists; restore never replaces a key (use -o NEW)",
                           MAX_PATH_SHOWN, path);
    if (access(pub_path, F_OK) == 0)
        return sz_cli_fail(cli, "%.*s already exists; restore never replaces a key (use -o NEW)",
                           MAX_PATH_SHOWN, pub_path);
    if (!a->kdf_given)
        sz_kdf_limits_named(&a->limits, "moderate");

    uint8_t *sk = NULL;
    if ((rc = open_backup(cli, backup, a->recovery_key, &sk)) != SZ_EXIT_OK || sk == NULL)
        return rc != SZ_EXIT_OK ? rc : SZ_EXIT_FAIL;
    char *pass = NULL, *keytext = NULL;
    size_t pass_len = 0;
    rc = new_passphrase(cli, SZ_PASSPHRASE_ENV, "New passphrase for the restored key file: ", &pass,
                        &pass_len);
    if (rc != SZ_EXIT_OK) {
        sz_secretkey_free(sk);
        return rc;
    }
    rc = sz_keyfile_encode(&keytext, sk, pass, pass_len, &a->limits);
    sz_passphrase_free(pass);
    uint8_t pk[32];
    memcpy(pk, sk + 32, 32);
    sz_secretkey_free(sk);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot protect the restored key: %s", sz_strerror(rc));
    if (is_default && (rc = sz_cli_make_parent_dirs(path)) != 0) {
        sz_keyfile_text_free(keytext);
        return sz_cli_fail(cli, "cannot create the directory for %.*s: %s", MAX_PATH_SHOWN, path,
                           sz_strerror(rc));
    }
    rc = sz_cli_write_file(path, (const uint8_t *)keytext, strlen(keytext), 0600, 0);
    sz_keyfile_text_free(keytext);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot write %.*s: %s", MAX_PATH_SHOWN, path, sz_strerror(rc));
    char pub[SZ_PUBFILE_TEXT_LEN + 1];
    sz_pubfile_format(pub, pk);
    rc = sz_cli_write_file(pub_path, (const uint8_t *)pub, strlen(pub), 0644, 0);
    if (rc != 0) {
        unlink(path);
        return sz_cli_fail(cli, "cannot write %.*s: %s", MAX_PATH_SHOWN, pub_path, sz_strerror(rc));
    }
    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, pk);
    if (cli->json) {
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:b}", "public_key", pk_text, "secret_key_file", path,
                      "public_key_file", pub_path, "from_escrow", a->recovery_key != NULL);
        if (o != NULL) {
            sz__dump_json(o);
            json_decref(o);
        }
    } else {
        printf("public key       %s\n", pk_text);
        printf("secret key file  %s (protected by a passphrase)\n", path);
        printf("public key file  %s\n", pub_path);
    }
    return SZ_EXIT_OK;
}

/* ---- revoke ---------------------------------------------------------------------------------- */

static int key_revoke(sz_cli_t *cli, key_args_t *a) {
    uint8_t target[32];
    int rc;
    if (a->key_to_revoke != NULL &&
        (rc = sz__parse_key_arg(cli, "--key-to-revoke", a->key_to_revoke, target)) != SZ_EXIT_OK)
        return rc;
    uint8_t *sk = NULL;
    /* After a laptop is stolen the key file is gone with it: the backup signs instead. */
    if (a->backup != NULL)
        rc = open_backup(cli, a->backup, NULL, &sk);
    else
        rc = sz_cli_load_secret_key(cli, &sk);
    if (rc != SZ_EXIT_OK || sk == NULL)
        return rc != SZ_EXIT_OK ? rc : SZ_EXIT_FAIL;
    if (a->key_to_revoke == NULL)
        memcpy(target, sk + 32, 32);
    char target_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(target_text, target);
    json_t *o = json_object();
    json_object_set_new(o, "key", json_string(target_text));
    json_t *reason = json_string(a->reason != NULL ? a->reason : "compromised");
    json_t *eff = a->effective != NULL ? json_string(a->effective) : NULL;
    if (reason == NULL || (a->effective != NULL && eff == NULL)) {
        json_decref(reason);
        json_decref(o);
        sz_secretkey_free(sk);
        return sz_cli_usage_error(cli, "--reason and --effective must be UTF-8 text");
    }
    json_object_set_new(o, "reason", reason);
    if (eff != NULL)
        json_object_set_new(o, "effective", eff);
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (body == NULL) {
        sz_secretkey_free(sk);
        return sz_cli_fail(cli, "out of memory");
    }
    size_t len = strlen(body);
    sz_schema_error_t serr;
    memset(&serr, 0, sizeof(serr));
    rc = sz_schema_validate(SZ_KIND_REVOCATION, (const uint8_t *)body, len, &serr);
    if (rc != 0) {
        free(body);
        sz_secretkey_free(sk);
        return sz_cli_fail(cli,
                           "the revocation does not match its schema: %s (--effective must be "
                           "an EDTF date, --reason at most 2000 characters); nothing was sent",
                           serr.message[0] ? serr.message : sz_strerror(rc));
    }
    sz_net_t *net = NULL;
    sz_msg_submitted_t ack = {0};
    if ((rc = sz__node_connect(cli, sk, &net)) == SZ_EXIT_OK)
        rc = sz__node_sign_submit(cli, net, SZ_KIND_REVOCATION, (const uint8_t *)body, len, sk,
                                  &ack);
    int self = sodium_memcmp(target, sk + 32, 32) == 0;
    free(body);
    sz_secretkey_free(sk);
    sz_net_close(net);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (cli->json) {
        json_t *j = json_object();
        json_object_set_new(j, "revocation", sz__hex_json(ack.record_id));
        json_object_set_new(j, "key", json_string(target_text));
        json_object_set_new(j, "self", json_boolean(self));
        sz__dump_json(j);
        json_decref(j);
    } else {
        char hex[65];
        sz_hex_encode(hex, ack.record_id, 32);
        printf("%s\n", hex);
        fprintf(stderr,
                "samizdat: note: key %s is revoked on nodes that accept this record; make a new "
                "key with 'samizdat keygen'\n",
                target_text);
    }
    return SZ_EXIT_OK;
}

/* ---- show ------------------------------------------------------------------------------------ */

static int key_show(sz_cli_t *cli) {
    char path[PATH_MAX];
    int is_default = 0;
    int rc = sz_cli_key_path(cli, path, sizeof(path), &is_default);
    if (rc != 0)
        return sz_cli_fail(cli, "no key given and no home directory to look in: use --key FILE");
    uint8_t *text = NULL;
    size_t len = 0;
    rc = sz_cli_read_file(path, SZ_KEYFILE_TEXT_MAX, 1, &text, &len);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read key %.*s: %s", MAX_PATH_SHOWN, path,
                           rc == SZ_E_TOO_LARGE ? "not a samizdat secret key" : sz_strerror(rc));
    sz_keyfile_info_t info;
    /* The public key is in clear in the key file: no passphrase is needed to show it. */
    rc = sz_keyfile_inspect(&info, (const char *)text, len);
    sodium_free(text);
    if (rc != 0)
        return sz_cli_fail(cli, "%.*s: key file is corrupted or not a samizdat secret key",
                           MAX_PATH_SHOWN, path);
    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, info.public_key);
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:b}", "public_key", pk_text, "secret_key_file", path,
                              "protected", info.kdf != SZ_KEYFILE_KDF_NONE);
        if (o != NULL) {
            sz__dump_json(o);
            json_decref(o);
        }
    } else {
        printf("%s\n", pk_text);
    }
    return SZ_EXIT_OK;
}

int sz_cmd_key(sz_cli_t *cli, int argc, char **argv) {
    if (argc < 2)
        return sz_cli_usage_error(cli, "missing subcommand: backup, restore, revoke or show");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(sz_usage_key, stdout);
        return SZ_EXIT_OK;
    }
    key_args_t a;
    memset(&a, 0, sizeof(a));
    const sz_cli_option_t *opts = NULL;
    int nwant = 0;
    if (strcmp(sub, "backup") == 0) {
        opts = backup_options;
    } else if (strcmp(sub, "restore") == 0) {
        opts = restore_options;
        nwant = 1;
    } else if (strcmp(sub, "revoke") == 0) {
        opts = revoke_options;
    } else if (strcmp(sub, "show") != 0) {
        return sz_cli_usage_error(cli,
                                  "unknown subcommand '%.40s' (backup, restore, revoke or show "
                                  "come first)",
                                  sub);
    }
    int nop = 0;
    int rc = sz_cli_parse(cli, argc - 1, argv + 1, opts, opts ? key_option : NULL, &a, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != nwant)
        return sz_cli_usage_error(
            cli, nwant ? "key restore needs one BACKUP file" : "unexpected argument '%.64s'",
            argv[2]);
    if (strcmp(sub, "backup") == 0)
        return key_backup(cli, &a);
    if (strcmp(sub, "restore") == 0)
        return key_restore(cli, &a, argv[2]);
    if (strcmp(sub, "revoke") == 0)
        return key_revoke(cli, &a);
    return key_show(cli);
}
