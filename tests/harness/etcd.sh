# Real etcd 3.4 (Debian's etcd-server, etcd-client) for integration tests (sourced after
# tests/integration/lib.sh, and after tests/harness/netns.sh for the namespace variant).
#
#   etcd_tls_certs DIR [IP...]       CA, server and client certificates under DIR/tls (openssl):
#                                    ca.pem, server.pem/.key (SANs: 127.0.0.1, localhost, the
#                                    IPs, h1..h9), client.pem/.key (CN oks), and other-ca.pem (a
#                                    CA that signed nothing of this cluster); keys mode 0600
#   etcd_start DIR [--tls]           one member on 127.0.0.1, free client and peer ports
#   etcd_cluster_start DIR N [--tls] N members on 127.0.0.1, distinct free ports
#   etcd_cluster_start_netns DIR N [--tls]
#                                    member i in host i of tests/harness/netns.sh (netns_up
#                                    first, with a host more for the clients: ETCD_CLIENT_HOST,
#                                    default N+1), ports 2379/2380 of netns_ip i
#   etcd_wait_healthy                every member answers `etcdctl endpoint health`
#   etcdctl_run ARGS...              etcdctl (API 3) against every member, with the TLS files,
#                                    inside the clients' host in the namespace variant
#   etcd_kill I                      SIGKILL to member I (1-based): a crash, no goodbye
#   etcd_restart I                   starts member I again on its data (it rejoins)
#   etcd_stop_all                    stops every member (registered with at_exit by the starts)
#
# After a start: ETCD_ENDPOINTS (comma-separated client URLs, member 1 first), ETCD_URL[i],
# ETCD_N, ETCD_TLS_DIR (empty without TLS), ETCD_PID[i], logs in DIR/etcdI.log, data in
# DIR/etcdI.data. Everything a member needs is in DIR (a scratch_dir): nothing outside it.
ETCD_N=0 ETCD_TLS_DIR= ETCD_ENDPOINTS= ETCD_NETNS= ETCD_CLIENT_HOST= ETCDCTL_USER=
declare -a ETCD_URL=() ETCD_PID=() ETCD_CMD=()

# etcd 3.4 refuses to start on an architecture it does not support officially unless told;
# Debian builds it for more (amd64 is supported: nothing needed there).
etcd_arch_env() {
  case "$(dpkg --print-architecture 2>/dev/null || echo amd64)" in
    amd64) ;;
    arm64) export ETCD_UNSUPPORTED_ARCH=arm64 ;;
    *) export ETCD_UNSUPPORTED_ARCH="$(go env GOARCH 2>/dev/null || dpkg --print-architecture)" ;;
  esac
}

etcd_tls_certs() {
  local dir=$1/tls ip sans="IP:127.0.0.1,DNS:localhost" i; shift
  for ip in "$@"; do sans="$sans,IP:$ip"; done
  for ((i = 1; i <= 9; i++)); do sans="$sans,DNS:h$i"; done
  mkdir -p "$dir"
  (
    cd "$dir" || exit 1
    umask 077
    local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 2 \
      -subj "/CN=OKS test etcd CA" 2>/dev/null &&
    openssl req -x509 "${ec[@]}" -keyout other-ca.key -out other-ca.pem -days 2 \
      -subj "/CN=OKS test other CA" 2>/dev/null &&
    openssl req "${ec[@]}" -keyout server.key -out server.csr -subj "/CN=etcd" 2>/dev/null &&
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans" >server.ext &&
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile server.ext -out server.pem 2>/dev/null &&
    openssl req "${ec[@]}" -keyout client.key -out client.csr -subj "/O=OKS cluster" 2>/dev/null &&
    printf 'extendedKeyUsage=clientAuth\n' >client.ext &&
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out client.pem 2>/dev/null &&
    chmod 644 ca.pem other-ca.pem server.pem client.pem
  ) || { echo "etcd_tls_certs: openssl failed" >&2; return 1; }
  ETCD_TLS_DIR=$dir
}

