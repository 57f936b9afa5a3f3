"""The fnn file format: a zip of JSON and ``.npy`` members, written atomically, read safely.

This module knows no model class: it writes and reads archives of a config (JSON) and groups of
arrays, each group described by a manifest of ``{"path", "shape", "dtype"}`` entries. The records
that turn a model or a population into a config and arrays and back live in :mod:`fnn.saving`
(the format's documentation is there too).

    >>> import os, tempfile
    >>> import numpy as np
    >>> leaves = [("['w']", np.arange(3, dtype=np.float32))]
    >>> config = {"layers": [], "arrays": {"params": manifest(leaves), "state": []}}
    >>> path = os.path.join(tempfile.mkdtemp(), "w.fnn")
    >>> write_archive(path, WEIGHTS_FORMAT, config, arrays_only({"params": leaves}))
    >>> read_archive(path, WEIGHTS_FORMAT).arrays["params"]
    [array([0., 1., 2.], dtype=float32)]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
import zipfile
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from fnn.distributed import is_primary

FORMAT_VERSION = 1
MODEL_FORMAT = "fnn.model"
WEIGHTS_FORMAT = "fnn.weights"
#: A :class:`fnn.population.Population`: the members' arrays stacked on a leading axis.
POPULATION_FORMAT = "fnn.population"
#: Array groups of each format, in the order they are written.
GROUPS = {MODEL_FORMAT: ("params", "state", "optimizer_state"), WEIGHTS_FORMAT: ("params", "state")}
GROUPS[POPULATION_FORMAT] = GROUPS[MODEL_FORMAT]
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

#: A manifest: one ``{"path", "shape", "dtype"}`` entry per array of a group.
Manifest = list[dict[str, Any]]


# -- leaves and manifests ----------------------------------------------------------------------
def leaves(tree: Any) -> list[tuple[str, np.ndarray]]:
    """(path, array) for each leaf of ``tree``, in ``jax.tree_util`` order, on the host.

    Args:
        tree: a pytree of arrays.

    Returns:
        One ``(jax.tree_util.keystr(path), numpy array)`` pair per leaf.

    >>> leaves({"b": np.zeros(2), "a": 1.0})
    [("['a']", array(1.)), ("['b']", array([0., 0.]))]
    """
    flat = jax.tree_util.tree_flatten_with_path(jax.device_get(tree))[0]
    return [(jax.tree_util.keystr(path), np.asarray(leaf)) for path, leaf in flat]


def manifest(pairs: list[tuple[str, np.ndarray]]) -> Manifest:
    """The manifest entries (path, shape, dtype) of :func:`leaves`' pairs.

    Args:
        pairs: ``(path, array)`` pairs.

    Returns:
        A list of ``{"path", "shape", "dtype"}`` dicts, JSON-able.

    Raises:
        ValueError: an array's dtype is not one the format holds (:data:`DTYPES`).

    >>> manifest([("[0]", np.zeros((2, 3), np.float32))])
    [{'path': '[0]', 'shape': [2, 3], 'dtype': 'float32'}]
    """
    out = []
    for path, leaf in pairs:
        if leaf.dtype.name not in DTYPES:
            raise ValueError(
                f"Cannot save the array at {path} of dtype {leaf.dtype}: fnn files hold only "
                f"{', '.join(sorted(DTYPES))}."
            )
        out.append({"path": path, "shape": list(leaf.shape), "dtype": leaf.dtype.name})
    return out


def arrays_only(groups: dict[str, list[tuple[str, np.ndarray]]]) -> dict[str, list[np.ndarray]]:
    """The arrays of each group of ``(path, array)`` pairs, without their paths.

    >>> arrays_only({"params": [("[0]", np.ones(1))]})
    {'params': [array([1.])]}
    """
    return {g: [a for _, a in pairs] for g, pairs in groups.items()}


def describe(entries: list[tuple[str, tuple[int, ...], str]]) -> str:
    """``(path, shape, dtype)`` entries as one readable line, for error messages.

    >>> describe([("[0]", (2, 3), "float32")])
    '[[0]: (2, 3) float32]'
    """
    if not entries:
        return "empty"
    return "[" + ", ".join(f"{p or 'leaf'}: {s} {d}" for p, s, d in entries) + "]"


def check_fits(tree: Any, entries: Manifest, what: str, source: str) -> jax.tree_util.PyTreeDef:
    """Raise unless ``entries`` list ``tree``'s leaves (arrays or shapes) by path and shape.

    Args:
        tree: a pytree of arrays or ``jax.ShapeDtypeStruct``.
        entries: the file's manifest for this group.
        what: the group, as the error message names it (``"parameters"``).
        source: the file, as the error message names it.

    Returns:
        ``tree``'s structure.

    Raises:
        ValueError: paths, shapes or dtypes differ.
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    expected = [
        (jax.tree_util.keystr(p), tuple(np.shape(x)), np.dtype(x.dtype).name) for p, x in flat
    ]
    got = [(m["path"], tuple(m["shape"]), m["dtype"]) for m in entries]
    if expected != got:
        raise ValueError(
            f"{source} does not fit this model: its {what} are {describe(got)}, the model's are "
            f"{describe(expected)}."
        )
    return treedef


def restore(tree: Any, arrays: list[np.ndarray], entries: Manifest, what: str, source: str) -> Any:
    """``tree`` with its leaves replaced by ``arrays``, which must match them in path and shape.

    Raises:
        ValueError: as :func:`check_fits`.
    """
    treedef = check_fits(tree, entries, what, source)
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in arrays])


