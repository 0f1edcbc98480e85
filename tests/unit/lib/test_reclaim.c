/* lib/reclaim: an object retired is freed exactly once, never while a reader may hold it, and a
 * reader offline or between uses delays nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/reclaim.h"

#define N_MAPS 3000
#define N_READERS 4

/* A stand-in for a map: its free function marks it (the memory stays until the test ends, so
 * a reader that still holds one sees the mark instead of reading freed memory). */
typedef struct obj {
    atomic_int freed; /* times its free function ran */
    int id;
} obj;

static obj objs[N_MAPS];
static obj *_Atomic cur;
static atomic_int stop, seen_freed, uses;

static void obj_free(void *p)
{
    atomic_fetch_add(&((obj *)p)->freed, 1);
}

static void *reader_main(void *arg)
{
    oks_reclaim_reader *r = oks_reclaim_reader_new(arg);
    unsigned seed = (unsigned)(uintptr_t)&r;
    while (!atomic_load(&stop)) {
        /* one use: the map loaded at its start and the one in force later, both held */
        obj *a = atomic_load(&cur);
        for (int spin = rand_r(&seed) % 200; spin > 0; spin--)
            if (spin % 50 == 0)
                sched_yield();
        obj *b = atomic_load(&cur);
        if (atomic_load(&a->freed) || atomic_load(&b->freed))
            atomic_fetch_add(&seen_freed, 1);
        atomic_fetch_add(&uses, 1);
        if (rand_r(&seed) % 16 == 0) { /* waits for work: holds nothing meanwhile */
            oks_reclaim_offline(r);
            usleep(100);
            oks_reclaim_online(r);
        } else {
            oks_reclaim_quiescent(r);
        }
    }
    oks_reclaim_reader_free(r);
    return NULL;
}

static void replaced_maps_are_freed_once_and_never_while_held(void **state)
{
    (void)state;
    oks_reclaim *d = oks_reclaim_new();
    for (int i = 0; i < N_MAPS; i++) {
        atomic_init(&objs[i].freed, 0);
        objs[i].id = i;
    }
    atomic_store(&cur, &objs[0]);
    pthread_t t[N_READERS];
    for (int i = 0; i < N_READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, d), 0);
    size_t most_left = 0;
    for (int i = 1; i < N_MAPS; i++) {
        obj *old = atomic_exchange(&cur, &objs[i]);
        oks_reclaim_retire(d, old, obj_free);
        size_t left = oks_reclaim_poll(d);
        if (left > most_left)
            most_left = left;
        if (i % 100 == 0)
            usleep(200); /* let the readers move on */
    }
    /* the readers still run: once each has reported again, nothing retired is held */
    size_t left = 1;
    for (int waited = 0; left && waited < 5000; waited++) {
        usleep(1000);
        left = oks_reclaim_poll(d);
    }
    assert_int_equal(left, 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < N_READERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(oks_reclaim_poll(d), 0); /* no reader left */
    assert_int_equal(atomic_load(&seen_freed), 0);
    assert_true(atomic_load(&uses) > N_READERS);
    for (int i = 0; i < N_MAPS - 1; i++)
        assert_int_equal(atomic_load(&objs[i].freed), 1);
    assert_int_equal(atomic_load(&objs[N_MAPS - 1].freed), 0); /* in force: not retired */
    assert_true(most_left < N_MAPS - 1); /* freed along the way, not only at the end */
    oks_reclaim_free(d);
    assert_int_equal(atomic_load(&objs[N_MAPS - 1].freed), 0);
}

/* The same with maps on the heap, really freed: a reader that read one after its free would be
 * a use after free (AddressSanitizer, the asan unit build), or would see the poison. */
#define HEAP_WORDS 512

typedef struct heap_map {
    int id;
    uint32_t words[HEAP_WORDS]; /* id + i: checked by the readers */
} heap_map;

static heap_map *_Atomic heap_cur;
static atomic_int heap_frees[N_MAPS], heap_bad;

static void heap_free(void *p)
{
    heap_map *m = p;
    atomic_fetch_add(&heap_frees[m->id], 1);
    memset(m, 0xdd, sizeof *m);
    free(m);
}

static heap_map *heap_new(int id)
{
    heap_map *m = malloc(sizeof *m);
    assert_non_null(m);
    m->id = id;
    for (int i = 0; i < HEAP_WORDS; i++)
        m->words[i] = (uint32_t)(id + i);
    return m;
}

