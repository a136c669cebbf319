#!/bin/bash
# The .part file truncated or deleted underneath `atlas get`, while it runs
# and while it is stopped.  What a user must see: never a wrong file in place
# and never exit 0 without the right file; a clear error naming the .part
# when the run cannot go on; and on the next run the download completes,
# fetching again only what was lost (the intact pieces are kept).  TAP.
. "$(dirname "$0")/lib.sh"
. "$ATLAS_SOURCE_ROOT/tests/common/atlas-faults-lib.sh"

plan 15

SIZE_MIB=24
SIZE=$((SIZE_MIB * MIB))
SLACK=$((3 * MIB)) # pieces in flight when the run stopped may come again
mkdir -p "$T/root"
make_file "$T/root/f.bin" $SIZE_MIB
GOOD=$(sha256_of "$T/root/f.bin")
start_mirror "$T/root" "$T/mirror.log"
# About 4 s for the whole file: time to act in the middle of it.
make_meta4 "$T/root/f.bin" f.bin "$T/f.meta4" "$BASE/rate=6M/f.bin"

# run_to NAME DIR FRACTION-PERCENT : starts a queued `atlas get` into DIR and
# waits (≤ 20 s) until it reports FRACTION % done.
run_to() {
    start_get "$1" --queue-file "$T/$1.sqlite" -d "$2" "$T/f.meta4"
    WAIT_TENTHS=200 wait_for past "$1" $((SIZE * $3 / 100))
}
# stop_get : SIGTERM, as Ctrl-C; atlas keeps its progress and exits 130.
stop_get() {
    kill -TERM "$GET_PID" 2>/dev/null
    WAIT_TENTHS=100 wait_pid "$GET_PID"
}
# again NAME DIR : the same command in the foreground; sets RC.
again() {
    START_LINE=$(log_lines "$MIRROR_LOG")
    timeout -k 5 60 "$ATLAS" get --json --queue-file "$T/$1.sqlite" -d "$2" "$T/f.meta4" \
        >"$T/$1-again.json" 2>"$T/$1-again.err"
    RC=$?
    wait_mirror_idle || diag "mirror still busy after 10 s"
}

# ---- 1. truncated while stopped ---------------------------------------------
# The first 5 MiB survive; everything after them is gone.  Before the fix
# the resumed run trusted the recorded pieces, failed the whole-file hash
# with "check the expected hash or the mirrors", and every later run failed
# the same way.
D=$T/d1
run_to t1 "$D" 50
stop_get; rc=$?
run_atlas list --queue-file "$T/t1.sqlite" --json
KEPT=$(json_field "$T/out" 1 completed)
diag "stopped with status $rc at $KEPT bytes"
if [ "$rc" -eq 130 ] && [ -n "$KEPT" ] && [ "$KEPT" -gt $((8 * MIB)) ]; then
    ok "stopped at ${KEPT} bytes (more than 8 MiB verified), exit 130"
else
    not_ok "stopped with more than 8 MiB verified, exit 130" "status $rc, completed '$KEPT'" "$(tail -n 3 "$T/t1.err")"
    KEPT=$((8 * MIB))
fi
truncate -s $((5 * MIB)) "$D/f.bin.part"
again t1 "$D"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$D/f.bin" 2>/dev/null)" = "$GOOD" ] && [ ! -e "$D/f.bin.part" ]; then
    ok "truncated while stopped: the next run completes with the right file, exit 0"
else
    not_ok "truncated while stopped: the next run completes with the right file, exit 0" "status $RC" "$(tail -n 3 "$T/t1-again.err")"
fi
if grep -q '"level":"warning".*no longer match their hash on disk' "$T/t1-again.json"; then
    ok "... and its log says verified pieces no longer match on disk"
else
    not_ok "... and its log says verified pieces no longer match on disk" "$(grep '"event":"log"' "$T/t1-again.json" | tail -n 5)"
fi
SERVED=$(served_since "$START_LINE")
LIMIT=$((SIZE - 5 * MIB + SLACK))
diag "served on the second run: $SERVED bytes (limit $LIMIT: the first 5 MiB survived)"
if [ "$SERVED" -le "$LIMIT" ] && [ "$SERVED" -ge $((SIZE - KEPT)) ]; then
    ok "... fetching again only what the truncation destroyed ($SERVED <= $LIMIT bytes)"
