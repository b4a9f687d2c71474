/* Tests for proto/noise: the cacophony conformance vectors (every pattern, both sides, transport
 * messages included), samizdat's XXpsk3 handshake with Ed25519-derived keys, and every failure
 * path: wrong psk, tampering, replay, truncation, low-order keys, nonce exhaustion, rekey. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "encoding.h"
#include "error.h"
#include "noise.h"

/* ---- helpers ------------------------------------------------------------------------------- */

/* Decodes a hex field of v into a malloc'd buffer (caller frees); *len gets its length. */
static uint8_t *hex_field(json_t *v, const char *key, size_t *len) {
    json_t *f = json_object_get(v, key);
    if (f == NULL)
        return NULL;
    const char *text = json_string_value(f);
    assert_non_null(text);
    size_t n = strlen(text) / 2;
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(sz_hex_decode(buf, n, text), 0);
    *len = n;
    return buf;
}

static void configure(sz_noise_t *hs, json_t *v, const char *side) {
    char key[64];
    size_t len;
    uint8_t *buf;

    snprintf(key, sizeof(key), "%s_prologue", side);
    buf = hex_field(v, key, &len);
    if (buf != NULL)
        assert_int_equal(sz_noise_set_prologue(hs, buf, len), 0);
    free(buf);

    snprintf(key, sizeof(key), "%s_psks", side);
    json_t *psks = json_object_get(v, key);
    size_t i;
    json_t *p;
    json_array_foreach(psks, i, p) {
        uint8_t psk[32];
        assert_int_equal(sz_hex_decode(psk, 32, json_string_value(p)), 0);
        assert_int_equal(sz_noise_add_psk(hs, psk), 0);
    }

    snprintf(key, sizeof(key), "%s_static", side);
    buf = hex_field(v, key, &len);
    if (buf != NULL) {
        assert_int_equal(len, 32);
        assert_int_equal(sz_noise_set_local_static(hs, buf), 0);
    }
    free(buf);

    snprintf(key, sizeof(key), "%s_remote_static", side);
    buf = hex_field(v, key, &len);
    if (buf != NULL) {
        assert_int_equal(len, 32);
        assert_int_equal(sz_noise_set_remote_static(hs, buf), 0);
    }
    free(buf);

    snprintf(key, sizeof(key), "%s_ephemeral", side);
    buf = hex_field(v, key, &len);
    if (buf != NULL) {
        assert_int_equal(len, 32);
        assert_int_equal(sz_noise_set_ephemeral_for_test(hs, buf), 0);
    }
    free(buf);
}

