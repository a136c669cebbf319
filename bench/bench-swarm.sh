#!/usr/bin/env bash
# Swarm benchmark: N atlas downloaders sharing one capped origin mirror, side by side
# with a libtorrent swarm under the same caps.  See bench/README.md ("Swarm").
# Usage: bench/bench-swarm.sh [--smoke] [--runs N] [options]
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"
ROOT_DIR=$(cd "$BENCH_DIR/.." && pwd)

usage() {
    cat <<'EOF'
usage: bench/bench-swarm.sh [options]
  --runs N              rounds (default 3); each round runs every tool once, interleaved
  --size SIZE           file size (default 256M)
  --peers N             downloaders / leechers (default 8)
  --origin-rate RATE    origin upload cap (default 20M = 20 MiB/s)
  --peer-rate RATE      upload cap of each downloader (default 10M)
  --smoke               16 MiB, 2 peers, origin 4M, peers 2M, 1 run: a few seconds per tool
  --only TOOL           atlas | libtorrent | libtorrent-superseed (repeatable; default:
                        atlas and libtorrent)
  --out DIR             result dir (default bench/results/full/swarm; smoke:
                        bench/results/smoke/swarm)
  --atlas PATH          atlas CLI (default: $ATLAS, else build*/src/cli/atlas)
  --tracker-bin PATH    atlas-tracker (default: $ATLAS_TRACKER_BIN, else next to the CLI's build)
  --mirror-bin PATH     atlas-test-mirror (default: $ATLAS_TEST_MIRROR, else the CLI's build)
  --atlas-peer-args S   extra `atlas get` arguments for each downloader; {identity} is
                        replaced by the downloader's own identity folder and {rate} by
                        --peer-rate
  --timeout S           per swarm run (default 300; smoke 60)
EOF
    printf 'default --atlas-peer-args: %s\n' "$PEER_ARGS"
}

RUNS=3; SIZE=256M; PEERS=8; ORIGIN_RATE=20M; PEER_RATE=10M
SMOKE=0
ONLY=()
OUT=""
ATLAS_BIN=${ATLAS:-}
TRACKER_BIN=${ATLAS_TRACKER_BIN:-}
# Every downloader binds 127.0.0.1 only, caps its total upload to peers (the issue's
# "each uploading at most 10 MiB/s"; --peer-upload-limit would cap each link instead),
# keeps its own identity and stays a seeder after it finishes (it is stopped by PID
# once the whole swarm is done), as BitTorrent peers do.
PEER_ARGS='--local-address 127.0.0.1 --upload-limit {rate} --identity {identity} --seed-after'
TIMEOUT_SET=""
while (($#)); do
    case $1 in
        --runs) RUNS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --peers) PEERS=$2; shift 2 ;;
        --origin-rate) ORIGIN_RATE=$2; shift 2 ;;
        --peer-rate) PEER_RATE=$2; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --only) ONLY+=("$2"); shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --atlas) ATLAS_BIN=$2; shift 2 ;;
        --tracker-bin) TRACKER_BIN=$2; shift 2 ;;
        --mirror-bin) MIRROR_BIN=$2; shift 2 ;;
        --atlas-peer-args) PEER_ARGS=$2; shift 2 ;;
        --timeout) TIMEOUT_SET=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
if ((SMOKE)); then
    RUNS=1; SIZE=16M; PEERS=2; ORIGIN_RATE=4M; PEER_RATE=2M
    BENCH_TIMEOUT=60
    [[ -n $OUT ]] || OUT=$BENCH_DIR/results/smoke/swarm
