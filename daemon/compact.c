/* samizdatd --compact DIR; see safety.h (sz_compact) and STORE.md "Compaction".
 *
 * LMDB's own compacting copy (mdb_env_copy2 with MDB_CP_COMPACT) drops free pages but copies each
 * live page whole, and a live page can still hold the bytes of a value that was overwritten in it
 * (LMDB moves the remaining nodes but does not clear the gap). A purge overwrites a log value with
 * a short stub, so its old body can sit in such a gap. This copy is logical instead: every key and
 * value of every database is put into a brand-new environment, whose pages only ever hold live
 * data, so no byte of a purged body can survive. */
#include "safety.h"

#include "error.h"
#include "lmdb_txn.h"
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define COPY_CHUNK 20000 /* entries per write transaction of the new environment */
#define MAX_DBS 64

static void msg(char *buf, size_t len, const char *fmt, const char *a, const char *b) {
    if (buf != NULL && len > 0)
        snprintf(buf, len, fmt, a, b);
}

static int fsync_path(const char *path, int dir) {
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Copies database name (NULL: none, the main database's plain keys are names) from the read
 * transaction rt of src into dst, in chunks. */
static int copy_db(MDB_env *dst, MDB_txn *rt, const char *name) {
    MDB_dbi sdbi, ddbi;
    unsigned flags = 0;
    int rc = mdb_dbi_open(rt, name, 0, &sdbi);
    if (rc == 0)
        rc = mdb_dbi_flags(rt, sdbi, &flags);
    if (rc != 0)
        return rc;
    flags &= MDB_REVERSEKEY | MDB_DUPSORT | MDB_INTEGERKEY | MDB_DUPFIXED | MDB_INTEGERDUP |
             MDB_REVERSEDUP;
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(rt, sdbi, &c)) != 0)
        return rc;
    MDB_val k, v;
    int lr = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    do {
        MDB_txn *wt;
        if ((rc = mdb_txn_begin(dst, NULL, 0, &wt)) != 0)
            break;
        rc = mdb_dbi_open(wt, name, flags | MDB_CREATE, &ddbi);
        size_t n = 0;
        while (rc == 0 && lr == 0 && n < COPY_CHUNK) {
            /* Keys arrive in order, so appends keep the new pages full. */
            rc = mdb_put(wt, ddbi, &k, &v, (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND);
            n++;
            lr = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        if (rc == 0)
            rc = mdb_txn_commit(wt);
        else
            mdb_txn_abort(wt);
    } while (rc == 0 && lr == 0);
    mdb_cursor_close(c);
    if (rc == 0 && lr != MDB_NOTFOUND)
        rc = lr;
    return rc;
}

/* Copies every named database of the environment in dir into a new environment in tmp. */
static int logical_copy(const char *dir, const char *tmp, char *errbuf, size_t errlen) {
    MDB_env *src = NULL, *dst = NULL;
    MDB_txn *rt = NULL;
    char **names = NULL;
    size_t nnames = 0;
    struct stat st;
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return -errno;
    int rc = mdb_env_create(&src);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(src, MAX_DBS);
    if (rc == 0)
        rc = mdb_env_set_mapsize(src, (size_t)st.st_size + (1u << 20));
    if (rc == 0)
        rc = mdb_env_open(src, dir, MDB_RDONLY | MDB_NOTLS, 0600);
    if (rc == 0)
        rc = mdb_env_create(&dst);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(dst, MAX_DBS);
    /* Never larger than the original plus room for B-tree overhead. */
    if (rc == 0)
        rc = mdb_env_set_mapsize(dst, (size_t)st.st_size * 2 + (64u << 20));
    if (rc == 0)
        rc = mdb_env_open(dst, tmp, 0, 0600);
    if (rc == 0)
        rc = mdb_txn_begin(src, NULL, MDB_RDONLY, &rt);
    MDB_dbi main;
    MDB_cursor *c = NULL;
    if (rc == 0)
        rc = mdb_dbi_open(rt, NULL, 0, &main);
    if (rc == 0)
        rc = mdb_cursor_open(rt, main, &c);
    if (rc == 0) {
        names = calloc(MAX_DBS, sizeof(*names));
        if (names == NULL)
            rc = ENOMEM;
        MDB_val k, v;
        int lr = rc == 0 ? mdb_cursor_get(c, &k, &v, MDB_FIRST) : MDB_NOTFOUND;
        while (lr == 0 && rc == 0) {
            if (nnames == MAX_DBS || k.mv_size == 0 || memchr(k.mv_data, 0, k.mv_size)) {
                rc = MDB_INCOMPATIBLE; /* not a samizdat archive's layout */
                break;
            }
            names[nnames] = strndup(k.mv_data, k.mv_size);
            if (names[nnames++] == NULL)
                rc = ENOMEM;
            lr = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    for (size_t i = 0; rc == 0 && i < nnames; i++)
        rc = copy_db(dst, rt, names[i]);
    if (rt != NULL)
        mdb_txn_abort(rt);
    if (rc == 0)
        rc = mdb_env_sync(dst, 1);
    if (rc != 0)
        msg(errbuf, errlen, "copying %s failed: %s; the archive is unchanged", dir,
            sz__lmdb_advice(rc));
    for (size_t i = 0; i < nnames; i++)
        free(names[i]);
    free(names);
    if (dst != NULL)
        mdb_env_close(dst);
    if (src != NULL)
        mdb_env_close(src);
    return rc == 0 ? 0 : sz__lmdb_err(rc);
}

int sz_compact(const char *dir, char *errbuf, size_t errlen, uint64_t *before, uint64_t *after) {
    char tmpb[1];
    if (errbuf == NULL || errlen == 0) {
        errbuf = tmpb;
        errlen = sizeof(tmpb);
    }
    errbuf[0] = '\0';
    char path[4096], lock[4096], tmp[4096], tmpdata[4200];
    struct stat st;
    if (dir == NULL || snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path))
        return SZ_E_ARGUMENT;
    if (stat(path, &st) != 0) {
        msg(errbuf, errlen, "%s holds no archive (no data.mdb)%s", dir, "");
        return SZ_E_NOT_FOUND;
    }
    if (before != NULL)
        *before = (uint64_t)st.st_size;
    /* The node's own lock (node.c): a running node keeps writing, and swapping the file under it
     * would lose its writes. */
    snprintf(lock, sizeof(lock), "%s/samizdatd.lock", dir);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lfd < 0) {
        int e = errno;
        msg(errbuf, errlen, "cannot open %s: %s", lock, strerror(e));
        return -e;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(lfd);
        if (e == EWOULDBLOCK) {
            msg(errbuf, errlen, "a samizdatd is running with the data folder %s; stop it first%s",
                dir, "");
            return SZ_E_STATE;
        }
        msg(errbuf, errlen, "cannot lock %s: %s", lock, strerror(e));
        return -e;
    }
    /* Opening through the store first refuses folders that are not archives, with its sentence. */
    sz_store_t *s = NULL;
    sz_store_options_t o = {.errbuf = errbuf, .errlen = errlen};
    int rc = sz_store_open(&s, dir, &o);
    sz_store_close(s);
    if (rc != 0) {
        close(lfd);
        return rc;
    }
    snprintf(tmp, sizeof(tmp), "%s/compact.XXXXXX", dir);
    if (mkdtemp(tmp) == NULL) {
        int e = errno;
        msg(errbuf, errlen, "cannot create a folder in %s: %s", dir, strerror(e));
        close(lfd);
        return -e;
    }
    snprintf(tmpdata, sizeof(tmpdata), "%s/data.mdb", tmp);
    rc = logical_copy(dir, tmp, errbuf, errlen);
    if (rc == 0 && (rc = fsync_path(tmpdata, 0)) != 0)
        msg(errbuf, errlen, "cannot sync %s: %s; the archive is unchanged", tmpdata, strerror(-rc));
    /* The copy is complete and on disk: the rename is the one atomic switch. Before it the
     * original is untouched; after it the original's pages are gone with its inode. */
    if (rc == 0 && rename(tmpdata, path) != 0) {
        rc = -errno;
        msg(errbuf, errlen, "cannot replace %s: %s; the archive is unchanged", path, strerror(-rc));
    }
    if (rc == 0)
        fsync_path(dir, 1);
    if (rc == 0 && stat(path, &st) == 0 && after != NULL)
        *after = (uint64_t)st.st_size;
    char extra[4200];
    snprintf(extra, sizeof(extra), "%s/lock.mdb", tmp);
    unlink(extra);
    unlink(tmpdata);
    rmdir(tmp);
    close(lfd);
    return rc;
}
