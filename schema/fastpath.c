#include "fastpath.h"

#include "encoding.h"
#include "format.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- compiled schemas ---------------------------------------------------------------------- */

enum {
    T_OBJECT = 1,
    T_ARRAY = 2,
    T_STRING = 4,
    T_NUMBER = 8,
    T_INTEGER = 16,
    T_BOOLEAN = 32,
    T_NULL = 64
};

typedef struct cs_s cs_t;

typedef struct prop_s {
    const char *name;
    size_t len;
    cs_t *schema;
} prop_t;

struct cs_s {
    const json_t *src;
    cs_t *next_alloc; /* every node of one compiled schema, for freeing */
    int boolean;      /* -1: an object schema; 0: false; 1: true */
    unsigned types;   /* T_* bits; 0 when there is no "type" */
    cs_t *ref;
    const json_t *konst, *enumv;
    long long min_len, max_len; /* -1 when absent */
    sz__format_fn format;
    const json_t *minimum, *maximum, *xminimum, *xmaximum;
    prop_t *required;
    size_t nrequired;
    prop_t *props;
    size_t nprops;
    cs_t *additional, *names;
    long long min_props, max_props, min_items, max_items; /* -1 when absent */
    cs_t *items;
    int unique;
    cs_t **all, **any, **one;
    size_t nall, nany, none;
    cs_t * not ;
};

struct sz__fast_schema_s {
    json_t *root;
    cs_t *top;
    cs_t *nodes;
};

static cs_t *compile(sz__fast_schema_t *fs, const json_t *s, int *nomem);

static long long count_kw(const json_t *s, const char *kw) {
    const json_t *v = json_object_get(s, kw);
    return v != NULL ? (long long)json_integer_value(v) : -1;
}

