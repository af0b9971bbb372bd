"""Held-out accuracy during training: greedy answers on a fixed slice of another split, every K steps.

The training reward is measured on training prompts and, for GRPO, on
sampled completions; neither says whether the model learned the task. With
``trl.eval_steps: K`` a run scores the model every K steps (and before the
first step and after the last) on the first ``trl.eval_limit`` samples of
``trl.eval_split`` (same seed and task options as the training data),
greedily, with the run's template and the task's own ``is_correct``. The
value goes into that step's ``metrics.jsonl`` line as ``eval/accuracy``
(with ``eval/n``); the one before training is a line of its own at step 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import harness
from harness.runs.rundir import append_jsonl

ACCURACY = "eval/accuracy"
COUNT = "eval/n"


def heldout_samples(config: Any) -> list[Any]:
    """The fixed held-out slice of ``config``'s task (a clear error when the split has none)."""
    s = config.settings()
    task = harness.get_task(config.task)
    split = s.eval_split
    if split not in task.splits:
        raise harness.ConfigError(
            f"field 'trl.eval_split': task {task.name!r} has no split {split!r}; its splits are "
            f"{', '.join(task.splits)}."
        )
    if split == config.split:
        raise harness.ConfigError(
            f"field 'trl.eval_split': {split!r} is the split the run trains on; held-out accuracy needs "
            "another one (e.g. test)."
        )
    samples = list(
        task.samples(split, source=config.source, limit=s.eval_limit, seed=config.seed, **config.task_options)
    )
    if not samples:
        raise harness.ConfigError(f"field 'trl.eval_split': split {split!r} of task {task.name!r} is empty.")
    return samples


def accuracy(model: Any, processor: Any, task: Any, template: Any, samples: list[Any], max_new_tokens: int) -> float:
    """Greedy accuracy of ``model`` on ``samples`` (the hf engine's batched generation)."""
    from types import SimpleNamespace

    engine = harness.get_engine("hf")
    prompts = [task.build_prompt(s, template) for s in samples]
    settings = {
        "max_new_tokens": max_new_tokens,
        "batch_size": 16,
        "temperature": 0.0,
        "do_sample": False,
        "prefill": template.prefill,
        "progress": False,
    }
    handle = SimpleNamespace(model=model, processor=processor, device=next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        texts = [""] * len(prompts)
        for i, generation in engine.generate(handle, prompts, settings):
            texts[i] = template.prefill + generation.text
    finally:
        model.train(was_training)
    return sum(task.is_correct(t, s) for t, s in zip(texts, samples)) / len(samples)


def heldout_callback(config: Any, processor: Any, metrics_path: str | Path) -> Any:
    """A transformers ``TrainerCallback`` adding ``eval/accuracy`` every ``trl.eval_steps`` steps.

    Put it before the metrics callback: it adds its value to the step's log
    dictionary, which the metrics callback then writes.
    """
    from transformers import TrainerCallback

    s = config.settings()
    task = harness.get_task(config.task)
    template = harness.get_template(config.template)
    samples = heldout_samples(config)
    max_new = config.max_completion_length if config.method == "grpo" else 48

    class HeldOut(TrainerCallback):
        def __init__(self) -> None:
            self.pending: float | None = None
            self.history: list[tuple[int, float]] = []

        def _score(self, model: Any, step: int) -> float:
            value = accuracy(model, processor, task, template, samples, max_new)
            self.history.append((step, value))
            return value

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 0 and state.is_world_process_zero and model is not None:
                value = self._score(model, 0)
                append_jsonl(Path(metrics_path), {"step": 0, ACCURACY: value, COUNT: len(samples)})

        def on_step_end(self, args, state, control, model=None, **kwargs):
            step = state.global_step
            if model is None or not state.is_world_process_zero:
                return
            if step % s.eval_steps == 0 or step == state.max_steps:
                self.pending = self._score(model, step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.pending is not None and logs is not None and "train_runtime" not in logs:
                logs[ACCURACY] = self.pending
                logs[COUNT] = len(samples)
                self.pending = None

    return HeldOut()
