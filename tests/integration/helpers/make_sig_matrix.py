#!/usr/bin/env python3
"""make_sig_matrix.py OUTDIR: writes v4 keys signed by OpenSSL (python3-cryptography) for every
signing algorithm x every hash algorithm OpenPGP allows, so libgcrypt checks signatures it did
not make. One key per signer (OUTDIR/NAME.pgp): RSA-2048, DSA-2048/256, ECDSA NIST P-256/384/521
and brainpoolP256r1/384r1/512r1, EdDSA legacy Ed25519. Each key has one user ID per hash
algorithm (MD5, SHA-1, RIPEMD-160, SHA-224/256/384/512, SHA3-256/512) with a positive
self-certification made with that hash; the RSA and DSA keys also get a user ID certified by a v3
signature; the Ed25519 key a certification whose r has a leading zero byte (MPI shorter than 32
bytes); and a v3 RSA key (rsa-v3key) with a v3 certification. Prints "NAME N" per key,
N = the self-signatures that must verify."""
import hashlib, os, struct, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa, utils

HASHES = [(1, 'md5'), (2, 'sha1'), (3, 'ripemd160'), (11, 'sha224'), (8, 'sha256'),
          (9, 'sha384'), (10, 'sha512'), (12, 'sha3_256'), (14, 'sha3_512')]
# DER DigestInfo prefixes for EMSA-PKCS1-v1_5 (RFC 9580 5.2.2)
PREFIX = {1: '3020300c06082a864886f70d020505000410', 2: '3021300906052b0e03021a05000414',
          3: '3021300906052b2403020105000414', 11: '302d300d06096086480165030402040500041c',
          8: '3031300d060960864801650304020105000420', 9: '3041300d060960864801650304020205000430',
          10: '3051300d060960864801650304020305000440',
          12: '3031300d060960864801650304020805000420',
          14: '3051300d060960864801650304020a05000440'}
# a cryptography hash of the same digest size, for Prehashed (only the length is used)
SAME_SIZE = {16: hashes.MD5(), 20: hashes.SHA1(), 28: hashes.SHA224(), 32: hashes.SHA256(),
             48: hashes.SHA384(), 64: hashes.SHA512()}
CURVES = {'p256': (ec.SECP256R1, '2a8648ce3d030107'), 'p384': (ec.SECP384R1, '2b81040022'),
          'p521': (ec.SECP521R1, '2b81040023'),
          'bp256': (ec.BrainpoolP256R1, '2b2403030208010107'),
          'bp384': (ec.BrainpoolP384R1, '2b240303020801010b'),
          'bp512': (ec.BrainpoolP512R1, '2b240303020801010d')}

