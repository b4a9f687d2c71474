/* samizdatd: the node service, and the offline maintenance commands.
 *
 *   samizdatd --data DIR [--listen HOST:PORT] [--config FILE] [--admin PUBKEY]... [--join INVITE]
 *   samizdatd --check DIR | --backup DIR OUT | --compact DIR
 *
 * Exit status: 0 after a graceful shutdown or a successful command, 1 when something failed at
 * run time, 2 for a wrong command line. Every failure is one line on stderr. */
#include "config.h"
#include "encoding.h"
#include "error.h"
#include "invite.h"
#include "keyfile.h"
#include "log.h"
#include "maint.h"
#include "node.h"
#include "policy.h"
#include "safety.h"
#include "server.h"
#include "store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *sz_daemon_version(void);

static const char usage_text[] =
    "usage: samizdatd --data DIR [--listen HOST:PORT] [--config FILE] [--admin PUBKEY]...\n"
    "                 [--join INVITE]\n"
    "       samizdatd --check DIR | --backup DIR OUT | --compact DIR\n"
    "       samizdatd --help | --version\n"
    "\n"
    "Runs a samizdat node with its keys, config and archive in DIR (created on first start).\n"
    "  --data DIR          the node's folder; first start writes node.key, network.key,\n"
    "                      samizdatd.conf, invite and, with no admin named, admin.key\n"
    "  --listen HOST:PORT  address to listen on (default 127.0.0.1:7433, loopback only)\n"
    "  --config FILE       config file (default DIR/samizdatd.conf when it exists)\n"
    "  --admin PUBKEY      an admin key, as key text or a .pub file (repeatable)\n"
    "  --join INVITE       join the archive of the node that issued INVITE (text or a file)\n"
    "  --check DIR         re-verify every stored record, offline\n"
    "  --backup DIR OUT    write a compacted copy of the archive in DIR to the new folder OUT\n"
    "  --compact DIR       rewrite the data file so retracted (purged) bytes leave the disk;\n"
    "                      the node must be stopped\n"
    "Logs go to stderr as key=value lines. SIGTERM or SIGINT stops the node gracefully.\n";

static void print_line(void *arg, const char *line) {
    (void)arg;
    printf("%s\n", line);
}

static int usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "samizdatd: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see samizdatd --help)\n");
    return 2;
}

static int run_check(const char *dir) {
    size_t problems = 0;
    int rc = sz_maint_check(dir, print_line, NULL, &problems);
    if (rc == SZ_E_NOT_FOUND)
        fprintf(stderr, "samizdatd: %s holds no archive (no data.mdb); check the path\n", dir);
    else if (rc != 0 && problems == 0)
        fprintf(stderr, "samizdatd: cannot check %s: %s\n", dir, sz_strerror(rc));
    printf("check=%s dir=%s problems=%zu\n", rc == 0 && problems == 0 ? "ok" : "failed", dir,
           problems);
    return rc == 0 && problems == 0 ? 0 : 1;
}

static int run_backup(const char *dir, const char *out) {
    char err[512] = "";
    int rc = sz_maint_backup(dir, out, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "samizdatd: backup failed: %s\n", err[0] ? err : sz_strerror(rc));
        return 1;
    }
    printf("backup=ok from=%s to=%s\n", dir, out);
    return 0;
}

static int run_compact(const char *dir) {
    char err[512] = "";
    uint64_t before = 0, after = 0;
    int rc = sz_compact(dir, err, sizeof(err), &before, &after);
    if (rc != 0) {
        fprintf(stderr, "samizdatd: compact failed: %s\n", err[0] ? err : sz_strerror(rc));
        return 1;
    }
    printf("compact=ok dir=%s bytes_before=%llu bytes_after=%llu\n", dir,
           (unsigned long long)before, (unsigned long long)after);
    return 0;
}

/* Reads a small text file (an invite or a public key file) into a sodium_malloc'd string, since
 * an invite holds the network key. Returns NULL if it cannot. */
