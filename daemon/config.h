/* The node's configuration: ONE table (sz_config_table()) names every key with its type, bounds,
 * default, description and whether a running daemon could reload it. The parser, the generated
 * default config file (DIR/samizdatd.conf), the command-line overrides and the documentation all
 * come from that table.
 *
 * File syntax: one `key = value` per line; blank lines and lines whose first non-blank character
 * is `#` are ignored; there are no trailing comments (a `#` inside a value is part of it).
 * Whitespace around the key and the value is trimmed. A scalar key may appear once per file; a
 * list key (admin, contributor, editor, seal_to, peer) is repeated, one value per line. An unknown
 * key, a repeated scalar, a value of the wrong type or out of bounds is an error whose sentence
 * names the file, the line, the key and, for bounds, the bound.
 *
 * Values by type: int (decimal), size (decimal with an optional K, M, G or T suffix, powers of
 * 1024), bool (yes/no, true/false, on/off, 1/0), string, hostport (HOST:PORT as proto/invite.h),
 * pubkey list (44-char key text per line), enum (one of the names listed in the table), invite
 * list (one invite per line).
 *
 * Order of precedence: built-in defaults, then the file, then command-line flags (sz_config_set()
 * with SZ_CONFIG_OVERRIDE). A scalar flag replaces the file's value; a list flag (--admin) adds to
 * the file's list. */
#ifndef SZ_CONFIG_H
#define SZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "invite.h"

typedef enum sz_config_type_e {
    SZ_CFG_INT,      /* uint32_t field, bounds min..max */
    SZ_CFG_SIZE,     /* uint64_t field, bytes, bounds min..max */
    SZ_CFG_BOOL,     /* int field, 0 or 1 */
    SZ_CFG_STRING,   /* char[SZ_CONFIG_STRING_MAX] field, length bounds min..max */
    SZ_CFG_HOSTPORT, /* sz_hostport_t field */
    SZ_CFG_PUBKEYS,  /* sz_keylist_t field */
    SZ_CFG_ENUM,     /* int field: index into the entry's choices */
    SZ_CFG_INVITES,  /* sz_strlist_t field, each an invite (proto/invite.h) */
} sz_config_type_t;

#define SZ_CONFIG_STRING_MAX 256
#define SZ_CONFIG_LIST_MAX 4096 /* entries per list key */
#define SZ_CONFIG_FILE_MAX (1u << 20)
#define SZ_CONFIG_ERR_MAX 512 /* a good size for error buffers */

enum { SZ_SUBMISSION_OPEN = 0, SZ_SUBMISSION_ALLOWLIST = 1 };

typedef struct sz_hostport_s {
    char host[SZ_HOST_BUF]; /* IPv6 without brackets; "" when unset */
    uint16_t port;
} sz_hostport_t;

/* A list of public keys (malloc'd array, owned by the config). */
typedef struct sz_keylist_s {
    uint8_t (*keys)[32];
    size_t n;
} sz_keylist_t;

/* A list of strings (malloc'd array of malloc'd strings, owned by the config). The peer list holds
 * invites, which hold the network key: sz_config_free() wipes them. */
typedef struct sz_strlist_s {
    char **items;
    size_t n;
} sz_strlist_t;

/* The configuration values, one field per table entry. Fill with sz_config_init(), release with
 * sz_config_free(). Read-only once the daemon runs, so any thread may read it. */
typedef struct sz_config_s {
    sz_hostport_t listen;           /* address to listen on */
    sz_hostport_t advertise;        /* address written into the invite; empty: listen */
    uint32_t max_connections;       /* open connections, all kinds */
    uint32_t handshake_timeout_ms;  /* a handshake not finished by then is closed */
    uint32_t idle_timeout_ms;       /* a connection silent for this long is closed */
    uint32_t max_frame;             /* largest frame accepted, <= SZ_FRAME_MAX */
    uint32_t max_message;           /* largest reassembled message, <= SZ_MSG_MAX */
    uint32_t max_inflight_per_conn; /* requests in progress per connection before reads pause */
    uint64_t max_write_queue;       /* bytes queued to a slow reader before reads pause */
    uint64_t max_request_bytes;  /* request bytes in progress per connection before reads pause */
    uint64_t max_request_memory; /* the same, all connections together */
    uint32_t batch_max_records;  /* group commit: records per write transaction */
    uint32_t verify_threads;     /* signature-checking pool threads; 0 = 1 per CPU */
    int submission;              /* SZ_SUBMISSION_* */
    sz_keylist_t contributors;   /* allow-list, when submission = allowlist */
    sz_keylist_t admins;         /* admin keys (also editors) */
    sz_keylist_t editors;        /* editor keys: may amend others' records */
    sz_keylist_t seal_to;        /* default recipients of sealed records (later issue) */
    sz_strlist_t peers;          /* invites of peers (replication is a later issue) */
    int log_level;               /* SZ_LOG_* */
    int log_connections;         /* log each accepted and closed connection */
    uint64_t map_max_size;       /* largest LMDB map, bytes */
    char node_name[SZ_CONFIG_STRING_MAX]; /* a name for people, shown by status; may be "" */
} sz_config_t;

