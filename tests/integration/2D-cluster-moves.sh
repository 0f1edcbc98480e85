#!/usr/bin/env bash
# Online slot moves (docs/replicas.md "Slot moves"): two shards, every slot on both
# ([cluster] replicas = 2), the topology in a local etcd. Under an HTTP lookup and upload load
# and an import, a third shard is added and the slots rebalanced onto it, then s0 is removed
# (its slots moved away, then stopped): no client request fails, every acknowledged key is
# found, every replica of every slot holds the same SKS hashes, no shard keeps keys of slots it
# left (purged), op=stats counts every key once and names the shards with their keys; a key
# deleted before its slot moved stays deleted on the new replica; and of two moves made from
# the same epoch, one is refused. Every map change is in the router's audit log with the admin
# key's name (begun, then done or failed); a gateway's key may not move slots. Under the same
# load a replica is added to slots 100-199 (three holders, equal key by key) and one of the old
# ones removed (purged); at the end `oksctl slots replicas 1` lowers R online (one holder per
# slot, half on each shard, the copies purged, every key found and counted once) and `replicas 2`
# raises it again, resumed after its oksctl is killed during a copy. With s0 down, replicas 3 and
# an add-replica or a move to s0 are refused at once (nothing changed), a plan for 3 stops on
# --resume, a record naming slots the map lacks is refused; with s0 back, an add-replica and a
# replicas 3 killed during a copy are aborted: the map of before, s0's copies purged, every key
# found and counted once, the aborts audited. /pks/health
# counts coverage by the map in force, which the gateway's oks.conf no longer matches. However
# many maps were applied, the shards keep two in memory and the router one (replaced maps freed).
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
K=/usr/share/keyrings
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
L() { bash "$OKS_ROOT/deploy/local.sh" "$1" --dir "$D/c" "${@:2}"; }
[ -x /usr/bin/etcd ] || { not_ok "etcd is installed (deploy/deps.sh)"; finish; }
HTTP=$(free_port)
cluster_up "$D/c" --shards 2 --replicas 2 --etcd --deadline-ms 20000 --http-port "$HTTP" \
  --http-opt cache_mb=0 --http-opt rate_verify=0 || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
ROUTER=$(sed -n 's/^routers = //p' "$OKS_CONFIG")
epoch() { "$CTL" map show | sed -n 's/^; epoch \([0-9]*\) .*/\1/p'; }
check "the map is in etcd (epoch $(epoch))" test "$(epoch)" = 1

"$CTL" import --quiet --report "$D/r0" "$K/debian-maintainers.gpg" >/dev/null 2>&1
awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$D/r0" | sort -u >"$D/fprs0"
check "the import stored keys ($(wc -l <"$D/fprs0"))" test "$(wc -l <"$D/fprs0")" -gt 200

# a key deleted now, while its slot is on s0 and s1 only
X=$(head -1 "$D/fprs0")
"$CTL" get "$X" >"$D/x.asc" 2>/dev/null
"$CTL" delete --reason "moves test" "$X" >/dev/null 2>&1
check "a key is deleted before the moves" bash -c "! '$CTL' get '$X' >/dev/null 2>&1"
grep -v "^$X\$" "$D/fprs0" >"$D/fprs"

# ---- the load: HTTP lookups and uploads, an import ----------------------------------------------
OUT=$D/load
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/http_load.py" "http://127.0.0.1:$HTTP" \
  "$D/fprs" "$K/debian-nonupload.gpg" "$OUT" "$D/stop" &
LOAD=$!
at_exit kill "$LOAD"
# imports again and again until the moves are done (later rounds answer "unchanged": still
# acknowledged writes to every replica), each with its report
( i=0; while [ ! -e "$D/stop" ]; do
    i=$((i + 1))
    "$CTL" import --quiet --retries 0 --report "$D/r1.$i" "$K/debian-role-keys.gpg" \
      "$K/debian-nonupload.gpg" >/dev/null 2>&1 || exit 1
  done ) &
