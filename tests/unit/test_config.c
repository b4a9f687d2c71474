/* The config table and parser: every type, bounds, unknown keys, duplicates, lists, and the
 * generated default file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "encoding.h"
#include "error.h"
#include "frame.h"
#include "invite.h"
#include "log.h"

static char err[SZ_CONFIG_ERR_MAX];

static int parse(sz_config_t *cfg, const char *text) {
    err[0] = '\0';
    assert_int_equal(sz_config_init(cfg), 0);
    return sz_config_parse(cfg, text, strlen(text), "test.conf", err, sizeof(err));
}

/* Parses text, expects SZ_E_CONFIG and an error containing each of the fragments. */
static void expect_error(const char *text, const char *frag1, const char *frag2) {
    sz_config_t cfg;
    int rc = parse(&cfg, text);
    sz_config_free(&cfg);
    if (rc != SZ_E_CONFIG)
        fail_msg("'%s' gave %d, expected SZ_E_CONFIG", text, rc);
    if (strstr(err, frag1) == NULL || (frag2 && strstr(err, frag2) == NULL))
        fail_msg("'%s': error '%s' lacks '%s' / '%s'", text, err, frag1, frag2 ? frag2 : "");
    assert_null(strchr(err, '\n'));
}

static void test_defaults(void **state) {
    (void)state;
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    assert_string_equal(cfg.listen.host, "127.0.0.1");
    assert_int_equal(cfg.listen.port, 7433);
    assert_string_equal(cfg.advertise.host, "");
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.max_frame, SZ_FRAME_MAX);
    assert_int_equal(cfg.max_message, SZ_MSG_MAX);
    assert_int_equal(cfg.submission, SZ_SUBMISSION_OPEN);
    assert_int_equal(cfg.log_level, SZ_LOG_INFO);
    assert_int_equal(cfg.log_connections, 1);
    assert_int_equal(cfg.map_max_size, 1ull << 40);
    assert_int_equal(cfg.max_write_queue, 8u << 20);
    assert_int_equal(cfg.max_request_bytes, 64u << 20);
    assert_int_equal(cfg.max_request_memory, 256u << 20);
    assert_int_equal(cfg.batch_max_records, 8192);
    assert_int_equal(cfg.max_inflight_per_conn, 65535);
    assert_int_equal(cfg.admins.n, 0);
    assert_int_equal(cfg.peers.n, 0);
    assert_true(cfg.handshake_timeout_ms > 0 && cfg.idle_timeout_ms > cfg.handshake_timeout_ms);
    assert_true(cfg.batch_max_records > 0 && cfg.max_inflight_per_conn > 0);
    sz_config_free(&cfg);
}

static void test_table(void **state) {
    (void)state;
    size_t n;
    const sz_config_entry_t *t = sz_config_table(&n);
    assert_true(n >= 20);
    const char *required[] = {"listen",
                              "max_connections",
                              "handshake_timeout_ms",
                              "idle_timeout_ms",
                              "max_frame",
                              "max_inflight_per_conn",
                              "max_request_bytes",
                              "max_request_memory",
                              "batch_max_records",
                              "submission",
                              "contributor",
                              "admin",
                              "editor",
                              "log_level",
                              "map_max_size",
                              "seal_to",
                              "peer"};
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        assert_non_null(sz_config_find(required[i]));
    assert_null(sz_config_find("nope"));
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].description);
        assert_true(strlen(t[i].description) > 10);
        assert_null(strchr(t[i].description, '\n'));
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(t[i].name, t[j].name);
        if (t[i].type == SZ_CFG_INT || t[i].type == SZ_CFG_SIZE)
            assert_true(t[i].min <= t[i].max);
        if (t[i].type == SZ_CFG_INT)
            assert_true(t[i].max <= UINT32_MAX);
        if (t[i].type == SZ_CFG_ENUM)
            assert_non_null(t[i].choices);
    }
    assert_true(sz_config_find("max_frame")->max <= SZ_FRAME_MAX);
}

