#!/usr/bin/env bash
# Download benchmark: atlas side by side with aria2c, axel and curl on loopback.
# See bench/README.md.  Usage: bench/bench-download.sh [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/bench-download.sh [options]
  --runs N            measured runs per tool (default 5; median is reported)
  --warmup N          unmeasured rounds per scenario before the measured ones (default 0;
                      still verified, logged in <scenario>.warmup.tsv)
  --size SIZE         fast4 file size (default 1G)
  --capped-size SIZE  capped4 file size (default 512M)
  --mixed-size SIZE   mixed file size (default 512M)
  --rss-size SIZE     rss4g file size (default 4G)
  --smoke             tiny sizes, 1 run, every scenario; finishes in < 60 s
  --only SCENARIO     fast4 | capped4 | mixed | rss4g (repeatable)
  --out DIR           result dir (default bench/results/latest); one TSV per scenario
  --atlas PATH        atlas CLI to benchmark (default: $ATLAS; else atlas rows are n/a)
  --mirror-bin PATH   atlas-test-mirror (default: $ATLAS_TEST_MIRROR)
  --partial-mixed     without the test mirror, run `mixed` anyway with only the nginx
                      and dead mirrors (reported as scenario mixed-partial)
  --loose-caps        nginx rate caps per connection only (default: also limit_conn 1
                      per capped server, so a cap is a per-server cap; extra
                      concurrent connections get 503)
  --timeout S         per-run timeout in seconds (default 300)
  --report            run bench/report.sh on the results afterwards
EOF
}

RUNS=5; WARMUP=0
SIZE=1G; CAPPED_SIZE=512M; MIXED_SIZE=512M; RSS_SIZE=4G
SMOKE=0; REPORT=0; PARTIAL_MIXED=0; CONN_LIMIT=1
ONLY=()
OUT=$BENCH_DIR/results/latest
ATLAS_BIN=${ATLAS:-}
while (($#)); do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --capped-size) CAPPED_SIZE=$2; shift 2 ;;
        --mixed-size) MIXED_SIZE=$2; shift 2 ;;
        --rss-size) RSS_SIZE=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --only) ONLY+=("$2"); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --atlas) ATLAS_BIN=$2; shift 2 ;;
        --mirror-bin) MIRROR_BIN=$2; shift 2 ;;
        --partial-mixed) PARTIAL_MIXED=1; shift ;;
        --loose-caps) CONN_LIMIT=0; shift ;;
        --timeout) BENCH_TIMEOUT=$2; shift 2 ;;
        --report) REPORT=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"
[[ $WARMUP =~ ^[0-9]$ ]] || bench_die "--warmup must be 0..9"
if ((SMOKE)); then
    RUNS=1; SIZE=64M; CAPPED_SIZE=32M; MIXED_SIZE=32M
    [[ $OUT == "$BENCH_DIR/results/latest" ]] && OUT=$BENCH_DIR/results/smoke
fi
if [[ -n $ATLAS_BIN && ! -x $ATLAS_BIN ]]; then
    bench_log "atlas '$ATLAS_BIN' is not executable: atlas rows will be n/a"
    ATLAS_BIN=""
fi
if [[ -n $MIRROR_BIN && ! -x $MIRROR_BIN ]]; then
    bench_log "test mirror '$MIRROR_BIN' is not executable: ignoring it"
    MIRROR_BIN=""
fi

