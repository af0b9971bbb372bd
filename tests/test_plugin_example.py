"""The third-party example plugin (examples/harness-counting), used as users use it.

CI installs it into the test environment first:
``pip install --no-deps --no-build-isolation -e examples/harness-counting``.
Everything here goes through the public API and the installed entry point.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import math
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
from click.testing import CliRunner

import harness
from harness.api import PUBLIC_MODULES
from harness.cli import build_cli

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "harness-counting"
INSTALL = "pip install --no-deps --no-build-isolation -e examples/harness-counting"


@pytest.fixture(scope="module", autouse=True)
def example_installed():
    try:
        importlib.metadata.distribution("harness-counting")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(f"the example plugin is not installed; run: {INSTALL}")


@pytest.fixture
def counting(fresh_host):
    return harness.get_task("counting")


def test_harness_plugins_json_lists_the_example(fresh_host):
    result = CliRunner().invoke(build_cli(), ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    record = next(r for r in json.loads(result.output) if r["name"] == "counting")
    assert record["distribution"] == "harness-counting"
    assert record["builtin"] is False
    assert record["status"] == "ok", record["errors"]
    assert record["registers"] == {"tasks": ["counting"], "rewards": ["length_norm_rep"]}


def test_the_example_imports_only_the_public_api():
    for path in (EXAMPLE / "harness_counting").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            for module in modules:
                if module.split(".")[0] == "harness":
                    assert module in PUBLIC_MODULES, f"{path.name} imports {module}"


@pytest.mark.parametrize(
    "answer, right",
    [
        ("7", True),
        ("seven", True),
        ("7 objects", True),
        ("There are 7 circles.", True),
        ("Seven", True),
        ("**7**", True),
        ("≈ 7", False),
        ("7?", False),
        ("7 or 8", False),
        ("7-8", False),
        ("seven to eight", False),
        ("about 7", False),
        ("7.5", False),
        ("", False),
        ("8", False),
    ],
)
def test_numeric_answer_rule(counting, answer, right):
    sample = harness.Sample("s", [], "How many circles are in the image?", None, "7")
    assert counting.is_correct(f"<think>I count.</think><answer>{answer}</answer>", sample) is right


def test_the_last_answer_block_counts(counting):
    sample = harness.Sample("s", [], "How many circles are in the image?", None, "7")
    assert counting.is_correct("<answer>8</answer> no, wait: <answer>7</answer>", sample)
    assert not counting.is_correct("<answer>7</answer> no, wait: <answer>8</answer>", sample)
    assert not counting.is_correct("7", sample)
    assert counting.extract_answer([{"role": "assistant", "content": "<answer>twenty-one</answer>"}]) == "21"


def test_a_hostile_completion_is_read_in_linear_time(counting):
    sample = harness.Sample("s", [], "q", None, "7")
    assert not counting.is_correct("<answer>" + "7 " * 500_000 + "</answer>" * 3, sample)


def _components(image) -> int:
    """Connected non-white regions (4-neighbourhood): the shapes drawn."""
    width, height = image.size
    pixels = image.load()
    seen = set()
    regions = 0
    for start in ((x, y) for y in range(height) for x in range(width)):
        if start in seen or pixels[start] == (255, 255, 255):
            continue
        regions += 1
        queue = deque([start])
        seen.add(start)
        while queue:
            x, y = queue.popleft()
            for nxt in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
                if 0 <= nxt[0] < width and 0 <= nxt[1] < height and nxt not in seen:
                    if pixels[nxt] != (255, 255, 255):
                        seen.add(nxt)
                        queue.append(nxt)
    return regions


def test_synthetic_images_show_the_counted_shapes(counting):
    for sample in counting.samples("test", limit=4, seed=3):
        assert sample.question == f"How many {sample.meta['shape']}s are in the image?"
        assert sample.answer == str(sample.meta["count"])
        assert sample.images[0].size == (128, 128)
        assert _components(sample.images[0]) == sample.meta["count"] + sample.meta["distractors"]


def test_synthetic_samples_are_deterministic_by_seed(counting):
    def snapshot(seed):
        return [(s.id, s.answer, s.images[0].tobytes()) for s in counting.samples("train", limit=5, seed=seed)]

    assert snapshot(1) == snapshot(1)
    assert snapshot(1) != snapshot(2)
    assert [s.id for s in counting.samples("train", limit=3)] == [s.id for s in counting.samples("train", limit=5)][:3]


def test_prompt_uses_the_template(counting):
    sample = next(counting.samples("test", limit=1))
    messages = counting.build_prompt(sample, harness.get_template("think"))
    content = messages[0]["content"]
    assert [part["type"] for part in content] == ["image", "text"]
    assert content[0]["image"] is sample.images[0]
    assert sample.question in content[1]["text"] and "<think>" in content[1]["text"]


def test_metrics(counting):
    records = [
        {"id": "a", "gold": "3", "prediction": "3", "correct": True},
        {"id": "b", "gold": "3", "prediction": "5", "correct": False},
        {"id": "c", "gold": "4", "prediction": None, "correct": False},
    ]
    assert counting.metrics(records) == {"accuracy": 1 / 3, "answered": 2 / 3, "n": 3.0, "mae": 1.0}


def test_metrics_read_gold_counts_written_as_words(counting):
    records = [
        {"id": "a", "gold": "seven", "prediction": "5", "correct": False},
        {"id": "b", "gold": 3, "prediction": "3", "correct": True},
        {"id": "c", "gold": "3 or 4", "prediction": "3", "correct": False},  # unreadable gold: no error
    ]
    assert counting.metrics(records) == {"accuracy": 1 / 3, "answered": 1.0, "n": 3.0, "mae": 1.0}


# -- real-data layout -----------------------------------------------------------


@pytest.fixture
def dataset(tmp_path):
    from PIL import Image

    (tmp_path / "img").mkdir()
    for name in ("a.png", "b.png"):
        Image.new("RGB", (8, 8), "white").save(tmp_path / "img" / name)
    (tmp_path / "train.jsonl").write_text(
        '{"image": "img/a.png", "answer": 3, "object": "apple"}\n'
        "\n"
        '{"image": "img/b.png", "answer": "12", "question": "Count the birds."}\n'
    )
    (tmp_path / "test.csv").write_text("image,answer,id\nimg/b.png,0,b0\n")
    return tmp_path


def test_real_layout_loads_jsonl_and_csv(counting, dataset):
    train = list(counting.samples("train", source=dataset))
    assert [(s.question, s.answer) for s in train] == [
        ("How many apples are in the image?", "3"),
        ("Count the birds.", "12"),
    ]
    assert train[0].images == [str(dataset / "img" / "a.png")]
    assert train[1].meta["row"] == 3
    (test,) = counting.samples("test", source=str(dataset / "test.csv"))
    assert (test.id, test.answer, test.question) == ("b0", "0", "How many objects are in the image?")


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"image": "img/a.png", "answer": 7.5}', r"row 1: answer 7\.5 is not a whole number"),
        ('{"image": "img/a.png", "answer": -2}', r"row 1: answer -2 is negative"),
        ('{"image": "img/missing.png", "answer": 2}', r"row 1: image file .*missing\.png does not exist"),
        ('{"image": "../outside.png", "answer": 2}', r"row 1: image path '\.\./outside\.png' escapes the dataset root"),
        ('{"image": "/nonexistent/a.png", "answer": 2}', r"row 1: image file .*/nonexistent/a\.png does not exist"),
        ('{"image": "img/a.png"}', r"row 1: missing 'answer'"),
        ('{"image": "img/a.png", "answer": 2', r"row 1: not valid JSON"),
        ('["img/a.png", 2]', r"row 1: .*JSON object"),
        ('{"image": "img/bad.png", "answer": 2}', r"row 1: cannot decode .*bad\.png"),
    ],
)
def test_a_bad_row_names_file_row_and_problem(counting, dataset, line, message):
    (dataset / "img" / "bad.png").write_bytes(b"not a png")
    (dataset / "train.jsonl").write_text(line + "\n")
    with pytest.raises(harness.DataError, match=message) as info:
        list(counting.samples("train", source=dataset))
    assert str(dataset / "train.jsonl") in str(info.value)


def test_skip_mode_keeps_the_good_rows_and_reports_the_bad(counting, dataset):
    (dataset / "train.jsonl").write_text(
        '{"image": "img/a.png", "answer": 3}\n{not json\n{"image": "../x.png", "answer": 1}\n'
        '{"image": "img/b.png", "answer": "two"}\n{"image": "img/b.png", "answer": 2}\n'
    )
    skipped = []
    samples = list(counting.samples("train", source=dataset, on_error="skip", skipped=skipped))
    assert [s.answer for s in samples] == ["3", "2"]
    assert [(s.row, s.problem.split(" ")[0]) for s in skipped] == [(2, "not"), (3, "image"), (4, "answer")]
    assert all(str(s).count("row") == 1 for s in skipped)


def test_layout_errors_say_what_is_expected(counting, dataset):
    (dataset / "test.csv").write_text("picture,count\nimg/a.png,3\n")
    with pytest.raises(harness.DataError, match=r"lacks column\(s\) answer, image \(found: picture, count\)"):
        list(counting.samples("test", source=dataset))
    (dataset / "test.csv").unlink()
    with pytest.raises(harness.DataError, match=r"expected test\.jsonl or test\.csv \(found: train\.jsonl\)"):
        list(counting.samples("test", source=dataset))
    with pytest.raises(harness.ConfigError, match="no split 'val'"):
        counting.samples("val")


# -- the reward -------------------------------------------------------------------


def test_length_norm_rep_is_length_norm_without_repetition(fresh_host):
    varied = "<think>" + " ".join(f"word{i}" for i in range(40)) + "</think><answer>3</answer>"
    length = harness.get_reward("length_norm", L0=20, span="think")
    rep = harness.get_reward("length_norm_rep", L0=20)
    assert rep([varied]) == length([varied])


def test_padding_with_repetition_does_not_pay(fresh_host):
    reward = harness.get_reward("length_norm_rep", L0=20)
    honest = "<think>" + " ".join(f"step{i}" for i in range(20)) + "</think><answer>3</answer>"
    padded = "<think>" + " ".join(f"step{i}" for i in range(20)) + " I count again." * 30 + "</think><answer>3</answer>"
    short, long = reward([honest, padded])
    assert long < short
    assert harness.get_reward("length_norm", L0=20, span="think")([padded])[0] > short  # the plain one pays


def test_length_norm_rep_takes_trl_calls_and_checks_params(fresh_host):
    reward = harness.get_reward("length_norm_rep", L0=4, n=2)
    conversation = [{"role": "assistant", "content": "<think>a b a b a b</think><answer>3</answer>"}]
    (value,) = reward([conversation], prompts=["q"], answer=["3"], task=["counting"], trainer_state=None)
    assert value == pytest.approx(1 / (1 + 2.718281828459045**-0.5) * (1 - 3 / 5))
    assert reward.__name__ == "length_norm_rep"
    with pytest.raises(harness.ConfigError, match="n must be"):
        harness.get_reward("length_norm_rep", n=0)
    with pytest.raises(harness.ConfigError, match="L0"):
        harness.get_reward("length_norm_rep", L0=-1)


def test_the_example_docstring_examples_hold(fresh_host):
    import doctest

    from harness_counting import answer_rule, reward

    for module in (answer_rule, reward):
        failed, attempted = doctest.testmod(module, verbose=False)
        assert attempted and not failed, module.__name__


def test_the_example_passes_its_own_tests():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
        capture_output=True,
        text=True,
        cwd=EXAMPLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- through the harness's commands -------------------------------------------------


@pytest.mark.slow
def test_harness_run_trains_on_the_plugin_task_with_the_plugin_reward(fresh_host, tiny_model_dir, tmp_path):
    args = [
        "run", "--backend", "trl", "--task", "counting", "--reward", "accuracy:1,length_norm_rep:0.5",
        "--preset", "smoke", "--max-steps", "1", "--model", str(tiny_model_dir), "-o", str(tmp_path / "run"),
        "--source", "counting=synthetic",
    ]  # fmt: skip
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    (step,) = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    # The untrained tiny model writes 16 tokens of noise: every completion is clipped at the length cap, names
    # no <answer> (accuracy 0) and closes no <think> span, so the plugin reward measures an empty span:
    # L = 0 and R(0) = 1 / (1 + e) at the default alpha = 1, with no repetition to discount.
    assert step["completions/clipped_ratio"] == 1.0
    assert step["rewards/accuracy/mean"] == 0.0
    assert step["rewards/length_norm_rep/mean"] == pytest.approx(1 / (1 + math.e))
    # TRL sums the components with the spec's weights.
    assert step["reward"] == pytest.approx(step["rewards/accuracy/mean"] + 0.5 * step["rewards/length_norm_rep/mean"])
    assert (tmp_path / "run" / "final" / "model.safetensors").is_file()


@pytest.mark.slow
def test_harness_eval_runs_the_plugin_task_and_reward(fresh_host, tiny_model_dir, tmp_path):
    out = tmp_path / "eval"
    args = [
        "eval", "--tasks", "counting", "--templates", "think", "--limit", "2", "--max-new-tokens", "8",
        "--rewards", "accuracy:1,length_norm_rep:0.5", "--model", str(tiny_model_dir), "-o", str(out),
        "--source", "counting=synthetic",
    ]  # fmt: skip
    result = CliRunner().invoke(build_cli(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "results.json").read_text())["results"]["counting"]["think"]
    assert summary["n"] == 2 and summary["complete"]
    assert set(summary["metrics"]) >= {"accuracy", "answered"}  # the task's own metrics
    assert set(summary["rewards_mean"]) == {"accuracy", "length_norm_rep"}
    records = [json.loads(line) for line in (out / "samples" / "counting.think.jsonl").read_text().splitlines()]
    golds = [s.answer for s in harness.get_task("counting").samples("test", limit=2)]
    assert sorted(r["gold"] for r in records) == sorted(golds)
