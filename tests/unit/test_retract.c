/* Unit tests of witness safety in the store (daemon/safety.h): sealed bodies never reach the
 * indexes, retraction purges and leaves tombstones, revocation refuses a key's new records, and
 * compaction removes purged bytes from the disk. Real stores in temporary folders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "encoding.h"
#include "error.h"
#include "maint.h"
#include "merkle.h"
#include "record.h"
#include "safety.h"
#include "seal.h"
#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1764000000000ull

static uint8_t sk_a[64], sk_b[64], sk_c[64];

static char *tmpdir(void) {
    char tmpl[] = "/tmp/sz-test-retract-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rmtree(char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

typedef struct env_s {
    uint8_t *buf;
    size_t len;
    uint8_t hash[32];
} env_t;

static env_t sign(const uint8_t *sk, unsigned kind, unsigned flags, uint64_t created,
                  const uint8_t *rid, const uint8_t *parents, unsigned np, const uint8_t *body,
                  size_t blen) {
    sz_record_fields_t f = {.kind = (uint8_t)kind,
                            .flags = (uint8_t)flags,
                            .created = created,
                            .record_id = rid,
                            .parents = parents,
                            .nparents = (uint8_t)np,
                            .body = body,
                            .body_len = (uint32_t)blen};
    env_t e;
    assert_int_equal(sz_record_sign(&f, sk, &e.buf, &e.len), 0);
    crypto_hash_sha256(e.hash, e.buf, e.len);
    return e;
}

static env_t testimony(const uint8_t *sk, uint64_t created, const env_t *parent, const char *word) {
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"title\":\"Testimony %s\",\"statement\":{\"text\":\"The witness %s left the "
             "unit\",\"language\":\"en\"},\"witness\":{\"role\":\"conscript\"},"
             "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"desertion\"]}",
             word, word);
    uint8_t rid[32];
    if (parent != NULL) {
        /* The parent's record id: its own hash when it is a first version. */
        sz_record_t pr;
        assert_int_equal(sz_record_decode(&pr, parent->buf, parent->len), 0);
        sz_record_id(&pr, parent->hash, rid);
    }
    return sign(sk, SZ_KIND_TESTIMONY, 0, created, parent ? rid : NULL,
                parent ? parent->hash : NULL, parent ? 1 : 0, (const uint8_t *)body, strlen(body));
}

static env_t retraction(const uint8_t *sk, uint64_t created, const uint8_t *rid,
                        const env_t *const *vs, size_t n) {
    char body[4096], hex[65];
    sz_hex_encode(hex, rid, 32);
    int off = snprintf(body, sizeof(body), "{\"record\":\"%s\",\"versions\":[", hex);
    for (size_t i = 0; i < n; i++) {
        sz_hex_encode(hex, vs[i]->hash, 32);
        off += snprintf(body + off, sizeof(body) - (size_t)off, "%s\"%s\"", i ? "," : "", hex);
    }
    off +=
        snprintf(body + off, sizeof(body) - (size_t)off, "],\"reason\":\"endangers the witness\"}");
    return sign(sk, SZ_KIND_RETRACTION, 0, created, NULL, NULL, 0, (const uint8_t *)body,
                (size_t)off);
}

static env_t revocation(const uint8_t *signer, uint64_t created, const uint8_t *key) {
    char body[256], text[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(text, key);
    int n = snprintf(body, sizeof(body), "{\"key\":\"%s\",\"reason\":\"laptop stolen\"}", text);
    return sign(signer, SZ_KIND_REVOCATION, 0, created, NULL, NULL, 0, (const uint8_t *)body,
                (size_t)n);
}

static int put(sz_store_t *s, const env_t *e) {
    const uint8_t *b = e->buf;
    sz_put_result_t r;
    assert_int_equal(sz_store_put_batch(s, &b, &e->len, 1, &r), 0);
    return r.err;
}

static int allow_editor_b(void *arg, const uint8_t rid[32], const uint8_t first[32],
                          const uint8_t author[32]) {
    (void)arg;
    (void)rid;
    (void)first;
    return memcmp(author, sk_b + 32, 32) == 0;
}

static sz_store_t *open_store(const char *dir, int editor_b) {
    sz_store_t *s = NULL;
    sz_store_options_t o = {0};
    if (editor_b)
        o.editor = allow_editor_b;
    assert_int_equal(sz_store_open(&s, dir, &o), 0);
    return s;
}

/* 1 when any regular file in dir (not recursing) holds the ml bytes of marker. */
static int folder_holds_bytes(const char *dir, const void *marker, size_t ml) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    int found = 0;
    while ((de = readdir(d)) != NULL) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        assert_non_null(buf);
        size_t n = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        for (size_t i = 0; i + ml <= n && !found; i++)
            if (memcmp(buf + i, marker, ml) == 0)
                found = 1;
        free(buf);
    }
    closedir(d);
    return found;
}

