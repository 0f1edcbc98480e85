#!/usr/bin/env bash
# The worst case of every request whose work grows with the data, on 100,000 minted keys in 2
# shards behind a gateway without answer cache: each is answered within the router's deadline
# (never 503 or a client timeout), a request cut by a shard's work budget says so (header
# X-OKS-Truncated, or a 400 that names the budget), never "not found". The time of each is
# printed, not asserted. Then the HTML pages of a 1 MiB key are bounded (a truncation note
# instead of every signature, a download link instead of 1.4 MB of armor). Last, a flood of the
# costliest searches with a short deadline: the shards answer the queued requests whose deadline
# passed with TIMEOUT unworked (ShardStats.expired, `oksctl stats`) and answer a fresh search
# right after the flood instead of working through the stale queue.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
GO=$(gpg_home)
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$GO"
P=$(free_port)
N=100000
t0=$SECONDS
"$OKS_BIN/oks-bench" mint --count $N --seed worst-case --uids 1-3 --out "$D/keys.pgp" \
  --list "$D/list" >/dev/null 2>&1 || { not_ok "$N keys minted"; finish; }
ok "$N keys minted ($((SECONDS - t0)) s)"
cluster_up "$D" --shards 2 --http-port "$P" --http-opt cache_mb=0 || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
t0=$SECONDS
"$OKS_BIN/oksctl" import --quiet "$D/keys.pgp" >"$D/import.out" 2>&1
total() { "$OKS_BIN/oksctl" stats 2>/dev/null | awk '/^total keys:/ { print $3 }'; }
check "$N keys imported ($((SECONDS - t0)) s)" test "$(total)" = $N
U=http://127.0.0.1:$P

# timed NAME URL [curl options...]: one request; "CODE SECONDS" in $D/NAME.res, headers in
# $D/NAME.h, body in $D/NAME.b; the time is printed
timed() {
  local name=$1 url=$2; shift 2
  curl -s -m 30 -D "$D/$name.h" -o "$D/$name.b" -w '%{http_code} %{time_total}\n' "$@" "$url" >"$D/$name.res"
  echo "# $name: $(cat "$D/$name.res") (HTTP status, seconds)"
}
code() { cut -d' ' -f1 "$D/$1.res"; }
marked() { grep -qi '^x-oks-truncated: work-budget' "$D/$1.h"; }

# the commonest words of the user IDs (as the shards index them)
"$OKS_BIN/oksctl" inspect "$D/keys.pgp" 2>/dev/null | LC_ALL=C awk -F: '/^uid:/ {
    u = tolower($2); gsub(/[^a-z0-9\300-\377]+/, " ", u); n = split(u, w, " ")
    for (i = 1; i <= n; i++) c[w[i]]++ }
  END { for (x in c) print c[x], x }' | sort -rn | head -16 >"$D/common"
TOP=$(awk 'NR == 1 { print $2 }' "$D/common")
Q16=$(awk '{ printf "%s%s", (NR > 1 ? "+" : ""), $2 }' "$D/common")
read -r FPR MAIL < <(sed -n '4242p' "$D/list")

# one word held by every key: more matches than a shard collects (20,000): a part, marked
timed word "$U/pks/lookup?op=index&options=mr&search=$TOP"
check "one word in every key ('$TOP'): answered 200, marked truncated" \
  bash -c "test $(code word) = 200 && grep -qi '^x-oks-truncated: work-budget' '$D/word.h'"
# the 16 commonest words: the leapfrog ends within its move budget (100,000): keys, none (404:
# no key holds them all), or a 400 naming the budget; never 5xx
answered() { case $(code "$1") in 200|404) true ;; 400) grep -q 'too broad' "$D/$1.b" ;; *) false ;; esac; }
timed words16 "$U/pks/lookup?op=index&options=mr&search=$Q16"
check "the 16 commonest words: answered ($(code words16))" answered words16
timed words16html "$U/pks/lookup?op=index&search=$Q16"
check "... as HTML too ($(code words16html))" answered words16html
timed vindex "$U/pks/lookup?op=vindex&search=$TOP"
check "vindex of the word in every key: answered 200 as HTML, marked, within the page bound" \
  bash -c "test $(code vindex) = 200 && grep -q 'A part of the matches' '$D/vindex.b' && test \$(stat -c %s '$D/vindex.b') -lt 2000000"
