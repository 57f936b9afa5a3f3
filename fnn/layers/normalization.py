"""Normalization layers: BatchNormalization and LayerNormalization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn import initializers
from fnn.layers.base import (
    Layer,
    Params,
    Shape,
    State,
    as_shape,
    callable_name,
    number,
    register_layer,
)


# -- normalization: scale (gamma) and shift (beta) over some axes -------------------------------
def _axes(axis: Any, argument: str = "axis") -> tuple[int, ...]:
    axes = (axis,) if isinstance(axis, int) else axis
    try:
        axes = tuple(axes)
    except TypeError:
        raise TypeError(
            f"{argument} must be an int or a list of ints, got {type(axis).__name__}: {axis!r}."
        ) from None
    if not axes or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        raise TypeError(f"{argument} must be an int or a non-empty list of ints, got {axis!r}.")
    return axes


class _Normalization(Layer):
    """Shared by BatchNormalization and LayerNormalization: ``gamma``/``beta`` over ``axis``."""

    weight_keys: tuple[tuple[str, str], ...] = (("params", "gamma"), ("params", "beta"))

    def __init__(
        self,
        axis: int | Sequence[int] = -1,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        from fnn import regularizers

        super().__init__(input_shape=input_shape, name=name)
        self.axis = _axes(axis)
        self.epsilon = number(epsilon, "epsilon")
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}.")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer_id = beta_initializer
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer_id = gamma_initializer
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def _resolved_axes(self, ndim: int) -> tuple[int, ...]:
        """``axis`` as sorted non-negative axes of a batched input of rank ``ndim``."""
        out = []
        for a in self.axis:
            r = a + ndim if a < 0 else a
            if not 1 <= r < ndim:
                raise ValueError(
                    f"{self.describe()}: axis {a} is out of range for inputs of rank {ndim} "
                    "(batch axis included; the batch axis 0 cannot be an axis here)."
                )
            out.append(r)
        return tuple(sorted(set(out)))

    def _param_shape(self, input_shape: Shape) -> Shape:
        # The resolved axes count the batch axis, and are never 0.
        return tuple(input_shape[a - 1] for a in self._resolved_axes(len(input_shape) + 1))

    def _broadcast(self, v: jax.Array, x: jax.Array) -> jax.Array:
        shape = [1] * x.ndim
        for a in self._resolved_axes(x.ndim):
            shape[a] = x.shape[a]
        return v.reshape(shape).astype(x.dtype)

    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        shape = self._param_shape(as_shape(input_shape))
        k_gamma, k_beta = jax.random.split(key)
        params = {}
        if self.scale:
            params["gamma"] = self.gamma_initializer(k_gamma, shape, jnp.float32)
        if self.center:
            params["beta"] = self.beta_initializer(k_beta, shape, jnp.float32)
        return params

    def _normalize(self, params, x, mean, var) -> jax.Array:
        y = (x - mean) * jax.lax.rsqrt(var + jnp.asarray(self.epsilon, x.dtype))
        if self.scale:
            y = y * self._broadcast(params["gamma"], x)
        if self.center:
            y = y + self._broadcast(params["beta"], x)
        return y

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        shape = as_shape(input_shape)
        self._resolved_axes(len(shape) + 1)
        return shape

    def regularization_loss(self, params: Params) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        for reg, k in ((self.gamma_regularizer, "gamma"), (self.beta_regularizer, "beta")):
            if reg is not None and k in params:
                total = total + reg(params[k])
        return total

    def get_config(self) -> dict[str, Any]:
        from fnn import regularizers

        return {
            **super().get_config(),
            "axis": self.axis[0] if len(self.axis) == 1 else list(self.axis),
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": callable_name(self.beta_initializer_id, initializers.registry),
            "gamma_initializer": callable_name(self.gamma_initializer_id, initializers.registry),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


@register_layer
class BatchNormalization(_Normalization):
    """Normalizes with the batch's statistics in training, the moving ones at inference.

    Keras's ``BatchNormalization``: trainable ``gamma``/``beta`` and the non-trainable state
    ``moving_mean``/``moving_variance`` (one entry per feature along ``axis``). In training the
    output is ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with the batch's mean and
    (biased) variance, and the new state is ``moving * momentum + batch * (1 - momentum)``,
    returned, never mutated. Weights in Keras's order: gamma, beta, moving_mean, moving_variance.

    Args:
        axis: the feature axis of the batched input (batch axis 0 included, so the default -1
            is the last axis, channels_last); statistics are taken over every other axis.
        momentum: the weight of the old moving statistics in each update, in ``[0, 1]``
            (Keras's default 0.99).
        epsilon: a positive number added to the variance before the square root (default
            1e-3).
        center: whether to learn the offset ``beta`` (default True).
        scale: whether to learn the factor ``gamma`` (default True).
        beta_initializer: ``beta``'s initializer (default ``"zeros"``).
        gamma_initializer: ``gamma``'s initializer (default ``"ones"``).
        moving_mean_initializer: the moving mean's initializer (default ``"zeros"``).
        moving_variance_initializer: the moving variance's initializer (default ``"ones"``).
        beta_regularizer: a penalty on ``beta`` added to the loss (``"l1"``, ``"l2"``, an
            ``L1L2``...); None (the default): none.
        gamma_regularizer: the same for ``gamma``.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        TypeError: ``axis`` is not an int, ``momentum`` or ``epsilon`` is not a number, or an
            initializer or regularizer is of the wrong type.
        ValueError: ``momentum`` is outside ``[0, 1]``, ``epsilon`` is not positive, or an
            initializer or regularizer name is unknown; at build, ``axis`` is out of range
            or the batch axis.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> bn = BatchNormalization()
        >>> params, state = bn.init(jax.random.key(0), 3), bn.init_state(3)
        >>> y, state = bn.call(params, state, jnp.arange(6.0).reshape(2, 3), training=True)
        >>> [round(v, 2) for v in y[0].tolist()]
        [-1.0, -1.0, -1.0]
        >>> [round(v, 3) for v in state["moving_mean"].tolist()]
        [0.015, 0.025, 0.035]
    """

    weight_keys = (
        ("params", "gamma"),
        ("params", "beta"),
        ("state", "moving_mean"),
        ("state", "moving_variance"),
    )
    has_state = True
    mixes_rows = True  # batch statistics in training

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}: {axis!r}.")
        super().__init__(
            axis,
            epsilon,
            center,
            scale,
            beta_initializer,
            gamma_initializer,
            beta_regularizer,
            gamma_regularizer,
            input_shape=input_shape,
            name=name,
        )
        self.momentum = number(momentum, "momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}.")
        self.moving_mean_initializer_id = moving_mean_initializer
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer_id = moving_variance_initializer
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        """The moving statistics, one entry per feature along ``axis``.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            ``{"moving_mean": (features,), "moving_variance": (features,)}``, float32, from
            their initializers.

        Raises:
            ValueError: ``axis`` is out of range for inputs of ``input_shape``.
        """
        shape = self._param_shape(as_shape(input_shape))
        k_mean, k_var = jax.random.split(jax.random.key(0))
        return {
            "moving_mean": self.moving_mean_initializer(k_mean, shape, jnp.float32),
            "moving_variance": self.moving_variance_initializer(k_var, shape, jnp.float32),
        }

    def call(self, params, state, x, *, key=None, training=False):
        """Normalize ``x`` with the batch's statistics (training) or the moving ones.

        Args:
            params: ``{"gamma", "beta"}`` as :meth:`init` made them (either may be absent).
            state: ``{"moving_mean", "moving_variance"}`` as :meth:`init_state` made them.
            x: a batch of inputs, batch axis first.
            key: unused (no randomness).
            training: True: normalize with the batch's mean and biased variance and return
                updated moving statistics; False (the default): use the moving statistics
                and return ``state`` unchanged.

        Returns:
            ``(y, new_state)``: ``y`` shaped like ``x``, and the (updated) moving statistics.

        Raises:
            ValueError: ``state`` lacks the moving statistics (e.g. ``{}`` was passed).
        """
        if "moving_mean" not in state:
            raise ValueError(
                f"{self.describe()} needs its state (from init_state) with moving_mean and "
                "moving_variance."
            )
        if training:
            ax = self._resolved_axes(x.ndim)
            reduce = tuple(i for i in range(x.ndim) if i not in ax)
            mean, var = jnp.mean(x, axis=reduce), jnp.var(x, axis=reduce)
            m = self.momentum
            new_state = {
                k: (state[k] * m + v * (1.0 - m)).astype(state[k].dtype)
                for k, v in (("moving_mean", mean), ("moving_variance", var))
            }
        else:
            mean, var = state["moving_mean"], state["moving_variance"]
            new_state = state
        y = self._normalize(params, x, self._broadcast(mean, x), self._broadcast(var, x))
        return y, new_state

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "moving_mean_initializer": callable_name(
                self.moving_mean_initializer_id, initializers.registry
            ),
            "moving_variance_initializer": callable_name(
                self.moving_variance_initializer_id, initializers.registry
            ),
        }


@register_layer
class LayerNormalization(_Normalization):
    """Normalizes each example over ``axis`` (Keras's ``LayerNormalization``), then scales by
    ``gamma`` and shifts by ``beta`` (shaped like the normalized axes). No state.

    Args:
        axis: the axis or axes of the batched input to normalize over (batch axis 0
            included, so the default -1 is the last axis); an int or a list of ints.
        epsilon: a positive number added to the variance before the square root (default
            1e-3, as Keras).
        center: whether to add a learned offset ``beta``, shaped like the normalized axes,
            after normalizing (default True).
        scale: whether to multiply by a learned factor ``gamma``, shaped like ``beta``
            (default True).
        beta_initializer: the initializer of ``beta`` (default ``"zeros"``: no offset).
        gamma_initializer: the initializer of ``gamma`` (default ``"ones"``: no scaling).
        beta_regularizer: the penalty on ``beta`` added to the training loss (a name such as
            ``"l2"`` or an ``L1L2``); None (the default) adds nothing.
        gamma_regularizer: the penalty on ``gamma``, likewise.
        input_shape: the shape of one example without the batch axis (for a first layer).
        name: the layer's name.

    Raises:
        TypeError: ``axis`` is not an int or a non-empty list of ints, ``epsilon`` is not a
            number, or an initializer or regularizer is of the wrong type.
        ValueError: ``epsilon`` is not positive, or an initializer or regularizer name is
            unknown; at build, an axis is out of range or the batch axis.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> ln = LayerNormalization()
        >>> y = ln.apply(ln.init(jax.random.key(0), 2), jnp.array([[1.0, 3.0]]))
        >>> [round(v, 3) for v in y[0].tolist()]
        [-1.0, 1.0]
    """

    def call(self, params, state, x, *, key=None, training=False):
        ax = self._resolved_axes(x.ndim)
        mean = jnp.mean(x, axis=ax, keepdims=True)
        var = jnp.var(x, axis=ax, keepdims=True)
        return self._normalize(params, x, mean, var), state
