/* Replication between mirrors: peers, outbound connections, pulls from checkpoints, reconciliation
 * and fetch, live push and relay, admin requests. proto/SYNC.md is the design; this file is its
 * daemon side. Everything runs on the loop thread except the *_work functions (thread pool). */
#include "sync.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoding.h"
#include "error.h"
#include "log.h"
#include "peers.h"
#include "reconcile.h"
#include "sha256.h"

typedef struct sz_sync_s sz_sync_t;

#define NO_SEQ UINT64_MAX
#define SYNC_CP_PAGES 8 /* pages committed between checkpoint writes in a long pull */
#define SYNC_CP_MS 1000 /* ... or this long */

enum { MODE_PULL = 0, MODE_RECON, MODE_FETCH };
enum { B_PAGE = 0, B_FETCH, B_PUSH, B_RETRY };

/* One envelope to store. */
typedef struct item_s {
    uint8_t *env; /* borrowed from the batch buffer, or malloc'd when owned */
    size_t len;
    uint64_t seq; /* position in the peer's log, NO_SEQ when unknown */
    int owned;
    int err;
    uint8_t want_hash[32]; /* FETCH: the hash asked for */
    int check_hash;
    sz_verified_t v;
} item_t;

typedef struct batch_s {
    struct batch_s *next;
    struct sz_peer_s *peer;
    int kind;
    uint8_t *buf; /* owned copy of the message payload (NULL for RETRY) */
    item_t *items;
    size_t n;
    uint64_t page_end; /* PAGE: the seq after its last entry */
    int last_page; /* PAGE: the last of a pull (reaches the head's size), or a checkpoint batch */
    unsigned chunks_left;
    int verified, bad, dropped, queued;
    size_t bad_index;
    sz_conn_t *conn; /* PUSH: the inbound connection, referenced, request in flight */
    size_t held;
} batch_t;

typedef struct waiter_s {
    struct waiter_s *next;
    sz_sync_t *sync;
    sz_conn_t *c;
    uint32_t rid;
    size_t held;
    uint8_t key[32];
    int all;
    uv_timer_t timer;
} waiter_t;

typedef struct sz_peer_s {
    struct sz_peer_s *next;
    struct sz_sync_s *sync;
    uint8_t key[32];
    char host[SZ_HOST_BUF];
    uint16_t port;
    char addr[SZ_MSG_MAX_ADDRESS + 1];
    char *invite; /* sodium_malloc'd (holds the network key) */
    int from_config, removed;
    int state; /* SZ_PEER_STATE_* */
    uv_timer_t timer;
    int timer_open;
    uint32_t backoff_ms;
    int resolving; /* a DNS lookup of host is in progress */
    sz_conn_t *out;
    uint64_t gen; /* bumped at every connect and close */
    uint32_t next_rid;
    uint32_t max_message;
    /* Pull. */
    sz_checkpoint_t cp;
    uint64_t next_req;
    uint32_t sync_rid;
    uint32_t stale_rid; /* an abandoned SYNC whose answer is ignored */
    unsigned pages_since_cp;
    uint64_t cp_written_ms;
    uint64_t progress_ms; /* loop time of the last answer or commit */
    uint64_t sync_from;
    uint8_t sync_flags;
    int caught_up;
    /* Reconciliation and fetch. */
    int want_recon, mode, recon_final;
    struct rsess_s *rs; /* the reconciliation this node initiated */
    uint32_t recon_rid;
    sz_tree_head_t recon_head;
    int fetch_for_page;      /* MODE_FETCH serves a page of hashes, not a reconciliation */
    uint64_t fetch_page_end; /* ... whose checkpoint is then this */
    uint64_t pushed_since_pull;
    uint8_t (*fq)[32];
    size_t fq_len, fq_cap;
    uint32_t fetch_rid[SZ_SYNC_FETCH_INFLIGHT];
    unsigned fetch_inflight;
    /* Received, being verified or committed, in order. */
    batch_t *bhead, *btail;
    size_t nbatches;
    int committing;
    /* Held for their parents (owned envelopes, not yet verified again). */
    item_t *pending;
    size_t npending, pending_cap, pending_bytes;
    /* Live push out. */
    uint8_t *pushbuf;
    size_t pushlen, pushcap;
    size_t *pushoff;
    size_t pushn, pushoffcap;
    /* Stats (read by sz_sync_status under the lock). */
    uint64_t last_seen, remote_size, received, sent;
    uint32_t recons;
    int last_error;
} sz_peer_t;

struct sz_sync_s {
    sz_server_t *srv;
    sz_peer_t *peers;
    waiter_t *waiters;
    pthread_mutex_t lock; /* guards the list and the stats fields, for sz_sync_status */
    int stopping;
};

static void peer_pump(sz_peer_t *p);
static void try_commit(sz_peer_t *p);
static void check_waiters(sz_sync_t *y);
static void schedule(sz_peer_t *p, uint64_t ms);

static uint64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_state(sz_peer_t *p, int st) {
    pthread_mutex_lock(&p->sync->lock);
    p->state = st;
    pthread_mutex_unlock(&p->sync->lock);
}

static uint32_t new_rid(sz_peer_t *p) {
    if (++p->next_rid == 0)
        p->next_rid = 1;
    return p->next_rid;
}

/* ---- Items and batches ---- */

static void item_free(item_t *it) {
    if (it->owned)
        free(it->env);
    it->env = NULL;
}

static void batch_free(batch_t *b) {
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        item_free(&b->items[i]);
    free(b->items);
    free(b->buf);
    if (b->conn != NULL) {
        sz_conn_request_done(b->conn, b->held);
        b->conn = NULL;
    }
    free(b);
}

static void pending_clear(sz_peer_t *p) {
    for (size_t i = 0; i < p->npending; i++)
        item_free(&p->pending[i]);
    p->npending = 0;
    p->pending_bytes = 0;
}

/* Holds a version whose parents are missing (copying its bytes). Over the bound it is dropped: a
 * later pull or reconciliation brings it again. */
static void pending_add(sz_peer_t *p, const item_t *it) {
    if (p->npending >= SZ_SYNC_MAX_PENDING ||
        p->pending_bytes + it->len > SZ_SYNC_MAX_PENDING_BYTES)
        return;
    if (p->npending == p->pending_cap) {
        size_t cap = p->pending_cap ? p->pending_cap * 2 : 64;
        item_t *g = realloc(p->pending, cap * sizeof *g);
        if (g == NULL)
            return;
        p->pending = g;
        p->pending_cap = cap;
    }
    uint8_t *copy = malloc(it->len);
    if (copy == NULL)
        return;
    memcpy(copy, it->env, it->len);
    item_t *d = &p->pending[p->npending++];
    memset(d, 0, sizeof *d);
    d->env = copy;
    d->len = it->len;
    d->seq = it->seq;
    d->owned = 1;
    p->pending_bytes += it->len;
}

static uint64_t pending_min_seq(const sz_peer_t *p) {
    uint64_t m = NO_SEQ;
    for (size_t i = 0; i < p->npending; i++)
        if (p->pending[i].seq < m)
            m = p->pending[i].seq;
    return m;
}

/* Drops every queued batch of p that is not being committed. Batches still being verified are
 * marked and freed when their verification returns. */
static void drop_batches(sz_peer_t *p) {
    batch_t **pp = &p->bhead, *last = NULL;
    while (*pp != NULL) {
        batch_t *b = *pp;
        *pp = b->next;
        b->queued = 0;
        p->nbatches--;
        if (b->chunks_left > 0)
            b->dropped = 1;
        else
            batch_free(b);
    }
    (void)last;
    p->btail = NULL;
    pending_clear(p);
}

/* Something of a pull was lost (a failed commit, a local failure): drop what is queued after it
 * and pull again from the last checkpoint. An answer to a SYNC still outstanding is ignored. */
static void restart_pull(sz_peer_t *p) {
    drop_batches(p);
    if (p->sync_rid != 0)
        p->stale_rid = p->sync_rid;
    p->sync_rid = 0;
    p->next_req = p->cp.next;
    p->caught_up = 0;
}

/* ---- Violations ---- */

/* The peer sent something forged or invalid: nothing it sent in that message is stored, what is
 * queued from it is dropped, and its connections are closed. */
static void violation(sz_peer_t *p, sz_conn_t *inbound, const char *reason, int err,
                      const uint8_t *hash) {
    sz_server_t *s = p->sync->srv;
    (void)s;
    if (hash != NULL)
        SZ_LOG(SZ_LOG_WARN, "sync_violation", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_STR("reason", reason), SZ_LF_ERR("err", err), SZ_LF_HASH("version", hash));
    else
        SZ_LOG(SZ_LOG_WARN, "sync_violation", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_STR("reason", reason), SZ_LF_ERR("err", err));
    pthread_mutex_lock(&p->sync->lock);
    p->last_error = err < 0 ? err : SZ_E_PROTOCOL;
    pthread_mutex_unlock(&p->sync->lock);
    drop_batches(p);
    if (p->out != NULL)
        sz_conn_close(p->out, "sync_violation", err);
    if (inbound != NULL)
        sz_conn_close(inbound, "sync_violation", err);
}

/* ---- Verification on the thread pool ---- */

typedef struct vjob_s {
    uv_work_t work;
    batch_t *b;
    size_t from, to;
} vjob_t;

static void verify_work(uv_work_t *w) {
    vjob_t *j = w->data;
    batch_t *b = j->b;
    for (size_t i = j->from; i < j->to; i++) {
        item_t *it = &b->items[i];
        it->err = sz_store_verify(&it->v, it->env, it->len);
        if (it->err == 0 && it->check_hash &&
            sodium_memcmp(it->v.version_hash, it->want_hash, 32) != 0)
            it->err = SZ_E_PROTOCOL; /* not the version asked for */
    }
}

static void batch_verified(batch_t *b);

static void after_verify(uv_work_t *w, int status) {
    vjob_t *j = w->data;
    batch_t *b = j->b;
    sz_server_t *s = b->peer->sync->srv;
    s->pending_work--;
    if (status < 0) {
        for (size_t i = j->from; i < j->to; i++)
            if (b->items[i].err == 0)
                b->items[i].err = SZ_E_STATE;
    }
    free(j);
    if (--b->chunks_left == 0)
        batch_verified(b);
    sz_server_check_finish(s);
}

