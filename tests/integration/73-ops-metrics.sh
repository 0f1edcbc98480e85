#!/usr/bin/env bash
# Prometheus metrics of every daemon: a local cluster (2 shards, 2 replicas, HTTP gateway, sync
# worker whose one partner listens nowhere, mail gateway against the real mail stack, LDAP
# gateway behind slapd) takes uploads, lookups, LDAP searches and a mail; then every /metrics
# passes `promtool check metrics`, the counters moved by exactly what was done (adds by outcome
# per shard, router requests and write quorums, the failed sync round, the mail's command and
# reply, the LDAP searches by result and their lookups), a daemon whose metrics_allow is empty
# answers 403, the alert rules pass `promtool check rules`, the dashboard parses, every metric
# the dashboard and the rules name is in the exposition, and docs/operations.md lists them all.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
G=$(gpg_home)
M=$D/m
DENY_PID=
cleanup() {
  [ -z "$DENY_PID" ] || { kill "$DENY_PID" 2>/dev/null; wait "$DENY_PID" 2>/dev/null; }
  gpg_home_cleanup "$G"; rm -rf "$D"
}
at_exit cleanup
command -v promtool >/dev/null || { not_ok "promtool installed (deploy/deps.sh: prometheus)"; finish; }
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { not_ok "slapd installed (deploy/deps.sh)"; finish; }
POP=$(free_port) SMTP=$(free_port) HTTP=$(free_port) RECON=$(free_port) DEAD=$(free_port)
LDAPP=$(free_port)
mail_start "$M" "$POP" "$SMTP" || { not_ok "mail stack starts"; finish; }
out=$(bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 --replicas 2 \
  --http-port "$HTTP" --recon-port "$RECON" --partner "127.0.0.1:$DEAD" --gossip-seconds 1 \
  --mail-pop3 "127.0.0.1:$POP" --mail-user keyserver --mail-password secret \
  --mail-smtp "127.0.0.1:$SMTP" --mail-address keyserver@localhost --mail-poll-seconds 1 \
  --ldap-port "$LDAPP")
rc=$?
at_exit cluster_down "$D/c"
[ $rc -eq 0 ] || { not_ok "cluster with every daemon starts"; finish; }
# "metrics: NAME URL" lines of local.sh up
url_of() { awk -v n="$1" '$1=="metrics:" && $2==n {print $3}' <<<"$out"; }
for n in shard-s0 shard-s1 router gw-http sync gw-mail gw-ldap; do
  check "local.sh up prints the /metrics of $n" test -n "$(url_of "$n")"
done
U=http://127.0.0.1:$HTTP

# 3 keys uploaded once, one of them twice; lookups by fingerprint; one HELP mail
fprs=()
for who in alice bob carol; do
  GNUPGHOME=$G gpg --batch --passphrase '' --quick-gen-key "$who <$who@localhost>" ed25519 default never 2>/dev/null
  GNUPGHOME=$G gpg --armor --export "$who@localhost" >"$D/$who.asc"
  fprs+=("$(GNUPGHOME=$G gpg --with-colons --fingerprint "$who@localhost" | awk -F: '$1=="fpr"{print $10; exit}')")
  check "upload of $who's key" test "$(http_code --data-urlencode keytext@"$D/$who.asc" "$U/pks/add")" = 200
done
check "upload of alice's key again" test "$(http_code --data-urlencode keytext@"$D/alice.asc" "$U/pks/add")" = 200
for f in "${fprs[@]}"; do
  check "lookup of 0x$f" test "$(http_code "$U/pks/lookup?op=get&options=mr&search=0x$f")" = 200
done
check "/pks/health answers" test "$(http_code "$U/pks/health")" = 200
# over LDAP: the 3 keys by fingerprint, one unbounded search, one DN outside the tree
KS="ou=GnuPG Keys,o=OpenKeyServer"
ls_code() { ldapsearch -x -LLL -H "ldap://127.0.0.1:$LDAPP/" "$@" >/dev/null 2>&1; echo $?; }
for f in "${fprs[@]}"; do
  check "ldapsearch by gpgFingerprint=$f" bash -c "ldapsearch -x -LLL -H ldap://127.0.0.1:$LDAPP/ -b '$KS' '(gpgFingerprint=$f)' dn | grep -q '^dn: pgpCertID=${f:24}'"
done
check "ldapsearch (objectClass=*) under the key space: unwillingToPerform (53)" test "$(ls_code -b "$KS" '(objectClass=*)')" = 53
check "ldapsearch outside the tree: noSuchObject (32)" test "$(ls_code -b "cn=nobody,o=OpenKeyServer" -s base '(objectClass=*)')" = 32
swaks --server 127.0.0.1 --port "$SMTP" --helo localhost --from alice@localhost --to keyserver@localhost \
  --header "Subject: HELP" --body "help" --silent 2 --timeout 20 >/dev/null
