"""results.json numbers that must not depend on how they are computed: the bootstrap in blocks."""

from __future__ import annotations

import numpy as np

from harness.evaluation import results


def test_the_bootstrap_in_blocks_gives_the_interval_of_one_block(monkeypatch):
    """Blocks keep memory flat at any n; the generator fills them in order, so the CI is bit-identical."""
    values = list(np.random.default_rng(1).random(3001) > 0.4)
    whole = results.bootstrap_ci(values, resamples=700, seed=5)
    monkeypatch.setattr(results, "BOOTSTRAP_BLOCK", 3001 * 64 + 5)  # 64 resamples a block, the last one short
    assert results.bootstrap_ci(values, resamples=700, seed=5) == whole
    monkeypatch.setattr(results, "BOOTSTRAP_BLOCK", 1)  # one resample a block
    assert results.bootstrap_ci(values, resamples=700, seed=5) == whole
    low, high = whole
    assert low < float(np.mean(values)) < high
