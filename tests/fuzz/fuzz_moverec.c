/* Fuzz target: the move record reader (oksctl/moverec.c, the PREFIX/move record of
 * `oksctl slots`) on arbitrary bytes. A record it accepts keeps the promises of moverec.h (a
 * known kind with one of its phases, slots in order and in range, shard names or "-") and
 * reads back from its own rendering as the same record; it is checked against a small map.
 * The oksctl unit is compiled in here because fuzz targets link only lib/. */
#include "oksctl/moverec.c"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *s)
{
    size_t n = strnlen(s, 64);
    if (n == 0 || n == 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oksctl_move m, again;
    oks_err e;
    if (oksctl_move_parse((const char *)data, size, &m, &e) != 0) {
        if (!e.code || !e.msg[0])
            __builtin_trap(); /* a refusal always says why */
        return 0;
    }
    if (m.first > m.last || m.last > 65535 || m.target > OKS_MAX_REPLICAS || !name_ok(m.from) ||
        !name_ok(m.to) || !one_of(m.kind, strlen(m.kind), "move add remove replicas", again.kind,
                                  sizeof again.kind) ||
        !one_of(m.phase, strlen(m.phase), "copy switch purge abort plan", again.phase,
                sizeof again.phase))
        __builtin_trap();
    char out[512];
    oksctl_move_render(&m, out, sizeof out);
    if (oksctl_move_parse(out, strlen(out), &again, &e) != 0 || memcmp(&m, &again, sizeof m))
        __builtin_trap();
    /* against a map of 16 slots with shards s0 and s1 */
    static oks_cluster c;
    if (!c.n_slots) {
        c.n_slots = 16;
        c.n_shards = 2;
        snprintf(c.shards[0].name, sizeof c.shards[0].name, "s0");
        snprintf(c.shards[1].name, sizeof c.shards[1].name, "s1");
    }
    bool fits = (!strcmp(m.kind, "replicas") || m.last < 16) &&
                (!strcmp(m.from, "-") || !strcmp(m.from, "s0") || !strcmp(m.from, "s1")) &&
                (!strcmp(m.to, "-") || !strcmp(m.to, "s0") || !strcmp(m.to, "s1"));
    if ((oksctl_move_fits(&m, &c, &e) == 0) != fits)
        __builtin_trap();
    return 0;
}
