"""Load checkpoints with stock transformers only, the way a user of the checkpoint would.

    python benchmarks/stock_load.py --json RESULT.json DIR [DIR ...]

For each directory: ``AutoModelForImageTextToText.from_pretrained`` and
``AutoProcessor.from_pretrained`` (each timed, each error kept as one line),
then, if both loaded, the processor on a chat prompt with one image and a
forward pass whose logits must be finite (on the model's own dtype, on CPU;
skipped above ``--forward-max-params``). Writes one JSON object: per
directory the figures and errors, plus ``harness_imported`` (whether anything
imported the ``harness`` package: it must stay false) and
``torchvision_available`` (stock Qwen-VL processors need it for their video
processor).

This file must never import ``harness``: it stands for a process that has
only transformers, torch and Pillow.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any


def _error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:600]}"


def check_dir(path: Path, forward_max_params: int) -> dict[str, Any]:
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out: dict[str, Any] = {"path": str(path), "files": sorted(p.name for p in path.iterdir()) if path.is_dir() else []}
    model = processor = None
    t0 = time.perf_counter()
    try:
        model = AutoModelForImageTextToText.from_pretrained(str(path), dtype="auto", local_files_only=True)
        out.update(
            model_ok=True,
            model_class=type(model).__name__,
            dtype=str(model.dtype).replace("torch.", ""),
            parameters=sum(p.numel() for p in model.parameters()),
        )
    except Exception as exc:  # noqa: BLE001 - every failure is the result
        out.update(model_ok=False, model_error=_error(exc))
    out["model_load_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    try:
        processor = AutoProcessor.from_pretrained(str(path), local_files_only=True)
        out.update(processor_ok=True, processor_class=type(processor).__name__)
    except Exception as exc:  # noqa: BLE001
        out.update(processor_ok=False, processor_error=_error(exc))
    out["processor_load_s"] = round(time.perf_counter() - t0, 2)

    if model is None or processor is None:
        return out
    try:
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is shown?"}]}]
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        image = Image.new("RGB", (56, 56), (200, 30, 30))
        inputs = processor(text=[text], images=[image], return_tensors="pt")
        out["prompt_tokens"] = int(inputs["input_ids"].shape[1])
        if out["parameters"] <= forward_max_params:
            with torch.inference_mode():
                logits = model(**inputs).logits
            out["forward_finite"] = bool(torch.isfinite(logits.float()).all())
            out["forward_ok"] = out["forward_finite"]
        else:
            out["forward_skipped"] = f"more than {forward_max_params} parameters"
    except Exception as exc:  # noqa: BLE001
        out.update(forward_ok=False, forward_error=_error(exc))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--json", type=Path, required=True, help="Write the result here.")
    parser.add_argument(
        "--forward-max-params",
        type=int,
        default=100_000_000,
        help="Run the forward pass only for models up to this size (it runs on CPU).",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    from transformers.utils import is_torchvision_available

    results = [check_dir(d, args.forward_max_params) for d in args.dirs]
    report = {
        "checkpoints": results,
        "torchvision_available": bool(is_torchvision_available()),
        "harness_imported": any(name == "harness" or name.startswith("harness.") for name in sys.modules),
        "seconds": round(time.perf_counter() - started, 2),
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    ok = all(r.get("model_ok") and r.get("processor_ok") and r.get("forward_ok", True) for r in results)
    return 0 if ok and not report["harness_imported"] else 1


if __name__ == "__main__":
    sys.exit(main())
