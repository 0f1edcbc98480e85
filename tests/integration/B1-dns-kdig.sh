#!/usr/bin/env bash
# The DNS gateway (oks-gw-dns, RFC 7929 OPENPGPKEY) queried with kdig over UDP and TCP: a key
# served minimised (the asked address's user ID only, no third-party certification) that gpg
# imports, NXDOMAIN with the SOA for an address without a key, a revoked key not served, NODATA
# for another type at an existing name, REFUSED outside the served domains, TC=1 over UDP when
# the answer does not fit (then TCP), FORMERR for a malformed query (the gateway still answers
# after it), response rate limiting (drops and TC=1 slips). Then GnuPG's own DANE lookup
# (gpg --auto-key-locate dane, dirmngr's resolver) against a cluster run inside a network
# namespace whose 127.0.0.1:53 is the gateway (ip netns exec bind-mounts
# /etc/netns/NS/resolv.conf over /etc/resolv.conf).
set -u
source "$(dirname "$0")/lib.sh"
D=$(scratch_dir); G=$(gpg_home); G2=$(gpg_home); G3=$(gpg_home)
at_exit rm -rf "$D"
at_exit gpg_home_cleanup "$G"; at_exit gpg_home_cleanup "$G2"; at_exit gpg_home_cleanup "$G3"
P=$(free_port)
# a small burst so the rate-limit check below needs few queries; the checks before it stay
# under it (kdig queries come from 127.0.0.1: one /24)
cluster_up "$D/c" --shards 2 --dns-port "$P" --dns-domains "example.org other.test" \
  --dns-opt rrl_rate=1 --dns-opt rrl_burst=40 --dns-opt rrl_slip=2 --dns-opt negative_ttl=60 \
  --dns-opt soa_serial=2026120501 ||
  { not_ok "cluster with the DNS gateway starts"; finish; }
export OKS_CONFIG=$D/c/oks.conf
dig() { kdig @127.0.0.1 -p "$P" +retry=0 +timeout=5 "$@" 2>&1; }
hash_of() { printf %s "$1" | sha256sum | cut -c1-56; }
name_of() { echo "$(hash_of "${1%@*}")._openpgpkey.${1#*@}"; }
wait_for 30 bash -c "kdig @127.0.0.1 -p $P +retry=0 +timeout=1 _openpgpkey.example.org SOA | grep -q 'status: NOERROR'" ||
  not_ok "the DNS gateway answers"

gpgq() { local h=$1; shift; gpg --homedir "$h" --batch --passphrase '' --pinentry-mode loopback --quiet "$@" 2>/dev/null; }
fpr_of() { gpg --homedir "$1" --with-colons --list-keys "$2" | awk -F: '$1=="fpr"{print $10; exit}'; }
# alice: a second user ID at another domain, an encryption subkey, a certification by carol
gpgq "$G" --quick-gen-key "Alice <Alice@Example.ORG>" ed25519 cert never
AF=$(fpr_of "$G" alice@example.org)
gpgq "$G" --quick-add-key "$AF" cv25519 encr never
gpgq "$G" --quick-add-uid "$AF" "Alice at work <alice@other.test>"
gpgq "$G2" --quick-gen-key "Carol <carol@example.net>" ed25519 cert never
gpg --homedir "$G" --export "$AF" | gpgq "$G2" --import
gpgq "$G2" --yes --quick-sign-key "$AF"
gpg --homedir "$G2" --export "$AF" >"$D/alice.gpg"
# revoked: a key revoked with its revocation certificate
gpgq "$G" --quick-gen-key "Rev <rev@example.org>" ed25519 cert never
RF=$(fpr_of "$G" rev@example.org)
gpgq "$G" --quick-add-key "$RF" cv25519 encr never
sed 's/^:-----/-----/' "$G/openpgp-revocs.d/$RF.rev" | gpgq "$G" --import
gpg --homedir "$G" --export "$RF" >"$D/rev.gpg"
# big: eight encryption subkeys, over 1232 bytes minimised
gpgq "$G" --quick-gen-key "Big <big@example.org>" ed25519 cert never
BF=$(fpr_of "$G" big@example.org)
for _ in 1 2 3 4 5 6 7 8; do gpgq "$G" --quick-add-key "$BF" cv25519 encr never; done
gpg --homedir "$G" --export "$BF" >"$D/big.gpg"
cat "$D/alice.gpg" "$D/rev.gpg" "$D/big.gpg" >"$D/all.gpg"
"$OKS_BIN/oksctl" import --quiet "$D/all.gpg" >/dev/null

