/* oks-bench subcommands. */
#ifndef OKS_BENCH_H
#define OKS_BENCH_H

#include <stddef.h>

/* Monotonic clock in seconds. */
double bench_now_s(void);
/* Prints "WHAT window= requests= seconds= rps= p50_ms= p99_ms=" for N latencies (sorts LAT). */
void bench_report_lookups(const char *what, unsigned window, size_t n, double secs,
                          double *lat);

int bench_router_lookup(const char *conf_path, const char *fpr_file, unsigned window,
                        double seconds);
int bench_direct_lookup(const char *conf_path, const char *fpr_file, double seconds);
/* The same lookups over a bare ZeroMQ client -> forwarder -> 2 "shards" topology doing no work
 * (answers of the sizes learnt through CONFIG's router): the transport floor. */
int bench_transport_floor(const char *conf_path, const char *fpr_file, unsigned window,
                          double seconds);

/* oks-bench seal-cost BYTES SECONDS: libsodium's seal and open of one BYTES-byte frame, as
 * libzmq's CURVE does them (bench/seal.c). */
int bench_seal_cost(size_t bytes, double seconds);

/* oks-bench mint (argv[0] is "mint"). */
int bench_cmd_mint(int argc, char **argv);
/* oks-bench upload / mixed (argv[0] is the subcommand). */
int bench_cmd_load(int argc, char **argv);

/* oks-bench ldap-search PORT LIST SECONDS KIND CONNS: dirmngr's searches against slapd
 * (bench/ldap.sh); KIND fpr, keyid or email. */
int bench_ldap_search(unsigned port, const char *list, double secs, const char *kind,
                      unsigned nconns);

/* oks-bench smtp-sink --port P --maildir DIR [--fsync] (argv[0] is "smtp-sink"). */
int bench_smtp_sink(int argc, char **argv);

#endif
