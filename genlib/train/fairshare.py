"""Fair shares of the engine's slots between users: limits checked when work is submitted, and the order in which
waiting jobs start (round-robin between users, first-in first-out within one user).

Why round-robin and not one FIFO queue: in a class, the student who queues five runs first would otherwise hold the
slots while everyone else waits. Here the next free slot goes to the user with the fewest jobs running, ties to the
one whose last job started longest ago; a user's own jobs keep their order. The teacher is exempt from the per-user
limits (they run the demos). This policy sits in front of whatever runs the jobs (threads today), so every executor
keeps it.

==============================  =======================  ==========  ==========
limit                           environment variable     classroom   personal
==============================  =======================  ==========  ==========
jobs one user runs at once      ``GENLAB_USER_RUNNING``  1           all slots
jobs one user has waiting       ``GENLAB_USER_QUEUED``   8           200
grid points of one sweep        ``GENLAB_SWEEP_MAX``     9           25
jobs waiting on the server      ``GENLAB_QUEUE_MAX``     60          200
==============================  =======================  ==========  ==========
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol, Sequence

from ..limits import Limit, LimitError

__all__ = ["ShareLimits", "QuotaError", "check_submission", "next_fair"]


class QuotaError(LimitError):
    """A submission over a fair-share limit (one sentence naming the limit and how to change it)."""


class Queued(Protocol):
    owner_id: str
    exempt: bool


@dataclass(frozen=True)
class ShareLimits:
    running_per_user: int
    queued_per_user: int
    sweep_points: int
    queued_total: int

    @classmethod
    def for_mode(cls, classroom: bool, slots: int) -> "ShareLimits":
        """The limits in force: each environment variable when set, else the mode's default (table above)."""
        # a student's largest sweep (9 points) fits their queue: 1 running + 8 waiting
        defaults = (1, 8, 9, 60) if classroom else (max(1, slots), 200, 25, 200)
        running, queued, sweep, total = (Limit(name, env, default, "jobs", name).value()
                                         for (name, env), default in zip(_SPECS, defaults))
        return cls(running, queued, sweep, total)


_SPECS = (("running jobs per user", "GENLAB_USER_RUNNING"), ("waiting jobs per user", "GENLAB_USER_QUEUED"),
          ("sweep points", "GENLAB_SWEEP_MAX"), ("waiting jobs", "GENLAB_QUEUE_MAX"))


def check_submission(limits: ShareLimits, owner_id: str, exempt: bool, new: int, owner_unfinished: int,
                     waiting_total: int, sweep_points: int = 0) -> None:
    """Refuse (QuotaError) ``new`` jobs for ``owner_id`` that would go over a limit; say which and how to change it.

    ``owner_unfinished``: that user's jobs running or waiting now; ``waiting_total``: every user's waiting jobs."""
    if sweep_points and not exempt and sweep_points > limits.sweep_points:
        raise QuotaError(f"a sweep of {sweep_points} grid points is over the limit of {limits.sweep_points} points per "
                         f"sweep on this server; use fewer values (the teacher can raise GENLAB_SWEEP_MAX).",
                         limit="sweep points", asked=sweep_points, allowed=limits.sweep_points, env="GENLAB_SWEEP_MAX")
    if waiting_total + new > limits.queued_total:
        raise QuotaError(f"the server's queue is full ({waiting_total} jobs waiting, at most {limits.queued_total}); "
                         "try again when some have finished (GENLAB_QUEUE_MAX sets the limit).",
                         limit="waiting jobs", asked=waiting_total + new, allowed=limits.queued_total,
                         env="GENLAB_QUEUE_MAX")
    if exempt:
        return
    waiting_after = owner_unfinished + new - limits.running_per_user
    if waiting_after > limits.queued_per_user:
        allowed = limits.running_per_user + limits.queued_per_user
        raise QuotaError(f"you have {owner_unfinished} job(s) running or waiting and at most {allowed} are allowed per "
                         f"user ({limits.running_per_user} running, {limits.queued_per_user} waiting); stop one or "
                         "wait for one to finish (the teacher can raise GENLAB_USER_QUEUED).",
                         limit="waiting jobs per user", asked=owner_unfinished + new, allowed=allowed,
                         env="GENLAB_USER_QUEUED")


def next_fair(queue: Sequence[Queued], running: Counter, last_start: dict[str, int], limits: ShareLimits
              ) -> Queued | None:
    """The waiting job to start in the next free slot, or None when every waiting user is at their running limit.

    ``running``: slot-taking jobs running per owner id; ``last_start``: a counter value per owner id, larger = more
    recent (a user who never started a job comes first)."""
    best, best_key = None, None
    seen: set[str] = set()
    for job in queue:                       # the first waiting job of each user, in their own order
        if job.owner_id in seen:
            continue
        seen.add(job.owner_id)
        if not job.exempt and running[job.owner_id] >= limits.running_per_user:
            continue
        key = (running[job.owner_id], last_start.get(job.owner_id, -1))
        if best_key is None or key < best_key:
            best, best_key = job, key
    return best
