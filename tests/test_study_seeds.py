"""harness.study.seeds: one study over several seeds (mean, min and max per cell; paired verdicts per seed)."""

import json

import pytest

import harness
from harness.study.seeds import load_studies, main, render


def _study(seed, base, rft, p, preset_name="mini"):
    cell = lambda acc: {"accuracy": acc, "n": 256}  # noqa: E731
    test = {
        "diff": rft - base,
        "diff_low": -0.1,
        "diff_high": 0.1,
        "p_mcnemar": p,
        "p_bootstrap": p,
        "significant": p < 0.05,
        "n": 256,
        "only_a": 3,
        "only_b": 9,
        "accuracy_a": base,
        "accuracy_b": rft,
    }
    return {
        "preset": {"name": preset_name, "seed": seed, "grpo_steps": 150},
        "tasks": ["banner"],
        "table": {
            "banner": {
                "base": {"think": cell(base), "nothink": cell(base)},
                "grpo": {"think": cell(rft), "nothink": cell(rft)},
            }
        },
        "tests": {"banner": {"think": {"grpo": test}}},
    }


def _write(tmp_path, name, study):
    (tmp_path / name).mkdir()
    (tmp_path / name / "study.json").write_text(json.dumps(study))
    return tmp_path / name


def test_cells_are_mean_min_max_over_seeds_and_verdicts_are_counted(tmp_path):
    dirs = [
        _write(tmp_path, "s0", _study(0, 0.50, 0.60, 0.001)),
        _write(tmp_path, "s1", _study(1, 0.40, 0.45, 0.20)),
        _write(tmp_path, "s2", _study(2, 0.45, 0.60, 0.01)),
    ]
    text = render(dirs)
    row = next(line for line in text.splitlines() if line.startswith("| banner | 45.0"))
    # training-free 45.0 [40.0, 50.0]; SFT absent in every seed; RFT 55.0 [45.0, 60.0]
    assert row == ("| banner | 45.0 [40.0, 50.0] | 45.0 [40.0, 50.0] | — | — | 55.0 [45.0, 60.0] | 55.0 [45.0, 60.0] |")
    verdict = next(line for line in text.splitlines() if "RFT vs training-free" in line)
    assert verdict.endswith("| 2 of 3 |") and "+10.0 (p=0.001); +5.0 (p=0.200); +15.0 (p=0.010)" in verdict


def test_claims_are_counted_per_seed_and_left_out_when_no_seed_has_them(tmp_path):
    def claim(diff, significant):
        return {"diff": diff, "holds": diff > 0, "significant_holds": diff > 0 and significant}

    studies = [_study(seed, 0.5, 0.6, 0.01) for seed in range(3)]
    assert "directional claims" not in render([_write(tmp_path, f"a{i}", s) for i, s in enumerate(studies)])
    for study, (diff, sig) in zip(studies, [(0.1, True), (0.02, False), (-0.05, False)]):
        study["claims"] = {"banner": {"think_helps_rft": claim(diff, sig)}}
    text = render([_write(tmp_path, f"b{i}", s) for i, s in enumerate(studies)])
    row = next(line for line in text.splitlines() if "<think> helps RFT" in line)
    assert row == "| banner | <think> helps RFT | +10.0; +2.0; -5.0 | 2 of 3 | 1 of 3 |"
    assert "RFT w/ <think> beats SFT" not in text  # a claim no seed measured gets no row


def test_other_presets_or_repeated_seeds_are_refused(tmp_path):
    a = _write(tmp_path, "a", _study(0, 0.5, 0.5, 1.0))
    b = _write(tmp_path, "b", _study(1, 0.5, 0.5, 1.0, preset_name="ci"))
    with pytest.raises(harness.ConfigError, match=r"not the same study .* but for the seed \(name: 'mini' -> 'ci'"):
        load_studies([a, b])
    c = _write(tmp_path, "c", _study(0, 0.5, 0.5, 1.0))
    with pytest.raises(harness.ConfigError, match=r"share seeds \(\[0, 0\]\)"):
        load_studies([a, c])


def test_command_line_errors_are_one_line(tmp_path, capsys):
    a = _write(tmp_path, "a", _study(0, 0.5, 0.5, 1.0))
    assert main([str(a), str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and "study.json" in err and len(err.splitlines()) == 1
    assert main([str(a)]) == 2
