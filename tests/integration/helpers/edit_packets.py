#!/usr/bin/env python3
"""edit_packets.py IN OUT COMMAND: rewrites a binary OpenPGP packet stream (one key).
  list              print index, tag and signature type of every packet (OUT ignored)
  only-revocations  in every user ID / subkey block holding a revocation (0x30 / 0x28), drop
                    its certifications / bindings, so that only the revocation binds it
  unbind-subkey N   drop the binding signatures (0x18) of the N-th subkey (1-based)
  append-to-keys HEX  append the bytes HEX to the body of every public-key and public-subkey
                    packet (after the key material), headers rewritten in the old format"""
import sys
from pgp_frames import frames

def packets(b):
    for tag, o, hl, end in frames(b):
        sigtype = None
        if tag == 2:
            sigtype = b[o + hl + 2] if b[o + hl] == 3 else b[o + hl + 1]
        yield tag, sigtype, o, end

src, dst, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, 'rb').read()
pk = list(packets(data))
if cmd == 'list':
    for i, (tag, st, _, _) in enumerate(pk):
        print(i, f'tag={tag}' + ('' if st is None else ' type=0x%02x' % st))
    sys.exit(0)
if cmd == 'append-to-keys':
    extra, out = bytes.fromhex(sys.argv[4]), b''
    for tag, _, s, e in pk:
        hl = 2 if data[s] & 0x40 and data[s + 1] < 192 else \
            3 if data[s] & 0x40 and data[s + 1] < 224 else 6 if data[s] & 0x40 else \
            {0: 2, 1: 3, 2: 5}[data[s] & 3]
        body = data[s + hl:e] + (extra if tag in (6, 14) else b'')
        if tag < 16:
            n = len(body)
            lt = 0 if n < 256 else 1 if n < 65536 else 2
            out += bytes([0x80 | tag << 2 | lt]) + n.to_bytes((1, 2, 4)[lt], 'big') + body
        else:
            out += data[s:e]
    open(dst, 'wb').write(out)
    sys.exit(0)
# blocks: [owner index, [signature indexes]]
blocks = []
for i, (tag, st, _, _) in enumerate(pk):
    if tag == 2 and blocks:
        blocks[-1][1].append(i)
    elif tag != 2:
        blocks.append([i, []])
drop = set()
if cmd == 'only-revocations':
    for owner, sigs in blocks:
        types = {pk[i][1] for i in sigs}
        if pk[owner][0] in (13, 17) and 0x30 in types:
            drop |= {i for i in sigs if 0x10 <= pk[i][1] <= 0x13}
        if pk[owner][0] == 14 and 0x28 in types:
            drop |= {i for i in sigs if pk[i][1] == 0x18}
elif cmd == 'unbind-subkey':
    subs = [b for b in blocks if pk[b[0]][0] == 14]
    drop |= {i for i in subs[int(sys.argv[4]) - 1][1] if pk[i][1] == 0x18}
else:
    sys.exit(f'unknown command {cmd}')
if not drop:
    sys.exit('nothing to drop')
open(dst, 'wb').write(b''.join(data[s:e] for i, (_, _, s, e) in enumerate(pk) if i not in drop))
