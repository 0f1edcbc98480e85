/*
 * HTML pages from templates: the built-in defaults below, each replaceable by NAME.html in the
 * directory [http] templates (`oks-gw-http dump-templates DIR` writes the defaults there as a
 * starting point), and the home page. Values are escaped by lib/tmpl, never here. The error
 * page is rendered by errors.c. Pages are rendered on the gateway's event loop, so their work is
 * bounded (GW_HTML_MAX_KEY_LINES, GW_HTML_MAX_LINES, GW_HTML_MAX_ARMOR in gw.h): a huge key is listed in part, with a
 * note saying how much was left out, never rendered whole.
 */
#include "gw-http/gw.h"

#include "lib/keyctx.h"
#include "lib/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEAD(title)                                                                                \
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" title " - OKS</title>\n"        \
    "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}pre{overflow-x:auto}"      \
    "td,th{padding:0 .5em;text-align:left}</style></head><body>\n"                                 \
    "<p><a href=\"/\">OKS keyserver</a></p>\n"
#define TAIL "</body></html>\n"

static const struct {
    const char *name, *text;
} builtin[GW_PAGES] = {
    [GW_PAGE_HOME] = {"home",
        HEAD("Search") "<h1>OKS keyserver</h1>\n"
        "<form action=\"/pks/lookup\" method=\"get\" id=\"search\">\n"
        "<input type=\"hidden\" name=\"op\" value=\"index\">\n"
        "<input type=\"text\" name=\"search\" size=\"50\" "
        "placeholder=\"name, e-mail address or 0xKEYID\">\n"
        "<input type=\"submit\" value=\"Search\">\n</form>\n"
        "<h2>Submit a key</h2>\n<form action=\"/pks/add\" method=\"post\">\n"
        "<textarea name=\"keytext\" rows=\"10\" cols=\"66\"></textarea><br>\n"
        "<input type=\"submit\" value=\"Submit\">\n</form>\n"
        "<p><a href=\"/pks/lookup?op=stats\">Statistics</a></p>\n" TAIL},
    [GW_PAGE_INDEX] = {"index",
        HEAD("Search results") "<h1>Search results for &quot;{{search}}&quot;</h1>\n"
        "{{#partial}}<p><em>A part of the matches: the cluster's work budget ended the search "
        "(make it more specific).</em></p>\n{{/partial}}"
        "{{#keys}}<hr>\n<pre>pub  {{algo}}{{bits}}/<a href=\"/pks/lookup?op=get&amp;search=0x{{fpr}}\">"
        "{{fpr}}</a> {{created}}{{#revoked}} <strong>revoked</strong>{{/revoked}}"
        "{{#expires}} expires {{expires}}{{/expires}}\n"
        "{{#uids}}uid  {{uid}}\n{{#sigs}}sig  {{issuer}} {{type}} {{#self}}self{{/self}} "
        "{{created}}\n{{/sigs}}{{/uids}}"
        "{{#subkeys}}sub  {{algo}}{{bits}}/{{fpr}} {{created}}{{#revoked}} revoked{{/revoked}}\n"
        "{{/subkeys}}{{#truncated}}[truncated: {{truncated}} not shown; "
        "<a href=\"/pks/lookup?op=get&amp;options=mr&amp;search=0x{{fpr}}\">the whole key</a>]\n"
        "{{/truncated}}</pre>\n{{/keys}}" TAIL},
    [GW_PAGE_KEY] = {"key",
        HEAD("Public key") "<h1>Public key</h1>\n"
        "{{#too_large}}<p>truncated: {{too_large}} bytes of keys, too many to show here; "
        "download each key below.</p>\n{{/too_large}}"
        "{{#keys}}<p>Fingerprint: <code>{{fpr}}</code>{{#too_large}} <a href=\"/pks/lookup?"
        "op=get&amp;options=mr&amp;search=0x{{fpr}}\">download</a>{{/too_large}}</p>\n{{/keys}}"
        "{{#armor}}<pre>\n{{armor}}</pre>\n{{/armor}}" TAIL},
    [GW_PAGE_STATS] = {"stats",
        HEAD("Statistics") "<h1>Statistics</h1>\n<p>Total number of keys: {{total}}</p>\n"
        "<table><tr><th>shard</th><th>up</th><th>keys</th><th>bytes</th><th>slots</th></tr>\n"
        "{{#shards}}<tr><td>{{name}}</td><td>{{up}}</td><td>{{keys}}</td><td>{{bytes}}</td>"
        "<td>{{slots}}</td></tr>\n{{/shards}}</table>\n"
        "{{#sync}}<h2>Recon partners</h2>\n<p>Prefix tree: {{sync_tree}} hashes; {{sync_ignored}} "
        "hashes skipped (stored here in another form)</p>\n<table><tr><th>partner</th>"
        "<th>last synced</th><th>last round</th><th>rounds</th><th>keys in (last round)</th>"
        "<th>keys out (last round)</th><th>keys in (total)</th><th>keys out (total)</th></tr>\n"
        "{{#sync_partners}}<tr><td>{{name}}</td><td>{{last_sync_utc}}</td><td>{{last_result}}</td>"
        "<td>{{rounds}}</td><td>{{added}}</td><td>{{sent}}</td><td>{{total_added}}</td>"
        "<td>{{total_sent}}</td></tr>\n{{/sync_partners}}</table>\n<h2>Recent rounds</h2>\n"
        "<table><tr><th>time</th><th>partner</th><th>result</th><th>to fetch</th><th>fetched</th>"
        "<th>added</th><th>sent</th><th>ms</th></tr>\n{{#sync_rounds}}<tr><td>{{utc}}</td>"
        "<td>{{partner}}</td><td>{{result}}</td><td>{{fetch}}</td><td>{{fetched}}</td>"
        "<td>{{added}}</td><td>{{sent}}</td><td>{{ms}}</td></tr>\n{{/sync_rounds}}</table>\n"
        "{{/sync}}" TAIL},
    [GW_PAGE_UPLOAD] = {"upload",
        HEAD("Upload") "<h1>Upload result</h1>\n<table>\n"
        "{{#results}}<tr><td><code>{{fpr}}</code></td><td>{{outcome}}</td><td>{{reason}}</td></tr>\n"
        "{{/results}}</table>\n" TAIL},
    [GW_PAGE_ERROR] = {"error",
        HEAD("Error") "<h1>{{status}} {{reason}}</h1>\n<p>{{message}}</p>\n" TAIL},
};

