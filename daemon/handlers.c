/* Read requests (GET, HISTORY, LIST, SEARCH, STATUS), answered on the thread pool.
 *
 * A job decodes its request and queries the store on a pool thread, and encodes every response
 * message into one buffer of [type u8][len u32][payload] entries; the loop thread then seals and
 * writes them in order (the ciphers belong to the loop thread). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "encoding.h"
#include "error.h"
#include "log.h"
#include "server_int.h"
#include "sync.h"

/* Responses to one request are capped so a huge history cannot pin unbounded memory. */
#define MAX_RESPONSE_BYTES (16u << 20)

typedef struct out_s {
    uint8_t *buf;
    size_t len, cap;
    int err;
} out_t;

typedef struct sz_read_job_s {
    uv_work_t work;
    struct sz_read_job_s *next; /* the connection's waiting list */
    sz_conn_t *c;
    uint8_t type;
    uint32_t rid;
    out_t out;
    size_t len;
    uint8_t req[];
} read_job_t;

/* Appends one message; encode(m, NULL) first gives its size. */
typedef int (*encode_fn)(const void *m, uint8_t *out, size_t cap, size_t *len);

static int out_add(out_t *o, uint8_t type, const void *m, encode_fn enc) {
    if (o->err)
        return o->err;
    size_t n = 0;
    int rc = enc(m, NULL, 0, &n);
    if (rc < 0)
        return o->err = rc;
    if (o->len + 5 + n > MAX_RESPONSE_BYTES)
        return o->err = SZ_E_TOO_LARGE;
    if (o->cap - o->len < 5 + n) {
        size_t want = o->cap ? o->cap : 256;
        while (want - o->len < 5 + n)
            want *= 2;
        uint8_t *g = realloc(o->buf, want);
        if (g == NULL)
            return o->err = -ENOMEM;
        o->buf = g;
        o->cap = want;
    }
    uint8_t *p = o->buf + o->len;
    p[0] = type;
    p[1] = (uint8_t)(n >> 24);
    p[2] = (uint8_t)(n >> 16);
    p[3] = (uint8_t)(n >> 8);
    p[4] = (uint8_t)n;
    rc = enc(m, p + 5, n, &n);
    if (rc < 0)
        return o->err = rc;
    o->len += 5 + n;
    return 0;
}

/* Adapters with the generic signature (calling through a cast pointer would be undefined). */
static int enc_error_msg(const void *m, uint8_t *o, size_t cap, size_t *len) {
    const sz_error_msg_t *e = m;
    if (o == NULL) { /* frame.h's encoder has no size query */
        *len = 4 + 2 + e->text_len + (e->versions.count ? 1 + 2 * (size_t)e->versions.count : 0);
        return 0;
    }
    return sz_error_msg_encode((const sz_error_msg_t *)m, o, cap, len);
}

static int enc_record(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_record_encode((const sz_msg_record_t *)m, o, cap, len);
}

static int enc_version(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_version_encode((const sz_msg_version_t *)m, o, cap, len);
}

static int enc_end(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_end_encode((const sz_msg_end_t *)m, o, cap, len);
}

static int enc_list_page(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_list_page_encode((const sz_msg_list_page_t *)m, o, cap, len);
}

static int enc_search_result(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_search_result_encode((const sz_msg_search_result_t *)m, o, cap, len);
}

static int enc_status_ok(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_status_ok_encode((const sz_msg_status_ok_t *)m, o, cap, len);
}

/* Replaces everything with one ERROR. */
static void out_error(out_t *o, int code, const char *text) {
    o->len = 0;
    o->err = 0;
    char buf[SZ_ERROR_MAX_TEXT];
    sz_error_msg_t e;
    sz_msg_error_make(&e, code, text, buf);
    out_add(o, SZ_MSG_ERROR, &e, enc_error_msg);
}

static int resolve(sz_store_t *st, const char *hex, int what, uint8_t out[32]) {
    if (strlen(hex) == 64)
        return sz_hex_decode(out, 32, hex) == 0 ? 0 : SZ_E_MALFORMED;
    return sz_store_resolve(st, hex, what, out);
}

