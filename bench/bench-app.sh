#!/usr/bin/env bash
# App benchmark: what the desktop app costs a user, measured through the same
# window the app shows (tests/app/bench-ui, under Xvfb like the UI tests):
#   firstframe  time from process start to the first frame showing a queue of
#               N downloads, and RSS at that frame (goal: <= 1 s, <= 150 MiB at 10,000)
#   stall       a loopback download at full speed (nginx, one server) while the
#               window shows that queue: the longest and the p99 lateness of a
#               5 ms main-loop timer (goal: longest <= 20 ms)
# Usage: bench/bench-app.sh [--build DIR] [--runs N] [--queue N] [--size SIZE]
#                           [--smoke] [--out DIR]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

BUILD=$ROOT/build
RUNS=5
QUEUE=10000
SIZE=1G
OUT=$BENCH_DIR/results/app
SMOKE=0
while (($#)); do
    case $1 in
        --build) BUILD=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --queue) QUEUE=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) bench_die "unknown option: $1" ;;
    esac
done
if ((SMOKE)); then
    RUNS=1; QUEUE=1000; SIZE=64M
    [[ $OUT == "$BENCH_DIR/results/app" ]] && OUT=$BENCH_DIR/results/app-smoke
fi
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"

UI=$BUILD/tests/app/bench-ui
XVFB=$ROOT/tests/app/run-under-xvfb.sh
[[ -x $UI ]] || bench_die "$UI not built (the app needs libgtk-4-dev and libadwaita-1-dev)"
[[ -f $BUILD/data/gschemas.compiled ]] || bench_die "no compiled schema in $BUILD/data"
command -v Xvfb >/dev/null || bench_die "Xvfb is missing (apt-get install xvfb)"
command -v nginx >/dev/null || bench_die "nginx is missing (apt-get install nginx-light)"

bench_tmp_init
mkdir -p "$OUT" "$BENCH_TMP/data" "$BENCH_TMP/dl"
chmod 755 "$BENCH_TMP/data"
export GSETTINGS_SCHEMA_DIR=$BUILD/data

# One fresh copy of the queue per run: a run that downloads changes it.
bench_log "making a queue of $QUEUE downloads"
"$UI" --make-queue "$QUEUE" "$BENCH_TMP/queue.sqlite" >&2
fresh_queue() {
    rm -rf "$BENCH_TMP/run" && mkdir -p "$BENCH_TMP/run"
    cp "$BENCH_TMP"/queue.sqlite* "$BENCH_TMP/run/"
    rm -f "$BENCH_TMP/run/queue.sqlite.lock"
    echo "$BENCH_TMP/run/queue.sqlite"
}

# value KEY FILE: the number after KEY in bench-ui's output.
value() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "n/a" }'; }

TSV=$OUT/app.tsv
printf 'scenario\trun\tqueue\tfirst_frame_ms\trss_kib\tstall_max_ms\tstall_p99_ms\tmib_per_s\tstate\n' >"$TSV"

for ((r = 1; r <= RUNS; r++)); do
    q=$(fresh_queue)
    timeout 120 "$XVFB" "$UI" "$q" >"$BENCH_TMP/out" 2>"$BENCH_TMP/err" ||
        { cat "$BENCH_TMP/err" >&2; bench_die "bench-ui failed (firstframe run $r)"; }
    printf 'firstframe\t%s\t%s\t%s\t%s\t\t\t\t\n' "$r" "$(value queue_size "$BENCH_TMP/out")" \
        "$(value first_frame_ms "$BENCH_TMP/out")" "$(value rss_at_first_frame_kib "$BENCH_TMP/out")" >>"$TSV"
    bench_log "firstframe run $r: $(value first_frame_ms "$BENCH_TMP/out") ms, RSS $(value rss_at_first_frame_kib "$BENCH_TMP/out") KiB"
done

BYTES=$(bench_bytes "$SIZE")
bench_make_file "$BENCH_TMP/data/big.bin" "$BYTES"
SHA=$(bench_sha256 "$BENCH_TMP/data/big.bin")
bench_nginx_start "$BENCH_TMP/data" 0
URL="http://127.0.0.1:${NGINX_PORTS[0]}/big.bin"
for ((r = 1; r <= RUNS; r++)); do
    q=$(fresh_queue)
    rm -f "$BENCH_TMP"/dl/*
    timeout 300 "$XVFB" "$UI" "$q" --download "$URL" --sha256 "$SHA" --dir "$BENCH_TMP/dl" \
        >"$BENCH_TMP/out" 2>"$BENCH_TMP/err" ||
        { cat "$BENCH_TMP/err" >&2; bench_die "bench-ui failed (stall run $r)"; }
    state=$(value download_state "$BENCH_TMP/out")
    [[ $state == complete ]] || bench_die "stall run $r: download ended $state"
    printf 'stall\t%s\t%s\t\t%s\t%s\t%s\t%s\t%s\n' "$r" "$(value queue_size "$BENCH_TMP/out")" \
        "$(value rss_peak_kib "$BENCH_TMP/out")" "$(value stall_max_ms "$BENCH_TMP/out")" \
        "$(value stall_p99_ms "$BENCH_TMP/out")" "$(value download_mib_per_s "$BENCH_TMP/out")" \
        "$state" >>"$TSV"
    bench_log "stall run $r: longest $(value stall_max_ms "$BENCH_TMP/out") ms, p99 $(value stall_p99_ms "$BENCH_TMP/out") ms, $(value download_mib_per_s "$BENCH_TMP/out") MiB/s"
done
bench_nginx_stop

col() { awk -F'\t' -v s="$1" -v c="$2" 'NR > 1 && $1 == s && $c != "" { print $c }' "$TSV" | median; }
{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'runs\t%s\n' "$RUNS"
    printf 'queue\t%s\n' "$QUEUE"
    printf 'download_bytes\t%s\n' "$BYTES"
    printf 'first_frame_ms_median\t%s\n' "$(col firstframe 4)"
    printf 'rss_first_frame_kib_median\t%s\n' "$(col firstframe 5)"
    printf 'stall_max_ms_median\t%s\n' "$(col stall 6)"
    printf 'stall_p99_ms_median\t%s\n' "$(col stall 7)"
    printf 'download_mib_per_s_median\t%s\n' "$(col stall 8)"
    printf 'rss_peak_during_download_kib_median\t%s\n' "$(col stall 5)"
} >"$OUT/summary.tsv"
column -t -s $'\t' "$OUT/summary.tsv" >&2
