"""GPU check: prove the GPU paths of the harness on one CUDA GPU in one command, in under 8 minutes.

    python benchmarks/gpu_check.py --out DIR            # one GPU: 7B-shape Qwen2.5-VL, bf16
    python benchmarks/gpu_check.py --out DIR --shape 3b # the 3B shape, if 7B does not fit the time
    python benchmarks/gpu_check.py --out DIR --cpu-smoke  # the same stages on CPU, tiny model, ~1 minute

On the device machine use ``bash benchmarks/gpu_check.sh $OUT`` (installs the
carried wheels first; see benchmarks/README.md). Stages, each in its own
process with its own time limit, inside one overall budget; a stage that
fails or runs out of time is recorded with its error and the others still run
(those that need its output are marked skipped):

1. **build**: a random-weight Qwen2.5-VL of the public 7B (or 3B) shape from its
   config (``qwen_vl_shapes.py``: no download), initialised on the GPU in bf16
   and saved with the harness's tiny tokenizer padded to the model's vocabulary.
2. **eval**: ``harness eval --engine hf`` against a bare batched
   ``model.generate`` loop on the same prompts (banner, fgvc, sat synthetic
   twins; 64 per task), 128 new tokens, greedy, the same batch size.
   Interleaved rounds (order alternating) until 5 rounds or the stage's time
   runs out; tokens/s of each, the ratio per round (median, min, max; goal
   >= 0.95), peak GPU memory of each (weights included), identical completions.
   Tokens/s is completion tokens over the seconds the harness reports for its
   task x template units (encode, generate, decode, score, log) and over the
   bare loop's render + generate + decode; model loading is outside both.
3. **grpo**: ``harness run --backend trl --method grpo``: 5 steps, one prompt x 8
   generations of up to 256 tokens per step, reward
   ``accuracy:1,format:1,length_norm:0.5``, gradient checkpointing, bf16.
4. **stock**: the harness's tiny model (``harness.build_tiny_vlm``, written by
   the build stage) and the GRPO run's ``final/`` load with stock
   ``AutoProcessor`` / ``AutoModelForImageTextToText`` in a process that never
   imports harness (``stock_load.py``).
5. **sft**: ``harness run --backend trl --method sft``: 5 steps.

Training stages report s/step (median of the steps after the first), peak GPU
memory, and whether every logged loss, grad norm and reward is finite (read
from the run's ``metrics.jsonl``).

Disk: the GPU machine has 64 GiB. The trainer's resumable end-of-run
``checkpoint-N`` (7B: weights + AdamW state, ~50 GB) is skipped in the
training processes (``--step-checkpoints`` keeps it); the harness's ``final/``
is written and deleted once used, so the disk holds the model and at most one
copy (~35 GB for 7B). If the work dir has less free space than 7B needs but
enough for 3B, the build falls back to the 3B shape and says so
(``--exact-shape`` refuses instead).

Writes ``gpu_check.json``, ``gpu_check.md`` and ``gpu_check.log`` (every
stage's output) to ``--out`` and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ORDER = ("build", "eval", "grpo", "stock", "sft")
NEEDS = {"eval": "build", "grpo": "build", "stock": "build", "sft": "build"}
VERSIONS = (
    "rft-harness",
    "torch",
    "torchvision",
    "transformers",
    "accelerate",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "trl",
    "datasets",
    "pydantic",
    "pydantic-core",
    "typing-extensions",
    "pyarrow",
    "fsspec",
    "numpy",
    "pandas",
    "pillow",
)
GOAL_RATIO = 0.95

# Per mode: what runs, with which sizes and time limits (seconds).
MODES: dict[str, dict[str, Any]] = {
    "gpu": {
        "shape": "7b",
        "device": "cuda",
        "dtype": "bfloat16",
        "per_task": 64,
        "batch_size": 64,
        "max_new_tokens": 128,
        "rounds": 5,
        "grpo_steps": 5,
        "generations": 8,
        "completion_tokens": 256,
        "sft_steps": 5,
        "budget": 450,
        "box": {"build": 90, "eval": 170, "grpo": 130, "stock": 50, "sft": 80},
        "least": {"build": 30, "eval": 45, "grpo": 50, "stock": 20, "sft": 30},
    },
    "cpu-smoke": {
        "shape": "smoke",
        "device": "cpu",
        "dtype": "float32",
        "per_task": 4,
        "batch_size": 4,
        "max_new_tokens": 8,
        "rounds": 2,
        "grpo_steps": 2,
        "generations": 8,
        "completion_tokens": 16,
        "sft_steps": 2,
        "budget": 420,
        "box": {"build": 90, "eval": 120, "grpo": 150, "stock": 90, "sft": 120},
        "least": {"build": 10, "eval": 15, "grpo": 15, "stock": 10, "sft": 15},
    },
}
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "MPLBACKEND": "Agg",
    "TQDM_DISABLE": "1",
    "PYTHONUNBUFFERED": "1",
}


# -- what ran where ----------------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine(work: Path) -> dict[str, Any]:
    info: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "work_dir": str(work),
        "work_free_bytes": shutil.disk_usage(work).free,
        "gpus": [],
    }
    # Free space where a rerun could put --work, should this one run short.
    info["free_bytes"] = {
        d: shutil.disk_usage(d).free for d in ("/", "/tmp", "/dev/shm", os.getcwd()) if os.path.isdir(d)
    }
    try:
        meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
        info["memory_bytes"] = int(meminfo[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if smi.returncode == 0:
            info["gpus"] = [line.strip() for line in smi.stdout.splitlines() if line.strip()]
    except (OSError, subprocess.SubprocessError):
        pass  # no nvidia-smi: no NVIDIA GPU
    return info


# -- stage plans ----------------------------------------------------------------------------------------


def train_args(method: str, settings: dict[str, Any], model_dir: str) -> list[str]:
    """The ``harness run`` flags of the GRPO / SFT stage."""
    cuda = settings["device"] == "cuda"
    common = [
        "--backend",
        "trl",
        "--task",
        "banner",
        "--method",
        method,
        "--model",
        model_dir,
        "--source",
        "synthetic",
        "--no-download",
        "--template",
        "think",
        "--preset",
        "none",
        "--seed",
        "0",
        "--grad-accum",
        "1",
        "--set",
        f"trl.device={settings['device']}",
        "--set",
        f"trl.bf16={str(cuda).lower()}",
        "--set",
        "trl.gradient_checkpointing=true",
        "--set",
        "trl.save_steps=100000",
    ]
    if method == "grpo":
        g = settings["generations"]
        # length_norm varies between completions even for a random model (accuracy and format stay 0),
        # so the advantages, and hence the gradients, are not all zero.
        return common + [
            "--reward",
            "accuracy:1,format:1,length_norm:0.5",
            "--max-steps",
            str(settings["grpo_steps"]),
            "--limit",
            str(2 * settings["grpo_steps"]),
            "--per-device-batch",
            str(g),
            "--num-generations",
            str(g),
            "--max-completion-length",
            str(settings["completion_tokens"]),
            "--learning-rate",
            "1e-6",
            "--temperature",
            "1.0",
            "--beta",
            "0.04",
            "--set",
            "trl.use_vllm=false",
        ]
    return common + [
        "--max-steps",
        str(settings["sft_steps"]),
        "--limit",
        str(8 * settings["sft_steps"] + 8),
        "--per-device-batch",
        "8",
        "--learning-rate",
        "1e-5",
    ]


def stage_spec(stage: str, settings: dict[str, Any], work: Path, timeout: float) -> dict[str, Any]:
    model_dir = str(work / "model")
    spec: dict[str, Any] = {
        "result": str(work / f"{stage}.result.json"),
        "device": settings["device"],
        "dtype": settings["dtype"],
        "work_dir": str(work),
        "timeout": timeout,
    }
    tiny_dir = str(work / "harness-tiny")
    if stage == "build":
        spec.update(
            model_dir=model_dir,
            tiny_dir=tiny_dir,
            shape=settings["shape"],
            seed=0,
            fallback_shape="3b" if settings["shape"] == "7b" and not settings["exact_shape"] else None,
        )
    elif stage == "eval":
        spec.update(
            model_dir=model_dir,
            per_task=settings["per_task"],
            batch_size=settings["batch_size"],
            max_new_tokens=settings["max_new_tokens"],
            max_rounds=settings["rounds"],
            template="think",
            goal_ratio=GOAL_RATIO,
            deadline=time.time() + timeout - min(20.0, timeout / 4),
        )
    elif stage in ("grpo", "sft"):
        spec.update(
            method=stage,
            run_dir=str(work / f"run-{stage}"),
            args=train_args(stage, settings, model_dir),
            steps=settings[f"{stage}_steps"],
            step_checkpoints=settings["step_checkpoints"],
        )
    elif stage == "stock":
        spec.update(tiny_dir=tiny_dir, trl_final=str(work / "run-grpo" / "final"))
    return spec


def run_child(stage: str, spec: dict[str, Any], timeout: float, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one stage in its own process group; stop it at ``timeout``; its result, or what went wrong."""
    spec_path = Path(spec["result"]).with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    result_path = Path(spec["result"])
    result_path.unlink(missing_ok=True)
    stage_log = Path(spec["work_dir"]) / f"{stage}.log"  # $OUT gets only the combined log
    started = time.perf_counter()
    timed_out = False
    with stage_log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "gpu_check.py"), "_stage", stage, str(spec_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(proc.pid, signal.SIGKILL)  # the stage's own process group: it and its helpers
            proc.wait()
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {}
    if result_path.exists():
        result = json.loads(result_path.read_text(encoding="utf-8"))
    tail = stage_log.read_text(encoding="utf-8", errors="replace")[-2000:]
    if timed_out:
        result.update(
            status="timeout",
            error=f"stopped at its time limit of {timeout:.0f} s"
            + (f" after {len(result['rounds'])} round(s)" if result.get("rounds") else ""),
        )
    elif "status" not in result:
        result.update(
            status="failed", error=f"the stage process exited with status {proc.returncode} and wrote no result"
        )
    result["seconds"] = round(seconds, 2)
    result["time_limit_s"] = round(timeout, 1)
    if result["status"] != "ok":
        result["log_tail"] = tail
    with log.open("a", encoding="utf-8") as combined:
        combined.write(f"\n===== {stage} ({result['status']}, {seconds:.1f} s) =====\n")
        combined.write(stage_log.read_text(encoding="utf-8", errors="replace"))
    return result


# -- the report -----------------------------------------------------------------------------------------------


def gib(n: float | None) -> str:
    return "–" if n is None else f"{n / 2**30:.1f} GiB"


def _stats(s: dict[str, float] | None, fmt: str) -> str:
    if not s:
        return "–"
    return f"{s['median']:{fmt}} (min {s['min']:{fmt}}, max {s['max']:{fmt}}, n={s['n']})"


def figures(stage: str, r: dict[str, Any]) -> tuple[str, str]:
    """(figures, peak memory) cells of one stage's table row."""
    if r.get("status") in ("skipped",):
        return r.get("error", ""), "–"
    cells: list[str] = []
    memory = "–"
    if stage == "build" and "parameters" in r:
        params = r["parameters"]
        count = f"{params / 1e9:.2f} B" if params >= 1e8 else f"{params:,}"
        cells.append(
            f"Qwen2.5-VL {r['shape']} shape, {count} parameters, {r['dtype']} on "
            f"{r['device']}; init {r['init_s']} s, save {r['save_s']} s ({gib(r['weights_bytes'])}); "
            f"tokenizer padded by {r['tokenizer_padded_by']} ids"
        )
        if r.get("shape_note"):
            cells.append(f"**{r['shape_note']}**")
        memory = gib(r.get("peak_gpu_bytes"))
    elif stage == "eval" and r.get("rounds"):
        ratio = r["ratio"]
        goal = "met" if r["goal_met"] else "NOT met"
        cells.append(
            f"harness {_stats(r['harness_tokens_per_s'], '.0f')} tok/s vs bare "
            f"{_stats(r['bare_tokens_per_s'], '.0f')} tok/s; ratio {_stats(ratio, '.3f')} "
            f"(goal >= {r['goal_ratio']}: {goal}); {r['prompts']} prompts x {r['max_new_tokens']} new tokens, "
            f"batch {r['batch_size']}; identical completions {r['identical_completions']}/{r['prompts']}"
        )
        memory = f"harness {gib(r['harness_peak_gpu_bytes'])}, bare {gib(r['bare_peak_gpu_bytes'])}"
    elif stage in ("grpo", "sft") and "steps" in r:
        per = r["s_per_step"]
        cells.append(f"{r['steps']} steps, {per['median']:.2f} s/step" if per else f"{r['steps']} steps")
        cells.append(
            "losses, grad norms"
            + (" and rewards" if stage == "grpo" else "")
            + (" all finite" if r["all_finite"] else " NOT all finite")
        )
        if stage == "grpo" and r.get("rewards"):
            cells.append("reward " + ", ".join("–" if v is None else f"{v:.3g}" for v in r["rewards"]))
        cells.append("loss " + ", ".join("–" if v is None else f"{v:.3g}" for v in r["losses"]))
        memory = gib(r.get("peak_gpu_bytes"))
    elif stage == "stock" and r.get("checkpoints"):
        for name, c in r["checkpoints"].items():
            model = f"model {c.get('model_class')} {c.get('dtype')}" if c.get("model_ok") else "model FAILED"
            proc = f"processor {c.get('processor_class')}" if c.get("processor_ok") else "processor FAILED"
            cells.append(f"{name}: {model}, {proc}")
        cells.append(f"harness imported: {r.get('harness_imported')}, torchvision: {r.get('torchvision_available')}")
    if r.get("status") != "ok" and r.get("error"):
        cells.append(f"**{r['error']}**")
    return "; ".join(cells).replace("|", "\\|"), memory


def render_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    v = report["versions"]
    lines = [
        f"## GPU check ({report['mode']}, {report['started_at']})",
        "",
        f"- machine: {', '.join(m.get('gpus') or ['no GPU'])}; {m.get('cpus')} CPUs; {m.get('platform')}; free disk: "
        + ", ".join(f"{d} {gib(n)}" for d, n in m.get("free_bytes", {}).items()),
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items() if val),
        f"- command: `{report['command']}`",
        f"- total {report.get('wall_s', 0):.0f} s (budget {report['settings']['budget']} s)",
        "",
        "| stage | status | seconds | figures | peak GPU memory |",
        "|---|---|---:|---|---|",
    ]
    for stage, r in report["stages"].items():
        cells, memory = figures(stage, r)
        lines.append(f"| {stage} | {r.get('status')} | {r.get('seconds', 0):.0f} | {cells} | {memory} |")
    if report["mode"] == "cpu-smoke":
        lines += ["", "CPU smoke: a tiny model of the same architecture; the figures check the pipeline, not speed."]
    return "\n".join(lines) + "\n"


