/* Secondary indexes and list queries; see index.h for the contract and daemon/INDEX.md for the
 * database layouts, the period bucketing and the query plan. */
#include "index.h"

#include "edtf_range.h"
#include "encoding.h"
#include "error.h"
#include "jsonscan.h"
#include "lmdb_txn.h"
#include "sha256.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Field tags: the first byte of every idx_field key. Never renumber (on-disk format). */
enum {
    TAG_RESERVED = 0x01, /* was a list of all records; the kind lists are merged instead */
    TAG_KIND = 0x02,
    TAG_AUTHOR = 0x03,
    TAG_COUNTRY = 0x10,
    TAG_PERIOD = 0x11,
    TAG_EVENT_TYPE = 0x12,
    TAG_PATHWAY = 0x13,
    TAG_ACTOR_ROLE = 0x14,
    TAG_DEFECTION_TYPE = 0x15,
    TAG_ATTR = 0x16,
    TAG_ACT_TYPE = 0x17,
    TAG_WITNESS_ROLE = 0x18,
    TAG_LANGUAGE = 0x19,
};

/* idx_link key prefixes: 'c' + case id holds the postings of testimonies whose body names that
 * case; 't' + testimony id the postings of cases whose body names that testimony. */
#define LINK_CASE 'c'
#define LINK_TESTIMONY 't'

#define POST_LEN 40  /* posting: first_created (8, big-endian) || record id (32) */
#define META_LEN 18  /* fixed head of a meta value; the outgoing link ids follow */
#define VAL_MAX 240  /* longest value stored verbatim after the tag */
#define VAL_KEEP 200 /* a longer value keeps this prefix, a 0 byte and its hash */
#define KEY_MAX (1 + VAL_MAX)
#define TEXT_MAX 4096 /* longest filter value accepted */

/* Period buckets: a range of at most 2^bits days goes into the bucket of its start at the
 * smallest such level; longer or open ranges go into one "wide" list. */
static const unsigned period_bits[] = {5, 9, 12, 15, 18};
#define NLEVELS (sizeof(period_bits) / sizeof(period_bits[0]))
#define LEVEL_WIDE 0xFF
#define PERIOD_MAX_BUCKETS 128 /* more non-empty buckets than this: check instead of merge */
#define LINK_MAX 100000        /* links resolved for one case= or testimony= filter */

/* One index entry of a record: a key in idx_field or idx_link whose data is the record's own
 * posting. */
typedef struct entry_s {
    uint32_t off; /* of the key in the set's byte buffer */
    uint16_t klen;
    uint8_t db; /* 0 idx_field, 1 idx_link */
} entry_t;

typedef struct entry_set_s {
    entry_t *e;
    size_t n, cap;
    uint8_t *buf;
    size_t used, bcap;
    uint8_t (*out)[32]; /* outgoing link ids */
    size_t nout, outcap;
    uint8_t *meta;
    size_t metalen, metacap;
    int has_period;
    int64_t pmin, pmax;
} entry_set_t;

struct sz_index_s {
    MDB_dbi field, link, meta, ids;
    sz_index_created_cb resolve; /* NULL: idx_ids maps ids to first_created */
    void *resolve_ctx;
    entry_set_t olds, news; /* scratch of the single writer */
};

/* ---- small helpers ---- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int lmdb_err(int rc) {
    return sz__lmdb_err(rc);
}

/* ---- building the entry set of one record version ---- */

static void set_reset(entry_set_t *s) {
    s->n = 0;
    s->used = 0;
    s->nout = 0;
    s->metalen = 0;
    s->has_period = 0;
    s->pmin = s->pmax = 0;
}

static void set_free(entry_set_t *s) {
    free(s->e);
    free(s->buf);
    free(s->out);
    free(s->meta);
    memset(s, 0, sizeof(*s));
}

static int set_reserve(entry_set_t *s, size_t bytes) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        entry_t *e = realloc(s->e, cap * sizeof(*e));
        if (e == NULL)
            return -ENOMEM;
        s->e = e;
        s->cap = cap;
    }
    if (bytes > s->bcap - s->used) {
        size_t cap = s->bcap ? s->bcap : 4096;
        while (cap - s->used < bytes)
            cap *= 2;
        uint8_t *b = realloc(s->buf, cap);
        if (b == NULL)
            return -ENOMEM;
        s->buf = b;
        s->bcap = cap;
    }
    return 0;
}

/* Normalises the key k (tag, then value bytes) in place: country codes fold to upper case and
 * language tags to lower case, as both are case-insensitive; a value longer than VAL_MAX keeps its
 * first VAL_KEEP bytes, a 0 byte and its SHA-256, so any length fits LMDB's key limit. Returns the
 * final length. k must have room for max(len, 1 + VAL_KEEP + 33) bytes. */
static size_t key_finish(uint8_t *k, size_t len) {
    if (k[0] == TAG_COUNTRY || k[0] == TAG_LANGUAGE) {
        for (size_t i = 1; i < len; i++) {
            if (k[0] == TAG_COUNTRY && k[i] >= 'a' && k[i] <= 'z')
                k[i] = (uint8_t)(k[i] - 32);
            else if (k[0] == TAG_LANGUAGE && k[i] >= 'A' && k[i] <= 'Z')
                k[i] = (uint8_t)(k[i] + 32);
        }
    }
    if (len - 1 <= VAL_MAX)
        return len;
    uint8_t h[32];
    sz_sha256(h, k + 1, len - 1);
    k[1 + VAL_KEEP] = 0;
    memcpy(k + 2 + VAL_KEEP, h, 32);
    return 1 + VAL_KEEP + 33;
}

static void push_entry(entry_set_t *s, uint8_t db, size_t klen) {
    entry_t *e = &s->e[s->n++];
    e->off = (uint32_t)s->used;
    e->klen = (uint16_t)klen;
    e->db = db;
    s->used += klen;
}

static int add_raw(entry_set_t *s, uint8_t tag, const uint8_t *v, size_t vlen) {
    int rc = set_reserve(s, 1 + vlen + 64);
    if (rc != 0)
        return rc;
    uint8_t *k = s->buf + s->used;
    k[0] = tag;
    if (vlen > 0)
        memcpy(k + 1, v, vlen);
    push_entry(s, 0, key_finish(k, 1 + vlen));
    return 0;
}

/* Adds tag + the decoded JSON string v; anything but a string is ignored (the schema allows
 * none here, and a scanner must not fail ingest over it). */
static int add_string(entry_set_t *s, uint8_t tag, sz_jspan_t v) {
    if (sz_json_type(v) != SZ_JSON_STRING)
        return 0;
    int rc = set_reserve(s, 1 + v.len + 64);
    if (rc != 0)
        return rc;
    uint8_t *k = s->buf + s->used;
    size_t n;
    k[0] = tag;
    if ((rc = sz_json_string(v, k + 1, v.len, &n)) != 0)
        return rc;
    push_entry(s, 0, key_finish(k, 1 + n));
    return 0;
}

static int add_string_array(entry_set_t *s, uint8_t tag, sz_jspan_t arr, const char *member) {
    sz_json_iter_t it;
    sz_jspan_t e, m;
    int rc;
    if (sz_json_type(arr) != SZ_JSON_ARRAY)
        return 0;
    if ((rc = sz_json_iter_init(&it, arr)) != 0)
        return rc;
    while ((rc = sz_json_next_element(&it, &e)) == 1) {
        if (member == NULL) {
            rc = add_string(s, tag, e);
        } else {
            rc = sz_json_get(e, member, &m);
            if (rc == 1)
                rc = add_string(s, tag, m);
        }
        if (rc < 0)
            return rc;
    }
    return rc;
}

