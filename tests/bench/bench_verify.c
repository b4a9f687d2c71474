/* The cost of verifying one submitted record on the node, split into its parts, on ~1 KiB
 * testimonies: raw Ed25519 verify (crypto_sign_verify_detached over a message as long as what a
 * record signs), sz_record_open (decode + verify + hash), sz_schema_validate of the body alone,
 * and sz_store_verify (open + schema), all in one run. Targets: schema validation well under 10%
 * of a raw verify; sz_store_verify at least 0.85 x the raw verify rate.
 *
 * Two bodies are measured: "plain" (title, statement text of ~860 bytes and the required fields,
 * as bench_store makes them) and "rich" (every optional testimony field: translations, event,
 * recorded, witness details, consent dates, several act types). With SZ_SOURCE_DIR set, every
 * .json file in schema/examples is also validated once per batch and reported as one figure.
 *
 * Usage: bench_verify [seconds, default 3] */
#include <dirent.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "schema.h"
#include "store.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps results alive so the compiler cannot drop the measured work. */
static volatile unsigned sink;

#define BATCH 16

typedef struct {
    uint8_t pk[32], sk[64], sig[64];
    uint8_t *msg;
    size_t msg_len;
    uint8_t *env;
    size_t env_len;
    char body[2048];
    size_t body_len;
} sample_t;

typedef struct {
    char *text[64];
    size_t len[64];
    unsigned kind[64];
    size_t n;
} examples_t;

static void die(const char *what) {
    fprintf(stderr, "bench_verify: %s\n", what);
    exit(1);
}

static void make_sample(sample_t *s, const char *body) {
    s->body_len = strlen(body);
    if (s->body_len >= sizeof s->body)
        die("body too long");
    memcpy(s->body, body, s->body_len + 1);
    sz_schema_error_t e;
    if (sz_schema_validate(SZ_KIND_TESTIMONY, (const uint8_t *)s->body, s->body_len, &e) != 0) {
        fprintf(stderr, "bench_verify: sample body is not valid: %s\n", e.message);
        exit(1);
    }
    crypto_sign_keypair(s->pk, s->sk);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = 1764000000000u,
                            .body = (const uint8_t *)s->body,
                            .body_len = (uint32_t)s->body_len};
    if (sz_record_sign(&f, s->sk, &s->env, &s->env_len) != 0)
        die("sz_record_sign failed");
    s->msg_len = sizeof(SZ_RECORD_SIG_DOMAIN) + s->env_len - SZ_SIG_LEN;
    s->msg = malloc(s->msg_len);
    if (s->msg == NULL)
        die("out of memory");
    randombytes_buf(s->msg, s->msg_len);
    crypto_sign_detached(s->sig, NULL, s->msg, s->msg_len, s->sk);
}

static double time_raw(const sample_t *s) {
    double t = now();
    for (int i = 0; i < BATCH; i++)
        sink += (unsigned)crypto_sign_verify_detached(s->sig, s->msg, s->msg_len, s->pk);
    return now() - t;
}

static double time_open(const sample_t *s) {
    double t = now();
    for (int i = 0; i < BATCH; i++) {
        sz_record_t rec;
        uint8_t h[32];
        if (sz_record_open(&rec, s->env, s->env_len, h) != 0)
            die("sz_record_open failed");
        sink += h[0];
    }
    return now() - t;
}

static double time_schema(const sample_t *s) {
    double t = now();
    for (int i = 0; i < BATCH; i++)
        if (sz_schema_validate(SZ_KIND_TESTIMONY, (const uint8_t *)s->body, s->body_len, NULL) != 0)
            die("sz_schema_validate failed");
    return now() - t;
}

static double time_store_verify(const sample_t *s) {
    double t = now();
    for (int i = 0; i < BATCH; i++) {
        sz_verified_t v;
        if (sz_store_verify(&v, s->env, s->env_len) != 0)
            die("sz_store_verify failed");
        sink += v.version_hash[0];
    }
    return now() - t;
}

/* One pass over every example file; the time is per file. */
static double time_examples(const examples_t *x) {
    double t = now();
    for (size_t i = 0; i < x->n; i++)
        if (sz_schema_validate(x->kind[i], (const uint8_t *)x->text[i], x->len[i], NULL) != 0)
            die("an example no longer validates");
    return (now() - t) / (double)x->n;
}

static void load_examples(examples_t *x) {
    const char *src = getenv("SZ_SOURCE_DIR");
    x->n = 0;
    if (src == NULL)
        return;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/schema/examples", src);
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && x->n < 64) {
        size_t nl = strlen(e->d_name);
        if (nl < 6 || strcmp(e->d_name + nl - 5, ".json") != 0)
            continue;
        unsigned kind = strncmp(e->d_name, "testimony", 9) == 0     ? SZ_KIND_TESTIMONY
                        : strncmp(e->d_name, "case", 4) == 0        ? SZ_KIND_CASE
                        : strncmp(e->d_name, "retraction", 10) == 0 ? SZ_KIND_RETRACTION
                        : strncmp(e->d_name, "revocation", 10) == 0 ? SZ_KIND_REVOCATION
                                                                    : 0;
        if (kind == 0)
            continue;
        char path[1400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        char *buf = malloc(1 << 16);
        size_t n = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
        fclose(f);
        if (buf == NULL)
            die("out of memory");
        x->text[x->n] = buf;
        x->len[x->n] = n;
        x->kind[x->n] = kind;
        x->n++;
    }
    closedir(d);
}