static void run_vector(json_t *v) {
    const char *name = json_string_value(json_object_get(v, "protocol_name"));
    assert_non_null(name);
    sz_noise_t *init = NULL, *resp = NULL;
    assert_int_equal(sz_noise_new(&init, name, SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_new(&resp, name, SZ_NOISE_RESPONDER), 0);
    configure(init, v, "init");
    configure(resp, v, "resp");
    assert_int_equal(sz_noise_start(init), 0);
    assert_int_equal(sz_noise_start(resp), 0);

    size_t hh_len;
    uint8_t *hh = hex_field(v, "handshake_hash", &hh_len);
    assert_non_null(hh);
    assert_int_equal(hh_len, 64);

    sz_cipher_t *isend = NULL, *irecv = NULL, *rsend = NULL, *rrecv = NULL;
    bool one_way = false;
    size_t i;
    json_t *m;
    static uint8_t out[SZ_NOISE_MAX_MSG], pt[SZ_NOISE_MAX_MSG];
    json_array_foreach(json_object_get(v, "messages"), i, m) {
        size_t plen, clen, out_len = 0, pt_len = 0;
        uint8_t *payload = hex_field(m, "payload", &plen);
        uint8_t *ct = hex_field(m, "ciphertext", &clen);
        assert_non_null(payload);
        assert_non_null(ct);
        /* Messages alternate, starting with the initiator; one-way patterns only send forward. */
        bool from_init = one_way || i % 2 == 0;
        sz_noise_t *w = from_init ? init : resp, *r = from_init ? resp : init;

        if (sz_noise_action(w) == SZ_NOISE_ACTION_WRITE) {
            assert_int_equal(sz_noise_action(r), SZ_NOISE_ACTION_READ);
            assert_int_equal(sz_noise_write_message(w, payload, plen, out, sizeof(out), &out_len),
                             0);
            assert_int_equal(out_len, clen);
            assert_memory_equal(out, ct, clen);
            assert_int_equal(sz_noise_read_message(r, ct, clen, pt, sizeof(pt), &pt_len), 0);
            assert_int_equal(pt_len, plen);
            if (plen > 0)
                assert_memory_equal(pt, payload, plen);
            if (sz_noise_action(init) == SZ_NOISE_ACTION_SPLIT) {
                assert_int_equal(sz_noise_action(resp), SZ_NOISE_ACTION_SPLIT);
                uint8_t h1[64], h2[64];
                assert_int_equal(sz_noise_handshake_hash(init, h1), 0);
                assert_int_equal(sz_noise_handshake_hash(resp, h2), 0);
                assert_memory_equal(h1, hh, 64);
                assert_memory_equal(h2, hh, 64);
                assert_int_equal(sz_noise_split(init, &isend, &irecv), 0);
                assert_int_equal(sz_noise_split(resp, &rsend, &rrecv), 0);
                one_way = irecv == NULL;
                if (one_way)
                    assert_null(rsend);
                assert_non_null(isend);
                assert_non_null(rrecv);
            }
        } else {
            assert_int_equal(sz_noise_action(w), SZ_NOISE_ACTION_DONE);
            sz_cipher_t *tx = from_init ? isend : rsend, *rx = from_init ? rrecv : irecv;
            assert_non_null(tx);
            assert_non_null(rx);
            assert_int_equal(
                sz_cipher_encrypt(tx, NULL, 0, payload, plen, out, sizeof(out), &out_len), 0);
            assert_int_equal(out_len, clen);
            assert_memory_equal(out, ct, clen);
            assert_int_equal(sz_cipher_decrypt(rx, NULL, 0, ct, clen, pt, sizeof(pt), &pt_len), 0);
            assert_int_equal(pt_len, plen);
            if (plen > 0)
                assert_memory_equal(pt, payload, plen);
        }
        free(payload);
        free(ct);
    }
    /* Every vector finishes its handshake and then sends transport messages. */
    assert_int_equal(sz_noise_action(init), SZ_NOISE_ACTION_DONE);
    assert_int_equal(sz_noise_action(resp), SZ_NOISE_ACTION_DONE);
    assert_true(sz_cipher_nonce(isend) > 0);
    free(hh);
    sz_cipher_free(isend);
    sz_cipher_free(irecv);
    sz_cipher_free(rsend);
    sz_cipher_free(rrecv);
    sz_noise_free(init);
    sz_noise_free(resp);
}

static void test_vectors(void **state) {
    (void)state;
    const char *src = getenv("SZ_SOURCE_DIR");
    assert_non_null(src);
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/vectors/noise/cacophony-25519-ChaChaPoly-BLAKE2b.json",
             src);
    json_error_t err;
    json_t *root = json_load_file(path, 0, &err);
    if (root == NULL)
        fail_msg("cannot load %s: %s", path, err.text);
    json_t *vectors = json_object_get(root, "vectors");
    assert_true(json_is_array(vectors));
    size_t i;
    json_t *v;
    size_t n = 0, psk = 0, deferred = 0;
    json_array_foreach(vectors, i, v) {
        const char *name = json_string_value(json_object_get(v, "protocol_name"));
        run_vector(v);
        n++;
        psk += strstr(name, "psk") != NULL;
        deferred += strchr(name, '1') != NULL;
    }
    assert_int_equal(n, 59);
    assert_int_equal(psk, 21);
    assert_true(deferred >= 23);
    json_decref(root);
}

/* ---- HMAC-BLAKE2b ---------------------------------------------------------------------------- */

/* Expected values were computed once, independently of this code, with Python 3's standard
 * library: hmac.new(key, data, hashlib.blake2b).hexdigest(), which is RFC 2104 over BLAKE2b-512
 * with its 128-byte block. */
static void test_hmac_blake2b(void **state) {
    (void)state;
    struct {
        size_t key_len, data_len;
        const char *hex;
    } cases[] = {
        {64, 8,
         "271136b469aa4274de9bb2b34f53dfbe8124527ee47cc56ddb011410df028cbf11c231f56323cc4d47ecd855"
         "b879efd471519c217a53d7e820e24d29c713a7b6"},
        {200, 43,
         "ad81b469e5a0beecad38eb25c7b288073b7153ee5ed38f2d74b2548e4bfe9c18211661042ba652f4631317eb"
         "74a76b8415fb154731e3212649024cbebe2da0d1"},
        {0, 0,
         "198cd2006f66ff83fbbd913f78aca2251caf4f19fe9475aade8cf2091b99a68466775177424f58286886cbae"
         "8229644cec747237d4b721735485e17372fdf59c"},
        {3, 300,
         "7cd01b1757df5cace32cb253c6d005b823c307896c31c1d96721dd1d48c0c51686e2769e07a4ed52b44265e4"
         "161dec5facf8fbe6f32eeea8da7decabd6cb7104"},
    };
    uint8_t key[200], data[300], want[64], got[64];
    /* case 0: key 00..3f, data "samizdat"; case 1: key i*7 mod 256, the fox; case 2: empty;
     * case 3: key "key", 300 zero bytes. */
    for (size_t c = 0; c < 4; c++) {
        memset(data, 0, sizeof(data));
        for (size_t i = 0; i < sizeof(key); i++)
            key[i] = c == 0 ? (uint8_t)i : (uint8_t)(i * 7);
        if (c == 0)
            memcpy(data, "samizdat", 8);
        if (c == 1)
            memcpy(data, "The quick brown fox jumps over the lazy dog", 43);
        if (c == 3)
            memcpy(key, "key", 3);
        assert_int_equal(sz_hex_decode(want, 64, cases[c].hex), 0);
        sz_noise_hmac_blake2b(got, key, cases[c].key_len, data, cases[c].data_len);
        assert_memory_equal(got, want, 64);
    }
    /* It must differ from libsodium's keyed BLAKE2b, which is a different construction. */
    crypto_generichash(want, 64, data, 8, key, 64);
    sz_noise_hmac_blake2b(got, key, 64, data, 8);
    assert_memory_not_equal(got, want, 64);
}

