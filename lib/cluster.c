/* Cluster configuration loading and the slot map (see cluster.h). */
#include "lib/cluster.h"

#include <gcrypt.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct load_ctx {
    oks_cluster *c;
    oks_err *e;
    int failed;
} load_ctx;

static int parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
    char *end;
    if (!*v)
        return -1;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || x > max)
        return -1;
    *out = x;
    return 0;
}

struct num_field {
    const char *section, *name;
    size_t offset;
    int is_size; /* size_t vs unsigned */
};

#define NF(sec, key, field, sz) {sec, key, offsetof(oks_cluster, field), sz}
static const struct num_field num_fields[] = {
    NF("router", "deadline_ms", router_deadline_ms, 0),
    NF("router", "max_results", router_max_results, 0),
    NF("cluster", "max_message_bytes", max_message_bytes, 1),
    NF("shard", "workers", shard_workers, 0),
    NF("shard", "batch", shard_batch, 0),
    NF("shard", "cache_mb", shard_cache_mb, 1),
    NF("shard", "search_max_matches", search_max_matches, 0),
    NF("limits", "max_key_bytes", max_key_bytes, 1),
    NF("limits", "max_packet_bytes", max_packet_bytes, 1),
    NF("limits", "max_attribute_bytes", max_attribute_bytes, 1),
    NF("limits", "max_sig_bytes", max_sig_bytes, 1),
    NF("limits", "max_packets", max_packets, 1),
    NF("limits", "max_uids", max_uids, 1),
    NF("limits", "max_subkeys", max_subkeys, 1),
    NF("limits", "max_sigs_per_uid", max_sigs_per_uid, 1),
    NF("limits", "max_third_party_per_uid", max_third_party_per_uid, 1),
};

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
    load_ctx *x = user;
    oks_cluster *c = x->c;
    if (x->failed)
        return 0;
    if (strncmp(section, "shard.", 6) == 0) {
        const char *sname = section + 6;
        int i = oks_cluster_shard_index(c, sname);
        if (i < 0) {
            if (c->n_shards == OKS_MAX_SHARDS || !*sname || strlen(sname) >= 64) {
                x->failed = oks_err_set(x->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                                        "bad shard section [%s] (at most %d shards)", section,
                                        OKS_MAX_SHARDS);
                return 0;
            }
            i = (int)c->n_shards++;
            snprintf(c->shards[i].name, sizeof c->shards[i].name, "%s", sname);
        }
        oks_shard_conf *s = &c->shards[i];
        if (strcmp(name, "endpoint") == 0)
            snprintf(s->endpoint, sizeof s->endpoint, "%s", value);
        else if (strcmp(name, "data") == 0)
            snprintf(s->data_dir, sizeof s->data_dir, "%s", value);
        else if (strcmp(name, "slots") == 0) {
            free(s->slot_spec);
            s->slot_spec = strdup(value);
        }
        return 1;
    }
    if (strcmp(section, "cluster") == 0 && strcmp(name, "slots") == 0) {
        unsigned long long v;
        if (parse_uint(value, 65536, &v) || v == 0) {
            x->failed = oks_err_set(x->e, OKS_E_FORMAT, OKS_NO_OFFSET,
                                    "[cluster] slots must be 1..65536, not '%s'", value);
            return 0;
        }
        c->n_slots = (unsigned)v;
        return 1;
    }
    if (strcmp(section, "cluster") == 0 && strcmp(name, "routers") == 0) {
        char *dup = strdup(value), *save = NULL;
        for (char *t = strtok_r(dup, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
            if (c->n_routers == OKS_MAX_ROUTERS)
                break;
            snprintf(c->routers[c->n_routers++], sizeof c->routers[0], "%s", t);
        }
        free(dup);
        return 1;
    }
    for (size_t i = 0; i < sizeof num_fields / sizeof num_fields[0]; i++) {
        const struct num_field *f = &num_fields[i];
        if (strcmp(section, f->section) || strcmp(name, f->name))
            continue;
        unsigned long long v;
        if (parse_uint(value, f->is_size ? (unsigned long long)SIZE_MAX : 0xFFFFFFFFull, &v)) {
            x->failed = oks_err_set(x->e, OKS_E_FORMAT, OKS_NO_OFFSET,
                                    "[%s] %s: '%s' is not a number", section, name, value);
            return 0;
        }
        if (f->is_size)
            *(size_t *)((char *)c + f->offset) = (size_t)v;
        else
            *(unsigned *)((char *)c + f->offset) = (unsigned)v;
        return 1;
    }
    return 1; /* other keys belong to other daemons' sections */
}

