#!/bin/bash
# The wall clock jumping (days, weeks, a year) under a running `atlas get`
# and under `atlas donate` and its tracker, through libfaketime (Debian
# package faketime) with the offset changed at run time.  The monotonic
# clock is left alone, as the kernel leaves it when the wall clock is set.
# What a user must see: the download finishes in the same time with sane
# speeds and ETAs and no backoff of hours; a donor whose month's budget is
# spent stays spent when the clock goes back a month and forward again (it
# used to get the whole budget again, twice), and a new month does give a
# fresh budget.  (The tracker on a jumping clock: test-faults-tracker.sh.)
# TAP on stdout.
. "$(dirname "$0")/lib.sh"
. "$ATLAS_SOURCE_ROOT/tests/common/atlas-faults-lib.sh"

: "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"

FAKETIME_LIB=${FAKETIME_LIB:-}
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -z "$FAKETIME_LIB" ] && [ -e "$f" ] && FAKETIME_LIB=$f
done
if [ -z "$FAKETIME_LIB" ]; then
    echo "1..1"
    echo "not ok 1 - libfaketime is missing: install the Debian package faketime"
    exit 1
fi

plan 11

# faked CLOCK-FILE : the env(1) arguments that run a command on the wall clock
# CLOCK-FILE says ("+3d", "-35d", "+0"), read again at every call.
faked() {
    echo env "LD_PRELOAD=$FAKETIME_LIB" "FAKETIME_TIMESTAMP_FILE=$1" FAKETIME_NO_CACHE=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 TZ=UTC
}
set_clock() { echo "$2" >"$1.new" && mv "$1.new" "$1"; }

# The wall clock really is faked: a month back is another month.
C0=$T/clock0
set_clock "$C0" "-35d"
if [ "$($(faked "$C0") date -u +%Y-%m)" != "$(date -u +%Y-%m)" ]; then ok "libfaketime moves the wall clock"
else not_ok "libfaketime moves the wall clock" "$($(faked "$C0") date -u)"; fi

SIZE=$((24 * MIB))
mkdir -p "$T/root"
make_file "$T/root/f.bin" 24
GOOD=$(sha256_of "$T/root/f.bin")
make_file "$T/root/donated.bin" 8
start_mirror "$T/root" "$T/mirror.log"

# ---- 1. a download while the clock jumps ----------------------------------------
# A 6 MiB/s mirror (4 s for the file), one that answers 503 + Retry-After
# and one that is dead: retries and backoff run during the jumps.
make_meta4 "$T/root/f.bin" f.bin "$T/f.meta4" "$BASE/rate=6M/f.bin" "$BASE/status=503/f.bin" \
    "http://127.0.0.1:9/f.bin"
