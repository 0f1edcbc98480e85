#!/usr/bin/env bash
# bench/bulk.sh end to end at a tiny size: minted keys are cached and reused, every key reaches
# OKS (1 and 2 shards) and SKS, the re-import, disk and RSS columns are filled, the debian-keyring
# rows are there, and the import-rate plot is a PNG. bench/http.sh's large-key rows (keys of
# 50 KB or more from debian-keyring) are answered by OKS, SKS and h2o without errors.
set -u
source "$(dirname "$0")/lib.sh"
W=$(scratch_dir)
trap 'rm -rf "$W"' EXIT
cd "$OKS_ROOT" || exit 1

OKS_BENCH_CACHE=$W/cache bash bench/bulk.sh 300 1 2 >"$W/out.md" 2>"$W/err.txt"
check "bulk.sh 300 1 2 exits 0" test $? -eq 0 || tail -5 "$W/err.txt"
check "minted keys cached: 1 dump file and its marker" \
  test -f "$W/cache/bulk-300/done" -a "$(ls "$W/cache/bulk-300"/*.pgp | wc -l)" -eq 1
for s in 1 2; do
  row=$(grep -E "^\| OKS, $s shards? \| " "$W/out.md" | head -1)
  check "OKS, $s shard$([ $s = 1 ] || echo s): all 300 keys stored" grep -qE "^\| OKS, $s shards? \| 300 \| " <<<"$row"
  check "OKS, $s shards: CPU per key, re-import, disk and RSS columns filled" \
    awk -F'|' '{ exit !($7 ~ /[0-9.]+ \([0-9]+%\)/ && $8 + 0 > 0 && $9 + 0 > 0 && $10 ~ /[0-9]+ \/ [0-9]+/) }' <<<"$row"
done
check "SKS build row counts 300 keys and has a merge rate" grep -qE '^\| SKS build \| 300 \| .* \(merge\)' "$W/out.md"
check "verification ceiling measured (verifications/s and keys/s)" \
  grep -qE '\*\*[1-9][0-9]* verifications/s = [1-9][0-9]* keys/s\*\*' "$W/out.md"
check "debian-keyring rows: OKS 1 and 2 shards and SKS, 905 keys each" \
  test "$(grep -cE '^\| (OKS, [12] shards?|SKS build \(cleandb \+ pbuild\)) \| 905 \|' "$W/out.md")" -eq 3
check "no plot written into the tree without --write" test ! -e bench/import-rate-300-1-2.png

OKS_BENCH_CACHE=$W/cache bash bench/bulk.sh --no-sks 300 1 >"$W/out2.md" 2>&1
m1=$(grep -o 'minted once, then cached, at [0-9]* keys/s' "$W/out.md")
m2=$(grep -o 'minted once, then cached, at [0-9]* keys/s' "$W/out2.md")
check "second run reuses the cached keys (same mint line: $m1)" test -n "$m1" -a "$m1" = "$m2"
check "--no-sks: no SKS rows" bash -c "! grep -q '^| SKS' '$W/out2.md'"

bash bench/http.sh --shards 1 /usr/share/keyrings/debian-keyring.gpg 1 >"$W/http.md" 2>&1
check "http.sh exits 0" test $? -eq 0 || tail -5 "$W/http.md"
n=$(grep -o 'only the [0-9]* keys of 50 KB or more' "$W/http.md" | awk '{print $3}')
check "http.sh found large keys in debian-keyring (${n:-0})" test "${n:-0}" -gt 0
for w in OKS-get-large SKS-get-large h2o-large; do
  check "$w answered at 16 and 64 connections with no non-2xx" \
    test "$(grep -cE "^\| $w \| (16|64) \| [0-9.]+[1-9][0-9.]* \| .* \| 0 \|$" "$W/http.md")" -eq 2
done
check "http.sh reports peak RSS of OKS and SKS" grep -qE '^Peak RSS .*shard-s0 [0-9]+ MiB.*SKS db [1-9][0-9]* MiB' "$W/http.md"
finish
