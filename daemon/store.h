/* The archive store: signed record versions in one LMDB environment, their DAG and heads, the
 * deterministic current version of each record, an append log with an RFC 6962 Merkle tree over
 * it, and the hooks that keep the secondary indexes (index.h) and full-text search (fts.h) up to
 * date. daemon/STORE.md documents every database, key and value layout and the on-disk format.
 *
 * Threads: one sz_store_t is shared by every thread. Writes (sz_store_put_*, sz_store_fts_catchup)
 * are serialised inside; reads run concurrently on any thread, each through a read transaction
 * that is kept per thread and renewed per call, so readers never block the writer. Nothing is
 * acknowledged before its write transaction has been committed to disk. */
#ifndef SZ_STORE_H
#define SZ_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fts.h"
#include "index.h"
#include "merkle.h"
#include "record.h"

#define SZ_STORE_FORMAT 2 /* on-disk format version this code writes (it migrates format 1) */
#define SZ_STORE_MAGIC "samizdat-store"
#define SZ_STORE_MAX_BATCH 100000 /* records per put call */

typedef struct sz_store_s sz_store_t;

/* The "editor" predicate of the node's policy: returns 1 when author (32 bytes, borrowed) may
 * write a new version of record_id although it is not the record's original author (first_author),
 * 0 otherwise. Called inside the store's write path, so it must be quick and must not call back
 * into the store. */
typedef int (*sz_store_editor_cb)(void *arg, const uint8_t record_id[32],
                                  const uint8_t first_author[32], const uint8_t author[32]);

typedef struct sz_store_options_s {
    size_t initial_map;        /* bytes; 0 = 64 MiB. The map grows by doubling, as needed. */
    size_t max_map;            /* bytes; 0 = 1 TiB. Past it writes fail with SZ_E_NO_SPACE. */
    sz_store_editor_cb editor; /* NULL: only the original author may add versions */
    void *editor_arg;
    char *errbuf;  /* optional, borrowed: receives a sentence saying why open failed */
    size_t errlen; /* size of errbuf */
} sz_store_options_t;

/* Opens (creating if needed, mode 0700) the archive in the folder dir (borrowed). opts may be NULL
 * for defaults. Refuses a folder whose data.mdb is not an LMDB file or is truncated (SZ_E_CORRUPT),
 * holds an LMDB environment that is not a samizdat archive, or an archive of a newer or unknown
 * format (SZ_E_FORMAT); the sentence in opts->errbuf says which and what to do. On success *out
 * is a store the caller owns and frees with sz_store_close(). */
int sz_store_open(sz_store_t **out, const char *dir, const sz_store_options_t *opts);

/* Closes the store. Every thread must have finished its calls. NULL is ignored. */
void sz_store_close(sz_store_t *s);

/* The store format this open migrated from (STORE.md), or 0 when it was already current. */
unsigned sz_store_migrated_from(const sz_store_t *s);

/* Returns a sentence about the last write failure (full disk, damaged file), or "". The string
 * belongs to the store and changes with the next write. */
const char *sz_store_errmsg(const sz_store_t *s);

/* ---- Ingest ---- */

#define SZ_PUT_EXISTED 0x01u    /* the version was already stored (idempotent success) */
#define SZ_PUT_CURRENT 0x02u    /* it became the current version of its record */
#define SZ_PUT_NEW_RECORD 0x04u /* it is the first version of a record new to this node */
#define SZ_PUT_CONFLICT 0x08u   /* after it, the record has more than one head */

typedef struct sz_put_result_s {
    int err;        /* 0, or why this one version was refused */
    unsigned flags; /* SZ_PUT_* (when err == 0) */
    uint64_t seq;   /* its position in the append log (when err == 0) */
    uint8_t version_hash[32];
    uint8_t record_id[32]; /* valid when err == 0 */
} sz_put_result_t;

/* One version decoded and verified by sz_store_verify(), ready for sz_store_put_verified(). The
 * record borrows from the envelope bytes the caller keeps alive. */
typedef struct sz_verified_s {
    sz_record_t rec;
    uint8_t version_hash[32];
} sz_verified_t;

/* Checks the validity rules of RECORD.md section 7 that need no stored data (structure,
 * signature, and the schema of a non-sealed body) for one untrusted envelope (borrowed), into
 * out, which borrows from it. Pure CPU, no store access: run it on any thread, for example the
 * libuv thread pool. Returns 0, a record error (sz_record_open) or a schema error (SZ_E_UTF8,
 * SZ_E_JSON, SZ_E_SCHEMA). */
int sz_store_verify(sz_verified_t *out, const uint8_t *envelope, size_t len);

