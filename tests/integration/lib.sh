# Shared helpers for integration scripts (sourced). Each script runs with set -u, prints
# "ok - what" / "not ok - what" lines, and cleans up what it started (at_exit below, or its
# own EXIT trap).
: "${OKS_ROOT:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${OKS_BIN:=$OKS_ROOT/build/bin}"
: "${OKS_ASAN_BIN:=$OKS_ROOT/build/asan/bin}"
: "${OKS_HARNESS:=$OKS_ROOT/tests/harness}"
export OKS_ROOT OKS_BIN OKS_ASAN_BIN OKS_HARNESS

T_FAILED=0
ok()     { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; T_FAILED=1; }
# check "description" command...: ok if the command succeeds
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { exit "$T_FAILED"; }

# at_exit command [args...]: run at exit, the last registered first (the servers a script
# started stop before its own cleanup removes their directories). A script that uses this (or
# the *_start helpers below) must not set its own EXIT trap: it registers its cleanup here.
# SIGTERM and SIGINT (a test's time limit, ^C) exit through the same path.
OKS_AT_EXIT=()
at_exit() { OKS_AT_EXIT+=("$(printf '%q ' "$@")"); }
oks_run_at_exit() {
  local i
  for ((i = ${#OKS_AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${OKS_AT_EXIT[i]}"; done
  OKS_AT_EXIT=()
}
trap oks_run_at_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# A free TCP port on 127.0.0.1 (asks the kernel).
# (never one handed out recently to this machine's scripts: see deploy/free_port.py)
free_port() { /usr/bin/python3 "$OKS_ROOT/deploy/free_port.py"; }
# True once something listens on 127.0.0.1:PORT (asks the kernel; does not connect).
listening() { ss -Hltn "src 127.0.0.1:$1" | grep -q .; }

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

# wait_for SECONDS command...: polls every 0.1 s until the command succeeds. It waits at least
# OKS_WAIT_MIN seconds (default 120) whatever SECONDS says: a loaded machine may take that long
# for what takes a second when it is idle, and waiting longer costs time only when the command
# never succeeds (a test fails then).
wait_for() {
  local t=$1; shift
  [ "$t" -ge "${OKS_WAIT_MIN:-120}" ] 2>/dev/null || t=${OKS_WAIT_MIN:-120}
  local end=$((SECONDS + t))
  while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# cluster_up DIR [deploy/local.sh up options...]: a local cluster in DIR (state, logs and the
# config DIR/oks.conf), stopped at exit.
cluster_up() {
  local dir=$1; shift
  at_exit cluster_down "$dir"
  bash "$OKS_ROOT/deploy/local.sh" up --dir "$dir" "$@" >/dev/null
}
cluster_down() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$1" >/dev/null 2>&1; }

# http_code URL [curl options...]: the status code of a request (000 when none came back)
http_code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

# ---- reference servers (tests/harness/): each *_start registers its stop with at_exit

# sks_start DIR HKP_PORT RECON_PORT [KEYRING...]: a private SKS 1.1.6 on 127.0.0.1 whose
# database holds the keyrings (none: empty). Environment: SKS_PARTNERS="PORT[,PORT]" (recon
# partners on 127.0.0.1), SKS_GOSSIP_SECONDS. Sets SKS_KEYS (keys in SKS's database) and SKS_LOG
# (its log directory). Fails with SKS's log tail on stderr.
sks_start() {
  local out
  at_exit sks_stop "$1"
  out=$(bash "$OKS_HARNESS/sks.sh" start "$@") || return 1
  eval "$(grep -E '^SKS_[A-Z_]+=[-/.A-Za-z0-9_]*$' <<<"$out")"
}
sks_stop() { bash "$OKS_HARNESS/sks.sh" stop "$1" >/dev/null 2>&1; }

# mail_start DIR POP3_PORT SMTP_PORT: the mail stack (dovecot POP3 and an SMTP receiver) with
# the accounts keyserver, keyserver2, alice, bob (password "secret"); mail of USER lands in
# DIR/mail/USER/new. Files put there by hand must be chowned like the directory (mail_owner).
mail_start() {
  at_exit mail_stop "$1"
  bash "$OKS_HARNESS/mail.sh" start "$@"
}
mail_stop() { bash "$OKS_HARNESS/mail.sh" stop "$1" >/dev/null 2>&1; }
# mail_ctl pop3|smtp|down|up DIR ...: more servers on the same Maildirs, outages and restarts
# (see tests/harness/mail.sh); all of them stop with mail_stop DIR.
mail_ctl() { bash "$OKS_HARNESS/mail.sh" "$@"; }
mail_owner() { stat -c %u:%g "$1/mail"; }
