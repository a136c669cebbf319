#!/usr/bin/env python3
"""Write a Metalink 4 (RFC 5854) document for one local file.

usage: make-metalink.py FILE --name NAME --piece-length BYTES \
           --url URL [--url URL ...] [--out OUT.meta4] [--sha256-out F]

Each --url gets priority 1, 2, 3 ... in the order given (1 = most preferred).
The whole-file SHA-256 and one SHA-256 per piece are computed with hashlib in a
single pass.  The whole-file hex digest is printed on stdout (and written to
--sha256-out if given) so callers do not need to hash the file twice.
"""
import argparse
import hashlib
import os
import sys
from xml.sax.saxutils import escape, quoteattr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file")
    ap.add_argument("--name", help="file name in the Metalink (default: basename)")
    ap.add_argument("--piece-length", type=int, default=1 << 20)
    ap.add_argument("--url", action="append", default=[], required=True)
    ap.add_argument("--out", help="output .meta4 (default: stdout is the digest only)")
    ap.add_argument("--sha256-out")
    a = ap.parse_args()

    if a.piece_length <= 0:
        ap.error("--piece-length must be > 0")
    name = a.name or os.path.basename(a.file)
    size = os.path.getsize(a.file)

    whole = hashlib.sha256()
    pieces = []
    with open(a.file, "rb", buffering=0) as f:
        while True:
            block = f.read(a.piece_length)
            if not block:
                break
            whole.update(block)
            pieces.append(hashlib.sha256(block).hexdigest())
    digest = whole.hexdigest()

    if a.out:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<metalink xmlns="urn:ietf:params:xml:ns:metalink">',
            "  <generator>download-atlas bench/make-metalink.py</generator>",
            f"  <file name={quoteattr(name)}>",
            f"    <size>{size}</size>",
            f'    <hash type="sha-256">{digest}</hash>',
            f'    <pieces length="{a.piece_length}" type="sha-256">',
        ]
        lines += [f"      <hash>{h}</hash>" for h in pieces]
        lines.append("    </pieces>")
        for prio, url in enumerate(a.url, start=1):
            lines.append(f'    <url priority="{prio}">{escape(url)}</url>')
        lines += ["  </file>", "</metalink>", ""]
        tmp = a.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
        os.replace(tmp, a.out)

    if a.sha256_out:
        with open(a.sha256_out, "w", encoding="ascii") as out:
            out.write(digest + "\n")
    print(digest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
