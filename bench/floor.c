/*
 * oks-bench transport-floor: the cost of the ZeroMQ transport alone, for bench/spine.sh. The
 * same topology as a lookup through the spine (client DEALER -> forwarder ROUTER, one DEALER per
 * shard -> shard ROUTER, each a separate process on loopback TCP) with no work anywhere: the
 * "shards" answer each request at once with as many bytes as the real answer for that
 * fingerprint had (learnt first through the running cluster's router). Whatever a real router
 * and shard add on top of this is their cost; what this costs is the box's floor for two hops.
 */
#include "bench/bench.h"

#include "lib/cluster.h"
#include "lib/zsec.h"
#include "lib/proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define FLOOR_SHARDS 2

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &l) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Answer sizes: each fingerprint fetched once through the router; the packed response size. */
static size_t learn_sizes(const char *conf_path, const char *fpr_file, size_t **out)
{
    oks_cluster c;
    oks_err e;
    *out = NULL;
    if (oks_cluster_load(conf_path, &c, &e)) {
        fprintf(stderr, "oks-bench: %s\n", e.msg);
        return 0;
    }
    FILE *f = fopen(fpr_file, "r");
    void *z = zmq_ctx_new();
    oks_client *cl = f && oks_zsec_start(&c, OKS_ROLE_ADMIN, z, &e) == 0
                         ? oks_client_new(z, c.routers[0], 0, &e)
                         : NULL;
    char line[128];
    size_t n = 0, cap = 0;
    while (cl && fgets(line, sizeof line, f)) {
        uint8_t fpr[20];
        if (strlen(line) < 40 || oks_unhex(fpr, line, 20) != 0)
            continue;
        Oks__Request q = OKS__REQUEST__INIT;
        Oks__GetByFingerprint g = OKS__GET_BY_FINGERPRINT__INIT;
        q.op_case = OKS__REQUEST__OP_GET_FINGERPRINT;
        q.get_fingerprint = &g;
        g.fingerprint = (ProtobufCBinaryData){20, fpr};
        uint64_t id;
        Oks__Response *r;
        if (oks_client_send(cl, 0, &q, &e) || oks_client_recv(cl, &id, &r, 5000, &e))
            break;
        if (n == cap)
            *out = realloc(*out, (cap = cap ? cap * 2 : 1024) * sizeof **out);
        (*out)[n++] = oks__response__get_packed_size(r);
        oks__response__free_unpacked(r, NULL);
    }
    if (cl)
        oks_client_free(cl);
    oks_zsec_stop();
    zmq_ctx_term(z);
    if (f)
        fclose(f);
    oks_cluster_release(&c);
    return n;
}

/* A "shard": ROUTER; each [peer][conn][rid][req] is answered [peer][conn][rid][size bytes],
 * the size named by the request. */
static void shard_main(int port, size_t max)
{
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_ROUTER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    uint8_t *payload = calloc(1, max ? max : 1);
    if (zmq_bind(s, ep) != 0 || !payload)
        _exit(1);
    for (;;) {
        zmq_msg_t f[4];
        int n = 0, more = 1;
        while (more && n < 4) {
            zmq_msg_init(&f[n]);
            if (zmq_msg_recv(&f[n], s, 0) < 0)
                _exit(1);
            more = zmq_msg_more(&f[n++]);
        }
        if (n == 4 && zmq_msg_size(&f[3]) == 8) {
            uint64_t sz;
            memcpy(&sz, zmq_msg_data(&f[3]), 8);
            zmq_msg_send(&f[0], s, ZMQ_SNDMORE);
            zmq_msg_send(&f[1], s, ZMQ_SNDMORE);
            zmq_msg_send(&f[2], s, ZMQ_SNDMORE);
            zmq_send(s, payload, sz <= max ? sz : max, 0);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&f[i]);
    }
}

static int fwd(void *from, void *to)
{
    int more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, from, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return -1;
        }
        more = zmq_msg_more(&m);
        zmq_msg_send(&m, to, more ? ZMQ_SNDMORE : 0);
    }
    return 0;
}

/* The forwarder: ROUTER in front, a DEALER per shard; [client][rid][req] goes to the shard the
 * request names, replies come back as they are. */
