/* The message catalogue codec (WIRE.md section 8). */
#include "msg.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "record.h"

/* ---- Writer: counts when out is NULL, so one code path gives both the size and the bytes. ---- */

typedef struct wr_s {
    uint8_t *out;
    size_t cap, len;
    int err;
} wr_t;

static void wr_bytes(wr_t *w, const void *p, size_t n) {
    if (w->out != NULL && !w->err) {
        if (n > w->cap - w->len || w->len > w->cap) {
            w->err = SZ_E_ARGUMENT;
            return;
        }
        if (n > 0)
            memcpy(w->out + w->len, p, n);
    }
    w->len += n;
}

static void wr_u8(wr_t *w, uint8_t v) {
    wr_bytes(w, &v, 1);
}

static void wr_u16(wr_t *w, uint16_t v) {
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 2);
}

static void wr_u32(wr_t *w, uint32_t v) {
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    wr_bytes(w, b, 4);
}

static void wr_u64(wr_t *w, uint64_t v) {
    wr_u32(w, (uint32_t)(v >> 32));
    wr_u32(w, (uint32_t)v);
}

static int finish(wr_t *w, size_t *out_len) {
    if (w->err)
        return w->err;
    *out_len = w->len;
    return 0;
}

/* ---- Reader ---- */

typedef struct rd_s {
    const uint8_t *p;
    size_t len, off;
    int err;
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
    if (r->err)
        return NULL;
    if (n > r->len - r->off) {
        r->err = SZ_E_TRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

static uint8_t rd_u8(rd_t *r) {
    const uint8_t *p = rd_take(r, 1);
    return p ? p[0] : 0;
}

static uint16_t rd_u16(rd_t *r) {
    const uint8_t *p = rd_take(r, 2);
    return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

static uint32_t rd_u32(rd_t *r) {
    const uint8_t *p = rd_take(r, 4);
    return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3] : 0;
}

static uint64_t rd_u64(rd_t *r) {
    uint64_t hi = rd_u32(r);
    return (hi << 32) | rd_u32(r);
}

static void rd_copy(rd_t *r, uint8_t *dst, size_t n) {
    const uint8_t *p = rd_take(r, n);
    if (p != NULL)
        memcpy(dst, p, n);
}

static void rd_fail(rd_t *r, int err) {
    if (!r->err)
        r->err = err;
}

/* Reads a u16 element count that must lie in [min, max] (else MALFORMED) and fit the caller's
 * array of cap entries (else TOO_LARGE; a NULL array holds none). Returns the count, 0 on error. */
static uint16_t rd_count(rd_t *r, unsigned min, unsigned max, size_t cap, const void *array) {
    uint16_t n = rd_u16(r);
    if (!r->err && (n < min || n > max))
        rd_fail(r, SZ_E_MALFORMED);
    else if (!r->err && n > 0 && (n > cap || array == NULL))
        rd_fail(r, SZ_E_TOO_LARGE);
    return r->err ? 0 : n;
}

static int rd_end(rd_t *r, int strict) {
    if (r->err)
        return r->err;
    if (strict && r->off != r->len)
        return SZ_E_TRAILING;
    return 0;
}

/* Text without control bytes; UTF-8 validity is the application's concern. */
static int text_ok(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] == 0x7F)
            return 0;
    return 1;
}

static int ascii_ok(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] >= 0x7F)
            return 0;
    return 1;
}

