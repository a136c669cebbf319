#!/usr/bin/env bash
# Turn bench-download.sh results into docs/benchmarks.md and docs/bench-download.png.
# usage: bench/report.sh [RESULT_DIR] [--docs DIR]
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RDIR=$BENCH_DIR/results/latest
DOCS=$(cd "$BENCH_DIR/.." && pwd)/docs
while (($#)); do
    case $1 in
        --docs) DOCS=$2; shift 2 ;;
        -h|--help) sed -n 2,3p "$0"; exit 0 ;;
        *) RDIR=$1; shift ;;
    esac
done
[[ -d $RDIR ]] || { echo "no result dir: $RDIR" >&2; exit 1; }
mkdir -p "$DOCS"
DAT=$RDIR/summary-chart.tsv
NCOLS=$(python3 "$BENCH_DIR/report.py" "$RDIR" "$DOCS/benchmarks.md" "$DAT" bench-download.png)
echo "wrote $DOCS/benchmarks.md"
if ! command -v gnuplot >/dev/null 2>&1; then
    echo "gnuplot not installed (apt-get install gnuplot-nox): no chart" >&2
elif ((NCOLS < 1)); then
    echo "no scenario with results: no chart" >&2
else
    gnuplot -e "datafile='$DAT'; outfile='$DOCS/bench-download.png'; ncols=$NCOLS" \
        "$BENCH_DIR/plot.gnuplot"
    echo "wrote $DOCS/bench-download.png"
fi
