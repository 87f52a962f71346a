"""The session's write queue: events never dropped, raw samples bounded oldest-first."""

from __future__ import annotations

import numpy as np

from pipeline.engine.events import Kind, MovementEvent
from pipeline.store.write_queue import WriteQueue
from sensors.types import ImuBlock, Side


def _block(side: Side, t0: float, n: int = 4) -> ImuBlock:
    t = t0 + np.arange(n) / 100.0
    return ImuBlock(side=side, t=t, acc=np.zeros((n, 3)), gyr=np.zeros((n, 3)))


def _event(t: float) -> MovementEvent:
    return MovementEvent(
        t_onset=t,
        t_offset=None,
        active=Side.L,
        kind=Kind.UNIMANUAL,
        mirror_ratio=0.0,
        lag_ms=None,
        coupling=0.0,
        grade=0,
        peak_active=1.0,
        peak_contra=0.0,
        completeness={Side.L: 1.0, Side.R: 1.0},
        detected_at=t + 0.05,
        decided_at=t + 0.9,
    )


def test_oldest_samples_go_first_and_are_counted_per_wrist() -> None:
    q = WriteQueue("s", max_samples=10)
    blocks = [_block(side, i * 0.04) for i in range(5) for side in Side]  # 40 samples
    for b in blocks:
        q.samples(b)
    assert q.waiting_samples == 8  # two blocks of four fit under ten
    assert q.dropped == {Side.L: 16, Side.R: 16}
    taken = q.take()
    assert taken.blocks == blocks[-2:]
    assert q.waiting_samples == 0
    assert not q.take()


def test_events_and_writes_are_never_dropped_and_keep_their_order() -> None:
    q = WriteQueue("s", max_samples=1)
    woken: list[int] = []
    q.on_put = lambda: woken.append(1)
    events = [_event(float(i)) for i in range(1000)]
    order: list[object] = []
    for i, e in enumerate(events):
        q.events([e])
        q.write(lambda _spool, i=i: order.append(i))
        q.samples(_block(Side.L, float(i)))
    taken = q.take()
    assert len(taken.writes) == 2000
    assert len(woken) == 2000  # every event and write wakes the writer; samples do not
    for w in taken.writes[1::2]:
        w(None)  # type: ignore[arg-type]
    assert order == list(range(1000))
    assert q.dropped[Side.L] == 1000 * 4  # a block larger than the bound is not kept either


def test_empty_events_and_blocks_are_not_queued() -> None:
    q = WriteQueue("s")
    q.events([])
    q.samples(ImuBlock(side=Side.R, t=np.zeros(0), acc=np.zeros((0, 3)), gyr=None))
    assert not q.take()
