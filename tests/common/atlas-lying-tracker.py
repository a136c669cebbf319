#!/usr/bin/env python3
"""atlas-lying-tracker.py — a tracker that lies, for the fault tests.

It stands in front of a real atlas-tracker (--upstream HOST:PORT) and passes
everything through, HTTP API and WebSocket peer channel, except what its
--mode changes:

  fingerprint  peer ids in "peers" lists and in relayed signals' "from" are
               replaced by other, well-formed ids (mapped back on the way up,
               so signaling still reaches the real peer): every peer is told
               a fingerprint the other side's certificate does not have.
  ghosts       every "peers" list gets peers that do not exist.
  garbage      after each "peers" message the client also gets small
               malformed ones: not JSON, wrong types, an unknown type, an
               "assign" it never asked for, a bad signal, two objects.
  oversized    after each "peers" message: a binary frame, a 100 KB text
               frame and a 425 KB peers list of 5000 ids (the protocol's
               limit is 64 KiB; libsoup cuts frames over 128 KiB).
  metalink     Metalinks served by GET /api/v1/entries/ID/metalink carry a
               different whole-file sha-256 (piece hashes untouched).
  none         changes nothing.

Prints "PORT <n>" on stdout once listening.  Standard library only.
"""
import argparse
import asyncio
import hashlib
import json
import os
import re
import struct
import sys

MODE = "none"
UPSTREAM = ("127.0.0.1", 0)
# real peer id -> fake one and back, for the fingerprint mode
FAKE = {}
REAL = {}


def fake_id(real):
    if real not in FAKE:
        digest = hashlib.sha256(("lie:" + real).encode()).hexdigest()
        FAKE[real] = "sha256:" + digest
        REAL[FAKE[real]] = real
    return FAKE[real]


def ghost_ids(n, salt):
    return ["sha256:" + hashlib.sha256(f"ghost:{salt}:{i}".encode()).hexdigest() for i in range(n)]


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    return head


def header(head, name):
    m = re.search(rb"(?im)^" + name.encode() + rb":\s*(.*?)\r$", head)
    return m.group(1).decode() if m else None


async def read_frame(reader):
    """One WebSocket frame: (fin, opcode, payload)."""
    b0, b1 = await reader.readexactly(2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", await reader.readexactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", await reader.readexactly(8))[0]
    mask = await reader.readexactly(4) if b1 & 0x80 else None
    payload = await reader.readexactly(length)
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return bool(b0 & 0x80), b0 & 0x0F, payload


def frame(opcode, payload, masked, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if masked:
        mask = os.urandom(4)
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def lie_down(message):
    """Tracker -> client: the text frames to send instead of @message."""
    try:
        obj = json.loads(message)
    except ValueError:
        return [(1, message)]
    kind = obj.get("type")
    out = []
    if MODE == "fingerprint":
        if kind == "peers":
            for p in obj.get("peers", []):
                p["peer_id"] = fake_id(p["peer_id"])
        elif kind == "signal" and "from" in obj:
            obj["from"] = fake_id(obj["from"])
    elif MODE == "ghosts" and kind == "peers":
        pieces = obj["peers"][0]["pieces"] if obj.get("peers") else None
        for pid in ghost_ids(8, obj.get("entry", "")):
            ghost = {"peer_id": pid, "complete": True}
            if pieces is not None:
                ghost["pieces"] = pieces
            obj["peers"].append(ghost)
    out.append((1, json.dumps(obj, separators=(",", ":")).encode()))
    entry = obj.get("entry", "0" * 64).encode()
    if MODE == "garbage" and kind == "peers":
        out += [
            (1, b"{not json"),
            (1, b'{"type":"peers","entry":42,"peers":{"a":1}}'),
            (1, b'{"type":"welcome","version":"one","peer_id":null}'),
            (1, b'{"type":"no-such-type","x":[1,2,3]}'),
            (1, b'{"type":"assign","entries":[{"entry":"' + entry
             + b'","id":1,"name":"x","piece_count":3,"piece_length":1,"pieces":"//8="}]}'),
            (1, b'{"type":"signal","from":"sha256:zz","entry":"' + entry
             + b'","session":"s","kind":"offer","ufrag":"\\u0000","pwd":""}'),
            (1, b"[]"),
            (1, b'{"type":"error","code":"peer-gone"}'),
            (1, b'{"type":"peers"}{"type":"peers"}'),
        ]
    if MODE == "oversized" and kind == "peers":
        out += [
            (2, b"\x00\x01binary\xff"),
            (1, b'{"type":"peers","entry":"' + entry + b'","peers":"' + b"A" * 100000 + b'"}'),
            (1, json.dumps({"type": "peers", "entry": entry.decode(),
                            "peers": [{"peer_id": p, "complete": True}
                                      for p in ghost_ids(5000, "many")]}).encode()),
        ]
    return out


def lie_up(message):
    """Client -> tracker."""
    if MODE != "fingerprint":
        return message
    try:
        obj = json.loads(message)
    except ValueError:
        return message
    if obj.get("type") == "signal" and obj.get("to") in REAL:
        obj["to"] = REAL[obj["to"]]
        return json.dumps(obj, separators=(",", ":")).encode()
    return message


async def pump(reader, writer, masked, rewrite):
    try:
        while True:
            fin, opcode, payload = await read_frame(reader)
            if opcode == 1 and fin:
                for op, data in rewrite(payload):
                    writer.write(frame(op, data, masked))
            else:  # control frames and fragments pass unchanged
                writer.write(frame(opcode, payload, masked, fin))
            await writer.drain()
            if opcode == 8:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


def lie_metalink(body):
    """The first sha-256 <hash> (the whole file's; piece hashes are in <pieces>)."""
    def swap(m):
        return m.group(1) + hashlib.sha256(b"not " + m.group(2)).hexdigest().encode() + m.group(3)
    return re.sub(rb'(<hash type="sha-256">)([0-9a-f]{64})(</hash>)', swap, body, count=1)


async def handle(creader, cwriter):
    try:
        head = await read_head(creader)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        cwriter.close()
        return
    ureader, uwriter = await asyncio.open_connection(*UPSTREAM)
    upgrade = (header(head, "Upgrade") or "").lower() == "websocket"
    uwriter.write(head)
    if upgrade:
        await uwriter.drain()
        cwriter.write(await read_head(ureader))
        await cwriter.drain()
        await asyncio.gather(
            pump(creader, uwriter, True, lambda p: [(1, lie_up(p))]),
            pump(ureader, cwriter, False, lie_down))
        return
    length = int(header(head, "Content-Length") or 0)
    if length:
        uwriter.write(await creader.readexactly(length))
    await uwriter.drain()
    response = await ureader.read()  # the tracker closes every response
    uwriter.close()
    path = head.split(b" ", 2)[1]
    if MODE == "metalink" and re.match(rb"^/api/v1/entries/\d+/metalink$", path):
        rhead, _, body = response.partition(b"\r\n\r\n")
        body = lie_metalink(body)
        rhead = re.sub(rb"(?im)^Content-Length:.*$", b"Content-Length: %d" % len(body), rhead)
        response = rhead + b"\r\n\r\n" + body
    cwriter.write(response)
    await cwriter.drain()
    cwriter.close()


async def main():
    global MODE, UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--mode", default="none",
                        choices=["none", "fingerprint", "ghosts", "garbage", "oversized", "metalink"])
    args = parser.parse_args()
    MODE = args.mode
    host, port = args.upstream.rsplit(":", 1)
    UPSTREAM = (host, int(port))
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
