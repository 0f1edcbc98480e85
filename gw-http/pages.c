/*
 * HTML pages from templates: the built-in defaults below, each replaceable by a file of the
 * directory [http] templates (NAME.html; the style sheet style.css), and the home page.
 * `oks-gw-http dump-templates DIR` writes the defaults there as a starting point; docs/web.md
 * names every template and variable. Values are escaped by lib/tmpl, never here; the style sheet
 * is inlined in every page ({{{css}}}), so a page needs no second request and no script. The
 * error page is rendered by errors.c. Pages are rendered on the gateway's event loop, so their
 * work is bounded (GW_HTML_MAX_KEY_LINES, GW_HTML_MAX_LINES, GW_HTML_MAX_ARMOR in gw.h): a huge
 * key is listed in part, with a note saying how much was left out, never rendered whole.
 */
#include "gw-http/gw.h"

#include "lib/log.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEAD(title)                                                                    \
    "<!DOCTYPE html>\n" \
    "<html lang=\"en\">\n" \
    "<head>\n" \
    "<meta charset=\"utf-8\">\n" \
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n" \
    "<meta name=\"color-scheme\" content=\"light dark\">\n" \
    "<title>" \
    title \
    " - OKS keyserver</title>\n" \
    "<style>{{{css}}}</style>\n" \
    "</head>\n" \
    "<body>\n" \
    "<a class=\"skip\" href=\"#main\">Skip to content</a>\n" \
    "<header class=\"site\"><nav aria-label=\"Site\"><a class=\"brand\" href=\"/\">OKS keyser" \
    "ver</a><a href=\"/pks/add\">Upload</a><a href=\"/pks/lookup?op=stats\">Statistics<" \
    "/a></nav></header>\n" \
    "<main id=\"main\">\n"

#define TAIL \
    "</main>\n" \
    "<footer><p>OKS, an OpenPGP keyserver. Programs use HKP at <code>/pks/lookup</code> (<cod" \
    "e>options=mr</code>) and VKS at <code>/vks/v1/</code>.</p></footer>\n" \
    "</body>\n" \
    "</html>\n"

#define SEARCH_FORM \
    "<form action=\"/pks/lookup\" method=\"get\" id=\"search\" class=\"search\" role=\"search" \
    "\">\n" \
    "<label for=\"q\">Name, e-mail address, key ID or fingerprint</label>\n" \
    "<input type=\"hidden\" name=\"op\" value=\"index\">\n" \
    "<input type=\"search\" id=\"q\" name=\"search\" required placeholder=\"alice@example.org" \
    " or 0x...\">\n" \
    "<button type=\"submit\">Search</button>\n" \
    "</form>\n"

static const char page_home[] = HEAD("Search")
    "<h1>OKS keyserver</h1>\n"
    "<p class=\"lead\">Find, download and publish OpenPGP public keys.</p>\n"
    SEARCH_FORM
    "<p class=\"hint\">Examples: <code>alice@example.org</code>, <code>Alice Lovelace</code>,"
    " <code>0x1234ABCD5678EF90</code> or a whole fingerprint.</p>\n"
    "<h2>From GnuPG</h2>\n"
    "{{#keyserver}}<pre class=\"cmd\"><code>gpg --keyserver {{keyserver}} --recv-keys FINGERP"
    "RINT\n"
    "gpg --keyserver {{keyserver}} --send-keys FINGERPRINT</code></pre>\n"
    "{{/keyserver}}<p>Or <a href=\"/pks/add\">upload a key here</a> by pasting its ASCII armo"
    "r.</p>\n"
    TAIL;

