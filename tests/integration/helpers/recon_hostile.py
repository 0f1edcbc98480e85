#!/usr/bin/env python3
"""Hostile SKS recon peers for the sync worker's tests (bounded in time: each gives up after
--max-seconds). Each writes STATUS_FILE when it is done: "closed" when the worker closed the
connection, "gave-up" when --max-seconds passed first.

  stall   PORT SOURCE_IP STATUS_FILE       connect from SOURCE_IP, send nothing
  dribble PORT SOURCE_IP STATUS_FILE       connect, send a valid Config one byte per second
  flood   LISTEN_PORT STATUS_FILE [N]      listen on 127.0.0.1; when the worker connects, pass the
                                           Config and send N (20,000) "everything under the root"
                                           requests (ReconRqst_Full, empty set) without Flush,
                                           never reading an answer
  announce LISTEN_PORT HTTP_PORT STATUS_FILE [N]
                                           listen on 127.0.0.1 for recon and on HTTP_PORT for
                                           hashqueries; tell the worker about N (500,000) hashes
                                           it lacks, then answer no hashquery (hold them open)
"""
import os, random, socket, struct, sys, threading, time

MAX_SECONDS = float(os.environ.get("HOSTILE_MAX_SECONDS", "170"))


def s(b):
    return struct.pack(">I", len(b)) + b


def frame(t, body=b""):
    return struct.pack(">I", 1 + len(body)) + bytes([t]) + body


def config(http_port=11371):
    kv = [(b"bitquantum", struct.pack(">I", 2)), (b"filters", b"yminsky.dedup,yminsky.merge"),
          (b"http port", struct.pack(">I", http_port)), (b"mbar", struct.pack(">I", 5)),
          (b"version", b"1.1.6")]
    return frame(10, struct.pack(">I", len(kv)) + b"".join(s(k) + s(v) for k, v in kv))


def status(path, what):
    with open(path + ".tmp", "w") as f:
        f.write(what + "\n")
    os.rename(path + ".tmp", path)


def wait_closed(c, deadline):
    """reads (and drops) until EOF/reset or the deadline: True when closed by the worker"""
    while time.monotonic() < deadline:
        c.settimeout(max(0.1, min(1.0, deadline - time.monotonic())))
        try:
            if not c.recv(65536):
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def closed_without_reading(c, deadline):
    """polls for EOF/reset without reading data the worker sent (MSG_PEEK)"""
    while time.monotonic() < deadline:
        c.settimeout(1.0)
        try:
            if not c.recv(1, socket.MSG_PEEK):
                return True
            time.sleep(1.0)
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    deadline = time.monotonic() + MAX_SECONDS
    if mode in ("stall", "dribble"):
        port, src, st = int(args[0]), args[1], args[2]
        c = socket.create_connection(("127.0.0.1", port), source_address=(src, 0))
        if mode == "stall":
            status(st, "closed" if wait_closed(c, deadline) else "gave-up")
            return
        data = config()
        c.settimeout(1.0)
        for i in range(len(data)):
            if time.monotonic() > deadline:
                break
            try:
                c.send(data[i:i + 1])
                if c.recv(65536, socket.MSG_DONTWAIT) == b"":
                    status(st, "closed")
                    return
            except (BlockingIOError, socket.timeout):
                pass
            except OSError:
                status(st, "closed")
                return
            time.sleep(0.5)
        status(st, "closed" if wait_closed(c, deadline) else "gave-up")
        return
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(args[0])))
    ls.listen(4)
    ls.settimeout(MAX_SECONDS)
    if mode == "flood":
        st, n = args[1], int(args[2]) if len(args) > 2 else 20000
        c, _ = ls.accept()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        root_full = frame(1, struct.pack(">II", 0, 0) + struct.pack(">I", 0))
        try:
            c.sendall(config() + s(b"passed") + root_full * n)
        except OSError:
            status(st, "closed")
            return
        status(st, "closed" if closed_without_reading(c, deadline) else "gave-up")
        return
    if mode == "announce":
        http_port, st = int(args[1]), args[2]
        n = int(args[3]) if len(args) > 3 else 500000
        hs = socket.socket()
        hs.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hs.bind(("127.0.0.1", http_port))
        hs.listen(64)
        held = []

        def http():  # accept hashqueries and never answer them
            hs.settimeout(1.0)
            while time.monotonic() < deadline:
                try:
                    held.append(hs.accept()[0])
                except socket.timeout:
                    pass
        threading.Thread(target=http, daemon=True).start()
        c, _ = ls.accept()
        rnd = random.Random(7)
        elems = b"".join(rnd.getrandbits(128).to_bytes(16, "little") + b"\0" for _ in range(n))
        # we are the requester: "here is everything I have at the root", then Flush and Done
        req = frame(1, struct.pack(">II", 0, 0) + struct.pack(">I", n) + elems)
        c.sendall(config(http_port) + s(b"passed") + req + frame(6) + frame(5))
        with open(st + ".http", "w") as f:
            f.write("%d\n" % len(held))
        # hold the hashqueries until the worker closes them all (or time runs out)
        seen = False
        while time.monotonic() < deadline:
            alive = 0
            seen = seen or bool(held)
            for h in list(held):
                try:
                    h.settimeout(0.01)
                    if h.recv(65536) != b"":  # the request: read and dropped
                        alive += 1
                    else:
                        held.remove(h)
                except socket.timeout:
                    alive += 1
                except OSError:
                    held.remove(h)
            if seen and alive == 0:
                status(st, "closed")
                return
            time.sleep(0.5)
        status(st, "gave-up")


if __name__ == "__main__":
    main()