IMPORT=$!
at_exit kill "$IMPORT"
count() { grep -c "^$1 " "$OUT" 2>/dev/null || echo 0; }
wait_for 60 bash -c "[ \$(grep -c '^upload ' '$OUT' 2>/dev/null) -ge 10 ]"

# ---- a shard added, slots rebalanced onto it ------------------------------------------------------
L add-shard >"$D/add" 2>&1
rc=$?
sed 's/^/# /' "$D/add" | tail -4
check "add-shard added s2 and rebalanced (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^shard s2 added' '$D/add'"
"$CTL" stats >"$D/st1"
check "s2 holds a third of the slot copies" grep -q '^s2 .* yes .* 2730 ' "$D/st1"

# ---- a replica added to a range, then one removed, under the load --------------------------------
# holders FILE SLOT: the shards of a map holding SLOT, then (second line) the others
holders() { tool holders "$1" "$2"; }
"$CTL" map show | grep -v '^; slot move' >"$D/mapA.conf"
NEW=$(holders "$D/mapA.conf" 150 | sed -n '2{s/ .*//;p}')
OLD=$(holders "$D/mapA.conf" 150 | sed -n '1{s/ .*//;p}')
"$CTL" slots add-replica 100-199 --to "$NEW" >"$D/addr" 2>&1
rc=$?
sed 's/^/# /' "$D/addr"
check "add-replica 100-199 --to $NEW copied, then switched in one map change (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^slots 100-199 + $NEW: epoch [0-9]* copy\$' '$D/addr' &&
           grep -q '^slots 100-199 + $NEW: epoch [0-9]* switch\$' '$D/addr'"
"$CTL" map show | grep -v '^; slot move' >"$D/mapB.conf"
check "  ... slots 100-199 have three replicas ($(holders "$D/mapB.conf" 150 | head -1))" \
  test "$(holders "$D/mapB.conf" 100 | head -1 | wc -w) $(holders "$D/mapB.conf" 199 | head -1 | wc -w)" = "3 3"
check "  ... the three hold the same keys, key by key" wait_for 60 tool converged "$D/mapB.conf"
"$CTL" slots remove-replica 100-199 --from "$OLD" >"$D/rmr" 2>&1
rc=$?
sed 's/^/# /' "$D/rmr"
check "remove-replica 100-199 --from $OLD left in one map change, purged one epoch later (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^slots 100-199 - $OLD: epoch [0-9]* leave\$' '$D/rmr' &&
           grep -q '^slots 100-199 - $OLD: epoch [0-9]* done\$' '$D/rmr'"
"$CTL" map show | grep -v '^; slot move' >"$D/mapC.conf"
H100=$(holders "$D/mapC.conf" 100 | head -1)
H199=$(holders "$D/mapC.conf" 199 | head -1)
check "  ... slots 100-199 have two replicas, $NEW and not $OLD ($H100; $H199)" \
  bash -c "[ '$H100' = '$H199' ] && [ \$(wc -w <<<'$H100') = 2 ] && grep -qw '$NEW' <<<'$H100' &&
           ! grep -qw '$OLD' <<<'$H100'"
check "  ... $OLD purged the keys of the range" wait_for 60 tool placed "$D/mapC.conf"
A=$D/c/log/audit.log
check "  ... both audited with the admin key's name, begun and done" \
  bash -c "for w in 'op=add-replica target=- outcome=begun reason=.slots 100-199 + $NEW: copy' \
                    'op=add-replica target=- outcome=done reason=.slots 100-199 + $NEW: switch' \
                    'op=remove-replica target=- outcome=done reason=.slots 100-199 - $OLD: leave' \
                    'op=remove-replica target=- outcome=done reason=.slots 100-199 - $OLD: purge'; do
             grep -q \"who=admin role=admin \$w\" '$A' || exit 1
           done"
