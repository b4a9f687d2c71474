/* Networked commands: submit, amend, get, history, list, search, status, and verify by id. Every
 * record the node returns is verified here (signature, version hash, record id, the id or version
 * that was asked for) before anything is printed: the node is never trusted. */
#include "commands.h"

#include "encoding.h"
#include "error.h"
#include "invite.h"
#include "keyfile.h"
#include "merkle.h"
#include "msg.h"
#include "net.h"
#include "node_ops.h"
#include "record.h"
#include "schema.h"
#include "seal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_INPUT_PATH 200
#define DEFAULT_LIST_LIMIT 50
#define DEFAULT_SEARCH_LIMIT 20

#define NODE_HELP                                                                                  \
    "The node is --node or $SAMIZDAT_NODE: an invite (sz1,HOST:PORT,NODEKEY,NETKEY), which pins\n" \
    "the node's key, or a bare HOST:PORT, which takes the network key from\n"                      \
    "$SAMIZDAT_NETWORK_KEY_FILE or ~/.config/samizdat/network.key and does NOT pin the node's\n"   \
    "key (any node holding the network key is accepted).\n"

/* Reading commands connect with --key or $SAMIZDAT_KEY when one is named, else anonymously. */
#define READ_HELP                                                                                  \
    "Reading needs no key: unless --key or $SAMIZDAT_KEY names one, the connection uses a\n"       \
    "throwaway identity.\n"

const char sz_usage_submit[] =
    "usage: samizdat [--node NODE] [--key FILE] submit testimony|case FILE.json\n"
    "                [--seal-to KEY]... [--seal] [--no-self] [--json]\n"
    "\n"
    "Checks the JSON body in FILE.json against the kind's schema, signs it here with your key\n"
    "(byte for byte, never re-serialised) and sends it to the node, which answers once the\n"
    "record is durably stored. Prints the record id; with --json the record id, version hash,\n"
    "the node's log position (seq) and what the node did with it.\n"
    "\n"
    "With --seal-to the body is sealed here (proto/SEALING.md) before it is signed: only the\n"
    "recipients can read it, while every node still verifies the signature and mirrors the\n"
    "ciphertext. YOUR OWN KEY IS ADDED AS A RECIPIENT unless --no-self is given, so that you\n"
    "can read your testimony back; the sealed body does not name its recipients. The node and\n"
    "anyone else see the kind, author key, time, versions and the padded size, never the text.\n"
    "\n"
    "Whenever it seals, submit first asks the node for its default recipients (seal_to in the\n"
    "node's config, shown by `samizdat status`) and seals to them too. They come from the node\n"
    "you connect to: pin it with an invite, or anyone holding the network key can add a reader.\n"
    "\n"
    "  --seal-to KEY      seal to this recipient: a public key (44 characters of base64) or a\n"
    "                     .pub file; repeat for more (at most 63 with the node's defaults)\n"
    "  --seal             seal to the node's default recipients (and yourself); fails, sending\n"
    "                     nothing, when the node names none\n"
    "  --no-self          do not add your own key as a recipient (you cannot read it back)\n"
    "  --attach PATH      (not yet supported: attachments come with a later release)\n"
    "  --json             print the result as JSON\n"
    "\n" NODE_HELP;

const char sz_usage_amend[] =
    "usage: samizdat [--node NODE] [--key FILE] amend ID FILE.json [--seal-to KEY]...\n"
    "                [--no-self] [--json]\n"
    "\n"
    "Adds a new version with the body in FILE.json to record ID (a record id or a unique\n"
    "prefix). The new version's parents are all the record's current heads, so amending a\n"
    "record in conflict also merges it. The body is checked against the record's schema and\n"
    "signed here. Prints the new version hash.\n"
    "\n"
    "A sealed record must stay sealed: give its recipients again with --seal-to (a sealed\n"
    "body does not say who can open it, by design, so they cannot be taken from it). Your own\n"
    "key is added unless --no-self is given, as for submit.\n"
    "\n"
    "  --seal-to KEY   seal the new version to this recipient (key text or .pub file)\n"
    "  --no-self       do not add your own key as a recipient\n"
    "  --json          print the result as JSON\n"
    "\n" NODE_HELP;

const char sz_usage_get[] =
    "usage: samizdat [--node NODE] get ID [--version HASH] [--json]\n"
    "\n"
    "Fetches record ID (a record id or unique prefix) from the node and verifies it here: the\n"
    "signature, the version hash, the record id, and that it is what was asked for. Prints it\n"
    "for people, or with --json: id, version, kind, author, created, parents, body (parsed),\n"
    "body_text (the exact signed bytes), conflicts (the other heads), generation, versions.\n"
    "\n"
    "A sealed record is opened here when your key (--key, $SAMIZDAT_KEY, or the default key if\n"
    "it exists) is one of its recipients: the plaintext is shown (with --json as body and\n"
    "body_text, with \"sealed\": true, \"opened\": true) and written nowhere else. Otherwise\n"
    "get shows that it is sealed, its slot count and padded size, and exits 0.\n"
    "\n"
    "  --version HASH   a version of the record (hash or unique prefix) instead of the current\n"
    "  -o, --output OUT also write the verified envelope to the record file OUT (for\n"
    "                   'samizdat verify' or 'show'; sha256sum OUT is the version hash);\n"
    "                   a sealed record is written as signed, still sealed\n"
    "  --json           print the result as JSON\n"
    "\n" NODE_HELP READ_HELP;

const char sz_usage_history[] =
    "usage: samizdat [--node NODE] history ID [--json]\n"
    "\n"
    "Lists every version of record ID (a record id or unique prefix), parents before children,\n"
    "with its log position, version hash, author, creation time and parents. Each version is\n"
    "verified here.\n"
    "\n"
    "  --json   print the versions as a JSON array\n"
    "\n" NODE_HELP READ_HELP;

const char sz_usage_list[] =
    "usage: samizdat [--node NODE] list [--kind K] [--where FIELD=VALUE]... [--limit N]\n"
    "                [--cursor TOKEN] [--newest] [--json]\n"
    "\n"
    "Lists records, oldest first (by first creation time), a page at a time.\n"
    "\n"
    "  --kind K             testimony, case, retraction or revocation\n"
    "  --where FIELD=VALUE  a filter (up to 8): kind, author, country, period (EDTF),\n"
    "                       event_type, pathway, actor_role, defection_type, act_type,\n"
    "                       witness_role, language, case, testimony, attr.NAME\n"
    "  --limit N            records per page, 1..1000 (default 50)\n"
    "  --cursor TOKEN       continue after a previous page (its next cursor)\n"
    "  --newest             newest first\n"
    "  --json               print {records: [...], next_cursor} as JSON\n"
    "\n" NODE_HELP READ_HELP;

const char sz_usage_search[] =
    "usage: samizdat [--node NODE] search TEXT [--limit N] [--json]\n"
    "\n"
    "Full-text search of the node's records (any language; words are matched after\n"
    "normalisation). Prints the matching record ids, best first, with their titles.\n"
    "\n"
    "  --limit N   at most N hits, 1..1000 (default 20)\n"
    "  --json      print the hits as a JSON array\n"
    "\n" NODE_HELP READ_HELP;

const char sz_usage_status[] =
    "usage: samizdat [--node NODE] status [--json]\n"
    "\n"
    "Prints the node's key, software and protocol version, record and version counts, peers,\n"
    "its default recipients of sealed records (seal_to: `submit --seal` seals to them) and its\n"
    "signed Merkle tree head (the signature is verified here against the node's key).\n"
    "\n"
    "  --json   print the status as JSON\n"
    "\n" NODE_HELP READ_HELP;

/* ---- Small helpers -------------------------------------------------------------------------- */

uint64_t sz__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sz__dump_json(json_t *o) {
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
}

json_t *sz__hex_json(const uint8_t *b) {
    char hex[SZ_HASH_HEX_LEN + 1];
    sz_hex_encode(hex, b, 32);
    return json_string(hex);
}

static json_t *key_json(const uint8_t *k) {
    char t[SZ_PUBKEY_TEXT_LEN + 1];
    sz_pubkey_format(t, k);
    return json_string(t);
}

static json_t *time_json(uint64_t ms) {
    char when[64];
    sz_cli_format_time(when, sizeof(when), ms);
    return json_string(when);
}

static json_t *u64_json(uint64_t v) {
    if (v <= (uint64_t)INT64_MAX)
        return json_integer((json_int_t)v);
    char s[24];
    snprintf(s, sizeof(s), "%llu", (unsigned long long)v);
    return json_string(s);
}

static int has_prefix_ci(const char *hex, const char *prefix) {
    return strncasecmp(hex, prefix, strlen(prefix)) == 0;
}

int sz__is_id_prefix(const char *s) {
    return sz_hex_is_prefix(s, SZ_HASH_HEX_LEN) == 1;
}

/* ---- Connecting ------------------------------------------------------------------------------ */

/* Loads the network key for a bare HOST:PORT into key (secret, 32 bytes). The file holds the
 * key's base64 text (or 64 hex digits, or an invite line); '#' lines are comments. */
static int load_network_key(const sz_cli_t *cli, uint8_t key[static 32]) {
    char path[PATH_MAX];
    const char *env = getenv("SAMIZDAT_NETWORK_KEY_FILE");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env != NULL && env[0] != '\0')
        n = snprintf(path, sizeof(path), "%s", env);
    else if (xdg != NULL && xdg[0] == '/')
        n = snprintf(path, sizeof(path), "%s/samizdat/network.key", xdg);
    else if (home != NULL && home[0] != '\0')
        n = snprintf(path, sizeof(path), "%s/.config/samizdat/network.key", home);
    else
        return sz_cli_fail(cli, "a bare HOST:PORT needs the network key: give an invite to "
                                "--node, or set SAMIZDAT_NETWORK_KEY_FILE");
    if (n < 0 || (size_t)n >= sizeof(path))
        return sz_cli_fail(cli, "network key path is too long");
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = sz_cli_read_file(path, 4096, 1, &text, &len);
    if (rc != 0)
        return sz_cli_fail(cli,
                           "a bare HOST:PORT needs the network key, and %.200s cannot be read: %s "
                           "(give an invite to --node, or set SAMIZDAT_NETWORK_KEY_FILE)",
                           path, sz_strerror(rc));
    int found = 0;
    char *save = NULL;
    for (char *line = strtok_r((char *)text, "\n", &save); line != NULL && !found;
         line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l > 0 && isspace((unsigned char)line[l - 1]))
            line[--l] = '\0';
        while (isspace((unsigned char)*line))
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        if (sz_invite_looks_like(line)) {
            sz_invite_t inv;
            if (sz_invite_parse(line, &inv) == 0) {
                memcpy(key, inv.network_key, 32);
                found = 1;
            }
            sz_invite_wipe(&inv);
        } else if (strlen(line) == 64 && sz_hex_decode(key, 32, line) == 0) {
            found = 1;
        } else if (sz_pubkey_parse(key, line) == 0) {
            found = 1;
        }
        break;
    }
    sodium_free(text);
    if (!found)
        return sz_cli_fail(cli, "%.200s does not hold a network key (44 characters of base64)",
                           path);
    return SZ_EXIT_OK;
}

