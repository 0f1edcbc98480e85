/*
 * sync/recon: recon session state machines (see recon.h). Input is buffered in `in`; output
 * is buffered in `out` and may be written only up to `mark`, which moves at a Flush (sent or
 * received), at the verdicts and at the end, which is what both SKS and conflux expect. The
 * socket is used with MSG_DONTWAIT only: a step never waits.
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
    o->max_buffer = (size_t)64 << 20;
    o->max_work = 0;
}

void oks_recon_result_release(oks_recon_result *r)
{
    free(r->fetch);
    memset(r, 0, sizeof *r);
}

enum phase { PH_CONFIG, PH_VERDICT, PH_RUN, PH_CLOSING, PH_DONE, PH_FAILED };

typedef struct pend {
    oks_recon_bits prefix;
    int kind; /* OKS_RECON_RQST_POLY, OKS_RECON_RQST_FULL or OKS_RECON_FLUSH (marker) */
} pend;

typedef struct fifo {
    pend *v;
    size_t head, len, cap;
} fifo;

struct oks_recon_sess {
    int fd;
    enum oks_recon_role role;
    const oks_ptree *t;
    oks_recon_opts o;
    oks_buf in, out;
    size_t in_off, out_off, mark; /* out[out_off, mark) may be written now */
    enum phase phase;
    int64_t start, progress;      /* progress: last whole message in or batch out */
    uint64_t work;
    oks_recon_result res;
    size_t fcap;
    oks_err *e;
    /* requester */
    fifo requests, pending;
    size_t outstanding;
    int flush_out;
};

/* ---- buffered non-blocking I/O ------------------------------------------------------------ */

/* 1 if all that may be written is written, 0 if the socket is full, or error */
static int write_some(oks_recon_sess *s)
{
    while (s->out_off < s->mark) {
        ssize_t n = send(s->fd, s->out.data + s->out_off, s->mark - s->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            s->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        return oks_err_set(s->e, OKS_E_IO, OKS_NO_OFFSET, "send: %s", strerror(errno));
    }
    if (s->out_off > 0 && s->out_off == s->out.len) {
        s->out.len = s->out_off = s->mark = 0;
        s->progress = (int64_t)oks_now_ms(); /* the peer took the whole batch */
    }
    return 1;
}

/* lets everything buffered so far go out */
static void mark_out(oks_recon_sess *s)
{
    if (s->mark == s->out_off && s->out.len > s->mark)
        s->progress = (int64_t)oks_now_ms(); /* a new batch: the peer has read_timeout to take it */
    s->mark = s->out.len;
}

/* reads what is there: 0 got bytes, 1 nothing yet, or error (EOF included) */
static int read_some(oks_recon_sess *s, const char *what)
{
    if (s->in_off > 0 && s->in_off == s->in.len) {
        s->in.len = s->in_off = 0;
    } else if (s->in_off > 65536) {
        memmove(s->in.data, s->in.data + s->in_off, s->in.len - s->in_off);
        s->in.len -= s->in_off;
        s->in_off = 0;
    }
    if (oks_buf_reserve(&s->in, 65536))
        return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    ssize_t n;
    do
        n = recv(s->fd, s->in.data + s->in.len, 65536, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 1;
    if (n < 0)
        return oks_err_set(s->e, OKS_E_IO, OKS_NO_OFFSET, "recv: %s", strerror(errno));
    if (n == 0)
        return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer closed the connection while %s",
                           what);
    s->in.len += (size_t)n;
    return 0;
}

static size_t avail(const oks_recon_sess *s)
{
    return s->in.len - s->in_off;
}

static int charge(oks_recon_sess *s, uint64_t units)
{
    s->work += units;
    if (s->o.max_work && s->work > s->o.max_work)
        return oks_err_set(s->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "session work limit reached (%llu elements handled)",
                           (unsigned long long)s->o.max_work);
    return 0;
}

/* 1 and *m filled if a whole message is buffered, 0 if not yet, or error */
static int try_msg(oks_recon_sess *s, oks_recon_msg *m)
{
    uint32_t len;
    if (avail(s) < 4)
        return 0;
    int rc = oks_recon_frame_len(s->in.data + s->in_off, &s->o.lim, &len, s->e);
    if (rc)
        return rc;
    if (avail(s) - 4 < len)
        return 0;
    rc = oks_recon_msg_parse(s->in.data + s->in_off + 4, len, &s->o.lim, m, s->e);
    if (rc)
        return rc;
    s->in_off += 4 + (size_t)len;
    s->progress = (int64_t)oks_now_ms();
    s->res.messages++;
    rc = charge(s, 1 + m->nelems);
    if (rc)
        oks_recon_msg_release(m);
    return rc ? rc : 1;
}

/* unframed string (verdicts), at most 4096 bytes: 1 when read, 0 not yet, or error */
static int try_string(oks_recon_sess *s, char *out, size_t size)
{
    if (avail(s) < 4)
        return 0;
    uint32_t l = oks_be32(s->in.data + s->in_off);
    if (l > 4096)
        return oks_err_set(s->e, OKS_E_LIMIT, OKS_NO_OFFSET, "config verdict string of %u bytes",
                           l);
    if (avail(s) - 4 < l)
        return 0;
    size_t k = l < size - 1 ? l : size - 1;
    memcpy(out, s->in.data + s->in_off + 4, k);
    out[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7e)
            out[i] = '?';
    s->in_off += 4 + (size_t)l;
    s->progress = (int64_t)oks_now_ms();
    return 1;
}

/* ---- Config exchange ---------------------------------------------------------------------- */

static int config_step(oks_recon_sess *s)
{
    if (s->phase == PH_CONFIG) {
        oks_recon_msg m;
        int rc = try_msg(s, &m);
        if (rc <= 0)
            return rc;
        oks_err ce;
        oks_err_clear(&ce);
        int bad = oks_recon_config_check(&m, &s->o.cfg, &s->res.peer_http_port, &ce);
        oks_recon_msg_release(&m);
        rc = oks_recon_verdict_write(&s->out, bad ? ce.msg : NULL);
        if (rc)
            return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
        mark_out(s);
        if (bad) {
            write_some(s); /* best effort: tell the peer why */
            return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET,
                               "we refused the peer's config: %s", ce.msg);
        }
        s->phase = PH_VERDICT;
    }
    char verdict[64], reason[256];
    size_t at = s->in_off;
    int rc = try_string(s, verdict, sizeof verdict);
    if (rc <= 0)
        return rc;
    if (strcmp(verdict, "passed") == 0) {
        s->phase = PH_RUN;
        return 1;
    }
    if (strcmp(verdict, "failed") == 0) {
        rc = try_string(s, reason, sizeof reason);
        if (rc == 0) {
            s->in_off = at; /* the reason is not whole yet: read both again later */
            return 0;
        }
        if (rc < 0)
            snprintf(reason, sizeof reason, "(no reason)");
        return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer refused our config: %s",
                           reason);
    }
    return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "config verdict \"%s\"", verdict);
}

