/*
 * Readiness and shutdown notices to the service manager (systemd's sd_notify protocol, for
 * units of Type=notify). Each daemon calls oks_notify_ready() once it really serves (sockets
 * bound, peers connected, stores open) and oks_notify_stopping() when it leaves its loop.
 * Both do nothing when NOTIFY_SOCKET is unset, i.e. when the daemon is not run by systemd.
 */
#ifndef OKS_NOTIFY_H
#define OKS_NOTIFY_H

void oks_notify_ready(void);
void oks_notify_stopping(void);

#endif