static int folder_holds(const char *dir, const char *marker) {
    return folder_holds_bytes(dir, marker, strlen(marker));
}

static size_t check_problems(const char *dir) {
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    return problems;
}

static size_t search(sz_store_t *s, const char *q) {
    sz_search_hit_t hits[8];
    size_t n = 0;
    assert_int_equal(sz_store_fts_catchup(s, 0, NULL), 0);
    assert_int_equal(sz_store_search(s, q, hits, 8, &n), 0);
    return n;
}

typedef struct logwalk_s {
    size_t n;
    uint64_t seq[8];
    uint8_t hash[8][32], env_hash[8][32];
    int purged[8];
    uint8_t by[8][32];
} logwalk_t;

static int log_cb(void *arg, const sz_version_info_t *v) {
    logwalk_t *w = arg;
    if (w->n < 8) {
        w->seq[w->n] = v->seq;
        memcpy(w->hash[w->n], v->version_hash, 32);
        crypto_hash_sha256(w->env_hash[w->n], v->rec->envelope, v->rec->envelope_len);
        w->purged[w->n] = v->purged_by != NULL;
        if (v->purged_by != NULL)
            memcpy(w->by[w->n], v->purged_by, 32);
    }
    w->n++;
    return 0;
}

static int count_cb(void *arg, const sz_version_info_t *v) {
    (void)v;
    (*(size_t *)arg)++;
    return 0;
}

/* ---- sealed bodies ---- */

static void test_sealed_never_indexed(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    const char *plain = "{\"title\":\"Sealed\",\"statement\":{\"text\":\"qzmarkersealedxq names "
                        "the unit\",\"language\":\"en\"},\"witness\":{\"role\":\"soldier\"},"
                        "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"desertion\"]}";
    uint8_t *body = NULL;
    size_t blen = 0;
    assert_int_equal(sz_seal((const uint8_t *)plain, strlen(plain), SZ_KIND_TESTIMONY, sk_a + 32,
                             sk_c + 32, 1, &body, &blen),
                     0);
    env_t e = sign(sk_a, SZ_KIND_TESTIMONY, SZ_FLAG_SEALED, T0, NULL, NULL, 0, body, blen);
    assert_int_equal(put(s, &e), 0);
    assert_int_equal(search(s, "qzmarkersealedxq"), 0);
    /* Structure is checked without a key: a sealed flag over garbage is refused. */
    const char *junk = "\x01 this is not a sealed body at all";
    env_t bad = sign(sk_a, SZ_KIND_TESTIMONY, SZ_FLAG_SEALED, T0 + 1, NULL, NULL, 0,
                     (const uint8_t *)junk, strlen(junk));
    assert_int_equal(put(s, &bad), SZ_E_MALFORMED);
    body[0] = 9; /* unknown seal version */
    env_t badv = sign(sk_a, SZ_KIND_TESTIMONY, SZ_FLAG_SEALED, T0 + 2, NULL, NULL, 0, body, blen);
    assert_int_equal(put(s, &badv), SZ_E_VERSION);
    sz_store_close(s);
    /* Only ciphertext reached the disk: no file of the folder holds the plaintext marker. */
    assert_false(folder_holds(dir, "qzmarkersealedxq"));
    /* ... while the ciphertext is there: the tail of the sealed body, stored verbatim. */
    assert_true(folder_holds_bytes(dir, body + blen - 64, 64));
    assert_int_equal(check_problems(dir), 0);
    free(body);
    free(e.buf);
    free(bad.buf);
    free(badv.buf);
    rmtree(dir);
}

/* ---- retraction ---- */

