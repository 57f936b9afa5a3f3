"""Metrics: per-example functions ``(y_true, y_pred) -> value``, averaged over an epoch.

``"accuracy"`` (or ``"acc"``) is resolved from the loss as Keras does: categorical accuracy for
categorical cross-entropy, sparse categorical accuracy for the sparse loss, binary accuracy for
binary cross-entropy (or a single output unit)::

    >>> import jax.numpy as jnp
    >>> from fnn import metrics
    >>> m = metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    >>> m.name, float(m.fn(jnp.array([1]), jnp.array([[0.2, 0.8]]))[0])
    ('accuracy', 1.0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from fnn import losses as losses_lib
from fnn.registry import Registry, resolve

MetricFunction = Callable[[jax.Array, jax.Array], jax.Array]


def _labels(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim:
        labels = labels[..., 0]
    return labels.astype(jnp.int32)


def categorical_accuracy(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """1 where the arg-max of ``y_pred`` is the arg-max of the one-hot ``y_true``."""
    return (jnp.argmax(y_pred, axis=-1) == jnp.argmax(y_true, axis=-1)).astype(jnp.float32)


def sparse_categorical_accuracy(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """1 where the arg-max of ``y_pred`` is the integer label ``y_true``."""
    return (jnp.argmax(y_pred, axis=-1) == _labels(y_true, y_pred)).astype(jnp.float32)


def binary_accuracy(y_true: jax.Array, y_pred: jax.Array, threshold: float = 0.5) -> jax.Array:
    """Fraction of outputs on the right side of ``threshold``, averaged over the last axis."""
    hit = (y_pred > threshold).astype(jnp.float32) == (y_true > 0.5).astype(jnp.float32)
    return jnp.mean(hit.astype(jnp.float32), axis=-1)


def top_k_categorical_accuracy(y_true: jax.Array, y_pred: jax.Array, k: int = 5) -> jax.Array:
    """1 where the one-hot target's class is among the ``k`` highest predictions."""
    target = jnp.take_along_axis(y_pred, jnp.argmax(y_true, axis=-1)[..., None], axis=-1)
    return (jnp.sum(y_pred > target, axis=-1) < k).astype(jnp.float32)


def sparse_top_k_categorical_accuracy(
    y_true: jax.Array, y_pred: jax.Array, k: int = 5
) -> jax.Array:
    """1 where the integer label is among the ``k`` highest predictions."""
    target = jnp.take_along_axis(y_pred, _labels(y_true, y_pred)[..., None], axis=-1)
    return (jnp.sum(y_pred > target, axis=-1) < k).astype(jnp.float32)


registry: Registry[MetricFunction] = Registry("metric")
register = registry.register
for _fn in (
    categorical_accuracy,
    sparse_categorical_accuracy,
    binary_accuracy,
    top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
):
    register(_fn.__name__, _fn)
register("mean_squared_error", losses_lib.mean_squared_error)
register("mse", losses_lib.mean_squared_error)
register("mean_absolute_error", losses_lib.mean_absolute_error)
register("mae", losses_lib.mean_absolute_error)
register("categorical_crossentropy", losses_lib.categorical_crossentropy)
register("sparse_categorical_crossentropy", losses_lib.sparse_categorical_crossentropy)
register("binary_crossentropy", losses_lib.binary_crossentropy)

ACCURACY_NAMES = ("accuracy", "acc")


class Metric(NamedTuple):
    """A named per-example metric; its epoch value is the (weighted) mean over examples."""

    name: str
    fn: MetricFunction


def accuracy_for(loss: Any, output_units: int | None = None) -> MetricFunction:
    """The accuracy that fits ``loss`` (Keras's rule); shape decides for other losses."""
    loss_obj = losses_lib.get(loss) if loss is not None else None
    if isinstance(loss_obj, losses_lib.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    if isinstance(loss_obj, losses_lib.BinaryCrossentropy) or output_units == 1:
        return binary_accuracy
    return categorical_accuracy


def get(
    identifier: str | MetricFunction | Metric, loss: Any = None, output_units: int | None = None
) -> Metric:
    """Resolve a metric name or callable to a :class:`Metric` (``loss`` picks the accuracy)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ACCURACY_NAMES:
        return Metric(identifier, accuracy_for(loss, output_units))
    fn = resolve(registry, identifier, "metric")
    if isinstance(identifier, str):
        return Metric(identifier, fn)
    name = getattr(fn, "__name__", None)
    if isinstance(fn, functools.partial):
        name = getattr(fn.func, "__name__", None)
    return Metric(name or type(fn).__name__, fn)


def get_list(identifiers: Any, loss: Any = None, output_units: int | None = None) -> list[Metric]:
    """Resolve ``metrics=`` of compile: None, a name, a callable or a list of them."""
    if identifiers is None:
        return []
    if isinstance(identifiers, (str, Metric)) or callable(identifiers):
        identifiers = [identifiers]
    if not isinstance(identifiers, (list, tuple)):
        raise TypeError(
            f"metrics must be a list of metric names or callables, got "
            f"{type(identifiers).__name__}."
        )
    out = [get(m, loss, output_units) for m in identifiers]
    names = [m.name for m in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "loss" in names:
        raise ValueError(f"metrics must have distinct names other than 'loss'; got {names}.")
    return out
