/* Secondary indexes over the current version of every record, and list queries over them.
 *
 * The store (daemon/store.c) owns the LMDB environment and calls these functions inside its own
 * write transactions; this module owns its named databases (all prefixed "idx_") and their key
 * layouts, which daemon/INDEX.md documents (linked from STORE.md). Indexes describe each record's
 * CURRENT version only (RECORD.md's deterministic rule); ordering uses the record's first-version
 * created time and record id, which never change, so cursor tokens stay stable under concurrent
 * writes. */
#ifndef SZ_INDEX_H
#define SZ_INDEX_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define SZ_INDEX_DBS 8 /* named databases this module may open (4 are used) */
#define SZ_QUERY_MAX_FILTERS 8
#define SZ_QUERY_MAX_LIMIT 1000
#define SZ_CURSOR_TOKEN_LEN 96 /* text length of a cursor token, without NUL */

typedef struct sz_index_s sz_index_t;

/* One --where FIELD=VALUE filter. Fields: "kind", "author" (key text), "country", "period" (an EDTF
 * date or interval; matches cases and testimonies whose period or event date overlaps it),
 * "event_type", "pathway", "actor_role", "defection_type", "act_type", "witness_role",
 * "language", "case" (testimonies linked to that case id), "testimony" (cases linked to it), and
 * "attr.NAME" (a case's coded attribute, compared as text). Both strings are borrowed. */
typedef struct sz_filter_s {
    const char *field;
    const char *value;
} sz_filter_t;

typedef struct sz_query_s {
    unsigned kind; /* 0 = any */
    sz_filter_t filters[SZ_QUERY_MAX_FILTERS];
    unsigned nfilters;
    int newest_first;   /* order by first-version created time, then record id */
    unsigned limit;     /* 1..SZ_QUERY_MAX_LIMIT */
    const char *cursor; /* NULL, or a token returned by a previous page */
} sz_query_t;

/* Opens (creating if needed) this module's databases inside txn, which must be a write
 * transaction the caller commits. Returns a handle the caller owns and frees with
 * sz_index_close(), or a negative error. The handle may be shared by any number of threads
 * running sz_index_list() and sz_index_verify(), but sz_index_update() and sz_index_remove() keep
 * scratch space in it and must only be called by the single writer. */
int sz_index_open(sz_index_t **out, MDB_txn *txn);

/* Frees the handle (NULL is allowed); the databases and their contents stay. */
void sz_index_close(sz_index_t *idx);

/* Looks up the created time of record id's first version in txn: 0 and *first_created, or
 * SZ_E_NOT_FOUND for an unknown record, or a negative error. It may also answer for records that
 * are not indexed (retracted, not current); the index checks that itself. It is called only by
 * sz_index_list(), from whichever threads run queries, with their (read) transaction. */
typedef int (*sz_index_created_cb)(void *ctx, MDB_txn *txn, const uint8_t id[static 32],
                                   uint64_t *first_created);

/* Lets list queries ask the store for first-version times (ctx is borrowed and passed back), so
 * the index needs no id-keyed map of its own: that saves a put on a random key per record. Call
 * it right after sz_index_open(), before any update, and do so on every open of an archive or on
 * none: without a resolver the index keeps its own map (idx_ids) from its first update on. */
void sz_index_set_resolver(sz_index_t *idx, sz_index_created_cb cb, void *ctx);

/* Records that the current version of record_id changed from old (NULL for a record seen for the
 * first time) to cur, inside the caller's write transaction. first_created is the created time of
 * the record's first version. Both records are decoded and already verified (records and their
 * bodies are borrowed for the call only); sealed bodies, retractions and revocations are indexed
 * by kind, author and time only. Only entries that differ between old and cur are written.
 * Returns 0, SZ_E_JSON if an unsealed testimony or case body is not a JSON object, SZ_E_NO_SPACE
 * (map full), or another negative error; on any error the caller aborts the transaction. */
int sz_index_update(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *old, const sz_record_t *cur);

/* Removes every entry of record_id, whose current version is cur (used by retraction; call it
 * before the body is purged, since the entries are found again from it). Returns 0 or a negative
 * error. */
int sz_index_remove(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *cur);

/* For samizdatd --check: confirms that every entry cur (the current version of record_id) should
 * have is present, in txn (read or write). Writes the number of entries the record owns to
 * *entries (may be NULL). Returns 0, SZ_E_CORRUPT if one is missing or differs, or a negative
 * error. Stale entries are found by comparing the sum of *entries over all records with the total
 * from sz_index_count(). */
int sz_index_verify(sz_index_t *idx, MDB_txn *txn, const uint8_t record_id[static 32],
                    uint64_t first_created, const sz_record_t *cur, size_t *entries);

/* Writes the total number of index entries to *entries and of indexed records to *records. */
int sz_index_count(sz_index_t *idx, MDB_txn *txn, size_t *entries, size_t *records);

/* Runs a list query in txn (read or write). Writes up to q->limit record ids to ids (borrowed,
 * room for q->limit), their count to *n, and a token for the next page to next_cursor (borrowed,
 * SZ_CURSOR_TOKEN_LEN + 1 bytes; empty string when there is no next page: a token is only given
 * when at least one more record matched). Filters are ANDed; "case" implies kind testimony and
 * "testimony" kind case. A token continues only the query it came from (same kind, filters in
 * any order, and order): a record is never returned twice across pages, and every record that
 * existed when the first page was read and still matches is returned exactly once. Returns 0,
 * SZ_E_ARGUMENT for an unknown field, a bad value, limit or cursor, or a token from another query
 * (with *n = 0 and no token), or a negative error (also with *n = 0). */
int sz_index_list(sz_index_t *idx, MDB_txn *txn, const sz_query_t *q, uint8_t (*ids)[32], size_t *n,
                  char *next_cursor);

#endif
