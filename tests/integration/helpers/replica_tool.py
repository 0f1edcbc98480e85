#!/usr/bin/env python3
"""replica_tool.py COMMAND ...: talks oks.proto to a router or straight to one shard (a shard
answers requests that carry no slot map), for the replica tests.
  split KEYRING OUTDIR N     the first N keys with two or more user IDs, each cut into two
                             uploads: OUTDIR/K.a (primary, first user ID, subkeys) and OUTDIR/K.b
                             (primary, the other user IDs, subkeys); prints the fingerprints'
                             file names K
  part KEYRING OUT I N       writes the keys of KEYRING whose index modulo N is I (the first
                             key 0) to OUT, whole and in their order (N parts of one keyring)
  add EP FILE...             one Add of the keys in FILE... (one key each); prints
                             "index outcome new_hash" per key
  get EP FPR                 the stored key: "SKS-hash sha256-of-bytes", or "none"
  hashes EP SHARD            SKS hash of every key SHARD stores (ListKeys), sorted, one a line
  lookup EP FPRFILE          every fingerprint of FPRFILE looked up (pipelined); prints
                             "found N missing M errors E" then the fingerprints not found
  converged CONF             whether every replica of every slot holds the same SKS hashes of
                             that slot's keys (ListKeys of each shard): prints "same N" (keys)
                             or what differs, exit 1 then
  orders CONF DIR K...       for each K of split: K.a then K.b to the slot's first replica, K.b
                             then K.a to its second, straight to the shards; prints "K same" when
                             both store the same bytes, else "K differ"
  search EP TEXT             a word search through EP: "status S partial P keys N"
  where CONF FPR             the shards storing FPR (asked directly), one name a line
  holders CONF SLOT          the shards of the map holding SLOT, then (second line) the others
  free_run CONF SHARD        the longest run of slots SHARD does not hold and the first holder
                             of its first slot: "FIRST LAST HOLDER"
  copies CONF FPR            every shard storing FPR (asked directly): "NAME SKS-hash", one a line
  sigs EP                    self-signatures each shard verified (GetStats through EP):
                             "NAME COUNT", one a line
  forge EP ROLE FILE         one Add whose verified_keys (the field only routers may send) holds
                             the key in FILE, sent with ROLE's key of $OKS_CONFIG ("http":
                             a gateway's): prints "status S ERROR"
Wire format: written and read here by hand (no protobuf module needed). Every socket runs
CURVE with the admin key of $OKS_CONFIG."""
import hashlib
import os
import re
import struct
import sys

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oks_curve  # noqa: E402
from pgp_frames import frames

TIMEOUT_MS = 30000


def varint(n):
    out = b''
    while True:
        b = n & 0x7f
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def field(no, v):
    if isinstance(v, int):
        return varint(no << 3) + varint(v)
    return varint(no << 3 | 2) + varint(len(v)) + v


def decode(b):
    """field number -> list of values (int for varints, bytes for length-delimited)"""
    out, o = {}, 0
    while o < len(b):
        key, o = read_varint(b, o)
        no, wt = key >> 3, key & 7
        if wt == 0:
            v, o = read_varint(b, o)
        elif wt == 2:
            n, o = read_varint(b, o)
            v, o = b[o:o + n], o + n
        elif wt == 1:
            v, o = b[o:o + 8], o + 8
        elif wt == 5:
            v, o = b[o:o + 4], o + 4
        else:
            raise ValueError("wire type %d" % wt)
        out.setdefault(no, []).append(v)
    return out


def read_varint(b, o):
    v = shift = 0
    while True:
        c = b[o]
        o += 1
        v |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return v, o


def request(op_no, op_body):
    return field(1, 1) + field(op_no, op_body)


def one(v, no, default=None):
    return v.get(no, [default])[0]


