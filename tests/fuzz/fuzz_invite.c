/* libFuzzer harness for proto/invite: sz_invite_parse and sz_hostport_parse on arbitrary text,
 * with round-trip checks that abort on any disagreement: an accepted invite formats back to the
 * same line (and parses to the same bytes), and a refused one leaves nothing of a network key
 * behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "invite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    sz_invite_t inv;
    const char *why = NULL;
    int rc = sz_invite_parse_why(text, &inv, &why);
    if (rc == 0) {
        char again[SZ_INVITE_BUF];
        int n = sz_invite_format(again, sizeof(again), inv.host, inv.port, inv.node_key,
                                 inv.network_key);
        size_t len = strlen(text);
        if (len > 0 && text[len - 1] == '\n')
            len--;
        if (len > 0 && text[len - 1] == '\r')
            len--;
        if (n < 0 || (size_t)n != len || memcmp(again, text, len) != 0)
            abort();
        sz_invite_t twice;
        if (sz_invite_parse(again, &twice) != 0 || memcmp(&twice, &inv, sizeof(inv)) != 0)
            abort();
        if (!sz_invite_looks_like(text))
            abort();
    } else {
        static const uint8_t zero[sizeof(sz_invite_t)];
        if (why == NULL || memcmp(&inv, zero, sizeof(inv)) != 0)
            abort();
        if (rc != SZ_E_TOO_LARGE && rc != SZ_E_VERSION && rc != SZ_E_MALFORMED &&
            rc != SZ_E_ARGUMENT && rc != SZ_E_KEY && rc != SZ_E_CRYPTO)
            abort();
    }

    char host[SZ_HOST_BUF];
    uint16_t port = 0;
    rc = sz_hostport_parse(text, host, &port, &why);
    if (rc == 0) {
        char out[SZ_HOSTPORT_MAX + 1];
        int n = sz_hostport_format(out, sizeof(out), host, port);
        if (n < 0 || port == 0 || strlen(host) > SZ_HOST_MAX)
            abort();
        char host2[SZ_HOST_BUF];
        uint16_t port2 = 0;
        if (sz_hostport_parse(out, host2, &port2, NULL) != 0 || strcmp(host, host2) != 0 ||
            port != port2)
            abort();
    } else if (why == NULL) {
        abort();
    }
    free(text);
    return 0;
}