static const char page_index[] = HEAD("Search results")
    "<h1>Search results</h1>\n"
    "<p class=\"lead\">{{count}} {{count_word}} for <q><bdi>{{search}}</bdi></q></p>\n"
    "<form action=\"/pks/lookup\" method=\"get\" class=\"search\" role=\"search\">\n"
    "<label for=\"q\">Search again</label>\n"
    "<input type=\"hidden\" name=\"op\" value=\"index\">\n"
    "<input type=\"search\" id=\"q\" name=\"search\" required value=\"{{search}}\">\n"
    "<button type=\"submit\">Search</button>\n"
    "</form>\n"
    "{{#partial}}<p class=\"note\" role=\"status\">A part of the matches: the cluster's work "
    "budget ended the search (make it more specific).</p>\n"
    "{{/partial}}{{#unavailable}}<p class=\"note\" role=\"status\">Some shards did not answer"
    ": keys may be missing from this list. Try again in a moment.</p>\n"
    "{{/unavailable}}{{#capped}}<p class=\"note\" role=\"status\">At most {{count}} keys are "
    "listed: make the search more specific.</p>\n"
    "{{/capped}}{{#page_cut}}<p class=\"note\" role=\"status\">This page lists part of each k"
    "ey only (the page's limit); open a key to see it all.</p>\n"
    "{{/page_cut}}<ol class=\"results\">\n"
    "{{#keys}}<li class=\"card\">\n"
    "<h2><a href=\"/pks/lookup?op=get&amp;search=0x{{fpr}}\">{{#title}}<bdi>{{title}}</bdi>{{"
    "/title}}{{^title}}Key 0x{{keyid}}{{/title}}</a></h2>\n"
    "<p class=\"meta\"><span class=\"badge status-{{status}}\">{{status}}</span> {{algo}} {{b"
    "its}} &middot; created {{created}} &middot; expires {{expires}}</p>\n"
    "<p class=\"fpr\">{{fpr_groups}}</p>\n"
    "<ul class=\"uids\">\n"
    "{{#uids}}<li><span class=\"uid\"><bdi>{{uid}}</bdi></span> <span class=\"badge status-{{"
    "status}}\">{{status}}</span>{{#vindex}}<ul class=\"sigs\">{{#sigs}}<li>sig <code>{{issue"
    "r}}</code> {{type}} {{created}}{{#self}} (self){{/self}}</li>{{/sigs}}</ul>{{/vindex}}</"
    "li>\n"
    "{{/uids}}</ul>\n"
    "{{#subkeys}}<p class=\"meta\">sub {{algo}} {{bits}} <code>{{keyid}}</code> {{#usages}}<s"
    "pan class=\"tag\">{{name}}</span>{{/usages}}<span class=\"badge status-{{status}}\">{{st"
    "atus}}</span></p>\n"
    "{{/subkeys}}{{#truncated}}<p class=\"note\">truncated: {{truncated}} not shown; <a href="
    "\"/pks/lookup?op=get&amp;options=mr&amp;search=0x{{fpr}}\">download the whole key</a></p"
    ">\n"
    "{{/truncated}}</li>\n"
    "{{/keys}}</ol>\n"
    TAIL;

