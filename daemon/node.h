/* A node's identity and files in its data folder DIR:
 *
 *   DIR/                 mode 0700, created on first start
 *   DIR/node.key         the node's Ed25519 secret key, an UNPROTECTED samizdat key file (0600)
 *   DIR/node.key.pub     its public key file (0644)
 *   DIR/network.key      the archive's 32-byte network key as base64 text (0600; random on first
 *                        start, or taken from --join's invite)
 *   DIR/samizdatd.conf   the commented default config (0600), generated from the config table
 *   DIR/invite           this node's invite, one line (0600: it holds the network key)
 *   DIR/admin.key(.pub)  written on first start only when no admin is named (--admin or config):
 *                        an unprotected client key (0600) whose public key becomes an admin, so the
 *                        local operator can act with `samizdat --key DIR/admin.key ...`
 *   DIR/peers            peers, one invite per line (0600); --join records the inviting node here
 *   DIR/samizdatd.lock   empty (0600); sz_node_init() holds an exclusive flock() on it until
 *                        sz_node_free(), so a second daemon on the same folder is refused
 *   DIR/data.mdb, lock.mdb  the store (daemon/store.h), opened by the caller, not by this module
 *
 * The node key is unprotected because a daemon restarts unattended: anyone who can read DIR can
 * act as this node, so the operator protects DIR (its owner, its disk, its backups). See
 * daemon/NODE.md.
 *
 * Secrets (the node secret key, the network key, the invite text) live in sodium_malloc'd memory
 * owned by sz_node_t and are wiped by sz_node_free(). */
#ifndef SZ_NODE_H
#define SZ_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "invite.h"

/* Options of sz_node_init(). Everything is borrowed for the call. */
typedef struct sz_node_options_s {
    const sz_config_t *cfg;      /* required: listen/advertise address, config admins */
    const uint8_t (*admins)[32]; /* --admin keys */
    size_t nadmins;
    const char *join; /* --join invite text, or NULL */
    char *errbuf;     /* receives one sentence saying why init failed (may be NULL) */
    size_t errlen;
} sz_node_options_t;

typedef struct sz_node_s {
    char *dir;                     /* malloc'd copy of DIR */
    uint8_t *secret_key;           /* sodium_malloc'd, 64 bytes (seed then public key) */
    uint8_t public_key[32];        /* the node's Ed25519 public key */
    uint8_t *network_key;          /* sodium_malloc'd, 32 bytes: the Noise psk */
    char listen_host[SZ_HOST_BUF]; /* from the config */
    uint16_t listen_port;
    uint8_t (*admins)[32]; /* malloc'd: --admin, config admins, DIR/admin.key.pub; no repeats */
    size_t nadmins;
    char *invite;      /* sodium_malloc'd NUL-terminated invite text (holds the network key) */
    char *invite_path; /* malloc'd: DIR/invite */
    char **peers;      /* malloc'd invites from DIR/peers (each sodium_malloc'd) */
    size_t npeers;
    int created;           /* 1 when this start created the node */
    int admin_key_created; /* 1 when this start wrote DIR/admin.key */
    int lock_fd;           /* DIR/samizdatd.lock, held with flock() while the node runs */
    int locked;            /* 1 when lock_fd is open */
} sz_node_t;

/* Creates (first start) or loads (later starts) the node in dir (borrowed) into *node (borrowed,
 * zeroed or not; filled on success, left freed on failure). First start creates every file listed
 * above; --join's invite gives the network key and the first peer. Later starts load the keys and
 * refuse mismatches: a --join whose network key differs from DIR/network.key, a node.key whose
 * public half differs from node.key.pub, a file with group or other access to a secret, a damaged
 * key file. The invite is rewritten when the advertised address has changed. On error errbuf
 * receives one sentence naming the file and what to do. Returns 0, SZ_E_CONFIG (a refused
 * mismatch or bad --join), SZ_E_KEYFILE, SZ_E_KEY, -ENOMEM or -errno. */
int sz_node_init(sz_node_t *node, const char *dir, const sz_node_options_t *opts);

/* Wipes every secret and frees everything node owns; node itself is borrowed. Safe on a zeroed or
 * already freed node. */
void sz_node_free(sz_node_t *node);

/* Records a peer invite (borrowed text) in DIR/peers unless a peer with the same node key is
 * already there. Returns 0, SZ_E_EXISTS (already listed, nothing changed), an sz_invite_parse()
 * error, SZ_E_CONFIG (the invite is for another archive: different network key), -ENOMEM or
 * -errno. */
int sz_node_add_peer(sz_node_t *node, const char *invite);

/* Writes data to dir/name (both borrowed) through a temporary file, fsync and a rename, then
 * fsyncs dir, so a crash leaves either the old file or the whole new one. The file has mode from
 * its creation. Returns 0 or -errno (-ENOMEM). */
int sz_node_write_file(const char *dir, const char *name, const void *data, size_t len,
                       mode_t mode);

#endif
