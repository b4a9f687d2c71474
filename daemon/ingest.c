/* SUBMIT: verification on the thread pool, then group commit.
 *
 * SUBMITs wait in one server-wide queue under a mutex. Verification workers (pool jobs, at most
 * verify_threads) take small shares of it until it is empty, so pipelined submits use every core
 * and no worker waits for the event loop between shares. Verified jobs enter one server-wide
 * commit queue in their connection's arrival order (a job waits for earlier jobs of its
 * connection), so a record and its amendment sent back to back are never committed out of order.
 * One commit runs at a time, on a pool thread, writing everything queued (up to batch_max_records)
 * in one transaction; while it runs the next batch accumulates. Each SUBMIT is answered only after
 * its transaction returned. */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim */
#endif
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "server_int.h"
#include "sync.h"

struct sz_submit_job_s {
    uv_work_t work;
    sz_conn_t *c;
    uint32_t rid;
    int done; /* verification finished */
    int err;
    sz_submit_job_t *next_conn;   /* the connection's FIFO */
    sz_submit_job_t *next_commit; /* the commit queue */
    sz_submit_job_t *next_verify; /* waiting for a verification worker */
    sz_verified_t v;
    sz_put_result_t res;
    char why[SZ_POLICY_WHY_MAX];
    size_t len;
    uint8_t env[];
};

/* Jobs a verification worker takes from the queue at once (see Verification below). */
#define VERIFY_TAKE 16

typedef struct batch_s {
    uv_work_t work;
    sz_server_t *srv;
    size_t n;
    int rc;
    uint64_t ns; /* time the commit took */
    sz_submit_job_t **jobs;
    sz_verified_t *v;
    sz_put_result_t *res;
} batch_t;

static void fts_kick(sz_server_t *s);

void sz_ingest_fts_kick(sz_server_t *s) {
    s->fts_dirty = 1;
    fts_kick(s);
}

int sz_ingest_busy(const sz_server_t *s) {
    return s->committing || s->commit_queued > 0 || s->fts_running || s->verify_outstanding > 0 ||
           s->verify_workers > 0;
}

/* Returns the refusal sentence for a version the store denied, by what the version tried to do. */
static const char *denied_text(unsigned kind) {
    switch (kind) {
    case SZ_KIND_RETRACTION:
        return "only the record's author or an editor of this node may retract it";
    case SZ_KIND_REVOCATION:
        return "only the key itself or an editor of this node may revoke it";
    default:
        return "only the record's author or an editor of this node may amend it";
    }
}

static void reply(sz_submit_job_t *j, int err, const sz_put_result_t *res) {
    sz_conn_t *c = j->c;
    if (err < 0) {
        char text[SZ_ERROR_MAX_TEXT];
        if (err == SZ_E_DENIED && j->why[0])
            snprintf(text, sizeof text, "%s", j->why);
        else if (err == SZ_E_DENIED)
            snprintf(text, sizeof text, "%s", denied_text(j->v.rec.kind));
        else
            snprintf(text, sizeof text, "%s", sz_strerror(err));
        if (err == SZ_E_DENIED)
            SZ_LOG(SZ_LOG_WARN, "submit_denied", SZ_LF_STR("peer", c->addr),
                   SZ_LF_PUBKEY("key", c->peer_key), SZ_LF_STR("reason", text));
        sz_conn_send_error(c, j->rid, err, text);
    } else {
        sz_msg_submitted_t m = {.seq = res->seq,
                                .flags = (uint8_t)(res->flags & SZ_SUBMIT_FLAGS_KNOWN)};
        memcpy(m.version_hash, res->version_hash, 32);
        memcpy(m.record_id, res->record_id, 32);
        uint8_t out[SZ_MSG_SUBMITTED_LEN];
        size_t n = 0;
        if (sz_msg_submitted_encode(&m, out, sizeof out, &n) == 0)
            sz_conn_send(c, SZ_MSG_SUBMITTED, j->rid, out, n);
    }
    size_t held = j->len;
    free(j);
    sz_conn_request_done(c, held);
}

