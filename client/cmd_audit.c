/* samizdat audit PEER: checks that a mirror still holds, unaltered and in the same history, what
 * our node holds (proto/SYNC.md section 8). The client talks to both nodes itself: our node is
 * --node (or $SAMIZDAT_NODE), the peer is the operand. Nothing either node says is trusted without
 * a check: tree heads are verified against the keys the handshakes proved, proofs are verified
 * here, and our own reference digests are recomputed from envelopes whose hashes are checked. */
#include "commands.h"
#include "encoding.h"
#include "error.h"
#include "merkle.h"
#include "msg.h"
#include "net.h"
#include "node_ops.h"
#include "sha256.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_SAMPLE 32
#define MAX_SAMPLE 1024

const char sz_usage_audit[] =
    "usage: samizdat [--node NODE] [--key FILE] audit PEER [--sample N] [--json]\n"
    "\n"
    "Audits the mirror PEER (an invite, or HOST:PORT) against our node (--node): connects to\n"
    "both, and\n"
    "  1. fetches both signed tree heads and verifies them against the keys the nodes proved in\n"
    "     their handshakes; if an earlier audit saved a head of this peer, the peer must prove\n"
    "     its log still extends it (RFC 6962 consistency proof), or the audit says REWRITTEN;\n"
    "  2. challenges the peer, with a fresh random nonce, to prove it holds N versions chosen\n"
    "     at random: half from our node's log (asked by hash), half from the peer's own log\n"
    "     (asked by leaf index, with inclusion proofs checked against its signed head). For\n"
    "     each the peer must return SHA-256(nonce || envelope), which is compared with the\n"
    "     value computed from our node's copy (for a version only the peer holds, from the\n"
    "     peer's envelope, checked against the hash its log proved, where GET can fetch it).\n"
    "Prints each MISSING (the peer does not hold it), ALTERED (other bytes) or FORKED (bad\n"
    "inclusion proof) version and the counts. Exits 1 if anything is missing, altered, forked or\n"
    "rewritten. A version our node received moments ago may show as MISSING until the peer\n"
    "has synced it.\n"
    "\n"
    "The last verified head of each peer is kept in ~/.config/samizdat/audit/PEERKEY (or under\n"
    "$XDG_CONFIG_HOME); it is only replaced by a head proved consistent with it.\n"
    "\n"
    "  --sample N  versions to challenge, 1..1024 (default 32)\n"
    "  --json      print the report as JSON\n"
    "\n"
    "Nodes serve audit requests to mirrors and admins: use --key with an admin key of both.\n";

enum { OPT_SAMPLE = 1 };

static const sz_cli_option_t audit_options[] = {
    {"sample", 'n', 1, OPT_SAMPLE},
    {NULL, 0, 0, 0},
};

static int audit_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    unsigned *sample = ctx;
    if (id == OPT_SAMPLE) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < 1 || v > MAX_SAMPLE)
            return sz_cli_usage_error(cli, "--sample must be 1 to %d, not '%.40s'", MAX_SAMPLE,
                                      arg);
        *sample = (unsigned)v;
    }
    return SZ_CLI_GO;
}

/* ---- Findings ---------------------------------------------------------------------------- */

enum result_e { R_OK, R_MISSING, R_ALTERED, R_FORKED, R_UNCHECKED, R_PURGED, R_NRESULTS };
static const char *const result_names[R_NRESULTS] = {"OK",     "MISSING",   "ALTERED",
                                                     "FORKED", "UNCHECKED", "PURGED"};
static const char *const result_keys[R_NRESULTS] = {"ok",     "missing",   "altered",
                                                    "forked", "unchecked", "purged"};

typedef struct item_s {
    uint8_t hash[32];
    int theirs;     /* 0: drawn from our log, 1: from the peer's log */
    uint64_t index; /* leaf index in the log it was drawn from */
    uint8_t ref[32];
    int have_ref;      /* ref holds our digest */
    int local;         /* ref was recomputed here from an envelope whose hash was checked */
    uint8_t their[32]; /* the peer's digest */
    int their_status;  /* SZ_PROVE_* */
    int result;
} item_t;

