"""The ``lm-eval`` engine: the same prompts through lm-evaluation-harness, as an independent check.

``harness eval --engine lm-eval`` renders each prompt with the checkpoint's
own chat template (plus the template's prefill), writes the prompts and their
images to a parquet file, generates an lm-eval ``generate_until`` task config
for it on the fly, and runs it with lm-eval's ``hf-multimodal`` model
(``HFMultimodalLM``) through ``lm_eval.simple_evaluate``. lm-eval does its own
batching, tokenization, image processing and generation; its completions come
back into the harness's scoring, so the report has the same shape as with
``--engine hf``. The prompt text and images are made by the same functions
the ``hf`` engine uses (:func:`harness.models.inputs.render_prompt`,
:func:`harness.models.inputs.prompt_images`), so the two engines are
handed identical inputs. Only the generated task directory is indexed
(``TaskManager(include_defaults=False)``), which saves lm-eval's ~7 s scan of
its built-in tasks.

Differences worth knowing: lm-eval returns text only, so ``num_tokens`` is the
completion re-tokenized (without the end-of-sequence token); prompts run in
chunks of ``8 x batch_size`` so that an interrupted run keeps the finished
chunks.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness.models.inputs import prompt_images, render_prompt

CHUNK_BATCHES = 8


@dataclass
class LmEvalHandle:
    """What :meth:`LmEvalEngine.load` returns: the checkpoint and, once built, lm-eval's model."""

    path: str
    options: dict[str, Any]
    lm: Any = None
    chunks: int = 0  # generated tasks so far; each gets a fresh name


def _task_yaml(name: str, data_file: Path, settings: Mapping[str, Any]) -> dict[str, Any]:
    gen: dict[str, Any] = {"until": [], "max_gen_toks": int(settings["max_new_tokens"])}
    if settings.get("do_sample"):
        gen |= {"do_sample": True, "temperature": float(settings["temperature"]), "top_p": float(settings["top_p"])}
    else:
        gen |= {"do_sample": False, "temperature": 0.0}
    return {
        "task": name,
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {"test": str(data_file)}, "cache_dir": str(data_file.parent / "cache")},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "context",
        "doc_to_image": "images",
        "doc_to_target": "target",
        "generation_kwargs": gen,
        "metric_list": [{"metric": "bypass", "aggregation": "bypass", "higher_is_better": True}],
        "metadata": {"version": 1.0},
    }


def _lm_class() -> type:
    """lm-eval's ``HFMultimodalLM`` with the processor loaded by :func:`harness.models.loading.load_processor`.

    The stock Qwen-VL processors also build a video processor, which needs
    torchvision; the harness's image-only loader avoids that. Tokenization,
    batching, image handling and generation stay lm-eval's own.
    """
    from lm_eval.models.hf_vlms import HFMultimodalLM

    class HarnessProcessorLM(HFMultimodalLM):
        def _create_tokenizer(self, pretrained, tokenizer, revision="main", trust_remote_code=False, **kwargs):
            from harness.models.loading import load_processor

            path = pretrained if isinstance(pretrained, str) else self.model.name_or_path
            self.processor = load_processor(path, trust_remote_code=bool(trust_remote_code))
            self.tokenizer = self.processor.tokenizer

        def generate_until(self, requests, disable_tqdm: bool = False):
            # The harness shows its own progress bar over all prompts.
            return super().generate_until(requests, disable_tqdm=True)

    return HarnessProcessorLM


