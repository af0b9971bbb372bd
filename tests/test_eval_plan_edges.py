"""Planning an eval, pinned by value: the data record (split, count, fingerprint, options), loader options
reaching the task, rotations only when circular, and the refusals naming task, source and split.

Written against the survivors of the mutation run over ``harness/evaluation/plan.py`` (docs/testing.md).
"""

from __future__ import annotations

import pytest

import harness
from harness.config.eval import EvalConfig
from harness.errors import ConfigError, DataError
from harness.evaluation.plan import UnitPrompts, load_items, plan_units
from harness.runs.fingerprint import sample_digest, samples_fingerprint
from harness.testing import registered_plugin


class Listed:
    """A task whose samples are given by the test (ids, meta), with a loader option ``note``."""

    name, description, splits = "listed", "Samples given by the test.", ("test", "dev")

    def __init__(self, samples):
        self._samples, self.options_seen = samples, []

    def samples(self, split, source=None, limit=None, seed=0, note=None):
        self.options_seen.append(note)
        yield from self._samples[:limit]

    def build_prompt(self, sample, template):
        return [{"role": "user", "content": [{"type": "text", "text": f"Q {sample.question}"}]}]

    def extract_answer(self, completion):
        return completion

    def is_correct(self, completion, sample):
        return completion == sample.answer

    def metrics(self, records):
        return {}


def sample(i, **meta):
    return harness.Sample(id=f"s{i}", images=[], question=str(i), choices=[], answer="a", meta=meta)


@pytest.fixture
def listed(fresh_host):
    def register(samples):
        task = Listed(samples)

        class Plugin:
            @harness.hookimpl
            def register_tasks(self, register):
                register(task)

        return task, registered_plugin(Plugin(), name="listed-plugin", host=fresh_host)

    return register


def config(**fields):
    return EvalConfig(**({"tasks": ["listed"], "engine": "scripted", "limit": None} | fields))


def test_the_data_record_holds_split_count_fingerprint_and_options(listed):
    samples = [sample(i) for i in range(3)]
    task, plugin = listed(samples)
    with plugin:
        items, record = load_items(task, config(split="dev", task_options={"listed": {"note": "n1"}}))
    assert [item.sample.id for item in items] == ["s0", "s1", "s2"]
    assert [item.digest for item in items] == [sample_digest(s) for s in samples]
    assert record["split"] == "dev" and record["count"] == 3
    assert record["fingerprint"] == samples_fingerprint(sample_digest(s) for s in samples)
    assert record["options"] == {"note": "n1"}
    assert task.options_seen == ["n1"]  # the option reached the task's loader


def test_no_options_means_no_options_in_the_record_and_none_passed(listed):
    task, plugin = listed([sample(0)])
    with plugin:
        (unit,) = plan_units(config(templates=["nothink"]))
    assert "options" not in unit.data and task.options_seen == [None]
    assert (unit.data["split"], unit.data["count"]) == ("test", 1)  # the unit carries its data record


def test_an_option_the_loader_does_not_take_is_refused_by_name(listed):
    task, plugin = listed([sample(0)])
    with plugin, pytest.raises(ConfigError, match=r"'listed'.*'colour'"):
        load_items(task, config(task_options={"listed": {"colour": "red"}}))
    assert task.options_seen == []  # refused before any sample was read


def test_a_split_the_task_lacks_is_named_with_its_splits(listed):
    task, plugin = listed([sample(0)])
    with plugin, pytest.raises(ConfigError) as err:
        load_items(task, config(split="train"))
    assert str(err.value) == "Task 'listed' has no split 'train'; its splits are test, dev. Use --split."


def test_rotation_meta_counts_only_in_circular_runs(listed):
    """A task's own rotation metadata groups samples only when the run is circular."""
    samples = [sample(0, circular_of="q", rotation=0), sample(1, circular_of="q", rotation=1), sample(2)]
    task, plugin = listed(samples)
    with plugin:
        plain, _ = load_items(task, config())
        circular, record = load_items(task, config(circular=True))
    assert [(i.index, i.rotation, i.group) for i in plain] == [(0, 0, "s0"), (1, 0, "s1"), (2, 0, "s2")]
    assert [(i.index, i.rotation, i.group) for i in circular] == [(0, 0, "q"), (0, 1, "q"), (1, 0, "s2")]
    assert record["count"] == 2  # distinct questions, rotations not counted


def test_a_repeated_sample_id_names_the_task_the_source_and_the_id(listed):
    task, plugin = listed([sample(0), sample(1), sample(0)])
    with plugin, pytest.raises(DataError) as err:
        load_items(task, config())
    assert str(err.value).startswith("Task 'listed' (")
    assert str(err.value).endswith(") yields sample id 's0' twice; ids must be unique within a split.")


def test_no_samples_names_the_task_the_source_and_the_split(listed, tmp_path):
    task, plugin = listed([])
    with plugin, pytest.raises(DataError) as err:
        load_items(task, config(split="dev", sources={"listed": str(tmp_path)}))
    message = str(err.value)
    assert "'listed'" in message and str(tmp_path) in message and "'dev'" in message


def test_a_prompts_text_is_built_when_it_was_never_asked_for(listed):
    task, plugin = listed([sample(0), sample(1)])
    with plugin:
        (unit,) = plan_units(config(templates=["nothink"]))
    prompts = UnitPrompts(unit, unit.items)
    assert prompts.text(1) == "[user] Q 1"  # never built through prompts[1]: built now
    prompts[0]
    assert prompts.text(0) == "[user] Q 0"  # kept from when the engine built it
    assert prompts.text(0) == "[user] Q 0"  # read once, forgotten, built again
    assert prompts[0:2] == [prompts[0], prompts[1]]  # an engine may take a batch as a slice
