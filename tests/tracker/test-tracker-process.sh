#!/bin/sh
# test-tracker-process.sh — the real atlas-tracker executable: tokens, serving
# on a port it picks and prints, /health and /metrics, publishing with curl,
# a clean exit on SIGTERM, and entries that survive a restart.
#
# usage: test-tracker-process.sh PATH/TO/atlas-tracker    (TAP on stdout)
set -u

tracker=$1
here=$(cd "$(dirname "$0")" && pwd)
make_metalink=$here/../../bench/make-metalink.py
dir=$(mktemp -d "${TMPDIR:-/tmp}/atlas-tracker-process-XXXXXX")
db=$dir/tracker.db
pid=

cleanup () {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT

n=0
failed=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
not_ok () { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }
check () { # check DESCRIPTION COMMAND...
  desc=$1; shift
  if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# Starts the server on a free port and sets $pid and $base.
start () {
  # A fresh file: the old one still names the previous run's port.
  rm -f "$dir/out"
  "$tracker" serve --database "$db" --listen 127.0.0.1:0 "$@" >"$dir/out" 2>>"$dir/err" &
  pid=$!
  base=
  i=0
  while [ $i -lt 100 ]; do
    base=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$dir/out" 2>/dev/null)
    [ -n "$base" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# Sends SIGTERM and waits (at most 10 s) for the exit status, in $status.
stop () {
  kill -TERM "$pid"
  i=0
  while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  wait "$pid"
  status=$?
  pid=
}

echo "1..18"

admin=$("$tracker" token add --database "$db" --role admin --name admin)
check "token add prints a 43-character token" [ ${#admin} -eq 43 ]
uploader=$("$tracker" token add --database "$db" --role uploader --name up)
"$tracker" token add --database "$db" --role admin --name admin >/dev/null 2>&1
check "a second token with the same name is refused" [ $? -eq 1 ]
check "the database holds no token in clear" sh -c "! grep -q -- '$admin' '$db'"
"$tracker" token list --database "$db" >"$dir/list"
check "token list shows names and roles" grep -q '^admin	admin	' "$dir/list"

check "serve on port 0 prints the port it listens on" start
check "/health answers ok" sh -c "curl -sS '$base/health' | grep -qx '{\"status\":\"ok\"}'"
check "/metrics has the counters" sh -c \
  "curl -sS '$base/metrics' | grep -qx 'atlas_tracker_entries 0'"

# Each HTTP client's connection is given back (libsoup 3.2 would keep idle ones).
fds_before=$(ls "/proc/$pid/fd" | wc -l)
i=0
while [ $i -lt 50 ]; do curl -sS -o /dev/null "$base/health"; i=$((i + 1)); done
sleep 0.2
fds_after=$(ls "/proc/$pid/fd" | wc -l)
check "50 requests leave no descriptors open ($fds_before before, $fds_after after)" \
  [ "$fds_after" -le "$fds_before" ]

head -c 300000 /dev/urandom >"$dir/file.bin"
python3 "$make_metalink" "$dir/file.bin" --name file.bin --piece-length 65536 \
  --url http://mirror.example.org/file.bin --out "$dir/file.meta4" >"$dir/sha256"
python3 - "$dir/file.meta4" >"$dir/body.json" <<'PY'
import json, sys
print(json.dumps({"name": "file.bin", "version": "1", "metalink": open(sys.argv[1]).read()}))
PY
code=$(curl -sS -o "$dir/published" -w '%{http_code}' -H "Authorization: Bearer $uploader" \
  -H 'Content-Type: application/json' --data-binary @"$dir/body.json" "$base/api/v1/entries")
check "publishing with curl answers 201" [ "$code" = 201 ]
check "the entry is the file's SHA-256" grep -q "\"entry\":\"$(cat "$dir/sha256")\"" "$dir/published"

stop
check "SIGTERM stops it with exit status 0" [ "$status" -eq 0 ]

check "it starts again on the same database" start --metrics-token metrics-secret
code=$(curl -sS -o /dev/null -w '%{http_code}' "$base/metrics")
check "with --metrics-token, /metrics wants it" [ "$code" = 401 ]
check "and answers with it" sh -c \
  "curl -sS -H 'Authorization: Bearer metrics-secret' '$base/metrics' | grep -qx 'atlas_tracker_entries 1'"
code=$(curl -sS -o "$dir/entries" -w '%{http_code}' -H "Authorization: Bearer $admin" \
  "$base/api/v1/entries")
check "the entry survived the restart" sh -c "[ $code = 200 ] && grep -q '\"total\":1' '$dir/entries'"

# Revoking while it runs takes effect at once (WAL: both can use the database).
"$tracker" token revoke --database "$db" up
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $uploader" \
  "$base/api/v1/entries")
check "a revoked token is refused with 401" [ "$code" = 401 ]

stop
check "and stops cleanly again" [ "$status" -eq 0 ]

# HTTPS with a self-signed certificate made here.
if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
     -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
     -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1; then
  rm -f "$dir/out"
  "$tracker" serve --database "$db" --listen 127.0.0.1:0 --tls-cert "$dir/cert.pem" \
    --tls-key "$dir/key.pem" >"$dir/out" 2>>"$dir/err" &
  pid=$!
  i=0
  base=
  while [ -z "$base" ] && [ $i -lt 100 ]; do
    base=$(sed -n 's/^listening on \(https:\/\/127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' "$dir/out" 2>/dev/null)
    sleep 0.1; i=$((i + 1))
  done
  check "--tls-cert/--tls-key serve https with that certificate" sh -c \
    "curl -sS --cacert '$dir/cert.pem' '$base/health' | grep -qx '{\"status\":\"ok\"}'"
  stop
else
  ok "# SKIP openssl could not make a certificate"
fi

if [ $failed -ne 0 ]; then
  echo "# server log:"; sed 's/^/# /' "$dir/err"
fi
exit $failed
