"""Session statistics of the M4x28 peer method (see benchmarks/peer_m4x28.py).

Its artifact filter (an iterative one-sided median + k*MAD threshold per indicator)
and its three anomaly detectors fitted on the session's calm windows (robust
quantile, Isolation Forest, PCA reconstruction), combined by their median. Our own
numpy code after the original's description and source; nothing here is tuned.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from pipeline.engine.history import BoolArray
from sensors.types import FloatArray

MAD_SCALE = 1.4826  # scaled MAD estimates sigma for Gaussian data
EPS = 1e-12  # the original's floor under a MAD

# Artifact filter, the original's chosen configuration (its eda/artifact_demo.py CHOSEN_CFG)
ARTIFACT_K = 7.0  # MADs above the median
ARTIFACT_RELAX_K = 10.0  # used instead when fewer than ARTIFACT_MIN_CALM windows stay calm
ARTIFACT_MIN_CALM = 50
ARTIFACT_MAX_ITER = 5

# Detectors (its config.py)
QUANTILE_K = 5.0  # robust-quantile saturation: score 1 - exp(-max|z| / k)
IFOREST_TREES = 200
IFOREST_MAX_SAMPLES = 256
PCA_COMPONENTS_MAX = 8
MIN_CALM = 5  # fewer calm windows than this: every score is 0, as in the original
SEED = 42  # the original's RANDOM_SEED, here for our own Isolation Forest's draws
_EULER = 0.5772156649015329
IntArray = npt.NDArray[np.intp]


def _mad(x: FloatArray) -> float:
    return max(MAD_SCALE * float(np.median(np.abs(x - np.median(x)))), EPS)


def _outliers(values: FloatArray, k: float) -> BoolArray:
    """One-sided iterative threshold: median + k*MAD of the current inliers, refined."""
    mask = np.zeros(values.shape[0], dtype=bool)
    for _ in range(ARTIFACT_MAX_ITER):
        inliers = values[~mask]
        if inliers.shape[0] < 3:
            break
        new = values > float(np.median(inliers)) + k * _mad(inliers)
        if np.array_equal(new, mask):
            break
        mask = new
    return mask


def artifact_windows(indicators: FloatArray) -> BoolArray:
    """Windows flagged by any indicator column; k relaxed when too few stay calm."""
    mask = np.zeros(indicators.shape[0], dtype=bool)
    for k in (ARTIFACT_K, ARTIFACT_RELAX_K):
        mask = np.logical_or.reduce([_outliers(col, k) for col in indicators.T])
        if int((~mask).sum()) >= ARTIFACT_MIN_CALM:
            break
    return mask


def _ecdf(scores: FloatArray, calm_scores: FloatArray) -> FloatArray:
    """Share of calm scores at or below each score: 0 calm-like, 1 beyond all calm."""
    ranks = np.searchsorted(np.sort(calm_scores), scores, side="right")
    return np.asarray(np.clip(ranks / calm_scores.shape[0], 0.0, 1.0), dtype=float)


def _avg_path(n: int) -> float:
    """Expected depth of an unsuccessful search in a random binary tree of n points."""
    if n <= 1:
        return 0.0
    if n == 2:
        return 1.0
    return 2.0 * (math.log(n - 1) + _EULER) - 2.0 * (n - 1) / n


def _descend(
    node: FloatArray,
    query: FloatArray,
    idx: IntArray,
    depth: int,
    limit: int,
    rng: np.random.Generator,
    out: FloatArray,
) -> None:
    """Grow one isolation tree on `node` and add each query's path length to `out`.

    Both arrays are feature-major, (d, m) and (d, n_query); `idx` are the query
    columns that reached this node (never empty).
    """
    m = node.shape[1]
    lo, hi = node.min(axis=1), node.max(axis=1)
    free = np.flatnonzero(hi > lo)  # a split needs a feature that varies
    if depth >= limit or m <= 1 or free.size == 0:
        out[idx] += depth + _avg_path(m)
        return
    f = int(free[rng.integers(free.size)])
    cut = float(rng.uniform(lo[f], hi[f]))
    if cut >= hi[f]:  # rounded up onto the maximum: sklearn's fallback keeps both sides
        cut = float(lo[f])
    left, go = node[f] <= cut, query[f, idx] <= cut
    for part, sub in ((node[:, left], idx[go]), (node[:, ~left], idx[~go])):
        if sub.size:
            _descend(part, query, sub, depth + 1, limit, rng, out)


def _iforest(calm: FloatArray, query: FloatArray) -> FloatArray:
    """Isolation Forest anomaly score (higher: isolated sooner); only its ranks matter."""
    rng = np.random.default_rng(SEED)
    psi = min(IFOREST_MAX_SAMPLES, calm.shape[0])
    limit = math.ceil(math.log2(max(psi, 2)))  # sklearn's depth limit
    depth = np.zeros(query.shape[0])
    pool, rows = calm.T, np.ascontiguousarray(query.T)
    for _ in range(IFOREST_TREES):
        sample = pool[:, rng.choice(calm.shape[0], size=psi, replace=False)]
        _descend(sample, rows, np.arange(query.shape[0]), 0, limit, rng, depth)
    # sklearn's -decision_function is 2^(-depth / (trees * c(psi))) - 0.5: same ranks
    return -depth / IFOREST_TREES


def _pca_residual(z_calm: FloatArray, z: FloatArray) -> FloatArray:
    """Squared residual of each row off the calm pool's leading principal subspace."""
    n = max(min(PCA_COMPONENTS_MAX, z.shape[1], z_calm.shape[0]), 1)
    if n >= z.shape[1]:  # the kept components span the whole space: exactly 0
        return np.zeros(z.shape[0])
    mean = z_calm.mean(axis=0)
    _, _, vt = np.linalg.svd(z_calm - mean, full_matrices=False)
    basis = vt[:n]
    recon = (z - mean) @ basis.T @ basis + mean
    return np.asarray(((z - recon) ** 2).sum(axis=1), dtype=float)


def ensemble_scores(features: FloatArray, calm: BoolArray) -> FloatArray:
    """Median of the three detector scores in [0, 1], each fitted on the calm rows."""
    pool = features[calm]
    if pool.shape[0] < MIN_CALM:
        return np.zeros(features.shape[0])
    med = np.median(pool, axis=0)
    mad = np.maximum(MAD_SCALE * np.median(np.abs(pool - med), axis=0), EPS)
    z = (features - med) / mad
    quantile = 1.0 - np.exp(-np.abs(z).max(axis=1) / QUANTILE_K)
    forest = _iforest(pool, features)
    forest = _ecdf(forest, forest[calm])
    # With the 5 features the original keeps min(8, 5) = 5 components, the whole
    # space: the residual is exactly 0, every window ties with the whole calm pool and
    # scores 1, so the median is the larger of the other two scores. The original's
    # float run leaves ~1e-29 of rounding instead, whose ranks vote >= 0.7 on about
    # 60 % of the windows where the other two disagree (our synthetic sessions): we
    # take the exact value, a little more liberal than its run, not platform noise.
    pca = _pca_residual(z[calm], z)
    pca = _ecdf(pca, pca[calm])
    return np.asarray(np.median(np.vstack((quantile, forest, pca)), axis=0), dtype=float)
