/* Full-text index and search; see fts.h for the contract and FTS.md for the layout. */
#include "fts.h"
#include "encoding.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fastpath.h"
#include "jsonscan.h"
#include "lmdb_txn.h"
#include "record.h"
#include "tokenize.h"

#define FTS_FORMAT 1u
#define BLOCK_MAX 128u    /* postings per closed block, and the tail size that triggers a spill */
#define DECODE_MAX 65536u /* postings in one stored block beyond which it is called corrupt */
#define MAX_PHRASES 16
#define SIG_BYTES 256u /* Bloom filter of a pending document's terms */
#define SIG_HASHES 3u
#define BM25_K1 1.2
#define BM25_B 0.75

struct sz_fts_s {
    MDB_dbi post;    /* fts_post: term 0x00 last-docno(BE64) -> closed block of postings */
    MDB_dbi tail;    /* fts_tail: term -> df, last docno and the newest postings of the term */
    MDB_dbi docs;    /* fts_docs: docno(BE64) -> forward entry (length, terms, word sequence) */
    MDB_dbi pending; /* fts_pending: docno(BE64) -> Bloom signature, until merged into postings */
    MDB_dbi meta;    /* fts_meta: "format" -> u32 LE, "tokens" -> u64 LE */
    size_t pending_limit;
    struct builder_s *b; /* the writer's document buffers, reused from one set to the next */
};

/* Document length quantized to one byte, so a posting carries what BM25 needs and ranking never
 * looks up a document: exact up to 31 words, then steps of 2^(1/16) (about 4.4%). */
static const uint32_t norm_len[256] = {
    0,      1,      2,      3,      4,      5,      6,      7,      8,      9,      10,     11,
    12,     13,     14,     15,     16,     17,     18,     19,     20,     21,     22,     23,
    24,     25,     26,     27,     28,     29,     30,     31,     32,     33,     34,     36,
    38,     39,     41,     43,     45,     47,     49,     51,     53,     56,     58,     61,
    64,     66,     69,     72,     76,     79,     82,     86,     90,     94,     98,     103,
    107,    112,    117,    122,    128,    133,    139,    145,    152,    158,    165,    173,
    181,    189,    197,    206,    215,    224,    234,    245,    256,    267,    279,    291,
    304,    317,    331,    346,    362,    378,    394,    412,    430,    449,    469,    490,
    512,    534,    558,    583,    608,    635,    663,    693,    724,    756,    789,    824,
    861,    899,    939,    980,    1024,   1069,   1116,   1166,   1217,   1271,   1327,   1386,
    1448,   1512,   1579,   1649,   1722,   1798,   1878,   1961,   2048,   2138,   2233,   2332,
    2435,   2543,   2655,   2773,   2896,   3024,   3158,   3298,   3444,   3596,   3756,   3922,
    4096,   4277,   4466,   4664,   4870,   5086,   5311,   5547,   5792,   6049,   6316,   6596,
    6888,   7193,   7512,   7844,   8192,   8554,   8933,   9328,   9741,   10173,  10623,  11094,
    11585,  12098,  12633,  13193,  13777,  14387,  15024,  15689,  16384,  17109,  17866,  18657,
    19483,  20346,  21247,  22188,  23170,  24196,  25267,  26386,  27554,  28774,  30048,  31378,
    32768,  34218,  35733,  37315,  38967,  40693,  42494,  44376,  46340,  48392,  50535,  52772,
    55108,  57548,  60096,  62757,  65536,  68437,  71467,  74631,  77935,  81386,  84989,  88752,
    92681,  96785,  101070, 105545, 110217, 115097, 120193, 125514, 131072, 136875, 142935, 149263,
    155871, 162772, 169979, 177504, 185363, 193570, 202140, 211090, 220435, 230195, 240387, 251029,
    262144, 273750, 285870, 298526, 311743, 325545, 339958, 355009, 370727, 387141, 404281, 422180,
    440871, 460390, 480774, 502059};

static uint8_t norm_encode(uint32_t dl) {
    unsigned lo = 0, hi = 255;
    while (lo < hi) {
        unsigned mid = (lo + hi + 1) / 2;
        if (norm_len[mid] <= dl)
            lo = mid;
        else
            hi = mid - 1;
    }
    return (uint8_t)lo;
}

/* Natural logarithm for x > 0, so the module needs no libm: x = m * 2^e with m in [1, 2), and
 * ln m = 2 atanh((m - 1) / (m + 1)) whose series converges fast for z <= 1/3. */
static double ln_pos(double x) {
    int e = 0;
    while (x >= 2.0) {
        x /= 2.0;
        e++;
    }
    while (x < 1.0) {
        x *= 2.0;
        e--;
    }
    double z = (x - 1.0) / (x + 1.0), z2 = z * z, term = z, sum = 0.0;
    for (int k = 1; k < 41; k += 2) {
        sum += term / k;
        term *= z2;
    }
    return 2.0 * sum + e * 0.69314718055994530942;
}

/* ---- Byte helpers ---- */

static size_t varint_put(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a varint at *p (not past end). Returns 0, or -1 for a truncated or over-long one. */
static int varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

typedef struct buf_s {
    uint8_t *p;
    size_t len, cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *np = realloc(b->p, cap);
    if (np == NULL)
        return -ENOMEM;
    b->p = np;
    b->cap = cap;
    return 0;
}

/* Grows an array of elements of size sz to hold at least n. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz) {
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n)
        c *= 2;
    void *np = realloc(*arr, c * sz);
    if (np == NULL)
        return -ENOMEM;
    *arr = np;
    *cap = c;
    return 0;
}

static int term_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c != 0)
        return c;
    return (al > bl) - (al < bl);
}

/* The first 8 bytes of a term, big-endian and zero-padded: comparing two of these orders terms as
 * term_cmp() does (terms hold no zero bytes), so sorts compare integers and only fall back to
 * memcmp when the prefixes tie. */
static uint64_t term_prefix(const uint8_t *p, size_t len) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = (v << 8) | (i < len ? p[i] : 0);
    return v;
}

/* ---- Postings ---- */

typedef struct post_s {
    uint64_t docno;
    uint32_t tf;
    uint8_t norm;
} post_t;

typedef struct plist_s {
    post_t *v;
    size_t n, cap;
} plist_t;

/* Appends the encoding of posts (ascending docnos) to b: count, then per posting the docno
 * (first absolute, then the gap to the previous one), tf and the norm byte. */
static int posts_encode(buf_t *b, const post_t *posts, size_t n) {
    int rc = buf_reserve(b, 10 + n * 16);
    if (rc != 0)
        return rc;
    b->len += varint_put(b->p + b->len, n);
    uint64_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        b->len += varint_put(b->p + b->len, posts[i].docno - prev);
        b->len += varint_put(b->p + b->len, posts[i].tf);
        b->p[b->len++] = posts[i].norm;
        prev = posts[i].docno;
    }
    return 0;
}

static int posts_decode(plist_t *out, const uint8_t *p, const uint8_t *end) {
    uint64_t n, prev = 0;
    if (varint_get(&p, end, &n) != 0 || n > DECODE_MAX || n > (uint64_t)(end - p))
        return SZ_E_CORRUPT;
    int rc = grow((void **)&out->v, &out->cap, n, sizeof(post_t));
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        uint64_t d, tf;
        if (varint_get(&p, end, &d) != 0 || varint_get(&p, end, &tf) != 0 || p >= end)
            return SZ_E_CORRUPT;
        if ((i > 0 && d == 0) || d > UINT64_MAX - prev || tf == 0 || tf > UINT32_MAX)
            return SZ_E_CORRUPT;
        prev += d;
        out->v[i].docno = prev;
        out->v[i].tf = (uint32_t)tf;
        out->v[i].norm = *p++;
    }
    if (p != end)
        return SZ_E_CORRUPT;
    out->n = n;
    return 0;
}

/* Decodes a tail value: df, then a block. */
/* A tail value: varint df, varint last docno (0 when empty), then a block. The last docno lets a
 * merge append postings without decoding the ones already there. */
typedef struct tail_hdr_s {
    uint64_t df, last, count;
    const uint8_t *block;         /* the block: count, then entries */
    const uint8_t *entries, *end; /* the encoded postings */
} tail_hdr_t;

static int tail_header(const MDB_val *v, tail_hdr_t *h) {
    const uint8_t *p = v->mv_data, *end = p + v->mv_size;
    if (varint_get(&p, end, &h->df) != 0 || varint_get(&p, end, &h->last) != 0)
        return SZ_E_CORRUPT;
    h->block = p;
    if (varint_get(&p, end, &h->count) != 0 || h->count > h->df || h->count > DECODE_MAX ||
        (h->count == 0) != (h->last == 0))
        return SZ_E_CORRUPT;
    h->entries = p;
    h->end = end;
    return 0;
}

static int tail_decode(plist_t *out, uint64_t *df, const MDB_val *v) {
    tail_hdr_t h;
    int rc = tail_header(v, &h);
    if (rc != 0)
        return rc;
    if ((rc = posts_decode(out, h.block, h.end)) != 0)
        return rc;
    if (out->n > 0 && out->v[out->n - 1].docno != h.last)
        return SZ_E_CORRUPT;
    *df = h.df;
    return 0;
}

/* Finds docno in posts (ascending); returns its index or -1. */
static long posts_find(const post_t *v, size_t n, uint64_t docno) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].docno < docno)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < n && v[lo].docno == docno) ? (long)lo : -1;
}

/* Merges add (ascending) into l (ascending). A docno present in both takes the new posting.
 * *added gets the number of docnos that were not there before. */
