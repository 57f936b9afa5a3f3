"""Saving and loading models: one documented zip format, written atomically, read safely.

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
    :func:`fnn.losses.serialize` gives it, each metric as ``{"name", "fn"}`` with ``fn`` its
    registered name; ``"epoch"``, the number of completed epochs (``model.epoch``, the
    ``initial_epoch`` to resume with). The random state is the model's ``seed``: fit derives the
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
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
import zipfile
from typing import TYPE_CHECKING, Any

import jax
import numpy as np

from fnn import losses as losses_lib
from fnn import metrics as metrics_lib
from fnn import optimizers as optimizers_lib
from fnn.layers import Serial, as_shape, layer_from_config, layer_to_config

if TYPE_CHECKING:
    import optax

    from fnn.models import Sequential

FORMAT_VERSION = 1
MODEL_FORMAT = "fnn.model"
WEIGHTS_FORMAT = "fnn.weights"
#: Array groups of each format, in the order they are written.
GROUPS = {MODEL_FORMAT: ("params", "state", "optimizer_state"), WEIGHTS_FORMAT: ("params", "state")}
#: The dtypes an array member may have.
DTYPES = frozenset(
    [
        "bool",
        *(f"int{b}" for b in (8, 16, 32, 64)),
        *(f"uint{b}" for b in (8, 16, 32, 64)),
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "complex64",
        "complex128",
    ]
)
MAX_JSON_BYTES = 64 * 2**20
NPY_HEADER_SLACK = 2**16  # an .npy header is at most 64 KiB in format 1.0


# -- configs ---------------------------------------------------------------------------------
def sequential_config(model: Sequential) -> dict[str, Any]:
    """The Sequential's architecture as JSON-able data (see :meth:`Sequential.get_config`)."""
    shape = model.input_shape
    return {
        "name": model.name,
        "seed": model.seed,
        "dtype_policy": model.dtype_policy.name,
        "input_shape": None if shape is None else list(shape),
        "layers": [layer_to_config(layer) for layer in model.layers],
    }


def sequential_from_config(cls: type[Sequential], config: dict[str, Any]) -> Sequential:
    """A new, built (when the config has an input shape) model from :func:`sequential_config`."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"A Sequential config is a dict with a 'layers' list, got {config!r}.")
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
    """The compile settings by name; a ValueError for anything that has no registered name."""
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
        fn_name = metrics_lib.registry.name_of(metric.fn)
        if fn_name is None:
            raise ValueError(
                f"metric {metric.name!r} ({metric.fn!r}) is not registered, so it cannot be "
                "saved; register it with fnn.metrics.register(name, fn)."
            )
        metrics.append({"name": metric.name, "fn": fn_name})
    return {
        "optimizer": _optimizer_config(model._compile_args.get("optimizer")),
        "loss": loss,
        "metrics": metrics,
    }


def _optimizer_config(spec: Any) -> str | dict[str, Any] | None:
    """The optimizer as compile received it: a name stays a name (compile derives the same
    transformation, flattened or not, from it), a fnn constructor's result becomes its config."""
    if isinstance(spec, str):
        return spec
    return optimizers_lib.serialize(spec)


def _compile_from_config(
    model: Sequential,
    config: dict[str, Any],
    optimizer: str | optax.GradientTransformation | None,
) -> None:
    if optimizer is None:
        optimizer = config["optimizer"]
        if isinstance(optimizer, str):
            optimizers_lib.get(optimizer)  # only fnn's registered names
        else:
            optimizer = optimizers_lib.deserialize(optimizer)
    loss = None if config.get("loss") is None else losses_lib.deserialize(config["loss"])
    entries = config.get("metrics", [])
    if not isinstance(entries, list) or not all(
        isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("fn"), str)
        for m in entries
    ):
        raise ValueError(f"metrics must be a list of {{'name', 'fn'}} strings, got {entries!r}")
    metrics = [metrics_lib.Metric(m["name"], metrics_lib.registry.get(m["fn"])) for m in entries]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


