#!/usr/bin/env bash
# Installation and systemd integration, without a running systemd:
# - `make install PREFIX=/usr DESTDIR=D` lays out programs, /etc/oks/oks.conf, templates, man
#   pages, units and the sysusers.d file with the right modes; a changed oks.conf survives a
#   second install; `make uninstall` removes what install put (a changed oks.conf stays);
# - `systemd-analyze verify` prints nothing for any unit (it only warns on unknown keys, so any
#   output is a failure), and does print something for a broken copy (the check can fail);
# - `systemd-analyze security --offline=true` rates every unit OK or better;
# - every daemon sends READY=1 to NOTIFY_SOCKET only once it serves (its port accepts
#   connections when the notice arrives) and STOPPING=1 on SIGTERM.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$D"
}
trap cleanup EXIT
mk() { # make TARGET... >LOG 2>&1; on failure the log's tail goes to this script's output
  local rc
  make -s -C "$OKS_ROOT" --no-print-directory "$@"; rc=$?
  [ $rc -eq 0 ] || echo "# make $* failed ($rc)" >&2
  return $rc
}
UNITS=(oks-shard@.service oks-router.service oks-gw-http.service oks-gw-mail@.service
       oks-sync.service)
DAEMONS=(oks-shard oks-router oks-gw-http oks-gw-mail oks-sync)

# ---- make install / uninstall ----------------------------------------------------------------
R=$D/root
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
mk install PREFIX=/usr DESTDIR="$R" >"$D/install1.log" 2>&1
check "make install PREFIX=/usr DESTDIR=... succeeds" test $? -eq 0
mode_is() { [ "$(stat -c %a "$R$2")" = "$1" ] || { echo "# $2: mode $(stat -c %a "$R$2" 2>&1), want $1"; return 1; }; }
bad=0
for p in "${DAEMONS[@]}"; do mode_is 755 "/usr/sbin/$p" || bad=1; done
mode_is 755 /usr/bin/oksctl || bad=1
check "daemons in /usr/sbin, oksctl in /usr/bin, mode 0755" test $bad -eq 0
bad=0
for p in "${DAEMONS[@]}"; do mode_is 644 "/usr/share/man/man8/$p.8" || bad=1; done
mode_is 644 /usr/share/man/man1/oksctl.1 || bad=1
mode_is 644 /usr/share/man/man5/oks.conf.5 || bad=1
for f in "$R"/usr/share/man/man*/*; do
  LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null |
    sed "s|^|# ${f##*/}: |" | grep . && bad=1
done
check "a man page per program and oks.conf(5), mode 0644, no groff warnings" test $bad -eq 0
bad=0
for u in "${UNITS[@]}"; do mode_is 644 "$UNITDIR/$u" || bad=1; done
mode_is 644 /usr/lib/sysusers.d/oks.conf || bad=1
grep -q '^u oks ' "$R/usr/lib/sysusers.d/oks.conf" || bad=1
check "units in $UNITDIR and the oks user in sysusers.d, mode 0644" test $bad -eq 0
check "/etc/oks/oks.conf is the example, mode 0644" \
  bash -c "cmp -s '$OKS_ROOT/deploy/oks.conf.example' '$R/etc/oks/oks.conf' && [ \$(stat -c %a '$R/etc/oks/oks.conf') = 644 ]"
n_http=$(ls "$R/usr/share/oks/templates/http" | wc -l)
n_mail=$(ls "$R/usr/share/oks/templates/mail" | wc -l)
check "templates: $n_http HTML templates (7 pages, style.css) and $n_mail mail replies under /usr/share/oks/templates" \
  test "$n_http" -eq 8 -a "$n_mail" -eq 10
# the installed templates are what the installed binary has built in
mkdir -p "$D/dumped" && "$R/usr/sbin/oks-gw-mail" dump-templates "$D/dumped"
check "installed mail templates = dump-templates of the installed gateway" \
  diff -r "$D/dumped" "$R/usr/share/oks/templates/mail"
bad=0
for u in "${UNITS[@]}"; do
  grep -Eq '^ExecStart=/usr/sbin/oks-[a-z-]+ (run )?-c /etc/oks/oks.conf( |$)' "$R$UNITDIR/$u" || bad=1
done
check "units run the installed programs with -c /etc/oks/oks.conf" test $bad -eq 0

echo "; changed by the operator" >>"$R/etc/oks/oks.conf"
cp "$R/etc/oks/oks.conf" "$D/changed.conf"
mk install PREFIX=/usr DESTDIR="$R" >"$D/install2.log" 2>&1
check "a second install keeps a changed /etc/oks/oks.conf" cmp -s "$D/changed.conf" "$R/etc/oks/oks.conf"
mk uninstall PREFIX=/usr DESTDIR="$R" >"$D/uninstall1.log" 2>&1
left=$(find "$R" -type f | sed "s|^$R||")
check "uninstall removes every installed file but the changed oks.conf (left: $left)" \
  test "$left" = /etc/oks/oks.conf
rm -f "$R/etc/oks/oks.conf"
mk install PREFIX=/usr DESTDIR="$R" >"$D/install3.log" 2>&1 &&
  mk uninstall PREFIX=/usr DESTDIR="$R" >"$D/uninstall2.log" 2>&1
left=$(find "$R" -type f -o -type l | sed "s|^$R||" | tr '\n' ' ')
check "install then uninstall leaves no file (left: ${left:-none})" test -z "$left"
check "uninstall removes /etc/oks and /usr/share/oks" test ! -e "$R/etc/oks" -a ! -e "$R/usr/share/oks"

