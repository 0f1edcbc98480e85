#!/usr/bin/env python3
"""Prints "FINGERPRINT BYTES" for every v4 transferable public key of a binary keyring: the
fingerprint of its primary key and the bytes from its primary key packet to the next one (the
size of the key as stored, which is about the size of a lookup's answer). Used by bench/curve.sh
to pick keys by answer size."""
import hashlib
import sys


def packets(data):
    i = 0
    while i < len(data):
        start, b = i, data[i]
        if not b & 0x80:
            raise ValueError(f"offset {i}: not a packet header")
        if b & 0x40:  # new format
            tag, i = b & 0x3F, i + 1
            o = data[i]
            if o < 192:
                n, i = o, i + 1
            elif o < 224:
                n, i = ((o - 192) << 8) + data[i + 1] + 192, i + 2
            elif o == 255:
                n, i = int.from_bytes(data[i + 1:i + 5], "big"), i + 5
            else:
                raise ValueError(f"offset {i}: partial length in a keyring")
        else:
            tag, lt, i = (b >> 2) & 0x0F, b & 3, i + 1
            if lt == 3:
                raise ValueError(f"offset {i}: indeterminate length")
            w = 1 << lt
            n, i = int.from_bytes(data[i:i + w], "big"), i + w
        yield start, tag, data[i:i + n]
        i += n


def main():
    data = open(sys.argv[1], "rb").read()
    cur = None  # (fingerprint, start offset)
    for start, tag, body in packets(data):
        if tag == 6:
            if cur:
                print(cur[0], start - cur[1])
            cur = None
            if body and body[0] == 4:
                fpr = hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body).hexdigest()
                cur = (fpr.upper(), start)
    if cur:
        print(cur[0], len(data) - cur[1])


if __name__ == "__main__":
    main()