# etcd_tls_client NAME: a client certificate for user NAME (its CN, which etcd takes as the user
# name once auth is enabled), signed by the test CA: ETCD_TLS_DIR/NAME.pem and NAME.key
etcd_tls_client() {
  local name=$1
  (
    cd "$ETCD_TLS_DIR" || exit 1
    umask 077
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key" \
      -out "$name.csr" -subj "/O=$name" 2>/dev/null &&
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile client.ext -out "$name.pem" 2>/dev/null &&
    chmod 644 "$name.pem"
  ) || { echo "etcd_tls_client: openssl failed" >&2; return 1; }
}

# etcd_auth_oks PREFIX: the OKS role of docs/etcd.md "Access control": user "root", role "oks"
# with read and write under PREFIX only, user "oks" holding it (password in
# ETCD_TLS_DIR/oks.password, mode 0600), then auth enabled; etcdctl_run goes on as root
# (root.password). etcd's JSON gateway, which OKS uses, ignores the client certificate's CN, so
# the users log in with passwords (over TLS).
etcd_auth_oks() {
  local prefix=$1 dir=${ETCD_TLS_DIR:-$ETCD_DIR}
  (umask 077; openssl rand -hex 16 >"$dir/root.password"; openssl rand -hex 16 >"$dir/oks.password")
  etcdctl_run user add "root:$(cat "$dir/root.password")" >/dev/null &&
    etcdctl_run user grant-role root root >/dev/null &&
    etcdctl_run role add oks >/dev/null &&
    etcdctl_run role grant-permission oks readwrite "$prefix" --prefix=true >/dev/null &&
    etcdctl_run user add "oks:$(cat "$dir/oks.password")" >/dev/null &&
    etcdctl_run user grant-role oks oks >/dev/null &&
    etcdctl_run auth enable >/dev/null || return 1
  ETCDCTL_USER="root:$(cat "$dir/root.password")"
}

# the flags of member i (client and peer URLs with their hosts), TLS when ETCD_TLS_DIR is set
etcd_member_cmd() {
  local dir=$1 i=$2 host=$3 cport=$4 pport=$5 cluster=$6 scheme=http t=$ETCD_TLS_DIR
  [ -z "$t" ] || scheme=https
  local cmd=(etcd --name "m$i" --data-dir "$dir/etcd$i.data" --logger zap --log-outputs stderr
    --listen-client-urls "$scheme://$host:$cport" --advertise-client-urls "$scheme://$host:$cport"
    --listen-peer-urls "$scheme://$host:$pport" --initial-advertise-peer-urls "$scheme://$host:$pport"
    --initial-cluster "$cluster" --initial-cluster-token "oks-test-$$"
    --heartbeat-interval 200 --election-timeout 2000)
  if [ -n "$t" ]; then
    cmd+=(--cert-file "$t/server.pem" --key-file "$t/server.key" --trusted-ca-file "$t/ca.pem"
      --client-cert-auth
      --peer-cert-file "$t/server.pem" --peer-key-file "$t/server.key"
      --peer-trusted-ca-file "$t/ca.pem" --peer-client-cert-auth)
  fi
  printf '%q ' "${cmd[@]}"
}

etcd_launch() { # i
  local i=$1 log=$ETCD_DIR/etcd$i.log
  if [ -n "$ETCD_NETNS" ]; then
    netns_bg "$i" bash -c "exec ${ETCD_CMD[i]} 2>>'$log'"
    ETCD_PID[i]=$NETNS_PID
  else
    bash -c "exec ${ETCD_CMD[i]} 2>>'$log'" &
    ETCD_PID[i]=$!
  fi
}

