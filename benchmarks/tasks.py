"""Speed of the built-in tasks: synthetic sample generation and answer checking.

    .venv/bin/python benchmarks/tasks.py              # 300 samples per task, 20k checks
    .venv/bin/python benchmarks/tasks.py --n 1000 --checks 100000

Prints synthetic samples per second for banner, fgvc and sat (goal: hundreds
in a few seconds on one CPU core, so tests and CPU demos can use them), then
``is_correct`` calls per second on short completions, then the time of one
``is_correct`` on a 2 MB pathological completion (goal: milliseconds).
"""

from __future__ import annotations

import argparse
import time

import harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="synthetic samples per task")
    parser.add_argument("--checks", type=int, default=20000, help="is_correct calls per task")
    args = parser.parse_args()
    # 1 MB of unclosed tags, then a 1 MB hedge inside a real block
    long_bait = "<answer>" * 131072 + "<answer>" + "A or B, " * 131072 + "</answer>"
    for name in ("banner", "fgvc", "sat"):
        task = harness.get_task(name)
        start = time.perf_counter()
        samples = list(task.samples("train", limit=args.n))
        gen = time.perf_counter() - start
        sample = samples[0]
        good = f"<think>looks clear</think><answer>{sample.answer}</answer>"
        bad = "<think>hmm</think><answer>A or B</answer>"
        start = time.perf_counter()
        for i in range(args.checks):
            task.is_correct(good if i % 2 else bad, sample)
        check = time.perf_counter() - start
        start = time.perf_counter()
        task.is_correct(long_bait, sample)
        bait = time.perf_counter() - start
        print(
            f"{name:7s} synthetic: {args.n / gen:8.0f} samples/s ({gen:.2f} s for {args.n})   "
            f"is_correct: {args.checks / check:9.0f} /s   2 MB bait: {bait * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
