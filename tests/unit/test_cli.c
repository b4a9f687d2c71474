/* Client helpers (option parsing, bounded reads, atomic writes, key paths, safe printing, time
 * formatting) and the verify/show commands on records that the sign command cannot make:
 * validly signed bodies that break the schema, other kinds, sealed bodies, odd timestamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "record.h"

static char tmpdir[PATH_MAX];

static void path_in_tmp(char *out, size_t cap, const char *name) {
    int n = snprintf(out, cap, "%s/%s", tmpdir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static void write_bytes(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path, size_t *len) {
    uint8_t *buf = NULL;
    size_t n = 0;
    assert_int_equal(sz_cli_read_file(path, 1 << 22, 0, &buf, &n), 0);
    if (len != NULL)
        *len = n;
    return (char *)buf;
}

/* ---- option parsing ---- */

enum { OPT_A = 1, OPT_B };
static const sz_cli_option_t opts[] = {
    {"alpha", 'a', 1, OPT_A},
    {"beta", 0, 0, OPT_B},
    {NULL, 0, 0, 0},
};
typedef struct seen_s {
    const char *alpha[4];
    int nalpha;
    int beta;
} seen_t;
static int on_opt(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    seen_t *s = ctx;
    if (id == OPT_A)
        s->alpha[s->nalpha++] = arg;
    else
        s->beta++;
    return SZ_CLI_GO;
}
static const sz_cli_command_t test_cmd = {"test", NULL, "", "usage: samizdat test\n"};

static void test_parse(void **state) {
    (void)state;
    sz_cli_t cli = {.command = &test_cmd};
    seen_t s = {0};
    int nop = -1;
    char *argv[] = {"test", "one",   "--alpha", "x",      "-a", "y",      "--alpha=z", "--json",
                    "two",  "--key", "k",       "--beta", "--", "--beta", "-",         NULL};
    int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;
    assert_int_equal(sz_cli_parse(&cli, argc, argv, opts, on_opt, &s, &nop), SZ_CLI_GO);
    assert_int_equal(nop, 4);
    assert_string_equal(argv[1], "one");
    assert_string_equal(argv[2], "two");
    assert_string_equal(argv[3], "--beta");
    assert_string_equal(argv[4], "-");
    assert_int_equal(s.nalpha, 3);
    assert_string_equal(s.alpha[0], "x");
    assert_string_equal(s.alpha[1], "y");
    assert_string_equal(s.alpha[2], "z");
    assert_int_equal(s.beta, 1);
    assert_int_equal(cli.json, 1);
    assert_string_equal(cli.key_path, "k");

    /* Usage errors: unknown options, a missing value, a value given to a flag. */
    char *bad1[] = {"test", "--gamma", NULL};
    char *bad2[] = {"test", "--alpha", NULL};
    char *bad3[] = {"test", "--beta=1", NULL};
    char *bad4[] = {"test", "-ab", NULL};
    char *bad5[] = {"test", "-z", NULL};
    char **bads[] = {bad1, bad2, bad3, bad4, bad5};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sz_cli_parse(&cli, 2, bads[i], opts, on_opt, &s, &nop), SZ_EXIT_USAGE);
    /* --help anywhere stops parsing with success. */
    char *help[] = {"test", "x", "--help", "--gamma", NULL};
    assert_int_equal(sz_cli_parse(&cli, 4, help, opts, on_opt, &s, &nop), SZ_EXIT_OK);
    /* No options of its own: only global ones are known. */
    char *none[] = {"test", "--json", "f", NULL};
    assert_int_equal(sz_cli_parse(&cli, 3, none, NULL, NULL, NULL, &nop), SZ_CLI_GO);
    assert_int_equal(nop, 1);
    char *none_bad[] = {"test", "--beta", NULL};
    assert_int_equal(sz_cli_parse(&cli, 2, none_bad, NULL, NULL, NULL, &nop), SZ_EXIT_USAGE);
}

/* ---- files ---- */

static void test_read_file(void **state) {
    (void)state;
    char p[PATH_MAX];
    path_in_tmp(p, sizeof(p), "ten");
    write_bytes(p, "0123456789", 10);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(sz_cli_read_file(p, 10, 0, &buf, &len), 0);
    assert_int_equal(len, 10);
    assert_memory_equal(buf, "0123456789", 11); /* NUL-terminated */
    free(buf);
    assert_int_equal(sz_cli_read_file(p, 10, 1, &buf, &len), 0);
    assert_int_equal(len, 10);
    sodium_free(buf);
    assert_int_equal(sz_cli_read_file(p, 9, 0, &buf, &len), SZ_E_TOO_LARGE);
    assert_null(buf);
    assert_int_equal(sz_cli_read_file(p, 9, 1, &buf, &len), SZ_E_TOO_LARGE);
    path_in_tmp(p, sizeof(p), "absent");
    assert_int_equal(sz_cli_read_file(p, 9, 0, &buf, &len), -ENOENT);
    assert_int_equal(sz_cli_read_file(tmpdir, 9, 0, &buf, &len), -EISDIR);
    path_in_tmp(p, sizeof(p), "empty");
    write_bytes(p, "", 0);
    assert_int_equal(sz_cli_read_file(p, 9, 0, &buf, &len), 0);
    assert_int_equal(len, 0);
    free(buf);
}

