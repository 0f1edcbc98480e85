/* Readiness notices to systemd (see notify.h). */
#include "lib/notify.h"

#include "lib/log.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static void notify(const char *state)
{
    if (!getenv("NOTIFY_SOCKET"))
        return;
    /* unset_environment = 0: the variable stays for the next notice (STOPPING after READY) */
    int r = sd_notify(0, state);
    if (r < 0)
        oks_warn("sd_notify %s: %s", state, strerror(-r));
}

void oks_notify_ready(void)
{
    notify("READY=1");
}

void oks_notify_stopping(void)
{
    notify("STOPPING=1");
}
