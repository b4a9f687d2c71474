/* The message catalogue of the samizdat node service: what the payload of each message type
 * holds, and a strict codec for each. proto/WIRE.md section 8 is the normative description;
 * frames, fragments, HELLO's version list and ERROR live in frame.h.
 *
 * Encoding: fixed layouts of big-endian integers, 32-byte keys and hashes, and length-prefixed
 * strings and blobs ("str8" = u8 length then bytes, "str16" = u16 length, "blob32" = u32 length).
 * Every length has a bound below. Decoders are strict: a payload that ends early is
 * SZ_E_TRUNCATED, bytes after the last field are SZ_E_TRAILING (HELLO and HELLO_OK excepted: their
 * tails are reserved for later protocol versions), and an out-of-bound length or count, an
 * unknown enum value or flag, or a string with bytes below 0x20 or 0x7F is SZ_E_MALFORMED.
 *
 * Memory: decoders never allocate. Decoded structs borrow byte fields (envelopes, titles,
 * cursors, queries) from the input buffer, which must outlive them; small strings that are used
 * as C strings (software names, cursors, hex ids) are copied NUL-terminated into fixed arrays.
 * Encoders write into a caller buffer: every sz_msg_*_encode(m, out, cap, &len) accepts out = NULL
 * to ask for the size (it then sets *len and returns 0), and returns SZ_E_ARGUMENT when cap is too
 * small or m breaks a bound. Pure: no I/O, no printing. */
#ifndef SZ_MSG_H
#define SZ_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "merkle.h"

/* ---- Message types (WIRE.md section 8). 1 and 2 are HELLO and ERROR, from frame.h. ---- */
#define SZ_MSG_HELLO_OK 3       /* responder -> initiator, request id 0 */
#define SZ_MSG_SUBMIT 4         /* request: one record envelope */
#define SZ_MSG_SUBMITTED 5      /* response to SUBMIT */
#define SZ_MSG_GET 6            /* request: a record (and optionally one version) */
#define SZ_MSG_RECORD 7         /* response to GET */
#define SZ_MSG_HISTORY 8        /* request: every version of a record */
#define SZ_MSG_VERSION 9        /* stream item answering HISTORY */
#define SZ_MSG_END 10           /* ends a stream */
#define SZ_MSG_LIST 11          /* request: an index query */
#define SZ_MSG_LIST_PAGE 12     /* response to LIST */
#define SZ_MSG_SEARCH 13        /* request: a full-text query */
#define SZ_MSG_SEARCH_RESULT 14 /* response to SEARCH */
#define SZ_MSG_STATUS 15        /* request: node status (empty payload) */
#define SZ_MSG_STATUS_OK 16     /* response to STATUS */
/* 17..31: replication and audit (proto/SYNC.md section 9). PEER_* and SYNC_NOW are admin
 * requests from a client whose key is an admin of the node; SYNC, RECON, FETCH and PUSH are mirror
 * requests (HELLO role SZ_ROLE_MIRROR from a known peer key); AUDIT_* are served to mirrors and to
 * admin clients. 32..255 are unassigned: a node answers them with ERROR SZ_E_PROTOCOL. */
#define SZ_MSG_PEER_ADD 17      /* admin request: add a peer by invite -> PEERS */
#define SZ_MSG_PEER_REMOVE 18   /* admin request: remove a peer by key -> PEERS */
#define SZ_MSG_PEER_LIST 19     /* admin request: the peer table -> PEERS */
#define SZ_MSG_PEERS 20         /* response: the peer table */
#define SZ_MSG_SYNC_NOW 21      /* admin request: sync with one or every peer now -> PEERS */
#define SZ_MSG_SYNC 22          /* mirror request: log entries from a seq -> LOG_PAGE */
#define SZ_MSG_LOG_PAGE 23      /* response to SYNC */
#define SZ_MSG_RECON 24         /* mirror request and its response: one reconciliation message */
#define SZ_MSG_FETCH 25         /* mirror request: versions by hash -> FETCHED */
#define SZ_MSG_FETCHED 26       /* response to FETCH */
#define SZ_MSG_PUSH 27          /* mirror, one-way (request id 0): newly stored versions */
#define SZ_MSG_AUDIT_HEAD 28    /* request: signed tree head and consistency proof */
#define SZ_MSG_AUDIT_HEAD_OK 29 /* response to AUDIT_HEAD */
#define SZ_MSG_AUDIT_PROVE 30   /* request: possession challenge with a fresh nonce */
#define SZ_MSG_AUDIT_PROOF 31   /* response to AUDIT_PROVE */
#define SZ_MSG_LAST_TYPE 31

