/* Full-text search over the non-sealed text fields of records: testimony titles, statements and
 * their translations, case titles and summaries.
 *
 * Documents are numbered by the store (one number per record, never reused). The store's
 * catch-up pass calls sz_fts_set() for each record whose current version changed, inside its own
 * write transaction, so full-text indexing may lag ingest and catch up in batches. This module
 * owns its named databases (prefixed "fts_"), documented in daemon/STORE.md. Tokenizing is
 * Unicode-aware with case folding for at least Latin and Cyrillic scripts. */
#ifndef SZ_FTS_H
#define SZ_FTS_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define SZ_FTS_DBS 4 /* named databases this module may open */
#define SZ_FTS_MAX_QUERY 1024

typedef struct sz_fts_s sz_fts_t;

typedef struct sz_fts_hit_s {
    uint64_t docno;
    double score; /* higher is better (BM25) */
} sz_fts_hit_t;

/* Opens (creating if needed) this module's databases inside the write transaction txn. Returns a
 * handle the caller owns (free with sz_fts_close()) or a negative error. */
int sz_fts_open(sz_fts_t **out, MDB_txn *txn);
void sz_fts_close(sz_fts_t *fts);

/* Makes document docno hold the text fields of body (a record body of the given kind, borrowed,
 * valid UTF-8 JSON), replacing whatever docno held before. Called in a write transaction. */
int sz_fts_set(sz_fts_t *fts, MDB_txn *txn, uint64_t docno, unsigned kind, const uint8_t *body,
               size_t len);

/* Removes document docno, if present (retraction, or a record that became sealed). */
int sz_fts_delete(sz_fts_t *fts, MDB_txn *txn, uint64_t docno);

/* Runs query: words are ANDed, "double quoted" words must appear as a phrase. Writes up to max
 * hits ranked best first to hits (borrowed) and their count to *n. Returns 0, SZ_E_ARGUMENT for an
 * empty or over-long query, or a negative error. */
int sz_fts_search(sz_fts_t *fts, MDB_txn *txn, const char *query, sz_fts_hit_t *hits, size_t max,
                  size_t *n);

#endif
