/* router/router: the router's event loop between a real client (oks_client) and two shard
 * peers played by the test on real ZeroMQ sockets, speaking the cluster protocol: which shard a
 * request goes to (single slot or fan-out) and with which slot, adds split by slot owner with
 * results put back in the caller's order, and the reason a shard failed (not connected,
 * disconnected, deadline passed, a storage error it answered) reaching the client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/cluster.h"
#include "lib/pgp.h"
#include "lib/proto.h"
#include "router/router.h"

#define KEYRING "/usr/share/keyrings/debian-archive-keyring.gpg"
#define FRONT "inproc://test-router-front"
#define WAIT_MS 10000 /* only bounds a broken test; nothing is timed */

typedef struct fixture {
    void *zctx;
    void *shard[2]; /* ROUTER sockets playing shards s0 (slots 0-2047) and s1 (2048-4095) */
    char conf_path[64];
    oks_cluster conf;
    oks_router *router;
    pthread_t tid;
    atomic_int stop;
    oks_client *client;
    uint64_t next_id;
} fixture;

/* An envelope received by a shard peer, kept for its reply. */
typedef struct received {
    oks_zframes m;
    Oks__Request *req;
} received;

static void *run_router(void *arg)
{
    fixture *f = arg;
    oks_router_run(f->router, &f->stop);
    return NULL;
}

static void bind_shard(fixture *f, int i, char *ep, size_t cap)
{
    f->shard[i] = zmq_socket(f->zctx, ZMQ_ROUTER);
    oks_zsock_defaults(f->shard[i], 0);
    assert_int_equal(zmq_bind(f->shard[i], "tcp://127.0.0.1:*"), 0);
    assert_int_equal(zmq_getsockopt(f->shard[i], ZMQ_LAST_ENDPOINT, ep, &cap), 0);
}

/* Starts the router for two shards in zctx, its frontend on front; with bind_s1 false nothing
 * listens on s1's endpoint. */
static fixture *start_in(bool bind_s1, void *zctx, const char *front)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_non_null(zctx);
    f->zctx = zctx;
    char ep0[256], ep1[256] = "tcp://127.0.0.1:1"; /* without bind_s1: nothing listens there */
    bind_shard(f, 0, ep0, sizeof ep0);
    if (bind_s1)
        bind_shard(f, 1, ep1, sizeof ep1);
    snprintf(f->conf_path, sizeof f->conf_path, "/tmp/oks-test-router-XXXXXX");
    int fd = mkstemp(f->conf_path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp,
            "[cluster]\nslots = 4096\nrouters = " FRONT "\n"
            "[shard.s0]\nendpoint = %s\nslots = 0-2047\n"
            "[shard.s1]\nendpoint = %s\nslots = 2048-4095\n"
            "[router]\ndeadline_ms = 600000\n",
            ep0, ep1);
    fclose(fp);
    oks_err e;
    assert_int_equal(oks_cluster_load(f->conf_path, &f->conf, &e), 0);
    f->router = oks_router_new(&f->conf, f->zctx, front, &e);
    assert_non_null(f->router);
    assert_int_equal(pthread_create(&f->tid, NULL, run_router, f), 0);
    f->client = oks_client_new(f->zctx, front, 0, &e);
    assert_non_null(f->client);
    return f;
}

static fixture *start(bool bind_s1)
{
    return start_in(bind_s1, zmq_ctx_new(), FRONT);
}

static void stop(fixture *f)
{
    f->stop = 1;
    pthread_join(f->tid, NULL);
    oks_client_free(f->client);
    oks_router_free(f->router);
    for (int i = 0; i < 2; i++)
        if (f->shard[i])
            zmq_close(f->shard[i]);
    zmq_ctx_term(f->zctx);
    oks_cluster_release(&f->conf);
    unlink(f->conf_path);
    free(f);
}

static uint64_t send_req(fixture *f, Oks__Request *q)
{
    oks_err e;
    q->version = OKS_PROTO_VERSION;
    uint64_t id = ++f->next_id;
    assert_int_equal(oks_client_send(f->client, id, q, &e), 0);
    return id;
}

static Oks__Response *recv_resp(fixture *f, uint64_t want)
{
    uint64_t id;
    Oks__Response *r = NULL;
    oks_err e;
    assert_int_equal(oks_client_recv(f->client, &id, &r, WAIT_MS, &e), 0);
    assert_int_equal(id, want);
    return r;
}

