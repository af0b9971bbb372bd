"""Loading local VLM checkpoints (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) and the cached tiny model.

- :func:`load_model` loads a local checkpoint directory (never a hub id, never a
  download) with ``AutoModelForImageTextToText`` and the image-only processor
  below, on CUDA in bfloat16 when there is a GPU, else on CPU in float32.
- :func:`load_processor` builds the processor of a checkpoint.

The tiny random-weight test model and its cache live in :mod:`harness.models.tiny`.

Why an image-only processor: the stock Qwen-VL processors also load a video
processor, and transformers' video processors need ``torchvision``, which the
harness does not install (and which must match the torch build exactly). The
harness never feeds videos, so :func:`processor_class_for` derives, in
process, a subclass of the stock processor whose constructor has no
``video_processor``: everything else (image processing, image-token
expansion, chat template, saving) is the stock code. The subclass keeps the
stock class name, so checkpoints saved from it name the stock class and still
load with plain ``AutoProcessor`` wherever torchvision is installed.

Standard checkpoints: stock ``AutoProcessor`` (what OpenRLHF and vLLM call)
always builds a Qwen-VL processor's video processor too, and fails with
"Can't load video processor" on a directory without a video processor config.
So the subclass's ``save_pretrained`` also writes one
(:func:`complete_processor_files`: the image processor's settings under the
stock video processor class, as Qwen2.5-VL's own release reads them from
``preprocessor_config.json``), in every place a loader looks for it.
:func:`check_checkpoint` refuses, naming the file and the fix, a directory
stock loaders cannot read.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

# model_type (config.json) -> the stock transformers processor class.
STOCK_PROCESSORS: dict[str, str] = {
    "qwen2_vl": "Qwen2VLProcessor",
    "qwen2_5_vl": "Qwen2_5_VLProcessor",
    "qwen3_vl": "Qwen3VLProcessor",
    "qwen3_vl_moe": "Qwen3VLProcessor",
}
# model_type -> the stock video processor class its processor builds (transformers'
# VIDEO_PROCESSOR_MAPPING_NAMES: Qwen2-VL and Qwen2.5-VL share Qwen2-VL's).
STOCK_VIDEO_PROCESSORS: dict[str, str] = {
    "qwen2_vl": "Qwen2VLVideoProcessor",
    "qwen2_5_vl": "Qwen2VLVideoProcessor",
    "qwen3_vl": "Qwen3VLVideoProcessor",
    "qwen3_vl_moe": "Qwen3VLVideoProcessor",
}

# File names transformers reads (transformers.utils: PROCESSOR_NAME, IMAGE_PROCESSOR_NAME,
# VIDEO_PROCESSOR_NAME, CHAT_TEMPLATE_FILE, LEGACY_PROCESSOR_CHAT_TEMPLATE_FILE).
PROCESSOR_CONFIG = "processor_config.json"  # v5: {"image_processor": {...}, "video_processor": {...}}
IMAGE_PROCESSOR_CONFIG = "preprocessor_config.json"  # flat image processor (and the video fallback)
VIDEO_PROCESSOR_CONFIG = "video_preprocessor_config.json"  # flat video processor
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass
class LoadedModel:
    """A model ready for generation: the module, its processor, where it came from, where it runs."""

    model: Any
    processor: Any
    path: Path
    device: str

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)


@functools.cache
def processor_class_for(model_type: str) -> type:
    """The image-only subclass of the stock processor for ``model_type`` (see the module docstring)."""
    import importlib

    if model_type not in STOCK_PROCESSORS:
        raise ConfigError(
            f"No processor known for model_type {model_type!r}; supported: {', '.join(sorted(STOCK_PROCESSORS))}."
        )
    class_name = STOCK_PROCESSORS[model_type]
    home = model_type.removesuffix("_moe")  # qwen3_vl_moe uses qwen3_vl's processor
    stock = getattr(importlib.import_module(f"transformers.models.{home}.processing_{home}"), class_name)

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        stock.__init__(self, image_processor, tokenizer, None, chat_template=chat_template, **kwargs)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # Stock AutoProcessor also needs the video processor config this class does not hold.
        files = stock.save_pretrained(self, save_directory, *args, **kwargs)
        return [*files, *complete_processor_files(save_directory, model_type)]

    # Same class name as the stock one: save_pretrained records it as processor_class,
    # so checkpoints saved from this processor name the stock class and load anywhere.
    return type(
        class_name,
        (stock,),
        {
            "__init__": __init__,
            "save_pretrained": save_pretrained,
            "__module__": __name__,
            "__qualname__": class_name,
            "__doc__": f"{class_name} without the video processor (no torchvision needed).",
        },
    )


def register_image_only_processors() -> None:
    """Make plain ``AutoProcessor.from_pretrained`` work for Qwen-VL checkpoints without torchvision.

    Only when torchvision is missing: the stock processor names that
    ``AutoProcessor`` resolves from a checkpoint's ``processor_class`` are
    pointed, in this process only, at the image-only subclasses. For code that
    calls ``AutoProcessor`` itself (lm-eval, TRL); the harness uses
    :func:`load_processor`. Idempotent.
    """
    import importlib

    from transformers.utils import is_torchvision_available

    if is_torchvision_available():
        return
    from transformers import AutoProcessor
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    for model_type, class_name in STOCK_PROCESSORS.items():
        cls = processor_class_for(model_type)
        # AutoProcessor resolves a processor_class name via getattr on these packages.
        setattr(importlib.import_module(f"transformers.models.{model_type}"), class_name, cls)
        AutoProcessor.register(CONFIG_MAPPING[model_type], cls, exist_ok=True)


def _model_type(path: Path) -> str:
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ConfigError(
            f"{path} has no config.json, so it is not a Hugging Face checkpoint directory. Pass the "
            f"directory that holds config.json, the weights and the processor files (or build a test "
            f"model with `harness model tiny --out DIR`)."
        )
    return str(_json(config_file).get("model_type", ""))


def check_model_dir(path: str | Path) -> Path:
    """``path`` resolved, or a :class:`ConfigError` saying it is missing or not a directory."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(
            f"Model path {str(path)!r} does not exist. --model takes a local checkpoint directory or a "
            f"Hugging Face Hub id ORG/NAME[@REVISION]; build a test model with `harness model tiny --out DIR`."
        )
    if not p.is_dir():
        raise ConfigError(f"Model path {str(path)!r} is a file; pass the checkpoint directory that holds it.")
    return p.resolve()


