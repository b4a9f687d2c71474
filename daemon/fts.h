/* Full-text search over the non-sealed text fields of records: testimony titles, statements and
 * their translations, case titles and summaries.
 *
 * Documents are numbered by the store (one number per record, never reused). The store's
 * catch-up pass calls sz_fts_set() for each record whose current version changed, inside its own
 * write transaction, so full-text indexing may lag ingest and catch up in batches. This module
 * owns its named databases (prefixed "fts_"), documented in daemon/FTS.md with the tokenizer rules
 * (daemon/tokenize.h) and the ranking. Tokenizing is Unicode-aware with case folding for Latin,
 * Greek, Cyrillic, Armenian and Georgian.
 *
 * A document given to sz_fts_set() is stored at once in a forward database and listed as pending;
 * pending documents are merged into the term-ordered postings in groups (sz_fts_flush(), run on
 * its own whenever SZ_FTS_PENDING_MAX documents are pending), because one merge per group touches
 * each term once instead of once per document. Pending documents are searched too, so a document
 * is findable as soon as the transaction that set it commits.
 *
 * Threads: a handle holds only database handles and settings; any number of threads may search
 * through it at once, each in its own transaction, while one writer sets documents. */
#ifndef SZ_FTS_H
#define SZ_FTS_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

#define SZ_FTS_DBS 5                /* named databases this module may open */
#define SZ_FTS_MAX_QUERY 1024       /* bytes of query text */
#define SZ_FTS_MAX_QUERY_TERMS 16   /* distinct words in a query */
#define SZ_FTS_MAX_PHRASE 32        /* words in one quoted phrase */
#define SZ_FTS_MAX_DOC_TOKENS 65536 /* words indexed per document; the rest are ignored */
#define SZ_FTS_MAX_CANDIDATES 50000 /* matching documents ranked per query; see FTS.md */
#define SZ_FTS_PENDING_MAX 8192     /* default number of pending documents that triggers a merge */

typedef struct sz_fts_s sz_fts_t;

typedef struct sz_fts_hit_s {
    uint64_t docno;
    double score; /* higher is better (BM25) */
} sz_fts_hit_t;

typedef struct sz_fts_stats_s {
    uint64_t docs;    /* documents holding at least one word */
    uint64_t pending; /* of which not yet merged into the postings */
    uint64_t tokens;  /* words indexed over all documents */
    uint64_t terms;   /* distinct words in the merged postings */
    uint64_t bytes;   /* pages used by this module's databases, in bytes */
} sz_fts_stats_t;

/* Opens (creating if needed) this module's databases inside txn, which must be a write transaction
 * the caller commits before the handle is used by other transactions. Returns 0 with a handle in
 * *out that the caller owns (free with sz_fts_close()), SZ_E_FORMAT if the databases hold a newer
 * layout, or a negative error. */
int sz_fts_open(sz_fts_t **out, MDB_txn *txn);

/* Frees the handle (not the databases). NULL is ignored. */
void sz_fts_close(sz_fts_t *fts);

/* Makes document docno hold the text fields of body (a record body of the given kind, borrowed,
 * UTF-8 JSON), replacing whatever docno held before. Kinds other than testimony and case, and
 * bodies without text, leave the document empty (as sz_fts_delete()). Called in a write
 * transaction; may run a merge (sz_fts_flush()). Returns 0, SZ_E_JSON when body is not valid JSON
 * (nothing is changed), SZ_E_NO_SPACE, or another negative error, after which the caller must
 * abort the transaction. */
int sz_fts_set(sz_fts_t *fts, MDB_txn *txn, uint64_t docno, unsigned kind, const uint8_t *body,
               size_t len);

/* Removes document docno, if present (retraction, or a record that became sealed). Called in a
 * write transaction. Returns 0 (also when docno was not indexed) or a negative error. */
int sz_fts_delete(sz_fts_t *fts, MDB_txn *txn, uint64_t docno);

/* Merges every pending document into the postings, in the write transaction txn. Optional: the
 * store may call it at the end of a catch-up pass so searches no longer scan pending documents.
 * Returns 0 or a negative error. */
int sz_fts_flush(sz_fts_t *fts, MDB_txn *txn);

/* Sets how many pending documents trigger a merge (0 restores SZ_FTS_PENDING_MAX; 1 merges on
 * every set). Fewer means faster searches right after writes; more means faster indexing. Not
 * synchronised: call it before the handle is shared. */
void sz_fts_set_pending_limit(sz_fts_t *fts, size_t limit);

/* Runs query in txn (read or write): words are ANDed, "double quoted" words must also appear as
 * that phrase within one field, and an unbalanced quote runs to the end. Writes up to max hits
 * ranked best first (BM25, ties newest docno first) to hits (borrowed, room for max) and their
 * count to *n. At most SZ_FTS_MAX_CANDIDATES matching documents are ranked, newest first.
 * Returns 0 (with *n = 0 when nothing matches), SZ_E_ARGUMENT for a query that is empty, has no
 * words, is longer than SZ_FTS_MAX_QUERY bytes, or has more than SZ_FTS_MAX_QUERY_TERMS distinct
 * words or a phrase of more than SZ_FTS_MAX_PHRASE words, SZ_E_CORRUPT for damaged index data,
 * or another negative error. */
int sz_fts_search(sz_fts_t *fts, MDB_txn *txn, const char *query, sz_fts_hit_t *hits, size_t max,
                  size_t *n);

/* Fills *out with counts for status and benchmarks. Returns 0 or a negative error. */
int sz_fts_stats(sz_fts_t *fts, MDB_txn *txn, sz_fts_stats_t *out);

#endif
