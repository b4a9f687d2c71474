/* The archive store; see store.h for the contract and STORE.md for the on-disk layout. */
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np: a map resize must not starve */
#include "store.h"

#include "error.h"
#include "lmdb_txn.h"
#include "safety.h"
#include "schema.h"
#include "seal.h"
#include "sha256.h"
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP ((size_t)64 << 20)
#define DEFAULT_MAX_MAP ((size_t)1 << 40)
#define TL_SLOTS 4

/* ---- small helpers ---- */

void sz__byhash_encode(uint8_t out[SZ__BYHASH_LEN], const sz__byhash_t *b) {
    sz_be64_put(out, b->seq);
    sz_be64_put(out + 8, b->recno);
    sz_be64_put(out + 16, b->created);
    sz_be32_put(out + 24, b->generation);
    sz_be32_put(out + 28, b->flags);
}

int sz__byhash_decode(sz__byhash_t *b, const MDB_val *v) {
    if (v->mv_size != SZ__BYHASH_LEN && v->mv_size != SZ__BYHASH_REC_LEN)
        return SZ_E_CORRUPT;
    const uint8_t *p = v->mv_data;
    b->seq = sz_be64_get(p);
    b->recno = sz_be64_get(p + 8);
    b->created = sz_be64_get(p + 16);
    b->generation = sz_be32_get(p + 24);
    b->flags = sz_be32_get(p + 28);
    return 0;
}

void sz__recval_encode(uint8_t out[SZ__RECVAL_LEN], const sz__recval_t *r) {
    sz_be64_put(out, r->recno);
    sz_be64_put(out + 8, r->first_created);
    sz_be64_put(out + 16, r->cur_created);
    sz_be64_put(out + 24, r->cur_seq);
    memcpy(out + 32, r->current, 32);
    sz_be32_put(out + 64, r->generation);
    sz_be32_put(out + 68, r->nversions);
    sz_be32_put(out + 72, r->nheads);
    sz_be32_put(out + 76, r->flags);
}

int sz__recval_decode(sz__recval_t *r, const MDB_val *v) {
    if (v->mv_size != SZ__RECVAL_LEN)
        return SZ_E_CORRUPT;
    const uint8_t *p = v->mv_data;
    r->recno = sz_be64_get(p);
    r->first_created = sz_be64_get(p + 8);
    r->cur_created = sz_be64_get(p + 16);
    r->cur_seq = sz_be64_get(p + 24);
    memcpy(r->current, p + 32, 32);
    r->generation = sz_be32_get(p + 64);
    r->nversions = sz_be32_get(p + 68);
    r->nheads = sz_be32_get(p + 72);
    r->flags = sz_be32_get(p + 76);
    return 0;
}

int sz__record_decode(sz__recval_t *r, const MDB_val *key, const MDB_val *value) {
    sz__byhash_t b;
    if (key->mv_size != 32 || sz__byhash_decode(&b, value) != 0)
        return SZ_E_CORRUPT;
    if (!(b.flags & SZ__BH_FIRST))
        return value->mv_size == SZ__BYHASH_LEN ? SZ_E_NOT_FOUND : SZ_E_CORRUPT;
    if (value->mv_size == SZ__BYHASH_REC_LEN) {
        MDB_val tail = {SZ__RECVAL_LEN, (uint8_t *)value->mv_data + SZ__BYHASH_LEN};
        return sz__recval_decode(r, &tail);
    }
    /* A record with its first version only: everything follows from that version. */
    memset(r, 0, sizeof *r);
    r->recno = b.recno;
    r->first_created = r->cur_created = b.created;
    r->cur_seq = b.seq;
    memcpy(r->current, key->mv_data, 32);
    r->generation = 0;
    r->nversions = r->nheads = 1;
    return 0;
}

int sz__record_get(MDB_txn *txn, const sz_store_t *s, const uint8_t rid[32], sz__recval_t *r) {
    MDB_val k = {32, (void *)rid}, v;
    int rc = mdb_get(txn, s->byhash, &k, &v);
    if (rc != 0)
        return sz__lmdb_err(rc);
    return sz__record_decode(r, &k, &v);
}

void sz__merkle_key(uint8_t key[9], unsigned level, uint64_t index) {
    /* Keyed by the subtree's last leaf, then level: subtrees are created in exactly this order,
     * so every put is an append and the pages pack full. */
    sz_be64_put(key, ((index + 1) << level) - 1);
    key[8] = (uint8_t)level;
}

/* The deterministic current-version order of RECORD.md: greater generation, then greater created
 * time, then bytewise greater version hash. Returns >0 when a wins. */
int sz__version_cmp(uint32_t gen_a, uint64_t created_a, const uint8_t *hash_a, uint32_t gen_b,
                    uint64_t created_b, const uint8_t *hash_b) {
    if (gen_a != gen_b)
        return gen_a > gen_b ? 1 : -1;
    if (created_a != created_b)
        return created_a > created_b ? 1 : -1;
    return memcmp(hash_a, hash_b, 32);
}

/* Records why a transaction failed in the store's error text. */
static int txn_result(sz_store_t *s, const sz__txn_t *t, const char *what) {
    s->last_lmdb_rc = t->lmdb_rc;
    if (t->err == 0)
        return 0;
    if (t->lmdb_rc != 0)
        snprintf(s->errmsg, sizeof(s->errmsg), "%s failed: %s", what, sz__lmdb_advice(t->lmdb_rc));
    else
        snprintf(s->errmsg, sizeof(s->errmsg), "%s failed: %s", what, sz_strerror(t->err));
    return t->err;
}

/* ---- read transactions: one per thread and store, parked between calls ---- */

/* A thread's read transaction on one store. Between calls it stays open ("parked") so the next
 * call can skip renewing it when nothing was committed meanwhile; the writer resets every parked
 * transaction after each commit, so no idle thread pins an old snapshot (which would keep LMDB
 * from reusing freed pages). The store owns these; a thread's slots only point at them. */
struct sz__reader_s {
    pthread_mutex_t mu; /* guards state against the writer's reset */
    MDB_txn *txn;
    int state; /* READER_RESET, READER_PARKED or READER_BUSY */
};

