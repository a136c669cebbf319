#!/usr/bin/env python3
"""Traffic and sampling for bench/soak.sh.

usage: soak-driver.py CONFIG.json

For the configured duration: samples every long-lived process (VmRSS, VmHWM, open fds,
threads, CPU seconds) into OUT/samples.csv; keeps up to `peers` short-lived `atlas get`
peers running, each with a fate drawn at its start (finish and leave, finish and linger
seeding, or be killed with SIGINT or SIGKILL part way); hands the app a new Metalink every
`app_every` seconds through its command line. Every download that ends complete is hashed
against the published file; its output is deleted afterwards so tmpfs use stays flat.
Writes OUT/downloads.tsv (one line per download), OUT/activity.csv and OUT/result.json.
Every wait is bounded; only processes started here are signalled, by PID.
"""
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from benchutil import sha256

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
TICKS = os.sysconf("SC_CLK_TCK")


def sample(pid):
    """(rss_kib, hwm_kib, fds, threads, cpu_s, anon_kib) of a live process, or None.
    RssAnon (heap, stacks) apart from RSS tells a leak from pages of mapped files."""
    try:
        status = open("/proc/%d/status" % pid).read()
        fds = len(os.listdir("/proc/%d/fd" % pid))
        stat = open("/proc/%d/stat" % pid).read()
    except (OSError, ValueError):
        return None
    fields = {}
    for line in status.splitlines():
        k, _, v = line.partition(":")
        fields[k] = v.split()
    if fields.get("State", ["Z"])[0] in ("Z", "X"):
        return None
    rest = stat[stat.rindex(")") + 2:].split()
    cpu = (int(rest[11]) + int(rest[12])) / TICKS
    return (int(fields["VmRSS"][0]), int(fields["VmHWM"][0]), fds,
            int(fields["Threads"][0]), round(cpu, 2), int(fields["RssAnon"][0]))


