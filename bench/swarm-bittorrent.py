#!/usr/bin/python3
"""The BitTorrent side of bench/bench-swarm.sh: one libtorrent swarm on 127.0.0.1.

One initial seeder (the "origin") with an upload cap, N leechers each with an
upload cap and no download cap, all in this one process as separate libtorrent
sessions on their own 127.0.0.1 ports.  There is no tracker: every session is
told about every other one with connect_peer, which is what a tracker would
have done.  DHT, LSD, UPnP, NAT-PMP and PEX are off, so nothing leaves the
loopback interface.

Every leecher stays in the swarm as a seeder until the last one has finished,
as BitTorrent peers normally do.  The result is one JSON object on stdout:
per-leecher completion times and byte counters, the seeder's upload (the
origin egress) and the swarm time (the last completion).

Needs Debian's python3-libtorrent (libtorrent-rasterbar 2.0), which is built
for the system interpreter: run it with /usr/bin/python3.
"""

import argparse
import json
import os
import resource
import sys
import time

import libtorrent as lt

MIB = 1024 * 1024


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("file", help="the file to share (the seeder's copy)")
    p.add_argument("--work", required=True, help="directory for the .torrent and leecher dirs")
    p.add_argument("--leechers", type=int, default=8)
    p.add_argument("--origin-rate", type=int, default=20 * MIB, help="seeder upload cap, bytes/s")
    p.add_argument("--peer-rate", type=int, default=10 * MIB, help="leecher upload cap, bytes/s")
    p.add_argument("--piece-size", type=int, default=MIB)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--utp", action="store_true", help="uTP instead of TCP between peers")
    p.add_argument(
        "--super-seed", action="store_true", help="the seeder uses super seeding (BEP 16)"
    )
    return p.parse_args()


def make_torrent(path, piece_size, out):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    # v1 only: the v2 merkle trees cost hashing time and change nothing on the wire here.
    ct = lt.create_torrent(fs, piece_size, flags=lt.create_torrent.v1_only)
    ct.set_creator("atlas bench-swarm")
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(path)))
    data = lt.bencode(ct.generate())
    with open(out, "wb") as f:
        f.write(data)
    return lt.torrent_info(out)


def make_session(upload_rate, utp):
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "outgoing_interfaces": "127.0.0.1",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": utp,
        "enable_incoming_utp": utp,
        "enable_outgoing_tcp": not utp,
        "enable_incoming_tcp": not utp,
        # Every peer is 127.0.0.1, so several connections from one IP are normal here.
        "allow_multiple_connections_per_ip": True,
        "upload_rate_limit": upload_rate,
        "download_rate_limit": 0,
        # libtorrent exempts local networks from rate limits by default; the whole
        # point here is the caps, so loopback peers must count like remote ones.
        "ignore_limits_on_local_network": False,
        # The caps are payload caps, as the test mirror's rate= and atlas' peer limit.
        "rate_limit_ip_overhead": False,
        "aio_threads": 2,
        "hashing_threads": 1,
        "alert_mask": lt.alert.category_t.error_notification
        | lt.alert.category_t.status_notification,
    }
    ses = lt.session(settings)
    # Put every address in the global peer class only (not the unlimited local class),
    # so the session-wide upload_rate_limit applies to loopback peers too.
    filt = lt.ip_filter()
    filt.add_rule("0.0.0.0", "255.255.255.255", 1 << lt.session.global_peer_class_id)
    ses.set_peer_class_filter(filt)
    return ses


def wait_listen(ses, deadline):
    while time.monotonic() < deadline:
        port = ses.listen_port()
        if port:
            return port
        time.sleep(0.02)
    raise SystemExit("a libtorrent session did not start listening")


