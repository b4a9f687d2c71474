/* key=value log lines (see log.h). */
#include "log.h"

#include "encoding.h"
#include "error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sz__log_level = SZ_LOG_INFO;

static sz_log_sink_cb log_sink;
static void *log_sink_arg;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void sz_log_set_level(int level) {
    if (level < SZ_LOG_ERROR)
        level = SZ_LOG_ERROR;
    if (level > SZ_LOG_DEBUG)
        level = SZ_LOG_DEBUG;
    sz__log_level = level;
}

int sz_log_level_parse(const char *name, int *level) {
    for (int i = 0; i <= SZ_LOG_DEBUG; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *level = i;
            return 0;
        }
    return SZ_E_ARGUMENT;
}

const char *sz_log_level_name(int level) {
    return level >= 0 && level <= SZ_LOG_DEBUG ? level_names[level] : "?";
}

void sz_log_set_sink(sz_log_sink_cb sink, void *arg) {
    log_sink = sink;
    log_sink_arg = arg;
}

/* A line under construction. Room for the "...\n" tail is kept back, so a line that does not fit
 * still ends cleanly. */
typedef struct line_s {
    char *buf;
    size_t cap; /* usable bytes, tail excluded */
    size_t len;
    int cut;
} line_t;

static void put(line_t *l, const char *s, size_t n) {
    if (l->cut)
        return;
    if (n > l->cap - l->len) {
        l->cut = 1;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(line_t *l, const char *s) {
    put(l, s, strlen(s));
}

static void putc_(line_t *l, char c) {
    put(l, &c, 1);
}

static void put_hexbyte(line_t *l, unsigned char c) {
    static const char hex[] = "0123456789abcdef";
    char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
    put(l, e, 4);
}

/* Whether a byte needs the value quoted. Peer text also treats bytes >= 0x80 as unsafe, since it
 * may not be UTF-8 at all. */
static int unsafe(unsigned char c, int peer) {
    return c < 0x20 || c == 0x7f || (peer && c >= 0x80);
}

static void put_value(line_t *l, const char *s, size_t n, int peer) {
    size_t shown = n;
    int capped = 0;
    if (peer && n > SZ_LOG_PEER_MAX) {
        shown = SZ_LOG_PEER_MAX;
        capped = 1;
    }
    int quote = shown == 0 || capped;
    for (size_t i = 0; i < shown && !quote; i++) {
        unsigned char c = (unsigned char)s[i];
        quote = c == ' ' || c == '"' || c == '=' || c == '\\' || unsafe(c, peer);
    }
    if (!quote) {
        put(l, s, shown);
        return;
    }
    putc_(l, '"');
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            putc_(l, '\\');
            putc_(l, (char)c);
        } else if (unsafe(c, peer)) {
            put_hexbyte(l, c);
        } else {
            putc_(l, (char)c);
        }
    }
    if (capped)
        puts_(l, "...");
    putc_(l, '"');
}

/* Keys are ours, but a stray character must not break the line's grammar either. */
static void put_key(line_t *l, const char *k) {
    for (; *k; k++) {
        unsigned char c = (unsigned char)*k;
        putc_(l, (c > 0x20 && c < 0x7f && c != '=' && c != '"') ? (char)c : '_');
    }
}

static void put_field(line_t *l, const sz_logfield_t *f) {
    char tmp[80];
    putc_(l, ' ');
    put_key(l, f->key ? f->key : "?");
    putc_(l, '=');
    switch (f->type) {
    case SZ__LF_STR:
        put_value(l, f->v.s ? f->v.s : "", f->v.s ? strlen(f->v.s) : 0, 0);
        break;
    case SZ__LF_PEER:
        put_value(l, f->v.s ? f->v.s : "", f->v.s ? strnlen(f->v.s, SZ_LOG_PEER_MAX + 1) : 0, 1);
        break;
    case SZ__LF_PEERN:
        put_value(l, f->v.s ? f->v.s : "", f->v.s ? f->len : 0, 1);
        break;
    case SZ__LF_INT:
        snprintf(tmp, sizeof(tmp), "%" PRId64, f->v.i);
        puts_(l, tmp);
        break;
    case SZ__LF_UINT:
        snprintf(tmp, sizeof(tmp), "%" PRIu64, f->v.u);
        puts_(l, tmp);
        break;
    case SZ__LF_F64:
        snprintf(tmp, sizeof(tmp), "%.3f", f->v.f);
        puts_(l, tmp);
        break;
    case SZ__LF_PUBKEY:
        if (f->v.b == NULL) {
            puts_(l, "-");
        } else {
            sz_pubkey_format(tmp, f->v.b);
            puts_(l, tmp);
        }
        break;
    case SZ__LF_HASH:
        if (f->v.b == NULL) {
            puts_(l, "-");
        } else {
            sz_hex_encode(tmp, f->v.b, 32);
            puts_(l, tmp);
        }
        break;
    case SZ__LF_ERR:
        puts_(l, sz_errname((int)f->v.i));
        break;
    case SZ__LF_END:
        break;
    }
}

size_t sz_log_format(char *out, size_t cap, int level, const char *event,
                     const sz_logfield_t *fields) {
    static const char tail[] = "...\n";
    if (cap < sizeof(tail)) {
        if (cap > 0)
            out[0] = '\0';
        return 0;
    }
    line_t l = {.buf = out, .cap = cap - sizeof(tail), .len = 0, .cut = 0};
    struct timespec ts;
    struct tm tm;
    char stamp[96];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof(stamp), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(ts.tv_nsec / 1000000L) % 1000);
    puts_(&l, stamp);
    puts_(&l, " level=");
    puts_(&l, sz_log_level_name(level));
    puts_(&l, " event=");
    put_key(&l, event ? event : "?");
    for (const sz_logfield_t *f = fields; f != NULL && f->type != SZ__LF_END; f++)
        put_field(&l, f);
    if (l.cut) {
        memcpy(out + l.len, tail, sizeof(tail));
        return l.len + sizeof(tail) - 1;
    }
    out[l.len++] = '\n';
    out[l.len] = '\0';
    return l.len;
}

void sz__log_write(int level, const char *event, const sz_logfield_t *fields) {
    char line[SZ_LOG_LINE_MAX + 1];
    size_t n = sz_log_format(line, sizeof(line), level, event, fields);
    if (log_sink != NULL) {
        log_sink(log_sink_arg, line, n);
        return;
    }
    /* One write per line, so lines from several threads do not interleave. */
    fwrite(line, 1, n, stderr);
    fflush(stderr);
}
