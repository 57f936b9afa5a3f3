"""Saving and loading models: the records that turn a model into a config and arrays and back.

The zip container itself (atomic writes, safe reading) is :mod:`fnn.archive`; this module
holds what goes into it.

``model.save(path)`` writes everything needed to predict and to continue training exactly;
``load_model(path)`` reads it back. ``model.save_weights(path)`` / ``model.load_weights(path)``
keep only the layers' arrays::

    >>> import os, tempfile
    >>> import numpy as np
    >>> import fnn
    >>> model = fnn.Sequential([fnn.layers.Dense(2, activation="relu", input_shape=3)], seed=1)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.fnn")
    >>> model.save(path)
    >>> loaded = fnn.models.load_model(path)
    >>> x = np.ones((4, 3), np.float32)
    >>> bool((loaded.predict(x, verbose=0) == model.predict(x, verbose=0)).all())
    True

The format
----------
A file is a zip archive (stored, not compressed) holding only JSON and ``.npy`` members; nothing
is pickled and nothing in it is ever executed:

``format.json``
    ``{"format": "fnn.model", "version": 1}`` (``"fnn.weights"`` for ``save_weights`` files).
``config.json``
    For ``fnn.model``: ``"model"``, the Sequential's config (:func:`sequential_config`: name, seed,
    input shape, layers via :func:`fnn.layers.layer_to_config`); ``"compile"``, None or
    ``{"optimizer", "loss", "metrics"}``: the optimizer as the name it was given by (``"adam"``),
    or as :func:`fnn.optimizers.serialize` gives a fnn constructor's result (``{"class_name",
    "config"}``), or None for an Optax transformation that has no fnn name; the loss as
    :func:`fnn.losses.serialize` gives it, each metric as ``{"name", "weighted", "metric"}``
    with ``metric`` as :func:`fnn.metrics.serialize` gives it (files of the first version hold
    ``{"name", "fn"}``, ``fn`` a registered name, and still load), and
    ``"steps_per_execution"``; ``"epoch"``, the number of completed epochs (``model.epoch``, the
    ``initial_epoch`` to resume with); ``"callbacks"``, the callbacks' saved states
    (``model.callback_states``). The random state is the model's ``seed``: fit derives the
    shuffle order from (seed, epoch) and dropout keys from (seed, epoch, step), so the seed and
    the epoch counter are all of it. For ``fnn.weights``: ``"layers"``, the class and name of
    each layer.
    Both hold ``"arrays"``: for each group, a list of ``{"path", "shape", "dtype"}``.
``params/000000.npy``, ``state/...``, ``optimizer_state/...``
    The leaves of ``model.params``, ``model.state`` (non-trainable state) and
    ``model.opt_state``, each group numbered in ``jax.tree_util`` flattening order (lists in
    order, dict keys sorted); ``path`` is the leaf's ``jax.tree_util.keystr``. Weights files have
    no ``optimizer_state``.

Custom activations, initializers, losses and metrics are saved by their registered name
(``fnn.activations.register`` etc.); saving a model that uses an unregistered one raises a
``ValueError`` before anything is written. An optimizer given as an arbitrary Optax transformation
is saved as ``null`` with its state leaves: load it with ``load_model(path, optimizer=tx)`` (the
same transformation) or ``load_model(path, compile=False)``.

Saving is atomic: the archive is written to a temporary file beside ``path``
(``.NAME.<random>.tmp``), flushed to disk, then renamed over ``path``. A process killed during a
save leaves the previous file intact (and possibly a stray ``.tmp`` file, safe to delete).

Loading reads only this format: anything else (random bytes, a truncated file, a pickle, a
member name that tries to leave the archive, another version, missing members, arrays of the
wrong shape or dtype) raises a ``ValueError`` that says what the file is not.

Loading costs bounded memory and time whatever a file declares (:func:`fnn.archive.read_archive`):
only regular files are opened (never a FIFO or a device), every member must be stored, at most
:data:`fnn.archive.MAX_MEMBERS` members and :data:`MAX_LAYERS` layers, config.json at most
:data:`fnn.archive.MAX_JSON_BYTES`; every field of the config is checked for type and range
(:func:`check_model_config`, :func:`check_compile_config`, :func:`check_epoch`,
:func:`check_population_record`), and the arrays' shapes are compared with the architecture the
config describes, layer by layer, before any array is read. Error messages name the file and the
field and are at most :data:`fnn.archive.MAX_MESSAGE_CHARS` characters long.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from fnn import archive
from fnn import losses as losses_lib
from fnn import metrics as metrics_lib
from fnn import optimizers as optimizers_lib
from fnn.callbacks import History
from fnn.layers import Serial, as_shape, layer_from_config, layer_to_config

if TYPE_CHECKING:
    import optax

    from fnn.models import Sequential


#: The most layers a model config from a file may list.
MAX_LAYERS = 10_000
#: Seeds are ints in [0, 2**32) (what ``jax.random.key`` and NumPy's generators take).
SEED_LIMIT = 2**32
#: Epoch counters are ints in [0, 2**31).
EPOCH_LIMIT = 2**31
#: The most members a population record may have.
MAX_POPULATION = 2**20
#: The keys a regularizer's config may have (:func:`fnn.regularizers.serialize`).
REGULARIZER_KEYS = frozenset({"l1", "l2"})


# -- checks of configs read from a file -------------------------------------------------------
def _fail(field: str, expected: str, got: Any) -> ValueError:
    return ValueError(f"{field} must be {expected}, got {archive.short_repr(got)}")


def _is_int(value: Any, low: int, high: int) -> bool:
    return type(value) is int and low <= value < high


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def check_model_config(config: Any, field: str = "model") -> dict[str, Any]:
    """Check the type and range of every field of a Sequential config read from a file.

    Layer arguments themselves are checked by the layers' constructors; this checks what they
    do not: the model's fields, the layer list's size and shape, and regularizers.

    Args:
        config: the config (:func:`sequential_config`'s form).
        field: how error messages name the config.

    Returns:
        ``config``.

    Raises:
        ValueError: naming the field, what it must be and what it is.

    >>> check_model_config({"name": "m", "seed": -5, "layers": []})
    Traceback (most recent call last):
    ...
    ValueError: model.seed must be an int in [0, 2**32), got -5
    """
    if not isinstance(config, dict):
        raise _fail(field, "a dict with a 'layers' list", config)
    if config.get("name") is not None and not isinstance(config["name"], str):
        raise _fail(f"{field}.name", "a str or null", config["name"])
    if "seed" in config and not _is_int(config["seed"], 0, SEED_LIMIT):
        raise _fail(f"{field}.seed", "an int in [0, 2**32)", config["seed"])
    if config.get("dtype_policy") is not None and not isinstance(config["dtype_policy"], str):
        raise _fail(f"{field}.dtype_policy", "a str or null", config["dtype_policy"])
    shape = config.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list)
        and len(shape) <= archive.MAX_NDIM
        and all(_is_int(d, 1, EPOCH_LIMIT) for d in shape)
    ):
        raise _fail(f"{field}.input_shape", "null or a list of positive ints", shape)
    layers = config.get("layers")
    if not isinstance(layers, list):
        raise _fail(f"{field}.layers", "a list", layers)
    if len(layers) > MAX_LAYERS:
        raise ValueError(
            f"{field}.layers lists {len(layers)} layers, more than the {MAX_LAYERS} a fnn file "
            "may have"
        )
    for i, layer in enumerate(layers):
        where = f"{field}.layers[{i}]"
        if not (
            isinstance(layer, dict)
            and isinstance(layer.get("class_name"), str)
            and isinstance(layer.get("config", {}), dict)
        ):
            raise _fail(where, "a dict with a 'class_name' str and a 'config' dict", layer)
        arguments = layer.get("config", {})
        if arguments.get("name") is not None and not isinstance(arguments["name"], str):
            raise _fail(f"{where}.config.name", "a str or null", arguments["name"])
        for key, value in arguments.items():
            if (
                key.endswith("_regularizer")
                and value is not None
                and not (
                    isinstance(value, dict)
                    and set(value) <= REGULARIZER_KEYS
                    and all(_is_number(v) and v >= 0 for v in value.values())
                )
            ):
                raise _fail(
                    f"{where}.config.{key}",
                    "null or {'l1': number >= 0, 'l2': number >= 0} "
                    "(fnn.regularizers.L1L2's config; no other regularizer class exists)",
                    value,
                )
    return config


def check_compile_config(config: Any, field: str = "compile") -> dict[str, Any] | None:
    """Check the compile settings read from a file (:func:`compile_config`'s form).

    Names are resolved later by the registries (an unknown one is a ValueError there); this
    checks the types.

    Args:
        config: None or the compile settings.
        field: how error messages name the settings.

    Returns:
        ``config``.

    Raises:
        ValueError: naming the field, what it must be and what it is.
    """
    if config is None:
        return None
    if not isinstance(config, dict):
        raise _fail(field, "an object or null", config)
    optimizer = config.get("optimizer")
    if not (
        optimizer is None
        or isinstance(optimizer, str)
        or (
            isinstance(optimizer, dict)
            and isinstance(optimizer.get("class_name"), str)
            and isinstance(optimizer.get("config", {}), dict)
        )
    ):
        raise _fail(f"{field}.optimizer", "null, a name or {'class_name', 'config'}", optimizer)
    loss = config.get("loss")
    if not (
        loss is None
        or (
            isinstance(loss, dict)
            and isinstance(loss.get("class_name"), str)
            and isinstance(loss.get("config", {}), dict)
        )
    ):
        raise _fail(f"{field}.loss", "null or {'class_name', 'config'}", loss)
    return config


def check_epoch(epoch: Any, field: str = "epoch") -> int:
    """Check an epoch counter read from a file: an int in ``[0, 2**31)``.

    Args:
        epoch: the value read (a JSON value: bools and floats are refused).
        field: how the error message names the value (default ``"epoch"``).

    Returns:
        ``epoch``, unchanged.

    Raises:
        ValueError: if ``epoch`` is not an int in ``[0, 2**31)``.

    Example:
        >>> check_epoch(2**62)
        Traceback (most recent call last):
        ...
        ValueError: epoch must be an int in [0, 2**31), got 4611686018427387904
    """
    if not _is_int(epoch, 0, EPOCH_LIMIT):
        raise _fail(field, "an int in [0, 2**31)", epoch)
    return epoch


def check_population_record(config: Any) -> dict[str, Any]:
    """Check a population file's ``population`` settings and ``history`` (type and range).

    Args:
        config: the file's config.json (:meth:`fnn.population.Population.save`'s form).

    Returns:
        The ``population`` settings: ``size``, ``seeds``, ``shared_order``, ``hyperparams``.

    Raises:
        ValueError: naming the field, what it must be and what it is.

    >>> check_population_record({"population": {"size": 2, "seeds": [0, -5],
    ...     "shared_order": True, "hyperparams": {}}})
    Traceback (most recent call last):
    ...
    ValueError: population.seeds must be a list of 2 ints in [0, 2**32), got [0, -5]
    """
    settings = config.get("population") if isinstance(config, dict) else None
    if not isinstance(settings, dict):
        raise _fail("population", "a dict", settings)
    size = settings.get("size")
    if not _is_int(size, 1, MAX_POPULATION + 1):
        raise _fail("population.size", f"an int in [1, {MAX_POPULATION}]", size)
    seeds = settings.get("seeds")
    if not (
        isinstance(seeds, list)
        and len(seeds) == size
        and all(_is_int(s, 0, SEED_LIMIT) for s in seeds)
    ):
        raise _fail("population.seeds", f"a list of {size} ints in [0, 2**32)", seeds)
    if type(settings.get("shared_order")) is not bool:
        raise _fail("population.shared_order", "true or false", settings.get("shared_order"))
    hyperparams = settings.get("hyperparams")
    if not isinstance(hyperparams, dict):
        raise _fail("population.hyperparams", "a dict of lists", hyperparams)
    for name, values in hyperparams.items():
        if not (isinstance(values, list) and len(values) == size and all(map(_is_number, values))):
            raise _fail(f"population.hyperparams[{name!r}]", f"a list of {size} numbers", values)
    history = config.get("history")
    if history is not None:
        if not isinstance(history, dict):
            raise _fail("history", "null or a dict of lists", history)
        for name, values in history.items():
            if not isinstance(values, list) or not all(
                _is_number(v) or (isinstance(v, list) and all(map(_is_number, v))) for v in values
            ):
                raise _fail(f"history[{name!r}]", "a list of numbers or lists of numbers", values)
    return settings


# -- configs ---------------------------------------------------------------------------------
def sequential_config(model: Sequential) -> dict[str, Any]:
    """The Sequential's architecture as JSON-able data (see :meth:`Sequential.get_config`).

    Args:
        model: the model (built or not).

    Returns:
        ``{"name", "seed", "dtype_policy", "input_shape", "layers"}``: ``input_shape`` a list
        of ints (no batch axis) or None, ``layers`` one :func:`fnn.layers.layer_to_config`
        dict per layer. No weights.
    """
    shape = model.input_shape
    return {
        "name": model.name,
        "seed": model.seed,
        "dtype_policy": model.dtype_policy.name,
        "input_shape": None if shape is None else list(shape),
        "layers": [layer_to_config(layer) for layer in model.layers],
    }


def sequential_from_config(cls: type[Sequential], config: dict[str, Any]) -> Sequential:
    """A new model from :func:`sequential_config`'s data (see :meth:`Sequential.from_config`).

    Args:
        cls: the model class to instantiate (:class:`fnn.models.Sequential`).
        config: the architecture, as :func:`sequential_config` returns it.

    Returns:
        A new, uncompiled ``cls`` with freshly initialized weights (from the config's seed),
        built when the config (or its first layer) has an input shape.

    Raises:
        ValueError: if the config is not valid (see :func:`check_model_config`), or a layer's
            config is refused by its constructor.
    """
    check_model_config(config, "config")
    model = cls(
        [layer_from_config(c) for c in config["layers"]],
        seed=config.get("seed", 0),
        name=config.get("name"),
        dtype_policy=config.get("dtype_policy"),
    )
    if config.get("input_shape") is not None and not model.built:
        model.build(tuple(config["input_shape"]))
    return model


def compile_config(model: Sequential) -> dict[str, Any] | None:
    """The model's compile settings as JSON-able data, everything by name.

    Args:
        model: the model.

    Returns:
        None for an uncompiled model, else ``{"optimizer", "loss", "metrics",
        "steps_per_execution"}`` (the form is described in this module's docstring). An
        optimizer given as an Optax transformation without a fnn name is saved as None.

    Raises:
        ValueError: if the loss is a custom ``Loss`` subclass or a function that is not
            registered, or a metric is built on an unregistered function (before anything is
            written).
    """
    if model.optimizer is None:
        return None
    loss = None
    if model.loss is not None:
        loss = losses_lib.serialize(model.loss)
        try:
            losses_lib.deserialize(loss)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(
                f"The loss {model.loss!r} cannot be saved: {exc} Custom Loss subclasses cannot be "
                "saved; register a per-example function with fnn.losses.register(name, fn) and "
                "compile with that name."
            ) from None
    metrics = []
    for metric in model.compiled_metrics:
        try:
            described = metrics_lib.serialize(metric)
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"metric {metric.name!r} cannot be saved: {exc} Register its function with "
                "fnn.metrics.register(name, fn)."
            ) from None
        metrics.append(
            {"name": metric.name, "weighted": bool(metric.weighted), "metric": described}
        )
    return {
        "optimizer": _optimizer_config(model.compile_args.get("optimizer")),
        "loss": loss,
        "metrics": metrics,
        "steps_per_execution": model.steps_per_execution,
    }


def _optimizer_config(spec: Any) -> str | dict[str, Any] | None:
    """The optimizer as compile received it: a name stays a name (compile derives the same
    transformation, flattened or not, from it), a fnn constructor's result becomes its config."""
    if isinstance(spec, str):
        return spec
    return optimizers_lib.serialize(spec)


def compile_from_config(
    model: Sequential,
    config: dict[str, Any],
    optimizer: str | optax.GradientTransformation | None,
) -> None:
    """Compile ``model`` with the settings :func:`compile_config` saved.

    Args:
        model: the model to compile.
        config: the compile settings, as :func:`compile_config` returns them (checked with
            :func:`check_compile_config` first).
        optimizer: an optimizer (name or Optax transformation) to compile with instead of the
            saved one; None to rebuild the saved one (only fnn's registered names and
            constructors are called).

    Raises:
        ValueError: if ``config["metrics"]`` is not a list of metric entries, or a saved name
            (optimizer, loss, metric) is unknown to fnn's registries.
        KeyError: if ``optimizer`` is None and ``config`` has no ``"optimizer"``.
    """
    if optimizer is None:
        optimizer = config["optimizer"]
        if isinstance(optimizer, str):
            optimizers_lib.get(optimizer)  # only fnn's registered names
        else:
            optimizer = optimizers_lib.deserialize(optimizer)
    loss = None if config.get("loss") is None else losses_lib.deserialize(config["loss"])
    entries = config.get("metrics", [])
    if not isinstance(entries, list) or not all(
        isinstance(m, dict)
        and isinstance(m.get("name"), str)
        and (isinstance(m.get("fn"), str) or isinstance(m.get("metric"), dict))
        for m in entries
    ):
        raise ValueError(
            f"metrics must be a list of {{'name', 'metric'}} (or {{'name', 'fn'}}) objects, got "
            f"{archive.short_repr(entries)}"
        )
    plain: list[metrics_lib.Metric] = []
    weighted: list[metrics_lib.Metric] = []
    for m in entries:
        if "metric" in m:
            metric = metrics_lib.deserialize(m["metric"])
        else:  # the first format: a registered per-example function
            metric = metrics_lib.Metric(m["name"], metrics_lib.registry.get(m["fn"]))
        metric.name = m["name"].removeprefix("weighted_") if m.get("weighted") else m["name"]
        (weighted if m.get("weighted") else plain).append(metric)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=plain,
        weighted_metrics=weighted or None,
        steps_per_execution=config.get("steps_per_execution"),
    )


# -- architecture -----------------------------------------------------------------------
def abstract_weights(
    config: Any, on_layer: Callable[[int, Any], None] | None = None
) -> tuple[Any, Any] | None:
    """The shapes of the (params, state) that a Sequential config's layers would create,
    without allocating them (a crafted config cannot make the loader build a huge model).

    Layers are derived one at a time (identical layers once), so a caller comparing them with
    a file can stop at the first layer that differs.

    Args:
        config: a Sequential config (checked with :func:`check_model_config`).
        on_layer: called with (index, that layer's parameter shapes) as each is derived.

    Returns:
        ``(params, state)`` as pytrees of ``jax.ShapeDtypeStruct``, or None when the config
        has no input shape.

    Raises:
        ValueError: the config is invalid.
    """
    check_model_config(config)
    layers = [layer_from_config(c) for c in config["layers"]]
    shape = config.get("input_shape") or (layers[0].input_shape if layers else None)
    if shape is None:
        return None
    net = Serial(layers)
    shape = as_shape(tuple(shape))
    known: dict[tuple[str, Any], Any] = {}
    params = []
    for i, (layer, layer_shape) in enumerate(zip(layers, net.input_shapes(shape), strict=False)):
        description = layer_to_config(layer)
        description["config"].pop("name", None)
        token = (json.dumps(description, sort_keys=True), layer_shape)
        if token not in known:
            init = functools.partial(layer.init, input_shape=layer_shape)
            known[token] = jax.eval_shape(init, jax.random.key(0))
        params.append(known[token])
        if on_layer is not None:
            on_layer(i, params[-1])
    return params, jax.eval_shape(lambda: net.init_state(shape))


class _DoesNotFitError(Exception):
    """The file's arrays do not fit the architecture its config describes."""


# -- records -------------------------------------------------------------------------------
def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Save everything needed to predict and to continue training (``model.save``).

    Writes a ``fnn.model`` archive atomically: the architecture, weights, non-trainable state,
    optimizer state, compile settings, epoch counter and callback states (the format is
    described in this module's docstring).

    Args:
        model: the model; an unbuilt model is saved without arrays.
        path: the file to write (replaced if it exists; by convention ``*.fnn``).

    Raises:
        ValueError: if the loss or a metric cannot be saved by name (see
            :func:`compile_config`); nothing is written then.
    """
    groups: dict[str, list[tuple[str, np.ndarray]]] = {
        "params": archive.leaves(model.params) if model.built else [],
        "state": archive.leaves(model.state) if model.built else [],
        "optimizer_state": archive.leaves(model.opt_state) if model.opt_state is not None else [],
    }
    config = {
        "model": sequential_config(model),
        "compile": compile_config(model),
        "epoch": int(model.epoch),
        "callbacks": model.callback_states,
        "arrays": {g: archive.manifest(leaves) for g, leaves in groups.items()},
    }
    archive.write_archive(path, archive.MODEL_FORMAT, config, archive.arrays_only(groups))


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Save the layers' parameters and non-trainable state only (``model.save_weights``).

    Writes a ``fnn.weights`` archive atomically; read it with :func:`load_weights` into a model
    of the same architecture.

    Args:
        model: a built model.
        path: the file to write (replaced if it exists).

    Raises:
        ValueError: if ``model`` is not built.
    """
    _require_built(model, "save_weights")
    groups = {"params": archive.leaves(model.params), "state": archive.leaves(model.state)}
    config = {
        "layers": [{"class_name": type(x).__name__, "name": x.name} for x in model.layers],
        "arrays": {g: archive.manifest(leaves) for g, leaves in groups.items()},
    }
    archive.write_archive(path, archive.WEIGHTS_FORMAT, config, archive.arrays_only(groups))


def load_sequential(
    cls: type[Sequential],
    path: str | os.PathLike[str],
    *,
    compile: bool = True,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Sequential:
    """Load a model saved by ``model.save`` as an instance of ``cls``: architecture, weights,
    state, optimizer state, compile settings, epoch counter (``model.epoch``) and seed.

    The config is checked, and the arrays' manifests compared with the architecture it
    describes, before any array is read.

    Args:
        cls: the model class (:class:`fnn.models.Sequential`).
        path: the file.
        compile: False returns the model uncompiled (no optimizer state restored).
        optimizer: the optimizer to compile with instead of the saved one; required when the
            model was compiled with an Optax transformation that has no fnn name. Its state must
            have the saved state's structure; the saved state is restored into it.

    Returns:
        The model.

    Raises:
        ValueError: the file is not a valid fnn model file, or does not describe a valid model.
    """
    if optimizer is not None and not compile:
        raise ValueError("load_model got optimizer= and compile=False; pass one or the other.")
    if optimizer is not None:
        optimizers_lib.get(optimizer)  # a bad name or type fails here, before reading the file
    source = repr(os.fspath(path))

    def check(config: dict[str, Any], manifests: dict[str, archive.Manifest]) -> None:
        listed = [(m["path"], tuple(m["shape"]), m["dtype"]) for m in manifests["params"]]
        compared = 0

        def compare(i: int, layer_params: Any) -> None:  # stop at the first layer that differs
            nonlocal compared
            expected = archive.leaf_entries(layer_params, prefix=f"[{i}]")
            got = listed[compared : compared + len(expected)]
            if got != expected:
                raise _DoesNotFitError(
                    f"{source} does not fit this model: its parameters for layer {i} are "
                    f"{archive.describe(got)}, the model's are {archive.describe(expected)}."
                )
            compared += len(expected)

        try:
            check_epoch(config.get("epoch", 0))
            check_compile_config(config.get("compile"))
            abstract = abstract_weights(config.get("model"), compare)
        except _DoesNotFitError as exc:
            raise ValueError(str(exc)) from None
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise archive.invalid_config(source, exc) from None
        if abstract is not None:
            archive.check_fits(abstract[0], manifests["params"], "parameters", source)
            archive.check_fits(abstract[1], manifests["state"], "state arrays", source)
        elif manifests["params"] or manifests["state"]:
            raise ValueError(
                f"{source} is not a valid fnn file: weights for a model with no input shape."
            )

    stored = archive.read_archive(path, archive.MODEL_FORMAT, check=check)
    config, arrays, manifests = stored.config, stored.arrays, stored.manifests
    try:
        model = sequential_from_config(cls, config["model"])
        epoch = check_epoch(config.get("epoch", 0))
        compile_settings = check_compile_config(config.get("compile"))
        callback_states = check_callback_states(config.get("callbacks"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise archive.invalid_config(source, exc) from None
    if model.built:
        model.params = archive.restore(
            model.params, arrays["params"], manifests["params"], "parameters", source
        )
        model.state = archive.restore(
            model.state, arrays["state"], manifests["state"], "state arrays", source
        )
    if compile and compile_settings is not None:
        if optimizer is None and compile_settings.get("optimizer") is None:
            raise ValueError(
                f"{source} was compiled with an Optax transformation that has no fnn name, so the "
                "file holds its state but not the transformation itself. Pass it again: "
                "load_model(path, optimizer=tx), or load_model(path, compile=False) for an "
                "uncompiled model."
            )
        try:
            compile_from_config(model, compile_settings, optimizer)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise archive.invalid_config(source, exc) from None
        if model.opt_state is not None:
            model.opt_state = archive.restore(
                model.opt_state,
                arrays["optimizer_state"],
                manifests["optimizer_state"],
                "optimizer state arrays",
                source,
            )
    model.epoch = epoch
    model.callback_states = callback_states
    return model


def check_callback_states(value: Any) -> dict[str, Any]:
    """Check the ``"callbacks"`` block of a file: ``{callback key: {name: value}}``.

    Args:
        value: the block read from config.json, or None (files without one).

    Returns:
        ``value``, or an empty dict for None.

    Raises:
        ValueError: if ``value`` is not a dict of dicts with string keys.
    """
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, dict) and all(isinstance(n, str) for n in v)
        for k, v in value.items()
    ):
        raise ValueError(f"callbacks must map names to objects, got {str(value)[:200]}")
    return value


def load_model(
    path: str | os.PathLike[str],
    *,
    compile: bool = True,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Sequential:
    """Load a model saved by ``model.save`` as a :class:`fnn.models.Sequential`.

    The same as :func:`fnn.models.load_model`. (``fnn.models`` is imported when this is
    called, not when this module is imported: the records do not depend on the model class.)

    Args:
        path: the file written by ``model.save``.
        compile: False returns the model uncompiled (no optimizer state restored); default
            True, as in Keras.
        optimizer: an optimizer to compile with instead of the saved one; required when the
            model was compiled with an Optax transformation that has no fnn name.

    Returns:
        The model, with its weights, state, optimizer state, compile settings, ``epoch`` and
        seed as saved.

    Raises:
        ValueError: the file is not a valid fnn model file, or does not describe a valid model.
    """
    from fnn.models import Sequential

    return load_sequential(Sequential, path, compile=compile, optimizer=optimizer)


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Load a ``save_weights`` file (or the weights of a ``save`` file) into ``model``.

    The model must be built, with the saved arrays' structure and shapes (the optimizer state is
    left as it is); they are compared with the file's manifests before any array is read. When
    loading fails, the model is unchanged.

    Args:
        model: a built model.
        path: the file.

    Raises:
        ValueError: the file is not a valid weights or model file, or does not fit ``model``.
    """
    source = repr(os.fspath(path))

    def check(config: dict[str, Any], manifests: dict[str, archive.Manifest]) -> None:
        _require_built(model, "load_weights")
        archive.check_fits(model.params, manifests["params"], "parameters", source)
        archive.check_fits(model.state, manifests["state"], "state arrays", source)

    formats = (archive.WEIGHTS_FORMAT, archive.MODEL_FORMAT)
    stored = archive.read_archive(path, formats, check=check)
    manifests = stored.manifests
    params = archive.restore(
        model.params, stored.arrays["params"], manifests["params"], "parameters", source
    )
    state = archive.restore(
        model.state, stored.arrays["state"], manifests["state"], "state arrays", source
    )
    model.params, model.state = params, state


__all__ = [
    "abstract_weights",
    "check_compile_config",
    "check_epoch",
    "check_model_config",
    "check_population_record",
    "compile_config",
    "compile_from_config",
    "load_model",
    "load_sequential",
    "load_weights",
    "save_model",
    "save_weights",
    "sequential_config",
    "sequential_from_config",
]


def _require_built(model: Any, method: str) -> None:
    if not model.built:
        raise ValueError(
            f"model.{method}() needs a built model: give the first layer input_shape, call "
            "model.build(input_shape), or fit it on data first."
        )


# -- populations -----------------------------------------------------------------------------
def save_population(pop: Any, path: str | os.PathLike[str]) -> None:
    """Write a :class:`fnn.Population` (format ``"fnn.population"``), atomically.

    The file holds the model's config and compile settings, the members' stacked arrays,
    seeds, hyperparameters, epoch counter, callback states and the last fit's history.

    Args:
        pop: the population (:meth:`fnn.population.Population.save` calls this).
        path: the file to write (replaced if it exists).

    Raises:
        ValueError: if the model's loss or a metric cannot be saved by name (see
            :func:`compile_config`).
    """
    groups = {
        "params": archive.leaves(pop.params),
        "state": archive.leaves(pop.state),
        "optimizer_state": archive.leaves(pop.opt_state),
    }
    history = None
    if pop.history is not None:
        history = {
            k: [np.asarray(v).tolist() for v in vals] for k, vals in pop.history.history.items()
        }
    spec = pop.model_spec
    config = {
        "model": sequential_config(spec),
        "compile": compile_config(spec),
        "population": {
            "size": pop.size,
            "seeds": list(pop.seeds),
            "shared_order": pop.shared_order,
            "hyperparams": {k: np.asarray(v).tolist() for k, v in pop.hyperparams.items()},
        },
        "history": history,
        "epoch": pop.epoch,
        "callbacks": pop.callback_states,
        "arrays": {g: archive.manifest(leaves) for g, leaves in groups.items()},
    }
    archive.write_archive(path, archive.POPULATION_FORMAT, config, archive.arrays_only(groups))


def load_population(
    pop_cls: Any,
    model_cls: type[Sequential],
    path: str | os.PathLike[str],
    *,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Any:
    """Read a population file into ``pop_cls`` (over a ``model_cls`` model).

    The members' shapes are compared with the file's manifests before any array is read.

    Args:
        pop_cls: the population class (:class:`fnn.population.Population`).
        model_cls: the model class (:class:`fnn.models.Sequential`).
        path: the file written by :func:`save_population`.
        optimizer: an optimizer to compile with instead of the saved one; required when the
            model was compiled with an Optax transformation that has no fnn name.

    Returns:
        A compiled ``pop_cls`` with the saved arrays, seeds, hyperparameters, epoch counter,
        callback states and history.

    Raises:
        ValueError: the file is not a valid population file.
    """
    source = repr(os.fspath(path))

    def check(config: dict[str, Any], manifests: dict[str, archive.Manifest]) -> None:
        try:
            settings = check_population_record(config)
            abstract = abstract_weights(config["model"])
            if abstract is None:
                raise ValueError("the model config has no input shape")
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise archive.invalid_config(source, exc) from None
        size = settings["size"]
        stacked = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((size, *a.shape), a.dtype), abstract[0]
        )
        archive.check_fits(stacked, manifests["params"], "parameters", source)

    stored = archive.read_archive(path, archive.POPULATION_FORMAT, check=check)
    config, arrays, manifests = stored.config, stored.arrays, stored.manifests
    try:
        settings = check_population_record(config)
        model = sequential_from_config(model_cls, config["model"])
        compile_settings = config["compile"]
        if optimizer is None and compile_settings.get("optimizer") is None:
            raise ValueError(
                "the model was compiled with an Optax transformation that has no fnn name; "
                "pass it again: load_population(path, optimizer=tx)"
            )
        compile_from_config(model, compile_settings, optimizer)
        pop = pop_cls(
            model,
            settings["size"],
            seeds=settings["seeds"],
            hyperparams=settings["hyperparams"],
            shared_order=settings["shared_order"],
        )
        epoch = check_epoch(config.get("epoch", 0))
        callback_states = check_callback_states(config.get("callbacks"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise archive.invalid_config(source, exc) from None
    restored = [
        archive.restore(tree, arrays[g], manifests[g], g.replace("_", " "), source)
        for tree, g in zip(
            (pop.params, pop.state, pop.opt_state),
            archive.GROUPS[archive.POPULATION_FORMAT],
            strict=True,
        )
    ]
    pop.params, pop.state, pop.opt_state = restored
    pop.epoch = epoch
    pop.callback_states = callback_states
    hyper = getattr(pop.opt_state, "hyperparams", None) or {}
    pop.hyperparams = {k: np.asarray(hyper[k]) for k in pop.hyperparams}
    if config.get("history") is not None:
        pop.history = History()
        for name, values in config["history"].items():
            pop.history.history[name] = [np.asarray(v) for v in values]
    return pop
