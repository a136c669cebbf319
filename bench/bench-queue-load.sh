#!/usr/bin/env bash
# Engine queue load benchmark: 1,000 small files with piece hashes queued in one persistent
# session, 200 active at once, from the loopback test mirror (tests/engine/bench-queue-load.c).
# Reports the time to add them, the main loop's lateness (10 ms heartbeat), peak active
# downloads, RSS, fds, throughput, and that every file is complete and hashes right.
# Usage: bench/bench-queue-load.sh [options]  (--help)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib.sh
. "$BENCH_DIR/lib.sh"

usage() {
    cat <<'EOF2'
usage: bench/bench-queue-load.sh [options]
  --bin PATH         bench-queue-load (default: $BENCH_QUEUE_LOAD, else
                     build*/tests/engine/bench-queue-load)
  --mirror-bin PATH  atlas-test-mirror (default: $ATLAS_TEST_MIRROR, else
                     build*/tests/mirror/atlas-test-mirror)
  --runs N           runs per scenario (default 3)
  --only NAME        one scenario (repeatable)
  --smoke            one small scenario, 1 run, < 60 s
  --out DIR          result dir (default bench/results/full/queue-load; smoke:
                     bench/results/smoke/queue-load); runs.tsv + summary.txt
  --timeout S        per-run timeout in seconds (default 300)
EOF2
}

BIN=${BENCH_QUEUE_LOAD:-}
RUNS=3; SMOKE=0; OUT=""; ONLY=()
while (($#)); do
    case $1 in
        --bin) BIN=$2; shift 2 ;;
        --mirror-bin) MIRROR_BIN=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --only) ONLY+=("$2"); shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) BENCH_TIMEOUT=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; bench_die "unknown option: $1" ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]?$ ]] || bench_die "--runs must be 1..99"

# Scenarios: name files active size piece-length per-server per-download.
# The test mirror serves at most 256 connections at once; per-server stays under it.
if ((SMOKE)); then
    RUNS=1
    OUT=${OUT:-$BENCH_DIR/results/smoke/queue-load}
    SCENARIOS=("smoke-200 200 50 64K 16384 64 1")
else
    OUT=${OUT:-$BENCH_DIR/results/full/queue-load}
    SCENARIOS=(
        "q1000-a200 1000 200 256K 65536 200 1"
        "q1000-a200-x2 1000 200 256K 65536 200 2"
        "q2000-a200 2000 200 256K 65536 200 1"
        "q1000-a3 1000 3 256K 65536 200 1"
    )
fi

find_built() {
    local c
    for c in "$BENCH_DIR"/../build*/"$1"; do
        [[ -x $c ]] && { echo "$c"; return 0; }
    done
    return 1
}
[[ -n $BIN ]] || BIN=$(find_built tests/engine/bench-queue-load) || true
[[ -n ${MIRROR_BIN:-} ]] || MIRROR_BIN=$(find_built tests/mirror/atlas-test-mirror) || true
[[ -n $BIN && -x $BIN ]] ||
    bench_die "bench-queue-load not found: ninja -C build tests/engine/bench-queue-load, or --bin"
bench_have_mirror || bench_die "atlas-test-mirror not found: build it or pass --mirror-bin"
[[ -x /usr/bin/time ]] || bench_die "GNU time (/usr/bin/time) is needed: apt-get install time"
command -v python3 >/dev/null || bench_die "missing: python3"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bench_tmp_init
mkdir -p "$OUT"
TSV=$OUT/runs.tsv
COLUMNS=(scenario run status files active_setting size per_download add_ms add_per_download_us
    run_s max_active complete failed verified throughput_mib_s heartbeat_p50_ms
    heartbeat_p99_ms heartbeat_max_ms rss_before_kb rss_max_kb fds_max user_s sys_s
    store_kb first_error)
(IFS=$'\t'; echo "${COLUMNS[*]}") >"$TSV"

# make_files ROOT N BYTES PIECE URL-BASE OUT.meta4: N random files and one Metalink for all.
make_files() {
    python3 - "$@" <<'PY'
import hashlib, os, sys
root, n, size, plen, base, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
os.makedirs(root, exist_ok=True)
parts = ['<?xml version="1.0" encoding="UTF-8"?>',
         '<metalink xmlns="urn:ietf:params:xml:ns:metalink">']
for i in range(n):
    name = f"f{i:05d}.bin"
    data = os.urandom(size)
    with open(os.path.join(root, name), "wb") as f:
        f.write(data)
    pieces = "".join(f"<hash>{hashlib.sha256(data[k:k + plen]).hexdigest()}</hash>"
                     for k in range(0, size, plen))
    parts.append(f'<file name="{name}"><size>{size}</size>'
                 f'<hash type="sha-256">{hashlib.sha256(data).hexdigest()}</hash>'
                 f'<pieces length="{plen}" type="sha-256">{pieces}</pieces>'
                 f'<url priority="1">{base}/{name}</url></file>')
parts.append("</metalink>")
with open(out, "w") as f:
    f.write("\n".join(parts))
PY
}

