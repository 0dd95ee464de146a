"""The one base class of every error a user can cause, so callers can tell a user's mistake from a bug.

A :class:`UserError` carries one sentence that names the problem (a bad setting, an unusable file, an unknown
run). The CLI prints it as one line and exits 2; pages show it in place. Anything else that escapes is a bug:
the CLI logs its traceback and exits 1, a job ends as failed with its traceback in the log.
"""
from __future__ import annotations


class UserError(ValueError):
    """A problem with what the user asked for, phrased for the user (one sentence). A ``ValueError`` subclass so
    code that already catches ``ValueError`` keeps working."""
