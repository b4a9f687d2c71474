/* Tests for daemon/index: a real LMDB environment in a temporary folder, real signed records fed
 * to sz_index_update, and list queries checked against a brute-force model of the same records. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "edtf_range.h"
#include "encoding.h"
#include "error.h"
#include "index.h"
#include "record.h"

#define NAUTHORS 3
#define MAXREC 512

typedef struct env_s {
    char dir[64];
    MDB_env *env;
    sz_index_t *idx;
    uint8_t sk[NAUTHORS][64];
    uint8_t pk[NAUTHORS][32];
} env_t;

/* One record as the model sees it, with its current envelope. */
typedef struct rec_s {
    uint8_t id[32];
    uint8_t vhash[32];
    uint64_t created; /* first version */
    unsigned kind;
    int author;
    int alive;
    int sealed;
    char body[4096];
    uint8_t *env;
    size_t env_len;
    sz_record_t rec;
    /* model fields */
    const char *country;  /* NULL = none */
    const char *period;   /* NULL = none */
    const char *language; /* testimony statement language or case language */
    const char *wrole;    /* testimony */
    unsigned acts;        /* testimony act type bits */
    const char *etype;    /* case */
    const char *defection;
    unsigned pathways, roles;
    int attr; /* -1 none, else index into attr_vals */
    int links[4];
    int nlinks; /* indices of linked records (cases for a testimony, testimonies for a case) */
} rec_t;

static env_t E;
static rec_t R[MAXREC];
static int NR;

static const char *countries[] = {"UA", "RU", "SUHH", "BY"};
static const char *periods[] = {"1989",      "1989-04-12", "1990-01/1990-03", "198X",
                                "1988/1991", "1991-24",    "1985/..",         "2001-05-XX",
                                "1989~",     "../1950",    "Y-170000"};
static const char *languages[] = {"ru", "uk", "en-GB"};
static const char *wroles[] = {"soldier", "officer", "conscript", "relative", "civilian"};
static const char *acts[] = {"desertion", "defection", "refusal", "draft-evasion", "mutiny"};
static const char *etypes[] = {"military-defection", "mass-desertion"};
static const char *defections[] = {"exit", "resistance"};
static const char *pathways[] = {"resistance-repression", "coup", "hazing-draft-noncompliance",
                                 "territorial-disintegration"};
