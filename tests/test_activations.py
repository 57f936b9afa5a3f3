"""fnn.activations against Keras 3's activations, with and without arguments."""

import functools
import os
import pickle

import numpy as np
import pytest

from fnn import activations

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras

X = np.linspace(-8.0, 8.0, 33, dtype=np.float32).reshape(3, 11)

NAMES = [
    "linear", "sigmoid", "relu", "tanh", "softmax", "log_softmax", "gelu", "elu", "selu",
    "leaky_relu", "softplus", "silu", "swish", "relu6", "softsign", "hard_sigmoid", "hard_silu",
    "hard_swish", "mish", "exponential",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_name_matches_keras(name):
    np.testing.assert_allclose(
        activations.get(name)(X), keras.activations.get(name)(X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("relu", {"negative_slope": 0.5}),
        ("relu", {"max_value": 5.0}),
        ("relu", {"max_value": 6.0}),
        ("relu", {"threshold": 2.0}),
        ("relu", {"negative_slope": 0.1, "max_value": 4.0, "threshold": -1.0}),
        ("leaky_relu", {"negative_slope": 0.05}),
        ("softmax", {"axis": 0}),
        ("log_softmax", {"axis": 0}),
        ("gelu", {"approximate": True}),
        ("elu", {"alpha": 0.5}),
    ],
)
def test_arguments_match_keras(name, kwargs):
    ours = getattr(activations, name)(X, **kwargs)
    theirs = getattr(keras.activations, name)(X, **kwargs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_keras_3_leaky_relu_default_slope():
    assert float(activations.leaky_relu(np.float32(-1.0))) == pytest.approx(-0.2)


def test_partial_activations_resolve_and_pickle():
    capped = functools.partial(activations.relu, max_value=1.0)
    again = pickle.loads(pickle.dumps(activations.get(capped)))
    np.testing.assert_allclose(again(X), np.clip(X, 0, 1))
