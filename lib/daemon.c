/* Process set-up shared by the daemons (see daemon.h). */
#include "lib/daemon.h"

#include "lib/log.h"

#include <gcrypt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile int *stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag)
        *stop_flag = 1;
}

int oks_gcrypt_init(void)
{
    if (!gcry_check_version("1.10.0"))
        return -1;
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    return 0;
}

int oks_daemon_setup(const char *prog, const char *log_path, int level, volatile int *stop)
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
    stop_flag = stop;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}
