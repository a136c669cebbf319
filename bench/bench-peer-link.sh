#!/usr/bin/env bash
# Peer link benchmark: QUIC (ngtcp2 + GnuTLS, atlas-quic-connection) bulk throughput
# client -> server over loopback UDP and over the impaired pipe with loss.
# See bench/README.md.  Usage: bench/bench-peer-link.sh [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<'EOF'
usage: bench/bench-peer-link.sh [options]
  --bin PATH        bench-peer-link executable
                    (default: $BENCH_PEER_LINK, else build*/tests/engine/bench-peer-link)
  --runs N          runs per scenario (default 5; the median is reported)
  --size MIB        MiB per run (default 1024)
  --smoke           32 MiB, 1 run
  --loss P          loss each way in the lossy scenarios (default 0.005)
  --delay-ms MS     also run the lossy scenario with this one-way delay (default 10; 0: skip)
  --cc ALGO         bbr (default), bbr2, cubic or reno
  --compare-cc      run every scenario with cubic, bbr and bbr2
  --out DIR         result dir (default bench/results/peer-link); runs.tsv + summary.txt
  --timeout S       per-run timeout in seconds (default 300)
EOF
}

BIN=${BENCH_PEER_LINK:-}
RUNS=5; SIZE=1024; SMOKE=0; LOSS=0.005; DELAY=10; CCS=(bbr)
OUT=$BENCH_DIR/results/peer-link
while (($#)); do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --loss) LOSS=$2; shift 2 ;;
        --delay-ms) DELAY=$2; shift 2 ;;
        --cc) CCS=("$2"); shift 2 ;;
        --compare-cc) CCS=(cubic bbr bbr2); shift ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) BENCH_TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"
[[ $SIZE =~ ^[1-9][0-9]*$ ]] || bench_die "--size must be a positive number of MiB"
[[ $DELAY =~ ^[0-9]+$ ]] || bench_die "--delay-ms must be a number"
if ((SMOKE)); then
    RUNS=1; SIZE=32
fi
if [[ -z $BIN ]]; then
    for candidate in "$BENCH_DIR"/../build*/tests/engine/bench-peer-link; do
        [[ -x $candidate ]] && { BIN=$candidate; break; }
    done
fi
[[ -n $BIN && -x $BIN ]] ||
    bench_die "bench-peer-link not found: build it (ninja -C build tests/engine/bench-peer-link) or pass --bin"
command -v timeout >/dev/null || bench_die "missing: timeout (coreutils)"

mkdir -p "$OUT"
TSV=$OUT/runs.tsv
printf 'scenario\tmib\tseconds\tmib_per_s\tverified\tlost_frames\tcc\trun\n' >"$TSV"

# run_one RUN ARGS...: one bench-peer-link invocation; appends its lines to the TSV.
# A run that times out, fails or does not verify is recorded with 0 MiB/s.
run_one() {
    local run=$1; shift
    local out rc=0
    out=$(timeout -k 5 "$BENCH_TIMEOUT" "$BIN" --size "$SIZE" "$@" 2>"$OUT/last.err") || rc=$?
    if ((rc != 0)) || [[ -z $out ]]; then
        bench_log "run $run ($*): exit $rc: $(tail -n 2 "$OUT/last.err" | tr '\n' ' ')"
        printf 'FAILED %s\t%s\t\t0\tNO\t\t\t%s\n' "$*" "$SIZE" "$run" >>"$TSV"
        return
    fi
    while IFS= read -r line; do
        printf '%s\t%s\n' "$line" "$run" >>"$TSV"
        bench_log "run $run: $line"
    done <<<"$out"
}

START=$SECONDS
for ((run = 1; run <= RUNS; run++)); do
    for cc in "${CCS[@]}"; do
        run_one "$run" --mode udp --cc "$cc"
        run_one "$run" --mode ice --cc "$cc"
        run_one "$run" --mode lossy --loss "$LOSS" --cc "$cc"
        if ((DELAY > 0)); then
            run_one "$run" --mode lossy --loss "$LOSS" --delay-ms "$DELAY" --cc "$cc"
        fi
    done
done

# Medians per scenario and congestion controller; a scenario with any unverified run
# shows FAIL instead of a number.
python3 - "$TSV" "$RUNS" "$SIZE" >"$OUT/summary.txt" <<'EOF'
import statistics, sys
from collections import defaultdict
path, runs, size = sys.argv[1], sys.argv[2], sys.argv[3]
rates, bad, lost = defaultdict(list), set(), defaultdict(list)
with open(path) as f:
    next(f)
    for line in f:
        cols = line.rstrip("\n").split("\t")
        key = (cols[0], cols[6] or "-")
        if cols[4] != "yes":
            bad.add(key)
            continue
        rates[key].append(float(cols[3]))
        if cols[5]:
            lost[key].append(int(cols[5]))
print(f"QUIC peer link, {size} MiB client -> server, median of {runs} run(s), MiB/s")
print()
print(f"| {'scenario':<22} | {'cc':<5} | {'median':>8} | {'min':>8} | {'max':>8} | {'lost frames':>11} |")
print(f"|{'-' * 24}|{'-' * 7}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 13}|")
for key in sorted(set(rates) | bad):
    scenario, cc = key
    if key in bad or not rates[key]:
        print(f"| {scenario:<22} | {cc:<5} | {'FAIL':>8} | {'':>8} | {'':>8} | {'':>11} |")
        continue
    r = rates[key]
    l = int(statistics.median(lost[key])) if lost[key] else 0
    print(f"| {scenario:<22} | {cc:<5} | {statistics.median(r):8.1f} | {min(r):8.1f} | {max(r):8.1f} | {l:>11} |")
EOF
cat "$OUT/summary.txt"
bench_log "done in $((SECONDS - START)) s; raw runs in $TSV"
