#!/usr/bin/env bash
# The Debian package. `make deb` builds it (dpkg-buildpackage in a copy of the tree) and lintian
# reports no error. Then it is installed in a booted systemd (systemd-nspawn, private network,
# on a Debian 12 rootfs made with mmdebstrap from the Debian archive): the package creates the
# oks user and leaves its units disabled; the units start a 1-shard cluster (Type=notify: the
# gateway answers as soon as `systemctl start` returns), oksctl imports a key and
# `gpg --recv-keys` fetches it through the HTTP gateway; the daemons log to the journal;
# `systemctl reload oks-gw-http` applies a changed page template; `systemctl stop` of the shard
# while a client uploads loses no upload that was answered 200.
#
# The rootfs (systemd and the package's libraries, ~220 MB) is built once, while the package
# builds, and kept in build/pkg-test/rootfs (OKS_PKG_ROOTFS to put it elsewhere; `make clean`
# removes it); the container boots it with --volatile=overlay, so a run never changes it.
# Everything a run starts or creates (container, its mounts, temporary trees) is removed on exit.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir)
G=$(gpg_home)
G2=$(gpg_home)
CACHE=${OKS_PKG_ROOTFS:-$OKS_ROOT/build/pkg-test/rootfs}
MACHINE=okstest$$
# the libraries the package depends on (dpkg-shlibdeps of its programs), systemd to boot
RUNTIME=libetpan20,libgcrypt20,libh2o-evloop0.13,libinih1,libcurl3-gnutls,libjansson4,libknot13,libleveldb1d,libmicrohttpd12,libprotobuf-c1,libssl3,libstdc++6,libsystemd0,libzmq5
INCLUDE=systemd,systemd-sysv,dbus,procps,$RUNTIME
NEW=$CACHE.new$$
NSPAWN= MMDEB= INIT= LINTIAN=

