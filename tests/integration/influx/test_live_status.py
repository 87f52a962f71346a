"""What the live view of `monitor` and `assess` says about delivery while it runs."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from pathlib import Path

from servers import VictoriaMetrics
from spooldata import block, movement, session, v2

from pipeline.commands.delivery import delivery_line
from pipeline.store.influx import InfluxWriter, deliver, transport_for
from pipeline.store.outbox import DeliveryStatus
from pipeline.store.spool import Spool
from sensors.types import Side


def _filled(path: Path) -> Spool:
    spool = Spool.in_dir(path)
    info = session(spool)
    spool.add_events(info.id, [movement(1.0), movement(3.0)])
    spool.add_samples(info.id, [block(Side.L, 400), block(Side.R, 400)])
    return spool


def _statuses(spool: Spool, url: str, seconds: float) -> list[DeliveryStatus]:
    seen: list[DeliveryStatus] = []
    writer = InfluxWriter(
        spool, transport_for(v2(url, batch_size=100)), batch_size=100, rng=random.Random(1)
    )

    async def main() -> None:
        finished = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, finished.set)
        await deliver(
            writer, finished, on_status=seen.append, status_every_s=0.0, final_timeout_s=1.0
        )

    try:
        asyncio.run(main())
    finally:
        writer.close()
    return seen


def test_the_backlog_is_shown_and_goes_down_to_up_to_date(
    vm: VictoriaMetrics, tmp_path: Path
) -> None:
    with _filled(tmp_path) as spool:
        seen = _statuses(spool, vm.url, 2.0)
    pending = [s.total_pending for s in seen]
    assert pending[0] == 802  # 2 events and 800 samples, before the first batch
    assert pending == sorted(pending, reverse=True)
    assert pending[-1] == 0
    now = time.time()
    assert delivery_line(seen[0], now).startswith("influx: 802 pending, oldest ")
    assert delivery_line(seen[-1], now) == "influx: up to date"


def test_an_unreachable_server_shows_the_backlog_and_the_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with _filled(tmp_path) as spool:
        seen = _statuses(spool, f"http://127.0.0.1:{port}", 1.5)
    last = seen[-1]
    assert last.total_pending == 802
    line = delivery_line(last, time.time())
    assert line.startswith("influx: 802 pending, oldest ")
    assert f"127.0.0.1:{port}" in line  # the error, while it lasts