class Conn:
    def __init__(self, ep, role="admin"):
        self.s = zmq.Context.instance().socket(zmq.DEALER)
        self.s.setsockopt(zmq.LINGER, 0)
        conf = os.environ.get("OKS_CONFIG")
        if conf:  # every link runs CURVE: the admin's key of $OKS_CONFIG
            routers = re.search(r"^routers = (.*)$", open(conf).read(), re.M)
            is_router = routers and ep in routers.group(1).replace(",", " ").split()
            oks_curve.client(self.s, conf, "router" if is_router else "shard", role)
        self.s.connect(ep)
        self.next = 1

    def send(self, req):
        rid = self.next
        self.next += 1
        self.s.send_multipart([struct.pack("<Q", rid), req])
        return rid

    def recv(self):
        if not self.s.poll(TIMEOUT_MS):
            raise SystemExit("no answer in %d ms" % TIMEOUT_MS)
        rid, body = self.s.recv_multipart()
        return struct.unpack("<Q", rid)[0], decode(body)

    def call(self, req):
        rid = self.send(req)
        while True:
            got, r = self.recv()
            if got == rid:
                return r


def packets(b):
    for tag, o, hl, end in frames(b):
        yield tag, b[o:end], hl


def split(keyring, outdir, want):
    keys, cur = [], None
    for tag, raw, _ in packets(open(keyring, 'rb').read()):
        if tag == 6:
            cur = [[]]  # blocks: [primary + direct sigs], then one per user ID / subkey
            keys.append(cur)
        elif tag in (13, 17, 14) and cur is not None:
            cur.append([])
        if cur is not None:
            cur[-1].append((tag, raw))
    made = 0
    for k in keys:
        uids = [b for b in k[1:] if b[0][0] in (13, 17)]
        subs = [b for b in k[1:] if b[0][0] == 14]
        if len(uids) < 2:
            continue
        name = "k%d" % made
        flat = lambda blocks: b''.join(raw for blk in blocks for _, raw in blk)
        open(os.path.join(outdir, name + ".a"), 'wb').write(flat([k[0], uids[0]] + subs))
        open(os.path.join(outdir, name + ".b"), 'wb').write(flat([k[0]] + uids[1:] + subs))
        print(name)
        made += 1
        if made == want:
            break


def part(keyring, out, i, n):
    data, starts = open(keyring, 'rb').read(), []
    for tag, o, _, _ in frames(data):
        if tag == 6:
            starts.append(o)
    starts.append(len(data))
    with open(out, 'wb') as f:
        for k in range(i, len(starts) - 1, n):
            f.write(data[starts[k]:starts[k + 1]])


def add(ep, files):
    body = b''.join(field(1, open(f, 'rb').read()) for f in files) + field(2, 4)
    r = Conn(ep).call(request(13, body))
    if one(r, 2, 0) != 0:
        raise SystemExit("add: status %d: %s" % (one(r, 2, 0), one(r, 3, b'').decode()))
    for res in r.get(6, []):
        a = decode(res)
        print(one(a, 1, 0), one(a, 2, 0), one(a, 6, b'').hex())


def get(ep, fpr):
    r = Conn(ep).call(request(10, field(1, bytes.fromhex(fpr))))
    keys = r.get(4, [])
    if not keys:
        print("none")
        return
    k = decode(keys[0])
    print(one(k, 3, b'').hex(), hashlib.sha256(one(k, 1, b'')).hexdigest())


def hashes(ep, shard):
    for h in sorted(h.hex() for _, h, _ in list_keys(ep, shard)):
        print(h)


def conf_shards(path):
    """[(name, endpoint, set of slots)], number of slots"""
    shards, cur, nslots = [], None, 4096
    for line in open(path):
        line = line.strip()
        if line.startswith('['):
            cur = None
            if line.startswith('[shard.'):
                cur = {'name': line[7:-1]}
                shards.append(cur)
            continue
        if '=' not in line or line.startswith(';'):
            continue
        k, v = [x.strip() for x in line.split('=', 1)]
        if cur is None and k == 'slots':
            nslots = int(v)
        elif cur is not None and k in ('endpoint', 'slots'):
            cur[k] = v
    out = []
    for sh in shards:
        slots = set()
        for part in sh.get('slots', '').split(','):
            if not part.strip():
                continue  # a shard holding no slot (the map kept in etcd, after a move)
            lo, _, hi = part.strip().partition('-')
            slots.update(range(int(lo), int(hi or lo) + 1))
        out.append((sh['name'], sh['endpoint'], slots))
    return out, nslots


