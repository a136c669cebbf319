#!/bin/sh
# Self-test of atlas-test-mirror: every check is something an engine test
# relies on, asserted with curl against a random 4 MiB file.
#
# Usage: test-mirror-selftest.sh /path/to/atlas-test-mirror
# SPDX-License-Identifier: GPL-3.0-or-later

set -u

mirror=${1:?usage: $0 ATLAS_TEST_MIRROR}
tmp=$(mktemp -d)
pid=

cleanup () {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

failures=0
ok () { echo "ok - $1"; }
fail () { echo "not ok - $1"; failures=$((failures + 1)); }
check () {
  # check DESCRIPTION CONDITION...: runs the condition, reports the result.
  desc=$1; shift
  if "$@"; then ok "$desc"; else fail "$desc"; fi
}
float_between () { awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'; }
header () { tr -d '\r' | awk -F': ' -v h="$1" 'tolower($1) == tolower(h) { print $2 }'; }

mkdir "$tmp/root"
head -c 4194304 /dev/urandom > "$tmp/root/file.bin"
want=$(sha256sum < "$tmp/root/file.bin" | cut -d' ' -f1)

"$mirror" --root "$tmp/root" --log "$tmp/log" > "$tmp/stdout" &
pid=$!

# The first stdout line announces the ephemeral port.
port=
for _ in $(seq 50); do
  port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/stdout")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "Bail out! mirror did not print its port"; exit 1; }
u="http://127.0.0.1:$port"
c="curl -s --max-time 10"

# Well-behaved answers.
got=$($c "$u/-/file.bin" | sha256sum | cut -d' ' -f1)
check "full GET matches the file" [ "$got" = "$want" ]

code=$($c -r 1000-1999 -o "$tmp/range" -w '%{http_code}' "$u/-/file.bin")
dd if="$tmp/root/file.bin" of="$tmp/range.want" bs=1000 skip=1 count=1 2>/dev/null
check "range GET is 206" [ "$code" = 206 ]
check "range GET has the right bytes" cmp -s "$tmp/range" "$tmp/range.want"
check "log records the served range" grep -q '^GET /file.bin range=1000-1999 status=206 bytes=1000 modes=-$' "$tmp/log"

code=$($c -r 9999999- -o /dev/null -w '%{http_code}' "$u/-/file.bin")
check "unsatisfiable range is 416" [ "$code" = 416 ]

reuse=$($c -o /dev/null -w '%{num_connects} ' "$u/-/file.bin" -o /dev/null "$u/-/file.bin")
check "keep-alive reuses the connection" [ "$reuse" = "1 0 " ]

etag=$($c -I "$u/-/file.bin" | header ETag)
code=$($c -r 0-9 -H "If-Range: $etag" -o /dev/null -w '%{http_code}' "$u/-/file.bin")
check "If-Range with the current ETag is 206" [ "$code" = 206 ]
code=$($c -r 0-9 -H 'If-Range: "stale"' -o /dev/null -w '%{http_code}' "$u/-/file.bin")
check "If-Range with a stale ETag is 200" [ "$code" = 200 ]

# Misbehaviours.
t=$($c -r 0-2097151 -o /dev/null -w '%{time_total}' "$u/rate=1M/file.bin")
check "rate=1M sends 2 MiB in about 2 s ($t s)" float_between "$t" 1.6 2.4

$c -o "$tmp/corrupt" "$u/corrupt=0-9/file.bin"
diff=$(cmp -l "$tmp/corrupt" "$tmp/root/file.bin" | awk '{ printf "%s ", $1 }')
check "corrupt=0-9 changes exactly the first 10 bytes" [ "$diff" = "1 2 3 4 5 6 7 8 9 10 " ]

code=$($c -o /dev/null -D "$tmp/h503" -w '%{http_code}' "$u/status=503/file.bin")
check "status=503 is 503" [ "$code" = 503 ]
check "status=503 has Retry-After" [ "$(header Retry-After < "$tmp/h503")" = 1 ]

got=$($c -r 0-99 -o /dev/null -w '%{http_code} %{size_download}' "$u/norange/file.bin")
check "norange answers a range with 200 and the whole file" [ "$got" = "200 4194304" ]

$c -L --max-redirs 5 -o /dev/null "$u/redirect=loop/file.bin"
check "redirect=loop exceeds curl's redirect limit" [ $? -eq 47 ]

len=$($c -I "$u/liesize=1000/file.bin" | header Content-Length)
check "liesize=1000 claims 1000 bytes" [ "$len" = 1000 ]

got=$($c --path-as-is -o /dev/null -w '%{http_code}' "$u/-/../../../etc/passwd")
check "a .. path is refused ($got)" expr "$got" : '40[34]$' > /dev/null

$c -o "$tmp/reset" "$u/reset=65536/file.bin"
rc=$?
check "reset=65536 ends in a connection error (curl $rc)" [ $rc -eq 56 ]
check "reset=65536 delivered exactly 65536 bytes" [ "$(wc -c < "$tmp/reset")" -eq 65536 ]

e1=$($c -o /dev/null -D - "$u/change=1/file.bin" | header ETag)
$c -o "$tmp/changed" -D "$tmp/hchanged" "$u/change=1/file.bin"
check "change=1 gives a new ETag on the 2nd request" [ "$e1" != "$(header ETag < "$tmp/hchanged")" ]
check "change=1 content differs" [ "$(cmp -l "$tmp/changed" "$tmp/root/file.bin" | wc -l)" -gt 4000000 ]

$c --max-time 1 -o "$tmp/stall" "$u/stall=1000/file.bin"
got="$? $(wc -c < "$tmp/stall")"
check "stall=1000 times out after exactly 1000 bytes ($got)" [ "$got" = "28 1000" ]

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM stops the mirror with status 0" [ $rc -eq 0 ]

if [ $failures -eq 0 ]; then
  echo "all mirror checks passed"
  exit 0
fi
echo "$failures mirror check(s) failed"
exit 1
