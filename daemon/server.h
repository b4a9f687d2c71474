/* samizdatd's network service: a libuv TCP listener speaking proto/WIRE.md. Each connection runs
 * the Noise_XXpsk3 responder handshake, then HELLO / HELLO_OK, then the requests of the message
 * catalogue (proto/msg.h), answered from the store.
 *
 * The loop never blocks: signature checks and reads run on libuv's thread pool, and verified
 * submits from every connection are committed together by one group-commit stage (one write
 * transaction at a time on a pool thread); each SUBMIT is acknowledged only after its commit
 * returned. Limits (connections, handshake and idle timeouts, in-flight requests and queued
 * output per connection) come from the config; a connection that breaks the protocol is closed
 * alone, with a log line saying why.
 *
 * Threads: every function here runs on the loop's thread, except sz_server_stop(), which any
 * thread (or a signal handler's libuv callback) may call. */
#ifndef SZ_SERVER_H
#define SZ_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "node.h"
#include "policy.h"
#include "store.h"

typedef struct sz_server_s sz_server_t;

/* Everything is borrowed and must outlive the server. The store should have been opened with
 * sz_policy_editor_cb and this policy as its editor callback, so amendments follow the policy. */
typedef struct sz_server_options_s {
    const sz_config_t *cfg;
    const sz_node_t *node; /* secret key, public key, network key */
    sz_store_t *store;
    const sz_policy_t *policy;
    const char *software; /* announced in HELLO_OK and STATUS_OK; NULL: "samizdatd/VERSION" */
} sz_server_options_t;

/* Creates a server on loop (borrowed). Ignores SIGPIPE for the whole process (a peer that
 * vanishes must not kill the daemon). Sets UV_THREADPOOL_SIZE (cfg->verify_threads, or the
 * number of CPUs + 1) when the environment does not already, so call it before anything in the
 * process queues work on the thread pool. Returns 0 and *out (owned by the caller, freed with
 * sz_server_free() after the loop has stopped), or -ENOMEM, or a negated libuv error. */
int sz_server_new(sz_server_t **out, uv_loop_t *loop, const sz_server_options_t *opts);

/* Binds cfg->listen (port 0 picks an ephemeral port) and starts accepting. Returns 0, SZ_E_CONFIG
 * for an address that is not a numeric IPv4 or IPv6 address, or a negated libuv error (for
 * example -EADDRINUSE). Logs event=listen. */
int sz_server_start(sz_server_t *s);

/* Returns the port the server listens on (after sz_server_start). */
uint16_t sz_server_port(const sz_server_t *s);

/* Asks for a graceful shutdown, from any thread: stop accepting, finish verifying and committing
 * submits in flight, flush their acknowledgements, close every connection, then let the loop run
 * out. uv_run() returns once everything is closed. Idempotent. */
void sz_server_stop(sz_server_t *s);

/* Frees the server (owned) once the loop has returned. NULL is ignored. */
void sz_server_free(sz_server_t *s);

/* Runs a server on a fresh loop until SIGINT or SIGTERM (handled through libuv) and a graceful
 * shutdown, logging "graceful shutdown". The store is left open for the caller to close. Returns
 * 0, or the error of sz_server_new / sz_server_start. */
int sz_server_run(const sz_server_options_t *opts);

#endif
