/* Store reads, the Merkle log's proofs and the full-text catch-up; see store.h. */
#include "encoding.h"
#include "error.h"
#include "lmdb_txn.h"
#include "safety.h"
#include "sha256.h"
#include "store_int.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define FTS_CHUNK_MAX 4096     /* log entries per full-text catch-up transaction */
#define FTS_FLUSH_PENDING 2048 /* pending documents merged at the end of the log */

/* mdb_get in a read transaction with our error mapping. */
static int rget(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v) {
    MDB_val k = {klen, (void *)key};
    return sz__lmdb_err(mdb_get(txn, dbi, &k, v));
}

static int log_get(sz_store_t *s, MDB_txn *txn, uint64_t seq, MDB_val *v) {
    uint8_t k8[8];
    sz_be64_put(k8, seq);
    int rc = rget(txn, s->log, k8, 8, v);
    return rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc;
}

static int version_meta(sz_store_t *s, MDB_txn *txn, const uint8_t *hash, sz__byhash_t *b) {
    MDB_val v;
    int rc = rget(txn, s->byhash, hash, 32, &v);
    if (rc != 0)
        return rc;
    return sz__byhash_decode(b, &v);
}

int sz_store_get_version(sz_store_t *s, const uint8_t hash[static 32], uint8_t **envelope,
                         size_t *len) {
    *envelope = NULL;
    *len = 0;
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    sz__byhash_t b;
    MDB_val v;
    rc = version_meta(s, txn, hash, &b);
    if (rc == 0)
        rc = log_get(s, txn, b.seq, &v);
    if (rc == 0 && sz__logent_is_stub(v.mv_data, v.mv_size))
        rc = SZ_E_RETRACTED; /* sz_store_retracted_by() names the retraction */
    if (rc == 0) {
        *envelope = malloc(v.mv_size ? v.mv_size : 1);
        if (*envelope == NULL)
            rc = -ENOMEM;
        else {
            memcpy(*envelope, v.mv_data, v.mv_size);
            *len = v.mv_size;
        }
    }
    sz__rd_end(s, txn);
    return rc;
}

int sz_store_version_seq(sz_store_t *s, const uint8_t hash[static 32], uint64_t *seq) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    sz__byhash_t b;
    rc = version_meta(s, txn, hash, &b);
    if (rc == 0)
        *seq = b.seq;
    sz__rd_end(s, txn);
    return rc;
}

int sz_store_get_current(sz_store_t *s, const uint8_t record_id[static 32],
                         uint8_t current[static 32], uint32_t *generation) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    sz__recval_t rv;
    rc = sz__record_get(txn, s, record_id, &rv);
    if (rc == 0) {
        memcpy(current, rv.current, 32);
        if (generation != NULL)
            *generation = rv.generation;
    }
    sz__rd_end(s, txn);
    return rc;
}

typedef struct head_s {
    uint8_t hash[32];
    uint32_t gen;
    uint64_t created;
} head_t;

static int head_cmp_desc(const void *a, const void *b) {
    const head_t *x = a, *y = b;
    return -sz__version_cmp(x->gen, x->created, x->hash, y->gen, y->created, y->hash);
}

void sz_store_record_free(sz_store_record_t *r) {
    if (r == NULL)
        return;
    free(r->heads);
    free(r->envelope);
    free(r);
}

/* Copies the envelope at log position seq into r. */
static int current_envelope(sz_store_t *s, MDB_txn *txn, uint64_t seq, sz_store_record_t *r) {
    MDB_val v;
    int rc = log_get(s, txn, seq, &v);
    if (rc != 0)
        return rc;
    if (sz__logent_is_stub(v.mv_data, v.mv_size))
        return SZ_E_RETRACTED; /* the current version was purged */
    r->envelope = malloc(v.mv_size);
    if (r->envelope == NULL)
        return -ENOMEM;
    memcpy(r->envelope, v.mv_data, v.mv_size);
    r->envelope_len = v.mv_size;
    return 0;
}