/* The next request that reached shard i (from the router's DEALER: [conn][id][body]). */
static void shard_recv(fixture *f, int i, received *rc)
{
    zmq_pollitem_t it = {f->shard[i], 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, WAIT_MS), 1);
    assert_int_equal(oks_zrecv(f->shard[i], &rc->m, 0), 0);
    assert_int_equal(rc->m.n, 3);
    oks_slice b = oks_zframe(&rc->m, 2);
    oks_err e;
    assert_int_equal(oks_proto_request_unpack(b.ptr, b.len, 64u << 20, &rc->req, &e), 0);
}

static void shard_reply(fixture *f, int i, received *rc, const Oks__Response *r)
{
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_proto_pack_response(r, &b), 0);
    oks_slice parts[3] = {oks_zframe(&rc->m, 0), oks_zframe(&rc->m, 1),
                          oks_slice_of(b.data, b.len)};
    assert_int_equal(oks_zsend(f->shard[i], parts, 3, 0), 0);
    oks_buf_release(&b);
    oks__request__free_unpacked(rc->req, NULL);
    oks_zframes_close(&rc->m);
}

static void shard_reply_status(fixture *f, int i, received *rc, Oks__Status st, const char *msg)
{
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    r.status = st;
    r.error = (char *)msg;
    shard_reply(f, i, rc, &r);
}

/* Health until both shard peers answer, so both DEALER connections are up before a test. The
 * client's answer comes only once every shard asked has answered (or was not connected), so no
 * request is left behind for the next one. */
static void wait_connected(fixture *f)
{
    for (int round = 0;; round++) {
        /* only bounds a broken test (a shard the router never connects to) */
        assert_true(round < WAIT_MS / 50);
        if (round)
            usleep(50 * 1000);
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__Health h = OKS__HEALTH__INIT;
        q.op_case = OKS__REQUEST__OP_HEALTH;
        q.health = &h;
        uint64_t id = send_req(f, &q);
        Oks__Response *r = NULL;
        while (!r) {
            zmq_pollitem_t it[3] = {{oks_client_socket(f->client), 0, ZMQ_POLLIN, 0},
                                    {f->shard[0], 0, ZMQ_POLLIN, 0},
                                    {f->shard[1], 0, ZMQ_POLLIN, 0}};
            assert_true(zmq_poll(it, 3, WAIT_MS) > 0);
            for (int i = 0; i < 2; i++)
                if (it[i + 1].revents & ZMQ_POLLIN) {
                    received rc;
                    shard_recv(f, i, &rc);
                    shard_reply_status(f, i, &rc, OKS__STATUS__STATUS_OK, "");
                }
            if (it[0].revents & ZMQ_POLLIN)
                r = recv_resp(f, id);
        }
        bool ok = r->status == OKS__STATUS__STATUS_OK;
        oks__response__free_unpacked(r, NULL);
        if (ok)
            return;
    }
}

/* A v4 fingerprint whose key ID starts with top: 0x00.. is slot 0 (s0), 0x80.. slot 2048 (s1). */
static void fpr_with_keyid(uint8_t fpr[20], uint8_t top)
{
    memset(fpr, 0x11, 20);
    fpr[12] = top;
}

static Oks__Key *key_of(uint8_t fpr[20])
{
    static Oks__Key k[4];
    static int n;
    Oks__Key *p = &k[n++ % 4];
    oks__key__init(p);
    p->fingerprint = (ProtobufCBinaryData){20, fpr};
    p->data = (ProtobufCBinaryData){20, fpr};
    return p;
}

/* Sends a lookup of the key with primary fingerprint fpr (no subkeys); returns its id. */
static uint64_t send_lookup(fixture *f, uint8_t fpr[20])
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    g.fingerprint = (ProtobufCBinaryData){20, fpr};
    return send_req(f, &q);
}

/* Shard i answers rc with the one key of fingerprint fpr. */
static void shard_reply_key(fixture *f, int i, received *rc, uint8_t fpr[20])
{
    Oks__Response r = OKS__RESPONSE__INIT;
    Oks__Key *kp = key_of(fpr);
    r.version = OKS_PROTO_VERSION;
    r.keys = &kp;
    r.n_keys = 1;
    r.total = 1;
    shard_reply(f, i, rc, &r);
}

