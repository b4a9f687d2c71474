/* The Noise protocol framework (revision 34), restricted to 25519, ChaChaPoly and BLAKE2b.
 *
 * proto/WIRE.md is the normative description of how samizdat uses it; this header is the C
 * contract. Handshake patterns are data: a table of token lists run by one loop for writing and
 * one for reading, so every pattern of the Noise specification (one-way, interactive, deferred,
 * with psk modifiers) is supported by name. Samizdat itself only ever runs SZ_NOISE_PROTOCOL.
 *
 * Two object kinds:
 *   sz_noise_t   a handshake in progress (opaque, secret state in sodium_malloc'd memory);
 *   sz_cipher_t  one direction of a finished session (opaque, also sodium_malloc'd).
 *
 * Each object has a state enum that guards every entry point. Any error, including a call in
 * the wrong state, moves the object to FAILED and wipes its keys; every later call then returns
 * SZ_E_STATE. A failed object must still be freed. No function here does I/O or prints.
 *
 * Typical handshake loop (see tests/unit/test_noise.c for a complete one):
 *   sz_noise_new_samizdat(&hs, SZ_NOISE_INITIATOR, my_ed25519_sk, network_key);
 *   while (sz_noise_action(hs) == SZ_NOISE_ACTION_WRITE or _READ) write or read a message;
 *   sz_noise_split(hs, &send, &recv);  then sz_noise_free(hs). */
#ifndef SZ_NOISE_H
#define SZ_NOISE_H

#include <stddef.h>
#include <stdint.h>

/* The only protocol samizdat speaks, and the prologue naming wire generation 1 (WIRE.md). The
 * prologue is the 10 ASCII bytes "samizdat/1" with no terminator. */
#define SZ_NOISE_PROTOCOL "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
#define SZ_NOISE_PROLOGUE "samizdat/1"
#define SZ_NOISE_PROLOGUE_LEN 10

#define SZ_NOISE_KEY_LEN 32    /* X25519 keys, cipher keys and psks */
#define SZ_NOISE_HASH_LEN 64   /* BLAKE2b output: handshake hash and chaining key */
#define SZ_NOISE_TAG_LEN 16    /* Poly1305 tag added to every encrypted message */
#define SZ_NOISE_MAX_MSG 65535 /* largest Noise message, handshake or transport */
#define SZ_NOISE_MAX_PLAINTEXT (SZ_NOISE_MAX_MSG - SZ_NOISE_TAG_LEN)
#define SZ_NOISE_MAX_PSKS 4

/* Transport ciphers rekey themselves (Noise section 4.2 Rekey) after every this many messages
 * in their direction, that is when the nonce they just used plus one is a multiple of it. Both
 * sides count the same messages, so they rekey at the same point without signalling. */
#define SZ_NOISE_REKEY_INTERVAL (UINT64_C(1) << 16)

typedef enum sz_noise_role_e {
    SZ_NOISE_INITIATOR = 1,
    SZ_NOISE_RESPONDER = 2,
} sz_noise_role_t;

/* What a handshake expects next, from sz_noise_action(). */
typedef enum sz_noise_action_e {
    SZ_NOISE_ACTION_NONE = 0,  /* not started yet: configure it, then sz_noise_start() */
    SZ_NOISE_ACTION_WRITE = 1, /* call sz_noise_write_message() */
    SZ_NOISE_ACTION_READ = 2,  /* call sz_noise_read_message() */
    SZ_NOISE_ACTION_SPLIT = 3, /* the handshake is complete: call sz_noise_split() */
    SZ_NOISE_ACTION_DONE = 4,  /* split already; only the query functions work */
    SZ_NOISE_ACTION_FAILED = 5 /* an error happened; keys are wiped; free it */
} sz_noise_action_t;

typedef struct sz_noise_s sz_noise_t;
typedef struct sz_cipher_s sz_cipher_t;

/* ---- Handshake ---------------------------------------------------------------------------- */

/* Creates a handshake for the full protocol name given, such as
 * "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" or "Noise_NNpsk0+psk2_25519_ChaChaPoly_BLAKE2b", in the
 * given role. Returns 0 and a new object in *out (the caller owns it; free with sz_noise_free),
 * SZ_E_ARGUMENT for an unknown pattern, modifier, DH, cipher or hash name, or -ENOMEM. */
int sz_noise_new(sz_noise_t **out, const char *protocol_name, sz_noise_role_t role);

/* Configuration, valid only before sz_noise_start(). Each copies what it is given (borrowed).
 * The prologue is at most 1024 bytes (SZ_E_TOO_LARGE). psks are used by the psk tokens in the
 * order they were added. The local static key is an X25519 secret key; its public half is
 * computed. The remote static key is the peer's X25519 public key, needed only by patterns
 * where it is known in advance (for example NK, IK). */
