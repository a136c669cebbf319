#!/bin/bash
# FTP sources: a plain ftp:// URL (size from SIZE, ranges with REST) and an
# FTP mirror next to an HTTP one in a Metalink, against Debian's pyftpdlib.
. "$(dirname "$0")/lib.sh"

plan 4
mkdir -p "$T/root" "$T/out1" "$T/out2"
head -c $((5 * MIB + 333)) /dev/urandom > "$T/root/file.bin"
sha=$(sha256sum "$T/root/file.bin" | cut -d' ' -f1)

# Debian's interpreter, where python3-pyftpdlib lives (not a pyenv one).
launch_ftp() {
    /usr/bin/python3 -m pyftpdlib -i 127.0.0.1 -p "$1" -d "$T/root" &
    SERVER_PID=$!
}
start_server pyftpdlib launch_ftp
ftp="ftp://127.0.0.1:$SERVER_PORT/file.bin"

run_atlas get --no-queue -q --dir "$T/out1" -c "sha256:$sha" "$ftp"
check "plain FTP URL downloads (exit $RC)" rc_is 0
check "and the file is correct" \
    test "$(sha256sum "$T/out1/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"

start_mirror "$T/root" "$T/mirror.log"
make_meta4 "$T/root/file.bin" file.bin "$T/file.meta4" "$ftp" "$BASE/rate=2M/file.bin"
run_atlas get --no-queue --json --dir "$T/out2" "$T/file.meta4"
check "Metalink with an FTP and an HTTP mirror (exit $RC)" rc_is 0
check "and the file is correct" \
    test "$(sha256sum "$T/out2/file.bin" 2>/dev/null | cut -d' ' -f1)" = "$sha"
finish