/* ---- element sets ---------------------------------------------------------------------- */

static int cmp_words(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(oks_zzp));
}

/* out = a \ b (both sorted by raw words); out malloc'd */
static void set_minus(const oks_zzp *a, size_t na, const oks_zzp *b, size_t nb, oks_zzp **out,
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
}

static int add_fetch(oks_recon_sess *s, const oks_zzp *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t h[16];
        if (oks_zzp_to_hash(v[i], h) != 0)
            continue; /* not a hash: nothing to fetch */
        if (oks_ptree_has(s->t, h))
            continue;
        if (s->res.nfetch >= s->o.max_fetch) {
            s->res.truncated = 1;
            return 0;
        }
        if (s->res.nfetch == s->fcap) {
            size_t cap = s->fcap ? s->fcap * 2 : 256;
            s->res.fetch = oks_xrealloc(s->res.fetch, cap * 16);
            s->fcap = cap;
        }
        memcpy(s->res.fetch[s->res.nfetch++], h, 16);
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

/* local elements under prefix, sorted by raw words; charged to the session's work */
static int local_set(oks_recon_sess *s, const oks_recon_bits *p, oks_zzp **v, size_t *n)
{
    if (oks_ptree_elements(s->t, p, v, n))
        return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    int rc = charge(s, *n);
    if (rc) {
        free(*v);
        *v = NULL;
        return rc;
    }
    qsort(*v, *n, sizeof **v, cmp_words);
    return 0;
}

/* appends a message and checks what the peer has left unread */
static int put_set(oks_recon_sess *s, int type, const oks_zzp *v, size_t n)
{
    if (oks_recon_write_set(&s->out, type, v, n))
        return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    s->res.sent += type == OKS_RECON_ELEMENTS ? n : 0;
    if (s->out.len - s->out_off > s->o.max_buffer)
        return oks_err_set(s->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                           "more than %zu bytes of answers not read by the peer",
                           s->o.max_buffer);
    return 0;
}

/* Elements(local \ remote) to the peer; remote \ local to fetch. remote must be sorted. */
static int exchange_sets(oks_recon_sess *s, const oks_recon_bits *p, oks_zzp *remote,
                         size_t nremote)
{
    oks_zzp *local, *lonly = NULL, *ronly = NULL;
    size_t nlocal, nl = 0, nr = 0;
    int rc = local_set(s, p, &local, &nlocal);
    if (rc)
        return rc;
    qsort(remote, nremote, sizeof *remote, cmp_words);
    set_minus(local, nlocal, remote, nremote, &lonly, &nl);
    set_minus(remote, nremote, local, nlocal, &ronly, &nr);
    rc = put_set(s, OKS_RECON_ELEMENTS, lonly, nl);
    if (rc == 0)
        rc = add_fetch(s, ronly, nr);
    free(local);
    free(lonly);
    free(ronly);
    return rc;
}

/* the tree at a prefix; a prefix below a leaf costs that leaf's elements */
static int node_at(oks_recon_sess *s, const oks_recon_bits *p, oks_ptree_node *nd)
{
    if (oks_ptree_node_at(s->t, p, nd))
        return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
    return nd->exact ? 0 : charge(s, nd->count);
}

/* ---- responder (connecting side) --------------------------------------------------------- */

static int respond_poly(oks_recon_sess *s, const oks_recon_msg *m)
{
    oks_ptree_node nd;
    int rc = node_at(s, &m->prefix, &nd);
    if (rc)
        return rc;
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
        rc = put_set(s, OKS_RECON_ELEMENTS, lo, (size_t)nl);
        return rc ? rc : add_fetch(s, ro, (size_t)nr);
    }
    if (nd.leaf || nd.count < s->o.full_below) {
        oks_zzp *v;
        size_t n;
        rc = local_set(s, &m->prefix, &v, &n);
        if (rc == 0)
            rc = put_set(s, OKS_RECON_FULL_ELEMENTS, v, n);
        free(v);
        return rc;
    }
    return put_set(s, OKS_RECON_SYNC_FAIL, NULL, 0);
}

