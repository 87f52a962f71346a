"""Fuzz run: 100 000+ generated inputs per decoder and for the recording reader (issue 7).

    .venv/bin/python benchmarks/fuzz.py [--inputs 100000] [--seed 0] [--only mirrorwatch]

A seeded mutation fuzzer, for volume: tests/fuzz/ runs the same properties with
hypothesis (shrinking, a few hundred examples, in the default test run). Inputs mix
random bytes, valid packets or files, and mutations of them (bytes overwritten, cut,
extended), so most reach past the first header check. Properties:

- MirrorWatch: every notification gives one frame or exactly one counted skip;
- Polar PMD: a notification that does not parse is counted once and gives nothing;
  frames that come out are finite;
- both, through a BlockAssembler: never raise, session times keep increasing;
- recordings: read_recording raises RecordingError or returns a recording whose rows
  are all samples or counted skips.

Prints, per target, the inputs run, the time, and what became of them; exits 1 if any
input broke a property (the first few are printed as Python literals to reproduce).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sensors.assembler import BlockAssembler
from sensors.protocols.base import Decoder, Reason
from sensors.protocols.mirrorwatch import ODR_HZ, MirrorWatchDecoder, Packet, encode_packet
from sensors.protocols.polar_pmd import PolarPmdDecoder, parse_frame
from sensors.recording import COLUMNS, RecordingError, read_recording
from sensors.types import RawPacket, Side

Rng = np.random.Generator
_SHOWN = 3  # failing inputs printed per target


def _mutate(rng: Rng, data: bytes) -> bytes:
    """Overwrite up to 4 bytes, then maybe cut the end off or add random bytes."""
    out = bytearray(data)
    for _ in range(int(rng.integers(0, 5)) if out else 0):
        out[int(rng.integers(len(out)))] = int(rng.integers(256))
    if rng.random() < 0.3:
        del out[int(rng.integers(len(out) + 1)) :]
    if rng.random() < 0.2:
        out += rng.bytes(int(rng.integers(1, 16)))
    return bytes(out)


def mirrorwatch_input(rng: Rng) -> bytes:
    kind = rng.integers(4)
    if kind == 0:
        return rng.bytes(int(rng.integers(0, 600)))
    n = int(rng.integers(1, 64))
    gyro = bool(rng.random() < 0.5)
    raw = rng.integers(-32768, 32768, size=(n, 6)).astype(np.int16)
    packet = Packet(
        seq=int(rng.integers(2**16)),
        tick=int(rng.integers(2**32)),
        raw_acc=raw[:, :3].copy(),
        raw_gyr=raw[:, 3:].copy() if gyro else None,
        tick_hz=int(rng.integers(1, 2**32)),
        odr_hz=int(rng.choice(ODR_HZ)),
        restarted=bool(rng.random() < 0.1),
    )
    data = encode_packet(packet)
    if kind == 1:
        return data
    if kind == 2:
        return _mutate(rng, data)
    return data[:16] + rng.bytes(int(rng.integers(0, 200)))  # good header, any body


_PMD_TYPES = [(2, 0x00), (2, 0x01), (2, 0x02), (2, 0x80), (2, 0x81), (5, 0x80), (5, 0x00)]


def _delta_body(rng: Rng) -> bytes:
    body = bytearray(rng.bytes(6))
    for _ in range(int(rng.integers(0, 5))):
        width, count = int(rng.integers(0, 41)), int(rng.integers(0, 13))
        size = (width * count * 3 + 7) // 8
        body += bytes((width, count)) + rng.bytes(size)
    return bytes(body)


class PolarInputs:
    """PMD notifications; timestamps mostly follow on, sometimes repeat or jump."""

    def __init__(self) -> None:
        self._ts = 10**18

    def __call__(self, rng: Rng) -> bytes:
        kind = rng.integers(4)
        if kind == 0:
            return rng.bytes(int(rng.integers(0, 300)))
        self._ts += int(rng.integers(-(10**8), 2 * 10**8))
        ts = self._ts if rng.random() < 0.9 else int(rng.integers(0, 2**63)) * 2
        measurement, frame_type = _PMD_TYPES[int(rng.integers(len(_PMD_TYPES)))]
        header = struct.pack("<BQB", measurement, ts % 2**64, frame_type)
        compressed = bool(frame_type & 0x80)
        body = _delta_body(rng) if compressed else rng.bytes(3 * int(rng.integers(0, 40)))
        data = header + body
        return _mutate(rng, data) if kind == 3 else data


def _csv_text(rng: Rng) -> str:
    lines = [str(s) for s in rng.choice(["# fs: 100", "# subject: p01", "#", ""], 2)]
    headers = [COLUMNS, COLUMNS[:5], tuple(str(c) for c in rng.permutation(COLUMNS))]
    header = headers[int(rng.integers(len(headers)))]
    lines.append(",".join(header))
    bad = ["", "nan", "inf", "1e400", "x", "L", "-0", '"L"']
    for _ in range(int(rng.integers(0, 40))):
        cells = {c: f"{v:.4f}" for c, v in zip(COLUMNS, rng.uniform(-120, 120, 8), strict=True)}
        cells["side"] = str(rng.choice(["L", "R"]))
        row = [cells[c] for c in header]
        for _ in range(int(rng.integers(0, 3))):
            row[int(rng.integers(len(row)))] = str(rng.choice(bad))
        if rng.random() < 0.05:
            row = row[: int(rng.integers(len(row)))]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def recording_input(rng: Rng) -> tuple[str, bytes]:
    """(suffix, file bytes)."""
    kind = rng.integers(5)
    if kind == 0:
        return ".csv", rng.bytes(int(rng.integers(0, 400)))
    if kind == 1:
        return ".csv.gz", rng.bytes(int(rng.integers(0, 400)))
    text = _csv_text(rng).encode()
    if kind == 2:
        return ".csv", text
    if kind == 3:
        return ".csv", _mutate(rng, text)
    packed = gzip.compress(text, compresslevel=1)
    return ".csv.gz", packed if rng.random() < 0.5 else _mutate(rng, packed)


class Tally:
    """Outcomes of one target, and the inputs that broke a property."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.inputs = 0
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failures: list[tuple[object, str]] = []

    def fail(self, data: object, problem: str) -> None:
        self.outcomes["FAILED"] += 1
        if len(self.failures) < _SHOWN:
            self.failures.append((data, problem))


