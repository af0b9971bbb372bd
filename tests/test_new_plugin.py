"""``harness new-plugin``: the scaffold installs and passes its own tests out of the box.

The scaffold is installed with pip into a private ``--target`` folder (no
dependencies, no build isolation), so the shared environment is untouched;
its tests run in a new interpreter that has that folder on ``PYTHONPATH``,
where the entry point is discovered like any installed plugin's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest
from click.testing import CliRunner

from harness.cli import build_cli


def _new_plugin(*args: str):
    return CliRunner().invoke(build_cli(), ["new-plugin", *args])


@pytest.mark.parametrize("kind, name", [("task", "shapes"), ("reward", "short-answer")])
def test_the_scaffold_installs_and_passes_its_own_tests(tmp_path, kind, name):
    result = _new_plugin(name, "--kind", kind, "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    project = tmp_path / f"harness-{name}"
    package = "harness_" + name.replace("-", "_")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["harness"] == {name: f"{package}.plugin"}

    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
         "--target", str(site), str(project)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert (site / package / "plugin.py").is_file()

    env = {**os.environ, "PYTHONPATH": str(site)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "tests"],
        capture_output=True, text=True, cwd=project, env=env,
    )  # fmt: skip
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "skipped" not in tests.stdout  # the entry-point test ran: the install was found
    assert " passed" in tests.stdout


def test_the_harness_prefix_is_not_doubled(tmp_path):
    result = _new_plugin("harness-dots", "--dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "harness-dots" / "harness_dots" / "plugin.py").is_file()


@pytest.mark.parametrize("name", ["Shapes", "2d", "my task", "a--b", "x."])
def test_a_bad_name_is_refused(tmp_path, name):
    result = _new_plugin(name, "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "must be lowercase letters and digits" in result.output
    assert not any(tmp_path.iterdir())


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "harness-shapes").mkdir()
    (tmp_path / "harness-shapes" / "mine.txt").write_text("keep me")
    result = _new_plugin("shapes", "--dir", str(tmp_path))
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert (tmp_path / "harness-shapes" / "mine.txt").read_text() == "keep me"
