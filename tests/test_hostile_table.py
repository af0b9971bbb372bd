"""scripts/hostile_table.py, the hostile suite's table: each outcome lands in its column."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("hostile_table", ROOT / "scripts" / "hostile_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


CASES = """
import time

import pytest

import harness

HOSTILE_CLASS = "Demo"


def test_refused_by_name():  # no mark: it raised a HarnessError, so its kind is error
    with pytest.raises(harness.ConfigError):
        raise harness.ConfigError("field 'x': named")


def test_scored_right():  # no mark, no error: a result
    assert 1 + 1 == 2


@pytest.mark.hostile("error")
def test_accepted_silently():
    with pytest.raises(harness.DataError):
        pass


@pytest.mark.hostile("result")
def test_escaping_exception():
    {}["missing"]


@pytest.mark.hostile("result")
def test_wrong_number():
    assert 0.4 == 0.5


@pytest.mark.hostile("data")
def test_sample_lost():
    assert ["a"] == ["a", "b"]


@pytest.mark.hostile("bounded")
def test_never_ends():
    time.sleep(30)


@pytest.mark.hostile("result")
def test_refused_good_input():
    raise harness.DataError("spurious")


@pytest.mark.hostile("error", cls="Other class")
def test_cli_printed_a_traceback():
    output = "Traceback (most recent call last): ..."
    assert "Traceback" not in output, output


@pytest.mark.hostile("error")
def test_unclear_message():
    with pytest.raises(harness.DataError, match="row 3"):
        raise harness.DataError("something failed")


@pytest.mark.skip(reason="needs CUDA")
@pytest.mark.hostile("error")
def test_skipped_here():
    pass


def helper_not_a_test():
    pass
"""


def test_each_outcome_is_counted_in_its_column(pytester, table):
    pytester.makepyfile(test_cases=CASES)
    collector = table.Collector(timeout_s=1.0)
    pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[collector])
    columns = {c.nodeid.split("::")[1]: c.column for c in collector.cases.values()}
    assert columns == {
        "test_refused_by_name": "clean errors",
        "test_scored_right": "correct results",
        "test_accepted_silently": "silent wrong results",
        "test_escaping_exception": "tracebacks",
        "test_wrong_number": "silent wrong results",
        "test_sample_lost": "data lost",
        "test_never_ends": "hangs",
        "test_refused_good_input": "other failures",
        "test_cli_printed_a_traceback": "tracebacks",
        "test_unclear_message": "other failures",
        "test_skipped_here": "skipped",
    }
    rendered = table.render(list(collector.cases.values()))
    assert rendered.splitlines()[2:5] == [
        "| Demo | 10 | 1 | 1 | 1 | 2 | 1 | 1 | 2 |",
        "| Other class | 1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 |",
        "| **all** | **11** | **1** | **1** | **2** | **2** | **1** | **1** | **2** |",
    ]
    assert "1 case(s) skipped" in rendered


def test_an_unknown_kind_is_a_usage_error(pytester, table):
    pytester.makepyfile(
        test_bad="""
import pytest

HOSTILE_CLASS = "Demo"


@pytest.mark.hostile("fine")
def test_x():
    pass
"""
    )
    collector = table.Collector(timeout_s=5.0)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", plugins=[collector])
    assert "hostile kind 'fine' is not one of error, result, data, bounded" in result.stdout.str() + result.stderr.str()


def test_the_docs_table_is_the_generated_one_in_shape(table):
    text = (ROOT / "docs" / "hostile.md").read_text(encoding="utf-8")
    generated = text.split(table.BEGIN, 1)[1].split(table.END, 1)[0].strip().splitlines()
    assert generated[0] == "| class | " + " | ".join(table.COLUMNS) + " |"
    rows = {line.split(" | ")[0].lstrip("| ") for line in generated[2:] if line.startswith("| ")}
    assert {"Confinement and integrity", "Plugin isolation", "Security grep", "**all**"} <= rows
    assert table.update_docs(text, "\n".join(generated)) == text  # regenerating the same table changes nothing
    paths = table.suite_paths()
    assert paths[0].endswith("tests/hostile") and any(p.endswith("test_plugin_isolation.py") for p in paths)
    assert not any(p.endswith("test_hostile_table.py") for p in paths)  # its HOSTILE_CLASS is in a string
