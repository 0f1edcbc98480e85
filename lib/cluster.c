/* Cluster configuration loading and the slot map (see cluster.h); the keys themselves are
 * read by lib/conf.c. */
#include "lib/cluster.h"
#include "lib/xalloc.h"

#include <gcrypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int oks_slots_parse(const char *spec, unsigned n_slots, uint16_t *owner, uint16_t idx, oks_err *e)
{
    const char *p = spec;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad slot list '%s'", spec);
        p = end;
        if (*p == '-') {
            b = strtoul(p + 1, &end, 10);
            if (end == p + 1)
                return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad slot range in '%s'", spec);
            p = end;
        }
        if (a > b || b >= n_slots)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "slot range %lu-%lu outside 0-%u", a, b, n_slots - 1);
        for (unsigned long s = a; s <= b; s++) {
            if (owner[s] != UINT16_MAX)
                return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "slot %lu listed twice", s);
            owner[s] = idx;
        }
        if (*p && *p != ',' && *p != ' ')
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad slot list '%s'", spec);
    }
    return 0;
}

/* Names the shards holding slot s into msg ("a, b"). */
static void holders(const oks_cluster *c, const uint16_t *own, unsigned s, char *msg, size_t n)
{
    size_t used = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < c->n_shards && used < n; i++)
        if (own[i * c->n_slots + s] != UINT16_MAX)
            used += (size_t)snprintf(msg + used, n - used, "%s%s", used ? ", " : "",
                                     c->shards[i].name);
}

/* Checks the holders of every slot and fills slot_replicas (config order, UINT16_MAX after the
 * last holder), slot_nrep and slot_owner (first replica). A static map (epoch 0) needs exactly
 * c->replicas holders per slot; a map kept in etcd between write_quorum (at least 1) and
 * OKS_MAX_REPLICAS, since a replica is added or removed one range at a time (docs/replicas.md
 * "Adding and removing replicas"). own: per shard, n_slots entries, set where it holds. */
static int fill_replicas(const char *name, oks_cluster *c, const uint16_t *own, oks_err *e)
{
    unsigned R = c->replicas, W = oks_cluster_write_quorum(c);
    c->slot_nrep = oks_xcalloc(c->n_slots ? c->n_slots : 1, sizeof *c->slot_nrep);
    c->width = R;
    for (unsigned s = 0; s < c->n_slots; s++) {
        unsigned k = 0;
        for (size_t i = 0; i < c->n_shards; i++)
            k += own[i * c->n_slots + s] != UINT16_MAX;
        bool ok = c->epoch ? k >= 1 && k >= W && k <= OKS_MAX_REPLICAS : k == R;
        if (ok) {
            c->slot_nrep[s] = (uint8_t)k;
            if (k > c->width)
                c->width = k;
            continue;
        }
        char who[256];
        holders(c, own, s, who, sizeof who);
        if (k == 0)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "%s: slot %u has no shard", name, s);
        if (c->epoch)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "%s: slot %u is held by %u shard%s (%s); a map needs %u to %u "
                               "(write_quorum to %u)", name, s, k, k == 1 ? "" : "s", who,
                               W ? W : 1, OKS_MAX_REPLICAS, OKS_MAX_REPLICAS);
        if (R == 1)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "%s: slot %u assigned %s (shards %s); with [cluster] replicas = 1 "
                               "every slot belongs to one shard", name, s,
                               k == 2 ? "twice" : "more than once", who);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "%s: slot %u is held by %u shard%s (%s); [cluster] replicas = %u needs "
                           "exactly %u", name, s, k, k == 1 ? "" : "s", who, R, R);
    }
    unsigned Wd = c->width;
    c->slot_replicas = oks_xmalloc((size_t)c->n_slots * Wd * sizeof *c->slot_replicas);
    memset(c->slot_replicas, 0xFF, (size_t)c->n_slots * Wd * sizeof *c->slot_replicas);
    for (unsigned s = 0; s < c->n_slots; s++) {
        unsigned k = 0;
        for (size_t i = 0; i < c->n_shards; i++)
            if (own[i * c->n_slots + s] != UINT16_MAX)
                c->slot_replicas[(size_t)s * Wd + k++] = (uint16_t)i;
        c->slot_owner[s] = c->slot_replicas[(size_t)s * Wd];
    }
    return 0;
}

