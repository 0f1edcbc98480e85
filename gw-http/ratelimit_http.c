/* The rate limits (ratelimit.c) applied to HTTP requests: the client is the peer address, or the
 * X-Forwarded-For entry a trusted proxy names (IPv6: its /64); a client over its budget gets 429
 * with the Retry-After the limiter computed. */
#include "gw-http/gw.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

bool gw_addr_text(const struct sockaddr_storage *ss, char out[GW_ADDR_TEXT])
{
    const void *a = NULL;
    if (ss->ss_family == AF_INET)
        a = &((const struct sockaddr_in *)ss)->sin_addr;
    else if (ss->ss_family == AF_INET6)
        a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (a && inet_ntop(ss->ss_family, a, out, GW_ADDR_TEXT))
        return true;
    snprintf(out, GW_ADDR_TEXT, "?");
    return false;
}

void gw_client_of(h2o_req_t *req, char out[64])
{
    gw *g = gw_thread_of(req)->g;
    struct sockaddr_storage ss;
    char peer[GW_ADDR_TEXT] = "?";
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss))
        gw_addr_text(&ss, peer);
    ssize_t x = h2o_find_header(&req->headers, H2O_TOKEN_X_FORWARDED_FOR, -1);
    gw_rl_client(peer, x >= 0 ? req->headers.entries[x].value.base : NULL,
                 x >= 0 ? req->headers.entries[x].value.len : 0, g->conf.trusted_proxies, out);
}

bool gw_allow_n(h2o_req_t *req, enum gw_rl_class cls, double n)
{
    const gw_live *l = gw_live_of(req);
    if (!l->rl || l->rate[cls] <= 0)
        return true;
    char client[64], key[64];
    gw_client_of(req, client);
    gw_rl_key(client, key);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned wait = gw_rl_take_n(l->rl, cls, key, n, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    if (!wait)
        return true;
    char *v = h2o_mem_alloc_pool(&req->pool, 16);
    int len = snprintf(v, 16, "%u", wait);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)len);
    static const char body[] = "429 Too Many Requests: slow down\n";
    static const char work[] =
        "429 Too Many Requests: the signatures of your recent uploads used up this client's "
        "share of verification work; try again later\n";
    if (cls == GW_RL_VERIFY)
        gw_respond(req, 429, NULL, "text/plain; charset=utf-8", work, sizeof work - 1);
    else
        gw_respond(req, 429, NULL, "text/plain; charset=utf-8", body, sizeof body - 1);
    return false;
}

bool gw_allow(h2o_req_t *req, enum gw_rl_class cls)
{
    return gw_allow_n(req, cls, 1);
}
