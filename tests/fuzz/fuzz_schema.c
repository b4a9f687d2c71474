/* Fuzz harness for the record body validator: the input is validated as the body of every kind,
 * fed to every format checker, and used as a schema text against a fixed document. Any crash,
 * sanitizer report or inconsistent verdict is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "format.h"
#include "record.h"
#include "schema.h"

static void check_error(int rc, const sz_schema_error_t *err) {
    /* Every failure leaves a NUL-terminated message within the buffer. */
    if (rc != 0 && memchr(err->message, '\0', sizeof err->message) == NULL)
        abort();
    if (memchr(err->path, '\0', sizeof err->path) == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sz_schema_error_t err;
    for (unsigned kind = SZ_KIND_TESTIMONY; kind <= SZ_KIND_REVOCATION; kind++) {
        int rc = sz_schema_validate(kind, data, size, &err);
        check_error(rc, &err);
        /* The verdict does not depend on whether an error is wanted. */
        if (sz_schema_validate(kind, data, size, NULL) != rc)
            abort();
    }
    static const char *const formats[] = {"edtf", "country", "bcp47", "sha256", "pubkey"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        (void)sz__format_lookup(formats[i])((const char *)data, size);

    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    static const char doc[] = "{\"a\":[1,\"x\",{\"b\":null}],\"c\":\"1990-01/1990-03\"}";
    int rc = sz_schema_validate_with(text, (const uint8_t *)doc, sizeof doc - 1, &err);
    check_error(rc, &err);
    rc = sz_schema_check(text, &err);
    check_error(rc, &err);
    free(text);
    return 0;
}
