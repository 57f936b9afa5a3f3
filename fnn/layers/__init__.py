"""Layers: small objects holding configuration, with pure ``init`` and ``apply`` functions.

The layer contract (every layer and :func:`serial` follow it):

- ``init(key, input_shape) -> params``: a pytree of trainable arrays (dicts of arrays; ``{}``
  for a layer without weights). ``input_shape`` excludes the batch axis; an int ``n`` means
  ``(n,)``.
- ``init_state(input_shape) -> state``: a pytree of non-trainable arrays (running statistics);
  ``{}`` for most layers.
- ``call(params, state, x, *, key, training) -> (y, new_state)``: the forward pass in full,
  pure, safe under ``jit``, ``grad`` and ``vmap``; the one method a layer implements. A layer
  without state has an empty one (``{}``; a list of them for :func:`serial`).
- ``apply(params, x, *, state=None, key=None, training=False) -> y``: a convenience over
  ``call`` that returns ``y`` alone, whatever its arguments. Layers with randomness take
  ``key=`` and ``training=``; layers with state need ``state=`` (use ``call`` for the new one).
- ``output_shape(input_shape)``, ``get_config()``, and Keras's weight order through
  ``weights_of(params, state)`` / ``from_weights(weights, params, state)``.

The families: everyday layers (:mod:`fnn.layers.core`), normalization, convolution
(:mod:`fnn.layers.conv`: ``Conv1D``, ``Conv2D``), pooling (:mod:`fnn.layers.pooling`),
``Embedding``, and stax's combinators (:mod:`fnn.layers.combinators`: ``serial``,
``parallel``, ``FanOut``, ``FanInSum``, ``FanInConcat``, ``Identity``, ``Residual``).

Example::

    >>> import jax, jax.numpy as jnp
    >>> from fnn.layers import Dense, serial
    >>> net = serial(Dense(4, activation="relu"), Dense(1))
    >>> params = net.init(jax.random.key(0), 3)
    >>> net.apply(params, jnp.ones((2, 3))).shape
    (2, 1)
"""

from fnn.layers.base import (
    LAYER_CLASSES,
    Layer,
    Params,
    Shape,
    State,
    as_shape,
    count_params,
    format_shape,
    is_multi_shape,
    layer_from_config,
    layer_to_config,
    register_layer,
)
from fnn.layers.combinators import (
    FanInConcat,
    FanInSum,
    FanOut,
    Identity,
    Parallel,
    Residual,
    Serial,
    parallel,
    serial,
)
from fnn.layers.conv import Conv1D, Conv2D
from fnn.layers.core import Activation, Dense, Dropout, Flatten, Input, Reshape
from fnn.layers.embedding import Embedding
from fnn.layers.normalization import BatchNormalization, LayerNormalization
from fnn.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)

__all__ = [
    "LAYER_CLASSES",
    "Activation",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Conv1D",
    "Conv2D",
    "Dense",
    "Dropout",
    "Embedding",
    "FanInConcat",
    "FanInSum",
    "FanOut",
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Identity",
    "Input",
    "Layer",
    "LayerNormalization",
    "MaxPooling1D",
    "MaxPooling2D",
    "Parallel",
    "Params",
    "Reshape",
    "Residual",
    "Serial",
    "Shape",
    "State",
    "as_shape",
    "count_params",
    "format_shape",
    "is_multi_shape",
    "layer_from_config",
    "layer_to_config",
    "parallel",
    "register_layer",
    "serial",
]
