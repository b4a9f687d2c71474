/* Internal to the client: the pieces of client/cmd_node.c that other command groups
 * (client/cmd_safety.c, client/cmd_key.c) reuse to talk to a node. Every record the node returns
 * is verified here before it is handed back; the node is never trusted. Every function that fails
 * has already printed its one line (sz_cli_fail) and returns an exit status. */
#ifndef SZ_NODE_OPS_H
#define SZ_NODE_OPS_H

#include "cli.h"
#include "msg.h"
#include "net.h"
#include "record.h"
#include "schema.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* One verified answer to GET. */
typedef struct sz__fetched_s {
    uint8_t *env; /* owned copy of the envelope */
    size_t env_len;
    sz_record_t rec; /* points into env */
    uint8_t version[32];
    uint8_t id[32];
    uint8_t current[32];
    uint32_t generation;
    uint64_t first_created;
    uint32_t nversions;
    uint16_t nheads;
    uint8_t *heads; /* owned copy, nheads * 32 */
    int schema_rc;
    sz_schema_error_t schema_err;
} sz__fetched_t;

/* Milliseconds since the epoch, now. */
uint64_t sz__now_ms(void);

/* Returns 1 if s is 1 to 64 hex digits. */
int sz__is_id_prefix(const char *s);

/* Connects to the node named by --node or $SAMIZDAT_NODE. sk (borrowed, 64 bytes) is our
 * identity; when NULL, the key named by --key or $SAMIZDAT_KEY is loaded if one was named, and
 * otherwise a throwaway identity is made. On success *out is owned by the caller
 * (sz_net_close). */
int sz__node_connect(sz_cli_t *cli, const uint8_t *sk, sz_net_t **out);

/* Prints a failed exchange (an ERROR from the node with its text, or a broken connection) as one
 * line, what naming the request. Returns SZ_EXIT_FAIL. */
int sz__node_fail(sz_cli_t *cli, sz_net_t *net, int rc, const char *what);

/* GETs record id (a hex prefix, borrowed) and optionally one version (a prefix or NULL) and
 * verifies the answer against what was asked. On success *f is filled and owned by the caller
 * (sz__fetched_free). */
int sz__node_fetch(sz_cli_t *cli, sz_net_t *net, const char *id, const char *version,
                   sz__fetched_t *f);
void sz__fetched_free(sz__fetched_t *f);

/* Lists every version of record id (a prefix, borrowed), verifying each, parents first. On
 * success *arr (may be NULL if not wanted) is a JSON array of the versions' descriptions owned by
 * the caller, *hashes a malloc'd array of *n version hashes owned by the caller (free()), and rid
 * the full record id. *nmissing (may be NULL) is the number of versions named as parents but not
 * sent: a node does not send versions it purged after a retraction. */
int sz__node_history(sz_cli_t *cli, sz_net_t *net, const char *id, json_t **arr, uint8_t **hashes,
                     size_t *n, uint8_t rid[32], size_t *nmissing);

/* Sends a signed envelope (borrowed) and checks the acknowledgement against version. */
int sz__node_submit(sz_cli_t *cli, sz_net_t *net, const uint8_t *env, size_t env_len,
                    const uint8_t version[32], sz_msg_submitted_t *ack);

/* Signs body (borrowed) as a first version of kind with sk (borrowed), sends it on net and checks
 * the node filed it under its own hash. On success *ack is the node's acknowledgement. */
int sz__node_sign_submit(sz_cli_t *cli, sz_net_t *net, uint8_t kind, const uint8_t *body,
                         size_t body_len, const uint8_t sk[static 64], sz_msg_submitted_t *ack);

/* Prints the JSON document o to stdout, indented. Borrows o. */
void sz__dump_json(json_t *o);

/* A 32-byte hash as a JSON string of 64 hex digits. */
json_t *sz__hex_json(const uint8_t *b);

/* Parses a recipient or key argument: the text of an Ed25519 public key (44 characters of
 * base64), or the path of a file holding one (a .pub file). what names the option for the error
 * line. Returns SZ_EXIT_OK or prints why and returns SZ_EXIT_USAGE / SZ_EXIT_FAIL. */
int sz__parse_key_arg(sz_cli_t *cli, const char *what, const char *arg, uint8_t pk[static 32]);

/* The recipients named with --seal-to, and --no-self. */
typedef struct sz__recipients_s {
    uint8_t keys[64 * 32]; /* SZ_SEAL_MAX_RECIPIENTS keys */
    size_t n;
    int no_self;
} sz__recipients_t;

/* Option ids shared by commands that seal, for sz__recipients_option. */
#define SZ__OPT_SEAL_TO 1001
#define SZ__OPT_NO_SELF 1002

/* Handles --seal-to KEY (id SZ__OPT_SEAL_TO) and --no-self (SZ__OPT_NO_SELF) into r. Returns
 * SZ_CLI_GO or an exit status after printing why. */
int sz__recipients_option(sz_cli_t *cli, sz__recipients_t *r, int id, const char *arg);

/* Adds a new version with the body of the file at path to record id (a prefix) on net, signed by
 * sk, parents = the record's heads; sealed to r when r names recipients (required when the
 * current version is sealed). On success *ack is the node's acknowledgement and *nrecip the number
 * of recipients (0 when not sealed). Prints why on failure. */
int sz__node_amend(sz_cli_t *cli, sz_net_t *net, const uint8_t sk[static 64], const char *id,
                   const char *path, const sz__recipients_t *r, sz_msg_submitted_t *ack,
                   size_t *nrecip);

/* Seals plain (borrowed, len bytes) for a record of kind by the owner of sk (borrowed) to r's
 * recipients and, unless r->no_self, to the author's own key. On success *out is malloc'd (the
 * caller frees it) and *nrecipients the number of distinct recipients. Prints why on failure. */
int sz__seal_body(sz_cli_t *cli, uint8_t kind, const uint8_t sk[static 64],
                  const sz__recipients_t *r, const uint8_t *plain, size_t len, uint8_t **out,
                  size_t *out_len, size_t *nrecipients);

/* Opens the sealed body of rec (borrowed, already verified) with sk (borrowed), or when sk is
 * NULL with the key named by --key or $SAMIZDAT_KEY, else the default key if it exists. On success
 * *plain is the sodium_malloc'd plaintext (the caller releases it with sodium_free) or NULL when
 * there is no key or the key is not a recipient. Prints why and fails when a slot opens but the
 * body does not (a damaged or dishonestly sealed body). */
int sz__open_sealed(sz_cli_t *cli, const uint8_t *sk, const sz_record_t *rec, uint8_t **plain,
                    size_t *plen);

#endif
