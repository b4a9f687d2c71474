/* The configuration table, its parser and the generated default file (see config.h). */
#include "config.h"

#include "encoding.h"
#include "error.h"
#include "frame.h"
#include "log.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const submission_choices[] = {"open", "allowlist", NULL};
static const char *const log_level_choices[] = {"error", "warn", "info", "debug", NULL};

#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * MIB)
#define TIB (1024ull * GIB)

#define F(field) offsetof(sz_config_t, field)

/* The one table. Its order is the order of the generated file. */
static const sz_config_entry_t table[] = {
    {"listen", SZ_CFG_HOSTPORT, F(listen), 0, 0, "127.0.0.1:7433", NULL,
     "Address to listen on. Loopback only by default; 0.0.0.0:PORT or [::]:PORT accepts others.",
     0},
    {"advertise", SZ_CFG_HOSTPORT, F(advertise), 0, 0, "", NULL,
     "Address other hosts reach this node at, written into DIR/invite. Unset: the listen address.",
     1},
    {"node_name", SZ_CFG_STRING, F(node_name), 0, 64, "", NULL,
     "A name for people, shown by `samizdat status` (up to 64 characters).", 1},
    {"max_connections", SZ_CFG_INT, F(max_connections), 1, 1000000, "1024", NULL,
     "Open connections at most; further ones are refused.", 1},
    {"handshake_timeout_ms", SZ_CFG_INT, F(handshake_timeout_ms), 100, 600000, "10000", NULL,
     "A connection that has not finished its handshake after this long is closed.", 1},
    {"idle_timeout_ms", SZ_CFG_INT, F(idle_timeout_ms), 1000, 86400000, "300000", NULL,
     "A connection silent for this long is closed.", 1},
    {"max_frame", SZ_CFG_INT, F(max_frame), 1024, SZ_FRAME_MAX, "65535", NULL,
     "Largest frame accepted, in bytes (the wire format's own limit is the maximum).", 0},
    {"max_message", SZ_CFG_INT, F(max_message), 65536, SZ_MSG_MAX, "2097152", NULL,
     "Largest reassembled message, in bytes (bounds a record with its body).", 0},
    {"max_inflight_per_conn", SZ_CFG_INT, F(max_inflight_per_conn), 1, 65536, "65535", NULL,
     "Requests in progress per connection before the node stops reading from it (backpressure).",
     1},
    {"max_write_queue", SZ_CFG_SIZE, F(max_write_queue), 64 * KIB, 1 * GIB, "8M", NULL,
     "Bytes of replies queued to a slow reader before the node stops reading its requests.", 1},
    {"max_request_bytes", SZ_CFG_SIZE, F(max_request_bytes), 64 * KIB, 4 * GIB, "64M", NULL,
     "Bytes of requests one connection may have in progress before the node stops reading it.", 1},
    {"max_request_memory", SZ_CFG_SIZE, F(max_request_memory), 1 * MIB, 64 * GIB, "256M", NULL,
     "Bytes of requests all connections together may have in progress before reads pause.", 1},
    {"batch_max_records", SZ_CFG_INT, F(batch_max_records), 1, SZ_STORE_MAX_BATCH, "8192", NULL,
     "Group commit: records written in one transaction at most.", 1},
    {"verify_threads", SZ_CFG_INT, F(verify_threads), 0, 128, "0", NULL,
     "Threads checking signatures (the thread pool has two more); 0: one per CPU.", 0},
    {"submission", SZ_CFG_ENUM, F(submission), 0, 0, "open", submission_choices,
     "Who may submit new records: open (anyone holding an invite) or allowlist (contributors).", 1},
    {"contributor", SZ_CFG_PUBKEYS, F(contributors), 0, 0, "", NULL,
     "A contributor key allowed to submit under submission = allowlist (repeat the line).", 1},
    {"admin", SZ_CFG_PUBKEYS, F(admins), 0, 0, "", NULL,
     "An admin key: administers the node and may amend any record (repeat the line).", 1},
    {"editor", SZ_CFG_PUBKEYS, F(editors), 0, 0, "", NULL,
     "An editor key: may amend records written by others (repeat the line).", 1},
    {"seal_to", SZ_CFG_PUBKEYS, F(seal_to), 0, 16, "", NULL,
     "A default recipient of sealed records, announced to clients (repeat; at most 16).", 1},
    {"peer", SZ_CFG_INVITES, F(peers), 0, 0, "", NULL,
     "A peer's invite (repeat the line); DIR/peers holds the peers added at run time.", 1},
    {"log_level", SZ_CFG_ENUM, F(log_level), 0, 0, "info", log_level_choices,
     "Least important log lines written: error, warn, info or debug.", 1},
    {"log_connections", SZ_CFG_BOOL, F(log_connections), 0, 1, "yes", NULL,
     "Log every accepted and closed connection at level info.", 1},
    {"map_max_size", SZ_CFG_SIZE, F(map_max_size), 16 * MIB, 64 * TIB, "1T", NULL,
     "Largest size the archive's data file may grow to; writes fail with no space past it.", 0},
};