/* Connects to the node named by --node or $SAMIZDAT_NODE. sk (borrowed, 64 bytes) is our
 * identity; when NULL, the key named by --key or $SAMIZDAT_KEY is loaded if one was named, and
 * otherwise a throwaway identity is made (reading needs no key). Prints why on failure. */
int sz__node_connect(sz_cli_t *cli, const uint8_t *sk, sz_net_t **out) {
    *out = NULL;
    const char *spec = cli->node;
    if (spec == NULL || spec[0] == '\0')
        spec = getenv("SAMIZDAT_NODE");
    if (spec == NULL || spec[0] == '\0')
        return sz_cli_fail(cli, "no node given: use --node INVITE (or HOST:PORT) or set "
                                "SAMIZDAT_NODE");
    sz_invite_t *inv = sodium_malloc(sizeof(*inv));
    if (inv == NULL)
        return sz_cli_fail(cli, "out of memory");
    memset(inv, 0, sizeof(*inv));
    int pinned = 0, rc;
    if (sz_invite_looks_like(spec)) {
        const char *why = NULL;
        rc = sz_invite_parse_why(spec, inv, &why);
        if (rc != 0) {
            sodium_free(inv);
            return sz_cli_fail(cli, "--node: %s", why != NULL ? why : sz_invite_strerror(rc));
        }
        pinned = 1;
    } else {
        const char *why = NULL;
        rc = sz_hostport_parse(spec, inv->host, &inv->port, &why);
        if (rc != 0) {
            sodium_free(inv);
            return sz_cli_usage_error(cli, "--node must be an invite or HOST:PORT: %s",
                                      why != NULL ? why : sz_strerror(rc));
        }
        if ((rc = load_network_key(cli, inv->network_key)) != SZ_EXIT_OK) {
            sodium_free(inv);
            return rc;
        }
    }
    uint8_t *own = NULL;
    if (sk == NULL) {
        const char *env = getenv("SAMIZDAT_KEY");
        if ((cli->key_path != NULL && cli->key_path[0] != '\0') || (env != NULL && env[0])) {
            if ((rc = sz_cli_load_secret_key(cli, &own)) != SZ_EXIT_OK) {
                sodium_free(inv);
                return rc;
            }
        } else if ((rc = sz_secretkey_generate(&own)) != 0) {
            sodium_free(inv);
            return sz_cli_fail(cli, "cannot make a throwaway identity: %s", sz_strerror(rc));
        }
        sk = own;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)inv->port);
    sz_net_params_t p = {
        .host = inv->host,
        .port = port,
        .network_key = inv->network_key,
        .node_key = pinned ? inv->node_key : NULL,
        .secret_key = sk,
        .timeout_ms = 0,
    };
    const char *t = getenv("SAMIZDAT_TIMEOUT_MS");
    if (t != NULL && atoi(t) > 0)
        p.timeout_ms = atoi(t);
    char why[SZ_NET_ERROR_MAX];
    rc = sz_net_connect(out, &p, why, sizeof(why));
    sz_secretkey_free(own);
    sodium_free(inv);
    if (rc != 0)
        return sz_cli_fail(cli, "%s", why);
    return SZ_EXIT_OK;
}

/* Reports a failed exchange: an ERROR from the node (code < 0 with the node's text) or a broken
 * connection. what names the request for people. */
int sz__node_fail(sz_cli_t *cli, sz_net_t *net, int rc, const char *what) {
    const char *text = sz_net_error(net);
    if (rc == SZ_E_DENIED)
        return sz_cli_fail(cli, "%s: refused by the node's policy: %s", what, text);
    return sz_cli_fail(cli, "%s: %s", what, text[0] ? text : sz_strerror(rc));
}

/* ---- Fetching and verifying a record ------------------------------------------------------- */

void sz__fetched_free(sz__fetched_t *f) {
    free(f->env);
    free(f->heads);
    memset(f, 0, sizeof(*f));
}

/* GETs id (a prefix) and optionally version (a prefix or NULL) and verifies the answer against
 * what was asked. Prints why on failure. */
int sz__node_fetch(sz_cli_t *cli, sz_net_t *net, const char *id, const char *version,
                   sz__fetched_t *f) {
    memset(f, 0, sizeof(*f));
    sz_msg_get_t g;
    memset(&g, 0, sizeof(g));
    snprintf(g.id, sizeof(g.id), "%s", id);
    if (version != NULL)
        snprintf(g.version, sizeof(g.version), "%s", version);
    uint8_t buf[2 + 2 * SZ_MSG_MAX_HEX];
    size_t n = 0;
    int rc = sz_msg_get_encode(&g, buf, sizeof(buf), &n);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot encode GET: %s", sz_strerror(rc));
    sz_msg_t m;
    rc = sz_net_call(net, SZ_MSG_GET, buf, n, &m);
    if (rc == SZ_E_NOT_FOUND && version != NULL)
        return sz_cli_fail(cli, "record %.64s has no version %.64s (%s)", id, version,
                           sz_net_error(net));
    if (rc == SZ_E_NOT_FOUND)
        return sz_cli_fail(cli, "no record %.64s on this node (%s)", id, sz_net_error(net));
    if (rc == SZ_E_RETRACTED)
        return sz_cli_fail(cli, "record %.64s%s%.64s has been retracted: its body is purged (%s)",
                           id, version != NULL ? " version " : "", version != NULL ? version : "",
                           sz_net_error(net));
    if (rc == SZ_E_AMBIGUOUS)
        return sz_cli_fail(cli, "id prefix %.64s matches more than one %s; give more digits (%s)",
                           version != NULL ? version : id, version != NULL ? "version" : "record",
                           sz_net_error(net));
    if (rc != 0)
        return sz__node_fail(cli, net, rc, "get");
    sz_msg_record_t r;
    if (m.header.type != SZ_MSG_RECORD || sz_msg_record_decode(&r, m.payload, m.len) != 0)
        return sz_cli_fail(cli, "the node answered GET with a malformed %s message",
                           sz_msg_type_name(m.header.type));
    f->env = malloc(r.envelope_len);
    f->heads = malloc((size_t)r.nheads * 32);
    if (f->env == NULL || f->heads == NULL) {
        sz__fetched_free(f);
        return sz_cli_fail(cli, "out of memory");
    }
    memcpy(f->env, r.envelope, r.envelope_len);
    f->env_len = r.envelope_len;
    memcpy(f->heads, r.heads, (size_t)r.nheads * 32);
    f->nheads = r.nheads;
    memcpy(f->current, r.current, 32);
    f->generation = r.generation;
    f->first_created = r.first_created;
    f->nversions = r.nversions;

    const char *problem = NULL;
    char idhex[SZ_HASH_HEX_LEN + 1], vhex[SZ_HASH_HEX_LEN + 1];
    rc = sz_record_open(&f->rec, f->env, f->env_len, f->version);
    if (rc != 0) {
        problem = sz_strerror(rc);
    } else {
        sz_record_id(&f->rec, f->version, f->id);
        sz_hex_encode(idhex, f->id, 32);
        sz_hex_encode(vhex, f->version, 32);
        if (sodium_memcmp(f->version, r.version_hash, 32) != 0)
            problem = "its version hash is not the hash of the envelope sent";
        else if (sodium_memcmp(f->id, r.record_id, 32) != 0)
            problem = "the envelope belongs to another record than the one named";
        else if (!has_prefix_ci(idhex, id))
            problem = "it is not the record that was asked for";
        else if (version != NULL && !has_prefix_ci(vhex, version))
            problem = "it is not the version that was asked for";
        else if (version == NULL && sodium_memcmp(f->version, f->current, 32) != 0)
            problem = "it is not the current version it claims to be";
        else if (r.nheads < 1 || sodium_memcmp(f->heads, f->current, 32) != 0)
            problem = "its list of heads does not start with the current version";
    }
    if (problem != NULL) {
        sz__fetched_free(f);
        return sz_cli_fail(cli,
                           "the node's answer does not verify: %s (the node is faulty or "
                           "lying)",
                           problem);
    }
    f->schema_rc = 0;
    if (!(f->rec.flags & SZ_FLAG_SEALED) &&
        (f->rec.kind == SZ_KIND_TESTIMONY || f->rec.kind == SZ_KIND_CASE ||
         f->rec.kind == SZ_KIND_RETRACTION || f->rec.kind == SZ_KIND_REVOCATION))
        f->schema_rc =
            sz_schema_validate(f->rec.kind, f->rec.body, f->rec.body_len, &f->schema_err);
    return SZ_EXIT_OK;
}

static json_t *parents_json(const sz_record_t *rec) {
    json_t *a = json_array();
    for (unsigned i = 0; i < rec->nparents; i++)
        json_array_append_new(a, sz__hex_json(rec->parents + 32 * i));
    return a;
}

static void print_parents(const sz_record_t *rec) {
    char hex[SZ_HASH_HEX_LEN + 1];
    if (rec->nparents == 0)
        printf("parents    none (first version)\n");
    for (unsigned i = 0; i < rec->nparents; i++) {
        sz_hex_encode(hex, rec->parents + 32 * i, 32);
        printf("%s %s\n", i == 0 ? "parents   " : "          ", hex);
    }
}

