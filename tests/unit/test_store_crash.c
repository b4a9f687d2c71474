/* Crash safety of the archive store: a writer process is killed with SIGKILL at random points
 * (fixed seed, bounded count); every version it acknowledged must survive, and the full check must
 * find nothing wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "error.h"
#include "maint.h"
#include "record.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS 20
#define BATCH 50 /* 50 acks of 40 bytes fit one atomic pipe write */
#define MAX_ACKS 200000

static uint8_t sk[64];

typedef struct ack_s {
    uint64_t seq;
    uint8_t hash[32];
} ack_t;

static int sign(uint64_t created, const uint8_t *rid, const uint8_t *parent, const char *text,
                uint8_t **out, size_t *len) {
    char body[512];
    snprintf(body, sizeof(body),
             "{\"title\":\"Crash %s\",\"statement\":{\"text\":\"Written by a writer that will be "
             "killed: %s\",\"language\":\"en\"},\"witness\":{\"role\":\"soldier\"},"
             "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"desertion\"]}",
             text, text);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = created,
                            .record_id = rid,
                            .parents = parent,
                            .nparents = parent ? 1 : 0,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)strlen(body)};
    return sz_record_sign(&f, sk, out, len);
}

/* The writer: batches of new records and amendments of its own earlier ones, acknowledging each
 * batch on the pipe only after the store returned (after the commit). Runs until killed. */
static void writer(const char *dir, int round, int fd) {
    sz_store_t *s = NULL;
    if (sz_store_open(&s, dir, NULL) != 0)
        _exit(3);
    enum { KEEP = 64 };
    uint8_t rids[KEEP][32], heads[KEEP][32];
    int nkeep = 0;
    uint64_t rs = (uint64_t)round * 7919 + 1;
    for (unsigned b = 0;; b++) {
        uint8_t *env[BATCH];
        size_t len[BATCH];
        for (int i = 0; i < BATCH; i++) {
            char text[64];
            snprintf(text, sizeof(text), "round %d batch %u item %d", round, b, i);
            uint64_t created = 1764000000000ull + (uint64_t)round * 100000000 + b * 1000 + i;
            rs = rs * 6364136223846793005ull + 1442695040888963407ull;
            int k = nkeep > 0 ? (int)((rs >> 33) % (uint64_t)nkeep) : 0;
            int amend = nkeep > 0 && (rs >> 40) % 3 == 0;
            if (sign(created, amend ? rids[k] : NULL, amend ? heads[k] : NULL, text, &env[i],
                     &len[i]) != 0)
                _exit(4);
            if (amend)
                crypto_hash_sha256(heads[k], env[i], len[i]);
        }
        sz_put_result_t res[BATCH];
        int rc = sz_store_put_batch(s, (const uint8_t *const *)env, len, BATCH, res);
        if (rc != 0)
            _exit(5);
        ack_t acks[BATCH];
        for (int i = 0; i < BATCH; i++) {
            if (res[i].err != 0)
                _exit(6);
            acks[i].seq = res[i].seq;
            memcpy(acks[i].hash, res[i].version_hash, 32);
            if ((res[i].flags & SZ_PUT_NEW_RECORD) && nkeep < KEEP) {
                memcpy(rids[nkeep], res[i].record_id, 32);
                memcpy(heads[nkeep], res[i].version_hash, 32);
                nkeep++;
            }
            free(env[i]);
        }
        if (write(fd, acks, sizeof(acks)) != (ssize_t)sizeof(acks))
            _exit(7);
    }
}

static void test_kill_writer(void **state) {
    (void)state;
    char tmpl[] = "/tmp/sz-test-crash-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    ack_t *acked = calloc(MAX_ACKS, sizeof(*acked));
    assert_non_null(acked);
    size_t nacked = 0;
    srand(20261121); /* fixed seed: the same kill points on every run */
    for (int round = 0; round < KILLS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            writer(dir, round, p[1]);
            _exit(0);
        }
        close(p[1]);
        /* Wait for a random number (0..3) of acknowledged batches, then a random 0..20 ms, so
         * kills land before, during and after commits. */
        int want = rand() % 4;
        size_t before = nacked;
        struct pollfd pfd = {p[0], POLLIN, 0};
        while ((int)((nacked - before) / BATCH) < want && poll(&pfd, 1, 10000) > 0) {
            ssize_t r = read(p[0], &acked[nacked], sizeof(ack_t) * BATCH);
            if (r <= 0)
                break;
            assert_int_equal(r % (ssize_t)sizeof(ack_t), 0);
            nacked += (size_t)r / sizeof(ack_t);
        }
        struct timespec ts = {0, (long)(rand() % 20000) * 1000};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0));
        if (WIFEXITED(status))
            fprintf(stderr, "writer exited with %d\n", WEXITSTATUS(status));
        ssize_t r;
        while (nacked + BATCH <= MAX_ACKS &&
               (r = read(p[0], &acked[nacked], sizeof(ack_t) * BATCH)) > 0) {
            assert_int_equal(r % (ssize_t)sizeof(ack_t), 0);
            nacked += (size_t)r / sizeof(ack_t);
        }
        close(p[0]);

        /* Every acknowledged version is there, byte for byte. */
        sz_store_t *s = NULL;
        char err[256] = "";
        sz_store_options_t o = {.errbuf = err, .errlen = sizeof(err)};
        int rc = sz_store_open(&s, dir, &o);
        if (rc != 0)
            fprintf(stderr, "reopen after kill %d: %s\n", round, err);
        assert_int_equal(rc, 0);
        for (size_t i = 0; i < nacked; i++) {
            uint8_t *buf;
            size_t len;
            assert_int_equal(sz_store_get_version(s, acked[i].hash, &buf, &len), 0);
            uint8_t h[32];
            crypto_hash_sha256(h, buf, len);
            assert_memory_equal(h, acked[i].hash, 32);
            free(buf);
        }
        sz_store_stats_t st;
        assert_int_equal(sz_store_stats(s, &st), 0);
        assert_true(st.versions >= nacked);
        sz_store_close(s);
    }
    fprintf(stderr, "%zu acknowledged versions survived %d kills\n", nacked, KILLS);
    assert_true(nacked > 0);
    size_t problems = 99;
    assert_int_equal(sz_maint_check(dir, NULL, NULL, &problems), 0);
    assert_int_equal(problems, 0);
    free(acked);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t pk[32];
    crypto_sign_keypair(pk, sk);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_writer),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
