/*
 * gw-http/syncstats: the sync worker's partner state in op=stats. oks-sync rewrites a small
 * text file after every round (path: `[sync] state` of oks.conf; format in sync/state.h:
 * records `sync`, `partner`, `round`, each `KIND key=value ...`). It is read at most once per
 * second per gateway thread and only for op=stats; a missing file means no sync worker and
 * adds nothing. Files above 64 KiB are not read.
 */
#include "gw-http/gw.h"
#include "gw-http/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYNC_STATE_MAX 65536

static __thread char cache[SYNC_STATE_MAX + 1];
static __thread size_t cache_len;
static __thread time_t cache_at;
static __thread int cache_ok;

/* the file's text (NUL-terminated, cached for a second) or NULL */
static const char *state_text(const char *path)
{
    time_t now = time(NULL);
    if (cache_at == now)
        return cache_ok ? cache : NULL;
    cache_at = now;
    cache_ok = 0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return NULL;
    cache_len = fread(cache, 1, SYNC_STATE_MAX + 1, f);
    fclose(f);
    if (cache_len == 0 || cache_len > SYNC_STATE_MAX ||
        strncmp(cache, "oks-sync-state 1\n", 17) != 0)
        return NULL;
    cache[cache_len] = '\0';
    cache_ok = 1;
    return cache;
}

static int is_number(const char *v, size_t l)
{
    if (l == 0 || l > 19)
        return 0;
    for (size_t i = 0; i < l; i++)
        if (v[i] < '0' || v[i] > '9')
            return 0;
    return 1;
}

/* calls fn for each key=value of the record line [p, end) after its kind word */
static void fields(const char *p, const char *end,
                   void (*fn)(void *arg, const char *k, size_t kl, const char *v, size_t vl),
                   void *arg)
{
    const char *sp = memchr(p, ' ', (size_t)(end - p));
    while (sp && sp < end) {
        const char *w = sp + 1;
        const char *we = memchr(w, ' ', (size_t)(end - w));
        if (!we)
            we = end;
        const char *eq = memchr(w, '=', (size_t)(we - w));
        if (eq)
            fn(arg, w, (size_t)(eq - w), eq + 1, (size_t)(we - eq - 1));
        sp = we < end ? we : NULL;
    }
}

/* Adds one key=value to the JSON object arg->obj: digits as a number, anything else as a
 * string; counts failed sets in arg->bad. */
typedef struct json_fields {
    json_t *obj;
    int bad;
} json_fields;

static void json_field(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
    json_fields *jf = arg;
    json_t *val;
    if (is_number(v, vl)) {
        char num[20];
        memcpy(num, v, vl);
        num[vl] = '\0';
        unsigned long long x = strtoull(num, NULL, 10);
        val = x <= INT64_MAX ? json_integer((json_int_t)x) : json_stringn(num, vl);
    } else {
        val = oks_json_text(v, vl);
    }
    if (oks_json_set_key(jf->obj, k, kl, val))
        jf->bad++;
}

static void tmpl_field(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
    char name[64];
    if (!arg || kl >= sizeof name)
        return;
    memcpy(name, k, kl);
    name[kl] = '\0';
    oks_tmpl_set(arg, name, v, vl);
}

static void tmpl_top_field(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
    char name[64];
    if (kl >= sizeof name - 5)
        return;
    snprintf(name, sizeof name, "sync_%.*s", (int)kl, k);
    oks_tmpl_set(arg, name, v, vl);
}

int gw_sync_stats_json(const char *path, json_t *stats)
{
    const char *text = state_text(path);
    if (!text)
        return 0;
    /* sync fields first, then the two lists */
    json_fields top = {json_object(), 0};
    const char *p = strchr(text, '\n') + 1;
    const char *s = strstr(p, "sync ");
    if (s && (s == p || s[-1] == '\n'))
        fields(s, strchr(s, '\n') ? strchr(s, '\n') : s + strlen(s), json_field, &top);
    static const char *const kinds[2] = {"partner ", "round "};
    static const char *const names[2] = {"partners", "rounds"};
    for (int k = 0; k < 2; k++) {
        json_t *list = json_array();
        for (const char *l = p; *l;) {
            const char *end = strchr(l, '\n');
            if (!end)
                end = l + strlen(l);
            if (strncmp(l, kinds[k], strlen(kinds[k])) == 0) {
                json_fields rec = {json_object(), 0};
                fields(l, end, json_field, &rec);
                top.bad += rec.bad - json_array_append_new(list, rec.obj);
            }
            l = *end ? end + 1 : end;
        }
        top.bad -= json_object_set_new(top.obj, names[k], list);
    }
    if (top.bad) {
        json_decref(top.obj);
        return -1;
    }
    return json_object_set_new(stats, "sync", top.obj);
}

void gw_sync_stats_tmpl(const char *path, oks_tmpl *t)
{
    const char *text = state_text(path);
    if (!text)
        return;
    oks_tmpl_set(t, "sync", "1", 1);
    for (const char *l = strchr(text, '\n') + 1; *l;) {
        const char *end = strchr(l, '\n');
        if (!end)
            end = l + strlen(l);
        if (strncmp(l, "sync ", 5) == 0)
            fields(l, end, tmpl_top_field, t);
        else if (strncmp(l, "partner ", 8) == 0)
            fields(l, end, tmpl_field, oks_tmpl_push(t, "sync_partners"));
        else if (strncmp(l, "round ", 6) == 0)
            fields(l, end, tmpl_field, oks_tmpl_push(t, "sync_rounds"));
        l = *end ? end + 1 : end;
    }
}
