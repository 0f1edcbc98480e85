/* Fuzz target: oks.conf loading (lib/conf.c against the settings table, then the slot map) on
 * arbitrary text. A load either succeeds with every slot owned by a listed shard, or fails with
 * a message that names the file. */
#include "lib/cluster.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_cluster c;
    oks_err e;
    oks_err_clear(&e);
    if (oks_cluster_load_text("fuzz.conf", (const char *)data, size, &c, &e) == 0) {
        if (c.n_shards == 0 || c.n_shards > OKS_MAX_SHARDS || c.n_routers > OKS_MAX_ROUTERS)
            __builtin_trap();
        for (unsigned s = 0; s < c.n_slots; s++)
            if (c.slot_owner[s] >= c.n_shards)
                __builtin_trap();
        oks_cluster_release(&c);
    } else if (strncmp(e.msg, "fuzz.conf", 9) != 0) {
        __builtin_trap();
    }
    return 0;
}
