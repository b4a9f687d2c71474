/* The node's data folder: first start, reload, admins, peers, and refused mismatches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "encoding.h"
#include "error.h"
#include "invite.h"
#include "keyfile.h"
#include "node.h"

static char root[64];
static char err[512];

static int setup(void **state) {
    (void)state;
    if (sodium_init() < 0)
        return -1;
    strcpy(root, "/tmp/sz-test-node-XXXXXX");
    return mkdtemp(root) == NULL ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static unsigned mode_of(const char *dir, const char *name) {
    char p[256];
    struct stat st;
    path(p, sizeof(p), dir, name);
    if (stat(p, &st) != 0)
        return 0;
    return (unsigned)(st.st_mode & 0777);
}

static int init(sz_node_t *node, const char *dir, const sz_config_t *cfg, const char *join,
                const uint8_t (*admins)[32], size_t nadmins) {
    err[0] = '\0';
    sz_node_options_t o = {.cfg = cfg,
                           .admins = admins,
                           .nadmins = nadmins,
                           .join = join,
                           .errbuf = err,
                           .errlen = sizeof(err)};
    return sz_node_init(node, dir, &o);
}

static void test_first_and_second_start(void **state) {
    (void)state;
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/a/b", root); /* parents are created too */
    sz_node_t n;
    int rc = init(&n, dir, &cfg, NULL, NULL, 0);
    if (rc != 0)
        fail_msg("%s", err);
    assert_true(n.created);
    assert_true(n.admin_key_created);
    assert_int_equal(n.nadmins, 1);
    assert_int_equal(mode_of(dir, "."), 0700);
    assert_int_equal(mode_of(dir, "node.key"), 0600);
    assert_int_equal(mode_of(dir, "network.key"), 0600);
    assert_int_equal(mode_of(dir, "invite"), 0600);
    assert_int_equal(mode_of(dir, "samizdatd.conf"), 0600);
    assert_int_equal(mode_of(dir, "admin.key"), 0600);
    assert_int_equal(mode_of(dir, "admin.key.pub"), 0644);
    assert_int_equal(mode_of(dir, "node.key.pub"), 0644);
    assert_int_equal(mode_of(dir, "peers"), 0);
    /* The secret key's public half is the public key, and the invite holds both keys. */
    assert_memory_equal(n.secret_key + 32, n.public_key, 32);
    sz_invite_t inv;
    assert_int_equal(sz_invite_parse(n.invite, &inv), 0);
    assert_string_equal(inv.host, "127.0.0.1");
    assert_int_equal(inv.port, 7433);
    assert_memory_equal(inv.node_key, n.public_key, 32);
    assert_memory_equal(inv.network_key, n.network_key, 32);
    sz_invite_wipe(&inv);
    uint8_t pk[32], net[32], admin[32];
    memcpy(pk, n.public_key, 32);
    memcpy(net, n.network_key, 32);
    memcpy(admin, n.admins[0], 32);
    sz_node_free(&n);
    assert_null(n.secret_key);
    assert_null(n.network_key);

    /* Second start, on another port and with an --admin: same keys, the old admin stays. */
    cfg.listen.port = 9999;
    uint8_t extra[32];
    memset(extra, 7, 32);
    const uint8_t(*admins)[32] = (const uint8_t(*)[32])extra;
    rc = init(&n, dir, &cfg, NULL, admins, 1);
    if (rc != 0)
        fail_msg("%s", err);
    assert_false(n.created);
    assert_false(n.admin_key_created);
    assert_memory_equal(n.public_key, pk, 32);
    assert_memory_equal(n.network_key, net, 32);
    assert_int_equal(n.nadmins, 2);
    assert_memory_equal(n.admins[0], extra, 32);
    assert_memory_equal(n.admins[1], admin, 32);
    assert_non_null(strstr(n.invite, ":9999,"));
    sz_node_free(&n);
    sz_node_free(&n); /* twice is harmless */
    sz_config_free(&cfg);
}

