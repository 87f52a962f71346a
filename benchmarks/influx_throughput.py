"""Delivery speed: points/s through the writer into a real server, and the drain of a backlog.

Starts victoria-metrics (Debian package) on a free loopback port with a temporary
data directory, like the tests, and measures

1. throughput: N raw samples already in a spool, pushed with `InfluxWriter.push`
   (spool read, line protocol, gzip, HTTP, acknowledgement bookkeeping);
2. backlog: a spool holding `--hours` of a gateway that was offline (two wrists at
   `--fs` Hz with gyro, one movement event every 5 s, link statistics every 60 s
   per wrist), drained completely; the factor is backlog duration / drain time
   (goal: >= 20x real time).

Both counts are checked on the server afterwards. Usage:
    .venv/bin/python benchmarks/influx_throughput.py [--points 200000] [--hours 24]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from pipeline.engine.events import Kind, MovementEvent
from pipeline.settings import InfluxSettings
from pipeline.store.influx import InfluxWriter, transport_for
from pipeline.store.spool import Spool
from sensors.types import STANDARD_GRAVITY, ImuBlock, Side

LSB_ACC = (
    16 * STANDARD_GRAVITY / 32768
)  # m/s^2 per count, +-16 g int16: values look like a sensor's
LSB_GYR = np.radians(2000.0) / 32768  # rad/s per count, +-2000 dps


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    binary = shutil.which("victoria-metrics")
    if binary is None:
        sys.exit("victoria-metrics not found: apt-get install victoria-metrics")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [
            binary,
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={data}",
            "-retentionPeriod=100y",
            "-search.latencyOffset=0s",
            "-dedup.minScrapeInterval=1ms",
            "-loggerLevel=ERROR",
        ]
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as r:
                if r.read() == b"OK":
                    return process, url
        except OSError:
            time.sleep(0.05)
    sys.exit("victoria-metrics did not start")


def count_on_server(url: str, metric: str, session: str, end: float) -> int:
    urllib.request.urlopen(f"{url}/internal/force_flush", timeout=60).close()
    query = f'sum(count_over_time({metric}{{session="{session}"}}[100d]))'
    params = urllib.parse.urlencode({"query": query, "time": f"{end:.3f}"})
    with urllib.request.urlopen(f"{url}/api/v1/query?{params}", timeout=120) as r:
        result = json.loads(r.read())["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def sensor_block(side: Side, t0: float, n: int, fs: float, rng: np.random.Generator) -> ImuBlock:
    acc = np.round(rng.normal(0.0, 3.0, (n, 3)) / LSB_ACC) * LSB_ACC
    gyr = np.round(rng.normal(0.0, 0.5, (n, 3)) / LSB_GYR) * LSB_GYR
    return ImuBlock(side, t0 + np.arange(n) / fs + (0.0 if side is Side.L else 0.5 / fs), acc, gyr)


def event(t: float, side: Side) -> MovementEvent:
    return MovementEvent(
        t_onset=t,
        t_offset=round(t + 0.8, 3),
        active=side,
        kind=Kind.MIRROR,
        mirror_ratio=0.21,
        lag_ms=35.0,
        coupling=0.77,
        grade=2,
        peak_active=1.9,
        peak_contra=0.399,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=round(t + 0.06, 3),
        decided_at=round(t + 1.1, 3),
    )


def fill(spool: Spool, session: str, seconds: float, fs: float, seed: int) -> int:
    """Store `seconds` of both wrists, events and link rows in chunks of 10 min; rows stored."""
    rng = np.random.default_rng(seed)
    rows = 0
    chunk = 600.0
    for start in np.arange(0.0, seconds, chunk):
        n = int(min(chunk, seconds - start) * fs)
        rows += spool.add_samples(session, [sensor_block(s, start, n, fs, rng) for s in Side])
        events = [
            event(t, Side.L if i % 2 else Side.R)
            for i, t in enumerate(start + np.arange(0, n / fs, 5.0))
        ]
        rows += len(spool.add_events(session, events))
        for t in start + np.arange(0, n / fs, 60.0):
            for s in Side:
                spool.add_link(session, s, float(t), battery=80.0, rssi=-65.0, lost=0, reconnects=0)
                rows += 1
    return rows


def check(ok: bool, message: str) -> None:
    if not ok:
        sys.exit(message)


def writer(spool: Spool, url: str, batch: int) -> InfluxWriter:
    settings = InfluxSettings(url=url, org="bench", bucket="bench", token="bench", batch_size=batch)
    return InfluxWriter(spool, transport_for(settings), batch_size=batch, rng=random.Random(0))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=200_000, help="samples for the throughput run")
    p.add_argument("--hours", type=float, default=24.0, help="backlog length, h")
    p.add_argument("--fs", type=float, default=100.0, help="sample rate per wrist, Hz")
    p.add_argument("--batch", type=int, default=5000, help="points per request")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-"))
    server, url = start_server(tmp / "vm")
    started_at = float(int(time.time()) - 3 * 86_400)
    try:
        with Spool.in_dir(tmp / "a") as spool:
            info = spool.start_session(
                subject="B01", source="bench", mode="bench", started_at=started_at
            )
            rng = np.random.default_rng(1)
            spool.add_samples(info.id, [sensor_block(Side.L, 0.0, args.points, args.fs, rng)])
            w = writer(spool, url, args.batch)
            began = time.perf_counter()
            result = w.push(600.0)
            elapsed = time.perf_counter() - began
            w.close()
            check(result.error is None and result.pending == 0, f"push incomplete: {result}")
        stored = count_on_server(url, "imu_ax", info.id, started_at + 10 * 86_400)
        print(
            f"throughput: {args.points} imu points in {elapsed:.2f} s = "
            f"{args.points / elapsed:,.0f} points/s (batch {args.batch}; server holds {stored})"
        )

        seconds = args.hours * 3600.0
        with Spool.in_dir(tmp / "b", max_bytes=None) as spool:
            info = spool.start_session(
                subject="B02", source="bench", mode="bench", started_at=started_at
            )
            began = time.perf_counter()
            rows = fill(spool, info.id, seconds, args.fs, seed=2)
            filled = time.perf_counter() - began
            print(
                f"backlog: {args.hours:g} h = {rows:,} rows stored in {filled:.0f} s"
                f" (spool {spool.path.stat().st_size / 1e9:.2f} GB)"
            )
            w = writer(spool, url, args.batch)
            began = time.perf_counter()
            result = w.push(24 * 3600.0)
            drained = time.perf_counter() - began
            w.close()
            check(result.error is None and result.pending == 0, f"push incomplete: {result}")
        on_server = count_on_server(url, "imu_ax", info.id, started_at + 10 * 86_400)
        print(
            f"backlog drained: {result.sent:,} rows in {drained:.0f} s = "
            f"{result.sent / drained:,.0f} rows/s, {seconds / drained:.1f}x real time "
            f"(goal >= 20x); server holds {on_server:,} imu points"
        )
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
