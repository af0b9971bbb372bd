"""Throughput of the built-in rewards on mixed completions, and format on pathological inputs.

    .venv/bin/python benchmarks/rewards.py            # 100k completions, best of 3 rounds
    taskset -c 0 .venv/bin/python benchmarks/rewards.py --n 100000 --repeats 5

Completions are a deterministic mix: correct, wrong, malformed (missing or
extra tags, text around them, hedged or empty answers) and long (~1000-word
thoughts, one in fifty). Columns are those of the ``banner`` task (the
accuracy reward calls its ``is_correct``). Prints completions per second for
each reward and for the weighted sums; the goal is accuracy+format at
100k completions/s or more on one core. Then times ``format`` on 1 MB
pathological strings (regex-backtracking bait): each must take milliseconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import harness
from harness.plugins.rewards.format import is_well_formed

LABELS = ("positive", "negative")
THOUGHTS = (
    "The banner says KEEP SMILING in bright letters.",
    "Red text, an angry face: the slogan insults the reader.",
    "Hmm.",
    "Let me read it word by word. GO AWAY. That is hostile.",
)


def mixed_completions(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` completions and their gold labels, a fixed mix of kinds."""
    rng = random.Random(seed)
    long_thought = " ".join(rng.choice(["look", "at", "the", "banner", "text", "again"]) for _ in range(1000))
    completions, golds = [], []
    for i in range(n):
        gold = LABELS[i % 2]
        other = LABELS[1 - i % 2]
        thought = rng.choice(THOUGHTS)
        kind = rng.randrange(10)
        if i % 50 == 0:
            text = f"<think>{long_thought}</think>\n<answer>{gold}</answer>"
        elif kind < 4:
            text = f"<think>{thought}</think>\n<answer>{gold}</answer>"
        elif kind < 6:
            text = f"<think>{thought}</think>\n<answer>{other}</answer>"
        elif kind == 6:
            text = f"<answer>{gold}</answer>"
        elif kind == 7:
            text = f"<think>{thought}</think><answer>{gold} or {other}</answer>"
        elif kind == 8:
            text = f"Sure! <think>{thought}</think><answer>{gold}</answer> Hope this helps."
        else:
            text = f"<think>{thought}</think><answer></answer><answer>{gold}</answer>"
        completions.append(text)
        golds.append(gold)
    return completions, golds


def cpu_seconds(fn, completions, columns) -> float:
    """CPU time of one call (process time: fair on a machine shared with other jobs)."""
    start = time.process_time()
    fn(completions, **columns)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="completions (default 100000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--task", default="banner", help="task whose rule 'accuracy' uses")
    args = parser.parse_args(argv)

    if args.task not in harness.list_tasks():
        print(f"task {args.task!r} is not registered; have: {harness.list_tasks()}", file=sys.stderr)
        return 2
    completions, golds = mixed_completions(args.n)
    columns = {
        "task": [args.task] * args.n,
        "answer": golds,
        "choices": [list(LABELS)] * args.n,
        "meta": [{}] * args.n,
        "id": [str(i) for i in range(args.n)],
    }
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    cases = [
        ("accuracy", harness.get_reward("accuracy"), completions),
        ("format", harness.get_reward("format"), completions),
        ("format (conversational input)", harness.get_reward("format"), chat),
        ("length_norm (words)", harness.get_reward("length_norm"), completions),
        ("length_norm (span=think)", harness.get_reward("length_norm", span="think"), completions),
        ("length_norm (gated)", harness.get_reward("length_norm", gated=True), completions),
        ("accuracy:1,format:1", harness.reward_from_spec("accuracy:1,format:1"), completions),
        (
            "accuracy:1,format:1,length_norm:0.5",
            harness.reward_from_spec("accuracy:1,format:1,length_norm:0.5"),
            completions,
        ),
    ]
    print(
        f"{args.n} mixed completions, task {args.task!r}, best of {args.repeats} interleaved rounds "
        f"(CPU time, one thread); Python {sys.version.split()[0]}"
    )
    best = [float("inf")] * len(cases)
    for _ in range(args.repeats):  # rounds interleave the cases so load spikes hit all alike
        for k, (_, fn, inputs) in enumerate(cases):
            best[k] = min(best[k], cpu_seconds(fn, inputs, columns))
    for (label, _, _), seconds in zip(cases, best):
        print(f"  {label:<40} {args.n / seconds:>12,.0f} completions/s")

    mb = 1_000_000
    bait = {
        "'<think>' x 140k": "<think>" * (mb // 7),
        "'<answer>' x 125k + '</answer>'": "<answer>" * (mb // 8) + "</answer>",
        "'<answer></answer>' x 58k": "<answer></answer>" * (mb // 17),
        "'<' x 500k + '>' x 500k": "<" * (mb // 2) + ">" * (mb // 2),
        "well-formed, 1 MB thought": "<think>" + "step " * (mb // 5) + "</think><answer>A</answer>",
        "1 MB blank answer": "<think>x</think><answer>" + " " * mb + "</answer>",
        "unclosed answer, 1 MB": "<think>x</think><answer>" + "a" * mb,
    }
    print("format on 1 MB pathological strings (wall time, best of 3):")
    for label, text in bait.items():
        fastest = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            is_well_formed(text)
            fastest = min(fastest, time.perf_counter() - start)
        print(f"  {label:<40} {fastest * 1e3:>8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
