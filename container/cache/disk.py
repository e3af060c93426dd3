"""The local tier: a byte-bounded least-recently-used store on disk (diskcache).

diskcache keeps the index in SQLite and every entry in its own file (`disk_min_file_size=0`, so a
damaged entry is one damaged file, and large images never bloat the database). Its volume - entry
files plus the SQLite database - is held at or under SDXL_CACHE_MAX_BYTES after every write: `set`
evicts the least recently used entry when the bound is reached (`cull_limit=1`: one out, one in, as
entries of one deployment are of similar size), and should that not suffice, `cull()` evicts more,
ten at a time (diskcache's fixed step), until the volume is under the bound. A read marks the entry
used (one SQLite update).
"""

from __future__ import annotations

from pathlib import Path

import diskcache

LOCK_TIMEOUT_S = 1.0  # SQLite busy wait; beyond it the lookup is a miss, never a stalled request


class DiskStore:
    name = "disk"
    local = True

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._cache = diskcache.Cache(
            str(directory),
            timeout=LOCK_TIMEOUT_S,
            size_limit=max_bytes,
            eviction_policy="least-recently-used",
            cull_limit=1,
            disk_min_file_size=0,
            statistics=False,
        )

    def get(self, key: str) -> bytes | None:
        value = self._cache.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, key: str, blob: bytes) -> None:
        if len(blob) > self.max_bytes // 2:  # it would evict (nearly) everything else
            return
        self._cache.set(key, blob)
        if self._cache.volume() > self.max_bytes:
            self._cache.cull()

    def delete(self, key: str) -> None:
        self._cache.delete(key)

    def volume(self) -> int:
        """Bytes on disk as diskcache counts them: entry files plus the SQLite database."""
        return int(self._cache.volume())

    def close(self) -> None:
        self._cache.close()