/* Id of the record a decoded version belongs to. */
static void record_of(const sz_record_t *rec, const uint8_t vh[32], uint8_t id[32]) {
    if (rec->nparents == 0)
        memcpy(id, vh, 32);
    else
        memcpy(id, rec->record_id, 32);
}

static void do_get(read_job_t *j, sz_store_t *st) {
    sz_msg_get_t q;
    int rc = sz_msg_get_decode(&q, j->req, j->len);
    if (rc < 0) {
        out_error(&j->out, SZ_E_MALFORMED, "GET does not decode");
        return;
    }
    uint8_t id[32];
    rc = resolve(st, q.id, SZ_RESOLVE_RECORD, id);
    if (rc < 0) {
        out_error(&j->out, rc,
                  rc == SZ_E_AMBIGUOUS   ? "record id prefix matches more than one record"
                  : rc == SZ_E_NOT_FOUND ? "no record with that id on this node"
                                         : sz_strerror(rc));
        return;
    }
    sz_store_record_t *r = NULL;
    rc = sz_store_get_record(st, id, &r);
    if (rc < 0) {
        out_error(&j->out, rc,
                  rc == SZ_E_NOT_FOUND ? "no record with that id on this node" : sz_strerror(rc));
        return;
    }
    sz_msg_record_t m = {
        .generation = r->generation,
        .first_created = r->first_created,
        .nversions = r->nversions,
        .nheads = (uint16_t)(r->nheads > SZ_MSG_MAX_HEADS ? SZ_MSG_MAX_HEADS : r->nheads),
        .heads = (const uint8_t *)r->heads,
        .envelope = r->envelope,
        .envelope_len = r->envelope_len};
    memcpy(m.record_id, r->record_id, 32);
    memcpy(m.current, r->current, 32);
    memcpy(m.version_hash, r->current, 32);
    uint8_t *env = NULL;
    if (q.version[0]) {
        uint8_t vh[32];
        size_t elen = 0;
        sz_record_t rec;
        uint8_t owner[32];
        rc = resolve(st, q.version, SZ_RESOLVE_VERSION, vh);
        if (rc == 0)
            rc = sz_store_get_version(st, vh, &env, &elen);
        if (rc == 0 && sz_record_decode(&rec, env, elen) == 0) {
            record_of(&rec, vh, owner);
            if (memcmp(owner, id, 32) != 0)
                rc = SZ_E_NOT_FOUND;
        } else if (rc == 0) {
            rc = SZ_E_CORRUPT;
        }
        if (rc < 0) {
            free(env);
            sz_store_record_free(r);
            out_error(&j->out, rc,
                      rc == SZ_E_AMBIGUOUS   ? "version prefix matches more than one version"
                      : rc == SZ_E_NOT_FOUND ? "no such version of that record"
                                             : sz_strerror(rc));
            return;
        }
        memcpy(m.version_hash, vh, 32);
        m.envelope = env;
        m.envelope_len = elen;
    }
    out_add(&j->out, SZ_MSG_RECORD, &m, enc_record);
    free(env);
    sz_store_record_free(r);
}

typedef struct hist_s {
    out_t *out;
    uint32_t count;
} hist_t;

static int hist_cb(void *arg, const sz_version_info_t *v) {
    hist_t *h = arg;
    sz_msg_version_t m = {.seq = v->seq,
                          .generation = v->generation,
                          .envelope = v->rec->envelope,
                          .envelope_len = v->rec->envelope_len};
    memcpy(m.version_hash, v->version_hash, 32);
    int rc = out_add(h->out, SZ_MSG_VERSION, &m, enc_version);
    if (rc < 0)
        return rc;
    h->count++;
    return 0;
}

static void do_history(read_job_t *j, sz_store_t *st) {
    sz_msg_history_t q;
    int rc = sz_msg_history_decode(&q, j->req, j->len);
    if (rc < 0) {
        out_error(&j->out, SZ_E_MALFORMED, "HISTORY does not decode");
        return;
    }
    uint8_t id[32];
    rc = resolve(st, q.id, SZ_RESOLVE_RECORD, id);
    hist_t h = {.out = &j->out};
    if (rc == 0)
        rc = sz_store_history(st, id, hist_cb, &h);
    if (rc < 0) {
        out_error(&j->out, rc,
                  rc == SZ_E_AMBIGUOUS   ? "record id prefix matches more than one record"
                  : rc == SZ_E_NOT_FOUND ? "no record with that id on this node"
                  : rc == SZ_E_TOO_LARGE ? "history is too large to send at once"
                                         : sz_strerror(rc));
        return;
    }
    sz_msg_end_t e = {.count = h.count};
    out_add(&j->out, SZ_MSG_END, &e, enc_end);
}