static void a_fingerprint_lookup_goes_to_its_slots_owner_only(void **state)
{
    (void)state;
    fixture *f = start(true);
    wait_connected(f);
    uint8_t fpr[20];
    fpr_with_keyid(fpr, 0x80); /* slot 2049: s1 */
    uint64_t id = send_lookup(f, fpr);
    received rc;
    shard_recv(f, 1, &rc);
    assert_int_equal(rc.req->op_case, OKS__REQUEST__OP_GET_FINGERPRINT);
    assert_int_equal(rc.req->slot, (int)oks_slot_of_keyid(fpr + 12, 4096));
    assert_true(rc.req->slot >= 2048);
    assert_int_equal(rc.req->map_digest.len, 32);
    assert_memory_equal(rc.req->map_digest.data, f->conf.digest, 32);
    shard_reply_key(f, 1, &rc, fpr);
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(a->n_keys, 1);
    assert_memory_equal(a->keys[0]->fingerprint.data, fpr, 20);
    oks__response__free_unpacked(a, NULL);
    /* s0 never saw the lookup: the next thing it gets is this fan-out (one pipe keeps order) */
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    s.text = "anything";
    id = send_req(f, &q);
    for (int i = 0; i < 2; i++) {
        shard_recv(f, i, &rc);
        assert_int_equal(rc.req->op_case, OKS__REQUEST__OP_SEARCH);
        assert_int_equal(rc.req->slot, -1);
        shard_reply_status(f, i, &rc, OKS__STATUS__STATUS_NOT_FOUND, "no matching key");
    }
    a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_NOT_FOUND);
    oks__response__free_unpacked(a, NULL);
    stop(f);
}

/* A free loopback TCP endpoint (a port the kernel gave a throwaway socket). */
static void free_tcp_endpoint(char *ep, size_t cap)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &l), 0);
    close(fd);
    snprintf(ep, cap, "tcp://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
}

/* The router's own context has two I/O threads; the clients' connections are pinned to one and
 * the shards' to the other (ZMQ_AFFINITY), and in a context with one I/O thread nothing is
 * pinned. Either way, a client over TCP gets its lookup answered by a shard over TCP (a pin to
 * an I/O thread the context does not have makes connect and bind fail). */
static void the_routers_io_threads_split_clients_and_shards_and_every_link_works(void **state)
{
    (void)state;
    void *own = oks_router_zctx_new();
    assert_non_null(own);
    assert_int_equal(zmq_ctx_get(own, ZMQ_IO_THREADS), OKS_ROUTER_IO_THREADS);
    assert_true(OKS_ROUTER_IO_THREADS >= 2);
    void *ctxs[2] = {own, zmq_ctx_new()};
    assert_int_equal(zmq_ctx_get(ctxs[1], ZMQ_IO_THREADS), 1);
    for (int c = 0; c < 2; c++) {
        char front[256];
        free_tcp_endpoint(front, sizeof front);
        fixture *f = start_in(true, ctxs[c], front);
        /* first a request the router answers itself (a listing of a shard it does not know):
         * the client's connection is up once it is answered */
        Oks__Request lq = OKS__REQUEST__INIT;
        Oks__ListKeys l = OKS__LIST_KEYS__INIT;
        lq.op_case = OKS__REQUEST__OP_LIST;
        lq.list = &l;
        l.shard = "nope";
        Oks__Response *la = recv_resp(f, send_req(f, &lq));
        assert_int_equal(la->status, OKS__STATUS__STATUS_BAD_REQUEST);
        oks__response__free_unpacked(la, NULL);
        wait_connected(f);
        uint8_t fpr[20];
        fpr_with_keyid(fpr, c ? 0x00 : 0x80); /* s0, then s1 */
        uint64_t id = send_lookup(f, fpr);
        received rc;
        shard_recv(f, c ? 0 : 1, &rc);
        shard_reply_key(f, c ? 0 : 1, &rc, fpr);
        Oks__Response *a = recv_resp(f, id);
        assert_int_equal(a->status, OKS__STATUS__STATUS_OK);
        assert_int_equal(a->n_keys, 1);
        assert_memory_equal(a->keys[0]->fingerprint.data, fpr, 20);
        oks__response__free_unpacked(a, NULL);
        stop(f);
    }
}

/* With subkeys, every shard is asked; the key with that primary fingerprint comes first even
 * when another shard's answer (a key holding it as a subkey) arrives first. */
