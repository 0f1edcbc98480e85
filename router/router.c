/* The router's event loop: frontend ROUTER, one DEALER per shard, in-flight table, deadlines
 * (see router.h). */
#include "router/router.h"
#include "lib/xalloc.h"

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "lib/zsec.h"
#include "router/authz.h"
#include "router/pending.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Messages taken from one socket per poll round, so no socket starves the others. */
#define OKS_ROUTER_IO_BATCH 512
/* How often, at most, the in-flight table is scanned for passed deadlines (and the poll
 * timeout, so a deadline is noticed that late at most). */
#define OKS_ROUTER_EXPIRE_MS 50

struct oks_router {
    const oks_cluster *conf;
    void *zctx, *front;
    void **shard_socks;
    void **monitors;    /* per shard: PAIR socket receiving its DEALER's disconnect events */
    oks_pending *table; /* OKS_ROUTER_MAX_INFLIGHT entries, indexed by id % size */
    uint64_t next_id;
    size_t inflight;
};

oks_router *oks_router_new(const oks_cluster *conf, void *zctx, const char *endpoint, oks_err *e)
{
    oks_router *r = oks_xcalloc(1, sizeof *r);
    r->conf = conf;
    r->zctx = zctx;
    r->table = oks_xcalloc(OKS_ROUTER_MAX_INFLIGHT, sizeof *r->table);
    r->shard_socks = oks_xcalloc(conf->n_shards, sizeof *r->shard_socks);
    r->monitors = oks_xcalloc(conf->n_shards, sizeof *r->monitors);
    r->front = zmq_socket(zctx, ZMQ_ROUTER);
    if (!r->table || !r->shard_socks || !r->monitors || !r->front) {
        oks_err_set(e, OKS_E_NOMEM, OKS_NO_OFFSET, "router tables");
        oks_router_free(r);
        return NULL;
    }
    oks_zsock_defaults(r->front, conf->max_message_bytes);
    if (oks_zsec_server(r->front, e) != 0 || zmq_bind(r->front, endpoint) != 0) {
        oks_err_set(e, OKS_E_IO, OKS_NO_OFFSET, "cannot bind %s: %s", endpoint,
                    zmq_strerror(errno));
        oks_router_free(r);
        return NULL;
    }
    for (size_t i = 0; i < conf->n_shards; i++) {
        void *s = zmq_socket(zctx, ZMQ_DEALER);
        int one = 1, ivl = 100, ivl_max = 1000;
        oks_zsock_defaults(s, conf->max_message_bytes);
        /* queue nothing for a shard that is not connected: fail fast instead */
        zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof one);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
        zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max);
        /* a shard that drops the connection (crash, kill -9) fails its requests at once, so
         * long deadlines (big adds) do not delay noticing a dead shard */
        char mon[64];
        snprintf(mon, sizeof mon, "inproc://oks-router-mon-%p-%zu", (void *)r, i);
        if (zmq_socket_monitor(s, mon, ZMQ_EVENT_DISCONNECTED) == 0) {
            void *m = zmq_socket(zctx, ZMQ_PAIR);
            if (m && zmq_connect(m, mon) == 0)
                r->monitors[i] = m;
            else if (m)
                zmq_close(m);
        }
        r->shard_socks[i] = s;
        if (oks_zsec_client(s, conf->shards[i].endpoint, e) != 0) {
            oks_router_free(r);
            return NULL;
        }
        zmq_connect(s, conf->shards[i].endpoint);
    }
    r->next_id = 1;
    return r;
}

void oks_router_free(oks_router *r)
{
    if (!r)
        return;
    if (r->table) {
        for (size_t i = 0; i < OKS_ROUTER_MAX_INFLIGHT; i++)
            if (r->table[i].id)
                oks_pending_release(&r->table[i], r->conf->n_shards);
        free(r->table);
    }
    for (size_t i = 0; r->monitors && i < r->conf->n_shards; i++)
        if (r->monitors[i])
            zmq_close(r->monitors[i]);
    free(r->monitors);
    for (size_t i = 0; r->shard_socks && i < r->conf->n_shards; i++)
        if (r->shard_socks[i]) {
            zmq_socket_monitor(r->shard_socks[i], NULL, 0);
            zmq_close(r->shard_socks[i]);
        }
    free(r->shard_socks);
    if (r->front)
        zmq_close(r->front);
    free(r);
}

