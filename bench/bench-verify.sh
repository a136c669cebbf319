#!/bin/sh
# bench-verify.sh — how fast the verifier checks a file already in the page cache.
#
# Makes a random file (1 GiB by default) in /dev/shm, or $TMPDIR when /dev/shm
# is missing, computes its 1 MiB piece SHA-256 digests and its whole-file
# SHA-256 with Python's hashlib, then times tests/engine/bench-verify (pieces and
# whole file together, median of 5 runs) next to one run of coreutils sha256sum.
#
# Usage: bench/bench-verify.sh [BUILD-DIR] [SIZE-MIB]
# Layouts that lost on our 2-core machines can be compared with
# ATLAS_VERIFY_MMAP=1 (map the file instead of pread) and
# ATLAS_VERIFY_PIECE_WORKERS=N (piece threads besides the whole-file thread).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
size_mib=${2:-1024}
piece=$((1024 * 1024))
bench=$build/tests/engine/bench-verify

if [ ! -x "$bench" ]; then
  echo "No $bench; build it first: ninja -C $build tests/engine/bench-verify" >&2
  exit 1
fi

if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  base=/dev/shm
else
  base=${TMPDIR:-/tmp}
fi
dir=$(mktemp -d "$base/atlas-bench-verify.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

file=$dir/data
echo "Making a ${size_mib} MiB random file in $base ..."
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"

whole=$(python3 - "$file" "$dir/pieces" "$piece" <<'PY'
import hashlib, sys
path, out, piece = sys.argv[1], sys.argv[2], int(sys.argv[3])
whole = hashlib.sha256()
with open(path, 'rb') as f, open(out, 'wb') as o:
    while True:
        block = f.read(piece)
        if not block:
            break
        whole.update(block)
        o.write(hashlib.sha256(block).digest())
print(whole.hexdigest())
PY
)

echo "Verifying 5 times (pieces of 1 MiB + whole file, SHA-256) ..."
"$bench" "$file" "$dir/pieces" "$piece" "$whole" 5 | tee "$dir/verify.log"
atlas=$(sed -n 's/^median: \([0-9.]*\) s, \([0-9.]*\) GB\/s$/\1 \2/p' "$dir/verify.log")

echo "Timing sha256sum once (whole file only) ..."
start=$(date +%s.%N)
sum=$(sha256sum "$file" | cut -d' ' -f1)
end=$(date +%s.%N)
if [ "$sum" != "$whole" ]; then
  echo "sha256sum disagrees with hashlib" >&2
  exit 1
fi

bytes=$((size_mib * 1024 * 1024))
echo
printf '%-44s %10s %10s\n' "tool ($size_mib MiB, $(nproc) cores)" seconds GB/s
printf '%-44s %10s %10s\n' "atlas verifier (pieces + whole, median of 5)" \
  "$(echo "$atlas" | cut -d' ' -f1)" "$(echo "$atlas" | cut -d' ' -f2)"
awk -v s="$start" -v e="$end" -v b="$bytes" \
  'BEGIN { printf "%-44s %10.3f %10.2f\n", "sha256sum (whole only, 1 run)", e - s, b / (e - s) / 1e9 }'
