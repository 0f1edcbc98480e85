/* sync/round: the table of rounds and their two phases (see round.h). */
#include "sync/round.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/log.h"

#define ID_BASE (UINT64_C(1) << 62) /* away from oks_client_call's ids */

int oks_sync_rounds_running(const oks_sync_rounds *r)
{
    int n = 0;
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++)
        n += r->v[i].used;
    return n;
}

int oks_sync_rounds_busy(const oks_sync_rounds *r, const char *label)
{
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++)
        if (r->v[i].used && strcmp(r->v[i].label, label) == 0)
            return 1;
    return 0;
}

int oks_sync_rounds_start(oks_sync_rounds *r, int fd, enum oks_recon_role role, const char *ip,
                          const char *label)
{
    int k = -1;
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS && k < 0; i++)
        if (!r->v[i].used)
            k = i;
    if (k < 0 || oks_sync_rounds_running(r) >= r->max || oks_sync_rounds_busy(r, label)) {
        close(fd);
        return OKS_E_LIMIT;
    }
    oks_sync_slot *s = &r->v[k];
    memset(s, 0, sizeof *s);
    s->used = 1;
    snprintf(s->label, sizeof s->label, "%s", label);
    snprintf(s->ip, sizeof s->ip, "%s", ip);
    s->fd = fd;
    s->role = role;
    s->t0 = (int64_t)oks_now_ms();
    oks_recon_opts o = r->o.recon;
    if (!o.max_work)
        o.max_work = 4 * (uint64_t)oks_ptree_count(r->fl->t) + 1000000;
    if (o.max_fetch > r->o.fetch_max)
        o.max_fetch = r->o.fetch_max;
    s->rs = oks_recon_sess_new(fd, role, r->fl->t, &o);
    r->rounds_started++;
    oks_info("round with %s started (%s, %d running)", s->label,
             role == OKS_RECON_REQUESTER ? "they connected" : "we connected",
             oks_sync_rounds_running(r));
    return 0;
}

static void finish(oks_sync_rounds *r, oks_sync_slot *s)
{
    if (r->done)
        r->done(r->arg, s);
    oks_recon_sess_free(s->rs);
    oks_sync_fetch_free(s->fs);
    oks_recon_result_release(&s->r);
    if (s->fd >= 0)
        close(s->fd);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* the session ended well: fetch what is not in the ignore set, at most fetch_max hashes */
static void start_fetch(oks_sync_rounds *r, oks_sync_slot *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->r.nfetch; i++) {
        if (oks_sync_ignored(r->fl, s->r.fetch[i]))
            s->ignored++;
        else
            memmove(s->r.fetch[n++], s->r.fetch[i], 16);
    }
    if (n > r->o.fetch_max) {
        oks_info("round with %s: %zu hashes to fetch, %zu this round (fetch_max)", s->label, n,
                 r->o.fetch_max);
        n = r->o.fetch_max;
    }
    s->asked = n;
    if (n == 0)
        return;
    oks_info("round with %s: fetching %zu hashes from %s:%u%s", s->label, n, s->ip,
             s->r.peer_http_port, s->r.truncated ? " (more were announced: fetch_max)" : "");
    oks_sync_fetch_opts fo = r->o.fetch;
    fo.id_base = ID_BASE + (r->rounds_started << 32) + ((uint64_t)(s - r->v) << 24);
    s->fs = oks_sync_fetch_new(r->adds, s->ip, (int)s->r.peer_http_port,
                               (const uint8_t(*)[16])s->r.fetch, n, &fo);
}

/* zmq_poll speaks its own event bits (ZMQ_POLLOUT is not POLLOUT) */
static short to_zmq(short ev)
{
    return (short)((ev & POLLIN ? ZMQ_POLLIN : 0) | (ev & POLLOUT ? ZMQ_POLLOUT : 0));
}

static short from_zmq(short ev)
{
    return (short)((ev & ZMQ_POLLIN ? POLLIN : 0) | (ev & ZMQ_POLLOUT ? POLLOUT : 0) |
                   (ev & ZMQ_POLLERR ? POLLERR : 0));
}

static int has_events(const zmq_pollitem_t *it, const oks_sync_slot *s)
{
    for (int k = 0; k < s->n; k++)
        if (it[s->first + k].revents)
            return 1;
    return 0;
}