def holders(conf, slot):
    shards, _ = conf_shards(conf)
    have = [name for name, _, slots in shards if slot in slots]
    print(' '.join(have))
    print(' '.join(name for name, _, _ in shards if name not in have))


def free_run(conf, shard):
    shards, nslots = conf_shards(conf)
    held = {}
    for name, _, slots in shards:
        for x in slots:
            held.setdefault(x, []).append(name)
    best, run = (0, -1), None
    for x in range(nslots + 1):
        free = x < nslots and shard not in held.get(x, [shard])
        if free and run is None:
            run = x
        if not free and run is not None:
            if x - run > best[1] - best[0] + 1:
                best = (run, x - 1)
            run = None
    print(best[0], best[1], held[best[0]][0])


def slot_of_fpr(fpr, nslots):
    kid = fpr[-8:] if len(fpr) == 20 else fpr[:8]
    return (int.from_bytes(kid[:4], 'big') * nslots) >> 32


def list_keys(ep, shard):
    c, after, out = Conn(ep), b'', []
    while True:
        body = field(1, shard.encode()) + (field(2, after) if after else b'') + field(3, 1000)
        r = c.call(request(19, body))
        if one(r, 2, 0) != 0:
            raise SystemExit("list %s: status %d: %s" % (shard, one(r, 2, 0),
                                                         one(r, 3, b'').decode()))
        keys = [decode(k) for k in r.get(4, [])]
        if not keys:
            return out
        out += [(one(k, 2), one(k, 3, b''), one(k, 1, b'')) for k in keys]
        after = one(keys[-1], 2)


def converged(conf):
    shards, nslots = conf_shards(conf)
    held = {}  # slot -> {shard: set of (fpr, hash)}
    for name, ep, slots in shards:
        if not slots:
            continue  # a shard with no slot in the map (removed): not asked
        mine = {s: set() for s in slots}
        for fpr, h, _ in list_keys(ep, name):
            mine.setdefault(slot_of_fpr(fpr, nslots), set()).add((fpr, h))
        for s, ks in mine.items():
            held.setdefault(s, {})[name] = ks
    bad, keys = 0, set()
    for s in sorted(held):
        sets = list(held[s].values())
        for ks in sets:
            keys |= {f for f, _ in ks}
        if any(ks != sets[0] for ks in sets[1:]):
            bad += 1
            if bad <= 5:
                names = sorted(held[s])
                print("slot %d differs: %s" % (s, ", ".join(
                    "%s %d keys" % (n, len(held[s][n])) for n in names)))
    if bad:
        sys.exit(1)
    print("same %d" % len(keys))


def placed(conf):
    """every shard holding slots stores keys of its slots only (a moved slot was purged)"""
    shards, nslots = conf_shards(conf)
    stray = 0
    for name, ep, slots in shards:
        if not slots:
            continue
        n = sum(1 for fpr, _, _ in list_keys(ep, name) if slot_of_fpr(fpr, nslots) not in slots)
        if n:
            print("%s stores %d keys of slots it does not hold" % (name, n))
        stray += n
    if stray:
        sys.exit(1)
    print("placed")


def fpr_of(key):
    _, raw, hl = next(packets(key))
    body = raw[hl:]
    if body[0] == 4:
        return hashlib.sha1(b'\x99' + len(body).to_bytes(2, 'big') + body).digest()
    raise SystemExit("only v4 keys here")