static int posts_merge(plist_t *l, const post_t *add, size_t nadd, size_t *added, plist_t *tmp) {
    int rc = grow((void **)&tmp->v, &tmp->cap, l->n + nadd, sizeof(post_t));
    if (rc != 0)
        return rc;
    size_t i = 0, j = 0, k = 0;
    *added = 0;
    while (i < l->n || j < nadd) {
        if (j == nadd || (i < l->n && l->v[i].docno < add[j].docno)) {
            tmp->v[k++] = l->v[i++];
        } else {
            if (i < l->n && l->v[i].docno == add[j].docno)
                i++;
            else
                (*added)++;
            tmp->v[k++] = add[j++];
        }
    }
    post_t *sw = l->v;
    size_t swc = l->cap;
    l->v = tmp->v;
    l->cap = tmp->cap;
    l->n = k;
    tmp->v = sw;
    tmp->cap = swc;
    tmp->n = 0;
    return 0;
}

/* ---- Keys ---- */

typedef struct pkey_s {
    uint8_t b[SZ_TOKEN_MAX + 9];
    MDB_val v;
} pkey_t;

static void pkey_set(pkey_t *k, const uint8_t *term, size_t len, uint64_t docno) {
    memcpy(k->b, term, len);
    k->b[len] = 0;
    sz_be64_put(k->b + len + 1, docno);
    k->v.mv_data = k->b;
    k->v.mv_size = len + 9;
}

static int pkey_is_term(const MDB_val *k, const uint8_t *term, size_t len) {
    const uint8_t *b = k->mv_data;
    return k->mv_size == len + 9 && memcmp(b, term, len) == 0 && b[len] == 0;
}

/* ---- LMDB helpers (every return code goes through sz__lmdb_err) ---- */

static int db_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val) {
    MDB_val k = {klen, (void *)key};
    return sz__lmdb_err(mdb_get(txn, dbi, &k, val));
}

static int db_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                  size_t vlen) {
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return sz__lmdb_err(mdb_put(txn, dbi, &k, &v, 0));
}

/* Deletes key; a missing key is not an error. */
static int db_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen) {
    MDB_val k = {klen, (void *)key};
    int rc = sz__lmdb_err(mdb_del(txn, dbi, &k, NULL));
    return rc == SZ_E_NOT_FOUND ? 0 : rc;
}

/* Puts docno -> val into a database keyed by BE64 docno. Docnos mostly arrive in ascending order:
 * a key past the last one goes in with MDB_APPEND, so full pages are left full instead of being
 * split in half (which left the forward database about 60% full). */
static int put_docno(MDB_txn *txn, MDB_dbi dbi, uint64_t docno, const void *val, size_t len,
                     int *appended) {
    uint8_t kb[8];
    sz_be64_put(kb, docno);
    MDB_cursor *c;
    int rc = sz__lmdb_err(mdb_cursor_open(txn, dbi, &c));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    unsigned flags = 0;
    rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, MDB_LAST));
    if (rc == SZ_E_NOT_FOUND || (rc == 0 && k.mv_size == 8 && sz_be64_get(k.mv_data) < docno))
        flags = MDB_APPEND;
    else if (rc != 0) {
        mdb_cursor_close(c);
        return rc;
    }
    if (appended != NULL)
        *appended = flags == MDB_APPEND;
    if (val != NULL) { /* NULL: only find out whether docno would be appended */
        MDB_val nk = {8, kb}, nv = {len, (void *)val};
        rc = sz__lmdb_err(mdb_cursor_put(c, &nk, &nv, flags));
    } else {
        rc = 0;
    }
    mdb_cursor_close(c);
    return rc;
}

static int meta_tokens(sz_fts_t *fts, MDB_txn *txn, uint64_t *tokens) {
    MDB_val v;
    int rc = db_get(txn, fts->meta, "tokens", 6, &v);
    if (rc == SZ_E_NOT_FOUND) {
        *tokens = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return SZ_E_CORRUPT;
    uint64_t t = 0;
    for (int i = 7; i >= 0; i--)
        t = (t << 8) | ((const uint8_t *)v.mv_data)[i];
    *tokens = t;
    return 0;
}

static int meta_tokens_put(sz_fts_t *fts, MDB_txn *txn, uint64_t tokens) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(tokens >> (8 * i));
    return db_put(txn, fts->meta, "tokens", 6, b, 8);
}

/* ---- Forward entries ----
 *
 * varint dl (words indexed), varint nterms, nterms distinct terms in byte order, front-coded as
 * varint shared-prefix, varint suffix length, suffix bytes; varint nseq, then the word sequence
 * as nseq varints: 0 between fields, i + 1 for term i. */

typedef struct doc_s {
    uint32_t dl, nterms, nseq;
    uint8_t *arena; /* nterms * SZ_TOKEN_MAX bytes */
    size_t arena_cap;
    uint8_t *tlen;
    size_t tlen_cap;
    uint32_t *seq;
    size_t seq_cap;
    uint32_t *tf;
    size_t tf_cap;
} doc_t;

static void doc_free(doc_t *d) {
    free(d->arena);
    free(d->tlen);
    free(d->seq);
    free(d->tf);
}

static const uint8_t *doc_term(const doc_t *d, uint32_t i) {
    return d->arena + (size_t)i * SZ_TOKEN_MAX;
}

static int doc_decode(doc_t *d, const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    uint64_t dl, nterms, nseq;
    if (varint_get(&p, end, &dl) != 0 || varint_get(&p, end, &nterms) != 0)
        return SZ_E_CORRUPT;
    if (nterms > (uint64_t)(end - p) || dl > SZ_FTS_MAX_DOC_TOKENS || nterms > dl)
        return SZ_E_CORRUPT;
    int rc;
    if ((rc = grow((void **)&d->arena, &d->arena_cap, nterms * SZ_TOKEN_MAX, 1)) != 0 ||
        (rc = grow((void **)&d->tlen, &d->tlen_cap, nterms, 1)) != 0)
        return rc;
    size_t prevlen = 0;
    for (uint32_t i = 0; i < nterms; i++) {
        uint64_t shared, suffix;
        if (varint_get(&p, end, &shared) != 0 || varint_get(&p, end, &suffix) != 0)
            return SZ_E_CORRUPT;
        if (shared > prevlen || suffix > SZ_TOKEN_MAX - shared || shared + suffix == 0 ||
            suffix > (uint64_t)(end - p))
            return SZ_E_CORRUPT;
        uint8_t *t = d->arena + (size_t)i * SZ_TOKEN_MAX;
        if (shared > 0)
            memcpy(t, t - SZ_TOKEN_MAX, shared);
        memcpy(t + shared, p, suffix);
        p += suffix;
        d->tlen[i] = (uint8_t)(shared + suffix);
        prevlen = shared + suffix;
        if (i > 0 && term_cmp(t - SZ_TOKEN_MAX, d->tlen[i - 1], t, d->tlen[i]) >= 0)
            return SZ_E_CORRUPT;
    }
    if (varint_get(&p, end, &nseq) != 0 || nseq > (uint64_t)(end - p) || nseq < dl)
        return SZ_E_CORRUPT;
    if ((rc = grow((void **)&d->seq, &d->seq_cap, nseq, sizeof(uint32_t))) != 0)
        return rc;
    uint64_t words = 0;
    for (uint32_t i = 0; i < nseq; i++) {
        uint64_t s;
        if (varint_get(&p, end, &s) != 0 || s > nterms)
            return SZ_E_CORRUPT;
        d->seq[i] = (uint32_t)s;
        words += s != 0;
    }
    if (p != end || words != dl)
        return SZ_E_CORRUPT;
    d->dl = (uint32_t)dl;
    d->nterms = (uint32_t)nterms;
    d->nseq = (uint32_t)nseq;
    return 0;
}

/* Counts each term's occurrences into d->tf. */
static int doc_count(doc_t *d) {
    int rc = grow((void **)&d->tf, &d->tf_cap, d->nterms, sizeof(uint32_t));
    if (rc != 0)
        return rc;
    memset(d->tf, 0, (size_t)d->nterms * sizeof(uint32_t));
    for (uint32_t i = 0; i < d->nseq; i++)
        if (d->seq[i] != 0)
            d->tf[d->seq[i] - 1]++;
    return 0;
}

/* ---- Signatures of pending documents ----
 *
 * Each pending document keeps a Bloom filter of its terms (SIG_BYTES, SIG_HASHES bits per term),
 * so a search reads these small values and decodes only the pending documents that may hold every
 * query word. With ~100 distinct words a false positive costs one decode in a few thousand. */

typedef struct sigbits_s {
    uint16_t bit[SIG_HASHES];
} sigbits_t;

static void sig_bits(const uint8_t *t, size_t len, sigbits_t *out) {
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ t[i]) * 1099511628211ull;
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;
    for (unsigned i = 0; i < SIG_HASHES; i++)
        out->bit[i] = (uint16_t)((h1 + i * h2) % (SIG_BYTES * 8));
}

static void sig_add(uint8_t *sig, const uint8_t *t, size_t len) {
    sigbits_t sb;
    sig_bits(t, len, &sb);
    for (unsigned i = 0; i < SIG_HASHES; i++)
        sig[sb.bit[i] >> 3] |= (uint8_t)(1u << (sb.bit[i] & 7));
}

/* Returns 1 when sig (a pending value) may hold the term; values of another size always may. */
static int sig_test(const MDB_val *v, const sigbits_t *sb) {
    if (v->mv_size != SIG_BYTES)
        return 1;
    const uint8_t *sig = v->mv_data;
    for (unsigned i = 0; i < SIG_HASHES; i++)
        if (!(sig[sb->bit[i] >> 3] & (1u << (sb->bit[i] & 7))))
            return 0;
    return 1;
}