typedef struct audit_s {
    sz_cli_t *cli;
    sz_net_t *ours, *peer;
    uint8_t nonce[32];
    sz_tree_head_t our_head, peer_head, prev_head;
    int have_prev;
    const char *consistency; /* "first", "ok", "rewritten" */
    char why[256];           /* why rewritten */
    item_t *items;
    size_t nitems;
    size_t counts[R_NRESULTS];
    unsigned verified_locally;
    uint64_t started_ms;
} audit_t;

/* ---- Saved heads ------------------------------------------------------------------------- */

static int state_path(const uint8_t key[32], char *out, size_t cap) {
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char hex[65];
    sz_hex_encode(hex, key, 32);
    int n;
    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(out, cap, "%s/samizdat/audit/%s", xdg, hex);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(out, cap, "%s/.config/samizdat/audit/%s", home, hex);
    else
        return -1;
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/* Loads the last head verified for key. Returns 1 when one was loaded, 0 when there is none, -1
 * when the file is unreadable or damaged (printed). */
static int load_prev(audit_t *a, const uint8_t key[32]) {
    char path[PATH_MAX];
    if (state_path(key, path, sizeof path) != 0)
        return 0;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = sz_cli_read_file(path, 4096, 0, &buf, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        sz_cli_fail(a->cli, "cannot read the saved head %s: %s", path, sz_strerror(rc));
        return -1;
    }
    rc = sz_tree_head_open(&a->prev_head, buf, len);
    free(buf);
    if (rc != 0 || sodium_memcmp(a->prev_head.node_key, key, 32) != 0) {
        sz_cli_fail(a->cli,
                    "the saved head %s is damaged or not this peer's; remove it to start over",
                    path);
        return -1;
    }
    return 1;
}

static void save_head(const sz_tree_head_t *th) {
    char path[PATH_MAX];
    if (state_path(th->node_key, path, sizeof path) != 0)
        return;
    uint8_t buf[SZ_TREE_HEAD_LEN];
    sz_tree_head_encode(buf, th);
    int rc = sz_cli_make_parent_dirs(path);
    if (rc == 0)
        rc = sz_cli_write_file(path, buf, sizeof buf, 0600, 1);
    if (rc != 0)
        sz_cli_warn("cannot save the peer's head to %s: %s", path, sz_strerror(rc));
}

/* ---- Requests ---------------------------------------------------------------------------- */

/* AUDIT_HEAD: the node's signed head, checked against the key it proved in the handshake. When
 * from is not 0 the consistency proof is copied to proof (SZ_MERKLE_MAX_CONSISTENCY_LEN bytes).
 * Returns 0, SZ_E_ARGUMENT (the node says its log is shorter than from), or an exit status after
 * printing why. */
static int fetch_head(audit_t *a, sz_net_t *net, const char *who, uint64_t from, sz_tree_head_t *th,
                      uint8_t *proof, size_t *proof_len) {
    sz_msg_audit_head_t q = {.from_size = from};
    uint8_t req[8];
    size_t n = 0;
    if (sz_msg_audit_head_encode(&q, req, sizeof req, &n) != 0)
        return sz_cli_fail(a->cli, "cannot encode AUDIT_HEAD");
    sz_msg_t m;
    int rc = sz_net_call(net, SZ_MSG_AUDIT_HEAD, req, n, &m);
    if (rc == SZ_E_ARGUMENT && from > 0)
        return SZ_E_ARGUMENT;
    if (rc != 0)
        return sz__node_fail(a->cli, net, rc, who);
    sz_msg_audit_head_ok_t r;
    if (m.header.type != SZ_MSG_AUDIT_HEAD_OK || sz_msg_audit_head_ok_decode(&r, m.payload, m.len))
        return sz_cli_fail(a->cli, "%s: malformed answer to AUDIT_HEAD", who);
    if (sodium_memcmp(r.head.node_key, sz_net_node_key(net), 32) != 0 ||
        sz_tree_head_verify(&r.head) != 0)
        return sz_cli_fail(a->cli,
                           "%s: the signed tree head does not verify against the node's "
                           "key (the node is faulty or lying)",
                           who);
    *th = r.head;
    if (proof != NULL) {
        memcpy(proof, r.proof, r.proof_len);
        *proof_len = r.proof_len;
    }
    return 0;
}

/* AUDIT_PROVE: q to net; the decoded answer (proofs borrowed from net until its next call) must
 * have one item per question. Returns 0 or an exit status after printing why. */
static int prove(audit_t *a, sz_net_t *net, const char *who, const sz_msg_audit_prove_t *q,
                 sz_msg_audit_proof_t *r) {
    uint8_t req[32 + 8 + 1 + SZ_MSG_MAX_PROVE * 33];
    size_t n = 0;
    if (sz_msg_audit_prove_encode(q, req, sizeof req, &n) != 0)
        return sz_cli_fail(a->cli, "cannot encode AUDIT_PROVE");
    sz_msg_t m;
    int rc = sz_net_call(net, SZ_MSG_AUDIT_PROVE, req, n, &m);
    if (rc != 0)
        return sz__node_fail(a->cli, net, rc, who);
    if (m.header.type != SZ_MSG_AUDIT_PROOF || sz_msg_audit_proof_decode(r, m.payload, m.len) ||
        r->count != q->count)
        return sz_cli_fail(a->cli, "%s: malformed answer to AUDIT_PROVE", who);
    for (unsigned i = 0; i < q->count; i++)
        if (q->items[i].by == SZ_PROVE_BY_HASH &&
            sodium_memcmp(q->items[i].version_hash, r->items[i].version_hash, 32) != 0)
            return sz_cli_fail(a->cli, "%s: AUDIT_PROOF answers another version than asked", who);
    return 0;
}

/* GETs the version hash from our node with the hash as record id: this works for first versions
 * (a record's id is its first version's hash). When the envelope comes back with the right hash,
 * writes SHA-256(nonce || envelope) to out and returns 1; otherwise returns 0 (not an error: the
 * node's own digest is used then). */
static int local_digest(audit_t *a, sz_net_t *net, const uint8_t hash[32], uint8_t out[32]) {
    sz_msg_get_t g;
    memset(&g, 0, sizeof g);
    sz_hex_encode(g.id, hash, 32);
    memcpy(g.version, g.id, sizeof g.version);
    uint8_t req[2 + 2 * SZ_MSG_MAX_HEX];
    size_t n = 0;
    if (sz_msg_get_encode(&g, req, sizeof req, &n) != 0)
        return 0;
    sz_msg_t m;
    if (sz_net_call(net, SZ_MSG_GET, req, n, &m) != 0 || m.header.type != SZ_MSG_RECORD)
        return 0;
    sz_msg_record_t r;
    if (sz_msg_record_decode(&r, m.payload, m.len) != 0)
        return 0;
    uint8_t h[32];
    sz_sha256(h, r.envelope, r.envelope_len);
    if (sodium_memcmp(h, hash, 32) != 0)
        return 0;
    sz_sha256_2(out, a->nonce, 32, r.envelope, r.envelope_len);
    return 1;
}

/* Draws k distinct leaf indexes below size (all of them when k >= size), in random order. */
static void draw(uint64_t size, size_t k, uint64_t *out) {
    for (size_t i = 0; i < k; i++) {
        uint64_t v;
        int dup;
        do {
            if (size <= UINT32_MAX) {
                v = randombytes_uniform((uint32_t)size);
            } else {
                randombytes_buf(&v, sizeof v);
                v %= size;
            }
            dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = out[j] == v;
        } while (dup);
        out[i] = v;
    }
}

/* Items [from, to) drawn from our log: our node names them and proves its own copy, then the peer
 * is asked for them by hash. */
static int challenge_ours(audit_t *a, size_t from, size_t to) {
    sz_msg_audit_prove_t q;
    sz_msg_audit_proof_t r;
    memcpy(q.nonce, a->nonce, 32);
    for (size_t base = from; base < to; base += SZ_MSG_MAX_PROVE) {
        size_t cnt = to - base < SZ_MSG_MAX_PROVE ? to - base : SZ_MSG_MAX_PROVE;
        q.count = (uint8_t)cnt;
        q.tree_size = a->our_head.size;
        for (size_t i = 0; i < cnt; i++) {
            q.items[i].by = SZ_PROVE_BY_INDEX;
            q.items[i].index = a->items[base + i].index;
        }
        int rc = prove(a, a->ours, "our node", &q, &r);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < cnt; i++) {
            item_t *it = &a->items[base + i];
            uint8_t leaf[32];
            sz_merkle_leaf_hash(leaf, r.items[i].version_hash, 32);
            if (r.items[i].status != SZ_PROVE_OK ||
                sz_merkle_verify_inclusion(leaf, it->index, a->our_head.size, r.items[i].proof,
                                           r.items[i].proof_len, a->our_head.root) != 0)
                return sz_cli_fail(a->cli,
                                   "our node cannot prove leaf %llu of its own log: check "
                                   "it with samizdatd --check",
                                   (unsigned long long)it->index);
            memcpy(it->hash, r.items[i].version_hash, 32);
            memcpy(it->ref, r.items[i].digest, 32);
            it->have_ref = 1;
        }
        for (size_t i = 0; i < cnt; i++) {
            q.items[i].by = SZ_PROVE_BY_HASH;
            memcpy(q.items[i].version_hash, a->items[base + i].hash, 32);
        }
        q.tree_size = 0;
        if ((rc = prove(a, a->peer, "peer", &q, &r)) != 0)
            return rc;
        for (size_t i = 0; i < cnt; i++) {
            item_t *it = &a->items[base + i];
            it->their_status = r.items[i].status;
            memcpy(it->their, r.items[i].digest, 32);
        }
    }
    return 0;
}