umount_under() { # every mount point at or below $1, deepest first
  findmnt -rn -o TARGET | awk -v p="$1" 'index($0, p) == 1' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
}
stop_pid() { # pid seconds: TERM, wait, then KILL
  local p=$1 i
  kill -TERM "$p" 2>/dev/null || return 0
  for i in $(seq 1 $(($2 * 5))); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$p" 2>/dev/null
  wait "$p" 2>/dev/null
}
cleanup() {
  [ -n "$NSPAWN" ] && stop_pid "$NSPAWN" 30
  [ -n "$MMDEB" ] && stop_pid "$MMDEB" 30
  [ -n "$LINTIAN" ] && stop_pid "$LINTIAN" 5
  umount_under "$NEW"; rm -rf --one-file-system "$NEW"
  rm -rf "/run/systemd/nspawn/propagate/$MACHINE"
  gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"
  umount_under "$D"; rm -rf --one-file-system "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the rootfs, in the background while the package builds -------------------------------------
CT_OK=1 CT_WHY=
if ! command -v mmdebstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
  CT_OK=0 CT_WHY="mmdebstrap or systemd-nspawn not installed (deploy/deps.sh)"
elif [ -f "$CACHE/.oks-include" ] && [ "$(cat "$CACHE/.oks-include")" = "$INCLUDE" ]; then
  echo "# rootfs: $CACHE (cached)"
else
  echo "# rootfs: building $CACHE with mmdebstrap"
  mkdir -p "$(dirname "$CACHE")"
  timeout 600 mmdebstrap --variant=minbase --dpkgopt=force-unsafe-io --include="$INCLUDE" \
    bookworm "$NEW" >"$D/mmdebstrap.log" 2>&1 &
  MMDEB=$!
fi

# ---- make deb, lintian ----------------------------------------------------------------------------
timeout 600 make -s -C "$OKS_ROOT" --no-print-directory deb DEB_DIR="$D/deb" >"$D/deb.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -20 "$D/deb.log" | sed 's/^/# /'
check "make deb builds the package (exit $rc)" test $rc -eq 0
DEB=$(ls "$D"/deb/oks_*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { not_ok "a .deb was written"; finish; }
echo "# $(basename "$DEB"): $(stat -c %s "$DEB") bytes"
dpkg-deb -c "$DEB" | awk '{print $6}' >"$D/contents"
bad=0
for f in ./usr/sbin/oks-shard ./usr/sbin/oks-router ./usr/sbin/oks-gw-http ./usr/sbin/oks-gw-mail \
         ./usr/sbin/oks-sync ./usr/bin/oksctl ./etc/oks/oks.conf ./usr/lib/sysusers.d/oks.conf \
         ./lib/systemd/system/oks-shard@.service ./lib/systemd/system/oks-router.service \
         ./lib/systemd/system/oks-gw-http.service ./lib/systemd/system/oks-gw-mail@.service \
         ./lib/systemd/system/oks-sync.service ./usr/share/man/man8/oks-shard.8.gz \
         ./usr/share/man/man1/oksctl.1.gz ./usr/share/man/man5/oks.conf.5.gz \
         ./usr/share/oks/templates/http/home.html; do
  grep -qx "$f" "$D/contents" || { echo "# missing in the package: $f"; bad=1; }
done
check "the package holds programs, oks.conf, units, sysusers.d, man pages, templates" test $bad -eq 0
check "/etc/oks/oks.conf is a conffile" bash -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/oks/oks.conf"
# lintian runs while the container part does; lintian_and_finish reports it
timeout 300 lintian --fail-on error "$D"/deb/oks_*.changes >"$D/lintian.log" 2>&1 &
LINTIAN=$!
lintian_and_finish() {
  wait "$LINTIAN"; local rc=$?; LINTIAN=
  grep -v 'running with root privileges' "$D/lintian.log" | sed 's/^/# lintian: /'
  check "lintian finds no error (exit $rc)" bash -c "[ $rc -eq 0 ] && ! grep -q '^E: ' '$D/lintian.log'"
  finish
}

# ---- boot the rootfs and install the package --------------------------------------------------------
if [ -n "$MMDEB" ]; then
  wait "$MMDEB"; rc=$?; MMDEB=
  if [ $rc -eq 0 ]; then
    echo "$INCLUDE" >"$NEW/.oks-include"
    rm -rf --one-file-system "$CACHE" && mv -T "$NEW" "$CACHE"
  else
    CT_OK=0 CT_WHY="mmdebstrap could not build the rootfs (exit $rc): $(tail -1 "$D/mmdebstrap.log")"
  fi
fi
if [ $CT_OK -eq 0 ]; then
  ok "install in a booted systemd container # SKIP $CT_WHY"
  lintian_and_finish
fi
mkdir -p "$D/mnt"
cp "$DEB" "$D/mnt/oks.deb"
systemd-nspawn -D "$CACHE" --volatile=overlay --private-network --boot --register=no \
  --keep-unit --console=passive --machine="$MACHINE" --bind-ro="$D/mnt:/mnt/oks" \
  >"$D/nspawn.log" 2>&1 &
NSPAWN=$!
wait_for 30 pgrep -P "$NSPAWN" -x systemd
INIT=$(pgrep -P "$NSPAWN" -x systemd | head -1)
in_ct() { timeout 120 nsenter -t "$INIT" -a "$@"; }
state=
for _ in $(seq 1 120); do # until its bus is up, then until start-up is done
  [ -n "$INIT" ] && kill -0 "$NSPAWN" 2>/dev/null || break
  state=$(in_ct systemctl is-system-running --wait 2>&1)
  case "$state" in running|degraded|stopping|offline|maintenance) break ;; esac
  sleep 0.5
done
if [ "$state" != running ] && [ "$state" != degraded ]; then
  sed 's/^/# nspawn: /' "$D/nspawn.log" | tail -20
  ok "install in a booted systemd container # SKIP the container did not boot (state '${state}')"
  lintian_and_finish
fi
ok "a Debian 12 systemd container boots (state $state)"

in_ct dpkg -i /mnt/oks/oks.deb >"$D/dpkg.log" 2>&1
rc=$?
[ $rc -eq 0 ] || sed 's/^/# dpkg: /' "$D/dpkg.log"
check "dpkg -i installs the package in the container" test $rc -eq 0
check "the package created the system user oks" in_ct id -u oks
for u in oks-router oks-gw-http oks-sync oks-shard@s0 oks-gw-mail@box; do
  s=$(in_ct systemctl is-enabled "$u" 2>&1)
  check "$u is installed disabled (is-enabled: $s)" test "$s" = disabled
done
check "nothing of OKS was started by the installation" \
  bash -c "! nsenter -t '$INIT' -a systemctl list-units --no-legend --state=active 'oks-*' | grep -q ."

# a 1-shard cluster, the gateway on the container's own 127.0.0.1; CURVE keys made with the
# installed oksctl, each daemon's secret key readable by the oks user only, the admin's by root
in_ct sh -c 'mkdir -m 700 /etc/oks/keys && for r in router shard http admin; do
  oksctl keygen /etc/oks/keys/$r >/dev/null || exit 1; done &&
  chown oks /etc/oks/keys /etc/oks/keys/router /etc/oks/keys/shard /etc/oks/keys/http' ||
  not_ok "oksctl keygen makes the cluster's keys"
in_ct sh -c 'cat >/etc/oks/oks.conf' <<'EOF'
[cluster]
slots = 4096
routers = tcp://127.0.0.1:11400
[shard.s0]
endpoint = tcp://127.0.0.1:11410
data = /var/lib/oks/s0
slots = 0-4095
[http]
listen = 127.0.0.1:11371
templates = /etc/oks/html-templates
[security]
router_key = /etc/oks/keys/router
shard_key = /etc/oks/keys/shard
http_key = /etc/oks/keys/http
admin_key = /etc/oks/keys/admin
EOF
in_ct oks-gw-http dump-templates /etc/oks/html-templates >/dev/null 2>&1 ||
  not_ok "oks-gw-http dump-templates writes the page templates"
in_ct systemctl start oks-shard@s0 oks-router oks-gw-http >"$D/start.log" 2>&1
rc=$?
# Type=notify: started means serving, so the gateway answers right away
code=$(timeout 30 nsenter -t "$INIT" -n curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:11371/)
[ $rc -eq 0 ] || { sed 's/^/# /' "$D/start.log"; in_ct journalctl --no-pager -n 30 | sed 's/^/# /'; }
check "systemctl start oks-shard@s0 oks-router oks-gw-http succeeds" test $rc -eq 0
check "units active: $(in_ct systemctl is-active oks-shard@s0 oks-router oks-gw-http | tr '\n' ' ')" \
  bash -c "[ \"\$(nsenter -t '$INIT' -a systemctl is-active oks-shard@s0 oks-router oks-gw-http | sort -u)\" = active ]"
check "the gateway answers as soon as systemctl start returns (HTTP $code)" test "$code" = 200
users=$(in_ct sh -c 'for u in oks-shard@s0 oks-router oks-gw-http; do
  stat -c %U "/proc/$(systemctl show -p MainPID --value "$u")"; done' | sort -u | tr '\n' ' ')
check "the daemons run as oks (${users})" test "$users" = "oks "

gpg --homedir "$G" --batch --passphrase '' --quick-gen-key 'OKS Package Test <pkg@example.org>' \
  ed25519 cert >/dev/null 2>&1
FPR=$(gpg --homedir "$G" --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
gpg --homedir "$G" --export "$FPR" >"$D/mnt/key.pgp"
out=$(in_ct oksctl import -c /etc/oks/oks.conf /mnt/oks/key.pgp 2>&1)
echo "# $out"
check "oksctl (installed) imports a key into the cluster" grep -q '1 new' <<<"$out"
timeout 60 nsenter -t "$INIT" -n gpg --homedir "$G2" --batch --keyserver hkp://127.0.0.1:11371 \
  --recv-keys "$FPR" >"$D/recv.log" 2>&1
rc=$?
GNUPGHOME=$G2 gpgconf --kill all >/dev/null 2>&1
[ $rc -eq 0 ] || sed 's/^/# gpg: /' "$D/recv.log"
check "gpg --recv-keys fetches it through the gateway" \
  bash -c "gpg --homedir '$G2' --with-colons --list-keys '$FPR' | grep -q '^fpr:::::::::$FPR:'"
check "the shard logs to the journal" \
  bash -c "nsenter -t '$INIT' -a journalctl --no-pager -u oks-shard@s0 | grep -q 'shard s0 serving slots'"
check "/var/lib/oks/s0 belongs to oks" test "$(in_ct stat -c %U /var/lib/oks/s0)" = oks
# systemctl reload: the gateway re-reads its templates (ExecReload sends SIGHUP)
ct_get() { timeout 30 nsenter -t "$INIT" -n curl -s "http://127.0.0.1:11371$1"; }
check "the home page is the installed template" bash -c "! grep -q OKS-RELOADED <<<\"\$(ct_get /)\""
in_ct sed -i 's|<h1>OKS keyserver</h1>|<h1>OKS keyserver OKS-RELOADED</h1>|' /etc/oks/html-templates/home.html
in_ct systemctl reload oks-gw-http
in_ct grep -c OKS-RELOADED /etc/oks/html-templates/home.html >/dev/null ||
  echo "# the template edit did not take: $(in_ct ls -l /etc/oks/html-templates/home.html)"
check "systemctl reload oks-gw-http applies a template change" \
  wait_for 30 bash -c "grep -q OKS-RELOADED <<<\"\$(timeout 30 nsenter -t '$INIT' -n curl -s http://127.0.0.1:11371/)\""
grep -q OKS-RELOADED <<<"$(ct_get /)" ||
  in_ct journalctl --no-pager -u oks-gw-http -n 15 | sed 's/^/# gw-http: /'
check "  ... without restarting the gateway" \
  test "$(in_ct systemctl show -p NRestarts --value oks-gw-http)" = 0

# systemctl stop of the shard while a client uploads: every upload answered 200 is there after
# the shard is started again (an acknowledgement means synced)
echo "$FPR" >"$D/fpr"
nsenter -t "$INIT" -n /usr/bin/python3 "$OKS_ROOT/tests/integration/helpers/http_load.py" \
  http://127.0.0.1:11371 "$D/fpr" /usr/share/keyrings/debian-maintainers.gpg "$D/load" "$D/stop" &
LOAD=$!
wait_for 60 bash -c "[ \$(grep -c '^upload 200 ' '$D/load' 2>/dev/null) -ge 20 ]"
in_ct systemctl stop oks-shard@s0
n_stop=$(grep -c '^upload 200 ' "$D/load")
sleep 1
in_ct systemctl start oks-shard@s0
wait_for 60 bash -c "[ \$(grep -c '^upload 200 ' '$D/load') -ge $((n_stop + 20)) ]"
touch "$D/stop"; wait "$LOAD"
awk '$1=="upload" && $2==200 {print $4}' "$D/load" | sort -u >"$D/acked"
echo "# uploads: $(awk '$1=="upload"{print $2}' "$D/load" | sort | uniq -c | tr '\n' ' ')"
missing=0
while read -r f; do
  [ "$(timeout 30 nsenter -t "$INIT" -n curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:11371/pks/lookup?op=get&options=mr&search=0x$f")" = 200 ] || missing=$((missing + 1))
done <"$D/acked"
check "uploads went on after the shard came back ($n_stop acknowledged before the stop)" \
  test "$(grep -c '^upload 200 ' "$D/load")" -ge $((n_stop + 20))
check "systemctl stop lost no acknowledged key ($(wc -l <"$D/acked") keys, $missing missing)" \
  test "$missing" -eq 0 -a "$(wc -l <"$D/acked")" -gt 20

in_ct systemctl stop oks-gw-http oks-router oks-shard@s0
check "systemctl stop stops them" \
  bash -c "[ \"\$(nsenter -t '$INIT' -a systemctl is-active oks-shard@s0 oks-router oks-gw-http | sort -u)\" = inactive ]"
lintian_and_finish
