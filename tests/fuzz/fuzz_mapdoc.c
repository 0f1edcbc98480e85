/* Fuzz target: a map document (lib/mapdoc.c) on arbitrary text: split out of a config, loaded
 * after fixed local settings, and, when it loads, its edited form rendered: when that loads
 * again, it is the same map (same digest). */
#include "lib/mapdoc.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char local[] = "[cluster]\nrouters = tcp://127.0.0.1:1\n[router]\ndeadline_ms = 100\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_buf l = OKS_BUF_INIT, m = OKS_BUF_INIT;
    if (oks_mapdoc_split((const char *)data, size, &l, &m) == 0) {
        oks_cluster c;
        oks_err e;
        if (oks_mapdoc_load("fuzz.map", local, strlen(local), (const char *)m.data, m.len, &c,
                            &e) == 0) {
            oks_mapedit ed;
            oks_mapedit_from(&ed, &c);
            oks_buf doc = OKS_BUF_INIT;
            oks_cluster d;
            if (oks_mapedit_render(&ed, &doc) == 0 &&
                oks_mapdoc_load("fuzz.map", local, strlen(local), (const char *)doc.data, doc.len,
                                &d, &e) == 0) {
                if (memcmp(c.digest, d.digest, 32) != 0)
                    __builtin_trap();
                oks_cluster_release(&d);
            }
            oks_buf_release(&doc);
            oks_mapedit_release(&ed);
            oks_cluster_release(&c);
        }
    }
    oks_buf_release(&l);
    oks_buf_release(&m);
    return 0;
}
