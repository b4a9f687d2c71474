/* libFuzzer harness for daemon/config: sz_config_parse on arbitrary text. An accepted config must
 * hold only values within the table's bounds, print every value, and free cleanly; a refused one
 * must say why in one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 65536)
        return 0;
    sz_config_t cfg;
    if (sz_config_init(&cfg) != 0)
        return 0;
    char err[SZ_CONFIG_ERR_MAX] = "";
    int rc = sz_config_parse(&cfg, (const char *)data, size, "fuzz.conf", err, sizeof(err));
    if (rc == 0) {
        size_t n;
        const sz_config_entry_t *t = sz_config_table(&n);
        for (size_t i = 0; i < n; i++) {
            const void *field = (const char *)&cfg + t[i].offset;
            uint64_t v = 0;
            if (t[i].type == SZ_CFG_INT)
                v = *(const uint32_t *)field;
            else if (t[i].type == SZ_CFG_SIZE)
                v = *(const uint64_t *)field;
            if ((t[i].type == SZ_CFG_INT || t[i].type == SZ_CFG_SIZE) &&
                (v < t[i].min || v > t[i].max))
                abort();
            if (t[i].type == SZ_CFG_STRING && strlen(field) > t[i].max)
                abort();
            char out[1 << 17];
            int len = sz_config_value_text(out, sizeof(out), &cfg, &t[i]);
            if (len == SZ_E_TOO_LARGE)
                continue;
            if (len < 0 || strlen(out) != (size_t)len)
                abort();
        }
        if (cfg.submission != SZ_SUBMISSION_OPEN && cfg.submission != SZ_SUBMISSION_ALLOWLIST)
            abort();
    } else if (rc == SZ_E_CONFIG) {
        if (err[0] == '\0' || strchr(err, '\n') != NULL || strncmp(err, "fuzz.conf", 9) != 0)
            abort();
    } else if (rc != -12 /* ENOMEM */) {
        abort();
    }
    sz_config_free(&cfg);
    return 0;
}