static void forwarder_main(int front_port, const int *shard_ports)
{
    void *z = zmq_ctx_new(), *front = zmq_socket(z, ZMQ_ROUTER), *back[FLOOR_SHARDS];
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", front_port);
    if (zmq_bind(front, ep) != 0)
        _exit(1);
    for (int i = 0; i < FLOOR_SHARDS; i++) {
        back[i] = zmq_socket(z, ZMQ_DEALER);
        snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", shard_ports[i]);
        zmq_connect(back[i], ep);
    }
    for (;;) {
        zmq_pollitem_t it[1 + FLOOR_SHARDS] = {{front, 0, ZMQ_POLLIN, 0}};
        for (int i = 0; i < FLOOR_SHARDS; i++)
            it[1 + i] = (zmq_pollitem_t){back[i], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(it, 1 + FLOOR_SHARDS, -1) < 0)
            _exit(1);
        for (int i = 0; i < FLOOR_SHARDS; i++)
            while (it[1 + i].revents && fwd(back[i], front) == 0)
                ;
        while (it[0].revents) {
            zmq_msg_t f[3];
            int n = 0, more = 1;
            while (more && n < 3) {
                zmq_msg_init(&f[n]);
                if (zmq_msg_recv(&f[n], front, ZMQ_DONTWAIT) < 0)
                    break;
                more = zmq_msg_more(&f[n++]);
            }
            if (n == 3 && zmq_msg_size(&f[1]) == 8) {
                uint64_t rid;
                memcpy(&rid, zmq_msg_data(&f[1]), 8);
                void *b = back[rid % FLOOR_SHARDS];
                zmq_msg_send(&f[0], b, ZMQ_SNDMORE);
                zmq_msg_send(&f[1], b, ZMQ_SNDMORE);
                zmq_msg_send(&f[2], b, 0);
            }
            for (int i = 0; i < n; i++)
                zmq_msg_close(&f[i]);
            if (n < 3)
                break;
        }
    }
}

static int client_run(int front_port, const size_t *sizes, size_t ns, unsigned window,
                      double seconds)
{
    void *z = zmq_ctx_new(), *s = zmq_socket(z, ZMQ_DEALER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", front_port);
    zmq_connect(s, ep);
    int tmo = 5000, linger = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    size_t cap = 1 << 22, done = 0, sent = 0;
    double *lat = malloc(cap * sizeof *lat), *start = calloc(window, sizeof *start);
    uint64_t *rid = calloc(window, sizeof *rid);
    /* request: [rid: slot in the window + sequence * window][answer size] */
#define SEND(w)                                                                                    \
    do {                                                                                           \
        uint64_t sz = sizes[sent % ns], id_ = (w) + (uint64_t)sent * window;                       \
        rid[w] = id_;                                                                              \
        start[w] = bench_now_s();                                                                        \
        zmq_send(s, &id_, 8, ZMQ_SNDMORE);                                                         \
        zmq_send(s, &sz, 8, 0);                                                                    \
        sent++;                                                                                    \
    } while (0)
    /* one round trip first: the processes have bound and connected before the clock starts */
    uint64_t warm[2] = {0, 0};
    zmq_send(s, &warm[0], 8, ZMQ_SNDMORE);
    zmq_send(s, &warm[1], 8, 0);
    if (zmq_recv(s, &warm[0], 8, 0) != 8 || zmq_recv(s, &warm[1], 8, 0) < 0) {
        fprintf(stderr, "oks-bench: the transport floor's processes do not answer\n");
        zmq_close(s);
        zmq_ctx_term(z);
        free(lat);
        free(start);
        free(rid);
        return 1;
    }
    double t0 = bench_now_s(), end = t0 + seconds;
    for (unsigned w = 0; w < window; w++)
        SEND(w);
    int rc = 0;
    while (done < cap) {
        uint64_t r;
        zmq_msg_t body;
        if (zmq_recv(s, &r, 8, 0) != 8) {
            rc = 1;
            break;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, s, 0);
        zmq_msg_close(&body);
        unsigned w = (unsigned)(r % window);
        double t = bench_now_s();
        lat[done++] = t - start[w];
        if (t < end)
            SEND(w);
        else if (done == sent)
            break;
    }
#undef SEND
    double secs = bench_now_s() - t0;
    if (done)
        bench_report_lookups("floor", window, done, secs, lat);
    zmq_close(s);
    zmq_ctx_term(z);
    free(lat);
    free(start);
    free(rid);
    return rc || !done;
}

int bench_transport_floor(const char *conf_path, const char *fpr_file, unsigned window,
                          double seconds)
{
    size_t *sizes, ns = learn_sizes(conf_path, fpr_file, &sizes), max = 0;
    if (!ns || !window) {
        fprintf(stderr, "oks-bench: no answer sizes learnt from %s through the router\n",
                fpr_file);
        free(sizes);
        return 1;
    }
    for (size_t i = 0; i < ns; i++)
        max = sizes[i] > max ? sizes[i] : max;
    int front = free_port(), ports[FLOOR_SHARDS];
    pid_t kids[1 + FLOOR_SHARDS];
    for (int i = 0; i < FLOOR_SHARDS; i++)
        ports[i] = free_port();
    fflush(stdout);
    for (int i = 0; i < 1 + FLOOR_SHARDS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            if (i == 0)
                forwarder_main(front, ports);
            shard_main(ports[i - 1], max);
        }
    }
    int rc = client_run(front, sizes, ns, window, seconds);
    for (int i = 0; i < 1 + FLOOR_SHARDS; i++) {
        kill(kids[i], SIGKILL);
        waitpid(kids[i], NULL, 0);
    }
    free(sizes);
    return rc;
}