static int hex_ok(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Reads a length-prefixed string of lenbytes (1 or 2) into a NUL-terminated array holding
 * at least max + 1 bytes, checking min..max and the byte class. */
enum { CLS_TEXT, CLS_ASCII, CLS_HEX };

static void rd_cstr(rd_t *r, int lenbytes, char *dst, size_t min, size_t max, int cls) {
    size_t n = lenbytes == 1 ? rd_u8(r) : rd_u16(r);
    if (r->err)
        return;
    if (n < min || n > max) {
        rd_fail(r, SZ_E_MALFORMED);
        return;
    }
    const uint8_t *p = rd_take(r, n);
    if (p == NULL)
        return;
    int ok = cls == CLS_HEX ? hex_ok(p, n) : cls == CLS_ASCII ? ascii_ok(p, n) : text_ok(p, n);
    if (!ok) {
        rd_fail(r, SZ_E_MALFORMED);
        return;
    }
    memcpy(dst, p, n);
    dst[n] = '\0';
}

/* Writes a C string (checked against min..max and the byte class) with its length prefix. */
static void wr_cstr(wr_t *w, int lenbytes, const char *s, size_t min, size_t max, int cls) {
    size_t n = strnlen(s, max + 1);
    const uint8_t *p = (const uint8_t *)s;
    int ok = cls == CLS_HEX ? hex_ok(p, n) : cls == CLS_ASCII ? ascii_ok(p, n) : text_ok(p, n);
    if (n < min || n > max || !ok) {
        w->err = SZ_E_ARGUMENT;
        return;
    }
    if (lenbytes == 1)
        wr_u8(w, (uint8_t)n);
    else
        wr_u16(w, (uint16_t)n);
    wr_bytes(w, p, n);
}

static wr_t wr_init(uint8_t *out, size_t cap) {
    return (wr_t){.out = out, .cap = cap};
}
static rd_t rd_init(const uint8_t *in, size_t len) {
    return (rd_t){.p = in, .len = in ? len : 0, .err = (in == NULL && len) ? SZ_E_ARGUMENT : 0};
}

/* ---- HELLO ---- */

int sz_msg_hello_encode(const sz_msg_hello_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    uint8_t vl[1 + 2 * SZ_HELLO_MAX_VERSIONS];
    size_t vn;
    int rc = sz_hello_encode(&m->versions, vl, sizeof vl, &vn);
    if (rc < 0)
        return rc;
    if (m->role != SZ_ROLE_CLIENT && m->role != SZ_ROLE_MIRROR)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, vl, vn);
    wr_u8(&w, m->role);
    wr_cstr(&w, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    return finish(&w, out_len);
}

int sz_msg_hello_decode(sz_msg_hello_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    int rc = sz_hello_decode(&m->versions, in, len);
    if (rc < 0)
        return rc;
    rd_t r = rd_init(in, len);
    r.off = 1 + 2 * (size_t)m->versions.count;
    m->role = rd_u8(&r);
    if (!r.err && m->role != SZ_ROLE_CLIENT && m->role != SZ_ROLE_MIRROR)
        rd_fail(&r, SZ_E_MALFORMED);
    rd_cstr(&r, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    return rd_end(&r, 0);
}

/* ---- HELLO_OK ---- */

int sz_msg_hello_ok_encode(const sz_msg_hello_ok_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->version == 0 || m->max_message == 0 || m->max_message > SZ_MSG_MAX ||
        m->max_inflight == 0)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->version);
    wr_bytes(&w, m->node_key, 32);
    wr_cstr(&w, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    wr_u32(&w, m->max_message);
    wr_u16(&w, m->max_inflight);
    return finish(&w, out_len);
}

int sz_msg_hello_ok_decode(sz_msg_hello_ok_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    m->version = rd_u16(&r);
    rd_copy(&r, m->node_key, 32);
    rd_cstr(&r, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    m->max_message = rd_u32(&r);
    m->max_inflight = rd_u16(&r);
    if (!r.err && (m->version == 0 || m->max_message == 0 || m->max_message > SZ_MSG_MAX ||
                   m->max_inflight == 0))
        rd_fail(&r, SZ_E_MALFORMED);
    return rd_end(&r, 0);
}

/* ---- ERROR helper ---- */

void sz_msg_error_make(sz_error_msg_t *e, int code, const char *text,
                       char buf[static SZ_ERROR_MAX_TEXT]) {
    size_t n = 0;
    if (text != NULL) {
        n = strnlen(text, SZ_ERROR_MAX_TEXT + 1);
        if (n > SZ_ERROR_MAX_TEXT) {
            n = SZ_ERROR_MAX_TEXT;
            /* Cut before a UTF-8 continuation byte so the text stays well formed. */
            while (n > 0 && ((uint8_t)text[n] & 0xC0) == 0x80)
                n--;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t c = (uint8_t)text[i];
            buf[i] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
        }
    }
    memset(e, 0, sizeof *e);
    e->code = (code < 0 && code != SZ_E_UPGRADE) ? code : SZ_E_PROTOCOL;
    e->text = buf;
    e->text_len = n;
}

/* ---- SUBMIT ---- */

int sz_msg_submit_encode(const sz_msg_submit_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->len == 0 || m->len > SZ_RECORD_MAX_LEN || m->envelope == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->envelope, m->len);
    return finish(&w, out_len);
}

int sz_msg_submit_decode(sz_msg_submit_t *m, const uint8_t *in, size_t len) {
    m->envelope = NULL;
    m->len = 0;
    if (len == 0 || in == NULL)
        return SZ_E_TRUNCATED;
    if (len > SZ_RECORD_MAX_LEN)
        return SZ_E_TOO_LARGE;
    m->envelope = in;
    m->len = len;
    return 0;
}

/* ---- SUBMITTED ---- */

int sz_msg_submitted_encode(const sz_msg_submitted_t *m, uint8_t *out, size_t cap,
                            size_t *out_len) {
    if (m->flags & ~SZ_SUBMIT_FLAGS_KNOWN)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->version_hash, 32);
    wr_bytes(&w, m->record_id, 32);
    wr_u64(&w, m->seq);
    wr_u8(&w, m->flags);
    return finish(&w, out_len);
}

int sz_msg_submitted_decode(sz_msg_submitted_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->version_hash, 32);
    rd_copy(&r, m->record_id, 32);
    m->seq = rd_u64(&r);
    m->flags = rd_u8(&r);
    if (!r.err && (m->flags & ~SZ_SUBMIT_FLAGS_KNOWN))
        rd_fail(&r, SZ_E_MALFORMED);
    return rd_end(&r, 1);
}

/* ---- GET, HISTORY ---- */

int sz_msg_get_encode(const sz_msg_get_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_cstr(&w, 1, m->id, 1, SZ_MSG_MAX_HEX, CLS_HEX);
    wr_cstr(&w, 1, m->version, 0, SZ_MSG_MAX_HEX, CLS_HEX);
    return finish(&w, out_len);
}

int sz_msg_get_decode(sz_msg_get_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_cstr(&r, 1, m->id, 1, SZ_MSG_MAX_HEX, CLS_HEX);
    rd_cstr(&r, 1, m->version, 0, SZ_MSG_MAX_HEX, CLS_HEX);
    return rd_end(&r, 1);
}

int sz_msg_history_encode(const sz_msg_history_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_cstr(&w, 1, m->id, 1, SZ_MSG_MAX_HEX, CLS_HEX);
    return finish(&w, out_len);
}

int sz_msg_history_decode(sz_msg_history_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_cstr(&r, 1, m->id, 1, SZ_MSG_MAX_HEX, CLS_HEX);
    return rd_end(&r, 1);
}

/* ---- RECORD ---- */