/* ---- Group commit ---- */

static void commit_work(uv_work_t *w) {
    batch_t *b = w->data;
    uint64_t t0 = uv_hrtime();
    b->rc = sz_store_put_verified(b->srv->store, b->v, b->n, b->res);
    b->ns = uv_hrtime() - t0;
}

static void commit_kick(sz_server_t *s);

static void after_commit(uv_work_t *w, int status) {
    (void)status;
    batch_t *b = w->data;
    sz_server_t *s = b->srv;
    s->pending_work--;
    s->committing = 0;
    SZ_LOG(SZ_LOG_DEBUG, "commit", SZ_LF_UINT("records", b->n),
           SZ_LF_F64("ms", (double)b->ns / 1e6), SZ_LF_UINT("queued", s->commit_queued),
           SZ_LF_UINT("verifying", s->verify_outstanding));
    if (b->rc < 0)
        SZ_LOG(SZ_LOG_ERROR, "commit_failed", SZ_LF_ERR("err", b->rc),
               SZ_LF_STR("detail", sz_store_errmsg(s->store)), SZ_LF_UINT("records", b->n));
    /* One write per connection for the whole batch: cork, answer, uncork. Each job's reference
     * to its connection is doubled meanwhile, since answering drops one. */
    sz_conn_t **conns = malloc(b->n * sizeof *conns);
    for (size_t i = 0; conns != NULL && i < b->n; i++) {
        conns[i] = b->jobs[i]->c;
        conns[i]->refs++;
        sz_conn_cork(conns[i]);
    }
    /* Newly stored versions go to connected peers (live push) before the jobs are freed. */
    for (size_t i = 0; b->rc == 0 && i < b->n; i++)
        if (b->res[i].err == 0 && !(b->res[i].flags & SZ_PUT_EXISTED))
            sz_sync_stored(s, b->jobs[i]->env, b->jobs[i]->len, NULL);
    sz_sync_flush(s);
    for (size_t i = 0; i < b->n; i++)
        reply(b->jobs[i], b->res[i].err, &b->res[i]);
    for (size_t i = 0; conns != NULL && i < b->n; i++) {
        sz_conn_uncork(conns[i]);
        sz_conn_unref(conns[i]);
    }
    free(conns);
    if (b->rc == 0) {
        s->fts_dirty = 1;
        fts_kick(s);
    }
    free(b->jobs);
    free(b->v);
    free(b->res);
    free(b);
    /* A burst is over: give the pool threads' freed malloc memory back to the system, so an idle
     * node's footprint does not keep the high-water mark of every verification worker. */
#ifdef __GLIBC__
    if (s->commit_queued == 0 && s->verify_outstanding == 0 && s->verify_workers == 0)
        malloc_trim(0);
#endif
    commit_kick(s);
    sz_server_check_finish(s);
}

static void commit_kick(sz_server_t *s) {
    if (s->committing || s->commit_queued == 0)
        return;
    size_t max = s->cfg->batch_max_records;
    if (max == 0 || max > SZ_STORE_MAX_BATCH)
        max = SZ_STORE_MAX_BATCH;
    /* In a burst (more being verified than one worker takes at once) the next verified share
     * kicks again within milliseconds: waiting for half a batch makes each commit rewrite the
     * random-key B-tree pages for more records. A lone submit never waits. */
    if (s->commit_queued < max / 2 && s->verify_outstanding > VERIFY_TAKE)
        return;
    size_t n = s->commit_queued < max ? s->commit_queued : max;
    batch_t *b = calloc(1, sizeof *b);
    if (b != NULL) {
        b->jobs = malloc(n * sizeof *b->jobs);
        b->v = malloc(n * sizeof *b->v);
        b->res = calloc(n, sizeof *b->res);
    }
    if (b == NULL || b->jobs == NULL || b->v == NULL || b->res == NULL) {
        if (b != NULL) {
            free(b->jobs);
            free(b->v);
            free(b->res);
            free(b);
        }
        /* Refuse what is queued rather than leave requests unanswered. */
        while (s->commit_head != NULL) {
            sz_submit_job_t *j = s->commit_head;
            s->commit_head = j->next_commit;
            s->commit_queued--;
            reply(j, -ENOMEM, NULL);
        }
        s->commit_tail = NULL;
        return;
    }
    b->srv = s;
    b->n = n;
    for (size_t i = 0; i < n; i++) {
        sz_submit_job_t *j = s->commit_head;
        s->commit_head = j->next_commit;
        b->jobs[i] = j;
        b->v[i] = j->v;
    }
    if (s->commit_head == NULL)
        s->commit_tail = NULL;
    s->commit_queued -= n;
    b->work.data = b;
    s->committing = 1;
    s->pending_work++;
    int rc = uv_queue_work(s->loop, &b->work, commit_work, after_commit);
    if (rc < 0) {
        b->rc = rc;
        for (size_t i = 0; i < n; i++)
            b->res[i].err = SZ_E_STORE;
        after_commit(&b->work, 0);
    }
}

