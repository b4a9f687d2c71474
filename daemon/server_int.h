/* Internals shared by server.c (listener, connections, handshake, dispatch), ingest.c (verify and
 * group commit of SUBMIT) and handlers.c (read requests). Not a public contract.
 *
 * Every function here runs on the loop thread unless its name ends in _work (thread pool). */
#ifndef SZ_SERVER_INT_H
#define SZ_SERVER_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "frame.h"
#include "msg.h"
#include "server.h"

typedef struct sz_conn_s sz_conn_t;
typedef struct sz_submit_job_s sz_submit_job_t;

enum sz_conn_state_e {
    SZ_CONN_HS1 = 1, /* waiting for handshake message 1 */
    SZ_CONN_HS3,     /* sent message 2, waiting for message 3 */
    SZ_CONN_HELLO,   /* session keys ready, waiting for HELLO */
    SZ_CONN_READY,   /* HELLO_OK sent: requests accepted */
    SZ_CONN_CLOSING, /* closed or closing: nothing more is read or sent */
    /* Outbound (initiator) connections to peers, sync.c: */
    SZ_CONN_OUT_CONNECT,  /* TCP connect in progress */
    SZ_CONN_OUT_HS2,      /* sent message 1, waiting for message 2 */
    SZ_CONN_OUT_HELLO_OK, /* sent message 3 and HELLO, waiting for HELLO_OK */
};

struct sz_peer_s;
struct sz_sync_s;
struct sz_recon_s;

/* Handshakes (connections before HELLO_OK) one peer address may have in progress at once. */
#define SZ_HANDSHAKES_PER_ADDRESS 64

struct sz_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer; /* handshake timeout, then idle timeout */
    sz_server_t *srv;
    sz_conn_t *prev, *next; /* the server's list of open connections */
    int state;
    int refs;    /* two handles until their close callbacks ran, plus one per job in flight */
    int reading; /* uv_read_start is active */
    int paused;  /* reading stopped by the in-flight or output limit */
    int close_when_drained;
    int corked;               /* sz_conn_cork depth: replies collect in cork_buf */
    void *cork_buf;           /* one pending write of several sealed messages */
    sz_noise_t *hs;           /* only while handshaking */
    sz_cipher_t *send, *recv; /* after the handshake */
    sz_frame_decoder_t dec;   /* buffers only a frame split across reads */
    sz_msg_assembler_t asm_;  /* buffers only a message split across frames */
    uint8_t peer_key[32];     /* the peer's Ed25519 identity, after message 3 */
    unsigned inflight;        /* requests accepted and not yet answered */
    size_t held;              /* request payload bytes copied into jobs not yet answered */
    unsigned reads_running;   /* read jobs on the thread pool */
    struct sz_read_job_s *read_head, *read_tail; /* read jobs waiting for their turn */
    size_t queued;                               /* bytes handed to uv_write and not yet written */
    sz_submit_job_t *sub_head, *sub_tail;        /* SUBMITs of this connection in arrival order */
    char addr[64];                               /* peer address text for logs */
    uint8_t ip[16];                              /* peer IP, IPv4 mapped into IPv6 */
    uint8_t role;                 /* inbound: the HELLO role; outbound: SZ_ROLE_MIRROR */
    int outbound;                 /* 1: this node initiated it to reach a peer (sync.c) */
    struct sz_peer_s *peer;       /* outbound: its peer (sync.c); inbound mirror: NULL */
    struct sz_recon_s *recon;     /* inbound mirror: the reconciliation session answering RECON */
    int recon_busy;               /* a RECON of this connection is being processed */
    int drain_listed;             /* on the list of connections with newly verified submits */
    struct sz_conn_s *drain_next; /* that list (ingest.c), NULL when not on it */
    uv_connect_t connect_req;     /* outbound: the TCP connect */
};

