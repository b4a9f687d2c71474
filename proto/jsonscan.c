#include "jsonscan.h"

#include "error.h"

#include <string.h>

static size_t skip_ws(const uint8_t *p, size_t len, size_t pos) {
    while (pos < len && (p[pos] == ' ' || p[pos] == '\n' || p[pos] == '\r' || p[pos] == '\t'))
        pos++;
    return pos;
}

/* Returns the offset just past the string that opens at pos (p[pos] == '"'), or 0 if it does not
 * close. memchr does the scanning because most of a record body is string bytes. */
static size_t string_end(const uint8_t *p, size_t len, size_t pos) {
    size_t i = pos + 1;
    while (i < len) {
        const uint8_t *q = memchr(p + i, '"', len - i);
        if (q == NULL)
            return 0;
        size_t j = (size_t)(q - p), k = j;
        while (k > pos + 1 && p[k - 1] == '\\')
            k--;
        if (((j - k) & 1) == 0)
            return j + 1;
        i = j + 1;
    }
    return 0;
}

static int is_scalar_byte(uint8_t c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
           c == '-' || c == '.';
}

/* Skips whitespace and one value starting at *pos; writes its span and moves *pos past it. */
static int skip_value(const uint8_t *p, size_t len, size_t *pos, sz_jspan_t *out) {
    size_t i = skip_ws(p, len, *pos);
    if (i >= len)
        return SZ_E_JSON;
    size_t start = i;
    uint8_t c = p[i];
    if (c == '"') {
        size_t e = string_end(p, len, i);
        if (e == 0)
            return SZ_E_JSON;
        i = e;
    } else if (c == '{' || c == '[') {
        size_t depth = 0;
        for (;;) {
            if (i >= len)
                return SZ_E_JSON;
            c = p[i];
            if (c == '"') {
                size_t e = string_end(p, len, i);
                if (e == 0)
                    return SZ_E_JSON;
                i = e;
                continue;
            }
            i++;
            if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    break;
            }
        }
        /* Only the outer pair is matched exactly; inner pairs are counted. */
        if ((p[start] == '{') != (p[i - 1] == '}'))
            return SZ_E_JSON;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        while (i < len && is_scalar_byte(p[i]))
            i++;
    } else {
        static const char *const lits[3] = {"true", "false", "null"};
        size_t n = 0;
        while (i < len && is_scalar_byte(p[i]))
            i++;
        n = i - start;
        int ok = 0;
        for (int k = 0; k < 3; k++)
            ok |= n == strlen(lits[k]) && memcmp(p + start, lits[k], n) == 0;
        if (!ok)
            return SZ_E_JSON;
    }
    out->p = p + start;
    out->len = i - start;
    *pos = i;
    return 0;
}

int sz_json_root(const uint8_t *doc, size_t len, sz_jspan_t *out) {
    size_t pos = 0;
    if (doc == NULL || skip_value(doc, len, &pos, out) != 0)
        return SZ_E_JSON;
    if (skip_ws(doc, len, pos) != len)
        return SZ_E_JSON;
    return 0;
}

sz_json_type_t sz_json_type(sz_jspan_t v) {
    if (v.p == NULL || v.len == 0)
        return SZ_JSON_NONE;
    switch (v.p[0]) {
    case '{':
        return SZ_JSON_OBJECT;
    case '[':
        return SZ_JSON_ARRAY;
    case '"':
        return SZ_JSON_STRING;
    case 't':
        return SZ_JSON_TRUE;
    case 'f':
        return SZ_JSON_FALSE;
    case 'n':
        return SZ_JSON_NULL;
    default:
        return (v.p[0] == '-' || (v.p[0] >= '0' && v.p[0] <= '9')) ? SZ_JSON_NUMBER : SZ_JSON_NONE;
    }
}

int sz_json_iter_init(sz_json_iter_t *it, sz_jspan_t v) {
    sz_json_type_t t = sz_json_type(v);
    it->state = 2;
    if ((t != SZ_JSON_OBJECT && t != SZ_JSON_ARRAY) || v.len < 2)
        return SZ_E_JSON;
    it->close = t == SZ_JSON_OBJECT ? '}' : ']';
    if (v.p[v.len - 1] != it->close)
        return SZ_E_JSON;
    it->p = v.p;
    it->len = v.len - 1; /* the closer is never looked at again */
    it->pos = 1;
    it->state = 0;
    return 0;
}

/* Moves to the next item: 1 if one follows (pos at its first byte), 0 at the end. */
static int advance(sz_json_iter_t *it) {
    if (it->state == 2)
        return 0;
    size_t pos = skip_ws(it->p, it->len, it->pos);
    if (it->state == 1) {
        if (pos == it->len) {
            it->state = 2;
            return 0;
        }
        if (it->p[pos] != ',')
            goto fail;
        pos = skip_ws(it->p, it->len, pos + 1);
        if (pos == it->len)
            goto fail; /* trailing comma */
    } else if (pos == it->len) {
        it->state = 2;
        return 0;
    }
    it->pos = pos;
    return 1;
fail:
    it->state = 2;
    return SZ_E_JSON;
}

