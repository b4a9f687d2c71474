#include "cli.h"

#include "error.h"
#include "keyfile.h"
#include "passphrase.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 1024

/* Global options, understood by every command, before or after its name. To add one (such as
 * --node), give it an id here, a row in the table and a case in apply_global(). */
enum { GLOBAL_KEY = -100, GLOBAL_JSON, GLOBAL_HELP, GLOBAL_NODE };
static const sz_cli_option_t global_options[] = {
    {"key", 0, 1, GLOBAL_KEY},
    {"node", 0, 1, GLOBAL_NODE},
    {"json", 0, 0, GLOBAL_JSON},
    {"help", 'h', 0, GLOBAL_HELP},
    {NULL, 0, 0, 0},
};

static const char *command_name(const sz_cli_t *cli) {
    return cli->command != NULL ? cli->command->name : NULL;
}

/* Formats the message and prints it as one sanitised line with the command name in front. */
static void print_line(const sz_cli_t *cli, const char *tail, const char *fmt, va_list ap) {
    char msg[LINE_MAX_LEN];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    const char *name = cli != NULL ? command_name(cli) : NULL;
    if (name != NULL)
        fprintf(stderr, "samizdat: %s: %s%s\n", name, msg, tail);
    else
        fprintf(stderr, "samizdat: %s%s\n", msg, tail);
}

int sz_cli_fail(const sz_cli_t *cli, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    print_line(cli, "", fmt, ap);
    va_end(ap);
    return SZ_EXIT_FAIL;
}

int sz_cli_usage_error(const sz_cli_t *cli, const char *fmt, ...) {
    char tail[96];
    const char *name = command_name(cli);
    if (name != NULL)
        snprintf(tail, sizeof(tail), " (see 'samizdat %s --help')", name);
    else
        snprintf(tail, sizeof(tail), " (see 'samizdat --help')");
    va_list ap;
    va_start(ap, fmt);
    print_line(cli, tail, fmt, ap);
    va_end(ap);
    return SZ_EXIT_USAGE;
}

void sz_cli_warn(const char *fmt, ...) {
    char msg[LINE_MAX_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    fprintf(stderr, "samizdat: warning: %s\n", msg);
}

static const sz_cli_option_t *find_long(const sz_cli_option_t *opts, const char *name, size_t len) {
    for (const sz_cli_option_t *o = opts; o != NULL && o->name != NULL; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static const sz_cli_option_t *find_short(const sz_cli_option_t *opts, char c) {
    for (const sz_cli_option_t *o = opts; o != NULL && o->name != NULL; o++)
        if (o->short_name == c)
            return o;
    return NULL;
}

/* Applies one global option; returns SZ_CLI_GO or an exit status. */
static int apply_global(sz_cli_t *cli, const sz_cli_option_t *o, const char *arg) {
    switch (o->id) {
    case GLOBAL_KEY:
        cli->key_path = arg;
        return SZ_CLI_GO;
    case GLOBAL_JSON:
        cli->json = 1;
        return SZ_CLI_GO;
    case GLOBAL_NODE:
        cli->node = arg;
        return SZ_CLI_GO;
    default:
        return SZ_EXIT_USAGE;
    }
}

int sz_cli_parse_globals(sz_cli_t *cli, int argc, char **argv, int *next) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "--version") == 0)
            break;
        if (a[1] != '-')
            return sz_cli_usage_error(cli, "unknown option %.64s", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const sz_cli_option_t *o = find_long(global_options, name, len);
        if (o == NULL || o->id == GLOBAL_HELP)
            return sz_cli_usage_error(cli, "unknown option --%.*s", (int)len, name);
        const char *arg = NULL;
        if (eq != NULL && !o->takes_arg)
            return sz_cli_usage_error(cli, "option --%s takes no value", o->name);
        if (o->takes_arg) {
            if (eq != NULL)
                arg = eq + 1;
            else if (i + 1 < argc)
                arg = argv[++i];
            else
                return sz_cli_usage_error(cli, "option --%s needs a value", o->name);
        }
        int rc = apply_global(cli, o, arg);
        if (rc != SZ_CLI_GO)
            return rc;
    }
    *next = i;
    return SZ_CLI_GO;
}

