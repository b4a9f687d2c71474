/* libFuzzer harness for the replication and audit messages of proto/msg (types 17..31): every
 * decoder, with a round trip that aborts when a payload that decodes does not encode back to the
 * same bytes, or a decoder fails with an undocumented code.
 *
 * Input: byte 0 selects the message type (taken modulo 15, plus 17); the rest is its payload. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"

static sz_msg_peer_info_t peers[SZ_MSG_MAX_PEERS];
static sz_msg_log_entry_t entries[SZ_MSG_MAX_PAGE];
static sz_msg_fetched_item_t items[SZ_MSG_MAX_FETCH];
static sz_msg_push_item_t pushes[SZ_MSG_MAX_PUSH];

static void same(int rc, const uint8_t *buf, size_t n, const uint8_t *in, size_t len) {
    if (rc != 0 || n != len || (n > 0 && memcmp(buf, in, n) != 0))
        abort();
}

static void fail_ok(int rc) {
    if (rc != SZ_E_TRUNCATED && rc != SZ_E_TRAILING && rc != SZ_E_MALFORMED && rc != SZ_E_TOO_LARGE)
        abort();
}

#define ROUND(type, dec_call, enc_fn)                                                              \
    do {                                                                                           \
        type m;                                                                                    \
        memset(&m, 0, sizeof m);                                                                   \
        int rc = dec_call;                                                                         \
        if (rc == 0) {                                                                             \
            int e_ = enc_fn(&m, buf, sizeof buf, &n);                                              \
            same(e_, buf, n, in, len);                                                             \
        } else                                                                                     \
            fail_ok(rc);                                                                           \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    unsigned type = 17u + data[0] % 15u;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    static uint8_t buf[SZ_MSG_MAX + 64];
    size_t n = 0;
    switch (type) {
    case SZ_MSG_PEER_ADD:
        ROUND(sz_msg_peer_add_t, sz_msg_peer_add_decode(&m, in, len), sz_msg_peer_add_encode);
        break;
    case SZ_MSG_PEER_REMOVE:
        ROUND(sz_msg_peer_remove_t, sz_msg_peer_remove_decode(&m, in, len),
              sz_msg_peer_remove_encode);
        break;
    case SZ_MSG_PEER_LIST: {
        int rc = sz_msg_peer_list_decode(in, len);
        if (rc != 0)
            fail_ok(rc);
        break;
    }
    case SZ_MSG_PEERS:
        ROUND(sz_msg_peers_t, (m.peers = peers, sz_msg_peers_decode(&m, SZ_MSG_MAX_PEERS, in, len)),
              sz_msg_peers_encode);
        break;
    case SZ_MSG_SYNC_NOW:
        ROUND(sz_msg_sync_now_t, sz_msg_sync_now_decode(&m, in, len), sz_msg_sync_now_encode);
        break;
    case SZ_MSG_SYNC:
        ROUND(sz_msg_sync_t, sz_msg_sync_decode(&m, in, len), sz_msg_sync_encode);
        break;
    case SZ_MSG_LOG_PAGE:
        ROUND(sz_msg_log_page_t,
              (m.entries = entries, sz_msg_log_page_decode(&m, SZ_MSG_MAX_PAGE, in, len)),
              sz_msg_log_page_encode);
        break;
    case SZ_MSG_RECON:
        ROUND(sz_msg_recon_t, sz_msg_recon_decode(&m, in, len), sz_msg_recon_encode);
        break;
    case SZ_MSG_FETCH:
        ROUND(sz_msg_fetch_t, sz_msg_fetch_decode(&m, in, len), sz_msg_fetch_encode);
        break;
    case SZ_MSG_FETCHED:
        ROUND(sz_msg_fetched_t,
              (m.items = items, sz_msg_fetched_decode(&m, SZ_MSG_MAX_FETCH, in, len)),
              sz_msg_fetched_encode);
        break;
    case SZ_MSG_PUSH:
        ROUND(sz_msg_push_t, (m.items = pushes, sz_msg_push_decode(&m, SZ_MSG_MAX_PUSH, in, len)),
              sz_msg_push_encode);
        break;
    case SZ_MSG_AUDIT_HEAD:
        ROUND(sz_msg_audit_head_t, sz_msg_audit_head_decode(&m, in, len), sz_msg_audit_head_encode);
        break;
    case SZ_MSG_AUDIT_HEAD_OK:
        ROUND(sz_msg_audit_head_ok_t, sz_msg_audit_head_ok_decode(&m, in, len),
              sz_msg_audit_head_ok_encode);
        break;
    case SZ_MSG_AUDIT_PROVE:
        ROUND(sz_msg_audit_prove_t, sz_msg_audit_prove_decode(&m, in, len),
              sz_msg_audit_prove_encode);
        break;
    case SZ_MSG_AUDIT_PROOF:
        ROUND(sz_msg_audit_proof_t, sz_msg_audit_proof_decode(&m, in, len),
              sz_msg_audit_proof_encode);
        break;
    default:
        abort();
    }
    return 0;
}
