#!/usr/bin/env bash
# A whole OKS cluster on 127.0.0.1, for development, tests and benchmarks.
#
#   deploy/local.sh up     --dir DIR [--shards N] [--replicas R] [--routers N] [--slots N]
#                          [--base-port P] [--http-port P]
#                          [--workers N] [--deadline-ms MS] [--wkd-domains "a.org b.org"]
#                          [--host NAME] [--bind ADDRESS]
#                                               (--host: the host name or address routers and
#                                               clients connect to, default 127.0.0.1; --bind:
#                                               the address shards and the router bind, e.g.
#                                               0.0.0.0, written as their bind settings)
#                          [--http-opt KEY=VALUE]...   (more [http] settings, see docs/config.md)
#                          [--dns-port P --dns-domains "a.org b.org"] [--dns-opt KEY=VALUE]...
#                                               (the DNS gateway oks-gw-dns on 127.0.0.1:P,
#                                               UDP and TCP; more [dns] settings)
#                          [--shard-opt KEY=VALUE]...  (more [shard] settings, e.g.
#                                               table_reads=mmap; also taken from the
#                                               environment: OKS_SHARD_OPTS="K=V K=V", so
#                                               benchmarks can run with other shard settings)
#                          [--mail-pop3 HOST:PORT --mail-user U --mail-password P
#                           --mail-smtp HOST:PORT --mail-address ADDR [--mail-poll-seconds N]
#                           [--mail-sync-sites "a@x b@y"] [--mail-opt KEY=VALUE]...]
#                                               (more [mail] settings, e.g. templates=DIR)
#                          [--recon-port P] [--partner IP:PORT]... [--gossip-seconds N]
#                          [--ldap-port P [--ldap-opt KEY=VALUE]...]
#                                               (the LDAP gateway and its slapd, see below;
#                                               more [ldap] settings, e.g. allow_upload=yes)
#   deploy/local.sh down   --dir DIR
#   deploy/local.sh status --dir DIR
#   deploy/local.sh kill-shard --dir DIR NAME    (kill -9: a crash, for fault tests)
#   deploy/local.sh start-shard --dir DIR NAME   (starts it again on its data; returns once up)
#   deploy/local.sh kill-router --dir DIR I / start-router --dir DIR I   (router I, from 0)
#   deploy/local.sh run    --dir DIR [same options as up]   (foreground; Ctrl-C stops it all)
#   deploy/local.sh up --etcd ...                (the topology in a local etcd, see below)
#   deploy/local.sh up --etcd-endpoints URLS ... (the topology in an etcd already running)
#   deploy/local.sh add-shard --dir DIR          (one more shard, rebalanced onto online)
#   deploy/local.sh remove-shard --dir DIR NAME  (its slots moved away online, then stopped)
#
# `up` writes DIR/oks.conf (the cluster config, see deploy/oks.conf.example) with a CURVE
# keypair per role in DIR/keys/ (oksctl keygen; docs/security.md), starts the shards
# (data in DIR/data/NAME), the router, and the HTTP gateway when it is built and --http-port is
# given (run: default 11371), with logs in DIR/log/ and pid files in DIR/run/, and returns once
# the router answers for every shard, so `OKS_CONFIG=DIR/oks.conf oksctl stats` works right
# after; then it starts the mail gateway when --mail-* options were given (they are written to
# the [mail] section of DIR/oks.conf; answered-mail state in DIR/data/gw-mail), and the sync
# worker when --recon-port or --partner is given (tree in DIR/data/sync, round stats appended to
# DIR/log/sync-stats.txt, partner state for op=stats in DIR/data/sync-state; it announces
# --http-port as where peers fetch keys). --partner options are written to DIR/membership (SKS
# membership format, "HOST PORT" per line), which the worker re-reads when it changes.
# --ldap-port P writes an [ldap] section (socket DIR/run/gw-ldap.sock, --ldap-opt settings),
# starts oks-gw-ldap, writes DIR/slapd/slapd.conf with `oks-gw-ldap slapd-conf` and starts
# slapd (its back-sock database for [ldap] base_dn) listening on ldap://127.0.0.1:P/; `up`
# returns once slapd answers. `down` stops them with the rest (docs/ldap.md).
# An existing DIR/oks.conf is reused (same ports, same data) unless --shards is given.
# --replicas R (default 1, at most --shards) writes [cluster] replicas = R: the slots are cut
# into N ranges and range i is held by shards i, i+1, ..., i+R-1 (mod N), see docs/replicas.md.
# --routers N (default 1, at most 8) starts N routers, all listed in [cluster] routers, so every
# client fails over between them; router 0 binds the first endpoint and serves /metrics on the
# [router] metrics_listen port, router I the I-th endpoint with /metrics on a port of its own.
# Every daemon gets a Prometheus /metrics on 127.0.0.1 (free ports; with --base-port P: the
# router P+300, shard i P+301+i, sync P+299, mail gateway P+298, LDAP gateway P+297), written
# as metrics_listen settings; `up` prints them (the HTTP gateway's is its own /metrics).
# --etcd keeps the topology in etcd (docs/replicas.md "Slot moves"): `up` starts a one-member
# etcd on 127.0.0.1 (data in DIR/data/etcd, written as [cluster] etcd), puts the map of oks.conf
# there (oksctl map init) and starts the rest, which follow the map in etcd from then on.
# --etcd-endpoints "http://127.0.0.1:P1,http://127.0.0.1:P2" uses that etcd instead (started
# and stopped by the caller). add-shard (needs --etcd or --etcd-endpoints) writes [shard.sN] (the next name: s2 after s0 and s1) with no slots,
# adds it to the map (oksctl map add-shard), starts it and moves slots onto it online (oksctl
# slots rebalance), returning when the moves are done; remove-shard moves the slots of NAME to
# the other shards (oksctl slots drain) and then stops it (its section stays, with no slots).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${OKS_BIN:-$HERE/../build/bin}
cmd=${1:-}; shift || true
DIR= SHARDS= REPLICAS=1 ROUTERS=1 SLOTS=4096 BASE= HTTP_PORT= WORKERS=0 DEADLINE=5000 WKD= EP_HOST=127.0.0.1 BIND_ADDR=
HTTP_OPTS=() MAIL_OPTS=() SHARD_OPTS=() DNS_OPTS=() DNS_PORT= DNS_DOMAINS=
read -r -a SHARD_OPTS <<<"${OKS_SHARD_OPTS:-}"
MAIL_POP3= MAIL_USER= MAIL_PASSWORD= MAIL_SMTP= MAIL_ADDRESS= MAIL_POLL=5 MAIL_SYNC=
RECON_PORT= PARTNERS=() GOSSIP=60
LDAP_PORT= LDAP_OPTS=() SLAPD=${OKS_SLAPD:-/usr/sbin/slapd}
ETCD= ETCD_BIN=${OKS_ETCD:-/usr/bin/etcd} ETCDCTL=${OKS_ETCDCTL:-/usr/bin/etcdctl}
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) DIR=$2; shift 2 ;;
    --shards) SHARDS=$2; shift 2 ;;
    --replicas) REPLICAS=$2; shift 2 ;;
    --routers) ROUTERS=$2; shift 2 ;;
    --slots) SLOTS=$2; shift 2 ;;
    --base-port) BASE=$2; shift 2 ;;
    --http-port) HTTP_PORT=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --deadline-ms) DEADLINE=$2; shift 2 ;;
    --wkd-domains) WKD=$2; shift 2 ;;
    --host) EP_HOST=$2; shift 2 ;;
    --bind) BIND_ADDR=$2; shift 2 ;;
    --http-opt) HTTP_OPTS+=("$2"); shift 2 ;;
    --dns-port) DNS_PORT=$2; shift 2 ;;
    --dns-domains) DNS_DOMAINS=$2; shift 2 ;;
    --dns-opt) DNS_OPTS+=("$2"); shift 2 ;;
    --shard-opt) SHARD_OPTS+=("$2"); shift 2 ;;
    --mail-pop3) MAIL_POP3=$2; shift 2 ;;
    --mail-user) MAIL_USER=$2; shift 2 ;;
    --mail-password) MAIL_PASSWORD=$2; shift 2 ;;
    --mail-smtp) MAIL_SMTP=$2; shift 2 ;;
    --mail-address) MAIL_ADDRESS=$2; shift 2 ;;
    --mail-poll-seconds) MAIL_POLL=$2; shift 2 ;;
    --mail-sync-sites) MAIL_SYNC=$2; shift 2 ;;
    --mail-opt) MAIL_OPTS+=("$2"); shift 2 ;;
    --recon-port) RECON_PORT=$2; shift 2 ;;
    --partner) PARTNERS+=("$2"); shift 2 ;;
    --gossip-seconds) GOSSIP=$2; shift 2 ;;
    --ldap-port) LDAP_PORT=$2; shift 2 ;;
    --ldap-opt) LDAP_OPTS+=("$2"); shift 2 ;;
    --etcd) ETCD=1; shift ;;
    --etcd-endpoints) ETCD=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "local.sh: unknown option $1" >&2; exit 2 ;;
    *) [ -z "${TARGET:-}" ] || { echo "local.sh: one NAME only" >&2; exit 2; }; TARGET=$1; shift ;;
  esac
