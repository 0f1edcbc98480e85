#!/usr/bin/env bash
# A private mail stack on 127.0.0.1 for the mail gateway's tests and benchmark: dovecot serving
# POP3 and an SMTP receiver (tests/harness/smtpd.py, aiosmtpd) filing mail into the same
# Maildirs. Accounts keyserver, keyserver2, alice and bob, password "secret"; their mail is
# DIR/mail/USER/{new,cur,tmp}. Nothing outside DIR is used (not /etc/dovecot, not the system
# service).
#
#   mail.sh start DIR POP3_PORT SMTP_PORT
#       Starts the servers "pop3" (plain POP3, USER/PASS and SASL PLAIN/LOGIN) and "smtp" (no
#       TLS, no AUTH) and returns once both greet.
#   mail.sh pop3 DIR NAME PORT [POP3S_PORT CERT KEY]
#       One more dovecot named NAME on the same Maildirs; with a certificate it offers STLS on
#       PORT and implicit TLS on POP3S_PORT and refuses logins before TLS (ssl = required).
#   mail.sh smtp DIR NAME PORT [smtpd.py options: --tls MODE --cert C --key K --auth-user U
#       --auth-password-file F]
#       One more SMTP receiver named NAME delivering into the same Maildirs.
#   mail.sh down DIR NAME      stops one server (an outage); `mail.sh up DIR NAME` starts it
#                              again as it was configured
#   mail.sh stop DIR           stops every server under DIR (quiet when none runs)
#
# Environment: MAIL_START_TIMEOUT (default 60 s).
#
# Facts this relies on (dovecot 2.3 as root):
#  - dovecot will not run its login processes as root nor touch mail as uid 0, and refuses uid 0
#    in a passwd-file: logins run as dovenull, mail belongs to the user "mail" (the SMTP
#    receiver chowns what it writes; a test that drops files into a Maildir must chown them).
#  - Homes are DIR/mail/./USER: the mail process chroots into DIR/mail before it drops root, so
#    DIR's parents need not be open to the mail user.
#  - dovecot's Unix sockets live in its base_dir: DIR must stay short (60 characters here).
#  - A failed login waits auth_failure_delay (2 s) and anvil's penalty slows later logins from
#    the same address: both are turned off (tests try wrong passwords on purpose).
#  - The master holds the listening socket even while its login processes fail, so readiness
#    is the greeting, not the connect.
#  - Each instance needs its own instance_name, base_dir and state_dir, and pop3s must be given
#    a port (or 0): its default 995 would be shared by every instance.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=(keyserver keyserver2 alice bob)
die() { echo "mail.sh: $*" >&2; exit 1; }

