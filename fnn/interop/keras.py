"""Keras 3 weights in: ``.weights.h5`` and ``.keras`` files into a fnn model of the same layers.

A Keras user's trained weights then run in fnn with the same predictions::

    # Keras 3 (any backend)
    keras_model.save("model.keras")            # or keras_model.save_weights("w.weights.h5")

    # fnn: the same stack of layers, built for the same input shape
    model = fnn.Sequential([Dense(64, activation="relu", input_shape=20), Dense(10)])
    load_keras_weights(model, "model.keras")   # or "w.weights.h5"

How a Keras 3 file is matched (read with ``h5py``: ``pip install fnn[h5py]``): Keras stores
each layer's variables under ``layers/<key>/vars/0, 1, ...`` in Keras's weight order (kernel,
bias; gamma, beta, moving_mean, moving_variance; ...), where ``<key>`` is the layer class in
snake case, numbered per class in stack order (``dense``, ``dense_1``, ``batch_normalization``...),
whatever the layers' own names. fnn derives the same keys from its layers' classes, so any layer
whose class has Keras's name and whose weights come in Keras's order (``weights_of``) loads:
Dense, BatchNormalization, LayerNormalization, and weightless layers (Dropout, Activation,
Flatten, Reshape; fnn's ``Input`` corresponds to no Keras layer). A ``.keras`` file's
``config.json`` also gives the stack's classes in order, checked first.

Everything is checked before the model changes: the number of layers, their classes, and per
layer the number and shapes of the arrays (a ``ValueError`` names the layer). The file must be a
regular file; shapes are checked before any array is read, and a ``.keras`` archive's members are
bounded in size, so a crafted file cannot make the loader allocate more than the model needs.
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
import zipfile
from typing import Any

import numpy as np

from fnn.interop.names import layer_weight_names

#: fnn layer classes with no Keras layer in a saved stack.
SKIPPED_CLASSES = frozenset({"Input"})

#: Slack allowed for a ``.keras`` archive's ``model.weights.h5`` beyond the model's array bytes
#: (HDF5 metadata), and the largest ``config.json`` read.
H5_SLACK_BYTES = 64 * 2**20
MAX_CONFIG_BYTES = 16 * 2**20


def keras_key(class_name: str) -> str:
    """Keras's snake-case name of a layer class (``BatchNormalization`` -> ``batch_normalization``).

    Args:
        class_name: the layer's class name (characters other than letters, digits and ``_``
            are dropped).

    Returns:
        The lower-case, underscore-separated name Keras derives layer names from.

    Example:
        >>> keras_key("BatchNormalization"), keras_key("Conv2D"), keras_key("Dense")
        ('batch_normalization', 'conv2d', 'dense')
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError(
            "Reading Keras files needs h5py: pip install 'fnn[h5py]' (or h5py)."
        ) from None
    return h5py


def _layers_of(model: Any) -> list[tuple[str, Any, Any, Any]]:
    """(Keras key, layer, params, state) for each layer of ``model`` that Keras would save."""
    if getattr(model, "params", None) is None:
        raise ValueError(
            "load_keras_weights needs a built model: give the first layer input_shape or call "
            "model.build(input_shape) first."
        )
    counts: dict[str, int] = {}
    out = []
    for layer, p, s in zip(model.layers, model.params, model.state, strict=True):
        cls = type(layer).__name__
        if cls in SKIPPED_CLASSES:
            continue
        base = keras_key(cls)
        n = counts.get(base, 0)
        counts[base] = n + 1
        out.append((base if n == 0 else f"{base}_{n}", layer, p, s))
    return out


def _check_regular(path: str | os.PathLike[str]) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    source = repr(os.fspath(path))
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(f"{source} is not a regular file; Keras weights files are.")
    return source