fi
[[ -n $OUT ]] || OUT=$BENCH_DIR/results/full/swarm
[[ -n $TIMEOUT_SET ]] && BENCH_TIMEOUT=$TIMEOUT_SET
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"
[[ $PEERS =~ ^[1-9][0-9]?$ ]] || bench_die "--peers must be 1..99"
((${#ONLY[@]})) || ONLY=(atlas libtorrent)
for t in "${ONLY[@]}"; do
    case $t in atlas|libtorrent|libtorrent-superseed) ;; *) bench_die "unknown tool: $t" ;; esac
done

# ---------------------------------------------------------------- binaries
if [[ -z $ATLAS_BIN ]]; then
    for b in "$ROOT_DIR"/build/src/cli/atlas "$ROOT_DIR"/build*/src/cli/atlas; do
        [[ -x $b ]] && { ATLAS_BIN=$b; break; }
    done
fi
ATLAS_BUILD=""
[[ -n $ATLAS_BIN ]] && ATLAS_BUILD=$(cd "$(dirname "$ATLAS_BIN")/../.." && pwd)
[[ -n $TRACKER_BIN ]] || TRACKER_BIN=$ATLAS_BUILD/src/tracker/atlas-tracker
[[ -n $MIRROR_BIN ]] || MIRROR_BIN=$ATLAS_BUILD/tests/mirror/atlas-test-mirror
# libtorrent's Python module is built for Debian's interpreter, not a pyenv one.
BT_PYTHON=/usr/bin/python3

want() {
    local s
    for s in "${ONLY[@]}"; do [[ $s == "$1" ]] && return 0; done
    return 1
}
ATLAS_WHY=""
if want atlas; then
    if [[ -z $ATLAS_BIN || ! -x $ATLAS_BIN ]]; then ATLAS_WHY="atlas CLI not found (--atlas)"
    elif [[ ! -x $TRACKER_BIN ]]; then ATLAS_WHY="atlas-tracker not found (--tracker-bin)"
    elif ! bench_have_mirror; then ATLAS_WHY="atlas-test-mirror not found (--mirror-bin)"
    else
        # The peer options must exist in this build, or every downloader fails at once.
        for opt in $PEER_ARGS; do
            [[ $opt == --* ]] || continue
            "$ATLAS_BIN" get --help-all 2>&1 | grep -q -- "${opt%%=*}[=, ]" ||
                ATLAS_WHY="this atlas has no 'get ${opt%%=*}' (needs the swarm options)"
        done
    fi
fi
BT_WHY=""
if want libtorrent || want libtorrent-superseed; then
    "$BT_PYTHON" -c 'import libtorrent' 2>/dev/null ||
        BT_WHY="python3-libtorrent missing (apt-get install python3-libtorrent)"
fi

bench_tmp_init
mkdir -p "$OUT" "$OUT/logs"
DATA=$BENCH_TMP/data
mkdir -p "$DATA"; chmod 755 "$DATA"
NAME=bench.bin
BYTES=$(bench_bytes "$SIZE")
ORIGIN_BPS=$(bench_bytes "$ORIGIN_RATE")
PEER_BPS=$(bench_bytes "$PEER_RATE")
# The fluid-model bound for N downloaders, origin upload us, peer upload up and
# unconstrained downloads: T* = max(F/us, N*F/(us + N*up)).
BOUND=$(python3 -c "F, N, us, up = $BYTES, $PEERS, $ORIGIN_BPS, $PEER_BPS
print(round(max(F / us, N * F / (us + N * up)), 3))")
START=$SECONDS

{
    printf 'key\tvalue\n'
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'host\t%s cores, %s, kernel %s\n' "$(nproc)" \
        "$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release | tr -d '"')" "$(uname -r)"
    printf 'loadavg_start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'atlas\t%s\n' "${ATLAS_BIN:-n/a}"
    printf 'atlas_commit\t%s\n' "$(git -C "$ROOT_DIR" describe --always --dirty 2>/dev/null || echo n/a)"
    # The tree may have moved on since the binary was built: its own date says when.
    printf 'atlas_built\t%s\n' "$( [[ -n $ATLAS_BIN ]] && date -u -r "$ATLAS_BIN" +%Y-%m-%dT%H:%M:%SZ || echo n/a)"
    printf 'atlas_peer_args\t%s\n' "$PEER_ARGS"
    printf 'libtorrent\t%s\n' "$("$BT_PYTHON" -c 'import libtorrent; print(libtorrent.__version__)' 2>/dev/null || echo n/a)"
    printf 'file_bytes\t%s\n' "$BYTES"
    printf 'piece_bytes\t%s\n' 1048576
    printf 'peers\t%s\n' "$PEERS"
    printf 'origin_rate_bps\t%s\n' "$ORIGIN_BPS"
    printf 'peer_rate_bps\t%s\n' "$PEER_BPS"
    printf 'fluid_bound_s\t%s\n' "$BOUND"
    printf 'runs\t%s\n' "$RUNS"
    printf 'smoke\t%s\n' "$SMOKE"
    printf 'timeout_s\t%s\n' "$BENCH_TIMEOUT"
} >"$OUT/env.tsv"

# ---------------------------------------------------------------- atlas downloaders
# Starts N `atlas get` processes at once, each with its own download folder, queue,
# identity and XDG folders, timestamps their JSON lines as they arrive, and stops
# them by PID once every one has reported "finished" (or at the timeout).  Prints
# one JSON object: per-downloader times, last events and exit codes.
read -r -d '' ATLAS_SWARM_PY <<'EOF' || true
import json, os, resource, selectors, shlex, signal, subprocess, sys, time

atlas, tracker, name, work, n, timeout, peer_args, rate = sys.argv[1:9]
n, timeout = int(n), float(timeout)
procs, sel = [], selectors.DefaultSelector()
cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
start = time.monotonic()
for i in range(n):
    home = os.path.join(work, "peer-%d" % i)
    for d in ("dl", "identity", "data", "config", "cache"):
        os.makedirs(os.path.join(home, d), exist_ok=True)
    extra = [a.replace("{identity}", os.path.join(home, "identity")).replace("{rate}", rate)
             for a in shlex.split(peer_args)]
    argv = [atlas, "get", name, "--tracker", tracker, "--dir", os.path.join(home, "dl"),
            "--queue-file", os.path.join(home, "queue.sqlite"), "--json"] + extra
    env = dict(os.environ, XDG_DATA_HOME=os.path.join(home, "data"),
               XDG_CONFIG_HOME=os.path.join(home, "config"),
               XDG_CACHE_HOME=os.path.join(home, "cache"))
    err = open(os.path.join(home, "stderr.log"), "wb")
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env)
    os.set_blocking(p.stdout.fileno(), False)
    rec = {"peer": i, "proc": p, "buf": b"", "log": open(os.path.join(home, "stdout.jsonl"), "wb"),
           "finished": None, "seconds": None, "last_progress": None, "exit": None,
           "events": {}}
    procs.append(rec)
    sel.register(p.stdout, selectors.EVENT_READ, rec)
with open(os.path.join(work, "argv0.txt"), "w") as f:
    f.write(shlex.join(procs[0]["proc"].args) + "\n")

def handle_line(rec, line, now):
    rec["log"].write(b"%.3f " % (now - start) + line + b"\n")
    try:
        ev = json.loads(line)
    except ValueError:
        return
    kind = ev.get("event")
    if kind == "progress":
        rec["last_progress"] = ev
    elif kind == "finished" and rec["finished"] is None:
        rec["finished"] = ev
        rec["seconds"] = now - start
    elif kind not in (None, "log"):
        rec["events"][kind] = ev   # whatever summary events the CLI adds (bytes per source)

def pending():
    return [r for r in procs if r["finished"] is None and r["exit"] is None]

deadline = start + timeout
while pending() and time.monotonic() < deadline:
    for key, _ in sel.select(timeout=0.2):
        rec = key.data
        now = time.monotonic()
        try:
            chunk = os.read(key.fileobj.fileno(), 65536)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fileobj)
            rec["exit"] = rec["proc"].wait()
            continue
        rec["buf"] += chunk
        while b"\n" in rec["buf"]:
            line, rec["buf"] = rec["buf"].split(b"\n", 1)
            handle_line(rec, line, now)
