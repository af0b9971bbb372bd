"""What ``register`` accepts and the exact one-line errors for what it refuses.

A plugin that registers something malformed is marked failed with a message
that names the plugin, the item and the fix; the rest keeps working.
"""

from __future__ import annotations

import pytest

import harness
from harness.errors import DuplicateNameError


class Task:
    """A well-formed task; tests break one attribute at a time."""

    name, description, splits = "ok-task", "A task for contract tests.", ("test",)

    def samples(self, split, source=None, limit=None, seed=0):
        yield from ()

    def build_prompt(self, sample, template):
        return []

    def extract_answer(self, completion):
        return completion

    def is_correct(self, completion, sample):
        return True

    def metrics(self, records):
        return {}


def task(**changes):
    obj = Task()
    for key, value in changes.items():
        setattr(obj, key, value)
    return obj


class Nameless:
    """A task without a ``name`` attribute: it needs an explicit name."""

    description, splits = "No name attribute.", ("test",)
    samples = build_prompt = extract_answer = is_correct = metrics = Task.samples


def failure(host, hook: str, *calls) -> list[str]:
    """The errors recorded for a plugin whose ``hook`` makes the given ``register`` calls."""

    def impl(self, register):
        for obj, name in calls:
            register(obj) if name is None else register(obj, name=name)

    impl.__name__ = hook
    host.register_plugin(type("P", (), {hook: harness.hookimpl(impl)})(), name="p")
    host.load_all_registries()
    return host.records["p"].errors


HINT = "give it a `name` of lowercase letters, digits, '-', '_' or '.'."


@pytest.mark.parametrize(
    "obj, name, shown",
    [
        (Nameless(), None, "None"),  # no name attribute and none given
        (task(name=None), None, "None"),
        (task(name=7), None, "7"),
        (task(), "Upper", "'Upper'"),
        (task(), "", "''"),
        (task(), "-lead", "'-lead'"),
        (task(), "two words", "'two words'"),
        (task(), "tab\tname", "'tab\\tname'"),
    ],
)
def test_an_invalid_name_is_refused_naming_the_rule(fresh_host, obj, name, shown):
    assert failure(fresh_host, "register_tasks", (obj, name)) == [
        f"register_tasks failed: plugin 'p' registered a task with an invalid name {shown}: {HINT}"
    ]


@pytest.mark.parametrize("name", ["a", "0", "my.task-2_b", "x" * 80])
def test_valid_names(fresh_host, name):
    assert failure(fresh_host, "register_tasks", (task(), name)) == []
    assert harness.get_task(name).description == "A task for contract tests."


def test_an_explicit_name_serves_an_object_without_a_name_attribute(fresh_host):
    obj = Nameless()
    assert failure(fresh_host, "register_tasks", (obj, "given")) == []
    assert harness.get_task("given") is obj


@pytest.mark.parametrize(
    "changes, missing",
    [
        ({"description": None}, "description"),
        ({"splits": None}, "splits"),
        ({"samples": None}, "samples()"),
        ({"samples": "not callable"}, "samples()"),  # present but not callable
        ({"metrics": 3}, "metrics()"),
        ({"description": None, "is_correct": None, "build_prompt": "x"}, "description, build_prompt(), is_correct()"),
    ],
)
def test_a_task_without_the_contract_names_each_missing_part(fresh_host, changes, missing):
    assert failure(fresh_host, "register_tasks", (task(**changes), None)) == [
        f"register_tasks failed: plugin 'p' registered task 'ok-task' without {missing}: "
        "see harness.api.protocols.Task for the contract."
    ]
    assert "ok-task" not in harness.list_tasks()


def test_a_reward_must_be_callable(fresh_host):
    class NotCallable:
        name = "flat"

    class Callable_:
        name = "flat"

        def __call__(self, completions, **columns):
            return [0.0] * len(completions)

    assert failure(fresh_host, "register_rewards", (NotCallable(), None)) == [
        "register_rewards failed: plugin 'p' registered reward 'flat' without "
        "__call__(): see harness.api.protocols.Reward for the contract."
    ]
    fresh_host.unregister_plugin("p")
    assert failure(fresh_host, "register_rewards", (Callable_(), None)) == []


def test_a_template_needs_think_and_prefill_but_they_may_be_false_and_empty(fresh_host):
    class Template:
        name, description, think, prefill = "plain", "Plain.", False, ""

        def instruction(self, hint):
            return ""

    assert failure(fresh_host, "register_templates", (Template(), None)) == []
    fresh_host.unregister_plugin("p")
    broken = Template()
    broken.think = None
    assert failure(fresh_host, "register_templates", (broken, None)) == [
        "register_templates failed: plugin 'p' registered template 'plain' without think: "
        "see harness.api.protocols.Template for the contract."
    ]


def test_a_name_three_plugins_register_names_all_and_suggests_blocking_the_last(fresh_host):
    for plugin in ("first", "second", "third"):
        impl = harness.hookimpl(lambda self, register: register(task(name="shared")))
        impl.__name__ = "register_tasks"
        fresh_host.register_plugin(type("P", (), {"register_tasks": impl})(), name=plugin)
    with pytest.raises(DuplicateNameError) as info:
        harness.get_task("shared")
    assert str(info.value) == (
        "Task 'shared' is registered by more than one plugin: 'first', 'second', 'third'. "
        "Uninstall one of them, or block one with HARNESS_BLOCK_PLUGINS=third."
    )