/* ---- samizdat's handshake -------------------------------------------------------------------- */

typedef struct party_s {
    uint8_t ed_pk[32], ed_sk[64];
    sz_noise_t *hs;
    sz_cipher_t *send, *recv;
    uint8_t peer[32];
} party_t;

static void party_init(party_t *p, sz_noise_role_t role, const uint8_t netkey[32]) {
    memset(p, 0, sizeof(*p));
    crypto_sign_keypair(p->ed_pk, p->ed_sk);
    assert_int_equal(sz_noise_new_samizdat(&p->hs, role, p->ed_sk, netkey), 0);
}

static void party_free(party_t *p) {
    sz_noise_free(p->hs);
    sz_cipher_free(p->send);
    sz_cipher_free(p->recv);
    p->hs = NULL;
    p->send = p->recv = NULL;
}

/* The three messages of a handshake between a and b, recorded for replay tests. */
typedef struct transcript_s {
    uint8_t msg[3][256];
    size_t len[3];
} transcript_t;

static int msg_write(party_t *p, int index, transcript_t *t) {
    const uint8_t *payload = index == 0 ? NULL : p->ed_pk;
    size_t plen = index == 0 ? 0 : 32;
    return sz_noise_write_message(p->hs, payload, plen, t->msg[index], sizeof(t->msg[index]),
                                  &t->len[index]);
}

static int msg_read(party_t *p, int index, const transcript_t *t) {
    uint8_t payload[256];
    size_t plen;
    int rc =
        sz_noise_read_message(p->hs, t->msg[index], t->len[index], payload, sizeof(payload), &plen);
    if (rc != 0)
        return rc;
    if (index == 0) {
        assert_int_equal(plen, 0);
        return 0;
    }
    return sz_noise_verify_peer(p->hs, payload, plen, p->peer);
}

static void handshake(party_t *a, party_t *b, transcript_t *t) {
    assert_int_equal(msg_write(a, 0, t), 0);
    assert_int_equal(t->len[0], 32 + SZ_NOISE_TAG_LEN);
    assert_int_equal(msg_read(b, 0, t), 0);
    assert_int_equal(msg_write(b, 1, t), 0);
    assert_int_equal(msg_read(a, 1, t), 0);
    assert_int_equal(msg_write(a, 2, t), 0);
    assert_int_equal(msg_read(b, 2, t), 0);
    assert_int_equal(sz_noise_action(a->hs), SZ_NOISE_ACTION_SPLIT);
    assert_int_equal(sz_noise_action(b->hs), SZ_NOISE_ACTION_SPLIT);
    assert_int_equal(sz_noise_split(a->hs, &a->send, &a->recv), 0);
    assert_int_equal(sz_noise_split(b->hs, &b->send, &b->recv), 0);
}

static void transfer(party_t *from, party_t *to, const char *text) {
    uint8_t ct[256], pt[256];
    size_t clen, plen, len = strlen(text);
    assert_int_equal(
        sz_cipher_encrypt(from->send, NULL, 0, (const uint8_t *)text, len, ct, sizeof(ct), &clen),
        0);
    assert_int_equal(clen, len + SZ_NOISE_TAG_LEN);
    assert_int_equal(sz_cipher_decrypt(to->recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen), 0);
    assert_int_equal(plen, len);
    assert_memory_equal(pt, text, len);
}

static void test_samizdat_handshake(void **state) {
    (void)state;
    uint8_t netkey[32];
    party_t a, b;
    transcript_t t;
    randombytes_buf(netkey, sizeof(netkey));
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(sz_noise_action(a.hs), SZ_NOISE_ACTION_WRITE);
    assert_int_equal(sz_noise_action(b.hs), SZ_NOISE_ACTION_READ);
    handshake(&a, &b, &t);

    /* Each side learned the other's Ed25519 identity and matching X25519 static key. */
    assert_memory_equal(a.peer, b.ed_pk, 32);
    assert_memory_equal(b.peer, a.ed_pk, 32);
    uint8_t rs[32], want[32], x_sk[32];
    assert_int_equal(sz_noise_remote_static(a.hs, rs), 0);
    assert_int_equal(sz_noise_static_from_ed25519(x_sk, want, b.ed_sk), 0);
    assert_memory_equal(rs, want, 32);
    assert_int_equal(sz_noise_pk_from_ed25519(x_sk, b.ed_pk), 0);
    assert_memory_equal(x_sk, want, 32);
    assert_int_equal(sz_noise_check_identity(b.ed_pk, rs), 0);
    assert_int_equal(sz_noise_check_identity(a.ed_pk, rs), SZ_E_HANDSHAKE);

    uint8_t h1[64], h2[64];
    assert_int_equal(sz_noise_handshake_hash(a.hs, h1), 0);
    assert_int_equal(sz_noise_handshake_hash(b.hs, h2), 0);
    assert_memory_equal(h1, h2, 64);
    assert_int_equal(sz_noise_action(a.hs), SZ_NOISE_ACTION_DONE);
    assert_int_equal(sz_noise_role(b.hs), SZ_NOISE_RESPONDER);

    /* Message 1 is the ephemeral key and the tag of an empty payload (psk mode mixes e into the
     * key, so even message 1 is authenticated against the prologue); messages 2 and 3 carry
     * static key, identity and tags: e(32) + s(32+16) + payload(32+16) and s + payload. */
    assert_int_equal(t.len[0], 32 + 16);
    assert_int_equal(t.len[1], 32 + 48 + 48);
    assert_int_equal(t.len[2], 48 + 48);

    transfer(&a, &b, "hello from the initiator");
    transfer(&b, &a, "hello from the responder");
    transfer(&a, &b, "");

    /* In-place encryption and decryption, as sz_msg_seal uses them. */
    uint8_t buf[64];
    size_t n, m;
    memcpy(buf, "in place", 8);
    assert_int_equal(sz_cipher_encrypt(b.send, NULL, 0, buf, 8, buf, sizeof(buf), &n), 0);
    assert_memory_not_equal(buf, "in place", 8);
    assert_int_equal(sz_cipher_decrypt(a.recv, NULL, 0, buf, n, buf, sizeof(buf), &m), 0);
    assert_int_equal(m, 8);
    assert_memory_equal(buf, "in place", 8);
    party_free(&a);
    party_free(&b);
}

