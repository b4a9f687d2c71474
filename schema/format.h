/* The "format" values the schema files assert, shared by the validator (schema.c) and the
 * schema tools. Every checker takes a string that is not NUL-terminated (borrowed, len bytes of
 * valid UTF-8) and returns 1 if it is in the format, 0 if not. None of them allocates.
 *
 * The rules, which the Python checkers in tests/integration/schema_agreement.py mirror exactly:
 * - edtf: EDTF (ISO 8601-2) levels 0 and 1. Dates YYYY, YYYY-MM, YYYY-MM-DD with real month
 *   lengths (proleptic Gregorian leap years) and an optional leading '-' on the year (but not
 *   -0000); date-times YYYY-MM-DDThh:mm:ss (hh 00..23, no fraction) with an optional Z, +hh or
 *   +hh:mm offset (- as well; at most 14:00); seasons YYYY-21..24; a final '?', '~' or '%' on a
 *   date or season; one or two unspecified year digits from the right (199X, 19XX) or an
 *   unspecified month or day (1985-XX, 1985-04-XX, 1985-XX-XX), with no sign and no qualifier; long
 * years Y followed by an optional '-' and five or more digits, the first not 0; intervals A/B where
 * each end is a date or season with an optional qualifier, "" (unknown) or ".." (open), at least
 * one end is a date or season, and the start is not after the end. Date-times, long years and
 * unspecified digits are not allowed in intervals (level 2).
 * - country: an officially assigned ISO 3166-1 alpha-2 code, or an ISO 3166-3 alpha-4 code of a
 *   country name that is no longer in use; upper case only.
 * - bcp47: a well-formed BCP 47 language tag (RFC 5646 section 2.1), any case, also private-use
 *   tags and the grandfathered tags; a variant or extension singleton may not appear twice.
 * - sha256: exactly 64 lowercase hex digits.
 * - pubkey: the canonical text form of a 32-byte public key, 44 characters of standard base64
 *   with one '=' of padding (see proto/encoding.h). */
#ifndef SZ_SCHEMA_FORMAT_H
#define SZ_SCHEMA_FORMAT_H

#include <stddef.h>

typedef int (*sz__format_fn)(const char *s, size_t len);

int sz__format_edtf(const char *s, size_t len);
int sz__format_country(const char *s, size_t len);
int sz__format_bcp47(const char *s, size_t len);
int sz__format_sha256(const char *s, size_t len);
int sz__format_pubkey(const char *s, size_t len);

/* Returns the checker for a format name (NUL-terminated, borrowed), or NULL if the name is not
 * one of the above. */
sz__format_fn sz__format_lookup(const char *name);

/* Returns the phrase error messages use for a format, as in "\"x\" is not <phrase>", or NULL. */
const char *sz__format_phrase(const char *name);

#endif