timed email "$U/pks/lookup?op=index&options=mr&search=$MAIL"
check "an e-mail search: 200" test "$(code email)" = 200
timed shortid "$U/pks/lookup?op=index&options=mr&search=0x${FPR:32:8}"
check "a 32-bit key ID (fan-out to every shard): 200" test "$(code shortid)" = 200
timed fpr "$U/pks/lookup?op=get&options=mr&search=0x$FPR"
check "a fingerprint with its subkey twins (fan-out): 200" test "$(code fpr)" = 200
timed none "$U/pks/lookup?op=index&options=mr&search=zzzqqqxxx"
check "a word nobody has: 404 (not a budget)" test "$(code none)" = 404

# hashquery: 10,000 hashes of stored keys (the most one request may carry), then 10,000 that
# match nothing, then one too many
t0=$SECONDS
"$OKS_BIN/oksctl" export --keys-per-file 10000 "$D/export" >/dev/null 2>&1
check "export of every key through ListKeys pages ($((SECONDS - t0)) s): $(cat "$D"/export/*.pgp | wc -c) bytes" \
  test "$(ls "$D/export" | wc -l)" -ge 10
"$OKS_BIN/oks-sync" hashes --keyring "$D/export/oks-0000.pgp" 2>/dev/null | head -10000 >"$D/hashes"
hq() { # COUNT FILE-of-hex-hashes OUT: a hashquery body
  /usr/bin/python3 - "$@" <<'PY'
import os, struct, sys
n, src, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
hs = [bytes.fromhex(l.strip()) for l in open(src) if l.strip()][:n] if src != '-' else []
while len(hs) < n:
    hs.append(os.urandom(16))
open(out, 'wb').write(struct.pack('>I', n) + b''.join(struct.pack('>I', 16) + h for h in hs))
PY
}
hq 10000 "$D/hashes" "$D/hq.real"
hq 10000 - "$D/hq.none"
hq 10001 - "$D/hq.over"
timed hqreal "$U/pks/hashquery" --data-binary "@$D/hq.real" -H 'Content-Type: application/octet-stream'
check "hashquery of 10,000 stored keys: 200 with keys" \
  bash -c "test $(code hqreal) = 200 && test \$(stat -c %s '$D/hqreal.b') -gt 100000"
timed hqnone "$U/pks/hashquery" --data-binary "@$D/hq.none" -H 'Content-Type: application/octet-stream'
check "hashquery of 10,000 unknown hashes: 200, no keys" \
  bash -c "test $(code hqnone) = 200 && test \$(head -c 4 '$D/hqnone.b' | od -An -tx1 | tr -d ' ') = 00000000"
timed hqover "$U/pks/hashquery" --data-binary "@$D/hq.over" -H 'Content-Type: application/octet-stream'
check "hashquery of 10,001 hashes: 413" test "$(code hqover)" = 413
head -c 4020 "$D/hq.none" >"$D/hq.short"; printf 'junk' >>"$D/hq.short"
timed hqjunk "$U/pks/hashquery" --data-binary "@$D/hq.short" -H 'Content-Type: application/octet-stream'
check "hashquery whose body does not hold its count: 400" test "$(code hqjunk)" = 400
t0=$(date +%s.%N)
"$OKS_BIN/oksctl" stats >"$D/stats.before" 2>&1
check "stats answered ($(echo "$(date +%s.%N) - $t0" | bc) s)" grep -q "^total keys: $N" "$D/stats.before"

# ---- a 1 MiB key: 500 junk certifications of ~2,100 bytes; the shard keeps 256 of them (the
# third-party budget per user ID), about 540 KB
go() { gpg --homedir "$GO" --batch --no-tty --passphrase '' --pinentry-mode loopback "$@"; }
go --quick-gen-key 'Big Key <big@example.org>' ed25519 cert never 2>/dev/null
V=$(gpg --homedir "$GO" --batch --with-colons --list-keys big@example.org | awk -F: '/^fpr/ { print $10; exit }')
go --export "$V" >"$D/v.pgp"
/usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/make_hostile.py" flood "$D/v.pgp" "$D/big.pgp" \
  500 1900000000 $((1048576 - 40))
