#!/usr/bin/env bash
# A fingerprint that is one key's primary and another key's subkey: key B's primary key packet
# is key A's subkey (same body, same fingerprint F), each with its own certified user ID
# (helpers/make_subkey_twin.py). A lookup by F finds both keys, B (the primary match) first,
# just as a lookup by F's key ID does: HKP op=index and op=get, VKS by-fingerprint and oksctl
# get. Checked with A and B on different shards and on the same shard of a two-shard cluster.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
CTL=$OKS_BIN/oksctl
P=$(free_port)
U=http://127.0.0.1:$P
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
# "pub:FPR" lines of an answer, in order (index lines, or keys read back by oksctl inspect)
pubs() { awk -F: '$1=="pub"{print toupper($2)}' "$1" | paste -sd' '; }

for where in other same; do
  mkdir -p "$D/$where"
  read -r A F < <(/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/make_subkey_twin.py" \
    "$D/$where" "$where") || { not_ok "twin keys made ($where shard)"; continue; }
  echo "# $where shard: A $A with subkey F $F; B has primary F"
  "$CTL" import --quiet "$D/$where/a.pgp" "$D/$where/b.pgp" >/dev/null
  want="$F $A"
  curl -s -m 15 "$U/pks/lookup?op=index&options=mr&search=0x${F:24}" >"$D/kid.txt"
  check "$where shard: op=index by F's key ID lists B and A ($(pubs "$D/kid.txt"))" \
    test "$(tr ' ' '\n' <<<"$(pubs "$D/kid.txt")" | sort | paste -sd' ')" = \
         "$(tr ' ' '\n' <<<"$want" | sort | paste -sd' ')"
  curl -s -m 15 -D "$D/h" "$U/pks/lookup?op=index&options=mr&search=0x$F" >"$D/idx.txt"
  check "$where shard: op=index by F lists B first, then A ($(pubs "$D/idx.txt"))" \
    test "$(pubs "$D/idx.txt")" = "$want"
  check "$where shard: ... with X-HKP-Results-Count 2" grep -qi '^x-hkp-results-count: 2' "$D/h"
  curl -s -m 15 "$U/pks/lookup?op=get&options=mr&search=0x$F" >"$D/get.asc"
  "$CTL" inspect "$D/get.asc" >"$D/get.txt" 2>/dev/null
  check "$where shard: op=get by F returns B and A ($(pubs "$D/get.txt"))" \
    test "$(pubs "$D/get.txt")" = "$want"
  curl -s -m 15 "$U/vks/v1/by-fingerprint/$F" >"$D/vks.asc"
  "$CTL" inspect "$D/vks.asc" >"$D/vks.txt" 2>/dev/null
  check "$where shard: VKS by-fingerprint F returns B and A ($(pubs "$D/vks.txt"))" \
    test "$(pubs "$D/vks.txt")" = "$want"
  "$CTL" get --mr "$F" >"$D/ctl.txt" 2>&1
  check "$where shard: oksctl get F prints B and A ($(pubs "$D/ctl.txt"))" \
    test "$(pubs "$D/ctl.txt")" = "$want"
  curl -s -m 15 "$U/pks/lookup?op=index&options=mr&search=0x$A" >"$D/a.txt"
  check "$where shard: op=index by A's fingerprint lists A only ($(pubs "$D/a.txt"))" \
    test "$(pubs "$D/a.txt")" = "$A"
done
c=$(curl -s -m 15 -o /dev/null -w '%{http_code}' \
  "$U/pks/lookup?op=get&options=mr&search=0x0123456789ABCDEF0123456789ABCDEF01234567")
check "an unknown fingerprint is still 404 ($c)" test "$c" = 404
finish
