/* Offline record commands: sign a body into a record file, verify a record file, show one. */
#include "commands.h"

#include "encoding.h"
#include "error.h"
#include "keyfile.h"
#include "node_ops.h"
#include "record.h"
#include "schema.h"
#include "seal.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char sz_usage_sign[] =
    "usage: samizdat [--key FILE] sign testimony|case FILE.json -o OUT [--parent HASH]...\n"
    "                [--record ID] [--seal-to KEY]... [--no-self] [--force] [--json]\n"
    "\n"
    "Signs the JSON body in FILE.json, byte for byte as it is (it is never re-serialised), into\n"
    "the record file OUT. The body is first checked against the kind's schema. The key is read\n"
    "from --key FILE, $SAMIZDAT_KEY or ~/.config/samizdat/secret.key; its passphrase is asked\n"
    "only if the key is protected ($SAMIZDAT_PASSPHRASE_FILE may name a file holding it).\n"
    "OUT is written atomically, and nothing is written on any error. Prints the version hash\n"
    "(equal to sha256sum OUT) and the record id.\n"
    "\n"
    "  -o, --output OUT   the record file to write (required; refuses to replace a file)\n"
    "  --parent HASH      a parent version (64 hex); repeat for a merge of several versions\n"
    "  --record ID        the record id (64 hex) a new version belongs to: required with\n"
    "                     --parent, since offline the parents' records are not at hand\n"
    "  --seal-to KEY      seal the body to this recipient (key text or .pub file; repeat),\n"
    "                     as 'samizdat submit' does: your own key is added unless --no-self\n"
    "  --no-self          do not add your own key as a recipient\n"
    "  --force            replace OUT if it exists\n"
    "  --json             print the result as JSON\n";

const char sz_usage_verify[] =
    "usage: samizdat verify FILE|ID [--json]\n"
    "\n"
    "Checks a record file: its structure, its signature and, unless it is sealed, its body\n"
    "against the kind's schema. An argument that is not an existing file is taken as a record\n"
    "id (or unique prefix): its current version is fetched from the node (--node or\n"
    "$SAMIZDAT_NODE) and checked here the same way. Prints the version hash (equal to sha256sum "
    "FILE), record id,\n"
    "kind, author key, creation time (UTC) and parents. Any problem is reported as one line\n"
    "on stderr with exit status 1.\n"
    "\n"
    "  --json   print the result as one JSON object\n";

const char sz_usage_show[] =
    "usage: samizdat show FILE [--json] [--unverified]\n"
    "\n"
    "Verifies a record file as 'samizdat verify' does, then prints it with its body. The body\n"
    "is pretty-printed for people (control characters escaped). With --json the output is the\n"
    "verify object plus \"body\" (the body parsed as JSON, re-serialised for convenience) and\n"
    "\"body_text\" (the exact signed bytes as a string; use this to quote the record).\n"
    "A record that fails its signature or schema check is not shown. A sealed record is opened\n"
    "here when --key, $SAMIZDAT_KEY or the default key is one of its recipients (the\n"
    "plaintext goes to stdout only); otherwise show says it is sealed.\n"
    "\n"
    "  --json         print the result as one JSON object\n"
    "  --unverified   show the contents even when the signature or schema check fails,\n"
    "                 marked UNVERIFIED; the exit status is still 1\n";

#define MAX_INPUT_PATH 200

/* A record file that decoded; sig_rc and schema_rc say whether the rest held. */
typedef struct checked_s {
    uint8_t *buf;
    size_t len;
    sz_record_t rec;
    uint8_t version[32];
    uint8_t id[32];
    int sig_rc;
    int schema_rc; /* 0 also when sealed (not checked) */
    sz_schema_error_t schema_err;
} checked_t;

static const char *decode_problem(int rc, const uint8_t *buf, size_t len, char *tmp, size_t cap) {
    switch (rc) {
    case SZ_E_TRUNCATED:
        return "record is truncated (the file is incomplete)";
    case SZ_E_TRAILING:
        return "unexpected bytes after the end of the record (the file was extended or "
               "records were joined)";
    case SZ_E_MAGIC:
        return "not a samizdat record (bad magic)";
    case SZ_E_VERSION:
        snprintf(tmp, cap, "unsupported record format version %u (a newer samizdat may read it)",
                 len > 3 ? (unsigned)buf[3] : 0u);
        return tmp;
    case SZ_E_KIND:
        snprintf(tmp, cap, "unknown record kind %u", len > 4 ? (unsigned)buf[4] : 0u);
        return tmp;
    case SZ_E_FLAGS:
        return "unknown or invalid flags in the record";
    case SZ_E_TOO_LARGE:
        return "a size in the record exceeds the limit";
    case SZ_E_PARENTS:
        return "parent hashes are not valid (count, order or duplicates)";
    case SZ_E_RECORD_ID:
        return "record id does not fit the parents (zero exactly when there are no parents)";
    case SZ_E_SIGNATURE:
        return "signature does not verify (the record was altered or forged)";
    default:
        return sz_strerror(rc);
    }
}