int sz_msg_record_encode(const sz_msg_record_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->nheads == 0 || m->nheads > SZ_MSG_MAX_HEADS || m->heads == NULL ||
        m->envelope_len == 0 || m->envelope_len > SZ_RECORD_MAX_LEN || m->envelope == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->record_id, 32);
    wr_bytes(&w, m->current, 32);
    wr_u32(&w, m->generation);
    wr_u64(&w, m->first_created);
    wr_u32(&w, m->nversions);
    wr_u16(&w, m->nheads);
    wr_bytes(&w, m->heads, (size_t)m->nheads * 32);
    wr_bytes(&w, m->version_hash, 32);
    wr_u32(&w, (uint32_t)m->envelope_len);
    wr_bytes(&w, m->envelope, m->envelope_len);
    return finish(&w, out_len);
}

/* A blob32 envelope of 1..SZ_RECORD_MAX_LEN bytes. */
static const uint8_t *rd_envelope(rd_t *r, size_t *n) {
    uint32_t l = rd_u32(r);
    *n = 0;
    if (r->err)
        return NULL;
    if (l == 0 || l > SZ_RECORD_MAX_LEN) {
        rd_fail(r, SZ_E_MALFORMED);
        return NULL;
    }
    const uint8_t *p = rd_take(r, l);
    if (p != NULL)
        *n = l;
    return p;
}

int sz_msg_record_decode(sz_msg_record_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->record_id, 32);
    rd_copy(&r, m->current, 32);
    m->generation = rd_u32(&r);
    m->first_created = rd_u64(&r);
    m->nversions = rd_u32(&r);
    m->nheads = rd_u16(&r);
    if (!r.err && (m->nheads == 0 || m->nheads > SZ_MSG_MAX_HEADS))
        rd_fail(&r, SZ_E_MALFORMED);
    m->heads = rd_take(&r, (size_t)m->nheads * 32);
    rd_copy(&r, m->version_hash, 32);
    m->envelope = rd_envelope(&r, &m->envelope_len);
    return rd_end(&r, 1);
}

/* ---- VERSION, END ---- */

int sz_msg_version_encode(const sz_msg_version_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->envelope_len == 0 || m->envelope_len > SZ_RECORD_MAX_LEN || m->envelope == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u64(&w, m->seq);
    wr_bytes(&w, m->version_hash, 32);
    wr_u32(&w, m->generation);
    wr_u32(&w, (uint32_t)m->envelope_len);
    wr_bytes(&w, m->envelope, m->envelope_len);
    return finish(&w, out_len);
}

int sz_msg_version_decode(sz_msg_version_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    m->seq = rd_u64(&r);
    rd_copy(&r, m->version_hash, 32);
    m->generation = rd_u32(&r);
    m->envelope = rd_envelope(&r, &m->envelope_len);
    return rd_end(&r, 1);
}

int sz_msg_end_encode(const sz_msg_end_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_u32(&w, m->count);
    return finish(&w, out_len);
}

int sz_msg_end_decode(sz_msg_end_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    m->count = rd_u32(&r);
    return rd_end(&r, 1);
}

/* ---- LIST, LIST_PAGE ---- */

static int kind_ok(unsigned k) {
    return k >= SZ_KIND_TESTIMONY && k <= SZ_KIND_REVOCATION;
}

int sz_msg_list_encode(const sz_msg_list_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if ((m->kind != 0 && !kind_ok(m->kind)) || m->order > SZ_LIST_NEWEST_FIRST || m->limit == 0 ||
        m->limit > SZ_MSG_MAX_LIST || m->nfilters > SZ_MSG_MAX_FILTERS)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u8(&w, m->kind);
    wr_u8(&w, m->order);
    wr_u16(&w, m->limit);
    wr_cstr(&w, 1, m->cursor, 0, SZ_MSG_MAX_CURSOR, CLS_ASCII);
    wr_u8(&w, m->nfilters);
    for (unsigned i = 0; i < m->nfilters; i++) {
        wr_cstr(&w, 1, m->filters[i].field, 1, SZ_MSG_MAX_FIELD, CLS_TEXT);
        wr_cstr(&w, 2, m->filters[i].value, 1, SZ_MSG_MAX_VALUE, CLS_TEXT);
    }
    return finish(&w, out_len);
}

int sz_msg_list_decode(sz_msg_list_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    m->kind = rd_u8(&r);
    m->order = rd_u8(&r);
    m->limit = rd_u16(&r);
    if (!r.err && ((m->kind != 0 && !kind_ok(m->kind)) || m->order > SZ_LIST_NEWEST_FIRST ||
                   m->limit == 0 || m->limit > SZ_MSG_MAX_LIST))
        rd_fail(&r, SZ_E_MALFORMED);
    rd_cstr(&r, 1, m->cursor, 0, SZ_MSG_MAX_CURSOR, CLS_ASCII);
    m->nfilters = rd_u8(&r);
    if (!r.err && m->nfilters > SZ_MSG_MAX_FILTERS)
        rd_fail(&r, SZ_E_MALFORMED);
    for (unsigned i = 0; i < m->nfilters && !r.err; i++) {
        rd_cstr(&r, 1, m->filters[i].field, 1, SZ_MSG_MAX_FIELD, CLS_TEXT);
        rd_cstr(&r, 2, m->filters[i].value, 1, SZ_MSG_MAX_VALUE, CLS_TEXT);
    }
    return rd_end(&r, 1);
}

int sz_msg_list_page_encode(const sz_msg_list_page_t *m, uint8_t *out, size_t cap,
                            size_t *out_len) {
    if (m->count > SZ_MSG_MAX_LIST || (m->count > 0 && m->entries == NULL))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        const sz_msg_list_entry_t *e = &m->entries[i];
        if (!kind_ok(e->kind) || e->title_len > SZ_MSG_MAX_TITLE ||
            (e->title_len > 0 && (e->title == NULL || !text_ok(e->title, e->title_len))))
            return SZ_E_ARGUMENT;
        wr_bytes(&w, e->record_id, 32);
        wr_u8(&w, e->kind);
        wr_u64(&w, e->created);
        wr_bytes(&w, e->current, 32);
        wr_u16(&w, e->title_len);
        wr_bytes(&w, e->title, e->title_len);
    }
    wr_cstr(&w, 1, m->next_cursor, 0, SZ_MSG_MAX_CURSOR, CLS_ASCII);
    return finish(&w, out_len);
}