C1=$T/clock1
set_clock "$C1" "+0"
read -r -a GET_WRAPPER <<<"$(faked "$C1")"
start=$(date +%s%N)
start_get jump --queue-file "$T/jump.sqlite" -d "$T/dl" "$T/f.meta4"
WAIT_TENTHS=100 wait_for past jump $((SIZE / 5)) && set_clock "$C1" "+3d"
WAIT_TENTHS=100 wait_for past jump $((SIZE * 2 / 5)) && set_clock "$C1" "-3d"
WAIT_TENTHS=100 wait_for past jump $((SIZE * 3 / 5)) && set_clock "$C1" "-400d"
WAIT_TENTHS=100 wait_for past jump $((SIZE * 4 / 5)) && set_clock "$C1" "+0"
WAIT_TENTHS=300 wait_pid "$GET_PID"; rc=$?
GET_WRAPPER=(env)
ms=$((($(date +%s%N) - start) / 1000000))
diag "download through 4 clock jumps: exit $rc in $ms ms"
if [ $rc -eq 0 ] && [ "$(sha256_of "$T/dl/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "the clock jumps ±days and a year back: the download completes, right file, exit 0"
else
    not_ok "the clock jumps ±days and a year back: the download completes, right file, exit 0" "exit $rc" "$(tail -n 3 "$T/jump.err")"
fi
# 4 s of transfer at 6 MiB/s; a stall or a backoff measured on the wall clock
# would take days.
if [ "$ms" -lt 12000 ]; then ok "... in about the time it needs ($ms ms)"
else not_ok "... in about the time it needs" "$ms ms"; fi
MAX_SPEED=$(json_events "$T/jump.json" progress speed | sort -n | tail -n1)
MAX_ETA=$(json_events "$T/jump.json" progress eta | sort -n | tail -n1)
diag "largest speed reported $MAX_SPEED B/s, largest ETA $MAX_ETA s"
if [ -n "$MAX_SPEED" ] && [ "$MAX_SPEED" -le $((3 * 6 * MIB)) ] && [ "$MAX_SPEED" -gt 0 ] &&
    [ "$MAX_ETA" -le 60 ]; then
    ok "... every speed and ETA it reported stayed sane (<= $((3 * 6)) MiB/s, <= 60 s)"
else
    not_ok "... every speed and ETA it reported stayed sane" "speed $MAX_SPEED, eta $MAX_ETA"
fi
LONGEST=$(grep -o 'retrying in [0-9]* s' "$T/jump.json" | grep -o '[0-9]*' | sort -n | tail -n1)
if [ "${LONGEST:-0}" -le 60 ]; then ok "... and no retry waited more than a minute (longest ${LONGEST:-0} s)"
else not_ok "... and no retry waited more than a minute" "longest $LONGEST s"; fi

# ---- 2. the tracker and a donor on a jumping clock --------------------------------
C2=$T/clock2
set_clock "$C2" "+0"
read -r -a FAKED2 <<<"$(faked "$C2")"
DB="$T/tracker.sqlite"
new_token() {
    "$ATLAS_TRACKER" token add --database "$DB" --role "$1" --name "$2" 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1
}
UP=$(new_token uploader up)
new_token downloader down >"$T/token"
"${FAKED2[@]}" "$ATLAS_TRACKER" serve --database "$DB" --listen 127.0.0.1:0 >"$T/tracker.out" 2>"$T/tracker.err" &
track_pid $!
tracker_port() { cat "$T/tracker.out" "$T/tracker.err" | sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' | head -n1; }
tracker_up() { [ -n "$(tracker_port)" ]; }
if ! WAIT_TENTHS=100 wait_for tracker_up; then
    echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
    exit 1
fi
TRACKER="http://127.0.0.1:$(tracker_port)"
ATLAS_TRACKER_TOKEN=$UP run_atlas publish "$T/root/donated.bin" --tracker "$TRACKER" \
    --name donated.bin --mirror "$BASE/rate=4M/donated.bin" --output "$T/donated.meta4" -q
rc_is 0 || { echo "Bail out! publish failed: $(cat "$T/err")"; exit 1; }

# The one 1 MiB piece the tracker assigns with nobody downloading yet spends
# it: the donor keeps 512 KiB of margin and calls less than 64 KiB left spent.
BUDGET=$((MIB + 544 * 1024))
"${FAKED2[@]}" "$ATLAS" donate --json --interval 100 --tracker "$TRACKER" --token-file "$T/token" \
    --local-address 127.0.0.1 --cache "$T/cache" --ignore-metered --ignore-power-saver \
    --storage $((6 * MIB)) --budget "$BUDGET" --cause donated.bin >"$T/donor.json" 2>"$T/donor.err" &
track_pid $!
jfield() { tail -n1 "$T/donor.json" | grep -o "\"$1\":[0-9a-z\"]*" | head -n1 | cut -d: -f2 | tr -d '"'; }
spent() { [ "$(jfield pause_reason)" = budget ]; }
used() { echo $(($(jfield uploaded_month) + $(jfield fetched_month))); }
WAIT_TENTHS=300 wait_for spent
U0=$(used)
S0=$(jfield storage_used)
diag "donor: budget spent with $U0 bytes, $S0 held"
if spent && [ "$U0" -le "$BUDGET" ]; then ok "the donor spends its month's budget and pauses for it"
else not_ok "the donor spends its month's budget and pauses for it" "$(tail -n 1 "$T/donor.json")" "$(tail -n 3 "$T/donor.err")"; fi

# A month back (another calendar month), then the right time again.
N=$(log_lines "$MIRROR_LOG")
set_clock "$C2" "-35d"
sleep 2
S1=$(jfield storage_used)
set_clock "$C2" "+0"
sleep 2
diag "after a month back and forth: $(used) bytes this month, $(jfield storage_used) held, reason $(jfield pause_reason)"
if spent && [ "$(used)" -ge "$U0" ] && [ "$(served_since "$N")" -eq 0 ] && [ "$S1" = "$S0" ]; then
    ok "the clock a month back and forth: still out of budget, nothing more fetched"
else
    not_ok "the clock a month back and forth: still out of budget, nothing more fetched" \
        "used $(used) (was $U0), fetched $(served_since "$N") bytes, held $S1 then $(jfield storage_used) (was $S0)"
fi

# Next month: a fresh budget, so the donor fetches again.
N=$(log_lines "$MIRROR_LOG")
set_clock "$C2" "+40d"
new_month() { ! spent && [ "$(used)" -lt "$U0" ]; }
if WAIT_TENTHS=50 wait_for new_month; then ok "a new month gives a fresh budget"
else not_ok "a new month gives a fresh budget" "$(tail -n 1 "$T/donor.json")"; fi
fetches() { [ "$(served_since "$N")" -gt 0 ]; }
if WAIT_TENTHS=100 wait_for fetches; then ok "... and the donor fetches again ($(served_since "$N") bytes from the mirror)"
else not_ok "... and the donor fetches again" "$(tail -n 1 "$T/donor.json")"; fi

# The ledger file says the new month.
if grep -qx "month=$($(faked "$C2") date -u +%Y-%m)" "$T/cache/budget.ini"; then
    ok "the ledger on disk is the new month's"
else
    not_ok "the ledger on disk is the new month's" "$(cat "$T/cache/budget.ini")"
fi

if no_critical "$T"/*.err; then ok "no process logged a CRITICAL or crashed"
else not_ok "no process logged a CRITICAL or crashed" "$(grep -HE 'CRITICAL|Segmentation|Aborted' "$T"/*.err | head -n 5)"; fi

finish
