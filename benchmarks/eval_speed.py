"""End-to-end evaluation speed: harness eval vs a bare batched generate loop vs lm-eval.

    .venv/bin/python benchmarks/eval_speed.py                 # 3 tasks x 64 samples, 64 new tokens
    .venv/bin/python benchmarks/eval_speed.py --n 32 --batch-size 8 --template nothink

All three run the cached tiny Qwen2.5-VL (random weights) on the synthetic
twins of banner, fgvc and sat, greedy, with the same prompts and batch size:

- **harness**: ``run_eval`` with the ``hf`` engine into a fresh directory:
  model load, prompts, generation, scoring with the task rules and rewards,
  per-sample logs, results.json, report and plot.
- **bare loop**: the same synthetic samples and prompts, model load, prompts
  rendered and sorted by length, then for each batch processor +
  ``model.generate`` + decode; no scoring, no files: the floor.
- **lm-eval**: ``run_eval`` with the ``lm-eval`` engine (torch's default
  thread count, as a user running lm-eval gets; ``--lm-eval-threads 1`` gives
  it the single thread the hf engine picks for a tiny model) (lm-eval's
  ``hf-multimodal`` through generated task configs and ``simple_evaluate``),
  plus, reported apart, what building lm-eval's default ``TaskManager``
  (indexing its built-in tasks) costs a plain ``lm_eval --tasks`` run.

The contenders run in interleaved rounds (the order rotates each round), so a
burst of load from other jobs on a shared machine hits neighbouring runs of
every contender alike. Each round gives paired ratios (harness / bare loop,
lm-eval / harness); the script prints their minimum, median and maximum over
the rounds (goals, on the median: harness <= 1.10x the bare loop, lm-eval >=
3x the harness), each contender's seconds (min / median / max) and how many
completions agree exactly between harness and bare loop and harness and
lm-eval.

``harness eval`` draws ``results.png`` and writes ``report.html`` after results.json is
written; the harness rounds run with ``plot=False, html=False`` and the plot and the page,
made right after on demand (``save_plot``, ``write_eval_html``), are timed apart and
printed, not counted in the ratio.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

TASKS = ("banner", "fgvc", "sat")


def _prompts(n: int, template_name: str):
    import harness

    template = harness.get_template(template_name)
    out = []
    for name in TASKS:
        task = harness.get_task(name)
        for sample in task.samples("test", limit=n):
            out.append((name, sample.id, task.build_prompt(sample, template)))
    return template, out


def bare_loop(model_dir: Path, n: int, template_name: str, batch_size: int, max_new_tokens: int) -> dict:
    """Make the prompts, load the model, sort prompts by length, generate them in batches: nothing else."""
    import torch

    from harness.models.inputs import prompt_images
    from harness.models.loading import load_model
    from harness.plugins.engines.hf import cpu_threads

    t0 = time.perf_counter()
    template, prompts = _prompts(n, template_name)
    prefill = template.prefill
    loaded = load_model(model_dir)
    model, processor = loaded.model, loaded.processor
    processor.tokenizer.padding_side = "left"
    # Same torch thread count as the hf engine picks (1 for a tiny model on CPU: with more,
    # OpenMP threads spin against each other on shared cores), so the floor is a fair one.
    threads = cpu_threads(model, loaded.device, {})
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        texts = _generate_sorted(
            model, processor, loaded.device, prompts, prompt_images, prefill, batch_size, max_new_tokens
        )
    finally:
        torch.set_num_threads(old_threads)
    return {"seconds": time.perf_counter() - t0, "texts": texts}


def _generate_sorted(model, processor, device, prompts, prompt_images, prefill, batch_size, max_new_tokens):
    import torch

    rendered = [
        (
            task,
            sid,
            processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) + prefill,
            prompt_images(m),
        )
        for task, sid, m in prompts
    ]
    rendered.sort(key=lambda r: -len(processor.tokenizer(r[2])["input_ids"]))
    texts = {}
    for start in range(0, len(rendered), batch_size):
        chunk = rendered[start : start + batch_size]
        inputs = processor(
            text=[r[2] for r in chunk], images=[r[3] for r in chunk], padding=True, return_tensors="pt"
        ).to(device)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
        decoded = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        for (task, sid, _, _), text in zip(chunk, decoded):
            texts[(task, sid)] = text
    return texts


def harness_run(engine: str, n: int, template: str, batch_size: int, max_new_tokens: int) -> dict:
    """``run_eval`` into a fresh directory (results.json, report.md, samples); the plot is drawn after,
    timed apart."""
    from harness.config.eval import EvalConfig
    from harness.evaluation import run_eval
    from harness.evaluation.html_report import write_eval_html
    from harness.evaluation.records import read_records
    from harness.evaluation.report import save_plot

    out = Path(tempfile.mkdtemp(prefix=f"eval-speed-{engine}-"))
    config = EvalConfig(
        tasks=list(TASKS),
        templates=[template],
        limit=n,
        engine=engine,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        output=str(out),
        bootstrap=1000,
    )
    t0 = time.perf_counter()
    results = run_eval(config, progress=False, echo=lambda s: None, plot=False, html=False)
    seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    save_plot(results, out, out / "results.png")
    plot_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_eval_html(out, results)
    html_s = time.perf_counter() - t0
    texts = {
        (task, r["id"]): r["completion"]
        for task in TASKS
        for r in read_records(out / "samples" / f"{task}.{template}.jsonl")
    }
    return {
        "seconds": seconds,
        "texts": texts,
        "output": str(out),
        "plot_s": plot_s,
        "html_s": html_s,
        "timings": results["run"]["timings"],
    }


def with_threads(threads: int | None, fn, *args):
    """``fn(*args)`` with torch using ``threads`` threads (unchanged if ``None``)."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return fn(*args)
    finally:
        torch.set_num_threads(old)


