/*
 * From a search filter to cluster lookups. The cluster finds keys by fingerprint, key ID,
 * e-mail address and user ID words; the gateway asks it for a superset of the keys the filter
 * can match, then evaluates the whole filter on each key's entry (filter.c), so answers are
 * exact. A filter part that no lookup bounds (presence, negation, ranges, attributes the
 * cluster has no index for) can only narrow down what another part found: a filter made only of
 * such parts would need every key read, and is refused (unwillingToPerform), as is one that
 * needs more than [ldap] max_lookups lookups (adminLimitExceeded).
 *
 * Two passes over the tree: analyze() gives each node a state and a cost (an AND is as cheap as
 * its cheapest bounded operand, an OR costs all its operands), emit() then writes the lookups
 * of the cheapest choices.
 */
#include "gw-ldap/gwl.h"

#include "lib/pgp.h"

#include <string.h>

typedef enum state { ST_NEVER, ST_INDEXED, ST_UNBOUNDED, ST_OVERLIMIT } state;

typedef struct result {
    state s;
    size_t count; /* lookups (before duplicates are merged) */
    unsigned cost;
    const char *why;
} result;

typedef struct ctx {
    unsigned max_lookups, min_word;
} ctx;

static const char *const key_attrs[] = {
    "objectclass", "pgpcertid",   "pgpkeyid",         "gpgfingerprint",   "pgpkeytype",
    "pgpkeysize",  "pgpkeycreatetime", "pgpkeyexpiretime", "pgprevoked", "pgpdisabled",
    "pgpsubkeyid", "gpgsubfingerprint", "pgpuserid",  "gpgmailbox",       "pgpsignerid",
    "pgpkey",      "mail",        "cn",
};

static bool key_attr(const char *a)
{
    for (size_t i = 0; i < sizeof key_attrs / sizeof key_attrs[0]; i++)
        if (strcmp(a, key_attrs[i]) == 0)
            return true;
    return false;
}

static unsigned kind_cost(gwl_lk_kind k)
{
    static const unsigned c[] = {[GWL_LK_FPR] = 1,      [GWL_LK_FPR_SUB] = 2,
                                 [GWL_LK_KEYID] = 2,    [GWL_LK_SUBKEYID] = 3,
                                 [GWL_LK_SHORTID] = 4,  [GWL_LK_EMAIL] = 5,
                                 [GWL_LK_WORDS] = 10};
    return c[k];
}

static bool hex_id(const gwl_val *v, size_t bytes, uint8_t *out)
{
    return v->n == 2 * bytes && oks_unhex(out, v->p, bytes) == 0;
}

typedef struct words {
    char *text;
    size_t len, longest;
    bool full;
} words;

static void on_word(const char *w, size_t n, void *arg)
{
    words *ws = arg;
    if (ws->len + (ws->len > 0) + n >= GWL_LK_TEXT) {
        ws->full = true;
        return;
    }
    if (ws->len)
        ws->text[ws->len++] = ' ';
    memcpy(ws->text + ws->len, w, n);
    ws->len += n;
    ws->text[ws->len] = '\0';
    if (n > ws->longest)
        ws->longest = n;
}

static void words_of(words *ws, const gwl_val *v)
{
    if (v->p)
        oks_pgp_words((const uint8_t *)v->p, v->n, on_word, ws);
}

