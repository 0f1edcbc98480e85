/* Fuzz target: the etcd client's answer parser (lib/etcd_json.c) on arbitrary bytes, as every
 * call kind and as a watch stream message. A broken or hostile etcd gets an error, never a
 * crash; what parses is well formed (keys NUL-terminated, revisions not negative, events in
 * revision order). */
#include "lib/etcd.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev)
{
    int64_t *prev = arg;
    if (!kv->key || !kv->key[0] || rev < *prev || kv->mod_rev < 0 || kv->create_rev < 0 ||
        (kv->len && !kv->val) || is_delete < 0 || is_delete > 1)
        __builtin_trap();
    *prev = rev;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oks_err e;
    for (int call = OKS_ETCD_RANGE; call <= OKS_ETCD_LEASE_REVOKE; call++) {
        oks_etcd_answer a;
        int r = oks_etcd_parse_answer((oks_etcd_call)call, data, size, 4, &a, &e);
        if (r > 0 || (r < 0 && !e.msg[0]))
            __builtin_trap();
        if (r == 0) {
            if (a.n_kvs > 4 || a.revision < 0)
                __builtin_trap();
            for (size_t i = 0; i < a.n_kvs; i++)
                if (!a.kvs[i].key || strlen(a.kvs[i].key) > size ||
                    !a.kvs[i].val || a.kvs[i].val[a.kvs[i].len] != 0)
                    __builtin_trap();
        } else if (a.kvs || a.failed) {
            __builtin_trap(); /* nothing left owned after an error */
        }
        oks_etcd_answer_release(&a);
    }
    oks_etcd_watch_msg m;
    int64_t last = 0, prev = 0;
    int r = oks_etcd_parse_watch(data, size, on_event, &prev, &m, &last, &e);
    if (r > 0 || (r < 0 && !e.msg[0]) || last != prev)
        __builtin_trap();
    return 0;
}
