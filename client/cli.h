/* Shared machinery of the samizdat command line: the command table type, option parsing, the one
 * way errors are printed, bounded file reading, atomic file writing and loading the signing key.
 *
 * Every command is a function sz_cli_cmd_fn in a client/cmd_<group>.c file, listed once in the
 * table in client/main.c. A command returns its exit status: SZ_EXIT_OK, SZ_EXIT_FAIL after
 * printing exactly one line "samizdat: <command>: <what failed>: <why>" to stderr, or
 * SZ_EXIT_USAGE after printing a usage error. Only main() calls exit(). */
#ifndef SZ_CLI_H
#define SZ_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define SZ_CLIENT_VERSION "0.1.0"

#define SZ_EXIT_OK 0
#define SZ_EXIT_FAIL 1
#define SZ_EXIT_USAGE 2

typedef struct sz_cli_s sz_cli_t;
typedef struct sz_cli_command_s sz_cli_command_t;

/* A command handler. argv[0] is the command name and the options and operands follow; argv is
 * borrowed and may be reordered. Returns the process exit status. */
typedef int (*sz_cli_cmd_fn)(sz_cli_t *cli, int argc, char **argv);

struct sz_cli_command_s {
    const char *name;
    sz_cli_cmd_fn run;
    const char *summary; /* one line for `samizdat --help` */
    const char *usage;   /* the full text for `samizdat <name> --help`, ending in a newline */
};

/* State shared by all commands: the global options and the command being run. */
struct sz_cli_s {
    const sz_cli_command_t *command; /* NULL before dispatch */
    const char *key_path;            /* --key FILE, or NULL */
    const char *node;                /* --node HOST:PORT|INVITE, or NULL (then $SAMIZDAT_NODE) */
    int json;                        /* --json */
};

/* A command's option. Global options (--key FILE, --node NODE, --json, --help/-h) are known to
 * every command and need not be listed. */
typedef struct sz_cli_option_s {
    const char *name; /* long name without the dashes */
    char short_name;  /* single-letter form, or 0 */
    int takes_arg;    /* 1 if the option needs a value (--name VALUE, --name=VALUE, -n VALUE) */
    int id;           /* passed to the callback; >= 0 (negative ids are the global options) */
} sz_cli_option_t;

/* Called for each command option found; arg is NULL for a flag. Returns SZ_CLI_GO to continue or
 * an exit status (after printing the reason, e.g. with sz_cli_usage_error). */
typedef int (*sz_cli_option_cb)(sz_cli_t *cli, void *ctx, int id, const char *arg);

#define SZ_CLI_GO (-1)

/* Parses the options of a command: argv[1..argc) (argv[0] is the command name). Options may come
 * before, between or after operands; "--" ends options. Global options update cli. Operands are
 * moved to argv[1..1+*noperands) in their order. Returns SZ_CLI_GO to continue, SZ_EXIT_OK after
 * printing the command's usage for --help, or SZ_EXIT_USAGE after printing a usage error.
 * opts may be NULL when the command has none (then cb may be NULL too). */
int sz_cli_parse(sz_cli_t *cli, int argc, char **argv, const sz_cli_option_t *opts,
                 sz_cli_option_cb cb, void *ctx, int *noperands);

/* Parses the global options that precede the command name, argv[1..). Stops at the first operand,
 * or at --help, -h or --version (left for the caller), and sets *next to its index (argc if
 * none). Returns SZ_CLI_GO, or SZ_EXIT_USAGE after printing a usage error. */
int sz_cli_parse_globals(sz_cli_t *cli, int argc, char **argv, int *next);

/* Prints "samizdat: <command>: <message>" and a newline to stderr as one line: control characters
 * in the message (which may contain file names or text from a file) are replaced with '?' and the
 * line is capped. Returns SZ_EXIT_FAIL. */
int sz_cli_fail(const sz_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like sz_cli_fail, adding a pointer to the command's --help, and returns SZ_EXIT_USAGE. */
int sz_cli_usage_error(const sz_cli_t *cli, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints a warning line "samizdat: warning: <message>" to stderr. */
void sz_cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads the whole file at path (borrowed) if it holds at most cap bytes. On success *out is a
 * buffer of *len bytes followed by a NUL, owned by the caller: free() it, or, when secret is
 * non-zero, it is sodium_malloc'd and must be released with sodium_free() (which wipes it).
 * Returns 0, a negative errno, or SZ_E_TOO_LARGE. */
int sz_cli_read_file(const char *path, size_t cap, int secret, uint8_t **out, size_t *len);

/* Writes len bytes of data (borrowed) to path atomically: a temporary file in the same directory,
 * fsync, then rename. The file gets exactly mode. Unless overwrite is set an existing path is left
 * alone and SZ_E_EXISTS returned. On any error nothing is left behind. Returns 0, SZ_E_EXISTS or a
 * negative errno. */
int sz_cli_write_file(const char *path, const uint8_t *data, size_t len, mode_t mode,
                      int overwrite);

/* Creates the directories leading to path (not path itself), each new one with mode 0700.
 * Returns 0 or a negative errno. */
int sz_cli_make_parent_dirs(const char *path);

/* Resolves the secret key path: --key, else $SAMIZDAT_KEY, else the default
 * $XDG_CONFIG_HOME/samizdat/secret.key (~/.config/samizdat/secret.key). Writes it to buf (borrowed,
 * cap bytes); *is_default tells whether it is the default. Returns 0, or SZ_E_CONFIG when no home
 * directory is known, or -ENAMETOOLONG. */
int sz_cli_key_path(const sz_cli_t *cli, char *buf, size_t cap, int *is_default);

/* Loads the signing key named by sz_cli_key_path: reads the key file and asks for the passphrase
 * (terminal or SAMIZDAT_PASSPHRASE_FILE) only if the file is protected. On success *sk is a
 * sodium_malloc'd 64-byte secret key the caller owns (sz_secretkey_free()). On failure prints the
 * reason and returns SZ_EXIT_FAIL. */
int sz_cli_load_secret_key(const sz_cli_t *cli, uint8_t **sk);

/* Writes len bytes of text (borrowed) to f for people to read: newlines and tabs pass through,
 * other control characters, DEL and C1 controls (which a terminal could obey) are shown as
 * \u escapes. */
void sz_cli_print_safe(FILE *f, const char *text, size_t len);

/* Formats created (milliseconds since the epoch) as ISO 8601 UTC with milliseconds,
 * "2026-11-21T10:39:08.123Z", into out (borrowed, at least 32 bytes). Falls back to the number of
 * milliseconds when the year cannot be represented. */
void sz_cli_format_time(char *out, size_t cap, uint64_t created_ms);

#endif
