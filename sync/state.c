/*
 * sync/state: partner figures and the state file (see state.h).
 */
#include "sync/state.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static oks_sync_peer_stats *find(oks_sync_state *s, const char *name)
{
    for (size_t i = 0; i < s->n_peers; i++)
        if (strcmp(s->peers[i].name, name) == 0)
            return &s->peers[i];
    return NULL;
}

static void peer_init(oks_sync_peer_stats *p, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->last_result = -1;
}

void oks_sync_state_set_members(oks_sync_state *s, const oks_sync_members *m)
{
    size_t n_old = s->n_peers;
    oks_sync_peer_stats *old = oks_xmalloc((n_old ? n_old : 1) * sizeof *old);
    if (!old)
        return; /* keep the old list */
    memcpy(old, s->peers, n_old * sizeof *old);
    s->n_peers = 0;
    for (size_t i = 0; i < m->n && s->n_peers < OKS_SYNC_MAX_MEMBERS; i++) {
        oks_sync_peer_stats *p = &s->peers[s->n_peers];
        if (find(s, m->v[i].label))
            continue; /* listed twice */
        size_t k;
        for (k = 0; k < n_old && strcmp(old[k].name, m->v[i].label) != 0; k++)
            ;
        if (k < n_old)
            *p = old[k];
        else
            peer_init(p, m->v[i].label);
        s->n_peers++;
    }
    free(old);
}

void oks_sync_state_round(oks_sync_state *s, const oks_sync_round *r)
{
    oks_sync_peer_stats *p = find(s, r->partner);
    if (!p && s->n_peers < OKS_SYNC_MAX_MEMBERS) {
        p = &s->peers[s->n_peers++];
        peer_init(p, r->partner);
    }
    if (p) {
        p->rounds++;
        p->last_result = r->ok ? 1 : 0;
        if (r->ok)
            p->last_sync = r->time;
        else
            p->failures++;
        p->total_added += r->added;
        p->total_sent += r->sent;
        p->last = *r;
    }
    if (r->ok && r->fetch == 0 && r->sent == 0 && r->fetched == 0)
        return; /* the recent list keeps rounds that moved keys or failed */
    s->recent[s->head] = *r;
    s->head = (s->head + 1) % OKS_SYNC_STATE_ROUNDS;
    if (s->n_recent < OKS_SYNC_STATE_ROUNDS)
        s->n_recent++;
}

static void utc(char out[32], int64_t t)
{
    if (t <= 0) {
        strcpy(out, "never");
        return;
    }
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int oks_sync_state_write(const oks_sync_state *s, const char *path, size_t tree, size_t ignored,
                         oks_err *e)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "state path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: %s", tmp, strerror(errno));
    char t[32];
    fprintf(f,
            "oks-sync-state 1\nsync updated=%lld pid=%ld tree=%zu ignored=%zu members=%zu "
            "rebuilds=%llu\n",
            (long long)time(NULL), (long)getpid(), tree, ignored, s->n_peers,
            (unsigned long long)s->rebuilds);
    for (size_t i = 0; i < s->n_peers; i++) {
        const oks_sync_peer_stats *p = &s->peers[i];
        utc(t, p->last_sync);
        fprintf(f,
                "partner name=%s last_sync=%lld last_sync_utc=%s last_result=%s rounds=%llu "
                "failures=%llu fetch=%zu fetched=%zu added=%zu sent=%zu ignored=%zu "
                "total_added=%llu total_sent=%llu\n",
                p->name, (long long)p->last_sync, t,
                p->last_result < 0 ? "none" : p->last_result ? "ok" : "failed",
                (unsigned long long)p->rounds, (unsigned long long)p->failures, p->last.fetch,
                p->last.fetched, p->last.added, p->last.sent, p->last.ignored,
                (unsigned long long)p->total_added, (unsigned long long)p->total_sent);
    }
    for (size_t k = 0; k < s->n_recent; k++) {
        const oks_sync_round *r =
            &s->recent[(s->head + OKS_SYNC_STATE_ROUNDS - 1 - k) % OKS_SYNC_STATE_ROUNDS];
        utc(t, r->time);
        fprintf(f,
                "round time=%lld utc=%s partner=%s result=%s fetch=%zu fetched=%zu added=%zu "
                "sent=%zu ignored=%zu ms=%lld\n",
                (long long)r->time, t, r->partner, r->ok ? "ok" : "failed", r->fetch, r->fetched,
                r->added, r->sent, r->ignored, (long long)r->ms);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "%s: write failed", tmp);
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        return oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "rename to %s: %s", path, strerror(err));
    }
    return 0;
}