/* The attribute key: tag | name length (2, big-endian) | name | value as text. */
static int add_attributes(entry_set_t *s, sz_jspan_t obj) {
    sz_json_iter_t it;
    sz_jspan_t k, v;
    int rc;
    if (sz_json_type(obj) != SZ_JSON_OBJECT)
        return 0;
    if ((rc = sz_json_iter_init(&it, obj)) != 0)
        return rc;
    while ((rc = sz_json_next_member(&it, &k, &v)) == 1) {
        sz_json_type_t t = sz_json_type(v);
        if (t == SZ_JSON_NULL || t == SZ_JSON_OBJECT || t == SZ_JSON_ARRAY || t == SZ_JSON_NONE)
            continue; /* null means "not coded" */
        if ((rc = set_reserve(s, 3 + k.len + v.len + 64)) != 0)
            return rc;
        uint8_t *p = s->buf + s->used;
        size_t nlen, vlen;
        p[0] = TAG_ATTR;
        if ((rc = sz_json_string(k, p + 3, k.len, &nlen)) != 0)
            return rc;
        if (nlen > 0xFFFF)
            continue;
        p[1] = (uint8_t)(nlen >> 8);
        p[2] = (uint8_t)nlen;
        if (t == SZ_JSON_STRING) {
            if ((rc = sz_json_string(v, p + 3 + nlen, v.len, &vlen)) != 0)
                return rc;
        } else {
            memcpy(p + 3 + nlen, v.p, v.len);
            vlen = v.len;
        }
        push_entry(s, 0, key_finish(p, 3 + nlen + vlen));
    }
    return rc;
}

static int add_period(entry_set_t *s, sz_jspan_t v) {
    uint8_t buf[SZ_EDTF_MAX_LEN];
    size_t n;
    int64_t lo, hi;
    if (sz_json_type(v) != SZ_JSON_STRING || v.len > SZ_EDTF_MAX_LEN + 2)
        return 0;
    if (sz_json_string(v, buf, sizeof(buf), &n) != 0 || sz_edtf_range((char *)buf, n, &lo, &hi))
        return 0; /* the schema validates EDTF; an odd date is simply not period-indexed */
    s->has_period = 1;
    s->pmin = lo;
    s->pmax = hi;
    uint8_t k[10];
    k[0] = TAG_PERIOD;
    k[1] = LEVEL_WIDE;
    size_t klen = 2;
    for (size_t l = 0; l < NLEVELS; l++) {
        if (hi - lo < (INT64_C(1) << period_bits[l])) {
            k[1] = (uint8_t)l;
            sz_be64_put(k + 2,
                        (uint64_t)floor_div(lo, INT64_C(1) << period_bits[l]) ^ (1ull << 63));
            klen = 10;
            break;
        }
    }
    return add_raw(s, TAG_PERIOD, k + 1, klen - 1);
}

/* Links are stored where the query needs them: a testimony naming case C adds key ('c', C) with
 * the testimony's posting, a case naming testimony T adds ('t', T) with the case's posting. A
 * record's own outgoing list is kept in its meta value (written anyway), so each link costs one
 * entry. */
static int add_links(entry_set_t *s, sz_jspan_t arr, int self_is_case) {
    sz_json_iter_t it;
    sz_jspan_t e;
    int rc;
    if (sz_json_type(arr) != SZ_JSON_ARRAY)
        return 0;
    if ((rc = sz_json_iter_init(&it, arr)) != 0)
        return rc;
    while ((rc = sz_json_next_element(&it, &e)) == 1) {
        char hex[SZ_HASH_HEX_LEN + 1];
        uint8_t other[32];
        size_t n;
        if (sz_json_type(e) != SZ_JSON_STRING || e.len != SZ_HASH_HEX_LEN + 2)
            continue;
        if (sz_json_string(e, (uint8_t *)hex, SZ_HASH_HEX_LEN, &n) != 0 || n != SZ_HASH_HEX_LEN)
            continue;
        hex[SZ_HASH_HEX_LEN] = 0;
        if (sz_hex_decode(other, 32, hex) != 0)
            continue;
        if (s->nout == s->outcap) {
            size_t cap = s->outcap ? s->outcap * 2 : 16;
            uint8_t(*o)[32] = realloc(s->out, cap * 32);
            if (o == NULL)
                return -ENOMEM;
            s->out = o;
            s->outcap = cap;
        }
        memcpy(s->out[s->nout++], other, 32);
        if ((rc = set_reserve(s, 33)) != 0)
            return rc;
        uint8_t *p = s->buf + s->used;
        p[0] = self_is_case ? LINK_TESTIMONY : LINK_CASE;
        memcpy(p + 1, other, 32);
        push_entry(s, 1, 33);
    }
    return rc;
}

/* Maps an object key to its index in names (n entries), or -1; compares lengths first because
 * this runs for every member of every body. */
static int key_index(sz_jspan_t k, const char *const *names, const uint8_t *lens, int n) {
    if (k.len < 2)
        return -1;
    size_t len = k.len - 2;
    const uint8_t *p = k.p + 1;
    int escaped = memchr(p, '\\', len) != NULL;
    for (int i = 0; i < n; i++) {
        if (escaped ? sz_json_key_is(k, names[i])
                    : (len == lens[i] && p[0] == (uint8_t)names[i][0] && !memcmp(p, names[i], len)))
            return i;
    }
    return -1;
}

static const char *const t_keys[] = {"statement", "witness", "event", "act_types", "cases"};
static const uint8_t t_lens[] = {9, 7, 5, 9, 5};
static const char *const c_keys[] = {"place",      "period",      "event_type",
                                     "pathways",   "actors",      "defection_type",
                                     "attributes", "testimonies", "language"};
static const uint8_t c_lens[] = {5, 6, 10, 8, 6, 14, 10, 11, 8};

static int scan_testimony(entry_set_t *s, sz_jspan_t root) {
    sz_json_iter_t it;
    sz_jspan_t k, v, x, y;
    int rc = sz_json_iter_init(&it, root);
    while (rc == 0 && (rc = sz_json_next_member(&it, &k, &v)) == 1) {
        rc = 0;
        switch (key_index(k, t_keys, t_lens, 5)) {
        case 0:
            if ((rc = sz_json_get(v, "language", &x)) == 1)
                rc = add_string(s, TAG_LANGUAGE, x);
            break;
        case 1:
            if ((rc = sz_json_get(v, "role", &x)) == 1)
                rc = add_string(s, TAG_WITNESS_ROLE, x);
            break;
        case 2:
            if ((rc = sz_json_get(v, "date", &x)) == 1)
                rc = add_period(s, x);
            if (rc >= 0 && (rc = sz_json_get(v, "place", &x)) == 1 &&
                (rc = sz_json_get(x, "country", &y)) == 1)
                rc = add_string(s, TAG_COUNTRY, y);
            break;
        case 3:
            rc = add_string_array(s, TAG_ACT_TYPE, v, NULL);
            break;
        case 4:
            rc = add_links(s, v, 0);
            break;
        default:
            break;
        }
        if (rc > 0)
            rc = 0;
    }
    return rc;
}