PROCESSOR_FILES = (IMAGE_PROCESSOR_CONFIG, PROCESSOR_CONFIG)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


def _json(path: Path) -> dict[str, Any]:
    """A JSON object file's content, ``{}`` when it is missing; a ConfigError when it is not valid."""
    from harness.runs.structured import read_json_file

    if not path.is_file():
        return {}
    return read_json_file(path, "checkpoint file", error=ConfigError, want=dict)


def image_processor_config(path: str | Path) -> dict[str, Any]:
    """The image processor settings of checkpoint ``path`` where transformers 5 looks first, or ``{}``."""
    root = Path(path)
    nested = _json(root / PROCESSOR_CONFIG).get("image_processor")
    return dict(nested) if isinstance(nested, dict) else _json(root / IMAGE_PROCESSOR_CONFIG)


def has_video_processor_config(path: str | Path) -> bool:
    """Whether stock ``AutoVideoProcessor`` finds a config in ``path``: nested, flat, or the image fallback."""
    root = Path(path)
    return (
        isinstance(_json(root / PROCESSOR_CONFIG).get("video_processor"), dict)
        or (root / VIDEO_PROCESSOR_CONFIG).is_file()
        or (root / IMAGE_PROCESSOR_CONFIG).is_file()
    )


def complete_processor_files(path: str | Path, model_type: str | None = None) -> list[str]:
    """Add the processor configs stock loaders look for and ``path`` lacks; returns the files written.

    For the Qwen-VL families: the video processor config (the image processor's
    settings under the stock video processor class, which is what Qwen2.5-VL's
    release gives its video processor through ``preprocessor_config.json``),
    nested in ``processor_config.json`` (transformers 5) and as
    ``video_preprocessor_config.json``, and the flat ``preprocessor_config.json``
    that older loaders read. Files already there are kept. JSON only: nothing
    is imported or loaded. Idempotent.
    """
    from harness.runs.rundir import write_json

    root = Path(path)
    model_type = model_type or _model_type(root)
    video_class = STOCK_VIDEO_PROCESSORS.get(model_type)
    image = image_processor_config(root)
    if video_class is None or not image:
        return []
    processor = _json(root / PROCESSOR_CONFIG)
    processor_class = processor.get("processor_class") or STOCK_PROCESSORS[model_type]
    video = {k: v for k, v in image.items() if k not in ("image_processor_type", "processor_class")}
    video["video_processor_type"] = video_class
    written = []
    if processor and not isinstance(processor.get("video_processor"), dict):
        write_json(root / PROCESSOR_CONFIG, {**processor, "video_processor": video})
        written.append(PROCESSOR_CONFIG)
    for name, content in ((IMAGE_PROCESSOR_CONFIG, image), (VIDEO_PROCESSOR_CONFIG, video)):
        if not (root / name).is_file():
            write_json(root / name, {**content, "processor_class": processor_class})
            written.append(name)
    return written