/* Fills slot_joining from the shards' joining lists: at most one per slot, and not a shard that
 * already holds it. own: as for fill_replicas. */
static int fill_joining(const char *name, oks_cluster *c, const uint16_t *own, oks_err *e)
{
    c->slot_joining = oks_xmalloc(c->n_slots * sizeof *c->slot_joining);
    memset(c->slot_joining, 0xFF, c->n_slots * sizeof *c->slot_joining);
    for (size_t i = 0; i < c->n_shards; i++) {
        oks_shard_conf *s = &c->shards[i];
        if (!s->joining_spec || !s->joining_spec[0])
            continue;
        int r = oks_slots_parse(s->joining_spec, c->n_slots, c->slot_joining, (uint16_t)i, e);
        if (r) {
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
            return oks_err_set(e, r, OKS_NO_OFFSET, "%s: [shard.%s] joining: %s%s", name,
                               s->name, msg, strstr(msg, "twice") ? " (one joining shard a slot)" : "");
        }
    }
    for (unsigned sl = 0; sl < c->n_slots; sl++) {
        uint16_t j = c->slot_joining[sl];
        if (j != UINT16_MAX && own[(size_t)j * c->n_slots + sl] != UINT16_MAX)
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                               "%s: [shard.%s] joining: slot %u is already in its slots", name,
                               c->shards[j].name, sl);
    }
    return 0;
}

/* The slot map and its digest, once every key has been read. */
static int build_slot_map(const char *name, oks_cluster *c, oks_err *e)
{
    if (c->replicas > c->n_shards)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "%s: [cluster] replicas = %u, but there %s only %zu shard%s", name,
                           c->replicas, c->n_shards == 1 ? "is" : "are", c->n_shards,
                           c->n_shards == 1 ? "" : "s");
    if (c->write_quorum > c->replicas)
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                           "%s: [cluster] write_quorum = %u is more than replicas (%u)", name,
                           c->write_quorum, c->replicas);
    c->slot_owner = oks_xmalloc(c->n_slots * sizeof *c->slot_owner);
    uint16_t *own = oks_xmalloc(c->n_shards * c->n_slots * sizeof *own);
    memset(own, 0xFF, c->n_shards * c->n_slots * sizeof *own);
    for (size_t i = 0; i < c->n_shards; i++) {
        oks_shard_conf *s = &c->shards[i];
        int rr = oks_slots_parse(s->slot_spec, c->n_slots, own + i * c->n_slots, (uint16_t)i, e);
        if (rr) {
            free(own);
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
            return oks_err_set(e, rr, OKS_NO_OFFSET, "%s: [shard.%s] slots: %s", name, s->name,
                               msg);
        }
    }
    int r = fill_replicas(name, c, own, e);
    if (!r)
        r = fill_joining(name, c, own, e);
    free(own);
    if (r)
        return r;
    gcry_md_hd_t md;
    gcry_md_open(&md, GCRY_MD_SHA256, 0);
    char hdr[48];
    snprintf(hdr, sizeof hdr, "slots=%u\n", c->n_slots);
    gcry_md_write(md, hdr, strlen(hdr));
    if (c->replicas > 1) { /* a single-replica map keeps the digest it always had */
        snprintf(hdr, sizeof hdr, "replicas=%u\n", c->replicas);
        gcry_md_write(md, hdr, strlen(hdr));
    }
    if (c->width != c->replicas) { /* a range with more holders than R (a map in etcd) */
        snprintf(hdr, sizeof hdr, "width=%u\n", c->width);
        gcry_md_write(md, hdr, strlen(hdr));
    }
    /* digest covers slot -> shard names, so renaming or moving slots changes it; a place after
     * a slot's last holder is an empty name */
    for (size_t k = 0; k < (size_t)c->n_slots * c->width; k++) {
        uint16_t i = c->slot_replicas[k];
        const char *nm = i == UINT16_MAX ? "" : c->shards[i].name;
        gcry_md_write(md, nm, strlen(nm) + 1);
    }
    if (c->epoch) { /* a map kept in etcd: its epoch and joining shards too */
        snprintf(hdr, sizeof hdr, "epoch=%u\n", c->epoch);
        gcry_md_write(md, hdr, strlen(hdr));
        for (unsigned sl = 0; sl < c->n_slots; sl++)
            if (c->slot_joining[sl] != UINT16_MAX) {
                const char *nm = c->shards[c->slot_joining[sl]].name;
                snprintf(hdr, sizeof hdr, "j%u=", sl);
                gcry_md_write(md, hdr, strlen(hdr));
                gcry_md_write(md, nm, strlen(nm) + 1);
            }
    }
    memcpy(c->digest, gcry_md_read(md, GCRY_MD_SHA256), 32);
    gcry_md_close(md);
    return 0;
}

