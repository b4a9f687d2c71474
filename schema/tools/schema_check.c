/* szschema-check: runs the C validator from the command line, for the schema agreement test and
 * for people editing schema files.
 *
 *   szschema-check --kind KIND FILE...     validate each file as a body of KIND
 *   szschema-check --schema SCHEMA FILE... validate each file against the schema file SCHEMA
 *   szschema-check --format NAME           read lines on stdin, print 1 or 0 for each
 *
 * For each file it prints "FILE<TAB>valid" or "FILE<TAB>invalid<TAB>ERRNAME<TAB>MESSAGE". Exit
 * status is 0 when every file was read (whatever the verdicts), 2 on usage or I/O errors. */
#include "error.h"
#include "format.h"
#include "record.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *grown = realloc(buf, cap * 2 + 1);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (buf == NULL || bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int usage(void) {
    fprintf(stderr, "usage: szschema-check --kind KIND FILE... | --schema SCHEMA FILE... | "
                    "--format NAME < LINES\n");
    return 2;
}

static int check_formats(const char *name) {
    sz__format_fn fn = sz__format_lookup(name);
    if (fn == NULL) {
        fprintf(stderr, "szschema-check: unknown format %s\n", name);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        if (n > 0 && line[n - 1] == '\n')
            n--;
        printf("%d\n", fn(line, (size_t)n));
    }
    free(line);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return usage();
    if (strcmp(argv[1], "--format") == 0)
        return argc == 3 ? check_formats(argv[2]) : usage();
    int kind = 0;
    char *schema = NULL;
    if (strcmp(argv[1], "--kind") == 0) {
        kind = sz_kind_from_name(argv[2]);
        if (kind == 0) {
            fprintf(stderr, "szschema-check: unknown kind %s\n", argv[2]);
            return 2;
        }
    } else if (strcmp(argv[1], "--schema") == 0) {
        size_t len;
        schema = read_file(argv[2], &len);
        if (schema == NULL) {
            fprintf(stderr, "szschema-check: cannot read %s\n", argv[2]);
            return 2;
        }
        sz_schema_error_t err;
        if (sz_schema_check(schema, &err) != 0) {
            fprintf(stderr, "szschema-check: %s: %s\n", argv[2], err.message);
            free(schema);
            return 2;
        }
    } else {
        return usage();
    }
    int status = 0;
    for (int i = 3; i < argc; i++) {
        size_t len;
        char *doc = read_file(argv[i], &len);
        if (doc == NULL) {
            fprintf(stderr, "szschema-check: cannot read %s\n", argv[i]);
            status = 2;
            continue;
        }
        sz_schema_error_t err;
        int rc = schema != NULL ? sz_schema_validate_with(schema, (uint8_t *)doc, len, &err)
                                : sz_schema_validate((unsigned)kind, (uint8_t *)doc, len, &err);
        if (rc == 0)
            printf("%s\tvalid\n", argv[i]);
        else
            printf("%s\tinvalid\t%s\t%s\n", argv[i], sz_errname(rc), err.message);
        free(doc);
    }
    free(schema);
    return status;
}
