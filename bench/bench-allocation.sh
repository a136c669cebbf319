#!/usr/bin/env bash
# Donation allocation benchmark: the coordinator's allocator
# (src/tracker/atlas-donation-alloc.c) on simulated populations of donors and
# downloaders, timed, and its demand met compared with the exact optimum.
# See bench/README.md ("Donation allocation").  Usage: bench/bench-allocation.sh [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<'EOF2'
usage: bench/bench-allocation.sh [options]
  --bin PATH     bench-allocation executable
                 (default: $BENCH_ALLOCATION, else build*/tests/tracker/bench-allocation)
  --runs N       simulations per population, seeds 1..N (default 3)
  --smoke        two small populations, 1 run, a few seconds
  --out DIR      result dir (default bench/results/full/allocation; smoke:
                 bench/results/smoke/allocation); runs.tsv + summary.txt
  --timeout S    per-run timeout in seconds (default 300)
EOF2
}

BIN=${BENCH_ALLOCATION:-}
RUNS=3; SMOKE=0; OUT=""
while (($#)); do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) BENCH_TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"

# Populations: name donors entries pieces-per-entry downloaders steps (5 s each).
if ((SMOKE)); then
    RUNS=1
    OUT=${OUT:-$BENCH_DIR/results/smoke/allocation}
    POPULATIONS=(
        "small 50 5 512 100 12"
        "issue-short 300 20 512 500 12"
    )
else
    OUT=${OUT:-$BENCH_DIR/results/full/allocation}
    POPULATIONS=(
        "small 50 5 512 100 24"
        "issue 300 20 2048 500 72"
        "target 200 20 4096 1000 60"
        "large 1000 20 4096 2000 24"
    )
fi

if [[ -z $BIN ]]; then
    for candidate in "$BENCH_DIR"/../build*/tests/tracker/bench-allocation; do
        [[ -x $candidate ]] && { BIN=$candidate; break; }
    done
fi
[[ -n $BIN && -x $BIN ]] ||
    bench_die "bench-allocation not found: build it (ninja -C build tests/tracker/bench-allocation) or pass --bin"
command -v timeout >/dev/null || bench_die "missing: timeout (coreutils)"

mkdir -p "$OUT"
TSV=$OUT/runs.tsv
printf 'population\tdonors\tentries\tpieces\tdownloaders\tsteps\tseed\talloc_ms_median\talloc_ms_max\toptimum_ms_median\tratio_median\tratio_worst\tchurn_median\tstatus\n' >"$TSV"

failed=0
for pop in "${POPULATIONS[@]}"; do
    read -r name donors entries pieces downloaders steps <<<"$pop"
    for ((seed = 1; seed <= RUNS; seed++)); do
        rc=0
        line=$(timeout -k 5 "$BENCH_TIMEOUT" "$BIN" "$donors" "$entries" "$pieces" \
            "$downloaders" "$steps" "$seed" 2>"$OUT/last.err") || rc=$?
        if ((rc != 0)) || [[ -z $line ]]; then
            bench_log "$name seed $seed: exit $rc: $(tail -n 2 "$OUT/last.err" | tr '\n' ' ')"
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t\t\t\t\t\t\tFAIL\n' "$name" "$donors" "$entries" \
                "$pieces" "$downloaders" "$steps" "$seed" >>"$TSV"
            failed=1
            continue
        fi
        # The binary prints donors..steps, then the measurements.
        printf '%s\t%s\t%s\t%s\tok\n' "$name" "$(cut -f1-5 <<<"$line")" "$seed" \
            "$(cut -f6- <<<"$line")" >>"$TSV"
        bench_log "$name seed $seed: $line"
    done
done
rm -f "$OUT/last.err"

# Summary: per population, the median over runs of the per-run medians, the
# largest single allocation and the worst ratio seen in any step.
python3 - "$TSV" >"$OUT/summary.txt" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
order = []
for r in rows:
    if r['population'] not in order:
        order.append(r['population'])
print(f"{'population':<12} {'donors':>6} {'entries':>7} {'pieces':>7} {'downl.':>6} {'runs':>4} "
      f"{'alloc ms':>9} {'max ms':>7} {'opt ms':>7} {'met/opt med':>11} {'worst':>7} {'churn':>7}")
for name in order:
    rs = [r for r in rows if r['population'] == name]
    ok = [r for r in rs if r['status'] == 'ok']
    r0 = rs[0]
    pieces = int(r0['entries']) * int(r0['pieces'])
    if len(ok) != len(rs):
        print(f"{name:<12} {r0['donors']:>6} {r0['entries']:>7} {pieces:>7} {r0['downloaders']:>6} "
              f"{len(rs):>4} FAIL ({len(rs) - len(ok)} runs broke a cap or did not finish)")
        continue
    med = lambda k: statistics.median(float(r[k]) for r in ok)
    print(f"{name:<12} {r0['donors']:>6} {r0['entries']:>7} {pieces:>7} {r0['downloaders']:>6} "
          f"{len(ok):>4} {med('alloc_ms_median'):>9.2f} "
          f"{max(float(r['alloc_ms_max']) for r in ok):>7.2f} {med('optimum_ms_median'):>7.2f} "
          f"{med('ratio_median'):>11.4f} {min(float(r['ratio_worst']) for r in ok):>7.4f} "
          f"{med('churn_median'):>7.4f}")
PY
{
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'host\t%s\n' "$(uname -n)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'bin\t%s\n' "$BIN"
} >"$OUT/env.tsv"
cat "$OUT/summary.txt"
bench_log "results in $OUT"
exit "$failed"
