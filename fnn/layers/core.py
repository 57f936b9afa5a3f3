"""Everyday layers: Dense, Activation, Dropout, Flatten, Reshape and the Input marker."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn import activations, initializers
from fnn.layers.base import (
    Layer,
    Params,
    Shape,
    as_shape,
    callable_name,
    number,
    positive_int,
    register_layer,
)


class Dense(Layer):
    """Fully connected layer ``y = activation(x @ kernel + bias)`` (Keras's ``Dense``).

    Params: ``{"kernel": (in, units), "bias": (units,)}`` (no bias when ``use_bias=False``),
    float32, where ``in`` is the last axis of the input; inputs of higher rank
    ``(batch, ..., in)`` are transformed along their last axis to ``(batch, ..., units)``.
    Weights in Keras's order: kernel, bias.

    Args:
        units: the number of outputs, a positive int.
        activation: an activation name (``"relu"``, ``"softmax"``, ...) or callable applied
            to the output; None (the default) is linear.
        use_bias: whether to add a bias vector (default True).
        kernel_initializer: the kernel's initializer: a name, callable or initializer object
            (Keras's default ``"glorot_uniform"``).
        bias_initializer: the bias's initializer (default ``"zeros"``).
        input_shape: the input shape without the batch axis (first layer of a model).
        kernel_regularizer: a penalty on the kernel added to the loss: ``"l1"``, ``"l2"``,
            ``"l1_l2"``, an ``L1L2`` or its config; None (the default): none.
        bias_regularizer: the same for the bias.
        name: the layer's name.
        input_dim: Keras's legacy spelling of ``input_shape=(input_dim,)``.

    Raises:
        ValueError: ``units`` or ``input_dim`` is below 1, both ``input_shape`` and
            ``input_dim`` are given, or an activation, initializer or regularizer name is
            unknown.
        TypeError: ``units`` or ``input_dim`` is not an int, or an activation, initializer
            or regularizer is of another type.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dense(3, activation="relu")
        >>> params = layer.init(jax.random.key(0), 2)
        >>> params["kernel"].shape, layer.apply(params, jnp.ones((5, 2))).shape
        ((2, 3), (5, 3))
    """

    weight_keys = (("params", "kernel"), ("params", "bias"))

    def __init__(
        self,
        units: int,
        activation: str | Callable[[jax.Array], jax.Array] | None = None,
        use_bias: bool = True,
        kernel_initializer: str | Callable[..., jax.Array] = "glorot_uniform",
        bias_initializer: str | Callable[..., jax.Array] = "zeros",
        input_shape: int | Sequence[int] | None = None,
        *,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        name: str | None = None,
        input_dim: int | None = None,
    ) -> None:
        if input_dim is not None:  # Keras's legacy spelling of input_shape=(input_dim,)
            if input_shape is not None:
                raise ValueError(
                    f"Dense got both input_shape={input_shape!r} and input_dim={input_dim!r}; "
                    "pass one."
                )
            input_shape = (positive_int(input_dim, "input_dim"),)
        super().__init__(input_shape=input_shape, name=name)
        self.units = positive_int(units, "units")
        self.activation_id = activation
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer_id = kernel_initializer
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer_id = bias_initializer
        self.bias_initializer = initializers.get(bias_initializer)
        from fnn import regularizers

        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        shape = as_shape(input_shape)
        k_kernel, k_bias = jax.random.split(key)
        params = {"kernel": self.kernel_initializer(k_kernel, (shape[-1], self.units), jnp.float32)}
        if self.use_bias:
            params["bias"] = self.bias_initializer(k_bias, (self.units,), jnp.float32)
        return params

    def call(self, params, state, x, *, key=None, training=False):
        y = x @ params["kernel"].astype(x.dtype)
        if self.use_bias:
            y = y + params["bias"].astype(x.dtype)
        return self.activation(y), state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return (*as_shape(input_shape)[:-1], self.units)

    def regularization_loss(self, params: Params) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        if self.kernel_regularizer is not None:
            total = total + self.kernel_regularizer(params["kernel"])
        if self.bias_regularizer is not None and self.use_bias:
            total = total + self.bias_regularizer(params["bias"])
        return total

    @property
    def output_activation(self):
        """The layer's ``activation``, or None when it is linear."""
        return None if self.activation is activations.linear else self.activation

    def without_output_activation(self) -> Dense:
        """A copy of this layer with a linear activation (the same params fit it).

        Returns:
            The copy; its output is ``x @ kernel + bias``, the logits.
        """
        clone = copy.copy(self)
        clone.activation_id, clone.activation = None, activations.linear
        return clone

    def get_config(self) -> dict[str, Any]:
        from fnn import regularizers

        return {
            **super().get_config(),
            "units": self.units,
            "activation": callable_name(self.activation_id, activations.registry),
            "use_bias": self.use_bias,
            "kernel_initializer": callable_name(self.kernel_initializer_id, initializers.registry),
            "bias_initializer": callable_name(self.bias_initializer_id, initializers.registry),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class Activation(Layer):
    """Applies an activation element-wise (Keras's ``Activation``); no weights.

    Args:
        activation: an activation name (``"relu"``, ``"softmax"``, ...) or a callable
            ``f(x) -> y`` on arrays.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: an unknown activation name.
        TypeError: ``activation`` is neither a name nor a callable.

    Example:
        >>> import jax.numpy as jnp
        >>> Activation("relu").apply({}, jnp.array([-1.0, 1.0])).tolist()
        [0.0, 1.0]
    """

    def __init__(
        self,
        activation: str | Callable[[jax.Array], jax.Array],
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.activation_id = activation
        self.activation = activations.get(activation)

    def call(self, params, state, x, *, key=None, training=False):
        return self.activation(x), state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return as_shape(input_shape)

    @property
    def output_activation(self):
        """The layer's ``activation``, or None when it is linear."""
        return None if self.activation is activations.linear else self.activation

    def without_output_activation(self) -> Activation:
        """``Activation("linear")`` with this layer's name: the identity.

        Returns:
            The new layer.
        """
        return Activation("linear", name=self.name)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "activation": callable_name(self.activation_id, activations.registry),
        }


@register_layer
class Dropout(Layer):
    """Sets a fraction ``rate`` of the inputs to 0 during training (Keras's ``Dropout``).

    Inverted dropout: the kept inputs are scaled by ``1 / (1 - rate)``, so the expected output
    equals the input and inference (``training=False``, the default) is the identity. Training
    needs an explicit ``key=``; ``fit`` derives one per step from the model's seed. ``seed``,
    when given, is folded into that key. ``noise_shape`` (with the batch axis; ``None`` entries
    take the input's size) shares one mask along the axes where it is 1.

    Args:
        rate: the fraction of the inputs to drop, in ``[0, 1)``; 0 makes the layer the
            identity.
        noise_shape: the shape of the binary mask, one entry per input axis (batch axis
            included), each a positive int or None (the input's size on that axis); None
            (the default): one independent draw per input value. E.g. ``(None, 1, None)``
            drops the same features at every step of ``(batch, steps, features)``.
        seed: an int folded into the key the layer receives (the masks change with it,
            reproducibly); None (the default): the key as given.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        TypeError: ``rate`` is not a number, or ``seed`` is not an int or None.
        ValueError: ``rate`` is outside ``[0, 1)``, or ``noise_shape`` holds something other
            than positive ints and None.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> layer = Dropout(0.5)
        >>> y = layer.apply({}, jnp.ones((1, 8)), key=jax.random.key(0), training=True)
        >>> sorted(set(y.ravel().tolist()) | {0.0, 2.0})
        [0.0, 2.0]
        >>> layer.apply({}, jnp.ones((1, 3))).tolist()
        [[1.0, 1.0, 1.0]]
    """

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        rate = number(rate, "rate")
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"rate is the fraction of inputs dropped and must be in [0, 1), got {rate!r}."
            )
        self.rate = rate
        if noise_shape is not None:
            noise_shape = tuple(noise_shape)
            if not all(d is None or (isinstance(d, int) and d >= 1) for d in noise_shape):
                raise ValueError(
                    f"noise_shape must hold positive ints or None, got {noise_shape!r}."
                )
        self.noise_shape = noise_shape
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__}: {seed!r}.")
        self.seed = seed

    def _mask_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.noise_shape is None:
            return shape
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"noise_shape {self.noise_shape!r} must have one entry per input axis (batch "
                f"included), but the input has shape {shape}."
            )
        return tuple(s if d is None else d for d, s in zip(self.noise_shape, shape, strict=True))

    def call(self, params, state, x, *, key=None, training=False):
        if not training or self.rate == 0.0:
            return x, state
        return self.drop(x, self.rate, key), state

    def drop(self, x: jax.Array, rate: Any, key: jax.Array | None) -> jax.Array:
        """``x`` with a fraction ``rate`` dropped (training mode). ``rate`` may be traced: a
        population sweeps it per member (:mod:`fnn.population`).

        Args:
            x: a batch of inputs, batch axis first.
            rate: the fraction to drop, in ``[0, 1)`` (a float or a traced scalar; not checked
                here).
            key: the ``jax.random`` key of the mask (``seed`` is folded into it when set).

        Returns:
            An array like ``x``: each value kept with probability ``1 - rate`` and scaled by
            ``1 / (1 - rate)``, else 0.

        Raises:
            ValueError: ``key`` is None, or ``noise_shape`` does not have one entry per axis
                of ``x``.
        """
        if key is None:
            raise ValueError(
                f"{self.describe()} needs key= (a jax.random key) when training=True; fit "
                "passes one per step."
            )
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        keep = jax.random.bernoulli(key, 1.0 - rate, self._mask_shape(x.shape))
        return jnp.where(keep, x / (1.0 - rate), jnp.zeros((), x.dtype))

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return as_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "noise_shape": noise, "seed": self.seed}


