/* Fuzz target: the shard backup stream reader (lib/backup.c) on arbitrary bytes. It either
 * accepts the whole input as a backup — then the entries it passed on are the ones it counts,
 * each within the field limits — or refuses it with a reason and an offset inside the input. */
#include "lib/backup.h"

#include <gcrypt.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
    const uint8_t *p;
    size_t left;
} input;

static int rd(void *arg, void *buf, size_t n)
{
    input *in = arg;
    if (n > in->left)
        return -1;
    memcpy(buf, in->p, n);
    in->p += n;
    in->left -= n;
    return 0;
}

static int entry(void *arg, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    (void)k;
    (void)v;
    if (kl == 0 || kl > OKS_BACKUP_MAX_FIELD || vl > OKS_BACKUP_MAX_FIELD)
        __builtin_trap();
    ++*(uint64_t *)arg;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        gcry_check_version(NULL);
        gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
        gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
        ready = 1;
    }
    input in = {data, size};
    uint64_t n = 0;
    oks_backup_info info;
    oks_err e;
    oks_err_clear(&e);
    if (oks_backup_read(rd, &in, entry, &n, &info, &e) == 0) {
        if (in.left != 0 || n != info.entries || memchr(info.shard, '\0', sizeof info.shard) == NULL)
            __builtin_trap();
    } else if (!e.msg[0] || e.offset > size) {
        __builtin_trap();
    }
    return 0;
}