out=$("$CTL" slots remove-replica 100-199 --from "$OLD" 2>&1)
check "a replica that does not hold the slots cannot be removed ($(head -1 <<<"$out"))" \
  grep -q "refused: slot 100 is not held by $OLD" <<<"$out"

# ---- two moves from the same epoch: one is refused ------------------------------------------------
E=$(epoch)
"$CTL" slots --epoch "$E" move 10-19 --to s0 --from s2 >"$D/m1" 2>&1 &
M1=$!
"$CTL" slots --epoch "$E" move 20-29 --to s0 --from s2 >"$D/m2" 2>&1
rc2=$?
wait "$M1"
rc1=$?
sed 's/^/# /' "$D/m1" "$D/m2" | grep -i refused
check "of two moves from epoch $E one ran and one was refused (exits $rc1 $rc2)" \
  bash -c "[ \$(( $rc1 + $rc2 )) -eq 1 ] && grep -qi 'refused' '$D/m1' '$D/m2'"

# ---- topology changes need an admin key, and are audited ------------------------------------------
check "the audit log has add-shard with the admin key's name, begun and done" \
  bash -c "grep -q 'who=admin role=admin op=add-shard target=- outcome=begun reason=\"shard s2 ' '$A' &&
           grep -q 'who=admin role=admin op=add-shard target=- outcome=done reason=\"shard s2 ' '$A'"
check "the audit log has each step of the moves with the admin key's name ($(grep -c 'op=move .*outcome=done' "$A") done)" \
  bash -c "for s in copy switch purge; do
             grep -q \"who=admin role=admin op=move target=- outcome=begun reason=.slots [0-9]*-[0-9]* s[0-9] -> s[0-9]: \$s, epoch \" '$A' &&
             grep -q \"who=admin role=admin op=move target=- outcome=done reason=.slots [0-9]*-[0-9]* s[0-9] -> s[0-9]: \$s, epoch \" '$A' || exit 1
           done"
sed "s|^admin_key = .*|admin_key = $D/c/keys/http|" "$OKS_CONFIG" >"$D/gw.conf"
E=$(epoch)
out=$("$CTL" slots -c "$D/gw.conf" move 30-39 --to s0 --from s2 2>&1)
rc=$?
check "a gateway's key may not move slots (exit $rc: $(grep -o 'may not make [a-z]* requests' <<<"$out"))" \
  bash -c "[ $rc -ne 0 ] && grep -q 'may not make move requests' <<<'$out'"
check "  ... the map is unchanged (epoch $(epoch), was $E)" test "$(epoch)" = "$E"
check "  ... and the refusal is audited with the key's name" \
  grep -q "who=http role=http op=move target=- outcome=refused reason=.slots 30-39 s2 -> s0: copy" "$A"

# ---- s0 removed -------------------------------------------------------------------------------------
L remove-shard s0 >"$D/rm" 2>&1
rc=$?
sed 's/^/# /' "$D/rm" | tail -3
check "remove-shard moved the slots of s0 away and stopped it (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q '^shard s0 removed' '$D/rm' && ! test -e '$D/c/run/shard-s0.pid'"

touch "$D/stop"
wait "$IMPORT"
rc=$?
wait "$LOAD"
cat "$D"/r1.* >"$D/r1"
check "the imports under the moves succeeded (exit $rc, $(ls "$D"/r1.* | wc -l) rounds, $(awk '$2=="failed"' "$D/r1" | wc -l) keys failed)" \
  bash -c "[ $rc -eq 0 ] && ! awk '\$2==\"failed\"' '$D/r1' | grep -q ."
check "no HTTP request failed ($(count lookup) lookups, $(count upload) uploads)" \
  bash -c "! grep -qv '^[a-z]* 200 ' '$OUT'"