# -- arrays ----------------------------------------------------------------------------------
def _leaves(tree: Any) -> list[tuple[str, np.ndarray]]:
    """(path, array) for each leaf of ``tree``, in ``jax.tree_util`` order, on the host."""
    flat = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in flat]


def _manifest(leaves: list[tuple[str, np.ndarray]]) -> list[dict[str, Any]]:
    out = []
    for path, leaf in leaves:
        if leaf.dtype.name not in DTYPES:
            raise ValueError(
                f"Cannot save the array at {path} of dtype {leaf.dtype}: fnn files hold only "
                f"{', '.join(sorted(DTYPES))}."
            )
        out.append({"path": path, "shape": list(leaf.shape), "dtype": leaf.dtype.name})
    return out


def _check_fits(
    tree: Any, manifest: list[dict[str, Any]], what: str, source: str
) -> jax.tree_util.PyTreeDef:
    """Raise unless ``manifest`` lists ``tree``'s leaves (arrays or shapes) by path and shape."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    expected = [
        (jax.tree_util.keystr(p), tuple(np.shape(x)), np.dtype(x.dtype).name) for p, x in flat
    ]
    got = [(m["path"], tuple(m["shape"]), m["dtype"]) for m in manifest]
    if expected != got:
        raise ValueError(
            f"{source} does not fit this model: its {what} are {_describe(got)}, the model's are "
            f"{_describe(expected)}."
        )
    return treedef


def _restore(
    tree: Any, arrays: list[np.ndarray], manifest: list[dict[str, Any]], what: str, source: str
) -> Any:
    """``tree`` with its leaves replaced by ``arrays``, which must match them in path and shape."""
    treedef = _check_fits(tree, manifest, what, source)
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in arrays])


def _abstract_weights(config: Any) -> tuple[Any, Any] | None:
    """The shapes of the (params, state) that the config's layers would create, without
    allocating them (so a crafted config cannot make the loader build a huge model first)."""
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"the model config is a dict with a 'layers' list, got {config!r}")
    layers = [layer_from_config(c) for c in config["layers"]]
    shape = config.get("input_shape") or (layers[0].input_shape if layers else None)
    if shape is None:
        return None
    net = Serial(layers)
    shape = as_shape(tuple(shape))
    params = jax.eval_shape(lambda k: net.init(k, shape), jax.random.key(0))
    return params, jax.eval_shape(lambda: net.init_state(shape))


def _describe(entries: list[tuple[str, tuple[int, ...], str]]) -> str:
    if not entries:
        return "empty"
    return "[" + ", ".join(f"{p or 'leaf'}: {s} {d}" for p, s, d in entries) + "]"


# -- writing ---------------------------------------------------------------------------------
def _write_member(zf: zipfile.ZipFile, name: str, data: bytes | np.ndarray) -> None:
    """Write one member: JSON bytes, or an array as ``.npy`` (never pickled)."""
    if isinstance(data, bytes):
        zf.writestr(name, data)
        return
    with zf.open(name, "w", force_zip64=data.nbytes > 2**30) as out:
        np.lib.format.write_array(out, data, allow_pickle=False)


def _json_bytes(obj: Any, what: str) -> bytes:
    try:
        return json.dumps(obj, indent=1, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The {what} is not JSON-serializable ({exc}): {obj!r}") from None


def write_archive(
    path: str | os.PathLike[str],
    fmt: str,
    config: dict[str, Any],
    groups: dict[str, list[np.ndarray]],
) -> None:
    """Write a fnn archive atomically: a temporary file beside ``path``, fsync, rename."""
    path = os.fspath(path)
    members: list[tuple[str, bytes | np.ndarray]] = [
        ("format.json", _json_bytes({"format": fmt, "version": FORMAT_VERSION}, "format")),
        ("config.json", _json_bytes(config, "model config")),
    ]
    for group in GROUPS[fmt]:
        members += [(f"{group}/{i:06d}.npy", a) for i, a in enumerate(groups.get(group, []))]
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                for name, data in members:
                    _write_member(zf, name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Save architecture, weights, state, optimizer state, compile settings and epoch counter."""
    groups: dict[str, list[tuple[str, np.ndarray]]] = {
        "params": _leaves(model.params) if model.built else [],
        "state": _leaves(model.state) if model.built else [],
        "optimizer_state": _leaves(model.opt_state) if model.opt_state is not None else [],
    }
    config = {
        "model": sequential_config(model),
        "compile": compile_config(model),
        "epoch": int(model.epoch),
        "arrays": {g: _manifest(leaves) for g, leaves in groups.items()},
    }
    write_archive(path, MODEL_FORMAT, config, _arrays_only(groups))


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Save the layers' parameters and non-trainable state only."""
    model._require_built("save_weights")
    groups = {"params": _leaves(model.params), "state": _leaves(model.state)}
    config = {
        "layers": [{"class_name": type(x).__name__, "name": x.name} for x in model.layers],
        "arrays": {g: _manifest(leaves) for g, leaves in groups.items()},
    }
    write_archive(path, WEIGHTS_FORMAT, config, _arrays_only(groups))


