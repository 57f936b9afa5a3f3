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
  ``weights_of(params, state)`` / ``load_weights(weights, input_shape)``.

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
    layer_from_config,
    layer_to_config,
    register_layer,
)
from fnn.layers.combinators import Serial, serial
from fnn.layers.core import Activation, Dense, Dropout, Flatten, Input, Reshape
from fnn.layers.normalization import BatchNormalization, LayerNormalization

__all__ = [
    "LAYER_CLASSES",
    "Activation",
    "BatchNormalization",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "Layer",
    "LayerNormalization",
    "Params",
    "Reshape",
    "Serial",
    "Shape",
    "State",
    "as_shape",
    "count_params",
    "layer_from_config",
    "layer_to_config",
    "register_layer",
    "serial",
]
