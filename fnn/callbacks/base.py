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
        """Attach the model being trained (``fit`` calls this before the first hook).

        Args:
            model: the model; hooks reach it as ``self.model``.
        """
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Record the run's parameters (``fit`` calls this before the first hook).

        Args:
            params: ``{"epochs", "steps", "verbose", ...}`` as Keras passes them; hooks reach
                them as ``self.params``.
        """
        self.params = params

    def get_state(self) -> dict[str, Any] | None:
        """What this callback has learnt during training, saved with the model.

        A resumed fit passes it back to :meth:`set_state`, so that it continues exactly.

        Returns:
            A JSON-able dict, or None (the default) for a stateless callback.
        """
        return None

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`get_state` returned (called when a fit resumes).

        Args:
            state: the dict :meth:`get_state` returned when the model was saved.
        """

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Called once before the first epoch.

        Args:
            logs: unused (Keras passes an empty dict).
        """

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """Called once after the last epoch (also when training stops early).

        Args:
            logs: the last epoch's logs.
        """

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called before epoch ``epoch`` (0-based) is compiled and run.

        Args:
            epoch: the epoch's index, from 0.
            logs: unused (an empty dict).
        """

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Called with the epoch's means (training and validation) once it has finished.

        Args:
            epoch: the epoch's index, from 0.
            logs: the epoch's means by name (``loss``, ``val_loss``, ...).
        """

    # Batch hooks fire once per execution of the compiled program, as in Keras with
    # ``steps_per_execution``: ``batch`` is the index (0-based, within the epoch) of the
    # execution's first step for ``*_batch_begin`` and of its last step for ``*_batch_end``,
    # whose ``logs`` are the means so far in the epoch.
    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before an execution of train steps.

        Args:
            batch: the index of the execution's first step in the epoch.
            logs: unused (an empty dict).
        """

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after an execution of train steps, with the epoch's means so far.

        Args:
            batch: the index of the execution's last step in the epoch.
            logs: the epoch's means so far by name.
        """

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called before validation (and evaluate).

        Args:
            logs: unused (an empty dict).
        """

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called after validation (and evaluate) with its results.

        Args:
            logs: the results by name.
        """

    def on_test_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before an execution of evaluation steps.

        Args:
            batch: the index of the execution's first step in the epoch.
            logs: unused (an empty dict).
        """

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after an execution of evaluation steps.

        Args:
            batch: the index of the execution's last step in the epoch.
            logs: the means so far by name.
        """

    def on_predict_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Called before predict.

        Args:
            logs: unused (an empty dict).
        """

    def on_predict_end(self, logs: dict[str, Any] | None = None) -> None:
        """Called after predict.

        Args:
            logs: unused (an empty dict).
        """

    def on_predict_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called before an execution of predict steps.

        Args:
            batch: the index of the execution's first step in the epoch.
            logs: unused (an empty dict).
        """

    def on_predict_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        """Called after an execution of predict steps.

        Args:
            batch: the index of the execution's last step in the epoch.
            logs: unused (an empty dict).
        """


def check_callbacks(callbacks: Any, argument: str = "callbacks") -> list[Callback]:
    """Check ``callbacks`` of ``fit``: None or a list/tuple of :class:`Callback` instances.

    Args:
        callbacks: the value to check.
        argument: the argument's name, for the error message.

    Returns:
        The callbacks as a new list (empty for None).

    Raises:
        TypeError: ``callbacks`` is a single callback, not a list or tuple, or holds something
            other than a :class:`Callback` instance (a class, say).

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
    """Calls each callback in turn.

    Args:
        callbacks: the callbacks, called in this order.

    Raises:
        TypeError: an item is not a :class:`Callback`.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for i, cb in enumerate(self.callbacks):
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks[{i}] must be a fnn.callbacks.Callback, got {type(cb).__name__}."
                )

    def set_model(self, model: Any) -> None:
        """Attach ``model`` to every callback.

        Args:
            model: the model being trained.
        """
        for cb in self.callbacks:
            cb.set_model(model)

    def states(self) -> dict[str, Any]:
        """Each stateful callback's :meth:`Callback.get_state`.

        Returns:
            The states keyed by the callback's class name and its rank among callbacks of that
            class (``"EarlyStopping"``, ``"EarlyStopping_1"``); stateless callbacks are left out.
        """
        out: dict[str, Any] = {}
        for key, cb in self._keyed():
            state = cb.get_state()
            if state is not None:
                out[key] = state
        return out

    def restore_states(self, states: dict[str, Any]) -> None:
        """Give each callback its saved state (matched as :meth:`states` keys them).

        Args:
            states: what :meth:`states` returned; callbacks with no entry are left as they are.
        """
        for key, cb in self._keyed():
            if key in states:
                cb.set_state(states[key])

    def _keyed(self) -> list[tuple[str, Callback]]:
        seen: dict[str, int] = {}
        out = []
        for cb in self.callbacks:
            name = type(cb).__name__
            rank = seen.get(name, 0)
            seen[name] = rank + 1
            out.append((name if rank == 0 else f"{name}_{rank}", cb))
        return out

    def overrides_batch_hooks(self) -> bool:
        """Whether any callback implements a train batch hook.

        Returns:
            True when fit must report every execution before starting the next.
        """
        names = ("on_train_batch_begin", "on_train_batch_end")

        def overrides(cb: Callback, name: str) -> bool:
            hook = getattr(cb, name)
            return getattr(hook, "__func__", hook) is not getattr(Callback, name)

        return any(overrides(cb, name) for cb in self.callbacks for name in names)

    def set_params(self, params: dict[str, Any]) -> None:
        """Pass the run's parameters to every callback.

        Args:
            params: the run's parameters (see :meth:`Callback.set_params`).
        """
        for cb in self.callbacks:
            cb.set_params(params)


def _dispatch(name: str, position: str | None) -> Any:
    """A CallbackList method calling hook ``name`` of every callback in turn; ``logs`` becomes
    ``{}`` when none is given (Keras passes a dict, so ``logs.get`` always works).

    ``position`` is the hook's first parameter, named as Keras names it: ``"epoch"``,
    ``"batch"``, or None for a hook that takes only ``logs``."""

    def call_each(self: CallbackList, *args: Any) -> None:
        *index, logs = args
        for cb in self.callbacks:
            getattr(cb, name)(*index, {} if logs is None else logs)

    if position == "epoch":

        def hook(self: CallbackList, epoch: int, logs: dict[str, Any] | None = None) -> None:
            call_each(self, epoch, logs)

    elif position == "batch":

        def hook(self: CallbackList, batch: int, logs: dict[str, Any] | None = None) -> None:  # type: ignore[misc]
            call_each(self, batch, logs)

    else:

        def hook(self: CallbackList, logs: dict[str, Any] | None = None) -> None:  # type: ignore[misc]
            call_each(self, logs)

    hook.__name__ = name
    summary = (getattr(Callback, name).__doc__ or "").strip().splitlines()[0]
    index = ""
    if position is not None:
        meaning = "the epoch's index" if position == "epoch" else "the step's index"
        index = f"\n    {position}: {meaning}, from 0 (see :meth:`Callback.{name}`)."
    hook.__doc__ = (
        f"{summary}\n\nCalls each callback's ``{name}`` in turn.\n\nArgs:{index}\n"
        "    logs: passed on to each callback; None becomes ``{}``.\n"
    )
    return hook


for _name in (
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
):
    setattr(CallbackList, _name, _dispatch(_name, None))
for _name in ("on_epoch_begin", "on_epoch_end"):
    setattr(CallbackList, _name, _dispatch(_name, "epoch"))
for _name in (
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
):
    setattr(CallbackList, _name, _dispatch(_name, "batch"))
