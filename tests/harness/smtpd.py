#!/usr/bin/python3
"""SMTP receiver of the test mail stack (tests/harness/mail.sh), built on Debian's
python3-aiosmtpd. It listens on 127.0.0.1 and files every accepted message into the Maildir
ROOT/USER (tmp/, then renamed into new/), the way a local delivery agent does: Return-Path,
Delivered-To and Received lines on top of the message as sent.

Recipients: USER@localhost and USER+anything@localhost for the --users given, any letter case;
anyone else gets 550. Optionally TLS (STARTTLS required before anything else, or implicit TLS
from the first byte) and AUTH PLAIN/LOGIN required before MAIL, with one account.

Log (stdout, flushed): "listening on 127.0.0.1:PORT" once ready, one line per delivered message,
one line per AUTH attempt: "AUTH <mech> as '<login>' over TLS|plain: ok|refused".

usage: smtpd.py --port P --root DIR --users a,b,c [--owner UID:GID] [--pidfile F]
                [--tls starttls|implicit --cert C --key K] [--auth-user U --auth-password-file F]
"""
import argparse
import os
import signal
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

_seq = 0
_seq_lock = threading.Lock()


class Maildirs:
    """Delivery into ROOT/<user>/{tmp,new}; files owned by OWNER when given (dovecot refuses
    mail owned by root)."""

    def __init__(self, root, users, owner):
        self.root, self.users, self.owner = root, set(users), owner

    def user_of(self, address):
        local, at, domain = address.rpartition("@")
        if not at or domain.lower() != "localhost":
            return None
        user = local.split("+", 1)[0].lower()
        return user if user in self.users else None

    def store(self, user, data):
        global _seq
        with _seq_lock:
            _seq += 1
            n = _seq
        now = time.time()
        name = "%d.M%dP%dQ%d.%s" % (int(now), int(now % 1 * 1e6), os.getpid(), n,
                                    socket.gethostname().replace("/", "_").replace(":", "_"))
        box = os.path.join(self.root, user)
        tmp = os.path.join(box, "tmp", name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if self.owner:
                os.fchown(fd, *self.owner)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, os.path.join(box, "new", name))
        return name


class Handler:
    def __init__(self, boxes):
        self.boxes = boxes

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.boxes.user_of(address) is None:
            return "550 5.1.1 <%s>: no such user here" % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        body = envelope.original_content
        if body is None:
            body = envelope.content
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        top = "Return-Path: <%s>\r\nReceived: from %s ([%s]) by localhost with SMTP; %s\r\n" % (
            envelope.mail_from or "", session.host_name or "unknown",
            session.peer[0] if session.peer else "?", stamp)
        done, names = set(), []
        for rcpt in envelope.rcpt_tos:
            user = self.boxes.user_of(rcpt)
            if user in done:
                continue
            done.add(user)
            head = ("Delivered-To: %s\r\n" % rcpt + top).encode("utf-8", "replace")
            try:
                names.append(user + "/" + self.boxes.store(user, head + body))
            except OSError as e:
                print("delivery to %s failed: %s" % (rcpt, e), flush=True)
                return "451 4.3.0 local delivery failed"
        print("from <%s> to %s: %s" % (envelope.mail_from, ",".join(envelope.rcpt_tos),
                                      " ".join(names)), flush=True)
        return "250 2.0.0 delivered"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--users", required=True)
    ap.add_argument("--owner")
    ap.add_argument("--pidfile")
    ap.add_argument("--tls", choices=["starttls", "implicit"])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-password-file")
    a = ap.parse_args()

    owner = None
    if a.owner:
        owner = tuple(int(x) for x in a.owner.split(":"))
        if owner == (os.geteuid(), os.getegid()):
            owner = None
    boxes = Maildirs(a.root, [u.lower() for u in a.users.split(",") if u], owner)

    params = dict(server_hostname="localhost", decode_data=False, enable_SMTPUTF8=True,
                  data_size_limit=64 << 20)
    ctx = None
    if a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.tls == "starttls":
            params.update(tls_context=ctx, require_starttls=True)
    if a.auth_user:
        secret = open(a.auth_password_file, "rb").read().strip()

        def authenticator(server, session, envelope, mechanism, data):
            good = (isinstance(data, LoginPassword) and data.login == a.auth_user.encode()
                    and data.password == secret)
            login = getattr(data, "login", b"?") or b"?"
            print("AUTH %s as '%s' over %s: %s" % (
                mechanism, login.decode(errors="replace"),
                "TLS" if session.ssl or a.tls == "implicit" else "plain",
                "ok" if good else "refused"), flush=True)
            return AuthResult(success=good)

        # aiosmtpd counts only STARTTLS as TLS when it checks auth_require_tls
        params.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=(a.tls == "starttls"))

    ctl = Controller(Handler(boxes), hostname="127.0.0.1", port=a.port, ready_timeout=30,
                     ssl_context=ctx if a.tls == "implicit" else None, **params)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    ctl.start()
    if a.pidfile:
        with open(a.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(a.pidfile + ".tmp", a.pidfile)
    print("listening on 127.0.0.1:%d%s" % (a.port, " (%s)" % a.tls if a.tls else ""), flush=True)
    while not stop.wait(3600):
        pass
    ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
