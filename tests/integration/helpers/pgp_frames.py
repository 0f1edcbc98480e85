"""OpenPGP packet framing (RFC 9580 4.2) for the test helpers: new- and old-format headers
with one-, two- and five-octet lengths (key material never uses partial lengths)."""


def frames(b):
    """Yields (tag, start, header_len, end) of every packet of the binary stream b."""
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
        yield tag, o, hl, o + hl + n
        o += hl + n
