"""Host-side input handling: checks at the door, and the order of examples in an epoch.

Everything here runs once per call on the host, before anything is compiled, so bad input gets a
clear ``ValueError``/``TypeError`` naming the argument instead of a JAX traceback.

The shuffle order of epoch ``e`` is a NumPy permutation seeded by ``(seed, e)``: reproducible,
independent of how many epochs ran before, and ~50x cheaper on a CPU than
``jax.random.permutation`` (which sorts)::

    >>> from fnn.data import epoch_order
    >>> order, rest = epoch_order(10, 4, seed=0, epoch=0, shuffle=False)
    >>> order.tolist(), rest.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [8, 9])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np


def to_numpy(value: Any, argument: str, *, dtype: Any = None) -> np.ndarray:
    """Convert array-like input to a NumPy array, refusing non-numeric data by name."""
    if value is None:
        raise ValueError(f"{argument} is required, got None.")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{argument} could not be converted to an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{argument} must hold numbers (bool, int or float), got an array of dtype {arr.dtype}."
        )
    if arr.ndim == 0:
        raise ValueError(f"{argument} must have a batch axis, got a scalar.")
    if arr.shape[0] == 0:
        raise ValueError(f"{argument} is empty (0 examples).")
    # copy=False: data already in the right dtype is used as it is (a copy of a large array
    # costs more than a fused epoch of a small model).
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def check_finite(arr: np.ndarray, argument: str) -> None:
    """Raise a ValueError naming ``argument`` and the first row holding NaN or inf."""
    if arr.dtype.kind != "f":
        return
    if np.isfinite(arr).all():  # the common case, ~20x cheaper than the per-row pass below
        return
    finite = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise ValueError(
            f"{argument} holds NaN or inf (first at row {row}); clean the data, or pass "
            "check_finite=False if that is intended."
        )


def check_lengths(**arrays: np.ndarray | None) -> int:
    """All given arrays must have the same number of examples; return it."""
    lengths = {name: a.shape[0] for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"Inputs must have the same number of examples: {described}.")
    return next(iter(lengths.values()))


def check_positive_int(value: Any, argument: str, *, minimum: int = 1) -> int:
    """``value`` must be an int ≥ ``minimum`` (a TypeError for other types, else ValueError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{argument} must be an int >= {minimum}, got {type(value).__name__}: {value!r}."
        )
    if value < minimum:
        raise ValueError(f"{argument} must be an int >= {minimum}, got {value!r}.")
    return int(value)


def check_validation_freq(value: Any) -> None:
    """Keras's ``validation_freq``: an int ≥ 1 (every n-th epoch) or a list of epochs (from 1)."""
    if isinstance(value, (list, tuple, set, range)):
        for epoch in value:
            check_positive_int(epoch, "validation_freq entries")
    else:
        check_positive_int(value, "validation_freq")


def check_sample_weight(weights: np.ndarray, argument: str = "sample_weight") -> None:
    """Per-example weights: shape (n,), finite and non-negative."""
    if weights.ndim != 1:
        raise ValueError(f"{argument} must have shape (n,), got shape {weights.shape}.")
    check_finite(weights, argument)
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        raise ValueError(
            f"{argument} must be >= 0, got {weights[negative[0]]} at row {negative[0]}."
        )


def check_class_weight(class_weight: Any, num_classes: int) -> dict[int, float]:
    """``class_weight``: a dict {class index in [0, num_classes): finite weight >= 0}."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"class_weight must be a dict {{class index: weight}}, got "
            f"{type(class_weight).__name__}."
        )
    out = {}
    for cls, w in class_weight.items():
        if isinstance(cls, bool) or not isinstance(cls, (int, np.integer)):
            raise TypeError(f"class_weight keys must be int class indices, got {cls!r}.")
        if not 0 <= cls < num_classes:
            raise ValueError(
                f"class_weight has class {cls}, outside the model's {num_classes} classes "
                f"[0, {num_classes - 1}]."
            )
        if (
            isinstance(w, bool)
            or not isinstance(w, (int, float, np.number))
            or not (np.isfinite(w) and w >= 0)
        ):
            raise ValueError(f"class_weight[{cls}] must be a finite number >= 0, got {w!r}.")
        out[int(cls)] = float(w)
    return out


def check_batch_size(batch_size: Any, argument: str = "batch_size") -> int:
    """A batch size: None means Keras's default, 32; otherwise an int >= 1."""
    return check_positive_int(32 if batch_size is None else batch_size, argument)