/* The lookup of one item; its state (INDEXED: *lk is set). */
static state item_lookup(const ctx *c, const gwl_filter *f, gwl_lookup *lk, const char **why)
{
    if (f->undefined_attr || f->has_options || !key_attr(f->attr))
        return ST_NEVER; /* undefined for every key entry */
    memset(lk, 0, sizeof *lk);
    const char *a = f->attr;
    /* address books ask for mail and cn: key entries carry them as copies of gpgMailbox and
     * pgpUserID (entry.c) */
    if (strcmp(a, "mail") == 0)
        a = "gpgmailbox";
    else if (strcmp(a, "cn") == 0)
        a = "pgpuserid";
    bool eq = f->type == GWL_F_EQ || f->type == GWL_F_APPROX;
    if (strcmp(a, "objectclass") == 0) {
        if (!eq)
            return ST_UNBOUNDED;
        char v[16];
        size_t n = f->value.n < sizeof v ? gwl_fold(f->value.p, f->value.n, v, true) : 0;
        bool ours = (n == 3 && memcmp(v, "top", 3) == 0) ||
                    (n == 10 && memcmp(v, "pgpkeyinfo", 10) == 0);
        *why = "objectClass alone would list every key";
        return ours ? ST_UNBOUNDED : ST_NEVER;
    }
    struct {
        const char *attr;
        gwl_lk_kind kind;
        size_t bytes, bytes2;
    } ids[] = {{"pgpcertid", GWL_LK_KEYID, 8, 0},       {"pgpkeyid", GWL_LK_SHORTID, 4, 0},
               {"pgpsubkeyid", GWL_LK_SUBKEYID, 8, 0},  {"gpgfingerprint", GWL_LK_FPR, 20, 32},
               {"gpgsubfingerprint", GWL_LK_FPR_SUB, 20, 32}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (strcmp(a, ids[i].attr) != 0)
            continue;
        if (!eq) {
            *why = "key IDs and fingerprints are found by equality only";
            return ST_UNBOUNDED;
        }
        lk->kind = ids[i].kind;
        if (hex_id(&f->value, ids[i].bytes, lk->id))
            lk->id_len = ids[i].bytes;
        else if (ids[i].bytes2 && hex_id(&f->value, ids[i].bytes2, lk->id))
            lk->id_len = ids[i].bytes2;
        else
            return ST_NEVER; /* not a key ID / fingerprint: no entry has it */
        return ST_INDEXED;
    }
    bool mailbox = strcmp(a, "gpgmailbox") == 0;
    if (mailbox && eq) {
        if (f->value.n >= GWL_LK_TEXT || !memchr(f->value.p, '@', f->value.n))
            return ST_NEVER;
        lk->kind = GWL_LK_EMAIL;
        size_t n = gwl_fold(f->value.p, f->value.n, lk->text, true);
        lk->text[n] = '\0';
        return ST_INDEXED;
    }
    if ((mailbox && f->type == GWL_F_SUB) ||
        (strcmp(a, "pgpuserid") == 0 && (eq || f->type == GWL_F_SUB))) {
        words ws = {.text = lk->text};
        if (f->type == GWL_F_SUB) {
            words_of(&ws, &f->initial);
            for (size_t i = 0; i < f->n_any; i++)
                words_of(&ws, &f->any[i]);
            words_of(&ws, &f->final);
        } else {
            words_of(&ws, &f->value);
        }
        if (ws.longest < c->min_word) {
            *why = "a user ID search needs a longer word";
            return ST_UNBOUNDED;
        }
        lk->kind = GWL_LK_WORDS;
        return ST_INDEXED;
    }
    *why = "that attribute is not indexed: combine it with a key ID, fingerprint, mailbox "
           "or user ID";
    return ST_UNBOUNDED;
}

static result analyze(const ctx *c, const gwl_filter *f)
{
    result r = {.s = ST_UNBOUNDED, .why = "the filter would list every key"};
    switch (f->type) {
    case GWL_F_TRUE: return r;
    case GWL_F_FALSE:
    case GWL_F_UNDEF:
    case GWL_F_EXT: r.s = ST_NEVER; return r;
    case GWL_F_NOT: r.why = "a negation alone would list almost every key"; return r;
    case GWL_F_AND: {
        result best = {.s = ST_NEVER};
        bool any_over = false;
        const char *why = r.why;
        for (size_t i = 0; i < f->n_kids; i++) {
            result k = analyze(c, f->kids[i]);
            if (k.s == ST_NEVER)
                return k;
            if (k.s == ST_OVERLIMIT)
                any_over = true;
            if (k.s == ST_UNBOUNDED || k.s == ST_OVERLIMIT)
                why = k.why;
            if (k.s == ST_INDEXED && (best.s != ST_INDEXED || k.cost < best.cost))
                best = k;
        }
        if (best.s == ST_INDEXED)
            return best;
        r.s = any_over ? ST_OVERLIMIT : ST_UNBOUNDED;
        r.why = why;
        return r;
    }
    case GWL_F_OR: {
        result sum = {.s = ST_NEVER};
        for (size_t i = 0; i < f->n_kids; i++) {
            result k = analyze(c, f->kids[i]);
            if (k.s == ST_NEVER)
                continue;
            if (k.s == ST_UNBOUNDED || (k.s == ST_OVERLIMIT && sum.s != ST_UNBOUNDED)) {
                sum.s = k.s;
                sum.why = k.why;
            } else if (k.s == ST_INDEXED && sum.s != ST_UNBOUNDED && sum.s != ST_OVERLIMIT) {
                sum.s = ST_INDEXED;
                sum.count += k.count;
                sum.cost += k.cost;
            }
        }
        if (sum.s == ST_INDEXED && sum.count > c->max_lookups) {
            sum.s = ST_OVERLIMIT;
            sum.why = "the filter needs more lookups than [ldap] max_lookups";
        }
        return sum;
    }
    default: {
        gwl_lookup lk;
        const char *why = r.why;
        r.s = item_lookup(c, f, &lk, &why);
        r.why = why;
        if (r.s == ST_INDEXED) {
            r.count = 1;
            r.cost = kind_cost(lk.kind);
        }
        return r;
    }
    }
}

