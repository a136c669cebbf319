#!/usr/bin/env python3
"""Runs one scenario of bench/bench-donation.sh and prints its result as JSON.

usage: donation-harness.py CONFIG.json

Starts the donors (if any), waits for their warm-up, starts the downloaders at their
arrival times, timestamps every JSON line as it arrives, stops every process it started
by PID (donors with SIGTERM once the last downloader is done), hashes the outputs and
splits the origin's request log into the warm-up and download phases.  Every wait is
bounded.  CPU seconds come from wait4() per process, so donors and downloaders are
counted apart.
"""
import json
import os
import selectors
import signal
import sys
import time

from benchutil import sha256

M = 1048576


def log_size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def origin_bytes(path, start, end, name):
    """Body bytes of requests for NAME logged between two offsets of the mirror log."""
    total = requests = 0
    with open(path, "rb") as f:
        f.seek(start)
        chunk = f.read(max(0, end - start)).decode(errors="replace")
    for line in chunk.splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[1].endswith("/" + name):
            continue
        for p in parts[2:]:
            if p.startswith("bytes="):
                total += int(p[6:])
                requests += 1
    return total, requests


def wait_log_quiet(path, quiet_s=1.0, limit_s=10.0):
    """A cancelled rate-limited request is logged only when the mirror's next write
    fails, so the log is read once it has been still for a second (at most 10 s)."""
    size, still_since = log_size(path), time.monotonic()
    deadline = still_since + limit_s
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = log_size(path)
        if now != size:
            size, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet_s:
            break
    return size


