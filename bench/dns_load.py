#!/usr/bin/env python3
"""DNS load for bench/dns.sh: OPENPGPKEY queries over UDP (EDNS 4096) for the addresses of a
key list ("FINGERPRINT EMAIL" per line), WINDOW queries in flight from one socket, for SECONDS.
Prints one line: dns rps=... p50_ms=... p99_ms=... answered=... nxdomain=... errors=... tc=...
usage: dns_load.py PORT LIST SECONDS [WINDOW]"""
import hashlib
import random
import selectors
import socket
import struct
import sys
import time


def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 61, 1)
    return q + b"\0" + struct.pack(">HHIH", 41, 4096, 0, 0)  # OPT: 4096-byte buffer


def main():
    port, lst, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    window = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    names = []
    for line in open(lst):
        parts = line.split()
        if len(parts) == 2 and "@" in parts[1]:
            local, dom = parts[1].lower().rsplit("@", 1)
            h = hashlib.sha256(local.encode()).hexdigest()[:56]
            names.append(f"{h}._openpgpkey.{dom}")
    pkts = [query(n, 0) for n in names]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    out = {}  # id -> send time
    lat = []
    counts = {"answered": 0, "nxdomain": 0, "errors": 0, "tc": 0, "lost": 0}
    qid = 0
    t0 = time.monotonic()
    end = t0 + secs
    while True:
        now = time.monotonic()
        if now >= end:
            break
        while len(out) < window:
            qid = (qid + 1) & 0xFFFF
            if qid in out:
                break
            p = pkts[random.randrange(len(pkts))]
            try:
                s.send(struct.pack(">H", qid) + p[2:])
            except BlockingIOError:
                break
            out[qid] = now
        for _ in sel.select(0.05):
            while True:
                try:
                    d = s.recv(65535)
                except BlockingIOError:
                    break
                if len(d) < 12:
                    continue
                rid = struct.unpack(">H", d[:2])[0]
                sent = out.pop(rid, None)
                if sent is None:
                    continue
                t = time.monotonic()
                lat.append(t - sent)
                rcode = d[3] & 15
                an = struct.unpack(">H", d[6:8])[0]
                if d[2] & 2:
                    counts["tc"] += 1
                elif rcode == 0 and an > 0:
                    counts["answered"] += 1
                elif rcode == 3:
                    counts["nxdomain"] += 1
                else:
                    counts["errors"] += 1
        stale = [k for k, v in out.items() if now - v > 2.0]
        for k in stale:
            del out[k]
            counts["lost"] += 1
    el = time.monotonic() - t0
    lat.sort()
    pc = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else 0
    done = counts["answered"] + counts["nxdomain"]
    print(f"dns rps={done / el:.1f} p50_ms={pc(0.5):.3f} p99_ms={pc(0.99):.3f} "
          + " ".join(f"{k}={v}" for k, v in counts.items()))


main()