static int scan_case(entry_set_t *s, sz_jspan_t root) {
    sz_json_iter_t it;
    sz_jspan_t k, v, x;
    int rc = sz_json_iter_init(&it, root);
    while (rc == 0 && (rc = sz_json_next_member(&it, &k, &v)) == 1) {
        rc = 0;
        switch (key_index(k, c_keys, c_lens, 9)) {
        case 0:
            if ((rc = sz_json_get(v, "country", &x)) == 1)
                rc = add_string(s, TAG_COUNTRY, x);
            break;
        case 1:
            rc = add_period(s, v);
            break;
        case 2:
            rc = add_string(s, TAG_EVENT_TYPE, v);
            break;
        case 3:
            rc = add_string_array(s, TAG_PATHWAY, v, NULL);
            break;
        case 4:
            rc = add_string_array(s, TAG_ACTOR_ROLE, v, "role");
            break;
        case 5:
            rc = add_string(s, TAG_DEFECTION_TYPE, v);
            break;
        case 6:
            rc = add_attributes(s, v);
            break;
        case 7:
            rc = add_links(s, v, 1);
            break;
        case 8:
            rc = add_string(s, TAG_LANGUAGE, v);
            break;
        default:
            break;
        }
        if (rc > 0)
            rc = 0;
    }
    return rc;
}

static int entry_cmp2(const entry_set_t *sa, const entry_t *a, const entry_set_t *sb,
                      const entry_t *b) {
    if (a->db != b->db)
        return a->db < b->db ? -1 : 1;
    int c = memcmp(sa->buf + a->off, sb->buf + b->off, a->klen < b->klen ? a->klen : b->klen);
    if (c != 0)
        return c;
    return a->klen < b->klen ? -1 : a->klen > b->klen;
}

/* qsort has no context argument. Thread-local, because sz_index_verify() may build sets in
 * reader threads while the writer builds its own. */
static _Thread_local const entry_set_t *sort_set;

static int entry_qcmp(const void *a, const void *b) {
    return entry_cmp2(sort_set, a, sort_set, b);
}

static int id_qcmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* Writes the meta value into s->meta: kind | flags (bit 7: has a period) | period min (8) |
 * max (8) | the outgoing link ids, sorted (32 each). Only a record with a period or links needs
 * one (metalen stays 0 otherwise); its key is the record's posting. */
static int meta_build(entry_set_t *s, const sz_record_t *rec) {
    if (!s->has_period && s->nout == 0) {
        s->metalen = 0;
        return 0;
    }
    size_t len = META_LEN + s->nout * 32;
    if (len > s->metacap) {
        uint8_t *m = realloc(s->meta, len);
        if (m == NULL)
            return -ENOMEM;
        s->meta = m;
        s->metacap = len;
    }
    uint8_t *out = s->meta;
    out[0] = rec->kind;
    out[1] = (uint8_t)(rec->flags | (s->has_period ? 0x80 : 0));
    sz_be64_put(out + 2, (uint64_t)s->pmin);
    sz_be64_put(out + 10, (uint64_t)s->pmax);
    if (s->nout > 0)
        memcpy(out + META_LEN, s->out, s->nout * 32);
    s->metalen = len;
    return 0;
}

/* Computes the sorted, duplicate-free entry set and the meta value of rec, the current version
 * of a record first created at first_created. */
static int build_set(entry_set_t *s, const sz_record_t *rec) {
    int rc;
    set_reset(s);
    uint8_t kind = rec->kind;
    if ((rc = add_raw(s, TAG_KIND, &kind, 1)) != 0 ||
        (rc = add_raw(s, TAG_AUTHOR, rec->author, 32)) != 0)
        return rc;
    if (!(rec->flags & SZ_FLAG_SEALED) &&
        (rec->kind == SZ_KIND_TESTIMONY || rec->kind == SZ_KIND_CASE)) {
        /* The body was validated before it was stored, so the object is framed by its outer
         * braces without a pass over the whole text; the member walk still checks structure. */
        sz_jspan_t root = {rec->body, rec->body_len};
        while (root.len > 0 &&
               (root.p[0] == ' ' || root.p[0] == '\n' || root.p[0] == '\r' || root.p[0] == '\t')) {
            root.p++;
            root.len--;
        }
        while (root.len > 0 && (root.p[root.len - 1] == ' ' || root.p[root.len - 1] == '\n' ||
                                root.p[root.len - 1] == '\r' || root.p[root.len - 1] == '\t'))
            root.len--;
        if (root.len < 2 || root.p[0] != '{' || root.p[root.len - 1] != '}')
            return SZ_E_JSON;
        rc = rec->kind == SZ_KIND_TESTIMONY ? scan_testimony(s, root) : scan_case(s, root);
        if (rc < 0)
            return rc;
    }
    sort_set = s;
    qsort(s->e, s->n, sizeof(*s->e), entry_qcmp);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (w == 0 || entry_cmp2(s, &s->e[w - 1], s, &s->e[i]) != 0)
            s->e[w++] = s->e[i];
    }
    s->n = w;
    if (s->nout > 1)
        qsort(s->out, s->nout, 32, id_qcmp);
    w = 0;
    for (size_t i = 0; i < s->nout; i++) {
        if (w == 0 || memcmp(s->out[w - 1], s->out[i], 32) != 0)
            memmove(s->out[w++], s->out[i], 32);
    }
    s->nout = w;
    return meta_build(s, rec);
}

/* ---- writing ---- */

static int apply(sz_index_t *idx, MDB_txn *txn, const entry_set_t *s, const entry_t *e,
                 const uint8_t post[POST_LEN], int del) {
    MDB_val k = {e->klen, s->buf + e->off}, d = {POST_LEN, (void *)post};
    MDB_dbi dbi = e->db == 0 ? idx->field : idx->link;
    int rc = del ? mdb_del(txn, dbi, &k, &d) : mdb_put(txn, dbi, &k, &d, MDB_NODUPDATA);
    if (rc == MDB_NOTFOUND || rc == MDB_KEYEXIST)
        rc = 0;
    return lmdb_err(rc);
}

int sz_index_open(sz_index_t **out, MDB_txn *txn) {
    *out = NULL;
    sz_index_t *idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return -ENOMEM;
    int rc = mdb_dbi_open(txn, "idx_field", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &idx->field);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "idx_link", MDB_CREATE | MDB_DUPSORT | MDB_DUPFIXED, &idx->link);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "idx_meta", MDB_CREATE, &idx->meta);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "idx_ids", MDB_CREATE, &idx->ids);
    if (rc != 0) {
        free(idx);
        return lmdb_err(rc);
    }
    *out = idx;
    return 0;
}

void sz_index_close(sz_index_t *idx) {
    if (idx == NULL)
        return;
    set_free(&idx->olds);
    set_free(&idx->news);
    free(idx);
}

void sz_index_set_resolver(sz_index_t *idx, sz_index_created_cb cb, void *ctx) {
    idx->resolve = cb;
    idx->resolve_ctx = ctx;
}

