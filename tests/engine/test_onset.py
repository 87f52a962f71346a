"""Onset detector: thresholds from rest, backdating, offsets, recovery from a changed rest."""

from __future__ import annotations

import numpy as np

from pipeline.engine.config import EngineConfig
from pipeline.engine.history import History
from pipeline.engine.onset import Movement, MovementEnd, OnsetDetector
from sensors.types import Side


def _run(env: list[float | None], cfg: EngineConfig | None = None) -> list[Movement]:
    return [x for x in _detect(env, cfg) if isinstance(x, Movement)]


def _ends(env: list[float | None], cfg: EngineConfig | None = None) -> list[MovementEnd]:
    return [x for x in _detect(env, cfg) if isinstance(x, MovementEnd)]


def _detect(
    env: list[float | None],
    cfg: EngineConfig | None = None,
    slow: list[float | None] | None = None,
) -> list[Movement | MovementEnd]:
    """Detections in `env`, fed 4 rows at a time; the slow envelope is `env` unless given."""
    cfg = cfg or EngineConfig()
    slow = env if slow is None else slow
    det = OnsetDetector(
        cfg, Side.L, cfg.gyro_spread_floor, cfg.gyro_on_floor, cfg.min_peak, delay=0.0
    )
    hist = History(2000)
    out = []
    for start in range(0, len(env), 4):
        part = env[start : start + 4]
        hist.write(start, part)
        out.extend(det.feed(start, part, slow[start : start + 4], hist))
    return out


def _rest(n: int, seed: int = 0, level: float = 0.01) -> list[float | None]:
    rng = np.random.default_rng(seed)
    return list(np.abs(rng.normal(level, 0.002, n)))


def test_onset_backdated_and_offset_found() -> None:
    env = _rest(1000)
    bump = 2.0 * np.sin(np.linspace(0, np.pi, 60)) ** 2  # 0.6 s movement from row 500
    for i, v in enumerate(bump):
        env[500 + i] = float(env[500 + i] or 0.0) + float(v)
    found = _detect(env)
    assert [type(x) for x in found] == [Movement, MovementEnd]  # in row order
    m, end = found
    assert isinstance(m, Movement)
    assert isinstance(end, MovementEnd)
    assert 497 <= m.onset <= 506  # backdated to where the envelope left rest
    assert m.detected - m.onset <= 12
    assert (end.side, end.serial) == (m.side, m.serial)
    assert 555 <= end.offset <= 562
    assert end.peak > 1.9


def test_a_hand_shaking_after_its_movement_ends_it_by_the_slow_envelope() -> None:
    # After a 0.6 s movement the hand shakes (tremor): its envelope stays at 0.2, above
    # the offset threshold (under the onset one), while the slow envelope, which tremor
    # hardly moves, is back near rest. The movement ends there, not when the tremor
    # stops 3 s later.
    env = _rest(1000)
    bump = 2.0 * np.sin(np.linspace(0, np.pi, 60)) ** 2
    for i, v in enumerate(bump):
        env[500 + i] = float(env[500 + i] or 0.0) + float(v)
    slow = list(env)
    for i in range(540, 860):
        env[i] = max(float(env[i] or 0.0), 0.2)
    assert [e.offset for e in _ends(env)] == [860]  # by the envelope alone
    (end,) = [x for x in _detect(env, slow=slow) if isinstance(x, MovementEnd)]
    assert 555 <= end.offset <= 562


def test_no_onset_during_start_up_or_from_noise() -> None:
    assert _run(_rest(3000, seed=1)) == []


def test_missing_rows_suppress_onsets_until_settled() -> None:
    env = _rest(1000, seed=2)
    env[400:450] = [None] * 50
    env[450:470] = [1.0] * 20  # a jump right after the gap: filter settling, not movement
    assert _run(env) == []


def test_a_changed_rest_level_is_learnt_again() -> None:
    cfg = EngineConfig(max_active=5.0)
    env = _rest(600, seed=3) + _rest(3000, seed=4, level=0.5)  # tremor starts at row 600
    bump = 3.0 * np.sin(np.linspace(0, np.pi, 60)) ** 2
    for i, v in enumerate(bump):
        env[3000 + i] = float(env[3000 + i] or 0.0) + float(v)
    moves = _run(env, cfg)
    assert _ends(env, cfg)[0].serial == moves[0].serial  # the stuck movement was ended
    assert any(2990 <= m.onset <= 3010 for m in moves)  # and a later movement is seen again
