/* lib/conf: the settings table, each value type, and how a config file is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cluster.h"
#include "lib/conf.h"
#include "lib/pgp.h"

#define SHARD "[shard.a]\nendpoint = tcp://127.0.0.1:1\nslots = 0-4095\n"

/* A field of every type, set through hand-made entries. */
typedef struct fields {
    unsigned u;
    size_t z;
    double d;
    bool b;
    char s[8];
    oks_hostport hp;
    int en;
    char list[16];
    char zmq[32];
} fields;

static const char *const colours[] = {"red", "green", NULL};

static int set(oks_conf_type t, size_t off, size_t size, const char *v, fields *f, char *why)
{
    oks_conf_entry e = {.section = "t", .key = "k", .type = t, .offset = off, .size = size,
                        .min = 2, .max = 100, .dmin = 0, .dmax = 10, .names = colours};
    if (t == OKS_CONF_SIZE)
        e.min = 1024, e.max = 1ull << 30;
    return oks_conf_set(&e, f, v, why, 160);
}
#define SET(t, field, v) set(t, offsetof(fields, field), sizeof(((fields *)0)->field), v, &f, why)

static void uint_values_are_digits_within_bounds(void **state)
{
    (void)state;
    fields f = {0};
    char why[160];
    assert_int_equal(SET(OKS_CONF_UINT, u, "100"), 0);
    assert_int_equal(f.u, 100);
    assert_int_equal(SET(OKS_CONF_UINT, z, "2"), 0);
    assert_int_equal(f.z, 2);
    assert_int_equal(SET(OKS_CONF_UINT, u, "101"), OKS_E_FORMAT);
    assert_non_null(strstr(why, "out of range 2..100"));
    assert_int_equal(SET(OKS_CONF_UINT, u, "1"), OKS_E_FORMAT);
    static const char *const bad[] = {"", "-5", " 5", "5x", "0x10", "5M", "99999999999999999999",
                                      "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(SET(OKS_CONF_UINT, u, bad[i]), OKS_E_FORMAT);
    assert_int_equal(f.u, 100);
}

static void sizes_take_k_m_g(void **state)
{
    (void)state;
    fields f = {0};
    char why[160];
    assert_int_equal(SET(OKS_CONF_SIZE, z, "5M"), 0);
    assert_int_equal(f.z, 5u << 20);
    assert_int_equal(SET(OKS_CONF_SIZE, z, "64k"), 0);
    assert_int_equal(f.z, 64u << 10);
    assert_int_equal(SET(OKS_CONF_SIZE, z, "1G"), 0);
    assert_int_equal(f.z, 1u << 30);
    assert_int_equal(SET(OKS_CONF_SIZE, z, "4096"), 0);
    assert_int_equal(f.z, 4096);
    assert_int_equal(SET(OKS_CONF_SIZE, z, "2G"), OKS_E_FORMAT);
    assert_non_null(strstr(why, "out of range"));
    assert_int_equal(SET(OKS_CONF_SIZE, z, "5"), OKS_E_FORMAT); /* below 1024 */
    static const char *const bad[] = {"5MB", "5X", "M", "5 M", "-1M", "1.5M",
                                      "99999999999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(SET(OKS_CONF_SIZE, z, bad[i]), OKS_E_FORMAT);
    assert_int_equal(f.z, 4096);
}

static void decimals_bools_strings_enums(void **state)
{
    (void)state;
    fields f = {0};
    char why[160];
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "0.5"), 0);
    assert_true(f.d == 0.5);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "11"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "nan"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "1,5"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, ""), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "0x1p2"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, "1e0"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_DECIMAL, d, ".5"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_BOOL, b, "yes"), 0);
    assert_true(f.b);
    assert_int_equal(SET(OKS_CONF_BOOL, b, "Off"), 0);
    assert_false(f.b);
    assert_int_equal(SET(OKS_CONF_BOOL, b, "maybe"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_STRING, s, "1234567"), 0);
    assert_string_equal(f.s, "1234567");
    assert_int_equal(SET(OKS_CONF_STRING, s, "12345678"), OKS_E_LIMIT);
    assert_non_null(strstr(why, "longer than 7 bytes"));
    assert_int_equal(SET(OKS_CONF_ENUM, en, "green"), 0);
    assert_int_equal(f.en, 1);
    assert_int_equal(SET(OKS_CONF_ENUM, en, "Green"), OKS_E_FORMAT);
    assert_non_null(strstr(why, "not one of red, green"));
}