/* ---- Building a document from a record body ---- */

typedef struct tok_s {
    uint64_t pre;
    const uint8_t *p;
    uint32_t len;
    uint32_t pos; /* index into the word sequence */
} tok_t;

typedef struct builder_s {
    buf_t arena;   /* folded words, back to back */
    uint32_t *off; /* per sequence slot: offset in arena, or UINT32_MAX for a field break */
    uint8_t *len;
    size_t nseq, seq_cap, len_cap;
    uint32_t words;
    tok_t *toks;
    size_t toks_cap;
    buf_t out;  /* the encoded forward entry */
    buf_t text; /* a decoded string with escapes */
    uint8_t sig[SIG_BYTES];
} builder_t;

static void builder_free(builder_t *b) {
    free(b->arena.p);
    free(b->off);
    free(b->len);
    free(b->toks);
    free(b->out.p);
    free(b->text.p);
}

static int builder_slot(builder_t *b, uint32_t off, uint8_t len) {
    int rc;
    if ((rc = grow((void **)&b->off, &b->seq_cap, b->nseq + 1, sizeof(uint32_t))) != 0 ||
        (rc = grow((void **)&b->len, &b->len_cap, b->nseq + 1, 1)) != 0)
        return rc;
    b->off[b->nseq] = off;
    b->len[b->nseq] = len;
    b->nseq++;
    return 0;
}

static int builder_text(builder_t *b, const char *text, size_t len) {
    if (b->words >= SZ_FTS_MAX_DOC_TOKENS)
        return 0;
    int rc;
    if (b->words > 0 && (rc = builder_slot(b, UINT32_MAX, 0)) != 0)
        return rc;
    sz_tokenizer_t t;
    sz_tokenizer_init(&t, (const uint8_t *)text, len);
    uint8_t term[SZ_TOKEN_MAX];
    size_t tl;
    while (b->words < SZ_FTS_MAX_DOC_TOKENS && sz_tokenizer_next(&t, term, &tl)) {
        if ((rc = buf_reserve(&b->arena, tl)) != 0)
            return rc;
        if (b->arena.len > UINT32_MAX - SZ_TOKEN_MAX)
            return SZ_E_TOO_LARGE;
        memcpy(b->arena.p + b->arena.len, term, tl);
        if ((rc = builder_slot(b, (uint32_t)b->arena.len, (uint8_t)tl)) != 0)
            return rc;
        b->arena.len += tl;
        b->words++;
    }
    return 0;
}

static int builder_json(builder_t *b, json_t *v) {
    if (!json_is_string(v))
        return 0;
    return builder_text(b, json_string_value(v), json_string_length(v));
}

/* Reads the text fields through a jansson tree: the reference for builder_body(). */
static int builder_body_jansson(builder_t *b, unsigned kind, const uint8_t *body, size_t len) {
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE)
        return 0;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return SZ_E_JSON;
    int rc = 0;
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    rc = builder_json(b, json_object_get(root, "title"));
    if (kind == SZ_KIND_TESTIMONY) {
        json_t *st = json_object_get(root, "statement");
        if (rc == 0 && json_is_object(st)) {
            rc = builder_json(b, json_object_get(st, "text"));
            json_t *tr = json_object_get(st, "translations");
            size_t i;
            json_t *item;
            if (json_is_array(tr)) {
                json_array_foreach(tr, i, item) {
                    if (rc == 0 && json_is_object(item))
                        rc = builder_json(b, json_object_get(item, "text"));
                }
            }
        }
    } else if (rc == 0) {
        rc = builder_json(b, json_object_get(root, "summary"));
    }
    json_decref(root);
    return rc;
}

/* Adds the text of a string span (with quotes) from a well-formed document. Strings without
 * escapes are tokenized in place; others are decoded into b->text first. Other values add nothing,
 * as in builder_json(). */
static int builder_span(builder_t *b, sz_jspan_t v) {
    if (sz_json_type(v) != SZ_JSON_STRING)
        return 0;
    const uint8_t *in = v.p + 1;
    size_t n = v.len - 2;
    if (memchr(in, '\\', n) == NULL)
        return builder_text(b, (const char *)in, n);
    int rc = buf_reserve(&b->text, n);
    if (rc != 0)
        return rc;
    size_t out;
    if ((rc = sz_json_string(v, b->text.p, n, &out)) != 0)
        return rc;
    return builder_text(b, (const char *)b->text.p, out);
}

/* Reads the text fields named by the schemas (schema/testimony.schema.json, case.schema.json).
 * A body that is certainly well-formed JSON (sz__json_well_formed(): what jansson accepts, no
 * duplicate keys) is walked with the zero-allocation scanner; anything else, including every body
 * to be refused, goes through jansson, which decides. */
static int builder_body(builder_t *b, unsigned kind, const uint8_t *body, size_t len) {
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE)
        return 0;
    sz_jspan_t root, v, st, tr, item;
    if (!sz__json_well_formed(body, len) || sz_json_root(body, len, &root) != 0)
        return builder_body_jansson(b, kind, body, len);
    sz_json_type_t rt = sz_json_type(root);
    if (rt == SZ_JSON_ARRAY)
        return 0;
    if (rt != SZ_JSON_OBJECT) /* jansson refuses a bare scalar without JSON_DECODE_ANY */
        return builder_body_jansson(b, kind, body, len);
    int rc = sz_json_get(root, "title", &v);
    if (rc == 1)
        rc = builder_span(b, v);
    if (rc != 0)
        return rc;
    if (kind == SZ_KIND_CASE) {
        rc = sz_json_get(root, "summary", &v);
        return rc == 1 ? builder_span(b, v) : rc;
    }
    rc = sz_json_get(root, "statement", &st);
    if (rc != 1 || sz_json_type(st) != SZ_JSON_OBJECT)
        return rc < 0 ? rc : 0;
    if ((rc = sz_json_get(st, "text", &v)) == 1)
        rc = builder_span(b, v);
    if (rc != 0)
        return rc;
    rc = sz_json_get(st, "translations", &tr);
    if (rc != 1 || sz_json_type(tr) != SZ_JSON_ARRAY)
        return rc < 0 ? rc : 0;
    sz_json_iter_t it;
    if ((rc = sz_json_iter_init(&it, tr)) != 0)
        return rc;
    while ((rc = sz_json_next_element(&it, &item)) == 1) {
        if (sz_json_type(item) != SZ_JSON_OBJECT)
            continue;
        int r2 = sz_json_get(item, "text", &v);
        if (r2 == 1)
            r2 = builder_span(b, v);
        if (r2 != 0)
            return r2;
    }
    return rc;
}

static int tok_less(const tok_t *x, const tok_t *y) {
    if (x->pre != y->pre)
        return x->pre < y->pre;
    int c = term_cmp(x->p, x->len, y->p, y->len);
    return c != 0 ? c < 0 : x->pos < y->pos;
}

/* Sorts words by term then position: a merge sort with inline comparisons, since qsort's indirect
 * calls were a tenth of the indexing time. Runs of 8 are insertion-sorted first. */
static void tok_sort(tok_t *v, tok_t *tmp, size_t n) {
    for (size_t lo = 0; lo < n; lo += 8) {
        size_t hi = lo + 8 < n ? lo + 8 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            tok_t x = v[i];
            size_t j = i;
            while (j > lo && tok_less(&x, &v[j - 1])) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
    }
    for (size_t width = 8; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n,
                   hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = tok_less(&v[j], &v[i]) ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof(tok_t));
    }
}

/* Encodes the forward entry of the collected words into b->out. */
static int builder_encode(builder_t *b) {
    int rc;
    while (b->nseq > 0 && b->off[b->nseq - 1] == UINT32_MAX)
        b->nseq--; /* a trailing field break carries nothing */
    if ((rc = grow((void **)&b->toks, &b->toks_cap, 2 * ((size_t)b->words + 1), sizeof(tok_t))) !=
        0)
        return rc;
    size_t nt = 0;
    for (size_t i = 0; i < b->nseq; i++) {
        if (b->off[i] == UINT32_MAX)
            continue;
        b->toks[nt].p = b->arena.p + b->off[i];
        b->toks[nt].len = b->len[i];
        b->toks[nt].pre = term_prefix(b->toks[nt].p, b->len[i]);
        b->toks[nt].pos = (uint32_t)i;
        nt++;
    }
    tok_sort(b->toks, b->toks + nt, nt);
    /* Reuse off[] for the sequence of term numbers (0 = field break). */
    size_t nterms = 0;
    for (size_t i = 0; i < nt; i++) {
        if (i == 0 ||
            term_cmp(b->toks[i - 1].p, b->toks[i - 1].len, b->toks[i].p, b->toks[i].len) != 0)
            nterms++;
    }
    b->out.len = 0;
    if ((rc = buf_reserve(&b->out, 30 + b->arena.len + 2 * nterms + 3 * b->nseq)) != 0)
        return rc;
    uint8_t *o = b->out.p;
    size_t n = 0;
    n += varint_put(o + n, b->words);
    n += varint_put(o + n, nterms);
    size_t term_no = 0;
    const uint8_t *prev = NULL;
    size_t prevlen = 0;
    for (size_t i = 0; i < nt; i++) {
        const tok_t *t = &b->toks[i];
        if (prev == NULL || term_cmp(prev, prevlen, t->p, t->len) != 0) {
            size_t shared = 0;
            while (prev != NULL && shared < prevlen && shared < t->len &&
                   prev[shared] == t->p[shared])
                shared++;
            n += varint_put(o + n, shared);
            n += varint_put(o + n, t->len - shared);
            memcpy(o + n, t->p + shared, t->len - shared);
            n += t->len - shared;
            prev = t->p;
            prevlen = t->len;
            term_no++;
            sig_add(b->sig, t->p, t->len);
        }
        b->off[t->pos] = (uint32_t)term_no; /* 1-based */
    }
    for (size_t i = 0; i < b->nseq; i++)
        if (b->len[i] == 0)
            b->off[i] = 0;
    n += varint_put(o + n, b->nseq);
    for (size_t i = 0; i < b->nseq; i++)
        n += varint_put(o + n, b->off[i]);
    b->out.len = n;
    return 0;
}

