"""Reading and changing the model's learning rate between epochs, through the optimizer state.

The learning rate is an input of the compiled epoch (``optax.inject_hyperparams``), so changing
it never recompiles. Used by :class:`LearningRateScheduler` and :class:`ReduceLROnPlateau`.
"""

from __future__ import annotations

from typing import Any

from fnn import optimizers


def get_learning_rate(model: Any, owner: str) -> float:
    """The learning rate in ``model.opt_state``.

    Args:
        model: the compiled model.
        owner: the callback's class name, for the error message.

    Returns:
        The current learning rate.

    Raises:
        ValueError: the optimizer keeps no learning rate in its state.
    """
    value = optimizers.learning_rate(model.opt_state)
    if value is None:
        raise ValueError(
            f"{owner} needs an optimizer whose learning rate lives in its state: a "
            "fnn.optimizers name or constructor, or optax.inject_hyperparams(...)."
        )
    return value


def set_learning_rate(model: Any, value: float) -> None:
    """Set the learning rate in ``model.opt_state`` (the next epoch uses it, no recompile).

    Args:
        model: the compiled model.
        value: the new learning rate.
    """
    model.opt_state = optimizers.set_learning_rate(model.opt_state, value)
