#!/usr/bin/env bash
# Bulk import benchmark (the "Bulk import" section of bench/RESULTS.md for 100000 keys into 2 and
# 4 shards; "Bulk import, N keys, shards S..." for other sizes or shard counts): COUNT minted keys (an SKS-style dump folder, cached between
# runs) imported with `oksctl import` into fresh OKS clusters of each SHARDS count
# (deploy/local.sh, verification on), then the same files a second time; the same dump built
# into SKS (`sks build`, then `cleandb` + `pbuild` as a served SKS needs) and merged a second
# time (`sks merge`); debian-keyring.gpg the same way. Also measured in the same run: the
# verification ceiling of the box on the same keys (oksctl inspect on all cores, with and
# without verification), peak RSS (VmHWM) of every OKS process and of SKS, bytes on disk per
# key, and the import rate over time (`oksctl stats` polled every second; gnuplot plot
# bench/import-rate.png, or import-rate-N-S....png for other sizes or shard counts).
# usage: bench/bulk.sh [--write] [--budget SECONDS] [--no-sks] COUNT [SHARDS...]
#   --budget S  stop each fresh OKS import after S seconds (counts what got in; no re-import)
#   --no-sks    skip SKS (for sizes where only OKS is wanted)
# Keys: `oks-bench mint --count COUNT --seed bulk --dump-dir DIR --keys-per-file
# 10000` (v4 Ed25519 + cv25519, 1-3 user IDs; no v6, which SKS 1.1.6 cannot read), cached in $OKS_BENCH_CACHE (default
# ~/.cache/oks-bench/bulk-COUNT).
set -euo pipefail
cd "$(dirname "$0")/.."
WRITE=0 BUDGET=0 SKS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --write) WRITE=1; shift ;;
    --budget) BUDGET=$2; shift 2 ;;
    --no-sks) SKS=0; shift ;;
    *) break ;;
  esac
