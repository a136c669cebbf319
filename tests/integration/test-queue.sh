#!/bin/bash
# The persistent queue: add/list/pause/resume/run/remove, duplicate adds,
# unknown ids, and a second process finding the queue busy.
. "$(dirname "$0")/lib.sh"

plan 27

mkdir -p "$T/root" "$T/dl"
make_file "$T/root/q.bin" 4
make_file "$T/root/s.bin" 16
GOOD=$(sha256_of "$T/root/q.bin")
start_mirror "$T/root" "$T/mirror.log"
Q="$T/queue.sqlite"
URL="$BASE/-/q.bin"

# state_of ID : the state column of `atlas list` for ID ("" if not listed).
state_of() {
    run_atlas list --queue-file "$Q"
    awk -v id="$1" '$1 == id { print $2 }' "$T/out"
}

# --- 4. queue commands -------------------------------------------------------------
run_atlas add --queue-file "$Q" -d "$T/dl" "$URL"
ID=$(head -n1 "$T/out")
if [ "$RC" -eq 0 ] && printf '%s' "$ID" | grep -Eq '^[0-9]+$'; then ok "atlas add prints an id ($ID)"
else not_ok "atlas add prints an id" "status $RC" "$(cat "$T/out" "$T/err")"; ID=1; fi
if [ -e "$T/dl/q.bin" ] || [ -e "$T/dl/q.bin.part" ] || [ "$(log_lines "$T/mirror.log")" -ne 0 ]; then
    not_ok "atlas add transfers nothing" "$(ls -la "$T/dl")" "$(cat "$T/mirror.log")"
else ok "atlas add transfers nothing"; fi

st=$(state_of "$ID")
if [ "$RC" -eq 0 ] && [ "$st" = queued ] && grep -q 'q\.bin' "$T/out"; then ok "atlas list shows it queued"
else not_ok "atlas list shows it queued" "state '$st'" "$(cat "$T/out" "$T/err")"; fi

# Documented: "A file already queued at the same path prints its existing id."
run_atlas add --queue-file "$Q" -d "$T/dl" "$URL"
if [ "$RC" -eq 0 ] && [ "$(head -n1 "$T/out")" = "$ID" ]; then ok "adding the same URL/output again prints the existing id"
else not_ok "adding the same URL/output again prints the existing id" "status $RC" "$(cat "$T/out" "$T/err")"; fi
check "…and says it was already in the queue" err_has 'already in the queue'
run_atlas list --queue-file "$Q"
n=$(awk '$1 ~ /^[0-9]+$/' "$T/out" | wc -l)
if [ "$n" -eq 1 ]; then ok "the queue still holds one download"
else not_ok "the queue still holds one download" "$(cat "$T/out")"; fi

run_atlas pause --queue-file "$Q" "$ID"
check "atlas pause ID exits 0 and prints 'ID paused'" eval '[ "$RC" -eq 0 ] && grep -q "^$ID paused\$" "$T/out"'
st=$(state_of "$ID")
if [ "$st" = paused ]; then ok "atlas list shows it paused"; else not_ok "atlas list shows it paused" "state '$st'"; fi

# A paused download stays paused through `atlas run`.
run_atlas run --queue-file "$Q"
if [ "$RC" -eq 0 ] && [ ! -e "$T/dl/q.bin" ] && [ "$(state_of "$ID")" = paused ]; then
    ok "atlas run leaves a paused download alone"
else
    not_ok "atlas run leaves a paused download alone" "status $RC" "$(ls -la "$T/dl")"
fi

run_atlas resume --queue-file "$Q" "$ID"
check "atlas resume ID exits 0 and prints 'ID queued'" eval '[ "$RC" -eq 0 ] && grep -q "^$ID queued\$" "$T/out"'
st=$(state_of "$ID")
if [ "$st" = queued ]; then ok "atlas list shows it queued again"; else not_ok "atlas list shows it queued again" "state '$st'"; fi

run_atlas run --queue-file "$Q"
check "atlas run exits 0" rc_is 0
if [ "$(sha256_of "$T/dl/q.bin" 2>/dev/null)" = "$GOOD" ]; then ok "atlas run completed the file correctly"
else not_ok "atlas run completed the file correctly" "$(ls -la "$T/dl")"; fi
st=$(state_of "$ID")
if [ "$st" = complete ]; then ok "atlas list shows it complete"; else not_ok "atlas list shows it complete" "state '$st'"; fi

run_atlas remove --queue-file "$Q" "$ID"
check "atlas remove ID exits 0" rc_is 0
st=$(state_of "$ID")
if [ "$RC" -eq 0 ] && [ -z "$st" ]; then ok "atlas list no longer shows it"
else not_ok "atlas list no longer shows it" "$(cat "$T/out" "$T/err")"; fi
if [ -f "$T/dl/q.bin" ]; then ok "remove without --delete-files keeps the file"
else not_ok "remove without --delete-files keeps the file"; fi

run_atlas pause --queue-file "$Q" 4242
check "an unknown id exits 6" rc_is 6
check "…with a message naming the id" err_has 4242