/* ---- Writing postings ---- */

typedef struct wctx_s {
    sz_fts_t *fts;
    MDB_txn *txn;
    MDB_cursor *cur;  /* on fts_post */
    MDB_cursor *tcur; /* on fts_tail, positioned on the term last loaded */
    int tail_found;   /* the term last loaded has a tail record under tcur */
    plist_t tail, blk, tmp;
    buf_t val;
} wctx_t;

static void wctx_free(wctx_t *w) {
    if (w->cur != NULL)
        mdb_cursor_close(w->cur);
    if (w->tcur != NULL)
        mdb_cursor_close(w->tcur);
    free(w->tail.v);
    free(w->blk.v);
    free(w->tmp.v);
    free(w->val.p);
}

static int wctx_init(wctx_t *w, sz_fts_t *fts, MDB_txn *txn) {
    memset(w, 0, sizeof(*w));
    w->fts = fts;
    w->txn = txn;
    int rc = sz__lmdb_err(mdb_cursor_open(txn, fts->post, &w->cur));
    if (rc == 0)
        rc = sz__lmdb_err(mdb_cursor_open(txn, fts->tail, &w->tcur));
    return rc;
}

/* Writes posts (ascending, n > 0) as closed blocks of at most BLOCK_MAX, each keyed by its last
 * docno. */
static int put_closed(wctx_t *w, const uint8_t *term, size_t tlen, const post_t *posts, size_t n) {
    while (n > 0) {
        size_t k = n > BLOCK_MAX ? BLOCK_MAX : n;
        /* Split evenly so no block is left tiny. */
        if (n > BLOCK_MAX && n < 2 * BLOCK_MAX)
            k = n / 2;
        pkey_t key;
        pkey_set(&key, term, tlen, posts[k - 1].docno);
        w->val.len = 0;
        int rc = posts_encode(&w->val, posts, k);
        if (rc != 0)
            return rc;
        MDB_val v = {w->val.len, w->val.p};
        if ((rc = sz__lmdb_err(mdb_put(w->txn, w->fts->post, &key.v, &v, 0))) != 0)
            return rc;
        posts += k;
        n -= k;
    }
    return 0;
}

/* Writes the tail of the term last loaded with load_tail(), through the cursor still on it (merges
 * walk terms in order, so LMDB finds the spot from the cursor's page without a descent). */
static int put_tail(wctx_t *w, const uint8_t *term, size_t tlen, uint64_t df) {
    int rc;
    if (df == 0) {
        if (!w->tail_found)
            return 0;
        w->tail_found = 0;
        return sz__lmdb_err(mdb_cursor_del(w->tcur, 0));
    }
    w->val.len = 0;
    if ((rc = buf_reserve(&w->val, 20)) != 0)
        return rc;
    w->val.len = varint_put(w->val.p, df);
    w->val.len += varint_put(w->val.p + w->val.len, w->tail.n ? w->tail.v[w->tail.n - 1].docno : 0);
    if ((rc = posts_encode(&w->val, w->tail.v, w->tail.n)) != 0)
        return rc;
    MDB_val k = {tlen, (void *)term}, v = {w->val.len, w->val.p};
    rc = sz__lmdb_err(mdb_cursor_put(w->tcur, &k, &v, w->tail_found ? MDB_CURRENT : 0));
    w->tail_found = rc == 0;
    return rc;
}

