/* The daemon's log: one `key=value` line per event on stderr, for example
 *
 *   ts=2026-11-21T10:00:00.123Z level=info event=listen addr=127.0.0.1:7433
 *
 * Fields are typed (SZ_LF_* below), so a caller never formats a line itself. The level is checked
 * BEFORE any argument is evaluated or formatted: SZ_LOG() expands to an `if` around the call, so a
 * disabled debug line costs one comparison. Values holding spaces, quotes, `=` or nothing are
 * written in double quotes with `"` and `\` escaped. Text that comes from a peer (SZ_LF_PEER*) is
 * capped at SZ_LOG_PEER_MAX bytes (a "..." marks the cut) and every CR, LF, other control byte and
 * DEL is written as \xNN, so a peer can neither forge a line nor flood the log. There is no field
 * type for secret bytes: keys appear only as public keys in their text form, and hashes as hex.
 *
 * Threads: any thread may log. A line is built in a stack buffer (at most SZ_LOG_LINE_MAX bytes;
 * longer lines end in "...") and written with one call. The level and sink are process globals set
 * at startup, before other threads run. */
#ifndef SZ_LOG_H
#define SZ_LOG_H

#include <stddef.h>
#include <stdint.h>

enum { SZ_LOG_ERROR = 0, SZ_LOG_WARN = 1, SZ_LOG_INFO = 2, SZ_LOG_DEBUG = 3 };

#define SZ_LOG_PEER_MAX 128  /* bytes of peer-supplied text kept per field */
#define SZ_LOG_LINE_MAX 2048 /* bytes per line, newline included */

/* Field types. Use the SZ_LF_* constructors rather than filling this by hand. */
typedef enum sz_logfield_type_e {
    SZ__LF_END = 0,
    SZ__LF_STR,    /* trusted text of ours (still escaped if it holds control bytes) */
    SZ__LF_PEER,   /* untrusted NUL-terminated text: capped and escaped */
    SZ__LF_PEERN,  /* untrusted bytes with a length: capped and escaped */
    SZ__LF_INT,    /* int64_t */
    SZ__LF_UINT,   /* uint64_t */
    SZ__LF_F64,    /* double, printed with 3 decimals */
    SZ__LF_PUBKEY, /* 32-byte public key, printed as key text */
    SZ__LF_HASH,   /* 32-byte hash or record id, printed as 64 hex digits */
    SZ__LF_ERR,    /* an error code, printed as its sz_errname() */
} sz_logfield_type_t;

typedef struct sz_logfield_s {
    const char *key;
    sz_logfield_type_t type;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double f;
        const uint8_t *b; /* 32 bytes for PUBKEY and HASH */
    } v;
    size_t len; /* for PEERN */
} sz_logfield_t;

#define SZ_LF_STR(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_STR, .v.s = (x)})
#define SZ_LF_PEER(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_PEER, .v.s = (x)})
#define SZ_LF_PEERN(k, p, n)                                                                       \
    ((sz_logfield_t){.key = (k), .type = SZ__LF_PEERN, .v.s = (const char *)(p), .len = (n)})
#define SZ_LF_INT(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_INT, .v.i = (int64_t)(x)})
#define SZ_LF_UINT(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_UINT, .v.u = (uint64_t)(x)})
#define SZ_LF_F64(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_F64, .v.f = (double)(x)})
#define SZ_LF_PUBKEY(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_PUBKEY, .v.b = (x)})
#define SZ_LF_HASH(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_HASH, .v.b = (x)})
#define SZ_LF_ERR(k, x) ((sz_logfield_t){.key = (k), .type = SZ__LF_ERR, .v.i = (int64_t)(x)})

/* The current level; lines above it are not written. Read through sz_log_enabled(). */
extern int sz__log_level;

#define sz_log_enabled(level) ((level) <= sz__log_level)

/* Logs event (a static identifier such as "listen") at level with one or more fields, e.g.
 *   SZ_LOG(SZ_LOG_INFO, "listen", SZ_LF_STR("addr", text));
 * Neither the fields nor their arguments are evaluated when the level is disabled. */
#define SZ_LOG(level, event, ...)                                                                  \
    do {                                                                                           \
        if (sz_log_enabled(level))                                                                 \
            sz__log_write((level), (event),                                                        \
                          (const sz_logfield_t[]){__VA_ARGS__, {.type = SZ__LF_END}});             \
    } while (0)

/* Logs an event with no fields. */
#define SZ_LOG_EVENT(level, event)                                                                 \
    do {                                                                                           \
        if (sz_log_enabled(level))                                                                 \
            sz__log_write((level), (event), (const sz_logfield_t[]){{.type = SZ__LF_END}});        \
    } while (0)

/* Formats and writes one line; fields (borrowed) ends with an SZ__LF_END entry. Use SZ_LOG(). */
void sz__log_write(int level, const char *event, const sz_logfield_t *fields);

/* Formats one line (without writing it) into out (borrowed, cap bytes), newline included, and
 * returns its length. Exposed for tests and for callers that need the same text elsewhere. */
size_t sz_log_format(char *out, size_t cap, int level, const char *event,
                     const sz_logfield_t *fields);

/* Sets the level (SZ_LOG_*; out-of-range values are clamped). */
void sz_log_set_level(int level);

/* Parses "error", "warn", "info" or "debug" into *level. Returns 0 or SZ_E_ARGUMENT. */
int sz_log_level_parse(const char *name, int *level);

/* Returns the name of a level ("info"), or "?" for another value. */
const char *sz_log_level_name(int level);

/* Where lines go: sink(arg, line, len) receives each complete line (borrowed for the call; it ends
 * in "\n"). NULL restores the default, stderr. For tests and embedding; set before threads run. */
typedef void (*sz_log_sink_cb)(void *arg, const char *line, size_t len);
void sz_log_set_sink(sz_log_sink_cb sink, void *arg);

#endif
