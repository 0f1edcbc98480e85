/* Deferred freeing by quiescent states (see reclaim.h). Every atomic here is sequentially
 * consistent: a reader's report follows its last use of an object, and the publisher's swap
 * precedes the generation it raises, in one order that the poll's scan also sits in. */
#include "lib/reclaim.h"
#include "lib/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* A reader's state: 0 offline, else the generation it last reported. */
#define OFFLINE 0

struct oks_reclaim_reader {
    oks_reclaim *d;
    _Atomic uint64_t seen;
    struct oks_reclaim_reader *prev, *next;
};

typedef struct retired {
    struct retired *next;
    void *obj;
    oks_reclaim_free_fn fn;
    uint64_t gen; /* raised when it was retired: freed once every reader reports this or later */
} retired;

struct oks_reclaim {
    _Atomic uint64_t gen;       /* starts at 1 (0 is a reader offline) */
    pthread_mutex_t lock;       /* the reader list and the retired list */
    oks_reclaim_reader *readers;
    retired *head, **tail;      /* retired, in the order of their generations */
    atomic_size_t n_retired;    /* changed under lock; read without it by a poll with nothing */
};

oks_reclaim *oks_reclaim_new(void)
{
    oks_reclaim *d = oks_xcalloc(1, sizeof *d);
    atomic_init(&d->gen, 1);
    pthread_mutex_init(&d->lock, NULL);
    d->tail = &d->head;
    return d;
}

void oks_reclaim_free(oks_reclaim *d)
{
    if (!d)
        return;
    while (d->head) {
        retired *x = d->head;
        d->head = x->next;
        x->fn(x->obj);
        free(x);
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

oks_reclaim_reader *oks_reclaim_reader_new(oks_reclaim *d)
{
    if (!d)
        return NULL;
    oks_reclaim_reader *r = oks_xcalloc(1, sizeof *r);
    r->d = d;
    pthread_mutex_lock(&d->lock);
    atomic_store(&r->seen, atomic_load(&d->gen));
    r->next = d->readers;
    if (d->readers)
        d->readers->prev = r;
    d->readers = r;
    pthread_mutex_unlock(&d->lock);
    return r;
}

void oks_reclaim_reader_free(oks_reclaim_reader *r)
{
    if (!r)
        return;
    oks_reclaim *d = r->d;
    pthread_mutex_lock(&d->lock);
    if (r->prev)
        r->prev->next = r->next;
    else
        d->readers = r->next;
    if (r->next)
        r->next->prev = r->prev;
    pthread_mutex_unlock(&d->lock);
    free(r);
}

void oks_reclaim_quiescent(oks_reclaim_reader *r)
{
    if (r)
        atomic_store(&r->seen, atomic_load(&r->d->gen));
}

void oks_reclaim_offline(oks_reclaim_reader *r)
{
    if (r)
        atomic_store(&r->seen, OFFLINE);
}

void oks_reclaim_online(oks_reclaim_reader *r)
{
    oks_reclaim_quiescent(r);
}

void oks_reclaim_retire(oks_reclaim *d, void *obj, oks_reclaim_free_fn fn)
{
    retired *x = oks_xcalloc(1, sizeof *x);
    x->obj = obj;
    x->fn = fn;
    pthread_mutex_lock(&d->lock);
    x->gen = atomic_fetch_add(&d->gen, 1) + 1;
    *d->tail = x;
    d->tail = &x->next;
    d->n_retired++;
    pthread_mutex_unlock(&d->lock);
    oks_reclaim_poll(d);
}

size_t oks_reclaim_poll(oks_reclaim *d)
{
    if (atomic_load(&d->n_retired) == 0) /* the usual case: a loop polls every round */
        return 0;
    pthread_mutex_lock(&d->lock);
    uint64_t oldest = UINT64_MAX; /* the oldest generation a reader online may still be in */
    for (oks_reclaim_reader *r = d->readers; r; r = r->next) {
        uint64_t s = atomic_load(&r->seen);
        if (s != OFFLINE && s < oldest)
            oldest = s;
    }
    retired *done = NULL, **end = &done;
    while (d->head && d->head->gen <= oldest) {
        retired *x = d->head;
        d->head = x->next;
        x->next = NULL;
        *end = x;
        end = &x->next;
        d->n_retired--;
    }
    if (!d->head)
        d->tail = &d->head;
    size_t left = atomic_load(&d->n_retired);
    pthread_mutex_unlock(&d->lock);
    while (done) { /* outside the lock: a free function may take its time */
        retired *x = done;
        done = x->next;
        x->fn(x->obj);
        free(x);
    }
    return left;
}
