"""Scoring OpenRLHF rollouts with the harness's own reward objects.

OpenRLHF calls ``reward_func(queries, prompts, labels)`` (see
:mod:`harness.plugins.backends.openrlhf.reward_func`, the shim copied into every job
directory) once per rollout. ``queries`` is prompt + response decoded with the
special tokens kept and every image placeholder expanded to its full run of
pad tokens; ``prompts`` is the exported prompt text; ``labels`` is the JSON
label the exporter wrote. :class:`QueryScorer` recovers the completion, calls
the same reward objects as TRL and ``harness eval`` (``harness.get_reward``,
TRL's convention, the sample's reward columns) and returns OpenRLHF's dict.
With the run's monitor settings in its config, every rollout's ``extra_logs``
also carry the reward-hacking indicators (``hack/*``, :mod:`harness.hacking`)
as 0/1 flags (``hack/length_share``: the rollout's share), which OpenRLHF
averages into the step's shares; the key set is fixed when the job is
exported (``indicators``), as OpenRLHF needs the same keys for every rollout.

The shim fails fast. :func:`load_scorer` runs when OpenRLHF imports
``reward_func.py`` (in each vLLM rollout actor's constructor, which OpenRLHF
does not guard): a missing ``reward_config.json``, a job directory moved
after export, or a reward plugin missing on the worker stops the job at
start with that error. And if the first :data:`FAIL_FAST_ROLLOUTS` rollouts
a worker scores all fail, :class:`RewardsFailing` stops the job instead of
training on zeros.

Nothing here imports trl or transformers; torch (which OpenRLHF has) is
imported only to build the returned tensors.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger("harness.openrlhf.reward")

SHIM_FILE = "reward_func.py"
SHIM_CONFIG_FILE = "reward_config.json"
FAILURES_KEY = "reward_failures"
# A worker whose first this-many rollouts all fail to score stops the job (one paper-preset
# step is 32 rollouts over 8 engines, so 8 is a step or two of one engine's share).
FAIL_FAST_ROLLOUTS = 8


class RewardsFailing(BaseException):
    """Every one of a worker's first :data:`FAIL_FAST_ROLLOUTS` reward calls failed.

    A ``BaseException`` on purpose: OpenRLHF's ``SingleTurnAgentExecutor``
    wraps the reward call in ``except Exception`` and turns any error into a
    ``None`` reward (the job then dies later, far from the cause). This one
    passes through it, and Ray hands it to the trainer's ``ray.get``.
    """


def build_reward(spec: Any, template: Any, tokenizer: str | None = None) -> Any:
    """The :class:`harness.rewards.spec.WeightedReward` of ``spec`` for ``template`` (as TRL and eval build it).

    ``spec`` is a parsed :class:`harness.rewards.spec.RewardSpec` (or its text).
    """
    from harness.rewards.spec import reward_from_spec

    shared: dict[str, Any] = {"template": template}
    if tokenizer is not None:
        shared["tokenizer"] = tokenizer
    return reward_from_spec(spec, **shared)


def make_label(columns: Mapping[str, Any], template: Any) -> str:
    """The dataset label of one prompt: its reward columns and the template, as JSON."""
    return json.dumps(
        {
            "columns": dict(columns),
            "template": {
                "name": template.name,
                "think": bool(template.think),
                "prefill": template.prefill,
            },
        },
        sort_keys=True,
    )


def collapse_runs(text: str, tokens: Sequence[str]) -> str:
    """``text`` with every run of one of ``tokens`` collapsed to a single token."""
    for token in tokens:
        text = re.sub(f"(?:{re.escape(token)})+", token, text)
    return text


@dataclass(frozen=True)
class TemplateInfo:
    """The template as the label records it (the workers need not have the template plugin)."""

    name: str
    think: bool
    prefill: str


@dataclass
class QueryScorer:
    """Turns OpenRLHF's (query, prompt, label) into harness rewards.

    :param spec: the reward spec, e.g. ``"accuracy:1,format:1"``
        (grammar: :mod:`harness.rewards.spec`).
    :param pad_tokens: image/video placeholder tokens the processor expands
        (``<|image_pad|>``...); their runs are collapsed before matching.
    :param special_tokens: tokens removed from the completion
        (``<|im_end|>``, ``<|endoftext|>``...).
    :param tokenizer: a ``tokenizer.json`` path offered to rewards that
        count tokens (``length_norm``).
    :param monitor: the run's :class:`harness.hacking.HackingMonitor` settings
        as a dict; ``None``: no ``hack/*`` logs.
    :param end_tokens: the tokens that end a generation (EOS); a query that
        does not end with one ran into the length cap (``hack/at_cap``).
        Empty: ``hack/at_cap`` unknown.
    :param indicators: the ``hack/*`` keys every rollout logs (see
        :meth:`indicator_keys`).
    """

    spec: Any  # a RewardSpec (parsed once, in from_config) or its text
    pad_tokens: list[str] = field(default_factory=list)
    special_tokens: list[str] = field(default_factory=list)
    tokenizer: str | None = None
    monitor: dict[str, Any] | None = None
    end_tokens: list[str] = field(default_factory=list)
    indicators: list[str] = field(default_factory=list)
    calls: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        from harness.rewards.spec import RewardSpec

        self.spec = RewardSpec.parse(self.spec)
        self.names = self.spec.names
        self.scale = sum(abs(item.weight) for item in self.spec.items) or 1.0
        self._rewards: dict[TemplateInfo, Any] = {}
        self._watchers: dict[TemplateInfo, Any] = {}
        self._settings: Any = None
        if self.monitor is not None:
            from harness.hacking import HackingMonitor

            self._settings = HackingMonitor.model_validate(self.monitor)
        self._lock = threading.Lock()
        # Longest first, so "<|im_end|>" goes before a hypothetical "<|im".
        self.special_tokens = sorted(set(self.special_tokens), key=len, reverse=True)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], base: str | Path | None = None) -> QueryScorer:
        """From ``reward_config.json``; a relative ``tokenizer`` is resolved against ``base``."""
        tokenizer = config.get("tokenizer")
        if tokenizer is not None and base is not None:
            tokenizer = str(Path(base) / tokenizer)
        return cls(
            spec=config["reward"],
            pad_tokens=list(config.get("pad_tokens", [])),
            special_tokens=list(config.get("special_tokens", [])),
            tokenizer=tokenizer,
            monitor=config.get("monitor"),
            end_tokens=list(config.get("end_tokens", [])),
            indicators=list(config.get("indicators", [])),
        )

    def reward(self, template: TemplateInfo) -> Any:
        with self._lock:
            if template not in self._rewards:
                self._rewards[template] = build_reward(self.spec, template, self.tokenizer)
            return self._rewards[template]

    def completion(self, query: str, prompt: str) -> str:
        """The generated text of ``query``: the prompt and special tokens removed."""
        q = collapse_runs(query, self.pad_tokens)
        p = collapse_runs(prompt, self.pad_tokens)
        if q.startswith(p):
            rest = q[len(p) :]
        else:
            # Decoding may not reproduce the prompt byte for byte before the
            # last image; the text after it always survives.
            tail = p
            for token in self.pad_tokens:
                cut = tail.rfind(token)
                if cut >= 0:
                    tail = tail[cut + len(token) :]
            # Search forward from the query's last image pad: the completion
            # may itself repeat the prompt's tail (restating the question).
            start = 0
            for token in self.pad_tokens:
                cut = q.rfind(token)
                if cut >= 0:
                    start = max(start, cut + len(token))
            at = q.find(tail, start) if tail else -1
            if at < 0:
                raise ValueError("the query does not contain its prompt")
            rest = q[at + len(tail) :]
        for token in self.special_tokens:
            rest = rest.replace(token, "")
        return rest

    def watcher(self, template: TemplateInfo) -> Any:
        """The :class:`harness.hacking.RewardBatchIndicators` of ``template`` (``None`` without a monitor)."""
        if self._settings is None:
            return None
        with self._lock:
            if template not in self._watchers:
                from harness.hacking import RewardBatchIndicators

                weights = {item.name: item.weight for item in self.spec.items}
                self._watchers[template] = RewardBatchIndicators(self._settings, weights, template=template)
            return self._watchers[template]

    def _score(self, query: str, prompt: str, label: str) -> tuple[Any, ...]:
        data = json.loads(label)
        t = data["template"]
        template = TemplateInfo(str(t["name"]), bool(t["think"]), str(t.get("prefill") or ""))
        completion = self.completion(query, prompt)
        columns = {k: [v] for k, v in data["columns"].items()}
        columns["prefill"] = [template.prefill]
        totals, details = self.reward(template).score_with_details([completion], **columns)
        return template, completion, columns, float(totals[0]), details

    def score_one(self, query: str, prompt: str, label: str) -> tuple[float, dict[str, float]]:
        """The weighted reward of one rollout and each component's (unweighted) value."""
        _, _, _, total, details = self._score(query, prompt, label)
        return total, {name: float(values[0]) for name, values in details.items()}

    def ran_to_cap(self, query: str) -> bool | None:
        """Whether the generation stopped at the length cap: no end token ends it (``None``: unknown)."""
        if not self.end_tokens:
            return None
        return not any(query.endswith(token) for token in self.end_tokens)

    def hacking_row(
        self,
        query: str,
        template: TemplateInfo,
        completion: str,
        columns: dict[str, Any],
        details: dict[str, list[float]],
    ) -> dict[str, float]:
        """One rollout's ``hack/*`` values, on the key set :attr:`indicators`."""
        truncated = self.ran_to_cap(query)
        indicators, _, _ = self.watcher(template)(
            [completion], columns, details, at_cap=None if truncated is None else [truncated]
        )
        row = indicators.row(0)
        return {key: row.get(key, 0.0) for key in self.indicators}

    def indicator_keys(self, label: str) -> list[str]:
        """The ``hack/*`` keys a rollout of ``label``'s sample logs (the exporter fixes them once)."""
        if self._settings is None:
            return []
        data = json.loads(label)
        t = data["template"]
        template = TemplateInfo(str(t["name"]), bool(t["think"]), str(t.get("prefill") or ""))
        columns = {k: [v] for k, v in data["columns"].items()}
        details = {name: [0.0] for name in self.names}
        at_cap = [False] if self.end_tokens else None
        indicators, _, _ = self.watcher(template)([""], columns, details, at_cap=at_cap)
        return sorted(indicators.row(0))

    def normalized(self, total: float) -> float:
        """``total`` over the sum of absolute weights, clipped to [0, 1] (OpenRLHF's ``scores``)."""
        return min(1.0, max(0.0, total / self.scale))

    def __call__(self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
        import torch

        rewards, scores = [], []
        keys = self.indicators if self._settings is not None else []
        logs: dict[str, list[float]] = {name: [] for name in [*self.names, *keys]}
        failed = []
        for query, prompt, label in zip(queries, prompts, labels):
            with self._lock:
                self.calls += 1
            try:
                template, completion, columns, total, details = self._score(query, prompt, label)
                values = {name: float(v[0]) for name, v in details.items()}
                if keys:
                    values.update(self.hacking_row(query, template, completion, columns, details))
                failed.append(0.0)
            except Exception as exc:
                with self._lock:
                    self.failures += 1
                    failures, calls = self.failures, self.calls
                logger.error(
                    "reward failed (%d of %d rollouts so far; scored 0 and counted in extra_logs[%r]): "
                    "%s: %s\n  label: %s\n  query: %r",
                    failures,
                    calls,
                    FAILURES_KEY,
                    type(exc).__name__,
                    exc,
                    label,
                    query[-2000:],
                )
                if failures == calls >= FAIL_FAST_ROLLOUTS:
                    message = (
                        f"harness reward_func: all of the first {calls} rollouts failed to score (the last: "
                        f"{type(exc).__name__}: {exc}); stopping instead of training on zero rewards. The "
                        f"reward spec is {self.spec}; the log above shows each failing label and query."
                    )
                    logger.error(message)
                    raise RewardsFailing(message) from exc
                total, values = 0.0, {name: 0.0 for name in logs}
                failed.append(1.0)
            rewards.append(total)
            scores.append(self.normalized(total))
            for name in logs:
                logs[name].append(values[name])
        extra = {name: torch.tensor(v, dtype=torch.float) for name, v in logs.items()}
        extra[FAILURES_KEY] = torch.tensor(failed, dtype=torch.float)
        return {
            "rewards": torch.tensor(rewards, dtype=torch.float),
            "scores": torch.tensor(scores, dtype=torch.float),
            "extra_logs": extra,
        }


def load_scorer(job_dir: str | Path) -> QueryScorer:
    """The :class:`QueryScorer` of the job exported to ``job_dir``, its reward built now.

    What the shim runs at import and the job's preflight runs before
    OpenRLHF starts: reads ``reward_config.json``, refuses a job directory
    that moved since export when its dataset holds absolute paths, and builds
    the reward for the exported template, so a reward plugin missing on this
    machine fails here, by name. Raises :class:`harness.errors.HarnessError`.
    """
    from harness.errors import ConfigError, HarnessError
    from harness.runs.rundir import read_json

    job_dir = Path(job_dir).resolve()
    config_file = job_dir / SHIM_CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(
            f"{config_file} does not exist: {SHIM_FILE} must sit in the job directory `harness run --backend "
            f"openrlhf` exported, next to {SHIM_CONFIG_FILE}. Point --reward.remote_url at that copy, or "
            "export the job again."
        )
    config = read_json(config_file, "reward shim config")
    exported_to = config.get("job_dir")
    if config.get("absolute_paths") and exported_to and Path(exported_to).resolve() != job_dir:
        raise ConfigError(
            f"The job directory moved: it was exported to {exported_to} and its dataset's image paths point "
            f"there, but it is now at {job_dir}. Export it again where the cluster will read it (`harness run "
            "--backend openrlhf --dry-run -o DIR`), or move it back."
        )
    scorer = QueryScorer.from_config(config, base=job_dir)
    template = config.get("template")
    if isinstance(template, Mapping):
        info = TemplateInfo(str(template["name"]), bool(template["think"]), str(template.get("prefill") or ""))
        try:
            scorer.reward(info)
        except HarnessError as exc:
            raise ConfigError(
                f"{exc} (building the reward {scorer.spec} for the exported job in {job_dir}: the plugin that "
                "provides it must be installed in the OpenRLHF environment on every worker)"
            ) from None
    return scorer