static void test_every_type(void **state) {
    (void)state;
    uint8_t k1[32], k2[32], net[32];
    memset(k1, 1, 32);
    memset(k2, 2, 32);
    memset(net, 3, 32);
    char t1[45], t2[45], inv[SZ_INVITE_BUF], text[2048];
    sz_pubkey_format(t1, k1);
    sz_pubkey_format(t2, k2);
    assert_true(sz_invite_format(inv, sizeof(inv), "peer.example", 7433, k2, net) > 0);
    snprintf(text, sizeof(text),
             "# a comment\n"
             "\n"
             "   # an indented comment\n"
             "listen = 0.0.0.0:9000\n"
             "advertise=[2001:db8::1]:9000\r\n"
             "\tnode_name =  Kyiv reading room  \n"
             "max_connections = 5\n"
             "map_max_size = 2G\n"
             "max_write_queue = 65536\n"
             "log_connections = off\n"
             "submission = allowlist\n"
             "log_level = debug\n"
             "contributor = %s\n"
             "contributor = %s\n"
             "contributor = %s\n"
             "editor = %s\n"
             "peer = %s\n"
             "seal_to = %s",
             t1, t2, t1, t2, inv, t1);
    sz_config_t cfg;
    int rc = parse(&cfg, text);
    if (rc != 0)
        fail_msg("%s", err);
    assert_string_equal(cfg.listen.host, "0.0.0.0");
    assert_int_equal(cfg.listen.port, 9000);
    assert_string_equal(cfg.advertise.host, "2001:db8::1");
    assert_string_equal(cfg.node_name, "Kyiv reading room");
    assert_int_equal(cfg.max_connections, 5);
    assert_int_equal(cfg.map_max_size, 2ull << 30);
    assert_int_equal(cfg.max_write_queue, 65536);
    assert_int_equal(cfg.log_connections, 0);
    assert_int_equal(cfg.submission, SZ_SUBMISSION_ALLOWLIST);
    assert_int_equal(cfg.log_level, SZ_LOG_DEBUG);
    /* A repeated key in a list is kept once. */
    assert_int_equal(cfg.contributors.n, 2);
    assert_true(sz_keylist_has(&cfg.contributors, k1));
    assert_true(sz_keylist_has(&cfg.contributors, k2));
    assert_int_equal(cfg.editors.n, 1);
    assert_int_equal(cfg.seal_to.n, 1);
    assert_int_equal(cfg.peers.n, 1);
    assert_string_equal(cfg.peers.items[0], inv);
    char v[512];
    assert_true(sz_config_value_text(v, sizeof(v), &cfg, sz_config_find("contributor")) > 0);
    assert_non_null(strstr(v, t1));
    assert_non_null(strstr(v, ", "));
    assert_true(sz_config_value_text(v, sizeof(v), &cfg, sz_config_find("peer")) > 0);
    assert_string_equal(v, "(1 invites)"); /* never the network key */
    assert_true(sz_config_value_text(v, sizeof(v), &cfg, sz_config_find("map_max_size")) > 0);
    assert_string_equal(v, "2G");
    assert_true(sz_config_value_text(v, sizeof(v), &cfg, sz_config_find("advertise")) > 0);
    assert_string_equal(v, "[2001:db8::1]:9000");
    assert_int_equal(sz_config_value_text(v, 10, &cfg, sz_config_find("contributor")),
                     SZ_E_TOO_LARGE);
    sz_config_free(&cfg);
}

static void test_bools_and_sizes(void **state) {
    (void)state;
    const char *yes[] = {"yes", "true", "on", "1"};
    const char *no[] = {"no", "false", "off", "0"};
    for (int i = 0; i < 4; i++) {
        sz_config_t cfg;
        char text[64];
        snprintf(text, sizeof(text), "log_connections = %s\n", yes[i]);
        assert_int_equal(parse(&cfg, text), 0);
        assert_int_equal(cfg.log_connections, 1);
        sz_config_free(&cfg);
        snprintf(text, sizeof(text), "log_connections = %s\n", no[i]);
        assert_int_equal(parse(&cfg, text), 0);
        assert_int_equal(cfg.log_connections, 0);
        sz_config_free(&cfg);
    }
    expect_error("log_connections = maybe\n", "test.conf:1", "yes or no");
    struct {
        const char *v;
        uint64_t want;
    } sizes[] = {{"16M", 16ull << 20},    {"16m", 16ull << 20},         {"1t", 1ull << 40},
                 {"65536K", 64ull << 20}, {"17179869184", 16ull << 30}, {"64T", 64ull << 40}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        sz_config_t cfg;
        char text[64];
        snprintf(text, sizeof(text), "map_max_size = %s\n", sizes[i].v);
        if (parse(&cfg, text) != 0)
            fail_msg("%s: %s", sizes[i].v, err);
        assert_int_equal(cfg.map_max_size, sizes[i].want);
        sz_config_free(&cfg);
    }
    expect_error("map_max_size = 15M\n", "below the minimum 16M", "map_max_size");
    expect_error("map_max_size = 65T\n", "above the maximum 64T", NULL);
    expect_error("map_max_size = 1P\n", "not a size", NULL);
    expect_error("map_max_size = 1MB\n", "not a size", NULL);
    expect_error("map_max_size = M\n", "not a size", NULL);
    expect_error("map_max_size = 1.5G\n", "not a size", NULL);
    expect_error("map_max_size = 99999999999999999999\n", "map_max_size", NULL);
    expect_error("map_max_size = 18014398509481984T\n", "too large", NULL);
}

