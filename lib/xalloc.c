/* Allocation that never returns NULL (see xalloc.h). */
#include "lib/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void oks_oom(size_t n, const char *what)
{
    /* no allocation here: the message is formatted on the stack and written with write(2) */
    char msg[160];
    int len = snprintf(msg, sizeof msg, "oks: out of memory (%zu bytes for %s), aborting\n", n,
                       what);
    if (len > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)len < sizeof msg ? (size_t)len : sizeof msg - 1);
    abort();
}

void *oks_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oks_oom(n, "malloc");
    return p;
}

void *oks_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oks_oom(count && size <= SIZE_MAX / count ? count * size : SIZE_MAX, "calloc");
    return p;
}

void *oks_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oks_oom(n, "realloc");
    return q;
}

char *oks_xstrdup(const char *s)
{
    return oks_xstrndup(s, strlen(s));
}

char *oks_xstrndup(const char *s, size_t n)
{
    size_t l = strnlen(s, n);
    char *d = oks_xmalloc(l + 1);
    memcpy(d, s, l);
    d[l] = '\0';
    return d;
}
