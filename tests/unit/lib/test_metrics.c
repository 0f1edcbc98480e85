/* lib/metrics: registration rules, the text exposition format, histogram buckets, label
 * escaping, hooks, and the /metrics server over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/metrics.h"
#include "lib/metrics_http.h"
#include "lib/metrics_proto.h"
#include "lib/proto.h"

static char *render(oks_metrics *r)
{
    oks_buf b = OKS_BUF_INIT;
    assert_int_equal(oks_metrics_render(r, &b), 0);
    size_t n;
    return (char *)oks_buf_detach(&b, &n);
}

static void counter_with_two_labels(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    static const char *const ops[] = {"get", "add", NULL};
    static const char *const st[] = {"ok", "bad", NULL};
    oks_metric_spec s = {.name = "t_requests_total", .help = "Requests.",
                         .type = OKS_METRIC_COUNTER, .label = {"op", "status"},
                         .values = {ops, st}};
    oks_metric *m = NULL;
    oks_err e;
    assert_int_equal(oks_metrics_register(r, &s, &m, &e), 0);
    oks_metric_inc(m, 1, 0);
    oks_metric_add(m, 1, 0, 41);
    oks_metric_inc(m, 0, 1);
    oks_metric_inc(m, 2, 0); /* out of range: ignored */
    oks_metric_inc(m, 0, 2);
    oks_metric_inc(NULL, 0, 0);
    assert_true(oks_metric_value(m, 1, 0) == 42);
    char *t = render(r);
    assert_string_equal(t, "# HELP t_requests_total Requests.\n"
                           "# TYPE t_requests_total counter\n"
                           "t_requests_total{op=\"get\",status=\"ok\"} 0\n"
                           "t_requests_total{op=\"get\",status=\"bad\"} 1\n"
                           "t_requests_total{op=\"add\",status=\"ok\"} 42\n"
                           "t_requests_total{op=\"add\",status=\"bad\"} 0\n");
    free(t);
    assert_int_equal(oks_metric_label_index(m, 1, "bad"), 1);
    assert_int_equal(oks_metric_label_index(m, 0, "nope"), -1);
    oks_metrics_free(r);
}

static void gauge_values_and_help_escaping(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    oks_metric *g = oks_metrics_gauge(r, "t_level", "A \\ back\nslash.");
    oks_metric_set(g, 0, 0, 0.1);
    char *t = render(r);
    assert_string_equal(t, "# HELP t_level A \\\\ back\\nslash.\n# TYPE t_level gauge\n"
                           "t_level 0.1\n");
    free(t);
    oks_metric_set(g, 0, 0, -3);
    oks_metric_gauge_add(g, 0, 0, 1.5);
    t = render(r);
    assert_non_null(strstr(t, "\nt_level -1.5\n"));
    free(t);
    oks_buf b = OKS_BUF_INIT;
    oks_metrics_write_value(&b, 1.0 / 0.0);
    oks_buf_putc(&b, ' ');
    oks_metrics_write_value(&b, -1.0 / 0.0);
    oks_buf_putc(&b, ' ');
    oks_metrics_write_value(&b, 0.0 / 0.0);
    oks_buf_putc(&b, ' ');
    oks_metrics_write_value(&b, 1e20);
    oks_buf_putc(&b, ' ');
    oks_metrics_write_value(&b, 0.30000000000000004);
    oks_buf_terminate(&b);
    assert_string_equal((char *)b.data, "+Inf -Inf NaN 1e+20 0.30000000000000004");
    oks_buf_release(&b);
    oks_metrics_free(r);
}

static void histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    static const double bounds[] = {0.5, 1, 2.5};
    static const char *const k[] = {"a", NULL};
    oks_metric_spec s = {.name = "t_wait_seconds", .help = "Waits.",
                         .type = OKS_METRIC_HISTOGRAM, .label = {"kind"}, .values = {k},
                         .bounds = bounds, .n_bounds = 3};
    oks_metric *h;
    oks_err e;
    assert_int_equal(oks_metrics_register(r, &s, &h, &e), 0);
    oks_metric_observe(h, 0, 0, 0.5); /* on a bound: in that bucket (le) */
    oks_metric_observe(h, 0, 0, 0.75);
    oks_metric_observe(h, 0, 0, 3);
    oks_metric_observe(h, 0, 0, 0.0 / 0.0); /* NaN: not counted */
    char *t = render(r);
    assert_string_equal(t, "# HELP t_wait_seconds Waits.\n# TYPE t_wait_seconds histogram\n"
                           "t_wait_seconds_bucket{kind=\"a\",le=\"0.5\"} 1\n"
                           "t_wait_seconds_bucket{kind=\"a\",le=\"1\"} 2\n"
                           "t_wait_seconds_bucket{kind=\"a\",le=\"2.5\"} 2\n"
                           "t_wait_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3\n"
                           "t_wait_seconds_sum{kind=\"a\"} 4.25\n"
                           "t_wait_seconds_count{kind=\"a\"} 3\n");
    free(t);
    assert_true(oks_metric_value(h, 0, 0) == 3);
    /* the default bounds: durations, 15 of them */
    oks_metric_spec d = {.name = "t_d_seconds", .help = "", .type = OKS_METRIC_HISTOGRAM};
    assert_int_equal(oks_metrics_register(r, &d, &h, &e), 0);
    oks_metric_observe(h, 0, 0, 20);
    t = render(r);
    assert_non_null(strstr(t, "t_d_seconds_bucket{le=\"0.00025\"} 0\n"));
    assert_non_null(strstr(t, "t_d_seconds_bucket{le=\"10\"} 0\n"));
    assert_non_null(strstr(t, "t_d_seconds_bucket{le=\"+Inf\"} 1\n"));
    free(t);
    oks_metrics_free(r);
}