static void test_author_retraction_purges(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t v1 = testimony(sk_a, T0, NULL, "qzmarkeroneq");
    env_t v2 = testimony(sk_a, T0 + 1000, &v1, "qzmarkertwoq");
    env_t other = testimony(sk_b, T0 + 2000, NULL, "unrelated");
    assert_int_equal(put(s, &v1), 0);
    assert_int_equal(put(s, &v2), 0);
    assert_int_equal(put(s, &other), 0);
    assert_int_equal(search(s, "qzmarkertwoq"), 1);

    /* Proofs and root before the purge. */
    uint8_t root_before[32], root_after[32], leaf[32];
    assert_int_equal(sz_store_tree_root(s, 3, root_before), 0);
    uint8_t proof[SZ_MERKLE_MAX_INCLUSION_LEN];
    size_t plen = 0;

    const env_t *vs[] = {&v1, &v2};
    env_t r = retraction(sk_a, T0 + 3000, v1.hash, vs, 2);
    assert_int_equal(put(s, &r), 0);

    uint8_t *env = NULL;
    size_t len = 0, n = 0;
    uint8_t by[32];
    assert_int_equal(sz_store_get_version(s, v1.hash, &env, &len), SZ_E_RETRACTED);
    assert_null(env);
    assert_int_equal(sz_store_get_version(s, v2.hash, &env, &len), SZ_E_RETRACTED);
    assert_int_equal(sz_store_retracted_by(s, v2.hash, by), 1);
    assert_memory_equal(by, r.hash, 32);
    assert_int_equal(sz_store_retracted_by(s, other.hash, NULL), 0);
    sz_store_record_t *rec = NULL;
    assert_int_equal(sz_store_get_record(s, v1.hash, &rec), SZ_E_RETRACTED);
    assert_int_equal(sz_store_get_version(s, other.hash, &env, &len), 0);
    free(env);
    /* Index and full text forget it; history passes over purged versions. */
    assert_int_equal(search(s, "qzmarkertwoq"), 0);
    assert_int_equal(search(s, "unrelated"), 1);
    sz_query_t q = {.kind = SZ_KIND_TESTIMONY, .limit = 10};
    uint8_t ids[10][32];
    size_t nids = 0;
    char cursor[256];
    assert_int_equal(sz_store_list(s, &q, ids, &nids, cursor), 0);
    assert_int_equal(nids, 1);
    assert_memory_equal(ids[0], other.hash, 32);
    assert_int_equal(sz_store_history(s, v1.hash, count_cb, &n), 0);
    assert_int_equal(n, 0);
    /* The log walk (replication) gives every position: a purged one as its own hash with the
     * retraction's envelope, so pages stay contiguous and carry the tombstone. */
    logwalk_t lw = {0};
    uint64_t next = 0;
    assert_int_equal(sz_store_log(s, 0, 0, log_cb, &lw, &next), 0);
    assert_int_equal(lw.n, 4);
    assert_int_equal(next, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(lw.seq[i], i);
    assert_memory_equal(lw.hash[0], v1.hash, 32);
    assert_memory_equal(lw.hash[1], v2.hash, 32);
    assert_true(lw.purged[0] && lw.purged[1] && !lw.purged[2] && !lw.purged[3]);
    assert_memory_equal(lw.by[0], r.hash, 32);
    assert_memory_equal(lw.env_hash[0], r.hash, 32);
    assert_memory_equal(lw.env_hash[1], r.hash, 32);
    assert_memory_equal(lw.env_hash[2], other.hash, 32);
    /* The version hashes stay: the Merkle log and its proofs are unchanged. */
    assert_int_equal(sz_store_has_version(s, v1.hash), 1);
    assert_int_equal(sz_store_tree_root(s, 3, root_after), 0);
    assert_memory_equal(root_before, root_after, 32);
    uint8_t root4[32];
    assert_int_equal(sz_store_tree_root(s, 4, root4), 0);
    for (uint64_t i = 0; i < 2; i++) {
        const env_t *x = i == 0 ? &v1 : &v2;
        sz_merkle_leaf_hash(leaf, x->hash, 32);
        assert_int_equal(sz_store_inclusion_proof(s, i, 4, proof, &plen), 0);
        assert_int_equal(sz_merkle_verify_inclusion(leaf, i, 4, proof, plen, root4), 0);
    }
    uint8_t cproof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    assert_int_equal(sz_store_consistency_proof(s, 3, 4, cproof, &plen), 0);
    assert_int_equal(sz_merkle_verify_consistency(3, 4, root_before, root4, cproof, plen), 0);
    assert_int_equal(sz_store_consistency_proof(s, 1, 3, cproof, &plen), 0);
    uint8_t root1[32];
    assert_int_equal(sz_store_tree_root(s, 1, root1), 0);
    assert_int_equal(sz_merkle_verify_consistency(1, 3, root1, root_before, cproof, plen), 0);

    /* Nothing comes back: a mirror that missed the retraction offers the versions again. */
    assert_int_equal(put(s, &v1), SZ_E_RETRACTED);
    assert_int_equal(put(s, &v2), SZ_E_RETRACTED);
    assert_int_equal(put(s, &r), 0); /* the retraction itself is idempotent */
    sz_store_stats_t st;
    assert_int_equal(sz_store_stats(s, &st), 0);
    assert_int_equal(st.versions, 4);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);

    /* Compaction: afterwards no file of the folder holds either marker. */
    int before = folder_holds(dir, "qzmarkertwoq") || folder_holds(dir, "qzmarkeroneq");
    print_message("marker in data.mdb before compaction: %s\n", before ? "yes" : "no");
    uint64_t b0 = 0, b1 = 0;
    char err[256];
    assert_int_equal(sz_compact(dir, err, sizeof(err), &b0, &b1), 0);
    assert_false(folder_holds(dir, "qzmarkertwoq"));
    assert_false(folder_holds(dir, "qzmarkeroneq"));
    assert_true(folder_holds(dir, "unrelated")); /* the rest is all there */
    assert_int_equal(check_problems(dir), 0);
    s = open_store(dir, 0);
    assert_int_equal(sz_store_tree_root(s, 4, root_after), 0);
    assert_memory_equal(root4, root_after, 32);
    assert_int_equal(sz_store_get_version(s, v1.hash, &env, &len), SZ_E_RETRACTED);
    assert_int_equal(put(s, &v1), SZ_E_RETRACTED);
    assert_int_equal(search(s, "unrelated"), 1);
    env_t later = testimony(sk_b, T0 + 5000, NULL, "after compaction");
    assert_int_equal(put(s, &later), 0);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    free(v1.buf);
    free(v2.buf);
    free(other.buf);
    free(r.buf);
    free(later.buf);
    rmtree(dir);
}