static int get_record_in(sz_store_t *s, MDB_txn *txn, const uint8_t *rid, sz_store_record_t *r) {
    sz__recval_t rv;
    int rc = sz__record_get(txn, s, rid, &rv);
    if (rc != 0)
        return rc;
    memcpy(r->record_id, rid, 32);
    r->recno = rv.recno;
    r->first_created = rv.first_created;
    r->generation = rv.generation;
    r->nversions = rv.nversions;
    memcpy(r->current, rv.current, 32);

    if (rv.nheads == 1) {
        /* The common case needs no walk over the heads: the current version is the only one. */
        r->heads = malloc(32);
        if (r->heads == NULL)
            return -ENOMEM;
        memcpy(r->heads[0], rv.current, 32);
        r->nheads = 1;
        return current_envelope(s, txn, rv.cur_seq, r);
    }
    MDB_cursor *c;
    if ((rc = sz__lmdb_err(mdb_cursor_open(txn, s->heads, &c))) != 0)
        return rc;
    size_t count = 0;
    MDB_val k = {32, (void *)rid}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET);
    if (rc == 0) {
        size_t cnt = 0;
        mdb_cursor_count(c, &cnt);
        count = (size_t)cnt;
    }
    head_t *h = calloc(count ? count : 1, sizeof(*h));
    if (h == NULL) {
        mdb_cursor_close(c);
        return -ENOMEM;
    }
    size_t nh = 0;
    while (rc == 0 && nh < count) {
        if (d.mv_size != 32) {
            rc = SZ_E_CORRUPT;
            break;
        }
        memcpy(h[nh++].hash, d.mv_data, 32);
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP);
    }
    mdb_cursor_close(c);
    rc = (rc == MDB_NOTFOUND || rc == 0) ? 0 : (rc < 0 ? rc : sz__lmdb_err(rc));
    for (size_t i = 0; rc == 0 && i < nh; i++) {
        sz__byhash_t b = {0};
        rc = version_meta(s, txn, h[i].hash, &b);
        h[i].gen = b.generation;
        h[i].created = b.created;
    }
    if (rc == 0 && nh == 0)
        rc = SZ_E_CORRUPT; /* a record always has a head */
    if (rc == 0) {
        qsort(h, nh, sizeof(*h), head_cmp_desc);
        r->heads = malloc(nh * 32);
        if (r->heads == NULL)
            rc = -ENOMEM;
        for (size_t i = 0; rc == 0 && i < nh; i++)
            memcpy(r->heads[i], h[i].hash, 32);
        r->nheads = nh;
    }
    free(h);
    if (rc != 0)
        return rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc;
    return current_envelope(s, txn, rv.cur_seq, r);
}

int sz_store_get_record(sz_store_t *s, const uint8_t record_id[static 32],
                        sz_store_record_t **out) {
    *out = NULL;
    sz_store_record_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0) {
        free(r);
        return rc;
    }
    rc = get_record_in(s, txn, record_id, r);
    sz__rd_end(s, txn);
    if (rc != 0) {
        sz_store_record_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* Finds the keys of dbi that start with the nibble prefix (lo .. nibbles), and, when first_only
 * (dbi is byhash), that are records' first versions. Sets *found to 0, 1 or 2 (two or more) and
 * out to the first match. */
static int prefix_scan(MDB_txn *txn, MDB_dbi dbi, int first_only, const uint8_t *lo, size_t nibbles,
                       int *found, uint8_t out[32]) {
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return sz__lmdb_err(rc);
    *found = 0;
    MDB_val k = {32, (void *)lo}, d;
    rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
    while (rc == 0 && *found < 2) {
        if (k.mv_size != 32) {
            rc = SZ_E_CORRUPT;
            break;
        }
        const uint8_t *key = k.mv_data;
        size_t full = nibbles / 2;
        if (memcmp(key, lo, full) != 0 ||
            ((nibbles & 1) && (key[full] & 0xf0) != (lo[full] & 0xf0)))
            break;
        sz__byhash_t b;
        if (!first_only || (sz__byhash_decode(&b, &d) == 0 && (b.flags & SZ__BH_FIRST))) {
            if (*found == 0)
                memcpy(out, key, 32);
            (*found)++;
        }
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT_NODUP);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND || rc == 0)
        return 0;
    return rc < 0 ? rc : sz__lmdb_err(rc);
}

