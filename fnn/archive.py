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
import stat
import struct
import uuid
import zipfile
from collections.abc import Callable
from typing import IO, Any

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
NPY_HEADER_SLACK = 2**16  # an .npy header is at most 64 KiB in format 1.0
NPY_HEADER_MIN = 64  # the smallest .npy header numpy writes (padded to 64 bytes)

# Bounds on the work one file may cost (hostile files are refused at these, never read past them).
#: Members of one archive (a 10,000-layer model trained with Adam has about 70,000).
MAX_MEMBERS = 100_000
#: Bytes of format.json or config.json.
MAX_JSON_BYTES = 16 * 2**20
#: Nesting depth of config.json (fnn writes about 6).
MAX_JSON_DEPTH = 64
#: Characters of a member name (fnn writes 23 at most).
MAX_NAME_CHARS = 256
#: Bytes of the zip's central directory (fnn writes about 80 a member).
MAX_DIRECTORY_BYTES = MAX_MEMBERS * 128
#: Dimensions of one array.
MAX_NDIM = 32
#: Characters of any error message about a file (longer ones are cut, saying how much).
MAX_MESSAGE_CHARS = 2000
#: Items an error message lists before "... and N more".
MAX_LISTED = 10

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

    Args:
        groups: ``(path, array)`` pairs by group name, as :func:`leaves` gives them.

    Returns:
        The same groups holding only the arrays, in the same order (what
        :func:`write_archive` takes).

    Example:
        >>> arrays_only({"params": [("[0]", np.ones(1))]})
        {'params': [array([1.])]}
    """
    return {g: [a for _, a in pairs] for g, pairs in groups.items()}


def listing(items: list[str], limit: int = MAX_LISTED) -> str:
    """``items`` joined by commas, the first ``limit`` only, then how many more there are.

    Args:
        items: the strings to list.
        limit: the most items shown (default :data:`MAX_LISTED`).

    Returns:
        One line for an error message.

    Example:
        >>> listing(["a", "b", "c"], limit=2)
        'a, b ... and 1 more'
    """
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown} ... and {len(items) - limit} more"


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` cut to at most ``limit`` characters, saying how many were left out.

    Args:
        message: the error message.
        limit: the most characters kept, the note included (default
            :data:`MAX_MESSAGE_CHARS`).

    Returns:
        ``message`` itself if short enough, else its start and ``" ... (and N more
        characters)"``.

    Example:
        >>> bounded("x" * 50, limit=40)
        'xxxxxxxxxxx ... (and 39 more characters)'
    """
    if len(message) <= limit:
        return message
    tail = " ... (and {} more characters)"
    keep = max(0, limit - len(tail.format(len(message))))
    return message[:keep] + tail.format(len(message) - keep)


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to ``limit`` characters.

    Args:
        value: any value (a field read from a file, say).
        limit: the most characters returned (default 80).

    Returns:
        ``repr(value)``, or its first ``limit - 3`` characters and ``"..."``.

    Example:
        >>> short_repr("a" * 100, limit=20)
        "'aaaaaaaaaaaaaaaa..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(entries: list[tuple[str, tuple[int, ...], str]]) -> str:
    """``(path, shape, dtype)`` entries as one readable line, for error messages.

    Args:
        entries: ``(path, shape, dtype name)`` triples, as :func:`leaf_entries` gives them.

    Returns:
        ``"[path: shape dtype, ...]"`` (at most :data:`MAX_LISTED` entries, then how many
        more), or ``"empty"``.

    Example:
        >>> describe([("[0]", (2, 3), "float32")])
        '[[0]: (2, 3) float32]'
    """
    if not entries:
        return "empty"
    return "[" + listing([f"{short_repr(p or 'leaf')[1:-1]}: {s} {d}" for p, s, d in entries]) + "]"


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
    expected = leaf_entries(tree)
    got = [(m["path"], tuple(m["shape"]), m["dtype"]) for m in entries]
    if expected != got:
        raise ValueError(
            f"{source} does not fit this model: its {what} are {describe(got)}, the model's are "
            f"{describe(expected)}."
        )
    return jax.tree_util.tree_structure(tree)


