#!/bin/bash
# Peers from the command line: `atlas seed` and `atlas get NAME` as real
# processes with a real tracker and a rate-limited mirror, all on 127.0.0.1
# (--local-address 127.0.0.1).  What a user notices: right files, bytes that
# came from peers rather than the slow mirror, downloads that survive a dead
# seeder and a restarted tracker, a lying seeder banned, relay-only mode that
# falls back to the mirror, and clear errors from `atlas seed`.  TAP on stdout.
. "$(dirname "$0")/lib.sh"

: "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"

plan 43

SIZE=$((24 * MIB))
mkdir -p "$T/root" "$T/seed" "$T/bad"
make_file "$T/root/swarm.bin" 24
GOOD=$(sha256_of "$T/root/swarm.bin")
start_mirror "$T/root" "$T/mirror.log"
ROOT_MTIME=$(stat -c %y "$T/root/swarm.bin")
unset ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN ATLAS_TURN_PASSWORD
# Entry names are looked up only when no file of that name is in the way.
cd "$T" || exit 99

# ---- the tracker (restarted on the same port in part 3) ----------------------
DB="$T/tracker.sqlite"
new_token() {
    "$ATLAS_TRACKER" token add --database "$DB" --role "$1" --name "$2" 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1
}
UP=$(new_token uploader up)
DOWN=$(new_token downloader down)
if [ -z "$UP" ] || [ -z "$DOWN" ]; then
    echo "Bail out! atlas-tracker token add printed no token: $(cat "$T/token.err")"
    exit 1
fi

