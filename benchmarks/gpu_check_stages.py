"""The stages of ``gpu_check.py``, each run in its own process by the driver.

A stage reads its parameters (a JSON object), does its work and writes its
result (a JSON object) to ``spec["result"]``; the eval stage rewrites it after
every round, so a stage stopped at its time limit still leaves the rounds it
finished. The harness is driven through its command line
(``harness.cli.main``, in process, so this process can read the CUDA
allocator's peak) and its public API (``harness.get_task``,
``harness.get_template``, ``harness.load_model``).
"""

from __future__ import annotations

import gc
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TASKS = ("banner", "fgvc", "sat")


def write_json(path: str | Path, data: Any) -> None:
    """Atomic JSON write. Not harness.runs.rundir's: a stage must report even when the harness fails to import."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def harness_cli(argv: list[str]) -> int:
    """``harness ARGV`` in this process; its exit status (HarnessErrors exit 2 with one line on stderr)."""
    from harness.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


# -- GPU memory ---------------------------------------------------------------------


def cuda_in_use(device: str) -> bool:
    if not device.startswith("cuda"):
        return False
    import torch

    return torch.cuda.is_available()


def reset_peak(device: str) -> int:
    """Free what can be freed, reset the peak counter; returns the bytes still allocated."""
    gc.collect()
    if not cuda_in_use(device):
        return 0
    import torch

    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return torch.cuda.memory_allocated()


def peak_since_reset(device: str, others: int) -> int | None:
    """Peak bytes allocated since :func:`reset_peak`, minus ``others`` (memory that belongs to someone else)."""
    if not cuda_in_use(device):
        return None
    import torch

    return torch.cuda.max_memory_allocated() - others


# -- build -------------------------------------------------------------------------------


def disk_needed(shape: str, dtype: str) -> int:
    """Bytes the check writes at most: the model and one training run's final/ (deleted once used), plus slack."""
    from qwen_vl_shapes import PUBLISHED_PARAMETERS

    weights = PUBLISHED_PARAMETERS.get(shape, 0) * (2 if dtype in ("bfloat16", "float16") else 4)
    return 2 * weights + 4 * 2**30


def stage_build(spec: dict[str, Any]) -> dict[str, Any]:
    import shutil

    from qwen_vl_shapes import build_random_vlm

    device, shape = spec["device"], spec["shape"]
    free = shutil.disk_usage(spec["work_dir"]).free
    fallback = spec.get("fallback_shape")
    note = None
    if free < disk_needed(shape, spec["dtype"]) and fallback and free >= disk_needed(fallback, spec["dtype"]):
        note = (
            f"{spec['work_dir']} has {free / 2**30:.1f} GiB free, the {shape} shape needs about "
            f"{disk_needed(shape, spec['dtype']) / 2**30:.0f} GiB: built the {fallback} shape instead"
        )
        print(note, flush=True)
        shape = fallback
    if free < disk_needed(shape, spec["dtype"]):
        raise RuntimeError(
            f"{spec['work_dir']} has {free / 2**30:.1f} GiB free; the {shape} check needs about "
            f"{disk_needed(shape, spec['dtype']) / 2**30:.0f} GiB (the model and one saved copy). Pass --work on "
            f"a larger disk, or --shape 3b."
        )
    reset_peak(device)
    figures = build_random_vlm(spec["model_dir"], shape, device=device, dtype=spec["dtype"], seed=spec.get("seed", 0))
    figures["requested_shape"] = spec["shape"]
    figures["shape_note"] = note
    figures["peak_gpu_bytes"] = peak_since_reset(device, 0)
    if cuda_in_use(device):
        import torch

        props = torch.cuda.get_device_properties(torch.device(device))
        figures.update(gpu=props.name, gpu_memory_bytes=props.total_memory, cuda=torch.version.cuda)
    # The harness's own tiny checkpoint, for the stock-loading stage.
    import harness

    figures["tiny_dir"] = str(harness.build_tiny_vlm(spec["tiny_dir"]))
    return {"status": "ok", **figures}


# -- eval ------------------------------------------------------------------------------------


def eval_prompts(per_task: int, template_name: str) -> dict[str, list[tuple[str, Any]]]:
    """``{task: [(sample id, messages), ...]}``: the samples and prompts ``harness eval`` builds."""
    import harness

    template = harness.get_template(template_name)
    out = {}
    for name in TASKS:
        task = harness.get_task(name)
        out[name] = [(s.id, task.build_prompt(s, template)) for s in task.samples("test", limit=per_task, seed=0)]
    return out


def _images(messages: list[dict[str, Any]]) -> list[Any]:
    return [
        part["image"].convert("RGB")
        for m in messages
        if isinstance(m["content"], list)
        for part in m["content"]
        if part.get("type") == "image"
    ]


