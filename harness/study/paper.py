"""``harness study --preset paper``: the paper's study as config files and commands.

Writes one ``harness run`` config per training run (SFT, RFT, RFT +
length_norm, per task; section 4.1 hyper-parameters through RunConfig's
``paper`` preset), one ``harness eval`` config per model, and ``run_all.sh``
with one command per stage, in order. Nothing is trained or downloaded.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

TASKS = ("banner", "fgvc", "sat")
PAPER_REWARD = "accuracy:1,format:1"
# L0 of the length reward: its value did not survive in the paper's text; the
# length_norm reward's documented default is used (see plugins/reward_length.py).
PAPER_LENGTH_REWARD = "length_norm:1"


def paper_configs(model: str, output: str | Path, backend: str = "trl",
                  sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Write the paper study's configs under ``output``; returns the plan (also ``plan.json``)."""
    import yaml

    from harness.eval_config import EvalConfig
    from harness.run_config import RunConfig

    out = Path(output)
    (out / "configs").mkdir(parents=True, exist_ok=True)
    sources = sources or {}
    commands: list[str] = []
    plan: dict[str, Any] = {"model": model, "backend": backend, "runs": {}, "evals": {}}

    def eval_config(name: str, ckpt: str, tasks: list[str]) -> None:
        data = {"tasks": tasks, "templates": ["nothink", "think"], "model": ckpt, "split": "test",
                "max_new_tokens": 1024, "sources": {t: sources[t] for t in tasks if t in sources},
                "output": str(out / "eval" / name)}
        EvalConfig.model_validate(data)  # fail here, not on the cluster
        path = out / "configs" / f"eval-{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        plan["evals"][name] = str(path)
        commands.append(f"harness eval --config {shlex.quote(str(path))}")

    eval_config("base", model, list(TASKS))
    for task in TASKS:
        for run, method, reward in (("sft", "sft", None), ("grpo", "grpo", PAPER_REWARD),
                                    ("grpo_length_norm", "grpo", f"{PAPER_REWARD},{PAPER_LENGTH_REWARD}")):
            run_dir = out / "runs" / task / run
            data: dict[str, Any] = {"task": task, "method": method, "model": model, "template": "think",
                                    "backend": backend, "preset": "paper", "output": str(run_dir)}
            if reward:
                data["reward"] = reward
            if task in sources:
                data["source"] = sources[task]
            RunConfig.model_validate(data)
            path = out / "configs" / f"run-{task}-{run}.yaml"
            path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            plan["runs"][f"{task}/{run}"] = str(path)
            commands.append(f"harness run --config {shlex.quote(str(path))}")
            if run != "grpo_length_norm":
                eval_config(f"{run}-{task}", str(run_dir / "final"), [task])
    reports = " ".join(shlex.quote(str(out / "eval" / n)) for n in plan["evals"])
    commands.append(f"harness report {reports} -o {shlex.quote(str(out / 'report.md'))}")
    script = out / "run_all.sh"
    script.write_text("#!/usr/bin/env bash\n# The paper's study, one command per stage (see plan.json).\n"
                      "set -euo pipefail\n" + "\n".join(commands) + "\n", encoding="utf-8")
    script.chmod(0o755)
    plan["commands"] = commands
    (out / "plan.json").write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    return plan