void oks_sync_rounds_items(oks_sync_rounds *r, zmq_pollitem_t *it, int *n, int max,
                           int64_t *deadline)
{
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++) {
        oks_sync_slot *s = &r->v[i];
        s->first = *n;
        s->n = 0;
        if (!s->used)
            continue;
        int64_t d;
        if (s->rs) {
            if (*n < max)
                it[(*n)++] =
                    (zmq_pollitem_t){NULL, s->fd, to_zmq(oks_recon_sess_events(s->rs)), 0};
            d = oks_recon_sess_deadline(s->rs);
        } else if (s->fs) {
            struct pollfd p[OKS_SYNC_FETCH_MAX_PAR];
            int k = oks_sync_fetch_pollfds(s->fs, p);
            for (int j = 0; j < k && *n < max; j++)
                it[(*n)++] = (zmq_pollitem_t){NULL, p[j].fd, to_zmq(p[j].events), 0};
            d = oks_sync_fetch_deadline(s->fs);
        } else
            d = 0;
        s->n = *n - s->first;
        if (d < *deadline)
            *deadline = d;
    }
}

static void step_one(oks_sync_rounds *r, oks_sync_slot *s, const zmq_pollitem_t *it)
{
    int64_t now = (int64_t)oks_now_ms();
    if (s->rs) {
        if (!has_events(it, s) && now < oks_recon_sess_deadline(s->rs))
            return;
        int rc = oks_recon_sess_step(s->rs, &s->e);
        if (rc == 0)
            return;
        oks_recon_sess_take(s->rs, &s->r);
        oks_recon_sess_free(s->rs);
        s->rs = NULL;
        close(s->fd);
        s->fd = -1;
        s->t1 = now;
        if (rc < 0) {
            s->rc = rc;
            s->peer_fault = 1;
            s->unreachable = s->role == OKS_RECON_RESPONDER && s->r.messages == 0;
            finish(r, s);
            return;
        }
        start_fetch(r, s);
        if (!s->fs) {
            finish(r, s);
            return;
        }
        s->n = 0; /* the items were the session's */
    }
    struct pollfd p[OKS_SYNC_FETCH_MAX_PAR];
    int k = 0;
    for (int j = 0; j < s->n && j < OKS_SYNC_FETCH_MAX_PAR; j++, k++)
        p[j] = (struct pollfd){it[s->first + j].fd, from_zmq(it[s->first + j].events),
                               from_zmq(it[s->first + j].revents)};
    s->n = 0; /* stale once stepped */
    if (oks_sync_fetch_step(s->fs, p, k) == 1) {
        oks_sync_fetch_stats st;
        s->rc = oks_sync_fetch_result(s->fs, &st, &s->e);
        s->peer_fault = oks_sync_fetch_peer_failed(s->fs);
        finish(r, s);
    }
}

void oks_sync_rounds_step(oks_sync_rounds *r, const zmq_pollitem_t *it)
{
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++)
        if (r->v[i].used)
            step_one(r, &r->v[i], it);
}

void oks_sync_rounds_replies(oks_sync_rounds *r)
{
    for (;;) {
        uint64_t id;
        Oks__Response *resp = NULL;
        oks_err re;
        if (oks_client_recv(r->adds, &id, &resp, 0, &re) != 0)
            return;
        for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++)
            if (r->v[i].used && r->v[i].fs && oks_sync_fetch_reply(r->v[i].fs, id, resp))
                break;
        oks__response__free_unpacked(resp, NULL); /* or a late reply nobody waits for */
    }
}

void oks_sync_rounds_abort(oks_sync_rounds *r, const char *why)
{
    for (int i = 0; i < OKS_SYNC_MAX_ROUNDS; i++) {
        oks_sync_slot *s = &r->v[i];
        if (!s->used)
            continue;
        if (s->rs) {
            oks_recon_sess_take(s->rs, &s->r);
            s->t1 = (int64_t)oks_now_ms();
        }
        s->rc = oks_err_set(&s->e, OKS_E_UNAVAILABLE, OKS_NO_OFFSET, "%s", why);
        s->peer_fault = 0;
        finish(r, s);
    }
}
