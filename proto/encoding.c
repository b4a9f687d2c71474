#include "encoding.h"

#include "error.h"

#include <sodium.h>
#include <string.h>

void sz_hex_encode(char *out, const uint8_t *in, size_t len) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int sz_hex_digit(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sz_hex_decode(uint8_t *out, size_t len, const char *text) {
    if (strlen(text) != 2 * len)
        return SZ_E_MALFORMED;
    for (size_t i = 0; i < len; i++) {
        int hi = sz_hex_digit(text[2 * i]), lo = sz_hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return SZ_E_MALFORMED;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int sz_hex_is_prefix(const char *text, size_t max) {
    size_t n = 0;
    for (; text[n] != '\0'; n++)
        if (sz_hex_digit(text[n]) < 0 || n >= max)
            return 0;
    return n > 0;
}

void sz_pubkey_format(char out[static SZ_PUBKEY_TEXT_LEN + 1], const uint8_t pk[static 32]) {
    sodium_bin2base64(out, SZ_PUBKEY_TEXT_LEN + 1, pk, 32, sodium_base64_VARIANT_ORIGINAL);
}

int sz_pubkey_parse(uint8_t pk[static 32], const char *text) {
    while (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r')
        text++;
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' || text[n - 1] == '\n' ||
                     text[n - 1] == '\r'))
        n--;
    if (n != SZ_PUBKEY_TEXT_LEN)
        return SZ_E_KEY;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(pk, 32, text, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != 32 || end != text + n)
        return SZ_E_KEY;
    /* Only the canonical encoding: the last character's unused low bits must be zero. */
    char again[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(again, pk);
    if (memcmp(again, text, SZ_PUBKEY_TEXT_LEN) != 0)
        return SZ_E_KEY;
    return 0;
}
