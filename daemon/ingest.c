/* SUBMIT: verification on the thread pool, then group commit.
 *
 * Each SUBMIT becomes a job verified on its own pool thread (so pipelined submits use every
 * core). Verified jobs enter one server-wide commit queue in their connection's arrival order
 * (a job waits for earlier jobs of its connection), so a record and its amendment sent back to
 * back are never committed out of order. One commit runs at a time, on a pool thread, writing
 * everything queued (up to batch_max_records) in one transaction; while it runs the next batch
 * accumulates. Each SUBMIT is answered only after its transaction returned. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "log.h"
#include "server_int.h"

struct sz_submit_job_s {
    uv_work_t work;
    sz_conn_t *c;
    uint32_t rid;
    int done; /* verification finished */
    int err;
    sz_submit_job_t *next_conn;   /* the connection's FIFO */
    sz_submit_job_t *next_commit; /* the commit queue */
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
    sz_submit_job_t **jobs;
    sz_verified_t *v;
    sz_put_result_t *res;
} batch_t;

static void fts_kick(sz_server_t *s);

int sz_ingest_busy(const sz_server_t *s) {
    return s->committing || s->commit_queued > 0 || s->fts_running;
}

static void reply(sz_submit_job_t *j, int err, const sz_put_result_t *res) {
    sz_conn_t *c = j->c;
    if (err < 0) {
        char text[SZ_ERROR_MAX_TEXT];
        if (err == SZ_E_DENIED && j->why[0])
            snprintf(text, sizeof text, "%s", j->why);
        else if (err == SZ_E_DENIED)
            snprintf(text, sizeof text,
                     "only the record's author or an editor of this node may amend it");
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
    free(j);
    sz_conn_request_done(c);
}

/* ---- Group commit ---- */

static void commit_work(uv_work_t *w) {
    batch_t *b = w->data;
    b->rc = sz_store_put_verified(b->srv->store, b->v, b->n, b->res);
}

static void commit_kick(sz_server_t *s);

static void after_commit(uv_work_t *w, int status) {
    (void)status;
    batch_t *b = w->data;
    sz_server_t *s = b->srv;
    s->pending_work--;
    s->committing = 0;
    if (b->rc < 0)
        SZ_LOG(SZ_LOG_ERROR, "commit_failed", SZ_LF_ERR("err", b->rc),
               SZ_LF_STR("detail", sz_store_errmsg(s->store)), SZ_LF_UINT("records", b->n));
    for (size_t i = 0; i < b->n; i++)
        reply(b->jobs[i], b->res[i].err, &b->res[i]);
    if (b->rc == 0) {
        s->fts_dirty = 1;
        fts_kick(s);
    }
    free(b->jobs);
    free(b->v);
    free(b->res);
    free(b);
    commit_kick(s);
    sz_server_check_finish(s);
}

static void commit_kick(sz_server_t *s) {
    if (s->committing || s->commit_queued == 0)
        return;
    size_t max = s->cfg->batch_max_records;
    if (max == 0 || max > SZ_STORE_MAX_BATCH)
        max = SZ_STORE_MAX_BATCH;
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

#define FTS_STEP 20000

typedef struct fts_job_s {
    uv_work_t work;
    sz_server_t *srv;
    uint64_t done;
    int rc;
} fts_job_t;

static void fts_work(uv_work_t *w) {
    fts_job_t *f = w->data;
    f->rc = sz_store_fts_catchup(f->srv->store, FTS_STEP, &f->done);
}

static void after_fts(uv_work_t *w, int status) {
    (void)status;
    fts_job_t *f = w->data;
    sz_server_t *s = f->srv;
    s->pending_work--;
    s->fts_running = 0;
    if (f->rc < 0)
        SZ_LOG(SZ_LOG_ERROR, "fts_catchup_failed", SZ_LF_ERR("err", f->rc));
    else if (f->done >= FTS_STEP)
        s->fts_dirty = 1;
    free(f);
    fts_kick(s);
    sz_server_check_finish(s);
}

static void fts_kick(sz_server_t *s) {
    if (s->fts_running || !s->fts_dirty || s->stopping)
        return;
    fts_job_t *f = calloc(1, sizeof *f);
    if (f == NULL)
        return;
    f->srv = s;
    f->work.data = f;
    s->fts_dirty = 0;
    s->fts_running = 1;
    s->pending_work++;
    if (uv_queue_work(s->loop, &f->work, fts_work, after_fts) < 0) {
        s->pending_work--;
        s->fts_running = 0;
        free(f);
    }
}

/* ---- Verification ---- */

static void verify_work(uv_work_t *w) {
    sz_submit_job_t *j = w->data;
    sz_server_t *s = j->c->srv;
    j->err = sz_store_verify(&j->v, j->env, j->len);
    /* A first version is a new record: the submission policy decides. Later versions are judged
     * by the store's editor callback inside the commit. */
    if (j->err == 0 && j->v.rec.nparents == 0)
        j->err = sz_policy_may_submit(s->policy, j->v.rec.author, j->why, sizeof j->why);
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
    sz_submit_job_t *j = w->data;
    sz_conn_t *c = j->c;
    sz_server_t *s = c->srv;
    s->pending_work--;
    if (status < 0 && j->err == 0)
        j->err = SZ_E_STATE;
    j->done = 1;
    /* drain_conn may answer (and free) jobs and drop references to c; keep c alive meanwhile. */
    c->refs++;
    drain_conn(c);
    commit_kick(s);
    sz_conn_unref(c);
    sz_server_check_finish(s);
}

void sz_ingest_submit(sz_conn_t *c, uint32_t request_id, const uint8_t *payload, size_t len) {
    sz_server_t *s = c->srv;
    sz_msg_submit_t m;
    int rc = sz_msg_submit_decode(&m, payload, len);
    sz_submit_job_t *j = rc == 0 ? malloc(sizeof *j + m.len) : NULL;
    if (j == NULL) {
        sz_conn_send_error(c, request_id, rc < 0 ? rc : -ENOMEM,
                           rc < 0 ? "SUBMIT does not hold an envelope" : "out of memory");
        sz_conn_request_done(c);
        return;
    }
    memset(j, 0, sizeof *j);
    j->c = c;
    j->rid = request_id;
    j->len = m.len;
    memcpy(j->env, m.envelope, m.len);
    j->work.data = j;
    if (c->sub_tail)
        c->sub_tail->next_conn = j;
    else
        c->sub_head = j;
    c->sub_tail = j;
    s->pending_work++;
    rc = uv_queue_work(s->loop, &j->work, verify_work, after_verify);
    if (rc < 0) {
        j->err = SZ_E_STATE;
        after_verify(&j->work, 0);
    }
}
