"""Metrics: Keras's metric objects, on pure state-update functions.

Every metric is a :class:`Metric` with two faces:

* **pure and jittable** (what ``fit`` runs inside its compiled epoch): ``initial_state()`` gives a
  pytree of float32 arrays, ``update(state, y_true, y_pred, sample_weight=None)`` folds in one
  batch, ``merge(a, b)`` combines two partial states and ``compute(state)`` gives the value;
* **Keras's stateful methods** for use outside ``fit``: ``update_state``, ``result`` and
  ``reset_state`` (built on the pure ones).

Mean-type metrics (accuracies, errors, cross-entropies) keep ``{"total": Σ w·v, "count": Σ w}``,
so a value over an epoch is Σ w·v / Σ w over the whole pass, whatever the batch size (as Keras).
Their per-example function stays available as ``metric.fn``. ``"accuracy"`` (or ``"acc"``) is
resolved as Keras 3 does, from the output's shape (here: the loss and the number of output
units): binary accuracy for one output unit, sparse categorical accuracy for the sparse loss,
categorical accuracy otherwise (multi-label binary cross-entropy included)::

    >>> import jax.numpy as jnp
    >>> from fnn import metrics
    >>> m = metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    >>> m.name, float(m.fn(jnp.array([1]), jnp.array([[0.2, 0.8]]))[0])
    ('accuracy', 1.0)
    >>> auc = metrics.AUC()
    >>> auc.update_state(jnp.array([0.0, 0.0, 1.0, 1.0]), jnp.array([0.0, 0.5, 0.3, 0.9]))
    >>> round(float(auc.result()), 4)
    0.75
"""

from __future__ import annotations

import copy
import functools
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnn import losses as losses_lib
from fnn.registry import Registry, resolve, unknown_name_error

MetricFunction = Callable[[jax.Array, jax.Array], jax.Array]
State = Any

EPSILON = 1e-7  # Keras's backend.epsilon()


def _same_rank(y_true: jax.Array, y_pred: jax.Array) -> tuple[jax.Array, jax.Array]:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    return losses_lib.squeeze_or_expand_to_same_rank(y_true, y_pred)


