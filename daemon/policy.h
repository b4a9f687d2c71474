/* The node's acceptance policy (RECORD.md "Acceptance is local" and validity rule 5, amend rights):
 * who may submit new records, who is an admin, who is an editor.
 *
 *   - Submission of a record's FIRST version: with `submission = open` anyone holding an invite may
 *     submit; with `submission = allowlist` only listed contributors, editors and admins may.
 *   - Later versions (amendments) are always allowed for the record's original author (the author
 *     of its first version; universal rule); another author needs to be an editor on this node
 *     (local rule). The store applies this through sz_policy_editor_cb().
 *   - Admins are editors. Admins may administer the node (peers, policy, retraction as an editor).
 *
 * Every refusal returns SZ_E_DENIED and writes a one-line reason naming the key in its text form,
 * for the client's error reply and the log line, e.g.
 *   "contributor key AbC...= is not on this node's allow-list".
 *
 * A policy is immutable once built, so any thread (the libuv pool, the store's write path) may call
 * it concurrently. */
#ifndef SZ_POLICY_H
#define SZ_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SZ_POLICY_WHY_MAX 160 /* enough for any reason with a key in it */

typedef struct sz_policy_s sz_policy_t;

/* Builds a policy from cfg (borrowed: submission mode, contributor, editor and admin lists are
 * copied) plus extra admin keys (borrowed, nadmins entries: --admin and DIR/admin.key.pub). On
 * success *out is owned by the caller and freed with sz_policy_free(). Returns 0 or -ENOMEM. */
int sz_policy_new(sz_policy_t **out, const sz_config_t *cfg, const uint8_t (*admins)[32],
                  size_t nadmins);

/* Frees a policy. NULL is allowed. */
void sz_policy_free(sz_policy_t *p);

/* Returns 0 if author (borrowed) may submit the first version of a new record, or SZ_E_DENIED with
 * a reason in why (borrowed, whylen bytes; may be NULL). */
int sz_policy_may_submit(const sz_policy_t *p, const uint8_t author[static 32], char *why,
                         size_t whylen);

/* Returns 0 if author may write a later version of a record whose first version was written by
 * first_author (both borrowed): author is first_author, or an editor. Otherwise SZ_E_DENIED with a
 * reason in why. */
int sz_policy_may_amend(const sz_policy_t *p, const uint8_t first_author[static 32],
                        const uint8_t author[static 32], char *why, size_t whylen);

/* Writes into why the reason for a later version the store refused with SZ_E_DENIED through
 * sz_policy_editor_cb() (author, borrowed, is neither the record's author nor an editor), the same
 * sentence sz_policy_may_amend() gives, for the client's error and the log. Returns SZ_E_DENIED. */
int sz_policy_amend_reason(const sz_policy_t *p, const uint8_t author[static 32], char *why,
                           size_t whylen);

/* Returns 0 if key may administer the node, else SZ_E_DENIED with a reason in why. */
int sz_policy_may_admin(const sz_policy_t *p, const uint8_t key[static 32], char *why,
                        size_t whylen);

/* Predicates: 1 or 0. Admins are editors. */
int sz_policy_is_admin(const sz_policy_t *p, const uint8_t key[static 32]);
int sz_policy_is_editor(const sz_policy_t *p, const uint8_t key[static 32]);
int sz_policy_is_contributor(const sz_policy_t *p, const uint8_t key[static 32]);

/* Returns SZ_SUBMISSION_OPEN or SZ_SUBMISSION_ALLOWLIST. */
int sz_policy_submission(const sz_policy_t *p);

/* The store's editor predicate (daemon/store.h sz_store_editor_cb): arg is the sz_policy_t
 * (borrowed for the store's lifetime). Returns 1 when author is an editor (or admin) on this node,
 * 0 otherwise. The store calls it only when author differs from first_author. */
int sz_policy_editor_cb(void *arg, const uint8_t record_id[32], const uint8_t first_author[32],
                        const uint8_t author[32]);

#endif
