/* Internals shared by store.c, store_read.c and maint.c. Not a public contract: the layouts here
 * are described for readers in STORE.md. */
#ifndef SZ_STORE_INT_H
#define SZ_STORE_INT_H

#include "encoding.h"
#include "fts.h"
#include "index.h"
#include "lmdb_txn.h"
#include "merkle.h"
#include "store.h"

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define SZ__STORE_DBS 7 /* meta, log, byhash, heads, members, recnos, merkle */

/* byhash value: seq u64 | recno u64 | created u64 | generation u32 | flags u32, all big-endian. */
#define SZ__BYHASH_LEN 32
#define SZ__BH_SEALED 0x01u /* the version's body is sealed */
#define SZ__BH_FIRST 0x02u  /* the record's first version */
#define SZ__BH_PURGED 0x04u /* reserved for retraction: body purged */

typedef struct sz__byhash_s {
    uint64_t seq;
    uint64_t recno;
    uint64_t created;
    uint32_t generation;
    uint32_t flags;
} sz__byhash_t;

/* The record entry: recno u64 | first_created u64 | cur_created u64 | cur_seq u64 |
 * current hash (32) | generation u32 | nversions u32 | nheads u32 | flags u32. In format 2 it
 * lives in the byhash value of the record's first version (key: the record id, flag
 * SZ__BH_FIRST). While the record has that one version, the entry is implied by the byhash fields
 * and the value stays SZ__BYHASH_LEN bytes; from the first amendment on, the entry follows them
 * (SZ__BYHASH_REC_LEN bytes). */
#define SZ__RECVAL_LEN 80
#define SZ__BYHASH_REC_LEN (SZ__BYHASH_LEN + SZ__RECVAL_LEN)

typedef struct sz__recval_s {
    uint64_t recno;
    uint64_t first_created;
    uint64_t cur_created;
    uint64_t cur_seq; /* log position of the current version */
    uint8_t current[32];
    uint32_t generation;
    uint32_t nversions;
    uint32_t nheads;
    uint32_t flags;
} sz__recval_t;

typedef struct sz__reader_s sz__reader_t;

struct sz_store_s {
    MDB_env *env;
    MDB_dbi meta, log, byhash, heads, members, recnos, merkle;
    sz_index_t *idx;
    sz_fts_t *fts;
    uint64_t id; /* unique per open store, names this store in per-thread reader slots */
    size_t max_map;
    sz_store_editor_cb editor;
    void *editor_arg;
    pthread_mutex_t wlock;    /* one writer at a time; guards the cached state below */
    pthread_rwlock_t maplock; /* shared by readers, exclusive while the map is resized */
    pthread_mutex_t readers_lock;
    sz__reader_t **readers; /* every thread's read transaction, aborted at close */
    size_t nreaders, capreaders;
    uint64_t next_seq;   /* next append log position = Merkle tree size */
    uint64_t next_recno; /* next record number */
    sz_merkle_frontier_t frontier;
    int last_lmdb_rc; /* LMDB or errno code of the last failed write transaction */
    char errmsg[256];
    MDB_dbi retracted, revoked;     /* safety.c: tombstones and revoked keys (STORE.md) */
    int any_retracted, any_revoked; /* 0 while those are empty: ingest skips their lookups */
    unsigned migrated_from;         /* format migrated at open, or 0 */
};

void sz__byhash_encode(uint8_t out[SZ__BYHASH_LEN], const sz__byhash_t *b);
int sz__byhash_decode(sz__byhash_t *b, const MDB_val *v);
void sz__recval_encode(uint8_t out[SZ__RECVAL_LEN], const sz__recval_t *r);
int sz__recval_decode(sz__recval_t *r, const MDB_val *v);
/* The record entry of the byhash entry (key, value): 0, SZ_E_NOT_FOUND for a later version (its
 * hash is no record id), or SZ_E_CORRUPT. */
int sz__record_decode(sz__recval_t *r, const MDB_val *key, const MDB_val *value);
/* Reads hash's byhash entry in the write transaction t: 0, SZ_E_NOT_FOUND, or t's sticky error
 * (a malformed entry sets SZ_E_CORRUPT). */
int sz__version_get(sz__txn_t *t, const sz_store_t *s, const uint8_t *hash, sz__byhash_t *b);
/* Fails t with err from the index or full-text module. Inside a write transaction their only
 * source of SZ_E_NO_SPACE is a full map, which the store answers by growing it, so that one is
 * recorded as MDB_MAP_FULL. Returns the sticky error. */
int sz__txn_fail_module(sz__txn_t *t, int err);
/* Reads the record entry of rid in txn: 0, SZ_E_NOT_FOUND, SZ_E_CORRUPT or an LMDB error. */
int sz__record_get(MDB_txn *txn, const sz_store_t *s, const uint8_t rid[32], sz__recval_t *r);
void sz__merkle_key(uint8_t key[9], unsigned level, uint64_t index);
int sz__version_cmp(uint32_t gen_a, uint64_t created_a, const uint8_t *hash_a, uint32_t gen_b,
                    uint64_t created_b, const uint8_t *hash_b);

/* Grows the map so that need more bytes fit under 80% of it (force: at least double it), up to
 * the configured maximum. Call with the writer lock held and no write transaction open. */
int sz__grow_map(sz_store_t *s, size_t need, int force);

/* Resets every parked read transaction, so none pins a snapshot older than the last commit. The
 * writer calls it after each commit. */
void sz__readers_reset(sz_store_t *s);

/* Gives this thread's read transaction on s at the latest commit (taking the map lock shared) /
 * parks it again. */
int sz__rd_begin(sz_store_t *s, MDB_txn **txn);
void sz__rd_end(sz_store_t *s, MDB_txn *txn);

/* Fetches the hash of perfect subtree (level, index) in txn: level 0 is recomputed from the log,
 * higher levels are read from the merkle database. For sz_merkle_get_cb, ctx is a
 * sz__merkle_ctx_t. */
typedef struct sz__merkle_ctx_s {
    sz_store_t *s;
    MDB_txn *txn;
} sz__merkle_ctx_t;
int sz__merkle_get(void *ctx, unsigned level, uint64_t index, uint8_t out[32]);

#endif