static void test_bounds(void **state) {
    (void)state;
    expect_error("max_connections = 0\n", "below the minimum 1", "test.conf:1");
    expect_error("max_connections = 1000001\n", "above the maximum 1000000", "max_connections");
    expect_error("max_connections = -1\n", "not a whole number", NULL);
    expect_error("max_connections = 10x\n", "not a whole number", NULL);
    expect_error("max_connections = 4294967296\n", "above the maximum", NULL);
    expect_error("max_frame = 65536\n", "above the maximum 65535", NULL);
    expect_error("batch_max_records = 0\n", "below the minimum 1", NULL);
    expect_error("max_inflight_per_conn = 65537\n", "above the maximum 65536", NULL);
    expect_error("max_request_memory = 512K\n", "below the minimum 1M", "max_request_memory");
    /* A key this release no longer has is unknown, not silently ignored. */
    expect_error("batch_max_delay_ms = 2\n", "batch_max_delay_ms", NULL);
    expect_error("\n\nmax_connections =\n", "test.conf:3", "no value");
    char text[200];
    memset(text, 0, sizeof(text));
    strcpy(text, "node_name = ");
    memset(text + 12, 'n', 65);
    expect_error(text, "maximum is 64", "node_name");
    expect_error("node_name = a\tb\n", "node_name holds a control character", NULL);
    expect_error("node_name = a\x1b[31m\n", "control character", NULL);
    expect_error("submission = closed\n", "not one of: open, allowlist", NULL);
    expect_error("log_level = trace\n", "error, warn, info, debug", NULL);
    expect_error("listen = 127.0.0.1\n", "not HOST:PORT", "listen");
    expect_error("listen = 127.0.0.1:0\n", "port", NULL);
    expect_error("listen = ::1:80\n", "brackets", NULL);
    expect_error("admin = not-a-key\n", "not a public key", "admin");
    expect_error("editor = AAAA\n", "not a public key", NULL);
    expect_error("peer = sz1,nope\n", "not a valid invite", "peer");
}

static void test_unknown_and_syntax(void **state) {
    (void)state;
    expect_error("# ok\nlisten = 127.0.0.1:1\nlisen = 1.2.3.4:5\n", "test.conf:3",
                 "unknown key 'lisen'");
    expect_error("just words\n", "test.conf:1", "expected `key = value`");
    expect_error("max_connections\n", "expected `max_connections = value`", NULL);
    expect_error("= 5\n", "expected `key = value`", NULL);
    expect_error("Max_Connections = 5\n", "test.conf:1", NULL);
    expect_error("max connections = 5\n", "expected `key = value`", NULL);
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    const char nul[] = "listen = 1.2.3.4:5\n\0x";
    assert_int_equal(sz_config_parse(&cfg, nul, sizeof(nul) - 1, "n.conf", err, sizeof(err)),
                     SZ_E_CONFIG);
    assert_non_null(strstr(err, "NUL"));
    sz_config_free(&cfg);
    char *huge = malloc(5000);
    memset(huge, 'x', 4999);
    huge[4999] = '\0';
    memcpy(huge, "node_name = ", 12);
    expect_error(huge, "longer than", NULL);
    free(huge);
}

static void test_duplicates(void **state) {
    (void)state;
    expect_error("listen = 127.0.0.1:1\nmax_connections = 2\nlisten = 127.0.0.1:2\n", "test.conf:3",
                 "listen is set twice (first on line 1)");
    expect_error("submission = open\nsubmission = open\n", "set twice", NULL);
    /* Across calls, a value given by a flag replaces the file's. */
    sz_config_t cfg;
    assert_int_equal(parse(&cfg, "listen = 127.0.0.1:1\n"), 0);
    assert_int_equal(sz_config_set(&cfg, "listen", "127.0.0.2:2", "--listen", SZ_CONFIG_OVERRIDE,
                                   err, sizeof(err)),
                     0);
    assert_string_equal(cfg.listen.host, "127.0.0.2");
    assert_int_equal(
        sz_config_set(&cfg, "nosuch", "1", "--nosuch", SZ_CONFIG_OVERRIDE, err, sizeof(err)),
        SZ_E_CONFIG);
    assert_non_null(strstr(err, "--nosuch: unknown key 'nosuch'"));
    sz_config_free(&cfg);
}