/* Reads and decodes path. Returns SZ_EXIT_OK with *c filled (the caller frees c->buf), or prints
 * why the file is not a record and returns SZ_EXIT_FAIL. */
static int load_record(const sz_cli_t *cli, const char *path, checked_t *c) {
    memset(c, 0, sizeof(*c));
    int rc = sz_cli_read_file(path, SZ_RECORD_MAX_LEN, 0, &c->buf, &c->len);
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli, "%.*s: larger than the largest possible record (%u bytes)",
                           MAX_INPUT_PATH, path, (unsigned)SZ_RECORD_MAX_LEN);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read %.*s: %s", MAX_INPUT_PATH, path, sz_strerror(rc));
    rc = sz_record_decode(&c->rec, c->buf, c->len);
    if (rc != 0) {
        char tmp[128];
        sz_cli_fail(cli, "%.*s: %s", MAX_INPUT_PATH, path,
                    decode_problem(rc, c->buf, c->len, tmp, sizeof(tmp)));
        free(c->buf);
        c->buf = NULL;
        return SZ_EXIT_FAIL;
    }
    c->sig_rc = sz_record_verify_signature(&c->rec);
    sz_record_version_hash(&c->rec, c->version);
    sz_record_id(&c->rec, c->version, c->id);
    if (!(c->rec.flags & SZ_FLAG_SEALED))
        c->schema_rc =
            sz_schema_validate(c->rec.kind, c->rec.body, c->rec.body_len, &c->schema_err);
    return SZ_EXIT_OK;
}

/* Describes the first problem of a decoded record in out, or returns NULL when it verified. */
static const char *verify_problem(const checked_t *c, char *out, size_t cap) {
    if (c->sig_rc != 0)
        return decode_problem(c->sig_rc, c->buf, c->len, out, cap);
    if (c->schema_rc == 0)
        return NULL;
    const char *kind = sz_kind_name(c->rec.kind);
    if (c->schema_err.message[0] != '\0')
        snprintf(out, cap, "body does not match the %s schema: %s", kind ? kind : "?",
                 c->schema_err.message);
    else
        snprintf(out, cap, "body does not match the %s schema: %s", kind ? kind : "?",
                 sz_strerror(c->schema_rc));
    return out;
}

static json_t *record_json(const char *path, const checked_t *c, const char *problem) {
    char hex[SZ_HASH_HEX_LEN + 1], key[SZ_PUBKEY_TEXT_LEN + 1], when[64];
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "verified", json_boolean(problem == NULL));
    if (problem != NULL)
        json_object_set_new(o, "problem", json_string(problem));
    sz_hex_encode(hex, c->version, 32);
    json_object_set_new(o, "version", json_string(hex));
    sz_hex_encode(hex, c->id, 32);
    json_object_set_new(o, "record_id", json_string(hex));
    const char *kind = sz_kind_name(c->rec.kind);
    json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
    sz_pubkey_format(key, c->rec.author);
    json_object_set_new(o, "author", json_string(key));
    sz_cli_format_time(when, sizeof(when), c->rec.created);
    json_object_set_new(o, "created", json_string(when));
    /* jansson integers are signed; a (nonsensical) larger time is given as a decimal string. */
    if (c->rec.created <= (uint64_t)INT64_MAX) {
        json_object_set_new(o, "created_ms", json_integer((json_int_t)c->rec.created));
    } else {
        char ms[24];
        snprintf(ms, sizeof(ms), "%llu", (unsigned long long)c->rec.created);
        json_object_set_new(o, "created_ms", json_string(ms));
    }
    json_t *parents = json_array();
    for (unsigned i = 0; i < c->rec.nparents; i++) {
        sz_hex_encode(hex, c->rec.parents + 32 * i, 32);
        json_array_append_new(parents, json_string(hex));
    }
    json_object_set_new(o, "parents", parents);
    json_object_set_new(o, "sealed", json_boolean(c->rec.flags & SZ_FLAG_SEALED));
    json_object_set_new(o, "body_bytes", json_integer(c->rec.body_len));
    return o;
}

