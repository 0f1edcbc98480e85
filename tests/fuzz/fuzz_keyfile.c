/* Fuzz target: the CURVE key file reader (40 Z85 characters, then white space). A key read back
 * from its own Z85 text is the same key. */
#include <string.h>
#include <zmq.h>

#include "lib/zsec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t key[32], again[32];
    oks_err e;
    size_t cap = 128, n = size < cap ? size : cap;
    if (oks_zsec_key_parse((const char *)data, n, cap, "fuzz", key, &e) != 0)
        return 0;
    char z[41];
    if (!zmq_z85_encode(z, key, 32) ||
        oks_zsec_key_parse(z, 40, cap, "fuzz", again, &e) != 0 || memcmp(key, again, 32) != 0)
        __builtin_trap();
    return 0;
}
