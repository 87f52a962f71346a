"""What `[lsl]` in mirrorwatch.toml configures: publishing to Lab Streaming Layer.

Kept apart from the LSL code so reading the settings never loads liblsl.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sensors.config_table import Table


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
    def from_mapping(cls, values: Mapping[str, Any]) -> LslConfig:
        """From a parsed TOML table; TableError (a ValueError) names the key."""
        t = Table(values, "lsl", (f.name for f in fields(cls)))
        t.done()
        d = cls()
        return cls(
            publish=t.boolean("publish", d.publish),
            name=t.string("name", d.name),
            wait=t.number("wait", d.wait, low=0),
            resolve_timeout=t.number("resolve_timeout", d.resolve_timeout, low=0, strict=True),
        )
