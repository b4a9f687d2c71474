/* The node's acceptance policy (see policy.h). */
#include "policy.h"

#include "encoding.h"
#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sz_policy_s {
    int submission;
    sz_keylist_t contributors;
    sz_keylist_t editors; /* editors only; admins are checked as well wherever editors are */
    sz_keylist_t admins;
};

static int copy_list(sz_keylist_t *dst, const sz_keylist_t *src) {
    for (size_t i = 0; i < src->n; i++) {
        int rc = sz_keylist_add(dst, src->keys[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int key_cmp(const void *a, const void *b) {
    return memcmp(a, b, 32);
}

/* Sorted so that each check is a binary search: an allow-list may hold thousands of keys and is
 * consulted for every submitted record. */
static void sort_list(sz_keylist_t *l) {
    if (l->n > 1)
        qsort(l->keys, l->n, 32, key_cmp);
}

static int has(const sz_keylist_t *l, const uint8_t key[static 32]) {
    return l->n > 0 && bsearch(key, l->keys, l->n, 32, key_cmp) != NULL;
}

int sz_policy_new(sz_policy_t **out, const sz_config_t *cfg, const uint8_t (*admins)[32],
                  size_t nadmins) {
    sz_policy_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return -ENOMEM;
    p->submission = cfg->submission;
    int rc = copy_list(&p->contributors, &cfg->contributors);
    if (rc == 0)
        rc = copy_list(&p->editors, &cfg->editors);
    if (rc == 0)
        rc = copy_list(&p->admins, &cfg->admins);
    for (size_t i = 0; rc == 0 && i < nadmins; i++)
        rc = sz_keylist_add(&p->admins, admins[i]);
    if (rc != 0) {
        sz_policy_free(p);
        return rc;
    }
    sort_list(&p->contributors);
    sort_list(&p->editors);
    sort_list(&p->admins);
    *out = p;
    return 0;
}

void sz_policy_free(sz_policy_t *p) {
    if (p == NULL)
        return;
    free(p->contributors.keys);
    free(p->editors.keys);
    free(p->admins.keys);
    free(p);
}

int sz_policy_is_admin(const sz_policy_t *p, const uint8_t key[static 32]) {
    return has(&p->admins, key);
}

int sz_policy_is_editor(const sz_policy_t *p, const uint8_t key[static 32]) {
    return has(&p->editors, key) || has(&p->admins, key);
}

int sz_policy_is_contributor(const sz_policy_t *p, const uint8_t key[static 32]) {
    return has(&p->contributors, key);
}

int sz_policy_submission(const sz_policy_t *p) {
    return p->submission;
}

static int deny(char *why, size_t whylen, const char *fmt, const uint8_t key[static 32]) {
    if (why != NULL && whylen > 0) {
        char text[SZ_PUBKEY_TEXT_LEN + 1];
        sz_pubkey_format(text, key);
        snprintf(why, whylen, fmt, text);
    }
    return SZ_E_DENIED;
}

int sz_policy_may_submit(const sz_policy_t *p, const uint8_t author[static 32], char *why,
                         size_t whylen) {
    if (p->submission == SZ_SUBMISSION_OPEN)
        return 0;
    if (sz_policy_is_contributor(p, author) || sz_policy_is_editor(p, author))
        return 0;
    return deny(why, whylen, "contributor key %s is not on this node's allow-list", author);
}

int sz_policy_may_amend(const sz_policy_t *p, const uint8_t first_author[static 32],
                        const uint8_t author[static 32], char *why, size_t whylen) {
    /* The universal rule: an author may always continue their own record. */
    if (memcmp(first_author, author, 32) == 0)
        return 0;
    if (sz_policy_is_editor(p, author))
        return 0;
    return sz_policy_amend_reason(p, author, why, whylen);
}

int sz_policy_amend_reason(const sz_policy_t *p, const uint8_t author[static 32], char *why,
                           size_t whylen) {
    (void)p;
    return deny(why, whylen, "key %s is neither the record's author nor an editor on this node",
                author);
}

int sz_policy_may_admin(const sz_policy_t *p, const uint8_t key[static 32], char *why,
                        size_t whylen) {
    if (sz_policy_is_admin(p, key))
        return 0;
    return deny(why, whylen, "key %s is not an admin of this node", key);
}

int sz_policy_editor_cb(void *arg, const uint8_t record_id[32], const uint8_t first_author[32],
                        const uint8_t author[32]) {
    (void)record_id;
    const sz_policy_t *p = arg;
    return sz_policy_may_amend(p, first_author, author, NULL, 0) == 0;
}
