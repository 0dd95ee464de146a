"""Training as an instrument: pause, resume, k more steps, and a cap on steps per second, for any job and executor.

Why in the engine: a class watching a GAN learn needs to stop it mid-move, advance it one step at a time and slow it
down (as GAN Lab and the TensorFlow Playground do), whatever page started it and wherever it runs. The task asks
before each step (:meth:`JobContext.wait_turn`); the answer comes from a :class:`PaceCell`, the job's pace as three
numbers: paused (0/1), steps still allowed while paused, and the most steps per second (0: no cap). The cell lives
where the task runs and the job writes into it: fields behind a lock for a thread or a Ray actor, a shared array for a
worker process. While paused the job stays ``running`` (the status enum does not change): its snapshot says
``paused``.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

__all__ = ["PaceCell", "LocalPace", "SharedPace", "Turns"]
#: How often a paused task looks at its pace and its stop flag again (seconds).
POLL_S = 0.05


class PaceCell(Protocol):
    def read(self) -> tuple[bool, int, float]:
        """(paused, steps still allowed while paused, most steps per second or 0)."""

    def take(self) -> bool:
        """Use one allowed step; False when none is left."""

    def set(self, paused: bool | None = None, more: int = 0, rate: float | None = None) -> None:
        """Pause or resume, allow ``more`` steps, change the cap (None: leave as it is)."""


class LocalPace:
    """A pace read and written in one process (the thread executor; a Ray actor, whose job sends it changes)."""

    def __init__(self, paused: bool = False, allowed: int = 0, rate: float = 0.0):
        self._lock = threading.Lock()
        self._state = [float(paused), float(allowed), float(rate)]

    def read(self) -> tuple[bool, int, float]:
        with self._lock:
            paused, allowed, rate = self._state
        return bool(paused), int(allowed), rate

    def take(self) -> bool:
        with self._lock:
            if self._state[1] >= 1:
                self._state[1] -= 1
                return True
            return False

    def set(self, paused: bool | None = None, more: int = 0, rate: float | None = None) -> None:
        with self._lock:
            _apply(self._state, paused, more, rate)


class SharedPace(LocalPace):
    """A pace in shared memory (``multiprocessing.Array``), made before the worker is spawned: the worker reads and
    uses it, the job in the parent writes it."""

    def __init__(self, mp_context: Any):
        self._array = mp_context.Array("d", 3)   # paused, allowed, rate; with its own lock across processes

    def read(self) -> tuple[bool, int, float]:
        with self._array.get_lock():
            paused, allowed, rate = self._array[:]
        return bool(paused), int(allowed), rate

    def take(self) -> bool:
        with self._array.get_lock():
            if self._array[1] >= 1:
                self._array[1] -= 1
                return True
            return False

    def set(self, paused: bool | None = None, more: int = 0, rate: float | None = None) -> None:
        with self._array.get_lock():
            _apply(self._array, paused, more, rate)

    def reset(self) -> None:
        """Running, no steps allowed ahead, no cap: for the worker's next task."""
        with self._array.get_lock():
            self._array[:] = [0.0, 0.0, 0.0]


def _apply(state: Any, paused: bool | None, more: int, rate: float | None) -> None:
    if paused is not None:
        state[0] = float(paused)
        if not paused:
            state[1] = 0.0   # resumed: steps allowed while paused do not carry over
    if more:
        state[1] += more
    if rate is not None:
        state[2] = max(0.0, float(rate))


class Turns:
    """The task's side: wait for its turn before each step (paused, the cap), then let it go."""

    def __init__(self, cell: PaceCell, should_stop: Callable[[], bool],
                 on_hold: Callable[[], None] | None = None):
        self.cell, self._should_stop, self._on_hold = cell, should_stop, on_hold
        self._last = 0.0
        self._held = False

    def wait(self) -> bool:
        """Block until the next step may run; True when the job should stop instead."""
        while True:
            if self._should_stop():
                return True
            paused, _, rate = self.cell.read()
            if paused:
                if self.cell.take():
                    break
                if not self._held and self._on_hold is not None:
                    self._on_hold()    # e.g. send the progress and the model as they are now, for the live views
                self._held = True
                time.sleep(POLL_S)
                continue
            if rate > 0:
                wait = self._last + 1.0 / rate - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, POLL_S))
                    continue       # look at stop, pause and the cap again before going on
            break
        self._held = False
        self._last = time.monotonic()
        return False