static const char page_key[] = HEAD("Public key")
    "<h1>Public key</h1>\n"
    "{{#too_large}}<p class=\"note\" role=\"status\">truncated: {{too_large}} bytes of keys, "
    "too many to show here; download each key below.</p>\n"
    "{{/too_large}}{{#keys}}<article class=\"card\" aria-labelledby=\"k{{fpr}}\">\n"
    "<h2 id=\"k{{fpr}}\">{{#title}}<bdi>{{title}}</bdi>{{/title}}{{^title}}Key 0x{{keyid}}{{/"
    "title}}</h2>\n"
    "<p class=\"meta\"><span class=\"badge status-{{status}}\">{{status}}</span> user IDs: "
    "{{n_uids}}, subkeys: {{n_subkeys}}</p>\n"
    "<dl class=\"facts\">\n"
    "<dt>Fingerprint</dt><dd><code class=\"fpr\">{{fpr_groups}}</code></dd>\n"
    "<dt>Key ID</dt><dd><code>0x{{keyid}}</code></dd>\n"
    "<dt>Algorithm</dt><dd>{{algo}} {{bits}}</dd>\n"
    "<dt>Created</dt><dd>{{created}}</dd>\n"
    "<dt>Expires</dt><dd>{{expires}}</dd>\n"
    "<dt>Usage</dt><dd>{{#usages}}<span class=\"tag\">{{name}}</span>{{/usages}}</dd>\n"
    "</dl>\n"
    "<p class=\"actions\"><a class=\"button\" href=\"/pks/lookup?op=get&amp;options=mr&amp;se"
    "arch=0x{{fpr}}\" download=\"{{fpr}}.asc\">Download key</a> <a href=\"/pks/lookup?op=vind"
    "ex&amp;search=0x{{fpr}}\">Signatures</a></p>\n"
    "<h3>Import with GnuPG</h3>\n"
    "<pre class=\"cmd\"><code>gpg --recv-keys {{fpr}}</code></pre>\n"
    "{{#keyserver}}<pre class=\"cmd\"><code>gpg --keyserver {{keyserver}} --recv-keys {{fpr}}"
    "</code></pre>\n"
    "{{/keyserver}}<h3>User IDs</h3>\n"
    "<ul class=\"uids\">\n"
    "{{#uids}}<li><span class=\"uid\"><bdi>{{uid}}</bdi></span> <span class=\"badge status-{{"
    "status}}\">{{status}}</span></li>\n"
    "{{/uids}}</ul>\n"
    "<h3>Subkeys</h3>\n"
    "<ul class=\"subkeys\">\n"
    "{{#subkeys}}<li><code class=\"fpr\">{{fpr_groups}}</code><br>{{algo}} {{bits}}, created "
    "{{created}}, expires {{expires}} {{#usages}}<span class=\"tag\">{{name}}</span>{{/usages"
    "}}<span class=\"badge status-{{status}}\">{{status}}</span></li>\n"
    "{{/subkeys}}</ul>\n"
    "{{#truncated}}<p class=\"note\">truncated: {{truncated}} not shown; download the key to "
    "see it all.</p>\n"
    "{{/truncated}}</article>\n"
    "{{/keys}}{{#armor}}<details>\n"
    "<summary>ASCII-armored key</summary>\n"
    "<pre tabindex=\"0\" aria-label=\"ASCII-armored key\">\n"
    "{{armor}}</pre>\n"
    "</details>\n"
    "{{/armor}}"
    TAIL;