static void *heap_reader_main(void *arg)
{
    oks_reclaim_reader *r = oks_reclaim_reader_new(arg);
    unsigned seed = (unsigned)(uintptr_t)&r;
    while (!atomic_load(&stop)) {
        heap_map *a = atomic_load(&heap_cur);
        if (rand_r(&seed) % 8 == 0)
            sched_yield();
        heap_map *b = atomic_load(&heap_cur);
        for (int i = 0; i < HEAP_WORDS; i += 17)
            if (a->words[i] != (uint32_t)(a->id + i) || b->words[i] != (uint32_t)(b->id + i))
                atomic_fetch_add(&heap_bad, 1);
        if (rand_r(&seed) % 16 == 0) {
            oks_reclaim_offline(r);
            sched_yield();
            oks_reclaim_online(r);
        } else {
            oks_reclaim_quiescent(r);
        }
    }
    oks_reclaim_reader_free(r);
    return NULL;
}

static void heap_maps_are_freed_once_while_readers_run(void **state)
{
    (void)state;
    oks_reclaim *d = oks_reclaim_new();
    atomic_store(&stop, 0);
    atomic_store(&heap_cur, heap_new(0));
    pthread_t t[N_READERS];
    for (int i = 0; i < N_READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, heap_reader_main, d), 0);
    for (int i = 1; i < N_MAPS; i++) {
        heap_map *old = atomic_exchange(&heap_cur, heap_new(i));
        oks_reclaim_retire(d, old, heap_free);
        if (i % 100 == 0)
            usleep(200);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < N_READERS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(oks_reclaim_poll(d), 0);
    assert_int_equal(atomic_load(&heap_bad), 0);
    for (int i = 0; i < N_MAPS - 1; i++)
        assert_int_equal(atomic_load(&heap_frees[i]), 1);
    assert_int_equal(atomic_load(&heap_frees[N_MAPS - 1]), 0);
    oks_reclaim_free(d);
    heap_free(atomic_load(&heap_cur));
}

static void a_reader_between_reports_holds_what_was_retired_meanwhile(void **state)
{
    (void)state;
    obj a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    oks_reclaim *d = oks_reclaim_new();
    oks_reclaim_reader *r = oks_reclaim_reader_new(d);
    oks_reclaim_retire(d, &a, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 1);
    assert_int_equal(atomic_load(&a.freed), 0);
    oks_reclaim_quiescent(r);
    assert_int_equal(oks_reclaim_poll(d), 0);
    assert_int_equal(atomic_load(&a.freed), 1);
    /* offline: holds nothing, delays nothing */
    oks_reclaim_offline(r);
    oks_reclaim_retire(d, &b, obj_free);
    assert_int_equal(atomic_load(&b.freed), 1);
    /* online again: holds what is retired from now on until its next report */
    oks_reclaim_online(r);
    oks_reclaim_retire(d, &c, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 1);
    /* a reader registered later did not see c: it does not hold it back */
    oks_reclaim_reader *late = oks_reclaim_reader_new(d);
    oks_reclaim_reader_free(r);
    assert_int_equal(oks_reclaim_poll(d), 0);
    assert_int_equal(atomic_load(&c.freed), 1);
    assert_int_equal(atomic_load(&a.freed), 1);
    assert_int_equal(atomic_load(&b.freed), 1);
    oks_reclaim_reader_free(late);
    oks_reclaim_free(d);
}

static void free_frees_what_is_still_retired_once(void **state)
{
    (void)state;
    obj a = {.id = 1}, b = {.id = 2};
    oks_reclaim *d = oks_reclaim_new();
    oks_reclaim_reader *r = oks_reclaim_reader_new(d);
    oks_reclaim_retire(d, &a, obj_free);
    oks_reclaim_retire(d, &b, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 2);
    oks_reclaim_reader_free(r);
    oks_reclaim_free(d);
    assert_int_equal(atomic_load(&a.freed), 1);
    assert_int_equal(atomic_load(&b.freed), 1);
    /* no domain: readers are NULL and their reports do nothing */
    assert_null(oks_reclaim_reader_new(NULL));
    oks_reclaim_quiescent(NULL);
    oks_reclaim_offline(NULL);
    oks_reclaim_online(NULL);
    oks_reclaim_reader_free(NULL);
    oks_reclaim_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replaced_maps_are_freed_once_and_never_while_held),
        cmocka_unit_test(heap_maps_are_freed_once_while_readers_run),
        cmocka_unit_test(a_reader_between_reports_holds_what_was_retired_meanwhile),
        cmocka_unit_test(free_frees_what_is_still_retired_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
