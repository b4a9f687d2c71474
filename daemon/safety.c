/* Retraction, purge stubs, revocation and compaction; see safety.h, RECORD.md section 7 and
 * STORE.md ("Retraction and revocation", "Compaction"). */
#include "safety.h"

#include "encoding.h"
#include "error.h"
#include "sha256.h"
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* retracted value: retraction hash (32) | record id it names (32) | retraction author (32). */
#define TOMB_LEN 96
/* revoked value: revocation hash (32) | revocation created u64. */
#define REVOKED_LEN 40

/* ---- log entries ---- */

int sz__logent_is_stub(const void *data, size_t len) {
    return len >= 4 && memcmp(data, SZ__STUB_MAGIC, 3) == 0;
}

int sz__logent_decode(sz__logent_t *e, const void *data, size_t len, int want_hash) {
    memset(e, 0, sizeof(*e));
    const uint8_t *p = data;
    if (!sz__logent_is_stub(data, len)) {
        if (sz_record_decode(&e->rec, p, len) != 0)
            return SZ_E_CORRUPT;
        if (want_hash)
            sz_sha256(e->version_hash, p, len);
        return 0;
    }
    if (len < SZ__STUB_LEN(0) || p[3] != SZ__STUB_FORMAT || p[110] > SZ_RECORD_MAX_PARENTS ||
        len != SZ__STUB_LEN(p[110]))
        return SZ_E_CORRUPT;
    e->purged = 1;
    memcpy(e->version_hash, p + 4, 32);
    memcpy(e->retraction, p + 36, 32);
    e->rec.format = SZ_RECORD_FORMAT;
    e->rec.kind = p[68];
    e->rec.flags = p[69];
    e->rec.created = sz_be64_get(p + 70);
    e->rec.record_id = p + 78;
    e->rec.nparents = p[110];
    e->rec.parents = p + 111;
    e->rec.author = p + 111 + 32 * (size_t)p[110];
    return 0;
}

/* Writes the stub of rec (a full envelope with version hash vh) purged by retraction rh. */
static size_t stub_encode(uint8_t *out, const sz_record_t *rec, const uint8_t *vh,
                          const uint8_t *rh) {
    memcpy(out, SZ__STUB_MAGIC, 3);
    out[3] = SZ__STUB_FORMAT;
    memcpy(out + 4, vh, 32);
    memcpy(out + 36, rh, 32);
    out[68] = rec->kind;
    out[69] = rec->flags;
    sz_be64_put(out + 70, rec->created);
    memcpy(out + 78, rec->record_id, 32);
    out[110] = rec->nparents;
    memcpy(out + 111, rec->parents, 32 * (size_t)rec->nparents);
    memcpy(out + 111 + 32 * (size_t)rec->nparents, rec->author, 32);
    return SZ__STUB_LEN(rec->nparents);
}

/* ---- helpers in a write transaction ---- */

int sz__safety_open(sz_store_t *s, MDB_txn *txn) {
    int rc = mdb_dbi_open(txn, "retracted", MDB_CREATE, &s->retracted);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "revoked", MDB_CREATE, &s->revoked);
    MDB_stat st;
    if (rc == 0 && (rc = mdb_stat(txn, s->retracted, &st)) == 0)
        s->any_retracted = st.ms_entries > 0;
    if (rc == 0 && (rc = mdb_stat(txn, s->revoked, &st)) == 0)
        s->any_revoked = st.ms_entries > 0;
    return sz__lmdb_err(rc);
}

/* The log value at seq, copied (values move when pages are written). *out is malloc'd. */
static int log_copy(sz_store_t *s, sz__txn_t *t, uint64_t seq, uint8_t **out, size_t *len) {
    uint8_t k8[8];
    sz_be64_put(k8, seq);
    MDB_val k = {8, k8}, v;
    int rc = sz__txn_get(t, s->log, &k, &v);
    if (rc != 0)
        return rc == SZ_E_NOT_FOUND ? sz__txn_fail(t, SZ_E_CORRUPT, 0) : rc;
    *out = malloc(v.mv_size ? v.mv_size : 1);
    if (*out == NULL)
        return sz__txn_fail(t, -ENOMEM, 0);
    memcpy(*out, v.mv_data, v.mv_size);
    *len = v.mv_size;
    return 0;
}

/* The author of record rid's first version (stub or envelope). SZ_E_NOT_FOUND when the record is
 * not stored. */
static int first_author(sz_store_t *s, sz__txn_t *t, const uint8_t *rid, uint8_t author[32],
                        uint8_t *kind) {
    sz__byhash_t b;
    int rc = sz__version_get(t, s, rid, &b);
    if (rc != 0)
        return rc;
    uint8_t *val;
    size_t len;
    if ((rc = log_copy(s, t, b.seq, &val, &len)) != 0)
        return rc;
    sz__logent_t e;
    rc = sz__logent_decode(&e, val, len, 0);
    if (rc == 0) {
        memcpy(author, e.rec.author, 32);
        if (kind != NULL)
            *kind = e.rec.kind;
    } else {
        sz__txn_fail(t, SZ_E_CORRUPT, 0);
    }
    free(val);
    return rc;
}

