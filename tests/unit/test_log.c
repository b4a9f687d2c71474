/* The key=value log: level gating before evaluation, quoting, and sanitising peer text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "log.h"

static char captured[8192];
static size_t ncaptured;
static int nlines;

static void sink(void *arg, const char *line, size_t len) {
    (void)arg;
    assert_true(len > 0 && line[len - 1] == '\n');
    assert_true(ncaptured + len < sizeof(captured));
    memcpy(captured + ncaptured, line, len);
    ncaptured += len;
    captured[ncaptured] = '\0';
    nlines++;
}

static int setup(void **state) {
    (void)state;
    ncaptured = 0;
    nlines = 0;
    captured[0] = '\0';
    sz_log_set_sink(sink, NULL);
    sz_log_set_level(SZ_LOG_INFO);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    sz_log_set_sink(NULL, NULL);
    return 0;
}

static int evaluations;
static const char *counted(const char *s) {
    evaluations++;
    return s;
}

static void test_level_gating(void **state) {
    (void)state;
    evaluations = 0;
    SZ_LOG(SZ_LOG_DEBUG, "noisy", SZ_LF_STR("x", counted("y")));
    assert_int_equal(evaluations, 0);
    assert_int_equal(nlines, 0);
    SZ_LOG(SZ_LOG_INFO, "ok", SZ_LF_STR("x", counted("y")));
    assert_int_equal(evaluations, 1);
    assert_int_equal(nlines, 1);
    sz_log_set_level(SZ_LOG_ERROR);
    SZ_LOG(SZ_LOG_WARN, "w", SZ_LF_STR("x", counted("y")));
    SZ_LOG(SZ_LOG_INFO, "i", SZ_LF_STR("x", counted("y")));
    SZ_LOG_EVENT(SZ_LOG_WARN, "w");
    assert_int_equal(evaluations, 1);
    assert_int_equal(nlines, 1);
    SZ_LOG(SZ_LOG_ERROR, "e", SZ_LF_STR("x", counted("y")));
    assert_int_equal(evaluations, 2);
    assert_int_equal(nlines, 2);
    sz_log_set_level(SZ_LOG_DEBUG);
    SZ_LOG(SZ_LOG_DEBUG, "d", SZ_LF_STR("x", counted("y")));
    assert_int_equal(evaluations, 3);
    /* Out-of-range levels are clamped. */
    sz_log_set_level(99);
    assert_int_equal(sz__log_level, SZ_LOG_DEBUG);
    sz_log_set_level(-5);
    assert_int_equal(sz__log_level, SZ_LOG_ERROR);
}

static void test_line_shape(void **state) {
    (void)state;
    SZ_LOG(SZ_LOG_INFO, "listen", SZ_LF_STR("addr", "127.0.0.1:7433"), SZ_LF_INT("n", -3),
           SZ_LF_UINT("u", 18446744073709551615ull), SZ_LF_F64("ms", 1.5));
    regex_t re;
    assert_int_equal(
        regcomp(&re,
                "^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                "level=info event=listen addr=127\\.0\\.0\\.1:7433 n=-3 "
                "u=18446744073709551615 ms=1\\.500\n$",
                REG_EXTENDED),
        0);
    int m = regexec(&re, captured, 0, NULL, 0);
    regfree(&re);
    if (m != 0)
        fail_msg("line: %s", captured);
}

static void test_quoting(void **state) {
    (void)state;
    char line[512];
    sz_logfield_t f[] = {SZ_LF_STR("a", "two words"),   SZ_LF_STR("b", ""),
                         SZ_LF_STR("c", "say \"hi\""),  SZ_LF_STR("d", "x=y"),
                         SZ_LF_STR("e", "back\\slash"), {.type = SZ__LF_END}};
    sz_log_format(line, sizeof(line), SZ_LOG_WARN, "q", f);
    assert_non_null(strstr(line, " level=warn event=q a=\"two words\" b=\"\" c=\"say \\\"hi\\\"\" "
                                 "d=\"x=y\" e=\"back\\\\slash\"\n"));
}

