"""Weight initializers: ``init(key, shape, dtype=None) -> array``, by name, class or callable.

Names and defaults follow Keras (``glorot_uniform`` is the default kernel initializer; fans are
computed from a ``(in, out)`` kernel). Keras's classes take its arguments
(``RandomNormal(stddev=0.1)``, ``VarianceScaling(mode="fan_avg")``, ``Orthogonal()``) and are
saved by config (:func:`serialize`, :func:`deserialize`). Any ``jax.nn.initializers`` function
works as a callable. Without a ``dtype``, arrays follow JAX's default float dtype (float64 under
``jax_enable_x64``), as ``jax.nn.initializers`` does::

    >>> import jax
    >>> from fnn import initializers
    >>> w = initializers.get("he_normal")(jax.random.key(0), (4, 3))
    >>> w.shape, w.dtype.name
    ((4, 3), 'float32')
    >>> init = initializers.get({"class_name": "Constant", "config": {"value": 2.0}})
    >>> init(jax.random.key(0), (2,)).tolist()
    [2.0, 2.0]
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from fnn.checks import check_seed
from fnn.registry import Registry, resolve, unknown_name_error

InitializerFunction = Callable[..., jax.Array]


def default_float() -> jnp.dtype:
    """JAX's default float dtype, used when an initializer is called without a ``dtype``.

    Returns:
        ``float64`` under ``jax_enable_x64``, else ``float32``.
    """
    return jnp.dtype(jax.dtypes.canonicalize_dtype(jnp.float64))


def _dtype(dtype: Any) -> jnp.dtype:
    return default_float() if dtype is None else jnp.dtype(dtype)


registry: Registry[InitializerFunction] = Registry("initializer")
register = registry.register


def zeros(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """Keras's ``"zeros"`` initializer: all zeros.

    Args:
        key: a JAX PRNG key (unused).
        shape: the output shape, a sequence of ints.
        dtype: the output dtype; None (default): JAX's default float (:func:`default_float`).

    Returns:
        An array of ``shape`` and ``dtype`` filled with 0.
    """
    return jnp.zeros(shape, _dtype(dtype))


def ones(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """Keras's ``"ones"`` initializer: all ones.

    Args:
        key: a JAX PRNG key (unused).
        shape: the output shape, a sequence of ints.
        dtype: the output dtype; None (default): JAX's default float (:func:`default_float`).

    Returns:
        An array of ``shape`` and ``dtype`` filled with 1.
    """
    return jnp.ones(shape, _dtype(dtype))


def random_normal(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """Keras's ``"random_normal"``: normal with mean 0 and standard deviation 0.05 (its defaults).

    Args:
        key: a JAX PRNG key that draws the values.
        shape: the output shape, a sequence of ints.
        dtype: the output dtype; None (default): JAX's default float (:func:`default_float`).

    Returns:
        An array of ``shape`` and ``dtype`` of independent draws.
    """
    return 0.05 * jax.random.normal(key, shape, _dtype(dtype))


def random_uniform(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
    """Keras's ``"random_uniform"``: uniform on [-0.05, 0.05) (its defaults).

    Args:
        key: a JAX PRNG key that draws the values.
        shape: the output shape, a sequence of ints.
        dtype: the output dtype; None (default): JAX's default float (:func:`default_float`).

    Returns:
        An array of ``shape`` and ``dtype`` of independent draws.
    """
    return jax.random.uniform(key, shape, _dtype(dtype), minval=-0.05, maxval=0.05)


def _real(value: Any, argument: str, owner: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}({argument}=...) must be a number, got {value!r}.")
    if not math.isfinite(float(value)) or (positive and value <= 0):
        raise ValueError(
            f"{owner}({argument}=...) must be a finite number{' > 0' if positive else ''}, "
            f"got {value!r}."
        )
    return float(value)


@dataclasses.dataclass(frozen=True)
class Initializer:
    """Base class of Keras's initializer classes: ``init(key, shape, dtype=None)``.

    An instance is a frozen dataclass of its constructor arguments, called like any initializer
    function: ``init(key, shape, dtype=None)`` returns an array of ``shape`` (dtype None: JAX's
    default float). ``seed``, where a class takes one, fixes the values whatever key is passed (as
    a seeded Keras initializer does, the same values on every call); None uses the key.
    Subclasses implement :meth:`generate`.
    """

    def __call__(self, key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        seed = getattr(self, "seed", None)
        if seed is not None:
            key = jax.random.key(seed)
        return self.generate(key, tuple(shape), _dtype(dtype))

    def generate(self, key: jax.Array, shape: tuple[int, ...], dtype: jnp.dtype) -> jax.Array:
        """The initial values; subclasses implement it, ``__call__`` resolves its arguments.

        Args:
            key: a JAX PRNG key (already replaced by ``jax.random.key(seed)`` for a seeded
                initializer).
            shape: the output shape, a tuple of ints.
            dtype: the output dtype (already resolved: never None).

        Returns:
            An array of ``shape`` and ``dtype``.

        Raises:
            NotImplementedError: on the base class, which draws nothing.
        """
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as Keras's ``Initializer.get_config``.

        Returns:
            A JSON-able dict of the constructor arguments by name; ``cls(**config)`` rebuilds an
            equal initializer.
        """
        return dataclasses.asdict(self)

    def _check_seed(self) -> None:
        seed = getattr(self, "seed", None)
        if seed is not None:
            # A NumPy int is kept as a Python int, so that the config stays JSON-able.
            object.__setattr__(self, "seed", check_seed(seed, f"{type(self).__name__}(seed=...)"))


