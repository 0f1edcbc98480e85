/* shard/map: a map change keeps two maps reachable (in force and the one before) and retires the
 * one before those; a retired map stays while a thread that may hold it has not reported, and is
 * freed after; however many changes, two maps from etcd stay in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/reclaim.h"
#include "shard/shard.h"
#include "tests/unit/map_fixture.h"

/* What shard/main.c's apply_map does with a map from the watcher. */
static void apply(oks_shard *sh, unsigned epoch)
{
    oks_cluster *next = map_fixture_epoch(epoch);
    oks_err e;
    assert_int_equal(oks_shard_map_apply(sh, next, &e), 0);
    free(next);
}

static void replaced_maps_are_freed_once_no_thread_holds_them(void **state)
{
    (void)state;
    map_fixture_write("inproc://test-shard-map");
    oks_cluster first;
    oks_err e;
    assert_int_equal(oks_cluster_load(map_fixture_path, &first, &e), 0);
    oks_shard sh;
    memset(&sh, 0, sizeof sh);
    sh.conf = &first;
    sh.gc = oks_reclaim_new();
    oks_reclaim_reader *worker = oks_reclaim_reader_new(sh.gc);

    apply(&sh, 1);
    apply(&sh, 2);
    assert_int_equal(atomic_load(&sh.maps_live), 2); /* epochs 1 and 2; the first is main's */
    /* the worker took epoch 1 (prev) in its request: epoch 3 retires it, nothing frees it */
    const oks_cluster *held = sh.prev;
    apply(&sh, 3);
    assert_int_equal(atomic_load(&sh.maps_live), 3);
    assert_int_equal(oks_reclaim_poll(sh.gc), 1);
    assert_int_equal(held->epoch, 1); /* still readable (ASan: not freed) */
    assert_true(oks_shard_takes_slot(&sh, 0));
    /* its request done, the worker reports: epoch 1 goes */
    oks_reclaim_quiescent(worker);
    assert_int_equal(oks_reclaim_poll(sh.gc), 0);
    assert_int_equal(atomic_load(&sh.maps_live), 2);
    /* a hundred changes between requests: two maps in memory all along */
    for (unsigned ep = 4; ep < 104; ep++) {
        apply(&sh, ep);
        oks_reclaim_quiescent(worker);
        oks_reclaim_poll(sh.gc);
        assert_int_equal(atomic_load(&sh.maps_live), 2);
    }
    assert_int_equal(sh.conf->epoch, 103);
    assert_int_equal(sh.prev->epoch, 102);
    /* a worker waiting for a job holds nothing: changes while it waits are freed at once */
    oks_reclaim_offline(worker);
    apply(&sh, 104);
    apply(&sh, 105);
    assert_int_equal(atomic_load(&sh.maps_live), 2);
    /* an older map is refused and changes nothing */
    oks_cluster *old = map_fixture_epoch(7);
    assert_int_not_equal(oks_shard_map_apply(&sh, old, &e), 0);
    free(old);
    assert_int_equal(atomic_load(&sh.maps_live), 2);
    oks_reclaim_reader_free(worker);
    oks_shard_maps_release(&sh);
    assert_int_equal(atomic_load(&sh.maps_live), 0);
    oks_cluster_release(&first);
    unlink(map_fixture_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replaced_maps_are_freed_once_no_thread_holds_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
