/* Tests for proto/jsonscan: field extraction from JSON bytes without allocation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "jsonscan.h"

static sz_jspan_t root_of(const char *s) {
    sz_jspan_t r = {0};
    assert_int_equal(sz_json_root((const uint8_t *)s, strlen(s), &r), 0);
    return r;
}

static int span_is(sz_jspan_t v, const char *raw) {
    return v.len == strlen(raw) && memcmp(v.p, raw, v.len) == 0;
}

static void test_root(void **state) {
    (void)state;
    sz_jspan_t r;
    assert_true(span_is(root_of("  {\"a\":1}\n"), "{\"a\":1}"));
    assert_true(span_is(root_of("[1,2]"), "[1,2]"));
    assert_true(span_is(root_of("\"x\""), "\"x\""));
    assert_true(span_is(root_of("-1.5e3"), "-1.5e3"));
    assert_true(span_is(root_of("true"), "true"));
    assert_true(span_is(root_of("null"), "null"));
    static const char *bad[] = {"",    "   ",   "{\"a\":1} x", "{",  "[1,2", "\"abc", "\"ab\\\"",
                                "nul", "truex", "@",           "{]", "[}",   "}",     "{\"a\":1}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sz_json_root((const uint8_t *)bad[i], strlen(bad[i]), &r) != SZ_E_JSON)
            fail_msg("accepted %s", bad[i]);
    }
    assert_int_equal(sz_json_root(NULL, 0, &r), SZ_E_JSON);
}

static void test_types(void **state) {
    (void)state;
    assert_int_equal(sz_json_type(root_of("{}")), SZ_JSON_OBJECT);
    assert_int_equal(sz_json_type(root_of("[]")), SZ_JSON_ARRAY);
    assert_int_equal(sz_json_type(root_of("\"\"")), SZ_JSON_STRING);
    assert_int_equal(sz_json_type(root_of("0")), SZ_JSON_NUMBER);
    assert_int_equal(sz_json_type(root_of("false")), SZ_JSON_FALSE);
    assert_int_equal(sz_json_type(root_of("true")), SZ_JSON_TRUE);
    assert_int_equal(sz_json_type(root_of("null")), SZ_JSON_NULL);
    sz_jspan_t none = {0};
    assert_int_equal(sz_json_type(none), SZ_JSON_NONE);
}

static void test_members(void **state) {
    (void)state;
    const char *doc = "{ \"title\" : \"A \\\"quoted\\\" title\", \"nested\": {\"x\": [1, {\"y\": "
                      "\"}]\"}], \"z\": \"\\\\\"}, \"arr\": [\"a\", \"b\" ,\"c\"], \"n\": -12.5, "
                      "\"b\": true, \"nil\": null, \"esc\\u0061ped\": 1 }";
    sz_jspan_t r = root_of(doc), k, v;
    sz_json_iter_t it;
    assert_int_equal(sz_json_iter_init(&it, r), 0);
    static const char *keys[] = {"title", "nested", "arr", "n", "b", "nil", "escaped"};
    size_t n = 0;
    int rc;
    while ((rc = sz_json_next_member(&it, &k, &v)) == 1) {
        assert_true(n < 7);
        assert_true(sz_json_key_is(k, keys[n]));
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, 7);
    assert_int_equal(sz_json_next_member(&it, &k, &v), 0); /* stays at the end */

    assert_int_equal(sz_json_get(r, "nested", &v), 1);
    assert_true(span_is(v, "{\"x\": [1, {\"y\": \"}]\"}], \"z\": \"\\\\\"}"));
    sz_jspan_t z;
    assert_int_equal(sz_json_get(v, "z", &z), 1);
    assert_true(span_is(z, "\"\\\\\""));
    assert_int_equal(sz_json_get(r, "n", &v), 1);
    assert_true(span_is(v, "-12.5"));
    assert_int_equal(sz_json_get(r, "missing", &v), 0);
    assert_int_equal(sz_json_get(r, "escaped", &v), 1);
    assert_true(span_is(v, "1"));
    assert_int_equal(sz_json_get(v, "x", &z), 0); /* not an object */

    assert_int_equal(sz_json_get(r, "arr", &v), 1);
    assert_int_equal(sz_json_iter_init(&it, v), 0);
    static const char *elems[] = {"\"a\"", "\"b\"", "\"c\""};
    n = 0;
    sz_jspan_t e;
    while ((rc = sz_json_next_element(&it, &e)) == 1)
        assert_true(span_is(e, elems[n++]));
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    /* Members of an array and elements of an object are refused. */
    assert_int_equal(sz_json_iter_init(&it, v), 0);
    assert_int_equal(sz_json_next_member(&it, &k, &e), SZ_E_JSON);
    assert_int_equal(sz_json_iter_init(&it, r), 0);
    assert_int_equal(sz_json_next_element(&it, &e), SZ_E_JSON);
    /* Scalars cannot be walked. */
    assert_int_equal(sz_json_iter_init(&it, root_of("12")), SZ_E_JSON);

    assert_int_equal(sz_json_iter_init(&it, root_of("{}")), 0);
    assert_int_equal(sz_json_next_member(&it, &k, &v), 0);
    assert_int_equal(sz_json_iter_init(&it, root_of("[ ]")), 0);
    assert_int_equal(sz_json_next_element(&it, &v), 0);
}

