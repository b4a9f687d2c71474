/* Fuzz harness for the full-text tokenizer: any bytes must tokenize without a crash, and every
 * term must be non-empty, at most SZ_TOKEN_MAX bytes of valid UTF-8, and tokenize to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokenize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sz_tokenizer_t t;
    sz_tokenizer_init(&t, data, size);
    uint8_t term[SZ_TOKEN_MAX];
    size_t len, total = 0;
    while (sz_tokenizer_next(&t, term, &len)) {
        if (len == 0 || len > SZ_TOKEN_MAX)
            abort();
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            i += sz_utf8_decode(term + i, term + len, &cp);
            if (cp == SZ_UTF8_INVALID)
                abort();
        }
        sz_tokenizer_t again;
        sz_tokenizer_init(&again, term, len);
        uint8_t t2[SZ_TOKEN_MAX];
        size_t l2;
        if (sz_tokenizer_next(&again, t2, &l2) != 1 || l2 != len || memcmp(t2, term, len) != 0 ||
            sz_tokenizer_next(&again, t2, &l2) != 0)
            abort();
        total += len;
        /* Folding never grows text, so the terms fit in the input. */
        if (total > size)
            abort();
    }
    return 0;
}