static void endpoints_and_lists(void **state)
{
    (void)state;
    fields f = {0};
    char why[160];
    assert_int_equal(SET(OKS_CONF_HOSTPORT, hp, "127.0.0.1:11371"), 0);
    assert_string_equal(f.hp.host, "127.0.0.1");
    assert_int_equal(f.hp.port, 11371);
    assert_int_equal(SET(OKS_CONF_HOSTPORT, hp, "[::1]:443"), 0);
    assert_string_equal(f.hp.host, "::1");
    assert_int_equal(SET(OKS_CONF_HOSTPORT, hp, ""), 0); /* unset */
    assert_int_equal(f.hp.port, 0);
    static const char *const bad[] = {"localhost", ":80", "h:0", "h:65536", "h:8o", "h:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(SET(OKS_CONF_HOSTPORT, hp, bad[i]), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_LIST, list, " a,b  ,, c "), 0);
    assert_string_equal(f.list, "a b c");
    assert_int_equal(SET(OKS_CONF_LIST, list, "aaaaaaa bbbbbbbb"), OKS_E_LIMIT);
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "tcp://127.0.0.1:5"), 0);
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "127.0.0.1:5"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "tcp://"), OKS_E_FORMAT);
    /* connect endpoints: a host name or an address and a port 1..65535; '*' only binds */
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "tcp://h.ex:5"), 0);
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "tcp://[::1]:5"), 0);
    assert_int_equal(SET(OKS_CONF_ZMQ, zmq, "ipc:///x"), 0);
    static const char *const bad_zmq[] = {"tcp://h", "tcp://h:0", "tcp://h:70000", "tcp://:5",
                                          "tcp://::1:5", "tcp://*:5"};
    for (size_t i = 0; i < sizeof bad_zmq / sizeof bad_zmq[0]; i++)
        assert_int_equal(SET(OKS_CONF_ZMQ, zmq, bad_zmq[i]), OKS_E_FORMAT);
    assert_non_null(strstr(why, "'*' can be bound, not connected to"));
    /* bind endpoints: '*', an address or an interface */
    static const char *const binds[] = {"tcp://*:5", "tcp://0.0.0.0:5", "tcp://lo:5",
                                        "tcp://[::]:5", "ipc:///x"};
    for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++)
        assert_int_equal(SET(OKS_CONF_ZMQ_BIND, zmq, binds[i]), 0);
    assert_int_equal(SET(OKS_CONF_ZMQ_BIND, zmq, "tcp://*:0"), OKS_E_FORMAT);
    assert_int_equal(SET(OKS_CONF_ZMQ_BIND, zmq, "0.0.0.0:5"), OKS_E_FORMAT);
}

/* Loads text; returns the code, message in msg. */
static int load(const char *text, oks_cluster *c, char *msg)
{
    oks_err e;
    oks_err_clear(&e);
    int r = oks_cluster_load_text("t.conf", text, strlen(text), c, &e);
    strcpy(msg, e.msg);
    return r;
}

static void defaults_apply_and_sizes_load(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD "[http]\nmax_body = 5M\nrate_lookup = 0.5\n", &c, msg), 0);
    assert_int_equal(c.http.max_body, 5u << 20);
    assert_true(c.http.rate_lookup == 0.5);
    assert_true(c.http.burst_lookup == 100);
    assert_string_equal(c.http.listen.host, "127.0.0.1");
    assert_int_equal(c.http.listen.port, 11371);
    assert_int_equal(c.http.threads, 2);
    assert_int_equal(c.http.cache_mb, 256);
    assert_int_equal(c.n_slots, 4096);
    assert_int_equal(c.max_message_bytes, 64u << 20);
    assert_int_equal(c.router_deadline_ms, 5000);
    assert_int_equal(c.shard_table_reads, 0);
    assert_int_equal(c.max_key_bytes, 1u << 20);
    assert_int_equal(c.mail.smtp.port, 25);
    assert_int_equal(c.mail.pop3_tls, OKS_CONF_TLS_NONE);
    assert_string_equal(c.mail.name, "OpenPGP keyserver");
    assert_int_equal(c.mail.max_message_bytes, 1u << 20);
    assert_string_equal(c.sync.state, "");
    assert_int_equal(c.n_routers, 0);
    oks_cluster_release(&c);
    assert_int_equal(load("[cluster]\nrouters = tcp://a:1, tcp://b:2\n" SHARD
                          "[mail]\nsmtp_tls = implicit ; a comment\nsync_sites = a@x,b@y\n",
                          &c, msg),
                     0);
    assert_int_equal(c.n_routers, 2);
    assert_string_equal(c.routers[1], "tcp://b:2");
    assert_int_equal(c.mail.smtp_tls, OKS_CONF_TLS_IMPLICIT);
    assert_string_equal(c.mail.sync_sites, "a@x b@y");
    oks_cluster_release(&c);
    /* separate bind and advertised endpoints for shards and routers */
    assert_int_equal(load("[cluster]\nrouters = tcp://r1.ex:1 tcp://r2.ex:1\n"
                          "[router]\nbind = tcp://0.0.0.0:1\n"
                          "[shard.a]\nendpoint = tcp://s1.ex:2\nbind = tcp://*:2\nslots = 0-4095\n",
                          &c, msg),
                     0);
    assert_string_equal(c.router_bind, "tcp://0.0.0.0:1");
    assert_string_equal(c.shards[0].bind, "tcp://*:2");
    assert_string_equal(c.shards[0].endpoint, "tcp://s1.ex:2");
    oks_cluster_release(&c);
    assert_int_equal(load("[cluster]\nrouters = tcp://r1.ex:1 tcp://*:1\n" SHARD, &c, msg),
                     OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:2: [cluster] routers: 'tcp://*:1': '*' can be bound"));
    oks_cluster_release(&c);
}

