"""The ``openrlhf`` training backend: GRPO on a Ray cluster through OpenRLHF.

The harness prepares, launches and follows the job; OpenRLHF (Ray +
DeepSpeed + vLLM) trains. ``run`` writes, under the run's output directory::

    job/           the Ray working_dir: prompts.jsonl, images/, reward_func.py, reward_config.json
    py_modules/    a snapshot of this harness (shipped to the workers)
    job.json       Ray job id, status, command, and the final checkpoint path
    command.sh     the same submission as a `ray job submit` command line

then submits it through Ray Jobs (unless ``openrlhf.dry_run``). The job's
entrypoint runs :mod:`harness.plugins.backends.openrlhf.preflight` before
train_ppo_ray, so a model, job directory or reward the cluster cannot use
stops the job before a GPU is held. OpenRLHF
cannot be imported here (it pins CUDA-only packages): it lives in its own
environment on the cluster, with harness installed next to it
(``docs/openrlhf.md``).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import harness
from harness.api.protocols import BackendFlag
from harness.config.run_checks import check_run_basics
from harness.errors import ConfigError, HarnessError
from harness.models.loading import check_checkpoint
from harness.runs.rundir import RunSummary, check_output_path, write_text

NAME = "openrlhf"
JOB_DIR = "job"
COMMAND_FILE = "command.sh"
MODEL_DIR = "model"


REPORT_TO = BackendFlag(
    "--report-to",
    "report_to",
    "Experiment tracking: tensorboard or wandb; metrics.jsonl is written either way [none].",
    choices=("none", "tensorboard", "wandb"),
)


class OpenRLHFBackend:
    """GRPO through OpenRLHF's train_ppo_ray, submitted to a Ray cluster as a Ray job."""

    name = NAME
    description = "GRPO on a Ray cluster through OpenRLHF (Ray + DeepSpeed + vLLM), with harness rewards."
    cli_flags = (
        BackendFlag("--ray-address", "ray_address", "Ray dashboard address of the cluster, e.g. http://head:8265."),
        BackendFlag(
            "--dry-run", "dry_run", "Write the job directory and print the command; submit nothing.", is_flag=True
        ),
        REPORT_TO,
    )

    @property
    def settings_model(self) -> type:
        """The ``openrlhf:`` section's model (imported on first use: pydantic stays out of ``--help``)."""
        from harness.plugins.backends.openrlhf.settings import OpenRLHFSettings

        return OpenRLHFSettings

    def check_plan(self, config: Any) -> None:
        """The checks that need no model files, data or cluster: method, names, reward, layout."""
        from harness.plugins.backends.openrlhf.args import GRPOPlan, check_layout
        from harness.plugins.backends.openrlhf.scoring import TemplateInfo, build_reward

        settings = config.settings(NAME)
        if config.method != "grpo":
            raise ConfigError(
                f"field 'method' has invalid value {config.method!r}: the openrlhf backend runs GRPO "
                "only; run SFT with --backend trl (then GRPO here from its checkpoint)."
            )
        if not settings.dry_run and not settings.ray_address:
            raise ConfigError(
                "The openrlhf backend needs a Ray cluster: give --ray-address http://<head>:8265 "
                "(openrlhf.ray_address), or --dry-run to only write the job and print the command."
            )
        if getattr(config, "eval_after", False) and (settings.dry_run or not settings.follow):
            raise ConfigError(
                "--eval-after needs the trained model: drop --dry-run / openrlhf.follow=false, or run "
                "`harness eval --model <checkpoint in job.json>` once the job has finished."
            )
        _, template = check_run_basics(config)
        # Built exactly as the shim will build it: unknown names or parameters fail here.
        build_reward(config.reward, TemplateInfo(template.name, bool(template.think), template.prefill))
        check_layout(GRPOPlan.from_config(config, settings), settings)

    def check(self, config: Any) -> None:
        """Fail on anything that cannot work, before any export or submission."""
        from harness.plugins.backends.openrlhf.submit import runtime_env

        self.check_plan(config)
        check_output_path(config.output, "field 'output'")
        check_checkpoint(config.model)
        runtime_env(Path(config.output) / JOB_DIR, config.settings(NAME))  # openrlhf.runtime_env clashes

    def outputs(self, config: Any) -> RunSummary:
        """Where the job saves the model: ``openrlhf.save_path``, else ``<output>/model`` (a cluster path)."""
        settings = config.settings(NAME)
        output = Path(config.output)
        return RunSummary(
            status="planned",
            output=str(output),
            checkpoint=settings.save_path or str(output.resolve() / MODEL_DIR),
            method=config.method,
        )

    def run(self, config: Any) -> RunSummary:
        """Export, write the job, and submit it (or only print it with ``dry_run``)."""
        import click

        from harness.plugins.backends.openrlhf import args as openrlhf_args
        from harness.plugins.backends.openrlhf import preflight as openrlhf_preflight
        from harness.plugins.backends.openrlhf import submit as openrlhf_submit
        from harness.plugins.backends.openrlhf.export import export_prompts

        self.check(config)
        settings = config.settings(NAME)
        plan = openrlhf_args.GRPOPlan.from_config(config, settings)
        task = harness.get_task(config.task)
        template = harness.get_template(config.template)
        output = Path(config.output).resolve()

        processor = job_processor(config.model)
        # Never more samples than rows: the rows are the first samples, repeated if too few.
        limit = min(config.limit or plan.rows, plan.rows)
        samples = task.samples(config.split, source=config.source, limit=limit, seed=config.seed, **config.task_options)
        shared = settings.shared_filesystem
        export = export_prompts(
            task,
            template,
            samples,
            processor,
            config.reward,
            output / JOB_DIR,
            rows=plan.rows,
            absolute_paths=shared,
            tokenizer_file=Path(config.model) / "tokenizer.json",
            monitor=config.monitor.model_dump(mode="json") if config.monitor.enabled else None,
            generation_config=Path(config.model) / "generation_config.json",
            source=config.source,
            split=config.split,
            # OpenRLHF stops the job at the first image prompt over max_len - max_new_tokens.
            max_len=settings.max_len,
            max_new_tokens=plan.max_new_tokens,
            # The run's own image cap, when it downscales (elsewhere it refuses at load): fewer image tokens.
            max_image_pixels=config.max_image_pixels if config.oversize_images == "downscale" else None,
            fit=settings.fit_prompts,
        )
        for item in export.shrunk:
            click.echo(
                f"Shrank the images of sample {item['sample']!r} to fit max_len: {item['tokens_before']} -> "
                f"{item['tokens']} tokens (openrlhf.fit_prompts=shrink_images)."
            )
        job_dir = export.job_dir
        save_path = self.outputs(config).checkpoint
        cluster_model = settings.cluster_model_path or str(Path(config.model).resolve())
        dataset = str(export.dataset) if shared else export.dataset.name
        reward_func = str(job_dir / "reward_func.py") if shared else "reward_func.py"
        args = openrlhf_args.train_args(
            plan,
            settings,
            model=cluster_model,
            dataset=dataset,
            reward_func=reward_func,
            save_path=save_path,
            rows=export.rows,
            max_images_per_prompt=export.max_images_per_prompt,
            resume=bool(getattr(config, "resume", False)),
            run_name=output.name,
        )
        preflight = [
            settings.python,
            "-m",
            openrlhf_preflight.MODULE,
            "--model",
            cluster_model,
            "--reward-func",
            reward_func,
            "--dataset",
            dataset,
        ]
        entry = openrlhf_args.entrypoint(settings.python, args, preflight=preflight)
        if shared:  # no working_dir upload: run where the job directory is
            entry = f"cd {shlex.quote(str(job_dir))} && {entry}"
        py_modules = []
        if settings.ship_harness:
            py_modules.append(str(openrlhf_submit.snapshot_harness(output / openrlhf_submit.PY_MODULES_DIR)))
        env = openrlhf_submit.runtime_env(job_dir, settings, py_modules)
        address = settings.ray_address or "http://<ray-head>:8265"
        submit_line = openrlhf_submit.ray_submit_command(address, env, entry)
        write_text(output / COMMAND_FILE, "#!/bin/sh\n" + submit_line + "\n")
        record: dict[str, Any] = {
            "backend": self.name,
            "task": task.name,
            "template": template.name,
            "reward": str(config.reward),
            "model": config.model,
            "job_dir": str(job_dir),
            "dataset": str(export.dataset),
            "rows": export.rows,
            "samples": export.samples,
            "longest_prompt_tokens": export.longest_prompt,
            "max_prompt_tokens": settings.max_len - plan.max_new_tokens,
            "shrunk_prompts": export.shrunk,
            "max_steps": plan.max_steps,
            "completions_per_step": plan.completions_per_step,
            "checkpoint": save_path,
            "output": str(output),
            "entrypoint": entry,
            "runtime_env": env,
            "job_id": None,
            "status": "DRY_RUN" if settings.dry_run else "PREPARED",
        }
        openrlhf_submit.write_record(output, record)
        if settings.dry_run:
            click.echo(f"Dry run: wrote {job_dir} ({export.rows} prompt rows, {export.images} images).")
            click.echo("Submit it with:")
            click.echo(submit_line)
            return self._summary(config, record)
        record = openrlhf_submit.submit(
            settings.ray_address, entry, env, output, record, follow=settings.follow, echo=click.echo
        )
        if record["status"] != "SUCCEEDED" and settings.follow:
            raise HarnessError(
                f"Ray job {record['job_id']} ended {record['status']}: {record.get('message') or 'see its logs'} "
                f"(`ray job logs {record['job_id']} --address {settings.ray_address}`)."
            )
        if getattr(config, "eval_after", False) and not Path(save_path).is_dir():
            raise HarnessError(
                f"--eval-after: the checkpoint {save_path} is on the cluster, not here; evaluate it "
                "there with `harness eval --model` or set openrlhf.save_path to a shared directory."
            )
        return self._summary(config, record)

    def _summary(self, config: Any, record: dict[str, Any]) -> RunSummary:
        """The run's :class:`RunSummary`; ``details`` is the ``job.json`` record."""
        from harness.runs.rundir import write_summary

        status = {"DRY_RUN": "dry_run", "SUCCEEDED": "finished"}.get(record["status"], "submitted")
        summary = RunSummary(
            status=status,
            output=record["output"],
            checkpoint=record["checkpoint"],
            method=config.method,
            steps=record["max_steps"] if status == "finished" else None,
            details=record,
        )
        write_summary(summary)
        return summary


def job_processor(model: str) -> Any:
    """The model's processor, from local files only (as ``harness eval`` loads it; no torchvision needed)."""
    from harness.models.loading import load_processor as load

    try:
        return load(model)
    except HarnessError:
        raise
    except Exception as exc:
        raise ConfigError(f"field 'model': cannot load a processor from {model}: {exc}") from None
