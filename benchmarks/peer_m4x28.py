"""The published peer method: M4x28/Mirror-Movement-Detection, reimplemented.

Source: github.com/M4x28/Mirror-Movement-Detection at 585afd9 (config.py,
preprocessing/, artifact/, features/bilateral.py, registry.py, extractor.py,
detectors/, webapp/pipeline.py, doc/final_report.md). Read to learn the method;
this is our own code. It finds candidate mirror movements offline in 60 s Box and
Blocks sessions (80 Hz, acceleration in g) where one hand works and the other
should stay still:

- per hand: ENMO = max(|a| - 1 g, 0); Y and Z band-passed 0.5-15 Hz (Butterworth
  order 4, zero phase); jerk = |d/dt| of that band-passed pair;
- 1 s windows, 50 % overlap; per window, active vs still hand: asymmetry
  A = (RMS_a - RMS_s) / (RMS_a + RMS_s) of ENMO; R = max |normalised
  cross-correlation| of the z-scored ENMO traces within +-200 ms; Pearson
  correlation of the jerks; the still hand's ENMO peak and jerk RMS;
- artifacts: still-hand ENMO peak, jerk peak, band-passed RMS and still/active
  energy ratio above median + 7 MAD (iterated, 10 MAD if under 50 windows stay calm);
- robust-quantile, Isolation Forest and PCA-reconstruction detectors fitted on the
  session's calm windows, median of their scores (benchmarks/peer_m4x28_scores.py);
- a window is a mirror candidate iff score >= 0.7, A <= 0.6, R >= 0.4, not an
  artifact and not in the session's first or last 3 s.

Our sessions have no designated active hand, so `classify_session` runs the method
twice over the whole recording, once per hand as the active one (the original's
dom-active and ndom-active sessions), and a trial window takes the orientation of
its more active hand; it is mirror if a candidate 1 s window is centred in it.
A, R and the lag reported are computed over the whole trial window. `classify_window`
has no session to fit detectors on: it applies only A <= 0.6 and R >= 0.4 to the
window as one analysis window.

Deviations: ENMO needs gravity in the signal; when it is absent (median |a| under
0.5 g) the norm itself stands for ENMO. Y and Z are our sensor's columns 1 and 2,
whose frame is not theirs. Our lag is positive when the still hand follows; the
original's code reports that case as negative (its docstring says otherwise; the
lag is not in its rule). The artifact mask is the 1 s scale's, as its code uses
(its report speaks of an OR over 0.5, 1 and 2 s). Our own Isolation Forest (same
trees, samples and seed; sklearn is not a dependency here) draws differently. Its
PCA keeps min(8, 5) = all five components: the residual is exactly 0 and that
score 1 everywhere, which we compute exactly, where its float run ranks rounding
noise (see benchmarks/peer_m4x28_scores.py). R uses clipped, unfiltered ENMO, as
the code does (the report writes band-passed). No bimanual category: `bimanual`
is always False.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from benchmarks.peer_m4x28_scores import artifact_windows, ensemble_scores
from pipeline.engine.history import BoolArray
from sensors.types import STANDARD_GRAVITY, FloatArray, Side

G = STANDARD_GRAVITY  # the original works in g
BAND_HZ = (0.5, 15.0)  # band-pass of the Y/Z path
FILTER_ORDER = 4
WINDOW_S = 1.0  # analysis window
OVERLAP = 0.5
MAX_LAG_MS = 200.0  # cross-correlation lag range, +-
ASYM_CUT = 0.6  # A <= this: the still hand carries comparable energy
XCORR_CUT = 0.4  # R >= this: bilateral synchrony
SCORE_CUT = 0.7  # median detector score >= this
BOUNDARY_S = 3.0  # session start and end excluded from candidates
# Our choice, not the original's (its data always held gravity): a resting or moving
# wrist with gravity reads about 1 g; a gravity-free one far less.
GRAVITY_PRESENT_G = 0.5
EPS = 1e-12


@dataclass(frozen=True, slots=True)
class PeerVerdict:
    """The method's reading of one trial window."""

    asymmetry: float  # (RMS_active - RMS_still) / sum, of ENMO, in [-1, 1]
    xcorr: float  # peak |normalised cross-correlation| of ENMO within +-200 ms
    lag_ms: float  # lag of that peak, ms, positive: the less active hand follows
    active: Side  # the more active hand (larger ENMO RMS over the window)
    mirror: bool  # the method's call: mirror movement present in this window
    bimanual: bool  # the method has no such category: always False


