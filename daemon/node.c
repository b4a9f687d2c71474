/* A node's identity and data folder (see node.h and daemon/NODE.md). */
#include "node.h"

#include "encoding.h"
#include "error.h"
#include "keyfile.h"
#include "log.h"
#include "peers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define NETKEY_FILE_MAX 256
#define PEERS_FILE_MAX (1u << 20)

static void vfail(const sz_node_options_t *o, const char *fmt, va_list ap) {
    if (o->errbuf != NULL && o->errlen > 0)
        vsnprintf(o->errbuf, o->errlen, fmt, ap);
}

__attribute__((format(printf, 2, 3))) static void fail(const sz_node_options_t *o, const char *fmt,
                                                       ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(o, fmt, ap);
    va_end(ap);
}

/* Returns a malloc'd "dir/name", or NULL. */
static char *join_path(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + 1 + b + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Reads a whole file of at most max bytes into sodium_malloc'd memory (NUL-terminated), since
 * several of the files hold secrets; the caller releases it with sodium_free(), which wipes it.
 * When private is set, a file readable or writable by group or others is refused (-EPERM). */
static int read_small(const char *path, size_t max, int private, char **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return S_ISREG(st.st_mode) ? SZ_E_TOO_LARGE : -EINVAL;
    }
    if (private && (st.st_mode & 077) != 0) {
        close(fd);
        return -EPERM;
    }
    char *buf = sodium_malloc(max + 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            sodium_free(buf);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n == max)
            break;
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Writes data to dir/name through a temporary file and a rename, so a crash leaves either the old
 * file or the whole new one, never a torn key. The file is created with mode from the start (no
 * window in which a secret is readable by others). */
int sz_node_write_file(const char *dir, const char *name, const void *data, size_t len,
                       mode_t mode) {
    char *path = join_path(dir, name);
    size_t tl = strlen(name) + 6;
    char *tname = malloc(tl);
    char *tmp = NULL;
    int rc = 0;
    if (path == NULL || tname == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(tname, tl, ".%s.tmp", name);
    tmp = join_path(dir, tname);
    if (tmp == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    /* The umask must not widen nor narrow what we asked for. */
    if (fchmod(fd, mode) != 0)
        rc = -errno;
    const char *p = data;
    size_t left = len;
    while (rc == 0 && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = -errno;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
    else
        rc = fsync_dir(dir);
out:
    free(tmp);
    free(tname);
    free(path);
    return rc;
}

/* mkdir -p with mode 0700 for every folder it creates. */
static int make_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    char *copy = strdup(dir);
    if (copy == NULL)
        return -ENOMEM;
    int rc = 0;
    for (char *p = copy + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST)
            rc = -errno;
        *p = c;
        if (c == '\0')
            break;
    }
    free(copy);
    if (rc == 0 && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)))
        rc = -ENOTDIR;
    return rc;
}

static int decode_netkey(uint8_t out[static 32], const char *text, size_t len) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        len--;
    if (len != SZ_PUBKEY_TEXT_LEN)
        return SZ_E_KEY;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, 32, text, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        got != 32 || end != text + len) {
        sodium_memzero(out, 32);
        return SZ_E_KEY;
    }
    return 0;
}

/* Says in a sentence why a file could not be read, for rc from read_small(). */
static int read_failed(const sz_node_options_t *o, const char *path, int rc, const char *what) {
    if (rc == -EPERM)
        fail(o,
             "%s is readable or writable by other users; it holds %s: run `chmod 600 %s` "
             "(and check who else could have read it)",
             path, what, path);
    else if (rc == SZ_E_TOO_LARGE)
        fail(o, "%s is too large to be %s; is it the right file?", path, what);
    else
        fail(o, "cannot read %s (%s): %s", path, what, sz_strerror(rc));
    return rc == -EPERM ? SZ_E_CONFIG : rc;
}

