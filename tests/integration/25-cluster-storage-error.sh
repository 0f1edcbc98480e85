#!/usr/bin/env bash
# A storage error is an error, never a missing key. A shard's LevelDB table file is damaged on
# disk while the shard is stopped (its data blocks inverted; index and footer intact, so the
# table still opens); after the restart a lookup of a key stored in that table is answered as a
# storage failure with LevelDB's reason: HTTP 500 (not 404) over HKP and VKS, STATUS_INTERNAL
# from oksctl, the reason in the shard's and the gateway's logs; a search whose index entries
# are in that table fails the same way. A key stored after the damage, in a table of its own, is
# still served (a lookup by fingerprint reads the damaged table only where its Bloom filter
# says the key may be).
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; rm -rf "$D"; }
trap cleanup EXIT
CTL=$OKS_BIN/oksctl
P=$(free_port)
U=http://127.0.0.1:$P
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 1 --http-port "$P" >/dev/null ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
OLD=/usr/share/keyrings/debian-archive-keyring.gpg NEW=/usr/share/keyrings/debian-role-keys.gpg
OLD_FPR=$("$CTL" inspect "$OLD" | awk -F: '$1=="pub"{print $2; exit}')
NEW_FPR=$("$CTL" inspect "$NEW" | awk -F: '$1=="pub"{print $2; exit}')
code() { curl -s -m 15 -o "$D/body" -w '%{http_code}' "$@"; }

stop_shard() {
  local pid
  pid=$(cat "$D/run/shard-s0.pid")
  kill "$pid"
  wait_for 30 bash -c "! kill -0 $pid"
}
restart_shard() { bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" >/dev/null; }

"$CTL" import --quiet "$OLD" >/dev/null
check "the first keyring is served before the damage" \
  test "$(code "$U/pks/lookup?op=get&options=mr&search=0x$OLD_FPR")" = 200
# a restart turns the write-ahead log into a table file: the first keyring's keys are in it
stop_shard && restart_shard || { not_ok "shard s0 restarts"; finish; }
"$CTL" import --quiet "$NEW" >/dev/null # in the log, then (next restart) in a table of its own
stop_shard || { not_ok "shard s0 stops"; finish; }
mapfile -t TABLES < <(ls "$D/data/s0"/*.ldb 2>/dev/null)
check "one table file holds the first keyring (${#TABLES[@]})" test "${#TABLES[@]}" -eq 1
n=$(/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/corrupt_ldb.py" "${TABLES[0]}") ||
  { not_ok "table file damaged"; finish; }
echo "# damaged $n bytes of ${TABLES[0]##*/}"
restart_shard || { not_ok "shard s0 restarts with a damaged table"; finish; }

c=$(code "$U/pks/lookup?op=get&options=mr&search=0x$OLD_FPR")
sed 's/^/# /' "$D/body"
check "HKP op=get of a key in the damaged table is 500, not 404 ($c)" test "$c" = 500
check "... and the answer names the storage failure" grep -qi 'corruption\|checksum' "$D/body"
c=$(code "$U/pks/lookup?op=index&options=mr&search=0x$OLD_FPR")
check "HKP op=index of it is 500 ($c)" test "$c" = 500
c=$(code "$U/vks/v1/by-fingerprint/$OLD_FPR")
check "VKS by-fingerprint of it is 500 ($c)" test "$c" = 500
"$CTL" get --mr "$OLD_FPR" >/dev/null 2>"$D/ctl.err"; rc=$?
sed 's/^/# /' "$D/ctl.err"
check "oksctl get fails (exit $rc, not 3 = not found)" test "$rc" -eq 1
check "... printing STATUS_INTERNAL and the reason" \
  bash -c "grep -q STATUS_INTERNAL '$D/ctl.err' && grep -qi 'corruption\|checksum' '$D/ctl.err'"
check "the shard's log names the reason" \
  grep -qi 'key read failed: .*corruption' "$D/log/shard-s0.log"
check "the gateway's log names the reason" \
  grep -qi '500: STATUS_INTERNAL: .*corruption' "$D/log/gw-http.log"
c=$(code "$U/pks/lookup?op=get&options=mr&search=0x$NEW_FPR")
check "a key stored after the damage is still served ($c)" test "$c" = 200
c=$(code "$U/pks/lookup?op=index&options=mr&search=archive+signing")
check "a search through index entries in the damaged table is 500 ($c)" test "$c" = 500
finish