static void a_fingerprint_lookup_with_subkeys_asks_every_shard(void **state)
{
    (void)state;
    fixture *f = start(true);
    wait_connected(f);
    uint8_t fpr[20], other[20];
    fpr_with_keyid(fpr, 0x00);   /* its owner: s0 */
    fpr_with_keyid(other, 0x90); /* a key of s1 that has fpr as a subkey */
    other[0] = 0x22;
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    g.fingerprint = (ProtobufCBinaryData){20, fpr};
    g.subkeys = 1;
    uint64_t id = send_req(f, &q);
    received r0, r1;
    shard_recv(f, 0, &r0);
    shard_recv(f, 1, &r1);
    assert_int_equal(r0.req->slot, -1);
    assert_true(r1.req->get_fingerprint->subkeys);
    Oks__Response r = OKS__RESPONSE__INIT;
    r.version = OKS_PROTO_VERSION;
    Oks__Key *k1 = key_of(other);
    r.keys = &k1;
    r.n_keys = 1;
    shard_reply(f, 1, &r1, &r);
    Oks__Key *k0 = key_of(fpr);
    r.keys = &k0;
    shard_reply(f, 0, &r0, &r);
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(a->n_keys, 2);
    assert_memory_equal(a->keys[0]->fingerprint.data, fpr, 20);
    assert_memory_equal(a->keys[1]->fingerprint.data, other, 20);
    oks__response__free_unpacked(a, NULL);
    stop(f);
}

/* Keys of the archive keyring, with the shard (of two) each one belongs to. */
static size_t load_keys(oks_buf *file, oks_slice *keys, int *owner, size_t max)
{
    FILE *fp = fopen(KEYRING, "rb");
    assert_non_null(fp);
    uint8_t chunk[65536];
    size_t n, off = 0, k = 0;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        oks_buf_append(file, chunk, n);
    fclose(fp);
    oks_err e;
    while (k < max && off < file->len &&
           oks_pgp_split_next(file->data, file->len, &off, &keys[k], &e) == 0) {
        size_t po = 0;
        oks_pgp_packet pkt;
        oks_pgp_pubkey pk;
        assert_int_equal(oks_pgp_packet_next(keys[k].ptr, keys[k].len, &po, &pkt, &e), 0);
        assert_int_equal(oks_pgp_pubkey_parse(pkt.body, pkt.len, pkt.tag, pkt.offset, &pk, &e), 0);
        owner[k] = oks_slot_of_keyid(pk.keyid, 4096) >= 2048;
        k++;
    }
    return k;
}

static void an_add_is_split_by_slot_owner_and_results_come_back_in_order(void **state)
{
    (void)state;
    oks_buf file = OKS_BUF_INIT;
    oks_slice keys[16];
    int owner[16];
    size_t n = load_keys(&file, keys, owner, 16);
    size_t count[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        count[owner[i]]++;
    assert_true(count[0] > 0 && count[1] > 0); /* the keyring has keys on both halves */
    fixture *f = start(true);
    wait_connected(f);
    ProtobufCBinaryData kb[16];
    for (size_t i = 0; i < n; i++)
        kb[i] = (ProtobufCBinaryData){keys[i].len, (uint8_t *)keys[i].ptr};
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Add add = OKS__ADD__INIT;
    q.op_case = OKS__REQUEST__OP_ADD;
    q.add = &add;
    add.keys = kb;
    add.n_keys = n;
    uint64_t id = send_req(f, &q);
    for (int s = 1; s >= 0; s--) {
        received rc;
        shard_recv(f, s, &rc);
        assert_int_equal(rc.req->op_case, OKS__REQUEST__OP_ADD);
        assert_int_equal(rc.req->add->n_keys, count[s]);
        /* the shard's keys, in the caller's order; each result names the key's position in the
         * sub-request and carries its index in the whole add as the outcome's marker */
        Oks__AddResult res[16], *rp[16];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (owner[i] != s)
                continue;
            assert_int_equal(rc.req->add->keys[k].len, keys[i].len);
            assert_memory_equal(rc.req->add->keys[k].data, keys[i].ptr, keys[i].len);
            oks__add_result__init(&res[k]);
            res[k].index = (uint32_t)k;
            res[k].sigs_verified = (uint32_t)i;
            rp[k] = &res[k];
            k++;
        }
        Oks__Response r = OKS__RESPONSE__INIT;
        r.version = OKS_PROTO_VERSION;
        r.results = rp;
        r.n_results = k;
        shard_reply(f, s, &rc, &r);
    }
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_OK);
    assert_int_equal(a->n_results, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(a->results[i]->index, i);
        assert_int_equal(a->results[i]->sigs_verified, i);
    }
    oks__response__free_unpacked(a, NULL);
    stop(f);
    oks_buf_release(&file);
}