static void start_verify(batch_t *b) {
    sz_server_t *s = b->peer->sync->srv;
    size_t workers = s->max_verify_workers ? s->max_verify_workers : 1;
    size_t chunks = (b->n + 31) / 32;
    if (chunks > workers)
        chunks = workers;
    if (chunks == 0)
        chunks = 1;
    b->chunks_left = (unsigned)chunks;
    for (size_t k = 0; k < chunks; k++) {
        vjob_t *j = calloc(1, sizeof *j);
        size_t from = b->n * k / chunks, to = b->n * (k + 1) / chunks;
        if (j == NULL) {
            for (size_t i = from; i < to; i++)
                b->items[i].err = -ENOMEM;
            if (--b->chunks_left == 0)
                batch_verified(b);
            continue;
        }
        j->b = b;
        j->from = from;
        j->to = to;
        j->work.data = j;
        s->pending_work++;
        if (uv_queue_work(s->loop, &j->work, verify_work, after_verify) < 0)
            after_verify(&j->work, UV_ECANCELED);
    }
}

static void batch_verified(batch_t *b) {
    sz_peer_t *p = b->peer;
    b->verified = 1;
    if (b->dropped) {
        batch_free(b);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        int e = b->items[i].err;
        if (e == 0)
            continue;
        if (e == -ENOMEM || e == SZ_E_STATE) {
            /* Our failure, not the peer's: drop the batch, the next pull brings it again. */
            b->bad = 2;
            break;
        }
        b->bad = 1;
        b->bad_index = i;
        break;
    }
    if (b->bad == 1) {
        sz_conn_t *in = b->kind == B_PUSH ? b->conn : NULL;
        uint8_t h[32];
        sz_sha256(h, b->items[b->bad_index].env, b->items[b->bad_index].len);
        /* RETRY batches hold versions that verified once already; a failure now is ours. */
        violation(p, in,
                  b->kind == B_PAGE    ? "invalid record in LOG_PAGE"
                  : b->kind == B_FETCH ? "invalid record in FETCHED"
                                       : "invalid record in PUSH",
                  b->items[b->bad_index].err, h);
        return;
    }
    try_commit(p);
}

/* ---- Commit on the thread pool ---- */

typedef struct cjob_s {
    uv_work_t work;
    batch_t *b;
    sz_server_t *srv;
    sz_verified_t *v;
    sz_put_result_t *res;
    size_t *idx; /* v[k] is b->items[idx[k]] */
    size_t n;
    int rc, cp_rc;
    int write_cp;
    uint8_t key[32];
    sz_checkpoint_t cp;
    uint64_t pending_min;
} cjob_t;

static void commit_work(uv_work_t *w) {
    cjob_t *j = w->data;
    j->rc = j->n > 0 ? sz_store_put_verified(j->srv->store, j->v, j->n, j->res) : 0;
    if (j->rc != 0 || !j->write_cp)
        return;
    /* The checkpoint moves only past what is committed, never past a held version. */
    uint64_t next = j->b->page_end;
    if (j->pending_min < next)
        next = j->pending_min;
    for (size_t k = 0; k < j->n; k++) {
        uint64_t seq = j->b->items[j->idx[k]].seq;
        if (j->res[k].err == SZ_E_PARENT_MISSING && seq < next)
            next = seq;
    }
    if (next < j->cp.next)
        next = j->cp.next;
    j->cp.next = next;
    j->cp.last_sync_ms = wall_ms();
    j->cp_rc = sz_store_checkpoint_put(j->srv->store, j->key, &j->cp);
}

static void after_commit(uv_work_t *w, int status) {
    cjob_t *j = w->data;
    batch_t *b = j->b;
    sz_peer_t *p = b->peer;
    sz_sync_t *y = p->sync;
    sz_server_t *s = y->srv;
    s->pending_work--;
    p->committing = 0;
    p->progress_ms = uv_now(s->loop);
    if (status < 0 && j->rc == 0)
        j->rc = SZ_E_STATE;
    size_t stored = 0, refused = 0;
    if (j->rc != 0) {
        SZ_LOG(SZ_LOG_ERROR, "sync_commit_failed", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_ERR("err", j->rc), SZ_LF_STR("detail", sz_store_errmsg(s->store)));
        pthread_mutex_lock(&y->lock);
        p->last_error = j->rc;
        pthread_mutex_unlock(&y->lock);
        /* Nothing of this batch is stored: later batches must not move the checkpoint past it.
         * Drop them and pull again from the last checkpoint. */
        restart_pull(p);
    } else {
        for (size_t k = 0; k < j->n; k++) {
            item_t *it = &b->items[j->idx[k]];
            const sz_put_result_t *r = &j->res[k];
            if (r->err == 0 && !(r->flags & SZ_PUT_EXISTED)) {
                stored++;
                sz_sync_stored(s, it->env, it->len, p);
            } else if (r->err == SZ_E_PARENT_MISSING) {
                pending_add(p, it);
            } else if (r->err != 0) {
                refused++;
                SZ_LOG(SZ_LOG_DEBUG, "sync_refused", SZ_LF_PUBKEY("peer", p->key),
                       SZ_LF_HASH("version", r->version_hash), SZ_LF_ERR("err", r->err));
            }
        }
        pthread_mutex_lock(&y->lock);
        p->received += stored;
        if (j->write_cp && j->cp_rc == 0)
            p->cp.next = j->cp.next;
        pthread_mutex_unlock(&y->lock);
        if (j->write_cp && j->cp_rc != 0)
            SZ_LOG(SZ_LOG_ERROR, "sync_checkpoint_failed", SZ_LF_PUBKEY("peer", p->key),
                   SZ_LF_ERR("err", j->cp_rc));
        if (stored > 0 || refused > 0)
            SZ_LOG(SZ_LOG_DEBUG, "sync_commit", SZ_LF_PUBKEY("peer", p->key),
                   SZ_LF_UINT("stored", stored), SZ_LF_UINT("refused", refused),
                   SZ_LF_UINT("held", p->npending), SZ_LF_UINT("checkpoint", p->cp.next));
    }
    free(j->v);
    free(j->res);
    free(j->idx);
    free(j);
    batch_free(b);
    if (stored > 0) {
        sz_ingest_fts_kick(s);
        sz_sync_flush(s);
        /* New versions may be the parents of held ones: try those again. */
        if (p->npending > 0) {
            batch_t *r = calloc(1, sizeof *r);
            if (r != NULL) {
                r->peer = p;
                r->kind = B_RETRY;
                r->items = p->pending;
                r->n = p->npending;
                p->pending = NULL;
                p->npending = p->pending_cap = p->pending_bytes = 0;
                r->queued = 1;
                if (p->btail)
                    p->btail->next = r;
                else
                    p->bhead = r;
                p->btail = r;
                p->nbatches++;
                start_verify(r);
            }
        }
    }
    try_commit(p);
    peer_pump(p);
    check_waiters(y);
    sz_server_check_finish(s);
}

static void try_commit(sz_peer_t *p) {
    sz_server_t *s = p->sync->srv;
    if (p->committing || p->bhead == NULL || !p->bhead->verified)
        return;
    batch_t *b = p->bhead;
    p->bhead = b->next;
    if (p->bhead == NULL)
        p->btail = NULL;
    p->nbatches--;
    b->queued = 0;
    if (b->bad) {
        /* Refused for a local failure (memory): the same as a failed commit. */
        batch_free(b);
        restart_pull(p);
        return;
    }
    cjob_t *j = calloc(1, sizeof *j);
    if (j != NULL) {
        j->v = malloc((b->n ? b->n : 1) * sizeof *j->v);
        j->res = calloc(b->n ? b->n : 1, sizeof *j->res);
        j->idx = malloc((b->n ? b->n : 1) * sizeof *j->idx);
    }
    if (j == NULL || j->v == NULL || j->res == NULL || j->idx == NULL) {
        if (j != NULL) {
            free(j->v);
            free(j->res);
            free(j->idx);
            free(j);
        }
        batch_free(b);
        restart_pull(p);
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        j->v[j->n] = b->items[i].v;
        j->idx[j->n++] = i;
    }
    j->b = b;
    j->srv = s;
    memcpy(j->key, p->key, 32);
    /* During a long pull the checkpoint is written every few pages, not after each one (each
     * write is a transaction of its own): a crash only repeats those pages. */
    uint64_t now = uv_now(s->loop);
    j->write_cp = b->kind == B_PAGE && (b->last_page || ++p->pages_since_cp >= SYNC_CP_PAGES ||
                                        now - p->cp_written_ms >= SYNC_CP_MS);
    if (j->write_cp) {
        p->pages_since_cp = 0;
        p->cp_written_ms = now;
    }
    j->cp = p->cp;
    j->pending_min = pending_min_seq(p);
    j->work.data = j;
    p->committing = 1;
    s->pending_work++;
    if (uv_queue_work(s->loop, &j->work, commit_work, after_commit) < 0) {
        j->rc = SZ_E_STATE;
        after_commit(&j->work, UV_ECANCELED);
    }
}

static void enqueue(sz_peer_t *p, batch_t *b) {
    sz_server_t *s = p->sync->srv;
    /* Replicated versions count as arrivals: full-text catch-up then runs in small steps and
     * leaves the cores to verification and commits (ingest.c). */
    s->last_submit_ms = uv_now(s->loop);
    b->queued = 1;
    if (p->btail)
        p->btail->next = b;
    else
        p->bhead = b;
    p->btail = b;
    p->nbatches++;
    start_verify(b);
}

/* ---- Sending requests ---- */

