"""Pooling layers: max and average over windows, and global pooling (Keras's, channels_last).

``MaxPooling1D/2D`` and ``AveragePooling1D/2D`` slide a ``pool_size`` window with ``strides``
(default: ``pool_size``) over the spatial axes; with ``padding="same"`` the average counts only
the input's own values in each window (as Keras does), and the max ignores the padding.
``GlobalAveragePooling1D/2D`` and ``GlobalMaxPooling1D/2D`` reduce over every spatial axis.
None has weights.

>>> import jax.numpy as jnp
>>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
>>> MaxPooling2D().apply({}, x)[0, :, :, 0].tolist()
[[5.0, 7.0], [13.0, 15.0]]
>>> GlobalAveragePooling2D().apply({}, x).tolist()
[[7.5]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn.layers.base import Layer, Shape, register_layer
from fnn.layers.conv import (
    check_data_format,
    check_spatial_input,
    check_window_fits,
    normalize_padding,
    normalize_tuple,
    window_output_length,
)


class _Pooling(Layer):
    """Shared by the windowed pooling layers; ``rank`` is the number of spatial axes."""

    rank = 0

    def __init__(
        self,
        pool_size: int | Sequence[int] = 2,
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.pool_size = normalize_tuple(pool_size, self.rank, "pool_size")
        self.strides = (
            self.pool_size if strides is None else normalize_tuple(strides, self.rank, "strides")
        )
        self.padding = normalize_padding(padding)
        check_data_format(data_format)

    def output_shape(self, input_shape: Any) -> Shape:
        """The pooled shape: each spatial axis by ``window_output_length``, channels kept.

        Args:
            input_shape: the shape of one example, without the batch axis: ``(steps,
                channels)`` (1D) or ``(height, width, channels)`` (2D).

        Returns:
            ``(*spatial, channels)``.

        Raises:
            ValueError: the input has another rank or, with ``padding="valid"``, is smaller
                than ``pool_size``.
        """
        shape = check_spatial_input(self, input_shape, self.rank)
        if self.padding == "valid":
            check_window_fits(self, shape, self.pool_size, (1,) * self.rank, "pool_size")
        spatial = tuple(
            window_output_length(n, p, self.padding, s)
            for n, p, s in zip(shape[:-1], self.pool_size, self.strides, strict=True)
        )
        return (*spatial, shape[-1])

    def _window(self, x: jax.Array, init: Any, op: Any) -> jax.Array:
        return jax.lax.reduce_window(
            x,
            init,
            op,
            window_dimensions=(1, *self.pool_size, 1),
            window_strides=(1, *self.strides, 1),
            padding=self.padding.upper(),
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class _MaxPooling(_Pooling):
    def call(self, params, state, x, *, key=None, training=False):
        return self._window(x, -jnp.inf, jax.lax.max), state


class _AveragePooling(_Pooling):
    def call(self, params, state, x, *, key=None, training=False):
        total = self._window(x, 0.0, jax.lax.add)
        if self.padding == "valid":
            size = 1
            for p in self.pool_size:
                size *= p
            return total / jnp.asarray(size, x.dtype), state
        counts = self._window(jnp.ones((1, *x.shape[1:-1], 1), x.dtype), 0.0, jax.lax.add)
        return total / counts, state


_POOL_ARGS = """
    Args:
        pool_size: the window's size{each}.
        strides: the steps between windows (default: ``pool_size``).
        padding: ``"valid"`` or ``"same"`` (output ``ceil(size / strides)``); any case.
        data_format: ``None`` or ``"channels_last"`` (the only layout fnn supports).
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: ``pool_size`` or ``strides`` is not a positive int or a tuple of them,
            ``padding`` is unknown or ``data_format`` is not channels_last; at build, inputs
            of another rank or, with ``padding="valid"``, smaller than the window.
        TypeError: ``padding`` is not a string.
