"""Typed reading of one parsed TOML table; every mistake is one line naming its key.

One pattern for every TOML file MirrorWatch reads: `mirrorwatch.toml` ([ble] and [lsl]
here in sensors/, [influx], [spool] and the top level in pipeline/settings.py) and the
assessment protocol files (pipeline/workflows/assessment/protocol.py). A `Table` hands
out each key as the type asked for, checks its range, and raises `TableError` as
`<where>.<key>: <what is wrong>, got <value>`; a key nobody asked for is an error, and
one that is a typo of a known key says which (`perod: unknown key; did you mean
`period`?`). The caller that knows the file puts its name in front ("FILE: ...").

It lives at the bottom of the package graph (sensors/ imports nothing from pipeline/)
so that both sides can use it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, TypeVar

__all__ = ["Table", "TableError", "typo_hint"]

T = TypeVar("T")
_CUTOFF = 0.6  # difflib's similarity for "did you mean": perod ~ period, colour !~ rest


def typo_hint(key: str, known: Iterable[str]) -> str:
    """The hint for a key that looks like a typo of a known key k ("; did you mean
    `k`?"), else an empty string."""
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=_CUTOFF)
    return f"; did you mean `{close[0]}`?" if close else ""


class TableError(ValueError):
    """A value or key of a TOML table that is wrong; `str(e)` names the key."""


class Table:
    """Typed access to one TOML table; errors name `where` and the key.

    `where` names the table ("ble", "FILE: task[2]"; empty for a file's top level) and
    `sep` joins it to a key ("." for tables, ": " after a file's name). `known` is every
    key this table may have: the others are unknown, and typos of the known ones.
    """

    def __init__(
        self, values: Mapping[str, Any], where: str, known: Iterable[str], *, sep: str = "."
    ) -> None:
        self._t = values
        self._where = where
        self._sep = sep
        self._known = frozenset(known)

    def __contains__(self, key: object) -> bool:
        return key in self._t

    def key(self, key: str) -> str:
        """`key` as errors name it."""
        return f"{self._where}{self._sep}{key}" if self._where else key

    def error(self, key: str, problem: str) -> TableError:
        """An error about `key`, for the checks only the caller can make."""
        return TableError(f"{self.key(key)}: {problem}")

    def _missing(self, key: str) -> TableError:
        """A missing key, or, when it is a typo of this key, the typo named."""
        typos = [k for k in self._t if k not in self._known]
        close = difflib.get_close_matches(key, typos, n=1, cutoff=_CUTOFF)
        if close:
            return self.error(close[0], f"unknown key; did you mean `{key}`?")
        return self.error(key, "missing")

    def _get(self, key: str, default: Any) -> Any:
        v = self._t.get(key, default)
        if v is None:
            raise self._missing(key)
        return v

    def string(
        self,
        key: str,
        default: str | None = None,
        *,
        empty: bool = False,
        check: Callable[[str], str] | None = None,
    ) -> str:
        """A string, stripped; non-empty unless `empty`. `check` may refine it: its
        ValueError becomes one naming the key."""
        v = self._get(key, default)
        if not isinstance(v, str) or not (empty or v.strip()):
            kind = "a string" if empty else "a non-empty string"
            raise self.error(key, f"expected {kind}, got {v!r}")
        if check is None:
            return v.strip()
        try:
            return check(v.strip())
        except ValueError as e:
            raise self.error(key, str(e)) from None

    def optional_string(self, key: str, check: Callable[[str], str] | None = None) -> str | None:
        """A non-empty string (see `string`), or None when the key is absent."""
        return self.string(key, check=check) if key in self._t else None

    def number(
        self,
        key: str,
        default: float | None,
        *,
        low: float | None = None,
        strict: bool = False,
    ) -> float:
        """A finite number >= `low` (> `low` when `strict`); integers are taken as floats."""
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise self.error(key, f"expected a number, got {v!r}")
        if low is not None and strict and not v > low:
            raise self.error(key, f"must be > {low:g}, got {v!r}")
        if low is not None and not v >= low:
            raise self.error(key, f"must be >= {low:g}, got {v!r}")
        return float(v)

    def share(self, key: str, default: float) -> float:
        """A share in [0, 1]: 0.3, not 30, for 30 %."""
        v = self.number(key, default, low=0.0)
        if v > 1.0:
            raise self.error(key, f"a share must be in [0, 1] (0.3 for 30%), got {v:g}")
        return v

    def integer(
        self, key: str, *, low: int, high: int | None = None, default: int | None = None
    ) -> int:
        """A whole number in [low, high] (no upper bound when `high` is None)."""
        v = self._get(key, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(key, f"expected a whole number, got {v!r}")
        if v < low or (high is not None and v > high):
            span = f">= {low}" if high is None else f"{low}-{high}"
            raise self.error(key, f"must be {span}, got {v!r}")
        return v

    def boolean(self, key: str, default: bool) -> bool:
        v = self._t.get(key, default)
        if not isinstance(v, bool):
            raise self.error(key, f"expected true or false, got {v!r}")
        return v

    def choice(self, key: str, options: Collection[T], default: T | None = None) -> T:
        """One of `options`, of the same type (200.0 is no rate of 200 Hz, true no 1)."""
        v = self._get(key, default)
        if not any(type(o) is type(v) and o == v for o in options):
            names = ", ".join(str(o) for o in options)
            raise self.error(key, f"expected one of {names}, got {v!r}")
        return next(o for o in options if o == v)

    def table(self, key: str) -> dict[str, Any]:
        """A sub-table (empty when absent)."""
        v = self._t.get(key, {})
        if not isinstance(v, dict):
            raise self.error(key, "must be a table")
        return v

    def done(self, known: Iterable[str] | None = None) -> None:
        """Raise for the first key not in `known` (default: the table's), with a hint."""
        allowed = self._known if known is None else frozenset(known)
        unknown = sorted(set(self._t) - allowed)
        if unknown:
            raise self.error(unknown[0], f"unknown key{typo_hint(unknown[0], allowed)}")
