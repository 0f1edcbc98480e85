#!/usr/bin/env python3
"""http_load.py URL FPRFILE KEYRING OUT STOPFILE: a lookup and an upload client against an HTTP
gateway, each on a connection of its own, until STOPFILE exists (bounded: at most 600 s and
100,000 requests in all).

  lookups  GET URL/pks/lookup?op=get&options=mr&search=0xFPR over the fingerprints of FPRFILE,
           round robin
  uploads  POST URL/pks/add of the keys of KEYRING (binary), one key per request, armored here,
           round robin (the second time round they answer "unchanged": still acknowledgements)

Writes one line per request to OUT: "lookup|upload CODE MS FPR T" (CODE 0 when no answer came
back within 30 s; FPR of an upload: the v4 fingerprint of the key sent; T: when the request
was sent, seconds since the epoch with milliseconds, to tell the phases of a test apart). The keys whose upload
was answered 200 are what the gateway acknowledged."""
import base64
import hashlib
import http.client
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgp_frames import frames  # noqa: E402

MAX_SECONDS, MAX_REQUESTS = 600, 100000


def crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(key):
    b64 = base64.b64encode(key).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(crc24(key).to_bytes(3, 'big')).decode()
    return ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n" + "\n".join(lines) + "\n=" + crc +
            "\n-----END PGP PUBLIC KEY BLOCK-----\n")


def keys_of(path):
    """(v4 fingerprint, armored key) per key of a binary keyring"""
    data, out, start, fpr = open(path, 'rb').read(), [], None, None
    for tag, o, hl, end in frames(data):
        if tag == 6:
            if start is not None:
                out.append((fpr, armor(data[start:o])))
            body = data[o + hl:end]
            fpr = hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).hexdigest().upper()
            start = o
    if start is not None:
        out.append((fpr, armor(data[start:])))
    return out


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(code, ms); code 0 when the request got no answer"""
        t0 = time.monotonic()
        for attempt in (0, 1):  # a connection the server closed while idle is opened again once
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                r.read()
                if r.getheader('connection', '').lower() == 'close':
                    self.conn.close()
                    self.conn = None
                return r.status, (time.monotonic() - t0) * 1000
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 1 or time.monotonic() - t0 > 1:
                    return 0, (time.monotonic() - t0) * 1000
    # not reached


def main():
    url, fprfile, keyring, out, stop = sys.argv[1:6]
    fprs = [l.strip() for l in open(fprfile) if l.strip()]
    keys = keys_of(keyring)
    lock, count, t_end = threading.Lock(), [0], time.monotonic() + MAX_SECONDS
    f = open(out, 'w', buffering=1)

    def running():
        with lock:
            count[0] += 1
            return (count[0] <= MAX_REQUESTS and time.monotonic() < t_end and
                    not os.path.exists(stop))

    def log(kind, code, ms, what):
        with lock:
            f.write("%s %d %.1f %s %.3f\n" % (kind, code, ms, what, time.time() - ms / 1000))

    def lookups():
        c, i = Client(url), 0
        while running():
            fpr = fprs[i % len(fprs)]
            code, ms = c.request('GET', '/pks/lookup?op=get&options=mr&search=0x' + fpr)
            log('lookup', code, ms, fpr)
            i += 1

    def uploads():
        c, i = Client(url), 0
        while keys and running():
            fpr, text = keys[i % len(keys)]
            body = urllib.parse.urlencode({'keytext': text})
            code, ms = c.request('POST', '/pks/add', body,
                                 {'Content-Type': 'application/x-www-form-urlencoded'})
            log('upload', code, ms, fpr)
            i += 1

    threads = [threading.Thread(target=lookups), threading.Thread(target=uploads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


main()