static void test_unauthorised_retraction(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t v1 = testimony(sk_a, T0, NULL, "qzkeepmeq");
    assert_int_equal(put(s, &v1), 0);
    const env_t *vs[] = {&v1};
    env_t rb = retraction(sk_b, T0 + 1, v1.hash, vs, 1);
    assert_int_equal(put(s, &rb), SZ_E_DENIED);
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(sz_store_get_version(s, v1.hash, &env, &len), 0);
    free(env);
    assert_int_equal(sz_store_retracted_by(s, v1.hash, NULL), 0);
    assert_int_equal(search(s, "qzkeepmeq"), 1);
    /* A retraction naming another record's version under this record id is refused too. */
    env_t w = testimony(sk_a, T0 + 2, NULL, "second");
    assert_int_equal(put(s, &w), 0);
    const env_t *ws[] = {&w};
    env_t rx = retraction(sk_a, T0 + 3, v1.hash, ws, 1);
    assert_int_equal(put(s, &rx), SZ_E_RECORD_ID);
    /* A retraction of a retraction is refused: retractions must keep travelling. */
    const env_t *self[] = {&rb};
    env_t rr = retraction(sk_b, T0 + 4, rb.hash, self, 1);
    assert_int_equal(put(s, &rr), 0); /* rb was never stored: nothing here to check yet */
    const env_t *rrs[] = {&rr};
    env_t rrr = retraction(sk_b, T0 + 5, rr.hash, rrs, 1);
    assert_int_equal(put(s, &rrr), SZ_E_DENIED);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);

    /* The same retraction is accepted by a node whose policy names B an editor. */
    s = open_store(dir, 1);
    assert_int_equal(put(s, &rb), 0);
    assert_int_equal(sz_store_get_version(s, v1.hash, &env, &len), SZ_E_RETRACTED);
    assert_int_equal(search(s, "qzkeepmeq"), 0);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    free(v1.buf);
    free(rb.buf);
    free(w.buf);
    free(rx.buf);
    free(rr.buf);
    free(rrr.buf);
    rmtree(dir);
}