@dataclass(frozen=True, slots=True)
class _Hand:
    enmo: FloatArray  # (n,) g
    yz: FloatArray  # (n, 2) g, band-passed
    jerk: FloatArray  # (n,) g/s, of the band-passed Y/Z


def _enmo(acc: FloatArray) -> FloatArray:
    norm = np.asarray(np.linalg.norm(acc, axis=1) / G, dtype=float)
    if float(np.median(norm)) > GRAVITY_PRESENT_G:
        return np.maximum(norm - 1.0, 0.0)
    return norm  # gravity already removed upstream: the norm is what is left


def _bandpass(x: FloatArray, fs: float) -> FloatArray:
    # The original needs fs > 30 Hz; below that the top edge moves under Nyquist.
    high = min(BAND_HZ[1], 0.45 * fs)
    sos = signal.butter(FILTER_ORDER, [BAND_HZ[0], high], btype="band", fs=fs, output="sos")
    zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    padlen = min(3 * (2 * sos.shape[0] + 1 - zeros), x.shape[0] - 1)  # scipy's default
    return np.asarray(signal.sosfiltfilt(sos, x, axis=0, padlen=padlen), dtype=float)


def _hand(acc: FloatArray, fs: float) -> _Hand:
    yz = _bandpass(acc[:, 1:3] / G, fs)  # the original drops X, its noisy mount axis
    jerk = np.linalg.norm(np.gradient(yz, 1.0 / fs, axis=0), axis=1)
    return _Hand(_enmo(acc), yz, np.asarray(jerk, dtype=float))


def _rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(x * x)))


def _asymmetry(active: FloatArray, still: FloatArray) -> float:
    a, s = _rms(active), _rms(still)
    return (a - s) / (a + s + EPS)


def _xcorr(active: FloatArray, still: FloatArray, fs: float) -> tuple[float, float]:
    """Peak |sum a(i) s(i + lag)| / n of the z-scored traces, and its lag in ms."""
    n = active.shape[0]
    if n < 4:
        return 0.0, math.nan
    a = (active - active.mean()) / (active.std() + EPS)
    s = (still - still.mean()) / (still.std() + EPS)
    m = min(max(1, round(MAX_LAG_MS * 1e-3 * fs)), n - 1)
    c = np.correlate(s, a, "full")[n - 1 - m : n + m] / n  # lags -m..m
    k = int(np.argmax(np.abs(c)))
    return float(abs(c[k])), (k - m) * 1000.0 / fs


def _corr(a: FloatArray, b: FloatArray) -> float:
    """Pearson correlation, 0 when either trace is flat (as the original)."""
    if a.shape[0] < 4 or a.std() < EPS or b.std() < EPS:
        return 0.0
    da, db = a - a.mean(), b - b.mean()
    return float(np.dot(da, db) / math.sqrt(float(np.dot(da, da)) * float(np.dot(db, db))))


def _describe(enmo: dict[Side, FloatArray], fs: float) -> tuple[Side, float, float, float]:
    """Active hand, A, R and lag (ms) of one stretch of both hands' ENMO."""
    active = max(Side, key=lambda side: _rms(enmo[side]))
    still = enmo[active.other]
    xcorr, lag = _xcorr(enmo[active], still, fs)
    return active, _asymmetry(enmo[active], still), xcorr, lag


def _checked(acc: dict[Side, FloatArray], fs: float) -> int:
    n = int(acc[Side.L].shape[0])
    for side in Side:
        if acc[side].shape != (n, 3):
            raise ValueError(f"acc[{side}] has shape {acc[side].shape}, want ({n}, 3)")
    if n < 2 or not fs > 0:
        raise ValueError(f"need at least 2 samples and fs > 0, got {n} and {fs}")
    return n


