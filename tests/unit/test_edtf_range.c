/* Tests for proto/edtf_range: EDTF levels 0 and 1 to day ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "edtf_range.h"
#include "error.h"

static int64_t D(int64_t y, unsigned m, unsigned d) {
    return sz_edtf_days_from_civil(y, m, d);
}

static void expect_range(const char *s, int64_t lo, int64_t hi) {
    int64_t a = 1, b = 0;
    int rc = sz_edtf_range(s, strlen(s), &a, &b);
    if (rc != 0 || a != lo || b != hi)
        print_error("for \"%s\": rc=%d got [%lld,%lld] want [%lld,%lld]\n", s, rc, (long long)a,
                    (long long)b, (long long)lo, (long long)hi);
    assert_int_equal(rc, 0);
    assert_true(a == lo);
    assert_true(b == hi);
}

static void expect_bad(const char *s) {
    int64_t a = 7, b = 9;
    int rc = sz_edtf_range(s, strlen(s), &a, &b);
    if (rc != SZ_E_MALFORMED)
        print_error("\"%s\" was accepted: [%lld,%lld]\n", s, (long long)a, (long long)b);
    assert_int_equal(rc, SZ_E_MALFORMED);
}

static void test_civil(void **state) {
    (void)state;
    assert_true(D(1970, 1, 1) == 0);
    assert_true(D(1970, 1, 2) == 1);
    assert_true(D(1969, 12, 31) == -1);
    assert_true(D(2000, 3, 1) - D(2000, 2, 28) == 2); /* 2000 is a leap year */
    assert_true(D(1900, 3, 1) - D(1900, 2, 28) == 1); /* 1900 is not */
    assert_true(D(2001, 1, 1) - D(2000, 1, 1) == 366);
    assert_true(D(0, 1, 1) == -719528);
    assert_true(D(-1, 1, 1) == D(0, 1, 1) - 365); /* year 0 is a leap year */
}

static void test_level0(void **state) {
    (void)state;
    expect_range("1989", D(1989, 1, 1), D(1989, 12, 31));
    expect_range("1989-02", D(1989, 2, 1), D(1989, 2, 28));
    expect_range("1988-02", D(1988, 2, 1), D(1988, 2, 29));
    expect_range("1989-04-12", D(1989, 4, 12), D(1989, 4, 12));
    expect_range("2000-02-29", D(2000, 2, 29), D(2000, 2, 29));
    expect_range("0000", D(0, 1, 1), D(0, 12, 31));
    expect_range("-0044-03-15", D(-44, 3, 15), D(-44, 3, 15));
    expect_range("1985-04-12T23:20:30", D(1985, 4, 12), D(1985, 4, 12));
    expect_range("1985-04-12T23:20:30Z", D(1985, 4, 12), D(1985, 4, 12));
    expect_range("1985-04-12T23:20:30-04", D(1985, 4, 12), D(1985, 4, 12));
    expect_range("1985-04-12T23:20:30+04:30", D(1985, 4, 12), D(1985, 4, 12));
    expect_range("1990-01/1990-03", D(1990, 1, 1), D(1990, 3, 31));
    expect_range("1988/1991", D(1988, 1, 1), D(1991, 12, 31));
    expect_range("2004-02-01/2005-02-08", D(2004, 2, 1), D(2005, 2, 8));
}