def bare_generate(
    loaded: Any, prompts: dict[str, list], prefill: str, batch_size: int, max_new_tokens: int
) -> dict[str, Any]:
    """The floor: render, tokenize, sort by length, ``model.generate`` per batch, decode. Nothing else."""
    import torch

    model, processor = loaded.model, loaded.processor
    tokenizer = processor.tokenizer
    tokenizer.padding_side = "left"
    eos = model.generation_config.eos_token_id
    stops = set(eos if isinstance(eos, list) else [eos]) | {tokenizer.eos_token_id}
    texts: dict[str, str] = {}
    tokens = 0
    t0 = time.perf_counter()
    for task, items in prompts.items():
        rendered = [
            (sid, processor.apply_chat_template(m, add_generation_prompt=True, tokenize=False) + prefill, _images(m))
            for sid, m in items
        ]
        # Longest first, so a batch holds prompts of similar length (text tokens; each task's images are alike).
        rendered.sort(key=lambda r: -len(tokenizer(r[1])["input_ids"]))
        for start in range(0, len(rendered), batch_size):
            chunk = rendered[start : start + batch_size]
            images = [img for _, _, imgs in chunk for img in imgs]
            inputs = processor(text=[r[1] for r in chunk], images=images or None, padding=True, return_tensors="pt").to(
                loaded.device
            )
            if "pixel_values" in inputs:
                inputs["pixel_values"] = inputs["pixel_values"].to(model.dtype)
            with torch.inference_mode():
                out = model.generate(
                    **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
            for (sid, _, _), ids in zip(chunk, out[:, inputs["input_ids"].shape[1] :].tolist(), strict=True):
                end = next((k for k, t in enumerate(ids) if t in stops), len(ids))
                tokens += end
                texts[f"{task}/{sid}"] = tokenizer.decode(ids[:end], skip_special_tokens=True)
    return {"seconds": time.perf_counter() - t0, "tokens": tokens, "texts": texts}


def harness_eval(spec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``harness eval`` on the same prompts; generation time from its results.json, tokens from its samples."""
    argv = [
        "eval",
        "--model",
        spec["model_dir"],
        "--tasks",
        ",".join(TASKS),
        "--templates",
        spec["template"],
        "--limit",
        str(spec["per_task"]),
        "--batch-size",
        str(spec["batch_size"]),
        "--max-new-tokens",
        str(spec["max_new_tokens"]),
        "--greedy",
        "--engine",
        "hf",
        "--dtype",
        spec["dtype"],
        "--device",
        spec["device"],
        "-o",
        str(run_dir),
        "--no-progress",
        "--no-download",
        *[arg for task in TASKS for arg in ("--source", f"{task}=synthetic")],
    ]
    t0 = time.perf_counter()
    code = harness_cli(argv)
    wall = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"harness {' '.join(argv)} exited with status {code}")
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    timings = results["run"]["timings"]
    # One timing per task x template: prompt encoding, generation, decoding, scoring and logging of that unit.
    units = [f"{task}.{spec['template']}_s" for task in TASKS]
    missing = [u for u in units if u not in timings]
    if missing:
        raise RuntimeError(f"{run_dir}/results.json has no timings {missing} (it has {sorted(timings)})")
    texts, tokens = {}, 0
    for task in TASKS:
        path = run_dir / "samples" / f"{task}.{spec['template']}.jsonl"
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            texts[f"{task}/{record['id']}"] = record["completion"]
            tokens += int(record["num_tokens"])
    data = {task: (info or {}).get("kind") for task, info in (results.get("data") or {}).items()}
    return {
        "seconds": sum(timings[u] for u in units),
        "tokens": tokens,
        "texts": texts,
        "model_load_s": timings.get("model_load_s"),
        "wall_s": wall,
        "data": data,
    }


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def stage_eval(spec: dict[str, Any]) -> dict[str, Any]:
    """Interleaved rounds of harness eval vs the bare loop until ``max_rounds`` or the deadline."""
    import torch

    import harness

    device, deadline = spec["device"], spec["deadline"]
    if device == "cpu":
        torch.set_num_threads(1)  # what the hf engine uses for a small CPU model: the same floor for both
    template = harness.get_template(spec["template"])
    prompts = eval_prompts(spec["per_task"], spec["template"])
    n_prompts = sum(len(v) for v in prompts.values())
    result: dict[str, Any] = {
        "status": "running",
        "prompts": n_prompts,
        "per_task": spec["per_task"],
        "tasks": list(TASKS),
        "template": spec["template"],
        "batch_size": spec["batch_size"],
        "max_new_tokens": spec["max_new_tokens"],
        "goal_ratio": spec["goal_ratio"],
        "rounds": [],
    }
    t0 = time.perf_counter()
    loaded = harness.load_model(spec["model_dir"], dtype=spec["dtype"], device=device)
    result["bare_model_load_s"] = round(time.perf_counter() - t0, 2)
    resident = reset_peak(device)  # the bare side's model stays loaded between rounds
    first = next(iter(prompts))
    bare_generate(loaded, {first: prompts[first][:2]}, template.prefill, spec["batch_size"], 4)  # warm-up
    work = Path(spec["work_dir"])
    longest = 0.0
    for r in range(spec["max_rounds"]):
        if r and time.time() + longest > deadline:
            break
        started = time.perf_counter()
        order = ("harness", "bare") if r % 2 == 0 else ("bare", "harness")
        row: dict[str, Any] = {"order": list(order)}
        texts = {}
        for side in order:
            before = reset_peak(device)
            if side == "harness":
                got = harness_eval(spec, work / f"eval-round{r}")
                others = before  # everything allocated before it started (the bare model) is not its own
            else:
                got = bare_generate(loaded, prompts, template.prefill, spec["batch_size"], spec["max_new_tokens"])
                others = before - resident
            texts[side] = got.pop("texts")
            got["tokens_per_s"] = got["tokens"] / got["seconds"]
            got["peak_gpu_bytes"] = peak_since_reset(device, others)
            got["gpu_bytes_before"] = before if cuda_in_use(device) else None  # a leak between rounds shows here
            row[side] = got
        row["ratio"] = row["harness"]["tokens_per_s"] / row["bare"]["tokens_per_s"]
        row["identical_completions"] = sum(texts["harness"].get(k) == v for k, v in texts["bare"].items())
        row["seconds"] = time.perf_counter() - started
        longest = max(longest, row["seconds"])
        result["rounds"].append(row)
        _eval_summary(result)
        write_json(spec["result"], result)
    result["status"] = "ok"
    return _eval_summary(result)


def _eval_summary(result: dict[str, Any]) -> dict[str, Any]:
    rounds = result["rounds"]
    ratio = _summary([r["ratio"] for r in rounds])
    result["ratio"] = ratio
    result["goal_met"] = bool(ratio and ratio["median"] >= result["goal_ratio"])
    for side in ("harness", "bare"):
        result[f"{side}_tokens_per_s"] = _summary([r[side]["tokens_per_s"] for r in rounds])
        peaks = [r[side]["peak_gpu_bytes"] for r in rounds if r[side]["peak_gpu_bytes"] is not None]
        result[f"{side}_peak_gpu_bytes"] = max(peaks) if peaks else None
    result["identical_completions"] = min((r["identical_completions"] for r in rounds), default=None)
    return result


# -- train ---------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def skip_step_checkpoints() -> list[int]:
    """Make the trainer skip its resumable ``checkpoint-N`` saves in this process; returns the skipped steps.

    Why: with ``save_strategy="steps"`` the trainer also saves one at the last step, and for the 7B shape that
    is the weights plus the AdamW state, ~50 GB, more than the GPU machine's 64 GiB disk holds next to the model
    and ``final/`` (and minutes of writing). ``final/``, which the harness writes itself, is kept. The harness
    has no setting for this yet; ``Trainer._save_checkpoint`` is transformers' private hook for that save.
    """
    from transformers import Trainer

    if not callable(getattr(Trainer, "_save_checkpoint", None)):
        raise RuntimeError(
            "transformers.Trainer has no _save_checkpoint: cannot skip step checkpoints; "
            "pass --step-checkpoints (needs ~50 GB more disk for 7B)."
        )
    skipped: list[int] = []

    def record_instead_of_saving(self, model, trial):
        skipped.append(self.state.global_step)

    Trainer._save_checkpoint = record_instead_of_saving
    return skipped


def stage_train(spec: dict[str, Any]) -> dict[str, Any]:
    """``harness run --backend trl`` (GRPO or SFT); step times, losses, rewards from its metrics.jsonl."""
    device = spec["device"]
    run_dir = Path(spec["run_dir"])
    argv = ["run", *spec["args"], "-o", str(run_dir)]
    skipped = [] if spec.get("step_checkpoints") else skip_step_checkpoints()
    reset_peak(device)
    t0 = time.perf_counter()
    code = harness_cli(argv)
    wall = time.perf_counter() - t0
    result: dict[str, Any] = {
        "command": "harness " + " ".join(argv),
        "exit_code": code,
        "wall_s": round(wall, 2),
        "peak_gpu_bytes": peak_since_reset(device, 0),
        "step_checkpoints_skipped": None if spec.get("step_checkpoints") else len(skipped),
    }
    metrics = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines()] if metrics.exists() else []
    # The TRL backend logs a non-finite value as null, so a missing number is a failure too.
    watched = ["loss", "grad_norm"] + (["reward"] if spec["method"] == "grpo" else [])
    watched += sorted({k for row in rows for k in row if k.startswith("rewards/") and k.endswith("/mean")})
    bad = [
        f"step {row.get('step')}: {key}={row.get(key)!r}"
        for row in rows
        for key in watched
        if not _finite(row.get(key))
    ]
    step_times = [row.get("step_time_s") for row in rows]
    timed = [t for t in step_times[1:] if _finite(t)] or [t for t in step_times if _finite(t)]
    grpo = spec["method"] == "grpo"
    result.update(
        steps=len(rows),
        step_times_s=step_times,
        s_per_step=_summary(timed),
        watched=watched,
        losses=[row.get("loss") for row in rows],
        grad_norms=[row.get("grad_norm") for row in rows],
        rewards=[row.get("reward") for row in rows] if grpo else None,
        mean_completion_tokens=[row.get("completions/mean_length") for row in rows] if grpo else None,
        all_finite=bool(rows) and not bad,
        non_finite=bad[:10],
        final_dir=str(run_dir / "final"),
        final_saved=(run_dir / "final" / "config.json").is_file(),
    )
    problems = []
    if code != 0:
        problems.append(f"harness run exited with status {code}")
    if len(rows) != spec["steps"]:
        problems.append(f"{len(rows)} logged steps, expected {spec['steps']}")
    if bad:
        problems.append("non-finite metrics: " + "; ".join(bad[:3]))
    if not result["final_saved"]:
        problems.append(f"no checkpoint in {run_dir / 'final'}")
    result["status"] = "failed" if problems else "ok"
    if problems:
        result["error"] = "; ".join(problems)
    return result


# -- stock loading ----------------------------------------------------------------------------


def stage_stock(spec: dict[str, Any]) -> dict[str, Any]:
    """The harness's tiny model and a TRL ``final/`` load with stock transformers alone, in a separate process."""
    work = Path(spec["work_dir"])
    tiny = Path(spec["tiny_dir"])
    result: dict[str, Any] = {"tiny_dir": str(tiny), "trl_final_dir": spec.get("trl_final")}
    dirs = {"tiny": tiny}
    final = spec.get("trl_final")
    if final and (Path(final) / "config.json").is_file():
        dirs["trl_final"] = Path(final)
    else:
        result["trl_final_skipped"] = f"no TRL checkpoint at {final} (its training stage did not finish)"
    report_path = work / "stock_load.json"
    if dirs:
        done = subprocess.run(
            [sys.executable, str(HERE / "stock_load.py"), "--json", str(report_path), *map(str, dirs.values())],
            capture_output=True,
            text=True,
            timeout=spec["timeout"],
        )
        if not report_path.exists():
            raise RuntimeError(f"stock_load.py wrote no report: {(done.stderr or done.stdout).strip()[-600:]}")
        report = json.loads(report_path.read_text(encoding="utf-8"))
        result["torchvision_available"] = report["torchvision_available"]
        result["harness_imported"] = report["harness_imported"]
        result["checkpoints"] = dict(zip(dirs, report["checkpoints"], strict=True))
    checks = result.get("checkpoints", {})
    problems = [
        f"{name}: {(c.get('model_error') or c.get('processor_error') or c.get('forward_error'))[:200]}"
        for name, c in checks.items()
        if not (c.get("model_ok") and c.get("processor_ok") and c.get("forward_ok", True))
    ]
    if result.get("harness_imported"):
        problems.append("the stock loader imported harness")
    if "trl_final" not in dirs:
        problems.append(result["trl_final_skipped"])
    result["status"] = "failed" if problems else "ok"
    if problems:
        result["error"] = " | ".join(problems)
    return result


STAGES = {"build": stage_build, "eval": stage_eval, "grpo": stage_train, "sft": stage_train, "stock": stage_stock}


def run_stage(name: str, spec_path: str) -> int:
    """Entry point of a stage process: run it, write its result (or its error) to ``spec["result"]``."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    try:
        result = STAGES[name](spec)
    except BaseException as exc:  # noqa: BLE001 - the driver records any failure and goes on
        import traceback

        traceback.print_exc()
        partial = {}
        if Path(spec["result"]).exists():
            partial = json.loads(Path(spec["result"]).read_text(encoding="utf-8"))
        result = {**partial, "status": "failed", "error": f"{type(exc).__name__}: {' '.join(str(exc).split())[:800]}"}
    result["seconds"] = round(time.perf_counter() - started, 2)
    write_json(spec["result"], result)
    return 0 if result.get("status") == "ok" else 1
