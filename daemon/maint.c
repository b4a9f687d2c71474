/* Offline check and backup of an archive folder; see maint.h. */
#include "maint.h"

#include "error.h"
#include "lmdb_txn.h"
#include "safety.h"
#include "schema.h"
#include "sha256.h"
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct check_s {
    sz_store_t *s;
    MDB_txn *txn;
    sz_maint_line_cb cb;
    void *arg;
    size_t problems;
    size_t index_entries;
} check_t;

static void problem(check_t *c, const char *what, uint64_t seq, const uint8_t *hash,
                    const char *fmt, ...) {
    char detail[256], hex[65] = "-", line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (hash != NULL)
        sz_hex_encode(hex, hash, 32);
    if (seq == UINT64_MAX)
        snprintf(line, sizeof(line), "problem=%s hash=%s detail=\"%s\"", what, hex, detail);
    else
        snprintf(line, sizeof(line), "problem=%s seq=%llu hash=%s detail=\"%s\"", what,
                 (unsigned long long)seq, hex, detail);
    c->problems++;
    if (c->cb != NULL)
        c->cb(c->arg, line);
}

static int get(check_t *c, MDB_dbi dbi, const void *key, size_t klen, MDB_val *v) {
    MDB_val k = {klen, (void *)key};
    return mdb_get(c->txn, dbi, &k, v);
}

/* The parents of the version at seq (hash vh, byhash entry b): each stored earlier in the same
 * record, and the version's generation one more than the greatest of theirs. */
static void check_parents(check_t *c, uint64_t seq, const uint8_t *vh, const sz_record_t *rec,
                          const sz__byhash_t *b) {
    uint32_t gen = 0;
    for (unsigned i = 0; i < rec->nparents; i++) {
        sz__byhash_t pb;
        MDB_val pv;
        if (get(c, c->s->byhash, rec->parents + 32 * i, 32, &pv) != 0 ||
            sz__byhash_decode(&pb, &pv) != 0) {
            problem(c, "parent_missing", seq, vh, "parent %u is not stored", i);
            continue;
        }
        if (pb.seq >= seq || pb.recno != b->recno)
            problem(c, "parent", seq, vh, "parent %u is later or of another record", i);
        if (pb.generation + 1 > gen)
            gen = pb.generation + 1;
    }
    if (gen != b->generation)
        problem(c, "generation", seq, vh, "generation %u, expected %u", b->generation, gen);
}

/* A purged log entry (retraction): its body and signature are gone by design, so what can be
 * checked is the stub itself, its byhash entry (flagged purged), its tombstone and its parents. */
static void check_stub(check_t *c, uint64_t seq, const MDB_val *v, const uint8_t *vh) {
    sz_store_t *s = c->s;
    sz__logent_t e;
    if (sz__logent_decode(&e, v->mv_data, v->mv_size, 0) != 0) {
        problem(c, "stub", seq, NULL, "purged entry does not decode");
        return;
    }
    MDB_val bv, tv;
    sz__byhash_t b;
    if (get(c, s->byhash, vh, 32, &bv) != 0 || sz__byhash_decode(&b, &bv) != 0) {
        problem(c, "byhash_missing", seq, vh, "version not in the hash index");
        return;
    }
    if (b.seq != seq || b.created != e.rec.created || !(b.flags & SZ__BH_PURGED) ||
        ((b.flags & SZ__BH_FIRST) != 0) != (e.rec.nparents == 0))
        problem(c, "byhash_value", seq, vh, "hash index entry disagrees with the purged entry");
    if (get(c, s->retracted, vh, 32, &tv) != 0 || tv.mv_size < 32 ||
        memcmp(tv.mv_data, e.retraction, 32) != 0)
        problem(c, "tombstone", seq, vh, "purged version has no matching tombstone");
    check_parents(c, seq, vh, &e.rec, &b);
}

