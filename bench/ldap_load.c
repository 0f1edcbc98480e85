/*
 * oks-bench ldap-search: LDAP load for bench/ldap.sh. The searches dirmngr makes, hand-encoded
 * in BER (no LDAP library), over CONNS connections to 127.0.0.1:PORT with one search in flight
 * on each, for random keys of a key list (oks-bench mint --list: "FINGERPRINT EMAIL"):
 *   fpr    (|(gpgFingerprint=F)(gpgSubFingerprint=F)), the attributes of gpg --recv-keys
 *   keyid  (pgpCertID=K), the same attributes
 *   email  (&(gpgMailbox=A)(!(|(pgpRevoked=1)(pgpDisabled=1)))), those of gpg --search-keys
 * Prints: "KIND rps=... p50_ms=... p99_ms=... ok=... empty=... errors=..."; a search is ok when
 * it ends with success and returned at least one entry.
 */
#include "bench/bench.h"

#include "lib/buf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const get_attrs[] = {"pgpKey", "pgpcertid", "pgpuserid", "pgpkeyid",
                                        "pgprevoked", "pgpdisabled", "pgpkeycreatetime",
                                        "modifyTimestamp", "pgpkeysize", "pgpkeytype",
                                        "gpgfingerprint", NULL};
static const char *const search_attrs[] = {"pgpcertid", "pgpuserid", "pgprevoked", "pgpdisabled",
                                           "pgpkeycreatetime", "pgpkeyexpiretime",
                                           "modifyTimestamp", "pgpkeysize", "pgpkeytype",
                                           "gpgfingerprint", NULL};

/* Appends tag, length, body to out. */
static void tlv(oks_buf *out, uint8_t tag, const void *body, size_t n)
{
    uint8_t h[6] = {tag};
    size_t hl = 2;
    if (n < 0x80) {
        h[1] = (uint8_t)n;
    } else if (n < 0x100) {
        h[1] = 0x81, h[2] = (uint8_t)n, hl = 3;
    } else {
        h[1] = 0x82, h[2] = (uint8_t)(n >> 8), h[3] = (uint8_t)n, hl = 4;
    }
    oks_buf_append(out, h, hl);
    oks_buf_append(out, body, n);
}

static void str(oks_buf *out, uint8_t tag, const char *s)
{
    tlv(out, tag, s, strlen(s));
}

static void eq(oks_buf *out, const char *attr, const char *val)
{
    oks_buf b = OKS_BUF_INIT;
    str(&b, 0x04, attr);
    str(&b, 0x04, val);
    tlv(out, 0xA3, b.data, b.len);
    oks_buf_release(&b);
}

static void search_request(oks_buf *out, unsigned id, const char *kind, const char *fpr,
                           const char *email)
{
    oks_buf f = OKS_BUF_INIT, t = OKS_BUF_INIT, body = OKS_BUF_INIT, msg = OKS_BUF_INIT;
    if (strcmp(kind, "fpr") == 0) {
        eq(&t, "gpgFingerprint", fpr);
        eq(&t, "gpgSubFingerprint", fpr);
        tlv(&f, 0xA1, t.data, t.len);
    } else if (strcmp(kind, "keyid") == 0) {
        eq(&f, "pgpCertID", fpr + 24);
    } else {
        oks_buf o = OKS_BUF_INIT, n = OKS_BUF_INIT;
        eq(&o, "pgpRevoked", "1");
        eq(&o, "pgpDisabled", "1");
        tlv(&n, 0xA1, o.data, o.len);
        eq(&t, "gpgMailbox", email);
        tlv(&t, 0xA2, n.data, n.len);
        tlv(&f, 0xA0, t.data, t.len);
        oks_buf_release(&o);
        oks_buf_release(&n);
    }
    str(&body, 0x04, "ou=GnuPG Keys,o=OpenKeyServer");
    oks_buf_append(&body, "\x0a\x01\x02\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00", 15);
    oks_buf_append(&body, f.data, f.len);
    oks_buf a = OKS_BUF_INIT;
    for (const char *const *p = strcmp(kind, "email") == 0 ? search_attrs : get_attrs; *p; p++)
        str(&a, 0x04, *p);
    tlv(&body, 0x30, a.data, a.len);
    uint8_t idb[4] = {(uint8_t)(id >> 16 & 0x7F), (uint8_t)(id >> 8), (uint8_t)id};
    tlv(&msg, 0x02, idb, 3);
    tlv(&msg, 0x63, body.data, body.len);
    out->len = 0;
    tlv(out, 0x30, msg.data, msg.len);
    oks_buf_release(&f);
    oks_buf_release(&t);
    oks_buf_release(&body);
    oks_buf_release(&msg);
    oks_buf_release(&a);
}

