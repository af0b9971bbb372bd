"""The study's outputs: Table-1 ``report.md``, Figure-2 PNGs and the honest summary.

Everything here works on the plain ``study.json`` dictionary the runner
writes, so a report can be rebuilt from a finished output directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

METHODS = (("base", "Training-free"), ("sft", "SFT"), ("grpo", "RFT"))
TEMPLATES = (("nothink", "w/o <think>"), ("think", "w/ <think>"))


def window_means(values: Sequence[float], fraction: float = 0.2) -> tuple[float, float]:
    """Mean of the first and of the last ``fraction`` of ``values`` (at least one value each)."""
    if not values:
        raise ValueError("no values")
    k = max(1, round(len(values) * fraction))
    return sum(values[:k]) / k, sum(values[-k:]) / k


def learning_verdict(accuracy_by_step: Sequence[float]) -> dict[str, Any]:
    """Did accuracy reward rise? Mean of the last 20% of steps vs the first 20%."""
    first, last = window_means(accuracy_by_step)
    return {"first_20pct": first, "last_20pct": last, "delta": last - first, "learned": last > first}


def _cell(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("accuracy") is None:
        return "—"
    text = f"{100 * entry['accuracy']:.1f}"
    fmt = entry.get("format_compliance")
    if fmt is not None:
        text += f" ({100 * fmt:.0f}% fmt)"
    return text


def table_rows(study: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and body of Table 1: rows = tasks, columns = method x template."""
    header = ["Task"] + [f"{label} {tpl_label}" for _, label in METHODS for _, tpl_label in TEMPLATES]
    body = []
    for task in study["tasks"]:
        row = [task]
        for method, _ in METHODS:
            for tpl, _ in TEMPLATES:
                row.append(_cell(study["table"].get(task, {}).get(method, {}).get(tpl)))
        body.append(row)
    return header, body


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def summary_lines(study: Mapping[str, Any]) -> list[str]:
    """Plain sentences stating what the numbers show, including what did not work."""
    lines = []
    table, learning = study["table"], study.get("learning", {})
    for task in study["tasks"]:
        parts = []
        verdict = learning.get(task, {}).get("grpo")
        if verdict:
            if verdict["learned"]:
                parts.append(
                    f"GRPO learned: mean accuracy reward rose from {verdict['first_20pct']:.2f} "
                    f"(first 20% of steps) to {verdict['last_20pct']:.2f} (last 20%)"
                )
            else:
                parts.append(
                    f"GRPO did NOT learn at this scale: accuracy reward {verdict['first_20pct']:.2f} "
                    f"(first 20%) -> {verdict['last_20pct']:.2f} (last 20%)"
                )
        acc = {m: {t: (table.get(task, {}).get(m, {}).get(t) or {}).get("accuracy") for t, _ in TEMPLATES}
               for m, _ in METHODS}
        think = {m: acc[m]["think"] for m in acc}
        if None not in think.values():
            best = max(think, key=lambda m: think[m])
            label = dict(METHODS)[best]
            parts.append(
                "with <think>: training-free {:.1f}, SFT {:.1f}, RFT {:.1f} (best: {})".format(
                    100 * think["base"], 100 * think["sft"], 100 * think["grpo"], label)
            )
        rft = acc["grpo"]
        if None not in rft.values():
            rel = ("higher than" if rft["think"] > rft["nothink"]
                   else "lower than" if rft["think"] < rft["nothink"] else "equal to")
            parts.append(f"RFT with <think> is {rel} without ({100 * rft['think']:.1f} vs {100 * rft['nothink']:.1f})")
        probe = study.get("probe", {}).get(task)
        if probe and probe["groups_with_variance"] == 0:
            why = ("the prompt never names the answer, no options are listed, so the base model cannot "
                   "produce one" if probe.get("gold_in_prompt_rate") == 0.0
                   else f"only {100 * probe['valid_option_rate']:.0f}% of its answers were valid options")
            parts.append(
                f"at step 0 no GRPO group had differing accuracy rewards ({why}): the accuracy reward "
                "gave GRPO no signal to start from, only the format reward did")
        ln = learning.get(task, {}).get("grpo_length_norm")
        lengths = study.get("lengths", {}).get(task, {})
        if ln and verdict and lengths.get("grpo") and lengths.get("grpo_length_norm"):
            cap = study["preset"].get("max_completion_length")
            at_cap = " (at the completion cap)" if cap and lengths["grpo_length_norm"] >= 0.95 * cap else ""
            parts.append(
                "length_norm ablation: final response length {:.1f}{} vs {:.1f} tokens without it; "
                "final accuracy reward {:.2f} vs {:.2f}".format(
                    lengths["grpo_length_norm"], at_cap, lengths["grpo"], ln["last_20pct"], verdict["last_20pct"])
            )
        lines.append(f"- **{task}**: " + "; ".join(parts) + "." if parts else f"- **{task}**: no results.")
    not_learned = [t for t in study["tasks"] if not learning.get(t, {}).get("grpo", {}).get("learned", False)]
    if not_learned:
        lines.append(f"- Tasks where GRPO did not show learning: {', '.join(not_learned)}. "
                     "They stay in the table; the data were not tuned to make them learn.")
    else:
        lines.append("- GRPO showed learning (last 20% > first 20% of steps) on every task.")
    lines.append("- Scale caveat: a tiny VLM on synthetic twins; the numbers check that the pipeline "
                 "learns and show the table's shape, they do not reproduce the paper's values.")
    return lines