/* Pass 1: every log entry, in order, with the Merkle tree rebuilt alongside. */
static int check_log(check_t *c, sz_merkle_frontier_t *f, uint64_t *nlog, uint64_t *nnodes) {
    sz_store_t *s = c->s;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, s->log, &cur);
    if (rc != 0)
        return sz__lmdb_err(rc);
    MDB_val k, v;
    uint64_t expect = 0;
    sz_merkle_frontier_init(f);
    *nlog = 0;
    *nnodes = 0;
    while ((rc = mdb_cursor_get(cur, &k, &v, expect == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
        if (k.mv_size != 8) {
            problem(c, "log_key", UINT64_MAX, NULL, "log key of %zu bytes", k.mv_size);
            expect++;
            continue;
        }
        uint64_t seq = sz_be64_get(k.mv_data);
        if (seq != expect)
            problem(c, "log_gap", seq, NULL, "expected sequence number %llu",
                    (unsigned long long)expect);
        expect = seq + 1;
        (*nlog)++;
        uint8_t vh[32], rid[32];
        sz__logent_t pe;
        int purged = sz__logent_is_stub(v.mv_data, v.mv_size);
        if (purged && sz__logent_decode(&pe, v.mv_data, v.mv_size, 0) == 0)
            memcpy(vh, pe.version_hash, 32); /* retracted: the stub keeps the hash */
        else
            sz_sha256(vh, v.mv_data, v.mv_size);
        /* The Merkle leaf is the hash of whatever the log holds: a rewritten entry then also
         * shows up as a mismatch with the stored subtrees and frontier. */
        uint8_t leaf[32];
        sz_merkle_node_t nodes[SZ_MERKLE_MAX_LEVELS];
        size_t nn = 0;
        sz_merkle_leaf_hash(leaf, vh, 32);
        sz_merkle_frontier_append(f, leaf, nodes, &nn);
        for (size_t i = 1; i < nn; i++) {
            uint8_t mk[9];
            MDB_val mv;
            sz__merkle_key(mk, nodes[i].level, nodes[i].index);
            (*nnodes)++;
            if (get(c, s->merkle, mk, 9, &mv) != 0 || mv.mv_size != 32 ||
                memcmp(mv.mv_data, nodes[i].hash, 32) != 0)
                problem(c, "merkle_node", seq, vh, "subtree level %u index %llu differs",
                        nodes[i].level, (unsigned long long)nodes[i].index);
        }
        if (purged) {
            check_stub(c, seq, &v, vh);
            continue;
        }
        sz_record_t rec;
        int vr = sz_record_open(&rec, v.mv_data, v.mv_size, NULL);
        if (vr != 0) {
            problem(c, "record", seq, vh, "%s", sz_strerror(vr));
            continue;
        }
        if (!(rec.flags & SZ_FLAG_SEALED)) {
            sz_schema_error_t se;
            vr = sz_schema_validate(rec.kind, rec.body, rec.body_len, &se);
            if (vr != 0)
                problem(c, "schema", seq, vh, "%.100s: %.100s", se.path, se.message);
        }
        sz_record_id(&rec, vh, rid);
        MDB_val bv;
        sz__byhash_t b;
        if (get(c, s->byhash, vh, 32, &bv) != 0 || sz__byhash_decode(&b, &bv) != 0) {
            problem(c, "byhash_missing", seq, vh, "version not in the hash index");
            continue;
        }
        if (b.seq != seq || b.created != rec.created ||
            ((b.flags & SZ__BH_FIRST) != 0) != (rec.nparents == 0))
            problem(c, "byhash_value", seq, vh, "hash index entry disagrees with the log");
        MDB_val rv;
        uint8_t rk[8];
        sz_be64_put(rk, b.recno);
        if (get(c, s->recnos, rk, 8, &rv) != 0 || rv.mv_size != 32 ||
            memcmp(rv.mv_data, rid, 32) != 0)
            problem(c, "recno", seq, vh, "record number %llu does not map to its record",
                    (unsigned long long)b.recno);
        check_parents(c, seq, vh, &rec, &b);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : sz__lmdb_err(rc);
}

typedef struct vers_s {
    uint8_t hash[32];
    uint32_t gen;
    uint64_t created;
    int is_parent;
} vers_t;

/* Pass 2: each record against its versions. The records are the byhash entries of first
 * versions, whose record entry is stored or implied. */
static int check_records(check_t *c, uint64_t *nrec, uint64_t *nmembers) {
    sz_store_t *s = c->s;
    MDB_cursor *cur, *mc, *hc;
    int rc = mdb_cursor_open(c->txn, s->byhash, &cur);
    if (rc != 0)
        return sz__lmdb_err(rc);
    if ((rc = mdb_cursor_open(c->txn, s->members, &mc)) != 0 ||
        (rc = mdb_cursor_open(c->txn, s->heads, &hc)) != 0) {
        mdb_cursor_close(cur);
        return sz__lmdb_err(rc);
    }
    vers_t *vs = NULL;
    size_t cap = 0;
    MDB_val k, v;
    *nrec = 0;
    *nmembers = 0;
    int first = 1;
    while ((rc = mdb_cursor_get(cur, &k, &v, first ? MDB_FIRST : MDB_NEXT)) == 0) {
        first = 0;
        sz__recval_t r;
        sz__byhash_t hb;
        if (k.mv_size != 32 || sz__byhash_decode(&hb, &v) != 0)
            continue; /* pass 1 reports the log entry whose hash entry this is */
        int dr = sz__record_decode(&r, &k, &v);
        if (dr == SZ_E_NOT_FOUND)
            continue; /* a later version */
        if (dr != 0) {
            problem(c, "record_value", UINT64_MAX, k.mv_data,
                    (hb.flags & SZ__BH_FIRST) ? "malformed record entry"
                                              : "record entry on a later version");
            continue;
        }
        (*nrec)++;
        const uint8_t *rid = k.mv_data;
        uint8_t rk[8];
        MDB_val rv;
        sz_be64_put(rk, r.recno);
        if (get(c, s->recnos, rk, 8, &rv) != 0 || rv.mv_size != 32 ||
            memcmp(rv.mv_data, rid, 32) != 0)
            problem(c, "recno", UINT64_MAX, rid, "record number does not map back");
        /* Every member, decoded again for its parents. */
        size_t n = 0;
        MDB_val mk = {32, (void *)rid}, md;
        /* The first version comes from byhash under the record id, the rest from members. */
        sz__byhash_t fb;
        MDB_val fbv;
        uint8_t f8[8];
        int mr = MDB_NOTFOUND, firstv = 1;
        if (get(c, s->byhash, rid, 32, &fbv) == 0 && sz__byhash_decode(&fb, &fbv) == 0) {
            sz_be64_put(f8, fb.seq);
            md.mv_size = 8;
            md.mv_data = f8;
            mr = 0;
        } else {
            problem(c, "record_value", UINT64_MAX, rid, "first version not stored");
            firstv = 0;
            mr = mdb_cursor_get(mc, &mk, &md, MDB_SET);
        }
        while (mr == 0) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                vers_t *nv = realloc(vs, cap * sizeof(*vs));
                if (nv == NULL) {
                    rc = -ENOMEM;
                    goto out;
                }
                vs = nv;
            }
            MDB_val ev;
            sz__logent_t ent; /* an envelope, or the stub of a purged version */
            uint8_t lk[8];
            memcpy(lk, md.mv_data, md.mv_size == 8 ? 8 : 0);
            if (md.mv_size != 8 || get(c, s->log, lk, 8, &ev) != 0 ||
                sz__logent_decode(&ent, ev.mv_data, ev.mv_size, 1) != 0) {
                problem(c, "member", UINT64_MAX, rid, "member entry names no valid log entry");
                mr = mdb_cursor_get(mc, &mk, &md, firstv ? MDB_SET : MDB_NEXT_DUP);
                firstv = 0;
                continue;
            }
            const sz_record_t rec = ent.rec;
            vers_t *x = &vs[n++];
            memcpy(x->hash, ent.version_hash, 32);
            x->created = rec.created;
            x->is_parent = 0;
            sz__byhash_t b;
            MDB_val bv;
            x->gen = 0;
            if (get(c, s->byhash, x->hash, 32, &bv) == 0 && sz__byhash_decode(&b, &bv) == 0)
                x->gen = b.generation;
            if (n == 1 && memcmp(x->hash, rid, 32) != 0)
                problem(c, "member", UINT64_MAX, rid, "first member is not the first version");
            if (n == 1 && rec.created != r.first_created)
                problem(c, "record_value", UINT64_MAX, rid, "first created time differs");
            /* Parents precede their children in the member list (log order). */
            for (unsigned p = 0; p < rec.nparents; p++)
                for (size_t j = 0; j + 1 < n; j++)
                    if (memcmp(vs[j].hash, rec.parents + 32 * p, 32) == 0)
                        vs[j].is_parent = 1;
            mr = mdb_cursor_get(mc, &mk, &md, firstv ? MDB_SET : MDB_NEXT_DUP);
            firstv = 0;
        }
        *nmembers += n > 0 ? n - 1 : 0;
        if (n != r.nversions)
            problem(c, "record_value", UINT64_MAX, rid, "%zu versions, records says %u", n,
                    r.nversions);
        size_t nheads = 0;
        vers_t *best = NULL;
        for (size_t i = 0; i < n; i++) {
            if (vs[i].is_parent)
                continue;
            nheads++;
            MDB_val hk = {32, (void *)rid}, hv = {32, vs[i].hash};
            if (r.nheads > 1 && mdb_cursor_get(hc, &hk, &hv, MDB_GET_BOTH) != 0)
                problem(c, "heads", UINT64_MAX, vs[i].hash, "head missing from heads");
            if (best == NULL || sz__version_cmp(vs[i].gen, vs[i].created, vs[i].hash, best->gen,
                                                best->created, best->hash) > 0)
                best = &vs[i];
        }
        size_t stored_heads = 0;
        MDB_val hk = {32, (void *)rid}, hv;
        if (mdb_cursor_get(hc, &hk, &hv, MDB_SET) == 0) {
            size_t cnt = 0;
            mdb_cursor_count(hc, &cnt);
            stored_heads = cnt;
        }
        /* heads lists a record's heads only while it has more than one. */
        if (stored_heads != (nheads > 1 ? nheads : 0) || r.nheads != nheads)
            problem(c, "heads", UINT64_MAX, rid, "%zu heads, %zu stored, records says %u", nheads,
                    stored_heads, r.nheads);
        sz__byhash_t curb;
        MDB_val curv;
        if (get(c, s->byhash, r.current, 32, &curv) != 0 || sz__byhash_decode(&curb, &curv) != 0 ||
            curb.seq != r.cur_seq || curb.created != r.cur_created)
            problem(c, "record_value", UINT64_MAX, rid, "current version's seq or time differ");
        if (best != NULL && (memcmp(best->hash, r.current, 32) != 0 || best->gen != r.generation))
            problem(c, "current", UINT64_MAX, rid, "current version is not the rule's choice");
        /* The secondary index entries of the current version. */
        sz__byhash_t cb;
        MDB_val cbv, cev;
        sz_record_t crec;
        uint8_t ck[8];
        if (get(c, s->byhash, r.current, 32, &cbv) == 0 && sz__byhash_decode(&cb, &cbv) == 0 &&
            (sz_be64_put(ck, cb.seq), get(c, s->log, ck, 8, &cev) == 0) &&
            sz__logent_is_stub(cev.mv_data, cev.mv_size)) {
            /* Current version retracted: its index entries were removed with its body. */
        } else if (get(c, s->byhash, r.current, 32, &cbv) == 0 &&
                   sz__byhash_decode(&cb, &cbv) == 0 &&
                   (sz_be64_put(ck, cb.seq), get(c, s->log, ck, 8, &cev) == 0) &&
                   sz_record_decode(&crec, cev.mv_data, cev.mv_size) == 0) {
            size_t entries = 0;
            int ir = sz_index_verify(s->idx, c->txn, rid, r.first_created, &crec, &entries);
            if (ir != 0)
                problem(c, "index", UINT64_MAX, rid, "%s", sz_strerror(ir));
            c->index_entries += entries;
        } else {
            problem(c, "current", UINT64_MAX, r.current, "current version is not stored");
        }
    }
    rc = rc == MDB_NOTFOUND ? 0 : sz__lmdb_err(rc);
out:
    free(vs);
    mdb_cursor_close(cur);
    mdb_cursor_close(mc);
    mdb_cursor_close(hc);
    return rc;
}