static void test_peer_text(void **state) {
    (void)state;
    char line[SZ_LOG_LINE_MAX + 1];
    /* A peer must not be able to start a new line or forge fields. */
    const char *evil = "hi\r\nts=x level=error event=forged\x1b[31m\x7f\xff";
    sz_logfield_t f[] = {SZ_LF_PEER("msg", evil), {.type = SZ__LF_END}};
    size_t n = sz_log_format(line, sizeof(line), SZ_LOG_INFO, "peer_error", f);
    assert_int_equal(strlen(line), n);
    assert_non_null(strchr(line, '\n'));
    assert_ptr_equal(strchr(line, '\n'), line + n - 1);
    assert_null(strchr(line, '\r'));
    assert_null(strchr(line, '\x1b'));
    assert_null(strchr(line, '\x7f'));
    assert_null(strchr(line, '\xff'));
    assert_non_null(
        strstr(line, "msg=\"hi\\x0d\\x0ats=x level=error event=forged\\x1b[31m\\x7f\\xff\""));

    /* Capped at SZ_LOG_PEER_MAX bytes, with a mark. */
    char big[1000];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sz_logfield_t g[] = {SZ_LF_PEER("msg", big), {.type = SZ__LF_END}};
    sz_log_format(line, sizeof(line), SZ_LOG_INFO, "peer_error", g);
    const char *v = strstr(line, "msg=\"");
    assert_non_null(v);
    v += 5;
    size_t as = strspn(v, "A");
    assert_int_equal(as, SZ_LOG_PEER_MAX);
    assert_memory_equal(v + as, "...\"\n", 5);

    /* With a length: embedded NULs are escaped, not truncating. */
    const char bytes[] = {'a', '\0', 'b'};
    sz_logfield_t h[] = {SZ_LF_PEERN("raw", bytes, 3), {.type = SZ__LF_END}};
    sz_log_format(line, sizeof(line), SZ_LOG_INFO, "e", h);
    assert_non_null(strstr(line, "raw=\"a\\x00b\"\n"));

    /* Plain peer text stays unquoted. */
    sz_logfield_t k[] = {
        SZ_LF_PEER("v", "samizdat/0.1.0"), SZ_LF_PEER("n", NULL), {.type = SZ__LF_END}};
    sz_log_format(line, sizeof(line), SZ_LOG_INFO, "e", k);
    assert_non_null(strstr(line, " v=samizdat/0.1.0 n=\"\"\n"));
}

static void test_typed_fields(void **state) {
    (void)state;
    char line[SZ_LOG_LINE_MAX + 1];
    uint8_t key[32], hash[32];
    for (int i = 0; i < 32; i++) {
        key[i] = 0;
        hash[i] = (uint8_t)i;
    }
    sz_logfield_t f[] = {SZ_LF_PUBKEY("author", key),   SZ_LF_HASH("id", hash),
                         SZ_LF_ERR("err", SZ_E_DENIED), SZ_LF_ERR("errno", -2),
                         SZ_LF_PUBKEY("none", NULL),    {.type = SZ__LF_END}};
    sz_log_format(line, sizeof(line), SZ_LOG_ERROR, "refused", f);
    assert_non_null(strstr(line,
                           " level=error event=refused "
                           "author=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= "
                           "id=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f "
                           "err=DENIED errno=ENOENT none=-\n"));
}

static void test_long_line_cut(void **state) {
    (void)state;
    char big[SZ_LOG_LINE_MAX * 2];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    SZ_LOG(SZ_LOG_INFO, "big", SZ_LF_STR("v", big));
    assert_int_equal(nlines, 1);
    assert_true(ncaptured <= SZ_LOG_LINE_MAX);
    assert_memory_equal(captured + ncaptured - 4, "...\n", 4);
    char small[8];
    sz_logfield_t f[] = {SZ_LF_STR("v", "x"), {.type = SZ__LF_END}};
    assert_int_equal(sz_log_format(small, 3, SZ_LOG_INFO, "e", f), 0);
    assert_true(sz_log_format(small, sizeof(small), SZ_LOG_INFO, "e", f) <= 7);
    assert_memory_equal(small + strlen(small) - 4, "...\n", 4);
}

static void test_level_names(void **state) {
    (void)state;
    int l = -1;
    assert_int_equal(sz_log_level_parse("debug", &l), 0);
    assert_int_equal(l, SZ_LOG_DEBUG);
    assert_int_equal(sz_log_level_parse("error", &l), 0);
    assert_int_equal(l, SZ_LOG_ERROR);
    assert_int_equal(sz_log_level_parse("verbose", &l), SZ_E_ARGUMENT);
    assert_int_equal(sz_log_level_parse("", &l), SZ_E_ARGUMENT);
    assert_string_equal(sz_log_level_name(SZ_LOG_WARN), "warn");
    assert_string_equal(sz_log_level_name(7), "?");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_level_gating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_shape, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_typed_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_level_names, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