@dataclasses.dataclass(frozen=True)
class Zeros(Initializer):
    """All zeros."""

    def generate(self, key, shape, dtype):
        return jnp.zeros(shape, dtype)


@dataclasses.dataclass(frozen=True)
class Ones(Initializer):
    """All ones."""

    def generate(self, key, shape, dtype):
        return jnp.ones(shape, dtype)


@dataclasses.dataclass(frozen=True)
class Constant(Initializer):
    """Keras's ``Constant``: every entry ``value``.

    Args:
        value: the fill value, a finite real number (default 0.0).

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is NaN or infinite.
    """

    value: float = 0.0

    def __post_init__(self) -> None:
        _real(self.value, "value", "Constant")

    def generate(self, key, shape, dtype):
        return jnp.full(shape, self.value, dtype)


@dataclasses.dataclass(frozen=True)
class RandomNormal(Initializer):
    """Keras's ``RandomNormal``: normal with ``mean`` and ``stddev``.

    Args:
        mean: the mean, a finite real number (default 0.0).
        stddev: the standard deviation, a finite number > 0 (default 0.05).
        seed: an int >= 0 that fixes the values whatever key is passed; None (default): the
            key decides.

    Raises:
        TypeError: ``mean`` or ``stddev`` is not a real number, or ``seed`` not an int.
        ValueError: a non-finite ``mean``/``stddev``, ``stddev <= 0``, or a ``seed`` outside
            [0, 2**32 - 1].

    Example:
        >>> import jax
        >>> init = RandomNormal(mean=1.0, stddev=0.1, seed=0)
        >>> bool(abs(init(jax.random.key(0), (1000,)).mean() - 1.0) < 0.02)
        True
    """

    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __post_init__(self) -> None:
        _real(self.mean, "mean", "RandomNormal")
        _real(self.stddev, "stddev", "RandomNormal", positive=True)
        self._check_seed()

    def generate(self, key, shape, dtype):
        return self.mean + self.stddev * jax.random.normal(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class TruncatedNormal(Initializer):
    """Keras's ``TruncatedNormal``: normal with ``mean`` and ``stddev``, cut at two stddevs.

    Values are drawn from the normal truncated to ``[mean - 2 * stddev, mean + 2 * stddev]``
    (so their standard deviation is about ``0.88 * stddev``).

    Args:
        mean: the mean, a finite real number (default 0.0).
        stddev: the standard deviation before truncation, a finite number > 0 (default 0.05).
        seed: an int >= 0 that fixes the values whatever key is passed; None (default): the
            key decides.

    Raises:
        TypeError: ``mean`` or ``stddev`` is not a real number, or ``seed`` not an int.
        ValueError: a non-finite ``mean``/``stddev``, ``stddev <= 0``, or a ``seed`` outside
            [0, 2**32 - 1].
    """

    mean: float = 0.0
    stddev: float = 0.05
    seed: int | None = None

    def __post_init__(self) -> None:
        _real(self.mean, "mean", "TruncatedNormal")
        _real(self.stddev, "stddev", "TruncatedNormal", positive=True)
        self._check_seed()

    def generate(self, key, shape, dtype):
        return self.mean + self.stddev * jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype)


