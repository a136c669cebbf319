#!/usr/bin/env python3
"""Summarise bench-download.sh results into markdown + a gnuplot data file.

usage: report.py RESULT_DIR MARKDOWN_OUT CHART_DATA_OUT [PNG_NAME]

RESULT_DIR holds <scenario>.tsv (one row per run), <scenario>.meta and env.tsv, and
optionally notes.md (free text appended under "Observations").
Rules: a tool's time is reported only if every one of its runs was correct
(exit 0 and the right SHA-256); otherwise the row says FAIL, never a time.
"""
import csv
import os
import statistics
import sys

MIB = 1024 * 1024
SCENARIOS = ["fast4", "capped4", "mixed", "mixed-partial", "rss4g"]
TITLES = {
    "fast4": "fast4 — 4 unthrottled nginx mirrors",
    "capped4": "capped4 — 4 nginx mirrors capped at 20 MiB/s each (80 MiB/s total)",
    "mixed": "mixed — fast, medium, slow, stalling, corrupting and dead mirrors",
    "mixed-partial": "mixed-partial — fast, medium, slow and dead mirrors (no test mirror)",
    "rss4g": "rss4g — atlas peak RSS on a large (default 4 GiB) download",
}
TOOL_DESC = {
    "atlas-metalink": "atlas (Metalink)",
    "atlas-urls": "atlas (URLs + sha256)",
    "aria2c-metalink": "aria2c -M (Metalink, verified)",
    "aria2c-urls": "aria2c (URLs, unverified)",
    "axel": "axel -n (URLs, unverified)",
    "curl": "curl, 1 stream (unverified)",
}