static const char page_stats[] = HEAD("Statistics")
    "<h1>Statistics</h1>\n"
    "<div class=\"kpis\"><div><strong>{{total}}</strong> keys</div><div><strong>{{shards_up}}"
    " / {{shards_n}}</strong> shards up</div>{{#sync}}<div><strong>{{sync_tree}}</strong> has"
    "hes in the recon tree</div>{{/sync}}</div>\n"
    "<div class=\"scroll\" role=\"region\" aria-labelledby=\"t-shards\" tabindex=\"0\"><table"
    ">\n"
    "<caption id=\"t-shards\">Shards</caption>\n"
    "<thead><tr><th scope=\"col\">shard</th><th scope=\"col\">state</th><th scope=\"col\" cla"
    "ss=\"num\">keys</th><th scope=\"col\" class=\"num\">bytes</th><th scope=\"col\" class=\""
    "num\">slots</th></tr></thead>\n"
    "<tbody>\n"
    "{{#shards}}<tr><th scope=\"row\">{{name}}</th><td><span class=\"badge up-{{up}}\">{{stat"
    "e}}</span></td><td class=\"num\">{{keys}}</td><td class=\"num\">{{bytes}}</td><td class="
    "\"num\">{{slots}}</td></tr>\n"
    "{{/shards}}</tbody></table></div>\n"
    "{{#sync}}<h2>Synchronisation</h2>\n"
    "<p>Prefix tree: {{sync_tree}} hashes; {{sync_ignored}} hashes skipped (stored here in an"
    "other form).</p>\n"
    "<div class=\"scroll\" role=\"region\" aria-labelledby=\"t-partners\" tabindex=\"0\"><tab"
    "le>\n"
    "<caption id=\"t-partners\">Recon partners</caption>\n"
    "<thead><tr><th scope=\"col\">partner</th><th scope=\"col\">last synced</th><th scope=\"c"
    "ol\">last round</th><th scope=\"col\" class=\"num\">rounds</th><th scope=\"col\" class="
    "\"num\">keys in (last round)</th><th scope=\"col\" class=\"num\">keys out (last round)</"
    "th><th scope=\"col\" class=\"num\">keys in (total)</th><th scope=\"col\" class=\"num\">k"
    "eys out (total)</th></tr></thead>\n"
    "<tbody>\n"
    "{{#sync_partners}}<tr><th scope=\"row\">{{name}}</th><td>{{last_sync_utc}}</td><td>{{las"
    "t_result}}</td><td class=\"num\">{{rounds}}</td><td class=\"num\">{{added}}</td><td clas"
    "s=\"num\">{{sent}}</td><td class=\"num\">{{total_added}}</td><td class=\"num\">{{total_s"
    "ent}}</td></tr>\n"
    "{{/sync_partners}}</tbody></table></div>\n"
    "<div class=\"scroll\" role=\"region\" aria-labelledby=\"t-rounds\" tabindex=\"0\"><table"
    ">\n"
    "<caption id=\"t-rounds\">Recent rounds</caption>\n"
    "<thead><tr><th scope=\"col\">time</th><th scope=\"col\">partner</th><th scope=\"col\">re"
    "sult</th><th scope=\"col\" class=\"num\">to fetch</th><th scope=\"col\" class=\"num\">fe"
    "tched</th><th scope=\"col\" class=\"num\">added</th><th scope=\"col\" class=\"num\">sent"
    "</th><th scope=\"col\" class=\"num\">ms</th></tr></thead>\n"
    "<tbody>\n"
    "{{#sync_rounds}}<tr><td>{{utc}}</td><td>{{partner}}</td><td>{{result}}</td><td class=\"n"
    "um\">{{fetch}}</td><td class=\"num\">{{fetched}}</td><td class=\"num\">{{added}}</td><td"
    " class=\"num\">{{sent}}</td><td class=\"num\">{{ms}}</td></tr>\n"
    "{{/sync_rounds}}</tbody></table></div>\n"
    "{{/sync}}{{^sync}}<p class=\"hint\">No synchronisation with other keyservers is configur"
    "ed here.</p>\n"
    "{{/sync}}<p class=\"hint\">Programs: <a href=\"/pks/lookup?op=stats&amp;options=mr\">the"
    " same as JSON</a>.</p>\n"
    TAIL;

static const char page_upload[] = HEAD("Upload result")
    "<h1>Upload result</h1>\n"
    "<p class=\"lead\">{{summary}}</p>\n"
    "{{#warning}}<p class=\"note\" role=\"status\">{{warning}}</p>\n"
    "{{/warning}}<ul class=\"results\">\n"
    "{{#results}}<li class=\"card\"><p><span class=\"badge outcome-{{outcome}}\">{{outcome}}<"
    "/span> <code class=\"fpr\">{{fpr_groups}}</code></p>\n"
    "{{#reason}}<p>{{reason}}</p>\n"
    "{{/reason}}{{#link}}<p><a href=\"/pks/lookup?op=get&amp;search=0x{{fpr}}\">View the key<"
    "/a></p>\n"
    "{{/link}}</li>\n"
    "{{/results}}</ul>\n"
    "<p><a href=\"/pks/add\">Upload another key</a></p>\n"
    TAIL;

static const char page_error[] = HEAD("Error")
    "<h1>{{status}} {{reason}}</h1>\n"
    "<p>{{message}}</p>\n"
    SEARCH_FORM
    "<p><a href=\"/\">Back to the home page</a></p>\n"
    TAIL;

