#!/usr/bin/env python3
"""make_v6_ed448.py OUT [--corrupt]: writes a v6 Ed448 (algorithm 28) certificate signed by
OpenSSL (python3-cryptography): primary key, direct-key self-signature, one user ID with a
positive certification. Independent of libgcrypt, so it checks OKS's Ed448 verification."""
import hashlib, os, struct, sys, time
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey
from cryptography.hazmat.primitives import serialization

def packet(tag, body):
    n = len(body)
    if n < 192:
        ln = bytes([n])
    elif n < 8384:
        n2 = n - 192
        ln = bytes([(n2 >> 8) + 192, n2 & 0xff])
    else:
        ln = b'\xff' + struct.pack('>I', n)
    return bytes([0xC0 | tag]) + ln + body

def subpacket(t, d):
    return bytes([len(d) + 1, t]) + d

sk = Ed448PrivateKey.generate()
pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
created = int(time.time()) - 60
kbody = bytes([6]) + struct.pack('>I', created) + bytes([28]) + struct.pack('>I', len(pub)) + pub
fpr = hashlib.sha256(b'\x9b' + struct.pack('>I', len(kbody)) + kbody).digest()

def sign(sigtype, extra_hashed_prefix):
    hashed = (subpacket(2, struct.pack('>I', created)) + subpacket(33, b'\x06' + fpr) +
              subpacket(27, b'\x03'))
    head = bytes([6, sigtype, 28, 10]) + struct.pack('>I', len(hashed)) + hashed
    salt = os.urandom(32)
    h = hashlib.sha512()
    h.update(salt)
    h.update(b'\x9b' + struct.pack('>I', len(kbody)) + kbody)
    h.update(extra_hashed_prefix)
    h.update(head)
    h.update(b'\x06\xff' + struct.pack('>I', len(head)))
    d = h.digest()
    sig = sk.sign(d)
    return head + struct.pack('>I', 0) + d[:2] + bytes([len(salt)]) + salt + sig

uid = b'Ed448 Test <ed448@example.org>'
direct = sign(0x1F, b'')
cert = sign(0x13, b'\xb4' + struct.pack('>I', len(uid)) + uid)
if '--corrupt' in sys.argv:
    cert = cert[:-1] + bytes([cert[-1] ^ 1])
out = packet(6, kbody) + packet(2, direct) + packet(13, uid) + packet(2, cert)
open(sys.argv[1], 'wb').write(out)
print(fpr.hex())
