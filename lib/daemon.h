/*
 * Process set-up shared by the OKS daemons, so each main.c only parses its options:
 * the log (file or stderr) and its level, libgcrypt initialised before any thread starts,
 * SIGINT/SIGTERM turned into a stop flag the daemon's loop polls, SIGPIPE ignored.
 *
 * SIGHUP reopens the log file in every daemon (oks_log_reopen_signal); what else a daemon
 * re-reads on SIGHUP is its own business (docs/operations.md "Reload").
 *
 * The flags are C11 atomics: the handler stores 1, any number of threads load them (a lock-free
 * atomic_int is safe to write from a signal handler and to read from every thread).
 */
#ifndef OKS_DAEMON_H
#define OKS_DAEMON_H

#include "lib/cluster.h"

#include <stdatomic.h>

/* libgcrypt initialisation (thread-safe use afterwards); 0 or -1 if the library is too old. */
int oks_gcrypt_init(void);

/* Makes signal sig store 1 in *flag (flag NULL: back to the default action). The flag stays
 * set until the program clears it, e.g. with atomic_exchange(flag, 0). 0, or -1 with errno. */
int oks_daemon_signal(int sig, atomic_int *flag);

/* Makes sig also store 1 in *flag, besides the flag of oks_daemon_signal and others added
 * (at most 3 added per signal), e.g. a gateway's reload flag next to lib/zsec's key reload on
 * SIGHUP. 0, or -1 with errno. */
int oks_daemon_signal_add(int sig, atomic_int *flag);

/* SIGINT and SIGTERM set *stop; SIGPIPE is ignored; SIGHUP reopens the log file (logrotate:
 * the file was moved away, the daemon writes to a new one at the same path) besides setting
 * the flags set for it. */
void oks_daemon_signals(atomic_int *stop);

/* Opens the log as prog (log_path NULL or "-" = stderr), sets level, initialises libgcrypt and
 * installs the signal handlers that set *stop. Returns 0, or 1 after printing why to stderr. */
int oks_daemon_setup(const char *prog, const char *log_path, int level, atomic_int *stop);

/* The argument of --log-level: the level, or -1 after printing "oks-PROG: unknown log level"
 * to stderr (the daemon then exits 2, a usage error). */
int oks_daemon_log_level(const char *prog, const char *arg);

/* What every daemon does once its options are parsed: oks_daemon_setup, then the cluster
 * config at conf_path (checked against the table, lib/conf.h) loaded into *conf, the reason of a
 * failure logged. Returns 0, or 1: the daemon's exit status. */
int oks_daemon_start(const char *prog, const char *conf_path, const char *log_path, int level,
                     atomic_int *stop, oks_cluster *conf);

#endif
