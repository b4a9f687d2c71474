/* Tests for the full-text tokenizer (daemon/tokenize.h): folding per script, apostrophes,
 * combining marks, CJK, the length cap and strict UTF-8 decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tokenize.h"

/* Tokenizes len bytes of text and joins the terms with '|' into out. Also checks that every term
 * is valid UTF-8, at most SZ_TOKEN_MAX bytes, and tokenizes to exactly itself. */
static void join_n(const char *text, size_t len, char *out, size_t cap) {
    sz_tokenizer_t t;
    sz_tokenizer_init(&t, (const uint8_t *)text, len);
    uint8_t term[SZ_TOKEN_MAX];
    size_t tl, n = 0;
    out[0] = 0;
    while (sz_tokenizer_next(&t, term, &tl)) {
        assert_true(tl > 0 && tl <= SZ_TOKEN_MAX);
        for (size_t i = 0; i < tl;) {
            uint32_t cp;
            size_t k = sz_utf8_decode(term + i, term + tl, &cp);
            assert_int_not_equal(cp, SZ_UTF8_INVALID);
            i += k;
        }
        sz_tokenizer_t again;
        sz_tokenizer_init(&again, term, tl);
        uint8_t t2[SZ_TOKEN_MAX];
        size_t l2;
        assert_int_equal(sz_tokenizer_next(&again, t2, &l2), 1);
        assert_int_equal(l2, tl);
        assert_memory_equal(t2, term, tl);
        assert_int_equal(sz_tokenizer_next(&again, t2, &l2), 0);
        assert_true(n + tl + 2 < cap);
        if (n > 0)
            out[n++] = '|';
        memcpy(out + n, term, tl);
        n += tl;
        out[n] = 0;
    }
}

static void expect(const char *text, const char *want) {
    char got[8192];
    join_n(text, strlen(text), got, sizeof(got));
    assert_string_equal(got, want);
}

static void test_ascii(void **state) {
    (void)state;
    expect("Hello, World!", "hello|world");
    expect("  MiXeD   case\tTABS\nnewline ", "mixed|case|tabs|newline");
    expect("AK-47 in 1991, 12.5%", "ak|47|in|1991|12|5");
    expect("", "");
    expect("   ,,, --- !!! ", "");
    expect("e-mail: a_b@c.d", "e|mail|a|b|c|d");
}

static void test_russian(void **state) {
    (void)state;
    expect("СОЛДАТ Солдат солдат", "солдат|солдат|солдат");
    expect("Дезертирство, ДЕЗЕРТИРСТВО!", "дезертирство|дезертирство");
    /* ё is optional in Russian print: both spellings fold to е. */
    expect("Ёлка ёж ЁЖ елка", "елка|еж|еж|елка");
    /* й is never optional and stays distinct from и. */
    expect("ВОЙНА война воина", "война|война|воина");
    expect("1991г. «Приказ» — отказ", "1991г|приказ|отказ");
}

static void test_ukrainian_belarusian(void **state) {
    (void)state;
    expect("ЇЖАК Ґанок ЄВРОПА ІНШИЙ", "їжак|ґанок|європа|інший");
    expect("ДЕЗЕРТИРСТВО дезертирство", "дезертирство|дезертирство");
    expect("ЎСХОД Ўсход ўсход", "ўсход|ўсход|ўсход");
    /* Ukrainian і and ї are distinct letters and stay so. */
    expect("ІЇ її", "ії|її");
}

static void test_apostrophes(void **state) {
    (void)state;
    /* Typewriter, typographic and modifier-letter apostrophes all join and vanish. */
    expect("п'ять п’ять пʼять П'ЯТЬ", "пять|пять|пять|пять");
    expect("don't DON’T", "dont|dont");
    expect("'quoted' rock'n'roll", "quoted|rocknroll");
    expect("soldiers' boots", "soldiers|boots");
    expect("' '' ''' a'", "a");
    expect("об´єкт", "обєкт");
}

static void test_latin_diacritics(void **state) {
    (void)state;
    expect("Éléphant Straße ÆSIR Œuvre Łódź", "elephant|strasse|aesir|oeuvre|lodz");
    expect("ÀÁÂÃÄÅ àáâãäå Ññ Çç Øø Þþ ÿ", "aaaaaa|aaaaaa|nn|cc|oo|thth|y");
    expect("Dvořák Ţară Țară Şişli ﬁnal", "dvorak|tara|tara|sisli|final");
    expect("ĳs ſ ẞ", "ijs|s|ss");
    expect("a×b÷c", "a|b|c");
    expect("ＡＢＣ１２３", "abc123");
}

static void test_greek(void **state) {
    (void)state;
    /* Upper-case Greek drops the tonos, so accents must be stripped to fold case. */
    expect("ΑΘΗΝΑ Αθήνα αθηνα", "αθηνα|αθηνα|αθηνα");
    expect("ΟΔΟΣ οδός", "οδοσ|οδοσ");
    expect("Ϊ ΐ ϋ", "ι|ι|υ");
}