static const char *roles[] = {"commander", "subordinate", "principal", "civilian", "other"};
static const char *attr_json[] = {"\"high\"", "25.1", "true", "null"};
static const char *attr_text[] = {"high", "25.1", "true", NULL};

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static int setup(void **state) {
    (void)state;
    /* SZ_TEST_SEED replays another random archive and query mix. */
    const char *env_seed = getenv("SZ_TEST_SEED");
    if (env_seed != NULL && strtoul(env_seed, NULL, 10) != 0)
        rng_state = (uint32_t)strtoul(env_seed, NULL, 10);
    assert_int_equal(sodium_init() >= 0, 1);
    snprintf(E.dir, sizeof(E.dir), "/tmp/sz_test_index_XXXXXX");
    assert_non_null(mkdtemp(E.dir));
    assert_int_equal(mdb_env_create(&E.env), 0);
    assert_int_equal(mdb_env_set_maxdbs(E.env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(E.env, (size_t)256 << 20), 0);
    assert_int_equal(mdb_env_open(E.env, E.dir, MDB_NOSYNC, 0600), 0);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(E.env, NULL, 0, &txn), 0);
    assert_int_equal(sz_index_open(&E.idx, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    for (int i = 0; i < NAUTHORS; i++) {
        uint8_t seed[32] = {0};
        seed[0] = (uint8_t)(i + 1);
        crypto_sign_seed_keypair(E.pk[i], E.sk[i], seed);
    }
    NR = 0;
    return 0;
}

/* The store's side of sz_index_set_resolver(), played by the model: it knows every record the
 * test has signed, including ones never indexed or already retracted. */
static int model_resolve(void *ctx, MDB_txn *txn, const uint8_t id[static 32],
                         uint64_t *first_created) {
    (void)ctx;
    (void)txn;
    for (int i = 0; i < NR; i++) {
        if (R[i].env != NULL && memcmp(R[i].id, id, 32) == 0) {
            *first_created = R[i].created;
            return 0;
        }
    }
    return SZ_E_NOT_FOUND;
}

static int setup_resolver(void **state) {
    setup(state);
    sz_index_set_resolver(E.idx, model_resolve, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sz_index_close(E.idx);
    mdb_env_close(E.env);
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", E.dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", E.dir);
    unlink(path);
    rmdir(E.dir);
    for (int i = 0; i < NR; i++)
        free(R[i].env);
    memset(R, 0, sizeof(R));
    return 0;
}

static void hexid(char out[65], const uint8_t id[32]) {
    sz_hex_encode(out, id, 32);
}

/* Renders the model fields of r as a JSON body. */
static void render(rec_t *r) {
    char *b = r->body;
    size_t cap = sizeof(r->body), n = 0;
#define OUT(...) n += (size_t)snprintf(b + n, cap - n, __VA_ARGS__)
    if (r->kind == SZ_KIND_TESTIMONY) {
        OUT("{\"title\":\"T%d\",\"statement\":{\"text\":\"a \\\"quoted\\\" {statement}\"",
            (int)(r - R));
        if (r->language)
            OUT(",\"language\":\"%s\"", r->language);
        OUT("},\"witness\":{\"pseudonym\":\"x\",\"role\":\"%s\"},\"consent\":{\"scope\":"
            "\"public\"}",
            r->wrole);
        if (r->period || r->country) {
            OUT(",\"event\":{");
            if (r->period)
                OUT("\"date\":\"%s\"%s", r->period, r->country ? "," : "");
            if (r->country)
                OUT("\"place\":{\"name\":\"n\",\"country\":\"%s\"}", r->country);
            OUT("}");
        }
        OUT(",\"act_types\":[");
        int first = 1;
        for (int i = 0; i < 5; i++) {
            if (r->acts & (1u << i)) {
                OUT("%s\"%s\"", first ? "" : ",", acts[i]);
                first = 0;
            }
        }
        OUT("]");
        if (r->nlinks > 0) {
            OUT(",\"cases\":[");
            for (int i = 0; i < r->nlinks; i++) {
                char h[65];
                hexid(h, R[r->links[i]].id);
                OUT("%s\"%s\"", i ? "," : "", h);
            }
            OUT("]");
        }
        OUT("}");
    } else {
        OUT("{\"title\":\"C\",\"summary\":\"s\"");
        if (r->language)
            OUT(",\"language\":\"%s\"", r->language);
        if (r->period)
            OUT(",\"period\":\"%s\"", r->period);
        if (r->country)
            OUT(",\"place\":{\"country\":\"%s\"}", r->country);
        if (r->etype)
            OUT(",\"event_type\":\"%s\"", r->etype);
        OUT(",\"actors\":[");
        int first = 1;
        for (int i = 0; i < 5; i++) {
            if (r->roles & (1u << i)) {
                OUT("%s{\"name\":\"a\",\"role\":\"%s\"}", first ? "" : ",", roles[i]);
                first = 0;
            }
        }
        OUT("]");
        if (r->defection)
            OUT(",\"defection_type\":\"%s\"", r->defection);
        OUT(",\"pathways\":[");
        first = 1;
        for (int i = 0; i < 4; i++) {
            if (r->pathways & (1u << i)) {
                OUT("%s\"%s\"", first ? "" : ",", pathways[i]);
                first = 0;
            }
        }
        OUT("]");
        if (r->attr >= 0)
            OUT(",\"attributes\":{\"other\":\"x\",\"mobilisation\":%s}", attr_json[r->attr]);
        if (r->nlinks > 0) {
            OUT(",\"testimonies\":[");
            for (int i = 0; i < r->nlinks; i++) {
                char h[65];
                hexid(h, R[r->links[i]].id);
                OUT("%s\"%s\"", i ? "," : "", h);
            }
            OUT("]");
        }
        OUT("}");
    }
#undef OUT
    assert_true(n < cap);
}

/* Signs a new version of r (first version if it has no id yet) from its body. */
static void sign_version(rec_t *r, uint64_t created, int first) {
    sz_record_fields_t f = {0};
    f.kind = (uint8_t)r->kind;
    f.flags = r->sealed ? SZ_FLAG_SEALED : 0;
    f.created = created;
    if (!first) {
        f.record_id = r->id;
        f.parents = r->vhash;
        f.nparents = 1;
    }
    uint8_t sealed_body[64];
    if (r->sealed) {
        randombytes_buf(sealed_body, sizeof(sealed_body)); /* ciphertext is not JSON */
        f.body = sealed_body;
        f.body_len = sizeof(sealed_body);
    } else {
        f.body = (const uint8_t *)r->body;
        f.body_len = (uint32_t)strlen(r->body);
    }
    uint8_t *env;
    size_t len;
    assert_int_equal(sz_record_sign(&f, E.sk[r->author], &env, &len), 0);
    sz_record_t rec;
    uint8_t vh[32];
    assert_int_equal(sz_record_open(&rec, env, len, vh), 0);
    memcpy(r->vhash, vh, 32);
    if (first)
        memcpy(r->id, vh, 32);
    free(r->env);
    r->env = env;
    r->env_len = len;
    r->rec = rec;
}

static void write_txn(MDB_txn **txn) {
    assert_int_equal(mdb_txn_begin(E.env, NULL, 0, txn), 0);
}

/* Adds r's current version to the index (old = its previous version, or NULL). */
static void ingest(rec_t *r, const sz_record_t *old) {
    MDB_txn *txn;
    write_txn(&txn);
    assert_int_equal(sz_index_update(E.idx, txn, r->id, r->created, old, &r->rec), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static rec_t *new_record(unsigned kind, int author, uint64_t created, int sealed) {
    assert_true(NR < MAXREC);
    rec_t *r = &R[NR++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->author = author;
    r->created = created;
    r->sealed = sealed;
    r->alive = 1;
    r->attr = -1;
    r->wrole = "soldier";
    r->acts = 1;
    return r;
}

static void publish(rec_t *r) {
    if (r->kind == SZ_KIND_TESTIMONY || r->kind == SZ_KIND_CASE)
        render(r);
    else
        snprintf(r->body, sizeof(r->body), "{\"note\":\"x\"}");
    sign_version(r, r->created, 1);
    ingest(r, NULL);
}

/* Amends r: the caller changed model fields; old envelope stays valid for the update call. */
static void amend(rec_t *r, uint64_t created) {
    uint8_t *old_env = r->env;
    sz_record_t old = r->rec;
    r->env = NULL;
    render(r);
    sign_version(r, created, 0);
    ingest(r, &old);
    free(old_env);
}

static void retract(rec_t *r) {
    MDB_txn *txn;
    write_txn(&txn);
    assert_int_equal(sz_index_remove(E.idx, txn, r->id, r->created, &r->rec), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    r->alive = 0;
}

/* Runs a query through every page and returns the ids in order (up to max). */
static int run_query(sz_query_t *q, uint8_t (*out)[32], size_t max, size_t *total) {
    MDB_txn *txn;
    char cursor[SZ_CURSOR_TOKEN_LEN + 1] = "";
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    uint8_t(*page)[32] = malloc(SZ_QUERY_MAX_LIMIT * 32);
    assert_non_null(page);
    size_t got = 0;
    int rc = 0;
    assert_int_equal(mdb_txn_begin(E.env, NULL, MDB_RDONLY, &txn), 0);
    for (int pages = 0; pages < 10000; pages++) {
        size_t n;
        q->cursor = cursor[0] ? cursor : NULL;
        rc = sz_index_list(E.idx, txn, q, page, &n, next);
        if (rc != 0)
            break;
        assert_true(n <= q->limit);
        if (next[0] != '\0') {
            assert_int_equal(strlen(next), SZ_CURSOR_TOKEN_LEN);
            assert_int_equal(n, q->limit); /* a token only follows a full page */
        }
        for (size_t i = 0; i < n && got < max; i++)
            memcpy(out[got++], page[i], 32);
        if (next[0] == '\0')
            break;
        memcpy(cursor, next, sizeof(cursor));
    }
    mdb_txn_abort(txn);
    free(page);
    *total = got;
    q->cursor = NULL;
    return rc;
}

static int list_once(sz_query_t *q, uint8_t (*out)[32], size_t *n, char *next) {
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(E.env, NULL, MDB_RDONLY, &txn), 0);
    int rc = sz_index_list(E.idx, txn, q, out, n, next);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- the model ---- */

typedef struct mfilter_s {
    char field[32];
    char value[128];
} mfilter_t;

static int overlaps(const rec_t *r, const char *q) {
    int64_t a, b, c, d;
    if (r->period == NULL)
        return 0;
    assert_int_equal(sz_edtf_range(r->period, strlen(r->period), &a, &b), 0);
    assert_int_equal(sz_edtf_range(q, strlen(q), &c, &d), 0);
    return a <= d && b >= c;
}

static int has_link(const rec_t *r, int target) {
    for (int i = 0; i < r->nlinks; i++)
        if (r->links[i] == target)
            return 1;
    return 0;
}

static int find_by_hex(const char *hex) {
    for (int i = 0; i < NR; i++) {
        char h[65];
        hexid(h, R[i].id);
        if (strcmp(h, hex) == 0)
            return i;
    }
    return -1;
}

static int ieq(const char *a, const char *b) {
    return a != NULL && strcasecmp(a, b) == 0;
}

static int model_match(int ri, unsigned kind, const mfilter_t *f, int nf) {
    const rec_t *r = &R[ri];
    if (!r->alive || (kind != 0 && r->kind != kind))
        return 0;
    int open = !r->sealed && (r->kind == SZ_KIND_TESTIMONY || r->kind == SZ_KIND_CASE);
    int t = r->kind == SZ_KIND_TESTIMONY, c = r->kind == SZ_KIND_CASE;
    for (int i = 0; i < nf; i++) {
        const char *v = f[i].value;
        const char *fd = f[i].field;
        int ok = 0;
        if (!strcmp(fd, "kind")) {
            ok = r->kind == (unsigned)sz_kind_from_name(v);
        } else if (!strcmp(fd, "author")) {
            char pkt[SZ_PUBKEY_TEXT_LEN + 1];
            sz_pubkey_format(pkt, E.pk[r->author]);
            ok = !strcmp(pkt, v);
        } else if (!strcmp(fd, "case")) {
            int ci = find_by_hex(v);
            ok = t && ci >= 0 &&
                 ((open && has_link(r, ci)) ||
                  (R[ci].alive && !R[ci].sealed && has_link(&R[ci], ri)));
        } else if (!strcmp(fd, "testimony")) {
            int ti = find_by_hex(v);
            ok = c && ti >= 0 &&
                 ((open && has_link(r, ti)) ||
                  (R[ti].alive && !R[ti].sealed && has_link(&R[ti], ri)));
        } else if (!open) {
            ok = 0;
        } else if (!strcmp(fd, "country")) {
            ok = ieq(r->country, v);
        } else if (!strcmp(fd, "period")) {
            ok = overlaps(r, v);
        } else if (!strcmp(fd, "language")) {
            ok = ieq(r->language, v);
        } else if (!strcmp(fd, "witness_role")) {
            ok = t && !strcmp(r->wrole, v);
        } else if (!strcmp(fd, "act_type")) {
            for (int k = 0; k < 5; k++)
                ok |= t && (r->acts & (1u << k)) && !strcmp(acts[k], v);
        } else if (!strcmp(fd, "event_type")) {
            ok = c && r->etype && !strcmp(r->etype, v);
        } else if (!strcmp(fd, "defection_type")) {
            ok = c && r->defection && !strcmp(r->defection, v);
        } else if (!strcmp(fd, "pathway")) {
            for (int k = 0; k < 4; k++)
                ok |= c && (r->pathways & (1u << k)) && !strcmp(pathways[k], v);
        } else if (!strcmp(fd, "actor_role")) {
            for (int k = 0; k < 5; k++)
                ok |= c && (r->roles & (1u << k)) && !strcmp(roles[k], v);
        } else if (!strcmp(fd, "attr.mobilisation")) {
            ok = c && r->attr >= 0 && attr_text[r->attr] && !strcmp(attr_text[r->attr], v);
        } else if (!strcmp(fd, "attr.other")) {
            ok = c && r->attr >= 0 && !strcmp(v, "x");
        } else {
            fail_msg("model has no field %s", fd);
        }
        if (!ok)
            return 0;
    }
    return 1;
}

static int order_cmp_desc;
static int order_cmp(const void *a, const void *b) {
    const rec_t *x = &R[*(const int *)a], *y = &R[*(const int *)b];
    int c = x->created < y->created ? -1 : x->created > y->created;
    if (c == 0)
        c = memcmp(x->id, y->id, 32);
    return order_cmp_desc ? -c : c;
}

static void random_filter(mfilter_t *f) {
    switch (rnd() % 13) {
    case 0:
        strcpy(f->field, "country");
        strcpy(f->value, countries[rnd() % 4]);
        if (rnd() % 3 == 0)
            f->value[0] = (char)(f->value[0] + 32); /* lower case works too */
        break;
    case 1: {
        static const char *q[] = {"1989",    "1990-02",    "1980/1985", "1991-12-25", "2000/..",
                                  "../1970", "1989-04-12", "2001",      "-1000/1000"};
        strcpy(f->field, "period");
        strcpy(f->value, q[rnd() % 9]);
        break;
    }
    case 2:
        strcpy(f->field, "language");
        strcpy(f->value, rnd() % 2 ? languages[rnd() % 3] : "EN-gb");
        break;
    case 3:
        strcpy(f->field, "witness_role");
        strcpy(f->value, wroles[rnd() % 5]);
        break;
    case 4:
        strcpy(f->field, "act_type");
        strcpy(f->value, acts[rnd() % 5]);
        break;
    case 5:
        strcpy(f->field, "event_type");
        strcpy(f->value, etypes[rnd() % 2]);
        break;
    case 6:
        strcpy(f->field, "pathway");
        strcpy(f->value, pathways[rnd() % 4]);
        break;
    case 7:
        strcpy(f->field, "actor_role");
        strcpy(f->value, roles[rnd() % 5]);
        break;
    case 8:
        strcpy(f->field, "defection_type");
        strcpy(f->value, defections[rnd() % 2]);
        break;
    case 9:
        strcpy(f->field, rnd() % 4 ? "attr.mobilisation" : "attr.other");
        strcpy(f->value, rnd() % 4 ? attr_text[rnd() % 3] : "x");
        break;
    case 10: {
        char pkt[SZ_PUBKEY_TEXT_LEN + 1];
        sz_pubkey_format(pkt, E.pk[rnd() % NAUTHORS]);
        strcpy(f->field, "author");
        strcpy(f->value, pkt);
        break;
    }
    case 11:
    case 12: {
        int i = (int)(rnd() % (unsigned)NR);
        strcpy(f->field, R[i].kind == SZ_KIND_CASE ? "case" : "testimony");
        if (rnd() % 4 == 0)
            strcpy(f->field, "kind");
        if (!strcmp(f->field, "kind"))
            strcpy(f->value, sz_kind_name(R[i].kind));
        else
            hexid(f->value, R[i].id);
        break;
    }
    }
}

static void randomize(rec_t *r) {
    r->country = rnd() % 5 ? countries[rnd() % 4] : NULL;
    r->period = rnd() % 6 ? periods[rnd() % 11] : NULL;
    r->language = rnd() % 4 ? languages[rnd() % 3] : NULL;
    r->wrole = wroles[rnd() % 5];
    r->acts = 1u + rnd() % 31;
    r->etype = rnd() % 3 ? etypes[rnd() % 2] : NULL;
    r->defection = rnd() % 3 ? defections[rnd() % 2] : NULL;
    r->pathways = rnd() % 16;
    r->roles = rnd() % 32;
    r->attr = (int)(rnd() % 5) - 1;
    r->nlinks = 0;
    unsigned want = r->kind == SZ_KIND_TESTIMONY ? SZ_KIND_CASE : SZ_KIND_TESTIMONY;
    int tries = (int)(rnd() % 4);
    for (int i = 0; i < tries && NR > 1; i++) {
        int j = (int)(rnd() % (unsigned)NR);
        if (R[j].kind == want && j != (int)(r - R) && !has_link(r, j) && R[j].id[0] | R[j].id[1])
            r->links[r->nlinks++] = j;
    }
}

/* Checks one query, both orders, with a random page size, against the model. */
static void check_query(unsigned kind, const mfilter_t *mf, int nf) {
    sz_query_t q = {0};
    q.kind = kind;
    for (int i = 0; i < nf; i++) {
        q.filters[i].field = mf[i].field;
        q.filters[i].value = mf[i].value;
    }
    q.nfilters = (unsigned)nf;
    int expect[MAXREC], ne = 0;
    for (int i = 0; i < NR; i++)
        if (model_match(i, kind, mf, nf))
            expect[ne++] = i;
    uint8_t(*got)[32] = malloc(MAXREC * 32);
    assert_non_null(got);
    for (int desc = 0; desc < 2; desc++) {
        order_cmp_desc = desc;
        qsort(expect, (size_t)ne, sizeof(int), order_cmp);
        q.newest_first = desc;
        q.limit = 1 + rnd() % 7;
        size_t n;
        assert_int_equal(run_query(&q, got, MAXREC, &n), 0);
        if (n != (size_t)ne) {
            print_error("query kind=%u", kind);
            for (int i = 0; i < nf; i++)
                print_error(" %s=%s", mf[i].field, mf[i].value);
            print_error(": got %zu want %d (desc %d)\n", n, ne, desc);
        }
        assert_int_equal(n, (size_t)ne);
        for (int i = 0; i < ne; i++)
            assert_memory_equal(got[i], R[expect[i]].id, 32);
    }
    free(got);
}

static void test_random_differential(void **state) {
    (void)state;
    /* Build a mixed archive: cases first so testimonies can name them, then both directions. */
    for (int i = 0; i < 160; i++) {
        unsigned kind = i % 3 == 0 ? SZ_KIND_CASE : SZ_KIND_TESTIMONY;
        if (i % 37 == 5)
            kind = SZ_KIND_RETRACTION;
        rec_t *r = new_record(kind, (int)(rnd() % NAUTHORS), 1000 + rnd() % 200, rnd() % 11 == 0);
        randomize(r);
        publish(r);
    }
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 150; k++) {
            unsigned kind = rnd() % 3;
            mfilter_t mf[3];
            int nf = (int)(rnd() % 4);
            for (int i = 0; i < nf; i++)
                random_filter(&mf[i]);
            check_query(kind, mf, nf);
        }
        /* Amend some records (fields and links change), retract a few, add more. */
        for (int k = 0; k < 40; k++) {
            rec_t *r = &R[rnd() % (unsigned)NR];
            if (!r->alive || r->sealed || r->kind > SZ_KIND_CASE)
                continue;
            randomize(r);
            amend(r, r->created + 1000 + (uint64_t)k);
        }
        for (int k = 0; k < 8; k++) {
            rec_t *r = &R[rnd() % (unsigned)NR];
            if (r->alive)
                retract(r);
        }
        for (int i = 0; i < 30; i++) {
            rec_t *r = new_record(i % 2 ? SZ_KIND_CASE : SZ_KIND_TESTIMONY, (int)(rnd() % NAUTHORS),
                                  900 + rnd() % 400, rnd() % 13 == 0);
            randomize(r);
            publish(r);
        }
    }
    /* Every live record verifies; the totals match (no stale entries). */
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(E.env, NULL, MDB_RDONLY, &txn), 0);
    size_t sum = 0, live = 0;
    for (int i = 0; i < NR; i++) {
        if (!R[i].alive)
            continue;
        size_t ne = 0;
        assert_int_equal(sz_index_verify(E.idx, txn, R[i].id, R[i].created, &R[i].rec, &ne), 0);
        sum += ne;
        live++;
    }
    size_t entries, records;
    assert_int_equal(sz_index_count(E.idx, txn, &entries, &records), 0);
    assert_int_equal(entries, sum);
    assert_int_equal(records, live);
    /* A retracted record no longer verifies. */
    for (int i = 0; i < NR; i++) {
        if (!R[i].alive) {
            assert_int_equal(sz_index_verify(E.idx, txn, R[i].id, R[i].created, &R[i].rec, NULL),
                             SZ_E_CORRUPT);
            break;
        }
    }
    mdb_txn_abort(txn);
}

static void test_fields_and_links(void **state) {
    (void)state;
    rec_t *c = new_record(SZ_KIND_CASE, 0, 100, 0);
    c->country = "SUHH";
    c->period = "1988/1991";
    c->etype = "military-defection";
    c->defection = "exit";
    c->pathways = 0x3;
    c->roles = 0x5;
    c->attr = 1;
    publish(c);
    rec_t *t1 = new_record(SZ_KIND_TESTIMONY, 1, 200, 0);
    t1->country = "UA";
    t1->period = "1995-01/1995-03";
    t1->language = "uk";
    t1->wrole = "conscript";
    t1->acts = 0x5;
    t1->links[t1->nlinks++] = 0; /* names the case */
    publish(t1);
    rec_t *t2 = new_record(SZ_KIND_TESTIMONY, 2, 300, 0);
    t2->country = "RU";
    publish(t2);
    /* The case names t2 (from its side); t1 names the case (from the testimony's side). */
    c->links[c->nlinks++] = 2;
    amend(c, 400);

    mfilter_t f[2];
    char h[65];
    hexid(h, c->id);
    strcpy(f[0].field, "case");
    strcpy(f[0].value, h);
    check_query(0, f, 1);
    uint8_t ids[8][32];
    size_t n;
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    sz_query_t q = {0};
    q.limit = 8;
    q.filters[0].field = "case";
    q.filters[0].value = h;
    q.nfilters = 1;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(ids[0], t1->id, 32);
    assert_memory_equal(ids[1], t2->id, 32);
    assert_string_equal(next, "");
    /* "case" means testimonies: asking for cases too yields nothing. */
    q.kind = SZ_KIND_CASE;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 0);
    q.kind = 0;
    for (int i = 1; i <= 2; i++) {
        hexid(h, R[i].id);
        q.filters[0].field = "testimony";
        q.filters[0].value = h;
        assert_int_equal(list_once(&q, ids, &n, next), 0);
        assert_int_equal(n, 1);
        assert_memory_equal(ids[0], c->id, 32);
    }
    struct {
        const char *f, *v;
        int want; /* index of the one record expected, -1 none */
    } cases[] = {
        {"country", "suhh", 0},
        {"country", "UA", 1},
        {"period", "1989", 0},
        {"period", "1995-02-10", 1},
        {"period", "1996/..", -1},
        {"event_type", "military-defection", 0},
        {"pathway", "coup", 0},
        {"pathway", "territorial-disintegration", -1},
        {"actor_role", "principal", 0},
        {"actor_role", "subordinate", -1},
        {"defection_type", "exit", 0},
        {"attr.mobilisation", "25.1", 0},
        {"attr.mobilisation", "25.10", -1},
        {"attr.other", "x", 0},
        {"language", "UK", 1},
        {"witness_role", "conscript", 1},
        {"act_type", "refusal", 1},
        {"act_type", "defection", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        q.filters[0].field = cases[i].f;
        q.filters[0].value = cases[i].v;
        assert_int_equal(list_once(&q, ids, &n, next), 0);
        if (cases[i].want < 0) {
            assert_int_equal(n, 0);
        } else {
            if (n != 1)
                fail_msg("%s=%s gave %zu", cases[i].f, cases[i].v, n);
            assert_memory_equal(ids[0], R[cases[i].want].id, 32);
        }
    }
    /* A link to a record not yet here appears once it arrives. */
    rec_t *t3 = new_record(SZ_KIND_TESTIMONY, 0, 50, 0);
    render(t3);
    sign_version(t3, 50, 1);
    c->links[c->nlinks++] = 3;
    amend(c, 500);
    hexid(h, c->id);
    q.filters[0].field = "case";
    q.filters[0].value = h;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    ingest(t3, NULL);
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(ids[0], t3->id, 32); /* created 50: first */
    /* The case drops t2 from its list: t2 is no longer linked. */
    c->nlinks = 1;
    c->links[0] = 3;
    amend(c, 600);
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(ids[0], t3->id, 32);
    assert_memory_equal(ids[1], t1->id, 32);
    /* Retracting the case removes the links it asserted, not t1's own. */
    retract(c);
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], t1->id, 32);
}

static void test_sealed_and_other_kinds(void **state) {
    (void)state;
    rec_t *s = new_record(SZ_KIND_TESTIMONY, 0, 10, 1);
    s->country = "UA";
    publish(s); /* body is random bytes: must never be parsed */
    rec_t *t = new_record(SZ_KIND_TESTIMONY, 1, 20, 0);
    t->country = "UA";
    publish(t);
    rec_t *x = new_record(SZ_KIND_RETRACTION, 0, 30, 0);
    publish(x);
    uint8_t ids[8][32];
    size_t n;
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    sz_query_t q = {0};
    q.limit = 8;
    q.kind = SZ_KIND_TESTIMONY;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    q.filters[0].field = "country";
    q.filters[0].value = "UA";
    q.nfilters = 1;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], t->id, 32);
    char pkt[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(pkt, E.pk[0]);
    q.kind = 0;
    q.filters[0].field = "author";
    q.filters[0].value = pkt;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    assert_memory_equal(ids[0], s->id, 32);
    assert_memory_equal(ids[1], x->id, 32);
    q.nfilters = 0;
    q.kind = SZ_KIND_RETRACTION;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    /* Sealing a record in a later version withdraws its fields from the index. */
    t->sealed = 1;
    amend(t, 50);
    q.kind = 0;
    q.filters[0].field = "country";
    q.filters[0].value = "UA";
    q.nfilters = 1;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 0);
    q.nfilters = 0;
    q.kind = SZ_KIND_TESTIMONY;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    MDB_txn *rt;
    assert_int_equal(mdb_txn_begin(E.env, NULL, MDB_RDONLY, &rt), 0);
    assert_int_equal(sz_index_verify(E.idx, rt, t->id, t->created, &t->rec, NULL), 0);
    mdb_txn_abort(rt);
    /* An unsealed testimony whose body is not JSON is refused, and nothing is written. */
    rec_t *bad = new_record(SZ_KIND_TESTIMONY, 0, 40, 0);
    snprintf(bad->body, sizeof(bad->body), "not json");
    sign_version(bad, 40, 1);
    MDB_txn *txn;
    write_txn(&txn);
    assert_int_equal(sz_index_update(E.idx, txn, bad->id, 40, NULL, &bad->rec), SZ_E_JSON);
    mdb_txn_abort(txn);
    snprintf(bad->body, sizeof(bad->body), "[1,2]");
    sign_version(bad, 40, 1);
    write_txn(&txn);
    assert_int_equal(sz_index_update(E.idx, txn, bad->id, 40, NULL, &bad->rec), SZ_E_JSON);
    mdb_txn_abort(txn);
}

