#include "schema.h"

#include "error.h"
#include "fastpath.h"
#include "format.h"
#include "record.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The generated table of embedded schema files (schema/CMakeLists.txt). */
struct sz__schema_file_s {
    const char *name;
    const char *text;
};
extern const struct sz__schema_file_s sz__schema_files[];

#define SCHEMA_MAX_DEPTH 32    /* nesting of subschemas in a schema file */
#define VALIDATE_MAX_DEPTH 128 /* subschema applications on one path, which bounds $ref loops */
#define MSG_VALUE_MAX 48       /* bytes of a document string quoted in a message */
#define MSG_SEGMENT_MAX 64     /* bytes of one property name in a path */
#define MSG_PATH_MAX 200       /* bytes of a whole path in a message */
#define QUOTED_MAX (MSG_VALUE_MAX + 16) /* a capped value with its quotes, "..." and NUL */

/* ---- messages ------------------------------------------------------------------------------ */

/* Appends at most max bytes of s[0..n) to out (size cap, NUL-terminated), cutting on a UTF-8
 * character boundary and marking the cut with "...". Control characters become '?', so peer text
 * cannot forge lines in logs. When escape_pointer is set, '~' and '/' are escaped as in a JSON
 * Pointer. */
static void append_capped(char *out, size_t cap, const char *s, size_t n, size_t max,
                          int escape_pointer) {
    size_t o = strlen(out);
    size_t used = 0;
    for (size_t i = 0; i < n && o + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (used >= max && (c & 0xC0) != 0x80) {
            if (o + 3 < cap) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (escape_pointer && (c == '~' || c == '/')) {
            out[o++] = '~';
            out[o++] = c == '~' ? '0' : '1';
        } else {
            out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
        }
        used++;
    }
    /* Never leave half of a multi-byte character behind when the buffer ran out. */
    while (o > 0 && o + 4 >= cap && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && o + 4 >= cap && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
        o--;
    out[o] = '\0';
}

/* Where in the document validation is: a chain of frames on the C stack, rendered only when an
 * error is reported. */
typedef struct frame_s {
    const struct frame_s *up;
    const char *key; /* object member name, or NULL for an array index */
    size_t key_len;
    size_t index;
} frame_t;

static void render_path(char *out, size_t cap, const frame_t *at) {
    if (at == NULL) {
        out[0] = '\0';
        return;
    }
    render_path(out, cap, at->up);
    if (at->up == NULL && at->key == NULL && at->index == (size_t)-1)
        return; /* the root frame */
    size_t o = strlen(out);
    if (o >= MSG_PATH_MAX) {
        if (strcmp(out + o - 3, "...") != 0)
            append_capped(out, cap, "...", 3, 3, 0);
        return;
    }
    append_capped(out, cap, "/", 1, 1, 0);
    if (at->key != NULL) {
        append_capped(out, cap, at->key, at->key_len, MSG_SEGMENT_MAX, 1);
    } else {
        char num[32];
        snprintf(num, sizeof num, "%zu", at->index);
        append_capped(out, cap, num, strlen(num), sizeof num, 0);
    }
}

/* Writes s as a quoted, capped string into out (cap bytes). */
static void quote_value(char *out, size_t cap, const char *s, size_t n) {
    out[0] = '\0';
    append_capped(out, cap, "\"", 1, 1, 0);
    append_capped(out, cap, s, n, MSG_VALUE_MAX, 0);
    append_capped(out, cap, "\"", 1, 1, 0);
}

/* Writes a JSON value for a message: strings bare (or quoted), anything else as compact JSON. */
static void describe_value(char *out, size_t cap, const json_t *v, int quote) {
    out[0] = '\0';
    if (json_is_string(v)) {
        if (quote)
            quote_value(out, cap, json_string_value(v), json_string_length(v));
        else
            append_capped(out, cap, json_string_value(v), json_string_length(v), MSG_VALUE_MAX, 0);
        return;
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text == NULL) {
        append_capped(out, cap, "(value)", 7, 7, 0);
        return;
    }
    append_capped(out, cap, text, strlen(text), MSG_VALUE_MAX, 0);
    free(text);
}

/* ---- validation context -------------------------------------------------------------------- */

typedef struct vctx_s {
    const json_t *root;     /* the schema document, for $ref */
    sz_schema_error_t *err; /* may be NULL */
    int quiet;              /* inside anyOf/oneOf/not: failures are expected, not reported */
    int depth;
    int reported;
} vctx_t;

/* Records the first failure: "<path>: <rule>". Returns SZ_E_SCHEMA so callers can return it. */
static int fail(vctx_t *c, const frame_t *at, const char *fmt, ...) {
    if (c->quiet > 0 || c->reported || c->err == NULL)
        return SZ_E_SCHEMA;
    c->reported = 1;
    char path[sizeof c->err->path];
    path[0] = '\0';
    render_path(path, sizeof path, at);
    memcpy(c->err->path, path, sizeof path);
    char rule[sizeof c->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    c->err->message[0] = '\0';
    const char *shown = path[0] != '\0' ? path : "(root)";
    append_capped(c->err->message, sizeof c->err->message, shown, strlen(shown), sizeof path, 0);
    append_capped(c->err->message, sizeof c->err->message, ": ", 2, 2, 0);
    append_capped(c->err->message, sizeof c->err->message, rule, strlen(rule), sizeof rule, 0);
    return SZ_E_SCHEMA;
}

static size_t utf8_codepoints(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static int is_integral(const json_t *v) {
    if (json_is_integer(v))
        return 1;
    if (!json_is_real(v))
        return 0;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static int type_matches(const char *type, const json_t *v) {
    if (strcmp(type, "object") == 0)
        return json_is_object(v);
    if (strcmp(type, "array") == 0)
        return json_is_array(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "integer") == 0)
        return is_integral(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    return 0;
}

static const char *type_phrase(const char *type) {
    if (strcmp(type, "object") == 0)
        return "an object";
    if (strcmp(type, "array") == 0)
        return "an array";
    if (strcmp(type, "string") == 0)
        return "a string";
    if (strcmp(type, "number") == 0)
        return "a number";
    if (strcmp(type, "integer") == 0)
        return "an integer";
    if (strcmp(type, "boolean") == 0)
        return "a boolean";
    return "null";
}

/* Compares two numbers exactly, as JSON Schema does (1 equals 1.0; a double never equals an
 * integer it only rounds to). Returns <0, 0 or >0. */
static int number_cmp(const json_t *a, const json_t *b) {
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    if (json_is_integer(a) || json_is_integer(b)) {
        int flip = json_is_integer(b);
        json_int_t i = json_integer_value(flip ? b : a);
        double r = json_real_value(flip ? a : b);
        int c;
        if (r >= 9223372036854775808.0)
            c = -1;
        else if (r < -9223372036854775808.0)
            c = 1;
        else {
            json_int_t ri = (json_int_t)r; /* truncates toward zero */
            if (i != ri)
                c = (i > ri) - (i < ri);
            else {
                double frac = r - (double)ri;
                c = (frac < 0) - (frac > 0);
            }
        }
        return flip ? -c : c;
    }
    double x = json_real_value(a), y = json_real_value(b);
    return (x > y) - (x < y);
}

static int values_equal(const json_t *a, const json_t *b) {
    if (json_is_number(a) && json_is_number(b))
        return number_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        if (json_array_size(a) != json_array_size(b))
            return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
                return 0;
        return 1;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        const char *k;
        const json_t *va;
        json_object_foreach((json_t *)a, k, va) {
            const json_t *vb = json_object_get(b, k);
            if (vb == NULL || !values_equal(va, vb))
                return 0;
        }
        return 1;
    }
    default:
        return 1; /* true, false, null: equal types are equal values */
    }
}

static int validate(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at);

static const json_t *resolve_ref(const json_t *root, const char *ref) {
    if (strcmp(ref, "#") == 0)
        return root;
    if (strncmp(ref, "#/$defs/", 8) != 0)
        return NULL;
    return json_object_get(json_object_get(root, "$defs"), ref + 8);
}

static int check_type(vctx_t *c, const json_t *type, const json_t *v, const frame_t *at) {
    if (json_is_string(type)) {
        if (type_matches(json_string_value(type), v))
            return 0;
        return fail(c, at, "must be %s", type_phrase(json_string_value(type)));
    }
    size_t i, n = json_array_size(type);
    const json_t *t;
    json_array_foreach(type, i, t) {
        if (type_matches(json_string_value(t), v))
            return 0;
    }
    char list[200] = "";
    json_array_foreach(type, i, t) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        append_capped(list, sizeof list, sep, strlen(sep), 8, 0);
        append_capped(list, sizeof list, json_string_value(t), strlen(json_string_value(t)), 16, 0);
    }
    return fail(c, at, "must be %s", list);
}

static int check_enum(vctx_t *c, const json_t *values, const json_t *v, const frame_t *at) {
    size_t i;
    const json_t *e;
    json_array_foreach(values, i, e) {
        if (values_equal(e, v))
            return 0;
    }
    char list[200] = "";
    json_array_foreach(values, i, e) {
        char one[QUOTED_MAX];
        describe_value(one, sizeof one, e, 0);
        if (i > 0)
            append_capped(list, sizeof list, ", ", 2, 2, 0);
        append_capped(list, sizeof list, one, strlen(one), sizeof one, 0);
    }
    return fail(c, at, "must be one of %s", list);
}

static int check_string(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    const json_t *kw;
    const json_t *min = json_object_get(schema, "minLength");
    const json_t *max = json_object_get(schema, "maxLength");
    if (min != NULL || max != NULL) {
        size_t cp = utf8_codepoints(s, len);
        if (min != NULL && cp < (size_t)json_integer_value(min))
            return json_integer_value(min) == 1
                       ? fail(c, at, "must not be empty")
                       : fail(c, at, "must be at least %lld characters long",
                              (long long)json_integer_value(min));
        if (max != NULL && cp > (size_t)json_integer_value(max))
            return fail(c, at, "must be at most %lld characters long",
                        (long long)json_integer_value(max));
    }
    if ((kw = json_object_get(schema, "format")) != NULL) {
        const char *name = json_string_value(kw);
        sz__format_fn fn = sz__format_lookup(name);
        if (fn != NULL && !fn(s, len)) {
            char q[QUOTED_MAX];
            quote_value(q, sizeof q, s, len);
            return fail(c, at, "%s is not %s", q, sz__format_phrase(name));
        }
    }
    return 0;
}

static int check_number(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    static const struct {
        const char *kw;
        int bad_if_cmp; /* fail when number_cmp(v, limit) has this sign ... */
        int or_equal;   /* ... or is 0 */
        const char *op;
    } rules[] = {
        {"minimum", -1, 0, ">="},
        {"maximum", 1, 0, "<="},
        {"exclusiveMinimum", -1, 1, ">"},
        {"exclusiveMaximum", 1, 1, "<"},
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const json_t *limit = json_object_get(schema, rules[i].kw);
        if (limit == NULL)
            continue;
        int cmp = number_cmp(v, limit);
        if (cmp == rules[i].bad_if_cmp || (rules[i].or_equal && cmp == 0)) {
            char lim[QUOTED_MAX];
            describe_value(lim, sizeof lim, limit, 0);
            return fail(c, at, "must be %s %s", rules[i].op, lim);
        }
    }
    return 0;
}

static int check_object(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    const json_t *required = json_object_get(schema, "required");
    const json_t *props = json_object_get(schema, "properties");
    const json_t *additional = json_object_get(schema, "additionalProperties");
    const json_t *names = json_object_get(schema, "propertyNames");
    const json_t *kw;
    size_t i;
    const json_t *r;
    json_array_foreach(required, i, r) {
        if (json_object_get(v, json_string_value(r)) == NULL) {
            char q[QUOTED_MAX];
            quote_value(q, sizeof q, json_string_value(r), strlen(json_string_value(r)));
            return fail(c, at, "required property %s is missing", q);
        }
    }
    if ((kw = json_object_get(schema, "minProperties")) != NULL &&
        json_object_size(v) < (size_t)json_integer_value(kw))
        return fail(c, at, "must have at least %lld properties", (long long)json_integer_value(kw));
    if ((kw = json_object_get(schema, "maxProperties")) != NULL &&
        json_object_size(v) > (size_t)json_integer_value(kw))
        return fail(c, at, "must have at most %lld properties", (long long)json_integer_value(kw));
    const char *key;
    size_t key_len;
    const json_t *member;
    json_object_keylen_foreach((json_t *)v, key, key_len, member) {
        char q[QUOTED_MAX];
        if (names != NULL) {
            json_t *name = json_stringn_nocheck(key, key_len);
            if (name == NULL)
                return -ENOMEM;
            c->quiet++;
            int rc = validate(c, names, name, at);
            c->quiet--;
            json_decref(name);
            if (rc == -ENOMEM)
                return rc;
            if (rc != 0) {
                quote_value(q, sizeof q, key, key_len);
                return fail(c, at, "property name %s is not allowed", q);
            }
        }
        frame_t here = {at, key, key_len, 0};
        const json_t *sub = json_object_get(props, key);
        if (sub == NULL)
            sub = additional;
        if (sub == NULL)
            continue;
        if (json_is_false(sub)) {
            quote_value(q, sizeof q, key, key_len);
            return fail(c, at, "property %s is not allowed", q);
        }
        int rc = validate(c, sub, member, &here);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_array(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    const json_t *kw;
    size_t n = json_array_size(v);
    if ((kw = json_object_get(schema, "minItems")) != NULL && n < (size_t)json_integer_value(kw))
        return json_integer_value(kw) == 1 ? fail(c, at, "must not be empty")
                                           : fail(c, at, "must have at least %lld items",
                                                  (long long)json_integer_value(kw));
    if ((kw = json_object_get(schema, "maxItems")) != NULL && n > (size_t)json_integer_value(kw))
        return fail(c, at, "must have at most %lld items", (long long)json_integer_value(kw));
    const json_t *items = json_object_get(schema, "items");
    if (items != NULL) {
        for (size_t i = 0; i < n; i++) {
            frame_t here = {at, NULL, 0, i};
            int rc = validate(c, items, json_array_get(v, i), &here);
            if (rc != 0)
                return rc;
        }
    }
    if (json_is_true(json_object_get(schema, "uniqueItems"))) {
        /* Quadratic, but arrays are bounded by maxItems in every schema we ship. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (values_equal(json_array_get(v, i), json_array_get(v, j)))
                    return fail(c, at, "must not contain duplicates (items %zu and %zu are equal)",
                                j, i);
    }
    return 0;
}

static int check_combinators(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    const json_t *kw;
    size_t i;
    const json_t *sub;
    if ((kw = json_object_get(schema, "allOf")) != NULL) {
        json_array_foreach(kw, i, sub) {
            int rc = validate(c, sub, v, at);
            if (rc != 0)
                return rc;
        }
    }
    if ((kw = json_object_get(schema, "anyOf")) != NULL) {
        int ok = 0;
        c->quiet++;
        json_array_foreach(kw, i, sub) {
            int rc = validate(c, sub, v, at);
            if (rc == -ENOMEM) {
                c->quiet--;
                return rc;
            }
            if (rc == 0) {
                ok = 1;
                break;
            }
        }
        c->quiet--;
        if (!ok)
            return fail(c, at, "must match at least one of the allowed forms");
    }
    if ((kw = json_object_get(schema, "oneOf")) != NULL) {
        size_t matched = 0;
        c->quiet++;
        json_array_foreach(kw, i, sub) {
            int rc = validate(c, sub, v, at);
            if (rc == -ENOMEM) {
                c->quiet--;
                return rc;
            }
            matched += rc == 0;
        }
        c->quiet--;
        if (matched != 1)
            return fail(c, at, "must match exactly one of the allowed forms (matches %zu)",
                        matched);
    }
    if ((kw = json_object_get(schema, "not")) != NULL) {
        c->quiet++;
        int rc = validate(c, kw, v, at);
        c->quiet--;
        if (rc == -ENOMEM)
            return rc;
        if (rc == 0)
            return fail(c, at, "must not match the excluded form");
    }
    return 0;
}

static int validate(vctx_t *c, const json_t *schema, const json_t *v, const frame_t *at) {
    if (json_is_true(schema))
        return 0;
    if (json_is_false(schema))
        return fail(c, at, "no value is allowed here");
    if (c->depth >= VALIDATE_MAX_DEPTH)
        return fail(c, at, "nested deeper than %d levels", VALIDATE_MAX_DEPTH);
    c->depth++;
    int rc = 0;
    const json_t *kw;
    if ((kw = json_object_get(schema, "$ref")) != NULL)
        rc = validate(c, resolve_ref(c->root, json_string_value(kw)), v, at);
    if (rc == 0 && (kw = json_object_get(schema, "type")) != NULL)
        rc = check_type(c, kw, v, at);
    if (rc == 0 && (kw = json_object_get(schema, "const")) != NULL && !values_equal(kw, v)) {
        char want[QUOTED_MAX];
        describe_value(want, sizeof want, kw, 1);
        rc = fail(c, at, "must be %s", want);
    }
    if (rc == 0 && (kw = json_object_get(schema, "enum")) != NULL)
        rc = check_enum(c, kw, v, at);
    if (rc == 0 && json_is_string(v))
        rc = check_string(c, schema, v, at);
    if (rc == 0 && json_is_number(v))
        rc = check_number(c, schema, v, at);
    if (rc == 0 && json_is_object(v))
        rc = check_object(c, schema, v, at);
    if (rc == 0 && json_is_array(v))
        rc = check_array(c, schema, v, at);
    if (rc == 0)
        rc = check_combinators(c, schema, v, at);
    c->depth--;
    return rc;
}

/* ---- loading and checking schema documents -------------------------------------------------- */

typedef struct lctx_s {
    const json_t *root;
    sz_schema_error_t *err;
} lctx_t;

static int bad_schema(lctx_t *l, const frame_t *at, const char *fmt, ...) {
    if (l->err == NULL)
        return SZ_E_ARGUMENT;
    char path[sizeof l->err->path];
    path[0] = '\0';
    render_path(path, sizeof path, at);
    memcpy(l->err->path, path, sizeof path);
    char rule[sizeof l->err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rule, sizeof rule, fmt, ap);
    va_end(ap);
    l->err->message[0] = '\0';
    append_capped(l->err->message, sizeof l->err->message, "schema ", 7, 7, 0);
    const char *shown = path[0] != '\0' ? path : "(root)";
    append_capped(l->err->message, sizeof l->err->message, shown, strlen(shown), sizeof path, 0);
    append_capped(l->err->message, sizeof l->err->message, ": ", 2, 2, 0);
    append_capped(l->err->message, sizeof l->err->message, rule, strlen(rule), sizeof rule, 0);
    return SZ_E_ARGUMENT;
}

static const char *const type_names[] = {"object",  "array",   "string", "number",
                                         "integer", "boolean", "null"};

static int is_type_name(const json_t *t) {
    if (!json_is_string(t))
        return 0;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (strcmp(json_string_value(t), type_names[i]) == 0)
            return 1;
    return 0;
}

static int check_schema(lctx_t *l, const json_t *s, const frame_t *at, int depth);

static int check_schema_list(lctx_t *l, const json_t *list, const frame_t *at, int depth,
                             const char *kw) {
    if (!json_is_array(list) || json_array_size(list) == 0)
        return bad_schema(l, at, "%s must be a non-empty array of schemas", kw);
    size_t i;
    const json_t *sub;
    json_array_foreach(list, i, sub) {
        frame_t here = {at, NULL, 0, i};
        int rc = check_schema(l, sub, &here, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int check_schema_map(lctx_t *l, const json_t *map, const frame_t *at, int depth,
                            const char *kw) {
    if (!json_is_object(map))
        return bad_schema(l, at, "%s must be an object of schemas", kw);
    const char *key;
    size_t key_len;
    const json_t *sub;
    json_object_keylen_foreach((json_t *)map, key, key_len, sub) {
        frame_t here = {at, key, key_len, 0};
        int rc = check_schema(l, sub, &here, depth + 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int is_count(const json_t *v) {
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* Checks one keyword of a schema object. Every keyword the validator does not implement is an
 * error, so that a typo or an unsupported keyword cannot silently weaken a schema. */
static int check_keyword(lctx_t *l, const char *kw, const json_t *val, const frame_t *here,
                         int depth) {
    if (strcmp(kw, "$schema") == 0) {
        if (!json_is_string(val) ||
            strcmp(json_string_value(val), "https://json-schema.org/draft/2020-12/schema") != 0)
            return bad_schema(l, here, "only draft 2020-12 is supported");
        return 0;
    }
    if (strcmp(kw, "$id") == 0 || strcmp(kw, "$comment") == 0 || strcmp(kw, "title") == 0 ||
        strcmp(kw, "description") == 0)
        return json_is_string(val) ? 0 : bad_schema(l, here, "%s must be a string", kw);
    if (strcmp(kw, "examples") == 0)
        return json_is_array(val) ? 0 : bad_schema(l, here, "examples must be an array");
    if (strcmp(kw, "default") == 0)
        return 0;
    if (strcmp(kw, "deprecated") == 0 || strcmp(kw, "readOnly") == 0 ||
        strcmp(kw, "writeOnly") == 0 || strcmp(kw, "uniqueItems") == 0)
        return json_is_boolean(val) ? 0 : bad_schema(l, here, "%s must be a boolean", kw);
    if (strcmp(kw, "$defs") == 0 || strcmp(kw, "properties") == 0)
        return check_schema_map(l, val, here, depth, kw);
    if (strcmp(kw, "additionalProperties") == 0 || strcmp(kw, "items") == 0 ||
        strcmp(kw, "propertyNames") == 0 || strcmp(kw, "not") == 0)
        return check_schema(l, val, here, depth + 1);
    if (strcmp(kw, "allOf") == 0 || strcmp(kw, "anyOf") == 0 || strcmp(kw, "oneOf") == 0)
        return check_schema_list(l, val, here, depth, kw);
    if (strcmp(kw, "$ref") == 0) {
        const json_t *target =
            json_is_string(val) ? resolve_ref(l->root, json_string_value(val)) : NULL;
        if (target == NULL)
            return bad_schema(l, here,
                              "$ref must be \"#\" or \"#/$defs/NAME\" of an existing "
                              "definition");
        return 0;
    }
    if (strcmp(kw, "type") == 0) {
        if (is_type_name(val))
            return 0;
        if (!json_is_array(val) || json_array_size(val) == 0)
            return bad_schema(l, here, "type must be a type name or a non-empty array of them");
        size_t i, j;
        const json_t *t;
        json_array_foreach(val, i, t) {
            if (!is_type_name(t))
                return bad_schema(l, here, "unknown type name");
            for (j = 0; j < i; j++)
                if (strcmp(json_string_value(t), json_string_value(json_array_get(val, j))) == 0)
                    return bad_schema(l, here, "type names must be unique");
        }
        return 0;
    }
    if (strcmp(kw, "required") == 0) {
        if (!json_is_array(val))
            return bad_schema(l, here, "required must be an array of strings");
        size_t i, j;
        const json_t *r;
        json_array_foreach(val, i, r) {
            if (!json_is_string(r))
                return bad_schema(l, here, "required must be an array of strings");
            for (j = 0; j < i; j++)
                if (strcmp(json_string_value(r), json_string_value(json_array_get(val, j))) == 0)
                    return bad_schema(l, here, "required names must be unique");
        }
        return 0;
    }
    if (strcmp(kw, "enum") == 0)
        return json_is_array(val) && json_array_size(val) > 0
                   ? 0
                   : bad_schema(l, here, "enum must be a non-empty array");
    if (strcmp(kw, "const") == 0)
        return 0;
    if (strcmp(kw, "minLength") == 0 || strcmp(kw, "maxLength") == 0 ||
        strcmp(kw, "minItems") == 0 || strcmp(kw, "maxItems") == 0 ||
        strcmp(kw, "minProperties") == 0 || strcmp(kw, "maxProperties") == 0)
        return is_count(val) ? 0 : bad_schema(l, here, "%s must be a non-negative integer", kw);
    if (strcmp(kw, "minimum") == 0 || strcmp(kw, "maximum") == 0 ||
        strcmp(kw, "exclusiveMinimum") == 0 || strcmp(kw, "exclusiveMaximum") == 0)
        return json_is_number(val) ? 0 : bad_schema(l, here, "%s must be a number", kw);
    if (strcmp(kw, "format") == 0)
        return json_is_string(val) && sz__format_lookup(json_string_value(val)) != NULL
                   ? 0
                   : bad_schema(l, here,
                                "format must be one of edtf, country, bcp47, sha256, "
                                "pubkey");
    char q[QUOTED_MAX];
    quote_value(q, sizeof q, kw, strlen(kw));
    return bad_schema(l, here, "unknown or unsupported keyword %s", q);
}

static int check_schema(lctx_t *l, const json_t *s, const frame_t *at, int depth) {
    if (json_is_boolean(s))
        return 0;
    if (!json_is_object(s))
        return bad_schema(l, at, "a schema must be an object or a boolean");
    if (depth > SCHEMA_MAX_DEPTH)
        return bad_schema(l, at, "nested deeper than %d levels", SCHEMA_MAX_DEPTH);
    const char *key;
    size_t key_len;
    const json_t *val;
    json_object_keylen_foreach((json_t *)s, key, key_len, val) {
        if (strlen(key) != key_len)
            return bad_schema(l, at, "keyword contains NUL");
        frame_t here = {at, key, key_len, 0};
        int rc = check_keyword(l, key, val, &here, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Parses and checks schema text. On success *out is a new reference the caller owns. */
static int load_schema(const char *text, json_t **out, sz_schema_error_t *err) {
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    *out = NULL;
    if (root == NULL) {
        if (err != NULL) {
            err->path[0] = '\0';
            snprintf(err->message, sizeof err->message, "schema is not valid JSON: line %d: %.128s",
                     jerr.line, jerr.text);
        }
        return SZ_E_ARGUMENT;
    }
    lctx_t l = {root, err};
    frame_t top = {NULL, NULL, 0, (size_t)-1};
    int rc = check_schema(&l, root, &top, 0);
    if (rc != 0) {
        json_decref(root);
        return rc;
    }
    *out = root;
    return 0;
}

/* ---- documents ----------------------------------------------------------------------------- */

static void set_error(sz_schema_error_t *err, const char *fmt, ...) {
    if (err == NULL)
        return;
    err->path[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* fast (may be NULL) is schema compiled for the fast path (fastpath.h). */
static int validate_document(const json_t *schema, const sz__fast_schema_t *fast,
                             const uint8_t *json, size_t len, sz_schema_error_t *err) {
    if (err != NULL)
        err->path[0] = err->message[0] = '\0';
    if (len > SZ_SCHEMA_MAX_DOC) {
        set_error(err, "document is %zu bytes, more than the limit of %u", len,
                  (unsigned)SZ_SCHEMA_MAX_DOC);
        return SZ_E_TOO_LARGE;
    }
    if (json == NULL && len > 0) {
        set_error(err, "no document given");
        return SZ_E_ARGUMENT;
    }
    size_t bad = sz__utf8_invalid_at(json, len);
    if (bad < len) {
        set_error(err, "invalid UTF-8 at byte %zu", bad);
        return SZ_E_UTF8;
    }
    /* The fast path only ever says "certainly valid"; everything else, and every message, comes
     * from the jansson path below. */
    if (fast != NULL && sz__fast_accepts(fast, json, len)) {
#ifndef NDEBUG
        vctx_t check = {schema, NULL, 0, 0, 0};
        frame_t root = {NULL, NULL, 0, (size_t)-1};
        json_t *d =
            json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
        int agreed = d != NULL && validate(&check, schema, d, &root) == 0;
        json_decref(d);
        assert(agreed && "the schema fast path accepted a document the validator rejects");
        (void)agreed;
#endif
        return 0;
    }
    json_error_t jerr;
    /* Jansson rejects \u0000 in strings unless JSON_ALLOW_NUL is given, which we never do, so no
     * string seen below holds a NUL. */
    json_t *doc = json_loadb(len > 0 ? (const char *)json : "", len,
                             JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL) {
        char text[160] = "";
        append_capped(text, sizeof text, jerr.text, strlen(jerr.text), 128, 0);
        set_error(err, "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column, text);
        return SZ_E_JSON;
    }
    vctx_t c = {schema, err, 0, 0, 0};
    frame_t top = {NULL, NULL, 0, (size_t)-1};
    int rc = validate(&c, schema, doc, &top);
    json_decref(doc);
    return rc;
}

/* ---- embedded schemas ---------------------------------------------------------------------- */

#define KIND_SLOTS 5

static pthread_once_t embedded_once = PTHREAD_ONCE_INIT;
static json_t *embedded[KIND_SLOTS];
static sz__fast_schema_t *embedded_fast[KIND_SLOTS]; /* NULL if out of memory: jansson path only */
static int embedded_rc[KIND_SLOTS];

static const char *kind_file(unsigned kind) {
    switch (kind) {
    case SZ_KIND_TESTIMONY:
        return "testimony";
    case SZ_KIND_CASE:
        return "case";
    case SZ_KIND_RETRACTION:
        return "retraction";
    case SZ_KIND_REVOCATION:
        return "revocation";
    default:
        return NULL;
    }
}

const char *sz_schema_text(unsigned kind) {
    const char *name = kind_file(kind);
    if (name == NULL)
        return NULL;
    for (size_t i = 0; sz__schema_files[i].name != NULL; i++)
        if (strcmp(sz__schema_files[i].name, name) == 0)
            return sz__schema_files[i].text;
    return NULL;
}

static void load_embedded(void) {
    for (unsigned k = 1; k < KIND_SLOTS; k++) {
        const char *text = sz_schema_text(k);
        embedded_rc[k] = text == NULL ? SZ_E_KIND : load_schema(text, &embedded[k], NULL);
        if (embedded[k] != NULL && sz__fast_compile(embedded[k], &embedded_fast[k]) != 0)
            embedded_fast[k] = NULL;
    }
}

int sz_schema_validate(unsigned kind, const uint8_t *json, size_t len, sz_schema_error_t *err) {
    if (err != NULL)
        err->path[0] = err->message[0] = '\0';
    if (kind_file(kind) == NULL) {
        set_error(err, "unknown record kind %u", kind);
        return SZ_E_KIND;
    }
    pthread_once(&embedded_once, load_embedded);
    if (embedded[kind] == NULL) {
        /* Only a broken build gets here: the unit tests load every embedded schema. */
        set_error(err, "the built-in %s schema does not load (%s)", kind_file(kind),
                  sz_errname(embedded_rc[kind]));
        return SZ_E_SCHEMA;
    }
    return validate_document(embedded[kind], embedded_fast[kind], json, len, err);
}

int sz_schema_validate_with(const char *schema_text, const uint8_t *json, size_t len,
                            sz_schema_error_t *err) {
    if (err != NULL)
        err->path[0] = err->message[0] = '\0';
    if (schema_text == NULL) {
        set_error(err, "no schema given");
        return SZ_E_ARGUMENT;
    }
    json_t *schema;
    int rc = load_schema(schema_text, &schema, err);
    if (rc != 0)
        return rc;
    /* Compiled here too, so tests that drive arbitrary schemas exercise the fast path. */
    sz__fast_schema_t *fast = NULL;
    if (sz__fast_compile(schema, &fast) != 0)
        fast = NULL;
    rc = validate_document(schema, fast, json, len, err);
    sz__fast_free(fast);
    json_decref(schema);
    return rc;
}

int sz_schema_check(const char *schema_text, sz_schema_error_t *err) {
    json_t *schema;
    if (err != NULL)
        err->path[0] = err->message[0] = '\0';
    if (schema_text == NULL) {
        set_error(err, "no schema given");
        return SZ_E_ARGUMENT;
    }
    int rc = load_schema(schema_text, &schema, err);
    json_decref(schema);
    return rc;
}
