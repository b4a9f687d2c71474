/* Replication benchmarks: two real nodes (the daemon's server and sync code, in this process, each
 * on its own libuv loop thread) on loopback. Node B mirrors node A through a counting TCP proxy,
 * so the bytes each way and the round trips (request bursts from B answered by A) are measured
 * on the wire:
 *
 *   1. full sync of N (default 100,000) signed ~1 KiB records into a fresh node: records/s,
 *      beside the single-core Ed25519 verify rate (sz_store_verify) of the same envelopes
 *      measured in the same run, and their ratio (target >= 1.5);
 *   2. peers already in sync: one poll, its round trips (target 1) and bytes each way (target
 *      < 512);
 *   3. 100 new records among N, written into A's store behind the node's back (so no live push
 *      carries them: the next pull must): round trips (target <= 4), bytes B<-A against the new
 *      records' bytes (target <= 1.2x + 8 KiB) and the time from B's request to the last commit
 *      (target < 100 ms);
 *   4. recovery by reconciliation: B forgets its checkpoint (as after a restore) while A gains 100
 *      more records, and B reconnects: the whole set of N is reconciled and the 100 fetched: round
 *      trips, bytes each way and time.
 *
 * usage: bench_sync [N]. Build in Release for meaningful figures. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "config.h"
#include "invite.h"
#include "node.h"
#include "policy.h"
#include "record.h"
#include "server.h"
#include "store.h"

#define T0 1700000000000ull

static void die(const char *what, int rc) {
    fprintf(stderr, "bench_sync: %s: %d\n", what, rc);
    exit(1);
}

/* ---- Records ---- */

static void make_env(const uint8_t *sk, size_t i, uint8_t **env, size_t *len) {
    char body[1400], text[1000];
    uint64_t st = 0x9e3779b97f4a7c15ull * (i + 1);
    size_t tl = 0;
    static const char *words[] = {"unit",    "order",   "refused", "border",   "night", "convoy",
                                  "officer", "village", "family",  "deserted", "march", "winter"};
    while (tl < 860) {
        st ^= st << 13;
        st ^= st >> 7;
        st ^= st << 17;
        const char *w = words[st % 12];
        size_t wl = strlen(w);
        memcpy(text + tl, w, wl);
        tl += wl;
        text[tl++] = ' ';
    }
    text[tl - 1] = '\0';
    int bl = snprintf(body, sizeof body,
                      "{\"title\":\"Testimony %zu\",\"statement\":{\"text\":\"%s\","
                      "\"language\":\"en\"},\"witness\":{\"role\":\"soldier\"},"
                      "\"consent\":{\"scope\":\"archive-only\"},\"act_types\":[\"desertion\"]}",
                      i, text);
    sz_record_fields_t f = {.kind = SZ_KIND_TESTIMONY,
                            .created = T0 + i,
                            .body = (const uint8_t *)body,
                            .body_len = (uint32_t)bl};
    int rc = sz_record_sign(&f, sk, env, len);
    if (rc != 0)
        die("sign", rc);
}

typedef struct gen_s {
    const uint8_t *sk;
    size_t from, to;
    uint8_t **env;
    size_t *len;
} gen_t;

static void *gen_main(void *p) {
    gen_t *g = p;
    for (size_t i = g->from; i < g->to; i++)
        make_env(g->sk, i, &g->env[i], &g->len[i]);
    return NULL;
}

typedef struct vpar_s {
    uint8_t **env;
    size_t from, to;
    size_t *len;
} vpar_t;

static void *vpar_main(void *arg) {
    vpar_t *v = arg;
    for (size_t i = v->from; i < v->to; i++) {
        sz_verified_t out;
        if (sz_store_verify(&out, v->env[i], v->len[i]) != 0)
            die("verify", -1);
    }
    return NULL;
}

/* ---- A node in this process ---- */

typedef struct node_s {
    char dir[300];
    sz_config_t cfg;
    sz_node_t node;
    sz_store_t *store;
    sz_policy_t *policy;
    uv_loop_t loop;
    sz_server_t *srv;
    pthread_t th;
    uint16_t port;
} node_t;

