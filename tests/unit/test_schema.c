/* Unit tests for the record body validator (schema/schema.h) and its formats (schema/format.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "record.h"
#include "schema.h"

/* ---- helpers ------------------------------------------------------------------------------- */

static int check_with(const char *schema, const char *doc, sz_schema_error_t *err) {
    return sz_schema_validate_with(schema, (const uint8_t *)doc, strlen(doc), err);
}

/* Asserts that doc fails against schema with exactly the message want. */
static void expect_message(const char *schema, const char *doc, const char *want) {
    sz_schema_error_t err;
    int rc = check_with(schema, doc, &err);
    if (rc != SZ_E_SCHEMA || strcmp(err.message, want) != 0)
        fail_msg("doc %s: rc %s, message \"%s\", wanted \"%s\"", doc, sz_errname(rc), err.message,
                 want);
}

static void expect_ok(const char *schema, const char *doc) {
    sz_schema_error_t err;
    int rc = check_with(schema, doc, &err);
    if (rc != 0)
        fail_msg("doc %s: rc %s, message \"%s\"", doc, sz_errname(rc), err.message);
}

static void expect_bad(const char *schema, const char *doc) {
    sz_schema_error_t err;
    int rc = check_with(schema, doc, &err);
    if (rc != SZ_E_SCHEMA)
        fail_msg("doc %s: rc %s, wanted SCHEMA", doc, sz_errname(rc));
    assert_true(strlen(err.message) > 0);
}

static int kind_validate(unsigned kind, const char *doc, sz_schema_error_t *err) {
    return sz_schema_validate(kind, (const uint8_t *)doc, strlen(doc), err);
}

static const char *const VALID_TESTIMONY =
    "{\"title\":\"t\",\"statement\":{\"text\":\"s\",\"language\":\"ru\"},"
    "\"witness\":{\"role\":\"soldier\"},\"consent\":{\"scope\":\"public\"},"
    "\"act_types\":[\"desertion\"]}";

/* ---- embedded schemas ---------------------------------------------------------------------- */

static void test_embedded_schemas_load(void **state) {
    (void)state;
    for (unsigned k = SZ_KIND_TESTIMONY; k <= SZ_KIND_REVOCATION; k++) {
        const char *text = sz_schema_text(k);
        assert_non_null(text);
        assert_non_null(
            strstr(text, "\"$schema\": \"https://json-schema.org/draft/2020-12/schema\""));
        sz_schema_error_t err;
        int rc = sz_schema_check(text, &err);
        if (rc != 0)
            fail_msg("kind %u: %s", k, err.message);
    }
    assert_null(sz_schema_text(0));
    assert_null(sz_schema_text(5));
    assert_null(sz_schema_text(255));
}

static void test_unknown_kind(void **state) {
    (void)state;
    sz_schema_error_t err;
    assert_int_equal(kind_validate(0, "{}", &err), SZ_E_KIND);
    assert_string_equal(err.message, "unknown record kind 0");
    assert_int_equal(kind_validate(9, "{}", NULL), SZ_E_KIND);
}

static void test_minimal_bodies(void **state) {
    (void)state;
    sz_schema_error_t err;
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, VALID_TESTIMONY, &err), 0);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"c\"}", &err), 0);
    assert_int_equal(
        kind_validate(SZ_KIND_RETRACTION,
                      "{\"record\":\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852"
                      "b855\",\"versions\":[\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca4959"
                      "91b7852b855\"]}",
                      &err),
        0);
    assert_int_equal(kind_validate(SZ_KIND_REVOCATION,
                                   "{\"key\":\"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\","
                                   "\"reason\":\"lost\"}",
                                   &err),
                     0);
    /* A testimony body is not a case body and the other way round. */
    assert_int_equal(kind_validate(SZ_KIND_CASE, VALID_TESTIMONY, &err), SZ_E_SCHEMA);
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, "{\"title\":\"c\"}", &err), SZ_E_SCHEMA);
    /* err may be NULL. */
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, VALID_TESTIMONY, NULL), 0);
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, "{}", NULL), SZ_E_SCHEMA);
}

/* The messages the brief asks for, word for word. */
static void test_exact_messages(void **state) {
    (void)state;
    sz_schema_error_t err;
    const char *doc = "{\"title\":\"t\",\"statement\":{\"text\":\"s\",\"language\":\"ru\"},"
                      "\"witness\":{\"role\":\"general\"},\"consent\":{\"scope\":\"public\"},"
                      "\"act_types\":[\"desertion\"]}";
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, doc, &err), SZ_E_SCHEMA);
    assert_string_equal(err.path, "/witness/role");
    assert_string_equal(err.message,
                        "/witness/role: must be one of soldier, officer, conscript, relative, "
                        "civilian");

    doc = "{\"title\":\"t\",\"statement\":{\"text\":\"s\",\"language\":\"ru\"},"
          "\"witness\":{\"role\":\"soldier\"},\"consent\":{\"scope\":\"public\"},"
          "\"event\":{\"date\":\"1990-13\"},\"act_types\":[\"desertion\"]}";
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, doc, &err), SZ_E_SCHEMA);
    assert_string_equal(err.path, "/event/date");
    assert_string_equal(err.message, "/event/date: \"1990-13\" is not an EDTF date");

    doc = "{\"title\":\"t\",\"statement\":{\"language\":\"ru\"},"
          "\"witness\":{\"role\":\"soldier\"},\"consent\":{\"scope\":\"public\"},"
          "\"act_types\":[\"desertion\"]}";
    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, doc, &err), SZ_E_SCHEMA);
    assert_string_equal(err.path, "/statement");
    assert_string_equal(err.message, "/statement: required property \"text\" is missing");

    assert_int_equal(kind_validate(SZ_KIND_TESTIMONY, "{}", &err), SZ_E_SCHEMA);
    assert_string_equal(err.path, "");
    assert_string_equal(err.message, "(root): required property \"title\" is missing");

    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"c\",\"titel\":1}", &err),
                     SZ_E_SCHEMA);
    assert_string_equal(err.message, "(root): property \"titel\" is not allowed");

    assert_int_equal(
        kind_validate(SZ_KIND_CASE, "{\"title\":\"c\",\"attributes\":{\"x\":[]}}", &err),
        SZ_E_SCHEMA);
    assert_string_equal(err.path, "/attributes/x");
    assert_string_equal(err.message, "/attributes/x: must be string, number, boolean or null");

    assert_int_equal(
        kind_validate(SZ_KIND_CASE, "{\"title\":\"c\",\"place\":{\"country\":\"SU\"}}", &err),
        SZ_E_SCHEMA);
    assert_string_equal(err.message, "/place/country: \"SU\" is not an ISO 3166 country code");

    assert_int_equal(kind_validate(SZ_KIND_CASE, "[]", &err), SZ_E_SCHEMA);
    assert_string_equal(err.message, "(root): must be an object");
}

