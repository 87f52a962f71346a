"""The verbs of `mirrorwatch`, one module per group; each module has `register(verbs)`.

A handler takes the parsed arguments (with `settings` resolved) and returns the
exit code; it raises UsageError, ConfigError, RecordingError or SpoolError for
anything the user can fix, which the CLI turns into one line and exit 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """The user asked for something that cannot be done as asked."""


def speed(text: str) -> float | None:
    """argparse type for --speed: a multiple of real time, or 'max' (None)."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("speed must be > 0")
    return value