/* Retraction authority: the record's original author everywhere, or an editor (admins are
 * editors) by this node's policy. */
static int may_retract(sz_store_t *s, const uint8_t *rid, const uint8_t *fa, const uint8_t *ra) {
    if (memcmp(fa, ra, 32) == 0)
        return 1;
    uint8_t r[32], f[32], a[32];
    memcpy(r, rid, 32);
    memcpy(f, fa, 32);
    memcpy(a, ra, 32);
    return s->editor != NULL && s->editor(s->editor_arg, r, f, a);
}

/* A retraction body: the record id and the version hashes (malloc'd, 32 bytes each). */
typedef struct retraction_s {
    uint8_t record[32];
    uint8_t (*versions)[32];
    size_t n;
} retraction_t;

static int parse_retraction(const sz_record_t *rec, retraction_t *out) {
    memset(out, 0, sizeof(*out));
    json_t *doc = json_loadb((const char *)rec->body, rec->body_len, 0, NULL);
    if (doc == NULL)
        return SZ_E_JSON;
    int rc = SZ_E_SCHEMA;
    json_t *r = json_object_get(doc, "record"), *vs = json_object_get(doc, "versions");
    if (!json_is_string(r) || !json_is_array(vs) || json_array_size(vs) == 0 ||
        sz_hex_decode(out->record, 32, json_string_value(r)) != 0)
        goto out;
    out->versions = calloc(json_array_size(vs), 32);
    if (out->versions == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(vs); i++) {
        json_t *h = json_array_get(vs, i);
        if (!json_is_string(h) || sz_hex_decode(out->versions[i], 32, json_string_value(h)) != 0)
            goto out;
    }
    out->n = json_array_size(vs);
    rc = 0;
out:
    if (rc != 0) {
        free(out->versions);
        out->versions = NULL;
    }
    json_decref(doc);
    return rc;
}

static int parse_revocation(const sz_record_t *rec, uint8_t key[32]) {
    json_t *doc = json_loadb((const char *)rec->body, rec->body_len, 0, NULL);
    if (doc == NULL)
        return SZ_E_JSON;
    json_t *k = json_object_get(doc, "key");
    int rc = json_is_string(k) && sz_pubkey_parse(key, json_string_value(k)) == 0 ? 0 : SZ_E_SCHEMA;
    json_decref(doc);
    return rc;
}

/* Whether retraction r by author ra may be stored here: when the record it names is stored, ra must
 * be its original author or an editor, every named version that is stored must belong to it, and
 * only testimony and case versions can be retracted. When the record is not stored yet the check
 * waits for its first version (sz__safety_admit, tombstone branch). */
static int check_retraction(sz_store_t *s, sz__txn_t *t, const retraction_t *r, const uint8_t *ra) {
    uint8_t fa[32], kind = 0;
    int rc = first_author(s, t, r->record, fa, &kind);
    if (rc == SZ_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (!may_retract(s, r->record, fa, ra))
        return SZ_E_DENIED;
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE)
        return SZ_E_DENIED; /* retractions and revocations must keep travelling */
    for (size_t i = 0; i < r->n; i++) {
        sz__byhash_t b;
        rc = sz__version_get(t, s, r->versions[i], &b);
        if (rc == SZ_E_NOT_FOUND)
            continue;
        if (rc != 0)
            return rc;
        uint8_t k8[8];
        sz_be64_put(k8, b.recno);
        MDB_val k = {8, k8}, v;
        rc = sz__txn_get(t, s->recnos, &k, &v);
        if (rc != 0 || v.mv_size != 32)
            return sz__txn_fail(t, SZ_E_CORRUPT, 0);
        if (memcmp(v.mv_data, r->record, 32) != 0)
            return SZ_E_RECORD_ID;
    }
    return 0;
}