static void *loop_main(void *arg) {
    node_t *n = arg;
    uv_run(&n->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* Creates the node's folder and store (not the server). */
static void node_init(node_t *n, const char *dir, const uint8_t *netkey_from) {
    char err[256] = "";
    snprintf(n->dir, sizeof n->dir, "%s", dir);
    if (sz_config_init(&n->cfg) != 0)
        die("config", -1);
    snprintf(n->cfg.listen.host, sizeof n->cfg.listen.host, "127.0.0.1");
    n->cfg.listen.port = 0;
    snprintf(n->cfg.advertise.host, sizeof n->cfg.advertise.host, "127.0.0.1");
    n->cfg.advertise.port = 9;
    char join[SZ_INVITE_BUF];
    sz_node_options_t no = {.cfg = &n->cfg, .errbuf = err, .errlen = sizeof err};
    if (netkey_from != NULL) {
        uint8_t fake[32];
        randombytes_buf(fake, 32);
        sz_invite_format(join, sizeof join, "127.0.0.1", 9, fake, netkey_from);
        no.join = join;
    }
    int rc = sz_node_init(&n->node, dir, &no);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        die("node init", rc);
    }
    if ((rc = sz_policy_new(&n->policy, &n->cfg, (const uint8_t(*)[32])n->node.admins,
                            n->node.nadmins)) != 0)
        die("policy", rc);
    sz_store_options_t so = {.editor = sz_policy_editor_cb, .editor_arg = n->policy};
    if ((rc = sz_store_open(&n->store, dir, &so)) != 0)
        die("store", rc);
}

static void node_add_peer(node_t *n, const node_t *peer, uint16_t port) {
    char inv[SZ_INVITE_BUF], err[256];
    sz_invite_format(inv, sizeof inv, "127.0.0.1", port, peer->node.public_key,
                     n->node.network_key);
    if (sz_config_set(&n->cfg, "peer", inv, "bench", 0, err, sizeof err) != 0)
        die(err, -1);
}

static void node_run(node_t *n) {
    if (uv_loop_init(&n->loop) != 0)
        die("loop", -1);
    sz_server_options_t o = {
        .cfg = &n->cfg, .node = &n->node, .store = n->store, .policy = n->policy};
    int rc = sz_server_new(&n->srv, &n->loop, &o);
    if (rc == 0)
        rc = sz_server_start(n->srv);
    if (rc != 0)
        die("server", rc);
    n->port = sz_server_port(n->srv);
    pthread_create(&n->th, NULL, loop_main, n);
}

static void node_stop(node_t *n) {
    sz_server_stop(n->srv);
    pthread_join(n->th, NULL);
    sz_server_free(n->srv);
    uv_loop_close(&n->loop);
    sz_store_close(n->store);
    sz_policy_free(n->policy);
    sz_node_free(&n->node);
    sz_config_free(&n->cfg);
}

static uint64_t versions(node_t *n) {
    sz_store_stats_t st;
    return sz_store_stats(n->store, &st) == 0 ? st.versions : 0;
}

/* ---- The counting proxy ---- */

typedef struct proxy_s {
    int lfd;
    uint16_t port, target;
    atomic_ullong up, down;    /* bytes B->A, A->B */
    atomic_ullong reqs, resps; /* bursts B->A, and A->B bursts that followed one */
    atomic_int last_dir;       /* 1 up, 2 down */
    atomic_int stop;
    atomic_int kick; /* close the current connection (the peer then reconnects) */
    double first_up; /* time of the first upward byte after a reset */
    pthread_t th;
} proxy_t;

static void proxy_reset(proxy_t *p) {
    p->up = p->down = p->reqs = p->resps = 0;
    p->last_dir = 0;
    p->first_up = 0;
}

static void *proxy_main(void *arg) {
    proxy_t *p = arg;
    static uint8_t buf[1 << 16];
    while (!p->stop) {
        struct pollfd lp = {.fd = p->lfd, .events = POLLIN};
        if (poll(&lp, 1, 100) <= 0)
            continue;
        int c = accept(p->lfd, NULL, NULL);
        if (c < 0)
            continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(p->target)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
            close(c);
            close(s);
            continue;
        }
        struct pollfd f[2] = {{.fd = c, .events = POLLIN}, {.fd = s, .events = POLLIN}};
        while (!p->stop) {
            if (p->kick) {
                p->kick = 0;
                break;
            }
            if (poll(f, 2, 100) <= 0)
                continue;
            int done = 0;
            for (int k = 0; k < 2 && !done; k++) {
                if (!(f[k].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t r = read(f[k].fd, buf, sizeof buf);
                if (r <= 0) {
                    done = 1;
                    break;
                }
                int dir = k == 0 ? 1 : 2;
                if (dir == 1) {
                    if (p->first_up == 0)
                        p->first_up = bench_now_s();
                    p->up += (unsigned long long)r;
                    if (p->last_dir != 1)
                        p->reqs++;
                } else {
                    p->down += (unsigned long long)r;
                    if (p->last_dir == 1)
                        p->resps++;
                }
                p->last_dir = dir;
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(f[1 - k].fd, buf + off, (size_t)(r - off));
                    if (w <= 0) {
                        done = 1;
                        break;
                    }
                    off += w;
                }
            }
            if (done)
                break;
        }
        close(c);
        close(s);
    }
    return NULL;
}

static void proxy_start(proxy_t *p) {
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(p->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(p->lfd, 4) != 0)
        die("proxy listen", -errno);
    socklen_t l = sizeof a;
    getsockname(p->lfd, (struct sockaddr *)&a, &l);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->th, NULL, proxy_main, p);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

/* Waits until B holds want versions (or timeout_s passes); returns the time it reached it. */
static double wait_versions(node_t *b, uint64_t want, double timeout_s) {
    double t0 = bench_now_s();
    while (versions(b) < want) {
        if (bench_now_s() - t0 > timeout_s) {
            fprintf(stderr, "bench_sync: timeout: B holds %llu of %llu\n",
                    (unsigned long long)versions(b), (unsigned long long)want);
            exit(1);
        }
        usleep(500);
    }
    return bench_now_s();
}

int main(int argc, char **argv) {
    if (sodium_init() < 0)
        return 1;
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    if (n < 1000 || n > SZ_STORE_MAX_BATCH)
        die("N must be 1000..100000", -1);
    char base[] = "/tmp/bench_sync_XXXXXX";
    if (mkdtemp(base) == NULL)
        die("mkdtemp", -errno);
    char da[400], db[400];
    snprintf(da, sizeof da, "%s/a", base);
    snprintf(db, sizeof db, "%s/b", base);
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);

    /* Records, signed on every core. */
    size_t total = n + 200;
    uint8_t **env = calloc(total, sizeof *env);
    size_t *len = calloc(total, sizeof *len);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1)
        ncpu = 1;
    pthread_t th[64];
    gen_t g[64];
    size_t nt = (size_t)(ncpu > 64 ? 64 : ncpu);
    for (size_t t = 0; t < nt; t++) {
        g[t] = (gen_t){sk, total * t / nt, total * (t + 1) / nt, env, len};
        pthread_create(&th[t], NULL, gen_main, &g[t]);
    }
    for (size_t t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    size_t bytes_n = 0;
    for (size_t i = 0; i < n; i++)
        bytes_n += len[i];
    printf("records: %zu, %.0f bytes on average, %d CPUs\n", n, (double)bytes_n / (double)n,
           (int)ncpu);

    /* Single-core verify rate of the same envelopes. */
    size_t sample = n < 20000 ? n : 20000;
    double t0 = bench_now_s();
    for (size_t i = 0; i < sample; i++) {
        sz_verified_t v;
        if (sz_store_verify(&v, env[i], len[i]) != 0)
            die("verify", -1);
    }
    double verify_rate = (double)sample / (bench_now_s() - t0);
    printf("single-core verify: %.0f records/s\n", verify_rate);
    /* The same on every core at once: how far verification alone scales on this machine. */
    {
        vpar_t vp[64];
        pthread_t vt[64];
        t0 = bench_now_s();
        for (size_t t = 0; t < nt; t++) {
            vp[t] = (vpar_t){env, sample * t / nt, sample * (t + 1) / nt, len};
            pthread_create(&vt[t], NULL, vpar_main, &vp[t]);
        }
        for (size_t t = 0; t < nt; t++)
            pthread_join(vt[t], NULL);
        printf("verify on %zu threads: %.0f records/s (%.2f x single-core)\n", nt,
               (double)sample / (bench_now_s() - t0),
               (double)sample / (bench_now_s() - t0) / verify_rate);
    }

    /* A holds n records. */
    node_t A, B;
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    node_init(&A, da, NULL);
    node_init(&B, db, A.node.network_key);
    sz_put_result_t *res = calloc(n, sizeof *res);
    t0 = bench_now_s();
    int rc = 0;
    /* In batches of a page's size, as sync commits them, to show the store's commit rate. */
    for (size_t i = 0; i < n && rc == 0; i += 1000) {
        size_t k = n - i < 1000 ? n - i : 1000;
        rc = sz_store_put_batch(A.store, (const uint8_t *const *)(env + i), len + i, k, res + i);
    }
    if (rc != 0)
        die("fill A", rc);
    double fill = bench_now_s() - t0;
    printf("filled A in %.2f s: %.0f records/s verified and committed on one thread, in batches "
           "of 1000\n",
           fill, (double)n / fill);
    free(res);

    /* B pulls from A through the proxy; A knows B (a dead address: only B's pulls are measured). */
    proxy_t px;
    memset(&px, 0, sizeof px);
    node_add_peer(&A, &B, (uint16_t)free_port());
    node_run(&A);
    px.target = A.port;
    proxy_start(&px);
    node_add_peer(&B, &A, px.port);
    proxy_reset(&px);
    t0 = bench_now_s();
    double c0 = bench_self_cpu_s();
    node_run(&B);
    double t1 = wait_versions(&B, n, 600);
    double c1 = bench_self_cpu_s();
    double rate = (double)n / (t1 - t0);
    printf("\n1. full sync of %zu records: %.2f s, %.0f records/s = %.2f x single-core verify "
           "(target >= 1.5)\n",
           n, t1 - t0, rate, rate / verify_rate);
    printf("   bytes B->A %llu, A->B %llu (%.3f x the records), round trips %llu\n",
           (unsigned long long)px.up, (unsigned long long)px.down,
           (double)px.down / (double)bytes_n, (unsigned long long)px.resps);
    printf("   CPU time of both nodes meanwhile: %.2f s (%.0f %% of one core; both nodes share "
           "this machine's %d CPUs)\n",
           c1 - c0, 100.0 * (c1 - c0) / (t1 - t0), (int)ncpu);

    /* 2. In sync: one poll. Let the checkpoint settle, then count one poll cycle. */
    usleep(2500 * 1000);
    proxy_reset(&px);
    while (px.resps == 0)
        usleep(1000);
    usleep(200 * 1000);
    printf("\n2. peers in sync, one poll: round trips %llu (target 1), bytes B->A %llu, A->B %llu "
           "(target < 512 each)\n",
           (unsigned long long)px.resps, (unsigned long long)px.up, (unsigned long long)px.down);

    /* 3. 100 new records written into A's store directly: no push, the next pull brings them. */
    usleep(300 * 1000);
    size_t bytes_new = 0;
    for (size_t i = n; i < n + 100; i++)
        bytes_new += len[i];
    res = calloc(100, sizeof *res);
    proxy_reset(&px);
    if ((rc = sz_store_put_batch(A.store, (const uint8_t *const *)(env + n), len + n, 100, res)) !=
        0)
        die("add 100", rc);
    double t2 = wait_versions(&B, n + 100, 30);
    usleep(100 * 1000);
    printf("\n3. 100 new among %zu (pulled): round trips %llu (target <= 4), bytes A->B %llu = "
           "%.3f x the new records' %zu bytes (target <= 1.2 x + 8 KiB = %zu), B->A %llu, "
           "time from B's request to the last commit %.1f ms (target < 100)\n",
           n, (unsigned long long)px.resps, (unsigned long long)px.down,
           (double)px.down / (double)bytes_new, bytes_new, bytes_new * 12 / 10 + 8192,
           (unsigned long long)px.up, (t2 - px.first_up) * 1000.0);

    free(res);

    /* 4. B forgets its checkpoint; A gains 100 more; B reconnects and reconciles. */
    usleep(2500 * 1000);
    if ((rc = sz_store_checkpoint_del(B.store, A.node.public_key)) != 0)
        die("forget the checkpoint", rc);
    res = calloc(100, sizeof *res);
    if ((rc = sz_store_put_batch(A.store, (const uint8_t *const *)(env + n + 100), len + n + 100,
                                 100, res)) != 0)
        die("add 100 more", rc);
    free(res);
    bytes_new = 0;
    for (size_t i = n + 100; i < n + 200; i++)
        bytes_new += len[i];
    px.kick = 1;
    while (px.kick)
        usleep(1000);
    proxy_reset(&px);
    double t3 = wait_versions(&B, n + 200, 60);
    usleep(200 * 1000);
    printf("\n4. reconciliation of %zu + 100 new (no checkpoint, as after a restore): round trips "
           "%llu, bytes B->A %llu, A->B %llu (%.3f x the new records' %zu bytes), time from "
           "reconnect to the last commit %.1f ms\n",
           n + 100, (unsigned long long)px.resps, (unsigned long long)px.up,
           (unsigned long long)px.down, (double)px.down / (double)bytes_new, bytes_new,
           (t3 - px.first_up) * 1000.0);

    px.stop = 1;
    node_stop(&B);
    node_stop(&A);
    pthread_join(px.th, NULL);
    close(px.lfd);
    for (size_t i = 0; i < total; i++)
        free(env[i]);
    free(env);
    free(len);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
