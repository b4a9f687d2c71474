/* Unicode-aware tokenizer with compact case-folding tables; see tokenize.h and FTS.md. */
#include "tokenize.h"

#include <string.h>

/* What a code point does inside text. */
enum {
    CLS_SEP,    /* ends a term */
    CLS_IGNORE, /* invisible: soft hyphen, joiners, variation selectors, most combining marks */
    CLS_APOS,   /* an apostrophe: joins two letters, otherwise a separator */
    CLS_WORD,   /* part of a term, written as the folded code points */
    CLS_SINGLE, /* a term by itself (CJK ideographs, kana) */
    CLS_MARK,   /* a combining diacritic (U+0300..U+036F): dropped or composed */
};

typedef struct fold_s {
    int cls;
    unsigned n; /* folded code points in cp (CLS_WORD and CLS_SINGLE) */
    uint32_t cp[3];
} fold_t;

/* Latin-1 Supplement U+00C0..U+00FF without case or diacritics. Upper-case letters in this table
 * stand for two-letter expansions (see expand()); '.' is a separator (× and ÷). */
static const char latin1[] = "aaaaaaAceeeeiiiidnooooo.ouuuuyTSaaaaaaAceeeeiiiidnooooo.ouuuuyTy";

_Static_assert(sizeof(latin1) == 64 + 1, "one letter per code point");

/* Latin Extended-A U+0100..U+017F, same conventions. */
static const char latin_ext_a[] = "aaaaaa"       /* 0100 */
                                  "cccccccc"     /* 0106 */
                                  "dddd"         /* 010E */
                                  "eeeeeeeeee"   /* 0112 */
                                  "gggggggg"     /* 011C */
                                  "hhhh"         /* 0124 */
                                  "iiiiiiiiii"   /* 0128 */
                                  "JJ"           /* 0132 ĳ */
                                  "jj"           /* 0134 */
                                  "kkk"          /* 0136 */
                                  "llllllllll"   /* 0139 */
                                  "nnnnnnn"      /* 0143 */
                                  "nn"           /* 014A */
                                  "oooooo"       /* 014C */
                                  "OO"           /* 0152 œ */
                                  "rrrrrr"       /* 0154 */
                                  "ssssssss"     /* 015A */
                                  "tttttt"       /* 0162 */
                                  "uuuuuuuuuuuu" /* 0168 */
                                  "ww"           /* 0174 */
                                  "yyy"          /* 0176 */
                                  "zzzzzz"       /* 0179 */
                                  "s";           /* 017F ſ */
_Static_assert(sizeof(latin_ext_a) == 128 + 1, "one letter per code point");

/* Greek U+0386..U+03CE folded to unaccented lower case; 0 marks a separator or unassigned. */
static const uint16_t greek[] = {
    0x03B1, 0,      0x03B5, 0x03B7, 0x03B9, 0,      0x03BF, 0,      0x03C5, 0x03C9, /* 0386 */
    0x03B9, 0x03B1, 0x03B2, 0x03B3, 0x03B4, 0x03B5, 0x03B6, 0x03B7, 0x03B8, 0x03B9, /* 0390 */
    0x03BA, 0x03BB, 0x03BC, 0x03BD, 0x03BE, 0x03BF, 0x03C0, 0x03C1, 0,      0x03C3, /* 039A */
    0x03C4, 0x03C5, 0x03C6, 0x03C7, 0x03C8, 0x03C9, 0x03B9, 0x03C5, 0x03B1, 0x03B5, /* 03A4 */
    0x03B7, 0x03B9, 0x03C5, 0x03B1, 0x03B2, 0x03B3, 0x03B4, 0x03B5, 0x03B6, 0x03B7, /* 03AE */
    0x03B8, 0x03B9, 0x03BA, 0x03BB, 0x03BC, 0x03BD, 0x03BE, 0x03BF, 0x03C0, 0x03C1, /* 03B8 */
    0x03C3, 0x03C3, 0x03C4, 0x03C5, 0x03C6, 0x03C7, 0x03C8, 0x03C9, 0x03B9, 0x03C5, /* 03C2 */
    0x03BF, 0x03C5, 0x03C9,                                                         /* 03CC */
};

