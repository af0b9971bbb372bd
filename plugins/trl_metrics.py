"""``metrics.jsonl``: one JSON line per logged training step, written as training goes.

Each line holds ``step``, ``step_time_s`` (wall seconds of the last optimizer
step, generation included), ``step_cpu_s`` (CPU seconds this process spent on
it, all threads: unlike wall time, barely moved by other load) and TRL's own log keys, unchanged: ``loss``,
``learning_rate``, ``grad_norm``; for GRPO ``rewards/<component>/mean`` and
``/std`` for every reward component, ``reward`` (the weighted total),
``completions/mean_length`` (mean completion length in tokens), ``kl`` (when
beta > 0), ``entropy``...; for SFT ``mean_token_accuracy``, ``num_tokens``...
On ``--resume`` the lines after the resumed checkpoint's step are dropped, so
the file never holds a step twice.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

# The trainer's end-of-training summary is not a step.
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_loss")


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a ``metrics.jsonl`` (a torn last line is skipped)."""
    rows = []
    path = Path(path)
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_callback(path: str | Path) -> Any:
    """A transformers ``TrainerCallback`` that appends each log to ``path``."""
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        def __init__(self) -> None:
            self.path = Path(path)
            self.last_step_time: float | None = None
            self.last_step_cpu: float | None = None
            self.summary: dict[str, Any] = {}
            self._t = self._cpu = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                kept = [r for r in read_metrics(self.path) if r.get("step", 0) <= state.global_step]
                with self.path.open("w", encoding="utf-8") as f:
                    f.writelines(json.dumps(r) + "\n" for r in kept)
            self._t, self._cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kwargs):
            now, cpu = time.perf_counter(), time.process_time()
            self.last_step_time, self._t = now - self._t, now
            self.last_step_cpu, self._cpu = cpu - self._cpu, cpu

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            if any(k in logs for k in _SUMMARY_KEYS):
                self.summary = dict(logs)
                return
            row = {"step": state.global_step, "step_time_s": self.last_step_time,
                   "step_cpu_s": self.last_step_cpu}
            row.update({k: _clean(v) for k, v in logs.items()})
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")

    return MetricsCallback()
