/* Process set-up shared by the daemons (see daemon.h). */
#include "lib/daemon.h"

#include "lib/log.h"

#include <errno.h>
#include <gcrypt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2,
               "signal handlers need lock-free atomics");

/* Flags one signal sets: slot 0 is oks_daemon_signal's, the others oks_daemon_signal_add's. */
#define SIG_FLAGS 4
/* the flags of every signal with a handler; written before the handler is installed */
static atomic_int *_Atomic flags[NSIG][SIG_FLAGS];

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        oks_log_reopen_signal(); /* async-signal-safe: open, dup2, close */
    for (int k = 0; sig > 0 && sig < NSIG && k < SIG_FLAGS; k++) {
        atomic_int *f = atomic_load(&flags[sig][k]);
        if (f)
            atomic_store(f, 1);
    }
    errno = saved;
}

static int install(int sig)
{
    bool any = sig == SIGHUP; /* SIGHUP always reopens the log */
    for (int k = 0; k < SIG_FLAGS; k++)
        any = any || atomic_load(&flags[sig][k]);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = any ? on_signal : SIG_DFL;
    return sigaction(sig, &sa, NULL);
}

int oks_gcrypt_init(void)
{
    if (!gcry_check_version("1.10.0"))
        return -1;
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return 0;
}

int oks_daemon_signal(int sig, atomic_int *flag)
{
    if (sig <= 0 || sig >= NSIG)
        return -1;
    atomic_store(&flags[sig][0], flag);
    return install(sig);
}

int oks_daemon_signal_add(int sig, atomic_int *flag)
{
    if (sig <= 0 || sig >= NSIG || !flag)
        return -1;
    for (int k = 1; k < SIG_FLAGS; k++) {
        atomic_int *none = NULL;
        if (atomic_load(&flags[sig][k]) == flag ||
            atomic_compare_exchange_strong(&flags[sig][k], &none, flag))
            return install(sig);
    }
    errno = ENOSPC;
    return -1;
}

void oks_daemon_signals(atomic_int *stop)
{
    oks_daemon_signal(SIGINT, stop);
    oks_daemon_signal(SIGTERM, stop);
    install(SIGHUP);
    signal(SIGPIPE, SIG_IGN);
}

int oks_daemon_setup(const char *prog, const char *log_path, int level, atomic_int *stop)
{
    if (oks_log_open(prog, log_path)) {
        fprintf(stderr, "%s: cannot open log %s\n", prog, log_path);
        return 1;
    }
    oks_log_set_level(level);
    if (oks_gcrypt_init()) {
        oks_error("libgcrypt older than 1.10.0");
        return 1;
    }
    oks_daemon_signals(stop);
    return 0;
}

int oks_daemon_log_level(const char *prog, const char *arg)
{
    int level = oks_log_parse_level(arg);
    if (level < 0)
        fprintf(stderr, "oks-%s: unknown log level '%s'\n", prog, arg);
    return level;
}

int oks_daemon_start(const char *prog, const char *conf_path, const char *log_path, int level,
                     atomic_int *stop, oks_cluster *conf)
{
    if (oks_daemon_setup(prog, log_path, level, stop))
        return 1;
    oks_err e;
    char msg[400];
    if (oks_cluster_load(conf_path, conf, &e)) {
        oks_error("config: %s", oks_err_format(&e, msg, sizeof msg));
        return 1;
    }
    return 0;
}
