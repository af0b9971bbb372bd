"""`harness run` and `harness eval` take the flags they share from one place, and every
flag lands in a field of the command's config model (so the two cannot drift)."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.config.eval import EvalConfig
from harness.config.run import RunConfig

# Flags that steer the command itself rather than set a config field.
CLI_ONLY = {
    "run": {"config_file", "sets", "check_only", "sources"},
    "eval": {
        "config_file",
        "no_progress",
        "plot",
        "html",
        "ray_address",
        "shards",
        "shard_gpus",
        "shard_cpus",
        "shard_retries",
        "sources",
    },
}
# where a flag's name differs from its field
FIELD_OF = {"sources": {"run": "source", "eval": "sources"}}


def _options(command: click.Command) -> dict[str, click.Option]:
    return {p.name: p for p in command.params if isinstance(p, click.Option) and p.name != "help"}


@pytest.fixture(scope="module")
def commands():
    cli = build_cli()
    return {"run": cli.commands["run"], "eval": cli.commands["eval"]}


@pytest.mark.parametrize("name, model", [("run", RunConfig), ("eval", EvalConfig)])
def test_every_flag_sets_a_field_of_the_config_model(commands, name, model):
    from harness.cli.run import BACKEND_FLAG_PREFIX

    for dest in _options(commands[name]):
        if dest.startswith(BACKEND_FLAG_PREFIX):  # a backend's own setting: checked below
            continue
        field = FIELD_OF.get(dest, {}).get(name, dest)
        assert field in model.model_fields or dest in CLI_ONLY[name], f"harness {name}: --{dest} sets no field"
    for dest in CLI_ONLY[name] - {"sources"}:
        assert dest in _options(commands[name]), dest  # the list above stays true


def test_fields_both_configs_have_are_flags_of_both_commands_alike(commands):
    run, ev = _options(commands["run"]), _options(commands["eval"])
    shared = set(RunConfig.model_fields) & set(EvalConfig.model_fields)
    for field in sorted(shared):
        in_run, in_eval = field in run, field in ev
        assert in_run == in_eval, f"{field}: a flag of {'run' if in_run else 'eval'} only"
    for dest in ("model", "allow_download", "max_image_pixels", "oversize_images"):
        assert run[dest].opts == ev[dest].opts and run[dest].help == ev[dest].help, dest
        assert type(run[dest].type) is type(ev[dest].type), dest


def test_run_takes_task_equals_source_as_eval_does(fresh_host, tmp_path):
    base = ["run", "--task", "banner", "--method", "sft", "--check", "-o", str(tmp_path / "r")]
    ok = CliRunner().invoke(build_cli(), [*base, "--source", "banner=synthetic"])
    assert ok.exit_code == 0, ok.output
    assert "OK: 1 stage(s)" in ok.output
    wrong = CliRunner().invoke(build_cli(), [*base, "--source", "fgvc=synthetic"])
    assert wrong.exit_code != 0 and "'fgvc'" in wrong.output and "banner" in wrong.output
    twice = CliRunner().invoke(build_cli(), [*base, "--source", "synthetic", "--source", "synthetic"])
    assert twice.exit_code != 0 and "once" in twice.output


def test_run_takes_the_image_limits(fresh_host, tmp_path):
    from harness.cli.options import parse_run_source

    assert parse_run_source(("hf:array/SAT@main",), "sat") == "hf:array/SAT@main"
    assert parse_run_source(("/data/a=b",), "sat") == "/data/a=b"  # a path may hold '=' after a '/'
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--check",
            "-o",
            str(tmp_path / "r"),
            "--max-image-pixels",
            "0",
        ],
    )
    assert result.exit_code != 0 and "max_image_pixels" in result.output  # validated by RunConfig's field


def test_backend_flags_come_from_the_backends_and_set_their_own_section(commands):
    from harness.cli.run import BACKEND_FLAG_PREFIX

    run = _options(commands["run"])
    declared = {
        dest[len(BACKEND_FLAG_PREFIX) :]: opt for dest, opt in run.items() if dest.startswith(BACKEND_FLAG_PREFIX)
    }
    assert set(declared) >= {"ray_address", "dry_run", "report_to"}
    for setting in declared:  # each is a field of a backend's settings model
        owners = [b for b in ("trl", "openrlhf") if setting in harness.get_backend(b).settings_model.model_fields]
        assert owners, setting
        assert all(owner in declared[setting].help for owner in owners), declared[setting].help


def test_a_backend_flag_for_another_backend_is_refused_by_name(fresh_host, tmp_path):
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--backend",
            "trl",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--check",
            "-o",
            str(tmp_path / "r"),
            "--ray-address",
            "http://h:8265",
        ],
    )
    assert result.exit_code == 2 and "--ray-address" in result.output and "openrlhf" in result.output


def test_a_third_party_backend_adds_its_own_flag(fresh_host, tmp_path):
    from harness.api.protocols import BackendFlag
    from harness.config.base import StrictModel

    class Settings(StrictModel):
        rows: int = 1

    seen = {}

    class CountingBackend:
        name = "counter"
        description = "Counts."
        settings_model = Settings
        cli_flags = (BackendFlag("--rows", "rows", "Rows per sample."),)

        def check(self, config):
            seen["rows"] = config.settings().rows

        def run(self, config):  # pragma: no cover - --check only
            raise AssertionError

    class Plugin:
        @harness.hookimpl
        def register_backends(self, register):
            register(CountingBackend())

    fresh_host.register_plugin(Plugin(), "counter-plugin")
    cli = build_cli()
    assert "--rows" in cli.commands["run"].get_help(click.Context(cli.commands["run"]))
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--backend",
            "counter",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--method",
            "sft",
            "--check",
            "-o",
            str(tmp_path / "r"),
            "--rows",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {"rows": 7}


@pytest.mark.parametrize("name, model", [("run", RunConfig), ("eval", EvalConfig)])
def test_defaults_shown_in_help_are_the_config_defaults(commands, name, model):
    """A flag's help ends with its default in brackets; where the field has a plain default, they agree."""
    import re

    checked = 0
    for dest, option in _options(commands[name]).items():
        field = model.model_fields.get(dest)
        shown = re.search(r"\[([^\[\]]+)\]\.?$", (option.help or "").strip())
        if field is None or shown is None or isinstance(field.default, bool) or field.default is None:
            continue
        if not isinstance(field.default, (int, float, str)):
            continue  # required fields and factories: the help describes what happens instead
        text = shown.group(1)
        if isinstance(field.default, str):
            assert text == field.default, (dest, text, field.default)
        else:
            assert float(text) == float(field.default), (dest, text, field.default)
        checked += 1
    assert checked >= 8