/* ---- keywords ------------------------------------------------------------------------------ */

static void test_keyword_type(void **state) {
    (void)state;
    expect_ok("{\"type\":\"string\"}", "\"x\"");
    expect_message("{\"type\":\"string\"}", "1", "(root): must be a string");
    expect_message("{\"type\":\"object\"}", "[]", "(root): must be an object");
    expect_message("{\"type\":\"array\"}", "{}", "(root): must be an array");
    expect_message("{\"type\":\"boolean\"}", "0", "(root): must be a boolean");
    expect_message("{\"type\":\"null\"}", "false", "(root): must be null");
    expect_message("{\"type\":\"number\"}", "\"1\"", "(root): must be a number");
    expect_ok("{\"type\":\"number\"}", "1");
    expect_ok("{\"type\":\"number\"}", "-1.5e3");
    /* JSON Schema integers are numbers with no fraction, whatever their spelling. */
    expect_ok("{\"type\":\"integer\"}", "3");
    expect_ok("{\"type\":\"integer\"}", "3.0");
    expect_ok("{\"type\":\"integer\"}", "1e2");
    expect_message("{\"type\":\"integer\"}", "3.5", "(root): must be an integer");
    expect_message("{\"type\":\"integer\"}", "true", "(root): must be an integer");
    expect_ok("{\"type\":[\"string\",\"null\"]}", "null");
    expect_message("{\"type\":[\"string\",\"null\"]}", "1", "(root): must be string or null");
    expect_message("{\"type\":[\"string\",\"null\",\"boolean\"]}", "1",
                   "(root): must be string, null or boolean");
}

static void test_keyword_properties_required_additional(void **state) {
    (void)state;
    const char *s = "{\"type\":\"object\",\"required\":[\"a\",\"b\"],\"properties\":{\"a\":{"
                    "\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
                    "\"additionalProperties\":false}";
    expect_ok(s, "{\"a\":\"x\",\"b\":1}");
    expect_message(s, "{\"b\":1}", "(root): required property \"a\" is missing");
    expect_message(s, "{\"a\":\"x\"}", "(root): required property \"b\" is missing");
    expect_message(s, "{\"a\":1,\"b\":1}", "/a: must be a string");
    expect_message(s, "{\"a\":\"x\",\"b\":1,\"c\":2}", "(root): property \"c\" is not allowed");
    /* additionalProperties as a schema applies to the members properties does not name. */
    s = "{\"properties\":{\"a\":{\"type\":\"string\"}},\"additionalProperties\":{\"type\":"
        "\"integer\"}}";
    expect_ok(s, "{\"a\":\"x\",\"b\":1,\"c\":2}");
    expect_message(s, "{\"a\":\"x\",\"b\":\"y\"}", "/b: must be an integer");
    /* Without additionalProperties anything else is allowed. */
    expect_ok("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"z\":[1,2]}");
    /* Object keywords do not apply to other types. */
    expect_ok("{\"required\":[\"a\"]}", "5");
    /* Pointer escaping of ~ and /. */
    expect_message("{\"additionalProperties\":{\"type\":\"string\"}}", "{\"a/b~c\":1}",
                   "/a~1b~0c: must be a string");
}

static void test_keyword_property_counts_and_names(void **state) {
    (void)state;
    const char *s = "{\"minProperties\":1,\"maxProperties\":2,\"propertyNames\":{\"minLength\":2}}";
    expect_ok(s, "{\"ab\":1}");
    expect_message(s, "{}", "(root): must have at least 1 properties");
    expect_message(s, "{\"ab\":1,\"cd\":2,\"ef\":3}", "(root): must have at most 2 properties");
    expect_message(s, "{\"a\":1}", "(root): property name \"a\" is not allowed");
}

static void test_keyword_items_counts_unique(void **state) {
    (void)state;
    const char *s = "{\"type\":\"array\",\"minItems\":2,\"maxItems\":3,\"uniqueItems\":true,"
                    "\"items\":{\"type\":\"integer\"}}";
    expect_ok(s, "[1,2]");
    expect_ok(s, "[1,2,3]");
    expect_message(s, "[1]", "(root): must have at least 2 items");
    expect_message(s, "[1,2,3,4]", "(root): must have at most 3 items");
    expect_message(s, "[1,\"x\"]", "/1: must be an integer");
    expect_message(s, "[1,2,1]", "(root): must not contain duplicates (items 0 and 2 are equal)");
    expect_message("{\"minItems\":1}", "[]", "(root): must not be empty");
    /* uniqueItems compares by JSON value: 1 and 1.0 are equal, 1 and true are not. */
    expect_bad("{\"uniqueItems\":true}", "[1,1.0]");
    expect_ok("{\"uniqueItems\":true}", "[1,true]");
    expect_ok("{\"uniqueItems\":true}", "[0,false,null,\"0\"]");
    expect_bad("{\"uniqueItems\":true}", "[{\"a\":[1,2]},{\"a\":[1,2.0]}]");
    expect_ok("{\"uniqueItems\":true}", "[{\"a\":[1,2]},{\"a\":[2,1]}]");
    expect_ok("{\"uniqueItems\":true}", "[{\"a\":1},{\"a\":1,\"b\":1}]");
    expect_ok("{\"uniqueItems\":false}", "[1,1]");
    expect_ok("{\"uniqueItems\":true}", "[9007199254740993,9007199254740992.0]");
}

