/* The client transport (client/net.h) against a real samizdatd started here on loopback with a
 * temporary data folder ($SAMIZDATD), and what the shell tests cannot set up:
 *   - pipelining: many requests of different types queued at once, answers matched by request id;
 *   - a record in conflict (two sibling versions submitted directly), merged by the real
 *     `samizdat amend` ($SAMIZDAT): the new version's parents are both heads;
 *   - an unknown message type answered with ERROR while the connection stays usable;
 *   - a payload above SZ_MSG_MAX refused locally, before anything is sent;
 *   - a pinned node key that does not match: SZ_E_KEY and the one-line reason;
 *   - a raw frame with a flipped byte written into a live session: the node closes that
 *     connection only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "encoding.h"
#include "error.h"
#include "invite.h"
#include "keyfile.h"
#include "msg.h"
#include "net.h"
#include "record.h"

static char tmpdir[PATH_MAX];
static char invite_text[SZ_INVITE_BUF + 8];
static pid_t daemon_pid = -1;
static uint8_t *sk;
static char key_path[PATH_MAX + 16];

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static void stop_daemon(void) {
    if (daemon_pid <= 0)
        return;
    kill(daemon_pid, SIGTERM);
    int st;
    for (int i = 0; i < 100 && waitpid(daemon_pid, &st, WNOHANG) != daemon_pid; i++)
        usleep(100000);
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, &st, 0);
    daemon_pid = -1;
}

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("SAMIZDATD");
    if (bin == NULL || sodium_init() < 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof(tmpdir), "%s/sz-netclient.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    char dir[PATH_MAX + 8], listen[64], path[PATH_MAX + 16], log[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/node", tmpdir);
    snprintf(path, sizeof(path), "%s/invite", dir);
    snprintf(log, sizeof(log), "%s/daemon.log", tmpdir);
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", free_port());
    daemon_pid = fork();
    if (daemon_pid < 0)
        return -1;
    if (daemon_pid == 0) {
        if (freopen(log, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl(bin, bin, "--data", dir, "--listen", listen, (char *)NULL);
        _exit(127);
    }
    /* Ready once the log says it listens (bounded: 30 s). */
    for (int i = 0; i < 300; i++) {
        char line[1024];
        int listening = 0;
        FILE *f = fopen(log, "r");
        while (f != NULL && fgets(line, sizeof(line), f) != NULL)
            listening |= strstr(line, "event=listen") != NULL;
        if (f != NULL)
            fclose(f);
        f = listening ? fopen(path, "r") : NULL;
        if (f != NULL) {
            size_t n = fread(invite_text, 1, sizeof(invite_text) - 1, f);
            fclose(f);
            while (n > 0 && (invite_text[n - 1] == '\n' || invite_text[n - 1] == '\r'))
                n--;
            invite_text[n] = '\0';
            if (n > 0)
                break;
        }
        usleep(100000);
    }
    if (invite_text[0] == '\0') {
        stop_daemon();
        return -1;
    }
    if (sz_secretkey_generate(&sk) != 0)
        return -1;
    char *text = NULL;
    if (sz_keyfile_encode(&text, sk, NULL, 0, NULL) != 0)
        return -1;
    snprintf(key_path, sizeof(key_path), "%s/client.key", tmpdir);
    FILE *f = fopen(key_path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    fclose(f);
    chmod(key_path, 0600);
    sz_keyfile_text_free(text);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    stop_daemon();
    sz_secretkey_free(sk);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Connects with the invite; pin may replace the pinned key. */
static int connect_node(sz_net_t **c, const uint8_t *pin, char *why, size_t cap) {
    sz_invite_t inv;
    assert_int_equal(sz_invite_parse(invite_text, &inv), 0);
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)inv.port);
    sz_net_params_t p = {.host = inv.host,
                         .port = port,
                         .network_key = inv.network_key,
                         .node_key = pin != NULL ? pin : inv.node_key,
                         .secret_key = sk,
                         .timeout_ms = 20000};
    int rc = sz_net_connect(c, &p, why, cap);
    sz_invite_wipe(&inv);
    return rc;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Signs a testimony whose title carries n, as a first version or a child of parents. */
