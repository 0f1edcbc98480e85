/*
 * The C driver of tests/integration/1A-etcd-client.sh: runs lib/etcd.h against a real etcd.
 *
 *   etcd_check [-e ENDPOINTS] [-c CA] [-C CERT] [-K KEY] [-t TIMEOUT_MS] [-m MAX_ANSWER] CMD ARGS
 *
 *   basic PREFIX             the unary calls, with their checks: TAP lines, exit 1 on a failure
 *   lease PREFIX             a lease expiring, renewed and revoked (TAP lines)
 *   get KEY | put KEY VAL | put-if KEY EXPECT_REV VAL | delete KEY | list PREFIX [MAX]
 *   rev                      the store's revision
 *   watch PREFIX FROM N      prints each event ("put KEY VAL REV", "delete KEY REV"), exits 0
 *                            after N events
 *
 * A failed call prints "ERR NAME: message" (NAME from oks_strerror) and exits 1; the time it
 * took goes to stderr ("took N ms") so a script can report it.
 */
#include "lib/etcd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int failed;

static void tap(int ok, const char *what, const oks_err *e)
{
    printf("%s - %s", ok ? "ok" : "not ok", what);
    if (!ok && e && e->msg[0])
        printf(" (%s: %s)", oks_strerror(e->code), e->msg);
    printf("\n");
    fflush(stdout);
    if (!ok)
        failed = 1;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int err_out(int r, const oks_err *e)
{
    printf("ERR %s: %s\n", oks_strerror(r), e->msg);
    return 1;
}

static char *key_of(const char *prefix, const char *name)
{
    static char k[64][256]; /* enough for every key of one run */
    static int i;
    i = (i + 1) % 64;
    snprintf(k[i], sizeof k[i], "%s%s", prefix, name);
    return k[i];
}

static int run_basic(oks_etcd *c, oks_etcd *c2, const char *p)
{
    oks_err e;
    oks_etcd_kv kv;
    int64_t rev = 0, r1 = 0, r2 = 0;
    const char *a = key_of(p, "a"), *b = key_of(p, "b");

    int r = oks_etcd_get(c, a, &kv, &rev, &e);
    tap(r == OKS_E_NOTFOUND && kv.key == NULL, "get of an absent key is OKS_E_NOTFOUND", &e);
    r = oks_etcd_put(c, a, "one\0x", 5, 0, &r1, &e);
    tap(r == 0 && r1 > 0, "put returns the new revision", &e);
    r = oks_etcd_get(c, a, &kv, &rev, &e);
    tap(r == 0 && kv.len == 5 && memcmp(kv.val, "one\0x", 5) == 0 && kv.mod_rev == r1 &&
            kv.create_rev == r1 && rev >= r1 && strcmp(kv.key, a) == 0,
        "get returns value (binary), revisions and the key", &e);
    oks_etcd_kv_release(&kv);

    /* list: sorted, bounded, prefix only */
    oks_etcd_put(c, key_of(p, "c"), "3", 1, 0, NULL, &e);
    oks_etcd_put(c, b, "2", 1, 0, NULL, &e);
    char outside[300];
    snprintf(outside, sizeof outside, "%.*s~", (int)strlen(p) - 1, p);
    oks_etcd_put(c, outside, "x", 1, 0, NULL, &e);
    oks_etcd_kv *kvs;
    size_t n;
    r = oks_etcd_list(c, p, 0, &kvs, &n, &rev, &e);
    tap(r == 0 && n == 3 && strcmp(kvs[0].key, a) == 0 && strcmp(kvs[1].key, b) == 0 &&
            strcmp(kvs[2].key, key_of(p, "c")) == 0 && kvs[1].len == 1 && kvs[1].val[0] == '2',
        "list returns the keys under the prefix, sorted by key", &e);
    oks_etcd_kvs_free(kvs, n);
    r = oks_etcd_list(c, p, 3, &kvs, &n, NULL, &e);
    tap(r == 0 && n == 3, "list with max = the count succeeds", &e);
    oks_etcd_kvs_free(kvs, n);
    r = oks_etcd_list(c, p, 2, &kvs, &n, NULL, &e);
    tap(r == OKS_E_LIMIT && n == 0 && kvs == NULL, "list with max below the count is OKS_E_LIMIT",
        &e);
    oks_etcd_delete(c, outside, &e);

    /* compare-and-swap */
    r = oks_etcd_put_if(c, a, "two", 3, r1, &r2, &e);
    tap(r == 0 && r2 > r1, "put_if on the current mod_revision writes", &e);
    r = oks_etcd_put_if(c, a, "three", 5, r1, NULL, &e);
    char want[64];
    snprintf(want, sizeof want, "found %lld", (long long)r2);
    tap(r == OKS_E_STATE && strstr(e.msg, a) && strstr(e.msg, want),
        "put_if on a stale revision is OKS_E_STATE naming the key and the revisions", &e);
    r = oks_etcd_put_if(c, key_of(p, "new"), "n", 1, 0, NULL, &e);
    tap(r == 0, "put_if with 0 creates an absent key", &e);
    r = oks_etcd_put_if(c, key_of(p, "new"), "n", 1, 0, NULL, &e);
    tap(r == OKS_E_STATE, "put_if with 0 on an existing key is refused", &e);

    /* the race: two clients CAS on the same revision; exactly one wins */
    oks_etcd_kv k1, k2;
    oks_etcd_get(c, a, &k1, NULL, &e);
    oks_etcd_get(c2, a, &k2, NULL, &e);
    oks_err e1, e2;
    int w1 = oks_etcd_put_if(c, a, "from-1", 6, k1.mod_rev, NULL, &e1);
    int w2 = oks_etcd_put_if(c2, a, "from-2", 6, k2.mod_rev, NULL, &e2);
    tap(k1.mod_rev == k2.mod_rev && ((w1 == 0 && w2 == OKS_E_STATE) ||
                                     (w2 == 0 && w1 == OKS_E_STATE)),
        "two put_if on the same revision: exactly one wins", w1 ? &e1 : &e2);
    oks_etcd_kv_release(&k1);
    oks_etcd_kv_release(&k2);
    oks_etcd_get(c, a, &kv, NULL, &e);
    tap(kv.len == 6 && memcmp(kv.val, "from-1", 6) == 0, "the winner's value is stored", &e);
    int64_t a_rev = kv.mod_rev;
    oks_etcd_kv_release(&kv);

    /* transactions */
    oks_etcd_get(c, b, &kv, NULL, &e);
    int64_t b_rev = kv.mod_rev;
    oks_etcd_kv_release(&kv);
    oks_etcd_cmp cmps[] = {{a, a_rev}, {b, b_rev}, {key_of(p, "move"), 0}};
    oks_etcd_op ops[] = {{.kind = OKS_ETCD_PUT, .key = a, .val = "map2", .len = 4},
                         {.kind = OKS_ETCD_PUT, .key = key_of(p, "move"), .val = "m", .len = 1},
                         {.kind = OKS_ETCD_DELETE, .key = b}};
    int64_t trev = 0;
    r = oks_etcd_txn(c, cmps, 3, ops, 3, &trev, &e);
    tap(r == 0 && trev > a_rev, "txn whose compares hold applies", &e);
    r = oks_etcd_get(c, b, &kv, NULL, &e);
    int b_gone = r == OKS_E_NOTFOUND;
    r = oks_etcd_get(c, key_of(p, "move"), &kv, NULL, &e);
    tap(b_gone && r == 0 && kv.mod_rev == trev, "txn's puts and deletes are all there, at one "
        "revision", &e);
    oks_etcd_kv_release(&kv);
    r = oks_etcd_txn(c, cmps, 3, ops, 3, NULL, &e);
    tap(r == OKS_E_STATE && strstr(e.msg, a), "txn on stale revisions is OKS_E_STATE naming the "
        "first changed key", &e);
    oks_etcd_get(c, a, &kv, NULL, &e);
    tap(kv.mod_rev == trev, "a refused txn changes nothing", &e);
    oks_etcd_kv_release(&kv);
    oks_etcd_op pre = {.kind = OKS_ETCD_DELETE_PREFIX, .key = key_of(p, "n")};
    r = oks_etcd_txn(c, NULL, 0, &pre, 1, NULL, &e);
    tap(r == 0 && oks_etcd_get(c, key_of(p, "new"), &kv, NULL, &e) == OKS_E_NOTFOUND,
        "txn without compares deletes a prefix", &e);

    /* delete */
    r = oks_etcd_delete(c, a, &e);
    tap(r == 0 && oks_etcd_get(c, a, &kv, NULL, &e) == OKS_E_NOTFOUND, "delete removes the key",
        &e);
    r = oks_etcd_delete(c, a, &e);
    tap(r == OKS_E_NOTFOUND, "delete of an absent key is OKS_E_NOTFOUND", &e);
    r = oks_etcd_put(c, "", "x", 1, 0, NULL, &e);
    tap(r == OKS_E_ARG, "an empty key is OKS_E_ARG", &e);
    return failed;
}

static int run_lease(oks_etcd *c, const char *p)
{
    oks_err e;
    oks_etcd_kv kv;
    int64_t l1 = 0, l2 = 0;
    const char *k1 = key_of(p, "l1"), *k2 = key_of(p, "l2");
    int r = oks_etcd_lease_grant(c, 2, &l1, &e);
    tap(r == 0 && l1 > 0, "lease_grant returns a lease", &e);
    oks_etcd_lease_grant(c, 60, &l2, &e);
    r = oks_etcd_put(c, k1, "v", 1, l1, NULL, &e);
    oks_etcd_put(c, k2, "v", 1, l2, NULL, &e);
    int got = oks_etcd_get(c, k1, &kv, NULL, &e);
    tap(r == 0 && got == 0 && kv.lease == l1, "a key put with a lease carries it", &e);
    oks_etcd_kv_release(&kv);
    r = oks_etcd_lease_keepalive(c, l1, &e);
    tap(r == 0, "lease_keepalive renews a live lease", &e);
    /* no renewal: the key goes with the lease (etcd's clock; polled, no time asserted) */
    for (int i = 0; i < 300 && (r = oks_etcd_get(c, k1, &kv, NULL, &e)) == 0; i++) {
        oks_etcd_kv_release(&kv);
        usleep(100000);
    }
    tap(r == OKS_E_NOTFOUND, "a key whose lease expires is deleted", &e);
    r = oks_etcd_lease_keepalive(c, l1, &e);
    tap(r == OKS_E_NOTFOUND, "lease_keepalive of an expired lease is OKS_E_NOTFOUND", &e);
    r = oks_etcd_lease_revoke(c, l2, &e);
    tap(r == 0 && oks_etcd_get(c, k2, &kv, NULL, &e) == OKS_E_NOTFOUND,
        "lease_revoke deletes its keys at once", &e);
    r = oks_etcd_lease_revoke(c, l2, &e);
    tap(r == OKS_E_NOTFOUND, "lease_revoke of an unknown lease is OKS_E_NOTFOUND", &e);
    return failed;
}

typedef struct wstate {
    long left;
} wstate;

static int on_event(void *arg, int is_delete, const oks_etcd_kv *kv, int64_t rev)
{
    wstate *w = arg;
    if (is_delete)
        printf("delete %s %lld\n", kv->key, (long long)rev);
    else
        printf("put %s %.*s %lld\n", kv->key, (int)kv->len, (const char *)kv->val,
               (long long)rev);
    fflush(stdout);
    return --w->left <= 0 ? 1 : 0;
}

static volatile int stop_flag;
static void on_term(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: etcd_check [-e ENDPOINTS] [-c CA] [-C CERT] [-K KEY] [-u USER -p PASSWORD_FILE] [-t MS] "
                    "[-m BYTES] basic|lease|get|put|put-wait|put-if|delete|list|rev|watch ARGS\n");
    return 2;
}