/* Stores a batch of untrusted envelopes (all borrowed): each is verified first, outside the write
 * transaction, then all valid ones are written in ONE transaction. results (borrowed, n entries)
 * says per version what happened: 0 (new, or SZ_PUT_EXISTED for a duplicate), or the refusal:
 * any record decode/signature error, SZ_E_PARENT_MISSING (a parent is neither stored nor in this
 * batch; nothing is stored for it), SZ_E_RECORD_ID (the record id field does not name the
 * parents' record), SZ_E_KIND (not the kind of the record's first version), SZ_E_DENIED (not the
 * original author and not an editor). Versions may come in any order within a batch. Returns 0 once
 * the transaction is committed (then every result with err == 0 is durable), or a store-level error
 * (SZ_E_NO_SPACE, SZ_E_CORRUPT, ...) in which case nothing of this batch was stored and every
 * result's err holds that error. */
int sz_store_put_batch(sz_store_t *s, const uint8_t *const *envelopes, const size_t *lens, size_t n,
                       sz_put_result_t *results);

/* As sz_store_put_batch() for versions already checked by sz_store_verify() (borrowed). */
int sz_store_put_verified(sz_store_t *s, const sz_verified_t *v, size_t n,
                          sz_put_result_t *results);

/* ---- Reads (any thread) ---- */

/* Copies the envelope of version hash into a malloc'd buffer the caller frees with free().
 * Returns 0 or SZ_E_NOT_FOUND. */
int sz_store_get_version(sz_store_t *s, const uint8_t hash[static 32], uint8_t **envelope,
                         size_t *len);

/* Writes the append log position (= Merkle leaf index) of version hash to *seq, for inclusion
 * proofs asked by hash. Returns 0 or SZ_E_NOT_FOUND. */
int sz_store_version_seq(sz_store_t *s, const uint8_t hash[static 32], uint64_t *seq);

/* A record as this node knows it. Returned by sz_store_get_record(); the caller owns it and frees
 * it with sz_store_record_free(). */
typedef struct sz_store_record_s {
    uint8_t record_id[32];
    uint64_t recno;         /* local record number (full-text document number) */
    uint64_t first_created; /* created time of the first version */
    uint32_t generation;    /* generation of the current version */
    uint32_t nversions;
    uint8_t current[32];  /* the current version's hash */
    size_t nheads;        /* more than one: conflicting heads, all listed below */
    uint8_t (*heads)[32]; /* the current version first, then the others by the same rule */
    uint8_t *envelope;    /* the current version's envelope */
    size_t envelope_len;
} sz_store_record_t;

/* Looks up record_id. Returns 0 with *out set, or SZ_E_NOT_FOUND, or -ENOMEM. */
int sz_store_get_record(sz_store_t *s, const uint8_t record_id[static 32], sz_store_record_t **out);
void sz_store_record_free(sz_store_record_t *r);

/* Looks up only the current version's hash and the generation of record_id: the fast path. */
int sz_store_get_current(sz_store_t *s, const uint8_t record_id[static 32],
                         uint8_t current[static 32], uint32_t *generation);

#define SZ_RESOLVE_RECORD 1  /* look among record ids */
#define SZ_RESOLVE_VERSION 2 /* look among version hashes */

/* Resolves a hex prefix (borrowed; 1 to 64 hex digits, either case) among record ids or version
 * hashes (what = SZ_RESOLVE_*) into out. Returns 0, SZ_E_NOT_FOUND, SZ_E_AMBIGUOUS, or
 * SZ_E_ARGUMENT for text that is not hex. */
int sz_store_resolve(sz_store_t *s, const char *prefix, int what, uint8_t out[static 32]);

/* Metadata of one stored version, passed to history and log callbacks. */
typedef struct sz_version_info_s {
    uint64_t seq; /* append log position */
    uint8_t version_hash[32];
    uint8_t record_id[32];
    uint32_t generation;
    const sz_record_t *rec; /* decoded envelope, borrowed for the call only */
    /* NULL, or (sz_store_log only) the hash of the retraction that purged this version: the
     * version's body is gone, so rec is then that retraction's envelope, the bytes this node can
     * give for the log position (version_hash, record_id and generation stay the purged
     * version's). History walks skip purged versions. */
    const uint8_t *purged_by;
} sz_version_info_t;

/* Return non-zero to stop the walk early (that value is returned by the walk). The callback runs
 * inside this thread's read transaction and must not call the store. */
typedef int (*sz_store_version_cb)(void *arg, const sz_version_info_t *v);

/* Calls cb for every version of record_id in append order, which is a topological order (parents
 * first). Returns 0, SZ_E_NOT_FOUND, a store error or cb's non-zero value. */
int sz_store_history(sz_store_t *s, const uint8_t record_id[static 32], sz_store_version_cb cb,
                     void *arg);

/* Calls cb for up to max versions of the append log from sequence number from (0 = start), in log
 * order, for replication. *next (may be NULL) gets the sequence number to resume from. */
int sz_store_log(sz_store_t *s, uint64_t from, size_t max, sz_store_version_cb cb, void *arg,
                 uint64_t *next);