static cs_t **compile_list(sz__fast_schema_t *fs, const json_t *list, size_t *n, int *nomem) {
    *n = 0;
    if (list == NULL)
        return NULL;
    size_t count = json_array_size(list);
    cs_t **out = calloc(count ? count : 1, sizeof *out);
    if (out == NULL) {
        *nomem = 1;
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        out[i] = compile(fs, json_array_get(list, i), nomem);
    *n = count;
    return out;
}

static const json_t *resolve(const json_t *root, const char *ref) {
    if (strcmp(ref, "#") == 0)
        return root;
    if (strncmp(ref, "#/$defs/", 8) != 0)
        return NULL;
    return json_object_get(json_object_get(root, "$defs"), ref + 8);
}

/* Compiles s, reusing the node of a subschema compiled before so that $ref cycles terminate. The
 * loader has checked every keyword and value, so only allocation can fail. */
static cs_t *compile(sz__fast_schema_t *fs, const json_t *s, int *nomem) {
    if (s == NULL)
        return NULL;
    for (cs_t *n = fs->nodes; n != NULL; n = n->next_alloc)
        if (n->src == s)
            return n;
    cs_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *nomem = 1;
        return NULL;
    }
    c->src = s;
    c->next_alloc = fs->nodes;
    fs->nodes = c;
    if (json_is_boolean(s)) {
        c->boolean = json_is_true(s);
        return c;
    }
    c->boolean = -1;
    const json_t *kw;
    if ((kw = json_object_get(s, "$ref")) != NULL)
        c->ref = compile(fs, resolve(fs->root, json_string_value(kw)), nomem);
    if ((kw = json_object_get(s, "type")) != NULL) {
        static const char *const names[] = {"object",  "array",   "string", "number",
                                            "integer", "boolean", "null"};
        size_t n = json_is_array(kw) ? json_array_size(kw) : 1;
        for (size_t i = 0; i < n; i++) {
            const char *t = json_string_value(json_is_array(kw) ? json_array_get(kw, i) : kw);
            for (unsigned b = 0; b < 7; b++)
                if (t != NULL && strcmp(t, names[b]) == 0)
                    c->types |= 1u << b;
        }
    }
    c->konst = json_object_get(s, "const");
    c->enumv = json_object_get(s, "enum");
    c->min_len = count_kw(s, "minLength");
    c->max_len = count_kw(s, "maxLength");
    if ((kw = json_object_get(s, "format")) != NULL)
        c->format = sz__format_lookup(json_string_value(kw));
    c->minimum = json_object_get(s, "minimum");
    c->maximum = json_object_get(s, "maximum");
    c->xminimum = json_object_get(s, "exclusiveMinimum");
    c->xmaximum = json_object_get(s, "exclusiveMaximum");
    if ((kw = json_object_get(s, "required")) != NULL && json_array_size(kw) > 0) {
        c->required = calloc(json_array_size(kw), sizeof *c->required);
        if (c->required == NULL) {
            *nomem = 1;
            return c;
        }
        for (size_t i = 0; i < json_array_size(kw); i++) {
            c->required[i].name = json_string_value(json_array_get(kw, i));
            c->required[i].len = strlen(c->required[i].name);
        }
        c->nrequired = json_array_size(kw);
    }
    if ((kw = json_object_get(s, "properties")) != NULL && json_object_size(kw) > 0) {
        c->props = calloc(json_object_size(kw), sizeof *c->props);
        if (c->props == NULL) {
            *nomem = 1;
            return c;
        }
        const char *key;
        size_t key_len;
        json_t *sub;
        json_object_keylen_foreach((json_t *)kw, key, key_len, sub) {
            prop_t *p = &c->props[c->nprops++];
            p->name = key;
            p->len = key_len;
            p->schema = compile(fs, sub, nomem);
        }
    }
    c->additional = compile(fs, json_object_get(s, "additionalProperties"), nomem);
    c->names = compile(fs, json_object_get(s, "propertyNames"), nomem);
    c->min_props = count_kw(s, "minProperties");
    c->max_props = count_kw(s, "maxProperties");
    c->min_items = count_kw(s, "minItems");
    c->max_items = count_kw(s, "maxItems");
    c->items = compile(fs, json_object_get(s, "items"), nomem);
    c->unique = json_is_true(json_object_get(s, "uniqueItems"));
    c->all = compile_list(fs, json_object_get(s, "allOf"), &c->nall, nomem);
    c->any = compile_list(fs, json_object_get(s, "anyOf"), &c->nany, nomem);
    c->one = compile_list(fs, json_object_get(s, "oneOf"), &c->none, nomem);
    c->not = compile(fs, json_object_get(s, "not"), nomem);
    return c;
}

void sz__fast_free(sz__fast_schema_t *fs) {
    if (fs == NULL)
        return;
    cs_t *n = fs->nodes;
    while (n != NULL) {
        cs_t *next = n->next_alloc;
        free(n->required);
        free(n->props);
        free(n->all);
        free(n->any);
        free(n->one);
        free(n);
        n = next;
    }
    json_decref(fs->root);
    free(fs);
}

int sz__fast_compile(json_t *root, sz__fast_schema_t **out) {
    *out = NULL;
    sz__fast_schema_t *fs = calloc(1, sizeof *fs);
    if (fs == NULL)
        return -ENOMEM;
    fs->root = json_incref(root);
    int nomem = 0;
    fs->top = compile(fs, root, &nomem);
    if (nomem || fs->top == NULL) {
        sz__fast_free(fs);
        return -ENOMEM;
    }
    *out = fs;
    return 0;
}

/* ---- documents ----------------------------------------------------------------------------- */

enum { J_OBJECT, J_ARRAY, J_STRING, J_INT, J_REAL, J_TRUE, J_FALSE, J_NULL };

typedef struct node_s {
    uint8_t type;
    uint32_t next;   /* index of the next sibling, 0 for none */
    uint32_t first;  /* first child, 0 for none */
    uint32_t count;  /* children */
    const char *key; /* member name, for members of an object */
    size_t key_len;
    const char *s; /* string value */
    size_t len;
    int64_t i;
    double d;
} node_t;

