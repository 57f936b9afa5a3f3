"""EarlyStopping: stop when a monitored quantity has stopped improving."""

from __future__ import annotations

from typing import Any

from fnn.callbacks.base import Callback
from fnn.callbacks.monitor import Monitor, check_count, check_number
from fnn.callbacks.snapshot import copy_tree


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras's rules).

    Args:
        monitor: the log entry to watch, e.g. ``"val_loss"`` or ``"accuracy"``.
        min_delta: a change smaller than this does not count as an improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a line when stopping and when restoring.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (accuracy-like names are maximised).
        baseline: training stops if the monitored value does not beat it within ``patience``.
        restore_best_weights: at the end of training, put back the weights (params and state)
            of the best epoch.
        start_from_epoch: epochs to wait before watching (a warm-up).

    >>> import numpy as np, fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> stop = EarlyStopping(monitor="loss", patience=0, min_delta=100.0)
    >>> history = model.fit(np.ones((8, 2)), np.ones(8), epochs=10, verbose=0, callbacks=[stop])
    >>> len(history.epoch), stop.stopped_epoch
    (2, 1)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor = Monitor(monitor, mode, min_delta, "EarlyStopping")
        self.mode = self._monitor.mode
        self.min_delta = self._monitor.min_delta
        self.patience = check_count(patience, "patience", "EarlyStopping")
        self.verbose = check_count(verbose, "verbose", "EarlyStopping")
        self.baseline = check_number(baseline, "baseline", "EarlyStopping", optional=True)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = check_count(start_from_epoch, "start_from_epoch", "EarlyStopping")
        self._reset()

    def _reset(self) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float | None = None
        self.best_epoch = 0
        self.best_weights: tuple[Any, Any] | None = None

    def on_train_begin(self, logs=None):
        self._reset()

    def _remember_weights(self, epoch: int) -> None:
        self.best_epoch = epoch
        if self.restore_best_weights:
            self.best_weights = (copy_tree(self.model.params), copy_tree(self.model.state))

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self._remember_weights(epoch)  # the first watched epoch is the best so far
        self.wait += 1
        if self.best is None or self._monitor.improved(current, self.best):
            self.best = current
            self._remember_weights(epoch)
            if self.baseline is None or self._monitor.improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}.",
                    flush=True,
                )
            self.model.params, self.model.state = self.best_weights