# ---- nothing lost, nothing twice -----------------------------------------------------------------
awk '$1=="upload" && $2==200 {print $4}' "$OUT" >"$D/acked"
awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$D/r1" >>"$D/acked"
sort -u "$D/fprs" "$D/acked" >"$D/all"
tool lookup "$ROUTER" "$D/all" >"$D/found" 2>/dev/null
check "every acknowledged key is found ($(head -1 "$D/found"))" \
  test "$(head -1 "$D/found")" = "found $(wc -l <"$D/all") missing 0 errors 0"
"$CTL" map show | grep -v '^; slot move' >"$D/map.conf"
check "no move is left under way" bash -c "! '$CTL' map show | grep -q 'slot move under way'"
check "every replica of every slot holds the same SKS hashes (map of epoch $(epoch))" \
  wait_for 60 tool converged "$D/map.conf"
check "no shard keeps keys of slots it left (purged)" wait_for 60 tool placed "$D/map.conf"
curl -s "http://127.0.0.1:$HTTP/pks/lookup?op=stats&options=mr" >"$D/stats.json"
check "op=stats counts every key once ($(wc -l <"$D/all") keys) and names s1 and s2 with their keys" \
  /usr/bin/python3 -c "
import json, sys
s = json.load(open('$D/stats.json'))
names = {x['name']: x['keys'] for x in s['shards']}
sys.exit(0 if s['total_keys'] == $(wc -l <"$D/all") and set(names) == {'s1', 's2'}
         and all(k > 0 for k in names.values()) else 1)"

# ---- the deleted key stayed deleted on the replica its slot moved to -------------------------------
check "the deleted key's slot moved to s2, with its tombstone" \
  bash -c "'$CTL' tombstones --shard s2 | grep -q '^$X deleted'"
code=$(curl -s -m 30 -o "$D/up" -w '%{http_code}' --data-urlencode "keytext@$D/x.asc" \
  "http://127.0.0.1:$HTTP/pks/add")
check "uploading the deleted key again is refused ($code)" \
  bash -c "[ '$code' = 422 ] && grep -q 'deleted by the operator' '$D/up'"
check "  ... and no shard stores it" test -z "$(tool where "$D/map.conf" "$X")"
check "every daemon still runs" bash -c "for f in '$D'/c/run/*.pid; do kill -0 \$(cat \$f) || exit 1; done"

# ---- R changed online: replicas 1 takes one replica from every range, spread over s1 and s2 ---------
"$CTL" slots replicas 1 >"$D/rep1" 2>&1
rc=$?
sed 's/^/# /' "$D/rep1" | tail -3
check "replicas 1 removed a replica of every range (exit $rc: $(tail -1 "$D/rep1"))" \
  bash -c "[ $rc -eq 0 ] && grep -q '^replicas 1: [1-9][0-9]* ranges\? changed' '$D/rep1'"
"$CTL" map show >"$D/mapR1.conf"
check "  ... the map has replicas = 1, no plan left, every slot on one shard, s1 and s2 half each" \
  /usr/bin/python3 -c "
import sys
cur, held, r = None, {}, None
for line in open('$D/mapR1.conf'):
    line = line.strip()
    if line.startswith('; slot move'): sys.exit(1)
    if line.startswith('replicas'): r = line.split('=')[1].strip()
    if line.startswith('[shard.'): cur = line[7:-1]
    elif cur and line.split('=')[0].strip() == 'slots':
        for p in filter(None, line.split('=', 1)[1].strip().split(',')):
            lo, _, hi = p.partition('-')
            for s in range(int(lo), int(hi or lo) + 1): held.setdefault(s, []).append(cur)
n = {x: sum(1 for v in held.values() if x in v) for x in ('s1', 's2')}
print('#', n)
sys.exit(0 if r == '1' and len(held) == 4096 and all(len(v) == 1 for v in held.values())
         and abs(n['s1'] - n['s2']) <= 1 else 1)"
