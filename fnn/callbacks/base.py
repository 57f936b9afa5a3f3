"""The :class:`Callback` base class and the list that dispatches to several callbacks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Callback:
    """Base class: override the hooks you need. ``self.model`` is set by ``fit``.

    Hooks run on the host between compiled epochs; ``logs`` maps names ("loss", "accuracy",
    "val_loss", ...) to floats. Set ``self.model.stop_training = True`` to stop after the epoch.
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """Called once after the last epoch (also when training stops early)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called before epoch ``epoch`` (0-based) is compiled and run."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called with the epoch's means (training and validation) once it has finished."""


def check_callbacks(callbacks: Any, argument: str = "callbacks") -> list[Callback]:
    """``callbacks`` of ``fit``: None or a list/tuple of :class:`Callback` instances.

    >>> check_callbacks(None)
    []
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(
            f"{argument} must be a list of callbacks, got a single {type(callbacks).__name__}; "
            f"pass [{type(callbacks).__name__}(...)]."
        )
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"{argument} must be a list of fnn.callbacks.Callback, got "
            f"{type(callbacks).__name__}: {callbacks!r}."
        )
    for i, cb in enumerate(callbacks):
        if not isinstance(cb, Callback):
            hint = " (a class: instantiate it)" if isinstance(cb, type) else ""
            raise TypeError(
                f"{argument}[{i}] must be a fnn.callbacks.Callback instance, got "
                f"{type(cb).__name__}: {cb!r}{hint}."
            )
    return list(callbacks)


class CallbackList(Callback):
    """Calls each callback in turn."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks[{i}] must be a fnn.callbacks.Callback, got {type(cb).__name__}."
                )

    def set_model(self, model: Any) -> None:
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        for cb in self.callbacks:
            cb.set_params(params)

    # Every hook hands each callback a dict, never None (Keras passes ``{}``).
    def on_train_begin(self, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)
