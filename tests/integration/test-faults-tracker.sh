#!/bin/bash
# A tracker that disappears or lies, under running `atlas get` and `atlas
# seed` (real processes, 127.0.0.1).  Disappears: SIGSTOP (silent, the
# sockets stay open) mid-swarm, with its wall clock jumping (libfaketime) and
# SIGCONT later; SIGKILL and restart is part 3 of test-peers.sh.  Lies: a
# proxy (tests/common/atlas-lying-tracker.py) in front of the real tracker
# that relays wrong fingerprints, adds peers that do not exist, sends garbage
# and oversized messages, or serves a Metalink whose file hash is not the
# file's.  What a user must see: downloads that go on from the peers and
# mirrors they have, a clear error instead of a hang when the tracker is
# needed and silent, the swarm there again once it answers, no wrong file and
# no crash whatever the tracker says, and peers that cannot prove their
# fingerprint never used.  TAP on stdout.
. "$(dirname "$0")/lib.sh"
. "$ATLAS_SOURCE_ROOT/tests/common/atlas-faults-lib.sh"

: "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"

FAKETIME_LIB=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -z "$FAKETIME_LIB" ] && [ -e "$f" ] && FAKETIME_LIB=$f
done
if [ -z "$FAKETIME_LIB" ]; then
    echo "1..1"
    echo "not ok 1 - libfaketime is missing: install the Debian package faketime"
    exit 1
fi

plan 20

SIZE=$((16 * MIB))
mkdir -p "$T/root" "$T/seed"
make_file "$T/root/swarm.bin" 16
GOOD=$(sha256_of "$T/root/swarm.bin")
cp "$T/root/swarm.bin" "$T/seed/swarm.bin"
start_mirror "$T/root" "$T/mirror.log"
unset ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN ATLAS_TURN_PASSWORD
cd "$T" || exit 99

DB="$T/tracker.sqlite"
new_token() {
    "$ATLAS_TRACKER" token add --database "$DB" --role "$1" --name "$2" 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1
}
UP=$(new_token uploader up)
DOWN=$(new_token downloader down)

# The tracker runs on a wall clock this test moves (monotonic time untouched).
CLOCK=$T/clock
echo "+0" >"$CLOCK"
set_clock() { echo "$1" >"$CLOCK.new" && mv "$CLOCK.new" "$CLOCK"; }
env LD_PRELOAD="$FAKETIME_LIB" FAKETIME_TIMESTAMP_FILE="$CLOCK" FAKETIME_NO_CACHE=1 \
    FAKETIME_DONT_FAKE_MONOTONIC=1 "$ATLAS_TRACKER" serve --database "$DB" --listen 127.0.0.1:0 \
    >"$T/tracker.out" 2>"$T/tracker.err" &
TRACKER_PID=$!
track_pid "$TRACKER_PID"
tracker_port() { cat "$T/tracker.out" "$T/tracker.err" | sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' | head -n1; }
tracker_up() { [ -n "$(tracker_port)" ]; }
if ! wait_for tracker_up; then
    echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
    exit 1
fi
TRACKER="http://127.0.0.1:$(tracker_port)"

# One file, one swarm: behind a 512 KiB/s mirror (peers must carry it) and
# behind a 4 MiB/s one (the mirror alone finishes in about 4 s).
publish() {
    ATLAS_TRACKER_TOKEN=$UP run_atlas publish "$T/root/swarm.bin" --tracker "$TRACKER" \
        --name "$1" --mirror "$BASE/$2/swarm.bin" --output "$T/$1.meta4" -q
    rc_is 0 || { echo "Bail out! publish $1 failed: $(cat "$T/err")"; exit 1; }
}
publish slow.bin rate=512K
publish fast.bin rate=4M
export ATLAS_TRACKER_TOKEN=$DOWN

start_seeder() {
    local name=$1; shift
    "$ATLAS" seed --json --tracker "$TRACKER" --local-address 127.0.0.1 --identity "$T/id-$name" \
        "$@" >"$T/$name.json" 2>"$T/$name.err" &
    SEED_PID=$!
    track_pid "$SEED_PID"
    WAIT_TENTHS=200 wait_for grep -qs '"event":"seeding"' "$T/$name.json"
}
# leech NAME TRACKER-URL ENTRY : `atlas get --json` in the background.
leech() {
    start_get "$1" --no-queue -d "$T/$1" --tracker "$2" --local-address 127.0.0.1 \
        --identity "$T/id-$1" "$3"
}
from_peers() { finished_field "$1" from_peers; }
good() { [ "$(sha256_of "$T/$1/swarm.bin" 2>/dev/null)" = "$GOOD" ]; }
# swarm_peers : what the tracker's index says about the swarm right now.
swarm_peers() {
    curl -s -m 5 -H "Authorization: Bearer $DOWN" "$TRACKER/api/v1/entries?name=slow.bin" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["peers"])' 2>/dev/null
}

