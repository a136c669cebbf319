#!/usr/bin/env bash
# Tracker load benchmark: thousands of simulated peers (tests/tracker/bench-tracker-load.c,
# libsoup WebSocket clients, ~1000 per generator process) hello, join, announce and signal through one
# atlas-tracker process on loopback. Reports peers held, requests/s, latency percentiles,
# the tracker's RSS, fds and CPU.
# Usage: bench/bench-tracker-load.sh [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<'EOF2'
usage: bench/bench-tracker-load.sh [options]
  --tracker PATH  atlas-tracker (default: $ATLAS_TRACKER, else build*/src/tracker/atlas-tracker)
  --bin PATH      bench-tracker-load (default: $BENCH_TRACKER_LOAD, else
                  build*/tests/tracker/bench-tracker-load)
  --runs N        runs per scenario, a fresh tracker each (default 3)
  --only NAME     one scenario (repeatable)
  --per-process N peers per generator process (default 1000; GLib's main loop walks
                  every socket on each iteration, so one process must not hold them all)
  --smoke         one small scenario, 1 run, < 60 s
  --out DIR       result dir (default bench/results/full/tracker-load; smoke:
                  bench/results/smoke/tracker-load); runs.tsv + summary.txt
  --timeout S     per-run timeout in seconds (default 300)
EOF2
}

TRACKER=${ATLAS_TRACKER:-}
BIN=${BENCH_TRACKER_LOAD:-}
RUNS=3; SMOKE=0; OUT=""; ONLY=(); PER_PROCESS=1000
while (($#)); do
    case $1 in
        --tracker) TRACKER=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --only) ONLY+=("$2"); shift 2 ;;
        --per-process) PER_PROCESS=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) BENCH_TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"

# Scenarios: name peers entries pieces announces/s offers/s steady-seconds.
# Announces: a real client announces every 60 s at the least; 1/30 s per peer is twice
# that. Offers: each one is answered, so the tracker relays twice as many messages.
if ((SMOKE)); then
    RUNS=1
    OUT=${OUT:-$BENCH_DIR/results/smoke/tracker-load}
    SCENARIOS=("smoke-500 500 10 256 100 100 10")
else
    OUT=${OUT:-$BENCH_DIR/results/full/tracker-load}
    SCENARIOS=(
        "p2000 2000 100 256 67 100 30"
        "p2000-hot 2000 1 256 67 100 30"
        "p5000 5000 100 256 167 250 30"
        "p10000 10000 100 256 333 500 30"
        "p10000-hot 10000 1 256 333 500 30"
        "p5000-busy 5000 100 256 1000 1000 30"
    )
fi

find_built() { # find_built RELATIVE-PATH
    local c
    for c in "$BENCH_DIR"/../build*/"$1"; do
        [[ -x $c ]] && { echo "$c"; return 0; }
    done
    return 1
}
[[ -n $TRACKER ]] || TRACKER=$(find_built src/tracker/atlas-tracker) || true
[[ -n $BIN ]] || BIN=$(find_built tests/tracker/bench-tracker-load) || true
[[ -n $TRACKER && -x $TRACKER ]] || bench_die "atlas-tracker not found: build it or pass --tracker"
[[ -n $BIN && -x $BIN ]] ||
    bench_die "bench-tracker-load not found: ninja -C build tests/tracker/bench-tracker-load, or --bin"
for t in python3 curl timeout; do command -v "$t" >/dev/null || bench_die "missing: $t"; done

# Each peer is a socket in the generator and one in the tracker.
ulimit -Hn 65536 2>/dev/null || true
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
bench_log "open files limit $(ulimit -n)"

bench_tmp_init
mkdir -p "$OUT"
TSV=$OUT/runs.tsv
COLUMNS=(scenario run status peers entries generators connect_s connected joined open_at_end
    closed_by_tracker held_max requests_per_s connect_p99_ms join_p50_ms join_p99_ms
    announce_p50_ms announce_p99_ms
    relay_p50_ms relay_p99_ms roundtrip_p99_ms handled_per_s cpu_us_per_msg tracker_cpu_pct generator_cpu_pct
    rss_idle_kb rss_max_kb hwm_kb fds_max rss_after_kb fds_idle fds_after errors)
