/*
 * Process set-up shared by the OKS daemons, so each main.c only parses its options:
 * the log (file or stderr) and its level, libgcrypt initialised before any thread starts,
 * SIGINT/SIGTERM turned into a stop flag the daemon's loop polls, SIGPIPE ignored.
 *
 * The flags are C11 atomics: the handler stores 1, any number of threads load them (a lock-free
 * atomic_int is safe to write from a signal handler and to read from every thread).
 */
#ifndef OKS_DAEMON_H
#define OKS_DAEMON_H

#include <stdatomic.h>

/* libgcrypt initialisation (thread-safe use afterwards); 0 or -1 if the library is too old. */
int oks_gcrypt_init(void);

/* Makes signal sig store 1 in *flag (flag NULL: back to the default action). The flag stays
 * set until the program clears it, e.g. with atomic_exchange(flag, 0). 0, or -1 with errno. */
int oks_daemon_signal(int sig, atomic_int *flag);

/* SIGINT and SIGTERM set *stop; SIGPIPE is ignored. */
void oks_daemon_signals(atomic_int *stop);

/* Opens the log as prog (log_path NULL or "-" = stderr), sets level, initialises libgcrypt and
 * installs the signal handlers that set *stop. Returns 0, or 1 after printing why to stderr. */
int oks_daemon_setup(const char *prog, const char *log_path, int level, atomic_int *stop);

#endif
