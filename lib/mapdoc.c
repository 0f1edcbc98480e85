/* The map document and its editable form (see mapdoc.h). */
#include "lib/mapdoc.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE_BYTES (1u << 20)

bool oks_mapdoc_is_map_key(const char *section, const char *key)
{
    if (strcmp(section, "cluster") == 0)
        return !strcmp(key, "slots") || !strcmp(key, "replicas") ||
               !strcmp(key, "write_quorum") || !strcmp(key, "epoch");
    if (strncmp(section, "shard.", 6) == 0)
        return !strcmp(key, "slots") || !strcmp(key, "joining") || !strcmp(key, "endpoint");
    return false;
}

/* The trimmed [a, b) of s. */
static void trim(const char **a, const char **b)
{
    while (*a < *b && isspace((unsigned char)**a))
        (*a)++;
    while (*b > *a && isspace((unsigned char)(*b)[-1]))
        (*b)--;
}

/* Whether map (a document, NUL not needed) has a [shard.NAME] section for section. */
static bool map_has_section(const char *map, size_t len, const char *section)
{
    char head[160];
    int n = snprintf(head, sizeof head, "[%s]", section);
    for (const char *p = map, *end = map + len; p && p < end;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if ((size_t)(end - p) >= (size_t)n && memcmp(p, head, (size_t)n) == 0)
            return true;
        p = memchr(p, '\n', (size_t)(end - p));
        p = p ? p + 1 : NULL;
    }
    return false;
}

static int split(const char *text, size_t len, oks_buf *local, oks_buf *map, const char *only,
                 size_t only_len)
{
    char section[128] = "", header[160] = "";
    bool header_out = false; /* the section's header went to map */
    const char *p = text, *end = text + len;
    int r = 0;
    while (p < end && !r) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *a = p, *b = le;
        size_t line_len = (size_t)(le - p) + (nl ? 1 : 0);
        trim(&a, &b);
        bool is_map = false;
        if (a < b && *a == '[') {
            const char *c = memchr(a, ']', (size_t)(b - a));
            size_t n = c ? (size_t)(c - a - 1) : 0;
            if (n >= sizeof section)
                n = sizeof section - 1;
            memcpy(section, a + 1, n);
            section[n] = '\0';
            snprintf(header, sizeof header, "[%s]\n", section);
            header_out = false;
        } else if (a < b && *a != '#' && *a != ';') {
            const char *eq = memchr(a, '=', (size_t)(b - a));
            if (eq) {
                const char *ka = a, *kb = eq;
                trim(&ka, &kb);
                char key[64];
                size_t n = (size_t)(kb - ka) < sizeof key - 1 ? (size_t)(kb - ka) : sizeof key - 1;
                memcpy(key, ka, n);
                key[n] = '\0';
                is_map = oks_mapdoc_is_map_key(section, key);
            }
        }
        if (is_map && map) {
            if (!header_out)
                r = oks_buf_append(map, header, strlen(header));
            header_out = true;
            r = r ? r : oks_buf_append(map, p, line_len);
            if (!r && !nl)
                r = oks_buf_putc(map, '\n');
        } else if (!is_map && local &&
                   !(only && strncmp(section, "shard.", 6) == 0 &&
                     !map_has_section(only, only_len, section))) {
            r = oks_buf_append(local, p, line_len);
            if (!r && !nl)
                r = oks_buf_putc(local, '\n');
        }
        p = le + (nl ? 1 : 0);
    }
    return r;
}

int oks_mapdoc_split(const char *text, size_t len, oks_buf *local, oks_buf *map)
{
    return split(text, len, local, map, NULL, 0);
}

int oks_mapdoc_load(const char *name, const char *local, size_t local_len, const char *map,
                    size_t map_len, oks_cluster *c, oks_err *e)
{
    oks_buf t = OKS_BUF_INIT;
    int r = split(local, local_len, &t, NULL, map, map_len);
    r = r ? r : oks_buf_append(&t, map, map_len);
    if (r) {
        oks_buf_release(&t);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "config");
    }
    memset(c, 0, sizeof *c);
    r = oks_cluster_load_text(name, (const char *)t.data, t.len, c, e);
    oks_buf_release(&t);
    return r;
}