want() {  # want SCENARIO: is it selected?
    ((${#ONLY[@]} == 0)) && return 0
    local s
    for s in "${ONLY[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}
for s in "${ONLY[@]}"; do
    case $s in fast4|capped4|mixed|rss4g) ;; *) bench_die "unknown scenario: $s" ;; esac
done

bench_need_tools
bench_tmp_init
mkdir -p "$OUT"
DATA=$BENCH_TMP/data
DL=$BENCH_TMP/dl
mkdir -p "$DATA"; chmod 755 "$DATA"
NAME=bench.bin
START=$SECONDS

# ---------------------------------------------------------------- environment record
{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'host\t%s cores, %s, kernel %s\n' "$(nproc)" \
        "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')" "$(uname -r)"
    printf 'mem\t%s\n' "$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    printf 'nginx\t%s\n' "$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    printf 'aria2c\t%s\n' "$(aria2c --version 2>/dev/null | head -n 1 | awk '{print $3}')"
    printf 'axel\t%s\n' "$(axel --version 2>/dev/null | head -n 1 | awk '{print $2}')"
    printf 'curl\t%s\n' "$(curl --version | head -n 1 | awk '{print $2}')"
    printf 'atlas\t%s\n' "${ATLAS_BIN:-n/a}"
    printf 'test_mirror\t%s\n' "${MIRROR_BIN:-n/a}"
    printf 'runs\t%s\n' "$RUNS"
    printf 'warmup\t%s\n' "$WARMUP"
    printf 'smoke\t%s\n' "$SMOKE"
    printf 'timeout_s\t%s\n' "$BENCH_TIMEOUT"
} >"$OUT/env.tsv"

# ---------------------------------------------------------------- tool command lines
# Common bounded-failure flags: a dead or stalled mirror costs at most ~10 s of I/O
# timeout per attempt in every tool (aria2c default would be 60 s).
ARIA_COMMON=(--file-allocation=none --allow-overwrite=true --auto-file-renaming=false
    --console-log-level=warn --summary-interval=0 --download-result=hide
    --timeout=10 --connect-timeout=5 --max-tries=5 --retry-wait=1 -k1M)

CMD=()
# tool_cmd TOOL OUTDIR: sets CMD.  Uses URLS, META, SHA, NCONN of the current scenario.
tool_cmd() {
    local tool=$1 dir=$2 u
    case $tool in
        atlas-metalink)
            CMD=("$ATLAS_BIN" get --no-queue --dir "$dir" --json "$META") ;;
        atlas-urls)
            CMD=("$ATLAS_BIN" get --no-queue --dir "$dir" "${URLS[0]}")
            for u in "${URLS[@]:1}"; do CMD+=(-m "$u"); done
            CMD+=(--checksum "sha256:$SHA") ;;
        aria2c-metalink)
            CMD=(aria2c -M "$META" --dir "$dir" -j1 -x4 "-s$NCONN"
                --check-integrity=true "${ARIA_COMMON[@]}") ;;
        aria2c-urls)
            CMD=(aria2c --dir "$dir" -o "$NAME" -x4 "-s$NCONN" "${ARIA_COMMON[@]}" "${URLS[@]}") ;;
        axel)
            CMD=(axel -q -n "$NCONN" -T 10 -o "$dir/$NAME" "${URLS[@]}") ;;
        curl)
            CMD=(curl -sS --fail -o "$dir/$NAME" "${URLS[$CURL_IDX]}") ;;
        *) bench_die "unknown tool $tool" ;;
    esac
}

# run_tools SCENARIO TOOL...: RUNS rounds; each round runs every tool once
# (interleaved, so drift on the box hits all tools alike).
run_tools() {
    local scen=$1; shift
    local tsv=$OUT/$scen.tsv tool r
    local runnable=()
    bench_runs_header >"$tsv"
    for tool in "$@"; do
        case $tool in
            atlas-*) if [[ -z $ATLAS_BIN ]]; then bench_na "$tsv" "$scen" "$tool" "atlas CLI not given (--atlas / ATLAS)"; continue; fi ;;
            aria2c-*) if ! command -v aria2c >/dev/null; then bench_na "$tsv" "$scen" "$tool" "aria2c not installed"; continue; fi ;;
            axel) if ! command -v axel >/dev/null; then bench_na "$tsv" "$scen" "$tool" "axel not installed"; continue; fi ;;
        esac
        runnable+=("$tool")
    done
    if ((WARMUP > 0)); then
        bench_runs_header >"$OUT/$scen.warmup.tsv"
        for ((r = 1; r <= WARMUP; r++)); do
            for tool in "${runnable[@]}"; do
                tool_cmd "$tool" "$DL"
                bench_measure "$OUT/$scen.warmup.tsv" "$scen" "$tool" "w$r" "$DL" "$DL/$NAME" "$SHA" -- "${CMD[@]}"
            done
        done
    fi
    for ((r = 1; r <= RUNS; r++)); do
        for tool in "${runnable[@]}"; do
            tool_cmd "$tool" "$DL"
            bench_measure "$tsv" "$scen" "$tool" "$r" "$DL" "$DL/$NAME" "$SHA" -- "${CMD[@]}"
        done
    done
}

