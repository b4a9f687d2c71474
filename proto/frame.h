/* Frames and messages on a samizdat connection; proto/WIRE.md is the normative description.
 *
 * Three layers, all pure (no I/O, no printing):
 *   frame    u32 big-endian length, then that many bytes of Noise message (handshake message or
 *            transport ciphertext), 1..SZ_FRAME_MAX bytes. sz_frame_decoder_t cuts a byte stream
 *            fed in arbitrary chunks into frames.
 *   fragment the plaintext of one transport frame: a 6-byte message header (type u8, flags u8,
 *            request id u32 big-endian) and up to SZ_MSG_MAX_FRAGMENT payload bytes.
 *   message  a payload of up to SZ_MSG_MAX bytes, split into fragments flagged CONTINUED except
 *            the last; sz_msg_assembler_t joins them.
 *
 * Sending a message: out = malloc(sz_msg_wire_size(len)); sz_msg_seal(send, &h, payload, len,
 * out, cap, &n); write n bytes. Receiving: feed the bytes read to sz_frame_decoder_feed(); for each
 * frame, sz_msg_open(recv, &assembler, frame, frame_len, plain, &msg); when it returns 1, msg is
 * complete. Handshake messages travel in frames too: write the Noise message at out + 4 and put
 * sz_frame_header_encode(out, len) in front. */
#ifndef SZ_FRAME_H
#define SZ_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"

#define SZ_FRAME_HEADER_LEN 4
#define SZ_FRAME_MAX SZ_NOISE_MAX_MSG /* 65535 bytes of ciphertext per frame */

#define SZ_MSG_HEADER_LEN 6
#define SZ_MSG_MAX_FRAGMENT (SZ_NOISE_MAX_PLAINTEXT - SZ_MSG_HEADER_LEN) /* 65513 */
#define SZ_MSG_MAX (2u << 20) /* 2 MiB: a 1 MiB record body and its envelope fit easily */

/* Message flags. CONTINUED: more fragments of this message follow. REKEY: the sender rekeyed its
 * sending cipher right after this frame, so the receiver rekeys its receiving cipher right after
 * decrypting it (only on the last fragment of a message). */
#define SZ_MSG_FLAG_CONTINUED 0x01u
#define SZ_MSG_FLAG_REKEY 0x02u
#define SZ_MSG_FLAGS_KNOWN (SZ_MSG_FLAG_CONTINUED | SZ_MSG_FLAG_REKEY)

/* Message types defined here because version negotiation needs them; the rest of the catalogue
 * belongs to the node service (WIRE.md, "Message catalogue"). Type 0 is never valid. */
#define SZ_MSG_HELLO 1
#define SZ_MSG_ERROR 2

/* The message-protocol version this code speaks, announced in HELLO. */
#define SZ_PROTOCOL_VERSION 1
#define SZ_HELLO_MAX_VERSIONS 16
#define SZ_ERROR_MAX_TEXT 256

/* ---- Frame header ------------------------------------------------------------------------- */

/* Writes the 4-byte big-endian length prefix of a frame of len bytes. Returns 0, SZ_E_PROTOCOL
 * for len 0, or SZ_E_TOO_LARGE for len > SZ_FRAME_MAX. */
int sz_frame_header_encode(uint8_t out[static 4], size_t len);

/* Reads a length prefix into *len. Returns 0, SZ_E_PROTOCOL for a zero length, or
 * SZ_E_TOO_LARGE for a length above SZ_FRAME_MAX. */
int sz_frame_header_decode(const uint8_t in[static 4], size_t *len);

/* ---- Frame decoder ------------------------------------------------------------------------ */

/* Cuts a byte stream into frames. Fields are private; the struct is public so it can be embedded.
 * The decoder allocates nothing until a frame header declares a length, then at most that many
 * bytes (so never more than SZ_FRAME_MAX); a frame that arrives whole in one chunk is returned in
 * place without copying. */
typedef struct sz_frame_decoder_s {
    uint8_t hdr[SZ_FRAME_HEADER_LEN];
    size_t hdr_have; /* header bytes collected */
    size_t need;     /* declared length of the frame in progress; 0 while reading a header */
    size_t have;     /* body bytes collected in buf */
    uint8_t *buf;
    size_t cap;
    int error; /* sticky: once set, every feed returns it */
} sz_frame_decoder_t;

