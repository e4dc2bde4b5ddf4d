"""A process's kept results (rendered markup, digests), bounded by entries and by size.

Several pages keep what they render under a key naming everything it depends on (report bodies,
step sections, template blocks, loaded digests, issue #25).  Each cache is a ``Kept``: oldest out
first while over either bound, safe to share between a worker's threads, a value larger than the
whole bound never kept.  Sizes are what the caller counts (characters of the markup it holds).
"""
from __future__ import annotations

import threading


class Kept:
    """A bounded, thread-safe mapping of kept results, oldest out first."""

    def __init__(self, max_entries: int, max_size: int | None = None):
        self.max_entries, self.max_size = max_entries, max_size
        self._entries: dict = {}  # key -> (value, size)
        self._held = 0
        self._lock = threading.Lock()

    def get(self, key, default=None):
        entry = self._entries.get(key)
        return default if entry is None else entry[0]

    def put(self, key, value, size: int = 0) -> None:
        """Keep ``value`` under ``key`` (replacing what was kept), making room first."""
        if self.max_size is not None and size > self.max_size:
            return
        with self._lock:
            stale = self._entries.pop(key, None)
            if stale is not None:
                self._held -= stale[1]
            while self._entries and (len(self._entries) >= self.max_entries
                                     or (self.max_size is not None and self._held + size > self.max_size)):
                self._held -= self._entries.pop(next(iter(self._entries)))[1]
            self._entries[key] = (value, size)
            self._held += size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._held = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        return self._held
