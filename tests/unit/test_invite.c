/* Invites and HOST:PORT: round trips, and every class of malformed input with its own error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "encoding.h"
#include "error.h"
#include "invite.h"

static uint8_t node_pk[32], netkey[32];
static char nk_text[45], net_text[45];

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (int i = 0; i < 32; i++) {
        node_pk[i] = (uint8_t)(i * 7 + 1);
        netkey[i] = (uint8_t)(255 - i * 3);
    }
    sz_pubkey_format(nk_text, node_pk);
    sz_pubkey_format(net_text, netkey);
    return 0;
}

/* Builds "sz1,ADDR,NODEKEY,NETKEY" into out. */
static void make(char *out, size_t cap, const char *addr) {
    snprintf(out, cap, "sz1,%s,%s,%s", addr, nk_text, net_text);
}

static void test_round_trip(void **state) {
    (void)state;
    const struct {
        const char *host;
        uint16_t port;
        const char *text;
    } cases[] = {
        {"127.0.0.1", 7433, "127.0.0.1:7433"}, {"archive.example.org", 1, "archive.example.org:1"},
        {"::1", 65535, "[::1]:65535"},         {"[2001:db8::7]", 443, "[2001:db8::7]:443"},
        {"localhost", 80, "localhost:80"},     {"0.0.0.0", 7433, "0.0.0.0:7433"},
        {"a-b.c1.d", 9, "a-b.c1.d:9"},         {"::ffff:192.0.2.1", 10, "[::ffff:192.0.2.1]:10"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[SZ_INVITE_BUF], want[SZ_INVITE_BUF];
        int n = sz_invite_format(text, sizeof(text), cases[i].host, cases[i].port, node_pk, netkey);
        assert_true(n > 0);
        assert_int_equal((size_t)n, strlen(text));
        make(want, sizeof(want), cases[i].text);
        assert_string_equal(text, want);
        sz_invite_t inv;
        assert_int_equal(sz_invite_parse(text, &inv), 0);
        const char *bare = cases[i].host[0] == '[' ? cases[i].host + 1 : cases[i].host;
        assert_memory_equal(inv.host, bare, strlen(bare) - (cases[i].host[0] == '[' ? 1 : 0));
        assert_int_equal(inv.port, cases[i].port);
        assert_memory_equal(inv.node_key, node_pk, 32);
        assert_memory_equal(inv.network_key, netkey, 32);
        sz_invite_wipe(&inv);
        uint8_t zero[sizeof(inv)] = {0};
        assert_memory_equal(&inv, zero, sizeof(inv));
    }
}

static void test_trailing_newline(void **state) {
    (void)state;
    char text[SZ_INVITE_BUF + 4];
    sz_invite_t inv;
    make(text, sizeof(text), "10.0.0.1:7433");
    strcat(text, "\n");
    assert_int_equal(sz_invite_parse(text, &inv), 0);
    make(text, sizeof(text), "10.0.0.1:7433");
    strcat(text, "\r\n");
    assert_int_equal(sz_invite_parse(text, &inv), 0);
    make(text, sizeof(text), "10.0.0.1:7433");
    strcat(text, "\n\n");
    assert_int_equal(sz_invite_parse(text, &inv), SZ_E_MALFORMED);
    make(text, sizeof(text), "10.0.0.1:7433");
    strcat(text, "\nsz1");
    assert_int_equal(sz_invite_parse(text, &inv), SZ_E_MALFORMED);
}

static void expect(const char *text, int err) {
    sz_invite_t inv;
    memset(&inv, 0xAA, sizeof(inv));
    const char *why = NULL;
    int rc = sz_invite_parse_why(text, &inv, &why);
    if (rc != err)
        fail_msg("'%s': got %d (%s), expected %d", text, rc, why ? why : "-", err);
    if (err != 0) {
        assert_non_null(why);
        assert_true(strlen(why) > 10);
        /* A refused invite leaves no bytes of a network key behind. */
        uint8_t zero[sizeof(inv)] = {0};
        assert_memory_equal(&inv, zero, sizeof(inv));
    }
}

static void expect_addr(const char *addr, int err) {
    char text[1024];
    make(text, sizeof(text), addr);
    expect(text, err);
}

static void test_bad_structure(void **state) {
    (void)state;
    char text[2048];
    expect("", SZ_E_MALFORMED);
    expect("sz1", SZ_E_MALFORMED);
    expect("sz1,", SZ_E_MALFORMED);
    expect("hello world", SZ_E_MALFORMED);
    expect("127.0.0.1:7433", SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "SZ1,1.2.3.4:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz2,1.2.3.4:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_VERSION);
    snprintf(text, sizeof(text), "sz10,1.2.3.4:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_VERSION);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s", nk_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s,", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s,extra", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), " sz1,1.2.3.4:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s ", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1, 1.2.3.4:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s\t", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s\x01,%s", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,h\xc3\xa9.example:5,%s,%s", nk_text, net_text);
    expect(text, SZ_E_MALFORMED);
    snprintf(text, sizeof(text), "sz1,,%s,%s", nk_text, net_text);
    expect(text, SZ_E_ARGUMENT);
    /* Too long: a host of 300 characters, and a whole line past the limit. */
    char host[400];
    memset(host, 'a', 300);
    strcpy(host + 300, ":1");
    expect_addr(host, SZ_E_TOO_LARGE);
    memset(text, 'x', 1500);
    memcpy(text, "sz1,", 4);
    text[1500] = '\0';
    expect(text, SZ_E_TOO_LARGE);
}

static void test_bad_address(void **state) {
    (void)state;
    const char *bad_arg[] = {
        "1.2.3.4:0",     "1.2.3.4:65536", "1.2.3.4:99999", "1.2.3.4:",    "1.2.3.4",
        "1.2.3.4:07433", "1.2.3.4:-1",    "1.2.3.4:+1",    "1.2.3.4:1x",  "1.2.3.4:123456",
        ":7433",         "[::1]",         "[::1]7433",     "1.2.3.4.5:1", "256.1.1.1:1",
        "01.2.3.4:1",    "1.2.3:1",       "1..2.3:1",      "::1:7433",    "[::1:7433",
        "[]:1",          "[1.2.3.4]:1",   "[zz::1]:1",     "-a.b:1",      "a-.b:1",
        "a..b:1",        "a.b.:1",        ".a:1",          "a_b:1",       "a/b:1",
        "a@b:1",         "123:1",
    };
    for (size_t i = 0; i < sizeof(bad_arg) / sizeof(bad_arg[0]); i++)
        expect_addr(bad_arg[i], SZ_E_ARGUMENT);
    char label[80];
    memset(label, 'a', 64);
    strcpy(label + 64, ".b:1");
    expect_addr(label, SZ_E_ARGUMENT);
    /* One character less: a 63-character label is the longest allowed. */
    expect_addr(label + 1, 0);
    const char *good[] = {"1.2.3.4:1",   "255.255.255.255:65535",   "0.0.0.0:1", "[::]:1",
                          "[fe80::1]:2", "xn--bcher-kva.example:3", "A.B:4",     "host9:5"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        expect_addr(good[i], 0);
}

static void test_bad_keys(void **state) {
    (void)state;
    char text[2048];
    char short_key[44];
    memcpy(short_key, nk_text, 43);
    short_key[43] = '\0';
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", short_key, net_text);
    expect(text, SZ_E_KEY);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%sA,%s", nk_text, net_text);
    expect(text, SZ_E_KEY);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,,%s", net_text);
    expect(text, SZ_E_KEY);
    char bad[45];
    memcpy(bad, nk_text, 45);
    bad[5] = '*';
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", bad, net_text);
    expect(text, SZ_E_KEY);
    /* URL-safe alphabet is not the text form. */
    memcpy(bad, nk_text, 45);
    bad[5] = '-';
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", bad, net_text);
    expect(text, SZ_E_KEY);
    /* Non-canonical: the last character's unused bits set. */
    uint8_t z[32] = {0};
    char canon[45];
    sz_pubkey_format(canon, z);
    assert_int_equal(canon[42], 'A');
    canon[42] = 'B';
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", canon, net_text);
    expect(text, SZ_E_KEY);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", nk_text, canon);
    expect(text, SZ_E_CRYPTO);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", nk_text, short_key);
    expect(text, SZ_E_CRYPTO);
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,", nk_text);
    expect(text, SZ_E_CRYPTO);
    /* Padding in the wrong place. */
    memcpy(bad, net_text, 45);
    bad[10] = '=';
    snprintf(text, sizeof(text), "sz1,1.2.3.4:5,%s,%s", nk_text, bad);
    expect(text, SZ_E_CRYPTO);
}

static void test_errors_distinct(void **state) {
    (void)state;
    const int codes[] = {SZ_E_TOO_LARGE, SZ_E_VERSION, SZ_E_MALFORMED,
                         SZ_E_ARGUMENT,  SZ_E_KEY,     SZ_E_CRYPTO};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = i + 1; j < 6; j++)
            assert_string_not_equal(sz_invite_strerror(codes[i]), sz_invite_strerror(codes[j]));
    assert_string_equal(sz_invite_strerror(-2), sz_strerror(-2));
}

static void test_hostport(void **state) {
    (void)state;
    char host[SZ_HOST_BUF];
    uint16_t port = 0;
    const char *why = NULL;
    assert_int_equal(sz_hostport_parse("127.0.0.1:7433", host, &port, &why), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7433);
    assert_int_equal(sz_hostport_parse("[::1]:9\n", host, &port, &why), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    assert_int_equal(sz_hostport_parse("example.org:65535", host, &port, NULL), 0);
    assert_int_equal(sz_hostport_parse("example.org:65536", host, &port, &why), SZ_E_ARGUMENT);
    assert_non_null(strstr(why, "port"));
    assert_int_equal(sz_hostport_parse("example.org", host, &port, &why), SZ_E_MALFORMED);
    assert_int_equal(sz_hostport_parse("::1:80", host, &port, &why), SZ_E_MALFORMED);
    assert_non_null(strstr(why, "brackets"));
    assert_int_equal(sz_hostport_parse(" a:1", host, &port, &why), SZ_E_MALFORMED);
    assert_int_equal(sz_hostport_parse("a:1 ", host, &port, &why), SZ_E_MALFORMED);
    assert_int_equal(sz_hostport_parse("", host, &port, &why), SZ_E_MALFORMED);
    char big[600];
    memset(big, 'a', 500);
    strcpy(big + 500, ":1");
    assert_int_equal(sz_hostport_parse(big, host, &port, &why), SZ_E_TOO_LARGE);
    /* 253 characters is the longest name. */
    char name[300];
    for (int i = 0; i < 253; i++)
        name[i] = (i % 50 == 49) ? '.' : 'b';
    strcpy(name + 253, ":1");
    assert_int_equal(sz_hostport_parse(name, host, &port, &why), 0);
    assert_int_equal(strlen(host), 253);
    memmove(name + 1, name, strlen(name) + 1);
    name[0] = 'c';
    assert_int_equal(sz_hostport_parse(name, host, &port, &why), SZ_E_TOO_LARGE);

    char out[SZ_HOSTPORT_MAX + 1];
    assert_int_equal(sz_hostport_format(out, sizeof(out), "::1", 7), 5 + 2);
    assert_string_equal(out, "[::1]:7");
    assert_int_equal(sz_hostport_format(out, sizeof(out), "a b", 7), SZ_E_ARGUMENT);
    assert_int_equal(sz_hostport_format(out, sizeof(out), "a", 0), SZ_E_ARGUMENT);
    assert_int_equal(sz_hostport_format(out, 4, "abc", 7), SZ_E_TOO_LARGE);
    assert_int_equal(sz_hostport_format(out, 6, "abc", 7), 5);
}

static void test_format_errors(void **state) {
    (void)state;
    char text[SZ_INVITE_BUF];
    assert_int_equal(sz_invite_format(text, sizeof(text), "bad host", 1, node_pk, netkey),
                     SZ_E_ARGUMENT);
    assert_int_equal(sz_invite_format(text, sizeof(text), "h", 0, node_pk, netkey), SZ_E_ARGUMENT);
    char small[60];
    memset(small, 'x', sizeof(small));
    assert_int_equal(sz_invite_format(small, sizeof(small), "h", 1, node_pk, netkey),
                     SZ_E_TOO_LARGE);
    uint8_t zero[sizeof(small)] = {0};
    assert_memory_equal(small, zero, sizeof(small));
    /* The longest host fits the documented buffer. */
    char host[SZ_HOST_MAX + 1];
    for (int i = 0; i < SZ_HOST_MAX; i++)
        host[i] = (i % 60 == 59) ? '.' : 'q';
    host[SZ_HOST_MAX] = '\0';
    int n = sz_invite_format(text, sizeof(text), host, 65535, node_pk, netkey);
    assert_true(n > 0 && n <= SZ_INVITE_MAX);
    sz_invite_t inv;
    assert_int_equal(sz_invite_parse(text, &inv), 0);
    assert_string_equal(inv.host, host);
}

static void test_looks_like(void **state) {
    (void)state;
    assert_true(sz_invite_looks_like("sz1,x"));
    assert_true(sz_invite_looks_like("sz42,"));
    assert_false(sz_invite_looks_like("sz,"));
    assert_false(sz_invite_looks_like("127.0.0.1:7433"));
    assert_false(sz_invite_looks_like("sz1"));
    assert_false(sz_invite_looks_like(""));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_trailing_newline),
        cmocka_unit_test(test_bad_structure), cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_bad_keys),      cmocka_unit_test(test_errors_distinct),
        cmocka_unit_test(test_hostport),      cmocka_unit_test(test_format_errors),
        cmocka_unit_test(test_looks_like),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