else
    not_ok "... fetching again only what the truncation destroyed" "served $SERVED, limit $LIMIT, missing before $((SIZE - KEPT))"
fi

# ---- 2. deleted while stopped -------------------------------------------------
D=$T/d2
run_to t2 "$D" 40
stop_get; rc=$?
rm -f "$D/f.bin.part"
again t2 "$D"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$D/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "deleted while stopped: the next run completes with the right file, exit 0"
else
    not_ok "deleted while stopped: the next run completes with the right file, exit 0" "stop status $rc, status $RC" "$(tail -n 3 "$T/t2-again.err")"
fi
if grep -q '"level":"warning".*was missing; fetching its [0-9]* verified pieces again' "$T/t2-again.json"; then
    ok "... and its log says the partial file was missing"
else
    not_ok "... and its log says the partial file was missing" "$(grep '"event":"log"' "$T/t2-again.json" | tail -n 5)"
fi
SERVED=$(served_since "$START_LINE")
if [ "$SERVED" -ge "$SIZE" ]; then ok "... and the whole file was fetched again ($SERVED bytes)"
else not_ok "... and the whole file was fetched again" "served $SERVED < $SIZE: bytes trusted that were gone"; fi

# ---- 3. truncated while running -----------------------------------------------
# The writer keeps its descriptor; later pieces land past the new end, the
# truncated ones read back as zeros.
D=$T/d3
run_to t3 "$D" 40
truncate -s 0 "$D/f.bin.part"
WAIT_TENTHS=300 wait_pid "$GET_PID"; rc=$?
diag "truncated while running: exit $rc: $(tail -n 1 "$T/t3.err")"
if no_wrong_file "$D/f.bin" "$GOOD" && { [ "$rc" -ne 0 ] || [ -e "$D/f.bin" ]; }; then
    ok "truncated while running: no wrong file in place, no exit 0 without the file (exit $rc)"
else
    not_ok "truncated while running: no wrong file in place, no exit 0 without the file" "exit $rc" "$(ls -la "$D")"
fi
if [ "$rc" -eq 0 ] || grep -q "f.bin.part" "$T/t3.err"; then ok "... a failure names the .part file"
else not_ok "... a failure names the .part file" "$(cat "$T/t3.err")"; fi
again t3 "$D"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$D/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "... and the next run ends with the right file, exit 0"
else
    not_ok "... and the next run ends with the right file, exit 0" "status $RC" "$(tail -n 3 "$T/t3-again.err")"
fi

# ---- 4. deleted while running -------------------------------------------------
D=$T/d4
run_to t4 "$D" 40
rm -f "$D/f.bin.part"
WAIT_TENTHS=300 wait_pid "$GET_PID"; rc=$?
diag "deleted while running: exit $rc: $(tail -n 1 "$T/t4.err")"
if no_wrong_file "$D/f.bin" "$GOOD" && { [ "$rc" -ne 0 ] || [ -e "$D/f.bin" ]; }; then
    ok "deleted while running: no wrong file in place, no exit 0 without the file (exit $rc)"
else
    not_ok "deleted while running: no wrong file in place, no exit 0 without the file" "exit $rc" "$(ls -la "$D")"
fi
if [ "$rc" -eq 0 ] || grep -q "f.bin.part" "$T/t4.err"; then ok "... a failure names the .part file"
else not_ok "... a failure names the .part file" "$(cat "$T/t4.err")"; fi
run_atlas list --queue-file "$T/t4.sqlite" --json
case $(json_field "$T/out" 1 state) in
    failed|queued|paused|complete) ok "... the queue keeps the download ($(json_field "$T/out" 1 state))" ;;
    *) not_ok "... the queue keeps the download" "$(cat "$T/out" "$T/err")" ;;
esac
again t4 "$D"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$D/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "... and the next run ends with the right file, exit 0"
else
    not_ok "... and the next run ends with the right file, exit 0" "status $RC" "$(tail -n 3 "$T/t4-again.err")"
fi

if no_critical "$T"/*.err; then ok "no run logged a CRITICAL or crashed"
else not_ok "no run logged a CRITICAL or crashed" "$(grep -HE 'CRITICAL|Segmentation|Aborted' "$T"/*.err | head -n 5)"; fi

finish
