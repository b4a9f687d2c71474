/* Fuzzes the key backup parser with arbitrary text. Every input is checked structurally; inputs
 * whose passphrase copy asks for more than the minimum KDF cost are not decrypted, so runs stay
 * fast. The escrow copy is opened with a fixed recovery key (BLAKE2b of "samizdat fuzz recovery
 * key" as seed), so corpus backups made for that key reach the box. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "keybackup.h"
#include "keyfile.h"

#define FUZZ_PASS "fuzz"

static uint8_t recovery_pk[32], recovery_sk[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            abort();
        uint8_t seed[32];
        const char *label = "samizdat fuzz recovery key";
        crypto_generichash(seed, sizeof(seed), (const uint8_t *)label, strlen(label), NULL, 0);
        crypto_sign_seed_keypair(recovery_pk, recovery_sk, seed);
        ready = 1;
    }
    const char *text = (const char *)data;
    sz_keybackup_info_t info;
    int rc = sz_keybackup_decode(&info, text, size);
    uint8_t *sk = NULL;
    if (rc != 0) {
        /* Whatever decode refuses, both restore paths refuse in the same way. */
        if (rc != SZ_E_KEYFILE ||
            sz_keybackup_restore_escrow(&sk, text, size, recovery_sk) != SZ_E_KEYFILE || sk != NULL)
            abort();
        if (sz_keybackup_restore(&sk, text, size, FUZZ_PASS, strlen(FUZZ_PASS)) != SZ_E_KEYFILE ||
            sk != NULL)
            abort();
        return 0;
    }
    if (info.key.kdf != SZ_KEYFILE_KDF_ARGON2ID13)
        abort();
    rc = sz_keybackup_restore_escrow(&sk, text, size, recovery_sk);
    if (rc == 0) {
        if (!info.has_escrow || sk == NULL || memcmp(sk + 32, info.key.public_key, 32) != 0)
            abort();
        sz_secretkey_free(sk);
    } else if (sk != NULL ||
               (info.has_escrow ? (rc != SZ_E_KEY && rc != SZ_E_KEYFILE) : rc != SZ_E_NOT_FOUND)) {
        abort();
    }
    if (info.key.opslimit > SZ_KEYFILE_OPSLIMIT_MIN || info.key.memlimit > SZ_KEYFILE_MEMLIMIT_MIN)
        return 0;
    rc = sz_keybackup_restore(&sk, text, size, FUZZ_PASS, strlen(FUZZ_PASS));
    if (rc == 0) {
        if (sk == NULL || memcmp(sk + 32, info.key.public_key, 32) != 0)
            abort();
        sz_secretkey_free(sk);
    } else if (sk != NULL || (rc != SZ_E_KEYFILE && rc != SZ_E_PASSPHRASE)) {
        abort();
    }
    return 0;
}
