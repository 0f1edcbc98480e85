/* Fuzz target: reading a reply's status without unpacking it (the router's hot path). On any
 * input it stays inside the bytes; on a Response as protobuf-c packs it, it reads the status
 * that unpacking reads. */
#include "lib/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)oks_proto_peek_status(data, size);
    Oks__Response *r = oks__response__unpack(NULL, size, data);
    if (!r)
        return 0;
    oks_buf b = OKS_BUF_INIT;
    if (oks_proto_pack_response(r, &b) == 0 && oks_proto_peek_status(b.data, b.len) != r->status)
        __builtin_trap();
    oks_buf_release(&b);
    oks__response__free_unpacked(r, NULL);
    return 0;
}