# prepare_file SIZE: makes $DATA/$NAME and sets BYTES.
prepare_file() {
    BYTES=$(bench_bytes "$1")
    rm -f -- "$DATA/$NAME"
    bench_log "making $BYTES-byte random file"
    bench_make_file "$DATA/$NAME" "$BYTES"
}

# make_meta: writes $META from URLS (priority = order) and sets SHA.
make_meta() {
    META=$BENCH_TMP/$1.meta4
    SHA=$(python3 "$BENCH_DIR/make-metalink.py" "$DATA/$NAME" --name "$NAME" \
        --piece-length $((1024 * 1024)) --out "$META" "${URLS[@]/#/--url=}")
}

write_meta() {  # write_meta SCENARIO key value ...
    local f=$OUT/$1.meta; shift
    printf 'key\tvalue\n' >"$f"
    printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$f"
    while (($# >= 2)); do printf '%s\t%s\n' "$1" "$2" >>"$f"; shift 2; done
}

caps_desc() {
    if ((CONN_LIMIT)); then
        echo "per server: limit_rate + limit_conn 1 (extra concurrent connections get 503)"
    else
        echo "per connection: limit_rate only (k connections to one server get k x cap)"
    fi
}

ALL_TOOLS=(atlas-metalink atlas-urls aria2c-metalink aria2c-urls axel curl)

# ---------------------------------------------------------------- scenarios
scen_fast4() {
    bench_log "=== fast4: 4 unthrottled nginx mirrors, $SIZE"
    prepare_file "$SIZE"
    bench_nginx_start "$DATA" 0 0 0 0
    URLS=(); local p
    for p in "${NGINX_PORTS[@]}"; do URLS+=("http://127.0.0.1:$p/$NAME"); done
    make_meta fast4
    NCONN=4; CURL_IDX=0
    write_meta fast4 size_bytes "$BYTES" mirrors "4 x nginx, unthrottled" piece_bytes 1048576
    run_tools fast4 "${ALL_TOOLS[@]}"
    bench_nginx_stop
}

scen_capped4() {
    bench_log "=== capped4: 4 nginx mirrors at limit_rate 20m, $CAPPED_SIZE"
    prepare_file "$CAPPED_SIZE"
    NGINX_CONN_LIMIT=$CONN_LIMIT bench_nginx_start "$DATA" 20m 20m 20m 20m
    URLS=(); local p
    for p in "${NGINX_PORTS[@]}"; do URLS+=("http://127.0.0.1:$p/$NAME"); done
    make_meta capped4
    NCONN=4; CURL_IDX=0
    write_meta capped4 size_bytes "$BYTES" mirrors "4 x nginx, limit_rate 20m" \
        cap_mibs 80 caps "$(caps_desc)" piece_bytes 1048576
    run_tools capped4 "${ALL_TOOLS[@]}"
    bench_nginx_stop
}

scen_mixed() {
    local scen=mixed partial=0
    if ! bench_have_mirror; then
        if ((PARTIAL_MIXED)); then
            scen=mixed-partial; partial=1
            bench_log "test mirror absent: running mixed-partial (no stalling/corrupting mirror)"
        else
            bench_log "SKIP mixed: needs atlas-test-mirror (--mirror-bin PATH or ATLAS_TEST_MIRROR);"
            bench_log "     --partial-mixed runs it with only the nginx and dead mirrors"
            write_meta mixed skipped "needs atlas-test-mirror (--mirror-bin / ATLAS_TEST_MIRROR)"
            rm -f -- "$OUT/mixed.tsv"
            return 0
        fi
    fi
    bench_log "=== $scen: nginx 60m/30m/5m + dead$( ((partial)) || echo ' + stall + corrupt'), $MIXED_SIZE"
    prepare_file "$MIXED_SIZE"
    NGINX_CONN_LIMIT=$CONN_LIMIT bench_nginx_start "$DATA" 60m 30m 5m
    local fast=${NGINX_PORTS[0]} med=${NGINX_PORTS[1]} slow=${NGINX_PORTS[2]} dead
    dead=$(bench_free_port)   # nothing listens there: connection refused
    # Deliberately adversarial priority order: the bad mirrors come first.
    URLS=("http://127.0.0.1:$dead/$NAME")
    if ((!partial)); then
        bench_mirror_start "$DATA"
        URLS+=("http://127.0.0.1:$MIRROR_PORT/stall=1048576/$NAME")
    fi
    URLS+=("http://127.0.0.1:$fast/$NAME")
    ((partial)) || URLS+=("http://127.0.0.1:$MIRROR_PORT/corrupt=all/$NAME")
    URLS+=("http://127.0.0.1:$med/$NAME" "http://127.0.0.1:$slow/$NAME")
    make_meta "$scen"
    NCONN=${#URLS[@]}
    CURL_IDX=$(((partial) ? 1 : 2))   # curl: the fast mirror, as a single-stream reference
    local desc="dead, "
    ((partial)) || desc+="stall=1048576 (test mirror), "
    desc+="nginx 60m, "
    ((partial)) || desc+="corrupt=all (test mirror), "
    desc+="nginx 30m, nginx 5m (priority order)"
    write_meta "$scen" size_bytes "$BYTES" mirrors "$desc" healthy_mibs 95 caps "$(caps_desc)" \
        ideal_s "$(python3 -c "print(round($BYTES / (95 * 1048576), 3))")" piece_bytes 1048576
    run_tools "$scen" "${ALL_TOOLS[@]}"
    bench_mirror_stop
    bench_nginx_stop
}

scen_rss4g() {
    local bytes need free
    bytes=$(bench_bytes "$RSS_SIZE")
    need=$((bytes * 2 + 1024 * 1024 * 1024))
    free=$(bench_shm_free_bytes "$BENCH_TMP")
    local why=""
    if ((SMOKE)); then why="smoke mode"
    elif [[ -z $ATLAS_BIN ]]; then why="atlas CLI not given (--atlas / ATLAS)"
    elif ((free < need)); then why="tmpfs has $((free >> 30)) GiB free, needs $((need >> 30)) GiB"
    fi
    if [[ -n $why ]]; then
        bench_log "SKIP rss4g: $why"
        write_meta rss4g skipped "$why"
        rm -f -- "$OUT/rss4g.tsv"
        return 0
    fi
    bench_log "=== rss4g: atlas, $RSS_SIZE from 4 nginx mirrors, peak RSS"
    prepare_file "$RSS_SIZE"
    bench_nginx_start "$DATA" 0 0 0 0
    URLS=(); local p
    for p in "${NGINX_PORTS[@]}"; do URLS+=("http://127.0.0.1:$p/$NAME"); done
    make_meta rss4g
    NCONN=4; CURL_IDX=0
    write_meta rss4g size_bytes "$bytes" mirrors "4 x nginx, unthrottled" piece_bytes 1048576
    run_tools rss4g atlas-metalink
    bench_nginx_stop
}

for s in fast4 capped4 mixed rss4g; do
    if want "$s"; then
        "scen_$s"
        rm -f -- "$DATA/$NAME"
    fi
done

bench_log "done in $((SECONDS - START)) s; results in $OUT"
if ((REPORT)); then
    "$BENCH_DIR/report.sh" "$OUT"
else
    bench_log "make the report with: bench/report.sh $OUT"
fi
