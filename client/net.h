/* The client side of a samizdat connection (proto/WIRE.md): a blocking TCP connection with
 * deadlines, the Noise_XXpsk3 initiator handshake with node-key pinning, HELLO negotiation, and
 * messages with request ids that may be pipelined.
 *
 * One sz_net_t is one connection, used from one thread. Sending only queues: a message is sealed
 * (fragmented, encrypted, framed) into an outgoing buffer at once, and the bytes go out whenever
 * the connection waits for anything, so a caller can queue many requests and then collect the
 * replies in any order without deadlocking against a node that applies backpressure.
 *
 * Every function that can fail writes one sentence for people into the connection's error text
 * (sz_net_error()); no function here prints. */
#ifndef SZ_NET_H
#define SZ_NET_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"

#define SZ_NET_DEFAULT_TIMEOUT_MS 10000
#define SZ_NET_ERROR_MAX 512
#define SZ_NET_SOFTWARE "samizdat/0.1.0" /* announced in HELLO */

typedef struct sz_net_s sz_net_t;

/* Where and how to connect. Every pointer is borrowed for the duration of sz_net_connect. */
typedef struct sz_net_params_s {
    const char *host;           /* name or address; IPv6 literals without brackets */
    const char *port;           /* decimal port */
    const uint8_t *network_key; /* 32 bytes, secret: the archive's network key (the Noise psk) */
    const uint8_t *node_key;    /* 32-byte Ed25519 key to pin, or NULL to accept any node */
    const uint8_t *secret_key;  /* 64-byte Ed25519 secret key: our identity */
    int timeout_ms;             /* for connect + handshake + HELLO, and then for each wait;
                                   0 means SZ_NET_DEFAULT_TIMEOUT_MS */
} sz_net_params_t;

/* Connects, runs the handshake, checks the node's identity against params->node_key (when given)
 * before sending anything of ours, and negotiates the message protocol version. On success
 * returns 0 and *out (owned by the caller; sz_net_close). On failure returns a negative code
 * (SZ_E_TIMEOUT, SZ_E_HANDSHAKE, SZ_E_KEY for a node key mismatch, SZ_E_UPGRADE, SZ_E_PROTOCOL,
 * SZ_E_DECRYPT, negative errno) and writes why, one line, into why (borrowed, cap bytes). */
int sz_net_connect(sz_net_t **out, const sz_net_params_t *params, char *why, size_t cap);

/* The node's authenticated Ed25519 key (32 bytes, borrowed from c). */
const uint8_t *sz_net_node_key(const sz_net_t *c);

/* What the node announced in HELLO_OK: its software name (borrowed from c) and how many
 * requests it works on at once for this connection (>= 1). */
const char *sz_net_software(const sz_net_t *c);
unsigned sz_net_max_inflight(const sz_net_t *c);

/* The one-line reason for the last failure on c (borrowed from c; "" if none). */
const char *sz_net_error(const sz_net_t *c);

/* Returns a fresh request id (never 0). */
uint32_t sz_net_next_id(sz_net_t *c);

/* Seals a message (payload borrowed, len <= SZ_MSG_MAX) into the outgoing buffer. Nothing is
 * written to the socket yet. Returns 0, SZ_E_TOO_LARGE, SZ_E_NONCE/SZ_E_STATE (the connection is
 * unusable) or -ENOMEM. */
int sz_net_queue(sz_net_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                 size_t len);

/* Bytes queued and not yet written. */
size_t sz_net_pending(const sz_net_t *c);

/* Writes queued bytes until none are left, reading (and buffering, undecrypted) whatever the node
 * sends meanwhile. Returns 0, SZ_E_TIMEOUT when no progress was possible for the timeout, or the
 * error that closed the connection. */
int sz_net_flush(sz_net_t *c);

/* Waits for the next complete message, writing queued bytes meanwhile. The message's payload is
 * borrowed from c and valid until the next call on c. Returns 0; SZ_E_TIMEOUT; -ECONNRESET when the
 * node closed the connection; SZ_E_PROTOCOL, SZ_E_TOO_LARGE, SZ_E_DECRYPT for a bad stream. */
int sz_net_recv(sz_net_t *c, sz_msg_t *msg);

/* One request and its answer: queues the request with a new id, then waits for the message with
 * the same id (messages for other ids are a protocol error here, since nothing else is in flight).
 * An ERROR reply is decoded: the return value is then its code and sz_net_error() holds its text.
 * Otherwise returns 0 with *reply borrowed as for sz_net_recv, or the errors above. */
int sz_net_call(sz_net_t *c, uint8_t type, const uint8_t *payload, size_t len, sz_msg_t *reply);

/* Decodes an ERROR message into c's error text and returns its code (a negative number), or
 * SZ_E_PROTOCOL if it does not decode. */
int sz_net_take_error(sz_net_t *c, const sz_msg_t *msg);

/* Sets the timeout for later waits (milliseconds, > 0). */
void sz_net_set_timeout(sz_net_t *c, int timeout_ms);

/* The socket, for tests that want to misbehave on purpose. */
int sz_net_fd(const sz_net_t *c);

/* Closes the connection and frees c (owned), wiping its keys. NULL is ignored. */
void sz_net_close(sz_net_t *c);

#endif
