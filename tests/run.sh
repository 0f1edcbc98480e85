#!/usr/bin/env bash
# Test runner for `make check` and `make unit`.
#   tests/run.sh unit BUILD          unit tests + fuzz-corpus replays of one build tree
#   tests/run.sh all REL ASAN        unit tests of both trees, then tests/integration/*.sh
#   tests/run.sh integration [NAME]  integration scripts only (NAME: a substring filter)
# Unit binaries are cmocka; integration scripts print "ok - what" / "not ok - what" lines and
# exit non-zero on failure. The last line is the total: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
LOGDIR=$ROOT/build/test-logs
mkdir -p "$LOGDIR"
passed=0 failed=0
failures=()

count_cmocka() { # log name rc
  local p f
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$1" | tail -1)
  p=${p:-0} f=${f:-0}
  if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -gt 0 ] && failures+=("$2")
  printf '%-48s %3d passed %3d failed\n' "$2" "$p" "$f"
}

run_unit() { # build-tree
  local b=$1 t name log rc
  for t in "$b"/tests/*/test_*; do
    [ -x "$t" ] || continue
    name=${t#"$b"/tests/}; name="$b:$name"
    log=$LOGDIR/$(echo "$name" | tr '/:' '__').log
    ( cd "$ROOT" && timeout 600 "$t" ) >"$log" 2>&1; rc=$?
    count_cmocka "$log" "$name" "$rc"
    [ "$rc" -ne 0 ] && tail -30 "$log"
  done
  for t in "$b"/tests/replay/fuzz_*; do
    [ -x "$t" ] || continue
    name="$b:replay/${t##*/}"
    log=$LOGDIR/$(echo "$name" | tr '/:' '__').log
    timeout 600 "$t" "$ROOT/tests/fuzz/corpus/${t##*/fuzz_}" >"$log" 2>&1; rc=$?
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("$name"); tail -30 "$log"; fi
    printf '%-48s %s\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)"
  done
}

run_integration() { # [filter]
  local s name log rc p f
  export OKS_ROOT=$ROOT
  export OKS_BIN=${OKS_BIN:-$ROOT/build/bin}
  export OKS_ASAN_BIN=${OKS_ASAN_BIN:-$ROOT/build/asan/bin}
  for s in tests/integration/[0-9A-Z]*.sh; do
    [ -f "$s" ] || continue
    name=${s##*/}
    [ -n "${1:-}" ] && case "$name" in *"$1"*) ;; *) continue ;; esac
    log=$LOGDIR/integration_${name%.sh}.log
    echo "== $name"
    local t0=$SECONDS
    timeout --kill-after=60 "${OKS_TEST_TIMEOUT:-900}" bash "$s" >"$log" 2>&1 </dev/null; rc=$?
    p=$(grep -c '^ok - ' "$log"); f=$(grep -c '^not ok - ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "not ok - $name exited $rc" >>"$log"; fi
    passed=$((passed + p)); failed=$((failed + f))
    grep -E '^(ok|not ok) - ' "$log" | sed 's/^/   /'
    if [ "$f" -gt 0 ]; then failures+=("$name"); echo "---- tail of $log"; tail -40 "$log"; fi
    echo "   ($((SECONDS - t0)) s)"
  done
}

case "${1:-all}" in
  unit) run_unit "${2:-build}" ;;
  integration) run_integration "${2:-}" ;;
  all)
    run_unit "${2:-build}"
    run_unit "${3:-build/asan}"
    run_integration ;;
  *) echo "usage: tests/run.sh unit BUILD | all REL ASAN | integration [NAME]" >&2; exit 2 ;;
esac

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