A=$(name_of alice@example.org)
dig +tcp "$A" OPENPGPKEY >"$D/a.tcp"
check "TCP: alice's OPENPGPKEY answered (NOERROR, aa, one record)" \
  grep -Eq 'status: NOERROR.*' "$D/a.tcp"
check "TCP: exactly one record, authoritative" \
  grep -q 'Flags: qr aa rd; QUERY: 1; ANSWER: 1;' "$D/a.tcp"
kdig @127.0.0.1 -p "$P" +tcp +short "$A" OPENPGPKEY | tr -d ' \n' | base64 -d >"$D/a.key" 2>/dev/null
check "the record is the key: gpg imports it" gpgq "$G3" --import "$D/a.key"
check "it is alice's key" test "$(fpr_of "$G3" alice@example.org)" = "$AF"
gpg --list-packets "$D/a.key" >"$D/a.pkts" 2>/dev/null
check "minimised: one user ID (the asked address's)" \
  test "$(grep -c '^:user ID packet:' "$D/a.pkts")" = 1
check "minimised: the other domain's user ID left out" bash -c "! grep -q 'other.test' '$D/a.pkts'"
check "minimised: two signatures (user ID self-signature, subkey binding): carol's left out" \
  test "$(grep -c '^:signature packet:' "$D/a.pkts")" = 2
check "minimised: the encryption subkey kept" grep -q '^:public sub key packet:' "$D/a.pkts"

dig +ignore "$A" OPENPGPKEY >"$D/a.udp"
check "UDP without EDNS (512 bytes): TC=1 and an empty answer" \
  grep -q 'Flags: qr aa tc rd; QUERY: 1; ANSWER: 0;' "$D/a.udp"
dig +bufsize=1232 "$A" OPENPGPKEY >"$D/a.edns"
check "UDP with EDNS 1232: the record fits, OPT in the answer" \
  bash -c "grep -q 'ANSWER: 1;' '$D/a.edns' && grep -q 'UDP size: 1232' '$D/a.edns' && ! grep -q 'tc' <(grep Flags '$D/a.edns')"
check "mixed-case query name: the same record" \
  bash -c "kdig @127.0.0.1 -p $P +tcp +short '$(echo "$A" | tr a-z A-Z)' OPENPGPKEY | tr -d ' \n' | base64 -d | cmp -s - '$D/a.key'"
check "alice's other domain is served too (other.test)" \
  bash -c "kdig @127.0.0.1 -p $P +tcp '$(name_of alice@other.test)' OPENPGPKEY | grep -q 'ANSWER: 1;'"

B=$(name_of big@example.org)
dig +ignore +bufsize=1232 "$B" OPENPGPKEY >"$D/b.udp"
check "too big for the EDNS buffer: TC=1 over UDP" grep -q 'Flags: qr aa tc rd;' "$D/b.udp"
dig +bufsize=1232 +tcp "$B" OPENPGPKEY >"$D/b.tcp"
check "then over TCP: the whole record" grep -q 'Flags: qr aa rd; QUERY: 1; ANSWER: 1;' "$D/b.tcp"

N=$(name_of nobody@example.org)
dig "$N" OPENPGPKEY >"$D/n.udp"
check "no key for the address: NXDOMAIN" grep -q 'status: NXDOMAIN' "$D/n.udp"
check "NXDOMAIN carries the zone's SOA (negative TTL 60, serial)" \
  grep -Eq '^_openpgpkey\.example\.org\.\s+60\s+IN\s+SOA\s.* 2026120501 ' "$D/n.udp"
check "revoked key: not served (NXDOMAIN)" \
  bash -c "kdig @127.0.0.1 -p $P +tcp '$(name_of rev@example.org)' OPENPGPKEY | grep -q 'status: NXDOMAIN'"
dig +tcp "$A" A >"$D/nodata"
check "another type at alice's name: NODATA (NOERROR, no answer, SOA)" \
  bash -c "grep -q 'status: NOERROR' '$D/nodata' && grep -q 'ANSWER: 0; AUTHORITY: 1;' '$D/nodata'"
