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
from typing import Any, cast

import jax
import jax.numpy as jnp

from fnn.registry import Registry

LossFunction = Callable[[jax.Array, jax.Array], jax.Array]

EPSILON = 1e-7  # Keras's clip for cross-entropy on probabilities (not used on the logits path)


def squeeze_or_expand_to_same_rank(
    x1: jax.Array, x2: jax.Array, expand_rank_1: bool = True
) -> tuple[jax.Array, jax.Array]:
    """Align two arrays whose ranks differ by one trailing axis of size 1 (Keras's rule).

    The array with the extra axis of size 1 loses it, except that a rank-1 partner is expanded
    instead (when ``expand_rank_1``). Other shapes are returned unchanged (no error here: the
    caller checks or broadcasts).

    Args:
        x1: the first array (or array-like), e.g. the targets.
        x2: the second array (or array-like), e.g. the predictions or the sample weights.
        expand_rank_1: whether a rank-1 array facing a ``(n, 1)`` one gains a trailing axis
            (True, the default, as Keras) rather than the other losing its own.

    Returns:
        ``(x1, x2)`` as JAX arrays, with ranks aligned where the rule applies.

    Example:
        >>> import jax.numpy as jnp
        >>> [a.shape for a in squeeze_or_expand_to_same_rank(jnp.zeros(3), jnp.zeros((3, 1)))]
        [(3, 1), (3, 1)]
        >>> x1, x2 = jnp.zeros((2, 3)), jnp.zeros((2, 3, 1))
        >>> [a.shape for a in squeeze_or_expand_to_same_rank(x1, x2)]
        [(2, 3), (2, 3)]
    """
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def _same_shape(y_true: jax.Array, y_pred: jax.Array, loss: str) -> tuple[jax.Array, jax.Array]:
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{loss}: y_true and y_pred must have the same shape, got y_true.shape="
            f"{tuple(y_true.shape)} and y_pred.shape={tuple(y_pred.shape)}."
        )
    return y_true, y_pred


def _check_smoothing(label_smoothing: float) -> float:
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)):
        raise TypeError(f"label_smoothing must be a number in [0, 1], got {label_smoothing!r}.")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}.")
    return float(label_smoothing)


