# shellcheck shell=bash
# tests/common/atlas-faults-lib.sh — helpers for the environment-fault tests
# (tests/integration/test-faults-*.sh).  Sourced after tests/integration/lib.sh,
# whose $T, track_pid, ok/not_ok and start_mirror it uses.

# start_get NAME ARGS… : `atlas get --json ARGS…` in the background, at most
# ${GET_TIMEOUT:-60} s; sets GET_PID.  Output in $T/NAME.json and $T/NAME.err.
start_get() {
    local name=$1; shift
    timeout -k 5 "${GET_TIMEOUT:-60}" "${GET_WRAPPER[@]}" "$ATLAS" get --json "$@" \
        >"$T/$name.json" 2>"$T/$name.err" &
    GET_PID=$!
    track_pid "$GET_PID"
}
# Words run before atlas: `env VAR=…` (libfaketime in test-faults-clock.sh).
GET_WRAPPER=(env)

# completed NAME : the latest "completed" byte count NAME reported (empty if none).
completed() {
    grep '"event":"progress"' "$T/$1.json" 2>/dev/null | tail -n1 |
        sed -n 's/.*"completed":\([0-9]*\).*/\1/p'
}
# past NAME BYTES : NAME reported at least BYTES completed.
past() { local c; c=$(completed "$1"); [ -n "$c" ] && [ "$c" -ge "$2" ]; }

# json_events FILE EVENT FIELD : FIELD of every EVENT line of FILE, one a line.
json_events() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, event, field = sys.argv[1:4]
for line in open(path, encoding="utf-8", errors="replace"):
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if isinstance(o, dict) and o.get("event") == event:
        print(o.get(field))
PY
}
# finished_field NAME FIELD : FIELD of NAME's "finished" event.
finished_field() { json_events "$T/$1.json" finished "$2" | tail -n1; }

# wait_pid PID : its exit status, or 124 if it is still running after
# ${WAIT_TENTHS:-600} tenths of a second (then it is killed).
wait_pid() {
    local i=0 max=${WAIT_TENTHS:-600}
    while kill -0 "$1" 2>/dev/null && [ $i -lt "$max" ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
        return 124
    fi
    wait "$1"
}

# no_wrong_file PATH GOOD-SHA : the final file is either absent or right.
# The one outcome a fault must never produce is a wrong file in place.
no_wrong_file() { [ ! -e "$1" ] || [ "$(sha256_of "$1")" = "$2" ]; }

# served_since LINE : mirror body bytes logged after line LINE.
served_since() { log_bytes "$MIRROR_LOG" $(($1 + 1)); }

# no_critical FILE… : none of the files has a GLib CRITICAL or a crash trace.
no_critical() { ! grep -qE 'CRITICAL|Segmentation|Aborted|AddressSanitizer' "$@" 2>/dev/null; }
