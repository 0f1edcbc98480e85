#!/usr/bin/env python3
"""Raw requests for the LDAP gateway's tests, below what ldapsearch can send.

  ldap_raw.py sock PATH        sends stdin as one back-sock request to the gateway's UNIX socket
                               and prints the answer (what slapd would read)
  ldap_raw.py badfilter HOST PORT
                               sends slapd an LDAP SearchRequest whose filter is malformed (an
                               equality assertion without its value) and prints the result
                               code of the answer: SearchResultDone or a notice of
                               disconnection ("closed" when the connection just dropped);
                               -v prints the answer's bytes too
"""
import socket
import sys


def sock(path):
    data = sys.stdin.buffer.read()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    sys.stdout.write(out.decode("utf-8", "replace"))


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def read_tlv(s):
    def recv_exact(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                raise EOFError
            b += c
        return b
    hdr = recv_exact(2)
    n = hdr[1]
    if n & 0x80:
        n = int.from_bytes(recv_exact(n & 0x7F), "big")
    return hdr[0], recv_exact(n)


def badfilter(host, port):
    base = b"ou=GnuPG Keys,o=OpenKeyServer"
    bad_filter = tlv(0xA3, tlv(0x04, b"pgpCertID"))  # equalityMatch without its value
    req = (tlv(0x04, base) + tlv(0x0A, b"\x02") + tlv(0x0A, b"\x00") + tlv(0x02, b"\x00")
           + tlv(0x02, b"\x00") + tlv(0x01, b"\x00") + bad_filter + tlv(0x30, b""))
    msg = tlv(0x30, tlv(0x02, b"\x07") + tlv(0x63, req))
    s = socket.create_connection((host, int(port)), timeout=30)
    s.sendall(msg)
    try:
        while True:
            _, body = read_tlv(s)
            # body: msgid, then the protocol op
            i = 2 + body[1]
            op = body[i]
            if "-v" in sys.argv:
                print(body.hex())
            if op in (0x65, 0x78):  # SearchResultDone, ExtendedResponse (notice of disconnect)
                j = i + 2 if body[i + 1] < 0x80 else i + 2 + (body[i + 1] & 0x7F)
                print(body[j + 2])  # resultCode ENUMERATED, one byte
                return
    except (EOFError, ConnectionError, socket.timeout):
        print("closed")


if __name__ == "__main__":
    if sys.argv[1] == "sock":
        sock(sys.argv[2])
    elif sys.argv[1] == "badfilter":
        badfilter(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: ldap_raw.py sock PATH | badfilter HOST PORT")
