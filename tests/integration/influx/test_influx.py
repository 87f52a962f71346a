"""The writer against a real server speaking InfluxDB's v2 write API (VictoriaMetrics).

What these prove and what they cannot: tests/README.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from servers import VictoriaMetrics, python_env
from spooldata import T0, block, movement, ms, session, v2

from pipeline.commands.delivery import continuous_delivery
from pipeline.engine import Engine
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind
from pipeline.session import run_session
from pipeline.settings import Settings
from pipeline.store import outbox
from pipeline.store.influx import (
    Backoff,
    Failure,
    InfluxWriter,
    PushResult,
    Transport,
    deliver,
    transport_for,
)
from pipeline.store.outbox import DeliveryStatus, Stream
from pipeline.store.spool import Spool
from sensors.simulated import SimConfig, SimulatedSource, simulate
from sensors.types import Side

REPO_ROOT = Path(__file__).resolve().parents[3]


ROWS_RECEIVED = "vm_rows_inserted_total"
"""VictoriaMetrics's count of values received (one per field of a point) since it started."""


def fields(lines: list[str]) -> int:
    """How many field values these line-protocol points carry."""
    return sum(len(re.split(r"(?<!\\) ", line)[1].split(",")) for line in lines)


def writer(spool: Spool, url: str, *, token: str = "any-token", batch: int = 64) -> InfluxWriter:
    settings = v2(url, token=token, batch_size=batch)
    return InfluxWriter(spool, transport_for(settings), batch_size=batch, rng=random.Random(7))


def test_every_row_arrives_with_the_schema(vm: VictoriaMetrics, tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool)
        spool.add_events(
            info.id, [movement(12.34, task="finger tap"), movement(20.5, kind=Kind.UNIMANUAL)]
        )
        left, right = block(Side.L, 150, seed=1), block(Side.R, 120, gyro=False, seed=2)
        spool.add_samples(info.id, [left, right])
        spool.add_link(info.id, Side.L, 5.0, battery=87.0, rssi=-61.0, lost=3, reconnects=1)
        w = writer(spool, vm.url)
        assert w.push(30.0) == PushResult(sent=273, quarantined=0, pending=0, error=None)
        assert spool.delivery_status().last_delivery_at is not None
        w.close()

    ratio = vm.points("movement_mirror_ratio", info.id, 2)
    assert [(ts, v) for ts, v, _ in ratio] == [(ms(T0, 12.34), 0.18), (ms(T0, 20.5), 0.0)]
    assert ratio[0][2] == {
        "__name__": "movement_mirror_ratio",
        "subject": "P01",
        "session": info.id,
        "active": "R",
        "kind": "mirror",
        "task": "finger tap",
    }
    assert "task" not in ratio[1][2]
    assert [v for _, v, _ in vm.points("movement_grade", info.id, 2)] == [2.0, 0.0]
    # lag_ms is absent from the unimanual event rather than a made-up number
    assert [(ts, v) for ts, v, _ in vm.points("movement_lag_ms", info.id, 1)] == [
        (ms(T0, 12.34), 42.0)
    ]
    ax = vm.points("imu_ax", info.id, 270)
    assert [(p[2]["side"], p[0]) for p in ax] == [
        *(("L", ms(T0, t)) for t in left.t),
        *(("R", ms(T0, t)) for t in right.t),
    ]
    # VictoriaMetrics keeps 12 significant digits
    assert [p[1] for p in ax] == pytest.approx([*left.acc[:, 0], *right.acc[:, 0]], rel=1e-11)
    assert left.gyr is not None
    gz = [p[1] for p in vm.points("imu_gz", info.id, 150)]  # L only: R has no gyro
    assert gz == pytest.approx(list(left.gyr[:, 2]), rel=1e-11)
    assert [(p[0], p[1]) for p in vm.points("link_battery", info.id, 1)] == [(ms(T0, 5.0), 87.0)]
    assert [p[1] for p in vm.points("link_lost", info.id, 1)] == [3.0]


def test_a_resent_batch_overwrites_itself(vm: VictoriaMetrics, tmp_path: Path) -> None:
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="P02")
        spool.add_events(info.id, [movement(1.0), movement(3.0)])
        spool.add_samples(info.id, [block(Side.R, 200, seed=3)])
        lines = [o.line for s in Stream for o in spool.pending(s, 1000)]
        received = vm.counter(ROWS_RECEIVED)
        w = writer(spool, vm.url)
        assert w.push(30.0).sent == 202
        before = (vm.points("imu_ay", info.id, 200), vm.points("movement_coupling", info.id, 2))
        # The acknowledgement was lost (say the gateway died just after the server
        # stored the batch): the cursors go back and everything is sent again.
        db = sqlite3.connect(spool.path)
        with db:
            db.execute("UPDATE delivery SET delivered_id = 0")
        db.close()
        assert w.push(30.0).sent == 202
        w.close()
    after = (vm.points("imu_ay", info.id, 200), vm.points("movement_coupling", info.id, 2))
    assert len(after[0]) == 200
    assert len(after[1]) == 2
    assert after == before
    # the server did receive every point twice (the instrument the outage test uses)
    assert vm.counter(ROWS_RECEIVED) - received == 2 * fields(lines)