def _missing_weights(root: Path) -> str | None:
    """``None`` when ``root`` holds complete weights, else what is missing."""
    for index_name in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        index = root / index_name
        if index.is_file():
            shards = _json(index).get("weight_map")
            if not isinstance(shards, dict):
                return f"a readable {index_name} (no weight_map)"
            lacking = sorted({s for s in shards.values() if not (root / s).is_file()})
            return f"the weight shards {', '.join(lacking)} named by {index_name}" if lacking else None
    if any(root.glob("*.safetensors")) or (root / "pytorch_model.bin").is_file():
        return None
    return "model weights (*.safetensors)"


def checkpoint_gaps(path: str | Path) -> list[tuple[str, str]]:
    """``(what is missing, the fix)`` for each file stock loaders need and checkpoint ``path`` lacks.

    Stock loaders: transformers' ``AutoConfig``, ``AutoTokenizer``,
    ``AutoProcessor`` (image *and*, for Qwen-VL, video processor) and
    ``AutoModelForImageTextToText``, which vLLM and OpenRLHF call; plus the chat
    template the harness renders prompts with. Reads file names and JSON only.
    """
    root = Path(path)
    if not (root / "config.json").is_file():
        return [("config.json", "this is not a Hugging Face checkpoint directory: pass the directory that holds it")]
    config = _json(root / "config.json")
    from_base = "copy it from the checkpoint this one was trained from"
    gaps = []
    weights = _missing_weights(root)
    if weights:
        gaps.append((weights, "copy the complete checkpoint"))
    if not (
        (root / "tokenizer.json").is_file()
        or (root / "tokenizer.model").is_file()
        or ((root / "vocab.json").is_file() and (root / "merges.txt").is_file())
    ):
        gaps.append(
            (
                "tokenizer files (tokenizer.json, or vocab.json + merges.txt)",
                f"save them with processor.save_pretrained(DIR), or {from_base}",
            )
        )
    if not (
        any((root / f).is_file() for f in CHAT_TEMPLATE_FILES)
        or _json(root / "tokenizer_config.json").get("chat_template")
    ):
        gaps.append((f"a chat template ({' or '.join(CHAT_TEMPLATE_FILES)})", from_base))
    if not image_processor_config(root):
        gaps.append(
            (
                f'an image processor config ({PROCESSOR_CONFIG} with "image_processor", or {IMAGE_PROCESSOR_CONFIG})',
                f"save it with processor.save_pretrained(DIR), or {from_base}",
            )
        )
    elif config.get("model_type") in STOCK_VIDEO_PROCESSORS and not has_video_processor_config(root):
        gaps.append(
            (
                f"a video processor config ({VIDEO_PROCESSOR_CONFIG}), without which stock AutoProcessor, "
                'OpenRLHF and vLLM fail with "Can\'t load video processor"',
                f"write it with `harness model complete {root}`",
            )
        )
    return gaps


def missing_checkpoint_files(path: str | Path) -> list[str]:
    """What stock loaders need and checkpoint ``path`` lacks (:func:`checkpoint_gaps` without the fixes)."""
    return [what for what, _ in checkpoint_gaps(path)]


