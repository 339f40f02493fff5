"""The one exception the deploy command reports as a plain message (no traceback)."""

from __future__ import annotations


class DeployError(RuntimeError):
    """A deploy precondition failed; the message says what to do about it."""
