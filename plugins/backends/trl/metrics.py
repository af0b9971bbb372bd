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

import math
import time
from pathlib import Path
from typing import Any

from harness.runs.rundir import append_jsonl, read_jsonl, rewrite_jsonl

# The trainer's end-of-training summary is not a step.
_SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_loss")


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
                rewrite_jsonl(self.path, [r for r in read_jsonl(self.path) if r.get("step", 0) <= state.global_step])
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
            row = {"step": state.global_step, "step_time_s": self.last_step_time, "step_cpu_s": self.last_step_cpu}
            row.update(logs)
            append_jsonl(self.path, row)  # a diverged (non-finite) value is logged as null

    return MetricsCallback()


# Shown on the progress bar, as running means over the last few logged steps.
_PROGRESS_KEYS = (
    ("rewards/accuracy/mean", "acc"),
    ("reward", "reward"),
    ("mean_token_accuracy", "tok_acc"),
    ("loss", "loss"),
)


def progress_callback(desc: str, window: int = 10) -> Any:
    """A transformers ``TrainerCallback``: one progress bar for the run, with the running
    accuracy reward and reward (GRPO) or token accuracy and loss (SFT) as its postfix.

    It replaces the trainer's own ``ProgressCallback``, which prints every log
    dictionary on the terminal; those stay in ``metrics.jsonl``.
    """
    from collections import deque

    from tqdm.auto import tqdm
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def __init__(self) -> None:
            self.bar = None
            self.recent: dict[str, deque] = {key: deque(maxlen=window) for key, _ in _PROGRESS_KEYS}

        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                self.bar = tqdm(
                    total=state.max_steps, initial=state.global_step, desc=desc, unit="step", dynamic_ncols=True
                )

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is None or not logs:
                return
            for key, _ in _PROGRESS_KEYS:
                value = logs.get(key)
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self.recent[key].append(float(value))
            shown = {
                label: f"{sum(self.recent[key]) / len(self.recent[key]):.3f}"
                for key, label in _PROGRESS_KEYS
                if self.recent[key]
            }
            if shown:
                self.bar.set_postfix(shown, refresh=False)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return StepProgress()


def quiet_progress(trainer: Any, desc: str) -> None:
    """Swap the trainer's log-printing progress callbacks for :func:`progress_callback`."""
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(progress_callback(desc))
