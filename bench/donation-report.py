#!/usr/bin/env python3
"""Rows and summary for bench/bench-donation.sh.

usage: donation-report.py rows RESULT.json RUN OUT FILE_BYTES
       donation-report.py summary OUT

rows appends one line to OUT/runs.tsv, one per downloader to OUT/downloaders.tsv and
one per donor to OUT/donors.tsv.  summary writes OUT/summary.md (included by
bench/report.py) and OUT/summary.tsv from those files, and prints the tables.
A run counts only when every downloader finished with the right SHA-256; a scenario
with a bad run shows FAIL, never a number.
"""
import csv
import os
import statistics
import sys

M = 1048576
RUNS_HEAD = ["scenario", "run", "status", "downloaders_ok", "offload", "from_peers",
             "downloaded", "donor_held_at_start_over_f", "donor_served_over_f",
             "donor_fetched_download_over_f", "origin_to_donors_download_over_f", "warmup_s",
             "warmup_end", "warmup_origin_over_f", "download_origin_over_f",
             "download_phase_s", "median_s", "slowest_s", "cpu_donors_s",
             "cpu_downloaders_s", "note"]
DL_HEAD = ["scenario", "run", "slot", "arrival_s", "status", "seconds", "from_peers",
           "from_mirrors", "to_peers", "offload", "cpu_s", "note"]
DONOR_HEAD = ["scenario", "run", "donor", "storage_at_warm", "storage_end", "fetched_warm",
              "fetched_download", "served_warm", "served_download", "downloads_helped",
              "cpu_s", "exit"]


def append(path, head, row):
    new = not os.path.exists(path)
    with open(path, "a") as f:
        if new:
            f.write("\t".join(head) + "\n")
        f.write("\t".join("" if c is None else str(c) for c in row) + "\n")


def rows(result_path, run, out, file_bytes):
    import json
    r = json.load(open(result_path))
    F = int(file_bytes)
    scen = r["scenario"]
    ok_n = 0
    peers_sum = down_sum = 0
    secs = []
    for d in r["downloaders"]:
        fp, fm = d.get("from_peers"), d.get("from_mirrors")
        total = (fp or 0) + (fm or 0)
        if d["ok"]:
            ok_n += 1
            secs.append(d["seconds"])
        peers_sum += fp or 0
        down_sum += total
        note = "" if d["ok"] else (
            "sha256 mismatch" if d.get("state") == "complete" else
            "not finished: %s" % (d.get("error") or "state %s exit %s" % (d.get("state"), d.get("exit"))))
        append(os.path.join(out, "downloaders.tsv"), DL_HEAD, [
            scen, run, d["slot"], d["arrival_s"], "ok" if d["ok"] else "FAIL", d["seconds"],
            fp, fm, d.get("to_peers"), "%.3f" % (fp / total) if total and fp is not None else "",
            d["cpu_s"], note])
    donor_served = sum(x["served_download"] for x in r["donors"])
    donor_held = sum(x["storage_at_warm"] for x in r["donors"])
    donor_fetched = sum(x["fetched_download"] for x in r["donors"])
    # What the origin sent in the download phase beyond what the downloaders say they
    # took from mirrors went to the donors (refills after reassignment).
    dl_mirrors = sum(d.get("from_mirrors") or 0 for d in r["downloaders"])
    to_donors = max(0, r["download_origin_bytes"] - dl_mirrors)
    for x in r["donors"]:
        append(os.path.join(out, "donors.tsv"), DONOR_HEAD, [
            scen, run, x["donor"], x["storage_at_warm"], x["storage_end"], x["fetched_warm"],
            x["fetched_download"], x["served_warm"], x["served_download"],
            x["downloads_helped"], x["cpu_s"], x["exit"]])
    n = len(r["downloaders"])
    ok = ok_n == n and not r["timed_out"]
    note = "" if ok else "%d of %d downloaders ok%s" % (
        ok_n, n, "; timed out" if r["timed_out"] else "")
    row = [scen, run, "ok" if ok else "FAIL", "%d/%d" % (ok_n, n),
           "%.4f" % (peers_sum / down_sum) if down_sum else "",
           peers_sum, down_sum]
    row += ["%.3f" % (x / F) for x in (donor_held, donor_served, donor_fetched, to_donors)] \
        if r["donors"] else ["", "", "", ""]
    row += [
           r["warmup_s"] if r["donors"] else "", r["warmup_end"] if r["donors"] else "",
           "%.3f" % (r["warmup_origin_bytes"] / F) if r["donors"] else "",
           "%.3f" % (r["download_origin_bytes"] / F), r["download_phase_s"],
           "%.2f" % statistics.median(secs) if secs else "",
           "%.2f" % max(secs) if secs else "",
           r["cpu_donors_s"] if r["donors"] else "", r["cpu_downloaders_s"], note]
    append(os.path.join(out, "runs.tsv"), RUNS_HEAD, row)
    print("%s run %s: %s, offload %s, origin (download phase) %s x F, warm-up %s s / %s x F, "
          "downloaders median %s s slowest %s s%s" % (
              scen, run, row[2], row[4] or "-", row[14], row[11] or "-", row[13] or "-",
              row[16] or "-", row[17] or "-", "; " + note if note else ""))