enum { READER_RESET, READER_PARKED, READER_BUSY };

static atomic_uint_fast64_t next_store_id = 1;

static _Thread_local struct {
    uint64_t store_id;
    sz__reader_t *r;
} tl_readers[TL_SLOTS];

static sz__reader_t *new_reader(sz_store_t *s, MDB_txn *txn) {
    sz__reader_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->txn = txn;
    r->state = READER_BUSY;
    pthread_mutex_lock(&s->readers_lock);
    if (s->nreaders == s->capreaders) {
        size_t cap = s->capreaders ? s->capreaders * 2 : 16;
        sz__reader_t **n = realloc(s->readers, cap * sizeof(*n));
        if (n == NULL) {
            pthread_mutex_unlock(&s->readers_lock);
            pthread_mutex_destroy(&r->mu);
            free(r);
            return NULL;
        }
        s->readers = n;
        s->capreaders = cap;
    }
    s->readers[s->nreaders++] = r;
    pthread_mutex_unlock(&s->readers_lock);
    return r;
}

void sz__readers_reset(sz_store_t *s) {
    pthread_mutex_lock(&s->readers_lock);
    for (size_t i = 0; i < s->nreaders; i++) {
        sz__reader_t *r = s->readers[i];
        pthread_mutex_lock(&r->mu);
        if (r->state == READER_PARKED) {
            mdb_txn_reset(r->txn);
            r->state = READER_RESET;
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&s->readers_lock);
}

int sz__rd_begin(sz_store_t *s, MDB_txn **out) {
    pthread_rwlock_rdlock(&s->maplock);
    int slot = -1, empty = -1;
    for (int i = 0; i < TL_SLOTS; i++) {
        if (tl_readers[i].store_id == s->id)
            slot = i;
        else if (empty < 0 && tl_readers[i].r == NULL)
            empty = i;
    }
    int rc;
    if (slot >= 0) {
        sz__reader_t *r = tl_readers[slot].r;
        pthread_mutex_lock(&r->mu);
        if (r->state == READER_PARKED) {
            /* Still the latest snapshot? Then it can be used as it is. */
            MDB_envinfo info;
            if (mdb_env_info(s->env, &info) == 0 && info.me_last_txnid == mdb_txn_id(r->txn)) {
                r->state = READER_BUSY;
                pthread_mutex_unlock(&r->mu);
                *out = r->txn;
                return 0;
            }
            mdb_txn_reset(r->txn);
            r->state = READER_RESET;
        }
        rc = mdb_txn_renew(r->txn);
        if (rc == 0)
            r->state = READER_BUSY;
        pthread_mutex_unlock(&r->mu);
        if (rc == 0) {
            *out = r->txn;
            return 0;
        }
        goto fail;
    }
    MDB_txn *txn = NULL;
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc == MDB_READERS_FULL) {
        int dead = 0;
        mdb_reader_check(s->env, &dead);
        rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    }
    if (rc != 0)
        goto fail;
    sz__reader_t *r = new_reader(s, txn);
    if (r == NULL) {
        mdb_txn_abort(txn);
        pthread_rwlock_unlock(&s->maplock);
        return -ENOMEM;
    }
    /* A slot whose store is gone or which belongs to another store is reused; the evicted
     * reader stays registered with its store, which resets it after commits and frees it at
     * close. */
    slot = empty >= 0 ? empty : 0;
    tl_readers[slot].store_id = s->id;
    tl_readers[slot].r = r;
    *out = txn;
    return 0;
fail:
    pthread_rwlock_unlock(&s->maplock);
    return sz__lmdb_err(rc);
}

void sz__rd_end(sz_store_t *s, MDB_txn *txn) {
    sz__reader_t *r = NULL;
    for (int i = 0; i < TL_SLOTS; i++)
        if (tl_readers[i].store_id == s->id && tl_readers[i].r->txn == txn)
            r = tl_readers[i].r;
    if (r != NULL) {
        pthread_mutex_lock(&r->mu);
        r->state = READER_PARKED;
        pthread_mutex_unlock(&r->mu);
    } else {
        mdb_txn_reset(txn); /* not this thread's slot (evicted meanwhile): plain reset */
    }
    pthread_rwlock_unlock(&s->maplock);
}

/* ---- map growth ---- */

/* Grows the map so that need more bytes fit under 80% of it, doubling up to max_map. Called with
 * the writer lock held and no write transaction open; takes the map lock exclusively because
 * remapping invalidates every pointer read transactions hold. */
int sz__grow_map(sz_store_t *s, size_t need, int force) {
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return SZ_E_STORE;
    size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
    size_t size = info.me_mapsize;
    if (!force && (used + need) <= size / 10 * 8)
        return 0;
    size_t target = size;
    while ((force || (used + need) > target / 10 * 8) && target < s->max_map) {
        target = target * 2 > s->max_map ? s->max_map : target * 2;
        force = 0;
    }
    if (target <= size)
        return force ? SZ_E_NO_SPACE : 0;
    pthread_rwlock_wrlock(&s->maplock);
    sz__readers_reset(s); /* no transaction may be open across a remap */
    int rc = mdb_env_set_mapsize(s->env, target);
    pthread_rwlock_unlock(&s->maplock);
    if (rc != 0)
        return sz__lmdb_err(rc);
    return 0;
}

/* ---- open / close ---- */

static void open_msg(const sz_store_options_t *o, const char *fmt, const char *a, const char *b) {
    if (o != NULL && o->errbuf != NULL && o->errlen > 0)
        snprintf(o->errbuf, o->errlen, fmt, a, b);
}

/* Looks at DIR/data.mdb before LMDB maps it: LMDB would initialise an empty file, and mapping a
 * truncated one faults (SIGBUS) on the first access past its end. Reads both meta pages and
 * checks the magic, LMDB's data version and that the file covers the last page in use. Returns 0
 * (absent or plausible), SZ_E_CORRUPT or SZ_E_FORMAT. */
