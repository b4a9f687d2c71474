/* libFuzzer harness for proto/msg: every decoder of the message catalogue, with round-trip checks
 * that abort on any disagreement.
 *
 * Input: byte 0 is a message type (SZ_MSG_*); the rest is its payload. A payload that decodes is
 * encoded again and must give back exactly the same bytes (for HELLO and HELLO_OK, whose tails
 * are reserved, the same prefix). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "msg.h"

static sz_msg_list_entry_t entries[SZ_MSG_MAX_LIST];
static sz_msg_hit_t hits[SZ_MSG_MAX_HITS];
static sz_msg_peer_t peers[SZ_MSG_MAX_PEERS];

/* The re-encoding must equal the input (prefix_ok: may be a prefix of it). */
static void same(int rc, const uint8_t *buf, size_t n, const uint8_t *in, size_t len,
                 int prefix_ok) {
    if (rc != 0 || n > len || (!prefix_ok && n != len) || (n > 0 && memcmp(buf, in, n) != 0))
        abort();
}

/* Decoders must fail with one of the documented codes. */
static void fail_ok(int rc) {
    if (rc != SZ_E_TRUNCATED && rc != SZ_E_TRAILING && rc != SZ_E_MALFORMED && rc != SZ_E_TOO_LARGE)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t type = data[0];
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    static uint8_t buf[SZ_MSG_MAX + 64];
    size_t n = 0;
    int rc;
    switch (type) {
    case SZ_MSG_HELLO: {
        sz_msg_hello_t m;
        if ((rc = sz_msg_hello_decode(&m, in, len)) == 0) {
            int e = sz_msg_hello_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 1);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_HELLO_OK: {
        sz_msg_hello_ok_t m;
        if ((rc = sz_msg_hello_ok_decode(&m, in, len)) == 0) {
            int e = sz_msg_hello_ok_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 1);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_SUBMIT: {
        sz_msg_submit_t m;
        if ((rc = sz_msg_submit_decode(&m, in, len)) == 0) {
            int e = sz_msg_submit_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_SUBMITTED: {
        sz_msg_submitted_t m;
        if ((rc = sz_msg_submitted_decode(&m, in, len)) == 0) {
            int e = sz_msg_submitted_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_GET: {
        sz_msg_get_t m;
        if ((rc = sz_msg_get_decode(&m, in, len)) == 0) {
            int e = sz_msg_get_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_RECORD: {
        sz_msg_record_t m;
        if ((rc = sz_msg_record_decode(&m, in, len)) == 0) {
            int e = sz_msg_record_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_HISTORY: {
        sz_msg_history_t m;
        if ((rc = sz_msg_history_decode(&m, in, len)) == 0) {
            int e = sz_msg_history_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_VERSION: {
        sz_msg_version_t m;
        if ((rc = sz_msg_version_decode(&m, in, len)) == 0) {
            int e = sz_msg_version_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_END: {
        sz_msg_end_t m;
        if ((rc = sz_msg_end_decode(&m, in, len)) == 0) {
            int e = sz_msg_end_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_LIST: {
        sz_msg_list_t m;
        if ((rc = sz_msg_list_decode(&m, in, len)) == 0) {
            int e = sz_msg_list_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_LIST_PAGE: {
        sz_msg_list_page_t m = {.entries = entries};
        if ((rc = sz_msg_list_page_decode(&m, SZ_MSG_MAX_LIST, in, len)) == 0) {
            int e = sz_msg_list_page_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_SEARCH: {
        sz_msg_search_t m;
        if ((rc = sz_msg_search_decode(&m, in, len)) == 0) {
            int e = sz_msg_search_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_SEARCH_RESULT: {
        sz_msg_search_result_t m = {.hits = hits};
        if ((rc = sz_msg_search_result_decode(&m, SZ_MSG_MAX_HITS, in, len)) == 0) {
            int e = sz_msg_search_result_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    case SZ_MSG_STATUS:
        rc = sz_msg_status_decode(in, len);
        if (rc != 0 && rc != SZ_E_TRAILING)
            abort();
        break;
    case SZ_MSG_STATUS_OK: {
        sz_msg_status_ok_t m = {.peers = peers};
        if ((rc = sz_msg_status_ok_decode(&m, SZ_MSG_MAX_PEERS, in, len)) == 0) {
            int e = sz_msg_status_ok_encode(&m, buf, sizeof buf, &n);
            same(e, buf, n, in, len, 0);
        } else
            fail_ok(rc);
        break;
    }
    default:
        if (sz_msg_type_name(type) == NULL)
            abort();
        break;
    }
    return 0;
}