/* ---- Full-text catch-up after commits, one job at a time ---- */

/* Full-text catch-up is not part of an acknowledgement, and the store holds its write lock for a
 * whole catch-up call, so commits wait behind it. It therefore runs in big steps only when no
 * submit has arrived for FTS_QUIET_MS, and otherwise in small steps at most once per
 * FTS_BUSY_GAP_MS, so a stream of submits neither waits long behind indexing nor starves it. */
#define FTS_STEP_IDLE 1024
#define FTS_STEP_BUSY 128
#define FTS_QUIET_MS 20
#define FTS_BUSY_GAP_MS 200

typedef struct fts_job_s {
    uv_work_t work;
    sz_server_t *srv;
    uint64_t done;
    size_t step;
    int rc;
} fts_job_t;

static void fts_work(uv_work_t *w) {
    fts_job_t *f = w->data;
    f->rc = sz_store_fts_catchup(f->srv->store, f->step, &f->done);
}

static void after_fts(uv_work_t *w, int status) {
    (void)status;
    fts_job_t *f = w->data;
    sz_server_t *s = f->srv;
    s->pending_work--;
    s->fts_running = 0;
    s->fts_last_ms = uv_now(s->loop);
    if (f->rc < 0)
        SZ_LOG(SZ_LOG_ERROR, "fts_catchup_failed", SZ_LF_ERR("err", f->rc));
    else if (f->done >= f->step)
        s->fts_dirty = 1;
    free(f);
    fts_kick(s);
    sz_server_check_finish(s);
}

static void on_fts_timer(uv_timer_t *t) {
    fts_kick(t->data);
}

static void fts_kick(sz_server_t *s) {
    if (s->fts_running || !s->fts_dirty || s->stopping)
        return;
    uint64_t now = uv_now(s->loop);
    int busy = s->verify_outstanding > 0 || s->commit_queued > 0 || s->committing ||
               now - s->last_submit_ms < FTS_QUIET_MS || sz_sync_busy(s);
    size_t step = busy ? FTS_STEP_BUSY : FTS_STEP_IDLE;
    if (busy && now - s->fts_last_ms < FTS_BUSY_GAP_MS) {
        /* Come back when the node may have gone quiet, or the gap has passed. */
        if (!uv_is_active((uv_handle_t *)&s->fts_timer))
            uv_timer_start(&s->fts_timer, on_fts_timer, FTS_QUIET_MS, 0);
        return;
    }
    fts_job_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return;
    f->srv = s;
    f->step = step;
    f->work.data = f;
    s->fts_dirty = 0;
    s->fts_running = 1;
    s->pending_work++;
    if (uv_queue_work(s->loop, &f->work, fts_work, after_fts) < 0) {
        s->pending_work--;
        s->fts_running = 0;
        s->fts_dirty = 1;
        free(f);
    }
}

/* ---- Verification ---- */

