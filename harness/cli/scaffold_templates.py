"""The files ``harness new-plugin`` writes, as :class:`string.Template` texts.

Placeholders: ``$name`` (the registered name and entry-point name), ``$dist``
(distribution, ``harness-<name>``), ``$pkg`` (import package), ``$title``
(for the README), ``$harness_version``.
"""

from __future__ import annotations

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "rft-harness plugin: $summary"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["rft-harness>=$harness_version"]

[project.optional-dependencies]
test = ["pytest>=8"]

# The harness loads every entry point in the group "harness".
[project.entry-points.harness]
$name = "$pkg.plugin"

[tool.setuptools]
packages = ["$pkg"]

[tool.pytest.ini_options]
pythonpath = ["."]  # the tests import $pkg even before it is installed
"""

README = """\
# $dist

An [rft-harness](https://github.com/rft-harness/rft-harness) plugin: $summary

```bash
harness install -e .      # or: pip install -e .
harness plugins           # shows $name and what it registers
pytest tests              # its tests
```

Publish: `python -m build` then `twine upload dist/*`; users run `harness install $dist`.
"""

INIT = '''\
"""$title: an rft-harness plugin. The hooks live in :mod:`$pkg.plugin`."""

__version__ = "0.1.0"
'''

# The head and tail every generated test file shares; _test_file puts a
# kind's own tests between them.
_TEST_HEAD = '''\
"""Tests of the $name plugin, through the harness's public API."""

import importlib.metadata

import pytest

import harness
from harness.testing import fresh_host, registered_plugin
from $pkg import plugin


@pytest.fixture
def host():
    # A fresh host with the built-ins only, plus this plugin: works installed or not.
    with fresh_host(entry_points=False), registered_plugin(plugin, name="$name") as host:
        yield host
'''

_ENTRY_POINT_TEST = """

def test_the_installed_entry_point_loads():
    try:
        importlib.metadata.distribution("$dist")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("$dist is not installed: pip install -e .")
    with fresh_host() as host:
        assert "$name" in harness.list_{kind}()
        assert host.records["$name"].status == "ok"
"""


def _test_file(tests: str, kind: str) -> str:
    """A plugin's test file: the shared head, ``tests``, and the entry-point test for ``kind``."""
    return _TEST_HEAD + tests + _ENTRY_POINT_TEST.replace("{kind}", kind)


TASK_PLUGIN = '''\
"""The ``$name`` task. A skeleton that runs: replace the synthetic data and the rule with yours.

The entry point in pyproject.toml names this module; the harness calls the
``register_*`` hooks below. Keep module-level imports light (no torch, PIL
only inside functions), so `harness plugins` stays instant.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import harness

COLOURS = {"red": (220, 40, 40), "green": (40, 160, 60), "blue": (40, 80, 220), "yellow": (230, 200, 20)}


class Task:
    """What colour is the image? Answer: one colour name in the last <answer> block."""

    name = "$name"
    description = "Name the colour of a plain image (plugin skeleton)."
    splits = ("train", "test")

    def samples(self, split: str, source=None, limit: int | None = None, seed: int = 0) -> Iterator[harness.Sample]:
        if split not in self.splits:
            raise harness.ConfigError(f"$name has no split {split!r}; use one of {', '.join(self.splits)}.")
        if source is not None:
            # Real data goes here: read `source`, raise harness.DataError naming file, row and fix.
            raise harness.ConfigError("$name has only synthetic data so far; run it without a source.")
        from PIL import Image

        for index in range(100 if limit is None else min(limit, 100)):
            rng = random.Random(f"$name:{seed}:{split}:{index}")
            colour = rng.choice(sorted(COLOURS))
            yield harness.Sample(
                id=f"{split}-{seed}-{index}",
                images=[Image.new("RGB", (32, 32), COLOURS[colour])],
                question="What colour is this image?",
                choices=None,
                answer=colour,
            )

    def build_prompt(self, sample: harness.Sample, template: harness.Template) -> harness.Messages:
        images = [{"type": "image", "image": image} for image in sample.images]
        text = f"{sample.question}\\n{template.instruction('one colour name')}"
        return [{"role": "user", "content": [*images, {"type": "text", "text": text}]}]

    def extract_answer(self, completion: Any) -> str | None:
        answer = harness.last_answer(harness.completion_text(completion))
        word = (answer or "").strip(" .!").lower()
        return word if word in COLOURS else None  # "red or blue", "" and prose are wrong

    def is_correct(self, completion: Any, sample: harness.Sample) -> bool:
        return self.extract_answer(completion) == sample.answer

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        return {"accuracy": sum(bool(r["correct"]) for r in records) / max(len(records), 1)}


@harness.hookimpl
def register_tasks(register):
    register(Task())
'''

TASK_TEST = _test_file(
    """\


def test_the_task_checks_answers(host):
    task = harness.get_task("$name")
    samples = list(task.samples("test", limit=8))
    assert len(samples) == 8
    for sample in samples:
        assert task.is_correct(f"<think>It looks {sample.answer}.</think><answer>{sample.answer}</answer>", sample)
        assert not task.is_correct("<answer></answer>", sample)
        assert not task.is_correct(f"<answer>{sample.answer} or blue or red</answer>", sample)


def test_the_prompt_shows_the_image(host):
    task = harness.get_task("$name")
    sample = next(task.samples("test", limit=1))
    messages = task.build_prompt(sample, harness.get_template("think"))
    assert [part["type"] for part in messages[0]["content"]] == ["image", "text"]
""",
    "tasks",
)

REWARD_PLUGIN = '''\
"""The ``$name`` reward. A skeleton that runs: replace the rule with yours.

Rewards follow TRL's convention, ``reward(completions, **columns) -> list[float]``,
and are registered as factories: ``harness.get_reward("$name", **params)``
calls :func:`factory` with the params. The entry point in pyproject.toml
names this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import harness


def factory(max_words: int = 5):
    """1.0 when the completion's last <answer> is non-empty and at most ``max_words`` words, else 0.0."""
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1:
        raise harness.ConfigError(f"reward '$name': max_words must be a whole number >= 1, got {max_words!r}.")

    def reward(completions: Sequence[Any], **columns: Any) -> list[float]:
        scores = []
        for completion in completions:
            answer = harness.last_answer(harness.completion_text(completion))
            scores.append(1.0 if answer and len(answer.split()) <= max_words else 0.0)
        return scores

    reward.name = reward.__name__ = "$name"  # TRL logs rewards by __name__
    return reward


factory.name = "$name"
factory.description = "1.0 for a short, non-empty final answer (plugin skeleton)."


@harness.hookimpl
def register_rewards(register):
    register(factory)
'''

REWARD_TEST = _test_file(
    """\


def test_the_reward_scores_short_answers(host):
    reward = harness.get_reward("$name", max_words=2)
    completions = ["<answer>seven</answer>", "<answer>it is seven I think</answer>", "<answer></answer>", "seven"]
    assert reward(completions) == [1.0, 0.0, 0.0, 0.0]


def test_the_reward_takes_trl_calls(host):
    reward = harness.get_reward("$name")
    conversation = [[{"role": "assistant", "content": "<answer>7</answer>"}]]
    assert reward(conversation, prompts=["How many?"], answer=["7"], task=["counting"]) == [1.0]


def test_a_bad_param_is_a_config_error(host):
    with pytest.raises(harness.ConfigError, match="max_words"):
        harness.get_reward("$name", max_words=0)
""",
    "rewards",
)

FILES = {
    "task": {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "$pkg/__init__.py": INIT,
        "$pkg/plugin.py": TASK_PLUGIN,
        "tests/test_$pkg.py": TASK_TEST,
    },
    "reward": {
        "pyproject.toml": PYPROJECT,
        "README.md": README,
        "$pkg/__init__.py": INIT,
        "$pkg/plugin.py": REWARD_PLUGIN,
        "tests/test_$pkg.py": REWARD_TEST,
    },
}
SUMMARIES = {
    "task": "a visual task for rft-harness (skeleton: name the colour of an image).",
    "reward": "a reward for rft-harness (skeleton: short final answers).",
}
