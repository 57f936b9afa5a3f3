"""Embedding: integer ids to dense vectors (Keras's ``Embedding``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnn import initializers, regularizers
from fnn.layers.base import (
    Layer,
    Params,
    Shape,
    as_shape,
    callable_name,
    positive_int,
    register_layer,
)


@register_layer
class Embedding(Layer):
    """Turns integer ids in ``[0, input_dim)`` into vectors of ``output_dim`` (a table lookup).

    Inputs of shape ``(batch, *shape)`` hold ids; outputs have shape ``(batch, *shape,
    output_dim)``. Params: ``{"embeddings": (input_dim, output_dim)}`` (Keras's layout).
    Inside ``call`` the ids are cast to int32, so float arrays holding whole numbers work too
    (exact up to 2**24). An id outside ``[0, input_dim)`` cannot be refused inside compiled
    code: there its row comes out as NaN. Data on the host is checked first with
    :meth:`check_ids`, which models call on their inputs.

    Args:
        input_dim: the vocabulary size (ids are ``0 .. input_dim - 1``).
        output_dim: the size of each vector.
        embeddings_initializer: the table's initializer; Keras's default ``"uniform"`` is
            uniform on [-0.05, 0.05].
        embeddings_regularizer: ``"l1"``, ``"l2"``, ``"l1_l2"`` or an ``L1L2`` penalty.
        mask_zero: not supported (fnn has no masks): must be False.
        input_shape: the input shape without the batch axis (first layer of a model).
        name: the layer's name.

    Raises:
        ValueError: ``input_dim`` or ``output_dim`` is below 1, an initializer or regularizer
            name is unknown, or ``mask_zero=True``.
        TypeError: ``input_dim`` or ``output_dim`` is not an int, or an initializer or
            regularizer is of the wrong type.

    Example:
        >>> import jax, jax.numpy as jnp
        >>> emb = Embedding(10, 3)
        >>> params = emb.init(jax.random.key(0), (4,))
        >>> params["embeddings"].shape, emb.apply(params, jnp.array([[1, 2, 3, 9]])).shape
        ((10, 3), (1, 4, 3))
    """

    weight_keys = (("params", "embeddings"),)
    integer_input = True

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: str | Callable[..., jax.Array] = "uniform",
        embeddings_regularizer: Any = None,
        mask_zero: bool = False,
        *,
        input_shape: int | Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape=input_shape, name=name)
        self.input_dim = positive_int(input_dim, "input_dim")
        self.output_dim = positive_int(output_dim, "output_dim")
        self.embeddings_initializer_id = embeddings_initializer
        self.embeddings_initializer = initializers.get(
            "random_uniform" if embeddings_initializer == "uniform" else embeddings_initializer
        )
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        if mask_zero:
            raise ValueError(
                "mask_zero=True is not supported: fnn layers take no masks. Keep id 0 as an "
                "ordinary id (mask_zero=False), or weight padded positions yourself."
            )

    def init(self, key: jax.Array, input_shape: Any) -> Params:
        as_shape(input_shape)
        shape = (self.input_dim, self.output_dim)
        return {"embeddings": self.embeddings_initializer(key, shape, jnp.float32)}

    def output_shape(self, input_shape: Any) -> Shape:
        return (*as_shape(input_shape), self.output_dim)

    def call(self, params, state, x, *, key=None, training=False):
        ids = x.astype(jnp.int32)
        # Out-of-range ids (negative ones included) give NaN rows instead of another id's row.
        ids = jnp.where((ids < 0) | (ids >= self.input_dim), self.input_dim, ids)
        return jnp.take(params["embeddings"], ids, axis=0, mode="fill", fill_value=jnp.nan), state

    def check_ids(self, x: Any, argument: str = "x") -> None:
        """Refuse ids that are not whole numbers in ``[0, input_dim)`` (host-side check).

        Args:
            x: an array of ids (ints, or floats holding whole numbers), batch axis first.
            argument: the name used in error messages.

        Raises:
            TypeError: ``x`` does not hold numbers.
            ValueError: an id is not a whole number or out of range; the message names the
                first bad id and its row.

        Example:
            >>> Embedding(5, 2).check_ids([[0, 4], [1, 5]])  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: x holds id 5 at row 1 (index (1, 1)), outside Embedding's ids [0, 4] ...
        """
        arr = np.asarray(x)
        if arr.ndim == 0:
            raise ValueError(f"{argument} must have a batch axis, got a scalar {arr!r}.")
        if arr.dtype.kind not in "biuf":
            raise TypeError(
                f"{argument} must hold integer ids for {self.describe()}, got an array of dtype "
                f"{arr.dtype}."
            )
        if arr.dtype.kind == "f":
            whole = np.isfinite(arr) & (arr == np.round(arr))
            if not whole.all():
                index = tuple(int(i) for i in np.argwhere(~whole)[0])
                raise ValueError(
                    f"{argument} holds {arr[index].item()!r} at row {index[0]} (index {index}): "
                    f"{self.describe()} takes whole-number ids."
                )
        bad = (arr < 0) | (arr >= self.input_dim)
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            value = arr[index].item()
            value = int(value) if float(value).is_integer() else value
            raise ValueError(
                f"{argument} holds id {value} at row {index[0]} (index {index}), outside "
                f"{self.describe()}'s ids [0, {self.input_dim - 1}] (input_dim={self.input_dim})."
            )

    def regularization_loss(self, params: Params) -> jax.Array:
        if self.embeddings_regularizer is None:
            return jnp.zeros((), jnp.float32)
        return self.embeddings_regularizer(params["embeddings"])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": callable_name(
                self.embeddings_initializer_id, initializers.registry
            ),
            "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
            "mask_zero": False,
        }