static void reply_raw(oks_router *r, zmq_msg_t *client, zmq_msg_t *rid, const void *p, size_t n)
{
    zmq_msg_t c, d;
    zmq_msg_init(&c);
    zmq_msg_init(&d);
    zmq_msg_copy(&c, client);
    zmq_msg_copy(&d, rid);
    zmq_msg_send(&c, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_msg_send(&d, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(r->front, p, n, ZMQ_DONTWAIT);
    zmq_msg_close(&c);
    zmq_msg_close(&d);
}

static void reply_error(oks_router *r, zmq_msg_t *client, zmq_msg_t *rid, Oks__Status st,
                        const char *msg)
{
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_error(st, msg, &b);
    reply_raw(r, client, rid, b.data, b.len);
    oks_buf_release(&b);
}

static void finish(oks_router *r, oks_pending *p)
{
    oks_buf b = OKS_BUF_INIT;
    oks_pending_finish(p, &b);
    reply_raw(r, &p->client, &p->rid, b.data, b.len);
    oks_buf_release(&b);
    oks_pending_release(p, r->conf->n_shards);
    r->inflight--;
}

static void add_down_stats(oks_pending *p, const char *name)
{
    Oks__ShardStats *s = oks_xmalloc(sizeof *s);
    void *nv = oks_xrealloc(p->merged->shards, (p->merged->n_shards + 1) * sizeof(void *));
    if (!s || !nv) {
        free(s);
        if (nv)
            p->merged->shards = nv;
        return;
    }
    oks__shard_stats__init(s);
    s->name = oks_xstrdup(name);
    s->up = 0;
    p->merged->shards = nv;
    p->merged->shards[p->merged->n_shards++] = s;
}

/* Sends a packed request to shard i; on failure records the shard as failed. */
static void send_to_shard(oks_router *r, oks_pending *p, size_t i, const oks_buf *body)
{
    oks_slice parts[2] = {oks_slice_of(&p->id, sizeof p->id), oks_slice_of(body->data, body->len)};
    p->expected++;
    p->asked[i] = 1;
    if (oks_zsend(r->shard_socks[i], parts, 2, ZMQ_DONTWAIT) != 0) {
        p->asked[i] = 2;
        p->received++;
        oks_pending_fail(p, r->conf->shards[i].name, "not connected");
        if (p->op == OKS__REQUEST__OP_STATS)
            add_down_stats(p, r->conf->shards[i].name);
    }
}

/* The slot a request routes to, or -1 if it must fan out. */
static int single_slot(const oks_router *r, const Oks__Request *q)
{
    uint8_t kid[8];
    if (q->op_case == OKS__REQUEST__OP_GET_FINGERPRINT && !q->get_fingerprint->subkeys &&
        oks_keyid_of_fpr(q->get_fingerprint->fingerprint.data, q->get_fingerprint->fingerprint.len,
                         kid) == 0)
        return (int)oks_slot_of_keyid(kid, r->conf->n_slots);
    if (q->op_case == OKS__REQUEST__OP_GET_KEY_ID && q->get_key_id->primary_only &&
        q->get_key_id->key_id.len == 8)
        return (int)oks_slot_of_keyid(q->get_key_id->key_id.data, r->conf->n_slots);
    if (q->op_case == OKS__REQUEST__OP_DELETE &&
        oks_keyid_of_fpr(q->delete_->fingerprint.data, q->delete_->fingerprint.len, kid) == 0)
        return (int)oks_slot_of_keyid(kid, r->conf->n_slots);
    return -1;
}

/* Splits an add by the owner of each key's slot. Keys whose primary packet cannot be read go to
 * shard 0, which rejects them with the parser's reason. */
static void route_add(oks_router *r, oks_pending *p, Oks__Request *q)
{
    size_t ns = r->conf->n_shards, n = q->add->n_keys;
    ProtobufCBinaryData *orig = q->add->keys;
    uint16_t *owner = oks_xmalloc((n ? n : 1) * sizeof *owner);
    size_t *count = oks_xcalloc(ns, sizeof *count);
    p->add_index = oks_xcalloc(ns, sizeof *p->add_index);
    if (!owner || !count || !p->add_index) {
        free(owner);
        free(count);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t off = 0;
        oks_pgp_packet pkt;
        oks_pgp_pubkey pk;
        oks_err e;
        owner[i] = 0;
        if (oks_pgp_packet_next(orig[i].data, orig[i].len, &off, &pkt, &e) == 0 &&
            pkt.tag == OKS_PGP_TAG_PUBKEY &&
            oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e) == 0)
            owner[i] = r->conf->slot_owner[oks_slot_of_keyid(pk.keyid, r->conf->n_slots)];
        count[owner[i]]++;
    }
    ProtobufCBinaryData *sub = oks_xmalloc((n ? n : 1) * sizeof *sub);
    for (size_t s = 0; s < ns && sub; s++) {
        if (!count[s])
            continue;
        p->add_index[s] = oks_xmalloc(count[s] * sizeof(uint32_t));
        size_t k = 0;
        for (size_t i = 0; i < n && p->add_index[s]; i++)
            if (owner[i] == s) {
                p->add_index[s][k] = (uint32_t)i;
                sub[k++] = orig[i];
            }
        q->add->keys = sub;
        q->add->n_keys = k;
        oks_buf b = OKS_BUF_INIT;
        oks_proto_pack_request(q, &b);
        send_to_shard(r, p, s, &b);
        oks_buf_release(&b);
    }
    q->add->keys = orig;
    q->add->n_keys = n;
    free(sub);
    free(owner);
    free(count);
}

static void on_client(oks_router *r, oks_zframes *m)
{
    if (m->n != 3 || m->truncated) {
        if (m->n >= 2)
            reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_BAD_REQUEST,
                        "expected frames [request id][request]");
        return;
    }
    oks_slice body = oks_zframe(m, 2);
    Oks__Request *q;
    oks_err e;
    if (oks_proto_request_unpack(body.ptr, body.len, r->conf->max_message_bytes, &q, &e)) {
        reply_error(r, &m->f[0], &m->f[1], oks_proto_status_of(e.code), e.msg);
        return;
    }
    char authority[64], *client_authority = q->authority; /* the router's, never the client's */
    if (oks_router_authorize(&m->f[2], q, authority, sizeof authority, e.msg, sizeof e.msg)) {
        reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_FORBIDDEN, e.msg);
        oks__request__free_unpacked(q, NULL);
        return;
    }
    uint64_t id = r->next_id++;
    oks_pending *p = &r->table[id % OKS_ROUTER_MAX_INFLIGHT];
    if (p->id) {
        reply_error(r, &m->f[0], &m->f[1], OKS__STATUS__STATUS_UNAVAILABLE,
                    "router overloaded: too many requests in flight");
        oks__request__free_unpacked(q, NULL);
        return;
    }
    memset(p, 0, sizeof *p);
    p->id = id;
    p->op = q->op_case;
    zmq_msg_init(&p->client);
    zmq_msg_init(&p->rid);
    zmq_msg_move(&p->client, &m->f[0]);
    zmq_msg_move(&p->rid, &m->f[1]);
    p->deadline_ms = oks_now_ms() + (q->deadline_ms ? q->deadline_ms : r->conf->router_deadline_ms);
    p->limit = r->conf->router_max_results;
    if (q->op_case == OKS__REQUEST__OP_SEARCH && q->search->limit && q->search->limit < p->limit)
        p->limit = q->search->limit;
    p->asked = oks_xcalloc(r->conf->n_shards, 1);
    p->merged = oks_xmalloc(sizeof *p->merged);
    if (!p->asked || !p->merged) {
        reply_error(r, &p->client, &p->rid, OKS__STATUS__STATUS_UNAVAILABLE,
                    "router: out of memory");
        free(p->merged);
        p->merged = NULL;
        oks_pending_release(p, r->conf->n_shards);
        oks__request__free_unpacked(q, NULL);
        return;
    }
    oks__response__init(p->merged);
    if (q->op_case == OKS__REQUEST__OP_GET_FINGERPRINT &&
        q->get_fingerprint->fingerprint.len <= sizeof p->fpr) {
        p->fpr_len = q->get_fingerprint->fingerprint.len;
        memcpy(p->fpr, q->get_fingerprint->fingerprint.data, p->fpr_len);
    }
    r->inflight++;
    q->map_digest = (ProtobufCBinaryData){32, (uint8_t *)r->conf->digest};
    q->authority = authority;
    q->slot = -1;
    if (q->op_case == OKS__REQUEST__OP_ADD) {
        route_add(r, p, q);
    } else if (q->op_case == OKS__REQUEST__OP_CHANGES || q->op_case == OKS__REQUEST__OP_LIST) {
        int i = oks_cluster_shard_index(r->conf, q->op_case == OKS__REQUEST__OP_LIST
                                                     ? q->list->shard
                                                     : q->changes->shard);
        if (i < 0) {
            p->worst = OKS__STATUS__STATUS_BAD_REQUEST;
            p->worst_msg = oks_xstrdup("no such shard");
        } else {
            oks_buf b = OKS_BUF_INIT;
            oks_proto_pack_request(q, &b);
            p->raw_forward = true;
            send_to_shard(r, p, (size_t)i, &b);
            oks_buf_release(&b);
        }
    } else {
        int slot = single_slot(r, q);
        oks_buf b = OKS_BUF_INIT;
        q->slot = slot;
        oks_proto_pack_request(q, &b);
        if (slot >= 0) {
            p->raw_forward = true;
            send_to_shard(r, p, r->conf->slot_owner[slot], &b);
        } else {
            for (size_t i = 0; i < r->conf->n_shards; i++)
                send_to_shard(r, p, i, &b);
        }
        oks_buf_release(&b);
    }
    q->map_digest = (ProtobufCBinaryData){0, NULL};
    q->authority = client_authority;
    oks__request__free_unpacked(q, NULL);
    if (p->id && p->received == p->expected)
        finish(r, p);
}

