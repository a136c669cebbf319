"""Helpers shared by the benchmark drivers written in Python."""
import hashlib


def sha256(path):
    """Hex SHA-256 of a file, or None if it cannot be read."""
    h = hashlib.sha256()
    try:
        with open(path, "rb", buffering=0) as f:
            while True:
                b = f.read(1 << 22)
                if not b:
                    break
                h.update(b)
    except OSError:
        return None
    return h.hexdigest()