def classify_window(acc: dict[Side, FloatArray], fs: float) -> PeerVerdict:
    """The method's bilateral rule on one trial window, with no session around it.

    acc[side]: (n, 3) acceleration in m/s^2 (gravity may or may not be included) of
    one trial window, both sides same length and same clock; fs in Hz. Mirror when
    A <= 0.6 and R >= 0.4 over the whole window; the session-level gates (detector
    score, artifact, boundary) need `classify_session`.
    """
    _checked(acc, fs)
    enmo = {side: _enmo(np.asarray(acc[side], dtype=float)) for side in Side}
    active, asym, xcorr, lag = _describe(enmo, fs)
    mirror = asym <= ASYM_CUT and xcorr >= XCORR_CUT
    return PeerVerdict(asym, xcorr, lag, active, mirror, False)


def _candidates(act: _Hand, still: _Hand, starts: FloatArray, win: int, fs: float) -> BoolArray:
    """The full rule on every analysis window of the session, `act` as the active hand."""
    feats = np.empty((starts.shape[0], 5))
    indicators = np.empty((starts.shape[0], 4))
    for i, s0 in enumerate(starts.astype(int).tolist()):
        w = slice(s0, s0 + win)
        ea, es, yz = act.enmo[w], still.enmo[w], still.yz[w]
        # the original's "selected" feature set, in its order
        feats[i] = (
            _asymmetry(ea, es),
            _xcorr(ea, es, fs)[0],
            _corr(act.jerk[w], still.jerk[w]),
            es.max(),
            _rms(still.jerk[w]),
        )
        # artifact indicators of the still hand; its jerk peak differentiates within
        # the window, as the original does
        jerk_peak = np.linalg.norm(np.gradient(yz, 1.0 / fs, axis=0), axis=1).max()
        energy = float((yz * yz).sum()) / (float((act.yz[w] ** 2).sum()) + 1e-6)
        indicators[i] = (es.max(), jerk_peak, _rms(yz), energy)
    artifact = artifact_windows(indicators)
    score = ensemble_scores(feats, ~artifact)
    t0 = starts / fs
    duration = act.enmo.shape[0] / fs
    boundary = (t0 < BOUNDARY_S) | (t0 + win / fs > duration - BOUNDARY_S)
    rule = (score >= SCORE_CUT) & (feats[:, 0] <= ASYM_CUT) & (feats[:, 1] >= XCORR_CUT)
    return np.asarray(rule & ~artifact & ~boundary, dtype=bool)


def classify_session(
    acc: dict[Side, FloatArray], fs: float, windows: list[tuple[float, float]]
) -> list[PeerVerdict]:
    """The whole method on a session, then one verdict per trial window.

    acc[side]: (n, 3) m/s^2 of the whole session, both sides on one clock starting
    at 0 s; fs in Hz; windows: (start, end) in session seconds. Thresholds, calm pool
    and detectors come from the whole session, once per hand as the active one.
    """
    n = _checked(acc, fs)
    hands = {side: _hand(np.asarray(acc[side], dtype=float), fs) for side in Side}
    win = int(WINDOW_S * fs)
    starts = np.arange(0, n - win + 1, max(int(win * (1.0 - OVERLAP)), 1), dtype=float)
    centres = (starts + win / 2) / fs
    calls = {side: _candidates(hands[side], hands[side.other], starts, win, fs) for side in Side}
    out: list[PeerVerdict] = []
    for t0, t1 in windows:
        if not t1 > t0:
            raise ValueError(f"empty window ({t0}, {t1})")
        lo, hi = (min(max(round(t * fs), 0), n) for t in (t0, t1))
        if hi - lo < 2:
            raise ValueError(f"window ({t0}, {t1}) holds under 2 samples of the session")
        active, asym, xcorr, lag = _describe({s: hands[s].enmo[lo:hi] for s in Side}, fs)
        inside = (centres >= t0) & (centres < t1)
        if not inside.any() and centres.size:  # shorter than the hop: the nearest window
            inside[int(np.argmin(np.abs(centres - (t0 + t1) / 2)))] = True
        mirror = bool(calls[active][inside].any())
        out.append(PeerVerdict(asym, xcorr, lag, active, mirror, False))
    return out