static void test_wrong_psk(void **state) {
    (void)state;
    uint8_t k1[32], k2[32];
    party_t a, b;
    transcript_t t;
    randombytes_buf(k1, 32);
    memcpy(k2, k1, 32);
    k2[31] ^= 1;
    party_init(&a, SZ_NOISE_INITIATOR, k1);
    party_init(&b, SZ_NOISE_RESPONDER, k2);
    assert_int_equal(msg_write(&a, 0, &t), 0);
    assert_int_equal(msg_read(&b, 0, &t), 0);
    assert_int_equal(msg_write(&b, 1, &t), 0);
    assert_int_equal(msg_read(&a, 1, &t), 0);
    assert_int_equal(msg_write(&a, 2, &t), 0);
    /* psk3 mixes the network key in the last message: the responder rejects it. */
    assert_int_equal(msg_read(&b, 2, &t), SZ_E_HANDSHAKE);
    assert_int_equal(sz_noise_action(b.hs), SZ_NOISE_ACTION_FAILED);
    uint8_t rs[32], h[64];
    assert_int_equal(sz_noise_remote_static(b.hs, rs), SZ_E_STATE);
    assert_int_equal(sz_noise_handshake_hash(b.hs, h), SZ_E_STATE);
    sz_cipher_t *s = NULL, *r = NULL;
    assert_int_equal(sz_noise_split(b.hs, &s, &r), SZ_E_STATE);
    assert_null(s);
    assert_null(r);
    party_free(&a);
    party_free(&b);
}