def mean_squared_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Mean over the last axis of ``(y_true - y_pred) ** 2`` (Keras's ``mean_squared_error``).

    A trailing axis of 1 on one side is aligned first, as Keras does (see
    :func:`squeeze_or_expand_to_same_rank`); other shape differences broadcast.

    Args:
        y_true: the targets, e.g. ``(batch, units)``.
        y_pred: the predictions, the shape of ``y_true``.

    Returns:
        The per-example loss: the inputs' (aligned) shape without its last axis, e.g.
        ``(batch,)`` for ``(batch, units)`` inputs (a scalar for 1-D inputs).

    Example:
        >>> import jax.numpy as jnp
        >>> mean_squared_error(jnp.array([1.0, 8.0, 11.0]), jnp.zeros((3, 1))).tolist()
        [1.0, 64.0, 121.0]
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return jnp.mean(jnp.square(y_pred - y_true), axis=-1)


def mean_absolute_error(y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
    """Mean over the last axis of ``|y_true - y_pred|`` (Keras's ``mean_absolute_error``).

    Shapes are aligned as in :func:`mean_squared_error`.

    Args:
        y_true: the targets, e.g. ``(batch, units)``.
        y_pred: the predictions, the shape of ``y_true``.

    Returns:
        The per-example loss: the inputs' (aligned) shape without its last axis, e.g.
        ``(batch,)`` for ``(batch, units)`` inputs (a scalar for 1-D inputs).
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return jnp.mean(jnp.abs(y_pred - y_true), axis=-1)


def huber(y_true: jax.Array, y_pred: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss: quadratic within ``delta`` of the target, linear beyond; mean over last axis.

    Per entry, with ``e = |y_true - y_pred|``: ``0.5 * e**2`` if ``e <= delta``, else
    ``delta * e - 0.5 * delta**2`` (Keras's ``huber``). Shapes are aligned as in
    :func:`mean_squared_error`.

    Args:
        y_true: the targets, e.g. ``(batch, units)``.
        y_pred: the predictions, the shape of ``y_true``.
        delta: where the loss turns from quadratic to linear, in the units of ``y``; 1.0 by
            default (Keras's default).

    Returns:
        The per-example loss: the inputs' (aligned) shape without its last axis, e.g.
        ``(batch,)`` for ``(batch, units)`` inputs (a scalar for 1-D inputs).
    """
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    err = jnp.abs(y_pred - y_true)
    quad = jnp.minimum(err, delta)
    return jnp.mean(0.5 * quad * quad + delta * (err - quad), axis=-1)


def _log_probs(y_pred: jax.Array, from_logits: bool) -> jax.Array:
    if from_logits:
        return jax.nn.log_softmax(y_pred, axis=-1)
    p = y_pred / jnp.sum(y_pred, axis=-1, keepdims=True)
    return jnp.log(jnp.clip(p, EPSILON, 1.0 - EPSILON))


def categorical_crossentropy(
    y_true: jax.Array, y_pred: jax.Array, from_logits: bool = False, label_smoothing: float = 0.0
) -> jax.Array:
    """Cross-entropy of one-hot (or soft) targets against class probabilities or logits.

    Args:
        y_true: one-hot or soft targets, the shape of ``y_pred``, e.g. ``(batch, num_classes)``.
        y_pred: probabilities (renormalized to sum to 1, then clipped to ``[1e-7, 1 - 1e-7]``)
            or, with ``from_logits``, logits; classes on the last axis.
        from_logits: whether ``y_pred`` holds logits; False by default, as in Keras.
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + s / num_classes``; 0.0 by
            default.

    Returns:
        One value per example: the inputs' shape without the class axis, e.g. ``(batch,)``.

    Raises:
        ValueError: when the shapes differ (beyond a trailing axis of 1), as Keras, or when
            ``label_smoothing`` is outside [0, 1].
        TypeError: when ``label_smoothing`` is not a number.

    Example:
        >>> import jax.numpy as jnp
        >>> y, p = jnp.array([[0.0, 1.0]]), jnp.array([[0.5, 0.5]])
        >>> round(float(categorical_crossentropy(y, p)[0]), 4)
        0.6931
    """
    smoothing = _check_smoothing(label_smoothing)
    y_true, y_pred = _same_shape(y_true, y_pred, "categorical_crossentropy")
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + smoothing / y_pred.shape[-1]
    return -jnp.sum(y_true * _log_probs(y_pred, from_logits), axis=-1)


def sparse_categorical_crossentropy(
    y_true: jax.Array,
    y_pred: jax.Array,
    from_logits: bool = False,
    ignore_class: int | None = None,
) -> jax.Array:
    """Cross-entropy of integer class labels (shape ``(n,)`` or ``(n, 1)``).

    With ``ignore_class``, examples labelled with it get a loss of 0 (the loss objects then
    average over the other examples only, as Keras).

    Args:
        y_true: integer labels in ``[0, num_classes)``, ``y_pred``'s shape without its class
            axis, optionally with a trailing axis of 1 (e.g. ``(batch,)`` or ``(batch, 1)``);
            cast to int32. Labels are not range-checked: keep them in range.
        y_pred: class probabilities (renormalized to sum to 1, then clipped to
            ``[1e-7, 1 - 1e-7]``) or, with ``from_logits``, logits; classes on the last axis,
            e.g. ``(batch, num_classes)``.
        from_logits: whether ``y_pred`` holds logits (exact log-softmax) rather than
            probabilities; False by default, as in Keras.
        ignore_class: a label value whose examples get a loss of 0; None (the default) ignores
            none.

    Returns:
        One loss per example: ``y_pred``'s shape without its last axis, e.g. ``(batch,)``.

    Raises:
        ValueError: when ``y_true`` is not ``y_pred``'s shape without its class axis.

    Example:
        >>> import jax.numpy as jnp
        >>> p = jnp.array([[0.5, 0.5], [0.9, 0.1]])
        >>> [round(v, 4) for v in sparse_categorical_crossentropy(jnp.array([1, 0]), p).tolist()]
        [0.6931, 0.1054]
    """
    labels = jnp.asarray(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            "sparse_categorical_crossentropy: y_true must hold one integer label per row of "
            f"y_pred, got y_true.shape={tuple(jnp.shape(y_true))} and "
            f"y_pred.shape={tuple(y_pred.shape)}."
        )
    labels = labels.astype(jnp.int32)
    valid = None
    if ignore_class is not None:
        valid = labels != ignore_class
        labels = jnp.where(valid, labels, 0)
    per = -jnp.take_along_axis(_log_probs(y_pred, from_logits), labels[..., None], axis=-1)[..., 0]
    return per if valid is None else jnp.where(valid, per, 0.0)


def binary_crossentropy(
    y_true: jax.Array, y_pred: jax.Array, from_logits: bool = False, label_smoothing: float = 0.0
) -> jax.Array:
    """Binary cross-entropy, mean over the last axis, against probabilities or logits.

    Args:
        y_true: targets in [0, 1], the shape of ``y_pred``, e.g. ``(batch, 1)``.
        y_pred: probabilities (clipped to ``[1e-7, 1 - 1e-7]``) or, with ``from_logits``,
            logits (exact, via log-sigmoid).
        from_logits: whether ``y_pred`` holds logits; False by default, as in Keras.
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + 0.5 * s``; 0.0 by default.

    Returns:
        One value per example: the inputs' shape without the last axis (averaged over), e.g.
        ``(batch,)`` for ``(batch, 1)``.

    Raises:
        ValueError: when the shapes differ (beyond a trailing axis of 1), as Keras, or when
            ``label_smoothing`` is outside [0, 1].
        TypeError: when ``label_smoothing`` is not a number.
    """
    smoothing = _check_smoothing(label_smoothing)
    y_true, y_pred = _same_shape(y_true, y_pred, "binary_crossentropy")
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + 0.5 * smoothing
    if from_logits:
        per = -(y_true * jax.nn.log_sigmoid(y_pred) + (1 - y_true) * jax.nn.log_sigmoid(-y_pred))
    else:
        p = jnp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        per = -(y_true * jnp.log(p) + (1 - y_true) * jnp.log1p(-p))
    return jnp.mean(per, axis=-1)


REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


@dataclasses.dataclass(frozen=True)
class Loss:
    """Base class: subclasses implement :meth:`call`, the per-example loss.

    Args:
        reduction: Keras's reduction of the weighted per-example losses (keyword only):
            ``"sum_over_batch_size"`` (default: the sum over the number of entries),
            ``"sum"``, ``"mean"`` (the same as the default), ``"mean_with_sample_weight"``
            (the sum over the sum of the weights), or None/``"none"`` (no reduction).

    Raises:
        ValueError: for an unknown ``reduction``.
    """

    reduction: str | None = dataclasses.field(default="sum_over_batch_size", kw_only=True)

    def __post_init__(self) -> None:
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}.")

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        """The per-example loss (no weighting, no reduction).

        Args:
            y_true: the targets, ``(batch, ...)``.
            y_pred: the model's outputs, ``(batch, ...)``.

        Returns:
            One loss per example, ``(batch,)``.

        Raises:
            NotImplementedError: in the base class; subclasses implement it.
        """
        raise NotImplementedError

    def mask(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array | None:
        """Which per-example losses count; see ``ignore_class``.

        Args:
            y_true: the targets.
            y_pred: the model's outputs.

        Returns:
            A boolean mask over the per-example losses, or None: all count.
        """
        return None

    @property
    def name(self) -> str:
        """The class's name."""
        return type(self).__name__

    def __call__(
        self,
        y_true: jax.Array,
        y_pred: jax.Array,
        sample_weight: jax.Array | None = None,
        *,
        valid: jax.Array | None = None,
    ) -> jax.Array:
        """The weighted, reduced loss, exactly as Keras's ``Loss.__call__``.

        ``sample_weight`` of shape ``(n,)``, ``(n, 1)`` or the per-example loss's shape (with
        or without a trailing 1) is aligned with the per-example loss (Keras's
        ``squeeze_or_expand_to_same_rank``), then broadcast.

        Args:
            y_true: the targets, ``(batch, ...)``.
            y_pred: the model's outputs, ``(batch, ...)``.
            sample_weight: optional weights, one per example or per per-example-loss entry;
                None (the default) weighs every example 1.
            valid: fnn's extension, keyword only: a boolean ``(batch,)`` mask of the rows that
                exist; the other rows (padding added so that similar numbers of examples share
                one compiled program) are left out of the loss, the mask and every count, as if
                absent. None: all rows.

        Returns:
            A scalar for ``"sum_over_batch_size"``, ``"mean"``, ``"sum"`` and
            ``"mean_with_sample_weight"`` (0 when the divisor is 0); the weighted per-example
            losses, ``(batch,)``, for None/``"none"``.

        Example:
            >>> import jax.numpy as jnp
            >>> y, p = jnp.array([[0.0, 1.0], [0.0, 0.0]]), jnp.array([[1.0, 1.0], [1.0, 0.0]])
            >>> float(MeanSquaredError()(y, p, sample_weight=jnp.array([[1.0], [0.0]])))
            0.25
        """
        values = self.call(y_true, y_pred)
        weight = None if sample_weight is None else jnp.asarray(sample_weight, values.dtype)
        mask = self.mask(y_true, y_pred)
        size: Any = values.size
        if valid is not None:  # padding rows: out of the values, the mask and every count
            rows = jnp.asarray(valid, bool).reshape((-1,) + (1,) * (values.ndim - 1))
            values = jnp.where(rows, values, 0.0)
            rows = jnp.broadcast_to(rows, values.shape)
            size = jnp.sum(rows.astype(values.dtype))
            if mask is not None:
                mask = mask.reshape(mask.shape + (1,) * (rows.ndim - mask.ndim))
            mask = rows if mask is None else jnp.logical_and(mask, rows)
        if mask is not None:
            mask = mask.astype(values.dtype)
            if self.reduction in ("mean", "sum_over_batch_size"):
                mask = mask * (size / jnp.maximum(jnp.sum(mask), 1.0))
            if weight is not None:
                mask, weight = squeeze_or_expand_to_same_rank(mask, weight)
                weight = weight * mask
            else:
                weight = mask
        if weight is not None:
            values, weight = squeeze_or_expand_to_same_rank(values, weight)
            if weight.ndim < values.ndim:
                weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
            values = values * weight
        if self.reduction in (None, "none") or values.ndim == 0 or values.size == 0:
            return values
        total = jnp.sum(values)
        if self.reduction == "sum":
            return total
        if self.reduction == "mean_with_sample_weight" and weight is not None:
            divisor = jnp.sum(jnp.broadcast_to(weight, values.shape))
        else:
            divisor = jnp.asarray(size, total.dtype)
        return jnp.where(divisor == 0, 0.0, total / jnp.where(divisor == 0, 1.0, divisor))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, for saving.

        Returns:
            The dataclass fields by name.
        """
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class MeanSquaredError(Loss):
    """Keras's ``MeanSquaredError``: :func:`mean_squared_error`, weighted and reduced.

    Args:
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        ValueError: for an unknown ``reduction``.

    Example:
        >>> import jax.numpy as jnp
        >>> float(MeanSquaredError()(jnp.array([[0.0], [0.0]]), jnp.array([[1.0], [3.0]])))
        5.0
        >>> MeanSquaredError(reduction="none")(jnp.zeros((2, 1)), jnp.ones((2, 1))).tolist()
        [1.0, 1.0]
    """

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return mean_squared_error(y_true, y_pred)


@dataclasses.dataclass(frozen=True)
class MeanAbsoluteError(Loss):
    """Keras's ``MeanAbsoluteError``: :func:`mean_absolute_error`, weighted and reduced.

    Args:
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        ValueError: for an unknown ``reduction``.
    """

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return mean_absolute_error(y_true, y_pred)


@dataclasses.dataclass(frozen=True)
class Huber(Loss):
    """Keras's ``Huber(delta=1.0)``: :func:`huber`, weighted and reduced.

    Args:
        delta: where the loss turns from quadratic to linear, in the units of ``y``; 1.0 by
            default.
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        ValueError: for an unknown ``reduction``.
    """

    delta: float = 1.0

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return huber(y_true, y_pred, self.delta)


@dataclasses.dataclass(frozen=True)
class CategoricalCrossentropy(Loss):
    """Keras's ``CategoricalCrossentropy(from_logits=False, label_smoothing=0.0)``.

    :func:`categorical_crossentropy` on one-hot (or soft) targets, weighted and reduced.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities; False by
            default. (When a network ends in softmax, fnn's training fuses it into this loss
            on the logits anyway.)
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + s / num_classes``; 0.0 by
            default.
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        TypeError: if ``label_smoothing`` is not a number.
        ValueError: if ``label_smoothing`` is outside [0, 1], or for an unknown ``reduction``.
    """

    from_logits: bool = False
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_smoothing(self.label_smoothing)

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return categorical_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)


@dataclasses.dataclass(frozen=True)
class SparseCategoricalCrossentropy(Loss):
    """Keras's ``SparseCategoricalCrossentropy(from_logits=False, ignore_class=None)``.

    :func:`sparse_categorical_crossentropy` on integer labels, weighted and reduced. Examples
    labelled ``ignore_class`` are left out of the loss and of its average.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities; False by
            default.
        ignore_class: an int label whose examples are left out; None (the default) keeps all.
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        TypeError: if ``ignore_class`` is neither an int nor None.
        ValueError: for an unknown ``reduction``.

    Example:
        >>> import jax.numpy as jnp
        >>> loss = SparseCategoricalCrossentropy(ignore_class=-1)
        >>> round(float(loss(jnp.array([1, -1]), jnp.array([[0.5, 0.5], [0.9, 0.1]]))), 4)
        0.6931
    """

    from_logits: bool = False
    ignore_class: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ignore_class is not None and (
            isinstance(self.ignore_class, bool) or not isinstance(self.ignore_class, int)
        ):
            raise TypeError(f"ignore_class must be an int or None, got {self.ignore_class!r}.")

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return sparse_categorical_crossentropy(y_true, y_pred, self.from_logits, self.ignore_class)

    def mask(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array | None:
        if self.ignore_class is None:
            return None
        labels = jnp.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        return labels.astype(jnp.int32) != self.ignore_class


@dataclasses.dataclass(frozen=True)
class BinaryCrossentropy(Loss):
    """Keras's ``BinaryCrossentropy(from_logits=False, label_smoothing=0.0)``.

    :func:`binary_crossentropy` (mean over the last axis), weighted and reduced.

    Args:
        from_logits: whether ``y_pred`` holds logits rather than probabilities; False by
            default. (When a network ends in sigmoid, fnn's training fuses it into this loss
            on the logits anyway.)
        label_smoothing: in [0, 1]; targets become ``y * (1 - s) + 0.5 * s``; 0.0 by default.
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        TypeError: if ``label_smoothing`` is not a number.
        ValueError: if ``label_smoothing`` is outside [0, 1], or for an unknown ``reduction``.
    """

    from_logits: bool = False
    label_smoothing: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_smoothing(self.label_smoothing)

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        return binary_crossentropy(y_true, y_pred, self.from_logits, self.label_smoothing)


@dataclasses.dataclass(frozen=True)
class LossFunctionWrapper(Loss):
    """Wraps a user's per-example function ``fn(y_true, y_pred)`` as a :class:`Loss`.

    What :func:`get` returns for a callable or for a name registered with :func:`register`.
    ``y_true`` and ``y_pred`` are aligned (:func:`squeeze_or_expand_to_same_rank`) before
    ``fn`` sees them.

    Args:
        fn: the per-example loss, ``fn(y_true, y_pred) -> (batch,)``; :func:`mean_squared_error`
            by default.
        reduction: how the weighted per-example losses are reduced, as in :class:`Loss`
            (keyword only; ``"sum_over_batch_size"``, the batch mean, by default).

    Raises:
        ValueError: for an unknown ``reduction``.

    Example:
        >>> import jax.numpy as jnp
        >>> def l4(y_true, y_pred):
        ...     return jnp.mean((y_true - y_pred) ** 4, axis=-1)
        >>> loss = LossFunctionWrapper(l4)
        >>> loss.name, float(loss(jnp.zeros((2, 1)), jnp.array([[1.0], [2.0]])))
        ('l4', 8.5)
    """

    fn: LossFunction = dataclasses.field(default=mean_squared_error)

    @property
    def name(self) -> str:
        """The registered name of ``fn``, else its ``__name__``, else ``"loss"``."""
        return registry.name_of(self.fn) or str(getattr(self.fn, "__name__", "loss"))

    def call(self, y_true: jax.Array, y_pred: jax.Array) -> jax.Array:
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        """The registered name of ``fn`` and a non-default ``reduction``, for saving.

        Returns:
            ``{"fn": name}``, plus ``"reduction"`` when it is not the default.

        Raises:
            ValueError: if ``fn`` is not registered (register it with :func:`register`).
        """
        name = registry.name_of(self.fn)
        if name is None:
            raise ValueError(
                f"loss {self.fn!r} is not registered, so it cannot be saved by name; register "
                "it with fnn.losses.register(name, fn)."
            )
        config: dict[str, Any] = {"fn": name}
        if self.reduction != "sum_over_batch_size":
            config["reduction"] = self.reduction
        return config


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

registry: Registry[type[Loss] | LossFunction] = Registry("loss")
for _name, _cls in LOSS_CLASSES.items():
    registry.register(_name, _cls)


def register(name: str, fn: LossFunction | None = None) -> Any:
    """Register a per-example loss function under ``name`` (usable as a decorator).

    Args:
        name: the name (case-insensitive) that ``loss=`` will accept.
        fn: ``fn(y_true, y_pred) -> per-example loss``; None to use ``register`` as a decorator.

    Returns:
        ``fn``, or a decorator that registers the function it decorates.

    Raises:
        ValueError: ``name`` is already registered to another object.
    """
    return registry.register(name, fn)


def get(identifier: str | Loss | LossFunction) -> Loss:
    """Resolve a loss name, :class:`Loss` instance or per-example callable to a :class:`Loss`.

    Args:
        identifier: a registered name (``"mse"``), a :class:`Loss` instance or subclass, or a
            per-example function ``fn(y_true, y_pred)``.

    Returns:
        The :class:`Loss`.

    Raises:
        ValueError: an unknown name (the message lists the valid ones).
        TypeError: anything else.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        found = registry.get(identifier)
        if isinstance(found, type) and issubclass(found, Loss):
            return found()
        # Not a Loss class, so a per-example function (mypy cannot narrow this negative test).
        return LossFunctionWrapper(cast(LossFunction, found))
    if callable(identifier):
        return LossFunctionWrapper(cast(LossFunction, identifier))
    raise TypeError(
        f"loss must be a name ({', '.join(registry.names())}), a fnn.losses.Loss or a "
        f"callable (y_true, y_pred) -> per-example loss; got {type(identifier).__name__}."
    )


def wrapped_function(loss: Any) -> LossFunction | None:
    """The per-example function a loss given as a plain function wraps (a
    :class:`LossFunctionWrapper`'s ``fn``); None for any other loss.

    Args:
        loss: a resolved loss (see :func:`get`), or anything else.

    Returns:
        The wrapped function, or None.

    Example:
        >>> wrapped_function(get(mean_squared_error)) is mean_squared_error
        True
        >>> wrapped_function(MeanSquaredError()) is None
        True
    """
    return loss.fn if isinstance(loss, LossFunctionWrapper) else None


def serialize(loss: Loss) -> dict[str, Any]:
    """A JSON-able description of ``loss``.

    Args:
        loss: the loss.

    Returns:
        ``{"class_name": ..., "config": ...}``.
    """
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Inverse of :func:`serialize`.

    Args:
        config: what :func:`serialize` returned.

    Returns:
        The rebuilt :class:`Loss`.

    Raises:
        ValueError: an unknown class name, or a function name that is not registered.
    """
    classes = {cls.__name__: cls for cls in (*LOSS_CLASSES.values(), LossFunctionWrapper)}
    cls = classes.get(config.get("class_name", ""))
    if cls is None:
        raise ValueError(f"Unknown loss class {config.get('class_name')!r} in saved config.")
    kwargs = dict(config.get("config", {}))
    if cls is LossFunctionWrapper:
        kwargs["fn"] = registry.get(kwargs["fn"])
    return cls(**kwargs)