static void test_keyword_enum_const(void **state) {
    (void)state;
    const char *s = "{\"enum\":[\"a\",1,null,[1]]}";
    expect_ok(s, "\"a\"");
    expect_ok(s, "1.0");
    expect_ok(s, "null");
    expect_ok(s, "[1]");
    expect_message(s, "\"b\"", "(root): must be one of a, 1, null, [1]");
    expect_bad(s, "true");
    expect_ok("{\"const\":\"x\"}", "\"x\"");
    expect_message("{\"const\":\"x\"}", "\"y\"", "(root): must be \"x\"");
    expect_message("{\"const\":{\"a\":1}}", "{\"a\":2}", "(root): must be {\"a\":1}");
    expect_bad("{\"const\":false}", "0");
    expect_bad("{\"const\":0}", "false");
}

static void test_keyword_string_lengths(void **state) {
    (void)state;
    const char *s = "{\"minLength\":2,\"maxLength\":3}";
    expect_ok(s, "\"ab\"");
    expect_message(s, "\"a\"", "(root): must be at least 2 characters long");
    expect_message(s, "\"abcd\"", "(root): must be at most 3 characters long");
    /* Lengths count code points, not bytes: three Cyrillic letters are six bytes. */
    expect_ok(s, "\"жжж\"");
    expect_bad(s, "\"жжжж\"");
    /* An astral character is one code point, written as one escape pair. */
    expect_ok("{\"maxLength\":1}", "\"\\ud83d\\udd4a\"");
    expect_ok("{\"maxLength\":1}", "\"\xf0\x9f\x95\x8a\"");
    expect_message("{\"minLength\":1}", "\"\"", "(root): must not be empty");
    expect_ok("{\"maxLength\":0}", "5");
}

static void test_keyword_numbers(void **state) {
    (void)state;
    const char *s = "{\"minimum\":0,\"maximum\":10}";
    expect_ok(s, "0");
    expect_ok(s, "10");
    expect_ok(s, "10.0");
    expect_message(s, "-1", "(root): must be >= 0");
    expect_message(s, "-0.5", "(root): must be >= 0");
    expect_message(s, "10.5", "(root): must be <= 10");
    expect_message(s, "11", "(root): must be <= 10");
    s = "{\"exclusiveMinimum\":0,\"exclusiveMaximum\":1.5}";
    expect_ok(s, "1");
    expect_message(s, "0", "(root): must be > 0");
    expect_message(s, "1.5", "(root): must be < 1.5");
    /* Exact comparison of integers beyond 2^53 with doubles. */
    expect_bad("{\"maximum\":9007199254740992.0}", "9007199254740993");
    expect_ok("{\"maximum\":9007199254740993}", "9007199254740993");
    expect_ok("{\"minimum\":-9.3e18}", "-9223372036854775808");
    expect_bad("{\"maximum\":-9.3e18}", "-9223372036854775808");
    expect_ok("{\"minimum\":0}", "\"not a number\"");
}

static void test_keyword_ref_defs(void **state) {
    (void)state;
    const char *s = "{\"$defs\":{\"pos\":{\"type\":\"integer\",\"minimum\":1}},"
                    "\"properties\":{\"n\":{\"$ref\":\"#/$defs/pos\"}}}";
    expect_ok(s, "{\"n\":1}");
    expect_message(s, "{\"n\":0}", "/n: must be >= 1");
    /* $ref applies together with the keywords beside it. */
    s = "{\"$defs\":{\"s\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/s\",\"maxLength\":2}";
    expect_ok(s, "\"ab\"");
    expect_bad(s, "\"abc\"");
    expect_bad(s, "1");
    /* A recursive schema through "#". */
    s = "{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#\"}},"
        "\"additionalProperties\":false}";
    expect_ok(s, "{\"next\":{\"next\":{}}}");
    expect_message(s, "{\"next\":{\"next\":{\"x\":1}}}",
                   "/next/next: property \"x\" is not allowed");
    /* A $ref loop that never reaches the document ends at the depth limit instead of the stack. */
    expect_bad("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", "1");
}

static void test_keyword_formats(void **state) {
    (void)state;
    expect_ok("{\"format\":\"edtf\"}", "\"1989~\"");
    expect_message("{\"format\":\"edtf\"}", "\"1989-~\"", "(root): \"1989-~\" is not an EDTF date");
    expect_message("{\"format\":\"country\"}", "\"XX\"",
                   "(root): \"XX\" is not an ISO 3166 country code");
    expect_message("{\"format\":\"bcp47\"}", "\"en_GB\"",
                   "(root): \"en_GB\" is not a BCP 47 language tag");
    expect_message("{\"format\":\"sha256\"}", "\"abc\"",
                   "(root): \"abc\" is not a SHA-256 hash (64 lowercase hex digits)");
    expect_message("{\"format\":\"pubkey\"}", "\"abc\"",
                   "(root): \"abc\" is not a public key (44 characters of base64)");
    /* Formats assert only on strings. */
    expect_ok("{\"format\":\"edtf\"}", "5");
}

