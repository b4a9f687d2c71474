/* SUBMIT: verification on the thread pool, then group commit.
 *
 * SUBMITs wait in one server-wide queue; each verification worker (a pool job, at most one per
 * pool thread but one) takes an even share of it, so pipelined submits use every core and a
 * burst costs one wake-up per share rather than one per record. Verified jobs enter one server-wide
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
    return s->committing || s->commit_queued > 0 || s->fts_running || s->verify_pending > 0 ||
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
           SZ_LF_UINT("verifying", s->verify_pending));
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
    if (s->commit_queued == 0 && s->verify_pending == 0 && s->verify_workers == 0)
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
    /* In a burst (a worker verifying and more waiting) the next verified share kicks again
     * within milliseconds: waiting for half a batch makes each commit rewrite the random-key
     * B-tree pages for more records. A lone submit never waits (nothing pending). */
    if (s->commit_queued < max / 2 && s->verify_workers > 0 && s->verify_pending > 0)
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
    int busy = s->verify_pending > 0 || s->verify_workers > 0 || s->commit_queued > 0 ||
               s->committing || now - s->last_submit_ms < FTS_QUIET_MS || sz_sync_busy(s);
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

/* A worker verifies a share of the pending submits in one pool job, so a burst of pipelined
 * submits costs one wake-up per share instead of one per record. */
#define VBATCH_MAX 64

typedef struct vbatch_s {
    uv_work_t work;
    sz_server_t *srv;
    size_t n;
    sz_submit_job_t *jobs[VBATCH_MAX];
} vbatch_t;

static void verify_one(sz_submit_job_t *j, const sz_policy_t *policy) {
    j->err = sz_store_verify(&j->v, j->env, j->len);
    /* A first version is a new record: the submission policy decides. Later versions are judged
     * by the store's editor callback inside the commit. */
    if (j->err == 0 && j->v.rec.nparents == 0)
        j->err = sz_policy_may_submit(policy, j->v.rec.author, j->why, sizeof j->why);
}

static void verify_work(uv_work_t *w) {
    vbatch_t *b = w->data;
    for (size_t i = 0; i < b->n; i++)
        verify_one(b->jobs[i], b->srv->policy);
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

static void after_verify(uv_work_t *w, int status) {
    vbatch_t *b = w->data;
    sz_server_t *s = b->srv;
    s->pending_work--;
    s->verify_workers--;
    sz_conn_t *conns[VBATCH_MAX];
    size_t n = b->n;
    /* Mark everything first: draining may answer and free any job of the batch. Each job holds a
     * reference to its connection; take one more per job while draining. */
    for (size_t i = 0; i < n; i++) {
        sz_submit_job_t *j = b->jobs[i];
        if (status < 0 && j->err == 0)
            j->err = SZ_E_STATE;
        j->done = 1;
        conns[i] = j->c;
        conns[i]->refs++;
    }
    free(b);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && conns[i] == conns[i - 1])
            continue;
        sz_conn_cork(conns[i]);
        drain_conn(conns[i]);
        sz_conn_uncork(conns[i]);
    }
    for (size_t i = 0; i < n; i++)
        sz_conn_unref(conns[i]);
    commit_kick(s);
    sz_ingest_flush(s);
    sz_server_check_finish(s);
}

void sz_ingest_flush(sz_server_t *s) {
    while (s->verify_pending > 0 && s->verify_head != NULL &&
           s->verify_workers < s->max_verify_workers) {
        /* An even share per possible worker, so the workers free now and soon split a burst. */
        size_t take = (s->verify_pending + s->max_verify_workers - 1) / s->max_verify_workers;
        if (take > VBATCH_MAX)
            take = VBATCH_MAX;
        vbatch_t *b = malloc(sizeof *b);
        if (b == NULL) {
            /* Out of memory: refuse one job rather than leave it unanswered. */
            sz_submit_job_t *job = s->verify_head;
            s->verify_head = job->next_verify;
            if (s->verify_head == NULL)
                s->verify_tail = NULL;
            s->verify_pending--;
            job->err = -ENOMEM;
            job->done = 1;
            sz_conn_t *c = job->c;
            c->refs++;
            drain_conn(c);
            sz_conn_unref(c);
            continue;
        }
        for (size_t i = 0; i < take; i++) {
            b->jobs[i] = s->verify_head;
            s->verify_head = b->jobs[i]->next_verify;
        }
        if (s->verify_head == NULL)
            s->verify_tail = NULL;
        s->verify_pending -= take;
        s->verify_workers++;
        s->pending_work++;
        b->srv = s;
        b->n = take;
        b->work.data = b;
        if (uv_queue_work(s->loop, &b->work, verify_work, after_verify) < 0)
            after_verify(&b->work, UV_ECANCELED);
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
    if (s->verify_tail)
        s->verify_tail->next_verify = j;
    else
        s->verify_head = j;
    s->verify_tail = j;
    s->verify_pending++;
    s->last_submit_ms = uv_now(s->loop);
}