/* ---- submit ---------------------------------------------------------------------------------- */

enum {
    OPT_ATTACH = 1,
    OPT_OUTPUT,
    OPT_VERSION,
    OPT_KIND,
    OPT_WHERE,
    OPT_LIMIT,
    OPT_CURSOR,
    OPT_NEWEST,
    OPT_SEAL
};

int sz__parse_key_arg(sz_cli_t *cli, const char *what, const char *arg, uint8_t pk[static 32]) {
    if (sz_pubkey_parse(pk, arg) == 0)
        return SZ_EXIT_OK;
    uint8_t *text = NULL;
    size_t len = 0;
    int rc = sz_cli_read_file(arg, SZ_PUBFILE_TEXT_MAX, 0, &text, &len);
    if (rc == -ENOENT)
        return sz_cli_usage_error(cli,
                                  "%s '%.80s' is neither a public key (44 characters of base64) "
                                  "nor an existing .pub file",
                                  what, arg);
    if (rc != 0)
        return sz_cli_fail(cli, "%s: cannot read %.*s: %s", what, MAX_INPUT_PATH, arg,
                           sz_strerror(rc));
    rc = sz_pubkey_parse_any(pk, (const char *)text, len);
    free(text);
    if (rc != 0)
        return sz_cli_fail(cli,
                           "%s: %.*s does not hold a samizdat public key (was a secret key "
                           "file given?)",
                           what, MAX_INPUT_PATH, arg);
    return SZ_EXIT_OK;
}

/* Adds a --seal-to argument to r. A key given twice is kept once. */
static int add_recipient(sz_cli_t *cli, sz__recipients_t *r, const char *arg) {
    uint8_t pk[32];
    int rc = sz__parse_key_arg(cli, "--seal-to", arg, pk);
    if (rc != SZ_EXIT_OK)
        return rc;
    for (size_t i = 0; i < r->n; i++)
        if (memcmp(r->keys + 32 * i, pk, 32) == 0)
            return SZ_CLI_GO;
    /* One slot is kept free for the author's own key. */
    if (r->n >= SZ_SEAL_MAX_RECIPIENTS - 1)
        return sz_cli_usage_error(cli, "at most %u --seal-to recipients",
                                  SZ_SEAL_MAX_RECIPIENTS - 1);
    memcpy(r->keys + 32 * r->n++, pk, 32);
    return SZ_CLI_GO;
}

int sz__recipients_option(sz_cli_t *cli, sz__recipients_t *r, int id, const char *arg) {
    if (id == SZ__OPT_SEAL_TO)
        return add_recipient(cli, r, arg);
    if (id == SZ__OPT_NO_SELF) {
        r->no_self = 1;
        return SZ_CLI_GO;
    }
    return SZ_EXIT_USAGE;
}

/* Wipes a plaintext body before freeing it: it may be a testimony about to be sealed. */
static void body_free(uint8_t *body, size_t len) {
    if (body != NULL)
        sodium_memzero(body, len);
    free(body);
}

/* Seals plain (borrowed) for a record of kind by the owner of sk to r's recipients and, unless
 * --no-self, to the author's own key. On success *out is malloc'd (free()). Prints why on
 * failure. */
int sz__seal_body(sz_cli_t *cli, uint8_t kind, const uint8_t sk[static 64],
                  const sz__recipients_t *r, const uint8_t *plain, size_t len, uint8_t **out,
                  size_t *out_len, size_t *nrecipients) {
    uint8_t keys[SZ_SEAL_MAX_RECIPIENTS * 32];
    size_t n = r->n;
    memcpy(keys, r->keys, 32 * n);
    int self_listed = 0;
    for (size_t i = 0; i < n; i++)
        self_listed |= memcmp(keys + 32 * i, sk + 32, 32) == 0;
    if (!r->no_self && !self_listed)
        memcpy(keys + 32 * n++, sk + 32, 32);
    if (n == 0)
        return sz_cli_usage_error(cli, "--no-self leaves no recipient: name one with --seal-to");
    int rc = sz_seal(plain, len, kind, sk + 32, keys, n, out, out_len);
    if (rc == SZ_E_KEY)
        return sz_cli_fail(cli, "a --seal-to key is not a valid Ed25519 public key; nothing was "
                                "sent");
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli, "the sealed body would exceed the %u-byte limit; nothing was sent",
                           (unsigned)SZ_RECORD_MAX_BODY);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot seal the body: %s", sz_strerror(rc));
    *nrecipients = n;
    return SZ_EXIT_OK;
}

static const sz_cli_option_t submit_options[] = {
    {"attach", 0, 1, OPT_ATTACH},
    {"seal-to", 0, 1, SZ__OPT_SEAL_TO},
    {"seal", 0, 0, OPT_SEAL},
    {"no-self", 0, 0, SZ__OPT_NO_SELF},
    {NULL, 0, 0, 0},
};

typedef struct submit_ctx_s {
    sz__recipients_t r; /* --seal-to and --no-self */
    int seal;           /* --seal: the node's default recipients are required */
} submit_ctx_t;

static int submit_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    submit_ctx_t *c = ctx;
    if (id == OPT_ATTACH)
        return sz_cli_fail(cli, "--attach is not yet supported (attachments come with a later "
                                "release); nothing was sent");
    if (id == OPT_SEAL) {
        c->seal = 1;
        return SZ_CLI_GO;
    }
    return sz__recipients_option(cli, &c->r, id, arg);
}

/* Asks the node on net for STATUS and checks the answer against the key the node proved in the
 * handshake. st->peers must point at SZ_MSG_MAX_PEERS entries (borrowed); st borrows from the
 * message buffer of net until the next call. Prints why on failure. */
static int node_status(sz_cli_t *cli, sz_net_t *net, sz_msg_status_ok_t *st) {
    sz_msg_t m;
    memset(&m, 0, sizeof(m));
    int rc = sz_net_call(net, SZ_MSG_STATUS, NULL, 0, &m);
    if (rc != 0)
        return sz__node_fail(cli, net, rc, "status");
    if (m.header.type != SZ_MSG_STATUS_OK ||
        sz_msg_status_ok_decode(st, SZ_MSG_MAX_PEERS, m.payload, m.len) != 0)
        return sz_cli_fail(cli, "the node answered STATUS with a malformed %s message",
                           sz_msg_type_name(m.header.type));
    const uint8_t *hk = sz_net_node_key(net);
    if (sodium_memcmp(st->node_key, hk, 32) != 0 ||
        sodium_memcmp(st->tree_head.node_key, hk, 32) != 0)
        return sz_cli_fail(cli, "the node's status names another key than the one it proved in "
                                "the handshake (the node is faulty or lying)");
    if (sz_tree_head_verify(&st->tree_head) != 0)
        return sz_cli_fail(cli, "the node's signed tree head does not verify against its key (the "
                                "node is faulty or lying)");
    return SZ_EXIT_OK;
}

/* Adds the node's default recipients (its config's seal_to, from STATUS) to r, skipping keys
 * already there; *added counts the new ones. With required (--seal), a node that names none is
 * a failure. Prints why on failure; nothing has been sent then. */
static int add_node_recipients(sz_cli_t *cli, sz_net_t *net, sz__recipients_t *r, int required,
                               size_t *added) {
    *added = 0;
    sz_msg_status_ok_t st;
    memset(&st, 0, sizeof(st));
    st.peers = calloc(SZ_MSG_MAX_PEERS, sizeof(*st.peers));
    if (st.peers == NULL)
        return sz_cli_fail(cli, "out of memory");
    int rc = node_status(cli, net, &st);
    free(st.peers);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (required && st.nseal == 0)
        return sz_cli_fail(cli, "--seal: the node names no default recipients (seal_to in its "
                                "config); name them with --seal-to; nothing was sent");
    for (unsigned i = 0; i < st.nseal; i++) {
        int seen = 0;
        for (size_t k = 0; k < r->n && !seen; k++)
            seen = memcmp(r->keys + 32 * k, st.seal_to[i], 32) == 0;
        if (seen)
            continue;
        /* One slot stays free for the author's own key, as for --seal-to. */
        if (r->n >= SZ_SEAL_MAX_RECIPIENTS - 1)
            return sz_cli_fail(cli,
                               "more than %u recipients with the node's defaults; nothing "
                               "was sent",
                               SZ_SEAL_MAX_RECIPIENTS - 1);
        memcpy(r->keys + 32 * r->n++, st.seal_to[i], 32);
        (*added)++;
    }
    return SZ_EXIT_OK;
}

/* Reads and schema-checks a body file. Prints why on failure. The caller releases *body with
 * body_free(). */
static int read_body(sz_cli_t *cli, const char *path, unsigned kind, uint8_t **body, size_t *len) {
    int rc = sz_cli_read_file(path, SZ_RECORD_MAX_BODY, 0, body, len);
    if (rc == SZ_E_TOO_LARGE)
        return sz_cli_fail(cli, "%.*s: body is larger than the %u-byte limit", MAX_INPUT_PATH, path,
                           (unsigned)SZ_RECORD_MAX_BODY);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot read %.*s: %s", MAX_INPUT_PATH, path, sz_strerror(rc));
    sz_schema_error_t serr;
    memset(&serr, 0, sizeof(serr));
    rc = sz_schema_validate(kind, *body, *len, &serr);
    if (rc != 0) {
        body_free(*body, *len);
        *body = NULL;
        return sz_cli_fail(cli, "%.*s: %s", MAX_INPUT_PATH, path,
                           serr.message[0] != '\0' ? serr.message : sz_strerror(rc));
    }
    return SZ_EXIT_OK;
}

int sz__node_submit(sz_cli_t *cli, sz_net_t *net, const uint8_t *env, size_t env_len,
                    const uint8_t version[32], sz_msg_submitted_t *ack) {
    sz_msg_t m;
    memset(&m, 0, sizeof(m));
    int rc = sz_net_call(net, SZ_MSG_SUBMIT, env, env_len, &m);
    if (rc != 0)
        return sz__node_fail(cli, net, rc, "the node did not accept the record");
    if (m.header.type != SZ_MSG_SUBMITTED || sz_msg_submitted_decode(ack, m.payload, m.len) != 0)
        return sz_cli_fail(cli, "the node answered SUBMIT with a malformed %s message",
                           sz_msg_type_name(m.header.type));
    if (sodium_memcmp(ack->version_hash, version, 32) != 0)
        return sz_cli_fail(cli, "the node acknowledged another version than the one sent (the "
                                "node is faulty)");
    return SZ_EXIT_OK;
}

