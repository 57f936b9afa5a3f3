"""Device-side snapshots of the model's pytrees, for callbacks that may put weights back.

Copies stay on the device (no host transfer, no sync) and do not alias the model's buffers, so
they survive if a compiled epoch ever donates its inputs::

    >>> import jax.numpy as jnp
    >>> tree = {"w": jnp.ones(2)}
    >>> bool(all_finite(copy_tree(tree))), bool(all_finite({"w": jnp.array([1.0, jnp.nan])}))
    (True, False)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def copy_tree(tree: Any) -> Any:
    """A device-side copy of a pytree of arrays."""
    return jax.tree.map(jnp.copy, tree)


@jax.jit
def all_finite(tree: Any) -> jax.Array:
    """True when every array in ``tree`` is free of NaN and inf (one compiled reduction)."""
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves] or [True]))
