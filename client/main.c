/* samizdat: the command-line client. This file holds the command table and the dispatcher; each
 * command lives in client/cmd_<group>.c and shares client/cli.h. To add a command, write its
 * handler and usage text, declare them in client/commands.h and add one row below. */
#include "cli.h"
#include "commands.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static const sz_cli_command_t commands[] = {
    {"keygen", sz_cmd_keygen, "create a signing key pair", sz_usage_keygen},
    {"sign", sz_cmd_sign, "sign a testimony or case body into a record file (offline)",
     sz_usage_sign},
    {"verify", sz_cmd_verify, "check a record file: structure, signature and schema",
     sz_usage_verify},
    {"show", sz_cmd_show, "verify a record file and print its contents", sz_usage_show},
    {"submit", sz_cmd_submit, "sign a testimony or case and send it to the node", sz_usage_submit},
    {"amend", sz_cmd_amend, "add a new version to a record on the node", sz_usage_amend},
    {"get", sz_cmd_get, "fetch a record from the node and verify it", sz_usage_get},
    {"history", sz_cmd_history, "list every version of a record", sz_usage_history},
    {"list", sz_cmd_list, "list records, with filters", sz_usage_list},
    {"search", sz_cmd_search, "full-text search of the node's records", sz_usage_search},
    {"retract", sz_cmd_retract, "withdraw versions of a record (author or editor)",
     sz_usage_retract},
    {"redact", sz_cmd_redact, "new version with fields removed, earlier versions retracted",
     sz_usage_redact},
    {"key", sz_cmd_key, "key backup, restore, revoke and show", sz_usage_key},
    {"status", sz_cmd_status, "the node's key, version, counts, peers and tree head",
     sz_usage_status},
    {"audit", sz_cmd_audit, "audit a mirror: tree heads, consistency, possession", sz_usage_audit},
    {"peer", sz_cmd_peer, "add, list or remove the node's mirror peers (admin)", sz_usage_peer},
    {"sync", sz_cmd_sync, "sync the node with one or every peer now (admin)", sz_usage_sync},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_help(FILE *f) {
    /* Only ever printed on request, so to stdout; errors stay one line on stderr. */
    fprintf(f, "usage: samizdat [--node NODE] [--key FILE] [--json] <command> [options] [args]\n"
               "       samizdat <command> --help | samizdat --help | samizdat --version\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n"
               "Global options (before or after the command):\n"
               "  --key FILE   secret key file (default $SAMIZDAT_KEY, then\n"
               "               ~/.config/samizdat/secret.key)\n"
               "  --node NODE  the node to talk to (default $SAMIZDAT_NODE): an invite\n"
               "               (sz1,HOST:PORT,NODEKEY,NETKEY), which pins the node's key, or\n"
               "               HOST:PORT, which takes the network key from\n"
               "               $SAMIZDAT_NETWORK_KEY_FILE or ~/.config/samizdat/network.key and\n"
               "               does NOT pin the node's key\n"
               "  --json       print results as JSON\n"
               "  -h, --help   show help\n"
               "\n"
               "Environment: SAMIZDAT_NODE, SAMIZDAT_KEY, SAMIZDAT_NETWORK_KEY_FILE,\n"
               "SAMIZDAT_TIMEOUT_MS (network wait, default 10000), SAMIZDAT_PASSPHRASE_FILE (a\n"
               "file whose first line is the passphrase, for scripts), XDG_CONFIG_HOME.\n"
               "Exit status: 0 success, 1 failure (reason on stderr), 2 usage error.\n");
}

static const sz_cli_command_t *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (sodium_init() < 0) {
        fprintf(stderr, "samizdat: cannot initialise libsodium\n");
        return SZ_EXIT_FAIL;
    }
    sz_cli_t cli = {0};
    /* Global options may precede the command; the command's own parser accepts them later too. */
    int i = 1;
    int rc = sz_cli_parse_globals(&cli, argc, argv, &i);
    if (rc != SZ_CLI_GO)
        return rc;
    if (i < argc && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
        print_help(stdout);
        return SZ_EXIT_OK;
    }
    if (i < argc && strcmp(argv[i], "--version") == 0) {
        printf("samizdat %s\n", SZ_CLIENT_VERSION);
        return SZ_EXIT_OK;
    }
    if (i >= argc)
        return sz_cli_usage_error(&cli, "missing command");
    if (strcmp(argv[i], "help") == 0) {
        const sz_cli_command_t *c = i + 1 < argc ? find_command(argv[i + 1]) : NULL;
        if (c != NULL)
            fputs(c->usage, stdout);
        else
            print_help(stdout);
        return SZ_EXIT_OK;
    }
    const sz_cli_command_t *c = find_command(argv[i]);
    if (c == NULL)
        return sz_cli_usage_error(&cli, "unknown command '%.64s'", argv[i]);
    cli.command = c;
    rc = c->run(&cli, argc - i, argv + i);
    if (fflush(stdout) != 0 && rc == SZ_EXIT_OK)
        rc = sz_cli_fail(&cli, "cannot write the output");
    return rc;
}