/* Items [from, to) drawn from the peer's log: the peer names them and proves them in its signed
 * tree, then our node gives its digest for the same versions, when it holds them. */
static int challenge_theirs(audit_t *a, size_t from, size_t to) {
    sz_msg_audit_prove_t q;
    sz_msg_audit_proof_t r;
    memcpy(q.nonce, a->nonce, 32);
    for (size_t base = from; base < to; base += SZ_MSG_MAX_PROVE) {
        size_t cnt = to - base < SZ_MSG_MAX_PROVE ? to - base : SZ_MSG_MAX_PROVE;
        q.count = (uint8_t)cnt;
        q.tree_size = a->peer_head.size;
        for (size_t i = 0; i < cnt; i++) {
            q.items[i].by = SZ_PROVE_BY_INDEX;
            q.items[i].index = a->items[base + i].index;
        }
        int rc = prove(a, a->peer, "peer", &q, &r);
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < cnt; i++) {
            item_t *it = &a->items[base + i];
            uint8_t leaf[32];
            memcpy(it->hash, r.items[i].version_hash, 32);
            it->their_status = r.items[i].status;
            memcpy(it->their, r.items[i].digest, 32);
            /* A node that lost a logged entry's bytes cannot name it: missing, not forked. */
            if (r.items[i].status == SZ_PROVE_NOT_HELD && sodium_is_zero(it->hash, 32))
                continue;
            sz_merkle_leaf_hash(leaf, it->hash, 32);
            if (r.items[i].status == SZ_PROVE_BAD_INDEX ||
                sz_merkle_verify_inclusion(leaf, it->index, a->peer_head.size, r.items[i].proof,
                                           r.items[i].proof_len, a->peer_head.root) != 0)
                it->result = R_FORKED;
        }
        for (size_t i = 0; i < cnt; i++) {
            q.items[i].by = SZ_PROVE_BY_HASH;
            memcpy(q.items[i].version_hash, a->items[base + i].hash, 32);
        }
        q.tree_size = 0;
        if ((rc = prove(a, a->ours, "our node", &q, &r)) != 0)
            return rc;
        for (size_t i = 0; i < cnt; i++) {
            item_t *it = &a->items[base + i];
            if (r.items[i].status == SZ_PROVE_OK) {
                memcpy(it->ref, r.items[i].digest, 32);
                it->have_ref = 1;
            }
        }
    }
    return 0;
}

