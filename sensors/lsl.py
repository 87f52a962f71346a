"""Two existing Lab Streaming Layer streams as the wrists (`--source lsl:NAME_L,NAME_R`).

Each stream is one wrist: 3 channels (acceleration) or 6 or more (then angular rate
too), laid out and scaled as sensors/lsl_layout.py reads its channel metadata; a
regular nominal rate. liblsl maps each sample's timestamp onto this host's LSL clock
(clock synchronisation with the sender); the session clock is that time minus the LSL
time when the source started, so the sender's timestamps (from its sensor's clock,
if it is a good sender) are kept, not replaced by arrival times. A gap longer than one
and a half sample periods counts its missing samples as `lost`. A stream that goes
away ends that wrist; the source ends when both have.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pylsl

from sensors.lsl_layout import Layout, layout
from sensors.types import ImuBlock, Side

POLL_S = 0.01  # s between pulls: what a block waits at most beyond its arrival
_OPEN_TIMEOUT_S = 10.0
_NAMESAKE_WAIT_S = 0.3


@dataclass(frozen=True, slots=True)
class Wrist:
    """One resolved stream: its inlet, layout and nominal rate (Hz)."""

    name: str
    inlet: Any
    layout: Layout
    fs: float


def open_wrists(names: tuple[str, str], timeout: float) -> dict[Side, Wrist]:
    """Find both streams by name within `timeout` s and subscribe; ValueError says why not."""
    wrists: dict[Side, Wrist] = {}
    for side, name in zip(Side, names, strict=True):
        found = pylsl.resolve_byprop("name", name, 1, timeout)
        if not found:
            raise ValueError(f"no LSL stream named {name!r} found within {timeout:g} s")
        # answers come within milliseconds on a LAN: a short second look finds namesakes
        found = pylsl.resolve_byprop("name", name, 2, _NAMESAKE_WAIT_S) or found
        if len(found) > 1:
            ids = ", ".join(repr(i.source_id()) for i in found)
            raise ValueError(f"several LSL streams named {name!r} (source ids {ids})")
        inlet = pylsl.StreamInlet(
            found[0],
            max_buflen=360,
            recover=False,  # a stream that went away ends its wrist; the source says so
            processing_flags=pylsl.proc_clocksync | pylsl.proc_monotonize,
        )
        info = inlet.info(_OPEN_TIMEOUT_S)  # the full header, with channel metadata
        if info.channel_format() in (pylsl.cf_string,):
            raise ValueError(f"LSL stream {name!r} carries strings, not samples")
        fs = float(info.nominal_srate())
        if not fs > 0:
            raise ValueError(f"LSL stream {name!r} has no regular rate (nominal rate {fs:g})")
        labels, units = _channels(info)
        try:
            wrists[side] = Wrist(name, inlet, layout(info.channel_count(), labels, units), fs)
        except ValueError as e:
            raise ValueError(f"LSL stream {name!r}: {e}") from None
    return wrists


class LslSource:
    """Both wrists' streams as a Source; session time zero is when `blocks()` starts.

    `origin` is then the host's monotonic clock (LSL's clock, on Linux) at time zero;
    `state[side]` is "waiting", "streaming" or "ended".
    """

    def __init__(self, wrists: dict[Side, Wrist]) -> None:
        self._wrists = wrists
        self.origin: float | None = None
        self.state = dict.fromkeys(Side, "waiting")
        self.lost = dict.fromkeys(Side, 0)

    async def blocks(self) -> AsyncIterator[ImuBlock]:
        for wrist in self._wrists.values():
            await asyncio.to_thread(wrist.inlet.open_stream, _OPEN_TIMEOUT_S)
        self.origin = pylsl.local_clock()
        last = dict.fromkeys(Side, -math.inf)
        seq = dict.fromkeys(Side, 0)
        try:
            while any(s != "ended" for s in self.state.values()):
                for side, wrist in self._wrists.items():
                    if self.state[side] == "ended":
                        continue
                    for block in self._pull(side, wrist, last[side], seq[side]):
                        last[side] = float(block.t[-1])
                        seq[side] += 1
                        yield block
                await asyncio.sleep(POLL_S)
        finally:
            for wrist in self._wrists.values():
                wrist.inlet.close_stream()

    def _pull(self, side: Side, wrist: Wrist, last: float, seq: int) -> list[ImuBlock]:
        """What arrived since the last pull, one block per stretch without a gap."""
        try:
            values, stamps = wrist.inlet.pull_chunk(timeout=0.0, max_samples=4096)
        except pylsl.util.LostError:
            self.state[side] = "ended"
            return []
        if not stamps:
            return []
        self.state[side] = "streaming"
        assert self.origin is not None
        t = np.asarray(stamps, dtype=np.float64) - self.origin
        data = np.asarray(values, dtype=np.float64).reshape(len(stamps), -1)
        # samples from before the session started, or not after the one before, are dropped
        keep = t > max(last, 0.0) if math.isfinite(last) else t >= 0.0
        keep &= np.concatenate(([True], np.diff(t) > 0))
        if not keep.any():
            return []
        t, data = t[keep], data[keep]
        # periods from each sample to the next, the first from the previous pull's last
        steps = np.diff(t, prepend=last if math.isfinite(last) else t[0]) * wrist.fs
        starts = [0, *np.flatnonzero(steps[1:] > 1.5) + 1] if len(t) > 1 else [0]
        blocks = []
        for i, (a, b) in enumerate(itertools.pairwise([*starts, len(t)])):
            lost = round(float(steps[a])) - 1 if steps[a] > 1.5 else 0
            self.lost[side] += lost
            acc, gyr = wrist.layout.split(data[a:b])
            blocks.append(ImuBlock(side, t[a:b], acc, gyr, seq=seq + i, lost=lost))
        return blocks


def _channels(info: Any) -> tuple[list[str], list[str]]:
    """Channel labels and units from the stream's metadata (empty lists if it has none)."""
    labels: list[str] = []
    units: list[str] = []
    channel = info.desc().child("channels").child("channel")
    while not channel.empty():
        labels.append(str(channel.child_value("label")))
        units.append(str(channel.child_value("unit")))
        channel = channel.next_sibling("channel")
    return labels, units
