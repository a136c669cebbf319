#!/bin/bash
# FTP sources: a plain ftp:// URL (size from SIZE, ranges with REST) and an
# FTP mirror next to an HTTP one in a Metalink, against Debian's pyftpdlib.
set -u
: "${ATLAS:?}" "${ATLAS_TEST_MIRROR:?}" "${ATLAS_SOURCE_ROOT:?}"

work=$(mktemp -d)
ftp_pid="" mirror_pid=""
cleanup() {
  [ -n "$ftp_pid" ] && kill "$ftp_pid" 2>/dev/null
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

n=0 failed=0
check() {
  n=$((n + 1))
  if "${@:2}"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi
}

echo "1..4"
mkdir -p "$work/root" "$work/out1" "$work/out2"
head -c $((5 * 1024 * 1024 + 333)) /dev/urandom > "$work/root/file.bin"
sha=$(sha256sum "$work/root/file.bin" | cut -d' ' -f1)

# Debian's interpreter, where python3-pyftpdlib lives (not a pyenv one).
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  /usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p "$port" -d "$work/root" > "$work/ftp.log" 2>&1 &
  ftp_pid=$!
  for _ in $(seq 50); do
    kill -0 "$ftp_pid" 2>/dev/null || break
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  kill -0 "$ftp_pid" 2>/dev/null && break
  ftp_pid=""
done
[ -n "$ftp_pid" ] || { echo "Bail out! pyftpdlib did not start"; exit 1; }

"$ATLAS" get --no-queue -q --dir "$work/out1" -c "sha256:$sha" "ftp://127.0.0.1:$port/file.bin"
rc=$?
check "plain FTP URL downloads (exit $rc)" test "$rc" -eq 0
check "and the file is correct" test "$(sha256sum "$work/out1/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"

"$ATLAS_TEST_MIRROR" --root "$work/root" --port 0 > "$work/mirror.port" 2>/dev/null &
mirror_pid=$!
for _ in $(seq 50); do grep -q PORT "$work/mirror.port" 2>/dev/null && break; sleep 0.1; done
mport=$(sed -n 's/^PORT //p' "$work/mirror.port")
/usr/bin/python3 "$ATLAS_SOURCE_ROOT/bench/make-metalink.py" "$work/root/file.bin" --name file.bin \
  --url "ftp://127.0.0.1:$port/file.bin" --url "http://127.0.0.1:$mport/rate=2M/file.bin" \
  --out "$work/file.meta4" > /dev/null
"$ATLAS" get --no-queue --json --dir "$work/out2" "$work/file.meta4" > "$work/get.json" 2>&1
rc=$?
check "Metalink with an FTP and an HTTP mirror (exit $rc)" test "$rc" -eq 0
check "and the file is correct" test "$(sha256sum "$work/out2/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"
exit $failed
