"""``harness install`` / ``harness uninstall`` on a local plugin package, through the CLI runner.

The install is real: pip puts a tiny plugin into this environment (editable,
no dependencies, no build isolation, so nothing is downloaded) and the test
removes it again.
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.cli.install import report_changes

DIST = "harness-installprobe"


@pytest.fixture
def probe_package(tmp_path):
    root = tmp_path / DIST
    (root / "harness_installprobe").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["setuptools>=69"]
            build-backend = "setuptools.build_meta"

            [project]
            name = "{DIST}"
            version = "0.3.0"

            [project.entry-points.harness]
            installprobe = "harness_installprobe"
            """
        )
    )
    (root / "harness_installprobe" / "__init__.py").write_text(
        textwrap.dedent(
            """
            import harness

            def factory():
                return lambda completions, **columns: [0.5 for _ in completions]

            factory.name = "installprobe-half"

            @harness.hookimpl
            def register_rewards(register):
                register(factory)
            """
        )
    )
    yield root
    # Leave the shared environment as it was, whatever the test did.
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", DIST], capture_output=True)


def test_install_then_uninstall_shows_what_the_plugin_registers(probe_package):
    cli = build_cli()
    runner = CliRunner()
    result = runner.invoke(cli, ["install", "--no-deps", "--no-build-isolation", "-e", str(probe_package)])
    assert result.exit_code == 0, result.output
    assert "New plugins:" in result.output
    assert f"installprobe  ({DIST} 0.3.0)  ok" in result.output
    assert "rewards: installprobe-half" in result.output
    assert importlib.metadata.distribution(DIST).version == "0.3.0"

    result = runner.invoke(cli, ["uninstall", "-y", DIST])
    assert result.exit_code == 0, result.output
    assert "Removed plugins:" in result.output and "installprobe" in result.output
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution(DIST)


def test_a_failing_pip_is_reported_without_traceback(tmp_path):
    result = CliRunner().invoke(
        build_cli(), ["install", "--no-deps", "--no-build-isolation", str(tmp_path / "nowhere")]
    )
    assert result.exit_code == 1
    assert "pip install failed" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", ["rft_harness", "rft.harness", "RFT__Harness", "rft-_harness", "PIP"])
def test_uninstall_refuses_to_remove_the_harness(name):
    result = CliRunner().invoke(build_cli(), ["uninstall", "-y", name])
    assert result.exit_code == 2
    assert "would remove the harness itself" in result.output


def test_install_needs_something_to_install():
    result = CliRunner().invoke(build_cli(), ["install"])
    assert result.exit_code == 2
    assert "Nothing to install" in result.output


def test_a_package_without_the_entry_point_is_explained(capsys):
    record = {"name": "x", "distribution": "d", "version": "1", "builtin": False,
              "status": "ok", "errors": [], "registers": {}}  # fmt: skip
    report_changes({"x": record}, {"x": record})
    assert "[project.entry-points.harness]" in capsys.readouterr().out