# ---- 1. the tracker stops answering mid-swarm (SIGSTOP) ----------------------
start_seeder s1 "$T/slow.bin.meta4" --file "$T/seed/swarm.bin" --upload-limit 4M || {
    echo "Bail out! the seeder did not start: $(cat "$T/s1.err")"; exit 1; }
S1=$SEED_PID
leech l1 "$TRACKER" slow.bin
L1=$GET_PID
WAIT_TENTHS=300 wait_for past l1 $((SIZE / 5))
set_clock "+2d"
kill -STOP "$TRACKER_PID"
diag "tracker stopped with l1 at $(completed l1) bytes"
# A new download needs the tracker for the Metalink: it must say so, not hang.
start=$(date +%s)
GET_TIMEOUT=100 leech l2 "$TRACKER" slow.bin
L2=$GET_PID
WAIT_TENTHS=400 wait_pid "$L1"; rc=$?
FP=$(from_peers l1)
diag "l1: exit $rc, $FP bytes from peers"
if [ $rc -eq 0 ] && good l1; then ok "tracker stopped: a running download completes, right file, exit 0"
else not_ok "tracker stopped: a running download completes, right file, exit 0" "exit $rc" "$(tail -n 3 "$T/l1.err")"; fi
if [ -n "$FP" ] && [ "$FP" != None ] && [ "$FP" -gt $((SIZE / 2)) ]; then
    ok "... mostly from the peer it had already ($FP bytes)"
else
    not_ok "... mostly from the peer it had already" "from_peers=$FP"
fi

WAIT_TENTHS=1000 wait_pid "$L2"; rc=$?
took=$(($(date +%s) - start))
diag "a new download with the tracker stopped: exit $rc after $took s: $(tail -n 1 "$T/l2.err")"
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ "$took" -le 90 ] && grep -qi tracker "$T/l2.err"; then
    ok "... a new download fails within $took s with a message about the tracker"
else
    not_ok "... a new download fails in bounded time with a message about the tracker" "exit $rc after $took s" "$(cat "$T/l2.err")"
fi

set_clock "-2d"
kill -CONT "$TRACKER_PID"
sleep 1
leech l3 "$TRACKER" slow.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
FP=$(from_peers l3)
if [ $rc -eq 0 ] && good l3 && [ -n "$FP" ] && [ "$FP" != None ] && [ "$FP" -gt $((SIZE / 2)) ]; then
    ok "tracker back (clock moved +2 d then -2 d): a new download finds the seeder again ($FP bytes from it)"
else
    not_ok "tracker back: a new download finds the seeder again" "exit $rc, from_peers=$FP" "$(tail -n 3 "$T/l3.err")"
fi
if grep -q '"event":"tracker".*"connected":false' "$T/s1.json" &&
    ! grep -q '"event":"tracker".*"connected":false' <(tail -n 1 "$T/s1.json"); then
    diag "the seeder noticed the silent tracker and reconnected"
fi

# The seeder dies: the tracker must not keep it as a ghost.
P=$(swarm_peers)
kill -KILL "$S1"
wait "$S1" 2>/dev/null
gone() { [ "$(swarm_peers)" = 0 ]; }
if [ "$P" = 1 ] && WAIT_TENTHS=100 wait_for gone; then ok "the index counted the seeder, and drops it within 10 s of its death"
else not_ok "the index counted the seeder, and drops it within 10 s of its death" "peers before $P, now $(swarm_peers)"; fi

# ---- 2. a tracker that lies ----------------------------------------------------
start_seeder s2 "$T/fast.bin.meta4" --file "$T/seed/swarm.bin" --upload-limit 8M || {
    echo "Bail out! the seeder did not start: $(cat "$T/s2.err")"; exit 1; }
# liar MODE : starts the lying proxy; sets LIAR (its URL) and LIAR_PID.
liar() {
    python3 "$ATLAS_SOURCE_ROOT/tests/common/atlas-lying-tracker.py" --mode "$1" \
        --upstream "127.0.0.1:$(tracker_port)" >"$T/liar-$1.out" 2>"$T/liar-$1.err" &
    LIAR_PID=$!
    track_pid "$LIAR_PID"
    WAIT_TENTHS=50 wait_for grep -qs '^PORT ' "$T/liar-$1.out"
    LIAR="http://127.0.0.1:$(sed -n 's/^PORT //p' "$T/liar-$1.out")"
}
stop_liar() { kill -TERM "$LIAR_PID" 2>/dev/null; wait "$LIAR_PID" 2>/dev/null; }