struct sz_server_s {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_async_t stop_async;
    int listening;
    int stopping;
    int finished; /* the final handles were closed */
    const sz_config_t *cfg;
    const sz_node_t *node;
    sz_store_t *store;
    const sz_policy_t *policy;
    char software[SZ_MSG_MAX_SOFTWARE + 1];
    uint16_t port;
    sz_conn_t *conns; /* open connections */
    size_t nconns;
    uint8_t *rbuf;       /* shared read buffer: the loop consumes each read before the next */
    uint8_t *plain;      /* shared decryption buffer, SZ_NOISE_MAX_PLAINTEXT bytes */
    size_t pending_work; /* uv_work requests queued and not yet completed */
    uint64_t held_total; /* request payload bytes in progress, all connections */
    /* Verification (ingest.c). Under verify_lock: the jobs waiting for a worker, the verified
     * jobs not yet seen by the loop, and the workers still taking jobs. The rest is the loop's. */
    uv_mutex_t verify_lock;
    sz_submit_job_t *verify_head, *verify_tail;
    size_t verify_pending;
    sz_submit_job_t *vdone_head, *vdone_tail;
    unsigned verify_active;
    uv_async_t verify_async;   /* a worker finished jobs: the loop moves them on */
    size_t verify_outstanding; /* submits taken and not yet verified, as the loop knows */
    unsigned verify_workers;   /* worker pool jobs not yet completed */
    unsigned max_verify_workers;
    uint64_t fts_last_ms;    /* loop time the last full-text catch-up finished */
    uint64_t last_submit_ms; /* loop time the last SUBMIT arrived */
    uv_timer_t fts_timer;    /* brings a deferred catch-up back */
    /* Group commit (ingest.c). */
    sz_submit_job_t *commit_head, *commit_tail;
    size_t commit_queued;
    int committing;
    int fts_running, fts_dirty;
    uint64_t accepted, refused_full; /* counters for logs */
    struct sz_sync_s *sync;          /* replication (sync.c), NULL when not started */
};

/* ---- server.c ---- */

/* Seals one message to c and queues it for writing. Does nothing on a closing connection.
 * Returns 0 or an error (the connection is then closed). */
int sz_conn_send(sz_conn_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                 size_t len);

/* While corked (nestable), sz_conn_send appends sealed messages to one buffer; the last uncork
 * writes them with one uv_write, so a batch of acknowledgements costs one system call. */
void sz_conn_cork(sz_conn_t *c);
void sz_conn_uncork(sz_conn_t *c);

/* Sends ERROR with code and text (a C string, sanitised) for request_id. */
int sz_conn_send_error(sz_conn_t *c, uint32_t request_id, int code, const char *text);

/* Closes c with a log line naming reason (static text) and err. Idempotent. */
void sz_conn_close(sz_conn_t *c, const char *reason, int err);

/* A request of c whose payload held bytes finished: drops its in-flight count, held bytes and
 * reference, resumes reading when below the limits, and lets a pending shutdown proceed. */
void sz_conn_request_done(sz_conn_t *c, size_t held);

/* Drops a reference taken for a job; frees c when it is closed and unreferenced. */
void sz_conn_unref(sz_conn_t *c);

/* Lets a stopping server close connections and finish when no work is left. */
void sz_server_check_finish(sz_server_t *s);

/* Opens an outbound connection to addr (borrowed) for peer (borrowed, sync.c), whose Ed25519 key
 * must be expected_key: TCP connect, the Noise initiator handshake, HELLO with role mirror. When
 * HELLO_OK arrives, sz_sync_on_ready() is called; every later message goes to
 * sz_sync_on_message(); the close goes to sz_sync_on_close(). Returns 0 and *out (the connection
 * belongs to the server's list; the peer borrows it until on_close), or an error (nothing to free).
 */
int sz_conn_connect(sz_server_t *s, const struct sockaddr *addr, const uint8_t expected_key[32],
                    struct sz_peer_s *peer, sz_conn_t **out);

/* ---- ingest.c ---- */

/* Takes a SUBMIT request (payload borrowed, copied). Always answers it eventually. Verification
 * starts at the next sz_ingest_flush(), so the submits of one read are spread over the workers. */
void sz_ingest_submit(sz_conn_t *c, uint32_t request_id, const uint8_t *payload, size_t len);

/* Starts verification workers for what is queued (at most max_verify_workers at once). */
void sz_ingest_flush(sz_server_t *s);

/* The verification queue's lock and wake-up handle: init with the server, close the handle when
 * the server finishes, free with the server. */
int sz_ingest_init(sz_server_t *s);
void sz_ingest_close(sz_server_t *s);
void sz_ingest_free(sz_server_t *s);

/* Marks the full-text index stale and schedules its catch-up (after a replicated commit). */
void sz_ingest_fts_kick(sz_server_t *s);

/* True while submits are being verified or committed. */
int sz_ingest_busy(const sz_server_t *s);

/* Each version a commit stored newly (not SZ_PUT_EXISTED) is offered to sync.c for live push. */

/* ---- handlers.c ---- */

/* Takes a read request (GET, HISTORY, LIST, SEARCH, STATUS; payload borrowed, copied) and answers
 * it from the thread pool. At most SZ_READS_PER_CONN run at once per connection, and none starts
 * while the connection's output queue is over its limit, so a peer that pipelines big reads and
 * does not read the answers holds a bounded amount of memory. */
#define SZ_READS_PER_CONN 4
void sz_handlers_request(sz_conn_t *c, uint8_t type, uint32_t request_id, const uint8_t *payload,
                         size_t len);

/* Starts waiting read jobs of c as the limits allow (called when output drains). */
void sz_handlers_pump(sz_conn_t *c);

#endif