static int send_sync(sz_peer_t *p, uint32_t max_count) {
    sz_server_t *s = p->sync->srv;
    /* When the peer has been pushing, its log mostly holds what we have: ask for hashes and
     * fetch the few we lack, rather than receive every envelope a second time. */
    uint8_t flags = p->pushed_since_pull > 0 ? SZ_SYNC_HASHES : 0;
    p->pushed_since_pull = 0;
    sz_msg_sync_t m = {.flags = flags,
                       .from = p->next_req,
                       .max_count = max_count,
                       .max_bytes = SZ_SYNC_PAGE_BYTES,
                       .proof_from = p->cp.verified_size};
    int rc = sz_store_tree_head(s->store, s->node->secret_key, wall_ms(), &m.head);
    uint8_t buf[SZ_MSG_SYNC_LEN];
    size_t n = 0;
    if (rc == 0)
        rc = sz_msg_sync_encode(&m, buf, sizeof buf, &n);
    if (rc != 0)
        return rc;
    p->sync_rid = new_rid(p);
    p->sync_from = m.from;
    p->sync_flags = flags;
    return sz_conn_send(p->out, SZ_MSG_SYNC, p->sync_rid, buf, n);
}

static int send_fetch(sz_peer_t *p) {
    size_t n = p->fq_len < SZ_MSG_MAX_FETCH ? p->fq_len : SZ_MSG_MAX_FETCH;
    /* Take from the end: the queue is a stack, order does not matter (parents are held). */
    const uint8_t *h = (const uint8_t *)p->fq[p->fq_len - n];
    sz_msg_fetch_t m = {.count = (uint16_t)n, .hashes = h};
    size_t len = 0;
    uint8_t *buf = malloc(2 + n * 32);
    if (buf == NULL)
        return -ENOMEM;
    int rc = sz_msg_fetch_encode(&m, buf, 2 + n * 32, &len);
    uint32_t rid = new_rid(p);
    if (rc == 0)
        rc = sz_conn_send(p->out, SZ_MSG_FETCH, rid, buf, len);
    free(buf);
    if (rc != 0)
        return rc;
    p->fq_len -= n;
    for (unsigned i = 0; i < SZ_SYNC_FETCH_INFLIGHT; i++)
        if (p->fetch_rid[i] == 0) {
            p->fetch_rid[i] = rid;
            break;
        }
    p->fetch_inflight++;
    return 0;
}

static int fq_add(sz_peer_t *p, const uint8_t id[32]) {
    if (p->fq_len >= SZ_SYNC_MAX_FETCH_QUEUE)
        return 0; /* the next reconciliation brings the rest */
    if (p->fq_len == p->fq_cap) {
        size_t cap = p->fq_cap ? p->fq_cap * 2 : 256;
        void *g = realloc(p->fq, cap * 32);
        if (g == NULL)
            return -ENOMEM;
        p->fq = g;
        p->fq_cap = cap;
    }
    memcpy(p->fq[p->fq_len++], id, 32);
    return 0;
}

/* A reconciliation this node initiated. Its messages are computed on the thread pool (each may
 * walk the whole set); the ids it finds missing collect here and join the fetch queue on the loop
 * thread after each step. */
typedef struct rsess_s {
    sz_recon_t *r;
    uint8_t (*need)[32];
    size_t nneed, capneed, maxneed;
    int busy;   /* a step runs on the thread pool */
    int orphan; /* the peer let go of it while busy: the step frees it */
} rsess_t;

static int recon_on_id(void *arg, int kind, const uint8_t id[32]) {
    rsess_t *rs = arg;
    if (kind != SZ_RECON_NEED || rs->nneed >= rs->maxneed)
        return 0; /* over the bound: the next reconciliation brings the rest */
    if (rs->nneed == rs->capneed) {
        size_t cap = rs->capneed ? rs->capneed * 2 : 256;
        void *g = realloc(rs->need, cap * 32);
        if (g == NULL)
            return -ENOMEM;
        rs->need = g;
        rs->capneed = cap;
    }
    memcpy(rs->need[rs->nneed++], id, 32);
    return 0;
}

static void rsess_free(rsess_t *rs) {
    if (rs == NULL)
        return;
    sz_recon_free(rs->r);
    free(rs->need);
    free(rs);
}

/* Drops p's session, now or (while a step runs) when the step returns. */
static void rsess_release(sz_peer_t *p) {
    rsess_t *rs = p->rs;
    p->rs = NULL;
    if (rs == NULL)
        return;
    if (rs->busy)
        rs->orphan = 1;
    else
        rsess_free(rs);
}

typedef struct rstep_s {
    uv_work_t work;
    sz_peer_t *p;
    rsess_t *rs;
    int init, done, rc;
    uint8_t *in, *out;
    size_t len, out_len;
} rstep_t;

static void rstep_work(uv_work_t *w) {
    rstep_t *j = w->data;
    const uint8_t *o = NULL;
    size_t l = 0;
    if (j->init)
        j->rc = sz_recon_initiate(j->rs->r, &o, &l);
    else
        j->rc = sz_recon_process(j->rs->r, j->in, j->len, &o, &l, &j->done);
    if (j->rc == 0 && l > 0) {
        j->out = malloc(l);
        if (j->out == NULL)
            j->rc = -ENOMEM;
        else
            memcpy(j->out, o, l);
        j->out_len = l;
    }
}

static void after_rstep(uv_work_t *w, int status) {
    rstep_t *j = w->data;
    sz_peer_t *p = j->p;
    rsess_t *rs = j->rs;
    sz_server_t *s = p->sync->srv;
    s->pending_work--;
    rs->busy = 0;
    if (status < 0 && j->rc == 0)
        j->rc = SZ_E_STATE;
    if (rs->orphan || p->rs != rs || p->out == NULL) {
        if (p->rs == rs)
            p->rs = NULL;
        rsess_free(rs);
        goto out;
    }
    p->progress_ms = uv_now(s->loop);
    for (size_t i = 0; i < rs->nneed; i++)
        fq_add(p, rs->need[i]);
    rs->nneed = 0;
    if (j->rc != 0) {
        if (j->init || j->rc == -ENOMEM || j->rc == SZ_E_STATE) {
            SZ_LOG(SZ_LOG_WARN, "sync_recon_failed", SZ_LF_PUBKEY("peer", p->key),
                   SZ_LF_ERR("err", j->rc));
            rsess_release(p);
            p->mode = MODE_PULL;
            p->caught_up = 0;
            peer_pump(p);
        } else {
            violation(p, NULL, "bad RECON message", j->rc, NULL);
        }
        goto out;
    }
    if (j->out_len > 0) {
        p->recon_rid = new_rid(p);
        if (sz_conn_send(p->out, SZ_MSG_RECON, p->recon_rid, j->out, j->out_len) != 0)
            goto out;
        p->recon_final = j->done;
        goto out;
    }
    rsess_release(p);
    p->mode = MODE_FETCH;
    peer_pump(p);
out:
    free(j->in);
    free(j->out);
    free(j);
    sz_server_check_finish(s);
}

/* Runs one step of p's session on the thread pool: the first message (in == NULL) or the
 * processing of the peer's answer (in, borrowed, copied). */
static int rstep_start(sz_peer_t *p, const uint8_t *in, size_t len) {
    sz_server_t *s = p->sync->srv;
    rstep_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->p = p;
    j->rs = p->rs;
    j->init = in == NULL;
    if (in != NULL) {
        j->in = malloc(len ? len : 1);
        if (j->in == NULL) {
            free(j);
            return -ENOMEM;
        }
        memcpy(j->in, in, len);
        j->len = len;
    }
    j->work.data = j;
    p->rs->busy = 1;
    s->pending_work++;
    int rc = uv_queue_work(s->loop, &j->work, rstep_work, after_rstep);
    if (rc < 0) {
        s->pending_work--;
        p->rs->busy = 0;
        free(j->in);
        free(j);
    }
    return rc;
}

/* Finishes a reconciliation: everything the peer held at recon_head is now held (or refused), so
 * the checkpoint moves to that head and pulls resume from there. */
static void recon_finished(sz_peer_t *p) {
    sz_server_t *s = p->sync->srv;
    sz_checkpoint_t cp = {
        .next = p->recon_head.size, .verified_size = p->recon_head.size, .last_sync_ms = wall_ms()};
    memcpy(cp.verified_root, p->recon_head.root, 32);
    int rc = sz_store_checkpoint_put(s->store, p->key, &cp);
    if (rc != 0) {
        SZ_LOG(SZ_LOG_ERROR, "sync_checkpoint_failed", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_ERR("err", rc));
    } else {
        pthread_mutex_lock(&p->sync->lock);
        p->cp = cp;
        pthread_mutex_unlock(&p->sync->lock);
    }
    SZ_LOG(SZ_LOG_INFO, "sync_reconciled", SZ_LF_PUBKEY("peer", p->key),
           SZ_LF_UINT("size", p->recon_head.size), SZ_LF_UINT("held", p->npending));
    p->mode = MODE_PULL;
    p->next_req = p->cp.next;
    p->caught_up = 0;
}

static void start_recon(sz_peer_t *p, const sz_tree_head_t *head) {
    sz_server_t *s = p->sync->srv;
    p->want_recon = 0;
    p->recon_head = *head;
    rsess_release(p);
    sz_recon_source_t src;
    sz_store_recon_source(s->store, &src);
    rsess_t *rs = calloc(1, sizeof *rs);
    int rc = rs == NULL ? -ENOMEM : 0;
    if (rc == 0) {
        rs->maxneed = SZ_SYNC_MAX_FETCH_QUEUE;
        sz_recon_options_t o = {.on_id = recon_on_id, .arg = rs};
        rc = sz_recon_new(&rs->r, &src, &o);
    }
    if (rc == 0) {
        p->rs = rs;
        rs = NULL;
        rc = rstep_start(p, NULL, 0);
    }
    if (rc != 0) {
        SZ_LOG(SZ_LOG_WARN, "sync_recon_failed", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_ERR("err", rc));
        rsess_free(rs);
        rsess_release(p);
        p->mode = MODE_PULL;
        return;
    }
    pthread_mutex_lock(&p->sync->lock);
    p->recons++;
    p->state = SZ_PEER_STATE_SYNCING;
    pthread_mutex_unlock(&p->sync->lock);
    p->mode = MODE_RECON;
    p->recon_final = 0;
    p->fq_len = 0;
}

/* Queues an empty page batch whose commit writes the checkpoint `end` (held versions permitting).
 */
static void checkpoint_batch(sz_peer_t *p, uint64_t end) {
    batch_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return;
    b->peer = p;
    b->kind = B_PAGE;
    b->page_end = end;
    b->last_page = 1;
    enqueue(p, b);
}

