/* Key files for oksctl import (see keyfile.h). */
#include "oksctl/keyfile.h"

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

static int read_all(FILE *f, oks_buf *out)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (oks_buf_append(out, chunk, n))
            return -1;
    return ferror(f) ? -1 : 0;
}

/* Armor, also after other text (a saved mail); binary packets start with a byte with bit 7 set. */
static bool armored(const uint8_t *p, size_t n)
{
    return oks_armor_detect(p, n) || (n && !(p[0] & 0x80) && memmem(p, n, "-----BEGIN PGP", 14));
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
    oksctl_keyfile *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, err_size, "%s: out of memory", path);
        return -1;
    }
    f->refs = 1;
    f->data = (const uint8_t *)"";
    int rc = 0;
    struct stat st;
    int fd = strcmp(path, "-") == 0 ? -1 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && strcmp(path, "-") != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        free(f);
        return -1;
    }
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED) {
            madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
            f->map = m;
            f->map_len = (size_t)st.st_size;
        }
    }
    if (f->map) {
        if (armored(f->map, f->map_len)) {
            rc = dearmor(f, path, f->map, f->map_len, err, err_size);
            munmap(f->map, f->map_len);
            f->map = NULL;
        } else {
            f->data = f->map;
            f->len = f->map_len;
        }
    } else {
        /* stdin, a pipe, an empty file, or a file that cannot be mapped: read it */
        FILE *fp = fd >= 0 ? fdopen(fd, "rb") : stdin;
        oks_buf raw = OKS_BUF_INIT;
        if (!fp || read_all(fp, &raw)) {
            snprintf(err, err_size, "%s: %s", path,
                     fp ? "read error or out of memory" : strerror(errno));
            rc = -1;
        } else if (armored(raw.data, raw.len)) {
            rc = dearmor(f, path, raw.data, raw.len, err, err_size);
        } else {
            f->owned = raw;
            raw = (oks_buf)OKS_BUF_INIT;
            f->data = f->owned.data ? f->owned.data : (const uint8_t *)"";
            f->len = f->owned.len;
        }
        oks_buf_release(&raw);
        if (fp && fp != stdin)
            fclose(fp); /* closes fd */
        else if (!fp && fd >= 0)
            close(fd);
        fd = -1;
    }
    if (fd >= 0)
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