static void test_wrong_prologue(void **state) {
    (void)state;
    /* A peer speaking another wire generation names a different prologue: in psk mode even
     * message 1 carries a tag over the handshake hash, so the responder rejects it at once;
     * and the other way round the initiator rejects message 2. */
    uint8_t netkey[32], x_sk[32], x_pk[32], buf[256], pt[256];
    size_t len, plen;
    party_t a;
    randombytes_buf(netkey, 32);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    uint8_t ed_pk[32], ed_sk[64];
    crypto_sign_keypair(ed_pk, ed_sk);
    sz_noise_t *b = NULL;
    assert_int_equal(sz_noise_new(&b, SZ_NOISE_PROTOCOL, SZ_NOISE_RESPONDER), 0);
    assert_int_equal(sz_noise_static_from_ed25519(x_sk, x_pk, ed_sk), 0);
    assert_int_equal(sz_noise_set_local_static(b, x_sk), 0);
    assert_int_equal(sz_noise_set_prologue(b, (const uint8_t *)"samizdat/2", 10), 0);
    assert_int_equal(sz_noise_add_psk(b, netkey), 0);
    assert_int_equal(sz_noise_start(b), 0);
    assert_int_equal(sz_noise_write_message(a.hs, NULL, 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(sz_noise_read_message(b, buf, len, pt, sizeof(pt), &plen), SZ_E_HANDSHAKE);
    assert_int_equal(sz_noise_action(b), SZ_NOISE_ACTION_FAILED);
    sz_noise_free(b);
    party_free(&a);

    party_t c;
    party_init(&c, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(sz_noise_new(&b, SZ_NOISE_PROTOCOL, SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_set_local_static(b, x_sk), 0);
    assert_int_equal(sz_noise_set_prologue(b, (const uint8_t *)"samizdat/2", 10), 0);
    assert_int_equal(sz_noise_add_psk(b, netkey), 0);
    assert_int_equal(sz_noise_start(b), 0);
    assert_int_equal(sz_noise_write_message(b, NULL, 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(sz_noise_read_message(c.hs, buf, len, pt, sizeof(pt), &plen), SZ_E_HANDSHAKE);
    sz_noise_free(b);
    party_free(&c);
}

static void test_tampered(void **state) {
    (void)state;
    uint8_t netkey[32];
    randombytes_buf(netkey, 32);
    /* Flip one bit in each position of messages 2 and 3: every flip must be caught. */
    for (int index = 1; index <= 2; index++) {
        for (size_t pos = 0; pos < 96; pos += 7) {
            party_t a, b;
            transcript_t t;
            party_init(&a, SZ_NOISE_INITIATOR, netkey);
            party_init(&b, SZ_NOISE_RESPONDER, netkey);
            assert_int_equal(msg_write(&a, 0, &t), 0);
            assert_int_equal(msg_read(&b, 0, &t), 0);
            assert_int_equal(msg_write(&b, 1, &t), 0);
            if (index == 1) {
                t.msg[1][pos] ^= 0x10;
                assert_int_equal(msg_read(&a, 1, &t), SZ_E_HANDSHAKE);
                assert_int_equal(sz_noise_action(a.hs), SZ_NOISE_ACTION_FAILED);
            } else {
                assert_int_equal(msg_read(&a, 1, &t), 0);
                assert_int_equal(msg_write(&a, 2, &t), 0);
                t.msg[2][pos] ^= 0x10;
                assert_int_equal(msg_read(&b, 2, &t), SZ_E_HANDSHAKE);
                assert_int_equal(sz_noise_action(b.hs), SZ_NOISE_ACTION_FAILED);
            }
            party_free(&a);
            party_free(&b);
        }
    }

    /* Message 1: a changed ephemeral key or tag fails its tag (psk mode). */
    party_t a, b;
    transcript_t t;
    for (size_t pos = 5; pos < 48; pos += 40) {
        party_init(&a, SZ_NOISE_INITIATOR, netkey);
        party_init(&b, SZ_NOISE_RESPONDER, netkey);
        assert_int_equal(msg_write(&a, 0, &t), 0);
        t.msg[0][pos] ^= 0x01;
        assert_int_equal(msg_read(&b, 0, &t), SZ_E_HANDSHAKE);
        party_free(&a);
        party_free(&b);
    }

    /* Transport: a flipped bit fails authentication and kills the cipher. */
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    handshake(&a, &b, &t);
    uint8_t ct[64], pt[64];
    size_t clen, plen;
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"abc", 3, ct, 64, &clen),
                     0);
    ct[1] ^= 0x80;
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), SZ_E_DECRYPT);
    assert_int_equal(sz_cipher_nonce(b.recv), UINT64_MAX);
    ct[1] ^= 0x80;
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), SZ_E_STATE);
    party_free(&a);
    party_free(&b);
}

static void test_replay(void **state) {
    (void)state;
    uint8_t netkey[32];
    party_t a, b, c;
    transcript_t t, t2;
    randombytes_buf(netkey, 32);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    handshake(&a, &b, &t);

    /* A recorded handshake replayed to a fresh responder with the same identity: message 1 is
     * accepted (it is only an ephemeral key), but message 3 belongs to another session. */
    memcpy(c.ed_pk, b.ed_pk, 32);
    memcpy(c.ed_sk, b.ed_sk, 64);
    c.send = c.recv = NULL;
    assert_int_equal(sz_noise_new_samizdat(&c.hs, SZ_NOISE_RESPONDER, c.ed_sk, netkey), 0);
    assert_int_equal(msg_read(&c, 0, &t), 0);
    assert_int_equal(msg_write(&c, 1, &t2), 0);
    assert_int_equal(msg_read(&c, 2, &t), SZ_E_HANDSHAKE);
    assert_int_equal(sz_noise_action(c.hs), SZ_NOISE_ACTION_FAILED);
    party_free(&c);

    /* A message replayed within the same handshake arrives in the wrong state. */
    c.send = c.recv = NULL;
    assert_int_equal(sz_noise_new_samizdat(&c.hs, SZ_NOISE_RESPONDER, c.ed_sk, netkey), 0);
    assert_int_equal(msg_read(&c, 0, &t), 0);
    assert_int_equal(msg_read(&c, 0, &t), SZ_E_STATE);
    assert_int_equal(sz_noise_action(c.hs), SZ_NOISE_ACTION_FAILED);
    party_free(&c);

    /* A transport message replayed: the receiver's nonce has moved on. */
    uint8_t ct[64], pt[64];
    size_t clen, plen;
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"x", 1, ct, 64, &clen), 0);
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), 0);
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), SZ_E_DECRYPT);
    party_free(&a);
    party_free(&b);
}