static int peer_busy(const sz_peer_t *p) {
    return p->mode != MODE_PULL || p->want_recon || !p->caught_up || p->sync_rid != 0 ||
           p->nbatches > 0 || p->committing;
}

/* Sends what the peer's state allows: the next SYNC, FETCHes, or nothing. */
static void peer_pump(sz_peer_t *p) {
    if (p->out == NULL || p->out->state != SZ_CONN_READY || p->sync->stopping)
        return;
    if (p->mode == MODE_FETCH) {
        while (p->fq_len > 0 && p->fetch_inflight < SZ_SYNC_FETCH_INFLIGHT &&
               p->nbatches < SZ_SYNC_MAX_BATCHES)
            if (send_fetch(p) != 0)
                return;
        if (p->fetch_for_page && p->fq_len == 0 && p->fetch_inflight == 0) {
            /* The fetched batches are queued ahead: the checkpoint batch commits after them. */
            p->fetch_for_page = 0;
            p->mode = MODE_PULL;
            checkpoint_batch(p, p->fetch_page_end);
        } else if (!p->fetch_for_page && p->fq_len == 0 && p->fetch_inflight == 0 &&
                   p->nbatches == 0 && !p->committing) {
            recon_finished(p);
        }
    }
    if (p->mode == MODE_PULL && p->sync_rid == 0) {
        if (p->want_recon)
            send_sync(p, 0);
        else if (!p->caught_up && p->nbatches < SZ_SYNC_MAX_BATCHES)
            send_sync(p, SZ_SYNC_PAGE_COUNT);
    }
    int busy = peer_busy(p);
    if (p->state != SZ_PEER_STATE_CONNECTING)
        set_state(p, busy ? SZ_PEER_STATE_SYNCING : SZ_PEER_STATE_CONNECTED);
    /* Idle: poll soon. Busy: a watchdog, so a peer that stops answering cannot hold a session. */
    if (!busy)
        schedule(p, SZ_SYNC_POLL_MS);
    else if (p->timer_open && !uv_is_active((uv_handle_t *)&p->timer))
        schedule(p, SZ_SYNC_STALL_MS);
}

/* ---- Responses on the outbound connection ---- */

static void on_log_page(sz_peer_t *p, const sz_msg_t *m) {
    sz_sync_t *y = p->sync;
    p->sync_rid = 0;
    uint8_t *copy = malloc(m->len ? m->len : 1);
    sz_msg_log_entry_t *entries = malloc(SZ_MSG_MAX_PAGE * sizeof *entries);
    if (copy == NULL || entries == NULL) {
        free(copy);
        free(entries);
        return;
    }
    memcpy(copy, m->payload, m->len);
    sz_msg_log_page_t pg = {.entries = entries};
    int rc = sz_msg_log_page_decode(&pg, SZ_MSG_MAX_PAGE, copy, m->len);
    const char *why = NULL;
    if (rc != 0)
        why = "LOG_PAGE does not decode";
    else if (sodium_memcmp(pg.head.node_key, p->key, 32) != 0 ||
             (rc = sz_tree_head_verify(&pg.head)) != 0)
        why = "LOG_PAGE head is not signed by the peer";
    else if (pg.from != p->sync_from || pg.flags != p->sync_flags)
        why = "LOG_PAGE is not what was asked", rc = SZ_E_PROTOCOL;
    if (why != NULL) {
        free(copy);
        free(entries);
        violation(p, NULL, why, rc, NULL);
        return;
    }
    pthread_mutex_lock(&y->lock);
    p->last_seen = wall_ms();
    p->remote_size = pg.head.size;
    pthread_mutex_unlock(&y->lock);
    /* Is the new head consistent with the last one verified? */
    const char *fork = NULL;
    if (p->cp.verified_size > 0) {
        if (pg.head.size < p->cp.verified_size)
            fork = "shrink";
        else if (pg.head.size == p->cp.verified_size) {
            if (sodium_memcmp(pg.head.root, p->cp.verified_root, 32) != 0)
                fork = "root differs at the same size";
        } else if (sz_merkle_verify_consistency(p->cp.verified_size, pg.head.size,
                                                p->cp.verified_root, pg.head.root, pg.proof,
                                                pg.proof_len) != 0)
            fork = "consistency proof fails";
    }
    if (fork != NULL) {
        SZ_LOG(SZ_LOG_WARN, "sync_fork", SZ_LF_PUBKEY("peer", p->key), SZ_LF_STR("reason", fork),
               SZ_LF_UINT("verified_size", p->cp.verified_size), SZ_LF_UINT("size", pg.head.size));
        pthread_mutex_lock(&y->lock);
        p->last_error = SZ_E_PROOF;
        pthread_mutex_unlock(&y->lock);
        p->want_recon = 1;
    } else {
        pthread_mutex_lock(&y->lock);
        p->cp.verified_size = pg.head.size;
        memcpy(p->cp.verified_root, pg.head.root, 32);
        pthread_mutex_unlock(&y->lock);
    }
    if (p->want_recon) {
        free(copy);
        free(entries);
        drop_batches(p);
        start_recon(p, &pg.head);
        return;
    }
    if (pg.count > 0 && (pg.flags & SZ_SYNC_HASHES)) {
        /* Fetch the entries we lack; the checkpoint follows once they are stored. */
        sz_server_t *s = y->srv;
        p->fq_len = 0;
        for (unsigned i = 0; i < pg.count; i++)
            if (sz_store_has_version(s->store, entries[i].envelope) == 0)
                fq_add(p, entries[i].envelope);
        p->next_req = pg.from + pg.count;
        if (p->fq_len > 0) {
            p->mode = MODE_FETCH;
            p->fetch_for_page = 1;
            p->fetch_page_end = p->next_req;
        } else {
            checkpoint_batch(p, p->next_req);
        }
    } else if (pg.count > 0) {
        batch_t *b = calloc(1, sizeof *b);
        item_t *items = calloc(pg.count, sizeof *items);
        if (b == NULL || items == NULL) {
            free(b);
            free(items);
            free(copy);
            free(entries);
            return;
        }
        for (unsigned i = 0; i < pg.count; i++) {
            items[i].env = (uint8_t *)entries[i].envelope;
            items[i].len = entries[i].len;
            items[i].seq = entries[i].seq;
        }
        b->peer = p;
        b->kind = B_PAGE;
        b->buf = copy;
        b->items = items;
        b->n = pg.count;
        b->page_end = pg.from + pg.count;
        b->last_page = b->page_end >= pg.head.size;
        copy = NULL;
        p->next_req = b->page_end;
        enqueue(p, b);
    }
    /* An empty page means there is nothing more to take, whatever the head says. */
    p->caught_up = pg.count == 0 || p->next_req >= pg.head.size;
    free(copy);
    free(entries);
    peer_pump(p);
    check_waiters(y);
}

static void on_recon(sz_peer_t *p, const sz_msg_t *m) {
    p->recon_rid = 0;
    if (m->header.type == SZ_MSG_ERROR || p->rs == NULL) {
        SZ_LOG(SZ_LOG_WARN, "sync_recon_refused", SZ_LF_PUBKEY("peer", p->key));
        rsess_release(p);
        p->mode = MODE_PULL;
        p->caught_up = 0;
        peer_pump(p);
        return;
    }
    if (p->recon_final) {
        /* The answer to our last message, which needed none: the session is over. */
        rsess_release(p);
        p->mode = MODE_FETCH;
        peer_pump(p);
        return;
    }
    if (rstep_start(p, m->payload, m->len) != 0) {
        rsess_release(p);
        p->mode = MODE_PULL;
        p->caught_up = 0;
        peer_pump(p);
    }
}

static void on_fetched(sz_peer_t *p, const sz_msg_t *m, unsigned slot) {
    p->fetch_rid[slot] = 0;
    p->fetch_inflight--;
    if (m->header.type == SZ_MSG_ERROR) {
        SZ_LOG(SZ_LOG_WARN, "sync_fetch_refused", SZ_LF_PUBKEY("peer", p->key));
        peer_pump(p);
        return;
    }
    uint8_t *copy = malloc(m->len ? m->len : 1);
    sz_msg_fetched_item_t *fi = malloc(SZ_MSG_MAX_FETCH * sizeof *fi);
    if (copy == NULL || fi == NULL) {
        free(copy);
        free(fi);
        return;
    }
    memcpy(copy, m->payload, m->len);
    sz_msg_fetched_t f = {.items = fi};
    int rc = sz_msg_fetched_decode(&f, SZ_MSG_MAX_FETCH, copy, m->len);
    if (rc != 0) {
        free(copy);
        free(fi);
        violation(p, NULL, "FETCHED does not decode", rc, NULL);
        return;
    }
    size_t ok = 0;
    for (unsigned i = 0; i < f.count; i++) {
        if (fi[i].status == SZ_FETCH_OK)
            ok++;
        else if (fi[i].status == SZ_FETCH_OMITTED)
            fq_add(p, fi[i].version_hash);
    }
    batch_t *b = ok ? calloc(1, sizeof *b) : NULL;
    item_t *items = ok ? calloc(ok, sizeof *items) : NULL;
    if (ok && (b == NULL || items == NULL)) {
        free(b);
        free(items);
        ok = 0;
    }
    if (ok) {
        size_t k = 0;
        for (unsigned i = 0; i < f.count; i++) {
            if (fi[i].status != SZ_FETCH_OK)
                continue;
            items[k].env = (uint8_t *)fi[i].envelope;
            items[k].len = fi[i].len;
            items[k].seq = fi[i].seq; /* the peer's log position: held ones stop its checkpoint */
            items[k].check_hash = 1;
            memcpy(items[k].want_hash, fi[i].version_hash, 32);
            k++;
        }
        b->peer = p;
        b->kind = B_FETCH;
        b->buf = copy;
        b->items = items;
        b->n = ok;
        copy = NULL;
        enqueue(p, b);
    }
    free(copy);
    free(fi);
    peer_pump(p);
}

