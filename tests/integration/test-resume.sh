#!/bin/bash
# kill -9 in the middle of `atlas get`, then the same command again: the
# download resumes from the queue and no verified piece is fetched twice.
. "$(dirname "$0")/lib.sh"

plan 12

SIZE_MIB=48
SLACK=$((2 * MIB))      # pieces in flight at the kill may be fetched again
mkdir -p "$T/root" "$T/dl"
make_file "$T/root/b.bin" $SIZE_MIB
SIZE=$((SIZE_MIB * MIB))
GOOD=$(sha256_of "$T/root/b.bin")
start_mirror "$T/root" "$T/mirror.log"
make_meta4 "$T/root/b.bin" b.bin "$T/b.meta4" "$BASE/rate=8M/b.bin"
Q="$T/queue.sqlite"

"$ATLAS" get --queue-file "$Q" -d "$T/dl" "$T/b.meta4" >"$T/bg.out" 2>"$T/bg.err" &
GET_PID=$!
track_pid "$GET_PID"
# ~6 s at 8 MiB/s: let it get going, then kill it about halfway.
WAIT_TENTHS=100 wait_for test -e "$T/dl/b.bin.part"
sleep 2.5
kill -KILL "$GET_PID" 2>/dev/null
wait "$GET_PID" 2>/dev/null
RC=$?
if [ "$RC" -eq 137 ]; then ok "atlas get was killed mid-download (status 137)"
else not_ok "atlas get was killed mid-download (status 137)" "status $RC (finished too early?)" "$(cat "$T/bg.out" "$T/bg.err")"; fi

if [ -e "$T/dl/b.bin.part" ] && [ ! -e "$T/dl/b.bin" ]; then
    ok "after kill -9: the .part exists and the final file does not"
else
    not_ok "after kill -9: the .part exists and the final file does not" "$(ls -la "$T/dl")"
fi

# Every request of the dead process must be in the mirror log before we count.
wait_mirror_idle || diag "mirror still busy after 10 s"
BEFORE_LINES=$(log_lines "$T/mirror.log")

run_atlas list --queue-file "$Q" --json
check "atlas list --json after the crash exits 0" rc_is 0
cp "$T/out" "$T/list.json"
COMPLETED=$(json_field "$T/list.json" 1 completed)
LSIZE=$(json_field "$T/list.json" 1 size)
LSTATE=$(json_field "$T/list.json" 1 state)
diag "after the crash: state=$LSTATE completed=$COMPLETED size=$LSIZE"
if [ -n "$COMPLETED" ] && [ "$COMPLETED" -gt 0 ] && [ "$COMPLETED" -lt "$SIZE" ] && [ "$LSIZE" = "$SIZE" ]; then
    ok "the queue kept partial progress (0 < completed < size)"
else
    not_ok "the queue kept partial progress (0 < completed < size)" "$(cat "$T/list.json")"
    COMPLETED=0
fi
case $LSTATE in
    queued|paused|failed) ok "the interrupted download is listed as resumable ($LSTATE)" ;;
    *) not_ok "the interrupted download is listed as resumable" "state '$LSTATE'" ;;
esac

run_atlas list --queue-file "$Q"
pct=$(awk '$1 == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+%$/) print $i }' "$T/out" | tr -d '%')
if [ -n "$pct" ] && [ "$pct" -gt 0 ] && [ "$pct" -lt 100 ]; then ok "plain atlas list shows ${pct}% done"
else not_ok "plain atlas list shows a percentage between 0 and 100" "$(cat "$T/out" "$T/err")"; fi

run_atlas get --queue-file "$Q" -d "$T/dl" "$T/b.meta4"
check "the same atlas get again exits 0" rc_is 0
check "it says it resumes the download" out_or_err_has '[Rr]esum'
if [ "$(sha256_of "$T/dl/b.bin" 2>/dev/null)" = "$GOOD" ] && [ ! -e "$T/dl/b.bin.part" ]; then
    ok "resumed file is correct and the .part is gone"
else
    not_ok "resumed file is correct and the .part is gone" "$(ls -la "$T/dl")"
fi

wait_mirror_idle || diag "mirror still busy after 10 s"
AFTER=$(log_bytes "$T/mirror.log" $((BEFORE_LINES + 1)))
LIMIT=$((SIZE - COMPLETED + SLACK))
diag "bytes served after the restart: $AFTER (limit $LIMIT = size $SIZE - verified $COMPLETED + slack $SLACK)"
if [ "$COMPLETED" -gt 0 ] && [ "$AFTER" -le "$LIMIT" ]; then
    ok "no verified piece was downloaded again ($AFTER <= $LIMIT bytes)"
else
    not_ok "no verified piece was downloaded again" "served $AFTER > $LIMIT" \
        "$(tail -n +$((BEFORE_LINES + 1)) "$T/mirror.log")"
fi

run_atlas list --queue-file "$Q" --json
if [ "$(json_field "$T/out" 1 state)" = complete ] && [ "$(json_field "$T/out" 1 completed)" = "$SIZE" ]; then
    ok "atlas list shows the download complete"
else
    not_ok "atlas list shows the download complete" "$(cat "$T/out" "$T/err")"
fi

# Running it a third time must not download anything.
N=$(log_lines "$T/mirror.log")
run_atlas get --queue-file "$Q" -d "$T/dl" "$T/b.meta4"
wait_mirror_idle
if [ "$RC" -eq 0 ] && [ "$(log_bytes "$T/mirror.log" $((N + 1)))" -eq 0 ] && out_or_err_has '^Complete: b\.bin'; then
    ok "a third atlas get reports it complete without transferring"
else
    not_ok "a third atlas get reports it complete without transferring" "status $RC" \
        "$(tail -n +$((N + 1)) "$T/mirror.log")" "$(cat "$T/out" "$T/err")"
fi

finish