def _keras_archive(path: str | os.PathLike[str], source: str, budget: int) -> tuple[Any, Any]:
    """(config.json's dict, model.weights.h5 as a file object) of a ``.keras`` zip."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        raise ValueError(f"{source} is not a .keras file (not a zip archive).") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        for name, limit in (("config.json", MAX_CONFIG_BYTES), ("model.weights.h5", budget)):
            if name not in infos:
                raise ValueError(f"{source} is not a Keras 3 .keras file: it has no {name}.")
            if infos[name].file_size > limit:
                raise ValueError(
                    f"{source}: its {name} declares {infos[name].file_size} bytes, more than "
                    f"this model's weights can need ({limit})."
                )
        try:
            config = json.loads(zf.read("config.json"))
            weights = io.BytesIO(zf.read("model.weights.h5"))
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, RecursionError) as exc:
            raise ValueError(f"{source} is a damaged .keras file ({exc}).") from None
    return config, weights


def _config_classes(config: Any, source: str) -> list[str]:
    """The classes of a ``.keras`` config's layers, InputLayer left out."""
    layers = config.get("config", {}).get("layers") if isinstance(config, dict) else None
    if not isinstance(layers, list) or not all(
        isinstance(c, dict) and isinstance(c.get("class_name"), str) for c in layers
    ):
        raise ValueError(
            f"{source}: config.json holds no list of layers; fnn reads Keras Sequential and "
            "Functional models made of a plain stack of layers."
        )
    return [c["class_name"] for c in layers if c["class_name"] != "InputLayer"]


def _read_layers(h5: Any, expected: list[tuple[str, Any, Any, Any]], source: str) -> list[Any]:
    """The arrays of each expected layer, in order, after checking everything against ``h5``."""
    group = h5.get("layers")
    if group is None or not hasattr(group, "keys"):
        raise ValueError(f"{source} is not a Keras 3 weights file: it has no 'layers' group.")
    keys = list(group.keys())
    wanted = [key for key, *_ in expected]
    if sorted(keys) != sorted(wanted):
        raise ValueError(
            f"{source} holds the layers {sorted(keys)}, this model's stack would be saved by "
            f"Keras as {wanted}: the number or the kinds of layers differ."
        )
    plan = []
    for key, layer, p, s in expected:
        current = layer.weights_of(p, s)
        names = layer_weight_names(layer, p, s)
        vars_ = group[key].get("vars")
        count = 0 if vars_ is None else len(vars_)
        datasets = [vars_[str(i)] for i in range(count)] if count else []
        if [tuple(d.shape) for d in datasets] != [tuple(w.shape) for w in current]:
            raise ValueError(
                f"{source}: Keras layer {key!r} holds arrays of shapes "
                f"{[tuple(d.shape) for d in datasets]}; this model's {layer.describe()} needs "
                f"{dict(zip(names, [tuple(w.shape) for w in current], strict=True))}."
            )
        for i, d in enumerate(datasets):
            if np.dtype(d.dtype).kind not in "biuf":
                raise ValueError(
                    f"{source}: Keras layer {key!r} array {i} has dtype {d.dtype}, not numbers."
                )
        plan.append(datasets)
    return [np.asarray(d[()]) for datasets in plan for d in datasets]


def load_keras_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """Load the weights of a Keras 3 ``.weights.h5`` or ``.keras`` file into ``model``.

    Args:
        model: a built :class:`fnn.models.Sequential` with the Keras model's stack of layers.
        path: a file written by Keras 3's ``model.save_weights("x.weights.h5")`` or
            ``model.save("x.keras")``.

    Raises:
        ValueError: the file is not a regular Keras 3 file, or its layers (count, classes,
            array shapes) do not fit ``model``; the model is then unchanged.
        TypeError: ``path`` of the wrong type.
        ImportError: h5py is not installed.
    """
    source = _check_regular(path)
    h5py = _h5py()
    expected = _layers_of(model)
    budget = sum(int(w.nbytes) for w in model.get_weights()) + H5_SLACK_BYTES
    is_zip = zipfile.is_zipfile(path)
    if is_zip:
        config, h5_file = _keras_archive(path, source, budget)
        classes = _config_classes(config, source)
        mine = [type(layer).__name__ for _, layer, _, _ in expected]
        if classes != mine:
            raise ValueError(
                f"{source} holds a stack of {len(classes)} layers {classes}; this model has "
                f"{len(mine)}: {mine}."
            )
    else:
        h5_file = os.fspath(path)
    try:
        h5 = h5py.File(h5_file, "r")
    except OSError as exc:
        raise ValueError(f"{source} is not a Keras 3 weights file (HDF5): {exc}.") from None
    with h5:
        weights = _read_layers(h5, expected, source)
    model.set_weights(weights)


__all__ = ["SKIPPED_CLASSES", "keras_key", "load_keras_weights"]