/* Length of a BER header at p (n bytes available) and its content length; 0 if incomplete. */
static size_t header(const uint8_t *p, size_t n, size_t *len)
{
    if (n < 2)
        return 0;
    if (!(p[1] & 0x80)) {
        *len = p[1];
        return 2;
    }
    size_t k = p[1] & 0x7F;
    if (k > 4 || n < 2 + k)
        return 0;
    *len = 0;
    for (size_t i = 0; i < k; i++)
        *len = *len << 8 | p[2 + i];
    return 2 + k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct conn {
    int fd;
    oks_buf in;
    double t;
    unsigned entries;
} conn;

int bench_ldap_search(unsigned port, const char *list, double secs, const char *kind,
                      unsigned nconns)
{
    FILE *lf = fopen(list, "r");
    if (!lf) {
        perror(list);
        return 1;
    }
    char (*fprs)[41] = NULL, (*mails)[256] = NULL;
    size_t nk = 0, cap = 0;
    char fpr[64], mail[256];
    while (fscanf(lf, "%63s %255s", fpr, mail) == 2) {
        if (nk == cap) {
            cap = cap ? 2 * cap : 1024;
            fprs = realloc(fprs, cap * sizeof *fprs);
            mails = realloc(mails, cap * sizeof *mails);
        }
        snprintf(fprs[nk], sizeof fprs[nk], "%.40s", fpr);
        snprintf(mails[nk++], sizeof mails[0], "%s", mail);
    }
    fclose(lf);
    if (!nk || !nconns)
        return 2;
    conn *c = calloc(nconns, sizeof *c);
    struct pollfd *pf = calloc(nconns, sizeof *pf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    size_t cap_lat = 1 << 16, nlat = 0;
    double *lat = malloc(cap_lat * sizeof *lat);
    unsigned long ok = 0, empty = 0, errors = 0, id = 0, seed = 1;
    oks_buf req = OKS_BUF_INIT;
    double t0 = bench_now_s(), end = t0 + secs;
    for (unsigned i = 0; i < nconns; i++) {
        c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c[i].fd, (struct sockaddr *)&sa, sizeof sa)) {
            perror("connect");
            return 1;
        }
        pf[i] = (struct pollfd){.fd = c[i].fd, .events = POLLIN};
    }
#define SEND(i)                                                                                  \
    do {                                                                                         \
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;                             \
        size_t k_ = (size_t)(seed >> 33) % nk;                                                   \
        search_request(&req, (unsigned)++id, kind, fprs[k_], mails[k_]);                         \
        c[i].t = bench_now_s();                                                                  \
        c[i].entries = 0;                                                                        \
        if (write(c[i].fd, req.data, req.len) != (ssize_t)req.len) {                             \
            perror("write");                                                                     \
            return 1;                                                                            \
        }                                                                                        \
    } while (0)
    for (unsigned i = 0; i < nconns; i++)
        SEND(i);
    uint8_t buf[65536];
    while (bench_now_s() < end) {
        if (poll(pf, nconns, 1000) <= 0)
            continue;
        for (unsigned i = 0; i < nconns; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(c[i].fd, buf, sizeof buf);
            if (n <= 0) {
                fprintf(stderr, "ldap-search: connection closed\n");
                return 1;
            }
            oks_buf_append(&c[i].in, buf, (size_t)n);
            size_t off = 0;
            for (;;) {
                size_t len, h = header(c[i].in.data + off, c[i].in.len - off, &len);
                if (!h || c[i].in.len - off < h + len)
                    break;
                const uint8_t *m = c[i].in.data + off + h; /* msgid INTEGER, then the op */
                uint8_t op = m[2 + m[1]];
                if (op == 0x64) {
                    c[i].entries++;
                } else if (op == 0x65) {
                    size_t ol, oh = header(m + 2 + m[1], len - 2 - m[1], &ol);
                    uint8_t code = m[2 + m[1] + oh + 2]; /* resultCode: ENUMERATED, 1 byte */
                    if (nlat == cap_lat)
                        lat = realloc(lat, (cap_lat *= 2) * sizeof *lat);
                    lat[nlat++] = bench_now_s() - c[i].t;
                    if (code)
                        errors++;
                    else if (!c[i].entries)
                        empty++;
                    else
                        ok++;
                    if (bench_now_s() < end)
                        SEND(i);
                }
                off += h + len;
            }
            memmove(c[i].in.data, c[i].in.data + off, c[i].in.len - off);
            c[i].in.len -= off;
        }
    }
    double took = bench_now_s() - t0;
    qsort(lat, nlat, sizeof *lat, cmp_double);
    printf("%s rps=%.0f p50_ms=%.2f p99_ms=%.2f ok=%lu empty=%lu errors=%lu\n", kind,
           (double)nlat / took, nlat ? lat[nlat / 2] * 1e3 : 0,
           nlat ? lat[(size_t)((double)nlat * 0.99)] * 1e3 : 0, ok, empty, errors);
    for (unsigned i = 0; i < nconns; i++) {
        close(c[i].fd);
        oks_buf_release(&c[i].in);
    }
    free(c);
    free(pf);
    free(lat);
    free(fprs);
    free(mails);
    oks_buf_release(&req);
    return errors || empty ? 1 : 0;
}