static void print_record(const checked_t *c, const char *path) {
    char hex[SZ_HASH_HEX_LEN + 1], key[SZ_PUBKEY_TEXT_LEN + 1], when[64];
    const char *kind = sz_kind_name(c->rec.kind);
    printf("file       ");
    sz_cli_print_safe(stdout, path, strlen(path));
    sz_hex_encode(hex, c->version, 32);
    printf("\nversion    %s\n", hex);
    sz_hex_encode(hex, c->id, 32);
    printf("record id  %s\n", hex);
    printf("kind       %s\n", kind ? kind : "?");
    sz_pubkey_format(key, c->rec.author);
    printf("author     %s\n", key);
    sz_cli_format_time(when, sizeof(when), c->rec.created);
    printf("created    %s\n", when);
    if (c->rec.nparents == 0)
        printf("parents    none (first version)\n");
    for (unsigned i = 0; i < c->rec.nparents; i++) {
        sz_hex_encode(hex, c->rec.parents + 32 * i, 32);
        printf("%s %s\n", i == 0 ? "parents   " : "          ", hex);
    }
    printf("sealed     %s\n", c->rec.flags & SZ_FLAG_SEALED ? "yes" : "no");
    printf("body       %u bytes\n", (unsigned)c->rec.body_len);
}

static void dump_json(json_t *o) {
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

/* ---- verify ---- */

int sz_cmd_verify(sz_cli_t *cli, int argc, char **argv) {
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, NULL, NULL, NULL, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 1)
        return sz_cli_usage_error(cli, nop == 0 ? "missing FILE" : "expected one FILE");
    const char *path = argv[1];
    /* An argument that names no file is a record id (or prefix) to fetch from the node. */
    if (access(path, F_OK) != 0 && errno == ENOENT && sz_hex_is_prefix(path, SZ_HASH_HEX_LEN))
        return sz_node_verify_id(cli, path);
    checked_t c;
    if ((rc = load_record(cli, path, &c)) != SZ_EXIT_OK)
        return rc;
    char tmp[512];
    const char *problem = verify_problem(&c, tmp, sizeof(tmp));
    if (problem != NULL) {
        free(c.buf);
        return sz_cli_fail(cli, "%.*s: %s", MAX_INPUT_PATH, path, problem);
    }
    if (cli->json) {
        json_t *o = record_json(path, &c, NULL);
        dump_json(o);
        json_decref(o);
    } else {
        print_record(&c, path);
        printf("signature  ok\n");
        printf("schema     %s\n", c.rec.flags & SZ_FLAG_SEALED ? "not checked (sealed)" : "ok");
    }
    free(c.buf);
    return SZ_EXIT_OK;
}

/* ---- show ---- */

enum { OPT_UNVERIFIED = 1 };
static const sz_cli_option_t show_options[] = {
    {"unverified", 0, 0, OPT_UNVERIFIED},
    {NULL, 0, 0, 0},
};

static int show_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    *(int *)ctx = 1;
    return SZ_CLI_GO;
}

