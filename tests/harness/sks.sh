#!/usr/bin/env bash
# A private SKS 1.1.6 keyserver (Debian package `sks`) on 127.0.0.1, the reference peer of the
# tests and benchmarks for HKP answers and recon.
#
#   sks.sh start DIR HKP_PORT RECON_PORT [KEYRING...]
#       Builds the key database under DIR from the keyrings (binary or armored OpenPGP; none:
#       an empty database; a DIR that already holds a database keeps it when no keyring is
#       given), starts `sks db` and `sks recon`, and returns once HKP answers op=stats and recon
#       has set up its prefix tree. Prints shell-sourceable lines: SKS_DIR, SKS_HKP_PORT,
#       SKS_RECON_PORT, SKS_DB_PID, SKS_RECON_PID, SKS_KEYS (keys in the database) and SKS_LOG
#       (the log directory; recon.log there lists the hashes recon recovers).
#   sks.sh stop DIR
#       Stops both (SIGTERM, SIGKILL after 30 s); quiet and successful when nothing runs.
#
# Environment: SKS_PARTNERS="PORT[,PORT...]" recon partners on 127.0.0.1; SKS_GOSSIP_SECONDS
# (default 60); SKS_START_TIMEOUT (default 120 s, the database build included).
#
# What this relies on (Debian's build of SKS 1.1.6):
#  - `sks -basedir D` reads D/etc/sks/sksconf and keeps D/var/lib/sks/{DB,PTree}, logs in
#    D/var/log/sks and its command sockets in D/var/run/sks: D must be short (Unix socket paths
#    are at most 107 bytes), so it is refused beyond 70 characters.
#  - SKS gossips only with partners whose address differs from its own `hostname`, and looks a
#    name up in DNS; `hostname: ::1` is numeric and not 127.0.0.1.
#  - An empty database: `sks build` of an empty file; cleandb and pbuild fail on zero keys and
#    are not needed (recon creates an empty tree).
#  - Peers compare their dataset filters at the start of recon: one built from keyrings (with
#    cleandb) announces yminsky.dedup,yminsky.merge, an empty one only yminsky.dedup.
set -u

die() { echo "sks.sh: $*" >&2; exit 1; }
SKS=${SKS:-/usr/sbin/sks}

# pid_of DIR ROLE: the recorded pid of `sks ROLE` in DIR if that process still runs it
pid_of() {
  local p cmd
  p=$(cat "$1/sks-$2.pid" 2>/dev/null) || return 1
  [[ $p =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"-basedir $1 $2"* ]] || return 1
  running "$p" && echo "$p"
}
# running PID: the process exists and is not a zombie
running() {
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
listening() { # PORT: something listens on 127.0.0.1:PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop() {
  local dir=$1 role pid n
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd -P)
  for role in recon db; do
    if pid=$(pid_of "$dir" "$role"); then
      kill -TERM "$pid" 2>/dev/null
      n=0
      while running "$pid"; do
        n=$((n + 1))
        if [ $n -gt 300 ]; then kill -KILL "$pid" 2>/dev/null; break; fi
        sleep 0.1
      done
    fi
    rm -f "$dir/sks-$role.pid"
  done
  return 0
}