swarm_end = time.monotonic()

# Everybody seeds until the last one is done; now stop them by PID, politely first,
# and give each a moment to print its closing summary.
for r in procs:
    if r["proc"].poll() is None:
        r["proc"].send_signal(signal.SIGINT)
stop_deadline = time.monotonic() + 5
while time.monotonic() < stop_deadline and any(r["proc"].poll() is None for r in procs):
    for key, _ in sel.select(timeout=0.1):
        rec = key.data
        try:
            chunk = os.read(key.fileobj.fileno(), 65536)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fileobj)
            continue
        rec["buf"] += chunk
        while b"\n" in rec["buf"]:
            line, rec["buf"] = rec["buf"].split(b"\n", 1)
            handle_line(rec, line, time.monotonic())
for r in procs:
    if r["proc"].poll() is None:
        r["proc"].kill()
    code = r["proc"].wait()
    if r["exit"] is None:
        r["exit"] = code
    r["log"].close()
cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
done = [r for r in procs if r["finished"] and r["finished"].get("state") == "complete"]
out = {
    "tool": "atlas", "leechers": n, "all_done": len(done) == n,
    "swarm_s": round(max(r["seconds"] for r in done), 3) if len(done) == n
    else round(swarm_end - start, 3),
    "cpu_s": round(cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 2),
    "peers": [],
}
for r in procs:
    fin = r["finished"] or {}
    out["peers"].append({
        "peer": r["peer"], "done": fin.get("state") == "complete",
        "seconds": round(r["seconds"], 3) if r["seconds"] is not None else None,
        "exit": r["exit"], "path": fin.get("path") or os.path.join(work, "peer-%d" % r["peer"], "dl", name),
        "finished": fin, "last_progress": r["last_progress"], "events": r["events"],
        "error": fin.get("error"),
    })
