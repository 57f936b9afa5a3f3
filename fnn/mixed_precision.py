"""Dtype policies: which dtype parameters are stored in and which dtype the layers compute in.

``"mixed_bfloat16"`` (Keras's name) keeps float32 parameters and optimizer state but runs the
layers in bfloat16, the fast path of accelerators' matrix units; losses and metrics are computed
from float32 outputs. ``"bfloat16"`` stores the parameters in bfloat16 too, and ``"float64"``
computes and stores in float64 (it needs ``jax.config.update("jax_enable_x64", True)``).
:meth:`Policy.cast_variables` puts a parameter tree into the policy's variable dtype::

    >>> from fnn.mixed_precision import Policy
    >>> policy = Policy("mixed_bfloat16")
    >>> policy.compute_dtype.name, policy.variable_dtype.name
    ('bfloat16', 'float32')
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnn.registry import unknown_name_error

POLICIES = {
    "float32": ("float32", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
    "bfloat16": ("bfloat16", "bfloat16"),
    "float64": ("float64", "float64"),
}


@dataclasses.dataclass(frozen=True)
class Policy:
    """A named dtype policy: ``compute_dtype`` for layer math, ``variable_dtype`` for params.

    fnn's counterpart of ``keras.mixed_precision.Policy`` / ``keras.DTypePolicy``; the policy is
    frozen (hashable) and is chosen by name only.

    Args:
        name: one of ``"float32"`` (default: compute and store in float32),
            ``"mixed_bfloat16"`` (compute in bfloat16, store float32), ``"bfloat16"`` (compute
            and store in bfloat16) or ``"float64"`` (compute and store in float64).

    Raises:
        ValueError: for an unknown name, or ``"float64"`` without ``jax_enable_x64``.

    Example:
        >>> Policy("bfloat16").variable_dtype.name
        'bfloat16'
    """

    name: str = "float32"

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise unknown_name_error("dtype_policy", self.name, list(POLICIES))
        if self.name == "float64" and not jax.config.read("jax_enable_x64"):
            raise ValueError(
                'dtype_policy "float64" needs 64-bit JAX: call '
                'jax.config.update("jax_enable_x64", True) first.'
            )

    def cast_variables(self, params: Any) -> Any:
        """``params`` with every floating-point leaf in :attr:`variable_dtype` (others kept).

        Args:
            params: a pytree of arrays (or array-likes), e.g. a model's parameters.

        Returns:
            A pytree of the same structure whose leaves are JAX arrays: floating-point leaves
            cast to :attr:`variable_dtype`, integer and boolean leaves unchanged.

        Example:
            >>> import jax.numpy as jnp
            >>> tree = {"w": jnp.ones(2), "n": jnp.arange(2)}
            >>> Policy("bfloat16").cast_variables(tree)["w"].dtype
            dtype(bfloat16)
        """
        dtype = self.variable_dtype

        def cast(leaf: Any) -> Any:
            leaf = jnp.asarray(leaf)
            return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

        return jax.tree_util.tree_map(cast, params)

    @property
    def compute_dtype(self) -> np.dtype:
        """The dtype the layers compute in."""
        return jnp.dtype(POLICIES[self.name][0])

    @property
    def variable_dtype(self) -> np.dtype:
        """The dtype parameters are stored in."""
        return jnp.dtype(POLICIES[self.name][1])


def get(policy: str | Policy | None) -> Policy:
    """Resolve the ``dtype_policy`` argument of a model or layer to a :class:`Policy`.

    Args:
        policy: None (the default ``"float32"`` policy), a policy name (see :class:`Policy`) or
            a :class:`Policy`, returned as it is.

    Returns:
        The :class:`Policy`.

    Raises:
        TypeError: ``policy`` is neither None, a str nor a :class:`Policy`.
        ValueError: ``policy`` is an unknown name, or ``"float64"`` without ``jax_enable_x64``.

    Example:
        >>> get("mixed_bfloat16").compute_dtype.name
        'bfloat16'
        >>> get(None).name
        'float32'
    """
    if policy is None:
        return Policy()
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, str):
        return Policy(policy)
    raise TypeError(
        f"dtype_policy must be a name ({', '.join(POLICIES)}) or a fnn.mixed_precision.Policy, "
        f"got {type(policy).__name__}."
    )