static void test_long_values(void **state) {
    (void)state;
    /* Attribute values longer than a key can hold are stored by prefix and hash. */
    char longv[1200], other[1200];
    memset(longv, 'a', sizeof(longv) - 1);
    longv[sizeof(longv) - 1] = 0;
    memcpy(other, longv, sizeof(other));
    other[1000] = 'b'; /* same prefix, different tail */
    rec_t *r = new_record(SZ_KIND_CASE, 0, 10, 0);
    snprintf(r->body, sizeof(r->body), "{\"title\":\"x\",\"attributes\":{\"long\":\"%s\"}}", longv);
    sign_version(r, 10, 1);
    ingest(r, NULL);
    rec_t *r2 = new_record(SZ_KIND_CASE, 0, 11, 0);
    snprintf(r2->body, sizeof(r2->body), "{\"title\":\"x\",\"attributes\":{\"long\":\"%s\"}}",
             other);
    sign_version(r2, 11, 1);
    ingest(r2, NULL);
    uint8_t ids[4][32];
    size_t n;
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    sz_query_t q = {0};
    q.limit = 4;
    q.filters[0].field = "attr.long";
    q.filters[0].value = longv;
    q.nfilters = 1;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], r->id, 32);
    q.filters[0].value = other;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], r2->id, 32);
    /* Escaped JSON text matches its decoded form. */
    rec_t *r3 = new_record(SZ_KIND_CASE, 0, 12, 0);
    snprintf(r3->body, sizeof(r3->body),
             "{\"title\":\"x\",\"event_type\":\"\\u0434\\u0435\\u0437\\\"x\"}");
    sign_version(r3, 12, 1);
    ingest(r3, NULL);
    q.filters[0].field = "event_type";
    q.filters[0].value = "\xd0\xb4\xd0\xb5\xd0\xb7\"x";
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], r3->id, 32);
}

