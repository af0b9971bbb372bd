"""benchmarks/gpu_check.py: its CPU smoke run, the model shapes it builds, its tokenizer padding.

The GPU run itself needs a GPU; ``--cpu-smoke`` runs the same stages, processes
and report code on CPU with a tiny model of the same architecture, so the
script cannot rot between GPU runs.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"

import qwen_vl_shapes  # noqa: E402  (benchmarks/ is not a package)

STAGES = ["build", "eval", "grpo", "stock", "sft"]


def run_check(out: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BENCH / "gpu_check.py"), "--cpu-smoke", "--out", str(out), "--work", str(work), *extra],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    base = tmp_path_factory.mktemp("gpu-check")
    done = run_check(base / "out", base / "work")
    report = json.loads((base / "out" / "gpu_check.json").read_text())
    return done, report, base


@pytest.mark.slow
def test_cpu_smoke_runs_every_stage_in_order_and_writes_the_report(smoke):
    done, report, base = smoke
    assert report["mode"] == "cpu-smoke"
    assert list(report["stages"]) == STAGES
    for name in ("build", "eval", "grpo", "sft"):
        assert report["stages"][name]["status"] == "ok", (name, report["stages"][name])
    assert isinstance(report["machine"]["gpus"], list) and report["machine"]["cpus"] >= 1
    assert report["versions"]["rft-harness"] == "0.1.0"
    assert done.returncode == (0 if all(s["status"] == "ok" for s in report["stages"].values()) else 1)
    table = (base / "out" / "gpu_check.md").read_text()
    assert "| stage | status | seconds | figures | peak GPU memory |" in table
    for name in STAGES:
        assert f"| {name} | {report['stages'][name]['status']} |" in table
    assert table in done.stdout  # the table is printed last
    log = (base / "out" / "gpu_check.log").read_text()
    assert all(f"===== {name} (" in log for name in STAGES)
    # The training runs' final/ checkpoints are deleted once used; their metrics stay.
    assert not (base / "work" / "run-grpo" / "final").exists()
    assert not (base / "work" / "run-sft" / "final").exists()
    assert (base / "work" / "run-grpo" / "metrics.jsonl").is_file()


@pytest.mark.slow
def test_cpu_smoke_build_writes_the_padded_smoke_shape(smoke):
    from harness.models.tiny import build_tokenizer

    build = smoke[1]["stages"]["build"]
    assert build["shape"] == "smoke"
    assert build["parameters"] == qwen_vl_shapes.parameter_count("smoke")
    assert build["vocab_size"] == 2048
    assert build["tokenizer_padded_by"] == 2048 - len(build_tokenizer(1024))
    assert build["peak_gpu_bytes"] is None  # no GPU: no CUDA allocator figures


@pytest.mark.slow
def test_cpu_smoke_eval_compares_harness_and_bare_loop_on_the_same_prompts(smoke):
    ev = smoke[1]["stages"]["eval"]
    assert (ev["prompts"], ev["per_task"], ev["batch_size"], ev["max_new_tokens"]) == (12, 4, 4, 8)
    assert ev["tasks"] == ["banner", "fgvc", "sat"]
    assert [r["order"] for r in ev["rounds"]] == [["harness", "bare"], ["bare", "harness"]]
    for r in ev["rounds"]:
        # Greedy, same model, same batches, float32: the same completions, token for token.
        assert r["identical_completions"] == 12
        assert r["harness"]["tokens"] == r["bare"]["tokens"]
        # The bare loop builds the synthetic twins; the harness must have evaluated those too.
        assert r["harness"]["data"] == {"banner": "synthetic", "fgvc": "synthetic", "sat": "synthetic"}
        assert 0 < r["bare"]["tokens"] <= 12 * 8
        for side in ("harness", "bare"):
            assert math.isclose(r[side]["tokens_per_s"], r[side]["tokens"] / r[side]["seconds"])
            assert r[side]["peak_gpu_bytes"] is None
        assert math.isclose(r["ratio"], r["harness"]["tokens_per_s"] / r["bare"]["tokens_per_s"])
    ratios = sorted(r["ratio"] for r in ev["rounds"])
    assert ev["ratio"] == {"median": sum(ratios) / 2, "min": ratios[0], "max": ratios[1], "n": 2}
    assert ev["goal_ratio"] == 0.95 and ev["goal_met"] == (ev["ratio"]["median"] >= 0.95)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["grpo", "sft"])
def test_cpu_smoke_training_reports_steps_and_finite_metrics(smoke, method):
    run = smoke[1]["stages"][method]
    assert run["exit_code"] == 0 and run["steps"] == 2
    assert run["all_finite"] is True and run["non_finite"] == []
    assert len(run["losses"]) == 2 and all(math.isfinite(v) for v in run["losses"])
    assert run["s_per_step"]["n"] == 1 and run["s_per_step"]["median"] == run["step_times_s"][1]
    assert run["final_saved"] is True
    # The trainer's end-of-run resumable checkpoint is skipped (disk); final/ is the harness's own save.
    assert run["step_checkpoints_skipped"] == 1
    assert not (smoke[2] / "work" / f"run-{method}" / "checkpoint-2").exists()
    assert "--backend trl" in run["command"] and f"--method {method}" in run["command"]
    assert "trl.gradient_checkpointing=true" in run["command"]
    if method == "grpo":
        assert "--num-generations 8" in run["command"]
        assert set(run["watched"]) == {
            "loss",
            "grad_norm",
            "reward",
            "rewards/accuracy/mean",
            "rewards/format/mean",
            "rewards/length_norm/mean",
        }
        assert all(0.0 < r < 0.5 for r in run["rewards"])  # only length_norm pays a random model: (0, 1) x 0.5
        assert all(0 < n <= 16 for n in run["mean_completion_tokens"])


@pytest.mark.slow
def test_cpu_smoke_stock_loading_never_imports_harness(smoke):
    stock = smoke[1]["stages"]["stock"]
    assert stock["harness_imported"] is False
    assert set(stock["checkpoints"]) == {"tiny", "trl_final"}
    for name, c in stock["checkpoints"].items():
        assert c["model_ok"] is True, (name, c)
        assert c["model_class"] == "Qwen2_5_VLForConditionalGeneration"
        assert c["dtype"] == "float32"
        if stock["torchvision_available"]:
            assert c["processor_ok"] is True, (name, c)
        elif not c["processor_ok"]:
            assert c["processor_error"] and name in stock["error"]
    assert stock["status"] == ("ok" if all(c["processor_ok"] for c in stock["checkpoints"].values()) else "failed")


def test_stock_load_source_never_imports_harness():
    import ast

    tree = ast.parse((BENCH / "stock_load.py").read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "harness" not in imported
    assert {"transformers", "torch"} <= imported


@pytest.mark.slow
def test_a_stage_out_of_time_is_recorded_and_what_needs_it_is_skipped(tmp_path):
    done = run_check(tmp_path / "out", tmp_path / "work", "--stages", "build,eval", "--box", "build=1")
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert done.returncode == 1
    build, ev = report["stages"]["build"], report["stages"]["eval"]
    assert build["status"] == "timeout" and build["error"] == "stopped at its time limit of 1 s"
    assert build["time_limit_s"] == 1.0 and "log_tail" in build
    assert ev == {"status": "skipped", "error": "needs the build stage, which did not succeed"}
    assert "| eval | skipped |" in (tmp_path / "out" / "gpu_check.md").read_text()


def test_bad_stage_names_are_refused_in_one_line(tmp_path):
    done = run_check(tmp_path / "out", tmp_path / "work", "--stages", "build,evil")
    assert done.returncode != 0
    assert "--stages: unknown ['evil']; choose from build, eval, grpo, stock, sft." in done.stderr
    assert "Traceback" not in done.stderr


def test_public_shapes_have_the_published_sizes():
    """8.29 B (7B) and 3.75 B (3B) parameters, as the model cards say; counted on the meta device."""
    assert round(qwen_vl_shapes.parameter_count("7b") / 1e9, 2) == 8.29
    assert round(qwen_vl_shapes.parameter_count("3b") / 1e9, 2) == 3.75
    assert qwen_vl_shapes.PUBLISHED_PARAMETERS == {
        "7b": qwen_vl_shapes.parameter_count("7b"),
        "3b": qwen_vl_shapes.parameter_count("3b"),
    }


def test_7b_shape_matches_the_published_module_shapes():
    import torch
    from transformers import AutoModelForImageTextToText

    ids = {"bos": 0, "eos": 2, "pad": 0, "image": 5, "video": 6, "vision_start": 3, "vision_end": 4}
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(qwen_vl_shapes.build_config("7b", ids))
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    # From the module print of Qwen2.5-VL-7B-Instruct (Linear(in, out) has weight shape (out, in)).
    assert shapes["model.language_model.embed_tokens.weight"] == (152064, 3584)
    assert shapes["lm_head.weight"] == (152064, 3584)
    assert shapes["model.language_model.layers.27.self_attn.k_proj.weight"] == (512, 3584)
    assert shapes["model.language_model.layers.27.mlp.gate_proj.weight"] == (18944, 3584)
    assert "model.language_model.layers.28.mlp.gate_proj.weight" not in shapes
    assert shapes["model.visual.blocks.31.mlp.gate_proj.weight"] == (3420, 1280)
    assert shapes["model.visual.merger.mlp.2.weight"] == (3584, 5120)
    assert shapes["model.visual.patch_embed.proj.weight"] == (1280, 3, 2, 14, 14)


def test_padded_tokenizer_decodes_every_id_and_encodes_text_as_before(tmp_path):
    from transformers import AutoTokenizer

    from harness.models.tiny import build_tokenizer

    tok = build_tokenizer(1024)
    tok.save_pretrained(tmp_path)
    added = qwen_vl_shapes.pad_tokenizer_file(tmp_path / "tokenizer.json", 3000)
    padded = AutoTokenizer.from_pretrained(tmp_path)
    assert added == 3000 - len(tok) and len(padded) == 3000
    text = "Is the banner positive? <think>yes</think> <answer>positive</answer> <|extra_2999|>"
    assert padded(text)["input_ids"] == tok(text)["input_ids"]
    assert padded.convert_tokens_to_ids(["<|image_pad|>", "<think>", "</answer>"]) == tok.convert_tokens_to_ids(
        ["<|image_pad|>", "<think>", "</answer>"]
    )
    assert padded.decode([len(tok), 2999]) == f"<|extra_{len(tok)}|><|extra_2999|>"
    with pytest.raises(ValueError, match="more than the model's 10"):
        qwen_vl_shapes.pad_tokenizer_file(tmp_path / "tokenizer.json", 10)