/* Brings the meta value keyed by post from os (NULL: none before) to ns (NULL: none after). */
static int meta_apply(sz_index_t *idx, MDB_txn *txn, const uint8_t post[POST_LEN],
                      const entry_set_t *os, const entry_set_t *ns) {
    size_t olen = os ? os->metalen : 0, nlen = ns ? ns->metalen : 0;
    MDB_val k = {POST_LEN, (void *)post};
    int rc = 0;
    if (nlen > 0 && (olen != nlen || memcmp(os->meta, ns->meta, nlen) != 0)) {
        MDB_val d = {nlen, ns->meta};
        rc = mdb_put(txn, idx->meta, &k, &d, 0);
    } else if (nlen == 0 && olen > 0) {
        rc = mdb_del(txn, idx->meta, &k, NULL);
    }
    return rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

int sz_index_update(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *old, const sz_record_t *cur) {
    uint8_t post[POST_LEN];
    int rc;
    sz_be64_put(post, first_created);
    memcpy(post + 8, record_id, 32);
    entry_set_t *ns = &idx->news, *os = &idx->olds;
    if ((rc = build_set(ns, cur)) != 0)
        return rc;
    if (old == NULL)
        set_reset(os);
    else if ((rc = build_set(os, old)) != 0)
        return rc;
    /* Both sets are sorted: one merge pass finds what to delete and what to add, so an
     * amendment that changes one field touches one entry. */
    size_t i = 0, j = 0;
    while (i < os->n || j < ns->n) {
        int c = i == os->n ? 1 : j == ns->n ? -1 : entry_cmp2(os, &os->e[i], ns, &ns->e[j]);
        if (c < 0) {
            rc = apply(idx, txn, os, &os->e[i++], post, 1);
        } else if (c > 0) {
            rc = apply(idx, txn, ns, &ns->e[j++], post, 0);
        } else {
            i++;
            j++;
        }
        if (rc != 0)
            return rc;
    }
    if ((rc = meta_apply(idx, txn, post, old ? os : NULL, ns)) != 0)
        return rc;
    if (old == NULL && idx->resolve == NULL) {
        MDB_val k = {32, (void *)record_id}, d = {8, post};
        if ((rc = mdb_put(txn, idx->ids, &k, &d, 0)) != 0)
            return lmdb_err(rc);
    }
    return 0;
}

int sz_index_remove(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *cur) {
    uint8_t post[POST_LEN];
    int rc;
    sz_be64_put(post, first_created);
    memcpy(post + 8, record_id, 32);
    entry_set_t *s = &idx->olds;
    if ((rc = build_set(s, cur)) != 0)
        return rc;
    for (size_t i = 0; i < s->n; i++) {
        if ((rc = apply(idx, txn, s, &s->e[i], post, 1)) != 0)
            return rc;
    }
    if ((rc = meta_apply(idx, txn, post, s, NULL)) != 0)
        return rc;
    if (idx->resolve == NULL) {
        MDB_val k = {32, (void *)record_id};
        rc = mdb_del(txn, idx->ids, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_err(rc);
    }
    return 0;
}

int sz_index_verify(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *cur, size_t *entries) {
    uint8_t post[POST_LEN];
    int rc;
    sz_be64_put(post, first_created);
    memcpy(post + 8, record_id, 32);
    entry_set_t s = {0};
    MDB_cursor *cf = NULL, *cl = NULL;
    if ((rc = build_set(&s, cur)) != 0)
        goto done;
    if ((rc = lmdb_err(mdb_cursor_open(txn, idx->field, &cf))) != 0 ||
        (rc = lmdb_err(mdb_cursor_open(txn, idx->link, &cl))) != 0)
        goto done;
    for (size_t i = 0; i < s.n; i++) {
        const entry_t *e = &s.e[i];
        MDB_val k = {e->klen, s.buf + e->off}, d = {POST_LEN, post};
        rc = mdb_cursor_get(e->db == 0 ? cf : cl, &k, &d, MDB_GET_BOTH);
        if (rc != 0) {
            rc = rc == MDB_NOTFOUND ? SZ_E_CORRUPT : lmdb_err(rc);
            goto done;
        }
    }
    size_t n = s.n;
    MDB_val k = {POST_LEN, post}, d;
    rc = mdb_get(txn, idx->meta, &k, &d);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = lmdb_err(rc);
        goto done;
    }
    /* The meta value must be exactly what this version implies, or absent when it implies none. */
    if ((rc == 0) != (s.metalen > 0) ||
        (rc == 0 && (d.mv_size != s.metalen || memcmp(d.mv_data, s.meta, s.metalen) != 0))) {
        rc = SZ_E_CORRUPT;
        goto done;
    }
    n += s.metalen > 0;
    if (idx->resolve == NULL) {
        MDB_val ik = {32, (void *)record_id}, id;
        rc = mdb_get(txn, idx->ids, &ik, &id);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            rc = lmdb_err(rc);
            goto done;
        }
        if (rc != 0 || id.mv_size != 8 || memcmp(id.mv_data, post, 8) != 0) {
            rc = SZ_E_CORRUPT;
            goto done;
        }
        n++;
    }
    rc = 0;
    if (entries != NULL)
        *entries = n;
done:
    if (cl != NULL)
        mdb_cursor_close(cl);
    if (cf != NULL)
        mdb_cursor_close(cf);
    set_free(&s);
    return rc;
}

int sz_index_count(sz_index_t *idx, MDB_txn *txn, size_t *entries, size_t *records) {
    MDB_stat st;
    MDB_cursor *c = NULL;
    int rc;
    size_t total = 0, nrec = 0;
    MDB_dbi dbis[4] = {idx->field, idx->link, idx->meta, idx->ids};
    for (int i = 0; i < (idx->resolve == NULL ? 4 : 3); i++) {
        if ((rc = mdb_stat(txn, dbis[i], &st)) != 0)
            return lmdb_err(rc);
        total += st.ms_entries;
    }
    /* Every indexed record is in exactly one kind list. */
    if ((rc = mdb_cursor_open(txn, idx->field, &c)) != 0)
        return lmdb_err(rc);
    for (uint8_t kind = 1; kind <= SZ_KIND_REVOCATION; kind++) {
        uint8_t key[2] = {TAG_KIND, kind};
        MDB_val k = {2, key}, d;
        size_t cnt = 0;
        rc = mdb_cursor_get(c, &k, &d, MDB_SET);
        if (rc == 0)
            rc = mdb_cursor_count(c, &cnt);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            mdb_cursor_close(c);
            return lmdb_err(rc);
        }
        nrec += cnt;
    }
    mdb_cursor_close(c);
    *entries = total;
    *records = nrec;
    return 0;
}

/* ---- queries ---- */

enum { C_POSTING, C_PERIOD, C_LINK, C_ALL };

typedef struct cond_s {
    int type;
    uint8_t key[KEY_MAX + 64]; /* room for key_finish */
    size_t klen;
    int64_t qmin, qmax; /* C_PERIOD */
    uint8_t (*out)[32]; /* C_LINK: the subject's own outgoing ids, sorted (owned) */
    size_t nout;
    size_t estimate;
    int driver_ok;
    /* C_POSTING checks: a cursor that follows the candidates through the list. */
    MDB_cursor *cc;
    int cstate; /* 0 not positioned, 1 head holds the current entry, 2 list exhausted */
    uint8_t chead[POST_LEN];
} cond_t;

/* A position in one posting list. */
typedef struct pstream_s {
    MDB_cursor *c;
    MDB_val key;
    uint8_t head[POST_LEN];
    int valid;
} pstream_t;

typedef struct plan_s {
    cond_t conds[SZ_QUERY_MAX_FILTERS + 2];
    size_t nconds;
    int empty; /* the filters contradict each other */
    int desc;
    int have_after;
    uint8_t after[POST_LEN];
    uint8_t binding[6];
} plan_t;

static int post_cmp(const uint8_t *a, const uint8_t *b, int desc) {
    int c = memcmp(a, b, POST_LEN);
    return desc ? -c : c;
}

static int pstream_load(pstream_t *s, int rc, MDB_val *d) {
    if (rc == MDB_NOTFOUND) {
        s->valid = 0;
        return 0;
    }
    if (rc != 0)
        return lmdb_err(rc);
    if (d->mv_size != POST_LEN)
        return SZ_E_CORRUPT;
    memcpy(s->head, d->mv_data, POST_LEN);
    s->valid = 1;
    return 0;
}