int sz_noise_set_prologue(sz_noise_t *hs, const uint8_t *prologue, size_t len);
int sz_noise_add_psk(sz_noise_t *hs, const uint8_t psk[static 32]);
int sz_noise_set_local_static(sz_noise_t *hs, const uint8_t sk[static 32]);
int sz_noise_set_remote_static(sz_noise_t *hs, const uint8_t pk[static 32]);

/* Test hook: fixes the ephemeral secret key instead of generating a fresh one. Only the
 * conformance vectors use it; never call it in production, since reusing an ephemeral key
 * destroys forward secrecy. */
int sz_noise_set_ephemeral_for_test(sz_noise_t *hs, const uint8_t sk[static 32]);

/* Checks that every key the pattern needs was given (exactly as many psks as psk tokens, a local
 * static key if the pattern sends or pre-shares one, a remote one if it is pre-shared), then
 * runs Initialize: the protocol name, the prologue and the pre-message keys go into the
 * handshake hash. Returns 0, or SZ_E_KEY when a needed key is missing or a psk is superfluous. */
int sz_noise_start(sz_noise_t *hs);

/* Returns what the handshake expects next. Never fails. */
sz_noise_action_t sz_noise_action(const sz_noise_t *hs);

/* Writes the next handshake message carrying payload (borrowed, may be NULL when len is 0) into
 * out (borrowed, cap bytes) and sets *out_len. The message is at most SZ_NOISE_MAX_MSG bytes;
 * a larger one is SZ_E_TOO_LARGE, an out buffer too small is SZ_E_ARGUMENT. A payload written
 * before any key is mixed in (the first message of XX, for example) travels in clear; in
 * XXpsk3 message 1 already has a key (from e), so its payload gets a tag but is not secret.
 * payload and out must not overlap.
 * Returns 0, SZ_E_STATE, SZ_E_CRYPTO (a DH gave the all-zero output) or the codes above. */
int sz_noise_write_message(sz_noise_t *hs, const uint8_t *payload, size_t len, uint8_t *out,
                           size_t cap, size_t *out_len);

/* Reads the next handshake message msg (borrowed, len bytes) and writes its payload into
 * payload (borrowed, cap bytes; cap >= len is always enough; must not overlap msg), setting
 * *payload_len.
 * Returns 0; SZ_E_STATE; SZ_E_TRUNCATED if msg is shorter than the keys it must hold;
 * SZ_E_TOO_LARGE if it exceeds SZ_NOISE_MAX_MSG; SZ_E_HANDSHAKE if a key or the payload fails
 * authentication (wrong network key, tampering, replay into another session) or a DH gives the
 * all-zero output; SZ_E_ARGUMENT if payload is too small. */
int sz_noise_read_message(sz_noise_t *hs, const uint8_t *msg, size_t len, uint8_t *payload,
                          size_t cap, size_t *payload_len);

/* Finishes a complete handshake: returns two new cipher states, the one this side encrypts with
 * in *send and the one it decrypts with in *recv (the caller owns both; free with
 * sz_cipher_free). For one-way patterns the responder gets *send = NULL and the initiator
 * *recv = NULL. Afterwards hs holds only the handshake hash and the remote static key.
 * Returns 0, SZ_E_STATE or -ENOMEM. */
int sz_noise_split(sz_noise_t *hs, sz_cipher_t **send, sz_cipher_t **recv);

/* Copies the handshake hash h (channel binding) into h. Valid once the handshake is complete
 * (SPLIT or DONE); otherwise SZ_E_STATE (without failing hs). */
int sz_noise_handshake_hash(const sz_noise_t *hs, uint8_t h[static 64]);

/* Copies the peer's X25519 static public key into pk. Valid as soon as it is known (received or
 * pre-shared) and until hs is freed, whatever the state except FAILED; otherwise SZ_E_STATE
 * (without failing hs). */
int sz_noise_remote_static(const sz_noise_t *hs, uint8_t pk[static 32]);

/* Returns this side's role. */
sz_noise_role_t sz_noise_role(const sz_noise_t *hs);

/* Wipes and frees hs (owned). NULL is ignored. */
void sz_noise_free(sz_noise_t *hs);

/* ---- Samizdat's handshake and identities (WIRE.md, "Identity") ---------------------------- */

/* Derives the X25519 static key pair from an Ed25519 secret key (libsodium form, 64 bytes:
 * seed || public key). x_sk is secret: the caller wipes it. Returns 0 or SZ_E_KEY. */
int sz_noise_static_from_ed25519(uint8_t x_sk[static 32], uint8_t x_pk[static 32],
                                 const uint8_t ed_sk[static 64]);

/* Converts an Ed25519 public key to the X25519 public key of the same identity. Returns 0, or
 * SZ_E_KEY if ed_pk is not a valid point of prime order. */
