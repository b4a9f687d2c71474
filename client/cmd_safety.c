/* Withdrawing what endangers someone: retract (a retraction record, kind 3, naming versions of a
 * record) and redact (a new version with fields removed, then the retraction of every earlier
 * version). The retraction body is schema/retraction.schema.json; whether the signer may retract
 * (the record's author, or an editor) is decided by each node, which refuses anyone else. */
#include "commands.h"

#include "encoding.h"
#include "error.h"
#include "keyfile.h"
#include "node_ops.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define RETRACT_MAX_VERSIONS 4096 /* the schema's maxItems */

#define SAFETY_NODE_HELP                                                                           \
    "The node is --node or $SAMIZDAT_NODE (an invite or HOST:PORT), as for 'samizdat submit'.\n"

const char sz_usage_retract[] =
    "usage: samizdat [--node NODE] [--key FILE] retract ID [--reason TEXT] [--version HASH]...\n"
    "                [--json]\n"
    "\n"
    "Withdraws versions of record ID (a record id or unique prefix): signs a retraction record\n"
    "(kind 3) naming the record and the version hashes, with your key, and submits it. Nodes\n"
    "that accept it purge the bodies (and attachments) of those versions, keep only their\n"
    "hashes and the retraction, and pass the retraction on, so the versions do not come back\n"
    "through sync. Only the record's author or an editor of the node may retract; anyone\n"
    "else is refused. Prints the retraction's record id.\n"
    "\n"
    "  --reason TEXT    why, in words safe to replicate (never the endangering detail itself;\n"
    "                   the retraction is public)\n"
    "  --version HASH   retract this version only (hash or unique prefix; repeatable); the\n"
    "                   default is every version of the record\n"
    "  --json           print the retraction id and the versions as JSON\n"
    "\n" SAFETY_NODE_HELP;

const char sz_usage_redact[] =
    "usage: samizdat [--node NODE] [--key FILE] redact ID FILE.json [--reason TEXT]\n"
    "                [--seal-to KEY]... [--no-self] [--json]\n"
    "\n"
    "Redaction as one command: adds a new version of record ID with the body in FILE.json (the\n"
    "record with the endangering fields removed), then retracts every earlier version, naming\n"
    "the new version as the one they are redacted to. Prints the new version hash and the\n"
    "retraction's record id. A sealed record's new version must be sealed again: give the\n"
    "recipients with --seal-to, as for 'samizdat amend'.\n"
    "\n"
    "  --reason TEXT    why, in words safe to replicate (the retraction is public)\n"
    "  --seal-to KEY    seal the new version to this recipient (repeatable)\n"
    "  --no-self        do not add your own key as a recipient\n"
    "  --json           print the version, the retraction and the retracted versions as JSON\n"
    "\n"
    "If the new version is stored but the retraction is refused, the earlier versions stay\n"
    "readable: the error says so, and 'samizdat retract' can be run again.\n"
    "\n" SAFETY_NODE_HELP;

enum { OPT_REASON = 1, OPT_VERSION };

typedef struct safety_args_s {
    const char *reason;
    const char *versions[RETRACT_MAX_VERSIONS];
    size_t nversions;
    sz__recipients_t r;
} safety_args_t;

static const sz_cli_option_t retract_options[] = {
    {"reason", 0, 1, OPT_REASON},
    {"version", 0, 1, OPT_VERSION},
    {NULL, 0, 0, 0},
};

static const sz_cli_option_t redact_options[] = {
    {"reason", 0, 1, OPT_REASON},
    {"seal-to", 0, 1, SZ__OPT_SEAL_TO},
    {"no-self", 0, 0, SZ__OPT_NO_SELF},
    {NULL, 0, 0, 0},
};

static int safety_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    safety_args_t *a = ctx;
    switch (id) {
    case OPT_REASON:
        if (arg[0] == '\0')
            return sz_cli_usage_error(cli, "--reason must not be empty");
        a->reason = arg;
        return SZ_CLI_GO;
    case OPT_VERSION:
        if (!sz__is_id_prefix(arg))
            return sz_cli_usage_error(cli, "--version must be 1 to 64 hex digits, not '%.80s'",
                                      arg);
        if (a->nversions >= RETRACT_MAX_VERSIONS)
            return sz_cli_usage_error(cli, "at most %d --version options", RETRACT_MAX_VERSIONS);
        a->versions[a->nversions++] = arg;
        return SZ_CLI_GO;
    default:
        return sz__recipients_option(cli, &a->r, id, arg);
    }
}

/* Appends hash to the set (hashes, n), unless it is there already. */
static void add_hash(uint8_t *hashes, size_t *n, const uint8_t h[32]) {
    for (size_t i = 0; i < *n; i++)
        if (memcmp(hashes + 32 * i, h, 32) == 0)
            return;
    memcpy(hashes + 32 * (*n)++, h, 32);
}