int sz_cmd_show(sz_cli_t *cli, int argc, char **argv) {
    int unverified = 0, nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, show_options, show_option, &unverified, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 1)
        return sz_cli_usage_error(cli, nop == 0 ? "missing FILE" : "expected one FILE");
    const char *path = argv[1];
    checked_t c;
    if ((rc = load_record(cli, path, &c)) != SZ_EXIT_OK)
        return rc;
    char tmp[512];
    const char *problem = verify_problem(&c, tmp, sizeof(tmp));
    if (problem != NULL && !unverified) {
        free(c.buf);
        return sz_cli_fail(cli, "%.*s: %s (not shown; --unverified shows it anyway)",
                           MAX_INPUT_PATH, path, problem);
    }
    int sealed = (c.rec.flags & SZ_FLAG_SEALED) != 0;
    /* A sealed record whose signature holds is opened when our key is a recipient. */
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int plain_schema = 0;
    if (sealed && c.sig_rc == 0) {
        if ((rc = sz__open_sealed(cli, NULL, &c.rec, &plain, &plain_len)) != SZ_EXIT_OK) {
            free(c.buf);
            return rc;
        }
        if (plain != NULL)
            plain_schema = sz_schema_validate(c.rec.kind, plain, plain_len, NULL);
    }
    const uint8_t *shown = plain != NULL ? plain : sealed ? NULL : c.rec.body;
    size_t shown_len = plain != NULL ? plain_len : c.rec.body_len;
    /* Parsed only for display; the signed bytes stay in body_text. */
    json_t *body = NULL;
    if (shown != NULL)
        body = json_loadb((const char *)shown, shown_len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
                          NULL);
    if (cli->json) {
        json_t *o = record_json(path, &c, problem);
        if (sealed) {
            json_object_set_new(o, "opened", json_boolean(plain != NULL));
            if (plain != NULL)
                json_object_set_new(o, "schema",
                                    json_string(plain_schema == 0 ? "ok" : "does not match"));
        }
        json_object_set_new(o, "body", body != NULL ? body : json_null());
        json_t *text = NULL;
        if (shown != NULL)
            text = json_stringn((const char *)shown, shown_len);
        json_object_set_new(o, "body_text", text != NULL ? text : json_null());
        dump_json(o);
        json_decref(o);
    } else {
        if (problem != NULL)
            printf("UNVERIFIED: %s\n", problem);
        print_record(&c, path);
        printf("signature  %s\n", c.sig_rc == 0 ? "ok" : "DOES NOT VERIFY");
        if (sealed && plain != NULL)
            printf("opened     here with your key (a recipient)\n");
        printf("schema     %s\n", plain != NULL      ? (plain_schema == 0 ? "ok" : "DOES NOT MATCH")
                                  : sealed           ? "not checked (sealed)"
                                  : c.schema_rc == 0 ? "ok"
                                                     : "DOES NOT MATCH");
        printf("\n");
        if (sealed && plain == NULL) {
            printf("(the body is sealed: %u bytes of ciphertext for its recipients)\n",
                   (unsigned)c.rec.body_len);
        } else if (body != NULL) {
            char *pretty = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            if (pretty != NULL) {
                sz_cli_print_safe(stdout, pretty, strlen(pretty));
                sodium_memzero(pretty, strlen(pretty));
                free(pretty);
            }
            printf("\n");
        } else {
            sz_cli_print_safe(stdout, (const char *)shown, shown_len);
            printf("\n");
        }
        json_decref(body);
    }
    if (plain != NULL)
        sodium_free(plain);
    free(c.buf);
    if (problem != NULL)
        return sz_cli_fail(cli, "%.*s: %s (shown UNVERIFIED)", MAX_INPUT_PATH, path, problem);
    return SZ_EXIT_OK;
}

/* ---- sign ---- */

enum { OPT_PARENT = 1, OPT_RECORD, OPT_OUTPUT, OPT_FORCE };
static const sz_cli_option_t sign_options[] = {
    {"parent", 0, 1, OPT_PARENT},
    {"record", 0, 1, OPT_RECORD},
    {"output", 'o', 1, OPT_OUTPUT},
    {"force", 0, 0, OPT_FORCE},
    {"seal-to", 0, 1, SZ__OPT_SEAL_TO},
    {"no-self", 0, 0, SZ__OPT_NO_SELF},
    {NULL, 0, 0, 0},
};

typedef struct sign_args_s {
    uint8_t parents[SZ_RECORD_MAX_PARENTS * 32];
    unsigned nparents;
    uint8_t record_id[32];
    int have_record;
    const char *output;
    int force;
    sz__recipients_t r;
} sign_args_t;

