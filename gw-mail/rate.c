/*
 * Rate limits of the mail gateway (see mail.h): a mail is admitted (and charged) before its
 * command runs, so the limits bound work, not only replies. Counters are kept per reply mailbox
 * ("m:" + normalized address) and per reply domain ("d:" + domain) in one chained hash map
 * keyed by the whole string: two addresses never share a counter, whatever their hashes. The
 * hash is seeded at random so that chosen addresses cannot pile into one chain.
 *
 * Bounded size without a reset lever: an entry is removed only once its window has passed (its
 * counts are void then anyway); a full map of live entries refuses new addresses instead of
 * evicting one. Entries are created only for admitted mails, and every admitted mail is counted
 * by the global limit, so at most 2 * global * (sender_window / global_window + 1) entries are
 * live at once: the default size is that, and the map cannot be filled to refuse anyone.
 */
#include "gw-mail/mail.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <gcrypt.h>
#include <stdlib.h>
#include <string.h>

typedef struct rate_entry {
    struct rate_entry *next;
    uint64_t h;
    int64_t start;     /* window start */
    uint64_t n;        /* mails admitted in the window */
    uint64_t bytes;    /* reply bytes sent in the window */
    uint64_t scan;     /* scan units used in the window */
    char key[];        /* "m:addr" or "d:domain" */
} rate_entry;

struct oks_mail_rate {
    oks_mail_rate_conf c;
    rate_entry **bucket;
    size_t n_buckets; /* power of two */
    size_t n_entries, max_entries;
    uint64_t seed;
    int64_t g_start;
    uint64_t g_n, g_scan;
};

int oks_mail_addr_normalize(const char *addr, char *out, size_t size)
{
    if (addr == NULL)
        return OKS_E_FORMAT;
    while (*addr == ' ' || *addr == '<')
        addr++;
    size_t len = strcspn(addr, "> ");
    const char *at = memrchr(addr, '@', len);
    if (at == NULL || at == addr || at + 1 == addr + len)
        return OKS_E_FORMAT;
    size_t local = (size_t)(at - addr);
    const char *plus = memchr(addr, '+', local);
    if (plus && plus > addr)
        local = (size_t)(plus - addr);
    size_t dom = len - (size_t)(at - addr) - 1;
    while (dom > 1 && at[dom] == '.')
        dom--;
    if (local + 1 + dom + 1 > size)
        return OKS_E_FORMAT;
    size_t o = 0;
    for (size_t i = 0; i < local; i++)
        out[o++] = (char)tolower((unsigned char)addr[i]);
    out[o++] = '@';
    for (size_t i = 0; i < dom; i++)
        out[o++] = (char)tolower((unsigned char)at[1 + i]);
    out[o] = '\0';
    return 0;
}

oks_mail_rate *oks_mail_rate_new(const oks_mail_rate_conf *c)
{
    oks_mail_rate *r = oks_xcalloc(1, sizeof(*r));
    r->c = *c;
    if (r->c.sender_window_s == 0)
        r->c.sender_window_s = 3600;
    if (r->c.global_window_s == 0)
        r->c.global_window_s = 60;
    size_t max = c->max_entries;
    if (max == 0) {
        uint64_t windows = r->c.sender_window_s / r->c.global_window_s + 1;
        uint64_t m = c->global ? 2 * (uint64_t)c->global * windows : OKS_MAIL_RATE_MAX_ENTRIES;
        max = m > OKS_MAIL_RATE_MAX_ENTRIES ? OKS_MAIL_RATE_MAX_ENTRIES : (size_t)m;
    }
    r->max_entries = max;
    r->n_buckets = 16;
    while (r->n_buckets < max && r->n_buckets < OKS_MAIL_RATE_MAX_ENTRIES)
        r->n_buckets <<= 1;
    r->bucket = oks_xcalloc(r->n_buckets, sizeof(*r->bucket));
    gcry_create_nonce(&r->seed, sizeof(r->seed));
    return r;
}

