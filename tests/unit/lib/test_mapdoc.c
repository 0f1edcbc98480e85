/* lib/mapdoc: the slot map as a document of its own (split from oks.conf, loaded with the local
 * settings, edited and rendered back), and the joining shards of a slot move in lib/cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mapdoc.h"

static const char local_conf[] = "[cluster]\nslots = 8\nreplicas = 2\nrouters = tcp://127.0.0.1:1\n"
                                 "\n[shard.a]\nendpoint = tcp://127.0.0.1:2\ndata = /tmp/a\n"
                                 "slots = 0-7\n"
                                 "[shard.b]\nendpoint = tcp://127.0.0.1:3\ndata = /tmp/b\n"
                                 "slots = 0-7\n[router]\ndeadline_ms = 100\n";

static const char *str(const oks_buf *b)
{
    return b->len ? (const char *)b->data : "";
}

static void split_keeps_map_keys_apart_from_local_settings(void **state)
{
    (void)state;
    oks_buf local = OKS_BUF_INIT, map = OKS_BUF_INIT;
    assert_int_equal(oks_mapdoc_split(local_conf, strlen(local_conf), &local, &map), 0);
    assert_int_equal(oks_buf_putc(&local, 0), 0);
    assert_int_equal(oks_buf_putc(&map, 0), 0);
    assert_non_null(strstr(str(&local), "routers = "));
    assert_non_null(strstr(str(&local), "data = /tmp/a"));
    assert_null(strstr(str(&local), "slots"));
    assert_null(strstr(str(&local), "endpoint"));
    assert_non_null(strstr(str(&map), "[cluster]\nslots = 8\nreplicas = 2\n"));
    assert_non_null(strstr(str(&map), "[shard.b]\nendpoint = tcp://127.0.0.1:3\nslots = 0-7\n"));
    assert_null(strstr(str(&map), "data"));
    assert_null(strstr(str(&map), "[router]"));
    oks_buf_release(&local);
    oks_buf_release(&map);
}

/* Loads local_conf's local part with map as the map. */
static int load_with(const char *map, oks_cluster *c, oks_err *e)
{
    return oks_mapdoc_load("t.conf", local_conf, strlen(local_conf), map, strlen(map), c, e);
}

static void a_move_renders_and_loads_back_with_its_joining_shard(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    assert_int_equal(oks_cluster_load_text("t.conf", local_conf, strlen(local_conf), &c, &e), 0);
    oks_mapedit m;
    oks_mapedit_from(&m, &c);
    int n = oks_mapedit_add_shard(&m, "c", "tcp://127.0.0.1:4");
    assert_int_equal(n, 2);
    for (unsigned s = 4; s < 8; s++)
        m.shards[n].slot[s] = OKS_MAP_JOINING;
    m.epoch = 7;
    oks_buf doc = OKS_BUF_INIT;
    assert_int_equal(oks_mapedit_render(&m, &doc), 0);
    assert_int_equal(oks_buf_putc(&doc, 0), 0);
    assert_non_null(strstr(str(&doc), "[shard.c]\nendpoint = tcp://127.0.0.1:4\nslots = \n"
                                      "joining = 4-7\n"));
    oks_cluster d;
    assert_int_equal(load_with(str(&doc), &d, &e), 0);
    assert_int_equal(d.epoch, 7);
    assert_int_equal(d.n_shards, 3);
    assert_int_equal(d.slot_joining[3], UINT16_MAX);
    assert_int_equal(d.slot_joining[4], 2);
    assert_true(oks_cluster_receives(&d, 5, 2));
    assert_false(oks_cluster_holds(&d, 5, 2));
    assert_true(oks_cluster_holds(&d, 5, 0));
    assert_string_equal(d.shards[0].data_dir, "/tmp/a"); /* local settings kept */
    assert_memory_not_equal(d.digest, c.digest, 32);   /* the epoch and joining are covered */
    oks_cluster_release(&d);
    oks_buf_release(&doc);
    oks_mapedit_release(&m);
    oks_cluster_release(&c);
}

static void a_joining_shard_that_already_holds_the_slot_is_refused(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    const char *map = "[cluster]\nslots = 8\nreplicas = 2\nepoch = 2\n"
                      "[shard.a]\nendpoint = tcp://127.0.0.1:2\nslots = 0-7\njoining = 3\n"
                      "[shard.b]\nendpoint = tcp://127.0.0.1:3\nslots = 0-7\n";
    assert_int_equal(load_with(map, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 3 is already in its slots"));
    const char *twice = "[cluster]\nslots = 8\nreplicas = 1\nepoch = 2\n"
                        "[shard.a]\nendpoint = tcp://127.0.0.1:2\nslots = 0-7\n"
                        "[shard.b]\nendpoint = tcp://127.0.0.1:3\nslots = \njoining = 1-2\n"
                        "[shard.c]\nendpoint = tcp://127.0.0.1:4\nslots = \njoining = 2\n";
    assert_int_equal(load_with(twice, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "[shard.c] joining"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_keeps_map_keys_apart_from_local_settings),
        cmocka_unit_test(a_move_renders_and_loads_back_with_its_joining_shard),
        cmocka_unit_test(a_joining_shard_that_already_holds_the_slot_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