/* Initialises d. Never fails. */
void sz_frame_decoder_init(sz_frame_decoder_t *d);

/* Consumes bytes from data (borrowed, len bytes) and sets *consumed to how many it used. Returns
 * 1 when a frame is complete: *frame and *frame_len then describe it, borrowed either from data
 * or from d, and valid until the next call on d; the caller calls again with the bytes after
 * *consumed. Returns 0 when every byte was consumed without completing a frame (need more).
 * Returns SZ_E_PROTOCOL for a zero-length frame, SZ_E_TOO_LARGE as soon as a header declares
 * more than SZ_FRAME_MAX, or -ENOMEM; an error is sticky (the stream cannot be resynchronised). */
int sz_frame_decoder_feed(sz_frame_decoder_t *d, const uint8_t *data, size_t len, size_t *consumed,
                          const uint8_t **frame, size_t *frame_len);

/* Returns true if the decoder holds part of a frame (a stream ending now is truncated). */
bool sz_frame_decoder_pending(const sz_frame_decoder_t *d);

/* Frees d's buffer; d can be initialised again. */
void sz_frame_decoder_free(sz_frame_decoder_t *d);

/* ---- Message header and fragments --------------------------------------------------------- */

typedef struct sz_msg_header_s {
    uint8_t type;        /* SZ_MSG_*; never 0 */
    uint8_t flags;       /* SZ_MSG_FLAG_* */
    uint32_t request_id; /* chosen by the requester, echoed in the reply; 0 when unused */
} sz_msg_header_t;

/* Writes the 6-byte header h. */
void sz_msg_header_encode(uint8_t out[static SZ_MSG_HEADER_LEN], const sz_msg_header_t *h);

/* Reads a header from the first bytes of in (borrowed, len bytes). Returns 0, SZ_E_TRUNCATED if
 * len < 6, SZ_E_PROTOCOL for type 0, or SZ_E_FLAGS for an unknown flag. */
int sz_msg_header_decode(sz_msg_header_t *h, const uint8_t *in, size_t len);

/* Writes into out (borrowed, cap >= SZ_NOISE_MAX_PLAINTEXT always suffices) the plaintext of the
 * fragment of a message that starts at payload offset *offset, advances *offset and sets
 * *out_len. h->flags must not hold CONTINUED (it is set on every fragment but the last); REKEY in
 * h->flags is put on the last fragment only. A message of len 0 is one fragment of header only.
 * Returns 1 if more fragments follow, 0 after the last one, SZ_E_TOO_LARGE if len > SZ_MSG_MAX,
 * SZ_E_FLAGS or SZ_E_ARGUMENT. */
int sz_msg_fragment(const sz_msg_header_t *h, const uint8_t *payload, size_t len, size_t *offset,
                    uint8_t *out, size_t cap, size_t *out_len);

/* A complete message, from sz_msg_assembler_add or sz_msg_open. The payload is borrowed. */
typedef struct sz_msg_s {
    sz_msg_header_t header; /* flags never hold CONTINUED */
    const uint8_t *payload;
    size_t len;
} sz_msg_t;

/* Joins fragments into messages, up to a bound. Fields are private. Fragments of one message must
 * follow each other with the same type and request id: messages are never interleaved. */
typedef struct sz_msg_assembler_s {
    uint8_t *buf;
    size_t len, cap, max;
    sz_msg_header_t cur;
    bool active; /* a CONTINUED fragment has been received */
    int error;   /* sticky */
} sz_msg_assembler_t;

/* Initialises a with a bound of max payload bytes per message (0 means SZ_MSG_MAX; larger values
 * are clamped to it). Never fails. */
void sz_msg_assembler_init(sz_msg_assembler_t *a, size_t max);

/* Adds the plaintext of one fragment (borrowed, len bytes). Returns 1 and fills *out when a
 * message is complete (its payload is borrowed from plain for a single-fragment message, else
 * from a, valid until the next call on a); 0 when more fragments are needed. Errors are sticky:
 * SZ_E_TRUNCATED, SZ_E_PROTOCOL (type 0, a fragment of a different message in the middle of one,
 * REKEY on a CONTINUED fragment), SZ_E_FLAGS, SZ_E_TOO_LARGE (the message would exceed the
 * bound; detected before buffering the fragment) or -ENOMEM. */