static int precheck(const char *path, const sz_store_options_t *o) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        open_msg(o, "cannot read %s: %s", path, strerror(e));
        return -e;
    }
    struct stat st;
    uint8_t m0[160], m1[160];
    int rc = SZ_E_CORRUPT;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(m0) ||
        pread(fd, m0, sizeof(m0), 0) != (ssize_t)sizeof(m0)) {
        open_msg(o, "%s is empty or truncated; %s", path,
                 "it is not an archive: restore it from a backup or move it away");
        goto out;
    }
    uint32_t magic, version, psize;
    memcpy(&magic, m0 + 16, 4);
    memcpy(&version, m0 + 20, 4);
    memcpy(&psize, m0 + 40, 4);
    if (magic != 0xBEEFC0DEu) {
        open_msg(o, "%s is not an LMDB data file (bad magic); %s", path,
                 "is this the right folder? it is not a samizdat archive");
        goto out;
    }
    if (version != 1) {
        open_msg(o, "%s uses LMDB data version %s; this build reads version 1", path,
                 version == 0 ? "0" : "other");
        rc = SZ_E_FORMAT;
        goto out;
    }
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) != 0 ||
        st.st_size < (off_t)psize * 2 || pread(fd, m1, sizeof(m1), psize) != (ssize_t)sizeof(m1)) {
        open_msg(o, "%s is truncated or damaged (page size or meta pages); %s", path,
                 "restore it from a backup");
        goto out;
    }
    uint64_t last0, last1, txn0, txn1;
    uint32_t magic1;
    memcpy(&magic1, m1 + 16, 4);
    memcpy(&last0, m0 + 136, 8);
    memcpy(&txn0, m0 + 144, 8);
    memcpy(&last1, m1 + 136, 8);
    memcpy(&txn1, m1 + 144, 8);
    uint64_t last = (magic1 == 0xBEEFC0DEu && txn1 > txn0) ? last1 : last0;
    if ((uint64_t)st.st_size < (last + 1) * psize) {
        open_msg(o, "%s is truncated: its pages run past the end of the file; %s", path,
                 "restore it from a backup");
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

static int open_dbs(sz_store_t *s, sz__txn_t *t, unsigned create) {
    static const struct {
        const char *name;
        unsigned flags;
        size_t off;
    } dbs[] = {
        {"log", 0, offsetof(sz_store_t, log)},
        {"byhash", 0, offsetof(sz_store_t, byhash)},
        {"heads", MDB_DUPSORT | MDB_DUPFIXED, offsetof(sz_store_t, heads)},
        {"members", MDB_DUPSORT | MDB_DUPFIXED, offsetof(sz_store_t, members)},
        {"recnos", 0, offsetof(sz_store_t, recnos)},
        {"merkle", 0, offsetof(sz_store_t, merkle)},
    };
    for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
        MDB_dbi *dbi = (MDB_dbi *)((char *)s + dbs[i].off);
        int rc = mdb_dbi_open(t->txn, dbs[i].name, dbs[i].flags | create, dbi);
        if (rc != 0)
            return sz__txn_fail(t, sz__lmdb_err(rc), rc);
    }
    return 0;
}

/* Reads the format record; creates the archive when the environment is brand new. Sets *migrate
 * (and opens nothing more) for a format-1 store. */
static int check_format(sz_store_t *s, sz__txn_t *t, const char *path, const sz_store_options_t *o,
                        int *migrate) {
    int rc = mdb_dbi_open(t->txn, "meta", 0, &s->meta);
    if (rc == MDB_NOTFOUND) {
        MDB_dbi main;
        MDB_stat st;
        rc = mdb_dbi_open(t->txn, NULL, 0, &main);
        if (rc == 0)
            rc = mdb_stat(t->txn, main, &st);
        if (rc != 0)
            return sz__txn_fail(t, sz__lmdb_err(rc), rc);
        if (st.ms_entries > 0) {
            open_msg(o, "%s holds an LMDB database that is not a samizdat archive; %s", path,
                     "point --data at an empty or samizdat folder");
            return sz__txn_fail(t, SZ_E_FORMAT, 0);
        }
        rc = mdb_dbi_open(t->txn, "meta", MDB_CREATE, &s->meta);
        if (rc != 0)
            return sz__txn_fail(t, sz__lmdb_err(rc), rc);
        uint8_t fmt[sizeof(SZ_STORE_MAGIC) - 1 + 4];
        memcpy(fmt, SZ_STORE_MAGIC, sizeof(SZ_STORE_MAGIC) - 1);
        sz_be32_put(fmt + sizeof(SZ_STORE_MAGIC) - 1, SZ_STORE_FORMAT);
        MDB_val k = {6, "format"}, v = {sizeof(fmt), fmt};
        sz__txn_put(t, s->meta, &k, &v, 0);
        return open_dbs(s, t, MDB_CREATE);
    }
    if (rc != 0) {
        if (rc == MDB_INCOMPATIBLE)
            open_msg(o, "%s holds an LMDB database that is not a samizdat archive; %s", path,
                     "point --data at an empty or samizdat folder");
        return sz__txn_fail(t, sz__lmdb_err(rc), rc);
    }
    MDB_val k = {6, "format"}, v;
    rc = sz__txn_get(t, s->meta, &k, &v);
    size_t ml = sizeof(SZ_STORE_MAGIC) - 1;
    if (rc == SZ_E_NOT_FOUND ||
        (rc == 0 && (v.mv_size != ml + 4 || memcmp(v.mv_data, SZ_STORE_MAGIC, ml) != 0))) {
        open_msg(o, "%s holds an LMDB database that is not a samizdat archive%s", path,
                 " (no samizdat format record)");
        return sz__txn_fail(t, SZ_E_FORMAT, 0);
    }
    if (rc != 0)
        return rc;
    uint32_t version = sz_be32_get((const uint8_t *)v.mv_data + ml);
    if (version == 1) {
        *migrate = 1; /* the caller migrates it, outside this transaction */
        return 0;
    }
    if (version != SZ_STORE_FORMAT) {
        char num[16];
        snprintf(num, sizeof(num), "%u", version);
        if (version > SZ_STORE_FORMAT)
            open_msg(o,
                     "%s was written in store format %s, newer than this samizdatd reads (2); "
                     "upgrade samizdatd",
                     path, num);
        else
            open_msg(o, "%s uses unknown store format %s", path, num);
        return sz__txn_fail(t, SZ_E_FORMAT, 0);
    }
    return open_dbs(s, t, MDB_CREATE);
}

