# shellcheck shell=bash
# Shared helpers for the Download Atlas benchmarks.  Source it:  . "$BENCH_DIR/lib.sh"
#
# Everything the helpers start (nginx, the test mirror) is recorded by PID and
# stopped by that PID from an EXIT trap; every server binds 127.0.0.1 only;
# every wait loop is bounded.

BENCH_DIR=${BENCH_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}   # seconds per measured tool run
BENCH_TMP=""
BENCH_PIDS=()                         # servers to stop on exit

bench_log()  { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
bench_die()  { bench_log "ERROR: $*"; exit 1; }

# bench_need_tools: fail early, with the fix, when something is missing.
bench_need_tools() {
    local missing=()
    local t
    for t in nginx python3 curl timeout; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    if [[ ! -x /usr/bin/time ]]; then
        bench_log "GNU time (/usr/bin/time) is needed for peak RSS and CPU time:"
        bench_log "    sudo apt-get install time"
        missing+=("/usr/bin/time")
    fi
    if ((${#missing[@]})); then
        bench_die "missing: ${missing[*]} (Debian: apt-get install nginx-light python3 curl time)"
    fi
    for t in aria2c axel; do
        command -v "$t" >/dev/null 2>&1 ||
            bench_log "note: $t not installed, its rows will be n/a (apt-get install aria2 axel)"
    done
}

# ---------------------------------------------------------------- temp + cleanup

bench_cleanup() {
    local pid i
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${BENCH_PIDS[i]}
        [[ -n $pid ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        [[ -n $pid ]] || continue
        local n=0
        while kill -0 "$pid" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    BENCH_PIDS=()
    if [[ -n $BENCH_TMP && -d $BENCH_TMP && ${BENCH_KEEP_TMP:-0} != 1 ]]; then
        rm -rf -- "$BENCH_TMP"
    fi
}

# bench_tmp_init: private work dir in tmpfs; installs the EXIT trap.
bench_tmp_init() {
    local base=${BENCH_TMPDIR:-/dev/shm}
    [[ -d $base && -w $base ]] || base=${TMPDIR:-/tmp}
    BENCH_TMP=$(mktemp -d "$base/atlas-bench.XXXXXX")
    chmod 755 "$BENCH_TMP"
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# bench_forget_pid PID: drop a PID that was stopped explicitly.
bench_forget_pid() {
    local i
    for i in "${!BENCH_PIDS[@]}"; do
        [[ ${BENCH_PIDS[i]} == "$1" ]] && BENCH_PIDS[i]=""
    done
    return 0
}

# ---------------------------------------------------------------- sizes, ports, files

# bench_bytes 64M|1G|512K|12345 -> bytes (binary units)
bench_bytes() {
    local s=${1^^} n mult=1
    case $s in
        *K|*KB|*KIB) mult=1024 ;;
        *M|*MB|*MIB) mult=$((1024 * 1024)) ;;
        *G|*GB|*GIB) mult=$((1024 * 1024 * 1024)) ;;
    esac
    n=${s%%[KMG]*}
    [[ $n =~ ^[0-9]+$ ]] || bench_die "bad size: $1"
    echo $((n * mult))
}

# bench_free_port: an unused loopback TCP port (closed again at once).
bench_free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# bench_make_file PATH BYTES: incompressible data, fast.
# openssl AES-CTR over /dev/zero does ~1.2 GB/s; /dev/urandom ~0.2 GB/s fallback.
bench_make_file() {
    local path=$1 bytes=$2 key
    if command -v openssl >/dev/null 2>&1; then
        key=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
        openssl enc -aes-128-ctr -K "$key" -iv 00000000000000000000000000000000 \
            -in /dev/zero 2>/dev/null | head -c "$bytes" >"$path" || true
    fi
    if [[ ! -f $path || $(stat -c %s "$path") -ne $bytes ]]; then
        head -c "$bytes" /dev/urandom >"$path"
    fi
    chmod 644 "$path"
    [[ $(stat -c %s "$path") -eq $bytes ]] || bench_die "could not make $bytes bytes in $path"
}

# bench_sha256 FILE: hex digest (hashlib: ~1.3 GB/s here, 6x coreutils sha256sum).
bench_sha256() {
    python3 - "$1" <<'EOF'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb", buffering=0) as f:
    while True:
        b = f.read(1 << 22)
        if not b:
            break
        h.update(b)
print(h.hexdigest())
EOF
}

# bench_shm_free_bytes: available bytes in the benchmark tmpfs.
bench_shm_free_bytes() {
    df -B1 --output=avail "${1:-/dev/shm}" | tail -n 1 | tr -d ' '
}

# ---------------------------------------------------------------- nginx

NGINX_PID=""
NGINX_PORTS=()

# bench_nginx_start ROOT RATE... : one nginx, one server block per RATE, each on its
# own 127.0.0.1 port.  RATE is an nginx size ("20m" = 20 MiB/s) or 0 for unthrottled.
# NOTE: nginx limit_rate is per connection (per request), not per server.  To make a
# rate a per-server cap, set NGINX_CONN_LIMIT=1 (limit_conn per port; a client's extra
# concurrent connections to that server get 503, as on many real mirrors).
# Sets NGINX_PID and NGINX_PORTS.
bench_nginx_start() {
    local root=$1; shift
    local prefix
    prefix=$(mktemp -d "$BENCH_TMP/nginx.XXXXXX")
    mkdir -p "$prefix/logs" "$prefix/tmp"
    local conf=$prefix/nginx.conf user_line=""
    ((EUID == 0)) && user_line="user root;"   # workers must read the 0700 tmp tree
    NGINX_PORTS=()
    {
        cat <<EOF
$user_line
daemon off;
master_process on;
worker_processes 2;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 30;
    default_type application/octet-stream;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    limit_conn_zone \$server_port zone=perport:1m;
    limit_conn_status 503;
EOF
        local rate port
        for rate in "$@"; do
            port=$(bench_free_port)
            NGINX_PORTS+=("$port")
            echo "    server {"
            echo "        listen 127.0.0.1:$port;"
            echo "        root $root;"
            if [[ $rate != 0 ]]; then
                echo "        limit_rate $rate;"
                ((${NGINX_CONN_LIMIT:-0} > 0)) && echo "        limit_conn perport $NGINX_CONN_LIMIT;"
            fi
            echo "    }"
        done
        echo "}"
    } >"$conf"
    nginx -p "$prefix" -c "$conf" -e "$prefix/logs/error.log" >"$prefix/logs/stdout" 2>&1 &
    NGINX_PID=$!
    BENCH_PIDS+=("$NGINX_PID")
    local p n
    for p in "${NGINX_PORTS[@]}"; do
        n=0
        until curl -s -o /dev/null "http://127.0.0.1:$p/"; do
            n=$((n + 1))
            if ((n > 100)) || ! kill -0 "$NGINX_PID" 2>/dev/null; then
                cat "$prefix/logs/error.log" "$prefix/logs/stdout" >&2 || true
                bench_die "nginx did not come up on port $p"
            fi
            sleep 0.05
        done
    done
    bench_log "nginx pid $NGINX_PID ports ${NGINX_PORTS[*]} rates $* conn-limit ${NGINX_CONN_LIMIT:-0}"
}

bench_nginx_stop() {
    [[ -n $NGINX_PID ]] || return 0
    kill -QUIT "$NGINX_PID" 2>/dev/null || true
    local n=0
    while kill -0 "$NGINX_PID" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    bench_forget_pid "$NGINX_PID"
    NGINX_PID=""
}

# ---------------------------------------------------------------- test mirror

MIRROR_BIN=${MIRROR_BIN:-${ATLAS_TEST_MIRROR:-}}
MIRROR_PID=""
MIRROR_PORT=""

bench_have_mirror() { [[ -n $MIRROR_BIN && -x $MIRROR_BIN ]]; }

# bench_mirror_start ROOT: start atlas-test-mirror on an ephemeral port; sets MIRROR_PORT.
bench_mirror_start() {
    local root=$1 out
    bench_have_mirror || bench_die "test mirror binary not available"
    out=$(mktemp "$BENCH_TMP/mirror.XXXXXX")
    "$MIRROR_BIN" --root "$root" --port 0 --log "$out.log" >"$out" 2>"$out.err" &
    MIRROR_PID=$!
    BENCH_PIDS+=("$MIRROR_PID")
    local n=0 line=""
    while ((n < 100)); do
        line=$(head -n 1 "$out" 2>/dev/null || true)
        [[ $line == PORT\ * ]] && break
        kill -0 "$MIRROR_PID" 2>/dev/null || break
        sleep 0.05; n=$((n + 1))
    done
    [[ $line =~ ^PORT\ ([0-9]+) ]] || { cat "$out.err" >&2; bench_die "test mirror printed no PORT line"; }
    MIRROR_PORT=${BASH_REMATCH[1]}
    bench_log "test mirror pid $MIRROR_PID port $MIRROR_PORT"
}

bench_mirror_stop() {
    [[ -n $MIRROR_PID ]] || return 0
    kill -TERM "$MIRROR_PID" 2>/dev/null || true
    local n=0
    while kill -0 "$MIRROR_PID" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$MIRROR_PID" 2>/dev/null || true
    wait "$MIRROR_PID" 2>/dev/null || true
    bench_forget_pid "$MIRROR_PID"
    MIRROR_PID=""
}

# bench_tracker_start DIR [COMMAND-PREFIX...]: a fresh atlas-tracker ($TRACKER_BIN) with
# its database in DIR, an uploader and a downloader token (TRACKER_UP, TRACKER_DOWN),
# listening on an ephemeral loopback port; sets TRACKER_PID and TRACKER_URL. A prefix
# (e.g. env LD_PRELOAD=…) runs the server under it.
bench_tracker_start() {
    local dir=$1 db=$1/tracker.sqlite
    shift
    TRACKER_UP=$("$TRACKER_BIN" token add --database "$db" --role uploader --name up 2>"$dir/token.err")
    TRACKER_DOWN=$("$TRACKER_BIN" token add --database "$db" --role downloader --name down 2>>"$dir/token.err")
    [[ -n $TRACKER_UP && -n $TRACKER_DOWN ]] ||
        bench_die "atlas-tracker token add failed: $(cat "$dir/token.err")"
    # Made here, not by the background job: read before the job starts, a
    # missing file would end the script (set -e, pipefail).
    : >"$dir/tracker.out"
    "$@" "$TRACKER_BIN" serve --database "$db" --listen 127.0.0.1:0 \
        >"$dir/tracker.out" 2>"$dir/tracker.err" &
    TRACKER_PID=$!
    BENCH_PIDS+=("$TRACKER_PID")
    local n=0 port=""
    while ((n < 100)); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir/tracker.out" | head -n1)
        [[ -n $port ]] && break
        kill -0 "$TRACKER_PID" 2>/dev/null || break
        sleep 0.05; n=$((n + 1))
    done
    [[ -n $port ]] || bench_die "atlas-tracker did not start: $(tail -3 "$dir/tracker.err")"
    TRACKER_URL=http://127.0.0.1:$port
}

# ---------------------------------------------------------------- measuring

# Per-run TSV columns (bench_runs_header):
#   scenario tool run status wall_s rss_kb user_s sys_s exit note
# status: ok | FAIL (exit 0 but wrong/missing bytes, or non-zero exit) | TIMEOUT | n/a
bench_runs_header() {
    printf 'scenario\ttool\trun\tstatus\twall_s\trss_kb\tuser_s\tsys_s\texit\tnote\n'
}

# bench_measure TSV SCENARIO TOOL RUN OUTDIR OUTFILE SHA256 -- CMD...
# Cleans OUTDIR, runs CMD under /usr/bin/time and timeout, checks OUTFILE's sha256.
# A run only counts (status ok) when the command exited 0 AND the bytes are right.
bench_measure() {
    local tsv=$1 scen=$2 tool=$3 run=$4 outdir=$5 outfile=$6 want=$7
    shift 7
    [[ $1 == -- ]] && shift
    rm -rf -- "$outdir"; mkdir -p "$outdir"
    local tf rc=0 status note="" got=""
    tf=$(mktemp "$BENCH_TMP/time.XXXXXX")
    local log=$BENCH_TMP/last-$tool.log
    /usr/bin/time -o "$tf" -f '%e %M %U %S' \
        timeout -k 5 "$BENCH_TIMEOUT" "$@" >"$log" 2>&1 || rc=$?
    local wall rss usr sys
    read -r wall rss usr sys < <(grep -E '^[0-9.]+ [0-9]+ [0-9.]+ [0-9.]+$' "$tf" | tail -n 1) || true
    if ((rc == 124)) || { ((rc == 137)) && [[ ${wall%.*} -ge $BENCH_TIMEOUT ]]; }; then
        status=TIMEOUT; note="killed after ${BENCH_TIMEOUT}s"
    elif [[ ! -f $outfile ]]; then
        status=FAIL; note="exit $rc, no output file"
    else
        got=$(bench_sha256 "$outfile")
        if [[ $got != "$want" ]]; then
            status=FAIL; note="exit $rc, sha256 mismatch"
        elif ((rc != 0)); then
            status=FAIL; note="exit $rc (bytes were right)"
        else
            status=ok
        fi
    fi
    if [[ $status != ok ]]; then
        note="$note; $(tail -n 2 "$log" | tr '\t\n' '  ' | cut -c1-160)"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$tool" "$run" "$status" \
        "${wall:-}" "${rss:-}" "${usr:-}" "${sys:-}" "$rc" "$note" >>"$tsv"
    bench_log "$scen $tool run $run: $status wall=${wall:-?}s rss=${rss:-?}KiB cpu=${usr:-?}+${sys:-?}s $note"
    rm -rf -- "$outdir" "$tf"
}

# bench_na TSV SCENARIO TOOL REASON: a row for a tool that was not run.
bench_na() {
    printf '%s\t%s\t-\tn/a\t\t\t\t\t\t%s\n' "$2" "$3" "$4" >>"$1"
    bench_log "$2 $3: n/a ($4)"
}
