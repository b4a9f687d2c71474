/* A zero-allocation scanner that pulls selected fields out of a JSON document, for the ingest path
 * of the secondary indexes, where building a tree per record would cost too much.
 *
 * A span is a value's raw bytes inside the caller's buffer (strings keep their quotes). The
 * scanner walks objects and arrays member by member and skips what the caller does not ask for.
 * It is meant for documents the schema validator has already accepted: on such input it finds
 * exactly what a full parser would. On any other input it never reads outside the buffer, never
 * recurses and never allocates, and it reports SZ_E_JSON where the structure it walks is broken
 * (a value it only skips is checked less strictly: brackets are counted, strings are delimited).
 *
 * Pure: no I/O, no allocation. Every pointer given is borrowed. */
#ifndef SZ_JSONSCAN_H
#define SZ_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum sz_json_type_e {
    SZ_JSON_NONE = 0,
    SZ_JSON_OBJECT,
    SZ_JSON_ARRAY,
    SZ_JSON_STRING,
    SZ_JSON_NUMBER,
    SZ_JSON_TRUE,
    SZ_JSON_FALSE,
    SZ_JSON_NULL,
} sz_json_type_t;

/* One value's raw bytes: p points into the document, len counts them. */
typedef struct sz_jspan_s {
    const uint8_t *p;
    size_t len;
} sz_jspan_t;

/* Walks the members of an object or the elements of an array. */
typedef struct sz_json_iter_s {
    const uint8_t *p;
    size_t len;
    size_t pos;
    uint8_t close; /* '}' or ']' */
    uint8_t state; /* 0 before the first item, 1 after an item, 2 done */
} sz_json_iter_t;

/* Finds the single value that makes up doc (len bytes), allowing surrounding whitespace, and
 * writes its span. Returns 0 or SZ_E_JSON (empty, or bytes after the value). */
int sz_json_root(const uint8_t *doc, size_t len, sz_jspan_t *out);

/* Returns the type of the value in span, from its first byte (SZ_JSON_NONE if unrecognisable). */
sz_json_type_t sz_json_type(sz_jspan_t v);

/* Starts walking v, which must be an object or an array. Returns 0 or SZ_E_JSON. */
int sz_json_iter_init(sz_json_iter_t *it, sz_jspan_t v);

/* Gives the next member of an object: its key (a string span, with quotes) and value. Returns 1
 * for a member, 0 at the end, SZ_E_JSON on broken structure (the iterator then stays at its end).
 */
int sz_json_next_member(sz_json_iter_t *it, sz_jspan_t *key, sz_jspan_t *val);

/* Gives the next element of an array. Returns 1, 0 at the end, or SZ_E_JSON. */
int sz_json_next_element(sz_json_iter_t *it, sz_jspan_t *val);

/* Returns 1 if the string span key (with quotes, escapes allowed) equals name (NUL-terminated),
 * else 0. */
int sz_json_key_is(sz_jspan_t key, const char *name);

/* Finds member name in object obj and writes its value span. Returns 1 if found, 0 if not (or obj
 * is not an object), SZ_E_JSON on broken structure. The first match wins. */
int sz_json_get(sz_jspan_t obj, const char *name, sz_jspan_t *val);

/* Decodes the string span s (with quotes) into UTF-8 bytes at out (cap bytes, not NUL-terminated)
 * and writes the length to *out_len. \uXXXX escapes become UTF-8; unpaired surrogates become
 * U+FFFD. Returns 0, SZ_E_JSON if s is not a well-formed string, or SZ_E_TOO_LARGE if the decoded
 * text does not fit (out then holds the first cap bytes, *out_len = cap). */
int sz_json_string(sz_jspan_t s, uint8_t *out, size_t cap, size_t *out_len);

#endif