static void label_values_are_escaped(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    static const char *const v[] = {"a\"b", "c\\d", "e\nf", "g{h}=,", NULL};
    oks_metric_spec s = {.name = "t_x_total", .help = "X.", .type = OKS_METRIC_COUNTER,
                         .label = {"peer"}, .values = {v}};
    oks_metric *m;
    oks_err e;
    assert_int_equal(oks_metrics_register(r, &s, &m, &e), 0);
    char *t = render(r);
    assert_non_null(strstr(t, "t_x_total{peer=\"a\\\"b\"} 0\n"));
    assert_non_null(strstr(t, "t_x_total{peer=\"c\\\\d\"} 0\n"));
    assert_non_null(strstr(t, "t_x_total{peer=\"e\\nf\"} 0\n"));
    assert_non_null(strstr(t, "t_x_total{peer=\"g{h}=,\"} 0\n"));
    free(t);
    oks_metrics_free(r);
}

static void bad_specs_are_refused(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    oks_metric *m;
    oks_err e;
    static const char *const v[] = {"x", NULL}, *const twice[] = {"x", "x", NULL},
                             *const none[] = {NULL};
    static const double down[] = {1, 0.5}, inf[] = {1.0 / 0.0};
    const oks_metric_spec bad[] = {
        {.name = "1abc_total", .type = OKS_METRIC_COUNTER},
        {.name = "a-b", .type = OKS_METRIC_GAUGE},
        {.name = "no_suffix", .type = OKS_METRIC_COUNTER},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {"le"}, .values = {v}},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {"__x"}, .values = {v}},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {"a", "a"}, .values = {v, v}},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {NULL, "a"}, .values = {NULL, v}},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {"a"}, .values = {none}},
        {.name = "g", .type = OKS_METRIC_GAUGE, .label = {"a"}, .values = {twice}},
        {.name = "h", .type = OKS_METRIC_HISTOGRAM, .bounds = down, .n_bounds = 2},
        {.name = "h", .type = OKS_METRIC_HISTOGRAM, .bounds = inf, .n_bounds = 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_not_equal(oks_metrics_register(r, &bad[i], &m, &e), 0);
    assert_non_null(oks_metrics_gauge(r, "ok_gauge", "fine"));
    assert_null(oks_metrics_gauge(r, "ok_gauge", "twice"));
    char *t = render(r);
    assert_string_equal(t, "# HELP ok_gauge fine\n# TYPE ok_gauge gauge\nok_gauge 0\n");
    free(t);
    oks_metrics_free(r);
}

static void set_from_collect(void *arg)
{
    oks_metric_set(arg, 0, 0, 7);
}

static void write_extra(void *arg, oks_buf *out)
{
    (void)arg;
    static const char *const keys[] = {"partner"}, *const vals[] = {"h\"1:11370"};
    oks_metrics_write_head(out, "t_partner_ok", "Per partner.", OKS_METRIC_GAUGE);
    oks_metrics_write_sample(out, "t_partner_ok", keys, vals, 1, 1);
}

static void hooks_run_on_render(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    oks_metric *c = oks_metrics_counter(r, "t_kept_elsewhere_total", "Kept elsewhere.");
    assert_int_equal(oks_metrics_on_collect(r, set_from_collect, c), 0);
    assert_int_equal(oks_metrics_on_write(r, write_extra, NULL), 0);
    char *t = render(r);
    assert_string_equal(t, "# HELP t_kept_elsewhere_total Kept elsewhere.\n"
                           "# TYPE t_kept_elsewhere_total counter\n"
                           "t_kept_elsewhere_total 7\n"
                           "# HELP t_partner_ok Per partner.\n# TYPE t_partner_ok gauge\n"
                           "t_partner_ok{partner=\"h\\\"1:11370\"} 1\n");
    free(t);
    oks_metrics_free(r);
}

static void proto_labels_follow_the_descriptors(void **state)
{
    (void)state;
    oks_metrics_proto_labels l;
    oks_metrics_proto_labels_init(&l);
    assert_string_equal(l.ops[oks_metrics_proto_op(&l, OKS__REQUEST__OP_ADD)], "add");
    assert_string_equal(l.ops[oks_metrics_proto_op(&l, OKS__REQUEST__OP_GET_FINGERPRINT)],
                        "get_fingerprint");
    assert_string_equal(l.ops[oks_metrics_proto_op(&l, 0)], "other");
    assert_string_equal(l.status[oks_metrics_proto_status(&l, OKS__STATUS__STATUS_OK)], "ok");
    assert_string_equal(l.status[oks_metrics_proto_status(&l, OKS__STATUS__STATUS_NOT_FOUND)],
                        "not_found");
    assert_string_equal(l.status[oks_metrics_proto_status(&l, 999)], "other");
}