static int responder_step(oks_recon_sess *s)
{
    for (;;) {
        oks_recon_msg m;
        int rc = try_msg(s, &m);
        if (rc <= 0)
            return rc;
        rc = 0;
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
            mark_out(s);
            break;
        case OKS_RECON_DONE:
            mark_out(s);
            s->phase = PH_CLOSING;
            break;
        case OKS_RECON_ERROR:
            rc = oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer sent Error: %.160s",
                             m.text);
            break;
        default:
            rc = oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "responder got %s",
                             oks_recon_type_name(m.type));
        }
        oks_recon_msg_release(&m);
        if (rc || s->phase == PH_CLOSING)
            return rc;
    }
}

/* ---- requester (accepting side) ---------------------------------------------------------- */

static void fifo_push(fifo *f, const pend *p)
{
    if (f->head + f->len == f->cap) {
        if (f->head > 0) {
            memmove(f->v, f->v + f->head, f->len * sizeof *f->v);
            f->head = 0;
        }
        if (f->len == f->cap) {
            size_t cap = f->cap ? f->cap * 2 : 64;
            f->v = oks_xrealloc(f->v, cap * sizeof *f->v);
            f->cap = cap;
        }
    }
    f->v[f->head + f->len++] = *p;
}

static pend fifo_pop(fifo *f)
{
    pend p = f->v[f->head++];
    f->len--;
    if (f->len == 0)
        f->head = 0;
    return p;
}

static int send_request(oks_recon_sess *s, const oks_recon_bits *p)
{
    oks_ptree_node nd;
    int rc = node_at(s, p, &nd);
    if (rc)
        return rc;
    oks_recon_msg m;
    oks_recon_msg_init(&m, OKS_RECON_RQST_FULL);
    m.prefix = *p;
    if (nd.leaf || nd.count < s->o.full_below || p->nbits + 2 > OKS_RECON_MAX_BITS) {
        rc = oks_ptree_elements(s->t, p, &m.elems, &m.nelems);
        if (rc == 0)
            rc = charge(s, m.nelems);
        if (rc == 0 && oks_recon_msg_write(&s->out, &m))
            rc = oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "writing a request failed");
        free(m.elems);
    } else {
        m.type = OKS_RECON_RQST_POLY;
        m.size = nd.count;
        memcpy(m.samples, nd.samples, sizeof m.samples);
        if (oks_recon_msg_write(&s->out, &m))
            rc = oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "writing a request failed");
    }
    if (rc)
        return rc;
    pend pe = {*p, m.type};
    fifo_push(&s->pending, &pe);
    s->outstanding++;
    return 0;
}