static void on_shard(oks_router *r, size_t si, oks_zframes *m)
{
    if (m->n != 2 || zmq_msg_size(&m->f[0]) != sizeof(uint64_t))
        return;
    uint64_t id;
    memcpy(&id, zmq_msg_data(&m->f[0]), sizeof id);
    oks_pending *p = &r->table[id % OKS_ROUTER_MAX_INFLIGHT];
    if (p->id != id || p->asked[si] != 1)
        return; /* late reply to a request that already timed out */
    p->asked[si] = 2;
    p->received++;
    oks_slice body = oks_zframe(m, 1);
    if (p->raw_forward && p->expected == 1) {
        /* single-shard answer: pass the shard's frame on as is (moved, not copied) */
        zmq_msg_send(&p->client, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_msg_send(&p->rid, r->front, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_msg_send(&m->f[1], r->front, ZMQ_DONTWAIT);
        oks_pending_release(p, r->conf->n_shards);
        r->inflight--;
        return;
    }
    Oks__Response *rep;
    oks_err e;
    if (oks_proto_response_unpack(body.ptr, body.len, r->conf->max_message_bytes, &rep, &e) == 0) {
        oks_pending_merge(p, si, r->conf->shards[si].name, rep);
        oks__response__free_unpacked(rep, NULL);
    } else {
        oks_pending_fail(p, r->conf->shards[si].name, "garbled reply");
    }
    if (p->received == p->expected)
        finish(r, p);
}

static void expire(oks_router *r, uint64_t now)
{
    if (!r->inflight)
        return;
    for (size_t i = 0; i < OKS_ROUTER_MAX_INFLIGHT; i++) {
        oks_pending *p = &r->table[i];
        if (!p->id || p->deadline_ms > now)
            continue;
        for (size_t s = 0; s < r->conf->n_shards; s++)
            if (p->asked[s] == 1) {
                oks_pending_fail(p, r->conf->shards[s].name, "deadline passed");
                if (p->op == OKS__REQUEST__OP_STATS)
                    add_down_stats(p, r->conf->shards[s].name);
            }
        p->raw_forward = false;
        finish(r, p);
    }
}

/* Shard si's connection dropped: whatever it was asked and has not answered will never be
 * answered (its replies go to the old connection), so those parts fail now. */
static void on_disconnect(oks_router *r, size_t si)
{
    size_t failed = 0;
    for (size_t i = 0; r->inflight && i < OKS_ROUTER_MAX_INFLIGHT; i++) {
        oks_pending *p = &r->table[i];
        if (!p->id || p->asked[si] != 1)
            continue;
        p->asked[si] = 2;
        p->received++;
        failed++;
        oks_pending_fail(p, r->conf->shards[si].name, "disconnected");
        if (p->op == OKS__REQUEST__OP_STATS)
            add_down_stats(p, r->conf->shards[si].name);
        if (p->received == p->expected) {
            p->raw_forward = false;
            finish(r, p);
        }
    }
    oks_log(OKS_LOG_WARN, "router: shard %s disconnected; %zu unanswered requests failed",
            r->conf->shards[si].name, failed);
}

/* Drains shard si's monitor: one event is two frames (event id + value, endpoint). */
static void drain_monitor(oks_router *r, size_t si)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, r->monitors[si], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t id = 0;
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&id, zmq_msg_data(&ev), 2);
        bool more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        if (more) {
            zmq_msg_init(&addr);
            zmq_msg_recv(&addr, r->monitors[si], 0);
            zmq_msg_close(&addr);
        }
        if (id == ZMQ_EVENT_DISCONNECTED)
            on_disconnect(r, si);
    }
}