def leaf_entries(tree: Any, prefix: str = "") -> list[tuple[str, tuple[int, ...], str]]:
    """(path, shape, dtype name) of each leaf of ``tree``, as a manifest would list them.

    Args:
        tree: a pytree of arrays or ``jax.ShapeDtypeStruct``.
        prefix: put in front of each path (``"[3]"`` for layer 3's params; default none).

    Returns:
        One ``(prefix + jax.tree_util.keystr(path), shape tuple, dtype name)`` per leaf, in
        ``jax.tree_util`` order.

    Example:
        >>> leaf_entries({"w": np.zeros((2, 3), np.float32)}, prefix="[1]")
        [("[1]['w']", (2, 3), 'float32')]
    """
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [
        (prefix + jax.tree_util.keystr(p), tuple(np.shape(x)), np.dtype(x.dtype).name)
        for p, x in flat
    ]


def restore(tree: Any, arrays: list[np.ndarray], entries: Manifest, what: str, source: str) -> Any:
    """``tree`` with its leaves replaced by ``arrays``, which must match them in path and shape.

    Args:
        tree: the pytree whose structure to keep (the model's current arrays, or shapes).
        arrays: the arrays read from the file, in manifest order.
        entries: the file's manifest for this group.
        what: the group, as the error message names it (``"parameters"``).
        source: the file, as the error message names it.

    Returns:
        A pytree of ``tree``'s structure holding ``arrays`` as JAX arrays.

    Raises:
        ValueError: as :func:`check_fits`: the manifest's paths, shapes or dtypes differ from
            ``tree``'s.
    """
    treedef = check_fits(tree, entries, what, source)
    return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(a) for a in arrays])


