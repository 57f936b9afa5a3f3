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

    Example:
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
    """Whether ``value`` is a list or tuple (a shape, or a tuple of shapes), not an int.

    Args:
        value: anything; typically one entry of a shape argument.

    Returns:
        True for a list or a tuple, False otherwise (ints, arrays, strings included).
    """
    return isinstance(value, (list, tuple))


def is_multi_shape(shape: Any) -> bool:
    """Whether ``shape`` (normalised by :func:`as_shape`) is a tuple of shapes.

    Args:
        shape: a shape or a tuple of shapes, as :func:`as_shape` returns them.

    Returns:
        True when ``shape`` is a non-empty tuple whose first entry is itself a tuple (the
        inputs of a multi-input layer), False for a single shape.

    Example:
        >>> is_multi_shape((3, 4)), is_multi_shape(((3,), (4,)))
        (False, True)
    """
    return isinstance(shape, tuple) and bool(shape) and isinstance(shape[0], tuple)


def format_shape(shape: Any) -> str:
    """A shape with the batch axis shown as ``None``, as Keras prints it; a tuple of shapes
    as a list of them.

    Args:
        shape: a shape without the batch axis, or a tuple of such shapes.

    Returns:
        The text, e.g. ``"(None, 3, 4)"``; ``"[(None, 3), (None, 2)]"`` for a tuple of shapes.

    Example:
        >>> format_shape((3, 4)), format_shape(((3,), (2,)))
        ('(None, 3, 4)', '[(None, 3), (None, 2)]')
    """
    if is_multi_shape(shape):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return str((None, *shape))


def positive_int(value: Any, argument: str) -> int:
    """``value`` checked to be an int >= 1 (internal; :func:`fnn.checks.check_int`'s rule).

    Args:
        value: the value given by the user.
        argument: the argument's name, used in error messages.

    Returns:
        ``value`` as an int.

    Raises:
        TypeError: ``value`` is not an int (bools are refused).
        ValueError: ``value`` is below 1.
    """
    return check_int(value, argument, minimum=1)


def check_weight_count(layer: Layer, weights: Sequence[Any], expected: int, names: str) -> None:
    """Raise a ValueError unless ``weights`` holds ``expected`` arrays (``from_weights``'s check).

    Args:
        layer: the layer whose ``from_weights`` was called (named in the message).
        weights: what was passed as ``weights``.
        expected: how many arrays the layer holds.
        names: the weights' names, for the message (may be empty).

    Raises:
        ValueError: ``len(weights) != expected``; the message gives both counts.
    """
    if len(weights) != expected:
        listed = f" ({names})" if names else ""
        raise ValueError(
            f"{layer.describe()}.from_weights: weights holds {len(weights)} "
            f"array{'' if len(weights) == 1 else 's'}, expected {expected}{listed}."
        )


