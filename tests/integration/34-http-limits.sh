#!/usr/bin/env bash
# Per-client rate limits: lookups and uploads limited separately with 429 + Retry-After; the
# client taken from X-Forwarded-For only when the peer is a configured proxy. /metrics only for
# the networks of metrics_allow, judged on that same client.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
P=$(free_port)
# Buckets refill at one token per 1000 s: none comes back while the test runs, however slowly
# the machine runs it, so every count below is exact.
cluster_up "$D" --shards 1 --http-port "$P" \
  --http-opt rate_lookup=0.001 --http-opt burst_lookup=5 --http-opt rate_upload=0.001 \
  --http-opt burst_upload=2 --http-opt trusted_proxies=127.0.0.1 \
  --http-opt 'metrics_allow=127.0.0.1 192.0.2.0/28' ||
  { not_ok "cluster starts"; finish; }
U=http://127.0.0.1:$P
burst() { # n headers... -> status codes, one per line
  local n=$1; shift
  for _ in $(seq 1 "$n"); do curl -s -o /dev/null -w '%{http_code}\n' "$@"; done
}
burst 12 -H 'X-Forwarded-For: 192.0.2.1' "$U/pks/lookup?op=get&search=0x0000000000000001" >"$D/a"
check "a client within its burst is served (first 5 answered 404)" test "$(head -5 "$D/a" | sort -u)" = 404
check "the same client past its burst gets 429 (the other 7)" test "$(tail -n +6 "$D/a" | sort -u)" = 429
curl -s -D - -o /dev/null -H 'X-Forwarded-For: 192.0.2.1' "$U/pks/lookup?op=get&search=0x0000000000000001" |
  tr -d '\r' >"$D/h"
ra=$(sed -n 's/^[Rr]etry-[Aa]fter: \([0-9][0-9]*\)$/\1/p' "$D/h")
check "429 carries Retry-After: the seconds until a token is back (${ra:-none}, at most 1001)" \
  test "${ra:-0}" -ge 1 -a "${ra:-0}" -le 1001
check "another client behind the trusted proxy is not limited" \
  test "$(burst 1 -H 'X-Forwarded-For: 192.0.2.2' "$U/pks/lookup?op=get&search=0x0000000000000001")" = 404
burst 4 -H 'X-Forwarded-For: 192.0.2.3' --data 'keytext=x' "$U/pks/add" >"$D/u"
check "uploads have their own, smaller budget (2 answered, then 429)" \
  test "$(tr '\n' ' ' <"$D/u")" = "400 400 429 429 "
check "uploads over budget do not eat the lookup budget" \
  test "$(burst 1 -H 'X-Forwarded-For: 192.0.2.3' "$U/pks/lookup?op=get&search=0x0000000000000001")" = 404
check "/metrics: the proxy itself may read it (200)" test "$(http_code "$U/metrics")" = 200
check "/metrics: a client inside metrics_allow behind the proxy (200)" \
  test "$(http_code -H 'X-Forwarded-For: 192.0.2.9' "$U/metrics")" = 200
body=$(curl -s -H 'X-Forwarded-For: 192.0.2.99' "$U/metrics")
code=$(http_code -H 'X-Forwarded-For: 192.0.2.99' "$U/metrics")
check "/metrics: a client outside metrics_allow gets 403 and no counters ($code: $body)" \
  bash -c "test '$code' = 403 && ! grep -q oks_http <<<'$body'"
finish
