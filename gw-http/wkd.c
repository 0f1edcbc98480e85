/*
 * Web Key Directory (draft-koch-openpgp-webkey-service) for the domains in [http] wkd_domains:
 * the direct method (/.well-known/openpgpkey/hu/<hash>?l=<local>, domain from the Host header)
 * and the advanced one (/.well-known/openpgpkey/<domain>/hu/<hash>), plus the policy files.
 * Keys are served binary with only the user IDs of the requested address. These addresses are NOT
 * e-mail-verified: anyone can upload a key claiming one (see docs/http.md).
 */
#include "gw-http/gw.h"
#include "lib/xalloc.h"
#include "gw-http/query.h"

#include "lib/pgp.h"

#include <ctype.h>
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gw_wkd_hash(const char *local, size_t n, char out[33])
{
    static const char zb32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
    char *low = oks_xmalloc(n + 1);
    uint8_t h[20];
    for (size_t i = 0; i < n; i++)
        low[i] = (char)((local[i] >= 'A' && local[i] <= 'Z') ? local[i] + 32 : local[i]);
    gcry_md_hash_buffer(GCRY_MD_SHA1, h, low, n);
    free(low);
    unsigned acc = 0, bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < 20; i++) {
        acc = acc << 8 | h[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = zb32[(acc >> bits) & 31];
        }
    }
    out[o] = '\0';
}

static bool domain_served(gw *g, const char *d)
{
    char list[sizeof g->conf.wkd_domains], *save = NULL;
    if (!d[0])
        return false;
    strcpy(list, g->conf.wkd_domains);
    for (char *t = strtok_r(list, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        if (strcasecmp(t, d) == 0)
            return true;
    return false;
}

typedef struct wkd_ctx {
    char addr[320];
} wkd_ctx;

static void on_wkd_keys(h2o_req_t *req, void *data, Oks__Response *r, int status, const char *why)
{
    wkd_ctx *c = data;
    if (!r) {
        gw_error(req, status, why);
        return;
    }
    oks_buf out = OKS_BUF_INIT;
    for (size_t i = 0; i < r->n_keys; i++) {
        oks_pgp_key *k;
        oks_err e;
        if (oks_pgp_key_parse(r->keys[i]->data.data, r->keys[i]->data.len, NULL, OKS_PGP_TRUSTED,
                              &k, &e))
            continue;
        size_t w = 0;
        for (size_t u = 0; u < k->n_uids; u++) {
            char mail[320];
            if (k->uids[u].tag == OKS_PGP_TAG_UID &&
                oks_pgp_uid_email(k->uids[u].body, k->uids[u].len, mail, sizeof mail) &&
                strcasecmp(mail, c->addr) == 0)
                k->uids[w++] = k->uids[u];
            else
                free(k->uids[u].sigs.v);
        }
        k->n_uids = w;
        if (w)
            oks_pgp_key_serialize(k, &out);
        oks_pgp_key_free(k);
    }
    if (!out.len)
        gw_error(req, 404, "no key for this address");
    else
        gw_respond(req, 200, NULL, "application/octet-stream", out.data, out.len);
    oks_buf_release(&out);
}

int gw_on_wkd(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    gw *g = gw_thread_of(req)->g;
    if (!gw_allow(req, GW_RL_LOOKUP))
        return 0;
    static const char prefix[] = "/.well-known/openpgpkey/";
    size_t pl = sizeof prefix - 1;
    size_t qa = req->query_at == SIZE_MAX ? req->path.len : req->query_at;
    if (qa < pl || qa - pl > 400 || memcmp(req->path.base, prefix, pl) != 0) {
        gw_error(req, 404, "not found");
        return 0;
    }
    char rest[401], domain[256] = "";
    memcpy(rest, req->path.base + pl, qa - pl);
    rest[qa - pl] = '\0';
    char *tail = rest;
    if (strncmp(rest, "hu/", 3) != 0 && strcmp(rest, "policy") != 0) {
        /* advanced method: <domain>/... */
        char *slash = strchr(rest, '/');
        if (!slash || (size_t)(slash - rest) >= sizeof domain) {
            gw_error(req, 404, "not found");
            return 0;
        }
        memcpy(domain, rest, (size_t)(slash - rest));
        domain[slash - rest] = '\0';
        tail = slash + 1;
    } else {
        h2o_iovec_t host = req->authority;
        size_t n = host.len;
        const char *colon = memchr(host.base, ':', host.len);
        if (colon)
            n = (size_t)(colon - host.base);
        if (n < sizeof domain) {
            memcpy(domain, host.base, n);
            domain[n] = '\0';
        }
    }
    if (!domain_served(g, domain)) {
        gw_error(req, 404, "no Web Key Directory for this domain here");
        return 0;
    }
    if (strcmp(tail, "policy") == 0) {
        gw_respond(req, 200, NULL, "text/plain", "", 0);
        return 0;
    }
    if (strncmp(tail, "hu/", 3) != 0 || strlen(tail + 3) != 32) {
        gw_error(req, 400, "expected hu/<32 z-base-32 characters>");
        return 0;
    }
    gw_form form;
    const char *why;
    const char *q = req->query_at == SIZE_MAX ? "" : req->path.base + req->query_at + 1;
    size_t ql = req->query_at == SIZE_MAX ? 0 : req->path.len - req->query_at - 1;
    if (gw_form_parse(&form, q, ql, &why)) {
        gw_error(req, 400, why);
        return 0;
    }
    size_t ll;
    const char *local = gw_form_get(&form, "l", &ll);
    char h[33];
    if (!local || ll == 0 || ll > 64 || memchr(local, '@', ll)) {
        gw_form_release(&form);
        gw_error(req, 404, "this server needs the l= parameter with the local part");
        return 0;
    }
    gw_wkd_hash(local, ll, h);
    if (strcmp(h, tail + 3) != 0) {
        gw_form_release(&form);
        gw_error(req, 404, "the hash does not match l=");
        return 0;
    }
    wkd_ctx *c = h2o_mem_alloc_pool(&req->pool, sizeof *c);
    snprintf(c->addr, sizeof c->addr, "%.*s@%s", (int)ll, local, domain);
    gw_form_release(&form);
    Oks__Request rq = OKS__REQUEST__INIT;
    Oks__Search sr = OKS__SEARCH__INIT;
    rq.op_case = OKS__REQUEST__OP_SEARCH;
    rq.search = &sr;
    sr.text = c->addr;
    sr.kind = OKS__SEARCH_KIND__SEARCH_EMAIL;
    sr.limit = 10;
    gw_call(req, &rq, on_wkd_keys, c);
    return 0;
}
