/* Invites and HOST:PORT text (see invite.h). */
#include "invite.h"

#include "encoding.h"
#include "error.h"

#include <arpa/inet.h>
#include <sodium.h>
#include <string.h>

static int is_digit(char c) {
    return c >= '0' && c <= '9';
}

static int is_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Dotted IPv4 with exactly four parts of 0..255 and no leading zeros, so that every address has
 * one spelling (inet_aton's octal and short forms are refused). */
static int valid_ipv4(const char *s, size_t n) {
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return 0;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < n && is_digit(s[i]) && i - start < 4)
            v = v * 10 + (unsigned)(s[i++] - '0');
        size_t digits = i - start;
        if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[start] == '0'))
            return 0;
    }
    return i == n;
}

/* A DNS name: dot-separated labels of 1..63 letters, digits and hyphens, no hyphen at either end
 * of a label, no trailing dot. */
static int valid_dns(const char *s, size_t n) {
    if (n == 0 || n > SZ_HOST_MAX)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
        } else if (is_alnum(c) || c == '-') {
            if (c == '-' && label == 0)
                return 0;
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0 && s[n - 1] != '-';
}

static int valid_ipv6(const char *s, size_t n) {
    char buf[64];
    unsigned char addr[16];
    if (n == 0 || n >= sizeof(buf))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F') ||
              s[i] == ':' || s[i] == '.'))
            return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1;
}

static int all_digits_and_dots(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i]) && s[i] != '.')
            return 0;
    return 1;
}

/* Classifies a bare host (no brackets): 4 IPv4, 6 IPv6, 1 DNS name, 0 invalid. */
static int host_kind(const char *s, size_t n) {
    if (memchr(s, ':', n) != NULL)
        return valid_ipv6(s, n) ? 6 : 0;
    /* All digits and dots is meant as an IPv4 address, never as a name. */
    if (all_digits_and_dots(s, n))
        return valid_ipv4(s, n) ? 4 : 0;
    return valid_dns(s, n) ? 1 : 0;
}

static int parse_port(const char *s, size_t n, uint16_t *port) {
    if (n == 0 || n > 5 || s[0] == '0')
        return SZ_E_ARGUMENT;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return SZ_E_ARGUMENT;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return SZ_E_ARGUMENT;
    *port = (uint16_t)v;
    return 0;
}

static void set_why(const char **why, const char *text) {
    if (why != NULL)
        *why = text;
}

/* Strips one trailing "\n" or "\r\n" from the length n of s. */
static size_t strip_newline(const char *s, size_t n) {
    if (n > 0 && s[n - 1] == '\n') {
        n--;
        if (n > 0 && s[n - 1] == '\r')
            n--;
    }
    return n;
}

/* Parses HOST:PORT held in s[0..n) (no newline). */
static int hostport_parse_n(const char *s, size_t n, char host[static SZ_HOST_BUF], uint16_t *port,
                            const char **why) {
    if (n > SZ_HOSTPORT_MAX) {
        set_why(why, "the address is longer than any HOST:PORT can be");
        return SZ_E_TOO_LARGE;
    }
    const char *h;
    size_t hn;
    const char *rest;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL) {
            set_why(why, "the address has '[' without a closing ']'");
            return SZ_E_MALFORMED;
        }
        h = s + 1;
        hn = (size_t)(close - h);
        rest = close + 1;
        if (hn == 0 || !valid_ipv6(h, hn)) {
            set_why(why, "the address in brackets is not an IPv6 address");
            return SZ_E_MALFORMED;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon == NULL) {
            set_why(why, "the address has no ':PORT' (expected HOST:PORT)");
            return SZ_E_MALFORMED;
        }
        h = s;
        hn = (size_t)(colon - s);
        rest = colon;
        if (memchr(colon + 1, ':', n - hn - 1) != NULL) {
            set_why(why, "an IPv6 address must be written in brackets, as [::1]:7433");
            return SZ_E_MALFORMED;
        }
        if (hn == 0) {
            set_why(why, "the address has no host before ':'");
            return SZ_E_MALFORMED;
        }
        if (hn > SZ_HOST_MAX) {
            set_why(why, "the host name is longer than 253 characters");
            return SZ_E_TOO_LARGE;
        }
        if (host_kind(h, hn) == 0) {
            set_why(why, "the host is not an IPv4 address, a DNS name or a bracketed IPv6 address");
            return SZ_E_MALFORMED;
        }
    }
    size_t rn = n - (size_t)(rest - s);
    if (rn == 0 || rest[0] != ':') {
        set_why(why, "the address has no ':PORT' after the host");
        return SZ_E_MALFORMED;
    }
    if (parse_port(rest + 1, rn - 1, port) != 0) {
        set_why(why, "the port is not a number from 1 to 65535");
        return SZ_E_ARGUMENT;
    }
    memcpy(host, h, hn);
    host[hn] = '\0';
    return 0;
}

