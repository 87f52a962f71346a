"""What `[lsl]` in mirrorwatch.toml configures: publishing to Lab Streaming Layer.

Kept apart from the LSL code so reading the settings never loads liblsl.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_TYPES: dict[str, type] = {"publish": bool, "name": str, "wait": float, "resolve_timeout": float}


@dataclass(frozen=True, slots=True)
class LslConfig:
    """`publish` the wrists and events on every `monitor`/`assess`/`demo` (as `--lsl`);
    `name` prefixes the streams (`NAME L`, `NAME R`, `NAME events`); `wait` s to wait
    at the start for a recorder to subscribe to every stream (0: do not wait);
    `resolve_timeout` s `--source lsl:...` looks for its streams."""

    publish: bool = False
    name: str = "MirrorWatch"
    wait: float = 0.0
    resolve_timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("lsl.name must not be empty")
        if not self.wait >= 0:
            raise ValueError("lsl.wait must be >= 0")
        if not self.resolve_timeout > 0:
            raise ValueError("lsl.resolve_timeout must be > 0")

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> LslConfig:
        """From a parsed TOML table; ValueError names the key."""
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            kind = _TYPES.get(key)
            if kind is None:
                raise ValueError(f"lsl.{key}: unknown key")
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise ValueError(f"lsl.{key}: expected {kind.__name__}, got {value!r}")
            kwargs[key] = value
        return cls(**kwargs)