static const char page_submit[] = HEAD("Upload a key")
    "<h1>Upload a key</h1>\n"
    "<p class=\"lead\">Paste one or more ASCII-armored public keys. The keyserver checks ever"
    "y self-signature and tells you what it did with each key.</p>\n"
    "<form action=\"/pks/add\" method=\"post\" id=\"upload\">\n"
    "<label for=\"keytext\">Public key block</label>\n"
    "<textarea id=\"keytext\" name=\"keytext\" rows=\"12\" required aria-describedby=\"keytex"
    "t-hint\" placeholder=\"-----BEGIN PGP PUBLIC KEY BLOCK-----\"></textarea>\n"
    "<p class=\"hint\" id=\"keytext-hint\">Export it with <code>gpg --armor --export alice@ex"
    "ample.org</code>. At most {{max_keys}} keys in one upload; secret keys are refused.</p>"
    "\n"
    "<p><button type=\"submit\">Upload</button></p>\n"
    "</form>\n"
    "{{#keyserver}}<h2>From GnuPG</h2>\n"
    "<pre class=\"cmd\"><code>gpg --keyserver {{keyserver}} --send-keys FINGERPRINT</code></p"
    "re>\n"
    "{{/keyserver}}"
    TAIL;

static const char page_style[] =
    ":root{color-scheme:light dark;--bg:#fff;--fg:#1b1b1f;--muted:#545761;--surface:#f4f6f9;-"
    "-border:#c9cfd8;--accent:#0b57d0;--accent-fg:#fff;--focus:#b3261e;--ok-bg:#e3f3e7;--ok-f"
    "g:#0f5b25;--bad-bg:#fde7e5;--bad-fg:#9b1c14;--warn-bg:#fdf1dc;--warn-fg:#6b4200;--info-b"
    "g:#e8effc;--info-fg:#0b3d91}\n"
    "@media (prefers-color-scheme:dark){:root{--bg:#121317;--fg:#e6e7eb;--muted:#b2b6c0;--sur"
    "face:#1d1f25;--border:#3d414b;--accent:#8ab4f8;--accent-fg:#0b1a33;--focus:#ffb4ab;--ok-"
    "bg:#12311d;--ok-fg:#8fd7a3;--bad-bg:#3c1512;--bad-fg:#ffb0a8;--warn-bg:#352705;--warn-fg"
    ":#f5cf6b;--info-bg:#142544;--info-fg:#b6cdfa}}\n"
    "*{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%}\n"
    "body{margin:0;background:var(--bg);color:var(--fg);font:1rem/1.5 system-ui,-apple-system"
    ",\"Segoe UI\",Roboto,\"Noto Sans\",sans-serif}\n"
    "a{color:var(--accent)}\n"
    "a:hover{text-decoration-thickness:2px}\n"
    ":focus-visible{outline:3px solid var(--focus);outline-offset:2px}\n"
    ".skip{position:absolute;left:-999px;top:0;background:var(--bg);padding:.5rem 1rem}\n"
    ".skip:focus{left:1rem;z-index:1}\n"
    ".site{border-bottom:1px solid var(--border);background:var(--surface)}\n"
    ".site nav,main,footer>p{max-width:64rem;margin:0 auto;padding:.75rem 1rem}\n"
    ".site nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem;align-items:center}\n"
    ".brand{font-weight:700;font-size:1.15rem;text-decoration:none;margin-right:auto;color:va"
    "r(--fg)}\n"
    "footer{border-top:1px solid var(--border);color:var(--muted);font-size:.9rem;margin-top:"
    "2rem}\n"
    "h1{font-size:1.6rem;line-height:1.25;margin:.5rem 0 1rem}\n"
    "h2{font-size:1.25rem;margin:1.5rem 0 .5rem}\n"
    "h3{font-size:1rem;margin:1.25rem 0 .5rem}\n"
    "code,pre,.fpr{font-family:ui-monospace,\"DejaVu Sans Mono\",Menlo,Consolas,monospace;fon"
    "t-size:.92rem}\n"
    "pre{background:var(--surface);border:1px solid var(--border);border-radius:6px;padding:."
    "75rem;overflow-x:auto;margin:.5rem 0}\n"
    "pre.cmd{white-space:pre-wrap;word-break:break-all}\n"
    ".uid,bdi{overflow-wrap:anywhere;unicode-bidi:isolate}\n"
    ".lead{color:var(--muted);margin-top:-.5rem}\n"
    ".search{display:flex;flex-wrap:wrap;gap:.5rem;margin:1rem 0}\n"
    ".search input[type=search]{flex:1 1 16rem;min-width:0}\n"
    "label{display:block;font-weight:600;margin:.5rem 0 .25rem}\n"
    ".search label{flex-basis:100%;margin:0}\n"
    "input,textarea,button{font:inherit;color:var(--fg);background:var(--bg);border:1px solid"
    " var(--muted);border-radius:6px;padding:.5rem .75rem}\n"
    "textarea{width:100%;font-family:ui-monospace,\"DejaVu Sans Mono\",monospace;font-size:.8"
    "5rem}\n"
    "button,.button{display:inline-block;background:var(--accent);color:var(--accent-fg);bord"
    "er:1px solid var(--accent);border-radius:6px;padding:.5rem 1rem;font-weight:600;text-dec"
    "oration:none;cursor:pointer}\n"
    ".hint{color:var(--muted);font-size:.9rem;margin:.25rem 0}\n"
    ".card{border:1px solid var(--border);border-radius:8px;padding:1rem;margin:1rem 0;backgr"
    "ound:var(--bg)}\n"
    ".results{list-style:none;padding:0;margin:0}\n"
    ".card h2{margin:0 0 .25rem;font-size:1.1rem;overflow-wrap:anywhere}\n"
    ".fpr{overflow-wrap:anywhere;letter-spacing:.02em;white-space:pre-wrap}\n"
    ".meta{color:var(--muted);margin:.25rem 0;font-size:.95rem}\n"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:.75re"
    "m 0}\n"
    "dl.facts dt{color:var(--muted)}\n"
    "dl.facts dd{margin:0;min-width:0;overflow-wrap:anywhere}\n"
    "@media (max-width:36rem){dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.5"
    "rem}}\n"
    "ul.uids,ul.subkeys{padding-left:1.25rem;margin:.25rem 0}\n"
    "ul.uids li,ul.subkeys li{margin:.3rem 0}\n"
    "ul.sigs{list-style:none;padding-left:1rem;margin:.1rem 0;color:var(--muted);font-size:.8"
    "8rem}\n"
    ".badge{display:inline-block;border-radius:999px;padding:0 .6rem;font-size:.8rem;font-wei"
    "ght:600;line-height:1.6;vertical-align:middle;background:var(--info-bg);color:var(--info"
    "-fg)}\n"
    ".status-valid,.outcome-new,.outcome-updated,.up-yes{background:var(--ok-bg);color:var(--"
    "ok-fg)}\n"
    ".status-revoked,.outcome-rejected,.up-no{background:var(--bad-bg);color:var(--bad-fg)}\n"
    ".status-expired,.outcome-unchanged{background:var(--warn-bg);color:var(--warn-fg)}\n"
    ".tag{display:inline-block;border:1px solid var(--border);border-radius:4px;padding:0 .4r"
    "em;font-size:.8rem;margin-right:.25rem}\n"
    ".note{border-left:4px solid var(--accent);background:var(--info-bg);color:var(--info-fg)"
    ";padding:.5rem .75rem;border-radius:4px}\n"
    ".actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;margin:.75rem 0}\n"
    ".scroll{overflow-x:auto;margin:.5rem 0}\n"
    "table{border-collapse:collapse;width:100%;font-size:.92rem}\n"
    "caption{text-align:left;font-weight:600;padding:.25rem 0}\n"
    "th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid var(--border);white-s"
    "pace:nowrap}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\n"
    ".kpis{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}\n"
    ".kpis div{border:1px solid var(--border);border-radius:8px;padding:.75rem 1rem;min-width"
    ":9rem}\n"
    ".kpis strong{display:block;font-size:1.5rem}\n"
    "details{margin:.75rem 0}\n"
    "summary{cursor:pointer;font-weight:600}\n"
    ".card>:first-child{margin-top:0}\n"
    ".card>:last-child{margin-bottom:0}\n";