#define STACK_NODES 256
#define MAX_DEPTH 64    /* deeper documents go to the jansson path */
#define MAX_MEMBERS 256 /* larger objects too (duplicate keys are checked pairwise) */

typedef struct parser_s {
    const uint8_t *p, *end;
    node_t *nodes;
    size_t n, cap;
    int heap;
    char *text; /* decoded strings with escapes, allocated on first use */
    size_t text_used, text_cap;
} parser_t;

static void skip_ws(parser_t *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

static int new_node(parser_t *ps, uint32_t *at) {
    if (ps->n == ps->cap) {
        if (ps->cap >= UINT32_MAX / 2)
            return -1;
        size_t cap = ps->cap * 2;
        node_t *grown = malloc(cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        memcpy(grown, ps->nodes, ps->n * sizeof *grown);
        if (ps->heap)
            free(ps->nodes);
        ps->nodes = grown;
        ps->cap = cap;
        ps->heap = 1;
    }
    *at = (uint32_t)ps->n;
    memset(&ps->nodes[ps->n], 0, sizeof ps->nodes[0]);
    ps->n++;
    return 0;
}

static int read_hex4(const uint8_t *p, const uint8_t *end, uint32_t *out) {
    if (end - p < 4)
        return -1;
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
        int h = sz_hex_digit(p[k]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

/* Parses a string at ps->p (the opening quote). Plain strings point into the document; strings
 * with escapes are decoded into ps->text. Rejects what jansson rejects (control characters, bad
 * escapes, unpaired surrogates) and, to stay on the safe side, \u0000. */
static int parse_string(parser_t *ps, const char **s, size_t *len) {
    const uint8_t *start = ++ps->p;
    const uint8_t *q = start;
    while (q < ps->end && *q != '"' && *q != '\\' && *q >= 0x20)
        q++;
    if (q >= ps->end || *q < 0x20)
        return -1;
    if (*q == '"') {
        *s = (const char *)start;
        *len = (size_t)(q - start);
        ps->p = q + 1;
        return 0;
    }
    if (ps->text == NULL) {
        /* Decoded text is never longer than its source, so the document length bounds it all. */
        ps->text_cap = (size_t)(ps->end - ps->p) + 1;
        ps->text = malloc(ps->text_cap);
        if (ps->text == NULL)
            return -1;
    }
    char *out = ps->text + ps->text_used;
    size_t o = 0;
    memcpy(out, start, (size_t)(q - start));
    o = (size_t)(q - start);
    while (q < ps->end && *q != '"') {
        uint8_t c = *q;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            out[o++] = (char)c;
            q++;
            continue;
        }
        if (q + 1 >= ps->end)
            return -1;
        uint8_t e = q[1];
        q += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            out[o++] = (char)e;
            continue;
        case 'b':
            out[o++] = '\b';
            continue;
        case 'f':
            out[o++] = '\f';
            continue;
        case 'n':
            out[o++] = '\n';
            continue;
        case 'r':
            out[o++] = '\r';
            continue;
        case 't':
            out[o++] = '\t';
            continue;
        case 'u':
            break;
        default:
            return -1;
        }
        uint32_t cp;
        if (read_hex4(q, ps->end, &cp) != 0 || cp == 0)
            return -1;
        q += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return -1;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo;
            if (ps->end - q < 6 || q[0] != '\\' || q[1] != 'u' || read_hex4(q + 2, ps->end, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return -1;
            q += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | cp >> 6);
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[o++] = (char)(0xE0 | cp >> 12);
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xF0 | cp >> 18);
            out[o++] = (char)(0x80 | (cp >> 12 & 0x3F));
            out[o++] = (char)(0x80 | (cp >> 6 & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (q >= ps->end)
        return -1;
    ps->p = q + 1;
    *s = out;
    *len = o;
    ps->text_used += o;
    return 0;
}

/* Numbers as jansson reads them: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, an integer when
 * there is neither fraction nor exponent. Integers of more than 18 digits and reals that do not
 * convert cleanly are left to jansson (which rejects out-of-range values). */
static int parse_number(parser_t *ps, node_t *nd) {
    const uint8_t *start = ps->p, *q = ps->p;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end)
        return -1;
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9')
            return -1;
    } else if (*q >= '1' && *q <= '9') {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    } else {
        return -1;
    }
    int real = 0;
    if (q < ps->end && *q == '.') {
        real = 1;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return -1;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        real = 1;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9')
            return -1;
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    size_t n = (size_t)(q - start);
    ps->p = q;
    if (!real) {
        const uint8_t *d = start + (*start == '-');
        if (q - d > 18)
            return -1;
        int64_t v = 0;
        for (; d < q; d++)
            v = v * 10 + (*d - '0');
        nd->type = J_INT;
        nd->i = *start == '-' ? -v : v;
        return 0;
    }
    char buf[64];
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, start, n);
    buf[n] = '\0';
    char *endp;
    errno = 0;
    double v = strtod(buf, &endp);
    if (endp != buf + n || isinf(v) || isnan(v) || errno == ERANGE)
        return -1;
    nd->type = J_REAL;
    nd->d = v;
    return 0;
}

static int literal(parser_t *ps, const char *word, size_t n) {
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return -1;
    ps->p += n;
    return 0;
}

static int parse_value(parser_t *ps, uint32_t at, int depth);

static int parse_container(parser_t *ps, uint32_t at, int depth, int object) {
    uint8_t close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return 0;
    }
    uint32_t prev = 0;
    uint32_t count = 0;
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"' || parse_string(ps, &key, &key_len) != 0)
                return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return -1;
            ps->p++;
            skip_ws(ps);
            if (count >= MAX_MEMBERS)
                return -1;
            /* Duplicate keys are an error for jansson (JSON_REJECT_DUPLICATES). */
            for (uint32_t m = ps->nodes[at].first; m != 0; m = ps->nodes[m].next)
                if (ps->nodes[m].key_len == key_len && memcmp(ps->nodes[m].key, key, key_len) == 0)
                    return -1;
        }
        uint32_t child;
        if (new_node(ps, &child) != 0)
            return -1;
        ps->nodes[child].key = key;
        ps->nodes[child].key_len = key_len;
        if (prev == 0)
            ps->nodes[at].first = child;
        else
            ps->nodes[prev].next = child;
        prev = child;
        count++;
        ps->nodes[at].count = count;
        if (parse_value(ps, child, depth + 1) != 0)
            return -1;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return -1;
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (*ps->p != close)
            return -1;
        ps->p++;
        return 0;
    }
}

