/* samizdat peer add|list|remove and samizdat sync: the node's mirror peers (admin requests,
 * proto/SYNC.md section 9). */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "encoding.h"
#include "error.h"
#include "invite.h"
#include "msg.h"
#include "net.h"
#include "node_ops.h"

const char sz_usage_peer[] =
    "usage: samizdat [--node NODE] [--key FILE] [--json] peer add INVITE\n"
    "       samizdat [--node NODE] [--key FILE] [--json] peer list\n"
    "       samizdat [--node NODE] [--key FILE] [--json] peer remove KEY\n"
    "\n"
    "Manages the node's mirror peers. Mirroring is mutual and explicit: run 'peer add' on both\n"
    "nodes, each with the other's invite (the one-line text in the other node's DIR/invite).\n"
    "These are admin operations: --key must name an admin key of the node (for the local\n"
    "operator, DIR/admin.key).\n"
    "\n"
    "  add INVITE   add the node of INVITE (its text, or a file holding it such as the other\n"
    "               node's DIR/invite: a file keeps the network key out of the process list)\n"
    "               as a peer, saved in the node's DIR/peers, and connect\n"
    "  list         every peer: key, address, state, last seen, lag and checkpoint\n"
    "  remove KEY   stop mirroring the peer with public key KEY (text or a .pub file)\n";

const char sz_usage_sync[] =
    "usage: samizdat [--node NODE] [--key FILE] [--json] sync [--wait SECONDS] [PEER]\n"
    "\n"
    "Asks the node to sync now with PEER (its public key, or a .pub file) or with every peer: it\n"
    "reconciles the whole version set with each connected peer and fetches what it lacks, then\n"
    "reports per peer how many versions were received and sent and the remaining lag. Admin only.\n"
    "\n"
    "  --wait SECONDS  longest wait for the syncs to finish (default 60, at most 600)\n";

static const char *state_name(unsigned st) {
    static const char *const names[] = {"idle", "connecting", "connected", "syncing", "backoff"};
    return st <= SZ_PEER_STATE_MAX ? names[st] : "?";
}

static json_t *u64j(uint64_t v) {
    return json_integer((json_int_t)v);
}

static int print_peers(sz_cli_t *cli, const sz_msg_t *m, int counts) {
    sz_msg_peer_info_t *peers = calloc(SZ_MSG_MAX_PEERS, sizeof *peers);
    sz_msg_peers_t p = {.peers = peers};
    if (peers == NULL)
        return sz_cli_fail(cli, "out of memory");
    if (m->header.type != SZ_MSG_PEERS ||
        sz_msg_peers_decode(&p, SZ_MSG_MAX_PEERS, m->payload, m->len) != 0) {
        free(peers);
        return sz_cli_fail(cli, "the node answered with a malformed %s message",
                           sz_msg_type_name(m->header.type));
    }
    char key[SZ_PUBKEY_TEXT_LEN + 1], when[64];
    if (cli->json) {
        json_t *arr = json_array();
        for (unsigned i = 0; i < p.count; i++) {
            const sz_msg_peer_info_t *e = &peers[i];
            json_t *o = json_object();
            sz_pubkey_format(key, e->key);
            json_object_set_new(o, "key", json_string(key));
            json_t *a = json_stringn((const char *)e->address, e->address_len);
            json_object_set_new(o, "address", a ? a : json_null());
            json_object_set_new(o, "state", json_string(state_name(e->state)));
            json_object_set_new(o, "last_seen_ms", u64j(e->last_seen));
            json_object_set_new(o, "checkpoint", u64j(e->checkpoint));
            json_object_set_new(o, "remote_size", u64j(e->remote_size));
            json_object_set_new(
                o, "lag",
                u64j(e->remote_size > e->checkpoint ? e->remote_size - e->checkpoint : 0));
            json_object_set_new(o, "received", u64j(e->received));
            json_object_set_new(o, "sent", u64j(e->sent));
            json_object_set_new(o, "reconciliations", json_integer(e->reconciliations));
            json_object_set_new(o, "last_error",
                                e->last_error ? json_string(sz_errname(e->last_error))
                                              : json_null());
            json_array_append_new(arr, o);
        }
        sz__dump_json(arr);
        json_decref(arr);
    } else {
        if (p.count == 0)
            printf("no peers\n");
        for (unsigned i = 0; i < p.count; i++) {
            const sz_msg_peer_info_t *e = &peers[i];
            sz_pubkey_format(key, e->key);
            printf("%s  ", key);
            sz_cli_print_safe(stdout, (const char *)e->address, e->address_len);
            uint64_t lag = e->remote_size > e->checkpoint ? e->remote_size - e->checkpoint : 0;
            printf("  %s", state_name(e->state));
            if (e->last_seen) {
                sz_cli_format_time(when, sizeof when, e->last_seen);
                printf(", last seen %s", when);
            } else {
                printf(", never seen");
            }
            printf(", lag %llu, checkpoint %llu", (unsigned long long)lag,
                   (unsigned long long)e->checkpoint);
            if (counts)
                printf(", received %llu, sent %llu", (unsigned long long)e->received,
                       (unsigned long long)e->sent);
            if (e->last_error)
                printf(", last error %s", sz_errname(e->last_error));
            printf("\n");
        }
    }
    free(peers);
    return SZ_EXIT_OK;
}

static int call(sz_cli_t *cli, uint8_t type, const uint8_t *req, size_t len, const char *what,
                int counts, int timeout_ms) {
    sz_net_t *net = NULL;
    int rc = sz__node_connect(cli, NULL, &net);
    if (rc != SZ_EXIT_OK)
        return rc;
    if (timeout_ms > 0)
        sz_net_set_timeout(net, timeout_ms);
    sz_msg_t m;
    rc = sz_net_call(net, type, req, len, &m);
    if (rc != 0)
        rc = sz__node_fail(cli, net, rc, what);
    else
        rc = print_peers(cli, &m, counts);
    sz_net_close(net);
    return rc;
}

