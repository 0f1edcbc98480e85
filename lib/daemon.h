/*
 * Process set-up shared by the OKS daemons, so each main.c only parses its options:
 * the log (file or stderr) and its level, libgcrypt initialised before any thread starts,
 * SIGINT/SIGTERM turned into a stop flag the daemon's loop polls, SIGPIPE ignored.
 */
#ifndef OKS_DAEMON_H
#define OKS_DAEMON_H

/* libgcrypt initialisation (thread-safe use afterwards); 0 or -1 if the library is too old. */
int oks_gcrypt_init(void);

/* Opens the log as prog (log_path NULL or "-" = stderr), sets level, initialises libgcrypt and
 * installs the signal handlers that set *stop. Returns 0, or 1 after printing why to stderr. */
int oks_daemon_setup(const char *prog, const char *log_path, int level, volatile int *stop);

#endif
