/*
 * sync/recon: recon session state machines (see recon.h). Input is buffered in `in`; output
 * is buffered in `out` and written only at a Flush (sent or received), at the verdicts and at
 * the end, which is what both SKS and conflux expect.
 */
#include "sync/recon.h"
#include "lib/xalloc.h"
#include "lib/clock.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

void oks_recon_opts_default(oks_recon_opts *o)
{
    memset(o, 0, sizeof *o);
    oks_recon_limits_default(&o->lim);
    o->cfg = (oks_recon_config){"1.1.6", 11371, 2, OKS_RECON_MBAR, "yminsky.dedup,yminsky.merge"};
    o->config_timeout_ms = 45000;
    o->read_timeout_ms = 60000;
    o->session_timeout_ms = 3600000;
    o->max_outstanding = 100;
    o->full_below = 150;
    o->max_fetch = 1000000;
}

void oks_recon_result_release(oks_recon_result *r)
{
    free(r->fetch);
    memset(r, 0, sizeof *r);
}

typedef struct conn {
    int fd;
    oks_buf in, out;
    size_t in_off;
    int64_t deadline; /* whole session, ms */
    const oks_recon_opts *o;
    oks_err *e;
} conn;

static int wait_fd(conn *c, short ev, int timeout_ms, const char *what)
{
    int64_t left = c->deadline - oks_now_ms();
    if (left <= 0)
        return oks_err_set(c->e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "recon session deadline passed");
    if (timeout_ms < 0 || timeout_ms > left)
        timeout_ms = (int)left;
    struct pollfd p = {c->fd, ev, 0};
    int r;
    do
        r = poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return oks_err_set(c->e, OKS_E_IO, OKS_NO_OFFSET, "poll: %s", strerror(errno));
    if (r == 0)
        return oks_err_set(c->e, OKS_E_TIMEOUT, OKS_NO_OFFSET, "peer silent %d ms while %s",
                           timeout_ms, what);
    return 0;
}

static int conn_flush(conn *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int rc = wait_fd(c, POLLOUT, c->o->read_timeout_ms, "writing");
            if (rc)
                return rc;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return oks_err_set(c->e, OKS_E_IO, OKS_NO_OFFSET, "send: %s", strerror(errno));
    }
    c->out.len = 0;
    return 0;
}