/* Copies the title of an unsealed record's JSON body, cut to the bound on a UTF-8 boundary with
 * control characters replaced. Returns its length (0 when there is none). */
static size_t title_of(const sz_record_t *rec, char out[SZ_MSG_MAX_TITLE]) {
    if (rec->flags & SZ_FLAG_SEALED)
        return 0;
    json_t *root = json_loadb((const char *)rec->body, rec->body_len, 0, NULL);
    size_t n = 0;
    json_t *t = root ? json_object_get(root, "title") : NULL;
    if (t != NULL && json_is_string(t)) {
        const char *s = json_string_value(t);
        n = json_string_length(t);
        if (n > SZ_MSG_MAX_TITLE) {
            n = SZ_MSG_MAX_TITLE;
            while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80)
                n--;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t ch = (uint8_t)s[i];
            out[i] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
        }
    }
    json_decref(root);
    return n;
}

static void do_list(read_job_t *j, sz_store_t *st) {
    sz_msg_list_t q;
    int rc = sz_msg_list_decode(&q, j->req, j->len);
    if (rc < 0) {
        out_error(&j->out, SZ_E_MALFORMED, "LIST does not decode");
        return;
    }
    sz_query_t query = {.kind = q.kind,
                        .nfilters = q.nfilters,
                        .newest_first = q.order == SZ_LIST_NEWEST_FIRST,
                        .limit = q.limit,
                        .cursor = q.cursor[0] ? q.cursor : NULL};
    for (unsigned i = 0; i < q.nfilters; i++) {
        query.filters[i].field = q.filters[i].field;
        query.filters[i].value = q.filters[i].value;
    }
    uint8_t(*ids)[32] = malloc((size_t)q.limit * 32);
    sz_msg_list_entry_t *entries = calloc(q.limit, sizeof *entries);
    char(*titles)[SZ_MSG_MAX_TITLE] = malloc((size_t)q.limit * SZ_MSG_MAX_TITLE);
    char next[SZ_CURSOR_TOKEN_LEN + 1] = "";
    size_t n = 0;
    if (ids == NULL || entries == NULL || titles == NULL)
        rc = -ENOMEM;
    else
        rc = sz_store_list(st, &query, ids, &n, next);
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sz_store_record_t *r = NULL;
        /* A record listed a moment ago is still there: records are never deleted. */
        if (sz_store_get_record(st, ids[i], &r) != 0)
            continue;
        sz_record_t rec;
        if (sz_record_decode(&rec, r->envelope, r->envelope_len) == 0) {
            sz_msg_list_entry_t *e = &entries[k];
            memcpy(e->record_id, r->record_id, 32);
            memcpy(e->current, r->current, 32);
            e->kind = rec.kind;
            e->created = r->first_created;
            e->title_len = (uint16_t)title_of(&rec, titles[k]);
            e->title = (const uint8_t *)titles[k];
            k++;
        }
        sz_store_record_free(r);
    }
    if (rc < 0) {
        out_error(&j->out, rc,
                  rc == SZ_E_ARGUMENT ? "bad list query: unknown field, bad value or stale cursor"
                                      : sz_strerror(rc));
    } else {
        sz_msg_list_page_t page = {.count = (uint16_t)k, .entries = entries};
        snprintf(page.next_cursor, sizeof page.next_cursor, "%s", next);
        out_add(&j->out, SZ_MSG_LIST_PAGE, &page, enc_list_page);
    }
    free(ids);
    free(entries);
    free(titles);
}