_Static_assert(sizeof(greek) / sizeof(greek[0]) == 0x03CF - 0x0386, "U+0386..U+03CE");

static void word1(fold_t *f, uint32_t cp) {
    f->cls = CLS_WORD;
    f->n = 1;
    f->cp[0] = cp;
}

/* Applies a table letter: lower-case ASCII as is, upper-case for the two-letter expansions. */
static void expand(fold_t *f, char c) {
    const char *two = NULL;
    switch (c) {
    case '.':
        f->cls = CLS_SEP;
        return;
    case 'A':
        two = "ae";
        break;
    case 'O':
        two = "oe";
        break;
    case 'J':
        two = "ij";
        break;
    case 'T':
        two = "th";
        break;
    case 'S':
        two = "ss";
        break;
    default:
        word1(f, (uint8_t)c);
        return;
    }
    f->cls = CLS_WORD;
    f->n = 2;
    f->cp[0] = (uint8_t)two[0];
    f->cp[1] = (uint8_t)two[1];
}

/* Lower case for a block where upper case is the even code point and lower case the next one. */
static uint32_t pair_even(uint32_t c) {
    return (c & 1u) == 0 ? c + 1 : c;
}

static void fold_greek(uint32_t c, fold_t *f) {
    if (c >= 0x0386 && c <= 0x03CE) {
        if (greek[c - 0x0386] == 0)
            f->cls = CLS_SEP;
        else
            word1(f, greek[c - 0x0386]);
        return;
    }
    switch (c) {
    case 0x0376:
    case 0x0377:
        word1(f, 0x0377);
        return;
    case 0x037A: /* ypogegrammeni: an accent, dropped like the others */
        f->cls = CLS_IGNORE;
        return;
    case 0x037F:
        word1(f, 0x03F3);
        return;
    case 0x03CF:
        word1(f, 0x03D7);
        return;
    case 0x03D0:
        word1(f, 0x03B2);
        return;
    case 0x03D1:
    case 0x03F4:
        word1(f, 0x03B8);
        return;
    case 0x03D2:
    case 0x03D3:
    case 0x03D4:
        word1(f, 0x03C5);
        return;
    case 0x03D5:
        word1(f, 0x03C6);
        return;
    case 0x03D6:
        word1(f, 0x03C0);
        return;
    case 0x03F0:
        word1(f, 0x03BA);
        return;
    case 0x03F1:
        word1(f, 0x03C1);
        return;
    case 0x03F2:
    case 0x03F9:
        word1(f, 0x03C3);
        return;
    case 0x03F5:
        word1(f, 0x03B5);
        return;
    case 0x03F7:
    case 0x03F8:
        word1(f, 0x03F8);
        return;
    case 0x03FA:
    case 0x03FB:
        word1(f, 0x03FB);
        return;
    case 0x03FD:
    case 0x03FE:
    case 0x03FF:
        word1(f, c - 0x03FD + 0x037B);
        return;
    default:
        break;
    }
    if (c <= 0x0373 || (c >= 0x03D8 && c <= 0x03EF))
        word1(f, pair_even(c));
    else if ((c >= 0x037B && c <= 0x037D) || c == 0x03D7 || c == 0x03F3 || c == 0x03FC)
        word1(f, c);
    else
        f->cls = CLS_SEP;
}