static void test_identity_mismatch(void **state) {
    (void)state;
    uint8_t netkey[32], other_pk[32], other_sk[64], payload[256];
    size_t plen;
    party_t a, b;
    transcript_t t;
    randombytes_buf(netkey, 32);
    crypto_sign_keypair(other_pk, other_sk);

    /* The responder claims someone else's Ed25519 key. */
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(msg_write(&a, 0, &t), 0);
    assert_int_equal(msg_read(&b, 0, &t), 0);
    assert_int_equal(sz_noise_write_message(b.hs, other_pk, 32, t.msg[1], 256, &t.len[1]), 0);
    assert_int_equal(msg_read(&a, 1, &t), SZ_E_HANDSHAKE);
    assert_int_equal(sz_noise_action(a.hs), SZ_NOISE_ACTION_FAILED);
    party_free(&a);
    party_free(&b);

    /* Payload of the wrong length, and an identity payload checked before any static key. */
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(msg_write(&a, 0, &t), 0);
    assert_int_equal(sz_noise_read_message(b.hs, t.msg[0], t.len[0], payload, 256, &plen), 0);
    assert_int_equal(sz_noise_verify_peer(b.hs, payload, plen, other_pk), SZ_E_STATE);
    party_free(&b);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(msg_read(&b, 0, &t), 0);
    assert_int_equal(sz_noise_write_message(b.hs, b.ed_pk, 31, t.msg[1], 256, &t.len[1]), 0);
    assert_int_equal(sz_noise_read_message(a.hs, t.msg[1], t.len[1], payload, 256, &plen), 0);
    assert_int_equal(plen, 31);
    assert_int_equal(sz_noise_verify_peer(a.hs, payload, plen, other_pk), SZ_E_HANDSHAKE);
    party_free(&a);
    party_free(&b);

    /* Not a point on the curve: conversion fails. */
    uint8_t bad[32], x[32];
    memset(bad, 0xff, sizeof(bad));
    assert_int_equal(sz_noise_pk_from_ed25519(x, bad), SZ_E_KEY);
    assert_int_equal(sz_noise_check_identity(bad, x), SZ_E_HANDSHAKE);
    /* A secret key whose embedded public half was altered is rejected. */
    uint8_t x_sk[32];
    other_sk[40] ^= 1;
    assert_int_equal(sz_noise_static_from_ed25519(x_sk, x, other_sk), SZ_E_KEY);
}

