/* Noise (revision 34) with 25519, ChaChaPoly and BLAKE2b; see noise.h and WIRE.md.
 *
 * Handshake patterns are a table of strings parsed once into token lists; one loop writes a
 * message and one reads it. All secret state lives in sodium_malloc'd objects and is wiped by
 * fail() on any error and by the free functions. */
#include "noise.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "error.h"

#define HASHLEN 64
#define BLOCKLEN 128
#define MAX_MSGS 4
#define MAX_TOKENS 8
#define MAX_NAME 128
#define MAX_PROLOGUE 1024

enum token { T_END = 0, T_E, T_S, T_EE, T_ES, T_SE, T_SS, T_PSK };

enum hs_state { HS_NEW, HS_WRITE, HS_READ, HS_SPLIT, HS_DONE, HS_FAILED };

enum cipher_state { CS_READY = 1, CS_FAILED };

/* The patterns of Noise sections 7.4 to 7.6: pre-messages of initiator and responder, then the
 * messages separated by '|' (the first sent by the initiator, then alternating), with tokens
 * separated by ','. psk modifiers are applied on top when a name is parsed. */
static const struct pattern_def {
    const char *name;
    const char *pre_i;
    const char *pre_r;
    const char *msgs;
} patterns[] = {
    /* one-way */
    {"N", "", "s", "e,es"},
    {"K", "s", "s", "e,es,ss"},
    {"X", "", "s", "e,es,s,ss"},
    /* interactive, fundamental */
    {"NN", "", "", "e|e,ee"},
    {"NK", "", "s", "e,es|e,ee"},
    {"NX", "", "", "e|e,ee,s,es"},
    {"KN", "s", "", "e|e,ee,se"},
    {"KK", "s", "s", "e,es,ss|e,ee,se"},
    {"KX", "s", "", "e|e,ee,se,s,es"},
    {"XN", "", "", "e|e,ee|s,se"},
    {"XK", "", "s", "e,es|e,ee|s,se"},
    {"XX", "", "", "e|e,ee,s,es|s,se"},
    {"IN", "", "", "e,s|e,ee,se"},
    {"IK", "", "s", "e,es,s,ss|e,ee,se"},
    {"IX", "", "", "e,s|e,ee,se,s,es"},
    /* interactive, deferred */
    {"NK1", "", "s", "e|e,ee,es"},
    {"NX1", "", "", "e|e,ee,s|es"},
    {"X1N", "", "", "e|e,ee|s|se"},
    {"X1K", "", "s", "e,es|e,ee|s|se"},
    {"XK1", "", "s", "e|e,ee,es|s,se"},
    {"X1K1", "", "s", "e|e,ee,es|s|se"},
    {"X1X", "", "", "e|e,ee,s,es|s|se"},
    {"XX1", "", "", "e|e,ee,s|es,s,se"},
    {"X1X1", "", "", "e|e,ee,s|es,s|se"},
    {"K1N", "s", "", "e|e,ee|se"},
    {"K1K", "s", "s", "e,es|e,ee|se"},
    {"KK1", "s", "s", "e|e,ee,se,es"},
    {"K1K1", "s", "s", "e|e,ee,es|se"},
    {"K1X", "s", "", "e|e,ee,s,es|se"},
    {"KX1", "s", "", "e|e,ee,se,s|es"},
    {"K1X1", "s", "", "e|e,ee,s|se,es"},
    {"I1N", "", "", "e,s|e,ee|se"},
    {"I1K", "", "s", "e,es,s|e,ee|se"},
    {"IK1", "", "s", "e,s|e,ee,se,es"},
    {"I1K1", "", "s", "e,s|e,ee,es|se"},
    {"I1X", "", "", "e,s|e,ee,s,es|se"},
    {"IX1", "", "", "e,s|e,ee,se,s|es"},
    {"I1X1", "", "", "e,s|e,ee,s|se,es"},
};

struct sz_noise_s {
    enum hs_state state;
    sz_noise_role_t role;
    uint8_t nmsgs;
    uint8_t msg_index;
    uint8_t tokens[MAX_MSGS][MAX_TOKENS + 1]; /* T_END-terminated */
    bool pre_i_s, pre_r_s;
    bool psk_mode; /* any psk modifier: the e token also runs MixKey */
    uint8_t npsk_tokens, npsks, psk_next;
    char name[MAX_NAME];
    size_t name_len;
    uint8_t prologue[MAX_PROLOGUE];
    size_t prologue_len;
    /* symmetric state */
    uint8_t ck[HASHLEN];
    uint8_t h[HASHLEN];
    uint8_t k[32];
    bool has_k;
    uint64_t n;
    /* keys */
    uint8_t s_sk[32], s_pk[32];
    uint8_t e_sk[32], e_pk[32];
    uint8_t rs[32], re[32];
    bool has_s, has_e, e_fixed, has_rs, has_re;
    uint8_t psks[SZ_NOISE_MAX_PSKS][32];
};