def read(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(values):
    values = [float(v) for v in values if v not in ("", None)]
    return statistics.median(values) if values else None


def fmt(x, nd=2):
    return "—" if x is None else "%.*f" % (nd, x)


def summary(out):
    runs = read(os.path.join(out, "runs.tsv"))
    dls = read(os.path.join(out, "downloaders.tsv"))
    env = {r["key"]: r["value"] for r in read(os.path.join(out, "env.tsv"))}
    scens = list(dict.fromkeys(r["scenario"] for r in runs))
    good = {}
    t1 = [("scenario", "runs ok", "offload (median)", "min-max", "goal >= 0.75",
           "origin egress / F, download phase", "warm-up s", "warm-up origin / F",
           "donors held at start / F", "donors served / F", "donors refetched / F",
           "downloader s (median)", "slowest s", "cpu s donors + downloaders")]
    for s in scens:
        rs = [r for r in runs if r["scenario"] == s]
        ok = [r for r in rs if r["status"] == "ok"]
        good[s] = len(ok) == len(rs)
        if not good[s]:
            bad = next(r for r in rs if r["status"] != "ok")
            t1.append((s, "%d/%d" % (len(ok), len(rs)), "**FAIL**", bad["note"]) +
                      ("",) * (len(t1[0]) - 4))
            continue
        off = [float(r["offload"]) for r in ok if r["offload"]]
        o = med(off)
        cpu = med([float(r["cpu_donors_s"] or 0) + float(r["cpu_downloaders_s"]) for r in ok])
        t1.append((s, "%d/%d" % (len(ok), len(rs)), fmt(o, 3),
                   "%.3f-%.3f" % (min(off), max(off)) if off else "—",
                   ("yes" if o >= 0.75 else "NO") if s == "donation" else "",
                   fmt(med(r["download_origin_over_f"] for r in ok), 3),
                   fmt(med(r["warmup_s"] for r in ok), 1),
                   fmt(med(r["warmup_origin_over_f"] for r in ok), 3),
                   fmt(med(r["donor_held_at_start_over_f"] for r in ok), 3),
                   fmt(med(r["donor_served_over_f"] for r in ok), 3),
                   fmt(med(r["donor_fetched_download_over_f"] for r in ok), 3),
                   fmt(med(r["median_s"] for r in ok)), fmt(med(r["slowest_s"] for r in ok)),
                   fmt(cpu, 1)))

    # Per arrival slot: the median over runs of each scenario's time, and the ratio
    # donation / origin alone (goal: below 1 in every slot).
    slots = sorted({int(d["slot"]) for d in dls})
    cols = [s for s in scens if s != "donation"]
    t2 = [("slot", "arrives at s") + tuple("%s s (median)" % s for s in scens) +
          (("donation / origin alone", "worst run", "faster") if "donation" in scens and
           "origin" in scens else ())]
    every_faster = None
    if "donation" in scens and "origin" in scens and good["donation"] and good["origin"]:
        every_faster = True
    for slot in slots:
        row = [str(slot)]
        arr = med(d["arrival_s"] for d in dls if int(d["slot"]) == slot and d["scenario"] == scens[0])
        row.append(fmt(arr, 1))
        t = {}
        for s in scens:
            t[s] = med(d["seconds"] for d in dls if int(d["slot"]) == slot and d["scenario"] == s
                       and d["status"] == "ok") if good[s] else None
            row.append(fmt(t[s]) if good[s] else "FAIL")
        if len(t2[0]) > len(row):
            if t.get("donation") and t.get("origin"):
                ratio = t["donation"] / t["origin"]
                # The same slot in the same round, the worst of the rounds.
                by_run = {(d["scenario"], d["run"]): float(d["seconds"]) for d in dls
                          if int(d["slot"]) == slot and d["status"] == "ok"}
                worst = max((by_run[("donation", run)] / by_run[("origin", run)]
                             for (sc, run) in by_run if sc == "donation"
                             and ("origin", run) in by_run), default=None)
                row += [fmt(ratio, 3), fmt(worst, 3), "yes" if ratio < 1 else "NO"]
                if ratio >= 1:
                    every_faster = False
            else:
                row += ["—", "—", "—"]
        t2.append(tuple(row))

    def text(table):
        widths = [max(len(str(l[i])) for l in table) for i in range(len(table[0]))]
        return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(l, widths)).rstrip()
                         for l in table)

    def md(table):
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        return lines + ["| " + " | ".join(str(c) for c in l) + " |" for l in table[1:]]

    print(text(t1))
    print()
    print(text(t2))
    F = int(env.get("file_bytes", "0"))
    goal2 = ("—" if every_faster is None else "yes" if every_faster else "NO")
    body = md(t1) + [""] + md(t2) + [""]
    body.append("Every downloader faster with donation than with the origin alone (per-slot "
                "medians): **%s**." % goal2)
    body.append("")
    body.append(
        "%s runs per scenario, interleaved; %s MiB file, 1 MiB pieces; origin mirror capped at "
        "%.0f MiB/s; %s donors with %s MiB storage and %.0f MiB/s upload each; %s downloaders "
        "arriving evenly over %s s, each uploading at most %.0f MiB/s and leaving when done. "
        "Offload = bytes the downloaders got from peers (donors included) / all bytes they got "
        "(their `finished` events); origin egress = body bytes in the mirror's request log "
        "(download phase: from the first arrival until the log is quiet after the last "
        "downloader and the donors stopped; donors' fetches in that phase included). Warm-up: "
        "until the donors' storage_used stopped growing for %s s (at most %s s). %s, load "
        "average %s at the start. Per run, downloader and donor: runs.tsv, downloaders.tsv, "
        "donors.tsv." % (
            env.get("runs", "?"), F >> 20, int(env.get("origin_rate_bps", "0")) / M,
            env.get("donors", "?"), int(env.get("donor_storage_bytes", "0")) >> 20,
            int(env.get("donor_upload_bps", "0")) / M, env.get("downloaders", "?"),
            env.get("arrival_window_s", "?"), int(env.get("downloader_upload_bps", "0")) / M,
            env.get("warmup_still_s", "?"), env.get("warmup_max_s", "?"),
            env.get("date", "?"), env.get("loadavg_start", "?")))
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(body) + "\n")
    with open(os.path.join(out, "summary.tsv"), "w") as f:
        f.write("scenario\tstatus\toffload_median\tdownload_origin_over_f_median\t"
                "warmup_origin_over_f_median\tslowest_s_median\n")
        for s in scens:
            ok = [r for r in runs if r["scenario"] == s and r["status"] == "ok"]
            f.write("%s\t%s\t%s\t%s\t%s\t%s\n" % (
                s, "ok" if good[s] else "FAIL", fmt(med(r["offload"] for r in ok), 4),
                fmt(med(r["download_origin_over_f"] for r in ok), 3),
                fmt(med(r["warmup_origin_over_f"] for r in ok), 3),
                fmt(med(r["slowest_s"] for r in ok))))
        f.write("every_downloader_faster\t%s\n" % goal2)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "rows" and len(sys.argv) == 6:
        rows(*sys.argv[2:6])
    elif len(sys.argv) == 3 and sys.argv[1] == "summary":
        summary(sys.argv[2])
    else:
        sys.exit(__doc__)
