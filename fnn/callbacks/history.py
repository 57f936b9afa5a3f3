"""History: records each epoch's logs; ``fit`` returns it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fnn.callbacks.base import Callback


class History(Callback):
    """``history.history`` maps each log name to its per-epoch list; ``history.epoch`` the epochs.

    ``history.epochs_of[name]`` lists the epochs (0-based) at which ``name`` was logged: with
    ``validation_freq > 1`` the ``val_`` entries are logged on fewer epochs than the others.

    >>> h = History()
    >>> h.on_epoch_end(0, {"loss": 0.5})
    >>> h.on_epoch_end(1, {"loss": 0.25, "val_loss": 0.5})
    >>> h.history, h.epochs_of["val_loss"]
    ({'loss': [0.5, 0.25], 'val_loss': [0.5]}, [1])
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.epochs_of: dict[str, list[int]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        """Record ``logs`` as epoch ``epoch``'s.

        Args:
            epoch: the epoch, 0-based.
            logs: the epoch's logs (validation entries included when validation ran).
        """
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
            self.epochs_of.setdefault(key, []).append(epoch)

    def plot(self, metrics: Sequence[str] | None = None, ax: Any = None) -> Any:
        """Plot loss and metrics against the epoch, training against validation.

        One panel per name, with its ``val_`` counterpart (when logged) on the epochs where
        validation ran. Epochs count from 1, with integer ticks; a new figure uses matplotlib's
        constrained layout, so a plain ``fig.savefig(path)`` keeps every label.

        Args:
            metrics: the names to plot (default: every logged name without ``val_``).
            ax: a matplotlib Axes (one name) or a sequence of them (one per name); default:
                a new figure with one panel per name.

        Returns:
            The matplotlib ``Figure`` drawn on (``fig.axes`` holds the panels).

        Raises:
            ImportError: matplotlib is not installed.
            ValueError: the history is empty, a name was never logged, or ``ax`` does not
                hold one Axes per name.

        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> h = History()
        >>> for e in range(3):
        ...     h.on_epoch_end(e, {"loss": 1.0 / (e + 1), "val_loss": 1.5 / (e + 1)})
        >>> fig = h.plot()
        >>> [line.get_label() for line in fig.axes[0].get_lines()]
        ['loss', 'val_loss']
        """
        try:
            import matplotlib.pyplot as plt
            from matplotlib.ticker import MaxNLocator
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from exc
        if not self.history:
            raise ValueError("The history is empty: nothing to plot (fit the model first).")
        names = (
            list(metrics)
            if metrics is not None
            else [k for k in self.history if not k.startswith("val_")]
        )
        for name in names:
            if name not in self.history:
                from fnn.registry import unknown_name_error

                raise unknown_name_error("metrics entry", name, list(self.history))
        if ax is None:
            figure, grid = plt.subplots(
                1,
                len(names),
                figsize=(4 * len(names), 3),
                squeeze=False,
                layout="constrained",
            )
            axes = list(grid[0])
        else:
            import numpy as np

            axes = list(np.ravel(np.asarray(ax, dtype=object)))
            if len(axes) != len(names):
                raise ValueError(
                    f"ax must hold one Axes per plotted name ({len(names)}: {names}), got "
                    f"{len(axes)}."
                )
            figure = axes[0].figure
        for axis, name in zip(axes, names, strict=True):
            for key in (name, f"val_{name}"):
                if key in self.history:
                    epochs = [e + 1 for e in self.epochs_of.get(key, self.epoch)]
                    axis.plot(epochs, self.history[key], marker=".", label=key)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            axis.set_xlabel("epoch")
            axis.set_title(name)
            axis.legend()
        return figure