static void test_broken_structure(void **state) {
    (void)state;
    static const char *bad_obj[] = {"{\"a\" 1}",          "{\"a\":}",   "{a:1}",
                                    "{\"a\":1,}",         "{,\"a\":1}", "{\"a\":1 \"b\":2}",
                                    "{\"a\":1,,\"b\":2}", "{\"a\"}",    "{\"a\":1:2}"};
    for (size_t i = 0; i < sizeof(bad_obj) / sizeof(bad_obj[0]); i++) {
        sz_jspan_t r, k, v;
        sz_json_iter_t it;
        if (sz_json_root((const uint8_t *)bad_obj[i], strlen(bad_obj[i]), &r) != 0)
            continue; /* rejected even earlier: fine */
        assert_int_equal(sz_json_iter_init(&it, r), 0);
        int rc;
        while ((rc = sz_json_next_member(&it, &k, &v)) == 1)
            ;
        if (rc != SZ_E_JSON)
            fail_msg("walked %s without error", bad_obj[i]);
        assert_int_equal(sz_json_next_member(&it, &k, &v), 0);
    }
    static const char *bad_arr[] = {"[1,]", "[,1]", "[1 2]", "[1,,2]"};
    for (size_t i = 0; i < sizeof(bad_arr) / sizeof(bad_arr[0]); i++) {
        sz_jspan_t r, v;
        sz_json_iter_t it;
        assert_int_equal(sz_json_root((const uint8_t *)bad_arr[i], strlen(bad_arr[i]), &r), 0);
        assert_int_equal(sz_json_iter_init(&it, r), 0);
        int rc;
        while ((rc = sz_json_next_element(&it, &v)) == 1)
            ;
        if (rc != SZ_E_JSON)
            fail_msg("walked %s without error", bad_arr[i]);
    }
}

static void check_string(const char *raw, const char *want, size_t want_len) {
    sz_jspan_t s = {(const uint8_t *)raw, strlen(raw)};
    uint8_t buf[64];
    size_t n = 99;
    assert_int_equal(sz_json_string(s, buf, sizeof(buf), &n), 0);
    assert_int_equal(n, want_len);
    assert_memory_equal(buf, want, want_len);
}