/* One row of the table. For INT and SIZE, min/max bound the value; for STRING, its length. dflt is
 * the default as it would be written in the file ("" = none, for lists and optional values). */
typedef struct sz_config_entry_s {
    const char *name;
    sz_config_type_t type;
    size_t offset; /* of the field in sz_config_t */
    uint64_t min, max;
    const char *dflt;
    const char *const *choices; /* ENUM: NULL-terminated names; index = stored value */
    const char *description;    /* one line */
    int reloadable;             /* 1: could change without a restart */
} sz_config_entry_t;

/* Returns the table (static) and its length in *n. */
const sz_config_entry_t *sz_config_table(size_t *n);

/* Returns the entry named name (borrowed), or NULL. */
const sz_config_entry_t *sz_config_find(const char *name);

/* Fills cfg with the defaults (every list empty). Returns 0 or -ENOMEM. */
int sz_config_init(sz_config_t *cfg);

/* Frees every list in cfg (wiping the peer invites) and zeroes it. NULL is allowed. */
void sz_config_free(sz_config_t *cfg);

#define SZ_CONFIG_OVERRIDE                                                                         \
    0x1u /* a scalar replaces an earlier value instead of being a duplicate */

/* Sets key to value (both borrowed) in cfg, as one line of a file would. origin (borrowed) names
 * where the value came from for messages, e.g. "samizdatd.conf:12" or "--listen". A list key
 * appends. Without SZ_CONFIG_OVERRIDE this does not detect duplicates (sz_config_parse() does).
 * On error err (borrowed, errlen bytes, may be NULL) receives one sentence naming origin, the key
 * and the problem. Returns 0, SZ_E_CONFIG (unknown key, bad value, out of bounds) or -ENOMEM. */
int sz_config_set(sz_config_t *cfg, const char *key, const char *value, const char *origin,
                  unsigned flags, char *err, size_t errlen);

/* Parses config text (borrowed, len bytes) named name (borrowed, e.g. its path) into cfg, on top
 * of what cfg holds. Stops at the first error and writes one sentence "NAME:LINE: ..." to err.
 * Returns 0, SZ_E_CONFIG or -ENOMEM. On error cfg may hold part of the file: free it. */
int sz_config_parse(sz_config_t *cfg, const char *text, size_t len, const char *name, char *err,
                    size_t errlen);

/* Reads the file at path (borrowed) and parses it as sz_config_parse() does. A missing or
 * unreadable file gives -errno with a sentence in err. Returns 0, SZ_E_CONFIG, -ENOMEM or -errno.
 */
int sz_config_load(sz_config_t *cfg, const char *path, char *err, size_t errlen);

/* Writes the commented default config: a header, then for every table entry its description, type,
 * bounds and default as comments, and `key = default` (commented out for lists and keys without a
 * default). *text is malloc'd; the caller frees it. It parses back to sz_config_init()'s values.
 * Returns 0 or -ENOMEM. */
int sz_config_default_text(char **text);

/* Writes one value of cfg for entry e as config text into out (cap bytes): lists give their entries
 * joined by ", " (peer invites are shown as "(N invites)" since they hold the network key). Returns
 * the length, or SZ_E_TOO_LARGE if cap is too small. */
int sz_config_value_text(char *out, size_t cap, const sz_config_t *cfg, const sz_config_entry_t *e);

/* Helpers for keys given outside the file (e.g. --admin). Append key (32 bytes, borrowed) unless it
 * is already listed. Returns 0 or -ENOMEM. */
int sz_keylist_add(sz_keylist_t *l, const uint8_t key[static 32]);

/* Returns 1 if key (borrowed) is in l, else 0. */
int sz_keylist_has(const sz_keylist_t *l, const uint8_t key[static 32]);

#endif