json.dump(out, sys.stdout)
print()
EOF

# ---------------------------------------------------------------- rows from a result
# Verifies every output's SHA-256 and appends to runs.tsv / peers.tsv.
# Origin egress for atlas is the test mirror's log (body bytes on the socket); the
# downloaders' own from-mirror counters, when the CLI prints them, go in origin_alt.
read -r -d '' ROWS_PY <<'EOF' || true
import json, sys

from benchutil import sha256

result_path, run, sha, origin, out, bound = sys.argv[1:7]
r = json.load(open(result_path))
F, bound = int(sys.argv[7]), float(bound)

def find(d, *words):
    """The first integer field whose name has all the words (the CLI's JSON may grow)."""
    if not isinstance(d, dict):
        return None
    for k, v in d.items():
        if isinstance(v, dict):
            got = find(v, *words)
            if got is not None:
                return got
        elif isinstance(v, int) and all(w in k for w in words):
            return v
    return None

tool = r["tool"]
label = r.get("label", tool)
peers_ok = 0
alt_sum, alt_any = 0, False
with open(out + "/peers.tsv", "a") as pt:
    for p in r["peers"]:
        good = p.get("done") and sha256(p["path"]) == sha
        peers_ok += bool(good)
        if tool == "atlas":
            srcs = [p.get("finished"), p.get("events"), p.get("last_progress")]
            def first(*words):
                return next((v for v in (find(s, *words) for s in srcs) if v is not None), None)
            from_mirror = first("from", "mirror")
            from_peers = first("from", "peer")
            # Everything it served, seeding included (the closing totals), else what it
            # had served when it finished.
            uploaded = find(p.get("events"), "uploaded")
            if uploaded is None:
                uploaded = first("to_peer")
            if from_mirror is not None:
                alt_sum += from_mirror; alt_any = True
            downloaded = None
            if from_mirror is not None and from_peers is not None:
                downloaded = from_mirror + from_peers
        else:
            # libtorrent counts payload per torrent, not per source: the seeder's share
            # is only known in total (origin_payload_up).
            from_mirror = from_peers = None
            downloaded = p.get("payload_down")
            uploaded = p.get("payload_up")
        note = "" if good else ("sha256 mismatch" if p.get("done") else
                                "not finished: %s" % (p.get("error") or "exit %s" % p.get("exit")))
        cols = [label, run, p["peer"], "ok" if good else "FAIL",
                "" if p.get("seconds") is None else p["seconds"],
                "" if downloaded is None else downloaded,
                "" if from_mirror is None else from_mirror,
                "" if from_peers is None else from_peers,
                "" if uploaded is None else uploaded, note]
        pt.write("\t".join(str(c) for c in cols) + "\n")