static void test_retraction_before_targets(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t v1 = testimony(sk_a, T0, NULL, "early");
    env_t v2 = testimony(sk_a, T0 + 1, &v1, "early two");
    const env_t *vs[] = {&v1, &v2};
    env_t r = retraction(sk_a, T0 + 2, v1.hash, vs, 2);
    /* Out-of-order sync: the retraction first, then the versions it names. */
    assert_int_equal(put(s, &r), 0);
    assert_int_equal(sz_store_retracted_by(s, v1.hash, NULL), 1);
    assert_int_equal(put(s, &v1), SZ_E_RETRACTED);
    /* v2's parent never gets stored, so v2 waits for it for ever (and stays out). */
    assert_int_equal(put(s, &v2), SZ_E_PARENT_MISSING);
    assert_int_equal(sz_store_has_version(s, v1.hash), 0);
    assert_int_equal(sz_store_has_version(s, v2.hash), 0);
    /* Also within one batch, in any order. */
    env_t u1 = testimony(sk_a, T0 + 10, NULL, "batch");
    const env_t *us[] = {&u1};
    env_t ru = retraction(sk_a, T0 + 11, u1.hash, us, 1);
    const uint8_t *bufs[] = {ru.buf, u1.buf};
    size_t lens[] = {ru.len, u1.len};
    sz_put_result_t res[2];
    assert_int_equal(sz_store_put_batch(s, bufs, lens, 2, res), 0);
    assert_int_equal(res[0].err, 0);
    assert_int_equal(res[1].err, SZ_E_RETRACTED);
    /* An early retraction by someone without the right never hides the version. */
    env_t x1 = testimony(sk_a, T0 + 20, NULL, "qzsurvivesq");
    const env_t *xs[] = {&x1};
    env_t rx = retraction(sk_b, T0 + 21, x1.hash, xs, 1);
    assert_int_equal(put(s, &rx), 0);
    assert_int_equal(put(s, &x1), 0);
    assert_int_equal(search(s, "qzsurvivesq"), 1);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    free(v1.buf);
    free(v2.buf);
    free(r.buf);
    free(u1.buf);
    free(ru.buf);
    free(x1.buf);
    free(rx.buf);
    rmtree(dir);
}

static void test_redaction(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t v1 = testimony(sk_a, T0, NULL, "qzdangerq");
    env_t v2 = testimony(sk_a, T0 + 1, &v1, "redacted");
    assert_int_equal(put(s, &v1), 0);
    assert_int_equal(put(s, &v2), 0);
    const env_t *vs[] = {&v1};
    env_t r = retraction(sk_a, T0 + 2, v1.hash, vs, 1);
    assert_int_equal(put(s, &r), 0);
    sz_store_record_t *rec = NULL;
    assert_int_equal(sz_store_get_record(s, v1.hash, &rec), 0);
    assert_memory_equal(rec->current, v2.hash, 32);
    sz_store_record_free(rec);
    assert_int_equal(search(s, "qzdangerq"), 0);
    assert_int_equal(search(s, "redacted"), 1);
    size_t n = 0;
    assert_int_equal(sz_store_history(s, v1.hash, count_cb, &n), 0);
    assert_int_equal(n, 1);
    /* A new version on top of a purged current version (retract everything, then amend). */
    const env_t *v2s[] = {&v2};
    env_t r2 = retraction(sk_a, T0 + 3, v1.hash, v2s, 1);
    assert_int_equal(put(s, &r2), 0);
    assert_int_equal(sz_store_get_record(s, v1.hash, &rec), SZ_E_RETRACTED);
    env_t v3 = testimony(sk_a, T0 + 4, &v2, "fresh start");
    assert_int_equal(put(s, &v3), 0);
    assert_int_equal(sz_store_get_record(s, v1.hash, &rec), 0);
    assert_memory_equal(rec->current, v3.hash, 32);
    sz_store_record_free(rec);
    /* Amend rights still come from the purged first version's author. */
    env_t vb = testimony(sk_b, T0 + 5, &v3, "not mine");
    assert_int_equal(put(s, &vb), SZ_E_DENIED);
    assert_int_equal(search(s, "fresh"), 1);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    free(v1.buf);
    free(v2.buf);
    free(v3.buf);
    free(vb.buf);
    free(r.buf);
    free(r2.buf);
    rmtree(dir);
}