int sz_msg_list_page_decode(sz_msg_list_page_t *m, size_t cap_entries, const uint8_t *in,
                            size_t len) {
    sz_msg_list_entry_t *entries = m->entries;
    memset(m, 0, sizeof *m);
    m->entries = entries;
    rd_t r = rd_init(in, len);
    uint16_t count = rd_count(&r, 0, SZ_MSG_MAX_LIST, cap_entries, entries);
    for (unsigned i = 0; i < count && !r.err; i++) {
        sz_msg_list_entry_t *e = &entries[i];
        rd_copy(&r, e->record_id, 32);
        e->kind = rd_u8(&r);
        e->created = rd_u64(&r);
        rd_copy(&r, e->current, 32);
        e->title_len = rd_u16(&r);
        if (!r.err && (!kind_ok(e->kind) || e->title_len > SZ_MSG_MAX_TITLE))
            rd_fail(&r, SZ_E_MALFORMED);
        e->title = rd_take(&r, e->title_len);
        if (!r.err && !text_ok(e->title, e->title_len))
            rd_fail(&r, SZ_E_MALFORMED);
    }
    rd_cstr(&r, 1, m->next_cursor, 0, SZ_MSG_MAX_CURSOR, CLS_ASCII);
    if (!r.err)
        m->count = count;
    return rd_end(&r, 1);
}

/* ---- SEARCH, SEARCH_RESULT ---- */

int sz_msg_search_encode(const sz_msg_search_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->limit == 0 || m->limit > SZ_MSG_MAX_HITS)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->limit);
    wr_cstr(&w, 2, m->query, 1, SZ_MSG_MAX_QUERY, CLS_TEXT);
    return finish(&w, out_len);
}

int sz_msg_search_decode(sz_msg_search_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    m->limit = rd_u16(&r);
    if (!r.err && (m->limit == 0 || m->limit > SZ_MSG_MAX_HITS))
        rd_fail(&r, SZ_E_MALFORMED);
    rd_cstr(&r, 2, m->query, 1, SZ_MSG_MAX_QUERY, CLS_TEXT);
    return rd_end(&r, 1);
}

static uint64_t f64_bits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_f64(uint64_t u) {
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

int sz_msg_search_result_encode(const sz_msg_search_result_t *m, uint8_t *out, size_t cap,
                                size_t *out_len) {
    if (m->count > SZ_MSG_MAX_HITS || (m->count > 0 && m->hits == NULL))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        if (!isfinite(m->hits[i].score))
            return SZ_E_ARGUMENT;
        wr_bytes(&w, m->hits[i].record_id, 32);
        wr_u64(&w, f64_bits(m->hits[i].score));
    }
    return finish(&w, out_len);
}

int sz_msg_search_result_decode(sz_msg_search_result_t *m, size_t cap_hits, const uint8_t *in,
                                size_t len) {
    sz_msg_hit_t *hits = m->hits;
    m->count = 0;
    rd_t r = rd_init(in, len);
    uint16_t count = rd_count(&r, 0, SZ_MSG_MAX_HITS, cap_hits, hits);
    for (unsigned i = 0; i < count && !r.err; i++) {
        rd_copy(&r, hits[i].record_id, 32);
        hits[i].score = bits_f64(rd_u64(&r));
        if (!r.err && !isfinite(hits[i].score))
            rd_fail(&r, SZ_E_MALFORMED);
    }
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = count;
    return rc;
}

/* ---- STATUS, STATUS_OK ---- */

/* A repeated default recipient would make a client seal the same key twice, so it is refused. */
static int seal_repeats(const uint8_t *keys, unsigned n) {
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = i + 1; j < n; j++)
            if (memcmp(keys + 32 * i, keys + 32 * j, 32) == 0)
                return 1;
    return 0;
}

int sz_msg_status_decode(const uint8_t *in, size_t len) {
    (void)in;
    return len == 0 ? 0 : SZ_E_TRAILING;
}

int sz_msg_status_ok_encode(const sz_msg_status_ok_t *m, uint8_t *out, size_t cap,
                            size_t *out_len) {
    if (m->npeers > SZ_MSG_MAX_PEERS || (m->npeers > 0 && m->peers == NULL))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->node_key, 32);
    wr_cstr(&w, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    wr_u16(&w, m->protocol_version);
    wr_u64(&w, m->records);
    wr_u64(&w, m->versions);
    wr_u64(&w, m->fts_lag);
    uint8_t th[SZ_TREE_HEAD_LEN];
    sz_tree_head_encode(th, &m->tree_head);
    wr_bytes(&w, th, sizeof th);
    wr_u16(&w, m->npeers);
    for (unsigned i = 0; i < m->npeers; i++) {
        const sz_msg_peer_t *p = &m->peers[i];
        if (p->address_len == 0 || p->address == NULL || !text_ok(p->address, p->address_len) ||
            p->connected > 1)
            return SZ_E_ARGUMENT;
        wr_bytes(&w, p->key, 32);
        wr_u8(&w, p->address_len);
        wr_bytes(&w, p->address, p->address_len);
        wr_u8(&w, p->connected);
        wr_u64(&w, p->last_seen);
        wr_u64(&w, p->lag);
        wr_u64(&w, p->checkpoint);
    }
    wr_u64(&w, m->set_count);
    wr_bytes(&w, m->set_digest, 16);
    if (m->nseal > SZ_MSG_MAX_SEAL_TO || seal_repeats(&m->seal_to[0][0], m->nseal))
        return SZ_E_ARGUMENT;
    wr_u8(&w, m->nseal);
    for (unsigned i = 0; i < m->nseal; i++)
        wr_bytes(&w, m->seal_to[i], 32);
    return finish(&w, out_len);
}