"""


@register_layer
class MaxPooling1D(_MaxPooling):
    """The maximum over windows of ``(batch, steps, channels)`` inputs (Keras's
    ``MaxPooling1D``).

    Example:
        >>> import jax.numpy as jnp
        >>> MaxPooling1D(2).apply({}, jnp.array([[[1.0], [3.0], [2.0], [0.0], [5.0]]]))[..., 0]
        Array([[3., 2.]], dtype=float32)
    """

    __doc__ = (__doc__ or "") + _POOL_ARGS.format(each="")
    rank = 1


@register_layer
class MaxPooling2D(_MaxPooling):
    """The maximum over windows of ``(batch, height, width, channels)`` inputs (Keras's
    ``MaxPooling2D``).

    Example:
        >>> import jax.numpy as jnp
        >>> MaxPooling2D((2, 2)).output_shape((5, 6, 3))
        (2, 3, 3)
    """

    __doc__ = (__doc__ or "") + _POOL_ARGS.format(each=": (height, width), or one int for both")
    rank = 2


@register_layer
class AveragePooling1D(_AveragePooling):
    """The mean over windows of ``(batch, steps, channels)`` inputs (Keras's
    ``AveragePooling1D``).

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[[1.0], [3.0], [5.0]]])
        >>> AveragePooling1D(2, padding="same").apply({}, x)[..., 0].tolist()  # last window: [5]
        [[2.0, 5.0]]
    """

    __doc__ = (__doc__ or "") + _POOL_ARGS.format(each="")
    rank = 1


@register_layer
class AveragePooling2D(_AveragePooling):
    """The mean over windows of ``(batch, height, width, channels)`` inputs (Keras's
    ``AveragePooling2D``).

    Example:
        >>> import jax.numpy as jnp
        >>> AveragePooling2D().apply({}, jnp.arange(16.0).reshape(1, 4, 4, 1))[0, :, :, 0].tolist()
        [[2.5, 4.5], [10.5, 12.5]]
    """

    __doc__ = (__doc__ or "") + _POOL_ARGS.format(each=": (height, width), or one int for both")
    rank = 2


class _GlobalPooling(Layer):
    """Shared by the global pooling layers: reduce every spatial axis with ``reduce``."""

    rank = 0
    #: ``reduce(x, axis, keepdims=...)``: jnp.mean or jnp.max.
    reduce: Any = None

    def __init__(
        self,
        data_format: str | None = None,
        keepdims: bool = False,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        check_data_format(data_format)
        self.keepdims = bool(keepdims)

    def output_shape(self, input_shape: Any) -> Shape:
        """``(channels,)``, or with ``keepdims`` ``(1, ..., 1, channels)``.

        Args:
            input_shape: the shape of one example, without the batch axis: ``(steps,
                channels)`` (1D) or ``(height, width, channels)`` (2D).

        Returns:
            The pooled shape.

        Raises:
            ValueError: the input has another rank.
        """
        shape = check_spatial_input(self, input_shape, self.rank)
        return (*(1,) * self.rank, shape[-1]) if self.keepdims else (shape[-1],)

    def call(self, params, state, x, *, key=None, training=False):
        axes = tuple(range(1, 1 + self.rank))
        return self.reduce(x, axes, keepdims=self.keepdims), state

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "keepdims": self.keepdims}


_GLOBAL_ARGS = """
    Args:
        data_format: ``None`` or ``"channels_last"`` (the only layout fnn supports).
        keepdims: keep the spatial axes (as size 1); by default they are removed.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: ``data_format`` is not channels_last; at build, inputs of another rank.
"""


@register_layer
class GlobalAveragePooling1D(_GlobalPooling):
    """The mean over the steps of ``(batch, steps, channels)`` inputs: ``(batch, channels)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalAveragePooling1D().apply({}, jnp.array([[[1.0, 2.0], [3.0, 6.0]]])).tolist()
        [[2.0, 4.0]]
    """

    __doc__ = (__doc__ or "") + _GLOBAL_ARGS
    rank = 1
    reduce = staticmethod(jnp.mean)


@register_layer
class GlobalAveragePooling2D(_GlobalPooling):
    """The mean over height and width of ``(batch, height, width, channels)`` inputs.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalAveragePooling2D(keepdims=True).output_shape((5, 5, 3))
        (1, 1, 3)
    """

    __doc__ = (__doc__ or "") + _GLOBAL_ARGS
    rank = 2
    reduce = staticmethod(jnp.mean)


@register_layer
class GlobalMaxPooling1D(_GlobalPooling):
    """The maximum over the steps of ``(batch, steps, channels)`` inputs: ``(batch, channels)``.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalMaxPooling1D().apply({}, jnp.array([[[1.0, 2.0], [3.0, -6.0]]])).tolist()
        [[3.0, 2.0]]
    """

    __doc__ = (__doc__ or "") + _GLOBAL_ARGS
    rank = 1
    reduce = staticmethod(jnp.max)


@register_layer
class GlobalMaxPooling2D(_GlobalPooling):
    """The maximum over height and width of ``(batch, height, width, channels)`` inputs.

    Example:
        >>> import jax.numpy as jnp
        >>> GlobalMaxPooling2D().apply({}, jnp.arange(8.0).reshape(1, 2, 2, 2)).tolist()
        [[6.0, 7.0]]
    """

    __doc__ = (__doc__ or "") + _GLOBAL_ARGS
    rank = 2
    reduce = staticmethod(jnp.max)
