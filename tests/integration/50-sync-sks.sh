#!/usr/bin/env bash
# oks-sync against a real SKS 1.1.6: one recon session in each role (we connect = recon
# responder; SKS connects to us = we are the requester), with differences large (SyncFail and
# Full requests) and small (solved by the polynomial step). The hashes we learn must be exactly
# SKS's keys minus ours, the keys fetched from SKS's /pks/hashquery must hash to them, and the
# hashes SKS logs as recovered from us must be exactly ours minus SKS's.
source "$(dirname "$0")/lib.sh"
set -u
D=$(scratch_dir)
at_exit rm -rf "$D"
K=/usr/share/keyrings
SYNC=$OKS_BIN/oks-sync
hkp=$(free_port); recon=$(free_port); mine=$(free_port)
while [ "$recon" = "$hkp" ]; do recon=$(free_port); done
while [ "$mine" = "$hkp" ] || [ "$mine" = "$recon" ]; do mine=$(free_port); done
# SKS holds set A = maintainers + role keys and gossips every 2 s with us
SKS_PARTNERS=$mine SKS_GOSSIP_SECONDS=2 sks_start "$D/sks" "$hkp" "$recon" \
  $K/debian-maintainers.gpg $K/debian-role-keys.gpg || { not_ok "SKS started"; finish; }
ok "SKS started (SKS_KEYS=$SKS_KEYS)"
LOG=$SKS_LOG/recon.log
"$SYNC" hashes --keyring $K/debian-maintainers.gpg --keyring $K/debian-role-keys.gpg | sort >"$D/A"

# recovered_since LINE: the count of the last "N hashes recovered" line of SKS's log after LINE,
# then the hashes SKS lists under it (SKS lists them only for small N)
recovered_since() {
  tail -n +"$1" "$LOG" | awk '/hashes recovered from/ { n = $3; got = 1; delete h; k = 0; next }
    got && k < n && $3 ~ /^[0-9A-F]+$/ { h[k++] = $3 }
    END { if (!got) exit 1; print n; for (i = 0; i < k; i++) print h[i] | "sort" }'
}
# SKS logs "Requesting N missing keys" after the list
wait_recovered() { tail -n +"$1" "$LOG" | grep -q "Requesting .* missing keys"; }

# run_case NAME MODE KEYRING...: one session; compares both directions with the hash sets
run_case() {
  local name=$1 mode=$2; shift 2
  local args=() r
  for r in "$@"; do args+=(--keyring "$r"); done
  "$SYNC" hashes "${args[@]}" | sort >"$D/B"
  comm -23 "$D/A" "$D/B" >"$D/want_fetch"
  comm -13 "$D/A" "$D/B" >"$D/want_sks"
  local from=$(($(wc -l <"$LOG") + 1)) how
  if [ "$mode" = connect ]; then how=(--connect "127.0.0.1:$recon"); else how=(--listen "$mine"); fi
  if ! "$SYNC" once "${args[@]}" "${how[@]}" --timeout 30 --fetch >"$D/out" 2>"$D/err"; then
    not_ok "$name: session ran"; cat "$D/err"; return
  fi
  ok "$name: session ran ($(grep -E '^(keys|fetch-count|messages)' "$D/out" | tr '\n' ' '))"
  grep '^fetch ' "$D/out" | cut -d' ' -f2 | sort >"$D/got_fetch"
  grep '^fetched ' "$D/out" | cut -d' ' -f2 | sort >"$D/got_keys"
  check "$name: hashes to fetch = SKS minus ours ($(wc -l <"$D/want_fetch"))" \
    cmp -s "$D/want_fetch" "$D/got_fetch"
  check "$name: keys fetched from SKS hashquery hash to exactly those" \
    cmp -s "$D/want_fetch" "$D/got_keys"
  if [ -s "$D/want_sks" ]; then
    if wait_for 30 wait_recovered "$from"; then
      recovered_since "$from" >"$D/rec"
      check "$name: SKS recovered as many hashes as ours minus SKS's ($(wc -l <"$D/want_sks"))" \
        test "$(head -1 "$D/rec")" = "$(wc -l <"$D/want_sks")"
      if [ "$(wc -l <"$D/rec")" -gt 1 ]; then
        tail -n +2 "$D/rec" >"$D/got_sks"
        check "$name: the hashes SKS lists are exactly ours minus SKS's" \
          cmp -s "$D/want_sks" "$D/got_sks"
      fi
    else
      not_ok "$name: SKS logged the hashes it recovered"
    fi
  fi
}

# large differences both ways: SyncFail at the root, Full requests below
run_case "connect, large difference" connect $K/debian-role-keys.gpg $K/debian-archive-keyring.gpg
run_case "listen, large difference" listen $K/debian-role-keys.gpg $K/debian-nonupload.gpg
# one key more than SKS: solved by interpolation at the root, in both roles
run_case "connect, one key more" connect $K/debian-maintainers.gpg $K/debian-role-keys.gpg \
  $K/debian-archive-bookworm-stable.gpg
run_case "listen, one key more" listen $K/debian-maintainers.gpg $K/debian-role-keys.gpg \
  $K/debian-archive-bookworm-stable.gpg
# SKS has a few more (role keys): too many for the root polynomial, found in the children
run_case "connect, SKS has a few more" connect $K/debian-maintainers.gpg
# identical sets move nothing
run_case "listen, identical sets" listen $K/debian-maintainers.gpg $K/debian-role-keys.gpg
check "identical sets: nothing to fetch" test ! -s "$D/got_fetch"
finish
