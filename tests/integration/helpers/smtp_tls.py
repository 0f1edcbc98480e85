#!/usr/bin/python3
"""SMTP server for the mail gateway's TLS/AUTH test: aiosmtpd (Debian's python3-aiosmtpd, the
server ../shared/mail uses) with STARTTLS required before anything else (or, with --implicit,
TLS from the first byte: SMTPS) and AUTH (PLAIN/LOGIN) required before MAIL, delivering into the same maildirs as ../shared/mail/deliver.py (its
Handler is reused). Logs one line per AUTH attempt and per delivered message.

usage: smtp_tls.py --port P --cert C --key K --maildir-root DIR --user U --password-file F
                   --pidfile FILE [--owner UID:GID] [--implicit]
"""
import argparse
import os
import signal
import ssl
import sys
import threading

sys.path.insert(0, os.path.join(os.environ["OKS_SHARED"], "mail"))
import deliver  # noqa: E402  (../shared/mail/deliver.py)
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--maildir-root", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--owner")
    ap.add_argument("--implicit", action="store_true")
    a = ap.parse_args()
    if a.owner:
        uid, gid = (int(x) for x in a.owner.split(":"))
        if (uid, gid) != (os.geteuid(), os.getegid()):
            deliver.OWNER = (uid, gid)
    password = open(a.password_file, "rb").read().strip()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(a.cert, a.key)

    def authenticator(server, session, envelope, mechanism, data):
        good = (isinstance(data, LoginPassword) and data.login == a.user.encode()
                and data.password == password)
        print("smtp_tls: AUTH %s as %r over %s: %s" % (
            mechanism, getattr(data, "login", b"?").decode(errors="replace"),
            "TLS" if session.ssl or a.implicit else "plain", "ok" if good else "refused"), flush=True)
        return AuthResult(success=good)

    class Ctl(Controller):
        def factory(self):
            if a.implicit:  # aiosmtpd only counts STARTTLS as TLS for AUTH; this is TLS
                return SMTP(self.handler, hostname="localhost", auth_required=True,
                            auth_require_tls=False, authenticator=authenticator,
                            decode_data=False)
            return SMTP(self.handler, hostname="localhost", tls_context=ctx,
                        require_starttls=True, auth_required=True, auth_require_tls=True,
                        authenticator=authenticator, decode_data=False)

    users = ["keyserver", "keyserver2", "alice", "bob"]
    ctl = Ctl(deliver.Handler(a.maildir_root, users, ["localhost"]), hostname="127.0.0.1",
              port=a.port, ready_timeout=10, ssl_context=ctx if a.implicit else None)
    ctl.start()
    with open(a.pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(a.pidfile + ".tmp", a.pidfile)
    print("smtp_tls: listening on 127.0.0.1:%d%s" % (a.port, " (implicit TLS)" if a.implicit else ""),
          flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    ctl.stop()


if __name__ == "__main__":
    main()