static int load_or_make_netkey(sz_node_t *node, const sz_node_options_t *o, const sz_invite_t *join,
                               int have_node_key) {
    char *path = join_path(node->dir, "network.key");
    if (path == NULL)
        return -ENOMEM;
    int rc = 0;
    if (exists(path)) {
        char *text = NULL;
        size_t len = 0;
        rc = read_small(path, NETKEY_FILE_MAX, 1, &text, &len);
        if (rc != 0) {
            rc = read_failed(o, path, rc, "the archive's network key");
            goto out;
        }
        rc = decode_netkey(node->network_key, text, len);
        sodium_free(text);
        if (rc != 0) {
            fail(o,
                 "%s is damaged: it must hold 44 characters of base64 (32 bytes); restore it "
                 "from a backup or from this archive's invite",
                 path);
            goto out;
        }
        if (join != NULL && sodium_memcmp(join->network_key, node->network_key, 32) != 0) {
            fail(o,
                 "--join: %s is already a node of another archive (its network.key differs from "
                 "the invite's network key); use a new --data folder to join this archive",
                 node->dir);
            rc = SZ_E_CONFIG;
        }
        goto out;
    }
    if (have_node_key) {
        /* Making a fresh key here would silently split this node from its archive. */
        fail(o,
             "%s is missing although node.key exists; restore it from a backup, or copy the "
             "network key (the last part of an invite of this archive) into it",
             path);
        rc = SZ_E_CONFIG;
        goto out;
    }
    if (join != NULL)
        memcpy(node->network_key, join->network_key, 32);
    else
        randombytes_buf(node->network_key, 32);
    char text[SZ_PUBKEY_TEXT_LEN + 2];
    sodium_bin2base64(text, sizeof(text), node->network_key, 32, sodium_base64_VARIANT_ORIGINAL);
    text[SZ_PUBKEY_TEXT_LEN] = '\n';
    rc = sz_node_write_file(node->dir, "network.key", text, SZ_PUBKEY_TEXT_LEN + 1, 0600);
    sodium_memzero(text, sizeof(text));
    if (rc != 0)
        fail(o, "cannot write %s: %s", path, sz_strerror(rc));
out:
    free(path);
    return rc;
}

