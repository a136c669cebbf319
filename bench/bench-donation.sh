#!/usr/bin/env bash
# Donation offload benchmark: a capped origin mirror, donors supporting the file, then
# downloaders arriving over a minute; how much the peers and donors took off the origin,
# and whether every downloader was faster than with the origin alone.
# See bench/README.md ("Donation offload").
# Usage: bench/bench-donation.sh [--smoke] [--runs N] [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
ROOT_DIR=$(cd "$BENCH_DIR/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/bench-donation.sh [options]
  --runs N               rounds (default 3); each round runs every scenario once, interleaved
  --scenarios LIST       comma-separated: donation, origin, peers (default donation,origin;
                         peers = downloaders with the tracker but no donors)
  --size SIZE            file size (default 256M)
  --origin-rate RATE     origin mirror cap, all connections together (default 10M)
  --donors N             donors (default 6)
  --donor-storage SIZE   --storage of each donor (default 100M)
  --donor-upload RATE    --upload of each donor (default 5M)
  --downloaders N        downloaders (default 8)
  --downloader-upload R  --upload-limit of each downloader (default 5M)
  --arrival-window S     downloaders start evenly over S seconds (default 60)
  --warmup-max S         donors' warm-up ends after S seconds at the latest (default 120)
  --warmup-still S       ... or once their storage_used has not grown for S s (default 5)
  --timeout S            download phase limit per run (default 900; smoke 90)
  --smoke                16 MiB, 2 donors with 8M storage, 2 downloaders, origin 4M, 1 run
  --out DIR              result dir (default bench/results/full/donation; smoke:
                         bench/results/smoke/donation)
  --atlas PATH           atlas CLI (default: $ATLAS, else build*/src/cli/atlas)
  --tracker-bin PATH     atlas-tracker (default: $ATLAS_TRACKER_BIN, else next to the CLI's build)
  --mirror-bin PATH      atlas-test-mirror (default: $ATLAS_TEST_MIRROR, else the CLI's build)
EOF
}

RUNS=3; SIZE=256M; ORIGIN_RATE=10M
DONORS=6; DONOR_STORAGE=100M; DONOR_UPLOAD=5M
DOWNLOADERS=8; DOWNLOADER_UPLOAD=5M
ARRIVAL_WINDOW=60; WARMUP_MAX=120; WARMUP_STILL=5
SCENARIOS=donation,origin
SMOKE=0
OUT=""
ATLAS_BIN=${ATLAS:-}
TRACKER_BIN=${ATLAS_TRACKER_BIN:-}
TIMEOUT=""
while (($#)); do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --origin-rate) ORIGIN_RATE=$2; shift 2 ;;
        --donors) DONORS=$2; shift 2 ;;
        --donor-storage) DONOR_STORAGE=$2; shift 2 ;;
        --donor-upload) DONOR_UPLOAD=$2; shift 2 ;;
        --downloaders) DOWNLOADERS=$2; shift 2 ;;
        --downloader-upload) DOWNLOADER_UPLOAD=$2; shift 2 ;;
        --arrival-window) ARRIVAL_WINDOW=$2; shift 2 ;;
        --warmup-max) WARMUP_MAX=$2; shift 2 ;;
        --warmup-still) WARMUP_STILL=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --atlas) ATLAS_BIN=$2; shift 2 ;;
        --tracker-bin) TRACKER_BIN=$2; shift 2 ;;
        --mirror-bin) MIRROR_BIN=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
if ((SMOKE)); then
    RUNS=1; SIZE=16M; ORIGIN_RATE=4M
    DONORS=2; DONOR_STORAGE=8M; DOWNLOADERS=2
    ARRIVAL_WINDOW=2; WARMUP_MAX=30; WARMUP_STILL=3
    [[ -n $TIMEOUT ]] || TIMEOUT=90
    [[ -n $OUT ]] || OUT=$BENCH_DIR/results/smoke/donation
fi
[[ -n $TIMEOUT ]] || TIMEOUT=900
[[ -n $OUT ]] || OUT=$BENCH_DIR/results/full/donation
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"
[[ $DONORS =~ ^[0-9]{1,2}$ ]] || bench_die "--donors must be 0..99"
[[ $DOWNLOADERS =~ ^[1-9][0-9]?$ ]] || bench_die "--downloaders must be 1..99"
for n in "$ARRIVAL_WINDOW" "$WARMUP_MAX" "$WARMUP_STILL" "$TIMEOUT"; do
    [[ $n =~ ^[0-9]+$ ]] || bench_die "times are whole seconds: $n"
