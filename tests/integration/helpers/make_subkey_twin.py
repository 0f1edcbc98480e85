#!/usr/bin/env python3
"""make_subkey_twin.py OUTDIR same|other: writes two v4 Ed25519 keys (python3-cryptography) where
the primary key of the second is the subkey of the first: OUTDIR/a.pgp is key A (primary PA,
user ID "Twin A", subkey S bound to PA), OUTDIR/b.pgp is key B, whose primary key packet has the
same body as S (so the same fingerprint), with its own user ID "Twin B" certified by S's secret
key. "same" / "other": keys are drawn until PA and S sit in the same / the other half of the
key-ID space (on a two-shard cluster: the same shard / different shards).
Prints "A_FPR S_FPR" (upper-case hex); S_FPR is also B's fingerprint."""
import hashlib
import os
import struct
import sys
import time

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

ED25519_OID = bytes.fromhex('2b06010401da470f01')


def mpi(b):
    b = b.lstrip(b'\0')
    bits = (len(b) - 1) * 8 + b[0].bit_length() if b else 0
    return struct.pack('>H', bits) + b


def packet(tag, body):
    return bytes([0xC0 | tag, 0xFF]) + struct.pack('>I', len(body)) + body


class Key:
    def __init__(self, created):
        self.sk = ed25519.Ed25519PrivateKey.generate()
        pub = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        material = bytes([len(ED25519_OID)]) + ED25519_OID + mpi(b'\x40' + pub)
        self.body = bytes([4]) + struct.pack('>I', created) + bytes([22]) + material
        self.fpr = hashlib.sha1(self.prefix()).digest()
        self.keyid = self.fpr[-8:]

    def prefix(self):
        return b'\x99' + struct.pack('>H', len(self.body)) + self.body

    def sign(self, sigtype, signed, created):
        """A v4 signature of sigtype by this key over the bytes signed (SHA-256)."""
        hashed = bytes([5, 2]) + struct.pack('>I', created) + bytes([22, 33, 4]) + self.fpr
        head = bytes([4, sigtype, 22, 8]) + struct.pack('>H', len(hashed)) + hashed
        d = hashlib.sha256(signed + head + b'\x04\xff' + struct.pack('>I', len(head))).digest()
        sig = self.sk.sign(d)
        unhashed = bytes([9, 16]) + self.keyid
        return (head + struct.pack('>H', len(unhashed)) + unhashed + d[:2] + mpi(sig[:32]) +
                mpi(sig[32:]))


def uid_packet_and_cert(key, uid, created):
    signed = key.prefix() + b'\xb4' + struct.pack('>I', len(uid)) + uid
    return packet(13, uid) + packet(2, key.sign(0x13, signed, created))


def main(out, where):
    created = int(time.time()) - 3600
    while True:
        pa, s = Key(created), Key(created + 1)
        if (pa.keyid[0] >> 7 == s.keyid[0] >> 7) == (where == 'same'):
            break
    a = (packet(6, pa.body) + uid_packet_and_cert(pa, b'Twin A <a@twin.example>', created + 2) +
         packet(14, s.body) + packet(2, pa.sign(0x18, pa.prefix() + s.prefix(), created + 2)))
    b = packet(6, s.body) + uid_packet_and_cert(s, b'Twin B <b@twin.example>', created + 3)
    with open(os.path.join(out, 'a.pgp'), 'wb') as f:
        f.write(a)
    with open(os.path.join(out, 'b.pgp'), 'wb') as f:
        f.write(b)
    print(pa.fpr.hex().upper(), s.fpr.hex().upper())


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[2] not in ('same', 'other'):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