# etcd_setup DIR N MODE [--tls]: MODE loopback or netns
etcd_setup() {
  local dir=$1 n=$2 mode=$3 tls=${4:-} i scheme=http cluster= host
  local -a cports=() pports=() hosts=()
  etcd_arch_env
  ETCD_DIR=$dir ETCD_N=$n ETCD_NETNS=
  [ "$mode" = netns ] && ETCD_NETNS=1 ETCD_CLIENT_HOST=${ETCD_CLIENT_HOST:-$((n + 1))}
  if [ "$tls" = --tls ]; then
    local ips=()
    if [ -n "$ETCD_NETNS" ]; then for ((i = 1; i <= n; i++)); do ips+=("$(netns_ip "$i")"); done; fi
    etcd_tls_certs "$dir" "${ips[@]}" || return 1
    scheme=https
  else
    ETCD_TLS_DIR=
  fi
  for ((i = 1; i <= n; i++)); do
    if [ -n "$ETCD_NETNS" ]; then
      hosts[i]=$(netns_ip "$i") cports[i]=2379 pports[i]=2380
    else
      hosts[i]=127.0.0.1 cports[i]=$(free_port) pports[i]=$(free_port)
    fi
    cluster="$cluster${cluster:+,}m$i=$scheme://${hosts[i]}:${pports[i]}"
  done
  ETCD_ENDPOINTS= ETCD_URL=()
  at_exit etcd_stop_all
  for ((i = 1; i <= n; i++)); do
    ETCD_URL[i]=$scheme://${hosts[i]}:${cports[i]}
    ETCD_ENDPOINTS="$ETCD_ENDPOINTS${ETCD_ENDPOINTS:+,}${ETCD_URL[i]}"
    ETCD_CMD[i]=$(etcd_member_cmd "$dir" "$i" "${hosts[i]}" "${cports[i]}" "${pports[i]}" "$cluster")
    etcd_launch "$i"
  done
  etcd_wait_healthy
}

etcd_start() { etcd_setup "$1" 1 loopback "${2:-}"; }
etcd_cluster_start() { etcd_setup "$1" "$2" loopback "${3:-}"; }
etcd_cluster_start_netns() { etcd_setup "$1" "$2" netns "${3:-}"; }

etcdctl_run() {
  local t=$ETCD_TLS_DIR cmd=(env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_ENDPOINTS"
    --dial-timeout=2s --command-timeout=5s)
  [ -z "$t" ] || cmd+=(--cacert "$t/ca.pem" --cert "$t/client.pem" --key "$t/client.key")
  [ -z "$ETCDCTL_USER" ] || cmd+=(--user "$ETCDCTL_USER")
  if [ -n "$ETCD_NETNS" ]; then netns_exec "$ETCD_CLIENT_HOST" "${cmd[@]}" "$@"; else "${cmd[@]}" "$@"; fi
}

# every member that runs answers (the killed ones are left out)
etcd_health_all() {
  local i eps=
  for ((i = 1; i <= ETCD_N; i++)); do
    [ -n "${ETCD_PID[i]}" ] && eps="$eps${eps:+,}${ETCD_URL[i]}"
  done
  ETCD_ENDPOINTS=$eps etcdctl_run endpoint health
}
etcd_wait_healthy() {
  wait_for 60 etcd_health_all || {
    echo "etcd: not healthy; logs:" >&2
    local i; for ((i = 1; i <= ETCD_N; i++)); do tail -5 "$ETCD_DIR/etcd$i.log" >&2; done
    return 1
  }
}

etcd_kill() {
  local i=$1
  [ -n "${ETCD_PID[i]}" ] || return 0
  kill -9 "${ETCD_PID[i]}" 2>/dev/null
  wait "${ETCD_PID[i]}" 2>/dev/null
  ETCD_PID[i]=
}

etcd_restart() {
  local i=$1
  etcd_kill "$i"
  etcd_launch "$i" # its data dir exists: the --initial-cluster flags are ignored, it rejoins
  etcd_wait_healthy
}

etcd_stop_all() {
  local i
  ETCDCTL_USER=
  for ((i = 1; i <= ETCD_N; i++)); do
    [ -n "${ETCD_PID[i]:-}" ] && kill "${ETCD_PID[i]}" 2>/dev/null
  done
  for ((i = 1; i <= ETCD_N; i++)); do
    [ -n "${ETCD_PID[i]:-}" ] || continue
    local t=0
    while kill -0 "${ETCD_PID[i]}" 2>/dev/null && [ $t -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
    kill -9 "${ETCD_PID[i]}" 2>/dev/null
    wait "${ETCD_PID[i]}" 2>/dev/null
    ETCD_PID[i]=
  done
  return 0
}