struct sz_cipher_s {
    enum cipher_state state;
    uint8_t k[32];
    uint64_t n;
    uint64_t rekey_interval;
};

/* ---- Hash, HMAC, HKDF ----------------------------------------------------------------------- */

void sz_noise_hmac_blake2b(uint8_t out[static 64], const uint8_t *key, size_t key_len,
                           const uint8_t *data, size_t data_len) {
    uint8_t block[BLOCKLEN];
    uint8_t inner[HASHLEN];
    crypto_generichash_state st;

    memset(block, 0, sizeof(block));
    if (key_len > BLOCKLEN)
        crypto_generichash(block, HASHLEN, key, key_len, NULL, 0);
    else if (key_len > 0)
        memcpy(block, key, key_len);

    for (size_t i = 0; i < BLOCKLEN; i++)
        block[i] ^= 0x36;
    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, block, BLOCKLEN);
    if (data_len > 0)
        crypto_generichash_update(&st, data, data_len);
    crypto_generichash_final(&st, inner, HASHLEN);

    /* 0x36 ^ 0x5c turns the inner pad into the outer one without keeping the key around. */
    for (size_t i = 0; i < BLOCKLEN; i++)
        block[i] ^= 0x36 ^ 0x5c;
    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, block, BLOCKLEN);
    crypto_generichash_update(&st, inner, HASHLEN);
    crypto_generichash_final(&st, out, HASHLEN);

    sodium_memzero(block, sizeof(block));
    sodium_memzero(inner, sizeof(inner));
    sodium_memzero(&st, sizeof(st));
}

/* HKDF of Noise section 4.3 with two or three outputs (out3 may be NULL). */
static void hkdf(const uint8_t ck[HASHLEN], const uint8_t *ikm, size_t ikm_len,
                 uint8_t out1[HASHLEN], uint8_t out2[HASHLEN], uint8_t *out3) {
    uint8_t temp_key[HASHLEN];
    uint8_t buf[HASHLEN + 1];

    sz_noise_hmac_blake2b(temp_key, ck, HASHLEN, ikm, ikm_len);
    buf[0] = 0x01;
    sz_noise_hmac_blake2b(out1, temp_key, HASHLEN, buf, 1);
    memcpy(buf, out1, HASHLEN);
    buf[HASHLEN] = 0x02;
    sz_noise_hmac_blake2b(out2, temp_key, HASHLEN, buf, HASHLEN + 1);
    if (out3 != NULL) {
        memcpy(buf, out2, HASHLEN);
        buf[HASHLEN] = 0x03;
        sz_noise_hmac_blake2b(out3, temp_key, HASHLEN, buf, HASHLEN + 1);
    }
    sodium_memzero(temp_key, sizeof(temp_key));
    sodium_memzero(buf, sizeof(buf));
}

/* ---- AEAD with Noise nonces ------------------------------------------------------------------ */

static void nonce_bytes(uint8_t npub[12], uint64_t n) {
    memset(npub, 0, 4);
    for (int i = 0; i < 8; i++)
        npub[4 + i] = (uint8_t)(n >> (8 * i));
}

static void aead_encrypt(const uint8_t k[static 32], uint64_t n, const uint8_t *ad, size_t ad_len,
                         const uint8_t *pt, size_t len, uint8_t *out) {
    uint8_t npub[12];
    unsigned long long clen;
    nonce_bytes(npub, n);
    crypto_aead_chacha20poly1305_ietf_encrypt(out, &clen, pt, len, ad, ad_len, NULL, npub, k);
}

static int aead_decrypt(const uint8_t k[static 32], uint64_t n, const uint8_t *ad, size_t ad_len,
                        const uint8_t *ct, size_t len, uint8_t *out) {
    uint8_t npub[12];
    unsigned long long mlen;
    nonce_bytes(npub, n);
    return crypto_aead_chacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, len, ad, ad_len, npub,
                                                     k);
}

static void rekey(uint8_t k[static 32]) {
    static const uint8_t zeros[32];
    uint8_t out[32 + SZ_NOISE_TAG_LEN];
    aead_encrypt(k, UINT64_MAX, NULL, 0, zeros, sizeof(zeros), out);
    memcpy(k, out, 32);
    sodium_memzero(out, sizeof(out));
}

/* ---- Pattern parsing ------------------------------------------------------------------------- */

static int parse_token(const char *p, size_t len, uint8_t *tok) {
    static const struct {
        const char *text;
        uint8_t tok;
    } names[] = {{"e", T_E},   {"s", T_S},   {"ee", T_EE},  {"es", T_ES},
                 {"se", T_SE}, {"ss", T_SS}, {"psk", T_PSK}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i].text) == len && memcmp(names[i].text, p, len) == 0) {
            *tok = names[i].tok;
            return 0;
        }
    }
    return SZ_E_ARGUMENT;
}