static const struct {
    const char *name, *file, *text;
} builtin[GW_PAGES] = {
    [GW_PAGE_HOME] = {"home", "home.html", page_home},
    [GW_PAGE_INDEX] = {"index", "index.html", page_index},
    [GW_PAGE_KEY] = {"key", "key.html", page_key},
    [GW_PAGE_STATS] = {"stats", "stats.html", page_stats},
    [GW_PAGE_UPLOAD] = {"upload", "upload.html", page_upload},
    [GW_PAGE_ERROR] = {"error", "error.html", page_error},
    [GW_PAGE_SUBMIT] = {"submit", "submit.html", page_submit},
    [GW_PAGE_STYLE] = {"style", "style.css", page_style},
};

int gw_pages_load(char *pages[GW_PAGES], const char *dir)
{
    for (int i = 0; i < GW_PAGES; i++) {
        oks_err le;
        size_t max = i == GW_PAGE_STYLE ? 256u << 10 : 1u << 20;
        if (oks_tmpl_load(dir, builtin[i].file, builtin[i].text, max, &pages[i], &le)) {
            oks_error("%s", le.msg);
            return -1;
        }
        /* a broken template stops the gateway at start, not each request with a 500 */
        oks_buf out = OKS_BUF_INIT;
        oks_err e;
        oks_tmpl *empty = oks_tmpl_new();
        int r = empty ? oks_tmpl_render(pages[i], strlen(pages[i]), empty, &out, &e) : -1;
        oks_tmpl_free(empty);
        oks_buf_release(&out);
        if (r) {
            oks_error("template %s/%s: %s (at byte %zu)", dir && *dir ? dir : "(built-in)",
                      builtin[i].file, empty ? e.msg : "out of memory", empty ? e.offset : 0);
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
        snprintf(path, sizeof path, "%s/%s", dir, builtin[i].file);
        FILE *f = fopen(path, "w");
        if (!f) {
            perror(path);
            return 1;
        }
        int w = fputs(builtin[i].text, f);
        if (fclose(f) != 0 || w == EOF) {
            perror(path);
            return 1;
        }
        printf("%s\n", path);
    }
    return 0;
}

/* The --keyserver URL gpg should use for this server, from the request's host: hkps:// when
 * the request came over TLS or names no port (then a proxy on 443 or 80 is in front), hkp://
 * with the port it names otherwise. Nothing when the host is not a plain name or address. */
static int set_keyserver(h2o_req_t *req, oks_tmpl *t)
{
    h2o_iovec_t host = req->authority;
    if (host.len == 0 || host.len > 255)
        return 0;
    for (size_t i = 0; i < host.len; i++) {
        char c = host.base[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']'))
            return 0;
    }
    const char *colon = memrchr(host.base, ':', host.len);
    const char *bracket = memrchr(host.base, ']', host.len);
    bool has_port = colon && (!bracket || colon > bracket);
    bool tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    return oks_tmpl_setf(t, "keyserver", "%s://%.*s", tls || !has_port ? "hkps" : "hkp",
                         (int)host.len, host.base);
}

int gw_page_globals(h2o_req_t *req, oks_tmpl *t)
{
    const char *css = gw_live_of(req)->pages[GW_PAGE_STYLE];
    if (oks_tmpl_set(t, "css", css, strlen(css)) || set_keyserver(req, t))
        return OKS_E_NOMEM;
    return 0;
}

void gw_page(h2o_req_t *req, int status, enum gw_page page, oks_tmpl *ctx)
{
    oks_buf out = OKS_BUF_INIT;
    oks_err e;
    const char *src = gw_live_of(req)->pages[page];
    if (!ctx || gw_page_globals(req, ctx)) {
        gw_error(req, 500, "out of memory");
        return;
    }
    if (oks_tmpl_render(src, strlen(src), ctx, &out, &e)) {
        oks_error("template %s: %s (at byte %zu)", builtin[page].file, e.msg, e.offset);
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