static void do_search(read_job_t *j, sz_store_t *st) {
    sz_msg_search_t q;
    int rc = sz_msg_search_decode(&q, j->req, j->len);
    if (rc < 0) {
        out_error(&j->out, SZ_E_MALFORMED, "SEARCH does not decode");
        return;
    }
    sz_search_hit_t *hits = calloc(q.limit, sizeof *hits);
    sz_msg_hit_t *mh = calloc(q.limit, sizeof *mh);
    size_t n = 0;
    rc = (hits && mh) ? sz_store_search(st, q.query, hits, q.limit, &n) : -ENOMEM;
    if (rc < 0) {
        out_error(&j->out, rc, rc == SZ_E_ARGUMENT ? "bad search query" : sz_strerror(rc));
    } else {
        for (size_t i = 0; i < n; i++) {
            memcpy(mh[i].record_id, hits[i].record_id, 32);
            mh[i].score = hits[i].score;
        }
        sz_msg_search_result_t res = {.count = (uint16_t)n, .hits = mh};
        out_add(&j->out, SZ_MSG_SEARCH_RESULT, &res, enc_search_result);
    }
    free(hits);
    free(mh);
}

static void do_status(read_job_t *j, sz_server_t *s) {
    if (sz_msg_status_decode(j->req, j->len) < 0) {
        out_error(&j->out, SZ_E_MALFORMED, "STATUS takes no payload");
        return;
    }
    sz_store_stats_t stats;
    int rc = sz_store_stats(s->store, &stats);
    sz_msg_status_ok_t m = {.protocol_version = SZ_PROTOCOL_VERSION};
    if (rc == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        rc = sz_store_tree_head(s->store, s->node->secret_key, now, &m.tree_head);
    }
    if (rc < 0) {
        out_error(&j->out, rc, sz_strerror(rc));
        return;
    }
    memcpy(m.node_key, s->node->public_key, 32);
    memcpy(m.software, s->software, sizeof m.software);
    m.records = stats.records;
    m.versions = stats.versions;
    m.fts_lag = stats.versions > stats.fts_seq ? stats.versions - stats.fts_seq : 0;
    /* Replication: each peer's lag (sync.c), and the digest of the whole version set, which
     * equals a peer's exactly when both hold the same versions. */
    rc = sz_store_set_digest(s->store, &m.set_count, m.set_digest);
    if (rc < 0) {
        out_error(&j->out, rc, sz_strerror(rc));
        return;
    }
    /* Default recipients, so clients can seal to them. The config keeps its lists free of
     * repeats, but the wire forbids them, so check again; past the wire's bound the rest are
     * left out (config.c should refuse more than SZ_MSG_MAX_SEAL_TO). */
    const sz_keylist_t *seal = &s->cfg->seal_to;
    for (size_t i = 0; i < seal->n && m.nseal < SZ_MSG_MAX_SEAL_TO; i++) {
        int seen = 0;
        for (unsigned k = 0; k < m.nseal && !seen; k++)
            seen = memcmp(m.seal_to[k], seal->keys[i], 32) == 0;
        if (!seen)
            memcpy(m.seal_to[m.nseal++], seal->keys[i], 32);
    }
    sz_msg_peer_t *peers = malloc(SZ_MSG_MAX_PEERS * sizeof *peers);
    char(*addr)[SZ_MSG_MAX_ADDRESS + 1] = malloc(SZ_MSG_MAX_PEERS * sizeof *addr);
    if (peers != NULL && addr != NULL) {
        m.npeers = (uint16_t)sz_sync_status(s, peers, addr, SZ_MSG_MAX_PEERS);
        m.peers = peers;
    }
    out_add(&j->out, SZ_MSG_STATUS_OK, &m, enc_status_ok);
    free(peers);
    free(addr);
}

/* Audit requests (audit.c): the answer is one message, already encoded. */
typedef struct raw_msg_s {
    const uint8_t *p;
    size_t len;
} raw_msg_t;

static int enc_raw(const void *m, uint8_t *o, size_t cap, size_t *len) {
    const raw_msg_t *r = m;
    *len = r->len;
    if (o == NULL)
        return 0;
    if (cap < r->len)
        return SZ_E_ARGUMENT;
    memcpy(o, r->p, r->len);
    return 0;
}