int sz__safety_admit(sz_store_t *s, sz__txn_t *t, const sz_verified_t *v) {
    const sz_record_t *rec = &v->rec;
    const uint8_t *rid = rec->nparents == 0 ? v->version_hash : rec->record_id;
    MDB_val k = {32, (void *)v->version_hash}, d;
    /* Only testimony and case versions can be retracted (check_retraction), whatever the order
     * of arrival. */
    int rc = s->any_retracted && (rec->kind == SZ_KIND_TESTIMONY || rec->kind == SZ_KIND_CASE)
                 ? sz__txn_get(t, s->retracted, &k, &d)
                 : SZ_E_NOT_FOUND;
    if (rc == 0 && d.mv_size == TOMB_LEN) {
        uint8_t tomb[TOMB_LEN], fa[32];
        memcpy(tomb, d.mv_data, TOMB_LEN);
        /* A tombstone counts only for the record it names, and only when its author had the right
         * to retract: an unauthorised retraction that arrived first never hides anything. */
        if (memcmp(tomb + 32, rid, 32) == 0) {
            int fr = 0;
            if (rec->nparents == 0)
                memcpy(fa, rec->author, 32);
            else
                fr = first_author(s, t, rid, fa, NULL);
            if (fr == 0 && may_retract(s, rid, fa, tomb + 64))
                return SZ_E_RETRACTED;
            if (fr != 0 && fr != SZ_E_NOT_FOUND)
                return fr;
        }
    } else if (rc != 0 && rc != SZ_E_NOT_FOUND) {
        return rc;
    }
    MDB_val ak = {32, (void *)rec->author};
    rc = s->any_revoked ? sz__txn_get(t, s->revoked, &ak, &d) : SZ_E_NOT_FOUND;
    if (rc == 0)
        return SZ_E_REVOKED;
    if (rc != SZ_E_NOT_FOUND)
        return rc;
    if (rec->kind == SZ_KIND_RETRACTION) {
        if (rec->flags & SZ_FLAG_SEALED)
            return SZ_E_SEALED; /* nodes must read a retraction to act on it */
        retraction_t r;
        if ((rc = parse_retraction(rec, &r)) != 0)
            return rc;
        rc = check_retraction(s, t, &r, rec->author);
        free(r.versions);
        return rc;
    }
    if (rec->kind == SZ_KIND_REVOCATION) {
        if (rec->flags & SZ_FLAG_SEALED)
            return SZ_E_SEALED;
        uint8_t key[32], zero[32] = {0}, author[32];
        if ((rc = parse_revocation(rec, key)) != 0)
            return rc;
        memcpy(author, rec->author, 32);
        if (memcmp(key, author, 32) != 0 &&
            (s->editor == NULL || !s->editor(s->editor_arg, zero, key, author)))
            return SZ_E_DENIED;
    }
    return 0;
}

/* Purges one stored version: index entries (when it is current), then its log value becomes a
 * stub and its byhash entry is flagged. */
static int purge_one(sz_store_t *s, sz__txn_t *t, const uint8_t *hash, const uint8_t *rh) {
    sz__byhash_t b;
    int rc = sz__version_get(t, s, hash, &b);
    if (rc == SZ_E_NOT_FOUND)
        return 0;
    if (rc != 0 || (b.flags & SZ__BH_PURGED))
        return rc;
    uint8_t *val = NULL;
    size_t len = 0;
    if ((rc = log_copy(s, t, b.seq, &val, &len)) != 0)
        return rc;
    sz__logent_t e;
    uint8_t stub[SZ__STUB_LEN(SZ_RECORD_MAX_PARENTS)];
    if (sz__logent_decode(&e, val, len, 0) != 0 || e.purged) {
        free(val);
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    }
    const uint8_t *rid = e.rec.nparents == 0 ? hash : e.rec.record_id;
    sz__recval_t r;
    rc = sz__record_get(t->txn, s, rid, &r);
    if (rc != 0) {
        free(val);
        return sz__txn_fail(t, rc == SZ_E_NOT_FOUND ? SZ_E_CORRUPT : rc, 0);
    }
    if (memcmp(r.current, hash, 32) == 0) {
        /* The index finds its entries from the body, so this comes before the body goes. */
        rc = sz_index_remove(s->idx, t->txn, rid, r.first_created, &e.rec);
        if (rc != 0) {
            free(val);
            return sz__txn_fail_module(t, rc);
        }
    }
    size_t sl = stub_encode(stub, &e.rec, hash, rh);
    free(val);
    uint8_t k8[8], bv[SZ__BYHASH_REC_LEN];
    sz_be64_put(k8, b.seq);
    MDB_val lk = {8, k8}, lv = {sl, stub};
    sz__txn_put(t, s->log, &lk, &lv, 0);
    /* Flag the byhash entry, keeping the record entry a first version's value carries. */
    MDB_val hk = {32, (void *)hash}, old;
    if (sz__txn_get(t, s->byhash, &hk, &old) != 0 || old.mv_size > sizeof bv)
        return sz__txn_fail(t, SZ_E_CORRUPT, 0);
    memcpy(bv, old.mv_data, old.mv_size);
    b.flags |= SZ__BH_PURGED;
    sz__byhash_encode(bv, &b);
    MDB_val hv = {old.mv_size, bv};
    sz__txn_put(t, s->byhash, &hk, &hv, 0);
    return t->err;
}

/* Rebuilds the full-text document of record rid after a purge: whatever version it held may be
 * gone, so it is dropped and set again from the current version when that is readable text. */
