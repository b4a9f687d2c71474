/* DIR/peers: parsing invites for the live peer table, and rewriting the file. */
#include "peers.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

int sz_peers_parse(const char *invite, const uint8_t netkey[static 32], uint8_t key[static 32],
                   char host[static SZ_HOST_BUF], uint16_t *port, const char **why) {
    sz_invite_t inv;
    const char *w = NULL;
    int rc = sz_invite_parse_why(invite, &inv, &w);
    if (rc != 0) {
        if (why != NULL)
            *why = w ? w : sz_invite_strerror(rc);
        return rc;
    }
    if (sodium_memcmp(inv.network_key, netkey, 32) != 0) {
        sz_invite_wipe(&inv);
        if (why != NULL)
            *why = "the invite is for another archive (its network key differs from this node's)";
        return SZ_E_CONFIG;
    }
    memcpy(key, inv.node_key, 32);
    memcpy(host, inv.host, SZ_HOST_BUF);
    *port = inv.port;
    sz_invite_wipe(&inv);
    return 0;
}

char *sz_peers_dup(const char *text) {
    size_t n = strlen(text);
    char *p = sodium_malloc(n + 1);
    if (p != NULL)
        memcpy(p, text, n + 1);
    return p;
}

int sz_peers_save(const char *dir, const char *const *invites, size_t n) {
    size_t dl = strlen(dir);
    char *path = malloc(dl + 16), *tmp = malloc(dl + 24);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(invites[i]) + 1;
    char *buf = sodium_malloc(total);
    int rc = 0;
    if (path == NULL || tmp == NULL || buf == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(path, dl + 16, "%s/peers", dir);
    snprintf(tmp, dl + 24, "%s/.peers.tmp", dir);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(invites[i]);
        memcpy(buf + len, invites[i], k);
        len += k;
        buf[len++] = '\n';
    }
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    if (fchmod(fd, 0600) != 0)
        rc = -errno;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            rc = -errno;
        else
            off += (size_t)w;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc != 0)
        unlink(tmp);
out:
    if (buf != NULL)
        sodium_free(buf);
    free(path);
    free(tmp);
    return rc;
}
