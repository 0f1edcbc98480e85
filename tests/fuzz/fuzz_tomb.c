/* Fuzz target: the stored form of a tombstone (lib/tomb.c) on arbitrary bytes. Whatever decodes
 * encodes back to the same bytes, compares equal to itself, and has NUL-terminated texts within
 * their limits; whatever is refused has a reason. */
#include "lib/tomb.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t fpr[20] = {0xAB};
    oks_tomb t;
    oks_err e;
    oks_err_clear(&e);
    if (oks_tomb_decode(data, size, fpr, 20, &t, &e) != 0) {
        if (!e.msg[0])
            __builtin_trap();
        return 0;
    }
    if (strlen(t.reason) > OKS_TOMB_MAX_REASON || strlen(t.who) > OKS_TOMB_MAX_WHO ||
        oks_tomb_cmp(&t, &t) != 0)
        __builtin_trap();
    oks_buf b = OKS_BUF_INIT;
    if (oks_tomb_encode(&t, &b) == 0 && (b.len != size || memcmp(b.data, data, size) != 0))
        __builtin_trap();
    oks_buf_release(&b);
    uint8_t h[16];
    oks_tomb_hash(&t, h);
    return 0;
}
