#!/usr/bin/env bash
# Replica repair by full comparison ([cluster] replicas = 2, three shards, [shard]
# changelog_keep = 20 so the change logs hold far less than what was written): a replica
# stopped while more than its peers' logs hold is written catches up by comparing slot digests
# when it finds the gap; a replica whose data directory is wiped rebuilds itself from its peers
# to equality, key by key (the SKS hashes of every replica of every slot), tombstones included;
# oksctl repair starts a comparison on demand; a rebuild killed (-9) part way finishes after a
# restart.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
K=/usr/share/keyrings
cluster_up "$D/c" --shards 3 --replicas 2 --shard-opt changelog_keep=20 \
  --shard-opt repair_interval_s=0 || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
pid_of() { cat "$D/c/run/shard-$1.pid"; }
log_from() { tail -n +"$2" "$D/c/log/shard-$1.log"; } # SHARD LINE
lines() { echo $(($(wc -l <"$D/c/log/shard-$1.log") + 1)); }
"$CTL" import --quiet "$K/debian-role-keys.gpg" "$K/debian-maintainers.gpg" >/dev/null 2>&1
check "every replica of every slot holds the same keys after the first import" \
  wait_for 60 tool converged "$OKS_CONFIG"

# ---- a replica down while its peers' logs roll over ---------------------------------------------
kill -9 "$(pid_of s1)"
"$CTL" import --quiet --retries 0 "$K/debian-keyring.gpg" >"$D/imp" 2>&1
sed 's/^/# /' "$D/imp"
F=$(gpg --batch --with-colons --show-keys "$K/debian-keyring.gpg" 2>/dev/null |
  awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { print $10; exit }')
check "a delete with s1 down is acknowledged" "$CTL" delete --reason "repair test" "$F"
n=$(lines s1)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "s1 found that its peers' logs no longer cover what it missed" \
  wait_for 60 bash -c "tail -n +$n '$D/c/log/shard-s1.log' | grep -q 'starts at .*after our cursor.*full comparison'"
check "s1 caught up by comparison: every replica of every slot holds the same SKS hashes" \
  wait_for 180 tool converged "$OKS_CONFIG"
log_from s1 "$n" | grep "repair with" | sed 's/^/# /'
check "  ... copying more keys than the logs hold" \
  bash -c "tail -n +$n '$D/c/log/shard-s1.log' | grep -Eq 'repair with s[02] done: .* [0-9]{3,} keys copied'"
total=$("$CTL" stats | awk '/^total keys:/{print $3}')

# ---- a wiped replica -------------------------------------------------------------------------
kill "$(pid_of s2)"
wait_for 30 bash -c "! kill -0 $(pid_of s2)"
rm -rf "$D/c/data/s2"
n=$(lines s2)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "the wiped s2 compared itself with both its peers" \
  wait_for 180 bash -c "tail -n +$n '$D/c/log/shard-s2.log' | grep -q 'repair with s0 done' &&
                        tail -n +$n '$D/c/log/shard-s2.log' | grep -q 'repair with s1 done'"
log_from s2 "$n" | grep -E "repair with|following" | sed 's/^/# /'
check "s2 rebuilt to equality: every replica of every slot holds the same SKS hashes" \
  wait_for 120 tool converged "$OKS_CONFIG"
tool converged "$OKS_CONFIG" | sed 's/^/# /'
check "the cluster still counts $total keys" \
  test "$("$CTL" stats | awk '/^total keys:/{print $3}')" -eq "$total"
holders=$(tool where "$OKS_CONFIG" "$F")
check "the deleted key stays deleted" test -z "$holders"
for s in s0 s1 s2; do
  "$CTL" tombstones --shard "$s" >"$D/t.$s" 2>&1
done
check "the tombstone is on both replicas of its slot, the rebuilt one included" \
  test "$(cat "$D"/t.s* | grep -c "^$F deleted .* repair test$")" -eq 2

# ---- on demand -------------------------------------------------------------------------------
n=$(lines s0)
out=$("$CTL" repair s0 2>&1)
check "oksctl repair s0 is answered at once ($out)" grep -q "repair started" <<<"$out"
check "  ... and s0 compares with both peers, finding nothing to copy" \
  wait_for 60 bash -c "[ \$(tail -n +$n '$D/c/log/shard-s0.log' | grep -c 'repair with s[12] done: .* 0 differed, 0 keys copied') -eq 2 ]"
sed "s|^admin_key = .*|admin_key = $D/c/keys/http|" "$OKS_CONFIG" >"$D/gw.conf"
check "a gateway's key may not start a repair" bash -c "! '$CTL' repair -c '$D/gw.conf' s0 2>/dev/null"
# ---- a rebuild killed part way ----------------------------------------------------------------
# s2 is wiped again and killed (-9) as soon as it has stored some of its keys; started again, it
# finishes the rebuild (its store is no longer empty: its peers' pruned logs lead it to compare)
s2keys() { "$CTL" stats 2>/dev/null | awk '$1 == "s2" && $2 == "yes" { print $3 }'; }
want=$(s2keys)
kill "$(pid_of s2)"
wait_for 30 bash -c "! kill -0 $(pid_of s2)"
rm -rf "$D/c/data/s2"
n=$(lines s2)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
for _ in $(seq 1 3000); do [ "$(s2keys)" ] && [ "$(s2keys)" -gt 0 ] && break; done
kill -9 "$(pid_of s2)"
at_kill=$(tail -n +"$n" "$D/c/log/shard-s2.log" | grep -c "repair with s[01] done")
echo "# s2 killed with $at_kill of 2 comparisons done (of $want keys it holds)"
m=$(lines s2)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "s2 killed during its rebuild and started again holds the same SKS hashes as its peers" \
  wait_for 180 tool converged "$OKS_CONFIG"
log_from s2 "$m" | grep -E "repair with|full comparison|following" | sed 's/^/# /'
check "  ... and as many keys as before it was wiped" test "$(s2keys)" -eq "$want"
check "the deleted key is still deleted after the killed rebuild" \
  test -z "$(tool where "$OKS_CONFIG" "$F")"
check "no process of the cluster died" \
  bash -c "for f in '$D'/c/run/*.pid; do kill -0 \$(cat \$f) || exit 1; done"
finish
