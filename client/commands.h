/* Every command handler, one group per client/cmd_<group>.c file. client/main.c lists them in its
 * command table with their summaries and usage texts (declared here beside each handler). */
#ifndef SZ_COMMANDS_H
#define SZ_COMMANDS_H

#include "cli.h"

/* client/cmd_keygen.c */
int sz_cmd_keygen(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_keygen[];

/* client/cmd_record.c: offline record commands. */
int sz_cmd_sign(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_verify(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_show(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_sign[];
extern const char sz_usage_verify[];
extern const char sz_usage_show[];

/* client/cmd_node.c: commands that talk to a node (--node or $SAMIZDAT_NODE). */
int sz_cmd_submit(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_amend(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_get(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_history(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_list(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_search(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_status(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_submit[];
extern const char sz_usage_amend[];
extern const char sz_usage_get[];
extern const char sz_usage_history[];
extern const char sz_usage_list[];
extern const char sz_usage_search[];
extern const char sz_usage_status[];

/* client/cmd_safety.c: withdrawing versions. */
int sz_cmd_retract(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_redact(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_retract[];
extern const char sz_usage_redact[];

/* client/cmd_key.c: key backup, restore, revocation and show (samizdat key SUBCOMMAND). */
int sz_cmd_key(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_key[];

/* client/cmd_audit.c: audit a mirror (tree heads, consistency, possession challenges). */
int sz_cmd_audit(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_audit[];

/* client/cmd_peer.c: the node's mirror peers (admin). */
int sz_cmd_peer(sz_cli_t *cli, int argc, char **argv);
int sz_cmd_sync(sz_cli_t *cli, int argc, char **argv);
extern const char sz_usage_peer[];
extern const char sz_usage_sync[];

/* Fetches record id (a hex prefix) from the node and verifies it as 'verify FILE' does a file;
 * 'samizdat verify' calls it when its argument is not an existing file. Returns an exit status. */
int sz_node_verify_id(sz_cli_t *cli, const char *id);

#endif
