"""Driving OpenRLHF 0.11.2's own code on an exported job, with stand-ins only for the GPU side.

What runs is OpenRLHF's: ``train_ppo_ray``'s argument parser and validation
block (:func:`validated_args`), ``get_tokenizer``, ``get_strategy``,
``prepare_datasets`` (``blending_datasets`` + ``PromptDataset`` + its data
loader), ``SamplesGenerator.generate_samples``, the vLLM rollout actor's
``generate_responses``/``generate`` (``RolloutRayActor``, unwrapped from Ray),
``SingleTurnAgentExecutor`` (image loading, processor expansion, the reward
function call), and ``RemoteExperienceMaker.make_experience_batch``
(experiences, KL, ``group_norm`` advantages).

What stands in, because it needs GPUs or a running Ray cluster:

- :class:`ScriptedVLLM` for ``vllm.AsyncLLMEngine``: answers each request with
  a scripted response's token ids (honouring ``max_tokens``) and records what
  OpenRLHF sent it;
- :class:`ModelGroupDouble` for the DeepSpeed actor/reference model groups:
  their forward pass returns zero log-probs (so the KL term is zero);
- :data:`LOCAL_RAY` for Ray's transport between the driver and those actors:
  ``.remote()`` runs the method in this process, ``ray.get``/``ray.wait``/
  ``ray.put`` pass values through.

One load is swapped: ``AutoProcessor.from_pretrained`` becomes
``harness.models.loading.load_processor``, because the stock Qwen processor needs
torchvision, which this CPU machine cannot load
(``test_openrlhf_real_issue13.py`` loads our checkpoints with the stock
processor, in a process without harness, up to that torchvision import).

Mirrored rather than run, because the real code starts vLLM or Ray actors:
the three fields ``RolloutRayActor.__init__`` and ``create_vllm_engines`` set
on a rollout actor (:func:`rollout_engine`), and the components
``PPOTrainer.__init__`` builds (:func:`run_step`). The generate kwargs
``train()`` passes are evaluated from its own source
(:func:`trainer_generate_kwargs`).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import inspect
import json
import shlex
import subprocess
import sys
import textwrap
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

PAD = "<|image_pad|>"


# -- exported jobs ------------------------------------------------------------------------------


def export_job(out: Path, model: Path, *args: str) -> SimpleNamespace:
    """``harness run --backend openrlhf --dry-run ... -o out`` through the CLI; the written job."""
    from click.testing import CliRunner

    from harness.cli import build_cli

    result = CliRunner().invoke(
        build_cli(), ["run", "--backend", "openrlhf", "--dry-run", "--model", str(model), "-o", str(out), *args]
    )
    if result.exit_code != 0:  # pytest.fail, not assert: no xfail(raises=AssertionError) may absorb it
        pytest.fail(f"the export failed: {result.output}")
    record = json.loads((out / "job.json").read_text())
    return SimpleNamespace(
        out=out,
        dir=Path(record["job_dir"]),
        record=record,
        model=model,
        rows=[json.loads(line) for line in Path(record["dataset"]).read_text().splitlines()],
        argv=entry_argv(record["entrypoint"]),
        command=(out / "command.sh").read_text(),
    )


def entry_argv(entrypoint: str) -> list[str]:
    """The train_ppo_ray arguments of a job's entrypoint (``[cd DIR &&] python -m train_ppo_ray ARGS``)."""
    words = shlex.split(entrypoint)
    if "openrlhf.cli.train_ppo_ray" not in words or words[words.index("openrlhf.cli.train_ppo_ray") - 1] != "-m":
        pytest.fail(f"not a `python -m openrlhf.cli.train_ppo_ray` entrypoint: {entrypoint}")
    return words[words.index("openrlhf.cli.train_ppo_ray") + 1 :]


# -- train_ppo_ray's own __main__ block ------------------------------------------------------------


def _main_block(module: Any) -> ast.If:
    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"), module.__file__)
    return next(node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))


def validated_args(orl: Any, argv: Sequence[str]) -> SimpleNamespace:
    """``args`` as ``train_ppo_ray`` hands them to ``train()``: its parser and validation block, verbatim.

    The ``if __name__ == "__main__":`` body of the installed file is compiled
    (with its own file name and line numbers) and run against ``argv`` in the
    module's namespace, with ``train`` (Ray, GPUs) replaced by a function that
    captures its argument. Its asserts and ``parser.error`` exits propagate.
    """
    module = orl.train_ppo_ray
    code = compile(ast.Module(body=_main_block(module).body, type_ignores=[]), module.__file__, "exec")
    captured: list[SimpleNamespace] = []
    namespace = dict(vars(module), train=captured.append)
    saved = sys.argv
    sys.argv = ["train_ppo_ray", *argv]
    try:
        exec(code, namespace)  # noqa: S102 - OpenRLHF's own installed source, not data
    finally:
        sys.argv = saved
    (args,) = captured
    return args


