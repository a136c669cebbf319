#!/usr/bin/env python3
"""Judges a bench/soak.sh run against its bound; exit 1 when any check fails.

usage: soak-judge.py OUT

Reads OUT/samples.csv, OUT/bounds.tsv, OUT/result.json and OUT/env.tsv; writes
OUT/summary.tsv (one line per process and check) and OUT/summary.md, and prints the
latter. Per long-lived process, with the warm-up samples as the baseline:
  rss-end    median RSS of the last 5 samples <= max warm-up RSS + rss_end_mib
  rss-slope  least-squares slope of RSS over the second half < slope_kib_min
             (in runs of at least slope_min_run_s; shorter ones only report it)
  fds        max fds after the warm-up <= max warm-up fds + fd_extra
  threads    max threads after the warm-up <= max warm-up threads + thread_extra
Run checks: no long-lived process died, no download failed, and at least one app
download (when the app ran) and one peer download were verified.
"""
import csv
import json
import os
import statistics
import sys


def read_tsv(path):
    with open(path) as f:
        rows = list(csv.reader(f, delimiter="\t"))
    return {r[0]: r[1] for r in rows[1:] if len(r) >= 2}


def slope_per_min(points):
    """Least-squares slope of (t_s, kib) points, in KiB per minute."""
    n = len(points)
    if n < 3:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return 60 * sum((t - mt) * (v - mv) for t, v in points) / den


def main():
    out = sys.argv[1]
    bounds = {k: float(v) for k, v in read_tsv(os.path.join(out, "bounds.tsv")).items()}
    env = read_tsv(os.path.join(out, "env.tsv"))
    result = json.load(open(os.path.join(out, "result.json")))
    per = {}
    with open(os.path.join(out, "samples.csv")) as f:
        for r in csv.DictReader(f):
            per.setdefault(r["proc"], []).append(
                (float(r["t_s"]), int(r["rss_kib"]), int(r["hwm_kib"]), int(r["fds"]),
                 int(r["threads"]), float(r["cpu_s"]), int(r.get("anon_kib") or 0)))
    duration = float(result["duration_s"])
    warm = bounds["warmup_s"]
    half = duration / 2
    judge_slope = duration >= bounds["slope_min_run_s"] - 1
    checks = []      # (proc, check, measured, limit, ok)
    table = []
    for proc in sorted(per):
        s = per[proc]
        base = [x for x in s if x[0] < warm]
        after = [x for x in s if x[0] >= warm]
        if not base or len(after) < 5:
            checks.append((proc, "samples", "%d warm-up, %d after" % (len(base), len(after)),
                           ">= 1 and >= 5", False))
            continue
        w_rss = max(x[1] for x in base)
        end_rss = statistics.median(x[1] for x in s[-5:])
        lim_rss = w_rss + bounds["rss_end_mib"] * 1024
        second = [(x[0], x[1]) for x in s if x[0] >= half]
        slope = slope_per_min(second)
        anon_slope = slope_per_min([(x[0], x[6]) for x in s if x[0] >= half])
        w_fd = max(x[3] for x in base)
        max_fd = max(x[3] for x in after)
        w_th = max(x[4] for x in base)
        max_th = max(x[4] for x in after)
        checks += [
            (proc, "rss-end", "%.1f MiB" % (end_rss / 1024), "<= %.1f MiB" % (lim_rss / 1024),
             end_rss <= lim_rss),
            (proc, "rss-slope", "%.1f KiB/min" % slope,
             "< %g KiB/min" % bounds["slope_kib_min"] if judge_slope else "reported only",
             slope < bounds["slope_kib_min"] or not judge_slope),
            (proc, "fds", "max %d" % max_fd, "<= %d" % (w_fd + bounds["fd_extra"]),
             max_fd <= w_fd + bounds["fd_extra"]),
            (proc, "threads", "max %d" % max_th, "<= %d" % (w_th + bounds["thread_extra"]),
             max_th <= w_th + bounds["thread_extra"]),
        ]
        table.append((proc, s[0][1] / 1024, w_rss / 1024, end_rss / 1024, max(x[1] for x in s) / 1024,
                       s[-1][2] / 1024, slope, s[-1][6] / 1024, anon_slope, w_fd, max_fd,
                       s[-1][3], w_th, max_th,
                       s[-1][5], len(s)))
    for name, t in result["dead"].items():
        checks.append((name, "alive", "gone at %s s" % t, "alive to the end", False))
    r = result
    checks.append(("run", "failures",
                   "%d (%d peer downloads bad or stuck, %d app downloads bad or late, %d "
                   "hand-offs to the app failed, %d long-lived processes gone)" % (
                       len(r["failures"]), r["peer_bad"], r["app_bad"] + r["app_timeout"],
                       r["app_handoff_failed"], len(r["dead"])),
                   "0", not r["failures"]))
    checks.append(("run", "peer-verified", str(r["peer_ok"]), ">= 1", r["peer_ok"] >= 1))
    if env.get("app") == "1":
        checks.append(("run", "app-verified", str(r["app_ok"]), ">= 1", r["app_ok"] >= 1))

    with open(os.path.join(out, "summary.tsv"), "w") as f:
        f.write("proc\tcheck\tmeasured\tlimit\tverdict\n")
        for c in checks:
            f.write("%s\t%s\t%s\t%s\t%s\n" % (c[0], c[1], c[2], c[3], "ok" if c[4] else "FAIL"))
    bad = [c for c in checks if not c[4]]
    lines = []
    lines.append("## Soak (%s s%s, %s)\n" % (env.get("duration_s"),
                 ", smoke" if env.get("smoke") == "1" else "", env.get("date")))
    lines.append("Bound: warm-up %g s; end RSS <= warm-up max + %g MiB; RSS slope over the "
                 "second half < %g KiB/min%s; fds <= warm-up max + %g; threads <= warm-up max + %g."
                 % (warm, bounds["rss_end_mib"], bounds["slope_kib_min"],
                    "" if judge_slope else " (reported only: run shorter than %g s)"
                    % bounds["slope_min_run_s"], bounds["fd_extra"], bounds["thread_extra"]))
    if env.get("inject_leak", "none") != "none":
        lines.append("\nSelf-check run: a leak was injected into `%s`; this run must FAIL."
                     % env["inject_leak"])
    lines.append("\n| process | RSS start MiB | warm-up max | end (median 5) | max | HWM end | "
                 "slope 2nd half KiB/min | anon end MiB | anon slope KiB/min | fds warm-up max | "
                 "fds max | fds end | threads warm-up max | threads max | CPU s | samples |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        lines.append("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %d | %d | %d | "
                     "%d | %d | %.1f | %d |" % t)
    lines.append("\nDownloads: peers started %d, verified %d, killed on purpose %d, bad %d; "
                 "app handed %d, verified %d, bad %d, timed out %d, unfinished at the end %d."
                 % (r["peer_started"], r["peer_ok"], r["peer_killed"], r["peer_bad"],
                    r["app_added"], r["app_ok"], r["app_bad"], r["app_timeout"],
                    r["app_unfinished_at_end"]))
    lines.append("Load average %s at the start, %s at the end; wall %s s."
                 % (env.get("loadavg_start"), env.get("loadavg_end"), env.get("wall_s")))
    if bad:
        lines.append("\n**FAIL**:")
        for c in bad:
            lines.append("- %s %s: %s (limit %s)" % c[:4])
        for f_ in r["failures"][:20]:
            lines.append("- %s" % f_)
    else:
        lines.append("\n**PASS**: every check held (%d checks)." % len(checks))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