void sz_sync_on_message(sz_conn_t *c, const sz_msg_t *m) {
    sz_peer_t *p = c->peer;
    if (p == NULL)
        return;
    p->progress_ms = uv_now(c->srv->loop);
    uint32_t rid = m->header.request_id;
    uint8_t t = m->header.type;
    if (rid != 0 && rid == p->sync_rid) {
        if (t == SZ_MSG_LOG_PAGE) {
            on_log_page(p, m);
        } else {
            p->sync_rid = 0;
            SZ_LOG(SZ_LOG_WARN, "sync_pull_refused", SZ_LF_PUBKEY("peer", p->key),
                   SZ_LF_STR("type", sz_msg_type_name(t)));
            schedule(p, SZ_SYNC_POLL_MS);
        }
        return;
    }
    if (rid != 0 && rid == p->recon_rid && (t == SZ_MSG_RECON || t == SZ_MSG_ERROR)) {
        on_recon(p, m);
        return;
    }
    for (unsigned i = 0; i < SZ_SYNC_FETCH_INFLIGHT; i++)
        if (rid != 0 && rid == p->fetch_rid[i] && (t == SZ_MSG_FETCHED || t == SZ_MSG_ERROR)) {
            on_fetched(p, m, i);
            return;
        }
    if (t == SZ_MSG_ERROR || (rid != 0 && rid == p->stale_rid))
        return; /* an answer to something abandoned */
    violation(p, NULL, "unexpected message on the sync connection", SZ_E_PROTOCOL, NULL);
}

/* ---- Connections ---- */

static void on_timer(uv_timer_t *t);

static void schedule(sz_peer_t *p, uint64_t ms) {
    if (p->timer_open && !p->removed && !p->sync->stopping)
        uv_timer_start(&p->timer, on_timer, ms, 0);
}

/* The next reconnect delay: a uniform draw in [3/4, 5/4] of the current step, which then
 * doubles up to the bound. */
static uint32_t next_backoff(sz_peer_t *p) {
    uint32_t b = p->backoff_ms ? p->backoff_ms : SZ_SYNC_BACKOFF_MIN_MS;
    uint32_t delay = b - b / 4 + randombytes_uniform(b / 2 + 1);
    p->backoff_ms = b >= SZ_SYNC_BACKOFF_MAX_MS / 2 ? SZ_SYNC_BACKOFF_MAX_MS : b * 2;
    return delay;
}

static void connect_failed(sz_peer_t *p, int rc) {
    pthread_mutex_lock(&p->sync->lock);
    p->last_error = rc < 0 ? rc : SZ_E_STATE;
    p->state = SZ_PEER_STATE_BACKOFF;
    pthread_mutex_unlock(&p->sync->lock);
    schedule(p, next_backoff(p));
}

static void connect_to(sz_peer_t *p, const struct sockaddr *sa) {
    sz_conn_t *c = NULL;
    int rc = sz_conn_connect(p->sync->srv, sa, p->key, p, &c);
    if (rc != 0) {
        connect_failed(p, rc);
        return;
    }
    p->out = c;
    set_state(p, SZ_PEER_STATE_CONNECTING);
}

typedef struct resolve_s {
    uv_getaddrinfo_t req;
    sz_peer_t *p;
} resolve_t;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    resolve_t *r = req->data;
    sz_peer_t *p = r->p;
    free(r);
    p->resolving = 0;
    if (p->removed || p->sync->stopping || p->out != NULL) {
        uv_freeaddrinfo(res);
        return;
    }
    if (status != 0 || res == NULL) {
        SZ_LOG(SZ_LOG_WARN, "sync_resolve_failed", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_STR("addr", p->addr), SZ_LF_STR("err", uv_err_name(status)));
        uv_freeaddrinfo(res);
        connect_failed(p, SZ_E_CONFIG);
        return;
    }
    connect_to(p, res->ai_addr);
    uv_freeaddrinfo(res);
}

static void connect_peer(sz_peer_t *p) {
    sz_server_t *s = p->sync->srv;
    if (p->out != NULL || p->resolving || p->removed || p->sync->stopping)
        return;
    struct sockaddr_storage ss;
    if (uv_ip4_addr(p->host, p->port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(p->host, p->port, (struct sockaddr_in6 *)&ss) == 0) {
        connect_to(p, (const struct sockaddr *)&ss);
        return;
    }
    /* A DNS name: resolved on the thread pool at each attempt, so a moved peer is found. */
    resolve_t *r = calloc(1, sizeof *r);
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)p->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (r == NULL) {
        connect_failed(p, -ENOMEM);
        return;
    }
    r->p = p;
    r->req.data = r;
    int rc = uv_getaddrinfo(s->loop, &r->req, on_resolved, p->host, port, &hints);
    if (rc != 0) {
        free(r);
        connect_failed(p, rc);
        return;
    }
    p->resolving = 1;
    set_state(p, SZ_PEER_STATE_CONNECTING);
}

static void on_timer(uv_timer_t *t) {
    sz_peer_t *p = t->data;
    if (p->out == NULL) {
        connect_peer(p);
        return;
    }
    uint64_t now = uv_now(p->sync->srv->loop);
    if (p->out->state == SZ_CONN_READY && peer_busy(p) &&
        now - p->progress_ms >= SZ_SYNC_STALL_MS) {
        SZ_LOG(SZ_LOG_WARN, "sync_stalled", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_UINT("idle_ms", now - p->progress_ms));
        sz_conn_close(p->out, "sync_stalled", SZ_E_TIMEOUT);
        return;
    }
    if (p->out->state == SZ_CONN_READY && peer_busy(p)) {
        schedule(p, SZ_SYNC_STALL_MS - (now - p->progress_ms));
        return;
    }
    if (p->out->state == SZ_CONN_READY && p->mode == MODE_PULL && p->sync_rid == 0) {
        /* The poll: a safety net for lost pushes, and what keeps the connection alive. */
        p->caught_up = 0;
        peer_pump(p);
    }
}

void sz_sync_on_ready(sz_conn_t *c, const sz_msg_hello_ok_t *ok) {
    sz_peer_t *p = c->peer;
    if (p == NULL)
        return;
    sz_server_t *s = p->sync->srv;
    p->backoff_ms = SZ_SYNC_BACKOFF_MIN_MS;
    p->progress_ms = uv_now(s->loop);
    p->max_message = ok->max_message;
    p->gen++;
    p->mode = MODE_PULL;
    p->sync_rid = p->recon_rid = 0;
    p->fetch_inflight = 0;
    memset(p->fetch_rid, 0, sizeof p->fetch_rid);
    sz_checkpoint_t cp;
    int rc = sz_store_checkpoint_get(s->store, p->key, &cp);
    pthread_mutex_lock(&p->sync->lock);
    p->last_seen = wall_ms();
    p->last_error = 0;
    p->state = SZ_PEER_STATE_SYNCING;
    if (rc == 0)
        p->cp = cp;
    else
        memset(&p->cp, 0, sizeof p->cp);
    pthread_mutex_unlock(&p->sync->lock);
    p->next_req = p->cp.next;
    p->caught_up = 0;
    if (rc != 0) {
        /* First contact. An empty node simply pulls the whole log; one that holds versions
         * reconciles, so only the difference travels. */
        sz_store_stats_t st;
        if (sz_store_stats(s->store, &st) == 0 && st.versions > 0)
            p->want_recon = 1;
    }
    SZ_LOG(SZ_LOG_INFO, "sync_connected", SZ_LF_PUBKEY("peer", p->key), SZ_LF_STR("addr", p->addr),
           SZ_LF_UINT("checkpoint", p->cp.next),
           SZ_LF_STR("mode", p->want_recon ? "reconcile" : "resume"));
    peer_pump(p);
}

void sz_sync_on_close(sz_conn_t *c) {
    sz_peer_t *p = c->peer;
    c->peer = NULL;
    if (p == NULL || p->out != c)
        return;
    sz_sync_t *y = p->sync;
    p->out = NULL;
    p->gen++;
    p->sync_rid = p->recon_rid = 0;
    p->fetch_inflight = 0;
    memset(p->fetch_rid, 0, sizeof p->fetch_rid);
    rsess_release(p);
    p->mode = MODE_PULL;
    p->fetch_for_page = 0;
    p->fq_len = 0;
    p->pushlen = p->pushn = 0;
    /* Page batches of the closed session may still commit (they are valid); what is held for
     * parents is dropped, the next session brings it again. */
    pending_clear(p);
    if (y->stopping || p->removed) {
        set_state(p, SZ_PEER_STATE_IDLE);
        check_waiters(y);
        return;
    }
    /* Exponential backoff with jitter. */
    uint32_t delay = next_backoff(p);
    set_state(p, SZ_PEER_STATE_BACKOFF);
    schedule(p, delay);
    check_waiters(y);
}

/* ---- Live push ---- */

void sz_sync_stored(sz_server_t *s, const uint8_t *env, size_t len, const sz_peer_t *from) {
    sz_sync_t *y = s->sync;
    if (y == NULL)
        return;
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next) {
        if (p == from || p->removed || p->out == NULL || p->out->state != SZ_CONN_READY)
            continue;
        size_t limit = p->max_message > 4096 ? p->max_message - 64 : 4096;
        if (len + 4 + 10 > limit)
            continue; /* too big to push: the peer's next pull brings it */
        if (p->pushlen + len + 4 + 10 > limit || p->pushn >= SZ_MSG_MAX_PUSH) {
            sz_sync_flush(s);
        }
        if (p->pushcap - p->pushlen < len) {
            size_t cap = p->pushcap ? p->pushcap : 65536;
            while (cap - p->pushlen < len)
                cap *= 2;
            uint8_t *g = realloc(p->pushbuf, cap);
            if (g == NULL)
                continue;
            p->pushbuf = g;
            p->pushcap = cap;
        }
        if (p->pushn == p->pushoffcap) {
            size_t cap = p->pushoffcap ? p->pushoffcap * 2 : 64;
            size_t *g = realloc(p->pushoff, cap * sizeof *g);
            if (g == NULL)
                continue;
            p->pushoff = g;
            p->pushoffcap = cap;
        }
        p->pushoff[p->pushn++] = p->pushlen;
        memcpy(p->pushbuf + p->pushlen, env, len);
        p->pushlen += len;
    }
}