int sz_store_resolve(sz_store_t *s, const char *prefix, int what, uint8_t out[static 32]) {
    size_t len = prefix ? strlen(prefix) : 0;
    if (len == 0 || len > 64 || (what & (SZ_RESOLVE_RECORD | SZ_RESOLVE_VERSION)) == 0)
        return SZ_E_ARGUMENT;
    uint8_t lo[32] = {0};
    for (size_t i = 0; i < len; i++) {
        int x = sz_hex_digit(prefix[i]);
        if (x < 0)
            return SZ_E_ARGUMENT;
        lo[i / 2] |= (uint8_t)(i % 2 ? x : x << 4);
    }
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    int total = 0;
    uint8_t first[32];
    if (what & SZ_RESOLVE_RECORD) {
        int f = 0;
        uint8_t m[32];
        /* Record ids are the byhash keys of first versions. */
        rc = prefix_scan(txn, s->byhash, 1, lo, len, &f, m);
        if (rc == 0 && f > 0) {
            memcpy(first, m, 32);
            total += f;
        }
    }
    if (rc == 0 && (what & SZ_RESOLVE_VERSION) && total < 2) {
        int f = 0;
        uint8_t m[32];
        rc = prefix_scan(txn, s->byhash, 0, lo, len, &f, m);
        /* A record id is also its first version's hash: the same match counts once. */
        if (rc == 0 && f > 0) {
            if (total == 1 && f == 1 && memcmp(m, first, 32) == 0)
                f = 0;
            if (total == 0)
                memcpy(first, m, 32);
            total += f;
        }
    }
    sz__rd_end(s, txn);
    if (rc != 0)
        return rc;
    if (total == 0)
        return SZ_E_NOT_FOUND;
    if (total > 1)
        return SZ_E_AMBIGUOUS;
    memcpy(out, first, 32);
    return 0;
}

/* Builds the version info of the log entry seq (envelope v) and calls cb. */
static int visit(sz_store_t *s, MDB_txn *txn, uint64_t seq, const MDB_val *v,
                 sz_store_version_cb cb, void *arg) {
    sz_record_t rec;
    sz_version_info_t info;
    /* A purged version has no envelope left to give: history and log walks pass over it (its
     * hash stays in the Merkle log and in byhash). */
    if (sz__logent_is_stub(v->mv_data, v->mv_size))
        return 0;
    if (sz_record_decode(&rec, v->mv_data, v->mv_size) != 0)
        return SZ_E_CORRUPT;
    info.seq = seq;
    info.rec = &rec;
    info.purged_by = NULL;
    sz_sha256(info.version_hash, v->mv_data, v->mv_size);
    sz_record_id(&rec, info.version_hash, info.record_id);
    sz__byhash_t b;
    int rc = version_meta(s, txn, info.version_hash, &b);
    if (rc != 0)
        return rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc;
    info.generation = b.generation;
    return cb(arg, &info);
}

/* A purged log position for sz_store_log: the purged version's hash and place, with the envelope
 * of the retraction that purged it, so replication pages stay contiguous and carry the tombstone.
 */
static int visit_purged(sz_store_t *s, MDB_txn *txn, uint64_t seq, const MDB_val *v,
                        sz_store_version_cb cb, void *arg) {
    sz__logent_t e;
    sz__byhash_t b, rb;
    MDB_val rv;
    sz_record_t rec;
    sz_version_info_t info;
    if (sz__logent_decode(&e, v->mv_data, v->mv_size, 0) != 0)
        return SZ_E_CORRUPT;
    int rc = version_meta(s, txn, e.version_hash, &b);
    if (rc == 0)
        rc = version_meta(s, txn, e.retraction, &rb);
    if (rc == 0)
        rc = log_get(s, txn, rb.seq, &rv);
    if (rc != 0)
        return rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc;
    if (sz_record_decode(&rec, rv.mv_data, rv.mv_size) != 0)
        return SZ_E_CORRUPT;
    info.seq = seq;
    info.rec = &rec;
    memcpy(info.version_hash, e.version_hash, 32);
    sz_record_id(&e.rec, e.version_hash, info.record_id);
    info.generation = b.generation;
    info.purged_by = e.retraction;
    return cb(arg, &info);
}

