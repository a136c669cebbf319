#!/bin/sh
# run-fuzzers.sh — builds the libFuzzer targets with clang and runs each for a while.
#
# Usage: tests/fuzz/run-fuzzers.sh [-s SECONDS] [-b BUILD_DIR] [TARGET...]
#   SECONDS    how long each target runs (default 30)
#   BUILD_DIR  the clang build directory (default build-fuzz at the top of the tree)
#   TARGET     checksum, filename, http-headers, metalink, sums, peer-wire, tracker-wire,
#              donor-ledger (default: all)
#
# New inputs libFuzzer finds go to BUILD_DIR/fuzz-corpus/TARGET, crashers to
# BUILD_DIR/fuzz-artifacts/TARGET; neither touches the source tree. Copy a
# crasher into tests/fuzz/corpus/TARGET once it is fixed, so the replay test
# keeps it fixed. Exits non-zero if any target found a crash.
set -eu

seconds=30
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir="$source_dir/build-fuzz"

while getopts s:b: option; do
  case $option in
    s) seconds=$OPTARG ;;
    b) build_dir=$OPTARG ;;
    *) sed -n '3,7p' "$0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=${*:-checksum filename http-headers metalink sums peer-wire tracker-wire donor-ledger}

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
  echo "== fuzz-$target for $seconds s"
  # The first directory receives new inputs; the checked-in seeds and the
  # Metalink fixtures are read only.
  if ! "$build_dir/tests/fuzz/fuzz-$target" \
      -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$artifacts/" $dict \
      "$corpus" "$source_dir/tests/fuzz/corpus/$target" "$source_dir/tests/fixtures/metalink"; then
    echo "!! fuzz-$target failed; see $artifacts" >&2
    status=1
  fi
done
exit $status