static void test_write_file(void **state) {
    (void)state;
    char p[PATH_MAX];
    path_in_tmp(p, sizeof(p), "w/out.bin");
    /* The directory does not exist yet: an error, and nothing is left. */
    assert_int_equal(sz_cli_write_file(p, (const uint8_t *)"abc", 3, 0640, 0), -ENOENT);
    assert_int_equal(sz_cli_make_parent_dirs(p), 0);
    char d[PATH_MAX];
    path_in_tmp(d, sizeof(d), "w");
    struct stat st;
    assert_int_equal(stat(d, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(sz_cli_make_parent_dirs(p), 0); /* already there */

    assert_int_equal(sz_cli_write_file(p, (const uint8_t *)"abc", 3, 0640, 0), 0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    size_t len;
    char *got = slurp(p, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "abc", 3);
    free(got);
    /* No overwrite without permission; the old content stays. */
    assert_int_equal(sz_cli_write_file(p, (const uint8_t *)"xyz!", 4, 0600, 0), SZ_E_EXISTS);
    got = slurp(p, &len);
    assert_int_equal(len, 3);
    free(got);
    assert_int_equal(sz_cli_write_file(p, (const uint8_t *)"xyz!", 4, 0600, 1), 0);
    got = slurp(p, &len);
    assert_int_equal(len, 4);
    assert_memory_equal(got, "xyz!", 4);
    free(got);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* No temporary files remain in the directory. */
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", d);
    assert_int_equal(system(cmd), 0);

    /* A parent path that is a file. */
    char f[PATH_MAX];
    path_in_tmp(f, sizeof(f), "w/out.bin/below/x");
    assert_int_not_equal(sz_cli_make_parent_dirs(f), 0);
}

static void test_key_path(void **state) {
    (void)state;
    char buf[PATH_MAX];
    int is_default = -1;
    sz_cli_t cli = {0};
    setenv("SAMIZDAT_KEY", "/env/key", 1);
    cli.key_path = "/flag/key";
    assert_int_equal(sz_cli_key_path(&cli, buf, sizeof(buf), &is_default), 0);
    assert_string_equal(buf, "/flag/key");
    assert_int_equal(is_default, 0);
    cli.key_path = NULL;
    assert_int_equal(sz_cli_key_path(&cli, buf, sizeof(buf), &is_default), 0);
    assert_string_equal(buf, "/env/key");
    unsetenv("SAMIZDAT_KEY");
    setenv("XDG_CONFIG_HOME", "/xdg", 1);
    setenv("HOME", "/home/u", 1);
    assert_int_equal(sz_cli_key_path(&cli, buf, sizeof(buf), &is_default), 0);
    assert_string_equal(buf, "/xdg/samizdat/secret.key");
    assert_int_equal(is_default, 1);
    setenv("XDG_CONFIG_HOME", "relative", 1);
    assert_int_equal(sz_cli_key_path(&cli, buf, sizeof(buf), &is_default), 0);
    assert_string_equal(buf, "/home/u/.config/samizdat/secret.key");
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert_int_equal(sz_cli_key_path(&cli, buf, sizeof(buf), &is_default), SZ_E_CONFIG);
    char small[8];
    cli.key_path = "/a/long/path";
    assert_int_equal(sz_cli_key_path(&cli, small, sizeof(small), &is_default), -ENAMETOOLONG);
}

static void test_print_safe(void **state) {
    (void)state;
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    assert_non_null(f);
    /* ESC, BEL, DEL and U+009B (a C1 CSI) are escaped; newline, tab and other UTF-8 pass. */
    const char in[] = "a\x1b[2Jb\x07\n\tc\x7f\xc2\x9b\xd0\x96\xc2\xa0";
    sz_cli_print_safe(f, in, sizeof(in) - 1);
    fclose(f);
    assert_string_equal(mem, "a\\u001b[2Jb\\u0007\n\tc\\u007f\\u009b\xd0\x96\xc2\xa0");
    free(mem);
}

static void test_format_time(void **state) {
    (void)state;
    char buf[64];
    sz_cli_format_time(buf, sizeof(buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    sz_cli_format_time(buf, sizeof(buf), 1700000000123ull);
    assert_string_equal(buf, "2023-11-14T22:13:20.123Z");
    sz_cli_format_time(buf, sizeof(buf), 253402300799999ull);
    assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
    sz_cli_format_time(buf, sizeof(buf), 253402300800000ull);
    assert_string_equal(buf, "253402300800000 ms after the epoch");
    sz_cli_format_time(buf, sizeof(buf), UINT64_MAX);
    assert_string_equal(buf, "18446744073709551615 ms after the epoch");
}

/* ---- verify and show on crafted records ---- */

static uint8_t pk[32], sk[64];

static void make_record(const char *name, uint8_t kind, uint8_t flags, uint64_t created,
                        const char *body, size_t body_len) {
    sz_record_fields_t f = {.kind = kind,
                            .flags = flags,
                            .created = created,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)body_len};
    uint8_t *env = NULL;
    size_t len = 0;
    assert_int_equal(sz_record_sign(&f, sk, &env, &len), 0);
    char p[PATH_MAX];
    path_in_tmp(p, sizeof(p), name);
    write_bytes(p, env, len);
    free(env);
}

/* Runs the samizdat binary with args in tmpdir; returns its exit status, output in out/err. */
static int run_samizdat(const char *args) {
    const char *bin = getenv("SAMIZDAT");
    assert_non_null(bin);
    char cmd[PATH_MAX * 2 + 256];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' %s >out 2>err", tmpdir, bin, args);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *tmp_file(const char *name) {
    char p[PATH_MAX];
    path_in_tmp(p, sizeof(p), name);
    return slurp(p, NULL);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_verify_schema_error(void **state) {
    (void)state;
    static const char body[] = "{\"title\": \"t\", \"statement\": {\"text\": \"x\", \"language\": "
                               "\"en\"}, \"witness\": {\"role\": \"general\"}, \"consent\": "
                               "{\"scope\": \"archive-only\"}, \"act_types\": [\"other\"]}";
    make_record("schema.szr", SZ_KIND_TESTIMONY, 0, 1700000000000ull, body, sizeof(body) - 1);
    assert_int_equal(run_samizdat("verify schema.szr"), 1);
    char *err = tmp_file("err");
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "samizdat: verify: schema.szr: body does not match the testimony "
                                "schema: /witness/role"));
    free(err);
    assert_int_equal(run_samizdat("show schema.szr"), 1);
    char *out = tmp_file("out");
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(run_samizdat("show --unverified schema.szr"), 1);
    out = tmp_file("out");
    assert_non_null(strstr(out, "UNVERIFIED: body does not match"));
    assert_non_null(strstr(out, "schema     DOES NOT MATCH"));
    free(out);

    /* A body that is not JSON at all, validly signed. */
    make_record("notjson.szr", SZ_KIND_CASE, 0, 1, "\x01 not json", 10);
    assert_int_equal(run_samizdat("verify notjson.szr"), 1);
    err = tmp_file("err");
    assert_int_equal(count_lines(err), 1);
    assert_non_null(strstr(err, "notjson.szr: body does not match the case schema"));
    free(err);
    assert_int_equal(run_samizdat("show --unverified notjson.szr"), 1);
    out = tmp_file("out");
    assert_non_null(strstr(out, "\\u0001 not json")); /* shown verbatim, control char escaped */
    free(out);
}

static void test_verify_retraction(void **state) {
    (void)state;
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/schema/examples/retraction-example.json", getenv("SZ_SOURCE_DIR"));
    size_t len = 0;
    char *body = slurp(p, &len);
    make_record("retraction.szr", SZ_KIND_RETRACTION, 0, 1700000000123ull, body, len);
    free(body);
    assert_int_equal(run_samizdat("verify --json retraction.szr"), 0);
    char *out = tmp_file("out");
    assert_non_null(strstr(out, "\"kind\": \"retraction\""));
    assert_non_null(strstr(out, "\"created\": \"2023-11-14T22:13:20.123Z\""));
    free(out);
}

static void test_show_sealed(void **state) {
    (void)state;
    uint8_t cipher[300];
    randombytes_buf(cipher, sizeof(cipher));
    make_record("sealed.szr", SZ_KIND_TESTIMONY, SZ_FLAG_SEALED, UINT64_MAX, (char *)cipher,
                sizeof(cipher));
    assert_int_equal(run_samizdat("verify sealed.szr"), 0);
    char *out = tmp_file("out");
    assert_non_null(strstr(out, "sealed     yes"));
    assert_non_null(strstr(out, "schema     not checked (sealed)"));
    assert_non_null(strstr(out, "ms after the epoch"));
    free(out);
    assert_int_equal(run_samizdat("show sealed.szr"), 0);
    out = tmp_file("out");
    assert_non_null(strstr(out, "the body is sealed: 300 bytes"));
    free(out);
    assert_int_equal(run_samizdat("show --json sealed.szr"), 0);
    out = tmp_file("out");
    assert_non_null(strstr(out, "\"sealed\": true"));
    assert_non_null(strstr(out, "\"body\": null"));
    assert_non_null(strstr(out, "\"body_text\": null"));
    free(out);
}

int main(void) {
    if (sodium_init() < 0)
        return 1;
    snprintf(tmpdir, sizeof(tmpdir), "%s/sz-test-cli.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    crypto_sign_keypair(pk, sk);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_write_file),
        cmocka_unit_test(test_key_path),
        cmocka_unit_test(test_print_safe),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_verify_schema_error),
        cmocka_unit_test(test_verify_retraction),
        cmocka_unit_test(test_show_sealed),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