void sz_sync_flush(sz_server_t *s) {
    sz_sync_t *y = s->sync;
    if (y == NULL)
        return;
    sz_store_stats_t st;
    uint64_t size = 0;
    int have_size = 0;
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next) {
        if (p->pushn == 0)
            continue;
        if (p->out == NULL || p->out->state != SZ_CONN_READY ||
            p->out->queued > s->cfg->max_write_queue) {
            /* Not connected, or not reading what we send: its pulls will catch up. */
            p->pushn = p->pushlen = 0;
            continue;
        }
        if (!have_size) {
            size = sz_store_stats(s->store, &st) == 0 ? st.versions : 0;
            have_size = 1;
        }
        sz_msg_push_item_t *items = malloc(p->pushn * sizeof *items);
        if (items == NULL) {
            p->pushn = p->pushlen = 0;
            continue;
        }
        for (size_t i = 0; i < p->pushn; i++) {
            size_t end = i + 1 < p->pushn ? p->pushoff[i + 1] : p->pushlen;
            items[i].envelope = p->pushbuf + p->pushoff[i];
            items[i].len = end - p->pushoff[i];
        }
        sz_msg_push_t m = {.log_size = size, .count = (uint16_t)p->pushn, .items = items};
        size_t n = 0;
        uint8_t *buf = NULL;
        if (sz_msg_push_encode(&m, NULL, 0, &n) == 0 && (buf = malloc(n)) != NULL &&
            sz_msg_push_encode(&m, buf, n, &n) == 0 &&
            sz_conn_send(p->out, SZ_MSG_PUSH, 0, buf, n) == 0) {
            pthread_mutex_lock(&y->lock);
            p->sent += p->pushn;
            pthread_mutex_unlock(&y->lock);
        }
        free(buf);
        free(items);
        p->pushn = p->pushlen = 0;
    }
}

static sz_peer_t *find_peer(sz_sync_t *y, const uint8_t key[32]) {
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next)
        if (!p->removed && sodium_memcmp(p->key, key, 32) == 0)
            return p;
    return NULL;
}

void sz_sync_push_in(sz_conn_t *c, const uint8_t *payload, size_t len) {
    sz_server_t *s = c->srv;
    sz_peer_t *p = s->sync ? find_peer(s->sync, c->peer_key) : NULL;
    if (p == NULL) {
        sz_conn_close(c, "push_from_unknown_peer", SZ_E_DENIED);
        sz_conn_request_done(c, len);
        return;
    }
    batch_t *b = calloc(1, sizeof *b);
    uint8_t *copy = malloc(len ? len : 1);
    sz_msg_push_item_t *pi = malloc(SZ_MSG_MAX_PUSH * sizeof *pi);
    item_t *items = NULL;
    sz_msg_push_t m = {.items = pi};
    int rc = -ENOMEM;
    if (b != NULL && copy != NULL && pi != NULL) {
        memcpy(copy, payload, len);
        rc = sz_msg_push_decode(&m, SZ_MSG_MAX_PUSH, copy, len);
        if (rc == 0 && (items = calloc(m.count, sizeof *items)) == NULL)
            rc = -ENOMEM;
    }
    if (rc != 0) {
        free(b);
        free(copy);
        free(pi);
        if (rc != -ENOMEM)
            violation(p, c, "PUSH does not decode", rc, NULL);
        sz_conn_request_done(c, len);
        return;
    }
    for (unsigned i = 0; i < m.count; i++) {
        items[i].env = (uint8_t *)pi[i].envelope;
        items[i].len = pi[i].len;
        items[i].seq = NO_SEQ;
    }
    free(pi);
    p->pushed_since_pull += m.count;
    pthread_mutex_lock(&s->sync->lock);
    if (m.log_size > p->remote_size)
        p->remote_size = m.log_size;
    p->last_seen = wall_ms();
    pthread_mutex_unlock(&s->sync->lock);
    b->peer = p;
    b->kind = B_PUSH;
    b->buf = copy;
    b->items = items;
    b->n = m.count;
    b->conn = c; /* the request stays in flight (backpressure) until the batch is done */
    b->held = len;
    enqueue(p, b);
}

/* ---- RECON answered on an inbound connection ---- */

typedef struct rjob_s {
    uv_work_t work;
    sz_conn_t *c;
    uint32_t rid;
    size_t len;
    int rc;
    uint8_t *out;
    size_t out_len;
    uint8_t in[];
} rjob_t;

static void recon_work(uv_work_t *w) {
    rjob_t *j = w->data;
    sz_conn_t *c = j->c;
    if (c->recon == NULL) {
        sz_recon_source_t src;
        sz_store_recon_source(c->srv->store, &src);
        j->rc = sz_recon_new(&c->recon, &src, NULL);
        if (j->rc != 0)
            return;
    }
    const uint8_t *out = NULL;
    size_t n = 0;
    int done = 0;
    j->rc = sz_recon_process(c->recon, j->in, j->len, &out, &n, &done);
    if (j->rc == 0) {
        static const uint8_t fmt = SZ_RECON_FORMAT;
        if (n == 0) {
            out = &fmt;
            n = 1;
        }
        j->out = malloc(n);
        if (j->out == NULL)
            j->rc = -ENOMEM;
        else
            memcpy(j->out, out, n);
        j->out_len = n;
    }
    if (j->rc != 0 || done) {
        sz_recon_free(c->recon);
        c->recon = NULL;
    }
}

static void after_recon(uv_work_t *w, int status) {
    rjob_t *j = w->data;
    sz_conn_t *c = j->c;
    sz_server_t *s = c->srv;
    s->pending_work--;
    c->recon_busy = 0;
    if (status < 0 && j->rc == 0)
        j->rc = SZ_E_STATE;
    if (j->rc == 0)
        sz_conn_send(c, SZ_MSG_RECON, j->rid, j->out, j->out_len);
    else
        sz_conn_send_error(c, j->rid, j->rc, "reconciliation failed");
    free(j->out);
    size_t held = j->len;
    free(j);
    sz_conn_request_done(c, held);
}

void sz_sync_recon_in(sz_conn_t *c, uint32_t rid, const uint8_t *payload, size_t len) {
    sz_server_t *s = c->srv;
    sz_msg_recon_t m;
    int rc = sz_msg_recon_decode(&m, payload, len);
    if (rc == 0 && c->recon_busy)
        rc = SZ_E_STATE;
    rjob_t *j = rc == 0 ? malloc(sizeof *j + len) : NULL;
    if (j == NULL) {
        sz_conn_send_error(c, rid, rc ? rc : -ENOMEM,
                           rc == SZ_E_STATE ? "one RECON at a time" : "RECON refused");
        sz_conn_request_done(c, len);
        return;
    }
    memset(j, 0, sizeof *j);
    j->c = c;
    j->rid = rid;
    j->len = len;
    memcpy(j->in, payload, len);
    j->work.data = j;
    c->recon_busy = 1;
    s->pending_work++;
    if (uv_queue_work(s->loop, &j->work, recon_work, after_recon) < 0) {
        j->rc = SZ_E_STATE;
        after_recon(&j->work, UV_ECANCELED);
    }
}

/* ---- Serving SYNC and FETCH (thread pool) ---- */

typedef struct pagebuf_s {
    int hashes;
    sz_msg_log_entry_t *e;
    uint8_t **copies;
    size_t n, cap_n, bytes, max_bytes;
    uint64_t limit; /* entries end before this seq (the head's size) */
    int err;
} pagebuf_t;

static int page_cb(void *arg, const sz_version_info_t *v) {
    pagebuf_t *pb = arg;
    if (v->seq >= pb->limit || pb->n >= pb->cap_n)
        return 1;
    size_t len = pb->hashes ? 32 : v->rec->envelope_len;
    if (pb->n > 0 && pb->bytes + len > pb->max_bytes)
        return 1;
    uint8_t *copy = malloc(len);
    if (copy == NULL) {
        pb->err = -ENOMEM;
        return 1;
    }
    memcpy(copy, pb->hashes ? v->version_hash : v->rec->envelope, len);
    pb->e[pb->n].seq = v->seq;
    pb->e[pb->n].envelope = copy;
    pb->e[pb->n].len = len;
    pb->copies[pb->n] = copy;
    pb->n++;
    pb->bytes += len;
    return 0;
}

static int answer_sync(sz_server_t *s, const uint8_t *req, size_t len, uint8_t **payload,
                       size_t *plen, const char **why) {
    sz_msg_sync_t q;
    int rc = sz_msg_sync_decode(&q, req, len);
    if (rc != 0) {
        *why = "SYNC does not decode";
        return SZ_E_MALFORMED;
    }
    sz_msg_log_page_t pg = {.from = q.from, .flags = q.flags};
    rc = sz_store_tree_head(s->store, s->node->secret_key, wall_ms(), &pg.head);
    if (rc != 0) {
        *why = "cannot sign the tree head";
        return rc;
    }
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    if (q.proof_from > 0 && q.proof_from < pg.head.size) {
        rc = sz_store_consistency_proof(s->store, q.proof_from, pg.head.size, proof, &pg.proof_len);
        if (rc != 0) {
            *why = "cannot build the consistency proof";
            return rc;
        }
        pg.proof = proof;
    }
    pagebuf_t pb = {.hashes = (q.flags & SZ_SYNC_HASHES) != 0,
                    .limit = pg.head.size,
                    .max_bytes = q.max_bytes,
                    .cap_n = q.max_count};
    if (q.max_count > 0 && q.from < pg.head.size) {
        pb.e = calloc(q.max_count, sizeof *pb.e);
        pb.copies = calloc(q.max_count, sizeof *pb.copies);
        if (pb.e == NULL || pb.copies == NULL)
            rc = -ENOMEM;
        else
            rc = sz_store_log(s->store, q.from, q.max_count, page_cb, &pb, NULL);
        if (rc > 0)
            rc = 0;
        if (rc == 0)
            rc = pb.err;
    }
    if (rc == 0) {
        pg.count = (uint16_t)pb.n;
        pg.entries = pb.e;
        rc = sz_msg_log_page_encode(&pg, NULL, 0, plen);
        if (rc == 0 && (*payload = malloc(*plen)) == NULL)
            rc = -ENOMEM;
        if (rc == 0)
            rc = sz_msg_log_page_encode(&pg, *payload, *plen, plen);
        if (rc != 0) {
            free(*payload);
            *payload = NULL;
        }
    }
    for (size_t i = 0; i < pb.n; i++)
        free(pb.copies[i]);
    free(pb.e);
    free(pb.copies);
    if (rc != 0)
        *why = "cannot read the log";
    return rc;
}

