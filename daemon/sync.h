/* Replication between mirrors (proto/SYNC.md): the peer table, one outbound connection per peer
 * with reconnect backoff, pulls of the peer's append log from a checkpoint (SYNC / LOG_PAGE),
 * range-based reconciliation and bulk fetch as the fallback (RECON / FETCH), live push and relay
 * of newly stored versions (PUSH), and the admin requests (PEER_*, SYNC_NOW).
 *
 * Every function runs on the loop thread unless it says otherwise. The server calls these hooks;
 * sync.c owns the peers and everything it queues, and frees them in sz_sync_free(). */
#ifndef SZ_SYNC_H
#define SZ_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "server_int.h"

/* Page bounds asked of a peer, and bytes per FETCHED answer. */
#define SZ_SYNC_PAGE_COUNT 4096
#define SZ_SYNC_PAGE_BYTES (1u << 20)
/* Per-peer bounds (SYNC.md section 6). */
#define SZ_SYNC_MAX_BATCHES 4     /* pages or fetch answers received, not yet committed */
#define SZ_SYNC_MAX_PENDING 10000 /* versions held for their parents */
#define SZ_SYNC_MAX_PENDING_BYTES (32u << 20)
#define SZ_SYNC_MAX_FETCH_QUEUE 100000 /* hashes waiting to be fetched */
#define SZ_SYNC_FETCH_INFLIGHT 2
/* Reconnect backoff: from 250 ms, doubling, to at most 30 s, with +-25 % jitter. */
#define SZ_SYNC_BACKOFF_MIN_MS 250
#define SZ_SYNC_BACKOFF_MAX_MS 30000
/* A connected peer is polled this often as a safety net for lost pushes (and a keepalive). */
#define SZ_SYNC_POLL_MS 2000
/* A sync that makes no progress (no answer, no commit) for this long is closed and retried. */
#define SZ_SYNC_STALL_MS 120000

/* Creates the peer table from the node's DIR/peers and the config's `peer` lines and starts
 * connecting to each peer. Returns 0 or -ENOMEM. */
int sz_sync_start(sz_server_t *s);
/* Stops timers and outbound connections (shutdown). */
void sz_sync_stop(sz_server_t *s);
/* Frees everything, after the loop has stopped. */
void sz_sync_free(sz_server_t *s);

/* 1 while some peer's pages or fetched versions are being received, verified or committed (the
 * full-text catch-up then takes small steps, as during submits). */
int sz_sync_busy(sz_server_t *s);

/* 1 when key (borrowed) is a peer in the table. */
int sz_sync_is_peer(sz_server_t *s, const uint8_t key[32]);

/* Outbound connection hooks (server.c). */
void sz_sync_on_ready(sz_conn_t *c, const sz_msg_hello_ok_t *ok);
void sz_sync_on_message(sz_conn_t *c, const sz_msg_t *m);
void sz_sync_on_close(sz_conn_t *c);

/* Admin requests PEER_ADD, PEER_REMOVE, PEER_LIST, SYNC_NOW from c (its key is an admin). The
 * request was counted in flight; it is answered with PEERS or ERROR and released here. */
void sz_sync_admin(sz_conn_t *c, uint8_t type, uint32_t rid, const uint8_t *p, size_t len);

/* Mirror messages on an inbound connection from a peer: PUSH (payload borrowed; counted in flight
 * and released here) and RECON (the same). */
void sz_sync_push_in(sz_conn_t *c, const uint8_t *p, size_t len);
void sz_sync_recon_in(sz_conn_t *c, uint32_t rid, const uint8_t *p, size_t len);

/* A version was newly stored (envelope borrowed); from is the peer it came from or NULL for a
 * client's SUBMIT. Queues it for PUSH to every other connected peer; sz_sync_flush sends. */
void sz_sync_stored(sz_server_t *s, const uint8_t *env, size_t len, const struct sz_peer_s *from);
void sz_sync_flush(sz_server_t *s);

/* Any thread: copies up to cap peers' status into out for STATUS_OK; addresses are copied into
 * addr (cap entries). Returns the number written. */
size_t sz_sync_status(sz_server_t *s, sz_msg_peer_t *out, char (*addr)[SZ_MSG_MAX_ADDRESS + 1],
                      size_t cap);

/* Thread pool: answers SYNC (with LOG_PAGE) or FETCH (with FETCHED) from the store. On success
 * *payload is malloc'd (the caller frees it) and *rtype the response type; else returns the error
 * to send and *why a static sentence. */
int sz_sync_answer(sz_server_t *s, uint8_t type, const uint8_t *req, size_t len, uint8_t *rtype,
                   uint8_t **payload, size_t *plen, const char **why);

#endif