static int parse_value(parser_t *ps, uint32_t at, int depth) {
    if (depth > MAX_DEPTH || ps->p >= ps->end)
        return -1;
    switch (*ps->p) {
    case '{':
        ps->nodes[at].type = J_OBJECT;
        return parse_container(ps, at, depth, 1);
    case '[':
        ps->nodes[at].type = J_ARRAY;
        return parse_container(ps, at, depth, 0);
    case '"': {
        const char *s;
        size_t len;
        if (parse_string(ps, &s, &len) != 0)
            return -1;
        ps->nodes[at].type = J_STRING;
        ps->nodes[at].s = s;
        ps->nodes[at].len = len;
        return 0;
    }
    case 't':
        ps->nodes[at].type = J_TRUE;
        return literal(ps, "true", 4);
    case 'f':
        ps->nodes[at].type = J_FALSE;
        return literal(ps, "false", 5);
    case 'n':
        ps->nodes[at].type = J_NULL;
        return literal(ps, "null", 4);
    default:
        return parse_number(ps, &ps->nodes[at]);
    }
}

/* ---- validation ---------------------------------------------------------------------------- */

enum { PASS = 0, FAIL = 1, UNSURE = 2 };

#define VALIDATE_MAX_DEPTH 128 /* as in schema.c */

