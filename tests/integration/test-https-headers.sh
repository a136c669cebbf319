#!/bin/bash
# HTTPS through nginx with a throwaway certificate: verification stays on (a
# download without the CA must fail, never fall back), and the RFC 6249 Link
# and RFC 3230 Digest headers nginx sends become mirrors and an expected hash.
set -u
: "${ATLAS:?}" "${ATLAS_TEST_MIRROR:?}"

work=$(mktemp -d)
chmod 755 "$work"  # nginx workers run unprivileged
nginx_pid="" mirror_pid=""
cleanup() {
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null
  [ -n "$mirror_pid" ] && kill "$mirror_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

n=0 failed=0
check() {  # check DESCRIPTION COMMAND...
  n=$((n + 1))
  if "${@:2}"; then echo "ok $n - $1"; else echo "not ok $n - $1"; failed=1; fi
}

echo "1..6"
mkdir -p "$work/root" "$work/out" "$work/nginx/logs"
head -c $((6 * 1024 * 1024 + 7)) /dev/urandom > "$work/root/file.bin"
sha=$(sha256sum "$work/root/file.bin" | cut -d' ' -f1)
digest=$(openssl dgst -sha256 -binary "$work/root/file.bin" | base64)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

"$ATLAS_TEST_MIRROR" --root "$work/root" --port 0 > "$work/mirror.port" 2>/dev/null &
mirror_pid=$!
for _ in $(seq 50); do grep -q PORT "$work/mirror.port" 2>/dev/null && break; sleep 0.1; done
mport=$(sed -n 's/^PORT //p' "$work/mirror.port")

# nginx on a free port (retry a few random ones), private prefix, no daemon.
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  cat > "$work/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $work/nginx/logs/error.log;
pid $work/nginx/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body; proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fcgi; uwsgi_temp_path $work/nginx/uwsgi; scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    root $work/root;
    location = /file.bin {
      add_header Link "<http://127.0.0.1:$mport/-/file.bin>; rel=duplicate; pri=1";
      add_header Digest "SHA-256=$digest";
    }
    location = /lying.bin {
      alias $work/root/file.bin;
      add_header Digest "SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    }
  }
}
CONF
  nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>/dev/null &
  nginx_pid=$!
  # Ready when it accepts a connection; gone if the port was taken.
  for _ in $(seq 50); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  kill -0 "$nginx_pid" 2>/dev/null && break
  nginx_pid=""
done
[ -n "$nginx_pid" ] || { echo "Bail out! nginx did not start"; exit 1; }

"$ATLAS" get --no-queue --json --dir "$work/out" --ca-file "$work/cert.pem" \
  "https://127.0.0.1:$port/file.bin" > "$work/get.json" 2> "$work/get.err"
rc=$?
check "HTTPS download with the CA succeeds" test "$rc" -eq 0
check "the file is correct" test "$(sha256sum "$work/out/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"
check "the Link header's mirror was used" grep -q "announced by" "$work/get.json"
check "the Digest header became the expected hash" grep -q "gives the file's digest" "$work/get.json"

rm -rf "$work/out"; mkdir "$work/out"
"$ATLAS" get --no-queue --dir "$work/out" "https://127.0.0.1:$port/file.bin" > /dev/null 2> "$work/nocafile.err"
rc=$?
check "without the CA the download fails on the certificate (exit $rc)" \
  bash -c "[ $rc -eq 1 ] && grep -qi 'certificate\|SSL' '$work/nocafile.err' && [ ! -e '$work/out/file.bin' ]"

"$ATLAS" get --no-queue --dir "$work/out" --ca-file "$work/cert.pem" \
  "https://127.0.0.1:$port/lying.bin" > /dev/null 2>&1
rc=$?
check "a Digest the bytes do not match fails the download (exit $rc)" \
  bash -c "[ $rc -eq 3 ] && [ ! -e '$work/out/lying.bin' ]"
exit $failed