int sz_hostport_parse(const char *text, char host[static SZ_HOST_BUF], uint16_t *port,
                      const char **why) {
    size_t n = strnlen(text, SZ_HOSTPORT_MAX + 3);
    n = strip_newline(text, n);
    for (size_t i = 0; i < n && i <= SZ_HOSTPORT_MAX; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f) {
            set_why(why, "the address holds spaces or control characters");
            return SZ_E_MALFORMED;
        }
    return hostport_parse_n(text, n, host, port, why);
}

int sz_hostport_format(char *out, size_t cap, const char *host, uint16_t port) {
    size_t hn = strnlen(host, SZ_HOST_BUF);
    if (hn >= 2 && host[0] == '[' && host[hn - 1] == ']') {
        host++;
        hn -= 2;
    }
    int kind = hn > SZ_HOST_MAX ? 0 : host_kind(host, hn);
    if (kind == 0 || port == 0)
        return SZ_E_ARGUMENT;
    char tmp[SZ_HOSTPORT_MAX + 1];
    size_t len = 0;
    if (kind == 6)
        tmp[len++] = '[';
    memcpy(tmp + len, host, hn);
    len += hn;
    if (kind == 6)
        tmp[len++] = ']';
    tmp[len++] = ':';
    char digits[6];
    int nd = 0;
    for (unsigned v = port; v > 0; v /= 10)
        digits[nd++] = (char)('0' + v % 10);
    while (nd > 0)
        tmp[len++] = digits[--nd];
    if (len + 1 > cap)
        return SZ_E_TOO_LARGE;
    memcpy(out, tmp, len);
    out[len] = '\0';
    return (int)len;
}

int sz_invite_format(char *out, size_t cap, const char *host, uint16_t port,
                     const uint8_t node_pk[static 32], const uint8_t netkey[static 32]) {
    char hp[SZ_HOSTPORT_MAX + 1];
    int hl = sz_hostport_format(hp, sizeof(hp), host, port);
    if (hl < 0)
        return hl;
    size_t need = 4 + (size_t)hl + 1 + SZ_PUBKEY_TEXT_LEN + 1 + SZ_PUBKEY_TEXT_LEN;
    if (need + 1 > cap) {
        if (cap > 0)
            sodium_memzero(out, cap);
        return SZ_E_TOO_LARGE;
    }
    char *p = out;
    memcpy(p, SZ_INVITE_PREFIX ",", 4);
    p += 4;
    memcpy(p, hp, (size_t)hl);
    p += hl;
    *p++ = ',';
    sz_pubkey_format(p, node_pk);
    p += SZ_PUBKEY_TEXT_LEN;
    *p++ = ',';
    /* Encoded straight into out so no copy of the network key is left elsewhere. */
    sodium_bin2base64(p, SZ_PUBKEY_TEXT_LEN + 1, netkey, 32, sodium_base64_VARIANT_ORIGINAL);
    return (int)need;
}

/* Decodes exactly 44 characters of canonical base64 into 32 bytes at out. Returns 0 or -1 (out is
 * then wiped). */