done
[ -n "$DIR" ] || { echo "local.sh: --dir DIR is required" >&2; exit 2; }
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CONF=$DIR/oks.conf

free_port() { /usr/bin/python3 "$HERE/free_port.py"; }

# KEY VALUE [OPT...]: prints "KEY = VALUE" unless one of the KEY=VALUE options sets KEY, which
# is then written by the options instead (the daemons refuse a key given twice)
setting() {
  local k=$1 v=$2 o; shift 2
  for o in "$@"; do [ "${o%%=*}" = "$k" ] && return 0; done
  echo "$k = $v"
}

range_of() { # range index, shard count -> "lo-hi" (the last range takes the remainder)
  local per=$((SLOTS / $2)) lo hi
  lo=$(($1 * per)); hi=$((($1 + 1) * per - 1)); [ "$1" -eq $(($2 - 1)) ] && hi=$((SLOTS - 1))
  echo "$lo-$hi"
}

KEY_ROLES="router shard http mail sync admin"

make_keys() { # a keypair per role in DIR/keys/ (kept when there)
  local r
  mkdir -p "$DIR/keys" "$DIR/log"
  chmod 700 "$DIR/keys"
  for r in $KEY_ROLES; do
    [ -f "$DIR/keys/$r" ] || "$BIN/oksctl" keygen "$DIR/keys/$r" >/dev/null
  done
}

