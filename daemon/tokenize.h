/* The full-text tokenizer: splits UTF-8 text into folded search terms.
 *
 * It is pure (no I/O, no allocation) and used by daemon/fts.c for both documents and queries, so
 * a query word always folds exactly as the same word in a document does. daemon/FTS.md states the
 * rules; in short:
 *   - Input is decoded strictly (RFC 3629: no overlongs, surrogates or code points past
 *     U+10FFFF). An invalid byte is a separator and decoding resumes at the next byte.
 *   - A term is a run of letters and digits. Latin, Greek, Cyrillic, Armenian and Georgian are
 *     case-folded by compact tables; Latin and Greek diacritics are stripped (é -> e, ß -> ss,
 *     ά -> α); Cyrillic ё folds to е, while й, і, ї, є, ґ and ў stay distinct letters. Combining
 *     marks are dropped, except that и, у, і, е followed by a combining breve or diaeresis are
 *     composed (so decomposed й still matches й).
 *   - An apostrophe (' ’ ʼ ʻ ´ or fullwidth ') between two letters is dropped and joins them:
 *     "п'ять" -> "пять", "don't" -> "dont". Anywhere else it is a separator.
 *   - Each CJK ideograph or kana is a term of its own, so quoted phrases find runs of them.
 *   - A term is at most SZ_TOKEN_MAX bytes of UTF-8; longer words are cut at a character
 *     boundary (queries are cut the same way, so they still match).
 * Every term produced is valid UTF-8, non-empty, and tokenizes to itself. */
#ifndef SZ_TOKENIZE_H
#define SZ_TOKENIZE_H

#include <stddef.h>
#include <stdint.h>

#define SZ_TOKEN_MAX 64             /* bytes of UTF-8 in one term */
#define SZ_UTF8_INVALID 0xFFFFFFFFu /* what sz_utf8_decode() reports for an invalid sequence */

typedef struct sz_tokenizer_s sz_tokenizer_t;
struct sz_tokenizer_s {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last byte */
};

/* Starts tokenizing text (borrowed; it must outlive the tokenizer). */
void sz_tokenizer_init(sz_tokenizer_t *t, const uint8_t *text, size_t len);

/* Writes the next term to out (borrowed, SZ_TOKEN_MAX bytes, not NUL-terminated) and its length
 * to *len. Returns 1 when a term was written, 0 at the end of the text. */
int sz_tokenizer_next(sz_tokenizer_t *t, uint8_t out[static SZ_TOKEN_MAX], size_t *len);

/* Decodes one code point at p (end exclusive, p < end) into *cp. Returns the number of bytes
 * consumed: the whole sequence when it is valid, or 1 with *cp = SZ_UTF8_INVALID otherwise. */
size_t sz_utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *cp);

#endif
