/* Frames, message fragments, reassembly and the HELLO/ERROR payloads; see frame.h and WIRE.md. */
#include "frame.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "error.h"

/* An assembler keeps a buffer this large between messages; a larger one is released once the
 * message it held has been handed over, so idle connections do not pin 2 MiB each. */
#define ASSEMBLER_KEEP (256u * 1024u)

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p) {
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* ---- Frame header ---------------------------------------------------------------------------- */

int sz_frame_header_encode(uint8_t out[static 4], size_t len) {
    if (len == 0)
        return SZ_E_PROTOCOL;
    if (len > SZ_FRAME_MAX)
        return SZ_E_TOO_LARGE;
    put_u32(out, (uint32_t)len);
    return 0;
}

int sz_frame_header_decode(const uint8_t in[static 4], size_t *len) {
    uint32_t n = get_u32(in);
    if (n == 0)
        return SZ_E_PROTOCOL;
    if (n > SZ_FRAME_MAX)
        return SZ_E_TOO_LARGE;
    *len = n;
    return 0;
}

/* ---- Frame decoder --------------------------------------------------------------------------- */

void sz_frame_decoder_init(sz_frame_decoder_t *d) {
    memset(d, 0, sizeof(*d));
}

void sz_frame_decoder_free(sz_frame_decoder_t *d) {
    free(d->buf);
    memset(d, 0, sizeof(*d));
}

bool sz_frame_decoder_pending(const sz_frame_decoder_t *d) {
    return d->hdr_have > 0 || d->need > 0;
}

/* Starts buffering a frame of n bytes: the only place the decoder allocates. */
static int begin_body(sz_frame_decoder_t *d, size_t n) {
    if (d->cap < n) {
        uint8_t *grown = realloc(d->buf, n);
        if (grown == NULL)
            return -ENOMEM;
        d->buf = grown;
        d->cap = n;
    }
    d->need = n;
    d->have = 0;
    return 0;
}

int sz_frame_decoder_feed(sz_frame_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                          const uint8_t **frame, size_t *frame_len) {
    size_t pos = 0;
    int rc;
    *consumed = 0;
    *frame = NULL;
    *frame_len = 0;
    if (d->error != 0)
        return d->error;
    if (data == NULL && len > 0)
        return SZ_E_ARGUMENT;

    while (pos < len) {
        if (d->need == 0) {
            size_t n;
            if (d->hdr_have == 0 && len - pos >= SZ_FRAME_HEADER_LEN) {
                rc = sz_frame_header_decode(data + pos, &n);
                if (rc != 0)
                    return d->error = rc;
                pos += SZ_FRAME_HEADER_LEN;
                if (len - pos >= n) {
                    /* The whole frame is in this chunk: hand it over in place. */
                    *frame = data + pos;
                    *frame_len = n;
                    *consumed = pos + n;
                    return 1;
                }
            } else {
                size_t take = SZ_FRAME_HEADER_LEN - d->hdr_have;
                if (take > len - pos)
                    take = len - pos;
                memcpy(d->hdr + d->hdr_have, data + pos, take);
                d->hdr_have += take;
                pos += take;
                if (d->hdr_have < SZ_FRAME_HEADER_LEN)
                    break;
                d->hdr_have = 0;
                rc = sz_frame_header_decode(d->hdr, &n);
                if (rc != 0)
                    return d->error = rc;
            }
            rc = begin_body(d, n);
            if (rc != 0)
                return d->error = rc;
            continue;
        }
        size_t take = d->need - d->have;
        if (take > len - pos)
            take = len - pos;
        memcpy(d->buf + d->have, data + pos, take);
        d->have += take;
        pos += take;
        if (d->have == d->need) {
            *frame = d->buf;
            *frame_len = d->need;
            d->need = 0;
            d->have = 0;
            *consumed = pos;
            return 1;
        }
    }
    *consumed = pos;
    return 0;
}

/* ---- Message header and fragments ------------------------------------------------------------ */

void sz_msg_header_encode(uint8_t out[static SZ_MSG_HEADER_LEN], const sz_msg_header_t *h) {
    out[0] = h->type;
    out[1] = h->flags;
    put_u32(out + 2, h->request_id);
}

int sz_msg_header_decode(sz_msg_header_t *h, const uint8_t *in, size_t len) {
    if (in == NULL || len < SZ_MSG_HEADER_LEN)
        return SZ_E_TRUNCATED;
    if (in[0] == 0)
        return SZ_E_PROTOCOL;
    if ((in[1] & ~SZ_MSG_FLAGS_KNOWN) != 0)
        return SZ_E_FLAGS;
    h->type = in[0];
    h->flags = in[1];
    h->request_id = get_u32(in + 2);
    return 0;
}

int sz_msg_fragment(const sz_msg_header_t *h, const uint8_t *payload, size_t len, size_t *offset,
                    uint8_t *out, size_t cap, size_t *out_len) {
    if (h == NULL || offset == NULL || out == NULL || out_len == NULL ||
        (payload == NULL && len > 0) || h->type == 0)
        return SZ_E_ARGUMENT;
    if ((h->flags & ~SZ_MSG_FLAGS_KNOWN) != 0 || (h->flags & SZ_MSG_FLAG_CONTINUED) != 0)
        return SZ_E_FLAGS;
    if (len > SZ_MSG_MAX)
        return SZ_E_TOO_LARGE;
    if (*offset > len || (*offset == len && len > 0))
        return SZ_E_ARGUMENT;
    size_t chunk = len - *offset;
    bool more = chunk > SZ_MSG_MAX_FRAGMENT;
    if (more)
        chunk = SZ_MSG_MAX_FRAGMENT;
    if (cap < SZ_MSG_HEADER_LEN + chunk)
        return SZ_E_ARGUMENT;
    sz_msg_header_t fh = *h;
    fh.flags = more ? (uint8_t)(SZ_MSG_FLAG_CONTINUED | (h->flags & ~SZ_MSG_FLAG_REKEY)) : h->flags;
    sz_msg_header_encode(out, &fh);
    if (chunk > 0)
        memcpy(out + SZ_MSG_HEADER_LEN, payload + *offset, chunk);
    *offset += chunk;
    *out_len = SZ_MSG_HEADER_LEN + chunk;
    return more ? 1 : 0;
}

/* ---- Reassembly ------------------------------------------------------------------------------ */

void sz_msg_assembler_init(sz_msg_assembler_t *a, size_t max) {
    memset(a, 0, sizeof(*a));
    a->max = (max == 0 || max > SZ_MSG_MAX) ? SZ_MSG_MAX : max;
}

void sz_msg_assembler_free(sz_msg_assembler_t *a) {
    if (a->buf != NULL) {
        sodium_memzero(a->buf, a->cap);
        free(a->buf);
    }
    size_t max = a->max;
    memset(a, 0, sizeof(*a));
    a->max = max;
}

static int append(sz_msg_assembler_t *a, const uint8_t *p, size_t n) {
    if (n > a->max - a->len)
        return SZ_E_TOO_LARGE;
    if (a->cap - a->len < n) {
        size_t want = a->cap * 2;
        if (want < a->len + n)
            want = a->len + n;
        if (want > a->max)
            want = a->max;
        uint8_t *grown = malloc(want);
        if (grown == NULL)
            return -ENOMEM;
        /* Copy by hand rather than realloc so the old copy can be wiped. */
        if (a->len > 0)
            memcpy(grown, a->buf, a->len);
        if (a->buf != NULL) {
            sodium_memzero(a->buf, a->cap);
            free(a->buf);
        }
        a->buf = grown;
        a->cap = want;
    }
    if (n > 0)
        memcpy(a->buf + a->len, p, n);
    a->len += n;
    return 0;
}

int sz_msg_assembler_add(sz_msg_assembler_t *a, const uint8_t *plain, size_t len, sz_msg_t *out) {
    sz_msg_header_t h;
    int rc;
    if (a->error != 0)
        return a->error;
    if (out == NULL)
        return a->error = SZ_E_ARGUMENT;
    if (!a->active) {
        /* The previous message has been handed over: its bytes may go. */
        if (a->cap > ASSEMBLER_KEEP) {
            sodium_memzero(a->buf, a->cap);
            free(a->buf);
            a->buf = NULL;
            a->cap = 0;
        }
        a->len = 0;
    }
    rc = sz_msg_header_decode(&h, plain, len);
    if (rc != 0)
        return a->error = rc;
    const uint8_t *payload = plain + SZ_MSG_HEADER_LEN;
    size_t plen = len - SZ_MSG_HEADER_LEN;
    bool cont = (h.flags & SZ_MSG_FLAG_CONTINUED) != 0;

    /* Fragmentation is canonical: every fragment but the last is full, and only the last may ask
     * for a rekey. This bounds the fragments of a message and keeps both sides in step. */
    if (cont && ((h.flags & SZ_MSG_FLAG_REKEY) != 0 || plen != SZ_MSG_MAX_FRAGMENT))
        return a->error = SZ_E_PROTOCOL;
    if (a->active && (h.type != a->cur.type || h.request_id != a->cur.request_id))
        return a->error = SZ_E_PROTOCOL;

    if (!a->active && !cont) {
        if (plen > a->max)
            return a->error = SZ_E_TOO_LARGE;
        out->header = h;
        out->payload = payload;
        out->len = plen;
        return 1;
    }
    rc = append(a, payload, plen);
    if (rc != 0)
        return a->error = rc;
    if (cont) {
        a->cur = h;
        a->active = true;
        return 0;
    }
    a->active = false;
    out->header = h;
    out->payload = a->buf;
    out->len = a->len;
    return 1;
}

/* ---- Sealing and opening --------------------------------------------------------------------- */

size_t sz_msg_wire_size(size_t len) {
    size_t frags = len == 0 ? 1 : (len + SZ_MSG_MAX_FRAGMENT - 1) / SZ_MSG_MAX_FRAGMENT;
    return frags * (SZ_FRAME_HEADER_LEN + SZ_MSG_HEADER_LEN + SZ_NOISE_TAG_LEN) + len;
}

int sz_msg_seal(sz_cipher_t *send, const sz_msg_header_t *h, const uint8_t *payload, size_t len,
                uint8_t *out, size_t cap, size_t *out_len) {
    if (send == NULL || h == NULL || out == NULL || out_len == NULL)
        return SZ_E_ARGUMENT;
    if (len > SZ_MSG_MAX)
        return SZ_E_TOO_LARGE;
    if (cap < sz_msg_wire_size(len))
        return SZ_E_ARGUMENT;
    size_t offset = 0, pos = 0;
    int more;
    do {
        size_t plen, clen;
        uint8_t *frame = out + pos;
        /* The fragment is built where its ciphertext goes and encrypted in place. */
        more = sz_msg_fragment(h, payload, len, &offset, frame + SZ_FRAME_HEADER_LEN,
                               cap - pos - SZ_FRAME_HEADER_LEN, &plen);
        if (more < 0)
            return more;
        int rc =
            sz_cipher_encrypt(send, NULL, 0, frame + SZ_FRAME_HEADER_LEN, plen,
                              frame + SZ_FRAME_HEADER_LEN, cap - pos - SZ_FRAME_HEADER_LEN, &clen);
        if (rc != 0)
            return rc;
        rc = sz_frame_header_encode(frame, clen);
        if (rc != 0)
            return rc;
        pos += SZ_FRAME_HEADER_LEN + clen;
    } while (more);
    if ((h->flags & SZ_MSG_FLAG_REKEY) != 0) {
        int rc = sz_cipher_rekey(send);
        if (rc != 0)
            return rc;
    }
    *out_len = pos;
    return 0;
}

int sz_msg_open(sz_cipher_t *recv, sz_msg_assembler_t *a, const uint8_t *frame, size_t len,
                uint8_t *plain, sz_msg_t *out) {
    size_t plen;
    if (recv == NULL || a == NULL || plain == NULL || out == NULL)
        return SZ_E_ARGUMENT;
    int rc = sz_cipher_decrypt(recv, NULL, 0, frame, len, plain, SZ_NOISE_MAX_PLAINTEXT, &plen);
    if (rc != 0)
        return rc;
    rc = sz_msg_assembler_add(a, plain, plen, out);
    if (rc == 1 && (out->header.flags & SZ_MSG_FLAG_REKEY) != 0) {
        int rk = sz_cipher_rekey(recv);
        if (rk != 0)
            return rk;
    }
    return rc;
}

/* ---- HELLO and ERROR ------------------------------------------------------------------------- */

static bool versions_valid(const sz_hello_t *h) {
    if (h->count == 0 || h->count > SZ_HELLO_MAX_VERSIONS)
        return false;
    for (unsigned i = 0; i < h->count; i++) {
        if (h->versions[i] == 0 || (i > 0 && h->versions[i] <= h->versions[i - 1]))
            return false;
    }
    return true;
}

int sz_hello_encode(const sz_hello_t *h, uint8_t *out, size_t cap, size_t *out_len) {
    if (h == NULL || out == NULL || out_len == NULL || !versions_valid(h))
        return SZ_E_ARGUMENT;
    size_t need = 1 + 2 * (size_t)h->count;
    if (cap < need)
        return SZ_E_ARGUMENT;
    out[0] = h->count;
    for (unsigned i = 0; i < h->count; i++)
        put_u16(out + 1 + 2 * i, h->versions[i]);
    *out_len = need;
    return 0;
}

/* Decodes a version list and reports how many bytes it used. */
static int versions_decode(sz_hello_t *h, const uint8_t *in, size_t len, size_t *used) {
    memset(h, 0, sizeof(*h));
    if (in == NULL || len < 1)
        return SZ_E_TRUNCATED;
    if (in[0] == 0 || in[0] > SZ_HELLO_MAX_VERSIONS)
        return SZ_E_MALFORMED;
    size_t need = 1 + 2 * (size_t)in[0];
    if (len < need)
        return SZ_E_TRUNCATED;
    h->count = in[0];
    for (unsigned i = 0; i < h->count; i++)
        h->versions[i] = get_u16(in + 1 + 2 * i);
    if (!versions_valid(h)) {
        memset(h, 0, sizeof(*h));
        return SZ_E_MALFORMED;
    }
    *used = need;
    return 0;
}

int sz_hello_decode(sz_hello_t *h, const uint8_t *in, size_t len) {
    size_t used;
    return versions_decode(h, in, len, &used);
}

int sz_hello_choose(const sz_hello_t *local, const sz_hello_t *remote, uint16_t *version) {
    for (int i = (int)local->count - 1; i >= 0; i--) {
        for (unsigned j = 0; j < remote->count && j < SZ_HELLO_MAX_VERSIONS; j++) {
            if (remote->versions[j] == local->versions[i]) {
                *version = local->versions[i];
                return 0;
            }
        }
    }
    return SZ_E_UPGRADE;
}

static bool text_valid(const char *text, size_t len) {
    if (len > SZ_ERROR_MAX_TEXT || (text == NULL && len > 0))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

int sz_error_msg_encode(const sz_error_msg_t *e, uint8_t *out, size_t cap, size_t *out_len) {
    if (e == NULL || out == NULL || out_len == NULL || e->code >= 0 ||
        !text_valid(e->text, e->text_len))
        return SZ_E_ARGUMENT;
    bool upgrade = e->code == SZ_E_UPGRADE;
    if (upgrade != (e->versions.count > 0) || (upgrade && !versions_valid(&e->versions)))
        return SZ_E_ARGUMENT;
    size_t need = 4 + 2 + e->text_len + (upgrade ? 1 + 2 * (size_t)e->versions.count : 0);
    if (cap < need)
        return SZ_E_ARGUMENT;
    put_u32(out, (uint32_t)e->code);
    put_u16(out + 4, (uint16_t)e->text_len);
    if (e->text_len > 0)
        memcpy(out + 6, e->text, e->text_len);
    size_t pos = 6 + e->text_len;
    if (upgrade) {
        size_t used;
        int rc = sz_hello_encode(&e->versions, out + pos, cap - pos, &used);
        if (rc != 0)
            return rc;
        pos += used;
    }
    *out_len = pos;
    return 0;
}

int sz_error_msg_decode(sz_error_msg_t *e, const uint8_t *in, size_t len) {
    memset(e, 0, sizeof(*e));
    if (in == NULL || len < 6)
        return SZ_E_TRUNCATED;
    uint32_t raw = get_u32(in);
    /* Two's complement on the wire; negative codes only. */
    if (raw < 0x80000000u)
        return SZ_E_MALFORMED;
    int32_t code = (int32_t)(raw - 0x80000000u) - INT32_MAX - 1;
    size_t text_len = get_u16(in + 4);
    if (text_len > SZ_ERROR_MAX_TEXT)
        return SZ_E_MALFORMED;
    if (len - 6 < text_len)
        return SZ_E_TRUNCATED;
    if (!text_valid((const char *)in + 6, text_len))
        return SZ_E_MALFORMED;
    size_t pos = 6 + text_len;
    if (code == SZ_E_UPGRADE) {
        size_t used;
        int rc = versions_decode(&e->versions, in + pos, len - pos, &used);
        if (rc != 0)
            return rc;
        pos += used;
    }
    if (pos != len) {
        memset(e, 0, sizeof(*e));
        return SZ_E_TRAILING;
    }
    e->code = code;
    e->text = (const char *)in + 6;
    e->text_len = text_len;
    return 0;
}
