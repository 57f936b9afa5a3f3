"""EarlyStopping: stop when a monitored quantity has stopped improving."""

from __future__ import annotations

from typing import Any

import numpy as np

from fnn.callbacks.base import Callback
from fnn.callbacks.monitor import Monitor, check_count, check_number, saved_best, to_plain
from fnn.callbacks.snapshot import copy_tree, where_members


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras's rules).

    On a :class:`fnn.Population` every member is watched on its own: a member whose patience
    runs out is frozen (its weights stop changing from the next epoch, see
    :meth:`fnn.Population.freeze`), training ends when every member has stopped, and
    ``restore_best_weights`` puts each member back to its own best epoch. ``best``,
    ``wait`` and ``best_epoch`` are then arrays with one entry per member.

    Args:
        monitor: the log entry to watch, e.g. ``"accuracy"`` (default ``"val_loss"``).
        min_delta: a change smaller than this does not count as an improvement (default 0).
        patience: epochs without improvement after which training stops (default 0).
        verbose: 1 prints a line when stopping and when restoring (default 0).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (the default: accuracy-like names are maximised).
        baseline: training stops if the monitored value does not beat it within ``patience``
            (default None: no baseline).
        restore_best_weights: at the end of training, put back the weights (params and state)
            of the best epoch (default False).
        start_from_epoch: epochs to wait before watching (a warm-up; default 0).

    Raises:
        TypeError: if ``monitor`` is not a non-empty str, ``min_delta`` or ``baseline`` is not a
            finite number, or a count (``patience``, ``verbose``, ``start_from_epoch``) is not an
            int.
        ValueError: if ``mode`` is not ``"auto"``, ``"min"`` or ``"max"``, or a count is
            negative.

    Example:
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
        self.wait: Any = 0
        self.stopped_epoch = 0
        self.best: Any = None
        self.best_epoch: Any = 0
        self.best_weights: tuple[Any, Any] | None = None
        self._stopped: Any = False

    def on_train_begin(self, logs=None):
        self._reset()

    def get_state(self) -> dict[str, Any] | None:
        if self.best is None:
            return None
        return {
            "wait": to_plain(self.wait),
            "best": to_plain(self.best),
            "best_epoch": to_plain(self.best_epoch),
            "stopped": to_plain(self._stopped),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Continue from a saved state.

        ``restore_best_weights`` then starts from the weights the resumed fit begins with: the
        best weights themselves are not saved.

        Args:
            state: what :meth:`get_state` returned.
        """
        self.wait = np.asarray(state["wait"], np.int64)
        self.best = saved_best(state["best"], self._monitor.worst)
        self.best_epoch = np.asarray(state["best_epoch"], np.int64)
        self._stopped = np.asarray(state["stopped"], bool)
        if self.restore_best_weights:
            self.best_weights = (copy_tree(self.model.params), copy_tree(self.model.state))

    def _remember_weights(self, epoch: int, which: Any) -> None:
        """Record epoch ``epoch`` as the best for the models in ``which`` (True, or a mask of
        population members): their weights are copied, the others' kept."""
        self.best_epoch = np.where(which, epoch, self.best_epoch)
        if not self.restore_best_weights:
            return
        current = (copy_tree(self.model.params), copy_tree(self.model.state))
        self.best_weights = (
            current
            if self.best_weights is None
            else where_members(which, current, self.best_weights)
        )

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        # One code path for one model (0-d values) and a population (one value per member).
        current = np.asarray(current, np.float64)
        if self.best is None:
            self.best = np.full(current.shape, self._monitor.worst)
            self.wait = np.zeros(current.shape, np.int64)
            self._stopped = np.zeros(current.shape, bool)
            self.best_epoch = np.zeros(current.shape, np.int64)
            if self.restore_best_weights:
                self._remember_weights(epoch, True)  # the first watched epoch is the best so far
        self.wait = self.wait + 1
        improved = self._monitor.improved(current, self.best) & ~self._stopped
        if improved.any():
            self.best = np.where(improved, current, self.best)
            self._remember_weights(epoch, improved)
            beat_baseline = (
                True if self.baseline is None else self._monitor.improved(current, self.baseline)
            )
            self.wait = np.where(improved & beat_baseline, 0, self.wait)
        done = (self.wait >= self.patience) & ~improved & ~self._stopped & (epoch > 0)
        if not done.any():
            return
        self._stopped = self._stopped | done
        self.stopped_epoch = epoch
        if current.ndim == 0:
            self.model.stop_training = True
        else:  # a population: the members that are done stop; training ends with the last
            self.model.freeze(done)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping", flush=True)
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                best = np.asarray(self.best_epoch) + 1
                print(
                    "Restoring model weights from the end of the best epoch: "
                    f"{best.tolist() if best.ndim else int(best)}.",
                    flush=True,
                )
            self.model.params, self.model.state = self.best_weights
