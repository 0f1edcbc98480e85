#!/usr/bin/env bash
# Tombstones with replicas ([cluster] replicas = 2, three shards): a delete made while one
# replica of the key's slot is down is acknowledged, and the replica that comes back (still
# holding the key) loses it; an upload of the key over HTTP is refused with the operator's
# reason and stores nothing; an SKS 1.1.6 partner that keeps offering the key through recon does
# not bring it back (the sync worker fetches it once, the shards refuse it, and later rounds leave
# it alone); undelete lets uploads in again; the audit log names the admin key and the reason of
# the delete and the undelete; a gateway's key may neither delete nor undelete; tombstones are
# not counted as keys.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
SYNC_PID=""
cleanup() {
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  rm -rf "$D"
}
at_exit cleanup
CTL=$OKS_BIN/oksctl
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
export -f tool
K=/usr/share/keyrings
HTTP=$(free_port)
cluster_up "$D/c" --shards 3 --replicas 2 --http-port "$HTTP" || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
pid_of() { cat "$D/c/run/shard-$1.pid"; }
"$CTL" import --quiet "$K/debian-role-keys.gpg" "$K/debian-nonupload.gpg" >/dev/null 2>&1
check "every replica of every slot holds the same keys" wait_for 60 tool converged "$OKS_CONFIG"
F=$(gpg --batch --with-colons --show-keys "$K/debian-role-keys.gpg" 2>/dev/null |
  awk -F: '$1 == "pub" { p = 1; next } p && $1 == "fpr" { print $10; exit }')
GH=$(mktemp -d "$D/gpg.XXXX")
gpg --homedir "$GH" --batch --no-default-keyring --keyring "$K/debian-role-keys.gpg" --export \
  --armor "$F" >"$D/key.asc" 2>/dev/null
mapfile -t HOLDERS < <(tool where "$OKS_CONFIG" "$F")
check "two replicas store $F (${HOLDERS[*]})" test "${#HOLDERS[@]}" -eq 2
before=$("$CTL" stats | awk '/^total keys:/{print $3}')

# ---- delete with one replica down --------------------------------------------------------------
DOWN=${HOLDERS[1]}
kill -9 "$(pid_of "$DOWN")"
"$CTL" delete --reason "compromised key, reported by its owner" "$F" >"$D/del" 2>&1
rc=$?
sed 's/^/# /' "$D/del"
check "the delete with $DOWN down is acknowledged (exit $rc)" test "$rc" -eq 0
check "  ... and says which replica gets it later" grep -q "not yet on every replica.*$DOWN" "$D/del"
check "the replica that was up no longer stores it" test -z "$(tool where "$OKS_CONFIG" "$F" 2>/dev/null)"
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "$DOWN is back" wait_for 30 bash -c "'$CTL' stats | grep -q '^$DOWN .* yes '"
check "$DOWN (which still held the key) got the tombstone from its peer's change log" \
  wait_for 60 bash -c "'$CTL' tombstones --shard '$DOWN' | grep -q '^$F deleted'"
check "no replica stores the key any more" test -z "$(tool where "$OKS_CONFIG" "$F")"
check "every replica of every slot holds the same keys again" wait_for 60 tool converged "$OKS_CONFIG"
after=$("$CTL" stats | awk '/^total keys:/{print $3}')
check "stats count one key less, the tombstone not at all ($before -> $after)" \
  test "$after" -eq $((before - 1))
"$CTL" tombstones >"$D/tombs"
sed 's/^/# /' "$D/tombs"
check "oksctl tombstones lists it once with the admin key and the reason" \
  test "$(grep -c "^$F deleted .* admin compromised key, reported by its owner$" "$D/tombs")" -eq 1

# ---- uploads are refused -----------------------------------------------------------------------
code=$(curl -s -m 30 -o "$D/up1" -w '%{http_code}' --data-urlencode "keytext@$D/key.asc" \
  "http://127.0.0.1:$HTTP/pks/add")
sed 's/^/# /' "$D/up1"
check "an HTTP upload of the key is refused ($code) with the reason" \
  bash -c "[ '$code' = 422 ] && grep -q 'rejected: deleted by the operator: compromised key' '$D/up1'"
check "  ... and stored nowhere" test -z "$(tool where "$OKS_CONFIG" "$F")"
code=$(http_code -m 30 "http://127.0.0.1:$HTTP/pks/lookup?op=get&search=0x$F")
check "a lookup does not find it ($code)" test "$code" = 404

