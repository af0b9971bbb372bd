"""``harness study``: base model, evaluations, SFT, GRPO and the length_norm ablation, then the report.

Stages run in order and each is skipped when its output already says it
finished, so an interrupted study resumes where it stopped::

    DIR/study.json                    resolved preset, then every result
    DIR/probe.json                    step-0 GRPO reward variance of the base model
    DIR/eval/<method>-<task>/         harness eval outputs (results.json, samples/)
    DIR/runs/<task>/<run>/            harness run outputs (metrics.jsonl, plots/, checkpoint)
    DIR/figures/<task>.png            Figure 2: accuracy reward and length vs step
    DIR/report.md                     Table 1 + summary
    DIR/report.html                   the same, Figure 2, and every test sample across the models
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.runs.rundir import identity_differences, read_json, read_jsonl, write_json, write_text
from harness.study.claims import claim_tests
from harness.study.presets import TEMPLATES, StudyPreset
from harness.study.report import learning_verdict, render_report, save_figure
from harness.study.significance import chance_levels, paired_against, paired_tests

RUNS = ("sft", "grpo", "grpo_length_norm", "sft_grpo")  # sft_grpo: GRPO from the SFT checkpoint (Reason-RFT)


def reward_spec(preset: StudyPreset, length_norm: bool) -> str:
    spec = preset.rewards
    if length_norm:
        spec += f",length_norm(L0={preset.length_norm_l0:g}):{preset.length_norm_weight:g}"
    return spec


def run_config(preset: StudyPreset, task: str, run: str, model: str, output: Path) -> dict[str, Any]:
    """The ``harness run`` config (as a dict) for one training run of the study."""
    method = "sft" if run == "sft" else "grpo"
    data: dict[str, Any] = {
        "task": task,
        "method": method,
        "model": model,
        "template": preset.train_template,
        "backend": "trl",
        "limit": preset.train_limit,
        "seed": preset.seed,
        "output": str(output),
        "max_steps": preset.sft_steps if method == "sft" else preset.grpo_steps,
        "learning_rate": preset.sft_learning_rate if method == "sft" else preset.grpo_learning_rate,
        "per_device_batch": preset.per_device_batch_size,
        "grad_accum": preset.gradient_accumulation_steps,
        "trl": {
            "device": "cpu",
            "save_steps": 100000,
            "save_total_limit": 1,
            "eval_steps": max(1, (preset.sft_steps if method == "sft" else preset.grpo_steps) // preset.heldout_evals),
            "eval_limit": preset.heldout_limit,
        },
    }
    if preset.options(task):
        data["task_options"] = preset.options(task)
    if method == "grpo":
        data.update(
            reward=reward_spec(preset, run == "grpo_length_norm"),
            num_generations=preset.num_generations,
            temperature=preset.temperature,
            beta=preset.beta,
            max_completion_length=preset.max_completion_length,
        )
    return data


def train(
    preset: StudyPreset, task: str, run: str, model: str, output: Path, echo: Callable[[str], None]
) -> tuple[Path, str | None]:
    """Run (or reuse) one training run through the TRL backend; returns ``(checkpoint, metrics file)``."""
    from harness.config.run import RunConfig
    from harness.errors import ConfigError
    from harness.host.manager import get_host
    from harness.runs.rundir import RunSummary

    done = output / "study-done.json"
    settings = run_config(preset, task, run, model, output)
    if done.exists():
        record = read_json(done, "study stage record")
        diffs = identity_differences(record.get("config"), settings)
        if diffs:
            raise ConfigError(
                f"{output} holds a finished {run} run with other settings ({'; '.join(diffs)}), "
                f"not preset {preset.name!r}'s. Choose another --output for this preset."
            )
        return Path(record["checkpoint"]), record.get("metrics")
    if output.exists():  # an interrupted run of this study: start it again cleanly
        import shutil

        shutil.rmtree(output)
    config = RunConfig.model_validate(settings)
    backend = get_host().get("backends", config.backend)
    backend.check(config)
    echo(f"[study] {task}: training {run} ({config.max_steps} steps) -> {output}")
    summary = RunSummary.coerce(backend.run(config), config.backend, str(output))
    if not summary.checkpoint_here:
        raise ConfigError(f"backend {config.backend!r} left no model in {output} (summary: {summary.checkpoint}).")
    write_json(
        done,
        {
            "checkpoint": summary.checkpoint,
            "metrics": summary.metrics,
            "preset": preset.model_dump(mode="json"),
            "config": settings,
        },
    )
    return Path(str(summary.checkpoint)), summary.metrics  # checkpoint_here: a model folder


def evaluate(
    preset: StudyPreset, model: str, tasks: Sequence[str], output: Path, progress: bool, echo: Callable[[str], None]
) -> dict[str, Any]:
    """``harness eval`` of ``model`` on ``tasks`` with both templates (resumes in ``output``)."""
    from harness.config.eval import EvalConfig
    from harness.evaluation.runner import run_eval

    config = EvalConfig(  # the study scores its tiny pre-trained model on the synthetic twins, on purpose
        tasks=list(tasks),
        templates=list(TEMPLATES),
        model=model,
        split="test",
        sources={task: "synthetic" for task in tasks},
        limit=preset.eval_limit,
        max_new_tokens=preset.eval_max_new_tokens,
        batch_size=16,
        seed=preset.seed,
        bootstrap=200,
        output=str(output),
        device="cpu",
        dtype="float32",
        task_options={task: preset.options(task) for task in tasks if preset.options(task)},
    )
    return run_eval(config, progress=progress, echo=lambda s: None, html=False)["results"]


def cell(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {k: entry.get(k) for k in ("accuracy", "ci95", "format_compliance", "n", "think_agreement")} | {
        "mean_tokens": (entry.get("response_tokens") or {}).get("mean")
    }


def _pick(row: Mapping[str, Any], *candidates: str) -> float | None:
    for key in candidates:
        if row.get(key) is not None:
            return float(row[key])
    return None


def curve(metrics: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Step, mean accuracy reward and mean completion length from a run's metrics.jsonl, and the
    held-out accuracy (``eval/accuracy``) at the steps it was measured."""
    out: dict[str, list[float]] = {"step": [], "accuracy": [], "length": [], "eval_step": [], "eval_accuracy": []}
    for row in metrics:
        held_out = _pick(row, "eval/accuracy")
        if held_out is not None:
            out["eval_step"].append(float(row.get("step", 0)))
            out["eval_accuracy"].append(held_out)
        acc = _pick(row, "reward/accuracy", "rewards/accuracy/mean", "rewards/accuracy", "accuracy")
        length = _pick(row, "completion_length", "completions/mean_length", "mean_completion_length")
        if acc is None or length is None:
            continue
        out["step"].append(float(row.get("step", len(out["step"]) + 1)))
        out["accuracy"].append(acc)
        out["length"].append(length)
    return out


