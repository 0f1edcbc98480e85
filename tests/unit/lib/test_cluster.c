/* lib/cluster: config loading, slot map validation, slot function, map digest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/cluster.h"

static char *write_conf(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/oks-test-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void loads_two_shards_and_maps_every_slot(void **state)
{
    (void)state;
    char *p = write_conf("[cluster]\nslots=16\nrouters=tcp://127.0.0.1:1\n"
                         "[shard.a]\nendpoint=tcp://127.0.0.1:2\nslots=0-7\n"
                         "[shard.b]\nendpoint=tcp://127.0.0.1:3\nslots=8-15\n"
                         "[router]\ndeadline_ms=1234\n");
    oks_cluster c;
    oks_err e;
    assert_int_equal(oks_cluster_load(p, &c, &e), 0);
    assert_int_equal(c.n_slots, 16);
    assert_int_equal(c.n_shards, 2);
    assert_int_equal(c.slot_owner[7], 0);
    assert_int_equal(c.slot_owner[8], 1);
    assert_int_equal(c.router_deadline_ms, 1234);
    assert_string_equal(c.routers[0], "tcp://127.0.0.1:1");
    assert_string_equal(c.shards[1].endpoint, "tcp://127.0.0.1:3");
    oks_cluster_release(&c);
    unlink(p);
}

static void rejects_overlapping_and_missing_slots(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    char *p = write_conf("[cluster]\nslots=16\n[shard.a]\nendpoint=tcp://h:1\nslots=0-8\n"
                         "[shard.b]\nendpoint=tcp://h:2\nslots=8-15\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "twice"));
    unlink(p);
    p = write_conf("[cluster]\nslots=16\n[shard.a]\nendpoint=tcp://h:1\nslots=0-14\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 15"));
    unlink(p);
    p = write_conf("[cluster]\nslots=16\n[shard.a]\nendpoint=tcp://h:1\nslots=0-99\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    unlink(p);
    p = write_conf("[router]\ndeadline_ms=abc\n[shard.a]\nendpoint=tcp://h:1\nslots=0-4095\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "deadline_ms"));
    unlink(p);
}

static void digest_changes_when_slots_move(void **state)
{
    (void)state;
    oks_cluster a, b;
    oks_err e;
    char *p = write_conf("[cluster]\nslots=16\n[shard.a]\nendpoint=tcp://h:1\nslots=0-7\n"
                         "[shard.b]\nendpoint=tcp://h:2\nslots=8-15\n");
    assert_int_equal(oks_cluster_load(p, &a, &e), 0);
    unlink(p);
    p = write_conf("[cluster]\nslots=16\n[shard.a]\nendpoint=tcp://h:1\nslots=0-8\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=9-15\n");
    assert_int_equal(oks_cluster_load(p, &b, &e), 0);
    unlink(p);
    assert_memory_not_equal(a.digest, b.digest, 32);
    oks_cluster_release(&a);
    oks_cluster_release(&b);
}

/* Two ranges, each held by two of three shards (the ring local.sh writes for R = 2). */
static const char ring3[] = "[cluster]\nslots=16\nreplicas=2\n"
                            "[shard.a]\nendpoint=tcp://h:1\nslots=0-5,11-15\n"
                            "[shard.b]\nendpoint=tcp://h:2\nslots=0-5,6-10\n"
                            "[shard.c]\nendpoint=tcp://h:3\nslots=6-10,11-15\n";

static void replica_sets_come_from_the_slot_lists(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    char *p = write_conf(ring3);
    assert_int_equal(oks_cluster_load(p, &c, &e), 0);
    unlink(p);
    assert_int_equal(c.replicas, 2);
    const uint16_t *rs = oks_cluster_replicas_of(&c, 3);
    assert_int_equal(rs[0], 0);
    assert_int_equal(rs[1], 1);
    rs = oks_cluster_replicas_of(&c, 7);
    assert_int_equal(rs[0], 1);
    assert_int_equal(rs[1], 2);
    assert_int_equal(c.slot_owner[12], 0);
    assert_true(oks_cluster_holds(&c, 12, 2));
    assert_false(oks_cluster_holds(&c, 12, 1));
    assert_true(oks_cluster_share_slots(&c, 0, 2));
    assert_int_equal(oks_cluster_write_quorum(&c), 1);
    oks_cluster_release(&c);
}

