#!/usr/bin/env python3
"""A broken etcd for tests/integration/1A-etcd-client.sh: an HTTP/1.1 server on 127.0.0.1:PORT
whose answer depends on the first path segment of the request (the client is given
http://127.0.0.1:PORT/MODE as its endpoint, so it posts to /MODE/v3/kv/range and so on):

  garbage   200 with text that is not JSON
  wrong     200 with JSON of the wrong shape (a revision that is not a number)
  huge      200 with a 4 MiB body (the client is run with a smaller max_answer)
  slow      reads the request and never answers
  dribble   200 and a body that never ends, one byte a second
  nolength  200, no Content-Length, closes after a truncated JSON object
  watchbad  200 and a watch stream whose second message is garbage

usage: etcd_fake.py PORT
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, length=True):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        mode = self.path.strip("/").split("/")[0]
        if mode == "garbage":
            self.answer(b"<html>this is not etcd</html>")
        elif mode == "wrong":
            self.answer(b'{"header":{"revision":"twelve"},"kvs":[{"key":42}]}')
        elif mode == "huge":
            self.answer(b'{"header":{},"kvs":[{"key":"' + b"QUFB" * (1 << 20) + b'"}]}')
        elif mode == "slow":
            time.sleep(30)
        elif mode == "dribble":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for _ in range(30):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        elif mode == "nolength":
            self.answer(b'{"header":{"revision":"3"},"kvs":[{"key":"YQ==', length=False)
            self.close_connection = True
        elif mode == "watchbad":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for msg in (b'{"result":{"header":{"revision":"5"},"created":true}}\n',
                        b'{"result":{"events":[{"kv":{"key":"!!!"}}]}}\n'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(msg), msg))
                self.wfile.flush()
            time.sleep(30)
        else:
            self.send_error(404)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # the client hung up on a slow or endless answer: what the test wants
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