/* [limits] written nowhere in a config means the library's own limits: the table's default
 * strings must say exactly what oks_pgp_limits_default says. */
static void limits_defaults_are_the_librarys(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    oks_pgp_limits l;
    oks_pgp_limits_default(&l);
    assert_int_equal(load(SHARD, &c, msg), 0);
    assert_int_equal(c.max_key_bytes, l.max_key_bytes);
    assert_int_equal(c.max_packet_bytes, l.max_packet_bytes);
    assert_int_equal(c.max_attribute_bytes, l.max_attribute_bytes);
    assert_int_equal(c.max_sig_bytes, l.max_sig_bytes);
    assert_int_equal(c.max_packets, l.max_packets);
    assert_int_equal(c.max_uids, l.max_uids);
    assert_int_equal(c.max_subkeys, l.max_subkeys);
    assert_int_equal(c.max_sigs_per_uid, l.max_sigs_per_uid);
    assert_int_equal(c.max_third_party_per_uid, l.max_third_party_per_uid);
    oks_cluster_release(&c);
}

static void unknown_keys_and_sections_are_refused_with_file_and_line(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD "[shard]\nbatch = 256\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [shard] batch: unknown key");
    assert_int_equal(load(SHARD "[http]\n\n; c\nmax_bodyy = 1\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:7: [http] max_bodyy: unknown key");
    assert_int_equal(load(SHARD "[htpp]\n", &c, msg), OKS_E_FORMAT); /* even when empty */
    assert_string_equal(msg, "t.conf:4: [htpp]: unknown section");
    assert_int_equal(load(SHARD "[shard.a]\ndatadir = /x\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [shard.a] datadir: unknown key");
    assert_int_equal(load("slots = 4\n" SHARD, &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:1: slots: a key before any [section]");
    assert_int_equal(load("[shard.a b]\nendpoint = tcp://h:1\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:2: [shard.a b]: a shard name"));
}

static void bad_values_and_repeats_are_refused(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD "[http]\nmax_body = 5X\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [http] max_body: '5X' is not a size (a number with an "
                             "optional K, M or G)");
    assert_int_equal(load(SHARD "[http]\nthreads = 65\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [http] threads: '65' is out of range 1..64");
    assert_int_equal(load(SHARD "[router]\ndeadline_ms = 10\n[router]\ndeadline_ms = 20\n", &c,
                          msg),
                     OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:7: [router] deadline_ms: set twice (first on line 5)");
    assert_int_equal(load(SHARD "[shard.a]\nslots = 1\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [shard.a] slots: set twice (first on line 3)");
    assert_int_equal(load(SHARD "[shard]\ntable_reads = mmapped\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [shard] table_reads: 'mmapped' is not one of pread, mmap");
    assert_int_equal(load(SHARD "[mail]\npop3 = localhost\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:5: [mail] pop3: 'localhost' is not HOST:PORT"));
    /* the first problem in the file is the one reported */
    assert_int_equal(load(SHARD "[http]\nthreads = x\nnope = 1\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:5: [http] threads"));
    assert_int_equal(load(SHARD "[http]\nnope = 1\nthreads = x\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:5: [http] nope"));
}

static void lines_that_are_not_settings_are_refused(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD "[http]\njust words\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:5: expected KEY = VALUE"));
    /* no continuation lines: an indented line is a line of its own */
    assert_int_equal(load(SHARD "[http]\nwkd_domains = a.org\n  b.org\n", &c, msg), OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:6: expected KEY = VALUE"));
    char big[6000];
    snprintf(big, sizeof big, SHARD "[http]\ntemplates = %04500d\n", 0);
    assert_int_equal(load(big, &c, msg), OKS_E_LIMIT);
    assert_non_null(strstr(msg, "t.conf:5: line longer than"));
    assert_int_equal(load("[cluster]\nslots = 16\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf: no [shard.NAME] section");
    assert_int_equal(load("[shard.a]\nslots = 0-4095\n", &c, msg), OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:2: [shard.a]: needs endpoint and slots");
}

static void keys_that_go_together(void **state)
{
    (void)state;
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD "[http]\ntls_listen = 127.0.0.1:443\ntls_cert = /c\n", &c, msg),
                     OKS_E_FORMAT);
    assert_string_equal(msg, "t.conf:5: [http] tls_listen: needs tls_cert and tls_key");
    assert_int_equal(load(SHARD "[http]\ncache_check_ms = 500\ncache_max_stale_ms = 400\n", &c,
                          msg),
                     OKS_E_FORMAT);
    assert_non_null(strstr(msg, "t.conf:6: [http] cache_max_stale_ms: must be at least"));
    assert_int_equal(load(SHARD "[http]\ntls_listen = 127.0.0.1:443\ntls_cert = /c\n"
                                "tls_key = /k\ncache_check_ms = 2000\n",
                          &c, msg),
                     0);
    assert_int_equal(c.http.tls_listen.port, 443);
    oks_cluster_release(&c);
}

static void every_default_is_valid_and_documented(void **state)
{
    (void)state;
    size_t n;
    const oks_conf_entry *t = oks_conf_table(&n);
    assert_true(n > 50);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].doc);
        assert_true(t[i].readers != 0);
        for (size_t j = 0; j < i; j++)
            assert_false(strcmp(t[i].section, t[j].section) == 0 &&
                         strcmp(t[i].key, t[j].key) == 0);
    }
    oks_cluster c;
    char msg[240];
    assert_int_equal(load(SHARD, &c, msg), 0); /* every default went through the parser */
    oks_cluster_release(&c);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* The file at path must be what gen writes. */
static void generated(int (*gen)(FILE *), const char *path)
{
    char *doc = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&doc, &len);
    assert_int_equal(gen(m), 0);
    fclose(m);
    char *file = slurp(path);
    if (strcmp(doc, file) != 0)
        fail_msg("%s differs from the settings table: run `make config-doc`", path);
    free(file);
    free(doc);
}

static void docs_config_md_is_what_the_table_generates(void **state)
{
    (void)state;
    generated(oks_conf_doc, "docs/config.md");
}

static void the_manual_page_is_what_the_table_generates(void **state)
{
    (void)state;
    generated(oks_conf_man, "man/oks.conf.5");
}

/* The example loads, and names every key (set or commented out) in its section. */
static void the_example_config_loads_and_shows_every_key(void **state)
{
    (void)state;
    oks_cluster c;
    oks_err e;
    assert_int_equal(oks_cluster_load("deploy/oks.conf.example", &c, &e), 0);
    oks_cluster_release(&c);
    char *ex = slurp("deploy/oks.conf.example");
    size_t n;
    const oks_conf_entry *t = oks_conf_table(&n);
    for (size_t i = 0; i < n; i++) {
        char head[64], line[96];
        snprintf(head, sizeof head, "\n[%s]\n", strcmp(t[i].section, "shard.*") ? t[i].section
                                                                                : "shard.s0");
        const char *sec = strstr(ex, head);
        assert_non_null(sec);
        const char *next = strstr(sec + 1, "\n[");
        snprintf(line, sizeof line, "\n%s = ", t[i].key);
        const char *at = strstr(sec, line);
        if (!at || (next && at > next)) {
            snprintf(line, sizeof line, "\n;%s = ", t[i].key);
            at = strstr(sec, line);
        }
        if (!at || (next && at > next))
            fail_msg("deploy/oks.conf.example does not show [%s] %s", t[i].section, t[i].key);
    }
    free(ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uint_values_are_digits_within_bounds),
        cmocka_unit_test(sizes_take_k_m_g),
        cmocka_unit_test(decimals_bools_strings_enums),
        cmocka_unit_test(endpoints_and_lists),
        cmocka_unit_test(defaults_apply_and_sizes_load),
        cmocka_unit_test(limits_defaults_are_the_librarys),
        cmocka_unit_test(unknown_keys_and_sections_are_refused_with_file_and_line),
        cmocka_unit_test(bad_values_and_repeats_are_refused),
        cmocka_unit_test(lines_that_are_not_settings_are_refused),
        cmocka_unit_test(keys_that_go_together),
        cmocka_unit_test(every_default_is_valid_and_documented),
        cmocka_unit_test(docs_config_md_is_what_the_table_generates),
        cmocka_unit_test(the_manual_page_is_what_the_table_generates),
        cmocka_unit_test(the_example_config_loads_and_shows_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
