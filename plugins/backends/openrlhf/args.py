"""The ``python -m openrlhf.cli.train_ppo_ray`` command for a harness GRPO run.

Flags are OpenRLHF 0.11.2's dotted ones (``--actor.model_name_or_path``...);
``tests/test_backend_openrlhf_args.py`` parses the list with the parser
extracted from the real wheel, so a renamed flag upstream fails a test. The
mapping from the paper's setup to these flags is tabled in ``docs/openrlhf.md``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError

ENTRY_MODULE = "openrlhf.cli.train_ppo_ray"


@dataclass(frozen=True)
class GRPOPlan:
    """The numbers of a GRPO run, from the shared run config and the cluster layout.

    :ivar completions_per_step: completions per optimizer step: per-device
        batch x gradient accumulation x actor GPUs (the paper: 1 x 4 x 8 = 32,
        i.e. 4 prompts x 8 rollouts), the same batch TRL forms on that many
        processes.
    """

    num_generations: int
    temperature: float
    top_p: float
    beta: float
    max_new_tokens: int
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float
    max_steps: int
    micro_batch: int
    completions_per_step: int
    seed: int = 0

    @property
    def prompts_per_step(self) -> int:
        return self.completions_per_step // self.num_generations

    @property
    def rows(self) -> int:
        """Dataset rows for exactly ``max_steps`` optimizer steps in one episode."""
        return self.max_steps * self.prompts_per_step

    @classmethod
    def from_config(cls, config: Any, settings: Any) -> GRPOPlan:
        """From a :class:`harness.config.run.RunConfig` (presets already applied) and an ``OpenRLHFSettings``."""
        gpus = settings.actor_num_nodes * settings.actor_gpus_per_node
        completions = config.per_device_batch * config.grad_accum * gpus
        if completions % config.num_generations:
            raise ConfigError(
                f"per_device_batch x grad_accum x actor GPUs = {config.per_device_batch} x "
                f"{config.grad_accum} x {gpus} = {completions} completions per step is not a multiple "
                f"of num_generations ({config.num_generations}); GRPO needs whole groups. Change "
                "grad_accum or the GPU count."
            )
        return cls(
            num_generations=config.num_generations,
            temperature=config.temperature,
            top_p=config.top_p,
            beta=config.beta,
            max_new_tokens=config.max_completion_length,
            learning_rate=config.learning_rate,
            lr_scheduler=config.lr_scheduler,
            warmup_ratio=min(1.0, config.warmup_steps / config.max_steps),
            weight_decay=config.weight_decay,
            max_grad_norm=config.max_grad_norm,
            max_steps=config.max_steps,
            micro_batch=config.per_device_batch,
            completions_per_step=completions,
            seed=config.seed,
        )


def train_args(
    plan: GRPOPlan,
    settings: Any,
    *,
    model: str,
    dataset: str,
    reward_func: str,
    save_path: str,
    rows: int,
    max_images_per_prompt: int,
    resume: bool = False,
    run_name: str | None = None,
) -> list[str]:
    """The train_ppo_ray flags for ``plan`` laid out by ``settings`` (an ``OpenRLHFSettings``)."""
    s = settings
    args = [
        "--actor.model_name_or_path",
        model,
        "--reward.remote_url",
        reward_func,
        "--data.prompt_dataset",
        dataset,
        "--data.input_key",
        "prompt",
        "--data.label_key",
        "label",
        "--data.image_key",
        "images",
        "--data.max_images_per_prompt",
        str(max_images_per_prompt),
        "--data.max_samples",
        str(rows),
        "--data.max_len",
        str(s.max_len),
        # GRPO: group-normalized advantages, no critic, KL to the reference as a loss term.
        "--algo.advantage.estimator",
        "group_norm",
        "--algo.kl.use_loss",
        "--algo.kl.estimator",
        "k3",
        "--algo.kl.init_coef",
        repr(float(plan.beta)),
        "--rollout.n_samples_per_prompt",
        str(plan.num_generations),
        "--rollout.batch_size",
        str(plan.prompts_per_step),
        "--rollout.temperature",
        repr(float(plan.temperature)),
        "--rollout.top_p",
        repr(float(plan.top_p)),
        "--rollout.max_new_tokens",
        str(plan.max_new_tokens),
        "--train.batch_size",
        str(plan.completions_per_step),
        "--train.micro_batch_size",
        str(plan.micro_batch),
        "--train.max_epochs",
        "1",
        "--train.num_episodes",
        "1",
        "--train.seed",
        str(plan.seed),
        # AdamW as TRL sets it up (betas 0.9, 0.999), so both backends optimize alike.
        "--actor.adam.lr",
        repr(float(plan.learning_rate)),
        "--actor.adam.betas",
        "0.9",
        "0.999",
        "--actor.adam.weight_decay",
        repr(float(plan.weight_decay)),
        "--actor.max_norm",
        repr(float(plan.max_grad_norm)),
        "--actor.lr_scheduler",
        plan.lr_scheduler,
        "--actor.lr_warmup_ratio",
        repr(float(plan.warmup_ratio)),
        "--actor.num_nodes",
        str(s.actor_num_nodes),
        "--actor.num_gpus_per_node",
        str(s.actor_gpus_per_node),
        "--ref.num_nodes",
        str(s.ref_num_nodes),
        "--ref.num_gpus_per_node",
        str(s.ref_gpus_per_node),
        "--vllm.num_engines",
        str(s.vllm_num_engines),
        "--vllm.tensor_parallel_size",
        str(s.vllm_tensor_parallel_size),
        "--vllm.gpu_memory_utilization",
        repr(float(s.vllm_gpu_memory_utilization)),
        "--ds.zero_stage",
        str(s.zero_stage),
        "--ds.param_dtype",
        s.param_dtype,
        "--ds.attn_implementation",
        s.attn_implementation,
        "--ckpt.output_dir",
        save_path,
        "--ckpt.path",
        f"{save_path}/checkpoints",
        "--ckpt.save_steps",
        str(s.save_steps),
        "--logger.logging_steps",
        "1",
    ]
    if s.colocate_all:
        args += ["--train.colocate_all", "--vllm.enable_sleep", "--ds.enable_sleep"]
    if s.gradient_checkpointing:
        args.append("--actor.gradient_checkpointing_enable")
    if s.freeze_visual_encoder:
        args.append("--actor.freeze_visual_encoder")
    if resume:  # continue from <save_path>/checkpoints/_actor (written every openrlhf.save_steps)
        args.append("--ckpt.load_enable")
    if s.report_to == "tensorboard":
        args += ["--logger.tensorboard_dir", f"{save_path}/tensorboard"]
    elif s.report_to == "wandb":
        # OpenRLHF 0.11.2 logs to W&B when --logger.wandb.key is set; the key is read from the
        # job's environment by the shell that runs the entrypoint, so it is in no file here.
        args += ["--logger.wandb.key", WANDB_KEY_FROM_ENV]
    if s.report_to != "none" and run_name:  # the W&B run's name, and the TensorBoard subfolder
        args += ["--logger.wandb.run_name", run_name]
    return args + list(s.extra_args)


# Expanded by the shell that runs the Ray job's entrypoint; unset or empty stops the job at once.
WANDB_KEY_FROM_ENV = "${WANDB_API_KEY:?set WANDB_API_KEY in the job environment for --report-to wandb}"


def command(python: str, args: list[str]) -> list[str]:
    """The full command line as a list."""
    return [python, "-m", ENTRY_MODULE, *args]


def _shell_word(arg: str) -> str:
    return f'"{arg}"' if arg == WANDB_KEY_FROM_ENV else shlex.quote(arg)


def entrypoint(python: str, args: list[str], preflight: list[str] | None = None) -> str:
    """The command as one shell string (a Ray job's entrypoint), after ``preflight`` when given.

    ``preflight`` is a command that must succeed first (see
    :mod:`harness.plugins.backends.openrlhf.preflight`): it runs on the cluster before
    train_ppo_ray holds any GPU.
    """
    train = " ".join(_shell_word(a) for a in command(python, args))
    return f"{shlex.join(preflight)} && {train}" if preflight else train


def check_layout(plan: GRPOPlan, settings: Any) -> None:
    """Refuse layouts train_ppo_ray would reject only after the job started."""
    s = settings
    actors = s.actor_num_nodes * s.actor_gpus_per_node
    if s.colocate_all and actors != s.vllm_num_engines * s.vllm_tensor_parallel_size:
        raise ConfigError(
            f"openrlhf.colocate_all needs vllm_num_engines x vllm_tensor_parallel_size "
            f"({s.vllm_num_engines} x {s.vllm_tensor_parallel_size}) = actor GPUs ({actors}); "
            "change one, or set colocate_all: false."
        )
    if s.colocate_all and (s.ref_num_nodes, s.ref_gpus_per_node) != (s.actor_num_nodes, s.actor_gpus_per_node):
        raise ConfigError(
            "openrlhf.colocate_all needs the reference model on the same GPUs as the actor: set "
            "ref_num_nodes/ref_gpus_per_node equal to actor_num_nodes/actor_gpus_per_node."
        )
    if plan.max_new_tokens >= s.max_len:
        raise ConfigError(
            f"openrlhf.max_len ({s.max_len}) must exceed max_completion_length "
            f"({plan.max_new_tokens}), leaving room for the prompt and its image tokens."
        )
