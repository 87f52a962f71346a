"""An offline reference detector: double thresholds on zero-phase envelopes of the whole file.

What a careful analyst would do with the complete recording in hand: remove the
gyro bias with the file's median, low-pass with `filtfilt` (no phase delay),
set thresholds from the whole file's rest statistics (median and MAD), find
movements with a double threshold (Bonato et al. 1998 style: a high threshold
held for a minimum time, backdated to a low one), then classify the other hand
in each movement's window the way the online engine does. It sees the future,
so it has no latency and no filter delay; it is the bar the online engine is
measured against in benchmarks/accuracy.py.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from pipeline.engine.align import Aligner
from pipeline.engine.config import EngineConfig
from pipeline.engine.events import Kind, MovementEvent
from pipeline.engine.mirror import grade
from sensors.types import STANDARD_GRAVITY as G
from sensors.types import FloatArray, ImuBlock, Side

# Hz, the reference's own band for the accelerometer's derivative, whatever the engine
# uses (acc_lowpass): the engine's tuning must not move the bar it is measured against.
ACC_LOWPASS = 5.0


def envelopes(blocks: list[ImuBlock], cfg: EngineConfig) -> tuple[dict[Side, FloatArray], int]:
    """Zero-phase activity envelope per side on the engine's grid (NaN where missing)."""
    aligner = Aligner(cfg.fs, math.inf, cfg.max_gap, cfg.max_gap_no_gyro)
    chunks = [c for b in blocks if (c := aligner.feed(b)) is not None]
    if (last := aligner.flush()) is not None:
        chunks.append(last)
    start = chunks[0].start
    out: dict[Side, FloatArray] = {}
    for side in Side:
        rows = [r for c in chunks for r in c.rows[side]]
        width = max((len(r) for r in rows if r is not None), default=3)
        x = np.array([r if r is not None else [np.nan] * width for r in rows], dtype=float)
        valid = ~np.isnan(x).any(axis=1)
        env = np.full(len(rows), np.nan)
        if valid.sum() > 30:
            gyro = width == 6
            sig = x[valid][:, 3:6] if gyro else x[valid][:, 0:3]
            cutoff = cfg.gyro_lowpass if gyro else ACC_LOWPASS
            b, a = signal.butter(2, cutoff, fs=cfg.fs)
            if gyro:
                y = signal.filtfilt(b, a, sig - np.median(sig, axis=0), axis=0)
            else:
                y = np.gradient(signal.filtfilt(b, a, sig, axis=0), axis=0) * cfg.fs / G
            env[valid] = np.sqrt((y * y).sum(axis=1))
        out[side] = env
    return out, start


def detect(blocks: list[ImuBlock], cfg: EngineConfig) -> list[MovementEvent]:
    """Movement events of a whole session, decided with hindsight."""
    env, start = envelopes(blocks, cfg)
    level, spread, moves = {}, {}, {}
    for side in Side:
        e = env[side]
        finite = e[np.isfinite(e)]
        if finite.size == 0:
            level[side], spread[side], moves[side] = 0.0, 1.0, []
            continue
        level[side] = float(np.median(finite))
        floor = cfg.gyro_spread_floor
        spread[side] = max(1.4826 * float(np.median(np.abs(finite - level[side]))), floor)
        moves[side] = _double_threshold(e, level[side], spread[side], cfg)
    events = []
    post = cfg.samples(cfg.lag_window)
    pre = cfg.samples(cfg.pre)
    used: set[tuple[Side, int]] = set()
    all_moves = sorted((on, side, off) for side in Side for on, off in moves[side])
    for on, side, off in all_moves:
        if (side, on) in used:
            continue
        other = side.other
        partner = next(
            ((o, f) for o, f in moves[other] if abs(o - on) <= post and (other, o) not in used),
            None,
        )
        lo, hi = max(on - pre, 0), min(off + post, len(env[side]))
        xa = np.nan_to_num(env[side][lo:hi] - level[side]).clip(min=0)
        xc_raw = env[other][lo:hi]
        complete = float(np.isfinite(xc_raw).mean()) if hi > lo else 0.0
        xc = np.nan_to_num(xc_raw - level[other]).clip(min=0)
        active, a_on, c_on = side, on, None
        if partner is not None:
            used.add((other, partner[0]))
            c_on = partner[0]
            if xc.max() > xa.max():
                active, a_on, c_on = other, partner[0], on
                xa, xc = xc, xa
        used.add((side, on))
        peak_a, peak_c = float(xa.max()), float(xc.max())
        if peak_a < cfg.min_peak:
            continue
        coupling = _coupling(xa, xc, post)
        sig = c_on is not None or (
            peak_c > cfg.k_mirror * spread[active.other] and coupling >= cfg.min_coupling
        )
        ratio = peak_c / peak_a if sig else 0.0
        if sig:
            kind = Kind.BIMANUAL if ratio >= cfg.bimanual_ratio else Kind.MIRROR
        else:
            kind = Kind.UNIMANUAL if complete >= cfg.min_completeness else Kind.INDETERMINATE
        t = (start + a_on) / cfg.fs
        lag = None if c_on is None else (c_on - a_on) / cfg.fs * 1000
        events.append(
            MovementEvent(
                t_onset=t,
                t_offset=(start + off) / cfg.fs,
                active=active,
                kind=kind,
                mirror_ratio=ratio,
                lag_ms=lag,
                coupling=coupling,
                grade=grade(ratio, cfg.grade_ratios) if kind is Kind.MIRROR else 0,
                peak_active=peak_a,
                peak_contra=peak_c,
                completeness={active: 1.0, active.other: complete},
                detected_at=t,
                decided_at=t,
            )
        )
    return events


def _double_threshold(
    e: FloatArray, level: float, spread: float, cfg: EngineConfig
) -> list[tuple[int, int]]:
    on_th, off_th = level + cfg.k_on * spread, level + cfg.k_off * spread
    start_th = level + cfg.k_start * spread
    above = np.nan_to_num(e, nan=-np.inf) > on_th
    min_on = cfg.samples(cfg.min_on)
    out: list[tuple[int, int]] = []
    i, n = 0, len(e)
    while i < n:
        if not above[i]:
            i += 1
            continue
        j = i
        while j < n and above[j]:
            j += 1
        if j - i < min_on:
            i = j
            continue
        on = i
        while on > 0 and np.isfinite(e[on - 1]) and e[on - 1] > start_th:
            on -= 1
        off = _quiet_from(e, j, off_th, cfg.samples(cfg.min_off))
        if out and on <= out[-1][1]:
            out[-1] = (out[-1][0], off)
        else:
            out.append((on - 1 if on > 0 else on, off))
        i = off + 1
    return out


def _quiet_from(e: FloatArray, i: int, off_th: float, min_off: int) -> int:
    """First index from `i` where `e` stays below `off_th` (or missing) for `min_off` rows."""
    n = len(e)
    quiet = ~(np.nan_to_num(e, nan=-np.inf) >= off_th)
    while i < n:
        if quiet[i] and quiet[i : i + min_off].all():
            return i
        i += 1
    return n


def _coupling(a: FloatArray, c: FloatArray, max_lag: int) -> float:
    best = 0.0
    n = len(a)
    for lag in range(-max_lag, max_lag + 1):
        if abs(lag) > n - 3:
            continue
        x, y = (a[: n - lag], c[lag:]) if lag >= 0 else (a[-lag:], c[: n + lag])
        if x.std() == 0 or y.std() == 0:
            continue
        best = max(best, float(np.corrcoef(x, y)[0, 1]))
    return best
