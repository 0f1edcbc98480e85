#!/usr/bin/env bash
# The container image. deploy/image.sh builds it (base from mmdebstrap, cached under
# build/image/; the test's own tag is removed at exit), every program runs in it as the user
# oks, and a cluster of containers on a private podman network (two shards, a router, the HTTP
# gateway: one container each, oks.conf naming them by container name) answers
# `gpg --recv-keys` through the gateway's port published on 127.0.0.1, after oksctl in a
# container imported the key. Skips when podman or mmdebstrap is missing or podman cannot run
# a container on this machine. Containers, volumes, the network and the test image are removed
# on exit, also on failure.
set -u
source "$(dirname "$0")/lib.sh"
export CONTAINERS_CONF=$OKS_ROOT/deploy/containers.conf
D=$(scratch_dir)
G=$(gpg_home)
G2=$(gpg_home)
P=oks71-$$
IMG=localhost/$P:test
NET=$P
cleanup() {
  podman rm -f -v -t 5 $P-shard0 $P-shard1 $P-router $P-http >/dev/null 2>&1
  podman network rm -f "$NET" >/dev/null 2>&1
  podman rmi -f "$IMG" >/dev/null 2>&1
  gpg_home_cleanup "$G"; gpg_home_cleanup "$G2"
  rm -rf "$D"
}
at_exit cleanup

if ! command -v podman >/dev/null || ! command -v mmdebstrap >/dev/null; then
  ok "container image # SKIP podman or mmdebstrap not installed (deploy/deps.sh)"; finish
fi
t0=$SECONDS
timeout 900 bash "$OKS_ROOT/deploy/image.sh" --tag "$IMG" >"$D/image.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -20 "$D/image.log" | sed 's/^/# /'
if [ $rc -ne 0 ] && ! podman image exists "$(bash "$OKS_ROOT/deploy/image.sh" --base-only 2>/dev/null)"; then
  ok "container image # SKIP the base image could not be built (no Debian archive?)"; finish
fi
check "deploy/image.sh builds the image (exit $rc, $((SECONDS - t0)) s)" test $rc -eq 0
[ $rc -eq 0 ] || finish
size=$(podman image inspect --format '{{.Size}}' "$IMG")
echo "# image size: $((size / 1000000)) MB"
if ! out=$(timeout 120 podman run --rm "$IMG" id -un 2>&1); then
  echo "$out" | sed 's/^/# /'
  ok "containers # SKIP podman cannot run a container here"; finish
fi
check "the image runs as the user oks ($out)" test "$(tail -1 <<<"$out")" = oks
bad=
for p in oks-shard oks-router oks-gw-http oks-gw-mail oks-sync oks-gw-dns oksctl; do
  timeout 60 podman run --rm "$IMG" $p --help >"$D/help.$p" 2>&1 </dev/null || true
  grep -qi 'usage' "$D/help.$p" || { bad="$bad $p"; sed 's/^/# /' "$D/help.$p" | tail -3; }
done
check "every program starts in the image (its libraries are there)${bad:+, not:$bad}" test -z "$bad"

# ---- a cluster of containers --------------------------------------------------------------------
cat >"$D/oks.conf" <<CONF
[cluster]
slots = 4096
routers = tcp://$P-router:11400
[shard.s0]
endpoint = tcp://$P-shard0:11410
bind = tcp://0.0.0.0:11410
data = /var/lib/oks/s0
slots = 0-2047
[shard.s1]
endpoint = tcp://$P-shard1:11410
bind = tcp://0.0.0.0:11410
data = /var/lib/oks/s1
slots = 2048-4095
[http]
listen = 0.0.0.0:11371
[security]
router_key = /etc/oks-keys/router
shard_key = /etc/oks-keys/shard
http_key = /etc/oks-keys/http
admin_key = /etc/oks-keys/admin
CONF
chmod 644 "$D/oks.conf"
# CURVE keys (every ZeroMQ link runs it), readable by the image's oks user (uid 11371) only
mkdir -p "$D/keys"
for k in router shard http admin; do "$OKS_BIN/oksctl" keygen "$D/keys/$k" >/dev/null; done
chown -R 11371:11371 "$D/keys"
chmod 700 "$D/keys"
HP=$(free_port)
podman network create "$NET" >/dev/null
run() { # NAME ARGS...: a detached container of the cluster
  local n=$1; shift
  podman run -d --name "$P-$n" --network "$NET" -v "$D/oks.conf:/etc/oks/oks.conf:ro" \
    -v "$D/keys:/etc/oks-keys:ro" "$@" >/dev/null
}
# the shards and the router bind all their addresses (bind, --bind): ZeroMQ cannot bind the
# container name the others connect to
run shard0 "$IMG" shard --name s0
run shard1 "$IMG" shard --name s1
run router "$IMG" router --bind 'tcp://0.0.0.0:11400'
run http -p "127.0.0.1:$HP:11371" "$IMG" gw-http
check "four containers run: $(podman ps --filter name=$P --format '{{.Names}}' | tr '\n' ' ')" \
  test "$(podman ps -q --filter name=$P | wc -l)" -eq 4
check "/pks/health is 200 through the published port (every shard up)" \
  wait_for 60 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$HP/pks/health)\" = 200 ]"

gpg --homedir "$G" --batch --passphrase '' --quick-gen-key 'OKS Image Test <image@example.org>' \
  ed25519 cert >/dev/null 2>&1
FPR=$(gpg --homedir "$G" --with-colons --list-keys | awk -F: '$1=="fpr"{print $10; exit}')
gpg --homedir "$G" --export "$FPR" >"$D/key.pgp"
chmod 644 "$D/key.pgp"
out=$(timeout 120 podman run --rm --network "$NET" -v "$D/oks.conf:/etc/oks/oks.conf:ro" \
  -v "$D/keys:/etc/oks-keys:ro" -v "$D/key.pgp:/tmp/key.pgp:ro" "$IMG" oksctl import /tmp/key.pgp 2>&1 | grep -v syslog)
echo "# $out"
check "oksctl in a container imports a key through the router" grep -q '1 new' <<<"$out"
timeout 60 gpg --homedir "$G2" --batch --keyserver "hkp://127.0.0.1:$HP" --recv-keys "$FPR" \
  >"$D/recv.log" 2>&1
rc=$?
GNUPGHOME=$G2 gpgconf --kill all >/dev/null 2>&1
[ $rc -eq 0 ] || sed 's/^/# gpg: /' "$D/recv.log"
check "gpg --recv-keys fetches it through the gateway container" \
  bash -c "gpg --homedir '$G2' --with-colons --list-keys '$FPR' | grep -q '^fpr:::::::::$FPR:'"
owners=$(for s in 0 1; do podman exec "$P-shard$s" stat -c %U /var/lib/oks/s$s; done | sort -u)
check "the shards' data in the volume belongs to oks ($owners)" test "$owners" = oks
check "the shard logs to the container log" \
  bash -c "podman logs $P-shard0 2>&1 | grep -q 'shard s0 serving slots'"
podman stop -t 10 $P-http $P-router $P-shard0 $P-shard1 >/dev/null 2>&1
codes=$(podman inspect --format '{{.State.ExitCode}}' $P-http $P-router $P-shard0 $P-shard1 | sort -u | tr '\n' ' ')
check "the daemons stop on SIGTERM with exit 0 (${codes})" test "$codes" = "0 "
echo "# $((SECONDS - t0)) s"
finish
