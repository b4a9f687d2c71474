/* The schema validator's fast path (schema/fastpath.c) must never change a verdict. Each document
 * here is one the fast parser or checker treats specially (escapes, surrogates, numbers at the
 * edges of what jansson reads, duplicate keys, deep nesting, combinators, uniqueItems); each is
 * run through sz_schema_validate_with() and its verdict compared with the expected one. In Debug
 * builds the library also re-checks every fast acceptance with the jansson path and aborts on
 * disagreement, so a wrong acceptance fails this test either way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "record.h"
#include "schema.h"

typedef struct {
    const char *doc;
    int want; /* 0 or the error code */
} case_t;

static void run_cases(const char *schema, const case_t *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        sz_schema_error_t e;
        int rc = sz_schema_validate_with(schema, (const uint8_t *)cases[i].doc,
                                         strlen(cases[i].doc), &e);
        if (rc != cases[i].want)
            fail_msg("case %zu %s: got %s (%s), want %s", i, cases[i].doc, sz_errname(rc),
                     e.message, sz_errname(cases[i].want));
    }
}

static const char *any_schema = "{\"type\":[\"object\",\"array\",\"string\",\"number\","
                                "\"boolean\",\"null\"]}";

static void test_parser_edges(void **state) {
    (void)state;
    static const case_t cases[] = {
        {"{}", 0},
        {" [ ] ", 0},
        {"\"plain\"", 0},
        {"\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", 0},
        {"\"\\u00e9\\u0416\\ud83d\\ude00\"", 0},
        {"\"\\u0000\"", SZ_E_JSON},
        {"\"\\ud800\"", SZ_E_JSON},
        {"\"\\udc00\"", SZ_E_JSON},
        {"\"\\ud800\\u0041\"", SZ_E_JSON},
        {"\"\\x\"", SZ_E_JSON},
        {"\"\\u12g4\"", SZ_E_JSON},
        {"\"tab\there\"", SZ_E_JSON},
        {"\"open", SZ_E_JSON},
        {"0", 0},
        {"-0", 0},
        {"-12", 0},
        {"123456789012345678", 0},
        {"1234567890123456789", 0},
        {"99999999999999999999", SZ_E_JSON},
        {"01", SZ_E_JSON},
        {"-", SZ_E_JSON},
        {"1.", SZ_E_JSON},
        {".5", SZ_E_JSON},
        {"1e", SZ_E_JSON},
        {"1.5e3", 0},
        {"2.5E-3", 0},
        {"1e400", SZ_E_JSON},
        {"1e-400", 0},
        {"+1", SZ_E_JSON},
        {"true", 0},
        {"tru", SZ_E_JSON},
        {"nul", SZ_E_JSON},
        {"[1,]", SZ_E_JSON},
        {"[1 2]", SZ_E_JSON},
        {"{\"a\":1,}", SZ_E_JSON},
        {"{\"a\" 1}", SZ_E_JSON},
        {"{\"a\":1,\"a\":2}", SZ_E_JSON},
        {"{\"a\":1,\"\\u0061\":2}", SZ_E_JSON},
        {"{\"a\":{\"a\":1},\"b\":{\"a\":1}}", 0},
        {"{} {}", SZ_E_JSON},
        {"", SZ_E_JSON},
        {"   ", SZ_E_JSON},
        {"\xef\xbb\xbf{}", SZ_E_JSON},
        {"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"
         "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
         0},
    };
    run_cases(any_schema, cases, sizeof cases / sizeof cases[0]);
}