static void test_bad_queries(void **state) {
    (void)state;
    rec_t *r = new_record(SZ_KIND_CASE, 0, 10, 0);
    r->country = "UA";
    publish(r);
    rec_t *r2 = new_record(SZ_KIND_CASE, 0, 11, 0);
    r2->country = "UA";
    publish(r2);
    uint8_t ids[SZ_QUERY_MAX_LIMIT][32];
    size_t n;
    char next[SZ_CURSOR_TOKEN_LEN + 1];
    struct {
        const char *f, *v;
    } bad[] = {
        {"nosuch", "x"},
        {"kind", "nosuch"},
        {"kind", ""},
        {"author", "abc"},
        {"period", "1990/1989"},
        {"period", "soon"},
        {"country", "UKR"},
        {"country", "U"},
        {"case", "abcd"},
        {"testimony", "zz"},
        {"attr.", "x"},
        {"event_type", ""},
        {"Country", "UA"},
        {"", "x"},
        {"case", "0000000000000000000000000000000000000000000000000000000000000000x"},
    };
    sz_query_t q = {0};
    q.limit = 10;
    q.nfilters = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        q.filters[0].field = bad[i].f;
        q.filters[0].value = bad[i].v;
        n = 77;
        strcpy(next, "junk");
        if (list_once(&q, ids, &n, next) != SZ_E_ARGUMENT)
            fail_msg("accepted %s=%s", bad[i].f, bad[i].v);
        assert_int_equal(n, 0);
        assert_string_equal(next, "");
    }
    /* A bad filter after good ones still fails as a whole. */
    q.filters[0].field = "country";
    q.filters[0].value = "UA";
    q.filters[1].field = "bogus";
    q.filters[1].value = "1";
    q.nfilters = 2;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    assert_int_equal(n, 0);
    q.filters[1].field = NULL;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.nfilters = 1;
    q.limit = 0;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.limit = SZ_QUERY_MAX_LIMIT + 1;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.limit = SZ_QUERY_MAX_LIMIT;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 2);
    q.nfilters = SZ_QUERY_MAX_FILTERS + 1;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.nfilters = 1;
    q.kind = 9;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.kind = 0;
    /* Contradictory kinds give an empty answer, not an error. */
    q.kind = SZ_KIND_TESTIMONY;
    q.filters[1].field = "kind";
    q.filters[1].value = "case";
    q.nfilters = 2;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 0);
    q.kind = 0;
    q.nfilters = 1;

    /* Cursor tokens: a good one, then every way of spoiling it. */
    q.limit = 1;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(next), SZ_CURSOR_TOKEN_LEN);
    char tok[SZ_CURSOR_TOKEN_LEN + 2];
    strcpy(tok, next);
    q.cursor = tok;
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(ids[0], r2->id, 32);
    assert_string_equal(next, "");
    char spoiled[SZ_CURSOR_TOKEN_LEN + 2];
    const char *variants[6];
    char v0[SZ_CURSOR_TOKEN_LEN + 2], v1[SZ_CURSOR_TOKEN_LEN + 2], v2[SZ_CURSOR_TOKEN_LEN + 2],
        v3[SZ_CURSOR_TOKEN_LEN + 2];
    strcpy(v0, tok);
    v0[SZ_CURSOR_TOKEN_LEN - 1] = 0; /* short */
    strcpy(v1, tok);
    strcat(v1, "0"); /* long */
    strcpy(v2, tok);
    v2[10] = 'g'; /* not hex */
    strcpy(v3, tok);
    v3[1] = v3[1] == '1' ? '2' : '1'; /* version */
    strcpy(spoiled, tok);
    spoiled[SZ_CURSOR_TOKEN_LEN - 1] = spoiled[SZ_CURSOR_TOKEN_LEN - 1] == '0' ? '1' : '0';
    variants[0] = v0;
    variants[1] = v1;
    variants[2] = v2;
    variants[3] = v3;
    variants[4] = spoiled; /* binding */
    variants[5] = "";      /* empty = first page: fine */
    for (int i = 0; i < 5; i++) {
        q.cursor = variants[i];
        if (list_once(&q, ids, &n, next) != SZ_E_ARGUMENT)
            fail_msg("accepted token variant %d", i);
        assert_int_equal(n, 0);
    }
    q.cursor = variants[5];
    assert_int_equal(list_once(&q, ids, &n, next), 0);
    assert_int_equal(n, 1);
    /* The token belongs to its query: another order, kind or filter refuses it. */
    q.cursor = tok;
    q.newest_first = 1;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.newest_first = 0;
    q.kind = SZ_KIND_CASE;
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
    q.kind = 0;
    q.filters[0].value = "RU";
    assert_int_equal(list_once(&q, ids, &n, next), SZ_E_ARGUMENT);
}