class Proc:
    """One child process whose stdout carries JSON lines."""

    def __init__(self, kind, index, argv, env, home, sel, t0):
        self.kind, self.index, self.home, self.t0 = kind, index, home, t0
        self.err = open(os.path.join(home, "stderr.log"), "wb")
        self.log = open(os.path.join(home, "stdout.jsonl"), "wb")
        self.started = time.monotonic()
        import subprocess
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, env=env)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buf = b""
        self.last = {}          # kind of event -> last such event
        self.first_finished = None
        self.finished_at = None
        self.exit = None
        self.cpu = None
        self.open = True
        sel.register(self.proc.stdout, selectors.EVENT_READ, self)

    def feed(self, chunk, now):
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            self.log.write(b"%.3f " % (now - self.t0) + line + b"\n")
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            kind = ev.get("event")
            if kind is None:
                continue
            self.last[kind] = ev
            if kind == "finished" and self.first_finished is None:
                self.first_finished = ev
                self.finished_at = now

    def reap(self, block):
        """wait4() this child (once), keeping its exit code and CPU seconds."""
        if self.exit is not None:
            return True
        try:
            pid, status, ru = os.wait4(self.proc.pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            # Reaped elsewhere (never expected: Popen.poll() is not used for that reason).
            self.exit, self.cpu = self.proc.returncode, 0.0
            return True
        if pid == 0:
            return False
        self.exit = os.waitstatus_to_exitcode(status)
        self.proc.returncode = self.exit
        self.cpu = ru.ru_utime + ru.ru_stime
        return True


def pump(sel, timeout):
    for key, _ in sel.select(timeout=timeout):
        rec = key.data
        try:
            chunk = os.read(key.fileobj.fileno(), 65536)
        except BlockingIOError:
            continue
        if not chunk:
            sel.unregister(key.fileobj)
            rec.open = False
            continue
        rec.feed(chunk, time.monotonic())


def stop(procs, sel, sig, grace):
    # Signals go by PID with os.kill: Popen.send_signal() would poll() and reap the
    # child itself, and its CPU seconds would be lost to wait4().
    for p in procs:
        if not p.reap(False):
            os.kill(p.proc.pid, sig)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(not p.reap(False) for p in procs):
        pump(sel, 0.1)
    for p in procs:
        if not p.reap(False):
            os.kill(p.proc.pid, signal.SIGKILL)
            p.reap(True)
    pump(sel, 0)
    for p in procs:
        p.log.close()
        p.err.close()


def main():
    cfg = json.load(open(sys.argv[1]))
    work, name = cfg["work"], cfg["name"]
    mirror_log = cfg["mirror_log"]
    sel = selectors.DefaultSelector()
    t0 = time.monotonic()
    result = {"scenario": cfg["scenario"], "donors": [], "downloaders": []}

    def private_env(home, token):
        env = dict(os.environ)
        for k in ("ATLAS_TRACKER_URL", "ATLAS_TRACKER_TOKEN"):
            env.pop(k, None)
        if token:
            env["ATLAS_TRACKER_TOKEN"] = token
        for d in ("data", "config", "cache"):
            os.makedirs(os.path.join(home, d), exist_ok=True)
        env["XDG_DATA_HOME"] = os.path.join(home, "data")
        env["XDG_CONFIG_HOME"] = os.path.join(home, "config")
        env["XDG_CACHE_HOME"] = os.path.join(home, "cache")
        return env

    # ---------------------------------------------------------------- donors + warm-up
    log0 = log_size(mirror_log)
    donors = []
    for i in range(cfg["donors"]):
        home = os.path.join(work, "donor-%d" % i)
        os.makedirs(home, exist_ok=True)
        argv = [cfg["atlas"], "donate", "--tracker", cfg["tracker"],
                "--token-file", cfg["token_file"], "--storage", cfg["donor_storage"],
                "--upload", cfg["donor_upload"], "--cause", cfg["cause"],
                "--cache", os.path.join(home, "cache"), "--local-address", "127.0.0.1",
                "--ignore-metered", "--ignore-power-saver", "--json"]
        donors.append(Proc("donor", i, argv, private_env(home, None), home, sel, t0))
    if donors:
        with open(os.path.join(work, "donor-argv.txt"), "w") as f:
            f.write(" ".join(donors[0].proc.args) + "\n")

    def storage_used():
        return sum(d.last.get("donation", {}).get("storage_used", 0) for d in donors)

    warm_s, warm_reason = 0.0, "no donors"
    if donors:
        # Warm-up ends when the donors' caches have stopped growing for a few seconds
        # (after they started to grow: before its first assignment a donor holds 0),
        # or at the limit.
        last_total, last_growth = -1, time.monotonic()
        limit = t0 + cfg["warmup_max"]
        warm_reason = "limit"
        while time.monotonic() < limit:
            pump(sel, 0.2)
            now = time.monotonic()
            total = storage_used()
            if total > last_total:
                last_total, last_growth = total, now
            if total > 0 and now - last_growth >= cfg["warmup_still"]:
                warm_reason = "still"
                break
            if all(d.reap(False) for d in donors):
                warm_reason = "donors exited"
                break
        warm_s = time.monotonic() - t0
    log1 = log_size(mirror_log)
    at_warm = {d.index: dict(d.last.get("donation", {})) for d in donors}

    # ---------------------------------------------------------------- downloaders
    t1 = time.monotonic()
    n, spread = cfg["downloaders"], cfg["arrival_window"]
    arrivals = [spread * i / (n - 1) if n > 1 else 0.0 for i in range(n)]
    dls = []
    deadline = t1 + cfg["timeout"]
    while time.monotonic() < deadline:
        now = time.monotonic()
        while len(dls) < n and now - t1 >= arrivals[len(dls)]:
            i = len(dls)
            home = os.path.join(work, "dl-%d" % i)
            os.makedirs(os.path.join(home, "dl"), exist_ok=True)
            argv = [cfg["atlas"], "get"]
            if cfg["tracker"] and cfg["downloader_peers"]:
                argv += [name, "--tracker", cfg["tracker"], "--local-address", "127.0.0.1",
                         "--upload-limit", cfg["downloader_upload"],
                         "--identity", os.path.join(home, "identity")]
            else:
                argv += [cfg["metalink"], "--no-peers"]
            argv += ["--dir", os.path.join(home, "dl"),
                     "--queue-file", os.path.join(home, "queue.sqlite"), "--json"]
            token = cfg["downloader_token"] if cfg["downloader_peers"] else None
            p = Proc("downloader", i, argv, private_env(home, token), home, sel, t0)
            p.arrival = now - t1
            dls.append(p)
            if i == 0:
                with open(os.path.join(work, "downloader-argv.txt"), "w") as f:
                    f.write(" ".join(argv) + "\n")
        pending = [p for p in dls if p.first_finished is None and p.exit is None]
        if len(dls) == n and not pending:
            break
        next_arrival = arrivals[len(dls)] - (now - t1) if len(dls) < n else 0.2
        pump(sel, max(0.01, min(0.2, next_arrival)))
        # A downloader that finished leaves by itself; reap it once it has exited.
        for p in dls:
            if p.exit is None and not p.open:
                p.reap(False)
    phase_end = time.monotonic()
    timed_out = len(dls) < n or any(p.first_finished is None for p in dls)

    # Downloaders leave by themselves after "finished" (closing links, saving the queue);
    # give them up to 10 s before SIGINT, which only the late or the stuck then get.
    leave_deadline = time.monotonic() + 10
    while time.monotonic() < leave_deadline and not all(p.reap(False) for p in dls):
        pump(sel, 0.1)
    stop(dls, sel, signal.SIGINT, 10)
    stop(donors, sel, signal.SIGTERM, 10)
    # A donor prints its figures once a second: its last line, after the downloaders
    # left, holds everything it served to them.
    at_end = {d.index: dict(d.last.get("donation", {})) for d in donors}
    log2 = wait_log_quiet(mirror_log)

    warm_origin, warm_req = origin_bytes(mirror_log, log0, log1, name)
    dl_origin, dl_req = origin_bytes(mirror_log, log1, log2, name)
    with open(os.path.join(work, "origin.log"), "wb") as f, open(mirror_log, "rb") as m:
        m.seek(log0)
        f.write(m.read(log2 - log0))

    # ---------------------------------------------------------------- results
    for p in dls:
        fin = p.first_finished or {}
        prog = p.last.get("progress", {})
        src = fin if "from_peers" in fin else prog
        path = fin.get("path") or os.path.join(p.home, "dl", name)
        good = fin.get("state") == "complete" and sha256(path) == cfg["sha256"]
        result["downloaders"].append({
            "slot": p.index, "arrival_s": round(p.arrival, 3),
            "seconds": round(p.finished_at - p.started, 3) if p.finished_at else None,
            "state": fin.get("state"), "ok": bool(good), "exit": p.exit,
            "from_peers": src.get("from_peers"), "from_mirrors": src.get("from_mirrors"),
            "to_peers": src.get("to_peers"), "error": fin.get("error"),
            "cpu_s": round(p.cpu or 0, 2),
        })
    for d in donors:
        w, e = at_warm.get(d.index, {}), at_end.get(d.index, {})
        result["donors"].append({
            "donor": d.index, "exit": d.exit, "cpu_s": round(d.cpu or 0, 2),
            "storage_at_warm": w.get("storage_used", 0), "storage_end": e.get("storage_used", 0),
            "fetched_warm": w.get("fetched_month", 0),
            "fetched_download": e.get("fetched_month", 0) - w.get("fetched_month", 0),
            "served_warm": w.get("bytes_served", 0),
            "served_download": e.get("bytes_served", 0) - w.get("bytes_served", 0),
            "downloads_helped": e.get("downloads_helped", 0),
            "state_end": e.get("state"), "pause_reason_end": e.get("pause_reason"),
        })
    result.update({
        "warmup_s": round(warm_s, 3), "warmup_end": warm_reason,
        "warmup_origin_bytes": warm_origin, "warmup_origin_requests": warm_req,
        "download_phase_s": round(phase_end - t1, 3),
        "download_origin_bytes": dl_origin, "download_origin_requests": dl_req,
        "timed_out": timed_out,
        "cpu_donors_s": round(sum(d.cpu or 0 for d in donors), 2),
        "cpu_downloaders_s": round(sum(p.cpu or 0 for p in dls), 2),
    })
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
