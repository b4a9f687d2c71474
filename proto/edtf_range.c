#include "edtf_range.h"

#include "error.h"

#include <string.h>

#define Y_MAX_DIGITS 12 /* keeps every day number far inside the open-end sentinels */

typedef struct span_s {
    int64_t min, max;
} span_t;

int64_t sz_edtf_days_from_civil(int64_t year, unsigned month, unsigned day) {
    /* Howard Hinnant's days_from_civil: shift the year to start in March so leap days fall last. */
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = month > 2 ? (int64_t)month - 3 : (int64_t)month + 9;
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int is_leap(int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m) {
    static const unsigned days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* Does the two-character pattern p (digits or X) match the number v (0..99)? */
static int pattern_matches(const char *p, unsigned v) {
    char d0 = (char)('0' + v / 10), d1 = (char)('0' + v % 10);
    return (p[0] == 'X' || p[0] == d0) && (p[1] == 'X' || p[1] == d1);
}

static int two_chars_ok(const char *p) {
    return (is_digit(p[0]) || p[0] == 'X') && (is_digit(p[1]) || p[1] == 'X');
}

static int two_digits(const char *p, unsigned *v) {
    if (!is_digit(p[0]) || !is_digit(p[1]))
        return -1;
    *v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
    return 0;
}

/* Parses "Thh:mm:ss" with an optional zone "Z", "+hh", "+hh:mm" or "-..."; returns the number of
 * bytes consumed or -1. Only the calendar day matters for the range, so the zone is checked but
 * not applied. */
static int parse_time(const char *s, size_t len) {
    unsigned hh, mm, ss;
    if (len < 9 || s[0] != 'T' || two_digits(s + 1, &hh) || s[3] != ':' || two_digits(s + 4, &mm) ||
        s[6] != ':' || two_digits(s + 7, &ss))
        return -1;
    if (hh > 23 || mm > 59 || ss > 60)
        return -1;
    size_t i = 9;
    if (i < len && s[i] == 'Z')
        return (int)i + 1;
    if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned zh, zm = 0;
        if (len - i < 3 || two_digits(s + i + 1, &zh))
            return -1;
        i += 3;
        if (i < len && s[i] == ':') {
            if (len - i < 3 || two_digits(s + i + 1, &zm))
                return -1;
            i += 3;
        }
        if (zh > 23 || zm > 59)
            return -1;
    }
    return (int)i;
}

/* Parses one date (no '/'): writes its day span. */
static int parse_date(const char *s, size_t len, span_t *out) {
    if (len > 0 && (s[len - 1] == '?' || s[len - 1] == '~' || s[len - 1] == '%'))
        len--;
    if (len == 0)
        return SZ_E_MALFORMED;
    size_t i = 0;
    int neg = 0;
    int64_t ylo = 0, yhi = 0;
    if (s[0] == 'Y') {
        /* Level 1 letter-prefixed year: more than four digits, whole year only. */
        i = 1;
        if (i < len && s[i] == '-') {
            neg = 1;
            i++;
        }
        size_t start = i;
        while (i < len && is_digit(s[i])) {
            ylo = ylo * 10 + (s[i] - '0');
            i++;
        }
        size_t nd = i - start;
        if (i != len || nd <= 4 || nd > Y_MAX_DIGITS || s[start] == '0')
            return SZ_E_MALFORMED;
        int64_t y = neg ? -ylo : ylo;
        out->min = sz_edtf_days_from_civil(y, 1, 1);
        out->max = sz_edtf_days_from_civil(y, 12, 31);
        return 0;
    }
    if (s[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (len - i < 4)
        return SZ_E_MALFORMED;
    int any_x = 0;
    for (size_t k = 0; k < 4; k++) {
        char c = s[i + k];
        if (c == 'X') {
            any_x = 1;
            ylo = ylo * 10;
            yhi = yhi * 10 + 9;
        } else if (is_digit(c)) {
            ylo = ylo * 10 + (c - '0');
            yhi = yhi * 10 + (c - '0');
        } else {
            return SZ_E_MALFORMED;
        }
    }
    i += 4;
    if (neg) {
        int64_t t = ylo;
        ylo = -yhi;
        yhi = -t;
    }
    if (i == len) {
        out->min = sz_edtf_days_from_civil(ylo, 1, 1);
        out->max = sz_edtf_days_from_civil(yhi, 12, 31);
        return 0;
    }
    if (s[i] != '-' || len - i < 3 || !two_chars_ok(s + i + 1))
        return SZ_E_MALFORMED;
    const char *mp = s + i + 1;
    i += 3;
    if (mp[0] != 'X' && mp[1] != 'X') {
        unsigned season = (unsigned)(mp[0] - '0') * 10 + (unsigned)(mp[1] - '0');
        if (season >= 21 && season <= 24) {
            if (i != len)
                return SZ_E_MALFORMED;
            static const unsigned first[4] = {3, 6, 9, 12}, last[4] = {5, 8, 11, 2};
            int64_t y0 = season == 24 ? ylo - 1 : ylo, y1 = season == 24 ? yhi + 1 : yhi;
            unsigned m1 = last[season - 21];
            out->min = sz_edtf_days_from_civil(y0, first[season - 21], 1);
            out->max = sz_edtf_days_from_civil(y1, m1, month_days(y1, m1));
            return 0;
        }
    }
    unsigned mlo = 0, mhi = 0;
    for (unsigned m = 1; m <= 12; m++) {
        if (pattern_matches(mp, m)) {
            if (mlo == 0)
                mlo = m;
            mhi = m;
        }
    }
    if (mlo == 0)
        return SZ_E_MALFORMED;
    any_x |= mp[0] == 'X' || mp[1] == 'X';
    if (i == len) {
        out->min = sz_edtf_days_from_civil(ylo, mlo, 1);
        out->max = sz_edtf_days_from_civil(yhi, mhi, month_days(yhi, mhi));
        return 0;
    }
    if (s[i] != '-' || len - i < 3 || !two_chars_ok(s + i + 1))
        return SZ_E_MALFORMED;
    const char *dp = s + i + 1;
    i += 3;
    unsigned dlo = 0, dhi = 0;
    for (unsigned d = 1; d <= 31; d++) {
        if (pattern_matches(dp, d)) {
            if (dlo == 0)
                dlo = d;
            dhi = d;
        }
    }
    if (dlo == 0)
        return SZ_E_MALFORMED;
    any_x |= dp[0] == 'X' || dp[1] == 'X';
    if (!any_x) {
        if (dlo > month_days(ylo, mlo))
            return SZ_E_MALFORMED;
    } else {
        /* A pattern may allow days some months lack; clamp rather than reject. */
        if (dlo > month_days(ylo, mlo))
            dlo = month_days(ylo, mlo);
        if (dhi > month_days(yhi, mhi))
            dhi = month_days(yhi, mhi);
    }
    if (i < len) {
        if (any_x)
            return SZ_E_MALFORMED;
        int n = parse_time(s + i, len - i);
        if (n < 0 || (size_t)n != len - i)
            return SZ_E_MALFORMED;
    }
    out->min = sz_edtf_days_from_civil(ylo, mlo, dlo);
    out->max = sz_edtf_days_from_civil(yhi, mhi, dhi);
    return 0;
}

int sz_edtf_range(const char *text, size_t len, int64_t *min, int64_t *max) {
    if (text == NULL || len == 0 || len > SZ_EDTF_MAX_LEN)
        return SZ_E_MALFORMED;
    const char *slash = memchr(text, '/', len);
    span_t a, b;
    int rc;
    if (slash == NULL) {
        if ((rc = parse_date(text, len, &a)) != 0)
            return rc;
        *min = a.min;
        *max = a.max;
        return 0;
    }
    size_t la = (size_t)(slash - text), lb = len - la - 1;
    const char *tb = slash + 1;
    if (memchr(tb, '/', lb) != NULL || (la == 0 && lb == 0))
        return SZ_E_MALFORMED;
    int a_open = la == 0 || (la == 2 && memcmp(text, "..", 2) == 0);
    int b_open = lb == 0 || (lb == 2 && memcmp(tb, "..", 2) == 0);
    if (a_open && b_open)
        return SZ_E_MALFORMED;
    if (a_open) {
        a.min = a.max = SZ_EDTF_DAY_MIN;
    } else if ((rc = parse_date(text, la, &a)) != 0) {
        return rc;
    }
    if (b_open) {
        b.min = b.max = SZ_EDTF_DAY_MAX;
    } else if ((rc = parse_date(tb, lb, &b)) != 0) {
        return rc;
    }
    if (a.min > b.max)
        return SZ_E_MALFORMED;
    *min = a.min;
    *max = b.max;
    return 0;
}