running() { # PID: exists and is not a zombie (an orphan's zombie may wait a while for init)
  local st
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}
# greets PORT PREFIX [TLS]: a connection gets a greeting line starting with PREFIX
greets() {
  if [ -n "${3:-}" ]; then
    printf 'QUIT\r\n' | timeout 5 openssl s_client -connect "127.0.0.1:$1" -quiet 2>/dev/null |
      head -1 | grep -q "^$2"
    return
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r -t 5 line <&3 && [[ $line == "$2"* ]] &&
    printf 'QUIT\r\n' >&3) 2>/dev/null
}
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# members PID: PID and the live processes of its process group
members() {
  local s st
  running "$1" && echo "$1"
  for s in /proc/[0-9]*/stat; do
    read -r st 2>/dev/null <"$s" || continue
    st=${st##*) }
    set -- $1 $st # PID state ppid pgrp ...
    [ "$4" = "$1" ] && [ "$2" != Z ] && [ "${s//[^0-9]/}" != "$1" ] && echo "${s//[^0-9]/}"
  done
  return 0
}

owner() { # uid:gid of the mail files
  if [ "$(id -u)" = 0 ]; then echo "$(id -u mail):$(id -g mail)"; else echo "$(id -u):$(id -g)"; fi
}

write_dovecot_conf() { # DIR NAME PORT [POP3S_PORT CERT KEY]
  local dir=$1 name=$2 port=$3 pops=${4:-0} cert=${5:-} key=${6:-} uid gid login sep
  uid=$(owner); gid=${uid#*:}; uid=${uid%:*}
  if [ "$(id -u)" = 0 ]; then
    login=dovenull; getent passwd dovenull >/dev/null || login=nobody
    sep=/./
  else
    login=$(id -un); sep=/
  fi
  : >"$dir/users"
  local u
  for u in "${USERS[@]}"; do echo "$u:{PLAIN}secret::::$dir/mail$sep$u::" >>"$dir/users"; done
  chmod 600 "$dir/users"
  mkdir -p "$dir/$name.run" "$dir/$name.state"
  {
    echo "# dovecot instance $name of the test mail stack (tests/harness/mail.sh)"
    echo "instance_name = oks-$name-$port"
    echo "base_dir = $dir/$name.run"
    echo "state_dir = $dir/$name.state"
    echo "log_path = $dir/log/$name.log"
    echo "info_log_path = $dir/log/$name.log"
    echo "protocols = pop3"
    echo "listen = 127.0.0.1"
    if [ -n "$cert" ]; then
      echo "ssl = required"
      echo "ssl_cert = <$cert"
      echo "ssl_key = <$key"
      echo "disable_plaintext_auth = yes"
    else
      echo "ssl = no"
      echo "disable_plaintext_auth = no"
    fi
    echo "auth_mechanisms = plain login"
    echo "auth_verbose = yes"
    echo "auth_failure_delay = 0"
    echo "shutdown_clients = yes"
    echo "default_internal_user = $(id -un)"
    echo "default_internal_group = $(id -gn)"
    echo "default_login_user = $login"
    echo "mail_uid = $uid"
    echo "mail_gid = $gid"
    echo "first_valid_uid = $uid"
    echo "last_valid_uid = $uid"
    echo "first_valid_gid = $gid"
    echo "last_valid_gid = $gid"
    echo "valid_chroot_dirs = $dir/mail"
    echo "mail_location = maildir:~"
    echo "pop3_uidl_format = %08Xu%08Xv"
    echo "passdb {"
    echo "  driver = passwd-file"
    echo "  args = scheme=PLAIN username_format=%n $dir/users"
    echo "}"
    echo "userdb {"
    echo "  driver = passwd-file"
    echo "  args = username_format=%n $dir/users"
    echo "}"
    echo "service pop3-login {"
    echo "  inet_listener pop3 {"
    echo "    address = 127.0.0.1"
    echo "    port = $port"
    echo "  }"
    echo "  inet_listener pop3s {"
    echo "    address = 127.0.0.1"
    echo "    port = $pops"
    echo "  }"
    [ "$(id -u)" = 0 ] || echo "  chroot ="
    echo "}"
    echo "service anvil {"
    echo "  chroot ="
    echo "  unix_listener anvil-auth-penalty {"
    echo "    mode = 0"
    echo "  }"
    echo "}"
  } >"$dir/$name.conf"
  { echo "kind=pop3"; echo "port=$port"; echo "tls_port=${cert:+$pops}"; } >"$dir/$name.server"
}

write_smtp_server() { # DIR NAME PORT [smtpd options...]
  local dir=$1 name=$2 port=$3 u
  shift 3
  local users
  users=$(IFS=,; echo "${USERS[*]}")
  {
    echo "kind=smtp"; echo "port=$port"
    local tls=
    for u in "$@"; do [ "$u" = implicit ] && tls=1; done
    echo "tls_port=${tls:+$port}"
  } >"$dir/$name.server"
  printf '%s\n' --port "$port" --root "$dir/mail" --users "$users" --owner "$(owner)" \
    --pidfile "$dir/$name.pid" "$@" >"$dir/$name.args"
}

# up DIR NAME: start a configured server, wait for its greeting
up() {
  local dir=$1 name=$2 kind port tls_port
  [ -f "$dir/$name.server" ] || die "no server $name in $dir"
  kind=$(sed -n 's/^kind=//p' "$dir/$name.server")
  port=$(sed -n 's/^port=//p' "$dir/$name.server")
  tls_port=$(sed -n 's/^tls_port=//p' "$dir/$name.server")
  ! in_use "$port" || die "port $port is in use"
  local deadline=$((SECONDS + ${MAIL_START_TIMEOUT:-60})) launched=
  rm -f "$dir/$name.pid"
  if [ "$kind" = pop3 ]; then
    rm -f "$dir/$name.run/master.pid"
    /usr/sbin/dovecot -c "$dir/$name.conf" 2>>"$dir/log/$name.log" ||
      { tail -n 20 "$dir/log/$name.log" >&2; die "dovecot $name does not start"; }
  else
    local args
    mapfile -t args <"$dir/$name.args"
    setsid /usr/bin/python3 "$HERE/smtpd.py" "${args[@]}" </dev/null >>"$dir/log/$name.log" 2>&1 &
    launched=$!
  fi
  ready() {
    if [ "$kind" = pop3 ]; then
      [ -s "$dir/$name.run/master.pid" ] && greets "$port" +OK &&
        { [ -z "$tls_port" ] || greets "$tls_port" +OK tls; }
    else
      [ -s "$dir/$name.pid" ] && greets "$port" 220 "$tls_port"
    fi
  }
  until ready; do
    if [ $SECONDS -ge $deadline ] || { [ -n "$launched" ] && ! running "$launched"; } ||
       { [ "$kind" = pop3 ] && grep -q 'Fatal:' "$dir/log/$name.log" 2>/dev/null; }; then
      tail -n 20 "$dir/log/$name.log" >&2
      [ "$kind" = pop3 ] && cp "$dir/$name.run/master.pid" "$dir/$name.pid" 2>/dev/null
      down "$dir" "$name"
      die "$name does not greet on 127.0.0.1:$port"
    fi
    sleep 0.1
  done
  [ "$kind" = pop3 ] && cp "$dir/$name.run/master.pid" "$dir/$name.pid"
  return 0
}

# down DIR NAME: stop one server and wait until it and its children are gone (TERM, then KILL
# after 20 s). dovecot's master and the SMTP receiver each lead their own process group.
down() {
  local dir=$1 name=$2 pid n=0 pids
  pid=$(cat "$dir/$name.pid" 2>/dev/null) || pid=$(cat "$dir/$name.run/master.pid" 2>/dev/null) || return 0
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  pids=$(members "$pid")
  [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
  while pids=$(members "$pid") && [ -n "$pids" ]; do
    n=$((n + 1))
    if [ $n -gt 200 ]; then kill -KILL $pids 2>/dev/null; sleep 0.2; break; fi
    sleep 0.1
  done
  rm -f "$dir/$name.pid"
}

stop_all() { # DIR
  local f n
  [ -d "$1" ] || return 0
  for f in "$1"/*.server; do
    [ -f "$f" ] || continue
    n=${f##*/}
    down "$1" "${n%.server}"
  done
}

case "${1:-}" in
  start)
    [ $# -eq 4 ] || die "usage: mail.sh start DIR POP3_PORT SMTP_PORT"
    dir=$2
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd -P)
    [ ${#dir} -le 60 ] || die "$dir is too long for dovecot's Unix sockets (60 characters at most)"
    [ ! -s "$dir/pop3.pid" ] && [ ! -s "$dir/smtp.pid" ] || die "a mail stack runs in $dir"
    mkdir -p "$dir/log"
    for u in "${USERS[@]}"; do mkdir -p "$dir/mail/$u/new" "$dir/mail/$u/cur" "$dir/mail/$u/tmp"; done
    [ "$(id -u)" != 0 ] || chown -R "$(owner)" "$dir/mail"
    chmod 0750 "$dir/mail"
    write_dovecot_conf "$dir" pop3 "$3"
    write_smtp_server "$dir" smtp "$4"
    trap 'stop_all "$dir"' EXIT
    up "$dir" pop3
    up "$dir" smtp
    trap - EXIT
    ;;
  pop3)
    [ $# -eq 4 ] || [ $# -eq 7 ] || die "usage: mail.sh pop3 DIR NAME PORT [POP3S_PORT CERT KEY]"
    dir=$(cd "$2" && pwd -P) || exit 1
    write_dovecot_conf "$dir" "$3" "$4" "${@:5}"
    up "$dir" "$3"
    ;;
  smtp)
    [ $# -ge 4 ] || die "usage: mail.sh smtp DIR NAME PORT [smtpd.py options]"
    dir=$(cd "$2" && pwd -P) || exit 1
    write_smtp_server "$dir" "$3" "$4" "${@:5}"
    up "$dir" "$3"
    ;;
  up) [ $# -eq 3 ] || die "usage: mail.sh up DIR NAME"; up "$2" "$3" ;;
  down) [ $# -eq 3 ] || die "usage: mail.sh down DIR NAME"; down "$2" "$3" ;;
  stop)
    [ $# -eq 2 ] || die "usage: mail.sh stop DIR"
    stop_all "$2"
    ;;
  *) die "usage: mail.sh start|pop3|smtp|up|down|stop ... (see the head of this file)" ;;
esac
