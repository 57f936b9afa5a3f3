"""Combinators: layers made of layers, with stax's names and meaning on fnn's layer contract.

``serial`` chains layers; ``parallel`` applies one layer per input of a tuple; ``FanOut(n)``
copies its input ``n`` times; ``FanInSum`` and ``FanInConcat`` merge a tuple of inputs;
``Identity`` passes its input through; ``Residual(*layers)`` is ``x + serial(*layers)(x)``.
Between ``FanOut`` (or ``parallel``) and a fan-in, values are tuples of arrays and shapes are
tuples of shapes.

As in stax, the argument-free layers may be given as classes: ``serial(FanOut(2),
parallel(Dense(4), Identity), FanInSum)``. A combinator's params and state are lists, one entry
per inner layer; its weights (``weights_of``) are its inner layers' weights in order, so
``Sequential.get_weights``/``set_weights``, saving and ``summary()`` see through it.

>>> import jax, jax.numpy as jnp
>>> from fnn.layers import Dense
>>> block = serial(FanOut(2), parallel(Dense(3), Identity), FanInSum)
>>> params = block.init(jax.random.key(0), 3)
>>> block.output_shape(3), block.apply(params, jnp.ones((2, 3))).shape
((3,), (2, 3))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn.layers.base import (
    Layer,
    Params,
    Shape,
    State,
    as_shape,
    check_weight_count,
    format_shape,
    is_multi_shape,
    layer_from_config,
    layer_to_config,
    positive_int,
    register_layer,
)


def as_layer(item: Any, argument: str) -> Layer:
    """``item`` as a layer instance: a layer class taking no arguments (stax's ``FanInSum``,
    ``Identity``) is instantiated.

    Args:
        item: a layer, or a layer class whose constructor needs no arguments.
        argument: the name used in error messages.

    Returns:
        The layer.

    Raises:
        TypeError: ``item`` is neither.
    """
    if isinstance(item, type) and issubclass(item, Layer):
        try:
            item = item()
        except TypeError:
            raise TypeError(
                f"{argument} is the class {item.__name__}, which needs arguments: pass an "
                f"instance, e.g. {item.__name__}(...)."
            ) from None
    if not isinstance(item, Layer):
        raise TypeError(
            f"{argument} must be a fnn layer (e.g. fnn.layers.Dense), got "
            f"{type(item).__name__}: {item!r}."
        )
    return item


def check_input_kind(layer: Layer, shape: Any) -> None:
    """Raise a ValueError when ``layer`` gets a tuple of inputs but takes one, or the reverse.

    Args:
        layer: the layer about to receive inputs of ``shape``.
        shape: a normalised shape or tuple of shapes (no batch axis).

    Raises:
        ValueError: the kind of input does not fit the layer's ``multi_input``.
    """
    multi = is_multi_shape(shape)
    if layer.multi_input is True and not multi:
        raise ValueError(
            f"{layer.describe()} takes a tuple of inputs (from FanOut or parallel), got one "
            f"input of shape {format_shape(shape)}."
        )
    if layer.multi_input is False and multi:
        raise ValueError(
            f"{layer.describe()} takes one input, got {len(shape)} inputs of shapes "
            f"{format_shape(shape)}: merge them first with FanInSum or FanInConcat."
        )


def _fold(key: jax.Array | None, i: int) -> jax.Array | None:
    return None if key is None else jax.random.fold_in(key, i)


class _Combinator(Layer):
    """Shared by the layers holding layers: params and state are lists, one per inner layer."""

    multi_input: bool | None = None

    def __init__(self, layers: Sequence[Any], *, name: str | None = None) -> None:
        if isinstance(layers, (Layer, type)) or not isinstance(layers, Sequence):
            raise TypeError(
                f"layers must be a list of fnn layers, got {type(layers).__name__}: {layers!r}."
            )
        self.layers = [as_layer(x, f"layers[{i}]") for i, x in enumerate(layers)]
        super().__init__(input_shape=None, name=name)

    def layer_input_shapes(self, input_shape: Any) -> list[Any]:
        """The input shape each inner layer sees for inputs of ``input_shape``.

        Args:
            input_shape: the combinator's input shape (no batch axis), or a tuple of shapes.

        Returns:
            A list with one shape (or tuple of shapes) per inner layer, in order.

        Raises:
            NotImplementedError: always here; each combinator implements it.
        """
        raise NotImplementedError

    @property
    def has_state(self) -> bool:  # type: ignore[override]
        return any(layer.has_state for layer in self.layers)

    def init(self, key: jax.Array, input_shape: Any) -> Params:
        shapes = self.layer_input_shapes(input_shape)
        return [
            layer.init(jax.random.fold_in(key, i), s)
            for i, (layer, s) in enumerate(zip(self.layers, shapes, strict=True))
        ]

    def init_state(self, input_shape: Any) -> State:
        shapes = self.layer_input_shapes(input_shape)
        return [layer.init_state(s) for layer, s in zip(self.layers, shapes, strict=True)]

    def empty_state(self) -> State:
        return [layer.empty_state() for layer in self.layers]

    def regularization_loss(self, params: Params) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        for layer, p in zip(self.layers, params, strict=True):
            total = total + layer.regularization_loss(p)
        return total

    def weights_of(self, params: Params, state: State) -> list[jax.Array]:
        out: list[jax.Array] = []
        for layer, p, s in zip(self.layers, params, state, strict=True):
            out.extend(layer.weights_of(p, s))
        return out

    def from_weights(
        self, weights: Sequence[Any], params: Params, state: State
    ) -> tuple[Params, State]:
        counts = [
            len(layer.weights_of(p, s))
            for layer, p, s in zip(self.layers, params, state, strict=True)
        ]
        check_weight_count(self, weights, sum(counts), "")
        new_params, new_state, i = [], [], 0
        for layer, p, s, k in zip(self.layers, params, state, counts, strict=True):
            p, s = layer.from_weights(weights[i : i + k], p, s)
            new_params.append(p)
            new_state.append(s)
            i += k
        return new_params, new_state

    def get_config(self) -> dict[str, Any]:
        """The combinator's name and its inner layers' configs.

        Returns:
            ``{"name": ..., "layers": [layer_to_config(layer), ...]}``, with
            ``"trainable": False`` for a frozen combinator (so a saved model reloads frozen).
        """
        config: dict[str, Any] = {
            "name": self.name,
            "layers": [layer_to_config(x) for x in self.layers],
        }
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        layers = [layer_from_config(c) for c in config.pop("layers", [])]
        trainable = config.pop("trainable", True)
        layer = cls._from_layers(layers, **config)
        if trainable is False:
            layer.trainable = False
        return layer

    @classmethod
    def _from_layers(cls, layers: list[Layer], **config: Any) -> Layer:
        return cls(layers, **config)

    def __repr__(self) -> str:
        inner = ", ".join(repr(x) for x in self.layers)
        name = "" if self.name is None else f", name={self.name!r}"
        return f"{type(self).__name__}([{inner}]{name})"


@register_layer
class Serial(_Combinator):
    """Layers applied one after another (stax's ``serial``); params and state are lists.

    Args:
        layers: the layers, in order (argument-free layer classes are instantiated).
        name: the layer's name.
        compute_dtype: when set (e.g. bfloat16), inputs are cast to it (after any leading
            layer that reads integer ids, such as Embedding) and outputs back to float32.

    Raises:
        TypeError: an entry of ``layers`` is not a layer.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from fnn.layers import Dense
        >>> net = Serial([Dense(4), Dense(2)])
        >>> net.input_shapes(3)
        [(3,), (4,), (2,)]
    """

    def __init__(
        self, layers: Sequence[Any], *, name: str | None = None, compute_dtype: Any = None
    ) -> None:
        super().__init__(layers, name=name)
        self.input_shape = self.layers[0].input_shape if self.layers else None
        #: When set (e.g. bfloat16), inputs are cast to it and outputs back to float32.
        self.compute_dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)

    @property
    def multi_input(self) -> bool | None:  # type: ignore[override]
        """What the first inner layer takes: one array (False), a tuple (True), either (None)."""
        return self.layers[0].multi_input if self.layers else None

    @property
    def integer_input(self) -> bool:  # type: ignore[override]
        """Whether the first inner layer reads integer ids (``Embedding``): no cast before it."""
        return bool(self.layers) and self.layers[0].integer_input

    def input_shapes(self, input_shape: Any) -> list[Any]:
        """The input shape seen by each layer, then the final output shape.

        Args:
            input_shape: the shape of one example, without the batch axis (an int ``n``
                means ``(n,)``), or a tuple of shapes.

        Returns:
            A list of ``len(layers) + 1`` shapes: the input shape of each layer in order,
            then the output shape (a tuple of shapes where values are tuples of arrays).

        Raises:
            ValueError: a layer cannot take what the layer before it gives (a tuple of inputs
                where one is expected, mismatched branches, a kernel larger than its input).
        """
        shapes = [as_shape(input_shape, multi=True)]
        for layer in self.layers:
            check_input_kind(layer, shapes[-1])
            shapes.append(layer.output_shape(shapes[-1]))
        return shapes

    def layer_input_shapes(self, input_shape: Any) -> list[Any]:
        """The input shape each layer sees: :meth:`input_shapes` without the output shape.

        Args:
            input_shape: the shape of one example, without the batch axis, or a tuple of
                shapes.

        Returns:
            A list with one shape per layer, in order.

        Raises:
            ValueError: a layer cannot take what the layer before it gives.
        """
        return self.input_shapes(input_shape)[:-1]

    def _cast(self, x: Any, dtype: Any) -> Any:
        return jax.tree_util.tree_map(
            lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, x
        )

    def call(self, params, state, x, *, key=None, training=False):
        pending_cast = self.compute_dtype is not None
        new_state = []
        for i, (layer, p, s) in enumerate(zip(self.layers, params, state, strict=True)):
            if pending_cast and not layer.integer_input:
                x, pending_cast = self._cast(x, self.compute_dtype), False
            x, s = layer.call(p, s, x, key=_fold(key, i), training=training)
            new_state.append(s)
        if self.compute_dtype is not None:
            x = self._cast(x, jnp.float32)
        return x, new_state

    def output_shape(self, input_shape: Any) -> Any:
        return self.input_shapes(input_shape)[-1]

    @property
    def output_activation(self):
        """The last layer's output activation (None without layers)."""
        return self.layers[-1].output_activation if self.layers else None

    def without_output_activation(self) -> Serial:
        """A copy whose last layer has no output activation (the same params fit it).

        Returns:
            A new :class:`Serial` of the same layers, name and ``compute_dtype``, the last one
            replaced by its ``without_output_activation()``; an empty Serial (the identity,
            which has no activation) gives an equal empty one.

        Raises:
            NotImplementedError: the last layer has no output activation to remove.

        Example:
            >>> Serial([]).without_output_activation().layers
            []
        """
        last = [self.layers[-1].without_output_activation()] if self.layers else []
        return Serial(
            [*self.layers[:-1], *last],
            name=self.name,
            compute_dtype=self.compute_dtype,
        )


def serial(*layers: Any) -> Serial:
    """Compose layers in sequence (stax's ``serial``): one layer whose params are a list.

    Args:
        *layers: the layers, in order (argument-free layer classes are instantiated).

    Returns:
        The :class:`Serial` layer.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from fnn.layers import Dense
        >>> net = serial(Dense(8, activation="tanh"), Dense(2))
        >>> params = net.init(jax.random.key(1), (5,))
        >>> [p["kernel"].shape for p in params]
        [(5, 8), (8, 2)]
    """
    return Serial(layers)


@register_layer
class Parallel(_Combinator):
    """One layer per input (stax's ``parallel``): a tuple of inputs to a tuple of outputs.

    Args:
        layers: one layer per input (argument-free layer classes are instantiated).
        name: the layer's name.

    Raises:
        TypeError: an entry of ``layers`` is not a layer.
    """

    multi_input = True

    def layer_input_shapes(self, input_shape: Any) -> list[Any]:
        """The input shape of each inner layer: the shapes of the tuple, one per layer.

        Args:
            input_shape: a tuple of shapes (no batch axis), one per inner layer.

        Returns:
            The list of those shapes, in order.

        Raises:
            ValueError: ``input_shape`` is one shape, has another number of shapes than
                there are layers, or a shape does not fit its layer's kind of input.
        """
        shape = as_shape(input_shape, multi=True)
        if not is_multi_shape(shape) or len(shape) != len(self.layers):
            got = (
                f"{len(shape)} inputs of shapes {format_shape(shape)}"
                if is_multi_shape(shape)
                else f"one input of shape {format_shape(shape)}"
            )
            raise ValueError(
                f"{self.describe()} applies {len(self.layers)} layers to a tuple of "
                f"{len(self.layers)} inputs, got {got}."
            )
        for layer, s in zip(self.layers, shape, strict=True):
            check_input_kind(layer, s)
        return list(shape)

    def output_shape(self, input_shape: Any) -> Any:
        shapes = self.layer_input_shapes(input_shape)
        return tuple(layer.output_shape(s) for layer, s in zip(self.layers, shapes, strict=True))

    def call(self, params, state, x, *, key=None, training=False):
        """Apply the ``i``-th layer to the ``i``-th input.

        Args:
            params: a list of the inner layers' params.
            state: a list of the inner layers' states.
            x: a tuple (or list) of input batches, one per layer.
            key: a ``jax.random`` key; layer ``i`` gets ``fold_in(key, i)``.
            training: training mode, passed to every layer.

        Returns:
            ``(outputs, new_state)``: a tuple of output batches and the list of new states.

        Raises:
            ValueError: ``x`` is not a tuple or list of one input per layer.
        """
        if not isinstance(x, (tuple, list)) or len(x) != len(self.layers):
            raise ValueError(
                f"{self.describe()} takes a tuple of {len(self.layers)} inputs, got "
                f"{type(x).__name__}."
            )
        outs, new_state = [], []
        for i, (layer, p, s, xi) in enumerate(zip(self.layers, params, state, x, strict=True)):
            y, s = layer.call(p, s, xi, key=_fold(key, i), training=training)
            outs.append(y)
            new_state.append(s)
        return tuple(outs), new_state


def parallel(*layers: Any) -> Parallel:
    """Apply one layer per input (stax's ``parallel``): a tuple of inputs to a tuple of outputs.

    Args:
        *layers: one layer per input (argument-free layer classes are instantiated).

    Returns:
        The :class:`Parallel` layer.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from fnn.layers import Dense
        >>> net = parallel(Dense(2), Identity)
        >>> params = net.init(jax.random.key(0), ((3,), (5,)))
        >>> [y.shape for y in net.apply(params, (jnp.ones((4, 3)), jnp.ones((4, 5))))]
        [(4, 2), (4, 5)]
    """
    return Parallel(layers)


@register_layer
class Residual(Serial):
    """``x + serial(*layers)(x)``: a residual block. The inner layers must keep the shape.

    Args:
        *layers: the block's layers, in order.
        name: the layer's name.

    Raises:
        TypeError: an entry of ``layers`` is not a layer.
        ValueError: no layers are given; at build, the block's output shape differs from its
            input shape.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> from fnn.layers import Dense
        >>> block = Residual(Dense(8, activation="relu"), Dense(4, kernel_initializer="zeros"))
        >>> params = block.init(jax.random.key(0), 4)
        >>> x = jnp.arange(8.0).reshape(2, 4)
        >>> bool((block.apply(params, x) == x).all())  # the last kernel is zero: y = x
        True
    """

    def __init__(self, *layers: Any, name: str | None = None) -> None:
        if not layers:
            raise ValueError("Residual needs at least one layer, got none.")
        super().__init__(layers, name=name)

    @classmethod
    def _from_layers(cls, layers: list[Layer], **config: Any) -> Layer:
        return cls(*layers, **config)

    def output_shape(self, input_shape: Any) -> Any:
        """The block's output shape, which is its input shape.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            ``input_shape``, normalised.

        Raises:
            ValueError: an inner layer cannot take its input, or the inner layers change
                the shape (``x + f(x)`` needs the same shape).
        """
        shapes = self.input_shapes(input_shape)
        if shapes[-1] != shapes[0]:
            raise ValueError(
                f"{self.describe()} adds its input to its layers' output, so they must keep "
                f"the shape: input {format_shape(shapes[0])}, output {format_shape(shapes[-1])}."
            )
        return shapes[-1]

    def call(self, params, state, x, *, key=None, training=False):
        y, new_state = super().call(params, state, x, key=key, training=training)
        return jax.tree_util.tree_map(jnp.add, x, y), new_state

    @property
    def output_activation(self):
        """None: the sum ``x + f(x)`` comes after any activation of the inner layers."""
        return None


@register_layer
class FanOut(Layer):
    """Copies its input ``n`` times (stax's ``FanOut``): ``x -> (x, ..., x)``.

    Args:
        n: the number of copies.
        name: the layer's name.

    Raises:
        ValueError: ``n`` is not a positive int.

    Example:
        >>> import jax.numpy as jnp
        >>> len(FanOut(3).apply({}, jnp.ones((2, 4)))), FanOut(2).output_shape(4)
        (3, ((4,), (4,)))
    """

    multi_input = None

    def __init__(self, n: int, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = positive_int(n, "n")

    def output_shape(self, input_shape: Any) -> Any:
        return (as_shape(input_shape, multi=True),) * self.n

    def call(self, params, state, x, *, key=None, training=False):
        return (x,) * self.n, state

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "n": self.n}


def _merge_shapes(layer: Layer, input_shape: Any) -> tuple[Shape, ...]:
    shapes = as_shape(input_shape, multi=True)
    if not is_multi_shape(shapes) or any(is_multi_shape(s) for s in shapes):
        raise ValueError(
            f"{layer.describe()} takes a tuple of inputs, each one array, got "
            f"{format_shape(shapes)}."
        )
    return shapes


@register_layer
class FanInSum(Layer):
    """Sums a tuple of inputs of one shape (stax's ``FanInSum``).

    Args:
        name: the layer's name.

    Raises:
        ValueError (at build): the inputs' shapes differ.

    Example:
        >>> import jax.numpy as jnp
        >>> FanInSum().apply({}, (jnp.ones((1, 2)), jnp.ones((1, 2)))).tolist()
        [[2.0, 2.0]]
    """

    multi_input = True

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)

    def output_shape(self, input_shape: Any) -> Any:
        """The common shape of the inputs.

        Args:
            input_shape: a tuple of shapes (no batch axis), one per input.

        Returns:
            That shape.

        Raises:
            ValueError: ``input_shape`` is one shape, holds nested tuples, or its shapes
                differ.
        """
        shapes = _merge_shapes(self, input_shape)
        if any(s != shapes[0] for s in shapes):
            raise ValueError(
                f"{self.describe()} sums inputs of one shape, got shapes {format_shape(shapes)}."
            )
        return shapes[0]

    def call(self, params, state, x, *, key=None, training=False):
        total = x[0]
        for xi in x[1:]:
            total = total + xi
        return total, state

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


