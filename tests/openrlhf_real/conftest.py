"""OpenRLHF 0.11.2's own code on jobs the harness exported: fixtures.

``openrlhf`` (installed by ``scripts/test.sh`` with ``--no-deps``) is imported
with import stubs for its GPU-only dependencies (``stubs/``: vllm, deepspeed,
flash_attn) on ``sys.path``. The ``orl`` fixture puts them there for one test
module and afterwards removes the stubs and every ``openrlhf`` module from
``sys.modules``, so no other test can import them by accident.

The jobs are exported by the harness CLI itself (``harness run --backend
openrlhf --dry-run``) on the session's tiny Qwen2.5-VL checkpoint.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from _openrlhf_drive import datasets_offline, export_job  # noqa: E402
from _openrlhf_pin import require_openrlhf  # noqa: E402

STUBS = Path(__file__).with_name("stubs")
STUBBED = ("vllm", "deepspeed", "flash_attn")

# The OpenRLHF modules the tests drive (imported in this order).
MODULES = {
    "vlm_utils": "openrlhf.utils.vlm_utils",
    "utils": "openrlhf.utils.utils",
    "agent": "openrlhf.utils.agent",
    "data_utils": "openrlhf.datasets.utils",
    "prompts_dataset": "openrlhf.datasets.prompts_dataset",
    "experience": "openrlhf.trainer.ppo_utils.experience",
    "kl_controller": "openrlhf.trainer.ppo_utils.kl_controller",
    "samples_generator": "openrlhf.trainer.ppo_utils.samples_generator",
    "experience_maker": "openrlhf.trainer.ppo_utils.experience_maker",
    "vllm_engine": "openrlhf.trainer.ray.vllm_engine",
    "ppo_trainer": "openrlhf.trainer.ppo_trainer",
    "train_ppo_ray": "openrlhf.cli.train_ppo_ray",
}


def _ours(name: str) -> bool:
    return name.split(".")[0] in (*STUBBED, "openrlhf")


@pytest.fixture(scope="module")
def orl():
    """The real OpenRLHF modules (``orl.agent``, ``orl.samples_generator``...), GPU-only imports stubbed."""
    require_openrlhf()
    leftovers = sorted(name for name in sys.modules if _ours(name))
    if leftovers:
        pytest.fail(f"imported outside the orl fixture: {leftovers}")
    # Import the real heavy dependencies first, so nothing they cache at import
    # time (transformers' is_deepspeed_available...) is computed with the stubs visible.
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import ray  # noqa: F401
    import transformers  # noqa: F401

    sys.path.insert(0, str(STUBS))
    try:
        yield SimpleNamespace(**{key: importlib.import_module(name) for key, name in MODULES.items()})
    finally:
        sys.path.remove(str(STUBS))
        for name in [n for n in sys.modules if _ours(n)]:
            del sys.modules[name]
        for name in STUBBED:
            spec = importlib.util.find_spec(name)
            assert spec is None or STUBS not in Path(spec.origin).parents, f"stub {name} still importable"


@pytest.fixture(autouse=True)
def _datasets_offline_in_tmp(tmp_path, monkeypatch):
    datasets_offline(monkeypatch, tmp_path)


# -- exported jobs -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def banner_job(tmp_path_factory, tiny_model_dir):
    """banner on the paper preset (one step: 4 prompts x 8 rollouts), think template; images relative
    to the job dir (the Ray working_dir)."""
    return export_job(
        tmp_path_factory.mktemp("orl-banner") / "run",
        tiny_model_dir,
        "--task",
        "banner",
        "--source",
        "synthetic",
        "--template",
        "think",
        "--reward",
        "accuracy:1,format:0.5",
        "--preset",
        "paper",
        "--max-steps",
        "1",
    )


@pytest.fixture(scope="session")
def sat_job(tmp_path_factory, tiny_model_dir):
    """sat (one or two images per prompt) on the smoke preset (8 prompts x 2 rollouts), nothink template,
    on a shared filesystem (absolute paths)."""
    return export_job(
        tmp_path_factory.mktemp("orl-sat") / "run",
        tiny_model_dir,
        "--task",
        "sat",
        "--source",
        "synthetic",
        "--template",
        "nothink",
        "--reward",
        "accuracy:1,format:1",
        "--preset",
        "smoke",
        "--max-steps",
        "1",
        "--max-completion-length",
        "64",
        "--set",
        "openrlhf.shared_filesystem=true",
    )
