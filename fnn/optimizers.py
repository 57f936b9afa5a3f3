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

import functools
import inspect
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import optax

from fnn.registry import Registry

LearningRate = float | Callable[[jax.Array], jax.Array]


class NamedOptimizer(optax.GradientTransformationExtraArgs):
    """An Optax transformation that remembers the fnn constructor and arguments that built it.

    ``class_name`` and ``config`` let :mod:`fnn.saving` store the optimizer by name and rebuild it.
    It is an ordinary ``optax.GradientTransformation`` in every other respect.
    """

    class_name: str
    config: dict[str, Any]


def _named(constructor: Callable[..., optax.GradientTransformation]) -> Callable[..., Any]:
    """Make ``constructor`` return a :class:`NamedOptimizer` recording its name and arguments."""
    signature = inspect.signature(constructor)

    @functools.wraps(constructor)
    def build(*args: Any, **kwargs: Any) -> NamedOptimizer:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        tx = constructor(*args, **kwargs)
        named = NamedOptimizer(tx.init, tx.update)
        named.class_name, named.config = constructor.__name__, dict(bound.arguments)
        return named

    return build


@_named
def SGD(
    learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False
) -> optax.GradientTransformation:
    """Stochastic gradient descent, ``w -= learning_rate * grad`` (with optional momentum)."""
    return optax.inject_hyperparams(optax.sgd)(
        learning_rate=learning_rate, momentum=momentum or None, nesterov=nesterov
    )


@_named
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


@_named
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


@_named
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


@_named
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


@_named
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


def learning_rate(opt_state: Any) -> Any:
    """The current learning rate in an ``inject_hyperparams`` state (a float; an array with one
    rate per member for a population's stacked state), or None if it has none."""
    hyper = getattr(opt_state, "hyperparams", None)
    if hyper is None or "learning_rate" not in hyper:
        return None
    value = np.asarray(hyper["learning_rate"])
    return float(value) if value.ndim == 0 else value


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
    new_hyper["learning_rate"] = jax.numpy.broadcast_to(
        jax.numpy.asarray(value, dtype=old.dtype), old.shape
    )
    return opt_state._replace(hyperparams=new_hyper)


def serialize(optimizer: optax.GradientTransformation) -> dict[str, Any] | None:
    """``{"class_name", "config"}`` for an optimizer built by a fnn constructor, else None.

    None means the optimizer cannot be rebuilt from a name: any other Optax transformation, or a
    constructor given a non-numeric argument such as a learning-rate schedule.

    >>> serialize(Adam(learning_rate=0.01))["config"]["learning_rate"]
    0.01
    """
    if not isinstance(optimizer, NamedOptimizer):
        return None
    config = dict(optimizer.config)
    # Plain numbers only: a schedule, an array or a NumPy float32 (which inject_hyperparams
    # treats as a static argument, changing the state's structure) cannot be rebuilt by name.
    if not all(v is None or isinstance(v, (bool, int, float)) for v in config.values()):
        return None
    return {"class_name": optimizer.class_name, "config": config}


def deserialize(config: dict[str, Any]) -> optax.GradientTransformation:
    """Inverse of :func:`serialize`: only fnn's registered constructors are called."""
    kwargs = config.get("config", {})
    if not isinstance(kwargs, dict) or not all(
        v is None or isinstance(v, (bool, int, float)) for v in kwargs.values()
    ):
        raise ValueError(f"Invalid optimizer config {kwargs!r}: expected numbers by name.")
    return registry.get(config.get("class_name"))(**kwargs)