gpg --enarmor <"$D/big.pgp" 2>/dev/null | sed 's/ARMORED FILE/PUBLIC KEY BLOCK/' >"$D/big.asc"
c=$(curl -s -m 60 -o "$D/add.out" -w '%{http_code}' --data-urlencode "keytext@$D/big.asc" "$U/pks/add")
check "a key of $(stat -c %s "$D/big.pgp") bytes is added ($c)" test "$c" = 200
timed bigmr "$U/pks/lookup?op=get&options=mr&search=0x$V"
check "... served whole to machines ($(stat -c %s "$D/bigmr.b") bytes armored)" \
  bash -c "test $(code bigmr) = 200 && test \$(stat -c %s '$D/bigmr.b') -gt 500000"
timed bightml "$U/pks/lookup?op=get&search=0x$V"
check "its HTML key page is bounded ($(stat -c %s "$D/bightml.b") bytes) and links the download" \
  bash -c "test $(code bightml) = 200 && test \$(stat -c %s '$D/bightml.b') -lt 65536 && grep -q 'too many to show here' '$D/bightml.b' && ! grep -q 'BEGIN PGP' '$D/bightml.b'"
timed bigvindex "$U/pks/lookup?op=vindex&search=0x$V"
check "its vindex page is bounded ($(stat -c %s "$D/bigvindex.b") bytes) with 'truncated: N more signatures'" \
  bash -c "test $(code bigvindex) = 200 && test \$(stat -c %s '$D/bigvindex.b') -lt 65536 && grep -Eq 'truncated: [0-9]+ more signatures' '$D/bigvindex.b'"
# lookups of other keys while 20 clients fetch the big key's HTML pages
big() { local end=$((SECONDS + 5)); while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null -m 20 "$U/pks/lookup?op=vindex&search=0x$V"; curl -s -o /dev/null -m 20 "$U/pks/lookup?op=get&search=0x$V"; done; }
pids=(); for i in $(seq 20); do big & pids+=($!); done
sleep 1
for f in $(sed -n '1000,1100p' "$D/list" | cut -d' ' -f1); do
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -m 20 "$U/pks/lookup?op=get&options=mr&search=0x$f"
done >"$D/during"
wait "${pids[@]}"
echo "# lookups while 20 clients render the big key: median $(sort -k2 -n "$D/during" | awk '{ t[NR] = $2 } END { printf "%.3f s, max %.3f s", t[int((NR + 1) / 2)], t[NR] }')"
check "... 101 lookups of other keys answered 200" test "$(cut -d' ' -f1 "$D/during" | sort | uniq -c | awk '{ print $1, $2 }')" = "101 200"

# ---- expired jobs: 48 clients flood the costliest search with a 1 s deadline (a second gateway
# on the same cluster); each shard has one word-search worker, so the queue outgrows the deadline
expired() { "$OKS_BIN/oksctl" stats 2>/dev/null | awk '$1 ~ /^s[0-9]/ { n += $NF } END { print n + 0 }'; }
E0=$(expired)
P2=$(free_port)
sed -e "/^\[http\]/,/^\[/ s/^listen *=.*/listen = 127.0.0.1:$P2/" -e "/^\[http\]/,/^\[/ s/^deadline_ms *=.*//" \
  "$D/oks.conf" >"$D/fast.conf"
sed -i "/^\[http\]/a deadline_ms = 1000" "$D/fast.conf"
"$OKS_BIN/oks-gw-http" -c "$D/fast.conf" --log "$D/gw2.log" >"$D/gw2.out" 2>&1 &
GW2=$!
at_exit kill "$GW2"
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$P2/pks/health" ||
  { not_ok "a second gateway starts: $(tail -3 "$D/gw2.log" "$D/gw2.out")"; finish; }
U2=http://127.0.0.1:$P2
flood() { local end=$((SECONDS + 8)); while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null -w '%{http_code}\n' -m 5 "$U2/pks/lookup?op=index&options=mr&search=$Q16"; done; }
pids=(); for i in $(seq 48); do flood >"$D/flood.$i" & pids+=($!); done
wait "${pids[@]}"
timed fresh "$U/pks/lookup?op=index&options=mr&search=$Q16"
timed freshword "$U/pks/lookup?op=index&options=mr&search=$TOP"
E1=$(expired)
echo "# flood: $(cat "$D"/flood.* | sort | uniq -c | tr '\n' ' '); expired $E0 -> $E1"
check "the shards dropped queued requests whose deadline passed (expired $E0 -> $E1)" test "$E1" -gt "$E0"
check "a fresh costly search right after the flood is answered ($(code fresh)), not 503" answered fresh
check "a fresh one-word search too ($(code freshword))" test "$(code freshword)" = 200
finish
