"""Training curves from ``metrics.jsonl``: the paper's Figure 2 view (rewards and response length vs step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for row in rows:
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(int(row.get("step", len(xs))))
            ys.append(float(value))
    return xs, ys


def reward_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The per-component reward keys (``rewards/<name>/mean``) found in ``rows``, in first-seen order."""
    keys: list[str] = []
    for row in rows:
        for key in row:
            if key.startswith("rewards/") and key.endswith("/mean") and key not in keys:
                keys.append(key)
    return keys


def _plot(path: Path, title: str, ylabel: str, lines: list[tuple[str, list[int], list[float]]]) -> Path | None:
    lines = [line for line in lines if line[1]]
    if not lines:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, xs, ys in lines:
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_training(rows: Sequence[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``rewards.png``, ``response_length.png`` and ``loss.png`` (those with data) to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rewards = [(k.split("/")[1], *_series(rows, k)) for k in reward_keys(rows)]
    if rewards:
        rewards.append(("total (weighted)", *_series(rows, "reward")))
    written = [
        _plot(out / "rewards.png", "Reward components", "mean reward", rewards),
        _plot(
            out / "response_length.png",
            "Mean response length",
            "tokens",
            [("completion", *_series(rows, "completions/mean_length"))],
        ),
        _plot(out / "loss.png", "Training loss", "loss", [("loss", *_series(rows, "loss"))]),
    ]
    return [p for p in written if p is not None]
