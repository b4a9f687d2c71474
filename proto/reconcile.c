/* Range-based set reconciliation: see reconcile.h for the contract and SYNC.md section 3 for the
 * protocol. */
#include "reconcile.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sha256.h"

/* ---- 256-bit sums ---- */

typedef struct u256_s {
    uint64_t w[4]; /* little-endian limbs */
} u256_t;

static void u256_load(u256_t *x, const uint8_t b[32]) {
    for (int i = 0; i < 4; i++) {
        uint64_t v = 0;
        for (int j = 7; j >= 0; j--)
            v = (v << 8) | b[8 * i + j];
        x->w[i] = v;
    }
}

static void u256_store(uint8_t b[32], const u256_t *x) {
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            b[8 * i + j] = (uint8_t)(x->w[i] >> (8 * j));
}

static void u256_add(u256_t *a, const u256_t *b) {
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t s = a->w[i] + b->w[i];
        uint64_t c1 = s < a->w[i];
        uint64_t t = s + carry;
        uint64_t c2 = t < s;
        a->w[i] = t;
        carry = c1 | c2;
    }
}

static void u256_sub(u256_t *a, const u256_t *b) {
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t d = a->w[i] - b->w[i];
        uint64_t b1 = a->w[i] < b->w[i];
        uint64_t t = d - borrow;
        uint64_t b2 = d < borrow;
        a->w[i] = t;
        borrow = b1 | b2;
    }
}

void sz_recon_sum_add(uint8_t sum[32], const uint8_t id[32]) {
    u256_t a, b;
    u256_load(&a, sum);
    u256_load(&b, id);
    u256_add(&a, &b);
    u256_store(sum, &a);
}

void sz_recon_fingerprint(const uint8_t sum[32], uint64_t count, uint8_t fp[SZ_RECON_FP_LEN]) {
    uint8_t in[40], h[crypto_hash_sha256_BYTES];
    memcpy(in, sum, 32);
    for (int i = 0; i < 8; i++)
        in[32 + i] = (uint8_t)(count >> (8 * i));
    sz_sha256(h, in, sizeof in);
    memcpy(fp, h, SZ_RECON_FP_LEN);
}

/* ---- Bounds ---- */

static const sz_recon_bound_t bound_zero = {{0}, 0};
static const sz_recon_bound_t bound_inf = {{0}, 1};

static int bound_cmp(const sz_recon_bound_t *a, const sz_recon_bound_t *b) {
    if (a->inf || b->inf)
        return (int)a->inf - (int)b->inf;
    return memcmp(a->v, b->v, 32);
}

static int id_below(const uint8_t id[32], const sz_recon_bound_t *b) {
    return b->inf || memcmp(id, b->v, 32) < 0;
}

static int id_in(const uint8_t id[32], const sz_recon_bound_t *lo, const sz_recon_bound_t *hi) {
    return !lo->inf && memcmp(id, lo->v, 32) >= 0 && id_below(id, hi);
}

/* The shortest bound p with a < p <= b (a < b as values): b's common prefix with a plus b's next
 * byte, then zeros. Splitting between neighbours this way keeps encoded bounds short. */
static void bound_between(sz_recon_bound_t *p, const uint8_t a[32], const uint8_t b[32]) {
    int l = 0;
    while (l < 31 && a[l] == b[l])
        l++;
    memset(p, 0, sizeof *p);
    memcpy(p->v, b, (size_t)l + 1);
}

/* [id, id + 1): the bound just above id. */
static void bound_after(sz_recon_bound_t *p, const uint8_t id[32]) {
    memcpy(p->v, id, 32);
    p->inf = 0;
    for (int i = 31; i >= 0; i--) {
        if (++p->v[i] != 0)
            return;
    }
    memset(p->v, 0, 32);
    p->inf = 1;
}

static size_t bound_len(const sz_recon_bound_t *b) {
    if (b->inf)
        return 1;
    size_t l = 32;
    while (l > 0 && b->v[l - 1] == 0)
        l--;
    return 1 + l;
}

/* ---- Message codec ---- */

#define MODE_SKIP 0
#define MODE_FINGERPRINT 1
#define MODE_IDLIST 2
#define MODE_DIFF 3
#define BOUND_INF_CODE 33

typedef struct rd_s {
    const uint8_t *p;
    size_t len, pos;
} rd_t;

typedef struct range_s {
    sz_recon_bound_t upper;
    uint8_t mode;
    const uint8_t *fp;
    const uint8_t *ids1; /* IDLIST: the ids; DIFF: the sender's need list */
    uint32_t n1;
    const uint8_t *ids2; /* DIFF: the sender's have list */
    uint32_t n2;
} range_t;

