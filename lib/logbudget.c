/* Log budget for refused connections (lib/logbudget.h). */
#include "lib/logbudget.h"

#include <string.h>

void oks_logbudget_init(oks_logbudget *b, unsigned per_minute)
{
    memset(b, 0, sizeof *b);
    b->per_minute = per_minute > OKS_LOGBUDGET_MAX ? OKS_LOGBUDGET_MAX : per_minute;
}

/* FNV-1a, 64 bits; 0 is kept for "no source" */
static uint64_t source_hash(const void *src, size_t len)
{
    const unsigned char *p = src;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ? h : 1;
}

bool oks_logbudget_take(oks_logbudget *b, time_t now, const void *src, size_t len,
                        unsigned *summary)
{
    *summary = 0;
    if (b->window == 0 || now - b->window >= 60 || now < b->window) {
        *summary = b->dropped;
        b->window = now;
        b->logged = b->dropped = 0;
    }
    uint64_t h = len ? source_hash(src, len) : 0;
    for (unsigned i = 0; h && i < b->logged; i++)
        if (b->seen[i] == h) {
            b->dropped++;
            return false;
        }
    if (b->logged >= b->per_minute) {
        b->dropped++;
        return false;
    }
    b->seen[b->logged++] = h;
    return true;
}