def orders(conf, d, names):
    shards, nslots = conf_shards(conf)
    for k in names:
        a, b = os.path.join(d, k + ".a"), os.path.join(d, k + ".b")
        fpr = fpr_of(open(a, 'rb').read())
        slot = slot_of_fpr(fpr, nslots)
        reps = [(n, ep) for n, ep, slots in shards if slot in slots]
        if len(reps) < 2:
            raise SystemExit("slot %d has fewer than 2 replicas" % slot)
        for (_, ep), seq in zip(reps, ((a, b), (b, a))):
            for f in seq:
                r = Conn(ep).call(request(13, field(1, open(f, 'rb').read()) + field(2, 4)))
                if one(r, 2, 0) != 0:
                    raise SystemExit("add: status %d" % one(r, 2, 0))
        got = []
        for _, ep in reps[:2]:
            r = Conn(ep).call(request(10, field(1, fpr)))
            got.append(one(decode(r[4][0]), 1, b'') if r.get(4) else None)
        print(k, "same" if got[0] is not None and got[0] == got[1] else "differ")


def where(conf, fpr):
    shards, _ = conf_shards(conf)
    for name, ep, slots in shards:
        if not slots:
            continue  # a shard with no slot in the map (removed): not asked
        r = Conn(ep).call(request(10, field(1, bytes.fromhex(fpr))))
        if r.get(4):
            print(name)


def copies(conf, fpr):
    shards, _ = conf_shards(conf)
    for name, ep, slots in shards:
        r = Conn(ep).call(request(10, field(1, bytes.fromhex(fpr))))
        if r.get(4):
            print(name, one(decode(r[4][0]), 3, b'').hex())


def sigs(ep):
    r = Conn(ep).call(request(15, b''))
    for sh in r.get(7, []):
        st = decode(sh)
        print(one(st, 1, b'').decode(), one(st, 9, 0))


def forge(ep, role, path):
    body = field(3, open(path, 'rb').read()) + field(2, 1)
    r = Conn(ep, role).call(request(13, body))
    print("status %d %s" % (one(r, 2, 0), one(r, 3, b'').decode()))


def search(ep, text):
    r = Conn(ep).call(request(12, field(1, text.encode())))
    print("status %d partial %d keys %d" % (one(r, 2, 0), one(r, 13, 0), len(r.get(4, []))))


def lookup(ep, fprfile):
    c = Conn(ep)
    fprs = [l.strip() for l in open(fprfile) if l.strip()]
    pending, found, errors, missing = {}, 0, 0, []
    for i, f in enumerate(fprs):
        pending[c.send(request(10, field(1, bytes.fromhex(f))))] = f
        while len(pending) >= 64 or (i + 1 == len(fprs) and pending):
            rid, r = c.recv()
            f2 = pending.pop(rid, None)
            st = one(r, 2, 0)
            if st == 0 and r.get(4):
                found += 1
            elif st == 1:
                missing.append(f2)
            else:
                errors += 1
                print("# %s: status %d: %s" % (f2, st, one(r, 3, b'').decode()), file=sys.stderr)
    print("found %d missing %d errors %d" % (found, len(missing), errors))
    for f in missing:
        print(f)


cmd, args = sys.argv[1], sys.argv[2:]
{"split": lambda: split(args[0], args[1], int(args[2])),
 "part": lambda: part(args[0], args[1], int(args[2]), int(args[3])),
 "add": lambda: add(args[0], args[1:]),
 "get": lambda: get(args[0], args[1]),
 "hashes": lambda: hashes(args[0], args[1]),
 "lookup": lambda: lookup(args[0], args[1]),
 "converged": lambda: converged(args[0]),
 "placed": lambda: placed(args[0]),
 "orders": lambda: orders(args[0], args[1], args[2:]),
 "search": lambda: search(args[0], args[1]),
 "where": lambda: where(args[0], args[1]),
 "holders": lambda: holders(args[0], int(args[1])),
 "free_run": lambda: free_run(args[0], args[1]),
 "copies": lambda: copies(args[0], args[1]),
 "sigs": lambda: sigs(args[0]),
 "forge": lambda: forge(args[0], args[1], args[2])}[cmd]()
