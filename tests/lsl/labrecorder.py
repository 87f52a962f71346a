"""A LabRecorder-style recorder: inlets for named LSL streams, written out as XDF 1.0.

Like LabRecorder it keeps each stream's timestamps as sent (no processing flags) and
measures the clock offset to each sender every second, for the reader to apply.
The XDF layout (github.com/sccn/xdf/wiki/Specifications): the magic `XDF:`, then
chunks of [NumLengthBytes: 1 byte, 1/4/8][Length, little-endian: 2 + content][Tag:
uint16][content]. Tags: 1 FileHeader (XML), 2 StreamHeader (uint32 stream id + the
stream's info XML), 3 Samples (id, [NumSampleBytes][NumSamples], then per sample
[TimeStampBytes = 8][float64 timestamp][values: float64 little-endian, or for strings
[NumLengthBytes][Length][UTF-8 bytes]]), 4 ClockOffset (id, float64 collection time,
float64 offset), 6 StreamFooter (id + XML with first/last timestamp, sample count).
"""

from __future__ import annotations

import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pylsl


@dataclass
class Recorded:
    name: str
    inlet: Any
    header: str
    string: bool
    stamps: list[float] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)
    offsets: list[tuple[float, float]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)  # local clock when each chunk came
    ended: bool = False


class Recorder:
    """Subscribes to `names` (waiting up to `timeout` s for each) and records until
    every stream has gone away or `stop()`."""

    def __init__(self, names: list[str], timeout: float = 30.0) -> None:
        self.streams: list[Recorded] = []
        for name in names:
            found = pylsl.resolve_byprop("name", name, 1, timeout)
            assert found, f"no stream {name!r}"
            inlet = pylsl.StreamInlet(found[0], max_buflen=360, recover=False)
            info = inlet.info(10.0)
            inlet.open_stream(10.0)
            string = info.channel_format() == pylsl.cf_string
            self.streams.append(Recorded(name, inlet, info.as_xml(), string))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_offset = 0.0
        while not self._stop.is_set() and not all(s.ended for s in self.streams):
            now = pylsl.local_clock()
            for s in self.streams:
                if s.ended:
                    continue
                try:
                    if now >= next_offset:
                        s.offsets.append((now, s.inlet.time_correction(2.0)))
                    values, stamps = s.inlet.pull_chunk(timeout=0.0, max_samples=10_000)
                except (pylsl.util.LostError, pylsl.util.TimeoutError):
                    s.ended = True
                    continue
                if stamps:
                    s.stamps += stamps
                    s.values += values
                    s.arrived += [pylsl.local_clock()] * len(stamps)
            if now >= next_offset:
                next_offset = now + 1.0
            time.sleep(0.005)

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the streams did not end"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def write_xdf(self, path: Path) -> None:
        with path.open("wb") as f:
            f.write(b"XDF:")
            _chunk(f, 1, b'<?xml version="1.0"?><info><version>1.0</version></info>')
            for i, s in enumerate(self.streams, start=1):
                sid = struct.pack("<I", i)
                _chunk(f, 2, sid + s.header.encode())
                for start in range(0, len(s.stamps), 500):
                    stamps = s.stamps[start : start + 500]
                    values = s.values[start : start + 500]
                    body = bytearray(sid + b"\x04" + struct.pack("<I", len(stamps)))
                    for ts, v in zip(stamps, values, strict=True):
                        body += b"\x08" + struct.pack("<d", ts)
                        if s.string:
                            for text in v:
                                raw = text.encode()
                                body += b"\x04" + struct.pack("<I", len(raw)) + raw
                        else:
                            body += struct.pack(f"<{len(v)}d", *v)
                    _chunk(f, 3, bytes(body))
                for collected, offset in s.offsets:
                    _chunk(f, 4, sid + struct.pack("<dd", collected, offset))
                footer = (
                    f'<?xml version="1.0"?><info><first_timestamp>{s.stamps[0]!r}'
                    f"</first_timestamp><last_timestamp>{s.stamps[-1]!r}</last_timestamp>"
                    f"<sample_count>{len(s.stamps)}</sample_count></info>"
                )
                _chunk(f, 6, sid + footer.encode())


def _chunk(f: Any, tag: int, content: bytes) -> None:
    f.write(b"\x08" + struct.pack("<QH", 2 + len(content), tag) + content)