static int refresh_fts(sz_store_t *s, sz__txn_t *t, const uint8_t *rid) {
    sz__recval_t r;
    int rc = sz__record_get(t->txn, s, rid, &r);
    if (rc == SZ_E_NOT_FOUND)
        return 0;
    if (rc != 0)
        return sz__txn_fail(t, rc, 0);
    if ((rc = sz_fts_delete(s->fts, t->txn, r.recno)) != 0)
        return sz__txn_fail_module(t, rc);
    uint8_t *val = NULL;
    size_t len = 0;
    if ((rc = log_copy(s, t, r.cur_seq, &val, &len)) != 0)
        return rc;
    sz__logent_t e;
    rc = sz__logent_decode(&e, val, len, 0);
    if (rc != 0)
        sz__txn_fail(t, SZ_E_CORRUPT, 0);
    else if (!e.purged && !(e.rec.flags & SZ_FLAG_SEALED) &&
             (e.rec.kind == SZ_KIND_TESTIMONY || e.rec.kind == SZ_KIND_CASE)) {
        rc = sz_fts_set(s->fts, t->txn, r.recno, e.rec.kind, e.rec.body, e.rec.body_len);
        if (rc == SZ_E_JSON)
            rc = 0;
        if (rc != 0)
            sz__txn_fail_module(t, rc);
    }
    free(val);
    return t->err;
}

int sz__safety_apply(sz_store_t *s, sz__txn_t *t, const sz_verified_t *v) {
    const sz_record_t *rec = &v->rec;
    int rc;
    if (rec->kind == SZ_KIND_REVOCATION) {
        uint8_t key[32], val[REVOKED_LEN];
        if (parse_revocation(rec, key) != 0)
            return 0; /* admit checked it */
        memcpy(val, v->version_hash, 32);
        sz_be64_put(val + 32, rec->created);
        MDB_val k = {32, key}, d = {sizeof(val), val};
        rc = sz__txn_put(t, s->revoked, &k, &d, MDB_NOOVERWRITE);
        /* Set before the commit: if the transaction aborts this only costs lookups. */
        s->any_revoked = 1;
        return rc == SZ_E_EXISTS ? 0 : rc;
    }
    if (rec->kind != SZ_KIND_RETRACTION)
        return 0;
    retraction_t r;
    if ((rc = parse_retraction(rec, &r)) != 0)
        return rc == -ENOMEM ? sz__txn_fail(t, rc, 0) : 0;
    uint8_t tomb[TOMB_LEN];
    memcpy(tomb, v->version_hash, 32);
    memcpy(tomb + 32, r.record, 32);
    memcpy(tomb + 64, rec->author, 32);
    s->any_retracted = 1;
    int purged = 0;
    for (size_t i = 0; i < r.n && t->err == 0; i++) {
        MDB_val k = {32, r.versions[i]}, d = {sizeof(tomb), tomb};
        rc = sz__txn_put(t, s->retracted, &k, &d, MDB_NOOVERWRITE);
        if (rc != 0 && rc != SZ_E_EXISTS)
            break;
        sz__byhash_t b;
        rc = sz__version_get(t, s, r.versions[i], &b);
        if (rc == 0 && !(b.flags & SZ__BH_PURGED)) {
            purge_one(s, t, r.versions[i], v->version_hash);
            purged = 1;
        }
    }
    if (purged && t->err == 0)
        refresh_fts(s, t, r.record);
    free(r.versions);
    return t->err;
}

/* ---- public reads ---- */

int sz_store_retracted_by(sz_store_t *s, const uint8_t hash[static 32], uint8_t retraction[32]) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {32, (void *)hash}, v;
    rc = mdb_get(txn, s->retracted, &k, &v);
    if (rc == 0 && v.mv_size == TOMB_LEN) {
        if (retraction != NULL)
            memcpy(retraction, v.mv_data, 32);
        rc = 1;
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : (rc == 0 ? SZ_E_CORRUPT : sz__lmdb_err(rc));
    }
    sz__rd_end(s, txn);
    return rc;
}

int sz_store_is_revoked(sz_store_t *s, const uint8_t key[static 32], uint8_t revocation[32]) {
    MDB_txn *txn;
    int rc = sz__rd_begin(s, &txn);
    if (rc != 0)
        return rc;
    MDB_val k = {32, (void *)key}, v;
    rc = mdb_get(txn, s->revoked, &k, &v);
    if (rc == 0 && v.mv_size == REVOKED_LEN) {
        if (revocation != NULL)
            memcpy(revocation, v.mv_data, 32);
        rc = 1;
    } else {
        rc = rc == MDB_NOTFOUND ? 0 : (rc == 0 ? SZ_E_CORRUPT : sz__lmdb_err(rc));
    }
    sz__rd_end(s, txn);
    return rc;
}