static int load_pattern(sz_noise_t *hs, const struct pattern_def *def) {
    const char *p = def->msgs;
    int m = 0, t = 0;
    memset(hs->tokens, T_END, sizeof(hs->tokens));
    while (*p != '\0') {
        size_t len = strcspn(p, ",|");
        uint8_t tok;
        if (parse_token(p, len, &tok) != 0 || t >= MAX_TOKENS)
            return SZ_E_ARGUMENT;
        hs->tokens[m][t++] = tok;
        p += len;
        if (*p == '|') {
            if (++m >= MAX_MSGS)
                return SZ_E_ARGUMENT;
            t = 0;
        }
        if (*p != '\0')
            p++;
    }
    hs->nmsgs = (uint8_t)(m + 1);
    hs->pre_i_s = def->pre_i[0] == 's';
    hs->pre_r_s = def->pre_r[0] == 's';
    return 0;
}

static int insert_psk(sz_noise_t *hs, unsigned pos) {
    uint8_t *msg;
    size_t count;
    if (pos > hs->nmsgs)
        return SZ_E_ARGUMENT;
    msg = hs->tokens[pos == 0 ? 0 : pos - 1];
    for (count = 0; msg[count] != T_END; count++)
        ;
    if (count >= MAX_TOKENS)
        return SZ_E_ARGUMENT;
    if (pos == 0) {
        memmove(msg + 1, msg, count);
        msg[0] = T_PSK;
    } else {
        msg[count] = T_PSK;
    }
    hs->npsk_tokens++;
    hs->psk_mode = true;
    return 0;
}

/* Parses "Noise_<pattern><modifiers>_25519_ChaChaPoly_BLAKE2b". */
static int parse_name(sz_noise_t *hs, const char *name) {
    static const char prefix[] = "Noise_";
    static const char suffix[] = "_25519_ChaChaPoly_BLAKE2b";
    size_t len = strlen(name);
    size_t plen = sizeof(prefix) - 1, slen = sizeof(suffix) - 1;
    if (len >= MAX_NAME || len <= plen + slen || memcmp(name, prefix, plen) != 0 ||
        memcmp(name + len - slen, suffix, slen) != 0)
        return SZ_E_ARGUMENT;

    const char *pat = name + plen;
    size_t pat_len = len - plen - slen;
    size_t base_len = strspn(pat, "NKXI1");
    if (base_len > pat_len)
        base_len = pat_len;
    const struct pattern_def *def = NULL;
    for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
        if (strlen(patterns[i].name) == base_len && memcmp(patterns[i].name, pat, base_len) == 0) {
            def = &patterns[i];
            break;
        }
    }
    if (def == NULL)
        return SZ_E_ARGUMENT;
    int rc = load_pattern(hs, def);
    if (rc != 0)
        return rc;

    /* Modifiers: "psk<digit>" joined by '+'. */
    const char *p = pat + base_len, *end = pat + pat_len;
    while (p < end) {
        if (end - p < 4 || memcmp(p, "psk", 3) != 0 || p[3] < '0' || p[3] > '9')
            return SZ_E_ARGUMENT;
        rc = insert_psk(hs, (unsigned)(p[3] - '0'));
        if (rc != 0)
            return rc;
        p += 4;
        if (p < end) {
            if (*p != '+' || p + 1 == end)
                return SZ_E_ARGUMENT;
            p++;
        }
    }
    if (hs->npsk_tokens > SZ_NOISE_MAX_PSKS)
        return SZ_E_ARGUMENT;
    memcpy(hs->name, name, len);
    hs->name_len = len;
    return 0;
}

/* ---- Symmetric state ------------------------------------------------------------------------- */

static void mix_hash(sz_noise_t *hs, const uint8_t *data, size_t len) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, HASHLEN);
    crypto_generichash_update(&st, hs->h, HASHLEN);
    if (len > 0)
        crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, hs->h, HASHLEN);
}

static void mix_key(sz_noise_t *hs, const uint8_t *ikm, size_t len) {
    uint8_t temp_k[HASHLEN];
    hkdf(hs->ck, ikm, len, hs->ck, temp_k, NULL);
    memcpy(hs->k, temp_k, 32);
    hs->has_k = true;
    hs->n = 0;
    sodium_memzero(temp_k, sizeof(temp_k));
}

