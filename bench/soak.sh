#!/usr/bin/env bash
# Soak: an hour of mixed traffic against long-lived Download Atlas processes, with their
# memory, file descriptors and threads sampled; fails when any of them grows past the
# bound below, when a long-lived process dies, or when a download ends with wrong bytes.
#
# Long-lived (sampled and judged): atlas-tracker, the test mirror (the origin), one
# `atlas donate`, one `atlas seed` and the desktop app `download-atlas` under Xvfb, which
# is handed a new Metalink through its command line (forwarded over D-Bus to the running
# instance) every --app-every seconds for the whole run and joins the files' swarms:
# alternately a file published just then (so the app keeps meeting new files, as a user
# does) and one of the soak's files again under a new name.
# Around them short-lived `atlas get NAME --tracker` peers come and go: most finish and
# leave, some linger seeding, some are killed (SIGINT or SIGKILL) part way.
#
# THE BOUND, per long-lived process, judged after a warm-up of max(10 % of the run, 30 s):
#   rss-end     RSS at the end (median of the last 5 samples) <= warm-up max RSS + 32 MiB
#               (smoke: + 16 MiB)
#   rss-slope   least-squares slope of RSS over the second half < 512 KiB/min, judged in
#               runs of 10 min or more (in shorter ones, the smoke included, a fresh
#               process still settles and one minute of samples is noise: reported only).
#               Why 512: heaptrack on `atlas seed` showed its heap back at ~0 between
#               peers while its RSS still rose 350-470 KiB/min over 10-20 min (malloc
#               keeping freed memory in per-thread arenas); a leak of one 64 KiB buffer
#               per peer or per piece served goes far past it.
#   fds         open fds never above warm-up max + 24 (peer links come and go: their
#               sockets moved the count by up to 17 in healthy runs)
#   threads     threads never above warm-up max + 8
# and for the run: no long-lived process exits; every download that was not killed on
# purpose completes and matches its SHA-256; at least one app and one peer download did.
# bench/soak-judge.py applies it (bounds.tsv carries the numbers actually used).
#
# Usage: bench/soak.sh [--duration S] [--smoke] [options]   (see --help)
set -euo pipefail
# The whole script is one compound command, so bash has read all of it before it runs:
# editing this file during an hour-long run cannot change what the run does next.
{
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
ROOT_DIR=$(cd "$BENCH_DIR/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/soak.sh [options]
  --duration S         seconds of traffic (default 3600)
  --smoke              120 s of traffic, small files: the CI form (under 150 s in all)
  --files N            published files (default 3)
  --size SIZE          size of each file (default 16M; smoke 4M)
  --origin-rate RATE   origin mirror cap per file and mirror (default 2M; smoke 1M)
  --upload RATE        upload cap of the donor, the seeder and each peer (default 2M;
                       smoke 1M): caps keep each download a few seconds long
  --peers N            short-lived peers running at once at most (default 3; smoke 2)
  --app-every S        a new app download every S seconds (default 20; smoke 10)
  --interval S         sampling period (default 5; smoke 2)
  --rss-end-mib N      bound: end RSS <= warm-up max + N MiB (default 32; smoke 16)
  --slope-kib-min N    bound: RSS slope over the second half < N KiB/min (default 512;
                       judged only in runs of at least 600 s)
  --fd-extra N         bound: fds <= warm-up max + N (default 24)
  --thread-extra N     bound: threads <= warm-up max + N (default 8)
  --no-app             without the desktop app (no Xvfb needed)
  --inject-leak PROC   self-check: preload a leak (256 KiB/s of touched heap and an fd every
                       10 s) into PROC (app, donor, seeder, tracker, mirror); the run must FAIL
  --out DIR            results (default bench/results/full/soak; smoke bench/results/smoke/soak)
  --atlas PATH         atlas CLI (default: $ATLAS, else build*/src/cli/atlas); the tracker,
                       mirror and app default to the same build
  --app PATH | --tracker-bin PATH | --mirror-bin PATH
EOF
}

DURATION=3600; SMOKE=0; FILES=""; SIZE=""; ORIGIN_RATE=""; PEERS=""; APP_EVERY=""
INTERVAL=""; RSS_END_MIB=""; SLOPE_KIB_MIN=""; FD_EXTRA=24; THREAD_EXTRA=8
NO_APP=0; INJECT=""; OUT=""; UPLOAD=""
ATLAS_BIN=${ATLAS:-}; APP_BIN=${ATLAS_APP:-}; TRACKER_BIN=${ATLAS_TRACKER_BIN:-}
while (($#)); do
    case $1 in
        --duration) DURATION=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --files) FILES=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --origin-rate) ORIGIN_RATE=$2; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --upload) UPLOAD=$2; shift 2 ;;
        --app-every) APP_EVERY=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --rss-end-mib) RSS_END_MIB=$2; shift 2 ;;
        --slope-kib-min) SLOPE_KIB_MIN=$2; shift 2 ;;
        --fd-extra) FD_EXTRA=$2; shift 2 ;;
        --thread-extra) THREAD_EXTRA=$2; shift 2 ;;
        --no-app) NO_APP=1; shift ;;
        --inject-leak) INJECT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --atlas) ATLAS_BIN=$2; shift 2 ;;
        --app) APP_BIN=$2; shift 2 ;;
        --tracker-bin) TRACKER_BIN=$2; shift 2 ;;
        --mirror-bin) MIRROR_BIN=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