int sz__node_sign_submit(sz_cli_t *cli, sz_net_t *net, uint8_t kind, const uint8_t *body,
                         size_t body_len, const uint8_t sk[static 64], sz_msg_submitted_t *ack) {
    sz_record_fields_t fields = {
        .kind = kind,
        .created = sz__now_ms(),
        .body = body,
        .body_len = (uint32_t)body_len,
    };
    uint8_t *env = NULL;
    size_t env_len = 0;
    int rc = sz_record_sign(&fields, sk, &env, &env_len);
    if (rc != 0)
        return sz_cli_fail(cli, "cannot sign: %s", sz_strerror(rc));
    sz_record_t rec;
    uint8_t version[32];
    if (sz_record_open(&rec, env, env_len, version) != 0) {
        free(env);
        return sz_cli_fail(cli, "the signed record does not verify (this is a bug)");
    }
    rc = sz__node_submit(cli, net, env, env_len, version, ack);
    free(env);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (sodium_memcmp(ack->record_id, version, 32) != 0)
        return sz_cli_fail(cli, "the node reported another record id than the record's (the "
                                "node is faulty)");
    return SZ_EXIT_OK;
}

/* nsealed is the number of recipients when the version is sealed, else 0. */
static void print_ack(const sz_cli_t *cli, const sz_msg_submitted_t *ack, int amend,
                      size_t nsealed) {
    char hex[SZ_HASH_HEX_LEN + 1];
    if (cli->json) {
        json_t *o = json_object();
        json_object_set_new(o, "record_id", sz__hex_json(ack->record_id));
        json_object_set_new(o, "version", sz__hex_json(ack->version_hash));
        json_object_set_new(o, "seq", u64_json(ack->seq));
        json_object_set_new(o, "existed", json_boolean(ack->flags & SZ_SUBMIT_EXISTED));
        json_object_set_new(o, "current", json_boolean(ack->flags & SZ_SUBMIT_CURRENT));
        json_object_set_new(o, "conflict", json_boolean(ack->flags & SZ_SUBMIT_CONFLICT));
        json_object_set_new(o, "sealed", json_boolean(nsealed > 0));
        if (nsealed > 0)
            json_object_set_new(o, "recipients", json_integer((json_int_t)nsealed));
        sz__dump_json(o);
        json_decref(o);
        return;
    }
    sz_hex_encode(hex, amend ? ack->version_hash : ack->record_id, 32);
    printf("%s\n", hex);
    if (nsealed > 0)
        fprintf(stderr, "samizdat: note: sealed; readable only by its %zu recipient%s\n", nsealed,
                nsealed == 1 ? "" : "s");
    if (ack->flags & SZ_SUBMIT_EXISTED)
        fprintf(stderr, "samizdat: note: the node already had this version\n");
    if (ack->flags & SZ_SUBMIT_CONFLICT)
        fprintf(stderr, "samizdat: note: the record now has conflicting versions; 'samizdat "
                        "amend' merges them\n");
}

int sz_cmd_submit(sz_cli_t *cli, int argc, char **argv) {
    submit_ctx_t *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return sz_cli_fail(cli, "out of memory");
    sz__recipients_t *r = &ctx->r;
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, submit_options, submit_option, ctx, &nop);
    uint8_t *body = NULL, *sealed = NULL, *sk = NULL, *env = NULL;
    size_t body_len = 0, sealed_len = 0, env_len = 0, nrecip = 0, ndefaults = 0;
    sz_net_t *net = NULL;
    if (rc != SZ_CLI_GO)
        goto out;
    if (nop != 2) {
        rc = sz_cli_usage_error(cli, "expected a kind (testimony or case) and a FILE.json");
        goto out;
    }
    int kind = sz_kind_from_name(argv[1]);
    if (kind != SZ_KIND_TESTIMONY && kind != SZ_KIND_CASE) {
        rc = sz_cli_usage_error(cli, "kind must be testimony or case, not '%.40s'", argv[1]);
        goto out;
    }
    if (r->no_self && r->n == 0 && !ctx->seal) {
        rc = sz_cli_usage_error(cli, "--no-self needs --seal-to or --seal: name the recipients");
        goto out;
    }
    if ((rc = read_body(cli, argv[2], (unsigned)kind, &body, &body_len)) != SZ_EXIT_OK)
        goto out;
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        goto out;
    const uint8_t *payload = body;
    size_t payload_len = body_len;
    uint8_t flags = 0;
    int sealing = r->n > 0 || ctx->seal;
    if (sealing) {
        /* The node's default recipients are learnt on the connection the record then goes
         * over, before anything is sealed or sent. */
        if ((rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK)
            goto out;
        if ((rc = add_node_recipients(cli, net, r, ctx->seal, &ndefaults)) != SZ_EXIT_OK)
            goto out;
    }
    if (sealing) {
        rc =
            sz__seal_body(cli, (uint8_t)kind, sk, r, body, body_len, &sealed, &sealed_len, &nrecip);
        if (rc != SZ_EXIT_OK)
            goto out;
        /* The plaintext is not needed any more; only the ciphertext leaves this process. */
        body_free(body, body_len);
        body = NULL;
        payload = sealed;
        payload_len = sealed_len;
        flags = SZ_FLAG_SEALED;
    }
    sz_record_fields_t fields = {
        .kind = (uint8_t)kind,
        .flags = flags,
        .created = sz__now_ms(),
        .body = payload,
        .body_len = (uint32_t)payload_len,
    };
    rc = sz_record_sign(&fields, sk, &env, &env_len);
    if (rc != 0) {
        rc = sz_cli_fail(cli, "cannot sign: %s", sz_strerror(rc));
        goto out;
    }
    sz_record_t rec;
    uint8_t version[32];
    if (sz_record_open(&rec, env, env_len, version) != 0) {
        rc = sz_cli_fail(cli, "the signed record does not verify (this is a bug)");
        goto out;
    }
    if (net == NULL && (rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK)
        goto out;
    sz_msg_submitted_t ack = {0};
    memset(&ack, 0, sizeof(ack));
    if ((rc = sz__node_submit(cli, net, env, env_len, version, &ack)) != SZ_EXIT_OK)
        goto out;
    /* A first version's record id is its own hash; the node must agree. */
    if (sodium_memcmp(ack.record_id, version, 32) != 0) {
        rc = sz_cli_fail(cli, "the node reported another record id than the record's (the "
                              "node is faulty)");
        goto out;
    }
    print_ack(cli, &ack, 0, nrecip);
    if (ndefaults > 0 && !cli->json)
        fprintf(stderr, "samizdat: note: %zu of them from the node's default recipients\n",
                ndefaults);
    rc = SZ_EXIT_OK;
out:
    body_free(body, body_len);
    free(sealed);
    free(env);
    sz_secretkey_free(sk);
    sz_net_close(net);
    free(ctx);
    return rc;
}

/* ---- amend ----------------------------------------------------------------------------------- */

static const sz_cli_option_t amend_options[] = {
    {"seal-to", 0, 1, SZ__OPT_SEAL_TO},
    {"no-self", 0, 0, SZ__OPT_NO_SELF},
    {NULL, 0, 0, 0},
};

static int amend_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    return sz__recipients_option(cli, ctx, id, arg);
}

int sz__node_amend(sz_cli_t *cli, sz_net_t *net, const uint8_t sk[static 64], const char *id,
                   const char *path, const sz__recipients_t *r, sz_msg_submitted_t *ack,
                   size_t *nrecip) {
    uint8_t *body = NULL, *env = NULL, *sealed = NULL;
    size_t body_len = 0, env_len = 0, sealed_len = 0;
    *nrecip = 0;
    sz__fetched_t f;
    int rc = sz__node_fetch(cli, net, id, NULL, &f);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (f.rec.kind != SZ_KIND_TESTIMONY && f.rec.kind != SZ_KIND_CASE) {
        rc = sz_cli_fail(cli, "record %.64s is a %s; only testimonies and cases are amended", id,
                         sz_kind_name(f.rec.kind) ? sz_kind_name(f.rec.kind) : "?");
        goto out;
    }
    if (f.nheads > SZ_RECORD_MAX_PARENTS) {
        rc =
            sz_cli_fail(cli, "record has %u conflicting versions; one version can merge at most %d",
                        (unsigned)f.nheads, SZ_RECORD_MAX_PARENTS);
        goto out;
    }
    int was_sealed = (f.rec.flags & SZ_FLAG_SEALED) != 0;
    if (was_sealed && r->n == 0) {
        rc = sz_cli_fail(cli,
                         "record %.64s is sealed: name its recipients again with --seal-to "
                         "KEY (a sealed body does not say who can open it, by design); "
                         "nothing was sent",
                         id);
        goto out;
    }
    if (was_sealed) {
        /* Opening the current version tells the author whether they are replacing a text they
         * can read; the plaintext is wiped at once, the new body comes from FILE.json. */
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int orc =
            sz_unseal(f.rec.body, f.rec.body_len, f.rec.kind, f.rec.author, sk, &plain, &plain_len);
        if (plain != NULL)
            sodium_free(plain);
        if (orc == SZ_E_SEALED)
            sz_cli_warn("your key cannot open the current version (you are not one of its "
                        "recipients); the new version replaces it unread");
        else if (orc != 0)
            sz_cli_warn("the current version's sealed body does not open: %s", sz_strerror(orc));
    } else if (r->n > 0) {
        sz_cli_warn("the earlier versions of this record are not sealed and stay readable; "
                    "'samizdat redact' or 'samizdat retract' withdraws them");
    }
    if ((rc = read_body(cli, path, f.rec.kind, &body, &body_len)) != SZ_EXIT_OK)
        goto out;
    const uint8_t *payload = body;
    size_t payload_len = body_len;
    uint8_t flags = 0;
    if (r->n > 0) {
        rc = sz__seal_body(cli, f.rec.kind, sk, r, body, body_len, &sealed, &sealed_len, nrecip);
        if (rc != SZ_EXIT_OK)
            goto out;
        body_free(body, body_len);
        body = NULL;
        payload = sealed;
        payload_len = sealed_len;
        flags = SZ_FLAG_SEALED;
    }
    sz_record_fields_t fields = {
        .kind = f.rec.kind,
        .flags = flags,
        .created = sz__now_ms(),
        .record_id = f.id,
        .parents = f.heads,
        .nparents = (uint8_t)f.nheads,
        .body = payload,
        .body_len = (uint32_t)payload_len,
    };
    /* A clock behind the current version's would make the history read backwards. */
    if (fields.created <= f.rec.created)
        fields.created = f.rec.created + 1;
    rc = sz_record_sign(&fields, sk, &env, &env_len);
    if (rc != 0) {
        rc = sz_cli_fail(cli, "cannot sign: %s", sz_strerror(rc));
        goto out;
    }
    sz_record_t rec;
    uint8_t version[32];
    if (sz_record_open(&rec, env, env_len, version) != 0) {
        rc = sz_cli_fail(cli, "the signed record does not verify (this is a bug)");
        goto out;
    }
    memset(ack, 0, sizeof(*ack));
    if ((rc = sz__node_submit(cli, net, env, env_len, version, ack)) != SZ_EXIT_OK)
        goto out;
    if (sodium_memcmp(ack->record_id, f.id, 32) != 0) {
        rc = sz_cli_fail(cli, "the node filed the new version under another record (the node "
                              "is faulty)");
        goto out;
    }
    rc = SZ_EXIT_OK;
out:
    sz__fetched_free(&f);
    body_free(body, body_len);
    free(sealed);
    free(env);
    return rc;
}