def check_checkpoint(path: str | Path, field: str = "model") -> Path:
    """A local VLM checkpoint that stock loaders can read, without loading it, or a ConfigError.

    The training backends call this in ``check()`` and ``harness eval`` before
    loading, so a directory that OpenRLHF, vLLM or transformers could not read
    fails in a second, naming each missing file and its fix, before anything
    is loaded, exported or submitted.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ConfigError(
            f"field {field!r}: {path} is not a directory (no such directory). Pass a local "
            "Hugging Face checkpoint directory, or a Hub id ORG/NAME[@REVISION] where the command resolves one."
        )
    gaps = checkpoint_gaps(root)
    if gaps:
        raise ConfigError(
            f"field {field!r}: the checkpoint {path} cannot be read by stock loaders; it lacks "
            + "; ".join(f"{what} (fix: {fix})" for what, fix in gaps)
            + "."
        )
    return root


def load_processor(path: str | Path, trust_remote_code: bool = False) -> Any:
    """The processor saved in checkpoint ``path`` (image-only for the Qwen-VL families)."""
    p = check_model_dir(path)
    model_type = _model_type(p)
    if not any((p / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "vocab.json")):
        raise ConfigError(
            f"{p} has no tokenizer/processor files (tokenizer.json, preprocessor_config.json). "
            f"Save the processor next to the model (processor.save_pretrained(dir)) or copy those "
            f"files from the base checkpoint."
        )
    if model_type in STOCK_PROCESSORS:
        cls: Any = processor_class_for(model_type)
        return cls.from_pretrained(str(p), local_files_only=True)
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(str(p), local_files_only=True, trust_remote_code=trust_remote_code)


def vision_tower(model: Any) -> Any | None:
    """The vision encoder of a loaded Qwen-VL-style model (``model.model.visual`` or ``model.visual``:
    patch embedding, blocks, merger), or ``None`` for a model without one."""
    return getattr(getattr(model, "model", model), "visual", None) or getattr(model, "visual", None)


def check_device(device: str, field: str = "device") -> str:
    """``device`` if torch can run on it here (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``...), else a
    :class:`ConfigError` naming ``field`` and what this machine has.

    Checked before anything loads, so ``--device cuda`` on a CPU machine is one
    line, not a traceback from ``model.to``.
    """
    if device == "auto":
        return device
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise ConfigError(f"{field} {device!r} is not a device ({exc}); use auto, cpu, cuda or cuda:N.") from None
    if parsed.type == "cpu":
        return device
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ConfigError(
                f"{field} {device!r}: CUDA is not available on this machine (torch {torch.__version__} sees "
                "no GPU); use auto or cpu."
            )
        if parsed.index is not None and parsed.index >= count:
            raise ConfigError(
                f"{field} {device!r}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}."
            )
        return device
    device_module = getattr(torch, parsed.type, None) or getattr(torch.backends, parsed.type, None)
    available = getattr(device_module, "is_available", None)
    if not callable(available) or not available():
        raise ConfigError(f"{field} {device!r}: no {parsed.type} device is available here; use auto, cpu or cuda.")
    return device


def pick_device(device: str = "auto") -> str:
    """``"cuda"`` when a GPU is visible and ``device`` is ``"auto"``, else ``"cpu"`` (or ``device`` itself,
    checked by :func:`check_device`)."""
    if device != "auto":
        return check_device(device)
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(dtype: str | Any = "auto", device: str = "cpu") -> Any:
    """``"auto"``: bfloat16 on a GPU that supports it, float32 otherwise; or the named torch dtype."""
    import torch

    if not isinstance(dtype, str):
        return dtype
    if dtype == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise ConfigError(f"Unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32.")
    return resolved


def load_model(
    path: str | Path,
    dtype: str | Any = "auto",
    device: str = "auto",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """Load a local VLM checkpoint for inference (eval mode, no gradients).

    :param path: a local checkpoint directory with ``config.json``, weights and
        processor files (Hub ids are resolved to one by the callers,
        :func:`harness.hub.resolve_model`); this function never downloads.
    :param dtype: ``"auto"`` (bfloat16 on CUDA, float32 on CPU) or a torch dtype name.
    :param device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    :param trust_remote_code: run the checkpoint's own Python code; only when you trust it.
    :raises ConfigError: missing path, not a checkpoint, no processor files.
    """
    from transformers import AutoModelForImageTextToText

    p = check_model_dir(path)
    processor = load_processor(p, trust_remote_code=trust_remote_code)
    dev = pick_device(device)
    torch_dtype = pick_dtype(dtype, dev)
    try:
        model: Any = AutoModelForImageTextToText.from_pretrained(
            str(p), dtype=torch_dtype, local_files_only=True, trust_remote_code=trust_remote_code
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Could not load the model weights from {p}: {exc}. Check that the directory holds the "
            f"complete checkpoint (model*.safetensors) of an image-text-to-text model."
        ) from exc
    model.to(dev)
    model.eval()
    return LoadedModel(model=model, processor=processor, path=p, device=dev)