int oks_mapdoc_read_file(const char *path, oks_buf *b, oks_err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot read %s: %s", path,
                           strerror(errno));
    char chunk[8192];
    size_t n;
    int r = 0;
    while (!r && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        r = b->len + n > MAX_FILE_BYTES
                ? oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%s: larger than %u bytes", path,
                              MAX_FILE_BYTES)
                : oks_buf_append(b, chunk, n);
    if (!r && ferror(f))
        r = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot read %s", path);
    fclose(f);
    return r;
}

void oks_mapedit_from(oks_mapedit *m, const oks_cluster *c)
{
    memset(m, 0, sizeof *m);
    m->n_slots = c->n_slots;
    m->replicas = c->replicas;
    m->write_quorum = c->write_quorum;
    m->epoch = c->epoch;
    for (size_t i = 0; i < c->n_shards; i++) {
        oks_mapedit_add_shard(m, c->shards[i].name, c->shards[i].endpoint);
        for (unsigned s = 0; s < c->n_slots; s++)
            m->shards[i].slot[s] = oks_cluster_holds(c, s, i)   ? OKS_MAP_HOLDS
                                   : c->slot_joining[s] == i ? OKS_MAP_JOINING
                                                             : OKS_MAP_NONE;
    }
}

void oks_mapedit_release(oks_mapedit *m)
{
    for (size_t i = 0; i < m->n_shards; i++)
        free(m->shards[i].slot);
    memset(m, 0, sizeof *m);
}

int oks_mapedit_find(const oks_mapedit *m, const char *name)
{
    for (size_t i = 0; i < m->n_shards; i++)
        if (strcmp(m->shards[i].name, name) == 0)
            return (int)i;
    return -1;
}

int oks_mapedit_add_shard(oks_mapedit *m, const char *name, const char *endpoint)
{
    if (m->n_shards == OKS_MAX_SHARDS)
        return -1;
    oks_mapedit_shard *s = &m->shards[m->n_shards];
    snprintf(s->name, sizeof s->name, "%s", name);
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    s->slot = oks_xcalloc(m->n_slots ? m->n_slots : 1, 1);
    return (int)m->n_shards++;
}

unsigned oks_mapedit_count(const oks_mapedit *m, size_t i, int state)
{
    unsigned n = 0;
    for (unsigned s = 0; s < m->n_slots; s++)
        n += m->shards[i].slot[s] == state;
    return n;
}

/* "a-b,c" of the slots of shard i in state (appended to out). */
static int ranges(const oks_mapedit *m, size_t i, int state, oks_buf *out)
{
    int r = 0;
    bool first = true;
    for (unsigned a = 0; a < m->n_slots && !r;) {
        if (m->shards[i].slot[a] != state) {
            a++;
            continue;
        }
        unsigned b = a;
        while (b + 1 < m->n_slots && m->shards[i].slot[b + 1] == state)
            b++;
        r = a == b ? oks_buf_printf(out, "%s%u", first ? "" : ",", a)
                   : oks_buf_printf(out, "%s%u-%u", first ? "" : ",", a, b);
        first = false;
        a = b + 1;
    }
    return r;
}

int oks_mapedit_render(const oks_mapedit *m, oks_buf *out)
{
    int r = oks_buf_printf(out, "[cluster]\nslots = %u\nreplicas = %u\nwrite_quorum = %u\n"
                                "epoch = %u\n",
                           m->n_slots, m->replicas, m->write_quorum, m->epoch);
    for (size_t i = 0; i < m->n_shards && !r; i++) {
        r = oks_buf_printf(out, "\n[shard.%s]\nendpoint = %s\nslots = ", m->shards[i].name,
                           m->shards[i].endpoint);
        r = r ? r : ranges(m, i, OKS_MAP_HOLDS, out);
        if (!r && oks_mapedit_count(m, i, OKS_MAP_JOINING)) {
            r = oks_buf_printf(out, "\njoining = ");
            r = r ? r : ranges(m, i, OKS_MAP_JOINING, out);
        }
        r = r ? r : oks_buf_putc(out, '\n');
    }
    return r;
}
