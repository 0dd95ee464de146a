"""One in-process LRU cache for GenLab's expensive, repeatable computations (metric references, UMAP views,
simulated trajectories), and the content fingerprint that keys them.

Why not ``functools.lru_cache``: the keys are arrays (hashed by content here, so equal data built twice share an
entry), the values can be large (a byte budget evicts by size), and the pages call from several threads at once
(one lock guards the table, and concurrent callers of the same missing key wait for one build instead of each
building it).

Example:
    >>> from genlib.cache import LRUCache
    >>> squares = LRUCache(max_entries=2)
    >>> squares.get_or_build(3, lambda: 3 * 3)
    9
    >>> squares.get_or_build(3, lambda: -1)   # a hit: the builder is not called
    9
    >>> squares.info()["hits"], squares.info()["misses"]
    (1, 1)
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import Future
from typing import Any, Callable, Generic, Hashable, TypeVar

import numpy as np

V = TypeVar("V")


def array_digest(x: np.ndarray | None) -> str:
    """Content hash of an array (bytes, shape and dtype): equal arrays give equal digests, even as new objects."""
    if x is None:
        return "-"
    arr = np.ascontiguousarray(x)
    h = hashlib.blake2b(arr.tobytes(), digest_size=16)
    h.update(repr((arr.shape, arr.dtype.str)).encode())
    return h.hexdigest()


class LRUCache(Generic[V]):
    """A thread-safe least-recently-used cache with an entry limit and an optional byte budget.

    Values must not be None (None means "not cached").

    Arguments:
        max_entries: at most this many values are kept.
        max_bytes: also evict (oldest first) while the values' total ``nbytes`` exceeds this; the newest entry
            is always kept, however large.
        size_of: how to measure a value for ``max_bytes`` (default: its ``nbytes`` attribute, else 0).
    """

    def __init__(self, max_entries: int, max_bytes: int | None = None,
                 size_of: Callable[[Any], int] | None = None):
        self.max_entries = int(max_entries)
        self.max_bytes = max_bytes
        self._size_of = size_of or (lambda v: int(getattr(v, "nbytes", 0)))
        self._data: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, Future] = {}  # key → the build in progress (one per key)
        self._hits = self._misses = 0

    def get(self, key: Hashable) -> V | None:
        """The value under ``key`` (now the most recently used), or None; counts a hit or a miss."""
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self._misses += 1
                return None
            self._data.move_to_end(key)
            self._hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            self._evict()

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        """The cached value, or ``build()`` stored and returned. Concurrent callers of one missing key build once:
        the others wait for that build and get its value (or its exception; nothing is cached then)."""
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
                self._hits += 1
                return value
            self._misses += 1
            pending = self._building.get(key)
            owner = pending is None
            if owner:
                pending = self._building[key] = Future()
        if not owner:
            return pending.result()
        try:
            value = build()
        except BaseException as exc:
            with self._lock:
                self._building.pop(key, None)
            pending.set_exception(exc)
            raise
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            self._evict()
            self._building.pop(key, None)
        pending.set_result(value)
        return value

    def clear(self) -> None:
        """Forget every value and reset the counters."""
        with self._lock:
            self._data.clear()
            self._hits = self._misses = 0

    def info(self) -> dict[str, int]:
        """Counters for pages and benchmarks: hits, misses, current size and capacity."""
        with self._lock:
            return {"hits": self._hits, "misses": self._misses, "size": len(self._data), "maxsize": self.max_entries}

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def _evict(self) -> None:  # caller holds the lock
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)
        if self.max_bytes is not None:
            while len(self._data) > 1 and sum(self._size_of(v) for v in self._data.values()) > self.max_bytes:
                self._data.popitem(last=False)
