#include "format.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_alnum(char c) {
    return is_digit(c) || is_alpha(c);
}

static int lower(char c) {
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int digits_value(const char *s, size_t n) {
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int all_digits(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]))
            return 0;
    return 1;
}

/* ---- EDTF ---------------------------------------------------------------------------------- */

static int is_leap(long y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(long y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* One end of an interval, reduced to the earliest and latest day it can mean, as yyyymmdd. */
typedef struct edtf_span_s {
    long long lo, hi;
} edtf_span_t;

/* Parses an optional '-' and four digits at s[0..n); *used is how many bytes that took. Rejects
 * "-0000", which names no year. */
static int parse_year(const char *s, size_t n, long *year, size_t *used) {
    size_t i = 0;
    int neg = 0;
    if (n > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (n < i + 4 || !all_digits(s + i, 4))
        return 0;
    long y = digits_value(s + i, 4);
    if (neg && y == 0)
        return 0;
    *year = neg ? -y : y;
    *used = i + 4;
    return 1;
}

/* A level 0 date (YYYY, YYYY-MM, YYYY-MM-DD) or a season (YYYY-21..24), exactly s[0..n). */
static int parse_date_or_season(const char *s, size_t n, int allow_season, edtf_span_t *span) {
    long y;
    size_t i;
    if (!parse_year(s, n, &y, &i))
        return 0;
    long long base = (long long)y * 10000;
    if (i == n) {
        span->lo = base + 101;
        span->hi = base + 1231;
        return 1;
    }
    if (n - i < 3 || s[i] != '-' || !all_digits(s + i + 1, 2))
        return 0;
    int m = digits_value(s + i + 1, 2);
    i += 3;
    if (i == n) {
        if (m >= 1 && m <= 12) {
            span->lo = base + m * 100 + 1;
            span->hi = base + m * 100 + month_days(y, m);
            return 1;
        }
        if (allow_season && m >= 21 && m <= 24) {
            /* Seasons are not tied to a hemisphere, so the span is the whole year plus the
             * months a winter can reach into the next one. */
            span->lo = base + 101;
            span->hi = base + 10000 + 229;
            return 1;
        }
        return 0;
    }
    if (m < 1 || m > 12 || n - i != 3 || s[i] != '-' || !all_digits(s + i + 1, 2))
        return 0;
    int d = digits_value(s + i + 1, 2);
    if (d < 1 || d > month_days(y, m))
        return 0;
    span->lo = span->hi = base + m * 100 + d;
    return 1;
}

static int is_qualifier(char c) {
    return c == '?' || c == '~' || c == '%';
}

/* A date or season with an optional qualifier: a complete level 0/1 date, or an interval end. */
static int parse_qualified(const char *s, size_t n, edtf_span_t *span) {
    if (n > 0 && is_qualifier(s[n - 1]))
        n--;
    return parse_date_or_season(s, n, 1, span);
}

static int parse_two_digits(const char *s, int max, int *out) {
    if (!is_digit(s[0]) || !is_digit(s[1]))
        return 0;
    *out = digits_value(s, 2);
    return *out <= max;
}

/* YYYY-MM-DDThh:mm:ss with an optional zone: Z, +hh, +hh:mm (see format.h for the ranges). */
static int parse_datetime(const char *s, size_t n) {
    const char *t = memchr(s, 'T', n);
    edtf_span_t span;
    if (t == NULL || !parse_date_or_season(s, (size_t)(t - s), 0, &span) || span.lo != span.hi)
        return 0;
    size_t rest = n - (size_t)(t - s) - 1;
    const char *p = t + 1;
    int v;
    if (rest < 8 || !parse_two_digits(p, 23, &v) || p[2] != ':' ||
        !parse_two_digits(p + 3, 59, &v) || p[5] != ':' || !parse_two_digits(p + 6, 59, &v))
        return 0;
    p += 8;
    rest -= 8;
    if (rest == 0)
        return 1;
    if (rest == 1)
        return p[0] == 'Z';
    if (p[0] != '+' && p[0] != '-')
        return 0;
    int hh, mm = -1;
    if (rest == 3) {
        if (!parse_two_digits(p + 1, 99, &hh))
            return 0;
    } else if (rest == 6) {
        if (!parse_two_digits(p + 1, 99, &hh) || p[3] != ':' || !parse_two_digits(p + 4, 59, &mm))
            return 0;
    } else {
        return 0;
    }
    /* Offsets run from -14:00 to +14:00; "+00:00" is accepted as RFC 3339 writes UTC. */
    return hh < 14 || (hh == 14 && mm <= 0);
}

/* Level 1 unspecified digits from the right: 199X, 19XX, YYYY-XX, YYYY-MM-XX, YYYY-XX-XX. Three
 * or four unspecified year digits (1XXX) are level 2. */
static int parse_unspecified(const char *s, size_t n) {
    if (n == 4)
        return all_digits(s, 2) && s[3] == 'X' && (s[2] == 'X' || is_digit(s[2]));
    if (n < 7 || !all_digits(s, 4) || s[4] != '-')
        return 0;
    if (n == 7)
        return s[5] == 'X' && s[6] == 'X';
    if (n != 10 || s[7] != '-' || s[8] != 'X' || s[9] != 'X')
        return 0;
    if (s[5] == 'X' && s[6] == 'X')
        return 1;
    int m;
    return parse_two_digits(s + 5, 12, &m) && m >= 1;
}

/* Y170000002, Y-170000002: more than four digits, the first not zero. */
static int parse_long_year(const char *s, size_t n) {
    size_t i = 1;
    if (i < n && s[i] == '-')
        i++;
    return n - i >= 5 && s[i] != '0' && all_digits(s + i, n - i);
}

static int parse_interval(const char *s, size_t n, const char *slash) {
    size_t a = (size_t)(slash - s), b = n - a - 1;
    const char *bs = slash + 1;
    if (memchr(bs, '/', b) != NULL)
        return 0;
    edtf_span_t sa, sb;
    int has_a = 0, has_b = 0;
    if (a == 2 && s[0] == '.' && s[1] == '.') {
    } else if (a > 0) {
        if (!parse_qualified(s, a, &sa))
            return 0;
        has_a = 1;
    }
    if (b == 2 && bs[0] == '.' && bs[1] == '.') {
    } else if (b > 0) {
        if (!parse_qualified(bs, b, &sb))
            return 0;
        has_b = 1;
    }
    if (!has_a && !has_b)
        return 0;
    return !(has_a && has_b) || sa.lo <= sb.hi;
}

int sz__format_edtf(const char *s, size_t len) {
    if (len == 0)
        return 0;
    const char *slash = memchr(s, '/', len);
    if (slash != NULL)
        return parse_interval(s, len, slash);
    if (s[0] == 'Y')
        return parse_long_year(s, len);
    if (memchr(s, 'T', len) != NULL)
        return parse_datetime(s, len);
    if (memchr(s, 'X', len) != NULL)
        return parse_unspecified(s, len);
    edtf_span_t span;
    return parse_qualified(s, len, &span);
}

/* ---- ISO 3166 ------------------------------------------------------------------------------ */

/* ISO 3166-1 alpha-2, every officially assigned code (249), sorted. */
static const char iso3166_1[] = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ "
                                "BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ "
                                "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ "
                                "DE DJ DK DM DO DZ "
                                "EC EE EG EH ER ES ET "
                                "FI FJ FK FM FO FR "
                                "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
                                "HK HM HN HR HT HU "
                                "ID IE IL IM IN IO IQ IR IS IT "
                                "JE JM JO JP "
                                "KE KG KH KI KM KN KP KR KW KY KZ "
                                "LA LB LC LI LK LR LS LT LU LV LY "
                                "MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY "
                                "MZ "
                                "NA NC NE NF NG NI NL NO NP NR NU NZ "
                                "OM "
                                "PA PE PF PG PH PK PL PM PN PR PS PT PW PY "
                                "QA "
                                "RE RO RS RU RW "
                                "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ "
                                "TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ "
                                "UA UG UM US UY UZ "
                                "VA VC VE VG VI VN VU "
                                "WF WS "
                                "YE YT "
                                "ZA ZM ZW ";

/* ISO 3166-3 codes for country names no longer in use (31), sorted. */
static const char iso3166_3[] = "AIDJ ANHH BQAQ BUMM BYAA CSHH CSXX CTKI DDDE DYBJ FQHH FXFR GEHH "
                                "HVBF JTUM MIUM NHVU NQAQ NTHH PCHH PUUM PZPA RHZW SKIN SUHH TPTL "
                                "VDVN WKUM YDYE YUCS ZRCD ";

/* Binary search in a table of fixed-width codes, each followed by one space. */
static int table_has(const char *table, size_t width, const char *s) {
    size_t stride = width + 1, lo = 0, hi = (strlen(table)) / stride;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(table + mid * stride, s, width);
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int sz__format_country(const char *s, size_t len) {
    if (len == 2)
        return table_has(iso3166_1, 2, s);
    if (len == 4)
        return table_has(iso3166_3, 4, s);
    return 0;
}

/* ---- BCP 47 -------------------------------------------------------------------------------- */

static int ieq(const char *a, size_t n, const char *b) {
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return 0;
    return 1;
}

static int all_alpha(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_alpha(s[i]))
            return 0;
    return 1;
}

static int all_alnum(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]))
            return 0;
    return 1;
}