def check_study_tasks(preset: StudyPreset) -> None:
    """A ConfigError, before anything is trained, unless every task of ``preset`` (and every task its
    ``task_options`` name) is registered and loads a sample with its loader options: a misspelt task or option,
    or a bad value, is named here, not after the base model's minutes of pre-training."""
    import harness
    from harness.data.sources import check_task_options

    for name in dict.fromkeys([*preset.tasks, *preset.task_options]):
        task = harness.get_task(name)
        options = preset.options(name)
        check_task_options(task, options)
        if options:  # the loader reads the values: one synthetic sample
            next(iter(task.samples(split="test", limit=1, seed=preset.seed, **options)), None)


def run_study(
    preset: StudyPreset,
    output: str | Path,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    html: bool = True,
) -> dict[str, Any]:
    """Run the whole study; returns (and writes) ``study.json``'s content."""
    from harness.config.preflight import check_study_output
    from harness.errors import ConfigError
    from harness.study.base_model import ensure_base_model, probe_reward_variance

    out = check_study_output(output, "output")  # a folder of someone else's files is refused, not overwritten
    check_study_tasks(preset)  # before the base model's minutes of pre-training
    out.mkdir(parents=True, exist_ok=True)
    resolved = preset.model_dump(mode="json")
    if (out / "study.json").exists():  # resuming: the same preset (--tasks may change)
        old = read_json(out / "study.json", "study record").get("preset")
        diffs = identity_differences(old, resolved, ignore=("tasks", "ablation_tasks", "sft_rft_tasks"))
        if diffs:
            raise ConfigError(
                f"{out} holds a study with other settings ({'; '.join(diffs)}); rerunning resumes the "
                f"same study only. Choose another --output for preset {preset.name!r}."
            )
    started, cpu_started = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}
    study: dict[str, Any] = {
        "preset": resolved,
        "tasks": list(preset.tasks),
        "table": {},
        "learning": {},
        "lengths": {},
        "figures": {},
        "runs": {},
    }
    write_json(out / "study.json", study)

    cpu_timings: dict[str, float] = {}  # CPU seconds: what a shared machine's load does not inflate

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        cpu_timings[name] = cpu_timings.get(name, 0.0) + time.process_time() - c0
        return value

    echo(f"[study] preset {preset.name}: base model")
    base_dir, base_info = timed("base_model", lambda: ensure_base_model(preset.base, echo=echo, progress=progress))
    study["base"] = base_info

    probe_path = out / "probe.json"
    if not probe_path.exists():
        echo("[study] step-0 reward variance probe")
        write_json(probe_path, timed("probe", lambda: probe_reward_variance(base_dir, preset)))
    study["probe"] = read_json(probe_path, "probe record")

    echo("[study] training-free evaluation")
    base_results = timed(
        "eval", lambda: evaluate(preset, str(base_dir), preset.tasks, out / "eval" / "base", progress, echo)
    )
    for task in preset.tasks:
        study["table"].setdefault(task, {})["base"] = {t: cell(base_results[task][t]) for t in TEMPLATES}

    for task in preset.tasks:
        curves = {}
        checkpoints: dict[str, str] = {}
        for run in RUNS:
            if run == "grpo_length_norm" and task not in preset.ablation_tasks:
                continue
            if run == "sft_grpo" and task not in preset.sft_rft_tasks:
                continue
            start = checkpoints["sft"] if run == "sft_grpo" else str(base_dir)  # Reason-RFT: SFT, then GRPO
            run_dir = out / "runs" / task / run
            ckpt, metrics = timed(f"train_{run}", lambda: train(preset, task, run, start, run_dir, echo))
            checkpoints[run] = str(ckpt)
            study["runs"].setdefault(task, {})[run] = {
                "dir": str(run_dir),
                "checkpoint": str(ckpt),
                "config": run_config(preset, task, run, start, run_dir),
            }
            if run != "grpo_length_norm":
                res = timed(
                    "eval", lambda: evaluate(preset, str(ckpt), [task], out / "eval" / f"{run}-{task}", progress, echo)
                )
                study["table"][task][run] = {t: cell(res[task][t]) for t in TEMPLATES}
            c = curve(read_jsonl(metrics) if metrics else [])  # a torn last line is skipped
            if run == "sft" and c["eval_step"]:
                curves[run] = c
            if run != "sft":
                if c["step"]:
                    curves[run] = c
                    study["learning"].setdefault(task, {})[run] = learning_verdict(c["accuracy"])
                    k = max(1, len(c["length"]) // 5)
                    study["lengths"].setdefault(task, {})[run] = sum(c["length"][-k:]) / k
        if curves:
            fig = out / "figures" / f"{task}.png"
            save_figure(task, curves, fig)
            study["figures"][task] = str(fig.relative_to(out))
            study.setdefault("curves", {})[task] = curves
        write_json(out / "study.json", study | {"timings": timings})

    timings["total"] = time.perf_counter() - started
    cpu_timings["total"] = time.process_time() - cpu_started
    study["timings"] = timings
    study["cpu_timings"] = cpu_timings
    study["tests"] = paired_tests(out, preset.tasks, TEMPLATES, seed=preset.seed)
    study["claims"] = claim_tests(out, preset.tasks, seed=preset.seed)
    study["sft_rft_vs_sft"] = paired_against(out, preset.tasks, TEMPLATES, "sft", "sft_grpo", seed=preset.seed)
    study["chance"] = chance_levels(out, preset.tasks)
    write_json(out / "study.json", study)
    write_text(out / "report.md", render_report(study))
    if html:
        from harness.study.page import write_study_html

        write_study_html(out, study)
    echo(f"[study] done in {timings['total']:.0f} s: {out / 'report.md'}")
    return study