static void sign_testimony(unsigned n, const uint8_t *record_id, const uint8_t *parents,
                           unsigned nparents, uint8_t **env, size_t *len, uint8_t version[32]) {
    char body[512];
    snprintf(body, sizeof(body),
             "{\"title\":\"netclient test %u (fictional)\",\"statement\":{\"text\":\"t %u\","
             "\"language\":\"en\"},\"witness\":{\"role\":\"civilian\"},\"consent\":{\"scope\":"
             "\"archive-only\"},\"act_types\":[\"other\"]}",
             n, n);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = now_ms() + n,
                            .record_id = record_id,
                            .parents = parents,
                            .nparents = (uint8_t)nparents,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)strlen(body)};
    assert_int_equal(sz_record_sign(&f, sk, env, len), 0);
    sz_record_t rec;
    assert_int_equal(sz_record_open(&rec, *env, *len, version), 0);
}

static void submit(sz_net_t *c, const uint8_t *env, size_t len, sz_msg_submitted_t *ack) {
    sz_msg_t m;
    assert_int_equal(sz_net_call(c, SZ_MSG_SUBMIT, env, len, &m), 0);
    assert_int_equal(m.header.type, SZ_MSG_SUBMITTED);
    assert_int_equal(sz_msg_submitted_decode(ack, m.payload, m.len), 0);
}

static void test_pipelining(void **state) {
    (void)state;
    sz_net_t *c = NULL;
    char why[SZ_NET_ERROR_MAX];
    assert_int_equal(connect_node(&c, NULL, why, sizeof(why)), 0);
    assert_true(sz_net_max_inflight(c) >= 1);
    enum { N = 60 };
    uint8_t *env[N];
    size_t len[N];
    uint8_t ver[N][32];
    uint32_t ids[2 * N];
    int answered[2 * N];
    memset(answered, 0, sizeof(answered));
    for (unsigned i = 0; i < N; i++)
        sign_testimony(100 + i, NULL, NULL, 0, &env[i], &len[i], ver[i]);
    /* A SUBMIT and a GET of the same record, for every record, all queued before any answer is
     * read: the GET may be answered before or after its SUBMIT commits. */
    for (unsigned i = 0; i < N; i++) {
        ids[2 * i] = sz_net_next_id(c);
        assert_int_equal(sz_net_queue(c, SZ_MSG_SUBMIT, ids[2 * i], env[i], len[i]), 0);
        sz_msg_get_t g;
        memset(&g, 0, sizeof(g));
        sz_hex_encode(g.id, ver[i], 32);
        uint8_t buf[256];
        size_t n = 0;
        assert_int_equal(sz_msg_get_encode(&g, buf, sizeof(buf), &n), 0);
        ids[2 * i + 1] = sz_net_next_id(c);
        assert_int_equal(sz_net_queue(c, SZ_MSG_GET, ids[2 * i + 1], buf, n), 0);
    }
    assert_true(sz_net_pending(c) > 0);
    for (unsigned k = 0; k < 2 * N; k++) {
        sz_msg_t m;
        assert_int_equal(sz_net_recv(c, &m), 0);
        unsigned slot = 2 * N;
        for (unsigned j = 0; j < 2 * N; j++)
            if (ids[j] == m.header.request_id)
                slot = j;
        assert_true(slot < 2 * N);
        assert_false(answered[slot]);
        answered[slot] = 1;
        if (slot % 2 == 0) {
            sz_msg_submitted_t ack;
            assert_int_equal(m.header.type, SZ_MSG_SUBMITTED);
            assert_int_equal(sz_msg_submitted_decode(&ack, m.payload, m.len), 0);
            assert_memory_equal(ack.version_hash, ver[slot / 2], 32);
        } else if (m.header.type == SZ_MSG_RECORD) {
            sz_msg_record_t r;
            assert_int_equal(sz_msg_record_decode(&r, m.payload, m.len), 0);
            assert_memory_equal(r.version_hash, ver[slot / 2], 32);
            assert_int_equal(r.envelope_len, len[slot / 2]);
            assert_memory_equal(r.envelope, env[slot / 2], len[slot / 2]);
        } else {
            /* Not committed yet when the GET ran. */
            assert_int_equal(m.header.type, SZ_MSG_ERROR);
            assert_int_equal(sz_net_take_error(c, &m), SZ_E_NOT_FOUND);
        }
    }
    for (unsigned i = 0; i < N; i++)
        free(env[i]);
    sz_net_close(c);
}

