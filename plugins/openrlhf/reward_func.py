"""OpenRLHF custom reward for a harness run (copied into the job directory as ``reward_func.py``).

OpenRLHF loads this file with ``importlib`` from ``--reward.remote_url`` and
calls ``reward_func(queries, prompts, labels)`` per rollout. It reads
``reward_config.json`` next to itself (the reward spec and the tokenizer's
special and image-pad tokens, written by the exporter) and scores with the
harness's reward objects, so training on OpenRLHF is rewarded exactly as on
TRL and in ``harness eval``. Needs ``harness`` importable on the workers (the
backend ships it as a Ray py_module); never imports trl or transformers.
"""

import json
import pathlib
import threading

_CONFIG = pathlib.Path(__file__).with_name("reward_config.json")
_LOCK = threading.Lock()
_SCORER = None


def _scorer():
    global _SCORER
    with _LOCK:
        if _SCORER is None:
            from harness.plugins.openrlhf.reward import QueryScorer

            config = json.loads(_CONFIG.read_text(encoding="utf-8"))
            _SCORER = QueryScorer.from_config(config, base=_CONFIG.parent)
        return _SCORER


def reward_func(queries, prompts, labels, **kwargs):
    """``{"rewards", "scores", "extra_logs"}`` for OpenRLHF (one tensor entry per query)."""
    return _scorer()(queries, prompts, labels)