/* Format 1 kept each record entry in a database of its own, "records", keyed by record id. Format
 * 2 keeps it in the byhash value of the record's first version, whose key is the same id, and only
 * once the record has more than that version (see STORE.md). One write transaction moves every
 * entry and drops "records", so a crash leaves the store in format 1 or in format 2, never between.
 */
static int migrate_from_1(sz_store_t *s, const char *path, const sz_store_options_t *o) {
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return SZ_E_STORE;
    /* Room for a rewritten copy of byhash and records beside the old pages. */
    if (sz__grow_map(s, 2 * (info.me_last_pgno + 1) * (size_t)st.ms_psize + (1u << 20), 0) != 0)
        return SZ_E_NO_SPACE;
    sz__txn_t t = {0};
    int rc = sz__txn_begin(&t, s->env, 0);
    if (rc != 0)
        return rc;
    MDB_dbi records;
    MDB_cursor *c = NULL;
    /* Handles opened in the aborted format check are gone: open them here. */
    rc = mdb_dbi_open(t.txn, "records", 0, &records);
    if (rc == 0)
        rc = mdb_dbi_open(t.txn, "byhash", 0, &s->byhash);
    if (rc == 0)
        rc = mdb_dbi_open(t.txn, "meta", 0, &s->meta);
    if (rc == 0)
        rc = mdb_cursor_open(t.txn, records, &c);
    if (rc != 0) {
        sz__txn_fail(&t, sz__lmdb_err(rc), rc);
        goto out;
    }
    MDB_val k, v;
    int r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    for (; r == 0 && t.err == 0; r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        MDB_val bv;
        sz__recval_t rv, implied;
        if (k.mv_size != 32 || sz__recval_decode(&rv, &v) != 0 ||
            sz__txn_get(&t, s->byhash, &k, &bv) != 0 || bv.mv_size != SZ__BYHASH_LEN ||
            sz__record_decode(&implied, &k, &bv) != 0) {
            sz__txn_fail(&t, SZ_E_CORRUPT, 0);
            break;
        }
        /* A record still at its first version needs nothing: its entry is implied. */
        if (memcmp(&rv, &implied, sizeof rv) == 0)
            continue;
        uint8_t buf[SZ__BYHASH_REC_LEN];
        memcpy(buf, bv.mv_data, SZ__BYHASH_LEN);
        memcpy(buf + SZ__BYHASH_LEN, v.mv_data, SZ__RECVAL_LEN);
        MDB_val nv = {sizeof buf, buf};
        sz__txn_put(&t, s->byhash, &k, &nv, 0);
    }
    if (r != 0 && r != MDB_NOTFOUND)
        sz__txn_fail(&t, sz__lmdb_err(r), r);
    mdb_cursor_close(c);
    if (t.err == 0 && (rc = mdb_drop(t.txn, records, 1)) != 0)
        sz__txn_fail(&t, sz__lmdb_err(rc), rc);
    if (t.err == 0) {
        uint8_t fmt[sizeof(SZ_STORE_MAGIC) - 1 + 4];
        memcpy(fmt, SZ_STORE_MAGIC, sizeof(SZ_STORE_MAGIC) - 1);
        sz_be32_put(fmt + sizeof(SZ_STORE_MAGIC) - 1, SZ_STORE_FORMAT);
        MDB_val fk = {6, "format"}, fv = {sizeof(fmt), fmt};
        sz__txn_put(&t, s->meta, &fk, &fv, 0);
    }
out:
    rc = sz__txn_commit(&t);
    if (rc != 0 && o != NULL && o->errbuf != NULL)
        snprintf(o->errbuf, o->errlen,
                 "cannot migrate the archive in %s from store format 1 to 2: %s; it is unchanged",
                 path, t.lmdb_rc ? sz__lmdb_advice(t.lmdb_rc) : sz_strerror(rc));
    return rc;
}

/* Loads the cached counters and the Merkle frontier from a committed state. */
static int load_state(sz_store_t *s, sz__txn_t *t) {
    MDB_cursor *c;
    MDB_val k, v;
    s->next_seq = 0;
    s->next_recno = 1;
    if (sz__txn_cursor(t, s->log, &c) != 0)
        return t->err;
    int rc = sz__txn_cget(t, c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        s->next_seq = sz_be64_get(k.mv_data) + 1;
    mdb_cursor_close(c);
    if (sz__txn_cursor(t, s->recnos, &c) != 0)
        return t->err;
    rc = sz__txn_cget(t, c, &k, &v, MDB_LAST);
    if (rc == 0 && k.mv_size == 8)
        s->next_recno = sz_be64_get(k.mv_data) + 1;
    mdb_cursor_close(c);
    sz_merkle_frontier_init(&s->frontier);
    k.mv_size = 8;
    k.mv_data = "frontier";
    rc = sz__txn_get(t, s->meta, &k, &v);
    if (rc == 0) {
        if (sz_merkle_frontier_decode(&s->frontier, v.mv_data, v.mv_size) != 0)
            return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    } else if (rc != SZ_E_NOT_FOUND) {
        return rc;
    }
    if (s->frontier.size != s->next_seq) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "the Merkle log holds %llu leaves but the append log %llu entries",
                 (unsigned long long)s->frontier.size, (unsigned long long)s->next_seq);
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    }
    return t->err;
}

/* The index's resolver: a record's first-version time from its record entry, so the index needs
 * no id-keyed map of its own. */
static int first_created_of(void *ctx, MDB_txn *txn, const uint8_t id[static 32],
                            uint64_t *first_created) {
    sz__recval_t rv;
    int rc = sz__record_get(txn, ctx, id, &rv);
    if (rc != 0)
        return rc;
    *first_created = rv.first_created;
    return 0;
}