static char *read_arg_file(const char *path, size_t max) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *buf = sodium_malloc(max + 1);
    size_t n = 0;
    while (buf != NULL && n < max) {
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

/* --admin takes key text, or the path of a public key file (such as another node's
 * admin.key.pub). */
static int parse_admin(uint8_t pk[static 32], const char *arg) {
    if (sz_pubkey_parse(pk, arg) == 0)
        return 0;
    char *text = read_arg_file(arg, SZ_PUBFILE_TEXT_MAX);
    if (text == NULL)
        return SZ_E_KEY;
    int rc = sz_pubkey_parse_any(pk, text, strlen(text));
    sodium_free(text);
    return rc;
}

typedef struct args_s {
    char *data;
    char *listen;
    char *config;
    char *join; /* points into argv, which is wiped after use */
    uint8_t (*admins)[32];
    size_t nadmins;
} args_t;

/* Returns 0, or the exit status for a wrong command line (the line is printed). */
static int parse_args(args_t *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        char **slot = NULL;
        if (strcmp(opt, "--data") == 0)
            slot = &a->data;
        else if (strcmp(opt, "--listen") == 0)
            slot = &a->listen;
        else if (strcmp(opt, "--config") == 0)
            slot = &a->config;
        else if (strcmp(opt, "--join") == 0)
            slot = &a->join;
        else if (strcmp(opt, "--admin") != 0)
            return usage_error("unknown option '%.64s'", opt);
        if (i + 1 >= argc)
            return usage_error("%s needs a value", opt);
        char *val = argv[++i];
        if (slot == NULL) {
            uint8_t(*k)[32] = realloc(a->admins, (a->nadmins + 1) * sizeof(*k));
            if (k == NULL)
                return usage_error("%s", "out of memory");
            a->admins = k;
            if (parse_admin(a->admins[a->nadmins], val) != 0)
                return usage_error("--admin %.64s is not a public key (44 characters of base64, "
                                   "or a .pub file)",
                                   val);
            a->nadmins++;
            continue;
        }
        if (*slot != NULL)
            return usage_error("%s is given twice", opt);
        *slot = val;
    }
    if (a->data == NULL)
        return usage_error("%s", "--data DIR is required");
    return 0;
}

static int fail1(const char *what) {
    fprintf(stderr, "samizdatd: %s\n", what);
    return 1;
}

