#!/bin/bash
# test-swarm-nat.sh — the whole peer stack across NATs: `atlas seed` in home A,
# `atlas get NAME` in home B, and the tracker, coturn and a 1 MiB/s mirror on
# the fake internet of netns-lib.sh:
#
#   homeA 10.0.1.2 ── natA ── 203.0.113.10 ─┐
#                                            br0 203.0.113.1: coturn :3478,
#   homeB 10.0.2.2 ── natB ── 203.0.113.20 ─┘  tracker (behind tracker-tap.py), mirror
#
# What a user notices: the file arrives intact, mostly from the peer; behind
# port-keeping NATs without the relay, behind symmetric NATs through it, and
# in relay-only mode through it without any address of either home reaching
# the other side through the tracker.
#
# How "relayed" is measured: named nftables counters in the inet namespace
# count UDP bytes to and from coturn's relay ports (49152-65535, where
# allocations live; 3478 is only the client side). Data between two relays
# crosses both hooks, data between a relay and a NAT crosses one, so the bytes
# relayed are the larger of the two counters. The CLI does not report the
# selected candidate kind, so this is the check.
#
# Needs root, iproute2, nftables, coturn and python3 (for tracker-tap.py and
# JSON). Environment (meson): ATLAS, ATLAS_TRACKER, ATLAS_TEST_MIRROR.
# KEEP_TMP=1 keeps logs. Prints TAP.

set -u

P="atlsw$$"
NETNS_TOOLS="python3 timeout sha256sum"
HERE=$(cd "$(dirname "$0")" && pwd)

echo "1..12"

. "$HERE/netns-lib.sh"

for v in ATLAS ATLAS_TRACKER ATLAS_TEST_MIRROR; do
    [ -x "${!v:-}" ] || bail "$v must point to the program"
    # The leecher runs in a folder of its own.
    printf -v "$v" '%s' "$(realpath "${!v}")"
done

MIB=1048576
SIZE=$((16 * MIB))
export XDG_DATA_HOME="$T/xdg-data" XDG_CONFIG_HOME="$T/xdg-config" XDG_CACHE_HOME="$T/xdg-cache"
export XDG_DOWNLOAD_DIR="$T/xdg-downloads" ATLAS_QUEUE_FILE="$T/queue.sqlite"
export ATLAS_TURN_PASSWORD=$TURN_PASSWORD
unset ATLAS_DEBUG G_MESSAGES_DEBUG ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN 2>/dev/null
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DOWNLOAD_DIR" "$T/root"
TAP_LOG="$T/tracker-sent.bin"