typedef struct fitem_s {
    uint64_t seq;
    size_t idx;
} fitem_t;

static int fitem_cmp(const void *a, const void *b) {
    const fitem_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int answer_fetch(sz_server_t *s, const uint8_t *req, size_t len, uint8_t **payload,
                        size_t *plen, const char **why) {
    sz_msg_fetch_t q;
    if (sz_msg_fetch_decode(&q, req, len) != 0) {
        *why = "FETCH does not decode";
        return SZ_E_MALFORMED;
    }
    sz_msg_fetched_item_t *it = calloc(q.count, sizeof *it);
    fitem_t *order = calloc(q.count, sizeof *order);
    uint8_t **env = calloc(q.count, sizeof *env);
    int rc = (it && order && env) ? 0 : -ENOMEM;
    size_t nheld = 0;
    for (size_t i = 0; rc == 0 && i < q.count; i++) {
        const uint8_t *h = q.hashes + 32 * i;
        memcpy(it[i].version_hash, h, 32);
        uint64_t seq;
        int r = sz_store_version_seq(s->store, h, &seq);
        if (r == SZ_E_NOT_FOUND) {
            it[i].status = SZ_FETCH_NOT_HELD;
            order[i].seq = NO_SEQ;
        } else if (r != 0) {
            rc = r;
        } else {
            order[i].seq = seq;
            nheld++;
        }
        order[i].idx = i;
    }
    /* Log order, so parents come before children. */
    if (rc == 0)
        qsort(order, q.count, sizeof *order, fitem_cmp);
    sz_msg_fetched_item_t *out = rc == 0 ? calloc(q.count, sizeof *out) : NULL;
    if (rc == 0 && out == NULL)
        rc = -ENOMEM;
    size_t bytes = 0;
    for (size_t k = 0; rc == 0 && k < q.count; k++) {
        size_t i = order[k].idx;
        out[k] = it[i];
        if (order[k].seq == NO_SEQ)
            continue;
        if (bytes >= SZ_SYNC_PAGE_BYTES) {
            out[k].status = SZ_FETCH_OMITTED;
            continue;
        }
        size_t el = 0;
        int r = sz_store_get_version(s->store, it[i].version_hash, &env[i], &el);
        if (r == SZ_E_NOT_FOUND || r == SZ_E_RETRACTED) {
            out[k].status = SZ_FETCH_PURGED; /* the hash is logged but its bytes are gone */
            continue;
        }
        if (r != 0) {
            rc = r;
            break;
        }
        out[k].status = SZ_FETCH_OK;
        out[k].seq = order[k].seq;
        out[k].envelope = env[i];
        out[k].len = el;
        bytes += el;
    }
    if (rc == 0) {
        sz_msg_fetched_t f = {.count = q.count, .items = out};
        rc = sz_msg_fetched_encode(&f, NULL, 0, plen);
        if (rc == 0 && (*payload = malloc(*plen)) == NULL)
            rc = -ENOMEM;
        if (rc == 0)
            rc = sz_msg_fetched_encode(&f, *payload, *plen, plen);
        if (rc != 0) {
            free(*payload);
            *payload = NULL;
        }
    }
    for (size_t i = 0; env != NULL && i < q.count; i++)
        free(env[i]);
    free(env);
    free(out);
    free(order);
    free(it);
    (void)nheld;
    if (rc != 0)
        *why = "cannot read the versions";
    return rc;
}

int sz_sync_answer(sz_server_t *s, uint8_t type, const uint8_t *req, size_t len, uint8_t *rtype,
                   uint8_t **payload, size_t *plen, const char **why) {
    *payload = NULL;
    *plen = 0;
    *why = "";
    if (type == SZ_MSG_SYNC) {
        *rtype = SZ_MSG_LOG_PAGE;
        return answer_sync(s, req, len, payload, plen, why);
    }
    if (type == SZ_MSG_FETCH) {
        *rtype = SZ_MSG_FETCHED;
        return answer_fetch(s, req, len, payload, plen, why);
    }
    *why = "not a sync request";
    return SZ_E_PROTOCOL;
}

/* ---- Peer table ---- */

static int save_peers(sz_sync_t *y) {
    size_t n = 0;
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next)
        if (!p->removed && !p->from_config)
            n++;
    const char **inv = calloc(n ? n : 1, sizeof *inv);
    if (inv == NULL)
        return -ENOMEM;
    size_t k = 0;
    /* The list is newest first; the file keeps the order peers were added in. */
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next)
        if (!p->removed && !p->from_config)
            inv[n - 1 - k++] = p->invite;
    int rc = sz_peers_save(y->srv->node->dir, inv, n);
    free(inv);
    return rc;
}

/* Adds a peer from an invite (borrowed). Returns 0 and *out, SZ_E_EXISTS with *out the existing
 * peer, or a parse error with *why. */
static int add_peer(sz_sync_t *y, const char *invite, int from_config, sz_peer_t **out,
                    const char **why) {
    sz_server_t *s = y->srv;
    uint8_t key[32];
    char host[SZ_HOST_BUF];
    uint16_t port = 0;
    *out = NULL;
    int rc = sz_peers_parse(invite, s->node->network_key, key, host, &port, why);
    if (rc != 0)
        return rc;
    if (sodium_memcmp(key, s->node->public_key, 32) == 0) {
        *why = "that invite is this node's own";
        return SZ_E_ARGUMENT;
    }
    sz_peer_t *p = find_peer(y, key);
    if (p != NULL) {
        *out = p;
        return SZ_E_EXISTS;
    }
    /* A removed peer added again keeps its struct (connections may still point at it). */
    for (sz_peer_t *q = y->peers; q != NULL && p == NULL; q = q->next)
        if (q->removed && sodium_memcmp(q->key, key, 32) == 0)
            p = q;
    char *copy = sz_peers_dup(invite);
    if (copy == NULL)
        return -ENOMEM;
    int fresh = p == NULL;
    if (fresh) {
        p = calloc(1, sizeof *p);
        if (p == NULL) {
            sodium_free(copy);
            return -ENOMEM;
        }
        p->sync = y;
        memcpy(p->key, key, 32);
        uv_timer_init(s->loop, &p->timer);
        p->timer.data = p;
        p->timer_open = 1;
    }
    /* STATUS reads the address from the thread pool: change it under the lock. */
    pthread_mutex_lock(&y->lock);
    if (p->invite != NULL)
        sodium_free(p->invite);
    p->invite = copy;
    memcpy(p->host, host, sizeof host);
    p->port = port;
    if (sz_hostport_format(p->addr, sizeof p->addr, host, port) < 0)
        snprintf(p->addr, sizeof p->addr, "?");
    p->from_config = from_config;
    p->backoff_ms = SZ_SYNC_BACKOFF_MIN_MS;
    p->removed = 0;
    p->state = SZ_PEER_STATE_IDLE;
    if (fresh) {
        p->next = y->peers;
        y->peers = p;
    }
    pthread_mutex_unlock(&y->lock);
    *out = p;
    return 0;
}

int sz_sync_start(sz_server_t *s) {
    sz_sync_t *y = calloc(1, sizeof *y);
    if (y == NULL)
        return -ENOMEM;
    y->srv = s;
    pthread_mutex_init(&y->lock, NULL);
    s->sync = y;
    const sz_node_t *node = s->node;
    for (size_t i = 0; i < node->npeers; i++) {
        sz_peer_t *p;
        const char *why = "";
        int rc = add_peer(y, node->peers[i], 0, &p, &why);
        if (rc != 0 && rc != SZ_E_EXISTS)
            SZ_LOG(SZ_LOG_WARN, "peer_skipped", SZ_LF_STR("source", "peers file"),
                   SZ_LF_STR("reason", why));
    }
    for (size_t i = 0; i < s->cfg->peers.n; i++) {
        sz_peer_t *p;
        const char *why = "";
        int rc = add_peer(y, s->cfg->peers.items[i], 1, &p, &why);
        if (rc == SZ_E_EXISTS && p != NULL)
            p->from_config = 1;
        else if (rc != 0)
            SZ_LOG(SZ_LOG_WARN, "peer_skipped", SZ_LF_STR("source", "config"),
                   SZ_LF_STR("reason", why));
    }
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next)
        connect_peer(p);
    return 0;
}

int sz_sync_busy(sz_server_t *s) {
    if (s->sync == NULL)
        return 0;
    for (sz_peer_t *p = s->sync->peers; p != NULL; p = p->next)
        if (p->nbatches > 0 || p->committing || (p->sync_rid != 0 && !p->caught_up) ||
            p->mode != MODE_PULL)
            return 1;
    return 0;
}

int sz_sync_is_peer(sz_server_t *s, const uint8_t key[32]) {
    return s->sync != NULL && find_peer(s->sync, key) != NULL;
}

static void on_timer_closed(uv_handle_t *h) {
    (void)h;
}

static void waiter_answer(waiter_t *w);

void sz_sync_stop(sz_server_t *s) {
    sz_sync_t *y = s->sync;
    if (y == NULL || y->stopping)
        return;
    y->stopping = 1;
    while (y->waiters != NULL)
        waiter_answer(y->waiters);
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next) {
        if (p->timer_open) {
            p->timer_open = 0;
            uv_close((uv_handle_t *)&p->timer, on_timer_closed);
        }
        if (p->out != NULL && p->out->state != SZ_CONN_READY)
            sz_conn_close(p->out, "shutdown", 0);
    }
}

void sz_sync_free(sz_server_t *s) {
    sz_sync_t *y = s->sync;
    if (y == NULL)
        return;
    sz_peer_t *p = y->peers;
    while (p != NULL) {
        sz_peer_t *next = p->next;
        drop_batches(p);
        free(p->pending);
        free(p->fq);
        free(p->pushbuf);
        free(p->pushoff);
        rsess_free(p->rs);
        if (p->invite != NULL)
            sodium_free(p->invite);
        free(p);
        p = next;
    }
    pthread_mutex_destroy(&y->lock);
    free(y);
    s->sync = NULL;
}

