/* Memory of 1,000 idle connections: starts a real samizdatd on a loopback port with a temporary
 * data folder, opens N connections that each finish the handshake and HELLO and then stay idle,
 * and reports the daemon's resident memory: VmRSS from /proc/PID/status minus the resident pages
 * of the LMDB map (the data.mdb mappings' Rss in /proc/PID/smaps), before and after. The target is
 * at most 64 MiB with 1,000 connections. Measure a build without sanitizers (ASan's shadow memory
 * dominates otherwise).
 *
 * usage: bench_idle_conns [PATH_TO_SAMIZDATD] [N]   (or SAMIZDATD in the environment) */
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "../unit/sz_testclient.h"
#include "bench_util.h"

/* Sums the Rss of every mapping of a file named data.mdb. */
static long map_rss_kib(pid_t pid) {
    char path[64], line[512];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    long sum = 0;
    int in_map = 0;
    while (f && fgets(line, sizeof line, f)) {
        /* A mapping header starts with an address range "start-end perms ...". */
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
            in_map = strstr(line, "/data.mdb") != NULL;
            continue;
        }
        if (in_map && strncmp(line, "Rss:", 4) == 0)
            sum += strtol(line + 4, NULL, 10);
    }
    if (f)
        fclose(f);
    return sum;
}

static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("free_port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int read_network_key(const char *dir, uint8_t nk[32]) {
    char path[700], text[128] = "";
    snprintf(path, sizeof path, "%s/network.key", dir);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    size_t bin = 0;
    if (sodium_base642bin(nk, 32, text, n, " \t\r\n", &bin, NULL, sodium_base64_VARIANT_ORIGINAL) !=
            0 ||
        bin != 32)
        return -1;
    return 0;
}

static void pause_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    const char *bin = argc > 1 ? argv[1] : getenv("SAMIZDATD");
    int n = argc > 2 ? atoi(argv[2]) : 1000;
    if (bin == NULL || n <= 0) {
        fprintf(stderr, "usage: bench_idle_conns PATH_TO_SAMIZDATD [N]\n");
        return 2;
    }
    if (sodium_init() < 0)
        return 1;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((long)rl.rlim_cur < n + 64) {
        fprintf(stderr, "open file limit %ld is too low for %d connections\n", (long)rl.rlim_cur,
                n);
        return 1;
    }

    char dir[] = "/tmp/sz_bench_idle_XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char data[600], listen[64];
    snprintf(data, sizeof data, "%s/node", dir);
    uint16_t port = free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)port);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, 2);
        execl(bin, bin, "--data", data, "--listen", listen, (char *)NULL);
        _exit(127);
    }

    uint8_t sk[64], pk[32], nk[32];
    crypto_sign_keypair(pk, sk);
    tc_t t;
    int up = 0;
    for (int i = 0; i < 500 && !up; i++) {
        pause_ms(20);
        if (read_network_key(data, nk) == 0 && tc_connect(&t, port, 5000) == 0) {
            up = tc_handshake(&t, sk, nk) == 0 && tc_hello(&t, NULL) == 0;
            tc_close(&t);
        }
    }
    if (!up) {
        fprintf(stderr, "samizdatd did not come up\n");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return 1;
    }
    pause_ms(200);
    long rss0 = bench_status_kib(pid, "VmRSS"), map0 = map_rss_kib(pid);

    int *fds = calloc((size_t)n, sizeof *fds);
    if (fds == NULL) {
        kill(pid, SIGKILL);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        if (tc_connect(&t, port, 5000) != 0 || tc_handshake(&t, sk, nk) != 0 ||
            tc_hello(&t, NULL) != 0) {
            fprintf(stderr, "connection %d failed\n", i);
            kill(pid, SIGKILL);
            free(fds);
            return 1;
        }
        fds[i] = t.fd;
        t.fd = -1; /* keep the socket open; drop the client's keys and buffers */
        tc_close(&t);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pause_ms(500);
    long rss1 = bench_status_kib(pid, "VmRSS"), map1 = map_rss_kib(pid);
    long hwm = bench_status_kib(pid, "VmHWM");

    double setup_ms =
        (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("idle connections: %d (handshake + HELLO each, %.1f ms total, %.3f ms per connection)\n",
           n, setup_ms, setup_ms / n);
    printf("before: VmRSS %ld KiB, data.mdb Rss %ld KiB, net %ld KiB\n", rss0, map0, rss0 - map0);
    printf("after:  VmRSS %ld KiB, data.mdb Rss %ld KiB, net %ld KiB (%.2f MiB), VmHWM %ld KiB\n",
           rss1, map1, rss1 - map1, (double)(rss1 - map1) / 1024.0, hwm);
    printf("per connection: %.2f KiB\n", (double)((rss1 - map1) - (rss0 - map0)) / n);
    printf("target: net RSS <= 65536 KiB with 1000 connections: %s\n",
           rss1 - map1 <= 65536 ? "met" : "NOT met");

    for (int i = 0; i < n; i++)
        close(fds[i]);
    free(fds);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    return (WIFEXITED(st) && WEXITSTATUS(st) == 0) ? 0 : 1;
}
