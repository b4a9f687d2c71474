/* libFuzzer harness for proto/noise: one side of a handshake with fixed keys reads whatever the
 * input says the peer sent, writes its own messages, then decrypts transport messages.
 *
 * Input: byte 0 picks the pattern (index into PATTERNS, modulo), byte 1 bit 0 picks the role the
 * harness plays (0 initiator, 1 responder); then messages from the peer, each a u16 big-endian
 * length and that many bytes. Every key is fixed, so a recorded transcript replays exactly: the
 * seed corpus holds real handshakes for every pattern, made by building this file with
 * -DFUZZ_NOISE_GEN_CORPUS and running it with the corpus folder as argument. A final input of
 * protocol-name text exercises the name parser. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "noise.h"

static const char *const PATTERNS[] = {
    "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", "Noise_NN_25519_ChaChaPoly_BLAKE2b",
    "Noise_XX_25519_ChaChaPoly_BLAKE2b",     "Noise_IK_25519_ChaChaPoly_BLAKE2b",
    "Noise_KK_25519_ChaChaPoly_BLAKE2b",     "Noise_N_25519_ChaChaPoly_BLAKE2b",
    "Noise_X1K1_25519_ChaChaPoly_BLAKE2b",   "Noise_NNpsk0+psk2_25519_ChaChaPoly_BLAKE2b",
    "Noise_IXpsk2_25519_ChaChaPoly_BLAKE2b",
};
#define NPATTERNS (sizeof(PATTERNS) / sizeof(PATTERNS[0]))

/* Sets up one side with the fixed keys; every pattern gets what it might need. */
static sz_noise_t *make_side(const char *name, sz_noise_role_t role) {
    uint8_t s[32], rs_sk[32], rs[32], e[32], psk[32];
    bool init = role == SZ_NOISE_INITIATOR;
    sz_noise_t *hs = NULL;
    if (sz_noise_new(&hs, name, role) != 0)
        return NULL;
    memset(s, init ? 0x11 : 0x22, 32);
    memset(rs_sk, init ? 0x22 : 0x11, 32);
    memset(e, init ? 0x33 : 0x44, 32);
    memset(psk, 0x55, 32);
    crypto_scalarmult_base(rs, rs_sk);
    sz_noise_set_prologue(hs, (const uint8_t *)SZ_NOISE_PROLOGUE, SZ_NOISE_PROLOGUE_LEN);
    sz_noise_set_local_static(hs, s);
    sz_noise_set_ephemeral_for_test(hs, e);
    for (const char *p = strstr(name, "psk"); p != NULL; p = strstr(p + 3, "psk"))
        sz_noise_add_psk(hs, psk);
    /* The remote static key is pre-shared only in patterns whose peer letter is K (or the
     * responder's in N/X/IK-like patterns); try with it, then without. */
    sz_noise_set_remote_static(hs, rs);
    if (sz_noise_start(hs) == 0)
        return hs;
    sz_noise_free(hs);
    hs = NULL;
    if (sz_noise_new(&hs, name, role) != 0)
        return NULL;
    sz_noise_set_prologue(hs, (const uint8_t *)SZ_NOISE_PROLOGUE, SZ_NOISE_PROLOGUE_LEN);
    sz_noise_set_local_static(hs, s);
    sz_noise_set_ephemeral_for_test(hs, e);
    for (const char *p = strstr(name, "psk"); p != NULL; p = strstr(p + 3, "psk"))
        sz_noise_add_psk(hs, psk);
    if (sz_noise_start(hs) != 0) {
        sz_noise_free(hs);
        return NULL;
    }
    return hs;
}