check "the zone apex: SOA answered" \
  bash -c "kdig @127.0.0.1 -p $P _openpgpkey.other.test SOA | grep -q 'ANSWER: 1;'"
check "a domain not served: REFUSED" \
  bash -c "kdig @127.0.0.1 -p $P '$(hash_of alice)._openpgpkey.example.net' OPENPGPKEY | grep -q 'status: REFUSED'"

# malformed: the question claims a 63-byte label and ends early
formerr() {
  /usr/bin/python3 - "$P" <<'EOF'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + b"\x3fabc", ("127.0.0.1", int(sys.argv[1])))
d = s.recv(4096)
sys.exit(0 if struct.unpack(">H", d[:2])[0] == 0x5151 and d[3] & 15 == 1 and d[2] & 0x80 else 1)
EOF
}
check "malformed query: FORMERR" formerr
check "the gateway still answers after it" \
  bash -c "kdig @127.0.0.1 -p $P +tcp '$N' OPENPGPKEY | grep -q 'status: NXDOMAIN'"

# rate limiting: 120 queries at once from one /24, rate 1/s, burst 40: some answered, some
# dropped, some slipped (TC=1, empty); over TCP nothing is limited
rrl() {
  /usr/bin/python3 - "$P" "$N" <<'EOF'
import socket, struct, sys
port, name = int(sys.argv[1]), sys.argv[2]
q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 61, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
for i in range(120):
    s.sendto(struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + q, ("127.0.0.1", port))
full = slip = 0
try:
    while True:
        d = s.recv(4096)
        if d[2] & 2: slip += 1
        else: full += 1
except socket.timeout:
    pass
print(full, slip)
sys.exit(0 if 0 < full < 120 and slip > 0 and full + slip < 120 else 1)
EOF
}
check "UDP rate limit: answers, TC=1 slips and drops" rrl
check "TCP is not rate-limited" \
  bash -c "kdig @127.0.0.1 -p $P +tcp '$N' OPENPGPKEY | grep -q 'status: NXDOMAIN'"

# GnuPG's DANE lookup: the cluster inside a network namespace, the gateway on its 127.0.0.1:53
NS=oksdns$$
dane() {
  [ -d /etc/netns ] || at_exit rmdir --ignore-fail-on-non-empty /etc/netns
  ip netns add "$NS" || return 1
  at_exit rm -rf "/etc/netns/$NS"
  at_exit ip netns del "$NS"
  mkdir -p "/etc/netns/$NS" && echo "nameserver 127.0.0.1" >"/etc/netns/$NS/resolv.conf"
  ip netns exec "$NS" ip link set lo up || return 1
  at_exit bash "$OKS_ROOT/deploy/local.sh" down --dir "$D/ns"
  ip netns exec "$NS" bash "$OKS_ROOT/deploy/local.sh" up --dir "$D/ns" --shards 1 \
    --dns-port 53 --dns-domains example.org >/dev/null || return 1
  ip netns exec "$NS" env OKS_CONFIG="$D/ns/oks.conf" "$OKS_BIN/oksctl" import --quiet "$D/all.gpg" >/dev/null || return 1
  local h; h=$(gpg_home)
  at_exit gpg_home_cleanup "$h"
  at_exit ip netns exec "$NS" env GNUPGHOME="$h" gpgconf --kill all
  for _ in $(seq 1 100); do
    ip netns exec "$NS" kdig @127.0.0.1 +retry=0 +timeout=1 _openpgpkey.example.org SOA 2>/dev/null | grep -q 'status: NOERROR' && break
    sleep 0.1
  done
  ip netns exec "$NS" env GNUPGHOME="$h" timeout 30 gpg --batch --auto-key-locate clear,dane \
    --locate-keys alice@example.org >/dev/null 2>&1 || return 1
  [ "$(fpr_of "$h" alice@example.org)" = "$AF" ] || return 1
  ! ip netns exec "$NS" env GNUPGHOME="$h" timeout 30 gpg --batch --auto-key-locate clear,dane \
    --locate-keys rev@example.org >/dev/null 2>&1
}
check "gpg --auto-key-locate dane finds alice through the gateway (and not the revoked key)" dane
finish
