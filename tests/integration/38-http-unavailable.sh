#!/usr/bin/env bash
# The gateway when the cluster is partly or wholly down: with one shard killed, /pks/health is
# 503 and each lookup is either served (keys of the live shard) or 503 with Retry-After (keys
# of the dead one) — never 502, never a hang; with the router killed too, lookups and adds are
# 503 with Retry-After within the deadline, and the gateway itself keeps answering.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; rm -rf "$D"; }
trap cleanup EXIT
KR=/usr/share/keyrings/debian-maintainers.gpg
P=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --deadline-ms 1000 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
OKS_CONFIG=$D/oks.conf "$OKS_BIN/oksctl" import --quiet "$KR" >/dev/null
U=http://127.0.0.1:$P
# every 10th key (the keyring's first 24 keys all sit on one shard)
mapfile -t FPRS < <(gpg --homedir "$G" --no-default-keyring --keyring "$KR" --with-colons \
  --list-keys 2>/dev/null | awk -F: '$1=="pub"{p=1} $1=="fpr"&&p{print $10; p=0}' | awk 'NR % 10 == 1')
code() { curl -s -m 15 -o /dev/null -D "$D/h" -w '%{http_code}' "$@"; }
check "health is 200 with every shard up" test "$(code "$U/pks/health")" = 200

kill -9 "$(cat "$D/run/shard-s1.pid")"
check "health is 503 with shard s1 down" test "$(code "$U/pks/health")" = 503
served=0 unavail=0 other=""
for f in "${FPRS[@]}"; do
  c=$(code "$U/pks/lookup?op=get&options=mr&search=0x$f")
  case $c in
    200) served=$((served + 1)) ;;
    503) grep -qi '^retry-after: [0-9]' "$D/h" && unavail=$((unavail + 1)) || other+=" 503-without-Retry-After" ;;
    *) other+=" $c" ;;
  esac
done
echo "# ${#FPRS[@]} lookups: $served served, $unavail unavailable, other:${other:- none}"
check "every lookup is 200 or 503 with Retry-After (${#FPRS[@]} keys)" test -z "$other" -a "${#FPRS[@]}" -ge 20
check "keys of the live shard are still served ($served)" test "$served" -gt 0
check "keys of the dead shard get 503 ($unavail)" test "$unavail" -gt 0

kill -9 "$(cat "$D/run/router.pid")"
check "with the router down a lookup is 503" test "$(code "$U/pks/lookup?op=get&search=0x${FPRS[0]}")" = 503
check "... with Retry-After" grep -qi '^retry-after: [0-9]' "$D/h"
gpg --homedir "$G" --no-default-keyring --keyring "$KR" --armor --export "${FPRS[0]}" >"$D/k.asc" 2>/dev/null
check "with the router down an add is 503" \
  test "$(code --data-urlencode keytext@"$D/k.asc" "$U/pks/add")" = 503
check "with the router down health is 503" test "$(code "$U/pks/health")" = 503
check "the gateway itself keeps answering (/metrics 200)" test "$(code "$U/metrics")" = 200
check "the 503s are counted in /metrics" \
  bash -c "curl -s '$U/metrics' | grep -q 'oks_http_requests_total{op=\"get\",status=\"503\"}'"
finish
