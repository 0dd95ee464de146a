"""genlib.cache: the one LRU cache behind the metric references, UMAP views and simulated trajectories."""
from __future__ import annotations

import threading

import numpy as np

from conftest import SAFETY_TIMEOUT, wait_until
from genlib.cache import LRUCache, array_digest


def test_least_recently_used_entry_goes_first() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1          # "a" is now the most recent
    cache.put("c", 3)                   # evicts "b"
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert cache.info() == {"hits": 3, "misses": 1, "size": 2, "maxsize": 2}


def test_byte_budget_evicts_oldest_but_keeps_the_newest() -> None:
    cache: LRUCache[np.ndarray] = LRUCache(max_entries=10, max_bytes=1000)
    cache.put(1, np.zeros(100))         # 800 bytes
    cache.put(2, np.zeros(100))         # 1600 in all: the first goes
    assert cache.get(1) is None and cache.get(2) is not None
    cache.put(3, np.zeros(1000))        # larger than the budget alone: kept, everything older goes
    assert len(cache) == 1 and cache.get(3) is not None


def test_concurrent_callers_of_one_key_build_once() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=4)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def build() -> int:
        calls.append(1)
        started.set()
        release.wait(SAFETY_TIMEOUT)
        return 42

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(cache.get_or_build("k", build)))
    first.start()
    assert started.wait(SAFETY_TIMEOUT)
    second = threading.Thread(target=lambda: results.append(cache.get_or_build("k", build)))
    second.start()
    # Release the build only once the second caller has missed the key (its miss is counted before it waits for
    # the build in progress), so the two calls really overlap, on any machine.
    wait_until(lambda: cache.info()["misses"] == 2, what="the second caller's miss")
    release.set()
    first.join(SAFETY_TIMEOUT)
    second.join(SAFETY_TIMEOUT)
    assert results == [42, 42] and len(calls) == 1


def test_a_failed_build_is_not_cached_and_can_be_retried() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=4)

    def boom() -> int:
        raise RuntimeError("no")

    try:
        cache.get_or_build("k", boom)
    except RuntimeError:
        pass
    assert cache.get_or_build("k", lambda: 7) == 7


def test_digest_is_by_content_shape_and_dtype() -> None:
    a = np.arange(6.0)
    assert array_digest(a) == array_digest(a.copy())
    assert array_digest(a) != array_digest(a.reshape(2, 3))
    assert array_digest(a) != array_digest(a.astype(np.float32))
    assert array_digest(None) == "-"


def test_a_waiter_gets_the_builders_exception_and_nothing_is_cached() -> None:
    cache: LRUCache[int] = LRUCache(max_entries=4)
    started, release = threading.Event(), threading.Event()

    def failing() -> int:
        started.set()
        release.wait(SAFETY_TIMEOUT)
        raise RuntimeError("the build failed")

    errors: list[str] = []

    def call(builder) -> None:
        try:
            cache.get_or_build("k", builder)
        except RuntimeError as exc:
            errors.append(str(exc))

    first = threading.Thread(target=call, args=(failing,))
    first.start()
    assert started.wait(SAFETY_TIMEOUT)
    second = threading.Thread(target=call, args=(lambda: 99,))   # arrives during the failing build: waits for it
    second.start()
    wait_until(lambda: cache.info()["misses"] == 2, what="the second caller's miss")  # it now waits on the build
    release.set()
    first.join(SAFETY_TIMEOUT)
    second.join(SAFETY_TIMEOUT)
    assert errors == ["the build failed", "the build failed"] and len(cache) == 0
    assert cache.get_or_build("k", lambda: 5) == 5                # a later call builds afresh
