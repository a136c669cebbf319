#!/bin/bash
# test-ice-nat.sh — two ICE peers behind NATs, with coturn on a fake internet
# (the network of netns-lib.sh).
#
# Every namespace is created here with a unique name (prefix + PID) and deleted
# on exit, also on failure. coturn and the peers are stopped by PID. Prints
# TAP. Needs root, iproute2, nftables and coturn: without them it fails.
#
# Environment: ICE_NAT_PEER (the ice-nat-peer program). KEEP_TMP=1 keeps logs.

set -u

PEER=${ICE_NAT_PEER:-}
P="atlice$$"
NETNS_TOOLS="tee mkfifo"

echo "1..4"

# The namespaces, NATs, coturn, the temp dir $T and the cleanup trap.
. "$(dirname "$0")/netns-lib.sh"

[ -n "$PEER" ] && [ -x "$PEER" ] || bail "ICE_NAT_PEER must point to the ice-nat-peer program"

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
    ip netns exec "$NS_HOMEA" "$PEER" --controlling "${common[@]}" "$@" \
        --signal-in "$d/a.in" --signal-out "$d/a.out" >"$d/a.log" 2>"$d/a.err" &
    local peer_a=$!
    ip netns exec "$NS_HOMEB" "$PEER" "${common[@]}" "$@" \
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