failed=0
for sc in "${SCENARIOS[@]}"; do
    read -r name files active size plen per_server per_download <<<"$sc"
    if ((${#ONLY[@]})) && [[ ! " ${ONLY[*]} " == *" $name "* ]]; then continue; fi
    bytes=$(bench_bytes "$size")
    root=$BENCH_TMP/$name/root
    mkdir -p "$root"
    bench_mirror_start "$root"
    make_files "$root" "$files" "$bytes" "$plen" "http://127.0.0.1:$MIRROR_PORT/-" \
        "$BENCH_TMP/$name/files.meta4"
    for ((run = 1; run <= RUNS; run++)); do
        dl=$BENCH_TMP/$name/dl; store=$BENCH_TMP/$name/queue.sqlite
        rm -rf -- "$dl" "$store"*; mkdir -p "$dl"
        rc=0
        /usr/bin/time -o "$BENCH_TMP/time" -f '%U %S' timeout -k 5 "$BENCH_TIMEOUT" "$BIN" \
            --metalink "$BENCH_TMP/$name/files.meta4" --dir "$dl" --store "$store" \
            --active "$active" --per-server "$per_server" --per-download "$per_download" \
            --timeout "$BENCH_TIMEOUT" >"$BENCH_TMP/out" 2>"$BENCH_TMP/err" || rc=$?
        get() { awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print }' "$BENCH_TMP/out"; }
        read -r usr sys < <(tail -n 1 "$BENCH_TMP/time") || true
        store_kb=$(du -k "$store" 2>/dev/null | cut -f1)
        status=ok
        if ((rc != 0)) || [[ $(get verified) != "$files" ]]; then
            status=FAIL
            bench_log "$name run $run: exit $rc, $(tail -n 3 "$BENCH_TMP/err" | tr '\n' ' ')"
        fi
        # Every file is also hashed by the harness (verified); the count is the check.
        printf '%s\t' "$name" "$run" "$status" "$files" "$active" "$bytes" "$per_download" \
            "$(get add_ms)" "$(get add_per_download_us)" "$(get run_s)" "$(get max_active)" \
            "$(get complete)" "$(get failed)" "$(get verified)" "$(get throughput_mib_s)" \
            "$(get heartbeat_p50_ms)" "$(get heartbeat_p99_ms)" "$(get heartbeat_max_ms)" \
            "$(get rss_before_kb)" "$(get rss_max_kb)" "$(get fds_max)" "${usr:-}" "${sys:-}" \
            "${store_kb:-}" >>"$TSV"
        printf '%s\n' "$(get first_error | tr '\t' ' ' | cut -c1-120)" >>"$TSV"
        cp "$BENCH_TMP/out" "$OUT/$name-$run.out"
        bench_log "$name run $run: $status add=$(get add_ms) ms run=$(get run_s) s" \
            "active max=$(get max_active) verified=$(get verified)/$files" \
            "$(get throughput_mib_s) MiB/s heartbeat p50/p99/max=$(get heartbeat_p50_ms)/$(get heartbeat_p99_ms)/$(get heartbeat_max_ms) ms" \
            "rss=$(get rss_max_kb) KiB fds=$(get fds_max) cpu=${usr:-?}+${sys:-?} s"
        [[ $status == ok ]] || failed=1
    done
    bench_mirror_stop
    rm -rf -- "${BENCH_TMP:?}/$name"
done

python3 - "$TSV" >"$OUT/summary.txt" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter='\t'))
order = []
for r in rows:
    if r['scenario'] not in order:
        order.append(r['scenario'])
cols = [("add_ms", "add ms", "{:.0f}"), ("run_s", "run s", "{:.1f}"),
        ("max_active", "active", "{:.0f}"), ("throughput_mib_s", "MiB/s", "{:.1f}"),
        ("heartbeat_p50_ms", "hb p50", "{:.2f}"), ("heartbeat_p99_ms", "hb p99", "{:.1f}"),
        ("heartbeat_max_ms", "hb max", "{:.0f}"), ("rss_max_kb", "RSS MiB", "{:.1f}"),
        ("fds_max", "fds", "{:.0f}"), ("user_s", "user s", "{:.1f}"), ("sys_s", "sys s", "{:.1f}")]
print(f"{'scenario':<14} {'files':>5} {'-j':>4} {'ok':>4} {'verified':>8} "
      + " ".join(f"{h:>8}" for _, h, _ in cols))
for name in order:
    rs = [r for r in rows if r['scenario'] == name]
    ok = [r for r in rs if r['status'] == 'ok']
    ver = min(int(r['verified'] or 0) for r in rs)
    line = f"{name:<14} {rs[0]['files']:>5} {rs[0]['active_setting']:>4} {len(ok)}/{len(rs):<2} {ver:>8} "
    vals = []
    for k, _, fmt in cols:
        xs = [float(r[k]) for r in rs if r[k]]
        v = statistics.median(xs) if xs else float('nan')
        if k.endswith('_kb'):
            v /= 1024
        vals.append(f"{fmt.format(v):>8}")
    print(line + " ".join(vals))
print("medians over runs; verified = fewest files that hashed right in any run")
PY
{
    printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'host\t%s\n' "$(uname -n)"
    printf 'cores\t%s\n' "$(nproc)"
    printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'bin\t%s\n' "$BIN"
} >"$OUT/env.tsv"
cat "$OUT/summary.txt"
bench_log "results in $OUT"
exit "$failed"