done
IFS=, read -r -a SCENS <<<"$SCENARIOS"
for s in "${SCENS[@]}"; do
    case $s in donation|origin|peers) ;; *) bench_die "unknown scenario: $s" ;; esac
done

# ---------------------------------------------------------------- binaries
if [[ -z $ATLAS_BIN ]]; then
    for b in "$ROOT_DIR"/build/src/cli/atlas "$ROOT_DIR"/build*/src/cli/atlas; do
        [[ -x $b ]] && { ATLAS_BIN=$b; break; }
    done
fi
[[ -n $ATLAS_BIN && -x $ATLAS_BIN ]] || bench_die "atlas CLI not found (--atlas)"
ATLAS_BIN=$(cd "$(dirname "$ATLAS_BIN")" && pwd)/$(basename "$ATLAS_BIN")
ATLAS_BUILD=$(cd "$(dirname "$ATLAS_BIN")/../.." && pwd)
[[ -n $TRACKER_BIN ]] || TRACKER_BIN=$ATLAS_BUILD/src/tracker/atlas-tracker
[[ -n $MIRROR_BIN ]] || MIRROR_BIN=$ATLAS_BUILD/tests/mirror/atlas-test-mirror
[[ -x $TRACKER_BIN ]] || bench_die "atlas-tracker not found (--tracker-bin)"
bench_have_mirror || bench_die "atlas-test-mirror not found (--mirror-bin)"
"$ATLAS_BIN" help donate >/dev/null 2>&1 || "$ATLAS_BIN" donate --help >/dev/null 2>&1 ||
    bench_die "this atlas has no 'donate' command"

bench_tmp_init
DATA=$BENCH_TMP/data
mkdir -p "$DATA"; chmod 755 "$DATA"
NAME=bench.bin
BYTES=$(bench_bytes "$SIZE")
ORIGIN_BPS=$(bench_bytes "$ORIGIN_RATE")
START=$SECONDS
rm -rf -- "$OUT"; mkdir -p "$OUT/logs"

{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'host\t%s cores, %s, kernel %s\n' "$(nproc)" \
        "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')" "$(uname -r)"
    printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'atlas\t%s\n' "$ATLAS_BIN"
    printf 'atlas_commit\t%s\n' "$(git -C "$ROOT_DIR" describe --always --dirty 2>/dev/null || echo n/a)"
    printf 'atlas_built\t%s\n' "$(date -u -r "$ATLAS_BIN" +%Y-%m-%dT%H:%M:%SZ)"
    printf 'scenarios\t%s\n' "$SCENARIOS"
    printf 'file_bytes\t%s\n' "$BYTES"
    printf 'piece_bytes\t%s\n' 1048576
    printf 'origin_rate_bps\t%s\n' "$ORIGIN_BPS"
    printf 'donors\t%s\n' "$DONORS"
    printf 'donor_storage_bytes\t%s\n' "$(bench_bytes "$DONOR_STORAGE")"
    printf 'donor_upload_bps\t%s\n' "$(bench_bytes "$DONOR_UPLOAD")"
    printf 'downloaders\t%s\n' "$DOWNLOADERS"
    printf 'downloader_upload_bps\t%s\n' "$(bench_bytes "$DOWNLOADER_UPLOAD")"
    printf 'arrival_window_s\t%s\n' "$ARRIVAL_WINDOW"
    printf 'warmup_max_s\t%s\n' "$WARMUP_MAX"
    printf 'warmup_still_s\t%s\n' "$WARMUP_STILL"
    printf 'runs\t%s\n' "$RUNS"
    printf 'smoke\t%s\n' "$SMOKE"
    printf 'timeout_s\t%s\n' "$TIMEOUT"
} >"$OUT/env.tsv"

bench_log "making $BYTES-byte random file"
bench_make_file "$DATA/$NAME" "$BYTES"
SHA=$(bench_sha256 "$DATA/$NAME")
bench_mirror_start "$DATA"
MIRROR_LOG=$(compgen -G "$BENCH_TMP/mirror.*.log" | head -n 1 || true)
[[ -n $MIRROR_LOG ]] || bench_die "the test mirror opened no request log"
ORIGIN_URL=http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE/$NAME

# ---------------------------------------------------------------- tracker
TRACKER_PID=""
TRACKER_URL=""
# start_tracker WORK: a fresh tracker (its own database, so no demand history carries
# over between runs), an uploader and a downloader token; sets TRACKER_URL, UP, DOWN.
start_tracker() {
    local work=$1
    bench_tracker_start "$work"
    UP=$TRACKER_UP
    DOWN=$TRACKER_DOWN
    printf '%s\n' "$DOWN" >"$work/token"
    chmod 600 "$work/token"
}