int sz_maint_check(const char *dir, sz_maint_line_cb cb, void *arg, size_t *problems) {
    *problems = 0;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0)
        return SZ_E_NOT_FOUND;
    char err[256] = "";
    sz_store_options_t o = {.errbuf = err, .errlen = sizeof(err)};
    sz_store_t *s = NULL;
    check_t c = {.cb = cb, .arg = arg};
    int rc = sz_store_open(&s, dir, &o);
    if (rc != 0) {
        char line[400];
        snprintf(line, sizeof(line), "problem=open detail=\"%s\"", err[0] ? err : sz_strerror(rc));
        if (cb != NULL)
            cb(arg, line);
        *problems = 1;
        return rc;
    }
    c.s = s;
    rc = sz__lmdb_err(mdb_txn_begin(s->env, NULL, MDB_RDONLY, &c.txn));
    if (rc != 0)
        goto out;
    sz_merkle_frontier_t f, stored;
    sz_merkle_frontier_init(&f);
    uint64_t nlog = 0, nnodes = 0, nrec = 0, nmem = 0;
    if ((rc = check_log(&c, &f, &nlog, &nnodes)) != 0)
        goto out;
    if ((rc = check_records(&c, &nrec, &nmem)) != 0)
        goto out;
    MDB_stat ms;
    if (mdb_stat(c.txn, s->byhash, &ms) == 0 && ms.ms_entries != nlog)
        problem(&c, "byhash_count", UINT64_MAX, NULL, "%zu hash entries for %llu log entries",
                ms.ms_entries, (unsigned long long)nlog);
    if (mdb_stat(c.txn, s->recnos, &ms) == 0 && ms.ms_entries != nrec)
        problem(&c, "recno_count", UINT64_MAX, NULL, "%zu record numbers for %llu records",
                ms.ms_entries, (unsigned long long)nrec);
    if (nmem + nrec != nlog)
        problem(&c, "member_count", UINT64_MAX, NULL,
                "%llu later versions and %llu records for %llu log entries",
                (unsigned long long)nmem, (unsigned long long)nrec, (unsigned long long)nlog);
    if (mdb_stat(c.txn, s->members, &ms) == 0 && ms.ms_entries != nmem)
        problem(&c, "member_count", UINT64_MAX, NULL, "%zu member entries, %llu reachable",
                ms.ms_entries, (unsigned long long)nmem);
    if (mdb_stat(c.txn, s->merkle, &ms) == 0 && ms.ms_entries != nnodes)
        problem(&c, "merkle_count", UINT64_MAX, NULL, "%zu stored subtrees, expected %llu",
                ms.ms_entries, (unsigned long long)nnodes);
    size_t ientries = 0, irecords = 0;
    rc = sz_index_count(s->idx, c.txn, &ientries, &irecords);
    if (rc != 0)
        goto out;
    if (ientries != c.index_entries)
        problem(&c, "index_count", UINT64_MAX, NULL, "%zu index entries, the records own %zu",
                ientries, c.index_entries);
    MDB_val fv;
    sz_merkle_frontier_init(&stored);
    int fr = get(&c, s->meta, "frontier", 8, &fv);
    if (fr == 0 && sz_merkle_frontier_decode(&stored, fv.mv_data, fv.mv_size) != 0)
        problem(&c, "frontier", UINT64_MAX, NULL, "stored frontier does not decode");
    uint8_t r1[32], r2[32];
    sz_merkle_frontier_root(&f, r1);
    sz_merkle_frontier_root(&stored, r2);
    if (stored.size != f.size || memcmp(r1, r2, 32) != 0)
        problem(&c, "frontier", UINT64_MAX, r2,
                "stored tree head (size %llu) differs from the log (size %llu)",
                (unsigned long long)stored.size, (unsigned long long)f.size);
