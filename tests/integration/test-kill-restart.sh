#!/bin/bash
# SIGKILL at random moments, restart, nothing lost (issue 6).
#
#   test-kill-restart.sh cli      `atlas run` with 16 queued Metalinks
#   test-kill-restart.sh app      download-atlas with 8 (run it under
#                                 tests/app/run-under-xvfb.sh)
#   test-kill-restart.sh tracker  atlas-tracker while `atlas seed`/`atlas get`
#                                 peers swarm
#
# The delays come from bash's RANDOM seeded with KILL_RESTART_SEED (default:
# the clock); the seed is printed first, so a failing run can be replayed.
# After each kill, while the process is dead and its SQLite files quiescent,
# kill-restart.py reads the queue (or the tracker's database) and checks:
#   - the queue lists exactly the downloads it listed before (id, URLs,
#     folder, file name) and passes integrity_check;
#   - no piece it had verified is no longer verified;
#   - what the mirror served since the previous kill never overlaps a piece
#     that was verified at that kill or any kill before (from the mirror's
#     log and the piece length): no verified piece is fetched twice;
#   - every final file present has the expected SHA-256.
# At the end every file must be complete and right.
#
# KILL_RESTART_BREAK=queue|lost|refetch|wrong (cli, app) or entry (tracker)
# damages the queue, the files or the tracker's database after the third
# kill, to show that the matching check fails.
. "$(dirname "$0")/lib.sh"

PART=${1:-cli}
H="$ATLAS_SOURCE_ROOT/tests/integration/kill-restart.py"
SEED=${KILL_RESTART_SEED:-$(($(date +%s%N) / 1000 % 32768))}
RANDOM=$SEED
BREAK=${KILL_RESTART_BREAK:-}
PIECE=$((64 * 1024))
KILLS_MIN=10

# rand_sleep MIN_MS MAX_MS : sleeps a seeded random time in [MIN, MAX] ms.
rand_sleep() {
    local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
}

# make_files PREFIX N MIB MODES : N random files in $T/root, one Metalink each
# (64 KiB pieces) in $T/meta, all behind the mirror's MODES; expected sums in
# $T/shas ("HEX NAME" lines).
make_files() {
    local i name
    mkdir -p "$T/root" "$T/meta"
    for i in $(seq -w 1 "$2"); do
        name="$1$i.bin"
        make_file "$T/root/$name" "$3"
        python3 "$ATLAS_SOURCE_ROOT/bench/make-metalink.py" "$T/root/$name" --name "$name" \
            --piece-length $PIECE --url "$BASE/$4/$name" --out "$T/meta/$name.meta4" \
            >"$T/sha.tmp" || exit 99
        echo "$(cat "$T/sha.tmp") $name" >>"$T/shas"
    done
}

# ---- per-kill checks on a queue ----------------------------------------------

FROM=1
KILLS=0
BAD_STATUS=""
: >"$T/fails"
# snap_queue K : snapshot $Q into $T/snap-K.json.
snap_queue() { python3 "$H" queue-snap "$Q" "$T/snap-$1.json"; }

# check_after_kill K : the process is dead; wait until the mirror has logged
# all its requests, snapshot the queue and check it against snapshot K-1.
check_after_kill() {
    local k=$1 to
    wait_mirror_idle || diag "kill $k: the mirror was still busy after 10 s"
    to=$(log_lines "$MIRROR_LOG")
    break_before_snapshot "$k"
    snap_queue "$k"
    python3 "$H" queue-check "$T/expect.json" "$T/snap-$((k - 1)).json" "$T/snap-$k.json" \
        "$MIRROR_LOG" "$FROM" "$to" "$T/shas" "$DL" "$T/ever.json" >"$T/check-$k.txt"
    sed "s/^FAIL /kill $k: /;t;d" "$T/check-$k.txt" >>"$T/fails"
    diag "kill $k at ${SECONDS}s: $(sed -n 's/^INFO //p' "$T/check-$k.txt")"
    break_after_snapshot "$k"
    FROM=$((to + 1))
}