static int run_node(args_t *a) {
    char err[SZ_CONFIG_ERR_MAX + 256] = "";
    sz_config_t cfg;
    sz_node_t node;
    sz_policy_t *policy = NULL;
    sz_store_t *store = NULL;
    char *join_text = NULL;
    int status = 1;
    memset(&node, 0, sizeof(node));
    if (sodium_init() < 0)
        return fail1("libsodium could not be initialised");
    int rc = sz_config_init(&cfg);
    if (rc != 0)
        return fail1("out of memory");

    /* The file, then the flags over it. */
    char *conf = NULL;
    if (a->config != NULL) {
        conf = strdup(a->config);
    } else if ((conf = malloc(strlen(a->data) + sizeof("/samizdatd.conf"))) != NULL) {
        sprintf(conf, "%s/samizdatd.conf", a->data);
        if (access(conf, F_OK) != 0) {
            free(conf);
            conf = NULL;
        }
    }
    if (conf != NULL) {
        rc = sz_config_load(&cfg, conf, err, sizeof(err));
        free(conf);
        if (rc != 0) {
            fail1(err);
            goto out;
        }
    }
    if (a->listen != NULL && sz_config_set(&cfg, "listen", a->listen, "--listen",
                                           SZ_CONFIG_OVERRIDE, err, sizeof(err)) != 0) {
        fail1(err);
        status = 2;
        goto out;
    }
    sz_log_set_level(cfg.log_level);
    /* Names are fine in an invite (advertise), but a socket binds to an address. */
    unsigned char addr[16];
    if (inet_pton(AF_INET, cfg.listen.host, addr) != 1 &&
        inet_pton(AF_INET6, cfg.listen.host, addr) != 1) {
        snprintf(err, sizeof(err),
                 "listen = %s:%u: the listen address must be numeric, an IPv4 address or [IPv6] "
                 "(for example 127.0.0.1:%u); put a DNS name in advertise instead",
                 cfg.listen.host, (unsigned)cfg.listen.port, (unsigned)cfg.listen.port);
        fail1(err);
        goto out;
    }

    /* --join takes invite text, or a file holding it (such as another node's DIR/invite). Invite
     * text is copied out of argv and argv's copy is wiped, so that the network key does not stay
     * readable in /proc/PID/cmdline for the daemon's lifetime (a file is better still). */
    const char *join = NULL;
    if (a->join != NULL) {
        if (!sz_invite_looks_like(a->join) && access(a->join, R_OK) == 0) {
            join_text = read_arg_file(a->join, SZ_INVITE_BUF + 2);
        } else if ((join_text = sodium_malloc(strlen(a->join) + 1)) != NULL) {
            memcpy(join_text, a->join, strlen(a->join) + 1);
            sodium_memzero(a->join, strlen(a->join));
        }
        if (join_text == NULL) {
            fail1("out of memory");
            goto out;
        }
        join = join_text;
    }
    sz_node_options_t nopts = {.cfg = &cfg,
                               .admins = (const uint8_t(*)[32])a->admins,
                               .nadmins = a->nadmins,
                               .join = join,
                               .errbuf = err,
                               .errlen = sizeof(err)};
    rc = sz_node_init(&node, a->data, &nopts);
    if (rc != 0) {
        fail1(err[0] ? err : sz_strerror(rc));
        goto out;
    }
    rc = sz_policy_new(&policy, &cfg, (const uint8_t(*)[32])node.admins, node.nadmins);
    if (rc != 0) {
        fail1("out of memory");
        goto out;
    }
    sz_store_options_t sopts = {.max_map = (size_t)cfg.map_max_size,
                                .editor = sz_policy_editor_cb,
                                .editor_arg = policy,
                                .errbuf = err,
                                .errlen = sizeof(err)};
    err[0] = '\0';
    rc = sz_store_open(&store, a->data, &sopts);
    if (rc != 0) {
        char line[sizeof(err) + 64];
        snprintf(line, sizeof(line), "cannot open the archive in %s: %s", a->data,
                 err[0] ? err : sz_strerror(rc));
        fail1(line);
        goto out;
    }

    if (sz_store_migrated_from(store) != 0)
        SZ_LOG(SZ_LOG_INFO, "store_migrated", SZ_LF_UINT("from", sz_store_migrated_from(store)),
               SZ_LF_UINT("to", SZ_STORE_FORMAT), SZ_LF_STR("dir", a->data));
    char listen[SZ_HOSTPORT_MAX + 1] = "";
    sz_hostport_format(listen, sizeof(listen), cfg.listen.host, cfg.listen.port);
    SZ_LOG(SZ_LOG_INFO, "start", SZ_LF_STR("version", sz_daemon_version()),
           SZ_LF_STR("dir", a->data), SZ_LF_PUBKEY("node_key", node.public_key),
           SZ_LF_STR("first_start", node.created ? "yes" : "no"), SZ_LF_STR("listen", listen));
    SZ_LOG(SZ_LOG_INFO, "invite", SZ_LF_STR("path", node.invite_path),
           SZ_LF_STR("note", "give this file to clients and peers; it holds the network key"));
    if (node.admin_key_created) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/admin.key", a->data);
        SZ_LOG(SZ_LOG_INFO, "admin_key", SZ_LF_STR("path", path),
               SZ_LF_PUBKEY("key", node.admins[node.nadmins - 1]),
               SZ_LF_STR("note", "no admin was named: act as admin with samizdat --key this-file"));
    }
    SZ_LOG(SZ_LOG_INFO, "policy",
           SZ_LF_STR("submission", cfg.submission == SZ_SUBMISSION_OPEN ? "open" : "allowlist"),
           SZ_LF_UINT("admins", node.nadmins), SZ_LF_UINT("editors", cfg.editors.n),
           SZ_LF_UINT("contributors", cfg.contributors.n),
           SZ_LF_UINT("peers", node.npeers + cfg.peers.n));
    for (size_t i = 0; i < node.nadmins; i++)
        SZ_LOG(SZ_LOG_DEBUG, "admin", SZ_LF_PUBKEY("key", node.admins[i]));

    sz_server_options_t vopts = {
        .cfg = &cfg, .node = &node, .store = store, .policy = policy, .software = NULL};
    rc = sz_server_run(&vopts);
    if (rc != 0) {
        char line[SZ_HOSTPORT_MAX + 512];
        snprintf(line, sizeof(line), "cannot serve on %s: %s%s", listen, sz_strerror(rc),
                 rc == -EADDRINUSE ? " (another program listens there; choose --listen HOST:PORT)"
                                   : "");
        SZ_LOG(SZ_LOG_ERROR, "stopped", SZ_LF_ERR("err", rc), SZ_LF_STR("addr", listen));
        fail1(line);
        goto out;
    }
    SZ_LOG(SZ_LOG_INFO, "exit", SZ_LF_INT("status", 0));
    status = 0;
out:
    sz_store_close(store);
    sz_policy_free(policy);
    sz_node_free(&node);
    sz_config_free(&cfg);
    if (join_text != NULL)
        sodium_free(join_text);
    return status;
}

int main(int argc, char **argv) {
    /* First of all: argument parsing already keeps key material in sodium_malloc memory. */
    if (sodium_init() < 0) {
        fprintf(stderr, "samizdatd: libsodium could not be initialised\n");
        return 1;
    }
    if (argc >= 2 && strcmp(argv[1], "--check") == 0) {
        if (argc != 3)
            return usage_error("%s", "usage: samizdatd --check DIR");
        return run_check(argv[2]);
    }
    if (argc >= 2 && strcmp(argv[1], "--backup") == 0) {
        if (argc != 4)
            return usage_error("%s", "usage: samizdatd --backup DIR OUT");
        return run_backup(argv[2], argv[3]);
    }
    if (argc >= 2 && strcmp(argv[1], "--compact") == 0) {
        if (argc != 3)
            return usage_error("%s", "usage: samizdatd --compact DIR");
        return run_compact(argv[2]);
    }
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("samizdatd %s\n", sz_daemon_version());
        return 0;
    }
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    args_t a;
    memset(&a, 0, sizeof(a));
    int rc = parse_args(&a, argc, argv);
    if (rc == 0)
        rc = run_node(&a);
    free(a.admins);
    return rc;
}