def _labels(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    return labels.astype(jnp.int32)


def accuracy(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Exact match: the fraction of entries where ``y_pred`` equals ``y_true``, per example.

    Keras's ``Accuracy`` metric function (not what ``metrics=["accuracy"]`` picks: see
    :func:`accuracy_for`). A trailing axis of 1 on one side is aligned first.

    Args:
        y_true: the targets, e.g. ``(batch, units)``.
        y_pred: the predictions, compared for equality with ``y_true`` entry by entry.

    Returns:
        float32 values in [0, 1]: the mean over the last axis, ``(batch,)`` for 2-D inputs;
        one 0/1 value per entry for 1-D inputs.

    Example:
        >>> import jax.numpy as jnp
        >>> accuracy(jnp.array([[1.0], [2.0]]), jnp.array([[1.0], [3.0]])).tolist()
        [1.0, 0.0]
    """
    y_true, y_pred = _same_rank(y_true, y_pred)
    hit = (y_true == y_pred).astype(jnp.float32)
    return jnp.mean(hit, axis=-1) if hit.ndim > 1 else hit


def categorical_accuracy(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """1 where the arg-max of ``y_pred`` is the arg-max of the one-hot ``y_true``.

    Args:
        y_true: one-hot (or soft) targets, ``(batch, num_classes)``.
        y_pred: scores, probabilities or logits, ``(batch, num_classes)``.

    Returns:
        float32 0/1 values, ``(batch,)``: the shape without the class axis.
    """
    return (jnp.argmax(y_pred, axis=-1) == jnp.argmax(y_true, axis=-1)).astype(jnp.float32)


def sparse_categorical_accuracy(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """1 where the arg-max of ``y_pred`` is the integer label ``y_true``.

    Args:
        y_true: integer class labels, ``(batch,)`` or ``(batch, 1)`` (cast to int32).
        y_pred: scores, probabilities or logits, ``(batch, num_classes)``.

    Returns:
        float32 0/1 values, ``(batch,)``: ``y_pred``'s shape without the class axis.
    """
    return (jnp.argmax(y_pred, axis=-1) == _labels(y_true, y_pred)).astype(jnp.float32)


def binary_accuracy(y_true: jax.Array, y_pred: jax.Array, threshold: float = 0.5) -> jax.Array:
    """Fraction of outputs on the right side of ``threshold``, averaged over the last axis.

    Shapes that differ by a trailing axis of 1 are aligned first, as Keras does.

    Args:
        y_true: binary targets, e.g. ``(batch, units)``; values above 0.5 count as 1.
        y_pred: probabilities (or scores), the shape of ``y_true``.
        threshold: a prediction above it counts as 1; 0.5 by default (Keras's default). Use 0
            for logits.

    Returns:
        float32 values in [0, 1]: the mean over the last axis, ``(batch,)`` for 2-D inputs;
        one 0/1 value per entry for 1-D inputs.

    Example:
        >>> import jax.numpy as jnp
        >>> binary_accuracy(jnp.array([1.0, 0.0]), jnp.array([[0.7], [0.6]])).tolist()
        [1.0, 0.0]
    """
    y_true, y_pred = _same_rank(y_true, y_pred)
    hit = (y_pred > threshold).astype(jnp.float32) == (y_true > 0.5).astype(jnp.float32)
    hit = hit.astype(jnp.float32)
    return jnp.mean(hit, axis=-1) if hit.ndim > 1 else hit


def top_k_categorical_accuracy(y_true: jax.Array, y_pred: jax.Array, k: int = 5) -> jax.Array:
    """1 where the one-hot target's class is among the ``k`` highest predictions.

    A class counts as within the top ``k`` when fewer than ``k`` classes score strictly
    higher, so ties favour the target.

    Args:
        y_true: one-hot targets, ``(batch, num_classes)``.
        y_pred: scores, probabilities or logits, ``(batch, num_classes)``.
        k: how many of the highest-scoring classes may hold the target; 5 by default (Keras's
            default).

    Returns:
        float32 0/1 values, ``(batch,)``.
    """
    target = jnp.take_along_axis(y_pred, jnp.argmax(y_true, axis=-1)[..., None], axis=-1)
    return (jnp.sum(y_pred > target, axis=-1) < k).astype(jnp.float32)


def sparse_top_k_categorical_accuracy(
    y_true: jax.Array, y_pred: jax.Array, k: int = 5
) -> jax.Array:
    """1 where the integer label is among the ``k`` highest predictions.

    As :func:`top_k_categorical_accuracy` (ties favour the target), for integer labels.

    Args:
        y_true: integer class labels, ``(batch,)`` or ``(batch, 1)``.
        y_pred: scores, probabilities or logits, ``(batch, num_classes)``.
        k: how many of the highest-scoring classes may hold the label; 5 by default.

    Returns:
        float32 0/1 values, ``(batch,)``.
    """
    target = jnp.take_along_axis(y_pred, _labels(y_true, y_pred)[..., None], axis=-1)
    return (jnp.sum(y_pred > target, axis=-1) < k).astype(jnp.float32)


def mean_absolute_percentage_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """``100 * |y_true - y_pred| / max(|y_true|, eps)``, mean over the last axis (Keras).

    Args:
        y_true: the targets, e.g. ``(batch, units)``; ``eps`` (1e-7) guards division by 0.
        y_pred: the predictions, the shape of ``y_true``.

    Returns:
        The per-example error in percent, the inputs' shape without the last axis.
    """
    y_true, y_pred = _same_rank(y_true, y_pred)
    diff = jnp.abs((y_true - y_pred) / jnp.maximum(jnp.abs(y_true), EPSILON))
    return 100.0 * jnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Mean over the last axis of ``(log(1 + y_pred) - log(1 + y_true)) ** 2`` (Keras).

    Args:
        y_true: the targets, e.g. ``(batch, units)``; values below 1e-7 are raised to it.
        y_pred: the predictions, the shape of ``y_true``; values below 1e-7 are raised to it.

    Returns:
        The per-example error, the inputs' shape without the last axis.
    """
    y_true, y_pred = _same_rank(y_true, y_pred)
    first = jnp.log(jnp.maximum(y_pred, EPSILON) + 1.0)
    second = jnp.log(jnp.maximum(y_true, EPSILON) + 1.0)
    return jnp.mean(jnp.square(first - second), axis=-1)


def cosine_similarity(y_true: jax.Array, y_pred: jax.Array, axis: int = -1) -> jax.Array:
    """Cosine of the angle between ``y_true`` and ``y_pred`` along ``axis`` (Keras's metric).

    Unlike Keras's ``cosine_similarity`` loss, this is the cosine itself (1 for the same
    direction), not its negative. An all-zero vector gives 0.

    Args:
        y_true: the targets, e.g. ``(batch, units)``.
        y_pred: the predictions, the shape of ``y_true``.
        axis: the axis holding the vectors; -1 (the last) by default.

    Returns:
        Values in [-1, 1], the inputs' shape without ``axis``, e.g. ``(batch,)``.
    """
    y_true, y_pred = _same_rank(y_true, y_pred)

    def unit(v: jax.Array) -> jax.Array:
        return v / jnp.sqrt(jnp.maximum(jnp.sum(v * v, axis=axis, keepdims=True), 1e-12))

    return jnp.sum(unit(y_true) * unit(y_pred), axis=axis)


registry: Registry[MetricFunction] = Registry("metric")
register = registry.register
for _fn in (
    categorical_accuracy,
    sparse_categorical_accuracy,
    binary_accuracy,
    top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
    cosine_similarity,
):
    register(_fn.__name__, _fn)
register("mape", mean_absolute_percentage_error)
register("msle", mean_squared_logarithmic_error)
register("mean_squared_error", losses_lib.mean_squared_error)
register("mse", losses_lib.mean_squared_error)
register("mean_absolute_error", losses_lib.mean_absolute_error)
register("mae", losses_lib.mean_absolute_error)
register("categorical_crossentropy", losses_lib.categorical_crossentropy)
register("sparse_categorical_crossentropy", losses_lib.sparse_categorical_crossentropy)
register("binary_crossentropy", losses_lib.binary_crossentropy)

ACCURACY_NAMES = ("accuracy", "acc")


def _zeros(shape: tuple[int, ...] = ()) -> jax.Array:
    return jnp.zeros(shape, jnp.float32)


def _weights(sample_weight: Any) -> jax.Array | None:
    return None if sample_weight is None else jnp.asarray(sample_weight, jnp.float32)


def _samplewise(values: jax.Array, sample_weight: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """Keras's ``reduce_to_samplewise_values`` then sums: ``(Σ w·v, Σ w)`` of one batch."""
    values = jnp.asarray(values, jnp.float32)
    if sample_weight is None:
        if values.ndim > 1:
            values = jnp.mean(values, axis=tuple(range(1, values.ndim)))
        return jnp.sum(values), jnp.asarray(values.shape[0] if values.ndim else 1, jnp.float32)
    if values.ndim == 0:  # one value per batch (a function that reduces): the batch counts once
        present = (jnp.sum(jnp.asarray(sample_weight, jnp.float32)) > 0).astype(jnp.float32)
        return values * present, present
    values, w = losses_lib.squeeze_or_expand_to_same_rank(values, sample_weight)
    if values.ndim > w.ndim:
        values = jnp.mean(values, axis=tuple(range(w.ndim, values.ndim)))
    w = jnp.broadcast_to(w, values.shape)
    values = values * w
    if w.ndim > 1:
        w = jnp.mean(w, axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:  # per-entry weights: Keras averages each example's weighted entries
        values = jnp.mean(values, axis=tuple(range(1, values.ndim)))
    return jnp.sum(values), jnp.sum(w)


def _divide_no_nan(a: jax.Array, b: jax.Array) -> jax.Array:
    return jnp.where(b == 0, 0.0, a / jnp.where(b == 0, 1.0, b))


#: Each metric object's ``update``, jitted on its first ``update_state`` (one compiled program per
#: batch shape instead of 15-50 eager operations); keyed weakly, so copies get their own.
_JITTED_UPDATES: weakref.WeakKeyDictionary[Any, Callable[..., Any]] = weakref.WeakKeyDictionary()
#: Metric objects whose ``update`` needs concrete values (Python control flow on the data):
#: their ``update_state`` runs eagerly.
_EAGER_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()


def _as_array(x: Any) -> Any:
    """An array argument as NumPy or JAX array (lists and numbers through NumPy)."""
    return x if isinstance(x, (np.ndarray, jax.Array)) else np.asarray(x)


def _jitted_update(metric: Any) -> Callable[..., Any]:
    """``metric.update``, jitted once per metric object; eager where tracing it cannot work."""
    try:
        if metric in _EAGER_ONLY:
            return metric.update
        jitted = _JITTED_UPDATES.get(metric)
        if jitted is None:
            jitted = jax.jit(metric.update)
            _JITTED_UPDATES[metric] = jitted
    except TypeError:  # an unhashable subclass (a dataclass with __eq__): no cache for it
        return metric.update

    def update(*args: Any) -> Any:
        try:
            return jitted(*args)
        except (
            jax.errors.ConcretizationTypeError,
            jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError,
        ):
            _EAGER_ONLY.add(metric)
            return metric.update(*args)

    return update


class Metric:
    """A metric: pure state functions plus Keras's ``update_state``/``result``/``reset_state``.

    ``Metric(name, fn)`` is the weighted mean of a per-example function ``fn(y_true, y_pred)``
    (Keras's ``MeanMetricWrapper``); subclasses override :meth:`initial_state`, :meth:`update`
    and :meth:`compute` (and :meth:`merge` when their state does not add).

    Args:
        name: the key in the logs and in ``History``; None (the default) uses the class's
            Keras name (``default_name``: ``"metric"`` here).
        fn: a per-example function ``fn(y_true, y_pred) -> (batch,)`` for a mean metric, or
            None (the default) for a subclass that overrides :meth:`values` or :meth:`update`.

    Raises:
        TypeError: if ``name`` is neither a string nor None.

    Example:
        >>> import jax.numpy as jnp
        >>> m = Metric("mse", lambda t, p: jnp.mean((t - p) ** 2, axis=-1))
        >>> s = m.update(m.initial_state(), jnp.ones((2, 1)), jnp.zeros((2, 1)))
        >>> float(m.compute(s))
        1.0
    """

    default_name = "metric"
    units: int | None = None
    #: Weighted by ``sample_weight``/``class_weight`` in fit (compile's ``weighted_metrics``).
    weighted: bool = False

    def __init__(self, name: str | None = None, fn: MetricFunction | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}: {name!r}.")
        self.name = name or self.default_name
        self.fn = fn
        self._state: State | None = None

    # -- the pure protocol --------------------------------------------------------------
    def initial_state(self) -> State:
        """The empty state, before any batch.

        Returns:
            A pytree of float32 arrays; for a mean metric ``{"total": 0.0, "count": 0.0}``
            (scalars).
        """
        return {"total": _zeros(), "count": _zeros()}

    def values(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        """The per-example values a mean metric averages (``fn`` by default).

        Args:
            y_true: the targets of one batch, ``(batch, ...)``.
            y_pred: the model's outputs for it, ``(batch, ...)``.

        Returns:
            ``fn(y_true, y_pred)``: one value per example, ``(batch,)`` (extra axes are
            averaged by :meth:`update`).

        Raises:
            NotImplementedError: if the metric has no per-example function (``fn`` is None).
        """
        if self.fn is None:
            raise NotImplementedError(f"{type(self).__name__} has no per-example function.")
        return self.fn(y_true, y_pred)

    def update(
        self,
        state: State,
        y_true: jax.Array,
        y_pred: jax.Array,
        sample_weight: jax.Array | None = None,
    ) -> State:
        """Fold one batch into ``state`` (pure and jittable; ``state`` is not modified).

        For a mean metric: adds ``Σ w·v`` to ``"total"`` and ``Σ w`` to ``"count"``, with
        ``v`` the per-example :meth:`values` (averaged over any axes beyond the weights') and
        ``w`` the weights (1 each without them).

        Args:
            state: the state so far, from :meth:`initial_state` or an earlier update.
            y_true: the targets of one batch, ``(batch, ...)``.
            y_pred: the model's outputs for it, ``(batch, ...)``.
            sample_weight: per-example weights, ``(batch,)`` or ``(batch, 1)`` (or the values'
                shape), or None (the default) for weight 1.

        Returns:
            The new state, a pytree of the same structure, shapes and dtypes.
        """
        total, count = _samplewise(self.values(y_true, y_pred), _weights(sample_weight))
        return {"total": state["total"] + total, "count": state["count"] + count}

    def merge(self, a: State, b: State) -> State:
        """Combine two partial states, e.g. those of two chunks of batches.

        Args:
            a: a state.
            b: another state of the same structure.

        Returns:
            The state of both passes together: the leaves added (every fnn metric's state is
            made of sums).
        """
        return jax.tree_util.tree_map(jnp.add, a, b)

    def compute(self, state: State) -> jax.Array:
        """The metric's value from ``state`` (pure and jittable).

        Args:
            state: a state from :meth:`update` (or :meth:`initial_state`).

        Returns:
            A float32 scalar: ``Σ w·v / Σ w`` for a mean metric (0 when ``Σ w`` is 0).
        """
        return _divide_no_nan(state["total"], state["count"])

    # -- Keras's stateful face ----------------------------------------------------------
    def build(self, output_units: int | None) -> Metric:
        """Set the number of output units for metrics whose state is per class (in place).

        Called by :func:`get` when the model is compiled, and by :meth:`update_state` with the
        width of the first ``y_pred``. A width set before (or in the constructor) is kept.

        Args:
            output_units: the width of the model's output (the last axis of ``y_pred``), or
                None if unknown.

        Returns:
            This metric (for chaining).
        """
        if self.units is None and output_units is not None:
            self.units = int(output_units)
        return self

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate one batch into this object's state (Keras's stateful API).

        The first call builds the metric from ``y_pred``'s last axis (:meth:`build`).

        Args:
            y_true: the targets of one batch (array-like), ``(batch, ...)``.
            y_pred: the predictions for it (array-like), ``(batch, ...)``.
            sample_weight: per-example weights, ``(batch,)``, or None (the default) for 1.
        """
        y_true, y_pred = _as_array(y_true), _as_array(y_pred)
        if sample_weight is not None:
            sample_weight = _as_array(sample_weight)
        if self._state is None:
            if y_pred.ndim:
                self.build(y_pred.shape[-1])
            self._state = self.initial_state()
        self._state = _jitted_update(self)(self._state, y_true, y_pred, sample_weight)

    def result(self) -> jax.Array:
        """The value accumulated since the last :meth:`reset_state` (Keras).

        Returns:
            :meth:`compute` of the accumulated state (of the empty state before any update):
            a float32 scalar, or an array for per-class results (e.g. ``FBetaScore`` with
            ``average=None``).
        """
        state = self._state if self._state is not None else self.initial_state()
        return self.compute(state)

    def reset_state(self) -> None:
        """Forget everything accumulated (Keras)."""
        self._state = None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> jax.Array:
        """Keras's ``metric(y_true, y_pred)``: update the state and return the result.

        Args:
            y_true: the targets of one batch (array-like).
            y_pred: the predictions for it (array-like).
            sample_weight: per-example weights, or None (the default) for 1.

        Returns:
            :meth:`result` after :meth:`update_state`: the value over every batch since the
            last :meth:`reset_state`, this one included.
        """
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-able), for :func:`serialize`.

        Returns:
            A dict of keyword arguments that :meth:`from_config` passes back to the
            constructor; here ``{"name": name}``.
        """
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Inverse of :meth:`get_config`.

        Args:
            config: a dict from :meth:`get_config`.

        Returns:
            A new metric of this class, ``cls(**config)``, with an empty state.
        """
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class MeanMetricWrapper(Metric):
    """Weighted mean of a per-example function ``fn(y_true, y_pred, **kwargs)`` (Keras).

    Args:
        fn: the per-example function ``fn(y_true, y_pred, **kwargs) -> (batch,)``.
        name: the key in the logs; None (the default) uses ``fn.__name__`` (or its type's
            name).
        **kwargs: keyword arguments bound to ``fn`` (``threshold=0.7``), saved with the
            metric.

    Raises:
        TypeError: if ``fn`` is not callable, or ``name`` is neither a string nor None.

    Example:
        >>> import jax.numpy as jnp
        >>> m = MeanMetricWrapper(binary_accuracy, threshold=0.7)
        >>> float(m(jnp.array([[1.0], [1.0]]), jnp.array([[0.8], [0.6]])))
        0.5
    """

    def __init__(self, fn: MetricFunction, name: str | None = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}: {fn!r}.")
        self._kwargs = kwargs
        bound = functools.partial(fn, **kwargs) if kwargs else fn
        super().__init__(name or getattr(fn, "__name__", type(fn).__name__), bound)


class _FunctionMean(Metric):
    """The weighted mean of the class's ``function``, its ``arguments`` taken by keyword."""

    arguments: tuple[str, ...] = ()

    @staticmethod
    def function(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        raise NotImplementedError

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - set(self.arguments))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected arguments {unknown}; it takes "
                f"name and {list(self.arguments)}."
            )
        self._kwargs = kwargs
        fn = self.function
        super().__init__(name, functools.partial(fn, **kwargs) if kwargs else fn)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, **self._kwargs}


# What each keyword argument of the generated mean-metric classes means (for their docstrings).
_ARGUMENT_DOCS = {
    "threshold": "a prediction above it counts as 1; 0.5 by default.",
    "k": "how many of the highest-scoring classes may hold the target; 5 by default.",
    "axis": "the axis holding the vectors; -1 (the last) by default.",
    "from_logits": "whether ``y_pred`` holds logits rather than probabilities; False by default.",
    "label_smoothing": "in [0, 1]; smooths the targets as the loss of that name does; 0.0 by "
    "default.",
}


def _mean_metric_class(
    class_name: str, fn: MetricFunction, default: str, args: Sequence[str] = ()
) -> type[Metric]:
    """Build a Keras-named class for the weighted mean of ``fn`` (its arguments ``args``)."""
    fn_name = getattr(fn, "__name__", class_name)
    arg_lines = "".join(f"\n    {a}: {_ARGUMENT_DOCS[a]}" for a in args)
    doc = (
        f"Weighted mean of :func:`{fn_name}` over every batch seen (Keras's ``{class_name}``)."
        f"\n\nArgs:\n    name: the key in the logs; None (the default) gives ``{default!r}``."
        f"{arg_lines}\n\nRaises:\n    TypeError: for a keyword argument other than "
        f"{', '.join(('name', *args))}, or a name that is not a string."
    )
    namespace = {
        "function": staticmethod(fn),
        "arguments": tuple(args),
        "default_name": default,
        "__doc__": doc,
        "__module__": __name__,
        "__qualname__": class_name,
    }
    return type(class_name, (_FunctionMean,), namespace)


Accuracy = _mean_metric_class("Accuracy", accuracy, "accuracy")
BinaryAccuracy = _mean_metric_class(
    "BinaryAccuracy", binary_accuracy, "binary_accuracy", ("threshold",)
)
CategoricalAccuracy = _mean_metric_class(
    "CategoricalAccuracy", categorical_accuracy, "categorical_accuracy"
)
SparseCategoricalAccuracy = _mean_metric_class(
    "SparseCategoricalAccuracy", sparse_categorical_accuracy, "sparse_categorical_accuracy"
)
TopKCategoricalAccuracy = _mean_metric_class(
    "TopKCategoricalAccuracy", top_k_categorical_accuracy, "top_k_categorical_accuracy", ("k",)
)
SparseTopKCategoricalAccuracy = _mean_metric_class(
    "SparseTopKCategoricalAccuracy",
    sparse_top_k_categorical_accuracy,
    "sparse_top_k_categorical_accuracy",
    ("k",),
)
MeanSquaredError = _mean_metric_class(
    "MeanSquaredError", losses_lib.mean_squared_error, "mean_squared_error"
)
MeanAbsoluteError = _mean_metric_class(
    "MeanAbsoluteError", losses_lib.mean_absolute_error, "mean_absolute_error"
)
MeanAbsolutePercentageError = _mean_metric_class(
    "MeanAbsolutePercentageError",
    mean_absolute_percentage_error,
    "mean_absolute_percentage_error",
)
MeanSquaredLogarithmicError = _mean_metric_class(
    "MeanSquaredLogarithmicError",
    mean_squared_logarithmic_error,
    "mean_squared_logarithmic_error",
)
CosineSimilarity = _mean_metric_class(
    "CosineSimilarity", cosine_similarity, "cosine_similarity", ("axis",)
)
BinaryCrossentropy = _mean_metric_class(
    "BinaryCrossentropy",
    losses_lib.binary_crossentropy,
    "binary_crossentropy",
    ("from_logits", "label_smoothing"),
)
CategoricalCrossentropy = _mean_metric_class(
    "CategoricalCrossentropy",
    losses_lib.categorical_crossentropy,
    "categorical_crossentropy",
    ("from_logits", "label_smoothing"),
)
SparseCategoricalCrossentropy = _mean_metric_class(
    "SparseCategoricalCrossentropy",
    losses_lib.sparse_categorical_crossentropy,
    "sparse_categorical_crossentropy",
    ("from_logits",),
)


class RootMeanSquaredError(Metric):
    """Square root of the weighted mean squared error over the whole pass (Keras).

    The root is taken after averaging over every batch, so it is not the mean of per-batch
    RMSEs.

    Args:
        name: the key in the logs; None (the default) gives ``"root_mean_squared_error"``.

    Raises:
        TypeError: if ``name`` is neither a string nor None.

    Example:
        >>> import jax.numpy as jnp
        >>> m = RootMeanSquaredError()
        >>> float(m(jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([[1.0, 1.0], [0.0, 0.0]])))
        0.5
    """

    default_name = "root_mean_squared_error"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name, None)

    def values(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        """The squared errors, averaged per example by :meth:`update`.

        Args:
            y_true: the targets of one batch, e.g. ``(batch, units)``.
            y_pred: the predictions, the shape of ``y_true`` (a trailing axis of 1 is aligned).

        Returns:
            ``(y_true - y_pred) ** 2``, the aligned inputs' shape.
        """
        y_true, y_pred = _same_rank(y_true, y_pred)
        return jnp.square(y_true - y_pred)

    def compute(self, state: State) -> jax.Array:
        """The root of the weighted mean squared error.

        Args:
            state: a state from :meth:`update`.

        Returns:
            A float32 scalar, ``sqrt(Σ w·v / Σ w)`` (0 before any weight).
        """
        return jnp.sqrt(super().compute(state))


def _check_threshold(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{argument} must be a number in [0, 1], got {value!r}.")
    if not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{argument} must be in [0, 1], got {value!r}.")
    return float(value)


class _Confusion(Metric):
    """Precision and Recall: weighted true/false positives and negatives at one threshold."""

    def __init__(
        self,
        thresholds: float | None = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(thresholds, (list, tuple)):
            raise ValueError(
                f"thresholds must be one number (fnn's metric values are scalars), got "
                f"{thresholds!r}; make one metric per threshold."
            )
        if top_k is not None and (
            isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1
        ):
            raise ValueError(f"top_k must be a positive int or None, got {top_k!r}.")
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, int)):
            raise TypeError(f"class_id must be an int or None, got {class_id!r}.")
        default = 0.5 if top_k is None else -math.inf  # Keras: top_k alone thresholds at -inf
        self.thresholds = thresholds
        self.threshold = (
            default if thresholds is None else _check_threshold(thresholds, "thresholds")
        )
        self.top_k = top_k
        self.class_id = class_id
        super().__init__(name, None)

    def initial_state(self) -> State:
        return {k: _zeros() for k in ("tp", "fp", "fn")}

    def update(self, state, y_true, y_pred, sample_weight=None):
        y_pred, y_true = _same_rank(y_pred, y_true)
        y_true = y_true.astype(jnp.float32)
        y_pred = y_pred.astype(jnp.float32)
        w = jnp.ones_like(y_pred)
        if sample_weight is not None:
            sw = _weights(sample_weight)
            sw = sw.reshape(sw.shape + (1,) * (y_pred.ndim - sw.ndim))
            w = jnp.broadcast_to(sw, y_pred.shape)
        if self.top_k is not None:
            kth = jax.lax.top_k(y_pred, self.top_k)[0][..., -1:]
            y_pred = jnp.where(y_pred >= kth, y_pred, -jnp.inf)
        if self.class_id is not None:
            y_true, y_pred, w = (a[..., self.class_id] for a in (y_true, y_pred, w))
        pred = (y_pred > self.threshold).astype(jnp.float32)
        label = (y_true > 0.5).astype(jnp.float32)
        return {
            "tp": state["tp"] + jnp.sum(w * pred * label),
            "fp": state["fp"] + jnp.sum(w * pred * (1 - label)),
            "fn": state["fn"] + jnp.sum(w * (1 - pred) * label),
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "thresholds": self.thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_Confusion):
    """tp / (tp + fp) at ``thresholds`` (default 0.5), optionally for ``class_id`` or within
    the ``top_k`` predictions (Keras's ``Precision``, one threshold).

    Targets above 0.5 count as positive; the counts are weighted by ``sample_weight`` and
    summed over the whole pass.

    Args:
        thresholds: one threshold in [0, 1]: a prediction above it counts as positive; None
            (the default) means 0.5, or no threshold (-inf) when ``top_k`` is set, as Keras.
            Keras's list of thresholds is not supported: make one metric per threshold.
        top_k: count only the ``top_k`` highest predictions of each row as positive; None
            (the default) considers all.
        class_id: the index (on the last axis) of the one class to score; None (the default)
            scores every entry, all labels flattened.
        name: the key in the logs; None (the default) gives ``"precision"``.

    Raises:
        ValueError: for a list of ``thresholds``, a threshold outside [0, 1] or a ``top_k``
            that is not a positive int.
        TypeError: for a threshold that is not a number, a ``class_id`` that is not an int or
            a ``name`` that is not a string.

    Example:
        >>> import jax.numpy as jnp
        >>> float(Precision()(jnp.array([0.0, 1.0, 1.0, 1.0]), jnp.array([1.0, 0.0, 1.0, 1.0])))
        0.6666666865348816
    """

    default_name = "precision"

    def compute(self, state: State) -> jax.Array:
        """Precision from the weighted counts.

        Args:
            state: ``{"tp", "fp", "fn"}`` from :meth:`update`.

        Returns:
            A float32 scalar, ``tp / (tp + fp)`` (0 when nothing was predicted positive).
        """
        return _divide_no_nan(state["tp"], state["tp"] + state["fp"])


class Recall(_Confusion):
    """tp / (tp + fn) at ``thresholds`` (default 0.5) (Keras's ``Recall``, one threshold).

    As :class:`Precision`: targets above 0.5 count as positive, optionally for ``class_id``
    or within the ``top_k`` predictions; weighted counts summed over the whole pass.

    Args:
        thresholds: one threshold in [0, 1], as in :class:`Precision`; None (the default)
            means 0.5 (-inf with ``top_k``).
        top_k: count only the ``top_k`` highest predictions of each row; None by default.
        class_id: the index of the one class to score; None (the default) scores all.
        name: the key in the logs; None (the default) gives ``"recall"``.

    Raises:
        ValueError: for a bad ``thresholds`` or ``top_k``, as in :class:`Precision`.
        TypeError: for a non-numeric threshold, non-int ``class_id`` or non-string ``name``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(Recall()(jnp.array([0.0, 1.0, 1.0, 1.0]), jnp.array([1.0, 0.0, 1.0, 1.0])))
        0.6666666865348816
    """

    default_name = "recall"

    def compute(self, state: State) -> jax.Array:
        """Recall from the weighted counts.

        Args:
            state: ``{"tp", "fp", "fn"}`` from :meth:`update`.

        Returns:
            A float32 scalar, ``tp / (tp + fn)`` (0 when there was no positive target).
        """
        return _divide_no_nan(state["tp"], state["tp"] + state["fn"])


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "minoring", "majoring")


class AUC(Metric):
    """Area under the ROC or precision-recall curve from a confusion matrix at fixed thresholds
    (Keras's ``AUC``: same thresholds, state and summation rules).

    Targets above 0.5 count as positive; ``y_pred`` holds probabilities (or logits with
    ``from_logits``).

    Args:
        num_thresholds: how many thresholds, evenly spaced over [0, 1] with the two end points
            just outside it (an int > 1); 200 by default, as Keras.
        curve: ``"ROC"`` (the default), ``"PR"`` (precision-recall) or ``"PRGAIN"``
            (precision-recall-gain); case-insensitive.
        summation_method: how each interval between thresholds is summed:
            ``"interpolation"`` (the default: trapezoids; for PR, Davis & Goadrich's
            interpolation), ``"minoring"`` (the lower of its two heights) or ``"majoring"``
            (the higher); case-insensitive.
        name: the key in the logs; None (the default) gives ``"auc"``.
        thresholds: explicit thresholds in [0, 1] instead of ``num_thresholds`` (the end
            points are added); None by default.
        multi_label: one curve per label (the last axis), averaged by ``label_weights``, instead
            of one curve over all labels flattened (the default, False).
        num_labels: the number of labels, only with ``multi_label`` (else taken from the model's
            output width or the first batch); None by default.
        label_weights: per-label weights: for the average of the per-label areas with
            ``multi_label``, else multiplied into the sample weights; None means equal weights.
        from_logits: whether ``y_pred`` holds logits (a sigmoid is applied first); False by
            default.

    Raises:
        ValueError: for an unknown ``curve`` or ``summation_method``, ``num_thresholds`` <= 1,
            a threshold outside [0, 1], or ``num_labels`` without ``multi_label``.
        TypeError: for a ``num_thresholds`` or threshold that is not a number (an int for
            ``num_thresholds``), or a ``name`` that is not a string.
    """

    default_name = "auc"

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Sequence[float] | None = None,
        from_logits: bool = False,
    ) -> None:
        if str(curve).upper() not in _CURVES:
            raise ValueError(f"curve must be one of {_CURVES}, got {curve!r}.")
        if str(summation_method).lower() not in _SUMMATIONS:
            raise ValueError(
                f"summation_method must be one of {_SUMMATIONS}, got {summation_method!r}."
            )
        if thresholds is not None:
            inner = sorted(_check_threshold(t, "thresholds") for t in thresholds)
            self.num_thresholds = len(inner) + 2
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int):
                raise TypeError(f"num_thresholds must be an int > 1, got {num_thresholds!r}.")
            if num_thresholds <= 1:
                raise ValueError(f"num_thresholds must be an int > 1, got {num_thresholds!r}.")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        if num_labels is not None and not multi_label:
            raise ValueError("num_labels is needed only when multi_label is True.")
        self._thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON], np.float32)
        self.init_thresholds = None if thresholds is None else list(thresholds)
        self.curve = str(curve).upper()
        self.summation_method = str(summation_method).lower()
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.units = num_labels if multi_label else None
        self.label_weights = None if label_weights is None else list(map(float, label_weights))
        self.from_logits = bool(from_logits)
        super().__init__(name, None)

    @property
    def thresholds(self) -> list[float]:
        """The thresholds, the two end points included (as Keras)."""
        return self._thresholds.tolist()

    def _shape(self) -> tuple[int, ...]:
        if not self.multi_label:
            return (self.num_thresholds,)
        if self.units is None:
            raise ValueError(
                "AUC(multi_label=True) needs num_labels (or output_units when compiled) to "
                "build its state."
            )
        return (self.num_thresholds, self.units)

    def initial_state(self) -> State:
        """The empty confusion counts at every threshold.

        Returns:
            ``{"tp", "fp", "tn", "fn"}``: float32 zeros of shape ``(num_thresholds,)``, or
            ``(num_thresholds, num_labels)`` with ``multi_label``.

        Raises:
            ValueError: with ``multi_label`` when the number of labels is not known yet.
        """
        return {k: _zeros(self._shape()) for k in ("tp", "fp", "tn", "fn")}

    def update(
        self,
        state: State,
        y_true: jax.Array,
        y_pred: jax.Array,
        sample_weight: jax.Array | None = None,
    ) -> State:
        """Add one batch's weighted confusion counts at every threshold (pure).

        Args:
            state: the counts so far (see :meth:`initial_state`).
            y_true: binary targets of one batch, e.g. ``(batch, labels)``.
            y_pred: probabilities (or logits with ``from_logits``), the shape of ``y_true``.
            sample_weight: per-example weights, ``(batch,)``, or None (the default) for 1.

        Returns:
            The new counts, the shapes of ``state``'s.
        """
        y_pred, y_true = _same_rank(y_pred, y_true)
        y_pred = y_pred.astype(jnp.float32)
        if self.from_logits:
            y_pred = jax.nn.sigmoid(y_pred)
        label = (y_true.astype(jnp.float32) > 0.5).astype(jnp.float32)
        w = jnp.ones_like(y_pred)
        if sample_weight is not None:
            sw = jnp.asarray(sample_weight, jnp.float32)
            w = w * sw.reshape(sw.shape + (1,) * (y_pred.ndim - sw.ndim))
        if not self.multi_label and self.label_weights is not None:
            w = w * jnp.asarray(self.label_weights, jnp.float32)
        t = jnp.asarray(self._thresholds)
        if self.multi_label:
            # (thresholds, n, labels) summed over examples: (thresholds, labels)
            flat = (lambda a: a.reshape(-1, a.shape[-1])) if y_pred.ndim > 1 else (lambda a: a)
            pred = (flat(y_pred)[None] > t[:, None, None]).astype(jnp.float32)
            lab, ww = flat(label)[None], flat(w)[None]
            axis = 1
        else:
            pred = (y_pred.reshape(-1)[None] > t[:, None]).astype(jnp.float32)
            lab, ww = label.reshape(-1)[None], w.reshape(-1)[None]
            axis = 1
        return {
            "tp": state["tp"] + jnp.sum(ww * pred * lab, axis=axis),
            "fp": state["fp"] + jnp.sum(ww * pred * (1 - lab), axis=axis),
            "tn": state["tn"] + jnp.sum(ww * (1 - pred) * (1 - lab), axis=axis),
            "fn": state["fn"] + jnp.sum(ww * (1 - pred) * lab, axis=axis),
        }

    def _per_label(self, terms: jax.Array) -> jax.Array:
        by_label = jnp.sum(terms, axis=0)
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return jnp.mean(by_label)
        lw = jnp.asarray(self.label_weights, jnp.float32)
        return _divide_no_nan(jnp.sum(by_label * lw), jnp.sum(lw))

    def _interpolate_pr(self, s: State) -> jax.Array:
        tp, fp, fn = s["tp"], s["fp"], s["fn"]
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, jnp.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        ratio = jnp.where(
            (p[:-1] > 0) & (p[1:] > 0), _divide_no_nan(p[:-1], jnp.maximum(p[1:], 0)), 1.0
        )
        terms = _divide_no_nan(
            slope * (dtp + intercept * jnp.log(ratio)), jnp.maximum(tp[1:] + fn[1:], 0)
        )
        return self._per_label(terms)

    def compute(self, state: State) -> jax.Array:
        """The area under the curve from the confusion counts.

        Args:
            state: the counts from :meth:`update`.

        Returns:
            A float32 scalar (per-label areas averaged with ``multi_label``).
        """
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr(state)
        tp, fp, tn, fn = state["tp"], state["fp"], state["tn"], state["fn"]
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:
            scale = _divide_no_nan(tp + fn, tn + fp)
            x = jnp.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            y = jnp.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x = jnp.maximum(x, 0.0)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = jnp.minimum(y[:-1], y[1:])
        else:
            heights = jnp.maximum(y[:-1], y[1:])
        return self._per_label((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for :func:`serialize`.

        Returns:
            Every constructor argument by name (``thresholds`` as given, or None).
        """
        return {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "name": self.name,
            "thresholds": self.init_thresholds,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": self.label_weights,
            "from_logits": self.from_logits,
        }


_AVERAGES = (None, "micro", "macro", "weighted")


class FBetaScore(Metric):
    """Keras's ``FBetaScore``: per-class F-beta from weighted tp/fp/fn, averaged by ``average``.

    Inputs are 2-D, ``(batch, num_classes)``: one-hot (or multi-hot) targets and scores.
    The number of classes comes from the model's output width or the first batch.

    Args:
        average: None (the default: one value per class, an array ``(num_classes,)``),
            ``"micro"`` (one score from counts pooled over classes), ``"macro"`` (the mean of
            the per-class scores) or ``"weighted"`` (their mean weighted by each class's
            support, the weighted count of its positive targets).
        beta: how many times as much recall weighs as precision (> 0); 1.0 by default.
        threshold: a prediction above it counts as positive, in (0, 1]; None (the default)
            counts the (non-zero) maximum of each row.
        name: the key in the logs; None (the default) gives ``"fbeta_score"``.

    Raises:
        ValueError: for an unknown ``average``, a ``beta`` that is not a number > 0, or a
            ``threshold`` outside (0, 1].
        TypeError: for a ``threshold`` that is not a number, or a ``name`` that is not a
            string.
    """

    default_name = "fbeta_score"

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str | None = None,
    ) -> None:
        if average not in _AVERAGES:
            raise ValueError(f"average must be one of {_AVERAGES}, got {average!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not beta > 0:
            raise ValueError(f"beta must be a number > 0, got {beta!r}.")
        if threshold is not None and not 0.0 < _check_threshold(threshold, "threshold") <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}.")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        super().__init__(name, None)

    def initial_state(self) -> State:
        """The empty per-class counts.

        Returns:
            ``{"tp", "fp", "fn", "support"}``: float32 zeros of shape ``(num_classes,)``
            (scalars for ``average="micro"``).

        Raises:
            ValueError: if the number of classes is not known yet (not compiled with the
                model's output width and no :meth:`update_state` call).
        """
        if self.units is None:
            raise ValueError(
                f"{type(self).__name__} needs the number of classes to build its state: call "
                "update_state once, or compile it (output_units)."
            )
        shape = () if self.average == "micro" else (self.units,)
        return {k: _zeros(shape) for k in ("tp", "fp", "fn", "support")}

    def update(
        self,
        state: State,
        y_true: jax.Array,
        y_pred: jax.Array,
        sample_weight: jax.Array | None = None,
    ) -> State:
        """Add one batch's weighted per-class counts (pure).

        Args:
            state: the counts so far (see :meth:`initial_state`).
            y_true: one-hot (or multi-hot) targets, ``(batch, num_classes)``.
            y_pred: scores or probabilities, ``(batch, num_classes)``.
            sample_weight: per-example weights, ``(batch,)``, or None (the default) for 1.

        Returns:
            The new counts, the shapes of ``state``'s.

        Raises:
            ValueError: if ``y_true`` or ``y_pred`` is not 2-D.
        """
        y_true = jnp.asarray(y_true, jnp.float32)
        y_pred = jnp.asarray(y_pred, jnp.float32)
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs (batch_size, output_dim); got "
                f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}."
            )
        if self.threshold is None:
            pred = (y_pred >= jnp.max(y_pred, axis=-1, keepdims=True)) & (jnp.abs(y_pred) > 1e-9)
        else:
            pred = y_pred > self.threshold
        pred = pred.astype(jnp.float32)
        w = jnp.ones((y_true.shape[0], 1), jnp.float32)
        if sample_weight is not None:
            w = jnp.asarray(sample_weight, jnp.float32).reshape(-1, 1)
        axis = None if self.average == "micro" else 0

        def wsum(v: jax.Array) -> jax.Array:
            return jnp.sum(v * w, axis=axis)

        return {
            "tp": state["tp"] + wsum(pred * y_true),
            "fp": state["fp"] + wsum(pred * (1 - y_true)),
            "fn": state["fn"] + wsum((1 - pred) * y_true),
            "support": state["support"] + wsum(y_true),
        }

    def compute(self, state: State) -> jax.Array:
        """The F-beta score ``(1 + b²)·P·R / (b²·P + R)`` from the counts, averaged.

        Args:
            state: the counts from :meth:`update`.

        Returns:
            A float32 scalar, or ``(num_classes,)`` per-class scores with ``average=None``.
        """
        tp = state["tp"]
        precision = tp / (tp + state["fp"] + EPSILON)
        recall = tp / (tp + state["fn"] + EPSILON)
        b2 = self.beta**2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + EPSILON)
        if self.average == "weighted":
            support = state["support"]
            return jnp.sum(score * support / (jnp.sum(support) + EPSILON))
        if self.average is not None:
            return jnp.mean(score)
        return score

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for :func:`serialize`.

        Returns:
            ``{"average", "beta", "threshold", "name"}``.
        """
        return {
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
            "name": self.name,
        }


class F1Score(FBetaScore):
    """Keras's ``F1Score``: :class:`FBetaScore` with ``beta=1``.

    Args:
        average: None (the default: per-class scores), ``"micro"``, ``"macro"`` or
            ``"weighted"``, as in :class:`FBetaScore`.
        threshold: a prediction above it counts as positive, in (0, 1]; None (the default)
            counts the (non-zero) maximum of each row.
        name: the key in the logs; None (the default) gives ``"f1_score"``.

    Raises:
        ValueError: for an unknown ``average`` or a ``threshold`` outside (0, 1].
        TypeError: for a ``threshold`` that is not a number, or a ``name`` that is not a
            string.

    Example:
        >>> import jax.numpy as jnp
        >>> m = F1Score(average="micro", threshold=0.5)
        >>> float(m(jnp.array([[1.0, 0.0], [0.0, 1.0]]), jnp.array([[0.9, 0.2], [0.8, 0.1]])))
        0.4999999403953552
    """

    default_name = "f1_score"

    def __init__(
        self, average: str | None = None, threshold: float | None = None, name: str | None = None
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for :func:`serialize`.

        Returns:
            ``{"average", "threshold", "name"}``.
        """
        return {"average": self.average, "threshold": self.threshold, "name": self.name}


_AGGREGATIONS = (None, "uniform_average", "variance_weighted_average")


class R2Score(Metric):
    """Coefficient of determination over the whole pass (Keras's ``R2Score``).

    ``1 - Σ w·(y - ŷ)² / Σ w·(y - ȳ)²`` per output, from weighted sums over every batch.
    Inputs are 2-D, ``(batch, outputs)``; the number of outputs comes from the model's output
    width or the first batch.

    Args:
        class_aggregation: how the per-output scores combine: ``"uniform_average"`` (the
            default: their mean), ``"variance_weighted_average"`` (weighted by each output's
            variance) or None (one value per output: an array ``(outputs,)``).
        num_regressors: for the adjusted R², the number of independent regressors (an int
            >= 0); 0 (the default) gives the plain R². When it is not below the number of
            samples minus 1 the plain R² is returned, as Keras.
        name: the key in the logs; None (the default) gives ``"r2_score"``.

    Raises:
        ValueError: for an unknown ``class_aggregation`` or a negative ``num_regressors``.
        TypeError: for a ``num_regressors`` that is not an int, or a ``name`` that is not a
            string.

    Example:
        >>> import jax.numpy as jnp
        >>> m = R2Score()
        >>> y, p = jnp.array([[1.0], [4.0], [3.0]]), jnp.array([[2.0], [4.0], [4.0]])
        >>> round(float(m(y, p)), 4)
        0.5714
    """

    default_name = "r2_score"

    def __init__(
        self,
        class_aggregation: str | None = "uniform_average",
        num_regressors: int = 0,
        name: str | None = None,
    ) -> None:
        if class_aggregation not in _AGGREGATIONS:
            raise ValueError(
                f"class_aggregation must be one of {_AGGREGATIONS}, got {class_aggregation!r}."
            )
        if isinstance(num_regressors, bool) or not isinstance(num_regressors, int):
            raise TypeError(f"num_regressors must be an int >= 0, got {num_regressors!r}.")
        if num_regressors < 0:
            raise ValueError(f"num_regressors must be >= 0, got {num_regressors!r}.")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        super().__init__(name, None)

    def initial_state(self) -> State:
        """The empty weighted sums, per output.

        Returns:
            ``{"sum", "squared_sum", "total_mse", "count"}`` (float32 zeros of shape
            ``(outputs,)``) and ``"num_samples"`` (a float32 scalar).

        Raises:
            ValueError: if the number of outputs is not known yet (not compiled with the
                model's output width and no :meth:`update_state` call).
        """
        if self.units is None:
            raise ValueError(
                "R2Score needs the number of outputs to build its state: call update_state "
                "once, or compile it (output_units)."
            )
        state = {k: _zeros((self.units,)) for k in ("sum", "squared_sum", "total_mse", "count")}
        state["num_samples"] = _zeros()
        return state

    def update(
        self,
        state: State,
        y_true: jax.Array,
        y_pred: jax.Array,
        sample_weight: jax.Array | None = None,
    ) -> State:
        """Add one batch's weighted sums (pure).

        Args:
            state: the sums so far (see :meth:`initial_state`).
            y_true: the targets, ``(batch, outputs)`` (a 1-D ``(batch,)`` facing
                ``(batch, 1)`` predictions is aligned).
            y_pred: the predictions, ``(batch, outputs)``.
            sample_weight: per-example weights ``(batch,)``, per-entry weights
                ``(batch, outputs)``, or None (the default) for 1.

        Returns:
            The new sums, the shapes of ``state``'s.

        Raises:
            ValueError: if ``y_true`` or ``y_pred`` is not 2-D (after alignment).
        """
        y_true, y_pred = _same_rank(
            jnp.asarray(y_true, jnp.float32), jnp.asarray(y_pred, jnp.float32)
        )
        if y_true.ndim != 2 or y_pred.ndim != 2:
            raise ValueError(
                f"R2Score expects 2D inputs (batch_size, output_dim); got "
                f"y_true.shape={y_true.shape} and y_pred.shape={y_pred.shape}."
            )
        w = jnp.asarray(1.0 if sample_weight is None else sample_weight, jnp.float32)
        if w.ndim == 1:
            w = w[:, None]
        w = jnp.broadcast_to(w, y_true.shape)
        return {
            "sum": state["sum"] + jnp.sum(y_true * w, axis=0),
            "squared_sum": state["squared_sum"] + jnp.sum(y_true * y_true * w, axis=0),
            "total_mse": state["total_mse"] + jnp.sum(jnp.square(y_true - y_pred) * w, axis=0),
            "count": state["count"] + jnp.sum(w, axis=0),
            "num_samples": state["num_samples"] + y_true.size,
        }

    def compute(self, state: State) -> jax.Array:
        """R² (adjusted when ``num_regressors`` > 0) from the sums, aggregated.

        Args:
            state: the sums from :meth:`update`.

        Returns:
            A float32 scalar, or ``(outputs,)`` per-output scores with
            ``class_aggregation=None``. An output with no variance (and errors) scores 0.
        """
        mean = state["sum"] / state["count"]
        total = state["squared_sum"] - state["sum"] * mean
        raw = 1.0 - state["total_mse"] / total
        raw = jnp.where(jnp.isinf(raw), 0.0, raw)
        if self.class_aggregation == "uniform_average":
            score = jnp.mean(raw)
        elif self.class_aggregation == "variance_weighted_average":
            score = jnp.sum(total * raw) / jnp.sum(total)
        else:
            score = raw
        if self.num_regressors:
            n, p = state["num_samples"], self.num_regressors
            adjusted = 1.0 - (1.0 - score) * (n - 1.0) / jnp.maximum(n - p - 1.0, 1.0)
            score = jnp.where(p < n - 1, adjusted, score)  # Keras falls back to plain R²
        return score

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for :func:`serialize`.

        Returns:
            ``{"class_aggregation", "num_regressors", "name"}``.
        """
        return {
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
            "name": self.name,
        }


METRIC_CLASSES: dict[str, type[Metric]] = {
    cls.__name__: cls
    for cls in (
        Metric,
        MeanMetricWrapper,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        MeanSquaredError,
        MeanAbsoluteError,
        MeanAbsolutePercentageError,
        MeanSquaredLogarithmicError,
        CosineSimilarity,
        BinaryCrossentropy,
        CategoricalCrossentropy,
        SparseCategoricalCrossentropy,
        RootMeanSquaredError,
        Precision,
        Recall,
        AUC,
        FBetaScore,
        F1Score,
        R2Score,
    )
}

# Keras's string names for the metrics that have no per-example function of their own.
_OBJECT_NAMES: dict[str, type[Metric]] = {
    "root_mean_squared_error": RootMeanSquaredError,
    "rmse": RootMeanSquaredError,
    "precision": Precision,
    "recall": Recall,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
    "r2_score": R2Score,
}


def accuracy_for(loss: Any, output_units: int | None = None) -> MetricFunction:
    """The per-example accuracy ``"accuracy"`` means for ``loss`` and the output's width.

    Keras 3's rule, from the shapes: one output unit → binary accuracy; integer labels (the
    sparse loss) → sparse categorical accuracy; otherwise categorical accuracy (also for a
    multi-label binary cross-entropy with several units). With the width unknown, binary
    cross-entropy means binary accuracy.

    Args:
        loss: the compiled loss (anything :func:`fnn.losses.get` accepts), or None.
        output_units: the width of the model's output (the last axis of ``y_pred``), or None
            if unknown.

    Returns:
        :func:`binary_accuracy`, :func:`sparse_categorical_accuracy` or
        :func:`categorical_accuracy`.

    Raises:
        ValueError: for an unknown loss name (from :func:`fnn.losses.get`).
        TypeError: for a ``loss`` that is neither a name, a loss nor a callable.

    Example:
        >>> accuracy_for("binary_crossentropy", output_units=1).__name__
        'binary_accuracy'
        >>> accuracy_for("sparse_categorical_crossentropy", output_units=10).__name__
        'sparse_categorical_accuracy'
    """
    loss_obj = losses_lib.get(loss) if loss is not None else None
    if output_units == 1:
        return binary_accuracy
    # The loss as an object, or its per-example function given as the loss (Keras accepts both).
    fn = losses_lib.wrapped_function(loss_obj)
    if isinstance(loss_obj, losses_lib.SparseCategoricalCrossentropy) or (
        fn is losses_lib.sparse_categorical_crossentropy
    ):
        return sparse_categorical_accuracy
    binary = isinstance(loss_obj, losses_lib.BinaryCrossentropy) or (
        fn is losses_lib.binary_crossentropy
    )
    if binary and output_units is None:
        return binary_accuracy
    return categorical_accuracy


_ACCURACY_CLASSES: dict[MetricFunction, type[Metric]] = {
    binary_accuracy: BinaryAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    categorical_accuracy: CategoricalAccuracy,
}


def get(
    identifier: str | MetricFunction | Metric | type[Metric] | dict[str, Any],
    loss: Any = None,
    output_units: int | None = None,
) -> Metric:
    """Resolve a metric identifier to a :class:`Metric` object.

    Args:
        identifier: a name (``"accuracy"``, ``"auc"``, ``"mse"``, a registered function's
            name), a :class:`Metric` instance or subclass, a :func:`serialize` dict, or a
            per-example function ``(y_true, y_pred) -> values`` (its weighted mean).
        loss: the compiled loss, which picks what ``"accuracy"`` means; None by default.
        output_units: the width of the output (picks accuracy; builds per-class states); None
            (unknown) by default.

    Returns:
        The metric; a name given as a string is kept as its ``name``. A :class:`Metric`
        instance is returned itself (built with ``output_units``), not a copy.

    Raises:
        ValueError: for an unknown name (listing the valid ones) or a bad config dict.
        TypeError: for anything else.

    Example:
        >>> get("auc").name, type(get("mse")).__name__
        ('auc', 'Metric')
    """
    if isinstance(identifier, Metric):
        return identifier.build(output_units)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier().build(output_units)
    if isinstance(identifier, dict):
        return deserialize(identifier).build(output_units)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ACCURACY_NAMES:
            cls = _ACCURACY_CLASSES[accuracy_for(loss, output_units)]
            return cls(name=identifier)
        if key in _OBJECT_NAMES:
            return _OBJECT_NAMES[key](name=identifier).build(output_units)
        if key not in registry:
            valid = [*registry.names(), *ACCURACY_NAMES, *_OBJECT_NAMES]
            raise unknown_name_error("metric", identifier, valid)
        return Metric(identifier, registry.get(identifier))
    fn = resolve(registry, identifier, "metric")
    name = getattr(fn, "__name__", None)
    if isinstance(fn, functools.partial):
        name = getattr(fn.func, "__name__", None)
    return Metric(name or type(fn).__name__, fn)


def get_list(identifiers: Any, loss: Any = None, output_units: int | None = None) -> list[Metric]:
    """Resolve ``metrics=`` of compile: None, one identifier or a list of them (see :func:`get`).

    Args:
        identifiers: None, one identifier (a name, :class:`Metric`, config dict or callable)
            or a list or tuple of them.
        loss: the compiled loss, which picks what ``"accuracy"`` means; None by default.
        output_units: the width of the model's output, or None (the default) if unknown.

    Returns:
        The metrics, in order (an empty list for None).

    Raises:
        TypeError: for something that is not a list of identifiers.
        ValueError: for an unknown name, or two metrics with one name (or named ``"loss"``).

    Example:
        >>> [m.name for m in get_list(["accuracy", "auc"], loss="binary_crossentropy")]
        ['accuracy', 'auc']
    """
    if identifiers is None:
        return []
    if isinstance(identifiers, (str, Metric, dict)) or callable(identifiers):
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


def serialize(metric: Metric) -> dict[str, Any]:
    """A JSON-able ``{"class_name", "config"}`` for ``metric``.

    A plain :class:`Metric` (or wrapper) is saved by its function's registered name.

    Args:
        metric: one of fnn's metrics (a :class:`Metric` on a registered function, a
            :class:`MeanMetricWrapper`, or an instance of a built-in class).

    Returns:
        ``{"class_name": ..., "config": ...}``: the class's name and its
        :meth:`~Metric.get_config` (for a function-based metric ``"MeanMetricWrapper"`` with
        the function's name, the metric's name and any bound arguments).

    Raises:
        ValueError: for a metric built on an unregistered function, or a class that is not
            one of fnn's.

    Example:
        >>> serialize(AUC(num_thresholds=3))["config"]["num_thresholds"]
        3
    """
    if type(metric) in (Metric, MeanMetricWrapper):
        fn = metric.fn.func if isinstance(metric.fn, functools.partial) else metric.fn
        fn_name = registry.name_of(fn)
        if fn_name is None:
            raise ValueError(
                f"metric {metric.name!r} ({metric.fn!r}) is not registered, so it cannot be "
                "saved; register it with fnn.metrics.register(name, fn)."
            )
        config: dict[str, Any] = {"fn": fn_name, "name": metric.name}
        config.update(getattr(metric, "_kwargs", {}))
        return {"class_name": "MeanMetricWrapper", "config": config}
    if type(metric).__name__ not in METRIC_CLASSES:
        raise ValueError(f"metric class {type(metric).__name__} is not one of fnn's metrics.")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Inverse of :func:`serialize`.

    Args:
        config: a dict from :func:`serialize`, ``{"class_name": ..., "config": {...}}``.

    Returns:
        A new metric with an empty state.

    Raises:
        ValueError: for an unknown class or function name, or a malformed config.

    Example:
        >>> deserialize(serialize(get("mae"))).name
        'mae'
    """
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(f"a metric config must be {{'class_name', 'config'}}, got {config!r}.")
    name = config.get("class_name")
    cls = METRIC_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None or cls is Metric:
        raise unknown_name_error("metric class", name, [n for n in METRIC_CLASSES if n != "Metric"])
    kwargs = copy.deepcopy(config.get("config", {}))
    try:
        if cls is MeanMetricWrapper:
            return MeanMetricWrapper(registry.get(kwargs.pop("fn")), **kwargs)
        return cls.from_config(kwargs)
    except (TypeError, KeyError) as exc:
        raise ValueError(f"bad config for metric {name}: {exc}") from None
