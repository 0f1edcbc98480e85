#!/usr/bin/env bash
# HTTP/2 rapid reset over hkps: one connection opens 3,000 streams and cancels each at once,
# while the shard is stopped so that nothing is answered. The gateway forwards no more than the
# client's share of requests in flight (max_inflight_per_client, 64) to the cluster: the rest
# are answered 429 without reaching it; once the shard runs again other clients are served and
# the reset requests are gone from the gateway's table.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -keyout "$D/key.pem" -out "$D/cert.pem" >/dev/null 2>&1
P=$(free_port); TP=$(free_port)
cluster_up "$D" --shards 1 --http-port "$P" --deadline-ms 4000 \
  --http-opt "tls_listen=127.0.0.1:$TP" --http-opt "tls_cert=$D/cert.pem" \
  --http-opt "tls_key=$D/key.pem" --http-opt cache_mb=0 ||
  { not_ok "cluster with hkps starts"; finish; }
U=http://127.0.0.1:$P
metric() { curl -s "$U/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
SHARD_PID=$(cat "$D"/run/shard-*.pid)
at_exit kill -CONT "$SHARD_PID" # a frozen shard would outlive the cluster's stop
kill -STOP "$SHARD_PID"
t0=$(date +%s%N)
out=$(/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/h2_reset_flood.py" 127.0.0.1 "$TP" \
  "/pks/lookup?op=get&options=mr&search=0x0123456789ABCDEF0123456789ABCDEF01234567" 3000 2)
ms=$((($(date +%s%N) - t0) / 1000000))
ok "the flood ran in $ms ms ($out)"
# a reset request's place is freed at its deadline (4 s): a flood slower than that (a loaded
# machine) may see one more client share reach the cluster per deadline that passed
cap=$((64 * (1 + ms / 4000)))
orph=$(metric oks_http_orphaned_total) refused=$(metric oks_http_inflight_refused_total)
check "at most $cap of the reset requests reached the cluster ($orph)" test "${orph:-999999}" -le "$cap"
check "the others were refused without reaching it ($refused)" test "${refused:-0}" -ge $((3000 - cap))
kill -CONT "$SHARD_PID"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --interface 127.0.0.9 "$U/pks/lookup?op=get&search=0x0123456789ABCDEF0123456789ABCDEF01234567")
check "another client is answered once the shard runs again ($code)" test "$code" = 404
# the orphaned entries leave with their deadline (4 s) at the latest
check "the gateway's table empties: the flooding client can send again" \
  wait_for 15 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 '$U/pks/lookup?op=get&search=0x0123456789ABCDEF0123456789ABCDEF01234567')\" = 404"
finish
