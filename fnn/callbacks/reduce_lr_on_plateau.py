"""ReduceLROnPlateau: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn.callbacks.base import Callback
from fnn.callbacks.learning_rate import get_learning_rate, set_learning_rate
from fnn.callbacks.monitor import (
    Monitor,
    check_count,
    check_number,
    from_plain,
    saved_best,
    to_plain,
)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    The rate lives in the optimizer state, so the compiled epoch is reused (no recompile).
    ``logs["learning_rate"]`` records the rate each epoch used.

    Args:
        monitor: the log entry to watch (default ``"val_loss"``).
        factor: the multiplier, in (0, 1) (default 0.1).
        patience: epochs without improvement before the rate is lowered (default 10).
        verbose: 1 prints a line when the rate changes (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (the default: accuracy-like names are maximised).
        min_delta: a change smaller than this does not count as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: the rate never goes below this (default 0).

    Raises:
        TypeError: if ``monitor`` is not a non-empty str, ``factor``, ``min_delta`` or ``min_lr`` is
            not a finite number, or a count (``patience``, ``verbose``, ``cooldown``) is not an int.
        ValueError: if ``factor`` is not in (0, 1), ``min_lr`` is negative, ``mode`` is not
            ``"auto"``, ``"min"`` or ``"max"``, or a count is negative.

    Example:
        >>> import numpy as np, fnn
        >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> plateau = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100.0)
        >>> h = model.fit(np.ones((8, 2)), np.ones(8), epochs=3, verbose=0, callbacks=[plateau])
        >>> [round(lr, 5) for lr in h.history["learning_rate"]]
        [0.01, 0.01, 0.005]
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        owner = "ReduceLROnPlateau"
        self.factor = check_number(factor, "factor", owner)
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"{owner}(factor=...) must be in (0, 1), got {factor!r}.")
        self.monitor = monitor
        self._monitor = Monitor(monitor, mode, min_delta, owner)
        self.mode = self._monitor.mode
        self.min_delta = self._monitor.min_delta
        self.patience = check_count(patience, "patience", owner)
        self.verbose = check_count(verbose, "verbose", owner)
        self.cooldown = check_count(cooldown, "cooldown", owner)
        self.min_lr = check_number(min_lr, "min_lr", owner)
        if self.min_lr < 0:
            raise ValueError(f"{owner}(min_lr=...) must be >= 0, got {min_lr!r}.")
        self._reset()

    def _reset(self) -> None:
        self.best: Any = self._monitor.worst
        self.wait: Any = 0
        self.cooldown_counter: Any = 0

    def in_cooldown(self) -> Any:
        """Whether the callback is in its cooldown after a reduction.

        Returns:
            A bool (an array of them, one per member, for a population).
        """
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def get_state(self) -> dict[str, Any]:
        return {
            "wait": to_plain(self.wait),
            "best": to_plain(self.best),
            "cooldown_counter": to_plain(self.cooldown_counter),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.wait = from_plain(state["wait"])
        self.best = saved_best(state["best"], self._monitor.worst)
        self.cooldown_counter = from_plain(state["cooldown_counter"])

    def on_epoch_end(self, epoch, logs=None):
        lr = get_learning_rate(self.model, "ReduceLROnPlateau")
        if logs is not None:
            logs["learning_rate"] = lr
        current = self._monitor.value(logs)
        if current is None:
            return
        # One code path for one model (0-d) and a population (one value per member).
        current = np.asarray(current, np.float64)
        cooling = self.in_cooldown()
        self.cooldown_counter = np.where(cooling, self.cooldown_counter - 1, self.cooldown_counter)
        self.wait = np.where(cooling, 0, self.wait)
        improved = self._monitor.improved(current, self.best)
        self.best = np.where(improved, current, self.best)
        counting = ~improved & ~self.in_cooldown()
        self.wait = np.where(improved, 0, np.where(counting, self.wait + 1, self.wait))
        above_min = np.asarray(lr) > np.float32(self.min_lr)
        reduce = counting & (self.wait >= self.patience) & above_min
        if not np.any(reduce):
            return
        new_lr = np.where(reduce, np.maximum(np.asarray(lr) * self.factor, self.min_lr), lr)
        set_learning_rate(self.model, new_lr if new_lr.ndim else float(new_lr))
        if self.verbose > 0:
            shown = new_lr.tolist() if new_lr.ndim else f"{float(new_lr):g}"
            print(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {shown}.",
                flush=True,
            )
        self.cooldown_counter = np.where(reduce, self.cooldown, self.cooldown_counter)
        self.wait = np.where(reduce, 0, self.wait)
        if self.wait.ndim == 0:  # one model: plain numbers, as before
            self.wait, self.cooldown_counter = int(self.wait), int(self.cooldown_counter)
            self.best = float(self.best)