static void test_other_scripts(void **state) {
    (void)state;
    expect("ՀԱՅԱՍՏԱՆ Հայաստան", "հայաստան|հայաստան");
    expect("ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ საქართველო",
           "საქართველო|საქართველო");
    expect("中国人 ab中cd", "中|国|人|ab|中|cd");
    expect("שָׁלוֹם", "שלום");
    expect("١٩٩١", "1991");
}

static void test_combining(void **state) {
    (void)state;
    /* Decomposed й, ї, ў and ё fold as the precomposed letters do. */
    expect("и\xcc\x86"
           "ти",
           "йти");
    expect("И\xcc\x86ТИ", "йти");
    expect("і\xcc\x88жак", "їжак");
    expect("у\xcc\x86сход", "ўсход");
    expect("Е\xcc\x88ЛКА", "елка");
    /* Latin combining accents and Russian stress marks are dropped. */
    expect("e\xcc\x81le\xcc\x80ve", "eleve");
    expect("соба\xcc\x81ка", "собака");
    /* A mark with nothing before it is invisible. */
    expect("\xcc\x81"
           "abc",
           "abc");
    /* Soft hyphen and zero-width joiners do not split a word. */
    expect("сол\xc2\xad"
           "дат",
           "солдат");
    expect("a\xe2\x80\x8d"
           "b",
           "ab");
    expect("a\xe2\x80\x8b"
           "b",
           "a|b");
}

static void test_invalid_utf8(void **state) {
    (void)state;
    expect("abc\xff"
           "def",
           "abc|def");
    expect("ab\xc0\xaf"
           "cd",
           "ab|cd"); /* overlong '/' */
    expect("ab\xe0\x80\xaf"
           "cd",
           "ab|cd"); /* overlong, three bytes */
    expect("ab\xed\xa0\x80"
           "cd",
           "ab|cd"); /* surrogate */
    expect("ab\xf4\x90\x80\x80"
           "cd",
           "ab|cd");        /* past U+10FFFF */
    expect("ab\xd0", "ab"); /* truncated at the end */
    expect("ab\xd0"
           "Ж",
           "ab|ж"); /* a lead byte eats nothing valid */
    expect("\x80\x80\x80", "");
    expect("сол\xffдат", "сол|дат");
    char got[64];
    join_n("a\0b", 3, got, sizeof(got));
    assert_string_equal(got, "a|b");
}

static void test_utf8_decode(void **state) {
    (void)state;
    uint32_t cp;
    const uint8_t ok4[] = {0xF0, 0x9F, 0x98, 0x80};
    assert_int_equal(sz_utf8_decode(ok4, ok4 + 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(sz_utf8_decode(ok4, ok4 + 3, &cp), 1);
    assert_int_equal(cp, SZ_UTF8_INVALID);
    const uint8_t c1[] = {0xC1, 0xBF};
    assert_int_equal(sz_utf8_decode(c1, c1 + 2, &cp), 1);
    assert_int_equal(cp, SZ_UTF8_INVALID);
    const uint8_t bad_cont[] = {0xE2, 0x28, 0xA1};
    assert_int_equal(sz_utf8_decode(bad_cont, bad_cont + 3, &cp), 1);
    assert_int_equal(cp, SZ_UTF8_INVALID);
}

static void test_length_cap(void **state) {
    (void)state;
    char text[512], want[128];
    memset(text, 'a', 100);
    text[100] = 0;
    memset(want, 'a', SZ_TOKEN_MAX);
    want[SZ_TOKEN_MAX] = 0;
    expect(text, want);
    /* 40 two-byte letters: cut after 32 (64 bytes). */
    size_t n = 0;
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(text + n, "Ж");
    n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)sprintf(want + n, "ж");
    expect(text, want);
    /* The cut is a prefix: after a letter that does not fit, a smaller one is not appended. */
    n = (size_t)sprintf(text, "a");
    for (int i = 0; i < 40; i++)
        n += (size_t)sprintf(text + n, "ж");
    sprintf(text + n, "b next");
    n = (size_t)sprintf(want, "a");
    for (int i = 0; i < 31; i++)
        n += (size_t)sprintf(want + n, "ж");
    sprintf(want + n, "|next");
    expect(text, want);
    /* A two-letter expansion is cut between its letters like any other text. */
    memset(text, 'a', 63);
    sprintf(text + 63, "ß");
    memset(want, 'a', 63);
    sprintf(want + 63, "s");
    expect(text, want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii),
        cmocka_unit_test(test_russian),
        cmocka_unit_test(test_ukrainian_belarusian),
        cmocka_unit_test(test_apostrophes),
        cmocka_unit_test(test_latin_diacritics),
        cmocka_unit_test(test_greek),
        cmocka_unit_test(test_other_scripts),
        cmocka_unit_test(test_combining),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_length_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