void oks_mail_rate_set_limits(oks_mail_rate *r, const oks_mail_rate_conf *c)
{
    r->c.per_sender = c->per_sender;
    r->c.per_domain = c->per_domain;
    r->c.bytes_per_sender = c->bytes_per_sender;
    r->c.bytes_per_domain = c->bytes_per_domain;
    r->c.scan_per_sender = c->scan_per_sender;
    r->c.global = c->global;
    r->c.scan_global = c->scan_global;
}

void oks_mail_rate_free(oks_mail_rate *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_buckets; i++)
        for (rate_entry *e = r->bucket[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    free(r->bucket);
    free(r);
}

size_t oks_mail_rate_entries(const oks_mail_rate *r)
{
    return r->n_entries;
}

static uint64_t key_hash(const oks_mail_rate *r, const char *k)
{
    uint64_t h = 1469598103934665603ull ^ r->seed; /* FNV-1a, seeded */
    for (; *k; k++) {
        h ^= (unsigned char)*k;
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

static bool expired(const oks_mail_rate *r, const rate_entry *e, int64_t now)
{
    return now - e->start >= (int64_t)r->c.sender_window_s || now < e->start;
}

static rate_entry *find(oks_mail_rate *r, const char *k, uint64_t h)
{
    for (rate_entry *e = r->bucket[h & (r->n_buckets - 1)]; e; e = e->next)
        if (e->h == h && strcmp(e->key, k) == 0)
            return e;
    return NULL;
}

/* Removes every entry whose window has passed; returns how many. */
static size_t sweep(oks_mail_rate *r, int64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_buckets; i++)
        for (rate_entry **pp = &r->bucket[i]; *pp;) {
            if (expired(r, *pp, now)) {
                rate_entry *dead = *pp;
                *pp = dead->next;
                free(dead);
                n++;
            } else {
                pp = &(*pp)->next;
            }
        }
    r->n_entries -= n;
    return n;
}

/* The live entry of k, NULL when there is none (an expired one is reset, not returned). */
static rate_entry *lookup(oks_mail_rate *r, const char *k, int64_t now)
{
    rate_entry *e = find(r, k, key_hash(r, k));
    if (e && expired(r, e, now)) {
        e->start = now;
        e->n = e->bytes = e->scan = 0;
    }
    return e;
}

/* The entry of k, created when missing; NULL when the map is full of live entries. */
static rate_entry *obtain(oks_mail_rate *r, const char *k, int64_t now)
{
    rate_entry *e = lookup(r, k, now);
    if (e)
        return e;
    if (r->n_entries >= r->max_entries && sweep(r, now) == 0)
        return NULL;
    size_t kl = strlen(k);
    e = oks_xcalloc(1, sizeof(*e) + kl + 1);
    memcpy(e->key, k, kl + 1);
    e->h = key_hash(r, k);
    e->start = now;
    size_t b = e->h & (r->n_buckets - 1);
    e->next = r->bucket[b];
    r->bucket[b] = e;
    r->n_entries++;
    return e;
}

static void global_roll(oks_mail_rate *r, int64_t now)
{
    if (now - r->g_start >= (int64_t)r->c.global_window_s || now < r->g_start) {
        r->g_start = now;
        r->g_n = r->g_scan = 0;
    }
}

/* "m:normalized" and "d:domain" keys of addr; false when addr is not an address. */
static bool keys_of(const char *addr, char mk[264], char dk[264])
{
    char norm[260];
    if (oks_mail_addr_normalize(addr, norm, sizeof(norm)) != 0)
        return false;
    memcpy(mk, "m:", 2);
    strcpy(mk + 2, norm);
    memcpy(dk, "d:", 2);
    strcpy(dk + 2, strrchr(norm, '@') + 1);
    return true;
}

const char *oks_mail_rate_admit(oks_mail_rate *r, const char *addr, bool needs_scan,
                                int64_t now)
{
    char mk[264], dk[264];
    if (!keys_of(addr, mk, dk))
        return "reply address not usable";
    global_roll(r, now);
    if (r->c.global && r->g_n >= r->c.global)
        return "over the global rate limit";
    if (needs_scan && r->c.scan_global && r->g_scan >= r->c.scan_global)
        return "over the global scan budget (MGET, LAST)";
    rate_entry *m = lookup(r, mk, now), *d = lookup(r, dk, now);
    if (r->c.per_sender && m && m->n >= r->c.per_sender)
        return "over the rate limit of its reply address";
    if (r->c.per_domain && d && d->n >= r->c.per_domain)
        return "over the rate limit of its reply domain";
    if (r->c.bytes_per_sender && m && m->bytes >= r->c.bytes_per_sender)
        return "over the reply bytes of its reply address";
    if (r->c.bytes_per_domain && d && d->bytes >= r->c.bytes_per_domain)
        return "over the reply bytes of its reply domain";
    if (needs_scan && r->c.scan_per_sender && m && m->scan >= r->c.scan_per_sender)
        return "over the scan budget (MGET, LAST) of its reply address";
    if ((m = obtain(r, mk, now)) == NULL || (d = obtain(r, dk, now)) == NULL)
        return "rate table full of live entries";
    m->n++;
    d->n++;
    r->g_n++;
    return NULL;
}

void oks_mail_rate_refund(oks_mail_rate *r, const char *addr, int64_t now)
{
    char mk[264], dk[264];
    if (!keys_of(addr, mk, dk))
        return;
    rate_entry *m = lookup(r, mk, now), *d = lookup(r, dk, now);
    if (m && m->n)
        m->n--;
    if (d && d->n)
        d->n--;
    global_roll(r, now);
    if (r->g_n)
        r->g_n--;
}

uint64_t oks_mail_rate_scan_left(oks_mail_rate *r, const char *addr, int64_t now)
{
    uint64_t left = UINT64_MAX;
    global_roll(r, now);
    if (r->c.scan_global)
        left = r->g_scan >= r->c.scan_global ? 0 : r->c.scan_global - r->g_scan;
    char mk[264], dk[264];
    if (r->c.scan_per_sender) {
        if (!keys_of(addr, mk, dk))
            return 0;
        rate_entry *m = lookup(r, mk, now);
        uint64_t used = m ? m->scan : 0;
        uint64_t own = used >= r->c.scan_per_sender ? 0 : r->c.scan_per_sender - used;
        if (own < left)
            left = own;
    }
    return left;
}

void oks_mail_rate_charge_scan(oks_mail_rate *r, const char *addr, uint64_t units, int64_t now)
{
    char mk[264], dk[264];
    global_roll(r, now);
    r->g_scan += units;
    rate_entry *m = keys_of(addr, mk, dk) ? obtain(r, mk, now) : NULL;
    if (m)
        m->scan += units;
}

bool oks_mail_rate_bytes_fit(oks_mail_rate *r, const char *addr, uint64_t bytes, int64_t now)
{
    char mk[264], dk[264];
    if (!keys_of(addr, mk, dk))
        return false;
    rate_entry *m = lookup(r, mk, now), *d = lookup(r, dk, now);
    uint64_t mb = m ? m->bytes : 0, db = d ? d->bytes : 0;
    if (r->c.bytes_per_sender && mb + bytes > r->c.bytes_per_sender)
        return false;
    if (r->c.bytes_per_domain && db + bytes > r->c.bytes_per_domain)
        return false;
    return true;
}

uint64_t oks_mail_rate_bytes_left(oks_mail_rate *r, const char *addr, int64_t now)
{
    char mk[264], dk[264];
    if (!keys_of(addr, mk, dk))
        return 0;
    rate_entry *m = lookup(r, mk, now), *d = lookup(r, dk, now);
    uint64_t left = UINT64_MAX, mb = m ? m->bytes : 0, db = d ? d->bytes : 0;
    if (r->c.bytes_per_sender)
        left = mb >= r->c.bytes_per_sender ? 0 : r->c.bytes_per_sender - mb;
    if (r->c.bytes_per_domain) {
        uint64_t dl = db >= r->c.bytes_per_domain ? 0 : r->c.bytes_per_domain - db;
        if (dl < left)
            left = dl;
    }
    return left;
}

void oks_mail_rate_charge_bytes(oks_mail_rate *r, const char *addr, uint64_t bytes, int64_t now)
{
    char mk[264], dk[264];
    if (!keys_of(addr, mk, dk))
        return;
    rate_entry *m = obtain(r, mk, now), *d = obtain(r, dk, now);
    if (m)
        m->bytes += bytes;
    if (d)
        d->bytes += bytes;
}
