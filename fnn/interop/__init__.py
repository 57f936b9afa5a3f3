"""Weights in and out of other formats: safetensors (:mod:`fnn.interop.safetensors`) and Keras 3
``.weights.h5`` / ``.keras`` files (:mod:`fnn.interop.keras`).

Both name a model's arrays the way Keras does, layer by layer in ``get_weights`` order
(:func:`weight_names`): ``dense/kernel``, ``dense/bias``, ``batch_normalization/moving_mean``...
"""

from fnn.interop.keras import load_keras_weights
from fnn.interop.names import layer_weight_names, weight_names
from fnn.interop.safetensors import load_safetensors, save_safetensors

__all__ = [
    "layer_weight_names",
    "load_keras_weights",
    "load_safetensors",
    "save_safetensors",
    "weight_names",
]
