/* Benchmark for proto/noise and proto/frame: samizdat handshakes per second (both sides, all
 * three messages, identity checks and split, in one thread), and transport throughput for 1 KiB
 * and 64 KiB messages, both through the raw ciphers and through the message layer (fragment,
 * seal, frame decoding, open). Prints its figures; never fails on timing.
 *
 * Usage: bench_noise [seconds per figure, default 1] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "frame.h"
#include "noise.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int handshake_once(const uint8_t *ska, const uint8_t *skb, const uint8_t *netkey) {
    sz_noise_t *a = NULL, *b = NULL;
    sz_cipher_t *as = NULL, *ar = NULL, *bs = NULL, *br = NULL;
    uint8_t m[256], p[256], ed[32];
    size_t n, pn;
    int rc = sz_noise_new_samizdat(&a, SZ_NOISE_INITIATOR, ska, netkey);
    rc = rc ? rc : sz_noise_new_samizdat(&b, SZ_NOISE_RESPONDER, skb, netkey);
    rc = rc ? rc : sz_noise_write_message(a, NULL, 0, m, sizeof(m), &n);
    rc = rc ? rc : sz_noise_read_message(b, m, n, p, sizeof(p), &pn);
    rc = rc ? rc : sz_noise_write_message(b, skb + 32, 32, m, sizeof(m), &n);
    rc = rc ? rc : sz_noise_read_message(a, m, n, p, sizeof(p), &pn);
    rc = rc ? rc : sz_noise_verify_peer(a, p, pn, ed);
    rc = rc ? rc : sz_noise_write_message(a, ska + 32, 32, m, sizeof(m), &n);
    rc = rc ? rc : sz_noise_read_message(b, m, n, p, sizeof(p), &pn);
    rc = rc ? rc : sz_noise_verify_peer(b, p, pn, ed);
    rc = rc ? rc : sz_noise_split(a, &as, &ar);
    rc = rc ? rc : sz_noise_split(b, &bs, &br);
    sz_noise_free(a);
    sz_noise_free(b);
    sz_cipher_free(as);
    sz_cipher_free(ar);
    sz_cipher_free(bs);
    sz_cipher_free(br);
    return rc;
}

static void bench_cipher(size_t size, double secs) {
    uint8_t k[32];
    sz_cipher_t *tx = NULL, *rx = NULL;
    uint8_t *pt = calloc(1, size), *ct = malloc(size + SZ_NOISE_TAG_LEN), *back = malloc(size);
    randombytes_buf(k, sizeof(k));
    if (pt == NULL || ct == NULL || back == NULL || sz_cipher_new(&tx, k) != 0 ||
        sz_cipher_new(&rx, k) != 0) {
        fprintf(stderr, "bench_noise: setup failed\n");
        exit(1);
    }
    size_t count = 0, n, m;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 64; i++) {
            if (sz_cipher_encrypt(tx, NULL, 0, pt, size, ct, size + SZ_NOISE_TAG_LEN, &n) != 0 ||
                sz_cipher_decrypt(rx, NULL, 0, ct, n, back, size, &m) != 0) {
                fprintf(stderr, "bench_noise: transport failed\n");
                exit(1);
            }
        }
        count += 64;
        t = now() - t0;
    } while (t < secs);
    printf("cipher  %6zu B messages: %9.1f MB/s encrypt+decrypt (%zu messages)\n", size,
           (double)count * (double)size / t / 1e6, count);
    sz_cipher_free(tx);
    sz_cipher_free(rx);
    free(pt);
    free(ct);
    free(back);
}

static void bench_messages(size_t size, double secs) {
    uint8_t k[32];
    sz_cipher_t *tx = NULL, *rx = NULL;
    size_t wire_cap = sz_msg_wire_size(size);
    uint8_t *payload = calloc(1, size), *wire = malloc(wire_cap);
    static uint8_t plain[SZ_NOISE_MAX_PLAINTEXT];
    sz_frame_decoder_t d;
    sz_msg_assembler_t a;
    randombytes_buf(k, sizeof(k));
    if (payload == NULL || wire == NULL || sz_cipher_new(&tx, k) != 0 ||
        sz_cipher_new(&rx, k) != 0) {
        fprintf(stderr, "bench_noise: setup failed\n");
        exit(1);
    }
    sz_frame_decoder_init(&d);
    sz_msg_assembler_init(&a, 0);
    sz_msg_header_t h = {.type = 9, .flags = 0, .request_id = 1};
    size_t count = 0;
    double t0 = now(), t;
    do {
        size_t n, off = 0, got = 0;
        if (sz_msg_seal(tx, &h, payload, size, wire, wire_cap, &n) != 0)
            exit(1);
        while (off < n) {
            size_t used, flen;
            const uint8_t *f;
            sz_msg_t msg;
            int rc = sz_frame_decoder_feed(&d, wire + off, n - off, &used, &f, &flen);
            if (rc < 0)
                exit(1);
            off += used;
            if (rc == 1) {
                rc = sz_msg_open(rx, &a, f, flen, plain, &msg);
                if (rc < 0)
                    exit(1);
                got += rc == 1 && msg.len == size;
            }
        }
        if (got != 1) {
            fprintf(stderr, "bench_noise: message lost\n");
            exit(1);
        }
        count++;
        t = now() - t0;
    } while (t < secs);
    printf("message %6zu B messages: %9.1f MB/s seal+frame+open (%zu messages)\n", size,
           (double)count * (double)size / t / 1e6, count);
    sz_frame_decoder_free(&d);
    sz_msg_assembler_free(&a);
    sz_cipher_free(tx);
    sz_cipher_free(rx);
    free(payload);
    free(wire);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0)
        secs = 1.0;
    if (sodium_init() < 0)
        return 1;
    uint8_t pka[32], ska[64], pkb[32], skb[64], netkey[32];
    crypto_sign_keypair(pka, ska);
    crypto_sign_keypair(pkb, skb);
    randombytes_buf(netkey, sizeof(netkey));

    size_t count = 0;
    double t0 = now(), t;
    do {
        if (handshake_once(ska, skb, netkey) != 0) {
            fprintf(stderr, "bench_noise: handshake failed\n");
            return 1;
        }
        count++;
        t = now() - t0;
    } while (t < secs);
    printf("handshake %s: %.0f handshakes/s (both sides in one thread, %zu done)\n",
           SZ_NOISE_PROTOCOL, (double)count / t, count);

    bench_cipher(1024, secs);
    bench_cipher(SZ_NOISE_MAX_PLAINTEXT, secs);
    bench_messages(1024, secs);
    bench_messages(65536, secs);
    return 0;
}
