/* Invites and node addresses: the one line of text that lets a client or a new node reach a node
 * of an archive.
 *
 * An invite is `sz1,HOST:PORT,NODEKEY,NETKEY`:
 *   - `sz1` names the invite format (version 1);
 *   - HOST is an IPv4 address in dotted form, a DNS name, or an IPv6 address in brackets
 *     (`[::1]:7433`); PORT is 1..65535 in decimal without leading zeros or sign;
 *   - NODEKEY is the node's Ed25519 public key and NETKEY the archive's 32-byte network key (the
 *     Noise psk), both in the 44-character standard base64 text form of proto/encoding.h.
 * One line: a single trailing "\n" or "\r\n" is accepted, nothing else around or inside it.
 *
 * The network key is a secret: whoever holds an invite can complete a handshake with the archive's
 * nodes. sz_invite_parse() writes it into caller memory (sz_invite_t.network_key), and the caller
 * wipes that memory with sodium_memzero() (or sz_invite_wipe()) once done, on every path. The
 * formatted invite text holds the same secret and must be wiped the same way.
 *
 * The module is pure: no I/O, no printing. It never resolves names. */
#ifndef SZ_INVITE_H
#define SZ_INVITE_H

#include <stddef.h>
#include <stdint.h>

#define SZ_INVITE_PREFIX "sz1"
#define SZ_HOST_MAX 253 /* longest HOST text: a DNS name's limit; IPv6 text fits (max 45) */
#define SZ_HOST_BUF 256 /* buffer for a host name and its NUL */
/* Longest HOST:PORT text: [host]:65535 */
#define SZ_HOSTPORT_MAX (SZ_HOST_MAX + 2 + 1 + 5)
/* Longest invite text, without a newline: prefix, commas, host:port and two keys. */
#define SZ_INVITE_MAX (3 + 1 + SZ_HOSTPORT_MAX + 1 + 44 + 1 + 44)
#define SZ_INVITE_BUF (SZ_INVITE_MAX + 1)

/* A parsed invite. host holds the bare host: an IPv6 address without its brackets. network_key is
 * a secret the caller wipes. */
typedef struct sz_invite_s {
    char host[SZ_HOST_BUF];
    uint16_t port;
    uint8_t node_key[32];
    uint8_t network_key[32]; /* secret */
} sz_invite_t;

/* Writes host:port as text into out (borrowed, cap bytes), bracketing an IPv6 host. Returns the
 * length written (without the NUL), SZ_E_ARGUMENT when host is not a valid HOST or port is 0, or
 * SZ_E_TOO_LARGE when cap is too small. */
int sz_hostport_format(char *out, size_t cap, const char *host, uint16_t port);

/* Parses bare `HOST:PORT` (text borrowed, NUL-terminated; surrounding whitespace is not allowed,
 * one trailing newline is) into host (SZ_HOST_BUF bytes, IPv6 without brackets) and *port. When
 * why is not NULL it receives a static sentence saying what is wrong. Returns 0, SZ_E_TOO_LARGE
 * (text or host too long), SZ_E_MALFORMED (no colon, bad host syntax, unbalanced brackets) or
 * SZ_E_ARGUMENT (port missing, not decimal or outside 1..65535). */
int sz_hostport_parse(const char *text, char host[static SZ_HOST_BUF], uint16_t *port,
                      const char **why);

/* Writes the invite text for a node (host borrowed; node_pk and netkey borrowed, 32 bytes) into
 * out (borrowed, cap bytes; SZ_INVITE_BUF is always enough), without a newline. The text holds the
 * network key: the caller wipes out when done. Returns the length written, SZ_E_ARGUMENT for an
 * invalid host or port 0, or SZ_E_TOO_LARGE when cap is too small (out is then wiped). */
int sz_invite_format(char *out, size_t cap, const char *host, uint16_t port,
                     const uint8_t node_pk[static 32], const uint8_t netkey[static 32]);

/* Parses an invite (text borrowed, NUL-terminated) into *out (borrowed; on failure it is wiped).
 * Strict: exactly four comma-separated fields, one line. Returns 0 or one of these distinct
 * errors, each with its own sentence from sz_invite_strerror():
 *   SZ_E_TOO_LARGE  the text, or its host, is longer than allowed;
 *   SZ_E_VERSION    it starts `szN,` with N other than 1 (an invite from a newer release);
 *   SZ_E_MALFORMED  not an invite at all: wrong prefix, field count, a second line, control
 *                   characters or spaces;
 *   SZ_E_ARGUMENT   the address is not HOST:PORT (bad host syntax, port outside 1..65535);
 *   SZ_E_KEY        the node key is not a 44-character base64 public key;
 *   SZ_E_CRYPTO     the network key is not 44 characters of base64 for 32 bytes.
 * The caller wipes out->network_key after use. */
int sz_invite_parse(const char *text, sz_invite_t *out);

/* As sz_invite_parse(), and when why is not NULL it receives a static sentence naming the part of
 * the invite that is wrong (more precise than sz_invite_strerror()). */
int sz_invite_parse_why(const char *text, sz_invite_t *out, const char **why);

/* Returns a static sentence for an error returned by sz_invite_parse(), phrased for invites
 * ("the invite's network key is not valid ..."); other codes fall back to sz_strerror(). */
const char *sz_invite_strerror(int err);

/* Wipes an invite (in particular its network key). NULL is allowed. */
void sz_invite_wipe(sz_invite_t *inv);

/* Returns 1 if text starts like an invite ("sz" followed by a digit and a comma), 0 otherwise, so
 * a caller can tell an invite from a bare HOST:PORT before parsing either. */
int sz_invite_looks_like(const char *text);

#endif
