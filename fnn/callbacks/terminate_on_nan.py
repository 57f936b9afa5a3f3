"""TerminateOnNaN: stop when the loss becomes NaN or infinite, keeping the last good weights."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fnn.callbacks.base import Callback
from fnn.callbacks.snapshot import all_finite, copy_tree, members_finite, where_members


class TerminateOnNaN(Callback):
    """Stop training after an epoch whose loss (or resulting weights) holds NaN or inf.

    Callbacks run between compiled epochs, so the check is per epoch. On a
    :class:`fnn.Population` each member is checked on its own: a member that went bad is put
    back to the start of the epoch and frozen (:meth:`fnn.Population.freeze`); the others train
    on, and training ends when none is left. The model is then put back
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
        self._start: Any = None

    def on_train_begin(self, logs=None):
        self.terminated_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = copy_tree(self.model.train_state)

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        m = self.model
        if loss is not None and np.ndim(loss) > 0:  # a population: member by member
            bad = ~np.isfinite(np.asarray(loss)) | ~np.asarray(members_finite(m.train_state))
            if not bad.any():
                return
            self.terminated_epoch = epoch
            print(
                f"Epoch {epoch + 1}: invalid loss for member(s) {np.flatnonzero(bad).tolist()}; "
                "keeping their weights from before this epoch and stopping them.",
                flush=True,
            )
            start, now = self._start, m.train_state
            keep = (start.params, start.opt_state, start.state)
            put_back = where_members(bad, keep, (now.params, now.opt_state, now.state))
            m.params, m.opt_state, m.state = put_back
            m.freeze(bad)
            return
        bad_loss = loss is not None and not math.isfinite(loss)
        if not bad_loss and bool(all_finite((m.params, m.state))):
            return
        self.terminated_epoch = epoch
        print(
            f"Epoch {epoch + 1}: invalid loss, terminating training; keeping the weights from "
            "before this epoch.",
            flush=True,
        )
        # The whole train state, counters included: a resumed fit re-runs this epoch.
        m.train_state = self._start
        m.stop_training = True
