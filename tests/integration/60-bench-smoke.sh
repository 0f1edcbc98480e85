#!/usr/bin/env bash
# oks-bench mint: keys minted from a seed are identical run to run, import into gpg with every
# signature good and every user ID present, and pass oksctl inspect with all self-signatures
# verified and none dropped (v4 and v6, with third-party certifications, binary, armored and
# dump folders). Then bench/run.sh --smoke runs end to end.
set -u
source "$(dirname "$0")/lib.sh"
H=$(gpg_home)
W=$(scratch_dir)
trap 'gpg_home_cleanup "$H"; rm -rf "$W"' EXIT
B=$OKS_BIN/oks-bench
g() { GNUPGHOME=$H gpg --batch --quiet "$@"; }

"$B" mint --count 30 --seed smoke --certs 2 --uids 1-3 --out "$W/a.pgp" --list "$W/a.lst" \
  2>/dev/null
"$B" mint --count 30 --seed smoke --certs 2 --uids 1-3 --out "$W/b.pgp" 2>/dev/null
check "same seed, same bytes" cmp -s "$W/a.pgp" "$W/b.pgp"
"$B" mint --count 30 --seed smoke --certs 2 --uids 1-3 --threads 3 --out "$W/t3.pgp" 2>/dev/null
check "same bytes with 3 minting threads" cmp -s "$W/a.pgp" "$W/t3.pgp"
"$B" mint --count 30 --seed other --out "$W/c.pgp" 2>/dev/null
check "another seed, other bytes" bash -c "! cmp -s '$W/a.pgp' '$W/c.pgp'"
check "list has one line per key" test "$(wc -l <"$W/a.lst")" -eq 30

# gpg: every key imported, every signature (self and third-party) good
GNUPGHOME=$H gpg --batch --import "$W/a.pgp" 2>"$W/imp.txt"
check "gpg imported all 30 keys" grep -q "imported: 30" "$W/imp.txt"
g --with-colons --list-keys >"$W/list.txt" 2>/dev/null
check "gpg lists 30 keys" test "$(grep -c '^pub:' "$W/list.txt")" -eq 30
nuids=$(grep -c '^uid:' "$W/list.txt")
check "gpg shows 30..90 user IDs ($nuids), none invalid or revoked" \
  bash -c "[ $nuids -ge 30 ] && [ $nuids -le 90 ] && ! grep -qE '^uid:[ire]:' '$W/list.txt'"
check "gpg shows one subkey per key" test "$(grep -c '^sub:' "$W/list.txt")" -eq 30
while read -r fpr email; do
  grep -q "^fpr:::::::::$fpr:" "$W/list.txt" || { not_ok "gpg knows $fpr"; break; }
done <"$W/a.lst"
g --check-sigs >"$W/sigs.txt" 2>&1
good=$(grep -c '^sig!' "$W/sigs.txt")
# one self-signature per user ID, one subkey binding per key, two certifications on each key
# but the first (which has no earlier key to certify it)
check "gpg: all $good signatures good, none bad or unchecked" \
  bash -c "[ $good -eq $((nuids + 30 + 58)) ] && ! grep -qE '^sig[-%?]' '$W/sigs.txt'"

# oksctl inspect: v4 and v6 keys, all self-signatures verified, none dropped
"$B" mint --count 40 --seed smoke6 --v6-ratio 0.5 --certs 1 --out "$W/m.pgp" 2>/dev/null
insp() { "$OKS_BIN/oksctl" inspect --json "$W/m.pgp" "$W/a.pgp" >"$W/insp.json" 2>"$W/insp.err"; }
check "oksctl inspect exits 0 on minted keys" insp
python3 - "$W/insp.json" <<'PY' && ok "inspect: 70 keys (v4 and v6), every self-signature verified, none dropped" || not_ok "inspect verdicts"
import json, sys
keys = [json.loads(l) for l in open(sys.argv[1])]
v = {k["version"] for k in keys}
bad = [k["fingerprint"] for k in keys if not k["verified"] or k["self_sigs_dropped"] or
       k["uids_dropped"] or k["subkeys_dropped"] or k["packets_dropped"] or k["self_sigs_verified"] < 2]
sys.exit(0 if len(keys) == 70 and v == {4, 6} and not bad else 1)
PY

# RSA-2048 primaries from a pool file: generated once, reused, same bytes; gpg and inspect
"$B" mint --count 12 --seed rsa --rsa-ratio 0.5 --rsa-pool "$W/rsa.pool" --rsa-pool-size 2 \
  --certs 1 --out "$W/r1.pgp" 2>/dev/null
"$B" mint --count 12 --seed rsa --rsa-ratio 0.5 --rsa-pool "$W/rsa.pool" --rsa-pool-size 2 \
  --certs 1 --out "$W/r2.pgp" 2>"$W/r2.err"
