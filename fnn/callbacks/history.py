"""History: records each epoch's logs; ``fit`` returns it."""

from __future__ import annotations

from fnn.callbacks.base import Callback


class History(Callback):
    """``history.history`` maps each log name to its per-epoch list; ``history.epoch`` the epochs.

    >>> h = History()
    >>> h.on_epoch_end(0, {"loss": 0.5})
    >>> h.history
    {'loss': [0.5]}
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def plot(self, metrics=None, ax=None):
        """Plot loss and metrics per epoch, training against validation (needs matplotlib)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - optional dependency
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from exc
        names = metrics or [k for k in self.history if not k.startswith("val_")]
        if ax is None:
            _, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
            axes = axes[0]
        else:
            axes = [ax] * len(names)
        for axis, name in zip(axes, names, strict=True):
            axis.plot(self.epoch, self.history[name], label=name)
            if f"val_{name}" in self.history:
                axis.plot(self.epoch, self.history[f"val_{name}"], label=f"val_{name}")
            axis.set_xlabel("epoch")
            axis.set_title(name)
            axis.legend()
        return axes
