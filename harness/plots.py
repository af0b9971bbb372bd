"""Training curves from ``metrics.jsonl``: the paper's Figure 2 view (rewards and response length vs step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.runs.rundir import save_figure


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs: list[int] = []
    ys: list[float] = []
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


def _step_panel(ax: Any, title: str, ylabel: str, lines: list[tuple[str, list[int], list[float]]]) -> None:
    """One panel of series against the training step (integer ticks, markers on short series)."""
    from matplotlib.ticker import MaxNLocator

    for label, xs, ys in lines:
        ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, markersize=3, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)


def _plot(path: Path, title: str, ylabel: str, lines: list[tuple[str, list[int], list[float]]]) -> Path | None:
    lines = [line for line in lines if line[1]]
    if not lines:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    _step_panel(ax, title, ylabel, lines)
    if len(lines) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def hacking_keys(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reward-hacking indicator keys (``hack/...``) found in ``rows``: built-ins first, then the tasks'."""
    from harness.hacking import INDICATORS, PREFIX

    seen = {key for row in rows for key in row if key.startswith(PREFIX)}
    return [k for k in INDICATORS if k in seen] + sorted(seen - set(INDICATORS))


def plot_hacking(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path | None:
    """Figure 2 with the monitor: total reward, mean response length and the ``hack/*`` indicators vs step.

    ``None`` (nothing written) when ``rows`` hold no indicator.
    """
    from harness.hacking import PREFIX

    keys = hacking_keys(rows)
    if not keys:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("Reward", "mean reward", [("total (weighted)", *_series(rows, "reward"))]),
        ("Mean response length", "tokens", [("completion", *_series(rows, "completions/mean_length"))]),
        ("Reward-hacking indicators", "share", [(k.removeprefix(PREFIX), *_series(rows, k)) for k in keys]),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    for ax, (title, ylabel, lines) in zip(axes, panels):
        _step_panel(ax, title, ylabel, [line for line in lines if line[1]])
    axes[2].set_ylim(-0.03, 1.03)
    axes[2].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_training(rows: Sequence[Mapping[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write ``rewards.png``, ``response_length.png``, ``loss.png`` and ``hacking.png`` (those with
    data) to ``out_dir``."""
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
        plot_hacking(rows, out / "hacking.png"),
    ]
    return [p for p in written if p is not None]