def read_kv(path):
    out = {}
    if os.path.exists(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                out[row["key"]] = row["value"]
    return out


def read_runs(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def fnum(x, nd=2):
    return "—" if x is None else f"{x:.{nd}f}"


def summarise(rows):
    """tool -> dict(status, wall, rss_mib, cpu, ok, n, note) in first-seen order."""
    tools = {}
    for r in rows:
        tools.setdefault(r["tool"], []).append(r)
    out = {}
    for tool, rs in tools.items():
        if all(r["status"] == "n/a" for r in rs):
            out[tool] = dict(status="n/a", note=rs[0]["note"], ok=0, n=0)
            continue
        ok = [r for r in rs if r["status"] == "ok"]
        bad = [r for r in rs if r["status"] != "ok"]
        d = dict(ok=len(ok), n=len(rs), note="")
        if bad:
            d["status"] = "FAIL"
            kinds = sorted({r["status"] for r in bad})
            d["note"] = f"{'/'.join(kinds)}: " + bad[0]["note"].strip("; ")
        else:
            d["status"] = "ok"
            d["wall"] = statistics.median(float(r["wall_s"]) for r in ok)
            d["walls"] = [float(r["wall_s"]) for r in ok]
            d["rss_mib"] = statistics.median(int(r["rss_kb"]) for r in ok) / 1024
            d["cpu"] = statistics.median(float(r["user_s"]) + float(r["sys_s"]) for r in ok)
        out[tool] = d
    return out


def app_section(app, rows):
    """The desktop app, from bench/bench-app.sh (written to RESULT_DIR/app)."""
    def col(scen, key):
        return [r[key] for r in rows if r["scenario"] == scen and r.get(key)]

    def kib_to_mib(x):
        return f"{float(x) / 1024:.1f}" if x not in (None, "", "n/a") else "n/a"

    out = ["## app — the desktop app (`bench/bench-app.sh`)", ""]
    out.append(f"The real window (`tests/app/bench-ui`, the widgets of `download-atlas`) under Xvfb "
               f"with GTK's cairo renderer, {app.get('queue', '?')} paused downloads in its SQLite "
               f"queue; {app.get('runs', '?')} runs each, medians; {app.get('date', '?')}.")
    out.append("")
    out.append("| measure | median | goal | runs |")
    out.append("|---|--:|--:|---|")
    out.append(f"| first frame showing the queue | {app.get('first_frame_ms_median', 'n/a')} ms | ≤ 1000 ms | "
               f"{', '.join(col('firstframe', 'first_frame_ms'))} |")
    out.append(f"| RSS at that frame | {kib_to_mib(app.get('rss_first_frame_kib_median'))} MiB | ≤ 150 MiB | "
               f"{', '.join(kib_to_mib(x) for x in col('firstframe', 'rss_kib'))} |")
    size = int(app.get("download_bytes", "0"))
    out.append(f"| longest main-loop stall during a {size / MIB:.0f} MiB loopback download "
               f"(5 ms timer lateness) | {app.get('stall_max_ms_median', 'n/a')} ms | ≤ 20 ms | "
               f"{', '.join(col('stall', 'stall_max_ms'))} |")
    out.append(f"| p99 stall in the same run | {app.get('stall_p99_ms_median', 'n/a')} ms | — | "
               f"{', '.join(col('stall', 'stall_p99_ms'))} |")
    out.append(f"| that download's speed | {app.get('download_mib_per_s_median', 'n/a')} MiB/s | — | "
               f"{', '.join(col('stall', 'mib_per_s'))} |")
    out.append(f"| peak RSS by the end of the download | "
               f"{kib_to_mib(app.get('rss_peak_during_download_kib_median'))} MiB | — | |")
    out.append("")
    return out


def summary_section(path, title, goal):
    """A benchmark that writes its own summary table: included as it is."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        body = f.read().strip()
    return [title, "", goal, "", body, ""]


def text_section(path, title, goal):
    """A benchmark whose summary is a plain-text table: included verbatim."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        body = f.read().strip()
    return [title, "", goal, "", "```", body, "```", ""]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rdir, md_out, dat_out = sys.argv[1:4]
    png = sys.argv[4] if len(sys.argv) > 4 else "bench-download.png"
    env = read_kv(os.path.join(rdir, "env.tsv"))

    md = []
    md.append("# Download benchmarks")
    md.append("")
    md.append("Generated by `bench/report.sh` from `bench/bench-download.sh` results; do not edit")
    md.append("by hand (put remarks in the result directory's `notes.md`). How to run, scenarios and")
    md.append("tool flags: [bench/README.md](../bench/README.md).")
    md.append("")
    if env:
        md.append(f"- Date: {env.get('date', '?')}; host: {env.get('host', '?')}, {env.get('mem', '?')} RAM; "
                  "all traffic on loopback, files in tmpfs (`/dev/shm`).")
        md.append(f"- nginx {env.get('nginx', '?')}, aria2c {env.get('aria2c', '?')}, "
                  f"axel {env.get('axel', '?')}, curl {env.get('curl', '?')}.")
        atlas = env.get("atlas", "n/a")
        md.append(f"- atlas: {'**n/a** (the CLI does not work yet; its rows are placeholders)' if atlas == 'n/a' else '`' + atlas + '`'}.")
        tm = env.get("test_mirror", "n/a")
        md.append(f"- atlas-test-mirror: {'**n/a** (not built yet)' if tm == 'n/a' else '`' + tm + '`'}.")
        smoke = env.get("smoke") == "1"
        md.append(f"- Runs per tool: {env.get('runs', '?')}{' (SMOKE RUN: tiny sizes, numbers are not meaningful)' if smoke else ''}; "
                  f"per-run timeout {env.get('timeout_s', '?')} s.")
    md.append("")
    md.append("Columns: **wall** is the median wall time of the runs; **MiB/s** is file size / median wall;")
    md.append("**vs atlas** is tool wall / atlas (Metalink) wall (> 1 means atlas is faster); **RSS** is the median of")
    md.append("each run's peak RSS (GNU time `%M`); **CPU** is the median user+sys seconds; **correct** is `y` only")
    md.append("if every run exited 0 and produced the right SHA-256 — any bad run makes the row FAIL, and a")
    md.append("FAIL row never shows a time. Verification by the harness happens after the timer stops.")
    md.append("")

    chart = {}  # tool -> {scenario: mibs}
    chart_scen = []
    for scen in SCENARIOS:
        meta = read_kv(os.path.join(rdir, scen + ".meta"))
        tsv = os.path.join(rdir, scen + ".tsv")
        if not meta and not os.path.exists(tsv):
            continue
        md.append(f"## {TITLES.get(scen, scen)}")
        md.append("")
        if "skipped" in meta:
            md.append(f"Skipped: {meta['skipped']}.")
            md.append("")
            continue
        if not os.path.exists(tsv):
            continue
        size = int(meta.get("size_bytes", "0"))
        md.append(f"File {size / MIB:.0f} MiB ({size} bytes), Metalink with "
                  f"{int(meta.get('piece_bytes', MIB)) // 1024} KiB pieces + whole-file SHA-256. "
                  f"Mirrors: {meta.get('mirrors', '?')}.")
        if "loadavg" in meta:
            md.append(f"Load average when the scenario started: {meta['loadavg']} (2 cores; other jobs on the box add noise).")
        if "caps" in meta:
            md.append(f"Caps are {meta['caps']}.")
        ideal = float(meta["ideal_s"]) if "ideal_s" in meta else None
        if ideal is not None:
            md.append(f"Ideal (size / healthy bandwidth {meta.get('healthy_mibs')} MiB/s): {ideal:.2f} s.")
        md.append("")
        summ = summarise(read_runs(tsv))
        atlas_wall = None
        for t in ("atlas-metalink", "atlas-urls"):
            if summ.get(t, {}).get("status") == "ok":
                atlas_wall = summ[t]["wall"]
                break
        cap = float(meta["cap_mibs"]) if "cap_mibs" in meta else None
        head = ["tool", "median wall s", "MiB/s"]
        if cap:
            head.append(f"% of {cap:.0f} MiB/s cap")
        if ideal is not None:
            head.append("wall / ideal")
        head += ["vs atlas", "peak RSS MiB", "CPU s", "runs ok", "correct"]
        md.append("| " + " | ".join(head) + " |")
        md.append("|" + "|".join(["---"] + ["--:"] * (len(head) - 2) + [":-:"]) + "|")
        notes = []
        chart_scen.append(scen)
        for tool, d in summ.items():
            name = TOOL_DESC.get(tool, tool)
            if d["status"] == "n/a":
                cells = [name, "n/a", "n/a"] + (["n/a"] if cap else []) + \
                        (["n/a"] if ideal is not None else []) + ["n/a", "n/a", "n/a", "0/0", "n/a"]
                notes.append(f"{name}: not run — {d['note']}")
            elif d["status"] == "FAIL":
                cells = [name, "**FAIL**", "—"] + (["—"] if cap else []) + \
                        (["—"] if ideal is not None else []) + ["—", "—", "—", f"{d['ok']}/{d['n']}", "**n**"]
                notes.append(f"{name}: FAIL — {d['note']}")
            else:
                mibs = size / MIB / d["wall"] if d["wall"] > 0 else None
                cells = [name, fnum(d["wall"]), fnum(mibs, 1)]
                if cap:
                    cells.append(f"{100 * mibs / cap:.0f} %" if mibs else "—")
                if ideal is not None:
                    cells.append(fnum(d["wall"] / ideal))
                cells += [fnum(d["wall"] / atlas_wall) if atlas_wall else "n/a",
                          fnum(d["rss_mib"], 1), fnum(d["cpu"]), f"{d['ok']}/{d['n']}", "y"]
                chart.setdefault(tool, {})[scen] = mibs
                if len(d["walls"]) > 1:
                    notes.append(f"{name}: runs {', '.join(f'{w:.2f}' for w in d['walls'])} s")
            md.append("| " + " | ".join(cells) + " |")
        md.append("")
        if notes:
            md.append("<details><summary>per-run details</summary>")
            md.append("")
            md += [f"- {n}" for n in notes]
            md.append("")
            md.append("</details>")
            md.append("")

    app = read_kv(os.path.join(rdir, "app", "summary.tsv"))
    if app:
        md += app_section(app, read_runs(os.path.join(rdir, "app", "app.tsv")))

    md += summary_section(os.path.join(rdir, "peer-link", "summary.txt"),
                          "## peer link — one QUIC link (`bench/bench-peer-link.sh`)",
                          "Goals: ≥ 150 MiB/s on loopback UDP; ≥ 15 MiB/s with 0.5 % loss each way. "
                          "The lossy rows run over the in-process impaired pipe (this kernel has no netem).")
    md += summary_section(os.path.join(rdir, "swarm", "summary.md"),
                          "## swarm — eight downloaders, one capped origin (`bench/bench-swarm.sh`)",
                          "Goals: origin egress ≤ 1.15 × the file; completion ≤ 1.3 × the fluid-model bound; "
                          "beside a BitTorrent swarm (libtorrent) on the same caps.")
    md += summary_section(os.path.join(rdir, "donation", "summary.md"),
                          "## donation — donors offload a capped origin (`bench/bench-donation.sh`)",
                          "Goals: ≥ 75 % of the downloaded bytes served by peers and donors; every "
                          "downloader faster than with the origin alone (the same arrivals, no peers).")
    md += text_section(os.path.join(rdir, "allocation", "summary.txt"),
                       "## donation allocation — quality and speed (`bench/bench-allocation.sh`)",
                       "Goal: demand met within 10 % of the best possible assignment (exact maximum "
                       "flow). Simulated populations, one allocation every simulated 5 s; `alloc ms` "
                       "is one `atlas_donation_alloc_run` on one core, `churn` the median share of "
                       "held copies dropped per step (docs/donation.md).")
    md += summary_section(os.path.join(rdir, "fuzz", "table.md"),
                          "## fuzzing — executions per target (`bench/bench-fuzz.sh`)",
                          "Goal: each target at least 10 million executions with AddressSanitizer "
                          "and UndefinedBehaviorSanitizer, no finding left open. libFuzzer, clang 14, "
                          "one process per target.")
    md += text_section(os.path.join(rdir, "tracker-load", "summary.txt"),
                       "## tracker load — thousands of peers (`bench/bench-tracker-load.sh`)",
                       "Simulated peers (libsoup WebSocket clients) say hello, join one of the "
                       "entries, then announce and exchange offer/answer at a fixed total rate; "
                       "latencies from the generator's send to the tracker's reply or relay; "
                       "µs/msg is the tracker's CPU per WebSocket message.")
    md += text_section(os.path.join(rdir, "queue-load", "summary.txt"),
                       "## queue load — 1,000 queued, 200 active (`bench/bench-queue-load.sh`)",
                       "256 KiB files with 64 KiB piece hashes from one loopback test mirror; "
                       "`hb` is how late a 10 ms heartbeat on the engine's main loop ran.")
    md += text_section(os.path.join(rdir, "soak", "summary.txt"),
                       "## soak — an hour of mixed traffic (`bench/soak.sh`)",
                       "Long-lived processes sampled while downloads, peers and a donor run; "
                       "the bound is stated in the script and in bounds.tsv.")
    notes_md = os.path.join(rdir, "notes.md")
    if os.path.exists(notes_md):
        md.append("## Observations")
        md.append("")
        with open(notes_md) as f:
            md.append(f.read().rstrip())
        md.append("")

    md.append("## Chart")
    md.append("")
    md.append(f"![MiB/s per tool and scenario (correct results only)]({png})")
    md.append("")
    md.append("Bars are MiB/s of correct results only; a missing bar is n/a or FAIL.")
    md.append("")
    with open(md_out, "w") as f:
        f.write("\n".join(md))

    scen_cols = [s for s in chart_scen if s != "rss4g"]
    with open(dat_out, "w") as f:
        f.write("tool\t" + "\t".join(scen_cols) + "\n")
        for tool in TOOL_DESC:
            vals = chart.get(tool, {})
            f.write(tool + "\t" + "\t".join(
                f"{vals[s]:.1f}" if vals.get(s) else "NaN" for s in scen_cols) + "\n")
    print(len(scen_cols))


if __name__ == "__main__":
    main()