#undef F

#define NTABLE (sizeof(table) / sizeof(table[0]))

const sz_config_entry_t *sz_config_table(size_t *n) {
    *n = NTABLE;
    return table;
}

const sz_config_entry_t *sz_config_find(const char *name) {
    for (size_t i = 0; i < NTABLE; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

static void vfail(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (err != NULL && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
}

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t errlen, const char *fmt,
                                                       ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_list(sz_config_type_t t) {
    return t == SZ_CFG_PUBKEYS || t == SZ_CFG_INVITES;
}

int sz_keylist_has(const sz_keylist_t *l, const uint8_t key[static 32]) {
    for (size_t i = 0; i < l->n; i++)
        if (memcmp(l->keys[i], key, 32) == 0)
            return 1;
    return 0;
}

int sz_keylist_add(sz_keylist_t *l, const uint8_t key[static 32]) {
    if (sz_keylist_has(l, key))
        return 0;
    uint8_t(*k)[32] = realloc(l->keys, (l->n + 1) * sizeof(*k));
    if (k == NULL)
        return -ENOMEM;
    memcpy(k[l->n], key, 32);
    l->keys = k;
    l->n++;
    return 0;
}

static void strlist_free(sz_strlist_t *l) {
    for (size_t i = 0; i < l->n; i++) {
        sodium_memzero(l->items[i], strlen(l->items[i]));
        free(l->items[i]);
    }
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void sz_config_free(sz_config_t *cfg) {
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < NTABLE; i++) {
        void *field = (char *)cfg + table[i].offset;
        if (table[i].type == SZ_CFG_PUBKEYS) {
            sz_keylist_t *l = field;
            free(l->keys);
        } else if (table[i].type == SZ_CFG_INVITES) {
            strlist_free(field);
        }
    }
    memset(cfg, 0, sizeof(*cfg));
}

int sz_config_init(sz_config_t *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NTABLE; i++) {
        if (table[i].dflt[0] == '\0')
            continue;
        char err[SZ_CONFIG_ERR_MAX];
        int rc = sz_config_set(cfg, table[i].name, table[i].dflt, "default", 0, err, sizeof(err));
        if (rc != 0) {
            /* Only allocation can fail here: the table's defaults are tested. */
            sz_config_free(cfg);
            return rc == SZ_E_CONFIG ? -EINVAL : rc;
        }
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out, const char **end) {
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    *end = p;
    return 0;
}

static const char *type_words(const sz_config_entry_t *e) {
    switch (e->type) {
    case SZ_CFG_INT:
        return "a whole number";
    case SZ_CFG_SIZE:
        return "a size in bytes, with an optional K, M, G or T suffix";
    case SZ_CFG_BOOL:
        return "yes or no";
    case SZ_CFG_STRING:
        return "text";
    case SZ_CFG_HOSTPORT:
        return "HOST:PORT";
    case SZ_CFG_PUBKEYS:
        return "a public key (44 characters of base64)";
    case SZ_CFG_ENUM:
        return "one of the names listed";
    case SZ_CFG_INVITES:
        return "an invite (sz1,HOST:PORT,NODEKEY,NETKEY)";
    }
    return "?";
}

static void size_text(char *out, size_t cap, uint64_t v) {
    static const char suffix[] = "KMGT";
    int s = -1;
    while (v >= 1024 && v % 1024 == 0 && s < 3) {
        v /= 1024;
        s++;
    }
    if (s < 0)
        snprintf(out, cap, "%" PRIu64, v);
    else
        snprintf(out, cap, "%" PRIu64 "%c", v, suffix[s]);
}

static int set_number(const sz_config_entry_t *e, void *field, const char *value,
                      const char *origin, char *err, size_t errlen) {
    uint64_t v;
    const char *end;
    if (parse_u64(value, &v, &end) != 0) {
        fail(err, errlen, "%s: %s = %s is not %s", origin, e->name, value, type_words(e));
        return SZ_E_CONFIG;
    }
    if (e->type == SZ_CFG_SIZE && *end != '\0') {
        static const char units[] = "KMGT";
        const char *u = strchr(units, end[0] >= 'a' ? end[0] - ('a' - 'A') : end[0]);
        if (end[0] == '\0' || u == NULL || end[1] != '\0') {
            fail(err, errlen, "%s: %s = %s is not %s", origin, e->name, value, type_words(e));
            return SZ_E_CONFIG;
        }
        for (const char *k = units; k <= u; k++) {
            if (v > UINT64_MAX / 1024) {
                fail(err, errlen, "%s: %s = %s is too large (maximum %" PRIu64 ")", origin, e->name,
                     value, e->max);
                return SZ_E_CONFIG;
            }
            v *= 1024;
        }
        end += 1;
    }
    if (*end != '\0') {
        fail(err, errlen, "%s: %s = %s is not %s", origin, e->name, value, type_words(e));
        return SZ_E_CONFIG;
    }
    char bound[32];
    if (v < e->min) {
        if (e->type == SZ_CFG_SIZE)
            size_text(bound, sizeof(bound), e->min);
        else
            snprintf(bound, sizeof(bound), "%" PRIu64, e->min);
        fail(err, errlen, "%s: %s = %s is below the minimum %s", origin, e->name, value, bound);
        return SZ_E_CONFIG;
    }
    if (v > e->max) {
        if (e->type == SZ_CFG_SIZE)
            size_text(bound, sizeof(bound), e->max);
        else
            snprintf(bound, sizeof(bound), "%" PRIu64, e->max);
        fail(err, errlen, "%s: %s = %s is above the maximum %s", origin, e->name, value, bound);
        return SZ_E_CONFIG;
    }
    if (e->type == SZ_CFG_SIZE)
        *(uint64_t *)field = v;
    else
        *(uint32_t *)field = (uint32_t)v;
    return 0;
}

static int set_bool(const sz_config_entry_t *e, int *field, const char *value, const char *origin,
                    char *err, size_t errlen) {
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(value, yes[i]) == 0) {
            *field = 1;
            return 0;
        }
        if (strcmp(value, no[i]) == 0) {
            *field = 0;
            return 0;
        }
    }
    fail(err, errlen, "%s: %s = %s is not yes or no", origin, e->name, value);
    return SZ_E_CONFIG;
}

static int set_enum(const sz_config_entry_t *e, int *field, const char *value, const char *origin,
                    char *err, size_t errlen) {
    char names[128] = "";
    for (int i = 0; e->choices[i] != NULL; i++) {
        if (strcmp(value, e->choices[i]) == 0) {
            *field = i;
            return 0;
        }
        if (i > 0)
            strncat(names, ", ", sizeof(names) - strlen(names) - 1);
        strncat(names, e->choices[i], sizeof(names) - strlen(names) - 1);
    }
    fail(err, errlen, "%s: %s = %.64s is not one of: %s", origin, e->name, value, names);
    return SZ_E_CONFIG;
}

static int add_invite(const sz_config_entry_t *e, sz_strlist_t *l, const char *value,
                      const char *origin, char *err, size_t errlen) {
    sz_invite_t inv;
    const char *why = NULL;
    int rc = sz_invite_parse_why(value, &inv, &why);
    sz_invite_wipe(&inv);
    if (rc != 0) {
        /* The value is not echoed: it may hold a network key. */
        fail(err, errlen, "%s: %s is not a valid invite: %s", origin, e->name,
             why ? why : sz_invite_strerror(rc));
        return SZ_E_CONFIG;
    }
    if (l->n >= SZ_CONFIG_LIST_MAX) {
        fail(err, errlen, "%s: more than %d %s lines", origin, SZ_CONFIG_LIST_MAX, e->name);
        return SZ_E_CONFIG;
    }
    char *copy = strdup(value);
    if (copy == NULL)
        return -ENOMEM;
    size_t n = strlen(copy);
    while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == '\r'))
        copy[--n] = '\0';
    char **items = realloc(l->items, (l->n + 1) * sizeof(*items));
    if (items == NULL) {
        sodium_memzero(copy, n);
        free(copy);
        return -ENOMEM;
    }
    items[l->n++] = copy;
    l->items = items;
    return 0;
}