/* Loads the tail of term into w->tail; *df = 0 and an empty tail when the term is unknown. */
static int load_tail(wctx_t *w, const uint8_t *term, size_t tlen, uint64_t *df) {
    MDB_val k = {tlen, (void *)term}, v;
    int rc;
    if (w->tcur != NULL)
        rc = sz__lmdb_err(mdb_cursor_get(w->tcur, &k, &v, MDB_SET_KEY));
    else
        rc = db_get(w->txn, w->fts->tail, term, tlen, &v);
    w->tail_found = rc == 0;
    w->tail.n = 0;
    *df = 0;
    if (rc == SZ_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    return tail_decode(&w->tail, df, &v);
}

/* Adds posts (ascending docnos, n > 0) to term. Postings older than the tail go into the closed
 * block that covers them; the rest join the tail, which spills full blocks when it grows past
 * BLOCK_MAX. Keeps the invariant: every closed docno is below every tail docno. */
static int merge_term(wctx_t *w, const uint8_t *term, size_t tlen, const post_t *posts, size_t n) {
    uint64_t df = 0;
    MDB_val tk = {tlen, (void *)term}, tv;
    int rc = sz__lmdb_err(mdb_cursor_get(w->tcur, &tk, &tv, MDB_SET_KEY));
    w->tail_found = rc == 0;
    w->tail.n = 0;
    if (rc != 0 && rc != SZ_E_NOT_FOUND)
        return rc;
    if (rc == 0) {
        tail_hdr_t h;
        if ((rc = tail_header(&tv, &h)) != 0)
            return rc;
        if (h.count > 0 && posts[0].docno > h.last && h.count + n <= BLOCK_MAX) {
            /* The common case: newer postings that fit. Append their encoding to the old bytes. */
            size_t old = (size_t)(h.end - h.entries);
            w->val.len = 0;
            if ((rc = buf_reserve(&w->val, 30 + old + n * 16)) != 0)
                return rc;
            uint8_t *o = w->val.p;
            size_t len = varint_put(o, h.df + n);
            len += varint_put(o + len, posts[n - 1].docno);
            len += varint_put(o + len, h.count + n);
            memcpy(o + len, h.entries, old);
            len += old;
            uint64_t prev = h.last;
            for (size_t i = 0; i < n; i++) {
                len += varint_put(o + len, posts[i].docno - prev);
                len += varint_put(o + len, posts[i].tf);
                o[len++] = posts[i].norm;
                prev = posts[i].docno;
            }
            /* The key must not point into the page being rewritten: pass the caller's term. */
            MDB_val nk = {tlen, (void *)term}, nv = {len, o};
            return sz__lmdb_err(mdb_cursor_put(w->tcur, &nk, &nv, MDB_CURRENT));
        }
        if ((rc = tail_decode(&w->tail, &df, &tv)) != 0)
            return rc;
    }
    size_t i = 0, added;
    while (df > 0 && i < n && (w->tail.n == 0 || posts[i].docno < w->tail.v[0].docno)) {
        pkey_t key;
        pkey_set(&key, term, tlen, posts[i].docno);
        MDB_val k = key.v, v;
        rc = sz__lmdb_err(mdb_cursor_get(w->cur, &k, &v, MDB_SET_RANGE));
        if (rc == SZ_E_NOT_FOUND || (rc == 0 && !pkey_is_term(&k, term, tlen)))
            break; /* newer than every closed block: the rest belong to the tail */
        if (rc != 0)
            return rc;
        uint64_t last = sz_be64_get((const uint8_t *)k.mv_data + tlen + 1);
        if ((rc = posts_decode(&w->blk, v.mv_data, (const uint8_t *)v.mv_data + v.mv_size)) != 0)
            return rc;
        size_t j = i;
        while (j < n && posts[j].docno <= last)
            j++;
        if ((rc = posts_merge(&w->blk, posts + i, j - i, &added, &w->tmp)) != 0)
            return rc;
        df += added;
        /* The block keeps its key (new postings are below its last docno); one grown past
         * BLOCK_MAX is split, its lower part under a new key. */
        if ((rc = put_closed(w, term, tlen, w->blk.v, w->blk.n)) != 0)
            return rc;
        i = j;
    }
    if (i < n) {
        if ((rc = posts_merge(&w->tail, posts + i, n - i, &added, &w->tmp)) != 0)
            return rc;
        df += added;
    }
    if (w->tail.n > BLOCK_MAX) {
        /* Spill all but the newest postings; the tail keeps 1..BLOCK_MAX so it is never empty. */
        size_t spill = ((w->tail.n - 1) / BLOCK_MAX) * BLOCK_MAX;
        size_t done = 0;
        while (done < spill) {
            if ((rc = put_closed(w, term, tlen, w->tail.v + done, BLOCK_MAX)) != 0)
                return rc;
            done += BLOCK_MAX;
        }
        memmove(w->tail.v, w->tail.v + spill, (w->tail.n - spill) * sizeof(post_t));
        w->tail.n -= spill;
    }
    return put_tail(w, term, tlen, df);
}

/* Removes docno from term's postings, if there. */
static int remove_posting(wctx_t *w, const uint8_t *term, size_t tlen, uint64_t docno) {
    uint64_t df;
    int rc = load_tail(w, term, tlen, &df);
    if (rc != 0 || df == 0)
        return rc;
    if (w->tail.n > 0 && docno >= w->tail.v[0].docno) {
        long at = posts_find(w->tail.v, w->tail.n, docno);
        if (at < 0)
            return 0;
        memmove(w->tail.v + at, w->tail.v + at + 1, (w->tail.n - (size_t)at - 1) * sizeof(post_t));
        w->tail.n--;
        return put_tail(w, term, tlen, df - 1);
    }
    pkey_t key;
    pkey_set(&key, term, tlen, docno);
    MDB_val k = key.v, v;
    rc = sz__lmdb_err(mdb_cursor_get(w->cur, &k, &v, MDB_SET_RANGE));
    if (rc == SZ_E_NOT_FOUND || (rc == 0 && !pkey_is_term(&k, term, tlen)))
        return 0;
    if (rc != 0)
        return rc;
    if ((rc = posts_decode(&w->blk, v.mv_data, (const uint8_t *)v.mv_data + v.mv_size)) != 0)
        return rc;
    long at = posts_find(w->blk.v, w->blk.n, docno);
    if (at < 0)
        return 0;
    memmove(w->blk.v + at, w->blk.v + at + 1, (w->blk.n - (size_t)at - 1) * sizeof(post_t));
    w->blk.n--;
    if (w->blk.n == 0) {
        rc = sz__lmdb_err(mdb_cursor_del(w->cur, 0));
    } else {
        /* The block keeps its key (its last docno) unless that one was removed. */
        if (w->blk.v[w->blk.n - 1].docno != sz_be64_get((const uint8_t *)k.mv_data + tlen + 1) &&
            (rc = sz__lmdb_err(mdb_cursor_del(w->cur, 0))) != 0)
            return rc;
        rc = put_closed(w, term, tlen, w->blk.v, w->blk.n);
    }
    if (rc != 0)
        return rc;
    return put_tail(w, term, tlen, df - 1);
}

/* ---- Merging pending documents ---- */

typedef struct gent_s {
    post_t p;
    uint32_t group; /* index into grouper.g before sorting */
} gent_t;

typedef struct group_s {
    uint64_t pre; /* term_prefix() */
    uint32_t off; /* term in the arena */
    uint32_t len;
    uint32_t id;    /* index before sorting */
    uint32_t count; /* postings; after sorting, also the start of its slice */
    uint32_t start;
} group_t;

typedef struct grouper_s {
    buf_t arena;
    group_t *g;
    size_t ng, gcap;
    gent_t *e;
    size_t ne, ecap;
    uint64_t *slot; /* hash << 32 | (group index + 1), 0 = empty */
    size_t nslot;
    plist_t posts;
} grouper_t;

static void grouper_free(grouper_t *gr) {
    free(gr->arena.p);
    free(gr->g);
    free(gr->e);
    free(gr->slot);
    free(gr->posts.v);
}

static uint32_t term_hash(const uint8_t *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* A slot holds the term's 32-bit hash above its group index + 1 (0 = empty), so a probe touches
 * a group only when the hashes agree. */
static int grouper_rehash(grouper_t *gr) {
    size_t ns = gr->nslot ? gr->nslot * 2 : 4096;
    uint64_t *slot = calloc(ns, sizeof(uint64_t));
    if (slot == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < gr->ng; i++) {
        uint32_t hv = term_hash(gr->arena.p + gr->g[i].off, gr->g[i].len);
        size_t h = hv & (ns - 1);
        while (slot[h] != 0)
            h = (h + 1) & (ns - 1);
        slot[h] = ((uint64_t)hv << 32) | ((uint64_t)i + 1);
    }
    free(gr->slot);
    gr->slot = slot;
    gr->nslot = ns;
    return 0;
}

static int grouper_add(grouper_t *gr, const uint8_t *term, size_t len, const post_t *p) {
    int rc;
    if (gr->ng * 2 >= gr->nslot && (rc = grouper_rehash(gr)) != 0)
        return rc;
    uint32_t hv = term_hash(term, len);
    size_t h = hv & (gr->nslot - 1);
    group_t *g = NULL;
    while (gr->slot[h] != 0) {
        if ((uint32_t)(gr->slot[h] >> 32) == hv) {
            group_t *c = &gr->g[(uint32_t)gr->slot[h] - 1];
            if (c->len == len && memcmp(gr->arena.p + c->off, term, len) == 0) {
                g = c;
                break;
            }
        }
        h = (h + 1) & (gr->nslot - 1);
    }
    if ((rc = grow((void **)&gr->e, &gr->ecap, gr->ne + 1, sizeof(gent_t))) != 0)
        return rc;
    if (gr->ne >= UINT32_MAX - 1)
        return SZ_E_TOO_LARGE;
    uint32_t ei = (uint32_t)gr->ne++;
    gr->e[ei].p = *p;
    if (g == NULL) {
        if ((rc = grow((void **)&gr->g, &gr->gcap, gr->ng + 1, sizeof(group_t))) != 0 ||
            (rc = buf_reserve(&gr->arena, len)) != 0)
            return rc;
        g = &gr->g[gr->ng];
        g->pre = term_prefix(term, len);
        g->off = (uint32_t)gr->arena.len;
        g->len = (uint32_t)len;
        g->id = (uint32_t)gr->ng;
        g->count = 1;
        memcpy(gr->arena.p + gr->arena.len, term, len);
        gr->arena.len += len;
        gr->e[ei].group = g->id;
        gr->slot[h] = ((uint64_t)hv << 32) | (uint64_t)++gr->ng;
        return 0;
    }
    gr->e[ei].group = g->id;
    g->count++;
    return 0;
}

static int group_cmp_arena(const uint8_t *arena, const group_t *a, const group_t *b) {
    if (a->pre != b->pre)
        return a->pre < b->pre ? -1 : 1;
    return term_cmp(arena + a->off, a->len, arena + b->off, b->len);
}

/* Sorts groups by term (insertion into an index array would be quadratic; a plain merge sort
 * keeps it O(n log n) without a global for qsort). */
static void groups_sort(const uint8_t *arena, group_t *g, group_t *tmp, size_t n) {
    if (n < 2)
        return;
    size_t h = n / 2;
    groups_sort(arena, g, tmp, h);
    groups_sort(arena, g + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = group_cmp_arena(arena, &g[j], &g[i]) < 0 ? g[j++] : g[i++];
    while (i < h)
        tmp[k++] = g[i++];
    while (j < n)
        tmp[k++] = g[j++];
    memcpy(g, tmp, n * sizeof(group_t));
}

int sz_fts_flush(sz_fts_t *fts, MDB_txn *txn) {
    if (fts == NULL || txn == NULL)
        return SZ_E_ARGUMENT;
    grouper_t gr;
    memset(&gr, 0, sizeof(gr));
    doc_t d;
    memset(&d, 0, sizeof(d));
    wctx_t w;
    MDB_cursor *pc = NULL;
    int rc = wctx_init(&w, fts, txn);
    if (rc != 0)
        goto out;
    if ((rc = sz__lmdb_err(mdb_cursor_open(txn, fts->pending, &pc))) != 0)
        goto out;
    MDB_stat pst;
    if ((rc = sz__lmdb_err(mdb_stat(txn, fts->pending, &pst))) != 0)
        goto out;
    /* Size the term table for about 16 new terms per document, so it rarely rehashes. */
    while (gr.nslot < pst.ms_entries * 32 && gr.nslot < ((size_t)1 << 22))
        if ((rc = grouper_rehash(&gr)) != 0)
            goto out;
    MDB_val k, v;
    int op = MDB_FIRST;
    size_t ndocs = 0;
    while ((rc = sz__lmdb_err(mdb_cursor_get(pc, &k, &v, op))) == 0) {
        op = MDB_NEXT;
        if (k.mv_size != 8) {
            rc = SZ_E_CORRUPT;
            goto out;
        }
        uint64_t docno = sz_be64_get(k.mv_data);
        MDB_val dv;
        if ((rc = db_get(txn, fts->docs, k.mv_data, 8, &dv)) != 0) {
            if (rc == SZ_E_NOT_FOUND)
                rc = SZ_E_CORRUPT;
            goto out;
        }
        if ((rc = doc_decode(&d, dv.mv_data, dv.mv_size)) != 0 || (rc = doc_count(&d)) != 0)
            goto out;
        post_t p = {docno, 0, norm_encode(d.dl)};
        for (uint32_t i = 0; i < d.nterms; i++) {
            p.tf = d.tf[i];
            if ((rc = grouper_add(&gr, doc_term(&d, i), d.tlen[i], &p)) != 0)
                goto out;
        }
        ndocs++;
    }
    if (rc != SZ_E_NOT_FOUND)
        goto out;
    rc = 0;
    mdb_cursor_close(pc);
    pc = NULL;
    if (ndocs == 0)
        goto out;
    /* Term order makes consecutive writes land on neighbouring pages. */
    group_t *tmp = malloc((gr.ng ? gr.ng : 1) * sizeof(group_t));
    if (tmp == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    groups_sort(gr.arena.p, gr.g, tmp, gr.ng);
    free(tmp);
    /* Scatter the postings into one array, each term's slice in docno order (entries were added
     * in docno order). Independent stores here are much cheaper than chasing per-term lists. */
    uint32_t *at = malloc((gr.ng ? gr.ng : 1) * sizeof(uint32_t));
    if (at == NULL ||
        (rc = grow((void **)&gr.posts.v, &gr.posts.cap, gr.ne ? gr.ne : 1, sizeof(post_t))) != 0) {
        free(at);
        rc = rc ? rc : -ENOMEM;
        goto out;
    }
    uint32_t sum = 0;
    for (size_t gi = 0; gi < gr.ng; gi++) {
        gr.g[gi].start = sum;
        at[gr.g[gi].id] = sum;
        sum += gr.g[gi].count;
    }
    for (size_t ei = 0; ei < gr.ne; ei++)
        gr.posts.v[at[gr.e[ei].group]++] = gr.e[ei].p;
    free(at);
    for (size_t gi = 0; gi < gr.ng && rc == 0; gi++) {
        const group_t *g = &gr.g[gi];
        rc = merge_term(&w, gr.arena.p + g->off, g->len, gr.posts.v + g->start, g->count);
    }
    if (rc == 0)
        rc = sz__lmdb_err(mdb_drop(txn, fts->pending, 0));
out:
    if (pc != NULL)
        mdb_cursor_close(pc);
    wctx_free(&w);
    doc_free(&d);
    grouper_free(&gr);
    return rc;
}

/* ---- Setting and deleting documents ---- */

/* Removes whatever docno holds: its postings (or its pending mark) and its forward entry. Adds
 * the number of words it had to *old_dl. */
static int remove_doc(sz_fts_t *fts, MDB_txn *txn, uint64_t docno, uint64_t *old_dl) {
    uint8_t dk[8];
    sz_be64_put(dk, docno);
    MDB_val v;
    int rc = db_get(txn, fts->docs, dk, 8, &v);
    *old_dl = 0;
    if (rc == SZ_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    doc_t d;
    memset(&d, 0, sizeof(d));
    wctx_t w;
    memset(&w, 0, sizeof(w));
    if ((rc = doc_decode(&d, v.mv_data, v.mv_size)) != 0)
        goto out;
    *old_dl = d.dl;
    MDB_val pv;
    rc = db_get(txn, fts->pending, dk, 8, &pv);
    if (rc == 0) {
        rc = db_del(txn, fts->pending, dk, 8);
    } else if (rc == SZ_E_NOT_FOUND) {
        if ((rc = wctx_init(&w, fts, txn)) != 0)
            goto out;
        for (uint32_t i = 0; i < d.nterms && rc == 0; i++)
            rc = remove_posting(&w, doc_term(&d, i), d.tlen[i], docno);
    }
    if (rc == 0)
        rc = db_del(txn, fts->docs, dk, 8);
out:
    wctx_free(&w);
    doc_free(&d);
    return rc;
}

static int update_tokens(sz_fts_t *fts, MDB_txn *txn, uint64_t old_dl, uint64_t new_dl) {
    if (old_dl == new_dl)
        return 0;
    uint64_t tokens;
    int rc = meta_tokens(fts, txn, &tokens);
    if (rc != 0)
        return rc;
    tokens = tokens >= old_dl ? tokens - old_dl : 0;
    return meta_tokens_put(fts, txn, tokens + new_dl);
}

int sz_fts_set(sz_fts_t *fts, MDB_txn *txn, uint64_t docno, unsigned kind, const uint8_t *body,
               size_t len) {
    if (fts == NULL || txn == NULL || (body == NULL && len > 0) || docno == UINT64_MAX)
        return SZ_E_ARGUMENT;
    /* LMDB runs one write transaction at a time, so the writer's buffers are never shared. */
    builder_t *b = fts->b;
    b->arena.len = b->out.len = b->nseq = 0;
    b->words = 0;
    memset(b->sig, 0, sizeof(b->sig));
    uint64_t old_dl = 0;
    int rc = builder_body(b, kind, body, len);
    uint32_t words = b->words;
    if (rc == 0 && words > 0)
        rc = builder_encode(b);
    /* A docno past the last forward entry is new (the common case in a catch-up pass): it has
     * nothing to remove, and its entry is appended without a lookup of its own. */
    int fresh = 0;
    if (rc == 0 && words > 0)
        rc = put_docno(txn, fts->docs, docno, NULL, 0, &fresh);
    if (rc == 0 && !fresh)
        rc = remove_doc(fts, txn, docno, &old_dl);
    if (rc == 0 && words > 0) {
        if ((rc = put_docno(txn, fts->docs, docno, b->out.p, b->out.len, NULL)) == 0)
            rc = put_docno(txn, fts->pending, docno, b->sig, sizeof(b->sig), NULL);
    }
    if (rc == 0)
        rc = update_tokens(fts, txn, old_dl, words);
    if (b->arena.cap > ((size_t)1 << 20)) {
        /* Don't keep the buffers of a huge document. */
        builder_free(b);
        memset(b, 0, sizeof(*b));
    }
    if (rc == 0 && words > 0) {
        MDB_stat st;
        if ((rc = sz__lmdb_err(mdb_stat(txn, fts->pending, &st))) == 0 &&
            st.ms_entries >= fts->pending_limit)
            rc = sz_fts_flush(fts, txn);
    }
    return rc;
}

int sz_fts_delete(sz_fts_t *fts, MDB_txn *txn, uint64_t docno) {
    if (fts == NULL || txn == NULL)
        return SZ_E_ARGUMENT;
    uint64_t old_dl;
    int rc = remove_doc(fts, txn, docno, &old_dl);
    if (rc == 0)
        rc = update_tokens(fts, txn, old_dl, 0);
    return rc;
}

void sz_fts_set_pending_limit(sz_fts_t *fts, size_t limit) {
    fts->pending_limit = limit ? limit : SZ_FTS_PENDING_MAX;
}

/* ---- Search ---- */

typedef struct qterm_s {
    uint8_t t[SZ_TOKEN_MAX];
    size_t len;
    uint64_t df_post, df_pend;
    sigbits_t sig;
    double idf;
    plist_t tail;
    plist_t blk;     /* cached closed block */
    uint64_t lo, hi; /* docnos in [lo, hi] are in blk exactly when present at all */
    size_t bpos;     /* where the last probe in blk ended; probes come in descending order */
    size_t tpos;     /* the same in tail */
    int cached;
    MDB_cursor *cur;
} qterm_t;

typedef struct phrase_s {
    unsigned n;
    unsigned term[SZ_FTS_MAX_PHRASE]; /* indexes into the query's terms */
} phrase_t;

typedef struct pcand_s {
    uint64_t docno;
    uint8_t norm;
    uint32_t tf[SZ_FTS_MAX_QUERY_TERMS];
} pcand_t;

typedef struct query_s {
    qterm_t q[SZ_FTS_MAX_QUERY_TERMS];
    unsigned nq;
    phrase_t ph[MAX_PHRASES];
    unsigned nph;
    unsigned order[SZ_FTS_MAX_QUERY_TERMS];  /* rarest first */
    unsigned sorted[SZ_FTS_MAX_QUERY_TERMS]; /* in byte order, for doc_match() */
    doc_t d;
    pcand_t *pc;
    size_t npc, pccap;
    sz_fts_hit_t *hits;
    size_t max, nhits;
    double avgdl;
    double lenk[256]; /* k1 * (1 - b + b * dl / avgdl) for each norm byte */
    size_t candidates;
} query_t;

static void query_free(query_t *q) {
    for (unsigned i = 0; i < q->nq; i++) {
        free(q->q[i].tail.v);
        free(q->q[i].blk.v);
        if (q->q[i].cur != NULL)
            mdb_cursor_close(q->q[i].cur);
    }
    doc_free(&q->d);
    free(q->pc);
}

static int query_add_term(query_t *q, const uint8_t *t, size_t len, unsigned *idx) {
    for (unsigned i = 0; i < q->nq; i++) {
        if (q->q[i].len == len && memcmp(q->q[i].t, t, len) == 0) {
            *idx = i;
            return 0;
        }
    }
    if (q->nq == SZ_FTS_MAX_QUERY_TERMS)
        return SZ_E_ARGUMENT;
    memcpy(q->q[q->nq].t, t, len);
    q->q[q->nq].len = len;
    sig_bits(t, len, &q->q[q->nq].sig);
    *idx = q->nq++;
    return 0;
}

/* Splits the query at double quotes: outside them words are ANDed, inside they form a phrase
 * (a phrase of one word is just that word). */
static int query_parse(query_t *q, const char *text, size_t len) {
    size_t s = 0;
    int in_phrase = 0;
    while (s <= len) {
        size_t e = s;
        while (e < len && text[e] != '"')
            e++;
        phrase_t *ph = in_phrase ? &q->ph[q->nph] : NULL;
        if (ph != NULL) {
            if (q->nph == MAX_PHRASES)
                return SZ_E_ARGUMENT;
            ph->n = 0;
        }
        sz_tokenizer_t t;
        sz_tokenizer_init(&t, (const uint8_t *)text + s, e - s);
        uint8_t term[SZ_TOKEN_MAX];
        size_t tl;
        while (sz_tokenizer_next(&t, term, &tl)) {
            unsigned idx;
            int rc = query_add_term(q, term, tl, &idx);
            if (rc != 0)
                return rc;
            if (ph != NULL) {
                if (ph->n == SZ_FTS_MAX_PHRASE)
                    return SZ_E_ARGUMENT;
                ph->term[ph->n++] = idx;
            }
        }
        if (ph != NULL && ph->n >= 2)
            q->nph++;
        in_phrase = !in_phrase;
        s = e + 1;
    }
    if (q->nq == 0)
        return SZ_E_ARGUMENT;
    for (unsigned i = 0; i < q->nq; i++) {
        unsigned j = i;
        while (j > 0 && term_cmp(q->q[q->sorted[j - 1]].t, q->q[q->sorted[j - 1]].len, q->q[i].t,
                                 q->q[i].len) > 0) {
            q->sorted[j] = q->sorted[j - 1];
            j--;
        }
        q->sorted[j] = i;
    }
    return 0;
}

/* Checks every phrase of the query against the decoded document q->d. */
static int phrases_match(const query_t *q, const long *at) {
    for (unsigned p = 0; p < q->nph; p++) {
        const phrase_t *ph = &q->ph[p];
        uint32_t want[SZ_FTS_MAX_PHRASE];
        for (unsigned i = 0; i < ph->n; i++) {
            if (at[ph->term[i]] < 0)
                return 0;
            want[i] = (uint32_t)at[ph->term[i]] + 1;
        }
        int found = 0;
        for (uint32_t s = 0; !found && s + ph->n <= q->d.nseq; s++) {
            unsigned i = 0;
            while (i < ph->n && q->d.seq[s + i] == want[i])
                i++;
            found = i == ph->n;
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* Reads a forward entry for a query without building its term list: walks the front-coded terms
 * once against the query terms in byte order (q->sorted), writing each query term's index in the
 * document to at[] (-1 when absent), then reads the word sequence into q->d.seq and the length
 * into q->d.dl. Returns 0 or SZ_E_CORRUPT. */
static int doc_match(query_t *q, const uint8_t *p, size_t len, long *at) {
    const uint8_t *end = p + len;
    uint64_t dl, nterms, nseq;
    if (varint_get(&p, end, &dl) != 0 || varint_get(&p, end, &nterms) != 0 ||
        nterms > (uint64_t)(end - p) || dl > SZ_FTS_MAX_DOC_TOKENS || nterms > dl)
        return SZ_E_CORRUPT;
    for (unsigned i = 0; i < q->nq; i++)
        at[i] = -1;
    uint8_t cur[SZ_TOKEN_MAX];
    size_t curlen = 0;
    unsigned j = 0;
    for (uint64_t i = 0; i < nterms; i++) {
        uint64_t shared, suffix;
        if (varint_get(&p, end, &shared) != 0 || varint_get(&p, end, &suffix) != 0 ||
            shared > curlen || suffix > SZ_TOKEN_MAX - shared || shared + suffix == 0 ||
            suffix > (uint64_t)(end - p))
            return SZ_E_CORRUPT;
        if (j < q->nq) {
            memcpy(cur + shared, p, suffix);
            curlen = shared + suffix;
            int c = 1;
            while (j < q->nq) {
                const qterm_t *t = &q->q[q->sorted[j]];
                c = term_cmp(t->t, t->len, cur, curlen);
                if (c >= 0)
                    break;
                j++; /* this query word sorts before the document's term: absent */
            }
            if (j < q->nq && c == 0)
                at[q->sorted[j++]] = (long)i;
        } else {
            curlen = shared + suffix; /* every query word is placed: only skip */
        }
        p += suffix;
    }
    if (varint_get(&p, end, &nseq) != 0 || nseq > (uint64_t)(end - p) || nseq < dl)
        return SZ_E_CORRUPT;
    int rc = grow((void **)&q->d.seq, &q->d.seq_cap, nseq, sizeof(uint32_t));
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < nseq; i++) {
        uint64_t v;
        if (varint_get(&p, end, &v) != 0 || v > nterms)
            return SZ_E_CORRUPT;
        q->d.seq[i] = (uint32_t)v;
    }
    if (p != end)
        return SZ_E_CORRUPT;
    q->d.dl = (uint32_t)dl;
    q->d.nseq = (uint32_t)nseq;
    return 0;
}

/* Keeps the best max hits in a min-heap on q->hits (worst at the root). */
static int hit_worse(const sz_fts_hit_t *a, const sz_fts_hit_t *b) {
    return a->score < b->score || (a->score == b->score && a->docno < b->docno);
}

static void heap_down(sz_fts_hit_t *h, size_t n, size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_worse(&h[l], &h[m]))
            m = l;
        if (r < n && hit_worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        sz_fts_hit_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void heap_push(query_t *q, uint64_t docno, double score) {
    sz_fts_hit_t hit = {docno, score};
    sz_fts_hit_t *h = q->hits;
    if (q->max == 0)
        return;
    if (q->nhits < q->max) {
        size_t i = q->nhits++;
        h[i] = hit;
        while (i > 0 && hit_worse(&h[i], &h[(i - 1) / 2])) {
            sz_fts_hit_t t = h[i];
            h[i] = h[(i - 1) / 2];
            h[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (hit_worse(&h[0], &hit)) {
        h[0] = hit;
        heap_down(h, q->nhits, 0);
    }
}

static double bm25(const query_t *q, const uint32_t *tf, uint8_t norm) {
    double s = 0.0, k = q->lenk[norm];
    for (unsigned i = 0; i < q->nq; i++) {
        double f = tf[i];
        s += q->q[i].idf * f * (BM25_K1 + 1.0) / (f + k);
    }
    return s;
}

/* Returns the tf of docno in v (ascending, n entries), or 0. *pos is where the previous probe
 * ended (n at first): candidates arrive in descending order, so the search walks down from there,
 * which costs one step per posting passed instead of a binary search per probe. */
static uint32_t probe_desc(const post_t *v, size_t n, size_t *pos, uint64_t docno) {
    size_t i = *pos > n ? n : *pos;
    if (i < n && v[i].docno <= docno)
        i = n; /* the caller went back up: start over */
    while (i > 0 && v[i - 1].docno > docno)
        i--;
    *pos = i;
    return (i > 0 && v[i - 1].docno == docno) ? v[i - 1].tf : 0;
}

/* Looks docno up in term t: the tail, then the cached block, then one seek. Sets *tf (0 when the
 * term is absent) and returns 0, or a negative error. */
static int qterm_member(MDB_txn *txn, sz_fts_t *fts, qterm_t *t, uint64_t docno, uint32_t *tf) {
    *tf = 0;
    if (t->tail.n > 0 && docno >= t->tail.v[0].docno) {
        *tf = probe_desc(t->tail.v, t->tail.n, &t->tpos, docno);
        return 0;
    }
    if (!t->cached || docno < t->lo || docno > t->hi) {
        int rc;
        if (t->cur == NULL && (rc = sz__lmdb_err(mdb_cursor_open(txn, fts->post, &t->cur))) != 0)
            return rc;
        pkey_t key;
        pkey_set(&key, t->t, t->len, docno);
        MDB_val k = key.v, v;
        rc = sz__lmdb_err(mdb_cursor_get(t->cur, &k, &v, MDB_SET_RANGE));
        if (rc != 0 && rc != SZ_E_NOT_FOUND)
            return rc;
        t->cached = 1;
        if (rc == SZ_E_NOT_FOUND || !pkey_is_term(&k, t->t, t->len)) {
            t->blk.n = 0;
            t->lo = docno;
            t->hi = t->tail.n > 0 ? t->tail.v[0].docno - 1 : UINT64_MAX;
        } else {
            rc = posts_decode(&t->blk, v.mv_data, (const uint8_t *)v.mv_data + v.mv_size);
            if (rc != 0)
                return rc;
            t->hi = sz_be64_get((const uint8_t *)k.mv_data + t->len + 1);
            t->lo = (t->blk.n > 0 && t->blk.v[0].docno < docno) ? t->blk.v[0].docno : docno;
        }
        t->bpos = t->blk.n;
    }
    *tf = probe_desc(t->blk.v, t->blk.n, &t->bpos, docno);
    return 0;
}

/* Considers docno, which holds the rarest term with tf0 and length norm: checks the other terms
 * and the phrases, then ranks it. Returns 1 to go on, 0 when the candidate cap is reached, or a
 * negative error. */
static int consider(query_t *q, MDB_txn *txn, sz_fts_t *fts, uint64_t docno, uint32_t tf0,
                    uint8_t norm) {
    uint32_t tf[SZ_FTS_MAX_QUERY_TERMS];
    tf[q->order[0]] = tf0;
    for (unsigned j = 1; j < q->nq; j++) {
        unsigned i = q->order[j];
        int rc = qterm_member(txn, fts, &q->q[i], docno, &tf[i]);
        if (rc != 0)
            return rc;
        if (tf[i] == 0)
            return 1;
    }
    if (q->nph > 0) {
        uint8_t dk[8];
        sz_be64_put(dk, docno);
        MDB_val v;
        int rc = db_get(txn, fts->docs, dk, 8, &v);
        if (rc == SZ_E_NOT_FOUND)
            return SZ_E_CORRUPT;
        long at[SZ_FTS_MAX_QUERY_TERMS];
        if (rc != 0 || (rc = doc_match(q, v.mv_data, v.mv_size, at)) != 0)
            return rc;
        if (!phrases_match(q, at))
            return 1;
    }
    heap_push(q, docno, bm25(q, tf, norm));
    return ++q->candidates < SZ_FTS_MAX_CANDIDATES;
}

/* Reads every pending document: counts its terms into df_pend and keeps those that match. */
static int scan_pending(query_t *q, MDB_txn *txn, sz_fts_t *fts) {
    MDB_cursor *c;
    int rc = sz__lmdb_err(mdb_cursor_open(txn, fts->pending, &c));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    int op = MDB_LAST;
    while ((rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, op))) == 0) {
        op = MDB_PREV;
        MDB_val dv;
        if (k.mv_size != 8) {
            rc = SZ_E_CORRUPT;
            break;
        }
        unsigned maybe = 0, pass[SZ_FTS_MAX_QUERY_TERMS];
        for (unsigned i = 0; i < q->nq; i++) {
            pass[i] = (unsigned)sig_test(&v, &q->q[i].sig);
            maybe += pass[i];
        }
        if (maybe < q->nq) {
            /* Cannot match. Its share of df is estimated from the filter (see FTS.md). */
            for (unsigned i = 0; i < q->nq; i++)
                q->q[i].df_pend += pass[i];
            continue;
        }
        if ((rc = db_get(txn, fts->docs, k.mv_data, 8, &dv)) != 0) {
            if (rc == SZ_E_NOT_FOUND)
                rc = SZ_E_CORRUPT;
            break;
        }
        long at[SZ_FTS_MAX_QUERY_TERMS];
        if ((rc = doc_match(q, dv.mv_data, dv.mv_size, at)) != 0)
            break;
        unsigned present = 0;
        for (unsigned i = 0; i < q->nq; i++) {
            if (at[i] >= 0) {
                q->q[i].df_pend++;
                present++;
            }
        }
        if (present < q->nq || (q->nph > 0 && !phrases_match(q, at)))
            continue;
        if ((rc = grow((void **)&q->pc, &q->pccap, q->npc + 1, sizeof(pcand_t))) != 0)
            break;
        pcand_t *p = &q->pc[q->npc++];
        p->docno = sz_be64_get(k.mv_data);
        p->norm = norm_encode(q->d.dl);
        for (unsigned i = 0; i < q->nq; i++)
            p->tf[i] = 0;
        /* Count only the query words: their indexes are in at[]. */
        for (uint32_t s = 0; s < q->d.nseq; s++) {
            uint32_t w = q->d.seq[s];
            if (w == 0)
                continue;
            for (unsigned i = 0; i < q->nq; i++)
                p->tf[i] += (uint32_t)(at[i] + 1) == w;
        }
    }
    mdb_cursor_close(c);
    return rc == SZ_E_NOT_FOUND ? 0 : rc;
}

/* Walks the rarest term's postings newest first and considers each document. */
static int walk_rarest(query_t *q, MDB_txn *txn, sz_fts_t *fts) {
    qterm_t *t = &q->q[q->order[0]];
    int rc;
    for (size_t i = t->tail.n; i-- > 0;) {
        if ((rc = consider(q, txn, fts, t->tail.v[i].docno, t->tail.v[i].tf, t->tail.v[i].norm)) <=
            0)
            return rc;
    }
    MDB_cursor *c;
    if ((rc = sz__lmdb_err(mdb_cursor_open(txn, fts->post, &c))) != 0)
        return rc;
    pkey_t key;
    pkey_set(&key, t->t, t->len, UINT64_MAX);
    MDB_val k = key.v, v;
    plist_t blk = {0};
    rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, MDB_SET_RANGE));
    if (rc == SZ_E_NOT_FOUND)
        rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, MDB_LAST));
    else if (rc == 0)
        rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, MDB_PREV));
    while (rc == 0 && pkey_is_term(&k, t->t, t->len)) {
        if ((rc = posts_decode(&blk, v.mv_data, (const uint8_t *)v.mv_data + v.mv_size)) != 0)
            break;
        for (size_t i = blk.n; i-- > 0;) {
            if ((rc = consider(q, txn, fts, blk.v[i].docno, blk.v[i].tf, blk.v[i].norm)) <= 0)
                goto out;
        }
        rc = sz__lmdb_err(mdb_cursor_get(c, &k, &v, MDB_PREV));
    }
    if (rc == SZ_E_NOT_FOUND)
        rc = 0;
out:
    free(blk.v);
    mdb_cursor_close(c);
    return rc < 0 ? rc : 0;
}

int sz_fts_search(sz_fts_t *fts, MDB_txn *txn, const char *query, sz_fts_hit_t *hits, size_t max,
                  size_t *n) {
    if (n != NULL)
        *n = 0;
    if (fts == NULL || txn == NULL || query == NULL || n == NULL || (hits == NULL && max > 0))
        return SZ_E_ARGUMENT;
    size_t qlen = strnlen(query, SZ_FTS_MAX_QUERY + 1);
    if (qlen == 0 || qlen > SZ_FTS_MAX_QUERY)
        return SZ_E_ARGUMENT;
    query_t *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->hits = hits;
    q->max = max;
    int rc = query_parse(q, query, qlen);
    if (rc != 0)
        goto out;
    wctx_t w; /* only its tail loader is used; it never writes here */
    memset(&w, 0, sizeof(w));
    w.fts = fts;
    w.txn = txn;
    for (unsigned i = 0; i < q->nq && rc == 0; i++) {
        rc = load_tail(&w, q->q[i].t, q->q[i].len, &q->q[i].df_post);
        plist_t tmp = q->q[i].tail;
        q->q[i].tail = w.tail;
        w.tail = tmp;
    }
    free(w.tail.v);
    if (rc != 0 || (rc = scan_pending(q, txn, fts)) != 0)
        goto out;
    MDB_stat st;
    uint64_t tokens;
    if ((rc = sz__lmdb_err(mdb_stat(txn, fts->docs, &st))) != 0 ||
        (rc = meta_tokens(fts, txn, &tokens)) != 0)
        goto out;
    double ndocs = (double)st.ms_entries;
    q->avgdl = (ndocs > 0 && tokens > 0) ? (double)tokens / ndocs : 1.0;
    for (unsigned i = 0; i < 256; i++)
        q->lenk[i] = BM25_K1 * (1.0 - BM25_B + BM25_B * norm_len[i] / q->avgdl);
    for (unsigned i = 0; i < q->nq; i++) {
        double df = (double)(q->q[i].df_post + q->q[i].df_pend);
        if (df == 0)
            goto out; /* a word nobody used: nothing can match */
        if (df > ndocs)
            df = ndocs;
        q->q[i].idf = ln_pos(1.0 + (ndocs - df + 0.5) / (df + 0.5));
        q->order[i] = i;
    }
    /* Rarest first: it yields the fewest candidates, and the others are only probed. */
    for (unsigned i = 1; i < q->nq; i++) {
        unsigned o = q->order[i], j = i;
        while (j > 0 && q->q[q->order[j - 1]].df_post > q->q[o].df_post) {
            q->order[j] = q->order[j - 1];
            j--;
        }
        q->order[j] = o;
    }
    int any_post = 1;
    for (unsigned i = 0; i < q->nq; i++)
        any_post &= q->q[i].df_post > 0;
    if (any_post && (rc = walk_rarest(q, txn, fts)) != 0)
        goto out;
    for (size_t i = 0; i < q->npc; i++)
        heap_push(q, q->pc[i].docno, bm25(q, q->pc[i].tf, q->pc[i].norm));
    /* Heap to best-first order. */
    for (size_t m = q->nhits; m > 1; m--) {
        sz_fts_hit_t tmp = hits[0];
        hits[0] = hits[m - 1];
        hits[m - 1] = tmp;
        heap_down(hits, m - 1, 0);
    }
    *n = q->nhits;
out:
    query_free(q);
    free(q);
    return rc;
}

/* ---- Open, close, stats ---- */

int sz_fts_open(sz_fts_t **out, MDB_txn *txn) {
    if (out == NULL || txn == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    sz_fts_t *fts = calloc(1, sizeof(*fts));
    if (fts == NULL)
        return -ENOMEM;
    fts->pending_limit = SZ_FTS_PENDING_MAX;
    fts->b = calloc(1, sizeof(builder_t));
    if (fts->b == NULL) {
        free(fts);
        return -ENOMEM;
    }
    static const char *const names[SZ_FTS_DBS] = {"fts_post", "fts_tail", "fts_docs", "fts_pending",
                                                  "fts_meta"};
    MDB_dbi *dbis[SZ_FTS_DBS] = {&fts->post, &fts->tail, &fts->docs, &fts->pending, &fts->meta};
    int rc = 0;
    for (int i = 0; i < SZ_FTS_DBS && rc == 0; i++)
        rc = sz__lmdb_err(mdb_dbi_open(txn, names[i], MDB_CREATE, dbis[i]));
    MDB_val v;
    if (rc == 0) {
        rc = db_get(txn, fts->meta, "format", 6, &v);
        if (rc == SZ_E_NOT_FOUND) {
            uint8_t b[4] = {FTS_FORMAT, 0, 0, 0};
            rc = db_put(txn, fts->meta, "format", 6, b, 4);
        } else if (rc == 0) {
            const uint8_t *b = v.mv_data;
            if (v.mv_size != 4 || b[0] != FTS_FORMAT || b[1] || b[2] || b[3])
                rc = SZ_E_FORMAT;
        }
    }
    if (rc != 0) {
        free(fts->b);
        free(fts);
        return rc;
    }
    *out = fts;
    return 0;
}

void sz_fts_close(sz_fts_t *fts) {
    if (fts == NULL)
        return;
    if (fts->b != NULL)
        builder_free(fts->b);
    free(fts->b);
    free(fts);
}

int sz_fts_stats(sz_fts_t *fts, MDB_txn *txn, sz_fts_stats_t *out) {
    if (fts == NULL || txn == NULL || out == NULL)
        return SZ_E_ARGUMENT;
    memset(out, 0, sizeof(*out));
    MDB_dbi dbis[SZ_FTS_DBS] = {fts->post, fts->tail, fts->docs, fts->pending, fts->meta};
    for (int i = 0; i < SZ_FTS_DBS; i++) {
        MDB_stat st;
        int rc = sz__lmdb_err(mdb_stat(txn, dbis[i], &st));
        if (rc != 0)
            return rc;
        out->bytes +=
            (uint64_t)st.ms_psize * (st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
        if (dbis[i] == fts->docs)
            out->docs = st.ms_entries;
        else if (dbis[i] == fts->pending)
            out->pending = st.ms_entries;
        else if (dbis[i] == fts->tail)
            out->terms = st.ms_entries;
    }
    return meta_tokens(fts, txn, &out->tokens);
}
