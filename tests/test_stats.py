"""harness.stats against hand-computed values, and paired comparisons of eval outputs."""

from __future__ import annotations

import json

import _eval_doubles  # noqa: E402
import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.errors import DataError
from harness.evaluation.compare import compare_outputs, correct_by_sample
from harness.evaluation.records import write_records
from harness.stats import compare_paired, format_p, mcnemar_exact, paired_bootstrap, wilson_interval
from harness.testing import registered_plugin


def test_mcnemar_exact_matches_hand_computed_binomial_tails():
    # b=10, c=2: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 2 * 79 / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    # all six discordant pairs favour one side: 2 / 2^6
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    # balanced: the doubled tail exceeds 1 and is capped
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(0, 0) == 1.0
    # large counts stay exact (no float underflow): 200 vs 0 is astronomically unlikely
    assert 0 < mcnemar_exact(200, 0) < 1e-59
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_wilson_interval_known_values():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-5)
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.23659, abs=1e-5), pytest.approx(0.76341, abs=1e-5))
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.72247, abs=1e-5) and high == 1.0
    # n=256 at 50%: about +-6 points, the study's target
    low, high = wilson_interval(128, 256)
    assert high - 0.5 == pytest.approx(0.0605, abs=5e-4)
    assert wilson_interval(0, 0) == (None, None)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_paired_bootstrap_extremes_and_determinism():
    same = paired_bootstrap([1, 0, 1, 0], [1, 0, 1, 0], resamples=500)
    assert same == {"diff": 0.0, "low": 0.0, "high": 0.0, "p": 1.0}
    better = paired_bootstrap([0] * 50, [1] * 50, resamples=500)
    assert better == {"diff": 1.0, "low": 1.0, "high": 1.0, "p": 0.0}
    a = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0] * 5
    b = [1, 1, 0, 1, 1, 1, 0, 1, 1, 0] * 5
    one, two = paired_bootstrap(a, b, seed=3), paired_bootstrap(a, b, seed=3)
    assert one == two and one["diff"] == pytest.approx(0.3)
    assert one["low"] > 0 and one["p"] < 0.01
    with pytest.raises(ValueError):
        paired_bootstrap([1, 0], [1])


def test_compare_paired_counts_discordant_pairs_and_refuses_other_samples():
    a = {f"s{i}": i < 6 for i in range(20)}  # right on s0..s5
    b = {f"s{i}": i < 6 or i >= 14 for i in range(20)}  # also right on s14..s19
    result = compare_paired(a, b)
    assert (result.n, result.only_a, result.only_b) == (20, 0, 6)
    assert result.accuracy_a == 0.3 and result.accuracy_b == 0.6
    assert result.diff == pytest.approx(0.3)
    assert result.p_mcnemar == pytest.approx(2 / 64) and result.significant
    assert result.to_dict()["significant"] is True
    with pytest.raises(DataError, match=r"banner x think.*1 only in the first, e\.g\. \['s19'\]"):
        compare_paired(a, {k: v for k, v in b.items() if k != "s19"}, what="banner x think")


def test_format_p():
    assert format_p(0.0004) == "p<0.001"
    assert format_p(0.0312) == "p=0.031"


def _records(ids_correct, rotations=1):
    out = []
    for index, (sid, correct) in enumerate(ids_correct):
        for k in range(rotations):
            rid = f"{sid}#r{k}" if rotations > 1 else sid
            right = correct(k)  # every field a logged record has (read_records checks them)
            out.append(
                {
                    "id": rid,
                    "index": index,
                    "rotation": k,
                    "group": sid,
                    "correct": right,
                    "prediction": "A" if right else "B",
                    "num_tokens": 3,
                    "reward": float(right),
                    "rewards": {"accuracy": float(right)},
                }
            )
    return out


