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

#endif
