#!/usr/bin/env bash
# The sync worker against hostile partners (tests/integration/helpers/recon_hostile.py):
#  - a partner that connects and stalls, and one that sends its Config one byte per second, hold
#    one round each; meanwhile a real partner (oks-sync once) reconciles with the worker, and
#    both attackers are dropped (the Config exchange has a whole-time bound, not a per-byte one)
#    and backed off, as logged;
#  - a partner the worker gossips with that floods "everything under the root" requests without
#    reading the answers: the round ends at the unread-output cap and the worker's peak RSS stays
#    far below what the answers would take;
#  - a partner that announces 500,000 hashes and never answers their hashqueries: the round
#    fetches at most --fetch-max hashes and ends at --fetch-seconds, the partner is backed off,
#    and meanwhile a real partner reconciles.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
SYNC_PID=""; HELPERS=()
stop_all() {
  local p
  for p in "${HELPERS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  HELPERS=()
  [ -n "$SYNC_PID" ] && kill "$SYNC_PID" 2>/dev/null && wait "$SYNC_PID" 2>/dev/null
  SYNC_PID=""
}
at_exit rm -rf "$D"
at_exit stop_all
H="$OKS_ROOT/tests/integration/helpers/recon_hostile.py"
K=/usr/share/keyrings
http=$(free_port)
cluster_up "$D/c" --shards 1 --http-port "$http" || { not_ok "cluster started"; finish; }
"$OKS_BIN/oks-bench" mint --count 1000 --seed hostile --uids 1 --out "$D/keys.gpg" >/dev/null &&
OKS_CONFIG=$D/c/oks.conf "$OKS_BIN/oksctl" import "$D/keys.gpg" $K/debian-role-keys.gpg >/dev/null ||
  { not_ok "keys imported"; finish; }
ok "cluster with 1,000 keys"
good_session() { # a real partner from 127.0.0.1 learns the 1,000 keys it lacks from the worker
  "$OKS_BIN/oks-sync" once --keyring $K/debian-role-keys.gpg \
    --keyring $K/debian-archive-bookworm-stable.gpg --connect "127.0.0.1:$1" --timeout 30 \
    >"$D/once.out" 2>&1 && grep -qx "fetch-count 1000" "$D/once.out"
}

# ---- stalling and byte-dribbling partners, then a real one
rp=$(free_port)
"$OKS_BIN/oks-sync" run -c "$D/c/oks.conf" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --partner 127.0.0.1:9 --partner 127.0.0.2:9 --partner 127.0.0.3:9 --gossip-seconds 0 \
  --backoff-seconds 300 --log "$D/sync1.log" &
SYNC_PID=$!
wait_for 60 grep -q "oks-sync: tree" "$D/sync1.log" || { not_ok "worker started"; finish; }
python3 "$H" stall "$rp" 127.0.0.2 "$D/stall" & HELPERS+=($!)
python3 "$H" dribble "$rp" 127.0.0.3 "$D/dribble" & HELPERS+=($!)
wait_for 30 bash -c "grep -q 'round with 127.0.0.2:9 started' '$D/sync1.log' &&
  grep -q 'round with 127.0.0.3:9 started' '$D/sync1.log'"
check "while two attackers hold rounds, a real partner reconciles with the worker" good_session "$rp"
check "the stalling partner was still connected then" test ! -e "$D/stall"
check "the dribbling partner was still connected then" test ! -e "$D/dribble"
check "the dribbling partner is dropped before it could finish its Config (150 bytes, 1 per second)" \
  wait_for 150 grep -qx closed "$D/dribble"
check "the stalling partner is dropped" wait_for 150 grep -qx closed "$D/stall"
check "the drop is logged: no whole Config exchange in the time allowed" \
  grep -q "recon with 127.0.0.3:9: peer silent: no whole Config exchange" "$D/sync1.log"
check "both attackers are backed off (logged)" bash -c \
  "grep -q 'partner 127.0.0.2:9 backed off for 300 s' '$D/sync1.log' &&
   grep -q 'partner 127.0.0.3:9 backed off for 300 s' '$D/sync1.log'"
python3 "$H" stall "$rp" 127.0.0.2 "$D/stall2" & HELPERS+=($!)
check "a backed-off partner's next connection is refused at once (logged)" \
  wait_for 30 grep -q "recon connection from 127.0.0.2 refused: 127.0.0.2:9 is backed off" "$D/sync1.log"
stop_all

# ---- a partner that floods root requests without reading (the worker connects to it)
rp=$(free_port); ap=$(free_port)
python3 "$H" flood "$ap" "$D/flood" & HELPERS+=($!)
# a refused first connection would back the partner off for the rest of the test
wait_for 30 listening "$ap" || not_ok "the flooding partner listens"
"$OKS_BIN/oks-sync" run -c "$D/c/oks.conf" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --partner "127.0.0.1:$ap" --gossip-seconds 1 --backoff-seconds 300 --log "$D/sync2.log" &
SYNC_PID=$!
check "the flooding partner's round ends at the unread-output cap (logged)" \
  wait_for 120 grep -q "recon with 127.0.0.1:$ap: more than 16777216 bytes" "$D/sync2.log"
check "the flooding partner is backed off (logged)" \
  grep -q "partner 127.0.0.1:$ap backed off for 300 s" "$D/sync2.log"
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$SYNC_PID/status")
check "the worker's peak RSS stayed below 150 MB (${hwm} kB; the answers asked for are ~340 MB)" \
  test "${hwm:-999999}" -lt 153600
stop_all

# ---- a partner that announces 500,000 hashes and never answers a hashquery
rp=$(free_port); ap=$(free_port); ah=$(free_port)
python3 "$H" announce "$ap" "$ah" "$D/announce" & HELPERS+=($!)
wait_for 30 listening "$ap" || not_ok "the announcing partner listens"
# the first member is the worker's own address: incoming sessions from 127.0.0.1 count as it,
# and gossip never picks it
"$OKS_BIN/oks-sync" run -c "$D/c/oks.conf" --tree "$D/tree" --recon-port "$rp" --http-port "$http" \
  --partner "127.0.0.1:$rp" --partner "127.0.0.1:$ap" --gossip-seconds 1 --fetch-max 2000 \
  --fetch-seconds 40 --backoff-seconds 300 --log "$D/sync3.log" &
SYNC_PID=$!
check "the announcing partner's round fetches at most --fetch-max hashes (logged)" \
  wait_for 120 grep -q "round with 127.0.0.1:$ap: fetching 2000 hashes from 127.0.0.1:$ah (more were announced" "$D/sync3.log"
check "while its hashqueries hang, a real partner reconciles with the worker" good_session "$rp"
check "the announcing partner's fetch was still running then" test ! -e "$D/announce"
check "the fetch ends at its deadline (logged)" \
  wait_for 150 grep -q "fetch with 127.0.0.1:$ap: .*not done in 40000 ms\|fetch with 127.0.0.1:$ap: hashquery" "$D/sync3.log"
check "the hanging hashqueries are all closed" wait_for 60 grep -qx closed "$D/announce"
check "the announcing partner is backed off (logged)" \
  grep -q "partner 127.0.0.1:$ap backed off for 300 s" "$D/sync3.log"
check "the worker is still running" kill -0 "$SYNC_PID"
finish