static void rejects_slots_without_r_replicas(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    /* slot 6-10 held by b only */
    char *p = write_conf("[cluster]\nslots=16\nreplicas=2\n"
                         "[shard.a]\nendpoint=tcp://h:1\nslots=0-5,11-15\n"
                         "[shard.b]\nendpoint=tcp://h:2\nslots=0-15\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 6 is held by 1 shard (b); [cluster] replicas = 2"));
    unlink(p);
    /* three holders for R = 2 */
    p = write_conf("[cluster]\nslots=4\nreplicas=2\n[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-3\n"
                   "[shard.c]\nendpoint=tcp://h:3\nslots=0\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 0 is held by 3 shards (a, b, c)"));
    unlink(p);
    /* a shard listing a slot twice does not count twice */
    p = write_conf("[cluster]\nslots=4\nreplicas=2\n[shard.a]\nendpoint=tcp://h:1\n"
                   "slots=0-3,2\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "replicas = 2, but there is only 1 shard"));
    unlink(p);
    p = write_conf("[cluster]\nslots=4\nreplicas=2\n[shard.a]\nendpoint=tcp://h:1\n"
                   "slots=0-3,2\n[shard.b]\nendpoint=tcp://h:2\nslots=0-3\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "[shard.a] slots: slot 2 listed twice"));
    unlink(p);
    /* a quorum above R, and R outside its bounds */
    p = write_conf("[cluster]\nslots=4\nreplicas=2\nwrite_quorum=3\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-3\n");
    assert_int_equal(oks_cluster_load(p, &c, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "write_quorum = 3 is more than replicas (2)"));
    unlink(p);
    p = write_conf("[cluster]\nslots=4\nreplicas=0\n[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n");
    assert_int_not_equal(oks_cluster_load(p, &c, &e), 0);
    assert_non_null(strstr(e.msg, "[cluster] replicas"));
    unlink(p);
}

/* A map kept in etcd (epoch set) lets a range have one holder more or fewer than R while a
 * replica is added or removed online, but never fewer than write_quorum. */
static void a_map_in_etcd_may_give_a_range_more_or_fewer_holders(void **state)
{
    (void)state;
    oks_cluster c, d;
    oks_err e;
    static const char three[] = "[cluster]\nslots=16\nreplicas=2\nepoch=4\n"
                                "[shard.a]\nendpoint=tcp://h:1\nslots=0-15\n"
                                "[shard.b]\nendpoint=tcp://h:2\nslots=0-9\n"
                                "[shard.c]\nendpoint=tcp://h:3\nslots=0-5,10-15\n";
    char *p = write_conf(three);
    assert_int_equal(oks_cluster_load(p, &c, &e), 0);
    unlink(p);
    assert_int_equal(c.width, 3);
    assert_int_equal(oks_cluster_nreplicas(&c, 0), 3);
    assert_int_equal(oks_cluster_nreplicas(&c, 7), 2);
    const uint16_t *rs = oks_cluster_replicas_of(&c, 7);
    assert_int_equal(rs[0], 0);
    assert_int_equal(rs[1], 1);
    assert_int_equal(rs[2], UINT16_MAX);
    rs = oks_cluster_replicas_of(&c, 3);
    assert_int_equal(rs[2], 2);
    assert_true(oks_cluster_holds(&c, 3, 2));
    assert_false(oks_cluster_holds(&c, 7, 2));
    assert_true(oks_cluster_holds(&c, 12, 2));
    /* a slot on one shard: allowed while write_quorum is 1 */
    p = write_conf("[cluster]\nslots=4\nreplicas=2\nepoch=2\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-1\n");
    assert_int_equal(oks_cluster_load(p, &d, &e), 0);
    unlink(p);
    assert_int_equal(oks_cluster_nreplicas(&d, 3), 1);
    assert_int_equal(d.width, 2);
    /* ... and the digest differs from the map where b holds them all */
    oks_cluster f;
    p = write_conf("[cluster]\nslots=4\nreplicas=2\nepoch=2\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-3\n");
    assert_int_equal(oks_cluster_load(p, &f, &e), 0);
    unlink(p);
    assert_memory_not_equal(d.digest, f.digest, 32);
    oks_cluster_release(&f);
    oks_cluster_release(&d);
    /* fewer holders than write_quorum: refused */
    p = write_conf("[cluster]\nslots=4\nreplicas=2\nwrite_quorum=2\nepoch=2\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-3\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-1\n");
    assert_int_equal(oks_cluster_load(p, &d, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 2 is held by 1 shard (a); a map needs 2 to 8"));
    unlink(p);
    /* the same holders without an epoch (a static map): exactly R */
    p = write_conf("[cluster]\nslots=16\nreplicas=2\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-15\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=0-9\n"
                   "[shard.c]\nendpoint=tcp://h:3\nslots=0-5,10-15\n");
    assert_int_equal(oks_cluster_load(p, &d, &e), OKS_E_FORMAT);
    assert_non_null(strstr(e.msg, "slot 0 is held by 3 shards (a, b, c); [cluster] replicas = 2"));
    unlink(p);
    oks_cluster_release(&c);
}

static void write_quorum_defaults_to_one_then_a_majority(void **state)
{
    (void)state;
    oks_cluster c = {.replicas = 1};
    assert_int_equal(oks_cluster_write_quorum(&c), 1);
    c.replicas = 2;
    assert_int_equal(oks_cluster_write_quorum(&c), 1);
    c.replicas = 3;
    assert_int_equal(oks_cluster_write_quorum(&c), 2);
    c.replicas = 4;
    assert_int_equal(oks_cluster_write_quorum(&c), 3);
    c.replicas = 5;
    assert_int_equal(oks_cluster_write_quorum(&c), 3);
    c.write_quorum = 5;
    assert_int_equal(oks_cluster_write_quorum(&c), 5);
}

static void digest_covers_the_replica_sets(void **state)
{
    (void)state;
    oks_cluster a, b;
    oks_err e;
    char *p = write_conf(ring3);
    assert_int_equal(oks_cluster_load(p, &a, &e), 0);
    unlink(p);
    /* same ranges, slot 0-5 now held by a and c instead of a and b */
    p = write_conf("[cluster]\nslots=16\nreplicas=2\n"
                   "[shard.a]\nendpoint=tcp://h:1\nslots=0-5,11-15\n"
                   "[shard.b]\nendpoint=tcp://h:2\nslots=6-10\n"
                   "[shard.c]\nendpoint=tcp://h:3\nslots=0-5,6-10,11-15\n");
    assert_int_equal(oks_cluster_load(p, &b, &e), 0);
    unlink(p);
    assert_memory_not_equal(a.digest, b.digest, 32);
    oks_cluster_release(&a);
    oks_cluster_release(&b);
}

static void slot_comes_from_the_key_id(void **state)
{
    (void)state;
    uint8_t fpr4[20] = {0}, kid[8];
    memset(fpr4 + 12, 0xFF, 8); /* v4: key ID = last 8 bytes */
    assert_int_equal(oks_keyid_of_fpr(fpr4, 20, kid), 0);
    assert_int_equal(oks_slot_of_keyid(kid, 4096), 4095);
    uint8_t fpr6[32] = {0x80};
    assert_int_equal(oks_keyid_of_fpr(fpr6, 32, kid), 0);
    assert_int_equal(oks_slot_of_keyid(kid, 4096), 2048);
    assert_int_equal(oks_keyid_of_fpr(fpr6, 16, kid), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_two_shards_and_maps_every_slot),
        cmocka_unit_test(rejects_overlapping_and_missing_slots),
        cmocka_unit_test(digest_changes_when_slots_move),
        cmocka_unit_test(slot_comes_from_the_key_id),
        cmocka_unit_test(replica_sets_come_from_the_slot_lists),
        cmocka_unit_test(rejects_slots_without_r_replicas),
        cmocka_unit_test(a_map_in_etcd_may_give_a_range_more_or_fewer_holders),
        cmocka_unit_test(write_quorum_defaults_to_one_then_a_majority),
        cmocka_unit_test(digest_covers_the_replica_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