ok = r.get("all_done") and peers_ok == len(r["peers"])
if tool == "atlas":
    origin_bytes = int(origin)
    alt = alt_sum if alt_any else ""
else:
    origin_bytes = r["origin_payload_up"]
    alt = r["origin_total_up"]
note = "" if ok else "%d of %d peers ok" % (peers_ok, len(r["peers"]))
cols = [label, run, "ok" if ok else "FAIL", r["swarm_s"], bound,
        round(r["swarm_s"] / bound, 3), origin_bytes, round(origin_bytes / F, 3), alt,
        r.get("cpu_s", ""), note]
with open(out + "/runs.tsv", "a") as rt:
    rt.write("\t".join(str(c) for c in cols) + "\n")
print("%s run %s: %s swarm %.2f s (%.2fx bound), origin %.3f x F%s" % (
    cols[0], run, cols[2], r["swarm_s"], cols[5], cols[7], "; " + note if note else ""))
EOF

# ---------------------------------------------------------------- where the time went
# A per-second timeline of one swarm run: MiB/s the origin sent, MiB/s peers sent each
# other, the total, and how many downloaders had finished.  atlas: from the progress
# events (cumulative from_mirrors / from_peers per downloader); libtorrent: from the
# samples swarm-bittorrent.py takes.
read -r -d '' TIMELINE_PY <<'EOF' || true
import glob, json, os, sys

kind, src, out = sys.argv[1:4]
M = 1048576
samples = []   # (t, origin, peers, received, done), cumulative
if kind == "atlas":
    series = []
    for f in sorted(glob.glob(os.path.join(src, "peer-*.stdout.jsonl"))):
        pts = [(0.0, 0, 0, 0)]
        for line in open(f):
            t, _, js = line.partition(" ")
            try:
                ev = json.loads(js)
            except ValueError:
                continue
            if "from_mirrors" in ev:
                fin = ev.get("event") == "finished" or ev.get("state") == "complete"
                pts.append((float(t), ev["from_mirrors"], ev["from_peers"], int(fin)))
        series.append(pts)
    end = max(p[-1][0] for p in series)
    t = 0.0
    while t < end + 1:
        cur = [max((q for q in p if q[0] <= t), key=lambda q: q[0]) for p in series]
        o = sum(c[1] for c in cur); pe = sum(c[2] for c in cur)
        samples.append((t, o, pe, o + pe, sum(c[3] for c in cur)))
        t += 1.0
else:
    r = json.load(open(src))
    samples = [(t, o, up, down, d) for t, o, down, up, d in r.get("timeline", [])]
with open(out, "w") as f:
    f.write("t_s\torigin_mibs\tpeers_mibs\treceived_mibs\tcomplete\n")
    for a, b in zip(samples, samples[1:]):
        dt = (b[0] - a[0]) or 1.0
        f.write("%.1f\t%.1f\t%.1f\t%.1f\t%d\n" % (b[0], (b[1] - a[1]) / M / dt,
                (b[2] - a[2]) / M / dt, (b[3] - a[3]) / M / dt, b[4]))
EOF

# What the origin sent in one atlas run, from its request log: whole pieces (the first
# copy of each, and repeats) and requests cut short (the downloader cancelled them,
# usually because a peer delivered the piece first).
read -r -d '' ORIGIN_PY <<'EOF' || true
import re, sys