static void set_defaults(oks_cluster *c)
{
    memset(c, 0, sizeof *c);
    c->n_slots = OKS_DEFAULT_SLOTS;
    c->router_deadline_ms = 5000;
    c->router_max_results = 500;
    c->max_message_bytes = 64u << 20;
    c->shard_batch = 256;
    c->shard_cache_mb = 64;
    c->search_max_matches = 500;
}

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
                return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "slot %lu assigned twice", s);
            owner[s] = idx;
        }
        if (*p && *p != ',' && *p != ' ')
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "bad slot list '%s'", spec);
    }
    return 0;
}

int oks_cluster_load(const char *path, oks_cluster *c, oks_err *e)
{
    set_defaults(c);
    load_ctx x = {c, e, 0};
    int r = ini_parse(path, on_entry, &x);
    if (x.failed) {
        oks_cluster_release(c);
        return x.failed;
    }
    if (r != 0) {
        oks_cluster_release(c);
        if (r < 0)
            return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot read config %s", path);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "%s: syntax error on line %d", path, r);
    }
    c->path = strdup(path);
    if (c->n_shards == 0) {
        oks_cluster_release(c);
        return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "%s: no [shard.NAME] section", path);
    }
    c->slot_owner = malloc(c->n_slots * sizeof *c->slot_owner);
    if (!c->slot_owner) {
        oks_cluster_release(c);
        return oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "slot map");
    }
    memset(c->slot_owner, 0xFF, c->n_slots * sizeof *c->slot_owner);
    gcry_md_hd_t md;
    gcry_md_open(&md, GCRY_MD_SHA256, 0);
    char hdr[32];
    snprintf(hdr, sizeof hdr, "slots=%u\n", c->n_slots);
    gcry_md_write(md, hdr, strlen(hdr));
    for (size_t i = 0; i < c->n_shards; i++) {
        oks_shard_conf *s = &c->shards[i];
        if (!s->endpoint[0] || !s->slot_spec) {
            gcry_md_close(md);
            int code = oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET,
                                   "[shard.%s] needs endpoint and slots", s->name);
            oks_cluster_release(c);
            return code;
        }
        int rr = oks_slots_parse(s->slot_spec, c->n_slots, c->slot_owner, (uint16_t)i, e);
        if (rr) {
            gcry_md_close(md);
            char msg[sizeof e->msg];
            snprintf(msg, sizeof msg, "%s", e ? e->msg : "");
            oks_cluster_release(c);
            return oks_err_set(e, rr, OKS_NO_OFFSET, "[shard.%s] %s", s->name, msg);
        }
    }
    for (unsigned s = 0; s < c->n_slots; s++) {
        if (c->slot_owner[s] == UINT16_MAX) {
            gcry_md_close(md);
            oks_cluster_release(c);
            return oks_err_set(e, OKS_E_FORMAT, OKS_NO_OFFSET, "slot %u has no shard", s);
        }
        /* digest covers slot -> shard name, so renaming or moving slots changes it */
        const char *nm = c->shards[c->slot_owner[s]].name;
        gcry_md_write(md, nm, strlen(nm) + 1);
    }
    memcpy(c->digest, gcry_md_read(md, GCRY_MD_SHA256), 32);
    gcry_md_close(md);
    return 0;
}

void oks_cluster_release(oks_cluster *c)
{
    for (size_t i = 0; i < c->n_shards; i++)
        free(c->shards[i].slot_spec);
    free(c->slot_owner);
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

typedef struct get_ctx {
    const char *section, *key;
    char *value;
} get_ctx;

static int on_get(void *user, const char *section, const char *name, const char *value)
{
    get_ctx *g = user;
    if (strcmp(section, g->section) == 0 && strcmp(name, g->key) == 0) {
        free(g->value);
        g->value = strdup(value);
    }
    return 1;
}

char *oks_cluster_get(const oks_cluster *c, const char *section, const char *key)
{
    get_ctx g = {section, key, NULL};
    if (!c->path)
        return NULL;
    ini_parse(c->path, on_get, &g);
    return g.value;
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
