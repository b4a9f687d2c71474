/* AUDIT_HEAD and AUDIT_PROVE, answered from the store (audit.h, proto/SYNC.md section 8.4). */
#include "audit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"
#include "sha256.h"

void sz_audit_digest(uint8_t out[static 32], const uint8_t nonce[static 32],
                     const uint8_t *envelope, size_t len) {
    sz_sha256_2(out, nonce, 32, envelope, len);
}

/* Encodes a message with the codec's size query first; the payload is malloc'd. */
typedef int (*encode_fn)(const void *m, uint8_t *out, size_t cap, size_t *len);

static int enc_head_ok(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_audit_head_ok_encode((const sz_msg_audit_head_ok_t *)m, o, cap, len);
}

static int enc_proof(const void *m, uint8_t *o, size_t cap, size_t *len) {
    return sz_msg_audit_proof_encode((const sz_msg_audit_proof_t *)m, o, cap, len);
}

static int encode_reply(sz_audit_reply_t *out, uint8_t type, const void *m, encode_fn enc) {
    size_t n = 0;
    int rc = enc(m, NULL, 0, &n);
    if (rc < 0)
        return rc;
    uint8_t *p = malloc(n ? n : 1);
    if (p == NULL)
        return -ENOMEM;
    rc = enc(m, p, n, &n);
    if (rc < 0) {
        free(p);
        return rc;
    }
    out->type = type;
    out->payload = p;
    out->len = n;
    return 0;
}

static int answer_head(sz_store_t *st, const uint8_t sk[static 64], uint64_t now_ms,
                       const uint8_t *req, size_t len, sz_audit_reply_t *out, const char **why) {
    sz_msg_audit_head_t q;
    if (sz_msg_audit_head_decode(&q, req, len) < 0) {
        *why = "AUDIT_HEAD does not decode";
        return SZ_E_MALFORMED;
    }
    sz_msg_audit_head_ok_t m;
    memset(&m, 0, sizeof m);
    int rc = sz_store_tree_head(st, sk, now_ms, &m.head);
    if (rc < 0) {
        *why = "cannot sign the tree head";
        return rc;
    }
    /* A head never shrinks on an honest node; saying so plainly lets the auditor report it. */
    if (q.from_size > m.head.size) {
        *why = "the size asked for is beyond this node's log";
        return SZ_E_ARGUMENT;
    }
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    if (q.from_size > 0 && q.from_size < m.head.size) {
        /* The log only grows, so a proof up to the size just signed stays valid whatever was
         * appended since. */
        rc = sz_store_consistency_proof(st, q.from_size, m.head.size, proof, &m.proof_len);
        if (rc < 0) {
            *why = "cannot build the consistency proof";
            return rc;
        }
        m.proof = proof;
    }
    rc = encode_reply(out, SZ_MSG_AUDIT_HEAD_OK, &m, enc_head_ok);
    if (rc < 0)
        *why = "cannot encode AUDIT_HEAD_OK";
    return rc;
}

static int leaf_cb(void *arg, const sz_version_info_t *v) {
    memcpy(arg, v->version_hash, 32);
    return 0;
}

/* Fills one answer item: the digest over the stored envelope, or a status saying why not. */
static int prove_hash(sz_store_t *st, const uint8_t nonce[static 32], sz_msg_proof_item_t *it) {
    uint8_t *env = NULL;
    size_t elen = 0;
    int rc = sz_store_get_version(st, it->version_hash, &env, &elen);
    if (rc == SZ_E_NOT_FOUND) {
        it->status = SZ_PROVE_NOT_HELD;
        return 0;
    }
    if (rc == SZ_E_RETRACTED) {
        /* A retraction purged the body: the node rightly holds only the hash and tombstone. */
        it->status = SZ_PROVE_PURGED;
        return 0;
    }
    if (rc < 0)
        return rc;
    sz_audit_digest(it->digest, nonce, env, elen);
    it->status = SZ_PROVE_OK;
    free(env);
    return 0;
}

static int answer_prove(sz_store_t *st, const uint8_t *req, size_t len, sz_audit_reply_t *out,
                        const char **why) {
    sz_msg_audit_prove_t *q = malloc(sizeof *q);
    sz_msg_audit_proof_t *m = calloc(1, sizeof *m);
    /* One inclusion proof buffer per item: at most 64 * 2048 bytes. */
    uint8_t(*proofs)[SZ_MERKLE_MAX_INCLUSION_LEN] =
        malloc((size_t)SZ_MSG_MAX_PROVE * SZ_MERKLE_MAX_INCLUSION_LEN);
    int rc = 0;
    if (q == NULL || m == NULL || proofs == NULL) {
        *why = "out of memory";
        rc = -ENOMEM;
        goto done;
    }
    if (sz_msg_audit_prove_decode(q, req, len) < 0) {
        *why = "AUDIT_PROVE does not decode";
        rc = SZ_E_MALFORMED;
        goto done;
    }
    sz_store_stats_t stats;
    if ((rc = sz_store_stats(st, &stats)) < 0) {
        *why = "cannot read the log size";
        goto done;
    }
    m->count = q->count;
    for (unsigned i = 0; i < q->count && rc == 0; i++) {
        const sz_msg_prove_item_t *qi = &q->items[i];
        sz_msg_proof_item_t *it = &m->items[i];
        if (qi->by == SZ_PROVE_BY_HASH) {
            memcpy(it->version_hash, qi->version_hash, 32);
            rc = prove_hash(st, q->nonce, it);
            continue;
        }
        /* By index: the tree the auditor verified must lie within this log. */
        if (q->tree_size > stats.versions || qi->index >= q->tree_size) {
            it->status = SZ_PROVE_BAD_INDEX;
            continue;
        }
        uint64_t next = 0;
        rc = sz_store_log(st, qi->index, 1, leaf_cb, it->version_hash, &next);
        if (rc == SZ_E_CORRUPT) {
            /* The entry's bytes no longer hash to what was logged, so its version hash is lost:
             * say plainly that this node does not hold it (the auditor reports it missing). */
            memset(it->version_hash, 0, 32);
            it->status = SZ_PROVE_NOT_HELD;
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        if (next != qi->index + 1) {
            it->status = SZ_PROVE_BAD_INDEX;
            continue;
        }
        rc = sz_store_inclusion_proof(st, qi->index, q->tree_size, proofs[i], &it->proof_len);
        if (rc < 0)
            break;
        it->proof = proofs[i];
        rc = prove_hash(st, q->nonce, it);
    }
    if (rc < 0) {
        *why = "cannot read the log";
        goto done;
    }
    rc = encode_reply(out, SZ_MSG_AUDIT_PROOF, m, enc_proof);
    if (rc < 0)
        *why = "cannot encode AUDIT_PROOF";
done:
    free(q);
    free(m);
    free(proofs);
    return rc;
}

int sz_audit_answer(sz_store_t *st, const uint8_t node_sk[static 64], uint64_t now_ms, uint8_t type,
                    const uint8_t *req, size_t len, sz_audit_reply_t *out, const char **why) {
    static const char *unused = "";
    if (why == NULL)
        why = &unused;
    *why = "";
    memset(out, 0, sizeof *out);
    switch (type) {
    case SZ_MSG_AUDIT_HEAD:
        return answer_head(st, node_sk, now_ms, req, len, out, why);
    case SZ_MSG_AUDIT_PROVE:
        return answer_prove(st, req, len, out, why);
    default:
        *why = "not an audit request";
        return SZ_E_PROTOCOL;
    }
}
