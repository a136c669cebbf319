#!/bin/bash
# atlas publish and atlas get NAME: a file is published in a real tracker's
# index and downloaded by name from the mirror its Metalink lists; unknown
# names and refused tokens fail clearly.  TAP on stdout.
. "$(dirname "$0")/lib.sh"

: "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"

plan 30

mkdir -p "$T/root" "$T/dl" "$T/dl2"
make_file "$T/root/pub.bin" 5
GOOD=$(sha256_of "$T/root/pub.bin")
start_mirror "$T/root" "$T/mirror.log"

# ---- the tracker ------------------------------------------------------------
DB="$T/tracker.sqlite"
new_token() {
    "$ATLAS_TRACKER" token add --database "$DB" --role "$1" --name "$2" 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1
}
UP=$(new_token uploader up)
DOWN=$(new_token downloader down)
if [ -z "$UP" ] || [ -z "$DOWN" ]; then
    echo "Bail out! atlas-tracker token add printed no token: $(cat "$T/token.err")"
    exit 1
fi

"$ATLAS_TRACKER" serve --database "$DB" --listen 127.0.0.1:0 >"$T/tracker.out" 2>"$T/tracker.err" &
TRACKER_PID=$!
track_pid "$TRACKER_PID"
tracker_port() { sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/tracker.out" | head -n1; }
tracker_up() { [ -n "$(tracker_port)" ]; }
if ! wait_for tracker_up; then
    echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
    exit 1
fi
TRACKER="http://127.0.0.1:$(tracker_port)"
unset ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN

# ---- 1. publish -------------------------------------------------------------
export ATLAS_TRACKER_TOKEN=$UP
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --version 1.0 \
    --description 'A <test> & "file"' --mirror "$BASE/-/pub.bin" --output "$T/pub.meta4"
check "publish exits 0" rc_is 0
check "publish prints the entry and its hash" out_has "^Published pub\.bin 1\.0 as entry [0-9]* (sha256:$GOOD)\$"
check "publish says where the Metalink is" out_has "^Metalink: $T/pub\.meta4\$"
check "the Metalink lists the mirror" grep -q "<url[^>]*>$BASE/-/pub.bin</url>" "$T/pub.meta4"
check "the description is XML-escaped" grep -q '&lt;test&gt; &amp;' "$T/pub.meta4"
run_atlas verify "$T/root/pub.bin" --metalink "$T/pub.meta4"
check "the written Metalink verifies the file (whole and pieces)" rc_is 0
n_pieces=$(grep -c '<hash>' "$T/pub.meta4")
if [ "$n_pieces" -eq 5 ]; then ok "5 MiB in 1 MiB pieces: 5 piece hashes"
else not_ok "5 MiB in 1 MiB pieces: 5 piece hashes" "got $n_pieces"; fi

# The default Metalink path is next to the file; --json is one object.
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --version 2.0 --json \
    --mirror "$BASE/-/pub.bin"
check "publish --json exits 0" rc_is 0
check "publish writes FILE.meta4 by default" test -s "$T/root/pub.bin.meta4"
entry=$(python3 -c 'import json,sys; o=json.loads(open(sys.argv[1]).read()); print(o["event"], o["name"], o["version"], o["entry"])' "$T/out" 2>/dev/null)
if [ "$entry" = "published pub.bin 2.0 $GOOD" ]; then ok "publish --json names event, name, version and entry"
else not_ok "publish --json names event, name, version and entry" "$(cat "$T/out")"; fi

# Same name and version again: refused, with what to do.
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --version 1.0 --mirror "$BASE/-/pub.bin" \
    --output "$T/again.meta4"
check "publishing the same version again fails" rc_is 1
check "... and suggests another --version" err_has "another --version"

# Private entries: visible to the tokens named with --allow only.
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --name shared.bin --private \
    --allow down --mirror "$BASE/-/pub.bin" --output "$T/shared.meta4" -q
check "publish --private --allow NAME exits 0" rc_is 0
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --name hidden.bin --private \
    --mirror "$BASE/-/pub.bin" --output "$T/hidden.meta4" -q
check "publish --private exits 0" rc_is 0

# ---- 2. get NAME ------------------------------------------------------------
export ATLAS_TRACKER_TOKEN=$DOWN
run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl" pub.bin@1.0
check "get NAME@VERSION exits 0" rc_is 0
if [ "$(sha256_of "$T/dl/pub.bin" 2>/dev/null)" = "$GOOD" ]; then ok "get NAME: identical bytes"
else not_ok "get NAME: identical bytes" "$(ls -la "$T/dl")" "$(cat "$T/err")"; fi
# The Metalink names only this mirror, so the right bytes came from it; the
# log's byte counts are not summed because a cancelled sendfile counts 0.
if grep -q '^GET /pub\.bin .*status=20[06]' "$T/mirror.log"; then
    ok "the bytes came from the Metalink's mirror"
else
    not_ok "the bytes came from the Metalink's mirror" "$(cat "$T/mirror.log")"
fi

# The queue remembers it like any download; the newest version by default.
run_atlas get --tracker "$TRACKER" -d "$T/dl2" pub.bin
check "get NAME (newest, with the queue) exits 0" rc_is 0
if [ "$(sha256_of "$T/dl2/pub.bin" 2>/dev/null)" = "$GOOD" ]; then ok "get NAME with the queue: identical bytes"
else not_ok "get NAME with the queue: identical bytes" "$(cat "$T/err")"; fi

run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl3" shared.bin
if rc_is 0 && [ "$(sha256_of "$T/dl3/pub.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "a private entry is fetched by a token it allows"
else
    not_ok "a private entry is fetched by a token it allows" "exit=$RC" "$(cat "$T/err")"
fi
run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl4" hidden.bin
check "a private entry does not exist for other tokens (exit 6)" rc_is 6

# ---- 3. unknown names, refused tokens -----------------------------------------
run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl" nope.iso
check "unknown name exits 6 (not found)" rc_is 6
check "unknown name: says there is no entry named it" err_has "no entry named 'nope.iso'"
run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl" pub.bin@9.9
check "unknown version exits 6" rc_is 6

export ATLAS_TRACKER_TOKEN=not-a-token-this-tracker-made
run_atlas get --no-queue --tracker "$TRACKER" -d "$T/dl" pub.bin
check "wrong token: get fails (exit 1)" rc_is 1
check "wrong token: the message says the token was not accepted" err_has "did not accept the token"
if err_has "not-a-token-this-tracker-made"; then not_ok "the token is never printed" "$(cat "$T/err")"
else ok "the token is never printed"; fi

export ATLAS_TRACKER_TOKEN=$DOWN
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --name other --output "$T/other.meta4"
check "a downloader token cannot publish (exit 1)" rc_is 1
check "... and is told the uploader role is needed" err_has "uploader"

unset ATLAS_TRACKER_TOKEN
run_atlas publish "$T/root/pub.bin" --tracker "$TRACKER" --name other
check "publish without a token is a usage error (exit 2)" rc_is 2

finish
