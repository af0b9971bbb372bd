"""The study's outputs: Table-1 ``report.md``, Figure-2 PNGs and the honest summary.

Everything here works on the plain ``study.json`` dictionary the runner
writes, so a report can be rebuilt from a finished output directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.study.generic_data import MODES as ANSWER_MODES
from harness.study.vision_data import KINDS as VISION_KINDS

METHODS = (("base", "Training-free"), ("sft", "SFT"), ("grpo", "RFT"))
# Reason-RFT's two stages: GRPO from the SFT checkpoint (a column only where the study ran it).
SFT_RFT = ("sft_grpo", "SFT→RFT")
RUN_LABELS = {"sft": "SFT", "grpo": "RFT", "grpo_length_norm": "RFT + length_norm", "sft_grpo": "SFT→RFT"}
# Timing rows in the order the runner takes the stages (its per-run stages are train_<run>).
TIMING_ORDER = ("base_model", "probe", "eval", *(f"train_{run}" for run in RUN_LABELS), "total")
RUN_COLOURS = {"sft": "tab:blue", "grpo": "tab:orange", "grpo_length_norm": "tab:green", "sft_grpo": "tab:red"}


def in_order(mapping: Mapping[str, Any], order: Sequence[str]) -> list[tuple[str, Any]]:
    """``mapping``'s items, the keys named in ``order`` first and in that order, then the rest as they come.

    study.json is written with sorted keys, so a report rendered again from it must not take a section's
    row order from its dictionary: each section orders its rows by what they are (tasks, runs, stages)."""
    named = set(order)
    known = [(k, mapping[k]) for k in order if k in mapping]
    return known + [(k, v) for k, v in mapping.items() if k not in named]


def methods(study: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The table's methods: training-free, SFT, RFT, and SFT→RFT where any task has it."""
    ran = any(SFT_RFT[0] in study["table"].get(task, {}) for task in study["tasks"])
    return (*METHODS, SFT_RFT) if ran else METHODS


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


def _counts(entry: Mapping[str, Any]) -> tuple[int, int]:
    n = int(entry.get("n") or 0)
    return round(float(entry["accuracy"]) * n), n


def _cell(entry: Mapping[str, Any] | None, test: Mapping[str, Any] | None = None) -> str:
    """``acc [Wilson 95% CI] n=N``; against training-free: the difference, McNemar p, and
    a mark when significant (▲ better, ▼ worse)."""
    from harness.stats import format_p, wilson_interval

    if not entry or entry.get("accuracy") is None:
        return "—"
    k, n = _counts(entry)
    low, high = wilson_interval(k, n)
    accuracy: float = entry["accuracy"]
    if not n or low is None or high is None:
        text = "—"
    else:
        text = f"{100 * accuracy:.1f} [{100 * low:.1f}, {100 * high:.1f}] n={n}"
    if test:
        mark = (" ▲" if test["diff"] > 0 else " ▼") if test["significant"] else ""
        text += f"<br>{100 * test['diff']:+.1f} vs TF, {format_p(test['p_mcnemar'])}{mark}"
    return text


def _test(study: Mapping[str, Any], task: str, template: str, method: str) -> Mapping[str, Any] | None:
    return study.get("tests", {}).get(task, {}).get(template, {}).get(method)


def _entry(study: Mapping[str, Any], task: str, method: str, template: str) -> Mapping[str, Any] | None:
    return study["table"].get(task, {}).get(method, {}).get(template)


def above_chance(study: Mapping[str, Any], task: str, method: str, template: str = "think") -> bool | None:
    """Whether the cell's Wilson 95% interval lies above the task's chance level (None: unknown)."""
    from harness.stats import wilson_interval

    entry, chance = _entry(study, task, method, template), study.get("chance", {}).get(task)
    if not entry or entry.get("accuracy") is None or chance is None or not entry.get("n"):
        return None
    low, _ = wilson_interval(*_counts(entry))
    return low > chance


