#!/usr/bin/env bash
# Installs the Debian 12 packages OKS needs to build, test and benchmark.
# Idempotent and quiet when everything is present; runs `apt-get update`
# only when something is missing. Must run as root (or via sudo) to install.
set -euo pipefail

PKGS=(
  # build
  build-essential pkg-config clang
  libleveldb-dev libzmq3-dev libsodium-dev libgcrypt20-dev libh2o-evloop-dev libssl-dev
  libetpan-dev libprotobuf-c-dev protobuf-c-compiler libinih-dev libcmocka-dev
  libjansson-dev
  # ip (network namespaces of the multi-host tests), ss (tests wait for a port to listen)
  iproute2
  # the etcd client (lib/etcd.c); the GnuTLS flavour, as libetpan-dev depends on it (the
  # OpenSSL flavour, libcurl4-openssl-dev, conflicts with it and would remove libetpan-dev)
  libcurl4-gnutls-dev
  libsystemd-dev
  # /metrics of shard, router, sync, mail gateway (lib/metrics_http.c); promtool checks the
  # exposition and deploy/prometheus/oks-rules.yml (tests/integration/73-ops-metrics.sh)
  libmicrohttpd-dev prometheus
  # the DNS gateway's wire format (gw-dns, docs/dns.md); kdig for its tests
  libknot-dev knot-dnsutils
  # packaging: make deb, lintian, unit checks, the booted-container install test
  devscripts debhelper lintian fakeroot dpkg-dev systemd mmdebstrap systemd-container
  # the container image and its tests (deploy/image.sh, deploy/containers.conf); netavark sets
  # up every container network, also the build's, with iptables (without it: "netavark: No such
  # file or directory")
  podman buildah runc netavark aardvark-dns catatonit iptables
  # tests: real clients, real peers, real corpus (tests/harness/ runs sks, dovecot with
  # dovecot-pop3d and python3-aiosmtpd; openssl and curl probe their readiness)
  gnupg dirmngr gpg-agent sq debian-keyring sks
  dovecot-core dovecot-pop3d python3-aiosmtpd python3-zmq python3-cryptography python3-h2 swaks curl jq haproxy
  openssl libsasl2-modules
  # the cluster topology store (docs/etcd.md) and tests/harness/etcd.sh
  etcd-server etcd-client
  # the LDAP gateway's directory server (slapd with back-sock; a runtime dependency of the
  # hosts that run oks-gw-ldap) and ldapsearch for its tests and benchmark
  slapd ldap-utils
  chromium
  # the web pages' browser checks (tests/web/setup.sh runs npm ci for playwright-core, axe-core)
  nodejs
  # benchmarks
  wrk gnuplot-nox bc h2o
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
# Debian's nodejs ships npm as a package of its own; other nodejs builds (NodeSource) carry it
# and conflict with Debian's npm package, so npm is only asked for when no npm is there after
# nodejs is.
if ! command -v npm >/dev/null 2>&1; then
  st=$(dpkg-query -W -f='${db:Status-Status}' nodejs 2>/dev/null || true)
  if [ "$st" != installed ] || ! dpkg-query -L nodejs 2>/dev/null | grep -q '/bin/npm$'; then
    missing+=(npm)
  fi
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
