"""safetensors files: a model's weights by name, readable by ``safetensors.numpy`` and others.

``save_safetensors(model, path)`` writes each array of ``model.get_weights()`` under its name
(:func:`fnn.interop.weight_names`: ``dense/kernel``, ``dense/bias``,
``batch_normalization/moving_mean``...); ``load_safetensors(model, path)`` reads them back into a
built model with the same architecture. Neither needs the ``safetensors`` package: the format is
a little-endian ``uint64`` header length, a JSON header ``{name: {"dtype", "shape",
"data_offsets"}, "__metadata__": {...}}`` and the raw bytes, so fnn reads and writes it itself,
with these rules for reading:

- only a regular file is read (not a FIFO, a device such as ``/dev/zero``, or a directory);
- the header is at most :data:`MAX_HEADER_BYTES` and must be a JSON object of the documented
  shape; the declared data must exactly fill the rest of the file, checked before any tensor
  is read, so memory never exceeds the header plus the arrays the model needs;
- the names, shapes and dtypes must be those of the model (checked before anything changes:
  a refused file leaves the model as it was); nothing in the file is ever executed.

>>> import os, tempfile, numpy as np, fnn
>>> model = fnn.Sequential([fnn.layers.Dense(2, input_shape=3)], seed=1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.safetensors")
>>> save_safetensors(model, path)
>>> other = fnn.Sequential([fnn.layers.Dense(2, input_shape=3)], seed=2)
>>> load_safetensors(other, path)
>>> all((a == b).all() for a, b in zip(other.get_weights(), model.get_weights()))
True
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import struct
import tempfile
from collections.abc import Mapping
from typing import Any

import ml_dtypes
import numpy as np

from fnn.interop.names import weight_names

#: The largest JSON header read (safetensors' own reader allows 100 MB).
MAX_HEADER_BYTES = 16 * 2**20

#: safetensors dtype names and their NumPy dtypes.
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype(ml_dtypes.bfloat16),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}


def _dtype_name(array: np.ndarray, name: str) -> str:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    try:
        return _NAMES[dtype]
    except KeyError:
        raise ValueError(
            f"Cannot write {name!r} of dtype {array.dtype} to safetensors: it holds only "
            f"{', '.join(str(d) for d in DTYPES.values())}."
        ) from None


def encode(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """The safetensors bytes of named arrays (the order of ``tensors`` is kept).

    Args:
        tensors: name -> array (anything ``np.asarray`` takes; dtypes of :data:`DTYPES`).
        metadata: optional ``__metadata__``: a mapping of strings to strings.

    Returns:
        The file's bytes.

    Raises:
        TypeError: a name or metadata entry that is not a string.
        ValueError: an unsupported dtype, or the reserved name ``__metadata__``.

    >>> import numpy as np
    >>> data = encode({"w": np.ones((2, 2), np.float32)})
    >>> decode(data)["w"].tolist()
    [[1.0, 1.0], [1.0, 1.0]]
    """
    header: dict[str, Any] = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError(f"metadata must map str to str, got {dict(metadata)!r}.")
        header["__metadata__"] = dict(metadata)
    arrays, offset = [], 0
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str, got {type(name).__name__}: {name!r}.")
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved in safetensors; rename the tensor.")
        array = np.ascontiguousarray(value)
        dtype = _dtype_name(array, name)
        array = array.astype(DTYPES[dtype], copy=False)
        header[name] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
        arrays.append(array)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the spec asks
    return b"".join([struct.pack("<Q", len(text)), text, *(a.tobytes() for a in arrays)])


def _parse_header(head: bytes, data_size: int, source: str) -> dict[str, dict[str, Any]]:
    """Validate the JSON header against a data section of ``data_size`` bytes."""

    def bad(why: str) -> ValueError:
        return ValueError(f"{source} is not a valid safetensors file: {why}.")

    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise bad(f"its header is not JSON ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise bad(f"its header is a {type(header).__name__}, not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise bad("__metadata__ is not a mapping of strings to strings")
    entries, spans = {}, []
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"the entry of {name!r} is not {{dtype, shape, data_offsets}}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if dtype not in DTYPES:
            raise bad(f"{name!r} has dtype {dtype!r}; fnn reads {', '.join(DTYPES)}")
        ok_shape = isinstance(shape, list) and all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**62 for d in shape
        )
        ok_offsets = (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1] <= data_size
        )
        if not ok_shape or not ok_offsets:
            raise bad(f"{name!r} has shape {shape!r} and data_offsets {offsets!r}")
        size = DTYPES[dtype].itemsize
        for d in shape:
            size *= d
        if size != offsets[1] - offsets[0]:
            raise bad(
                f"{name!r} declares {dtype} {tuple(shape)} ({size} bytes) but spans "
                f"{offsets[1] - offsets[0]} bytes"
            )
        entries[name] = {"dtype": DTYPES[dtype], "shape": tuple(shape), "offsets": offsets}
        spans.append(tuple(offsets))
    end = 0
    for begin, stop in sorted(spans):
        if begin != end:
            raise bad("its tensors overlap or leave holes in the data")
        end = stop
    if end != data_size:
        raise bad(f"its tensors cover {end} bytes of data, the file holds {data_size}")
    return entries


class _Reader:
    """An open, validated safetensors file: ``entries`` from the header, ``read(name)``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
        self.source = repr(os.fspath(path))
        # O_NONBLOCK: opening a FIFO must not wait for a writer before fstat can refuse it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{self.source} is not a regular file; safetensors files are.")
            self.file = os.fdopen(fd, "rb")
        except BaseException:
            os.close(fd)
            raise
        try:
            size = info.st_size
            raw = self.file.read(8)
            if len(raw) < 8:
                raise ValueError(f"{self.source} is not a safetensors file: it has {size} bytes.")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER_BYTES or n > size - 8:
                raise ValueError(
                    f"{self.source} is not a safetensors file: it declares a header of {n} bytes "
                    f"(the file has {size}; fnn reads headers up to {MAX_HEADER_BYTES})."
                )
            self.data_start = 8 + n
            self.entries = _parse_header(self.file.read(n), size - 8 - n, self.source)
        except BaseException:
            self.file.close()
            raise

    def read(self, name: str) -> np.ndarray:
        entry = self.entries[name]
        out = np.empty(entry["shape"], entry["dtype"])
        self.file.seek(self.data_start + entry["offsets"][0])
        if self.file.readinto(out.reshape(-1).view(np.uint8).data) != out.nbytes:
            raise ValueError(f"{self.source} is not a valid safetensors file: it is truncated.")
        return out

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.file.close()


