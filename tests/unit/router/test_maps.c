/* router/maps: a replaced map lives exactly as long as the router or a request in flight holds
 * it, and is freed once (ASan sees a second free or a leak); the router's map changes free
 * the maps nobody uses, so many changes leave one map in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router/router_int.h"
#include "tests/unit/map_fixture.h"

#define N_MAPS 200
#define MAX_HOLDS 3

static void a_map_is_freed_with_its_last_holder(void **state)
{
    (void)state;
    map_fixture_write("inproc://test-maps-front");
    bool up[OKS_MAX_SHARDS] = {false};
    size_t live = 0;
    oks_router_map *held[N_MAPS][MAX_HOLDS] = {{NULL}};
    unsigned seed = 7, outstanding = 0;
    oks_router_map *cur = oks_router_map_new(map_fixture_epoch(1), NULL, up, &live);
    oks_cluster *first = (oks_cluster *)cur->conf; /* not owned: counted nowhere */
    assert_int_equal(live, 0);
    for (unsigned k = 0; k < N_MAPS; k++) {
        /* requests routed with the map in force */
        unsigned n = (unsigned)rand_r(&seed) % (MAX_HOLDS + 1);
        for (unsigned h = 0; h < n; h++, outstanding++)
            held[k][h] = oks_router_map_hold(cur);
        /* some requests of earlier maps end */
        unsigned j = (unsigned)rand_r(&seed) % (k + 1), h = (unsigned)rand_r(&seed) % MAX_HOLDS;
        if (held[j][h]) {
            oks_router_map_drop(held[j][h]);
            held[j][h] = NULL;
            outstanding--;
        }
        oks_cluster *next = map_fixture_epoch(k + 2);
        oks_router_map *old = cur;
        cur = oks_router_map_new(next, next, up, &live);
        oks_router_map_drop(old); /* the router's reference */
        /* in memory: the map in force and the replaced ones a request holds, no more */
        size_t distinct = 1;
        for (unsigned m = 0; m <= k; m++) {
            bool any = false;
            for (unsigned x = 0; x < MAX_HOLDS; x++)
                any |= held[m][x] != NULL;
            distinct += any && m > 0; /* map 0 is the caller's: not counted */
        }
        assert_int_equal(live, distinct);
    }
    for (unsigned k = 0; k < N_MAPS; k++)
        for (unsigned h = 0; h < MAX_HOLDS; h++)
            if (held[k][h]) {
                oks_router_map_drop(held[k][h]);
                outstanding--;
            }
    assert_int_equal(outstanding, 0);
    assert_int_equal(live, 1);
    oks_router_map_drop(cur);
    assert_int_equal(live, 0);
    oks_cluster_release(first);
    free(first);
    unlink(map_fixture_path);
}

/* A request in flight (a table entry as the loop fills it) keeps the map it was routed with. */
static void hold_as_a_request(oks_router *r, oks_pending *p, uint64_t id)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    zmq_msg_init(&p->client);
    zmq_msg_init(&p->rid);
    p->map = oks_router_map_hold(r->map);
}

static void the_routers_map_changes_free_what_no_request_uses(void **state)
{
    (void)state;
    map_fixture_write("inproc://test-maps-front");
    oks_cluster conf;
    oks_err e;
    assert_int_equal(oks_cluster_load(map_fixture_path, &conf, &e), 0);
    void *zctx = zmq_ctx_new();
    oks_router *r = oks_router_new(&conf, zctx, "inproc://test-maps-front", &e);
    assert_non_null(r);
    for (unsigned k = 1; k <= 50; k++)
        oks_router_apply_map(r, map_fixture_epoch(k));
    assert_int_equal(r->conf->epoch, 50);
    assert_int_equal(r->maps_live, 1); /* 49 replaced maps freed along the way */
    /* a request routed with epoch 50 keeps it across two changes, then lets it go */
    oks_pending *p = &r->table[1];
    hold_as_a_request(r, p, 1);
    const oks_router_map *routed = r->map;
    oks_router_apply_map(r, map_fixture_epoch(51));
    oks_router_apply_map(r, map_fixture_epoch(52));
    assert_int_equal(r->maps_live, 2);
    assert_ptr_equal(p->map, routed);
    assert_int_equal(PMAP(p)->conf->epoch, 50); /* still readable (ASan: not freed) */
    oks_router_pending_end(p);
    assert_int_equal(r->maps_live, 1);
    /* a map refused (older epoch) changes nothing */
    oks_router_apply_map(r, map_fixture_epoch(3));
    assert_int_equal(r->conf->epoch, 52);
    assert_int_equal(r->maps_live, 1);
    /* stopping with a request in flight on a replaced map frees both (ASan: no leak) */
    hold_as_a_request(r, &r->table[2], 2);
    oks_router_apply_map(r, map_fixture_epoch(53));
    assert_int_equal(r->maps_live, 2);
    oks_router_free(r);
    zmq_ctx_term(zctx);
    oks_cluster_release(&conf);
    unlink(map_fixture_path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_map_is_freed_with_its_last_holder),
        cmocka_unit_test(the_routers_map_changes_free_what_no_request_uses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
