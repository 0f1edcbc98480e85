/*
 * oks-bench smtp-sink: a small SMTP server for the mail benchmark (bench/mail.sh) that delivers
 * each accepted message as a file into a maildir (tmp/ then rename to new/), like the test
 * stack's Python server but cheap enough not to be the bottleneck: one thread, poll() over up
 * to 64 connections, PIPELINING advertised, no fsync unless --fsync. Accepts any sender and
 * recipient; it is a benchmark fixture, not a mail server.
 */
#include "bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64
#define MAX_MSG (32u << 20)

typedef struct conn {
    int fd;
    int data; /* reading a message body */
    char *in;
    size_t len, cap;
} conn;

static volatile sig_atomic_t sink_stop;
static void on_signal(int sig)
{
    (void)sig;
    sink_stop = 1;
}

static void say(conn *c, const char *s)
{
    size_t n = strlen(s), off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

static unsigned long delivered;

/* Writes body[0..n) (dot-unstuffed) as one maildir message. */
static int deliver(const char *dir, const char *body, size_t n, int do_fsync)
{
    char tmp[1200], dst[1200];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(tmp, sizeof tmp, "%s/tmp/%lld.M%ldP%dQ%lu.sink", dir, (long long)ts.tv_sec,
             ts.tv_nsec / 1000, (int)getpid(), delivered);
    snprintf(dst, sizeof dst, "%s/new/%lld.M%ldP%dQ%lu.sink", dir, (long long)ts.tv_sec,
             ts.tv_nsec / 1000, (int)getpid(), delivered);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        /* a line starting with ".." lost its first dot in transit */
        if (body[i] == '.' && (i == 0 || body[i - 1] == '\n'))
            i++;
        const char *nl = memchr(body + i, '\n', n - i);
        size_t m = nl ? (size_t)(nl - (body + i)) + 1 : n - i;
        if (write(fd, body + i, m) != (ssize_t)m)
            rc = -1;
        i += m;
    }
    if (rc == 0 && do_fsync && fsync(fd) != 0)
        rc = -1;
    if (close(fd) != 0 || rc != 0 || rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }
    delivered++;
    return 0;
}

/* Handles what is buffered; returns -1 when the connection is to be closed. */
static int process(conn *c, const char *dir, int do_fsync)
{
    size_t off = 0;
    int rc = 0;
    while (rc == 0 && off < c->len) {
        if (c->data) {
            const char *end = NULL;
            if (c->len - off >= 3 && memcmp(c->in + off, ".\r\n", 3) == 0)
                end = c->in + off;
            else {
                end = memmem(c->in + off, c->len - off, "\r\n.\r\n", 5);
                if (end)
                    end += 2;
            }
            if (end == NULL) {
                if (c->len - off > MAX_MSG) {
                    say(c, "552 message too large\r\n");
                    rc = -1;
                }
                break;
            }
            size_t n = (size_t)(end - (c->in + off));
            say(c, deliver(dir, c->in + off, n, do_fsync) == 0 ? "250 OK delivered\r\n"
                                                                 : "451 delivery failed\r\n");
            off += n + 3;
            c->data = 0;
            continue;
        }
        char *nl = memchr(c->in + off, '\n', c->len - off);
        if (nl == NULL) {
            if (c->len - off > 4096)
                rc = -1;
            break;
        }
        const char *line = c->in + off;
        off = (size_t)(nl - c->in) + 1;
        if (strncasecmp(line, "EHLO", 4) == 0)
            say(c, "250-localhost\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 33554432\r\n");
        else if (strncasecmp(line, "HELO", 4) == 0 || strncasecmp(line, "MAIL", 4) == 0 ||
                 strncasecmp(line, "RCPT", 4) == 0 || strncasecmp(line, "RSET", 4) == 0 ||
                 strncasecmp(line, "NOOP", 4) == 0)
            say(c, "250 OK\r\n");
        else if (strncasecmp(line, "DATA", 4) == 0) {
            say(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
            c->data = 1;
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            say(c, "221 Bye\r\n");
            rc = -1;
        } else
            say(c, "502 command not implemented\r\n");
    }
    memmove(c->in, c->in + off, c->len - off);
    c->len -= off;
    return rc;
}

int bench_smtp_sink(int argc, char **argv)
{
    int port = 0, do_fsync = 0;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (strcmp(argv[i], "--maildir") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--fsync") == 0)
            do_fsync = 1;
        else {
            fprintf(stderr, "usage: oks-bench smtp-sink --port P --maildir DIR [--fsync]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || dir == NULL) {
        fprintf(stderr, "usage: oks-bench smtp-sink --port P --maildir DIR [--fsync]\n");
        return 2;
    }
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/tmp", dir);
    mkdir(dir, 0755);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/new", dir);
    mkdir(sub, 0755);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0) {
        perror("smtp-sink: 127.0.0.1");
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("smtp-sink: listening on 127.0.0.1:%d, delivering to %s/new\n", port, dir);
    fflush(stdout);
    conn cs[MAX_CONN];
    size_t nc = 0;
    while (!sink_stop) {
        struct pollfd pf[MAX_CONN + 1];
        pf[0] = (struct pollfd){.fd = ls, .events = POLLIN};
        for (size_t i = 0; i < nc; i++)
            pf[i + 1] = (struct pollfd){.fd = cs[i].fd, .events = POLLIN};
        if (poll(pf, nc + 1, 500) < 0 && errno != EINTR)
            break;
        for (size_t i = nc; i-- > 0;) {
            if (!(pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            conn *c = &cs[i];
            if (c->cap - c->len < 65536) {
                size_t ncap = c->cap ? c->cap * 2 : 131072;
                char *ni = ncap <= 2 * (size_t)MAX_MSG ? realloc(c->in, ncap) : NULL;
                if (ni)
                    c->in = ni, c->cap = ncap;
            }
            ssize_t r = c->cap > c->len ? recv(c->fd, c->in + c->len, c->cap - c->len, 0) : -1;
            if (r > 0)
                c->len += (size_t)r;
            if (r <= 0 || process(c, dir, do_fsync) != 0) {
                close(c->fd);
                free(c->in);
                cs[i] = cs[--nc];
            }
        }
        if (pf[0].revents & POLLIN) {
            int fd = accept(ls, NULL, NULL);
            if (fd >= 0 && nc < MAX_CONN) {
                cs[nc] = (conn){.fd = fd};
                say(&cs[nc], "220 localhost oks-bench smtp-sink\r\n");
                nc++;
            } else if (fd >= 0)
                close(fd);
        }
    }
    for (size_t i = 0; i < nc; i++) {
        close(cs[i].fd);
        free(cs[i].in);
    }
    close(ls);
    printf("smtp-sink: %lu messages delivered\n", delivered);
    return 0;
}
