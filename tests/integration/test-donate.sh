#!/bin/bash
# Donation from the command line: a real atlas-tracker, the test mirror and
# two `atlas donate` processes on 127.0.0.1, then two `atlas get NAME`
# downloaders.  What a user notices: right files; each donor's cache on disk
# (allocated blocks as du counts them, sampled every 100 ms) never above its --storage; upload never above
# --upload beyond one burst in any 1 s window (from the donors' --json lines,
# 100 ms apart); a small --budget never overspent, reported as "budget", and
# remembered by a donor killed with SIGKILL and restarted, which keeps its
# cache while paused and fetches nothing more; clear errors for
# bad sizes, an unreachable tracker and a refused token.  TAP on stdout.
. "$(dirname "$0")/lib.sh"

: "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"

plan 17

STORAGE=$((3 * MIB))
UPLOAD=$((1 * MIB))
BUDGET=$((5 * MIB / 2))
mkdir -p "$T/root" "$T/a" "$T/b"
make_file "$T/root/donated.bin" 8
GOOD=$(sha256_of "$T/root/donated.bin")
start_mirror "$T/root" "$T/mirror.log"
unset ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN
cd "$T" || exit 99

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
echo "$DOWN" >"$T/token"
echo "not-a-token-not-a-token-not-a-token-not-a-token" >"$T/bad-token"