static int handle_reply(oks_recon_sess *s, const pend *p, oks_recon_msg *m)
{
    char bits[OKS_RECON_MAX_BITS + 1];
    switch (m->type) {
    case OKS_RECON_SYNC_FAIL:
        if (p->kind != OKS_RECON_RQST_POLY)
            return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET,
                               "SyncFail for a full request at prefix %s",
                               oks_recon_bits_str(&p->prefix, bits, sizeof bits));
        for (int c = 0; c < 4; c++) {
            pend ch = {{0}, 0};
            if (oks_recon_bits_child(&p->prefix, c, &ch.prefix))
                return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET,
                                   "cannot descend below prefix %s",
                                   oks_recon_bits_str(&p->prefix, bits, sizeof bits));
            fifo_push(&s->requests, &ch);
        }
        return 0;
    case OKS_RECON_ELEMENTS:
        return add_fetch(s, m->elems, m->nelems);
    case OKS_RECON_FULL_ELEMENTS:
        return exchange_sets(s, &p->prefix, m->elems, m->nelems);
    case OKS_RECON_ERROR:
        return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "peer sent Error: %.160s",
                           m->text);
    default:
        return oks_err_set(s->e, OKS_E_PROTO, OKS_NO_OFFSET, "requester got %s",
                           oks_recon_type_name(m->type));
    }
}

static int requester_step(oks_recon_sess *s)
{
    for (;;) {
        while (s->pending.len && s->pending.v[s->pending.head].kind == OKS_RECON_FLUSH) {
            fifo_pop(&s->pending);
            s->flush_out = 0;
        }
        int rc;
        if (!s->pending.len) {
            if (!s->requests.len) {
                if (oks_recon_write_empty(&s->out, OKS_RECON_DONE))
                    return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
                mark_out(s);
                s->phase = PH_CLOSING;
                return 0;
            }
            pend r = fifo_pop(&s->requests);
            rc = send_request(s, &r.prefix);
            if (rc)
                return rc;
            continue;
        }
        oks_recon_msg m;
        rc = try_msg(s, &m);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            if (s->outstanding < (size_t)s->o.max_outstanding && s->requests.len) {
                pend r = fifo_pop(&s->requests);
                rc = send_request(s, &r.prefix);
                if (rc)
                    return rc;
                continue;
            }
            if (!s->flush_out) {
                pend marker = {{0}, OKS_RECON_FLUSH};
                if (oks_recon_write_empty(&s->out, OKS_RECON_FLUSH))
                    return oks_err_set(s->e, OKS_E_NOMEM, OKS_NO_OFFSET, "out of memory");
                fifo_push(&s->pending, &marker);
                mark_out(s);
                s->flush_out = 1;
                continue;
            }
            return 0; /* wait for replies */
        }
        pend p = fifo_pop(&s->pending);
        s->outstanding--;
        rc = handle_reply(s, &p, &m);
        oks_recon_msg_release(&m);
        if (rc)
            return rc;
    }
}

/* ---- driver ------------------------------------------------------------------------------- */

oks_recon_sess *oks_recon_sess_new(int fd, enum oks_recon_role role, const oks_ptree *t,
                                   const oks_recon_opts *o)
{
    oks_recon_sess *s = oks_xcalloc(1, sizeof *s);
    s->fd = fd;
    s->role = role;
    s->t = t;
    s->o = *o;
    s->start = s->progress = (int64_t)oks_now_ms();
    s->phase = PH_CONFIG;
    if (oks_recon_config_write(&s->out, &s->o.cfg) == 0)
        mark_out(s);
    if (role == OKS_RECON_REQUESTER) {
        pend root = {{0}, 0};
        fifo_push(&s->requests, &root);
    }
    return s;
}

void oks_recon_sess_free(oks_recon_sess *s)
{
    if (!s)
        return;
    oks_buf_release(&s->in);
    oks_buf_release(&s->out);
    free(s->requests.v);
    free(s->pending.v);
    oks_recon_result_release(&s->res);
    free(s);
}

static const char *waiting_for(const oks_recon_sess *s)
{
    if (s->phase == PH_CONFIG)
        return "waiting for Config";
    if (s->phase == PH_VERDICT)
        return "waiting for the config verdict";
    if (s->out_off < s->mark)
        return "we were writing (the peer does not read)";
    return s->role == OKS_RECON_REQUESTER ? "waiting for a reply" : "waiting for a request";
}

int64_t oks_recon_sess_deadline(const oks_recon_sess *s)
{
    int64_t d = s->start + s->o.session_timeout_ms, r = s->progress + s->o.read_timeout_ms;
    if (s->phase <= PH_VERDICT && s->start + s->o.config_timeout_ms < d)
        d = s->start + s->o.config_timeout_ms;
    return r < d ? r : d;
}