static void test_strings(void **state) {
    (void)state;
    check_string("\"plain\"", "plain", 5);
    check_string("\"\"", "", 0);
    check_string("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d", 7);
    check_string("\"\\b\\f\\n\\r\\t\"", "\b\f\n\r\t", 5);
    check_string("\"\\u0041\\u00e9\\u0416\\u20AC\"", "A\xc3\xa9\xd0\x96\xe2\x82\xac", 8);
    check_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4); /* pair */
    check_string("\"\\ud83dx\"", "\xef\xbf\xbdx", 4);          /* lone high */
    check_string("\"\\ude00\"", "\xef\xbf\xbd", 3);            /* lone low */
    check_string("\"\\u0000\"", "\0", 1);                      /* NUL is data */
    check_string("\"\xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2\"", "\xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2", 8);

    static const char *bad[] = {"plain",    "\"",       "\"abc",     "abc\"",
                                "\"a\\\"",  "\"\\x\"",  "\"\\u12\"", "\"\\u12g4\"",
                                "\"a\nb\"", "\"a\"b\"", "\"\\"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sz_jspan_t s = {(const uint8_t *)bad[i], strlen(bad[i])};
        uint8_t buf[16];
        size_t n;
        if (sz_json_string(s, buf, sizeof(buf), &n) != SZ_E_JSON)
            fail_msg("decoded %s", bad[i]);
    }
    sz_jspan_t none = {NULL, 0};
    size_t n;
    uint8_t b[4];
    assert_int_equal(sz_json_string(none, b, sizeof(b), &n), SZ_E_JSON);

    /* Too small a buffer: the first cap bytes and TOO_LARGE; with cap 0 nothing is written. */
    sz_jspan_t s = {(const uint8_t *)"\"abcdef\"", 8};
    assert_int_equal(sz_json_string(s, b, sizeof(b), &n), SZ_E_TOO_LARGE);
    assert_int_equal(n, 4);
    assert_memory_equal(b, "abcd", 4);
    assert_int_equal(sz_json_string(s, NULL, 0, &n), SZ_E_TOO_LARGE);
    assert_int_equal(n, 0);
    sz_jspan_t e = {(const uint8_t *)"\"ab\\u00e9\"", 10};
    assert_int_equal(sz_json_string(e, b, 3, &n), SZ_E_TOO_LARGE);
    assert_int_equal(n, 3);
    /* A malformed tail is still reported as malformed even after the buffer filled. */
    sz_jspan_t m = {(const uint8_t *)"\"abcdef\\q\"", 10};
    assert_int_equal(sz_json_string(m, b, sizeof(b), &n), SZ_E_JSON);
}

static void test_key_is(void **state) {
    (void)state;
    sz_jspan_t k = {(const uint8_t *)"\"role\"", 6};
    assert_true(sz_json_key_is(k, "role"));
    assert_false(sz_json_key_is(k, "rol"));
    assert_false(sz_json_key_is(k, "roles"));
    sz_jspan_t e = {(const uint8_t *)"\"r\\u006fle\"", 11};
    assert_true(sz_json_key_is(e, "role"));
    sz_jspan_t bad = {(const uint8_t *)"role", 4};
    assert_false(sz_json_key_is(bad, "role"));
    sz_jspan_t empty = {(const uint8_t *)"\"\"", 2};
    assert_true(sz_json_key_is(empty, ""));
}

static void test_no_overread(void **state) {
    (void)state;
    /* Every prefix of a document is handled inside its length (ASan checks the reads). */
    const char *doc = "{\"a\": [1, \"x\\\"y\", {\"b\": null}], \"c\": \"\\u00e9\"}";
    size_t len = strlen(doc);
    for (size_t i = 0; i <= len; i++) {
        uint8_t *copy = test_malloc(i ? i : 1);
        memcpy(copy, doc, i);
        sz_jspan_t r, k, v;
        if (sz_json_root(copy, i, &r) == 0) {
            assert_int_equal(i, len);
            sz_json_iter_t it;
            assert_int_equal(sz_json_iter_init(&it, r), 0);
            while (sz_json_next_member(&it, &k, &v) == 1)
                ;
        }
        test_free(copy);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root),        cmocka_unit_test(test_types),
        cmocka_unit_test(test_members),     cmocka_unit_test(test_broken_structure),
        cmocka_unit_test(test_strings),     cmocka_unit_test(test_key_is),
        cmocka_unit_test(test_no_overread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
