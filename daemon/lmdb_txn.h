/* A thin LMDB transaction wrapper with a sticky error, and the one function that maps LMDB and
 * system errors to samizdat error codes.
 *
 * The first error an operation hits is kept in the wrapper; every later operation does nothing and
 * returns it, and sz__txn_commit() aborts and returns it, as LMDB's own tools and Knot DNS do. Two
 * outcomes are not errors and never stick: a lookup or delete that finds nothing (SZ_E_NOT_FOUND)
 * and a put refused with MDB_NOOVERWRITE or MDB_NODUPDATA (SZ_E_EXISTS). Internal to daemon/. */
#ifndef SZ_LMDB_TXN_H
#define SZ_LMDB_TXN_H

#include <lmdb.h>

typedef struct sz__txn_s {
    MDB_txn *txn;
    int err;     /* first error, 0 while healthy */
    int lmdb_rc; /* the LMDB or errno code behind err, for messages */
} sz__txn_t;

/* Maps an LMDB return code or a positive errno (as LMDB returns them) to a samizdat error: 0 stays
 * 0, MDB_NOTFOUND is SZ_E_NOT_FOUND, MDB_KEYEXIST SZ_E_EXISTS, MDB_MAP_FULL and ENOSPC, EFBIG,
 * EDQUOT and EIO are SZ_E_NO_SPACE, damaged pages SZ_E_CORRUPT, a version or flags mismatch
 * SZ_E_FORMAT, other LMDB conditions SZ_E_STORE and other errno values their negative. */
int sz__lmdb_err(int rc);

/* Returns a static sentence for an LMDB or errno code that says what went wrong and what to do,
 * for the store's error text. Never NULL. */
const char *sz__lmdb_advice(int rc);

/* Begins a transaction on env (flags as mdb_txn_begin). Returns 0 or a mapped error; on failure
 * t->txn is NULL and t->err holds the error. */
int sz__txn_begin(sz__txn_t *t, MDB_env *env, unsigned flags);

/* Sets the sticky error if none is set yet (lmdb_rc may be 0). Returns the sticky error. */
int sz__txn_fail(sz__txn_t *t, int err, int lmdb_rc);

/* mdb_get; val borrows from the map until the next write or the end of the transaction. */
int sz__txn_get(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val);

/* mdb_put with flags. */
int sz__txn_put(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags);

/* mdb_del; val may be NULL (delete every duplicate) or name one duplicate. */
int sz__txn_del(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val);

/* Opens a cursor; the transaction owns it (it closes with the transaction). */
int sz__txn_cursor(sz__txn_t *t, MDB_dbi dbi, MDB_cursor **cur);

/* mdb_cursor_get under the sticky rule; MDB_NOTFOUND is returned as SZ_E_NOT_FOUND, unsticky. */
int sz__txn_cget(sz__txn_t *t, MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op);

/* Commits, or aborts when an error stuck. Returns 0 only when the commit reached the disk. */
int sz__txn_commit(sz__txn_t *t);

/* Aborts (if still open). Safe to call twice. */
void sz__txn_abort(sz__txn_t *t);

#endif
