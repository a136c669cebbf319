#!/bin/sh
# Every C file must be exactly what clang-format (from .clang-format) makes of it.
set -u
cd "$1"
status=0
for file in $(git ls-files '*.c' '*.h' 2>/dev/null || find src tests -name '*.[ch]'); do
  if ! clang-format --style=file "$file" | cmp -s "$file" -; then
    echo "not formatted: $file (run: clang-format -i $file)"
    status=1
  fi
done
exit $status