static void test_keyword_combinators(void **state) {
    (void)state;
    const char *s = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}";
    expect_ok(s, "\"x\"");
    expect_ok(s, "1");
    expect_message(s, "1.5", "(root): must match at least one of the allowed forms");
    s = "{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}";
    expect_ok(s, "-1");
    expect_ok(s, "0.5");
    expect_message(s, "1", "(root): must match exactly one of the allowed forms (matches 2)");
    expect_message(s, "-0.5", "(root): must match exactly one of the allowed forms (matches 0)");
    s = "{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":0}]}";
    expect_ok(s, "1");
    expect_message(s, "-1", "(root): must be >= 0");
    expect_message("{\"not\":{\"type\":\"null\"}}", "null",
                   "(root): must not match the excluded form");
    expect_ok("{\"not\":{\"type\":\"null\"}}", "0");
    /* Failures inside anyOf are not reported when another branch matches. */
    sz_schema_error_t err;
    assert_int_equal(check_with("{\"anyOf\":[{\"type\":\"string\"},true]}", "1", &err), 0);
    assert_string_equal(err.message, "");
}

static void test_boolean_schemas(void **state) {
    (void)state;
    expect_ok("true", "{\"anything\":[1]}");
    expect_message("false", "1", "(root): no value is allowed here");
    expect_message("{\"items\":false}", "[1]", "/0: no value is allowed here");
    expect_ok("{\"items\":false}", "[]");
}

static void test_annotations_allowed(void **state) {
    (void)state;
    expect_ok("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"urn:x\","
              "\"$comment\":\"c\",\"title\":\"t\",\"description\":\"d\",\"examples\":[1],"
              "\"default\":1,\"deprecated\":false,\"readOnly\":false,\"writeOnly\":false}",
              "1");
}

/* ---- schema loading ------------------------------------------------------------------------ */

static void expect_schema_error(const char *schema, const char *want_substring) {
    sz_schema_error_t err;
    int rc = sz_schema_check(schema, &err);
    if (rc != SZ_E_ARGUMENT || strstr(err.message, want_substring) == NULL)
        fail_msg("schema %s: rc %s, message \"%s\", wanted \"%s\"", schema, sz_errname(rc),
                 err.message, want_substring);
    /* The same schema makes validation fail as an argument error, never a silent pass. */
    assert_int_equal(check_with(schema, "1", NULL), SZ_E_ARGUMENT);
}

static void test_schema_errors(void **state) {
    (void)state;
    expect_schema_error("{\"pattern\":\"^a$\"}", "unknown or unsupported keyword \"pattern\"");
    expect_schema_error("{\"properties\":{\"a\":{\"requird\":[\"x\"]}}}",
                        "schema /properties/a/requird: unknown or unsupported keyword");
    expect_schema_error("{\"format\":\"edft\"}", "format must be one of");
    expect_schema_error("{\"$ref\":\"#/$defs/missing\"}", "$ref must be");
    expect_schema_error("{\"$ref\":\"http://example.com/s.json\"}", "$ref must be");
    expect_schema_error("{\"type\":\"text\"}", "type must be");
    expect_schema_error("{\"type\":[\"string\",\"string\"]}", "unique");
    expect_schema_error("{\"type\":[]}", "type must be");
    expect_schema_error("{\"minLength\":-1}", "non-negative integer");
    expect_schema_error("{\"minLength\":1.5}", "non-negative integer");
    expect_schema_error("{\"maxItems\":\"3\"}", "non-negative integer");
    expect_schema_error("{\"minimum\":\"0\"}", "must be a number");
    expect_schema_error("{\"required\":[1]}", "array of strings");
    expect_schema_error("{\"required\":[\"a\",\"a\"]}", "unique");
    expect_schema_error("{\"enum\":[]}", "non-empty array");
    expect_schema_error("{\"anyOf\":[]}", "non-empty array");
    expect_schema_error("{\"anyOf\":[5]}", "object or a boolean");
    expect_schema_error("{\"uniqueItems\":1}", "boolean");
    expect_schema_error("{\"$schema\":\"http://json-schema.org/draft-07/schema#\"}",
                        "only draft 2020-12");
    expect_schema_error("{\"title\":1}", "must be a string");
    expect_schema_error("5", "object or a boolean");
    expect_schema_error("{\"a\":1,\"a\":2}", "not valid JSON");
    expect_schema_error("{", "not valid JSON");
    char deep[2048] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"items\":");
    strcat(deep, "true");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    expect_schema_error(deep, "nested deeper");
    sz_schema_error_t err;
    assert_int_equal(sz_schema_check(NULL, &err), SZ_E_ARGUMENT);
    assert_int_equal(sz_schema_validate_with(NULL, (const uint8_t *)"1", 1, &err), SZ_E_ARGUMENT);
    assert_int_equal(sz_schema_check("{}", NULL), 0);
    assert_int_equal(sz_schema_check("{\"pattern\":\"x\"}", NULL), SZ_E_ARGUMENT);
}

/* ---- documents: JSON, UTF-8, limits -------------------------------------------------------- */

static void test_duplicate_keys(void **state) {
    (void)state;
    sz_schema_error_t err;
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"a\",\"title\":\"b\"}", &err),
                     SZ_E_JSON);
    assert_non_null(strstr(err.message, "duplicate object key"));
    assert_int_equal(kind_validate(SZ_KIND_CASE,
                                   "{\"title\":\"a\",\"attributes\":{\"x\":1,\"y\":2,\"x\":3}}",
                                   &err),
                     SZ_E_JSON);
}

static void test_invalid_utf8(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"title\":\"\xff\"}",             /* never valid */
        "{\"title\":\"\xc0\xaf\"}",         /* overlong '/' */
        "{\"title\":\"\xe0\x80\xaf\"}",     /* overlong, three bytes */
        "{\"title\":\"\xf0\x80\x80\xaf\"}", /* overlong, four bytes */
        "{\"title\":\"\xed\xa0\x80\"}",     /* UTF-16 surrogate U+D800 */
        "{\"title\":\"\xf4\x90\x80\x80\"}", /* U+110000 */
        "{\"title\":\"\x80\"}",             /* lone continuation byte */
        "{\"title\":\"\xd0\"}",             /* truncated sequence */
        "{\"title\":\"\xe2\x82\"}",         /* truncated sequence */
        "{\"title\":\"a\"}\xd0",            /* truncated at the very end */
    };
    sz_schema_error_t err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = kind_validate(SZ_KIND_CASE, bad[i], &err);
        if (rc != SZ_E_UTF8)
            fail_msg("case %zu: %s", i, sz_errname(rc));
        assert_non_null(strstr(err.message, "invalid UTF-8 at byte"));
    }
    assert_int_equal(
        kind_validate(SZ_KIND_CASE, "{\"title\":\"\xf4\x8f\xbf\xbf \xe2\x82\xac\"}", &err), 0);
}

