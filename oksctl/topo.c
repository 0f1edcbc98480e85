/* oksctl's side of the topology in etcd (see topo.h). */
#include "oksctl/topo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int oksctl_topo_open(oksctl_topo *t, const char *path)
{
    memset(t, 0, sizeof *t);
    t->wait_s = 120;
    t->path = path ? path : getenv("OKS_CONFIG");
    if (!t->path) {
        fprintf(stderr, "oksctl: no cluster config: use -c FILE or set OKS_CONFIG\n");
        return 1;
    }
    oks_err e;
    char msg[400];
    if (oks_cluster_load(t->path, &t->local, &e) ||
        oks_mapdoc_read_file(t->path, &t->text, &e)) {
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
        oks_buf_release(&t->text);
        return 1;
    }
    int r = oks_mapstore_open(&t->local, &t->store, &e);
    if (r) {
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
        oksctl_topo_close(t);
        return r == OKS_E_ARG ? 2 : 1;
    }
    return 0;
}

void oksctl_topo_close(oksctl_topo *t)
{
    oks_mapstore_close(t->store);
    if (t->have_map)
        oks_cluster_release(&t->map);
    oks_cluster_release(&t->local);
    oks_buf_release(&t->text);
    memset(t, 0, sizeof *t);
}

/* Whether an etcd call may succeed when tried again (a member down: the client moves on to
 * the next endpoint). */
static int put(oksctl_topo *t, const oks_mapedit *m, const char *move);

static bool transient(int r)
{
    return r == OKS_E_UNAVAILABLE || r == OKS_E_TIMEOUT;
}

#define RETRY_MS 500

int oksctl_topo_read(oksctl_topo *t)
{
    oks_err e;
    char msg[400];
    oks_buf doc = OKS_BUF_INIT;
    if (t->have_map)
        oks_cluster_release(&t->map);
    t->have_map = false;
    int r;
    for (unsigned ms = 0;; ms += RETRY_MS) {
        doc.len = 0;
        r = oks_mapstore_get_map(t->store, &doc, &t->rev, NULL, &e);
        if (!transient(r) || ms >= t->wait_s * 1000)
            break;
        fprintf(stderr, "oksctl: %s; trying again\n", e.msg);
        usleep(RETRY_MS * 1000);
    }
    if (r == 0)
        r = oks_mapdoc_load("map in etcd", (const char *)t->text.data, t->text.len,
                            (const char *)doc.data, doc.len, &t->map, &e);
    oks_buf_release(&doc);
    if (r && r != OKS_E_NOTFOUND)
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
    t->have_map = r == 0;
    return r;
}

int oksctl_topo_announce(const char *config_path, const char *action, const char *detail,
                         const char *outcome)
{
    oksctl_conn c;
    if (oksctl_connect(&c, config_path))
        return 1;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Topology tp = OKS__TOPOLOGY__INIT;
    q.op_case = OKS__REQUEST__OP_TOPOLOGY;
    q.topology = &tp;
    tp.action = (char *)action;
    tp.detail = (char *)detail;
    tp.outcome = (char *)outcome;
    Oks__Response *r = oksctl_call(&c, &q);
    int rc = 1;
    if (r && r->status == OKS__STATUS__STATUS_OK)
        rc = 0;
    else if (r)
        fprintf(stderr, "oksctl: the router refused to record %s (%s): %s\n", action, detail,
                r->error && *r->error ? r->error : oks_proto_status_name(r->status));
    if (r)
        oks__response__free_unpacked(r, NULL);
    oksctl_disconnect(&c);
    return rc;
}

int oksctl_topo_put(oksctl_topo *t, const oks_mapedit *m, const char *move, const char *action,
                    const char *detail)
{
    if (action && oksctl_topo_announce(t->path, action, detail, "begun")) {
        fprintf(stderr, "oksctl: the map is left as it is\n");
        return 1;
    }
    int r = put(t, m, move);
    if (action && oksctl_topo_announce(t->path, action, detail, r ? "failed" : "done"))
        fprintf(stderr, "oksctl: warning: the outcome of %s (%s) is not in the audit log\n",
                action, detail);
    return r;
}

static int put(oksctl_topo *t, const oks_mapedit *m, const char *move)
{
    oks_buf doc = OKS_BUF_INIT;
    oks_err e;
    char msg[400];
    int r = oks_mapedit_render(m, &doc);
    if (r == 0) { /* never put a map the daemons would refuse */
        oks_cluster check;
        r = oks_mapdoc_load("new map", (const char *)t->text.data, t->text.len,
                            (const char *)doc.data, doc.len, &check, &e);
        if (r == 0)
            oks_cluster_release(&check);
        else
            fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
    }
    uint64_t expect = t->have_map ? t->rev : 0;
    for (unsigned ms = 0; r == 0 || transient(r); ms += RETRY_MS) {
        r = oks_mapstore_change(t->store, expect, &doc, move, NULL, &e);
        if (!transient(r) || ms >= t->wait_s * 1000)
            break;
        /* the outcome is unknown (a member died under the call): the map read back tells */
        fprintf(stderr, "oksctl: %s; reading the map back\n", e.msg);
        usleep(RETRY_MS * 1000);
        if (oksctl_topo_read(t) != 0)
            continue;
        if (t->rev == expect)
            continue; /* it did not go through: again */
        oks_mapedit now;
        oks_buf back = OKS_BUF_INIT;
        oks_mapedit_from(&now, &t->map);
        bool ours = oks_mapedit_render(&now, &back) == 0 && back.len == doc.len &&
                    memcmp(back.data, doc.data, doc.len) == 0;
        oks_mapedit_release(&now);
        oks_buf_release(&back);
        r = ours ? 0 : OKS_E_STATE; /* ours went through, or another change won */
        if (!ours)
            oks_err_set(&e, r, OKS_NO_OFFSET, "the map is at epoch %u now", t->map.epoch);
        break;
    }
    if (r == OKS_E_STATE)
        fprintf(stderr, "oksctl: refused: the map in etcd changed since it was read (another "
                        "change was made from the same epoch): %s\n", e.msg);
    else if (r)
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
    oks_buf_release(&doc);
    if (r == 0 && oksctl_topo_read(t) != 0)
        r = 1;
    return r ? 1 : 0;
}

typedef struct behind {
    unsigned epoch, n, live;
    char who[200];
} behind;

static void count_member(const char *who, unsigned epoch, void *arg)
{
    behind *b = arg;
    b->live++;
    if (epoch >= b->epoch)
        return;
    if (!b->n++)
        snprintf(b->who, sizeof b->who, "%s (epoch %u)", who, epoch);
}

int oksctl_topo_wait(oksctl_topo *t, unsigned epoch)
{
    oks_err e;
    char msg[400];
    for (unsigned ms = 0;; ms += 100) {
        behind b = {.epoch = epoch};
        int r = oks_mapstore_members(t->store, count_member, &b, &e);
        if (r && (!transient(r) || ms >= t->wait_s * 1000)) {
            fprintf(stderr, "oksctl: members: %s\n", oks_err_format(&e, msg, sizeof msg));
            return 1;
        }
        if (r) {
            usleep(100 * 1000);
            continue;
        }
        if (b.n == 0)
            return 0;
        if (ms >= t->wait_s * 1000) {
            fprintf(stderr, "oksctl: %u of %u live members have not applied epoch %u after %u s, "
                            "e.g. %s\n", b.n, b.live, epoch, t->wait_s, b.who);
            return 1;
        }
        usleep(100 * 1000);
    }
}