# Damage on purpose (KILL_RESTART_BREAK), after the third kill only.
# first_with_verified : id of a download with verified pieces in the latest snapshot.
first_with_verified() {
    python3 -c 'import json,sys
rows = json.load(open(sys.argv[1]))["rows"]
print(next((i for i, r in rows.items() if r["verified"] and r["state"] != "complete"), ""))' "$1"
}
# sql STATEMENT : runs it on the queue (python3's sqlite3: no sqlite3 CLI needed).
sql() { python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()' "$Q" "$1"; }
break_before_snapshot() {
    local id
    [ "$1" -eq 3 ] || return 0
    case $BREAK in
        queue)
            sql "DELETE FROM downloads WHERE id = (SELECT MAX(id) FROM downloads)"
            diag "BREAK: deleted the last queue row" ;;
        lost)
            id=$(first_with_verified "$T/snap-2.json")
            sql "UPDATE downloads SET verified = zeroblob(length(verified)) WHERE id = ${id:-0}"
            diag "BREAK: cleared the verified pieces of download $id" ;;
        wrong)
            # What a broken engine might do: an unfinished file in place.
            id=$(cd "$DL" && find . -maxdepth 1 -name '*.part' -printf '%f\n' | sort | head -n1)
            cp "$DL/$id" "$DL/${id%.part}"
            diag "BREAK: copied $id to ${id%.part}" ;;
    esac
}
break_after_snapshot() {
    local id name
    [ "$1" -eq 3 ] && [ "$BREAK" = refetch ] || return 0
    id=$(first_with_verified "$T/snap-3.json")
    name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"][sys.argv[2]]["filename"])' \
        "$T/snap-3.json" "$id")
    rm -f "$DL/$name.part"
    diag "BREAK: removed $name.part (download $id), whose pieces the queue calls verified"
}

# report_kills WHAT : the assertions common to the cli and app parts.
report_kills() {
    local what=$1 n
    if [ "$KILLS" -ge "$KILLS_MIN" ] && [ -z "$BAD_STATUS" ]; then
        ok "$what: $KILLS SIGKILLs at random moments (seed $SEED)"
    else
        not_ok "$what: at least $KILLS_MIN SIGKILLs at random moments (seed $SEED)" \
            "kills: $KILLS; $BAD_STATUS"
    fi
    for kind in queue lost refetch wrong; do
        case $kind in
            queue) n="after every kill the queue lists the same $NFILES downloads (id, URLs, folder, name), integrity ok" ;;
            lost) n="no verified piece is ever lost across kills" ;;
            refetch) n="zero verified pieces fetched twice (mirror log vs. pieces verified at each kill)" ;;
            wrong) n="zero wrong files at any kill" ;;
        esac
        if grep -q "^kill [0-9]*: $kind:" "$T/fails"; then
            not_ok "$what: $n" "$(grep "^kill [0-9]*: $kind:" "$T/fails" | head -n 8)"
        else
            ok "$what: $n"
        fi
    done
}

# report_final WHAT : every file right, `atlas list` shows all complete, same ids.
report_final() {
    local what=$1 bad="" name sum served total
    while read -r sum name; do
        [ "$(sha256_of "$DL/$name" 2>/dev/null)" = "$sum" ] || bad="$bad $name"
    done <"$T/shas"
    if [ -z "$bad" ]; then ok "$what: all $NFILES files match their SHA-256"
    else not_ok "$what: all $NFILES files match their SHA-256" "wrong or missing:$bad" "$(ls -la "$DL")"; fi

    run_atlas list --queue-file "$Q" --json
    cp "$T/out" "$T/final-list.json"
    if python3 - "$T/expect.json" "$T/final-list.json" <<'PY'
import json, sys
expect = json.load(open(sys.argv[1]))["rows"]
got = {}
for line in open(sys.argv[2]):
    line = line.strip()
    if line:
        o = json.loads(line)
        got[str(o["id"])] = o
ok = set(got) == set(expect) and all(
    o["state"] == "complete" and o["path"].endswith("/" + expect[i]["filename"]) for i, o in got.items())
sys.exit(0 if ok else 1)
PY
    then ok "$what: atlas list shows the same $NFILES ids, all complete"
    else not_ok "$what: atlas list shows the same $NFILES ids, all complete" "$(cat "$T/out" "$T/err")"; fi

    served=$(log_bytes "$MIRROR_LOG")
    total=$((NFILES * FILE_MIB * MIB))
    diag "$what: the mirror served $served bytes for $total bytes of files" \
        "($(awk "BEGIN { printf \"%.1f\", ($served - $total) * 100 / $total }") % more) over $KILLS kills"
}