/* The irregular grandfathered tags, which do not fit the langtag syntax. The regular ones do. */
static const char *const bcp47_irregular[] = {
    "en-GB-oed", "i-ami", "i-bnn",     "i-default", "i-enochian", "i-hak",
    "i-klingon", "i-lux", "i-mingo",   "i-navajo",  "i-pwn",      "i-tao",
    "i-tay",     "i-tsu", "sgn-BE-FR", "sgn-BE-NL", "sgn-CH-DE",
};

typedef struct subtag_s {
    const char *s;
    size_t n;
} subtag_t;

#define BCP47_MAX_SUBTAGS 64

static int subtag_ieq(const subtag_t *a, const subtag_t *b) {
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (lower(a->s[i]) != lower(b->s[i]))
            return 0;
    return 1;
}

int sz__format_bcp47(const char *s, size_t len) {
    for (size_t i = 0; i < sizeof bcp47_irregular / sizeof bcp47_irregular[0]; i++)
        if (ieq(s, len, bcp47_irregular[i]))
            return 1;
    if (len == 0)
        return 0;
    subtag_t t[BCP47_MAX_SUBTAGS] = {{NULL, 0}};
    size_t nt = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '-') {
            size_t n = i - start;
            if (n < 1 || n > 8 || nt == BCP47_MAX_SUBTAGS || !all_alnum(s + start, n))
                return 0;
            t[nt].s = s + start;
            t[nt].n = n;
            nt++;
            start = i + 1;
        }
    }
    size_t k = 0;
    if (t[0].n == 1 && lower(t[0].s[0]) == 'x')
        goto privateuse;
    /* language: 2-3 letters with up to three 3-letter extlangs, or 4-8 letters. */
    if (t[0].n < 2 || !all_alpha(t[0].s, t[0].n))
        return 0;
    k = 1;
    if (t[0].n <= 3)
        for (int e = 0; e < 3 && k < nt && t[k].n == 3 && all_alpha(t[k].s, 3); e++)
            k++;
    if (k < nt && t[k].n == 4 && all_alpha(t[k].s, 4))
        k++;
    if (k < nt && ((t[k].n == 2 && all_alpha(t[k].s, 2)) || (t[k].n == 3 && all_digits(t[k].s, 3))))
        k++;
    size_t first_variant = k;
    while (k < nt && ((t[k].n >= 5) || (t[k].n == 4 && is_digit(t[k].s[0])))) {
        for (size_t j = first_variant; j < k; j++)
            if (subtag_ieq(&t[j], &t[k]))
                return 0; /* a repeated variant */
        k++;
    }
    unsigned char seen[128] = {0};
    while (k < nt && t[k].n == 1 && lower(t[k].s[0]) != 'x') {
        unsigned char c = (unsigned char)lower(t[k].s[0]);
        if (seen[c])
            return 0; /* a repeated extension singleton */
        seen[c] = 1;
        k++;
        size_t body = 0;
        while (k < nt && t[k].n >= 2) {
            k++;
            body++;
        }
        if (body == 0)
            return 0;
    }
    if (k == nt)
        return 1;
    if (t[k].n != 1 || lower(t[k].s[0]) != 'x')
        return 0;