typedef struct vctx_s {
    const node_t *nodes;
    int depth;
} vctx_t;

static int is_number(const node_t *v) {
    return v->type == J_INT || v->type == J_REAL;
}

/* Equality of a schema value (const, enum) and a document value: 1, 0, or UNSURE for the cases
 * left to jansson (arrays, objects, an integer against a real). */
static int equal_json(const json_t *e, const node_t *v) {
    switch (json_typeof(e)) {
    case JSON_STRING:
        return v->type == J_STRING && v->len == json_string_length(e) &&
               memcmp(v->s, json_string_value(e), v->len) == 0;
    case JSON_INTEGER:
        if (v->type == J_INT)
            return v->i == json_integer_value(e);
        return v->type == J_REAL ? UNSURE : 0;
    case JSON_REAL:
        if (v->type == J_REAL)
            return v->d == json_real_value(e);
        return v->type == J_INT ? UNSURE : 0;
    case JSON_TRUE:
        return v->type == J_TRUE;
    case JSON_FALSE:
        return v->type == J_FALSE;
    case JSON_NULL:
        return v->type == J_NULL;
    case JSON_ARRAY:
        return v->type == J_ARRAY ? UNSURE : 0;
    case JSON_OBJECT:
        return v->type == J_OBJECT ? UNSURE : 0;
    }
    return UNSURE;
}

/* Equality of two document values, for uniqueItems: 1, 0 or UNSURE. */
static int equal_nodes(const node_t *a, const node_t *b) {
    if (is_number(a) && is_number(b)) {
        if (a->type != b->type)
            return UNSURE;
        return a->type == J_INT ? a->i == b->i : a->d == b->d;
    }
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case J_STRING:
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    case J_ARRAY:
    case J_OBJECT:
        return UNSURE;
    default:
        return 1;
    }
}

/* Compares a document number with a schema limit: <0, 0, >0, or sets *unsure. */
static int cmp_number(const node_t *v, const json_t *limit, int *unsure) {
    if (v->type == J_INT && json_is_integer(limit)) {
        json_int_t y = json_integer_value(limit);
        return (v->i > y) - (v->i < y);
    }
    if (v->type == J_REAL && json_is_real(limit)) {
        double y = json_real_value(limit);
        return (v->d > y) - (v->d < y);
    }
    *unsure = 1;
    return 0;
}

static int matches_type(unsigned types, const node_t *v) {
    switch (v->type) {
    case J_OBJECT:
        return (types & T_OBJECT) != 0;
    case J_ARRAY:
        return (types & T_ARRAY) != 0;
    case J_STRING:
        return (types & T_STRING) != 0;
    case J_INT:
        return (types & (T_NUMBER | T_INTEGER)) != 0;
    case J_REAL:
        return (types & T_NUMBER) != 0 ||
               ((types & T_INTEGER) != 0 && isfinite(v->d) && floor(v->d) == v->d);
    case J_TRUE:
    case J_FALSE:
        return (types & T_BOOLEAN) != 0;
    default:
        return (types & T_NULL) != 0;
    }
}

