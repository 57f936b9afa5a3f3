"""LearningRateScheduler: set the learning rate at the start of every epoch from a function."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from fnn.callbacks.base import Callback
from fnn.callbacks.learning_rate import get_learning_rate, set_learning_rate
from fnn.callbacks.monitor import check_count


class LearningRateScheduler(Callback):
    """Before epoch ``epoch``, set the learning rate to ``schedule(epoch, lr)``.

    The rate goes into the optimizer state, so the compiled epoch is reused (no recompile).
    ``logs["learning_rate"]`` records the rate each epoch used.

    Args:
        schedule: ``(epoch: int, lr: float) -> float`` or ``(epoch: int) -> float`` (both
            Keras forms), epochs counted from 0.
        verbose: 1 prints the rate set at each epoch (default 0).

    Raises:
        TypeError: if ``schedule`` is not callable, or ``verbose`` is not an int.
        ValueError: if ``verbose`` is negative.

    Example:
        >>> import numpy as np, fnn
        >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> halve = LearningRateScheduler(lambda epoch, lr: lr / 2)
        >>> h = model.fit(np.ones((8, 2)), np.ones(8), epochs=3, verbose=0, callbacks=[halve])
        >>> [round(lr, 5) for lr in h.history["learning_rate"]]
        [0.005, 0.0025, 0.00125]
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler(schedule=...) must be a function (epoch, lr) -> lr, got "
                f"{type(schedule).__name__}: {schedule!r}."
            )
        self.schedule = schedule
        self._takes_lr = _takes_two_arguments(schedule)
        self.verbose = check_count(verbose, "verbose", "LearningRateScheduler")

    def on_epoch_begin(self, epoch, logs=None):
        """Set the learning rate the schedule gives for ``epoch``.

        Args:
            epoch: the epoch's index, from 0.
            logs: unused.

        Raises:
            ValueError: the schedule returned something other than a finite float >= 0.
        """
        lr_now = get_learning_rate(self.model, "LearningRateScheduler")
        raw = self.schedule(epoch, lr_now) if self._takes_lr else self.schedule(epoch)
        try:
            lr = math.nan if isinstance(raw, (bool, str)) else float(raw)
        except (TypeError, ValueError):
            lr = math.nan
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"LearningRateScheduler's schedule must return a finite float >= 0, got "
                f"{raw!r} at epoch {epoch}."
            )
        set_learning_rate(self.model, lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model, "LearningRateScheduler")


def _takes_two_arguments(schedule: Callable[..., float]) -> bool:
    """Whether ``schedule`` is Keras's ``(epoch, lr)`` form rather than ``(epoch)``."""
    try:
        signature = inspect.signature(schedule)
    except (TypeError, ValueError):  # a builtin without a signature: Keras's current form
        return True
    try:
        signature.bind(0, 0.0)
        return True
    except TypeError:
        pass
    try:
        signature.bind(0)
    except TypeError:
        raise TypeError(
            f"LearningRateScheduler(schedule=...) must take (epoch) or (epoch, lr), got a "
            f"function with signature {signature}."
        ) from None
    return False
