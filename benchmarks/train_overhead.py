"""GRPO step time: `harness run --backend trl` vs a bare TRL script, same config, in one run.

Both train the tiny Qwen2.5-VL on the same banner synthetic-twin prompts with
the same GRPOConfig. The harness side is :func:`harness.training.runner.run_training`
(task plugin data, reward spec through the error-reporting wrappers,
metrics.jsonl callback, plots, config.json). The bare side is what a user
would write with TRL alone: a dataset, three plain reward functions
equivalent to ``accuracy:1,format:1,length_norm:0.5``, ``GRPOTrainer.train()``.

Step time = seconds between consecutive optimizer-step ends (generation,
rewards, backward, optimizer, callbacks), measured the same way on both
sides, as wall time and as this process's CPU time (all threads; torch runs
``--threads`` 1 by default so idle threads do not spin and inflate it). On a
machine shared with other work, wall time swings with their load; CPU time
barely does, so its ratio is the overhead figure. The first ``--warmup``
steps are dropped. Runs alternate harness/bare ``--rounds`` times.
Goal: harness median step time <= 1.05 x bare.

    .venv/bin/python benchmarks/train_overhead.py --steps 8 --rounds 2
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = dict(
    per_device_batch=4,
    grad_accum=1,
    num_generations=4,
    max_completion_length=32,
    learning_rate=1e-5,
    temperature=1.0,
    beta=0.04,
)
REWARD = "accuracy:1,format:1,length_norm:0.5"
ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
FORMAT = re.compile(r"^\s*<think>.*?</think>\s*<answer>.+?</answer>\s*$", re.S)


def step_times(steps_ends: list[float], start: float) -> list[float]:
    marks = [start, *steps_ends]
    return [b - a for a, b in zip(marks, marks[1:])]


def quiet() -> None:
    """No per-step console dicts or progress bars: both sides print nothing while timed."""
    import os

    os.environ["TQDM_DISABLE"] = "1"
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def harness_run(model_dir: str, out: Path, steps: int, limit: int, seed: int) -> dict[str, list[float]]:
    from harness.config.run import RunConfig
    from harness.runs.rundir import read_jsonl as read_metrics
    from harness.training.runner import run_training

    config = RunConfig(
        task="banner",
        method="grpo",
        model=model_dir,
        template="think",
        reward=REWARD,
        output=str(out),
        max_steps=steps,
        limit=limit,
        seed=seed,
        trl={"device": "cpu", "save_steps": 10_000},
        **SETTINGS,
    )
    run_training(config, echo=lambda *_: None)
    rows = read_metrics(out / "metrics.jsonl")
    return {"wall": [r["step_time_s"] for r in rows], "cpu": [r["step_cpu_s"] for r in rows]}


def bare_run(model_dir: str, out: Path, steps: int, limit: int, seed: int) -> dict[str, list[float]]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    import harness
    from harness.models.loading import load_processor

    # The same prompts and images as the harness builds (data prep is not timed).
    task, template = harness.get_task("banner"), harness.get_template("think")
    rows = []
    for sample in task.samples("train", limit=limit, seed=seed):
        messages = task.build_prompt(sample, template)
        images = [p["image"].convert("RGB") for p in messages[0]["content"] if p["type"] == "image"]
        text = next(p["text"] for p in messages[0]["content"] if p["type"] == "text")
        rows.append({"prompt": [{"role": "user", "content": text}], "images": images, "answer": sample.answer})
    dataset = Dataset.from_list(rows)
    processor = load_processor(model_dir)
    tokenizer = processor.tokenizer

    def text_of(c):
        return c[0]["content"] if isinstance(c, list) else c

    def accuracy(completions, answer, **_):
        out = []
        for c, gold in zip(completions, answer):
            found = ANSWER.findall(text_of(c))
            out.append(1.0 if found and found[-1].strip().lower() == gold.lower() else 0.0)
        return out

    def format_(completions, **_):
        return [1.0 if FORMAT.match(text_of(c)) else 0.0 for c in completions]

    def length_norm(completions, **_):
        lengths = [
            len(ids) for ids in tokenizer([text_of(c) for c in completions], add_special_tokens=False)["input_ids"]
        ]
        return [1.0 / (1.0 + math.exp(-(n - 256.0) / 256.0)) for n in lengths]

    class Timer(TrainerCallback):
        def __init__(self):
            self.ends, self.cpu_ends, self.start, self.cpu_start = [], [], 0.0, 0.0

        def on_train_begin(self, args, state, control, **kw):
            self.start, self.cpu_start = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            self.ends.append(time.perf_counter())
            self.cpu_ends.append(time.process_time())

    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32, local_files_only=True)
    timer = Timer()
    args = GRPOConfig(
        output_dir=str(out),
        max_steps=steps,
        learning_rate=SETTINGS["learning_rate"],
        lr_scheduler_type="constant",
        per_device_train_batch_size=SETTINGS["per_device_batch"],
        gradient_accumulation_steps=SETTINGS["grad_accum"],
        num_generations=SETTINGS["num_generations"],
        max_completion_length=SETTINGS["max_completion_length"],
        temperature=SETTINGS["temperature"],
        beta=SETTINGS["beta"],
        reward_weights=[1.0, 1.0, 0.5],
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=seed,
        data_seed=seed,
        weight_decay=0.0,
        disable_tqdm=True,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=[accuracy, format_, length_norm],
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=[timer],
    )
    trainer.train()
    return {"wall": step_times(timer.ends, timer.start), "cpu": step_times(timer.cpu_ends, timer.cpu_start)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="Steps dropped at the start of each run.")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", help="Checkpoint directory [the cached tiny model].")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both sides (1: no spin-waiting threads inflating CPU time).",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)

    quiet()
    from harness.models.loading import register_image_only_processors
    from harness.models.tiny import default_tiny_model_dir

    register_image_only_processors()
    model_dir = args.model or str(default_tiny_model_dir())
    times = {(side, clock): [] for side in ("harness", "bare") for clock in ("wall", "cpu")}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, fn in (("harness", harness_run), ("bare", bare_run)):
                got = fn(model_dir, Path(tmp) / f"{name}-{r}", args.steps, args.limit, args.seed)
                for clock in ("wall", "cpu"):
                    kept = got[clock][args.warmup :]
                    times[name, clock] += kept
                    print(
                        f"round {r} {name:8s} {clock:4s} step times (s): " + " ".join(f"{t:.3f}" for t in kept),
                        flush=True,
                    )
    print(
        f"\nGRPO step, tiny Qwen2.5-VL, {SETTINGS['per_device_batch']} completions x "
        f"{SETTINGS['max_completion_length']} tokens, {args.rounds} rounds x {args.steps - args.warmup} steps:"
    )
    for clock in ("cpu", "wall"):
        med = {side: statistics.median(times[side, clock]) for side in ("harness", "bare")}
        ratio = med["harness"] / med["bare"]
        verdict = "MET" if ratio <= 1.05 else "NOT MET"
        print(
            f"  {clock:4s} median: harness {med['harness']:.3f} s, bare {med['bare']:.3f} s, "
            f"ratio {ratio:.3f} (goal <= 1.05: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