def write_report(out: Path, report: dict[str, Any]) -> str:
    text = render_markdown(report)
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    (out / "gpu_check.md").write_text(text, encoding="utf-8")
    return text


# -- driver ------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="Folder for gpu_check.json, .md and .log.")
    parser.add_argument("--work", type=Path, help="Folder for models and runs (needs ~40 GB for 7B) [a new temp dir].")
    parser.add_argument("--cpu-smoke", action="store_true", help="The same stages on CPU with a tiny model.")
    parser.add_argument("--shape", choices=("7b", "3b", "smoke"), help="Model shape [7b; smoke with --cpu-smoke].")
    parser.add_argument("--stages", help=f"Comma-separated subset of {','.join(ORDER)} [all].")
    parser.add_argument("--budget", type=float, help="Seconds for the whole check [450 on GPU].")
    parser.add_argument(
        "--box", action="append", default=[], metavar="STAGE=SECONDS", help="Time limit of one stage (repeatable)."
    )
    parser.add_argument("--rounds", type=int, help="Most eval rounds [5].")
    parser.add_argument("--keep-checkpoints", action="store_true", help="Keep the training runs' final/ folders.")
    parser.add_argument(
        "--step-checkpoints",
        action="store_true",
        help="Let the trainer write its resumable checkpoint-N (7B: ~50 GB more disk) [skipped].",
    )
    parser.add_argument(
        "--exact-shape", action="store_true", help="Never fall back from 7b to 3b when the work dir lacks disk space."
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_stage"]:
        from gpu_check_stages import run_stage

        return run_stage(argv[1], argv[2])
    args = parse_args(argv)
    mode = "cpu-smoke" if args.cpu_smoke else "gpu"
    settings = {k: v for k, v in MODES[mode].items()}
    settings["box"] = dict(settings["box"])
    for item in args.box:
        stage, _, seconds = item.partition("=")
        if stage not in ORDER or not seconds:
            raise SystemExit(f"--box {item!r}: write STAGE=SECONDS with STAGE one of {', '.join(ORDER)}.")
        settings["box"][stage] = float(seconds)
    settings["step_checkpoints"] = args.step_checkpoints
    settings["exact_shape"] = args.exact_shape
    for key in ("shape", "budget", "rounds"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    selected = [s.strip() for s in (args.stages or ",".join(ORDER)).split(",") if s.strip()]
    unknown = sorted(set(selected) - set(ORDER))
    if unknown:
        raise SystemExit(f"--stages: unknown {unknown}; choose from {', '.join(ORDER)}.")

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-check-"))
    work.mkdir(parents=True, exist_ok=True)
    log = out / "gpu_check.log"
    log.write_text("", encoding="utf-8")
    env = {**os.environ, **OFFLINE_ENV, "RFT_HARNESS_CACHE": str(work / "cache")}
    if mode == "cpu-smoke":
        env["OMP_NUM_THREADS"] = "1"  # a tiny model: more threads only spin against each other on shared cores
    started = time.time()
    report: dict[str, Any] = {
        "schema": 1,
        "mode": mode,
        "started_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", "benchmarks/gpu_check.py", *argv]),
        "machine": machine(work),
        "versions": versions(),
        "settings": {k: v for k, v in settings.items() if k not in ("least",)},
        "stages": {},
    }
    print(
        f"GPU check ({mode}, shape {settings['shape']}), budget {settings['budget']:.0f} s, work dir {work}", flush=True
    )
    deadline = started + settings["budget"]
    for i, stage in enumerate(ORDER):
        if stage not in selected:
            continue
        need = NEEDS.get(stage)
        if need and need in selected and report["stages"].get(need, {}).get("status") != "ok":
            result = {"status": "skipped", "error": f"needs the {need} stage, which did not succeed"}
        else:
            later = sum(settings["least"][s] for s in ORDER[i + 1 :] if s in selected)
            left = deadline - time.time() - later
            timeout = min(settings["box"][stage], left)
            if left < settings["least"][stage]:
                result = {"status": "skipped", "error": f"no time left in the {settings['budget']:.0f} s budget"}
            else:
                print(f"[{stage}] running (time limit {timeout:.0f} s)...", flush=True)
                spec = stage_spec(stage, settings, work, timeout)
                result = run_child(stage, spec, timeout, env, log)
        report["stages"][stage] = result
        print(
            f"[{stage}] {result['status']} in {result.get('seconds', 0):.0f} s"
            + (f": {result['error']}" if result.get("error") else ""),
            flush=True,
        )
        if stage in ("stock", "sft") and not args.keep_checkpoints:
            run = "run-grpo" if stage == "stock" else "run-sft"
            shutil.rmtree(work / run / "final", ignore_errors=True)
        report["wall_s"] = round(time.time() - started, 1)
        write_report(out, report)
    report["wall_s"] = round(time.time() - started, 1)
    report["finished_at"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = write_report(out, report)
    print("\n" + text, flush=True)
    return 0 if all(r["status"] == "ok" for r in report["stages"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