int sz_store_open(sz_store_t **out, const char *dir, const sz_store_options_t *opts) {
    *out = NULL;
    if (dir == NULL)
        return SZ_E_ARGUMENT;
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return SZ_E_ARGUMENT;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        open_msg(opts, "cannot create the data folder %s: %s", dir, strerror(e));
        return -e;
    }
    int rc = precheck(path, opts);
    if (rc != 0)
        return rc;

    sz_store_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->id = atomic_fetch_add(&next_store_id, 1);
    s->max_map = opts && opts->max_map ? opts->max_map : DEFAULT_MAX_MAP;
    size_t initial = opts && opts->initial_map ? opts->initial_map : DEFAULT_MAP;
    if (initial > s->max_map)
        initial = s->max_map;
    if (opts != NULL) {
        s->editor = opts->editor;
        s->editor_arg = opts->editor_arg;
    }
    pthread_mutex_init(&s->wlock, NULL);
    pthread_mutex_init(&s->readers_lock, NULL);
    /* Readers hold the map lock only for one short call; preferring the writer lets a map
     * resize through even under a steady stream of reads. */
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&s->maplock, &ra);
    pthread_rwlockattr_destroy(&ra);

    sz__txn_t t = {0};
    rc = mdb_env_create(&s->env);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(s->env, SZ__STORE_DBS + SZ_INDEX_DBS + SZ_FTS_DBS + 4);
    if (rc == 0)
        rc = mdb_env_set_mapsize(s->env, initial);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(s->env, 510);
    if (rc == 0)
        rc = mdb_env_open(s->env, dir, MDB_NOTLS | MDB_NORDAHEAD, 0600);
    if (rc != 0) {
        open_msg(opts, "cannot open the archive in %s: %s", dir, sz__lmdb_advice(rc));
        rc = sz__lmdb_err(rc);
        goto fail;
    }
    if (sz__grow_map(s, 0, 0) != 0) {
        rc = SZ_E_NO_SPACE;
        goto fail;
    }
    int migrate = 0;
    if ((rc = sz__txn_begin(&t, s->env, 0)) != 0)
        goto fail;
    check_format(s, &t, path, opts, &migrate);
    if (t.err == 0 && migrate) {
        sz__txn_abort(&t);
        if ((rc = migrate_from_1(s, path, opts)) != 0)
            goto fail;
        s->migrated_from = 1;
        migrate = 0;
        if ((rc = sz__txn_begin(&t, s->env, 0)) != 0)
            goto fail;
        check_format(s, &t, path, opts, &migrate);
        if (migrate) /* still format 1 after a committed migration: cannot be */
            sz__txn_fail(&t, SZ_E_CORRUPT, 0);
    }
    if (t.err == 0 && (rc = sz_index_open(&s->idx, t.txn)) != 0)
        sz__txn_fail(&t, rc, 0);
    if (t.err == 0)
        sz_index_set_resolver(s->idx, first_created_of, s);
    if (t.err == 0 && (rc = sz_fts_open(&s->fts, t.txn)) != 0)
        sz__txn_fail(&t, rc, 0);
    if (t.err == 0 && (rc = sz__safety_open(s, t.txn)) != 0)
        sz__txn_fail(&t, rc, 0);
    if (t.err == 0)
        load_state(s, &t);
    if (t.err != 0 && opts != NULL && opts->errbuf != NULL && opts->errbuf[0] == '\0')
        snprintf(opts->errbuf, opts->errlen, "cannot open the archive in %s: %s", dir,
                 t.lmdb_rc ? sz__lmdb_advice(t.lmdb_rc)
                           : (s->errmsg[0] ? s->errmsg : sz_strerror(t.err)));
    if ((rc = sz__txn_commit(&t)) != 0)
        goto fail;
    *out = s;
    return 0;
fail:
    sz__txn_abort(&t);
    sz_store_close(s);
    return rc;
}

unsigned sz_store_migrated_from(const sz_store_t *s) {
    return s->migrated_from;
}

void sz_store_close(sz_store_t *s) {
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nreaders; i++) {
        mdb_txn_abort(s->readers[i]->txn);
        pthread_mutex_destroy(&s->readers[i]->mu);
        free(s->readers[i]);
    }
    free(s->readers);
    /* This thread's slots may name the store; clear them so a later store reusing the memory
     * cannot be confused (ids are unique anyway). */
    for (int i = 0; i < TL_SLOTS; i++)
        if (tl_readers[i].store_id == s->id) {
            tl_readers[i].store_id = 0;
            tl_readers[i].r = NULL;
        }
    sz_index_close(s->idx);
    sz_fts_close(s->fts);
    if (s->env != NULL)
        mdb_env_close(s->env);
    pthread_mutex_destroy(&s->wlock);
    pthread_mutex_destroy(&s->readers_lock);
    pthread_rwlock_destroy(&s->maplock);
    free(s);
}

const char *sz_store_errmsg(const sz_store_t *s) {
    return s->errmsg;
}

/* ---- ingest ---- */

int sz_store_verify(sz_verified_t *out, const uint8_t *envelope, size_t len) {
    if (out == NULL || envelope == NULL)
        return SZ_E_ARGUMENT;
    int rc = sz_record_open(&out->rec, envelope, len, out->version_hash);
    if (rc != 0)
        return rc;
    if (out->rec.flags & SZ_FLAG_SEALED) /* ciphertext: rule 3 is the structure of SEALING.md */
        return sz_seal_parse(out->rec.body, out->rec.body_len, NULL);
    return sz_schema_validate(out->rec.kind, out->rec.body, out->rec.body_len, NULL);
}

typedef struct wctx_s {
    sz_store_t *s;
    sz__txn_t t;
    uint64_t next_seq;
    uint64_t next_recno;
    sz_merkle_frontier_t frontier;
} wctx_t;

/* Reads the envelope stored at seq (borrowed from the map until the next write). */
static int log_get(sz__txn_t *t, MDB_dbi log, uint64_t seq, MDB_val *v) {
    uint8_t k8[8];
    sz_be64_put(k8, seq);
    MDB_val k = {8, k8};
    int rc = sz__txn_get(t, log, &k, v);
    if (rc == SZ_E_NOT_FOUND)
        return sz__txn_fail(t, SZ_E_CORRUPT, 0); /* byhash names a seq the log lacks */
    return rc;
}

