"""Where a study base model loses what its vision tower sees: linear probes along the path to the answer.

For one generic kind (default: vote arrows, up or down), asks the base model the
kind's question about N fresh pictures and fits a logistic-regression probe
(the first 3/4 of the pictures; scored on the last 1/4) on three places:

- the merged image tokens as they enter the language model (what the tower holds),
- the last layer at the image positions,
- the last layer at the position that predicts the answer (what the answer can use),

then prints the model's own greedy answer accuracy on the held-out quarter. A
tower that holds the label (high first probe) while the answer position does not
(low third probe) loses it in the language model's read-out, not in the pixels.

    .venv/bin/python benchmarks/base_reading.py --base ~/.cache/rft-harness/base-<key> [--kind vote] [--n 400]

Numbers for the mini preset's bases: docs/study.md, "What the base model reads".
"""

from __future__ import annotations

import argparse
import random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="base model checkpoint directory")
    parser.add_argument("--kind", default="vote", help="a two-answer generic kind: vote, side or sign")
    parser.add_argument("--n", type=int, default=400, help="pictures (3/4 fit the probes, 1/4 score them)")
    args = parser.parse_args()

    import torch

    from harness.api.answers import last_answer
    from harness.study.base_model import load_checkpoint
    from harness.study.generic_data import KINDS, template_parts, user_messages

    model, processor = load_checkpoint(args.base)
    model.float().eval()
    instruction, prefill, _ = template_parts("nothink")
    image_token = model.config.image_token_id
    places: dict[str, list] = {"image tokens (input)": [], "image positions, last layer": [], "answer position": []}
    labels, answers, golds = [], [], []
    for i in range(args.n):
        item = KINDS[args.kind](random.Random(f"base-reading-{i}"), 56)
        options = item["pool"][:2]
        question = f"{item['stem']}\n{instruction(' or '.join(options))}"
        prompt = (
            processor.apply_chat_template(
                user_messages(item["image"], question), add_generation_prompt=True, tokenize=False
            )
            + prefill
        )
        inputs = processor(text=[prompt], images=[item["image"]], return_tensors="pt")
        with torch.no_grad():
            hidden = model(**inputs, output_hidden_states=True).hidden_states
            out = model.generate(**inputs, max_new_tokens=12, do_sample=False)
        mask = inputs["input_ids"][0] == image_token
        places["image tokens (input)"].append(hidden[0][0][mask].flatten())
        places["image positions, last layer"].append(hidden[-1][0][mask].flatten())
        places["answer position"].append(hidden[-1][0, -1])
        labels.append(float(item["gold"] == options[0]))
        answers.append(last_answer(prefill + processor.tokenizer.decode(out[0, inputs["input_ids"].shape[1] :])))
        golds.append(item["gold"])
    y = torch.tensor(labels)
    cut = 3 * args.n // 4
    print(f"{args.kind}: {args.n} pictures, probes fit on {cut}, scored on {args.n - cut}")
    for name, rows in places.items():
        print(f"  linear probe, {name}: {100 * _probe(torch.stack(rows), y, cut):.1f}%")
    held = list(zip(answers[cut:], golds[cut:]))
    right = sum(a is not None and a.lower() == g.lower() for a, g in held)
    print(f"  the model's own greedy answers: {100 * right / len(held):.1f}%")


def _probe(x, y, cut: int) -> float:
    """Held-out accuracy of an L2-regularised logistic regression fit on the first ``cut`` rows."""
    import torch

    mean, std = x[:cut].mean(0), x[:cut].std(0) + 1e-6
    x = (x - mean) / std
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(500):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x[:cut] @ w + b, y[:cut]) + 1e-3 * w.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return (((x[cut:] @ w + b) > 0).float() == y[cut:]).float().mean().item()


if __name__ == "__main__":
    main()
