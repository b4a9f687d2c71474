/* The client's sealing helpers (client/node_ops.h): --seal-to arguments (key text, .pub files,
 * refused secret key files and junk, duplicates, the recipient limit), sealing with and without
 * the author's own key, and opening: a recipient gets the plaintext, a non-recipient gets nothing
 * and no error, and a body moved under another author is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "encoding.h"
#include "error.h"
#include "keyfile.h"
#include "node_ops.h"
#include "record.h"
#include "seal.h"

static char tmpdir[PATH_MAX - 64]; /* room for a file name after it */
static const sz_cli_command_t fake_command = {"test", NULL, "", ""};

static void new_cli(sz_cli_t *cli) {
    memset(cli, 0, sizeof(*cli));
    cli->command = &fake_command;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state) {
    (void)state;
    assert_true(sodium_init() >= 0);
    snprintf(tmpdir, sizeof(tmpdir), "%s/sz-client-seal.XXXXXX", P_tmpdir);
    assert_non_null(mkdtemp(tmpdir));
    /* No default key may be picked up from the environment of whoever runs the tests. */
    setenv("XDG_CONFIG_HOME", tmpdir, 1);
    unsetenv("SAMIZDAT_KEY");
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[PATH_MAX];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void test_key_arguments(void **state) {
    (void)state;
    sz_cli_t cli;
    new_cli(&cli);
    uint8_t *sk = NULL;
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    char text[SZ_PUBKEY_TEXT_LEN + 1], pub[SZ_PUBFILE_TEXT_LEN + 1], path[PATH_MAX];
    sz_pubkey_format(text, sk + 32);
    uint8_t pk[32];

    /* Key text, and a .pub file. */
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", text, pk), SZ_EXIT_OK);
    assert_memory_equal(pk, sk + 32, 32);
    sz_pubfile_format(pub, sk + 32);
    snprintf(path, sizeof(path), "%s/k.pub", tmpdir);
    write_text(path, pub);
    memset(pk, 0, 32);
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", path, pk), SZ_EXIT_OK);
    assert_memory_equal(pk, sk + 32, 32);

    /* A secret key file is never taken for a recipient. */
    char *sktext = NULL;
    assert_int_equal(sz_keyfile_encode(&sktext, sk, NULL, 0, NULL), 0);
    snprintf(path, sizeof(path), "%s/k.key", tmpdir);
    write_text(path, sktext);
    sz_keyfile_text_free(sktext);
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", path, pk), SZ_EXIT_FAIL);

    /* Junk: not key text, no such file; a key one character short; an empty file. */
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", "nonsense", pk), SZ_EXIT_USAGE);
    char shorter[SZ_PUBKEY_TEXT_LEN + 1];
    memcpy(shorter, text, sizeof(shorter));
    shorter[SZ_PUBKEY_TEXT_LEN - 1] = '\0';
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", shorter, pk), SZ_EXIT_USAGE);
    snprintf(path, sizeof(path), "%s/empty.pub", tmpdir);
    write_text(path, "");
    assert_int_equal(sz__parse_key_arg(&cli, "--seal-to", path, pk), SZ_EXIT_FAIL);
    sz_secretkey_free(sk);
}

static void test_recipient_list(void **state) {
    (void)state;
    sz_cli_t cli;
    new_cli(&cli);
    sz__recipients_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    char text[SZ_PUBKEY_TEXT_LEN + 1];
    uint8_t *sk = NULL;
    /* 63 distinct keys fit (one slot stays for the author); a repeat is kept once; the 64th is a
     * usage error. */
    for (int i = 0; i < 63; i++) {
        assert_int_equal(sz_secretkey_generate(&sk), 0);
        sz_pubkey_format(text, sk + 32);
        sz_secretkey_free(sk);
        assert_int_equal(sz__recipients_option(&cli, r, SZ__OPT_SEAL_TO, text), SZ_CLI_GO);
        assert_int_equal(sz__recipients_option(&cli, r, SZ__OPT_SEAL_TO, text), SZ_CLI_GO);
    }
    assert_int_equal(r->n, 63);
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    sz_pubkey_format(text, sk + 32);
    assert_int_equal(sz__recipients_option(&cli, r, SZ__OPT_SEAL_TO, text), SZ_EXIT_USAGE);
    assert_int_equal(r->n, 63);
    assert_int_equal(sz__recipients_option(&cli, r, SZ__OPT_NO_SELF, NULL), SZ_CLI_GO);
    assert_int_equal(r->no_self, 1);

    /* 63 recipients and the author make 64 slots, the most a body has. */
    r->no_self = 0;
    uint8_t *out = NULL;
    size_t out_len = 0, n = 0;
    const uint8_t plain[] = "{}";
    assert_int_equal(sz__seal_body(&cli, SZ_KIND_TESTIMONY, sk, r, plain, 2, &out, &out_len, &n),
                     SZ_EXIT_OK);
    assert_int_equal(n, 64);
    sz_seal_info_t info;
    assert_int_equal(sz_seal_parse(out, out_len, &info), 0);
    assert_int_equal(info.nslots, 64);
    free(out);
    sz_secretkey_free(sk);
    free(r);
}

/* Seals a testimony body from author to r, signs it and opens the envelope in *rec (pointing into
 * the returned buffer, which the caller frees). */
static uint8_t *sealed_record(const uint8_t *author_sk, const sz__recipients_t *r, const char *body,
                              size_t *nrecip, sz_record_t *rec) {
    sz_cli_t cli;
    new_cli(&cli);
    uint8_t *sealed = NULL, *env = NULL, version[32];
    size_t sealed_len = 0, env_len = 0;
    assert_int_equal(sz__seal_body(&cli, SZ_KIND_TESTIMONY, author_sk, r, (const uint8_t *)body,
                                   strlen(body), &sealed, &sealed_len, nrecip),
                     SZ_EXIT_OK);
    for (size_t i = 0; i + 6 <= sealed_len; i++)
        assert_true(memcmp(sealed + i, "MARKER", 6) != 0);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .flags = SZ_FLAG_SEALED,
                            .created = 1,
                            .body = sealed,
                            .body_len = (uint32_t)sealed_len};
    assert_int_equal(sz_record_sign(&f, author_sk, &env, &env_len), 0);
    free(sealed);
    assert_int_equal(sz_record_open(rec, env, env_len, version), 0);
    return env;
}

