#!/bin/sh
# run-fuzzers.sh — builds the libFuzzer targets with clang and runs each for a while.
#
# Usage: tests/fuzz/run-fuzzers.sh [-s SECONDS | -n RUNS] [-b BUILD_DIR] [-o SUMMARY] [TARGET...]
#   SECONDS    how long each target runs (default 30)
#   RUNS       run each target for this many executions instead (libFuzzer -runs)
#   BUILD_DIR  the clang build directory (default build-fuzz at the top of the tree)
#   SUMMARY    append one tab-separated line per target: target, executions,
#              seconds, executions/s, corpus files, result (ok or crash)
#   TARGET     checksum, filename, http-headers, metalink, sums, peer-wire, tracker-wire,
#              donor-ledger, peer-session (default: all)
#
# New inputs libFuzzer finds go to BUILD_DIR/fuzz-corpus/TARGET, crashers to
# BUILD_DIR/fuzz-artifacts/TARGET; neither touches the source tree. Copy a
# crasher into tests/fuzz/corpus/TARGET once it is fixed, so the replay test
# keeps it fixed. Exits non-zero if any target found a crash.
set -eu

seconds=30
runs=
summary=
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir="$source_dir/build-fuzz"

while getopts s:n:b:o: option; do
  case $option in
    s) seconds=$OPTARG ;;
    n) runs=$OPTARG ;;
    b) build_dir=$OPTARG ;;
    o) summary=$OPTARG ;;
    *) sed -n '3,11p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=${*:-checksum filename http-headers metalink sums peer-wire tracker-wire donor-ledger peer-session}
if [ -n "$runs" ]; then
  limit="-runs=$runs"
else
  limit="-max_total_time=$seconds"
fi

if [ ! -f "$build_dir/build.ninja" ]; then
  CC=clang meson setup "$build_dir" "$source_dir" -Dfuzzing=true -Dapp=disabled \
    -Dbuildtype=debugoptimized
fi
for target in $targets; do
  ninja -C "$build_dir" "tests/fuzz/fuzz-$target"
done

# GLib 2.74 still has its slice allocator; plain malloc lets AddressSanitizer see every block.
export G_SLICE=always-malloc
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for target in $targets; do
  corpus="$build_dir/fuzz-corpus/$target"
  artifacts="$build_dir/fuzz-artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  dict=
  if [ -f "$source_dir/tests/fuzz/$target.dict" ]; then
    dict="-dict=$source_dir/tests/fuzz/$target.dict"
  fi
  log="$build_dir/fuzz-$target.log"
  if [ -n "$runs" ]; then
    echo "== fuzz-$target ($runs executions)"
  else
    echo "== fuzz-$target ($seconds s)"
  fi
  # The first directory receives new inputs; the checked-in seeds and the
  # Metalink fixtures are read only.
  result=ok
  started=$(date +%s%N)
  # shellcheck disable=SC2086 # $dict and $limit are one word or empty
  if ! "$build_dir/tests/fuzz/fuzz-$target" \
      $limit -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" $dict \
      "$corpus" "$source_dir/tests/fuzz/corpus/$target" "$source_dir/tests/fixtures/metalink" \
      > "$log" 2>&1; then
    tail -40 "$log" >&2
    echo "!! fuzz-$target failed; see $artifacts and $log" >&2
    result=crash
    status=1
  fi
  elapsed=$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  grep -E '^(Done|stat::)' "$log" || true
  if [ -n "$summary" ]; then
    awk -v t="$target" -v n="${executions:-0}" -v s="$elapsed" -v c="$(ls "$corpus" | wc -l)" \
      -v r="$result" 'BEGIN { printf "%s\t%d\t%.0f\t%.0f\t%d\t%s\n", t, n, s, n / (s > 0 ? s : 1), c, r }' \
      >> "$summary"
  fi
done
exit $status
