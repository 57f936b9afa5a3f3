"""fnn: Keras-style neural networks on a core of pure JAX functions, trained with Optax.

>>> import fnn
>>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=3)])
>>> model.compile(optimizer="sgd", loss="mse")
"""

from fnn import (
    activations,
    archive,
    callbacks,
    data,
    distributed,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    optimizers,
    regularizers,
    saving,
    training,
)
from fnn.layers import parallel, serial
from fnn.models import Sequential, load_model
from fnn.population import Population

__version__ = "0.1.0"

__all__ = [
    "Population",
    "Sequential",
    "activations",
    "archive",
    "callbacks",
    "data",
    "distributed",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "mixed_precision",
    "optimizers",
    "parallel",
    "regularizers",
    "saving",
    "serial",
    "training",
]
