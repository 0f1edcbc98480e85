/* oks_etcd_open_conf (lib/etcd.h): the etcd client's options from the etcd_* keys of
 * [cluster] in oks.conf (lib/conf_table.c). */
#include "lib/cluster.h"
#include "lib/etcd.h"

int oks_etcd_open_conf(const oks_cluster *conf, oks_etcd **out, oks_err *e)
{
    *out = NULL;
    const oks_conf_etcd *c = &conf->etcd;
    if (!c->endpoints[0])
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET,
                           "[cluster] etcd is not set: the slot map is the static one of %s",
                           conf->path ? conf->path : "oks.conf");
    oks_etcd_opts o = {
        .endpoints = c->endpoints,
        .ca_file = c->ca[0] ? c->ca : NULL,
        .cert_file = c->cert[0] ? c->cert : NULL,
        .key_file = c->key[0] ? c->key : NULL,
        .user = c->user[0] ? c->user : NULL,
        .password_file = c->password_file[0] ? c->password_file : NULL,
        .timeout_ms = c->timeout_ms,
    };
    return oks_etcd_open(&o, out, e);
}
