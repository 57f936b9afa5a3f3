"""ModelCheckpoint: save the model (or its weights) at the end of epochs, as Keras does."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np

from fnn.callbacks import monitor as monitor_lib
from fnn.callbacks.base import Callback
from fnn.distributed import is_primary


class ModelCheckpoint(Callback):
    """Save the model after each epoch, or only when ``monitor`` improves.

    On a :class:`fnn.Population` the logs hold one value per member; the checkpoint judges and
    names the file by the best member's value (lowest for ``mode="min"``, highest for
    ``"max"``) and saves the whole population.

    Each save is atomic (see :mod:`fnn.saving`): a crash mid-save keeps the previous file.

    Args:
        filepath: where to save; may hold ``{epoch}`` (1-based, as in Keras) and log fields,
            e.g. ``"ckpt-{epoch:02d}-{val_loss:.3f}.fnn"``. Missing directories are created.
        monitor: the log to watch for ``save_best_only`` (default ``"val_loss"``).
        verbose: 1 prints a line when saving (and when the monitored value did not improve);
            default 0.
        save_best_only: save only when ``monitor`` improves on the best value so far (default
            False).
        save_weights_only: ``model.save_weights`` instead of ``model.save`` (default False).
        mode: ``"min"``, ``"max"`` or ``"auto"`` (the default: max when ``monitor`` names an
            accuracy, AUC, precision or recall, min otherwise; see
            :func:`fnn.callbacks.monitor.auto_mode`).
        save_freq: ``"epoch"`` (the default), or an int ``N``: save after every N train
            steps, checked at the end of each execution (compile with ``steps_per_execution``
            dividing ``N`` to save exactly every N steps; the default execution is the whole
            epoch).
        initial_value_threshold: with ``save_best_only``, the value to beat at first (default
            None: any finite value).

    Raises:
        TypeError: if ``filepath`` is not a str or path-like, or ``monitor`` is not a str.
        ValueError: if ``mode`` is not ``"auto"``, ``"min"`` or ``"max"``, or ``save_freq`` is
            neither ``"epoch"`` nor an int >= 1.

    Example:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import fnn
        >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> folder = tempfile.mkdtemp()
        >>> ckpt = ModelCheckpoint(os.path.join(folder, "m-{epoch:02d}.fnn"), monitor="loss")
        >>> _ = model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=2, callbacks=[ckpt], verbose=0)
        >>> sorted(os.listdir(folder))
        ['m-01.fnn', 'm-02.fnn']
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"filepath must be a str or path, got {type(filepath).__name__}.")
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a log name such as 'val_loss', got {monitor!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if save_freq != "epoch":
            if isinstance(save_freq, bool) or not isinstance(save_freq, int):
                raise ValueError(f"save_freq must be 'epoch' or an int >= 1, got {save_freq!r}.")
            if save_freq < 1:
                raise ValueError(f"save_freq must be 'epoch' or an int >= 1, got {save_freq!r}.")
        self._steps_seen = 0
        self._last_saved_step = 0
        self._epoch = 0
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        if mode == "auto":  # the rule EarlyStopping and ReduceLROnPlateau use (Keras 3's)
            mode = monitor_lib.auto_mode(monitor)
        self.mode = mode
        if initial_value_threshold is None:
            initial_value_threshold = math.inf if mode == "min" else -math.inf
        self.best: float = initial_value_threshold

    def _improved(self, current: float) -> bool:
        return current < self.best if self.mode == "min" else current > self.best

    def format_path(self, epoch: int, logs: dict[str, float] | None) -> str:
        """``filepath`` with ``{epoch}`` (1-based) and the log fields filled in.

        Args:
            epoch: the epoch's index, from 0.
            logs: the epoch's logs.

        Returns:
            The path to save to.

        Raises:
            ValueError: ``filepath`` names a field that is not in the logs.
        """
        logs = dict(logs or {})
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError) as exc:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} names {exc}, which is not a log of "
                f"this epoch; available: epoch, {', '.join(logs) or '(none)'}."
            ) from None

    def _best_member(self, value: Any) -> Any:
        """A population's per-member value as the best member's (by ``mode``)."""
        arr = np.asarray(value, np.float64)
        if arr.ndim == 0:
            return value
        return float(np.nanmin(arr) if self.mode == "min" else np.nanmax(arr))

    def on_train_begin(self, logs=None):
        self._steps_seen = self._last_saved_step = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = self._steps_seen

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._steps_seen = self._epoch_start + batch + 1
        if self._steps_seen - self._last_saved_step >= self.save_freq:
            self._last_saved_step = self._steps_seen
            self._checkpoint(self._epoch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.save_freq == "epoch":
            self._checkpoint(epoch, logs)

    def _checkpoint(self, epoch: int, logs: dict[str, Any] | None) -> None:
        if not is_primary():  # several processes: process 0 alone saves and reports
            return
        # A population's logs hold one value per member: its best member's value stands for it.
        logs = {k: self._best_member(v) for k, v in (logs or {}).items()}
        path = self.format_path(epoch, logs)
        if self.save_best_only:
            current = (logs or {}).get(self.monitor)
            if current is None:
                warnings.warn(
                    f"ModelCheckpoint can save the best model only with {self.monitor!r} in the "
                    f"logs (available: {', '.join(logs or {}) or 'none'}); skipping.",
                    stacklevel=2,
                )
                return
            if not self._improved(current):
                if self.verbose:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}",
                        flush=True,
                    )
                return
            if self.verbose:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                    f"{current:.5f}, saving model to {path}",
                    flush=True,
                )
            self.best = current
        elif self.verbose:
            print(f"\nEpoch {epoch + 1}: saving model to {path}", flush=True)
        self._save(path)

    def _save(self, path: str) -> None:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.save_weights_only and hasattr(self.model, "save_weights"):
            self.model.save_weights(path)
        else:
            self.model.save(path)