# ---- (a) the CLI: `atlas run` with 16 queued downloads ----------------------------

part_cli() {
    NFILES=16 FILE_MIB=4
    plan 9
    diag "seed $SEED"
    mkdir -p "$T/dl" "$T/root"
    DL="$T/dl" Q="$T/queue.sqlite"
    start_mirror "$T/root" "$T/mirror.log"
    # One shared 4 MiB/s bucket: 64 MiB take at least 16 s, more than the
    # 10+ runs between kills last, so 16 downloads overlap throughout.
    make_files f $NFILES $FILE_MIB rate=4M
    for m in "$T"/meta/*.meta4; do
        run_atlas add --queue-file "$Q" -d "$DL" "$m"
        rc_is 0 || { echo "Bail out! atlas add $m: $(cat "$T/err")"; exit 1; }
    done
    snap_queue 0
    cp "$T/snap-0.json" "$T/expect.json"

    local k pid rc
    for k in $(seq 1 12); do
        "$ATLAS" run --queue-file "$Q" -j $NFILES -x 64 -s 4 -q >"$T/run-$k.out" 2>"$T/run-$k.err" &
        pid=$!
        track_pid "$pid"
        rand_sleep 200 2000
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; rc=$?
            diag "atlas run ended by itself (status $rc) before kill $k"
            [ "$rc" -eq 0 ] || BAD_STATUS="$BAD_STATUS run $k exited $rc: $(head -c 300 "$T/run-$k.err")"
            break
        fi
        kill -KILL "$pid"
        wait "$pid"; rc=$?
        [ "$rc" -eq 137 ] || BAD_STATUS="$BAD_STATUS kill $k: status $rc;"
        KILLS=$k
        check_after_kill "$k"
    done
    report_kills cli

    # The same command once more, to the end.
    timeout -k 5 90 "$ATLAS" run --queue-file "$Q" -j $NFILES -x 64 -s 4 -q >"$T/out" 2>"$T/err"
    RC=$?
    check_after_kill $((KILLS + 1))
    if rc_is 0 && ! grep -q "^kill $((KILLS + 1)):" "$T/fails"; then
        ok "cli: the last atlas run exits 0; its fetches and queue pass the same checks"
    else
        not_ok "cli: the last atlas run exits 0; its fetches and queue pass the same checks" "status $RC" \
            "$(grep "^kill $((KILLS + 1)):" "$T/fails" | head -n 5)" "$(head -c 500 "$T/err")"
    fi
    report_final cli

    # The window between the rename into place and the "complete" record: a
    # kill there, or a power cut that takes the last commit (the queue runs
    # with synchronous=NORMAL), leaves the queue saying "active" with every
    # piece verified, no .part and the right file at its path. Setting the
    # state of a complete download back reproduces that state exactly; the
    # restart must finish it without fetching it again.
    local before name
    name=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["rows"]["1"]["filename"])' "$T/expect.json")
    Q=$Q sql "UPDATE downloads SET state = 1, finished = 0 WHERE id = 1"
    before=$(log_lines "$MIRROR_LOG")
    timeout -k 5 60 "$ATLAS" run --queue-file "$Q" --json >"$T/out" 2>"$T/err"
    RC=$?
    wait_mirror_idle || diag "the mirror was still busy after 10 s"
    local refetched
    refetched=$(tail -n +$((before + 1)) "$MIRROR_LOG" | grep "^GET /$name " |
        sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    diag "killed between rename and record: $refetched bytes of $name fetched again"
    local what="cli: killed after the rename into place, before 'complete' was recorded: not fetched again"
    if rc_is 0 && [ "$refetched" -eq 0 ] &&
        [ "$(sha256_of "$DL/$name")" = "$(sed -n "s/ $name\$//p" "$T/shas")" ]; then
        ok "$what"
    else
        not_ok "$what" "status $RC, $refetched bytes fetched again" "$(grep '"event":"log"' "$T/out" | head -n 5)"
    fi
}

# ---- (b) the app: download-atlas with 8 downloads, under Xvfb ----------------------

part_app() {
    : "${ATLAS_APP:?ATLAS_APP must point to download-atlas}"
    [ -n "${DISPLAY:-}" ] || { echo "Bail out! no DISPLAY: run under tests/app/run-under-xvfb.sh"; exit 1; }
    NFILES=8 FILE_MIB=3
    plan 8
    diag "seed $SEED"
    mkdir -p "$T/root"
    DL=$XDG_DOWNLOAD_DIR Q="$T/app-queue.sqlite"
    export ATLAS_QUEUE_FILE=$Q
    # GLib reads the download folder from user-dirs.dirs; a key file holds the
    # settings so that all 8 downloads run at once, as the user could set.
    printf 'XDG_DOWNLOAD_DIR="%s"\n' "$DL" >"$XDG_CONFIG_HOME/user-dirs.dirs"
    mkdir -p "$XDG_CONFIG_HOME/glib-2.0/settings"
    printf '[org/downloadatlas/DownloadAtlas]\nmax-concurrent-downloads=8\nmax-connections-per-server=16\n' \
        >"$XDG_CONFIG_HOME/glib-2.0/settings/keyfile"
    export GSETTINGS_BACKEND=keyfile
    start_mirror "$T/root" "$T/mirror.log"
    # 24 MiB through one 1.5 MiB/s bucket: at least 16 s of transfer, more
    # than the 10+ runs between kills last (the app takes a while to start).
    make_files a $NFILES $FILE_MIB rate=1536K

    local k pid rc n
    "$ATLAS_APP" "$T"/meta/*.meta4 >"$T/app-1.out" 2>"$T/app-1.err" &
    pid=$!
    track_pid "$pid"
    queued() { [ "$(python3 "$H" queue-count "$Q")" -ge $NFILES ]; }
    if ! WAIT_TENTHS=300 wait_for queued; then
        echo "Bail out! the app did not queue the $NFILES Metalinks: $(tail -c 600 "$T/app-1.err")"
        exit 1
    fi
    # The app owns the queue; WAL lets a read-only reader see it anyway. It
    # may have verified pieces already, but their requests went out before:
    # the refetch check starts from none.
    snap_queue 0
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
for r in s["rows"].values():
    r["verified"] = []
json.dump(s, open(sys.argv[1], "w"))' "$T/snap-0.json"
    cp "$T/snap-0.json" "$T/expect.json"

    for k in $(seq 1 12); do
        if [ "$k" -gt 1 ]; then
            # Restarted the way a user would: no arguments, the queue resumes.
            "$ATLAS_APP" >"$T/app-$k.out" 2>"$T/app-$k.err" &
            pid=$!
            track_pid "$pid"
        fi
        rand_sleep 500 3000
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; rc=$?
            BAD_STATUS="$BAD_STATUS the app exited by itself (status $rc) before kill $k: $(tail -c 300 "$T/app-$((k - 1)).err");"
            break
        fi
        kill -KILL "$pid"
        wait "$pid"; rc=$?
        [ "$rc" -eq 137 ] || BAD_STATUS="$BAD_STATUS kill $k: status $rc;"
        KILLS=$k
        check_after_kill "$k"
        n=$(python3 "$H" queue-count "$Q" complete)
        [ "$n" -lt $NFILES ] || { diag "all complete after kill $k"; break; }
    done
    report_kills app

    # Once more, to the end, then quit through the app's own action.
    if [ "$(python3 "$H" queue-count "$Q" complete)" -lt $NFILES ]; then
        "$ATLAS_APP" >"$T/app-last.out" 2>"$T/app-last.err" &
        pid=$!
        track_pid "$pid"
    fi
    all_complete() { [ "$(python3 "$H" queue-count "$Q" complete)" -ge $NFILES ]; }
    WAIT_TENTHS=600 wait_for all_complete
    RC=$?
    if kill -0 "$pid" 2>/dev/null; then
        gdbus call --session --dest org.downloadatlas.DownloadAtlas \
            --object-path /org/downloadatlas/DownloadAtlas \
            --method org.freedesktop.Application.ActivateAction quit '[]' '{}' >/dev/null 2>&1
        app_gone() { ! kill -0 "$pid" 2>/dev/null; }
        WAIT_TENTHS=100 wait_for app_gone || RC=1
    fi
    check_after_kill $((KILLS + 1))
    if rc_is 0 && ! grep -q "^kill $((KILLS + 1)):" "$T/fails"; then
        ok "app: restarted once more it completes all $NFILES and quits; the same checks pass"
    else
        not_ok "app: restarted once more it completes all $NFILES and quits; the same checks pass" \
            "status $RC" "$(grep "^kill $((KILLS + 1)):" "$T/fails" | head -n 5)" \
            "$(tail -c 500 "$T/app-last.err" 2>/dev/null)"
    fi
    report_final app
}

# ---- (c) the tracker, while peers swarm -----------------------------------------

part_tracker() {
    : "${ATLAS_TRACKER:?ATLAS_TRACKER must point to the atlas-tracker executable}"
    NFILES=4 FILE_MIB=8
    plan 7
    diag "seed $SEED"
    mkdir -p "$T/root" "$T/meta"
    unset ATLAS_TRACKER_URL ATLAS_TRACKER_TOKEN ATLAS_TURN_PASSWORD
    cd "$T" || exit 99
    start_mirror "$T/root" "$T/mirror.log"
    DB="$T/tracker.sqlite"
    local UP DOWN TPORT TRACKER k rc i pub_pid n_pub=0 n_cut=0
    UP=$("$ATLAS_TRACKER" token add --database "$DB" --role uploader --name up 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1)
    DOWN=$("$ATLAS_TRACKER" token add --database "$DB" --role downloader --name down 2>>"$T/token.err" |
        grep -oE '[A-Za-z0-9_-]{40,}' | head -n1)
    if [ -z "$UP" ] || [ -z "$DOWN" ]; then
        echo "Bail out! no tokens: $(cat "$T/token.err")"
        exit 1
    fi

    tracker_port() { sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$T/tracker.out" 2>/dev/null | head -n1; }
    tracker_up() { [ -n "$(tracker_port)" ]; }
    # start_tracker ADDR:PORT : sets TRACKER_PID; bails out if it does not listen.
    start_tracker() {
        # The background job truncates tracker.out only once it runs: drop the
        # last run's "listening" line first, or tracker_up could see it.
        rm -f "$T/tracker.out"
        "$ATLAS_TRACKER" serve --database "$DB" --listen "$1" >"$T/tracker.out" 2>>"$T/tracker.err" &
        TRACKER_PID=$!
        track_pid "$TRACKER_PID"
        if ! WAIT_TENTHS=100 wait_for tracker_up; then
            echo "Bail out! atlas-tracker did not start: $(tail -3 "$T/tracker.err")"
            exit 1
        fi
    }
    start_tracker 127.0.0.1:0
    TPORT=$(tracker_port)
    TRACKER="http://127.0.0.1:$TPORT"
    local PEER=(--tracker "$TRACKER" --local-address 127.0.0.1)

    # get_entries K : GET /entries from the restarted tracker into
    # $T/list-K.json; a refused or empty answer is retried (<= 5 s) and noted.
    get_entries() {
        local try code
        for try in $(seq 1 10); do
            code=$(curl -sS -m 5 -o "$T/list-$1.json" -w '%{http_code}' \
                -H "Authorization: Bearer $DOWN" "$TRACKER/api/v1/entries?limit=500" 2>"$T/curl-$1.err")
            [ "$code" = 200 ] && return 0
            diag "kill $1: GET /entries try $try answered '$code': $(head -c 200 "$T/curl-$1.err")"
            sleep 0.5
        done
    }

    # publish FILE NAME MODES OUT : publishes with the uploader token; on
    # success (acknowledged by the tracker) appends "id name entry" to $T/acked.
    : >"$T/acked"
    publish() {
        ATLAS_TRACKER_TOKEN=$UP timeout -k 2 20 "$ATLAS" publish "$1" --tracker "$TRACKER" --name "$2" \
            --mirror "$BASE/$3/$(basename "$1")" --piece-size 64K --output "$T/meta/$2.meta4" --json \
            >"$4" 2>"$4.err" || return 1
        python3 -c 'import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o.get("event") == "published":
        print(o["id"], o["name"], o["entry"])' "$4" >>"$T/acked"
    }
    : >"$T/shas"
    for i in $(seq 1 $NFILES); do
        make_file "$T/root/t$i.bin" $FILE_MIB
        echo "$(sha256_of "$T/root/t$i.bin") t$i.bin" >>"$T/shas"
        # A slow mirror (one 512 KiB/s bucket for all): the bytes must come from peers.
        publish "$T/root/t$i.bin" "t$i.bin" rate=512K "$T/pub-t$i.json" ||
            { echo "Bail out! publish t$i.bin: $(cat "$T/pub-t$i.json.err")"; exit 1; }
    done
    python3 "$H" tracker-snap "$DB" "$T/tsnap-0.json"
    python3 -c 'import json, sys
s = json.load(open(sys.argv[1])); s["entries"] = {}
json.dump(s, open(sys.argv[2], "w"))' "$T/tsnap-0.json" "$T/texpect.json"
    python3 "$H" tracker-check "$T/texpect.json" "$T/tsnap-0.json" "$T/acked" >/dev/null ||
        { echo "Bail out! the published entries are not in the database"; exit 1; }

    export ATLAS_TRACKER_TOKEN=$DOWN
    "$ATLAS" seed --json "${PEER[@]}" --identity "$T/id-seed" --upload-limit 1M \
        "$T"/meta/t*.bin.meta4 --dir "$T/root" >"$T/seed.json" 2>"$T/seed.err" &
    SEED_PID=$!
    track_pid "$SEED_PID"
    seeding_all() { [ "$(grep -c '"event":"seeding"' "$T/seed.json" 2>/dev/null)" -ge $NFILES ]; }
    WAIT_TENTHS=300 wait_for seeding_all ||
        { echo "Bail out! atlas seed did not start: $(tail -c 500 "$T/seed.err")"; exit 1; }
    local LEECH=()
    for i in $(seq 1 $NFILES); do
        timeout -k 5 150 "$ATLAS" get --no-queue --json -d "$T/l$i" "${PEER[@]}" --identity "$T/id-l$i" \
            "t$i.bin" >"$T/l$i.json" 2>"$T/l$i.err" &
        LEECH+=("$!")
        track_pid "$!"
    done
    sleep 1

    for k in $(seq 1 12); do
        # A publication racing the kill: acknowledged ones must survive it.
        head -c 65536 /dev/urandom >"$T/root/p$k.bin"
        rand_sleep 0 600
        publish "$T/root/p$k.bin" "p$k.bin" - "$T/pub-p$k.json" &
        pub_pid=$!
        rand_sleep 0 500
        kill -KILL "$TRACKER_PID"
        wait "$TRACKER_PID"; rc=$?
        [ "$rc" -eq 137 ] || BAD_STATUS="$BAD_STATUS kill $k: status $rc;"
        KILLS=$k
        if wait "$pub_pid"; then n_pub=$((n_pub + 1)); else n_cut=$((n_cut + 1)); fi
        if [ "$k" -eq 3 ] && [ "$BREAK" = entry ]; then
            Q=$DB sql "DELETE FROM entries WHERE id = (SELECT MIN(id) FROM entries)"
            diag "BREAK: deleted the first entry from the tracker's database"
        fi
        python3 "$H" tracker-snap "$DB" "$T/tsnap-$k.json"
        # The database as the crash left it, then as the restarted tracker serves it.
        start_tracker "127.0.0.1:$TPORT"
        get_entries "$k"
        python3 "$H" tracker-check "$T/texpect.json" "$T/tsnap-$k.json" "$T/acked" "$T/list-$k.json" >"$T/check-$k.txt"
        sed "s/^FAIL /kill $k: /;t;d" "$T/check-$k.txt" >>"$T/fails"
        diag "kill $k: $(sed -n 's/^INFO //p' "$T/check-$k.txt"); leechers at$(for i in $(seq 1 $NFILES); do
            printf ' %s' "$(grep '"event":"progress"' "$T/l$i.json" 2>/dev/null | tail -n1 |
                sed -n 's/.*"completed":\([0-9]*\).*/\1/p')"; done)"
    done
    LAST_RESTART=$(date +%s.%N)
    diag "$n_pub publications were acknowledged during the kills, $n_cut were cut off by one"

    if [ "$KILLS" -ge "$KILLS_MIN" ] && [ -z "$BAD_STATUS" ]; then
        ok "tracker: $KILLS SIGKILLs at random moments while peers swarm (seed $SEED)"
    else
        not_ok "tracker: at least $KILLS_MIN SIGKILLs (seed $SEED)" "kills: $KILLS; $BAD_STATUS"
    fi
    fail_kind() {
        local name=$1 pattern=$2
        if grep -q "^kill [0-9]*: \($pattern\)" "$T/fails"; then
            not_ok "tracker: $name" "$(grep "^kill [0-9]*: \($pattern\)" "$T/fails" | head -n 6)"
        else ok "tracker: $name"; fi
    }
    fail_kind "after every kill its database passes integrity_check and keeps its tokens" 'integrity\|tokens'
    fail_kind "every acknowledged entry survives every later kill unchanged ($((NFILES + n_pub)) entries)" 'entry\|acknowledged'
    fail_kind "each restarted tracker lists the same entries to the same token" 'GET'

    local rcs="" bad="" from_peers=0 fp t_end
    for i in $(seq 1 $NFILES); do
        wait "${LEECH[$((i - 1))]}"; rc=$?
        rcs="$rcs $rc"
        [ "$(sha256_of "$T/l$i/t$i.bin" 2>/dev/null)" = "$(sed -n "s/ t$i\.bin\$//p" "$T/shas")" ] || bad="$bad t$i.bin"
        fp=$(sed -n 's/.*"event":"finished".*"from_peers":\([0-9]*\).*/\1/p' "$T/l$i.json" | head -n1)
        from_peers=$((from_peers + ${fp:-0}))
    done
    t_end=$(date +%s.%N)
    diag "leechers ended $(awk "BEGIN { printf \"%.1f\", $t_end - $LAST_RESTART }") s after the last restart; exit statuses:$rcs"
    if [ "$rcs" = "$(printf ' 0%.0s' $(seq 1 $NFILES))" ]; then ok "tracker: all $NFILES downloads complete (exit 0) after it returns"
    else not_ok "tracker: all $NFILES downloads complete (exit 0) after it returns" "statuses:$rcs" "$(tail -c 400 "$T/l1.err")"; fi
    if [ -z "$bad" ]; then ok "tracker: all $NFILES files match their SHA-256"
    else not_ok "tracker: all $NFILES files match their SHA-256" "wrong or missing:$bad"; fi
    diag "$from_peers of $((NFILES * FILE_MIB * MIB)) bytes came from peers"
    if [ "$from_peers" -gt $((NFILES * FILE_MIB * MIB / 2)) ]; then ok "tracker: most bytes came from peers, so the swarm lived through the kills"
    else not_ok "tracker: most bytes came from peers, so the swarm lived through the kills" "from_peers=$from_peers"; fi
}

case $PART in
    cli) part_cli ;;
    app) part_app ;;
    tracker) part_tracker ;;
    *) echo "Bail out! unknown part '$PART' (cli, app or tracker)"; exit 1 ;;
esac
finish
