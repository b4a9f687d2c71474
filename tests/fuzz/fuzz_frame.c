/* libFuzzer harness for proto/frame: the stream decoder, the message assembler and the HELLO and
 * ERROR decoders, with round-trip checks that abort on any disagreement.
 *
 * Input: byte 0 picks the chunk size the stream is fed in (0 means one byte at a time); the rest
 * is the byte stream. Each frame's bytes are treated as the plaintext of a fragment (the cipher
 * is bypassed, since nothing could forge its tags) and fed to an assembler with a small bound;
 * complete HELLO and ERROR messages are decoded and re-encoded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "frame.h"

static void check_payloads(const sz_msg_t *m) {
    uint8_t buf[1024];
    size_t n;
    if (m->header.type == SZ_MSG_HELLO) {
        sz_hello_t h;
        if (sz_hello_decode(&h, m->payload, m->len) == 0) {
            if (sz_hello_encode(&h, buf, sizeof(buf), &n) != 0 || n > m->len ||
                memcmp(buf, m->payload, n) != 0)
                abort();
            sz_hello_t ours = {.count = 1, .versions = {SZ_PROTOCOL_VERSION}};
            uint16_t v;
            int rc = sz_hello_choose(&ours, &h, &v);
            if (rc != 0 && rc != SZ_E_UPGRADE)
                abort();
        }
    } else if (m->header.type == SZ_MSG_ERROR) {
        sz_error_msg_t e;
        if (sz_error_msg_decode(&e, m->payload, m->len) == 0) {
            if (sz_error_msg_encode(&e, buf, sizeof(buf), &n) != 0 || n != m->len ||
                memcmp(buf, m->payload, n) != 0)
                abort();
        }
    }
}

/* Fragmenting any payload and reassembling it must give it back. */
static void check_fragments(const uint8_t *payload, size_t len) {
    static uint8_t frag[SZ_NOISE_MAX_PLAINTEXT];
    sz_msg_header_t h = {.type = 7, .flags = SZ_MSG_FLAG_REKEY, .request_id = (uint32_t)len};
    sz_msg_assembler_t a;
    sz_msg_t m;
    size_t offset = 0, n;
    int more, rc = 0;
    sz_msg_assembler_init(&a, 0);
    do {
        more = sz_msg_fragment(&h, payload, len, &offset, frag, sizeof(frag), &n);
        if (more < 0)
            abort();
        rc = sz_msg_assembler_add(&a, frag, n, &m);
        if (rc != (more ? 0 : 1))
            abort();
    } while (more);
    if (m.len != len || m.header.flags != h.flags || (len > 0 && memcmp(m.payload, payload, len)))
        abort();
    sz_msg_assembler_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t chunk = data[0] == 0 ? 1 : (size_t)data[0] * 37;
    data++;
    size--;

    sz_frame_decoder_t d;
    sz_msg_assembler_t a;
    sz_frame_decoder_init(&d);
    sz_msg_assembler_init(&a, 200000);
    size_t pos = 0;
    int rc = 0;
    while (pos < size && rc >= 0) {
        size_t n = size - pos < chunk ? size - pos : chunk;
        size_t off = 0;
        while (off < n) {
            size_t used, flen;
            const uint8_t *f;
            rc = sz_frame_decoder_feed(&d, data + pos + off, n - off, &used, &f, &flen);
            if (rc < 0)
                break;
            if (used > n - off)
                abort();
            off += used;
            if (rc == 0)
                continue;
            if (flen == 0 || flen > SZ_FRAME_MAX)
                abort();
            check_fragments(f, flen);
            sz_msg_t m;
            int arc = sz_msg_assembler_add(&a, f, flen, &m);
            if (arc == 1) {
                if ((m.header.flags & SZ_MSG_FLAG_CONTINUED) != 0 || m.len > 200000)
                    abort();
                check_payloads(&m);
            }
            /* An assembler error is sticky; start over to keep exploring. */
            if (arc < 0) {
                sz_msg_assembler_free(&a);
                sz_msg_assembler_init(&a, 200000);
            }
        }
        pos += n;
    }
    if (rc >= 0 && d.cap > SZ_FRAME_MAX)
        abort();
    sz_frame_decoder_free(&d);
    sz_msg_assembler_free(&a);
    return 0;
}