/* Builds, checks, signs and submits a retraction of versions (n hashes, borrowed) of record rid,
 * with reason (may be NULL) and redacts_to (may be NULL). On success rid_out is the retraction's
 * record id. Prints why on failure. */
static int submit_retraction(sz_cli_t *cli, sz_net_t *net, const uint8_t sk[static 64],
                             const uint8_t rid[32], const uint8_t *versions, size_t n,
                             const char *reason, const uint8_t *redacts_to,
                             uint8_t retraction_id[32]) {
    json_t *o = json_object(), *a = json_array();
    json_object_set_new(o, "record", sz__hex_json(rid));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, sz__hex_json(versions + 32 * i));
    json_object_set_new(o, "versions", a);
    if (reason != NULL) {
        json_t *t = json_string(reason);
        if (t == NULL) {
            json_decref(o);
            return sz_cli_usage_error(cli, "--reason must be UTF-8 text");
        }
        json_object_set_new(o, "reason", t);
    }
    if (redacts_to != NULL)
        json_object_set_new(o, "redacts_to", sz__hex_json(redacts_to));
    char *body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(o);
    if (body == NULL)
        return sz_cli_fail(cli, "out of memory");
    size_t len = strlen(body);
    sz_schema_error_t serr;
    memset(&serr, 0, sizeof(serr));
    int rc = sz_schema_validate(SZ_KIND_RETRACTION, (const uint8_t *)body, len, &serr);
    if (rc != 0) {
        free(body);
        return sz_cli_fail(cli,
                           "the retraction does not match its schema: %s (is --reason over "
                           "2000 characters?); nothing was sent",
                           serr.message[0] ? serr.message : sz_strerror(rc));
    }
    sz_msg_submitted_t ack = {0};
    rc = sz__node_sign_submit(cli, net, SZ_KIND_RETRACTION, (const uint8_t *)body, len, sk, &ack);
    free(body);
    if (rc != SZ_EXIT_OK)
        return rc;
    memcpy(retraction_id, ack.record_id, 32);
    return SZ_EXIT_OK;
}

/* Checks that rid's record can be retracted (a testimony or case) and returns its full id. */
static int fetch_target(sz_cli_t *cli, sz_net_t *net, const char *id, uint8_t rid[32],
                        int *sealed) {
    sz__fetched_t f;
    int rc = sz__node_fetch(cli, net, id, NULL, &f);
    if (rc != SZ_EXIT_OK)
        return rc;
    uint8_t kind = f.rec.kind;
    memcpy(rid, f.id, 32);
    if (sealed != NULL)
        *sealed = (f.rec.flags & SZ_FLAG_SEALED) != 0;
    sz__fetched_free(&f);
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE)
        return sz_cli_fail(cli, "record %.64s is a %s; only testimonies and cases are retracted",
                           id, sz_kind_name(kind) ? sz_kind_name(kind) : "?");
    return SZ_EXIT_OK;
}

static void print_result(const sz_cli_t *cli, const uint8_t rid[32], const uint8_t *redacted,
                         const uint8_t retraction[32], const uint8_t *versions, size_t n) {
    char hex[65];
    if (cli->json) {
        json_t *o = json_object(), *a = json_array();
        json_object_set_new(o, "record_id", sz__hex_json(rid));
        if (redacted != NULL)
            json_object_set_new(o, "version", sz__hex_json(redacted));
        json_object_set_new(o, "retraction", sz__hex_json(retraction));
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, sz__hex_json(versions + 32 * i));
        json_object_set_new(o, "retracted", a);
        sz__dump_json(o);
        json_decref(o);
        return;
    }
    if (redacted != NULL) {
        /* The version line was printed as soon as the version was stored. */
        sz_hex_encode(hex, retraction, 32);
        printf("retraction  %s (%zu earlier version%s)\n", hex, n, n == 1 ? "" : "s");
        return;
    }
    sz_hex_encode(hex, retraction, 32);
    printf("%s\n", hex);
    fprintf(stderr, "samizdat: note: retracted %zu version%s; nodes purge their bodies\n", n,
            n == 1 ? "" : "s");
}

