/* Tests for proto/sha256: FIPS 180-2 known answers, and the two-part form against the one-shot
 * form on both of its paths (joined on the stack, and streamed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "encoding.h"
#include "sha256.h"

static void expect_hex(const uint8_t h[32], const char *hex) {
    char got[65];
    sz_hex_encode(got, h, 32);
    assert_string_equal(got, hex);
}

static void test_known_answers(void **state) {
    (void)state;
    uint8_t h[32];
    sz_sha256(h, NULL, 0);
    expect_hex(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sz_sha256(h, "abc", 3);
    expect_hex(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sz_sha256(h, two, strlen(two));
    expect_hex(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a': many blocks through the one-shot form. */
    uint8_t *m = malloc(1000000);
    assert_non_null(m);
    memset(m, 'a', 1000000);
    sz_sha256(h, m, 1000000);
    expect_hex(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(m);
}

static void test_two_part_matches_one_shot(void **state) {
    (void)state;
    uint8_t buf[3000], a[32], b[32];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    /* Splits on both sides of the stack join limit, and empty halves. */
    static const size_t lens[] = {0, 1, 33, 255, 256, 257, 1200, 3000};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t len = lens[i];
        sz_sha256(a, buf, len);
        for (size_t cut = 0; cut <= len; cut += len / 3 + 1) {
            memset(b, 0, sizeof b);
            sz_sha256_2(b, buf, cut, buf + cut, len - cut);
            assert_memory_equal(a, b, 32);
        }
        sz_sha256_2(b, buf, len, NULL, 0);
        assert_memory_equal(a, b, 32);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_answers),
        cmocka_unit_test(test_two_part_matches_one_shot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
