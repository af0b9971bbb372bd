"""Ceiling of each synthetic twin for a study base model: SFT on ample data, held-out accuracy.

If SFT on many more samples and steps than the study uses cannot lift a task
above chance, the task is not learnable from the image at this model scale,
and no GRPO result on it means anything. Prints one line per task (accuracy,
Wilson 95% CI, n, chance level) and writes ``OUT/ceiling.json``.

    .venv/bin/python benchmarks/study_ceiling.py --tasks banner,fgvc,sat --train 2000 --steps 400 \
        --eval 256 -o /tmp/ceiling                     # the mini preset's base model (built if not cached)
    .venv/bin/python benchmarks/study_ceiling.py --base ~/.cache/rft-harness/base-<key> \
        --option fgvc.distractors=any -o /tmp/ceiling-any   # another base, another twin layout
    .venv/bin/python benchmarks/study_ceiling.py --tasks fgvc,sat --option fgvc.lettered=false \
        --option sat.answer_with=text -o /tmp/ceiling-text    # names and option texts instead of letters

Task options are the mini preset's (``fgvc``: 4 lettered candidates from other
families; ``sat``: none, lettered choices answered by letter), overridden per key by
``--option TASK.KEY=VALUE``. A twin is set by this ceiling, never by an RFT result; docs/study.md records the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--base", help="base model checkpoint directory (default: the --preset's, built into the cache if missing)"
    )
    parser.add_argument("--preset", default="mini", help="study preset whose base model and task options to use")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="TASK.KEY=VALUE",
        help="override one task option (repeatable), e.g. fgvc.distractors=any",
    )
    parser.add_argument("--tasks", default="banner,fgvc,sat")
    parser.add_argument("--train", type=int, default=2000, help="training samples per task")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--eval", type=int, default=256, help="test samples per task")
    parser.add_argument("--template", default="nothink")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    import harness
    from harness.config.eval import EvalConfig
    from harness.config.run import RunConfig
    from harness.evaluation.records import read_records, records_path
    from harness.evaluation.runner import run_eval
    from harness.stats import wilson_interval
    from harness.study.presets import get_preset
    from harness.study.significance import chance_level

    preset = get_preset(args.preset)
    options = {task: preset.options(task) for task in preset.tasks}
    for item in args.option:
        key, _, raw = item.partition("=")
        task, _, name = key.partition(".")
        if not (task and name and raw):
            parser.error(f"--option {item!r}: write TASK.KEY=VALUE, e.g. fgvc.distractors=any")
        options.setdefault(task, {})[name] = json.loads(raw) if raw in ("true", "false") or raw.isdigit() else raw
    if args.base is None:
        from harness.study.base_model import ensure_base_model

        args.base = str(ensure_base_model(preset.base, progress=False)[0])
    out = Path(args.output)
    results = {}
    for task in [t.strip() for t in args.tasks.split(",") if t.strip()]:
        run_dir = out / "runs" / task
        t0 = time.perf_counter()
        config = RunConfig.model_validate(
            {
                "task": task,
                "method": "sft",
                "model": args.base,
                "template": args.template,
                "backend": "trl",
                "limit": args.train,
                "seed": 0,
                "output": str(run_dir),
                "max_steps": args.steps,
                "learning_rate": args.lr,
                "per_device_batch": args.batch,
                "grad_accum": 1,
                "trl": {"device": "cpu", "save_steps": 100000, "save_total_limit": 1},
                **({"task_options": options[task]} if options.get(task) else {}),
            }
        )
        if not (run_dir / "final" / "config.json").exists():
            backend = harness.get_backend("trl")
            backend.check(config)
            backend.run(config)
        train_s = time.perf_counter() - t0
        res = run_eval(
            EvalConfig(
                tasks=[task],
                templates=[args.template],
                model=str(run_dir / "final"),
                split="test",
                limit=args.eval,
                max_new_tokens=48,
                batch_size=16,
                seed=0,
                output=str(out / "eval" / task),
                device="cpu",
                dtype="float32",
                sources={task: "synthetic"},
                task_options={task: options[task]} if options.get(task) else {},
            ),
            progress=False,
            echo=lambda s: None,
        )["results"][task][args.template]
        chance = chance_level(read_records(records_path(out / "eval" / task, task, args.template), repair=False))
        k, n = round(res["accuracy"] * res["n"]), res["n"]
        low, high = wilson_interval(k, n)
        results[task] = {
            "accuracy": res["accuracy"],
            "wilson95": [low, high],
            "n": n,
            "chance": chance,
            "train_samples": args.train,
            "steps": args.steps,
            "task_options": options.get(task, {}),
            "train_s": train_s,
        }
        print(
            f"{task}: {100 * res['accuracy']:.1f}% [{100 * low:.1f}, {100 * high:.1f}] n={n} "
            f"(chance {100 * chance:.0f}%), SFT {args.train} samples x "
            f"{args.steps} steps in {train_s:.0f} s, options {options.get(task, {})}",
            flush=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "ceiling.json").write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