check "the HELP mail is answered" wait_for 30 bash -c "grep -l -F 'Subject: Your command, HELP' '$M'/mail/alice/new/* 2>/dev/null | grep -q ."

# the sync worker's partner listens nowhere: its first round fails and backs it off
sync_failed() {
  curl -s "$(url_of sync)" | grep -q '^oks_sync_rounds_total{outcome="failed"} [1-9]'
}
check "sync: a round with the unreachable partner failed" wait_for 30 sync_failed

# value FILE SAMPLE: the value of the sample line that starts with SAMPLE + " " (none: empty)
value() { awk -v s="$2" 'index($0, s " ") == 1 {print $NF}' "$1"; }
sum_of() { awk -v s="$2" 'index($0, s) == 1 {t += $NF} END {print t + 0}' "$1"; }
for n in shard-s0 shard-s1 router gw-http sync gw-mail gw-ldap; do
  curl -s -o "$D/$n.prom" -w '%{http_code}' "$(url_of "$n")" >"$D/$n.code"
  check "$n: GET /metrics is 200" test "$(cat "$D/$n.code")" = 200
  promtool check metrics <"$D/$n.prom" >"$D/$n.lint" 2>&1
  check "$n: promtool check metrics has no remark" test ! -s "$D/$n.lint"
  [ -s "$D/$n.lint" ] && sed 's/^/#   /' "$D/$n.lint"
done
# promtool's exit status, checked apart from its output
for n in shard-s0 shard-s1 router gw-http sync gw-mail gw-ldap; do
  check "$n: promtool check metrics exits 0" promtool check metrics <"$D/$n.prom"
done

# the shard counters: every shard holds every slot (2 replicas of 2 shards) and got the four
# uploads (three keys, alice's twice) from the HTTP gateway. A shard that commits second may
# also have copied a key from its peer's change log first (origin replica, one add request
# each), so a key counts as new once in all, from hkp or from the replica, and the add requests
# are the four uploads plus at most one copy per key copied.
new_of() { awk '/^oks_shard_keys_added_total\{outcome="new",/ {t += $NF} END {print t + 0}' "$1"; }
for s in s0 s1; do
  f=$D/shard-$s.prom
  rep=$(sum_of "$f" 'oks_shard_keys_added_total{outcome="new",origin="replica"}')
  rep=$((rep + $(sum_of "$f" 'oks_shard_keys_added_total{outcome="unchanged",origin="replica"}')))
  hkp=$(sum_of "$f" 'oks_shard_keys_added_total{outcome="new",origin="hkp"}')
  hkp=$((hkp + $(sum_of "$f" 'oks_shard_keys_added_total{outcome="unchanged",origin="hkp"}')))
  adds=$(value "$f" 'oks_shard_requests_total{op="add",status="ok"}')
  timed=$(value "$f" oks_shard_add_duration_seconds_count)
  check "shard $s: 3 new keys ($(new_of "$f"))" test "$(new_of "$f")" = 3
  check "shard $s: the 4 uploads reached it ($hkp keys from hkp)" test "$hkp" = 4
  check "shard $s: no rejected key" \
    test "$(sum_of "$f" 'oks_shard_keys_added_total{outcome="rejected"')" = 0
  check "shard $s: 4 add requests answered ok, plus $rep replica copies at most ($adds)" \
    test "${adds:-0}" -ge 4 -a "${adds:-0}" -le $((4 + rep))
  check "shard $s: stores 3 keys" test "$(value "$f" oks_shard_keys)" = 3
  check "shard $s: every add timed ($timed)" test "${timed:-0}" = "${adds:-x}"
  check "shard $s: its replica peer's lag is reported" grep -q '^oks_shard_replica_lag_entries{peer="s' "$f"
done
R=$D/router.prom
check "router: 4 add requests answered ok" \
  test "$(value "$R" 'oks_router_requests_total{op="add",status="ok"}')" = 4
check "router: 4 adds met the write quorum" \
  test "$(value "$R" 'oks_router_write_quorum_total{outcome="met"}')" = 4
check "router: no add missed it" test "$(value "$R" 'oks_router_write_quorum_total{outcome="missed"}')" = 0
check "router: both shards up" \
  test "$(value "$R" 'oks_router_shard_up{shard="s0"}')$(value "$R" 'oks_router_shard_up{shard="s1"}')" = 11
check "router: no authorization refusal" test "$(sum_of "$R" oks_router_authz_refused_total)" = 0
H=$D/gw-http.prom
check "gw-http: 3 keys submitted as new" \
  test "$(value "$H" 'oks_http_keys_submitted_total{outcome="new"}')" = 3
check "gw-http: the last health found every slot covered" test "$(value "$H" oks_http_cluster_ready)" = 1
S=$D/sync.prom
check "sync: one partner" test "$(value "$S" oks_sync_partners)" = 1
check "sync: no good round" test "$(value "$S" 'oks_sync_rounds_total{outcome="ok"}')" = 0
P="{partner=\"127.0.0.1:$DEAD\"}"
check "sync: the partner failed a round in a row" \
  test "$(value "$S" "oks_sync_partner_failures_in_row$P")" -ge 1
