/* SHA-256 through libcrypto; see sha256.h. */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>

/* OpenSSL 3's one-shot SHA256() looks the algorithm up in its provider table on every call,
 * which costs more than hashing a Merkle node. So the algorithm is fetched once, and each thread
 * keeps one digest context, freed when the thread ends. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static EVP_MD *sha256_md;
static pthread_key_t ctx_key;
static int ctx_key_ok;

static void free_ctx(void *p) {
    EVP_MD_CTX_free(p);
}

static void init(void) {
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ctx_key_ok = pthread_key_create(&ctx_key, free_ctx) == 0;
}

/* This thread's context, or NULL when libcrypto cannot give one (out of memory). */
static EVP_MD_CTX *thread_ctx(void) {
    pthread_once(&once, init);
    if (sha256_md == NULL || !ctx_key_ok)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(ctx_key);
    if (ctx == NULL) {
        ctx = EVP_MD_CTX_new();
        if (ctx != NULL && pthread_setspecific(ctx_key, ctx) != 0) {
            EVP_MD_CTX_free(ctx);
            ctx = NULL;
        }
    }
    return ctx;
}

void sz_sha256_2(uint8_t out[static SZ_SHA256_LEN], const void *a, size_t alen, const void *b,
                 size_t blen) {
    EVP_MD_CTX *ctx = thread_ctx();
    if (ctx != NULL && EVP_DigestInit_ex2(ctx, sha256_md, NULL) == 1 &&
        EVP_DigestUpdate(ctx, a, alen) == 1 && EVP_DigestUpdate(ctx, b, blen) == 1 &&
        EVP_DigestFinal_ex(ctx, out, NULL) == 1)
        return;
    /* libsodium's portable SHA-256 keeps its state on the stack: hashing never fails. */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, alen);
    crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

void sz_sha256(uint8_t out[static SZ_SHA256_LEN], const void *in, size_t len) {
    sz_sha256_2(out, in, len, NULL, 0);
}