class Peer:
    """One short-lived `atlas get NAME --tracker` process."""

    def __init__(self, drv, index, name):
        self.index, self.name = index, name
        self.home = os.path.join(drv.cfg["work"], "peer-%05d" % index)
        os.makedirs(os.path.join(self.home, "dl"))
        r = drv.rng.random()
        # Fates: 55 % finish and leave, 20 % finish and seed 5-20 s (SIGTERM then), 15 %
        # SIGINT and 10 % SIGKILL at 0.3 s to kill_max (about a download's time, so mostly
        # part way, sometimes after it finished).
        kill_at = drv.rng.uniform(0.3, drv.cfg["kill_max"])
        if r < 0.55:
            self.fate, self.signal_at = "leave", None
        elif r < 0.75:
            self.fate, self.signal_at = "linger", None
        elif r < 0.90:
            self.fate, self.signal_at = "sigint", kill_at
        else:
            self.fate, self.signal_at = "sigkill", kill_at
        self.linger = drv.rng.uniform(5, 20)
        argv = [drv.cfg["atlas"], "get", self.name, "--tracker", drv.cfg["tracker"],
                "--identity", os.path.join(self.home, "identity"),
                "--dir", os.path.join(self.home, "dl"),
                "--queue-file", os.path.join(self.home, "queue.sqlite"),
                "--upload-limit", drv.cfg["upload"], "--json"] + drv.local_args
        if self.fate == "linger":
            argv.append("--seed-after")
        env = dict(os.environ)
        env.pop("ATLAS_TRACKER_URL", None)
        env["ATLAS_TRACKER_TOKEN"] = drv.cfg["token"]
        for d in ("data", "config", "cache"):
            os.makedirs(os.path.join(self.home, d))
            env["XDG_%s_HOME" % d.upper()] = os.path.join(self.home, d)
        self.out = os.path.join(self.home, "stdout.jsonl")
        self.err = os.path.join(self.home, "stderr.log")
        with open(self.out, "wb") as o, open(self.err, "wb") as e:
            self.proc = subprocess.Popen(argv, stdout=o, stderr=e, env=env,
                                         stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        self.signalled = None
        self.signalled_at = None
        self.finished_at = None

    def finished_event(self):
        try:
            for line in open(self.out, encoding="utf-8", errors="replace"):
                if '"finished"' in line:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == "finished":
                        return ev
        except OSError:
            pass
        return None

    def send(self, sig, why):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            self.signalled, self.signalled_at = why, time.monotonic()


class Driver:
    def __init__(self, cfg):
        self.cfg = cfg
        self.out = cfg["out"]
        self.rng = random.Random(int(os.environ.get("SOAK_SEED", "0")) or None)
        self.local_args = cfg["local_args"]
        self.sha = {n: sha256(os.path.join(cfg["data"], n)) for n in cfg["names"]}
        self.long = {k: int(v) for k, v in cfg["long_lived"].items()}
        self.dead = {}
        self.peers = []
        self.fresh = []
        self.peer_count = 0
        self.app_pending = []
        self.app_count = 0
        self.rows = []
        self.counts = {"peer_ok": 0, "peer_bad": 0, "peer_killed": 0, "peer_started": 0,
                       "app_added": 0, "app_ok": 0, "app_bad": 0, "app_timeout": 0,
                       "app_handoff_failed": 0}
        self.failures = []
        self.app_env = None
        if cfg.get("app_env"):
            self.app_env = dict(os.environ)
            for line in open(cfg["app_env"]):
                k, _, v = line.rstrip("\n").partition("=")
                if k != "APP_PID":
                    self.app_env[k] = v
            self.app_meta = os.path.join(cfg["work"], "app-meta")
            os.makedirs(self.app_meta, exist_ok=True)
            self.metalinks = [open(m, encoding="utf-8").read() for m in cfg["metalinks"]]
        self.samples = open(os.path.join(self.out, "samples.csv"), "w", newline="")
        self.sw = csv.writer(self.samples)
        self.sw.writerow(["t_s", "proc", "pid", "rss_kib", "hwm_kib", "fds", "threads", "cpu_s",
                          "anon_kib"])
        self.activity = open(os.path.join(self.out, "activity.csv"), "w", newline="")
        self.aw = csv.writer(self.activity)
        self.aw.writerow(["t_s", "peers_running"] + list(self.counts))

    def now(self):
        return time.monotonic() - self.t0

    def record(self, kind, index, name, outcome, seconds, note=""):
        self.rows.append((round(self.now(), 1), kind, index, name, outcome,
                          "" if seconds is None else round(seconds, 1), note))

    def fail(self, what):
        self.failures.append("%.0f s: %s" % (self.now(), what))
        print("[soak] FAIL %s" % what, file=sys.stderr, flush=True)

    # ------------------------------------------------------------ sampling
    def take_samples(self):
        t = round(self.now(), 2)
        for name, pid in self.long.items():
            if name in self.dead:
                continue
            s = sample(pid)
            if s is None:
                self.dead[name] = t
                self.fail("long-lived %s (pid %d) is gone" % (name, pid))
                continue
            self.sw.writerow([t, name, pid] + list(s))
        self.samples.flush()
        running = sum(1 for p in self.peers if p.proc.poll() is None)
        self.aw.writerow([t, running] + list(self.counts.values()))
        self.activity.flush()

    # ------------------------------------------------------------ peers
    def start_peer(self):
        self.peer_count += 1
        # Now and then the newest file published for the app, so that file has a swarm
        # (the app serves it to these peers) and is not only fetched from the origin.
        if self.fresh and self.rng.random() < 0.3:
            name = self.fresh[-1]
        else:
            name = self.rng.choice(self.cfg["names"])
        p = Peer(self, self.peer_count, name)
        self.peers.append(p)
        self.counts["peer_started"] += 1

    def tend_peers(self):
        now = time.monotonic()
        for p in list(self.peers):
            age = now - p.started
            rc = p.proc.poll()
            if rc is None:
                if p.signal_at is not None and age >= p.signal_at and not p.signalled:
                    p.send(signal.SIGINT if p.fate == "sigint" else signal.SIGKILL, p.fate)
                elif p.fate == "linger" and not p.signalled:
                    if p.finished_at is None and p.finished_event() is not None:
                        p.finished_at = now
                    if p.finished_at is not None and now - p.finished_at >= p.linger:
                        p.send(signal.SIGTERM, "linger-done")
                # A peer that never finishes, or does not exit within 30 s of a signal,
                # is a failure (the limit is generous: files are small, and the origin
                # alone would send one in under a minute).
                if (not p.signalled and age > self.peer_limit) or (
                        p.signalled and p.signalled != "stuck" and now - p.signalled_at > 30):
                    p.send(signal.SIGKILL, "stuck")
                continue
            self.reap_peer(p, rc, now - p.started)
            self.peers.remove(p)

    def reap_peer(self, p, rc, seconds):
        ev = p.finished_event()
        complete = ev is not None and ev.get("state") == "complete"
        path = (ev or {}).get("path") or os.path.join(p.home, "dl", p.name)
        note = "exit %d" % rc
        if p.signalled == "stuck":
            self.counts["peer_bad"] += 1
            self.fail("peer %d (%s) did not finish in %d s" % (p.index, p.name, self.peer_limit))
            outcome = "stuck"
        elif p.signalled in ("sigint", "sigkill"):
            self.counts["peer_killed"] += 1
            outcome = "killed-" + p.signalled[3:]
            # Killed after it finished: its file must still be right.
            if complete and os.path.exists(path) and sha256(path) != self.sha[p.name]:
                self.counts["peer_bad"] += 1
                self.fail("peer %d (%s) finished with wrong bytes" % (p.index, p.name))
                outcome = "BAD"
        else:
            good = complete and rc == 0 and sha256(path) == self.sha[p.name]
            if good:
                self.counts["peer_ok"] += 1
                outcome = "ok" if p.fate == "leave" else "ok-lingered"
            else:
                self.counts["peer_bad"] += 1
                err = ""
                try:
                    err = open(p.err, errors="replace").read()[-300:].replace("\n", " ")
                except OSError:
                    pass
                self.fail("peer %d (%s) %s, %s, state %s: %s" % (
                    p.index, p.name, p.fate, note, (ev or {}).get("state"), err))
                outcome = "BAD"
        self.record("peer", p.index, p.name, outcome, seconds, note)
        if outcome in ("BAD", "stuck"):
            # Its output is the only clue to what went wrong: kept with the results.
            kept = os.path.join(self.out, "failed-peer-%05d" % p.index)
            os.makedirs(kept, exist_ok=True)
            for log in (p.out, p.err):
                if os.path.exists(log):
                    shutil.copy(log, kept)
        if outcome not in ("BAD", "stuck") or os.environ.get("SOAK_KEEP_BAD") != "1":
            shutil.rmtree(p.home, ignore_errors=True)

    # ------------------------------------------------------------ the app
    def publish_fresh(self):
        """A new file in the index, as a user keeps downloading new things: returns its
        Metalink (from `atlas publish`), or None after recording a failure."""
        name = "fresh-%05d.bin" % (self.app_count)
        path = os.path.join(self.cfg["data"], name)
        with open(path, "wb") as f:
            f.write(os.urandom(self.cfg["fresh_bytes"]))
        os.chmod(path, 0o644)
        meta = os.path.join(self.app_meta, name + ".meta4")
        env = dict(os.environ, ATLAS_TRACKER_TOKEN=self.cfg["up_token"])
        try:
            r = subprocess.run([self.cfg["atlas"], "publish", path, "--tracker",
                                self.cfg["tracker"], "--mirror", self.cfg["fresh_mirror"] + name,
                                "--piece-size", "256K", "--output", meta, "-q"],
                               env=env, timeout=60, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
            why = "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-200:])
            ok = r.returncode == 0
        except subprocess.TimeoutExpired:
            ok, why = False, "did not return in 60 s"
        if not ok:
            self.fail("publishing %s: %s" % (name, why))
            return None, None
        self.sha[name] = sha256(path)
        self.fresh.append(name)
        return name, meta

    def add_to_app(self):
        self.app_count += 1
        # Odd hand-offs: a file never seen before (published now); even ones: one of the
        # soak's files again under a new name (same hashes, so the same swarm).
        if self.app_count % 2 == 1:
            name, meta = self.publish_fresh()
            if name is None:
                return
            src = name
        else:
            k = self.rng.randrange(len(self.cfg["names"]))
            src = self.cfg["names"][k]
            name = "app-%05d-%s" % (self.app_count, src)
            text = self.metalinks[k].replace('name="%s"' % src, 'name="%s"' % name, 1)
            meta = os.path.join(self.app_meta, name + ".meta4")
            with open(meta, "w", encoding="utf-8") as f:
                f.write(text)
        self.counts["app_added"] += 1
        try:
            r = subprocess.run([self.cfg["app"], meta], env=self.app_env, timeout=30,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            ok = r.returncode == 0
            why = "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[-200:])
        except subprocess.TimeoutExpired:
            ok, why = False, "did not return in 30 s"
        if not ok:
            self.counts["app_handoff_failed"] += 1
            self.fail("handing %s to the app: %s" % (name, why))
            return
        self.app_pending.append((name, src, time.monotonic(), meta))

    def tend_app(self):
        now = time.monotonic()
        for item in list(self.app_pending):
            name, src, t, meta = item
            path = os.path.join(self.cfg["app_dl"], name)
            if os.path.exists(path):
                # The engine renames the .part into place only once every piece and the
                # whole-file hash matched, so the name's appearance means complete.
                good = sha256(path) == self.sha[src]
                if good:
                    self.counts["app_ok"] += 1
                    self.record("app", self.app_count, name, "ok", now - t)
                else:
                    self.counts["app_bad"] += 1
                    self.fail("app download %s has wrong bytes" % name)
                    self.record("app", self.app_count, name, "BAD", now - t)
                os.unlink(path)
                os.unlink(meta)
                self.app_pending.remove(item)
            elif now - t > self.app_limit:
                self.counts["app_timeout"] += 1
                self.fail("app download %s not complete after %d s" % (name, self.app_limit))
                self.record("app", self.app_count, name, "timeout", now - t)
                self.app_pending.remove(item)

    # ------------------------------------------------------------ main loop
    def run(self):
        cfg = self.cfg
        self.peer_limit = 60 if cfg["smoke"] else 180
        self.app_limit = 60 if cfg["smoke"] else 180
        self.t0 = time.monotonic()
        end = self.t0 + cfg["duration"]
        next_sample = self.t0
        next_peer = self.t0 + 2
        next_app = self.t0 + 3
        while True:
            now = time.monotonic()
            if now >= next_sample:
                self.take_samples()
                next_sample += cfg["interval"]
                if next_sample < now:
                    next_sample = now + cfg["interval"]
            if now >= end:
                break
            self.tend_peers()
            if now >= next_peer and len(self.peers) < cfg["peers"]:
                self.start_peer()
                next_peer = now + self.rng.uniform(0.5, 4)
            if self.app_env is not None:
                self.tend_app()
                # At most two app downloads in flight: the app's queue still grows by
                # one finished download per hand-off, as a user's does.
                if now >= next_app and len(self.app_pending) < 2:
                    self.add_to_app()
                    next_app = now + cfg["app_every"]
            time.sleep(0.2)
        # Peers still running are stopped (not counted as failures: the run is over).
        for p in self.peers:
            p.send(signal.SIGINT, "sigint")
        deadline = time.monotonic() + 15
        while self.peers and time.monotonic() < deadline:
            for p in list(self.peers):
                rc = p.proc.poll()
                if rc is not None:
                    self.reap_peer(p, rc, time.monotonic() - p.started)
                    self.peers.remove(p)
            time.sleep(0.1)
        for p in self.peers:
            p.send(signal.SIGKILL, "sigkill")
            p.proc.wait()
            self.reap_peer(p, p.proc.returncode, time.monotonic() - p.started)
        self.peers = []
        if self.app_env is not None:
            self.tend_app()
        self.take_samples()
        self.samples.close()
        self.activity.close()
        with open(os.path.join(self.out, "downloads.tsv"), "w") as f:
            f.write("t_s\tkind\tindex\tname\toutcome\tseconds\tnote\n")
            for r in self.rows:
                f.write("\t".join(str(x) for x in r) + "\n")
        # App downloads still in flight at the end are neither good nor bad.
        result = dict(self.counts, app_unfinished_at_end=len(self.app_pending),
                      failures=self.failures, dead=self.dead,
                      duration_s=round(self.now(), 1), long_lived=self.long)
        with open(os.path.join(self.out, "result.json"), "w") as f:
            json.dump(result, f, indent=1)
        return 0 if not self.failures else 1


def main():
    cfg = json.load(open(sys.argv[1]))
    drv = Driver(cfg)
    # SIGTERM/SIGINT from soak.sh's traps: stop the peers started here, then go.
    def on_signal(signum, frame):
        for p in drv.peers:
            if p.proc.poll() is None:
                os.kill(p.proc.pid, signal.SIGKILL)
                p.proc.wait()
        sys.exit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    sys.exit(drv.run())


if __name__ == "__main__":
    main()
