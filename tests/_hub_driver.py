"""Run one Hub resolution in a fresh process (so HF_HOME / HF_ENDPOINT / HF_HUB_OFFLINE are read by
huggingface_hub at import, as for a user) and print the outcome as one JSON line.

    python tests/_hub_driver.py model ORG/NAME[@REV] [--no-download]
    python tests/_hub_driver.py eval-model ORG/NAME[@REV] [--no-download] [--trust-remote-code]
    python tests/_hub_driver.py data TASK SPEC|- SPLIT [--no-download] [--limit N]
    python tests/_hub_driver.py snapshot-dataset ORG/NAME PATTERN...

Errors print ``{"error": <class name>, "message": <text>}``.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> dict:
    import harness
    from harness import hub
    from harness.data import sources

    download = "--no-download" not in argv
    remote_code = "--trust-remote-code" in argv
    args = [a for a in argv if a not in ("--no-download", "--trust-remote-code")]
    limit = None
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i : i + 2]
    kind = args[0]
    if kind == "model":
        path, record = hub.resolve_model(args[1], download=download)
        return {"path": str(path), "record": record}
    if kind == "eval-model":  # harness eval's own resolution, flags from its config
        from harness.config.eval import EvalConfig
        from harness.evaluation.runner import resolve_eval_model

        config = EvalConfig(tasks=["banner"], model=args[1], allow_download=download, trust_remote_code=remote_code)
        path, untrained, record = resolve_eval_model(config)
        return {"path": path, "untrained": untrained, "record": record}
    if kind == "data":
        task = harness.get_task(args[1])
        spec = None if args[2] == "-" else args[2]  # "-": no --source, the task's default
        choice = sources.choose(task, spec, args[3], real_model=True, download=download)
        samples = list(task.samples(args[3], source=choice.source, limit=limit))
        return {
            "record": choice.record,
            "source": choice.source,
            "samples": [
                {
                    "id": s.id,
                    "answer": s.answer,
                    "choices": s.choices,
                    "images": len(s.images),
                    "size": list(s.images[0].size),
                    "meta": s.meta,
                }
                for s in samples
            ],
        }
    if kind == "snapshot-dataset":
        snap = hub.snapshot(hub.parse_ref(args[1], "dataset"), allow_patterns=args[2:], download=download)
        return {"path": str(snap.path), "commit": snap.commit, "downloaded": snap.downloaded}
    raise SystemExit(f"unknown command {kind}")


if __name__ == "__main__":
    try:
        out = main(sys.argv[1:])
    except Exception as exc:  # noqa: BLE001 - the test reads the class and message
        out = {"error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(out, default=str))