int sz_msg_status_ok_decode(sz_msg_status_ok_t *m, size_t cap_peers, const uint8_t *in,
                            size_t len) {
    sz_msg_peer_t *peers = m->peers;
    memset(m, 0, sizeof *m);
    m->peers = peers;
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->node_key, 32);
    rd_cstr(&r, 1, m->software, 0, SZ_MSG_MAX_SOFTWARE, CLS_ASCII);
    m->protocol_version = rd_u16(&r);
    m->records = rd_u64(&r);
    m->versions = rd_u64(&r);
    m->fts_lag = rd_u64(&r);
    const uint8_t *th = rd_take(&r, SZ_TREE_HEAD_LEN);
    if (th != NULL) {
        int rc = sz_tree_head_decode(&m->tree_head, th, SZ_TREE_HEAD_LEN);
        if (rc < 0)
            rd_fail(&r, SZ_E_MALFORMED);
    }
    uint16_t n = rd_count(&r, 0, SZ_MSG_MAX_PEERS, cap_peers, peers);
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_peer_t *p = &peers[i];
        rd_copy(&r, p->key, 32);
        p->address_len = rd_u8(&r);
        if (!r.err && p->address_len == 0)
            rd_fail(&r, SZ_E_MALFORMED);
        p->address = rd_take(&r, p->address_len);
        if (!r.err && !text_ok(p->address, p->address_len))
            rd_fail(&r, SZ_E_MALFORMED);
        p->connected = rd_u8(&r);
        if (!r.err && p->connected > 1)
            rd_fail(&r, SZ_E_MALFORMED);
        p->last_seen = rd_u64(&r);
        p->lag = rd_u64(&r);
        p->checkpoint = rd_u64(&r);
    }
    m->set_count = rd_u64(&r);
    rd_copy(&r, m->set_digest, 16);
    uint8_t nseal = rd_u8(&r);
    if (!r.err && nseal > SZ_MSG_MAX_SEAL_TO)
        rd_fail(&r, SZ_E_MALFORMED);
    for (unsigned i = 0; i < nseal && !r.err; i++)
        rd_copy(&r, m->seal_to[i], 32);
    if (!r.err && seal_repeats(&m->seal_to[0][0], nseal))
        rd_fail(&r, SZ_E_MALFORMED);
    int rc = rd_end(&r, 1);
    if (rc == 0) {
        m->npeers = n;
        m->nseal = nseal;
    }
    return rc;
}

/* ---- Replication and audit (types 17..31) ---- */

/* A signed tree head inside a payload: exact encoding, signature left to the caller. */
static void rd_head(rd_t *r, sz_tree_head_t *th) {
    const uint8_t *p = rd_take(r, SZ_TREE_HEAD_LEN);
    if (p != NULL && sz_tree_head_decode(th, p, SZ_TREE_HEAD_LEN) < 0)
        rd_fail(r, SZ_E_MALFORMED);
}

static void wr_head(wr_t *w, const sz_tree_head_t *th) {
    uint8_t b[SZ_TREE_HEAD_LEN];
    sz_tree_head_encode(b, th);
    wr_bytes(w, b, sizeof b);
}

static int envelope_ok(const uint8_t *p, size_t n) {
    return p != NULL && n > 0 && n <= SZ_RECORD_MAX_LEN;
}

/* A str16 proof of 0..max bytes (a whole number of hashes). */
static const uint8_t *rd_proof(rd_t *r, size_t max, size_t *len) {
    uint16_t n = rd_u16(r);
    *len = 0;
    if (r->err)
        return NULL;
    if (n > max || n % SZ_MERKLE_HASH_LEN != 0) {
        rd_fail(r, SZ_E_MALFORMED);
        return NULL;
    }
    const uint8_t *p = rd_take(r, n);
    if (p != NULL)
        *len = n;
    return p;
}

static int proof_ok(const uint8_t *p, size_t n, size_t max) {
    return n <= max && n % SZ_MERKLE_HASH_LEN == 0 && (n == 0 || p != NULL);
}

int sz_msg_peer_add_encode(const sz_msg_peer_add_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_cstr(&w, 2, m->invite, 1, SZ_MSG_MAX_INVITE, CLS_TEXT);
    return finish(&w, out_len);
}

int sz_msg_peer_add_decode(sz_msg_peer_add_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_cstr(&r, 2, m->invite, 1, SZ_MSG_MAX_INVITE, CLS_TEXT);
    return rd_end(&r, 1);
}

int sz_msg_peer_remove_encode(const sz_msg_peer_remove_t *m, uint8_t *out, size_t cap,
                              size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->key, 32);
    return finish(&w, out_len);
}

int sz_msg_peer_remove_decode(sz_msg_peer_remove_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->key, 32);
    return rd_end(&r, 1);
}

int sz_msg_peer_list_decode(const uint8_t *in, size_t len) {
    (void)in;
    return len == 0 ? 0 : SZ_E_TRAILING;
}

int sz_msg_peers_encode(const sz_msg_peers_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->count > SZ_MSG_MAX_PEERS || (m->count > 0 && m->peers == NULL))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        const sz_msg_peer_info_t *p = &m->peers[i];
        if (p->address_len == 0 || p->address == NULL || !text_ok(p->address, p->address_len) ||
            p->state > SZ_PEER_STATE_MAX || p->last_error > 0)
            return SZ_E_ARGUMENT;
        wr_bytes(&w, p->key, 32);
        wr_u8(&w, p->address_len);
        wr_bytes(&w, p->address, p->address_len);
        wr_u8(&w, p->state);
        wr_u64(&w, p->last_seen);
        wr_u64(&w, p->checkpoint);
        wr_u64(&w, p->remote_size);
        wr_u64(&w, p->received);
        wr_u64(&w, p->sent);
        wr_u32(&w, p->reconciliations);
        wr_u32(&w, (uint32_t)p->last_error);
    }
    return finish(&w, out_len);
}