int sz_json_next_member(sz_json_iter_t *it, sz_jspan_t *key, sz_jspan_t *val) {
    int rc = advance(it);
    if (rc <= 0)
        return rc;
    if (it->close != '}' || it->p[it->pos] != '"')
        goto fail;
    size_t e = string_end(it->p, it->len, it->pos);
    if (e == 0)
        goto fail;
    key->p = it->p + it->pos;
    key->len = e - it->pos;
    size_t pos = skip_ws(it->p, it->len, e);
    if (pos >= it->len || it->p[pos] != ':')
        goto fail;
    pos++;
    if (skip_value(it->p, it->len, &pos, val) != 0)
        goto fail;
    it->pos = pos;
    it->state = 1;
    return 1;
fail:
    it->state = 2;
    return SZ_E_JSON;
}

int sz_json_next_element(sz_json_iter_t *it, sz_jspan_t *val) {
    int rc = advance(it);
    if (rc <= 0)
        return rc;
    size_t pos = it->pos;
    if (it->close != ']' || skip_value(it->p, it->len, &pos, val) != 0) {
        it->state = 2;
        return SZ_E_JSON;
    }
    it->pos = pos;
    it->state = 1;
    return 1;
}

int sz_json_key_is(sz_jspan_t key, const char *name) {
    if (key.len < 2 || key.p[0] != '"' || key.p[key.len - 1] != '"')
        return 0;
    size_t n = strlen(name);
    if (memchr(key.p + 1, '\\', key.len - 2) == NULL)
        return key.len - 2 == n && memcmp(key.p + 1, name, n) == 0;
    uint8_t buf[128];
    size_t got;
    if (n > sizeof(buf) || sz_json_string(key, buf, sizeof(buf), &got) != 0)
        return 0;
    return got == n && memcmp(buf, name, n) == 0;
}

int sz_json_get(sz_jspan_t obj, const char *name, sz_jspan_t *val) {
    sz_json_iter_t it;
    if (sz_json_type(obj) != SZ_JSON_OBJECT || sz_json_iter_init(&it, obj) != 0)
        return 0;
    sz_jspan_t k, v;
    int rc;
    while ((rc = sz_json_next_member(&it, &k, &v)) == 1) {
        if (sz_json_key_is(k, name)) {
            *val = v;
            return 1;
        }
    }
    return rc;
}

static int hex4(const uint8_t *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10u;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10u;
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

int sz_json_string(sz_jspan_t s, uint8_t *out, size_t cap, size_t *out_len) {
    *out_len = 0;
    if (s.p == NULL || s.len < 2 || s.p[0] != '"' || s.p[s.len - 1] != '"')
        return SZ_E_JSON;
    const uint8_t *p = s.p + 1;
    size_t len = s.len - 2, o = 0;
    int full = 0;
    for (size_t i = 0; i < len;) {
        uint8_t tmp[4];
        size_t tn;
        const uint8_t *src;
        uint8_t c = p[i];
        if (c == '"' || c < 0x20)
            return SZ_E_JSON;
        if (c != '\\') {
            /* Copy the run up to the next escape or quote in one go. */
            size_t j = i + 1;
            while (j < len && p[j] != '\\' && p[j] != '"' && p[j] >= 0x20)
                j++;
            src = p + i;
            tn = j - i;
            i = j;
        } else {
            if (i + 1 >= len)
                return SZ_E_JSON;
            uint8_t e = p[i + 1];
            i += 2;
            src = tmp;
            tn = 1;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                tmp[0] = e;
                break;
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u': {
                unsigned cp, lo;
                if (len - i < 4 || hex4(p + i, &cp) != 0)
                    return SZ_E_JSON;
                i += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF && len - i >= 6 && p[i] == '\\' &&
                    p[i + 1] == 'u' && hex4(p + i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                if (cp < 0x80) {
                    tmp[0] = (uint8_t)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (uint8_t)(0xC0 | cp >> 6);
                    tmp[1] = (uint8_t)(0x80 | (cp & 0x3F));
                    tn = 2;
                } else if (cp < 0x10000) {
                    tmp[0] = (uint8_t)(0xE0 | cp >> 12);
                    tmp[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[2] = (uint8_t)(0x80 | (cp & 0x3F));
                    tn = 3;
                } else {
                    tmp[0] = (uint8_t)(0xF0 | cp >> 18);
                    tmp[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
                    tmp[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[3] = (uint8_t)(0x80 | (cp & 0x3F));
                    tn = 4;
                }
                break;
            }
            default:
                return SZ_E_JSON;
            }
        }
        if (full)
            continue; /* keep checking the rest is well formed */
        if (tn > cap - o) {
            if (cap > o)
                memcpy(out + o, src, cap - o);
            o = cap;
            full = 1;
            continue;
        }
        memcpy(out + o, src, tn);
        o += tn;
    }
    *out_len = o;
    return full ? SZ_E_TOO_LARGE : 0;
}
