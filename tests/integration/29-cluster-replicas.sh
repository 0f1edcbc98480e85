#!/usr/bin/env bash
# Replicas: three shards, every slot on two of them ([cluster] replicas = 2). An import reaches
# both replicas; with one shard killed (kill -9) lookups and uploads keep succeeding and no
# acknowledged key is missing; a hung shard (SIGSTOP) is noticed by heartbeats, and a range
# with no replica left makes a search partial, not a wait for the deadline; the killed shard
# catches up after its restart, until every replica of every slot holds the same SKS hashes;
# two replicas given the same uploads in opposite orders store the same bytes; a delete reaches
# every replica (tombstones: 2A-cluster-tombstones.sh); the lookups of one key go to one replica,
# those of many keys to all; an upload is verified by one replica of its slot, the other storing
# its verified form (the same bytes, no broken signature), and neither the router nor a shard
# takes keys marked verified from a client.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
CTL=$OKS_BIN/oksctl
tool() { /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/replica_tool.py" "$@"; }
K=/usr/share/keyrings
# a 60 s deadline: a request that waited for a dead or hung shard until its deadline would run
# into the helper's own 30 s limit and fail the test, so answering at all shows it moved on
HTTP=$(free_port)
cluster_up "$D/c" --shards 3 --replicas 2 --deadline-ms 60000 --http-port "$HTTP" ||
  { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
ROUTER=$(sed -n 's/^routers = //p' "$OKS_CONFIG")
pid_of() { cat "$D/c/run/shard-$1.pid"; }
stored() { awk '$2=="new"||$2=="updated"||$2=="unchanged"{print $1}' "$@" | sort -u; }
failed() { awk '$2=="failed"' "$@" | wc -l; }

# ---- an import reaches every replica ---------------------------------------------------------
"$CTL" import --quiet --report "$D/r1" "$K/debian-maintainers.gpg" >/dev/null 2>&1
stored "$D/r1" >"$D/fprs1"
check "the import stored keys ($(wc -l <"$D/fprs1")) and none failed" \
  test "$(wc -l <"$D/fprs1")" -gt 200 -a "$(failed "$D/r1")" -eq 0
check "every replica of every slot holds the same keys after the import" \
  wait_for 60 tool converged "$OKS_CONFIG"
total=$("$CTL" stats | awk '/^total keys:/{print $3}')
check "stats count each key once (total $total, $(wc -l <"$D/fprs1") stored)" \
  test "$total" -eq "$(wc -l <"$D/fprs1")"

# ---- a key's lookups go to one of its replicas, different keys' to different ones -------------
gets() { # SHARD: its get_fingerprint requests so far
  local hp
  hp=$(awk -v s="[shard.$1]" '$0 == s {f = 1; next} /^\[/ {f = 0}
         f && /^metrics_listen *=/ {sub(/^metrics_listen *= */, ""); print; exit}' "$OKS_CONFIG")
  curl -s -m 10 "http://$hp/metrics" |
    awk '/^oks_shard_requests_total\{op="get_fingerprint",/ {n += $2} END {print n + 0}'
}
gets_all() { echo "$(gets s0) $(gets s1) $(gets s2)"; }
one=$(head -1 "$D/fprs1")
for i in $(seq 40); do echo "$one"; done >"$D/one"
b=$(gets_all)
tool lookup "$ROUTER" "$D/one" >"$D/l0" 2>&1
a=$(gets_all)
grew=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); for (i = 1; i <= 3; i++) printf "%d ", x[i] - y[i] }')
check "40 lookups of one key all went to one replica (requests per shard: $grew; $(head -1 "$D/l0"))" \
  bash -c "echo '$grew' | awk '{ n = 0; for (i = 1; i <= 3; i++) if (\$i) { n++; v = \$i } exit !(n == 1 && v == 40) }'"
head -150 "$D/fprs1" >"$D/many"
b=$(gets_all)
tool lookup "$ROUTER" "$D/many" >"$D/l0" 2>&1
a=$(gets_all)
grew=$(awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); for (i = 1; i <= 3; i++) printf "%d ", x[i] - y[i] }')
check "lookups of 150 keys spread over every shard (requests per shard: $grew; $(head -1 "$D/l0"))" \
  bash -c "echo '$grew' | awk '{ exit !(\$1 >= 20 && \$2 >= 20 && \$3 >= 20) }'"