static int rd_u8(rd_t *r, uint8_t *v) {
    if (r->pos >= r->len)
        return SZ_E_PROTOCOL;
    *v = r->p[r->pos++];
    return 0;
}

/* Unsigned LEB128 of at most 4 bytes (values below 2^28), minimally encoded. */
static int rd_varint(rd_t *r, uint32_t *v) {
    uint32_t x = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t b;
        if (rd_u8(r, &b) != 0)
            return SZ_E_PROTOCOL;
        x |= (uint32_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            if (i > 0 && b == 0)
                return SZ_E_PROTOCOL; /* a shorter encoding exists */
            *v = x;
            return 0;
        }
    }
    return SZ_E_PROTOCOL;
}

static int rd_bound(rd_t *r, sz_recon_bound_t *b) {
    uint8_t l;
    if (rd_u8(r, &l) != 0)
        return SZ_E_PROTOCOL;
    memset(b, 0, sizeof *b);
    if (l == BOUND_INF_CODE) {
        b->inf = 1;
        return 0;
    }
    if (l > 32 || r->len - r->pos < l)
        return SZ_E_PROTOCOL;
    memcpy(b->v, r->p + r->pos, l);
    r->pos += l;
    /* Canonical: trailing zero bytes are implied, never sent. */
    if (l > 0 && b->v[l - 1] == 0)
        return SZ_E_PROTOCOL;
    return 0;
}

/* Reads n ids that must be strictly ascending and inside [lo, hi). */
static int rd_ids(rd_t *r, uint32_t n, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                  const uint8_t **ids) {
    if ((size_t)n > (r->len - r->pos) / 32)
        return SZ_E_PROTOCOL;
    const uint8_t *p = r->p + r->pos;
    for (uint32_t i = 0; i < n; i++) {
        if (!id_in(p + 32 * (size_t)i, lo, hi))
            return SZ_E_PROTOCOL;
        if (i > 0 && memcmp(p + 32 * (size_t)(i - 1), p + 32 * (size_t)i, 32) >= 0)
            return SZ_E_PROTOCOL;
    }
    *ids = p;
    r->pos += 32 * (size_t)n;
    return 0;
}

/* Both lists ascending: fails if they share an id. */
static int ids_disjoint(const uint8_t *a, uint32_t na, const uint8_t *b, uint32_t nb) {
    uint32_t i = 0, j = 0;
    while (i < na && j < nb) {
        int c = memcmp(a + 32 * (size_t)i, b + 32 * (size_t)j, 32);
        if (c == 0)
            return 0;
        if (c < 0)
            i++;
        else
            j++;
    }
    return 1;
}

/* Decodes the range after lower; checks everything that can be checked without the local set. */
static int rd_range(rd_t *r, const sz_recon_bound_t *lower, range_t *g, uint32_t max_idlist) {
    memset(g, 0, sizeof *g);
    if (rd_bound(r, &g->upper) != 0 || bound_cmp(&g->upper, lower) <= 0)
        return SZ_E_PROTOCOL;
    if (rd_u8(r, &g->mode) != 0)
        return SZ_E_PROTOCOL;
    switch (g->mode) {
    case MODE_SKIP:
        return 0;
    case MODE_FINGERPRINT:
        if (r->len - r->pos < SZ_RECON_FP_LEN)
            return SZ_E_PROTOCOL;
        g->fp = r->p + r->pos;
        r->pos += SZ_RECON_FP_LEN;
        return 0;
    case MODE_IDLIST:
        if (rd_varint(r, &g->n1) != 0 || g->n1 > max_idlist)
            return SZ_E_PROTOCOL;
        return rd_ids(r, g->n1, lower, &g->upper, &g->ids1);
    case MODE_DIFF:
        if (rd_varint(r, &g->n1) != 0 || g->n1 > SZ_RECON_MAX_IDLIST)
            return SZ_E_PROTOCOL;
        if (rd_ids(r, g->n1, lower, &g->upper, &g->ids1) != 0)
            return SZ_E_PROTOCOL;
        if (rd_varint(r, &g->n2) != 0)
            return SZ_E_PROTOCOL;
        if (rd_ids(r, g->n2, lower, &g->upper, &g->ids2) != 0)
            return SZ_E_PROTOCOL;
        return ids_disjoint(g->ids1, g->n1, g->ids2, g->n2) ? 0 : SZ_E_PROTOCOL;
    default:
        return SZ_E_PROTOCOL;
    }
}

/* The longest IDLIST a peer may send: one whose DIFF, in the worst case, still fits in an
 * otherwise empty message of max_len bytes, so that every answer can be written. */
