"""TerminateOnNaN: stop when the loss becomes NaN or infinite, keeping the last good weights."""

from __future__ import annotations

import math
from typing import Any

from fnn.callbacks.base import Callback
from fnn.callbacks.snapshot import all_finite, copy_tree


class TerminateOnNaN(Callback):
    """Stop training after an epoch whose loss (or resulting weights) holds NaN or inf.

    Callbacks run between compiled epochs, so the check is per epoch. The model is then put back
    to the start of that epoch (params, state and optimizer state): the last good weights, not
    NaN ones. ``terminated_epoch`` is the epoch that went bad (None if none did).

    >>> import numpy as np, fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
    >>> model.compile(optimizer=fnn.optimizers.SGD(1e30), loss="mse")
    >>> stop = TerminateOnNaN()
    >>> h = model.fit(np.ones((8, 2)), 100 * np.ones(8), epochs=5, verbose=0, callbacks=[stop])
    Epoch 2: invalid loss, terminating training; keeping the weights from before this epoch.
    >>> bool(np.isfinite(model.predict(np.ones((1, 2)), verbose=0)).all()), stop.terminated_epoch
    (True, 1)
    """

    def __init__(self) -> None:
        super().__init__()
        self.terminated_epoch: int | None = None
        self._start: tuple[Any, Any, Any] | None = None

    def on_train_begin(self, logs=None):
        self.terminated_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        m = self.model
        self._start = (copy_tree(m.params), copy_tree(m.opt_state), copy_tree(m.state))

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        bad_loss = loss is not None and not math.isfinite(loss)
        if not bad_loss and bool(all_finite((self.model.params, self.model.state))):
            return
        self.terminated_epoch = epoch
        print(
            f"Epoch {epoch + 1}: invalid loss, terminating training; keeping the weights from "
            "before this epoch.",
            flush=True,
        )
        self.model.params, self.model.opt_state, self.model.state = self._start
        if hasattr(self.model, "epoch"):
            self.model.epoch = epoch  # completed epochs: resume re-runs this one
        self.model.stop_training = True