@register_layer
class Flatten(Layer):
    """Flattens each example to a vector: ``(batch, *shape) -> (batch, prod(shape))``.

    Keras's ``Flatten`` (channels_last); no weights.

    Args:
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Example:
        >>> import jax.numpy as jnp
        >>> Flatten().apply({}, jnp.ones((2, 3, 4))).shape
        (2, 12)
    """

    def call(self, params, state, x, *, key=None, training=False):
        return x.reshape((x.shape[0], -1)), state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return (math.prod(as_shape(input_shape)),)


@register_layer
class Reshape(Layer):
    """Reshapes each example to ``target_shape`` (Keras's ``Reshape``); no weights.

    Args:
        target_shape: the output shape without the batch axis: an int or a tuple of positive
            ints, at most one of them -1 (inferred from the input's size).
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        TypeError: ``target_shape`` is neither an int nor a sequence.
        ValueError: ``target_shape`` is empty, holds something other than positive ints and
            one -1, or holds more than one -1.

    Example:
        >>> import jax.numpy as jnp
        >>> Reshape((-1, 2)).apply({}, jnp.ones((5, 6))).shape
        (5, 3, 2)
    """

    def __init__(
        self,
        target_shape: int | Sequence[int],
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        dims = (target_shape,) if isinstance(target_shape, int) else target_shape
        try:
            dims = tuple(dims)
        except TypeError:
            raise TypeError(
                f"target_shape must be a tuple of ints, got {type(target_shape).__name__}: "
                f"{target_shape!r}."
            ) from None
        valid = all(
            isinstance(d, int) and not isinstance(d, bool) and (d >= 1 or d == -1) for d in dims
        )
        if not dims or not valid or dims.count(-1) > 1:
            raise ValueError(
                "target_shape must be a non-empty tuple of positive ints with at most one -1 "
                f"(without the batch axis), got {target_shape!r}."
            )
        self.target_shape = tuple(int(d) for d in dims)

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        """``target_shape`` with its -1 resolved for inputs of ``input_shape``.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            The output shape, a tuple of positive ints holding as many values as the input.

        Raises:
            ValueError: the input's size does not fit ``target_shape``.
        """
        shape = as_shape(input_shape)
        size, known = math.prod(shape), math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape and size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size or -1 in self.target_shape:
            raise ValueError(
                f"{self.describe()} cannot reshape inputs of shape {shape} ({size} values) to "
                f"target_shape {self.target_shape}."
            )
        return self.target_shape

    def call(self, params, state, x, *, key=None, training=False):
        return x.reshape((x.shape[0], *self.output_shape(x.shape[1:]))), state

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register_layer
class Input(Layer):
    """Fixes the model's input shape (no batch axis); the identity otherwise.

    As in Keras, ``Sequential([Input((10,)), Dense(3)])`` is built at once. It must be the
    model's first layer.

    Args:
        shape: the shape of one example, without the batch axis (an int ``n`` means
            ``(n,)``), as Keras's ``keras.Input(shape=...)``.
        name: the layer's name.

    Raises:
        TypeError: ``shape`` is not an int or a sequence of ints.
        ValueError: a dimension of ``shape`` is not a positive int.

    Example:
        >>> from fnn.models import Sequential
        >>> Sequential([Input((10,)), Dense(3)]).output_shape
        (3,)
    """

    def __init__(self, shape: int | Sequence[int], *, name: str | None = None) -> None:
        super().__init__(input_shape=as_shape(shape, "shape"), name=name)

    @property
    def shape(self) -> Shape:
        """The shape given to the constructor (no batch axis)."""
        assert self.input_shape is not None  # set by __init__
        return self.input_shape

    def call(self, params, state, x, *, key=None, training=False):
        return x, state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        """The input shape itself, checked against the declared one.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            ``input_shape`` as a tuple of ints.

        Raises:
            ValueError: ``input_shape`` differs from the shape given to the constructor.
        """
        got = as_shape(input_shape)
        if got != self.shape:
            raise ValueError(f"{self.describe()} declares inputs of shape {self.shape}, got {got}.")
        return got

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape)}


for _cls in (Dense, Activation):
    register_layer(_cls)
