"""fnn: Keras-style neural networks on a core of pure JAX functions, trained with Optax.

>>> import fnn
>>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=3)])
>>> model.compile(optimizer="sgd", loss="mse")
>>> fnn.__version__.count(".") >= 1 or fnn.__version__ == "0+unknown"
True
"""

from fnn import config

config.apply_default()  # JAX's persistent compilation cache; see fnn.config

from fnn import (  # noqa: E402
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
from fnn.layers import parallel, serial  # noqa: E402
from fnn.models import Sequential, load_model  # noqa: E402
from fnn.population import Population  # noqa: E402


def _installed_version() -> str:
    """The version in the package's metadata (pyproject.toml's, the one place it is written)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fnn")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


__version__: str = _installed_version()

__all__ = [
    "Population",
    "Sequential",
    "activations",
    "archive",
    "callbacks",
    "config",
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