static int sign_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    sign_args_t *a = ctx;
    switch (id) {
    case OPT_PARENT:
        if (a->nparents >= SZ_RECORD_MAX_PARENTS)
            return sz_cli_usage_error(cli, "at most %d --parent options", SZ_RECORD_MAX_PARENTS);
        if (sz_hex_decode(a->parents + 32 * a->nparents, 32, arg) != 0)
            return sz_cli_usage_error(cli,
                                      "--parent needs a full version hash (64 hex), not "
                                      "'%.80s'",
                                      arg);
        a->nparents++;
        break;
    case OPT_RECORD:
        if (sz_hex_decode(a->record_id, 32, arg) != 0)
            return sz_cli_usage_error(cli, "--record needs a full record id (64 hex), not '%.80s'",
                                      arg);
        a->have_record = 1;
        break;
    case OPT_OUTPUT:
        a->output = arg;
        break;
    case OPT_FORCE:
        a->force = 1;
        break;
    default:
        return sz__recipients_option(cli, &a->r, id, arg);
    }
    return SZ_CLI_GO;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int sz_cmd_sign(sz_cli_t *cli, int argc, char **argv) {
    sign_args_t a;
    memset(&a, 0, sizeof(a));
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, sign_options, sign_option, &a, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 2)
        return sz_cli_usage_error(cli, "expected a kind (testimony or case) and a FILE.json");
    const char *kind_name = argv[1], *path = argv[2];
    int kind = sz_kind_from_name(kind_name);
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE)
        return sz_cli_usage_error(cli, "kind must be testimony or case, not '%.40s'", kind_name);
    if (a.output == NULL || a.output[0] == '\0')
        return sz_cli_usage_error(cli, "missing -o OUT");
    if (a.nparents > 0 && !a.have_record)
        return sz_cli_usage_error(cli, "--parent needs --record ID (the record the parents "
                                       "belong to)");
    if (a.have_record && a.nparents == 0)
        return sz_cli_usage_error(cli, "--record needs at least one --parent");
    if (a.r.no_self && a.r.n == 0)
        return sz_cli_usage_error(cli, "--no-self needs --seal-to: name the recipients");
    if (!a.force && access(a.output, F_OK) == 0)
        return sz_cli_fail(cli, "%.*s already exists (use --force to replace it)", MAX_INPUT_PATH,
                           a.output);

    uint8_t *body = NULL;
    size_t body_len = 0;
    rc = sz_cli_read_file(path, SZ_RECORD_MAX_BODY, 0, &body, &body_len);
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli,
                           "%.*s: body is larger than the %u-byte limit (attach large files "
                           "separately)",
                           MAX_INPUT_PATH, path, (unsigned)SZ_RECORD_MAX_BODY);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read %.*s: %s", MAX_INPUT_PATH, path, sz_strerror(rc));
    sz_schema_error_t serr;
    memset(&serr, 0, sizeof(serr));
    rc = sz_schema_validate((unsigned)kind, body, body_len, &serr);
    if (rc != 0) {
        free(body);
        return sz_cli_fail(cli, "%.*s: %s", MAX_INPUT_PATH, path,
                           serr.message[0] != '\0' ? serr.message : sz_strerror(rc));
    }

    uint8_t *sk = NULL;
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK) {
        sodium_memzero(body, body_len);
        free(body);
        return rc;
    }
    uint8_t flags = 0;
    if (a.r.n > 0) {
        uint8_t *sealed = NULL;
        size_t sealed_len = 0, nrecip = 0;
        rc = sz__seal_body(cli, (uint8_t)kind, sk, &a.r, body, body_len, &sealed, &sealed_len,
                           &nrecip);
        /* Only the ciphertext is kept; the plaintext copy is wiped either way. */
        sodium_memzero(body, body_len);
        free(body);
        body = sealed;
        body_len = sealed_len;
        if (rc != SZ_EXIT_OK) {
            sz_secretkey_free(sk);
            return rc;
        }
        flags = SZ_FLAG_SEALED;
    }
    sz_record_fields_t f = {
        .kind = (uint8_t)kind,
        .flags = flags,
        .created = now_ms(),
        .record_id = a.have_record ? a.record_id : NULL,
        .parents = a.nparents > 0 ? a.parents : NULL,
        .nparents = (uint8_t)a.nparents,
        .body = body,
        .body_len = (uint32_t)body_len,
    };
    uint8_t *env = NULL;
    size_t env_len = 0;
    rc = sz_record_sign(&f, sk, &env, &env_len);
    sz_secretkey_free(sk);
    free(body);
    if (rc == SZ_E_PARENTS)
        return sz_cli_fail(cli, "the --parent hashes are not valid (duplicates?)");
    if (rc != 0)
        return sz_cli_fail(cli, "cannot sign: %s", sz_strerror(rc));

    /* Check what was made exactly as a reader will, before it leaves this machine. */
    checked_t c;
    memset(&c, 0, sizeof(c));
    rc = sz_record_open(&c.rec, env, env_len, c.version);
    if (rc != 0) {
        free(env);
        return sz_cli_fail(cli, "the signed record does not verify: %s (this is a bug)",
                           sz_strerror(rc));
    }
    sz_record_id(&c.rec, c.version, c.id);
    rc = sz_cli_write_file(a.output, env, env_len, 0644, a.force);
    if (rc != 0) {
        free(env);
        if (rc == SZ_E_EXISTS)
            return sz_cli_fail(cli, "%.*s already exists (use --force to replace it)",
                               MAX_INPUT_PATH, a.output);
        return sz_cli_fail(cli, "cannot write %.*s: %s", MAX_INPUT_PATH, a.output, sz_strerror(rc));
    }
    c.buf = env;
    c.len = env_len;
    if (cli->json) {
        json_t *o = record_json(a.output, &c, NULL);
        dump_json(o);
        json_decref(o);
    } else {
        print_record(&c, a.output);
    }
    free(env);
    return SZ_EXIT_OK;
}