log, run, F, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
M = 1048576
seen, whole, repeat, cut, cut_bytes, total, extra = set(), 0, 0, 0, 0, 0, 0
for line in open(log):
    m = re.search(r"range=(\d+)-(\d+) status=\d+ bytes=(\d+)", line)
    if not m:
        continue
    a, b, n = map(int, m.groups())
    total += n
    if a in seen:
        extra += n
    if n >= b - a + 1:
        whole += 1
        if a in seen:
            repeat += 1
        seen.add(a)
    else:
        cut += 1
        cut_bytes += n
with open(out, "a") as f:
    f.write("%s\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t%.3f\n" % (
        run, whole + cut, len(seen), whole, repeat, cut, cut_bytes / M, extra / M, total / F))
EOF

# ---------------------------------------------------------------- one atlas swarm
TRACKER_PID=""
run_atlas() {
    local run=$1 work=$BENCH_TMP/atlas-$1
    rm -rf -- "$work"; mkdir -p "$work"
    bench_tracker_start "$work"
    local up=$TRACKER_UP down=$TRACKER_DOWN tracker=$TRACKER_URL
    local origin_url=http://127.0.0.1:$MIRROR_PORT/rate=$ORIGIN_RATE/$NAME
    ATLAS_TRACKER_TOKEN=$up "$ATLAS_BIN" publish "$DATA/$NAME" --tracker "$tracker" \
        --mirror "$origin_url" --piece-size 1M --output "$work/$NAME.meta4" -q ||
        bench_die "atlas publish failed"

    local log_lines
    log_lines=$(wc -l <"$MIRROR_LOG")
    bench_log "atlas run $run: $PEERS downloaders, tracker $tracker, origin $origin_url"
    local rc=0
    ATLAS_TRACKER_TOKEN=$down python3 -c "$ATLAS_SWARM_PY" "$ATLAS_BIN" "$tracker" "$NAME" \
        "$work" "$PEERS" "$BENCH_TIMEOUT" "$PEER_ARGS" "$PEER_RATE" >"$work/result.json" || rc=$?
    ((rc == 0)) || bench_die "the atlas swarm harness failed (exit $rc)"
    # Body bytes the origin put on its sockets during this run, from its request log.
    # A request is logged when it ends; one whose client went away is logged when the
    # mirror's next write fails, so wait until the log is quiet for a second.
    local origin size0=-1 size1 quiet=0
    for ((n = 0; n < 100 && quiet < 10; n++)); do
        size1=$(stat -c %s "$MIRROR_LOG")
        if ((size1 == size0)); then quiet=$((quiet + 1)); else quiet=0; fi
        size0=$size1
        sleep 0.1
    done
    origin=$(tail -n +"$((log_lines + 1))" "$MIRROR_LOG" |
        awk '$2 == "/'"$NAME"'" { for (i = 3; i <= NF; i++) if ($i ~ /^bytes=/) s += substr($i, 7) }
             END { printf "%d", s }')
    tail -n +"$((log_lines + 1))" "$MIRROR_LOG" >"$work/origin.log"

    kill -TERM "$TRACKER_PID" 2>/dev/null || true
    wait "$TRACKER_PID" 2>/dev/null || true
    bench_forget_pid "$TRACKER_PID"

    PYTHONPATH=$BENCH_DIR python3 -c "$ROWS_PY" "$work/result.json" "$run" "$SHA" "$origin" "$OUT" "$BOUND" "$BYTES"
    # Keep what explains a run (small): results, origin requests, per-peer logs.
    local keep=$OUT/logs/atlas-$run
    rm -rf -- "$keep"; mkdir -p "$keep"
    cp "$work/result.json" "$work/origin.log" "$work/tracker.err" "$work/argv0.txt" "$keep/"
    local d
    for d in "$work"/peer-*; do
        cp "$d/stderr.log" "$keep/$(basename "$d").stderr.log"
        cp "$d/stdout.jsonl" "$keep/$(basename "$d").stdout.jsonl"
    done
    python3 -c "$TIMELINE_PY" atlas "$keep" "$OUT/timeline-atlas-$run.tsv"
    python3 -c "$ORIGIN_PY" "$keep/origin.log" "$run" "$BYTES" "$OUT/origin-atlas.tsv"
    rm -rf -- "$work"
}

# ---------------------------------------------------------------- one libtorrent swarm
run_bt() {
    local run=$1 label=$2 work=$BENCH_TMP/bt-$1
    local extra=()
    [[ $label == libtorrent-superseed ]] && extra=(--super-seed)
    rm -rf -- "$work"; mkdir -p "$work"
    bench_log "$label run $run: 1 seeder + $PEERS leechers"
    local rc=0
    "$BT_PYTHON" "$BENCH_DIR/swarm-bittorrent.py" "$DATA/$NAME" --work "$work" \
        --leechers "$PEERS" --origin-rate "$ORIGIN_BPS" --peer-rate "$PEER_BPS" \
        --timeout "$BENCH_TIMEOUT" "${extra[@]}" >"$work/result.json" 2>"$work/stderr.log" || rc=$?
    if [[ ! -s $work/result.json ]]; then
        bench_die "$label failed (exit $rc): $(tail -n 3 "$work/stderr.log")"
    fi
    python3 -c 'import json, sys
r = json.load(open(sys.argv[1])); r["label"] = sys.argv[2]
json.dump(r, open(sys.argv[1], "w"))' "$work/result.json" "$label"
    PYTHONPATH=$BENCH_DIR python3 -c "$ROWS_PY" "$work/result.json" "$run" "$SHA" 0 "$OUT" "$BOUND" "$BYTES"
    mkdir -p "$OUT/logs"
    cp "$work/result.json" "$OUT/logs/$label-$run.json"
    python3 -c "$TIMELINE_PY" bt "$work/result.json" "$OUT/timeline-$label-$run.tsv"
    rm -rf -- "$work"
}

# ---------------------------------------------------------------- the rounds
printf 'tool\trun\tstatus\tswarm_s\tbound_s\tratio\torigin_bytes\torigin_over_f\torigin_alt\tcpu_s\tnote\n' >"$OUT/runs.tsv"
printf 'tool\trun\tpeer\tstatus\tseconds\tdownloaded\tfrom_origin\tfrom_peers\tuploaded\tnote\n' >"$OUT/peers.tsv"
printf 'run\trequests\tdistinct_pieces\twhole\trepeat_whole\tcut_short\tcut_short_mib\tbeyond_first_copy_mib\torigin_over_f\n' >"$OUT/origin-atlas.tsv"
rm -rf -- "$OUT/logs" "$OUT"/timeline-*.tsv; mkdir -p "$OUT/logs"

bench_log "making $BYTES-byte random file"
bench_make_file "$DATA/$NAME" "$BYTES"
SHA=$(bench_sha256 "$DATA/$NAME")
bench_log "fluid bound T* = $BOUND s (F=$SIZE, N=$PEERS, origin $ORIGIN_RATE/s, peers $PEER_RATE/s)"

TOOLS=()
for t in atlas libtorrent libtorrent-superseed; do
    want "$t" || continue
    why=""
    [[ $t == atlas ]] && why=$ATLAS_WHY
    [[ $t == libtorrent* ]] && why=$BT_WHY
    if [[ -n $why ]]; then
        printf '%s\t-\tn/a\t\t%s\t\t\t\t\t\t%s\n' "$t" "$BOUND" "$why" >>"$OUT/runs.tsv"
        bench_log "$t: n/a ($why)"
        continue
    fi
    TOOLS+=("$t")
done

MIRROR_LOG=""
if [[ " ${TOOLS[*]} " == *" atlas "* ]]; then
    bench_mirror_start "$DATA"
    MIRROR_LOG=$(compgen -G "$BENCH_TMP/mirror.*.log" | head -n 1)
fi
for ((r = 1; r <= RUNS; r++)); do
    for t in "${TOOLS[@]}"; do
        case $t in
            atlas) run_atlas "$r" ;;
            libtorrent*) run_bt "$r" "$t" ;;
        esac
    done
