"""LambdaCallback: a callback made of plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fnn.callbacks.base import Callback

_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_begin",
    "on_train_end",
    "on_train_batch_begin",
    "on_train_batch_end",
)
#: Keras's older names for the train batch hooks.
_ALIASES = {"on_batch_begin": "on_train_batch_begin", "on_batch_end": "on_train_batch_end"}


class LambdaCallback(Callback):
    """Call the given functions at epoch and training boundaries (Keras's signatures).

    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_begin(logs)``,
    ``on_train_end(logs)``, and the batch hooks ``on_train_batch_begin(batch, logs)`` /
    ``on_train_batch_end(batch, logs)`` (or ``on_batch_begin`` / ``on_batch_end``), which fire
    once per execution (see ``compile(steps_per_execution=...)``).

    Args:
        on_epoch_begin: ``f(epoch, logs)`` before each epoch.
        on_epoch_end: ``f(epoch, logs)`` after each epoch.
        on_train_begin: ``f(logs)`` before training.
        on_train_end: ``f(logs)`` after training.
        on_train_batch_begin: ``f(batch, logs)`` before each execution of train steps.
        on_train_batch_end: ``f(batch, logs)`` after each execution of train steps.
        **kwargs: ``on_batch_begin`` / ``on_batch_end``, Keras's aliases of the batch hooks.

    Raises:
        TypeError: an unsupported hook name, or a hook that is not callable.

    >>> import numpy as np, fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> seen = []
    >>> cb = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
    >>> _ = model.fit(np.ones((8, 2)), np.ones(8), epochs=3, verbose=0, callbacks=[cb])
    >>> seen
    [0, 1, 2]
    """

    def __init__(
        self,
        on_epoch_begin: Callable[[int, dict], Any] | None = None,
        on_epoch_end: Callable[[int, dict], Any] | None = None,
        on_train_begin: Callable[[dict], Any] | None = None,
        on_train_end: Callable[[dict], Any] | None = None,
        on_train_batch_begin: Callable[[int, dict], Any] | None = None,
        on_train_batch_end: Callable[[int, dict], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        hooks = (
            on_epoch_begin,
            on_epoch_end,
            on_train_begin,
            on_train_end,
            on_train_batch_begin,
            on_train_batch_end,
        )
        given = dict(zip(_HOOKS, hooks, strict=True))
        for alias, name in _ALIASES.items():
            if alias in kwargs:
                given[name] = kwargs.pop(alias)
        if kwargs:
            raise TypeError(
                f"LambdaCallback got unsupported hooks {sorted(kwargs)}; accepted: "
                f"{', '.join([*_HOOKS, *_ALIASES])}."
            )
        for name, fn in given.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(
                    f"LambdaCallback({name}=...) must be a function, got {type(fn).__name__}."
                )
            setattr(self, name, fn)