def default_index_seconds() -> float:
    """What a plain lm-eval run pays to index its built-in tasks."""
    from lm_eval.tasks import TaskManager

    t0 = time.perf_counter()
    TaskManager()
    return time.perf_counter() - t0


def spread(values: list[float]) -> tuple[float, float, float]:
    """``(min, median, max)``."""
    import statistics

    return min(values), statistics.median(values), max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="samples per task")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--template", default="think")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5 for a median worth reading)")
    parser.add_argument("--skip-lm-eval", action="store_true")
    parser.add_argument("--lm-eval-threads", type=int, help="torch threads for lm-eval [torch's default]")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    from harness.models.tiny import default_tiny_model_dir

    model_dir = default_tiny_model_dir()
    total = len(TASKS) * args.n
    print(
        f"tiny model {model_dir}; {total} prompts ({', '.join(TASKS)} x {args.n}), template "
        f"{args.template}, batch {args.batch_size}, {args.max_new_tokens} new tokens, greedy, "
        f"{args.rounds} interleaved rounds"
    )

    # Warm-up: first torch/transformers/matplotlib use pays imports and kernel setup once, for everyone.
    bare_loop(model_dir, 2, args.template, args.batch_size, 4)
    harness_run("hf", 2, args.template, args.batch_size, 4)

    runs = {
        "bare generate loop": lambda: bare_loop(model_dir, args.n, args.template, args.batch_size, args.max_new_tokens),
        "harness eval (hf)": lambda: harness_run("hf", args.n, args.template, args.batch_size, args.max_new_tokens),
    }
    if not args.skip_lm_eval:
        runs["lm-eval hf-multimodal"] = lambda: with_threads(
            args.lm_eval_threads, harness_run, "lm-eval", args.n, args.template, args.batch_size, args.max_new_tokens
        )
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    texts: dict[str, dict] = {}
    plots: list[float] = []
    pages: list[float] = []
    breakdown: list[dict] = []
    names = list(runs)
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order each round
            result = runs[name]()
            seconds[name].append(result["seconds"])
            texts[name] = result["texts"]
            if name == "harness eval (hf)":
                plots.append(result["plot_s"])
                pages.append(result["html_s"])
                breakdown.append(result["timings"])
        print(f"round {r + 1}: " + ", ".join(f"{name} {seconds[name][-1]:.2f} s" for name in names), flush=True)

    for name, values in seconds.items():
        low, mid, high = spread(values)
        print(f"{name:<24} median {mid:6.2f} s ({total / mid:6.1f} samples/s)   min {low:.2f}  max {high:.2f}")
    ours, bare = seconds["harness eval (hf)"], seconds["bare generate loop"]
    vs_bare = [h / b for h, b in zip(ours, bare)]
    low, mid, high = spread(vs_bare)
    print(f"harness / bare loop, per round: median {mid:.3f}x (min {low:.3f}, max {high:.3f}; goal median <= 1.10x)")
    load = [t.get("model_load_s", 0.0) for t in breakdown]
    print(
        f"harness model load median {spread(load)[1]:.2f} s; results.png drawn after results.json: median "
        f"{spread(plots)[1]:.2f} s (min {min(plots):.2f}, max {max(plots):.2f}), report.html after it: median "
        f"{spread(pages)[1]:.2f} s (min {min(pages):.2f}, max {max(pages):.2f}); neither in the ratio"
    )
    same_bare = sum(texts["harness eval (hf)"][k] == v for k, v in texts["bare generate loop"].items())
    print(f"identical completions harness vs bare loop: {same_bare}/{total}")
    figures = {
        "prompts": total,
        "seconds": seconds,
        "harness_over_bare": vs_bare,
        "plot_s": plots,
        "html_s": pages,
        "harness_timings": breakdown,
        "agree_bare": same_bare,
    }
    if not args.skip_lm_eval:
        lm = seconds["lm-eval hf-multimodal"]
        vs_lm = [m / h for m, h in zip(lm, ours)]
        index_s = default_index_seconds()
        with_index = [(m + index_s) / h for m, h in zip(lm, ours)]
        same_lm = sum(texts["harness eval (hf)"][k] == v for k, v in texts["lm-eval hf-multimodal"].items())
        low, mid, high = spread(vs_lm)
        print(f"lm-eval / harness, per round: median {mid:.2f}x (min {low:.2f}, max {high:.2f}; goal median >= 3x)")
        print(
            f"lm-eval default task indexing (a plain `lm_eval --tasks` run pays it): {index_s:.2f} s -> "
            f"median {spread(with_index)[1]:.2f}x with it"
        )
        print(f"identical completions harness vs lm-eval: {same_lm}/{total}")
        figures |= {"lm_eval_over_harness": vs_lm, "lm_eval_index_s": index_s, "agree_lm_eval": same_lm}
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