static int key_decode(uint8_t out[static 32], const char *s, size_t n) {
    if (n != SZ_PUBKEY_TEXT_LEN)
        return -1;
    size_t got = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, 32, s, n, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != 32 || end != s + n) {
        sodium_memzero(out, 32);
        return -1;
    }
    /* Only the canonical spelling, so one key has one text (the low bits of the last character
     * must be zero). */
    char again[SZ_PUBKEY_TEXT_LEN + 1];
    sodium_bin2base64(again, sizeof(again), out, 32, sodium_base64_VARIANT_ORIGINAL);
    int same = memcmp(again, s, n) == 0;
    sodium_memzero(again, sizeof(again));
    if (!same) {
        sodium_memzero(out, 32);
        return -1;
    }
    return 0;
}

int sz_invite_looks_like(const char *text) {
    if (text[0] != 's' || text[1] != 'z' || !is_digit(text[2]))
        return 0;
    size_t i = 2;
    while (i < 12 && is_digit(text[i]))
        i++;
    return text[i] == ',';
}

static int invite_parse(const char *text, sz_invite_t *out, const char **why) {
    /* Every byte of out is defined after the call, whatever the input. */
    memset(out, 0, sizeof(*out));
    size_t n = strnlen(text, SZ_INVITE_MAX + 3);
    n = strip_newline(text, n);
    if (n > SZ_INVITE_MAX) {
        set_why(why, "the invite is longer than any valid invite");
        return SZ_E_TOO_LARGE;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f) {
            set_why(why, "the invite must be one line of text without spaces");
            return SZ_E_MALFORMED;
        }
    if (n < 4 || memcmp(text, SZ_INVITE_PREFIX ",", 4) != 0) {
        if (sz_invite_looks_like(text)) {
            set_why(why, "the invite is of a newer format than this release reads (expected sz1)");
            return SZ_E_VERSION;
        }
        set_why(why, "not an invite: expected sz1,HOST:PORT,NODEKEY,NETKEY");
        return SZ_E_MALFORMED;
    }
    const char *f[4];
    size_t fl[4];
    size_t nf = 0;
    const char *start = text;
    for (const char *p = text;; p++) {
        if (p == text + n || *p == ',') {
            if (nf == 4) {
                nf++;
                break;
            }
            f[nf] = start;
            fl[nf] = (size_t)(p - start);
            nf++;
            if (p == text + n)
                break;
            start = p + 1;
        }
    }
    if (nf != 4) {
        set_why(why,
                "the invite must have four comma-separated parts: sz1,HOST:PORT,NODEKEY,NETKEY");
        return SZ_E_MALFORMED;
    }
    int rc = hostport_parse_n(f[1], fl[1], out->host, &out->port, why);
    if (rc == SZ_E_MALFORMED)
        rc = SZ_E_ARGUMENT;
    if (rc != 0)
        return rc;
    if (key_decode(out->node_key, f[2], fl[2]) != 0) {
        set_why(why, "the invite's node key is not 44 characters of base64 for 32 bytes");
        return SZ_E_KEY;
    }
    if (key_decode(out->network_key, f[3], fl[3]) != 0) {
        set_why(why, "the invite's network key is not 44 characters of base64 for 32 bytes");
        return SZ_E_CRYPTO;
    }
    return 0;
}

int sz_invite_parse_why(const char *text, sz_invite_t *out, const char **why) {
    int rc = invite_parse(text, out, why);
    if (rc != 0)
        sz_invite_wipe(out);
    return rc;
}

int sz_invite_parse(const char *text, sz_invite_t *out) {
    return sz_invite_parse_why(text, out, NULL);
}

const char *sz_invite_strerror(int err) {
    switch (err) {
    case SZ_E_TOO_LARGE:
        return "the invite (or its host name) is too long";
    case SZ_E_VERSION:
        return "the invite is of a newer format than this release reads";
    case SZ_E_MALFORMED:
        return "not an invite: expected one line sz1,HOST:PORT,NODEKEY,NETKEY";
    case SZ_E_ARGUMENT:
        return "the invite's address is not HOST:PORT with a port from 1 to 65535";
    case SZ_E_KEY:
        return "the invite's node key is not a valid public key";
    case SZ_E_CRYPTO:
        return "the invite's network key is not valid";
    default:
        return sz_strerror(err);
    }
}

void sz_invite_wipe(sz_invite_t *inv) {
    if (inv != NULL)
        sodium_memzero(inv, sizeof(*inv));
}
