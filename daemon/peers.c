/* DIR/peers: parsing invites for the live peer table, and rewriting the file. */
#include "peers.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "node.h"

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
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(invites[i]) + 1;
    char *buf = sodium_malloc(total); /* invites hold the network key */
    if (buf == NULL)
        return -ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(invites[i]);
        memcpy(buf + len, invites[i], k);
        len += k;
        buf[len++] = '\n';
    }
    int rc = sz_node_write_file(dir, "peers", buf, len, 0600);
    sodium_free(buf);
    return rc;
}
