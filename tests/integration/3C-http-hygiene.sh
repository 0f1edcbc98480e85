#!/usr/bin/env bash
# Requests a proxy in front could frame differently than the gateway (request smuggling), and
# NUL bytes in request targets: each answered 400, the connection closed after a bad framing,
# and well-formed requests on the same connection before it still answered.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
P=$(free_port)
cluster_up "$D" --shards 1 --http-port "$P" || { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
raw() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/raw_http.py" 127.0.0.1 "$P" 3 | tr '\n' '|'; }

r=$(printf 'GET /pks/health HTTP/1.1\nHost: x\nContent-Length: 0\nContent-Length: 5\n\nhello' | raw)
check "two different Content-Length headers: 400 ($r)" test "$r" = "HTTP/1.1 400 Bad Request|"
r=$(printf 'POST /pks/health HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\n\n' | raw)
check "Content-Length with Transfer-Encoding: 400 ($r)" test "$r" = "HTTP/1.1 400 Bad Request|"
r=$(printf 'GET /pks/health HTTP/1.1\nHost: x\nContent-Length: 2\nContent-Length: 2\n\nab' | raw)
check "a repeated, equal Content-Length is fine ($r)" test "$r" = "HTTP/1.1 200 OK|"
# pipelined: the first request is answered, the smuggling attempt refused, nothing after it read
r=$(printf 'GET /pks/health HTTP/1.1\nHost: x\n\nGET /pks/health HTTP/1.1\nHost: x\nContent-Length: 1\nContent-Length: 40\n\naGET /pks/health HTTP/1.1\nHost: x\n\n' | raw)
check "pipelined: answered, refused, then the connection closed ($r)" \
  test "$r" = "HTTP/1.1 200 OK|HTTP/1.1 400 Bad Request|"
body=$(curl -s "$U/pks/lookup?op=index&search=alice%00bob")
code=$(http_code "$U/pks/lookup?op=index&search=alice%00bob")
check "%00 in a search: 400 ($code: $body)" test "$code" = 400
body=$(curl -s "$U/vks/v1/by-email/a%00b%40example.org")
check "%00 in a VKS path: 400 naming the NUL ($body)" grep -q '^400 .*NUL' <<<"$body"
code=$(http_code "$U/pks/lookup?op=index&search=alice")
check "a search without NUL is answered (404, no such key)" test "$code" = 404
finish