# ---- one shard killed: lookups and uploads go on ---------------------------------------------
kill -9 "$(pid_of s1)"
tool lookup "$ROUTER" "$D/fprs1" >"$D/l1" 2>"$D/l1.err"
sed 's/^/# /' "$D/l1.err" | head -5
check "with s1 killed every stored key is found ($(head -1 "$D/l1"))" \
  test "$(head -1 "$D/l1")" = "found $(wc -l <"$D/fprs1") missing 0 errors 0"
"$CTL" import --quiet --retries 0 --report "$D/r2" "$K/debian-nonupload.gpg" \
  "$K/debian-role-keys.gpg" >/dev/null 2>&1
stored "$D/r2" >"$D/fprs2"
check "with s1 killed uploads are acknowledged ($(wc -l <"$D/fprs2") stored, $(failed "$D/r2") failed)" \
  test "$(wc -l <"$D/fprs2")" -gt 30 -a "$(failed "$D/r2")" -eq 0
sort -u "$D/fprs1" "$D/fprs2" >"$D/fprs"
tool lookup "$ROUTER" "$D/fprs" >"$D/l2" 2>/dev/null
check "with s1 killed the new keys are found too ($(head -1 "$D/l2"))" \
  test "$(head -1 "$D/l2")" = "found $(wc -l <"$D/fprs") missing 0 errors 0"
check "a search with s1 killed is whole (every range has a replica up)" \
  bash -c "$(declare -f tool); tool search '$ROUTER' debian | grep -q '^status 0 partial 0 keys [1-9]'"

URL="http://127.0.0.1:$HTTP/pks/lookup?op=index&options=mr&search=debian"
curl -s -m 30 -D "$D/h1" -o /dev/null "$URL"
check "the HTTP answer with s1 killed is 200 and not marked partial" \
  bash -c "head -1 '$D/h1' | grep -q ' 200' && ! grep -qi '^x-oks-partial' '$D/h1'"

# ---- s2 hung as well: the range s1 and s2 share has nobody left --------------------------------
kill -STOP "$(pid_of s2)"
at_exit kill -CONT "$(pid_of s2)"
tool search "$ROUTER" debian >"$D/s2" 2>&1
sed 's/^/# /' "$D/s2"
check "a search with s1 killed and s2 hung answers, marked partial" \
  grep -q '^status 9 partial 1 keys [1-9]' "$D/s2"
check "the router noticed the hung shard through its heartbeats" \
  wait_for 20 grep -q "shard s2 disconnected" "$D/c/log/router.log"
curl -s -m 30 -D "$D/h2" -o /dev/null "$URL"
sed 's/^/# /' "$D/h2" | head -3
check "the HTTP gateway serves the partial answer with X-OKS-Partial: 1" \
  bash -c "head -1 '$D/h2' | grep -q ' 200' && grep -qi '^x-oks-partial: 1' '$D/h2'"
kill -CONT "$(pid_of s2)"

# ---- the killed shard catches up --------------------------------------------------------------
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" >/dev/null
check "s1 is back" bash -c "'$CTL' stats | grep -q '^s1 .* yes '"
check "s1 caught up: every replica of every slot holds the same SKS hashes" \
  wait_for 120 tool converged "$OKS_CONFIG"
tool converged "$OKS_CONFIG" | sed 's/^/# /'
tool lookup "$ROUTER" "$D/fprs" >"$D/l3" 2>/dev/null
check "no acknowledged key is missing ($(head -1 "$D/l3"))" \
  test "$(head -1 "$D/l3")" = "found $(wc -l <"$D/fprs") missing 0 errors 0"
grep -q "replica: following s0 from change [1-9]" "$D/c/log/shard-s1.log" &&
  ok "s1 resumed following from its stored cursor" ||
  not_ok "s1 resumed following from its stored cursor"

# ---- the same uploads in opposite orders: the same bytes -------------------------------------
mkdir -p "$D/split"
tool split "$K/debian-keyring.gpg" "$D/split" 4 >"$D/names"
tool orders "$OKS_CONFIG" "$D/split" $(cat "$D/names") >"$D/orders" 2>&1
sed 's/^/# /' "$D/orders"
check "two replicas given the same uploads in opposite orders store the same bytes" \
  test "$(grep -c ' same$' "$D/orders")" -eq 4
