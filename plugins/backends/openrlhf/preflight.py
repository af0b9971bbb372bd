"""The job's first command on the cluster: the checks that fail in seconds, before OpenRLHF holds a GPU.

The Ray job's entrypoint is ``python -m harness.plugins.backends.openrlhf.preflight
--model M --reward-func F --dataset D && python -m openrlhf.cli.train_ppo_ray
...``, so this runs in the job's working directory and runtime environment
(the same ``py_modules`` and installed packages as the workers) before
train_ppo_ray creates its placement groups. It checks:

- the model directory *as the cluster sees it* carries every file stock
  loaders read (:func:`harness.models.loading.check_checkpoint`; OpenRLHF and vLLM call
  stock ``AutoProcessor``);
- ``reward_func.py`` sits in an exported job directory that has not moved, and
  its reward builds here (a reward plugin missing from the OpenRLHF
  environment is named) — :func:`harness.plugins.backends.openrlhf.scoring.load_scorer`,
  what the shim itself runs when OpenRLHF imports it;
- the dataset exists and every image it names is readable from the working
  directory.

A failure prints one line (``harness preflight: ...``) with the fix and
exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ConfigError, DataError, HarnessError

MODULE = "harness.plugins.backends.openrlhf.preflight"


def check_dataset(dataset: str | Path, image_key: str = "images") -> int:
    """The number of distinct images ``dataset`` names, all present; a DataError naming the first missing one."""
    path = Path(dataset)
    if not path.is_file():
        raise DataError(
            f"The dataset {path} does not exist in {Path.cwd()}: the job directory is not the one the harness "
            "exported (or it moved). Export the job again (`harness run --backend openrlhf`)."
        )
    seen: set[str] = set()
    with path.open(encoding="utf-8") as rows:
        for line_no, line in enumerate(rows, 1):
            if not line.strip():
                continue
            try:
                images = json.loads(line).get(image_key) or []
            except (ValueError, AttributeError) as exc:
                raise DataError(f"{path} line {line_no} is not a JSON object ({exc}); export the job again.") from None
            for ref in images if isinstance(images, list) else [images]:
                if ref in seen:
                    continue
                seen.add(ref)
                if not Path(ref).is_file():
                    raise DataError(
                        f"{path} line {line_no} names the image {ref}, which does not exist (from {Path.cwd()}): "
                        "the job directory moved or lost files since export. Export the job again where the "
                        "cluster reads it."
                    )
    return len(seen)


def check_job(model: str, reward_func: str, dataset: str) -> list[str]:
    """Run every check; returns what passed, one line each; raises the first HarnessError."""
    from harness.models.loading import check_checkpoint
    from harness.plugins.backends.openrlhf.scoring import SHIM_FILE, load_scorer

    check_checkpoint(model, field="actor.model_name_or_path")
    shim = Path(reward_func)
    if shim.name != SHIM_FILE or not shim.is_file():
        raise ConfigError(f"--reward.remote_url {reward_func} is not the exported {SHIM_FILE} (from {Path.cwd()}).")
    scorer = load_scorer(shim.parent)
    images = check_dataset(dataset)
    return [
        f"model {model}: every file stock loaders read is there",
        f"reward {scorer.spec}: builds here",
        f"dataset {dataset}: {images} images present",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="--actor.model_name_or_path of the job")
    parser.add_argument("--reward-func", required=True, help="--reward.remote_url of the job")
    parser.add_argument("--dataset", required=True, help="--data.prompt_dataset of the job")
    args = parser.parse_args(argv)
    try:
        passed = check_job(args.model, args.reward_func, args.dataset)
    except HarnessError as exc:
        print(f"harness preflight: {exc}", file=sys.stderr, flush=True)
        return 2
    for line in passed:
        print(f"harness preflight: {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