done
bench_mirror_stop
printf 'loadavg_end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/env.tsv"

# ---------------------------------------------------------------- summary
python3 - "$OUT" <<'EOF'
import csv, statistics, sys

out = sys.argv[1]
rows = list(csv.DictReader(open(out + "/runs.tsv"), delimiter="\t"))
env = {r["key"]: r["value"] for r in csv.DictReader(open(out + "/env.tsv"), delimiter="\t")}
bound = float(env["fluid_bound_s"])
lines = [("tool", "runs ok", "swarm s (median)", "min-max", "bound s", "ratio", "goal <=1.3",
          "origin/F (median)", "goal <=1.15", "cpu s")]
summary = []
for tool in dict.fromkeys(r["tool"] for r in rows):
    rs = [r for r in rows if r["tool"] == tool]
    if rs[0]["status"] == "n/a":
        lines.append((tool, "n/a", rs[0]["note"], "", "%.2f" % bound, "", "", "", "", ""))
        continue
    ok = [r for r in rs if r["status"] == "ok"]
    if len(ok) < len(rs):
        lines.append((tool, "%d/%d" % (len(ok), len(rs)), "FAIL", "", "%.2f" % bound, "", "",
                      "", "", ""))
        summary.append((tool, "FAIL", "", "", ""))
        continue
    t = statistics.median(float(r["swarm_s"]) for r in ok)
    e = statistics.median(float(r["origin_over_f"]) for r in ok)
    cpu = statistics.median(float(r["cpu_s"]) for r in ok if r["cpu_s"])
    lo = min(float(r["swarm_s"]) for r in ok)
    hi = max(float(r["swarm_s"]) for r in ok)
    lines.append((tool, "%d/%d" % (len(ok), len(rs)), "%.2f" % t, "%.2f-%.2f" % (lo, hi),
                  "%.2f" % bound, "%.2f" % (t / bound), "yes" if t / bound <= 1.3 else "NO",
                  "%.3f" % e, "yes" if e <= 1.15 else "NO", "%.1f" % cpu))
    summary.append((tool, "ok", "%.3f" % t, "%.3f" % (t / bound), "%.3f" % e))