static const char *const words[] = {"the",    "unit",   "night", "officer", "left",    "home",
                                    "border", "papers", "train", "winter",  "ordered", "refused",
                                    "mother", "letter", "camp",  "weeks",   "forest",  "village"};

static void run(const char *label, const sample_t *s, double seconds) {
    typedef double (*tfn)(const sample_t *);
    static const tfn fns[] = {time_raw, time_open, time_schema, time_store_verify};
    enum { N = 4 };
    double fastest[N];
    for (int i = 0; i < N; i++)
        fastest[i] = 1e9;
    unsigned long batches = 0;
    double start = now();
    /* Small interleaved batches, fastest of each kept: load from other processes on a shared
     * machine cannot land on one figure only and skew the ratios. */
    do {
        for (int i = 0; i < N; i++) {
            double t = fns[i](s);
            if (t < fastest[i])
                fastest[i] = t;
        }
        batches++;
    } while (now() - start < seconds);
    double raw = BATCH / fastest[0], open = BATCH / fastest[1], schema = BATCH / fastest[2],
           sv = BATCH / fastest[3];
    printf("-- %s body: %zu bytes, envelope %zu bytes, %lu batches of %d\n", label, s->body_len,
           s->env_len, batches, BATCH);
    printf("%-36s %12.0f /s  %8.2f us\n", "crypto_sign_verify_detached (raw)", raw, 1e6 / raw);
    printf("%-36s %12.0f /s  %8.2f us\n", "sz_record_open", open, 1e6 / open);
    printf("%-36s %12.0f /s  %8.2f us\n", "sz_schema_validate", schema, 1e6 / schema);
    printf("%-36s %12.0f /s  %8.2f us\n", "sz_store_verify", sv, 1e6 / sv);
    printf("open / raw verify:         %.3f\n", open / raw);
    printf("schema cost / raw verify:  %.1f%% (target well under 10%%) %s\n", 100.0 * raw / schema,
           raw / schema < 0.10 ? "ok" : "ABOVE TARGET");
    printf("store_verify / raw verify: %.3f (target >= 0.85) %s\n", sv / raw,
           sv / raw >= 0.85 ? "ok" : "BELOW TARGET");
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3.0;
    if (seconds <= 0) {
        fprintf(stderr, "usage: bench_verify [seconds > 0]\n");
        return 2;
    }
    if (sodium_init() < 0)
        die("libsodium failed to initialise");

    char text[1100];
    size_t tl = 0;
    for (unsigned i = 0; tl < 860; i++) {
        const char *w = words[(i * 7 + i / 3) % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        memcpy(text + tl, w, wl);
        tl += wl;
        text[tl++] = ' ';
    }
    text[tl - 1] = '\0';
    char body[2048];
    static sample_t plain, rich;
    snprintf(body, sizeof body,
             "{\"title\":\"Testimony 123456 winter\",\"statement\":{\"text\":\"%s\","
             "\"language\":\"ru\"},\"witness\":{\"role\":\"conscript\"},"
             "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"desertion\"]}",
             text);
    make_sample(&plain, body);
    text[560] = '\0';
    snprintf(
        body, sizeof body,
        "{\"title\":\"Testimony 654321 border\",\"statement\":{\"text\":\"%s\","
        "\"language\":\"uk\",\"translations\":[{\"text\":\"He left the unit at night.\","
        "\"language\":\"en\",\"translator\":\"t-02\"}]},"
        "\"witness\":{\"pseudonym\":\"A. K.\",\"role\":\"conscript\",\"unit\":\"motor rifle "
        "regiment\"},\"consent\":{\"scope\":\"anonymised-publication\",\"date\":\"2024-03-02\","
        "\"embargo_until\":\"2030\",\"restrictions\":\"No unit numbers.\"},"
        "\"event\":{\"date\":\"1989-04~/1989-06\",\"place\":{\"name\":\"Kaunas\","
        "\"country\":\"SUHH\"},\"description\":\"Left after hazing.\"},"
        "\"recorded\":{\"date\":\"2024-03-02\",\"method\":\"audio\",\"by\":\"iv-07\"},"
        "\"act_types\":[\"desertion\",\"refusal\"]}",
        text);
    make_sample(&rich, body);

    printf("record verification benchmark: %.1f s per body\n", seconds);
    run("plain", &plain, seconds);
    run("rich", &rich, seconds);

    examples_t x;
    load_examples(&x);
    if (x.n > 0) {
        double fastest = 1e9;
        double start = now();
        do {
            double t = time_examples(&x);
            if (t < fastest)
                fastest = t;
        } while (now() - start < seconds / 2);
        printf("-- schema/examples: %zu files, sz_schema_validate %.0f /s (%.2f us per file)\n",
               x.n, 1 / fastest, 1e6 * fastest);
        for (size_t i = 0; i < x.n; i++)
            free(x.text[i]);
    }
    free(plain.msg);
    free(plain.env);
    free(rich.msg);
    free(rich.env);
    sodium_memzero(plain.sk, sizeof plain.sk);
    sodium_memzero(rich.sk, sizeof rich.sk);
    return 0;
}