static void mix_key_and_hash(sz_noise_t *hs, const uint8_t *ikm, size_t len) {
    uint8_t temp_h[HASHLEN], temp_k[HASHLEN];
    hkdf(hs->ck, ikm, len, hs->ck, temp_h, temp_k);
    mix_hash(hs, temp_h, HASHLEN);
    memcpy(hs->k, temp_k, 32);
    hs->has_k = true;
    hs->n = 0;
    sodium_memzero(temp_h, sizeof(temp_h));
    sodium_memzero(temp_k, sizeof(temp_k));
}

/* Writes len + (has_k ? 16 : 0) bytes to out; pt and out must not overlap. */
static int encrypt_and_hash(sz_noise_t *hs, const uint8_t *pt, size_t len, uint8_t *out) {
    size_t out_len = len;
    if (hs->has_k) {
        if (hs->n == UINT64_MAX)
            return SZ_E_NONCE;
        aead_encrypt(hs->k, hs->n, hs->h, HASHLEN, pt, len, out);
        hs->n++;
        out_len += SZ_NOISE_TAG_LEN;
    } else if (len > 0) {
        memcpy(out, pt, len);
    }
    mix_hash(hs, out, out_len);
    return 0;
}

static int decrypt_and_hash(sz_noise_t *hs, const uint8_t *ct, size_t len, uint8_t *out) {
    if (hs->has_k) {
        if (len < SZ_NOISE_TAG_LEN)
            return SZ_E_TRUNCATED;
        if (hs->n == UINT64_MAX)
            return SZ_E_NONCE;
        if (aead_decrypt(hs->k, hs->n, hs->h, HASHLEN, ct, len, out) != 0)
            return SZ_E_HANDSHAKE;
        hs->n++;
    } else if (len > 0) {
        memcpy(out, ct, len);
    }
    mix_hash(hs, ct, len);
    return 0;
}

/* ---- Handshake ------------------------------------------------------------------------------- */

static int fail(sz_noise_t *hs, int err) {
    sz_noise_role_t role = hs->role;
    sodium_memzero(hs, sizeof(*hs));
    hs->role = role;
    hs->state = HS_FAILED;
    return err;
}

int sz_noise_new(sz_noise_t **out, const char *protocol_name, sz_noise_role_t role) {
    if (out == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    if (protocol_name == NULL || (role != SZ_NOISE_INITIATOR && role != SZ_NOISE_RESPONDER))
        return SZ_E_ARGUMENT;
    if (sodium_init() < 0)
        return SZ_E_CRYPTO;
    sz_noise_t *hs = sodium_malloc(sizeof(*hs));
    if (hs == NULL)
        return -ENOMEM;
    memset(hs, 0, sizeof(*hs));
    hs->role = role;
    hs->state = HS_NEW;
    int rc = parse_name(hs, protocol_name);
    if (rc != 0) {
        sodium_free(hs);
        return rc;
    }
    *out = hs;
    return 0;
}

int sz_noise_set_prologue(sz_noise_t *hs, const uint8_t *prologue, size_t len) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    if (len > MAX_PROLOGUE)
        return fail(hs, SZ_E_TOO_LARGE);
    if (len > 0 && prologue == NULL)
        return fail(hs, SZ_E_ARGUMENT);
    if (len > 0)
        memcpy(hs->prologue, prologue, len);
    hs->prologue_len = len;
    return 0;
}

int sz_noise_add_psk(sz_noise_t *hs, const uint8_t psk[static 32]) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    if (hs->npsks >= SZ_NOISE_MAX_PSKS)
        return fail(hs, SZ_E_KEY);
    memcpy(hs->psks[hs->npsks++], psk, 32);
    return 0;
}

int sz_noise_set_local_static(sz_noise_t *hs, const uint8_t sk[static 32]) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    memcpy(hs->s_sk, sk, 32);
    if (crypto_scalarmult_base(hs->s_pk, hs->s_sk) != 0)
        return fail(hs, SZ_E_KEY);
    hs->has_s = true;
    return 0;
}

int sz_noise_set_remote_static(sz_noise_t *hs, const uint8_t pk[static 32]) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    memcpy(hs->rs, pk, 32);
    hs->has_rs = true;
    return 0;
}

int sz_noise_set_ephemeral_for_test(sz_noise_t *hs, const uint8_t sk[static 32]) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    memcpy(hs->e_sk, sk, 32);
    if (crypto_scalarmult_base(hs->e_pk, hs->e_sk) != 0)
        return fail(hs, SZ_E_KEY);
    hs->e_fixed = true;
    return 0;
}

static bool sends_static(const sz_noise_t *hs, sz_noise_role_t who) {
    for (int m = who == SZ_NOISE_INITIATOR ? 0 : 1; m < hs->nmsgs; m += 2)
        for (int t = 0; hs->tokens[m][t] != T_END; t++)
            if (hs->tokens[m][t] == T_S)
                return true;
    return false;
}

