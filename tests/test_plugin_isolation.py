"""Hostile plugins: none can end a command, take over a built-in command, or fail anonymously.

Third-party plugins here are real distributions found through the real
``importlib.metadata`` entry points: a ``*.dist-info`` folder (METADATA,
entry_points.txt) and a module, on ``sys.path`` (in-process) or on
``PYTHONPATH`` (for the CLI in a subprocess).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest

import harness
from harness.host.manager import PluginHost

HOSTILE_CLASS = "Plugin isolation"  # issue 16's class of these cases (docs/hostile.md, scripts/hostile_table.py)

TASK = """
import harness
from harness.api.sample import Sample


class Boom:
    name, description, splits = "boom", "A task whose loader fails.", ("test",)

    def samples(self, split, source=None, limit=None, seed=0):
        {body}
        yield Sample(id="0", images=[], question="q", choices=None, answer="a")

    def build_prompt(self, sample, template):
        return [{{"role": "user", "content": "q"}}]

    def extract_answer(self, completion, sample=None):
        return completion

    def is_correct(self, completion, sample):
        return True

    def metrics(self, records):
        return {{"accuracy": 1.0}}


@harness.hookimpl
def register_tasks(register):
    register(Boom())
"""


def distribution(root: Path, name: str, module: str, code: str) -> Path:
    """A minimal installed distribution ``name`` whose entry point ``harness`` loads ``module``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(code))
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[harness]\n{module} = {module}\n")
    return root


def harness_cli(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.mark.parametrize(
    "statement, shown",
    [
        ("import sys; sys.exit(3)", "SystemExit: 3"),
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("raise BaseException('hostile')", "BaseException: hostile"),
    ],
)
def test_a_plugin_that_exits_at_import_is_recorded_not_obeyed(tmp_path, monkeypatch, statement, shown):
    root = distribution(tmp_path / "site", "harness-hostile", "hostile_plugin", statement + "\n")
    monkeypatch.syspath_prepend(str(root))
    host = PluginHost().load()
    record = host.records["hostile_plugin"]
    assert record.status == "failed" and shown in record.errors[0]
    assert record.distribution == "harness-hostile"
    assert "fgvc" in host.registry("tasks").names()  # everything else still loads


def test_the_cli_survives_a_plugin_that_calls_sys_exit(tmp_path):
    root = distribution(tmp_path / "site", "harness-hostile", "hostile_plugin", "import sys\nsys.exit(0)\n")
    helped = harness_cli(root, "--help")
    assert helped.returncode == 0 and "eval" in helped.stdout and "Traceback" not in helped.stderr
    listed = harness_cli(root, "plugins")
    assert listed.returncode == 0
    assert "hostile_plugin  (harness-hostile 0.1)  failed" in listed.stdout
    assert "SystemExit: 0" in listed.stdout


def test_a_hook_that_exits_fails_its_plugin_only(fresh_host):
    class Exits:
        @harness.hookimpl
        def register_rewards(self, register):
            raise SystemExit(2)

    fresh_host.register_plugin(Exits(), "exits")
    assert "accuracy" in harness.list_rewards()
    assert fresh_host.records["exits"].status == "failed"
    assert "register_rewards failed: SystemExit: 2" in fresh_host.records["exits"].errors[0]


def _cli_with(host, *plugins):
    for name, plugin in plugins:
        host.register_plugin(plugin, name)
    from harness.cli import build_cli

    return build_cli()


def test_a_plugin_command_cannot_replace_a_built_in_or_another_plugins(fresh_host):
    def adds(name, text):
        class Adds:
            @harness.hookimpl
            def register_commands(self, cli):
                @cli.command(name)
                def command():
                    click.echo(text)

        return Adds()

    builtin_eval = None
    from harness.cli import build_cli

    builtin_eval = build_cli().commands["eval"].callback
    cli = _cli_with(
        fresh_host,
        ("takeover", adds("eval", "pwned")),
        ("first", adds("hello", "one")),
        ("second", adds("hello", "two")),
    )
    assert cli.commands["eval"].callback.__code__ is builtin_eval.__code__  # the built-in eval is kept
    takeover = fresh_host.records["takeover"]
    assert takeover.status == "failed"
    assert "command 'eval' is already registered by harness (built-in command); refused" in takeover.errors[0]
    second = fresh_host.records["second"]
    assert "command 'hello' is already registered by plugin 'first'" in second.errors[0]
    from click.testing import CliRunner

    assert CliRunner().invoke(cli, ["hello"]).output == "one\n"
    assert fresh_host.records["first"].as_dict()["registers"] == {"commands": ["hello"]}


def test_an_exception_in_a_plugins_task_names_the_plugin_and_distribution(tmp_path):
    code = TASK.format(body="raise ValueError('the loader broke')")
    root = distribution(tmp_path / "site", "harness-boom", "boom_plugin", code)
    result = harness_cli(
        root, "eval", "--tasks", "boom", "--templates", "nothink", "-o", str(tmp_path / "out"), "--no-progress"
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith(
        "Error: plugin 'boom_plugin' (distribution harness-boom 0.1) raised ValueError: the loader broke"
    )
    assert "boom_plugin.py:" in line and "HARNESS_BLOCK_PLUGINS=boom_plugin" in line


def test_sys_exit_inside_a_plugins_task_is_an_error_not_a_silent_exit(tmp_path):
    code = TASK.format(body="import sys; sys.exit(0)")
    root = distribution(tmp_path / "site", "harness-boom", "boom_plugin", code)
    result = harness_cli(
        root, "eval", "--tasks", "boom", "--templates", "nothink", "-o", str(tmp_path / "out"), "--no-progress"
    )
    assert result.returncode == 1
    assert "plugin 'boom_plugin' (distribution harness-boom 0.1) called sys.exit(0)" in result.stderr


def test_blame_ignores_the_harness_own_code(fresh_host):
    try:
        harness.get_task("no-such-task-here")
    except harness.UnknownNameError as exc:
        assert fresh_host.blame(exc) is None