/* Judges every item once both digests are known, recomputing our reference where possible. */
static int judge(audit_t *a) {
    for (size_t i = 0; i < a->nitems; i++) {
        item_t *it = &a->items[i];
        if (it->have_ref) {
            uint8_t mine[32];
            if (local_digest(a, a->ours, it->hash, mine)) {
                if (sodium_memcmp(mine, it->ref, 32) != 0) {
                    char hex[65];
                    sz_hex_encode(hex, it->hash, 32);
                    return sz_cli_fail(a->cli,
                                       "our node's digest of version %s differs from "
                                       "its own envelope (our node is faulty)",
                                       hex);
                }
                it->local = 1;
                a->verified_locally++;
            }
        } else if (it->their_status == SZ_PROVE_OK && it->result != R_FORKED) {
            /* Our node lacks it: the peer's own envelope, checked against the hash its log
             * proved, is a reference as good as ours. */
            if (local_digest(a, a->peer, it->hash, it->ref)) {
                it->have_ref = 1;
                it->local = 1;
                a->verified_locally++;
            }
        }
        if (it->result == R_FORKED)
            ;
        else if (it->their_status == SZ_PROVE_NOT_HELD || it->their_status == SZ_PROVE_BAD_INDEX)
            it->result = R_MISSING;
        else if (it->their_status == SZ_PROVE_PURGED)
            it->result = R_PURGED;
        else if (!it->have_ref)
            it->result = R_UNCHECKED;
        else if (sodium_memcmp(it->ref, it->their, 32) != 0)
            it->result = R_ALTERED;
        else
            it->result = R_OK;
        a->counts[it->result]++;
    }
    return 0;
}