int sz_store_history(sz_store_t *s, const uint8_t record_id[static 32], sz_store_version_cb cb,
                     void *arg) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val env;
    sz__byhash_t fb;
    sz__recval_t rv;
    /* The first version (found under the record id), then the later ones from members. */
    rc = sz__record_get(txn, s, record_id, &rv);
    if (rc == 0)
        rc = version_meta(s, txn, record_id, &fb);
    if (rc == 0)
        rc = log_get(s, txn, fb.seq, &env);
    if (rc == 0)
        rc = visit(s, txn, fb.seq, &env, cb, arg);
    MDB_cursor *c = NULL;
    if (rc == 0)
        rc = sz__lmdb_err(mdb_cursor_open(txn, s->members, &c));
    if (rc == 0) {
        MDB_val k = {32, (void *)record_id}, d;
        int lr = mdb_cursor_get(c, &k, &d, MDB_SET);
        while (lr == 0 && rc == 0) {
            if (d.mv_size != 8) {
                rc = SZ_E_CORRUPT;
                break;
            }
            uint64_t seq = sz_be64_get(d.mv_data);
            rc = log_get(s, txn, seq, &env);
            if (rc == 0)
                rc = visit(s, txn, seq, &env, cb, arg);
            if (rc == 0)
                lr = mdb_cursor_get(c, &k, &d, MDB_NEXT_DUP);
        }
        if (rc == 0 && lr != 0 && lr != MDB_NOTFOUND)
            rc = sz__lmdb_err(lr);
    }
    if (c != NULL)
        mdb_cursor_close(c);
    sz__rd_end(s, txn);
    return rc;
}

int sz_store_log(sz_store_t *s, uint64_t from, size_t max, sz_store_version_cb cb, void *arg,
                 uint64_t *next) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *c;
    uint64_t at = from;
    rc = sz__lmdb_err(mdb_cursor_open(txn, s->log, &c));
    if (rc == 0) {
        uint8_t k8[8];
        sz_be64_put(k8, from);
        MDB_val k = {8, k8}, d;
        int lr = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE);
        size_t done = 0;
        while (lr == 0 && rc == 0 && (max == 0 || done < max)) {
            if (k.mv_size != 8) {
                rc = SZ_E_CORRUPT;
                break;
            }
            uint64_t seq = sz_be64_get(k.mv_data);
            rc = sz__logent_is_stub(d.mv_data, d.mv_size) ? visit_purged(s, txn, seq, &d, cb, arg)
                                                          : visit(s, txn, seq, &d, cb, arg);
            if (rc != 0)
                break;
            at = seq + 1;
            done++;
            lr = mdb_cursor_get(c, &k, &d, MDB_NEXT);
        }
        if (rc == 0 && lr != 0 && lr != MDB_NOTFOUND)
            rc = sz__lmdb_err(lr);
        mdb_cursor_close(c);
    }
    sz__rd_end(s, txn);
    if (next != NULL)
        *next = at;
    return rc;
}

/* ---- Merkle ---- */

