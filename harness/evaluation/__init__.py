"""Evaluation: ``harness eval``'s runner, per-sample logs, results, reports and shard merging.

:func:`run_eval` runs (or resumes) an :class:`~harness.config.eval.EvalConfig`;
:func:`merge_shards` combines ``--shard I/N`` outputs. Imports are light; the
engine loads torch/transformers only when it runs.
"""

from __future__ import annotations

from harness.evaluation.runner import run_eval
from harness.evaluation.shards import merge_shards

__all__ = ["merge_shards", "run_eval"]
