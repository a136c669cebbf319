#!/usr/bin/env python3
"""Checks for tests/integration/test-kill-restart.sh, run right after a SIGKILL.

The killed process is dead, so its SQLite files are quiescent; they are opened
read-only (mode=ro) so that reading never checkpoints or repairs anything the
restarted process should find as the crash left it.

  queue-snap DB OUT.json
      The downloads table as JSON: per id the name, folder, file name, URLs
      (from the request blob), state, piece length and verified pieces.
  queue-check EXPECT.json PREV.json CUR.json LOG FROM TO SHAS DIR EVER.json
      Prints one "FAIL <kind>: <detail>" line per problem and exits 1 if any:
        queue    CUR does not list exactly the downloads of EXPECT
        lost     a piece PREV had verified is no longer verified in CUR
        refetch  a mirror log line FROM..TO (1-based, inclusive; what the run
                 after PREV fetched) delivered bytes of a piece that was
                 verified at PREV or at any kill before (EVER.json, which is
                 then updated with CUR's verified pieces)
        wrong    a final file in DIR exists and its SHA-256 is not the expected
      and "INFO ..." lines with figures.
  queue-count DB [STATE]
      How many downloads the queue holds (in STATE, e.g. complete); 0 if the
      file or its table does not exist yet.
  tracker-snap DB OUT.json
      The tracker's entries (id, name, version, entry hash, SHA-256 of the
      Metalink) and token count, with PRAGMA integrity_check.
  tracker-check EXPECT.json CUR.json ACKED [LIST.json]
      FAIL lines when an entry of EXPECT is missing or differs in CUR, when an
      entry whose publication was acknowledged (ACKED: "id name entry" lines)
      is missing, or when LIST.json (GET /entries of the restarted tracker)
      does not list the same entries. Acknowledged entries are then added to
      EXPECT as CUR has them, so later kills must keep them unchanged.
"""
import hashlib
import json
import os
import re
import sqlite3
import sys

STATE_NAMES = ["queued", "active", "paused", "verifying", "complete", "failed"]
URL_RE = re.compile(rb"(?:https?|ftp)://[\x21-\x7e]+")


def connect(path):
    # mode=ro: never write, checkpoint or delete the WAL of the dead process.
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)


