"""The layer contract: the :class:`Layer` base class, shapes, the layer registry."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal, overload

import jax
import jax.numpy as jnp

from fnn.checks import check_int

Params = Any
State = Any
Shape = tuple[int, ...]


@overload
def as_shape(
    shape: int | Sequence[Any], argument: str = ..., *, multi: Literal[False] = ...
) -> Shape: ...


@overload
def as_shape(shape: int | Sequence[Any], argument: str = ..., *, multi: bool) -> Any: ...


def as_shape(
    shape: int | Sequence[Any], argument: str = "input_shape", *, multi: bool = False
) -> Any:
    """Normalise an input shape: an int ``n`` means ``(n,)``; every dimension a positive int.

    With ``multi=True`` a tuple of shapes (the inputs of a layer that takes several, as between
    :class:`~fnn.layers.FanOut` and :class:`~fnn.layers.FanInSum`) is accepted too, and comes
    back as a tuple of normalised shapes (nested as given).

    Args:
        shape: an int, a sequence of ints, or (``multi=True``) a sequence of shapes.
        argument: the name used in error messages.
        multi: whether a tuple of shapes is accepted.

    Returns:
        A tuple of ints, or (``multi=True``) possibly a tuple of such tuples.

    Raises:
        TypeError: ``shape`` is not an int or a sequence.
        ValueError: a dimension is not a positive int, or a tuple of shapes came where one
            shape is expected.

    >>> as_shape(3), as_shape([2, 4]), as_shape(((3,), [4, 5]), multi=True)
    ((3,), (2, 4), ((3,), (4, 5)))
    """
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
    if dims and all(is_shape_sequence(d) for d in dims):
        if not multi:
            raise ValueError(
                f"{argument} must be one shape (a tuple of ints), got a tuple of {len(dims)} "
                f"shapes {shape!r}: merge the branches first (FanInSum, FanInConcat)."
            )
        return tuple(as_shape(d, argument, multi=True) for d in dims)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, int) or d < 1:
            raise ValueError(
                f"{argument} must hold positive ints (without the batch axis), got {shape!r}."
            )
    return tuple(int(d) for d in dims)


def is_shape_sequence(value: Any) -> bool:
    """Whether ``value`` is a list or tuple (a shape, or a tuple of shapes), not an int."""
    return isinstance(value, (list, tuple))


def is_multi_shape(shape: Any) -> bool:
    """Whether ``shape`` (normalised by :func:`as_shape`) is a tuple of shapes.

    >>> is_multi_shape((3, 4)), is_multi_shape(((3,), (4,)))
    (False, True)
    """
    return isinstance(shape, tuple) and bool(shape) and isinstance(shape[0], tuple)


def format_shape(shape: Any) -> str:
    """A shape with the batch axis shown as ``None``, as Keras prints it; a tuple of shapes
    as a list of them.

    >>> format_shape((3, 4)), format_shape(((3,), (2,)))
    ('(None, 3, 4)', '[(None, 3), (None, 2)]')
    """
    if is_multi_shape(shape):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return str((None, *shape))


def positive_int(value: Any, argument: str) -> int:
    """An int >= 1 (:func:`fnn.checks.check_int`'s rule: TypeError for a wrong type)."""
    return check_int(value, argument, minimum=1)


class Layer:
    """Base class. Subclasses implement :meth:`call` and, if they hold weights, :meth:`init`."""

    #: Keras's weight order: (collection, key) pairs, collection "params" or "state".
    weight_keys: tuple[tuple[str, str], ...] = ()
    #: What the layer takes: one array (False), a tuple of arrays (True) or either (None).
    multi_input: bool | None = False
    #: Whether the layer reads integer ids (Embedding): no cast to a compute dtype before it.
    integer_input: bool = False
    #: Keras's ``layer.trainable``: False freezes the layer's parameters (the training engine
    #: leaves them unchanged); saved in the config when False.
    trainable: bool = True

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
        """The output ``y`` alone, whatever the arguments (a convenience over :meth:`call`).

        Args:
            params: the layer's parameters.
            x: a batch of inputs.
            state: the non-trainable state; required for a layer that keeps state (running
                statistics), whose updated state :meth:`call` returns.
            key: a PRNG key for randomness (dropout) when ``training``.
            training: training mode (dropout on, batch statistics).

        Returns:
            ``y``.

        Raises:
            ValueError: a layer with state was given no ``state``.
        """
        if state is None:
            if self.has_state:
                raise ValueError(
                    f"{self.describe()} keeps state (running statistics): pass state= (y "
                    "alone comes back), or use call(params, state, x) to receive "
                    "(y, new_state)."
                )
            state = self.empty_state()
        return self.call(params, state, x, key=key, training=training)[0]

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
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Build the layer from :meth:`get_config`'s output (``trainable`` included).

        Raises:
            TypeError: for a ``trainable`` that is not a bool.
        """
        config = dict(config)
        trainable = config.pop("trainable", True)
        if not isinstance(trainable, bool):
            raise TypeError(f"trainable must be a bool, got {trainable!r}.")
        layer = cls(**config)
        layer.trainable = trainable
        return layer

    # -- copying and pickling: rebuilt from the config, so initializer closures never travel --
    def __copy__(self) -> Layer:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Pickle and deep-copy by config (plus any attribute the config does not rebuild)."""
        try:
            config = layer_to_config(self)
            fresh = layer_from_config(config)
        except (ValueError, TypeError):  # unregistered callables: the default way, or its error
            return super().__reduce_ex__(protocol)
        # Inner layers (combinators) travel as themselves, so their own extras are kept too.
        extra = {k: v for k, v in self.__dict__.items() if k not in fresh.__dict__ or k == "layers"}
        return (_rebuild_layer, (config, extra))

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


def callable_name(identifier: Any, registry: Any) -> Any:
    """A JSON-able name for a name-or-callable argument: a registered callable's name, or
    ``{"class_name", "config"}`` for a configurable object such as an initializer class."""
    if identifier is None or isinstance(identifier, (str, dict)):
        return identifier  # a name, or a {"class_name", "config"} from a file
    name = registry.name_of(identifier)
    get_config = getattr(identifier, "get_config", None)
    if name is None and callable(get_config):  # a Keras-style class instance (RandomNormal(...))
        return {"class_name": type(identifier).__name__, "config": get_config()}
    if name is None:
        raise ValueError(
            f"{registry.kind} {identifier!r} is not registered, so it cannot be saved; register "
            f"it with fnn.{registry.kind}s.register(name, fn)."
        )
    return name


LAYER_CLASSES: dict[str, type[Layer]] = {}


def register_layer(cls: type[Layer]) -> type[Layer]:
    """Make a layer class known to :func:`layer_from_config` (for saving and loading)."""
    LAYER_CLASSES[cls.__name__] = cls
    return cls


def layer_to_config(layer: Layer) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` for a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _rebuild_layer(config: dict[str, Any], extra: dict[str, Any]) -> Layer:
    layer = layer_from_config(config)
    layer.__dict__.update(extra)
    return layer


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


def number(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}: {value!r}.")
    return float(value)