static void test_seal_and_open(void **state) {
    (void)state;
    sz_cli_t cli;
    new_cli(&cli);
    uint8_t *author = NULL, *reader = NULL, *other = NULL;
    assert_int_equal(sz_secretkey_generate(&author), 0);
    assert_int_equal(sz_secretkey_generate(&reader), 0);
    assert_int_equal(sz_secretkey_generate(&other), 0);
    sz__recipients_t *r = calloc(1, sizeof(*r));
    assert_non_null(r);
    memcpy(r->keys, reader + 32, 32);
    r->n = 1;
    const char *body = "{\"statement\":\"MARKER 42\"}";

    /* By default the author is a recipient too. */
    size_t n = 0;
    sz_record_t rec;
    uint8_t *env = sealed_record(author, r, body, &n, &rec);
    assert_int_equal(n, 2);
    const uint8_t *who[2] = {author, reader};
    for (int i = 0; i < 2; i++) {
        uint8_t *plain = NULL;
        size_t plen = 0;
        assert_int_equal(sz__open_sealed(&cli, who[i], &rec, &plain, &plen), SZ_EXIT_OK);
        assert_non_null(plain);
        assert_int_equal(plen, strlen(body));
        assert_memory_equal(plain, body, plen);
        sodium_free(plain);
    }
    /* A non-recipient gets no plaintext and no error: get shows that the record is sealed. */
    uint8_t *plain = (uint8_t *)1;
    size_t plen = 7;
    assert_int_equal(sz__open_sealed(&cli, other, &rec, &plain, &plen), SZ_EXIT_OK);
    assert_null(plain);
    assert_int_equal(plen, 0);
    /* No key at all (none named, no default key): nothing opened, no error. */
    assert_int_equal(sz__open_sealed(&cli, NULL, &rec, &plain, &plen), SZ_EXIT_OK);
    assert_null(plain);

    /* The same body under another author's signature does not open for a recipient. */
    uint8_t *env2 = NULL, version[32];
    size_t env2_len = 0;
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .flags = SZ_FLAG_SEALED,
                            .created = 1,
                            .body = rec.body,
                            .body_len = rec.body_len};
    assert_int_equal(sz_record_sign(&f, other, &env2, &env2_len), 0);
    sz_record_t moved;
    assert_int_equal(sz_record_open(&moved, env2, env2_len, version), 0);
    assert_int_equal(sz__open_sealed(&cli, reader, &moved, &plain, &plen), SZ_EXIT_FAIL);
    assert_null(plain);
    free(env2);
    free(env);

    /* --no-self: the author cannot read it back. */
    r->no_self = 1;
    env = sealed_record(author, r, body, &n, &rec);
    assert_int_equal(n, 1);
    assert_int_equal(sz__open_sealed(&cli, author, &rec, &plain, &plen), SZ_EXIT_OK);
    assert_null(plain);
    assert_int_equal(sz__open_sealed(&cli, reader, &rec, &plain, &plen), SZ_EXIT_OK);
    assert_non_null(plain);
    sodium_free(plain);
    free(env);

    /* --no-self with the author named explicitly still seals to the author once. */
    memcpy(r->keys + 32, author + 32, 32);
    r->n = 2;
    env = sealed_record(author, r, body, &n, &rec);
    assert_int_equal(n, 2);
    assert_int_equal(sz__open_sealed(&cli, author, &rec, &plain, &plen), SZ_EXIT_OK);
    assert_non_null(plain);
    sodium_free(plain);
    free(env);

    /* --no-self and nobody else: refused, nothing sealed. */
    r->n = 0;
    uint8_t *out = (uint8_t *)1;
    size_t out_len = 0;
    assert_int_equal(sz__seal_body(&cli, SZ_KIND_TESTIMONY, author, r, (const uint8_t *)"{}", 2,
                                   &out, &out_len, &n),
                     SZ_EXIT_USAGE);
    /* A recipient that is not a valid Ed25519 key (all zero: small order) is refused. */
    r->no_self = 0;
    memset(r->keys, 0, 32);
    r->n = 1;
    out = NULL;
    assert_int_equal(sz__seal_body(&cli, SZ_KIND_TESTIMONY, author, r, (const uint8_t *)"{}", 2,
                                   &out, &out_len, &n),
                     SZ_EXIT_FAIL);
    assert_null(out);

    free(r);
    sz_secretkey_free(author);
    sz_secretkey_free(reader);
    sz_secretkey_free(other);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_arguments),
        cmocka_unit_test(test_recipient_list),
        cmocka_unit_test(test_seal_and_open),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