int sz__version_get(sz__txn_t *t, const sz_store_t *s, const uint8_t *hash, sz__byhash_t *b) {
    MDB_val k = {32, (void *)hash}, v;
    int rc = sz__txn_get(t, s->byhash, &k, &v);
    if (rc != 0)
        return rc;
    if (sz__byhash_decode(b, &v) != 0)
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    return 0;
}

/* Appends a new version: log, byhash, members and the Merkle tree. */
static int append_version(wctx_t *w, const sz_verified_t *v, const uint8_t *rid, uint64_t recno,
                          uint32_t gen, sz_put_result_t *r) {
    sz_store_t *s = w->s;
    uint64_t seq = w->next_seq;
    uint8_t k8[8];
    sz_be64_put(k8, seq);
    MDB_val k = {8, k8}, d = {v->rec.envelope_len, (void *)v->rec.envelope};
    sz__txn_put(&w->t, s->log, &k, &d, MDB_APPEND);

    sz__byhash_t b = {seq, recno, v->rec.created, gen,
                      (v->rec.flags & SZ_FLAG_SEALED) ? SZ__BH_SEALED : 0};
    if (v->rec.nparents == 0)
        b.flags |= SZ__BH_FIRST;
    /* A first version's entry is also its new record's (implied until an amendment): one small
     * random insert per new record. */
    uint8_t bv[SZ__BYHASH_LEN];
    sz__byhash_encode(bv, &b);
    MDB_val hk = {32, (void *)v->version_hash}, hv = {SZ__BYHASH_LEN, bv};
    sz__txn_put(&w->t, s->byhash, &hk, &hv, MDB_NOOVERWRITE);

    /* A first version is found through byhash under the record id; members lists the rest. */
    if (v->rec.nparents > 0) {
        MDB_val rk = {32, (void *)rid}, sv = {8, k8};
        sz__txn_put(&w->t, s->members, &rk, &sv, MDB_APPENDDUP);
    }

    uint8_t leaf[32];
    sz_merkle_node_t nodes[SZ_MERKLE_MAX_LEVELS];
    size_t nn = 0;
    sz_merkle_leaf_hash(leaf, v->version_hash, 32);
    if (sz_merkle_frontier_append(&w->frontier, leaf, nodes, &nn) != 0)
        return sz__txn_fail(&w->t, SZ_E_TOO_LARGE, 0);
    /* Level 0 (leaf hashes) is not stored: it is recomputed from the log when a proof needs it. */
    for (size_t i = 1; i < nn; i++) {
        uint8_t mk[9];
        sz__merkle_key(mk, nodes[i].level, nodes[i].index);
        MDB_val mkv = {9, mk}, mv = {32, nodes[i].hash};
        sz__txn_put(&w->t, s->merkle, &mkv, &mv, MDB_APPEND);
    }
    if (w->t.err != 0)
        return w->t.err;
    w->next_seq++;
    r->seq = seq;
    return 0;
}

int sz__txn_fail_module(sz__txn_t *t, int err) {
    return sz__txn_fail(t, err, err == SZ_E_NO_SPACE ? MDB_MAP_FULL : 0);
}

/* Decodes a stored envelope that was verified when it was stored. */
static int decode_stored(sz__txn_t *t, sz_record_t *rec, const MDB_val *v) {
    if (sz_record_decode(rec, v->mv_data, v->mv_size) != 0)
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    return 0;
}

static int put_first(wctx_t *w, const sz_verified_t *v, sz_put_result_t *r) {
    sz_store_t *s = w->s;
    const uint8_t *rid = v->version_hash;
    sz__recval_t rv = {0};
    rv.recno = w->next_recno;
    rv.first_created = v->rec.created;
    rv.cur_created = v->rec.created;
    rv.cur_seq = w->next_seq; /* append_version below takes this position */
    memcpy(rv.current, rid, 32);
    rv.generation = 0; /* RECORD.md: generation(first version) = 0 */
    rv.nversions = 1;
    rv.nheads = 1;
    uint8_t rk[8];
    sz_be64_put(rk, rv.recno);
    MDB_val nk = {8, rk}, nv = {32, (void *)rid};
    sz__txn_put(&w->t, s->recnos, &nk, &nv, MDB_APPEND);
    if (append_version(w, v, rid, rv.recno, 0, r) != 0)
        return w->t.err;
    int rc = sz_index_update(s->idx, w->t.txn, rid, v->rec.created, NULL, &v->rec);
    if (rc != 0)
        return sz__txn_fail_module(&w->t, rc);
    w->next_recno++;
    memcpy(r->record_id, rid, 32);
    r->flags |= SZ_PUT_NEW_RECORD | SZ_PUT_CURRENT;
    return 0;
}

