"""Weight regularizers: penalties added to the training loss (``kernel_regularizer="l2"``).

Names and default factors follow Keras (``"l1"``, ``"l2"``: 0.01)::

    >>> import jax.numpy as jnp
    >>> from fnn import regularizers
    >>> float(regularizers.L2(0.5)(jnp.array([1.0, 2.0])))
    2.5
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class L1L2:
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    l1: float = 0.0
    l2: float = 0.0

    def __call__(self, w: jax.Array) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        if self.l1:
            total = total + self.l1 * jnp.sum(jnp.abs(w))
        if self.l2:
            total = total + self.l2 * jnp.sum(jnp.square(w))
        return total


def L1(l1: float = 0.01) -> L1L2:
    """L1 penalty ``l1 * sum(|w|)``."""
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:
    """L2 penalty ``l2 * sum(w**2)``."""
    return L1L2(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """Both penalties (Keras's ``l1_l2`` defaults)."""
    return L1L2(l1=l1, l2=l2)


NAMES = {"l1": L1, "l2": L2, "l1_l2": l1_l2}


def get(identifier: Any) -> L1L2 | None:
    """Resolve None, a name (``"l1"``, ``"l2"``, ``"l1_l2"``), an :class:`L1L2` or its config."""
    if identifier is None or isinstance(identifier, L1L2):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in NAMES:
            from fnn.registry import unknown_name_error

            raise unknown_name_error("regularizer", identifier, list(NAMES))
        return NAMES[key]()
    if isinstance(identifier, dict):
        return L1L2(l1=float(identifier.get("l1", 0.0)), l2=float(identifier.get("l2", 0.0)))
    raise TypeError(
        f"regularizer must be None, 'l1', 'l2', 'l1_l2' or fnn.regularizers.L1L2, got "
        f"{type(identifier).__name__}: {identifier!r}."
    )


def serialize(reg: L1L2 | None) -> dict[str, float] | None:
    """JSON-able form of a regularizer (None stays None)."""
    return None if reg is None else {"l1": reg.l1, "l2": reg.l2}