@dataclasses.dataclass(frozen=True)
class RandomUniform(Initializer):
    """Keras's ``RandomUniform``: uniform on ``[minval, maxval)``.

    Args:
        minval: the lower bound, a finite real number (default -0.05).
        maxval: the upper bound, a finite real number > ``minval`` (default 0.05).
        seed: an int >= 0 that fixes the values whatever key is passed; None (default): the
            key decides.

    Raises:
        TypeError: ``minval`` or ``maxval`` is not a real number, or ``seed`` not an int.
        ValueError: a non-finite bound, ``minval >= maxval``, or a ``seed`` outside
            [0, 2**32 - 1].
    """

    minval: float = -0.05
    maxval: float = 0.05
    seed: int | None = None

    def __post_init__(self) -> None:
        if _real(self.minval, "minval", "RandomUniform") >= _real(
            self.maxval, "maxval", "RandomUniform"
        ):
            raise ValueError(
                f"RandomUniform needs minval < maxval, got {self.minval}, {self.maxval}."
            )
        self._check_seed()

    def generate(self, key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, minval=self.minval, maxval=self.maxval)


_MODES = ("fan_in", "fan_out", "fan_avg")
# Keras's distribution names → jax.nn.initializers.variance_scaling's.
_DISTRIBUTIONS = {
    "truncated_normal": "truncated_normal",
    "untruncated_normal": "normal",
    "uniform": "uniform",
}


def variance_scaling(
    scale: float,
    mode: Literal["fan_in", "fan_out", "fan_avg"],
    distribution: Literal["truncated_normal", "normal", "uniform"],
) -> InitializerFunction:
    """``jax.nn.initializers.variance_scaling`` with Keras's fans for shapes of rank < 2.

    A shape of rank >= 2 is a ``(..., in, out)`` kernel, as in JAX and Keras (the same values
    as JAX's). Keras's ``compute_fans`` gives a 1-D shape ``(n,)`` ``fan_in = fan_out = n`` and
    a scalar shape ``()`` fans of 1, where JAX refuses both.

    Args:
        scale: the variance's numerator, > 0.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: JAX's name: ``"truncated_normal"``, ``"normal"`` or ``"uniform"``.

    Returns:
        An initializer ``init(key, shape, dtype=None) -> jax.Array``.

    Example:
        >>> import jax
        >>> init = variance_scaling(3.0, "fan_avg", "uniform")
        >>> bool(abs(init(jax.random.key(0), (12,))).max() <= (3 * 3.0 / 12) ** 0.5)
        True
    """
    kernel = jinit.variance_scaling(scale, mode, distribution)
    # Every mode divides by the same fan below rank 2: draw an (fan, 1) kernel by its fan_in.
    vector = jinit.variance_scaling(scale, "fan_in", distribution)

    def init(key: jax.Array, shape: Sequence[int], dtype: Any = None) -> jax.Array:
        shape = tuple(shape)
        if len(shape) >= 2:
            return kernel(key, shape, _dtype(dtype))
        fan = shape[0] if shape else 1
        return vector(key, (fan, 1), _dtype(dtype)).reshape(shape)

    return init


@dataclasses.dataclass(frozen=True)
class VarianceScaling(Initializer):
    """Keras's ``VarianceScaling``: variance ``scale / fan`` (fans from a ``(.., in, out)`` shape).

    ``fan_in`` is the size of axis -2 and ``fan_out`` of axis -1, each times the product of
    the leading (receptive-field) axes; as in Keras, a 1-D shape ``(n,)`` has both fans ``n``
    and a scalar shape ``()`` both 1.

    Args:
        scale: the variance's numerator, a finite number > 0 (default 1.0).
        mode: the fan that divides it: ``"fan_in"`` (default), ``"fan_out"`` or ``"fan_avg"``
            (the mean of the two).
        distribution: ``"truncated_normal"`` (default; normal cut at two standard deviations,
            rescaled so the variance is kept), ``"untruncated_normal"`` or ``"uniform"`` (on
            ``[-limit, limit]`` with ``limit = sqrt(3 * scale / fan)``).
        seed: an int >= 0 that fixes the values whatever key is passed; None (default): the
            key decides.

    Raises:
        TypeError: ``scale`` is not a real number, or ``seed`` not an int.
        ValueError: for a bad ``scale``, ``mode`` or ``distribution``, or a ``seed`` outside
            [0, 2**32 - 1].

    Example:
        >>> import jax
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform")
        >>> w = init(jax.random.key(0), (50, 10))
        >>> bool(abs(w).max() <= (3 * 2.0 / 50) ** 0.5)
        True
    """

    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    seed: int | None = None

    def __post_init__(self) -> None:
        _real(self.scale, "scale", type(self).__name__, positive=True)
        if self.mode not in _MODES:
            raise unknown_name_error("mode", self.mode, list(_MODES))
        if self.distribution not in _DISTRIBUTIONS:
            raise unknown_name_error("distribution", self.distribution, list(_DISTRIBUTIONS))
        self._check_seed()

    def generate(self, key, shape, dtype):
        init = variance_scaling(self.scale, self.mode, _DISTRIBUTIONS[self.distribution])
        return init(key, shape, dtype)