/* Pages through while writers add records before and after the cursor between pages. */
static void test_pagination_concurrent(void **state) {
    (void)state;
    for (int i = 0; i < 60; i++) {
        rec_t *r = new_record(SZ_KIND_TESTIMONY, i % NAUTHORS, 1000 + (uint64_t)i * 10, 0);
        r->country = "UA";
        publish(r);
    }
    int base = NR;
    for (int desc = 0; desc < 2; desc++) {
        sz_query_t q = {0};
        q.limit = 7;
        q.newest_first = desc;
        q.filters[0].field = "country";
        q.filters[0].value = "UA";
        q.nfilters = 1;
        char cursor[SZ_CURSOR_TOKEN_LEN + 1] = "", next[SZ_CURSOR_TOKEN_LEN + 1];
        int seen[MAXREC] = {0};
        uint64_t last = desc ? UINT64_MAX : 0;
        for (int page = 0; page < 100; page++) {
            uint8_t ids[7][32];
            size_t n;
            q.cursor = cursor[0] ? cursor : NULL;
            assert_int_equal(list_once(&q, ids, &n, next), 0);
            for (size_t i = 0; i < n; i++) {
                int found = -1;
                for (int k = 0; k < NR; k++)
                    if (memcmp(R[k].id, ids[i], 32) == 0)
                        found = k;
                assert_true(found >= 0);
                if (getenv("SZ_DEBUG"))
                    print_error("desc=%d page %d rec %d created %llu\n", desc, page, found,
                                (unsigned long long)R[found].created);
                assert_int_equal(seen[found], 0); /* never twice */
                seen[found]++;
                /* order holds across pages */
                if (desc)
                    assert_true(R[found].created <= last);
                else
                    assert_true(R[found].created >= last);
                last = R[found].created;
            }
            /* Writers: one record before the cursor, one after, one equal time. */
            uint64_t t = last;
            rec_t *a = new_record(SZ_KIND_TESTIMONY, 0, t > 5 ? t - 5 : 0, 0);
            a->country = "UA";
            publish(a);
            rec_t *b = new_record(SZ_KIND_TESTIMONY, 1, t + 5, 0);
            b->country = "UA";
            publish(b);
            rec_t *c = new_record(SZ_KIND_TESTIMONY, 2, t, 0);
            c->country = "UA";
            publish(c);
            if (next[0] == '\0')
                break;
            memcpy(cursor, next, sizeof(cursor));
        }
        for (int i = 0; i < base; i++) {
            if (seen[i] != 1)
                print_error("desc=%d record %d (created %llu) seen %d times\n", desc, i,
                            (unsigned long long)R[i].created, seen[i]);
            assert_int_equal(seen[i], 1);
        } /* every record present at the start: exactly once */
        base = NR;
    }
}