static void fold_cyrillic(uint32_t c, fold_t *f) {
    if (c <= 0x040F)
        c += 0x50;
    else if (c <= 0x042F)
        c += 0x20;
    if (c <= 0x045F) {
        /* ё is optional in Russian print; ѐ and ѝ are е and и with a stress mark. */
        if (c == 0x0450 || c == 0x0451)
            c = 0x0435;
        else if (c == 0x045D)
            c = 0x0438;
        word1(f, c);
    } else if (c <= 0x0481) {
        word1(f, pair_even(c));
    } else if (c == 0x0482) {
        f->cls = CLS_SEP;
    } else if (c <= 0x0489) {
        f->cls = CLS_IGNORE;
    } else if (c <= 0x04BF) {
        word1(f, pair_even(c));
    } else if (c == 0x04C0) {
        word1(f, 0x04CF);
    } else if (c <= 0x04CE) {
        word1(f, (c & 1u) ? c + 1 : c);
    } else if (c == 0x04CF) {
        word1(f, c);
    } else {
        word1(f, pair_even(c));
    }
}

static void fold_armenian(uint32_t c, fold_t *f) {
    if (c >= 0x0531 && c <= 0x0556)
        word1(f, c + 0x30);
    else if ((c >= 0x0560 && c <= 0x0588))
        word1(f, c);
    else if (c == 0x055A)
        f->cls = CLS_APOS;
    else
        f->cls = CLS_SEP;
}

static void fold_hebrew_arabic(uint32_t c, fold_t *f) {
    if (c < 0x0600) {
        if (c == 0x05BE || c == 0x05C0 || c == 0x05C3 || c == 0x05C6)
            f->cls = CLS_SEP;
        else if (c >= 0x0591 && c <= 0x05C7)
            f->cls = CLS_IGNORE; /* points and cantillation */
        else if ((c >= 0x05D0 && c <= 0x05EA) || (c >= 0x05EF && c <= 0x05F2))
            word1(f, c);
        else if (c == 0x05F3)
            f->cls = CLS_APOS;
        else
            f->cls = CLS_SEP;
        return;
    }
    if (c <= 0x0605 || c == 0x060C || c == 0x060D || c == 0x061B || (c >= 0x061D && c <= 0x061F) ||
        (c >= 0x066A && c <= 0x066D) || c == 0x06D4 || c == 0x06DD || c == 0x06DE || c == 0x06E9)
        f->cls = CLS_SEP;
    else if ((c >= 0x0610 && c <= 0x061A) || (c >= 0x064B && c <= 0x065F) || c == 0x0670 ||
             c == 0x0640 || (c >= 0x06D6 && c <= 0x06ED))
        f->cls = CLS_IGNORE; /* harakat, tatweel and Quranic marks */
    else if (c >= 0x0660 && c <= 0x0669)
        word1(f, '0' + (c - 0x0660));
    else if (c >= 0x06F0 && c <= 0x06F9)
        word1(f, '0' + (c - 0x06F0));
    else
        word1(f, c);
}

static void fold_general_punct(uint32_t c, fold_t *f) {
    if ((c >= 0x200C && c <= 0x200D) || (c >= 0x2060 && c <= 0x2064) ||
        (c >= 0x20D0 && c <= 0x20FF))
        f->cls = CLS_IGNORE;
    else if (c == 0x2018 || c == 0x2019)
        f->cls = CLS_APOS;
    else
        f->cls = CLS_SEP;
}

static void fold_fullwidth(uint32_t c, fold_t *f) {
    if (c >= 0xFF10 && c <= 0xFF19)
        word1(f, '0' + (c - 0xFF10));
    else if (c >= 0xFF21 && c <= 0xFF3A)
        word1(f, 'a' + (c - 0xFF21));
    else if (c >= 0xFF41 && c <= 0xFF5A)
        word1(f, 'a' + (c - 0xFF41));
    else if (c == 0xFF07)
        f->cls = CLS_APOS;
    else if (c >= 0xFF66 && c <= 0xFF9F)
        f->cls = CLS_SINGLE, f->n = 1, f->cp[0] = c;
    else if (c >= 0xFFA0 && c <= 0xFFDC)
        word1(f, c);
    else
        f->cls = CLS_SEP;
}

