"""The core CLI: version, listings, plugin-added commands, error display, import weight."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.testing import registered_plugin


def invoke(*args: str):
    return CliRunner().invoke(build_cli(), list(args), catch_exceptions=False)


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert harness.__version__ in result.output


def test_plugins_json_lists_every_plugin_with_status():
    result = invoke("plugins", "--json")
    assert result.exit_code == 0
    records = json.loads(result.output)
    from harness.host.manager import DEFAULT_PLUGINS

    names = {r["name"] for r in records}
    assert set(DEFAULT_PLUGINS) <= names
    for r in records:
        assert {"name", "distribution", "version", "status", "registers", "errors"} <= set(r)


class HelloCommandPlugin:
    @harness.hookimpl
    def register_commands(self, cli):
        @cli.command()
        @click.argument("who")
        def hello(who):
            """Say hello (test plugin)."""
            click.echo(f"hello {who}")


class FailingCommandPlugin:
    @harness.hookimpl
    def register_commands(self, cli):
        raise RuntimeError("cannot build my command")


def test_plugin_adds_a_command(fresh_host):
    with registered_plugin(HelloCommandPlugin(), name="hello-plugin"):
        result = invoke("hello", "world")
    assert result.exit_code == 0
    assert result.output == "hello world\n"


def test_plugin_failing_in_register_commands_does_not_break_the_cli(fresh_host):
    with registered_plugin(FailingCommandPlugin(), name="bad-commands"):
        result = invoke("plugins")
        assert result.exit_code == 0
        assert "cannot build my command" in result.output


class TemplatePlugin:
    @harness.hookimpl
    def register_templates(self, register):
        class Loud:
            name = "loud"
            description = "Shout the answer."
            think = False
            prefill = ""

            def instruction(self, hint):
                return hint.upper()

        register(Loud())


def test_listing_shows_name_description_and_plugin(fresh_host):
    with registered_plugin(TemplatePlugin(), name="loud-plugin"):
        result = invoke("templates")
        as_json = json.loads(invoke("templates", "--json").output)
    assert result.exit_code == 0
    assert "loud" in result.output and "Shout the answer." in result.output and "loud-plugin" in result.output
    assert {"name": "loud", "plugin": "loud-plugin", "description": "Shout the answer."} in as_json


def test_harness_error_is_one_line_without_traceback(fresh_host):
    class Boom:
        @harness.hookimpl
        def register_commands(self, cli):
            @cli.command()
            def boom():
                raise harness.ConfigError("field 'x' has invalid value 3: use 1 or 2.")

    with registered_plugin(Boom(), name="boom"):
        result = CliRunner().invoke(build_cli(), ["boom"])
    assert result.exit_code == 2
    assert "Error: field 'x' has invalid value 3: use 1 or 2." in result.output
    assert "Traceback" not in result.output


HEAVY = ("torch", "transformers", "trl", "ray", "datasets", "lm_eval", "matplotlib", "vllm")


def test_help_and_listings_do_not_import_heavy_libraries():
    code = (
        "import sys\n"
        "from harness.cli import main\n"
        "for args in (['--help'], ['plugins', '--json'], ['tasks'], ['rewards'], ['templates'],"
        " ['backends'], ['engines']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), (args, e.code)\n"
        f"heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="


def test_python_dash_m_harness_works():
    out = subprocess.run([sys.executable, "-m", "harness", "--version"], capture_output=True, text=True, check=True)
    assert harness.__version__ in out.stdout