int sz__merkle_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]) {
    sz__merkle_ctx_t *m = ctx;
    MDB_val v;
    if (level == 0) {
        int rc = log_get(m->s, m->txn, index, &v);
        if (rc != 0)
            return rc;
        uint8_t vh[32];
        sz__logent_t e;
        if (sz__logent_is_stub(v.mv_data, v.mv_size)) {
            /* A purged version keeps its hash, so the tree and its proofs stay the same. */
            if (sz__logent_decode(&e, v.mv_data, v.mv_size, 0) != 0)
                return SZ_E_CORRUPT;
            memcpy(vh, e.version_hash, 32);
        } else {
            sz_sha256(vh, v.mv_data, v.mv_size);
        }
        sz_merkle_leaf_hash(out, vh, 32);
        return 0;
    }
    uint8_t key[9];
    sz__merkle_key(key, level, index);
    int rc = rget(m->txn, m->s->merkle, key, 9, &v);
    if (rc != 0 || v.mv_size != 32)
        return rc == 0 || rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc;
    memcpy(out, v.mv_data, 32);
    return 0;
}

/* The number of log entries as seen by txn. */
static int log_size(sz_store_t *s, MDB_txn *txn, uint64_t *n) {
    MDB_stat st;
    int rc = mdb_stat(txn, s->log, &st);
    if (rc != 0)
        return sz__lmdb_err(rc);
    *n = st.ms_entries;
    return 0;
}

/* Opens a read transaction for a Merkle computation over the first size log entries and fills
 * m for sz__merkle_get. Returns 0 with the transaction open (the caller ends it with
 * sz__rd_end), or an error with nothing open: SZ_E_ARGUMENT when the log is shorter than size. */
static int merkle_read_begin(sz_store_t *s, uint64_t size, sz__merkle_ctx_t *m) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    uint64_t n = 0;
    rc = log_size(s, txn, &n);
    if (rc == 0 && size > n)
        rc = SZ_E_ARGUMENT;
    if (rc != 0) {
        sz__rd_end(s, txn);
        return rc;
    }
    m->s = s;
    m->txn = txn;
    return 0;
}

int sz_store_tree_root(sz_store_t *s, uint64_t size, uint8_t root[static 32]) {
    sz__merkle_ctx_t m;
    int rc = merkle_read_begin(s, size, &m);
    if (rc != 0)
        return rc;
    rc = sz_merkle_root(sz__merkle_get, &m, size, root);
    sz__rd_end(s, m.txn);
    return rc;
}

int sz_store_inclusion_proof(sz_store_t *s, uint64_t index, uint64_t size,
                             uint8_t proof[static SZ_MERKLE_MAX_INCLUSION_LEN], size_t *proof_len) {
    sz__merkle_ctx_t m;
    int rc = merkle_read_begin(s, size, &m);
    if (rc != 0)
        return rc;
    rc = sz_merkle_inclusion_proof(sz__merkle_get, &m, index, size, proof, proof_len);
    sz__rd_end(s, m.txn);
    return rc;
}

int sz_store_consistency_proof(sz_store_t *s, uint64_t old_size, uint64_t new_size,
                               uint8_t proof[static SZ_MERKLE_MAX_CONSISTENCY_LEN],
                               size_t *proof_len) {
    sz__merkle_ctx_t m;
    int rc = merkle_read_begin(s, new_size, &m);
    if (rc != 0)
        return rc;
    rc = sz_merkle_consistency_proof(sz__merkle_get, &m, old_size, new_size, proof, proof_len);
    sz__rd_end(s, m.txn);
    return rc;
}

/* Reads the committed frontier in txn. */
static int read_frontier(sz_store_t *s, MDB_txn *txn, sz_merkle_frontier_t *f) {
    MDB_val v;
    int rc = rget(txn, s->meta, "frontier", 8, &v);
    if (rc == SZ_E_NOT_FOUND) {
        sz_merkle_frontier_init(f);
        return 0;
    }
    if (rc != 0)
        return rc;
    return sz_merkle_frontier_decode(f, v.mv_data, v.mv_size) == 0 ? 0 : SZ_E_CORRUPT;
}

int sz_store_tree_head(sz_store_t *s, const uint8_t node_sk[static 64], uint64_t timestamp,
                       sz_tree_head_t *th) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    sz_merkle_frontier_t f;
    rc = read_frontier(s, txn, &f);
    sz__rd_end(s, txn);
    if (rc != 0)
        return rc;
    memset(th, 0, sizeof(*th));
    th->size = f.size;
    th->timestamp = timestamp;
    sz_merkle_frontier_root(&f, th->root);
    return sz_tree_head_sign(th, node_sk);
}