int sz_cmd_amend(sz_cli_t *cli, int argc, char **argv) {
    sz__recipients_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return sz_cli_fail(cli, "out of memory");
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, amend_options, amend_option, r, &nop);
    uint8_t *sk = NULL;
    size_t nrecip = 0;
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
    if (r->no_self && r->n == 0) {
        rc = sz_cli_usage_error(cli, "--no-self needs --seal-to: name the recipients");
        goto out;
    }
    if (access(path, R_OK) != 0) {
        rc = sz_cli_fail(cli, "cannot read %.*s: %s", MAX_INPUT_PATH, path, strerror(errno));
        goto out;
    }
    if ((rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        goto out;
    if ((rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK)
        goto out;
    sz_msg_submitted_t ack = {0};
    if ((rc = sz__node_amend(cli, net, sk, id, path, r, &ack, &nrecip)) != SZ_EXIT_OK)
        goto out;
    print_ack(cli, &ack, 1, nrecip);
    rc = SZ_EXIT_OK;
out:
    sz_secretkey_free(sk);
    sz_net_close(net);
    free(r);
    return rc;
}

/* ---- get ------------------------------------------------------------------------------------- */

typedef struct get_args_s {
    const char *version;
    const char *output;
} get_args_t;

static int get_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    (void)cli;
    get_args_t *a = ctx;
    if (id == OPT_VERSION)
        a->version = arg;
    else if (id == OPT_OUTPUT)
        a->output = arg;
    return SZ_CLI_GO;
}

static const sz_cli_option_t get_options[] = {
    {"version", 0, 1, OPT_VERSION},
    {"output", 'o', 1, OPT_OUTPUT},
    {NULL, 0, 0, 0},
};

/* What the reader made of a sealed body. */
typedef struct opened_s {
    int sealed;  /* the version is sealed */
    int info_ok; /* info is filled */
    sz_seal_info_t info;
    uint8_t *plain; /* sodium_malloc'd plaintext when opened, else NULL */
    size_t plain_len;
    int schema_rc; /* the plaintext against its kind's schema */
} opened_t;

/* The body to show: the plaintext when opened, the envelope's body when not sealed, else NULL. */
static const uint8_t *shown_body(const sz__fetched_t *f, const opened_t *o, size_t *len) {
    if (o != NULL && o->plain != NULL) {
        *len = o->plain_len;
        return o->plain;
    }
    if (f->rec.flags & SZ_FLAG_SEALED) {
        *len = 0;
        return NULL;
    }
    *len = f->rec.body_len;
    return f->rec.body;
}

static const char *schema_word(const sz__fetched_t *f, const opened_t *o, int upper) {
    if (o != NULL && o->plain != NULL)
        return o->schema_rc == 0 ? "ok" : upper ? "DOES NOT MATCH" : "does not match";
    if (f->rec.flags & SZ_FLAG_SEALED)
        return "not checked (sealed)";
    return f->schema_rc == 0 ? "ok" : upper ? "DOES NOT MATCH" : "does not match";
}

static json_t *fetched_json(const sz__fetched_t *f, int with_body, const opened_t *op) {
    json_t *o = json_object();
    json_object_set_new(o, "id", sz__hex_json(f->id));
    json_object_set_new(o, "version", sz__hex_json(f->version));
    const char *kind = sz_kind_name(f->rec.kind);
    json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
    json_object_set_new(o, "author", key_json(f->rec.author));
    json_object_set_new(o, "created", time_json(f->rec.created));
    json_object_set_new(o, "created_ms", u64_json(f->rec.created));
    json_object_set_new(o, "parents", parents_json(&f->rec));
    json_object_set_new(o, "current", json_boolean(sodium_memcmp(f->version, f->current, 32) == 0));
    json_object_set_new(o, "generation", json_integer(f->generation));
    json_object_set_new(o, "versions", json_integer(f->nversions));
    json_t *conflicts = json_array();
    for (unsigned i = 1; i < f->nheads; i++)
        json_array_append_new(conflicts, sz__hex_json(f->heads + 32 * i));
    json_object_set_new(o, "conflicts", conflicts);
    int sealed = (f->rec.flags & SZ_FLAG_SEALED) != 0;
    json_object_set_new(o, "sealed", json_boolean(sealed));
    if (sealed && op != NULL) {
        json_object_set_new(o, "opened", json_boolean(op->plain != NULL));
        if (op->info_ok) {
            json_object_set_new(o, "slots", json_integer(op->info.nslots));
            json_object_set_new(o, "padded_size", json_integer((json_int_t)op->info.padded_len));
        }
    }
    json_object_set_new(o, "signature", json_string("ok"));
    json_object_set_new(o, "schema", json_string(schema_word(f, op, 0)));
    if (with_body) {
        json_t *body = NULL, *text = NULL;
        size_t len = 0;
        const uint8_t *b = shown_body(f, op, &len);
        if (b != NULL) {
            body = json_loadb((const char *)b, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
            text = json_stringn((const char *)b, len);
        }
        json_object_set_new(o, "body", body ? body : json_null());
        json_object_set_new(o, "body_text", text ? text : json_null());
    }
    return o;
}

static void print_fetched(const sz__fetched_t *f, int with_body, const opened_t *op) {
    char hex[SZ_HASH_HEX_LEN + 1], key[SZ_PUBKEY_TEXT_LEN + 1], when[64];
    const char *kind = sz_kind_name(f->rec.kind);
    int sealed = (f->rec.flags & SZ_FLAG_SEALED) != 0;
    sz_hex_encode(hex, f->id, 32);
    printf("record id  %s\n", hex);
    sz_hex_encode(hex, f->version, 32);
    printf("version    %s%s\n", hex,
           sodium_memcmp(f->version, f->current, 32) == 0 ? " (current)" : " (not current)");
    printf("kind       %s\n", kind ? kind : "?");
    sz_pubkey_format(key, f->rec.author);
    printf("author     %s\n", key);
    sz_cli_format_time(when, sizeof(when), f->rec.created);
    printf("created    %s\n", when);
    print_parents(&f->rec);
    printf("versions   %u (current generation %u)\n", (unsigned)f->nversions,
           (unsigned)f->generation);
    if (f->nheads > 1) {
        for (unsigned i = 1; i < f->nheads; i++) {
            sz_hex_encode(hex, f->heads + 32 * i, 32);
            printf("%s %s\n", i == 1 ? "CONFLICT  " : "          ", hex);
        }
    }
    if (sealed && op != NULL && op->info_ok)
        printf("sealed     yes: %u slots, %zu bytes padded; %s\n", op->info.nslots,
               op->info.padded_len,
               op->plain != NULL ? "opened here with your key"
                                 : "your key is not a recipient (or no key was given)");
    else if (sealed)
        printf("sealed     yes\n");
    printf("signature  ok (verified here)\n");
    printf("schema     %s\n", schema_word(f, op, 1));
    if (!with_body)
        return;
    printf("\n");
    size_t len = 0;
    const uint8_t *b = shown_body(f, op, &len);
    if (b == NULL) {
        printf("(the body is sealed: %u bytes of ciphertext for its recipients)\n",
               (unsigned)f->rec.body_len);
        return;
    }
    json_t *body = json_loadb((const char *)b, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
    char *pretty = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (pretty != NULL)
        sz_cli_print_safe(stdout, pretty, strlen(pretty));
    else
        sz_cli_print_safe(stdout, (const char *)b, len);
    printf("\n");
    if (pretty != NULL)
        sodium_memzero(pretty, strlen(pretty));
    free(pretty);
    json_decref(body);
}

/* Returns 1 if a key was named with --key or $SAMIZDAT_KEY. */
static int key_named(const sz_cli_t *cli) {
    const char *env = getenv("SAMIZDAT_KEY");
    return (cli->key_path != NULL && cli->key_path[0] != '\0') || (env != NULL && env[0] != '\0');
}

int sz__open_sealed(sz_cli_t *cli, const uint8_t *sk, const sz_record_t *rec, uint8_t **plain,
                    size_t *plen) {
    *plain = NULL;
    *plen = 0;
    uint8_t *own = NULL;
    int rc;
    if (sk == NULL) {
        /* A named key, else the default key if there is one; reading needs no key otherwise. */
        char path[PATH_MAX];
        int is_default = 0;
        if (key_named(cli) || (sz_cli_key_path(cli, path, sizeof(path), &is_default) == 0 &&
                               access(path, R_OK) == 0)) {
            if ((rc = sz_cli_load_secret_key(cli, &own)) != SZ_EXIT_OK)
                return rc;
        }
        sk = own;
    }
    if (sk == NULL)
        return SZ_EXIT_OK;
    rc = sz_unseal(rec->body, rec->body_len, rec->kind, rec->author, sk, plain, plen);
    sz_secretkey_free(own);
    if (rc == 0 || rc == SZ_E_SEALED)
        return SZ_EXIT_OK;
    return sz_cli_fail(cli,
                       "the sealed body does not open although it has a slot for your key: %s "
                       "(its author sealed it wrongly, or it was damaged before it was signed)",
                       sz_strerror(rc));
}

int sz_cmd_get(sz_cli_t *cli, int argc, char **argv) {
    get_args_t a = {NULL, NULL};
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, get_options, get_option, &a, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    const char *version = a.version;
    if (nop != 1)
        return sz_cli_usage_error(cli, nop == 0 ? "missing ID" : "expected one ID");
    if (!sz__is_id_prefix(argv[1]))
        return sz_cli_usage_error(cli, "ID must be 1 to 64 hex digits, not '%.80s'", argv[1]);
    if (version != NULL && !sz__is_id_prefix(version))
        return sz_cli_usage_error(cli, "--version must be 1 to 64 hex digits, not '%.80s'",
                                  version);
    if (a.output != NULL && access(a.output, F_OK) == 0)
        return sz_cli_fail(cli, "%.*s already exists", MAX_INPUT_PATH, a.output);
    uint8_t *sk = NULL;
    if (key_named(cli) && (rc = sz_cli_load_secret_key(cli, &sk)) != SZ_EXIT_OK)
        return rc;
    sz_net_t *net = NULL;
    if ((rc = sz__node_connect(cli, sk, &net)) != SZ_EXIT_OK) {
        sz_secretkey_free(sk);
        return rc;
    }
    sz__fetched_t f;
    rc = sz__node_fetch(cli, net, argv[1], version, &f);
    sz_net_close(net);
    if (rc != SZ_EXIT_OK) {
        sz_secretkey_free(sk);
        return rc;
    }
    opened_t op;
    memset(&op, 0, sizeof(op));
    if (f.rec.flags & SZ_FLAG_SEALED) {
        op.sealed = 1;
        op.info_ok = sz_seal_parse(f.rec.body, f.rec.body_len, &op.info) == 0;
        if ((rc = sz__open_sealed(cli, sk, &f.rec, &op.plain, &op.plain_len)) != SZ_EXIT_OK) {
            sz__fetched_free(&f);
            sz_secretkey_free(sk);
            return rc;
        }
        if (op.plain != NULL)
            op.schema_rc = sz_schema_validate(f.rec.kind, op.plain, op.plain_len, NULL);
    }
    sz_secretkey_free(sk);
    if (a.output != NULL) {
        /* The envelope as signed: ciphertext when sealed, never the opened plaintext. */
        rc = sz_cli_write_file(a.output, f.env, f.env_len, 0644, 0);
        if (rc != 0) {
            if (op.plain != NULL)
                sodium_free(op.plain);
            sz__fetched_free(&f);
            return sz_cli_fail(cli, "cannot write %.*s: %s", MAX_INPUT_PATH, a.output,
                               sz_strerror(rc));
        }
    }
    if (cli->json) {
        json_t *o = fetched_json(&f, 1, &op);
        sz__dump_json(o);
        json_decref(o);
    } else {
        print_fetched(&f, 1, &op);
    }
    if (op.plain != NULL)
        sodium_free(op.plain);
    sz__fetched_free(&f);
    return SZ_EXIT_OK;
}

/* verify ID: called by 'samizdat verify' when its argument is not a file. */
int sz_node_verify_id(sz_cli_t *cli, const char *id) {
    if (!sz__is_id_prefix(id))
        return sz_cli_fail(cli, "%.*s: no such file, and not a record id (hex)", MAX_INPUT_PATH,
                           id);
    sz_net_t *net = NULL;
    int rc = sz__node_connect(cli, NULL, &net);
    if (rc != SZ_EXIT_OK)
        return rc;
    sz__fetched_t f;
    rc = sz__node_fetch(cli, net, id, NULL, &f);
    sz_net_close(net);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (f.schema_rc != 0) {
        char hex[SZ_HASH_HEX_LEN + 1];
        sz_hex_encode(hex, f.version, 32);
        rc = sz_cli_fail(cli, "%s: body does not match the %s schema: %s", hex,
                         sz_kind_name(f.rec.kind) ? sz_kind_name(f.rec.kind) : "?",
                         f.schema_err.message[0] ? f.schema_err.message : sz_strerror(f.schema_rc));
        sz__fetched_free(&f);
        return rc;
    }
    if (cli->json) {
        json_t *o = fetched_json(&f, 0, NULL);
        json_object_set_new(o, "verified", json_true());
        sz__dump_json(o);
        json_decref(o);
    } else {
        print_fetched(&f, 0, NULL);
    }
    sz__fetched_free(&f);
    return SZ_EXIT_OK;
}

/* ---- history --------------------------------------------------------------------------------- */

int sz__node_history(sz_cli_t *cli, sz_net_t *net, const char *id, json_t **arr_out,
                     uint8_t **hashes, size_t *nout, uint8_t rid[32], size_t *nmissing) {
    int rc;
    if (arr_out != NULL)
        *arr_out = NULL;
    *hashes = NULL;
    *nout = 0;
    sz_msg_history_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.id, sizeof(h.id), "%s", id);
    uint8_t buf[1 + SZ_MSG_MAX_HEX];
    size_t n = 0;
    json_t *arr = json_array();
    uint8_t *seen = NULL; /* version hashes so far, to check parents come first */
    size_t nseen = 0, capseen = 0;
    uint8_t *unsent = NULL; /* parents named but not (yet) sent */
    size_t nunsent = 0, capunsent = 0;
    rc = sz_msg_history_encode(&h, buf, sizeof(buf), &n);
    uint32_t req = sz_net_next_id(net);
    if (rc == 0)
        rc = sz_net_queue(net, SZ_MSG_HISTORY, req, buf, n);
    if (rc != 0) {
        rc = sz__node_fail(cli, net, rc, "history");
        goto out;
    }
    for (;;) {
        sz_msg_t m;
        if ((rc = sz_net_recv(net, &m)) != 0) {
            rc = sz__node_fail(cli, net, rc, "history");
            goto out;
        }
        if (m.header.request_id != req) {
            rc = sz_cli_fail(cli, "history: the node answered another request (protocol error)");
            goto out;
        }
        if (m.header.type == SZ_MSG_ERROR) {
            rc = sz_net_take_error(net, &m);
            if (rc == SZ_E_NOT_FOUND)
                rc = sz_cli_fail(cli, "no record %.64s on this node (%s)", id, sz_net_error(net));
            else if (rc == SZ_E_AMBIGUOUS)
                rc = sz_cli_fail(cli,
                                 "id prefix %.64s matches more than one record; give more "
                                 "digits (%s)",
                                 id, sz_net_error(net));
            else
                rc = sz__node_fail(cli, net, rc, "history");
            goto out;
        }
        if (m.header.type == SZ_MSG_END) {
            sz_msg_end_t e;
            if (sz_msg_end_decode(&e, m.payload, m.len) != 0 || e.count != nseen) {
                rc = sz_cli_fail(cli, "history: the node's END does not match the versions "
                                      "sent (protocol error)");
                goto out;
            }
            break;
        }
        sz_msg_version_t v;
        if (m.header.type != SZ_MSG_VERSION || sz_msg_version_decode(&v, m.payload, m.len) != 0) {
            rc = sz_cli_fail(cli, "history: the node sent a malformed %s message",
                             sz_msg_type_name(m.header.type));
            goto out;
        }
        sz_record_t rec;
        uint8_t version[32], vid[32];
        char idhex[SZ_HASH_HEX_LEN + 1];
        const char *problem = NULL;
        if (sz_record_open(&rec, v.envelope, v.envelope_len, version) != 0) {
            problem = "an envelope does not verify";
        } else {
            sz_record_id(&rec, version, vid);
            sz_hex_encode(idhex, vid, 32);
            if (sodium_memcmp(version, v.version_hash, 32) != 0)
                problem = "a version hash is not the hash of its envelope";
            else if (nseen == 0 && !has_prefix_ci(idhex, id))
                problem = "it is not the record that was asked for";
            else if (nseen > 0 && sodium_memcmp(vid, rid, 32) != 0)
                problem = "versions of different records were mixed";
            /* A parent may be missing from the stream (a node does not send a version whose
             * body it purged after a retraction), but it must never come after its child. */
            for (size_t j = 0; problem == NULL && j < nunsent; j++)
                if (memcmp(unsent + 32 * j, version, 32) == 0)
                    problem = "a version came before its parent";
            for (unsigned i = 0; problem == NULL && i < rec.nparents; i++) {
                int found = 0;
                for (size_t j = 0; j < nseen && !found; j++)
                    found = memcmp(seen + 32 * j, rec.parents + 32 * i, 32) == 0;
                if (found)
                    continue;
                if (nunsent == capunsent) {
                    capunsent = capunsent ? capunsent * 2 : 16;
                    uint8_t *p = realloc(unsent, capunsent * 32);
                    if (p == NULL) {
                        rc = sz_cli_fail(cli, "out of memory");
                        goto out;
                    }
                    unsent = p;
                }
                memcpy(unsent + 32 * nunsent++, rec.parents + 32 * i, 32);
            }
        }
        if (problem != NULL) {
            rc = sz_cli_fail(cli,
                             "history: the node's answer does not verify: %s (the node is "
                             "faulty or lying)",
                             problem);
            goto out;
        }
        if (nseen == 0)
            memcpy(rid, vid, 32);
        if (nseen == capseen) {
            capseen = capseen ? capseen * 2 : 16;
            uint8_t *p = realloc(seen, capseen * 32);
            if (p == NULL) {
                rc = sz_cli_fail(cli, "out of memory");
                goto out;
            }
            seen = p;
        }
        memcpy(seen + 32 * nseen++, version, 32);
        json_t *o = json_object();
        json_object_set_new(o, "seq", u64_json(v.seq));
        json_object_set_new(o, "version", sz__hex_json(version));
        json_object_set_new(o, "author", key_json(rec.author));
        json_object_set_new(o, "created", time_json(rec.created));
        json_object_set_new(o, "created_ms", u64_json(rec.created));
        json_object_set_new(o, "parents", parents_json(&rec));
        json_object_set_new(o, "generation", json_integer(v.generation));
        json_array_append_new(arr, o);
    }
    if (nseen == 0) {
        /* A node sends no version it purged; a record with none left is all retracted. */
        rc = sz_cli_fail(cli,
                         "record %.64s: the node sent no version (every version has been "
                         "retracted and purged there)",
                         id);
        goto out;
    }
    if (arr_out != NULL) {
        *arr_out = arr;
        arr = NULL;
    }
    *hashes = seen;
    seen = NULL;
    *nout = nseen;
    if (nmissing != NULL) {
        /* Parents named but never sent; counted once each. */
        size_t distinct = 0;
        for (size_t i = 0; i < nunsent; i++) {
            int dup = 0;
            for (size_t j = 0; j < i && !dup; j++)
                dup = memcmp(unsent + 32 * i, unsent + 32 * j, 32) == 0;
            distinct += !dup;
        }
        *nmissing = distinct;
    }
    rc = SZ_EXIT_OK;
out:
    free(unsent);
    free(seen);
    json_decref(arr);
    return rc;
}

int sz_cmd_history(sz_cli_t *cli, int argc, char **argv) {
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, NULL, NULL, NULL, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 1)
        return sz_cli_usage_error(cli, nop == 0 ? "missing ID" : "expected one ID");
    const char *id = argv[1];
    if (!sz__is_id_prefix(id))
        return sz_cli_usage_error(cli, "ID must be 1 to 64 hex digits, not '%.80s'", id);
    sz_net_t *net = NULL;
    if ((rc = sz__node_connect(cli, NULL, &net)) != SZ_EXIT_OK)
        return rc;
    json_t *arr = NULL;
    uint8_t *seen = NULL, rid[32];
    size_t nseen = 0;
    size_t nmissing = 0;
    rc = sz__node_history(cli, net, id, &arr, &seen, &nseen, rid, &nmissing);
    if (rc != SZ_EXIT_OK)
        goto out;
    if (cli->json) {
        sz__dump_json(arr);
    } else {
        char hex[SZ_HASH_HEX_LEN + 1];
        sz_hex_encode(hex, rid, 32);
        printf("record %s: %zu version%s (each verified here)\n", hex, nseen,
               nseen == 1 ? "" : "s");
        if (nmissing > 0)
            printf("           and %zu earlier version%s named as parent%s but not sent: "
                   "retracted and purged on this node\n",
                   nmissing, nmissing == 1 ? "" : "s", nmissing == 1 ? "" : "s");
        size_t i;
        json_t *o;
        json_array_foreach(arr, i, o) {
            printf("\nseq        %lld\n", (long long)json_integer_value(json_object_get(o, "seq")));
            printf("version    %s\n", json_string_value(json_object_get(o, "version")));
            printf("author     %s\n", json_string_value(json_object_get(o, "author")));
            printf("created    %s\n", json_string_value(json_object_get(o, "created")));
            json_t *ps = json_object_get(o, "parents");
            if (json_array_size(ps) == 0)
                printf("parents    none (first version)\n");
            for (size_t j = 0; j < json_array_size(ps); j++)
                printf("%s %s\n", j == 0 ? "parents   " : "          ",
                       json_string_value(json_array_get(ps, j)));
        }
    }
    rc = SZ_EXIT_OK;
out:
    free(seen);
    json_decref(arr);
    sz_net_close(net);
    return rc;
}

/* ---- list ------------------------------------------------------------------------------------ */

static const sz_cli_option_t list_options[] = {
    {"kind", 0, 1, OPT_KIND},     {"where", 0, 1, OPT_WHERE},   {"limit", 'n', 1, OPT_LIMIT},
    {"cursor", 0, 1, OPT_CURSOR}, {"newest", 0, 0, OPT_NEWEST}, {NULL, 0, 0, 0},
};

/* Parses a limit 1..max. Returns 0 or -1. */
static int parse_limit(const char *arg, unsigned max, uint16_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' || v < 1 || v > max)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static int list_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    sz_msg_list_t *l = ctx;
    switch (id) {
    case OPT_KIND: {
        int k = sz_kind_from_name(arg);
        if (k == 0)
            return sz_cli_usage_error(cli,
                                      "unknown kind '%.40s' (testimony, case, retraction, "
                                      "revocation)",
                                      arg);
        l->kind = (uint8_t)k;
        break;
    }
    case OPT_WHERE: {
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg || eq[1] == '\0')
            return sz_cli_usage_error(cli, "--where needs FIELD=VALUE, not '%.80s'", arg);
        if (l->nfilters >= SZ_MSG_MAX_FILTERS)
            return sz_cli_usage_error(cli, "at most %d --where filters", SZ_MSG_MAX_FILTERS);
        size_t fl = (size_t)(eq - arg), vl = strlen(eq + 1);
        if (fl > SZ_MSG_MAX_FIELD || vl > SZ_MSG_MAX_VALUE)
            return sz_cli_usage_error(cli, "--where field or value is too long");
        sz_msg_filter_t *f = &l->filters[l->nfilters++];
        memcpy(f->field, arg, fl);
        f->field[fl] = '\0';
        memcpy(f->value, eq + 1, vl + 1);
        break;
    }
    case OPT_LIMIT:
        if (parse_limit(arg, SZ_MSG_MAX_LIST, &l->limit) != 0)
            return sz_cli_usage_error(cli, "--limit must be 1 to %d, not '%.40s'", SZ_MSG_MAX_LIST,
                                      arg);
        break;
    case OPT_CURSOR:
        if (strlen(arg) > SZ_MSG_MAX_CURSOR)
            return sz_cli_usage_error(cli, "--cursor is not a cursor from this node");
        snprintf(l->cursor, sizeof(l->cursor), "%s", arg);
        break;
    case OPT_NEWEST:
        l->order = SZ_LIST_NEWEST_FIRST;
        break;
    }
    return SZ_CLI_GO;
}