int sz_cli_parse(sz_cli_t *cli, int argc, char **argv, const sz_cli_option_t *opts,
                 sz_cli_option_cb cb, void *ctx, int *noperands) {
    int nop = 0;
    int only_operands = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_operands || a[0] != '-' || a[1] == '\0') {
            argv[1 + nop++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_operands = 1;
            continue;
        }
        const sz_cli_option_t *o = NULL;
        const char *inline_arg = NULL;
        if (a[1] == '-') {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
            o = find_long(opts, name, len);
            if (o == NULL)
                o = find_long(global_options, name, len);
            if (o == NULL)
                return sz_cli_usage_error(cli, "unknown option --%.*s", (int)len, name);
            if (eq != NULL) {
                if (!o->takes_arg)
                    return sz_cli_usage_error(cli, "option --%s takes no value", o->name);
                inline_arg = eq + 1;
            }
        } else {
            if (a[2] != '\0')
                return sz_cli_usage_error(cli, "unknown option %.64s", a);
            o = find_short(opts, a[1]);
            if (o == NULL)
                o = find_short(global_options, a[1]);
            if (o == NULL)
                return sz_cli_usage_error(cli, "unknown option %.64s", a);
        }
        const char *arg = inline_arg;
        if (o->takes_arg && arg == NULL) {
            if (i + 1 >= argc)
                return sz_cli_usage_error(cli, "option --%s needs a value", o->name);
            arg = argv[++i];
        }
        int rc;
        if (o->id == GLOBAL_HELP) {
            if (cli->command != NULL)
                fputs(cli->command->usage, stdout);
            return SZ_EXIT_OK;
        }
        rc = o->id < 0 ? apply_global(cli, o, arg) : cb(cli, ctx, o->id, arg);
        if (rc != SZ_CLI_GO)
            return rc;
    }
    *noperands = nop;
    return SZ_CLI_GO;
}