int gw_page_key(oks_tmpl *kt, const oks_pgp_key *k, bool sigs, size_t *lines)
{
    oks_keyctx_omitted om = {0};
    if (oks_keyctx_key_max(kt, k, sigs, lines, &om))
        return OKS_E_NOMEM;
    if (!om.uids && !om.sigs && !om.subkeys)
        return 0;
    char what[160];
    size_t n = 0;
    const struct {
        size_t count;
        const char *name;
    } parts[3] = {{om.sigs, "signatures"}, {om.uids, "user IDs"}, {om.subkeys, "subkeys"}};
    for (int i = 0; i < 3; i++)
        if (parts[i].count && n < sizeof what)
            n += (size_t)snprintf(what + n, sizeof what - n, "%s%zu more %s", n ? ", " : "",
                                  parts[i].count, parts[i].name);
    return oks_tmpl_setf(kt, "truncated", "%s", what);
}

int gw_pages_load(char *pages[GW_PAGES], const char *dir)
{
    for (int i = 0; i < GW_PAGES; i++) {
        pages[i] = oks_tmpl_load(dir, builtin[i].name, builtin[i].text);
        if (!pages[i])
            return -1;
        /* a broken template stops the gateway at start, not each request with a 500 */
        oks_buf out = OKS_BUF_INIT;
        oks_err e;
        oks_tmpl *empty = oks_tmpl_new();
        int r = empty ? oks_tmpl_render(pages[i], strlen(pages[i]), empty, &out, &e) : -1;
        oks_tmpl_free(empty);
        oks_buf_release(&out);
        if (r) {
            oks_error("template %s/%s.html: %s (at byte %zu)", dir && *dir ? dir : "(built-in)",
                      builtin[i].name, empty ? e.msg : "out of memory", empty ? e.offset : 0);
            return -1;
        }
    }
    if (dir && *dir)
        oks_info("HTML templates from %s (built-in defaults for missing files)", dir);
    return 0;
}

int gw_pages_dump(const char *dir)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    for (int i = 0; i < GW_PAGES; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.html", dir, builtin[i].name);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        if (fputs(builtin[i].text, f) == EOF || fclose(f) != 0) {
            perror(path);
            return 1;
        }
        printf("%s\n", path);
    }
    return 0;
}

void gw_page(h2o_req_t *req, int status, enum gw_page page, const oks_tmpl *ctx)
{
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    const char *src = gw_live_of(req)->pages[page];
    if (oks_tmpl_render(src, strlen(src), ctx, &out, &e)) {
        oks_error("template %s: %s (at byte %zu)", builtin[page].name, e.msg, e.offset);
        oks_buf_release(&out);
        gw_error(req, 500, "page template is broken; see the gateway log");
        return;
    }
    gw_respond(req, status, NULL, "text/html; charset=utf-8", out.data, out.len);
    oks_buf_release(&out);
}

int gw_on_home(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT("/"))) {
        gw_error(req, 404, "no such page");
        return 0;
    }
    oks_tmpl *t = oks_tmpl_new();
    gw_page(req, 200, GW_PAGE_HOME, t);
    oks_tmpl_free(t);
    return 0;
}
