"""``harness model tiny`` (a tiny random-weight VLM for tests and demos) and ``harness model complete``."""

from __future__ import annotations

import click

ARCH_CHOICES = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl")  # == harness.models.tiny.ARCHES, kept import-free


@click.group("model")
def model_group() -> None:
    """Model utilities (tiny test checkpoints, completing a checkpoint's processor files)."""


@model_group.command("tiny")
@click.option(
    "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory to write the checkpoint to."
)
@click.option("--arch", type=click.Choice(ARCH_CHOICES), default="qwen2_5_vl", show_default=True, help="Architecture.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds the random weights.")
@click.option("--hidden-size", type=int, default=64, show_default=True, help="Text decoder width.")
@click.option("--layers", type=int, default=2, show_default=True, help="Text decoder layers.")
def tiny_command(out_dir: str, arch: str, seed: int, hidden_size: int, layers: int) -> None:
    """Build a tiny VLM of a real architecture with random weights (no downloads).

    The checkpoint (model, tokenizer, image processor, chat template) loads with
    `harness eval --model DIR` like any local checkpoint. Its answers are
    meaningless: the weights are random.
    """
    from harness.config.preflight import check_own_dir, check_seed
    from harness.models.tiny import build_tiny_vlm

    check_seed(seed, "--seed")
    check_own_dir(out_dir, "--out", "tiny_vlm.json", "tiny model")  # never over a real checkpoint
    path = build_tiny_vlm(out_dir, arch=arch, seed=seed, hidden_size=hidden_size, num_layers=layers)
    click.echo(f"Wrote a tiny {arch} (random weights, seed {seed}) to {path}")


@model_group.command("complete")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
def complete_command(path: str) -> None:
    """Add the processor configs stock loaders need to the checkpoint at PATH.

    Qwen-VL checkpoints saved by older harness versions carry only an image
    processor; stock AutoProcessor (OpenRLHF, vLLM) also needs a video processor
    config. This writes it from the image processor's settings (JSON only; files
    already there are kept), then checks the directory as `harness run` and
    `harness eval` will.
    """
    from harness.models.loading import check_checkpoint, complete_processor_files

    written = complete_processor_files(path)
    click.echo(f"Wrote {', '.join(written)} in {path}." if written else f"{path}: nothing to add.")
    check_checkpoint(path)
    click.echo("Stock loaders (AutoProcessor, vLLM, OpenRLHF) find every file they read.")


COMMANDS = [model_group]