class Layer:
    """Base class of every fnn layer (Keras's ``keras.layers.Layer`` on a pure-function core).

    A layer holds configuration only; its arrays live outside it, in the ``params`` (trainable)
    and ``state`` (non-trainable) pytrees that :meth:`init` and :meth:`init_state` create and
    :meth:`call` takes. Subclasses implement :meth:`call` and, if they hold weights,
    :meth:`init` (and :meth:`init_state` for running statistics); :meth:`output_shape` has a
    default by tracing :meth:`call` with abstract values, which a subclass may override.

    Args:
        input_shape: the shape of one example, without the batch axis (an int ``n`` means
            ``(n,)``); given to the first layer of a model so that it is built at once, as
            Keras's ``input_shape=``. None (the default): taken from the data or the layer
            before.
        name: the layer's name (None: unnamed), shown in ``summary()`` and error messages.

    Raises:
        TypeError: ``input_shape`` is not an int or a sequence of ints.
        ValueError: a dimension of ``input_shape`` is not a positive int.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> class Scale(Layer):
        ...     def init(self, key, input_shape):
        ...         return {"w": jnp.ones(as_shape(input_shape))}
        ...
        ...     def call(self, params, state, x, *, key=None, training=False):
        ...         return x * params["w"], state
        >>> layer = Scale()
        >>> layer.apply(layer.init(jax.random.key(0), 2), jnp.array([[1.0, 2.0]])).tolist()
        [[1.0, 2.0]]
        >>> layer.output_shape(2)
        (2,)
    """

    #: Keras's weight order: (collection, key) pairs, collection "params" or "state".
    weight_keys: tuple[tuple[str, str], ...] = ()
    #: What the layer takes: one array (False), a tuple of arrays (True) or either (None).
    multi_input: bool | None = False
    #: Whether the layer reads integer ids (Embedding): no cast to a compute dtype before it.
    integer_input: bool = False
    #: Whether the layer's output for one example depends on the other examples of its batch
    #: (BatchNormalization's batch statistics): training then never pads a smaller last batch
    #: to full size (see :func:`fnn.training.make_train_loop`). A custom layer that mixes rows
    #: must set it.
    mixes_rows: bool = False
    #: Keras's ``layer.trainable``: False freezes the layer's parameters (the training engine
    #: leaves them unchanged); saved in the config when False.
    trainable: bool = True

    def __init__(self, *, input_shape: int | Sequence[int] | None = None, name: str | None = None):
        self.input_shape = None if input_shape is None else as_shape(input_shape)
        self.name = name

    # -- the contract -----------------------------------------------------------------------
    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        """Create the trainable parameters for inputs of ``input_shape``.

        Args:
            key: a ``jax.random`` key for the initializers (split inside as needed).
            input_shape: the shape of one example, without the batch axis (an int ``n``
                means ``(n,)``).

        Returns:
            A pytree of float32 arrays (a dict for a plain layer, a list of them for a
            combinator); ``{}`` for a layer without weights (the default).
        """
        return {}

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        """Create the non-trainable state (running statistics) for inputs of ``input_shape``.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            A pytree of arrays (``BatchNormalization``: ``moving_mean`` and
            ``moving_variance``); ``{}`` for most layers (the default).
        """
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
        """The forward pass in full; pure, so safe under ``jit``, ``grad`` and ``vmap``.

        The one method every layer implements. It never mutates ``state``: a new one comes
        back (the same object for a layer without state).

        Args:
            params: the layer's parameters, as :meth:`init` made them.
            state: the layer's non-trainable state, as :meth:`init_state` made it (``{}``, or
                :meth:`empty_state`, for a layer without state).
            x: a batch of inputs, batch axis first (a tuple of arrays for a layer that takes
                several inputs).
            key: a ``jax.random`` key for randomness (dropout); needed only when
                ``training`` and the layer draws random numbers. ``fit`` passes one per step.
            training: training mode (Keras's ``training=``): dropout active, batch
                statistics used and updated. False (the default) is inference.

        Returns:
            ``(y, new_state)``: the batch of outputs and the updated state.

        Raises:
            NotImplementedError: the subclass does not implement ``call``.
        """
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
        """The state to pass to :meth:`call` for a layer without state (``has_state`` False).

        Returns:
            ``{}`` (a list of inner layers' empty states for a combinator).
        """
        return {}

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        """The output shape for inputs of ``input_shape``, batch axis excluded.

        The default traces :meth:`init` and :meth:`call` with abstract values
        (``jax.eval_shape``: no computation, no memory); layers override it with a closed
        form that also checks the input (and raises a ``ValueError`` naming the layer).

        Args:
            input_shape: the shape of one example, without the batch axis (an int ``n``
                means ``(n,)``).

        Returns:
            The output shape as a tuple of ints (a tuple of shapes for a layer with several
            outputs, such as ``FanOut``).
        """
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
        """The penalty this layer adds to the training loss (its weight regularizers).

        Args:
            params: the layer's parameters, as :meth:`init` made them.

        Returns:
            A float32 scalar; 0 for a layer without regularizers (the default).
        """
        return jnp.zeros((), jnp.float32)

    @property
    def output_activation(self) -> Callable[[jax.Array], jax.Array] | None:
        """The element-wise activation this layer ends with, or None (the default).

        The training engine reads it to fuse a final ``sigmoid``/``softmax`` with the loss
        (computing the loss from logits, which is stabler)."""
        return None

    def without_output_activation(self) -> Layer:
        """A copy of this layer without its final activation (its params fit both).

        Returns:
            A new layer of the same structure whose output is the logits.

        Raises:
            NotImplementedError: the layer has no output activation to remove (the default).
        """
        raise NotImplementedError(f"{self.describe()} has no output activation to remove.")

    def get_config(self) -> dict[str, Any]:
        """The layer's constructor arguments, JSON-able (Keras's ``get_config``).

        Returns:
            A dict of keyword arguments that :meth:`from_config` passes back to the
            constructor: ``name``, ``input_shape`` (when set), ``trainable`` (when False) and
            the layer's own arguments, with callables saved by their registered names.
        """
        config: dict[str, Any] = {"name": self.name}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        """Build the layer from :meth:`get_config`'s output (``trainable`` included).

        Args:
            config: the dict :meth:`get_config` returned (not modified).

        Returns:
            A new layer of this class.

        Raises:
            TypeError: ``trainable`` in ``config`` is not a bool, or ``config`` holds a key
                the constructor does not take.
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
        """This layer's arrays in Keras's order (as Keras's ``layer.get_weights()`` lists them).

        Args:
            params: the layer's parameters.
            state: the layer's state.

        Returns:
            A list of arrays, e.g. ``[kernel, bias]`` for ``Dense``; absent entries (no bias
            with ``use_bias=False``) are left out.
        """
        trees = {"params": params, "state": state}
        return [trees[c][k] for c, k in self.weight_keys if k in trees[c]]

    def weight_shapes(self, input_shape: Shape) -> list[tuple[int, ...]]:
        """The shapes of :meth:`weights_of`'s arrays for inputs of ``input_shape``.

        Computed abstractly (``jax.eval_shape``): nothing is initialised.

        Args:
            input_shape: the shape of one example, without the batch axis.

        Returns:
            A list of shapes (tuples of ints), one per array, in Keras's order.
        """
        params = jax.eval_shape(lambda k: self.init(k, input_shape), jax.random.key(0))
        state = self.init_state(input_shape)
        return [tuple(w.shape) for w in self.weights_of(params, state)]

    def from_weights(
        self, weights: Sequence[Any], params: Params, state: State
    ) -> tuple[Params, State]:
        """New ``(params, state)`` with :meth:`weights_of`'s arrays replaced by ``weights``.

        The inverse of :meth:`weights_of` (Keras's ``set_weights``): each array is cast to the
        dtype of the one it replaces and must have its shape; the inputs are not modified.

        Args:
            weights: the new arrays (NumPy or JAX), one per entry of :meth:`weights_of`, in
                Keras's order.
            params: the layer's current parameters (the structure to fill).
            state: the layer's current state.

        Returns:
            The new ``(params, state)``.

        Raises:
            ValueError: ``weights`` holds more or fewer arrays than the layer, or an array whose
                shape differs from the weight it replaces (the message names the weight).

        Example:
            >>> import jax, numpy as np
            >>> from fnn.layers import Dense
            >>> layer = Dense(2)
            >>> params = layer.init(jax.random.key(0), 3)
            >>> layer.from_weights([np.ones((3, 2))], params, {})
            Traceback (most recent call last):
            ...
            ValueError: Dense.from_weights: weights holds 1 array, expected 2 (kernel, bias).
        """
        trees = {"params": dict(params), "state": dict(state) if isinstance(state, dict) else state}
        present = [(c, k) for c, k in self.weight_keys if k in trees[c]]
        check_weight_count(self, weights, len(present), ", ".join(k for _, k in present))
        for (c, k), w in zip(present, weights, strict=True):
            old = trees[c][k]
            if tuple(jnp.shape(w)) != tuple(old.shape):
                raise ValueError(
                    f"{self.describe()}.from_weights: weights for {k!r} has shape "
                    f"{tuple(jnp.shape(w))}, expected {tuple(old.shape)}."
                )
            trees[c][k] = jnp.asarray(w, dtype=old.dtype)
        return trees["params"], trees["state"]

    def describe(self) -> str:
        """The layer as error messages name it: the class, and the name when set.

        Returns:
            E.g. ``"Dense"`` or ``"Dense('head')"``.
        """
        return f"{type(self).__name__}{'(' + repr(self.name) + ')' if self.name else ''}"

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if v is not None)
        return f"{type(self).__name__}({args})"


def callable_name(identifier: Any, registry: Any) -> Any:
    """A JSON-able name for a name-or-callable argument: a registered callable's name, or
    ``{"class_name", "config"}`` for a configurable object such as an initializer class.

    Used by ``get_config`` for arguments such as ``activation`` and ``kernel_initializer``.

    Args:
        identifier: the argument as the user gave it: None, a name, a
            ``{"class_name", "config"}`` dict, a callable, or an object with ``get_config``.
        registry: the :class:`fnn.registry.Registry` the callable belongs to (e.g.
            ``fnn.activations.registry``).

    Returns:
        ``identifier`` unchanged when it is None, a str or a dict; else the callable's
        registered name, or ``{"class_name": ..., "config": ...}`` for a configurable object.

    Raises:
        ValueError: a callable that is not registered (it could not be saved and rebuilt).
    """
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
    """Make a layer class known to :func:`layer_from_config` (for saving and loading).

    Usable as a class decorator; the class is registered under its ``__name__``, replacing
    any class of that name.

    Args:
        cls: a subclass of :class:`Layer`.

    Returns:
        ``cls`` itself, unchanged.
    """
    LAYER_CLASSES[cls.__name__] = cls
    return cls


def layer_to_config(layer: Layer) -> dict[str, Any]:
    """A layer as a JSON-able dict, as Keras saves layers.

    Args:
        layer: any layer.

    Returns:
        ``{"class_name": type(layer).__name__, "config": layer.get_config()}``.

    Example:
        >>> from fnn.layers import Dropout
        >>> layer_to_config(Dropout(0.5))["config"]["rate"]
        0.5
    """
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def _rebuild_layer(config: dict[str, Any], extra: dict[str, Any]) -> Layer:
    layer = layer_from_config(config)
    layer.__dict__.update(extra)
    return layer


def layer_from_config(config: dict[str, Any]) -> Layer:
    """The inverse of :func:`layer_to_config`; only registered layer classes are built.

    Args:
        config: ``{"class_name": ..., "config": ...}`` as :func:`layer_to_config` made it.

    Returns:
        A new layer, built by the class's :meth:`Layer.from_config`.

    Raises:
        ValueError: ``class_name`` is missing or not a registered layer class.
        TypeError: the layer's config holds an argument its constructor does not take.

    Example:
        >>> from fnn.layers import Dense
        >>> layer_from_config(layer_to_config(Dense(3, activation="relu"))).units
        3
    """
    name = config.get("class_name")
    cls = LAYER_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(
            f"Unknown layer class {name!r}; known classes: {', '.join(sorted(LAYER_CLASSES))}."
        )
    return cls.from_config(dict(config.get("config", {})))


def count_params(tree: Any) -> int:
    """The number of scalars in a pytree of arrays (Keras's ``count_params``).

    Args:
        tree: a pytree of arrays (or anything with a ``shape``), e.g. a model's params.

    Returns:
        The total of the leaves' sizes; 0 for an empty tree.

    Example:
        >>> import jax.numpy as jnp
        >>> count_params({"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)})
        16
    """
    return sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(tree))


def number(value: Any, argument: str) -> float:
    """``value`` checked to be a real number (internal; bools are refused).

    Args:
        value: the value given by the user.
        argument: the argument's name, used in error messages.

    Returns:
        ``value`` as a float.

    Raises:
        TypeError: ``value`` is not a real number.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__}: {value!r}.")
    return float(value)
