"""Weight regularizers: penalties added to the training loss (``kernel_regularizer="l2"``).

Names and default factors follow Keras (``"l1"``, ``"l2"``: 0.01)::

    >>> import jax.numpy as jnp
    >>> from fnn import regularizers
    >>> float(regularizers.L2(0.5)(jnp.array([1.0, 2.0])))
    2.5
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp

from fnn.registry import unknown_name_error


def _check_factor(value: Any, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{argument} must be a number >= 0, got {type(value).__name__}: {value!r}.")
    if not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"{argument} must be a finite number >= 0, got {value!r}.")
    return float(value)


@dataclasses.dataclass(frozen=True)
class L1L2:
    """``l1 * sum(|w|) + l2 * sum(w**2)`` (Keras's ``L1L2``, defaults 0 and 0).

    A frozen (hashable) dataclass. Calling it on a weight array ``w`` of any shape returns the
    penalty as a float32 scalar, which training adds to the loss.

    Args:
        l1: factor of the L1 penalty, a finite number >= 0 (stored as a float); 0.0 by default.
        l2: factor of the L2 penalty, a finite number >= 0 (stored as a float); 0.0 by default.

    Raises:
        TypeError: for a factor that is not a number.
        ValueError: for a negative or non-finite factor.
    """

    l1: float = 0.0
    l2: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "l1", _check_factor(self.l1, "l1"))
        object.__setattr__(self, "l2", _check_factor(self.l2, "l2"))

    def __call__(self, w: jax.Array) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        if self.l1:
            total = total + self.l1 * jnp.sum(jnp.abs(w))
        if self.l2:
            total = total + self.l2 * jnp.sum(jnp.square(w))
        return total


def L1(l1: float = 0.01) -> L1L2:
    """L1 penalty ``l1 * sum(|w|)`` (Keras's ``L1``, also the name ``"l1"``).

    Args:
        l1: factor of the penalty, a finite number >= 0; 0.01 by default (Keras's default).

    Returns:
        An :class:`L1L2` with ``l2=0``.

    Raises:
        TypeError: if ``l1`` is not a number.
        ValueError: if ``l1`` is negative or not finite.
    """
    return L1L2(l1=l1)


def L2(l2: float = 0.01) -> L1L2:
    """L2 penalty ``l2 * sum(w**2)`` (Keras's ``L2``, also the name ``"l2"``).

    Args:
        l2: factor of the penalty, a finite number >= 0; 0.01 by default (Keras's default).

    Returns:
        An :class:`L1L2` with ``l1=0``.

    Raises:
        TypeError: if ``l2`` is not a number.
        ValueError: if ``l2`` is negative or not finite.
    """
    return L1L2(l2=l2)


def l1_l2(l1: float = 0.0, l2: float = 0.0) -> L1L2:
    """Both penalties; Keras 3's defaults are 0 and 0 (tf.keras 2 had 0.01 and 0.01).

    Note that the name ``"l1_l2"`` therefore gives a regularizer with no penalty, as in Keras 3.

    Args:
        l1: factor of the L1 penalty, a finite number >= 0; 0.0 by default.
        l2: factor of the L2 penalty, a finite number >= 0; 0.0 by default.

    Returns:
        An :class:`L1L2` with these factors.

    Raises:
        TypeError: if a factor is not a number.
        ValueError: if a factor is negative or not finite.

    Example:
        >>> l1_l2(l2=1e-4)
        L1L2(l1=0.0, l2=0.0001)
    """
    return L1L2(l1=l1, l2=l2)


NAMES = {"l1": L1, "l2": L2, "l1_l2": l1_l2}
# Keras's serialized class names and the config keys each takes.
CLASS_NAMES = {"L1": ("l1",), "L2": ("l2",), "L1L2": ("l1", "l2")}


def get(identifier: Any) -> L1L2 | None:
    """Resolve a regularizer identifier.

    Args:
        identifier: None, a name (``"l1"``, ``"l2"``, ``"l1_l2"``), an :class:`L1L2`, fnn's
            config ``{"l1": .., "l2": ..}`` or Keras's ``{"class_name": "L2", "config": {"l2":
            0.1}}``.

    Returns:
        The regularizer, or None.

    Raises:
        ValueError: for an unknown name or class, or a dict of another form (never a silent
            no-penalty).
        TypeError: for anything else.

    Example:
        >>> get({"class_name": "L2", "config": {"l2": 0.1}})
        L1L2(l1=0.0, l2=0.1)
    """
    if identifier is None or isinstance(identifier, L1L2):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in NAMES:
            raise unknown_name_error("regularizer", identifier, list(NAMES))
        return NAMES[key]()
    if isinstance(identifier, dict):
        return _from_dict(identifier)
    raise TypeError(
        f"regularizer must be None, 'l1', 'l2', 'l1_l2' or fnn.regularizers.L1L2, got "
        f"{type(identifier).__name__}: {identifier!r}."
    )


def serialize(reg: L1L2 | None) -> dict[str, float] | None:
    """JSON-able form of a regularizer, which :func:`get` turns back into it.

    Args:
        reg: the regularizer, or None.

    Returns:
        ``{"l1": reg.l1, "l2": reg.l2}`` (floats), or None for None.

    Example:
        >>> serialize(L2(0.1))
        {'l1': 0.0, 'l2': 0.1}
    """
    return None if reg is None else {"l1": reg.l1, "l2": reg.l2}


def _from_dict(config: dict[str, Any]) -> L1L2:
    if set(config) <= {"l1", "l2"} and config:
        return L1L2(**config)
    if set(config) <= {"class_name", "config", "module", "registered_name"} and isinstance(
        config.get("config", {}), dict
    ):
        name = config.get("class_name")
        keys = CLASS_NAMES.get(name) if isinstance(name, str) else None
        if keys is None:
            raise unknown_name_error("regularizer class", name, list(CLASS_NAMES))
        inner = config.get("config", {})
        extra = sorted(set(inner) - set(keys))
        if extra:
            raise ValueError(f"regularizer {name} takes {list(keys)}, got unknown keys {extra}.")
        return L1L2(**inner)
    raise ValueError(
        "a regularizer dict must be {'l1': .., 'l2': ..} or Keras's {'class_name': 'L2', "
        f"'config': {{'l2': ..}}}}; got {config!r}."
    )
