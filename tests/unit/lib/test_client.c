/* lib/proto.c's client of several routers: a request is sent again to another router when its
 * router's connection drops, or when it has no answer within its per-try timeout. The routers
 * are real ZeroMQ ROUTER sockets on 127.0.0.1 played by the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster.h"
#include "lib/proto.h"

typedef struct fixture {
    void *z, *r[2];
    oks_cluster *conf;
    oks_client *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->z = zmq_ctx_new();
    f->conf = calloc(1, sizeof *f->conf);
    for (int i = 0; i < 2; i++) {
        f->r[i] = zmq_socket(f->z, ZMQ_ROUTER);
        oks_zsock_defaults(f->r[i], 0);
        assert_int_equal(zmq_bind(f->r[i], "tcp://127.0.0.1:*"), 0);
        size_t n = sizeof f->conf->routers[i];
        zmq_getsockopt(f->r[i], ZMQ_LAST_ENDPOINT, f->conf->routers[i], &n);
    }
    f->conf->n_routers = 2;
    f->conf->max_message_bytes = 1 << 20;
    f->conf->router_deadline_ms = 2000; /* per-try timeout: 1000 ms */
    oks_err e;
    f->c = oks_client_new_routers(f->z, f->conf, &e);
    assert_non_null(f->c);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    oks_client_free(f->c);
    for (int i = 0; i < 2; i++)
        if (f->r[i])
            zmq_close(f->r[i]);
    zmq_ctx_term(f->z);
    free(f->conf);
    free(f);
    return 0;
}

static void send_health(fixture *f, uint64_t id)
{
    Oks__Request q = OKS__REQUEST__INIT;
    Oks__Health h = OKS__HEALTH__INIT;
    q.op_case = OKS__REQUEST__OP_HEALTH;
    q.health = &h;
    oks_err e;
    assert_int_equal(oks_client_send(f->c, id, &q, &e), 0);
}

/* Which router got the request (-1 if none within wait_ms); its frames in m. */
static int routed_to(fixture *f, oks_zframes *m, int wait_ms)
{
    zmq_pollitem_t it[2] = {{f->r[0], 0, ZMQ_POLLIN, 0}, {f->r[1], 0, ZMQ_POLLIN, 0}};
    int waited = 0;
    /* the client sends (or sends again) while it is asked for replies: drive it meanwhile */
    while (zmq_poll(it, 2, 10) <= 0) {
        uint64_t rid;
        Oks__Response *r;
        oks_err e;
        assert_int_not_equal(oks_client_recv(f->c, &rid, &r, 10, &e), 0);
        if ((waited += 20) > wait_ms)
            return -1;
    }
    int k = (it[0].revents & ZMQ_POLLIN) ? 0 : 1;
    assert_int_equal(oks_zrecv(f->r[k], m, 0), 0);
    return k;
}

/* Drives the client until router k receives the request again; answers it; checks the id. */
static void answered_by(fixture *f, int k, uint64_t id)
{
    oks_zframes m;
    bool got = false;
    for (int i = 0; i < 200 && !got; i++) {
        uint64_t rid;
        Oks__Response *r;
        oks_err e;
        assert_int_not_equal(oks_client_recv(f->c, &rid, &r, 50, &e), 0); /* no answer yet */
        got = zmq_poll(&(zmq_pollitem_t){f->r[k], 0, ZMQ_POLLIN, 0}, 1, 0) > 0;
    }
    assert_true(got);
    assert_int_equal(oks_zrecv(f->r[k], &m, 0), 0);
    assert_int_equal(m.n, 3);
    uint64_t sent_id;
    memcpy(&sent_id, zmq_msg_data(&m.f[1]), sizeof sent_id);
    assert_true(sent_id == id);
    oks_buf b = OKS_BUF_INIT;
    oks_proto_pack_error(OKS__STATUS__STATUS_OK, "", &b);
    oks_slice reply[3] = {oks_zframe(&m, 0), oks_zframe(&m, 1), oks_slice_of(b.data, b.len)};
    assert_int_equal(oks_zsend(f->r[k], reply, 3, 0), 0);
    oks_buf_release(&b);
    oks_zframes_close(&m);
    uint64_t rid;
    Oks__Response *r;
    oks_err e;
    assert_int_equal(oks_client_recv(f->c, &rid, &r, 10000, &e), 0);
    assert_true(rid == id);
    assert_int_equal(r->status, OKS__STATUS__STATUS_OK);
    oks__response__free_unpacked(r, NULL);
}

/* Requests until both routers have answered one: both connections are up. */
static void warm_up(fixture *f)
{
    bool seen[2] = {false, false};
    for (uint64_t id = 100; id < 200 && !(seen[0] && seen[1]); id++) {
        send_health(f, id);
        oks_zframes m;
        int k = routed_to(f, &m, 10000);
        assert_true(k >= 0);
        seen[k] = true;
        oks_buf b = OKS_BUF_INIT;
        oks_proto_pack_error(OKS__STATUS__STATUS_OK, "", &b);
        oks_slice reply[3] = {oks_zframe(&m, 0), oks_zframe(&m, 1), oks_slice_of(b.data, b.len)};
        assert_int_equal(oks_zsend(f->r[k], reply, 3, 0), 0);
        oks_buf_release(&b);
        oks_zframes_close(&m);
        uint64_t rid;
        Oks__Response *r;
        oks_err e;
        assert_int_equal(oks_client_recv(f->c, &rid, &r, 10000, &e), 0);
        oks__response__free_unpacked(r, NULL);
    }
    assert_true(seen[0] && seen[1]);
}

static void a_request_whose_router_dies_goes_to_the_other(void **state)
{
    fixture *f = *state;
    warm_up(f);
    send_health(f, 7);
    oks_zframes m;
    int k = routed_to(f, &m, 10000);
    assert_true(k >= 0);
    oks_zframes_close(&m);
    zmq_close(f->r[k]); /* the router dies with the request unanswered */
    f->r[k] = NULL;
    answered_by(f, 1 - k, 7);
    assert_true(oks_client_resent(f->c) >= 1);
}

static void a_request_unanswered_for_its_try_goes_to_the_other(void **state)
{
    fixture *f = *state;
    warm_up(f);
    send_health(f, 8);
    oks_zframes m;
    int k = routed_to(f, &m, 10000);
    assert_true(k >= 0);
    oks_zframes_close(&m); /* router k stays connected and never answers */
    answered_by(f, 1 - k, 8);
    assert_int_equal(oks_client_resent(f->c), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_request_whose_router_dies_goes_to_the_other, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_request_unanswered_for_its_try_goes_to_the_other, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