widths = [max(len(str(l[i])) for l in lines) for i in range(len(lines[0]))]
for l in lines:
    print("  ".join(str(c).ljust(w) for c, w in zip(l, widths)).rstrip())
# The same table in Markdown, for bench/report.py (included as it is).
md = ["| " + " | ".join(lines[0]) + " |", "|" + "---|" * len(lines[0])]
md += ["| " + " | ".join(str(c) for c in l) + " |" for l in lines[1:]]
md += ["", "%s runs per tool, interleaved; %s MiB file, %s downloaders, origin cap %s MiB/s, "
       "peer upload cap %s MiB/s each, 1 MiB pieces; fluid bound T* = max(F/us, N*F/(us+N*up)) "
       "= %.2f s. %s, load average %s at the start. Origin egress for atlas is the test "
       "mirror's body bytes from its request log; for libtorrent the seeder's payload upload. "
       "Per-run and per-peer numbers: runs.tsv, peers.tsv." % (
           env["runs"], int(env["file_bytes"]) >> 20, env["peers"],
           int(env["origin_rate_bps"]) / 1048576, int(env["peer_rate_bps"]) / 1048576, bound,
           env["date"], env["loadavg_start"])]
with open(out + "/summary.md", "w") as f:
    f.write("\n".join(md) + "\n")
with open(out + "/summary.tsv", "w") as f:
    f.write("tool\tstatus\tswarm_s_median\tratio\torigin_over_f_median\tbound_s\n")
    for s in summary:
        f.write("\t".join(s) + "\t%.3f\n" % bound)
EOF
bench_log "done in $((SECONDS - START)) s; results in $OUT"