start() {
  [ $# -ge 3 ] || die "usage: sks.sh start DIR HKP_PORT RECON_PORT [KEYRING...]"
  local dir=$1 hkp=$2 recon=$3
  shift 3
  [[ $hkp =~ ^[0-9]+$ && $recon =~ ^[0-9]+$ && $hkp != "$recon" ]] ||
    die "HKP_PORT and RECON_PORT must be two different numbers"
  [ -x "$SKS" ] || die "no $SKS (Debian package sks)"
  local f
  for f in "$@"; do [ -r "$f" ] || die "cannot read keyring $f"; done
  mkdir -p "$dir" || die "cannot create $dir"
  dir=$(cd "$dir" && pwd -P)
  [ ${#dir} -le 70 ] || die "$dir is too long for SKS's Unix sockets (70 characters at most)"
  if pid_of "$dir" db >/dev/null || pid_of "$dir" recon >/dev/null; then
    die "SKS already runs in $dir"
  fi
  local p
  for p in "$hkp" "$recon"; do ! listening "$p" || die "port $p is in use"; done
  local lib=$dir/var/lib/sks log=$dir/var/log/sks
  mkdir -p "$dir/etc/sks" "$lib" "$log" "$dir/var/run/sks" "$dir/var/spool/sks"

  local gossip=${SKS_GOSSIP_SECONDS:-60}
  [[ $gossip =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "SKS_GOSSIP_SECONDS=$gossip is not a number"
  {
    echo "# SKS configuration of a test peer (tests/harness/sks.sh); rewritten at each start"
    echo "hostname: ::1"
    echo "hkp_address: 127.0.0.1"
    echo "hkp_port: $hkp"
    echo "recon_address: 127.0.0.1"
    echo "recon_port: $recon"
    echo "debuglevel: 3"
    echo "gossip_interval: $(awk -v s="$gossip" 'BEGIN { printf "%.4f", s / 60 }')"
    echo "membership_reload_interval: 1"
    echo "initial_stat:"
    echo "disable_mailsync:"
    echo "sendmail_cmd: /bin/false"
    echo "pagesize: 16"
    echo "ptree_pagesize: 16"
  } >"$dir/etc/sks/sksconf"
  : >"$dir/etc/sks/membership"
  local partner partners=${SKS_PARTNERS:-}
  for partner in ${partners//,/ }; do
    [[ $partner =~ ^[0-9]+$ ]] || die "SKS_PARTNERS entry '$partner' is not a port"
    echo "127.0.0.1 $partner" >>"$dir/etc/sks/membership"
  done
  : >"$dir/etc/sks/mailsync"

  local sks=(env -C "$dir" "$SKS" -basedir "$dir")
  if [ $# -gt 0 ] || [ ! -d "$lib/DB" ]; then
    rm -rf "$lib/DB" "$lib/PTree" "$lib/dump"
    mkdir -p "$lib/dump"
    local i=0 out any=0
    for f in "$@"; do
      out=$lib/dump/$i.pgp
      if head -c 100 "$f" | grep -q -- '-----BEGIN PGP'; then
        gpg --batch --dearmor <"$f" >"$out" 2>/dev/null || die "cannot dearmor $f"
      else
        cp "$f" "$out"
      fi
      [ -s "$out" ] && any=1
      i=$((i + 1))
    done
    if [ $any = 1 ]; then
      "${sks[@]}" build "$lib"/dump/*.pgp -n 10 -cache 100 >>"$log/build.out" 2>&1 ||
        die "sks build failed (see $log)"
      # cleandb merges the copies of a key that several keyrings hold; it fails now and then
      # on its first run
      "${sks[@]}" cleandb >>"$log/build.out" 2>&1 || "${sks[@]}" cleandb >>"$log/build.out" 2>&1 ||
        die "sks cleandb failed (see $log)"
      "${sks[@]}" pbuild -cache 20 -ptree_cache 70 >>"$log/build.out" 2>&1 ||
        die "sks pbuild failed (see $log)"
    else
      rm -f "$lib"/dump/*.pgp
      : >"$lib/dump/empty.pgp"
      "${sks[@]}" build "$lib/dump/empty.pgp" >>"$log/build.out" 2>&1 ||
        die "sks build of an empty database failed (see $log)"
    fi
  fi

  local deadline=$((SECONDS + ${SKS_START_TIMEOUT:-120}))
  launch() { # ROLE
    setsid "${sks[@]}" "$1" </dev/null >>"$log/$1.out" 2>&1 &
    echo $! >"$dir/sks-$1.pid"
  }
  failed() {
    echo "sks.sh: $*" >&2
    tail -n 15 "$log/$role.log" "$log/$role.out" >&2 2>/dev/null
    stop "$dir"
    exit 1
  }
  local role=db
  launch db
  until [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "http://127.0.0.1:$hkp/pks/lookup?op=stats")" = 200 ]; do
    pid_of "$dir" db >/dev/null || failed "sks db exited at start"
    [ $SECONDS -lt $deadline ] || failed "sks db does not answer HKP on 127.0.0.1:$hkp"
    sleep 0.1
  done
  # recon is ready once it has logged that its tree is set up (in this start's part of the log)
  local from=1
  [ -f "$log/recon.log" ] && from=$(($(wc -l <"$log/recon.log") + 1))
  role=recon
  launch recon
  until listening "$recon" && tail -n +"$from" "$log/recon.log" 2>/dev/null | grep -q 'PTree setup complete'; do
    pid_of "$dir" recon >/dev/null || failed "sks recon exited at start"
    [ $SECONDS -lt $deadline ] || failed "sks recon not ready on 127.0.0.1:$recon"
    sleep 0.1
  done
  local keys
  keys=$(curl -s -m 30 "http://127.0.0.1:$hkp/pks/lookup?op=stats" |
    sed -n 's/.*Total number of keys: \([0-9]*\).*/\1/p')
  echo "SKS_DIR=$dir"
  echo "SKS_HKP_PORT=$hkp"
  echo "SKS_RECON_PORT=$recon"
  echo "SKS_DB_PID=$(cat "$dir/sks-db.pid")"
  echo "SKS_RECON_PID=$(cat "$dir/sks-recon.pid")"
  echo "SKS_KEYS=$keys"
  echo "SKS_LOG=$log"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) [ $# -eq 2 ] || die "usage: sks.sh stop DIR"; stop "$2" ;;
  *) die "usage: sks.sh start DIR HKP_PORT RECON_PORT [KEYRING...] | stop DIR" ;;
esac
