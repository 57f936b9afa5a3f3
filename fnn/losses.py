"""Losses: per-example functions ``(y_true, y_pred) -> loss`` and Keras-spelled classes.

A function returns one value per example (the last axis is averaged where Keras averages it). A
class instance is configured once (``from_logits``, ``delta``) and, as in Keras, ``loss(y_true,
y_pred, sample_weight=None)`` returns the weighted batch mean while ``loss.call`` returns the
per-example values::

    >>> import jax.numpy as jnp
    >>> from fnn import losses
    >>> float(losses.get("mse")(jnp.array([[1.0]]), jnp.array([[3.0]])))
    4.0

Cross-entropy from logits is exact and finite for any logits: fnn's training functions use it
automatically when the network ends in softmax (sigmoid) and the loss is categorical (binary)
cross-entropy, so the clipped probability path below is only for predictions from elsewhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from fnn.registry import Registry

LossFunction = Callable[[jax.Array, jax.Array], jax.Array]

EPSILON = 1e-7  # Keras's clip for cross-entropy on probabilities (not used on the logits path)


def mean_squared_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Mean over the last axis of ``(y_true - y_pred) ** 2``."""
    return jnp.mean(jnp.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Mean over the last axis of ``|y_true - y_pred|``."""
    return jnp.mean(jnp.abs(y_pred - y_true), axis=-1)


def huber(y_true: jax.Array, y_pred: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss: quadratic within ``delta`` of the target, linear beyond; mean over last axis."""
    err = jnp.abs(y_pred - y_true)
    quad = jnp.minimum(err, delta)
    return jnp.mean(0.5 * quad * quad + delta * (err - quad), axis=-1)


def categorical_crossentropy(
    y_true: jax.Array, y_pred: jax.Array, from_logits: bool = False
) -> jax.Array:
    """Cross-entropy of one-hot (or soft) targets against class probabilities or logits."""
    if from_logits:
        log_p = jax.nn.log_softmax(y_pred, axis=-1)
    else:
        p = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
        log_p = jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))
    return -jnp.sum(y_true * log_p, axis=-1)


def sparse_categorical_crossentropy(
    y_true: jax.Array, y_pred: jax.Array, from_logits: bool = False
) -> jax.Array:
    """Cross-entropy of integer class labels (shape ``(n,)`` or ``(n, 1)``)."""
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    labels = labels.astype(jnp.int32)
    if from_logits:
        log_p = jax.nn.log_softmax(y_pred, axis=-1)
    else:
        p = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
        log_p = jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))
    return -jnp.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0]


def binary_crossentropy(
    y_true: jax.Array, y_pred: jax.Array, from_logits: bool = False
) -> jax.Array:
    """Binary cross-entropy, mean over the last axis, against probabilities or logits."""
    if from_logits:
        per = -(y_true * jax.nn.log_sigmoid(y_pred) + (1 - y_true) * jax.nn.log_sigmoid(-y_pred))
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * jnp.log(p) + (1 - y_true) * jnp.log1p(-p))
    return jnp.mean(per, axis=-1)


@dataclasses.dataclass(frozen=True)
class Loss:
    """Base class: subclasses implement :meth:`call`, the per-example loss."""

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def __call__(
        self, y_true: jax.Array, y_pred: jax.Array, sample_weight: jax.Array | None = None
    ) -> jax.Array:
        """Weighted mean over the batch (Keras's ``sum_over_batch_size`` reduction)."""
        per = self.call(y_true, y_pred)
        if sample_weight is None:
            return jnp.mean(per)
        return jnp.sum(per * sample_weight) / per.size

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class MeanSquaredError(Loss):
    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return mean_squared_error(y_true, y_pred)


@dataclasses.dataclass(frozen=True)
class MeanAbsoluteError(Loss):
    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return mean_absolute_error(y_true, y_pred)


@dataclasses.dataclass(frozen=True)
class Huber(Loss):
    delta: float = 1.0

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return huber(y_true, y_pred, self.delta)


@dataclasses.dataclass(frozen=True)
class CategoricalCrossentropy(Loss):
    from_logits: bool = False

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return categorical_crossentropy(y_true, y_pred, self.from_logits)


@dataclasses.dataclass(frozen=True)
class SparseCategoricalCrossentropy(Loss):
    from_logits: bool = False

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits)


@dataclasses.dataclass(frozen=True)
class BinaryCrossentropy(Loss):
    from_logits: bool = False

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return binary_crossentropy(y_true, y_pred, self.from_logits)


@dataclasses.dataclass(frozen=True)
class LossFunctionWrapper(Loss):
    """Wraps a user's per-example function ``fn(y_true, y_pred)`` as a :class:`Loss`."""

    fn: LossFunction = dataclasses.field(default=mean_squared_error)

    @property
    def name(self) -> str:
        return registry.name_of(self.fn) or getattr(self.fn, "__name__", "loss")

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return self.fn(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        name = registry.name_of(self.fn)
        if name is None:
            raise ValueError(
                f"loss {self.fn!r} is not registered, so it cannot be saved by name; register "
                "it with fnn.losses.register(name, fn)."
            )
        return {"fn": name}


LOSS_CLASSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
}

registry: Registry[Any] = Registry("loss")
for _name, _cls in LOSS_CLASSES.items():
    registry.register(_name, _cls)


def register(name: str, fn: LossFunction | None = None) -> Any:
    """Register a per-example loss function under ``name`` (usable as a decorator)."""
    return registry.register(name, fn)


def get(identifier: str | Loss | LossFunction) -> Loss:
    """Resolve a loss name, :class:`Loss` instance or per-example callable to a :class:`Loss`."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        found = registry.get(identifier)
        if isinstance(found, type) and issubclass(found, Loss):
            return found()
        return LossFunctionWrapper(found)
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise TypeError(
        f"loss must be a name ({', '.join(registry.names())}), a fnn.losses.Loss or a "
        f"callable (y_true, y_pred) -> per-example loss; got {type(identifier).__name__}."
    )


def serialize(loss: Loss) -> dict[str, Any]:
    """A JSON-able description of ``loss``: its class name and config."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Inverse of :func:`serialize`."""
    classes = {cls.__name__: cls for cls in (*LOSS_CLASSES.values(), LossFunctionWrapper)}
    cls = classes.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown loss class {config.get('class_name')!r} in saved config.")
    kwargs = dict(config.get("config", {}))
    if cls is LossFunctionWrapper:
        kwargs["fn"] = registry.get(kwargs["fn"])
    return cls(**kwargs)
