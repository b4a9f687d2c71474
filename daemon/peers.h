/* The peer list file DIR/peers: one invite per line (mode 0600, it holds the network key), the
 * format node.c writes for --join. sync.c keeps the live peer table; this module parses invites
 * for it and rewrites the file when an admin adds or removes a peer.
 *
 * Secrets: invite texts hold the network key, so every copy lives in sodium_malloc'd memory and is
 * wiped when freed. */
#ifndef SZ_PEERS_H
#define SZ_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "invite.h"

/* Parses invite (borrowed text) for this archive: the network key must equal netkey (borrowed, 32
 * bytes). Fills key, host and port. why (may be NULL) gets a static sentence on failure. Returns
 * 0, an sz_invite_parse() error, or SZ_E_CONFIG (another archive's invite). */
int sz_peers_parse(const char *invite, const uint8_t netkey[static 32], uint8_t key[static 32],
                   char host[static SZ_HOST_BUF], uint16_t *port, const char **why);

/* Returns a sodium_malloc'd NUL-terminated copy of text (the caller frees it with sodium_free), or
 * NULL when out of memory. */
char *sz_peers_dup(const char *text);

/* Rewrites DIR/peers (dir borrowed) atomically (sz_node_write_file) with the n invites (borrowed
 * texts), one per line, mode 0600. Returns 0 or -errno. */
int sz_peers_save(const char *dir, const char *const *invites, size_t n);

#endif
