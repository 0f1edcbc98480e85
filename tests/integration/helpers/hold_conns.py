#!/usr/bin/env python3
"""Opens N idle TCP connections to HOST:PORT from SRC (a loopback address), holds them for
SECONDS, then prints how many the server closed (end of file or reset) and how many it kept
(accepted, or still waiting in its backlog or in the handshake) and exits."""
import resource
import socket
import sys
import time

host, port, src, n, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 64)), hard))
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.setblocking(False)
    try:
        s.connect((host, port))
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(hold)
closed = 0
for s in socks:
    try:
        s.getpeername()
    except OSError:
        continue  # still connecting (the server's backlog is full): not refused
    try:
        if s.recv(1, socket.MSG_DONTWAIT) == b"":
            closed += 1
    except BlockingIOError:
        pass  # open, nothing to read
    except ConnectionResetError:
        closed += 1
    except OSError:
        pass
print(f"open={n - closed} closed={closed}")
for s in socks:
    s.close()