int oks_router_run(oks_router *r, atomic_int *stop)
{
    size_t ns = r->conf->n_shards;
    zmq_pollitem_t *items = oks_xcalloc(2 * ns + 1, sizeof *items);
    items[0] = (zmq_pollitem_t){r->front, 0, ZMQ_POLLIN, 0};
    for (size_t i = 0; i < ns; i++)
        items[i + 1] = (zmq_pollitem_t){r->shard_socks[i], 0, ZMQ_POLLIN, 0};
    int ni = (int)ns + 1;
    for (size_t i = 0; i < ns; i++)
        if (r->monitors[i])
            items[ni++] = (zmq_pollitem_t){r->monitors[i], 0, ZMQ_POLLIN, 0};
    uint64_t last_expire = oks_now_ms();
    while (!*stop) {
        int n = zmq_poll(items, ni, OKS_ROUTER_EXPIRE_MS);
        if (n < 0 && errno != EINTR) {
            oks_log(OKS_LOG_ERROR, "router: poll: %s", zmq_strerror(errno));
            free(items);
            return OKS_E_IO;
        }
        oks_zframes m;
        for (size_t i = 0; n > 0 && i < ns; i++)
            for (int k = 0; k < OKS_ROUTER_IO_BATCH && (items[i + 1].revents & ZMQ_POLLIN) &&
                            oks_zrecv(r->shard_socks[i], &m, ZMQ_DONTWAIT) == 0;
                 k++) {
                on_shard(r, i, &m);
                oks_zframes_close(&m);
            }
        for (int k = 0; n > 0 && k < OKS_ROUTER_IO_BATCH && (items[0].revents & ZMQ_POLLIN) &&
                        oks_zrecv(r->front, &m, ZMQ_DONTWAIT) == 0;
             k++) {
            on_client(r, &m);
            oks_zframes_close(&m);
        }
        /* after the replies above: an answer that came before the drop still counts */
        for (int k = (int)ns + 1; n > 0 && k < ni; k++)
            if (items[k].revents & ZMQ_POLLIN)
                for (size_t i = 0; i < ns; i++)
                    if (r->monitors[i] == items[k].socket)
                        drain_monitor(r, i);
        uint64_t now = oks_now_ms();
        if (now - last_expire >= OKS_ROUTER_EXPIRE_MS) {
            expire(r, now);
            last_expire = now;
        }
    }
    free(items);
    return 0;
}