def table_rows(study: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and body of Table 1: rows = tasks, columns = chance, then method x template."""
    chance = study.get("chance", {})
    header = (
        ["Task"]
        + (["Chance"] if chance else [])
        + [f"{label} {tpl_label}" for _, label in methods(study) for _, tpl_label in TEMPLATES]
    )
    body = []
    for task in study["tasks"]:
        row = [task]
        if chance:
            row.append("—" if chance.get(task) is None else f"{100 * chance[task]:.1f}")
        for method, _ in methods(study):
            for tpl, _ in TEMPLATES:
                row.append(_cell(_entry(study, task, method, tpl), _test(study, task, tpl, method)))
        body.append(row)
    return header, body


def _grid(study: Mapping[str, Any], cell) -> tuple[list[str], list[list[str]]]:
    shown = methods(study)
    header = ["Task"] + [f"{label} {tpl_label}" for _, label in shown for _, tpl_label in TEMPLATES]
    body = [
        [task] + [cell(_entry(study, task, m, t)) for m, _ in shown for t, _ in TEMPLATES] for task in study["tasks"]
    ]
    return header, body


def _format_cell(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("format_compliance") is None:
        return "—"
    return f"{100 * entry['format_compliance']:.0f}"


def _agreement_cell(entry: Mapping[str, Any] | None) -> str:
    stats = (entry or {}).get("think_agreement") or {}
    if not stats.get("with_thought"):
        return "—"
    rate = "—" if stats.get("rate") is None else f"{100 * stats['rate']:.0f}%"
    return f"{rate} ({stats['agree']}/{stats['argued']}/{stats['with_thought']})"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _versus(study: Mapping[str, Any], task: str, method: str, label: str) -> str | None:
    """One sentence: ``method`` w/ think against training-free w/ think on held-out samples."""

    test = _test(study, task, "think", method)
    if not test:
        return None
    verdict = ("better" if test["diff"] > 0 else "worse") if test["significant"] else "no significant difference"
    return (
        f"{label} w/ <think> {100 * test['accuracy_b']:.1f} vs training-free {100 * test['accuracy_a']:.1f} "
        f"{_figures(test, with_n=True)}: {verdict}"
    )


def _figures(test: Mapping[str, Any], with_n: bool) -> str:
    """A paired test's figures: ``(+d points [low, high][, n=N], McNemar p)``."""
    from harness.stats import format_p

    n = f", n={test['n']}" if with_n else ""
    return (
        f"({100 * test['diff']:+.1f} points [{100 * test['diff_low']:+.1f}, {100 * test['diff_high']:+.1f}]{n}, "
        f"McNemar {format_p(test['p_mcnemar'])})"
    )


def rft_wins(study: Mapping[str, Any]) -> list[str]:
    """Tasks where RFT w/ think beats training-free w/ think at p < 0.05 (paired, held-out)."""
    return [
        t
        for t in study["tasks"]
        if (test := _test(study, t, "think", "grpo")) and test["significant"] and test["diff"] > 0
    ]


def longer_with_length_norm(study: Mapping[str, Any]) -> list[str]:
    lengths = study.get("lengths", {})
    return [
        t
        for t in study["tasks"]
        if lengths.get(t, {}).get("grpo_length_norm") is not None
        and lengths[t].get("grpo") is not None
        and lengths[t]["grpo_length_norm"] > lengths[t]["grpo"]
    ]


def summary_lines(study: Mapping[str, Any]) -> list[str]:
    """Plain sentences stating what the held-out numbers and their paired tests show."""

    lines = []
    learning = study.get("learning", {})
    for task in study["tasks"]:
        parts = [s for s in (_versus(study, task, "grpo", "RFT"), _versus(study, task, "sft", "SFT")) if s]
        above = above_chance(study, task, "grpo")
        if above is not None:
            level = 100 * study["chance"][task]
            parts.append(
                f"RFT w/ <think> is {'above' if above else 'NOT above'} chance ({level:.1f}%, a uniform "
                "guess among the offered answers)"
                + ("" if above else ": whatever it gained, it did not learn to answer from the image")
            )
        rft = {t: (_entry(study, task, "grpo", t) or {}).get("accuracy") for t, _ in TEMPLATES}
        think, nothink = rft["think"], rft["nothink"]
        if think is not None and nothink is not None:
            rel = "higher than" if think > nothink else "lower than" if think < nothink else "equal to"
            parts.append(f"RFT with <think> is {rel} without ({100 * think:.1f} vs {100 * nothink:.1f})")
        agreement = (_entry(study, task, "grpo", "think") or {}).get("think_agreement") or {}
        if agreement.get("rate") is not None:
            parts.append(
                f"RFT's thoughts argue for its final answer in {100 * agreement['rate']:.0f}% of the "
                f"{agreement['argued']} that name one ({agreement['with_thought']} thoughts)"
            )
        two_stage = _versus(study, task, "sft_grpo", "SFT→RFT")
        if two_stage:
            parts.append(two_stage)
        over_sft = (study.get("sft_rft_vs_sft") or {}).get(task, {}).get("think")
        if over_sft:
            gain = (
                ("better than" if over_sft["diff"] > 0 else "worse than")
                if over_sft["significant"]
                else "no significant difference from"
            )
            parts.append(
                f"SFT→RFT w/ <think> vs the SFT model it started from: {100 * over_sft['accuracy_b']:.1f} vs "
                f"{100 * over_sft['accuracy_a']:.1f} {_figures(over_sft, with_n=False)}: {gain} SFT"
            )
        verdict = learning.get(task, {}).get("grpo")
        if verdict:
            parts.append(
                f"GRPO training accuracy reward {verdict['first_20pct']:.2f} (first 20% of steps) -> "
                f"{verdict['last_20pct']:.2f} (last 20%) on training prompts (not a held-out claim)"
            )
        probe = study.get("probe", {}).get(task)
        if probe and probe["groups_with_variance"] == 0:
            why = (
                "the prompt never names the answer, no options are listed, so the base model cannot produce one"
                if probe.get("gold_in_prompt_rate") == 0.0
                else f"only {100 * probe['valid_option_rate']:.0f}% of its answers were valid options"
            )
            parts.append(
                f"at step 0 no GRPO group had differing accuracy rewards ({why}): the accuracy reward "
                "gave GRPO no signal to start from, only the format reward did"
            )
        ln = learning.get(task, {}).get("grpo_length_norm")
        lengths = study.get("lengths", {}).get(task, {})
        if ln and verdict and lengths.get("grpo") and lengths.get("grpo_length_norm"):
            cap = study["preset"].get("max_completion_length")
            at_cap = " (at the completion cap)" if cap and lengths["grpo_length_norm"] >= 0.95 * cap else ""
            parts.append(
                "length_norm ablation: final response length {:.1f}{} vs {:.1f} tokens without it; "
                "final training accuracy reward {:.2f} vs {:.2f}".format(
                    lengths["grpo_length_norm"], at_cap, lengths["grpo"], ln["last_20pct"], verdict["last_20pct"]
                )
            )
        lines.append(f"- **{task}**: " + "; ".join(parts) + "." if parts else f"- **{task}**: no results.")
    wins = rft_wins(study)
    tested = [t for t in study["tasks"] if _test(study, t, "think", "grpo")]
    if tested:
        lines.append(
            f"- RFT w/ <think> beats training-free w/ <think> on held-out samples (paired, p < 0.05) on "
            f"{len(wins)} of {len(tested)} tasks"
            + (f": {', '.join(wins)}." if wins else ".")
            + (
                " Where it does not, the table says so; the data were not tuned to make it."
                if len(wins) < len(tested)
                else ""
            )
        )
    judged = {t: above_chance(study, t, "grpo") for t in study["tasks"]}
    seeing = [t for t, above in judged.items() if above]
    unknown = [t for t, above in judged.items() if above is None]
    if len(unknown) < len(judged):
        lines.append(
            f"- RFT w/ <think> is above chance (its 95% CI) on {len(seeing)} of {len(judged) - len(unknown)} tasks"
            + (f": {', '.join(seeing)}" if seeing else "")
            + (f" ({', '.join(unknown)}: no chance level or no result)" if unknown else "")
            + "."
        )
    longer = longer_with_length_norm(study)
    ablated = [t for t in study["tasks"] if study.get("lengths", {}).get(t, {}).get("grpo_length_norm") is not None]
    if ablated:
        lines.append(
            f"- length_norm made training responses longer on {len(longer)} of {len(ablated)} tasks"
            + (f" ({', '.join(longer)})." if longer else ".")
        )
    lines.append(
        "- Scale caveat: a tiny VLM on synthetic twins; the numbers check that the pipeline "
        "learns and show the table's shape, they do not reproduce the paper's values."
    )
    return lines


def _option_lines(preset: Mapping[str, Any]) -> list[str]:
    """The tasks' loader options, said under the table (fgvc's candidates deviate from the paper)."""
    lines = []
    for task, options in sorted((preset.get("task_options") or {}).items()):
        if not options:
            continue
        said = ", ".join(f"{k}={v}" for k, v in sorted(options.items()))
        note = ""
        if task == "fgvc" and options.get("candidates"):
            note = (
                f": the prompt lists {options['candidates']} candidate variants, the right one among them"
                + (" as lettered choices (answer: letter or name)" if options.get("lettered") else "")
                + (", the others from other families" if options.get("distractors") == "other_families" else "")
                + " (a deviation from the paper's open question, as Visual-RFT's few-shot prompts do)"
            )
        if task == "sat" and options.get("answer_with") == "text":
            note = (
                ": the choices stay lettered and the answer rule is SAT's, but the prompt asks for the chosen "
                "option's text, not its letter (a deviation: a model this small does not learn the look-up from "
                "what it sees to a letter; docs/study.md)"
            )
        lines.append(f"- {task} loaded with `{said}`{note}.")
    return [*lines, ""] if lines else []


def _base_cost_lines(base: Mapping[str, Any]) -> list[str]:
    if base.get("train_seconds") is None:
        return []
    line = f"- built and trained in {base['train_seconds']:.0f} s wall"
    if base.get("train_cpu_seconds") is not None:
        line += f", {base['train_cpu_seconds']:.0f} CPU s"
    vision = base.get("vision")
    if vision:
        line += (
            f" (vision stage {vision['seconds']:.0f} s wall, {vision['cpu_seconds']:.0f} CPU s; question "
            "pre-training the rest)"
        )
    return [line + "; cached, so later runs reuse it"]


def _vision_lines(vision: Mapping[str, Any] | None) -> list[str]:
    """The vision stage's held-out accuracy per kind (fresh pictures of another seed)."""
    if not vision:
        return []
    lines = [
        f"Vision stage: the tower alone, {vision['steps']} steps x {vision['images_per_step']} fresh generic "
        f"pictures, a throwaway head per kind; held-out accuracy on pictures of another seed "
        "(layout: per image token that holds a shape).",
        "",
        "| kind | held-out accuracy % | n | chance % |",
        "|---|---|---|---|",
    ]
    for kind, r in in_order(vision.get("held_out", {}), list(VISION_KINDS)):
        lines.append(f"| {kind} | {100 * r['accuracy']:.1f} | {r['n']} | {100 * r['chance']:.1f} |")
    return [*lines, ""]


def _answer_path_lines(answer_path: Mapping[str, Any] | None) -> list[str]:
    """The finished base model's greedy answers to held-out generic questions, per kind."""
    if not answer_path:
        return []
    lines = [
        f"Through its answers: the finished base model answers {answer_path['questions']} held-out generic "
        "questions (another seed than pre-training's, `nothink`, greedy, exact match) — what the language "
        "model learned to read from the tower, which the vision stage's numbers above do not show.",
        "",
        "By answer mode, accuracy % (chance %, n): `word` answers with a word the hint offers, `list` with one "
        "of the listed options, `letter` with the letter of a lettered choice (how sat and fgvc ask by "
        "default), `lettered text` with the text of a lettered choice (how sat asks with `answer_with=text`).",
        "",
        "| kind | answer accuracy % | n | chance % | " + " | ".join(m.replace("_", " ") for m in ANSWER_MODES) + " |",
        "|---|---|---|---|" + "---|" * len(ANSWER_MODES),
    ]
    for kind, r in answer_path.get("per_kind", {}).items():
        chance = f"{100 * r['chance']:.1f}" if r.get("chance") else "—"
        modes = r.get("modes") or {}
        by_mode = [_mode_cell(modes.get(mode)) for mode in ANSWER_MODES]
        lines.append(f"| {kind} | {100 * r['accuracy']:.1f} | {r['n']} | {chance} | {' | '.join(by_mode)} |")
    return [*lines, ""]


def _mode_cell(r: Mapping[str, Any] | None) -> str:
    """``accuracy (chance, n)`` of one answer mode, or a dash when the kind was not asked that way."""
    if not r:
        return "—"
    chance = f"{100 * r['chance']:.0f}" if r.get("chance") else "—"
    return f"{100 * r['accuracy']:.0f} ({chance}, {r['n']})"


def heldout_lines(study: Mapping[str, Any]) -> list[str]:
    """Held-out accuracy measured while each run trained (greedy, a fixed test slice): first and last."""
    rows = []
    labels = RUN_LABELS
    for task in study["tasks"]:
        for run, c in in_order(study.get("curves", {}).get(task) or {}, list(RUN_LABELS)):
            if c.get("eval_step"):
                rows.append(
                    f"| {task} | {labels.get(run, run)} | {100 * c['eval_accuracy'][0]:.1f} "
                    f"(step {c['eval_step'][0]:.0f}) | {100 * max(c['eval_accuracy']):.1f} | "
                    f"{100 * c['eval_accuracy'][-1]:.1f} (step {c['eval_step'][-1]:.0f}) |"
                )
    if not rows:
        return []
    n = study["preset"].get("heldout_limit")
    return [
        "## Held-out accuracy during training",
        "",
        f"Greedy accuracy (%) on the first {n} test samples, scored while each run trained (the "
        "run's template; Figure 2's middle panel). The training reward above is on training prompts; "
        "this is not.",
        "",
        "| Task | run | before training | best | after training |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]


def render_report(study: Mapping[str, Any]) -> str:
    from harness.study.claims import claims_section

    header, body = table_rows(study)
    base = study.get("base", {})
    preset = study["preset"]
    out = [
        f"# RFT study — preset `{preset['name']}`",
        "",
        "Accuracy (%) on each task's test split, [Wilson 95% CI] and n test samples; chance = a uniform "
        "guess among the answers each prompt offers. Training-free (TF) = "
        "the base model; SFT and RFT (GRPO) are trained on the task's train split "
        f"with the `{preset['train_template']}` template; every model is evaluated with and without <think> "
        "on the same test samples. Under SFT and RFT: the difference from training-free with the same "
        "template, in points, and the exact McNemar p-value of the paired test; ▲/▼ = significantly "
        "better/worse at p < 0.05."
        + (
            " SFT→RFT (Reason-RFT's two stages) = GRPO started from the SFT model, with RFT's recipe."
            if methods(study) != METHODS
            else ""
        ),
        "",
        markdown_table(header, body),
        "",
        *_option_lines(preset),
        "## Summary",
        "",
        *summary_lines(study),
        "",
        *claims_section(study),
        *heldout_lines(study),
        "## Format compliance (%)",
        "",
        markdown_table(*_grid(study, _format_cell)),
        "",
        "## Think vs answer agreement",
        "",
        "Per completion with a <think> span: does the answer its thought argues for (the task's answer "
        "rule on the thought's last sentence) match the final answer? Rate (agreeing / thoughts that name "
        "an answer / thoughts).",
        "",
        markdown_table(*_grid(study, _agreement_cell)),
        "",
    ]
    tests = study.get("tests", {})
    if tests:
        from harness.stats import format_p

        out += [
            "## Paired tests against training-free",
            "",
            "| Task | template | method | n | difference, points [95% bootstrap CI] | only TF / only method right "
            "| McNemar exact | paired bootstrap |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for task in study["tasks"]:
            for tpl, _ in TEMPLATES:
                for method, label in methods(study)[1:]:
                    t = _test(study, task, tpl, method)
                    if t:
                        out.append(
                            f"| {task} | {tpl} | {label} | {t['n']} | {100 * t['diff']:+.1f} "
                            f"[{100 * t['diff_low']:+.1f}, {100 * t['diff_high']:+.1f}] | {t['only_a']} / "
                            f"{t['only_b']} | {format_p(t['p_mcnemar'])}{' *' if t['significant'] else ''} | "
                            f"{format_p(t['p_bootstrap'])} |"
                        )
        out.append("")
    if base:
        out += [
            "## Base model",
            "",
            f"- checkpoint: `{base.get('path')}`",
            f"- {base.get('description', '')}",
            *_base_cost_lines(base),
            "",
        ]
        out += _vision_lines(base.get("vision"))
        out += _answer_path_lines(base.get("answer_path"))
    probe = study.get("probe", {})
    if probe:
        out += [
            "## GRPO step-0 reward variance (base model, temperature 1.0)",
            "",
            "| Task | prompts x generations | groups with non-identical accuracy reward | mean accuracy reward "
            "| answered (an <answer> span) | answer is a valid option |",
            "|---|---|---|---|---|---|",
        ]
        for task, p in in_order(probe, study["tasks"]):
            out.append(
                f"| {task} | {p['prompts']} x {p['generations']} | {p['groups_with_variance']} | "
                f"{p['mean_accuracy']:.2f} | {p.get('answered_rate', float('nan')):.2f} | "
                f"{p['valid_option_rate']:.2f} |"
            )
        out.append("")
    figures = study.get("figures", {})
    if figures:
        out += ["## Figure 2: accuracy reward, held-out accuracy and response length against step", ""]
        out += [f"![{task}]({path})" for task, path in in_order(figures, study["tasks"])]
        out.append("")
    timings, cpu = study.get("timings", {}), study.get("cpu_timings", {})
    if timings:
        out += [
            "## Timings (s)",
            "",
            "Wall seconds, and CPU seconds of the study's process (all its threads; "
            "unlike wall time, barely moved by other load on the machine).",
            "",
            "| stage | wall s | CPU s |",
            "|---|---|---|",
        ]
        out += [
            f"| {k} | {v:.1f} | {'—' if k not in cpu else f'{cpu[k]:.1f}'} |"
            for k, v in in_order(timings, TIMING_ORDER)
        ]
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
    """Figure 2 for one task: accuracy reward, held-out accuracy (greedy, test slice) and response
    length vs step, RFT with and without length_norm (and SFT's held-out accuracy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    labels = RUN_LABELS
    for run, curve in in_order(curves, list(RUN_LABELS)):
        steps = curve["step"]
        window = max(1, len(steps) // 10)
        style = {"label": labels.get(run, run), "color": RUN_COLOURS.get(run)}  # one colour per run, every panel
        if steps:
            axes[0].plot(steps, smooth(curve["accuracy"], window), **style)
            axes[2].plot(steps, smooth(curve["length"], window), **style)
        if curve.get("eval_step"):
            axes[1].plot(
                curve["eval_step"], [100 * a for a in curve["eval_accuracy"]], marker="o", markersize=3, **style
            )
    axes[0].set(title=f"{task}: accuracy reward (training)", xlabel="step", ylabel="mean accuracy reward")
    axes[1].set(title=f"{task}: held-out accuracy (test slice)", xlabel="step", ylabel="greedy accuracy %")
    axes[2].set(title=f"{task}: response length", xlabel="step", ylabel="mean completion tokens")
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    from harness.runs.rundir import save_figure

    save_figure(fig, path, dpi=110)
    plt.close(fig)