static void a_storage_error_of_a_shard_reaches_the_client(void **state)
{
    (void)state;
    fixture *f = start(true);
    wait_connected(f);
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByKeyId g = OKS__GET_BY_KEY_ID__INIT;
    uint8_t kid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    q.op_case = OKS__REQUEST__OP_GET_KEY_ID;
    q.get_key_id = &g;
    g.key_id = (ProtobufCBinaryData){8, kid};
    uint64_t id = send_req(f, &q);
    received r0, r1;
    shard_recv(f, 0, &r0);
    shard_recv(f, 1, &r1);
    shard_reply_status(f, 0, &r0, OKS__STATUS__STATUS_NOT_FOUND, "no matching key");
    shard_reply_status(f, 1, &r1, OKS__STATUS__STATUS_INTERNAL,
                       "shard s1: index scan failed: leveldb scan: Corruption: block checksum "
                       "mismatch");
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_INTERNAL);
    assert_non_null(strstr(a->error, "block checksum mismatch"));
    assert_int_equal(a->n_failed_shards, 1);
    assert_string_equal(a->failed_shards[0], "s1");
    oks__response__free_unpacked(a, NULL);
    stop(f);
}

/* Neither shard answers before the request's deadline: both are named, with the reason. */
static void shards_that_miss_the_deadline_are_named_with_the_reason(void **state)
{
    (void)state;
    fixture *f = start(true);
    wait_connected(f);
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Search s = OKS__SEARCH__INIT;
    q.op_case = OKS__REQUEST__OP_SEARCH;
    q.search = &s;
    q.deadline_ms = 100;
    s.text = "alice";
    uint64_t id = send_req(f, &q);
    received r0, r1;
    shard_recv(f, 0, &r0); /* both keep it and never answer */
    shard_recv(f, 1, &r1);
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_UNAVAILABLE);
    assert_non_null(strstr(a->error, "shard s0 unavailable (deadline passed)"));
    assert_non_null(strstr(a->error, "shard s1 unavailable (deadline passed)"));
    assert_int_equal(a->n_failed_shards, 2);
    oks__response__free_unpacked(a, NULL);
    for (int i = 0; i < 2; i++) {
        received *rc = i ? &r1 : &r0;
        oks__request__free_unpacked(rc->req, NULL);
        oks_zframes_close(&rc->m);
    }
    stop(f);
}

static void a_shard_that_drops_its_connection_fails_what_it_owes(void **state)
{
    (void)state;
    fixture *f = start(true);
    wait_connected(f);
    uint8_t fpr[20];
    fpr_with_keyid(fpr, 0xC0); /* s1 */
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    q.deadline_ms = 600000; /* the drop, not the deadline, must end it */
    g.fingerprint = (ProtobufCBinaryData){20, fpr};
    uint64_t id = send_req(f, &q);
    received rc;
    shard_recv(f, 1, &rc);
    oks__request__free_unpacked(rc.req, NULL);
    oks_zframes_close(&rc.m);
    zmq_close(f->shard[1]); /* the shard dies owing the answer */
    f->shard[1] = NULL;
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_UNAVAILABLE);
    assert_non_null(strstr(a->error, "shard s1 unavailable (disconnected)"));
    assert_int_equal(a->n_failed_shards, 1);
    assert_string_equal(a->failed_shards[0], "s1");
    oks__response__free_unpacked(a, NULL);
    stop(f);
}

static void a_shard_that_is_not_there_is_named_at_once(void **state)
{
    (void)state;
    fixture *f = start(false);
    uint8_t fpr[20];
    fpr_with_keyid(fpr, 0xF0); /* s1, which nothing serves */
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
    q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
    q.get_fingerprint = &g;
    q.deadline_ms = 600000;
    g.fingerprint = (ProtobufCBinaryData){20, fpr};
    uint64_t id = send_req(f, &q);
    Oks__Response *a = recv_resp(f, id);
    assert_int_equal(a->status, OKS__STATUS__STATUS_UNAVAILABLE);
    assert_non_null(strstr(a->error, "shard s1 unavailable (not connected)"));
    oks__response__free_unpacked(a, NULL);
    stop(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_fingerprint_lookup_goes_to_its_slots_owner_only),
        cmocka_unit_test(a_fingerprint_lookup_with_subkeys_asks_every_shard),
        cmocka_unit_test(an_add_is_split_by_slot_owner_and_results_come_back_in_order),
        cmocka_unit_test(a_storage_error_of_a_shard_reaches_the_client),
        cmocka_unit_test(shards_that_miss_the_deadline_are_named_with_the_reason),
        cmocka_unit_test(a_shard_that_drops_its_connection_fails_what_it_owes),
        cmocka_unit_test(a_shard_that_is_not_there_is_named_at_once),
        cmocka_unit_test(the_routers_io_threads_split_clients_and_shards_and_every_link_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