static void test_conflict_merged_by_amend(void **state) {
    (void)state;
    sz_net_t *c = NULL;
    char why[SZ_NET_ERROR_MAX];
    assert_int_equal(connect_node(&c, NULL, why, sizeof(why)), 0);
    uint8_t *e1, *ea, *eb;
    size_t l1, la, lb;
    uint8_t v1[32], va[32], vb[32];
    sz_msg_submitted_t ack;
    sign_testimony(1, NULL, NULL, 0, &e1, &l1, v1);
    submit(c, e1, l1, &ack);
    assert_true(ack.flags & SZ_SUBMIT_NEW_RECORD);
    sign_testimony(2, v1, v1, 1, &ea, &la, va);
    sign_testimony(3, v1, v1, 1, &eb, &lb, vb);
    submit(c, ea, la, &ack);
    assert_false(ack.flags & SZ_SUBMIT_CONFLICT);
    submit(c, eb, lb, &ack);
    assert_true(ack.flags & SZ_SUBMIT_CONFLICT);
    assert_memory_equal(ack.record_id, v1, 32);

    char id[SZ_HASH_HEX_LEN + 1], body[PATH_MAX + 16], out[PATH_MAX + 16], cmd[4 * PATH_MAX];
    sz_hex_encode(id, v1, 32);
    snprintf(body, sizeof(body), "%s/merge.json", tmpdir);
    snprintf(out, sizeof(out), "%s/merge.out", tmpdir);
    FILE *f = fopen(body, "w");
    assert_non_null(f);
    fputs("{\"title\":\"merged (fictional)\",\"statement\":{\"text\":\"m\",\"language\":\"en\"},"
          "\"witness\":{\"role\":\"civilian\"},\"consent\":{\"scope\":\"archive-only\"},"
          "\"act_types\":[\"other\"]}",
          f);
    fclose(f);
    const char *cli = getenv("SAMIZDAT");
    assert_non_null(cli);
    snprintf(cmd, sizeof(cmd), "SAMIZDAT_NODE='%s' '%s' --key '%s' amend %.12s '%s' >'%s'",
             invite_text, cli, key_path, id, body, out);
    assert_int_equal(system(cmd), 0);
    char merged_hex[80] = "";
    f = fopen(out, "r");
    assert_non_null(f);
    assert_non_null(fgets(merged_hex, sizeof(merged_hex), f));
    fclose(f);
    merged_hex[strcspn(merged_hex, "\n")] = '\0';

    sz_msg_get_t g;
    memset(&g, 0, sizeof(g));
    snprintf(g.id, sizeof(g.id), "%s", id);
    uint8_t buf[256];
    size_t n = 0;
    assert_int_equal(sz_msg_get_encode(&g, buf, sizeof(buf), &n), 0);
    sz_msg_t m;
    assert_int_equal(sz_net_call(c, SZ_MSG_GET, buf, n, &m), 0);
    sz_msg_record_t r;
    assert_int_equal(sz_msg_record_decode(&r, m.payload, m.len), 0);
    assert_int_equal(r.nheads, 1);
    assert_int_equal(r.nversions, 4);
    char cur[SZ_HASH_HEX_LEN + 1];
    sz_hex_encode(cur, r.current, 32);
    assert_string_equal(cur, merged_hex);
    sz_record_t rec;
    assert_int_equal(sz_record_open(&rec, r.envelope, r.envelope_len, NULL), 0);
    assert_int_equal(rec.nparents, 2);
    int has_a = !memcmp(rec.parents, va, 32) || !memcmp(rec.parents + 32, va, 32);
    int has_b = !memcmp(rec.parents, vb, 32) || !memcmp(rec.parents + 32, vb, 32);
    assert_true(has_a && has_b);
    free(e1);
    free(ea);
    free(eb);
    sz_net_close(c);
}

