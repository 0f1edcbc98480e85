/* /pks/health for load balancers: 200 "ok" when the router answers that every shard is up,
 * 503 otherwise. */
#include "gw-http/gw.h"

static void on_health(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    (void)data;
    if (!r)
        gw_error(req, status, why);
    else if (r->status != OKS__STATUS__STATUS_OK)
        gw_error(req, 503, *r->error ? r->error : "a shard is unavailable");
    else
        gw_respond(req, 200, NULL, "text/plain", "ok\n", 3);
}

int gw_on_health(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Health h = OKS__HEALTH__INIT;
    q.op_case = OKS__REQUEST__OP_HEALTH;
    q.health = &h;
    gw_call(req, &q, on_health, NULL);
    return 0;
}