/* Many distinct days spread over centuries: the period filter has too many buckets to merge and
 * is checked per candidate instead; the answer must not change. */
static void test_period_many_buckets(void **state) {
    (void)state;
    for (int i = 0; i < 300; i++) {
        rec_t *r = new_record(i % 2 ? SZ_KIND_CASE : SZ_KIND_TESTIMONY, 0, 10 + (uint64_t)i, 0);
        static char dates[300][16];
        snprintf(dates[i], sizeof(dates[i]), "%04d-%02d-%02d", 1700 + i, 1 + i % 12, 1 + i % 28);
        r->period = dates[i];
        r->country = i % 3 ? "UA" : "RU";
        publish(r);
    }
    static const char *qs[] = {"1700/2000",  "1800/1850", "1750-02-02", "1900/..",
                               "../1701-06", "1780/1790", "17XX"};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        mfilter_t f[2];
        strcpy(f[0].field, "period");
        strcpy(f[0].value, qs[i]);
        check_query(0, f, 1);
        check_query(SZ_KIND_CASE, f, 1);
        strcpy(f[1].field, "country");
        strcpy(f[1].value, "RU");
        check_query(0, f, 2);
    }
}

/* A map too small for the index: updates fail with SZ_E_NO_SPACE, never corrupt what was
 * committed before. */