def epoch_order(
    n: int, batch_size: int, *, seed: int, epoch: int, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Example indices for one epoch: ``(order (steps, batch_size), rest (n % batch_size,))``.

    Every example is used once; the last, smaller batch is ``rest`` (empty when it divides).
    """
    if shuffle:
        idx = np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)
    else:
        idx = np.arange(n, dtype=np.int32)
    steps = n // batch_size
    return idx[: steps * batch_size].reshape(steps, batch_size), idx[steps * batch_size :]


def split_validation(
    arrays: list[np.ndarray | None], validation_split: float
) -> tuple[list[np.ndarray | None], list[np.ndarray | None]]:
    """Keras's ``validation_split``: the last fraction of examples, taken before shuffling."""
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be a float in [0, 1), got {validation_split!r}.")
    n = next(a for a in arrays if a is not None).shape[0]
    cut = int(n * (1.0 - validation_split))
    if cut < 1 or cut >= n:
        raise ValueError(
            f"validation_split={validation_split} leaves {cut} training and {n - cut} "
            f"validation examples out of {n}; both need at least one."
        )
    train = [None if a is None else a[:cut] for a in arrays]
    val = [None if a is None else a[cut:] for a in arrays]
    return train, val


#: Fraction of an accelerator's memory that fit's data may occupy before it streams in chunks.
DEVICE_MEMORY_FRACTION = 0.5


def default_device_budget() -> int | None:
    """Bytes of data ``fit`` keeps on the device at most: a fraction of the accelerator's memory,
    or None (no limit) where the backend reports none (CPU: the data is in host memory anyway)."""
    import jax

    stats = jax.local_devices()[0].memory_stats() or {}
    limit = stats.get("bytes_limit")
    return int(limit * DEVICE_MEMORY_FRACTION) if limit else None


class Placement(NamedTuple):
    """Where a data set lives for a pass: whole on the device, or streamed in chunks.

    ``device`` holds the arrays on the device (None when streaming); ``chunk`` is the number of
    examples per streamed chunk (a multiple of the batch size; None when resident); ``put``
    moves host arrays to the device (None: ``jnp.asarray`` each; see :mod:`fnn.distributed`).
    """

    host: list[np.ndarray | None]
    device: tuple[Any, ...] | None
    chunk: int | None
    put: Callable[[list[np.ndarray | None]], tuple[Any, ...]] | None = None


def place(
    arrays: list[np.ndarray | None],
    batch_size: int,
    max_device_bytes: int | None,
    put: Callable[[list[np.ndarray | None]], tuple[Any, ...]] | None = None,
) -> Placement:
    """Put ``arrays`` on the device whole if they fit in ``max_device_bytes``, else plan chunks."""
    nbytes = sum(a.nbytes for a in arrays if a is not None)
    if max_device_bytes is None or nbytes <= max_device_bytes:
        return Placement(arrays, _put(put, arrays), None, put)
    n = next(a for a in arrays if a is not None).shape[0]
    chunk = int(max_device_bytes // (nbytes / n)) // batch_size * batch_size
    if chunk < batch_size:
        raise ValueError(
            f"max_device_bytes={max_device_bytes} cannot hold one batch of {batch_size} examples "
            f"({nbytes / n * batch_size:.0f} bytes); raise it or lower batch_size."
        )
    return Placement(arrays, None, chunk, put)


def _put(put: Any, arrays: list[np.ndarray | None]) -> tuple[Any, ...]:
    if put is not None:
        return put(arrays)
    import jax.numpy as jnp

    return tuple(None if a is None else jnp.asarray(a) for a in arrays)


def _gather(placement: Placement, idx: np.ndarray) -> tuple[Any, ...]:
    return _put(placement.put, [None if a is None else a[idx] for a in placement.host])


def epoch_pieces(
    placement: Placement,
    order: np.ndarray,
    rest: np.ndarray,
    pieces: int = 1,
) -> Iterator[tuple[tuple[Any, ...], np.ndarray, np.ndarray, int]]:
    """The calls that make up one training epoch: ``(data, order, rest, first_step)`` each.

    Resident data: the epoch's ``order`` split into about ``pieces`` calls (progress updates).
    Streamed data: one call per chunk, its examples gathered on the host in epoch order and sent
    to the device, indices made local to the chunk. The batches, their order and the step
    numbers are the same either way, so streaming changes nothing numerically.
    """
    steps, batch_size = order.shape[0], (order.shape[1] if order.ndim == 2 else 0)
    if placement.chunk is None:
        size = max(steps, 1) if pieces <= 1 else max(1, -(-steps // pieces))
        starts = list(range(0, steps, size)) or [0]
        for j, start in enumerate(starts):
            last = j == len(starts) - 1
            yield placement.device, order[start : start + size], rest if last else rest[:0], start
        return
    ordered = order.reshape(-1)
    per_chunk = max(placement.chunk // batch_size, 1) if batch_size else 1
    for start in range(0, max(steps, 1), per_chunk):
        last = start + per_chunk >= steps
        idx = ordered[start * batch_size : (start + per_chunk) * batch_size]
        if last:
            idx = np.concatenate([idx, rest])
        local = np.arange(len(idx), dtype=np.int32)
        k = min(per_chunk, steps - start)
        yield (
            _gather(placement, idx),
            local[: k * batch_size].reshape(k, batch_size),
            local[k * batch_size :],
            start,
        )


def sequential_pieces(placement: Placement) -> Iterator[tuple[Any, ...]]:
    """Device data for an in-order pass (evaluate, predict): whole, or chunk by chunk."""
    if placement.chunk is None:
        yield placement.device
        return
    n = next(a for a in placement.host if a is not None).shape[0]
    for start in range(0, n, placement.chunk):
        yield _gather(placement, np.arange(start, min(start + placement.chunk, n)))