stop_tracker() {
    [[ -n $TRACKER_PID ]] || return 0
    kill -TERM "$TRACKER_PID" 2>/dev/null || true
    local n=0
    while kill -0 "$TRACKER_PID" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$TRACKER_PID" 2>/dev/null || true
    wait "$TRACKER_PID" 2>/dev/null || true
    bench_forget_pid "$TRACKER_PID"
    TRACKER_PID=""
}

# publish WORK: `atlas publish` the file with the capped origin as its mirror; sets ENTRY.
publish() {
    local work=$1 js
    js=$(ATLAS_TRACKER_TOKEN=$UP "$ATLAS_BIN" publish "$DATA/$NAME" --tracker "$TRACKER_URL" \
        --mirror "$ORIGIN_URL" --piece-size 1M --output "$work/$NAME.meta4" --json) ||
        bench_die "atlas publish failed"
    ENTRY=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].splitlines()[-1])["entry"])' "$js")
    ENTRY=${ENTRY#sha256:}
}

# The origin-alone downloaders use the same Metalink (same mirror URL, same piece
# hashes), read from a file and without a tracker: no peers at all.
SETUP=$BENCH_TMP/setup
mkdir -p "$SETUP"
start_tracker "$SETUP"
publish "$SETUP"
stop_tracker
METALINK=$SETUP/$NAME.meta4
bench_log "entry $ENTRY, origin $ORIGIN_URL"

# ---------------------------------------------------------------- one scenario run
run_scenario() {
    local scen=$1 run=$2 work=$BENCH_TMP/$1-$2
    rm -rf -- "$work"; mkdir -p "$work"
    local donors=0 tracker="" peers=false
    case $scen in
        donation) donors=$DONORS; peers=true ;;
        peers) peers=true ;;
    esac
    if [[ $peers == true ]]; then
        start_tracker "$work"
        publish "$work"
        tracker=$TRACKER_URL
    fi
    bench_log "$scen run $run: $donors donors, $DOWNLOADERS downloaders over ${ARRIVAL_WINDOW}s${tracker:+, tracker $tracker}"
    python3 - "$work/config.json" <<EOF
import json, sys
json.dump({
    "scenario": "$scen", "work": "$work", "name": "$NAME", "atlas": "$ATLAS_BIN",
    "tracker": "$tracker" or None, "token_file": "$work/token",
    "downloader_token": "${DOWN:-}" if "$peers" == "true" else None,
    "downloader_peers": "$peers" == "true", "metalink": "$METALINK",
    "cause": "$ENTRY", "donors": $donors, "donor_storage": "$DONOR_STORAGE",
    "donor_upload": "$DONOR_UPLOAD", "downloaders": $DOWNLOADERS,
    "downloader_upload": "$DOWNLOADER_UPLOAD", "arrival_window": $ARRIVAL_WINDOW,
    "warmup_max": $WARMUP_MAX, "warmup_still": $WARMUP_STILL, "timeout": $TIMEOUT,
    "mirror_log": "$MIRROR_LOG", "sha256": "$SHA",
}, open(sys.argv[1], "w"))
EOF
    local rc=0
    python3 "$BENCH_DIR/donation-harness.py" "$work/config.json" >"$work/result.json" || rc=$?
    stop_tracker
    if ((rc != 0)) || [[ ! -s $work/result.json ]]; then
        bench_die "the donation harness failed (exit $rc)"
    fi
    python3 "$BENCH_DIR/donation-report.py" rows "$work/result.json" "$run" "$OUT" "$BYTES"

    # Keep what explains a run (small): the result, origin requests, every process's
    # timestamped JSON lines and stderr, the tracker's log.
    local keep=$OUT/logs/$scen-$run d
    rm -rf -- "$keep"; mkdir -p "$keep"
    cp "$work/result.json" "$work/origin.log" "$keep/"
    cp "$work"/*-argv.txt "$keep/" 2>/dev/null || true
    [[ -f $work/tracker.err ]] && cp "$work/tracker.err" "$keep/"
    for d in "$work"/donor-* "$work"/dl-*; do
        [[ -d $d ]] || continue
        cp "$d/stdout.jsonl" "$keep/$(basename "$d").stdout.jsonl"
        cp "$d/stderr.log" "$keep/$(basename "$d").stderr.log"
    done
    rm -rf -- "$work"
}

for ((r = 1; r <= RUNS; r++)); do
    for s in "${SCENS[@]}"; do
        run_scenario "$s" "$r"
    done
done
bench_mirror_stop
printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.tsv"
python3 "$BENCH_DIR/donation-report.py" summary "$OUT"
bench_log "done in $((SECONDS - START)) s; results in $OUT"
