/* One allocation region per request: parsing allocates many small strings and nodes that all
 * die with the request. */
#include "gw-ldap/gwl.h"

#include "lib/xalloc.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 8192

struct gwl_chunk {
    struct gwl_chunk *next;
    alignas(max_align_t) unsigned char data[];
};

void gwl_arena_init(gwl_arena *a)
{
    a->head = NULL;
    a->used = a->cap = 0;
}

void gwl_arena_release(gwl_arena *a)
{
    struct gwl_chunk *c = a->head;
    while (c) {
        struct gwl_chunk *next = c->next;
        free(c);
        c = next;
    }
    gwl_arena_init(a);
}

void *gwl_alloc(gwl_arena *a, size_t n)
{
    const size_t al = alignof(max_align_t);
    n = (n + al - 1) / al * al;
    if (n == 0)
        n = al;
    if (!a->head || a->cap - a->used < n) {
        size_t cap = n > CHUNK ? n : CHUNK;
        struct gwl_chunk *c = oks_xmalloc(sizeof *c + cap);
        if (a->head && a->cap - a->used > CHUNK / 4 && n > CHUNK) {
            /* a large block goes behind the current chunk, which keeps serving small ones */
            c->next = a->head->next;
            a->head->next = c;
            memset(c->data, 0, n);
            return c->data;
        }
        c->next = a->head;
        a->head = c;
        a->used = 0;
        a->cap = cap;
    }
    void *p = a->head->data + a->used;
    a->used += n;
    memset(p, 0, n);
    return p;
}

char *gwl_strndup(gwl_arena *a, const char *p, size_t n)
{
    char *s = gwl_alloc(a, n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
