/* Process set-up shared by the daemons (see daemon.h). */
#include "lib/daemon.h"

#include "lib/log.h"

#include <gcrypt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_POINTER_LOCK_FREE == 2,
               "signal handlers need lock-free atomics");

/* the flag of every signal with a handler; written before the handler is installed */
static atomic_int *_Atomic flags[NSIG];

static void on_signal(int sig)
{
    atomic_int *f = sig > 0 && sig < NSIG ? atomic_load(&flags[sig]) : NULL;
    if (f)
        atomic_store(f, 1);
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
    atomic_store(&flags[sig], flag);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = flag ? on_signal : SIG_DFL;
    return sigaction(sig, &sa, NULL);
}

void oks_daemon_signals(atomic_int *stop)
{
    oks_daemon_signal(SIGINT, stop);
    oks_daemon_signal(SIGTERM, stop);
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
