#!/bin/bash
# A full disk and a read-only destination under `atlas get`, for real: small
# tmpfs mounts and read-only bind mounts in a private mount namespace (the
# test runs itself again under `unshare -m`; the mounts vanish with it).
# What a user must see: exit 4 with a message that names the cause and the
# file, no wrong or half file in place, the download kept in the queue, and,
# once the fault is gone, the same command completing without fetching the
# verified pieces again.  Needs root (mount namespaces): it fails, not skips,
# without.  TAP on stdout.
# The engine quotes paths with “ ”: the messages are matched as they are.
# shellcheck disable=SC1111
set -u
if [ -z "${ATLAS_FAULTS_IN_NS:-}" ]; then
    if [ "$(id -u)" -ne 0 ] || ! unshare -m --propagation private true 2>/dev/null; then
        echo "1..1"
        echo "not ok 1 - needs root and mount namespaces (unshare -m) for a real full disk"
        exit 1
    fi
    ATLAS_FAULTS_IN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
. "$ATLAS_SOURCE_ROOT/tests/common/atlas-faults-lib.sh"

plan 16

SIZE_MIB=24
SIZE=$((SIZE_MIB * MIB))
SLACK=$((3 * MIB))
mkdir -p "$T/root"
make_file "$T/root/f.bin" $SIZE_MIB
GOOD=$(sha256_of "$T/root/f.bin")
start_mirror "$T/root" "$T/mirror.log"
make_meta4 "$T/root/f.bin" f.bin "$T/f.meta4" "$BASE/rate=6M/f.bin"

