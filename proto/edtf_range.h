/* The span of days an EDTF date or interval can stand for, for overlap matching in list queries.
 *
 * A date is reduced to the closed range [min, max] of day numbers (days since 1970-01-01 in the
 * proleptic Gregorian calendar; negative before) that it may denote. The range is deliberately a
 * superset of every reading of the date, so overlap matching never misses a record:
 * - "1989" is the whole year, "1989-04" the whole month, "1989-04-12" (with or without a time of
 *   day and zone) that day.
 * - Unspecified digits (level 1: "198X", "19XX", "1989-XX", "1989-04-XX", "1989-XX-XX") widen to
 *   every value the X digits allow.
 * - The qualifiers ?, ~ and % (uncertain, approximate, both) do not change the range.
 * - Seasons 21..24 (spring, summer, autumn, winter): spring is March to May, summer June to August,
 *   autumn September to November. "Winter 1989" is read both ways people use it, so it covers
 *   1 December 1988 to the end of February 1990.
 * - Large years with the "Y" prefix ("Y170000002", "Y-170000002") are whole years.
 * - In an interval "A/B" the range runs from A's min to B's max. An open end ("..") or an unknown
 *   end (empty) extends to SZ_EDTF_DAY_MIN or SZ_EDTF_DAY_MAX. "A/B" with B before A is rejected.
 *
 * Pure: no I/O, no allocation. */
#ifndef SZ_EDTF_RANGE_H
#define SZ_EDTF_RANGE_H

#include <stddef.h>
#include <stdint.h>

/* Sentinels for open ends; every real date lies strictly between them. */
#define SZ_EDTF_DAY_MIN (-(INT64_C(1) << 52))
#define SZ_EDTF_DAY_MAX (INT64_C(1) << 52)
#define SZ_EDTF_MAX_LEN 100 /* as the schemas' maxLength for EDTF strings */

/* Parses the EDTF string text (borrowed, len bytes, no NUL needed) and writes its day range to
 * *min and *max (min <= max). Returns 0, or SZ_E_MALFORMED when text is not an EDTF level 0 or 1
 * date, date-time or interval (or is longer than SZ_EDTF_MAX_LEN). */
int sz_edtf_range(const char *text, size_t len, int64_t *min, int64_t *max);

/* Returns the day number of a proleptic Gregorian date; month 1..12, day 1..31 (not checked). */
int64_t sz_edtf_days_from_civil(int64_t year, unsigned month, unsigned day);

#endif
