#!/usr/bin/env python3
"""Sends standard input as-is to HOST:PORT (one TCP connection), reads until the server closes
or TIMEOUT seconds pass, and prints the status line of every HTTP response it got. Line ends in
the input are sent as CRLF."""
import re
import socket
import sys

host, port = sys.argv[1], int(sys.argv[2])
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
data = sys.stdin.buffer.read().replace(b"\n", b"\r\n")
s = socket.create_connection((host, port), timeout=timeout)
s.sendall(data)
got = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
except socket.timeout:
    pass
for m in re.finditer(rb"HTTP/1\.[01] [0-9]{3}[^\r\n]*", got):
    print(m.group(0).decode("latin-1"))