static int put_later(wctx_t *w, const sz_verified_t *v, sz_put_result_t *r) {
    sz_store_t *s = w->s;
    const sz_record_t *rec = &v->rec;
    const uint8_t *rid = rec->record_id;
    uint32_t maxgen = 0;
    uint64_t precno = 0;
    int rc;
    for (unsigned i = 0; i < rec->nparents; i++) {
        sz__byhash_t pb;
        rc = sz__version_get(&w->t, s, rec->parents + 32 * i, &pb);
        if (rc == SZ_E_NOT_FOUND)
            return SZ_E_PARENT_MISSING;
        if (rc != 0)
            return rc;
        if (i > 0 && pb.recno != precno)
            return SZ_E_RECORD_ID; /* parents from two records */
        precno = pb.recno;
        if (pb.generation > maxgen)
            maxgen = pb.generation;
    }
    MDB_val k = {32, (void *)rid}, d;
    rc = sz__txn_get(&w->t, s->byhash, &k, &d);
    if (rc == SZ_E_NOT_FOUND)
        return SZ_E_RECORD_ID;
    if (rc != 0)
        return rc;
    sz__recval_t rv;
    sz__byhash_t fb; /* the first version's own entry, kept when the record entry is rewritten */
    rc = sz__record_decode(&rv, &k, &d);
    if (rc == SZ_E_NOT_FOUND)
        return SZ_E_RECORD_ID; /* a later version's hash named as the record id */
    if (rc != 0 || sz__byhash_decode(&fb, &d) != 0)
        return sz__txn_fail(&w->t, SZ_E_CORRUPT, 0);
    if (rv.recno != precno)
        return SZ_E_RECORD_ID;

    /* Amend rights: the first version's author, or an editor by the node's policy. */
    MDB_val fe;
    sz__logent_t fent; /* the first version may have been purged: its stub keeps kind and author */
    if (log_get(&w->t, s->log, fb.seq, &fe) != 0)
        return w->t.err;
    if (sz__logent_decode(&fent, fe.mv_data, fe.mv_size, 0) != 0)
        return sz__txn_fail(&w->t, SZ_E_CORRUPT, 0);
    const sz_record_t first = fent.rec;
    if (first.kind != rec->kind)
        return SZ_E_KIND;
    if (memcmp(first.author, rec->author, 32) != 0) {
        uint8_t fa[32];
        memcpy(fa, first.author, 32);
        if (s->editor == NULL || !s->editor(s->editor_arg, rid, fa, rec->author))
            return SZ_E_DENIED;
    }

    uint32_t gen = maxgen + 1;
    int cur_was_parent = 0;
    uint32_t removed = 0;
    for (unsigned i = 0; i < rec->nparents; i++)
        if (memcmp(rec->parents + 32 * i, rv.current, 32) == 0)
            cur_was_parent = 1;
    /* heads holds entries only while a record is in conflict; a single head is the current
     * version, kept in the record entry. */
    MDB_val nh = {32, (void *)v->version_hash};
    if (rv.nheads == 1) {
        removed = (uint32_t)cur_was_parent;
        if (!cur_was_parent) {
            MDB_val ch = {32, rv.current};
            sz__txn_put(&w->t, s->heads, &k, &ch, 0);
            sz__txn_put(&w->t, s->heads, &k, &nh, 0);
        }
    } else {
        for (unsigned i = 0; i < rec->nparents; i++) {
            MDB_val hv = {32, (void *)(rec->parents + 32 * i)};
            rc = sz__txn_del(&w->t, s->heads, &k, &hv);
            if (rc == 0)
                removed++;
            else if (rc != SZ_E_NOT_FOUND)
                return rc;
        }
        if (removed > rv.nheads)
            return sz__txn_fail(&w->t, SZ_E_CORRUPT, 0);
        if (rv.nheads - removed > 0)
            sz__txn_put(&w->t, s->heads, &k, &nh, 0);
    }
    if (w->t.err != 0)
        return w->t.err;

    /* The order is total, and a child's generation exceeds its parents', so when the current
     * version is a parent the new version wins against it and hence against every other head;
     * otherwise only the new version and the current one can be the winner. */
    int wins = cur_was_parent || sz__version_cmp(gen, rec->created, v->version_hash, rv.generation,
                                                 rv.cur_created, rv.current) > 0;
    uint8_t *old_env = NULL;
    sz_record_t old;
    int old_purged = 0;
    if (wins) {
        sz__byhash_t cb;
        MDB_val ce;
        if (sz__version_get(&w->t, s, rv.current, &cb) != 0 ||
            log_get(&w->t, s->log, cb.seq, &ce) != 0)
            return sz__txn_fail(&w->t, SZ_E_CORRUPT, 0);
        /* Values in a write transaction move when pages are written; keep our own copy. */
        old_env = malloc(ce.mv_size);
        if (old_env == NULL)
            return sz__txn_fail(&w->t, -ENOMEM, 0);
        memcpy(old_env, ce.mv_data, ce.mv_size);
        MDB_val oc = {ce.mv_size, old_env};
        if (sz__logent_is_stub(old_env, ce.mv_size))
            old_purged = 1; /* its index entries went with its body */
        else if (decode_stored(&w->t, &old, &oc) != 0)
            goto out;
        memcpy(rv.current, v->version_hash, 32);
        rv.generation = gen;
        rv.cur_created = rec->created;
        rv.cur_seq = w->next_seq;
    }
    rv.nversions++;
    rv.nheads = rv.nheads - removed + 1;
    uint8_t buf[SZ__BYHASH_REC_LEN];
    sz__byhash_encode(buf, &fb);
    sz__recval_encode(buf + SZ__BYHASH_LEN, &rv);
    d.mv_size = sizeof(buf);
    d.mv_data = buf;
    sz__txn_put(&w->t, s->byhash, &k, &d, 0);
    if (append_version(w, v, rid, rv.recno, gen, r) != 0)
        goto out;
    if (wins) {
        rc =
            sz_index_update(s->idx, w->t.txn, rid, rv.first_created, old_purged ? NULL : &old, rec);
        if (rc != 0)
            sz__txn_fail_module(&w->t, rc);
        r->flags |= SZ_PUT_CURRENT;
    }
    if (rv.nheads > 1)
        r->flags |= SZ_PUT_CONFLICT;
    memcpy(r->record_id, rid, 32);
out:
    free(old_env);
    return w->t.err;
}

/* Stores one version in the open write transaction. Returns 0, a per-version refusal (nothing of
 * it written), or the transaction's sticky error. */
static int put_one(wctx_t *w, const sz_verified_t *v, sz_put_result_t *r) {
    sz__byhash_t b;
    memcpy(r->version_hash, v->version_hash, 32);
    r->flags = 0;
    int rc = sz__version_get(&w->t, w->s, v->version_hash, &b);
    if (rc == 0) {
        MDB_val rk, rv;
        uint8_t k8[8];
        sz_be64_put(k8, b.recno);
        rk.mv_size = 8;
        rk.mv_data = k8;
        if (sz__txn_get(&w->t, w->s->recnos, &rk, &rv) != 0 || rv.mv_size != 32)
            return sz__txn_fail(&w->t, SZ_E_CORRUPT, 0);
        memcpy(r->record_id, rv.mv_data, 32);
        if (b.flags & SZ__BH_PURGED)
            return SZ_E_RETRACTED; /* held as a hash only: its body never comes back */
        r->seq = b.seq;
        r->flags = SZ_PUT_EXISTED;
        return 0;
    }
    if (rc != SZ_E_NOT_FOUND)
        return rc;
    /* Tombstones, revoked keys, and who may retract or revoke (safety.c). */
    if ((rc = sz__safety_admit(w->s, &w->t, v)) != 0)
        return rc;
    rc = v->rec.nparents == 0 ? put_first(w, v, r) : put_later(w, v, r);
    if (rc == 0 && (v->rec.kind == SZ_KIND_RETRACTION || v->rec.kind == SZ_KIND_REVOCATION))
        rc = sz__safety_apply(w->s, &w->t, v);
    return rc;
}

