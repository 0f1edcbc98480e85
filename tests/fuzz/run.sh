#!/usr/bin/env bash
# make fuzz: build every tests/fuzz/fuzz_*.c with clang + libFuzzer and run each for N seconds
# over a working copy of its seed corpus (tests/fuzz/corpus/NAME); `run.sh N NAME...` (make fuzz
# FUZZ_ONLY="NAME...") builds and runs only those targets (NAME: moverec for fuzz_moverec.c).
# New crashes are written to build/fuzz/crashes/NAME/; copy a reproducer into the seed corpus to
# keep it as a regression test.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
shift || true
ONLY=" $* "
B=build/fuzz
mkdir -p "$B/gen" "$B/obj" "$B/bin"
CFLAGS=(-std=gnu11 -pthread -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -I. -I"$B/gen" -O1 -g
        -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined)
LIBS=(-lleveldb -lzmq -lgcrypt -lgpg-error -ljansson -lh2o-evloop -lssl -lcrypto -letpan -lprotobuf-c -linih -lknot -lm -lstdc++ -lsystemd -lmicrohttpd -lcurl)
objs=()
if [ -f proto/oks.proto ]; then
  protoc-c --c_out="$B/gen" proto/oks.proto
  clang "${CFLAGS[@]}" -c -o "$B/obj/oks.pb-c.o" "$B/gen/proto/oks.pb-c.c"
  objs+=("$B/obj/oks.pb-c.o")
fi
for f in lib/*.c; do
  o=$B/obj/lib_$(basename "${f%.c}").o
  clang "${CFLAGS[@]}" -c -o "$o" "$f"
  objs+=("$o")
done
status=0
for t in tests/fuzz/fuzz_*.c; do
  name=$(basename "${t%.c}"); short=${name#fuzz_}
  [ "$ONLY" = "  " ] || [[ "$ONLY" == *" $short "* ]] || continue
  clang "${CFLAGS[@]}" -fsanitize=fuzzer -o "$B/bin/$name" "$t" "${objs[@]}" "${LIBS[@]}"
  work=$B/corpus/$short; mkdir -p "$work" "$B/crashes/$short"
  [ -d "tests/fuzz/corpus/$short" ] && cp -n tests/fuzz/corpus/"$short"/* "$work"/ 2>/dev/null || true
  echo "== $name for ${SECS}s"
  if ! "$B/bin/$name" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$B/crashes/$short/" "$work" 2>"$B/$name.log"; then
    echo "FAILED: $name (see $B/$name.log and $B/crashes/$short/)"; tail -30 "$B/$name.log"; status=1
  else
    tail -2 "$B/$name.log"
  fi
done
exit $status