static void test_map_full(void **state) {
    (void)state;
    MDB_env *env;
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/sz_test_index_full_XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 256 * 1024), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_NOSYNC, 0600), 0);
    MDB_txn *txn;
    sz_index_t *idx;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(sz_index_open(&idx, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    int rc = 0, committed = 0;
    for (int i = 0; i < 100000 && rc == 0; i++) {
        rec_t *r = new_record(SZ_KIND_CASE, i % NAUTHORS, 10 + (uint64_t)i, 0);
        r->country = countries[i % 4];
        r->attr = 0;
        render(r);
        sign_version(r, r->created, 1);
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        rc = sz_index_update(idx, txn, r->id, r->created, NULL, &r->rec);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);
            if (rc == 0)
                committed++;
            else
                rc = SZ_E_NO_SPACE; /* commit can hit the limit too */
        } else {
            mdb_txn_abort(txn);
        }
        free(r->env);
        r->env = NULL;
        NR--; /* reuse the slot: only the count of committed records matters */
    }
    assert_int_equal(rc, SZ_E_NO_SPACE);
    assert_true(committed > 0);
    size_t entries, records;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(sz_index_count(idx, txn, &entries, &records), 0);
    assert_int_equal(records, (size_t)committed);
    mdb_txn_abort(txn);
    sz_index_close(idx);
    mdb_env_close(env);
    char path[128];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
}