if ((SMOKE)); then
    DURATION=120
    : "${FILES:=3}" "${SIZE:=4M}" "${ORIGIN_RATE:=1M}" "${PEERS:=2}" "${APP_EVERY:=10}"
    : "${INTERVAL:=2}" "${RSS_END_MIB:=16}" "${UPLOAD:=1M}"
    : "${OUT:=$BENCH_DIR/results/smoke/soak}"
fi
: "${FILES:=3}" "${SIZE:=16M}" "${ORIGIN_RATE:=2M}" "${PEERS:=3}" "${APP_EVERY:=20}"
: "${INTERVAL:=5}" "${SLOPE_KIB_MIN:=512}" "${RSS_END_MIB:=32}" "${OUT:=$BENCH_DIR/results/full/soak}" "${UPLOAD:=2M}"
for n in "$DURATION" "$FILES" "$PEERS" "$APP_EVERY" "$INTERVAL" "$RSS_END_MIB" \
    "$SLOPE_KIB_MIN" "$FD_EXTRA" "$THREAD_EXTRA"; do
    [[ $n =~ ^[0-9]+$ ]] || bench_die "whole numbers expected: $n"
done
((DURATION >= 60)) || bench_die "--duration must be at least 60 s"
((FILES >= 1 && FILES <= 9)) || bench_die "--files must be 1..9"
((INTERVAL >= 1)) || bench_die "--interval must be at least 1"
case $INJECT in ""|app|donor|seeder|tracker|mirror) ;; *) bench_die "--inject-leak: unknown process $INJECT" ;; esac
# Warm-up: the first 10 % of the run, at least 30 s (start-up, first swarms, caches).
WARMUP=$((DURATION / 10)); ((WARMUP >= 30)) || WARMUP=30

# ---------------------------------------------------------------- binaries
if [[ -z $ATLAS_BIN ]]; then
    for b in "$ROOT_DIR"/build/src/cli/atlas "$ROOT_DIR"/build*/src/cli/atlas; do
        [[ -x $b ]] && { ATLAS_BIN=$b; break; }
    done
fi
[[ -n $ATLAS_BIN && -x $ATLAS_BIN ]] || bench_die "atlas CLI not found (--atlas)"
ATLAS_BIN=$(cd "$(dirname "$ATLAS_BIN")" && pwd)/$(basename "$ATLAS_BIN")
ATLAS_BUILD=$(cd "$(dirname "$ATLAS_BIN")/../.." && pwd)
: "${TRACKER_BIN:=$ATLAS_BUILD/src/tracker/atlas-tracker}"
: "${MIRROR_BIN:=$ATLAS_BUILD/tests/mirror/atlas-test-mirror}"
: "${APP_BIN:=$ATLAS_BUILD/src/app/download-atlas}"
[[ -x $TRACKER_BIN ]] || bench_die "atlas-tracker not found (--tracker-bin)"
bench_have_mirror || bench_die "atlas-test-mirror not found (--mirror-bin)"
XVFB_WRAPPER=$ROOT_DIR/tests/app/run-under-xvfb.sh
if ((!NO_APP)); then
    [[ -x $APP_BIN ]] || bench_die "download-atlas not found (--app PATH, or --no-app)"
    command -v Xvfb >/dev/null 2>&1 || bench_die "Xvfb is needed for the app (apt-get install xvfb xauth), or --no-app"
    command -v dbus-daemon >/dev/null 2>&1 || bench_die "dbus-daemon is needed for the app (apt-get install dbus), or --no-app"
    command -v gdbus >/dev/null 2>&1 || bench_die "gdbus is needed to quit the app (apt-get install libglib2.0-bin)"
    [[ -f $ATLAS_BUILD/data/gschemas.compiled ]] || bench_die "no compiled schema in $ATLAS_BUILD/data"