/* ---- Report ------------------------------------------------------------------------------ */

static json_t *head_json(const sz_tree_head_t *th) {
    json_t *o = json_object();
    json_object_set_new(o, "size", json_integer((json_int_t)th->size));
    json_object_set_new(o, "root", sz__hex_json(th->root));
    json_object_set_new(o, "timestamp_ms", json_integer((json_int_t)th->timestamp));
    return o;
}

static int failed(const audit_t *a) {
    return strcmp(a->consistency, "rewritten") == 0 || a->counts[R_MISSING] ||
           a->counts[R_ALTERED] || a->counts[R_FORKED];
}

static void report(const audit_t *a) {
    char pk[SZ_PUBKEY_TEXT_LEN + 1], ok[SZ_PUBKEY_TEXT_LEN + 1], hex[65];
    sz_pubkey_format(pk, a->peer_head.node_key);
    sz_pubkey_format(ok, a->our_head.node_key);
    if (a->cli->json) {
        json_t *o = json_object(), *items = json_array();
        json_object_set_new(o, "peer", json_string(pk));
        json_object_set_new(o, "node", json_string(ok));
        json_object_set_new(o, "peer_head", head_json(&a->peer_head));
        json_object_set_new(o, "node_head", head_json(&a->our_head));
        json_object_set_new(o, "previous_head",
                            a->have_prev ? head_json(&a->prev_head) : json_null());
        json_object_set_new(o, "consistency", json_string(a->consistency));
        if (a->why[0])
            json_object_set_new(o, "consistency_detail", json_string(a->why));
        json_object_set_new(o, "challenged", json_integer((json_int_t)a->nitems));
        for (int r = 0; r < R_NRESULTS; r++)
            json_object_set_new(o, result_keys[r], json_integer((json_int_t)a->counts[r]));
        json_object_set_new(o, "verified_locally", json_integer(a->verified_locally));
        for (size_t i = 0; i < a->nitems; i++) {
            const item_t *it = &a->items[i];
            json_t *e = json_object();
            json_object_set_new(e, "version", sz__hex_json(it->hash));
            json_object_set_new(e, "drawn_from", json_string(it->theirs ? "peer" : "node"));
            json_object_set_new(e, "index", json_integer((json_int_t)it->index));
            json_object_set_new(e, "result", json_string(result_keys[it->result]));
            json_array_append_new(items, e);
        }
        json_object_set_new(o, "items", items);
        json_object_set_new(o, "elapsed_ms",
                            json_integer((json_int_t)(sz__now_ms() - a->started_ms)));
        json_object_set_new(o, "result", json_string(failed(a) ? "failed" : "ok"));
        sz__dump_json(o);
        json_decref(o);
        return;
    }
    printf("peer       %s\n", pk);
    sz_hex_encode(hex, a->peer_head.root, 32);
    printf("peer head  size %llu root %s (signature ok)\n", (unsigned long long)a->peer_head.size,
           hex);
    sz_hex_encode(hex, a->our_head.root, 32);
    printf("our head   size %llu root %s (signature ok)\n", (unsigned long long)a->our_head.size,
           hex);
    if (strcmp(a->consistency, "first") == 0)
        printf("history    first audit of this peer: head saved\n");
    else if (strcmp(a->consistency, "ok") == 0)
        printf("history    consistent with the head of the last audit (size %llu)\n",
               (unsigned long long)a->prev_head.size);
    else
        printf("REWRITTEN  %s\n", a->why);
    for (size_t i = 0; i < a->nitems; i++) {
        const item_t *it = &a->items[i];
        if (it->result == R_OK)
            continue;
        sz_hex_encode(hex, it->hash, 32);
        printf("%-10s %s (%s log, leaf %llu)\n", result_names[it->result], hex,
               it->theirs ? "peer's" : "our", (unsigned long long)it->index);
    }
    printf("audit      %zu challenged: %zu ok, %zu missing, %zu altered, %zu forked, %zu "
           "unchecked, %zu purged\n",
           a->nitems, a->counts[R_OK], a->counts[R_MISSING], a->counts[R_ALTERED],
           a->counts[R_FORKED], a->counts[R_UNCHECKED], a->counts[R_PURGED]);
    printf("result     %s (%llu ms)\n", failed(a) ? "FAILED" : "OK",
           (unsigned long long)(sz__now_ms() - a->started_ms));
}

