#!/bin/bash
# HTTPS through nginx with a throwaway certificate: verification stays on (a
# download without the CA must fail, never fall back), and the RFC 6249 Link
# and RFC 3230 Digest headers nginx sends become mirrors and an expected hash.
# A redirect from https to plain http is refused unless a hash checks the bytes.
. "$(dirname "$0")/lib.sh"

plan 9
chmod 755 "$T"  # nginx workers run unprivileged
mkdir -p "$T/root" "$T/dl" "$T/nginx/logs"
head -c $((6 * MIB + 7)) /dev/urandom > "$T/root/file.bin"
sha=$(sha256sum "$T/root/file.bin" | cut -d' ' -f1)
digest=$(openssl dgst -sha256 -binary "$T/root/file.bin" | base64)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null

start_mirror "$T/root" "$T/mirror.log"

# nginx with a private prefix, in the foreground so its PID is ours to stop.
launch_nginx() {
    cat > "$T/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $T/nginx/logs/error.log;
pid $T/nginx/nginx.pid;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $T/nginx/body; proxy_temp_path $T/nginx/proxy;
  fastcgi_temp_path $T/nginx/fcgi; uwsgi_temp_path $T/nginx/uwsgi; scgi_temp_path $T/nginx/scgi;
  server {
    listen 127.0.0.1:$1 ssl;
    ssl_certificate $T/cert.pem;
    ssl_certificate_key $T/key.pem;
    root $T/root;
    location = /file.bin {
      add_header Link "<$BASE/-/file.bin>; rel=duplicate; pri=1";
      add_header Digest "SHA-256=$digest";
    }
    location = /downgrade.bin {
      return 302 $BASE/-/file.bin;
    }
    location = /lying.bin {
      alias $T/root/file.bin;
      add_header Digest "SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    }
  }
}
CONF
    nginx -p "$T/nginx" -c "$T/nginx/nginx.conf" &
    SERVER_PID=$!
}
start_server nginx launch_nginx
https="https://127.0.0.1:$SERVER_PORT"

run_atlas get --no-queue --json --dir "$T/dl" --ca-file "$T/cert.pem" "$https/file.bin"
check "HTTPS download with the CA succeeds" rc_is 0
check "the file is correct" \
    test "$(sha256sum "$T/dl/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"
check "the Link header's mirror was used" out_has "announced by"
check "the Digest header became the expected hash" out_has "gives the file's digest"

rm -rf "$T/dl" && mkdir "$T/dl"
run_atlas get --no-queue --dir "$T/dl" "$https/file.bin"
check "without the CA the download fails on the certificate (exit $RC)" \
    bash -c "[ $RC -eq 1 ] && grep -qi 'certificate\|SSL' '$T/err' && [ ! -e '$T/dl/file.bin' ]"

run_atlas get --no-queue --dir "$T/dl" --ca-file "$T/cert.pem" "$https/lying.bin"
check "a Digest the bytes do not match fails the download (exit $RC)" \
    bash -c "[ $RC -eq 3 ] && [ ! -e '$T/dl/lying.bin' ]"
rm -rf "$T/dl" && mkdir "$T/dl"
run_atlas get --no-queue --dir "$T/dl" --ca-file "$T/cert.pem" "$https/downgrade.bin"
check "an https redirect to plain http without a hash fails (exit $RC)" \
    bash -c "[ $RC -ne 0 ] && [ ! -e '$T/dl/downgrade.bin' ]"
check "…and the error says why" err_has "redirected from https to an unencrypted"

run_atlas get --no-queue --dir "$T/dl" --ca-file "$T/cert.pem" --checksum "sha256:$sha" \
    "$https/downgrade.bin"
check "with the file's hash the same redirect is followed and the file checked" \
    bash -c "[ $RC -eq 0 ] && [ \"\$(sha256sum '$T/dl/downgrade.bin' | cut -d' ' -f1)\" = $sha ]"
finish
