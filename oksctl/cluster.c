/* Cluster helpers for oksctl commands (see cluster.h). */
#include "oksctl/cluster.h"

#include "lib/pgp.h"
#include "lib/zsec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oksctl_connect(oksctl_conn *c, const char *path)
{
    return oksctl_connect_to(c, path, NULL);
}

int oksctl_connect_to(oksctl_conn *c, const char *path, const char *shard)
{
    memset(c, 0, sizeof *c);
    if (!path)
        path = getenv("OKS_CONFIG");
    if (!path) {
        fprintf(stderr, "oksctl: no cluster config: use -c FILE or set OKS_CONFIG\n");
        return 1;
    }
    oks_err e;
    char msg[400];
    if (oks_cluster_load(path, &c->conf, &e)) {
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    if (c->conf.n_routers == 0) {
        fprintf(stderr, "oksctl: %s names no router ([cluster] routers)\n", path);
        oks_cluster_release(&c->conf);
        return 1;
    }
    c->zctx = zmq_ctx_new();
    const char *ep = NULL;
    if (shard) { /* straight to a shard, bypassing the routers (admin key only) */
        int i = oks_cluster_shard_index(&c->conf, shard);
        ep = i >= 0 ? c->conf.shards[i].endpoint : NULL;
        if (!ep)
            oks_err_set(&e, OKS_E_ARG, OKS_NO_OFFSET, "no shard named %s in %s", shard, path);
    }
    if ((!shard || ep) && oks_zsec_start(&c->conf, OKS_ROLE_ADMIN, c->zctx, &e) == 0)
        c->client = ep ? oks_client_new(c->zctx, ep, c->conf.max_message_bytes, &e)
                       : oks_client_new_routers(c->zctx, &c->conf, &e);
    if (!c->client) {
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
        oks_zsec_stop();
        zmq_ctx_term(c->zctx);
        oks_cluster_release(&c->conf);
        return 1;
    }
    c->timeout_ms = (int)c->conf.router_deadline_ms + 2000;
    return 0;
}

void oksctl_disconnect(oksctl_conn *c)
{
    oks_client_free(c->client);
    oks_zsec_stop();
    if (c->zctx)
        zmq_ctx_term(c->zctx);
    oks_cluster_release(&c->conf);
}

Oks__Response *oksctl_call(oksctl_conn *c, Oks__Request *req)
{
    Oks__Response *r;
    oks_err e;
    char msg[400];
    if (oks_client_call(c->client, req, &r, c->timeout_ms, &e)) {
        fprintf(stderr, "oksctl: %s\n", oks_err_format(&e, msg, sizeof msg));
        return NULL;
    }
    return r;
}

char oksctl_parse_id(const char *s, uint8_t out[32], size_t *len)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    char hex[65];
    size_t n = 0;
    for (; *s && n < 64; s++) {
        if (*s == ' ')
            continue;
        if (!isxdigit((unsigned char)*s))
            return 0;
        hex[n++] = *s;
    }
    if (*s)
        return 0;
    hex[n] = '\0';
    if (n != 8 && n != 16 && n != 40 && n != 64)
        return 0;
    if (oks_unhex(out, hex, n / 2))
        return 0;
    *len = n / 2;
    return n == 8 ? 's' : n == 16 ? 'l' : 'f';
}