liar fingerprint
leech f1 "$LIAR" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
FP=$(from_peers f1)
diag "wrong fingerprints: exit $rc, $FP bytes from peers"
if [ $rc -eq 0 ] && good f1; then ok "wrong fingerprints relayed: the download completes from the mirror, exit 0"
else not_ok "wrong fingerprints relayed: the download completes from the mirror, exit 0" "exit $rc" "$(tail -n 3 "$T/f1.err")"; fi
if [ "$FP" = 0 ]; then ok "... and not one byte came from the peer that could not prove its fingerprint"
else not_ok "... and not one byte came from the peer that could not prove its fingerprint" "from_peers=$FP"; fi
N_AUTH=$(grep -c "certificate does not match: expected sha256:[0-9a-f]*, the peer presented sha256:" "$T/f1.err")
if [ "$N_AUTH" -ge 1 ]; then
    ok "... and it says the peer's certificate did not match the fingerprint ($N_AUTH times)"
else
    not_ok "... and it says the peer's certificate did not match the fingerprint" "$(tail -n 5 "$T/f1.err")"
fi
stop_liar

liar ghosts
leech g1 "$LIAR" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
FP=$(from_peers g1)
diag "ghost peers: exit $rc, $FP bytes from peers"
if [ $rc -eq 0 ] && good g1; then ok "peers that do not exist: the download completes, right file, exit 0"
else not_ok "peers that do not exist: the download completes, right file, exit 0" "exit $rc" "$(tail -n 3 "$T/g1.err")"; fi
if [ -n "$FP" ] && [ "$FP" != None ] && [ "$FP" -gt 0 ]; then ok "... and still gets pieces from the real peer ($FP bytes)"
else not_ok "... and still gets pieces from the real peer" "from_peers=$FP"; fi
stop_liar

liar garbage
leech x1 "$LIAR" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
FP=$(from_peers x1)
diag "malformed messages from the tracker: exit $rc, $FP bytes from peers"
if [ $rc -eq 0 ] && good x1; then ok "malformed tracker messages: the download completes, right file, exit 0"
else not_ok "malformed tracker messages: the download completes, right file, exit 0" "exit $rc" "$(tail -n 5 "$T/x1.err")"; fi
if [ -n "$FP" ] && [ "$FP" != None ] && [ "$FP" -gt 0 ] && grep -q "tracker sent a message this client does not understand" "$T/x1.err"; then
    ok "... they are reported and ignored: the swarm still works ($FP bytes from the peer)"
else
    not_ok "... they are reported and ignored: the swarm still works" "from_peers=$FP" "$(sort "$T/x1.err" | uniq -c | head -n 5)"
fi
stop_liar

liar oversized
leech o1 "$LIAR" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
diag "oversized and binary frames: exit $rc, $(grep -c 'connected to the tracker .* again' "$T/o1.err") reconnections"
if [ $rc -eq 0 ] && good o1; then ok "binary and oversized tracker frames: the download completes, right file, exit 0"
else not_ok "binary and oversized tracker frames: the download completes, right file, exit 0" "exit $rc" "$(tail -n 5 "$T/o1.err")"; fi
stop_liar

# The index serves a Metalink whose whole-file hash is not the file's: the
# pieces all check, the whole file cannot.
liar metalink
leech m1 "$LIAR" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
diag "lying Metalink: exit $rc: $(tail -n 1 "$T/m1.err")"
if [ $rc -eq 3 ]; then ok "a Metalink whose file hash is wrong: exit 3 (verification failed)"
else not_ok "a Metalink whose file hash is wrong: exit 3 (verification failed)" "exit $rc" "$(tail -n 3 "$T/m1.err")"; fi
if [ ! -e "$T/m1/swarm.bin" ]; then ok "... and no file was put in place"
else not_ok "... and no file was put in place" "$(ls -la "$T/m1")"; fi
if grep -q "does not match its expected sha-256.*every piece on disk matches its piece hash: the file hash and the piece hashes of the Metalink disagree" "$T/m1.err"; then
    ok "... and the message says the file hash, not the data, is what disagrees"
else
    not_ok "... and the message says the file hash, not the data, is what disagrees" "$(cat "$T/m1.err")"
fi
stop_liar

# The seeder lived through all of it, and the real tracker too.
if kill -0 "$SEED_PID" 2>/dev/null; then ok "the seeder is still running"
else not_ok "the seeder is still running" "$(tail -n 5 "$T/s2.err")"; fi
if kill -0 "$TRACKER_PID" 2>/dev/null && curl -s -m 5 "$TRACKER/health" | grep -q ok; then ok "the tracker is still healthy"
else not_ok "the tracker is still healthy" "$(tail -n 5 "$T/tracker.err")"; fi
leech after "$TRACKER" fast.bin
WAIT_TENTHS=400 wait_pid "$GET_PID"; rc=$?
if [ $rc -eq 0 ] && good after; then ok "a download through the honest tracker afterwards: right file, exit 0"
else not_ok "a download through the honest tracker afterwards: right file, exit 0" "exit $rc"; fi

if no_critical "$T"/*.err; then ok "no process logged a CRITICAL or crashed"
else not_ok "no process logged a CRITICAL or crashed" "$(grep -HE 'CRITICAL|Segmentation|Aborted' "$T"/*.err | head -n 5)"; fi

finish