static void test_truncated_and_low_order(void **state) {
    (void)state;
    uint8_t netkey[32], payload[256];
    size_t plen;
    party_t a, b;
    transcript_t t;
    randombytes_buf(netkey, 32);

    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    uint8_t short_msg[47] = {0};
    assert_int_equal(sz_noise_read_message(b.hs, short_msg, 31, payload, 256, &plen),
                     SZ_E_TRUNCATED);
    party_free(&b);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    assert_int_equal(sz_noise_read_message(b.hs, short_msg, 47, payload, 256, &plen),
                     SZ_E_TRUNCATED);
    assert_int_equal(sz_noise_action(b.hs), SZ_NOISE_ACTION_FAILED);
    party_free(&b);

    /* Message 2 cut short inside the static key, and inside the payload tag. */
    for (size_t cut = 40; cut <= 120; cut += 80) {
        party_init(&a, SZ_NOISE_INITIATOR, netkey);
        party_init(&b, SZ_NOISE_RESPONDER, netkey);
        assert_int_equal(msg_write(&a, 0, &t), 0);
        assert_int_equal(msg_read(&b, 0, &t), 0);
        assert_int_equal(msg_write(&b, 1, &t), 0);
        int rc = sz_noise_read_message(a.hs, t.msg[1], cut, payload, 256, &plen);
        assert_true(rc == SZ_E_TRUNCATED || rc == SZ_E_HANDSHAKE);
        assert_int_equal(rc, cut == 40 ? SZ_E_TRUNCATED : SZ_E_HANDSHAKE);
        party_free(&a);
        party_free(&b);
    }

    /* An all-zero (low-order) ephemeral key makes the responder's DH output zero. NN has no
     * tag on message 1, so the key reaches the DH (with psk3 the tag would stop it first). */
    sz_noise_t *nn = NULL;
    uint8_t zero_e[32] = {0};
    assert_int_equal(sz_noise_new(&nn, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_RESPONDER), 0);
    assert_int_equal(sz_noise_start(nn), 0);
    assert_int_equal(sz_noise_read_message(nn, zero_e, 32, payload, 256, &plen), 0);
    assert_int_equal(sz_noise_write_message(nn, NULL, 0, t.msg[1], 256, &t.len[1]), SZ_E_CRYPTO);
    assert_int_equal(sz_noise_action(nn), SZ_NOISE_ACTION_FAILED);
    sz_noise_free(nn);
    /* And the initiator side: a zero ephemeral key in message 2 fails the ee DH on reading. */
    assert_int_equal(sz_noise_new(&nn, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_start(nn), 0);
    assert_int_equal(sz_noise_write_message(nn, NULL, 0, t.msg[0], 256, &t.len[0]), 0);
    assert_int_equal(sz_noise_read_message(nn, zero_e, 32, payload, 256, &plen), SZ_E_HANDSHAKE);
    sz_noise_free(nn);

    /* Oversized payloads and too-small output buffers. */
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    static uint8_t big[SZ_NOISE_MAX_MSG + 64];
    size_t len;
    assert_int_equal(
        sz_noise_write_message(a.hs, big, SZ_NOISE_MAX_MSG - 47, big + 1, sizeof(big) - 1, &len),
        SZ_E_TOO_LARGE);
    party_free(&a);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    assert_int_equal(sz_noise_write_message(a.hs, NULL, 0, big, 47, &len), SZ_E_ARGUMENT);
    party_free(&a);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    static uint8_t maxpay[SZ_NOISE_MAX_MSG - 48];
    assert_int_equal(sz_noise_write_message(a.hs, maxpay, sizeof(maxpay), big, sizeof(big), &len),
                     0);
    assert_int_equal(len, SZ_NOISE_MAX_MSG);
    party_free(&a);
}

static void test_configuration_errors(void **state) {
    (void)state;
    sz_noise_t *hs = NULL;
    const char *bad[] = {
        "Noise_XX_25519_AESGCM_SHA256",
        "Noise_XX_448_ChaChaPoly_BLAKE2b",
        "Noise_QQ_25519_ChaChaPoly_BLAKE2b",
        "Noise_XXpsk_25519_ChaChaPoly_BLAKE2b",
        "Noise_XXpsk4_25519_ChaChaPoly_BLAKE2b",
        "Noise_XXpsk3+_25519_ChaChaPoly_BLAKE2b",
        "Noise_XXfallback_25519_ChaChaPoly_BLAKE2b",
        "Noise__25519_ChaChaPoly_BLAKE2b",
        "Noise_XX_25519_ChaChaPoly_BLAKE2bX",
        "XX_25519_ChaChaPoly_BLAKE2b",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sz_noise_new(&hs, bad[i], SZ_NOISE_INITIATOR), SZ_E_ARGUMENT);
        assert_null(hs);
    }
    assert_int_equal(sz_noise_new(&hs, SZ_NOISE_PROTOCOL, 7), SZ_E_ARGUMENT);
    assert_int_equal(
        sz_noise_new(&hs, "Noise_NNpsk0+psk2_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_RESPONDER), 0);
    sz_noise_free(hs);

    /* Missing psk, missing static key, missing or superfluous remote static key. */
    uint8_t key[32];
    randombytes_buf(key, 32);
    assert_int_equal(sz_noise_new(&hs, SZ_NOISE_PROTOCOL, SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_set_local_static(hs, key), 0);
    assert_int_equal(sz_noise_start(hs), SZ_E_KEY);
    assert_int_equal(sz_noise_action(hs), SZ_NOISE_ACTION_FAILED);
    sz_noise_free(hs);
    assert_int_equal(sz_noise_new(&hs, SZ_NOISE_PROTOCOL, SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_add_psk(hs, key), 0);
    assert_int_equal(sz_noise_start(hs), SZ_E_KEY);
    sz_noise_free(hs);
    assert_int_equal(sz_noise_new(&hs, "Noise_NK_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_start(hs), SZ_E_KEY);
    sz_noise_free(hs);
    assert_int_equal(sz_noise_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_set_remote_static(hs, key), 0);
    assert_int_equal(sz_noise_start(hs), SZ_E_KEY);
    sz_noise_free(hs);

    /* State guards: a call out of turn fails the handshake and every later call. */
    uint8_t buf[256];
    size_t len;
    assert_int_equal(sz_noise_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_RESPONDER), 0);
    assert_int_equal(sz_noise_write_message(hs, NULL, 0, buf, sizeof(buf), &len), SZ_E_STATE);
    assert_int_equal(sz_noise_start(hs), SZ_E_STATE);
    sz_noise_free(hs);
    assert_int_equal(sz_noise_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_RESPONDER), 0);
    assert_int_equal(sz_noise_start(hs), 0);
    assert_int_equal(sz_noise_add_psk(hs, key), SZ_E_STATE);
    assert_int_equal(sz_noise_read_message(hs, buf, 32, buf, sizeof(buf), &len), SZ_E_STATE);
    sz_noise_free(hs);
    assert_int_equal(sz_noise_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_start(hs), 0);
    assert_int_equal(sz_noise_write_message(hs, NULL, 0, buf, sizeof(buf), &len), 0);
    assert_int_equal(sz_noise_write_message(hs, NULL, 0, buf, sizeof(buf), &len), SZ_E_STATE);
    sz_noise_free(hs);

    static uint8_t prologue[1025];
    assert_int_equal(sz_noise_new(&hs, "Noise_NN_25519_ChaChaPoly_BLAKE2b", SZ_NOISE_INITIATOR), 0);
    assert_int_equal(sz_noise_set_prologue(hs, prologue, sizeof(prologue)), SZ_E_TOO_LARGE);
    sz_noise_free(hs);
    sz_noise_free(NULL);
    sz_cipher_free(NULL);
}

static void test_nonce_exhaustion(void **state) {
    (void)state;
    uint8_t netkey[32], ct[64], pt[64];
    size_t clen, plen;
    party_t a, b;
    transcript_t t;
    randombytes_buf(netkey, 32);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    handshake(&a, &b, &t);
    assert_int_equal(sz_cipher_set_nonce_for_test(a.send, UINT64_MAX - 1), 0);
    assert_int_equal(sz_cipher_set_nonce_for_test(b.recv, UINT64_MAX - 1), 0);
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"last", 4, ct, 64, &clen),
                     0);
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), 0);
    assert_memory_equal(pt, "last", 4);
    assert_int_equal(sz_cipher_nonce(a.send), UINT64_MAX);
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"more", 4, ct, 64, &clen),
                     SZ_E_NONCE);
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"more", 4, ct, 64, &clen),
                     SZ_E_STATE);
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 64, &plen), SZ_E_NONCE);
    assert_int_equal(sz_cipher_rekey(b.recv), SZ_E_STATE);
    party_free(&a);
    party_free(&b);
}