/* Positions s on its first posting strictly after `after` (or the first overall) in the order. */
static int pstream_start(pstream_t *s, const plan_t *p) {
    MDB_val k = s->key, d;
    int rc = mdb_cursor_get(s->c, &k, &d, MDB_SET);
    if (rc != 0)
        return pstream_load(s, rc, &d);
    if (!p->have_after)
        return pstream_load(s, mdb_cursor_get(s->c, &k, &d, p->desc ? MDB_LAST_DUP : MDB_FIRST_DUP),
                            &d);
    d.mv_size = POST_LEN;
    d.mv_data = (void *)p->after;
    rc = mdb_cursor_get(s->c, &k, &d, MDB_GET_BOTH_RANGE);
    if (rc == MDB_NOTFOUND) {
        if (!p->desc)
            return pstream_load(s, rc, &d);
        k = s->key;
        if ((rc = mdb_cursor_get(s->c, &k, &d, MDB_SET)) == 0)
            rc = mdb_cursor_get(s->c, &k, &d, MDB_LAST_DUP);
        return pstream_load(s, rc, &d);
    }
    if (rc != 0)
        return lmdb_err(rc);
    if (p->desc)
        return pstream_load(s, mdb_cursor_get(s->c, &k, &d, MDB_PREV_DUP), &d);
    if (d.mv_size == POST_LEN && memcmp(d.mv_data, p->after, POST_LEN) == 0)
        return pstream_load(s, mdb_cursor_get(s->c, &k, &d, MDB_NEXT_DUP), &d);
    return pstream_load(s, 0, &d);
}

static int pstream_next(pstream_t *s, int desc) {
    MDB_val k, d;
    return pstream_load(s, mdb_cursor_get(s->c, &k, &d, desc ? MDB_PREV_DUP : MDB_NEXT_DUP), &d);
}

typedef struct field_def_s {
    const char *name;
    uint8_t tag;
} field_def_t;

static const field_def_t text_fields[] = {
    {"country", TAG_COUNTRY},
    {"event_type", TAG_EVENT_TYPE},
    {"pathway", TAG_PATHWAY},
    {"actor_role", TAG_ACTOR_ROLE},
    {"defection_type", TAG_DEFECTION_TYPE},
    {"act_type", TAG_ACT_TYPE},
    {"witness_role", TAG_WITNESS_ROLE},
    {"language", TAG_LANGUAGE},
};

static void cond_key(cond_t *c, uint8_t tag, const void *v, size_t vlen) {
    c->type = C_POSTING;
    c->key[0] = tag;
    if (vlen > 0)
        memcpy(c->key + 1, v, vlen);
    c->klen = key_finish(c->key, 1 + vlen);
}

/* Turns one filter into a condition; *kind_out receives a kind the filter implies (0 = none). */
static int parse_filter(const sz_filter_t *f, cond_t *c, unsigned *kind_out) {
    *kind_out = 0;
    if (f->field == NULL || f->value == NULL)
        return SZ_E_ARGUMENT;
    const char *name = f->field, *v = f->value;
    size_t vlen = strnlen(v, TEXT_MAX + 1);
    if (vlen == 0 || vlen > TEXT_MAX)
        return SZ_E_ARGUMENT;
    memset(c, 0, sizeof(*c));
    if (strcmp(name, "kind") == 0) {
        int k = sz_kind_from_name(v);
        if (k <= 0)
            return SZ_E_ARGUMENT;
        uint8_t kb = (uint8_t)k;
        cond_key(c, TAG_KIND, &kb, 1);
        *kind_out = (unsigned)k;
        return 0;
    }
    if (strcmp(name, "author") == 0) {
        uint8_t pk[32];
        if (sz_pubkey_parse(pk, v) != 0)
            return SZ_E_ARGUMENT;
        cond_key(c, TAG_AUTHOR, pk, 32);
        return 0;
    }
    if (strcmp(name, "period") == 0) {
        if (sz_edtf_range(v, vlen, &c->qmin, &c->qmax) != 0)
            return SZ_E_ARGUMENT;
        c->type = C_PERIOD;
        return 0;
    }
    if (strcmp(name, "case") == 0 || strcmp(name, "testimony") == 0) {
        uint8_t id[32];
        if (vlen != SZ_HASH_HEX_LEN || sz_hex_decode(id, 32, v) != 0)
            return SZ_E_ARGUMENT;
        int is_case = name[0] == 'c';
        c->type = C_LINK;
        c->key[0] = is_case ? LINK_CASE : LINK_TESTIMONY;
        memcpy(c->key + 1, id, 32);
        c->klen = 33;
        *kind_out = is_case ? SZ_KIND_TESTIMONY : SZ_KIND_CASE;
        return 0;
    }
    if (strncmp(name, "attr.", 5) == 0) {
        size_t nlen = strnlen(name + 5, 256);
        if (nlen == 0 || nlen > 255)
            return SZ_E_ARGUMENT;
        uint8_t tmp[2 + 255 + TEXT_MAX];
        tmp[0] = (uint8_t)(nlen >> 8);
        tmp[1] = (uint8_t)nlen;
        memcpy(tmp + 2, name + 5, nlen);
        memcpy(tmp + 2 + nlen, v, vlen);
        uint8_t full[1 + sizeof(tmp)];
        full[0] = TAG_ATTR;
        memcpy(full + 1, tmp, 2 + nlen + vlen);
        size_t klen = key_finish(full, 1 + 2 + nlen + vlen);
        c->type = C_POSTING;
        memcpy(c->key, full, klen);
        c->klen = klen;
        return 0;
    }
    for (size_t i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++) {
        if (strcmp(name, text_fields[i].name) == 0) {
            if (text_fields[i].tag == TAG_COUNTRY && vlen != 2 && vlen != 4)
                return SZ_E_ARGUMENT;
            uint8_t full[1 + TEXT_MAX];
            full[0] = text_fields[i].tag;
            memcpy(full + 1, v, vlen);
            size_t klen = key_finish(full, 1 + vlen);
            c->type = C_POSTING;
            memcpy(c->key, full, klen);
            c->klen = klen;
            return 0;
        }
    }
    return SZ_E_ARGUMENT;
}

/* An order-independent digest of the filters and order, so a cursor token only continues the
 * query it came from. */
static void query_binding(const sz_query_t *q, uint8_t out[6]) {
    uint64_t acc = 0;
    for (unsigned i = 0; i < q->nfilters; i++) {
        crypto_generichash_state st;
        uint8_t h[8];
        crypto_generichash_init(&st, NULL, 0, sizeof(h));
        crypto_generichash_update(&st, (const uint8_t *)q->filters[i].field,
                                  strlen(q->filters[i].field) + 1);
        crypto_generichash_update(&st, (const uint8_t *)q->filters[i].value,
                                  strlen(q->filters[i].value) + 1);
        crypto_generichash_final(&st, h, sizeof(h));
        acc += sz_be64_get(h);
    }
    uint8_t in[10], h[6];
    sz_be64_put(in, acc);
    in[8] = (uint8_t)q->kind;
    in[9] = q->newest_first ? 1 : 0;
    crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
    memcpy(out, h, 6);
}

#define TOKEN_VERSION 1
#define TOKEN_BYTES (SZ_CURSOR_TOKEN_LEN / 2) /* version, order, posting (40), binding (6) */

static void token_encode(char *out, const plan_t *p, const uint8_t last[POST_LEN]) {
    uint8_t raw[TOKEN_BYTES];
    raw[0] = TOKEN_VERSION;
    raw[1] = (uint8_t)p->desc;
    memcpy(raw + 2, last, POST_LEN);
    memcpy(raw + 2 + POST_LEN, p->binding, 6);
    sz_hex_encode(out, raw, sizeof(raw));
}