@register_layer
class FanInConcat(Layer):
    """Concatenates a tuple of inputs along ``axis`` (stax's ``FanInConcat``).

    Args:
        axis: the axis of the batched inputs (batch axis 0 included, so the default -1 is the
            last feature axis); the batch axis itself cannot be concatenated.
        name: the layer's name.

    Raises:
        TypeError: ``axis`` is not an int.
        ValueError (at build): the axis is out of range or the batch axis, or the inputs'
            shapes differ on another axis.

    Example:
        >>> import jax.numpy as jnp
        >>> FanInConcat().apply({}, (jnp.ones((1, 2)), jnp.zeros((1, 1)))).tolist()
        [[1.0, 1.0, 0.0]]
    """

    multi_input = True

    def __init__(self, axis: int = -1, *, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be an int, got {type(axis).__name__}: {axis!r}.")
        self.axis = axis

    def _feature_axis(self, rank: int) -> int:
        """``axis`` as an index into an example's shape (no batch axis) of length ``rank``."""
        a = self.axis + rank + 1 if self.axis < 0 else self.axis
        if not 1 <= a <= rank:
            raise ValueError(
                f"{self.describe()}: axis {self.axis} is out of range for inputs of rank "
                f"{rank + 1} (batch axis included; the batch axis 0 cannot be concatenated)."
            )
        return a - 1

    def output_shape(self, input_shape: Any) -> Any:
        """The inputs' common shape with the sizes along ``axis`` added up.

        Args:
            input_shape: a tuple of shapes (no batch axis), one per input.

        Returns:
            The concatenated shape.

        Raises:
            ValueError: ``input_shape`` is one shape or holds nested tuples, ``axis`` is out
                of range or the batch axis, or the shapes differ in rank or on another axis.
        """
        shapes = _merge_shapes(self, input_shape)
        ranks = {len(s) for s in shapes}
        a = self._feature_axis(len(shapes[0]))
        drop = [s[:a] + s[a + 1 :] for s in shapes]
        if len(ranks) > 1 or any(d != drop[0] for d in drop):
            raise ValueError(
                f"{self.describe()} concatenates along axis {self.axis} inputs that agree on "
                f"every other axis, got shapes {format_shape(shapes)}."
            )
        first = shapes[0]
        return (*first[:a], sum(s[a] for s in shapes), *first[a + 1 :])

    def call(self, params, state, x, *, key=None, training=False):
        return jnp.concatenate(x, axis=self._feature_axis(x[0].ndim - 1) + 1), state

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "axis": self.axis}


@register_layer
class Identity(Layer):
    """Passes its input (one array or a tuple) through unchanged (stax's ``Identity``).

    Args:
        name: the layer's name.

    Example:
        >>> import jax.numpy as jnp
        >>> Identity().apply({}, jnp.ones((2, 3))).shape, Identity().output_shape(((3,), (2,)))
        ((2, 3), ((3,), (2,)))
    """

    multi_input = None

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)

    def output_shape(self, input_shape: Any) -> Any:
        return as_shape(input_shape, multi=True)

    def call(self, params, state, x, *, key=None, training=False):
        return x, state

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}
