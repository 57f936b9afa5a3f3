"""Dtype policies: which dtype parameters are stored in and which dtype the layers compute in.

``"mixed_bfloat16"`` (Keras's name) keeps float32 parameters and optimizer state but runs the
layers in bfloat16, the fast path of accelerators' matrix units; losses and metrics are computed
from float32 outputs::

    >>> from fnn.mixed_precision import Policy
    >>> policy = Policy("mixed_bfloat16")
    >>> policy.compute_dtype.name, policy.variable_dtype.name
    ('bfloat16', 'float32')
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from fnn.registry import unknown_name_error

POLICIES = {
    "float32": ("float32", "float32"),
    "mixed_bfloat16": ("bfloat16", "float32"),
    "bfloat16": ("bfloat16", "bfloat16"),
}


@dataclasses.dataclass(frozen=True)
class Policy:
    """A named dtype policy: ``compute_dtype`` for layer math, ``variable_dtype`` for params."""

    name: str = "float32"

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise unknown_name_error("dtype_policy", self.name, list(POLICIES))

    @property
    def compute_dtype(self) -> np.dtype:
        return jnp.dtype(POLICIES[self.name][0])

    @property
    def variable_dtype(self) -> np.dtype:
        return jnp.dtype(POLICIES[self.name][1])


def get(policy: str | Policy | None) -> Policy:
    """Resolve None (float32), a policy name or a :class:`Policy`."""
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