static uint32_t max_idlist_for(size_t max_len) {
    size_t n = max_len > 256 ? (max_len - 256) / 32 : 0;
    return n < SZ_RECON_MAX_IDLIST ? (uint32_t)n : SZ_RECON_MAX_IDLIST;
}

/* sz_recon_check, also counting the FINGERPRINT and IDLIST ranges (*asks). */
static int check_message(const uint8_t *msg, size_t len, size_t max_len, size_t *nranges,
                         size_t *asks) {
    if (max_len == 0)
        max_len = SZ_RECON_MAX_MESSAGE;
    if (len > max_len)
        return SZ_E_TOO_LARGE;
    if (msg == NULL || len < 1 || msg[0] != SZ_RECON_FORMAT)
        return SZ_E_PROTOCOL;
    rd_t r = {msg, len, 1};
    sz_recon_bound_t lower = bound_zero;
    size_t n = 0, a = 0;
    uint32_t max_idlist = max_idlist_for(max_len);
    int prev_skip = 0;
    while (r.pos < r.len) {
        range_t g;
        if (++n > SZ_RECON_MAX_RANGES || rd_range(&r, &lower, &g, max_idlist) != 0)
            return SZ_E_PROTOCOL;
        /* Canonical: runs of skipped ranges are merged, and a trailing skip is implied. */
        if (g.mode == MODE_SKIP && prev_skip)
            return SZ_E_PROTOCOL;
        prev_skip = g.mode == MODE_SKIP;
        if (g.mode == MODE_FINGERPRINT || g.mode == MODE_IDLIST)
            a++;
        lower = g.upper;
    }
    if (prev_skip)
        return SZ_E_PROTOCOL;
    *nranges = n;
    *asks = a;
    return 0;
}

int sz_recon_check(const uint8_t *msg, size_t len, size_t max_len, size_t *nranges,
                   int *needs_reply) {
    size_t n, a;
    int rc = check_message(msg, len, max_len, &n, &a);
    if (rc != 0)
        return rc;
    if (nranges != NULL)
        *nranges = n;
    if (needs_reply != NULL)
        *needs_reply = a > 0;
    return 0;
}

/* ---- Writer ---- */

/* Room every entry must leave so that an overflow can always be written: a SKIP up to the
 * overflow point (35) and a FINGERPRINT from there to infinity (51). Echoing each range still to
 * come on its own needs as much again (ECHO_ENTRY, see sz_recon_process). */
#define SKIP_MAX 35
#define FP_ENTRY_MAX (34 + 1 + SZ_RECON_FP_LEN)
#define TAIL_RESERVE (SKIP_MAX + FP_ENTRY_MAX)
#define ECHO_ENTRY (SKIP_MAX + FP_ENTRY_MAX)
#define ECHO_MAX 512 /* ranges echoed after an overflow; the rest are merged into one */

typedef struct wr_s {
    uint8_t *buf;
    size_t cap, pos;
    size_t nranges;
    sz_recon_bound_t last; /* upper bound of the last entry written */
    int needs_reply;
    size_t reserve, reserve_ranges; /* kept free for echoing the ranges still to come */
} wr_t;

static int wr_room(const wr_t *w, size_t bytes, size_t ranges) {
    return w->pos + SKIP_MAX + bytes + TAIL_RESERVE + w->reserve <= w->cap &&
           w->nranges + 1 + ranges + 2 + w->reserve_ranges <= SZ_RECON_MAX_RANGES;
}

static void wr_u8(wr_t *w, uint8_t v) {
    w->buf[w->pos++] = v;
}

