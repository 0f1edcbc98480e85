/* A daemon's map watcher (see mapwatch.h). */
#include "lib/mapwatch.h"
#include "lib/log.h"
#include "lib/mapdoc.h"
#include "lib/mapstore.h"
#include "lib/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBER_TTL_S 10
#define MEMBER_RENEW_MS 2000
#define RETRY_MS 1000

struct oks_mapwatch {
    oks_cluster local;   /* oks.conf as loaded: the etcd settings */
    oks_buf text;        /* oks.conf's text: the local settings of every map */
    char path[512], role[32], name[128];
    oks_mapwatch_apply_fn fn;
    void *arg;
    uint64_t rev;        /* last revision of the map seen */
    atomic_uint epoch;   /* the epoch in force */
    atomic_int stop;
    pthread_t watcher, member;
};

int oks_mapwatch_initial(oks_cluster *conf, const char *conf_path, uint64_t *rev, oks_err *e)
{
    *rev = 0;
    if (!conf->etcd.endpoints[0])
        return 0;
    oks_mapstore *s;
    int r = oks_mapstore_open(conf, &s, e);
    oks_buf doc = OKS_BUF_INIT, text = OKS_BUF_INIT;
    uint64_t mod = 0;
    if (r == 0)
        r = oks_mapstore_get_map(s, &doc, &mod, rev, e);
    oks_mapstore_close(s);
    if (r == OKS_E_NOTFOUND) { /* not put there yet (oksctl map init): oks.conf's, until then */
        oks_buf_release(&doc);
        return 0;
    }
    if (r == 0)
        r = oks_mapdoc_read_file(conf_path, &text, e);
    oks_cluster next;
    if (r == 0)
        r = oks_mapdoc_load(conf_path, (const char *)text.data, text.len,
                            (const char *)doc.data, doc.len, &next, e);
    if (r == 0) {
        oks_cluster_release(conf);
        *conf = next;
    }
    oks_buf_release(&doc);
    oks_buf_release(&text);
    return r;
}

static void on_map(const char *doc, size_t len, uint64_t mod_rev, void *arg)
{
    oks_mapwatch *w = arg;
    w->rev = mod_rev;
    oks_cluster *next = oks_xcalloc(1, sizeof *next);
    oks_err e;
    if (oks_mapdoc_load(w->path, (const char *)w->text.data, w->text.len, doc, len, next, &e)) {
        oks_error("map in etcd (revision %llu) not applied: %s", (unsigned long long)mod_rev,
                  e.msg);
        free(next);
        return;
    }
    if (next->epoch <= atomic_load(&w->epoch)) {
        oks_cluster_release(next);
        free(next);
        return;
    }
    atomic_store(&w->epoch, w->fn(next, w->arg));
}

static void nap(oks_mapwatch *w, unsigned ms)
{
    for (unsigned t = 0; t < ms && !atomic_load(&w->stop); t += 50)
        usleep(50 * 1000);
}

static void *watcher_main(void *arg)
{
    oks_mapwatch *w = arg;
    while (!atomic_load(&w->stop)) {
        oks_mapstore *s;
        oks_err e = {0};
        int r = oks_mapstore_open(&w->local, &s, &e);
        if (r == 0) {
            /* what changed while no watch ran (at start: nothing, the watch starts after) */
            oks_buf doc = OKS_BUF_INIT;
            uint64_t mod = 0, rev = 0;
            r = oks_mapstore_get_map(s, &doc, &mod, &rev, &e);
            if (r == 0 && mod > w->rev)
                on_map((const char *)doc.data, doc.len, mod, w);
            oks_buf_release(&doc);
            /* no map yet: from now on (its creation is a put the watch sees) */
            if (r == 0 || r == OKS_E_NOTFOUND)
                r = oks_mapstore_watch(s, r == 0 ? rev + 1 : 0, on_map, w, &w->stop, &e);
            oks_mapstore_close(s);
        }
        if (r && !atomic_load(&w->stop)) {
            oks_warn("map watch: %s; again in %u ms", e.msg, RETRY_MS);
            nap(w, RETRY_MS);
        }
    }
    return NULL;
}

static void *member_main(void *arg)
{
    oks_mapwatch *w = arg;
    oks_mapstore *s = NULL;
    unsigned put = 0, waited = 0;
    bool warned = false;
    while (!atomic_load(&w->stop)) {
        unsigned ep = atomic_load(&w->epoch);
        if (ep != put || waited >= MEMBER_RENEW_MS) {
            oks_err e = {0};
            int r = s ? 0 : oks_mapstore_open(&w->local, &s, &e);
            if (r == 0)
                r = oks_mapstore_member(s, w->role, w->name, ep, MEMBER_TTL_S, &e);
            if (r && !warned)
                oks_warn("map member %s/%s: %s", w->role, w->name, e.msg);
            warned = r != 0;
            if (r == 0)
                put = ep;
            waited = 0;
        }
        usleep(50 * 1000);
        waited += 50;
    }
    oks_mapstore_close(s); /* revokes the lease: the member key goes */
    return NULL;
}

int oks_mapwatch_start(const oks_cluster *conf, const char *conf_path, const char *role,
                       const char *name, uint64_t rev, oks_mapwatch_apply_fn fn, void *arg,
                       oks_mapwatch **out, oks_err *e)
{
    oks_mapwatch *w = oks_xcalloc(1, sizeof *w);
    int r = oks_cluster_load(conf_path, &w->local, e);
    if (r == 0)
        r = oks_mapdoc_read_file(conf_path, &w->text, e);
    if (r) {
        oks_buf_release(&w->text);
        free(w);
        return r;
    }
    snprintf(w->path, sizeof w->path, "%s", conf_path);
    snprintf(w->role, sizeof w->role, "%s", role);
    snprintf(w->name, sizeof w->name, "%s", name);
    w->fn = fn;
    w->arg = arg;
    w->rev = rev;
    atomic_store(&w->epoch, conf->epoch);
    pthread_create(&w->watcher, NULL, watcher_main, w);
    pthread_create(&w->member, NULL, member_main, w);
    *out = w;
    return 0;
}

void oks_mapwatch_stop(oks_mapwatch *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->watcher, NULL);
    pthread_join(w->member, NULL);
    oks_cluster_release(&w->local);
    oks_buf_release(&w->text);
    free(w);
}