def _fixed_variance(
    class_name: str, fixed_scale: float, fixed_mode: str, fixed_distribution: str
) -> type[VarianceScaling]:
    """Keras's named special cases of :class:`VarianceScaling` (only ``seed`` is an argument)."""

    @dataclasses.dataclass(frozen=True)
    class Fixed(VarianceScaling):
        scale: float = dataclasses.field(default=fixed_scale, init=False)
        mode: str = dataclasses.field(default=fixed_mode, init=False)
        distribution: str = dataclasses.field(default=fixed_distribution, init=False)
        seed: int | None = None

        def get_config(self) -> dict[str, Any]:
            """The constructor arguments (only ``seed``; the rest is fixed by the class).

            Returns:
                ``{"seed": seed}``.
            """
            return {"seed": self.seed}

    Fixed.__name__ = Fixed.__qualname__ = class_name
    Fixed.__doc__ = (
        f"Keras's ``{class_name}``: ``VarianceScaling(scale={fixed_scale}, "
        f'mode="{fixed_mode}", distribution="{fixed_distribution}")``.\n\n'
        "Args:\n"
        "    seed: an int >= 0 that fixes the values whatever key is passed; None (default): "
        "the key decides.\n\n"
        "Raises:\n"
        "    TypeError: ``seed`` is not an int or None (a bool is not an int).\n"
        "    ValueError: ``seed`` is negative or above 2**32 - 1.\n"
    )
    Fixed.__module__ = __name__
    return Fixed


