# Several "hosts" on one machine for integration tests (sourced; needs root and iproute2).
#
# Each host is a network namespace with lo and one interface eth0 at 10.213.X.(10+K)/24,
# cabled by a veth pair to a bridge that lives in a namespace of its own (the "switch"), so
# the machine's own namespace gets no interface, no address and no iptables traffic. X is
# picked per run: the first /24 of 10.213.0.0/16 that no route of this machine covers, claimed
# by a blackhole route in the machine's namespace that is added before anything else (adding
# it fails if another run holds it, so two runs never share a /24, and a packet for the test
# network that leaves a namespace is dropped here). Host names h1..hN resolve inside every
# host (an /etc/netns/NAME/hosts that `ip netns exec` mounts over /etc/hosts).
#
#   netns_up N            create hosts 1..N; sets NETNS_NET (e.g. 10.213.7), NETNS_ID;
#                         registers netns_down with at_exit (tests/integration/lib.sh) or an
#                         EXIT trap
#   netns_ip K            address of host K
#   netns_exec K CMD...   runs CMD in host K, in the foreground
#   netns_bg K CMD...     starts CMD in host K in the background; its pid in NETNS_PID (the
#                         command's own: `ip netns exec` execs it)
#   netns_link_down K     cuts host K's cable at the switch: no RST, no FIN, packets vanish
#   netns_link_up K       plugs it back
#   netns_kill K [SIG]    sends SIG (default KILL) to every process running in host K: the
#                         host "dies" while its network stack still resets connections
#   netns_down            kills what still runs in the hosts, deletes the namespaces (and with
#                         them every veth and the bridge), the hosts files and the blackhole
#                         route; safe to call twice
#   netns_leftovers       prints what of this run still exists (nothing after netns_down)
NETNS_NET= NETNS_ID= NETNS_N=0 NETNS_CLAIMED= NETNS_PID=

netns_name() { echo "oks${NETNS_ID}-h$1"; }
netns_switch() { echo "oks${NETNS_ID}-sw"; }
netns_ip() { echo "$NETNS_NET.$((10 + $1))"; }

# Claims a free 10.213.X.0/24 with a blackhole route; 1 if none is free.
netns_claim() {
  local start=$(($$ % 250 + 1)) i x
  for ((i = 0; i < 250; i++)); do
    x=$(((start + i) % 250 + 1))
    # any route but the default one that covers the /24 (a LAN, a VPN, another run) rules it out
    if ip -4 route show table all match "10.213.$x.0/24" 2>/dev/null | grep -qv '^default'; then
      continue
    fi
    ip -4 -o addr show 2>/dev/null | grep -q " 10\.213\.$x\." && continue
    if ip -4 route add blackhole "10.213.$x.0/24" 2>/dev/null; then
      NETNS_NET=10.213.$x NETNS_ID=$x NETNS_CLAIMED=1
      return 0
    fi
  done
  return 1
}

netns_up() {
  local n=$1 k ns sw
  [ "$(id -u)" = 0 ] || { echo "netns_up: needs root" >&2; return 1; }
  netns_claim || { echo "netns_up: no free /24 in 10.213.0.0/16" >&2; return 1; }
  if declare -F at_exit >/dev/null; then at_exit netns_down; else trap netns_down EXIT; fi
  NETNS_N=$n
  sw=$(netns_switch)
  # names already taken (a run killed before its cleanup, with the same X): refuse to reuse
  if ip netns list | grep -q "^oks${NETNS_ID}-"; then
    echo "netns_up: namespaces oks${NETNS_ID}-* exist already" >&2; return 1
  fi
  ip netns add "$sw" || return 1
  ip -n "$sw" link set lo up
  ip -n "$sw" link add br0 type bridge || return 1
  ip -n "$sw" link set br0 up
  for ((k = 1; k <= n; k++)); do
    ns=$(netns_name "$k")
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up
    # the pair is made in the host, its far end moved into the switch
    ip -n "$ns" link add eth0 type veth peer name "p$k" netns "$sw" || return 1
    ip -n "$sw" link set "p$k" master br0
    ip -n "$sw" link set "p$k" up
    ip -n "$ns" addr add "$(netns_ip "$k")/24" dev eth0
    ip -n "$ns" link set eth0 up
  done
  for ((k = 1; k <= n; k++)); do
    mkdir -p "/etc/netns/$(netns_name "$k")"
    { echo "127.0.0.1 localhost"
      local j
      for ((j = 1; j <= n; j++)); do echo "$(netns_ip "$j") h$j"; done
    } >"/etc/netns/$(netns_name "$k")/hosts"
  done
}

netns_exec() {
  local k=$1; shift
  ip netns exec "$(netns_name "$k")" "$@"
}

netns_bg() {
  local k=$1; shift
  ip netns exec "$(netns_name "$k")" "$@" &
  NETNS_PID=$!
}

netns_link_down() { ip -n "$(netns_switch)" link set "p$1" down; }
netns_link_up() { ip -n "$(netns_switch)" link set "p$1" up; }

netns_kill() {
  local pids
  pids=$(ip netns pids "$(netns_name "$1")" 2>/dev/null)
  [ -z "$pids" ] || kill "-${2:-KILL}" $pids 2>/dev/null
  return 0
}

netns_down() {
  [ -n "$NETNS_ID" ] || return 0
  local k ns pids
  for ((k = 1; k <= NETNS_N; k++)); do
    ns=$(netns_name "$k")
    # processes started in a host (a namespace outlives `ip netns del` while they run)
    pids=$(ip netns pids "$ns" 2>/dev/null)
    if [ -n "$pids" ]; then
      kill $pids 2>/dev/null
      sleep 0.5
      pids=$(ip netns pids "$ns" 2>/dev/null)
      [ -z "$pids" ] || kill -9 $pids 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "/etc/netns/$ns"
  done
  ip netns del "$(netns_switch)" 2>/dev/null
  [ -z "$NETNS_CLAIMED" ] || ip -4 route del blackhole "$NETNS_NET.0/24" 2>/dev/null
  NETNS_CLAIMED=
  return 0
}

netns_leftovers() {
  [ -n "$NETNS_ID" ] || return 0
  ip netns list | grep "^oks${NETNS_ID}-"
  ip -4 route show table all | grep -F "$NETNS_NET.0/24"
  ls -d /etc/netns/oks"${NETNS_ID}"-* 2>/dev/null
  return 0
}
