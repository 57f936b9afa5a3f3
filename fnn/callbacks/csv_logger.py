"""CSVLogger: write each epoch's logs as a row of a CSV file."""

from __future__ import annotations

import csv
import os
from typing import Any, TextIO

from fnn.callbacks.base import Callback


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` then the logs, sorted by name) to ``filename``.

    The file is flushed after each row, so an interrupted fit keeps every finished epoch.

    Args:
        filename: the CSV file's path.
        separator: the column separator, one character (default ``","``).
        append: add to an existing file (no second header) instead of overwriting it
            (default False).

    Raises:
        TypeError: if ``filename`` is not a str or path-like.
        ValueError: if ``separator`` is not a single character.

    Example:
        >>> import os, tempfile, numpy as np, fnn
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> model = fnn.Sequential([fnn.layers.Dense(1, input_shape=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> logger = CSVLogger(path)
        >>> _ = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0, callbacks=[logger])
        >>> open(path).read().splitlines()[0]
        'epoch,loss,val_loss'
    """

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(filename, (str, os.PathLike)):
            raise TypeError(
                f"CSVLogger(filename=...) must be a path, got {type(filename).__name__}: "
                f"{filename!r}."
            )
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger(separator=...) must be one character, got {separator!r}.")
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys: list[str] | None = None
        self.writer: Any = None
        self.csv_file: TextIO | None = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        self._close()
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                # Keras's rule: reserve val_ columns (validation may run only on some epochs).
                self.keys += [f"val_{k}" for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(
                self.csv_file, fieldnames=["epoch", *self.keys], delimiter=self.sep
            )
            if self.append_header:
                self.writer.writeheader()
        row = {k: _cell(logs.get(k, "NA")) for k in self.keys}
        self.writer.writerow({"epoch": epoch, **row})
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        self._close()
        self.writer = None

    def _close(self) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()


def _cell(value: Any) -> Any:
    """A CSV cell: a population's per-member values as ``[v0, v1, ...]`` (Keras's form for
    iterables)."""
    if hasattr(value, "ndim") and value.ndim > 0:
        return "[" + ", ".join(str(v) for v in value.tolist()) + "]"
    return value