int sz_noise_start(sz_noise_t *hs) {
    if (hs->state != HS_NEW)
        return fail(hs, SZ_E_STATE);
    bool me_init = hs->role == SZ_NOISE_INITIATOR;
    bool my_pre = me_init ? hs->pre_i_s : hs->pre_r_s;
    bool their_pre = me_init ? hs->pre_r_s : hs->pre_i_s;
    if (hs->npsks != hs->npsk_tokens)
        return fail(hs, SZ_E_KEY);
    if ((my_pre || sends_static(hs, hs->role)) && !hs->has_s)
        return fail(hs, SZ_E_KEY);
    if (their_pre != hs->has_rs)
        return fail(hs, SZ_E_KEY);

    /* InitializeSymmetric: a name of at most HASHLEN bytes is used padded, else hashed. */
    memset(hs->h, 0, HASHLEN);
    if (hs->name_len <= HASHLEN)
        memcpy(hs->h, hs->name, hs->name_len);
    else
        crypto_generichash(hs->h, HASHLEN, (const uint8_t *)hs->name, hs->name_len, NULL, 0);
    memcpy(hs->ck, hs->h, HASHLEN);
    hs->has_k = false;
    hs->n = 0;
    mix_hash(hs, hs->prologue, hs->prologue_len);
    sodium_memzero(hs->prologue, sizeof(hs->prologue));

    /* Pre-messages: the initiator's keys first, then the responder's. */
    if (hs->pre_i_s)
        mix_hash(hs, me_init ? hs->s_pk : hs->rs, 32);
    if (hs->pre_r_s)
        mix_hash(hs, me_init ? hs->rs : hs->s_pk, 32);

    hs->state = me_init ? HS_WRITE : HS_READ;
    return 0;
}

sz_noise_action_t sz_noise_action(const sz_noise_t *hs) {
    switch (hs->state) {
    case HS_NEW:
        return SZ_NOISE_ACTION_NONE;
    case HS_WRITE:
        return SZ_NOISE_ACTION_WRITE;
    case HS_READ:
        return SZ_NOISE_ACTION_READ;
    case HS_SPLIT:
        return SZ_NOISE_ACTION_SPLIT;
    case HS_DONE:
        return SZ_NOISE_ACTION_DONE;
    case HS_FAILED:
        break;
    }
    return SZ_NOISE_ACTION_FAILED;
}

static int dh(sz_noise_t *hs, const uint8_t sk[32], bool have_sk, const uint8_t pk[32],
              bool have_pk) {
    uint8_t shared[32];
    if (!have_sk || !have_pk)
        return SZ_E_KEY;
    /* libsodium returns -1 when the result is all zero (a low-order peer key). */
    if (crypto_scalarmult(shared, sk, pk) != 0) {
        sodium_memzero(shared, sizeof(shared));
        return SZ_E_CRYPTO;
    }
    mix_key(hs, shared, sizeof(shared));
    sodium_memzero(shared, sizeof(shared));
    return 0;
}

/* The tokens that read and write the same way: the DHs and psk. */
static int mix_token(sz_noise_t *hs, uint8_t tok) {
    bool init = hs->role == SZ_NOISE_INITIATOR;
    switch (tok) {
    case T_EE:
        return dh(hs, hs->e_sk, hs->has_e, hs->re, hs->has_re);
    case T_ES:
        return init ? dh(hs, hs->e_sk, hs->has_e, hs->rs, hs->has_rs)
                    : dh(hs, hs->s_sk, hs->has_s, hs->re, hs->has_re);
    case T_SE:
        return init ? dh(hs, hs->s_sk, hs->has_s, hs->re, hs->has_re)
                    : dh(hs, hs->e_sk, hs->has_e, hs->rs, hs->has_rs);
    case T_SS:
        return dh(hs, hs->s_sk, hs->has_s, hs->rs, hs->has_rs);
    case T_PSK:
        if (hs->psk_next >= hs->npsks)
            return SZ_E_KEY;
        mix_key_and_hash(hs, hs->psks[hs->psk_next++], 32);
        return 0;
    default:
        return SZ_E_STATE;
    }
}

static void next_message(sz_noise_t *hs) {
    hs->msg_index++;
    if (hs->msg_index >= hs->nmsgs)
        hs->state = HS_SPLIT;
    else
        hs->state = hs->state == HS_WRITE ? HS_READ : HS_WRITE;
}

