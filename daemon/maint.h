/* Offline maintenance of an archive folder: a full re-verification and a compacted hot copy.
 * These back `samizdatd --check DIR` and `samizdatd --backup DIR OUT`. */
#ifndef SZ_MAINT_H
#define SZ_MAINT_H

#include <stddef.h>

/* Receives one problem as a single key=value line (borrowed for the call; no newline), such as
 * "problem=signature seq=12 hash=ab12... detail=signature does not verify". */
typedef void (*sz_maint_line_cb)(void *arg, const char *line);

/* Re-verifies the archive in dir (borrowed), which must exist: every log entry (decode,
 * signature, hash, schema of non-sealed bodies, parents, generation, kind), every byhash,
 * records, heads, members and recnos entry against the log, each record's heads and current
 * version by RECORD.md's rule, every stored Merkle subtree hash and the stored frontier against a
 * tree recomputed from the log. Calls cb (may be NULL) once per problem and writes their number to
 * *problems. Runs in one read transaction, so a running node may keep writing. Returns 0 when the
 * check ran (whatever it found), or the error that kept it from running (SZ_E_NOT_FOUND when dir
 * holds no archive, or an open error). */
int sz_maint_check(const char *dir, sz_maint_line_cb cb, void *arg, size_t *problems);

/* Copies the archive in dir to the new folder out (both borrowed) with LMDB's compacting copy,
 * while writers may continue. Refuses an out that exists and is not empty (SZ_E_EXISTS). On
 * failure errbuf (may be NULL) gets a sentence. Returns 0 or a negative error. */
int sz_maint_backup(const char *dir, const char *out, char *errbuf, size_t errlen);

#endif
