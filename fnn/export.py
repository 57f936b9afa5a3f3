"""Export a trained model's inference function as a ``jax.export`` artifact (StableHLO).

:func:`export_model` traces ``model.net`` in inference mode with the weights baked in as
constants, for a symbolic batch size by default, and returns the :class:`jax.export.Exported`;
with ``path`` it also writes ``exported.serialize()`` there. The file needs neither fnn nor the
model's Python code to run: any process with ``jax`` deserializes and calls it::

    >>> import os, tempfile, numpy as np, fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(3, activation="softmax", input_shape=4)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.jax")
    >>> exported = export_model(model, path)
    >>> exported.in_avals[0].str_short()
    'float32[batch,4]'

Serving it, in a process that never imports fnn::

    import jax, numpy as np
    with open("model.jax", "rb") as f:
        exported = jax.export.deserialize(bytearray(f.read()))
    predict = jax.jit(exported.call)          # compiled once per batch size it meets
    probabilities = predict(np.zeros((32, 4), np.float32))

``exported.in_avals`` / ``out_avals`` give the expected input and output shapes and dtypes
(``batch`` is the symbolic batch dimension). Behind a web server, load the artifact once at start
and call ``predict`` per request (pad requests to a few fixed batch sizes to bound the number of
compilations). The artifact records the platforms it was exported for (``platforms=``, default:
the current backend); export with ``platforms=("cpu", "cuda")`` to serve on either. The
serialization is versioned by JAX and stays loadable by later JAX releases for the window that
JAX documents for ``jax.export`` compatibility (at least six months).

Serializing and deserializing need the ``flatbuffers`` package (``pip install fnn[export]``
here; ``jax`` and ``flatbuffers`` where it is served). fnn does not produce ONNX: the known
route (``jax2tf`` then ``tf2onnx``) needs TensorFlow.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from fnn.checks import is_int


def _check_path(path: Any) -> None:
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, os.PathLike or None, got {type(path).__name__}.")


def _batch_dim(batch_size: int | None) -> Any:
    if batch_size is None:
        return jax.export.symbolic_shape("batch")[0]
    accepted = "None (a symbolic batch size) or a positive int"
    if not is_int(batch_size):
        raise TypeError(
            f"batch_size must be {accepted}, got {type(batch_size).__name__}: {batch_size!r}."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be {accepted}, got {batch_size!r}.")
    return int(batch_size)


def _inference_function(model: Any, member: int | None) -> tuple[Any, tuple[int, ...]]:
    """(function of x, input shape) for a Sequential, a population member, or a population."""
    if hasattr(model, "member") and hasattr(model, "size"):  # a fnn.Population
        if member is not None:
            return _inference_function(model.member(member), None)
        first = model.member(0)
        if first.input_shape is None:
            raise ValueError("export_model needs a built population (fit it or build it first).")
        net, params, state = first.net, model.params, model.state

        def stacked(x: jax.Array) -> jax.Array:
            def one(p: Any, s: Any) -> jax.Array:
                return net.call(p, s, x, training=False)[0]

            return jax.vmap(one)(params, state)

        return stacked, first.input_shape
    if member is not None:
        raise ValueError(
            f"member={member!r} is for a fnn.Population; {type(model).__name__} has no members."
        )
    if getattr(model, "params", None) is None or getattr(model, "input_shape", None) is None:
        raise ValueError(
            "export_model needs a built model: give the first layer input_shape, call "
            "model.build(input_shape), or fit it first."
        )
    net, params, state = model.net, model.params, model.state

    def single(x: jax.Array) -> jax.Array:
        return net.call(params, state, x, training=False)[0]

    return single, model.input_shape


def export_model(
    model: Any,
    path: str | os.PathLike[str] | None = None,
    *,
    batch_size: int | None = None,
    member: int | None = None,
    platforms: Sequence[str] | None = None,
) -> jax.export.Exported:
    """The model's inference function as a :class:`jax.export.Exported`; written to ``path``.

    The weights (and non-trainable state, e.g. BatchNormalization's moving statistics) are
    constants of the exported program; its one argument is a float32 batch of inputs.

    Args:
        model: a built :class:`fnn.models.Sequential`, or a :class:`fnn.Population` (then the
            output has a leading member axis: ``(size, batch, ...)``, unless ``member`` is set).
        path: where to write ``exported.serialize()``; None writes nothing.
        batch_size: None for a symbolic batch dimension (any batch size at call time), or a
            fixed positive int.
        member: for a population, export only member ``member``.
        platforms: the platforms to export for (``"cpu"``, ``"cuda"``, ``"rocm"``, ``"tpu"``);
            None: the current default backend.

    Returns:
        The exported function; ``exported.call(x)`` runs it, ``exported.serialize()`` gives the
        bytes that ``jax.export.deserialize`` reads back.

    Raises:
        ValueError: an unbuilt model, a bad ``batch_size``, or ``member`` for a plain model.
        TypeError: ``path`` or ``batch_size`` of the wrong type (a bool is not an int).

    Example:
        >>> import numpy as np, fnn
        >>> model = fnn.Sequential([fnn.layers.Dense(2, input_shape=3)])
        >>> exported = export_model(model, batch_size=5)
        >>> exported.call(np.ones((5, 3), np.float32)).shape
        (5, 2)
    """
    _check_path(path)
    fn, input_shape = _inference_function(model, member)
    spec = jax.ShapeDtypeStruct((_batch_dim(batch_size), *input_shape), jnp.float32)
    exported = jax.export.export(
        jax.jit(fn), platforms=None if platforms is None else tuple(platforms)
    )(spec)
    if path is not None:
        with open(path, "wb") as f:
            f.write(exported.serialize())
    return exported


__all__ = ["export_model"]