#define ALL_TESTS(SETUP)                                                                           \
    cmocka_unit_test_setup_teardown(test_fields_and_links, SETUP, teardown),                       \
        cmocka_unit_test_setup_teardown(test_sealed_and_other_kinds, SETUP, teardown),             \
        cmocka_unit_test_setup_teardown(test_long_values, SETUP, teardown),                        \
        cmocka_unit_test_setup_teardown(test_bad_queries, SETUP, teardown),                        \
        cmocka_unit_test_setup_teardown(test_pagination_concurrent, SETUP, teardown),              \
        cmocka_unit_test_setup_teardown(test_period_many_buckets, SETUP, teardown),                \
        cmocka_unit_test_setup_teardown(test_random_differential, SETUP, teardown),                \
        cmocka_unit_test_setup_teardown(test_map_full, SETUP, teardown)

int main(void) {
    /* Once with the index's own id map, once with a store resolver instead. */
    const struct CMUnitTest own_map[] = {ALL_TESTS(setup)};
    const struct CMUnitTest resolver[] = {ALL_TESTS(setup_resolver)};
    int failed = cmocka_run_group_tests_name("own id map", own_map, NULL, NULL);
    failed += cmocka_run_group_tests_name("store resolver", resolver, NULL, NULL);
    return failed;
}