def _arrays_only(groups: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, list[np.ndarray]]:
    return {g: [a for _, a in leaves] for g, leaves in groups.items()}


# -- reading ---------------------------------------------------------------------------------
class _Archive:
    """A validated fnn archive: its format, config, array manifests and arrays."""

    def __init__(
        self,
        fmt: str,
        config: dict[str, Any],
        manifests: dict[str, list[dict[str, Any]]],
        arrays: dict[str, list[np.ndarray]],
    ) -> None:
        self.format, self.config, self.manifests, self.arrays = fmt, config, manifests, arrays


def _sniff(head: bytes) -> str:
    if not head:
        return "it is empty"
    if head[:1] == b"\x80" and head[1:2] in {bytes([p]) for p in range(2, 6)}:
        return "it looks like a Python pickle, which fnn never loads"
    if head.startswith(b"\x89HDF"):
        return "it is an HDF5 file (Keras .h5?); fnn reads only its own zip format"
    if head.startswith(b"\x93NUMPY"):
        return "it is a bare .npy array"
    if head.startswith(b"PK"):
        return "it is a damaged or truncated zip archive"
    return "it is not a zip archive"


def _check_member_name(name: str, source: str) -> None:
    parts = name.split("/")
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in name
        or "\x00" in name
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(
            f"{source} is not a valid fnn file: member name {name!r} tries to escape the "
            "archive or is malformed."
        )


def _read_json(zf: zipfile.ZipFile, name: str, source: str) -> dict[str, Any]:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{source} is not a valid fnn file: it has no {name}.") from None
    if info.file_size > MAX_JSON_BYTES:
        raise ValueError(f"{source} is not a valid fnn file: {name} is implausibly large.")
    try:
        value = json.loads(zf.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{source} is not a valid fnn file: {name} is not JSON ({exc}).") from None
    if not isinstance(value, dict):
        raise ValueError(f"{source} is not a valid fnn file: {name} is not a JSON object.")
    return value


def _check_manifest(manifest: Any, group: str, source: str) -> list[dict[str, Any]]:
    bad = ValueError(
        f"{source} is not a valid fnn file: config.json's arrays.{group} is malformed."
    )
    if not isinstance(manifest, list):
        raise bad
    for entry in manifest:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("shape"), list)
            and all(type(d) is int and d >= 0 for d in entry["shape"])
            and entry.get("dtype") in DTYPES
        ):
            raise bad
    return manifest