check "  ... the removed copies were purged" wait_for 60 tool placed "$D/mapR1.conf"
tool lookup "$ROUTER" "$D/all" >"$D/found1" 2>/dev/null
check "  ... every acknowledged key is found ($(head -1 "$D/found1"))" \
  test "$(head -1 "$D/found1")" = "found $(wc -l <"$D/all") missing 0 errors 0"
curl -s "http://127.0.0.1:$HTTP/pks/lookup?op=stats&options=mr" >"$D/stats1.json"
check "  ... op=stats counts every key once" /usr/bin/python3 -c "
import json, sys
sys.exit(0 if json.load(open('$D/stats1.json'))['total_keys'] == $(wc -l <"$D/all") else 1)"
check "  ... audited: op=replicas begun and done with the admin key's name" \
  bash -c "grep -q 'who=admin role=admin op=replicas target=- outcome=done reason=.replicas 1: begin' '$A' &&
           grep -q 'who=admin role=admin op=replicas target=- outcome=done reason=.replicas 1: done' '$A'"

# ---- and raised again: replicas 2, its oksctl killed during the first copy, the run resumed ------
"$CTL" slots replicas 2 >"$D/rep2" 2>&1 &
R2=$!
wait_for 60 grep -q ' copy$' "$D/rep2"
kill -9 "$R2"
wait "$R2" 2>/dev/null
"$CTL" map show >"$D/mapK.conf"
sed 's/^/# /' "$D/rep2"
check "replicas 2: oksctl killed while a replica copied, the record left in etcd ($(grep -o 'phase = [a-z]*' "$D/mapK.conf"))" \
  grep -q '^kind = add' "$D/mapK.conf"
"$CTL" slots replicas --resume >"$D/rep2r" 2>&1
rc=$?
sed 's/^/# /' "$D/rep2r" | tail -3
check "  ... replicas --resume finished the copy and the other ranges (exit $rc: $(tail -1 "$D/rep2r"))" \
  bash -c "[ $rc -eq 0 ] && grep -q '^replicas 2: [1-9][0-9]* ranges\? changed' '$D/rep2r'"
"$CTL" map show | grep -v '^; slot move' >"$D/mapR2.conf"
H=$(for x in $(seq 0 97 4095) 4095; do holders "$D/mapR2.conf" $x | head -1; done | sort -u)
check "  ... the map has replicas = 2, every 97th slot on s1 and s2 ($H), no record left" \
  bash -c "grep -q '^replicas = 2' '$D/mapR2.conf' && [ '$H' = 's1 s2' ] &&
           ! '$CTL' map show | grep -q 'slot move under way'"
check "  ... both hold the same keys, key by key" wait_for 60 tool converged "$D/mapR2.conf"
curl -s "http://127.0.0.1:$HTTP/pks/lookup?op=stats&options=mr" >"$D/stats2.json"
check "  ... op=stats counts every key once" /usr/bin/python3 -c "
import json, sys
sys.exit(0 if json.load(open('$D/stats2.json'))['total_keys'] == $(wc -l <"$D/all") else 1)"

# ---- no live shard can take a replica: refused at once, nothing changed --------------------------
# (s0, removed and stopped, is still in the map with no slots)
P=$(sed -n 's/^etcd_prefix *= *//p' "$OKS_CONFIG" | head -1)
P=${P:-/oks/}
EP=$(sed -n 's/^etcd *= *//p' "$OKS_CONFIG" | head -1 | tr ' ' ',')
ectl() { ETCDCTL_API=3 /usr/bin/etcdctl --endpoints "$EP" "$@"; }
no_record() { ! "$CTL" map show | grep -q 'slot move under way'; }
same_map() { # FILE: the map in etcd is FILE's but for the epoch (and any record)
  diff <(sed '/^; slot move/,$d' "$1" | grep -v '^; \|^epoch = \|^$') \
       <("$CTL" map show | sed '/^; slot move/,$d' | grep -v '^; \|^epoch = \|^$') >/dev/null; }
