#!/usr/bin/env bash
# Bind and connect endpoints apart, on loopback inside one private host (a network namespace
# of tests/harness/netns.sh, so binding 0.0.0.0 opens nothing on this machine): shards and the
# router bind tcp://0.0.0.0:PORT while every client connects to tcp://localhost:PORT; a shard
# whose endpoint names a host and that has no bind setting fails with the endpoint and the way
# out in its log; oksctl and the gateway get past a first router that does not answer.
set -u
source "$(dirname "$0")/lib.sh"
source "$OKS_HARNESS/netns.sh"
D=$(scratch_dir); G=$(gpg_home)
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$G"
netns_up 1 || { not_ok "a private host comes up"; finish; }
at_exit netns_exec 1 bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/c"
KR=/usr/share/keyrings/debian-maintainers.gpg
P=$(netns_exec 1 /usr/bin/python3 "$OKS_ROOT/deploy/free_port.py")
check "local.sh --host localhost --bind 0.0.0.0 brings a cluster up" \
  netns_exec 1 bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/c" --shards 2 --host localhost \
  --bind 0.0.0.0 --http-port "$P"
C=$D/c/oks.conf
check "shards and the router are written with a bind apart from their endpoint" \
  test "$(grep -c '^bind = tcp://0\.0\.0\.0:' "$C")" = 3 -a "$(grep -c '^endpoint = tcp://localhost:' "$C")" = 2
check "clients connect to a host name" grep -q '^routers = tcp://localhost:' "$C"
check "oksctl config check accepts it" netns_exec 1 "$OKS_BIN/oksctl" config check -c "$C"
lsn=$(netns_exec 1 ss -Hltn 2>/dev/null | awk '{print $4}')
check "the shards and the router listen on 0.0.0.0 (inside the namespace)" \
  test "$(grep -c '^0\.0\.0\.0:' <<<"$lsn")" -ge 3
netns_exec 1 env OKS_CONFIG="$C" "$OKS_BIN/oksctl" import --quiet "$KR" >/dev/null 2>&1
n=$(netns_exec 1 env OKS_CONFIG="$C" "$OKS_BIN/oksctl" stats | awk '/^total keys/{print $3}')
check "keys imported through tcp://localhost ($n)" test "${n:-0}" -gt 100
F=$(gpg --homedir "$G" --no-default-keyring --keyring "$KR" --with-colons --list-keys 2>/dev/null |
  awk -F: '$1=="fpr"{print $10; exit}')
check "the gateway serves them" test "$(netns_exec 1 curl -s -m 30 -o /dev/null -w '%{http_code}' \
  "http://127.0.0.1:$P/pks/lookup?op=get&options=mr&search=0x$F")" = 200

# a first router that is not there: clients use the second
R=$(sed -n 's/^routers = //p' "$C")
DEAD=$(netns_exec 1 /usr/bin/python3 "$OKS_ROOT/deploy/free_port.py")
sed "s|^routers = .*|routers = tcp://localhost:$DEAD $R|" "$C" >"$D/two.conf"
out=$(netns_exec 1 env OKS_CONFIG="$D/two.conf" timeout 60 "$OKS_BIN/oksctl" stats 2>&1)
check "oksctl answers with the first router of [cluster] routers down" grep -q '^total keys' <<<"$out"

# a shard endpoint naming a host, without bind: refused with the endpoint and the way out
# (without its metrics listener, which the running s0 holds on this host)
sed -e '/^\[shard\.s0\]/,/^\[/{/^bind = /d;/^metrics_listen = /d;s|^data = .*|data = '"$D"'/nobind-data|}' "$C" >"$D/nobind.conf"
netns_exec 1 timeout 30 "$OKS_BIN/oks-shard" -c "$D/nobind.conf" --name s0 \
  --log "$D/nobind.log" >/dev/null 2>&1
check "a shard cannot bind a host name: it exits" test $? -ne 0
grep -q "cannot bind tcp://localhost:[0-9]*: .*set bind" "$D/nobind.log" ||
  sed 's/^/# nobind.log: /' "$D/nobind.log" | tail -5
check "... saying which endpoint and what to set" \
  grep -q "cannot bind tcp://localhost:[0-9]*: .*set bind" "$D/nobind.log"
finish