/* Bounds. */
#define SZ_MSG_MAX_SOFTWARE 64 /* software name, printable ASCII */
#define SZ_MSG_MAX_HEX 64      /* hex digits of an id or version prefix */
#define SZ_MSG_MAX_HEADS 256   /* conflicting heads listed in RECORD */
#define SZ_MSG_MAX_FIELD 64    /* LIST filter field name */
#define SZ_MSG_MAX_VALUE 256   /* LIST filter value */
#define SZ_MSG_MAX_CURSOR 96   /* LIST cursor token (SZ_CURSOR_TOKEN_LEN) */
#define SZ_MSG_MAX_FILTERS 8   /* LIST filters (SZ_QUERY_MAX_FILTERS) */
#define SZ_MSG_MAX_LIST 1000   /* LIST limit and LIST_PAGE entries (SZ_QUERY_MAX_LIMIT) */
#define SZ_MSG_MAX_TITLE 256   /* bytes of title per LIST_PAGE entry (UTF-8, may be cut) */
#define SZ_MSG_MAX_QUERY 1024  /* SEARCH query text (SZ_FTS_MAX_QUERY) */
#define SZ_MSG_MAX_HITS 1000   /* SEARCH limit and SEARCH_RESULT entries */
#define SZ_MSG_MAX_PEERS 1024  /* STATUS_OK peers */
#define SZ_MSG_MAX_SEAL_TO 16  /* STATUS_OK default recipients of sealed records */
#define SZ_MSG_MAX_ADDRESS 255 /* peer address text */
#define SZ_MSG_MAX_INVITE 1024 /* PEER_ADD invite text (>= SZ_INVITE_MAX) */
#define SZ_MSG_MAX_PAGE 4096   /* LOG_PAGE entries */
#define SZ_MSG_MAX_FETCH 1024  /* FETCH hashes and FETCHED items */
#define SZ_MSG_MAX_PUSH 1024   /* PUSH envelopes */
#define SZ_MSG_MAX_PROVE 64    /* AUDIT_PROVE items */
#define SZ_MSG_MAX_RECON ((2u << 20) - 4096) /* RECON payload (= SZ_RECON_MAX_MESSAGE) */

/* HELLO roles. */
#define SZ_ROLE_CLIENT 1
#define SZ_ROLE_MIRROR 2

/* SUBMITTED flags (the same bits as the store's SZ_PUT_*). */
#define SZ_SUBMIT_EXISTED 0x01u    /* the version was already stored */
#define SZ_SUBMIT_CURRENT 0x02u    /* it is now the current version of its record */
#define SZ_SUBMIT_NEW_RECORD 0x04u /* it is the first version of a record new to the node */
#define SZ_SUBMIT_CONFLICT 0x08u   /* the record now has more than one head */
#define SZ_SUBMIT_FLAGS_KNOWN 0x0Fu

/* LIST order. */
#define SZ_LIST_OLDEST_FIRST 0
#define SZ_LIST_NEWEST_FIRST 1

/* ---- HELLO (type 1): count u8, versions u16..., role u8, software str8, [reserved] ---- */
typedef struct sz_msg_hello_s {
    sz_hello_t versions;                    /* what the initiator speaks (frame.h rules) */
    uint8_t role;                           /* SZ_ROLE_* */
    char software[SZ_MSG_MAX_SOFTWARE + 1]; /* e.g. "samizdat/0.1", NUL-terminated */
} sz_msg_hello_t;
int sz_msg_hello_encode(const sz_msg_hello_t *m, uint8_t *out, size_t cap, size_t *out_len);
/* Bytes after the software name are ignored (reserved for later versions). */
int sz_msg_hello_decode(sz_msg_hello_t *m, const uint8_t *in, size_t len);