stored() { tool hashes "$ROUTER" s0 2>/dev/null | wc -l; } # keys s0 stores, in any slot
export CTL ROUTER EP
export -f tool ectl no_record same_map stored
"$CTL" map show >"$D/mapS.conf"
E=$(epoch)
out=$("$CTL" slots add-replica 0-99 --to s0 2>&1)
rc=$?
check "add-replica to s0, which is down, is refused at once (exit $rc: $(head -1 <<<"$out"))" \
  test "$rc $(grep -c '^oksctl: refused: shard s0 is not live' <<<"$out")" = "1 1"
out=$("$CTL" slots move 0-99 --to s0 --from s1 2>&1)
rc=$?
check "  ... so is a move to it (exit $rc)" \
  test "$rc $(grep -c '^oksctl: refused: shard s0 is not live' <<<"$out")" = "1 1"
out=$("$CTL" slots replicas 3 2>&1)
rc=$?
check "replicas 3 with two live shards is refused (exit $rc: $(head -1 <<<"$out"))" \
  test "$rc $(grep -c 'refused: replicas 3: .* at most the live shards (2)' <<<"$out")" = "1 1"
check "  ... nothing changed (epoch $(epoch), was $E; the same map; no record)" \
  bash -c "[ $(epoch) = $E ] && same_map '$D/mapS.conf' && no_record"
# a plan for 3 replicas left by an oksctl that died, resumed while only two shards are live
printf 'kind = replicas\nfirst = 0\nlast = 0\nfrom = -\nto = -\nphase = plan\ntarget = 3\n' >"$D/plan3"
ectl put "${P}move" <"$D/plan3" >/dev/null
out=$("$CTL" slots replicas --resume 2>&1)
rc=$?
check "replicas --resume of a plan for 3 with two live shards stops (exit $rc: $(head -1 <<<"$out"))" \
  test "$rc $(grep -c 'have 2 replicas and no live shard can take another' <<<"$out")" = "1 1"
check "  ... nothing changed (epoch $(epoch), the same map, the plan kept)" \
  bash -c "[ $(epoch) = $E ] && same_map '$D/mapS.conf' && '$CTL' map show | grep -q '^target = 3'"
"$CTL" slots replicas --abort >"$D/ab0" 2>&1
rc=$?
check "  ... replicas --abort drops it, audited as replicas 3: abort (exit $rc)" \
  bash -c "[ $rc = 0 ] && no_record &&
           grep -q 'who=admin role=admin op=replicas target=- outcome=done reason=.replicas 3: abort' '$A'"
# a record that does not fit the map: refused, not acted on
sed 's/^last = 0/last = 4096/; s/^kind = replicas/kind = add/; s/^to = -/to = s0/;
     s/^phase = plan/phase = copy/; /^target/d' \
  "$D/plan3" | ectl put "${P}move" >/dev/null
E=$(epoch)
out=$("$CTL" slots add-replica --abort 2>&1)
rc=$?
check "a record naming slots the map lacks is refused by --abort, nothing changed (exit $rc: $(head -1 <<<"$out"))" \
  bash -c "[ $rc = 1 ] && [ $(epoch) = $E ] &&
           grep -q 'unusable move record (the move record names slots 0-4096, the map has 0-4095)' <<<'$out'"
ectl del "${P}move" >/dev/null

