"""fnn.mixed_precision: Keras's policy names and their variable dtypes."""

import subprocess
import sys

import jax.numpy as jnp
import pytest

from fnn import mixed_precision


@pytest.mark.parametrize(
    "name,compute,variable",
    [
        ("float32", "float32", "float32"),
        ("mixed_bfloat16", "bfloat16", "float32"),
        ("bfloat16", "bfloat16", "bfloat16"),
    ],
)
def test_policies_and_cast_variables(name, compute, variable):
    policy = mixed_precision.get(name)
    assert (policy.compute_dtype.name, policy.variable_dtype.name) == (compute, variable)
    params = {"kernel": jnp.ones((2, 2), jnp.float32), "step": jnp.zeros((), jnp.int32)}
    cast = policy.cast_variables(params)
    assert cast["kernel"].dtype == jnp.dtype(variable) and cast["step"].dtype == jnp.int32


def test_float64_policy_needs_x64_and_then_works():
    with pytest.raises(ValueError, match="jax_enable_x64"):
        mixed_precision.Policy("float64")
    code = (
        "import jax; jax.config.update('jax_enable_x64', True)\n"
        "import jax.numpy as jnp\n"
        "from fnn import mixed_precision as mp\n"
        "p = mp.get('float64')\n"
        "print(p.compute_dtype, p.cast_variables({'w': jnp.ones(2, jnp.float32)})['w'].dtype)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float64", "float64"]


def test_unknown_policy_names_the_choices():
    with pytest.raises(ValueError, match="float64"):
        mixed_precision.get("float16x")
