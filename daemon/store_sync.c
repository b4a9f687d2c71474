/* Store additions for replication (daemon/sync.c): per-peer checkpoints kept in the meta database
 * under the key "sync:" || peer key (value: next u64, verified size u64, verified root [32], last
 * sync ms u64, big-endian; proto/SYNC.md section 4.2), and the reconciliation source over the
 * byhash database (its keys are the version hashes, already in bytewise order). */
#include <errno.h>
#include <string.h>

#include "error.h"
#include "lmdb_txn.h"
#include "reconcile.h"
#include "store_int.h"

#define CP_PREFIX "sync:" /* meta key: "sync:" || peer key [32] */
#define CP_KEY_LEN (5 + 32)
#define CP_VAL_LEN (8 + 8 + 32 + 8)

static void cp_key(uint8_t k[CP_KEY_LEN], const uint8_t peer[32]) {
    memcpy(k, CP_PREFIX, 5);
    memcpy(k + 5, peer, 32);
}

int sz_store_checkpoint_get(sz_store_t *s, const uint8_t peer[static 32], sz_checkpoint_t *cp) {
    memset(cp, 0, sizeof *cp);
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    uint8_t k[CP_KEY_LEN];
    cp_key(k, peer);
    MDB_val key = {CP_KEY_LEN, k}, v;
    rc = sz__lmdb_err(mdb_get(txn, s->meta, &key, &v));
    if (rc == 0 && v.mv_size != CP_VAL_LEN)
        rc = SZ_E_CORRUPT;
    if (rc == 0) {
        const uint8_t *p = v.mv_data;
        cp->next = sz_be64_get(p);
        cp->verified_size = sz_be64_get(p + 8);
        memcpy(cp->verified_root, p + 16, 32);
        cp->last_sync_ms = sz_be64_get(p + 48);
    }
    sz__rd_end(s, txn);
    return rc;
}

/* One small write transaction under the writer lock: put (cp != NULL) or delete. */
static int cp_write(sz_store_t *s, const uint8_t peer[32], const sz_checkpoint_t *cp) {
    uint8_t k[CP_KEY_LEN], val[CP_VAL_LEN];
    cp_key(k, peer);
    if (cp != NULL) {
        sz_be64_put(val, cp->next);
        sz_be64_put(val + 8, cp->verified_size);
        memcpy(val + 16, cp->verified_root, 32);
        sz_be64_put(val + 48, cp->last_sync_ms);
    }
    pthread_mutex_lock(&s->wlock);
    int rc = sz__grow_map(s, 1 << 16, 0);
    sz__txn_t t;
    if (rc == 0 && sz__txn_begin(&t, s->env, 0) != 0)
        rc = t.err;
    if (rc == 0) {
        MDB_val key = {CP_KEY_LEN, k}, v = {CP_VAL_LEN, val};
        int r2 = cp != NULL ? sz__txn_put(&t, s->meta, &key, &v, 0)
                            : sz__txn_del(&t, s->meta, &key, NULL);
        if (r2 == SZ_E_NOT_FOUND && cp == NULL) {
            sz__txn_abort(&t);
            pthread_mutex_unlock(&s->wlock);
            return 0;
        }
        rc = sz__txn_commit(&t);
        if (rc == 0)
            sz__readers_reset(s);
    }
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

int sz_store_checkpoint_put(sz_store_t *s, const uint8_t peer[static 32],
                            const sz_checkpoint_t *cp) {
    return cp_write(s, peer, cp);
}

int sz_store_checkpoint_del(sz_store_t *s, const uint8_t peer[static 32]) {
    return cp_write(s, peer, NULL);
}

int sz_store_has_version(sz_store_t *s, const uint8_t hash[static 32]) {
    uint64_t seq;
    int rc = sz_store_version_seq(s, hash, &seq);
    return rc == 0 ? 1 : rc == SZ_E_NOT_FOUND ? 0 : rc;
}

/* ---- Reconciliation source over byhash ---- */

/* Walks the version hashes in [lo, hi) in one read transaction, calling cb (reconcile.h rules:
 * 1 stops early, negative aborts). */
static int walk(sz_store_t *s, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                sz_recon_item_cb cb, void *arg) {
    if (lo->inf)
        return 0;
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_cursor *c = NULL;
    rc = sz__lmdb_err(mdb_cursor_open(txn, s->byhash, &c));
    if (rc == 0) {
        MDB_val k = {32, (void *)lo->v}, v;
        int r = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (r == 0) {
            if (k.mv_size != 32) {
                rc = SZ_E_CORRUPT;
                break;
            }
            if (!hi->inf && memcmp(k.mv_data, hi->v, 32) >= 0)
                break;
            int cr = cb(arg, k.mv_data);
            if (cr != 0) {
                rc = cr < 0 ? cr : 0;
                break;
            }
            r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (r != 0 && r != MDB_NOTFOUND)
            rc = sz__lmdb_err(r);
        mdb_cursor_close(c);
    }
    sz__rd_end(s, txn);
    return rc;
}

typedef struct sum_s {
    uint64_t count;
    uint8_t *sum;
} sum_t;

static int sum_cb(void *arg, const uint8_t id[32]) {
    sum_t *a = arg;
    sz_recon_sum_add(a->sum, id);
    a->count++;
    return 0;
}

static int src_sum(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                   uint64_t *count, uint8_t sum[32]) {
    memset(sum, 0, 32);
    sum_t a = {0, sum};
    int rc = walk(ctx, lo, hi, sum_cb, &a);
    *count = a.count;
    return rc;
}

static int src_iterate(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                       sz_recon_item_cb cb, void *cb_arg) {
    return walk(ctx, lo, hi, cb, cb_arg);
}

void sz_store_recon_source(sz_store_t *s, sz_recon_source_t *src) {
    src->sum = src_sum;
    src->iterate = src_iterate;
    src->ctx = s;
}

static int digest_cb(void *arg, const uint8_t id[32]) {
    return sum_cb(arg, id);
}

int sz_store_set_digest(sz_store_t *s, uint64_t *count, uint8_t fp[static 16]) {
    uint8_t sum[32] = {0};
    sum_t a = {0, sum};
    sz_recon_bound_t lo = {{0}, 0}, hi = {{0}, 1};
    int rc = walk(s, &lo, &hi, digest_cb, &a);
    if (rc == 0) {
        sz_recon_fingerprint(sum, a.count, fp);
        *count = a.count;
    }
    return rc;
}