short oks_recon_sess_events(const oks_recon_sess *s)
{
    if (s->phase >= PH_DONE)
        return 0;
    return (short)((s->phase == PH_CLOSING ? 0 : POLLIN) | (s->out_off < s->mark ? POLLOUT : 0));
}

static int check_time(oks_recon_sess *s)
{
    int64_t now = (int64_t)oks_now_ms();
    if (now < oks_recon_sess_deadline(s))
        return 0;
    if (now >= s->start + s->o.session_timeout_ms)
        return oks_err_set(s->e, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                           "recon session deadline (%d ms) passed while %s",
                           s->o.session_timeout_ms, waiting_for(s));
    if (s->phase <= PH_VERDICT && now >= s->start + s->o.config_timeout_ms)
        return oks_err_set(s->e, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                           "peer silent: no whole Config exchange in %d ms (%s)",
                           s->o.config_timeout_ms, waiting_for(s));
    return oks_err_set(s->e, OKS_E_TIMEOUT, OKS_NO_OFFSET,
                       "peer silent: no whole message in %d ms while %s", s->o.read_timeout_ms,
                       waiting_for(s));
}

static int run(oks_recon_sess *s)
{
    /* at most 16 reads per step, so that one busy peer does not starve the other sessions */
    for (int reads = 0;; reads++) {
        int rc = 0;
        while (rc == 0 && s->phase <= PH_VERDICT && (rc = config_step(s)) == 1)
            rc = 0;
        if (rc < 0)
            return rc;
        if (s->phase == PH_RUN)
            rc = s->role == OKS_RECON_REQUESTER ? requester_step(s) : responder_step(s);
        if (rc < 0)
            return rc;
        rc = write_some(s);
        if (rc < 0)
            return rc;
        if (s->phase == PH_CLOSING) {
            if (rc == 1) {
                s->phase = PH_DONE;
                return 1;
            }
            return check_time(s); /* the last batch is still being written */
        }
        if (s->out.len - s->out_off > s->o.max_buffer)
            return oks_err_set(s->e, OKS_E_LIMIT, OKS_NO_OFFSET,
                               "more than %zu bytes not read by the peer", s->o.max_buffer);
        if (reads == 16)
            return check_time(s);
        rc = read_some(s, waiting_for(s));
        if (rc < 0)
            return rc;
        if (rc == 1)
            return check_time(s);
    }
}

int oks_recon_sess_step(oks_recon_sess *s, oks_err *e)
{
    if (s->phase == PH_DONE)
        return 1;
    if (s->phase == PH_FAILED)
        return oks_err_set(e, OKS_E_ARG, OKS_NO_OFFSET, "recon session already failed");
    s->e = e;
    int rc = run(s);
    if (rc >= 0) {
        if (rc == 1)
            finish_fetch(&s->res);
        return rc;
    }
    s->phase = PH_FAILED;
    finish_fetch(&s->res);
    if (rc != OKS_E_IO && rc != OKS_E_TIMEOUT) {
        /* tell the peer why, best effort, without waiting */
        oks_buf_release(&s->out);
        s->out_off = s->mark = 0;
        if (oks_recon_write_error(&s->out, e ? e->msg : "error") == 0) {
            oks_err keep;
            if (e)
                keep = *e;
            s->mark = s->out.len;
            write_some(s);
            if (e)
                *e = keep;
        }
    }
    return rc;
}

void oks_recon_sess_take(oks_recon_sess *s, oks_recon_result *res)
{
    *res = s->res;
    memset(&s->res, 0, sizeof s->res);
    s->fcap = 0;
}

uint64_t oks_recon_sess_work(const oks_recon_sess *s)
{
    return s->work;
}

int oks_recon_session(int fd, enum oks_recon_role role, const oks_ptree *t,
                      const oks_recon_opts *o, oks_recon_result *res, oks_err *e)
{
    oks_recon_sess *s = oks_recon_sess_new(fd, role, t, o);
    int rc;
    while ((rc = oks_recon_sess_step(s, e)) == 0) {
        int64_t wait = oks_recon_sess_deadline(s) - (int64_t)oks_now_ms();
        struct pollfd p = {fd, oks_recon_sess_events(s), 0};
        if (wait > 0 && poll(&p, 1, wait > 1000000 ? 1000000 : (int)wait) < 0 && errno != EINTR) {
            rc = oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "poll: %s", strerror(errno));
            break;
        }
    }
    oks_recon_sess_take(s, res);
    oks_recon_sess_free(s);
    return rc == 1 ? 0 : rc;
}
