/* Fuzz target: armor decoding of arbitrary text; whatever decodes must survive an
 * encode/decode round trip unchanged. */
#include "lib/pgp.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    size_t off = 0;
    oks_armor_detect(data, size);
    for (int i = 0; i < 64; i++) {
        size_t before = off;
        int r = oks_armor_decode((const char *)data, size, &off, &out, &e);
        if (r == 1)
            break;
        if (off <= before || off > size)
            __builtin_trap(); /* must always make progress */
    }
    if (out.len) {
        oks_buf a = OKS_BUF_INIT, back = OKS_BUF_INIT;
        size_t o = 0;
        if (oks_armor_encode(out.data, out.len, &a) != 0 ||
            oks_armor_decode((const char *)a.data, a.len, &o, &back, &e) != 0 ||
            back.len != out.len || memcmp(back.data, out.data, out.len) != 0)
            __builtin_trap();
        oks_buf_release(&a);
        oks_buf_release(&back);
    }
    oks_buf_release(&out);
    return 0;
}