int sz_msg_peers_decode(sz_msg_peers_t *m, size_t cap_peers, const uint8_t *in, size_t len) {
    sz_msg_peer_info_t *peers = m->peers;
    m->count = 0;
    rd_t r = rd_init(in, len);
    uint16_t n = rd_count(&r, 0, SZ_MSG_MAX_PEERS, cap_peers, peers);
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_peer_info_t *p = &peers[i];
        memset(p, 0, sizeof *p);
        rd_copy(&r, p->key, 32);
        p->address_len = rd_u8(&r);
        if (!r.err && p->address_len == 0)
            rd_fail(&r, SZ_E_MALFORMED);
        p->address = rd_take(&r, p->address_len);
        if (!r.err && !text_ok(p->address, p->address_len))
            rd_fail(&r, SZ_E_MALFORMED);
        p->state = rd_u8(&r);
        if (!r.err && p->state > SZ_PEER_STATE_MAX)
            rd_fail(&r, SZ_E_MALFORMED);
        p->last_seen = rd_u64(&r);
        p->checkpoint = rd_u64(&r);
        p->remote_size = rd_u64(&r);
        p->received = rd_u64(&r);
        p->sent = rd_u64(&r);
        p->reconciliations = rd_u32(&r);
        uint32_t e = rd_u32(&r);
        p->last_error = (int32_t)e;
        if (!r.err && p->last_error > 0)
            rd_fail(&r, SZ_E_MALFORMED);
    }
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

int sz_msg_sync_now_encode(const sz_msg_sync_now_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->wait_ms > SZ_MSG_SYNC_NOW_MAX_WAIT)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->key, 32);
    wr_u32(&w, m->wait_ms);
    return finish(&w, out_len);
}

int sz_msg_sync_now_decode(sz_msg_sync_now_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->key, 32);
    m->wait_ms = rd_u32(&r);
    if (!r.err && m->wait_ms > SZ_MSG_SYNC_NOW_MAX_WAIT)
        rd_fail(&r, SZ_E_MALFORMED);
    return rd_end(&r, 1);
}

#define SYNC_MAX_BYTES (SZ_MSG_MAX - 8192u)

int sz_msg_sync_encode(const sz_msg_sync_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->max_count > SZ_MSG_MAX_PAGE || m->max_bytes > SYNC_MAX_BYTES ||
        (m->flags & ~SZ_SYNC_HASHES) != 0)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u8(&w, m->flags);
    wr_u64(&w, m->from);
    wr_u32(&w, m->max_count);
    wr_u32(&w, m->max_bytes);
    wr_u64(&w, m->proof_from);
    wr_head(&w, &m->head);
    return finish(&w, out_len);
}

int sz_msg_sync_decode(sz_msg_sync_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    m->flags = rd_u8(&r);
    if (!r.err && (m->flags & ~SZ_SYNC_HASHES) != 0)
        rd_fail(&r, SZ_E_MALFORMED);
    m->from = rd_u64(&r);
    m->max_count = rd_u32(&r);
    m->max_bytes = rd_u32(&r);
    if (!r.err && (m->max_count > SZ_MSG_MAX_PAGE || m->max_bytes > SYNC_MAX_BYTES))
        rd_fail(&r, SZ_E_MALFORMED);
    m->proof_from = rd_u64(&r);
    rd_head(&r, &m->head);
    return rd_end(&r, 1);
}

int sz_msg_log_page_encode(const sz_msg_log_page_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->count > SZ_MSG_MAX_PAGE || (m->count > 0 && m->entries == NULL) ||
        !proof_ok(m->proof, m->proof_len, SZ_MERKLE_MAX_CONSISTENCY_LEN) ||
        (m->flags & ~SZ_SYNC_HASHES) != 0)
        return SZ_E_ARGUMENT;
    int hashes = (m->flags & SZ_SYNC_HASHES) != 0;
    wr_t w = wr_init(out, cap);
    wr_head(&w, &m->head);
    wr_u16(&w, (uint16_t)m->proof_len);
    wr_bytes(&w, m->proof, m->proof_len);
    wr_u8(&w, m->flags);
    wr_u64(&w, m->from);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        const sz_msg_log_entry_t *e = &m->entries[i];
        if (e->seq != m->from + i || e->seq >= m->head.size ||
            (hashes ? (e->len != 32 || e->envelope == NULL) : !envelope_ok(e->envelope, e->len)))
            return SZ_E_ARGUMENT;
        wr_u64(&w, e->seq);
        if (!hashes)
            wr_u32(&w, (uint32_t)e->len);
        wr_bytes(&w, e->envelope, e->len);
    }
    return finish(&w, out_len);
}