static int token_decode(plan_t *p, const char *text) {
    uint8_t raw[TOKEN_BYTES];
    if (strnlen(text, SZ_CURSOR_TOKEN_LEN + 1) != SZ_CURSOR_TOKEN_LEN ||
        sz_hex_decode(raw, sizeof(raw), text) != 0)
        return SZ_E_ARGUMENT;
    if (raw[0] != TOKEN_VERSION || raw[1] != (uint8_t)p->desc ||
        memcmp(raw + 2 + POST_LEN, p->binding, 6) != 0)
        return SZ_E_ARGUMENT;
    memcpy(p->after, raw + 2, POST_LEN);
    p->have_after = 1;
    return 0;
}

static int plan_query(plan_t *p, const sz_query_t *q) {
    memset(p, 0, sizeof(*p));
    if (q->limit < 1 || q->limit > SZ_QUERY_MAX_LIMIT || q->nfilters > SZ_QUERY_MAX_FILTERS ||
        q->kind > SZ_KIND_REVOCATION)
        return SZ_E_ARGUMENT;
    unsigned kind = q->kind;
    for (unsigned i = 0; i < q->nfilters; i++) {
        unsigned implied;
        int rc = parse_filter(&q->filters[i], &p->conds[p->nconds], &implied);
        if (rc != 0)
            return rc;
        p->nconds++;
        if (implied != 0) {
            if (kind != 0 && kind != implied)
                p->empty = 1;
            kind = implied;
        }
    }
    if (kind != 0) {
        uint8_t kb = (uint8_t)kind;
        cond_key(&p->conds[p->nconds++], TAG_KIND, &kb, 1);
    }
    /* A period alone may be too broad to drive; the merged kind lists can then. */
    int has_list = 0;
    for (size_t i = 0; i < p->nconds; i++)
        has_list |= p->conds[i].type != C_PERIOD;
    if (!has_list)
        p->conds[p->nconds++].type = C_ALL;
    p->desc = q->newest_first ? 1 : 0;
    query_binding(q, p->binding);
    if (q->cursor != NULL && q->cursor[0] != '\0')
        return token_decode(p, q->cursor);
    return 0;
}

/* The period buckets that can hold a range overlapping [qmin, qmax] at level l. */
static void level_span(const cond_t *c, size_t l, int64_t *lo, int64_t *hi) {
    int64_t size = INT64_C(1) << period_bits[l];
    *lo = floor_div(c->qmin - size + 1, size);
    *hi = floor_div(c->qmax, size);
}

static void period_key(uint8_t k[10], size_t l, int64_t bucket) {
    k[0] = TAG_PERIOD;
    k[1] = (uint8_t)l;
    sz_be64_put(k + 2, (uint64_t)bucket ^ (1ull << 63));
}

/* Collects the existing bucket keys a period condition must merge (at most max; returns the
 * count, or max + 1 when there are more), summing their sizes into *total. keys must hold max+1. */
static int period_buckets(MDB_cursor *c, const cond_t *cd, uint8_t (*keys)[10], size_t max,
                          size_t *nkeys, size_t *total) {
    size_t n = 0, sum = 0;
    for (size_t l = 0; l <= NLEVELS; l++) {
        uint8_t lo_k[10], hi_k[10];
        size_t klen = 10;
        if (l == NLEVELS) {
            lo_k[0] = hi_k[0] = TAG_PERIOD;
            lo_k[1] = hi_k[1] = LEVEL_WIDE;
            klen = 2;
        } else {
            int64_t lo, hi;
            level_span(cd, l, &lo, &hi);
            period_key(lo_k, l, lo);
            period_key(hi_k, l, hi);
        }
        MDB_val k = {klen, lo_k}, d;
        int rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size == klen && memcmp(k.mv_data, hi_k, klen) <= 0 &&
               memcmp(k.mv_data, lo_k, 2) == 0) {
            if (n == max) {
                *nkeys = max + 1;
                return 0;
            }
            size_t cnt;
            if ((rc = mdb_cursor_count(c, &cnt)) != 0)
                return lmdb_err(rc);
            memcpy(keys[n++], k.mv_data, klen);
            sum += (size_t)cnt;
            rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            return lmdb_err(rc);
    }
    *nkeys = n;
    *total = sum;
    return 0;
}

static size_t period_keylen(const uint8_t k[10]) {
    return k[1] == LEVEL_WIDE ? 2 : 10;
}

typedef struct check_ctx_s {
    sz_index_t *idx;
    MDB_txn *txn;
    MDB_cursor *field, *link;
} check_ctx_t;

/* Loads the entry the check cursor of c now points at (rc from the move that got there). */
static int chk_load(cond_t *c, int rc, const MDB_val *d) {
    if (rc == MDB_NOTFOUND) {
        c->cstate = 2;
        return 0;
    }
    if (rc != 0)
        return lmdb_err(rc);
    if (d->mv_size != POST_LEN)
        return SZ_E_CORRUPT;
    memcpy(c->chead, d->mv_data, POST_LEN);
    c->cstate = 1;
    return 0;
}

/* Moves c's check cursor to the first entry at or beyond post in the order, with one descent. */
static int chk_seek(cond_t *c, const uint8_t post[POST_LEN], int desc) {
    MDB_val k = {c->klen, c->key}, d = {POST_LEN, (void *)post};
    int rc = mdb_cursor_get(c->cc, &k, &d, MDB_GET_BOTH_RANGE);
    if (rc == MDB_NOTFOUND) {
        if (!desc)
            return chk_load(c, rc, &d);
        /* Every entry sorts before post: in descending order the last one is next. */
        k.mv_size = c->klen;
        k.mv_data = c->key;
        if ((rc = mdb_cursor_get(c->cc, &k, &d, MDB_SET)) == 0)
            rc = mdb_cursor_get(c->cc, &k, &d, MDB_LAST_DUP);
        return chk_load(c, rc, &d);
    }
    if ((rc = chk_load(c, rc, &d)) != 0 || !desc || memcmp(c->chead, post, POST_LEN) == 0)
        return rc;
    return chk_load(c, mdb_cursor_get(c->cc, &k, &d, MDB_PREV_DUP), &d);
}

/* Is post in c's posting list? Candidates arrive in strictly increasing order (decreasing when
 * desc), so the check cursor only moves forward: a candidate before it fails on a memcmp, a few
 * steps cover a near one, and only a far one costs a descent. */
static int check_posting(check_ctx_t *x, cond_t *c, const uint8_t post[POST_LEN], int desc) {
    int rc;
    if (c->cc == NULL && (rc = mdb_cursor_open(x->txn, x->idx->field, &c->cc)) != 0)
        return lmdb_err(rc);
    if (c->cstate == 0 && (rc = chk_seek(c, post, desc)) != 0)
        return rc;
    for (int steps = 0;; steps++) {
        if (c->cstate == 2)
            return 0;
        int cmp = post_cmp(c->chead, post, desc);
        if (cmp == 0)
            return 1;
        if (cmp > 0)
            return 0;
        if (steps == 4)
            return (rc = chk_seek(c, post, desc)) != 0 ? rc
                   : c->cstate == 1                    ? memcmp(c->chead, post, POST_LEN) == 0
                                                       : 0;
        MDB_val k, d;
        rc = mdb_cursor_get(c->cc, &k, &d, desc ? MDB_PREV_DUP : MDB_NEXT_DUP);
        if ((rc = chk_load(c, rc, &d)) != 0)
            return rc;
    }
}

