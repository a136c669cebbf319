#!/bin/bash
# test-ice-nat.sh — two ICE peers behind NATs, with coturn on a fake internet.
#
#   homeA 10.0.1.2 ── natA 10.0.1.1 | 203.0.113.10 ──┐
#                                                     br0 203.0.113.1 (inet: coturn)
#   homeB 10.0.2.2 ── natB 10.0.2.1 | 203.0.113.20 ──┘
#
# Every namespace is created here with a unique name (prefix + PID) and deleted
# on exit, also on failure. coturn and the peers are stopped by PID. Prints
# TAP. Needs root, iproute2, nftables and coturn: without them it fails.
#
# Environment: ICE_NAT_PEER (the ice-nat-peer program). KEEP_TMP=1 keeps logs.

set -u

PEER=${ICE_NAT_PEER:-}
P="atlice$$"
NS_INET="$P-inet"
NS_NATA="$P-nata"
NS_NATB="$P-natb"
NS_HOMEA="$P-homea"
NS_HOMEB="$P-homeb"
ALL_NS="$NS_INET $NS_NATA $NS_NATB $NS_HOMEA $NS_HOMEB"
TURN_IP=203.0.113.1
TURN_PORT=3478
TURN_USER=atlas
TURN_PASSWORD=nat-test-secret
# Addresses that must never appear in a relay-only transcript: the hosts and
# their NATs' public (server-reflexive) addresses.
PRIVATE_RE='10\.0\.[12]\.|203\.0\.113\.(10|20)([^0-9]|$)'

echo "1..4"

bail() {
    echo "not ok 1 - setup: $*"
    echo "Bail out! $*"
    exit 1
}

[ "$(id -u)" = 0 ] || bail "ice-nat needs root (network namespaces, nftables); run it as root, e.g. in the CI container"
for cmd in ip nft turnserver tee mkfifo; do
    command -v "$cmd" >/dev/null || bail "ice-nat needs '$cmd' (Debian packages iproute2, nftables, coturn)"
done
[ -n "$PEER" ] && [ -x "$PEER" ] || bail "ICE_NAT_PEER must point to the ice-nat-peer program"

T=$(mktemp -d "${TMPDIR:-/tmp}/atlas-ice-nat.XXXXXX") || bail "mktemp failed"
_PIDS=""
_cleanup() {
    local p i
    for p in $_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $_PIDS; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    for ns in $ALL_NS; do
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "# kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# ---- the networks ----------------------------------------------------------

setup_networks() {
    local ns
    for ns in $ALL_NS; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done

    ip -n "$NS_INET" link add br0 type bridge || return 1
    ip -n "$NS_INET" addr add "$TURN_IP/24" dev br0
    ip -n "$NS_INET" link set br0 up
    # The rest of the "internet" is a gateway that silently swallows packets
    # (a permanent neighbour entry for a MAC that nobody has), as the real one
    # does for private addresses. Without a route, coturn's relayed send to a
    # peer's host candidate (10.0.x) fails with ENETUNREACH and coturn 4.6
    # closes the whole allocation.
    ip -n "$NS_INET" neigh add 203.0.113.254 lladdr 02:00:00:00:00:fe dev br0 nud permanent || return 1
    ip -n "$NS_INET" route add default via 203.0.113.254 || return 1

    # side: a or b; n: 1 or 2; public address
    local side n public nat home
    for side in a b; do
        if [ $side = a ]; then
            n=1 public=203.0.113.10 nat=$NS_NATA home=$NS_HOMEA
        else
            n=2 public=203.0.113.20 nat=$NS_NATB home=$NS_HOMEB
        fi
        ip link add name pub netns "$nat" type veth peer name "port-$side" netns "$NS_INET" || return 1
        ip -n "$NS_INET" link set "port-$side" master br0 up
        ip -n "$nat" addr add "$public/24" dev pub
        ip -n "$nat" link set pub up
        ip -n "$nat" route add default via "$TURN_IP"

        ip link add name lan netns "$nat" type veth peer name eth0 netns "$home" || return 1
        ip -n "$nat" addr add "10.0.$n.1/24" dev lan
        ip -n "$nat" link set lan up
        ip -n "$home" addr add "10.0.$n.2/24" dev eth0
        ip -n "$home" link set eth0 up
        ip -n "$home" route add default via "10.0.$n.1"
        in_ns "$nat" sysctl -qw net.ipv4.ip_forward=1 || return 1
    done
}

# $1: "masquerade" (port-keeping: endpoint-independent mapping, filtering by
# address and port) or "masquerade random" (a new port per destination:
# symmetric). Nothing from outside reaches the home network unless it answers
# something sent from inside; drops are in forward, never in output.
set_nat() {
    local nat
    for nat in $NS_NATA $NS_NATB; do
        in_ns "$nat" nft -f - <<EOF || return 1
flush ruleset
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "pub" $1
    }
}
table inet filter {
    # Unsolicited packets to the NAT itself are dropped before conntrack
    # confirms them: a confirmed entry for a peer's early check would make the
    # NAT pick another port for the host's own packets to that peer, and no
    # hole would ever be punched (a home router drops them too).
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "pub" ct state new drop
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
        iifname "lan" oifname "pub" accept
        ct state established,related accept
    }
}
EOF
        # Mappings left by an earlier case would change what this one tests.
        in_ns "$nat" sh -c 'command -v conntrack >/dev/null && conntrack -F' >/dev/null 2>&1
    done
    return 0
}

