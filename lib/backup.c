/* Reader of the shard backup stream (see backup.h). */
#include "lib/backup.h"

#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

typedef struct rstream {
    oks_backup_read_fn rd;
    void *arg;
    gcry_md_hd_t md;
    uint64_t off;
} rstream;

static int get(rstream *s, void *p, size_t n)
{
    if (n && s->rd(s->arg, p, n))
        return -1;
    gcry_md_write(s->md, p, n);
    s->off += n;
    return 0;
}

static int get32(rstream *s, uint32_t *v)
{
    uint8_t b[4];
    if (get(s, b, 4))
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

static int get64(rstream *s, uint64_t *v)
{
    uint32_t hi, lo;
    if (get32(s, &hi) || get32(s, &lo))
        return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

int oks_backup_read(oks_backup_read_fn rd, void *rd_arg, oks_backup_entry_fn fn, void *fn_arg,
                    oks_backup_info *info, oks_err *e)
{
    rstream s = {rd, rd_arg, NULL, 0};
    memset(info, 0, sizeof *info);
    if (gcry_md_open(&s.md, GCRY_MD_SHA256, 0))
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "SHA-256 unavailable");
    char magic[8];
    const char *why = NULL;
    int code = OKS_E_FORMAT;
    uint32_t version = 0, nl = 0;
    uint64_t count = 0;
    uint8_t *buf = NULL;
    size_t cap = 0;
    if (get(&s, magic, 8) || memcmp(magic, OKS_BACKUP_MAGIC, 8) != 0)
        why = "not an OKS backup (bad magic)";
    else if (get32(&s, &version) || version != OKS_BACKUP_VERSION)
        why = "unsupported backup format version (this program reads version 1)";
    else if (get32(&s, &nl) || nl > OKS_BACKUP_MAX_NAME || get(&s, info->shard, nl) ||
             get64(&s, &info->last_seq))
        why = "truncated or damaged header";
    while (!why) {
        uint8_t tag;
        uint32_t kl, vl;
        if (get(&s, &tag, 1)) {
            why = "truncated (no trailer)";
        } else if (tag == 'Z') {
            if (get64(&s, &count))
                why = "truncated trailer";
            break;
        } else if (tag != 'E' || get32(&s, &kl) || get32(&s, &vl) || kl == 0 ||
                   kl > OKS_BACKUP_MAX_FIELD || vl > OKS_BACKUP_MAX_FIELD) {
            why = "damaged entry framing";
        } else {
            size_t need = (size_t)kl + vl;
            if (need > cap) {
                uint8_t *nb = realloc(buf, need);
                if (!nb) {
                    why = "out of memory";
                    code = OKS_E_NOMEM;
                    break;
                }
                buf = nb;
                cap = need;
            }
            if (get(&s, buf, need)) {
                why = "truncated entry";
            } else {
                info->entries++;
                if (fn && fn(fn_arg, buf, kl, buf + kl, vl)) {
                    why = "cannot store the entry";
                    code = OKS_E_IO;
                }
            }
        }
    }
    if (!why) {
        uint8_t want[32], got[32], extra;
        memcpy(want, gcry_md_read(s.md, GCRY_MD_SHA256), 32);
        if (rd(rd_arg, got, 32))
            why = "truncated checksum";
        else if (memcmp(want, got, 32) != 0)
            why = "checksum mismatch: the backup is corrupted";
        else if (count != info->entries)
            why = "entry count mismatch";
        else if (rd(rd_arg, &extra, 1) == 0)
            why = "trailing bytes after the checksum";
    }
    free(buf);
    gcry_md_close(s.md);
    if (why)
        return oks_err_set(e, code, (size_t)s.off, "%s", why);
    return 0;
}
