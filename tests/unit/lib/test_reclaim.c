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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/reclaim.h"

#define N_MAPS 3000
#define N_READERS 4
#define WORDS 512

/* A stand-in for a map: words[i] = id + i, checked by the readers; its free function poisons
 * it. Kept (the free function does not give the memory back), a reader that still held a map
 * freed would see the poison in any build; really freed, AddressSanitizer (the asan unit build)
 * would stop at the use after free. */
typedef struct obj {
    int id;
    uint32_t words[WORDS];
} obj;

static obj *_Atomic cur;
static atomic_int frees[N_MAPS], stop, bad, uses;
static bool give_back; /* the free function frees the memory */

static void obj_free(void *p)
{
    obj *m = p;
    atomic_fetch_add(&frees[m->id], 1);
    memset(m->words, 0xdd, sizeof m->words);
    if (give_back)
        free(m);
}

static obj *obj_new(int id)
{
    obj *m = malloc(sizeof *m);
    assert_non_null(m);
    m->id = id;
    for (int i = 0; i < WORDS; i++)
        m->words[i] = (uint32_t)(id + i);
    return m;
}

static bool intact(const obj *m)
{
    for (int i = 0; i < WORDS; i += 17)
        if (m->words[i] != (uint32_t)(m->id + i))
            return false;
    return true;
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
        if (!intact(a) || !intact(b))
            atomic_fetch_add(&bad, 1);
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

static void reset_frees(void)
{
    give_back = false;
    for (int i = 0; i < N_MAPS; i++)
        atomic_store(&frees[i], 0);
}

/* Publishes N_MAPS maps one after the other while N_READERS threads use them. */
static void run_readers_and_publisher(bool free_memory)
{
    obj *all[N_MAPS];
    oks_reclaim *d = oks_reclaim_new();
    reset_frees();
    give_back = free_memory;
    atomic_store(&stop, 0);
    atomic_store(&bad, 0);
    atomic_store(&uses, 0);
    atomic_store(&cur, all[0] = obj_new(0));
    pthread_t t[N_READERS];
    for (int i = 0; i < N_READERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader_main, d), 0);
    size_t most_left = 0;
    for (int i = 1; i < N_MAPS; i++) {
        obj *old = atomic_exchange(&cur, all[i] = obj_new(i));
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
    assert_int_equal(atomic_load(&bad), 0);
    assert_true(atomic_load(&uses) > N_READERS);
    for (int i = 0; i < N_MAPS - 1; i++)
        assert_int_equal(atomic_load(&frees[i]), 1);
    assert_int_equal(atomic_load(&frees[N_MAPS - 1]), 0); /* in force: not retired */
    assert_true(most_left < N_MAPS - 1); /* freed along the way, not only at the end */
    oks_reclaim_free(d);
    assert_int_equal(atomic_load(&frees[N_MAPS - 1]), 0);
    for (int i = free_memory ? N_MAPS - 1 : 0; i < N_MAPS; i++)
        free(all[i]);
}

static void replaced_maps_are_freed_once_and_never_while_held(void **state)
{
    (void)state;
    run_readers_and_publisher(false);
}

static void the_same_with_the_memory_given_back(void **state)
{
    (void)state;
    run_readers_and_publisher(true);
}

static void a_reader_between_reports_holds_what_was_retired_meanwhile(void **state)
{
    (void)state;
    obj a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    reset_frees();
    oks_reclaim *d = oks_reclaim_new();
    oks_reclaim_reader *r = oks_reclaim_reader_new(d);
    oks_reclaim_retire(d, &a, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 1);
    assert_int_equal(atomic_load(&frees[a.id]), 0);
    oks_reclaim_quiescent(r);
    assert_int_equal(oks_reclaim_poll(d), 0);
    assert_int_equal(atomic_load(&frees[a.id]), 1);
    /* offline: holds nothing, delays nothing */
    oks_reclaim_offline(r);
    oks_reclaim_retire(d, &b, obj_free);
    assert_int_equal(atomic_load(&frees[b.id]), 1);
    /* online again: holds what is retired from now on until its next report */
    oks_reclaim_online(r);
    oks_reclaim_retire(d, &c, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 1);
    /* a reader registered later did not see c: it does not hold it back */
    oks_reclaim_reader *late = oks_reclaim_reader_new(d);
    oks_reclaim_reader_free(r);
    assert_int_equal(oks_reclaim_poll(d), 0);
    assert_int_equal(atomic_load(&frees[c.id]), 1);
    assert_int_equal(atomic_load(&frees[a.id]), 1);
    assert_int_equal(atomic_load(&frees[b.id]), 1);
    oks_reclaim_reader_free(late);
    oks_reclaim_free(d);
}

static void free_frees_what_is_still_retired_once(void **state)
{
    (void)state;
    obj a = {.id = 1}, b = {.id = 2};
    reset_frees();
    oks_reclaim *d = oks_reclaim_new();
    oks_reclaim_reader *r = oks_reclaim_reader_new(d);
    oks_reclaim_retire(d, &a, obj_free);
    oks_reclaim_retire(d, &b, obj_free);
    assert_int_equal(oks_reclaim_poll(d), 2);
    oks_reclaim_reader_free(r);
    oks_reclaim_free(d);
    assert_int_equal(atomic_load(&frees[a.id]), 1);
    assert_int_equal(atomic_load(&frees[b.id]), 1);
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
        cmocka_unit_test(the_same_with_the_memory_given_back),
        cmocka_unit_test(a_reader_between_reports_holds_what_was_retired_meanwhile),
        cmocka_unit_test(free_frees_what_is_still_retired_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