def test_compare_outputs_pairs_by_id_and_counts_circular_groups_once(tmp_path):
    # run A: right on every rotation of q0..q3; run B: q0..q3 miss one rotation, q4..q7 all right
    a = _records([(f"q{i}", (lambda k, i=i: i < 4)) for i in range(8)], rotations=2)
    b = _records([(f"q{i}", (lambda k, i=i: i >= 4 or k == 0)) for i in range(8)], rotations=2)
    write_records(tmp_path / "a" / "samples" / "sat.think.jsonl", a)
    write_records(tmp_path / "b" / "samples" / "sat.think.jsonl", list(reversed(b)))  # order is irrelevant
    assert correct_by_sample(b) == {f"q{i}": i >= 4 for i in range(8)}
    result = compare_outputs(tmp_path / "a", tmp_path / "b", "sat", "think")
    assert (result.n, result.only_a, result.only_b, result.diff) == (8, 4, 4, 0.0)
    assert result.p_mcnemar == 1.0
    write_records(tmp_path / "c" / "samples" / "sat.think.jsonl", a[:-2])
    with pytest.raises(DataError, match="sat x think in .*q7"):
        compare_outputs(tmp_path / "a", tmp_path / "c", "sat", "think")
    with pytest.raises(DataError, match="no sample records"):
        compare_outputs(tmp_path / "a", tmp_path / "missing", "sat", "think")


@pytest.fixture
def doubles(fresh_host):
    plugin = _eval_doubles.Plugin()
    with registered_plugin(plugin, name="eval-doubles", host=fresh_host):
        yield plugin


def _eval(runner, cli, model, out, *extra):
    result = runner.invoke(
        cli,
        [
            "eval",
            "--tasks",
            "toy",
            "--engine",
            "scripted",
            "--model",
            str(model),
            "--no-progress",
            "-o",
            str(out),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output


def test_cli_report_adds_paired_tests_and_refuses_different_samples(doubles, tmp_path):
    cli, runner = build_cli(), CliRunner()
    _eval_doubles.fake_checkpoint(tmp_path / "m")  # a folder the checkpoint check accepts
    # seed 0: the scripted model is right on even samples; seed 1 shifts the choices: never right.
    _eval(runner, cli, tmp_path / "m", tmp_path / "good", "--limit", "12", "--templates", "think")
    _eval(runner, cli, tmp_path / "m", tmp_path / "bad", "--limit", "12", "--templates", "think", "--seed", "1")
    _eval(runner, cli, tmp_path / "m", tmp_path / "short", "--limit", "6", "--templates", "think")
    md = tmp_path / "t1.md"
    result = runner.invoke(cli, ["report", str(tmp_path / "bad"), str(tmp_path / "good"), "-o", str(md)])
    assert result.exit_code == 0, result.output
    text = md.read_text()
    assert "## Paired tests" in text
    row = next(line for line in text.splitlines() if line.startswith("| toy | think | good vs bad"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # 6 of 12 samples only the good run gets right: McNemar p = 2 / 2^6
    assert cells[3:7] == ["12", cells[4], "0 / 6", "p=0.031 *"]
    assert cells[4].startswith("+50.0 [")
    assert "50.0 [" in text and "n=12" in text

    refused = runner.invoke(cli, ["report", str(tmp_path / "good"), str(tmp_path / "short")])
    assert refused.exit_code != 0
    assert "toy x think" in refused.output and "--no-paired" in refused.output
    assert "Traceback" not in refused.output
    plain = runner.invoke(cli, ["report", str(tmp_path / "good"), str(tmp_path / "short"), "--no-paired"])
    assert plain.exit_code == 0, plain.output
    assert "Paired tests" not in plain.output
    assert json.loads((tmp_path / "good" / "results.json").read_text())["results"]["toy"]["think"]["n"] == 12


def test_compare_runs_says_which_cells_have_no_sample_log_to_pair(tmp_path):
    from harness.evaluation.compare import compare_runs

    a = _records([(f"q{i}", (lambda k, i=i: i < 4)) for i in range(8)])
    write_records(tmp_path / "a" / "samples" / "sat.think.jsonl", a)
    write_records(tmp_path / "b" / "samples" / "sat.think.jsonl", a)
    results = {"results": {"sat": {"think": {}, "nothink": {}}}}
    unpaired = []
    out = compare_runs([("A", tmp_path / "a", results), ("B", tmp_path / "b", results)], unpaired=unpaired)
    assert [(c["task"], c["template"], c["n"], c["diff"]) for c in out] == [("sat", "think", 8, 0.0)]
    assert unpaired == [f"B vs A, sat x nothink: no sample log {tmp_path / 'a' / 'samples' / 'sat.nothink.jsonl'}"]
