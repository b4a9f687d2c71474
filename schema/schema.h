/* Validation of record bodies against the JSON Schemas in schema/<kind>.schema.json.
 *
 * The schema files are embedded at build time, so the validator is driven by exactly the files in
 * this folder. Beyond the JSON Schema (2020-12) keywords those files use, the validator checks the
 * "format" values edtf (levels 0 and 1), country (ISO 3166-1 alpha-2 or ISO 3166-3 alpha-4),
 * bcp47 (language tag syntax), sha256 (64 lowercase hex) and pubkey (our key text form). */
#ifndef SZ_SCHEMA_H
#define SZ_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#define SZ_SCHEMA_MAX_DOC (1u << 20) /* the largest body, as SZ_RECORD_MAX_BODY */

typedef struct sz_schema_error_s {
    char path[256];    /* JSON Pointer of the offending value, "" for the root; long member
                          names are cut with "..." and control characters shown as '?' */
    char message[256]; /* "/witness/role: must be one of soldier, officer, ...", "(root): ..."
                          at the root; quoted document text is capped at 48 bytes */
} sz_schema_error_t;

/* Validates the UTF-8 JSON document json (borrowed, len bytes) as the body of a record of the
 * given kind (sz_kind_t). Rejects invalid UTF-8, duplicate object keys, documents over
 * SZ_SCHEMA_MAX_DOC and anything the schema forbids. On failure err (may be NULL) says where and
 * why. Returns 0, SZ_E_UTF8, SZ_E_JSON, SZ_E_TOO_LARGE, SZ_E_KIND or SZ_E_SCHEMA. */
int sz_schema_validate(unsigned kind, const uint8_t *json, size_t len, sz_schema_error_t *err);

/* Validates json against an arbitrary schema document given as text (both borrowed). Used by tests
 * that compare this validator with an independent one. Same returns as above, and SZ_E_ARGUMENT
 * when schema_text is not a schema this validator supports (see sz_schema_check()). */
int sz_schema_validate_with(const char *schema_text, const uint8_t *json, size_t len,
                            sz_schema_error_t *err);

/* Returns the embedded schema text for kind, or NULL. The string is static. */
const char *sz_schema_text(unsigned kind);

/* Checks that schema_text (borrowed) is a schema this validator supports: JSON without duplicate
 * keys; every keyword one it implements (type, properties, required, additionalProperties, items,
 * enum, const, minLength, maxLength, minItems, maxItems, uniqueItems, minProperties,
 * maxProperties, propertyNames, minimum, maximum, exclusiveMinimum, exclusiveMaximum, $ref to "#"
 * or "#/$defs/NAME", $defs, format, allOf, anyOf, oneOf, not) or an annotation ($schema, $id,
 * $comment, title, description, examples, default, deprecated, readOnly, writeOnly); every value
 * well-typed; every format one of those above; every $ref resolvable. An unknown keyword is an
 * error so a schema cannot silently weaken. Returns 0, or SZ_E_ARGUMENT with err (may be NULL)
 * naming the place and the problem. */
int sz_schema_check(const char *schema_text, sz_schema_error_t *err);

#endif
