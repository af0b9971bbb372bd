"""The statistics the reports print, pinned at values strictly between the extremes.

Each expected value is derived here independently of ``harness.stats``: the Wilson interval from its
closed form and from scipy, McNemar's exact p as a binomial sum in exact fractions (and scipy's
``binomtest``), the bootstrap intervals and p-values by a plain resampling loop that draws the same
indices from the same generator (``numpy.random.default_rng(seed).integers(0, n, size=(resamples, n))``,
the documented RNG contract) and takes percentiles by hand. So a 90% interval labelled 95%, a one-sided
p labelled two-sided, a swapped tail or a dropped rotation group all fail here, not only at p = 0 or 1.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from harness.errors import DataError
from harness.evaluation.results import bootstrap_ci, group_correctness
from harness.stats import ALPHA, compare_paired, format_p, mcnemar_exact, paired_bootstrap, wilson_interval

scipy_stats = pytest.importorskip("scipy.stats")

# Two runs on the same 20 samples (A right on 11, B on 14): 7 discordant pairs, 2 only A right, 5 only B right.
A = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1]
B = [1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1]


def _percentile(sorted_values: list[float], q: float) -> float:
    """numpy's default ("linear") percentile, written out: interpolate at rank q/100 * (N - 1)."""
    rank = q / 100 * (len(sorted_values) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (rank - lo) * (sorted_values[hi] - sorted_values[lo])


def _resampled_means(values: list[float], resamples: int, seed: int) -> list[float]:
    """Mean of each resample, one Python loop per resample (same draws as the contract)."""
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    return [sum(values[int(j)] for j in row) / len(values) for row in draws]


def _binomial_two_sided(b: int, c: int) -> Fraction:
    n = b + c
    tail = sum(Fraction(math.comb(n, k), 2**n) for k in range(min(b, c) + 1))
    return min(Fraction(1), 2 * tail)


# -- Wilson ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("k,n", [(7, 20), (1, 9), (33, 40), (128, 256), (3, 1000)])
@pytest.mark.parametrize("level", [0.95, 0.90, 0.99])
def test_wilson_interval_matches_the_closed_form_and_scipy(k, n, level):
    z = scipy_stats.norm.ppf(0.5 + level / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = wilson_interval(k, n, level)
    assert 0 < low < p < high < 1
    assert (low, high) == (pytest.approx(centre - half, abs=1e-12), pytest.approx(centre + half, abs=1e-12))
    ref = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert (low, high) == (pytest.approx(ref.low, abs=1e-12), pytest.approx(ref.high, abs=1e-12))


def test_wilson_interval_hand_checked_values_and_level_is_not_ignored():
    # 7/20, z = 1.959964: centre (0.35 + 0.09604) / 1.19207 = 0.374153, half 0.192962
    assert wilson_interval(7, 20) == (pytest.approx(0.181192, abs=1e-6), pytest.approx(0.567146, abs=1e-6))
    # 90%: z = 1.644854, a narrower interval inside the 95% one
    assert wilson_interval(7, 20, 0.90) == (pytest.approx(0.202260, abs=1e-6), pytest.approx(0.533487, abs=1e-6))
    assert wilson_interval(7, 20, 0.95) == wilson_interval(7, 20)  # the default is 95%


def test_wilson_interval_ends_are_exact_only_at_the_extremes():
    low, high = wilson_interval(1, 10)
    assert 0 < low < 0.1 < high < 1
    low, high = wilson_interval(9, 10)
    assert 0 < low < 0.9 < high < 1
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 1) == (0.0, pytest.approx(0.793450, abs=1e-6))
    for bad in (-1, 11):
        with pytest.raises(ValueError, match=r"within 0\.\.10"):
            wilson_interval(bad, 10)


# -- McNemar exact ---------------------------------------------------------------------------------


@pytest.mark.parametrize("b,c", [(7, 2), (2, 7), (13, 5), (6, 2), (1, 0), (0, 5), (20, 11), (4, 5), (40, 25)])
def test_mcnemar_exact_is_the_two_sided_binomial_sum(b, c):
    expected = _binomial_two_sided(b, c)
    assert mcnemar_exact(b, c) == pytest.approx(float(expected), rel=1e-12)
    assert mcnemar_exact(b, c) == pytest.approx(scipy_stats.binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-12)


def test_mcnemar_exact_hand_checked_values_between_the_extremes():
    # b=7, c=2: 2 * (C(9,0) + C(9,1) + C(9,2)) / 2^9 = 2 * 46 / 512; one-sided would be 46/512 = 0.0898
    assert mcnemar_exact(7, 2) == 92 / 512 == 0.1796875
    # b=13, c=5: 2 * sum_{k<=5} C(18,k) / 2^18 = 2 * 12616 / 262144
    assert mcnemar_exact(13, 5) == 2 * 12616 / 2**18
    # just either side of 0.05: 9 vs 2 (p = 0.0654) is not significant, 10 vs 2 (p = 0.0386) is
    assert 0.05 < mcnemar_exact(9, 2) == pytest.approx(134 / 2048) and mcnemar_exact(10, 2) < 0.05
    # a tie is p = 1 (the doubled tail exceeds 1)
    assert mcnemar_exact(4, 4) == 1.0 and mcnemar_exact(4, 5) == 1.0


# -- paired bootstrap ------------------------------------------------------------------------------


def _bootstrap_reference(a, b, resamples, seed, level):
    d = [float(y) - float(x) for x, y in zip(a, b)]
    means = sorted(_resampled_means(d, resamples, seed))
    tail = (1 - level) / 2 * 100
    below = sum(m <= 0 for m in means) / resamples
    above = sum(m >= 0 for m in means) / resamples
    return {
        "diff": sum(d) / len(d),
        "low": _percentile(means, tail),
        "high": _percentile(means, 100 - tail),
        "p": min(1.0, 2 * min(below, above)),
    }


@pytest.mark.parametrize("level", [0.95, 0.90, 0.80])
@pytest.mark.parametrize("seed", [0, 7])
def test_paired_bootstrap_matches_an_independent_resampling_loop(level, seed):
    got = paired_bootstrap(A, B, resamples=2000, seed=seed, level=level)
    want = _bootstrap_reference(A, B, 2000, seed, level)
    assert got == {k: pytest.approx(v, abs=1e-12) for k, v in want.items()}
    assert got["low"] < got["diff"] < got["high"] and 0 < got["p"] < 1


def test_paired_bootstrap_hand_checked_interval_and_two_sided_p():
    got = paired_bootstrap(A, B, resamples=2000, seed=7)
    # d = B - A: five +1, two -1 in 20 pairs -> +0.15
    assert got["diff"] == pytest.approx(0.15)
    # the 2.5th / 97.5th percentiles of the 2,000 resampled means (multiples of 1/20)
    assert (got["low"], got["high"]) == (pytest.approx(-0.10), pytest.approx(0.40))
    # 90% is the 5th / 95th percentiles: strictly inside, so a 90% interval printed as 95% fails here
    narrow = paired_bootstrap(A, B, resamples=2000, seed=7, level=0.90)
    assert (narrow["low"], narrow["high"]) == (pytest.approx(-0.05), pytest.approx(0.35))
    # two-sided: twice the 16.75% of resampled means at or below zero (one-sided would be 0.1675)
    assert got["p"] == pytest.approx(0.335)
    means = _resampled_means([y - x for x, y in zip(A, B)], 2000, 7)
    assert sum(m <= 0 for m in means) == 335 and got["p"] == 2 * 335 / 2000
    # B worse than A: the interval and the difference flip, the p-value does not
    flipped = paired_bootstrap(B, A, resamples=2000, seed=7)
    assert flipped["diff"] == pytest.approx(-0.15) and flipped["p"] == got["p"]
    assert (flipped["low"], flipped["high"]) == (pytest.approx(-0.40), pytest.approx(0.10))


def test_paired_bootstrap_p_counts_the_far_tail_from_zero_on_either_side():
    # mostly worse, with a few better: the far side is "at or above zero"
    a = [1] * 12 + [0] * 3 + [1, 0] * 5
    b = [0] * 12 + [1] * 3 + [1, 0] * 5
    got = paired_bootstrap(a, b, resamples=3000, seed=1)
    want = _bootstrap_reference(a, b, 3000, 1, 0.95)
    assert got == {k: pytest.approx(v, abs=1e-12) for k, v in want.items()}
    assert got["diff"] == pytest.approx(-9 / 25) and got["high"] < 0 and 0 < got["p"] < 0.05


def test_paired_bootstrap_default_is_ten_thousand_resamples_at_95_percent():
    assert paired_bootstrap(A, B) == paired_bootstrap(A, B, resamples=10000, seed=0, level=0.95)
    want = _bootstrap_reference(A, B, 10000, 0, 0.95)
    assert paired_bootstrap(A, B) == {k: pytest.approx(v, abs=1e-12) for k, v in want.items()}


def test_paired_bootstrap_refuses_unpaired_shapes():
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap([1, 0, 1], [1, 0])
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap([[1, 0]], [[1, 0]])
    with pytest.raises(ValueError, match="no pairs"):
        paired_bootstrap([], [])


# -- compare_paired: what the paired-test tables print ----------------------------------------------


def test_compare_paired_fields_are_each_their_own_statistic():
    ids = [f"s{i:02d}" for i in range(len(A))]
    result = compare_paired(dict(zip(ids, map(bool, A))), dict(zip(ids, map(bool, B))))
    boot = _bootstrap_reference(A, B, 10000, 0, 0.95)
    assert (result.n, result.only_a, result.only_b) == (20, 2, 5)
    assert (result.accuracy_a, result.accuracy_b) == (pytest.approx(11 / 20), pytest.approx(14 / 20))
    assert result.diff == pytest.approx(0.15)
    # 2 * (C(7,0) + C(7,1) + C(7,2)) / 2^7 = 58 / 128
    assert result.p_mcnemar == float(_binomial_two_sided(2, 5)) == 58 / 128
    assert (result.diff_low, result.diff_high, result.p_bootstrap) == (
        pytest.approx(boot["low"], abs=1e-12),
        pytest.approx(boot["high"], abs=1e-12),
        pytest.approx(boot["p"], abs=1e-12),
    )
    assert result.diff_low < 0 < result.diff_high and result.p_bootstrap != result.p_mcnemar
    assert not result.significant and result.to_dict()["significant"] is False
    # the resamples and seed given reach the bootstrap
    other = compare_paired(dict(zip(ids, map(bool, A))), dict(zip(ids, map(bool, B))), resamples=2000, seed=7)
    assert (other.diff_low, other.diff_high, other.p_bootstrap) == (
        pytest.approx(-0.10),
        pytest.approx(0.40),
        pytest.approx(0.335),
    )


def test_compare_paired_pairs_by_sample_id_not_by_position():
    ids = [f"s{i:02d}" for i in range(len(A))]
    a = dict(zip(ids, map(bool, A)))
    b = dict(reversed(list(zip(ids, map(bool, B)))))  # same pairs, another insertion order
    result = compare_paired(a, b)
    assert (result.only_a, result.only_b) == (2, 5)


@pytest.mark.parametrize("b,c", [(9, 2), (10, 2)])
def test_significant_is_mcnemar_below_alpha(b, c):
    a = {f"x{i}": i < b for i in range(b + c)}
    other = {f"x{i}": i >= b for i in range(b + c)}
    result = compare_paired(a, other)
    assert (result.only_a, result.only_b) == (b, c)
    assert result.significant is (mcnemar_exact(b, c) < ALPHA)
    assert ALPHA == 0.05


def test_format_p_rounds_to_three_places_and_floors_at_one_in_a_thousand():
    assert format_p(0.1796875) == "p=0.180"
    assert format_p(0.001) == "p=0.001"
    assert format_p(0.000999) == "p<0.001"
    assert format_p(1.0) == "p=1.000"


# -- the accuracy interval of results.json ("bootstrap 95% CI" in the eval report) --------------------


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_accuracy_bootstrap_ci_matches_an_independent_resampling_loop(level):
    values = [float(v) for v in A]
    means = sorted(_resampled_means(values, 1000, 3))
    tail = (1 - level) / 2 * 100
    low, high = bootstrap_ci(values, resamples=1000, seed=3, level=level)
    assert (low, high) == (
        pytest.approx(_percentile(means, tail), abs=1e-12),
        pytest.approx(_percentile(means, 100 - tail), abs=1e-12),
    )
    assert 0 < low < 0.55 < high < 1


def test_accuracy_bootstrap_ci_hand_checked_defaults_and_blocks(monkeypatch):
    import harness.evaluation.results as results

    values = [float(v) for v in A]  # 11 of 20 right
    default = bootstrap_ci(values)
    assert default == bootstrap_ci(values, resamples=1000, seed=0, level=0.95)
    assert default == (pytest.approx(0.30), pytest.approx(0.75))
    # resampled in blocks: the same interval to the last bit, whatever the block size
    monkeypatch.setattr(results, "BOOTSTRAP_BLOCK", 7 * len(values) + 3)
    assert bootstrap_ci(values) == default
    assert bootstrap_ci([], 1000) == (None, None) and bootstrap_ci(values, 0) == (None, None)


def test_accuracy_of_a_circular_group_needs_every_rotation():
    records = [
        {"id": f"q{q}#r{k}", "group": f"q{q}", "correct": not (q == 1 and k == 2)} for q in range(3) for k in range(3)
    ]
    assert group_correctness(records) == [True, False, True]


# -- edges the mutation run of harness/stats.py found unpinned (docs/testing.md) ------------------------


def test_wilson_upper_end_is_exactly_one_where_the_formula_leaves_float_dust():
    # at 13/13 (95%), 6/6 (90%), 7/7 (99%) the closed form gives 0.9999999999999999, printed as < 100%
    for n, level in ((13, 0.95), (6, 0.90), (7, 0.99)):
        assert wilson_interval(n, n, level)[1] == 1.0
        assert wilson_interval(0, n, level)[0] == 0.0


def test_paired_bootstrap_p_is_capped_at_one_when_pairs_disagree_both_ways():
    # d = (-1, +1): half the resampled means are exactly 0, so each side holds ~75% and twice that exceeds 1
    got = paired_bootstrap([1, 0], [0, 1], resamples=1000, seed=0)
    assert got["diff"] == 0.0 and got["p"] == 1.0


def test_paired_bootstrap_interval_of_continuous_scores_is_at_the_exact_percentile_ranks():
    # distinct resampled means (rewards, not 0/1): an interval taken at ranks 2.525 / 97.475 instead of
    # 2.5 / 97.5 moves here, where 0/1 data would hide it behind ties
    a = [round((i * 37 % 101) / 101, 4) for i in range(24)]
    b = [round((i * 53 % 89) / 89, 4) for i in range(24)]
    for level in (0.95, 0.90):
        got = paired_bootstrap(a, b, resamples=2000, seed=5, level=level)
        want = _bootstrap_reference(a, b, 2000, 5, level)
        assert got == {k: pytest.approx(v, abs=1e-12) for k, v in want.items()}


def test_statistics_errors_say_what_is_wrong_and_how_to_fix_it():
    first = {f"s{i}": i % 2 == 0 for i in range(10)}
    second = {f"s{i}": True for i in range(5, 10)} | {"t0": False}
    with pytest.raises(DataError) as info:
        compare_paired(first, second)
    assert str(info.value) == (
        "the two runs: not the same test samples, so they cannot be compared pair by pair "
        "(5 only in the first, e.g. ['s0', 's1', 's2']; 1 only in the second, e.g. ['t0']). "
        "Evaluate both on the same split, limit and seed."
    )
    with pytest.raises(DataError) as info:
        compare_paired({}, {}, what="think vs nothink")
    assert str(info.value) == "think vs nothink: no samples to compare."
    for b, c in ((-1, 3), (3, -1)):
        with pytest.raises(ValueError, match=r"^discordant counts must be >= 0$"):
            mcnemar_exact(b, c)
    with pytest.raises(ValueError, match=r"^no pairs$"):
        paired_bootstrap([], [])
