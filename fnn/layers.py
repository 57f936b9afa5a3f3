"""Layers: small objects holding configuration, with pure ``init`` and ``apply`` functions.

The layer contract (every layer and :func:`serial` follow it):

- ``init(key, input_shape) -> params``: a pytree of trainable arrays (dicts of arrays; ``{}``
  for a layer without weights). ``input_shape`` excludes the batch axis; an int ``n`` means
  ``(n,)``.
- ``init_state(input_shape) -> state``: a pytree of non-trainable arrays (running statistics);
  ``{}`` for most layers.
- ``apply(params, x) -> y``: the forward pass, pure, safe under ``jit``, ``grad`` and ``vmap``.
  Layers with randomness take ``key=`` and ``training=``; layers with state take ``state=`` and
  then return ``(y, new_state)``: ``apply(params, x, state=state, key=key, training=True)``.
  The stateless, deterministic case stays exactly ``apply(params, x)``.
- ``call(params, state, x, *, key, training) -> (y, new_state)``: the one method a layer
  implements; ``apply`` is a convenience over it.
- ``output_shape(input_shape)``, ``get_config()``, and Keras's weight order through
  ``weights_of(params, state)`` / ``load_weights(weights, input_shape)``.

Example::

    >>> import jax, jax.numpy as jnp
    >>> from fnn.layers import Dense, serial
    >>> net = serial(Dense(4, activation="relu"), Dense(1))
    >>> params = net.init(jax.random.key(0), 3)
    >>> net.apply(params, jnp.ones((2, 3))).shape
    (2, 1)
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn import activations, initializers

Params = Any
State = Any
Shape = tuple[int, ...]


def as_shape(shape: int | Sequence[int], argument: str = "input_shape") -> Shape:
    """Normalise an input shape: an int ``n`` means ``(n,)``; every dimension a positive int."""
    if isinstance(shape, (bool, str, bytes)):
        raise TypeError(f"{argument} must be an int or a tuple of ints, got {shape!r}.")
    if isinstance(shape, int):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise TypeError(
            f"{argument} must be an int or a tuple of ints, got {type(shape).__name__}: {shape!r}."
        ) from None
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(
                f"{argument} must hold positive ints (without the batch axis), got {shape!r}."
            )
    return tuple(int(d) for d in dims)


def _positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{argument} must be a positive int, got {value!r}.")
    return int(value)


class Layer:
    """Base class. Subclasses implement :meth:`call` and, if they hold weights, :meth:`init`."""

    #: Keras's weight order: (collection, key) pairs, collection "params" or "state".
    weight_keys: tuple[tuple[str, str], ...] = ()

    def __init__(self, *, input_shape: int | Sequence[int] | None = None, name: str | None = None):
        self.input_shape = None if input_shape is None else as_shape(input_shape)
        self.name = name

    # -- the contract -----------------------------------------------------------------------
    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        """Trainable parameters for inputs of ``input_shape`` (no batch axis)."""
        return {}

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        """Non-trainable state (running statistics); ``{}`` for most layers."""
        return {}

    def call(
        self,
        params: Params,
        state: State,
        x: jax.Array,
        *,
        key: jax.Array | None = None,
        training: bool = False,
    ) -> tuple[jax.Array, State]:
        """The forward pass in full: ``(y, new_state)``."""
        raise NotImplementedError

    def apply(
        self,
        params: Params,
        x: jax.Array,
        *,
        state: State | None = None,
        key: jax.Array | None = None,
        training: bool = False,
    ) -> Any:
        """``y``, or ``(y, new_state)`` when ``state`` is given."""
        if state is None:
            if self.has_state:
                raise ValueError(
                    f"{self.describe()} keeps state (running statistics): pass state= and "
                    "receive (y, new_state)."
                )
            y, _ = self.call(params, self.empty_state(), x, key=key, training=training)
            return y
        return self.call(params, state, x, key=key, training=training)

    # -- derived helpers --------------------------------------------------------------------
    has_state: bool = False

    def empty_state(self) -> State:
        return {}

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        """Output shape (no batch axis) for inputs of ``input_shape``."""
        shape = as_shape(input_shape)
        params = jax.eval_shape(lambda k: self.init(k, shape), jax.random.key(0))
        state = self.init_state(shape)
        x = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
        out = jax.eval_shape(
            lambda p, s, x: self.call(p, s, x, key=jax.random.key(0), training=False)[0],
            params,
            state,
            x,
        )
        return tuple(out.shape[1:])

    def regularization_loss(self, params: Params) -> jax.Array:
        """Penalty added to the training loss (weight regularizers); 0 by default."""
        return jnp.zeros((), jnp.float32)

    @property
    def output_activation(self) -> Callable[[jax.Array], jax.Array] | None:
        """The element-wise activation this layer ends with, if any (for logit fusion)."""
        return None

    def without_output_activation(self) -> Layer:
        """The same layer with its final activation removed (same params structure)."""
        raise NotImplementedError(f"{self.describe()} has no output activation to remove.")

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-able (for saving and ``from_config``)."""
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def weights_of(self, params: Params, state: State) -> list[jax.Array]:
        """This layer's arrays in Keras's order (as ``get_weights`` lists them)."""
        trees = {"params": params, "state": state}
        return [trees[c][k] for c, k in self.weight_keys if k in trees[c]]

    def weight_shapes(self, input_shape: Shape) -> list[tuple[int, ...]]:
        """Shapes of :meth:`weights_of`'s arrays for inputs of ``input_shape``."""
        params = jax.eval_shape(lambda k: self.init(k, input_shape), jax.random.key(0))
        state = self.init_state(input_shape)
        return [tuple(w.shape) for w in self.weights_of(params, state)]

    def from_weights(
        self, weights: Sequence[Any], params: Params, state: State
    ) -> tuple[Params, State]:
        """New (params, state) with :meth:`weights_of`'s arrays replaced by ``weights``."""
        trees = {"params": dict(params), "state": dict(state) if isinstance(state, dict) else state}
        present = [(c, k) for c, k in self.weight_keys if k in trees[c]]
        for (c, k), w in zip(present, weights, strict=True):
            trees[c][k] = jnp.asarray(w, dtype=trees[c][k].dtype)
        return trees["params"], trees["state"]

    def describe(self) -> str:
        return f"{type(self).__name__}{'(' + repr(self.name) + ')' if self.name else ''}"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected layer ``y = activation(x @ kernel + bias)``.

    Params: ``{"kernel": (in, out), "bias": (out,)}`` (no bias when ``use_bias=False``).

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
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.units = _positive_int(units, "units")
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
        return None if self.activation is activations.linear else self.activation

    def without_output_activation(self) -> Dense:
        clone = copy.copy(self)
        clone.activation_id, clone.activation = None, activations.linear
        return clone

    def get_config(self) -> dict[str, Any]:
        from fnn import regularizers

        return {
            **super().get_config(),
            "units": self.units,
            "activation": _callable_name(self.activation_id, activations.registry),
            "use_bias": self.use_bias,
            "kernel_initializer": _callable_name(self.kernel_initializer_id, initializers.registry),
            "bias_initializer": _callable_name(self.bias_initializer_id, initializers.registry),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }


class Activation(Layer):
    """Applies an activation element-wise: ``Activation("relu")`` or any callable.

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
        return None if self.activation is activations.linear else self.activation

    def without_output_activation(self) -> Activation:
        return Activation("linear", name=self.name)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "activation": _callable_name(self.activation_id, activations.registry),
        }


def _callable_name(identifier: Any, registry: Any) -> Any:
    """A JSON-able name for a name-or-callable argument (callables must be registered)."""
    if identifier is None or isinstance(identifier, str):
        return identifier
    name = registry.name_of(identifier)
    if name is None:
        raise ValueError(
            f"{registry.kind} {identifier!r} is not registered, so it cannot be saved; register "
            f"it with fnn.{registry.kind}s.register(name, fn)."
        )
    return name


class Serial(Layer):
    """Layers applied one after another; params and state are lists, one entry per layer."""

    def __init__(
        self, layers: Sequence[Layer], *, name: str | None = None, compute_dtype: Any = None
    ) -> None:
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{i}] must be a fnn layer (e.g. fnn.layers.Dense), got "
                    f"{type(layer).__name__}: {layer!r}."
                )
        first_shape = layers[0].input_shape if layers else None
        super().__init__(input_shape=first_shape, name=name)
        self.layers = layers
        #: When set (e.g. bfloat16), inputs are cast to it and outputs back to float32.
        self.compute_dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)

    @property
    def has_state(self) -> bool:  # type: ignore[override]
        return any(layer.has_state for layer in self.layers)

    def input_shapes(self, input_shape: int | Sequence[int]) -> list[Shape]:
        """The input shape seen by each layer, then the final output shape."""
        shapes = [as_shape(input_shape)]
        for layer in self.layers:
            shapes.append(layer.output_shape(shapes[-1]))
        return shapes

    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        shapes = self.input_shapes(input_shape)
        return [
            layer.init(jax.random.fold_in(key, i), s)
            for i, (layer, s) in enumerate(zip(self.layers, shapes, strict=False))
        ]

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        shapes = self.input_shapes(input_shape)
        return [layer.init_state(s) for layer, s in zip(self.layers, shapes, strict=False)]

    def empty_state(self) -> State:
        return [layer.empty_state() for layer in self.layers]

    def call(self, params, state, x, *, key=None, training=False):
        if self.compute_dtype is not None:
            x = x.astype(self.compute_dtype)
        new_state = []
        for i, (layer, p, s) in enumerate(zip(self.layers, params, state, strict=True)):
            k = None if key is None else jax.random.fold_in(key, i)
            x, s = layer.call(p, s, x, key=k, training=training)
            new_state.append(s)
        if self.compute_dtype is not None:
            x = x.astype(jnp.float32)
        return x, new_state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return self.input_shapes(input_shape)[-1]

    def regularization_loss(self, params: Params) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        for layer, p in zip(self.layers, params, strict=True):
            total = total + layer.regularization_loss(p)
        return total

    @property
    def output_activation(self):
        return self.layers[-1].output_activation if self.layers else None

    def without_output_activation(self) -> Serial:
        return Serial(
            [*self.layers[:-1], self.layers[-1].without_output_activation()],
            name=self.name,
            compute_dtype=self.compute_dtype,
        )

    def weights_of(self, params: Params, state: State) -> list[jax.Array]:
        out: list[jax.Array] = []
        for layer, p, s in zip(self.layers, params, state, strict=True):
            out.extend(layer.weights_of(p, s))
        return out

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "layers": [layer_to_config(x) for x in self.layers]}


def serial(*layers: Layer) -> Serial:
    """Compose layers in sequence (stax's ``serial``): one layer whose params are a list.

    >>> import jax, jax.numpy as jnp
    >>> net = serial(Dense(8, activation="tanh"), Dense(2))
    >>> params = net.init(jax.random.key(1), (5,))
    >>> [p["kernel"].shape for p in params]
    [(5, 8), (8, 2)]
    """
    return Serial(layers)


LAYER_CLASSES: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Make a layer class known to :func:`layer_from_config` (for saving and loading)."""
    LAYER_CLASSES[cls.__name__] = cls
    return cls


for _cls in (Dense, Activation):
    register_layer(_cls)


def layer_to_config(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Inverse of :func:`layer_to_config`; only registered layer classes are built."""
    name = config.get("class_name")
    cls = LAYER_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown layer class {name!r}; known classes: {', '.join(sorted(LAYER_CLASSES))}."
        )
    return cls.from_config(dict(config.get("config", {})))


def count_params(tree: Any) -> int:
    """Number of scalars in a pytree of arrays."""
    return sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree))


# -- layers without weights: dropout, reshaping, the input marker ------------------------------
def _number(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}: {value!r}.")
    return float(value)


@register_layer
class Dropout(Layer):
    """Sets a fraction ``rate`` of the inputs to 0 during training (Keras's ``Dropout``).

    Inverted dropout: the kept inputs are scaled by ``1 / (1 - rate)``, so the expected output
    equals the input and inference (``training=False``, the default) is the identity. Training
    needs an explicit ``key=``; ``fit`` derives one per step from the model's seed. ``seed``,
    when given, is folded into that key. ``noise_shape`` (with the batch axis; ``None`` entries
    take the input's size) shares one mask along the axes where it is 1.

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
        rate = _number(rate, "rate")
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
        if key is None:
            raise ValueError(
                f"{self.describe()} needs key= (a jax.random key) when training=True; fit "
                "passes one per step."
            )
        if self.seed is not None:
            key = jax.random.fold_in(key, self.seed)
        keep = jax.random.bernoulli(key, 1.0 - self.rate, self._mask_shape(x.shape))
        return jnp.where(keep, x / (1.0 - self.rate), jnp.zeros((), x.dtype)), state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return as_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        noise = None if self.noise_shape is None else list(self.noise_shape)
        return {**super().get_config(), "rate": self.rate, "noise_shape": noise, "seed": self.seed}


@register_layer
class Flatten(Layer):
    """Flattens each example to a vector: ``(batch, *shape) -> (batch, prod(shape))``.

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
    """Reshapes each example to ``target_shape`` (no batch axis; one entry may be -1).

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

    As in Keras, ``Sequential([Input((10,)), Dense(3)])`` is built at once.

    >>> from fnn.models import Sequential
    >>> Sequential([Input((10,)), Dense(3)]).output_shape
    (3,)
    """

    def __init__(self, shape: int | Sequence[int], *, name: str | None = None) -> None:
        super().__init__(input_shape=as_shape(shape, "shape"), name=name)

    @property
    def shape(self) -> Shape:
        return self.input_shape

    def call(self, params, state, x, *, key=None, training=False):
        return x, state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        got = as_shape(input_shape)
        if got != self.shape:
            raise ValueError(f"{self.describe()} declares inputs of shape {self.shape}, got {got}.")
        return got

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape)}


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

    weight_keys = (("params", "gamma"), ("params", "beta"))

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
        self.epsilon = _number(epsilon, "epsilon")
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
        full = (None, *input_shape)
        return tuple(full[a] for a in self._resolved_axes(len(full)))

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
            "beta_initializer": _callable_name(self.beta_initializer_id, initializers.registry),
            "gamma_initializer": _callable_name(self.gamma_initializer_id, initializers.registry),
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

    >>> import jax, jax.numpy as jnp
    >>> bn = BatchNormalization()
    >>> params, state = bn.init(jax.random.key(0), 3), bn.init_state(3)
    >>> y, state = bn.apply(params, jnp.arange(6.0).reshape(2, 3), state=state, training=True)
    >>> [round(v, 2) for v in y[0].tolist()], [round(v, 3) for v in state["moving_mean"].tolist()]
    ([-1.0, -1.0, -1.0], [0.015, 0.025, 0.035])
    """

    weight_keys = (
        ("params", "gamma"),
        ("params", "beta"),
        ("state", "moving_mean"),
        ("state", "moving_variance"),
    )
    has_state = True

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
        self.momentum = _number(momentum, "momentum")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}.")
        self.moving_mean_initializer_id = moving_mean_initializer
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer_id = moving_variance_initializer
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        shape = self._param_shape(as_shape(input_shape))
        k_mean, k_var = jax.random.split(jax.random.key(0))
        return {
            "moving_mean": self.moving_mean_initializer(k_mean, shape, jnp.float32),
            "moving_variance": self.moving_variance_initializer(k_var, shape, jnp.float32),
        }

    def call(self, params, state, x, *, key=None, training=False):
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
            "moving_mean_initializer": _callable_name(
                self.moving_mean_initializer_id, initializers.registry
            ),
            "moving_variance_initializer": _callable_name(
                self.moving_variance_initializer_id, initializers.registry
            ),
        }


@register_layer
class LayerNormalization(_Normalization):
    """Normalizes each example over ``axis`` (Keras's ``LayerNormalization``), then scales by
    ``gamma`` and shifts by ``beta`` (shaped like the normalized axes). No state.

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