int sz_noise_write_message(sz_noise_t *hs, const uint8_t *payload, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len) {
    if (hs->state != HS_WRITE)
        return fail(hs, SZ_E_STATE);
    if (out == NULL || out_len == NULL || (len > 0 && payload == NULL))
        return fail(hs, SZ_E_ARGUMENT);
    if (len > SZ_NOISE_MAX_MSG)
        return fail(hs, SZ_E_TOO_LARGE);
    size_t pos = 0;
    int rc;
    for (const uint8_t *tok = hs->tokens[hs->msg_index]; *tok != T_END; tok++) {
        switch (*tok) {
        case T_E:
            if (!hs->e_fixed) {
                randombytes_buf(hs->e_sk, 32);
                crypto_scalarmult_base(hs->e_pk, hs->e_sk);
            }
            hs->has_e = true;
            if (cap - pos < 32)
                return fail(hs, SZ_E_ARGUMENT);
            memcpy(out + pos, hs->e_pk, 32);
            pos += 32;
            mix_hash(hs, hs->e_pk, 32);
            if (hs->psk_mode)
                mix_key(hs, hs->e_pk, 32);
            break;
        case T_S: {
            size_t need = 32 + (hs->has_k ? SZ_NOISE_TAG_LEN : 0);
            if (!hs->has_s)
                return fail(hs, SZ_E_KEY);
            if (cap - pos < need)
                return fail(hs, SZ_E_ARGUMENT);
            rc = encrypt_and_hash(hs, hs->s_pk, 32, out + pos);
            if (rc != 0)
                return fail(hs, rc);
            pos += need;
            break;
        }
        default:
            rc = mix_token(hs, *tok);
            if (rc != 0)
                return fail(hs, rc);
        }
    }
    size_t need = len + (hs->has_k ? SZ_NOISE_TAG_LEN : 0);
    if (pos + need > SZ_NOISE_MAX_MSG)
        return fail(hs, SZ_E_TOO_LARGE);
    if (cap - pos < need)
        return fail(hs, SZ_E_ARGUMENT);
    rc = encrypt_and_hash(hs, payload, len, out + pos);
    if (rc != 0)
        return fail(hs, rc);
    *out_len = pos + need;
    next_message(hs);
    return 0;
}

int sz_noise_read_message(sz_noise_t *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                          size_t cap, size_t *payload_len) {
    if (hs->state != HS_READ)
        return fail(hs, SZ_E_STATE);
    if ((msg == NULL && len > 0) || payload_len == NULL || (payload == NULL && cap > 0))
        return fail(hs, SZ_E_ARGUMENT);
    if (len > SZ_NOISE_MAX_MSG)
        return fail(hs, SZ_E_TOO_LARGE);
    size_t pos = 0;
    int rc;
    for (const uint8_t *tok = hs->tokens[hs->msg_index]; *tok != T_END; tok++) {
        switch (*tok) {
        case T_E:
            if (len - pos < 32)
                return fail(hs, SZ_E_TRUNCATED);
            memcpy(hs->re, msg + pos, 32);
            hs->has_re = true;
            pos += 32;
            mix_hash(hs, hs->re, 32);
            if (hs->psk_mode)
                mix_key(hs, hs->re, 32);
            break;
        case T_S: {
            size_t need = 32 + (hs->has_k ? SZ_NOISE_TAG_LEN : 0);
            if (len - pos < need)
                return fail(hs, SZ_E_TRUNCATED);
            rc = decrypt_and_hash(hs, msg + pos, need, hs->rs);
            if (rc != 0)
                return fail(hs, rc);
            hs->has_rs = true;
            pos += need;
            break;
        }
        default:
            rc = mix_token(hs, *tok);
            if (rc == SZ_E_CRYPTO)
                rc = SZ_E_HANDSHAKE;
            if (rc != 0)
                return fail(hs, rc);
        }
    }
    size_t ct_len = len - pos;
    size_t pt_len = ct_len;
    if (hs->has_k) {
        if (ct_len < SZ_NOISE_TAG_LEN)
            return fail(hs, SZ_E_TRUNCATED);
        pt_len -= SZ_NOISE_TAG_LEN;
    }
    if (cap < pt_len)
        return fail(hs, SZ_E_ARGUMENT);
    rc = decrypt_and_hash(hs, msg + pos, ct_len, payload);
    if (rc != 0) {
        if (payload != NULL)
            sodium_memzero(payload, pt_len);
        return fail(hs, rc);
    }
    *payload_len = pt_len;
    next_message(hs);
    return 0;
}

