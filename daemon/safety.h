/* Witness safety in the store: retraction (kind 3) purges record bodies and leaves tombstones,
 * revocation (kind 4) refuses a key's new records, and compaction rewrites the data file so purged
 * bytes leave the disk. proto/RECORD.md section 7 states the rules; daemon/STORE.md the databases
 * ("retracted", "revoked") and the purged log entry ("stub") layout.
 *
 * The sz__ functions are internal hooks that store.c, store_read.c and maint.c call inside their
 * transactions; the sz_ functions are the public contract. */
#ifndef SZ_SAFETY_H
#define SZ_SAFETY_H

#include <stddef.h>
#include <stdint.h>

#include "lmdb_txn.h"
#include "record.h"
#include "store.h"

/* A purged log entry: "SZX" | 0x01 | version hash (32) | retraction hash (32) | kind | flags |
 * created u64 | record_id field (32) | nparents | parents (32 each) | author (32). */
#define SZ__STUB_MAGIC "SZX"
#define SZ__STUB_FORMAT 1
#define SZ__STUB_LEN(n) (143u + 32u * (unsigned)(n))

/* One log value decoded: a full envelope, or the stub a purge left. rec borrows from the value; for
 * a stub it carries the header fields only (body NULL, body_len 0, signature and envelope NULL). */
typedef struct sz__logent_s {
    int purged;
    sz_record_t rec;
    uint8_t version_hash[32]; /* stub: stored; envelope: computed when asked */
    uint8_t retraction[32];   /* stub only: the retraction that purged it */
} sz__logent_t;

/* Decodes a log value (borrowed). want_hash: compute the version hash of a full envelope. Returns
 * 0 or SZ_E_CORRUPT. */
int sz__logent_decode(sz__logent_t *e, const void *data, size_t len, int want_hash);

/* 1 when a log value is a purged stub. */
int sz__logent_is_stub(const void *data, size_t len);

/* Opens (creating) the safety databases in the store's open transaction. */
int sz__safety_open(sz_store_t *s, MDB_txn *txn);

/* Before a new version v (not yet stored) is written in t: SZ_E_RETRACTED when an authorised
 * retraction names it, SZ_E_REVOKED when its author is revoked, SZ_E_DENIED or SZ_E_RECORD_ID for
 * a retraction or revocation its author may not issue; 0 to go on; or t's sticky error. */
int sz__safety_admit(sz_store_t *s, sz__txn_t *t, const sz_verified_t *v);

/* After v was newly stored in t: a retraction records its tombstones and purges the stored
 * versions it names; a revocation records the revoked key. Returns 0 or t's sticky error. */
int sz__safety_apply(sz_store_t *s, sz__txn_t *t, const sz_verified_t *v);

/* ---- public ---- */

/* When version hash was retracted on this node (it is purged, or refused on arrival), writes the
 * retraction's version hash to retraction (may be NULL) and returns 1; 0 when not; or a negative
 * store error. */
int sz_store_retracted_by(sz_store_t *s, const uint8_t hash[static 32], uint8_t retraction[32]);

/* 1 when key (borrowed) is revoked on this node (and writes the revocation's hash to revocation,
 * which may be NULL), 0 when not, or a negative store error. */
int sz_store_is_revoked(sz_store_t *s, const uint8_t key[static 32], uint8_t revocation[32]);

/* samizdatd --compact DIR: with the node stopped (it takes DIR/samizdatd.lock and refuses with
 * SZ_E_STATE while a node holds it), copies the archive with LMDB's compacting copy into a new
 * folder inside dir, syncs it and renames it over DIR/data.mdb, so pages that held purged bodies
 * are gone from the disk. On failure the original is untouched and errbuf (may be NULL) gets a
 * sentence. *before and *after (may be NULL) get the file sizes. Returns 0 or a negative error. */
int sz_compact(const char *dir, char *errbuf, size_t errlen, uint64_t *before, uint64_t *after);

#endif