int sz_cli_read_file(const char *path, size_t cap, int secret, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return -EISDIR;
    }
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > cap) {
        close(fd);
        return SZ_E_TOO_LARGE;
    }
    /* One byte past the cap detects a file that grew or a pipe that is too long; one more for
     * the NUL. */
    size_t alloc = cap + 2;
    uint8_t *buf = secret ? sodium_malloc(alloc) : malloc(alloc);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    int rc = 0;
    while (n <= cap) {
        ssize_t r = read(fd, buf + n, cap + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc == 0 && n > cap)
        rc = SZ_E_TOO_LARGE;
    if (rc != 0) {
        if (secret)
            sodium_free(buf);
        else
            free(buf);
        return rc;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

static int write_all(int fd, const uint8_t *data, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

int sz_cli_write_file(const char *path, const uint8_t *data, size_t len, mode_t mode,
                      int overwrite) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    if (!overwrite && access(path, F_OK) == 0)
        return SZ_E_EXISTS;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -errno;
    int rc = write_all(fd, data, len);
    if (rc == 0 && fchmod(fd, mode) != 0)
        rc = -errno;
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0) {
        if (overwrite) {
            if (rename(tmp, path) != 0)
                rc = -errno;
        } else if (link(tmp, path) != 0) {
            /* link() refuses to replace an existing file, closing the race with the access()
             * check above. Filesystems without hard links fall back to rename. */
            if (errno == EEXIST)
                rc = SZ_E_EXISTS;
            else if (access(path, F_OK) == 0)
                rc = SZ_E_EXISTS;
            else if (rename(tmp, path) != 0)
                rc = -errno;
        }
    }
    unlink(tmp);
    return rc;
}

int sz_cli_make_parent_dirs(const char *path) {
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    char *slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return 0;
    *slash = '\0';
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -errno;
        if (saved == '\0')
            break;
        *p = saved;
    }
    struct stat st;
    if (stat(buf, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int sz_cli_key_path(const sz_cli_t *cli, char *buf, size_t cap, int *is_default) {
    *is_default = 0;
    const char *p = cli->key_path;
    if (p == NULL || p[0] == '\0')
        p = getenv("SAMIZDAT_KEY");
    if (p != NULL && p[0] != '\0') {
        if (strlen(p) >= cap)
            return -ENAMETOOLONG;
        memcpy(buf, p, strlen(p) + 1);
        return 0;
    }
    *is_default = 1;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    /* The XDG spec says relative values are to be ignored. */
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/samizdat/secret.key", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(buf, cap, "%s/.config/samizdat/secret.key", home);
    else
        return SZ_E_CONFIG;
    return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

int sz_cli_load_secret_key(const sz_cli_t *cli, uint8_t **sk) {
    *sk = NULL;
    char path[PATH_MAX];
    int is_default = 0;
    int rc = sz_cli_key_path(cli, path, sizeof(path), &is_default);
    if (rc == SZ_E_CONFIG)
        return sz_cli_fail(cli, "no key given and no home directory to look in: use --key FILE "
                                "or set SAMIZDAT_KEY");
    if (rc != 0)
        return sz_cli_fail(cli, "key path: %s", sz_strerror(rc));
    uint8_t *text = NULL;
    size_t len = 0;
    rc = sz_cli_read_file(path, SZ_KEYFILE_TEXT_MAX, 1, &text, &len);
    if (rc == -ENOENT)
        return sz_cli_fail(cli,
                           "cannot read key %.200s: no such file (create one with "
                           "'samizdat keygen' or name one with --key FILE)",
                           path);
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli, "%.200s: not a samizdat secret key (larger than %u bytes)", path,
                           SZ_KEYFILE_TEXT_MAX);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read key %.200s: %s", path, sz_strerror(rc));

    sz_keyfile_info_t info;
    rc = sz_keyfile_inspect(&info, (const char *)text, len);
    if (rc != 0) {
        sodium_free(text);
        return sz_cli_fail(cli,
                           "%.200s: key file is corrupted or not a samizdat secret key "
                           "(was a public key given?)",
                           path);
    }
    char *pass = NULL;
    size_t pass_len = 0;
    if (info.kdf != SZ_KEYFILE_KDF_NONE) {
        char why[512], prompt[PATH_MAX + 64];
        snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
        rc = sz_passphrase_read(prompt, 0, &pass, &pass_len, why, sizeof(why));
        if (rc != 0) {
            sodium_free(text);
            return sz_cli_fail(cli, "passphrase: %s", why);
        }
    }
    rc = sz_keyfile_decode(sk, (const char *)text, len, pass, pass_len);
    sz_passphrase_free(pass);
    sodium_free(text);
    switch (rc) {
    case 0:
        return SZ_EXIT_OK;
    case SZ_E_PASSPHRASE:
        return sz_cli_fail(cli, "%.200s: wrong passphrase (or the key file is damaged)", path);
    case SZ_E_KEYFILE:
        return sz_cli_fail(cli, "%.200s: key file is corrupted or not a samizdat secret key", path);
    case SZ_E_CRYPTO:
        return sz_cli_fail(cli,
                           "%.200s: cannot derive the key from the passphrase (not enough "
                           "memory for Argon2id?)",
                           path);
    default:
        return sz_cli_fail(cli, "%.200s: %s", path, sz_strerror(rc));
    }
}

void sz_cli_print_safe(FILE *f, const char *text, size_t len) {
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len; i++) {
        unsigned c = p[i];
        if (c == '\n' || c == '\t') {
            fputc((int)c, f);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
        } else if (c == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            /* U+0080..U+009F: C1 controls, which some terminals act on. */
            fprintf(f, "\\u%04x", p[i + 1]);
            i++;
        } else {
            fputc((int)c, f);
        }
    }
}

void sz_cli_format_time(char *out, size_t cap, uint64_t created_ms) {
    uint64_t secs = created_ms / 1000;
    struct tm tm;
    /* 253402300799 is 9999-12-31T23:59:59Z, the last second ISO 8601 writes with four digits. */
    if (secs <= 253402300799ull && gmtime_r(&(time_t){(time_t)secs}, &tm) != NULL) {
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (unsigned)(created_ms % 1000));
        return;
    }
    snprintf(out, cap, "%llu ms after the epoch", (unsigned long long)created_ms);
}
