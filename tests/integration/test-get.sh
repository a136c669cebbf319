#!/bin/bash
# atlas get: a Metalink from two mirrors (plain and --json), bad input, and the
# progress bar on a terminal.  TAP on stdout.
. "$(dirname "$0")/lib.sh"

plan 26

mkdir -p "$T/root" "$T/dl"
make_file "$T/root/a.bin" 8
start_mirror "$T/root" "$T/mirror.log"
# Both mirrors throttled: an unthrottled one can serve 8 MiB alone before the
# second is even asked, and the test is about using both.
make_meta4 "$T/root/a.bin" a.bin "$T/a.meta4" "$BASE/rate=40M/a.bin" "$BASE/rate=20M/a.bin"
GOOD=$(sha256_of "$T/root/a.bin")
WRONG=$(printf 'not the file' | sha256sum | cut -d' ' -f1)

# --- 1. a Metalink from two mirrors, no queue -------------------------------
run_atlas get --no-queue -d "$T/dl" "$T/a.meta4"
check "get --no-queue META4 exits 0" rc_is 0
if [ -f "$T/dl/a.bin" ] && [ "$(sha256_of "$T/dl/a.bin")" = "$GOOD" ]; then
    ok "downloaded file has the right sha256"
else
    not_ok "downloaded file has the right sha256" "$(ls -la "$T/dl")"
fi
if [ -e "$T/dl/a.bin.part" ]; then not_ok "no .part file left" "$(ls -la "$T/dl")"
else ok "no .part file left"; fi
check "prints 'Downloaded a.bin … : PATH'" grep -q "^Downloaded a\.bin .*: $T/dl/a\.bin\$" "$T/out" "$T/err"
# both mirrors were asked for something (the Metalink lists two)
if grep -q 'modes=rate=40M$' "$T/mirror.log" && grep -q 'modes=rate=20M$' "$T/mirror.log"; then
    ok "both Metalink mirrors were used"
else
    not_ok "both Metalink mirrors were used" "$(cat "$T/mirror.log")"
fi
if [ -e "$ATLAS_QUEUE_FILE" ]; then not_ok "--no-queue creates no queue file" "$(ls -la "$T")"
else ok "--no-queue creates no queue file"; fi

run_atlas get --no-queue --json -d "$T/dl-json" "$T/a.meta4"
check "get --json exits 0" rc_is 0
fin=$(grep '"event":"finished"' "$T/out" | tail -n1)
state=$(printf '%s\n' "$fin" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read()).get("state"))' 2>/dev/null)
path=$(printf '%s\n' "$fin" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read()).get("path"))' 2>/dev/null)
if [ "$state" = complete ] && [ "$path" = "$T/dl-json/a.bin" ]; then
    ok "--json prints a finished line with state complete and the path"
else
    not_ok "--json prints a finished line with state complete and the path" "finished: $fin" "$(tail -n 5 "$T/out")"
fi
bad_json=$(python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
        assert isinstance(o, dict) and "event" in o
    except Exception:
        n += 1
print(n)' "$T/out")
if [ "$bad_json" = 0 ] && [ -s "$T/out" ]; then ok "--json stdout is only JSON objects with an event"
else not_ok "--json stdout is only JSON objects with an event" "$(head -c 800 "$T/out")"; fi
if [ "$(sha256_of "$T/dl-json/a.bin" 2>/dev/null)" = "$GOOD" ]; then ok "--json download is correct"
else not_ok "--json download is correct"; fi

# --- 6. bad input -------------------------------------------------------------
head -c 300 "$T/a.meta4" >"$T/trunc.meta4"
run_atlas get --no-queue -d "$T/dl-trunc" "$T/trunc.meta4"
check "truncated Metalink exits 6" rc_is 6
check "truncated Metalink: message names the file" err_has "$T/trunc.meta4"

sed 's|name="a.bin"|name="../../etc/passwd"|' "$T/a.meta4" >"$T/evil.meta4"
mkdir -p "$T/jail/x/y"
run_atlas get --no-queue -d "$T/jail/x/y" "$T/evil.meta4"
check "Metalink with name ../../etc/passwd exits 6" rc_is 6
written=$(find "$T" -name 'passwd*' -newer "$T/evil.meta4" 2>/dev/null)
if [ -z "$written" ] && [ -z "$(ls -A "$T/jail/x/y")" ]; then
    ok "nothing written for the ../ Metalink"
else
    not_ok "nothing written for the ../ Metalink" "$written" "$(ls -la "$T/jail/x/y")"
fi
check "the ../ rejection says why (mentions ..)" err_has '\.\.'

run_atlas get --no-queue --frobnicate "$T/a.meta4"
check "unknown option exits 2" rc_is 2
check "unknown option: message names it and hints at help" \
    eval 'err_has --frobnicate && err_has "atlas help get"'

run_atlas get --no-queue -d "$T/dl-dead" http://127.0.0.1:1/x
check "all mirrors dead exits 1" rc_is 1
check "dead mirror: message names the URL" err_has 'http://127.0.0.1:1/x'

run_atlas get --no-queue -d "$T/dl-wrong" -c "sha256:$WRONG" "$BASE/-/a.bin"
check "wrong -c checksum exits 3" rc_is 3
if [ -e "$T/dl-wrong/a.bin" ]; then not_ok "wrong -c checksum: no final file" "$(ls -la "$T/dl-wrong")"
else ok "wrong -c checksum: no final file"; fi
check "wrong -c checksum: message shows the expected hash" err_has "$WRONG"

# --- 7. progress bar on a terminal -----------------------------------------------
make_file "$T/root/p.bin" 6
timeout -k 5 40 script -qec "'$ATLAS' get --no-queue -d '$T/dl-tty' '$BASE/rate=3M/p.bin'" /dev/null \
    >"$T/tty.raw" 2>&1 </dev/null
RC=$?
check "get on a terminal exits 0" rc_is 0
# A redrawn bar with a percentage strictly between 0 and 100 appeared.
if tr '\r' '\n' <"$T/tty.raw" | grep -Eq '(^|[^0-9])([1-9]|[1-9][0-9])% \[#+-+\]'; then
    ok "terminal output shows a percentage bar while transferring"
else
    not_ok "terminal output shows a percentage bar while transferring" "$(head -c 600 "$T/tty.raw" | cat -v)"
fi
render_tty "$T/tty.raw" >"$T/tty.screen"
last=$(grep -v '^[[:space:]]*$' "$T/tty.screen" | tail -n1)
case $last in
    "Downloaded p.bin "*": $T/dl-tty/p.bin") ok "the terminal ends with the 'Downloaded p.bin' line" ;;
    *) not_ok "the terminal ends with the 'Downloaded p.bin' line" "last line: $last" "$(cat "$T/tty.screen")" ;;
esac
if grep -q '%.*\[' "$T/tty.screen"; then
    not_ok "no half-drawn bar left on the final screen" "$(cat "$T/tty.screen")"
else
    ok "no half-drawn bar left on the final screen"
fi

finish