tracker_port() { sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/tracker.out" | head -n1; }
tracker_up() { [ -n "$(tracker_port)" ]; }
# start_tracker ADDR:PORT : sets TRACKER_PID.
start_tracker() {
    # Emptied here, not by the background job: tracker_up must not read the
    # previous run's "listening" line before the job truncates the file.
    : >"$T/tracker.out"
    "$ATLAS_TRACKER" serve --database "$DB" --listen "$1" >"$T/tracker.out" 2>>"$T/tracker.err" &
    TRACKER_PID=$!
    track_pid "$TRACKER_PID"
    if ! wait_for tracker_up; then
        echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
        exit 1
    fi
}
start_tracker 127.0.0.1:0
TPORT=$(tracker_port)
TRACKER="http://127.0.0.1:$TPORT"
PEER=(--tracker "$TRACKER" --local-address 127.0.0.1)

# Publish the file three times: behind the 2 MiB/s mirror the brief's tests
# use, behind a 256 KiB/s one (so in part 4 the peer, not the mirror, delivers
# nearly every piece) and behind a fast one.  One file, so one swarm.
publish() {
    ATLAS_TRACKER_TOKEN=$UP run_atlas publish "$T/root/swarm.bin" --tracker "$TRACKER" \
        --name "$1" --mirror "$BASE/$2/swarm.bin" --output "$T/$1.meta4" -q
    if ! rc_is 0; then
        echo "Bail out! publish $1 failed: $(cat "$T/err")"
        exit 1
    fi
}
publish swarm.bin rate=2M
publish slow.bin rate=256K
publish fast.bin -
export ATLAS_TRACKER_TOKEN=$DOWN

# ---- processes --------------------------------------------------------------

# start_seeder NAME ARGS… : `atlas seed --json` in the background, not
# through timeout (part 2 kills it with SIGKILL); sets SEED_PID and waits
# (≤ 20 s) for its "seeding" line.  Output in $T/NAME.json and $T/NAME.err.
start_seeder() {
    local name=$1; shift
    "$ATLAS" seed --json "${PEER[@]}" --identity "$T/id-$name" "$@" >"$T/$name.json" 2>"$T/$name.err" &
    SEED_PID=$!
    track_pid "$SEED_PID"
    WAIT_TENTHS=200 wait_for grep -qs '"event":"seeding"' "$T/$name.json"
}
stop_seeder() {
    kill -TERM "$1" 2>/dev/null
    local i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

# start_leecher NAME ENTRY ARGS… : `atlas get --json` in the background, at
# most 60 s; sets LEECH_PID.  Files in $T/NAME/, output in $T/NAME.json/.err.
start_leecher() {
    local name=$1 entry=$2; shift 2
    timeout -k 5 60 "$ATLAS" get --no-queue --json -d "$T/$name" "${PEER[@]}" \
        --identity "$T/id-$name" "$@" "$entry" >"$T/$name.json" 2>"$T/$name.err" &
    LEECH_PID=$!
    track_pid "$LEECH_PID"
}
# finished_field NAME FIELD : FIELD of NAME's "finished" event.
finished_field() {
    python3 - "$T/$1.json" "$2" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "finished":
        print(o.get(sys.argv[2]))
PY
}
# completed NAME : the latest "completed" byte count NAME reported.
completed() {
    grep '"event":"progress"' "$T/$1.json" 2>/dev/null | tail -n1 |
        sed -n 's/.*"completed":\([0-9]*\).*/\1/p'
}
past() { local c; c=$(completed "$1"); [ -n "$c" ] && [ "$c" -ge "$2" ]; }
# flip_byte FILE OFFSET : inverts the bits of one byte in place.
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf %03o $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
file_good() { [ "$(sha256_of "$1" 2>/dev/null)" = "$GOOD" ]; }

# check_leecher NAME RC WHAT : exit 0 and the right bytes.
check_leecher() {
    if [ "$2" -eq 0 ] && file_good "$T/$1/swarm.bin"; then ok "$3"
    else not_ok "$3" "exit=$2" "$(tail -c 1500 "$T/$1.err")" "$(tail -n 3 "$T/$1.json")"; fi
}

# ---- 0. seed errors, before any peer could help -------------------------------
run_atlas seed "${PEER[@]}" --identity "$T/id-err" swarm.bin --dir "$T/nowhere"
check "seed: a missing file exits 6" rc_is 6
check "... and names the file and --file" err_has "there is no file '$T/nowhere/swarm.bin'.*--file"

cp "$T/root/swarm.bin" "$T/bad/swarm.bin"
flip_byte "$T/bad/swarm.bin" $((5 * MIB + 77))
make_meta4 "$T/root/swarm.bin" swarm.bin "$T/dead.meta4" "$BASE/status=404/swarm.bin"
run_atlas seed "${PEER[@]}" --identity "$T/id-err" "$T/dead.meta4" --file "$T/bad/swarm.bin"
check "seed: a damaged file that nothing can repair exits 1" rc_is 1
check "... and says it is damaged" err_has "it is damaged and could not be repaired"

ATLAS_TRACKER_TOKEN=not-a-token-this-tracker-made \
    run_atlas seed "${PEER[@]}" --identity "$T/id-err" "$T/swarm.bin.meta4" --file "$T/root/swarm.bin"
check "seed: a refused token exits 1" rc_is 1
check "... and says the token was not accepted" err_has "did not accept the token"
if err_has "not-a-token-this-tracker-made"; then not_ok "... and never prints the token" "$(cat "$T/err")"
else ok "... and never prints the token"; fi

# A damaged copy with a working mirror is repaired, then seeded.
start_seeder repair "$T/fast.bin.meta4" --file "$T/bad/swarm.bin"
seeding=$?
stop_seeder "$SEED_PID"
if [ $seeding -eq 0 ] && file_good "$T/bad/swarm.bin"; then ok "seed repairs a damaged copy first, then seeds it"
else not_ok "seed repairs a damaged copy first, then seeds it" "$(cat "$T/repair.err")" "$(cat "$T/repair.json")"; fi

# ---- 1. one fast seeder, two leechers, a 2 MiB/s mirror -------------------------
cp "$T/root/swarm.bin" "$T/seed/swarm.bin"
if start_seeder s1 swarm.bin --dir "$T/seed"; then ok "seed NAME: prints its seeding line"
else not_ok "seed NAME: prints its seeding line" "$(cat "$T/s1.err")"; fi
check "... naming the entry's pieces and hash" \
    grep -q "\"name\":\"swarm.bin\".*\"pieces\":24,\"entry\":\"sha256:$GOOD\"" "$T/s1.json"
S1=$SEED_PID

start=$(date +%s.%N)
start_leecher l1 swarm.bin; L1=$LEECH_PID
start_leecher l2 swarm.bin; L2=$LEECH_PID
wait "$L1"; rc1=$?
wait "$L2"; rc2=$?
diag "part 1: both leechers done in $(awk "BEGIN { print $(date +%s.%N) - $start }") s"
check_leecher l1 $rc1 "leecher 1: exit 0, identical file"
check_leecher l2 $rc2 "leecher 2: exit 0, identical file"
for l in l1 l2; do
    fp=$(finished_field $l from_peers)
    diag "$l: $fp bytes from peers, $(finished_field $l from_mirrors) from the mirror"
    if [ -n "$fp" ] && [ "$fp" != None ] && [ "$fp" -gt $((SIZE / 2)) ]; then
        ok "$l: more than half the file came from peers"
    else
        not_ok "$l: more than half the file came from peers" "from_peers=$fp"
    fi
done

# Plain output: the final line says how much came from peers.
run_atlas get --no-queue -d "$T/l3" "${PEER[@]}" --identity "$T/id-l3" swarm.bin
check "get (plain) exits 0" rc_is 0
check "... and its line says what came from peers" out_has "^Downloaded swarm.bin (.*from peers): $T/l3/swarm.bin\$"

stop_seeder "$S1"
if grep -q '"event":"seeding-totals","uploaded":[1-9]' "$T/s1.json"; then ok "seed reports its upload totals when stopped"
else not_ok "seed reports its upload totals when stopped" "$(tail -n 3 "$T/s1.json")"; fi

# ---- 2. the seeder is killed mid-transfer ----------------------------------------
# Its upload is capped so that the leechers are still busy at 30 %.
start_seeder s2 swarm.bin --dir "$T/seed" --upload-limit 3M
S2=$SEED_PID
start_leecher k1 swarm.bin; K1=$LEECH_PID
start_leecher k2 swarm.bin; K2=$LEECH_PID
if WAIT_TENTHS=300 wait_for past k1 $((SIZE * 3 / 10)); then
    diag "k1 at $(completed k1) bytes: killing the seeder"
    kill -KILL "$S2"
    ok "leecher 1 reached 30 % with the seeder's help"
else
    not_ok "leecher 1 reached 30 % with the seeder's help" "$(tail -n 3 "$T/k1.json")"
    kill -KILL "$S2"
fi
wait "$S2" 2>/dev/null
wait "$K1"; rc1=$?
wait "$K2"; rc2=$?
check_leecher k1 $rc1 "seeder killed: leecher 1 still completes, exit 0"
check_leecher k2 $rc2 "seeder killed: leecher 2 still completes, exit 0"
if grep -q '"event":"log".*left' "$T/k1.json"; then ok "... and its log says the seeder left"
else not_ok "... and its log says the seeder left" "$(grep '"event":"log"' "$T/k1.json" | tail -n 5)"; fi

# ---- 3. the tracker is killed and restarted mid-transfer ----------------------
start_seeder s3 swarm.bin --dir "$T/seed" --upload-limit 1M
S3=$SEED_PID
start_leecher r1 swarm.bin; R1=$LEECH_PID
start_leecher r2 swarm.bin; R2=$LEECH_PID
WAIT_TENTHS=300 wait_for past r1 $((SIZE / 5))
diag "r1 at $(completed r1) bytes: killing the tracker"
kill -KILL "$TRACKER_PID"
wait "$TRACKER_PID" 2>/dev/null
sleep 0.5
start_tracker "127.0.0.1:$TPORT"
wait "$R1"; rc1=$?
wait "$R2"; rc2=$?
check_leecher r1 $rc1 "tracker restarted: leecher 1 completes, exit 0"
check_leecher r2 $rc2 "tracker restarted: leecher 2 completes, exit 0"
reconnected() {
    python3 - "$1" <<'PY'
import json, sys
seen = []
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if o.get("event") == "tracker":
        seen.append(o.get("connected"))
# connected, lost, connected again
ok = True in seen and False in seen[seen.index(True):] and \
     True in seen[seen.index(True) + seen[seen.index(True):].index(False):]
sys.exit(0 if ok else 1)
PY
}
n_back=0
for l in r1 r2; do reconnected "$T/$l.json" && n_back=$((n_back + 1)); done
diag "$n_back of 2 leechers reconnected to the tracker before finishing"
if [ $n_back -ge 1 ]; then ok "leechers reconnect to the restarted tracker"
else not_ok "leechers reconnect to the restarted tracker" "$(grep '"tracker"' "$T/r1.json" "$T/r2.json")"; fi
if WAIT_TENTHS=100 wait_for reconnected "$T/s3.json"; then ok "the seeder reconnects to the restarted tracker"
else not_ok "the seeder reconnects to the restarted tracker" "$(grep '"tracker"' "$T/s3.json")"; fi
stop_seeder "$S3"
# Part 1 is over within a tick or two; these transfers last long enough.
if grep -q '"event":"progress".*"peers":[1-9]' "$T/r1.json"; then ok "get --json counts connected peers"
else not_ok "get --json counts connected peers" "$(grep progress "$T/r1.json" | tail -n 2)"; fi

# ---- 4. a lying seeder ---------------------------------------------------------
# The copy is intact when the seeder checks it; one byte then rots on disk,
# so the seeder serves a bad piece as if it were good.
mkdir -p "$T/liar"
cp "$T/root/swarm.bin" "$T/liar/swarm.bin"
start_seeder liar "$T/slow.bin.meta4" --file "$T/liar/swarm.bin"
LIAR=$SEED_PID
flip_byte "$T/liar/swarm.bin" $((12 * MIB + 12345))
start_leecher v1 slow.bin; V1=$LEECH_PID
# Until an honest peer comes, only the liar is fast, so the bad piece comes
# from it, whatever order the pieces are fetched in.
if WAIT_TENTHS=200 wait_for grep -qs '"event":"log".*Banned peer:' "$T/v1.json"; then
    ok "lying seeder: the leecher's log says the peer was banned"
else
    not_ok "lying seeder: the leecher's log says the peer was banned" "$(grep '"event":"log"' "$T/v1.json" | tail -n 8)"
fi
start_seeder honest "$T/slow.bin.meta4" --file "$T/root/swarm.bin"
HONEST=$SEED_PID
wait "$V1"; rc=$?
check_leecher v1 $rc "... and the leecher still completes correctly, exit 0"
stop_seeder "$HONEST"
# The mirror serves the very file the seeders were given: seeding only reads
# it, or the mirror's ETag moves and its If-Range answers turn into 200s.
if [ "$(stat -c %y "$T/root/swarm.bin")" = "$ROOT_MTIME" ]; then
    ok "seeding leaves the file's modification time alone"
else
    not_ok "seeding leaves the file's modification time alone" "$ROOT_MTIME -> $(stat -c %y "$T/root/swarm.bin")"
fi

# ---- 5. relay-only without a TURN server -----------------------------------------
# The liar is still there, but no candidate of ours may leave the machine.
run_atlas get --no-queue --json -d "$T/relay" "${PEER[@]}" --relay-only fast.bin
check "relay-only without TURN: exit 0" rc_is 0
check "... and the file is right" file_good "$T/relay/swarm.bin"
fp=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("event") == "finished": print(o["from_peers"])' "$T/out" 2>/dev/null)
if [ "$fp" = 0 ]; then ok "... and no byte came from a peer"
else not_ok "... and no byte came from a peer" "from_peers=$fp"; fi
check "... and it warns that no peer can be reached" err_has "relay-only without --turn"
check "... and the seeder is still alive" kill -0 "$LIAR"
ID="$XDG_DATA_HOME/download-atlas/peer"
if [ "$(stat -c %a "$ID" 2>/dev/null)" = 700 ] && [ -s "$ID/peer-cert.pem" ]; then
    ok "the default identity is made in \$XDG_DATA_HOME/download-atlas/peer, mode 0700"
else
    not_ok "the default identity is made in \$XDG_DATA_HOME/download-atlas/peer, mode 0700" "$(ls -la "$ID" 2>&1)"
fi
stop_seeder "$LIAR"

# ---- 6. get --seed-after --------------------------------------------------------
# The first download finishes from the fast mirror and stays to serve; the
# second one, behind the 256 KiB/s mirror, gets nearly everything from it.
start_leecher g1 fast.bin --seed-after; G1=$LEECH_PID
# timeout(1) would pass a signal on to its whole group, the command twice.
sleep 0.2
G1_ATLAS=$(pgrep -P "$G1" | head -n1)
if WAIT_TENTHS=200 wait_for grep -qs '"event":"seeding"' "$T/g1.json"; then ok "get --seed-after: seeds once complete"
else not_ok "get --seed-after: seeds once complete" "$(tail -n 3 "$T/g1.json")" "$(cat "$T/g1.err")"; fi
start_leecher g2 slow.bin; G2=$LEECH_PID
wait "$G2"; rc=$?
check_leecher g2 $rc "a leecher gets the file from a --seed-after peer, exit 0"
fp=$(finished_field g2 from_peers)
if [ -n "$fp" ] && [ "$fp" != None ] && [ "$fp" -gt $((SIZE / 2)) ]; then ok "... mostly from that peer"
else not_ok "... mostly from that peer" "from_peers=$fp"; fi
kill -TERM "${G1_ATLAS:-$G1}"
wait "$G1"; rc=$?
if [ $rc -eq 0 ] && file_good "$T/g1/swarm.bin"; then ok "get --seed-after: SIGTERM ends seeding with exit 0"
else not_ok "get --seed-after: SIGTERM ends seeding with exit 0" "exit=$rc" "$(cat "$T/g1.err")"; fi

if grep -l 'CRITICAL' "$T"/*.err >/dev/null 2>&1; then
    not_ok "no process logged a CRITICAL" "$(grep -H 'CRITICAL' "$T"/*.err | head -n 5)"
else ok "no process logged a CRITICAL"; fi

# ---- usage -------------------------------------------------------------------
run_atlas get --no-queue -d "$T/u" "$T/swarm.bin.meta4" --seed-after
check "get --seed-after without a tracker is a usage error (exit 2)" rc_is 2
run_atlas get --no-queue -d "$T/u" "${PEER[@]}" --turn 127.0.0.1:3478 "$T/swarm.bin.meta4"
check "--turn without credentials is a usage error (exit 2)" rc_is 2
run_atlas seed --identity "$T/id-err" "$T/swarm.bin.meta4"
check "seed without a tracker is a usage error (exit 2)" rc_is 2

finish
