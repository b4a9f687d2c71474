#include "passphrase.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal state to restore if a signal arrives while echo is off. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_fd = -1;

static void restore_and_reraise(int sig) {
    if (tty_fd >= 0)
        tcsetattr(tty_fd, TCSAFLUSH, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

int sz_passphrase_from_file(void) {
    const char *path = getenv(SZ_PASSPHRASE_ENV);
    return path != NULL && path[0] != '\0';
}

void sz_passphrase_free(char *pass) {
    if (pass != NULL)
        sodium_free(pass);
}

/* Reads the first line of the passphrase file into buf (SZ_PASSPHRASE_MAX + 1 bytes). */
static int read_from_file(const char *env, const char *path, char *buf, size_t *len, char *why,
                          size_t why_cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_cap, "cannot open %s %.200s: %s", env, path, strerror(e));
        return -e;
    }
    size_t n = 0;
    int rc = 0;
    /* Read at most one byte past the limit, so an over-long first line is detected. */
    while (n < SZ_PASSPHRASE_MAX + 1) {
        ssize_t r = read(fd, buf + n, SZ_PASSPHRASE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(why, why_cap, "cannot read %s %.200s: %s", env, path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (memchr(buf, '\n', n) != NULL)
            break;
    }
    close(fd);
    if (rc != 0)
        return rc;
    char *nl = memchr(buf, '\n', n);
    size_t line = nl != NULL ? (size_t)(nl - buf) : n;
    if (line > SZ_PASSPHRASE_MAX) {
        snprintf(why, why_cap, "passphrase in %s is longer than %d bytes", env, SZ_PASSPHRASE_MAX);
        return SZ_E_TOO_LARGE;
    }
    if (line > 0 && buf[line - 1] == '\r')
        line--;
    /* Wipe whatever followed the first line; it was read into the same secure buffer. */
    sodium_memzero(buf + line, SZ_PASSPHRASE_MAX + 1 - line);
    *len = line;
    return 0;
}

/* Reads one line from the terminal with echo off into buf (SZ_PASSPHRASE_MAX + 1 bytes). */
static int read_line_noecho(const char *env, int fd, const char *prompt, char *buf, size_t *len,
                            char *why, size_t why_cap) {
    struct termios off;
    if (tcgetattr(fd, &saved_tty) != 0) {
        int e = errno;
        snprintf(why, why_cap, "cannot use the terminal to ask for the passphrase: %s (or set %s)",
                 strerror(e), env);
        return -e;
    }
    off = saved_tty;
    off.c_lflag &= (tcflag_t)~ECHO;
    off.c_lflag |= ECHONL;
    struct sigaction sa, old[4];
    static const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = restore_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, &old[i]);
    tty_fd = fd;
    tcsetattr(fd, TCSAFLUSH, &off);
    ssize_t w = write(fd, prompt, strlen(prompt));
    (void)w;

    size_t n = 0;
    int rc = 0, too_long = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = -errno;
            snprintf(why, why_cap, "cannot read the passphrase: %s", strerror(errno));
            break;
        }
        if (r == 0 || c == '\n')
            break;
        if (n < SZ_PASSPHRASE_MAX)
            buf[n++] = c;
        else
            too_long = 1;
        c = 0;
    }
    tcsetattr(fd, TCSAFLUSH, &saved_tty);
    tty_fd = -1;
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);
    if (rc == 0 && too_long) {
        snprintf(why, why_cap, "passphrase is longer than %d bytes", SZ_PASSPHRASE_MAX);
        rc = SZ_E_TOO_LARGE;
    }
    if (rc != 0) {
        sodium_memzero(buf, SZ_PASSPHRASE_MAX + 1);
        return rc;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    *len = n;
    return 0;
}

int sz_passphrase_read(const char *prompt, int confirm, char **out, size_t *len, char *why,
                       size_t why_cap) {
    return sz_passphrase_read_env(SZ_PASSPHRASE_ENV, prompt, confirm, out, len, why, why_cap);
}

int sz_passphrase_read_env(const char *env, const char *prompt, int confirm, char **out,
                           size_t *len, char *why, size_t why_cap) {
    *out = NULL;
    *len = 0;
    char *buf = sodium_malloc(SZ_PASSPHRASE_MAX + 1);
    if (buf == NULL) {
        snprintf(why, why_cap, "out of memory for the passphrase");
        return -ENOMEM;
    }
    memset(buf, 0, SZ_PASSPHRASE_MAX + 1);
    int rc;
    const char *file = getenv(env);
    if (file != NULL && file[0] != '\0') {
        rc = read_from_file(env, file, buf, len, why, why_cap);
    } else {
        int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            snprintf(why, why_cap,
                     "no terminal to ask for the passphrase (set %s to a file "
                     "holding it)",
                     env);
            sodium_free(buf);
            return SZ_E_ARGUMENT;
        }
        rc = read_line_noecho(env, fd, prompt, buf, len, why, why_cap);
        if (rc == 0 && confirm) {
            char *again = sodium_malloc(SZ_PASSPHRASE_MAX + 1);
            size_t again_len = 0;
            if (again == NULL) {
                snprintf(why, why_cap, "out of memory for the passphrase");
                rc = -ENOMEM;
            } else {
                rc = read_line_noecho(env, fd, "Repeat the passphrase: ", again, &again_len, why,
                                      why_cap);
                if (rc == 0 && (again_len != *len || sodium_memcmp(again, buf, *len) != 0)) {
                    snprintf(why, why_cap, "the two passphrases do not match");
                    rc = SZ_E_PASSPHRASE;
                }
                sodium_free(again);
            }
        }
        close(fd);
    }
    if (rc != 0) {
        sodium_free(buf);
        *len = 0;
        return rc;
    }
    *out = buf;
    return 0;
}
