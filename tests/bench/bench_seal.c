/* Rates of sealed bodies for a 1 KiB plaintext with 1, 4 and 16 recipients: sz_seal, sz_unseal by
 * a recipient (whose slot sits at a random position, so on average half the slots are tried), by a
 * non-recipient (every slot tried, the worst case), and sz_seal_parse (what every node does).
 * A real slot costs two X25519 operations and a decoy one, and a reader pays one per slot tried, so
 * the rates fall mostly with the slot bucket.
 *
 * Usage: bench_seal [seconds per figure, default 1] [plaintext bytes, default 1024] */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "record.h"
#include "seal.h"

#define NBODIES 32

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static volatile size_t sink;

typedef struct {
    uint8_t *plain;
    size_t plain_len;
    uint8_t author_pk[32];
    uint8_t recipients[16 * 32];
    uint8_t reader_sk[64];   /* recipient 0 */
    uint8_t stranger_sk[64]; /* not a recipient */
    size_t nrecipients;
    uint8_t *bodies[NBODIES];
    size_t body_len[NBODIES];
    unsigned next;
} bench_t;

typedef int (*op_fn)(bench_t *b);

static int op_seal(bench_t *b) {
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = sz_seal(b->plain, b->plain_len, SZ_KIND_TESTIMONY, b->author_pk, b->recipients,
                     b->nrecipients, &out, &len);
    sink += len;
    free(out);
    return rc;
}

static int unseal_with(bench_t *b, const uint8_t *sk, int want) {
    unsigned i = b->next++ % NBODIES;
    uint8_t *p = NULL;
    size_t plen = 0;
    int rc =
        sz_unseal(b->bodies[i], b->body_len[i], SZ_KIND_TESTIMONY, b->author_pk, sk, &p, &plen);
    sink += plen;
    if (p != NULL)
        sodium_free(p);
    return rc == want ? 0 : -1;
}

static int op_unseal(bench_t *b) {
    return unseal_with(b, b->reader_sk, 0);
}

static int op_unseal_stranger(bench_t *b) {
    return unseal_with(b, b->stranger_sk, SZ_E_SEALED);
}

static int op_parse(bench_t *b) {
    unsigned i = b->next++ % NBODIES;
    sz_seal_info_t info;
    int rc = sz_seal_parse(b->bodies[i], b->body_len[i], &info);
    sink += info.nslots;
    return rc;
}

/* Runs op for about secs seconds and returns operations per second, or -1 on an error. */
static double rate(op_fn op, bench_t *b, double secs) {
    unsigned long n = 0;
    double start = now(), t;
    do {
        for (int i = 0; i < 4; i++, n++)
            if (op(b) != 0)
                return -1;
        t = now() - start;
    } while (t < secs);
    return (double)n / t;
}

static void report(const char *what, size_t nrec, double r) {
    if (r < 0) {
        printf("%-22s %2zu recipients: FAILED\n", what, nrec);
        return;
    }
    printf("%-22s %2zu recipients: %10.0f ops/s  %9.1f us/op\n", what, nrec, r, 1e6 / r);
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    size_t plain_len = argc > 2 ? (size_t)atol(argv[2]) : 1024;
    if (sodium_init() < 0 || secs <= 0)
        return 1;
    static bench_t b;
    b.plain = malloc(plain_len > 0 ? plain_len : 1);
    if (b.plain == NULL)
        return 1;
    memset(b.plain, 'a', plain_len);
    b.plain_len = plain_len;
    uint8_t sk[64];
    crypto_sign_keypair(b.author_pk, sk);
    for (int i = 0; i < 16; i++)
        crypto_sign_keypair(b.recipients + 32 * i, i == 0 ? b.reader_sk : sk);
    uint8_t pk[32];
    crypto_sign_keypair(pk, b.stranger_sk);

    printf("bench_seal: %zu-byte plaintext, %.1f s per figure\n", plain_len, secs);
    const size_t counts[] = {1, 4, 16};
    int failed = 0;
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        b.nrecipients = counts[c];
        for (int i = 0; i < NBODIES; i++) {
            if (sz_seal(b.plain, plain_len, SZ_KIND_TESTIMONY, b.author_pk, b.recipients,
                        b.nrecipients, &b.bodies[i], &b.body_len[i]) != 0)
                return 1;
        }
        printf("body %zu bytes, %u slots\n", b.body_len[0], sz_seal_slot_count(counts[c]));
        double r;
        report("seal", counts[c], r = rate(op_seal, &b, secs));
        failed |= r < 0;
        report("unseal (recipient)", counts[c], r = rate(op_unseal, &b, secs));
        failed |= r < 0;
        report("unseal (stranger)", counts[c], r = rate(op_unseal_stranger, &b, secs));
        failed |= r < 0;
        report("parse", counts[c], r = rate(op_parse, &b, secs));
        failed |= r < 0;
        for (int i = 0; i < NBODIES; i++)
            free(b.bodies[i]);
    }
    free(b.plain);
    return failed;
}
