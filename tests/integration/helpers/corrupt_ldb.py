#!/usr/bin/env python3
"""Damages the data blocks of a LevelDB table file (.ldb) in place, as a failing disk would:
every byte before the table's filter block (or, without one, its metaindex block) is inverted.
The footer, metaindex and index blocks stay intact, so the table still opens and a read of any
key in it reaches a damaged data block, which a reader verifying checksums must report.

usage: corrupt_ldb.py FILE.ldb   (prints the number of bytes damaged)"""
import struct
import sys

FOOTER = 48
MAGIC = 0xDB4775248B80FB57


def varint(b, i):
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        if c < 0x80:
            return v, i
        shift += 7


def main(path):
    with open(path, "r+b") as f:
        data = f.read()
        if len(data) < FOOTER or struct.unpack("<Q", data[-8:])[0] != MAGIC:
            sys.exit(f"{path}: not a LevelDB table")
        foot = data[-FOOTER:]
        meta_off, i = varint(foot, 0)
        meta_size, i = varint(foot, i)
        end = meta_off
        block, kind = data[meta_off:meta_off + meta_size], data[meta_off + meta_size]
        if kind == 0:  # an uncompressed metaindex: find the filter block, which precedes it
            nrest = struct.unpack("<I", block[-4:])[0]
            limit, j = len(block) - 4 - 4 * nrest, 0
            while j < limit:
                shared, j = varint(block, j)
                unshared, j = varint(block, j)
                vlen, j = varint(block, j)
                name = block[j:j + unshared]
                j += unshared
                if name.startswith(b"filter."):
                    end = min(end, varint(block, j)[0])
                j += vlen
        if end == 0:
            sys.exit(f"{path}: no data blocks")
        f.seek(0)
        f.write(bytes(c ^ 0xFF for c in data[:end]))
    print(end)


if __name__ == "__main__":
    main(sys.argv[1])
