"""Alarms: a stateful object fed each step's indicator values; warns, writes examples, may stop the run."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.sample import Sample
from harness.errors import HarnessError
from harness.hacking.indicators import DESCRIPTIONS, INDICATORS, LENGTH_SHARE, Indicators
from harness.hacking.settings import HackingMonitor
from harness.runs.rundir import write_text

logger = logging.getLogger("harness.hacking")


class RewardHackingError(HarnessError):
    """A run stopped because an indicator crossed its threshold with ``stop_on_hack``."""


@dataclass
class Alarm:
    """One indicator at or over its threshold at one step."""

    indicator: str
    step: int
    value: float
    threshold: float
    examples_file: Path | None = None

    def message(self) -> str:
        what = DESCRIPTIONS.get(self.indicator, "flagged by the task")
        if self.indicator == LENGTH_SHARE:
            said = f"{self.value:.2f} of the reward comes from length"
        else:
            said = f"{100 * self.value:.0f}% of completions: {what}"
        where = f"; examples in {self.examples_file}" if self.examples_file else ""
        return (
            f"possible reward hacking at step {self.step}: {self.indicator} = {self.value:.3f} "
            f">= threshold {self.threshold:g} ({said}; mean over the recent steps){where}"
        )


class HackingAlarm:
    """Fed once per step with the step's indicator values; warns, records examples, may stop.

    An indicator alarms on a sustained, sizeable signal, at a step at or after
    ``settings.min_step``, when all three hold:

    - the mean of its last ``settings.window`` logged values reaches its
      threshold (fewer values early in a run);
    - at least ``settings.min_steps_over`` of those values are each at or over
      the threshold (at most as many as the window holds);
    - that mean exceeds the baseline, the mean of the run's first
      ``settings.baseline_steps`` values that are not in the window, by
      ``settings.min_rise`` (no such values yet: no baseline to compare with).

    It alarms again only after its window mean has dropped below the
    threshold in between (one warning per crossing, not one per step).

    :param settings: the thresholds and switches.
    :param output: the run directory; examples go to ``<output>/hacking/step-<N>.jsonl``
        (``None``: no files).
    :param warn: where warnings go (default: the ``harness.hacking`` logger).
    """

    def __init__(
        self,
        settings: HackingMonitor,
        output: str | Path | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.output = Path(output) if output is not None else None
        self.warn = warn or logger.warning
        self.alarms: list[Alarm] = []
        self.stop_reason: str | None = None
        self._above: set[str] = set()
        self._checked_names = False
        self._history: dict[str, list[float]] = {}

    @property
    def folder(self) -> Path | None:
        return self.output / "hacking" if self.output is not None else None

    def observe(
        self,
        step: int,
        values: Mapping[str, float | None],
        examples: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> list[Alarm]:
        """The alarms raised at ``step`` by ``values`` (``{indicator: value}``).

        :param examples: flagged completions by indicator (JSON-able dicts:
            completion, sample id...); the first ``settings.examples`` of each
            alarmed indicator are written to the step's file.
        """
        if not self._checked_names and values:
            self._checked_names = True
            stray = sorted(
                n
                for n, t in self.settings.thresholds.items()
                if t is not None and n not in values and n not in INDICATORS
            )
            if stray:  # a task's own indicator misspelled in the config would never alarm
                self.warn(
                    f"monitor.thresholds names {', '.join(stray)}, which this run does not compute "
                    f"(it computes: {', '.join(sorted(values))}); those thresholds never alarm."
                )
        raised = []
        for name, value in values.items():
            threshold = self.settings.thresholds.get(name)
            if threshold is None or value is None or not math.isfinite(value):
                continue
            history = self._history.setdefault(name, [])
            history.append(float(value))
            mean = self._sustained(history, threshold)
            if mean is None:
                self._above.discard(name)
                continue
            if step < self.settings.min_step or name in self._above:
                continue
            self._above.add(name)
            raised.append(Alarm(name, step, mean, float(threshold)))
        if not raised:
            return []
        path = self._write_examples(step, raised, examples or {})
        for alarm in raised:
            alarm.examples_file = path
            self.warn(alarm.message())
        self.alarms += raised
        if self.settings.stop_on_hack and self.stop_reason is None:
            first = raised[0]
            self.stop_reason = (
                f"Stopped by the reward-hacking monitor (stop_on_hack): {first.message()}. "
                "Inspect the examples; to go on, raise that threshold or set stop_on_hack to false."
            )
        return raised

    def _sustained(self, history: Sequence[float], threshold: float) -> float | None:
        """The window's mean when the signal is sustained and sizeable (see the class doc), else ``None``."""
        s = self.settings
        recent = history[-s.window :]
        mean = sum(recent) / len(recent)
        if mean < threshold or sum(v >= threshold for v in recent) < min(s.min_steps_over, len(recent)):
            return None
        earlier = history[: max(0, len(history) - len(recent))][: s.baseline_steps]
        if earlier and mean - sum(earlier) / len(earlier) < s.min_rise:
            return None
        return mean

    def _write_examples(
        self, step: int, alarms: list[Alarm], examples: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> Path | None:
        if self.folder is None:
            return None
        lines = []
        for alarm in alarms:
            for example in list(examples.get(alarm.indicator, ()))[: self.settings.examples]:
                lines.append(
                    {
                        "step": step,
                        "indicator": alarm.indicator,
                        "value": alarm.value,
                        "threshold": alarm.threshold,
                        **example,
                    }
                )
            if not examples.get(alarm.indicator):  # e.g. length_share: no single completion to blame
                lines.append(
                    {"step": step, "indicator": alarm.indicator, "value": alarm.value, "threshold": alarm.threshold}
                )
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"step-{step}.jsonl"
        return write_text(path, "".join(json.dumps(line, ensure_ascii=False, default=str) + "\n" for line in lines))


def examples_of(
    indicators: Indicators,
    texts: Sequence[str],
    samples: Sequence[Sample],
    limit: int,
    rewards: Sequence[float] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Up to ``limit`` flagged completions per indicator, as JSON-able dicts for :meth:`HackingAlarm.observe`;
    for ``hack/length_share`` the completions with the largest shares (each with its ``length_share``)."""

    def example(i: int) -> dict[str, Any]:
        return {
            "id": samples[i].id,
            "gold": samples[i].answer,
            "completion": texts[i],
            **({"reward": rewards[i]} if rewards is not None else {}),
        }

    out = {name: [example(i) for i in indicators.flagged(name)[:limit]] for name in indicators.flags}
    shares = indicators.length_shares
    if shares is not None:
        top = sorted((i for i in range(indicators.n) if shares[i] > 0), key=lambda i: -shares[i])[:limit]
        out[LENGTH_SHARE] = [{**example(i), "length_share": shares[i]} for i in top]
    return out
