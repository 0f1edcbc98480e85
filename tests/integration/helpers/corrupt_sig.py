#!/usr/bin/env python3
"""corrupt_sig.py IN OUT N: copies a binary OpenPGP packet stream, flipping the last byte of the
N-th signature packet (1-based), i.e. the low byte of its signature value."""
import sys
from pgp_frames import frames

def packets(b):
    for tag, o, hl, end in frames(b):
        yield tag, o + hl, end - o - hl

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
