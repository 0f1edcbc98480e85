#!/usr/bin/env bash
# Connection floods against the HTTP gateway: one client holding 1,100 idle connections gets its
# per-client share and no more, other clients are still served, and the gateway does not spin;
# at the total cap (derived from a small descriptor limit) the listeners rest instead of
# busy-looping, and serve again once connections close. No cleartext HTTP/2 on the plain port.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir) D2=$(scratch_dir)
at_exit rm -rf "$D" "$D2"
P=$(free_port)
# the gateway raises its soft descriptor limit to the hard one: start it with 256 / 1,024 (the
# hard limit is systemd's default soft one), so the flood below is larger than it may open
at_exit cluster_down "$D"
( ulimit -Sn 256 && ulimit -Hn 1024 &&
  bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 1 --http-port "$P" \
    --http-opt max_connections_per_client=64 >/dev/null ) || { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
GW=$(cat "$D/run/gw-http.pid")
cpu() { awk '{print $14 + $15}' "/proc/$GW/stat"; } # user+system ticks

check "the gateway logs its connection caps" grep -q 'connections: at most 896 (descriptor limit 1024), 64 per client' "$D/log/gw-http.log"

# one client, 1,100 idle connections, held for 3 s
t0=$(cpu)
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/hold_conns.py" 127.0.0.1 "$P" 127.0.0.7 1100 3 >"$D/flood" &
fp=$!
sleep 1.5 # the flood is being held now
code=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.9 --max-time 20 "$U/pks/health")
check "another client is served during the flood (health $code)" test "$code" = 200
wait "$fp"
t1=$(cpu)
check "the flooding client kept 64 connections, the rest were closed ($(cat "$D/flood"))" \
  grep -qx 'open=64 closed=1036' "$D/flood"
# a gateway spinning on the listener burns ~100 ticks per second per thread; idle is ~0
check "the gateway did not spin during the flood ($((t1 - t0)) ticks in ~3 s)" test $((t1 - t0)) -lt 100
check "the flooding client is served again once its connections closed" \
  test "$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.7 --max-time 20 "$U/pks/health")" = 200
check "/metrics counts the 1,036 connections refused per client" \
  grep -q '^oks_http_connections_refused_total{reason="per_client"} 1036$' <(curl -s "$U/metrics")

# the total cap: clients behind a trusted proxy are not capped per client, so 1,100 connections
# from the proxy reach the total cap (896) and the rest wait in the kernel's backlog
cluster_down "$D"
at_exit cluster_down "$D2"
( ulimit -Sn 256 && ulimit -Hn 1024 &&
  bash "$OKS_ROOT/deploy/local.sh" up --dir "$D2" --shards 1 --http-port "$P" \
    --http-opt trusted_proxies=127.0.0.7 >/dev/null ) || { not_ok "cluster restarts"; finish; }
GW=$(cat "$D2/run/gw-http.pid")
t0=$(cpu)
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/hold_conns.py" 127.0.0.1 "$P" 127.0.0.7 1100 3 >"$D/flood2"
t1=$(cpu)
check "at the total cap nothing is refused, the rest waits ($(cat "$D/flood2"))" grep -qx 'open=1100 closed=0' "$D/flood2"
check "the gateway did not spin at the total cap ($((t1 - t0)) ticks in ~3 s)" test $((t1 - t0)) -lt 100
check "the gateway serves again after the flood" wait_for 10 curl -sf --max-time 2 "$U/pks/health"
check "the gateway is still running" kill -0 "$GW"

# HTTP/2 only over TLS: neither prior knowledge nor an h2c upgrade on the plain port
v=$(curl -s -o /dev/null -w '%{http_version}' --http2 "$U/pks/health")
check "Upgrade: h2c is not taken (answered over HTTP/$v)" test "$v" = 1.1
pk=$(curl -s -o /dev/null -w '%{http_code}' --http2-prior-knowledge --max-time 5 "$U/pks/health")
check "HTTP/2 prior knowledge is refused (status $pk)" test "$pk" != 200
finish