static void test_nul_and_escapes(void **state) {
    (void)state;
    sz_schema_error_t err;
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"a\\u0000b\"}", &err), SZ_E_JSON);
    assert_int_equal(
        kind_validate(SZ_KIND_CASE, "{\"title\":\"a\",\"attributes\":{\"k\\u0000\":1}}", &err),
        SZ_E_JSON);
    /* A raw NUL byte is not JSON either, inside or outside a string. */
    const uint8_t raw[] = "{\"title\":\"a\0b\"}";
    assert_int_equal(sz_schema_validate(SZ_KIND_CASE, raw, sizeof raw - 1, &err), SZ_E_JSON);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"\\ud800\"}", &err), SZ_E_JSON);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"\\udc00\\ud800\"}", &err),
                     SZ_E_JSON);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"\\ud83d\\udd4a\"}", &err), 0);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":NaN}", &err), SZ_E_JSON);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"a\"} x", &err), SZ_E_JSON);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "", &err), SZ_E_JSON);
    assert_int_equal(sz_schema_validate(SZ_KIND_CASE, NULL, 0, &err), SZ_E_JSON);
    assert_int_equal(sz_schema_validate(SZ_KIND_CASE, NULL, 5, &err), SZ_E_ARGUMENT);
    assert_int_equal(kind_validate(SZ_KIND_CASE, "  {\"title\":\"a\"}\n\t ", &err), 0);
}

static void test_size_limit(void **state) {
    (void)state;
    /* A valid testimony just under the limit. */
    size_t cap = SZ_SCHEMA_MAX_DOC + 64;
    char *doc = malloc(cap);
    assert_non_null(doc);
    const char *head = "{\"title\":\"t\",\"statement\":{\"language\":\"uk\",\"text\":\"";
    const char *tail = "\"},\"witness\":{\"role\":\"relative\"},\"consent\":{\"scope\":\"public\"},"
                       "\"act_types\":[\"refusal\"]}";
    size_t n = strlen(head);
    memcpy(doc, head, n);
    size_t chars = (SZ_SCHEMA_MAX_DOC - strlen(head) - strlen(tail)) / 3;
    assert_true(chars <= 500000 && chars > 340000);
    for (size_t i = 0; i < chars; i++) {
        doc[n++] = '\xe2';
        doc[n++] = '\x82';
        doc[n++] = '\xac'; /* the euro sign, three bytes */
    }
    memcpy(doc + n, tail, strlen(tail));
    n += strlen(tail);
    assert_true(n <= SZ_SCHEMA_MAX_DOC);
    sz_schema_error_t err;
    int rc = sz_schema_validate(SZ_KIND_TESTIMONY, (uint8_t *)doc, n, &err);
    if (rc != 0)
        fail_msg("%s: %s", sz_errname(rc), err.message);
    /* Padding with whitespace past the limit makes the same document too large. */
    size_t big = SZ_SCHEMA_MAX_DOC + 1;
    memset(doc + n, ' ', big - n);
    assert_int_equal(sz_schema_validate(SZ_KIND_TESTIMONY, (uint8_t *)doc, big, &err),
                     SZ_E_TOO_LARGE);
    assert_non_null(strstr(err.message, "more than the limit"));
    /* The limit holds for any schema too. */
    assert_int_equal(sz_schema_validate_with("true", (uint8_t *)doc, big, &err), SZ_E_TOO_LARGE);
    free(doc);
}

static void test_deep_nesting(void **state) {
    (void)state;
    sz_schema_error_t err;
    size_t depth = 100000;
    char *doc = malloc(2 * depth + 1);
    assert_non_null(doc);
    memset(doc, '[', depth);
    memset(doc + depth, ']', depth);
    doc[2 * depth] = '\0';
    assert_int_equal(kind_validate(SZ_KIND_CASE, doc, &err), SZ_E_JSON);
    assert_int_equal(check_with("true", doc, &err), SZ_E_JSON);
    free(doc);
    /* Nesting the parser accepts but no schema allows fails at the first wrong level. */
    const char *nested = "{\"title\":\"t\",\"attributes\":{\"a\":[[[[[[[[[[[[]]]]]]]]]]]]}}";
    assert_int_equal(kind_validate(SZ_KIND_CASE, nested, &err), SZ_E_SCHEMA);
    assert_string_equal(err.path, "/attributes/a");
    /* A recursive schema over a deep document stops at the validator's depth limit. */
    char deep[4096] = "";
    for (int i = 0; i < 300; i++)
        strcat(deep, "[");
    for (int i = 0; i < 300; i++)
        strcat(deep, "]");
    assert_int_equal(check_with("{\"items\":{\"$ref\":\"#\"}}", deep, &err), SZ_E_SCHEMA);
    assert_non_null(strstr(err.message, "nested deeper than"));
}

