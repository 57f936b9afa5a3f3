"""Names of a model's arrays: ``<layer name>/<weight key>``, in ``get_weights`` order."""

from __future__ import annotations

from typing import Any


def layer_weight_names(layer: Any, params: Any, state: Any) -> list[str]:
    """The names of ``layer.weights_of(params, state)``'s arrays: ``"<layer.name>/<key>"``.

    Args:
        layer: a fnn layer (with ``name``, ``weight_keys`` and ``weights_of``).
        params: the layer's parameters.
        state: the layer's non-trainable state.

    Returns:
        One name per array, in Keras's weight order. A layer whose ``weights_of`` does not list
        exactly its present ``weight_keys`` gets numbered names (``"<layer.name>/0"``, ...).

    >>> import jax
    >>> from fnn.layers import Dense
    >>> layer = Dense(2, name="dense")
    >>> layer_weight_names(layer, layer.init(jax.random.key(0), 3), {})
    ['dense/kernel', 'dense/bias']
    """
    trees = {"params": params, "state": state}
    keys = [k for c, k in layer.weight_keys if isinstance(trees.get(c), dict) and k in trees[c]]
    count = len(layer.weights_of(params, state))
    if len(keys) != count:
        keys = [str(i) for i in range(count)]
    return [f"{layer.name}/{k}" for k in keys]


def weight_names(model: Any) -> list[str]:
    """The names of ``model.get_weights()``'s arrays, one per array, in the same order.

    Args:
        model: a built :class:`fnn.models.Sequential`.

    Returns:
        ``["dense/kernel", "dense/bias", ...]``: each layer's name, a slash, the weight's key.

    Raises:
        ValueError: the model is not built.

    >>> import fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(4, input_shape=3), fnn.layers.Dense(1)])
    >>> weight_names(model)
    ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'dense_1/bias']
    """
    if getattr(model, "params", None) is None:
        raise ValueError(
            "The model is not built, so it has no weights to name: give the first layer "
            "input_shape or call model.build(input_shape) first."
        )
    names: list[str] = []
    for layer, p, s in zip(model.layers, model.params, model.state, strict=True):
        names += layer_weight_names(layer, p, s)
    return names