int sz_msg_log_page_decode(sz_msg_log_page_t *m, size_t cap_entries, const uint8_t *in,
                           size_t len) {
    sz_msg_log_entry_t *entries = m->entries;
    memset(m, 0, sizeof *m);
    m->entries = entries;
    rd_t r = rd_init(in, len);
    rd_head(&r, &m->head);
    m->proof = rd_proof(&r, SZ_MERKLE_MAX_CONSISTENCY_LEN, &m->proof_len);
    m->flags = rd_u8(&r);
    if (!r.err && (m->flags & ~SZ_SYNC_HASHES) != 0)
        rd_fail(&r, SZ_E_MALFORMED);
    int hashes = (m->flags & SZ_SYNC_HASHES) != 0;
    m->from = rd_u64(&r);
    uint16_t n = rd_count(&r, 0, SZ_MSG_MAX_PAGE, cap_entries, entries);
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_log_entry_t *e = &entries[i];
        e->seq = rd_u64(&r);
        /* Entries are consecutive from `from` and inside the signed head. */
        if (!r.err && (e->seq != m->from + i || e->seq < m->from || e->seq >= m->head.size))
            rd_fail(&r, SZ_E_MALFORMED);
        if (hashes) {
            e->envelope = rd_take(&r, 32);
            e->len = 32;
        } else {
            e->envelope = rd_envelope(&r, &e->len);
        }
    }
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

int sz_msg_recon_encode(const sz_msg_recon_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->len == 0 || m->len > SZ_MSG_MAX_RECON || m->data == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->data, m->len);
    return finish(&w, out_len);
}

int sz_msg_recon_decode(sz_msg_recon_t *m, const uint8_t *in, size_t len) {
    if (len == 0)
        return SZ_E_TRUNCATED;
    if (len > SZ_MSG_MAX_RECON)
        return SZ_E_MALFORMED;
    m->data = in;
    m->len = len;
    return 0;
}

int sz_msg_fetch_encode(const sz_msg_fetch_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->count == 0 || m->count > SZ_MSG_MAX_FETCH || m->hashes == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->count);
    wr_bytes(&w, m->hashes, (size_t)m->count * 32);
    return finish(&w, out_len);
}

int sz_msg_fetch_decode(sz_msg_fetch_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    m->count = rd_u16(&r);
    if (!r.err && (m->count == 0 || m->count > SZ_MSG_MAX_FETCH))
        rd_fail(&r, SZ_E_MALFORMED);
    m->hashes = rd_take(&r, (size_t)m->count * 32);
    return rd_end(&r, 1);
}

int sz_msg_fetched_encode(const sz_msg_fetched_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->count > SZ_MSG_MAX_FETCH || (m->count > 0 && m->items == NULL))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        const sz_msg_fetched_item_t *it = &m->items[i];
        if (it->status > SZ_FETCH_STATUS_MAX ||
            (it->status == SZ_FETCH_OK && !envelope_ok(it->envelope, it->len)))
            return SZ_E_ARGUMENT;
        wr_u8(&w, it->status);
        wr_bytes(&w, it->version_hash, 32);
        if (it->status == SZ_FETCH_OK) {
            wr_u64(&w, it->seq);
            wr_u32(&w, (uint32_t)it->len);
            wr_bytes(&w, it->envelope, it->len);
        }
    }
    return finish(&w, out_len);
}

int sz_msg_fetched_decode(sz_msg_fetched_t *m, size_t cap_items, const uint8_t *in, size_t len) {
    sz_msg_fetched_item_t *items = m->items;
    m->count = 0;
    rd_t r = rd_init(in, len);
    uint16_t n = rd_count(&r, 0, SZ_MSG_MAX_FETCH, cap_items, items);
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_fetched_item_t *it = &items[i];
        memset(it, 0, sizeof *it);
        it->status = rd_u8(&r);
        if (!r.err && it->status > SZ_FETCH_STATUS_MAX)
            rd_fail(&r, SZ_E_MALFORMED);
        rd_copy(&r, it->version_hash, 32);
        if (it->status == SZ_FETCH_OK) {
            it->seq = rd_u64(&r);
            it->envelope = rd_envelope(&r, &it->len);
        }
    }
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

int sz_msg_push_encode(const sz_msg_push_t *m, uint8_t *out, size_t cap, size_t *out_len) {
    if (m->count == 0 || m->count > SZ_MSG_MAX_PUSH || m->items == NULL)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u64(&w, m->log_size);
    wr_u16(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        if (!envelope_ok(m->items[i].envelope, m->items[i].len))
            return SZ_E_ARGUMENT;
        wr_u32(&w, (uint32_t)m->items[i].len);
        wr_bytes(&w, m->items[i].envelope, m->items[i].len);
    }
    return finish(&w, out_len);
}