/* ---- HELLO_OK (type 3): version u16, node key [32], software str8, max_message u32,
 *      max_inflight u16, [reserved] ---- */
typedef struct sz_msg_hello_ok_s {
    uint16_t version;     /* the chosen message protocol version */
    uint8_t node_key[32]; /* the node's Ed25519 key (also proved by the handshake) */
    char software[SZ_MSG_MAX_SOFTWARE + 1];
    uint32_t max_message;  /* largest request payload the node accepts, <= SZ_MSG_MAX */
    uint16_t max_inflight; /* requests the node works on at once per connection, >= 1 */
} sz_msg_hello_ok_t;
int sz_msg_hello_ok_encode(const sz_msg_hello_ok_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_hello_ok_decode(sz_msg_hello_ok_t *m, const uint8_t *in, size_t len);

/* ---- ERROR (type 2): see frame.h (sz_error_msg_*). This helper builds one for people: it copies
 * text (a C string, borrowed) into buf (SZ_ERROR_MAX_TEXT bytes), cut at the bound on a UTF-8
 * boundary with every control byte replaced by '?', and fills e to point at it. code must be
 * negative and not SZ_E_UPGRADE (which needs the version list; fill that by hand). ---- */
void sz_msg_error_make(sz_error_msg_t *e, int code, const char *text,
                       char buf[static SZ_ERROR_MAX_TEXT]);

/* ---- SUBMIT (type 4): the payload is exactly one record envelope (RECORD.md), at most
 * SZ_RECORD_MAX_LEN bytes; the record codec judges its contents. ---- */
typedef struct sz_msg_submit_s {
    const uint8_t *envelope; /* borrowed */
    size_t len;
} sz_msg_submit_t;
int sz_msg_submit_encode(const sz_msg_submit_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_submit_decode(sz_msg_submit_t *m, const uint8_t *in, size_t len);

/* ---- SUBMITTED (type 5): version hash [32], record id [32], seq u64, flags u8 ---- */
typedef struct sz_msg_submitted_s {
    uint8_t version_hash[32];
    uint8_t record_id[32];
    uint64_t seq;  /* position in the node's append log */
    uint8_t flags; /* SZ_SUBMIT_* */
} sz_msg_submitted_t;
#define SZ_MSG_SUBMITTED_LEN 73
int sz_msg_submitted_encode(const sz_msg_submitted_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_submitted_decode(sz_msg_submitted_t *m, const uint8_t *in, size_t len);

/* ---- GET (type 6): id str8 (1..64 hex digits: a record id or unique prefix), version str8
 * (0..64 hex digits: empty for the current version, else a version hash or unique prefix of a
 * version of that record). HISTORY (type 8): id str8 only. Hex digits in either case. ---- */
typedef struct sz_msg_get_s {
    char id[SZ_MSG_MAX_HEX + 1];      /* NUL-terminated hex */
    char version[SZ_MSG_MAX_HEX + 1]; /* NUL-terminated hex; "" = current */
} sz_msg_get_t;
int sz_msg_get_encode(const sz_msg_get_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_get_decode(sz_msg_get_t *m, const uint8_t *in, size_t len);

typedef struct sz_msg_history_s {
    char id[SZ_MSG_MAX_HEX + 1];
} sz_msg_history_t;
int sz_msg_history_encode(const sz_msg_history_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_history_decode(sz_msg_history_t *m, const uint8_t *in, size_t len);

/* ---- RECORD (type 7): record id [32], current [32], generation u32, first created u64,
 * nversions u32, nheads u16 (1..256), heads [32]*nheads, version hash [32] (the version whose
 * envelope follows: the current one unless GET named another), envelope blob32. ---- */
typedef struct sz_msg_record_s {
    uint8_t record_id[32];
    uint8_t current[32];
    uint32_t generation;    /* of the current version */
    uint64_t first_created; /* ms since the epoch */
    uint32_t nversions;
    uint16_t nheads;      /* 1, or more when in conflict (current first) */
    const uint8_t *heads; /* nheads * 32 bytes, borrowed */
    uint8_t version_hash[32];
    const uint8_t *envelope; /* borrowed */
    size_t envelope_len;     /* 1..SZ_RECORD_MAX_LEN */
} sz_msg_record_t;
int sz_msg_record_encode(const sz_msg_record_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_record_decode(sz_msg_record_t *m, const uint8_t *in, size_t len);

/* ---- VERSION (type 9), one per version in append (topological) order, all with the HISTORY's
 * request id: seq u64, version hash [32], generation u32, envelope blob32. ---- */
typedef struct sz_msg_version_s {
    uint64_t seq;
    uint8_t version_hash[32];
    uint32_t generation;
    const uint8_t *envelope; /* borrowed */
    size_t envelope_len;
} sz_msg_version_t;
int sz_msg_version_encode(const sz_msg_version_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_version_decode(sz_msg_version_t *m, const uint8_t *in, size_t len);

/* ---- END (type 10): count u32, the number of stream items sent before it. ---- */
typedef struct sz_msg_end_s {
    uint32_t count;
} sz_msg_end_t;
int sz_msg_end_encode(const sz_msg_end_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_end_decode(sz_msg_end_t *m, const uint8_t *in, size_t len);

/* ---- LIST (type 11): kind u8 (0 = any, else sz_kind_t), order u8 (SZ_LIST_*), limit u16
 * (1..1000), cursor str8 (0..96, empty for the first page), nfilters u8 (0..8), then per filter:
 * field str8 (1..64), value str16 (1..256). Filter fields are those of daemon/index.h. ---- */
typedef struct sz_msg_filter_s {
    char field[SZ_MSG_MAX_FIELD + 1];
    char value[SZ_MSG_MAX_VALUE + 1];
} sz_msg_filter_t;
typedef struct sz_msg_list_s {
    uint8_t kind;
    uint8_t order;
    uint16_t limit;
    char cursor[SZ_MSG_MAX_CURSOR + 1];
    uint8_t nfilters;
    sz_msg_filter_t filters[SZ_MSG_MAX_FILTERS];
} sz_msg_list_t;
int sz_msg_list_encode(const sz_msg_list_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_list_decode(sz_msg_list_t *m, const uint8_t *in, size_t len);

/* ---- LIST_PAGE (type 12): count u16 (0..1000), per entry: record id [32], kind u8, first
 * created u64, current [32], title str16 (0..256 bytes of UTF-8; empty when the record has none
 * or is sealed), then next cursor str8 (0..96; empty on the last page). ---- */
typedef struct sz_msg_list_entry_s {
    uint8_t record_id[32];
    uint8_t kind;
    uint64_t created;
    uint8_t current[32];
    const uint8_t *title; /* borrowed UTF-8, not NUL-terminated */
    uint16_t title_len;
} sz_msg_list_entry_t;
typedef struct sz_msg_list_page_s {
    uint16_t count;
    sz_msg_list_entry_t *entries; /* encode: count entries, borrowed. decode: see below */
    char next_cursor[SZ_MSG_MAX_CURSOR + 1];
} sz_msg_list_page_t;
int sz_msg_list_page_encode(const sz_msg_list_page_t *m, uint8_t *out, size_t cap, size_t *out_len);
/* Decodes into m; m->entries must point at a caller array of cap_entries entries (at most
 * SZ_MSG_MAX_LIST are ever needed); more entries than that is SZ_E_TOO_LARGE. */
int sz_msg_list_page_decode(sz_msg_list_page_t *m, size_t cap_entries, const uint8_t *in,
                            size_t len);

/* ---- SEARCH (type 13): limit u16 (1..1000), query str16 (1..1024, fts.h syntax). ---- */
typedef struct sz_msg_search_s {
    uint16_t limit;
    char query[SZ_MSG_MAX_QUERY + 1];
} sz_msg_search_t;
int sz_msg_search_encode(const sz_msg_search_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_search_decode(sz_msg_search_t *m, const uint8_t *in, size_t len);

/* ---- SEARCH_RESULT (type 14): count u16 (0..1000), per hit: record id [32], score (IEEE 754
 * binary64 as u64, finite). Best first. ---- */
typedef struct sz_msg_hit_s {
    uint8_t record_id[32];
    double score;
} sz_msg_hit_t;
typedef struct sz_msg_search_result_s {
    uint16_t count;
    sz_msg_hit_t *hits; /* encode: borrowed; decode: caller array of cap_hits entries */
} sz_msg_search_result_t;
int sz_msg_search_result_encode(const sz_msg_search_result_t *m, uint8_t *out, size_t cap,
                                size_t *out_len);
int sz_msg_search_result_decode(sz_msg_search_result_t *m, size_t cap_hits, const uint8_t *in,
                                size_t len);

/* ---- STATUS (type 15): empty payload. ---- */
int sz_msg_status_decode(const uint8_t *in, size_t len);

/* ---- STATUS_OK (type 16): node key [32], software str8, protocol version u16, records u64,
 * versions u64, fts lag u64 (log entries not yet searchable), tree head (SZ_TREE_HEAD_LEN bytes,
 * merkle.h encoding, signed with the node key), npeers u16 (0..1024), per peer: key [32],
 * address str8 (1..255), connected u8 (0 or 1), last seen u64 (ms since the epoch, 0 = never),
 * lag u64 (entries of the peer's log not yet taken in: its last known log size minus our
 * checkpoint), checkpoint u64 (entries of the peer's log taken in); then set count u64 and set
 * digest [16]: the reconciliation fingerprint (SYNC.md 3.2) of every version hash held, equal on
 * two nodes exactly when they hold the same versions; then nseal u8 (0..16) and that many keys
 * [32]: the node's default recipients of sealed records (its config's seal_to), no repeats. ---- */
typedef struct sz_msg_peer_s {
    uint8_t key[32];
    const uint8_t *address; /* borrowed, not NUL-terminated */
    uint8_t address_len;
    uint8_t connected;
    uint64_t last_seen;
    uint64_t lag;
    uint64_t checkpoint;
} sz_msg_peer_t;
typedef struct sz_msg_status_ok_s {
    uint8_t node_key[32];
    char software[SZ_MSG_MAX_SOFTWARE + 1];
    uint16_t protocol_version;
    uint64_t records;
    uint64_t versions;
    uint64_t fts_lag;
    sz_tree_head_t tree_head; /* decode checks the encoding, not the signature */
    uint16_t npeers;
    sz_msg_peer_t *peers;   /* encode: borrowed; decode: caller array of cap_peers entries */
    uint64_t set_count;     /* version hashes held (stored or purged) */
    uint8_t set_digest[16]; /* reconciliation fingerprint of all of them (SYNC.md 3.2) */
    uint8_t nseal;          /* 0..SZ_MSG_MAX_SEAL_TO default recipients (config seal_to) */
    uint8_t seal_to[SZ_MSG_MAX_SEAL_TO][32]; /* Ed25519 keys, copied; no two equal */
} sz_msg_status_ok_t;
int sz_msg_status_ok_encode(const sz_msg_status_ok_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_status_ok_decode(sz_msg_status_ok_t *m, size_t cap_peers, const uint8_t *in, size_t len);

/* ======== Replication and audit (types 17..31; proto/SYNC.md section 9) ======== */

/* ---- PEER_ADD (type 17): invite str16 (1..1024 bytes of text). PEER_REMOVE (type 18): key
 * [32]. PEER_LIST (type 19): empty. All three are answered with PEERS. ---- */
typedef struct sz_msg_peer_add_s {
    char invite[SZ_MSG_MAX_INVITE + 1]; /* NUL-terminated; the invite holds the network key */
} sz_msg_peer_add_t;
int sz_msg_peer_add_encode(const sz_msg_peer_add_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_peer_add_decode(sz_msg_peer_add_t *m, const uint8_t *in, size_t len);

typedef struct sz_msg_peer_remove_s {
    uint8_t key[32];
} sz_msg_peer_remove_t;
int sz_msg_peer_remove_encode(const sz_msg_peer_remove_t *m, uint8_t *out, size_t cap,
                              size_t *out_len);
int sz_msg_peer_remove_decode(sz_msg_peer_remove_t *m, const uint8_t *in, size_t len);

int sz_msg_peer_list_decode(const uint8_t *in, size_t len); /* empty payload */

/* ---- PEERS (type 20): count u16 (0..1024), per peer: key [32], address str8 (1..255), state u8
 * (SZ_PEER_STATE_*), last seen u64 (ms since the epoch, 0 = never), checkpoint u64 (entries of
 * the peer's log taken in), remote size u64 (the peer's last known log size), received u64
 * (versions newly stored from this peer since the daemon started), sent u64 (versions pushed or
 * served to it since then), reconciliations u32 (fallbacks to set reconciliation since then),
 * last error i32 (0 or the SZ_E_* / -errno of the last failure). Lag = remote size -
 * checkpoint when positive. ---- */
#define SZ_PEER_STATE_IDLE 0       /* not connected, no attempt scheduled (stopping) */
#define SZ_PEER_STATE_CONNECTING 1 /* TCP or handshake in progress */
#define SZ_PEER_STATE_CONNECTED 2  /* ready, in sync as far as it knows */
#define SZ_PEER_STATE_SYNCING 3    /* pulling log pages, reconciling or fetching */
#define SZ_PEER_STATE_BACKOFF 4    /* waiting to reconnect */
#define SZ_PEER_STATE_MAX 4
typedef struct sz_msg_peer_info_s {
    uint8_t key[32];
    const uint8_t *address; /* borrowed, not NUL-terminated */
    uint8_t address_len;
    uint8_t state;
    uint64_t last_seen;
    uint64_t checkpoint;
    uint64_t remote_size;
    uint64_t received;
    uint64_t sent;
    uint32_t reconciliations;
    int32_t last_error; /* <= 0 */
} sz_msg_peer_info_t;
typedef struct sz_msg_peers_s {
    uint16_t count;
    sz_msg_peer_info_t *peers; /* encode: borrowed; decode: caller array of cap entries */
} sz_msg_peers_t;
int sz_msg_peers_encode(const sz_msg_peers_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_peers_decode(sz_msg_peers_t *m, size_t cap_peers, const uint8_t *in, size_t len);

/* ---- SYNC_NOW (type 21): key [32] (all zero: every peer), wait ms u32 (0..600000: how long the
 * node may take before it answers PEERS with the counts so far). ---- */
typedef struct sz_msg_sync_now_s {
    uint8_t key[32];
    uint32_t wait_ms;
} sz_msg_sync_now_t;
#define SZ_MSG_SYNC_NOW_MAX_WAIT 600000u
int sz_msg_sync_now_encode(const sz_msg_sync_now_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_sync_now_decode(sz_msg_sync_now_t *m, const uint8_t *in, size_t len);

/* ---- SYNC (type 22): flags u8 (SZ_SYNC_HASHES: entries carry version hashes instead of
 * envelopes; other bits malformed), from u64 (first log seq wanted), max count u32 (0..4096; 0
 * asks for the head and proof only), max bytes u32 (0..SZ_MSG_MAX - 8192; envelope bytes per
 * page, at least one envelope is sent whatever the bound), proof from u64 (the size of the
 * requester's last verified head of this peer's log, 0 = none: the response carries a
 * consistency proof from it), the requester's own signed tree head (SZ_TREE_HEAD_LEN, so the peer
 * learns its lag). ---- */
#define SZ_SYNC_HASHES 0x01u
typedef struct sz_msg_sync_s {
    uint8_t flags;
    uint64_t from;
    uint32_t max_count;
    uint32_t max_bytes;
    uint64_t proof_from;
    sz_tree_head_t head; /* decode checks the encoding, not the signature */
} sz_msg_sync_t;
#define SZ_MSG_SYNC_LEN (1 + 8 + 4 + 4 + 8 + SZ_TREE_HEAD_LEN)
int sz_msg_sync_encode(const sz_msg_sync_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_sync_decode(sz_msg_sync_t *m, const uint8_t *in, size_t len);

/* ---- LOG_PAGE (type 23): the responder's signed tree head (SZ_TREE_HEAD_LEN), proof str16
 * (0..SZ_MERKLE_MAX_CONSISTENCY_LEN: the consistency proof from SYNC's proof from to the head's
 * size; empty when proof from is 0, equal to or beyond the size), flags u8 (= SYNC's), from u64
 * (= SYNC's from), count u16 (0..4096), per entry: seq u64 (strictly ascending, from upward, no
 * gaps), then with SZ_SYNC_HASHES the version hash [32], else the envelope blob32
 * (1..SZ_RECORD_MAX_LEN). Entries end before the head's size. ---- */
typedef struct sz_msg_log_entry_s {
    uint64_t seq;
    const uint8_t *envelope; /* borrowed; with SZ_SYNC_HASHES the 32-byte version hash */
    size_t len;              /* 32 with SZ_SYNC_HASHES */
} sz_msg_log_entry_t;
typedef struct sz_msg_log_page_s {
    uint8_t flags;
    sz_tree_head_t head;  /* decode checks the encoding, not the signature */
    const uint8_t *proof; /* borrowed */
    size_t proof_len;
    uint64_t from;
    uint16_t count;
    sz_msg_log_entry_t *entries; /* encode: borrowed; decode: caller array of cap entries */
} sz_msg_log_page_t;
int sz_msg_log_page_encode(const sz_msg_log_page_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_log_page_decode(sz_msg_log_page_t *m, size_t cap_entries, const uint8_t *in, size_t len);

/* ---- RECON (type 24): one reconciliation message of proto/reconcile.h as the whole payload
 * (1..SZ_MSG_MAX_RECON bytes; the reconcile codec judges its contents). Request from the puller,
 * answered by exactly one RECON (just the format byte when nothing needs saying) or ERROR. ---- */
typedef struct sz_msg_recon_s {
    const uint8_t *data; /* borrowed */
    size_t len;
} sz_msg_recon_t;
int sz_msg_recon_encode(const sz_msg_recon_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_recon_decode(sz_msg_recon_t *m, const uint8_t *in, size_t len);

/* ---- FETCH (type 25): count u16 (1..1024), hashes [32] each (no repeats needed; repeats are
 * answered once each). ---- */
typedef struct sz_msg_fetch_s {
    uint16_t count;
    const uint8_t *hashes; /* count * 32 bytes, borrowed */
} sz_msg_fetch_t;
int sz_msg_fetch_encode(const sz_msg_fetch_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_fetch_decode(sz_msg_fetch_t *m, const uint8_t *in, size_t len);

/* ---- FETCHED (type 26): count u16 (0..1024), per item: status u8 (SZ_FETCH_*), version hash
 * [32], and for status OK: seq u64 (the responder's log position) and envelope blob32
 * (1..SZ_RECORD_MAX_LEN). Items come in the responder's log order (parents first); hashes that
 * are not OK follow. ---- */
#define SZ_FETCH_OK 0
#define SZ_FETCH_NOT_HELD 1
#define SZ_FETCH_PURGED 2  /* body purged by a retraction */
#define SZ_FETCH_OMITTED 3 /* over the answer's byte budget: ask again */
#define SZ_FETCH_STATUS_MAX 3
typedef struct sz_msg_fetched_item_s {
    uint8_t status;
    uint8_t version_hash[32];
    uint64_t seq;
    const uint8_t *envelope; /* borrowed; NULL unless OK */
    size_t len;
} sz_msg_fetched_item_t;
typedef struct sz_msg_fetched_s {
    uint16_t count;
    sz_msg_fetched_item_t *items; /* encode: borrowed; decode: caller array of cap entries */
} sz_msg_fetched_t;
int sz_msg_fetched_encode(const sz_msg_fetched_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_fetched_decode(sz_msg_fetched_t *m, size_t cap_items, const uint8_t *in, size_t len);

/* ---- PUSH (type 27, request id 0, no answer): sender log size u64 (a lag hint), count u16
 * (1..1024), envelopes blob32 (1..SZ_RECORD_MAX_LEN) each, parents before children. ---- */
typedef struct sz_msg_push_item_s {
    const uint8_t *envelope; /* borrowed */
    size_t len;
} sz_msg_push_item_t;
typedef struct sz_msg_push_s {
    uint64_t log_size;
    uint16_t count;
    sz_msg_push_item_t *items; /* encode: borrowed; decode: caller array of cap entries */
} sz_msg_push_t;
int sz_msg_push_encode(const sz_msg_push_t *m, uint8_t *out, size_t cap, size_t *out_len);
int sz_msg_push_decode(sz_msg_push_t *m, size_t cap_items, const uint8_t *in, size_t len);

/* ---- AUDIT_HEAD (type 28): from size u64 (0: no proof wanted; else the size of a head the
 * auditor verified earlier). AUDIT_HEAD_OK (type 29): signed tree head (SZ_TREE_HEAD_LEN), proof
 * str16 (0..SZ_MERKLE_MAX_CONSISTENCY_LEN: consistency from `from size` to the head's size; empty
 * when from size is 0 or equals the size). A from size beyond the node's log is answered with
 * ERROR SZ_E_ARGUMENT (the auditor then suspects a shrink). ---- */
typedef struct sz_msg_audit_head_s {
    uint64_t from_size;
} sz_msg_audit_head_t;
int sz_msg_audit_head_encode(const sz_msg_audit_head_t *m, uint8_t *out, size_t cap,
                             size_t *out_len);
int sz_msg_audit_head_decode(sz_msg_audit_head_t *m, const uint8_t *in, size_t len);

typedef struct sz_msg_audit_head_ok_s {
    sz_tree_head_t head;  /* decode checks the encoding, not the signature */
    const uint8_t *proof; /* borrowed */
    size_t proof_len;
} sz_msg_audit_head_ok_t;
int sz_msg_audit_head_ok_encode(const sz_msg_audit_head_ok_t *m, uint8_t *out, size_t cap,
                                size_t *out_len);
int sz_msg_audit_head_ok_decode(sz_msg_audit_head_ok_t *m, const uint8_t *in, size_t len);

/* ---- AUDIT_PROVE (type 30): nonce [32], tree size u64 (leaf-index items are proved in the tree
 * of this size; must be >= 1 when any item is by index, else 0), count u8 (1..64), per item: by
 * u8 (SZ_PROVE_BY_*), then a version hash [32] (BY_HASH) or a leaf index u64 (BY_INDEX, below
 * tree size). ---- */
#define SZ_PROVE_BY_HASH 0
#define SZ_PROVE_BY_INDEX 1
typedef struct sz_msg_prove_item_s {
    uint8_t by;
    uint8_t version_hash[32]; /* BY_HASH */
    uint64_t index;           /* BY_INDEX */
} sz_msg_prove_item_t;
typedef struct sz_msg_audit_prove_s {
    uint8_t nonce[32];
    uint64_t tree_size;
    uint8_t count;
    sz_msg_prove_item_t items[SZ_MSG_MAX_PROVE];
} sz_msg_audit_prove_t;
int sz_msg_audit_prove_encode(const sz_msg_audit_prove_t *m, uint8_t *out, size_t cap,
                              size_t *out_len);
int sz_msg_audit_prove_decode(sz_msg_audit_prove_t *m, const uint8_t *in, size_t len);

/* ---- AUDIT_PROOF (type 31): count u8 (1..64, = AUDIT_PROVE's count, same order), per item:
 * status u8 (SZ_PROVE_*), version hash [32] (for BY_INDEX: the leaf's version hash; for BY_HASH:
 * the hash asked), digest [32] (SHA-256(nonce || envelope) when status is OK, else zero), proof
 * str16 (0..SZ_MERKLE_MAX_INCLUSION_LEN: for BY_INDEX items the inclusion proof of the leaf in
 * the tree of tree size; empty for BY_HASH). ---- */
#define SZ_PROVE_OK 0
#define SZ_PROVE_NOT_HELD 1
#define SZ_PROVE_PURGED 2
#define SZ_PROVE_BAD_INDEX 3 /* index or tree size beyond the node's log */
#define SZ_PROVE_STATUS_MAX 3
typedef struct sz_msg_proof_item_s {
    uint8_t status;
    uint8_t version_hash[32];
    uint8_t digest[32];
    const uint8_t *proof; /* borrowed */
    size_t proof_len;
} sz_msg_proof_item_t;
typedef struct sz_msg_audit_proof_s {
    uint8_t count;
    sz_msg_proof_item_t items[SZ_MSG_MAX_PROVE];
} sz_msg_audit_proof_t;
int sz_msg_audit_proof_encode(const sz_msg_audit_proof_t *m, uint8_t *out, size_t cap,
                              size_t *out_len);
int sz_msg_audit_proof_decode(sz_msg_audit_proof_t *m, const uint8_t *in, size_t len);

/* Returns the message type's name ("SUBMIT"), or "UNKNOWN". Never NULL. */
const char *sz_msg_type_name(unsigned type);

#endif
