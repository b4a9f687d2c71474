/* samizdat keygen: create a signing key pair. */
#include "commands.h"

#include "encoding.h"
#include "error.h"
#include "keyfile.h"
#include "passphrase.h"

#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

const char sz_usage_keygen[] =
    "usage: samizdat keygen [-o FILE] [--no-passphrase] [--force] [--kdf LEVEL] [--json]\n"
    "\n"
    "Creates a new Ed25519 signing key. The secret key is written to FILE (mode 0600) and the\n"
    "public key to FILE.pub. FILE defaults to --key FILE, then $SAMIZDAT_KEY, then\n"
    "$XDG_CONFIG_HOME/samizdat/secret.key (~/.config/samizdat/secret.key), whose directory is\n"
    "created with mode 0700.\n"
    "\n"
    "The secret key is protected by a passphrase, asked twice on the terminal (or read from the\n"
    "first line of the file named by $SAMIZDAT_PASSPHRASE_FILE) and stretched with Argon2id.\n"
    "\n"
    "  -o, --output FILE   where to write the secret key\n"
    "  --no-passphrase     store the key UNPROTECTED: anyone who can read FILE can sign as you\n"
    "  --force             replace existing FILE and FILE.pub (the old key is lost)\n"
    "  --kdf LEVEL         Argon2id cost: interactive, moderate (default) or sensitive\n"
    "  --json              print the result as JSON\n";

enum { OPT_OUTPUT, OPT_NO_PASS, OPT_FORCE, OPT_KDF };
static const sz_cli_option_t keygen_options[] = {
    {"output", 'o', 1, OPT_OUTPUT},
    {"no-passphrase", 0, 0, OPT_NO_PASS},
    {"force", 0, 0, OPT_FORCE},
    {"kdf", 0, 1, OPT_KDF},
    {NULL, 0, 0, 0},
};

typedef struct keygen_args_s {
    const char *output;
    int no_pass;
    int force;
    sz_kdf_limits_t limits;
} keygen_args_t;

static int on_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    keygen_args_t *a = ctx;
    switch (id) {
    case OPT_OUTPUT:
        a->output = arg;
        break;
    case OPT_NO_PASS:
        a->no_pass = 1;
        break;
    case OPT_FORCE:
        a->force = 1;
        break;
    case OPT_KDF:
        /* "min" exists for tests of the library only; people get the three real levels. */
        if (strcmp(arg, "min") == 0 || sz_kdf_limits_named(&a->limits, arg) != 0)
            return sz_cli_usage_error(cli, "--kdf must be interactive, moderate or sensitive");
        break;
    }
    return SZ_CLI_GO;
}

int sz_cmd_keygen(sz_cli_t *cli, int argc, char **argv) {
    keygen_args_t a = {0};
    sz_kdf_limits_named(&a.limits, "moderate");
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, keygen_options, on_option, &a, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 0)
        return sz_cli_usage_error(cli, "unexpected argument '%.64s'", argv[1]);

    char path[PATH_MAX], pub_path[PATH_MAX + 8];
    int is_default = 0;
    if (a.output != NULL) {
        if (strlen(a.output) >= sizeof(path) || a.output[0] == '\0')
            return sz_cli_usage_error(cli, "-o needs a file name");
        memcpy(path, a.output, strlen(a.output) + 1);
    } else {
        rc = sz_cli_key_path(cli, path, sizeof(path), &is_default);
        if (rc == SZ_E_CONFIG)
            return sz_cli_fail(cli, "no home directory to put the key in: use -o FILE");
        if (rc != 0)
            return sz_cli_fail(cli, "key path: %s", sz_strerror(rc));
    }
    snprintf(pub_path, sizeof(pub_path), "%s.pub", path);
    if (!a.force) {
        if (access(path, F_OK) == 0)
            return sz_cli_fail(cli,
                               "%.200s already exists (use --force to replace it; the key "
                               "in it would be lost)",
                               path);
        if (access(pub_path, F_OK) == 0)
            return sz_cli_fail(cli, "%.200s already exists (use --force to replace it)", pub_path);
    }
    if (is_default && (rc = sz_cli_make_parent_dirs(path)) != 0)
        return sz_cli_fail(cli, "cannot create the directory for %.200s: %s", path,
                           sz_strerror(rc));

    char *pass = NULL;
    size_t pass_len = 0;
    if (!a.no_pass) {
        char why[512];
        rc = sz_passphrase_read("New passphrase for the secret key: ", 1, &pass, &pass_len, why,
                                sizeof(why));
        if (rc != 0)
            return sz_cli_fail(cli, "passphrase: %s", why);
        if (pass_len == 0) {
            sz_passphrase_free(pass);
            return sz_cli_fail(cli, "passphrase: empty passphrase (use --no-passphrase for an "
                                    "unprotected key)");
        }
    }

    uint8_t *sk = NULL;
    char *text = NULL;
    rc = sz_secretkey_generate(&sk);
    if (rc == 0)
        rc = sz_keyfile_encode(&text, sk, pass, pass_len, &a.limits);
    sz_passphrase_free(pass);
    if (rc != 0) {
        sz_secretkey_free(sk);
        return sz_cli_fail(cli, "cannot create the key: %s", sz_strerror(rc));
    }
    uint8_t pk[32];
    memcpy(pk, sk + 32, 32);
    sz_secretkey_free(sk);

    rc = sz_cli_write_file(path, (const uint8_t *)text, strlen(text), 0600, a.force);
    sz_keyfile_text_free(text);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot write %.200s: %s", path, sz_strerror(rc));
    char pub[SZ_PUBFILE_TEXT_LEN + 1];
    sz_pubfile_format(pub, pk);
    rc = sz_cli_write_file(pub_path, (const uint8_t *)pub, strlen(pub), 0644, a.force);
    if (rc != 0) {
        /* Half a key pair is worse than none: take the secret key back out. */
        unlink(path);
        return sz_cli_fail(cli, "cannot write %.200s: %s", pub_path, sz_strerror(rc));
    }

    char pk_text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pk_text, pk);
    if (a.no_pass)
        sz_cli_warn("%.200s is not protected by a passphrase: anyone who can read it can sign "
                    "as you",
                    path);
    if (cli->json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "public_key", pk_text, "secret_key_file",
                              path, "public_key_file", pub_path, "protected", !a.no_pass);
        if (o == NULL)
            return sz_cli_fail(cli, "cannot format the output (invalid UTF-8 in a file name?)");
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("public key       %s\n", pk_text);
        printf("secret key file  %s (%s)\n", path,
               a.no_pass ? "UNPROTECTED" : "protected by a passphrase");
        printf("public key file  %s\n", pub_path);
    }
    return SZ_EXIT_OK;
}