privateuse:
    /* "x" followed by at least one subtag of 1-8 alphanumerics; lengths were checked above. */
    return nt - k >= 2;
}

/* ---- hashes and keys ----------------------------------------------------------------------- */

int sz__format_sha256(const char *s, size_t len) {
    if (len != 64)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
            return 0;
    return 1;
}

static int is_base64(char c) {
    return is_alnum(c) || c == '+' || c == '/';
}

int sz__format_pubkey(const char *s, size_t len) {
    if (len != 44 || s[43] != '=')
        return 0;
    for (size_t i = 0; i < 43; i++)
        if (!is_base64(s[i]))
            return 0;
    /* 32 bytes fill only the top four bits of the 43rd character; canonical means the rest are 0.
     */
    return strchr("AEIMQUYcgkosw048", s[42]) != NULL;
}

/* ---- lookup -------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    sz__format_fn fn;
    const char *phrase;
} formats[] = {
    {"edtf", sz__format_edtf, "an EDTF date"},
    {"country", sz__format_country, "an ISO 3166 country code"},
    {"bcp47", sz__format_bcp47, "a BCP 47 language tag"},
    {"sha256", sz__format_sha256, "a SHA-256 hash (64 lowercase hex digits)"},
    {"pubkey", sz__format_pubkey, "a public key (44 characters of base64)"},
};

sz__format_fn sz__format_lookup(const char *name) {
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].fn;
    return NULL;
}

const char *sz__format_phrase(const char *name) {
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i].name, name) == 0)
            return formats[i].phrase;
    return NULL;
}
