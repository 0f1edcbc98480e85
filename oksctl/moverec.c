/* The move record (moverec.h): a strict reader of the "key = value" lines oksctl writes, a pure
 * function over a buffer (fuzzed by tests/fuzz/fuzz_moverec.c), and the writer. The reader
 * never copies more than a field's room: every value is measured against its field first. */
#include "oksctl/moverec.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_SLOT 65535u /* [cluster] slots is at most 65536 */

enum { F_KIND = 1, F_FIRST = 2, F_LAST = 4, F_FROM = 8, F_TO = 16, F_PHASE = 32, F_TARGET = 64 };

static const struct {
    const char *name;
    int bit;
} keys[] = {{"kind", F_KIND}, {"first", F_FIRST}, {"last", F_LAST},   {"from", F_FROM},
            {"to", F_TO},     {"phase", F_PHASE}, {"target", F_TARGET}};

/* The phases each kind writes (moverec.h). */
static const struct {
    const char *kind, *phases;
} kinds[] = {{"move", " copy switch purge abort "},
             {"add", " copy abort "},
             {"remove", " purge "},
             {"replicas", " plan "}};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* A decimal number of at most max: digits only, no sign, no leading junk. */
static bool number(const char *v, size_t n, unsigned max, unsigned *out)
{
    unsigned long x = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (unsigned long)(v[i] - '0');
    }
    if (x > max)
        return false;
    *out = (unsigned)x;
    return true;
}

/* "-" or a shard name as oks.conf allows it ([shard.NAME]: letters, digits, "_-."). */
static bool shard_word(const char *v, size_t n, char *out, size_t room)
{
    if (n == 0 || n >= room)
        return false;
    for (size_t i = 0; i < n; i++) /* (strchr finds a NUL too) */
        if (!isalnum((unsigned char)v[i]) && (!v[i] || !strchr("_-.", v[i])))
            return false;
    memcpy(out, v, n);
    out[n] = '\0';
    return true;
}