int sz_cipher_new(sz_cipher_t **out, const uint8_t k[static 32]) {
    if (out == NULL)
        return SZ_E_ARGUMENT;
    *out = NULL;
    if (sodium_init() < 0)
        return SZ_E_CRYPTO;
    sz_cipher_t *c = sodium_malloc(sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    memset(c, 0, sizeof(*c));
    memcpy(c->k, k, 32);
    c->n = 0;
    c->rekey_interval = SZ_NOISE_REKEY_INTERVAL;
    c->state = CS_READY;
    *out = c;
    return 0;
}

int sz_noise_split(sz_noise_t *hs, sz_cipher_t **send, sz_cipher_t **recv) {
    if (send == NULL || recv == NULL)
        return fail(hs, SZ_E_ARGUMENT);
    *send = NULL;
    *recv = NULL;
    if (hs->state != HS_SPLIT)
        return fail(hs, SZ_E_STATE);
    uint8_t k1[HASHLEN], k2[HASHLEN];
    sz_cipher_t *tx = NULL, *rx = NULL;
    bool init = hs->role == SZ_NOISE_INITIATOR;
    bool one_way = hs->nmsgs == 1;
    hkdf(hs->ck, NULL, 0, k1, k2, NULL);
    /* k1 keys initiator-to-responder traffic and k2 the other way; one-way patterns drop k2. */
    int rc = sz_cipher_new(init ? &tx : &rx, k1);
    if (rc == 0 && !one_way)
        rc = sz_cipher_new(init ? &rx : &tx, k2);
    sodium_memzero(k1, sizeof(k1));
    sodium_memzero(k2, sizeof(k2));
    if (rc != 0) {
        sz_cipher_free(tx);
        sz_cipher_free(rx);
        return fail(hs, rc);
    }
    *send = tx;
    *recv = rx;

    /* Keep only what the query functions need. */
    uint8_t h[HASHLEN], rs[32];
    bool has_rs = hs->has_rs;
    sz_noise_role_t role = hs->role;
    memcpy(h, hs->h, HASHLEN);
    memcpy(rs, hs->rs, 32);
    sodium_memzero(hs, sizeof(*hs));
    memcpy(hs->h, h, HASHLEN);
    memcpy(hs->rs, rs, 32);
    hs->has_rs = has_rs;
    hs->role = role;
    hs->state = HS_DONE;
    return 0;
}

int sz_noise_handshake_hash(const sz_noise_t *hs, uint8_t h[static 64]) {
    if (hs->state != HS_SPLIT && hs->state != HS_DONE)
        return SZ_E_STATE;
    memcpy(h, hs->h, HASHLEN);
    return 0;
}

int sz_noise_remote_static(const sz_noise_t *hs, uint8_t pk[static 32]) {
    if (hs->state == HS_FAILED || !hs->has_rs)
        return SZ_E_STATE;
    memcpy(pk, hs->rs, 32);
    return 0;
}

sz_noise_role_t sz_noise_role(const sz_noise_t *hs) {
    return hs->role;
}

void sz_noise_free(sz_noise_t *hs) {
    if (hs == NULL)
        return;
    sodium_memzero(hs, sizeof(*hs));
    sodium_free(hs);
}

/* ---- Identities ------------------------------------------------------------------------------ */

int sz_noise_static_from_ed25519(uint8_t x_sk[static 32], uint8_t x_pk[static 32],
                                 const uint8_t ed_sk[static 64]) {
    if (crypto_sign_ed25519_sk_to_curve25519(x_sk, ed_sk) != 0 ||
        crypto_scalarmult_base(x_pk, x_sk) != 0) {
        sodium_memzero(x_sk, 32);
        return SZ_E_KEY;
    }
    /* The public half must match the one embedded in ed_sk, or the secret key is corrupt. */
    uint8_t check[32];
    if (crypto_sign_ed25519_pk_to_curve25519(check, ed_sk + 32) != 0 ||
        sodium_memcmp(check, x_pk, 32) != 0) {
        sodium_memzero(x_sk, 32);
        return SZ_E_KEY;
    }
    return 0;
}

int sz_noise_pk_from_ed25519(uint8_t x_pk[static 32], const uint8_t ed_pk[static 32]) {
    if (crypto_sign_ed25519_pk_to_curve25519(x_pk, ed_pk) != 0)
        return SZ_E_KEY;
    return 0;
}

int sz_noise_check_identity(const uint8_t ed_pk[static 32], const uint8_t noise_static[static 32]) {
    uint8_t x_pk[32];
    if (sz_noise_pk_from_ed25519(x_pk, ed_pk) != 0)
        return SZ_E_HANDSHAKE;
    if (sodium_memcmp(x_pk, noise_static, 32) != 0)
        return SZ_E_HANDSHAKE;
    return 0;
}

int sz_noise_new_samizdat(sz_noise_t **out, sz_noise_role_t role, const uint8_t ed_sk[static 64],
                          const uint8_t network_key[static 32]) {
    sz_noise_t *hs;
    uint8_t x_sk[32];
    int rc = sz_noise_new(&hs, SZ_NOISE_PROTOCOL, role);
    if (rc != 0)
        return rc;
    /* Not sz_noise_static_from_ed25519: its consistency check costs two curve operations per
     * connection, and proto/keyfile already checks the pair when it loads a secret key. */
    if (crypto_sign_ed25519_sk_to_curve25519(x_sk, ed_sk) != 0)
        rc = SZ_E_KEY;
    if (rc == 0)
        rc = sz_noise_set_local_static(hs, x_sk);
    sodium_memzero(x_sk, sizeof(x_sk));
    if (rc == 0)
        rc = sz_noise_set_prologue(hs, (const uint8_t *)SZ_NOISE_PROLOGUE, SZ_NOISE_PROLOGUE_LEN);
    if (rc == 0)
        rc = sz_noise_add_psk(hs, network_key);
    if (rc == 0)
        rc = sz_noise_start(hs);
    if (rc != 0) {
        sz_noise_free(hs);
        return rc;
    }
    *out = hs;
    return 0;
}

int sz_noise_verify_peer(sz_noise_t *hs, const uint8_t *payload, size_t len,
                         uint8_t ed_pk_out[static 32]) {
    if (hs->state == HS_FAILED || hs->state == HS_NEW || !hs->has_rs)
        return fail(hs, SZ_E_STATE);
    if (payload == NULL || len != 32)
        return fail(hs, SZ_E_HANDSHAKE);
    int rc = sz_noise_check_identity(payload, hs->rs);
    if (rc != 0)
        return fail(hs, rc);
    memcpy(ed_pk_out, payload, 32);
    return 0;
}

/* ---- Transport ------------------------------------------------------------------------------- */

static int cipher_fail(sz_cipher_t *c, int err) {
    sodium_memzero(c, sizeof(*c));
    c->state = CS_FAILED;
    c->n = UINT64_MAX;
    return err;
}

/* Counts a message just processed and rekeys on the interval boundary. */
static void cipher_advance(sz_cipher_t *c) {
    c->n++;
    if (c->rekey_interval != 0 && c->n % c->rekey_interval == 0)
        rekey(c->k);
}

int sz_cipher_encrypt(sz_cipher_t *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                      size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    if (c->state != CS_READY)
        return cipher_fail(c, SZ_E_STATE);
    if (out == NULL || out_len == NULL || (pt == NULL && len > 0) || (ad == NULL && ad_len > 0))
        return cipher_fail(c, SZ_E_ARGUMENT);
    if (len > SZ_NOISE_MAX_PLAINTEXT)
        return cipher_fail(c, SZ_E_TOO_LARGE);
    if (cap < len + SZ_NOISE_TAG_LEN)
        return cipher_fail(c, SZ_E_ARGUMENT);
    if (c->n == UINT64_MAX)
        return cipher_fail(c, SZ_E_NONCE);
    aead_encrypt(c->k, c->n, ad, ad_len, pt, len, out);
    *out_len = len + SZ_NOISE_TAG_LEN;
    cipher_advance(c);
    return 0;
}

int sz_cipher_decrypt(sz_cipher_t *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                      size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    if (c->state != CS_READY)
        return cipher_fail(c, SZ_E_STATE);
    if (out == NULL || out_len == NULL || ct == NULL || (ad == NULL && ad_len > 0))
        return cipher_fail(c, SZ_E_ARGUMENT);
    if (len < SZ_NOISE_TAG_LEN)
        return cipher_fail(c, SZ_E_TRUNCATED);
    if (len > SZ_NOISE_MAX_MSG)
        return cipher_fail(c, SZ_E_TOO_LARGE);
    if (cap < len - SZ_NOISE_TAG_LEN)
        return cipher_fail(c, SZ_E_ARGUMENT);
    if (c->n == UINT64_MAX)
        return cipher_fail(c, SZ_E_NONCE);
    if (aead_decrypt(c->k, c->n, ad, ad_len, ct, len, out) != 0)
        return cipher_fail(c, SZ_E_DECRYPT);
    *out_len = len - SZ_NOISE_TAG_LEN;
    cipher_advance(c);
    return 0;
}

int sz_cipher_rekey(sz_cipher_t *c) {
    if (c->state != CS_READY)
        return cipher_fail(c, SZ_E_STATE);
    rekey(c->k);
    return 0;
}

int sz_cipher_set_rekey_interval(sz_cipher_t *c, uint64_t interval) {
    if (c->state != CS_READY)
        return cipher_fail(c, SZ_E_STATE);
    c->rekey_interval = interval;
    return 0;
}

uint64_t sz_cipher_nonce(const sz_cipher_t *c) {
    return c->state == CS_READY ? c->n : UINT64_MAX;
}

int sz_cipher_set_nonce_for_test(sz_cipher_t *c, uint64_t nonce) {
    if (c->state != CS_READY)
        return cipher_fail(c, SZ_E_STATE);
    c->n = nonce;
    return 0;
}

void sz_cipher_free(sz_cipher_t *c) {
    if (c == NULL)
        return;
    sodium_memzero(c, sizeof(*c));
    sodium_free(c);
}
