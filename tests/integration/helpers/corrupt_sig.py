#!/usr/bin/env python3
"""corrupt_sig.py IN OUT N: copies a binary OpenPGP packet stream, flipping the last byte of the
N-th signature packet (1-based), i.e. the low byte of its signature value."""
import sys

def packets(b):
    o = 0
    while o < len(b):
        h = b[o]
        if h & 0x40:
            tag, l1 = h & 0x3f, b[o + 1]
            if l1 < 192:
                hl, n = 2, l1
            elif l1 < 224:
                hl, n = 3, ((l1 - 192) << 8) + b[o + 2] + 192
            else:
                hl, n = 6, int.from_bytes(b[o + 2:o + 6], 'big')
        else:
            tag, lt = (h >> 2) & 15, h & 3
            hl = {0: 2, 1: 3, 2: 5}[lt]
            n = int.from_bytes(b[o + 1:o + hl], 'big')
        yield tag, o + hl, n
        o += hl + n

src, dst, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = bytearray(open(src, 'rb').read())
seen = 0
for tag, body, n in packets(bytes(data)):
    if tag == 2:
        seen += 1
        if seen == want:
            data[body + n - 1] ^= 0x01
            break
else:
    sys.exit(f'no signature #{want}')
open(dst, 'wb').write(data)