def main():
    args = parse_args()
    os.makedirs(args.work, exist_ok=True)
    t0 = time.monotonic()
    info = make_torrent(args.file, args.piece_size, os.path.join(args.work, "bench.torrent"))
    make_s = time.monotonic() - t0
    size = info.total_size()
    deadline = time.monotonic() + 30

    seeder = make_session(args.origin_rate, args.utp)
    seed_flags = lt.torrent_flags.seed_mode
    if args.super_seed:
        seed_flags |= lt.torrent_flags.super_seeding
    seed_params = lt.add_torrent_params()
    seed_params.ti = info
    seed_params.save_path = os.path.dirname(os.path.abspath(args.file))
    seed_params.flags = (seed_params.flags | seed_flags) & ~(
        lt.torrent_flags.auto_managed | lt.torrent_flags.paused
    )
    seed_handle = seeder.add_torrent(seed_params)

    leechers = []
    for i in range(args.leechers):
        ses = make_session(args.peer_rate, args.utp)
        d = os.path.join(args.work, "leecher-%d" % i)
        os.makedirs(d, exist_ok=True)
        params = lt.add_torrent_params()
        params.ti = info
        params.save_path = d
        params.flags &= ~lt.torrent_flags.auto_managed
        params.flags &= ~lt.torrent_flags.paused
        leechers.append({"session": ses, "handle": ses.add_torrent(params), "dir": d})

    ports = [wait_listen(seeder, deadline)]
    ports += [wait_listen(l["session"], deadline) for l in leechers]
    # Wait until every torrent is ready (seed mode: no check; leechers: empty files).
    handles = [seed_handle] + [l["handle"] for l in leechers]
    while time.monotonic() < deadline:
        states = [h.status().state for h in handles]
        if all(s in (lt.torrent_status.downloading, lt.torrent_status.seeding) for s in states):
            break
        time.sleep(0.02)
    else:
        raise SystemExit("torrents did not become ready: %r" % states)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    # What a tracker would do: tell everybody about everybody.
    for i, h in enumerate(handles):
        for j, port in enumerate(ports):
            if i != j:
                h.connect_peer(("127.0.0.1", port))

    done = {}
    timeline = []  # once a second: where the bytes came from so far
    next_sample = start
    end_deadline = start + args.timeout
    while len(done) < len(leechers) and time.monotonic() < end_deadline:
        now = time.monotonic()
        sample = now >= next_sample
        down = up = 0
        for i, l in enumerate(leechers):
            if i in done and not sample:
                continue
            st = l["handle"].status()
            down += st.total_payload_download
            up += st.total_payload_upload
            if i not in done and (st.is_seeding or st.is_finished):
                done[i] = time.monotonic() - start
        if sample:
            origin = seed_handle.status().total_payload_upload
            timeline.append([round(now - start, 3), origin, down, up, len(done)])
            next_sample += 1.0
        # Polling only measures; the transfer runs on libtorrent's threads.
        time.sleep(0.02)
    swarm_s = time.monotonic() - start

    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    seed_st = seed_handle.status()
    peers = []
    for i, l in enumerate(leechers):
        st = l["handle"].status()
        peers.append(
            {
                "peer": i,
                "done": i in done,
                "seconds": round(done.get(i, swarm_s), 3),
                "payload_down": st.total_payload_download,
                "payload_up": st.total_payload_upload,
                "path": os.path.join(l["dir"], info.files().file_path(0)),
            }
        )
    result = {
        "tool": "libtorrent",
        "version": lt.__version__,
        "transport": "utp" if args.utp else "tcp",
        "super_seed": args.super_seed,
        "file_bytes": size,
        "piece_bytes": info.piece_length(),
        "leechers": len(leechers),
        "all_done": len(done) == len(leechers),
        "swarm_s": round(max(done.values()) if len(done) == len(leechers) else swarm_s, 3),
        "origin_payload_up": seed_st.total_payload_upload,
        "origin_total_up": seed_st.total_upload,
        "torrent_make_s": round(make_s, 3),
        # CPU of the whole swarm (seeder and leechers share this process) while it ran.
        "cpu_s": round(
            cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime, 2
        ),
        "peers": peers,
        # [seconds, origin payload up, leechers' payload down, leechers' payload up, done]
        "timeline": timeline,
    }
    for l in leechers:
        l["session"].remove_torrent(l["handle"])
    seeder.remove_torrent(seed_handle)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if result["all_done"] else 1


if __name__ == "__main__":
    sys.exit(main())