/* Connects to the node and sends one list or search query of n bytes (buf, borrowed), storing
 * the answer in *m. A query the node refuses as invalid is reported as such; any other failure
 * through sz__node_fail(). Returns SZ_EXIT_OK, or the exit status after printing the reason;
 * *net is the caller's to close either way. */
static int query_node(sz_cli_t *cli, sz_net_t **net, uint8_t type, const uint8_t *buf, size_t n,
                      sz_msg_t *m, const char *what) {
    int rc = sz__node_connect(cli, NULL, net);
    if (rc != SZ_EXIT_OK)
        return rc;
    rc = sz_net_call(*net, type, buf, n, m);
    if (rc == SZ_E_ARGUMENT || rc == SZ_E_MALFORMED)
        return sz_cli_fail(cli, "the node rejected the query: %s", sz_net_error(*net));
    if (rc != 0)
        return sz__node_fail(cli, *net, rc, what);
    return SZ_EXIT_OK;
}

int sz_cmd_list(sz_cli_t *cli, int argc, char **argv) {
    sz_msg_list_t *l = calloc(1, sizeof(*l));
    sz_msg_list_entry_t *entries = calloc(SZ_MSG_MAX_LIST, sizeof(*entries));
    uint8_t *buf = malloc(8192);
    sz_net_t *net = NULL;
    int nop = 0, rc;
    if (l == NULL || entries == NULL || buf == NULL) {
        rc = sz_cli_fail(cli, "out of memory");
        goto out;
    }
    l->limit = DEFAULT_LIST_LIMIT;
    rc = sz_cli_parse(cli, argc, argv, list_options, list_option, l, &nop);
    if (rc != SZ_CLI_GO)
        goto out;
    if (nop != 0) {
        rc = sz_cli_usage_error(cli, "unexpected argument '%.80s'", argv[1]);
        goto out;
    }
    size_t n = 0;
    if (sz_msg_list_encode(l, buf, 8192, &n) != 0) {
        rc = sz_cli_usage_error(cli, "a --where filter is not valid text");
        goto out;
    }
    sz_msg_t m;
    if ((rc = query_node(cli, &net, SZ_MSG_LIST, buf, n, &m, "list")) != SZ_EXIT_OK)
        goto out;
    sz_msg_list_page_t page;
    memset(&page, 0, sizeof(page));
    page.entries = entries;
    if (m.header.type != SZ_MSG_LIST_PAGE ||
        sz_msg_list_page_decode(&page, SZ_MSG_MAX_LIST, m.payload, m.len) != 0 ||
        page.count > l->limit) {
        rc = sz_cli_fail(cli, "the node answered LIST with a malformed %s message",
                         sz_msg_type_name(m.header.type));
        goto out;
    }
    if (cli->json) {
        json_t *o = json_object(), *a = json_array();
        for (unsigned i = 0; i < page.count; i++) {
            const sz_msg_list_entry_t *e = &entries[i];
            json_t *r = json_object();
            json_object_set_new(r, "id", sz__hex_json(e->record_id));
            const char *kind = sz_kind_name(e->kind);
            json_object_set_new(r, "kind", kind ? json_string(kind) : json_null());
            json_object_set_new(r, "created", time_json(e->created));
            json_object_set_new(r, "created_ms", u64_json(e->created));
            json_object_set_new(r, "current", sz__hex_json(e->current));
            json_t *t = json_stringn((const char *)e->title, e->title_len);
            json_object_set_new(r, "title", t ? t : json_null());
            json_array_append_new(a, r);
        }
        json_object_set_new(o, "records", a);
        json_object_set_new(o, "next_cursor",
                            page.next_cursor[0] ? json_string(page.next_cursor) : json_null());
        sz__dump_json(o);
        json_decref(o);
    } else {
        for (unsigned i = 0; i < page.count; i++) {
            const sz_msg_list_entry_t *e = &entries[i];
            char hex[SZ_HASH_HEX_LEN + 1], when[64];
            sz_hex_encode(hex, e->record_id, 32);
            sz_cli_format_time(when, sizeof(when), e->created);
            const char *kind = sz_kind_name(e->kind);
            printf("%s  %-9s  %.10s  ", hex, kind ? kind : "?", when);
            sz_cli_print_safe(stdout, (const char *)e->title, e->title_len);
            printf("\n");
        }
        if (page.next_cursor[0])
            printf("(more: add --cursor %s)\n", page.next_cursor);
    }
    rc = SZ_EXIT_OK;
out:
    sz_net_close(net);
    free(l);
    free(entries);
    free(buf);
    return rc;
}

