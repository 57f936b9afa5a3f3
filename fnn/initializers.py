"""Weight initializers, by name or as callables ``init(key, shape, dtype) -> array``.

Names and defaults follow Keras (``glorot_uniform`` is the default kernel initializer; fans are
computed from a ``(in, out)`` kernel). Any ``jax.nn.initializers`` function works as a callable::

    >>> import jax
    >>> from fnn import initializers
    >>> w = initializers.get("he_normal")(jax.random.key(0), (4, 3))
    >>> w.shape
    (4, 3)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from fnn.registry import Registry, resolve

Initializer = Callable[..., jax.Array]

registry: Registry[Initializer] = Registry("initializer")
register = registry.register


def zeros(key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """All zeros."""
    return jnp.zeros(shape, dtype)


def ones(key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """All ones."""
    return jnp.ones(shape, dtype)


def random_normal(
    key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32
) -> jax.Array:
    """Normal with mean 0 and standard deviation 0.05 (Keras's defaults)."""
    return 0.05 * jax.random.normal(key, shape, dtype)


def random_uniform(
    key: jax.Array, shape: Sequence[int], dtype: jnp.dtype = jnp.float32
) -> jax.Array:
    """Uniform on [-0.05, 0.05] (Keras's defaults)."""
    return jax.random.uniform(key, shape, dtype, minval=-0.05, maxval=0.05)


register("zeros", zeros)
register("ones", ones)
register("random_normal", random_normal)
register("random_uniform", random_uniform)
register("glorot_uniform", jinit.glorot_uniform())
register("glorot_normal", jinit.glorot_normal())
register("he_uniform", jinit.he_uniform())
register("he_normal", jinit.he_normal())
register("lecun_uniform", jinit.lecun_uniform())
register("lecun_normal", jinit.lecun_normal())


def get(identifier: str | Initializer) -> Initializer:
    """Resolve an initializer name or callable."""
    return resolve(registry, identifier, "initializer")