int sz_config_set(sz_config_t *cfg, const char *key, const char *value, const char *origin,
                  unsigned flags, char *err, size_t errlen) {
    (void)
        flags; /* scalars always replace here; sz_config_parse() is where duplicates are refused */
    const sz_config_entry_t *e = sz_config_find(key);
    if (e == NULL) {
        fail(err, errlen, "%s: unknown key '%.64s' (the keys are listed in DIR/samizdatd.conf)",
             origin, key);
        return SZ_E_CONFIG;
    }
    void *field = (char *)cfg + e->offset;
    if (value[0] == '\0') {
        fail(err, errlen, "%s: %s has no value (expected %s)", origin, e->name, type_words(e));
        return SZ_E_CONFIG;
    }
    switch (e->type) {
    case SZ_CFG_INT:
    case SZ_CFG_SIZE:
        return set_number(e, field, value, origin, err, errlen);
    case SZ_CFG_BOOL:
        return set_bool(e, field, value, origin, err, errlen);
    case SZ_CFG_ENUM:
        return set_enum(e, field, value, origin, err, errlen);
    case SZ_CFG_STRING: {
        size_t n = strlen(value);
        if (n < e->min || n > e->max || n >= SZ_CONFIG_STRING_MAX) {
            fail(err, errlen, "%s: %s is %zu characters long; the maximum is %" PRIu64, origin,
                 e->name, n, e->max);
            return SZ_E_CONFIG;
        }
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                fail(err, errlen, "%s: %s holds a control character", origin, e->name);
                return SZ_E_CONFIG;
            }
        memcpy(field, value, n + 1);
        return 0;
    }
    case SZ_CFG_HOSTPORT: {
        sz_hostport_t *hp = field;
        const char *why = NULL;
        sz_hostport_t tmp;
        int rc = sz_hostport_parse(value, tmp.host, &tmp.port, &why);
        if (rc != 0) {
            fail(err, errlen, "%s: %s = %.300s is not HOST:PORT: %s", origin, e->name, value,
                 why ? why : sz_strerror(rc));
            return SZ_E_CONFIG;
        }
        *hp = tmp;
        return 0;
    }
    case SZ_CFG_PUBKEYS: {
        sz_keylist_t *l = field;
        uint8_t pk[32];
        if (sz_pubkey_parse(pk, value) != 0) {
            fail(err, errlen,
                 "%s: %s = %.64s is not a public key (44 characters of base64, as "
                 "`samizdat keygen` prints)",
                 origin, e->name, value);
            return SZ_E_CONFIG;
        }
        /* A key list's max, when set, is its own bound (seal_to must fit in STATUS_OK). */
        size_t cap = e->max > 0 ? (size_t)e->max : SZ_CONFIG_LIST_MAX;
        if (l->n >= cap && !sz_keylist_has(l, pk)) {
            fail(err, errlen, "%s: more than %zu %s lines", origin, cap, e->name);
            return SZ_E_CONFIG;
        }
        return sz_keylist_add(l, pk);
    }
    case SZ_CFG_INVITES:
        return add_invite(e, field, value, origin, err, errlen);
    }
    return SZ_E_CONFIG;
}