/* ---- revocation ---- */

static void test_revocation(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t old = testimony(sk_a, T0, NULL, "before theft");
    assert_int_equal(put(s, &old), 0);
    /* Someone else may not revoke A's key (no editor here). */
    env_t rb = revocation(sk_b, T0 + 1, sk_a + 32);
    assert_int_equal(put(s, &rb), SZ_E_DENIED);
    env_t self = revocation(sk_a, T0 + 2, sk_a + 32);
    assert_int_equal(put(s, &self), 0);
    assert_int_equal(sz_store_is_revoked(s, sk_a + 32, NULL), 1);
    assert_int_equal(sz_store_is_revoked(s, sk_b + 32, NULL), 0);
    /* New records by the key are refused, whatever time they claim (a thief can backdate). */
    env_t stolen = testimony(sk_a, T0 + 3, NULL, "forged");
    env_t backdated = testimony(sk_a, T0 - 1000, NULL, "backdated forgery");
    env_t amend = testimony(sk_a, T0 + 4, &old, "forged amendment");
    assert_int_equal(put(s, &stolen), SZ_E_REVOKED);
    assert_int_equal(put(s, &backdated), SZ_E_REVOKED);
    assert_int_equal(put(s, &amend), SZ_E_REVOKED);
    /* What was stored before stays, and other keys are unaffected. */
    assert_int_equal(put(s, &old), 0);
    env_t fine = testimony(sk_b, T0 + 5, NULL, "other key");
    assert_int_equal(put(s, &fine), 0);
    sz_store_close(s);
    assert_int_equal(check_problems(dir), 0);
    /* An editor (admins are editors) may revoke another key. */
    s = open_store(dir, 1);
    assert_int_equal(put(s, &rb), 0); /* A is already revoked: B's revocation still stores */
    env_t rc_ = revocation(sk_b, T0 + 6, sk_c + 32);
    assert_int_equal(put(s, &rc_), 0);
    env_t byc = testimony(sk_c, T0 + 7, NULL, "c after");
    assert_int_equal(put(s, &byc), SZ_E_REVOKED);
    sz_store_close(s);
    free(old.buf);
    free(rb.buf);
    free(self.buf);
    free(stolen.buf);
    free(backdated.buf);
    free(amend.buf);
    free(fine.buf);
    free(rc_.buf);
    free(byc.buf);
    rmtree(dir);
}

/* ---- compaction ---- */

static void test_compact_refused_while_locked(void **state) {
    (void)state;
    char *dir = tmpdir();
    sz_store_t *s = open_store(dir, 0);
    env_t v = testimony(sk_a, T0, NULL, "kept");
    assert_int_equal(put(s, &v), 0);
    sz_store_close(s);
    struct stat st0, st1;
    char path[512], lock[512], err[256] = "";
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    snprintf(lock, sizeof(lock), "%s/samizdatd.lock", dir);
    assert_int_equal(stat(path, &st0), 0);
    int fd = open(lock, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0); /* as a running node holds it */
    assert_int_equal(sz_compact(dir, err, sizeof(err), NULL, NULL), SZ_E_STATE);
    assert_non_null(strstr(err, "stop it first"));
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(st0.st_ino, st1.st_ino); /* untouched */
    close(fd);
    assert_int_equal(sz_compact(dir, err, sizeof(err), NULL, NULL), 0);
    assert_int_equal(check_problems(dir), 0);
    /* No archive, no compaction; the temporary folder never stays behind. */
    char *empty = tmpdir();
    assert_int_equal(sz_compact(empty, err, sizeof(err), NULL, NULL), SZ_E_NOT_FOUND);
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        assert_null(strstr(de->d_name, "compact."));
    closedir(d);
    free(v.buf);
    rmtree(empty);
    rmtree(dir);
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t pk[32];
    crypto_sign_keypair(pk, sk_a);
    crypto_sign_keypair(pk, sk_b);
    crypto_sign_keypair(pk, sk_c);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sealed_never_indexed),
        cmocka_unit_test(test_author_retraction_purges),
        cmocka_unit_test(test_unauthorised_retraction),
        cmocka_unit_test(test_retraction_before_targets),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_compact_refused_while_locked),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