static size_t codepoints(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

static int check(vctx_t *c, const cs_t *s, const node_t *v);

/* Folds one result into the running one: a failure decides; unsure is remembered. */
#define STEP(expr)                                                                                 \
    do {                                                                                           \
        int r_ = (expr);                                                                           \
        if (r_ == FAIL)                                                                            \
            return FAIL;                                                                           \
        if (r_ == UNSURE)                                                                          \
            unsure = 1;                                                                            \
    } while (0)

static int check_object(vctx_t *c, const cs_t *s, const node_t *v) {
    int unsure = 0;
    for (size_t r = 0; r < s->nrequired; r++) {
        uint32_t m = v->first;
        for (; m != 0; m = c->nodes[m].next)
            if (c->nodes[m].key_len == s->required[r].len &&
                memcmp(c->nodes[m].key, s->required[r].name, s->required[r].len) == 0)
                break;
        if (m == 0)
            return FAIL;
    }
    if (s->min_props >= 0 && v->count < (unsigned long long)s->min_props)
        return FAIL;
    if (s->max_props >= 0 && v->count > (unsigned long long)s->max_props)
        return FAIL;
    for (uint32_t m = v->first; m != 0; m = c->nodes[m].next) {
        const node_t *member = &c->nodes[m];
        if (s->names != NULL) {
            node_t name = {.type = J_STRING, .s = member->key, .len = member->key_len};
            STEP(check(c, s->names, &name));
        }
        const cs_t *sub = NULL;
        for (size_t p = 0; p < s->nprops; p++)
            if (s->props[p].len == member->key_len &&
                memcmp(s->props[p].name, member->key, member->key_len) == 0) {
                sub = s->props[p].schema;
                break;
            }
        if (sub == NULL)
            sub = s->additional;
        if (sub == NULL)
            continue;
        STEP(check(c, sub, member));
    }
    return unsure ? UNSURE : PASS;
}

static int check_array(vctx_t *c, const cs_t *s, const node_t *v) {
    int unsure = 0;
    if (s->min_items >= 0 && v->count < (unsigned long long)s->min_items)
        return FAIL;
    if (s->max_items >= 0 && v->count > (unsigned long long)s->max_items)
        return FAIL;
    if (s->items != NULL)
        for (uint32_t m = v->first; m != 0; m = c->nodes[m].next)
            STEP(check(c, s->items, &c->nodes[m]));
    if (s->unique)
        for (uint32_t a = v->first; a != 0; a = c->nodes[a].next)
            for (uint32_t b = c->nodes[a].next; b != 0; b = c->nodes[b].next) {
                int e = equal_nodes(&c->nodes[a], &c->nodes[b]);
                STEP(e == 1 ? FAIL : e == UNSURE ? UNSURE : PASS);
            }
    return unsure ? UNSURE : PASS;
}

static int check_combinators(vctx_t *c, const cs_t *s, const node_t *v) {
    int unsure = 0;
    for (size_t i = 0; i < s->nall; i++)
        STEP(check(c, s->all[i], v));
    if (s->nany > 0) {
        int ok = 0, maybe = 0;
        for (size_t i = 0; i < s->nany && !ok; i++) {
            int r = check(c, s->any[i], v);
            ok = r == PASS;
            maybe |= r == UNSURE;
        }
        if (!ok)
            return maybe ? UNSURE : FAIL;
    }
    if (s->none > 0) {
        size_t matched = 0;
        int maybe = 0;
        for (size_t i = 0; i < s->none; i++) {
            int r = check(c, s->one[i], v);
            matched += r == PASS;
            maybe |= r == UNSURE;
        }
        if (maybe)
            unsure = 1;
        else if (matched != 1)
            return FAIL;
    }
    if (s->not != NULL) {
        int r = check(c, s->not, v);
        STEP(r == PASS ? FAIL : r == FAIL ? PASS : UNSURE);
    }
    return unsure ? UNSURE : PASS;
}

static int check(vctx_t *c, const cs_t *s, const node_t *v) {
    if (s == NULL)
        return UNSURE; /* an unresolved $ref: the loader forbids it, so never expected */
    if (s->boolean >= 0)
        return s->boolean ? PASS : FAIL;
    if (c->depth >= VALIDATE_MAX_DEPTH)
        return UNSURE;
    c->depth++;
    int r = PASS;
    int unsure = 0;
    if (s->ref != NULL && (r = check(c, s->ref, v)) == FAIL)
        goto out;
    unsure |= r == UNSURE;
    if (s->types != 0 && !matches_type(s->types, v)) {
        r = FAIL;
        goto out;
    }
    if (s->konst != NULL) {
        int e = equal_json(s->konst, v);
        if (e == 0) {
            r = FAIL;
            goto out;
        }
        unsure |= e == UNSURE;
    }
    if (s->enumv != NULL) {
        int found = 0, maybe = 0;
        for (size_t i = 0; i < json_array_size(s->enumv) && !found; i++) {
            int e = equal_json(json_array_get(s->enumv, i), v);
            found = e == 1;
            maybe |= e == UNSURE;
        }
        if (!found && !maybe) {
            r = FAIL;
            goto out;
        }
        unsure |= !found;
    }
    if (v->type == J_STRING) {
        if (s->min_len >= 0 || s->max_len >= 0) {
            size_t cp = codepoints(v->s, v->len);
            if ((s->min_len >= 0 && cp < (size_t)s->min_len) ||
                (s->max_len >= 0 && cp > (size_t)s->max_len)) {
                r = FAIL;
                goto out;
            }
        }
        if (s->format != NULL && !s->format(v->s, v->len)) {
            r = FAIL;
            goto out;
        }
    } else if (is_number(v)) {
        /* Each limit: fail when the comparison has the sign given, or is 0 for exclusive ones. */
        const json_t *limits[4] = {s->minimum, s->maximum, s->xminimum, s->xmaximum};
        static const int bad_sign[4] = {-1, 1, -1, 1}, or_equal[4] = {0, 0, 1, 1};
        for (int k = 0; k < 4; k++) {
            if (limits[k] == NULL)
                continue;
            int u = 0;
            int cmp = cmp_number(v, limits[k], &u);
            if (u) {
                unsure = 1;
                continue;
            }
            if (cmp == bad_sign[k] || (or_equal[k] && cmp == 0)) {
                r = FAIL;
                goto out;
            }
        }
    } else if (v->type == J_OBJECT) {
        if ((r = check_object(c, s, v)) == FAIL)
            goto out;
        unsure |= r == UNSURE;
    } else if (v->type == J_ARRAY) {
        if ((r = check_array(c, s, v)) == FAIL)
            goto out;
        unsure |= r == UNSURE;
    }
    r = check_combinators(c, s, v);
    if (r == PASS && unsure)
        r = UNSURE;
out:
    c->depth--;
    return r;
}

/* Parses json into ps; returns 0 if it is certainly a document jansson accepts (see fastpath.h). */
static int parse_document(parser_t *ps, uint32_t *root) {
    skip_ws(ps);
    if (new_node(ps, root) != 0 || parse_value(ps, *root, 0) != 0)
        return -1;
    skip_ws(ps);
    return ps->p == ps->end ? 0 : -1;
}

int sz__fast_accepts(const sz__fast_schema_t *fs, const uint8_t *json, size_t len) {
    if (fs == NULL || json == NULL || len == 0)
        return 0;
    node_t stack[STACK_NODES];
    parser_t ps = {.p = json, .end = json + len, .nodes = stack, .cap = STACK_NODES};
    uint32_t root;
    int ok = 0;
    if (parse_document(&ps, &root) == 0) {
        vctx_t c = {ps.nodes, 0};
        ok = check(&c, fs->top, &ps.nodes[root]) == PASS;
    }
    if (ps.heap)
        free(ps.nodes);
    free(ps.text);
    return ok;
}

int sz__json_well_formed(const uint8_t *json, size_t len) {
    if (json == NULL || len == 0 || sz__utf8_invalid_at(json, len) != len)
        return 0;
    node_t stack[STACK_NODES];
    parser_t ps = {.p = json, .end = json + len, .nodes = stack, .cap = STACK_NODES};
    uint32_t root;
    int ok = parse_document(&ps, &root) == 0;
    if (ps.heap)
        free(ps.nodes);
    free(ps.text);
    return ok;
}

size_t sz__utf8_invalid_at(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* Bodies are mostly ASCII: skip eight such bytes at a time. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (len - i <= n)
            return i;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += n + 1;
    }
    return len;
}