/* ---- search ---------------------------------------------------------------------------------- */

static const sz_cli_option_t search_options[] = {
    {"limit", 'n', 1, OPT_LIMIT},
    {NULL, 0, 0, 0},
};

static int search_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    (void)id;
    if (parse_limit(arg, SZ_MSG_MAX_HITS, ctx) != 0)
        return sz_cli_usage_error(cli, "--limit must be 1 to %d, not '%.40s'", SZ_MSG_MAX_HITS,
                                  arg);
    return SZ_CLI_GO;
}

/* The "title" of a verified body, or NULL. The caller frees the result. */
static char *body_title(const sz__fetched_t *f) {
    if (f->rec.flags & SZ_FLAG_SEALED)
        return NULL;
    json_t *b = json_loadb((const char *)f->rec.body, f->rec.body_len, 0, NULL);
    const char *t = json_string_value(json_object_get(b, "title"));
    char *r = t ? strdup(t) : NULL;
    json_decref(b);
    return r;
}

int sz_cmd_search(sz_cli_t *cli, int argc, char **argv) {
    sz_msg_search_t *s = calloc(1, sizeof(*s));
    sz_msg_hit_t *hits = calloc(SZ_MSG_MAX_HITS, sizeof(*hits));
    uint8_t *buf = malloc(4 + SZ_MSG_MAX_QUERY);
    sz_net_t *net = NULL;
    json_t *arr = json_array();
    int nop = 0, rc;
    uint16_t limit = DEFAULT_SEARCH_LIMIT;
    if (s == NULL || hits == NULL || buf == NULL) {
        rc = sz_cli_fail(cli, "out of memory");
        goto out;
    }
    rc = sz_cli_parse(cli, argc, argv, search_options, search_option, &limit, &nop);
    if (rc != SZ_CLI_GO)
        goto out;
    if (nop != 1) {
        rc = sz_cli_usage_error(cli, nop == 0 ? "missing TEXT" : "expected one TEXT (quote it)");
        goto out;
    }
    if (argv[1][0] == '\0' || strlen(argv[1]) > SZ_MSG_MAX_QUERY) {
        rc = sz_cli_usage_error(cli, "TEXT must be 1 to %d bytes", SZ_MSG_MAX_QUERY);
        goto out;
    }
    s->limit = limit;
    snprintf(s->query, sizeof(s->query), "%s", argv[1]);
    size_t n = 0;
    if (sz_msg_search_encode(s, buf, 4 + SZ_MSG_MAX_QUERY, &n) != 0) {
        rc = sz_cli_usage_error(cli, "TEXT must be UTF-8 without control characters");
        goto out;
    }
    sz_msg_t m;
    if ((rc = query_node(cli, &net, SZ_MSG_SEARCH, buf, n, &m, "search")) != SZ_EXIT_OK)
        goto out;
    sz_msg_search_result_t res = {.hits = hits};
    if (m.header.type != SZ_MSG_SEARCH_RESULT ||
        sz_msg_search_result_decode(&res, SZ_MSG_MAX_HITS, m.payload, m.len) != 0 ||
        res.count > limit) {
        rc = sz_cli_fail(cli, "the node answered SEARCH with a malformed %s message",
                         sz_msg_type_name(m.header.type));
        goto out;
    }
    /* Titles come from the records themselves, fetched and verified one by one. */
    for (unsigned i = 0; i < res.count; i++) {
        char hex[SZ_HASH_HEX_LEN + 1];
        sz_hex_encode(hex, hits[i].record_id, 32);
        sz__fetched_t f;
        if ((rc = sz__node_fetch(cli, net, hex, NULL, &f)) != SZ_EXIT_OK)
            goto out;
        char *title = body_title(&f);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(hex));
        json_object_set_new(o, "score", json_real(hits[i].score));
        const char *kind = sz_kind_name(f.rec.kind);
        json_object_set_new(o, "kind", kind ? json_string(kind) : json_null());
        json_object_set_new(o, "version", sz__hex_json(f.version));
        json_t *t = title ? json_string(title) : NULL;
        json_object_set_new(o, "title", t ? t : json_null());
        json_array_append_new(arr, o);
        if (!cli->json) {
            printf("%s  %-9s  ", hex, kind ? kind : "?");
            if (title != NULL)
                sz_cli_print_safe(stdout, title, strlen(title));
            printf("\n");
        }
        free(title);
        sz__fetched_free(&f);
    }
    if (cli->json)
        sz__dump_json(arr);
    rc = SZ_EXIT_OK;