/* Workers are pool jobs that keep taking jobs from the server-wide queue (under verify_lock)
 * until it is empty, so a worker never waits for the event loop between shares. Verified jobs go
 * to the done list, and the first one in an empty list wakes the loop (verify_async). A worker
 * takes at most VERIFY_TAKE jobs at once: small enough that finished records reach the commit
 * queue steadily, big enough that the lock is taken once per several milliseconds of work. */

static void verify_one(sz_submit_job_t *j, const sz_policy_t *policy) {
    j->err = sz_store_verify(&j->v, j->env, j->len);
    /* A first version is a new record: the submission policy decides. Later versions are judged
     * by the store's editor callback inside the commit. */
    if (j->err == 0 && j->v.rec.nparents == 0)
        j->err = sz_policy_may_submit(policy, j->v.rec.author, j->why, sizeof j->why);
}

static void verify_work(uv_work_t *w) {
    sz_server_t *s = w->data;
    uv_mutex_lock(&s->verify_lock);
    for (;;) {
        sz_submit_job_t *first = s->verify_head, *last = NULL;
        if (first == NULL) {
            s->verify_active--; /* under the lock: a job queued after this spawns a new worker */
            break;
        }
        size_t take = (s->verify_pending + s->max_verify_workers - 1) / s->max_verify_workers;
        if (take > VERIFY_TAKE)
            take = VERIFY_TAKE;
        last = first;
        for (size_t i = 1; i < take; i++)
            last = last->next_verify;
        s->verify_head = last->next_verify;
        if (s->verify_head == NULL)
            s->verify_tail = NULL;
        s->verify_pending -= take;
        uv_mutex_unlock(&s->verify_lock);

        for (sz_submit_job_t *j = first;; j = j->next_verify) {
            verify_one(j, s->policy);
            if (j == last)
                break;
        }

        uv_mutex_lock(&s->verify_lock);
        last->next_verify = NULL;
        int wake = s->vdone_head == NULL;
        if (s->vdone_tail)
            s->vdone_tail->next_verify = first;
        else
            s->vdone_head = first;
        s->vdone_tail = last;
        if (wake)
            uv_async_send(&s->verify_async);
    }
    uv_mutex_unlock(&s->verify_lock);
}

static void after_verify_worker(uv_work_t *w, int status) {
    sz_server_t *s = w->data;
    free(w);
    s->pending_work--;
    s->verify_workers--;
    if (status < 0) {
        /* Cancelled before it ran (only at loop teardown): it took nothing. */
        uv_mutex_lock(&s->verify_lock);
        s->verify_active--;
        uv_mutex_unlock(&s->verify_lock);
        sz_ingest_flush(s);
    }
    sz_server_check_finish(s);
}

static void drain_conn(sz_conn_t *c) {
    sz_server_t *s = c->srv;
    while (c->sub_head != NULL && c->sub_head->done) {
        sz_submit_job_t *j = c->sub_head;
        c->sub_head = j->next_conn;
        if (c->sub_head == NULL)
            c->sub_tail = NULL;
        if (j->err < 0) {
            reply(j, j->err, NULL);
            continue;
        }
        j->next_commit = NULL;
        if (s->commit_tail)
            s->commit_tail->next_commit = j;
        else
            s->commit_head = j;
        s->commit_tail = j;
        s->commit_queued++;
    }
}

/* The loop's side of the done list: mark the jobs verified, and move each connection's finished
 * prefix to the commit queue. */
static void on_verified(uv_async_t *a) {
    sz_server_t *s = a->data;
    uv_mutex_lock(&s->verify_lock);
    sz_submit_job_t *j = s->vdone_head;
    s->vdone_head = s->vdone_tail = NULL;
    uv_mutex_unlock(&s->verify_lock);
    /* Mark everything first and list each connection once (through its drain_next), taking a
     * reference: draining a connection may answer and free any of its jobs in the list, so the
     * list is not walked again. */
    sz_conn_t *conns = NULL;
    size_t n = 0;
    for (sz_submit_job_t *k = j; k != NULL; k = k->next_verify) {
        k->done = 1;
        n++;
        sz_conn_t *c = k->c;
        if (!c->drain_listed) {
            c->drain_listed = 1;
            c->refs++;
            c->drain_next = conns;
            conns = c;
        }
    }
    s->verify_outstanding -= n;
    while (conns != NULL) {
        sz_conn_t *c = conns;
        conns = c->drain_next;
        c->drain_listed = 0;
        c->drain_next = NULL;
        sz_conn_cork(c);
        drain_conn(c);
        sz_conn_uncork(c);
        sz_conn_unref(c);
    }
    commit_kick(s);
    sz_ingest_flush(s);
    sz_server_check_finish(s);
}

