/* Fuzzes the secret and public key file parsers with arbitrary text. Inputs that declare KDF
 * limits above the minimum are only inspected, not decrypted, so each run stays fast. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keyfile.h"

#define FUZZ_PASS "fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        ready = 1;
    }
    const char *text = (const char *)data;
    uint8_t pk[32];
    (void)sz_pubkey_parse_any(pk, text, size);

    sz_keyfile_info_t info;
    int rc = sz_keyfile_inspect(&info, text, size);
    if (rc != 0) {
        uint8_t *sk = NULL;
        /* Whatever inspect rejects, decode must reject in the same way. */
        if (sz_keyfile_decode(&sk, text, size, FUZZ_PASS, strlen(FUZZ_PASS)) != SZ_E_KEYFILE ||
            sk != NULL)
            abort();
        return 0;
    }
    if (info.kdf != SZ_KEYFILE_KDF_NONE &&
        (info.opslimit > SZ_KEYFILE_OPSLIMIT_MIN || info.memlimit > SZ_KEYFILE_MEMLIMIT_MIN))
        return 0;
    uint8_t *sk = NULL;
    rc = sz_keyfile_decode(&sk, text, size, FUZZ_PASS, strlen(FUZZ_PASS));
    if (rc == 0) {
        /* A key that decodes is self-consistent and matches what inspect showed. */
        if (sk == NULL || memcmp(sk + 32, info.public_key, 32) != 0)
            abort();
        sz_secretkey_free(sk);
    } else if (sk != NULL || (rc != SZ_E_KEYFILE && rc != SZ_E_PASSPHRASE)) {
        abort();
    }
    return 0;
}