GlorotUniform = _fixed_variance("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _fixed_variance("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _fixed_variance("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _fixed_variance("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _fixed_variance("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _fixed_variance("LecunNormal", 1.0, "fan_in", "truncated_normal")


@dataclasses.dataclass(frozen=True)
class Orthogonal(Initializer):
    """Keras's ``Orthogonal``: a (semi-)orthogonal matrix times ``gain``.

    The shape is seen as a matrix of ``prod(shape[:-1])`` rows and ``shape[-1]`` columns whose
    rows (if fewer) or columns (otherwise) are orthonormal; it needs a rank >= 2 when called.

    Args:
        gain: the multiplier, a finite real number (default 1.0).
        seed: an int >= 0 that fixes the values whatever key is passed; None (default): the
            key decides.

    Raises:
        TypeError: ``gain`` is not a real number, or ``seed`` not an int.
        ValueError: ``gain`` is NaN or infinite, or ``seed`` is negative or above 2**32 - 1.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> w = Orthogonal()(jax.random.key(0), (4, 4))
        >>> bool(jnp.allclose(w.T @ w, jnp.eye(4), atol=1e-5))
        True
    """

    gain: float = 1.0
    seed: int | None = None

    def __post_init__(self) -> None:
        _real(self.gain, "gain", "Orthogonal")
        self._check_seed()

    def generate(self, key, shape, dtype):
        """An orthogonal matrix of ``shape`` times ``gain``.

        Args:
            key: a JAX PRNG key.
            shape: the output shape, rank >= 2.
            dtype: the output dtype.

        Returns:
            An array of ``shape`` and ``dtype``.

        Raises:
            ValueError: ``shape`` has fewer than 2 axes.
        """
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of rank >= 2, got {shape}.")
        return jinit.orthogonal(scale=self.gain)(key, shape, dtype)


@dataclasses.dataclass(frozen=True)
class Identity(Initializer):
    """Keras's ``Identity``: ``gain`` times the identity matrix (2-D shapes only).

    A non-square shape gets ones on its main diagonal and zeros elsewhere.

    Args:
        gain: the multiplier, a finite real number (default 1.0).

    Raises:
        TypeError: ``gain`` is not a real number.
        ValueError: ``gain`` is NaN or infinite.
    """

    gain: float = 1.0

    def __post_init__(self) -> None:
        _real(self.gain, "gain", "Identity")

    def generate(self, key, shape, dtype):
        """``gain`` times the identity of ``shape``.

        Args:
            key: a JAX PRNG key (unused).
            shape: the output shape, 2-D.
            dtype: the output dtype.

        Returns:
            An array of ``shape`` and ``dtype``.

        Raises:
            ValueError: ``shape`` is not 2-D.
        """
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape, got {shape}.")
        return self.gain * jnp.eye(*shape, dtype=dtype)


INITIALIZER_CLASSES: dict[str, type[Initializer]] = {
    cls.__name__: cls
    for cls in (
        Zeros,
        Ones,
        Constant,
        RandomNormal,
        RandomUniform,
        TruncatedNormal,
        VarianceScaling,
        GlorotUniform,
        GlorotNormal,
        HeUniform,
        HeNormal,
        LecunUniform,
        LecunNormal,
        Orthogonal,
        Identity,
    )
}

register("zeros", zeros)
register("ones", ones)
register("random_normal", random_normal)
register("random_uniform", random_uniform)
register("glorot_uniform", variance_scaling(1.0, "fan_avg", "uniform"))
register("glorot_normal", variance_scaling(1.0, "fan_avg", "truncated_normal"))
register("he_uniform", variance_scaling(2.0, "fan_in", "uniform"))
register("he_normal", variance_scaling(2.0, "fan_in", "truncated_normal"))
register("lecun_uniform", variance_scaling(1.0, "fan_in", "uniform"))
register("lecun_normal", variance_scaling(1.0, "fan_in", "truncated_normal"))
for _name, _obj in (
    ("truncated_normal", TruncatedNormal()),
    ("orthogonal", Orthogonal()),
    ("identity", Identity()),
    ("variance_scaling", VarianceScaling()),
    ("constant", Constant()),
):
    register(_name, _obj)


def get(identifier: str | InitializerFunction | dict[str, Any]) -> InitializerFunction:
    """Resolve an initializer name, callable (class instances included) or config dict.

    Args:
        identifier: a registered name (case-insensitive, e.g. ``"glorot_uniform"``), an
            :class:`Initializer` subclass (built with its defaults), any callable
            ``init(key, shape, dtype=None)`` (returned as it is) or a
            ``{"class_name", "config"}`` dict (see :func:`deserialize`).

    Returns:
        The initializer: a callable ``init(key, shape, dtype=None) -> jax.Array``.

    Raises:
        ValueError: for an unknown name or class, or a malformed config.
        TypeError: for anything else.

    Example:
        >>> import jax
        >>> get("ones")(jax.random.key(0), (2,)).tolist()
        [1.0, 1.0]
    """
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    return resolve(registry, identifier, "initializer")


def serialize(initializer: str | InitializerFunction) -> str | dict[str, Any]:
    """A JSON-able identifier of an initializer, for saving a model's config.

    Args:
        initializer: a name (returned as it is), an instance of one of fnn's initializer
            classes, or a registered function.

    Returns:
        The registered name (a str), or ``{"class_name": ..., "config": ...}`` for a class
        instance.

    Raises:
        ValueError: for an unregistered function.

    Example:
        >>> serialize(RandomNormal(stddev=0.1))
        {'class_name': 'RandomNormal', 'config': {'mean': 0.0, 'stddev': 0.1, 'seed': None}}
    """
    if isinstance(initializer, str):
        return initializer
    if type(initializer).__name__ in INITIALIZER_CLASSES and isinstance(initializer, Initializer):
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    name = registry.name_of(initializer)
    if name is None:
        raise ValueError(
            f"initializer {initializer!r} is not registered, so it cannot be saved; register it "
            "with fnn.initializers.register(name, fn) or use an initializer class."
        )
    return name


def deserialize(config: str | dict[str, Any]) -> InitializerFunction:
    """Inverse of :func:`serialize` (only fnn's classes are built).

    Args:
        config: a registered name, or ``{"class_name": name, "config": {...}}`` with the name
            of one of fnn's initializer classes and its constructor arguments.

    Returns:
        The initializer: the registered function or a new class instance.

    Raises:
        ValueError: for an unknown name or class, a malformed config, or constructor arguments
            the class refuses (a wrong type inside ``config`` included).
    """
    if isinstance(config, str):
        return registry.get(config)
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(
            f"an initializer config must be {{'class_name', 'config'}}, got {config!r}."
        )
    name = config.get("class_name")
    cls = INITIALIZER_CLASSES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise unknown_name_error("initializer class", name, list(INITIALIZER_CLASSES))
    try:
        return cls(**config.get("config", {}))
    except TypeError as exc:
        raise ValueError(f"bad config for initializer {name}: {exc}") from None
