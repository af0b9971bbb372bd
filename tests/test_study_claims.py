"""The paper's nine directional claims of Table 1, counted from held-out records (issue 24)."""

from __future__ import annotations

from harness.evaluation.records import write_records
from harness.study.claims import CLAIMS, claim_tests, claims_section
from harness.study.significance import eval_dir


def _records(right: list[bool]) -> list[dict]:
    return [
        {
            "id": f"q{i}",
            "index": i,
            "rotation": 0,
            "group": f"q{i}",
            "correct": ok,
            "prediction": "A" if ok else "B",
            "num_tokens": 3,
            "reward": float(ok),
            "rewards": {"accuracy": float(ok)},
        }
        for i, ok in enumerate(right)
    ]


def _write(root, method, task, template, right):
    write_records(eval_dir(root, method, task) / "samples" / f"{task}.{template}.jsonl", _records(right))


def test_claims_are_paired_tests_pointing_the_papers_way(tmp_path):
    n = 60
    # banner: the paper's shape, strongly (think hurts TF; RFT think > nothink; RFT think > SFT think)
    _write(tmp_path, "base", "banner", "nothink", [i < 40 for i in range(n)])
    _write(tmp_path, "base", "banner", "think", [i < 10 for i in range(n)])
    _write(tmp_path, "grpo", "banner", "nothink", [i < 20 for i in range(n)])
    _write(tmp_path, "grpo", "banner", "think", [i < 55 for i in range(n)])
    _write(tmp_path, "sft", "banner", "think", [i < 25 for i in range(n)])
    # sat: RFT think barely above SFT think (holds, not significant); think helps RFT: the other way
    _write(tmp_path, "grpo", "sat", "nothink", [i < 30 for i in range(n)])
    _write(tmp_path, "grpo", "sat", "think", [i < 26 for i in range(n)])
    _write(tmp_path, "sft", "sat", "think", [i < 25 for i in range(n)])
    claims = claim_tests(tmp_path, ["banner", "sat", "fgvc"])
    assert set(claims) == {"banner", "sat"}  # fgvc has no evaluations; sat lacks the base ones
    assert set(claims["banner"]) == set(CLAIMS) and set(claims["sat"]) == {"think_helps_rft", "rft_beats_sft"}
    hurts = claims["banner"]["think_hurts_training_free"]
    assert (hurts["accuracy_a"], hurts["accuracy_b"], hurts["n"]) == (10 / 60, 40 / 60, 60)  # A: think, B: nothink
    assert all(c["holds"] and c["significant_holds"] for c in claims["banner"].values())
    assert claims["sat"]["rft_beats_sft"]["holds"] and not claims["sat"]["rft_beats_sft"]["significant_holds"]
    assert not claims["sat"]["think_helps_rft"]["holds"]

    study = {"tasks": ["banner", "sat", "fgvc"], "claims": claims}
    text = "\n".join(claims_section(study))
    assert "The paper's direction holds for 4 of 5 claims, 3 of them at p < 0.05." in text
    row = next(line for line in text.splitlines() if line.startswith("| sat | <think> helps RFT"))
    assert row.endswith("| no | no |") and "43.3 vs 50.0 | -6.7 [" in row


def test_no_evaluations_no_claims_section(tmp_path):
    assert claim_tests(tmp_path, ["banner"]) == {}
    assert claims_section({"tasks": ["banner"], "claims": {}}) == []
