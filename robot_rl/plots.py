"""Plots a person would rather look at than read."""

from __future__ import annotations

from pathlib import Path


def plot_training_curves(history: list[dict], path: Path, title: str) -> None:
    """Return, success/crash and learning rate against environment steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    steps = [h["env_steps"] / 1e6 for h in history]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))

    def series(key):
        pts = [(s, h[key]) for s, h in zip(steps, history) if key in h]
        return ([p[0] for p in pts], [p[1] for p in pts]) if pts else None

    if (ret := series("episode.return")):
        axes[0].plot(*ret)
    axes[0].set(xlabel="env steps [M]", ylabel="episode return", title="return")
    for key, label in (("episode.success", "success"), ("episode.crashed", "crash")):
        if (s := series(key)):
            axes[1].plot(*s, label=label)
    axes[1].set(xlabel="env steps [M]", ylabel="rate", ylim=(-0.02, 1.02), title="success / crash")
    axes[1].legend(loc="center right")
    if (lr := series("loss.learning_rate")):
        axes[2].semilogy(*lr)
    axes[2].set(xlabel="env steps [M]", ylabel="learning rate", title="PPO learning rate")
    wall = history[-1]["wall_s"]
    fig.suptitle(f"{title}: {steps[-1]:.1f} M steps in {wall:.0f} s")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_distillation(history: list[dict], path: Path, title: str) -> None:
    """Imitation loss and the flown episodes' success / crash rates per distillation round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    rounds = [h["round"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].semilogy(rounds, [h["loss"] for h in history])
    axes[0].set(xlabel="round (0 = behaviour cloning)", ylabel="imitation loss (MSE)",
                title="loss")
    for key, label in (("episode.success", "success"), ("episode.crashed", "crash")):
        pts = [(h["round"], h[key]) for h in history if h.get(key) is not None]
        if pts:
            axes[1].plot(*zip(*pts), label=label)
    axes[1].set(xlabel="round", ylabel="rate", ylim=(-0.02, 1.02),
                title="episodes flown in the round")
    axes[1].legend(loc="center right")
    fig.suptitle(f"{title}: distillation, {sum(h['seconds'] for h in history):.0f} s")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_curve(values: list[float], xlabel: str, ylabel: str, title: str, path: Path) -> None:
    """One training curve (e.g. the behaviour-cloning loss per epoch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(range(1, len(values) + 1), values)
    if values and min(values) > 0:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