static void classify(uint32_t c, fold_t *f) {
    word1(f, c);
    if (c < 0x80) {
        if (c >= 'A' && c <= 'Z')
            f->cp[0] = c + 32;
        else if (c == '\'')
            f->cls = CLS_APOS;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            f->cls = CLS_SEP;
    } else if (c < 0xC0) {
        if (c == 0xAA)
            word1(f, 'a');
        else if (c == 0xBA)
            word1(f, 'o');
        else if (c == 0xB5)
            word1(f, 0x03BC);
        else if (c == 0xAD)
            f->cls = CLS_IGNORE;
        else if (c == 0xB4)
            f->cls = CLS_APOS; /* the acute accent is often typed for an apostrophe */
        else
            f->cls = CLS_SEP;
    } else if (c < 0x100) {
        expand(f, latin1[c - 0xC0]);
    } else if (c < 0x180) {
        expand(f, latin_ext_a[c - 0x100]);
    } else if (c < 0x2B0) {
        /* Latin Extended-B and IPA stay as they are, but for Romanian ș and ț (both comma and
         * cedilla forms fold to s and t in Extended-A) and Azerbaijani ə. */
        if (c >= 0x0218 && c <= 0x021B)
            word1(f, c <= 0x0219 ? 's' : 't');
        else if (c == 0x018F)
            word1(f, 0x0259);
    } else if (c < 0x300) {
        f->cls = (c == 0x02BB || c == 0x02BC) ? CLS_APOS : CLS_SEP;
    } else if (c < 0x370) {
        f->cls = (c == 0x034F) ? CLS_IGNORE : CLS_MARK;
    } else if (c < 0x400) {
        fold_greek(c, f);
    } else if (c < 0x530) {
        fold_cyrillic(c, f);
    } else if (c < 0x590) {
        fold_armenian(c, f);
    } else if (c < 0x700) {
        fold_hebrew_arabic(c, f);
    } else if (c < 0x1E00) {
        if (c >= 0x10A0 && c <= 0x10C5)
            word1(f, c - 0x10A0 + 0x2D00);
        else if (c == 0x10C7 || c == 0x10CD)
            word1(f, c - 0x10A0 + 0x2D00);
        else if ((c >= 0x1C90 && c <= 0x1CBA) || (c >= 0x1CBD && c <= 0x1CBF))
            word1(f, c - 0x1C90 + 0x10D0);
        else if (c == 0x10FB || c == 0x0964 || c == 0x0965 || c == 0x0E5A || c == 0x0E5B ||
                 c == 0x1362 || c == 0x166D || c == 0x166E)
            f->cls = CLS_SEP;
        else if ((c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
                 (c >= 0x180B && c <= 0x180F))
            f->cls = CLS_IGNORE;
    } else if (c < 0x1F00) {
        if (c == 0x1E9E)
            expand(f, 'S');
        else if (c <= 0x1E95 || c >= 0x1EA0)
            word1(f, pair_even(c));
    } else if (c < 0x2000) {
        /* Polytonic Greek letters stay as they are; its spacing accents separate. */
        if (c == 0x1FBD || (c >= 0x1FBF && c <= 0x1FC1) || (c >= 0x1FCD && c <= 0x1FCF) ||
            (c >= 0x1FDD && c <= 0x1FDF) || (c >= 0x1FED && c <= 0x1FEF) || c >= 0x1FFD)
            f->cls = CLS_SEP;
    } else if (c < 0x2C00) {
        fold_general_punct(c, f);
    } else if (c < 0x2E00) {
        if (c <= 0x2C2F)
            word1(f, c + 0x30); /* Glagolitic capitals */
        else if (c >= 0x2DE0)
            f->cls = CLS_IGNORE;
        else if (c >= 0x2C60 && c <= 0x2C7F)
            word1(f, c);
    } else if (c < 0x3040) {
        f->cls = CLS_SEP;
    } else if (c < 0x3100) {
        if (c == 0x30FB)
            f->cls = CLS_SEP;
        else if (c == 0x3099 || c == 0x309A)
            f->cls = CLS_IGNORE; /* combining voicing marks */
        else
            f->cls = CLS_SINGLE;
    } else if (c < 0x3200) {
        f->cls = CLS_SINGLE;
    } else if (c < 0x3400) {
        f->cls = CLS_SEP;
    } else if (c < 0xA000) {
        f->cls = (c >= 0x4DC0 && c <= 0x4DFF) ? CLS_SEP : CLS_SINGLE;
    } else if (c < 0xAC00) {
        if ((c >= 0xA640 && c <= 0xA66D) || (c >= 0xA680 && c <= 0xA69B))
            word1(f, pair_even(c));
        else if ((c >= 0xA66F && c <= 0xA67F) || c == 0xA69E || c == 0xA69F)
            f->cls = CLS_IGNORE;
    } else if (c < 0xD800) {
        /* Hangul syllables and jamo: Korean separates words by spaces. */
    } else if (c < 0xF900) {
        f->cls = CLS_SEP; /* private use (surrogates never reach here) */
    } else if (c < 0xFB00) {
        f->cls = CLS_SINGLE;
    } else if (c < 0xFE00) {
        static const char *const lig[7] = {"ff", "fi", "fl", "ffi", "ffl", "st", "st"};
        if (c <= 0xFB06) {
            const char *s = lig[c - 0xFB00];
            f->n = (unsigned)strlen(s);
            for (unsigned i = 0; i < f->n; i++)
                f->cp[i] = (uint8_t)s[i];
        } else if (c >= 0xFDD0 && c <= 0xFDEF) {
            f->cls = CLS_SEP;
        } else if (c == 0xFD3E || c == 0xFD3F) {
            f->cls = CLS_SEP;
        }
    } else if (c < 0xFF00) {
        if (c <= 0xFE0F || (c >= 0xFE20 && c <= 0xFE2F) || c == 0xFEFF)
            f->cls = CLS_IGNORE;
        else if (c < 0xFE70 || c > 0xFEFC) /* Arabic presentation forms are letters */
            f->cls = CLS_SEP;
    } else if (c < 0x10000) {
        fold_fullwidth(c, f);
    } else if (c < 0x20000) {
        if ((c >= 0x1D400 && c <= 0x1D7FF) || c >= 0x1F000 || (c & 0xFFFE) == 0xFFFE)
            f->cls = CLS_SEP;
    } else if (c < 0x40000) {
        f->cls = (c & 0xFFFE) == 0xFFFE ? CLS_SEP : CLS_SINGLE;
    } else if (c >= 0xE0000 && c <= 0xE0FFF) {
        f->cls = CLS_IGNORE; /* tags and variation selectors */
    } else {
        f->cls = CLS_SEP;
    }
}

size_t sz_utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *cp) {
    uint8_t b = p[0];
    size_t avail = (size_t)(end - p);
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    size_t n;
    uint32_t c, min;
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2, c = b & 0x1Fu, min = 0x80;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3, c = b & 0x0Fu, min = 0x800;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4, c = b & 0x07u, min = 0x10000;
    } else {
        *cp = SZ_UTF8_INVALID;
        return 1;
    }
    if (avail < n) {
        *cp = SZ_UTF8_INVALID;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0u) != 0x80) {
            *cp = SZ_UTF8_INVALID;
            return 1;
        }
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        *cp = SZ_UTF8_INVALID;
        return 1;
    }
    *cp = c;
    return n;
}