static void push(gwl_plan *p, const gwl_lookup *lk)
{
    for (size_t i = 0; i < p->n; i++)
        if (memcmp(&p->v[i], lk, sizeof *lk) == 0)
            return;
    if (p->n < GWL_PLAN_MAX)
        p->v[p->n++] = *lk;
}

/* Writes the lookups of an INDEXED node. */
static void emit(const ctx *c, const gwl_filter *f, gwl_plan *p)
{
    switch (f->type) {
    case GWL_F_AND: {
        const gwl_filter *best = NULL;
        unsigned best_cost = 0;
        for (size_t i = 0; i < f->n_kids; i++) {
            result k = analyze(c, f->kids[i]);
            if (k.s == ST_INDEXED && (!best || k.cost < best_cost)) {
                best = f->kids[i];
                best_cost = k.cost;
            }
        }
        if (best)
            emit(c, best, p);
        return;
    }
    case GWL_F_OR:
        for (size_t i = 0; i < f->n_kids; i++)
            if (analyze(c, f->kids[i]).s == ST_INDEXED)
                emit(c, f->kids[i], p);
        return;
    default: {
        gwl_lookup lk;
        const char *why;
        if (item_lookup(c, f, &lk, &why) == ST_INDEXED)
            push(p, &lk);
        return;
    }
    }
}

/* Drops lookups another one covers: a primary fingerprint by the same fingerprint with
 * subkeys, a primary key ID by the same key ID of any key. */
static void merge(gwl_plan *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++) {
        gwl_lookup *a = &p->v[i];
        bool covered = false;
        for (size_t j = 0; j < p->n && !covered; j++) {
            gwl_lookup *b = &p->v[j];
            covered = ((a->kind == GWL_LK_FPR && b->kind == GWL_LK_FPR_SUB) ||
                       (a->kind == GWL_LK_KEYID && b->kind == GWL_LK_SUBKEYID)) &&
                      a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
        }
        if (!covered)
            p->v[k++] = *a;
    }
    p->n = k;
}

int gwl_plan_keys(const gwl_filter *f, unsigned max_lookups, unsigned min_word_length,
                  gwl_plan *out, const char **why)
{
    ctx c = {.max_lookups = max_lookups ? max_lookups : 1, .min_word = min_word_length};
    if (c.max_lookups > GWL_PLAN_MAX)
        c.max_lookups = GWL_PLAN_MAX;
    out->n = 0;
    out->never = false;
    result r = analyze(&c, f);
    switch (r.s) {
    case ST_NEVER: out->never = true; return 0;
    case ST_UNBOUNDED: *why = r.why; return GWL_LDAP_UNWILLING;
    case ST_OVERLIMIT: *why = r.why; return GWL_LDAP_ADMINLIMIT;
    case ST_INDEXED: break;
    }
    emit(&c, f, out);
    merge(out);
    if (out->n > c.max_lookups) {
        *why = "the filter needs more lookups than [ldap] max_lookups";
        return GWL_LDAP_ADMINLIMIT;
    }
    return 0;
}