fi
[[ $INJECT != app || $NO_APP == 0 ]] || bench_die "--inject-leak app needs the app"

# Host candidates: loopback for the CLI processes, plus this machine's first other IPv4
# address, which is the only one the app gathers on (it has no loopback setting); without
# one the app cannot reach peers and downloads from the mirror alone.
HOST_ADDR=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4; exit}' || true)
LOCAL_ARGS=(--local-address 127.0.0.1)
[[ -n $HOST_ADDR ]] && LOCAL_ARGS+=(--local-address "$HOST_ADDR")

bench_tmp_init
START=$SECONDS
rm -rf -- "$OUT"; mkdir -p "$OUT"
DATA=$BENCH_TMP/data; WORK=$BENCH_TMP/work
mkdir -p "$DATA" "$WORK"; chmod 755 "$DATA"
BYTES=$(bench_bytes "$SIZE")

{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'host\t%s cores, %s, kernel %s\n' "$(nproc)" \
        "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')" "$(uname -r)"
    printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'atlas\t%s\n' "$ATLAS_BIN"
    printf 'atlas_commit\t%s\n' "$(git -C "$ROOT_DIR" describe --always --dirty 2>/dev/null || echo n/a)"
    printf 'atlas_built\t%s\n' "$(date -u -r "$ATLAS_BIN" +%Y-%m-%dT%H:%M:%SZ)"
    printf 'duration_s\t%s\n' "$DURATION"
    printf 'smoke\t%s\n' "$SMOKE"
    printf 'files\t%s\n' "$FILES"
    printf 'file_bytes\t%s\n' "$BYTES"
    printf 'origin_rate\t%s\n' "$ORIGIN_RATE"
    printf 'upload\t%s\n' "$UPLOAD"
    printf 'peers_at_once\t%s\n' "$PEERS"
    printf 'app\t%s\n' "$((NO_APP ? 0 : 1))"
    printf 'app_every_s\t%s\n' "$APP_EVERY"
    printf 'interval_s\t%s\n' "$INTERVAL"
    printf 'host_addr\t%s\n' "${HOST_ADDR:-none}"
    printf 'inject_leak\t%s\n' "${INJECT:-none}"
} >"$OUT/env.tsv"
{
    printf 'bound\tvalue\tmeaning\n'
    printf 'warmup_s\t%s\tsamples before this are the baseline\n' "$WARMUP"
    printf 'rss_end_mib\t%s\tend RSS (median of last 5 samples) <= warm-up max + this\n' "$RSS_END_MIB"
    printf 'slope_kib_min\t%s\tleast-squares RSS slope over the second half < this\n' "$SLOPE_KIB_MIN"
    printf 'slope_min_run_s\t600\tthe slope is judged only in runs at least this long\n'
    printf 'fd_extra\t%s\tfds never above warm-up max + this\n' "$FD_EXTRA"
    printf 'thread_extra\t%s\tthreads never above warm-up max + this\n' "$THREAD_EXTRA"
} >"$OUT/bounds.tsv"

# ---------------------------------------------------------------- leak self-check
LEAK_LIB=""
if [[ -n $INJECT ]]; then
    command -v cc >/dev/null 2>&1 || bench_die "--inject-leak needs a C compiler"
    LEAK_LIB=$BENCH_TMP/soak-leak.so
    # A thread that leaks like a forgotten buffer in a loop: 64 KiB of touched heap every
    # 250 ms and an fd every 10 s, for the life of the process.
    cc -shared -fPIC -O1 -o "$LEAK_LIB" -x c - -lpthread <<'EOF'
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void *leak (void *arg) {
  (void) arg;
  for (unsigned n = 1;; n++) {
    char *p = malloc (65536);
    if (p) memset (p, (int) n, 65536);
    if (n % 40 == 0) open ("/dev/null", O_RDONLY | O_CLOEXEC);
    usleep (250000);
  }
  return NULL;
}
__attribute__ ((constructor)) static void start (void) {
  pthread_t t;
  pthread_create (&t, NULL, leak, NULL);
}
EOF
    bench_log "self-check: leaking into the $INJECT process; this run must FAIL"