@dataclasses.dataclass
class Outage:
    """What the outage test saw, for its assertions and its printed summary (wall s)."""

    before: float = 0.0  # session start to the server's stop
    away: float = 0.0  # stop to the server answering again
    after: float = 0.0  # the return to the session's end (final push included)
    waits: list[float] = dataclasses.field(default_factory=list)  # the writer's backoff
    status: DeliveryStatus | None = None  # just before the return
    cursors: dict[Stream, int] = dataclasses.field(default_factory=dict)  # then


@pytest.mark.timeout(150)  # a minute away by design; room for a loaded machine
def test_server_stopped_mid_session_then_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The real session and its delivery hook; the server is away for a full minute.

    It goes away once it holds part of the session, and comes back after 60 s and
    once the writer's backoff has grown to its cap (0.5 s doubling to 60 s: the
    eighth wait). Samples keep arriving meanwhile, in real time (200 rows/s).
    """
    vm = VictoriaMetrics(tmp_path / "vm")
    vm.start()
    try:
        influx = dataclasses.replace(v2(vm.url), batch_size=500)
        settings = Settings(tmp_path / "data", EngineConfig(), None, influx=influx)
        # longer than the test: the session is stopped a few seconds after the return
        sim = simulate("firearm-drill", SimConfig(duration=150.0, seed=3))
        backoff = Backoff(random.Random(0))  # the writer's defaults
        # failed attempts until a wait's ceiling is the cap: 0.5, 1, 2, ... 32, 60 s
        to_cap = 1 + math.ceil(math.log2(backoff.cap_s / backoff.base_s))
        seen = Outage()

        def waits() -> list[float]:
            return [
                float(r.args[1])  # type: ignore[index]
                for r in caplog.records
                if r.name == "pipeline.store.influx" and r.msg.startswith("delivery failed")
            ]

        async def until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
            deadline = time.monotonic() + timeout_s
            while not condition():
                assert time.monotonic() < deadline, f"no {what} after {timeout_s} s"
                await asyncio.sleep(0.1)

        async def main(spool: Spool, session_id: str) -> None:
            began = time.monotonic()
            stop = asyncio.Event()
            job = run_session(
                SimulatedSource(sim, 1.0),
                Engine(dataclasses.replace(settings.engine, fs=sim.config.fs)),
                spool,
                session_id,
                store_samples=True,
                stop=stop,
                background=continuous_delivery(settings),
            )
            task = asyncio.create_task(job)
            # mid-session: the server already holds the start of this session
            path = settings.data_dir / "spool.sqlite"
            await until(lambda: _delivered_some(path), 30.0, "delivery before the outage")
            await asyncio.to_thread(vm.stop)
            stopped_at = time.monotonic()
            seen.before = stopped_at - began
            await until(
                lambda: time.monotonic() - stopped_at >= 60.0 and len(waits()) >= to_cap,
                80.0,
                f"{to_cap} failed attempts",
            )
            with Spool.in_dir(settings.data_dir) as reader:
                seen.status = reader.delivery_status()
                rows = reader.query("SELECT stream, delivered_id FROM delivery")
                seen.cursors = {Stream(s): int(upto) for s, upto in rows}
            seen.waits = waits()
            await asyncio.to_thread(vm.start)
            back_at = time.monotonic()
            seen.away = back_at - stopped_at
            await asyncio.sleep(1.0)  # a few more samples after the return
            stop.set()
            await task
            seen.after = time.monotonic() - back_at

        with (
            caplog.at_level(logging.INFO, logger="pipeline.store.influx"),
            Spool.in_dir(settings.data_dir) as spool,
        ):
            info = session(spool, subject="P03", started_at=T0)
            asyncio.run(main(spool, info.id))
            status = spool.delivery_status()
            samples = {s: spool.samples(info.id, s) for s in Side}
            events = spool.events(info.id)
        during = seen.status
        assert during is not None
        print(
            f"server stopped {seen.before:.1f} s into the session, away {seen.away:.1f} s, "
            f"{len(seen.waits)} failed attempts waiting "
            f"{', '.join(f'{w:.1f}' for w in seen.waits)} s, {during.total_pending} rows "
            f"pending at the return; session ended and delivered {seen.after:.1f} s later"
        )
        assert seen.away >= 60.0
        assert during.total_pending > 5000
        assert during.last_error is not None
        assert vm.url in during.last_error
        # each wait within [ceiling / 2, ceiling], the ceiling doubling up to the cap
        ceilings = [min(backoff.cap_s, backoff.base_s * 2.0**n) for n in range(to_cap)]
        assert ceilings[-1] == backoff.cap_s
        for wait, ceiling in zip(seen.waits, ceilings, strict=False):
            assert ceiling / 2 <= wait <= ceiling

        assert status.total_pending == 0
        assert sum(status.dropped.values()) == 0  # the size bound took nothing
        assert status.quarantined == 0
        ax = vm.points("imu_ax", info.id, expect=sum(len(b) for b in samples.values() if b))
        for side, stored in samples.items():
            assert stored is not None
            got = [(ts, v) for ts, v, labels in ax if labels["side"] == side.value]
            # every sample once, at its own timestamp: nothing lost, nothing doubled
            assert [ts for ts, _ in got] == [ms(T0, t) for t in stored.t], side
            assert [v for _, v in got] == pytest.approx(list(stored.acc[:, 0]), rel=1e-11)
        onsets = [ts for ts, _, _ in vm.points("movement_peak_active", info.id, len(events))]
        assert sorted(onsets) == sorted(ms(T0, e.event.t_onset) for e in events)
        assert len(events) >= 5
        # Deduplication would hide a point sent twice from the reads above: since its
        # restart the server received exactly the rows pending then, each once.
        assert vm.counter(ROWS_RECEIVED) == fields(_sent_after(spool.path, seen.cursors))
    finally:
        vm.stop()


def _sent_after(path: Path, cursors: dict[Stream, int]) -> list[str]:
    """The points of every row after `cursors`, from a copy of the spool at `path`."""
    db = sqlite3.connect(":memory:")
    source = sqlite3.connect(path)
    try:
        source.backup(db)
        for stream, upto in cursors.items():
            db.execute("UPDATE delivery SET delivered_id = ? WHERE stream = ?", (upto, stream))
        return [o.line for s in Stream for o in outbox.pending(db, s, 10**9)]
    finally:
        source.close()
        db.close()


def test_rows_pending_when_the_process_is_killed_arrive_on_restart(
    vm: VictoriaMetrics, tmp_path: Path
) -> None:
    env = _cli_env(vm, tmp_path)
    cli = [sys.executable, "-m", "pipeline.cli"]
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            # as fast as it goes: samples outrun delivery, so rows are pending at the kill
            [*cli, "demo", "--duration", "1200", "--speed", "max", "--store-samples"],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=log,
        )
        # Kill it mid-stream: some rows delivered, more stored and still pending.
        deadline = time.monotonic() + 60.0
        while not _delivered_some(tmp_path / "data" / "spool.sqlite"):
            assert time.monotonic() < deadline, (tmp_path / "demo.log").read_text()
            assert demo.poll() is None, (tmp_path / "demo.log").read_text()
            time.sleep(0.2)
        demo.send_signal(signal.SIGKILL)  # no flush, no final push, no close
        assert demo.wait(10) == -signal.SIGKILL
    with Spool.in_dir(tmp_path / "data") as spool:
        info = spool.session("latest")
        assert spool.delivery_status().total_pending > 0
        stored = spool.counts()["samples"]
    push = subprocess.run(
        [*cli, "push"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90
    )
    assert push.returncode == 0, push.stderr
    assert push.stdout.strip().endswith(", 0 pending")
    with Spool.in_dir(tmp_path / "data") as spool:
        assert spool.delivery_status().total_pending == 0
        assert spool.counts()["samples"] == stored
    assert len(vm.points("imu_az", info.id, stored)) == stored


def _delivered_some(path: Path) -> bool:
    if not path.exists():
        return False
    db = sqlite3.connect(path, timeout=10)
    try:
        row = db.execute("SELECT delivered_id FROM delivery WHERE stream = 'samples'").fetchone()
        return row is not None and row[0] > 0
    except sqlite3.OperationalError:  # the schema is being created
        return False
    finally:
        db.close()


def test_a_refused_token_stops_delivery_with_one_clear_error(
    vm_auth: VictoriaMetrics, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    token = "wrong-token-6f1d"
    env = python_env(
        {
            "MIRRORWATCH_DATA_DIR": str(tmp_path / "data"),
            "MIRRORWATCH_INFLUX_URL": vm_auth.url,
            "MIRRORWATCH_INFLUX_ORG": "mirrorwatch",
            "MIRRORWATCH_INFLUX_BUCKET": "mirrorwatch",
            "MIRRORWATCH_INFLUX_TOKEN": token,
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    with Spool.in_dir(tmp_path / "data") as spool:
        info = session(spool, subject="P05")
        spool.add_events(info.id, [movement(1.0)])
    cli = [sys.executable, "-m", "pipeline.cli"]
    push = subprocess.run(
        [*cli, "-v", "push"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert push.returncode == 2
    assert push.stdout == "sent 0 rows to " + vm_auth.url + ", 1 pending\n"
    errors = [line for line in push.stderr.splitlines() if line.startswith("mirrorwatch:")]
    assert len(errors) == 1
    assert "refused the token (401" in errors[0]
    assert token not in push.stdout + push.stderr
    status = subprocess.run([*cli, "status"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert "pending  1 events, 0 verdicts, 0 link, 0 samples" in status.stdout
    assert "refused the token" in status.stdout
    assert token not in status.stdout

    # The continuous loop neither spins nor repeats itself while the token is wrong.
    calls: list[int] = []

    class Counting:
        def __init__(self, inner: Transport) -> None:
            self.inner = inner

        def write(self, lines: list[str]) -> None:
            calls.append(len(lines))
            self.inner.write(lines)

        def close(self) -> None:
            self.inner.close()

    async def run_for(seconds: float, w: InfluxWriter) -> None:
        finished = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, finished.set)
        await deliver(w, finished, poll_s=0.05)

    with Spool.in_dir(tmp_path / "data") as spool, caplog.at_level(logging.INFO):
        w = InfluxWriter(spool, Counting(transport_for(v2(vm_auth.url, token=token))))
        asyncio.run(run_for(1.5, w))
        assert spool.delivery_status().total_pending == 1
    assert len(calls) == 2  # one attempt, then the final push on the way out
    refusals = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(refusals) == 1
    assert "401" in refusals[0].getMessage()
    assert all(token not in r.getMessage() for r in caplog.records)


def test_a_hung_server_times_out_and_the_retry_delivers_once(
    vm: VictoriaMetrics, tmp_path: Path
) -> None:
    with Spool.in_dir(tmp_path) as spool:
        info = session(spool, subject="P06")
        spool.add_samples(info.id, [block(Side.L, 300, seed=6)])
        settings = dataclasses.replace(v2(vm.url), timeout_s=0.5)
        w = InfluxWriter(spool, transport_for(settings), batch_size=100, rng=random.Random(2))
        assert vm.process is not None
        vm.process.send_signal(signal.SIGSTOP)  # accepts connections, answers nothing
        try:
            result = w.push(0.2)
        finally:
            vm.process.send_signal(signal.SIGCONT)
        assert result.error is not None
        assert result.error.kind is Failure.UNAVAILABLE
        assert result.pending == 300
        # The server may have stored the abandoned batch after waking up: the
        # retry sends it again and the deterministic points replace themselves.
        assert w.push(30.0).sent == 300
        assert spool.delivery_status().pending[Stream.SAMPLES] == 0
        w.close()
    assert len(vm.points("imu_gx", info.id, 300)) == 300


@pytest.mark.parametrize(
    "verb",
    [
        ["assess", "--protocol", "woods-teuber", "--subject", "S07", "--yes"],
        ["monitor", "--subject", "P03", "--duration", "900"],
    ],
)
def test_assess_and_monitor_deliver_while_they_run(
    vm: VictoriaMetrics, tmp_path: Path, verb: list[str]
) -> None:
    env = _cli_env(vm, tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *verb, "--source", "simulated", "--speed", "max"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    with Spool.in_dir(tmp_path / "data") as spool:
        info = spool.session("latest")
        events = spool.events(info.id)
        assert spool.delivery_status().total_pending == 0  # delivered before exit
    assert events
    assert len(vm.points("movement_mirror_ratio", info.id, len(events))) == len(events)


def _cli_env(vm: VictoriaMetrics, tmp_path: Path) -> dict[str, str]:
    """Environment of a `mirrorwatch` subprocess delivering to `vm`."""
    return python_env(
        {
            "MIRRORWATCH_DATA_DIR": str(tmp_path / "data"),
            "MIRRORWATCH_INFLUX_URL": vm.url,
            "MIRRORWATCH_INFLUX_ORG": "mirrorwatch",
            "MIRRORWATCH_INFLUX_BUCKET": "mirrorwatch",
            "MIRRORWATCH_INFLUX_TOKEN": "any-token",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