class LmEvalEngine:
    """lm-evaluation-harness's hf-multimodal model on task configs generated per run (cross-check)."""

    name = "lm-eval"
    description = "lm-evaluation-harness hf-multimodal on generated task configs (independent cross-check of hf)."

    def check_options(self, options: Mapping[str, Any]) -> None:
        """This engine takes no engine options (they are vLLM's); refuse any."""
        if options:
            raise harness.ConfigError(
                f"engine {self.name!r} takes no engine options (got {', '.join(sorted(options))}); "
                "engine_options are for --engine vllm."
            )

    def unavailable_reason(self) -> str | None:
        if importlib.util.find_spec("lm_eval") is None:
            return "lm-evaluation-harness is not installed; install it with `pip install 'rft-harness[eval]'`."
        return None

    def load(self, model_path: str, **options: Any) -> LmEvalHandle:
        """Remember the checkpoint; lm-eval's model is built on the first :meth:`generate` (it needs the batch size)."""
        if not Path(model_path, "config.json").is_file():
            raise harness.ConfigError(f"{model_path} is not a Hugging Face checkpoint directory (no config.json).")
        return LmEvalHandle(model_path, dict(options))

    def _model(self, handle: LmEvalHandle, batch_size: int) -> Any:
        if handle.lm is None:
            from harness.models.loading import pick_device, pick_dtype

            device = pick_device(handle.options.get("device") or "auto")
            dtype = pick_dtype(handle.options.get("dtype") or "auto", device)
            handle.lm = _lm_class()(
                pretrained=handle.path,
                dtype=dtype,
                device=device,
                batch_size=batch_size,
                trust_remote_code=bool(handle.options.get("trust_remote_code", False)),
                max_length=1_000_000,  # never left-truncate a prompt (it would cut image tokens)
            )
        handle.lm.batch_size_per_gpu = int(batch_size)
        return handle.lm

    def generate(
        self, model: LmEvalHandle, prompts: Sequence[Any], settings: Mapping[str, Any]
    ) -> Iterator[tuple[int, harness.Generation]]:
        lm = self._model(model, int(settings["batch_size"]))
        chunk = max(1, CHUNK_BATCHES * int(settings["batch_size"]))
        for start in range(0, len(prompts), chunk):
            indices = list(range(start, min(start + chunk, len(prompts))))
            texts = self._run_chunk(model, lm, [prompts[i] for i in indices], settings, start)
            for i, text in zip(indices, texts):
                n = len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])
                yield i, harness.Generation(text, n)

    def _run_chunk(self, handle, lm, prompts, settings, start: int) -> list[str]:
        import datasets
        import yaml

        handle.chunks += 1
        name = f"harness_chunk_{handle.chunks}"
        chunk_dir = Path(tempfile.mkdtemp(prefix="harness-lm-eval-"))
        rows = {
            "idx": list(range(len(prompts))),
            "context": [render_prompt(lm.processor, p, settings.get("prefill", "")) for p in prompts],
            "images": [prompt_images(p, start + i) for i, p in enumerate(prompts)],
            "target": [""] * len(prompts),
        }
        features = datasets.Features(
            {
                "idx": datasets.Value("int64"),
                "context": datasets.Value("string"),
                "images": datasets.List(datasets.Image()),
                "target": datasets.Value("string"),
            }
        )
        data_file = chunk_dir / "prompts.parquet"
        bars = datasets.utils.logging.is_progress_bar_enabled()
        datasets.utils.logging.disable_progress_bar()
        try:
            datasets.Dataset.from_dict(rows, features=features).to_parquet(str(data_file))
            (chunk_dir / f"{name}.yaml").write_text(yaml.safe_dump(_task_yaml(name, data_file, settings)))
            out = self._evaluate(lm, name, chunk_dir, int(settings.get("seed", 0)))
        finally:
            if bars:
                datasets.utils.logging.enable_progress_bar()
            shutil.rmtree(chunk_dir, ignore_errors=True)  # prompts and images: only needed for this call
        texts: list[str | None] = [None] * len(prompts)
        for sample in out["samples"][name]:
            texts[int(sample["doc"]["idx"])] = sample["resps"][0][0]
        missing = [i for i, t in enumerate(texts) if t is None]
        if missing:
            raise harness.HarnessError(f"lm-eval returned no completion for prompts {missing[:5]} of chunk {start}.")
        return texts  # type: ignore[return-value]

    def _evaluate(self, lm: Any, name: str, chunk_dir: Path, seed: int) -> Any:
        from lm_eval import simple_evaluate
        from lm_eval.tasks import TaskManager

        logger = logging.getLogger("lm_eval")
        level = logger.level
        logger.setLevel(logging.ERROR)  # its per-task INFO/WARNING lines would drown the progress bar
        try:
            return simple_evaluate(
                model=lm,
                tasks=[name],
                task_manager=TaskManager(include_defaults=False, include_path=str(chunk_dir)),
                log_samples=True,
                bootstrap_iters=0,
                random_seed=seed,
                numpy_random_seed=seed,
                torch_random_seed=seed,
                fewshot_random_seed=seed,
            )
        finally:
            logger.setLevel(level)
