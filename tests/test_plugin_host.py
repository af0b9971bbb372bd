"""The plugin host: registration, lookup errors, duplicates, entry points, failure isolation."""

from __future__ import annotations

import importlib.metadata

import pytest

import harness
from harness.errors import DuplicateNameError, UnknownNameError
from harness.host.manager import PluginHost
from harness.testing import registered_plugin


class EchoTask:
    """A minimal task: the answer is the question."""

    name = "echo"
    description = "Echo the question."
    splits = ("test",)

    def samples(self, split, source=None, limit=None, seed=0):
        for i in range(limit or 3):
            yield harness.Sample(id=str(i), images=[], question=f"q{i}", choices=None, answer=f"q{i}")

    def build_prompt(self, sample, template):
        return [{"role": "user", "content": [{"type": "text", "text": sample.question}]}]

    def extract_answer(self, completion):
        return completion.strip() or None

    def is_correct(self, completion, sample):
        return self.extract_answer(completion) == sample.answer

    def metrics(self, records):
        return {"accuracy": sum(r["correct"] for r in records) / max(len(records), 1)}


class TaskPlugin:
    @harness.hookimpl
    def register_tasks(self, register):
        register(EchoTask())


class EchoTaskAgain:
    @harness.hookimpl
    def register_tasks(self, register):
        register(EchoTask())


class PlainTemplate:
    name = "plain"
    description = "No format instruction."
    think = False
    prefill = ""

    def instruction(self, answer_hint):
        return ""


class TemplatePlugin:
    @harness.hookimpl
    def register_templates(self, register):
        register(PlainTemplate())


class Backend:
    name = "nullrun"
    description = "Checks the config and reports it (test backend)."

    def check(self, config):
        if not config.get("ok"):
            raise harness.ConfigError("field 'ok' must be true")

    def run(self, config):
        return {"ran": True}


class BackendPlugin:
    @harness.hookimpl
    def register_backends(self, register):
        register(Backend())


class Engine:
    name = "upper"
    description = "Returns each prompt's text in capitals (test engine)."

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return model_path

    def generate(self, model, prompts, settings):
        for i, messages in enumerate(prompts):
            text = messages[-1]["content"][-1]["text"].upper()
            yield i, harness.Generation(text=text, num_tokens=len(text.split()))


class EnginePlugin:
    @harness.hookimpl
    def register_engines(self, register):
        register(Engine())


class ScaledReward:
    name = "scaled"
    description = "Length of the completion times `scale`."

    def __init__(self, scale=1.0):
        self.scale = scale

    def __call__(self, completions, **columns):
        return [self.scale * len(c) for c in completions]


class RewardPlugin:
    @harness.hookimpl
    def register_rewards(self, register):
        register(ScaledReward)


def test_registered_task_is_found_and_removed_after(fresh_host):
    with registered_plugin(TaskPlugin(), name="echo-plugin"):
        task = harness.get_task("echo")
        assert "echo" in harness.list_tasks()
        sample = next(task.samples("test"))
        assert task.is_correct("q0", sample)
    assert "echo" not in harness.list_tasks()


def test_every_kind_round_trips_through_the_public_api(fresh_host):
    for plugin, name in [
        (TemplatePlugin(), "t"),
        (BackendPlugin(), "b"),
        (EnginePlugin(), "e"),
        (RewardPlugin(), "r"),
    ]:
        fresh_host.register_plugin(plugin, name=name)
    assert harness.get_template("plain").instruction("x") == ""
    assert harness.get_backend("nullrun").run({}) == {"ran": True}
    engine = harness.get_engine("upper")
    prompts = [[{"role": "user", "content": [{"type": "text", "text": "hi there"}]}]]
    [(index, gen)] = list(engine.generate(engine.load("m"), prompts, {}))
    assert (index, gen.text, gen.num_tokens) == (0, "HI THERE", 2)
    assert harness.get_reward("scaled", scale=2.0)(["abc"]) == [6.0]
    assert {"plain", "nullrun", "upper", "scaled"} <= set(
        harness.list_templates() + harness.list_backends() + harness.list_engines() + harness.list_rewards()
    )