bool oks_cluster_holds(const oks_cluster *c, unsigned slot, size_t idx)
{
    const uint16_t *rs = oks_cluster_replicas_of(c, slot);
    for (unsigned k = 0; k < c->slot_nrep[slot]; k++)
        if (rs[k] == idx)
            return true;
    return false;
}

unsigned oks_cluster_write_quorum(const oks_cluster *c)
{
    if (c->write_quorum)
        return c->write_quorum;
    return c->replicas <= 2 ? 1 : c->replicas / 2 + 1;
}

bool oks_cluster_share_slots(const oks_cluster *c, size_t a, size_t b)
{
    for (unsigned s = 0; s < c->n_slots; s++)
        if (oks_cluster_holds(c, s, a) && oks_cluster_holds(c, s, b))
            return true;
    return false;
}

int oks_cluster_load_text(const char *name, const char *text, size_t len, oks_cluster *c,
                          oks_err *e)
{
    int r = oks_conf_parse(name, text, len, c, e);
    if (!r && !(c->path = oks_xstrdup(name)))
        r = oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "config");
    if (!r)
        r = build_slot_map(name, c, e);
    if (r)
        oks_cluster_release(c);
    return r;
}

#define MAX_CONFIG_BYTES (1u << 20)

int oks_cluster_load(const char *path, oks_cluster *c, oks_err *e)
{
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "rb");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot read config %s: %s", path,
                           strerror(errno));
    char *text = oks_xmalloc(MAX_CONFIG_BYTES + 1);
    size_t n = text ? fread(text, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    int bad = text && ferror(f);
    fclose(f);
    if (!text)
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "config");
    int r = bad ? oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot read config %s", path)
          : n > MAX_CONFIG_BYTES
              ? oks_err_set(e, OKS_E_LIMIT, OKS_NO_OFFSET, "%s: larger than %u bytes", path,
                            MAX_CONFIG_BYTES)
              : oks_cluster_load_text(path, text, n, c, e);
    free(text);
    return r;
}

void oks_cluster_release(oks_cluster *c)
{
    for (size_t i = 0; i < c->n_shards; i++) {
        free(c->shards[i].slot_spec);
        free(c->shards[i].joining_spec);
    }
    free(c->slot_owner);
    free(c->slot_joining);
    free(c->slot_replicas);
    free(c->slot_nrep);
    free(c->path);
    memset(c, 0, sizeof *c);
}

int oks_cluster_shard_index(const oks_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->n_shards; i++)
        if (strcmp(c->shards[i].name, name) == 0)
            return (int)i;
    return -1;
}

int oks_keyid_of_fpr(const uint8_t *fpr, size_t len, uint8_t keyid[8])
{
    if (len == 20)
        memcpy(keyid, fpr + 12, 8);
    else if (len == 32)
        memcpy(keyid, fpr, 8);
    else
        return -1;
    return 0;
}

/* Whether every replica of slot s is in down[]. */
static bool slot_down(const oks_cluster *c, const bool *down, unsigned s)
{
    const uint16_t *r = oks_cluster_replicas_of(c, s);
    for (unsigned i = 0; i < c->slot_nrep[s]; i++)
        if (!down[r[i]])
            return false;
    return true;
}

unsigned oks_cluster_uncovered(const oks_cluster *c, const bool *down, oks_buf *out)
{
    unsigned n = 0;
    for (unsigned s = 0; s < c->n_slots;) {
        if (!slot_down(c, down, s)) {
            s++;
            continue;
        }
        unsigned e = s;
        while (e + 1 < c->n_slots && slot_down(c, down, e + 1))
            e++;
        if (s == e)
            oks_buf_printf(out, "%s%u", out->len ? "," : "", s);
        else
            oks_buf_printf(out, "%s%u-%u", out->len ? "," : "", s, e);
        n += e - s + 1;
        s = e + 1;
    }
    return n;
}