fi
preload_for() { [[ $INJECT == "$1" ]] && printf 'LD_PRELOAD=%s' "$LEAK_LIB" || printf 'SOAK_NO_LEAK=1'; }

# ---------------------------------------------------------------- files, origin
bench_log "making $FILES files of $BYTES bytes"
NAMES=()
for ((i = 0; i < FILES; i++)); do
    NAMES+=("soak-$i.bin")
    bench_make_file "$DATA/soak-$i.bin" "$BYTES"
done
if [[ $INJECT == mirror ]]; then
    LD_PRELOAD=$LEAK_LIB bench_mirror_start "$DATA"
else
    bench_mirror_start "$DATA"
fi
MIRROR_LOG=$(compgen -G "$BENCH_TMP/mirror.*.log" | head -n 1 || true)

# ---------------------------------------------------------------- tracker
bench_tracker_start "$WORK" env "$(preload_for tracker)"
UP=$TRACKER_UP
DOWN=$TRACKER_DOWN
printf '%s\n' "$DOWN" >"$WORK/token"; chmod 600 "$WORK/token"

# Mixed sources: file 0 has the capped origin alone, file 1 also a mirror that resets
# every connection after 3 MiB, file 2 also one that corrupts every byte (so bans and
# re-fetches run all hour), further files the capped origin alone.
ENTRIES=()
for ((i = 0; i < FILES; i++)); do
    name=${NAMES[i]}
    mirrors=(--mirror "http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE/$name")
    case $i in
        1) mirrors+=(--mirror "http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE,reset=3145728/$name") ;;
        2) mirrors+=(--mirror "http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE,corrupt=all/$name") ;;
    esac
    js=$(ATLAS_TRACKER_TOKEN=$UP "$ATLAS_BIN" publish "$DATA/$name" --tracker "$TRACKER_URL" \
        "${mirrors[@]}" --piece-size 1M --output "$WORK/$name.meta4" --json) ||
        bench_die "atlas publish $name failed"
    entry=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1].splitlines()[-1])["entry"])' "$js")
    ENTRIES+=("${entry#sha256:}")
done
bench_log "tracker $TRACKER_URL; published ${NAMES[*]}"

# ---------------------------------------------------------------- donor, seeder
mkdir -p "$WORK/donor" "$WORK/seeder"
causes=()
for e in "${ENTRIES[@]}"; do causes+=(--cause "$e"); done
env "$(preload_for donor)" XDG_DATA_HOME="$WORK/donor" XDG_CONFIG_HOME="$WORK/donor" \
    XDG_CACHE_HOME="$WORK/donor" "$ATLAS_BIN" donate --tracker "$TRACKER_URL" \
    --token-file "$WORK/token" --storage "$(( BYTES * FILES / 2 ))" --upload "$UPLOAD" \
    "${causes[@]}" --cache "$WORK/donor/cache" "${LOCAL_ARGS[@]}" \
    --ignore-metered --ignore-power-saver --json >"$WORK/donor/stdout.jsonl" 2>"$WORK/donor/stderr.log" &
DONOR_PID=$!
BENCH_PIDS+=("$DONOR_PID")
# The seeder holds file 0 only, so the other files depend on the origin, the donor and
# the peers themselves.
env "$(preload_for seeder)" ATLAS_TRACKER_TOKEN="$DOWN" XDG_DATA_HOME="$WORK/seeder" \
    XDG_CONFIG_HOME="$WORK/seeder" XDG_CACHE_HOME="$WORK/seeder" \
    "$ATLAS_BIN" seed "$WORK/${NAMES[0]}.meta4" --dir "$DATA" --tracker "$TRACKER_URL" \
    "${LOCAL_ARGS[@]}" --upload-limit "$UPLOAD" --identity "$WORK/seeder/identity" --json \
    >"$WORK/seeder/stdout.jsonl" 2>"$WORK/seeder/stderr.log" &
SEEDER_PID=$!
BENCH_PIDS+=("$SEEDER_PID")

