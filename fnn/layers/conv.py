"""Convolution layers: Conv1D and Conv2D (Keras's arguments, defaults and weight layout).

Inputs are ``channels_last``: ``(batch, steps, channels)`` for Conv1D and
``(batch, height, width, channels)`` for Conv2D. The kernel has Keras's shape
``(*kernel_size, in_channels // groups, filters)``, so ``get_weights``/``set_weights`` exchange
arrays with Keras unchanged. The helpers for window arguments (``normalize_tuple``,
``normalize_padding``, ``window_output_length``, ``check_spatial_input``) are shared with the
pooling layers.

>>> import jax, jax.numpy as jnp
>>> conv = Conv2D(8, 3, padding="same", activation="relu")
>>> params = conv.init(jax.random.key(0), (28, 28, 1))
>>> params["kernel"].shape, conv.output_shape((28, 28, 1))
((3, 3, 1, 8), (28, 28, 8))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn import activations, initializers, regularizers
from fnn.layers.base import (
    Layer,
    Params,
    Shape,
    as_shape,
    callable_name,
    positive_int,
    register_layer,
)
from fnn.layers.core import Dense
from fnn.registry import unknown_name_error

#: What each spatial rank calls its input, for error messages.
INPUT_LAYOUT = {1: "(batch, steps, channels)", 2: "(batch, height, width, channels)"}


def normalize_tuple(value: Any, rank: int, argument: str) -> tuple[int, ...]:
    """An int or a sequence of ``rank`` positive ints, as a tuple of ``rank`` ints.

    Args:
        value: an int (used for every spatial axis) or a sequence of ``rank`` ints.
        rank: the number of spatial axes.
        argument: the name used in error messages.

    Returns:
        A tuple of ``rank`` positive ints.

    Raises:
        ValueError: ``value`` is not of that form.

    Example:
        >>> normalize_tuple(3, 2, "kernel_size"), normalize_tuple([2, 1], 2, "strides")
        ((3, 3), (2, 1))
    """
    values = (value,) * rank if isinstance(value, int) and not isinstance(value, bool) else value
    ok = isinstance(values, (list, tuple)) and len(values) == rank
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ValueError(
            f"{argument} must be a positive int or a tuple of {rank} positive ints, got {value!r}."
        )
    return tuple(int(v) for v in values)


def normalize_padding(padding: Any, valid: Sequence[str] = ("valid", "same")) -> str:
    """``padding`` lower-cased, checked against ``valid`` (Keras accepts any case).

    Args:
        padding: the user's ``padding`` argument, e.g. ``"same"`` or ``"VALID"``.
        valid: the paddings the layer supports (Conv1D adds ``"causal"``).

    Returns:
        ``padding`` in lower case.

    Raises:
        TypeError: ``padding`` is not a string.
        ValueError: it is not one of ``valid`` (the message lists them).

    Example:
        >>> normalize_padding("SAME")
        'same'
    """
    if not isinstance(padding, str):
        raise TypeError(
            f"padding must be one of {', '.join(valid)}, got {type(padding).__name__}: {padding!r}."
        )
    if padding.lower() not in valid:
        raise unknown_name_error("padding", padding, list(valid))
    return padding.lower()


def check_data_format(data_format: Any) -> None:
    """Accept Keras's ``data_format`` only where it means ``channels_last``.

    Args:
        data_format: the user's ``data_format`` argument: None or ``"channels_last"``.

    Raises:
        ValueError: any other value (fnn's spatial layers are channels_last).
    """
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"data_format must be 'channels_last' (or None), got {data_format!r}: fnn's "
            "spatial layers take channels-last inputs; move the channel axis last with "
            "np.moveaxis(x, 1, -1)."
        )


def window_output_length(
    length: int, window: int, padding: str, stride: int, dilation: int = 1
) -> int:
    """The output length of a sliding window along one axis (Keras's ``conv_output_length``).

    Args:
        length: the input length.
        window: the window (kernel or pool) size.
        padding: ``"valid"``, ``"same"`` or ``"causal"``.
        stride: the step between windows.
        dilation: the spacing of the window's taps.

    Returns:
        The output length; 0 or less when a valid window does not fit.

    Example:
        >>> window_output_length(8, 3, "valid", 1), window_output_length(8, 3, "same", 2)
        (6, 4)
    """
    if padding == "valid":
        return (length - (window - 1) * dilation - 1) // stride + 1
    return -(-length // stride)


def check_spatial_input(layer: Layer, input_shape: Any, rank: int) -> Shape:
    """``input_shape`` (no batch axis) as a shape of ``rank + 1`` dims (spatial and channels).

    Args:
        layer: the layer receiving the input (named in the message).
        input_shape: the shape of one example, without the batch axis.
        rank: the layer's number of spatial axes (1 for Conv1D, 2 for Conv2D).

    Returns:
        ``input_shape`` normalised by :func:`~fnn.layers.as_shape`.

    Raises:
        ValueError: the input has another rank, naming the layer and the shapes (or a
            dimension is not a positive int).
        TypeError: ``input_shape`` is not an int or a sequence of ints.
    """
    shape = as_shape(input_shape)
    if len(shape) != rank + 1:
        raise ValueError(
            f"{layer.describe()} takes inputs of shape {INPUT_LAYOUT[rank]}, got inputs of "
            f"shape {(None, *shape)} (rank {len(shape) + 1}, expected {rank + 2})."
        )
    return shape


def check_window_fits(
    layer: Layer, shape: Shape, window: Shape, dilation: Shape, what: str
) -> None:
    """Raise when a ``valid`` window (dilated) is larger than the input on a spatial axis.

    Args:
        layer: the layer (named in the message).
        shape: the input shape without the batch axis, spatial axes first.
        window: the window's size per spatial axis (``kernel_size`` or ``pool_size``).
        dilation: the window's dilation per spatial axis (1s for pooling).
        what: the window argument's name for the message (``"kernel_size"``,
            ``"pool_size"``).

    Raises:
        ValueError: on some spatial axis the input is shorter than the dilated window
            ``(window - 1) * dilation + 1``.
    """
    effective = tuple((w - 1) * d + 1 for w, d in zip(window, dilation, strict=True))
    if any(n < e for n, e in zip(shape, effective, strict=False)):
        raise ValueError(
            f"{layer.describe()}: the {what} {window}"
            + (f" (dilated to {effective})" if effective != window else "")
            + f" is larger than the input's spatial shape {shape[: len(window)]} (inputs of "
            f"shape {(None, *shape)}, padding 'valid'); use padding='same' or a smaller {what}."
        )


class _Conv(Layer):
    """Shared by Conv1D and Conv2D; ``rank`` is the number of spatial axes."""

    rank = 0
    weight_keys = (("params", "kernel"), ("params", "bias"))
    #: The engine runs convolutions unrolled on a CPU (see :mod:`fnn.engine`).
    is_convolution = True
    paddings: tuple[str, ...] = ("valid", "same")

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = 1,
        groups: int = 1,
        activation: str | Callable[[jax.Array], jax.Array] | None = None,
        use_bias: bool = True,
        kernel_initializer: str | Callable[..., jax.Array] = "glorot_uniform",
        bias_initializer: str | Callable[..., jax.Array] = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.filters = positive_int(filters, "filters")
        self.kernel_size = normalize_tuple(kernel_size, self.rank, "kernel_size")
        self.strides = normalize_tuple(strides, self.rank, "strides")
        self.padding = normalize_padding(padding, self.paddings)
        check_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, self.rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                f"strides > 1 is not supported together with dilation_rate > 1 (as in Keras), "
                f"got strides={self.strides} and dilation_rate={self.dilation_rate}."
            )
        self.groups = positive_int(groups, "groups")
        if self.filters % self.groups:
            raise ValueError(
                f"filters must be a multiple of groups, got filters={filters} and groups={groups}."
            )
        self.activation_id = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer_id = kernel_initializer
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer_id = bias_initializer
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _checked_shape(self, input_shape: Any) -> Shape:
        shape = check_spatial_input(self, input_shape, self.rank)
        if shape[-1] % self.groups:
            raise ValueError(
                f"{self.describe()}: the input's {shape[-1]} channels must be a multiple of "
                f"groups={self.groups} (inputs of shape {(None, *shape)})."
            )
        if self.padding == "valid":
            check_window_fits(self, shape, self.kernel_size, self.dilation_rate, "kernel_size")
        return shape

    def output_shape(self, input_shape: Any) -> Shape:
        """The output shape: each spatial axis by :func:`window_output_length`, then ``filters``.

        Args:
            input_shape: the shape of one example, without the batch axis: ``(steps,
                channels)`` for Conv1D, ``(height, width, channels)`` for Conv2D.

        Returns:
            ``(*spatial, filters)``.

        Raises:
            ValueError: the input has another rank, its channels are not a multiple of
                ``groups``, or (``padding="valid"``) it is smaller than the dilated kernel.
        """
        shape = self._checked_shape(input_shape)
        spatial = tuple(
            window_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(
                shape[:-1], self.kernel_size, self.strides, self.dilation_rate, strict=True
            )
        )
        return (*spatial, self.filters)

    def init(self, key: jax.Array, input_shape: Any) -> Params:
        """The kernel and bias for inputs of ``input_shape`` (checked as :meth:`output_shape`).

        Args:
            key: a ``jax.random`` key for the initializers.
            input_shape: the shape of one example, without the batch axis.

        Returns:
            ``{"kernel": (*kernel_size, channels // groups, filters), "bias": (filters,)}``,
            float32 (no bias when ``use_bias=False``).

        Raises:
            ValueError: the input does not fit the layer (see :meth:`output_shape`).
        """
        shape = self._checked_shape(input_shape)
        k_kernel, k_bias = jax.random.split(key)
        kernel_shape = (*self.kernel_size, shape[-1] // self.groups, self.filters)
        params = {"kernel": self.kernel_initializer(k_kernel, kernel_shape, jnp.float32)}
        if self.use_bias:
            params["bias"] = self.bias_initializer(k_bias, (self.filters,), jnp.float32)
        return params

    def _lax_padding(self) -> Any:
        if self.padding == "causal":
            return [((self.kernel_size[0] - 1) * self.dilation_rate[0], 0)]
        return self.padding.upper()

    def call(self, params, state, x, *, key=None, training=False):
        spatial = {1: "W", 2: "HW"}[self.rank]
        y = jax.lax.conv_general_dilated(
            x,
            params["kernel"].astype(x.dtype),
            window_strides=self.strides,
            padding=self._lax_padding(),
            rhs_dilation=self.dilation_rate,
            dimension_numbers=(f"N{spatial}C", f"{spatial}IO", f"N{spatial}C"),
            feature_group_count=self.groups,
        )
        if self.use_bias:
            y = y + params["bias"].astype(y.dtype)
        return self.activation(y), state

    # The activation and the weight penalties work as Dense's (same attributes).
    regularization_loss = Dense.regularization_loss
    output_activation = Dense.output_activation
    without_output_activation = Dense.without_output_activation

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            "activation": callable_name(self.activation_id, activations.registry),
            "use_bias": self.use_bias,
            "kernel_initializer": callable_name(self.kernel_initializer_id, initializers.registry),
            "bias_initializer": callable_name(self.bias_initializer_id, initializers.registry),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


@register_layer
class Conv1D(_Conv):
    """1D convolution over ``(batch, steps, channels)`` inputs (Keras's ``Conv1D``).

    ``y = activation(conv(x, kernel) + bias)``; params ``{"kernel": (kernel_size, in // groups,
    filters), "bias": (filters,)}``.

    Args:
        filters: the number of output channels.
        kernel_size: the window length (an int or a 1-tuple).
        strides: the step between windows. Not above 1 together with ``dilation_rate`` > 1.
        padding: ``"valid"`` (no padding), ``"same"`` (output length ``ceil(steps /
            strides)``) or ``"causal"`` (left padding only: output ``t`` sees inputs ``<= t``);
            any case.
        data_format: ``None`` or ``"channels_last"`` (the only layout fnn supports).
        dilation_rate: the spacing between the kernel's taps.
        groups: split the channels into this many groups convolved separately.
        activation: an activation name or callable (None: linear).
        use_bias: whether to add a bias.
        kernel_initializer: the kernel's initializer (Keras's default ``glorot_uniform``).
        bias_initializer: the bias's initializer.
        kernel_regularizer: ``"l1"``, ``"l2"``, ``"l1_l2"`` or an ``L1L2`` penalty.
        bias_regularizer: the same for the bias.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: a bad argument; at build, inputs of another rank or shorter than the
            (dilated) kernel with ``padding="valid"``.
        TypeError: ``filters``, ``groups`` or ``padding`` is of the wrong type.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> conv = Conv1D(4, 3, padding="causal")
        >>> conv.apply(conv.init(jax.random.key(0), (10, 2)), jnp.ones((5, 10, 2))).shape
        (5, 10, 4)
    """

    rank = 1
    paddings = ("valid", "same", "causal")


@register_layer
class Conv2D(_Conv):
    """2D convolution over ``(batch, height, width, channels)`` inputs (Keras's ``Conv2D``).

    ``y = activation(conv(x, kernel) + bias)``; params ``{"kernel": (*kernel_size,
    in // groups, filters), "bias": (filters,)}``.

    Args:
        filters: the number of output channels.
        kernel_size: the window's (height, width), or one int for both.
        strides: the steps between windows. Not above 1 together with ``dilation_rate`` > 1.
        padding: ``"valid"`` (no padding) or ``"same"`` (output ``ceil(size / strides)``);
            any case.
        data_format: ``None`` or ``"channels_last"`` (the only layout fnn supports).
        dilation_rate: the spacing between the kernel's taps.
        groups: split the channels into this many groups convolved separately.
        activation: an activation name or callable (None: linear).
        use_bias: whether to add a bias.
        kernel_initializer: the kernel's initializer (Keras's default ``glorot_uniform``).
        bias_initializer: the bias's initializer.
        kernel_regularizer: ``"l1"``, ``"l2"``, ``"l1_l2"`` or an ``L1L2`` penalty.
        bias_regularizer: the same for the bias.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: a bad argument; at build, inputs of another rank (e.g. ``(batch,
            features)``) or smaller than the (dilated) kernel with ``padding="valid"``.
        TypeError: ``filters``, ``groups`` or ``padding`` is of the wrong type.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> conv = Conv2D(2, (3, 2), strides=2)
        >>> conv.apply(conv.init(jax.random.key(0), (7, 6, 3)), jnp.ones((1, 7, 6, 3))).shape
        (1, 3, 3, 2)
    """

    rank = 2