int sz_noise_pk_from_ed25519(uint8_t x_pk[static 32], const uint8_t ed_pk[static 32]);

/* Returns 0 if ed_pk converts to exactly noise_static (compared in constant time), otherwise
 * SZ_E_HANDSHAKE. This is how a peer's claimed Ed25519 identity is bound to the Noise static
 * key it proved possession of. */
int sz_noise_check_identity(const uint8_t ed_pk[static 32], const uint8_t noise_static[static 32]);

/* Creates a started handshake for SZ_NOISE_PROTOCOL with prologue SZ_NOISE_PROLOGUE, the
 * network key as psk and the static key derived from ed_sk (borrowed, 64 bytes). Returns 0 and
 * *out (owned by the caller), or the codes of sz_noise_new and sz_noise_static_from_ed25519. */
int sz_noise_new_samizdat(sz_noise_t **out, sz_noise_role_t role, const uint8_t ed_sk[static 64],
                          const uint8_t network_key[static 32]);

/* Checks the identity payload of samizdat's message 2 (read by the initiator) or message 3 (read
 * by the responder): it must be exactly the sender's 32-byte Ed25519 public key, and that key
 * must convert to the Noise static key just received in the same message. On success copies the
 * key into ed_pk_out and returns 0. Otherwise returns SZ_E_HANDSHAKE (SZ_E_STATE if no remote
 * static key is known yet) and moves hs to FAILED. */
int sz_noise_verify_peer(sz_noise_t *hs, const uint8_t *payload, size_t len,
                         uint8_t ed_pk_out[static 32]);

/* ---- Transport ---------------------------------------------------------------------------- */

/* Encrypts pt (borrowed, len <= SZ_NOISE_MAX_PLAINTEXT) with associated data ad (may be NULL
 * when ad_len is 0) into out (borrowed, cap >= len + SZ_NOISE_TAG_LEN; out may equal pt) and
 * sets *out_len. Each call uses the next nonce. The nonce 2^64-1 is reserved: an encryption that
 * would use it fails with SZ_E_NONCE. Rekeys automatically after every rekey-interval messages.
 * Returns 0, SZ_E_STATE, SZ_E_NONCE, SZ_E_TOO_LARGE or SZ_E_ARGUMENT; errors fail the cipher. */
int sz_cipher_encrypt(sz_cipher_t *c, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                      size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Decrypts ct (borrowed, SZ_NOISE_TAG_LEN <= len <= SZ_NOISE_MAX_MSG) into out (borrowed,
 * cap >= len - SZ_NOISE_TAG_LEN; out may equal ct) and sets *out_len. Returns 0, SZ_E_DECRYPT
 * if authentication fails (tampering, reordering, replay or a wrong key), SZ_E_TRUNCATED,
 * SZ_E_TOO_LARGE, SZ_E_NONCE, SZ_E_STATE or SZ_E_ARGUMENT; errors fail the cipher. */
int sz_cipher_decrypt(sz_cipher_t *c, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                      size_t len, uint8_t *out, size_t cap, size_t *out_len);

/* Creates a cipher state from a raw 32-byte key k (borrowed) with nonce 0 and the default
 * rekey interval, for tests and benchmarks; sessions get theirs from sz_noise_split. Returns 0
 * and *out (owned by the caller), or -ENOMEM. */
int sz_cipher_new(sz_cipher_t **out, const uint8_t k[static 32]);

/* Rekey() of Noise section 4.2: k = the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero
 * bytes). The nonce is not reset. Both sides must rekey after the same message: the sender after
 * encrypting it, the receiver after decrypting it. Returns 0 or SZ_E_STATE. */
int sz_cipher_rekey(sz_cipher_t *c);

/* Sets the automatic rekey interval in messages (0 disables it). New ciphers from
 * sz_noise_split use SZ_NOISE_REKEY_INTERVAL. Both sides must use the same value. */
int sz_cipher_set_rekey_interval(sz_cipher_t *c, uint64_t interval);

/* Returns the next nonce the cipher will use, or UINT64_MAX once it has failed. */
uint64_t sz_cipher_nonce(const sz_cipher_t *c);

/* Test hook: sets the next nonce, to test exhaustion without 2^64 messages. */
int sz_cipher_set_nonce_for_test(sz_cipher_t *c, uint64_t nonce);

/* Wipes and frees c (owned). NULL is ignored. */
void sz_cipher_free(sz_cipher_t *c);

/* ---- Primitives, exposed for tests -------------------------------------------------------- */

/* HMAC-BLAKE2b (RFC 2104 with a 128-byte block and a 64-byte output) built on unkeyed
 * crypto_generichash. key and data are borrowed; key may be any length. */
void sz_noise_hmac_blake2b(uint8_t out[static 64], const uint8_t *key, size_t key_len,
                           const uint8_t *data, size_t data_len);

#endif