# ---------------------------------------------------------------- the app
APP_PID=""; APP_WRAP_PID=""; APP_ENV=$WORK/app/env
if ((!NO_APP)); then
    mkdir -p "$WORK/app/dl"
    # Inside the wrapper (own Xvfb, private bus, private XDG dirs): settings in a key file
    # (the wrapper's memory backend could not be set from here), the token as the
    # Preferences window stores it, then the app itself with the wrapper's environment
    # written out for the second instances that hand it downloads.
    # shellcheck disable=SC2016
    APP_INNER='set -eu
umask 077
mkdir -p "$XDG_CONFIG_HOME/glib-2.0/settings" "$XDG_CONFIG_HOME/download-atlas"
printf "%s\n" "$SOAK_TOKEN" >"$XDG_CONFIG_HOME/download-atlas/tracker-token"
cat >"$XDG_CONFIG_HOME/glib-2.0/settings/keyfile" <<EOK
[org/downloadatlas/DownloadAtlas]
tracker-url='"'"'$SOAK_TRACKER'"'"'
peer-mode='"'"'on'"'"'
download-directory='"'"'$SOAK_DL'"'"'
close-action='"'"'background'"'"'
EOK
umask 022
{ echo "DISPLAY=$DISPLAY"; echo "DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS"
  echo "XDG_DATA_HOME=$XDG_DATA_HOME"; echo "XDG_CONFIG_HOME=$XDG_CONFIG_HOME"
  echo "XDG_CACHE_HOME=$XDG_CACHE_HOME"; echo "APP_PID=$$"; } >"$SOAK_ENV.tmp"
mv "$SOAK_ENV.tmp" "$SOAK_ENV"
export GSETTINGS_BACKEND=keyfile
exec env $SOAK_PRELOAD "$SOAK_APP"'
    SOAK_TOKEN=$DOWN SOAK_TRACKER=$TRACKER_URL SOAK_DL=$WORK/app/dl SOAK_ENV=$APP_ENV \
        SOAK_APP=$APP_BIN SOAK_PRELOAD=$(preload_for app) \
        GSETTINGS_SCHEMA_DIR=$ATLAS_BUILD/data ATLAS_QUEUE_FILE=$WORK/app/queue.sqlite \
        TMPDIR=$BENCH_TMP "$XVFB_WRAPPER" bash -c "$APP_INNER" \
        >"$WORK/app/stdout.log" 2>"$WORK/app/stderr.log" &
    APP_WRAP_PID=$!
    BENCH_PIDS+=("$APP_WRAP_PID")
    for ((n = 0; n < 200; n++)); do
        [[ -s $APP_ENV ]] && break
        kill -0 "$APP_WRAP_PID" 2>/dev/null || break
        sleep 0.05
    done
    [[ -s $APP_ENV ]] || bench_die "the app did not start under Xvfb: $(tail -5 "$WORK/app/stderr.log")"
    APP_PID=$(sed -n 's/^APP_PID=//p' "$APP_ENV")
    BENCH_PIDS+=("$APP_PID")   # stopped before its wrapper (the list is stopped last first)
    # The first instance owns its name on the bus before a second one can hand it work.
    # shellcheck disable=SC2046
    app_on_bus() {
        env $(grep -v ^APP_PID "$APP_ENV") gdbus call --session --dest org.freedesktop.DBus \
            --object-path /org/freedesktop/DBus --method org.freedesktop.DBus.NameHasOwner \
            org.downloadatlas.DownloadAtlas 2>/dev/null | grep -q true
    }
    for ((n = 0; n < 100; n++)); do app_on_bus && break; sleep 0.1; done
    app_on_bus || bench_die "the app did not take its D-Bus name: $(tail -5 "$WORK/app/stderr.log")"
fi

# stop_app: app.quit over D-Bus (as the desktop would), then by PID; the wrapper then
# stops its Xvfb and bus and exits.
stop_app() {
    [[ -n $APP_WRAP_PID ]] || return 0
    # shellcheck disable=SC2046
    timeout 10 env $(grep -v ^APP_PID "$APP_ENV") gdbus call --session \
        --dest org.downloadatlas.DownloadAtlas --object-path /org/downloadatlas/DownloadAtlas \
        --method org.freedesktop.Application.ActivateAction quit '[]' '{}' >/dev/null 2>&1 || true
    local n=0
    while kill -0 "$APP_PID" 2>/dev/null && ((n < 150)); do sleep 0.1; n=$((n + 1)); done
    if kill -0 "$APP_PID" 2>/dev/null; then
        bench_log "the app did not quit within 15 s of app.quit; SIGTERM"
        echo "app did not quit within 15 s of app.quit" >>"$OUT/shutdown.txt"
        kill -TERM "$APP_PID" 2>/dev/null || true
        n=0
        while kill -0 "$APP_PID" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
        kill -KILL "$APP_PID" 2>/dev/null || true
    fi
    n=0
    while kill -0 "$APP_WRAP_PID" 2>/dev/null && ((n < 50)); do sleep 0.1; n=$((n + 1)); done
    kill -TERM "$APP_WRAP_PID" 2>/dev/null || true
    wait "$APP_WRAP_PID" 2>/dev/null || true
    bench_forget_pid "$APP_WRAP_PID"
    bench_forget_pid "$APP_PID"
    APP_WRAP_PID=""
}