done
N=${1:?usage: bench/bulk.sh [--write] [--budget SECONDS] [--no-sks] COUNT [SHARDS...]}; shift
SHARDS=("$@"); [ ${#SHARDS[@]} -gt 0 ] || SHARDS=(2 4)
KR=${OKS_BENCH_KEYRING:-/usr/share/keyrings/debian-keyring.gpg}
B=build/bin
CORES=$(nproc)
# how the shards read table files ([shard] table_reads; OKS_SHARD_OPTS="table_reads=mmap" is
# passed on by deploy/local.sh); read back from the cluster config below
TABLE_READS=pread
D=$(mktemp -d /tmp/oksk.XXXXXX)
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
  for c in "$D"/c*; do [ -d "$c" ] && bash deploy/local.sh down --dir "$c" >/dev/null 2>&1; done
  rm -rf "$D"
}
trap cleanup EXIT
now() { date +%s.%N; }
calc() { echo "$*" | bc -l; }
hwm() { awk '/VmHWM/{printf "%.0f", $2 / 1024}' "/proc/$1/status" 2>/dev/null || echo 0; }
total_keys() { OKS_CONFIG=$1/oks.conf "$B/oksctl" stats 2>/dev/null | awk '/^total keys:/{print $3}'; }

# --- keys (minted once, reused)
CACHE=${OKS_BENCH_CACHE:-$HOME/.cache/oks-bench}/bulk-$N
if [ ! -f "$CACHE/done" ]; then
  rm -rf "$CACHE"; mkdir -p "$CACHE"
  t0=$(now)
  "$B/oks-bench" mint --count "$N" --seed bulk --threads "$CORES" \
    --dump-dir "$CACHE" --keys-per-file 10000 2>/dev/null
  t1=$(now)
  printf '%.0f\n' "$(calc "$N / ($t1 - $t0)")" >"$CACHE/done"
fi
MINT_RATE=$(cat "$CACHE/done")
FILES=("$CACHE"/oks-bench-*.pgp)
BYTES=$(cat "${FILES[@]}" | wc -c)

# --- verification ceiling on a sample of the same keys (the first 10,000 or all), measured
# before and after the OKS imports (other load on the box moves it); the higher one counts
SAMPLE=("${FILES[0]}")
"$B/oksctl" inspect --json "${SAMPLE[@]}" >"$D/sample.json"
read -r SK SSIGS < <(awk -F'"self_sigs_verified":' '{split($2, a, ","); s += a[1]; n++} END {print n, s}' "$D/sample.json")
CEILS=() VCPU=()
ceiling() { # appends "verifications/s keys/s inspect-keys/s" to CEILS, CPU ms per key to VCPU
  local t0 t1 t2 tv tnv cv cnv
  t0=$(now); /usr/bin/time -f '%U %S' -o "$D/cv" "$B/oksctl" inspect --threads "$CORES" "${SAMPLE[@]}" >/dev/null; t1=$(now)
  /usr/bin/time -f '%U %S' -o "$D/cnv" "$B/oksctl" inspect --no-verify --threads "$CORES" "${SAMPLE[@]}" >/dev/null; t2=$(now)
  tv=$(calc "$t1 - $t0"); tnv=$(calc "$t2 - $t1")
  cv=$(awk 'END {print $1 + $2}' "$D/cv"); cnv=$(awk 'END {print $1 + $2}' "$D/cnv")
  CEILS+=("$(printf '%.0f %.0f %.0f' "$(calc "$SSIGS / ($tv - $tnv)")" "$(calc "$SK / ($tv - $tnv)")" "$(calc "$SK / $tv")")")
  VCPU+=("$(printf '%.3f' "$(calc "1000 * ($cv - $cnv) / $SK")")")
}
cpu_of() { # CPU seconds (user + system) of a running process
  awk -v t="$(getconf CLK_TCK)" '{print ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0
}
ceiling

# --- OKS: one fresh cluster per shard count
: >"$D/oks.rows"; : >"$D/rss.rows"; : >"$D/deb.rows"
for S in "${SHARDS[@]}"; do
  C=$D/c$S
  bash deploy/local.sh up --dir "$C" --shards "$S" >/dev/null
  TABLE_READS=$(awk -F' *= *' '$1 == "table_reads" {v = $2} END {print v ? v : "pread"}' "$C/oks.conf")
  (t0=$(date +%s.%N)
   while :; do
     k=$(total_keys "$C"); [ -n "$k" ] && echo "$(echo "$(date +%s.%N) - $t0" | bc -l) $k"
     # resident memory of each shard, split into anonymous and file-backed (KiB)
     for f in "$C"/run/shard*.pid; do
       awk -v p="$(basename "$f" .pid)" '/^RssAnon/{a = $2} /^RssFile/{f = $2} END {print p, a, f}' \
         "/proc/$(cat "$f")/status" >>"$D/mem-$S.dat"
     done
     sleep 1
   done) >"$D/rate-$S.dat" 2>/dev/null &
  SAMPLER=$!
  t0=$(now); rc=0
  lim=(); [ "$BUDGET" -gt 0 ] && lim=(timeout "$BUDGET")
  /usr/bin/time -f '%M %U %S' -o "$D/imp-rss-$S" "${lim[@]}" \
    env OKS_CONFIG="$C/oks.conf" "$B/oksctl" import --quiet "$CACHE" >"$D/imp1-$S" 2>&1 || rc=$?
  t1=$(now)
  cpu=$(awk 'END {print $2 + $3}' "$D/imp-rss-$S")
  for f in "$C"/run/*.pid; do cpu=$(calc "$cpu + $(cpu_of "$(cat "$f")")"); done
  kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null || true; SAMPLER=
  stored=$(total_keys "$C")
  fresh=$(calc "$stored / ($t1 - $t0)")
  if [ "$rc" = 124 ]; then reimp=-; note="stopped after ${BUDGET} s"
  elif [ "$rc" != 0 ]; then echo "oksctl import failed ($rc):" >&2; cat "$D/imp1-$S" >&2; exit 1
  else
    t2=$(now); OKS_CONFIG=$C/oks.conf "$B/oksctl" import --quiet "$CACHE" >"$D/imp2-$S"; t3=$(now)
    reimp=$(printf '%.0f' "$(calc "$N / ($t3 - $t2)")"); note="all keys"
  fi
  disk=$(du -sb "$C"/data | awk '{print $1}')
  rss=""; shard_max=0
  for f in "$C"/run/*.pid; do
    p=$(basename "$f" .pid); m=$(hwm "$(cat "$f")")
    during=$(awk -v p="$p" '$1 == p {if ($2 > a) a = $2; if ($3 > f) f = $3}
      END {if (a + f) printf "; during the fresh import, sampled each second, at most anon %.0f / file %.0f", a / 1024, f / 1024}' "$D/mem-$S.dat" 2>/dev/null)
    rss+="$p $m MiB (after: $(awk '/^RssAnon/{a = $2} /^RssFile/{f = $2} END {printf "anon %.0f, file %.0f", a / 1024, f / 1024}' "/proc/$(cat "$f")/status")$during), "
    case $p in shard*) [ "$m" -gt "$shard_max" ] && shard_max=$m ;; esac
  done
  echo "$S $stored $(printf '%.1f' "$(calc "$t1 - $t0")") $(printf '%.0f' "$fresh") $reimp $(( disk / (stored > 0 ? stored : 1) )) $shard_max $(( $(awk 'END {print $1}' "$D/imp-rss-$S") / 1024 )) $(printf '%.3f' "$(calc "1000 * $cpu / $(( stored > 0 ? stored : 1 ))")")|$note" >>"$D/oks.rows"
  echo "$S|${rss%, }" >>"$D/rss.rows"
  bash deploy/local.sh down --dir "$C" >/dev/null
  rm -rf "$C"

  # debian-keyring: the same steps on a fresh cluster
  bash deploy/local.sh up --dir "$C" --shards "$S" >/dev/null
  t0=$(now); OKS_CONFIG=$C/oks.conf "$B/oksctl" import --quiet "$KR" >/dev/null; t1=$(now)
  OKS_CONFIG=$C/oks.conf "$B/oksctl" import --quiet "$KR" >/dev/null; t2=$(now)
  dk=$(total_keys "$C")
  echo "OKS, $S shard$([ "$S" = 1 ] || echo s)|$dk|$(printf '%.0f' "$(calc "$dk / ($t1 - $t0)")")|$(printf '%.0f' "$(calc "$dk / ($t2 - $t1)")")" >>"$D/deb.rows"
  bash deploy/local.sh down --dir "$C" >/dev/null
  rm -rf "$C"
done

ceiling
read -r CEIL_SIGS CEIL_KEYS INSPECT_KEYS < <(printf '%s\n' "${CEILS[@]}" | sort -n -k2 | tail -1)
VCPU_MS=$(printf '%s\n' "${VCPU[@]}" | sort -n | head -1)

# --- SKS: build (+ cleandb + pbuild), then the same files merged again
sks_dir() { local S=$1; rm -rf "$S"; mkdir -p "$S/var/lib/sks" "$S/etc/sks" "$S/var/log/sks"; cp /dev/null "$S/etc/sks/sksconf"; }
sks_run() { # sks_run DIR CMD ARGS...: prints "seconds peak-RSS-KiB"
  local S=$1 cmd=$2; shift 2
  (cd "$S" && /usr/bin/time -f '%e %M' -o "$S/t" sks "$cmd" -basedir "$S" "$@" >>"$S/out" 2>&1) ||
    { echo "sks $cmd failed:" >&2; tail -5 "$S/out" >&2; return 1; }
  tail -1 "$S/t"
}
sks_cleandb() { # sks cleandb may crash on its first run (Debian's sks_build.sh runs it twice)
  local t0 t1; t0=$(now)
  (cd "$1" && { sks cleandb -basedir "$1" || sks cleandb -basedir "$1"; } >>"$1/out" 2>&1) ||
    { echo "sks cleandb failed:" >&2; tail -5 "$1/out" >&2; return 1; }
  t1=$(now); echo "$(calc "$t1 - $t0") 0"
}
SKS_ROW=""
if [ $SKS -eq 1 ]; then
  S=$D/sks; sks_dir "$S"
  read -r tb mb < <(sks_run "$S" build "${FILES[@]}" -n 10 -cache 100)
  read -r tc mc < <(sks_cleandb "$S")
  read -r tp mp < <(sks_run "$S" pbuild -cache 20 -ptree_cache 70)
  read -r tm mm < <(sks_run "$S" merge "${FILES[@]}")
  sdisk=$(du -sb "$S/var/lib/sks" | awk '{print $1}')
  peak=$(printf '%s\n' "$mb" "$mc" "$mp" "$mm" | sort -n | tail -1)
  SKS_ROW="$tb $tc $tp $tm $(( sdisk / N )) $(( peak / 1024 ))"
  S=$D/sksd; sks_dir "$S"; cp "$KR" "$D/deb.pgp"
  read -r db _ < <(sks_run "$S" build "$D/deb.pgp" -n 10 -cache 100)
  read -r dc _ < <(sks_cleandb "$S")
  read -r dp _ < <(sks_run "$S" pbuild -cache 20 -ptree_cache 70)
  read -r dm _ < <(sks_run "$S" merge "$D/deb.pgp")
  dk=$(awk -F'|' 'NR==1{print $2}' "$D/deb.rows")
  echo "SKS build (cleandb + pbuild)|$dk|$(printf '%.0f (%.0f)' "$(calc "$dk / $db")" "$(calc "$dk / ($db + $dc + $dp)")")|$(printf '%.0f' "$(calc "$dk / $dm")")" >>"$D/deb.rows"
fi

# --- plot: keys/s over time, from the stats samples
TAG=""; sec_name="Bulk import"
if [ "$N" != 100000 ] || [ "${SHARDS[*]}" != "2 4" ]; then
  TAG="-$N-$(IFS=-; echo "${SHARDS[*]}")"; sec_name="Bulk import, $N keys, shards ${SHARDS[*]}"
fi
PNG=$D/import-rate.png; [ $WRITE -eq 1 ] && PNG=bench/import-rate$TAG.png
plot=""
for S in "${SHARDS[@]}"; do
  awk 'NR > 1 && $1 > t { printf "%.1f %.0f\n", ($1 + t) / 2, ($2 - k) / ($1 - t) } { t = $1; k = $2 }' \
    "$D/rate-$S.dat" >"$D/rate-$S.plot"
  plot+="\"$D/rate-$S.plot\" using 1:2 with lines lw 2 title \"OKS, $S shard$([ "$S" = 1 ] || echo s)\", "
done
gnuplot <<GP
set terminal png size 900,420
set output "$PNG"
set title "oksctl import of $N minted keys (sampled every second with oksctl stats)"
set xlabel "seconds since the import started"
set ylabel "keys stored per second"
set yrange [0:*]
set key top right opaque box
set offsets 0, 0, graph 0.3, 0
plot ${plot}$CEIL_KEYS with lines dt 2 title "verification ceiling (inspect, $CORES threads)"
GP
test -s "$PNG"

section() {
  echo "## $sec_name"
  echo
  echo "- machine: $CORES cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), $(free -g | awk '/Mem:/{print $2}') GiB; libgcrypt $(dpkg-query -W -f='${Version}' libgcrypt20 2>/dev/null); SKS 1.1.6 (Debian)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- command: \`bash bench/bulk.sh$([ $WRITE -eq 1 ] && echo ' --write')$([ "$BUDGET" -gt 0 ] && echo " --budget $BUDGET")$([ $SKS -eq 0 ] && echo ' --no-sks') $N ${SHARDS[*]}\`"
  echo "- keys: \`oks-bench mint --count $N --seed bulk --dump-dir DIR --keys-per-file 10000\`"
  echo "  (v4 Ed25519 + cv25519, no v6: SKS 1.1.6 rejects v6 keys, 1-3 user IDs; $(( BYTES / N )) bytes per key, $(( BYTES / 1048576 )) MiB in ${#FILES[@]} files;"
  echo "  minted once, then cached$(case $MINT_RATE in *[!0-9]*) echo ": $MINT_RATE" ;; *) echo ", at $MINT_RATE keys/s on $CORES threads" ;; esac)). OKS: \`oksctl import DIR\` into a fresh"
  echo "  cluster from \`deploy/local.sh up --shards S\` (batches of 64 keys, 16 in flight), then again."
  [ $SKS -eq 0 ] || echo "  SKS: \`sks build FILES -n 10 -cache 100\`, \`sks cleandb\`, \`sks pbuild -cache 20 -ptree_cache 70\`,"
  [ $SKS -eq 0 ] || echo "  then \`sks merge FILES\` (the same keys again)."
  echo "- verification ceiling, same run: \`oksctl inspect --threads $CORES\` on the first $SK keys ($SSIGS self-signatures),"
  echo "  with and without verification, before and after the OKS imports: $(printf '%s\n' "${CEILS[@]}" | awk '{printf "%s%s verifications/s (%s keys/s)", (NR > 1 ? " and " : ""), $1, $2}');"
  echo "  the higher counts: **$CEIL_SIGS verifications/s = $CEIL_KEYS keys/s** (inspect end to end: $INSPECT_KEYS keys/s)"
  echo
  echo "- CPU ms/key: CPU time (user + system) of every OKS process and of oksctl during the fresh import, per"
  echo "  stored key; verification alone costs $VCPU_MS ms of CPU per key (inspect with minus without"
  echo "  verification); the share by CPU = $VCPU_MS / CPU ms/key does not depend on other load on the box."
  echo
  echo "| importer | keys stored | fresh s | fresh keys/s | share of ceiling | CPU ms/key (share by CPU) | again keys/s | disk bytes/key | peak RSS (largest shard / importer) MiB |"
  echo "|---|---|---|---|---|---|---|---|---|"
  while IFS='|' read -r row note; do
    set -- $row
    printf '| OKS, %s shard%s | %s%s | %s | %s | %.0f%% | %s (%.0f%%) | %s | %s | %s / %s |\n' "$1" "$([ "$1" = 1 ] || echo s)" "$2" \
      "$([ "$note" = "all keys" ] || echo " ($note)")" "$3" "$4" "$(calc "100 * $4 / $CEIL_KEYS")" "$9" "$(calc "100 * $VCPU_MS / $9")" "$5" "$6" "$7" "$8"
  done <"$D/oks.rows"
  if [ -n "$SKS_ROW" ]; then
    set -- $SKS_ROW
    printf '| SKS build | %s | %.1f | %.0f | — | | %.0f (merge) | %s | %s (largest of build, pbuild, merge) |\n' \
      "$N" "$1" "$(calc "$N / $1")" "$(calc "$N / $4")" "$5" "$6"
    printf '| SKS build + cleandb + pbuild | %s | %.1f | %.0f | — | | | | |\n' "$N" "$(calc "$1 + $2 + $3")" "$(calc "$N / ($1 + $2 + $3)")"
  fi
  echo
  echo "Peak RSS (VmHWM) of every OKS process over both imports, with its anonymous and file-backed"
  echo "(mapped files: binaries, libraries and, with \`[shard] table_reads = mmap\`, LevelDB tables) parts"
  echo "after them, in MiB; shards read LevelDB tables with $TABLE_READS ([shard] table_reads, docs/shard.md \"Shard memory\"):"
  while IFS='|' read -r S r; do echo "- $S shard$([ "$S" = 1 ] || echo s): $r"; done <"$D/rss.rows"
  echo
  echo "Import rate over time: bench/import-rate$TAG.png."
  echo
  echo "| $(basename "$KR") | keys | fresh keys/s | again keys/s |"
  echo "|---|---|---|---|"
  awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$D/deb.rows"
}
section | tee "$D/section.md"
if [ $WRITE -eq 1 ]; then
  /usr/bin/python3 bench/write_section.py bench/RESULTS.md "$D/section.md" "$sec_name"
fi