static void test_unknown_type_and_local_limits(void **state) {
    (void)state;
    sz_net_t *c = NULL;
    char why[SZ_NET_ERROR_MAX];
    assert_int_equal(connect_node(&c, NULL, why, sizeof(why)), 0);
    sz_msg_t m;
    assert_int_equal(sz_net_call(c, 200, (const uint8_t *)"x", 1, &m), SZ_E_PROTOCOL);
    assert_int_equal(sz_net_call(c, 20, NULL, 0, &m), SZ_E_PROTOCOL); /* reserved */
    /* A payload above the message bound never leaves. */
    size_t big = SZ_MSG_MAX + 1;
    uint8_t *p = calloc(1, big);
    assert_non_null(p);
    assert_int_equal(sz_net_queue(c, SZ_MSG_SUBMIT, sz_net_next_id(c), p, big), SZ_E_TOO_LARGE);
    free(p);
    assert_int_equal(sz_net_pending(c), 0);
    /* Still usable. */
    assert_int_equal(sz_net_call(c, SZ_MSG_STATUS, NULL, 0, &m), 0);
    assert_int_equal(m.header.type, SZ_MSG_STATUS_OK);
    sz_net_close(c);
}

static void test_pinned_key_mismatch(void **state) {
    (void)state;
    uint8_t other[32];
    uint8_t *k2 = NULL;
    assert_int_equal(sz_secretkey_generate(&k2), 0);
    memcpy(other, k2 + 32, 32);
    sz_secretkey_free(k2);
    sz_net_t *c = NULL;
    char why[SZ_NET_ERROR_MAX];
    assert_int_equal(connect_node(&c, other, why, sizeof(why)), SZ_E_KEY);
    assert_null(c);
    char want[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(want, other);
    assert_non_null(strstr(why, "node key mismatch: expected "));
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "(wrong invite, or someone is intercepting)"));
    assert_null(strchr(why, '\n'));
}

static void test_tampered_frame_closes_only_that_connection(void **state) {
    (void)state;
    sz_net_t *bad = NULL, *good = NULL;
    char why[SZ_NET_ERROR_MAX];
    assert_int_equal(connect_node(&bad, NULL, why, sizeof(why)), 0);
    assert_int_equal(connect_node(&good, NULL, why, sizeof(why)), 0);
    /* A frame of the right shape whose bytes are random, written straight into the session:
     * the node cannot authenticate it and must close this connection, and only this one. */
    uint8_t frame[4 + 6 + 16];
    assert_int_equal(sz_frame_header_encode(frame, 22), 0);
    randombytes_buf(frame + 4, 22);
    assert_int_equal(send(sz_net_fd(bad), frame, sizeof(frame), MSG_NOSIGNAL),
                     (ssize_t)sizeof(frame));
    sz_msg_t m;
    int rc = sz_net_call(bad, SZ_MSG_STATUS, NULL, 0, &m);
    assert_int_equal(rc, -ECONNRESET);
    assert_non_null(strstr(sz_net_error(bad), "closed the connection"));
    assert_int_equal(sz_net_call(good, SZ_MSG_STATUS, NULL, 0, &m), 0);
    assert_int_equal(m.header.type, SZ_MSG_STATUS_OK);
    sz_net_close(bad);
    sz_net_close(good);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipelining),
        cmocka_unit_test(test_conflict_merged_by_amend),
        cmocka_unit_test(test_unknown_type_and_local_limits),
        cmocka_unit_test(test_pinned_key_mismatch),
        cmocka_unit_test(test_tampered_frame_closes_only_that_connection),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
