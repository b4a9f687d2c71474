/* samizdatd: for now only the offline maintenance commands; the node service lands with issue 4
 * and replaces this file's remaining placeholder. */
#include "error.h"
#include "maint.h"

#include <stdio.h>
#include <string.h>

static void print_line(void *arg, const char *line) {
    (void)arg;
    printf("%s\n", line);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--check") == 0) {
        size_t problems = 0;
        int rc = sz_maint_check(argv[2], print_line, NULL, &problems);
        if (rc == SZ_E_NOT_FOUND)
            fprintf(stderr, "samizdatd: %s holds no archive (no data.mdb); check the path\n",
                    argv[2]);
        else if (rc != 0 && problems == 0)
            fprintf(stderr, "samizdatd: cannot check %s: %s\n", argv[2], sz_strerror(rc));
        printf("check=%s dir=%s problems=%zu\n", rc == 0 && problems == 0 ? "ok" : "failed",
               argv[2], problems);
        return rc == 0 && problems == 0 ? 0 : 1;
    }
    if (argc == 4 && strcmp(argv[1], "--backup") == 0) {
        char err[512] = "";
        int rc = sz_maint_backup(argv[2], argv[3], err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "samizdatd: backup failed: %s\n", err[0] ? err : sz_strerror(rc));
            return 1;
        }
        printf("backup=ok from=%s to=%s\n", argv[2], argv[3]);
        return 0;
    }
    fprintf(stderr, "usage: samizdatd --check DIR | --backup DIR OUT\n"
                    "samizdatd: the node service is not built yet; see README.md\n");
    return 2;
}
