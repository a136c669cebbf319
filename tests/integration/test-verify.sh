#!/bin/bash
# atlas verify: a corrupted piece is found and named, --repair fetches only
# that piece, and -c / --sums give the documented exit codes.
. "$(dirname "$0")/lib.sh"

plan 15

mkdir -p "$T/root" "$T/dl"
make_file "$T/root/v.bin" 8
GOOD=$(sha256_of "$T/root/v.bin")
WRONG=$(printf 'something else' | sha256sum | cut -d' ' -f1)
start_mirror "$T/root" "$T/mirror.log"
make_meta4 "$T/root/v.bin" v.bin "$T/v.meta4" "$BASE/-/v.bin" "$BASE/rate=50M/v.bin"
F="$T/dl/v.bin"

run_atlas get --no-queue -q -d "$T/dl" "$T/v.meta4"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$F" 2>/dev/null)" = "$GOOD" ]; then ok "setup: downloaded v.bin"
else not_ok "setup: downloaded v.bin" "status $RC" "$(cat "$T/err")"; fi

run_atlas verify "$F" --metalink "$T/v.meta4"
check "verify of the intact file exits 0 and says OK" eval '[ "$RC" -eq 0 ] && grep -q "^OK: " "$T/out"'

# corrupt 3 bytes inside piece 5 (bytes 5242880-6291455)
printf 'XYZ' | dd of="$F" bs=1 seek=$((5 * MIB + 100)) conv=notrunc status=none
if [ "$(sha256_of "$F")" != "$GOOD" ]; then ok "setup: file corrupted"; else not_ok "setup: file corrupted"; fi

run_atlas verify "$F" --metalink "$T/v.meta4"
check "verify of the corrupted file exits 3" rc_is 3
check "…and names the bad range 5242880-6291455" out_or_err_has 'BAD: 1 of 8 pieces bad: bytes 5242880-6291455$'

run_atlas verify "$F" --metalink "$T/v.meta4" --json
ranges=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o.get("event") == "verdict":
        print(o["ok"], o["bad_pieces"], [(r["offset"], r["length"]) for r in o["bad_ranges"]])' "$T/out" 2>&1)
if [ "$RC" -eq 3 ] && [ "$ranges" = "False [5] [(5242880, 1048576)]" ]; then ok "verify --json verdict lists piece 5 only"
else not_ok "verify --json verdict lists piece 5 only" "status $RC: $ranges"; fi

N=$(log_lines "$T/mirror.log")
run_atlas verify "$F" --metalink "$T/v.meta4" --repair
check "verify --repair exits 0" rc_is 0
if [ "$(sha256_of "$F")" = "$GOOD" ]; then ok "after --repair the sha256 is right"
else not_ok "after --repair the sha256 is right"; fi
check "…and it says REPAIRED: re-fetched 1 of 8 pieces" out_or_err_has 'REPAIRED: .*re-fetched 1 of 8 pieces: bytes 5242880-6291455'
wait_mirror_idle
served=$(log_bytes "$T/mirror.log" $((N + 1)))
outside=$(tail -n +$((N + 1)) "$T/mirror.log" | sed -n 's/.* range=\([0-9]*\)-\([0-9]*\) .*/\1 \2/p' |
          awk '$1 < 5242880 || $2 > 6291455' | wc -l)
full=$(tail -n +$((N + 1)) "$T/mirror.log" | grep -c 'range=- ')
# one 1 MiB piece; slack for the endgame asking both mirrors for it
if [ "$served" -le $((2 * MIB)) ] && [ "$served" -gt 0 ] && [ "$outside" -eq 0 ] && [ "$full" -eq 0 ]; then
    ok "the repair fetched only piece 5 ($served bytes)"
else
    not_ok "the repair fetched only piece 5" "served $served bytes" "$(tail -n +$((N + 1)) "$T/mirror.log")"
fi

run_atlas verify "$F" -c "sha256:$GOOD"
check "verify -c sha256:RIGHT exits 0" rc_is 0
run_atlas verify "$F" -c "sha256:$WRONG"
check "verify -c sha256:WRONG exits 3" rc_is 3
check "…and shows expected and actual hashes" eval 'out_or_err_has "$WRONG" && out_or_err_has "$GOOD"'

(cd "$T/dl" && sha256sum v.bin >"$T/SUMS")
run_atlas verify "$F" --sums "$T/SUMS"
check "verify --sums SUMS exits 0" rc_is 0
printf '%s  v.bin\n' "$WRONG" >"$T/SUMS.bad"
run_atlas verify "$F" --sums "$T/SUMS.bad"
check "verify --sums with a wrong entry exits 3" rc_is 3

finish