int sz_store_stats(sz_store_t *s, sz_store_stats_t *out) {
    memset(out, 0, sizeof(*out));
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_stat st;
    MDB_val v;
    sz_merkle_frontier_t f;
    rc = log_size(s, txn, &out->versions);
    /* One record number per record. */
    if (rc == 0 && (rc = sz__lmdb_err(mdb_stat(txn, s->recnos, &st))) == 0)
        out->records = st.ms_entries;
    if (rc == 0) {
        int r2 = rget(txn, s->meta, "fts_seq", 7, &v);
        if (r2 == 0 && v.mv_size == 8)
            out->fts_seq = sz_be64_get(v.mv_data);
        else if (r2 != SZ_E_NOT_FOUND)
            rc = r2 == 0 ? SZ_E_CORRUPT : r2;
    }
    if (rc == 0 && (rc = read_frontier(s, txn, &f)) == 0)
        sz_merkle_frontier_root(&f, out->root);
    sz__rd_end(s, txn);
    MDB_envinfo info;
    if (rc == 0 && mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
        out->map_size = info.me_mapsize;
        out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    }
    return rc;
}

/* ---- indexes and full text ---- */

int sz_store_list(sz_store_t *s, const sz_query_t *q, uint8_t (*ids)[32], size_t *n,
                  char *next_cursor) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    rc = sz_index_list(s->idx, txn, q, ids, n, next_cursor);
    sz__rd_end(s, txn);
    return rc;
}

int sz_store_search(sz_store_t *s, const char *query, sz_search_hit_t *hits, size_t max,
                    size_t *n) {
    *n = 0;
    sz_fts_hit_t *fh = calloc(max ? max : 1, sizeof(*fh));
    if (fh == NULL)
        return -ENOMEM;
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0) {
        free(fh);
        return rc;
    }
    size_t nf = 0;
    rc = sz_fts_search(s->fts, txn, query, fh, max, &nf);
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        uint8_t k8[8];
        MDB_val v;
        sz_be64_put(k8, fh[i].docno);
        rc = rget(txn, s->recnos, k8, 8, &v);
        if (rc == 0 && v.mv_size != 32)
            rc = SZ_E_CORRUPT;
        if (rc == SZ_E_NOT_FOUND)
            rc = SZ_E_CORRUPT;
        if (rc == 0) {
            memcpy(hits[i].record_id, v.mv_data, 32);
            hits[i].score = fh[i].score;
        }
    }
    sz__rd_end(s, txn);
    if (rc == 0)
        *n = nf;
    free(fh);
    return rc;
}

/* Indexes the text of log entry (seq, v) if it is still its record's current version. */
static int fts_one(sz_store_t *s, sz__txn_t *t, const MDB_val *v) {
    sz_record_t rec;
    if (sz__logent_is_stub(v->mv_data, v->mv_size))
        return 0; /* purged: the retraction already dropped its document */
    if (sz_record_decode(&rec, v->mv_data, v->mv_size) != 0)
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    if (rec.kind != SZ_KIND_TESTIMONY && rec.kind != SZ_KIND_CASE)
        return 0;
    uint8_t vh[32], rid[32];
    sz_sha256(vh, v->mv_data, v->mv_size);
    sz_record_id(&rec, vh, rid);
    sz__recval_t rv;
    int rc = sz__record_get(t->txn, s, rid, &rv);
    if (rc != 0)
        return sz__txn_fail(t, rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc, 0);
    /* A version that is no longer current was superseded by a later log entry, which this walk
     * reaches in turn. */
    if (memcmp(rv.current, vh, 32) != 0)
        return 0;
    if (rec.flags & SZ_FLAG_SEALED)
        rc = sz_fts_delete(s->fts, t->txn, rv.recno);
    else
        rc = sz_fts_set(s->fts, t->txn, rv.recno, rec.kind, rec.body, rec.body_len);
    /* Bodies were schema-checked at ingest; one the indexer cannot parse stays unindexed rather
     * than stalling the catch-up for good. */
    if (rc == SZ_E_JSON)
        rc = 0;
    if (rc != 0)
        return sz__txn_fail_module(t, rc);
    return 0;
}

