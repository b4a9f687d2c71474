/* libFuzzer harness for the record envelope decoder (proto/record.c).
 *
 * Feeds arbitrary bytes to sz_record_open and sz_record_decode. Whatever decodes must satisfy the
 * invariants of RECORD.md: the exact length, the record id rule, strictly ascending parents, known
 * kind and flags, and pointers inside the input. Whatever opens must hash to SHA-256 of the input,
 * and no proper prefix of it may decode. A broken invariant aborts, which the fuzzer reports. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "record.h"

static void check(int ok) {
    if (!ok)
        abort();
}

static int is_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len) {
    return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

static void check_decoded(const sz_record_t *rec, const uint8_t *data, size_t size) {
    check(rec->envelope == data && rec->envelope_len == size);
    check(size == sz_record_encoded_len(rec->nparents, rec->body_len));
    check(size >= SZ_RECORD_MIN_LEN && size <= SZ_RECORD_MAX_LEN);
    check(memcmp(data, SZ_RECORD_MAGIC, 3) == 0 && rec->format == SZ_RECORD_FORMAT);
    check(sz_kind_name(rec->kind) != NULL);
    check((rec->flags & ~SZ_FLAGS_KNOWN) == 0);
    check(rec->nparents <= SZ_RECORD_MAX_PARENTS && rec->body_len <= SZ_RECORD_MAX_BODY);
    check((rec->nparents == 0) == is_zero(rec->record_id, SZ_HASH_LEN));
    for (unsigned i = 1; i < rec->nparents; i++)
        check(memcmp(rec->parents + (i - 1) * SZ_HASH_LEN, rec->parents + i * SZ_HASH_LEN,
                     SZ_HASH_LEN) < 0);
    check(inside(rec->record_id, SZ_HASH_LEN, data, size));
    check(inside(rec->parents, (size_t)rec->nparents * SZ_HASH_LEN, data, size));
    check(inside(rec->author, SZ_PUBKEY_LEN, data, size));
    check(inside(rec->body, rec->body_len, data, size));
    check(rec->signature == data + size - SZ_SIG_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int initialised;
    if (!initialised) {
        if (sodium_init() < 0)
            abort();
        initialised = 1;
    }
    sz_record_t rec;
    int drc = sz_record_decode(&rec, data, size);
    if (drc == 0)
        check_decoded(&rec, data, size);
    else
        check(drc <= SZ_E_TRUNCATED && drc >= SZ_E_RECORD_ID);

    uint8_t h[32], want[32], id[32];
    int rc = sz_record_open(&rec, data, size, h);
    /* open fails exactly where decode fails, with the same error, or else only on the signature. */
    check(drc != 0 ? rc == drc : (rc == 0 || rc == SZ_E_SIGNATURE || rc == -ENOMEM));
    if (rc != 0)
        return 0;
    check_decoded(&rec, data, size);
    crypto_hash_sha256(want, data, size);
    check(memcmp(h, want, 32) == 0);
    sz_record_id(&rec, h, id);
    check(memcmp(id, rec.nparents == 0 ? h : rec.record_id, 32) == 0);
    check(!is_zero(id, 32));
    /* A valid envelope has exactly one length: cutting or extending it must fail. */
    check(sz_record_decode(&rec, data, size - 1) == SZ_E_TRUNCATED);
    check(sz_record_decode(&rec, data, size / 2) == SZ_E_TRUNCATED);
    return 0;
}
