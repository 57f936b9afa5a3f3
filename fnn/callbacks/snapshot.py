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
    """A device-side copy of a pytree of arrays.

    Args:
        tree: a pytree of arrays.

    Returns:
        The same structure with every leaf copied on its device.
    """
    return jax.tree.map(jnp.copy, tree)


@jax.jit
def all_finite(tree: Any) -> jax.Array:
    """True when every array in ``tree`` is free of NaN and inf (one compiled reduction)."""
    leaves = jax.tree.leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in leaves] or [True]))


def where_members(which: Any, new: Any, old: Any) -> Any:
    """``new`` where ``which`` is True, else ``old``.

    Args:
        which: a single bool (all or nothing), or a mask over the leading (member) axis.
        new: a pytree of arrays.
        old: a pytree of the same structure.

    Returns:
        ``new`` or ``old`` for a single bool; else their leaves merged member by member.
    """
    mask = jnp.asarray(which)
    if mask.ndim == 0:
        return new if bool(mask) else old

    def pick(n: Any, o: Any) -> Any:
        return jnp.where(mask.reshape((-1,) + (1,) * (jnp.ndim(n) - 1)), n, o)

    return jax.tree.map(pick, new, old)


@jax.jit
def members_finite(ts: Any) -> jax.Array:
    """Per population member: True when its parameters and state are free of NaN and inf."""
    leaves = jax.tree.leaves((ts.params, ts.state))
    per_leaf = [jnp.all(jnp.isfinite(x.reshape(x.shape[0], -1)), axis=1) for x in leaves]
    return jnp.all(jnp.stack(per_leaf), axis=0)