/* A word among the space-separated ones of list. */
static bool one_of(const char *v, size_t n, const char *list, char *out, size_t room)
{
    if (n == 0 || n >= room)
        return false;
    for (const char *w = list; *w;) {
        size_t wn = strcspn(w, " ");
        if (wn == n && memcmp(w, v, n) == 0) {
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        w += wn + (w[wn] == ' ');
    }
    return false;
}

static int field(oksctl_move *m, int bit, const char *v, size_t n)
{
    switch (bit) {
    case F_KIND: return one_of(v, n, "move add remove replicas", m->kind, sizeof m->kind);
    case F_FIRST: return number(v, n, MAX_SLOT, &m->first);
    case F_LAST: return number(v, n, MAX_SLOT, &m->last);
    case F_FROM: return shard_word(v, n, m->from, sizeof m->from);
    case F_TO: return shard_word(v, n, m->to, sizeof m->to);
    case F_PHASE: return one_of(v, n, "copy switch purge abort plan", m->phase, sizeof m->phase);
    default: return number(v, n, OKS_MAX_REPLICAS, &m->target);
    }
}

/* The fields agree with the kind: its phases, its sides, its target. */
static const char *consistent(const oksctl_move *m, int got)
{
    size_t k = 0;
    while (strcmp(kinds[k].kind, m->kind) != 0)
        k++;
    char ph[sizeof m->phase + 2];
    snprintf(ph, sizeof ph, " %s ", m->phase);
    if (!strstr(kinds[k].phases, ph))
        return "a phase this kind of record never has";
    bool none_from = !strcmp(m->from, "-"), none_to = !strcmp(m->to, "-");
    if (m->first > m->last)
        return "first is after last";
    if (k == 0 && (none_from || none_to || !strcmp(m->from, m->to)))
        return "a move needs two different shards";
    if (k == 1 && (!none_from || none_to))
        return "an add needs to = a shard and from = -";
    if (k == 2 && (none_from || !none_to))
        return "a remove needs from = a shard and to = -";
    if (k == 3 && (!none_from || !none_to || !m->target))
        return "a replicas plan needs from = -, to = - and a target";
    if (k == 0 && (got & F_TARGET))
        return "a move has no target";
    return NULL;
}

int oksctl_move_parse(const char *doc, size_t len, oksctl_move *m, oks_err *e)
{
    memset(m, 0, sizeof *m);
    snprintf(m->kind, sizeof m->kind, "move"); /* a record without kind: a move */
    if (len > OKSCTL_MOVE_MAX)
        return oks_err_set(e, OKS_E_LIMIT, OKSCTL_MOVE_MAX, "move record: %zu bytes, at most %d",
                           len, OKSCTL_MOVE_MAX);
    int got = 0;
    unsigned line = 0;
    for (size_t pos = 0; pos < len; line++) {
        const char *s = doc + pos, *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos, at = pos;
        pos += n + (nl != NULL);
        while (n && is_space(s[n - 1]))
            n--;
        size_t i = 0;
        while (i < n && is_space(s[i]))
            i++;
        if (i == n)
            continue; /* an empty line */
        const char *eq = memchr(s + i, '=', n - i);
        if (!eq)
            return oks_err_set(e, OKS_E_FORMAT, at, "move record, line %u: no \"key = value\"",
                               line + 1);
        size_t kn = (size_t)(eq - (s + i)), v = (size_t)(eq - s) + 1;
        while (kn && is_space(s[i + kn - 1]))
            kn--;
        while (v < n && is_space(s[v]))
            v++;
        size_t k = 0;
        while (k < sizeof keys / sizeof keys[0] &&
               (strlen(keys[k].name) != kn || strncmp(keys[k].name, s + i, kn) != 0))
            k++;
        if (k == sizeof keys / sizeof keys[0])
            return oks_err_set(e, OKS_E_FORMAT, at, "move record, line %u: unknown key \"%.*s\"",
                               line + 1, (int)(kn < 32 ? kn : 32), s + i);
        if (got & keys[k].bit)
            return oks_err_set(e, OKS_E_FORMAT, at, "move record, line %u: %s set twice",
                               line + 1, keys[k].name);
        if (!field(m, keys[k].bit, s + v, n - v))
            return oks_err_set(e, OKS_E_FORMAT, at + v, "move record, line %u: bad %s \"%.*s\"",
                               line + 1, keys[k].name, (int)(n - v < 64 ? n - v : 64), s + v);
        got |= keys[k].bit;
    }
    for (size_t k = 1; k < sizeof keys / sizeof keys[0] - 1; k++)
        if (!(got & keys[k].bit))
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "move record: no %s",
                               keys[k].name);
    const char *why = consistent(m, got);
    if (why)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "move record (kind %s): %s", m->kind,
                           why);
    return 0;
}

void oksctl_move_render(const oksctl_move *m, char *out, size_t n)
{
    int k = snprintf(out, n, "kind = %s\nfirst = %u\nlast = %u\nfrom = %s\nto = %s\nphase = %s\n",
                     m->kind, m->first, m->last, m->from, m->to, m->phase);
    if (m->target && k > 0 && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, "target = %u\n", m->target);
}

int oksctl_move_fits(const oksctl_move *m, const oks_cluster *c, oks_err *e)
{
    if (strcmp(m->kind, "replicas") != 0 && m->last >= c->n_slots)
        return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                           "the move record names slots %u-%u, the map has 0-%u", m->first,
                           m->last, c->n_slots - 1);
    const char *side[2] = {m->from, m->to};
    for (int i = 0; i < 2; i++)
        if (strcmp(side[i], "-") != 0 && oks_cluster_shard_index(c, side[i]) < 0)
            return oks_err_set(e, OKS_E_STATE, OKS_NO_OFFSET,
                               "the move record names shard %s, the map has none", side[i]);
    return 0;
}