/* reads what is available; timeout 0 = do not wait. Returns 0, 1 (nothing yet) or error. */
static int conn_fill(conn *c, int timeout_ms, const char *what)
{
    if (c->in_off > 0 && c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off > 65536) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
    if (timeout_ms > 0) {
        int rc = wait_fd(c, POLLIN, timeout_ms, what);
        if (rc)
            return rc;
    }
    if (oks_buf_reserve(&c->in, 65536))
        return oks_err_set(c->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    ssize_t n;
    do
        n = recv(c->fd, c->in.data + c->in.len, 65536, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 1;
    if (n < 0)
        return oks_err_set(c->e, OKS_E_IO, OKS_NO_OFFSET, "recv: %s", strerror(errno));
    if (n == 0)
        return oks_err_set(c->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer closed the connection while %s",
                           what);
    c->in.len += (size_t)n;
    return 0;
}

static size_t avail(const conn *c)
{
    return c->in.len - c->in_off;
}

/* 1 and *m filled if a whole message is buffered, 0 if not yet, or error */
static int try_msg(conn *c, oks_recon_msg *m)
{
    uint32_t len;
    if (avail(c) < 4)
        return 0;
    int rc = oks_recon_frame_len(c->in.data + c->in_off, &c->o->lim, &len, c->e);
    if (rc)
        return rc;
    if (avail(c) - 4 < len)
        return 0;
    rc = oks_recon_msg_parse(c->in.data + c->in_off + 4, len, &c->o->lim, m, c->e);
    if (rc)
        return rc;
    c->in_off += 4 + (size_t)len;
    return 1;
}

static int read_msg(conn *c, oks_recon_msg *m, int timeout_ms, const char *what)
{
    for (;;) {
        int rc = try_msg(c, m);
        if (rc)
            return rc < 0 ? rc : 0;
        rc = conn_fill(c, timeout_ms, what);
        if (rc < 0)
            return rc;
    }
}

/* unframed string (verdicts), at most 4096 bytes */
static int read_string(conn *c, char *out, size_t size, int timeout_ms)
{
    for (;;) {
        if (avail(c) >= 4) {
            uint32_t l = oks_be32(c->in.data + c->in_off);
            if (l > 4096)
                return oks_err_set(c->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                                   "config verdict string of %u bytes", l);
            if (avail(c) - 4 >= l) {
                size_t k = l < size - 1 ? l : size - 1;
                memcpy(out, c->in.data + c->in_off + 4, k);
                out[k] = '\0';
                for (size_t i = 0; i < k; i++)
                    if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
                        out[i] = '?';
                c->in_off += 4 + (size_t)l;
                return 0;
            }
        }
        int rc = conn_fill(c, timeout_ms, "reading the config verdict");
        if (rc < 0)
            return rc;
    }
}

static int config_exchange(conn *c, oks_recon_result *res)
{
    oks_recon_msg m;
    int rc = oks_recon_config_write(&c->out, &c->o->cfg);
    if (rc == 0)
        rc = conn_flush(c);
    if (rc == 0)
        rc = read_msg(c, &m, c->o->config_timeout_ms, "waiting for Config");
    if (rc)
        return rc;
    oks_err ce;
    oks_err_clear(&ce);
    int bad = oks_recon_config_check(&m, &c->o->cfg, &res->peer_http_port, &ce);
    oks_recon_msg_release(&m);
    rc = oks_recon_verdict_write(&c->out, bad ? ce.msg : NULL);
    if (rc == 0)
        rc = conn_flush(c);
    if (rc)
        return rc;
    if (bad)
        return oks_err_set(c->e, OKS_E_PROTO, OKS_NO_OFFSET, "we refused the peer's config: %s",
                           ce.msg);
    char verdict[64], reason[256];
    rc = read_string(c, verdict, sizeof verdict, c->o->config_timeout_ms);
    if (rc)
        return rc;
    if (strcmp(verdict, "passed") == 0)
        return 0;
    if (strcmp(verdict, "failed") == 0) {
        if (read_string(c, reason, sizeof reason, c->o->config_timeout_ms))
            snprintf(reason, sizeof reason, "(no reason)");
        return oks_err_set(c->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer refused our config: %s",
                           reason);
    }
    return oks_err_set(c->e, OKS_E_PROTO, OKS_NO_OFFSET, "config verdict \"%s\"", verdict);
}

/* ---- element sets ---------------------------------------------------------------------- */

static int cmp_words(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(oks_zzp));
}

/* out = a \ b (both sorted by raw words); out malloc'd */
static int set_minus(const oks_zzp *a, size_t na, const oks_zzp *b, size_t nb, oks_zzp **out,
                     size_t *nout)
{
    oks_zzp *r = oks_xmalloc(na ? na * sizeof *r : 1);
    size_t i = 0, j = 0, k = 0;
    while (i < na) {
        int c = j < nb ? memcmp(&a[i], &b[j], sizeof *a) : -1;
        if (c < 0)
            r[k++] = a[i++];
        else if (c > 0)
            j++;
        else
            i++, j++;
    }
    *out = r;
    *nout = k;
    return 0;
}

typedef struct session {
    conn c;
    const oks_ptree *t;
    oks_recon_result *res;
    size_t fcap;
} session;

static int add_fetch(session *s, const oks_zzp *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[16];
        if (oks_zzp_to_hash(v[i], h) != 0)
            continue; /* not a hash: nothing to fetch */
        if (oks_ptree_has(s->t, h))
            continue;
        if (s->res->nfetch >= s->c.o->max_fetch) {
            s->res->truncated = 1;
            return 0;
        }
        if (s->res->nfetch == s->fcap) {
            size_t cap = s->fcap ? s->fcap * 2 : 256;
            uint8_t(*x)[16] = oks_xrealloc(s->res->fetch, cap * 16);
            if (!x)
                return oks_err_set(s->c.e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
            s->res->fetch = x;
            s->fcap = cap;
        }
        memcpy(s->res->fetch[s->res->nfetch++], h, 16);
    }
    return 0;
}

static int cmp16(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static void finish_fetch(oks_recon_result *r)
{
    if (r->nfetch < 2)
        return;
    qsort(r->fetch, r->nfetch, 16, cmp16);
    size_t k = 1;
    for (size_t i = 1; i < r->nfetch; i++)
        if (memcmp(r->fetch[i], r->fetch[k - 1], 16) != 0)
            memcpy(r->fetch[k++], r->fetch[i], 16);
    r->nfetch = k;
}

/* local elements under prefix, sorted by raw words */
static int local_set(session *s, const oks_recon_bits *p, oks_zzp **v, size_t *n)
{
    if (oks_ptree_elements(s->t, p, v, n))
        return oks_err_set(s->c.e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    qsort(*v, *n, sizeof **v, cmp_words);
    return 0;
}

/* Elements(local \ remote) to the peer; remote \ local to fetch. remote must be sorted. */
static int exchange_sets(session *s, const oks_recon_bits *p, oks_zzp *remote, size_t nremote)
{
    oks_zzp *local, *lonly = NULL, *ronly = NULL;
    size_t nlocal, nl = 0, nr = 0;
    int rc = local_set(s, p, &local, &nlocal);
    if (rc)
        return rc;
    qsort(remote, nremote, sizeof *remote, cmp_words);
    if (set_minus(local, nlocal, remote, nremote, &lonly, &nl) ||
        set_minus(remote, nremote, local, nlocal, &ronly, &nr))
        rc = oks_err_set(s->c.e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    if (rc == 0)
        rc = oks_recon_write_set(&s->c.out, OKS_RECON_ELEMENTS, lonly, nl);
    if (rc == 0) {
        s->res->sent += nl;
        rc = add_fetch(s, ronly, nr);
    }
    free(local);
    free(lonly);
    free(ronly);
    return rc;
}

/* ---- responder (connecting side) --------------------------------------------------------- */

static int respond_poly(session *s, const oks_recon_msg *m)
{
    oks_ptree_node nd;
    if (oks_ptree_node_at(s->t, &m->prefix, &nd))
        return oks_err_set(s->c.e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    oks_zzp values[OKS_RECON_SAMPLES], ro[OKS_RECON_MBAR], lo[OKS_RECON_MBAR];
    int nr = 0, nl = 0, ok = 1;
    for (int i = 0; i < OKS_RECON_SAMPLES; i++) {
        if (oks_zzp_is_zero(nd.samples[i]))
            ok = 0;
        else
            values[i] = oks_zzp_div(m->samples[i], nd.samples[i]);
    }
    oks_err ie;
    if (ok && oks_recon_interpolate(values, (int64_t)m->size - (int64_t)nd.count, ro, &nr, lo,
                                    &nl, &ie) == 0) {
        int rc = oks_recon_write_set(&s->c.out, OKS_RECON_ELEMENTS, lo, (size_t)nl);
        s->res->sent += (size_t)nl;
        return rc ? rc : add_fetch(s, ro, (size_t)nr);
    }
    if (nd.leaf || nd.count < s->c.o->full_below) {
        oks_zzp *v;
        size_t n;
        int rc = local_set(s, &m->prefix, &v, &n);
        if (rc == 0)
            rc = oks_recon_write_set(&s->c.out, OKS_RECON_FULL_ELEMENTS, v, n);
        free(v);
        return rc;
    }
    return oks_recon_write_empty(&s->c.out, OKS_RECON_SYNC_FAIL);
}

static int responder(session *s)
{
    for (;;) {
        oks_recon_msg m;
        int rc = read_msg(&s->c, &m, s->c.o->read_timeout_ms, "waiting for a request");
        if (rc)
            return rc;
        s->res->messages++;
        switch (m.type) {
        case OKS_RECON_RQST_POLY:
            rc = respond_poly(s, &m);
            break;
        case OKS_RECON_RQST_FULL:
            rc = exchange_sets(s, &m.prefix, m.elems, m.nelems);
            break;
        case OKS_RECON_ELEMENTS:
            rc = add_fetch(s, m.elems, m.nelems);
            break;
        case OKS_RECON_FLUSH:
            rc = conn_flush(&s->c);
            break;
        case OKS_RECON_DONE:
            oks_recon_msg_release(&m);
            return conn_flush(&s->c);
        case OKS_RECON_ERROR:
            rc = oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET, "peer sent Error: %.160s",
                             m.text);
            break;
        default:
            rc = oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET, "responder got %s",
                             oks_recon_type_name(m.type));
        }
        oks_recon_msg_release(&m);
        if (rc)
            return rc;
    }
}

/* ---- requester (accepting side) ---------------------------------------------------------- */

typedef struct pend {
    oks_recon_bits prefix;
    int kind; /* OKS_RECON_RQST_POLY, OKS_RECON_RQST_FULL or OKS_RECON_FLUSH (marker) */
} pend;

typedef struct fifo {
    pend *v;
    size_t head, len, cap;
} fifo;

static int fifo_push(fifo *f, const pend *p)
{
    if (f->head + f->len == f->cap) {
        if (f->head > 0) {
            memmove(f->v, f->v + f->head, f->len * sizeof *f->v);
            f->head = 0;
        }
        if (f->len == f->cap) {
            size_t cap = f->cap ? f->cap * 2 : 64;
            pend *x = oks_xrealloc(f->v, cap * sizeof *x);
            f->v = x;
            f->cap = cap;
        }
    }
    f->v[f->head + f->len++] = *p;
    return 0;
}

static pend fifo_pop(fifo *f)
{
    pend p = f->v[f->head++];
    f->len--;
    if (f->len == 0)
        f->head = 0;
    return p;
}

static int send_request(session *s, const oks_recon_bits *p, fifo *pending)
{
    oks_ptree_node nd;
    if (oks_ptree_node_at(s->t, p, &nd))
        return oks_err_set(s->c.e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    oks_recon_msg m;
    oks_recon_msg_init(&m, OKS_RECON_RQST_FULL);
    m.prefix = *p;
    int rc;
    if (nd.leaf || nd.count < s->c.o->full_below || p->nbits + 2 > OKS_RECON_MAX_BITS) {
        rc = oks_ptree_elements(s->t, p, &m.elems, &m.nelems);
        if (rc == 0)
            rc = oks_recon_msg_write(&s->c.out, &m);
        free(m.elems);
    } else {
        m.type = OKS_RECON_RQST_POLY;
        m.size = nd.count;
        memcpy(m.samples, nd.samples, sizeof m.samples);
        rc = oks_recon_msg_write(&s->c.out, &m);
    }
    if (rc)
        return oks_err_set(s->c.e, rc, OKS_NO_OFFSET, "writing a request failed");
    pend pe = {*p, m.type};
    return fifo_push(pending, &pe);
}

static int handle_reply(session *s, const pend *p, oks_recon_msg *m, fifo *requests)
{
    char bits[OKS_RECON_MAX_BITS + 1];
    switch (m->type) {
    case OKS_RECON_SYNC_FAIL:
        if (p->kind != OKS_RECON_RQST_POLY)
            return oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET,
                               "SyncFail for a full request at prefix %s",
                               oks_recon_bits_str(&p->prefix, bits, sizeof bits));
        for (int c = 0; c < 4; c++) {
            pend ch = {{0}, 0};
            if (oks_recon_bits_child(&p->prefix, c, &ch.prefix) || fifo_push(requests, &ch))
                return oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET,
                                   "cannot descend below prefix %s",
                                   oks_recon_bits_str(&p->prefix, bits, sizeof bits));
        }
        return 0;
    case OKS_RECON_ELEMENTS:
        return add_fetch(s, m->elems, m->nelems);
    case OKS_RECON_FULL_ELEMENTS:
        return exchange_sets(s, &p->prefix, m->elems, m->nelems);
    case OKS_RECON_ERROR:
        return oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET, "peer sent Error: %.160s",
                           m->text);
    default:
        return oks_err_set(s->c.e, OKS_E_PROTO, OKS_NO_OFFSET, "requester got %s",
                           oks_recon_type_name(m->type));
    }
}

static int requester(session *s)
{
    fifo requests = {0}, pending = {0};
    pend root = {{0}, 0};
    int rc = fifo_push(&requests, &root), flush_out = 0;
    size_t outstanding = 0;
    while (rc == 0 && (requests.len || pending.len)) {
        while (pending.len && pending.v[pending.head].kind == OKS_RECON_FLUSH) {
            fifo_pop(&pending);
            flush_out = 0;
        }
        if (!pending.len) {
            if (!requests.len)
                break;
            pend r = fifo_pop(&requests);
            rc = send_request(s, &r.prefix, &pending);
            outstanding++;
            continue;
        }
        oks_recon_msg m;
        int got = try_msg(&s->c, &m);
        if (got == 0) {
            rc = conn_fill(&s->c, 0, "waiting for a reply");
            if (rc < 0)
                break;
            got = try_msg(&s->c, &m);
        }
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0) {
            if (outstanding < (size_t)s->c.o->max_outstanding && requests.len) {
                pend r = fifo_pop(&requests);
                rc = send_request(s, &r.prefix, &pending);
                outstanding++;
                continue;
            }
            if (!flush_out) {
                pend marker = {{0}, OKS_RECON_FLUSH};
                rc = oks_recon_write_empty(&s->c.out, OKS_RECON_FLUSH);
                if (rc == 0)
                    rc = fifo_push(&pending, &marker);
                if (rc == 0)
                    rc = conn_flush(&s->c);
                flush_out = 1;
                continue;
            }
            rc = read_msg(&s->c, &m, s->c.o->read_timeout_ms, "waiting for a reply");
            if (rc)
                break;
        }
        s->res->messages++;
        pend p = fifo_pop(&pending);
        outstanding--;
        rc = handle_reply(s, &p, &m, &requests);
        oks_recon_msg_release(&m);
    }
    if (rc == 0)
        rc = oks_recon_write_empty(&s->c.out, OKS_RECON_DONE);
    if (rc == 0)
        rc = conn_flush(&s->c);
    free(requests.v);
    free(pending.v);
    return rc;
}

int oks_recon_session(int fd, enum oks_recon_role role, const oks_ptree *t,
                      const oks_recon_opts *o, oks_recon_result *res, oks_err *e)
{
    memset(res, 0, sizeof *res);
    session s = {{fd, OKS_BUF_INIT, OKS_BUF_INIT, 0, oks_now_ms() + o->session_timeout_ms, o, e},
                 t, res, 0};
    int rc = config_exchange(&s.c, res);
    if (rc == 0)
        rc = role == OKS_RECON_REQUESTER ? requester(&s) : responder(&s);
    if (rc && rc != OKS_E_IO && rc != OKS_E_TIMEOUT) {
        /* tell the peer why, best effort */
        oks_buf_release(&s.c.out);
        if (oks_recon_write_error(&s.c.out, e ? e->msg : "error") == 0) {
            oks_err keep;
            if (e)
                keep = *e;
            conn_flush(&s.c);
            if (e)
                *e = keep;
        }
    }
    finish_fetch(res);
    oks_buf_release(&s.c.in);
    oks_buf_release(&s.c.out);
    return rc;
}