static uint8_t out[SZ_NOISE_MAX_MSG], pt[SZ_NOISE_MAX_MSG];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (sodium_init() < 0 || size < 2)
        return 0;
    if (data[0] == 'N') {
        /* Protocol-name parsing. */
        char name[200];
        size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
        memcpy(name, data, n);
        name[n] = '\0';
        sz_noise_t *hs = NULL;
        if (sz_noise_new(&hs, name, SZ_NOISE_INITIATOR) == 0)
            sz_noise_free(hs);
        return 0;
    }
    const char *name = PATTERNS[data[0] % NPATTERNS];
    sz_noise_role_t role = (data[1] & 1) ? SZ_NOISE_RESPONDER : SZ_NOISE_INITIATOR;
    sz_noise_t *hs = make_side(name, role);
    if (hs == NULL)
        return 0;
    sz_cipher_t *send = NULL, *recv = NULL;
    size_t pos = 2;
    for (;;) {
        sz_noise_action_t act = sz_noise_action(hs);
        size_t len = 0;
        if (act == SZ_NOISE_ACTION_WRITE) {
            if (sz_noise_write_message(hs, (const uint8_t *)"payload", 7, out, sizeof(out), &len) !=
                0)
                break;
            continue;
        }
        if (act == SZ_NOISE_ACTION_SPLIT) {
            if (sz_noise_split(hs, &send, &recv) != 0)
                break;
            continue;
        }
        if (act != SZ_NOISE_ACTION_READ && act != SZ_NOISE_ACTION_DONE)
            break;
        if (size - pos < 2)
            break;
        size_t mlen = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (mlen > size - pos)
            mlen = size - pos;
        const uint8_t *msg = data + pos;
        pos += mlen;
        if (act == SZ_NOISE_ACTION_READ) {
            if (sz_noise_read_message(hs, msg, mlen, pt, sizeof(pt), &len) != 0)
                break;
            uint8_t rs[32];
            if (sz_noise_remote_static(hs, rs) == 0 && len == 32)
                (void)sz_noise_check_identity(pt, rs);
        } else {
            if (recv == NULL ||
                sz_cipher_decrypt(recv, NULL, 0, msg, mlen, pt, sizeof(pt), &len) != 0)
                break;
            if (send != NULL &&
                sz_cipher_encrypt(send, NULL, 0, pt, len, out, sizeof(out), &len) != 0)
                break;
        }
    }
    sz_cipher_free(send);
    sz_cipher_free(recv);
    sz_noise_free(hs);
    return 0;
}

#ifdef FUZZ_NOISE_GEN_CORPUS
static void put_msg(uint8_t *seed, size_t *slen, const uint8_t *msg, size_t len) {
    seed[(*slen)++] = (uint8_t)(len >> 8);
    seed[(*slen)++] = (uint8_t)len;
    memcpy(seed + *slen, msg, len);
    *slen += len;
}

/* Writes one seed per pattern and role: the messages the peer sends in a real handshake with
 * the same fixed keys, then two transport messages from the peer. */
int main(int argc, char **argv) {
    if (argc != 2 || sodium_init() < 0)
        return 1;
    for (size_t p = 0; p < NPATTERNS; p++) {
        for (int r = 0; r < 2; r++) {
            sz_noise_t *a = make_side(PATTERNS[p], r ? SZ_NOISE_RESPONDER : SZ_NOISE_INITIATOR);
            sz_noise_t *b = make_side(PATTERNS[p], r ? SZ_NOISE_INITIATOR : SZ_NOISE_RESPONDER);
            static uint8_t seed[4096];
            size_t slen = 2, mlen, plen;
            sz_cipher_t *as = NULL, *ar = NULL, *bs = NULL, *br = NULL;
            if (a == NULL || b == NULL)
                return 2;
            seed[0] = (uint8_t)p;
            seed[1] = (uint8_t)r;
            while (sz_noise_action(a) != SZ_NOISE_ACTION_SPLIT) {
                sz_noise_t *w = sz_noise_action(a) == SZ_NOISE_ACTION_WRITE ? a : b;
                sz_noise_t *rd = w == a ? b : a;
                if (sz_noise_write_message(w, (const uint8_t *)"payload", 7, out, sizeof(out),
                                           &mlen) != 0 ||
                    sz_noise_read_message(rd, out, mlen, pt, sizeof(pt), &plen) != 0)
                    return 3;
                if (w == b)
                    put_msg(seed, &slen, out, mlen);
            }
            if (sz_noise_split(a, &as, &ar) != 0 || sz_noise_split(b, &bs, &br) != 0)
                return 4;
            for (int i = 0; i < 2 && bs != NULL; i++) {
                if (sz_cipher_encrypt(bs, NULL, 0, (const uint8_t *)"transport", 9, out,
                                      sizeof(out), &mlen) != 0)
                    return 5;
                put_msg(seed, &slen, out, mlen);
            }
            char path[4096];
            snprintf(path, sizeof(path), "%s/hs-%zu-%s", argv[1], p, r ? "resp" : "init");
            FILE *f = fopen(path, "wb");
            if (f == NULL || fwrite(seed, 1, slen, f) != slen || fclose(f) != 0)
                return 6;
            sz_cipher_free(as);
            sz_cipher_free(ar);
            sz_cipher_free(bs);
            sz_cipher_free(br);
            sz_noise_free(a);
            sz_noise_free(b);
        }
    }
    return 0;
}
#endif