int main(int argc, char **argv)
{
    oks_etcd_opts o = {.endpoints = "http://127.0.0.1:2379"};
    int opt;
    while ((opt = getopt(argc, argv, "e:c:C:K:u:p:t:m:")) != -1) {
        switch (opt) {
        case 'e': o.endpoints = optarg; break;
        case 'c': o.ca_file = optarg; break;
        case 'C': o.cert_file = optarg; break;
        case 'K': o.key_file = optarg; break;
        case 'u': o.user = optarg; break;
        case 'p': o.password_file = optarg; break;
        case 't': o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'm': o.max_answer = strtoul(optarg, NULL, 10); break;
        default: return usage();
        }
    }
    if (optind >= argc)
        return usage();
    const char *cmd = argv[optind];
    char **a = argv + optind + 1;
    int na = argc - optind - 1;
    oks_err e;
    oks_etcd *c, *c2 = NULL;
    uint64_t t0 = now_ms();
    int r = oks_etcd_open(&o, &c, &e);
    if (r) {
        fprintf(stderr, "took %llu ms\n", (unsigned long long)(now_ms() - t0));
        return err_out(r, &e);
    }
    int64_t rev = 0;
    oks_etcd_kv kv;
    if (strcmp(cmd, "basic") == 0 && na == 1) {
        if ((r = oks_etcd_open(&o, &c2, &e)) != 0)
            return err_out(r, &e);
        r = run_basic(c, c2, a[0]);
        oks_etcd_close(c2);
    } else if (strcmp(cmd, "lease") == 0 && na == 1) {
        r = run_lease(c, a[0]);
    } else if (strcmp(cmd, "get") == 0 && na == 1) {
        if ((r = oks_etcd_get(c, a[0], &kv, &rev, &e)) == 0)
            printf("%.*s mod=%lld create=%lld\n", (int)kv.len, (const char *)kv.val,
                   (long long)kv.mod_rev, (long long)kv.create_rev);
        oks_etcd_kv_release(&kv);
    } else if (strcmp(cmd, "put") == 0 && na == 2) {
        if ((r = oks_etcd_put(c, a[0], a[1], strlen(a[1]), 0, &rev, &e)) == 0)
            printf("rev=%lld\n", (long long)rev);
    } else if (strcmp(cmd, "put-wait") == 0 && na == 3) {
        /* put, wait until the file a[2] exists, put again on the same client (its token) */
        if ((r = oks_etcd_put(c, a[0], a[1], strlen(a[1]), 0, &rev, &e)) == 0) {
            printf("rev=%lld\n", (long long)rev);
            fflush(stdout);
            for (int i = 0; i < 600 && access(a[2], F_OK) != 0; i++)
                usleep(100 * 1000);
            if ((r = oks_etcd_put(c, a[0], a[1], strlen(a[1]), 0, &rev, &e)) == 0)
                printf("rev=%lld\n", (long long)rev);
        }
    } else if (strcmp(cmd, "put-if") == 0 && na == 3) {
        if ((r = oks_etcd_put_if(c, a[0], a[2], strlen(a[2]), strtoll(a[1], NULL, 10), &rev,
                                 &e)) == 0)
            printf("rev=%lld\n", (long long)rev);
    } else if (strcmp(cmd, "delete") == 0 && na == 1) {
        r = oks_etcd_delete(c, a[0], &e);
    } else if (strcmp(cmd, "list") == 0 && (na == 1 || na == 2)) {
        oks_etcd_kv *kvs;
        size_t n;
        if ((r = oks_etcd_list(c, a[0], na == 2 ? strtoul(a[1], NULL, 10) : 0, &kvs, &n, &rev,
                               &e)) == 0)
            for (size_t i = 0; i < n; i++)
                printf("%s=%.*s\n", kvs[i].key, (int)kvs[i].len, (const char *)kvs[i].val);
        if (r == 0)
            oks_etcd_kvs_free(kvs, n);
    } else if (strcmp(cmd, "rev") == 0 && na == 0) {
        if ((r = oks_etcd_get(c, "\x01", &kv, &rev, &e)) == 0 || r == OKS_E_NOTFOUND) {
            printf("%lld\n", (long long)rev);
            r = 0;
        }
        oks_etcd_kv_release(&kv);
    } else if (strcmp(cmd, "watch") == 0 && na == 3) {
        signal(SIGTERM, on_term);
        wstate w = {.left = strtol(a[2], NULL, 10)};
        r = oks_etcd_watch(c, a[0], strtoll(a[1], NULL, 10), on_event, &w, &stop_flag, &e);
        if (r == 1)
            r = 0;
    } else {
        oks_etcd_close(c);
        return usage();
    }
    fprintf(stderr, "took %llu ms\n", (unsigned long long)(now_ms() - t0));
    oks_etcd_close(c);
    if (r < 0)
        return err_out(r, &e);
    return r ? 1 : 0;
}