check "RSA pool holds 2 keys and is reused" bash -c "[ $(wc -l <"$W/rsa.pool") -eq 2 ] && ! grep -q generating '$W/r2.err'"
check "same RSA pool, same bytes" cmp -s "$W/r1.pgp" "$W/r2.pgp"
RH=$(gpg_home)
GNUPGHOME=$RH gpg --batch --import "$W/r1.pgp" 2>"$W/rimp.txt"
GNUPGHOME=$RH gpg --batch --check-sigs >"$W/rsigs.txt" 2>&1
GNUPGHOME=$RH gpg --batch --with-colons --list-keys >"$W/rlist.txt" 2>/dev/null
gpg_home_cleanup "$RH"
check "gpg imports the RSA keys (12 keys, some RSA)" \
  bash -c "grep -q 'imported: 12' '$W/rimp.txt' && grep -q '^pub:[^:]*:2048:1:' '$W/rlist.txt'"
check "gpg: every signature of the RSA set good" \
  bash -c "grep -q '^sig!' '$W/rsigs.txt' && ! grep -qE '^sig[-%?]' '$W/rsigs.txt'"
"$OKS_BIN/oksctl" inspect --json "$W/r1.pgp" >"$W/rinsp.json" 2>/dev/null
check "inspect: RSA keys verified, none dropped" python3 -c '
import json, sys
k = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(k) == 12 and any(x["algorithm"] == 1 for x in k) and
         all(x["verified"] and x["self_sigs_dropped"] == 0 for x in k) else 1)' "$W/rinsp.json"

# armored output and dump folders
"$B" mint --count 5 --seed smoke --armor --out "$W/a.asc" 2>/dev/null
check "armored keyring starts with the armor header" grep -q "^-----BEGIN PGP PUBLIC KEY BLOCK-----" "$W/a.asc"
"$B" mint --count 5 --seed smoke --out "$W/five.pgp" 2>/dev/null
"$OKS_BIN/oksctl" inspect "$W/a.asc" >"$W/asc.txt" 2>/dev/null
"$OKS_BIN/oksctl" inspect "$W/five.pgp" >"$W/five.txt" 2>/dev/null
check "armored keys are the binary keys" cmp -s "$W/asc.txt" "$W/five.txt"
"$B" mint --count 25 --seed smoke --dump-dir "$W/dump" --keys-per-file 10 2>/dev/null
check "dump folder: 3 files of 10, 10, 5 keys" \
  test "$(ls "$W/dump"/*.pgp | wc -l)" -eq 3 -a "$(cat "$W/dump"/*.pgp | "$OKS_BIN/oksctl" inspect - 2>/dev/null | grep -c '^pub:')" -eq 25

# bad arguments are refused
check "mint refuses a missing seed" bash -c "! '$B' mint --count 3 --out '$W/x.pgp' 2>/dev/null"
check "mint refuses --uids 4" bash -c "! '$B' mint --count 3 --seed s --uids 4 --out '$W/x.pgp' 2>/dev/null"

# load driver against a tiny HTTP server (python3 http.server, HTTP/1.0: a connection per
# request): the request cap and the duration hold, non-loopback targets are refused
P=$(free_port)
mkdir -p "$W/www"
(cd "$W/www" && exec python3 -m http.server --bind 127.0.0.1 "$P" 2>"$W/srv.log" >/dev/null) &
SRV=$!
trap 'kill $SRV 2>/dev/null; gpg_home_cleanup "$H"; rm -rf "$W"' EXIT
served() { grep -c '"GET /pks/lookup' "$W/srv.log"; }
if wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$P/"; then
  : >"$W/srv.log"
  "$B" mixed --url "http://127.0.0.1:$P" --list "$W/a.lst" --get 90 --index 10 --conns 4 \
    --duration 30 --max-requests 120 >"$W/cap.txt"
  check "request cap: the client reports 120 answered" grep -q "^summary started=120 answered=120 errors=0" "$W/cap.txt"
  served_all() { [ "$(served)" -ge 120 ]; }   # the server logs a request after answering it
  wait_for 60 served_all
  check "request cap: the server saw exactly 120 requests ($(served))" test "$(served)" -eq 120
  : >"$W/srv.log"
  timeout 30 "$B" mixed --url "http://127.0.0.1:$P" --list "$W/a.lst" --get 100 --index 0 \
    --conns 2 --rate 50 --duration 1 >"$W/dur.txt"
  check "duration: a 1 s run at 50 requests/s ends on its own" test $? -eq 0
  n=$(awk '/^summary/{sub("started=","",$2); print $2}' "$W/dur.txt")
  check "duration and rate: 1 s at 50/s started no more than 51 requests ($n)" test "${n:-0}" -ge 1 -a "${n:-0}" -le 51
  "$B" mint --count 3 --seed up --out "$W/up.pgp" 2>/dev/null
  "$B" upload --url "http://127.0.0.1:$P" --keys "$W/up.pgp" --duration 30 >"$W/up.txt"
  check "upload sends each key once, then stops (3 requests)" grep -q "^summary started=3 answered=3" "$W/up.txt"
else
  not_ok "python3 http.server came up"
fi
check "load driver refuses a non-loopback target" \
  bash -c "! '$B' upload --url http://192.0.2.1:80 --keys '$W/up.pgp' 2>/dev/null"

if bash "$OKS_ROOT/bench/run.sh" --smoke >"$W/smoke.txt" 2>&1; then ok "bench/run.sh --smoke"
else not_ok "bench/run.sh --smoke"; tail -20 "$W/smoke.txt"; fi
finish
