#!/usr/bin/env bash
# Per-client rate limits: lookups and uploads limited separately with 429 + Retry-After; the
# client taken from X-Forwarded-For only when the peer is a configured proxy, IPv6 clients per
# /64. The signature work uploads cause is charged to the client before the keys go on. /metrics
# only for the networks of metrics_allow, judged on that same client.
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
  --http-opt 'metrics_allow=127.0.0.1 192.0.2.0/28' \
  --http-opt rate_verify=0.001 --http-opt burst_verify=5000 ||
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
burst 6 -H 'X-Forwarded-For: 2001:db8:5:6::1' "$U/pks/lookup?op=get&search=0x0000000000000001" >"$D/v6a"
burst 1 -H 'X-Forwarded-For: 2001:db8:5:6:ffff::2' "$U/pks/lookup?op=get&search=0x0000000000000001" >"$D/v6b"
check "IPv6 clients share one budget per /64: 5 answered, then 429 for another address of it" \
  test "$(cat "$D/v6a" "$D/v6b" | tr '\n' ' ')" = "404 404 404 404 404 429 429 "
check "... while the next /64 has its own" \
  test "$(burst 1 -H 'X-Forwarded-For: 2001:db8:5:7::1' "$U/pks/lookup?op=get&search=0x0000000000000001")" = 404
# signature work: an RSA-4096 key with 1,000 self-certifications whose digest prefixes match
# costs 4,000 units (4 per RSA-4096 check); the budget is 5,000
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/make_hostile.py" heavy "$D/heavy.pgp" 1000
gpg --enarmor <"$D/heavy.pgp" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/' >"$D/heavy.asc"
up() { curl -s -o "$D/up.out" -w '%{http_code}' -H "X-Forwarded-For: $1" --data-urlencode "keytext@$D/heavy.asc" "$U/pks/add"; }
c1=$(up 192.0.2.40); c2=$(up 192.0.2.40)
check "a costly upload is worked through (422: no valid self-signature), the next one refused ($c1 $c2)" \
  test "$c1 $c2" = "422 429"
check "... with a 429 that names the signature work" grep -q 'verification work' "$D/up.out"
c3=$(up 192.0.2.41)
check "another client's costly upload is still worked through ($c3)" test "$c3" = 422
finish
