/* Range-based set reconciliation (Negentropy style) over sorted 32-byte version hashes: the pure
 * algorithm and its strict message codec. proto/SYNC.md section 3 is the normative description
 * of the fingerprint, the message encoding and the rules each side follows.
 *
 * Two nodes each hold a set of version hashes. One side (the initiator) calls
 * sz_recon_initiate() and sends the message it returns; from then on each side hands every
 * message it receives to sz_recon_process() and sends back what that returns, until a call
 * returns no message. Along the way each side's sz_recon_id_cb is told, id by id, which versions
 * it has that the peer lacks (SZ_RECON_HAVE) and which it lacks (SZ_RECON_NEED). The cost in
 * bytes and rounds grows with the size of the difference, not with the size of the sets.
 *
 * The local set is read through sz_recon_source_t, a pair of callbacks over [lo, hi) ranges of
 * hash values, so that the same code runs over the in-memory array here and over the store's
 * byhash database (keyed by version hash, so already sorted).
 *
 * Bounds: every message is at most opts.max_message bytes and holds at most SZ_RECON_MAX_RANGES
 * ranges; one session owns one output buffer of max_message bytes and nothing that grows with
 * the sets; a session ends with SZ_E_TOO_LARGE after opts.max_rounds incoming messages. Any
 * message that breaks the encoding rules is SZ_E_PROTOCOL and fails the session.
 *
 * Pure: no I/O, no printing, no threads. A session is used by one thread at a time. */
#ifndef SZ_RECONCILE_H
#define SZ_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#define SZ_RECON_FORMAT 1         /* first byte of every reconciliation message */
#define SZ_RECON_ID_LEN 32        /* an item: a version hash */
#define SZ_RECON_FP_LEN 16        /* a range fingerprint */
#define SZ_RECON_MAX_IDLIST 1024  /* ids in one IDLIST, and in the need list of one DIFF */
#define SZ_RECON_MAX_RANGES 32768 /* ranges in one message */
#define SZ_RECON_MIN_MESSAGE 4096
/* The largest max_message: fits in one SZ_MSG_MAX payload with room for a sync header. */
#define SZ_RECON_MAX_MESSAGE ((2u << 20) - 4096)
#define SZ_RECON_DEFAULT_MESSAGE (1u << 20)
#define SZ_RECON_DEFAULT_BRANCH 16 /* sub-ranges a mismatched range is split into */
#define SZ_RECON_MAX_BRANCH 64
#define SZ_RECON_DEFAULT_IDLIST 32   /* a side with at most this many items in a range lists them */
#define SZ_RECON_DEFAULT_ROUNDS 1024 /* incoming messages per session */

/* A range bound: a 256-bit value compared bytewise (big-endian order), or infinity. A range
 * [lo, hi) holds the ids x with lo <= x < hi. */
typedef struct sz_recon_bound_s {
    uint8_t v[32];
    uint8_t inf; /* 1: above every 32-byte value (v is then all zero) */
} sz_recon_bound_t;

/* Called for each item of a range in ascending order. Return 0 to go on, 1 to stop early (the
 * iteration then returns 0), or a negative error to abort (the iteration returns it). id is
 * borrowed for the call only. */
typedef int (*sz_recon_item_cb)(void *arg, const uint8_t id[32]);

/* The local set, read-only for the length of a session (it may grow between calls to
 * sz_recon_process: versions are never removed, and the algorithm tolerates growth). lo and hi
 * are borrowed; lo < hi always. Both return 0 or a negative error, which fails the session. */
typedef struct sz_recon_source_s {
    /* Writes the number of items in [lo, hi) to *count and their sum (SYNC.md: 256-bit
     * little-endian integers added mod 2^256; see sz_recon_sum_add) to sum. */
    int (*sum)(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi, uint64_t *count,
               uint8_t sum[32]);
    /* Calls cb for the items of [lo, hi) in ascending order (see sz_recon_item_cb). */
    int (*iterate)(void *ctx, const sz_recon_bound_t *lo, const sz_recon_bound_t *hi,
                   sz_recon_item_cb cb, void *cb_arg);
    void *ctx; /* borrowed, passed to both */
} sz_recon_source_t;

/* Adds id, read as a 256-bit little-endian integer, to sum (the same), modulo 2^256. A source
 * that has no precomputed sums implements `sum` with this over `iterate`. */
void sz_recon_sum_add(uint8_t sum[32], const uint8_t id[32]);

/* Writes the fingerprint of a range whose items sum to sum and number count: the first 16 bytes
 * of SHA-256(sum || count as u64 little-endian). */
void sz_recon_fingerprint(const uint8_t sum[32], uint64_t count, uint8_t fp[SZ_RECON_FP_LEN]);

/* ---- A source over a sorted array in memory ---- */

typedef struct sz_recon_array_s sz_recon_array_t;

