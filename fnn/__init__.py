"""fnn: Keras-style neural networks on a core of pure JAX functions, trained with Optax.

>>> import fnn
>>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=3)])
>>> model.compile(optimizer="sgd", loss="mse")
"""

from fnn import (
    activations,
    callbacks,
    data,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    regularizers,
    saving,
    training,
)
from fnn.layers import serial
from fnn.models import Sequential, load_model

__version__ = "0.1.0"

__all__ = [
    "Sequential",
    "activations",
    "callbacks",
    "data",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "optimizers",
    "regularizers",
    "saving",
    "serial",
    "training",
]