static void test_level1(void **state) {
    (void)state;
    expect_range("1989~", D(1989, 1, 1), D(1989, 12, 31));
    expect_range("1989?", D(1989, 1, 1), D(1989, 12, 31));
    expect_range("1989-06%", D(1989, 6, 1), D(1989, 6, 30));
    expect_range("201X", D(2010, 1, 1), D(2019, 12, 31));
    expect_range("20XX", D(2000, 1, 1), D(2099, 12, 31));
    expect_range("2004-XX", D(2004, 1, 1), D(2004, 12, 31));
    expect_range("1985-04-XX", D(1985, 4, 1), D(1985, 4, 30));
    expect_range("1985-XX-XX", D(1985, 1, 1), D(1985, 12, 31));
    expect_range("1985-1X", D(1985, 10, 1), D(1985, 12, 31));
    expect_range("1985-02-3X", D(1985, 2, 28), D(1985, 2, 28));
    expect_range("2001-21", D(2001, 3, 1), D(2001, 5, 31));
    expect_range("2001-22", D(2001, 6, 1), D(2001, 8, 31));
    expect_range("2001-23", D(2001, 9, 1), D(2001, 11, 30));
    expect_range("2001-24", D(2000, 12, 1), D(2002, 2, 28));
    expect_range("Y170000002", D(170000002, 1, 1), D(170000002, 12, 31));
    expect_range("Y-170000002", D(-170000002, 1, 1), D(-170000002, 12, 31));
    expect_range("-19XX", D(-1999, 1, 1), D(-1900, 12, 31));
    expect_range("1985-04-12/..", D(1985, 4, 12), SZ_EDTF_DAY_MAX);
    expect_range("../1985-04", SZ_EDTF_DAY_MIN, D(1985, 4, 30));
    expect_range("1985/", D(1985, 1, 1), SZ_EDTF_DAY_MAX);
    expect_range("/1985", SZ_EDTF_DAY_MIN, D(1985, 12, 31));
    expect_range("1984~/2004-06?", D(1984, 1, 1), D(2004, 6, 30));
    expect_range("1989-21/1989-23", D(1989, 3, 1), D(1989, 11, 30));
    expect_range("198X/199X", D(1980, 1, 1), D(1999, 12, 31));
}

static void test_malformed(void **state) {
    (void)state;
    static const char *bad[] = {"",
                                "/",
                                "../..",
                                "/..",
                                "../",
                                "19",
                                "198",
                                "19890",
                                "1989-",
                                "1989-1",
                                "1989-13",
                                "1989-00",
                                "1989-04-31",
                                "1989-02-29",
                                "1989-04-00",
                                "1989-04-1",
                                "1989-04-12T",
                                "1989-04-12T25:00:00",
                                "1989-04-12T10:61:00",
                                "1989-04-12T10:00",
                                "1989-04-12Z",
                                "1989-04-12T10:00:00+",
                                "1989-04-12T10:00:00+5",
                                "1989-04-12T10:00:00Zx",
                                "1989-25",
                                "1989-20",
                                "1989-21-01",
                                "Y1989",
                                "Y",
                                "Y-",
                                "Y01234567",
                                "Y1234567890123",
                                "Y12345~x",
                                "abcd",
                                "19a9",
                                "1989-XX-XXT10:00:00",
                                "1989-1X-4X",
                                "1990/1989",
                                "1989-05/1989-04",
                                "1989//1990",
                                "1989/1990/1991",
                                "1989??",
                                "?",
                                "~1989",
                                " 1989",
                                "1989 ",
                                "1989-04-12x",
                                "--1989",
                                "1989-0X-00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad(bad[i]);
    char longer[SZ_EDTF_MAX_LEN + 2];
    memset(longer, '1', sizeof(longer));
    int64_t a, b;
    assert_int_equal(sz_edtf_range(longer, sizeof(longer), &a, &b), SZ_E_MALFORMED);
    assert_int_equal(sz_edtf_range(NULL, 0, &a, &b), SZ_E_MALFORMED);
    /* The length is honoured: no NUL is read past it. */
    assert_int_equal(sz_edtf_range("1989-04-12", 4, &a, &b), 0);
    assert_true(a == D(1989, 1, 1) && b == D(1989, 12, 31));
}

static void test_ordering(void **state) {
    (void)state;
    /* Every range is ordered, and ranges nest as the dates do. */
    static const char *all[] = {"1989",    "1989-04", "1989-04-12", "198X",    "1989-21",
                                "1989-24", "1989/..", "../1989",    "Y-123456"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        int64_t a, b;
        assert_int_equal(sz_edtf_range(all[i], strlen(all[i]), &a, &b), 0);
        assert_true(a <= b);
        assert_true(a >= SZ_EDTF_DAY_MIN && b <= SZ_EDTF_DAY_MAX);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),    cmocka_unit_test(test_level0),
        cmocka_unit_test(test_level1),   cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_ordering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
