"""OpenRLHF custom reward for a harness run (copied into the job directory as ``reward_func.py``).

OpenRLHF loads this file with ``importlib`` from ``--reward.remote_url`` and
calls ``reward_func(queries, prompts, labels)`` per rollout. It reads
``reward_config.json`` next to itself (the reward spec, the template and the
tokenizer's special and image-pad tokens, written by the exporter) and scores
with the harness's reward objects, so training on OpenRLHF is rewarded
exactly as on TRL and in ``harness eval``. Needs ``harness`` importable on the
workers (the backend ships it as a Ray py_module); never imports trl or
transformers.

Everything that can fail before the first rollout fails here, at import:
OpenRLHF does not guard the import (the job stops at start with this error),
but it does guard each reward call (an error there becomes a ``None`` reward).
"""

import pathlib

try:
    from harness.plugins.backends.openrlhf.scoring import load_scorer
except ImportError as _exc:
    raise ImportError(
        f"{__file__}: cannot import the harness ({_exc}). The reward needs it on every worker: keep "
        "openrlhf.ship_harness: true (the default), or pip install rft-harness into the OpenRLHF environment."
    ) from _exc

_SCORER = load_scorer(pathlib.Path(__file__).parent)


def reward_func(queries, prompts, labels, **kwargs):
    """``{"rewards", "scores", "extra_logs"}`` for OpenRLHF (one tensor entry per query)."""
    return _SCORER(queries, prompts, labels)
