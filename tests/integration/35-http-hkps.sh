#!/usr/bin/env bash
# hkps: the gateway with a TLS certificate; gpg (dirmngr with hkp-cacert) receives a key over
# hkps://, curl negotiates HTTP/2 through ALPN and reuses a keep-alive connection on HTTP/1.1.
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home)
cleanup() { bash "$OKS_ROOT/deploy/local.sh" down --dir "$D" >/dev/null 2>&1; gpg_home_cleanup "$G"; rm -rf "$D"; }
trap cleanup EXIT
# dirmngr 2.2 does not verify a server certificate for an IP literal or "localhost" (it logs
# "hostname missing"), so the test gives 127.0.0.1 a name of its own in /etc/hosts
NAME=oks-hkps.test
grep -q "[[:space:]]$NAME\$" /etc/hosts || echo "127.0.0.1 $NAME" >>/etc/hosts
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$NAME" \
  -addext "subjectAltName=DNS:$NAME,IP:127.0.0.1" \
  -keyout "$D/key.pem" -out "$D/cert.pem" >/dev/null 2>&1
P=$(free_port); TP=$(free_port)
bash "$OKS_ROOT/deploy/local.sh" up --dir "$D" --shards 2 --http-port "$P" \
  --http-opt "tls_listen=127.0.0.1:$TP" --http-opt "tls_cert=$D/cert.pem" \
  --http-opt "tls_key=$D/key.pem" >/dev/null || { not_ok "cluster with hkps starts"; finish; }
ok "cluster with hkps on port $TP starts"
OKS_CONFIG=$D/oks.conf "$OKS_BIN/oksctl" import --quiet /usr/share/keyrings/debian-maintainers.gpg >/dev/null
printf 'keyserver hkps://%s:%s\nhkp-cacert %s\n' "$NAME" "$TP" "$D/cert.pem" >"$G/dirmngr.conf"
FPR=740D7FE2AB3143E86C8FD12300186602339240CB
check "gpg --recv-keys over hkps with hkp-cacert" gpg --homedir "$G" --batch --recv-keys "$FPR"
out=$(gpg --homedir "$G" --batch --with-colons --search-keys atzlinux@sina.com 2>/dev/null </dev/null)
check "gpg --search-keys over hkps" grep -q "$FPR" <<<"$out"
v=$(curl -s --cacert "$D/cert.pem" --http2 -o /dev/null -w '%{http_version}' "https://127.0.0.1:$TP/pks/health")
check "curl negotiates HTTP/2 over TLS (ALPN)" test "$v" = 2
n=$(curl -s --cacert "$D/cert.pem" --http1.1 -o /dev/null -o /dev/null -w '%{num_connects}\n' \
  "https://127.0.0.1:$TP/pks/health" "https://127.0.0.1:$TP/pks/health" | paste -sd+ | bc)
check "two HTTP/1.1 requests share one keep-alive connection ($n connects)" test "$n" = 1
check "a client that does not trust the certificate is refused" \
  bash -c "! curl -s -o /dev/null 'https://127.0.0.1:$TP/pks/health'"
finish
