"""What `[ble]` in mirrorwatch.toml configures: the paired wrists and the link timing.

Kept apart from sensors/ble.py so reading the settings never imports bleak.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from sensors.config_table import Table, TableError
from sensors.protocols.mirrorwatch import ODR_HZ  # the rates a config may ask for

# a BlueZ/Windows MAC address, or the per-host UUID CoreBluetooth gives a peripheral
_ADDRESS = re.compile(
    r"^([0-9A-F]{2}:){5}[0-9A-F]{2}$|^[0-9A-F]{8}-([0-9A-F]{4}-){3}[0-9A-F]{12}$", re.IGNORECASE
)


def check_address(text: str) -> str:
    """The address in canonical (upper case) form; ValueError if it is not one."""
    if not _ADDRESS.match(text):
        raise ValueError(f"not a Bluetooth address: {text!r}")
    return text.upper()


@dataclass(frozen=True, slots=True)
class BleConfig:
    """The paired wrists (addresses, None until `mirrorwatch pair`) and link timing.

    `odr_hz` requested sample rate; `stall_timeout` s without a notification before the
    watchdog reconnects; `battery_period` s between battery reads; `scan_timeout` s one
    search for a missing wrist lasts; `backoff_max` s longest wait between attempts (it
    bounds how late a returning wrist is noticed); `connect_attempts` per connection, for
    bleak-retry-connector; `queue_size` notifications buffered between the callback and
    the decoder (~25 s of two wrists at 200 Hz).
    """

    left: str | None = None
    right: str | None = None
    odr_hz: int = 200
    stall_timeout: float = 3.0
    battery_period: float = 60.0
    scan_timeout: float = 10.0
    backoff_max: float = 2.0
    connect_attempts: int = 3
    queue_size: int = 1024

    def __post_init__(self) -> None:
        for name in ("left", "right"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_address(value))
        if self.left is not None and self.left == self.right:
            raise ValueError("left and right must be different sensors")
        if self.odr_hz not in ODR_HZ:
            raise ValueError(f"odr_hz must be one of {ODR_HZ}, got {self.odr_hz}")
        for name in ("stall_timeout", "battery_period", "scan_timeout", "backoff_max"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.connect_attempts < 1 or self.queue_size < 1:
            raise ValueError("connect_attempts and queue_size must be >= 1")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BleConfig:
        """From a parsed TOML table; TableError (a ValueError) names the key."""
        t = Table(values, "ble", (f.name for f in fields(cls)))
        t.done()
        d = cls()
        kwargs: dict[str, Any] = {
            "left": t.optional_string("left", check=check_address),
            "right": t.optional_string("right", check=check_address),
            "odr_hz": t.choice("odr_hz", ODR_HZ, d.odr_hz),
            "stall_timeout": t.number("stall_timeout", d.stall_timeout, low=0, strict=True),
            "battery_period": t.number("battery_period", d.battery_period, low=0, strict=True),
            "scan_timeout": t.number("scan_timeout", d.scan_timeout, low=0, strict=True),
            "backoff_max": t.number("backoff_max", d.backoff_max, low=0, strict=True),
            "connect_attempts": t.integer("connect_attempts", low=1, default=d.connect_attempts),
            "queue_size": t.integer("queue_size", low=1, default=d.queue_size),
        }
        try:
            return cls(**kwargs)
        except ValueError as e:  # what no single key shows: the same sensor on both wrists
            raise TableError(f"ble: {e}") from None

    def to_mapping(self) -> dict[str, str | int | float]:
        """The non-default values, for writing back to the config file."""
        defaults = BleConfig()
        out: dict[str, str | int | float] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value != getattr(defaults, f.name):
                out[f.name] = value
        return out
