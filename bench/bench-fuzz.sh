#!/bin/sh
# bench-fuzz.sh — long libFuzzer runs: every target for a number of executions
# (default 10 million, the hardening goal), with AddressSanitizer and
# UndefinedBehaviorSanitizer, one after another, and a table of the counts.
#
# Usage: bench/bench-fuzz.sh [--runs N] [--smoke] [--build DIR] [--out DIR] [TARGET...]
#   --runs N     executions per target (default 10000000)
#   --smoke      10 s per target instead (what CI runs)
#   --build DIR  clang build directory (default build-fuzz; configured if missing)
#   --out DIR    results (default bench/results/fuzz, smoke: bench/results/fuzz-smoke):
#                runs.tsv (target, executions, seconds, executions/s, corpus files,
#                result) and table.md
# Needs clang and libclang-rt-14-dev (tools/install-deps test installs them).
# Exits non-zero if any target crashed, leaked, or hit undefined behaviour;
# the input is in BUILD/fuzz-artifacts/TARGET.
set -eu
cd "$(dirname "$0")/.."

runs=10000000
smoke=
build=build-fuzz
out=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --smoke) smoke=1; shift ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "bench-fuzz: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ -n "$smoke" ]; then
  out=${out:-bench/results/fuzz-smoke}
  limit="-s 10"
else
  out=${out:-bench/results/fuzz}
  limit="-n $runs"
fi
mkdir -p "$out"
tsv="$out/runs.tsv"
printf 'target\texecutions\tseconds\texecutions_per_s\tcorpus_files\tresult\n' > "$tsv"

status=0
# shellcheck disable=SC2086 # $limit is two words
tests/fuzz/run-fuzzers.sh $limit -b "$build" -o "$tsv" "$@" || status=$?

{
  echo "| target | executions | seconds | executions/s | corpus files | result |"
  echo "|---|--:|--:|--:|--:|---|"
  tail -n +2 "$tsv" | awk -F '\t' '{ printf "| %s | %d | %d | %d | %d | %s |\n", $1, $2, $3, $4, $5, $6 }'
} > "$out/table.md"
cat "$out/table.md"
exit "$status"