def render_report(study: Mapping[str, Any]) -> str:
    header, body = table_rows(study)
    base = study.get("base", {})
    out = [
        f"# RFT study — preset `{study['preset']['name']}`",
        "",
        "Accuracy (%) on each task's test split, with format compliance in brackets. "
        "Training-free = the base model; SFT and RFT (GRPO) are trained on the task's train split "
        f"with the `{study['preset']['train_template']}` template; every model is evaluated with and without <think>.",
        "",
        markdown_table(header, body),
        "",
        "## Summary",
        "",
        *summary_lines(study),
        "",
    ]
    if base:
        out += ["## Base model", "", f"- checkpoint: `{base.get('path')}`",
                f"- {base.get('description', '')}", ""]
    probe = study.get("probe", {})
    if probe:
        out += ["## GRPO step-0 reward variance (base model, temperature 1.0)", "",
                "| Task | prompts x generations | groups with non-identical accuracy reward | mean accuracy reward "
                "| answered (an <answer> span) | answer is a valid option |",
                "|---|---|---|---|---|---|"]
        for task, p in probe.items():
            out.append(f"| {task} | {p['prompts']} x {p['generations']} | {p['groups_with_variance']} | "
                       f"{p['mean_accuracy']:.2f} | {p.get('answered_rate', float('nan')):.2f} | "
                       f"{p['valid_option_rate']:.2f} |")
        out.append("")
    figures = study.get("figures", {})
    if figures:
        out += ["## Figure 2: accuracy reward and response length against step", ""]
        out += [f"![{task}]({path})" for task, path in figures.items()]
        out.append("")
    timings = study.get("timings", {})
    if timings:
        out += ["## Timings (s)", "", "| stage | seconds |", "|---|---|"]
        out += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
        out.append("")
    return "\n".join(out)


def smooth(values: Sequence[float], window: int) -> list[float]:
    out, acc = [], 0.0
    for i, v in enumerate(values):
        acc += v
        if i >= window:
            acc -= values[i - window]
        out.append(acc / min(i + 1, window))
    return out


def save_figure(task: str, curves: Mapping[str, Mapping[str, Sequence[float]]], path: Path) -> None:
    """Figure 2 for one task: accuracy reward and response length vs step, with/without length_norm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    labels = {"grpo": "RFT", "grpo_length_norm": "RFT + length_norm"}
    for run, curve in curves.items():
        steps = curve["step"]
        window = max(1, len(steps) // 10)
        axes[0].plot(steps, smooth(curve["accuracy"], window), label=labels.get(run, run))
        axes[1].plot(steps, smooth(curve["length"], window), label=labels.get(run, run))
    axes[0].set(title=f"{task}: accuracy reward", xlabel="step", ylabel="mean accuracy reward")
    axes[1].set(title=f"{task}: response length", xlabel="step", ylabel="mean completion tokens")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
