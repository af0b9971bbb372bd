"""Which question pre-training makes a study base model's *answers* read its pictures.

Takes the vision tower of an existing base model (its vision stage is deterministic, so every base of one
spec seed has the same tower), pairs it with a fresh language model (the spec's own random init), runs the
question pre-training of ``harness.study.base_model.pretrain`` with the spec overrides given, and scores the
result's greedy ``nothink`` answers to held-out generic questions, per kind and answer mode (word / list /
letter), N questions each. This is how docs/study.md's table "The base model's answers" was measured.

    .venv/bin/python benchmarks/base_pretraining.py --tower ~/.cache/rft-harness/base-<key> -o /tmp/pt-G \\
        --set steps=2000 --kind-weight vote=3 --mode-weight letter=0.5 [--set think_fraction=0.25]

With no overrides it pre-trains with the current defaults (``BaseModelSpec()``). The finished model is saved
to ``-o`` (a checkpoint ``harness run --model`` accepts), with ``answers.json``.
"""

from __future__ import annotations

import argparse
import json
import time


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} {item!r}: use KEY=VALUE")
        out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tower", required=True, help="a base model checkpoint whose vision tower is used")
    parser.add_argument("-o", "--output", required=True, help="where the pre-trained model is saved")
    parser.add_argument("--set", action="append", default=[], help="a BaseModelSpec field, KEY=VALUE (repeatable)")
    parser.add_argument("--kind-weight", action="append", default=[], help="KIND=WEIGHT over the spec's mix")
    parser.add_argument("--mode-weight", action="append", default=[], help="MODE=WEIGHT over the spec's modes")
    parser.add_argument("--kinds", default="vote,sign,side,glyph,colour,count", help="kinds to score")
    parser.add_argument("--n", type=int, default=48, help="held-out questions per kind")
    args = parser.parse_args()

    import tempfile

    import torch

    from harness.study.answer_path import answer_path_accuracy
    from harness.study.base_model import BaseModelSpec, build_untrained, load_checkpoint, pretrain, run_copy_stage
    from harness.study.generic_data import MODES

    default = BaseModelSpec()
    fields = {k: type(getattr(default, k))(v) for k, v in _pairs(args.set, "--set").items()}
    kinds = {**default.kind_weights, **{k: float(v) for k, v in _pairs(args.kind_weight, "--kind-weight").items()}}
    modes = {**default.mode_weights, **{k: float(v) for k, v in _pairs(args.mode_weight, "--mode-weight").items()}}
    spec = BaseModelSpec(**{**fields, "kind_weights": kinds, "mode_weights": modes})
    print(json.dumps(spec.model_dump()), flush=True)

    torch.manual_seed(spec.seed)
    tower_model, processor = load_checkpoint(args.tower)
    with tempfile.TemporaryDirectory() as tmp:
        model, _ = build_untrained(spec, f"{tmp}/fresh")
    model.model.visual.load_state_dict(tower_model.float().model.visual.state_dict())
    del tower_model

    c0 = time.process_time()
    if spec.copy_steps:  # --set copy_steps=N (and copy_replay_every=K): the optional copy stage first
        run_copy_stage(model, processor, spec, print)
    pretrain(model, processor, spec, progress=True)
    cpu = time.process_time() - c0
    for p in model.parameters():
        p.requires_grad_(True)
    model.save_pretrained(args.output)
    processor.save_pretrained(args.output)

    scored = {}
    for kind in args.kinds.split(","):
        scored[kind] = answer_path_accuracy(model, processor, n=args.n, seed=spec.seed, kinds=[kind])[kind]
    print(f"question pre-training: {spec.steps} steps, {cpu:.0f} CPU s")
    print("kind    | all          | " + " | ".join(f"{m:13s}" for m in MODES))
    for kind, r in scored.items():
        cells = [f"{100 * r['accuracy']:3.0f}% (n {r['n']:2d})"]
        for mode in MODES:
            m = r["modes"].get(mode)
            cells.append(f"{100 * m['accuracy']:3.0f}% (n {m['n']:2d})" if m else "      —     ")
        print(f"{kind:7s} | " + " | ".join(cells))
    with open(f"{args.output}/answers.json", "w", encoding="utf-8") as fh:
        json.dump({"spec": spec.model_dump(), "cpu_seconds": cpu, "answers": scored}, fh, indent=1)


if __name__ == "__main__":
    main()