static void do_audit(read_job_t *j, sz_server_t *s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    sz_audit_reply_t r;
    const char *why = "";
    int rc = sz_audit_answer(s->store, s->node->secret_key, now, j->type, j->req, j->len, &r, &why);
    if (rc < 0) {
        out_error(&j->out, rc, why[0] ? why : sz_strerror(rc));
        return;
    }
    raw_msg_t m = {.p = r.payload, .len = r.len};
    out_add(&j->out, r.type, &m, enc_raw);
    free(r.payload);
}

/* Sync requests from mirrors (sync.c): one answer message, already encoded. */
static void do_sync_serve(read_job_t *j, sz_server_t *s) {
    uint8_t type = 0;
    uint8_t *payload = NULL;
    size_t len = 0;
    const char *why = "";
    int rc = sz_sync_answer(s, j->type, j->req, j->len, &type, &payload, &len, &why);
    if (rc < 0) {
        out_error(&j->out, rc, why[0] ? why : sz_strerror(rc));
        return;
    }
    raw_msg_t m = {.p = payload, .len = len};
    out_add(&j->out, type, &m, enc_raw);
    free(payload);
}

static void read_work(uv_work_t *w) {
    read_job_t *j = w->data;
    sz_server_t *s = j->c->srv;
    switch (j->type) {
    case SZ_MSG_GET:
        do_get(j, s->store);
        break;
    case SZ_MSG_HISTORY:
        do_history(j, s->store);
        break;
    case SZ_MSG_LIST:
        do_list(j, s->store);
        break;
    case SZ_MSG_SEARCH:
        do_search(j, s->store);
        break;
    case SZ_MSG_AUDIT_HEAD:
    case SZ_MSG_AUDIT_PROVE:
        do_audit(j, s);
        break;
    case SZ_MSG_SYNC:
    case SZ_MSG_FETCH:
        do_sync_serve(j, s);
        break;
    default:
        do_status(j, s);
        break;
    }
    if (j->out.err)
        out_error(&j->out, j->out.err, sz_strerror(j->out.err));
}

static void after_read(uv_work_t *w, int status) {
    read_job_t *j = w->data;
    sz_conn_t *c = j->c;
    c->srv->pending_work--;
    c->reads_running--;
    if (status < 0)
        out_error(&j->out, SZ_E_STATE, "request cancelled");
    sz_conn_cork(c);
    size_t off = 0;
    while (off + 5 <= j->out.len) {
        const uint8_t *p = j->out.buf + off;
        size_t n = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
        if (sz_conn_send(c, p[0], j->rid, p + 5, n) < 0)
            break;
        off += 5 + n;
    }
    size_t held = j->len;
    free(j->out.buf);
    free(j);
    c->refs++; /* uncork and pump below still use c */
    sz_conn_uncork(c);
    sz_conn_request_done(c, held);
    sz_handlers_pump(c);
    sz_conn_unref(c);
}

void sz_handlers_pump(sz_conn_t *c) {
    sz_server_t *s = c->srv;
    while (c->read_head != NULL) {
        read_job_t *j = c->read_head;
        if (c->state != SZ_CONN_CLOSING &&
            (c->reads_running >= SZ_READS_PER_CONN || c->queued > s->cfg->max_write_queue))
            return;
        c->read_head = j->next;
        if (c->read_head == NULL)
            c->read_tail = NULL;
        if (c->state == SZ_CONN_CLOSING) {
            /* Nobody will read the answer. */
            size_t held = j->len;
            free(j);
            c->refs++;
            sz_conn_request_done(c, held);
            sz_conn_unref(c);
            continue;
        }
        c->reads_running++;
        s->pending_work++;
        if (uv_queue_work(s->loop, &j->work, read_work, after_read) < 0)
            after_read(&j->work, UV_ECANCELED);
    }
}

void sz_handlers_request(sz_conn_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                         size_t len) {
    read_job_t *j = calloc(1, sizeof *j + len);
    if (j == NULL) {
        sz_conn_send_error(c, request_id, -ENOMEM, "out of memory");
        sz_conn_request_done(c, len);
        return;
    }
    j->c = c;
    j->type = type;
    j->rid = request_id;
    j->len = len;
    if (len > 0)
        memcpy(j->req, payload, len);
    j->work.data = j;
    if (c->read_tail)
        c->read_tail->next = j;
    else
        c->read_head = j;
    c->read_tail = j;
    sz_handlers_pump(c);
}