def test_unknown_name_suggests_close_names_and_lists_available(fresh_host):
    with registered_plugin(TaskPlugin(), name="echo-plugin"):
        with pytest.raises(UnknownNameError) as info:
            harness.get_task("ecoh")
    message = str(info.value)
    assert "Did you mean 'echo'?" in message
    assert "Available tasks:" in message and "echo" in message


def test_duplicate_name_names_both_plugins(fresh_host):
    with registered_plugin(TaskPlugin(), name="first"), registered_plugin(EchoTaskAgain(), name="second"):
        with pytest.raises(DuplicateNameError) as info:
            harness.get_task("echo")
        assert "'first'" in str(info.value) and "'second'" in str(info.value)
        assert fresh_host.records["second"].status == "failed"
        assert fresh_host.records["first"].status == "ok"


def test_registering_garbage_is_reported_not_fatal(fresh_host):
    class Garbage:
        @harness.hookimpl
        def register_tasks(self, register):
            register(object(), name="junk")

    with registered_plugin(TaskPlugin(), name="good"), registered_plugin(Garbage(), name="garbage"):
        assert "echo" in harness.list_tasks()
        assert "junk" not in harness.list_tasks()
        record = fresh_host.records["garbage"]
        assert record.status == "failed"
        assert "harness.api.protocols.Task" in record.errors[0]


def test_unknown_hook_is_reported(fresh_host):
    class Misspelled:
        @harness.hookimpl
        def register_task(self, register):  # missing 's'
            pass

    fresh_host.register_plugin(Misspelled(), name="typo")
    record = fresh_host.records["typo"]
    assert record.status == "failed"
    assert "register_task" in record.errors[0]


def test_loading_is_a_call_and_hosts_are_independent():
    a = PluginHost().load(entry_points=False)
    b = PluginHost().load(entry_points=False)
    a.register_plugin(TaskPlugin(), name="only-in-a")
    assert "echo" in a.registry("tasks")
    assert "echo" not in b.registry("tasks")


def _installed(dist: str) -> bool:
    try:
        importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture
def needs_test_plugins():
    missing = [d for d in ("harness-testplugin", "harness-brokenplugin", "harness-garbageplugin") if not _installed(d)]
    assert not missing, (
        f"test plugin distributions {missing} are not installed: run scripts/test.sh, "
        "or pip install --no-deps -e tests/plugins/<name>"
    )


@pytest.mark.usefixtures("needs_test_plugins")
def test_entry_point_plugin_is_discovered_through_the_group():
    host = PluginHost().load()
    record = host.records["testplugin"]
    host.load_all_registries()
    assert record.distribution == "harness-testplugin"
    assert record.status == "ok"
    assert record.registered["templates"] == ["shout"]
    assert host.get("rewards", "constant")(value=0.5)(["a", "b"]) == [0.5, 0.5]


@pytest.mark.usefixtures("needs_test_plugins")
def test_broken_entry_point_plugin_is_named_and_the_rest_works():
    host = PluginHost().load()
    host.load_all_registries()
    broken = host.records["brokenplugin"]
    assert broken.status == "failed"
    assert "harness-brokenplugin" in broken.errors[0]
    assert "does-not-exist" in broken.errors[0]
    garbage = host.records["garbageplugin"]
    assert garbage.status == "failed" and "not-a-task" in garbage.errors[0]
    assert host.records["testplugin"].status == "ok"


@pytest.mark.usefixtures("needs_test_plugins")
def test_autoload_can_be_disabled_and_plugins_blocked(monkeypatch):
    monkeypatch.setenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert "testplugin" not in PluginHost().load().records
    monkeypatch.delenv("HARNESS_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("HARNESS_BLOCK_PLUGINS", "brokenplugin,harness-garbageplugin")
    host = PluginHost().load()
    assert host.records["brokenplugin"].status == "blocked"
    assert host.records["garbageplugin"].status == "blocked"
    assert host.records["testplugin"].status == "ok"


def test_builtin_plugins_load_through_the_same_path():
    from harness.host.manager import DEFAULT_PLUGINS

    host = PluginHost().load(entry_points=False)
    assert [r.name for r in host.records.values() if r.builtin] == list(DEFAULT_PLUGINS)
    host.load_all_registries()
    failed = {r.name: r.errors for r in host.records.values() if r.status != "ok"}
    assert failed == {}