# new_tmpfs DIR SIZE : a fresh tmpfs of SIZE (e.g. 40m) on DIR.
new_tmpfs() { mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1"; }

# ---- 1. the disk fills up in the middle (queue on the same disk) --------------
# Another program takes the last free byte while atlas writes: a real ENOSPC
# from pwrite (tests/engine/test-download.c /download/disk-full uses EFBIG
# from RLIMIT_FSIZE instead).  The queue lives on the same full disk, as it
# would in a full home directory.
M=$T/full
new_tmpfs "$M" 40m || { echo "Bail out! cannot mount a tmpfs"; exit 1; }
Q=$M/queue.sqlite
start_get full --queue-file "$Q" -d "$M/dl" "$T/f.meta4"
WAIT_TENTHS=200 wait_for past full $((SIZE / 4))
dd if=/dev/zero of="$M/filler" bs=1M status=none 2>/dev/null
WAIT_TENTHS=300 wait_pid "$GET_PID"; rc=$?
if [ $rc -eq 4 ]; then ok "disk full mid-download: exit 4"
else not_ok "disk full mid-download: exit 4" "exit $rc" "$(tail -n 3 "$T/full.err")"; fi
if grep -q "No space left to write to “$M/dl/f.bin.part”: free some space" "$T/full.err"; then
    ok "... the message says no space is left, names the .part and what to do"
else
    not_ok "... the message says no space is left, names the .part and what to do" "$(cat "$T/full.err")"
fi
if [ ! -e "$M/dl/f.bin" ]; then ok "... no file in place"
else not_ok "... no file in place" "$(ls -la "$M/dl")"; fi
rm -f "$M/filler"
run_atlas list --queue-file "$Q" --json
KEPT=$(json_field "$T/out" 1 completed)
STATE=$(json_field "$T/out" 1 state)
diag "after the failure: state $STATE, $KEPT bytes verified"
if [ -n "$KEPT" ] && [ "$KEPT" -gt 0 ] && [ "$KEPT" -lt "$SIZE" ]; then
    ok "... the queue keeps the download and its verified bytes ($STATE, $KEPT)"
else
    not_ok "... the queue keeps the download and its verified bytes" "$(cat "$T/out" "$T/err")"
    KEPT=0
fi
N=$(log_lines "$MIRROR_LOG")
run_atlas get --queue-file "$Q" -d "$M/dl" "$T/f.meta4"
wait_mirror_idle || diag "mirror still busy after 10 s"
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$M/dl/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "space freed: the same command completes with the right file, exit 0"
else
    not_ok "space freed: the same command completes with the right file, exit 0" "exit $RC" "$(cat "$T/err")"
fi
SERVED=$(served_since "$N")
if [ "$KEPT" -gt 0 ] && [ "$SERVED" -le $((SIZE - KEPT + SLACK)) ]; then
    ok "... without fetching the verified pieces again ($SERVED <= $((SIZE - KEPT + SLACK)) bytes)"
else
    not_ok "... without fetching the verified pieces again" "served $SERVED, verified before $KEPT"
fi
umount "$M"

# ---- 2. not enough space from the start -----------------------------------------
M=$T/small
new_tmpfs "$M" 16m
N=$(log_lines "$MIRROR_LOG")
start=$(date +%s%N)
run_atlas get --queue-file "$T/small.sqlite" -d "$M/dl" "$T/f.meta4"
ms=$((($(date +%s%N) - start) / 1000000))
wait_mirror_idle
diag "too small a disk: exit $RC after $ms ms, $(served_since "$N") bytes fetched"
if [ "$RC" -eq 4 ] && err_has "No space left to reserve space for “$M/dl/f.bin.part”"; then
    ok "a disk too small for the file: exit 4, says so and names the file"
else
    not_ok "a disk too small for the file: exit 4, says so and names the file" "exit $RC" "$(cat "$T/err")"
fi
if [ "$ms" -lt 10000 ] && [ "$(served_since "$N")" -le $((2 * MIB)) ]; then
    ok "... at once, before fetching the file ($ms ms)"
else
    not_ok "... at once, before fetching the file" "$ms ms, $(served_since "$N") bytes"
fi
umount "$M"

# ---- 3. a read-only destination -------------------------------------------------
# Root ignores permission bits, so the folder is on a read-only bind mount.
mkdir -p "$T/ro-src/dl" "$T/ro"
mount --bind -o ro "$T/ro-src" "$T/ro"
run_atlas get --queue-file "$T/ro.sqlite" -d "$T/ro/dl" "$T/f.meta4"
if [ "$RC" -eq 4 ] && err_has "“$T/ro/dl/f.bin.part”: Read-only file system"; then
    ok "a read-only folder: exit 4, names the file and says the file system is read-only"
else
    not_ok "a read-only folder: exit 4, names the file and says the file system is read-only" "exit $RC" "$(cat "$T/err")"
fi
run_atlas get --queue-file "$T/ro.sqlite" -d "$T/ro/new/dl" "$T/f.meta4"
if [ "$RC" -eq 4 ] && err_has "$T/ro/new/dl" && err_has "Read-only file system"; then
    ok "a folder that cannot be created there: exit 4 and says why"
else
    not_ok "a folder that cannot be created there: exit 4 and says why" "exit $RC" "$(cat "$T/err")"
fi
umount "$T/ro"

# ---- 4. the destination turns read-only in the middle --------------------------
# The open .part stays writable (its mount is the old one), but moving it
# into place goes through the read-only one: the download must fail there,
# keep every verified piece, and finish once the folder is writable again.
D=$T/flip
mkdir -p "$D"
start_get flip --queue-file "$T/flip.sqlite" -d "$D" "$T/f.meta4"
WAIT_TENTHS=200 wait_for past flip $((SIZE / 3))
mount --bind -o ro "$D" "$D"
WAIT_TENTHS=300 wait_pid "$GET_PID"; rc=$?
if [ $rc -eq 4 ] && grep -q "Cannot move “$D/f.bin.part” into place: Read-only file system" "$T/flip.err"; then
    ok "folder made read-only mid-download: exit 4, names the file and the cause"
else
    not_ok "folder made read-only mid-download: exit 4, names the file and the cause" "exit $rc" "$(cat "$T/flip.err")"
fi
if [ ! -e "$D/f.bin" ] && [ -e "$D/f.bin.part" ]; then ok "... the .part is kept, nothing in place"
else not_ok "... the .part is kept, nothing in place" "$(ls -la "$D")"; fi
run_atlas list --queue-file "$T/flip.sqlite" --json
STATE=$(json_field "$T/out" 1 state)
if [ "$STATE" = failed ]; then ok "... listed as failed in the queue"
else not_ok "... listed as failed in the queue" "$(cat "$T/out" "$T/err")"; fi
umount "$D"
N=$(log_lines "$MIRROR_LOG")
run_atlas get --queue-file "$T/flip.sqlite" -d "$D" "$T/f.meta4"
wait_mirror_idle
if [ "$RC" -eq 0 ] && [ "$(sha256_of "$D/f.bin" 2>/dev/null)" = "$GOOD" ]; then
    ok "writable again: the same command completes with the right file, exit 0"
else
    not_ok "writable again: the same command completes with the right file, exit 0" "exit $RC" "$(cat "$T/err")"
fi
if [ "$(served_since "$N")" -le "$SLACK" ]; then ok "... fetching nothing again ($(served_since "$N") bytes)"
else not_ok "... fetching nothing again" "$(served_since "$N") bytes"; fi

if no_critical "$T"/*.err "$T/err"; then ok "no run logged a CRITICAL or crashed"
else not_ok "no run logged a CRITICAL or crashed" "$(grep -HE 'CRITICAL|Segmentation|Aborted' "$T"/*.err | head -n 5)"; fi

finish
