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


def relu(x: jax.Array) -> jax.Array:
    """Rectified linear unit ``max(0, x)``."""
    return jax.nn.relu(x)


def tanh(x: jax.Array) -> jax.Array:
    """Hyperbolic tangent."""
    return jnp.tanh(x)


def softmax(x: jax.Array) -> jax.Array:
    """Softmax over the last axis."""
    return jax.nn.softmax(x, axis=-1)


def log_softmax(x: jax.Array) -> jax.Array:
    """Log of the softmax over the last axis, computed stably."""
    return jax.nn.log_softmax(x, axis=-1)


def gelu(x: jax.Array) -> jax.Array:
    """Gaussian error linear unit (exact form, as Keras's default ``approximate=False``)."""
    return jax.nn.gelu(x, approximate=False)


def elu(x: jax.Array) -> jax.Array:
    """Exponential linear unit with alpha 1."""
    return jax.nn.elu(x)


def selu(x: jax.Array) -> jax.Array:
    """Scaled exponential linear unit."""
    return jax.nn.selu(x)


def leaky_relu(x: jax.Array) -> jax.Array:
    """Leaky ReLU with Keras's default negative slope 0.2."""
    return jax.nn.leaky_relu(x, negative_slope=0.2)


def softplus(x: jax.Array) -> jax.Array:
    """``log(1 + exp(x))``, computed stably."""
    return jax.nn.softplus(x)


def silu(x: jax.Array) -> jax.Array:
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish)."""
    return jax.nn.silu(x)


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
):
    register(_fn.__name__, _fn)
register("swish", silu)


def get(identifier: str | Activation | None) -> Activation:
    """Resolve an activation name or callable; ``None`` means linear."""
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