/* ---- The command ------------------------------------------------------------------------- */

static int check_history(audit_t *a) {
    uint8_t proof[SZ_MERKLE_MAX_CONSISTENCY_LEN];
    size_t plen = 0;
    int have = load_prev(a, sz_net_node_key(a->peer));
    if (have < 0)
        return SZ_EXIT_FAIL;
    a->have_prev = have;
    uint64_t from = have ? a->prev_head.size : 0;
    int rc = fetch_head(a, a->peer, "peer", from, &a->peer_head, proof, &plen);
    if (rc == SZ_E_ARGUMENT) {
        snprintf(a->why, sizeof a->why,
                 "the peer's log is now shorter than the %llu entries it signed before",
                 (unsigned long long)from);
        a->consistency = "rewritten";
        return fetch_head(a, a->peer, "peer", 0, &a->peer_head, NULL, NULL);
    }
    if (rc != 0)
        return rc;
    if (!have) {
        a->consistency = "first";
    } else if (a->peer_head.size < from) {
        snprintf(a->why, sizeof a->why, "the peer signed a head of %llu entries after one of %llu",
                 (unsigned long long)a->peer_head.size, (unsigned long long)from);
        a->consistency = "rewritten";
    } else if (from > 0 && sz_merkle_verify_consistency(from, a->peer_head.size, a->prev_head.root,
                                                        a->peer_head.root, proof, plen) != 0) {
        snprintf(a->why, sizeof a->why,
                 "the peer cannot prove its log of %llu entries extends the one of %llu entries "
                 "it signed before: entries were dropped or rewritten",
                 (unsigned long long)a->peer_head.size, (unsigned long long)from);
        a->consistency = "rewritten";
    } else {
        a->consistency = "ok";
    }
    if (strcmp(a->consistency, "rewritten") != 0)
        save_head(&a->peer_head);
    return 0;
}

