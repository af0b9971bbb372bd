"""Uncertainty for accuracy numbers: Wilson intervals and paired tests on the same samples.

Claims that one model beats another rest on held-out accuracy, its 95%
interval and a *paired* test: both models answered the same test samples, so
what matters is the samples on which they disagree.

- :func:`wilson_interval`: the Wilson score interval of a proportion (no
  resampling, so the same counts always give the same interval; sane at 0%
  and 100%, where the normal interval collapses).
- :func:`mcnemar_exact`: the exact (binomial) McNemar test on the discordant
  pairs ``b`` (only A right) and ``c`` (only B right), two-sided.
- :func:`paired_bootstrap`: a percentile interval of the accuracy difference
  from resampling samples (pairs kept together), with a bootstrap p-value.
- :func:`compare_paired`: both, from two ``{sample id: correct}`` maps that
  must hold the same ids.

Only numpy and the standard library; numpy is imported where it is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from harness.errors import DataError

ALPHA = 0.05  # the significance level the reports mark


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | tuple[None, None]:
    """The Wilson score interval for ``successes`` out of ``n`` (``(None, None)`` when ``n == 0``)."""
    if n <= 0:
        return None, None
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within 0..{n}, got {successes}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # exact ends at 0 and n (the formula leaves float dust there)
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for ``b`` and ``c`` discordant pairs.

    Under the null hypothesis each discordant pair is equally likely to favour
    either model, so ``min(b, c)`` is Binomial(``b + c``, 1/2); the p-value is
    twice its lower tail, capped at 1. Computed with exact integers.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], resamples: int = 10000, seed: int = 0, level: float = 0.95
) -> dict[str, float]:
    """Bootstrap of ``mean(b) - mean(a)`` over pairs ``(a[i], b[i])``.

    Returns ``diff`` (observed), ``low``/``high`` (percentile interval) and
    ``p``: twice the share of resampled differences on the far side of zero
    (capped at 1; 1.0 when every pair agrees).
    """
    import numpy as np

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired values need the same length, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("no pairs")
    d = y - x
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    if not d.any():
        p = 1.0
    else:
        p = float(min(1.0, 2 * min((means <= 0).mean(), (means >= 0).mean())))
    return {"diff": float(d.mean()), "low": float(low), "high": float(high), "p": p}


@dataclass(frozen=True)
class PairedResult:
    """B against A on the same samples (``diff`` = accuracy of B minus accuracy of A)."""

    n: int
    accuracy_a: float
    accuracy_b: float
    diff: float
    only_a: int  # samples A got right and B wrong
    only_b: int  # samples B got right and A wrong
    p_mcnemar: float
    diff_low: float
    diff_high: float
    p_bootstrap: float

    @property
    def significant(self) -> bool:
        """The exact McNemar test rejects "equally accurate" at :data:`ALPHA`."""
        return self.p_mcnemar < ALPHA

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"significant": self.significant}


def compare_paired(
    a: Mapping[str, bool],
    b: Mapping[str, bool],
    *,
    what: str = "the two runs",
    resamples: int = 10000,
    seed: int = 0,
) -> PairedResult:
    """Paired comparison of two ``{sample id: correct}`` maps over the same sample ids.

    :raises DataError: naming ``what`` and example ids when the sample sets differ
        (a paired test on different samples would be meaningless).
    """
    if set(a) != set(b):
        missing_b, missing_a = sorted(set(a) - set(b)), sorted(set(b) - set(a))
        sides = [
            f"{len(ids)} only in the {side}, e.g. {ids[:3]}"
            for side, ids in (("first", missing_b), ("second", missing_a))
            if ids
        ]
        raise DataError(
            f"{what}: not the same test samples, so they cannot be compared pair by pair "
            f"({'; '.join(sides)}). Evaluate both on the same split, limit and seed."
        )
    if not a:
        raise DataError(f"{what}: no samples to compare.")
    ids = sorted(a)
    xa = [float(bool(a[i])) for i in ids]
    xb = [float(bool(b[i])) for i in ids]
    only_a = sum(1 for i in ids if a[i] and not b[i])
    only_b = sum(1 for i in ids if b[i] and not a[i])
    boot = paired_bootstrap(xa, xb, resamples=resamples, seed=seed)
    n = len(ids)
    return PairedResult(
        n=n,
        accuracy_a=sum(xa) / n,
        accuracy_b=sum(xb) / n,
        diff=boot["diff"],
        only_a=only_a,
        only_b=only_b,
        p_mcnemar=mcnemar_exact(only_a, only_b),
        diff_low=boot["low"],
        diff_high=boot["high"],
        p_bootstrap=boot["p"],
    )


def format_p(p: float) -> str:
    """``p=0.012``, ``p<0.001``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"
