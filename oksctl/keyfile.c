/* Key files for oksctl import (see keyfile.h). */
#include "oksctl/keyfile.h"
#include "lib/xalloc.h"

#include "lib/pgp.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int read_all(int fd, oks_buf *out)
{
    for (;;) {
        if (oks_buf_reserve(out, 1 << 16))
            return -1;
        ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            out->len += (size_t)n;
    }
}

/* Decodes every armored block of p[0..n) into f->owned. */
static int dearmor(oksctl_keyfile *f, const char *path, const uint8_t *p, size_t n, char *err,
                   size_t err_size)
{
    size_t off = 0;
    oks_err e;
    char m[400];
    int r;
    while ((r = oks_armor_decode((const char *)p, n, &off, &f->owned, &e)) == 0)
        ;
    f->data = f->owned.data ? f->owned.data : (const uint8_t *)"";
    f->len = f->owned.len;
    if (r < 0) {
        snprintf(err, err_size, "%s: %s", path, oks_err_format(&e, m, sizeof m));
        return -1;
    }
    return 0;
}

/* A mapped file that shrinks while it is read faults (SIGBUS) on the vanished pages: say so and
 * stop, instead of dying with a bare signal. */
static void on_sigbus(int sig)
{
    static const char m[] = "oksctl import: a key file shrank while it was being read; stopped\n";
    (void)sig;
    if (write(2, m, sizeof m - 1) < 0) {
        /* nothing more can be done */
    }
    _exit(1);
}

int oksctl_keyfile_open(const char *path, oksctl_keyfile **out, char *err, size_t err_size)
{
    static bool handler;
    if (!handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigbus;
        sigaction(SIGBUS, &sa, NULL);
        handler = true;
    }
    *out = NULL;
    oksctl_keyfile *f = oks_xcalloc(1, sizeof *f);
    f->refs = 1;
    f->data = (const uint8_t *)"";
    int rc = 0;
    struct stat st;
    bool std_in = strcmp(path, "-") == 0;
    int fd = std_in ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        free(f);
        return -1;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            f->map = m;
            f->map_len = (size_t)st.st_size;
        }
    }
    if (f->map) {
        if (oks_armor_detect(f->map, f->map_len)) {
            rc = dearmor(f, path, f->map, f->map_len, err, err_size);
            munmap(f->map, f->map_len);
            f->map = NULL;
        } else {
            f->data = f->map;
            f->len = f->map_len;
        }
    } else {
        /* a pipe, a terminal, an empty file, or a file that cannot be mapped: read it */
        oks_buf raw = OKS_BUF_INIT;
        errno = 0;
        if (read_all(fd, &raw)) {
            snprintf(err, err_size, "%s: %s", path, errno ? strerror(errno) : "out of memory");
            rc = -1;
        } else if (oks_armor_detect(raw.data, raw.len)) {
            rc = dearmor(f, path, raw.data, raw.len, err, err_size);
        } else {
            f->owned = raw;
            raw = (oks_buf)OKS_BUF_INIT;
            f->data = f->owned.data ? f->owned.data : (const uint8_t *)"";
            f->len = f->owned.len;
        }
        oks_buf_release(&raw);
    }
    if (!std_in)
        close(fd);
    *out = f;
    return rc;
}

void oksctl_keyfile_ref(oksctl_keyfile *f)
{
    f->refs++;
}

void oksctl_keyfile_unref(oksctl_keyfile *f)
{
    if (!f || --f->refs > 0)
        return;
    if (f->map)
        munmap(f->map, f->map_len);
    oks_buf_release(&f->owned);
    free(f);
}
