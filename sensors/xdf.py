"""Two wrist streams of an XDF file (what LabRecorder writes) as a Recording.

pyxdf reads the file and applies the recorder's clock offsets, so both wrists (and
whatever else was recorded) are on the recording host's LSL clock; timestamps are
taken as recorded, not dejittered: a good sender's come from its sensor's clock.
Session time zero is the earlier of the two streams' first samples. The wrists are
the streams named with `--streams NAME_L,NAME_R`, else the two MirrorWatch published
(their metadata names the side), else the two IMU or accelerometer streams whose
names end in L/R or left/right. Channels are read as sensors/lsl_layout.py says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from sensors.lsl_layout import layout
from sensors.recording import (
    ACC_MAX,
    GYR_MAX,
    SKIP_DUPLICATE,
    SKIP_NONFINITE,
    SKIP_RANGE,
    Recording,
    RecordingError,
)
from sensors.types import ImuBlock, Side

_SIDE_NAME = re.compile(r"(?:^|[\s_-])(l|r|left|right)$", re.IGNORECASE)
_WRIST_TYPES = {"imu", "accelerometer", "acc", "mocap"}


def read_xdf(path: Path, names: tuple[str, str] | None = None) -> Recording:
    """The two wrist streams of XDF file `path`; RecordingError (one line) if not there."""
    try:
        import pyxdf
    except ImportError:
        raise RecordingError(
            path, None, "reading XDF needs pyxdf: pip install 'mirrorwatch[lsl]'"
        ) from None
    if not path.is_file():
        raise RecordingError(path, None, "file not found")
    try:
        streams, _header = pyxdf.load_xdf(
            str(path), synchronize_clocks=True, dejitter_timestamps=False, verbose=False
        )
    except Exception as e:  # pyxdf raises whatever its parser hits on a damaged file
        raise RecordingError(path, None, f"not a readable XDF file ({e})") from None
    chosen = _choose(path, streams, names)
    sides: dict[Side, ImuBlock] = {}
    skips: dict[str, int] = {}
    first: list[int] = []
    rows = 0
    fs = 0.0
    t0 = min(float(s["time_stamps"][0]) for s in chosen.values())
    for side, stream in chosen.items():
        info = stream["info"]
        count = int(_text(info, "channel_count"))
        labels, units = _channels(info)
        try:
            lay = layout(count, labels, units)
        except ValueError as e:
            raise RecordingError(path, None, f"stream {_text(info, 'name')!r}: {e}") from None
        fs = max(fs, float(_text(info, "nominal_srate") or 0.0))
        t = np.asarray(stream["time_stamps"], dtype=np.float64) - t0
        values = np.asarray(stream["time_series"], dtype=np.float64).reshape(len(t), count)
        acc, gyr = lay.split(values)
        rows += len(t)
        good = np.isfinite(t) & np.isfinite(acc).all(axis=1)
        if gyr is not None:
            good &= np.isfinite(gyr).all(axis=1)
        plausible = (np.abs(acc) <= ACC_MAX).all(axis=1)
        if gyr is not None:
            plausible &= (np.abs(gyr) <= GYR_MAX).all(axis=1)
        order = np.argsort(t, kind="stable")
        t_sorted = t[order]
        duplicate = np.zeros(len(t), dtype=bool)
        duplicate[order[1:]] = t_sorted[1:] == t_sorted[:-1]
        for reason, bad in (
            (SKIP_NONFINITE, ~good),
            (SKIP_RANGE, good & ~plausible),
            (SKIP_DUPLICATE, good & plausible & duplicate),
        ):
            if bad.any():
                skips[reason] = skips.get(reason, 0) + int(bad.sum())
                first.extend(int(i) + 1 for i in np.flatnonzero(bad)[:10])
        keep = order[(good & plausible & ~duplicate)[order]]
        if len(keep):
            sides[side] = ImuBlock(
                side, t[keep], acc[keep], None if gyr is None else gyr[keep].copy()
            )
    if not sides:
        raise RecordingError(path, None, "no valid samples in either wrist stream")
    metadata = {"device": "xdf:" + ",".join(_text(s["info"], "name") for s in chosen.values())}
    if fs > 0:
        metadata["fs"] = f"{fs:g}"
    return Recording(
        path=path,
        metadata=metadata,
        sides=sides,
        rows=rows,
        skipped=sum(skips.values()),
        skip_reasons=skips,
        first_skipped_lines=tuple(sorted(first)[:10]),  # sample numbers within a stream
    )


def _choose(
    path: Path, streams: list[dict[str, Any]], names: tuple[str, str] | None
) -> dict[Side, dict[str, Any]]:
    """The wrist streams by side, as the module docstring says; RecordingError if unclear."""
    named = {_text(s["info"], "name"): s for s in streams if len(s["time_stamps"])}
    listing = ", ".join(repr(n) for n in named) or "none with samples"
    if names is not None:
        missing = [n for n in names if n not in named]
        if missing:
            raise RecordingError(path, None, f"no stream {missing[0]!r}; streams: {listing}")
        return {Side.L: named[names[0]], Side.R: named[names[1]]}
    by_side: dict[Side, list[dict[str, Any]]] = {Side.L: [], Side.R: []}
    for s in named.values():
        side = _ours(s["info"])
        if side is None and _text(s["info"], "type").lower() in _WRIST_TYPES:
            m = _SIDE_NAME.search(_text(s["info"], "name"))
            side = None if m is None else Side(m.group(1)[0].upper())
        if side is not None:
            by_side[side].append(s)
    if all(len(v) == 1 for v in by_side.values()):
        return {side: v[0] for side, v in by_side.items()}
    raise RecordingError(
        path,
        None,
        f"cannot tell which streams are the left and right wrist (streams: {listing}); "
        "name them with --streams NAME_L,NAME_R",
    )


def _ours(info: dict[str, Any]) -> Side | None:
    """The side a MirrorWatch-published stream names in its metadata."""
    desc = (info.get("desc") or [None])[0]
    if not isinstance(desc, dict):
        return None
    ours = (desc.get("mirrorwatch") or [None])[0]
    side = _text(ours, "side") if isinstance(ours, dict) else ""
    return Side(side) if side in ("L", "R") else None


def _channels(info: dict[str, Any]) -> tuple[list[str], list[str]]:
    desc = (info.get("desc") or [None])[0]
    if not isinstance(desc, dict):
        return [], []
    channels = (desc.get("channels") or [None])[0]
    if not isinstance(channels, dict):
        return [], []
    listed = [c for c in channels.get("channel") or [] if isinstance(c, dict)]
    return [_text(c, "label") for c in listed], [_text(c, "unit") for c in listed]


def _text(node: dict[str, Any], key: str) -> str:
    """pyxdf keeps every XML element as a list of children; the first one's text."""
    value = (node.get(key) or [""])[0]
    return value.strip() if isinstance(value, str) else ""