static int valid_key_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

int sz_config_parse(sz_config_t *cfg, const char *text, size_t len, const char *name, char *err,
                    size_t errlen) {
    unsigned seen[NTABLE];
    memset(seen, 0, sizeof(seen));
    if (len > SZ_CONFIG_FILE_MAX) {
        fail(err, errlen, "%s: the file is larger than %u bytes", name, SZ_CONFIG_FILE_MAX);
        return SZ_E_CONFIG;
    }
    if (memchr(text, '\0', len) != NULL) {
        fail(err, errlen, "%s: the file holds a NUL byte; is it a text file?", name);
        return SZ_E_CONFIG;
    }
    unsigned lineno = 0;
    size_t pos = 0;
    char line[4096];
    while (pos < len) {
        lineno++;
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *s = text + pos;
        pos += n + (nl ? 1 : 0);
        if (n >= sizeof(line)) {
            fail(err, errlen, "%s:%u: the line is longer than %zu characters", name, lineno,
                 sizeof(line) - 1);
            return SZ_E_CONFIG;
        }
        memcpy(line, s, n);
        line[n] = '\0';
        /* Trim both ends (CR of CRLF files included). */
        char *b = line;
        while (*b == ' ' || *b == '\t' || *b == '\r')
            b++;
        char *end = b + strlen(b);
        while (end > b && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
            *--end = '\0';
        if (*b == '\0' || *b == '#')
            continue;
        char *eq = strchr(b, '=');
        char *k_end = eq ? eq : end;
        while (k_end > b && (k_end[-1] == ' ' || k_end[-1] == '\t'))
            k_end--;
        char key[65];
        size_t kn = (size_t)(k_end - b);
        if (kn == 0 || kn >= sizeof(key)) {
            fail(err, errlen, "%s:%u: expected `key = value`", name, lineno);
            return SZ_E_CONFIG;
        }
        memcpy(key, b, kn);
        key[kn] = '\0';
        for (size_t i = 0; i < kn; i++)
            if (!valid_key_char(key[i])) {
                fail(err, errlen, "%s:%u: expected `key = value`, not '%.64s'", name, lineno, key);
                return SZ_E_CONFIG;
            }
        const sz_config_entry_t *e = sz_config_find(key);
        char origin[300];
        snprintf(origin, sizeof(origin), "%s:%u", name, lineno);
        if (e == NULL) {
            fail(err, errlen, "%s: unknown key '%s' (the keys are listed in DIR/samizdatd.conf)",
                 origin, key);
            return SZ_E_CONFIG;
        }
        if (eq == NULL) {
            fail(err, errlen, "%s: expected `%s = value`", origin, key);
            return SZ_E_CONFIG;
        }
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t idx = (size_t)(e - table);
        if (!is_list(e->type)) {
            if (seen[idx] != 0) {
                fail(err, errlen, "%s: %s is set twice (first on line %u); it takes one value",
                     origin, key, seen[idx]);
                return SZ_E_CONFIG;
            }
            seen[idx] = lineno;
        }
        int rc = sz_config_set(cfg, key, v, origin, 0, err, errlen);
        if (e->type == SZ_CFG_INVITES)
            sodium_memzero(line, sizeof(line));
        if (rc != 0)
            return rc;
    }
    sodium_memzero(line, sizeof(line));
    return 0;
}

int sz_config_load(sz_config_t *cfg, const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        fail(err, errlen, "cannot read config %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fail(err, errlen, "cannot read config %s: not a regular file", path);
        close(fd);
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > SZ_CONFIG_FILE_MAX) {
        fail(err, errlen, "%s: the file is larger than %u bytes", path, SZ_CONFIG_FILE_MAX);
        close(fd);
        return SZ_E_CONFIG;
    }
    size_t cap = (size_t)st.st_size + 1;
    char *buf = malloc(cap);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t len = 0;
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            fail(err, errlen, "cannot read config %s: %s", path, strerror(e));
            free(buf);
            close(fd);
            return -e;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    int rc = len >= cap ? SZ_E_CONFIG : sz_config_parse(cfg, buf, len, path, err, errlen);
    if (len >= cap)
        fail(err, errlen, "%s: the file grew while it was read", path);
    /* Peer lines hold the network key. */
    sodium_memzero(buf, len);
    free(buf);
    return rc;
}

/* A growing malloc'd string. */
typedef struct buf_s {
    char *p;
    size_t len, cap;
    int oom;
} buf_t;

static int vput(buf_t *b, const char *fmt, va_list ap) {
    return vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
}

__attribute__((format(printf, 2, 3))) static void add(buf_t *b, const char *fmt, ...) {
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vput(b, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 1;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
}

static void bounds_text(buf_t *b, const sz_config_entry_t *e) {
    char lo[32], hi[32];
    switch (e->type) {
    case SZ_CFG_INT:
        add(b, "# type: integer from %" PRIu64 " to %" PRIu64, e->min, e->max);
        break;
    case SZ_CFG_SIZE:
        size_text(lo, sizeof(lo), e->min);
        size_text(hi, sizeof(hi), e->max);
        add(b, "# type: size from %s to %s (suffix K, M, G or T)", lo, hi);
        break;
    case SZ_CFG_BOOL:
        add(b, "# type: yes or no");
        break;
    case SZ_CFG_STRING:
        add(b, "# type: text of up to %" PRIu64 " characters", e->max);
        break;
    case SZ_CFG_HOSTPORT:
        add(b, "# type: HOST:PORT (IPv4, DNS name or [IPv6]; port 1 to 65535)");
        break;
    case SZ_CFG_PUBKEYS:
        add(b, "# type: list of public keys, one `%s = KEY` line each", e->name);
        break;
    case SZ_CFG_ENUM:
        add(b, "# type: one of");
        for (int i = 0; e->choices[i] != NULL; i++)
            add(b, "%s %s", i ? "," : "", e->choices[i]);
        break;
    case SZ_CFG_INVITES:
        add(b, "# type: list of invites, one `%s = INVITE` line each", e->name);
        break;
    }
    if (e->dflt[0] != '\0')
        add(b, "; default: %s", e->dflt);
    else if (is_list(e->type))
        add(b, "; default: none");
    else
        add(b, "; default: unset");
    add(b, "%s\n", e->reloadable ? "" : "; needs a restart");
}

int sz_config_default_text(char **text) {
    buf_t b = {.p = malloc(4096), .len = 0, .cap = 4096, .oom = 0};
    if (b.p == NULL)
        return -ENOMEM;
    b.p[0] = '\0';
    add(&b, "# samizdatd configuration, written on the node's first start.\n"
            "# Syntax: `key = value` per line; lines starting with # are comments; a list key\n"
            "# is repeated, one value per line. An unknown key is an error. Command-line flags\n"
            "# override this file (--listen replaces listen; --admin adds to the admin list).\n"
            "# Changes take effect when samizdatd starts: reload on SIGHUP is not implemented\n"
            "# yet. Keys marked \"needs a restart\" will need one even when it is.\n");
    for (size_t i = 0; i < NTABLE; i++) {
        const sz_config_entry_t *e = &table[i];
        add(&b, "\n# %s\n", e->description);
        bounds_text(&b, e);
        if (is_list(e->type))
            add(&b, "#%s = %s\n", e->name, e->type == SZ_CFG_INVITES ? "INVITE" : "KEY");
        else if (e->dflt[0] == '\0')
            add(&b, "#%s = \n", e->name);
        else
            add(&b, "%s = %s\n", e->name, e->dflt);
    }
    if (b.oom) {
        free(b.p);
        return -ENOMEM;
    }
    *text = b.p;
    return 0;
}

int sz_config_value_text(char *out, size_t cap, const sz_config_t *cfg,
                         const sz_config_entry_t *e) {
    const void *field = (const char *)cfg + e->offset;
    char tmp[SZ_CONFIG_STRING_MAX + SZ_HOSTPORT_MAX + 64];
    tmp[0] = '\0';
    switch (e->type) {
    case SZ_CFG_INT:
        snprintf(tmp, sizeof(tmp), "%" PRIu32, *(const uint32_t *)field);
        break;
    case SZ_CFG_SIZE:
        size_text(tmp, sizeof(tmp), *(const uint64_t *)field);
        break;
    case SZ_CFG_BOOL:
        snprintf(tmp, sizeof(tmp), "%s", *(const int *)field ? "yes" : "no");
        break;
    case SZ_CFG_STRING:
        snprintf(tmp, sizeof(tmp), "%s", (const char *)field);
        break;
    case SZ_CFG_HOSTPORT: {
        const sz_hostport_t *hp = field;
        if (hp->host[0] != '\0' && sz_hostport_format(tmp, sizeof(tmp), hp->host, hp->port) < 0)
            tmp[0] = '\0';
        break;
    }
    case SZ_CFG_ENUM:
        snprintf(tmp, sizeof(tmp), "%s", e->choices[*(const int *)field]);
        break;
    case SZ_CFG_INVITES:
        snprintf(tmp, sizeof(tmp), "(%zu invites)", ((const sz_strlist_t *)field)->n);
        break;
    case SZ_CFG_PUBKEYS: {
        const sz_keylist_t *l = field;
        size_t len = 0;
        for (size_t i = 0; i < l->n; i++) {
            char k[SZ_PUBKEY_TEXT_LEN + 1];
            sz_pubkey_format(k, l->keys[i]);
            size_t need = (i ? 2 : 0) + SZ_PUBKEY_TEXT_LEN;
            if (len + need + 1 > cap)
                return SZ_E_TOO_LARGE;
            if (i) {
                memcpy(out + len, ", ", 2);
                len += 2;
            }
            memcpy(out + len, k, SZ_PUBKEY_TEXT_LEN);
            len += SZ_PUBKEY_TEXT_LEN;
        }
        if (cap == 0)
            return SZ_E_TOO_LARGE;
        out[len] = '\0';
        return (int)len;
    }
    }
    size_t n = strlen(tmp);
    if (n + 1 > cap)
        return SZ_E_TOO_LARGE;
    memcpy(out, tmp, n + 1);
    return (int)n;
}