static void test_keywords(void **state) {
    (void)state;
    static const char *schema =
        "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"s\"],"
        "\"properties\":{"
        "\"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},"
        "\"i\":{\"type\":\"integer\",\"minimum\":0,\"exclusiveMaximum\":10},"
        "\"r\":{\"type\":\"number\",\"maximum\":2.5,\"exclusiveMinimum\":-1},"
        "\"e\":{\"enum\":[\"x\",1,1.5,true,null,[1],{\"a\":1}]},"
        "\"c\":{\"const\":2},"
        "\"u\":{\"type\":\"array\",\"uniqueItems\":true,\"maxItems\":4},"
        "\"n\":{\"type\":\"object\",\"propertyNames\":{\"maxLength\":2},\"maxProperties\":2},"
        "\"o\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},"
        "\"a\":{\"anyOf\":[{\"type\":\"string\",\"format\":\"country\"},{\"type\":\"null\"}]},"
        "\"not\":{\"not\":{\"type\":\"string\"}},"
        "\"all\":{\"allOf\":[{\"minLength\":1},{\"maxLength\":1}]},"
        "\"t\":{\"$ref\":\"#\"}}}";
    static const case_t cases[] = {
        {"{\"s\":\"ab\"}", 0},
        {"{\"s\":\"\\u0416\\u0416\"}", 0},
        {"{\"s\":\"a\"}", SZ_E_SCHEMA},
        {"{\"s\":\"abcd\"}", SZ_E_SCHEMA},
        {"{}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"zz\":1}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"i\":0}", 0},
        {"{\"s\":\"ab\",\"i\":9}", 0},
        {"{\"s\":\"ab\",\"i\":10}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"i\":-1}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"i\":3.0}", 0},
        {"{\"s\":\"ab\",\"i\":3.5}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"r\":2.5}", 0},
        {"{\"s\":\"ab\",\"r\":2}", 0},
        {"{\"s\":\"ab\",\"r\":2.6}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"r\":-1}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"r\":-1.0}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"e\":\"x\"}", 0},
        {"{\"s\":\"ab\",\"e\":1.0}", 0},
        {"{\"s\":\"ab\",\"e\":1.5}", 0},
        {"{\"s\":\"ab\",\"e\":null}", 0},
        {"{\"s\":\"ab\",\"e\":[1]}", 0},
        {"{\"s\":\"ab\",\"e\":[1.0]}", 0},
        {"{\"s\":\"ab\",\"e\":{\"a\":1}}", 0},
        {"{\"s\":\"ab\",\"e\":{\"a\":2}}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"e\":false}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"c\":2}", 0},
        {"{\"s\":\"ab\",\"c\":2.0}", 0},
        {"{\"s\":\"ab\",\"c\":3}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"u\":[1,2,\"1\"]}", 0},
        {"{\"s\":\"ab\",\"u\":[1,2,1]}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"u\":[1,1.0]}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"u\":[[1],[1]]}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"u\":[{\"a\":1},{\"a\":2}]}", 0},
        {"{\"s\":\"ab\",\"u\":[1,2,3,4,5]}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"n\":{\"ab\":1}}", 0},
        {"{\"s\":\"ab\",\"n\":{\"abc\":1}}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"n\":{\"a\":1,\"b\":1,\"c\":1}}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"o\":\"x\"}", 0},
        {"{\"s\":\"ab\",\"o\":1.0}", 0},
        {"{\"s\":\"ab\",\"o\":true}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"a\":\"UA\"}", 0},
        {"{\"s\":\"ab\",\"a\":\"XX\"}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"a\":null}", 0},
        {"{\"s\":\"ab\",\"not\":1}", 0},
        {"{\"s\":\"ab\",\"not\":\"1\"}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"all\":\"1\"}", 0},
        {"{\"s\":\"ab\",\"all\":\"12\"}", SZ_E_SCHEMA},
        {"{\"s\":\"ab\",\"t\":{\"s\":\"cd\",\"t\":{\"s\":\"ef\"}}}", 0},
        {"{\"s\":\"ab\",\"t\":{\"s\":\"cd\",\"t\":{\"s\":\"e\"}}}", SZ_E_SCHEMA},
    };
    run_cases(schema, cases, sizeof cases / sizeof cases[0]);
}

/* A large document takes the parser past its on-stack node array. */
static void test_many_nodes(void **state) {
    (void)state;
    size_t n = 5000;
    char *doc = malloc(n * 5 + 16);
    assert_non_null(doc);
    size_t o = 0;
    doc[o++] = '[';
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(doc + o, "%s\"\\n\"", i ? "," : "");
    doc[o++] = ']';
    doc[o] = '\0';
    assert_int_equal(
        sz_schema_validate_with("{\"items\":{\"maxLength\":1}}", (const uint8_t *)doc, o, NULL), 0);
    assert_int_equal(
        sz_schema_validate_with("{\"items\":{\"minLength\":2}}", (const uint8_t *)doc, o, NULL),
        SZ_E_SCHEMA);
    free(doc);
}

/* The embedded schemas: the fast path and the messages of rejected documents. */
static void test_embedded(void **state) {
    (void)state;
    const char *ok =
        "{\"title\":\"T\",\"statement\":{\"text\":\"\\u0422\\u0435\\u043a\\u0441\\u0442\","
        "\"language\":\"ru\"},\"witness\":{\"role\":\"soldier\"},"
        "\"consent\":{\"scope\":\"public\"},\"act_types\":[\"desertion\"]}";
    sz_schema_error_t e;
    assert_int_equal(sz_schema_validate(SZ_KIND_TESTIMONY, (const uint8_t *)ok, strlen(ok), &e), 0);
    const char *dup = "{\"title\":\"T\",\"statement\":{\"text\":\"x\",\"language\":\"ru\"},"
                      "\"witness\":{\"role\":\"soldier\"},\"consent\":{\"scope\":\"public\"},"
                      "\"act_types\":[\"desertion\",\"desertion\"]}";
    assert_int_equal(sz_schema_validate(SZ_KIND_TESTIMONY, (const uint8_t *)dup, strlen(dup), &e),
                     SZ_E_SCHEMA);
    assert_string_equal(e.path, "/act_types");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_edges),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_many_nodes),
        cmocka_unit_test(test_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