# ---------------------------------------------------------------- the run
python3 - "$WORK/config.json" <<EOF
import json, sys
json.dump({
    "work": "$WORK", "out": "$OUT", "atlas": "$ATLAS_BIN", "app": "$APP_BIN",
    "app_env": "$APP_ENV" if "$APP_PID" else None, "app_dl": "$WORK/app/dl",
    "tracker": "$TRACKER_URL", "token": "$DOWN",
    "names": "${NAMES[*]}".split(), "entries": "${ENTRIES[*]}".split(),
    "metalinks": ["$WORK/%s.meta4" % n for n in "${NAMES[*]}".split()],
    "sha256": {}, "data": "$DATA", "local_args": "${LOCAL_ARGS[*]}".split(),
    "duration": $DURATION, "interval": $INTERVAL, "peers": $PEERS,
    "app_every": $APP_EVERY, "smoke": $SMOKE, "upload": "$UPLOAD", "up_token": "$UP",
    "fresh_bytes": $(( SMOKE ? 2097152 : 4194304 )),
    "fresh_mirror": "http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE/",
    "kill_max": 3 if $SMOKE else 8,
    "long_lived": {"tracker": $TRACKER_PID, "mirror": $MIRROR_PID, "donor": $DONOR_PID,
                   "seeder": $SEEDER_PID, **({"app": int("$APP_PID")} if "$APP_PID" else {})},
}, open(sys.argv[1], "w"))
EOF
bench_log "soak for ${DURATION}s: long-lived tracker $TRACKER_PID, mirror $MIRROR_PID, donor $DONOR_PID, seeder $SEEDER_PID${APP_PID:+, app $APP_PID}"
drc=0
python3 "$BENCH_DIR/soak-driver.py" "$WORK/config.json" &
DRIVER_PID=$!
BENCH_PIDS+=("$DRIVER_PID")   # on Ctrl-C it is stopped first and stops its peers
wait "$DRIVER_PID" || drc=$?
bench_forget_pid "$DRIVER_PID"

# ---------------------------------------------------------------- stop, keep logs, judge
: >"$OUT/shutdown.txt"
stop_app
for pid in "$SEEDER_PID" "$DONOR_PID" "$TRACKER_PID"; do
    kill -TERM "$pid" 2>/dev/null || true
    n=0
    while kill -0 "$pid" 2>/dev/null && ((n < 100)); do sleep 0.1; n=$((n + 1)); done
    kill -0 "$pid" 2>/dev/null && echo "pid $pid did not stop within 10 s of SIGTERM" >>"$OUT/shutdown.txt"
    kill -KILL "$pid" 2>/dev/null || true
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    printf 'pid %s exit %s\n' "$pid" "$rc" >>"$OUT/shutdown.txt"
    bench_forget_pid "$pid"
done
bench_mirror_stop
mkdir -p "$OUT/logs"
for f in tracker.err donor/stderr.log seeder/stderr.log app/stderr.log; do
    [[ -f $WORK/$f ]] && tail -c 200000 "$WORK/$f" >"$OUT/logs/${f//\//-}"
done
[[ -n $MIRROR_LOG ]] && tail -n 2000 "$MIRROR_LOG" >"$OUT/logs/mirror-tail.log"
printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.tsv"
printf 'wall_s\t%s\n' "$((SECONDS - START))" >>"$OUT/env.tsv"
((drc == 0)) || bench_log "the driver reported a problem (exit $drc)"
jrc=0
python3 "$BENCH_DIR/soak-judge.py" "$OUT" || jrc=$?
bench_log "done in $((SECONDS - START)) s; results in $OUT"
((drc == 0 && jrc == 0)) || exit 1
exit 0
}
