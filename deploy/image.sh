#!/usr/bin/env bash
# Builds the OKS container image: every daemon (oks-shard, oks-router, oks-gw-http, oks-gw-mail,
# oks-sync, oks-gw-dns) and oksctl on a Debian 12 base, run as the user oks, data under the volume
# /var/lib/oks. No image registry is needed:
#
#   deploy/image.sh [--tag NAME] [--base-only] [--deb FILE]
#
# 1. the base: a Debian 12 minbase made with mmdebstrap from the Debian archive apt is set up for,
#    with only the libraries the programs link (and ca-certificates); no documentation, manuals
#    or locales, no apt lists. Kept as build/image/base.tar (OKS_IMAGE_CACHE=DIR to put it
#    elsewhere; `make clean` removes it) and imported once as localhost/oks-base:SUM (SUM: a
#    digest of what the base holds), so later builds skip this step;
# 2. the programs: `make install DESTDIR=... PREFIX=/usr` from the release build (built first
#    when needed), stripped, without man pages or systemd units; or, with --deb FILE, the
#    contents of a package that `make deb` wrote;
# 3. `podman build -f deploy/Containerfile` on top of the base: the user oks (uid/gid 11371),
#    /var/lib/oks, the entry point deploy/oks-entrypoint.
#
# The image is tagged NAME (default localhost/oks:VERSION, VERSION from debian/changelog, and
# localhost/oks:latest). Run a daemon with `podman run IMAGE shard --name s0` (see
# docs/operations.md, "Container image"). podman runs with deploy/containers.conf unless
# CONTAINERS_CONF names another file.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CACHE=${OKS_IMAGE_CACHE:-$ROOT/build/image}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$HERE/containers.conf}
# what the programs link (dpkg-shlibdeps of the package's programs), and CA certificates for the
# mail gateway's TLS
RUNTIME=libetpan20,libgcrypt20,libh2o-evloop0.13,libinih1,libcurl3-gnutls,libjansson4,libknot13,libleveldb1d,libmicrohttpd12,libprotobuf-c1,libssl3,libstdc++6,libsystemd0,libzmq5,ca-certificates
SUITE=bookworm
TAGS=() BASE_ONLY=0 DEB=
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) TAGS+=("$2"); shift 2 ;;
    --base-only) BASE_ONLY=1; shift ;;
    --deb) DEB=$(realpath "$2"); shift 2 ;;
    -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
for p in podman mmdebstrap; do
  command -v "$p" >/dev/null || { echo "image.sh: $p is not installed (deploy/deps.sh)" >&2; exit 1; }
done
VERSION=$(sed -n '1s/^oks (\([^)]*\)).*/\1/p' "$ROOT/debian/changelog" 2>/dev/null)
VERSION=${VERSION:-0}
[ ${#TAGS[@]} -gt 0 ] || TAGS=("localhost/oks:${VERSION//[^A-Za-z0-9_.-]/_}" localhost/oks:latest)
mkdir -p "$CACHE"

# ---- 1. the base ----------------------------------------------------------------------------------
# everything that decides the base's contents; its digest names the imported image
SPEC="suite=$SUITE variant=minbase include=$RUNTIME nodoc=1"
SUM=$(printf '%s' "$SPEC" | sha256sum | cut -c1-12)
BASE=localhost/oks-base:$SUM
if [ ! -f "$CACHE/base.tar" ] || [ "$(cat "$CACHE/base.spec" 2>/dev/null)" != "$SPEC" ]; then
  echo "image.sh: building the base with mmdebstrap ($SUITE, minbase + runtime libraries)" >&2
  rm -f "$CACHE/base.tar.new" "$CACHE/base.spec"
  mmdebstrap --variant=minbase --include="$RUNTIME" --dpkgopt=force-unsafe-io \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    --format=tar "$SUITE" "$CACHE/base.tar.new" >&2
  mv -f "$CACHE/base.tar.new" "$CACHE/base.tar"
  echo "$SPEC" >"$CACHE/base.spec"
  podman rmi -f "$BASE" >/dev/null 2>&1 || true
fi
if ! podman image exists "$BASE"; then
  echo "image.sh: importing $CACHE/base.tar as $BASE" >&2
  podman import --quiet "$CACHE/base.tar" "$BASE" >/dev/null
fi
[ $BASE_ONLY -eq 1 ] && { echo "$BASE"; exit 0; }

# ---- 2. the programs ------------------------------------------------------------------------------
CTX=$(mktemp -d "$CACHE/ctx.XXXXXX")
trap 'rm -rf --one-file-system "$CTX"' EXIT
if [ -n "$DEB" ]; then
  dpkg-deb -x "$DEB" "$CTX/root"
else
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MODE \
    make -s -C "$ROOT" --no-print-directory install DESTDIR="$CTX/root" PREFIX=/usr >/dev/null
fi
# the image runs the daemons directly: no manuals, units, sysusers.d or documentation
rm -rf "$CTX/root/usr/share/man" "$CTX/root/usr/share/doc" "$CTX/root/lib/systemd" \
  "$CTX/root/usr/lib/systemd" "$CTX/root/usr/lib/sysusers.d" "$CTX/root/usr/lib/tmpfiles.d"
find "$CTX/root" -depth -type d -empty -delete
# only usr/ and etc/ remain: a directory in place of the base's /lib or /bin symlinks (merged
# /usr) would hide the base's own
for d in "$CTX"/root/*; do
  case "${d##*/}" in usr|etc) ;; *) echo "image.sh: unexpected /${d##*/} in the install tree" >&2; exit 1 ;; esac
done
strip --strip-unneeded "$CTX"/root/usr/sbin/oks-* "$CTX"/root/usr/bin/oksctl
install -m 0755 "$HERE/oks-entrypoint" "$CTX/oks-entrypoint"
for f in oks-shard oks-router oks-gw-http oks-gw-mail oks-sync oks-gw-dns; do
  [ -x "$CTX/root/usr/sbin/$f" ] || { echo "image.sh: $f was not installed" >&2; exit 1; }
done

# ---- 3. the image ---------------------------------------------------------------------------------
args=()
for t in "${TAGS[@]}"; do args+=(--tag "$t"); done
podman build --quiet --layers=false --pull=never --build-arg BASE="$BASE" \
  --label org.opencontainers.image.version="$VERSION" \
  -f "$HERE/Containerfile" "${args[@]}" "$CTX" >/dev/null
echo "${TAGS[0]}"
