/* sync/backoff: exponential, bounded back-off per partner (see backoff.h). */
#include "sync/backoff.h"

#include <stdio.h>
#include <string.h>

void oks_sync_backoff_init(oks_sync_backoff *b, int64_t base_ms, int64_t max_ms)
{
    memset(b, 0, sizeof *b);
    b->base_ms = base_ms > 0 ? base_ms : 1;
    b->max_ms = max_ms > b->base_ms ? max_ms : b->base_ms;
}

static oks_sync_backoff_entry *find(const oks_sync_backoff *b, const char *name)
{
    for (unsigned i = 0; i < b->n; i++)
        if (strcmp(b->v[i].name, name) == 0)
            return (oks_sync_backoff_entry *)&b->v[i];
    return NULL;
}

int64_t oks_sync_backoff_left(const oks_sync_backoff *b, const char *name, int64_t now)
{
    const oks_sync_backoff_entry *x = find(b, name);
    return x && x->until > now ? x->until - now : 0;
}

int oks_sync_backoff_refuses_inbound(const oks_sync_backoff *b, const char *name, int64_t now)
{
    const oks_sync_backoff_entry *x = find(b, name);
    return x && x->until > now && !x->unreachable;
}

int64_t oks_sync_backoff_fail(oks_sync_backoff *b, const char *name, int64_t now, int unreachable,
                              unsigned *failures)
{
    oks_sync_backoff_entry *x = find(b, name);
    if (!x && b->n < OKS_SYNC_BACKOFF_MAX)
        x = &b->v[b->n++];
    else if (!x) {
        /* full: reuse the entry whose wait ended first */
        x = &b->v[0];
        for (unsigned i = 1; i < b->n; i++)
            if (b->v[i].until < x->until)
                x = &b->v[i];
    }
    if (strcmp(x->name, name) != 0) {
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", name);
    }
    if (x->failures < 64)
        x->failures++;
    int64_t wait = b->base_ms;
    for (unsigned i = 1; i < x->failures && wait < b->max_ms; i++)
        wait *= 2;
    if (wait > b->max_ms)
        wait = b->max_ms;
    x->until = now + wait;
    x->unreachable = unreachable != 0;
    if (failures)
        *failures = x->failures;
    return wait;
}

void oks_sync_backoff_ok(oks_sync_backoff *b, const char *name)
{
    oks_sync_backoff_entry *x = find(b, name);
    if (x) {
        x->failures = 0;
        x->until = 0;
    }
}