/* Does the candidate posting satisfy condition c? */
static int check_cond(check_ctx_t *x, cond_t *c, const uint8_t post[POST_LEN], int desc) {
    MDB_val k, d;
    int rc;
    switch (c->type) {
    case C_POSTING:
        return check_posting(x, c, post, desc);
    case C_LINK:
        if (c->nout > 0 && bsearch(post + 8, c->out, c->nout, 32, id_qcmp) != NULL)
            return 1;
        k.mv_size = c->klen;
        k.mv_data = (void *)c->key;
        d.mv_size = POST_LEN;
        d.mv_data = (void *)post;
        rc = mdb_cursor_get(x->link, &k, &d, MDB_GET_BOTH);
        return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
    case C_ALL:
        return 1;
    default: {
        k.mv_size = POST_LEN;
        k.mv_data = (void *)post;
        rc = mdb_get(x->txn, x->idx->meta, &k, &d);
        if (rc == MDB_NOTFOUND)
            return 0; /* no meta value: no period */
        if (rc != 0)
            return lmdb_err(rc);
        const uint8_t *m = d.mv_data;
        if (d.mv_size < META_LEN)
            return SZ_E_CORRUPT;
        if (!(m[1] & 0x80))
            return 0;
        int64_t lo = (int64_t)sz_be64_get(m + 2), hi = (int64_t)sz_be64_get(m + 10);
        return lo <= c->qmax && hi >= c->qmin;
    }
    }
}

static int post_qcmp(const void *a, const void *b) {
    return memcmp(a, b, POST_LEN);
}

/* Finds the posting of record id if it is indexed now as a record of the given kind: the
 * first-version time comes from the store's resolver (or idx_ids), and the kind list confirms
 * the kind and that the record is indexed (it may be unknown, or retracted). Returns 1, 0, or a
 * negative error. */
static int posting_of(check_ctx_t *x, const uint8_t id[32], unsigned kind, uint8_t post[POST_LEN]) {
    uint64_t created;
    int rc;
    if (x->idx->resolve != NULL) {
        rc = x->idx->resolve(x->idx->resolve_ctx, x->txn, id, &created);
        if (rc == SZ_E_NOT_FOUND)
            return 0;
        if (rc != 0)
            return rc;
    } else {
        MDB_val k = {32, (void *)id}, d;
        rc = mdb_get(x->txn, x->idx->ids, &k, &d);
        if (rc == MDB_NOTFOUND)
            return 0;
        if (rc != 0)
            return lmdb_err(rc);
        if (d.mv_size != 8)
            return SZ_E_CORRUPT;
        created = sz_be64_get(d.mv_data);
    }
    sz_be64_put(post, created);
    memcpy(post + 8, id, 32);
    uint8_t key[2] = {TAG_KIND, (uint8_t)kind};
    MDB_val k = {2, key}, d = {POST_LEN, post};
    rc = mdb_cursor_get(x->field, &k, &d, MDB_GET_BOTH);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : lmdb_err(rc);
}

/* Loads the subject's own outgoing link ids into c->out when the subject is of the kind the
 * condition is about (a case for "case=", a testimony for "testimony="). */
static int link_load_out(check_ctx_t *x, cond_t *c) {
    unsigned subject_kind = c->key[0] == LINK_CASE ? SZ_KIND_CASE : SZ_KIND_TESTIMONY;
    uint8_t post[POST_LEN];
    int rc = posting_of(x, c->key + 1, subject_kind, post);
    if (rc <= 0)
        return rc;
    MDB_val k = {POST_LEN, post}, d;
    rc = mdb_get(x->txn, x->idx->meta, &k, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return lmdb_err(rc);
    const uint8_t *m = d.mv_data;
    if (d.mv_size < META_LEN || (d.mv_size - META_LEN) % 32 != 0)
        return SZ_E_CORRUPT;
    size_t n = (d.mv_size - META_LEN) / 32;
    if (m[0] != subject_kind || n == 0)
        return 0;
    c->out = malloc(n * 32);
    if (c->out == NULL)
        return -ENOMEM;
    memcpy(c->out, m + META_LEN, n * 32);
    c->nout = n;
    return 0;
}

/* Resolves a link condition into the sorted postings of the linked records of kind want_kind:
 * the incoming entries as stored, and the subject's outgoing ids resolved to postings (those not
 * indexed are skipped: a link may name a record this node has not received). */
static int link_postings(check_ctx_t *x, const cond_t *c, unsigned want_kind,
                         uint8_t (**out)[POST_LEN], size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    MDB_val k = {c->klen, (void *)c->key}, d;
    size_t cnt = 0;
    int rc = mdb_cursor_get(x->link, &k, &d, MDB_SET);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_err(rc);
    int have = rc == 0;
    if (have && (rc = mdb_cursor_count(x->link, &cnt)) != 0)
        return lmdb_err(rc);
    if (cnt > LINK_MAX)
        cnt = LINK_MAX;
    uint8_t(*arr)[POST_LEN] = malloc((cnt + c->nout) * POST_LEN + 1);
    if (arr == NULL)
        return -ENOMEM;
    size_t n = 0;
    rc = have ? mdb_cursor_get(x->link, &k, &d, MDB_FIRST_DUP) : MDB_NOTFOUND;
    while (rc == 0 && n < cnt) {
        if (d.mv_size != POST_LEN) {
            rc = SZ_E_CORRUPT;
            goto fail;
        }
        memcpy(arr[n++], d.mv_data, POST_LEN);
        rc = mdb_cursor_get(x->link, &k, &d, MDB_NEXT_DUP);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = lmdb_err(rc);
        goto fail;
    }
    for (size_t i = 0; i < c->nout; i++) {
        rc = posting_of(x, c->out[i], want_kind, arr[n]);
        if (rc < 0)
            goto fail;
        n += (size_t)rc;
    }
    /* Both sides may assert the same link: sort, then drop repeats. */
    qsort(arr, n, POST_LEN, post_qcmp);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w == 0 || memcmp(arr[w - 1], arr[i], POST_LEN) != 0)
            memmove(arr[w++], arr[i], POST_LEN);
    }
    *out = arr;
    *n_out = w;
    return 0;
fail:
    free(arr);
    return rc;
}

/* The list that drives a query: one or more posting lists merged in order, or a sorted array. */
typedef struct driver_s {
    pstream_t *ps;
    size_t nps;
    uint8_t (*arr)[POST_LEN];
    size_t narr;
    ptrdiff_t pos; /* next array index to return */
    int is_array;
    int desc;
} driver_t;

static void driver_free(driver_t *dv) {
    for (size_t i = 0; i < dv->nps; i++) {
        if (dv->ps[i].c != NULL)
            mdb_cursor_close(dv->ps[i].c);
    }
    free(dv->ps);
    free(dv->arr);
    memset(dv, 0, sizeof(*dv));
}

static int driver_add_stream(driver_t *dv, MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
                             size_t klen, const plan_t *p) {
    pstream_t *s = &dv->ps[dv->nps];
    memset(s, 0, sizeof(*s));
    int rc = mdb_cursor_open(txn, dbi, &s->c);
    if (rc != 0)
        return lmdb_err(rc);
    dv->nps++;
    s->key.mv_size = klen;
    s->key.mv_data = (void *)key;
    return pstream_start(s, p);
}

/* Writes the next posting in order to out; *got = 0 when the driver is exhausted. */
static int driver_next(driver_t *dv, uint8_t out[POST_LEN], int *got) {
    *got = 0;
    if (dv->is_array) {
        if (dv->pos < 0 || (size_t)dv->pos >= dv->narr)
            return 0;
        memcpy(out, dv->arr[dv->pos], POST_LEN);
        dv->pos += dv->desc ? -1 : 1;
        *got = 1;
        return 0;
    }
    pstream_t *best = NULL;
    for (size_t i = 0; i < dv->nps; i++) {
        pstream_t *s = &dv->ps[i];
        if (s->valid && (best == NULL || post_cmp(s->head, best->head, dv->desc) < 0))
            best = s;
    }
    if (best == NULL)
        return 0;
    memcpy(out, best->head, POST_LEN);
    *got = 1;
    return pstream_next(best, dv->desc);
}