# ---- an SKS partner keeps offering it ----------------------------------------------------------
hkp=$(free_port); recon=$(free_port); mine=$(free_port)
if SKS_PARTNERS=$mine SKS_GOSSIP_SECONDS=2 sks_start "$D/sks" "$hkp" "$recon" \
  "$K/debian-role-keys.gpg" >/dev/null; then
  "$OKS_BIN/oks-sync" run -c "$OKS_CONFIG" --tree "$D/tree" --recon-port "$mine" \
    --http-port "$HTTP" --partner "127.0.0.1:$recon" --gossip-seconds 2 --stats "$D/stats" \
    --log "$D/sync.log" &
  SYNC_PID=$!
  check "recon fetched the key SKS offers and the shards refused it" \
    wait_for 120 grep -Eq " ok fetch=1 ignored=0 fetched=1 added=0 " "$D/stats"
  n=$(wc -l <"$D/stats")
  wait_for 60 bash -c "[ \$(tail -n +$((n + 1)) '$D/stats' | grep -c ' ok ') -ge 2 ]"
  tail -n +$((n + 1)) "$D/stats" | sed 's/^/# /' | head -4
  check "later rounds leave it alone (in the ignore set: ignored=1 fetched=0)" \
    bash -c "tail -n +$((n + 1)) '$D/stats' | grep ' ok ' >'$D/later' && [ -s '$D/later' ] &&
             ! grep -qv ' ok fetch=1 ignored=1 fetched=0 ' '$D/later'"
  kill "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null; SYNC_PID=""
  check "after the recon rounds no replica stores it" test -z "$(tool where "$OKS_CONFIG" "$F")"
else
  not_ok "SKS started"
fi

# ---- who may delete ----------------------------------------------------------------------------
sed "s|^admin_key = .*|admin_key = $D/c/keys/http|" "$OKS_CONFIG" >"$D/gw.conf"
out=$(timeout 60 "$CTL" undelete -c "$D/gw.conf" --reason "gateway tries" "$F" 2>&1); rc=$?
check "a gateway's key may not undelete ($rc: $out)" \
  bash -c "[ $rc -ne 0 ] && grep -q FORBIDDEN <<<'$out'"
out=$(timeout 60 "$CTL" delete -c "$D/gw.conf" --reason "gateway tries" "$F" 2>&1); rc=$?
check "a gateway's key may not delete ($rc)" bash -c "[ $rc -ne 0 ] && grep -q FORBIDDEN <<<'$out'"
check "oksctl refuses a delete without a reason" bash -c "! '$CTL' delete '$F' 2>/dev/null"

# ---- undelete ----------------------------------------------------------------------------------
check "undelete is acknowledged" "$CTL" undelete --reason "owner got the key back" "$F"
code=$(curl -s -m 30 -o "$D/up2" -w '%{http_code}' --data-urlencode "keytext@$D/key.asc" \
  "http://127.0.0.1:$HTTP/pks/add")
check "after the undelete an HTTP upload is accepted ($code)" \
  bash -c "[ '$code' = 200 ] && grep -q '^$F new' '$D/up2'"
check "  ... and reaches both replicas" \
  wait_for 30 bash -c '[ "$(tool where "$OKS_CONFIG" "'"$F"'" | wc -l)" -eq 2 ]'
check "oksctl tombstones no longer lists it; --all shows it lifted" \
  bash -c "! '$CTL' tombstones | grep -q '^$F' && '$CTL' tombstones --all | grep -q '^$F lifted .* owner got the key back'"

# ---- the audit log -----------------------------------------------------------------------------
A=$D/c/log/audit.log
grep -E "op=(delete|undelete)" "$A" | sed 's/^/# /' | head -12
check "the audit log has the delete with the admin key and the reason" \
  grep -q "who=admin role=admin op=delete target=$F outcome=STATUS_OK reason=\"compromised key, reported by its owner\"" "$A"
check "the audit log has the undelete with the admin key and the reason" \
  grep -q "who=admin role=admin op=undelete target=$F outcome=STATUS_OK reason=\"owner got the key back\"" "$A"
check "the audit log has the gateway's refused attempts" \
  bash -c "grep -q 'who=http role=http op=delete target=$F outcome=refused reason=\"gateway tries\"' '$A' &&
           grep -q 'who=http role=http op=undelete target=$F outcome=refused' '$A'"
check "no process of the cluster died" \
  bash -c "for f in '$D'/c/run/*.pid; do kill -0 \$(cat \$f) || exit 1; done"
finish