out:
    json_decref(arr);
    sz_net_close(net);
    free(s);
    free(hits);
    free(buf);
    return rc;
}

/* ---- status ---------------------------------------------------------------------------------- */

int sz_cmd_status(sz_cli_t *cli, int argc, char **argv) {
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, NULL, NULL, NULL, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop != 0)
        return sz_cli_usage_error(cli, "unexpected argument '%.80s'", argv[1]);
    sz_net_t *net = NULL;
    if ((rc = sz__node_connect(cli, NULL, &net)) != SZ_EXIT_OK)
        return rc;
    sz_msg_peer_t *peers = calloc(SZ_MSG_MAX_PEERS, sizeof(*peers));
    sz_msg_status_ok_t st;
    memset(&st, 0, sizeof(st));
    st.peers = peers;
    if (peers == NULL) {
        rc = sz_cli_fail(cli, "out of memory");
        goto out;
    }
    if ((rc = node_status(cli, net, &st)) != SZ_EXIT_OK)
        goto out;
    if (cli->json) {
        json_t *o = json_object(), *th = json_object(), *ps = json_array();
        json_object_set_new(o, "node_key", key_json(st.node_key));
        json_object_set_new(o, "software", json_string(st.software));
        json_object_set_new(o, "protocol_version", json_integer(st.protocol_version));
        json_object_set_new(o, "records", u64_json(st.records));
        json_object_set_new(o, "versions", u64_json(st.versions));
        json_object_set_new(o, "fts_lag", u64_json(st.fts_lag));
        json_object_set_new(th, "size", u64_json(st.tree_head.size));
        json_object_set_new(th, "root", sz__hex_json(st.tree_head.root));
        json_object_set_new(th, "timestamp", time_json(st.tree_head.timestamp));
        json_object_set_new(th, "timestamp_ms", u64_json(st.tree_head.timestamp));
        json_object_set_new(th, "signature", json_string("ok"));
        json_object_set_new(o, "tree_head", th);
        for (unsigned i = 0; i < st.npeers; i++) {
            json_t *p = json_object();
            json_object_set_new(p, "key", key_json(peers[i].key));
            json_t *a = json_stringn((const char *)peers[i].address, peers[i].address_len);
            json_object_set_new(p, "address", a ? a : json_null());
            json_object_set_new(p, "connected", json_boolean(peers[i].connected));
            json_object_set_new(p, "last_seen",
                                peers[i].last_seen ? time_json(peers[i].last_seen) : json_null());
            json_object_set_new(p, "lag", u64_json(peers[i].lag));
            json_object_set_new(p, "checkpoint", u64_json(peers[i].checkpoint));
            json_array_append_new(ps, p);
        }
        json_object_set_new(o, "peers", ps);
        json_t *seal = json_array();
        for (unsigned i = 0; i < st.nseal; i++)
            json_array_append_new(seal, key_json(st.seal_to[i]));
        json_object_set_new(o, "seal_to", seal);
        char dg[33];
        sz_hex_encode(dg, st.set_digest, 16);
        json_object_set_new(o, "set_count", u64_json(st.set_count));
        json_object_set_new(o, "set_digest", json_string(dg));
        sz__dump_json(o);
        json_decref(o);
    } else {
        char key[SZ_PUBKEY_TEXT_LEN + 1], hex[SZ_HASH_HEX_LEN + 1], when[64];
        sz_pubkey_format(key, st.node_key);
        printf("node key   %s\n", key);
        printf("software   ");
        sz_cli_print_safe(stdout, st.software, strlen(st.software));
        printf(" (protocol %u)\n", (unsigned)st.protocol_version);
        printf("records    %llu\n", (unsigned long long)st.records);
        printf("versions   %llu\n", (unsigned long long)st.versions);
        if (st.fts_lag > 0)
            printf("search     %llu log entries not yet searchable\n",
                   (unsigned long long)st.fts_lag);
        sz_hex_encode(hex, st.tree_head.root, 32);
        sz_cli_format_time(when, sizeof(when), st.tree_head.timestamp);
        printf("tree head  size %llu, root %s\n", (unsigned long long)st.tree_head.size, hex);
        printf("           signed %s, signature ok (verified here)\n", when);
        printf("peers      %u\n", (unsigned)st.npeers);
        for (unsigned i = 0; i < st.npeers; i++) {
            sz_pubkey_format(key, peers[i].key);
            printf("  %s  ", key);
            sz_cli_print_safe(stdout, (const char *)peers[i].address, peers[i].address_len);
            printf("  %s, lag %llu\n", peers[i].connected ? "connected" : "not connected",
                   (unsigned long long)peers[i].lag);
        }
        char dg[33];
        sz_hex_encode(dg, st.set_digest, 16);
        printf("set        %llu version hashes, digest %s\n", (unsigned long long)st.set_count, dg);
        if (st.nseal == 0)
            printf("seal to    none (the node names no default recipients)\n");
        for (unsigned i = 0; i < st.nseal; i++) {
            sz_pubkey_format(key, st.seal_to[i]);
            printf("%s %s\n", i == 0 ? "seal to   " : "          ", key);
        }
    }
    rc = SZ_EXIT_OK;
out:
    free(peers);
    sz_net_close(net);
    return rc;
}
