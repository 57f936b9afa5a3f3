"""Element-wise activation functions, by name or as callables.

Each activation maps an array to an array of the same shape (softmax and log_softmax act on the
last axis). Names follow Keras::

    >>> import jax.numpy as jnp
    >>> from fnn import activations
    >>> activations.get("relu")(jnp.array([-1.0, 2.0])).tolist()
    [0.0, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from fnn.registry import Registry, resolve

Activation = Callable[[jax.Array], jax.Array]

registry: Registry[Activation] = Registry("activation")
register = registry.register


def linear(x: jax.Array) -> jax.Array:
    """Identity: ``f(x) = x`` (Keras's ``linear``, what ``activation=None`` means).

    Args:
        x: input array of any shape and float dtype.

    Returns:
        ``x`` itself, unchanged.
    """
    return x


def sigmoid(x: jax.Array) -> jax.Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with values in (0, 1).
    """
    return jax.nn.sigmoid(x)


def relu(
    x: jax.Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> jax.Array:
    """Rectified linear unit with Keras's arguments.

    ``x`` for ``threshold < x < max_value``, ``max_value`` above, and
    ``negative_slope * (x - threshold)`` below the threshold. With the defaults it is the plain
    ``max(x, 0)``.

    Args:
        x: input array of any shape and float dtype.
        negative_slope: slope for values below ``threshold``; 0.0 (Keras's default) zeroes them.
        max_value: saturation value: outputs above it are clipped to it; None (the default)
            means no upper limit.
        threshold: the value below which the output is ``negative_slope * (x - threshold)``
            (0 when ``negative_slope`` is 0); 0.0 by default.

    Returns:
        An array of the same shape and dtype as ``x``.

    Example:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([-10.0, -5.0, 0.0, 5.0, 10.0])
        >>> relu(x, negative_slope=0.5, max_value=5.0).tolist()
        [-5.0, -2.5, 0.0, 5.0, 5.0]
    """
    x = jnp.asarray(x)
    if negative_slope and max_value is None and threshold == 0:
        return jax.nn.leaky_relu(x, negative_slope=negative_slope)
    negative = jax.nn.relu(threshold - x) if negative_slope else None
    y = x * (x > threshold).astype(x.dtype) if threshold != 0 else jax.nn.relu(x)
    if max_value is not None:
        y = jnp.clip(y, 0.0, max_value)
    if negative is not None:
        y = y - negative_slope * negative
    return y


def relu6(x: jax.Array) -> jax.Array:
    """ReLU capped at 6: ``min(max(0, x), 6)``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with values in [0, 6].
    """
    return jax.nn.relu6(x)


def tanh(x: jax.Array) -> jax.Array:
    """Hyperbolic tangent.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with values in (-1, 1).
    """
    return jnp.tanh(x)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Softmax over ``axis``: ``exp(x) / sum(exp(x))``, computed stably.

    Args:
        x: input array (logits) of any shape and float dtype.
        axis: the axis to normalize over; -1 (the last, Keras's default) by default.

    Returns:
        An array of the same shape and dtype as ``x``: non-negative, summing to 1 along ``axis``.

    Example:
        >>> import jax.numpy as jnp
        >>> softmax(jnp.array([0.0, 0.0])).tolist()
        [0.5, 0.5]
    """
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Log of the softmax over ``axis``, computed stably (``x - logsumexp(x)``).

    Args:
        x: input array (logits) of any shape and float dtype.
        axis: the axis to normalize over; -1 (the last, Keras's default) by default.

    Returns:
        An array of the same shape and dtype as ``x``, with non-positive values whose
        exponentials sum to 1 along ``axis``.
    """
    return jax.nn.log_softmax(x, axis=axis)


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    """Gaussian error linear unit ``x * Phi(x)``, with ``Phi`` the standard normal CDF.

    Args:
        x: input array of any shape and float dtype.
        approximate: False (the default, as in Keras) for the exact erf form; True for the
            faster tanh approximation.

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.gelu(x, approximate=approximate)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        x: input array of any shape and float dtype.
        alpha: scale of the negative part, which saturates at ``-alpha``; 1.0 by default
            (Keras's default).

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.elu(x, alpha=alpha)


def selu(x: jax.Array) -> jax.Array:
    """Scaled exponential linear unit.

    ``scale * x`` for ``x > 0``, else ``scale * alpha * (exp(x) - 1)``, with Keras's constants
    ``alpha ~= 1.6733`` and ``scale ~= 1.0507``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.selu(x)


def leaky_relu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
    """Leaky ReLU: ``x`` for ``x >= 0``, else ``negative_slope * x``.

    Args:
        x: input array of any shape and float dtype.
        negative_slope: slope for negative inputs; 0.2 by default (Keras 3's default).

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


def softplus(x: jax.Array) -> jax.Array:
    """Softplus ``log(1 + exp(x))``, computed stably.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with positive values.
    """
    return jax.nn.softplus(x)


def softsign(x: jax.Array) -> jax.Array:
    """Softsign ``x / (|x| + 1)``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with values in (-1, 1).
    """
    return jax.nn.soft_sign(x)


def silu(x: jax.Array) -> jax.Array:
    """Sigmoid linear unit ``x * sigmoid(x)`` (also registered as ``"swish"``).

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.silu(x)


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 3's piecewise-linear sigmoid ``relu6(x + 3) / 6``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with values in [0, 1].
    """
    return jax.nn.hard_sigmoid(x)


def hard_silu(x: jax.Array) -> jax.Array:
    """Hard SiLU ``x * hard_sigmoid(x)`` (also registered as ``"hard_swish"``).

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return jax.nn.hard_silu(x)


def mish(x: jax.Array) -> jax.Array:
    """Mish ``x * tanh(softplus(x))``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``.
    """
    return x * jnp.tanh(jax.nn.softplus(x))


def exponential(x: jax.Array) -> jax.Array:
    """Exponential ``exp(x)``.

    Args:
        x: input array of any shape and float dtype.

    Returns:
        An array of the same shape and dtype as ``x``, with positive values.
    """
    return jnp.exp(x)


for _fn in (
    linear,
    sigmoid,
    relu,
    tanh,
    softmax,
    log_softmax,
    gelu,
    elu,
    selu,
    leaky_relu,
    softplus,
    silu,
    relu6,
    softsign,
    hard_sigmoid,
    hard_silu,
    mish,
    exponential,
):
    register(_fn.__name__, _fn)
register("swish", silu)
register("hard_swish", hard_silu)


def get(identifier: str | Activation | None) -> Activation:
    """Resolve an activation name or callable; ``None`` means linear.

    An activation with arguments is a callable: ``functools.partial(activations.relu,
    max_value=6.0)`` (pickles and deep-copies; to save a model by name, register it).

    Args:
        identifier: a registered name (case-insensitive, e.g. ``"relu"``, ``"swish"``, or one
            added with :func:`register`), any callable mapping an array to an array (returned
            as is), or None.

    Returns:
        The activation function; :func:`linear` for None.

    Raises:
        ValueError: for an unknown name (with the valid ones and the closest match).
        TypeError: for something that is neither a name nor a callable.
    """
    if identifier is None:
        return linear
    return resolve(registry, identifier, "activation")


def serialize(fn: Activation) -> str:
    """The registered name of an activation, for saving (the inverse of :func:`get`).

    Args:
        fn: the activation function, compared by identity with the registered ones.

    Returns:
        Its registered name in lower case (the first one if it has several: :func:`silu`
        gives ``"silu"``, not ``"swish"``).

    Raises:
        ValueError: if ``fn`` is not registered (a lambda or a ``functools.partial``, for
            example); register it with :func:`register` to save it by name.

    Example:
        >>> from fnn import activations
        >>> activations.serialize(activations.get("swish"))
        'silu'
    """
    name = registry.name_of(fn)
    if name is None:
        raise ValueError(
            f"activation {fn!r} is not registered, so it cannot be saved by name; register it "
            "with fnn.activations.register(name, fn)."
        )
    return name


def is_named(fn: Any, *names: str) -> bool:
    """Whether ``fn`` is the activation registered under one of ``names``.

    Used inside fnn to spot a final softmax or sigmoid that training fuses into a cross-entropy
    loss.

    Args:
        fn: any object, typically an activation callable; compared by identity.
        *names: registered names to test against (case-insensitive); unknown names are
            ignored.

    Returns:
        True if ``fn`` is the very object registered under at least one of ``names``.
    """
    return any(name in registry and registry.get(name) is fn for name in names)