def bits_to_pieces(blob, n_pieces):
    if blob is None:
        return []
    # The engine stores bit (piece % 8) of byte (piece / 8): LSB first.
    return [p for p in range(n_pieces) if p // 8 < len(blob) and blob[p // 8] & (1 << (p % 8))]


def queue_snap(db, out):
    con = connect(db)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    rows = {}
    for (rid, name, directory, filename, state, size, plen, request, verified) in con.execute(
        "SELECT id, name, directory, filename, state, size, piece_length, request, verified"
        " FROM downloads ORDER BY id"
    ):
        n = (size + plen - 1) // plen if size > 0 and plen > 0 else 0
        rows[str(rid)] = {
            "name": name,
            "directory": directory,
            "filename": filename,
            "urls": sorted(u.decode() for u in URL_RE.findall(request or b"")),
            "state": STATE_NAMES[state] if 0 <= state < len(STATE_NAMES) else str(state),
            "size": size,
            "piece_length": plen,
            "verified": bits_to_pieces(verified, n),
        }
    con.close()
    with open(out, "w") as f:
        json.dump({"integrity": integrity, "rows": rows}, f)


def identity(row):
    return (row["directory"], row["filename"], row["urls"])


def load(path):
    with open(path) as f:
        return json.load(f)


def log_lines(path, first, last):
    with open(path, "rb") as f:
        for i, line in enumerate(f, 1):
            if i > last:
                break
            if i >= first:
                yield line.decode("utf-8", "replace")


LOG_RE = re.compile(r"^GET (\S+) range=(\S+) status=(\d+) bytes=(\d+)")


def queue_check(expect_p, prev_p, cur_p, log, first, last, shas_p, folder, ever_p):
    expect, prev, cur = load(expect_p), load(prev_p), load(cur_p)
    # Once verified, a piece is never fetched again: nothing in this test
    # deletes or damages a file, so the union over all kills applies.
    ever = load(ever_p) if os.path.exists(ever_p) else {}
    for rid, row in prev["rows"].items():
        ever[rid] = sorted(set(ever.get(rid, [])) | set(row["verified"]))
    fails = []
    if cur["integrity"] != "ok":
        fails.append("queue: integrity_check says %s" % cur["integrity"])
    e, c = expect["rows"], cur["rows"]
    for rid in sorted(set(e) | set(c), key=int):
        if rid not in c:
            fails.append("queue: download %s (%s) is gone" % (rid, e[rid]["filename"]))
        elif rid not in e:
            fails.append("queue: download %s (%s) appeared" % (rid, c[rid]["filename"]))
        elif identity(e[rid]) != identity(c[rid]):
            fails.append("queue: download %s changed: %s -> %s" % (rid, identity(e[rid]), identity(c[rid])))

    n_verified = 0
    for rid, row in c.items():
        n_verified += len(row["verified"])
        before = set(prev["rows"].get(rid, {}).get("verified", []))
        gone = sorted(before - set(row["verified"]))
        if gone and row["state"] != "complete":
            fails.append("lost: download %s (%s) no longer has verified pieces %s" % (rid, row["filename"], gone[:10]))

    # Which verified pieces did the run after PREV fetch again?
    by_name = {"/" + r["filename"]: (rid, r) for rid, r in prev["rows"].items()}
    fetched = refetched = 0
    for line in log_lines(log, first, last):
        m = LOG_RE.match(line)
        if not m or m.group(1) not in by_name:
            continue
        rid, row = by_name[m.group(1)]
        verified = set(ever.get(rid, []))
        sent = int(m.group(4))
        fetched += sent
        if sent == 0 or row["piece_length"] <= 0:
            continue
        start = 0 if m.group(2) == "-" else int(m.group(2).split("-")[0])
        end = start + sent  # bytes that really left the mirror
        plen = row["piece_length"]
        hit = [p for p in range(start // plen, (end - 1) // plen + 1) if p in verified]
        if hit:
            over = sum(min(end, (p + 1) * plen) - max(start, p * plen) for p in hit)
            refetched += over
            fails.append(
                "refetch: %s bytes %d-%d (%d bytes) overlap verified pieces %s (%d bytes)"
                % (row["filename"], start, end - 1, sent, hit[:10], over)
            )

    for rid, row in cur["rows"].items():
        ever[rid] = sorted(set(ever.get(rid, [])) | set(row["verified"]))
    with open(ever_p, "w") as f:
        json.dump(ever, f)

    shas = {}
    for line in open(shas_p):
        h, n = line.split()
        shas[n] = h
    n_final = 0
    for row in c.values():
        path = os.path.join(folder, row["filename"])
        if os.path.exists(path):
            n_final += 1
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            if h.hexdigest() != shas.get(row["filename"]):
                fails.append("wrong: %s has sha256 %s, expected %s" % (path, h.hexdigest(), shas.get(row["filename"])))
    states = {}
    for row in c.values():
        states[row["state"]] = states.get(row["state"], 0) + 1
    print(
        "INFO verified=%d final_files=%d fetched=%d refetched=%d states=%s"
        % (n_verified, n_final, fetched, refetched, ",".join("%s:%d" % kv for kv in sorted(states.items())))
    )
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


def queue_count(db, state=None):
    try:
        con = connect(db)
        if state is None:
            n = con.execute("SELECT COUNT(*) FROM downloads").fetchone()[0]
        else:
            n = con.execute("SELECT COUNT(*) FROM downloads WHERE state = ?", (STATE_NAMES.index(state),)).fetchone()[0]
        con.close()
    except sqlite3.Error:
        n = 0
    print(n)


def tracker_snap(db, out):
    con = connect(db)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    cols = [r[1] for r in con.execute("PRAGMA table_info(entries)")]
    hash_col = "entry_hash" if "entry_hash" in cols else ("entry" if "entry" in cols else None)
    entries = {}
    for row in con.execute("SELECT * FROM entries"):
        d = dict(zip(cols, row))
        meta = d.get("metalink") or b""
        if isinstance(meta, str):
            meta = meta.encode()
        entries[str(d["id"])] = {
            "name": d.get("name"),
            "version": d.get("version"),
            "entry": d.get(hash_col) if hash_col else None,
            "metalink_sha256": hashlib.sha256(meta).hexdigest(),
        }
    tokens = con.execute("SELECT COUNT(*) FROM tokens").fetchone()[0]
    con.close()
    with open(out, "w") as f:
        json.dump({"integrity": integrity, "entries": entries, "tokens": tokens}, f)


def tracker_check(expect_p, cur_p, acked_p, list_p=None):
    expect, cur = load(expect_p), load(cur_p)
    fails = []
    if cur["integrity"] != "ok":
        fails.append("integrity_check says %s" % cur["integrity"])
    if cur["tokens"] != expect["tokens"]:
        fails.append("tokens: %d, expected %d" % (cur["tokens"], expect["tokens"]))
    for eid, e in expect["entries"].items():
        c = cur["entries"].get(eid)
        if c is None:
            fails.append("entry %s (%s) is gone" % (eid, e["name"]))
        elif c != e:
            fails.append("entry %s changed: %s -> %s" % (eid, e, c))
    for line in open(acked_p):
        eid, name, entry = line.split()
        c = cur["entries"].get(eid)
        if c is None or c["name"] != name or c["entry"] != entry:
            fails.append("acknowledged publication %s (%s) is missing or wrong: %s" % (eid, name, c))
        elif eid not in expect["entries"]:
            expect["entries"][eid] = c
    if list_p is not None:
        try:
            listed = {str(o["id"]): (o["name"], o["version"], o["entry"]) for o in load(list_p)["entries"]}
        except (ValueError, KeyError, TypeError) as e:
            listed = None
            fails.append("GET /entries did not answer a list: %s" % e)
        want = {i: (e["name"], e["version"], e["entry"]) for i, e in expect["entries"].items()}
        if listed is not None:
            for i, w in sorted(want.items()):
                if listed.get(i) != w:
                    fails.append("GET /entries: entry %s is %s, expected %s" % (i, listed.get(i), w))
    with open(expect_p, "w") as f:
        json.dump(expect, f)
    print("INFO entries=%d acknowledged=%d tokens=%d" % (len(cur["entries"]), len(expect["entries"]), cur["tokens"]))
    for f in fails:
        print("FAIL " + f)
    return 1 if fails else 0


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "queue-snap" and len(argv) == 4:
        queue_snap(argv[2], argv[3])
        return 0
    if cmd == "queue-check" and len(argv) == 11:
        return queue_check(argv[2], argv[3], argv[4], argv[5], int(argv[6]), int(argv[7]), argv[8], argv[9], argv[10])
    if cmd == "queue-count" and len(argv) in (3, 4):
        queue_count(argv[2], argv[3] if len(argv) == 4 else None)
        return 0
    if cmd == "tracker-snap" and len(argv) == 4:
        tracker_snap(argv[2], argv[3])
        return 0
    if cmd == "tracker-check" and len(argv) in (5, 6):
        return tracker_check(argv[2], argv[3], argv[4], argv[5] if len(argv) == 6 else None)
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