def invalid_config(source: str, exc: Exception) -> ValueError:
    """The error for a file whose config.json does not describe what it should."""
    return ValueError(f"{source} is not a valid fnn file: its config.json is invalid ({exc}).")


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
    """Write a fnn archive atomically: a temporary file beside ``path``, fsync, rename.

    With several processes (:mod:`fnn.distributed`) only process 0 writes; the others return.

    Args:
        path: the file to write.
        fmt: one of :data:`GROUPS`' formats.
        config: the JSON-able config (its ``"arrays"`` describe ``groups``).
        groups: the arrays of each group of the format.

    Raises:
        ValueError: the config is not JSON-serializable.
    """
    if not is_primary():
        return
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


# -- reading ---------------------------------------------------------------------------------
class Archive:
    """A validated fnn archive: its format, config, array manifests and arrays.

    Attributes:
        format: the format name (:data:`MODEL_FORMAT`, ...).
        config: config.json, a dict.
        manifests: each group's checked manifest.
        arrays: each group's arrays, in manifest order.
    """

    def __init__(
        self,
        fmt: str,
        config: dict[str, Any],
        manifests: dict[str, Manifest],
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


def check_member_name(name: str, source: str) -> None:
    """Raise unless ``name`` is a plain relative member name that stays inside the archive."""
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


def check_manifest(entries: Any, group: str, source: str) -> Manifest:
    """Raise unless ``entries`` is a list of ``{"path": str, "shape": [int], "dtype"}``."""
    bad = ValueError(
        f"{source} is not a valid fnn file: config.json's arrays.{group} is malformed."
    )
    if not isinstance(entries, list):
        raise bad
    for entry in entries:
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and isinstance(entry.get("shape"), list)
            and all(type(d) is int and d >= 0 for d in entry["shape"])
            and entry.get("dtype") in DTYPES
        ):
            raise bad
    return entries


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


#: What :func:`read_archive` calls with (config, manifests) before it reads any array.
Check = Callable[[dict[str, Any], dict[str, Manifest]], None]


def read_archive(
    path: str | os.PathLike[str], expected: str | tuple[str, ...], *, check: Check | None = None
) -> Archive:
    """Read and validate a fnn archive of format ``expected``.

    Args:
        path: the file.
        expected: the format it must have (:data:`MODEL_FORMAT`, ...), or a tuple of those
            it may have.
        check: called with ``(config, manifests)`` after config.json and the manifests are read
            and checked, before any array is read: the records raise a ValueError there when the
            manifests do not fit the architecture the config describes.

    Returns:
        The :class:`Archive`.

    Raises:
        ValueError: the file is not a valid fnn archive of format ``expected``, or ``check``
            refused it.
    """
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
                return _read_open_archive(zf, expected, source, check)
        except ValueError:
            raise
        except Exception as exc:  # BadZipFile (bad CRC), EOFError, ... from a crafted file
            raise ValueError(
                f"{source} is not a valid fnn file: damaged archive ({type(exc).__name__}: {exc})."
            ) from None


def _read_open_archive(
    zf: zipfile.ZipFile, expected: str | tuple[str, ...], source: str, check: Check | None
) -> Archive:
    names = [info.filename for info in zf.infolist()]
    for name in names:
        check_member_name(name, source)
    if len(set(names)) != len(names):
        raise ValueError(f"{source} is not a valid fnn file: it has duplicate member names.")
    header = _read_json(zf, "format.json", source)
    fmt, version = header.get("format"), header.get("version")
    if fmt not in GROUPS:
        raise ValueError(f"{source} is not a fnn file: format.json names format {fmt!r}.")
    allowed = (expected,) if isinstance(expected, str) else expected
    if fmt not in allowed:
        hint = {
            WEIGHTS_FORMAT: "it holds weights only: use model.load_weights(path)",
            MODEL_FORMAT: "it holds a whole model: use fnn.models.load_model(path)",
            POPULATION_FORMAT: "it holds a population: use fnn.population.load_population(path)",
        }[fmt]
        wanted = " or ".join(repr(x) for x in allowed)
        raise ValueError(f"{source} is a {fmt!r} file, not {wanted}: {hint}.")
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(
            f"{source} has format version {version!r}; this fnn reads version {FORMAT_VERSION} "
            "only (a newer fnn may have written it)."
        )
    config = _read_json(zf, "config.json", source)
    tables = config.get("arrays")
    if not isinstance(tables, dict):
        raise ValueError(f"{source} is not a valid fnn file: config.json has no 'arrays' table.")
    manifests = {g: check_manifest(tables.get(g, []), g, source) for g in GROUPS[fmt]}
    members = {g: [f"{g}/{i:06d}.npy" for i in range(len(m))] for g, m in manifests.items()}
    unexpected = sorted(set(names) - {"format.json", "config.json"}.union(*members.values()))
    if unexpected:
        raise ValueError(f"{source} is not a valid fnn file: unexpected members {unexpected}.")
    if check is not None:
        check(config, manifests)
    arrays = {
        g: [_read_array(zf, m, e, source) for m, e in zip(members[g], manifests[g], strict=True)]
        for g in GROUPS[fmt]
    }
    return Archive(fmt, config, manifests, arrays)


__all__ = [
    "DTYPES",
    "FORMAT_VERSION",
    "GROUPS",
    "MODEL_FORMAT",
    "POPULATION_FORMAT",
    "WEIGHTS_FORMAT",
    "Archive",
    "Manifest",
    "arrays_only",
    "check_fits",
    "check_manifest",
    "check_member_name",
    "describe",
    "invalid_config",
    "leaves",
    "manifest",
    "read_archive",
    "restore",
    "write_archive",
]
