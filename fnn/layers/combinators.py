"""Combinators: layers made of layers (stax's ``serial``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn.layers.base import Layer, Params, Shape, State, as_shape, layer_to_config


class Serial(Layer):
    """Layers applied one after another; params and state are lists, one entry per layer."""

    def __init__(
        self, layers: Sequence[Layer], *, name: str | None = None, compute_dtype: Any = None
    ) -> None:
        layers = list(layers)
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"layers[{i}] must be a fnn layer (e.g. fnn.layers.Dense), got "
                    f"{type(layer).__name__}: {layer!r}."
                )
        first_shape = layers[0].input_shape if layers else None
        super().__init__(input_shape=first_shape, name=name)
        self.layers = layers
        #: When set (e.g. bfloat16), inputs are cast to it and outputs back to float32.
        self.compute_dtype = None if compute_dtype is None else jnp.dtype(compute_dtype)

    @property
    def has_state(self) -> bool:  # type: ignore[override]
        return any(layer.has_state for layer in self.layers)

    def input_shapes(self, input_shape: int | Sequence[int]) -> list[Shape]:
        """The input shape seen by each layer, then the final output shape."""
        shapes = [as_shape(input_shape)]
        for layer in self.layers:
            shapes.append(layer.output_shape(shapes[-1]))
        return shapes

    def init(self, key: jax.Array, input_shape: int | Sequence[int]) -> Params:
        shapes = self.input_shapes(input_shape)
        return [
            layer.init(jax.random.fold_in(key, i), s)
            for i, (layer, s) in enumerate(zip(self.layers, shapes, strict=False))
        ]

    def init_state(self, input_shape: int | Sequence[int]) -> State:
        shapes = self.input_shapes(input_shape)
        return [layer.init_state(s) for layer, s in zip(self.layers, shapes, strict=False)]

    def empty_state(self) -> State:
        return [layer.empty_state() for layer in self.layers]

    def call(self, params, state, x, *, key=None, training=False):
        if self.compute_dtype is not None:
            x = x.astype(self.compute_dtype)
        new_state = []
        for i, (layer, p, s) in enumerate(zip(self.layers, params, state, strict=True)):
            k = None if key is None else jax.random.fold_in(key, i)
            x, s = layer.call(p, s, x, key=k, training=training)
            new_state.append(s)
        if self.compute_dtype is not None:
            x = x.astype(jnp.float32)
        return x, new_state

    def output_shape(self, input_shape: int | Sequence[int]) -> Shape:
        return self.input_shapes(input_shape)[-1]

    def regularization_loss(self, params: Params) -> jax.Array:
        total = jnp.zeros((), jnp.float32)
        for layer, p in zip(self.layers, params, strict=True):
            total = total + layer.regularization_loss(p)
        return total

    @property
    def output_activation(self):
        return self.layers[-1].output_activation if self.layers else None

    def without_output_activation(self) -> Serial:
        return Serial(
            [*self.layers[:-1], self.layers[-1].without_output_activation()],
            name=self.name,
            compute_dtype=self.compute_dtype,
        )

    def weights_of(self, params: Params, state: State) -> list[jax.Array]:
        out: list[jax.Array] = []
        for layer, p, s in zip(self.layers, params, state, strict=True):
            out.extend(layer.weights_of(p, s))
        return out

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "layers": [layer_to_config(x) for x in self.layers]}


def serial(*layers: Layer) -> Serial:
    """Compose layers in sequence (stax's ``serial``): one layer whose params are a list.

    >>> import jax, jax.numpy as jnp
    >>> from fnn.layers import Dense
    >>> net = serial(Dense(8, activation="tanh"), Dense(2))
    >>> params = net.init(jax.random.key(1), (5,))
    >>> [p["kernel"].shape for p in params]
    [(5, 8), (8, 2)]
    """
    return Serial(layers)
