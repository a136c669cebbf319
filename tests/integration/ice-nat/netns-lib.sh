# netns-lib.sh — the NAT lab shared by test-ice-nat.sh and test-swarm-nat.sh.
#
#   homeA 10.0.1.2 ── natA 10.0.1.1 | 203.0.113.10 ──┐
#                                                     br0 203.0.113.1 (inet: coturn)
#   homeB 10.0.2.2 ── natB 10.0.2.1 | 203.0.113.20 ──┘
#
# Sourced (bash). The caller sets P (a namespace prefix unique to the run,
# e.g. "atlice$$") and NETNS_TOOLS (the commands it needs) first. This file
# checks root and tools, makes the temp dir $T, and installs the EXIT trap that
# stops every PID in $_PIDS and deletes every namespace it made, also on
# failure or Ctrl-C. KEEP_TMP=1 keeps $T.

set -u

NS_INET="$P-inet"
NS_NATA="$P-nata"
NS_NATB="$P-natb"
NS_HOMEA="$P-homea"
NS_HOMEB="$P-homeb"
ALL_NS="$NS_INET $NS_NATA $NS_NATB $NS_HOMEA $NS_HOMEB"
INET_IP=203.0.113.1
TURN_IP=$INET_IP
TURN_PORT=3478
TURN_USER=atlas
TURN_PASSWORD=nat-test-secret
# Addresses that must never appear in anything relayed for a relay-only peer:
# the hosts and their NATs' public (server-reflexive) addresses.
PRIVATE_RE='10\.0\.[12]\.|203\.0\.113\.(10|20)([^0-9]|$)'

# bail REASON: a failed set-up is a failed test, never a skip.
bail() {
    echo "not ok 1 - setup: $*"
    echo "Bail out! $*"
    exit 1
}

[ "$(id -u)" = 0 ] || bail "${0##*/} needs root (network namespaces, nftables); run it as root, e.g. in the CI container"
for cmd in ip nft turnserver ss ${NETNS_TOOLS:-}; do
    command -v "$cmd" >/dev/null || bail "${0##*/} needs '$cmd' (Debian packages iproute2, nftables, coturn)"
done

T=$(mktemp -d "${TMPDIR:-/tmp}/atlas-ice-nat.XXXXXX") || bail "mktemp failed"
_PIDS=""
track_pid() { _PIDS="$_PIDS $1"; }

# stop_pid PID: SIGTERM, a bounded wait (3 s), then SIGKILL that one PID.
stop_pid() {
    local i=0
    kill -TERM "$1" 2>/dev/null
    while kill -0 "$1" 2>/dev/null && [ $i -lt 30 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

_cleanup() {
    local p ns
    for p in $_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $_PIDS; do
        stop_pid "$p"
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

# in_ns NS COMMAND…: runs COMMAND in NS. Start background processes with
# `ip netns exec NS COMMAND… &` instead: it execs COMMAND, so $! is the PID
# to stop, whereas `in_ns … &` forks a subshell whose $! would leave the
# program running (an orphan) when the subshell is killed.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}

# wait_tenths N COMMAND…: polls COMMAND every 0.1 s, at most N times.
wait_tenths() {
    local n=$1 i=0
    shift
    while [ $i -lt "$n" ]; do
        "$@" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# ---- the networks ----------------------------------------------------------

setup_networks() {
    local ns
    for ns in $ALL_NS; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done

    ip -n "$NS_INET" link add br0 type bridge || return 1
    ip -n "$NS_INET" addr add "$INET_IP/24" dev br0
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
        ip -n "$nat" route add default via "$INET_IP"

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
    ip netns exec "$NS_INET" turnserver -c "$T/turnserver.conf" >"$T/turnserver.out" 2>&1 &
    TURN_PID=$!
    track_pid "$TURN_PID"
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
