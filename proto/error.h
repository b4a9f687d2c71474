/* Error codes shared by every samizdat module.
 *
 * Functions return int: 0 is success, a negative value is an error. System errors are negative
 * errno values (-ENOMEM, -EIO, ...); our own codes run from -1000 down and are listed once, here.
 * sz_strerror() turns either kind into a sentence for people; sz_errname() gives a stable
 * identifier for machines (conformance vectors, JSON output, logs). */
#ifndef SZ_ERROR_H
#define SZ_ERROR_H

/* XX(name, value, message). Append new codes at the end; never renumber. */
#define SZ_ERRNO_MAP(XX)                                                                           \
    XX(MALFORMED, -1000, "malformed input")                                                        \
    XX(TRUNCATED, -1001, "input is truncated")                                                     \
    XX(TRAILING, -1002, "unexpected bytes after the end")                                          \
    XX(MAGIC, -1003, "not a samizdat record (bad magic)")                                          \
    XX(VERSION, -1004, "unsupported format version")                                               \
    XX(KIND, -1005, "unknown record kind")                                                         \
    XX(FLAGS, -1006, "unknown or invalid flags")                                                   \
    XX(TOO_LARGE, -1007, "size exceeds the limit")                                                 \
    XX(PARENTS, -1008, "parent hashes are not valid (count, order or duplicates)")                 \
    XX(RECORD_ID, -1009, "record id does not match the parents")                                   \
    XX(SIGNATURE, -1010, "signature does not verify")                                              \
    XX(SCHEMA, -1011, "body does not match the schema")                                            \
    XX(UTF8, -1012, "text is not valid UTF-8")                                                     \
    XX(JSON, -1013, "body is not valid JSON")                                                      \
    XX(PASSPHRASE, -1014, "wrong passphrase")                                                      \
    XX(KEYFILE, -1015, "key file is corrupted or not a samizdat key")                              \
    XX(KEY, -1016, "key is not valid")                                                             \
    XX(NOT_FOUND, -1017, "not found")                                                              \
    XX(AMBIGUOUS, -1018, "id prefix matches more than one record")                                 \
    XX(EXISTS, -1019, "already exists")                                                            \
    XX(CRYPTO, -1020, "cryptographic operation failed")                                            \
    XX(NO_SPACE, -1021, "no space left for the archive")                                           \
    XX(CORRUPT, -1022, "stored data is corrupted")                                                 \
    XX(DENIED, -1023, "not permitted by this node's policy")                                       \
    XX(PROTOCOL, -1024, "protocol violation by the peer")                                          \
    XX(HANDSHAKE, -1025, "handshake failed (wrong network key or peer key?)")                      \
    XX(DECRYPT, -1026, "message failed authentication")                                            \
    XX(STATE, -1027, "operation not valid in the current state")                                   \
    XX(NONCE, -1028, "nonce space exhausted")                                                      \
    XX(PROOF, -1029, "proof does not verify")                                                      \
    XX(CONFIG, -1030, "configuration is not valid")                                                \
    XX(STORE, -1031, "storage engine error")                                                       \
    XX(PARENT_MISSING, -1032, "a parent version is not known")                                     \
    XX(SEALED, -1033, "record is sealed")                                                          \
    XX(RETRACTED, -1034, "record has been retracted")                                              \
    XX(REVOKED, -1035, "author key has been revoked")                                              \
    XX(TIMEOUT, -1036, "timed out")                                                                \
    XX(ARGUMENT, -1037, "invalid argument")                                                        \
    XX(FORMAT, -1038, "data format on disk is not supported")                                      \
    XX(UPGRADE, -1039, "peer speaks an older protocol version; upgrade needed")

enum {
#define SZ__ERR_ENUM(name, value, msg) SZ_E_##name = (value),
    SZ_ERRNO_MAP(SZ__ERR_ENUM)
#undef SZ__ERR_ENUM
};

/* Returns a static sentence describing err (ours or a negative errno). Never NULL. */
const char *sz_strerror(int err);

/* Returns a static identifier such as "TRUNCATED" or "ENOMEM" for err. Never NULL. */
const char *sz_errname(int err);

#endif
