"""A plain ZeroMQ client (no CURVE): sends one Health request to ENDPOINT and waits up to MS
milliseconds for any answer; prints "answered" (exit 0) or "no answer" (exit 1).
usage: zmq_plain.py ENDPOINT MS"""
import struct
import sys

import zmq

ep, ms = sys.argv[1], int(sys.argv[2])
s = zmq.Context().socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.connect(ep)
# Request{version: 1, health: {}}
s.send_multipart([struct.pack("<Q", 1), b"\x08\x01\x92\x01\x00"], zmq.DONTWAIT)
answered = bool(s.poll(ms))
print("answered" if answered else "no answer")
sys.exit(0 if answered else 1)