static void wr_varint(wr_t *w, uint32_t v) {
    while (v >= 0x80) {
        wr_u8(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    wr_u8(w, (uint8_t)v);
}

static void wr_bound(wr_t *w, const sz_recon_bound_t *b) {
    if (b->inf) {
        wr_u8(w, BOUND_INF_CODE);
        return;
    }
    size_t l = bound_len(b) - 1;
    wr_u8(w, (uint8_t)l);
    memcpy(w->buf + w->pos, b->v, l);
    w->pos += l;
}

/* Starts an entry covering [lower, upper): a SKIP first if lower leaves a gap. */
static void wr_entry(wr_t *w, const sz_recon_bound_t *lower, const sz_recon_bound_t *upper,
                     uint8_t mode) {
    if (bound_cmp(lower, &w->last) > 0) {
        wr_bound(w, lower);
        wr_u8(w, MODE_SKIP);
        w->nranges++;
    }
    wr_bound(w, upper);
    wr_u8(w, mode);
    w->nranges++;
    w->last = *upper;
    if (mode == MODE_FINGERPRINT || mode == MODE_IDLIST)
        w->needs_reply = 1;
}

/* ---- Session ---- */

enum { ST_NEW, ST_RUNNING, ST_DONE, ST_FAILED };

#define OVERFLOW 1 /* internal: the entry did not fit; the tail starts at *cut */

struct sz_recon_s {
    sz_recon_source_t src;
    size_t max_message;
    unsigned branch, idlist, max_rounds;
    sz_recon_id_cb on_id;
    void *arg;
    int state;
    uint8_t *out;
    uint8_t (*scratch)[32]; /* SZ_RECON_MAX_IDLIST + 1 ids */
    sz_recon_stats_t st;
};

int sz_recon_new(sz_recon_t **out, const sz_recon_source_t *src, const sz_recon_options_t *opts) {
    if (out == NULL || src == NULL || src->sum == NULL || src->iterate == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    sz_recon_options_t o = {0};
    if (opts != NULL)
        o = *opts;
    if (o.max_message == 0)
        o.max_message = SZ_RECON_DEFAULT_MESSAGE;
    if (o.branch == 0)
        o.branch = SZ_RECON_DEFAULT_BRANCH;
    if (o.idlist == 0)
        o.idlist = SZ_RECON_DEFAULT_IDLIST;
    if (o.max_rounds == 0)
        o.max_rounds = SZ_RECON_DEFAULT_ROUNDS;
    if (o.max_message < SZ_RECON_MIN_MESSAGE || o.max_message > SZ_RECON_MAX_MESSAGE ||
        o.branch < 2 || o.branch > SZ_RECON_MAX_BRANCH || o.idlist > SZ_RECON_MAX_IDLIST ||
        /* Any one range's answer must fit in an otherwise empty message, or nothing advances. */
        (size_t)o.idlist * 32 + 256 > o.max_message)
        return SZ_E_ARGUMENT;
    sz_recon_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -ENOMEM;
    r->out = malloc(o.max_message);
    r->scratch = malloc((SZ_RECON_MAX_IDLIST + 1) * sizeof *r->scratch);
    if (r->out == NULL || r->scratch == NULL) {
        sz_recon_free(r);
        return -ENOMEM;
    }
    r->src = *src;
    r->max_message = o.max_message;
    r->branch = o.branch;
    r->idlist = o.idlist;
    r->max_rounds = o.max_rounds;
    r->on_id = o.on_id;
    r->arg = o.arg;
    r->state = ST_NEW;
    *out = r;
    return 0;
}

void sz_recon_free(sz_recon_t *r) {
    if (r == NULL)
        return;
    free(r->out);
    free(r->scratch);
    free(r);
}

int sz_recon_done(const sz_recon_t *r) {
    return r != NULL && r->state == ST_DONE;
}

void sz_recon_get_stats(const sz_recon_t *r, sz_recon_stats_t *st) {
    *st = r->st;
}

static int report(sz_recon_t *r, int kind, const uint8_t id[32]) {
    if (kind == SZ_RECON_HAVE)
        r->st.have++;
    else
        r->st.need++;
    return r->on_id != NULL ? r->on_id(r->arg, kind, id) : 0;
}

/* Collects at most cap items of a range. */
typedef struct collect_s {
    uint8_t (*ids)[32];
    size_t n, cap;
} collect_t;

static int collect_cb(void *arg, const uint8_t id[32]) {
    collect_t *c = arg;
    if (c->n == c->cap)
        return 1;
    memcpy(c->ids[c->n++], id, 32);
    return 0;
}

/* Splits a range into buckets of nearly equal item counts in one pass over its items. */
typedef struct split_s {
    wr_t *w;
    const sz_recon_bound_t *hi;
    uint64_t total, index, next_end;
    unsigned bucket, nbuckets;
    u256_t sum;
    uint64_t count;
    uint8_t prev[32];
} split_t;

static uint64_t split_end(const split_t *s, unsigned bucket) {
    /* floor(total * (bucket + 1) / nbuckets) without overflowing. */
    uint64_t q = s->total / s->nbuckets, rem = s->total % s->nbuckets;
    return q * (bucket + 1) + rem * (bucket + 1) / s->nbuckets;
}

static void split_emit(split_t *s, const sz_recon_bound_t *upper) {
    uint8_t fp[SZ_RECON_FP_LEN], sum[32];
    u256_store(sum, &s->sum);
    sz_recon_fingerprint(sum, s->count, fp);
    sz_recon_bound_t lower = s->w->last;
    wr_entry(s->w, &lower, upper, MODE_FINGERPRINT);
    memcpy(s->w->buf + s->w->pos, fp, sizeof fp);
    s->w->pos += sizeof fp;
    memset(&s->sum, 0, sizeof s->sum);
    s->count = 0;
}

static int split_cb(void *arg, const uint8_t id[32]) {
    split_t *s = arg;
    if (s->index == s->next_end && s->bucket + 1 < s->nbuckets && s->count > 0) {
        sz_recon_bound_t b;
        bound_between(&b, s->prev, id);
        split_emit(s, &b);
        s->bucket++;
        s->next_end = s->bucket + 1 < s->nbuckets ? split_end(s, s->bucket) : UINT64_MAX;
    }
    u256_t x;
    u256_load(&x, id);
    u256_add(&s->sum, &x);
    s->count++;
    s->index++;
    memcpy(s->prev, id, 32);
    return 0;
}

/* Answers a FINGERPRINT over [lo, hi) (theirs NULL: the initiator's opening, never equal). */
static int handle_fp(sz_recon_t *r, wr_t *w, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                     const uint8_t *theirs) {
    uint64_t count;
    uint8_t sum[32] = {0};
    int rc = r->src.sum(r->src.ctx, lo, hi, &count, sum);
    if (rc < 0)
        return rc;
    if (theirs != NULL) {
        uint8_t fp[SZ_RECON_FP_LEN];
        sz_recon_fingerprint(sum, count, fp);
        if (memcmp(fp, theirs, sizeof fp) == 0)
            return 0;
    }
    if (count <= r->idlist) {
        /* The iteration, not the count, is authoritative: the set may have grown since. */
        collect_t c = {r->scratch, 0, (size_t)r->idlist + 1};
        rc = r->src.iterate(r->src.ctx, lo, hi, collect_cb, &c);
        if (rc < 0)
            return rc;
        if (c.n <= r->idlist) {
            if (!wr_room(w, 34 + 1 + 2 + 32 * c.n, 1))
                return OVERFLOW;
            wr_entry(w, lo, hi, MODE_IDLIST);
            wr_varint(w, (uint32_t)c.n);
            memcpy(w->buf + w->pos, c.ids, 32 * c.n);
            w->pos += 32 * c.n;
            return 0;
        }
        count = c.n;
    }
    split_t s = {0};
    s.w = w;
    s.hi = hi;
    s.total = count;
    s.nbuckets = count < r->branch ? (unsigned)count : r->branch;
    if (!wr_room(w, (size_t)s.nbuckets * FP_ENTRY_MAX, s.nbuckets))
        return OVERFLOW;
    s.next_end = s.nbuckets > 1 ? split_end(&s, 0) : UINT64_MAX;
    /* The first bucket starts at lo: write its gap now so the split entries follow on. */
    if (bound_cmp(lo, &w->last) > 0) {
        wr_bound(w, lo);
        wr_u8(w, MODE_SKIP);
        w->nranges++;
        w->last = *lo;
    }
    rc = r->src.iterate(r->src.ctx, lo, hi, split_cb, &s);
    if (rc < 0)
        return rc;
    split_emit(&s, hi);
    return 0;
}

/* Merges the peer's IDLIST with the local items of the range. */
typedef struct merge_s {
    const uint8_t *theirs;
    uint32_t nt, it;
    uint8_t (*need)[32];
    uint32_t nneed;
    uint8_t *have;
    size_t nhave, have_cap;
    int overflow;
    uint8_t cut[32];  /* the first local item left out */
    uint8_t prev[32]; /* the last item (either side's) settled */
    int has_prev;
} merge_t;

static int merge_cb(void *arg, const uint8_t id[32]) {
    merge_t *m = arg;
    while (m->it < m->nt && memcmp(m->theirs + 32 * (size_t)m->it, id, 32) < 0) {
        memcpy(m->need[m->nneed++], m->theirs + 32 * (size_t)m->it, 32);
        memcpy(m->prev, m->theirs + 32 * (size_t)m->it, 32);
        m->has_prev = 1;
        m->it++;
    }
    if (m->it < m->nt && memcmp(m->theirs + 32 * (size_t)m->it, id, 32) == 0) {
        m->it++;
    } else {
        if (m->nhave == m->have_cap) {
            m->overflow = 1;
            memcpy(m->cut, id, 32);
            return 1;
        }
        memcpy(m->have + 32 * m->nhave++, id, 32);
    }
    memcpy(m->prev, id, 32);
    m->has_prev = 1;
    return 0;
}

/* Answers an IDLIST over [lo, hi) with a DIFF; on overflow *cut is where the tail starts. */
static int handle_idlist(sz_recon_t *r, wr_t *w, const sz_recon_bound_t *lo,
                         const sz_recon_bound_t *hi, const uint8_t *theirs, uint32_t nt,
                         sz_recon_bound_t *cut) {
    *cut = *lo;
    size_t header = SKIP_MAX + 34 + 1 + 3 + 32 * (size_t)nt + 3;
    if (!wr_room(w, header - SKIP_MAX, 1))
        return OVERFLOW;
    merge_t m = {0};
    m.theirs = theirs;
    m.nt = nt;
    m.need = r->scratch;
    m.have = w->buf + w->pos + header;
    m.have_cap = (w->cap - w->pos - header - TAIL_RESERVE - w->reserve) / 32;
    int rc = r->src.iterate(r->src.ctx, lo, hi, merge_cb, &m);
    if (rc < 0)
        return rc;
    sz_recon_bound_t upper = *hi;
    if (m.overflow) {
        if (m.has_prev)
            bound_between(&upper, m.prev, m.cut);
        else if (memcmp(lo->v, m.cut, 32) < 0)
            bound_between(&upper, lo->v, m.cut);
        else
            return OVERFLOW; /* nothing settled before the first item: answer it next round */
    } else {
        while (m.it < m.nt) {
            memcpy(m.need[m.nneed++], theirs + 32 * (size_t)m.it, 32);
            m.it++;
        }
    }
    if (!m.overflow && m.nneed == 0 && m.nhave == 0)
        return 0; /* the lists were equal: a SKIP says as much */
    size_t have_at = w->pos + header;
    wr_entry(w, lo, &upper, MODE_DIFF);
    wr_varint(w, m.nneed);
    memcpy(w->buf + w->pos, m.need, 32 * (size_t)m.nneed);
    w->pos += 32 * (size_t)m.nneed;
    wr_varint(w, (uint32_t)m.nhave);
    const uint8_t *have = w->buf + w->pos;
    memmove(w->buf + w->pos, w->buf + have_at, 32 * m.nhave);
    w->pos += 32 * m.nhave;
    for (uint32_t i = 0; i < m.nneed; i++)
        if ((rc = report(r, SZ_RECON_NEED, m.need[i])) < 0)
            return rc;
    for (size_t i = 0; i < m.nhave; i++)
        if ((rc = report(r, SZ_RECON_HAVE, have + 32 * i)) < 0)
            return rc;
    if (m.overflow) {
        *cut = upper;
        return OVERFLOW;
    }
    return 0;
}

static int holds(sz_recon_t *r, const uint8_t id[32], int *yes) {
    sz_recon_bound_t lo, hi;
    memcpy(lo.v, id, 32);
    lo.inf = 0;
    bound_after(&hi, id);
    uint64_t count;
    uint8_t sum[32] = {0};
    int rc = r->src.sum(r->src.ctx, &lo, &hi, &count, sum);
    if (rc < 0)
        return rc;
    *yes = count > 0;
    return 0;
}

/* Takes in the peer's DIFF: what it lacks of our IDLIST, and what it holds that we lack. */
static int handle_diff(sz_recon_t *r, const range_t *g) {
    int rc, yes;
    for (uint32_t i = 0; i < g->n1; i++) {
        const uint8_t *id = g->ids1 + 32 * (size_t)i;
        if ((rc = holds(r, id, &yes)) < 0)
            return rc;
        if (!yes)
            return SZ_E_PROTOCOL; /* we never listed it: the peer made it up */
        if ((rc = report(r, SZ_RECON_HAVE, id)) < 0)
            return rc;
    }
    for (uint32_t i = 0; i < g->n2; i++) {
        const uint8_t *id = g->ids2 + 32 * (size_t)i;
        if ((rc = holds(r, id, &yes)) < 0)
            return rc;
        if (!yes && (rc = report(r, SZ_RECON_NEED, id)) < 0)
            return rc;
    }
    return 0;
}

/* After an overflow: a FINGERPRINT of the local items over [lo, hi), which the peer answers
 * next round like any other, so the work goes on at the same depth where it stopped. */
static int write_echo(sz_recon_t *r, wr_t *w, const sz_recon_bound_t *lo,
                      const sz_recon_bound_t *hi) {
    uint64_t count;
    uint8_t sum[32] = {0}, fp[SZ_RECON_FP_LEN];
    int rc = r->src.sum(r->src.ctx, lo, hi, &count, sum);
    if (rc < 0)
        return rc;
    sz_recon_fingerprint(sum, count, fp);
    wr_entry(w, lo, hi, MODE_FINGERPRINT);
    memcpy(w->buf + w->pos, fp, sizeof fp);
    w->pos += sizeof fp;
    return 0;
}

/* Echoes [lo, hi) on its own if that still leaves room for the merged tail, else writes the
 * merged tail [lo, infinity) and sets *merged. */
static int echo_or_merge(sz_recon_t *r, wr_t *w, const sz_recon_bound_t *lo,
                         const sz_recon_bound_t *hi, size_t *echoed, int *merged) {
    if (*echoed < ECHO_MAX && w->pos + ECHO_ENTRY + TAIL_RESERVE <= w->cap &&
        w->nranges + 2 + 2 <= SZ_RECON_MAX_RANGES) {
        ++*echoed;
        return write_echo(r, w, lo, hi);
    }
    *merged = 1;
    return write_echo(r, w, lo, &bound_inf);
}

static void wr_init(sz_recon_t *r, wr_t *w) {
    memset(w, 0, sizeof *w);
    w->buf = r->out;
    w->cap = r->max_message;
    w->last = bound_zero;
    wr_u8(w, SZ_RECON_FORMAT);
}

static int fail(sz_recon_t *r, int rc) {
    r->state = ST_FAILED;
    return rc;
}

int sz_recon_initiate(sz_recon_t *r, const uint8_t **out, size_t *out_len) {
    if (r == NULL || out == NULL || out_len == NULL)
        return SZ_E_ARGUMENT;
    if (r->state != ST_NEW)
        return SZ_E_STATE;
    wr_t w;
    wr_init(r, &w);
    int rc = handle_fp(r, &w, &bound_zero, &bound_inf, NULL);
    if (rc == OVERFLOW) {
        r->st.overflows++;
        rc = write_echo(r, &w, &bound_zero, &bound_inf);
    }
    if (rc < 0)
        return fail(r, rc);
    r->state = ST_RUNNING;
    r->st.messages_out++;
    r->st.bytes_out += w.pos;
    r->st.ranges_out += w.nranges;
    *out = w.buf;
    *out_len = w.pos;
    return 0;
}

int sz_recon_process(sz_recon_t *r, const uint8_t *in, size_t len, const uint8_t **out,
                     size_t *out_len, int *done) {
    if (r == NULL || out == NULL || out_len == NULL)
        return SZ_E_ARGUMENT;
    if (r->state != ST_NEW && r->state != ST_RUNNING)
        return SZ_E_STATE;
    *out = NULL;
    *out_len = 0;
    if (done != NULL)
        *done = 0;
    r->st.messages_in++;
    r->st.bytes_in += len;
    if (r->st.messages_in > r->max_rounds)
        return fail(r, SZ_E_TOO_LARGE);
    size_t nranges, asks;
    int rc = check_message(in, len, r->max_message, &nranges, &asks);
    if (rc < 0)
        return fail(r, rc);
    int needs_reply = asks > 0;
    r->st.ranges_in += nranges;

    /* If an answer does not fit, the ranges not yet answered are echoed back as fingerprints of
     * their local items, so the peer goes on at the same depth; what does not fit (or goes past
     * ECHO_MAX) is merged into one fingerprint to infinity, for which there is always room.
     * Answers after the first keep room for the echoes (at most a quarter of the message). The
     * first answer never does, so every message makes progress. */
    size_t reserve_cap = r->max_message / 4;
    wr_t w;
    wr_init(r, &w);
    rd_t rd = {in, len, 1};
    sz_recon_bound_t lower = bound_zero;
    int overflowed = 0, merged = 0;
    size_t echoed = 0;
    while (rd.pos < rd.len) {
        range_t g;
        if (rd_range(&rd, &lower, &g, SZ_RECON_MAX_IDLIST) != 0)
            return fail(r, SZ_E_PROTOCOL); /* unreachable after the check */
        sz_recon_bound_t cut = lower;
        int ask = g.mode == MODE_FINGERPRINT || g.mode == MODE_IDLIST;
        if (ask) {
            size_t after = --asks < ECHO_MAX ? asks : ECHO_MAX;
            w.reserve = w.pos > 1 ? ECHO_ENTRY * after : 0;
            w.reserve_ranges = w.pos > 1 ? 2 * after : 0;
            if (w.reserve > reserve_cap) {
                w.reserve = reserve_cap;
                w.reserve_ranges = reserve_cap / ECHO_ENTRY * 2;
            }
        }
        rc = 0;
        if (ask && overflowed) {
            if (!merged)
                rc = echo_or_merge(r, &w, &lower, &g.upper, &echoed, &merged);
        } else if (g.mode == MODE_FINGERPRINT) {
            rc = handle_fp(r, &w, &lower, &g.upper, g.fp);
        } else if (g.mode == MODE_IDLIST) {
            rc = handle_idlist(r, &w, &lower, &g.upper, g.ids1, g.n1, &cut);
        } else if (g.mode == MODE_DIFF && !merged) {
            /* A DIFF settles its range and needs no room, so it is taken in even after an
             * overflow (unless the range was merged into the tail, to be reconciled again). */
            rc = handle_diff(r, &g);
        }
        if (rc == OVERFLOW) {
            overflowed = 1;
            r->st.overflows++;
            rc = bound_cmp(&cut, &g.upper) < 0
                     ? echo_or_merge(r, &w, &cut, &g.upper, &echoed, &merged)
                     : 0;
        }
        if (rc < 0)
            return fail(r, rc);
        lower = g.upper;
    }

    if (!needs_reply) {
        r->state = ST_DONE;
        if (done != NULL)
            *done = 1;
        return 0;
    }
    r->state = w.needs_reply ? ST_RUNNING : ST_DONE;
    if (done != NULL)
        *done = r->state == ST_DONE;
    r->st.messages_out++;
    r->st.bytes_out += w.pos;
    r->st.ranges_out += w.nranges;
    *out = w.buf;
    *out_len = w.pos;
    return 0;
}

/* ---- Array source ---- */

#define PREFIX_STEP 64

struct sz_recon_array_s {
    uint8_t (*ids)[32];
    size_t n;
    u256_t *prefix; /* prefix[k]: sum of ids[0 .. k * PREFIX_STEP) */
};

static int id_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

int sz_recon_array_new(sz_recon_array_t **out, const uint8_t (*ids)[32], size_t n) {
    *out = NULL;
    sz_recon_array_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    a->ids = malloc((n > 0 ? n : 1) * sizeof *a->ids);
    a->prefix = malloc((n / PREFIX_STEP + 1) * sizeof *a->prefix);
    if (a->ids == NULL || a->prefix == NULL) {
        sz_recon_array_free(a);
        return -ENOMEM;
    }
    if (n > 0)
        memcpy(a->ids, ids, n * sizeof *a->ids);
    qsort(a->ids, n, sizeof *a->ids, id_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || memcmp(a->ids[m - 1], a->ids[i], 32) != 0)
            memmove(a->ids[m++], a->ids[i], 32);
    a->n = m;
    u256_t acc = {{0}};
    for (size_t i = 0; i < m; i++) {
        if (i % PREFIX_STEP == 0)
            a->prefix[i / PREFIX_STEP] = acc;
        u256_t x;
        u256_load(&x, a->ids[i]);
        u256_add(&acc, &x);
    }
    if (m % PREFIX_STEP == 0)
        a->prefix[m / PREFIX_STEP] = acc;
    *out = a;
    return 0;
}

void sz_recon_array_free(sz_recon_array_t *a) {
    if (a == NULL)
        return;
    free(a->ids);
    free(a->prefix);
    free(a);
}

size_t sz_recon_array_count(const sz_recon_array_t *a) {
    return a->n;
}

static size_t array_lower(const sz_recon_array_t *a, const sz_recon_bound_t *b) {
    if (b->inf)
        return a->n;
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(a->ids[mid], b->v, 32) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void array_prefix(const sz_recon_array_t *a, size_t i, u256_t *s) {
    *s = a->prefix[i / PREFIX_STEP];
    for (size_t k = i - i % PREFIX_STEP; k < i; k++) {
        u256_t x;
        u256_load(&x, a->ids[k]);
        u256_add(s, &x);
    }
}

static int array_sum(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                     uint64_t *count, uint8_t sum[32]) {
    const sz_recon_array_t *a = ctx;
    size_t i = array_lower(a, lo), j = array_lower(a, hi);
    if (j < i)
        j = i;
    u256_t si, sj;
    array_prefix(a, i, &si);
    array_prefix(a, j, &sj);
    u256_sub(&sj, &si);
    u256_store(sum, &sj);
    *count = j - i;
    return 0;
}

static int array_iterate(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                         sz_recon_item_cb cb, void *cb_arg) {
    const sz_recon_array_t *a = ctx;
    size_t i = array_lower(a, lo), j = array_lower(a, hi);
    for (; i < j; i++) {
        int rc = cb(cb_arg, a->ids[i]);
        if (rc < 0)
            return rc;
        if (rc > 0)
            break;
    }
    return 0;
}

void sz_recon_array_source(sz_recon_array_t *a, sz_recon_source_t *src) {
    src->sum = array_sum;
    src->iterate = array_iterate;
    src->ctx = a;
}
