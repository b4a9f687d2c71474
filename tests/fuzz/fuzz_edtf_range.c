/* Fuzz harness for proto/edtf_range: any bytes either parse to an ordered range inside the
 * sentinels or are refused, without reading past the given length. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edtf_range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int64_t lo, hi;
    /* A private copy without a terminator, so ASan catches any read past size. */
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        return 0;
    for (size_t i = 0; i < size; i++)
        copy[i] = (char)data[i];
    if (sz_edtf_range(copy, size, &lo, &hi) == 0) {
        if (lo > hi || lo < SZ_EDTF_DAY_MIN || hi > SZ_EDTF_DAY_MAX)
            abort();
    }
    free(copy);
    return 0;
}