out:
    if (c.txn != NULL)
        mdb_txn_abort(c.txn);
    sz_store_close(s);
    *problems = c.problems;
    return rc;
}

int sz_maint_backup(const char *dir, const char *out, char *errbuf, size_t errlen) {
    char tmp[1];
    if (errbuf == NULL || errlen == 0) {
        errbuf = tmp;
        errlen = sizeof(tmp);
    }
    errbuf[0] = '\0';
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &st) != 0) {
        snprintf(errbuf, errlen, "%s holds no archive (no data.mdb)", dir);
        return SZ_E_NOT_FOUND;
    }
    DIR *d = opendir(out);
    if (d != NULL) {
        struct dirent *e;
        int used = 0;
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                used = 1;
        closedir(d);
        if (used) {
            snprintf(errbuf, errlen, "%s exists and is not empty; choose a new folder", out);
            return SZ_E_EXISTS;
        }
    } else if (errno != ENOENT) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot use %s: %s", out, strerror(e));
        return -e;
    } else if (mkdir(out, 0700) != 0) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot create %s: %s", out, strerror(e));
        return -e;
    }
    sz_store_t *s = NULL;
    sz_store_options_t o = {.errbuf = errbuf, .errlen = errlen};
    int rc = sz_store_open(&s, dir, &o);
    if (rc != 0)
        return rc;
    /* LMDB copies from one read transaction: writers carry on, the copy is consistent. It creates
     * the file with mode 0666 less the umask, and a backup holds everything the archive does, so
     * the umask is narrowed for the copy (this runs in the offline tool, with no other threads). */
    mode_t old_mask = umask(077);
    int lr = mdb_env_copy2(s->env, out, MDB_CP_COMPACT);
    umask(old_mask);
    if (lr != 0) {
        snprintf(errbuf, errlen, "copying to %s failed: %s", out, sz__lmdb_advice(lr));
        rc = sz__lmdb_err(lr);
    }
    sz_store_close(s);
    return rc;
}