def invalid_config(source: str, exc: Exception) -> ValueError:
    """The error for a file whose config.json does not describe what it should.

    Args:
        source: the file, as the message names it.
        exc: the error the config raised when checked or used (its text goes in the message).

    Returns:
        A ValueError (not raised here) whose message is at most :data:`MAX_MESSAGE_CHARS`
        characters long.
    """
    return ValueError(
        bounded(f"{source} is not a valid fnn file: its config.json is invalid ({exc}).")
    )


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
    try:
        # open() hands the descriptor to a file object inside one call, so an interrupt
        # (Ctrl-C) at any moment leaves no open descriptor behind; "x": create, never reuse.
        with open(tmp, "xb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
                for name, data in members:
                    _write_member(zf, name, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: no temporary file is left behind
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

    :func:`read_archive` makes these; the constructor only stores its arguments, as the
    attributes ``format``, ``config``, ``manifests`` and ``arrays``.

    Args:
        fmt: the format name (:data:`MODEL_FORMAT`, ...), stored as ``format``.
        config: config.json, a dict.
        manifests: each group's checked manifest.
        arrays: each group's arrays (NumPy), in manifest order.
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
    """Raise unless ``name`` is a plain relative member name that stays inside the archive.

    Args:
        name: a member name from the zip's directory.
        source: the file, as the error message names it.

    Raises:
        ValueError: the name is absolute, climbs out (``..``), is empty or too long.
    """
    parts = name.split("/")
    if (
        len(name) > MAX_NAME_CHARS
        or name.startswith(("/", "\\"))
        or "\\" in name
        or ":" in name
        or "\x00" in name
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(
            f"{source} is not a valid fnn file: member name {short_repr(name)} tries to escape "
            "the archive or is malformed."
        )


def _json_depth(value: Any) -> int:
    """The nesting depth of a JSON value (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            stack.extend((x, depth + 1) for x in item if isinstance(x, (dict, list)))
    return deepest


def _read_json(zf: zipfile.ZipFile, name: str, source: str) -> dict[str, Any]:
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise ValueError(f"{source} is not a valid fnn file: it has no {name}.") from None
    if info.file_size > MAX_JSON_BYTES:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} has {info.file_size} bytes, more than the "
            f"{MAX_JSON_BYTES} a fnn file's JSON may have."
        )
    try:
        value = json.loads(zf.read(name).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} is not JSON ({short_repr(str(exc), 200)})."
        ) from None
    if not isinstance(value, dict):
        raise ValueError(f"{source} is not a valid fnn file: {name} is not a JSON object.")
    if _json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} nests deeper than {MAX_JSON_DEPTH} levels."
        )
    return value


def check_manifest(entries: Any, group: str, source: str) -> Manifest:
    """Raise unless ``entries`` is a list of ``{"path": str, "shape": [int], "dtype"}``.

    Args:
        entries: the group's manifest as read from config.json (any JSON value).
        group: the group's name (``"params"``), for the message.
        source: the file, as the error message names it.

    Returns:
        ``entries``, unchanged: at most :data:`MAX_MEMBERS` entries, each path at most
        :data:`MAX_NAME_CHARS` long, at most :data:`MAX_NDIM` non-negative int dimensions and a
        dtype in :data:`DTYPES`.

    Raises:
        ValueError: naming the group and the first bad entry.
    """
    where = f"{source} is not a valid fnn file: config.json's arrays.{group}"
    if not isinstance(entries, list):
        raise ValueError(f"{where} is malformed: not a list but {type(entries).__name__}.")
    if len(entries) > MAX_MEMBERS:
        raise ValueError(f"{where} is malformed: {len(entries)} entries, more than {MAX_MEMBERS}.")
    for i, entry in enumerate(entries):
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("path"), str)
            and len(entry["path"]) <= MAX_NAME_CHARS
            and isinstance(entry.get("shape"), list)
            and len(entry["shape"]) <= MAX_NDIM
            and all(type(d) is int and d >= 0 for d in entry["shape"])
            and isinstance(entry.get("dtype"), str)
            and entry["dtype"] in DTYPES
        ):
            raise ValueError(f"{where} is malformed: entry {i} is {short_repr(entry)}.")
    return entries


def _nbytes(entry: dict[str, Any]) -> int:
    """The bytes of data a manifest entry declares (exact: Python ints cannot overflow)."""
    count = 1
    for d in entry["shape"]:
        count *= d
    return count * np.dtype(jax.numpy.dtype(entry["dtype"])).itemsize


def _check_members(zf: zipfile.ZipFile, file_size: int, source: str) -> list[str]:
    """Every member stored (not compressed), plain, and inside the file; returns the names."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:  # _count_members catches this before the zip is parsed
        raise ValueError(
            f"{source} is not a valid fnn file: {len(infos)} members, more than {MAX_MEMBERS}."
        )
    for info in infos:
        check_member_name(info.filename, source)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(
                f"{source} is not a valid fnn file: member {short_repr(info.filename)} is "
                f"compressed (method {info.compress_type}); fnn writes every member stored "
                "and reads nothing else."
            )
        if info.flag_bits & 0x1:
            raise ValueError(
                f"{source} is not a valid fnn file: member {short_repr(info.filename)} is "
                "encrypted."
            )
        if info.file_size != info.compress_size or info.header_offset + info.file_size > file_size:
            raise ValueError(
                f"{source} is not a valid fnn file: member {short_repr(info.filename)} declares "
                f"{info.file_size} bytes, which the file ({file_size} bytes) cannot hold."
            )
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise ValueError(f"{source} is not a valid fnn file: it has duplicate member names.")
    return names


def _read_header(raw: IO[bytes], name: str, entry: dict[str, Any], source: str) -> bool:
    """Read a ``.npy`` member's header and check it against the manifest entry; returns
    whether the data is in Fortran order. Reads at most the header (numpy bounds its size)."""
    dtype = np.dtype(jax.numpy.dtype(entry["dtype"]))
    shape = tuple(entry["shape"])
    try:
        version = np.lib.format.read_magic(raw)
        if version == (1, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_1_0(raw)
        elif version == (2, 0):
            got_shape, fortran, got_dtype = np.lib.format.read_array_header_2_0(raw)
        else:
            raise ValueError(f"unsupported .npy version {version}")
        if got_dtype.hasobject:
            raise ValueError("it holds Python objects, which fnn never unpickles")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} is not a plain .npy array "
            f"({short_repr(str(exc), 200)})."
        ) from None
    # bfloat16 is written as raw 2-byte voids: read it as what config.json says it is.
    if got_dtype.kind == "V" and got_dtype.names is None and got_dtype.itemsize == dtype.itemsize:
        got_dtype = dtype
    if got_dtype != dtype or tuple(got_shape) != shape:
        raise ValueError(
            f"{source} is not a valid fnn file: {name} holds a {got_dtype} array of shape "
            f"{tuple(got_shape)}, config.json says {dtype} {shape}."
        )
    return bool(fortran)


def _check_sizes(
    zf: zipfile.ZipFile,
    members: dict[str, list[str]],
    manifests: dict[str, Manifest],
    file_size: int,
    source: str,
) -> None:
    """Every array member's header agrees with its manifest entry and the member holds exactly
    the bytes that declares; all of them together fit in the file. Reads headers only."""
    total = 0
    for group, names in members.items():
        for name, entry in zip(names, manifests[group], strict=True):
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise ValueError(f"{source} is not a valid fnn file: it has no {name}.") from None
            nbytes = _nbytes(entry)
            if info.file_size > nbytes + NPY_HEADER_SLACK:
                raise ValueError(
                    f"{source} is not a valid fnn file: {name} is larger than its shape."
                )
            with zf.open(info) as raw:
                _read_header(raw, name, entry, source)
                if info.file_size - raw.tell() != nbytes:
                    raise ValueError(
                        f"{source} is not a valid fnn file: {name} should hold {nbytes} bytes "
                        f"of data for its shape {tuple(entry['shape'])}, it holds "
                        f"{info.file_size - raw.tell()}."
                    )
            total += nbytes
            if total > file_size:
                raise ValueError(
                    f"{source} is not a valid fnn file: its arrays declare more bytes than the "
                    f"file ({file_size} bytes) holds (members overlap)."
                )


def _read_array(zf: zipfile.ZipFile, name: str, entry: dict[str, Any], source: str) -> np.ndarray:
    """One ``.npy`` member, already checked by :func:`_check_sizes`."""
    shape = tuple(entry["shape"])
    nbytes = _nbytes(entry)
    data = bytearray(nbytes)
    with zf.open(name) as raw:
        fortran = _read_header(raw, name, entry, source)
        view, pos = memoryview(data), 0
        while pos < nbytes:  # in chunks: no second copy of a large array
            chunk = raw.read(min(2**24, nbytes - pos))
            if not chunk:
                raise ValueError(f"{source} is not a valid fnn file: {name} is truncated.")
            view[pos : pos + len(chunk)] = chunk
            pos += len(chunk)
        raw.read(1)  # at the end: the zip's CRC check of the member runs here
    array = np.frombuffer(data, dtype=np.dtype(jax.numpy.dtype(entry["dtype"])))
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


#: What :func:`read_archive` calls with (config, manifests) before it reads any array.
Check = Callable[[dict[str, Any], dict[str, Manifest]], None]


def _open_regular(path: str | os.PathLike[str], source: str) -> io.BufferedReader:
    """Open ``path`` for reading only if it is a regular file (never a FIFO, device, directory)."""
    mode = os.stat(path).st_mode
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }

    def refuse(mode: int) -> ValueError:
        kind = next((k for test, k in kinds.items() if test(mode)), "not a regular file")
        return ValueError(f"{source} is not a fnn file: it is {kind}, not a regular file.")

    if not stat.S_ISREG(mode):
        raise refuse(mode)
    # O_NONBLOCK: should the path be swapped for a FIFO after the check, opening cannot block.
    flags = getattr(os, "O_NONBLOCK", 0)
    f = open(path, "rb", opener=lambda p, fl: os.open(p, fl | flags))  # noqa: SIM115
    mode = os.fstat(f.fileno()).st_mode
    if not stat.S_ISREG(mode):
        f.close()
        raise refuse(mode)
    return f


def _count_members(f: io.BufferedReader, file_size: int, source: str) -> None:
    """Refuse an archive of more than :data:`MAX_MEMBERS` members before the zip module parses
    (and allocates for) every entry of its central directory: from the end record's count, then
    by walking the directory's entry headers (the zip module goes by the directory's size,
    whatever the count says)."""
    tail_size = min(file_size, 22 + 2**16)
    f.seek(file_size - tail_size)
    tail = f.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return  # not a zip: the zip module says so
    end = file_size - tail_size + at  # where the directory ends, as the zip module reckons it
    count, directory = struct.unpack("<HI", tail[at + 10 : at + 16])
    if at >= 20:  # a zip64 end record, which the zip module reads whenever it is there
        locator = tail[at - 20 : at]
        if locator[:4] == b"PK\x06\x07":
            (offset,) = struct.unpack("<Q", locator[8:16])
            if offset + 56 <= file_size:
                f.seek(offset)
                record = f.read(56)
                if record[:4] == b"PK\x06\x06":
                    count, directory = struct.unpack("<QQ", record[32:48])
                    end = end - 20 - 56
    too_many = ValueError(
        f"{source} is not a valid fnn file: it has more than the {MAX_MEMBERS} members a fnn "
        "file may have."
    )
    if count > MAX_MEMBERS:
        raise too_many
    if directory > MAX_DIRECTORY_BYTES:
        raise ValueError(
            f"{source} is not a valid fnn file: its zip directory has {directory} bytes, more "
            f"than the {MAX_DIRECTORY_BYTES} a fnn file's may have."
        )
    if end - directory >= 0:
        f.seek(end - directory)
        table, pos, entries = f.read(directory), 0, 0
        while pos + 46 <= len(table) and table[pos : pos + 4] == b"PK\x01\x02":
            name, extra, comment = struct.unpack("<3H", table[pos + 28 : pos + 34])
            pos += 46 + name + extra + comment
            entries += 1
            if entries > MAX_MEMBERS:
                raise too_many
    f.seek(0)


def read_archive(
    path: str | os.PathLike[str], expected: str | tuple[str, ...], *, check: Check | None = None
) -> Archive:
    """Read and validate a fnn archive of format ``expected``.

    The work is bounded whatever the file declares: only regular files are opened; every member
    must be stored (not compressed) and lie inside the file; members, JSON size and depth are
    capped (:data:`MAX_MEMBERS`, :data:`MAX_JSON_BYTES`, :data:`MAX_JSON_DEPTH`); every array's
    declared size is compared with its member and the file before anything is allocated for it;
    error messages are at most :data:`MAX_MESSAGE_CHARS` long.

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
        FileNotFoundError: there is no such file.
    """
    source = short_repr(os.fspath(path), 300)
    try:
        with _open_regular(path, source) as f:
            file_size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            _count_members(f, file_size, source)
            try:
                zf = zipfile.ZipFile(f)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
                raise ValueError(f"{source} is not a fnn file: {_sniff(head)}.") from None
            try:
                with zf:
                    return _read_open_archive(zf, expected, source, check, file_size)
            except ValueError:
                raise
            except Exception as exc:  # BadZipFile (bad CRC), EOFError, ... from a crafted file
                raise ValueError(
                    f"{source} is not a valid fnn file: damaged archive "
                    f"({type(exc).__name__}: {short_repr(str(exc), 200)})."
                ) from None
    except ValueError as exc:
        if len(str(exc)) <= MAX_MESSAGE_CHARS:
            raise
        raise ValueError(bounded(str(exc))) from None


def _read_open_archive(
    zf: zipfile.ZipFile,
    expected: str | tuple[str, ...],
    source: str,
    check: Check | None,
    file_size: int,
) -> Archive:
    names = _check_members(zf, file_size, source)
    header = _read_json(zf, "format.json", source)
    fmt, version = header.get("format"), header.get("version")
    if not isinstance(fmt, str) or fmt not in GROUPS:
        raise ValueError(f"{source} is not a fnn file: format.json names format {short_repr(fmt)}.")
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
            f"{source} has format version {short_repr(version)}; this fnn reads version "
            f"{FORMAT_VERSION} only (a newer fnn may have written it)."
        )
    config = _read_json(zf, "config.json", source)
    tables = config.get("arrays")
    if not isinstance(tables, dict):
        raise ValueError(f"{source} is not a valid fnn file: config.json has no 'arrays' table.")
    manifests = {g: check_manifest(tables.get(g, []), g, source) for g in GROUPS[fmt]}
    members = {g: [f"{g}/{i:06d}.npy" for i in range(len(m))] for g, m in manifests.items()}
    unexpected = sorted(set(names) - {"format.json", "config.json"}.union(*members.values()))
    if unexpected:
        raise ValueError(
            f"{source} is not a valid fnn file: unexpected members "
            f"[{listing([short_repr(n) for n in unexpected])}]."
        )
    _check_sizes(zf, members, manifests, file_size, source)
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
    "bounded",
    "check_fits",
    "check_manifest",
    "check_member_name",
    "describe",
    "invalid_config",
    "leaf_entries",
    "leaves",
    "listing",
    "manifest",
    "read_archive",
    "restore",
    "short_repr",
    "write_archive",
]
