#!/usr/bin/env python3
"""tracker-tap.py — a TCP pass-through in front of the tracker that keeps a copy
of everything the tracker sends to its clients.

The tracker speaks plain HTTP and WebSocket without compression (it removes
permessage-deflate), and frames from server to client are not masked, so the
copy is readable text: the Metalinks, peer lists and every signal the tracker
relayed between peers. test-swarm-nat.sh greps it for addresses that a
relay-only peer must never reveal.

Usage: tracker-tap.py LISTEN_IP LISTEN_PORT TARGET_IP TARGET_PORT OUT_FILE
Prints "PORT n" once listening. One event loop, no threads.
"""

import asyncio
import sys


async def pump(reader, writer, copy):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if copy is not None:
                copy.write(data)
                copy.flush()
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main():
    listen_ip, listen_port, target_ip, target_port, out = sys.argv[1:6]
    copy = open(out, "ab", buffering=0)

    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(target_ip, int(target_port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, up_writer, None),
                             pump(up_reader, client_writer, copy))

    server = await asyncio.start_server(handle, listen_ip, int(listen_port))
    print("PORT %d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
