"""Publish a session on Lab Streaming Layer: one stream per wrist and a marker stream.

A recorder (LabRecorder, or any LSL inlet) then captures the wrists and the movement
events beside EEG, EMG or video, on LSL's clock. Each wrist is a stream `NAME L` /
`NAME R` of type IMU: six double channels ax, ay, az (m/s^2), gx, gy, gz (rad/s; NaN
for an accelerometer-only wrist) at the session's nominal rate, with channel metadata
(XDF conventions, sensors/lsl_layout.py). Every sample carries its own timestamp: its
session time (which the source derived from the sensor's clock) plus the LSL time of
session time zero, so the recorder sees the sensor's timing, not the radio's.
`NAME events` (type Markers, irregular rate) carries one JSON string per onset and per
movement event, stamped at the onset: they are pushed when decided, up to a few
seconds later, so marker timestamps are not in push order.

Only the CLI creates one (pipeline/commands/lsl.py); liblsl comes with pylsl.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pylsl

from pipeline.engine.events import Event, MovementEvent, Onset
from sensors.lsl_layout import CHANNELS
from sensors.types import ImuBlock, Side


class LslPublisher:
    """Outlets for both wrists and the events of one session.

    `origin()` gives the host's monotonic clock at session time zero once the source
    knows it (live sources do), else None: then the first block anchors it, as the
    LSL time it arrived at minus its last sample's session time (for a paced replay
    that is when the sample was due).
    """

    def __init__(
        self,
        name: str,
        fs: float,
        session_id: str,
        source: str,
        origin: Callable[[], float | None] = lambda: None,
    ) -> None:
        self._origin_of = origin
        self.origin: float | None = None  # LSL time of session time zero
        self.samples = dict.fromkeys(Side, 0)
        self.markers = 0
        self._wrists = {
            side: pylsl.StreamOutlet(_wrist_info(name, side, fs, session_id, source))
            for side in Side
        }
        info = pylsl.StreamInfo(
            f"{name} events",
            "Markers",
            1,
            pylsl.IRREGULAR_RATE,
            "string",
            f"mirrorwatch-{session_id}-events",
        )
        _describe(info, session_id, source)
        self._events = pylsl.StreamOutlet(info)

    def wait_for_recorder(self, timeout: float) -> bool:
        """Wait up to `timeout` s until every stream has a consumer; whether they all do."""
        deadline = time.monotonic() + timeout
        outlets = [*self._wrists.values(), self._events]
        return all(o.wait_for_consumers(max(0.0, deadline - time.monotonic())) for o in outlets)

    def block(self, block: ImuBlock) -> None:
        """Push one wrist's samples, each with its own timestamp."""
        if not len(block):
            return
        origin = self._anchor(float(block.t[-1]))
        gyr = block.gyr if block.gyr is not None else np.full_like(block.acc, math.nan)
        values = np.ascontiguousarray(np.column_stack((block.acc, gyr)))
        self._wrists[block.side].push_chunk(values, (block.t + origin).tolist())
        self.samples[block.side] += len(block)

    def event(self, event: Event) -> None:
        """An onset or a movement event as a JSON marker, stamped at the onset."""
        if isinstance(event, MovementEvent):
            self._push(event.to_json(), event.t_onset)
        elif isinstance(event, Onset):
            doc = {"type": "onset", "side": event.side.value, "t": round(event.t, 4)}
            self._push(json.dumps(doc | {"detected_at": round(event.detected_at, 4)}), event.t)

    def marker(self, doc: dict[str, Any], t: float) -> None:
        """Any other JSON marker (an assessment task starting), at session time `t`."""
        self._push(json.dumps(doc), t)

    def close(self) -> None:
        """Withdraw the streams: recorders see them end."""
        self._wrists.clear()
        del self._events

    def _push(self, text: str, t: float) -> None:
        self._events.push_sample([text], t + self._anchor(t))
        self.markers += 1

    def _anchor(self, t_last: float) -> float:
        if self.origin is None:
            host = self._origin_of()
            now = pylsl.local_clock()
            # LSL's clock and the host's monotonic clock tick alike; only their zeros may differ
            self.origin = now - t_last if host is None else host + (now - time.monotonic())
        return self.origin


def _wrist_info(name: str, side: Side, fs: float, session_id: str, source: str) -> Any:
    info = pylsl.StreamInfo(
        f"{name} {side.value}",
        "IMU",
        len(CHANNELS),
        fs,
        "double64",  # the session's float64 samples, unrounded: an XDF gives the same events
        f"mirrorwatch-{session_id}-{side.value}",
    )
    channels = info.desc().append_child("channels")
    for label, unit, kind in CHANNELS:
        channel = channels.append_child("channel")
        channel.append_child_value("label", label)
        channel.append_child_value("unit", unit)
        channel.append_child_value("type", kind)
    _describe(info, session_id, source)
    info.desc().child("mirrorwatch").append_child_value("side", side.value)
    return info


def _describe(info: Any, session_id: str, source: str) -> None:
    desc = info.desc()
    acquisition = desc.append_child("acquisition")
    acquisition.append_child_value("manufacturer", "MirrorWatch")
    acquisition.append_child_value("model", source)
    ours = desc.append_child("mirrorwatch")
    ours.append_child_value("session", session_id)
    ours.append_child_value("source", source)