# ---- --abort of an interrupted add-replica and of an interrupted replicas 3 -----------------------
L start-shard s0 >/dev/null 2>&1
wait_for 30 bash -c "ectl get --prefix --keys-only '${P}members/shard/s0' | grep -q ."
check "s0 is back, live, with no slots and no keys ($(stored))" test "$(stored)" = 0
# kill_at_copy OKSCTL-ARGS...: kill -9 that oksctl once its record in etcd reaches phase copy.
# With FREEZE=1, s0 is stopped (SIGSTOP) from the start, so the copy cannot finish before the
# kill lands (an add-replica's only map change before the copy is the one s0 joins by, which
# oksctl does not need s0 to apply before it writes the record).
kill_at_copy() {
  local rev s0
  s0=$(cat "$D/c/run/shard-s0.pid")
  at_exit kill -CONT "$s0" # a frozen shard would outlive the cluster's stop
  [ "${FREEZE:-0}" = 1 ] && kill -STOP "$s0"
  rev=$(ectl get "${P}map" -w json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
  ( ETCDCTL_API=3 timeout 60 /usr/bin/etcdctl --endpoints "$EP" watch --rev $((rev + 1)) "${P}move" 2>/dev/null | while read -r l; do
      [ "$l" = "phase = copy" ] && { kill -9 "$(cat "$D/ctl.pid")"; break; }; done ) &
  "$CTL" "$@" >"$D/killed" 2>&1 &
  echo $! >"$D/ctl.pid"
  wait $! 2>/dev/null
  kill -CONT "$s0"
}
# abort_checks TAG N0: after an --abort, the map is the one before, s0 purged, keys counted once
abort_checks() {
  check "  ... the map is the one before the change (epoch $(epoch)), no record left" \
    bash -c "same_map '$D/mapS.conf' && no_record"
  check "  ... s0 purged the $2 keys it had copied" wait_for 60 bash -c '[ "$(stored)" = 0 ]'
  tool lookup "$ROUTER" "$D/all" >"$D/found$1" 2>/dev/null
  curl -s "http://127.0.0.1:$HTTP/pks/lookup?op=stats&options=mr" >"$D/stats$1.json"
  check "  ... every key is found ($(head -1 "$D/found$1")) and counted once" \
    bash -c "[ '$(head -1 "$D/found$1")' = 'found $(wc -l <"$D/all") missing 0 errors 0' ] &&
             /usr/bin/python3 -c \"import json, sys; sys.exit(json.load(open('$D/stats$1.json'))['total_keys'] != $(wc -l <"$D/all"))\""
}
# copy_abort OUT OKSCTL-ARGS...: s0 asked to copy now, and once it stores keys (N0), the abort
# (its output in OUT, its exit in rc)
copy_abort() {
  "$CTL" repair s0 >/dev/null 2>&1
  wait_for 30 bash -c '[ "$(stored)" -gt 0 ]'
  N0=$(stored)
  "$CTL" "${@:2}" >"$1" 2>&1
  rc=$?
  sed 's/^/# /' "$1"
}
FREEZE=1 kill_at_copy slots add-replica 0-499 --to s0
"$CTL" map show >"$D/mapK1.conf"
check "add-replica 0-499 --to s0: oksctl killed during the copy, the record left" \
  bash -c "grep -q '^kind = add' '$D/mapK1.conf' && grep -q '^phase = copy' '$D/mapK1.conf'"
copy_abort "$D/ab1" slots add-replica --abort
check "add-replica --abort after s0 copied $N0 keys: s0 taken out, then purged (exit $rc)" \
  bash -c "[ $rc = 0 ] && [ $N0 -gt 0 ] && grep -q '^slots 0-499 + s0: epoch [0-9]* abort\$' '$D/ab1' &&
           grep -q '^slots 0-499 + s0: epoch [0-9]* done\$' '$D/ab1'"
abort_checks A1 "$N0"
check "  ... audited with the admin key's name" \
  grep -q "who=admin role=admin op=add-replica target=- outcome=done reason=.slots 0-499 + s0: abort" "$A"
kill_at_copy slots replicas 3
"$CTL" map show >"$D/mapK2.conf"
RANGE=$(awk -F' = ' '$1 == "first" {f = $2} $1 == "last" {print f "-" $2}' "$D/mapK2.conf")
check "replicas 3: oksctl killed during its first copy ($RANGE to s0), the record left" \
  bash -c "grep -q '^kind = add' '$D/mapK2.conf' && grep -q '^to = s0' '$D/mapK2.conf' &&
           grep -q '^target = 3' '$D/mapK2.conf' && grep -q '^phase = copy' '$D/mapK2.conf'"
copy_abort "$D/ab2" slots replicas --abort
check "replicas --abort after s0 copied $N0 keys: the copy undone, the plan dropped (exit $rc)" \
  bash -c "[ $rc = 0 ] && [ $N0 -gt 0 ] && grep -q '^slots $RANGE + s0: epoch [0-9]* abort\$' '$D/ab2' &&
           grep -q '^replicas 3: epoch [0-9]* abort\$' '$D/ab2'"
abort_checks A2 "$N0"
check "  ... audited: the copy's abort and replicas 3: abort" \
  bash -c "grep -q 'who=admin role=admin op=add-replica target=- outcome=done reason=.slots $RANGE + s0: abort' '$A' &&
           [ \$(grep -c 'who=admin role=admin op=replicas target=- outcome=done reason=.replicas 3: abort' '$A') = 2 ]"
L kill-shard s0 >/dev/null 2>&1

# ---- replaced maps are freed: the shards keep the map in force and the one before, the router
# the one in force (plus any a request in flight still uses), however many maps were applied
maps_live() { # SECTION METRIC: the gauge on the /metrics of oks.conf's [SECTION]
  local hp
  hp=$(awk -v s="[$1]" '$0 == s {f = 1; next} /^\[/ {f = 0}
         f && /^metrics_listen *=/ {sub(/^metrics_listen *= */, ""); print; exit}' "$OKS_CONFIG")
  curl -s -m 10 "http://$hp/metrics" | sed -n "s/^$2 //p"
}
settled() { for s in shard.s1 shard.s2; do [ "$(maps_live "$s" oks_shard_maps_live)" = 2 ] || return 1; done
            [ "$(maps_live router oks_router_maps_live)" = 1 ]; }
wait_for 10 settled
check "after $(epoch) map epochs the shards hold 2 maps ($(maps_live shard.s1 oks_shard_maps_live), $(maps_live shard.s2 oks_shard_maps_live)) and the router 1 ($(maps_live router oks_router_maps_live))" \
  bash -c "[ $(epoch) -ge 5 ] && [ '$(maps_live shard.s1 oks_shard_maps_live)' = 2 ] &&
           [ '$(maps_live shard.s2 oks_shard_maps_live)' = 2 ] && [ '$(maps_live router oks_router_maps_live)' = 1 ]"

# ---- readiness by the map in force: the gateway started with s0 and s1, the map now has s1 and s2
health() { curl -s -m 30 -o "$D/health.json" -w '%{http_code}' "http://127.0.0.1:$HTTP/pks/health"; }
code=$(health)
check "/pks/health is ready ($code) and counts the shards of the map in force" \
  /usr/bin/python3 -c "
import json, sys
h = json.load(open('$D/health.json'))
sys.exit(0 if $code == 200 and h['shards'] == 2 and h['slots_uncovered'] == 0 else 1)"
L kill-shard s1 >/dev/null 2>&1
L kill-shard s2 >/dev/null 2>&1
code=$(health)
sed 's/^/# /' "$D/health.json" | tr -d '\n' | head -c 300; echo
check "with s1 and s2 down no slot is covered (by the map in etcd, not the gateway's): $code" \
  /usr/bin/python3 -c "
import json, sys
h = json.load(open('$D/health.json'))
sys.exit(0 if $code == 503 and h['slots_uncovered'] == h['slots'] and h['slots'] > 0
         and h['uncovered_ranges'] == '0-%d' % (h['slots'] - 1)
         and sorted(h['shards_down']) == ['s1', 's2'] else 1)"
finish