/* Long or hostile text in a document cannot overflow or forge an error message. */
static void test_message_caps(void **state) {
    (void)state;
    sz_schema_error_t err;
    char doc[8192];
    char key[3000];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    snprintf(doc, sizeof doc, "{\"title\":\"c\",\"%s\":1}", key);
    assert_int_equal(kind_validate(SZ_KIND_CASE, doc, &err), SZ_E_SCHEMA);
    assert_true(strlen(err.message) < sizeof err.message);
    assert_non_null(strstr(err.message, "...\" is not allowed"));
    /* Deep paths with long names are cut, still NUL-terminated. */
    const char *s = "{\"additionalProperties\":{\"$ref\":\"#\"},\"type\":\"object\"}";
    doc[0] = '\0';
    for (int i = 0; i < 40; i++)
        strcat(doc,
               "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":");
    strcat(doc, "1");
    for (int i = 0; i < 40; i++)
        strcat(doc, "}");
    assert_int_equal(check_with(s, doc, &err), SZ_E_SCHEMA);
    assert_true(strlen(err.path) < sizeof err.path);
    assert_true(strlen(err.message) < sizeof err.message);
    assert_non_null(strstr(err.message, "...: must be an object"));
    /* Control characters in document text are shown as '?'. */
    assert_int_equal(kind_validate(SZ_KIND_CASE, "{\"title\":\"c\",\"a\\nb\\u001b\":1}", &err),
                     SZ_E_SCHEMA);
    assert_string_equal(err.message, "(root): property \"a?b?\" is not allowed");
    /* Multi-byte text is cut on a character boundary. */
    char value[400] = "";
    for (int i = 0; i < 60; i++)
        strcat(value, "ж");
    snprintf(doc, sizeof doc, "{\"title\":\"c\",\"period\":\"%s\"}", value);
    assert_int_equal(kind_validate(SZ_KIND_CASE, doc, &err), SZ_E_SCHEMA);
    const char *q = strstr(err.message, "\"");
    assert_non_null(q);
    assert_non_null(strstr(err.message, "жжж...\" is not an EDTF date"));
}

/* ---- formats ------------------------------------------------------------------------------- */

static int fmt(sz__format_fn fn, const char *s) {
    return fn(s, strlen(s));
}

static void test_format_edtf(void **state) {
    (void)state;
    static const char *const good[] = {
        /* level 0 */
        "1985",
        "0000",
        "9999",
        "1985-04",
        "1985-04-12",
        "2000-02-29",
        "2024-02-29",
        "1985-04-12T23:20:30",
        "1985-04-12T23:20:30Z",
        "1985-04-12T23:20:30+00",
        "1985-04-12T23:20:30+00:00",
        "1985-04-12T23:20:30-14",
        "1985-04-12T23:20:30-04",
        "1985-04-12T23:20:30+04:30",
        "1985-04-12T00:00:00+14:00",
        "1985-04-12T00:00:00-00:30",
        "1964/2008",
        "2004-06/2006-08",
        "2004-02-01/2005-02-08",
        "2004-02-01/2005-02",
        "2004-02-01/2005",
        "2005/2006-02",
        "1985-04-12/1985-04-12",
        /* level 1 */
        "Y170000002",
        "Y-170000002",
        "Y10000",
        "2001-21",
        "2001-22",
        "2001-23",
        "2001-24",
        "1984?",
        "2004-06~",
        "2004-06-11%",
        "1989~",
        "2001-21~",
        "201X",
        "20XX",
        "1985-04-XX",
        "1985-XX-XX",
        "1985-XX",
        "1985-04-12/..",
        "1985-04/..",
        "1985/..",
        "../1985-04-12",
        "../1985-04",
        "../1985",
        "1985-04-12/",
        "1985-04/",
        "1985/",
        "/1985-04-12",
        "/1985-04",
        "/1985",
        "1984~/2004-06",
        "1984/2004-06~",
        "1984~/2004~",
        "1984?/2004%",
        "1984-06?/2004-08?",
        "1984-06-02?/2004-08-08~",
        "1984-06-02?/",
        "2004-06~/2004-08",
        "1990-01/1990-03",
        "2001-21/2001-23",
        "2001-21/2002",
        "-1985",
        "-1985-04-12",
        "-0001/0001",
        "2004-24/2005-01",
        "1990-12/1990-21",
    };
    static const char *const bad[] = {
        "",
        "85",
        "198",
        "19850",
        "1985-4",
        "1985-04-1",
        "1985-00",
        "1985-13",
        "1990-13",
        "1985-04-00",
        "1985-04-31",
        "1985-02-30",
        "1900-02-29",
        "2023-02-29",
        "-0000",
        "+1985",
        "1985-20",
        "1985-25",
        "1985-21-01",
        "1985-04-12T",
        "1985-04-12T24:00:00",
        "1985-04-12T23:60:00",
        "1985-04-12T23:20:61",
        "1985-04-12T23:20",
        "1985-04T23:20:30",
        "1985T23:20:30",
        "1985-04-12t23:20:30",
        "1985-04-12T23:20:30+15",
        "1985-04-12T23:20:30+14:30",
        "1985-04-12T23:20:30+4",
        "1985-04-12T23:20:30Z?",
        "1985-04-12T23:20:30.5",
        "1985-04-12T23:20:30+04:60",
        "1985??",
        "?1985",
        "1985?~",
        "1985-?",
        "XXXX",
        "2XXX",
        "1XXX",
        "X985",
        "1X85",
        "19X5",
        "1985-X4",
        "1985-0X",
        "1985-XX-12",
        "1985-04-X1",
        "1985-13-XX",
        "201X?",
        "-198X",
        "1985-XX~",
        "Y1700",
        "Y01700",
        "Y-01700",
        "Y",
        "Y-",
        "Y17000a",
        "Y170000002?",
        "Y2001/2002",
        "1991/1988",
        "1985-05/1985-04",
        "1985-04-13/1985-04-12",
        "../..",
        "/..",
        "../",
        "/",
        "//",
        "1985//1986",
        "1985/1986/1987",
        "1985/.",
        "1985/...",
        "1985-04-12T23:20:30/1986",
        "201X/2020",
        "2001-25",
        "2001-21/2000",
        "1985 ",
        " 1985",
        "1985\n",
        "１９８５",
        "1985-04-12Z",
        "1985-04-12T23:20:30ZZ",
        "Y17000/..",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!fmt(sz__format_edtf, good[i]))
            fail_msg("EDTF \"%s\" should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fmt(sz__format_edtf, bad[i]))
            fail_msg("EDTF \"%s\" should be invalid", bad[i]);
    /* Every day of a leap and a common year, and nothing past the end of a month. */
    char buf[16];
    int valid_days = 0;
    for (int m = 1; m <= 12; m++)
        for (int d = 1; d <= 32; d++) {
            snprintf(buf, sizeof buf, "2024-%02d-%02d", m, d);
            valid_days += fmt(sz__format_edtf, buf);
        }
    assert_int_equal(valid_days, 366);
    valid_days = 0;
    for (int m = 1; m <= 12; m++)
        for (int d = 1; d <= 32; d++) {
            snprintf(buf, sizeof buf, "2100-%02d-%02d", m, d);
            valid_days += fmt(sz__format_edtf, buf);
        }
    assert_int_equal(valid_days, 365);
    /* Not NUL-terminated input: only len bytes are read. */
    assert_true(sz__format_edtf("1985-04-12xyz", 10));
    assert_false(sz__format_edtf("1985-04-12", 9));
}

static void test_format_country(void **state) {
    (void)state;
    /* Exactly the 249 officially assigned alpha-2 codes, all upper case. */
    int count = 0;
    char code[3] = {0};
    for (char a = 'A'; a <= 'Z'; a++)
        for (char b = 'A'; b <= 'Z'; b++) {
            code[0] = a;
            code[1] = b;
            count += fmt(sz__format_country, code);
        }
    assert_int_equal(count, 249);
    static const char *const good[] = {"LT",   "UA",   "RU",   "GB",   "SS",   "AX",   "BQ",
                                       "SX",   "CW",   "SUHH", "CSHH", "YUCS", "DDDE", "ANHH",
                                       "CSXX", "ZRCD", "AIDJ", "VDVN", "BYAA", "TPTL"};
    static const char *const bad[] = {"SU",   "XK",   "EU", "UK", "AN",  "YU",  "CS",    "DD",
                                      "ZR",   "TP",   "lt", "Lt", "LTU", "SUH", "SUHHH", "suhh",
                                      "XXXX", "SUHX", "",   "L",  "L T", "DEDE"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!fmt(sz__format_country, good[i]))
            fail_msg("country \"%s\" should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fmt(sz__format_country, bad[i]))
            fail_msg("country \"%s\" should be invalid", bad[i]);
}

static void test_format_bcp47(void **state) {
    (void)state;
    static const char *const good[] = {
        "en",
        "EN",
        "ru",
        "uk",
        "uk-UA",
        "en-GB",
        "en-gb",
        "sr-Cyrl-RS",
        "sr-Latn",
        "zh-Hant-TW",
        "zh-cmn-Hans-CN",
        "zh-yue",
        "ar-afb-apc-ajp",
        "yue-HK",
        "es-419",
        "de-CH-1901",
        "de-CH-1996",
        "sl-rozaj",
        "sl-rozaj-biske",
        "sl-IT-nedis",
        "hy-Latn-IT-arevela",
        "en-US-u-islamcal",
        "en-a-myext-b-another",
        "de-DE-u-co-phonebk",
        "en-US-x-twain",
        "qaa-Qaaa-QM-x-southern",
        "x-whatever",
        "X-a-b",
        "i-klingon",
        "I-KLINGON",
        "en-GB-oed",
        "sgn-BE-FR",
        "i-default",
        "art-lojban",
        "zh-min-nan",
        "cel-gaulish",
        "no-bok",
        "abcd",
        "abcdefgh",
        "en-1234",
        "en-12345678",
        "en-Latn-001",
        "tlh",
        "ru-x-1",
        "en-a-bb-x-a-a",
    };
    static const char *const bad[] = {
        "",
        "e",
        "-",
        "en-",
        "-en",
        "en--GB",
        "en_GB",
        "en GB",
        "abcdefghi",
        "en-abcdefghi",
        "e1",
        "12",
        "i-nonsense",
        "en-a",
        "en-a-b",
        "en-a-bb-a-cc",
        "de-1901-1901",
        "de-DE-1901-1901",
        "en-x",
        "x",
        "x-",
        "en-x-",
        "en-x-abcdefghi",
        "en-GB-US",
        "en-Latn-Cyrl",
        "en-US-Latn",
        "en-abc-def-ghi-jkl",
        "abcde-abc",
        "en-1",
        "en-123-456",
        "en-12",
        "ru-ж",
        "en-GB-oed-x",
        "zh-min-nan-nan-nan",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!fmt(sz__format_bcp47, good[i]))
            fail_msg("BCP 47 \"%s\" should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (fmt(sz__format_bcp47, bad[i]))
            fail_msg("BCP 47 \"%s\" should be invalid", bad[i]);
    /* A 3-digit region is allowed once. */
    assert_true(fmt(sz__format_bcp47, "en-419"));
    assert_true(fmt(sz__format_bcp47, "en-123"));
}

static void test_format_sha256_pubkey(void **state) {
    (void)state;
    const char *h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_true(fmt(sz__format_sha256, h));
    char buf[80];
    strcpy(buf, h);
    buf[0] = 'E';
    assert_false(fmt(sz__format_sha256, buf));
    buf[0] = 'g';
    assert_false(fmt(sz__format_sha256, buf));
    assert_false(sz__format_sha256(h, 63));
    snprintf(buf, sizeof buf, "%s0", h);
    assert_false(fmt(sz__format_sha256, buf));
    assert_false(fmt(sz__format_sha256, ""));

    const char *k = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
    assert_true(fmt(sz__format_pubkey, k));
    assert_true(fmt(sz__format_pubkey, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert_true(fmt(sz__format_pubkey, "+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/+/8="));
    assert_false(fmt(sz__format_pubkey, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp="));
    assert_false(fmt(sz__format_pubkey, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="));
    assert_false(fmt(sz__format_pubkey, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"));
    assert_false(fmt(sz__format_pubkey, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=="));
    assert_false(fmt(sz__format_pubkey, " 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="));
    assert_false(fmt(sz__format_pubkey, "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUR=="));
    assert_false(fmt(sz__format_pubkey, ""));
    /* Every key the encoder can produce passes. */
    uint8_t pk[32];
    char text[SZ_PUBKEY_TEXT_LEN + 1];
    for (int i = 0; i < 256; i++) {
        memset(pk, i, sizeof pk);
        pk[31] = (uint8_t)(255 - i);
        sz_pubkey_format(text, pk);
        assert_true(fmt(sz__format_pubkey, text));
    }
    /* The format agrees with the key parser of proto/encoding.h on every one-character change. */
    static const char alphabet[] = "ABDEIMoprw09+/=_-. ";
    char probe[SZ_PUBKEY_TEXT_LEN + 1];
    for (size_t pos = 0; pos < SZ_PUBKEY_TEXT_LEN; pos++)
        for (size_t a = 0; a + 1 < sizeof alphabet; a++) {
            strcpy(probe, k);
            probe[pos] = alphabet[a];
            if (probe[0] == ' ' || probe[SZ_PUBKEY_TEXT_LEN - 1] == ' ')
                continue; /* the parser trims surrounding blanks; the format does not */
            int parsed = sz_pubkey_parse(pk, probe) == 0;
            if (fmt(sz__format_pubkey, probe) != parsed)
                fail_msg("\"%s\": format %d, parser %d", probe, !parsed, parsed);
        }
}

static void test_format_lookup(void **state) {
    (void)state;
    assert_ptr_equal(sz__format_lookup("edtf"), sz__format_edtf);
    assert_ptr_equal(sz__format_lookup("country"), sz__format_country);
    assert_ptr_equal(sz__format_lookup("bcp47"), sz__format_bcp47);
    assert_ptr_equal(sz__format_lookup("sha256"), sz__format_sha256);
    assert_ptr_equal(sz__format_lookup("pubkey"), sz__format_pubkey);
    assert_null(sz__format_lookup("uri"));
    assert_null(sz__format_lookup(""));
    assert_null(sz__format_phrase("uri"));
}

/* ---- corpus and examples ------------------------------------------------------------------- */

static unsigned kind_of_file(const char *name) {
    static const char *const kinds[] = {NULL, "testimony", "case", "retraction", "revocation"};
    for (unsigned k = 1; k <= 4; k++) {
        size_t n = strlen(kinds[k]);
        if (strncmp(name, kinds[k], n) == 0 && name[n] == '-')
            return k;
    }
    return 0;
}

static uint8_t *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Validates every <kind>-*.json in dir and checks the verdict. Returns how many it checked. */
static int check_folder(const char *dir, int want_valid) {
    DIR *d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot open %s", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        unsigned kind = kind_of_file(e->d_name);
        if (kind == 0)
            fail_msg("%s/%s: file name does not start with a kind", dir, e->d_name);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len;
        uint8_t *doc = slurp(path, &len);
        sz_schema_error_t err;
        int rc = sz_schema_validate(kind, doc, len, &err);
        free(doc);
        if (want_valid && rc != 0)
            fail_msg("%s: %s: %s", path, sz_errname(rc), err.message);
        if (!want_valid && rc == 0)
            fail_msg("%s: accepted but should be invalid", path);
        if (!want_valid)
            assert_true(strlen(err.message) > 0);
        count++;
    }
    closedir(d);
    return count;
}

static const char *source_dir(void) {
    const char *s = getenv("SZ_SOURCE_DIR");
    return s != NULL ? s : "..";
}

static void test_corpus(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/vectors/schema/valid", source_dir());
    int valid = check_folder(dir, 1);
    snprintf(dir, sizeof dir, "%s/tests/vectors/schema/invalid", source_dir());
    int invalid = check_folder(dir, 0);
    assert_true(valid >= 15);
    assert_true(invalid >= 25);
    assert_true(valid + invalid >= 40);
}

static void test_examples(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/schema/examples", source_dir());
    /* 15 dataset cases, five testimonies, a retraction and a revocation. */
    assert_true(check_folder(dir, 1) >= 22);
}

/* ---- concurrency --------------------------------------------------------------------------- */

static void *validate_many(void *arg) {
    (void)arg;
    for (int i = 0; i < 200; i++) {
        sz_schema_error_t err;
        if (kind_validate(SZ_KIND_TESTIMONY, VALID_TESTIMONY, &err) != 0)
            return (void *)1;
        if (kind_validate(SZ_KIND_CASE, "{\"title\":5}", &err) != SZ_E_SCHEMA ||
            strcmp(err.message, "/title: must be a string") != 0)
            return (void *)1;
    }
    return NULL;
}

/* The embedded schemas are loaded once, on first use, from whichever thread comes first. */
static void test_threads(void **state) {
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, validate_many, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *res;
        assert_int_equal(pthread_join(t[i], &res), 0);
        assert_null(res);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* Runs first so that the threads race to load the embedded schemas. */
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_embedded_schemas_load),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_minimal_bodies),
        cmocka_unit_test(test_exact_messages),
        cmocka_unit_test(test_keyword_type),
        cmocka_unit_test(test_keyword_properties_required_additional),
        cmocka_unit_test(test_keyword_property_counts_and_names),
        cmocka_unit_test(test_keyword_items_counts_unique),
        cmocka_unit_test(test_keyword_enum_const),
        cmocka_unit_test(test_keyword_string_lengths),
        cmocka_unit_test(test_keyword_numbers),
        cmocka_unit_test(test_keyword_ref_defs),
        cmocka_unit_test(test_keyword_formats),
        cmocka_unit_test(test_keyword_combinators),
        cmocka_unit_test(test_boolean_schemas),
        cmocka_unit_test(test_annotations_allowed),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_nul_and_escapes),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_message_caps),
        cmocka_unit_test(test_format_edtf),
        cmocka_unit_test(test_format_country),
        cmocka_unit_test(test_format_bcp47),
        cmocka_unit_test(test_format_sha256_pubkey),
        cmocka_unit_test(test_format_lookup),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