start_turn() {
    cat >"$T/turnserver.conf" <<EOF
listening-ip=$TURN_IP
relay-ip=$TURN_IP
listening-port=$TURN_PORT
min-port=49152
max-port=65535
lt-cred-mech
user=$TURN_USER:$TURN_PASSWORD
realm=atlas.test
fingerprint
no-tls
no-dtls
no-tcp-relay
no-cli
no-multicast-peers
pidfile=$T/turnserver.pid
userdb=$T/turndb
log-file=$T/turnserver.log
simple-log
verbose
EOF
    in_ns "$NS_INET" turnserver -c "$T/turnserver.conf" >"$T/turnserver.out" 2>&1 &
    TURN_PID=$!
    _PIDS="$_PIDS $TURN_PID"
    # Bounded wait (5 s) until it listens.
    local i=0
    while [ $i -lt 50 ]; do
        if in_ns "$NS_INET" ss -Hlun "src $TURN_IP:$TURN_PORT" 2>/dev/null | grep -q .; then
            return 0
        fi
        kill -0 "$TURN_PID" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# ---- one case --------------------------------------------------------------

# run_pair NAME [peer options...]: runs peer A (controlling) in homeA and peer
# B in homeB, signaling through FIFOs; tee keeps what went over the wire.
run_pair() {
    local name=$1
    shift
    local d="$T/$name"
    mkdir -p "$d"
    mkfifo "$d/a.out" "$d/b.out" "$d/a.in" "$d/b.in" || return 1

    tee "$d/a.transcript" <"$d/a.out" >"$d/b.in" &
    local tee_a=$!
    tee "$d/b.transcript" <"$d/b.out" >"$d/a.in" &
    local tee_b=$!
    _PIDS="$_PIDS $tee_a $tee_b"

    local common=(--stun "$TURN_IP:$TURN_PORT" --turn "$TURN_IP:$TURN_PORT"
        --turn-user "$TURN_USER" --turn-password "$TURN_PASSWORD" --count 1000 --timeout 40)
    in_ns "$NS_HOMEA" "$PEER" --controlling "${common[@]}" "$@" \
        --signal-in "$d/a.in" --signal-out "$d/a.out" >"$d/a.log" 2>"$d/a.err" &
    local peer_a=$!
    in_ns "$NS_HOMEB" "$PEER" "${common[@]}" "$@" \
        --signal-in "$d/b.in" --signal-out "$d/b.out" >"$d/b.log" 2>"$d/b.err" &
    local peer_b=$!
    _PIDS="$_PIDS $peer_a $peer_b"

    # The peers give up by themselves after 40 s; wait returns by then.
    wait "$peer_a"
    STATUS_A=$?
    wait "$peer_b"
    STATUS_B=$?
    wait "$tee_a" "$tee_b" 2>/dev/null
    KIND_A=$(sed -n 's/^selected-kind: //p' "$d/a.log")
    KIND_B=$(sed -n 's/^selected-kind: //p' "$d/b.log")
    REMOTE_A=$(sed -n 's/^selected-remote-kind: //p' "$d/a.log")
    REMOTE_B=$(sed -n 's/^selected-remote-kind: //p' "$d/b.log")
    echo "# $name: A exit $STATUS_A, path $KIND_A -> $REMOTE_A; B exit $STATUS_B, path $KIND_B -> $REMOTE_B"
    sed 's/^/#   A: /' "$d/a.log"
    sed 's/^/#   B: /' "$d/b.log"
    if [ "$STATUS_A" != 0 ] || [ "$STATUS_B" != 0 ]; then
        sed 's/^/#   A err: /' "$d/a.err" | tail -n 20
        sed 's/^/#   B err: /' "$d/b.err" | tail -n 20
    fi
    CASE_DIR=$d
}

ok() { echo "ok $1 - $2"; }
not_ok() {
    echo "not ok $1 - $2"
    FAILED=1
}
FAILED=0

setup_networks || bail "could not create namespaces and veth pairs"
start_turn || {
    sed 's/^/# turnserver: /' "$T/turnserver.out" "$T/turnserver.log" 2>/dev/null | tail -n 20
    bail "coturn did not start in $NS_INET"
}
ok 1 "namespaces, NATs and coturn ($TURN_IP:$TURN_PORT) are up"

# (1) Port-keeping NATs: the checks punch through, no relay needed.
set_nat "masquerade" || bail "nft rules for masquerade failed"
run_pair direct
if [ "$STATUS_A" = 0 ] && [ "$STATUS_B" = 0 ] &&
    [[ "$KIND_A" =~ ^(srflx|prflx)$ ]] && [[ "$KIND_B" =~ ^(srflx|prflx)$ ]] &&
    [[ "$REMOTE_A" =~ ^(srflx|prflx)$ ]] && [[ "$REMOTE_B" =~ ^(srflx|prflx)$ ]]; then
    ok 2 "port-keeping NATs: direct path ($KIND_A/$KIND_B), 1000 datagrams each way"
else
    not_ok 2 "port-keeping NATs: expected a direct srflx/prflx path and delivery"
fi

# (2) Symmetric NATs: only TURN can carry the traffic.
set_nat "masquerade random" || bail "nft rules for masquerade random failed"
run_pair symmetric
if [ "$STATUS_A" = 0 ] && [ "$STATUS_B" = 0 ] &&
    { [ "$KIND_A" = relay ] || [ "$REMOTE_A" = relay ]; } &&
    { [ "$KIND_B" = relay ] || [ "$REMOTE_B" = relay ]; }; then
    ok 3 "symmetric NATs: through TURN ($KIND_A -> $REMOTE_A), 1000 datagrams each way"
else
    not_ok 3 "symmetric NATs: expected a path through the TURN relay and delivery"
fi

# (3) Relay-only on both sides, on NATs where a direct path would work: the
# transcript holds relayed candidates only and no private or public address.
set_nat "masquerade" || bail "nft rules for masquerade failed"
run_pair relay-only --relay-only
leaks=$(cat "$CASE_DIR/a.transcript" "$CASE_DIR/b.transcript" | grep -E "$PRIVATE_RE")
non_relay=$(cat "$CASE_DIR/a.transcript" "$CASE_DIR/b.transcript" | grep '^candidate ' | grep -v ' typ relay')
n_cand=$(cat "$CASE_DIR/a.transcript" "$CASE_DIR/b.transcript" | grep -c '^candidate ')
sed 's/^/#   signaled: /' "$CASE_DIR/a.transcript" "$CASE_DIR/b.transcript" | grep candidate
if [ "$STATUS_A" = 0 ] && [ "$STATUS_B" = 0 ] && [ "$KIND_A" = relay ] && [ "$KIND_B" = relay ] &&
    [ -z "$leaks" ] && [ -z "$non_relay" ] && [ "$n_cand" -ge 2 ]; then
    ok 4 "relay-only: $n_cand relayed candidates, no host or srflx address signaled, connected via relay"
else
    [ -n "$leaks" ] && echo "# leaked: $leaks"
    [ -n "$non_relay" ] && echo "# non-relay candidates: $non_relay"
    not_ok 4 "relay-only: expected only relayed candidates and a relayed path"
fi

exit $FAILED