def _skips(decoder: Decoder) -> int:
    return sum(n for r, n in decoder.skipped().items() if r is not Reason.UNPAIRED)


def fuzz_decoder(
    name: str,
    make: Callable[[], Decoder],
    generate: Callable[[Rng], bytes],
    inputs: int,
    seed: int,
) -> Tally:
    """Each input through a decoder of its own stream and through an assembler."""
    rng = np.random.default_rng(seed)
    tally = Tally(name)
    decoder = make()
    assembler = BlockAssembler(Side.L, make())
    received_at, last_t = 0.0, -np.inf
    for i in range(inputs):
        if i % 1000 == 0:  # a fresh stream now and then: start-up paths again
            decoder, assembler, last_t = make(), BlockAssembler(Side.L, make()), -np.inf
        data = generate(rng)
        tally.inputs += 1
        received_at += float(rng.exponential(0.02)) if rng.random() < 0.99 else 15.0
        before, reasons = _skips(decoder), decoder.skipped()
        try:
            expect_skip = name == "polar" and _polar_malformed(data)
            frames = decoder.decode(data)
            skipped = _skips(decoder) - before
            if name == "mirrorwatch" and (len(frames), skipped) not in {(1, 0), (0, 1)}:
                tally.fail(data, f"{len(frames)} frames and {skipped} skips")
            elif expect_skip and (frames or skipped != 1):
                tally.fail(data, f"malformed, yet {len(frames)} frames and {skipped} skips")
            elif any(not np.isfinite(f.acc).all() for f in frames):
                tally.fail(data, "non-finite acceleration")
            if frames:
                tally.outcomes["frame"] += 1
            elif skipped:
                grew = [r for r, k in decoder.skipped().items() if k > reasons.get(r, 0)]
                tally.outcomes[f"skipped ({', '.join(grew)})"] += 1
            else:
                tally.outcomes["held for pairing"] += 1
            for block in assembler.feed(RawPacket(Side.L, received_at, data)):
                if not block.t[0] > last_t:
                    tally.fail(data, f"block at {block.t[0]} after {last_t}")
                last_t = float(block.t[-1])
        except Exception as e:
            tally.fail(data, repr(e))
    return tally


def _polar_malformed(data: bytes) -> bool:
    try:
        parse_frame(data)
    except ValueError:  # MalformedPacket; anything else is the decoder's failure to find
        return True
    return False


def fuzz_recordings(inputs: int, seed: int) -> Tally:
    rng = np.random.default_rng(seed)
    tally = Tally("recording")
    with tempfile.TemporaryDirectory(prefix="mirrorwatch-fuzz-") as tmp:
        for _ in range(inputs):
            suffix, data = recording_input(rng)
            tally.inputs += 1
            path = Path(tmp) / f"input{suffix}"
            path.write_bytes(data)
            try:
                rec = read_recording(path)
            except RecordingError:
                tally.outcomes["refused"] += 1
                continue
            except Exception as e:
                tally.fail((suffix, data), repr(e))
                continue
            if sum(len(b) for b in rec.sides.values()) + rec.skipped != rec.rows:
                tally.fail((suffix, data), "rows are not all samples or counted skips")
            tally.outcomes["read, rows skipped" if rec.skipped else "read"] += 1
    return tally


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=100_000, help="per target (default: 100000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=["mirrorwatch", "polar", "recording"])
    args = p.parse_args()

    runs: dict[str, Callable[[], Tally]] = {
        "mirrorwatch": lambda: fuzz_decoder(
            "mirrorwatch", MirrorWatchDecoder, mirrorwatch_input, args.inputs, args.seed
        ),
        "polar": lambda: fuzz_decoder(
            "polar",
            lambda: PolarPmdDecoder(sample_rate=52.0),
            PolarInputs(),
            args.inputs,
            args.seed,
        ),
        "recording": lambda: fuzz_recordings(args.inputs, args.seed),
    }
    failed = False
    for name, run in runs.items():
        if args.only not in (None, name):
            continue
        started = time.perf_counter()
        tally = run()
        seconds = time.perf_counter() - started
        n = tally.inputs
        shown = ", ".join(f"{k} {v}" for k, v in sorted(tally.outcomes.items()))
        print(f"{name}: {n} inputs in {seconds:.1f} s ({n / seconds:.0f}/s): {shown}")
        for data, problem in tally.failures:
            print(f"  FAILED {problem}: {data!r}")
        failed |= bool(tally.failures)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
