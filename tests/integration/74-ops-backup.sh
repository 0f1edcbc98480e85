#!/usr/bin/env bash
# oksctl backup / restore (docs/operations.md "Backup and restore"), on a 2-shard cluster with
# CURVE keys:
# - keys imported (acknowledged), then shard s0 backed up while another import runs;
# - the backup restored into a fresh data directory, shard s0 restarted on it: every key
#   acknowledged before the backup is there with the same SKS hash, nothing unknown appears,
#   and the restored shard's counters agree with its keys;
# - the same through a pipe (backup --out - | restore --in -);
# - a corrupted or truncated backup is refused with a clear error and leaves nothing behind;
#   restore refuses a data directory that is not empty;
# - a non-admin key (a router's, without an admin's authority) is refused, logged and audited.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
C=$D/c
K=/usr/share/keyrings
cluster_up "$C" --shards 2 || { not_ok "cluster starts"; finish; }
ok "2-shard cluster with CURVE keys starts"
CONF=$C/oks.conf
export OKS_CONFIG=$CONF

BEFORE=("$K/debian-archive-keyring.gpg" "$K/debian-role-keys.gpg" "$K/debian-nonupload.gpg")
DURING=("$K/debian-maintainers.gpg")
"$CTL" import --quiet "${BEFORE[@]}" >"$D/import1.txt" 2>&1
check "keys imported before the backup" test $? -eq 0
# fingerprint + SKS hash of every key the cluster acknowledged before the backup
hashes() { # DIR OUT: the export of the cluster, as "FPR HASH" lines, sorted
  rm -rf "$1"
  "$CTL" export "$1" >/dev/null || return 1
  "$CTL" inspect --json "$1"/*.pgp 2>/dev/null |
    /usr/bin/python3 -c 'import sys,json
for l in sys.stdin:
    j=json.loads(l); print(j["fingerprint"], j["sks_hash"])' | sort >"$2"
}
hashes "$D/e1" "$D/acked"
check "acknowledged keys listed ($(wc -l <"$D/acked"))" test "$(wc -l <"$D/acked")" -gt 20
"$CTL" inspect --no-verify --json "${DURING[@]}" 2>/dev/null |
  /usr/bin/python3 -c 'import sys,json
for l in sys.stdin: print(json.loads(l)["fingerprint"])' | sort -u >"$D/during-fprs"

# ---- a backup of live shard s0 while an import runs (bounded: one keyring)
"$CTL" import --quiet "${DURING[@]}" >"$D/import2.txt" 2>&1 &
IMP=$!
"$CTL" backup --shard s0 --out "$D/bk" 2>"$D/backup.err"
rc=$?
check "oksctl backup of s0 exits 0 while an import runs ($(cat "$D/backup.err"))" test "$rc" -eq 0
wait "$IMP"
check "the concurrent import exits 0" test $? -eq 0
check "the backup is one file" test -s "$D/bk/backup.oks"
check "the shard logged the snapshot" grep -q "backup 1: snapshot taken" "$C/log/shard-s0.log"
check "the shard released it after the last page" \
  grep -q "backup 1: last page read, snapshot released" "$C/log/shard-s0.log"
check "the backup is audited with the admin key" \
  grep -q "who=admin_(direct) role=admin op=backup .*outcome=STATUS_OK" "$C/log/audit.log"

# ---- corrupted backups are refused; nothing is left behind
cp "$D/bk/backup.oks" "$D/good.oks"
mkdir -p "$D/bad"
cp "$D/good.oks" "$D/bad/backup.oks"
SZ=$(stat -c %s "$D/bad/backup.oks")
printf '\x5a' | dd of="$D/bad/backup.oks" bs=1 seek=$((SZ / 2)) conv=notrunc status=none
out=$("$CTL" restore --in "$D/bad" --data "$D/r-bad" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -qE "checksum mismatch|damaged|truncated" <<<"$out"; then
  ok "a backup with one byte changed is refused ($out)"
else not_ok "a corrupted backup is refused (exit $rc: $out)"; fi
check "  ... and no data directory is created" test ! -e "$D/r-bad"
out=$(head -c $((SZ - 40)) "$D/good.oks" | "$CTL" restore --in - --data "$D/r-trunc" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -qE "truncated|checksum" <<<"$out"; then
  ok "a truncated backup on stdin is refused ($out)"
else not_ok "a truncated backup on stdin is refused (exit $rc: $out)"; fi
check "  ... and what was written is removed" test ! -e "$D/r-trunc"
printf 'OKSBACKP\0\0\0\x09' >"$D/v9"
out=$("$CTL" restore --in - --data "$D/r-v9" <"$D/v9" 2>&1)
check "a backup of an unknown format version is refused ($out)" grep -q "version" <<<"$out"
mkdir -p "$D/full" && touch "$D/full/x"
out=$("$CTL" restore --in "$D/bk" --data "$D/full" 2>&1)
check "restore refuses a data directory that is not empty" grep -q "not empty" <<<"$out"

# ---- a non-admin key is refused
sed "s|^admin_key = .*|admin_key = $C/keys/router|" "$CONF" >"$D/rtr.conf"
out=$("$CTL" backup -c "$D/rtr.conf" --shard s0 --out "$D/bk-rtr" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && grep -q "STATUS_FORBIDDEN" <<<"$out"; then
  ok "a router's key may not back up a shard"
else not_ok "a router's key may not back up a shard (exit $rc: $out)"; fi
check "  ... logged" grep -q "security: refused backup from key router" "$C/log/shard-s0.log"
check "  ... audited" grep -q "who=router role=router op=backup .*outcome=refused" "$C/log/audit.log"
check "  ... and no backup file is left" test ! -e "$D/bk-rtr/backup.oks"

# ---- restore into a fresh directory and run shard s0 on it
"$CTL" restore --in "$D/bk" --data "$D/s0-restored" 2>"$D/restore.err"
rc=$?
check "restore exits 0 ($(cat "$D/restore.err"))" test "$rc" -eq 0
"$CTL" backup --shard s0 --out - 2>/dev/null | "$CTL" restore --in - --data "$D/s0-pipe" 2>"$D/pipe.err"
rc=$?
check "backup --out - | restore --in - exits 0 ($(cat "$D/pipe.err"))" test "$rc" -eq 0
check "  ... the piped copy holds a LevelDB" test -e "$D/s0-pipe/CURRENT"

kill "$(cat "$C/run/shard-s0.pid")"
wait_for 60 bash -c "! kill -0 $(cat "$C/run/shard-s0.pid") 2>/dev/null"
mv "$C/data/s0" "$D/s0-old"
mv "$D/s0-restored" "$C/data/s0"
"$OKS_BIN/oks-shard" -c "$CONF" --name s0 --log "$C/log/shard-s0.log" >/dev/null 2>&1 &
echo $! >"$C/run/shard-s0.pid"
check "shard s0 answers on the restored data" wait_for 60 "$CTL" stats --shard s0
check "  ... and through the router" \
  wait_for 60 bash -c "'$CTL' stats 2>/dev/null | grep -q '^s0 *yes'"
hashes "$D/e2" "$D/after"
check "the cluster exports after the restore" test $? -eq 0 -a -s "$D/after"
missing=$(comm -23 "$D/acked" "$D/after" | wc -l)
check "every key acknowledged before the backup is back with its SKS hash ($missing missing)" \
  test "$missing" -eq 0
cut -d' ' -f1 "$D/acked" | sort >"$D/acked-fprs"
unknown=$(cut -d' ' -f1 "$D/after" | sort | comm -23 - "$D/acked-fprs" | comm -23 - "$D/during-fprs" | wc -l)
check "no key appears that was neither acknowledged nor being uploaded ($unknown)" test "$unknown" -eq 0
"$CTL" stats >"$D/stats.txt" 2>&1; sed "s/^/# /" "$D/stats.txt"
total=$(sed -n 's/^total keys: //p' "$D/stats.txt")
check "the counters agree with the keys after the restore ($total = $(wc -l <"$D/after"))" \
  test "$total" = "$(wc -l <"$D/after")"
finish
