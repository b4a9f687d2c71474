/* LMDB transaction wrapper with a sticky first error; see lmdb_txn.h. */
#include "lmdb_txn.h"

#include "error.h"

#include <errno.h>
#include <stddef.h>

int sz__lmdb_err(int rc) {
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return SZ_E_NOT_FOUND;
    case MDB_KEYEXIST:
        return SZ_E_EXISTS;
    case MDB_MAP_FULL:
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
    case EIO:
        return SZ_E_NO_SPACE;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return SZ_E_CORRUPT;
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
        return SZ_E_FORMAT;
    case ENOMEM:
        return -ENOMEM;
    default:
        if (rc > 0)
            return -rc;
        return SZ_E_STORE;
    }
}

const char *sz__lmdb_advice(int rc) {
    switch (rc) {
    case MDB_MAP_FULL:
        return "the archive reached its configured maximum size; raise the map limit";
    case ENOSPC:
        return "the disk is full; free space and retry (nothing acknowledged was lost)";
    case EDQUOT:
        return "the disk quota is exhausted; raise it and retry (nothing acknowledged was lost)";
    case EFBIG:
        return "the data file may not grow any further (file size limit); raise the limit and "
               "retry (nothing acknowledged was lost)";
    case EIO:
        return "writing to the disk failed (I/O error or short write: is the disk full?); free "
               "space or check the disk and retry (nothing acknowledged was lost)";
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
        return "the data file is damaged; run samizdatd --check and restore from a backup";
    case MDB_INVALID:
        return "the data file is not an LMDB database; is this the right folder?";
    case MDB_VERSION_MISMATCH:
        return "the data file was written by an incompatible LMDB version";
    case MDB_INCOMPATIBLE:
        return "the data file holds databases this program did not create";
    case MDB_READERS_FULL:
        return "too many concurrent readers";
    case MDB_PANIC:
        return "the storage engine hit a fatal error and must be reopened";
    default:
        return mdb_strerror(rc);
    }
}

int sz__txn_fail(sz__txn_t *t, int err, int lmdb_rc) {
    if (t->err == 0 && err != 0) {
        t->err = err;
        t->lmdb_rc = lmdb_rc;
    }
    return t->err;
}

int sz__txn_begin(sz__txn_t *t, MDB_env *env, unsigned flags) {
    t->txn = NULL;
    t->err = 0;
    t->lmdb_rc = 0;
    int rc = mdb_txn_begin(env, NULL, flags, &t->txn);
    if (rc == MDB_READERS_FULL) {
        /* Slots left by dead processes are the usual cause; reclaim them and try once more. */
        int dead = 0;
        mdb_reader_check(env, &dead);
        rc = mdb_txn_begin(env, NULL, flags, &t->txn);
    }
    if (rc != 0) {
        t->txn = NULL;
        return sz__txn_fail(t, sz__lmdb_err(rc), rc);
    }
    return 0;
}

/* Keeps a real failure; reports the two expected outcomes without making them sticky. */
static int note(sz__txn_t *t, int rc) {
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return SZ_E_NOT_FOUND;
    if (rc == MDB_KEYEXIST)
        return SZ_E_EXISTS;
    return sz__txn_fail(t, sz__lmdb_err(rc), rc);
}

int sz__txn_get(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val) {
    if (t->err != 0)
        return t->err;
    return note(t, mdb_get(t->txn, dbi, key, val));
}

int sz__txn_put(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val, unsigned flags) {
    if (t->err != 0)
        return t->err;
    return note(t, mdb_put(t->txn, dbi, key, val, flags));
}

int sz__txn_del(sz__txn_t *t, MDB_dbi dbi, MDB_val *key, MDB_val *val) {
    if (t->err != 0)
        return t->err;
    return note(t, mdb_del(t->txn, dbi, key, val));
}

int sz__txn_cursor(sz__txn_t *t, MDB_dbi dbi, MDB_cursor **cur) {
    *cur = NULL;
    if (t->err != 0)
        return t->err;
    int rc = mdb_cursor_open(t->txn, dbi, cur);
    if (rc != 0) {
        *cur = NULL;
        return sz__txn_fail(t, sz__lmdb_err(rc), rc);
    }
    return 0;
}

int sz__txn_cget(sz__txn_t *t, MDB_cursor *cur, MDB_val *key, MDB_val *val, MDB_cursor_op op) {
    if (t->err != 0)
        return t->err;
    return note(t, mdb_cursor_get(cur, key, val, op));
}

int sz__txn_commit(sz__txn_t *t) {
    if (t->txn == NULL)
        return t->err != 0 ? t->err : SZ_E_STATE;
    if (t->err != 0) {
        mdb_txn_abort(t->txn);
        t->txn = NULL;
        return t->err;
    }
    int rc = mdb_txn_commit(t->txn);
    t->txn = NULL; /* committed or, on failure, already freed by LMDB */
    if (rc != 0)
        return sz__txn_fail(t, sz__lmdb_err(rc), rc);
    return 0;
}

void sz__txn_abort(sz__txn_t *t) {
    if (t->txn != NULL) {
        mdb_txn_abort(t->txn);
        t->txn = NULL;
    }
}
