# Shared helpers for integration scripts (sourced). Each script runs with set -u, prints
# "ok - what" / "not ok - what" lines, and cleans up what it started (trap on EXIT).
: "${OKS_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OKS_BIN:=$OKS_ROOT/build/bin}"
: "${OKS_ASAN_BIN:=$OKS_ROOT/build/asan/bin}"
: "${OKS_SHARED:=$(cd "$OKS_ROOT/.." && pwd)/shared}"
export OKS_ROOT OKS_BIN OKS_ASAN_BIN OKS_SHARED

T_FAILED=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }
# check "description" command...: ok if the command succeeds
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { exit "$T_FAILED"; }

# A free TCP port on 127.0.0.1 (asks the kernel).
# (never one handed out recently to this machine's scripts: see deploy/free_port.py)
free_port() { /usr/bin/python3 "$OKS_ROOT/deploy/free_port.py"; }

# Scratch directory removed on exit; short path (SKS and dovecot need short socket paths).
scratch_dir() {
  local d
  d=$(mktemp -d /tmp/oks.XXXXXX)
  chmod 755 "$d"
  echo "$d"
}

# A fresh GnuPG home; its agents are killed by gpg_home_cleanup.
gpg_home() {
  local h
  h=$(mktemp -d /tmp/oksg.XXXXXX)
  chmod 700 "$h"
  echo "$h"
}
gpg_home_cleanup() { GNUPGHOME=$1 gpgconf --kill all >/dev/null 2>&1; rm -rf "$1"; }

# wait_for SECONDS command...: polls every 0.1 s until the command succeeds.
wait_for() {
  local t=$1; shift
  local end=$((SECONDS + t))
  while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