/* One attempt at the whole batch in one write transaction. */
static int put_attempt(sz_store_t *s, const sz_verified_t *v, size_t n, sz_put_result_t *res,
                       unsigned char *state) {
    wctx_t w = {.s = s};
    w.next_seq = s->next_seq;
    w.next_recno = s->next_recno;
    w.frontier = s->frontier;
    if (sz__txn_begin(&w.t, s->env, 0) != 0)
        return txn_result(s, &w.t, "starting a write");
    /* state: 0 = to do, 1 = done, 2 = refused before (verification). Versions whose parent comes
     * later in the batch are retried in further passes while any pass makes progress. */
    for (size_t i = 0; i < n; i++)
        if (state[i] == 1)
            state[i] = 0;
    int progress = 1, pending = 1;
    while (progress && pending && w.t.err == 0) {
        progress = pending = 0;
        for (size_t i = 0; i < n && w.t.err == 0; i++) {
            if (state[i] != 0)
                continue;
            int rc = put_one(&w, &v[i], &res[i]);
            if (w.t.err != 0)
                break;
            if (rc == SZ_E_PARENT_MISSING) {
                res[i].err = rc;
                pending = 1;
                continue;
            }
            res[i].err = rc;
            state[i] = 1;
            progress = 1;
        }
    }
    if (w.t.err == 0 && w.frontier.size != s->frontier.size) {
        uint8_t fb[SZ_MERKLE_FRONTIER_MAX_LEN];
        size_t fl = 0;
        sz_merkle_frontier_encode(&w.frontier, fb, sizeof(fb), &fl);
        MDB_val k = {8, "frontier"}, d = {fl, fb};
        sz__txn_put(&w.t, s->meta, &k, &d, 0);
    }
    if (sz__txn_commit(&w.t) != 0) {
        for (size_t i = 0; i < n; i++)
            if (state[i] != 2)
                state[i] = 1;
        return txn_result(s, &w.t, "writing to the archive");
    }
    s->next_seq = w.next_seq;
    s->next_recno = w.next_recno;
    s->frontier = w.frontier;
    sz__readers_reset(s);
    return 0;
}

int sz_store_put_verified(sz_store_t *s, const sz_verified_t *v, size_t n,
                          sz_put_result_t *results) {
    if (s == NULL || (n > 0 && (v == NULL || results == NULL)) || n > SZ_STORE_MAX_BATCH)
        return SZ_E_ARGUMENT;
    unsigned char *state = calloc(n ? n : 1, 1);
    if (state == NULL)
        return -ENOMEM;
    size_t need = 1 << 20;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        memcpy(results[i].version_hash, v[i].version_hash, 32);
        /* Worst case per version: its bytes twice (log page, copy-on-write) and a few fresh
         * pages in each B-tree it touches. */
        need += v[i].rec.envelope_len * 2 + 16 * 4096;
    }
    pthread_mutex_lock(&s->wlock);
    s->errmsg[0] = '\0';
    int rc = sz__grow_map(s, need, 0);
    if (rc == 0) {
        rc = put_attempt(s, v, n, results, state);
        if (rc == SZ_E_NO_SPACE && s->last_lmdb_rc == MDB_MAP_FULL) {
            /* MDB_MAP_FULL despite the estimate (or an earlier failure): grow once more and
             * retry; a disk that is really full fails again, with nothing stored. */
            if (sz__grow_map(s, need, 1) == 0) {
                s->errmsg[0] = '\0';
                rc = put_attempt(s, v, n, results, state);
            }
        }
    }
    if (rc != 0 && s->errmsg[0] == '\0')
        snprintf(s->errmsg, sizeof(s->errmsg), "writing to the archive failed: %s",
                 rc == SZ_E_NO_SPACE ? sz__lmdb_advice(MDB_MAP_FULL) : sz_strerror(rc));
    pthread_mutex_unlock(&s->wlock);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            results[i].err = rc;
    free(state);
    return rc;
}

int sz_store_put_batch(sz_store_t *s, const uint8_t *const *envelopes, const size_t *lens, size_t n,
                       sz_put_result_t *results) {
    if (s == NULL || (n > 0 && (envelopes == NULL || lens == NULL || results == NULL)) ||
        n > SZ_STORE_MAX_BATCH)
        return SZ_E_ARGUMENT;
    sz_verified_t *v = calloc(n ? n : 1, sizeof(*v));
    size_t *map = calloc(n ? n : 1, sizeof(*map));
    sz_put_result_t *sub = calloc(n ? n : 1, sizeof(*sub));
    if (v == NULL || map == NULL || sub == NULL) {
        free(v);
        free(map);
        free(sub);
        return -ENOMEM;
    }
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&results[i], 0, sizeof(results[i]));
        int rc = envelopes[i] ? sz_store_verify(&v[nv], envelopes[i], lens[i]) : SZ_E_ARGUMENT;
        if (rc != 0) {
            results[i].err = rc;
            if (envelopes[i] != NULL && lens[i] > 0)
                sz_sha256(results[i].version_hash, envelopes[i], lens[i]);
            continue;
        }
        map[nv++] = i;
    }
    int rc = sz_store_put_verified(s, v, nv, sub);
    for (size_t j = 0; j < nv; j++)
        results[map[j]] = sub[j];
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            results[i].err = rc;
    free(v);
    free(map);
    free(sub);
    return rc;
}
