/* Fuzz harness for proto/jsonscan: walks every object and array of any input up to a fixed depth,
 * decodes every string and looks members up by name, so ASan/UBSan see every code path on
 * arbitrary bytes. The scanner must never read outside the input or loop forever. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jsonscan.h"

#define MAX_DEPTH 8

static void touch_string(sz_jspan_t s) {
    uint8_t buf[32];
    size_t n;
    (void)sz_json_string(s, buf, sizeof(buf), &n);
    (void)sz_json_string(s, buf, 1, &n);
    (void)sz_json_key_is(s, "role");
}

static void walk(sz_jspan_t v, int depth) {
    sz_json_iter_t it;
    sz_jspan_t k, e;
    if (depth > MAX_DEPTH)
        return;
    switch (sz_json_type(v)) {
    case SZ_JSON_OBJECT:
        if (sz_json_iter_init(&it, v) != 0)
            return;
        while (sz_json_next_member(&it, &k, &e) == 1) {
            touch_string(k);
            walk(e, depth + 1);
        }
        (void)sz_json_get(v, "cases", &e);
        (void)sz_json_get(v, "\xd0\x96", &e);
        break;
    case SZ_JSON_ARRAY:
        if (sz_json_iter_init(&it, v) != 0)
            return;
        while (sz_json_next_element(&it, &e) == 1)
            walk(e, depth + 1);
        break;
    case SZ_JSON_STRING:
        touch_string(v);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sz_jspan_t root;
    if (sz_json_root(data, size, &root) == 0)
        walk(root, 0);
    /* Spans cut from the middle of the input must be safe too. */
    if (size > 2) {
        sz_jspan_t mid = {data + 1, size - 2};
        walk(mid, 0);
    }
    return 0;
}