int sz_cmd_audit(sz_cli_t *cli, int argc, char **argv) {
    unsigned sample = DEFAULT_SAMPLE;
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, audit_options, audit_option, &sample, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 1)
        return sz_cli_usage_error(cli, nop == 0 ? "audit needs the PEER to audit (an invite or "
                                                  "HOST:PORT)"
                                                : "audit takes one PEER");
    audit_t a;
    memset(&a, 0, sizeof a);
    a.cli = cli;
    a.started_ms = sz__now_ms();
    randombytes_buf(a.nonce, sizeof a.nonce);
    if ((rc = sz__node_connect(cli, NULL, &a.ours)) != SZ_EXIT_OK)
        return rc;
    /* The peer is reached exactly as --node would be, with the same identity options. */
    const char *node = cli->node;
    cli->node = argv[1];
    rc = sz__node_connect(cli, NULL, &a.peer);
    cli->node = node;
    if (rc != SZ_EXIT_OK)
        goto out;
    if (sodium_memcmp(sz_net_node_key(a.ours), sz_net_node_key(a.peer), 32) == 0) {
        rc = sz_cli_fail(cli, "PEER is our node itself: name another mirror");
        goto out;
    }
    if ((rc = fetch_head(&a, a.ours, "our node", 0, &a.our_head, NULL, NULL)) != 0)
        goto out;
    if ((rc = check_history(&a)) != 0)
        goto out;
    /* Half from our log (what the peer should hold), half from the peer's (what it claims). */
    size_t nb = sample / 2 < a.peer_head.size ? sample / 2 : (size_t)a.peer_head.size;
    size_t na = sample - nb < a.our_head.size ? sample - nb : (size_t)a.our_head.size;
    nb = sample - na < a.peer_head.size ? sample - na : (size_t)a.peer_head.size;
    a.nitems = na + nb;
    a.items = calloc(a.nitems ? a.nitems : 1, sizeof *a.items);
    uint64_t *idx = calloc(a.nitems ? a.nitems : 1, sizeof *idx);
    if (a.items == NULL || idx == NULL) {
        free(idx);
        rc = sz_cli_fail(cli, "out of memory");
        goto out;
    }
    draw(a.our_head.size, na, idx);
    draw(a.peer_head.size, nb, idx + na);
    for (size_t i = 0; i < a.nitems; i++) {
        a.items[i].index = idx[i];
        a.items[i].theirs = i >= na;
    }
    free(idx);
    if ((rc = challenge_ours(&a, 0, na)) != 0 || (rc = challenge_theirs(&a, na, a.nitems)) != 0 ||
        (rc = judge(&a)) != 0)
        goto out;
    report(&a);
    rc = failed(&a) ? SZ_EXIT_FAIL : SZ_EXIT_OK;
out:
    sodium_memzero(a.nonce, sizeof a.nonce);
    free(a.items);
    sz_net_close(a.ours);
    sz_net_close(a.peer);
    return rc;
}