static size_t utf8_encode(uint32_t c, uint8_t out[4]) {
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (uint8_t)(0xC0 | (c >> 6));
        out[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (c >> 12));
        out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (c >> 18));
    out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* Composes a Cyrillic letter with a following combining mark, so that text typed with
 * decomposed й, ў or ї folds as the precomposed letter does. Returns 0 when they don't compose. */
static uint32_t compose(uint32_t base, uint32_t mark) {
    if (mark == 0x0306) {
        if (base == 0x0438)
            return 0x0439;
        if (base == 0x0443)
            return 0x045E;
    } else if (mark == 0x0308) {
        if (base == 0x0456)
            return 0x0457;
        if (base == 0x0435)
            return 0x0435;
    }
    return 0;
}

void sz_tokenizer_init(sz_tokenizer_t *t, const uint8_t *text, size_t len) {
    t->p = text;
    t->end = text + len;
}

int sz_tokenizer_next(sz_tokenizer_t *t, uint8_t out[static SZ_TOKEN_MAX], size_t *len) {
    size_t n = 0, last_off = 0;
    uint32_t last = 0;
    int in = 0, full = 0;
    while (t->p < t->end) {
        /* Fast paths for ASCII letters and digits and the basic Cyrillic alphabet, which are
         * most of the text; everything else takes the general path below. */
        uint8_t c0 = t->p[0];
        if (c0 < 0x80) {
            uint8_t lc = (c0 >= 'A' && c0 <= 'Z') ? (uint8_t)(c0 + 32) : c0;
            if ((lc >= 'a' && lc <= 'z') || (lc >= '0' && lc <= '9')) {
                t->p++;
                in = 1;
                if (!full) {
                    if (n + 1 > SZ_TOKEN_MAX) {
                        full = 1;
                    } else {
                        last_off = n;
                        last = lc;
                        out[n++] = lc;
                    }
                }
                continue;
            }
        } else if ((c0 == 0xD0 || c0 == 0xD1) && t->end - t->p >= 2 && (t->p[1] & 0xC0) == 0x80) {
            uint32_t c = ((uint32_t)(c0 & 0x1F) << 6) | (t->p[1] & 0x3Fu);
            if (c >= 0x0410 && c <= 0x044F) {
                if (c < 0x0430)
                    c += 0x20;
                t->p += 2;
                in = 1;
                if (!full) {
                    if (n + 2 > SZ_TOKEN_MAX) {
                        full = 1;
                    } else {
                        last_off = n;
                        last = c;
                        out[n++] = (uint8_t)(0xC0 | (c >> 6));
                        out[n++] = (uint8_t)(0x80 | (c & 0x3F));
                    }
                }
                continue;
            }
        }
        uint32_t cp;
        size_t k = sz_utf8_decode(t->p, t->end, &cp);
        fold_t f;
        if (cp == SZ_UTF8_INVALID || cp == 0)
            f.cls = CLS_SEP;
        else
            classify(cp, &f);
        switch (f.cls) {
        case CLS_SEP:
            t->p += k;
            if (in)
                goto done;
            continue;
        case CLS_IGNORE:
            t->p += k;
            continue;
        case CLS_MARK:
            t->p += k;
            if (in && !full) {
                uint32_t c = compose(last, cp);
                if (c != 0) {
                    uint8_t enc[4];
                    /* Every composition stays within two-byte Cyrillic, so it fits in place. */
                    size_t el = utf8_encode(c, enc);
                    memcpy(out + last_off, enc, el);
                    last = c;
                }
            }
            continue;
        case CLS_APOS:
            t->p += k;
            if (!in)
                continue;
            if (t->p < t->end) {
                uint32_t next;
                (void)sz_utf8_decode(t->p, t->end, &next);
                fold_t g;
                if (next != SZ_UTF8_INVALID && next != 0) {
                    classify(next, &g);
                    if (g.cls == CLS_WORD)
                        continue;
                }
            }
            goto done;
        case CLS_SINGLE:
            if (in)
                goto done;
            t->p += k;
            n = utf8_encode(cp, out);
            in = 1;
            goto done;
        default: /* CLS_WORD */
            t->p += k;
            in = 1;
            for (unsigned i = 0; i < f.n && !full; i++) {
                uint8_t enc[4];
                size_t el = utf8_encode(f.cp[i], enc);
                if (n + el > SZ_TOKEN_MAX) {
                    /* Stop at the first character that does not fit, so the cut is a prefix. */
                    full = 1;
                    break;
                }
                memcpy(out + n, enc, el);
                last_off = n;
                last = f.cp[i];
                n += el;
            }
            continue;
        }
    }
done:
    if (!in)
        return 0;
    *len = n;
    return 1;
}