def trainer_generate_kwargs(orl: Any, args: SimpleNamespace) -> dict[str, Any]:
    """The generate kwargs ``train()`` passes to ``PPOTrainer.remote(...)``, evaluated from its source."""
    module = orl.train_ppo_ray
    train = next(
        node
        for node in ast.parse(Path(module.__file__).read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef) and node.name == "train"
    )
    call = next(
        node
        for node in ast.walk(train)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "remote"
        and ast.unparse(node.func.value) == "PPOTrainer"
    )
    scope = {"args": args, "max_len": args.data.max_len}  # train(): max_len = args.data.max_len
    return {
        kw.arg: eval(compile(ast.Expression(kw.value), module.__file__, "eval"), scope)  # noqa: S307
        for kw in call.keywords
    }


# -- stand-ins for the GPU side -------------------------------------------------------------------


class Ref:
    """A finished Ray object ref."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _get(refs: Any) -> Any:
    return [r.value for r in refs] if isinstance(refs, list) else refs.value


LOCAL_RAY = SimpleNamespace(
    get=_get,
    put=Ref,
    wait=lambda refs, num_returns=1, timeout=None: (refs[:num_returns], refs[num_returns:]),
)


class LocalActor:
    """A Ray actor handle whose ``method.remote(...)`` runs ``method`` here (coroutines to completion)."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.instance, name)

        def remote(*args: Any, **kwargs: Any) -> Ref:
            result = method(*args, **kwargs)
            return Ref(asyncio.run(result) if inspect.iscoroutine(result) else result)

        return SimpleNamespace(remote=remote)


def image_key(images: Sequence[Any]) -> tuple[str, ...]:
    """Identity of a prompt's images by their pixels (how a stand-in engine tells prompts apart)."""
    return tuple(hashlib.sha256(img.convert("RGB").tobytes()).hexdigest() for img in images)


class ScriptedVLLM:
    """Stands in for ``vllm.AsyncLLMEngine``: the ``i``-th request for a prompt gets ``respond(key, i)``.

    ``key`` is :func:`image_key` of the request's images. Like vLLM, the output
    is at most ``max_tokens`` ids (``finish_reason="length"`` when cut) and ends
    with the end-of-turn token otherwise. Every request is recorded.
    """

    def __init__(self, tokenizer: Any, respond: Callable[[tuple[str, ...], int], str], eos: str = "<|im_end|>"):
        self.tokenizer = tokenizer
        self.respond = respond
        self.eos_id = tokenizer.convert_tokens_to_ids(eos)
        self.awake = True
        self.requests: list[dict[str, Any]] = []
        self._seen: dict[tuple[str, ...], int] = defaultdict(int)
        self.output_processor = SimpleNamespace(get_num_unfinished_requests=lambda: 0)

    async def sleep(self, level: int = 1) -> None:
        self.awake = False

    async def wake_up(self, tags: Any = None) -> None:
        self.awake = True

    async def generate(self, prompt: dict[str, Any], sampling_params: Any, request_id: str):
        assert self.awake, "OpenRLHF generated with the engine asleep"
        images = (prompt.get("multi_modal_data") or {}).get("image") or []
        key = image_key(images)
        text = self.respond(key, self._seen[key])
        self._seen[key] += 1
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] + [self.eos_id]
        finish = "stop"
        if sampling_params.max_tokens is not None and len(ids) > sampling_params.max_tokens:
            ids, finish = ids[: sampling_params.max_tokens], "length"
        self.requests.append(
            {
                "prompt_token_ids": list(prompt["prompt_token_ids"]),
                "images": images,
                "max_tokens": sampling_params.max_tokens,
                "response": text,
            }
        )
        yield SimpleNamespace(
            outputs=[
                SimpleNamespace(token_ids=ids, text=self.tokenizer.decode(ids), finish_reason=finish, logprobs=None)
            ]
        )


class ModelGroupDouble:
    """Stands in for a DeepSpeed model group (actor or reference): every forward gives zero log-probs."""

    def __init__(self) -> None:
        self.forward_calls: list[dict[str, Any]] = []

    def async_run_method_batch(self, method_name: str, **kwargs: Any) -> list[Ref]:
        import torch

        assert method_name == "forward", method_name
        self.forward_calls.append(kwargs)
        return [Ref([torch.zeros(mask.shape, dtype=torch.float32) for mask in kwargs["action_mask"]])]

    def async_run_method(self, method_name: str, **kwargs: Any) -> list[Ref]:
        return [Ref(None)]


# -- one rollout step --------------------------------------------------------------------------


