/* The fast path of the body validator (internal to schema/). A schema accepted by the loader in
 * schema.c is compiled once into a tree of plain structs (keywords resolved to fields, $ref to
 * pointers), and a document is parsed by a strict, allocation-light parser into a flat node array
 * instead of a jansson tree. The fast path only ever answers "certainly valid": anything it
 * rejects, or is not sure about (numbers it does not parse exactly as jansson would, very deep
 * nesting, \u0000, equality of arrays and objects, ...), goes to the jansson path in schema.c,
 * which decides and words the error. So the fast path changes no verdict and no message; it
 * must only never accept a document the jansson path rejects. Debug builds check that on every
 * accepted document. */
#ifndef SZ_SCHEMA_FASTPATH_H
#define SZ_SCHEMA_FASTPATH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sz__fast_schema_s sz__fast_schema_t;

/* Compiles the checked schema document root (borrowed; the result takes its own reference).
 * Returns 0 with *out (caller frees with sz__fast_free), or -ENOMEM. */
int sz__fast_compile(json_t *root, sz__fast_schema_t **out);

/* Frees a compiled schema; NULL is ignored. */
void sz__fast_free(sz__fast_schema_t *fs);

/* Returns 1 if json (borrowed, len bytes, already known to be well-formed UTF-8 of at most
 * SZ_SCHEMA_MAX_DOC bytes) is certainly a valid document under fs, else 0 (invalid, or unsure). */
int sz__fast_accepts(const sz__fast_schema_t *fs, const uint8_t *json, size_t len);

/* Returns 1 if json (borrowed, len bytes) is certainly one JSON value that jansson reads with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, in well-formed UTF-8: no duplicate keys, no \u0000,
 * every number in range. Returns 0 when it is not, or when this checker is not sure (integers of
 * more than 18 digits, nesting deeper than 64, objects of more than 256 members). Used by the
 * full-text indexer (daemon/fts.c) before it extracts fields with proto/jsonscan.h. */
int sz__json_well_formed(const uint8_t *json, size_t len);

/* Returns the offset of the first byte of s (borrowed, len bytes) that is not part of well-formed
 * UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF), or len if there is none. */
size_t sz__utf8_invalid_at(const uint8_t *s, size_t len);

#endif