N=0
FAILED=0
ok() {
    N=$((N + 1))
    echo "ok $N - $1"
}
not_ok() {
    N=$((N + 1))
    FAILED=1
    echo "not ok $N - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
now() { date +%s.%N; }
since() { awk "BEGIN { printf \"%.1f\", $(now) - $1 }"; }

# ---- the internet's services ------------------------------------------------

# relay_counters: the table that counts bytes through coturn's relay ports.
relay_counters() {
    in_ns "$NS_INET" nft -f - <<EOF
table inet atlas_relay {
    counter relay_in {}
    counter relay_out {}
    chain input {
        type filter hook input priority filter; policy accept;
        ip daddr $INET_IP udp dport 49152-65535 counter name "relay_in"
    }
    chain output {
        type filter hook output priority filter; policy accept;
        ip saddr $INET_IP udp sport 49152-65535 counter name "relay_out"
    }
}
EOF
}
# relayed_bytes: max(relay_in, relay_out) since the last reset_relayed.
relayed_bytes() {
    local a b
    a=$(in_ns "$NS_INET" nft list counter inet atlas_relay relay_in | sed -n 's/.*bytes \([0-9]*\).*/\1/p')
    b=$(in_ns "$NS_INET" nft list counter inet atlas_relay relay_out | sed -n 's/.*bytes \([0-9]*\).*/\1/p')
    echo $((${a:-0} > ${b:-0} ? ${a:-0} : ${b:-0}))
}
reset_relayed() {
    in_ns "$NS_INET" nft reset counters table inet atlas_relay >/dev/null
}

start_services() {
    head -c "$SIZE" /dev/urandom >"$T/root/swarm.bin" || return 1
    GOOD=$(sha256sum "$T/root/swarm.bin" | cut -d' ' -f1)

    ip netns exec "$NS_INET" "$ATLAS_TEST_MIRROR" --root "$T/root" --bind "$INET_IP" --port 0 \
        --log "$T/mirror.log" >"$T/mirror.out" 2>"$T/mirror.err" &
    track_pid $!
    wait_tenths 50 grep -q '^PORT ' "$T/mirror.out" || return 1
    MIRROR="http://$INET_IP:$(sed -n 's/^PORT //p' "$T/mirror.out" | head -n1)"

    local db="$T/tracker.sqlite"
    UP=$("$ATLAS_TRACKER" token add --database "$db" --role uploader --name up 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1)
    DOWN=$("$ATLAS_TRACKER" token add --database "$db" --role downloader --name down 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1)
    [ -n "$UP" ] && [ -n "$DOWN" ] || return 1
    # The tracker listens on the namespace's loopback; clients reach it only
    # through the tap, so every byte it sends them is kept.
    ip netns exec "$NS_INET" "$ATLAS_TRACKER" serve --database "$db" --listen 127.0.0.1:0 \
        >"$T/tracker.out" 2>"$T/tracker.err" &
    track_pid $!
    wait_tenths 100 grep -q 'listening on http://127.0.0.1:[0-9]' "$T/tracker.out" "$T/tracker.err" || return 1
    local tport
    tport=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/tracker.out" "$T/tracker.err" | head -n1)
    : >"$TAP_LOG"
    ip netns exec "$NS_INET" python3 "$HERE/tracker-tap.py" "$INET_IP" 0 127.0.0.1 "$tport" "$TAP_LOG" \
        >"$T/tap.out" 2>"$T/tap.err" &
    track_pid $!
    wait_tenths 50 grep -q '^PORT ' "$T/tap.out" || return 1
    TRACKER="http://$INET_IP:$(sed -n 's/^PORT //p' "$T/tap.out" | head -n1)"

    relay_counters || return 1

    ATLAS_TRACKER_TOKEN=$UP in_ns "$NS_INET" timeout -k 5 60 "$ATLAS" publish "$T/root/swarm.bin" \
        --tracker "$TRACKER" --name swarm.bin --mirror "$MIRROR/rate=1M/swarm.bin" \
        --output "$T/swarm.bin.meta4" -q >"$T/publish.out" 2>"$T/publish.err"
}

# ---- one case ------------------------------------------------------------------


# run_case NAME [peer options…]: seeder in home A, leecher in home B; sets
# RC, FROM_PEERS, RELAYED, SECONDS_TAKEN, CASE_LOG_FROM (offset into the tap log).
run_case() {
    local name=$1
    shift
    local opts=(--tracker "$TRACKER" --stun "$TURN_IP:$TURN_PORT" --turn "$TURN_IP:$TURN_PORT"
        --turn-user "$TURN_USER" "$@")
    mkdir -p "$T/$name/seed" "$T/$name/get"
    cp "$T/root/swarm.bin" "$T/$name/seed/swarm.bin"
    reset_relayed
    CASE_LOG_FROM=$(stat -c %s "$TAP_LOG")
    export ATLAS_TRACKER_TOKEN=$DOWN

    ip netns exec "$NS_HOMEA" "$ATLAS" seed --json "$T/swarm.bin.meta4" --file "$T/$name/seed/swarm.bin" \
        --identity "$T/$name/id-seed" "${opts[@]}" >"$T/$name/seed.json" 2>"$T/$name/seed.err" &
    local seeder=$!
    track_pid $seeder
    if ! wait_tenths 200 grep -qs '"event":"tracker".*"connected":true' "$T/$name/seed.json" ||
        ! wait_tenths 200 grep -qs '"event":"seeding"' "$T/$name/seed.json"; then
        diag "$name: the seeder did not start seeding: $(tail -n 5 "$T/$name/seed.err")"
    fi

    local start
    start=$(now)
    # The leecher runs in its own folder: an entry name is looked up only when
    # no file of that name is in the way.
    (cd "$T/$name" && timeout -k 5 60 ip netns exec "$NS_HOMEB" "$ATLAS" get --no-queue --json \
        -d "$T/$name/get" --identity "$T/$name/id-get" "${opts[@]}" swarm.bin \
        >"$T/$name/get.json" 2>"$T/$name/get.err")
    RC=$?
    SECONDS_TAKEN=$(since "$start")
    RELAYED=$(relayed_bytes)
    FROM_PEERS=$(python3 - "$T/$name/get.json" <<'PY'
import json, sys
v = None
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "finished":
        v = o.get("from_peers")
print(v if v is not None else -1)
PY
)
    stop_pid $seeder
    diag "$name: exit $RC in $SECONDS_TAKEN s; $FROM_PEERS bytes from peers of $SIZE;" \
        "$RELAYED bytes through coturn's relay ports"
    if [ "$RC" != 0 ]; then
        sed 's/^/#   get: /' "$T/$name/get.err" | tail -n 15
        sed 's/^/#   seed: /' "$T/$name/seed.err" | tail -n 10
    fi
}

file_good() { [ "$(sha256sum "$1" 2>/dev/null | cut -d' ' -f1)" = "$GOOD" ]; }

# complete_and_from_peers NAME WHAT: the TAP lines every case shares.
complete_and_from_peers() {
    if [ "$RC" = 0 ] && file_good "$T/$1/get/swarm.bin"; then
        ok "$2: the leecher completes, exit 0, identical file ($SECONDS_TAKEN s)"
    else
        not_ok "$2: the leecher completes, exit 0, identical file" "exit=$RC" \
            "$(tail -n 3 "$T/$1/get.json")"
    fi
    if [ "$FROM_PEERS" -gt $((SIZE / 2)) ]; then
        ok "$2: more than half the file came from the peer ($FROM_PEERS bytes)"
    else
        not_ok "$2: more than half the file came from the peer" "from_peers=$FROM_PEERS"
    fi
}

# ---- set-up ----------------------------------------------------------------------

t0=$(now)
setup_networks || bail "could not create namespaces and veth pairs"
start_turn || {
    sed 's/^/# turnserver: /' "$T/turnserver.out" "$T/turnserver.log" 2>/dev/null | tail -n 20
    bail "coturn did not start in $NS_INET"
}
start_services || {
    tail -n 5 "$T"/*.err | sed 's/^/# /'
    bail "mirror, tracker, tap or publish failed in $NS_INET"
}
ok "namespaces, NATs, coturn, tracker and a 1 MiB/s mirror are up; swarm.bin published"

# ---- 1. port-keeping NATs: a direct link --------------------------------------------
set_nat "masquerade" || bail "nft rules for masquerade failed"
run_case direct
complete_and_from_peers direct "port-keeping NATs"
# ICE checks on relayed pairs and TURN refreshes may cross the relay; the
# file's bytes must not. 1/16 of the file is far above the former and far
# below the latter.
if [ "$FROM_PEERS" -gt 0 ] && [ "$RELAYED" -lt $((SIZE / 16)) ]; then
    ok "port-keeping NATs: the peer link is direct (only $RELAYED bytes through the relay)"
else
    not_ok "port-keeping NATs: the peer link is direct" "relayed=$RELAYED from_peers=$FROM_PEERS"
fi

# ---- 2. symmetric NATs: only TURN can carry it -------------------------------------
set_nat "masquerade random" || bail "nft rules for masquerade random failed"
run_case symmetric
complete_and_from_peers symmetric "symmetric NATs"
if [ "$RELAYED" -gt $((SIZE / 2)) ]; then
    ok "symmetric NATs: the peer's bytes went through TURN ($RELAYED bytes relayed)"
else
    not_ok "symmetric NATs: the peer's bytes went through TURN" "relayed=$RELAYED"
fi

# ---- 3. relay-only on both, on NATs where a direct link would work --------------------
set_nat "masquerade" || bail "nft rules for masquerade failed"
run_case relay-only --relay-only
complete_and_from_peers relay-only "relay-only"
if [ "$RELAYED" -gt $((SIZE / 2)) ]; then
    ok "relay-only: the peer's bytes went through TURN ($RELAYED bytes relayed)"
else
    not_ok "relay-only: the peer's bytes went through TURN" "relayed=$RELAYED"
fi
sent="$T/relay-only/tracker-sent.txt"
tail -c +$((CASE_LOG_FROM + 1)) "$TAP_LOG" | tr -c '[:print:]\n' '\n' >"$sent"
# Besides the homes' IPv4 addresses: no link-local IPv6 host address and no
# related address (raddr), which on a relayed candidate names the host.
leaks=$(grep -aoE ".{0,60}($PRIVATE_RE|fe80:|raddr).{0,20}" "$sent" | head -n 5)
n_relay=$(grep -aoE 'typ relay' "$sent" | wc -l)
non_relay=$(grep -aoE 'typ (host|srflx|prflx)' "$sent" | sort | uniq -c)
diag "relay-only: the tracker sent $(wc -c <"$sent") bytes to the peers; $n_relay relayed candidates among them"
if [ -z "$leaks" ] && [ -z "$non_relay" ] && [ "$n_relay" -ge 2 ]; then
    ok "relay-only: the tracker relayed $n_relay relayed candidates and no host or srflx address of either home"
else
    not_ok "relay-only: the tracker relayed no host or srflx address of either home" \
        "leaked: $leaks" "non-relay candidates: $non_relay" "relayed candidates: $n_relay"
fi

if grep -l 'CRITICAL' "$T"/*/*.err >/dev/null 2>&1; then
    not_ok "no process logged a CRITICAL" "$(grep -H 'CRITICAL' "$T"/*/*.err | head -n 5)"
else
    ok "no process logged a CRITICAL"
fi
diag "total $(since "$t0") s"
exit $FAILED