# ---- systemd-analyze verify / security ------------------------------------------------------
# installed under a prefix of their own, so ExecStart= names programs that exist
P=$D/prefix
mk install PREFIX="$P/usr" SYSCONFDIR="$P/etc" >"$D/install4.log" 2>&1
check "make install PREFIX=$P/usr SYSCONFDIR=$P/etc succeeds" test $? -eq 0
U=$P/usr/lib/systemd/system
for u in "${UNITS[@]}"; do
  # the same unit as shipped but for the prefix
  check "$u as installed = deploy/systemd/$u with the prefix's paths" \
    diff <(sed -e "s|$P/usr/sbin/|/usr/sbin/|g" -e "s|$P/etc/|/etc/|g" "$U/$u") \
         "$OKS_ROOT/deploy/systemd/$u"
  out=$(MANPATH=$P/usr/share/man systemd-analyze verify "$U/$u" 2>&1)
  check "systemd-analyze verify $u prints nothing${out:+: $out}" test -z "$out"
  line=$(systemd-analyze security --offline=true "$U/$u" 2>&1 | grep 'Overall exposure level')
  echo "# $line"
  check "systemd-analyze security rates $u OK or better" \
    bash -c "grep -Eq ': [0-9.]+ (OK|SAFE|PERFECT)' <<<'$line'"
done
sed 's/^Type=notify$/Type=notify\nNoSuchKey=1\nRestart=sometimes/' "$U/oks-router.service" \
  >"$D/oks-router.service"
out=$(MANPATH=$P/usr/share/man systemd-analyze verify "$D/oks-router.service" 2>&1)
check "systemd-analyze verify reports a broken copy (unknown key, bad value)" test -n "$out"

# ---- sd_notify readiness ----------------------------------------------------------------------
# notify_listen SOCK PORT OUT: receives notices on SOCK; on READY=1 tries 127.0.0.1:PORT at once
# and writes "READY=1 serving" or "READY=1 not-serving" (PORT 0: no check) to OUT
notify_listen() {
  /usr/bin/python3 - "$@" <<'PY' &
import os, socket, sys
path, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out + ".tmp", "w"):
    pass
os.rename(out + ".tmp", out)
while True:
    msg = s.recv(4096).decode()
    line = msg
    if "READY=1" in msg.split("\n") and port:
        c = socket.socket()
        try:
            c.connect(("127.0.0.1", port)); line = "READY=1 serving"
        except OSError:
            line = "READY=1 not-serving"
        c.close()
    with open(out, "a") as f:
        f.write(line.replace("\n", " ") + "\n")
PY
  PIDS+=($!)
  wait_for 10 test -e "$3"
}
SP=$(free_port) RP=$(free_port) HP=$(free_port) CP=$(free_port) DEAD=$(free_port)
mkdir -p "$D/run" "$D/keys"
for r in router shard http mail sync; do "$OKS_BIN/oksctl" keygen "$D/keys/$r" >/dev/null; done
cat >"$D/oks.conf" <<EOF
[security]
router_key = $D/keys/router
shard_key = $D/keys/shard
http_key = $D/keys/http
mail_key = $D/keys/mail
sync_key = $D/keys/sync
[cluster]
slots = 16
routers = tcp://127.0.0.1:$RP
[shard.s0]
endpoint = tcp://127.0.0.1:$SP
data = $D/run/s0
slots = 0-15
[http]
listen = 127.0.0.1:$HP
[mail]
pop3 = 127.0.0.1:$DEAD
user = u
password = p
smtp = 127.0.0.1:$DEAD
address = keys@example.org
state_dir = $D/run/gw-mail
[sync]
membership = $D/run/membership
tree = $D/run/sync
state = $D/run/sync-state
EOF
: >"$D/run/membership"
start_notified() { # name port cmd...: the daemon with its own notify socket
  local name=$1 port=$2; shift 2
  notify_listen "$D/n-$name" "$port" "$D/$name.notices"
  NOTIFY_SOCKET=$D/n-$name "$@" >"$D/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}
start_notified shard "$SP" "$OKS_BIN/oks-shard" -c "$D/oks.conf" --name s0
start_notified router "$RP" "$OKS_BIN/oks-router" -c "$D/oks.conf"
start_notified gw-http "$HP" "$OKS_BIN/oks-gw-http" -c "$D/oks.conf"
start_notified gw-mail 0 "$OKS_BIN/oks-gw-mail" -c "$D/oks.conf"
start_notified sync "$CP" "$OKS_BIN/oks-sync" run -c "$D/oks.conf" --recon-port "$CP" \
  --gossip-seconds 0
for n in shard router gw-http gw-mail sync; do
  want="READY=1 serving"; [ $n = gw-mail ] && want="READY=1"
  wait_for 30 grep -q '^READY=1' "$D/$n.notices"
  check "oks-$n sends READY=1 once it serves ($(head -1 "$D/$n.notices"))" \
    grep -qx "$want" "$D/$n.notices"
done
for n in gw-mail sync gw-http router shard; do
  v=PID_${n//-/_}
  kill -TERM "${!v}" 2>/dev/null
  wait_for 30 grep -q '^STOPPING=1' "$D/$n.notices"
  check "oks-$n sends STOPPING=1 on SIGTERM" grep -q '^STOPPING=1' "$D/$n.notices"
done
check "no sd_notify errors in the daemons' logs" bash -c "! grep -h sd_notify '$D'/*.log"
finish