def _read_array(zf: zipfile.ZipFile, name: str, entry: dict[str, Any], source: str) -> np.ndarray:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{source} is not a valid fnn file: it has no {name}.") from None
    dtype = np.dtype(jax.numpy.dtype(entry["dtype"]))
    shape = tuple(entry["shape"])
    if info.file_size > int(np.prod(shape, dtype=np.int64)) * dtype.itemsize + NPY_HEADER_SLACK:
        raise ValueError(f"{source} is not a valid fnn file: {name} is larger than its shape.")
    with zf.open(name) as raw:
        buf = io.BytesIO(raw.read())
    try:
        np.lib.format.read_magic(buf)
        buf.seek(0)
        array = np.lib.format.read_array(buf, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} is not a plain .npy array ({exc})."
        ) from None
    # bfloat16 is written as raw 2-byte voids: view it as what config.json says it is.
    if (
        array.dtype != dtype
        and array.dtype.kind == "V"
        and array.dtype.names is None
        and array.dtype.itemsize == dtype.itemsize
    ):
        array = array.view(dtype)
    if array.dtype != dtype or array.shape != shape:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} holds a {array.dtype} array of shape "
            f"{array.shape}, config.json says {dtype} {shape}."
        )
    return array


def read_archive(path: str | os.PathLike[str], expected: str) -> _Archive:
    """Read and validate a fnn archive of format ``expected``; ValueError for anything else."""
    source = repr(os.fspath(path))
    with open(path, "rb") as f:
        head = f.read(8)
        f.seek(0)
        try:
            zf = zipfile.ZipFile(f)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
            raise ValueError(f"{source} is not a fnn file: {_sniff(head)}.") from None
        try:
            with zf:
                return _read_open_archive(zf, expected, source)
        except ValueError:
            raise
        except (
            Exception
        ) as exc:  # BadZipFile (bad CRC), EOFError, zlib.error, ... from a crafted file
            raise ValueError(
                f"{source} is not a valid fnn file: damaged archive ({type(exc).__name__}: {exc})."
            ) from None


def _read_open_archive(zf: zipfile.ZipFile, expected: str, source: str) -> _Archive:
    names = [info.filename for info in zf.infolist()]
    for name in names:
        _check_member_name(name, source)
    if len(set(names)) != len(names):
        raise ValueError(f"{source} is not a valid fnn file: it has duplicate member names.")
    header = _read_json(zf, "format.json", source)
    fmt, version = header.get("format"), header.get("version")
    if fmt not in GROUPS:
        raise ValueError(f"{source} is not a fnn file: format.json names format {fmt!r}.")
    if fmt != expected:
        hint = {
            WEIGHTS_FORMAT: "it holds weights only: use model.load_weights(path)",
            MODEL_FORMAT: "it holds a whole model: use fnn.models.load_model(path)",
        }[fmt]
        raise ValueError(f"{source} is a {fmt!r} file, not {expected!r}: {hint}.")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(
            f"{source} has format version {version!r}; this fnn reads version {FORMAT_VERSION} "
            "only (a newer fnn may have written it)."
        )
    config = _read_json(zf, "config.json", source)
    manifests = config.get("arrays")
    if not isinstance(manifests, dict):
        raise ValueError(f"{source} is not a valid fnn file: config.json has no 'arrays' table.")
    arrays: dict[str, list[np.ndarray]] = {}
    checked: dict[str, list[dict[str, Any]]] = {}
    wanted = {"format.json", "config.json"}
    for group in GROUPS[fmt]:
        manifest = checked[group] = _check_manifest(manifests.get(group, []), group, source)
        members = [f"{group}/{i:06d}.npy" for i in range(len(manifest))]
        wanted.update(members)
        arrays[group] = [
            _read_array(zf, m, e, source) for m, e in zip(members, manifest, strict=True)
        ]
    unexpected = sorted(set(names) - wanted)
    if unexpected:
        raise ValueError(f"{source} is not a valid fnn file: unexpected members {unexpected}.")
    return _Archive(fmt, config, checked, arrays)


