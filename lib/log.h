/*
 * Logging: one line per event, "2026-11-28T23:59:01.123Z LEVEL prog: message", to stderr or to a
 * file chosen with oks_log_open. Thread-safe (one write(2) per line).
 */
#ifndef OKS_LOG_H
#define OKS_LOG_H

enum oks_log_level { OKS_LOG_DEBUG, OKS_LOG_INFO, OKS_LOG_WARN, OKS_LOG_ERROR };

/* prog: name shown on each line; path: NULL or "-" for stderr. Returns 0 or OKS_E_IO. */
int oks_log_open(const char *prog, const char *path);
void oks_log_set_level(enum oks_log_level level);
/* Opens the log file's path again and puts the new file under the log's descriptor (logrotate
 * moved the file away); nothing for stderr. Async-signal-safe: called by lib/daemon.c's SIGHUP
 * handler. 0, or -1 (the old file stays in use). */
int oks_log_reopen_signal(void);
/* Parses "debug|info|warn|error"; returns -1 if unknown. */
int oks_log_parse_level(const char *s);
void oks_log(enum oks_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define oks_debug(...) oks_log(OKS_LOG_DEBUG, __VA_ARGS__)
#define oks_info(...) oks_log(OKS_LOG_INFO, __VA_ARGS__)
#define oks_warn(...) oks_log(OKS_LOG_WARN, __VA_ARGS__)
#define oks_error(...) oks_log(OKS_LOG_ERROR, __VA_ARGS__)

#endif
