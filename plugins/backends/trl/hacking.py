"""The reward-hacking monitor inside TRL's GRPOTrainer: indicators per batch, alarms per logged step.

:class:`HackingWatch` joins the harness's monitor (:mod:`harness.hacking`) to
TRL in two places:

- as the observer of the run's reward functions
  (:class:`~harness.plugins.backends.trl.reward_functions.TrlReward`): once every component has
  scored a batch, the indicators are computed from those values (no reward is
  computed twice), with ``completion_ids`` for the token counts, and logged
  through TRL's ``log_metric``, which averages them over processes and over
  the step's batches into the step's logs, hence ``metrics.jsonl``;
- as a ``TrainerCallback``: at each log, the step's ``hack/*`` values (the
  same on every process) go to a :class:`~harness.hacking.HackingAlarm`, which
  warns and writes examples on the main process; with ``stop_on_hack`` every
  process stops at the same step, and the backend raises
  :class:`~harness.hacking.RewardHackingError` once the final model is saved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.hacking import (
    PREFIX,
    HackingAlarm,
    HackingMonitor,
    RewardBatchIndicators,
    examples_of,
)


class HackingWatch:
    """The monitor of one GRPO run on TRL.

    :param settings: the run's ``monitor`` settings.
    :param output: the run directory (examples go to ``<output>/hacking/``).
    """

    def __init__(self, settings: HackingMonitor, output: str | Path) -> None:
        self.settings = settings
        self.output = Path(output)
        self.indicators: RewardBatchIndicators | None = None
        self.components: list[str] = []
        self.alarm: HackingAlarm | None = None
        self._batch: Any = None
        self._details: dict[str, list[float]] = {}
        self._examples: dict[str, list[dict[str, Any]]] = {}
        self._unlogged: dict[str, list[float]] = {}  # values TRL could not take (no log_metric)

    @property
    def stop_reason(self) -> str | None:
        return self.alarm.stop_reason if self.alarm is not None else None

    def bind(self, weighted: Any, template: Any, cap: int | None) -> HackingWatch:
        """Watch the rewards of ``weighted`` (a :class:`~harness.rewards.spec.WeightedReward`)."""
        self.components = [c.name for c in weighted.components]
        weights = {c.name: c.weight for c in weighted.components}
        self.indicators = RewardBatchIndicators(self.settings, weights, template=template, cap=cap)
        return self

    # -- the reward side --------------------------------------------------------------------------

    def observe(
        self,
        name: str,
        completions: Sequence[Any],
        columns: Mapping[str, Any],
        values: list[float],
        trl_kwargs: Mapping[str, Any],
    ) -> None:
        """One component's values for a batch; the last component's call computes the indicators."""
        if self.indicators is None:
            return
        if self._batch is not completions:  # TRL passes the same list to every reward of a batch
            self._batch, self._details = completions, {}
        self._details[name] = values
        if len(self._details) < len(self.components):
            return
        details = {n: self._details[n] for n in self.components}
        self._batch, self._details = None, {}
        ids = trl_kwargs.get("completion_ids")
        num_tokens = [len(x) for x in ids] if ids is not None else None
        indicators, texts, samples = self.indicators(completions, columns, details, num_tokens)
        log_metric = trl_kwargs.get("log_metric")
        for key, value in indicators.values().items():
            if callable(log_metric):
                log_metric(key, value)
            else:
                self._unlogged.setdefault(key, []).append(value)
        weights = self.indicators.weights
        totals = [sum(weights[n] * details[n][i] for n in self.components) for i in range(len(texts))]
        limit = self.settings.examples
        for key, found in examples_of(indicators, texts, samples, limit, rewards=totals).items():
            kept = self._examples.setdefault(key, [])
            kept += found[: max(0, limit - len(kept))]

    # -- the trainer side -------------------------------------------------------------------------

    def callback(self) -> Any:
        """The ``TrainerCallback`` that feeds the alarm at every log (put it before the metrics writer)."""
        from transformers import TrainerCallback

        watch = self

        class HackingCallback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                main = state.is_world_process_zero
                watch.alarm = HackingAlarm(
                    watch.settings,
                    output=watch.output if main else None,
                    warn=None if main else (lambda message: None),
                )

            def on_log(self, args, state, control, logs=None, **kwargs):
                if logs is None or watch.alarm is None:
                    return
                for key, values in watch._unlogged.items():
                    logs[key] = sum(values) / len(values)
                watch._unlogged = {}
                values = {k: v for k, v in logs.items() if k.startswith(PREFIX)}
                if not values:
                    return
                examples, watch._examples = watch._examples, {}
                watch.alarm.observe(state.global_step, values, examples)
                if watch.alarm.stop_reason is not None:
                    control.should_training_stop = True

        return HackingCallback()

    def summary(self) -> dict[str, Any]:
        """What the run's summary records: the alarms raised and why the run stopped, if it did."""
        alarms = self.alarm.alarms if self.alarm is not None else []
        return {
            "alarms": [
                {
                    "indicator": a.indicator,
                    "step": a.step,
                    "value": a.value,
                    "threshold": a.threshold,
                    "examples": str(a.examples_file) if a.examples_file else None,
                }
                for a in alarms
            ],
            "stopped": self.stop_reason,
        }