check "sync: the partner is backed off" \
  test "$(value "$S" "oks_sync_partner_backoff_until_timestamp_seconds$P")" -gt "$(date +%s)"
check "sync: never synced with it" \
  test "$(value "$S" "oks_sync_partner_last_success_timestamp_seconds$P")" = 0
ML=$D/gw-mail.prom
check "gw-mail: the HELP mail was handled and deleted" \
  test "$(value "$ML" 'oks_mail_mails_total{command="help",outcome="deleted"}')" = 1
check "gw-mail: one reply sent" test "$(value "$ML" oks_mail_replies_total)" = 1
check "gw-mail: polls succeed" test "$(value "$ML" 'oks_mail_polls_total{outcome="ok"}')" -ge 1

LD=$D/gw-ldap.prom
check "gw-ldap: 3 searches answered success" \
  test "$(value "$LD" 'oks_ldap_requests_total{op="search",result="success"}')" = 3
check "gw-ldap: 1 search unwilling" \
  test "$(value "$LD" 'oks_ldap_requests_total{op="search",result="unwilling"}')" = 1
check "gw-ldap: 1 search for no such object" \
  test "$(value "$LD" 'oks_ldap_requests_total{op="search",result="no_such_object"}')" = 1
check "gw-ldap: 5 searches timed" \
  test "$(value "$LD" 'oks_ldap_request_duration_seconds_count{op="search"}')" = 5
check "gw-ldap: 3 lookups by fingerprint" \
  test "$(value "$LD" 'oks_ldap_lookups_total{kind="fingerprint"}')" = 3
check "gw-ldap: no other lookup" test "$(sum_of "$LD" oks_ldap_lookups_total)" = 3
# the 3 keys, and the key space's own entry, which the unbounded search returns before refusing
check "gw-ldap: 4 entries returned" test "$(value "$LD" oks_ldap_entries_total)" = 4
check "gw-ldap: nothing in flight" test "$(value "$LD" oks_ldap_inflight_requests)" = 0
check "gw-ldap: no backend error" test "$(sum_of "$LD" oks_ldap_backend_errors_total)" = 0
check "router: 3 fingerprint lookups from gw-ldap too" \
  test "$(value "$R" 'oks_router_requests_total{op="get_fingerprint",status="ok"}')" = 6

# metrics_allow empty, which lets nobody in: a second sync worker on a copy of the config
DP=$(free_port)
awk -v p="$DP" '/^\[/{sec=$0} sec=="[sync]" && /^metrics_listen/ {print "metrics_listen = 127.0.0.1:" p; print "metrics_allow ="; next} {print}' \
  "$D/c/oks.conf" >"$D/deny.conf"
: >"$D/deny-members"
"$OKS_BIN/oks-sync" run -c "$D/deny.conf" --tree "$D/deny-tree" --membership "$D/deny-members" \
  --state "$D/deny-state" --gossip-seconds 0 --log "$D/deny.log" &
DENY_PID=$!
check "a daemon whose metrics_allow excludes the client answers 403" \
  wait_for 20 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$DP/metrics)\" = 403 ]"
check "... for any path" \
  test "$(http_code "http://127.0.0.1:$DP/other")" = 403
check "an allowed client gets 404 for another path" test "$(http_code "$(url_of router | sed 's|/metrics$|/other|')")" = 404

# the rules, the example configuration and the dashboard
check "promtool check rules passes" promtool check rules "$OKS_ROOT/deploy/prometheus/oks-rules.yml"
check "promtool check config passes" promtool check config "$OKS_ROOT/deploy/prometheus/prometheus.yml"
check "the dashboard is JSON with panels" jq -e '.panels | length > 0' "$OKS_ROOT/deploy/grafana/oks.json"
cat "$D"/*.prom | sed -n 's/^# TYPE \([^ ]*\) \([a-z]*\)$/\1 \2/p' | sort -u >"$D/types"
missing=
for n in $(grep -ohE 'oks_[a-z0-9_]+' "$OKS_ROOT/deploy/grafana/oks.json" "$OKS_ROOT/deploy/prometheus/oks-rules.yml" | sort -u); do
  base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$n")
  if ! grep -q "^$n " "$D/types" && ! grep -qx "$base histogram" "$D/types"; then
    missing="$missing $n"
  fi
done
check "every metric the dashboard and rules name exists${missing:+ (missing:$missing)}" test -z "$missing"
undocumented=
for n in $(awk '{print $1}' "$D/types"); do
  grep -qF "| \`$n\` |" "$OKS_ROOT/docs/operations.md" || undocumented="$undocumented $n"
done
check "docs/operations.md lists every metric${undocumented:+ (not:$undocumented)}" test -z "$undocumented"
finish