def mpi(x):
    b = x if isinstance(x, bytes) else x.to_bytes((x.bit_length() + 7) // 8 or 1, 'big')
    b = b.lstrip(b'\0')
    bits = (len(b) - 1) * 8 + b[0].bit_length() if b else 0
    return struct.pack('>H', bits) + b

def packet(tag, body):
    return bytes([0xC0 | tag, 0xFF]) + struct.pack('>I', len(body)) + body

class Signer:
    def __init__(self, name):
        self.name = name
        if name == 'rsa':
            self.sk = rsa.generate_private_key(65537, 2048)
            pn = self.sk.public_key().public_numbers()
            self.algo, material = 1, mpi(pn.n) + mpi(pn.e)
        elif name == 'dsa':
            self.sk = dsa.generate_private_key(2048)
            pn = self.sk.public_key().public_numbers()
            pp = pn.parameter_numbers
            self.algo, material = 17, mpi(pp.p) + mpi(pp.q) + mpi(pp.g) + mpi(pn.y)
        elif name == 'ed25519':
            self.sk = ed25519.Ed25519PrivateKey.generate()
            a = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                  serialization.PublicFormat.Raw)
            oid = bytes.fromhex('2b06010401da470f01')
            self.algo, material = 22, bytes([len(oid)]) + oid + mpi(b'\x40' + a)
        else:
            curve, oidhex = CURVES[name]
            self.sk = ec.generate_private_key(curve())
            q = self.sk.public_key().public_bytes(serialization.Encoding.X962,
                                                  serialization.PublicFormat.UncompressedPoint)
            oid = bytes.fromhex(oidhex)
            self.algo, material = 19, bytes([len(oid)]) + oid + mpi(q)
        self.created = int(time.time()) - 3600
        self.body = bytes([4]) + struct.pack('>I', self.created) + bytes([self.algo]) + material
        self.fpr = hashlib.sha1(self.prefix()).digest()
        self.keyid = self.fpr[-8:]

    def make_v3(self):
        """Turns an RSA signer into a v3 key (key ID = low 64 bits of n)."""
        pn = self.sk.public_key().public_numbers()
        self.body = (bytes([3]) + struct.pack('>IH', self.created, 0) + bytes([1]) +
                     mpi(pn.n) + mpi(pn.e))
        self.keyid = pn.n.to_bytes(256, 'big')[-8:]

    def prefix(self):
        return b'\x99' + struct.pack('>H', len(self.body)) + self.body

    def sign_digest(self, hid, d):
        if self.algo == 1:
            pn = self.sk.private_numbers()
            n, dd = pn.public_numbers.n, pn.d
            k = (n.bit_length() + 7) // 8
            t = bytes.fromhex(PREFIX[hid]) + d
            em = b'\x00\x01' + b'\xff' * (k - len(t) - 3) + b'\x00' + t
            return mpi(pow(int.from_bytes(em, 'big'), dd, n))
        if self.algo == 22:
            sig = self.sk.sign(d)
            return mpi(sig[:32]) + mpi(sig[32:])
        alg = utils.Prehashed(SAME_SIZE[len(d)])
        der = self.sk.sign(d, alg) if self.algo == 17 else self.sk.sign(d, ec.ECDSA(alg))
        r, s = utils.decode_dss_signature(der)
        return mpi(r) + mpi(s)

    def cert_v4(self, uid, hid, hname, created):
        hashed = (bytes([5, 2]) + struct.pack('>I', created) + bytes([22, 33, 4]) + self.fpr)
        head = bytes([4, 0x13, self.algo, hid]) + struct.pack('>H', len(hashed)) + hashed
        h = hashlib.new(hname)
        h.update(self.prefix() + b'\xb4' + struct.pack('>I', len(uid)) + uid + head +
                 b'\x04\xff' + struct.pack('>I', len(head)))
        d = h.digest()
        unhashed = bytes([9, 16]) + self.keyid
        return head + struct.pack('>H', len(unhashed)) + unhashed + d[:2], d

    def cert_v3(self, uid):
        created = self.created + 10
        h = hashlib.sha256(self.prefix() + uid + bytes([0x10]) + struct.pack('>I', created))
        d = h.digest()
        return (bytes([3, 5, 0x10]) + struct.pack('>I', created) + self.keyid +
                bytes([self.algo, 8]) + d[:2] + self.sign_digest(8, d))

def make(name):
    s = Signer(name.replace('-v3key', ''))
    if name.endswith('-v3key'):
        s.make_v3()
        uid = b'v3 key <v3key@example.org>'
        return packet(6, s.body) + packet(13, uid) + packet(2, s.cert_v3(uid)), 1
    out = packet(6, s.body)
    n = 0
    for hid, hname in HASHES:
        uid = f'{name} {hname} <{name}-{hname}@example.org>'.encode()
        head, d = s.cert_v4(uid, hid, hname, s.created + 1)
        out += packet(13, uid) + packet(2, head + s.sign_digest(hid, d))
        n += 1
    if s.algo in (1, 17):
        uid = f'{name} v3 <{name}-v3@example.org>'.encode()
        out += packet(13, uid) + packet(2, s.cert_v3(uid))
        n += 1
    if s.algo == 22:
        uid = f'{name} short r <{name}-short@example.org>'.encode()
        for t in range(s.created, s.created + 100000):
            head, d = s.cert_v4(uid, 10, 'sha512', t)
            sig = s.sk.sign(d)
            if sig[0] == 0:
                break
        out += packet(13, uid) + packet(2, head + mpi(sig[:32]) + mpi(sig[32:]))
        n += 1
    return out, n

outdir = sys.argv[1]
for name in ['rsa-v3key', 'rsa', 'dsa', 'p256', 'p384', 'p521', 'bp256', 'bp384', 'bp512', 'ed25519']:
    data, n = make(name)
    open(os.path.join(outdir, name + '.pgp'), 'wb').write(data)
    print(name, n)