static void test_join_and_peers(void **state) {
    (void)state;
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    char d1[128], d2[128], d3[128];
    snprintf(d1, sizeof(d1), "%s/n1", root);
    snprintf(d2, sizeof(d2), "%s/n2", root);
    snprintf(d3, sizeof(d3), "%s/n3", root);
    sz_node_t n1, n2;
    assert_int_equal(init(&n1, d1, &cfg, NULL, NULL, 0), 0);
    char inv1[SZ_INVITE_BUF];
    strcpy(inv1, n1.invite);

    /* A bad invite fails before anything is created. */
    assert_int_equal(init(&n2, d2, &cfg, "sz1,nope", NULL, 0), SZ_E_CONFIG);
    assert_non_null(strstr(err, "--join: the invite is not valid"));
    assert_int_equal(mode_of(d2, "."), 0);

    uint8_t adm[32];
    memset(adm, 9, 32);
    const uint8_t(*admins)[32] = (const uint8_t(*)[32])adm;
    int rc = init(&n2, d2, &cfg, inv1, admins, 1);
    if (rc != 0)
        fail_msg("%s", err);
    assert_memory_equal(n2.network_key, n1.network_key, 32);
    assert_int_equal(n2.npeers, 1);
    assert_string_equal(n2.peers[0], inv1);
    assert_int_equal(mode_of(d2, "peers"), 0600);
    assert_int_equal(mode_of(d2, "admin.key"), 0); /* an admin was named */

    /* Peers: a duplicate node key, another archive, garbage. */
    assert_int_equal(sz_node_add_peer(&n2, inv1), SZ_E_EXISTS);
    uint8_t k[32], other_net[32];
    memset(k, 5, 32);
    memset(other_net, 6, 32);
    char text[SZ_INVITE_BUF];
    assert_true(sz_invite_format(text, sizeof(text), "peer.example", 1, k, other_net) > 0);
    assert_int_equal(sz_node_add_peer(&n2, text), SZ_E_CONFIG);
    assert_int_equal(sz_node_add_peer(&n2, "garbage"), SZ_E_MALFORMED);
    assert_true(sz_invite_format(text, sizeof(text), "peer.example", 1, k, n2.network_key) > 0);
    strcat(text, "\n");
    assert_int_equal(sz_node_add_peer(&n2, text), 0);
    assert_int_equal(n2.npeers, 2);
    sz_node_free(&n2);

    /* The peers persist; joining again with the same invite adds nothing. */
    assert_int_equal(init(&n2, d2, &cfg, inv1, admins, 1), 0);
    assert_int_equal(n2.npeers, 2);
    assert_null(strchr(n2.peers[1], '\n'));
    sz_node_free(&n2);

    /* Another archive's invite into an existing node is refused. */
    assert_true(sz_invite_format(text, sizeof(text), "peer.example", 1, k, other_net) > 0);
    assert_int_equal(init(&n2, d2, &cfg, text, admins, 1), SZ_E_CONFIG);
    assert_non_null(strstr(err, "another archive"));
    /* One node per folder at a time; the lock goes with sz_node_free(). */
    assert_int_equal(init(&n2, d1, &cfg, NULL, NULL, 0), SZ_E_CONFIG);
    assert_non_null(strstr(err, "another samizdatd is already running"));
    sz_node_free(&n1);
    /* The node's own invite is refused. */
    assert_int_equal(init(&n2, d1, &cfg, inv1, NULL, 0), SZ_E_CONFIG);
    assert_non_null(strstr(err, "this node's own"));

    /* A peers file with a line of another archive is refused with its line number. */
    char p[256];
    path(p, sizeof(p), d2, "peers");
    FILE *f = fopen(p, "a");
    assert_non_null(f);
    fprintf(f, "# a comment\n%s\n", text);
    fclose(f);
    assert_int_equal(init(&n2, d2, &cfg, NULL, admins, 1), SZ_E_CONFIG);
    assert_non_null(strstr(err, "peers:4: this peer belongs to another archive"));

    /* An admin named in the config also suppresses admin.key. */
    assert_int_equal(sz_keylist_add(&cfg.admins, adm), 0);
    sz_node_t n3;
    assert_int_equal(init(&n3, d3, &cfg, NULL, NULL, 0), 0);
    assert_int_equal(n3.nadmins, 1);
    assert_int_equal(mode_of(d3, "admin.key"), 0);
    sz_node_free(&n3);
    sz_config_free(&cfg);
}

static void test_refusals(void **state) {
    (void)state;
    sz_config_t cfg;
    assert_int_equal(sz_config_init(&cfg), 0);
    char d[128], p[256];
    snprintf(d, sizeof(d), "%s/r", root);
    sz_node_t n;
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), 0);
    sz_node_free(&n);

    path(p, sizeof(p), d, "node.key");
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), SZ_E_CONFIG);
    assert_non_null(strstr(err, "chmod 600"));
    assert_int_equal(chmod(p, 0600), 0);

    /* A damaged node key, then a passphrase-protected one, are refused with their reasons. */
    FILE *f = fopen(p, "r");
    char keytext[1024];
    size_t kl = fread(keytext, 1, sizeof(keytext) - 1, f);
    fclose(f);
    keytext[kl] = '\0';
    f = fopen(p, "w");
    fputs("untrusted comment: samizdat secret key\nAAAA\n", f);
    fclose(f);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), SZ_E_KEYFILE);
    assert_non_null(strstr(err, "node.key is not a valid samizdat key file"));
    uint8_t *sk = NULL;
    char *prot = NULL;
    sz_kdf_limits_t lim;
    assert_int_equal(sz_kdf_limits_named(&lim, "min"), 0);
    assert_int_equal(sz_secretkey_generate(&sk), 0);
    assert_int_equal(sz_keyfile_encode(&prot, sk, "pw", 2, &lim), 0);
    f = fopen(p, "w");
    fputs(prot, f);
    fclose(f);
    sz_keyfile_text_free(prot);
    sz_secretkey_free(sk);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), SZ_E_CONFIG);
    assert_non_null(strstr(err, "protected by a passphrase"));
    f = fopen(p, "w");
    fputs(keytext, f);
    fclose(f);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), 0);
    sz_node_free(&n);

    /* A wildcard listen address still gives an invite (with a warning in the log). */
    assert_int_equal(sz_config_set(&cfg, "listen", "0.0.0.0:7000", "t", 0, err, sizeof(err)), 0);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), 0);
    assert_non_null(strstr(n.invite, "sz1,0.0.0.0:7000,"));
    sz_node_free(&n);
    /* advertise wins over listen in the invite. */
    assert_int_equal(
        sz_config_set(&cfg, "advertise", "[2001:db8::5]:7001", "t", 0, err, sizeof(err)), 0);
    assert_int_equal(init(&n, d, &cfg, NULL, NULL, 0), 0);
    assert_non_null(strstr(n.invite, "sz1,[2001:db8::5]:7001,"));
    sz_node_free(&n);

    /* A data path that is a file. */
    path(p, sizeof(p), root, "plainfile");
    f = fopen(p, "w");
    fclose(f);
    assert_int_equal(init(&n, p, &cfg, NULL, NULL, 0), -ENOTDIR);
    assert_non_null(strstr(err, "cannot create the data folder"));
    sz_node_options_t none = {0};
    assert_int_equal(sz_node_init(&n, d, &none), SZ_E_ARGUMENT);
    sz_config_free(&cfg);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_and_second_start),
        cmocka_unit_test(test_join_and_peers),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
