"""Optimizers: Optax gradient transformations with Keras's names and default learning rates.

Every constructor wraps its Optax optimizer in ``optax.inject_hyperparams``, so the learning rate
lives in the optimizer state (``opt_state.hyperparams["learning_rate"]``) and callbacks can change
it between epochs without recompiling. A learning rate may also be an Optax schedule. Any
``optax.GradientTransformation`` is accepted where a name is::

    >>> from fnn import optimizers
    >>> opt = optimizers.get("adam")
    >>> round(optimizers.learning_rate(opt.init({"w": 0.0})), 6)
    0.001
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from fnn.registry import Registry

LearningRate = float | Callable[[jax.Array], jax.Array]


def SGD(
    learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False
) -> optax.GradientTransformation:
    """Stochastic gradient descent, ``w -= learning_rate * grad`` (with optional momentum)."""
    return optax.inject_hyperparams(optax.sgd)(
        learning_rate=learning_rate, momentum=momentum or None, nesterov=nesterov
    )


def Adam(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> optax.GradientTransformation:
    """Adam with Keras's defaults."""
    return optax.inject_hyperparams(optax.adam)(
        learning_rate=learning_rate, b1=beta_1, b2=beta_2, eps=epsilon
    )


def AdamW(
    learning_rate: LearningRate = 0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> optax.GradientTransformation:
    """Adam with decoupled weight decay (Keras's defaults)."""
    return optax.inject_hyperparams(optax.adamw)(
        learning_rate=learning_rate, b1=beta_1, b2=beta_2, eps=epsilon, weight_decay=weight_decay
    )


def RMSprop(
    learning_rate: LearningRate = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
) -> optax.GradientTransformation:
    """RMSprop with Keras's defaults."""
    return optax.inject_hyperparams(optax.rmsprop)(
        learning_rate=learning_rate, decay=rho, eps=epsilon, momentum=momentum or None
    )


def Adagrad(
    learning_rate: LearningRate = 0.001,
    initial_accumulator_value: float = 0.1,
    epsilon: float = 1e-7,
) -> optax.GradientTransformation:
    """Adagrad with Keras's defaults."""
    return optax.inject_hyperparams(optax.adagrad)(
        learning_rate=learning_rate,
        initial_accumulator_value=initial_accumulator_value,
        eps=epsilon,
    )


def Nadam(
    learning_rate: LearningRate = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
) -> optax.GradientTransformation:
    """Adam with Nesterov momentum (Keras's defaults)."""
    return optax.inject_hyperparams(optax.nadam)(
        learning_rate=learning_rate, b1=beta_1, b2=beta_2, eps=epsilon
    )


registry: Registry[Callable[..., optax.GradientTransformation]] = Registry("optimizer")
for _fn in (SGD, Adam, AdamW, RMSprop, Adagrad, Nadam):
    registry.register(_fn.__name__, _fn)


def get(identifier: str | optax.GradientTransformation) -> optax.GradientTransformation:
    """Resolve an optimizer name (Keras defaults) or pass an Optax transformation through."""
    if isinstance(identifier, str):
        return registry.get(identifier)()
    if isinstance(identifier, optax.GradientTransformation):
        return identifier
    raise TypeError(
        f"optimizer must be a name ({', '.join(registry.names())}) or an "
        f"optax.GradientTransformation, got {type(identifier).__name__}: {identifier!r}."
    )


def learning_rate(opt_state: Any) -> float | None:
    """The current learning rate in an ``inject_hyperparams`` state, or None if it has none."""
    hyper = getattr(opt_state, "hyperparams", None)
    if hyper is None or "learning_rate" not in hyper:
        return None
    return float(hyper["learning_rate"])


def set_learning_rate(opt_state: Any, value: float) -> Any:
    """Return ``opt_state`` with its injected learning rate set to ``value``."""
    hyper = getattr(opt_state, "hyperparams", None)
    if hyper is None or "learning_rate" not in hyper:
        raise ValueError(
            "This optimizer has no injectable learning rate; build it with a fnn.optimizers "
            "constructor or optax.inject_hyperparams."
        )
    if "learning_rate" in (getattr(opt_state, "hyperparams_states", None) or {}):
        raise ValueError(
            "This optimizer's learning rate is an Optax schedule, which sets it every step; "
            "build the optimizer with a float learning rate to change it from a callback."
        )
    old = hyper["learning_rate"]
    new_hyper = dict(hyper)
    new_hyper["learning_rate"] = jax.numpy.asarray(value, dtype=old.dtype)
    return opt_state._replace(hyperparams=new_hyper)
