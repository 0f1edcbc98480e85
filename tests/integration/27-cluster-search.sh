#!/usr/bin/env bash
# Word searches on 20,000 minted keys in 2 shards: every multi-word search answers exactly the
# keys whose user IDs hold all its words (computed here from `oksctl inspect`), repeated words
# count once, and the search flood that used to stall the cluster (16 common words from 4
# clients at once) leaves lookups of other keys answered, with no 5xx for anyone.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
at_exit rm -rf "$D"
P=$(free_port)
"$OKS_BIN/oks-bench" mint --count 20000 --seed search-cost --uids 1-3 --out "$D/keys.pgp" \
  --list "$D/list" >/dev/null 2>&1 || { not_ok "20,000 keys minted"; finish; }
cluster_up "$D" --shards 2 --http-port "$P" || { not_ok "cluster starts"; finish; }
export OKS_CONFIG=$D/oks.conf
"$OKS_BIN/oksctl" import "$D/keys.pgp" >"$D/import.out" 2>&1
check "20,000 keys imported ($(tail -1 "$D/import.out"))" grep -q ' 20000 new' "$D/import.out"
U=http://127.0.0.1:$P

# "FPR word word ..." per key: the SKS words of all its user IDs (bytes A-Z a-z 0-9 and
# >= 0xC0 make words, lowercased), as the shards index them
"$OKS_BIN/oksctl" inspect "$D/keys.pgp" 2>/dev/null | LC_ALL=C awk -F: '
  /^pub:/ { if (f) print f, w; f = $2; w = "" }
  /^uid:/ { u = tolower($2); gsub(/[^a-z0-9\300-\377]+/, " ", u); w = w " " u }
  END { if (f) print f, w }' >"$D/words"
check "words of every key listed" test "$(wc -l <"$D/words")" -eq 20000
expect() { # words... -> the fingerprints holding them all, sorted
  LC_ALL=C awk -v q="$*" 'BEGIN { n = split(q, t, " ") }
    { delete h; for (i = 2; i <= NF; i++) h[$i] = 1; ok = 1
      for (j = 1; j <= n; j++) if (!(t[j] in h)) ok = 0
      if (ok) print $1 }' "$D/words" | sort
}
answer() { # query -> the fingerprints answered, sorted (HKP machine-readable index)
  curl -s "$U/pks/lookup?op=index&options=mr&search=$1" | awk -F: '/^pub:/ { print $2 }' | sort
}
# pick word pairs and triples from real keys, so that the answers are small and not empty
read -r _ a b c _ < <(sed -n '137p' "$D/words")
read -r _ d e _ < <(sed -n '9001p' "$D/words")
for q in "$a $b" "$a $b $c" "$d $e" "$b $e" "$c $d $a"; do
  exp=$(expect $q) got=$(answer "$(tr ' ' '+' <<<"$q")")
  n=$(grep -c . <<<"$exp")
  if [ "$n" -gt 500 ]; then ok "search '$q': $n keys, over the answer limit (not compared)"; continue; fi
  check "search '$q' answers exactly the $n keys holding every word" test "$exp" = "$got"
done
exp=$(expect "$a $b") got=$(answer "$a+$b+$a+$b+$a+$a+$a+$a+$a+$a+$a+$a+$a+$a+$a+$a")
check "repeated words count once" test "$exp" = "$got"

# the flood: 4 clients, each a loop of the worst searches (16 common words, the same word 16
# times), for 8 seconds, while 200 lookups of other keys run
common=$(LC_ALL=C awk '{ for (i = 2; i <= NF; i++) c[$i]++ } END { for (w in c) print c[w], w }' "$D/words" |
  sort -rn | head -16 | awk '{ printf "%s%s", (NR > 1 ? "+" : ""), $2 }')
top=${common%%+*}
flood() {
  local end=$((SECONDS + 8)) q
  while [ $SECONDS -lt $end ]; do
    for q in "$common" "$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top+$top"; do
      curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$U/pks/lookup?op=index&options=mr&search=$q"
    done
  done
}
for i in 1 2 3 4; do flood >"$D/flood.$i" & done
sleep 1
for f in $(shuf -n 200 --random-source=<(yes) "$D/list" | cut -d' ' -f1); do
  curl -s -o /dev/null -w '%{http_code}\n' --max-time 20 "$U/pks/lookup?op=get&options=mr&search=0x$f"
done >"$D/lookups"
wait
check "lookups of other keys during the flood: all 200 ($(sort "$D/lookups" | uniq -c | tr '\n' ' '))" \
  test "$(sort -u "$D/lookups")" = 200
cat "$D"/flood.* >"$D/flood"
check "the flood itself got answers, no 5xx ($(sort "$D/flood" | uniq -c | tr '\n' ' '))" \
  bash -c "! grep -q '^5' '$D/flood' && test -s '$D/flood'"
check "/pks/health answers after the flood" test "$(http_code "$U/pks/health")" = 200
finish