size_t sz_sync_status(sz_server_t *s, sz_msg_peer_t *out, char (*addr)[SZ_MSG_MAX_ADDRESS + 1],
                      size_t cap) {
    sz_sync_t *y = s->sync;
    if (y == NULL)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&y->lock);
    for (sz_peer_t *p = y->peers; p != NULL && n < cap; p = p->next) {
        if (p->removed)
            continue;
        memset(&out[n], 0, sizeof out[n]);
        memcpy(out[n].key, p->key, 32);
        snprintf(addr[n], SZ_MSG_MAX_ADDRESS + 1, "%s", p->addr);
        out[n].address = (const uint8_t *)addr[n];
        out[n].address_len = (uint8_t)strlen(addr[n]);
        out[n].connected = p->state == SZ_PEER_STATE_CONNECTED || p->state == SZ_PEER_STATE_SYNCING;
        out[n].last_seen = p->last_seen;
        out[n].checkpoint = p->cp.next;
        out[n].lag = p->remote_size > p->cp.next ? p->remote_size - p->cp.next : 0;
        n++;
    }
    pthread_mutex_unlock(&y->lock);
    return n;
}

/* ---- Admin requests ---- */

static void answer_peers(sz_sync_t *y, sz_conn_t *c, uint32_t rid, const uint8_t *only) {
    size_t n = 0;
    for (sz_peer_t *p = y->peers; p != NULL; p = p->next)
        if (!p->removed)
            n++;
    sz_msg_peer_info_t *info = calloc(n ? n : 1, sizeof *info);
    if (info == NULL) {
        sz_conn_send_error(c, rid, -ENOMEM, "out of memory");
        return;
    }
    size_t k = 0;
    pthread_mutex_lock(&y->lock);
    for (sz_peer_t *p = y->peers; p != NULL && k < SZ_MSG_MAX_PEERS; p = p->next) {
        if (p->removed || (only != NULL && sodium_memcmp(only, p->key, 32) != 0))
            continue;
        sz_msg_peer_info_t *i = &info[k++];
        memcpy(i->key, p->key, 32);
        i->address = (const uint8_t *)p->addr;
        i->address_len = (uint8_t)strlen(p->addr);
        i->state = (uint8_t)p->state;
        i->last_seen = p->last_seen;
        i->checkpoint = p->cp.next;
        i->remote_size = p->remote_size;
        i->received = p->received;
        i->sent = p->sent;
        i->reconciliations = p->recons;
        i->last_error = p->last_error <= 0 ? p->last_error : SZ_E_STATE;
    }
    pthread_mutex_unlock(&y->lock);
    sz_msg_peers_t m = {.count = (uint16_t)k, .peers = info};
    size_t len = 0;
    uint8_t *buf = NULL;
    int rc = sz_msg_peers_encode(&m, NULL, 0, &len);
    if (rc == 0 && (buf = malloc(len)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = sz_msg_peers_encode(&m, buf, len, &len);
    if (rc == 0)
        sz_conn_send(c, SZ_MSG_PEERS, rid, buf, len);
    else
        sz_conn_send_error(c, rid, rc, "cannot encode the peer list");
    free(buf);
    free(info);
}

static void on_waiter_closed(uv_handle_t *h) {
    free(h->data);
}

static void waiter_answer(waiter_t *w) {
    sz_sync_t *y = w->sync;
    waiter_t **pp = &y->waiters;
    while (*pp != NULL && *pp != w)
        pp = &(*pp)->next;
    if (*pp == w)
        *pp = w->next;
    if (w->c->state != SZ_CONN_CLOSING)
        answer_peers(y, w->c, w->rid, w->all ? NULL : w->key);
    sz_conn_request_done(w->c, w->held);
    uv_timer_stop(&w->timer);
    uv_close((uv_handle_t *)&w->timer, on_waiter_closed);
}

static void on_waiter_timer(uv_timer_t *t) {
    waiter_answer(t->data);
}

static void check_waiters(sz_sync_t *y) {
    waiter_t *w = y->waiters;
    while (w != NULL) {
        waiter_t *next = w->next;
        int busy = 0;
        for (sz_peer_t *p = y->peers; p != NULL; p = p->next) {
            if (p->removed || (!w->all && sodium_memcmp(p->key, w->key, 32) != 0))
                continue;
            /* Only connected peers can be waited for; the others are reported as they are. */
            if (p->out != NULL && (p->out->state != SZ_CONN_READY || peer_busy(p)))
                busy = 1;
        }
        if (!busy)
            waiter_answer(w);
        w = next;
    }
}

void sz_sync_admin(sz_conn_t *c, uint8_t type, uint32_t rid, const uint8_t *payload, size_t len) {
    sz_server_t *s = c->srv;
    sz_sync_t *y = s->sync;
    if (y == NULL) {
        sz_conn_send_error(c, rid, SZ_E_STATE, "replication is not running");
        sz_conn_request_done(c, len);
        return;
    }
    switch (type) {
    case SZ_MSG_PEER_LIST:
        if (sz_msg_peer_list_decode(payload, len) != 0)
            sz_conn_send_error(c, rid, SZ_E_MALFORMED, "PEER_LIST takes no payload");
        else
            answer_peers(y, c, rid, NULL);
        break;
    case SZ_MSG_PEER_ADD: {
        sz_msg_peer_add_t *m = sodium_malloc(sizeof *m);
        const char *why = "";
        sz_peer_t *p = NULL;
        int rc = m == NULL ? -ENOMEM : sz_msg_peer_add_decode(m, payload, len);
        if (rc != 0)
            why = "PEER_ADD does not decode";
        else
            rc = add_peer(y, m->invite, 0, &p, &why);
        if (m != NULL)
            sodium_free(m);
        if (rc == SZ_E_EXISTS) {
            answer_peers(y, c, rid, p->key);
            break;
        }
        if (rc == 0)
            rc = save_peers(y);
        if (rc != 0) {
            sz_conn_send_error(c, rid, rc, why[0] ? why : sz_strerror(rc));
            break;
        }
        SZ_LOG(SZ_LOG_INFO, "peer_added", SZ_LF_PUBKEY("peer", p->key), SZ_LF_STR("addr", p->addr),
               SZ_LF_PUBKEY("by", c->peer_key));
        connect_peer(p);
        answer_peers(y, c, rid, p->key);
        break;
    }
    case SZ_MSG_PEER_REMOVE: {
        sz_msg_peer_remove_t m;
        if (sz_msg_peer_remove_decode(&m, payload, len) != 0) {
            sz_conn_send_error(c, rid, SZ_E_MALFORMED, "PEER_REMOVE does not decode");
            break;
        }
        sz_peer_t *p = find_peer(y, m.key);
        if (p == NULL) {
            sz_conn_send_error(c, rid, SZ_E_NOT_FOUND, "no such peer");
            break;
        }
        if (p->from_config) {
            sz_conn_send_error(c, rid, SZ_E_DENIED,
                               "this peer is set in the config file: remove its line there");
            break;
        }
        pthread_mutex_lock(&y->lock);
        p->removed = 1;
        p->state = SZ_PEER_STATE_IDLE;
        pthread_mutex_unlock(&y->lock);
        uv_timer_stop(&p->timer);
        if (p->out != NULL)
            sz_conn_close(p->out, "peer_removed", 0);
        drop_batches(p);
        /* Its inbound connections go too: mirroring needs both sides to agree. */
        for (sz_conn_t *o = s->conns; o != NULL;) {
            sz_conn_t *next = o->next;
            if (!o->outbound && o->role == SZ_ROLE_MIRROR &&
                sodium_memcmp(o->peer_key, p->key, 32) == 0)
                sz_conn_close(o, "peer_removed", 0);
            o = next;
        }
        int rc = save_peers(y);
        if (rc != 0) {
            sz_conn_send_error(c, rid, rc, "cannot rewrite the peers file");
            break;
        }
        SZ_LOG(SZ_LOG_INFO, "peer_removed", SZ_LF_PUBKEY("peer", p->key),
               SZ_LF_PUBKEY("by", c->peer_key));
        answer_peers(y, c, rid, NULL);
        break;
    }
    case SZ_MSG_SYNC_NOW: {
        sz_msg_sync_now_t m;
        if (sz_msg_sync_now_decode(&m, payload, len) != 0) {
            sz_conn_send_error(c, rid, SZ_E_MALFORMED, "SYNC_NOW does not decode");
            break;
        }
        uint8_t zero[32] = {0};
        int all = sodium_memcmp(m.key, zero, 32) == 0;
        int found = 0;
        for (sz_peer_t *p = y->peers; p != NULL; p = p->next) {
            if (p->removed || (!all && sodium_memcmp(p->key, m.key, 32) != 0))
                continue;
            found = 1;
            if (p->out == NULL) {
                /* Try now rather than at the end of the backoff. */
                uv_timer_stop(&p->timer);
                connect_peer(p);
            } else if (p->out->state == SZ_CONN_READY) {
                /* An operator's sync repairs everything: reconcile the whole set. */
                p->want_recon = 1;
                peer_pump(p);
            }
        }
        if (!found) {
            sz_conn_send_error(c, rid, SZ_E_NOT_FOUND, "no such peer");
            break;
        }
        waiter_t *w = calloc(1, sizeof *w);
        if (w == NULL) {
            sz_conn_send_error(c, rid, -ENOMEM, "out of memory");
            break;
        }
        w->sync = y;
        w->c = c;
        w->rid = rid;
        w->held = len;
        w->all = all;
        memcpy(w->key, m.key, 32);
        uv_timer_init(s->loop, &w->timer);
        w->timer.data = w;
        w->next = y->waiters;
        y->waiters = w;
        uv_timer_start(&w->timer, on_waiter_timer, m.wait_ms ? m.wait_ms : 1, 0);
        return; /* answered later; the request stays in flight */
    }
    default:
        sz_conn_send_error(c, rid, SZ_E_PROTOCOL, "not an admin request");
        break;
    }
    sz_conn_request_done(c, len);
}