/* The write lock is taken per chunk, not for the whole call, so commits of new records wait for
 * at most one chunk of indexing. Reaching the end of the log merges the pending documents only
 * when FTS_FLUSH_PENDING of them have gathered, or when the call found nothing new to index (the
 * caller is idle): a stream of small arrivals would otherwise merge a few documents at a time,
 * which costs twice as much per document as merging thousands. Pending documents are searched
 * too, and sz_fts_set() merges on its own at its pending limit. */
int sz_store_fts_catchup(sz_store_t *s, size_t max, uint64_t *done) {
    uint64_t walked = 0;
    int rc = 0, retried = 0;
    for (;;) {
        if (max != 0 && walked >= max)
            break;
        size_t chunk = FTS_CHUNK_MAX;
        if (max != 0 && max - walked < chunk)
            chunk = max - walked;
        sz__txn_t t;
        pthread_mutex_lock(&s->wlock);
        if ((rc = sz__grow_map(s, chunk * 16384 + (1 << 20), 0)) != 0) {
            pthread_mutex_unlock(&s->wlock);
            break;
        }
        if (sz__txn_begin(&t, s->env, 0) != 0) {
            rc = t.err;
            pthread_mutex_unlock(&s->wlock);
            break;
        }
        MDB_val k = {7, "fts_seq"}, d;
        uint64_t from = 0;
        int r2 = sz__txn_get(&t, s->meta, &k, &d);
        if (r2 == 0 && d.mv_size == 8)
            from = sz_be64_get(d.mv_data);
        MDB_cursor *c;
        size_t n = 0;
        int flushed = 0;
        uint64_t at = from;
        if (sz__txn_cursor(&t, s->log, &c) == 0) {
            uint8_t k8[8];
            sz_be64_put(k8, from);
            MDB_val lk = {8, k8}, lv;
            r2 = sz__txn_cget(&t, c, &lk, &lv, MDB_SET_RANGE);
            while (r2 == 0 && n < chunk) {
                /* fts_one may write pages the cursor's value lives on; copy the key first. */
                at = sz_be64_get(lk.mv_data) + 1;
                if (fts_one(s, &t, &lv) != 0)
                    break;
                n++;
                if (n < chunk)
                    r2 = sz__txn_cget(&t, c, &lk, &lv, MDB_NEXT);
            }
            mdb_cursor_close(c);
            sz_fts_stats_t fst;
            if (r2 == SZ_E_NOT_FOUND && t.err == 0 && sz_fts_stats(s->fts, t.txn, &fst) == 0 &&
                fst.pending > 0 && (n == 0 || fst.pending >= FTS_FLUSH_PENDING)) {
                int fr = sz_fts_flush(s->fts, t.txn);
                if (fr != 0)
                    sz__txn_fail_module(&t, fr);
                flushed = 1;
            }
        }
        if (n == 0 && !flushed) {
            sz__txn_abort(&t);
            rc = t.err;
            pthread_mutex_unlock(&s->wlock);
            break;
        }
        uint8_t a8[8];
        sz_be64_put(a8, at);
        MDB_val av = {8, a8};
        sz__txn_put(&t, s->meta, &k, &av, 0);
        rc = sz__txn_commit(&t);
        if (rc == 0)
            sz__readers_reset(s);
        if (rc != 0) {
            int grown = rc == SZ_E_NO_SPACE && !retried && sz__grow_map(s, chunk * 16384, 1) == 0;
            pthread_mutex_unlock(&s->wlock);
            if (grown) {
                retried = 1;
                continue;
            }
            break;
        }
        pthread_mutex_unlock(&s->wlock);
        walked += n;
        retried = 0;
        if (n == 0)
            break; /* only merged: nothing was left to index */
    }
    if (done != NULL)
        *done = walked;
    return rc;
}