static void test_default_text_parses_back(void **state) {
    (void)state;
    char *text = NULL;
    assert_int_equal(sz_config_default_text(&text), 0);
    size_t n;
    const sz_config_entry_t *t = sz_config_table(&n);
    for (size_t i = 0; i < n; i++) {
        char needle[128];
        /* Every key is in the file with its description. */
        snprintf(needle, sizeof(needle), "%s = ", t[i].name);
        assert_non_null(strstr(text, needle));
        assert_non_null(strstr(text, t[i].description));
    }
    assert_non_null(strstr(text, "integer from 1 to 1000000; default: 1024"));
    sz_config_t a, b;
    assert_int_equal(sz_config_init(&a), 0);
    assert_int_equal(sz_config_init(&b), 0);
    int rc = sz_config_parse(&b, text, strlen(text), "default", err, sizeof(err));
    if (rc != 0)
        fail_msg("%s", err);
    for (size_t i = 0; i < n; i++) {
        char va[512], vb[512];
        assert_true(sz_config_value_text(va, sizeof(va), &a, &t[i]) >= 0);
        assert_true(sz_config_value_text(vb, sizeof(vb), &b, &t[i]) >= 0);
        assert_string_equal(va, vb);
    }
    sz_config_free(&a);
    sz_config_free(&b);
    free(text);
}

static void test_load_file(void **state) {
    (void)state;
    char path[] = "/tmp/sz-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "max_connections = 7\nbogus = 1\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    assert_int_equal(sz_config_load(&cfg, path, err, sizeof(err)), SZ_E_CONFIG);
    char want[128];
    snprintf(want, sizeof(want), "%s:2: unknown key 'bogus'", path);
    assert_non_null(strstr(err, want));
    sz_config_free(&cfg);
    unlink(path);
    assert_int_equal(sz_config_init(&cfg), 0);
    assert_int_equal(sz_config_load(&cfg, path, err, sizeof(err)), -2);
    assert_non_null(strstr(err, path));
    sz_config_free(&cfg);
}

static void test_keylist(void **state) {
    (void)state;
    sz_keylist_t l = {0};
    uint8_t k[32];
    for (int i = 0; i < 100; i++) {
        memset(k, i, 32);
        assert_int_equal(sz_keylist_add(&l, k), 0);
        assert_int_equal(sz_keylist_add(&l, k), 0);
    }
    assert_int_equal(l.n, 100);
    memset(k, 100, 32);
    assert_false(sz_keylist_has(&l, k));
    memset(k, 42, 32);
    assert_true(sz_keylist_has(&l, k));
    free(l.keys);
}

/* seal_to is announced in STATUS_OK, which carries at most 16 keys: a 17th line is refused
 * with a line naming the bound, and 16 distinct keys (plus repeats) are accepted. */
static void test_seal_to_bound(void **state) {
    (void)state;
    char text[17 * 64] = "", key[SZ_PUBKEY_TEXT_LEN + 1];
    uint8_t pk[32];
    size_t off = 0;
    for (int i = 0; i < 17; i++) {
        memset(pk, i + 1, 32);
        sz_pubkey_format(key, pk);
        off += (size_t)snprintf(text + off, sizeof(text) - off, "seal_to = %s\n", key);
        if (i == 15) {
            /* Repeating a key already listed is not a new entry. */
            off += (size_t)snprintf(text + off, sizeof(text) - off, "seal_to = %s\n", key);
            sz_config_t ok;
            int rc = parse(&ok, text);
            if (rc != 0)
                fail_msg("%s", err);
            assert_int_equal(ok.seal_to.n, 16);
            sz_config_free(&ok);
        }
    }
    sz_config_t cfg;
    assert_int_equal(parse(&cfg, text), SZ_E_CONFIG);
    assert_non_null(strstr(err, "more than 16 seal_to lines"));
    sz_config_free(&cfg);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),      cmocka_unit_test(test_table),
        cmocka_unit_test(test_every_type),    cmocka_unit_test(test_bools_and_sizes),
        cmocka_unit_test(test_bounds),        cmocka_unit_test(test_unknown_and_syntax),
        cmocka_unit_test(test_duplicates),    cmocka_unit_test(test_default_text_parses_back),
        cmocka_unit_test(test_load_file),     cmocka_unit_test(test_keylist),
        cmocka_unit_test(test_seal_to_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
