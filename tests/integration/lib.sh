# tests/integration/lib.sh — shared helpers for the atlas CLI integration tests.
#
# Sourced by each test-*.sh (bash).  Provides: a private temp dir (removed on
# exit), a private XDG_DATA_HOME/XDG_DOWNLOAD_DIR so the user's real queue is
# never touched, the test mirror (started on port 0, stopped by PID), TAP
# output helpers, and a few small utilities.
#
# Environment (set by meson): ATLAS, ATLAS_TEST_MIRROR, ATLAS_SOURCE_ROOT.
# Run by hand:
#   ATLAS=build/src/cli/atlas ATLAS_TEST_MIRROR=build/tests/mirror/atlas-test-mirror \
#   ATLAS_SOURCE_ROOT=. bash tests/integration/test-cli.sh

set -u

: "${ATLAS:?ATLAS must point to the atlas executable}"
: "${ATLAS_TEST_MIRROR:?ATLAS_TEST_MIRROR must point to atlas-test-mirror}"
: "${ATLAS_SOURCE_ROOT:?ATLAS_SOURCE_ROOT must point to the source tree}"

MIB=1048576
T=$(mktemp -d "${TMPDIR:-/tmp}/atlas-it.XXXXXX") || exit 99
export XDG_DATA_HOME="$T/xdg-data"
export XDG_CONFIG_HOME="$T/xdg-config"
export XDG_CACHE_HOME="$T/xdg-cache"
export XDG_DOWNLOAD_DIR="$T/xdg-downloads"
export ATLAS_QUEUE_FILE="$T/default-queue.sqlite"   # never the user's queue
unset ATLAS_DEBUG G_MESSAGES_DEBUG 2>/dev/null || true
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_DOWNLOAD_DIR"

# PIDs we started and must stop.
_PIDS=""
track_pid() { _PIDS="$_PIDS $1"; }

_cleanup() {
    local p
    for p in $_PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $_PIDS; do
        # bounded wait, then SIGKILL that one PID
        local i=0
        while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do
            sleep 0.1; i=$((i + 1))
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ -n "${KEEP_TMP:-}" ]; then
        echo "# kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# ---- TAP -------------------------------------------------------------------

_N=0
_FAILED=0
plan() { echo "1..$1"; }

# ok NAME — one passing test.  not_ok NAME REASON… — a failing one.
ok()     { _N=$((_N + 1)); echo "ok $_N - $1"; }
not_ok() {
    _N=$((_N + 1)); _FAILED=$((_FAILED + 1))
    echo "not ok $_N - $1"
    shift
    local l
    for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}

diag() { printf '%s\n' "$*" | sed 's/^/# /'; }

# check NAME CONDITION-COMMAND… : ok if the command succeeds, else not ok
# with the last command output recorded in $LAST_* printed as diagnostics.
check() {
    local name=$1; shift
    if "$@"; then ok "$name"
    else not_ok "$name" "failed: $*" "exit=${RC:-?}" \
        "stdout: $(head -c 1500 "$T/out" 2>/dev/null)" \
        "stderr: $(head -c 1500 "$T/err" 2>/dev/null)"
    fi
}

finish() {
    if [ "$_FAILED" -ne 0 ]; then
        diag "$_FAILED of $_N failed"
        exit 1
    fi
    exit 0
}

# ---- running atlas ---------------------------------------------------------

# run_atlas ARGS… : runs atlas with a 60 s cap; stdout in $T/out, stderr in
# $T/err, exit status in $RC.
run_atlas() {
    timeout -k 5 60 "$ATLAS" "$@" >"$T/out" 2>"$T/err"
    RC=$?
    return 0
}

