/* Fuzz target: the JSON reader behind POST /vks/v1/upload (lib/json: one string member of a JSON
 * object, parsed by jansson) on arbitrary bytes, and the UTF-8 repair every JSON writer applies
 * to outside bytes: the repaired text must be valid UTF-8 that jansson accepts. */
#include "lib/json.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    int r = oks_json_get_string(data, size, "keytext", &out, &e);
    if (r != 0 && r != OKS_E_FORMAT && r != OKS_E_NOMEM)
        __builtin_trap();
    if (r == 0 && (!out.data || out.data[out.len] != '\0'))
        __builtin_trap();
    if (r != 0 && !e.msg[0])
        __builtin_trap();
    out.len = 0;
    if (oks_json_utf8(&out, data, size) == 0) {
        json_t *s = json_stringn(out.data ? (const char *)out.data : "", out.len);
        if (!s)
            __builtin_trap(); /* jansson refused the repaired text */
        if (size && out.len < size)
            __builtin_trap(); /* nothing is dropped: every byte is kept or replaced */
        json_decref(s);
    }
    oks_buf_release(&out);
    return 0;
}