int sz_cmd_peer(sz_cli_t *cli, int argc, char **argv) {
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, NULL, NULL, NULL, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop == 0)
        return sz_cli_usage_error(cli, "peer needs a subcommand: add, list or remove");
    const char *sub = argv[1];
    if (strcmp(sub, "list") == 0) {
        if (nop != 1)
            return sz_cli_usage_error(cli, "peer list takes no argument");
        return call(cli, SZ_MSG_PEER_LIST, NULL, 0, "peer list", 1, 0);
    }
    if (strcmp(sub, "add") == 0) {
        if (nop != 2)
            return sz_cli_usage_error(cli, "peer add needs exactly one INVITE");
        sz_msg_peer_add_t *m = sodium_malloc(sizeof *m);
        if (m == NULL)
            return sz_cli_fail(cli, "out of memory");
        memset(m, 0, sizeof *m);
        /* INVITE may name a file holding it (another node's DIR/invite), which keeps the network
         * key out of the process list; invite text always starts with "sz". */
        const char *text = argv[2];
        uint8_t *file = NULL;
        size_t flen = 0;
        struct stat st;
        if (strncmp(text, "sz", 2) != 0 && stat(text, &st) == 0 && S_ISREG(st.st_mode)) {
            int fr = sz_cli_read_file(text, SZ_MSG_MAX_INVITE + 2, 1, &file, &flen);
            if (fr != 0) {
                sodium_free(m);
                return sz_cli_fail(cli, "cannot read the invite file %.200s: %s", text,
                                   sz_strerror(fr));
            }
            text = (const char *)file;
        }
        size_t n = strlen(text);
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
            n--;
        /* Check it here, so a typo gets the invite's own sentence. */
        sz_invite_t inv;
        const char *why = NULL;
        if (n == 0 || n > SZ_MSG_MAX_INVITE) {
            sodium_free(m);
            if (file != NULL)
                sodium_free(file);
            return sz_cli_usage_error(cli, "INVITE is empty or too long");
        }
        memcpy(m->invite, text, n);
        if (file != NULL)
            sodium_free(file);
        rc = sz_invite_parse_why(m->invite, &inv, &why);
        sz_invite_wipe(&inv);
        if (rc != 0) {
            sodium_free(m);
            return sz_cli_usage_error(cli, "not a valid invite: %s",
                                      why ? why : sz_invite_strerror(rc));
        }
        uint8_t *buf = sodium_malloc(2 + SZ_MSG_MAX_INVITE);
        size_t len = 0;
        rc = buf == NULL ? -ENOMEM : sz_msg_peer_add_encode(m, buf, 2 + SZ_MSG_MAX_INVITE, &len);
        sodium_free(m);
        if (rc != 0) {
            if (buf != NULL)
                sodium_free(buf);
            return sz_cli_fail(cli, "cannot encode the invite: %s", sz_strerror(rc));
        }
        rc = call(cli, SZ_MSG_PEER_ADD, buf, len, "peer add", 0, 0);
        sodium_free(buf);
        return rc;
    }
    if (strcmp(sub, "remove") == 0) {
        if (nop != 2)
            return sz_cli_usage_error(cli, "peer remove needs exactly one KEY");
        sz_msg_peer_remove_t m;
        if ((rc = sz__parse_key_arg(cli, "KEY", argv[2], m.key)) != SZ_EXIT_OK)
            return rc;
        uint8_t buf[32];
        size_t len = 0;
        sz_msg_peer_remove_encode(&m, buf, sizeof buf, &len);
        return call(cli, SZ_MSG_PEER_REMOVE, buf, len, "peer remove", 0, 0);
    }
    return sz_cli_usage_error(cli, "unknown peer subcommand '%.40s' (add, list or remove)", sub);
}

enum { OPT_WAIT = 1 };
static const sz_cli_option_t sync_options[] = {
    {"wait", 0, 1, OPT_WAIT},
    {NULL, 0, 0, 0},
};

static int sync_option(sz_cli_t *cli, void *ctx, int id, const char *arg) {
    uint32_t *wait = ctx;
    if (id == OPT_WAIT) {
        char *end = NULL;
        unsigned long v = strtoul(arg, &end, 10);
        if (end == arg || *end != '\0' || v == 0 || v > 600)
            return sz_cli_usage_error(cli, "--wait must be 1 to 600 seconds, not '%.40s'", arg);
        *wait = (uint32_t)v;
    }
    return SZ_CLI_GO;
}

int sz_cmd_sync(sz_cli_t *cli, int argc, char **argv) {
    uint32_t wait = 60;
    int nop = 0;
    int rc = sz_cli_parse(cli, argc, argv, sync_options, sync_option, &wait, &nop);
    if (rc != SZ_CLI_GO)
        return rc;
    if (nop > 1)
        return sz_cli_usage_error(cli, "sync takes at most one PEER");
    sz_msg_sync_now_t m = {.wait_ms = wait * 1000u};
    if (nop == 1 && (rc = sz__parse_key_arg(cli, "PEER", argv[1], m.key)) != SZ_EXIT_OK)
        return rc;
    uint8_t buf[64];
    size_t len = 0;
    sz_msg_sync_now_encode(&m, buf, sizeof buf, &len);
    return call(cli, SZ_MSG_SYNC_NOW, buf, len, "sync", 1, (int)(wait * 1000u + 15000u));
}