int sz_msg_push_decode(sz_msg_push_t *m, size_t cap_items, const uint8_t *in, size_t len) {
    sz_msg_push_item_t *items = m->items;
    m->count = 0;
    rd_t r = rd_init(in, len);
    m->log_size = rd_u64(&r);
    uint16_t n = rd_count(&r, 1, SZ_MSG_MAX_PUSH, cap_items, items);
    for (unsigned i = 0; i < n && !r.err; i++)
        items[i].envelope = rd_envelope(&r, &items[i].len);
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

int sz_msg_audit_head_encode(const sz_msg_audit_head_t *m, uint8_t *out, size_t cap,
                             size_t *out_len) {
    wr_t w = wr_init(out, cap);
    wr_u64(&w, m->from_size);
    return finish(&w, out_len);
}

int sz_msg_audit_head_decode(sz_msg_audit_head_t *m, const uint8_t *in, size_t len) {
    rd_t r = rd_init(in, len);
    m->from_size = rd_u64(&r);
    return rd_end(&r, 1);
}

int sz_msg_audit_head_ok_encode(const sz_msg_audit_head_ok_t *m, uint8_t *out, size_t cap,
                                size_t *out_len) {
    if (!proof_ok(m->proof, m->proof_len, SZ_MERKLE_MAX_CONSISTENCY_LEN))
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_head(&w, &m->head);
    wr_u16(&w, (uint16_t)m->proof_len);
    wr_bytes(&w, m->proof, m->proof_len);
    return finish(&w, out_len);
}

int sz_msg_audit_head_ok_decode(sz_msg_audit_head_ok_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_head(&r, &m->head);
    m->proof = rd_proof(&r, SZ_MERKLE_MAX_CONSISTENCY_LEN, &m->proof_len);
    return rd_end(&r, 1);
}

int sz_msg_audit_prove_encode(const sz_msg_audit_prove_t *m, uint8_t *out, size_t cap,
                              size_t *out_len) {
    if (m->count == 0 || m->count > SZ_MSG_MAX_PROVE)
        return SZ_E_ARGUMENT;
    int by_index = 0;
    for (unsigned i = 0; i < m->count; i++) {
        if (m->items[i].by > SZ_PROVE_BY_INDEX)
            return SZ_E_ARGUMENT;
        if (m->items[i].by == SZ_PROVE_BY_INDEX) {
            by_index = 1;
            if (m->items[i].index >= m->tree_size)
                return SZ_E_ARGUMENT;
        }
    }
    if (!by_index && m->tree_size != 0)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_bytes(&w, m->nonce, 32);
    wr_u64(&w, m->tree_size);
    wr_u8(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        wr_u8(&w, m->items[i].by);
        if (m->items[i].by == SZ_PROVE_BY_HASH)
            wr_bytes(&w, m->items[i].version_hash, 32);
        else
            wr_u64(&w, m->items[i].index);
    }
    return finish(&w, out_len);
}

int sz_msg_audit_prove_decode(sz_msg_audit_prove_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    rd_copy(&r, m->nonce, 32);
    m->tree_size = rd_u64(&r);
    uint8_t n = rd_u8(&r);
    if (!r.err && (n == 0 || n > SZ_MSG_MAX_PROVE))
        rd_fail(&r, SZ_E_MALFORMED);
    int by_index = 0;
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_prove_item_t *it = &m->items[i];
        it->by = rd_u8(&r);
        if (!r.err && it->by > SZ_PROVE_BY_INDEX)
            rd_fail(&r, SZ_E_MALFORMED);
        if (it->by == SZ_PROVE_BY_HASH) {
            rd_copy(&r, it->version_hash, 32);
        } else {
            by_index = 1;
            it->index = rd_u64(&r);
            if (!r.err && it->index >= m->tree_size)
                rd_fail(&r, SZ_E_MALFORMED);
        }
    }
    if (!r.err && !by_index && m->tree_size != 0)
        rd_fail(&r, SZ_E_MALFORMED);
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

static int zero32(const uint8_t *p) {
    uint8_t acc = 0;
    for (int i = 0; i < 32; i++)
        acc |= p[i];
    return acc == 0;
}

int sz_msg_audit_proof_encode(const sz_msg_audit_proof_t *m, uint8_t *out, size_t cap,
                              size_t *out_len) {
    if (m->count == 0 || m->count > SZ_MSG_MAX_PROVE)
        return SZ_E_ARGUMENT;
    wr_t w = wr_init(out, cap);
    wr_u8(&w, m->count);
    for (unsigned i = 0; i < m->count; i++) {
        const sz_msg_proof_item_t *it = &m->items[i];
        if (it->status > SZ_PROVE_STATUS_MAX ||
            !proof_ok(it->proof, it->proof_len, SZ_MERKLE_MAX_INCLUSION_LEN) ||
            (it->status != SZ_PROVE_OK && !zero32(it->digest)))
            return SZ_E_ARGUMENT;
        wr_u8(&w, it->status);
        wr_bytes(&w, it->version_hash, 32);
        wr_bytes(&w, it->digest, 32);
        wr_u16(&w, (uint16_t)it->proof_len);
        wr_bytes(&w, it->proof, it->proof_len);
    }
    return finish(&w, out_len);
}

int sz_msg_audit_proof_decode(sz_msg_audit_proof_t *m, const uint8_t *in, size_t len) {
    memset(m, 0, sizeof *m);
    rd_t r = rd_init(in, len);
    uint8_t n = rd_u8(&r);
    if (!r.err && (n == 0 || n > SZ_MSG_MAX_PROVE))
        rd_fail(&r, SZ_E_MALFORMED);
    for (unsigned i = 0; i < n && !r.err; i++) {
        sz_msg_proof_item_t *it = &m->items[i];
        it->status = rd_u8(&r);
        if (!r.err && it->status > SZ_PROVE_STATUS_MAX)
            rd_fail(&r, SZ_E_MALFORMED);
        rd_copy(&r, it->version_hash, 32);
        rd_copy(&r, it->digest, 32);
        if (!r.err && it->status != SZ_PROVE_OK && !zero32(it->digest))
            rd_fail(&r, SZ_E_MALFORMED);
        it->proof = rd_proof(&r, SZ_MERKLE_MAX_INCLUSION_LEN, &it->proof_len);
    }
    int rc = rd_end(&r, 1);
    if (rc == 0)
        m->count = n;
    return rc;
}

const char *sz_msg_type_name(unsigned type) {
    static const char *const names[] = {
        NULL,          "HELLO",      "ERROR",         "HELLO_OK", "SUBMIT",     "SUBMITTED",
        "GET",         "RECORD",     "HISTORY",       "VERSION",  "END",        "LIST",
        "LIST_PAGE",   "SEARCH",     "SEARCH_RESULT", "STATUS",   "STATUS_OK",  "PEER_ADD",
        "PEER_REMOVE", "PEER_LIST",  "PEERS",         "SYNC_NOW", "SYNC",       "LOG_PAGE",
        "RECON",       "FETCH",      "FETCHED",       "PUSH",     "AUDIT_HEAD", "AUDIT_HEAD_OK",
        "AUDIT_PROVE", "AUDIT_PROOF"};
    if (type > 0 && type < sizeof names / sizeof names[0])
        return names[type];
    return "UNKNOWN";
}