int sz_msg_assembler_add(sz_msg_assembler_t *a, const uint8_t *plain, size_t len, sz_msg_t *out);

/* Wipes and frees a's buffer; a can be initialised again. */
void sz_msg_assembler_free(sz_msg_assembler_t *a);

/* ---- Sealing and opening messages --------------------------------------------------------- */

/* Returns the number of bytes sz_msg_seal writes for a payload of len bytes (len <= SZ_MSG_MAX):
 * per fragment 4 + 6 + 16 bytes of overhead. */
size_t sz_msg_wire_size(size_t len);

/* Fragments, encrypts with send and frames a whole message: writes the frames back to back into
 * out (borrowed, cap >= sz_msg_wire_size(len)) and sets *out_len. When h->flags holds REKEY, send
 * is rekeyed after the last frame. Returns 0 or the errors of sz_msg_fragment and
 * sz_cipher_encrypt (SZ_E_NONCE, SZ_E_STATE: the connection must be closed). */
int sz_msg_seal(sz_cipher_t *send, const sz_msg_header_t *h, const uint8_t *payload, size_t len,
                uint8_t *out, size_t cap, size_t *out_len);

/* Decrypts one transport frame (borrowed) with recv into plain (borrowed, at least
 * SZ_NOISE_MAX_PLAINTEXT bytes), feeds it to a and rekeys recv when the frame carries REKEY.
 * Returns 1 with *out filled when a message is complete (payload borrowed from plain or a, valid
 * until the next call), 0 when more frames are needed, or the errors of sz_cipher_decrypt and
 * sz_msg_assembler_add. */
int sz_msg_open(sz_cipher_t *recv, sz_msg_assembler_t *a, const uint8_t *frame, size_t len,
                uint8_t *plain, sz_msg_t *out);

/* ---- HELLO and ERROR payloads (WIRE.md, "Version negotiation") ----------------------------- */

/* The versions one side supports, strictly ascending, 1..SZ_HELLO_MAX_VERSIONS entries, none 0.
 * Encoded as u8 count, then count u16 big-endian versions. */
typedef struct sz_hello_s {
    uint8_t count;
    uint16_t versions[SZ_HELLO_MAX_VERSIONS];
} sz_hello_t;

/* Encodes h into out (borrowed, cap bytes; 1 + 2 * 16 always suffices). Returns 0, SZ_E_ARGUMENT
 * for an invalid list or a small buffer. */
int sz_hello_encode(const sz_hello_t *h, uint8_t *out, size_t cap, size_t *out_len);

/* Decodes a HELLO payload. Bytes after the version list are ignored (reserved for later
 * versions). Returns 0, SZ_E_TRUNCATED, or SZ_E_MALFORMED (count 0 or above 16, version 0, not
 * strictly ascending). */
int sz_hello_decode(sz_hello_t *h, const uint8_t *in, size_t len);

/* Picks the highest version both lists hold. Returns 0 and *version, or SZ_E_UPGRADE if none. */
int sz_hello_choose(const sz_hello_t *local, const sz_hello_t *remote, uint16_t *version);

/* An ERROR payload: i32 big-endian code (an SZ_E_* value), u16 big-endian text length (at most
 * SZ_ERROR_MAX_TEXT), the text (UTF-8, no control characters), and for SZ_E_UPGRADE only, the
 * sender's version list encoded as in HELLO. */
typedef struct sz_error_msg_s {
    int32_t code;
    const char *text; /* borrowed, not NUL-terminated */
    size_t text_len;
    sz_hello_t versions; /* count 0 unless code is SZ_E_UPGRADE */
} sz_error_msg_t;

/* Encodes e into out (borrowed, cap bytes). Returns 0 or SZ_E_ARGUMENT (text too long or holding
 * control characters, missing or superfluous versions, small buffer). */
int sz_error_msg_encode(const sz_error_msg_t *e, uint8_t *out, size_t cap, size_t *out_len);

/* Decodes an ERROR payload; e->text borrows from in. Returns 0, SZ_E_TRUNCATED, SZ_E_TRAILING,
 * or SZ_E_MALFORMED (code not negative, text too long or with control characters, bad version
 * list). */
int sz_error_msg_decode(sz_error_msg_t *e, const uint8_t *in, size_t len);

#endif
