"""A plugin that registers one name twice fails alone, loudly, and never shadows a working plugin.

Duplicates *between* plugins are covered in test_plugin_host.py; these are the
duplicates *within* one plugin, for every kind: the same object twice, two
objects with one name, and a name given explicitly that repeats an
attribute name.
"""

from __future__ import annotations

import pytest

import harness
from harness.errors import UnknownNameError


class Task:
    description, splits = "A task for registry tests.", ("test",)

    def __init__(self, name="twice"):
        self.name = name

    def samples(self, split, source=None, limit=None, seed=0):
        yield from ()

    def build_prompt(self, sample, template):
        return []

    def extract_answer(self, completion):
        return completion

    def is_correct(self, completion, sample):
        return completion == sample.answer

    def metrics(self, records):
        return {"accuracy": 0.0}


class Template:
    description, think, prefill = "A template for registry tests.", False, ""

    def __init__(self, name="twice"):
        self.name = name

    def instruction(self, answer_hint):
        return "answer"


class Reward:
    name, description = "twice", "A reward for registry tests."

    def __init__(self, value=1.0):
        self.value = value

    def __call__(self, completions, **columns):
        return [self.value] * len(completions)


class Backend:
    description = "A backend for registry tests."

    def __init__(self, name="twice"):
        self.name = name

    def check(self, config):
        return None

    def run(self, config):
        return {"name": self.name}


class Engine:
    description = "An engine for registry tests."

    def __init__(self, name="twice"):
        self.name = name

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return model_path

    def generate(self, model, prompts, settings):
        return iter(())


def make(kind, name="twice"):
    if kind == "rewards":
        return type(f"Reward_{name}", (Reward,), {"name": name})
    return {"tasks": Task, "templates": Template, "backends": Backend, "engines": Engine}[kind](name)


GETTERS = {
    "tasks": harness.get_task,
    "templates": harness.get_template,
    "rewards": harness.get_reward,
    "backends": harness.get_backend,
    "engines": harness.get_engine,
}
LISTERS = {
    "tasks": harness.list_tasks,
    "templates": harness.list_templates,
    "rewards": harness.list_rewards,
    "backends": harness.list_backends,
    "engines": harness.list_engines,
}


def plugin(kind, *calls):
    """A plugin whose ``register_<kind>`` makes the given ``register`` calls, in order."""

    def hook(self, register):
        for obj, name in calls:
            register(obj) if name is None else register(obj, name=name)

    hook.__name__ = f"register_{kind}"
    return type("Plugin", (), {hook.__name__: harness.hookimpl(hook)})()


def ways_to_repeat(kind):
    one, other = make(kind), make(kind)
    return {
        "same object twice": [(one, None), (one, None)],
        "two objects, one name": [(one, None), (other, None)],
        "explicit name repeats an attribute name": [(make(kind, "other-name"), "twice"), (one, None)],
        "explicit name twice": [(one, "twice"), (other, "twice")],
    }


@pytest.mark.parametrize(
    "way",
    ["same object twice", "two objects, one name", "explicit name repeats an attribute name", "explicit name twice"],
)
@pytest.mark.parametrize("kind", sorted(GETTERS))
def test_a_name_registered_twice_by_one_plugin_fails_that_plugin_only(fresh_host, kind, way):
    fine = plugin(kind, (make(kind, "fine"), None))
    fresh_host.register_plugin(
        plugin(kind, (make(kind, "bystander"), None), *ways_to_repeat(kind)[way]), name="repeater"
    )
    fresh_host.register_plugin(fine, name="fine-plugin")
    singular = kind[:-1]
    record = fresh_host.records["repeater"]
    GETTERS[kind]("fine")  # the other plugin works
    with pytest.raises(UnknownNameError):
        GETTERS[kind]("twice")  # neither copy is used: which one would win is not defined
    assert record.status == "failed"
    assert record.errors == [f"register_{kind} failed: plugin 'repeater' registered {singular} 'twice' twice."]
    # A plugin that breaks the contract registers nothing, not even its valid names.
    assert "bystander" not in LISTERS[kind]() and "fine" in LISTERS[kind]()
    assert fresh_host.records["fine-plugin"].status == "ok"


def test_one_name_in_two_kinds_is_not_a_duplicate(fresh_host):
    class Both:
        @harness.hookimpl
        def register_tasks(self, register):
            register(make("tasks"))

        @harness.hookimpl
        def register_templates(self, register):
            register(make("templates"))

    fresh_host.register_plugin(Both(), name="both")
    assert harness.get_task("twice").name == harness.get_template("twice").name == "twice"
    assert fresh_host.records["both"].status == "ok"