/* Positions an array driver after the plan's cursor. */
static void driver_array_start(driver_t *dv, const plan_t *p) {
    size_t lo = 0, hi = dv->narr;
    if (!p->have_after) {
        dv->pos = p->desc ? (ptrdiff_t)dv->narr - 1 : 0;
        return;
    }
    /* lo = first index whose posting is >= after */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(dv->arr[mid], p->after, POST_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (p->desc) {
        dv->pos = (ptrdiff_t)lo - 1;
    } else {
        if (lo < dv->narr && memcmp(dv->arr[lo], p->after, POST_LEN) == 0)
            lo++;
        dv->pos = (ptrdiff_t)lo;
    }
}

int sz_index_list(sz_index_t *idx, MDB_txn *txn, const sz_query_t *q, uint8_t (*ids)[32], size_t *n,
                  char *next_cursor) {
    *n = 0;
    next_cursor[0] = '\0';
    if (idx == NULL || txn == NULL || q == NULL)
        return SZ_E_ARGUMENT;
    plan_t *p = malloc(sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    int rc = plan_query(p, q);
    check_ctx_t x = {idx, txn, NULL, NULL};
    driver_t dv = {0};
    uint8_t(*bkeys)[10] = NULL;
    size_t nbkeys = 0;
    if (rc != 0 || p->empty)
        goto done;
    if ((rc = lmdb_err(mdb_cursor_open(txn, idx->field, &x.field))) != 0 ||
        (rc = lmdb_err(mdb_cursor_open(txn, idx->link, &x.link))) != 0)
        goto done;

    /* Estimate every condition's list size; an empty list ends the query at once. The smallest
     * list drives, the others are checked per candidate. */
    size_t best = SIZE_MAX, best_est = SIZE_MAX;
    for (size_t i = 0; i < p->nconds; i++) {
        cond_t *c = &p->conds[i];
        MDB_val k = {c->klen, c->key}, d;
        size_t cnt = 0;
        c->driver_ok = 1;
        if (c->type == C_PERIOD) {
            uint8_t(*keys)[10] = malloc((PERIOD_MAX_BUCKETS + 1) * sizeof(*keys));
            size_t nk = 0, total = 0;
            if (keys == NULL) {
                rc = -ENOMEM;
                goto done;
            }
            rc = period_buckets(x.field, c, keys, PERIOD_MAX_BUCKETS, &nk, &total);
            if (rc != 0) {
                free(keys);
                goto done;
            }
            if (nk == 0) {
                free(keys);
                goto done; /* no bucket holds anything: nothing can match */
            }
            if (nk > PERIOD_MAX_BUCKETS) {
                c->driver_ok = 0;
                free(keys);
                continue;
            }
            c->estimate = total;
            if (bkeys == NULL || total < best_est) {
                /* keep the bucket keys only for the best period condition so far */
                free(bkeys);
                bkeys = keys;
                nbkeys = nk;
            } else {
                free(keys);
            }
        } else if (c->type == C_ALL) {
            c->estimate = SIZE_MAX - 1;
        } else {
            MDB_cursor *cur = c->type == C_LINK ? x.link : x.field;
            if (c->type == C_LINK && (rc = link_load_out(&x, c)) != 0)
                goto done;
            rc = mdb_cursor_get(cur, &k, &d, MDB_SET);
            if (rc == 0)
                rc = mdb_cursor_count(cur, &cnt);
            if (rc != 0 && rc != MDB_NOTFOUND) {
                rc = lmdb_err(rc);
                goto done;
            }
            rc = 0;
            c->estimate = (size_t)cnt + c->nout;
            if (c->estimate == 0)
                goto done; /* nothing can match */
        }
        if (c->driver_ok && c->estimate < best_est) {
            best_est = c->estimate;
            best = i;
        }
    }
    if (best == SIZE_MAX) {
        rc = SZ_E_STORE; /* plan_query always adds a posting condition */
        goto done;
    }
    const cond_t *dc = &p->conds[best];
    dv.desc = p->desc;
    /* Check the most selective conditions first, so most candidates fail after one lookup. */
    size_t order[SZ_QUERY_MAX_FILTERS + 2], nord = 0;
    for (size_t i = 0; i < p->nconds; i++) {
        if (i == best && p->conds[i].type != C_PERIOD)
            continue; /* a period driver's buckets are approximate: it is checked too */
        size_t at = nord++;
        size_t ei = p->conds[i].driver_ok ? p->conds[i].estimate : SIZE_MAX;
        while (at > 0) {
            const cond_t *pc = &p->conds[order[at - 1]];
            if ((pc->driver_ok ? pc->estimate : SIZE_MAX) <= ei)
                break;
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    uint8_t kind_keys[SZ_KIND_REVOCATION][2];
    if (dc->type == C_LINK) {
        dv.is_array = 1;
        unsigned want = dc->key[0] == LINK_CASE ? SZ_KIND_TESTIMONY : SZ_KIND_CASE;
        if ((rc = link_postings(&x, dc, want, &dv.arr, &dv.narr)) != 0)
            goto done;
        driver_array_start(&dv, p);
    } else {
        size_t want = dc->type == C_PERIOD ? nbkeys : dc->type == C_ALL ? SZ_KIND_REVOCATION : 1;
        dv.ps = calloc(want, sizeof(*dv.ps));
        if (dv.ps == NULL) {
            rc = -ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < want; i++) {
            const uint8_t *key = dc->key;
            size_t klen = dc->klen;
            if (dc->type == C_PERIOD) {
                key = bkeys[i];
                klen = period_keylen(bkeys[i]);
            } else if (dc->type == C_ALL) {
                kind_keys[i][0] = TAG_KIND;
                kind_keys[i][1] = (uint8_t)(i + 1);
                key = kind_keys[i];
                klen = 2;
            }
            if ((rc = driver_add_stream(&dv, txn, idx->field, key, klen, p)) != 0)
                goto done;
        }
    }

    uint8_t cand[POST_LEN], last[POST_LEN];
    int got, more = 0;
    size_t count = 0;
    for (;;) {
        if ((rc = driver_next(&dv, cand, &got)) != 0)
            goto done;
        if (!got)
            break;
        int ok = 1;
        for (size_t i = 0; i < nord && ok; i++) {
            ok = check_cond(&x, &p->conds[order[i]], cand, p->desc);
            if (ok < 0) {
                rc = ok;
                goto done;
            }
        }
        if (!ok)
            continue;
        if (count == q->limit) {
            more = 1;
            break;
        }
        memcpy(ids[count++], cand + 8, 32);
        memcpy(last, cand, POST_LEN);
    }
    *n = count;
    if (more)
        token_encode(next_cursor, p, last);
done:
    if (rc != 0) {
        *n = 0;
        next_cursor[0] = '\0';
    }
    driver_free(&dv);
    if (x.link != NULL)
        mdb_cursor_close(x.link);
    if (x.field != NULL)
        mdb_cursor_close(x.field);
    free(bkeys);
    for (size_t i = 0; i < p->nconds; i++) {
        free(p->conds[i].out);
        if (p->conds[i].cc != NULL)
            mdb_cursor_close(p->conds[i].cc);
    }
    free(p);
    return rc;
}