/* Builds a set from n ids (borrowed; any order, duplicates allowed and dropped) into *out, which
 * the caller owns and frees with sz_recon_array_free(). Returns 0 or -ENOMEM. */
int sz_recon_array_new(sz_recon_array_t **out, const uint8_t (*ids)[32], size_t n);
void sz_recon_array_free(sz_recon_array_t *a);
/* Number of distinct ids. */
size_t sz_recon_array_count(const sz_recon_array_t *a);
/* Fills src with callbacks over a, which must outlive every session using src. */
void sz_recon_array_source(sz_recon_array_t *a, sz_recon_source_t *src);

/* ---- Sessions ---- */

#define SZ_RECON_HAVE 1 /* the local side holds id and the peer does not */
#define SZ_RECON_NEED 2 /* the peer holds id and the local side does not */

/* Told each difference as it is settled. id is borrowed for the call. Return 0, or a negative
 * error to fail the session (sz_recon_process then returns it). An id is reported once per
 * session unless a message overflowed (stats.overflows > 0): ranges beyond the overflow point
 * are reconciled again and may report an id a second time, so consumers must be idempotent. An
 * id reported as NEED may also have arrived locally meanwhile. */
typedef int (*sz_recon_id_cb)(void *arg, int kind, const uint8_t id[32]);

typedef struct sz_recon_options_s {
    size_t max_message;   /* bytes per outgoing message and accepted incoming one;
                             0 = SZ_RECON_DEFAULT_MESSAGE; else MIN..MAX_MESSAGE */
    unsigned branch;      /* 0 = SZ_RECON_DEFAULT_BRANCH; else 2..SZ_RECON_MAX_BRANCH */
    unsigned idlist;      /* 0 = SZ_RECON_DEFAULT_IDLIST; else 1..SZ_RECON_MAX_IDLIST */
    unsigned max_rounds;  /* 0 = SZ_RECON_DEFAULT_ROUNDS */
    sz_recon_id_cb on_id; /* may be NULL (then differences are only counted) */
    void *arg;
} sz_recon_options_t;

typedef struct sz_recon_stats_s {
    uint64_t messages_in, messages_out;
    uint64_t bytes_in, bytes_out;
    uint64_t ranges_in, ranges_out;
    uint64_t have, need; /* ids reported to on_id */
    uint64_t overflows;  /* outgoing messages cut short by max_message or SZ_RECON_MAX_RANGES */
} sz_recon_stats_t;

typedef struct sz_recon_s sz_recon_t;

/* Creates a session over src (copied; its ctx must outlive the session). opts may be NULL for
 * defaults. Returns 0 with *out owned by the caller (free with sz_recon_free), SZ_E_ARGUMENT for
 * options out of bounds, or -ENOMEM. */
int sz_recon_new(sz_recon_t **out, const sz_recon_source_t *src, const sz_recon_options_t *opts);
void sz_recon_free(sz_recon_t *r);

/* Starts the session as the initiator: *out and *out_len get the first message, which belongs
 * to the session and stays valid until the next call on it. Valid only as the first call.
 * Returns 0, SZ_E_STATE, or a source error. */
int sz_recon_initiate(sz_recon_t *r, const uint8_t **out, size_t *out_len);

/* Processes one message from the peer (in, borrowed). On success *out and *out_len get the reply
 * (owned by the session, valid until the next call); *out_len is 0 when nothing is to be sent,
 * which happens exactly when the peer's message asked for no answer. *done (may be NULL) is set
 * to 1 once this side expects no further message: after sending the reply, if any, the session
 * is over for this side.
 *
 * Returns 0; SZ_E_PROTOCOL for a message that breaks SYNC.md section 3 (the session fails and
 * the peer should be disconnected); SZ_E_TOO_LARGE for a message longer than max_message or a
 * session beyond max_rounds; SZ_E_STATE when called after the session is done or has failed;
 * or an error from the source or on_id. After any error the session is failed. The whole
 * message is checked before on_id is called for any of it. */
int sz_recon_process(sz_recon_t *r, const uint8_t *in, size_t len, const uint8_t **out,
                     size_t *out_len, int *done);

/* 1 once the session is over for this side, else 0. */
int sz_recon_done(const sz_recon_t *r);

void sz_recon_get_stats(const sz_recon_t *r, sz_recon_stats_t *st);

/* Checks that msg (borrowed) is a well-formed reconciliation message of at most max_len bytes
 * (0 = SZ_RECON_MAX_MESSAGE; it also bounds IDLIST lengths, SYNC.md 3.3), without a session. Writes
 * the number of ranges to *nranges (may be NULL) and whether the message asks for an answer to
 * *needs_reply (may be NULL). Returns 0, SZ_E_PROTOCOL or SZ_E_TOO_LARGE. */
int sz_recon_check(const uint8_t *msg, size_t len, size_t max_len, size_t *nranges,
                   int *needs_reply);

#endif