check "and the replicas agree afterwards" wait_for 60 tool converged "$OKS_CONFIG"
# ---- a delete reaches every replica -----------------------------------------------------------
FPR=$(head -1 "$D/fprs")
check "before the delete two shards store $FPR" test "$(tool where "$OKS_CONFIG" "$FPR" | wc -l)" -eq 2
"$CTL" delete --reason "replica test" "$FPR" >"$D/del" 2>&1
rc=$?
check "a delete is acknowledged (exit $rc)" test "$rc" -eq 0
check "and removes the key from every replica" test -z "$(tool where "$OKS_CONFIG" "$FPR")"
"$CTL" delete --reason "replica test again" "$FPR" >"$D/del2" 2>&1
rc=$?
sed 's/^/# /' "$D/del2"
check "deleting it again keeps a tombstone, no key being stored (exit $rc)" \
  bash -c "[ $rc -eq 0 ] && grep -q 'no key was stored; tombstone stored' '$D/del2'"
# ---- an upload is verified by one replica; the other stores its verified form ------------------
export GNUPGHOME=$D/gpg
mkdir -p -m 700 "$GNUPGHOME"
go() { gpg --batch --quiet --no-tty --pinentry-mode loopback --passphrase '' "$@" 2>/dev/null; }
go --quick-gen-key "Vera Once <vera@example.org>" ed25519 sign,cert never
go --quick-add-uid vera@example.org "Vera Forged <forged@example.org>"
go --export vera@example.org >"$D/vera.pgp"
# the second signature is the self-signature of the second user ID: broken
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/corrupt_sig.py" "$D/vera.pgp" "$D/vera-bad.pgp" 2
gpg --enarmor <"$D/vera-bad.pgp" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/' >"$D/vera.asc"
VFPR=$(go --with-colons --fingerprint vera@example.org | awk -F: '/^fpr/{print $10; exit}')
tool sigs "$ROUTER" | sort >"$D/sigs0"
code=$(http_code --data-urlencode keytext@"$D/vera.asc" "http://127.0.0.1:$HTTP/pks/add")
check "a key with a good and a broken self-signature is accepted over HTTP ($code)" test "$code" = 200
tool sigs "$ROUTER" | sort >"$D/sigs1"
tool copies "$OKS_CONFIG" "$VFPR" >"$D/vera.copies"
sed 's/^/# /' "$D/vera.copies"
check "both replicas of its slot store it, with the same SKS hash" \
  bash -c "[ \$(wc -l <'$D/vera.copies') -eq 2 ] && [ \$(cut -d' ' -f2 '$D/vera.copies' | sort -u | wc -l) -eq 1 ]"
curl -s "http://127.0.0.1:$HTTP/pks/lookup?op=get&options=mr&search=0x$VFPR" | gpg --dearmor >"$D/vera.got" 2>/dev/null
check "the stored key has the good user ID and not the one with the broken signature" \
  bash -c "grep -q 'Vera Once' '$D/vera.got' && ! grep -q 'Vera Forged' '$D/vera.got'"
join "$D/sigs0" "$D/sigs1" | awk '$3 > $2 {print $1, $3 - $2}' >"$D/sigs.rose"
sed 's/^/# signatures verified since: /' "$D/sigs.rose"
check "its signatures were verified by one shard only, a replica storing it" \
  bash -c "[ \$(wc -l <'$D/sigs.rose') -eq 1 ] && grep -q \"^\$(cut -d' ' -f1 '$D/sigs.rose') \" '$D/vera.copies'"
# a client may not hand the cluster a key as verified: a forged self-signature stays unstored
go --quick-gen-key "Mallory Forged <mallory@example.org>" ed25519 sign,cert never
go --export mallory@example.org >"$D/mallory.pgp"
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/corrupt_sig.py" "$D/mallory.pgp" "$D/mallory-bad.pgp" 1
MFPR=$(go --with-colons --fingerprint mallory@example.org | awk -F: '/^fpr/{print $10; exit}')
tool forge "$ROUTER" http "$D/mallory-bad.pgp" >"$D/forge1" 2>&1
sed 's/^/# /' "$D/forge1"
check "the router refuses an add with verified keys from a gateway's key" \
  grep -q '^status 10 .*verified_keys' "$D/forge1"
S0=$(sed -n '/^\[shard.s0\]/,/^\[/s/^endpoint = //p' "$OKS_CONFIG")
tool forge "$S0" admin "$D/mallory-bad.pgp" >"$D/forge2" 2>&1
sed 's/^/# /' "$D/forge2"
check "a shard refuses verified keys from any key but a router's (the admin's here)" \
  grep -q '^status 10 .*verified_keys' "$D/forge2"
check "the key with the forged signature is stored nowhere" test -z "$(tool where "$OKS_CONFIG" "$MFPR")"
check "no process of the cluster died" \
  bash -c "for f in '$D'/c/run/*.pid; do kill -0 \$(cat \$f) || exit 1; done"
finish