typedef struct sz_store_stats_s {
    uint64_t versions; /* entries in the append log = Merkle tree size */
    uint64_t records;
    uint64_t fts_seq;    /* log entries the full-text index has caught up with */
    uint64_t map_size;   /* bytes currently mapped */
    uint64_t used_bytes; /* bytes of pages in use in data.mdb */
    uint8_t root[32];    /* Merkle root at size versions */
} sz_store_stats_t;

int sz_store_stats(sz_store_t *s, sz_store_stats_t *out);

/* ---- Indexes and full-text search ---- */

/* Runs a list query (index.h) over current versions. Same contract as sz_index_list(). */
int sz_store_list(sz_store_t *s, const sz_query_t *q, uint8_t (*ids)[32], size_t *n,
                  char *next_cursor);

/* Brings the full-text index up to date with at most max log entries (0 = all) in write
 * transactions of bounded size, each committing its checkpoint with its work. *done (may be NULL)
 * gets the number of log entries walked. Returns 0 or a store error. */
int sz_store_fts_catchup(sz_store_t *s, size_t max, uint64_t *done);

typedef struct sz_search_hit_s {
    uint8_t record_id[32];
    double score;
} sz_search_hit_t;

/* Full-text query (fts.h syntax). Writes up to max hits, best first, to hits (borrowed). */
int sz_store_search(sz_store_t *s, const char *query, sz_search_hit_t *hits, size_t max, size_t *n);

/* ---- Tamper-evident log (RFC 6962, SHA-256) ---- */

/* Writes the root of the tree over the first size log entries (size <= versions; 0 gives the
 * empty root) to root. Returns 0, SZ_E_ARGUMENT for a size beyond the log, or a store error. */
int sz_store_tree_root(sz_store_t *s, uint64_t size, uint8_t root[static 32]);

/* Writes the inclusion proof of leaf index (0-based log position) in the tree of the given size to
 * proof (caller's buffer, merkle.h layout) and its byte length to *proof_len. */
int sz_store_inclusion_proof(sz_store_t *s, uint64_t index, uint64_t size,
                             uint8_t proof[static SZ_MERKLE_MAX_INCLUSION_LEN], size_t *proof_len);

/* Writes the consistency proof between tree sizes old_size <= new_size (both <= versions). */
int sz_store_consistency_proof(sz_store_t *s, uint64_t old_size, uint64_t new_size,
                               uint8_t proof[static SZ_MERKLE_MAX_CONSISTENCY_LEN],
                               size_t *proof_len);

/* Fills th with the current tree size and root and timestamp (milliseconds since the epoch, chosen
 * by the caller) and signs it with node_sk (borrowed Ed25519 secret key, public key in its second
 * half; never copied). Returns 0 or an error of sz_tree_head_sign() or the store. */
int sz_store_tree_head(sz_store_t *s, const uint8_t node_sk[static 64], uint64_t timestamp,
                       sz_tree_head_t *th);

/* ---- Replication (store_sync.c; sync.c uses these) ---- */

/* What a node remembers about one peer's append log: entries below `next` have been taken in
 * (stored, or refused by local policy), and (verified_size, verified_root) is the peer's latest
 * signed tree head this node checked; the next head must be consistent with it. */
typedef struct sz_checkpoint_s {
    uint64_t next;
    uint64_t verified_size;
    uint8_t verified_root[32];
    uint64_t last_sync_ms; /* wall clock of the last completed pull, 0 = never */
} sz_checkpoint_t;

/* Reads the checkpoint of peer (borrowed key) into cp. Returns 0, SZ_E_NOT_FOUND (cp zeroed) or a
 * store error. */
int sz_store_checkpoint_get(sz_store_t *s, const uint8_t peer[static 32], sz_checkpoint_t *cp);

/* Writes (or deletes) peer's checkpoint in its own small write transaction. Callers write it only
 * after the versions it covers are committed, so it never claims more than the store holds. */
int sz_store_checkpoint_put(sz_store_t *s, const uint8_t peer[static 32],
                            const sz_checkpoint_t *cp);
int sz_store_checkpoint_del(sz_store_t *s, const uint8_t peer[static 32]);

/* 1 when version hash is stored, 0 when not, or a negative store error. */
int sz_store_has_version(sz_store_t *s, const uint8_t hash[static 32]);

/* Fills src (reconcile.h) with callbacks over the byhash database: the set of version hashes this
 * node holds, read in fresh read transactions per call. s must outlive every session using it. */
struct sz_recon_source_s;
void sz_store_recon_source(sz_store_t *s, struct sz_recon_source_s *src);

/* The reconciliation fingerprint (SYNC.md 3.2) of every version hash held, and their count: equal
 * on two nodes exactly when they hold the same set (up to fingerprint collisions). */
int sz_store_set_digest(sz_store_t *s, uint64_t *count, uint8_t fp[static 16]);

#endif