static void test_rekey(void **state) {
    (void)state;
    uint8_t netkey[32], ct[128], ct2[128], pt[128];
    size_t clen, clen2, plen;
    party_t a, b;
    transcript_t t;
    randombytes_buf(netkey, 32);
    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    handshake(&a, &b, &t);

    /* Explicit rekey on both sides keeps them in step; it changes the key, not the nonce. */
    transfer(&a, &b, "before");
    uint64_t n = sz_cipher_nonce(a.send);
    assert_int_equal(sz_cipher_rekey(a.send), 0);
    assert_int_equal(sz_cipher_rekey(b.recv), 0);
    assert_int_equal(sz_cipher_nonce(a.send), n);
    transfer(&a, &b, "after");
    transfer(&b, &a, "other direction unaffected");

    /* Rekey on one side only: the next message fails. */
    assert_int_equal(sz_cipher_rekey(b.send), 0);
    assert_int_equal(sz_cipher_encrypt(b.send, NULL, 0, (const uint8_t *)"x", 1, ct, 128, &clen),
                     0);
    assert_int_equal(sz_cipher_decrypt(a.recv, NULL, 0, ct, clen, pt, 128, &plen), SZ_E_DECRYPT);

    /* Automatic rekey every 3 messages on both sides: 10 messages pass. With the interval only
     * on the sender, the 4th message (first after the rekey) fails. */
    assert_int_equal(sz_cipher_set_rekey_interval(a.send, 3), 0);
    assert_int_equal(sz_cipher_set_rekey_interval(b.recv, 3), 0);
    for (int i = 0; i < 10; i++)
        transfer(&a, &b, "tick");
    party_free(&a);
    party_free(&b);

    party_init(&a, SZ_NOISE_INITIATOR, netkey);
    party_init(&b, SZ_NOISE_RESPONDER, netkey);
    handshake(&a, &b, &t);
    assert_int_equal(sz_cipher_set_rekey_interval(a.send, 3), 0);
    assert_int_equal(sz_cipher_set_rekey_interval(b.recv, 0), 0);
    for (int i = 0; i < 3; i++)
        transfer(&a, &b, "tick");
    assert_int_equal(sz_cipher_encrypt(a.send, NULL, 0, (const uint8_t *)"x", 1, ct, 128, &clen),
                     0);
    assert_int_equal(sz_cipher_decrypt(b.recv, NULL, 0, ct, clen, pt, 128, &plen), SZ_E_DECRYPT);
    party_free(&a);
    party_free(&b);

    /* REKEY(k) checked against libsodium directly: a cipher made from a known key, rekeyed,
     * must encrypt like k' = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes). */
    uint8_t k[32], k2[48], zeros[32] = {0}, npub[12] = {0};
    unsigned long long l;
    sz_cipher_t *c = NULL;
    randombytes_buf(k, 32);
    memset(npub + 4, 0xff, 8);
    crypto_aead_chacha20poly1305_ietf_encrypt(k2, &l, zeros, 32, NULL, 0, NULL, npub, k);
    assert_int_equal(l, 48);
    memset(npub, 0, sizeof(npub));
    npub[4] = 5; /* nonce 5, little-endian after four zero bytes */
    crypto_aead_chacha20poly1305_ietf_encrypt(ct2, &l, (const uint8_t *)"same", 4,
                                              (const uint8_t *)"ad", 2, NULL, npub, k2);
    clen2 = (size_t)l;
    assert_int_equal(sz_cipher_new(&c, k), 0);
    assert_int_equal(sz_cipher_set_nonce_for_test(c, 5), 0);
    assert_int_equal(sz_cipher_rekey(c), 0);
    assert_int_equal(sz_cipher_nonce(c), 5);
    assert_int_equal(
        sz_cipher_encrypt(c, (const uint8_t *)"ad", 2, (const uint8_t *)"same", 4, ct, 128, &clen),
        0);
    assert_int_equal(clen, clen2);
    assert_memory_equal(ct, ct2, clen);
    sz_cipher_free(c);

    /* And without the rekey it would have differed: the nonce encoding is checked too. */
    assert_int_equal(sz_cipher_new(&c, k), 0);
    assert_int_equal(sz_cipher_set_nonce_for_test(c, 5), 0);
    assert_int_equal(
        sz_cipher_encrypt(c, (const uint8_t *)"ad", 2, (const uint8_t *)"same", 4, ct, 128, &clen),
        0);
    crypto_aead_chacha20poly1305_ietf_encrypt(ct2, &l, (const uint8_t *)"same", 4,
                                              (const uint8_t *)"ad", 2, NULL, npub, k);
    assert_memory_equal(ct, ct2, clen);
    sz_cipher_free(c);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_hmac_blake2b),
        cmocka_unit_test(test_samizdat_handshake),
        cmocka_unit_test(test_wrong_psk),
        cmocka_unit_test(test_wrong_prologue),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_identity_mismatch),
        cmocka_unit_test(test_truncated_and_low_order),
        cmocka_unit_test(test_configuration_errors),
        cmocka_unit_test(test_nonce_exhaustion),
        cmocka_unit_test(test_rekey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