rc_is()        { [ "$RC" -eq "$1" ]; }
out_has()      { grep -q -- "$1" "$T/out"; }
err_has()      { grep -q -- "$1" "$T/err"; }
out_or_err_has() { grep -q -- "$1" "$T/out" "$T/err"; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# make_file PATH MIB : a file of MIB MiB of pseudo-random bytes (fast, no
# /dev/urandom drain: AES-CTR-like stream from openssl is not guaranteed, so
# use head -c from /dev/urandom, which is fast enough for tens of MiB).
make_file() { head -c $(($2 * MIB)) /dev/urandom >"$1"; }

# make_meta4 FILE NAME OUT URL… : Metalink with 1 MiB piece hashes.
make_meta4() {
    local f=$1 name=$2 out=$3; shift 3
    local args=() u
    for u in "$@"; do args+=(--url "$u"); done
    python3 "$ATLAS_SOURCE_ROOT/bench/make-metalink.py" "$f" --name "$name" \
        --piece-length $MIB "${args[@]}" --out "$out" >/dev/null
}

# ---- the mirror ------------------------------------------------------------

# start_mirror ROOT LOG : starts the test mirror; sets MIRROR_PID, PORT, BASE.
start_mirror() {
    local root=$1 log=$2 i=0
    : >"$log"
    "$ATLAS_TEST_MIRROR" --root "$root" --port 0 --log "$log" >"$T/mirror.out" 2>"$T/mirror.err" &
    MIRROR_PID=$!
    track_pid "$MIRROR_PID"
    PORT=""
    while [ $i -lt 100 ]; do
        PORT=$(sed -n 's/^PORT \([0-9]*\)$/\1/p' "$T/mirror.out" | head -n1)
        [ -n "$PORT" ] && break
        sleep 0.05; i=$((i + 1))
    done
    if [ -z "$PORT" ]; then
        echo "Bail out! test mirror did not start: $(cat "$T/mirror.err")"
        exit 1
    fi
    BASE="http://127.0.0.1:$PORT"
    MIRROR_LOG=$log
    MIRROR_LISTENERS=$(mirror_sockets)
}

# log_bytes LOG [FROM-LINE] : body bytes served from line FROM-LINE (1-based) on.
log_bytes() {
    tail -n +"${2:-1}" "$1" | sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' | awk '{s += $1} END {print s + 0}'
}
log_lines() { wc -l <"$1" | tr -d ' '; }

# wait_for COND-COMMAND… with a deadline in tenths of a second in $WAIT_TENTHS
# (default 100 = 10 s).  Returns the command's last status.
wait_for() {
    local i=0 max=${WAIT_TENTHS:-100}
    while [ $i -lt "$max" ]; do
        "$@" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# mirror_sockets : sockets the mirror process holds open right now.
mirror_sockets() { find "/proc/$MIRROR_PID/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
# wait_mirror_idle : wait (<= 10 s) until every response so far is in the
# mirror's log. The mirror logs a response before it closes the connection,
# and a rate-limited sender notices that the client is gone only at its next
# send slot. ss(8) cannot tell: a client killed with unread data answers with
# an RST, which takes the server's socket out of every TCP table while the
# sender still sleeps. So the mirror's own socket descriptors are counted
# down to its listeners.
wait_mirror_idle() {
    local i=0 prev=-1 cur
    while [ $i -lt 100 ]; do
        cur=$(log_lines "$MIRROR_LOG")
        if [ "$(mirror_sockets)" -le "$MIRROR_LISTENERS" ] && [ "$cur" -eq "$prev" ]; then
            return 0
        fi
        prev=$cur
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# json_field FILE ID FIELD : FIELD of the object with "id": ID among the JSON
# lines in FILE (atlas list --json), empty if absent.
json_field() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
path, want, field = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for line in open(path, encoding="utf-8"):
    line = line.strip()
    if not line:
        continue
    try:
        o = json.loads(line)
    except ValueError:
        continue
    if isinstance(o, dict) and o.get("id") == want:
        v = o.get(field)
        print("" if v is None else v)
        break
PY
}

# render_tty FILE : what a terminal shows after replaying FILE (a `script`
# capture): handles \r, \n, ESC[nA, ESC[J, ESC[K; other CSI sequences ignored.
render_tty() {
    python3 - "$1" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
screen, row, col = [""], 0, 0
i = 0
csi = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")
while i < len(data):
    c = data[i]
    if c == "\x1b":
        m = csi.match(data, i)
        if m:
            n = int(m.group(1)) if m.group(1).isdigit() else 1
            op = m.group(2)
            if op == "A":
                row = max(0, row - n)
            elif op == "J":
                screen[row] = screen[row][:col]
                del screen[row + 1:]
            elif op == "K":
                screen[row] = screen[row][:col]
            i = m.end()
            continue
        i += 1
        continue
    if c == "\r":
        col = 0
    elif c == "\n":
        row += 1
        col = 0
        while len(screen) <= row:
            screen.append("")
    else:
        line = screen[row].ljust(col)
        screen[row] = line[:col] + c + line[col + 1:]
        col += 1
    i += 1
for line in screen:
    print(line.rstrip())
PY
}

# ---- other servers ---------------------------------------------------------

# start_server NAME LAUNCH : LAUNCH PORT must start a server on 127.0.0.1:PORT in
# the background and set SERVER_PID. Tries a few random ports until one accepts
# connections; sets SERVER_PORT; the server is stopped by PID on exit.
start_server() {
    local name=$1 launch=$2 try i
    for try in 1 2 3 4 5; do
        SERVER_PORT=$((20000 + RANDOM % 40000))
        "$launch" "$SERVER_PORT" >"$T/$name.log" 2>&1
        track_pid "$SERVER_PID"
        for i in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            (exec 3<>"/dev/tcp/127.0.0.1/$SERVER_PORT") 2>/dev/null && return 0
            sleep 0.1
        done
    done
    echo "Bail out! $name did not start: $(tail -3 "$T/$name.log")"
    exit 1
}
