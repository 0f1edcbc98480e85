/* SIGHUP in the HTTP gateway (see gw.h, gw_live): loop thread 0 re-reads the config file between
 * two turns of its loop (a small file: a parse is all the loop waits for), builds the new
 * templates, rate limits and metrics_allow aside and swaps them in; a config or template that
 * does not load is logged (file and line, or template and byte) and the old settings stay.
 *
 * Reclamation is RCU-like: each loop thread reads the settings only through its own pointer,
 * taken between turns of its loop, and publishes the generation it took (release). A retired
 * generation is freed by thread 0 once every thread has published a newer one (acquire): no
 * handler can still be running with it. */
#include "gw-http/gw.h"

#include "lib/log.h"

#include <stdlib.h>

gw_live *gw_live_new(const oks_conf_http *h)
{
    gw_live *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->gen = 1;
    l->rate[GW_RL_LOOKUP] = h->rate_lookup;
    l->rate[GW_RL_UPLOAD] = h->rate_upload;
    l->rate[GW_RL_VERIFY] = h->rate_verify;
    l->burst[GW_RL_LOOKUP] = h->burst_lookup;
    l->burst[GW_RL_UPLOAD] = h->burst_upload;
    l->burst[GW_RL_VERIFY] = h->burst_verify;
    snprintf(l->metrics_allow, sizeof l->metrics_allow, "%s", h->metrics_allow);
    l->rl = gw_rl_new(l->rate, l->burst);
    if (!l->rl || gw_pages_load(l->pages, h->templates[0] ? h->templates : NULL)) {
        gw_live_free(l);
        return NULL;
    }
    return l;
}

void gw_live_free(gw_live *l)
{
    if (!l)
        return;
    for (int i = 0; i < GW_PAGES; i++)
        free(l->pages[i]);
    gw_rl_free(l->rl);
    free(l);
}

static void reload(gw *g)
{
    oks_cluster c;
    oks_err e;
    char msg[400];
    if (oks_cluster_load(g->conf_path, &c, &e)) {
        oks_error("SIGHUP: %s not reloaded, the running settings stay: %s", g->conf_path,
                  oks_err_format(&e, msg, sizeof msg));
        return;
    }
    gw_live *n = gw_live_new(&c.http), *old = atomic_load(&g->live);
    if (!n) {
        oks_error("SIGHUP: %s not reloaded, the running settings stay (templates: see above)",
                  g->conf_path);
    } else {
        n->gen = old->gen + 1;
        old->next = g->retired;
        g->retired = old;
        atomic_store_explicit(&g->live, n, memory_order_release);
        oks_info("SIGHUP: templates, rate limits and metrics_allow reloaded from %s "
                 "(lookup %g/s burst %g, upload %g/s burst %g)", g->conf_path,
                 n->rate[GW_RL_LOOKUP], n->burst[GW_RL_LOOKUP], n->rate[GW_RL_UPLOAD],
                 n->burst[GW_RL_UPLOAD]);
    }
    oks_cluster_release(&c);
}

/* Frees the retired settings every loop thread has moved past. */
static void collect(gw *g)
{
    unsigned long oldest = (unsigned long)-1;
    for (unsigned i = 0; i < g->conf.threads; i++) {
        unsigned long v = atomic_load_explicit(&g->threads[i].live_gen, memory_order_acquire);
        if (v < oldest)
            oldest = v;
    }
    gw_live **p = &g->retired;
    while (*p) {
        gw_live *l = *p;
        if (l->gen < oldest) {
            *p = l->next;
            gw_live_free(l);
        } else {
            p = &l->next;
        }
    }
}

void gw_live_turn(gw_thread *t)
{
    gw *g = t->g;
    if (t == &g->threads[0]) {
        if (atomic_exchange(&g->reload, 0))
            reload(g);
        if (g->retired)
            collect(g);
    }
    t->live = atomic_load_explicit(&g->live, memory_order_acquire);
    atomic_store_explicit(&t->live_gen, t->live->gen, memory_order_release);
}
