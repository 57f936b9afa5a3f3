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
    """Identity: ``f(x) = x``."""
    return x


def sigmoid(x: jax.Array) -> jax.Array:
    """Logistic sigmoid ``1 / (1 + exp(-x))``."""
    return jax.nn.sigmoid(x)


def relu(
    x: jax.Array,
    negative_slope: float = 0.0,
    max_value: float | None = None,
    threshold: float = 0.0,
) -> jax.Array:
    """Rectified linear unit with Keras's arguments.

    ``x`` for ``threshold < x < max_value``, ``max_value`` above, and
    ``negative_slope * (x - threshold)`` below the threshold.

    >>> import jax.numpy as jnp
    >>> relu(jnp.array([-10.0, -5.0, 0.0, 5.0, 10.0]), negative_slope=0.5, max_value=5.0).tolist()
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
    """``min(max(0, x), 6)``."""
    return jax.nn.relu6(x)


def tanh(x: jax.Array) -> jax.Array:
    """Hyperbolic tangent."""
    return jnp.tanh(x)


def softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Softmax over ``axis`` (the last by default)."""
    return jax.nn.softmax(x, axis=axis)


def log_softmax(x: jax.Array, axis: int = -1) -> jax.Array:
    """Log of the softmax over ``axis``, computed stably."""
    return jax.nn.log_softmax(x, axis=axis)


def gelu(x: jax.Array, approximate: bool = False) -> jax.Array:
    """Gaussian error linear unit: exact (Keras's default) or the tanh ``approximate`` form."""
    return jax.nn.gelu(x, approximate=approximate)


def elu(x: jax.Array, alpha: float = 1.0) -> jax.Array:
    """Exponential linear unit: ``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return jax.nn.elu(x, alpha=alpha)


def selu(x: jax.Array) -> jax.Array:
    """Scaled exponential linear unit."""
    return jax.nn.selu(x)


def leaky_relu(x: jax.Array, negative_slope: float = 0.2) -> jax.Array:
    """Leaky ReLU; Keras 3's default negative slope is 0.2."""
    return jax.nn.leaky_relu(x, negative_slope=negative_slope)


def softplus(x: jax.Array) -> jax.Array:
    """``log(1 + exp(x))``, computed stably."""
    return jax.nn.softplus(x)


def softsign(x: jax.Array) -> jax.Array:
    """``x / (|x| + 1)``."""
    return jax.nn.soft_sign(x)


def silu(x: jax.Array) -> jax.Array:
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish)."""
    return jax.nn.silu(x)


def hard_sigmoid(x: jax.Array) -> jax.Array:
    """Keras 3's piecewise-linear sigmoid ``relu6(x + 3) / 6``."""
    return jax.nn.hard_sigmoid(x)


def hard_silu(x: jax.Array) -> jax.Array:
    """``x * hard_sigmoid(x)`` (also called hard swish)."""
    return jax.nn.hard_silu(x)


def mish(x: jax.Array) -> jax.Array:
    """``x * tanh(softplus(x))``."""
    return x * jnp.tanh(jax.nn.softplus(x))


def exponential(x: jax.Array) -> jax.Array:
    """``exp(x)``."""
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

    Raises:
        ValueError: for an unknown name (with the valid ones and the closest match).
        TypeError: for something that is neither a name nor a callable.
    """
    if identifier is None:
        return linear
    return resolve(registry, identifier, "activation")


def serialize(fn: Activation) -> str:
    """The registered name of an activation, for saving; raises if it has none."""
    name = registry.name_of(fn)
    if name is None:
        raise ValueError(
            f"activation {fn!r} is not registered, so it cannot be saved by name; register it "
            "with fnn.activations.register(name, fn)."
        )
    return name


def is_named(fn: Any, *names: str) -> bool:
    """Whether ``fn`` is the activation registered under one of ``names``."""
    return any(name in registry and registry.get(name) is fn for name in names)
