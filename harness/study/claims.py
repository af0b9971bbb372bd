"""The paper's nine directional claims of Table 1, counted on the study's held-out evaluations.

Per task, the paper's Table 1 shows three directions:

- ``think_hurts_training_free``: the base model is worse with <think> than without;
- ``think_helps_rft``: after RFT, <think> is better than without;
- ``rft_beats_sft``: with <think>, RFT is better than SFT.

Each is a paired comparison on the same test samples (exact McNemar and a
paired bootstrap, :func:`harness.stats.compare_paired`). A claim *holds* when
the difference points the paper's way; it holds *at p < 0.05* when the
McNemar test is also significant. Nothing here is edited by hand: the report
renders what :func:`claim_tests` computed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# name -> (what it says, (method A, template A), (method B, template B)); the claim is B > A.
CLAIMS: dict[str, tuple[str, tuple[str, str], tuple[str, str]]] = {
    "think_hurts_training_free": ("<think> hurts training-free", ("base", "think"), ("base", "nothink")),
    "think_helps_rft": ("<think> helps RFT", ("grpo", "nothink"), ("grpo", "think")),
    "rft_beats_sft": ("RFT w/ <think> beats SFT w/ <think>", ("sft", "think"), ("grpo", "think")),
}


def claim_tests(study_dir: str | Path, tasks: Sequence[str], seed: int = 0) -> dict[str, dict[str, Any]]:
    """``{task: {claim: PairedResult dict (B against A), plus holds and significant}}``, for the
    claims whose two evaluations exist."""
    from harness.evaluation.compare import correct_by_sample
    from harness.evaluation.records import read_records, records_path
    from harness.stats import compare_paired
    from harness.study.significance import eval_dir

    root = Path(study_dir)
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        for name, (_, (method_a, tpl_a), (method_b, tpl_b)) in CLAIMS.items():
            path_a = records_path(eval_dir(root, method_a, task), task, tpl_a)
            path_b = records_path(eval_dir(root, method_b, task), task, tpl_b)
            if not (path_a.exists() and path_b.exists()):
                continue
            result = compare_paired(
                correct_by_sample(read_records(path_a, repair=False)),
                correct_by_sample(read_records(path_b, repair=False)),
                what=f"{task}: {name} ({path_a} and {path_b})",
                seed=seed,
            ).to_dict()
            result["holds"] = result["diff"] > 0
            result["significant_holds"] = bool(result["holds"] and result["significant"])
            out.setdefault(task, {})[name] = result
    return out


def claims_section(study: Mapping[str, Any]) -> list[str]:
    """Markdown lines: one row per task x claim, then how many hold and how many at p < 0.05."""
    from harness.stats import format_p

    claims = study.get("claims") or {}
    rows = [
        (task, name, claims[task][name]) for task in study["tasks"] for name in CLAIMS if name in claims.get(task, {})
    ]
    if not rows:
        return []
    lines = [
        "## The paper's directional claims (Table 1)",
        "",
        "Per task, the paper's Table 1 shows: <think> hurts training-free, <think> helps RFT, and RFT "
        "w/ <think> beats SFT w/ <think>. Each is a paired test on the same held-out samples "
        "(difference = the side the paper says is better minus the other, in points).",
        "",
        "| Task | claim | the paper's better side vs the other | difference, points [95% CI] | McNemar "
        "| holds | at p < 0.05 |",
        "|---|---|---|---|---|---|---|",
    ]
    for task, name, r in rows:
        label = CLAIMS[name][0]
        lines.append(
            f"| {task} | {label} | {100 * r['accuracy_b']:.1f} vs {100 * r['accuracy_a']:.1f} | "
            f"{100 * r['diff']:+.1f} [{100 * r['diff_low']:+.1f}, {100 * r['diff_high']:+.1f}] | "
            f"{format_p(r['p_mcnemar'])} | {'yes' if r['holds'] else 'no'} | "
            f"{'yes' if r['significant_holds'] else 'no'} |"
        )
    holds = sum(1 for *_, r in rows if r["holds"])
    strong = sum(1 for *_, r in rows if r["significant_holds"])
    lines += ["", f"The paper's direction holds for {holds} of {len(rows)} claims, {strong} of them at p < 0.05.", ""]
    return lines