int sz_ingest_init(sz_server_t *s) {
    int rc = uv_mutex_init(&s->verify_lock);
    if (rc < 0)
        return rc;
    rc = uv_async_init(s->loop, &s->verify_async, on_verified);
    if (rc < 0) {
        uv_mutex_destroy(&s->verify_lock);
        return rc;
    }
    s->verify_async.data = s;
    return 0;
}

void sz_ingest_close(sz_server_t *s) {
    if (!uv_is_closing((uv_handle_t *)&s->verify_async))
        uv_close((uv_handle_t *)&s->verify_async, NULL);
}

void sz_ingest_free(sz_server_t *s) {
    uv_mutex_destroy(&s->verify_lock);
}

void sz_ingest_flush(sz_server_t *s) {
    for (;;) {
        uv_mutex_lock(&s->verify_lock);
        /* One more worker while there is more queued than the running ones are about to take. */
        int spawn = s->verify_pending > (size_t)s->verify_active * VERIFY_TAKE &&
                    s->verify_active < s->max_verify_workers;
        if (spawn)
            s->verify_active++;
        uv_mutex_unlock(&s->verify_lock);
        if (!spawn)
            return;
        uv_work_t *w = malloc(sizeof *w);
        if (w == NULL ||
            (w->data = s, uv_queue_work(s->loop, w, verify_work, after_verify_worker)) < 0) {
            free(w);
            uv_mutex_lock(&s->verify_lock);
            s->verify_active--;
            int stranded = s->verify_active == 0 ? 1 : 0;
            sz_submit_job_t *j = stranded ? s->verify_head : NULL;
            if (stranded) {
                s->verify_head = s->verify_tail = NULL;
                s->verify_pending = 0;
            }
            uv_mutex_unlock(&s->verify_lock);
            /* No worker will come: refuse what waits rather than leave it unanswered. */
            while (j != NULL) {
                sz_submit_job_t *next = j->next_verify;
                j->err = -ENOMEM;
                j->done = 1;
                s->verify_outstanding--;
                sz_conn_t *c = j->c;
                c->refs++;
                drain_conn(c);
                sz_conn_unref(c);
                j = next;
            }
            return;
        }
        s->verify_workers++;
        s->pending_work++;
    }
}

void sz_ingest_submit(sz_conn_t *c, uint32_t request_id, const uint8_t *payload, size_t len) {
    sz_server_t *s = c->srv;
    sz_msg_submit_t m;
    int rc = sz_msg_submit_decode(&m, payload, len);
    sz_submit_job_t *j = rc == 0 ? malloc(sizeof *j + m.len) : NULL;
    if (j == NULL) {
        sz_conn_send_error(c, request_id, rc < 0 ? rc : -ENOMEM,
                           rc < 0 ? "SUBMIT does not hold an envelope" : "out of memory");
        sz_conn_request_done(c, len);
        return;
    }
    memset(j, 0, sizeof *j);
    j->c = c;
    j->rid = request_id;
    j->len = m.len;
    memcpy(j->env, m.envelope, m.len);
    if (c->sub_tail)
        c->sub_tail->next_conn = j;
    else
        c->sub_head = j;
    c->sub_tail = j;
    s->verify_outstanding++;
    uv_mutex_lock(&s->verify_lock);
    if (s->verify_tail)
        s->verify_tail->next_verify = j;
    else
        s->verify_head = j;
    s->verify_tail = j;
    s->verify_pending++;
    uv_mutex_unlock(&s->verify_lock);
    s->last_submit_ms = uv_now(s->loop);
}