write_conf() {
  local n=${SHARDS:-2} i k list rport port
  make_keys
  [ "$n" -ge 1 ] && [ "$n" -le 256 ] || { echo "local.sh: --shards must be 1..256" >&2; exit 2; }
  [ "$REPLICAS" -ge 1 ] && [ "$REPLICAS" -le "$n" ] ||
    { echo "local.sh: --replicas must be 1..--shards ($n)" >&2; exit 2; }
  [ "$ROUTERS" -ge 1 ] && [ "$ROUTERS" -le 8 ] ||
    { echo "local.sh: --routers must be 1..8" >&2; exit 2; }
  {
    echo "; written by deploy/local.sh"
    echo "[cluster]"
    echo "slots = $SLOTS"
    rport=$(port_for 0)
    list="tcp://$EP_HOST:$rport"
    for i in $(seq 1 $((ROUTERS - 1))); do list="$list tcp://$EP_HOST:$(port_for $((400 + i)))"; done
    echo "routers = $list"
    [ "$REPLICAS" -eq 1 ] || echo "replicas = $REPLICAS"
    if [ "$ETCD" = 1 ]; then
      echo "; the topology (slot map, moves) lives in etcd from \`up\` on (oksctl map show)"
      echo "etcd = http://127.0.0.1:$(port_for 420)"
      echo "etcd_prefix = /oks/"
      echo "; etcd's peer port (deploy/local.sh)"
      echo ";etcd_peer_port = $(port_for 421)"
    elif [ -n "$ETCD" ]; then
      echo "; the topology (slot map, moves) lives in etcd from \`up\` on (oksctl map show)"
      echo "etcd = $ETCD"
      echo "etcd_prefix = /oks/"
    fi
    for i in $(seq 0 $((n - 1))); do
      list=
      for k in $(seq 0 $((REPLICAS - 1))); do # shard i holds ranges i, i-1, ..., i-R+1
        list=$(range_of $(((i - k + n) % n)) "$n")${list:+,}$list
      done
      port=$(port_for $((i + 1)))
      echo
      echo "[shard.s$i]"
      echo "endpoint = tcp://$EP_HOST:$port"
      echo "data = $DIR/data/s$i"
      echo "slots = $list"
      [ -z "$BIND_ADDR" ] || echo "bind = tcp://$BIND_ADDR:$port"
      echo "metrics_listen = 127.0.0.1:$(metrics_port $((301 + i)))"
    done
    echo
    echo "[router]"
    echo "deadline_ms = $DEADLINE"
    echo "metrics_listen = 127.0.0.1:$(metrics_port 300)"
    [ -z "$BIND_ADDR" ] || echo "bind = tcp://$BIND_ADDR:$rport"
    echo
    echo "[shard]"
    setting workers "$WORKERS" ${SHARD_OPTS[@]+"${SHARD_OPTS[@]}"}
    for o in "${SHARD_OPTS[@]}"; do echo "${o%%=*} = ${o#*=}"; done
    echo
    echo "[sync]"
    echo "; the sync worker's partner list (SKS membership format) and the partner state it"
    echo "; writes for the gateway's op=stats"
    echo "membership = $DIR/membership"
    echo "tree = $DIR/data/sync"
    echo "state = $DIR/data/sync-state"
    echo "metrics_listen = 127.0.0.1:$(metrics_port 299)"
    echo
    echo "[security]"
    echo "; CURVE keypairs (oksctl keygen): every ZeroMQ link is encrypted and authenticated;"
    echo "; oksctl with this file acts as the cluster's admin (docs/security.md)"
    local r
    for r in $KEY_ROLES; do echo "${r}_key = $DIR/keys/$r"; done
    echo "audit_log = $DIR/log/audit.log"
    if [ -n "$HTTP_PORT" ]; then
      echo
      echo "[http]"
      setting listen "127.0.0.1:$HTTP_PORT" ${HTTP_OPTS[@]+"${HTTP_OPTS[@]}"}
      [ -z "$WKD" ] || setting wkd_domains "$WKD" ${HTTP_OPTS[@]+"${HTTP_OPTS[@]}"}
      for o in "${HTTP_OPTS[@]}"; do echo "${o%%=*} = ${o#*=}"; done
    fi
    if [ -n "$DNS_PORT" ]; then
      echo
      echo "[dns]"
      setting listen "127.0.0.1:$DNS_PORT" ${DNS_OPTS[@]+"${DNS_OPTS[@]}"}
      setting domains "${DNS_DOMAINS:-example.org}" ${DNS_OPTS[@]+"${DNS_OPTS[@]}"}
      for o in ${DNS_OPTS[@]+"${DNS_OPTS[@]}"}; do echo "${o%%=*} = ${o#*=}"; done
    fi
  } >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

port_for() { # index -> port: BASE+i when --base-port, else a free port
  if [ -n "$BASE" ]; then echo $((BASE + $1)); else free_port; fi
}
metrics_port() { port_for "$@"; }

metrics_summary() { # "metrics: NAME URL" per daemon with a metrics_listen (and the gateway)
  awk '/^\[/{sec=substr($0, 2, length($0) - 2)}
       /^metrics_listen *= *[^ ]/{sub(/^metrics_listen *= */, ""); n=sec; sub(/^shard\./, "shard-", n)
         if (n == "mail" || n == "ldap") n = "gw-" n; print "metrics: " n " http://" $0 "/metrics"}
       /^listen *= */ && sec == "http" {sub(/^listen *= */, ""); print "metrics: gw-http http://" $0 "/metrics"}' "$CONF"
}

shard_names() { sed -n 's/^\[shard\.\(.*\)\]$/\1/p' "$CONF"; }

alive() { # pid: running and not a zombie
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

start_bg() { # name cmd...
  local name=$1; shift
  mkdir -p "$DIR/log" "$DIR/run"
  if [ -f "$DIR/run/$name.pid" ] && alive "$(cat "$DIR/run/$name.pid")"; then
    return 0
  fi
  nohup "$@" >>"$DIR/log/$name.out" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

stop_all() {
  local f pid any=0
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && any=1
  done
  [ $any -eq 1 ] || { rm -f "$DIR"/run/*.pid; return 0; }
  for _ in $(seq 1 100); do
    local alive=0
    for f in "$DIR"/run/*.pid; do [ -f "$f" ] && alive "$(cat "$f")" && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for f in "$DIR"/run/*.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  rm -f "$DIR"/run/*.pid
  return 0
}

cluster_ready() {
  OKS_CONFIG=$CONF "$BIN/oksctl" stats 2>/dev/null | grep -q '^total keys' &&
    ! OKS_CONFIG=$CONF "$BIN/oksctl" stats 2>/dev/null | awk '$2=="NO"' | grep -q .
}

write_mail_conf() { # replaces the [mail] section of $CONF
  awk '/^\[/{skip=($0=="[mail]")} !skip' "$CONF" >"$CONF.tmp"
  {
    echo
    echo "[mail]"
    local m=(${MAIL_OPTS[@]+"${MAIL_OPTS[@]}"})
    setting pop3 "$MAIL_POP3" ${m[@]+"${m[@]}"}
    setting user "$MAIL_USER" ${m[@]+"${m[@]}"}
    setting password "$MAIL_PASSWORD" ${m[@]+"${m[@]}"}
    setting smtp "$MAIL_SMTP" ${m[@]+"${m[@]}"}
    setting address "$MAIL_ADDRESS" ${m[@]+"${m[@]}"}
    setting poll_seconds "$MAIL_POLL" ${m[@]+"${m[@]}"}
    setting state_dir "$DIR/data/gw-mail" ${m[@]+"${m[@]}"}
    setting metrics_listen "127.0.0.1:$(metrics_port 298)" ${m[@]+"${m[@]}"}
    [ -z "$MAIL_SYNC" ] || setting sync_sites "$MAIL_SYNC" ${m[@]+"${m[@]}"}
    local o
    for o in ${MAIL_OPTS[@]+"${MAIL_OPTS[@]}"}; do echo "${o%%=*} = ${o#*=}"; done
  } >>"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

write_ldap_conf() { # replaces the [ldap] section of $CONF
  awk '/^\[/{skip=($0=="[ldap]")} !skip' "$CONF" >"$CONF.tmp"
  {
    echo
    echo "[ldap]"
    local l=(${LDAP_OPTS[@]+"${LDAP_OPTS[@]}"}) o
    setting socket "$DIR/run/gw-ldap.sock" ${l[@]+"${l[@]}"}
    setting metrics_listen "127.0.0.1:$(metrics_port 297)" ${l[@]+"${l[@]}"}
    for o in ${LDAP_OPTS[@]+"${LDAP_OPTS[@]}"}; do echo "${o%%=*} = ${o#*=}"; done
  } >>"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
}

start_ldap() { # oks-gw-ldap, its slapd.conf, slapd on 127.0.0.1:LDAP_PORT
  [ -x "$BIN/oks-gw-ldap" ] || { echo "local.sh: $BIN/oks-gw-ldap is not built" >&2; exit 1; }
  [ -x "$SLAPD" ] || { echo "local.sh: no slapd at $SLAPD (package slapd)" >&2; exit 1; }
  local sock
  sock=$(sed -n '/^\[ldap\]/,/^\[/s/^socket *= *//p' "$CONF")
  start_bg gw-ldap "$BIN/oks-gw-ldap" -c "$CONF" --log "$DIR/log/gw-ldap.log"
  mkdir -p "$DIR/slapd"
  "$BIN/oks-gw-ldap" -c "$CONF" slapd-conf "$DIR/slapd"
  local end=$((SECONDS + 20))
  until [ -S "$sock" ]; do
    alive "$(cat "$DIR/run/gw-ldap.pid")" ||
      { echo "local.sh: oks-gw-ldap exited:" >&2; tail -n 5 "$DIR/log/gw-ldap.log" >&2; stop_all; exit 1; }
    [ $SECONDS -lt $end ] || { echo "local.sh: no socket $sock" >&2; stop_all; exit 1; }
    sleep 0.1
  done
  # -d 0: slapd stays in the foreground (start_bg keeps its pid), logging nothing but errors
  start_bg slapd "$SLAPD" -d 0 -f "$DIR/slapd/slapd.conf" -h "ldap://127.0.0.1:$LDAP_PORT/"
  until ldapsearch -x -LLL -H "ldap://127.0.0.1:$LDAP_PORT/" -b "" -s base namingContexts \
        >/dev/null 2>&1; do
    alive "$(cat "$DIR/run/slapd.pid")" ||
      { echo "local.sh: slapd exited:" >&2; tail -n 5 "$DIR/log/slapd.out" >&2; stop_all; exit 1; }
    [ $SECONDS -lt $end ] || { echo "local.sh: slapd does not answer on $LDAP_PORT" >&2; stop_all; exit 1; }
    sleep 0.1
  done
}

etcd_url() { sed -n 's/^etcd *= *//p' "$CONF" | head -1; }

start_etcd() { # a one-member etcd for the topology, on the ports of [cluster] etcd
  local url peer end=$((SECONDS + 30))
  url=$(etcd_url)
  peer=http://127.0.0.1:$(sed -n 's/^;etcd_peer_port *= *//p' "$CONF" | head -1)
  [ -x "$ETCD_BIN" ] || { echo "local.sh: no etcd at $ETCD_BIN (package etcd-server)" >&2; exit 1; }
  mkdir -p "$DIR/data/etcd"
  start_bg etcd "$ETCD_BIN" --name oks --data-dir "$DIR/data/etcd" \
    --listen-client-urls "$url" --advertise-client-urls "$url" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "oks=$peer" --logger zap --log-outputs stderr
  until ETCDCTL_API=3 "$ETCDCTL" --endpoints "$url" endpoint health >/dev/null 2>&1; do
    alive "$(cat "$DIR/run/etcd.pid")" ||
      { echo "local.sh: etcd exited:" >&2; tail -n 5 "$DIR/log/etcd.out" >&2; stop_all; exit 1; }
    [ $SECONDS -lt $end ] || { echo "local.sh: etcd does not answer on $url" >&2; stop_all; exit 1; }
    sleep 0.1
  done
  OKS_CONFIG=$CONF "$BIN/oksctl" map init >/dev/null
}

up() {
  if [ ! -f "$CONF" ] || [ -n "$SHARDS" ]; then write_conf; fi
  if grep -q '^;etcd_peer_port' "$CONF"; then start_etcd
  elif [ -n "$(etcd_url)" ]; then OKS_CONFIG=$CONF "$BIN/oksctl" map init >/dev/null; fi
  [ -z "$LDAP_PORT" ] || write_ldap_conf
  if [ -n "$MAIL_POP3" ]; then
    [ -n "$MAIL_USER" ] && [ -n "$MAIL_SMTP" ] && [ -n "$MAIL_ADDRESS" ] ||
      { echo "local.sh: --mail-pop3 needs --mail-user, --mail-smtp and --mail-address" >&2; exit 2; }
    write_mail_conf
  fi
  local s i
  for s in $(shard_names); do start_shard "$s"; done
  for i in $(seq 0 $(($(router_count) - 1))); do start_router "$i"; done
  if grep -q '^\[http\]' "$CONF" && [ -x "$BIN/oks-gw-http" ]; then
    start_bg gw-http "$BIN/oks-gw-http" -c "$CONF" --log "$DIR/log/gw-http.log"
  fi
  local end=$((SECONDS + 30))
  local f
  until cluster_ready; do
    for f in "$DIR"/run/*.pid; do
      if ! alive "$(cat "$f")"; then
        echo "local.sh: $(basename "$f" .pid) exited; its log:" >&2
        tail -n 5 "$DIR/log/$(basename "$f" .pid).log" "$DIR/log/$(basename "$f" .pid).out" >&2 2>/dev/null || true
        stop_all; exit 1
      fi
    done
    if [ $SECONDS -ge $end ]; then
      echo "local.sh: cluster in $DIR did not come up; logs:" >&2
      tail -n 5 "$DIR"/log/*.log >&2 || true
      exit 1
    fi
    sleep 0.1
  done
  if grep -q '^\[dns\]' "$CONF" && [ -x "$BIN/oks-gw-dns" ]; then
    start_bg gw-dns "$BIN/oks-gw-dns" -c "$CONF" --log "$DIR/log/gw-dns.log"
  fi
  if grep -q '^\[mail\]' "$CONF" && [ -x "$BIN/oks-gw-mail" ]; then
    mkdir -p "$DIR/data/gw-mail"
    start_bg gw-mail "$BIN/oks-gw-mail" -c "$CONF" --log "$DIR/log/gw-mail.log"
  fi
  if { [ -n "$RECON_PORT" ] || [ ${#PARTNERS[@]} -gt 0 ]; } && [ -x "$BIN/oks-sync" ]; then
    local sync_args=(run -c "$CONF" --tree "$DIR/data/sync" --gossip-seconds "$GOSSIP"
                     --http-port "${HTTP_PORT:-11371}" --stats "$DIR/log/sync-stats.txt"
                     --membership "$DIR/membership" --state "$DIR/data/sync-state"
                     --log "$DIR/log/sync.log")
    [ -z "$RECON_PORT" ] || sync_args+=(--recon-port "$RECON_PORT")
    local p
    if [ ${#PARTNERS[@]} -gt 0 ]; then # the membership file, in SKS's format: "HOST PORT"
      { echo "# recon partners, written by deploy/local.sh (HOST PORT per line; SIGHUP or any"
        echo "# change makes oks-sync re-read it)"
        for p in "${PARTNERS[@]}"; do echo "${p%:*} ${p##*:}"; done; } >"$DIR/membership.tmp"
      mv "$DIR/membership.tmp" "$DIR/membership"
    fi
    [ -f "$DIR/membership" ] || : >"$DIR/membership"
    start_bg sync "$BIN/oks-sync" "${sync_args[@]}"
  fi
  [ -z "$LDAP_PORT" ] || start_ldap
  local n u
  metrics_summary | while read -r _ n u; do
    [ ! -f "$DIR/run/$n.pid" ] || echo "metrics: $n $u"
  done
  echo "OKS_CONFIG=$CONF"
}

start_shard() { # NAME
  start_bg "shard-$1" "$BIN/oks-shard" -c "$CONF" --name "$1" --log "$DIR/log/shard-$1.log"
}

router_count() { awk '/^routers *=/{sub(/^routers *= */, ""); print split($0, a, /[ ,]+/); exit}' "$CONF"; }

start_router() { # I: router 0 as the config says; router I binds the I-th endpoint of [cluster]
  # routers (on --bind's address when the config has a [router] bind) with /metrics of its own
  if [ "$1" -eq 0 ]; then
    start_bg router "$BIN/oks-router" -c "$CONF" --log "$DIR/log/router.log"
    return
  fi
  local ep bind
  ep=$(awk -v i="$1" '/^routers *=/{sub(/^routers *= */, ""); split($0, a, /[ ,]+/); print a[i + 1]; exit}' "$CONF")
  [ -n "$ep" ] || { echo "local.sh: no router $1 in $CONF" >&2; exit 2; }
  bind=$ep
  local b
  b=$(awk '/^\[/{r=($0=="[router]")} r && /^bind *=/{sub(/^bind *= *tcp:\/\//, ""); sub(/:[0-9]+$/, ""); print; exit}' "$CONF")
  [ -z "$b" ] || bind="tcp://$b:${ep##*:}"
  start_bg "router-$1" "$BIN/oks-router" -c "$CONF" --bind "$bind" \
    --metrics-listen "127.0.0.1:$(metrics_port $((410 + $1)))" --log "$DIR/log/router-$1.log"
}

kill9() { # pid-file name
  local f=$DIR/run/$1.pid pid
  [ -f "$f" ] || { echo "local.sh: $1 is not running in $DIR" >&2; exit 1; }
  pid=$(cat "$f")
  kill -9 "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
  rm -f "$f"
  echo "killed $1 (pid $pid)"
}

wait_ready() { # waits up to 30 s for every shard to be up through the routers
  local end=$((SECONDS + 30))
  until cluster_ready; do
    [ $SECONDS -lt $end ] || { echo "local.sh: cluster in $DIR not ready after 30 s" >&2; exit 1; }
    sleep 0.1
  done
}

wait_router() { # I: waits up to 30 s for router I alone to answer stats
  local ep one=$DIR/run/router-$1.conf end=$((SECONDS + 30))
  ep=$(awk -v i="$1" '/^routers *=/{sub(/^routers *= */, ""); split($0, a, /[ ,]+/); print a[i + 1]; exit}' "$CONF")
  sed "s|^routers *=.*|routers = $ep|" "$CONF" >"$one"
  until OKS_CONFIG=$one "$BIN/oksctl" stats >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || { echo "local.sh: router $1 ($ep) not answering after 30 s" >&2; exit 1; }
    sleep 0.1
  done
  rm -f "$one"
}

status() {
  local f name rc=0
  [ -f "$CONF" ] || { echo "no cluster in $DIR"; return 1; }
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    if alive "$(cat "$f")"; then echo "$name: running (pid $(cat "$f"))"
    else echo "$name: DEAD"; rc=1; fi
  done
  OKS_CONFIG=$CONF "$BIN/oksctl" stats || rc=1
  return $rc
}

member_up() { # shard NAME: registered in etcd (it runs the map there)
  ETCDCTL_API=3 "$ETCDCTL" --endpoints "$(etcd_url | tr ' ' ',')" get --prefix --keys-only \
    "/oks/members/shard/$1" 2>/dev/null | grep -q .
}

add_shard() { # the next shard sN, with no slots, then a rebalance onto it
  [ -n "$(etcd_url)" ] || { echo "local.sh: add-shard needs a cluster started with --etcd" >&2; exit 2; }
  local n name port end=$((SECONDS + 30))
  n=$(shard_names | wc -l)
  name=s$n
  port=$(port_for $((n + 1)))
  { echo
    echo "[shard.$name]"
    echo "endpoint = tcp://$EP_HOST:$port"
    echo "data = $DIR/data/$name"
    echo "; its slots are in the map kept in etcd (oksctl map show)"
    echo "slots ="
    echo "metrics_listen = 127.0.0.1:$(metrics_port $((301 + n)))"
  } >>"$CONF"
  OKS_CONFIG=$CONF "$BIN/oksctl" map add-shard "$name"
  start_shard "$name"
  until member_up "$name"; do
    alive "$(cat "$DIR/run/shard-$name.pid")" ||
      { echo "local.sh: shard $name exited:" >&2; tail -n 5 "$DIR/log/shard-$name.log" >&2; exit 1; }
    [ $SECONDS -lt $end ] || { echo "local.sh: shard $name not up after 30 s" >&2; exit 1; }
    sleep 0.1
  done
  OKS_CONFIG=$CONF "$BIN/oksctl" slots rebalance
  echo "shard $name added"
}

remove_shard() { # NAME: its slots moved to the others, then stopped
  [ -n "$(etcd_url)" ] || { echo "local.sh: remove-shard needs a cluster started with --etcd" >&2; exit 2; }
  OKS_CONFIG=$CONF "$BIN/oksctl" slots drain "$TARGET"
  local f=$DIR/run/shard-$TARGET.pid pid
  if [ -f "$f" ]; then
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    rm -f "$f"
  fi
  echo "shard $TARGET removed"
}

need_target() {
  [ -n "${TARGET:-}" ] || { echo "local.sh: $cmd needs a NAME" >&2; exit 2; }
  [ -f "$CONF" ] || { echo "local.sh: no cluster in $DIR" >&2; exit 1; }
}

case "$cmd" in
  up) up ;;
  kill-shard) need_target; shard_names | grep -qx "$TARGET" ||
      { echo "local.sh: no shard $TARGET in $CONF" >&2; exit 2; }
    kill9 "shard-$TARGET" ;;
  start-shard) need_target; shard_names | grep -qx "$TARGET" ||
      { echo "local.sh: no shard $TARGET in $CONF" >&2; exit 2; }
    start_shard "$TARGET"; wait_ready; echo "shard $TARGET up" ;;
  kill-router) need_target; if [ "$TARGET" = 0 ]; then kill9 router; else kill9 "router-$TARGET"; fi ;;
  start-router) need_target; start_router "$TARGET"; wait_router "$TARGET"; echo "router $TARGET up" ;;
  add-shard) [ -f "$CONF" ] || { echo "local.sh: no cluster in $DIR" >&2; exit 1; }; add_shard ;;
  remove-shard) need_target; shard_names | grep -qx "$TARGET" ||
      { echo "local.sh: no shard $TARGET in $CONF" >&2; exit 2; }
    remove_shard ;;
  down) stop_all ;;
  status) status ;;
  run)
    HTTP_PORT=${HTTP_PORT:-11371}
    trap 'echo; echo "stopping..."; stop_all; exit 0' INT TERM
    up
    echo "cluster running in $DIR (Ctrl-C stops it); try: OKS_CONFIG=$CONF $BIN/oksctl stats"
    web=$(awk '/^\[/{h=($0=="[http]")} h && /^listen *=/{sub(/^listen *= */,""); print; exit}' "$CONF")
    if [ -n "$web" ]; then
      echo "  browser:     http://$web/"
      echo "  gpg:         gpg --keyserver hkp://$web --search-keys alice@example.org"
      echo "  sample keys: OKS_CONFIG=$CONF $BIN/oksctl import /usr/share/keyrings/debian-keyring.gpg"
    fi
    while :; do sleep 1; done ;;
  *) echo "usage: local.sh up|down|status|run|kill-shard|start-shard|kill-router|start-router|add-shard|remove-shard --dir DIR [options] (--help)" >&2; exit 2 ;;
esac
