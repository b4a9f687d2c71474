/* The server side of the audit (proto/SYNC.md section 8): AUDIT_HEAD answered with a signed tree
 * head and a consistency proof, AUDIT_PROVE answered with possession proofs for a fresh nonce.
 *
 * The possession digest of a version is SHA-256(nonce || envelope), over the exact stored
 * envelope bytes (sz_audit_digest). A node can only produce it by reading the envelope after the
 * auditor chose the nonce, so the answer proves it still holds those bytes now.
 *
 * Everything here is synchronous and reads the store only: call it from a thread-pool job (the
 * daemon's handlers.c does). It never writes to the store and keeps no state between calls. */
#ifndef SZ_AUDIT_H
#define SZ_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Writes SHA-256(nonce || envelope) to out. envelope (borrowed) may be NULL when len is 0. */
void sz_audit_digest(uint8_t out[static 32], const uint8_t nonce[static 32],
                     const uint8_t *envelope, size_t len);

/* One answer: a message type and its payload. */
typedef struct sz_audit_reply_s {
    uint8_t type;     /* SZ_MSG_AUDIT_HEAD_OK or SZ_MSG_AUDIT_PROOF */
    uint8_t *payload; /* malloc'd, owned by the caller (free()) */
    size_t len;
} sz_audit_reply_t;

/* Answers one audit request of message type (SZ_MSG_AUDIT_HEAD or SZ_MSG_AUDIT_PROVE) whose
 * payload req (borrowed, len bytes) came from the network, from store st (borrowed). The tree head
 * is signed with node_sk (borrowed Ed25519 secret key, public key in its second half; never
 * copied) and stamped with now_ms (milliseconds since the epoch).
 *
 * On success returns 0 and fills *out (its payload owned by the caller). On failure returns a
 * negative code to send back as ERROR and sets *why to a static sentence for people:
 * SZ_E_MALFORMED (the payload does not decode), SZ_E_ARGUMENT (AUDIT_HEAD's from size is beyond
 * this node's log), SZ_E_PROTOCOL (another type), -ENOMEM, or a store or signing error. Items of
 * AUDIT_PROVE that cannot be proved are not errors: each gets its status (SZ_PROVE_*). */
int sz_audit_answer(sz_store_t *st, const uint8_t node_sk[static 64], uint64_t now_ms, uint8_t type,
                    const uint8_t *req, size_t len, sz_audit_reply_t *out, const char **why);

#endif