"$ATLAS_TRACKER" serve --database "$DB" --listen 127.0.0.1:0 >"$T/tracker.out" 2>>"$T/tracker.err" &
TRACKER_PID=$!
track_pid "$TRACKER_PID"
tracker_port() { sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/tracker.out" | head -n1; }
tracker_up() { [ -n "$(tracker_port)" ]; }
if ! wait_for tracker_up; then
    echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
    exit 1
fi
TRACKER="http://127.0.0.1:$(tracker_port)"

# A 1 MiB/s mirror: the downloaders get much of the file from the donors.
ATLAS_TRACKER_TOKEN=$UP run_atlas publish "$T/root/donated.bin" --tracker "$TRACKER" \
    --name donated.bin --mirror "$BASE/rate=1M/donated.bin" --output "$T/donated.meta4" -q
if ! rc_is 0; then
    echo "Bail out! publish failed: $(cat "$T/err")"
    exit 1
fi
ENTRY=$GOOD

# ---- errors ---------------------------------------------------------------------
run_atlas donate --tracker "$TRACKER" --token-file "$T/token" --storage 12Q
bad_size() { rc_is 2 && err_has "12Q"; }
check "a bad size is a usage error that names it" bad_size

timeout 4 "$ATLAS" donate --tracker http://127.0.0.1:9 --token-file "$T/token" --storage 1M \
    --cache "$T/unreachable" >"$T/out" 2>"$T/err"
RC=$?
retried() { rc_is 124 && err_has "no connection to the tracker"; }
check "an unreachable tracker is retried and said so" retried

run_atlas donate --tracker "$TRACKER" --token-file "$T/bad-token" --storage 1M --cache "$T/refused"
refused() { ! rc_is 0 && err_has "refused"; }
check "a refused token ends donate with an error" refused

# ---- two donors -------------------------------------------------------------------
jfield() { tail -n1 "$1" | grep -o "\"$2\":[0-9a-z\"]*" | head -n1 | cut -d: -f2 | tr -d '"'; }

# start_donor NAME ARGS… : sets DONOR_PID; JSON lines in $T/NAME.json.
start_donor() {
    local name=$1; shift
    "$ATLAS" donate --json --interval 100 --tracker "$TRACKER" --token-file "$T/token" \
        --local-address 127.0.0.1 --cache "$T/cache-$name" --ignore-metered \
        --ignore-power-saver "$@" >>"$T/$name.json" 2>>"$T/$name.err" &
    DONOR_PID=$!
    track_pid "$DONOR_PID"
}
start_donor a --storage "$STORAGE" --upload "$UPLOAD" --cause donated.bin
A_PID=$DONOR_PID
start_donor b --storage "$STORAGE" --upload "$UPLOAD" --budget "$BUDGET" --cause "$ENTRY"
B_PID=$DONOR_PID

# du of each cache's files every 100 ms, for the whole run.
(
    while :; do
        for d in a b; do
            # The files' allocated blocks (what du counts), without the directory's own.
            [ -d "$T/cache-$d/files" ] &&
                echo "$d $(find "$T/cache-$d/files" -type f -exec stat -c %b {} + | awk '{ s += $1 * 512 } END { print s + 0 }')"
        done
        sleep 0.1
    done
) >"$T/du.log" 2>/dev/null &
track_pid $!

a_full() { [ "$(jfield "$T/a.json" storage_used)" = "$STORAGE" ]; }
WAIT_TENTHS=300 wait_for a_full
check "donor a fills its cache up to --storage" a_full

b_spent() { [ "$(jfield "$T/b.json" pause_reason)" = "budget" ]; }
WAIT_TENTHS=300 wait_for b_spent
check "donor b stops at its budget and says why" b_spent
b_used() { echo $(($(jfield "$T/b.json" uploaded_month) + $(jfield "$T/b.json" fetched_month))); }
B_USED=$(b_used)
diag "donor b: $B_USED bytes of a $BUDGET budget"
within_budget() { [ "$B_USED" -le "$BUDGET" ] && [ "$B_USED" -gt "$MIB" ]; }
check "donor b never overspent its budget" within_budget

# ---- downloaders ----------------------------------------------------------------
for i in 1 2; do
    mkdir -p "$T/dl$i"
    (cd "$T/dl$i" && ATLAS_TRACKER_TOKEN=$DOWN timeout -k 5 60 "$ATLAS" get donated.bin \
        --tracker "$TRACKER" --local-address 127.0.0.1 --identity "$T/id-dl$i" --no-queue -d "$T/dl$i" --json \
        >"$T/dl$i.json" 2>"$T/dl$i.err"; echo $? >"$T/dl$i.rc") &
done
wait_rc() { [ -s "$T/dl1.rc" ] && [ -s "$T/dl2.rc" ]; }
WAIT_TENTHS=700 wait_for wait_rc
for i in 1 2; do
    check "downloader $i exits 0" [ "$(cat "$T/dl$i.rc" 2>/dev/null)" = 0 ]
    check "downloader $i has the right file" [ "$(sha256_of "$T/dl$i/donated.bin")" = "$GOOD" ]
done
SERVED=$(jfield "$T/a.json" bytes_served)
diag "donor a served $SERVED bytes"
check "donor a served the downloaders" [ "${SERVED:-0}" -gt 0 ]

# ---- the caps over the whole run ------------------------------------------------
MAX_DU=$(awk '{ if ($2 > m[$1]) m[$1] = $2 } END { print (m["a"] > m["b"] ? m["a"] : m["b"]) + 0 }' "$T/du.log")
diag "largest cache on disk: $MAX_DU bytes in $(wc -l <"$T/du.log") samples (cap $STORAGE)"
check "no cache was ever above --storage on disk" [ "$MAX_DU" -le "$STORAGE" ]

# Every pair of samples at most 1 s apart: sent <= cap + one burst (1/8 s of
# the cap) + one block (256 KiB at most).
window_max() {
    sed -n 's/.*"time_ms":\([0-9]*\).*"bytes_served":\([0-9]*\).*/\1 \2/p' "$1" |
        awk '{ t[NR] = $1; b[NR] = $2 }
             END { m = 0; for (i = 1; i <= NR; i++) for (j = i + 1; j <= NR && t[j] - t[i] <= 1000; j++)
                     if (b[j] - b[i] > m) m = b[j] - b[i]; print m }'
}
LIMIT=$((UPLOAD + UPLOAD / 8 + 256 * 1024))
for d in a b; do
    W=$(window_max "$T/$d.json")
    diag "donor $d: at most $W bytes in any 1 s window (limit $LIMIT)"
    check "donor $d never uploaded above --upload beyond one burst" [ "$W" -le "$LIMIT" ]
done

# ---- a donor killed and restarted remembers its budget ------------------------------
B_STORED=$(jfield "$T/b.json" storage_used)
B_FETCHED=$(jfield "$T/b.json" fetched_month)
kill -KILL "$B_PID"
wait "$B_PID" 2>/dev/null
: >"$T/b2.json"
"$ATLAS" donate --json --interval 100 --tracker "$TRACKER" --token-file "$T/token" \
    --local-address 127.0.0.1 --cache "$T/cache-b" --ignore-metered --ignore-power-saver \
    --storage "$STORAGE" --upload "$UPLOAD" --budget "$BUDGET" --cause "$ENTRY" \
    >"$T/b2.json" 2>"$T/b2.err" &
B2_PID=$!
track_pid "$B2_PID"
b2_spent() { [ "$(jfield "$T/b2.json" pause_reason)" = "budget" ]; }
WAIT_TENTHS=50 wait_for b2_spent
sleep 2
B2_FETCHED=$(jfield "$T/b2.json" fetched_month)
B2_STORED=$(jfield "$T/b2.json" storage_used)
diag "donor b: $B_STORED bytes held when killed, $B2_STORED after the restart"
check "the restarted donor is still out of budget" b2_spent
# A budget pause keeps the cache (for next month) and fetches nothing.
nothing_more() { [ "${B2_FETCHED:-0}" -le "${B_FETCHED:-0}" ] && [ "${B2_STORED:-x}" = "${B_STORED:-y}" ]; }
check "and fetched nothing more, keeping its cache" nothing_more

kill -TERM "$A_PID" "$B2_PID"
A_RC=0
wait "$A_PID" || A_RC=$?
check "SIGTERM ends donate with status 0" [ "$A_RC" -eq 0 ]
finish