/* One HTTP/1.0 request to 127.0.0.1:port; the whole answer into out. */
static void http(unsigned port, const char *request, char *out, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(write(fd, request, strlen(request)), (ssize_t)strlen(request));
    size_t n = 0;
    ssize_t r;
    while (n + 1 < size && (r = read(fd, out + n, size - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fd);
}

static void server_answers_get_metrics_only_to_allowed_clients(void **state)
{
    (void)state;
    oks_metrics *r = oks_metrics_new();
    oks_metric *c = oks_metrics_counter(r, "t_served_total", "Served.");
    oks_metric_add(c, 0, 0, 5);
    oks_hostport hp = {.host = "127.0.0.1", .port = 0};
    oks_err e;
    oks_metrics_http *s = oks_metrics_http_start(r, &hp, "127.0.0.0/8", &e);
    assert_non_null(s);
    unsigned port = oks_metrics_http_port(s);
    assert_true(port > 0);
    static char out[65536];
    http(port, "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "HTTP/1.0 200") ? out : strstr(out, "HTTP/1.1 200"));
    assert_non_null(strstr(out, "text/plain; version=0.0.4"));
    assert_non_null(strstr(out, "\r\n\r\n# HELP t_served_total Served.\n"));
    assert_non_null(strstr(out, "\nt_served_total 5\n"));
    http(port, "GET /other HTTP/1.0\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, " 404 "));
    http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", out, sizeof out);
    assert_non_null(strstr(out, " 405 "));
    http(port, "BLAH\r\n\r\n", out, sizeof out);
    assert_null(strstr(out, " 200 "));
    oks_metrics_http_stop(s);

    s = oks_metrics_http_start(r, &hp, "", &e); /* nobody may read */
    assert_non_null(s);
    http(oks_metrics_http_port(s), "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, " 403 "));
    assert_null(strstr(out, "t_served_total"));
    oks_metrics_http_stop(s);

    oks_hostport bad = {.host = "192.0.2.1", .port = 1}; /* not an address of this host */
    assert_null(oks_metrics_http_start(r, &bad, "", &e));
    oks_metrics_free(r);
}

/* oks_metrics_reg registers what oks_metrics_register would; oks_metrics_http_serve serves the
 * registry when registering went well, and frees it (NULL) when that or the listen failed. */
static void reg_and_serve_helpers(void **state)
{
    (void)state;
    static const char *const kinds[] = {"a", "b", NULL};
    oks_metrics *r = oks_metrics_new();
    oks_metric *m = NULL;
    oks_err e;
    assert_int_equal(oks_metrics_reg(r, &m, "t_things_total", "Things.", OKS_METRIC_COUNTER, "kind",
                                     kinds, NULL, NULL, &e),
                     0);
    oks_metric_inc(m, 1, 0);
    assert_int_not_equal(oks_metrics_reg(r, &m, "t_things_total", "Again.", OKS_METRIC_COUNTER,
                                         NULL, NULL, NULL, NULL, &e),
                         0);
    oks_hostport hp = {.host = "127.0.0.1", .port = 0};
    oks_metrics_http *s = NULL;
    assert_int_equal(oks_metrics_http_serve(&r, 0, &hp, "127.0.0.0/8", &s, &e), 0);
    assert_non_null(r);
    assert_non_null(s);
    static char out[65536];
    http(oks_metrics_http_port(s), "GET /metrics HTTP/1.0\r\n\r\n", out, sizeof out);
    assert_non_null(strstr(out, "\nt_things_total{kind=\"b\"} 1\n"));
    oks_metrics_http_stop(s);
    oks_metrics_free(r);

    r = oks_metrics_new(); /* registering failed: nothing listens, the registry is gone */
    s = NULL;
    assert_int_equal(oks_metrics_http_serve(&r, OKS_E_ARG, &hp, "", &s, &e), OKS_E_ARG);
    assert_null(r);
    assert_null(s);
    r = oks_metrics_new(); /* the listen failed: its error, the registry is gone */
    oks_hostport bad = {.host = "192.0.2.1", .port = 1};
    assert_int_equal(oks_metrics_http_serve(&r, 0, &bad, "", &s, &e), OKS_E_IO);
    assert_null(r);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counter_with_two_labels),
        cmocka_unit_test(gauge_values_and_help_escaping),
        cmocka_unit_test(histogram_buckets_are_cumulative),
        cmocka_unit_test(label_values_are_escaped),
        cmocka_unit_test(bad_specs_are_refused),
        cmocka_unit_test(hooks_run_on_render),
        cmocka_unit_test(proto_labels_follow_the_descriptors),
        cmocka_unit_test(server_answers_get_metrics_only_to_allowed_clients),
        cmocka_unit_test(reg_and_serve_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