def datasets_offline(monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    """OpenRLHF's ``load_dataset`` calls: cache under ``tmp``, and never the network."""
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp / "hf-datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


def use_harness_processor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make OpenRLHF's ``AutoProcessor.from_pretrained`` calls load through ``harness.models.loading.load_processor``."""
    import transformers

    from harness.models.loading import load_processor

    monkeypatch.setattr(
        transformers.AutoProcessor, "from_pretrained", classmethod(lambda cls, path, **kwargs: load_processor(path))
    )


def use_local_ray(orl: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (orl.samples_generator, orl.vllm_engine, orl.experience_maker):
        monkeypatch.setattr(module, "ray", LOCAL_RAY)


def rollout_engine(orl: Any, args: SimpleNamespace, tokenizer: Any, respond: Callable) -> Any:
    """A real ``RolloutRayActor`` (unwrapped from Ray) on a :class:`ScriptedVLLM`.

    Its three fields are set as ``RolloutRayActor.__init__`` and
    ``create_vllm_engines`` set them: the reward executor from
    ``--reward.remote_url``, the engine, and the image/video pad token ids of
    the processor.
    """
    cls = orl.vllm_engine.RolloutRayActor.__ray_metadata__.modified_class.__ray_actor_class__
    engine = cls.__new__(cls)
    engine.executor = orl.agent.SingleTurnAgentExecutor(args.reward.remote_url)
    engine.llm = ScriptedVLLM(tokenizer.tokenizer, respond)
    engine._mm_pad_token_ids = {
        tid for tid in (getattr(tokenizer, a, None) for a in ("image_token_id", "video_token_id")) if tid is not None
    }
    return engine


class RewardSpy:
    """Wraps an executor's ``reward_func`` (calls through) and records each call and its result."""

    def __init__(self, func: Callable) -> None:
        self.func = func
        self.calls: list[dict[str, Any]] = []

    def __call__(self, queries, prompts, labels, **kwargs):
        out = self.func(queries, prompts, labels, **kwargs)
        self.calls.append({"query": queries[0], "prompt": prompts[0], "label": labels[0], "out": out})
        return out


def run_step(orl: Any, args: SimpleNamespace, respond: Callable, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """One rollout batch through OpenRLHF, as ``PPOTrainer.fit`` and ``train_step`` run it.

    Run with the working directory where the job runs (the Ray working_dir, or
    anywhere on a shared filesystem). Returns the tokenizer, the data loader,
    ``max_steps``, the rollout samples, the experiences (with advantages), the
    engines, the reward spies and the model-group doubles.
    """
    use_harness_processor(monkeypatch)
    use_local_ray(orl, monkeypatch)
    strategy = orl.utils.get_strategy(args)
    # PPOTrainer.__init__: tokenizer, datasets, samples generator, KL controller, experience maker.
    tokenizer = orl.utils.get_tokenizer(
        args.actor.model_name_or_path, None, "left", strategy, use_fast=not args.data.disable_fast_tokenizer
    )
    dataloader, _, max_steps = orl.ppo_trainer.prepare_datasets(strategy, tokenizer)
    engines = [rollout_engine(orl, args, tokenizer, respond) for _ in range(args.vllm.num_engines)]
    spies = []
    for engine in engines:
        engine.executor.reward_func = RewardSpy(engine.executor.reward_func)
        spies.append(engine.executor.reward_func)
    generator = orl.samples_generator.SamplesGenerator(
        strategy=strategy,
        prompts_dataloader=dataloader,
        eval_dataloader=None,
        tokenizer=tokenizer,
        vllm_engines=[LocalActor(e) for e in engines],
    )
    assert not args.algo.kl.target  # else PPOTrainer uses the adaptive controller
    actor, reference = ModelGroupDouble(), ModelGroupDouble()
    maker = orl.experience_maker.RemoteExperienceMaker(
        actor, None, None, reference, orl.kl_controller.FixedKLController(args.algo.kl.init_coef), strategy, tokenizer
    )

    samples, _, consumed, _ = generator.generate_samples(**trainer_generate_kwargs(orl, args))
    rewards = [s.rewards.clone() if s.rewards is not None else None for s in samples]
    experiences = maker.make_experience_batch(samples)
    return SimpleNamespace(
        tokenizer=tokenizer,
        dataloader=dataloader,
        max_steps=max_steps,
        consumed=consumed,
        rewards=rewards,
        experiences=experiences,
        engines=engines,
        calls=[c for spy in spies for c in spy.calls],
        actor=actor,
        reference=reference,
    )


# The reward shim in a fresh process where trl and transformers cannot be imported (as in an OpenRLHF
# environment without them): it must score with harness's light modules alone.
_SHIM_WITHOUT_TRL = """
import importlib.abc, importlib.util, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("trl", "transformers"):
            raise ImportError(f"{name} is not installed in the OpenRLHF env (test)")

sys.meta_path.insert(0, Block())
job_dir, query, prompt, label = json.loads(sys.argv[1])
spec = importlib.util.spec_from_file_location("reward_func", job_dir + "/reward_func.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
out = module.reward_func([query], [prompt], [label])
print(json.dumps({"rewards": out["rewards"].tolist(),
                  "extra_logs": {k: v.tolist() for k, v in out["extra_logs"].items()},
                  "heavy": sorted(m for m in ("trl", "transformers") if m in sys.modules)}))
"""


def shim_without_trl(job_dir: Path, call: dict[str, Any]) -> dict[str, Any]:
    """``reward_func`` of ``job_dir`` on one recorded call (query, prompt, label) in a process that
    cannot import trl or transformers: its ``rewards``, ``extra_logs`` and which heavy modules loaded."""
    argv = json.dumps([str(job_dir), call["query"], call["prompt"], call["label"]])
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SHIM_WITHOUT_TRL), argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