def decode(data: bytes) -> dict[str, np.ndarray]:
    """The named arrays of safetensors bytes (checked as :func:`load_file` checks a file).

    Args:
        data: a safetensors file's bytes.

    Returns:
        name -> NumPy array, in the order the header lists them.

    Raises:
        ValueError: the bytes are not a valid safetensors file.
    """
    if len(data) < 8:
        raise ValueError(f"<bytes> is not a safetensors file: it has {len(data)} bytes.")
    (n,) = struct.unpack("<Q", data[:8])
    if n > min(MAX_HEADER_BYTES, len(data) - 8):
        raise ValueError(f"<bytes> is not a safetensors file: it declares a {n}-byte header.")
    entries = _parse_header(data[8 : 8 + n], len(data) - 8 - n, "<bytes>")
    body = memoryview(data)[8 + n :]
    return {
        k: np.frombuffer(body[e["offsets"][0] : e["offsets"][1]], e["dtype"])
        .reshape(e["shape"])
        .copy()
        for k, e in entries.items()
    }


def load_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Every array of a safetensors file, read safely (see the module's rules).

    Args:
        path: the file.

    Returns:
        name -> NumPy array.

    Raises:
        ValueError: the file is not a regular, valid safetensors file.
    """
    with _Reader(path) as reader:
        return {name: reader.read(name) for name in reader.entries}


def _write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync it, rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".", suffix=".tmp", delete=False) as f:
        try:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            f.close()
            os.unlink(f.name)
            raise
    try:
        os.replace(f.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        raise


def save_safetensors(
    model: Any, path: str | os.PathLike[str], metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``model``'s weights to a safetensors file (atomically: temporary file, rename).

    Args:
        model: a built :class:`fnn.models.Sequential`.
        path: the file to write (``.safetensors`` by convention).
        metadata: optional string-to-string ``__metadata__``; fnn adds ``{"format": "fnn"}``.

    Raises:
        ValueError: the model is not built.
        TypeError: ``path`` or ``metadata`` of the wrong type.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    names = weight_names(model)
    tensors = dict(zip(names, model.get_weights(), strict=True))
    _write_atomic(path, encode(tensors, {"format": "fnn", **(metadata or {})}))


def load_safetensors(model: Any, path: str | os.PathLike[str]) -> None:
    """Load a safetensors file's arrays into the built ``model``, by name.

    The file must hold exactly the model's names (:func:`fnn.interop.weight_names`) with the
    model's shapes and dtypes; otherwise a ``ValueError`` lists the differences and the model is
    unchanged.

    Args:
        model: a built :class:`fnn.models.Sequential`.
        path: a safetensors file (from :func:`save_safetensors` or any writer using those names).

    Raises:
        ValueError: the file is not a valid safetensors file, or does not fit the model.
    """
    names = weight_names(model)
    current = model.get_weights()
    with _Reader(path) as reader:
        problems = []
        missing = [n for n in names if n not in reader.entries]
        extra = [n for n in reader.entries if n not in names]
        if missing:
            problems.append(f"missing {missing}")
        if extra:
            problems.append(f"unexpected {extra}")
        for name, w in zip(names, current, strict=True):
            entry = reader.entries.get(name)
            if entry is not None and (entry["shape"], entry["dtype"]) != (w.shape, w.dtype):
                problems.append(
                    f"{name!r} is {entry['dtype']} {entry['shape']}, the model's is "
                    f"{w.dtype} {w.shape}"
                )
        if problems:
            holds = [f"{n}: {w.dtype} {w.shape}" for n, w in zip(names, current, strict=True)]
            raise ValueError(
                f"{reader.source} does not fit this model: {'; '.join(problems)}. The model "
                f"holds {holds}."
            )
        weights = [reader.read(name) for name in names]
    model.set_weights(weights)


__all__ = [
    "DTYPES",
    "MAX_HEADER_BYTES",
    "decode",
    "encode",
    "load_file",
    "load_safetensors",
    "save_safetensors",
]