static int load_or_make_node_key(sz_node_t *node, const sz_node_options_t *o) {
    char *path = join_path(node->dir, "node.key");
    char *pub = join_path(node->dir, "node.key.pub");
    int rc = 0;
    if (path == NULL || pub == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (exists(path)) {
        char *text = NULL;
        size_t len = 0;
        rc = read_small(path, SZ_KEYFILE_TEXT_MAX, 1, &text, &len);
        if (rc != 0) {
            rc = read_failed(o, path, rc, "the node's secret key");
            goto out;
        }
        rc = sz_keyfile_decode(&node->secret_key, text, len, NULL, 0);
        sodium_free(text);
        if (rc == SZ_E_ARGUMENT) {
            fail(o,
                 "%s is protected by a passphrase, but the daemon needs an unprotected node key "
                 "to start unattended; see daemon/NODE.md",
                 path);
            rc = SZ_E_CONFIG;
            goto out;
        }
        if (rc != 0) {
            fail(o, "%s is not a valid samizdat key file (%s); restore it from a backup", path,
                 sz_strerror(rc));
            goto out;
        }
    } else {
        rc = sz_secretkey_generate(&node->secret_key);
        char *text = NULL;
        if (rc == 0)
            rc = sz_keyfile_encode(&text, node->secret_key, NULL, 0, NULL);
        if (rc == 0)
            rc = sz_node_write_file(node->dir, "node.key", text, strlen(text), 0600);
        sz_keyfile_text_free(text);
        if (rc != 0) {
            fail(o, "cannot write %s: %s", path, sz_strerror(rc));
            goto out;
        }
    }
    memcpy(node->public_key, node->secret_key + 32, 32);
    if (exists(pub)) {
        char *text = NULL;
        size_t len = 0;
        uint8_t pk[32];
        rc = read_small(pub, SZ_PUBFILE_TEXT_MAX, 0, &text, &len);
        if (rc != 0) {
            rc = read_failed(o, pub, rc, "the node's public key");
            goto out;
        }
        rc = sz_pubkey_parse_any(pk, text, len);
        sodium_free(text);
        if (rc != 0 || memcmp(pk, node->public_key, 32) != 0) {
            fail(o,
                 "%s does not hold the public half of node.key; delete %s and it is written "
                 "again from node.key",
                 pub, pub);
            rc = SZ_E_CONFIG;
            goto out;
        }
    } else {
        char text[SZ_PUBFILE_TEXT_LEN + 1];
        sz_pubfile_format(text, node->public_key);
        rc = sz_node_write_file(node->dir, "node.key.pub", text, strlen(text), 0644);
        if (rc != 0)
            fail(o, "cannot write %s: %s", pub, sz_strerror(rc));
    }
out:
    free(path);
    free(pub);
    return rc;
}

static int add_admin(sz_node_t *node, const uint8_t key[static 32]) {
    for (size_t i = 0; i < node->nadmins; i++)
        if (memcmp(node->admins[i], key, 32) == 0)
            return 0;
    uint8_t(*a)[32] = realloc(node->admins, (node->nadmins + 1) * sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    memcpy(a[node->nadmins++], key, 32);
    node->admins = a;
    return 0;
}

/* Loads DIR/admin.key.pub (or the public half recorded in DIR/admin.key) as an admin, or writes a
 * new admin key pair when the node would otherwise have no admin at all. */
static int load_or_make_admin(sz_node_t *node, const sz_node_options_t *o) {
    char *path = join_path(node->dir, "admin.key");
    char *pub = join_path(node->dir, "admin.key.pub");
    int rc = 0;
    uint8_t pk[32];
    if (path == NULL || pub == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (exists(pub)) {
        char *text = NULL;
        size_t len = 0;
        rc = read_small(pub, SZ_PUBFILE_TEXT_MAX, 0, &text, &len);
        if (rc != 0) {
            rc = read_failed(o, pub, rc, "the local admin's public key");
            goto out;
        }
        rc = sz_pubkey_parse_any(pk, text, len);
        sodium_free(text);
        if (rc != 0) {
            fail(o, "%s is not a public key file; delete it (and admin.key) to make a new one",
                 pub);
            rc = SZ_E_CONFIG;
            goto out;
        }
        rc = add_admin(node, pk);
        goto out;
    }
    if (exists(path)) {
        char *text = NULL;
        size_t len = 0;
        sz_keyfile_info_t info;
        rc = read_small(path, SZ_KEYFILE_TEXT_MAX, 1, &text, &len);
        if (rc != 0) {
            rc = read_failed(o, path, rc, "the local admin's secret key");
            goto out;
        }
        rc = sz_keyfile_inspect(&info, text, len);
        sodium_free(text);
        if (rc != 0) {
            fail(o, "%s is not a samizdat key file; delete it to make a new one", path);
            goto out;
        }
        char ptext[SZ_PUBFILE_TEXT_LEN + 1];
        sz_pubfile_format(ptext, info.public_key);
        rc = sz_node_write_file(node->dir, "admin.key.pub", ptext, strlen(ptext), 0644);
        if (rc == 0)
            rc = add_admin(node, info.public_key);
        goto out;
    }
    if (node->nadmins > 0)
        goto out;
    uint8_t *sk = NULL;
    char *text = NULL;
    rc = sz_secretkey_generate(&sk);
    if (rc == 0)
        rc = sz_keyfile_encode(&text, sk, NULL, 0, NULL);
    if (rc == 0)
        rc = sz_node_write_file(node->dir, "admin.key", text, strlen(text), 0600);
    sz_keyfile_text_free(text);
    if (rc == 0) {
        char ptext[SZ_PUBFILE_TEXT_LEN + 1];
        memcpy(pk, sk + 32, 32);
        sz_pubfile_format(ptext, pk);
        rc = sz_node_write_file(node->dir, "admin.key.pub", ptext, strlen(ptext), 0644);
        if (rc == 0)
            rc = add_admin(node, pk);
        if (rc == 0)
            node->admin_key_created = 1;
    }
    sz_secretkey_free(sk);
    if (rc != 0)
        fail(o, "cannot write %s: %s", path, sz_strerror(rc));
out:
    free(path);
    free(pub);
    return rc;
}

static int push_peer(sz_node_t *node, const char *text, size_t len) {
    char **p = realloc(node->peers, (node->npeers + 1) * sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    node->peers = p;
    char *copy = sodium_malloc(len + 1);
    if (copy == NULL)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    node->peers[node->npeers++] = copy;
    return 0;
}

static int load_peers(sz_node_t *node, const sz_node_options_t *o) {
    char *path = join_path(node->dir, "peers");
    if (path == NULL)
        return -ENOMEM;
    int rc = 0;
    char *text = NULL;
    size_t len = 0;
    if (!exists(path))
        goto out;
    rc = read_small(path, PEERS_FILE_MAX, 1, &text, &len);
    if (rc != 0) {
        rc = read_failed(o, path, rc, "the peers' invites (with the network key)");
        goto out;
    }
    unsigned lineno = 0;
    for (char *s = text; s != NULL && *s != '\0';) {
        char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char *next = nl ? nl + 1 : s + n;
        lineno++;
        s[n] = '\0';
        if (n > 0 && s[n - 1] == '\r')
            s[--n] = '\0';
        if (n > 0 && s[0] != '#') {
            sz_invite_t inv;
            const char *why = NULL;
            rc = sz_invite_parse_why(s, &inv, &why);
            int other = rc == 0 && sodium_memcmp(inv.network_key, node->network_key, 32) != 0;
            sz_invite_wipe(&inv);
            if (rc != 0) {
                fail(o, "%s:%u: not a valid invite: %s", path, lineno,
                     why ? why : sz_invite_strerror(rc));
                rc = SZ_E_CONFIG;
                goto out;
            }
            if (other) {
                fail(o,
                     "%s:%u: this peer belongs to another archive (different network key); "
                     "remove the line",
                     path, lineno);
                rc = SZ_E_CONFIG;
                goto out;
            }
            rc = push_peer(node, s, n);
            if (rc != 0)
                goto out;
        }
        s = next;
    }
out:
    if (text != NULL)
        sodium_free(text);
    free(path);
    return rc;
}

static int save_peers(sz_node_t *node) {
    return sz_peers_save(node->dir, (const char *const *)node->peers, node->npeers);
}

int sz_node_add_peer(sz_node_t *node, const char *invite) {
    sz_invite_t inv;
    int rc = sz_invite_parse(invite, &inv);
    if (rc != 0)
        return rc;
    int other = sodium_memcmp(inv.network_key, node->network_key, 32) != 0;
    uint8_t key[32];
    memcpy(key, inv.node_key, 32);
    sz_invite_wipe(&inv);
    if (other)
        return SZ_E_CONFIG;
    for (size_t i = 0; i < node->npeers; i++) {
        sz_invite_t have;
        int same =
            sz_invite_parse(node->peers[i], &have) == 0 && memcmp(have.node_key, key, 32) == 0;
        sz_invite_wipe(&have);
        if (same)
            return SZ_E_EXISTS;
    }
    size_t n = strlen(invite);
    while (n > 0 && (invite[n - 1] == '\n' || invite[n - 1] == '\r'))
        n--;
    rc = push_peer(node, invite, n);
    if (rc == 0) {
        rc = save_peers(node);
        if (rc != 0) {
            /* Keep memory and disk in agreement. */
            sodium_free(node->peers[--node->npeers]);
        }
    }
    return rc;
}

static int write_invite(sz_node_t *node, const sz_node_options_t *o) {
    const sz_hostport_t *hp =
        o->cfg->advertise.host[0] != '\0' ? &o->cfg->advertise : &o->cfg->listen;
    int len = sz_invite_format(node->invite, SZ_INVITE_BUF, hp->host, hp->port, node->public_key,
                               node->network_key);
    if (len < 0) {
        fail(o, "cannot make the invite for address %s:%u: %s", hp->host, (unsigned)hp->port,
             sz_strerror(len));
        return SZ_E_CONFIG;
    }
    if (strcmp(hp->host, "0.0.0.0") == 0 || strcmp(hp->host, "::") == 0)
        SZ_LOG(SZ_LOG_WARN, "invite_address",
               SZ_LF_STR("problem", "the invite names a wildcard address other hosts cannot "
                                    "reach; set advertise = HOST:PORT in the config"),
               SZ_LF_STR("host", hp->host));
    /* Rewritten only when it changed, so a running node's file is stable. */
    char *old = NULL;
    size_t oldlen = 0;
    int same = 0;
    if (read_small(node->invite_path, SZ_INVITE_BUF + 2, 1, &old, &oldlen) == 0) {
        same = oldlen == (size_t)len + 1 && memcmp(old, node->invite, (size_t)len) == 0 &&
               old[len] == '\n';
        sodium_free(old);
    }
    if (same)
        return 0;
    node->invite[len] = '\n';
    int rc = sz_node_write_file(node->dir, "invite", node->invite, (size_t)len + 1, 0600);
    node->invite[len] = '\0';
    if (rc != 0)
        fail(o, "cannot write %s: %s", node->invite_path, sz_strerror(rc));
    return rc;
}

/* One daemon per folder: a second one would share the store and race on every file here. The
 * lock goes away with the process, so a crash never leaves a stale lock behind. */
static int take_lock(sz_node_t *node, const sz_node_options_t *o) {
    char *path = join_path(node->dir, "samizdatd.lock");
    if (path == NULL)
        return -ENOMEM;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
        fail(o, "cannot open %s: %s", path, sz_strerror(rc));
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = -errno;
        if (rc == -EWOULDBLOCK) {
            fail(o, "another samizdatd is already running with the data folder %s; stop it first",
                 node->dir);
            rc = SZ_E_CONFIG;
        } else {
            fail(o, "cannot lock %s: %s", path, sz_strerror(rc));
        }
        close(fd);
    } else {
        node->lock_fd = fd;
        node->locked = 1;
    }
    free(path);
    return rc;
}

int sz_node_init(sz_node_t *node, const char *dir, const sz_node_options_t *o) {
    memset(node, 0, sizeof(*node));
    sz_invite_t *join = NULL;
    char *conf = NULL;
    char *key_path = NULL;
    int rc = 0;
    if (o == NULL || o->cfg == NULL || dir == NULL || dir[0] == '\0')
        return SZ_E_ARGUMENT;
    if (sodium_init() < 0) {
        fail(o, "libsodium could not be initialised");
        return SZ_E_CRYPTO;
    }
    node->dir = strdup(dir);
    node->invite_path = join_path(dir, "invite");
    key_path = join_path(dir, "node.key");
    node->secret_key = NULL;
    node->network_key = sodium_malloc(32);
    node->invite = sodium_malloc(SZ_INVITE_BUF + 1);
    if (node->dir == NULL || node->invite_path == NULL || key_path == NULL ||
        node->network_key == NULL || node->invite == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (o->join != NULL) {
        join = sodium_malloc(sizeof(*join));
        if (join == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        const char *why = NULL;
        rc = sz_invite_parse_why(o->join, join, &why);
        if (rc != 0) {
            fail(o, "--join: the invite is not valid: %s", why ? why : sz_invite_strerror(rc));
            rc = SZ_E_CONFIG;
            goto fail;
        }
    }
    rc = make_dir(dir);
    if (rc != 0) {
        fail(o, "cannot create the data folder %s: %s", dir, sz_strerror(rc));
        goto fail;
    }
    rc = take_lock(node, o);
    if (rc != 0)
        goto fail;
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077) != 0)
        SZ_LOG(SZ_LOG_WARN, "data_dir_mode",
               SZ_LF_STR("problem", "the data folder is open to other users; chmod 700 it"),
               SZ_LF_STR("dir", dir));
    int have_node_key = exists(key_path);
    node->created = !have_node_key;
    rc = load_or_make_netkey(node, o, join, have_node_key);
    if (rc != 0)
        goto fail;
    rc = load_or_make_node_key(node, o);
    if (rc != 0)
        goto fail;
    if (join != NULL && memcmp(join->node_key, node->public_key, 32) == 0) {
        fail(o, "--join: the invite is this node's own; use an invite from another node");
        rc = SZ_E_CONFIG;
        goto fail;
    }
    conf = join_path(dir, "samizdatd.conf");
    if (conf == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if (node->created && !exists(conf)) {
        char *text = NULL;
        rc = sz_config_default_text(&text);
        if (rc == 0)
            rc = sz_node_write_file(dir, "samizdatd.conf", text, strlen(text), 0600);
        free(text);
        if (rc != 0) {
            fail(o, "cannot write %s: %s", conf, sz_strerror(rc));
            goto fail;
        }
    }
    for (size_t i = 0; rc == 0 && i < o->nadmins; i++)
        rc = add_admin(node, o->admins[i]);
    for (size_t i = 0; rc == 0 && i < o->cfg->admins.n; i++)
        rc = add_admin(node, o->cfg->admins.keys[i]);
    if (rc == 0)
        rc = load_or_make_admin(node, o);
    if (rc != 0)
        goto fail;
    rc = load_peers(node, o);
    if (rc != 0)
        goto fail;
    if (join != NULL) {
        rc = sz_node_add_peer(node, o->join);
        if (rc == SZ_E_EXISTS)
            rc = 0;
        if (rc != 0) {
            fail(o, "cannot record the inviting node in %s/peers: %s", dir, sz_strerror(rc));
            goto fail;
        }
    }
    snprintf(node->listen_host, sizeof(node->listen_host), "%s", o->cfg->listen.host);
    node->listen_port = o->cfg->listen.port;
    rc = write_invite(node, o);
    if (rc != 0)
        goto fail;
    if (join != NULL)
        sodium_free(join);
    free(conf);
    free(key_path);
    return 0;
fail:
    if (join != NULL)
        sodium_free(join);
    free(conf);
    free(key_path);
    sz_node_free(node);
    if (rc == 0)
        rc = SZ_E_CONFIG;
    return rc;
}

void sz_node_free(sz_node_t *node) {
    if (node == NULL)
        return;
    sz_secretkey_free(node->secret_key);
    if (node->network_key != NULL)
        sodium_free(node->network_key);
    if (node->invite != NULL)
        sodium_free(node->invite);
    for (size_t i = 0; i < node->npeers; i++)
        sodium_free(node->peers[i]);
    free(node->peers);
    free(node->admins);
    free(node->invite_path);
    free(node->dir);
    if (node->locked)
        close(node->lock_fd);
    memset(node, 0, sizeof(*node));
}