int sz_cmd_retract(sz_cli_t *cli, int argc, char **argv) {
    safety_args_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return sz_cli_fail(cli, "out of memory");
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, retract_options, safety_option, a, &nop);
    uint8_t *sk = NULL, *versions = NULL;
    size_t n = 0;
    sz_net_t *net = NULL;
    if (rc != SZ_CLI_GO)
        goto out;
    if (nop != 1) {
        rc = sz_cli_usage_error(cli, nop == 0 ? "missing ID" : "expected one ID");
        goto out;
    }
    const char *id = argv[1];
    if (!sz__is_id_prefix(id)) {
        rc = sz_cli_usage_error(cli, "ID must be 1 to 64 hex digits, not '%.80s'", id);
        goto out;
    }
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        goto out;
    if ((rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK)
        goto out;
    uint8_t rid[32], retraction[32];
    char idhex[65];
    if ((rc = fetch_target(cli, net, id, rid, NULL)) != SZ_EXIT_OK)
        goto out;
    sz_hex_encode(idhex, rid, 32);
    if (a->nversions == 0) {
        uint8_t hrid[32];
        if ((rc = sz__node_history(cli, net, idhex, NULL, &versions, &n, hrid, NULL)) != SZ_EXIT_OK)
            goto out;
        if (n == 0 || n > RETRACT_MAX_VERSIONS) {
            rc = sz_cli_fail(cli,
                             "record %s has %zu versions; a retraction names 1 to %d (use "
                             "--version)",
                             idhex, n, RETRACT_MAX_VERSIONS);
            goto out;
        }
    } else {
        versions = malloc(32 * a->nversions);
        if (versions == NULL) {
            rc = sz_cli_fail(cli, "out of memory");
            goto out;
        }
        /* Each prefix is resolved by fetching that version, which also proves it belongs to the
         * record. */
        for (size_t i = 0; i < a->nversions; i++) {
            sz__fetched_t f;
            if ((rc = sz__node_fetch(cli, net, idhex, a->versions[i], &f)) != SZ_EXIT_OK)
                goto out;
            add_hash(versions, &n, f.version);
            sz__fetched_free(&f);
        }
    }
    rc = submit_retraction(cli, net, sk, rid, versions, n, a->reason, NULL, retraction);
    if (rc != SZ_EXIT_OK)
        goto out;
    print_result(cli, rid, NULL, retraction, versions, n);
    rc = SZ_EXIT_OK;
out:
    free(versions);
    sz_secretkey_free(sk);
    sz_net_close(net);
    free(a);
    return rc;
}

int sz_cmd_redact(sz_cli_t *cli, int argc, char **argv) {
    safety_args_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return sz_cli_fail(cli, "out of memory");
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, redact_options, safety_option, a, &nop);
    uint8_t *sk = NULL, *versions = NULL;
    size_t n = 0, nrecip = 0;
    sz_net_t *net = NULL;
    if (rc != SZ_CLI_GO)
        goto out;
    if (nop != 2) {
        rc = sz_cli_usage_error(cli, "expected a record ID and a FILE.json");
        goto out;
    }
    const char *id = argv[1], *path = argv[2];
    if (!sz__is_id_prefix(id)) {
        rc = sz_cli_usage_error(cli, "ID must be 1 to 64 hex digits, not '%.80s'", id);
        goto out;
    }
    if (a->r.no_self && a->r.n == 0) {
        rc = sz_cli_usage_error(cli, "--no-self needs --seal-to: name the recipients");
        goto out;
    }
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        goto out;
    if ((rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK)
        goto out;
    uint8_t rid[32], hrid[32], retraction[32];
    char idhex[65];
    if ((rc = fetch_target(cli, net, id, rid, NULL)) != SZ_EXIT_OK)
        goto out;
    sz_hex_encode(idhex, rid, 32);
    /* The versions to retract are those that exist before the redacted one. */
    if ((rc = sz__node_history(cli, net, idhex, NULL, &versions, &n, hrid, NULL)) != SZ_EXIT_OK)
        goto out;
    if (n == 0 || n > RETRACT_MAX_VERSIONS) {
        rc = sz_cli_fail(cli, "record %s has %zu versions; a retraction names 1 to %d", idhex, n,
                         RETRACT_MAX_VERSIONS);
        goto out;
    }
    sz_msg_submitted_t ack = {0};
    if ((rc = sz__node_amend(cli, net, sk, idhex, path, &a->r, &ack, &nrecip)) != SZ_EXIT_OK)
        goto out;
    if (!cli->json) {
        /* Printed at once, so that it is on record even if the retraction is refused. */
        char vhex[65];
        sz_hex_encode(vhex, ack.version_hash, 32);
        printf("version     %s (redacted, current)\n", vhex);
        fflush(stdout);
    }
    rc = submit_retraction(cli, net, sk, rid, versions, n, a->reason, ack.version_hash, retraction);
    if (rc != SZ_EXIT_OK)
        goto out;
    print_result(cli, rid, ack.version_hash, retraction, versions, n);
    rc = SZ_EXIT_OK;
out:
    free(versions);
    sz_secretkey_free(sk);
    sz_net_close(net);
    free(a);
    return rc;
}