def _invalid_config(source: str, exc: Exception) -> ValueError:
    return ValueError(f"{source} is not a valid fnn file: its config.json is invalid ({exc}).")


def load_model(
    path: str | os.PathLike[str],
    *,
    compile: bool = True,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Sequential:
    """Load a model saved by ``model.save``: architecture, weights, state, optimizer state,
    compile settings, epoch counter (``model.epoch``) and seed.

    Args:
        path: the file.
        compile: False returns the model uncompiled (no optimizer state restored).
        optimizer: the optimizer to compile with instead of the saved one; required when the
            model was compiled with an Optax transformation that has no fnn name. Its state must
            have the saved state's structure; the saved state is restored into it.

    Raises:
        ValueError: the file is not a valid fnn model file, or does not describe a valid model.
    """
    from fnn.models import Sequential

    if optimizer is not None and not compile:
        raise ValueError("load_model got optimizer= and compile=False; pass one or the other.")
    if optimizer is not None:
        optimizers_lib.get(optimizer)  # a bad name or type fails here, before reading the file
    tx = optimizer
    source = repr(os.fspath(path))
    archive = read_archive(path, MODEL_FORMAT)
    config, arrays, manifests = archive.config, archive.arrays, archive.manifests
    try:
        abstract = _abstract_weights(config.get("model"))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _invalid_config(source, exc) from None
    if abstract is not None:
        _check_fits(abstract[0], manifests["params"], "parameters", source)
        _check_fits(abstract[1], manifests["state"], "state arrays", source)
    try:
        model = sequential_from_config(Sequential, config["model"])
        epoch = config.get("epoch", 0)
        if type(epoch) is not int or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        compile_settings = config.get("compile")
        if compile_settings is not None and not isinstance(compile_settings, dict):
            raise ValueError(f"compile must be an object or null, got {compile_settings!r}")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _invalid_config(source, exc) from None
    if model.built:
        model.params = _restore(
            model.params, arrays["params"], manifests["params"], "parameters", source
        )
        model.state = _restore(
            model.state, arrays["state"], manifests["state"], "state arrays", source
        )
    elif arrays["params"] or arrays["state"]:
        raise ValueError(
            f"{source} is not a valid fnn file: weights for a model with no input shape."
        )
    if compile and compile_settings is not None:
        if tx is None and compile_settings.get("optimizer") is None:
            raise ValueError(
                f"{source} was compiled with an Optax transformation that has no fnn name, so the "
                "file holds its state but not the transformation itself. Pass it again: "
                "load_model(path, optimizer=tx), or load_model(path, compile=False) for an "
                "uncompiled model."
            )
        try:
            _compile_from_config(model, compile_settings, tx)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise _invalid_config(source, exc) from None
        if model.opt_state is not None:
            model.opt_state = _restore(
                model.opt_state,
                arrays["optimizer_state"],
                manifests["optimizer_state"],
                "optimizer state arrays",
                source,
            )
    model.epoch = epoch
    return model


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Load a ``save_weights`` file (or the weights of a ``save`` file) into ``model``.

    The model must be built, with the saved arrays' structure and shapes (the optimizer state is
    left as it is). When loading fails, the model is unchanged.
    """
    source = repr(os.fspath(path))
    try:
        archive = read_archive(path, WEIGHTS_FORMAT)
    except ValueError as exc:
        if f"is a {MODEL_FORMAT!r} file" not in str(exc):
            raise
        archive = read_archive(path, MODEL_FORMAT)
    model._require_built("load_weights")
    manifests = archive.manifests
    params = _restore(
        model.params, archive.arrays["params"], manifests["params"], "parameters", source
    )
    state = _restore(
        model.state, archive.arrays["state"], manifests["state"], "state arrays", source
    )
    model.params, model.state = params, state


__all__ = [
    "load_model",
    "load_weights",
    "read_archive",
    "save_model",
    "save_weights",
    "sequential_config",
    "sequential_from_config",
    "write_archive",
]