(IFS=$'\t'; echo "${COLUMNS[*]}") >"$TSV"

TRACKER_PID=""
start_tracker() { # start_tracker DIR: sets TRACKER_PID, BASE
    local dir=$1 n=0
    "$TRACKER" serve --database "$dir/tracker.db" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/err" &
    TRACKER_PID=$!
    BENCH_PIDS+=("$TRACKER_PID")
    BASE=""
    while ((n < 100)); do
        BASE=$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\)$/\1/p' "$dir/out")
        [[ -n $BASE ]] && return 0
        kill -0 "$TRACKER_PID" 2>/dev/null || break
        sleep 0.1; n=$((n + 1))
    done
    cat "$dir/err" >&2
    bench_die "atlas-tracker did not start"
}

stop_tracker() {
    kill -TERM "$TRACKER_PID" 2>/dev/null || true
    local n=0
    while kill -0 "$TRACKER_PID" 2>/dev/null && ((n < 100)); do sleep 0.1; n=$((n + 1)); done
    kill -KILL "$TRACKER_PID" 2>/dev/null || true
    wait "$TRACKER_PID" 2>/dev/null || true
    bench_forget_pid "$TRACKER_PID"
    TRACKER_PID=""
}

# publish DIR BASE TOKEN ENTRIES PIECES: M entries of PIECES 16 KiB pieces each;
# writes DIR/entries ("HEX PIECES" lines) for the generator.
publish() {
    python3 - "$@" <<'PY'
import hashlib, json, os, sys, urllib.request
d, base, token, m, pieces = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
plen = 16384
with open(os.path.join(d, "entries"), "w") as out:
    for i in range(m):
        data = os.urandom(plen * pieces)
        whole = hashlib.sha256(data).hexdigest()
        hashes = "".join(f"<hash>{hashlib.sha256(data[k:k + plen]).hexdigest()}</hash>"
                         for k in range(0, len(data), plen))
        meta = ('<?xml version="1.0" encoding="UTF-8"?>'
                '<metalink xmlns="urn:ietf:params:xml:ns:metalink">'
                f'<file name="load{i}.bin"><size>{len(data)}</size>'
                f'<hash type="sha-256">{whole}</hash>'
                f'<pieces length="{plen}" type="sha-256">{hashes}</pieces>'
                f'<url priority="1">http://127.0.0.1:9/load{i}.bin</url></file></metalink>')
        body = json.dumps({"name": f"load{i}.bin", "version": "1", "metalink": meta}).encode()
        req = urllib.request.Request(base + "/api/v1/entries", data=body, method="POST",
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 201, r.status
        out.write(f"{whole} {pieces}\n")
PY
}

proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
proc_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
metric() { curl -sS --max-time 5 "$BASE/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

# The generator under its timeout wrapper.
child() { awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null; }
ticks() { [[ -n $1 ]] || { echo 0; return; }; awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0; }

run_one() { # run_one NAME RUN PEERS ENTRIES PIECES ARATE ORATE SECONDS
    local name=$1 run=$2 peers=$3 entries=$4 pieces=$5 arate=$6 orate=$7 secs=$8
    local dir=$BENCH_TMP/$name-$run
    mkdir -p "$dir"
    start_tracker "$dir"
    "$TRACKER" token add --database "$dir/tracker.db" --role uploader --name up >"$dir/up"
    "$TRACKER" token add --database "$dir/tracker.db" --role downloader --name peers >"$dir/dl"
    publish "$dir" "$BASE" "$(cat "$dir/up")" "$entries" "$pieces"
    local rss_idle fds_idle
    rss_idle=$(proc_kb "$TRACKER_PID" VmRSS); fds_idle=$(proc_fds "$TRACKER_PID")

    # K generators of at most PER_PROCESS peers, 64 handshakes in flight between them
    # (more only queue in the tracker's accept backlog); each peer's swarm is index mod M, so
    # every generator's first index is a multiple of M (the swarms line up).
    local k=$(((peers + PER_PROCESS - 1) / PER_PROCESS)) i first=0 n gens=() rc=0
    local step=$(((peers + k - 1) / k)) window=$((64 / k > 4 ? 64 / k : 4))
    step=$(((step + entries - 1) / entries * entries))
    local t0=$SECONDS
    for ((i = 0; first < peers; i++)); do
        n=$((peers - first < step ? peers - first : step))
        timeout -k 5 "$BENCH_TIMEOUT" "$BIN" --url "$BASE" --token "$(cat "$dir/dl")" \
            --entries "$dir/entries" --peers "$n" --first-index "$first" --duration "$secs" \
            --window "$window" \
            --announce-rate $((arate * n / peers)) --offer-rate $((orate * n / peers)) \
            --ready-file "$dir/ready.$i" --go-file "$dir/go" --samples "$dir/samples.$i" \
            >"$dir/gen.$i.out" 2>"$dir/gen.$i.err" &
        gens+=("$!"); BENCH_PIDS+=("$!")
        first=$((first + n))
    done
    k=${#gens[@]}
    # Samples while the generators connect and run (bounded by their timeout).
    local rss_max=0 fds_max=0 held_max=0 v tick=0 alive go_t="" trk0=0 gen0=0 trk1=0 gen1=0 p
    local connect_s="" m0=0 m1=0 w0="" w1="" gpids=() gticks=() gi
    while :; do
        alive=0
        for p in "${gens[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
        ((alive)) || break
        v=$(proc_kb "$TRACKER_PID" VmRSS); ((v > rss_max)) && rss_max=$v
        v=$(proc_fds "$TRACKER_PID"); ((v > fds_max)) && fds_max=$v
        if ((tick % 4 == 0)); then
            v=$(metric atlas_tracker_peers || true); [[ -n $v ]] && ((v > held_max)) && held_max=$v
        fi
        for ((gi = 0; gi < ${#gpids[@]}; gi++)); do
            v=$(ticks "${gpids[gi]}"); ((v > 0)) && gticks[gi]=$v
        done
        if [[ -z $go_t ]] && (($(find "$dir" -maxdepth 1 -name 'ready.*' | wc -l) == k)); then
            connect_s=$((SECONDS - t0))
            m0=$(metric atlas_tracker_signaling_messages_total || echo 0); w0=$(date +%s.%N)
            trk0=$(ticks "$TRACKER_PID"); gen0=0
            gpids=()
            for p in "${gens[@]}"; do gpids+=("$(child "$p")"); done
            for p in "${gpids[@]}"; do gen0=$((gen0 + $(ticks "$p"))); done
            : >"$dir/go"; go_t=$(date +%s.%N)
        fi
        # CPU over the steady phase, read before the generators drain and exit.
        if [[ -n $go_t && $trk1 == 0 ]] &&
            awk -v g="$go_t" -v s="$secs" -v n="$(date +%s.%N)" 'BEGIN { exit !(n >= g + s) }'; then
            m1=$(metric atlas_tracker_signaling_messages_total || echo 0); w1=$(date +%s.%N)
            trk1=$(ticks "$TRACKER_PID"); gen1=0
            # The same processes as at go: one that has exited counts what it had then.
            for ((gi = 0; gi < ${#gpids[@]}; gi++)); do
                v=$(ticks "${gpids[gi]}"); ((v > 0)) || v=${gticks[gi]:-0}
                gen1=$((gen1 + v))
            done
        fi
        tick=$((tick + 1))
        sleep 0.5
    done
    for p in "${gens[@]}"; do wait "$p" || rc=$?; bench_forget_pid "$p"; done
    local hwm
    hwm=$(proc_kb "$TRACKER_PID" VmHWM)
    # After every peer has gone: the tracker should give back its descriptors.
    local left=""
    n=0
    while ((n < 100)); do
        left=$(metric atlas_tracker_peers || true)
        [[ $left == 0 ]] && break
        sleep 0.1; n=$((n + 1))
    done
    sleep 1
    local rss_after fds_after
    rss_after=$(proc_kb "$TRACKER_PID" VmRSS); fds_after=$(proc_fds "$TRACKER_PID")
    kill -0 "$TRACKER_PID" 2>/dev/null || bench_log "$name run $run: the tracker died"
    stop_tracker

    local hz trk_cpu="" gen_cpu="" handled="" us_per_msg=""
    hz=$(getconf CLK_TCK)
    # Messages the tracker handled in the steady phase, and its CPU time per message: on a
    # shared machine the tracker gets what the scheduler gives it, so the cost per message
    # (and 1 s / that cost, its rate on one whole core) is the figure that carries over.
    if [[ -n $w1 && $m1 -gt $m0 ]]; then
        handled=$(awk -v a="$m0" -v b="$m1" -v s="$w0" -v e="$w1" 'BEGIN { printf "%.1f", (b - a) / (e - s) }')
        us_per_msg=$(awk -v a="$trk0" -v b="$trk1" -v h="$hz" -v m=$((m1 - m0)) 'BEGIN { printf "%.1f", 1e6 * (b - a) / h / m }')
    fi
    if ((trk1 > 0)); then
        trk_cpu=$(awk -v a="$trk0" -v b="$trk1" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * (b - a) / h / s }')
        gen_cpu=$(awk -v a="$gen0" -v b="$gen1" -v h="$hz" -v s="$secs" 'BEGIN { printf "%.1f", 100 * (b - a) / h / s }')
    fi
    # Counters summed over generators, percentiles over their merged samples.
    python3 - "$dir" "$k" >"$dir/merged" <<'PY'
import collections, sys
d, k = sys.argv[1], int(sys.argv[2])
tot = collections.Counter()
steady = 0.0
for i in range(k):
    for line in open(f"{d}/gen.{i}.out"):
        key, _, val = line.strip().partition(" ")
        if key.endswith(("_ms", "_pct")) or key in ("connect_phase_s", "generator_maxrss_kb",
                                                    "entries", "steady_requests_per_s"):
            continue
        if key == "steady_s":
            steady = max(steady, float(val)); continue
        try:
            tot[key] += float(val)
        except ValueError:
            pass
samples = collections.defaultdict(list)
for i in range(k):
    try:
        for line in open(f"{d}/samples.{i}"):
            kind, v = line.split()
            samples[kind].append(int(v))
    except FileNotFoundError:
        pass
for key, val in tot.items():
    print(key, int(val))
print("generators", k)
print("steady_s", steady)
n = sum(len(samples[x]) for x in ("announce", "relay", "roundtrip"))
print("steady_requests_per_s", f"{n / max(steady, 1e-3):.1f}")
for kind, xs in samples.items():
    xs.sort()
    print(f"{kind}_p50_ms {xs[len(xs) // 2] / 1000:.3f}")
    print(f"{kind}_p99_ms {xs[min(len(xs) - 1, len(xs) * 99 // 100)] / 1000:.3f}")
    print(f"{kind}_max_ms {xs[-1] / 1000:.3f}")
PY
    local status=ok
    get() { awk -v k="$1" '$1 == k { print $2 }' "$dir/merged"; }
    local joined errors
    joined=$(get joined)
    errors=$(awk '$1 ~ /^(error|close)_/ { printf "%s%s=%s", sep, $1, $2; sep="," }' "$dir/merged")
    if ((rc != 0)) || [[ ${joined:-0} != "$peers" || $(get open_at_end) != "$peers" ]]; then
        status=FAIL
        bench_log "$name run $run: exit $rc, $(tail -q -n 2 "$dir"/gen.*.err | sort | uniq -c | head -n 5 | tr '\n' ' ')"
    fi
    [[ $left == 0 ]] || { status=FAIL; bench_log "$name run $run: $left peers still held after exit"; }
    printf '%s\t' "$name" "$run" "$status" "$peers" "$entries" "$k" "${connect_s:-}" \
        "$(get connected)" "$joined" "$(get open_at_end)" "$(get closed_by_tracker)" "$held_max" \
        "$(get steady_requests_per_s)" "$(get connect_p99_ms)" "$(get join_p50_ms)" \
        "$(get join_p99_ms)" "$(get announce_p50_ms)" "$(get announce_p99_ms)" \
        "$(get relay_p50_ms)" "$(get relay_p99_ms)" "$(get roundtrip_p99_ms)" "$handled" \
        "$us_per_msg" "$trk_cpu" \
        "$gen_cpu" "$rss_idle" "$rss_max" "$hwm" "$fds_max" "$rss_after" "$fds_idle" \
        "$fds_after" >>"$TSV"
    printf '%s\n' "${errors:--}" >>"$TSV"
    cp "$dir/merged" "$OUT/$name-$run.gen"
    bench_log "$name run $run: $status held=$held_max connect=${connect_s}s req/s=$(get steady_requests_per_s)" \
        "announce p50/p99=$(get announce_p50_ms)/$(get announce_p99_ms) ms" \
        "relay p50/p99=$(get relay_p50_ms)/$(get relay_p99_ms) ms handled=$handled/s" \
        "tracker cpu=$trk_cpu% ($us_per_msg µs/msg)" \
        "generators ($k) cpu=$gen_cpu% rss=$rss_idle→${rss_max} KiB after=$rss_after" \
        "fds=$fds_max→$fds_after ${errors}"
    [[ $status == ok ]]
}

failed=0
for sc in "${SCENARIOS[@]}"; do
    read -r name peers entries pieces arate orate secs <<<"$sc"
    if ((${#ONLY[@]})) && [[ ! " ${ONLY[*]} " == *" $name "* ]]; then continue; fi
    for ((run = 1; run <= RUNS; run++)); do
        run_one "$name" "$run" "$peers" "$entries" "$pieces" "$arate" "$orate" "$secs" || failed=1
    done
done

python3 - "$TSV" >"$OUT/summary.txt" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
order = []
for r in rows:
    if r['scenario'] not in order:
        order.append(r['scenario'])
cols = [("held_max", "held", "{:.0f}"), ("connect_s", "conn s", "{:.0f}"),
        ("connect_p99_ms", "conn p99", "{:.0f}"), ("requests_per_s", "req/s", "{:.0f}"),
        ("join_p99_ms", "join p99", "{:.1f}"), ("announce_p50_ms", "ann p50", "{:.2f}"),
        ("announce_p99_ms", "ann p99", "{:.1f}"), ("relay_p50_ms", "relay p50", "{:.2f}"),
        ("relay_p99_ms", "relay p99", "{:.1f}"), ("handled_per_s", "handled/s", "{:.0f}"),
        ("cpu_us_per_msg", "µs/msg", "{:.0f}"), ("tracker_cpu_pct", "trk cpu%", "{:.0f}"),
        ("generator_cpu_pct", "gen cpu%", "{:.0f}"), ("rss_max_kb", "RSS MiB", "{:.1f}"),
        ("rss_after_kb", "after MiB", "{:.1f}"), ("fds_max", "fds", "{:.0f}")]
print(f"{'scenario':<12} {'peers':>6} {'ent':>4} {'ok':>4} " + " ".join(f"{h:>9}" for _, h, _ in cols))
for name in order:
    rs = [r for r in rows if r['scenario'] == name]
    ok = [r for r in rs if r['status'] == 'ok']
    line = f"{name:<12} {rs[0]['peers']:>6} {rs[0]['entries']:>4} {len(ok)}/{len(rs):<2} "
    vals = []
    for k, _, fmt in cols:
        xs = [float(r[k]) for r in rs if r[k] not in ('', None)]
        if not xs:
            vals.append(f"{'-':>9}")
            continue
        v = statistics.median(xs)
        if k.endswith('_kb'):
            v /= 1024
        vals.append(f"{fmt.format(v):>9}")
    print(line + " ".join(vals))
print("medians over runs; latencies from the generator's send to the tracker's reply or relay;")
print("handled/s and µs/msg: WebSocket messages the tracker took in the steady phase, and its CPU per message")
PY
{
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'host\t%s\n' "$(uname -n)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'tracker\t%s\n' "$TRACKER"
} >"$OUT/env.tsv"
cat "$OUT/summary.txt"
bench_log "results in $OUT"
exit "$failed"
