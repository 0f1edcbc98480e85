/* For unit tests of map changes (router, shard): a two-shard oks.conf in a temporary file, and
 * maps of it with a given epoch, on the heap as the map watcher hands them over. Header-only:
 * each test binary includes it once. */
#ifndef OKS_TESTS_MAP_FIXTURE_H
#define OKS_TESTS_MAP_FIXTURE_H

#include "lib/cluster.h"
#include "lib/xalloc.h"

#include <stdio.h>
#include <stdlib.h>

static char map_fixture_path[64];

/* Writes the config (s0: slots 0-2047, s1: 2048-4095; routers = front); unlink it after. */
static void map_fixture_write(const char *front)
{
    snprintf(map_fixture_path, sizeof map_fixture_path, "/tmp/oks-test-maps-XXXXXX");
    int fd = mkstemp(map_fixture_path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "[cluster]\nslots = 4096\nrouters = %s\n"
                "[shard.s0]\nendpoint = tcp://127.0.0.1:1\nslots = 0-2047\n"
                "[shard.s1]\nendpoint = tcp://127.0.0.1:2\nslots = 2048-4095\n", front);
    fclose(fp);
}

/* The config's map with epoch (heap: oks_cluster_release, then free). */
static oks_cluster *map_fixture_epoch(unsigned epoch)
{
    oks_cluster *c = oks_xcalloc(1, sizeof *c);
    oks_err e;
    assert_int_equal(oks_cluster_load(map_fixture_path, c, &e), 0);
    c->epoch = epoch;
    return c;
}

#endif
