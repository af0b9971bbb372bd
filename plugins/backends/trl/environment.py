"""What this machine and the run directory offer a TRL run: processes, devices, vLLM, checkpoints."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

# Keys of <output>/config.json: the content fingerprints (harness.runs.fingerprint) of the model the
# run started from and of its training samples, compared when the run is resumed.
MODEL_CONTENT, DATA_CONTENT = "model_content", "data_content"


def world_size() -> int:
    """Training processes (``WORLD_SIZE`` under torchrun/accelerate, else 1)."""
    try:
        return max(1, int(os.environ.get("WORLD_SIZE", "1")))
    except ValueError:
        return 1


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def vllm_importable() -> bool:
    return importlib.util.find_spec("vllm") is not None


def last_checkpoint(output: str | Path) -> Path | None:
    """The ``checkpoint-N`` directory with the largest N in ``output``, or ``None``."""
    root = Path(output)
    if not root.is_dir():
        return None
    steps = []
    for child in root.iterdir():
        name = child.name
        if child.is_dir() and name.startswith("checkpoint-") and name[11:].isdigit():
            steps.append((int(name[11:]), child))
    return max(steps)[1] if steps else None


def resolve_device(config: Any) -> dict[str, Any]:
    """Device, precision and generation choices for this machine (the ``None`` settings resolved)."""
    s = config.settings()
    cuda = s.device != "cpu" and cuda_available()
    return {
        "use_cpu": not cuda,
        "bf16": (cuda if s.bf16 is None else s.bf16) and cuda,
        "gradient_checkpointing": cuda if s.gradient_checkpointing is None else s.gradient_checkpointing,
        "use_vllm": (cuda and vllm_importable() and config.method == "grpo") if s.use_vllm is None else s.use_vllm,
    }