# --- 3. queue busy -------------------------------------------------------------------
run_atlas add --queue-file "$Q" -d "$T/dl" "$BASE/rate=4M/s.bin"
SID=$(head -n1 "$T/out")
"$ATLAS" run --queue-file "$Q" >"$T/bg.out" 2>"$T/bg.err" &
RUN_PID=$!
track_pid "$RUN_PID"
# wait until the transfer is under way (the mirror has been asked for s.bin)
WAIT_TENTHS=100 wait_for grep -q 's\.bin' "$T/mirror.log" || WAIT_TENTHS=30 wait_for test -e "$T/dl/s.bin.part"
sleep 1

run_atlas list --queue-file "$Q"
check "atlas list while 'atlas run' owns the queue exits 5" rc_is 5
if grep -qi 'in use\|owns the queue\|busy' "$T/err" && grep -q "$RUN_PID" "$T/err"; then
    ok "…and says the queue is in use, naming the owner's pid $RUN_PID"
else
    not_ok "…and says the queue is in use, naming the owner's pid $RUN_PID" "$(cat "$T/err")"
fi

if kill -0 "$RUN_PID" 2>/dev/null; then WAS_RUNNING=1; else WAS_RUNNING=0; fi
kill -TERM "$RUN_PID" 2>/dev/null
i=0; while kill -0 "$RUN_PID" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
wait "$RUN_PID" 2>/dev/null
RC=$?
if [ "$WAS_RUNNING" -eq 1 ] && { [ "$RC" -eq 130 ] || [ "$RC" -eq 0 ]; }; then ok "atlas run stops cleanly on SIGTERM (status $RC)"
else not_ok "atlas run stops cleanly on SIGTERM" "status $RC, was running: $WAS_RUNNING" "$(cat "$T/bg.err")"; fi

run_atlas list --queue-file "$Q" --json
st=$(json_field "$T/out" "$SID" state)
done_b=$(json_field "$T/out" "$SID" completed)
if [ "$RC" -eq 0 ] && { [ "$st" = queued ] || [ "$st" = paused ]; }; then
    ok "after SIGTERM atlas list works and shows the download $st"
else
    not_ok "after SIGTERM atlas list works and shows the download queued/paused" "status $RC" "$(cat "$T/out" "$T/err")"
fi
if [ -n "$done_b" ] && [ "$done_b" -gt 0 ] && [ "$done_b" -lt $((16 * MIB)) ]; then
    ok "…with its progress kept ($done_b bytes)"
else
    not_ok "…with its progress kept" "completed '$done_b'" "$(cat "$T/out")"
fi

# --- atlas get while another download is queued ----------------------------------
# `atlas get` starts the session, so the other queued download runs too and is
# still finishing when get's own file is done and the session closes.  Neither
# may suffer: get exits 0 without crashing, and a later `atlas run` leaves a
# correct o.bin.  Racy, so tried a few times (each ~1 s).
make_file "$T/root/r.bin" 4
make_file "$T/root/o.bin" 4
OGOOD=$(sha256_of "$T/root/o.bin")
RGOOD=$(sha256_of "$T/root/r.bin")
get_fail="" run_fail=""
for k in 1 2 3 4 5; do
    Q2="$T/queue-other-$k.sqlite"
    D2="$T/dl-other-$k"
    run_atlas add --queue-file "$Q2" -d "$D2" "$BASE/-/o.bin"
    run_atlas get --queue-file "$Q2" -d "$D2" "$BASE/-/r.bin"
    if [ "$RC" -ne 0 ] || grep -q 'GLib-ERROR' "$T/err" || [ "$(sha256_of "$D2/r.bin" 2>/dev/null)" != "$RGOOD" ]; then
        [ -n "$get_fail" ] || get_fail="try $k: atlas get exited $RC: $(grep -v CRITICAL "$T/err" | head -c 400)"
    fi
    run_atlas run --queue-file "$Q2"
    if [ "$RC" -ne 0 ] || [ "$(sha256_of "$D2/o.bin" 2>/dev/null)" != "$OGOOD" ]; then
        [ -n "$run_fail" ] || run_fail="try $k: atlas run exited $RC, o.bin $( [ -e "$D2/o.bin" ] && echo "has $(tr -d '\0' <"$D2/o.bin" | wc -c) non-zero bytes" || echo missing): $(grep -v CRITICAL "$T/out" "$T/err" | head -c 400)"
    fi
done
if [ -z "$get_fail" ]; then ok "atlas get with another download queued exits 0 without crashing (5 tries)"
else not_ok "atlas get with another download queued exits 0 without crashing (5 tries)"; diag "$get_fail"; fi
if [ -z "$run_fail" ]; then ok "…and the other download ends complete and correct after atlas run (5 tries)"
else not_ok "…and the other download ends complete and correct after atlas run (5 tries)"; diag "$run_fail"; fi

# --- what the user sees on stderr of a plain queue command ---------------------------
run_atlas list --queue-file "$Q"
if [ "$RC" -eq 0 ] && ! grep -q 'CRITICAL\|WARNING' "$T/err"; then
    ok "atlas list prints no GLib warnings"
else
    not_ok "atlas list prints no GLib warnings"
    diag "$(head -c 300 "$T/err")"
fi

finish
