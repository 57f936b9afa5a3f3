"""Where the data of a pass lives and in which order the examples come.

The checks at the door are in :mod:`fnn.inputs`; this module takes their NumPy arrays and plans
the pass: the order of examples in an epoch, and whether the data goes to the device whole or is
streamed in chunks.

The shuffle order of epoch ``e`` is a NumPy permutation seeded by ``(seed, e)``: reproducible,
independent of how many epochs ran before, and ~50x cheaper on a CPU than
``jax.random.permutation`` (which sorts)::

    >>> from fnn.data import epoch_order
    >>> order, rest = epoch_order(10, 4, seed=0, epoch=0, shuffle=False)
    >>> order.tolist(), rest.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [8, 9])
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np


def epoch_order(
    n: int, batch_size: int, *, seed: int, epoch: int, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Example indices for one epoch: ``(order (steps, batch_size), rest (n % batch_size,))``.

    Every example is used once; the last, smaller batch is ``rest`` (empty when it divides).

    Args:
        n: the number of examples in the data set.
        batch_size: examples per step; ``steps = n // batch_size``.
        seed: the shuffle seed; with ``epoch`` it seeds NumPy's ``default_rng([seed, epoch])``.
        epoch: the epoch number (0-based): each epoch has its own order, whatever ran before.
        shuffle: permute the examples (Keras's ``fit(shuffle=True)``); False: ``0..n-1``.

    Returns:
        ``(order, rest)``: int32 indices, ``order`` of shape ``(n // batch_size, batch_size)``
        and ``rest`` of shape ``(n % batch_size,)``.
    """
    if shuffle:
        idx = np.random.default_rng([seed, epoch]).permutation(n).astype(np.int32)
    else:
        idx = np.arange(n, dtype=np.int32)
    steps = n // batch_size
    return idx[: steps * batch_size].reshape(steps, batch_size), idx[steps * batch_size :]


#: Fraction of an accelerator's memory that fit's data may occupy before it streams in chunks.
DEVICE_MEMORY_FRACTION = 0.5


def default_device_budget() -> int | None:
    """Bytes of data ``fit`` keeps on the device at most: a fraction of the accelerator's memory,
    or None (no limit) where the backend reports none (CPU: the data is in host memory anyway).

    Returns:
        ``DEVICE_MEMORY_FRACTION`` of the first local device's ``bytes_limit``, as an int; None
        when the device reports no memory limit.
    """
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
    """Put ``arrays`` on the device whole if they fit in ``max_device_bytes``, else plan chunks.

    Memory-mapped arrays (``np.memmap``, or views of one) always stream in chunks of at most
    :data:`MAPPED_CHUNK_BYTES` when no smaller budget is given: data on disk, possibly larger
    than memory, is never read whole.

    Args:
        arrays: the pass's host arrays (e.g. ``[x, y, sample_weight]``), rows first; None for an
            absent one. All present arrays have the same number of rows.
        batch_size: examples per step; a streamed chunk holds a whole number of batches.
        max_device_bytes: the most bytes of data to hold on the device at once; None: no limit
            (the data goes whole unless it is memory-mapped).
        put: moves a list of host arrays to the device (e.g. sharded over devices); None:
            ``jnp.asarray`` each.

    Returns:
        A :class:`Placement`: ``device`` set (arrays resident, ``chunk`` None), or ``chunk`` set
        (examples per streamed chunk, ``device`` None).

    Raises:
        ValueError: if ``max_device_bytes`` cannot hold even one batch of ``batch_size``
            examples.
    """
    nbytes = sum(a.nbytes for a in arrays if a is not None)
    if any(is_mapped(a) for a in arrays if a is not None):
        limit = MAPPED_CHUNK_BYTES if max_device_bytes is None else max_device_bytes
        max_device_bytes = min(limit, MAPPED_CHUNK_BYTES)
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


#: Bytes of a memory-mapped data set held in memory at once (per chunk) during a pass.
MAPPED_CHUNK_BYTES = 32 << 20


def is_mapped(a: Any) -> bool:
    """Whether ``a`` is backed by a memory map (an ``np.memmap`` or a view of one).

    Args:
        a: any object; its chain of ``.base`` objects is followed to the bottom.

    Returns:
        True when ``a`` or one of its bases is an ``np.memmap`` or an ``mmap.mmap``.
    """
    while a is not None:
        if isinstance(a, (np.memmap, mmap.mmap)):
            return True
        a = getattr(a, "base", None)
    return False


def _put(put: Any, arrays: list[np.ndarray | None]) -> tuple[Any, ...]:
    if put is not None:
        return put(arrays)
    import jax  # a transfer (jnp.asarray would compile a program per shape)

    return tuple(None if a is None else jax.device_put(a) for a in arrays)


def _gather(placement: Placement, idx: np.ndarray) -> tuple[Any, ...]:
    return _put(placement.put, [None if a is None else a[idx] for a in placement.host])


def bucket_rows(n: int, batch_size: int) -> int:
    """The number of rows ``n`` examples are padded to for an inference pass, so that passes
    over similar numbers of examples share one compiled program: whole batches, and a batch
    count of the form ``m * 2**e`` with ``m`` in 8..16 (at most ~1/8 padding, ~3% on
    average; ~8 programs per doubling of the data). Up to 16 batches are used exactly.

    Args:
        n: the number of real examples.
        batch_size: examples per step.

    Returns:
        The padded row count: a multiple of ``batch_size``, at least ``n``.

    Example:
        >>> bucket_rows(1000, 32), bucket_rows(1001, 32), bucket_rows(60000, 32)
        (1024, 1024, 61440)
    """
    steps = -(-n // batch_size)
    if steps > 16:
        e = steps.bit_length() - 4
        steps = -(-steps // (1 << e)) << e
    return steps * batch_size


def pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    """``a`` with rows appended up to ``rows`` (``a`` itself when it has them): copies of its
    first row (finite wherever the data is, so padding never brings a NaN into a masked sum),
    or zeros when ``a`` has no rows.

    Args:
        a: an array, rows first.
        rows: the number of rows wanted.

    Returns:
        An array of ``max(rows, len(a))`` rows and ``a``'s dtype: ``a``'s rows, then the padding.
    """
    if a.shape[0] >= rows:
        return a
    shape = (rows - a.shape[0], *a.shape[1:])
    pad = np.broadcast_to(a[:1], shape) if a.shape[0] else np.zeros(shape, a.dtype)
    return np.concatenate([a, pad], axis=0)


def pad_to_bucket(
    arrays: list[np.ndarray | None], batch_size: int
) -> tuple[list[np.ndarray | None], int | None]:
    """``arrays`` padded to :func:`bucket_rows` rows for an evaluation pass, with copies of
    their first row (finite wherever the data is: padding never brings a NaN into a masked
    sum), and the number of real rows. With several processes (each holding its own rows, the
    distribution pads them) and for memory-mapped data (never read whole) the arrays are left
    as they are, and the rows are None: all real.

    Args:
        arrays: the pass's ``(x, y, sample_weight or None)``, rows first.
        batch_size: examples per step.

    Returns:
        ``(padded arrays, real rows or None)``.

    Example:
        >>> import numpy as np
        >>> padded, rows = pad_to_bucket([np.arange(5.0), None], 4)
        >>> padded[0].tolist(), padded[1], rows
        ([0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0], None, 5)
    """
    import jax

    n = next(a for a in arrays if a is not None).shape[0]
    target = bucket_rows(n, batch_size)
    if jax.process_count() > 1 or any(is_mapped(a) for a in arrays):
        return arrays, None
    return [None if a is None else pad_rows(a, target) for a in arrays], n


def pad_for_training(
    arrays: list[np.ndarray | None], batch_size: int, max_device_bytes: int | None
) -> list[np.ndarray | None]:
    """A fit's arrays padded as :func:`pad_to_bucket` pads them when, padded, they still go to
    the device whole (:func:`place`); otherwise (streamed, memory-mapped, several processes) as
    they are. The padding rows are never indexed (an epoch's order covers the real rows): they
    give fits on slightly different numbers of examples one program.

    Args:
        arrays: the fit's ``(x, y, sample_weight or None)``, rows first.
        batch_size: examples per step.
        max_device_bytes: the most bytes of data to hold on the device at once; None: no limit.

    Returns:
        The arrays, padded or as they were.
    """
    nbytes = sum(a.nbytes for a in arrays if a is not None)
    if max_device_bytes is not None and nbytes * 9 // 8 > max_device_bytes:
        return arrays  # room for the padding (at most 1/8) is not there: they stream
    return pad_to_bucket(arrays, batch_size)[0]


class Piece(NamedTuple):
    """One call of an epoch's fused program: its data, the order of its steps (indices into
    ``data``), the smaller last batch (``rest``), the epoch step it starts at, whether the data
    has a leading member axis (a population's own orders, streamed), and, for a padded piece
    (one program for calls of different lengths, see :func:`epoch_pieces`), how many rows of
    ``order`` are real and how many entries of the last of them (None: all)."""

    data: tuple[Any, ...]
    order: np.ndarray
    rest: np.ndarray
    first_step: int
    members_data: bool = False
    steps: int | None = None
    last_rows: int | None = None

    @property
    def step_count(self) -> int:
        """The piece's real steps, its last smaller batch included."""
        steps = self.order.shape[0] if self.steps is None else self.steps
        return steps + (1 if self.rest.shape[0] else 0)


def _pad_rows_with_zeros(a: np.ndarray, rows: int, axis: int = 0) -> np.ndarray:
    """Index array ``a`` padded with zeros (a valid example index) to ``rows`` along ``axis``."""
    if a.shape[axis] >= rows:
        return a
    shape = list(a.shape)
    shape[axis] = rows - a.shape[axis]
    return np.concatenate([a, np.zeros(shape, a.dtype)], axis=axis)


def _rest_row(rest: np.ndarray, batch_size: int) -> np.ndarray:
    """The last batch's indices ``(r,)`` (or ``(r, N)``) as one order row ``(1, batch)`` (or
    ``(1, N, batch)``), padded with zeros."""
    padded = _pad_rows_with_zeros(rest, batch_size)
    return padded[None] if padded.ndim == 1 else padded.T[None]


def epoch_pieces(
    placement: Placement,
    order: np.ndarray,
    rest: np.ndarray,
    pieces: int = 1,
    steps_per_piece: int | None = None,
    pad_steps: bool = False,
    pad_rest: bool = False,
) -> Iterator[Piece]:
    """The calls that make up one training epoch.

    ``order`` is ``(steps, batch)`` (or ``(steps, N, batch)``: each of N members' own order;
    ``rest`` then ``(r, N)``). Resident data: the epoch's ``order`` split into calls of
    ``steps_per_piece`` steps (``steps_per_execution``), or else into about ``pieces`` calls
    (progress updates). Streamed data: one call per chunk, its examples gathered on the
    host in epoch order and sent to the device, indices made local to the chunk (with members'
    own orders, each member's chunk is gathered and the data gets a leading member axis). The
    batches, their order and the step numbers are the same either way, so streaming changes
    nothing numerically.

    Padding makes calls of different lengths one program (see
    :func:`fnn.training.make_train_loop`): with ``pad_steps`` every call's order has the same
    number of rows (resident: ``steps_per_piece``, or the piece size rounded up by
    :func:`bucket_rows`, at most ~1/8 more; streamed: the chunk's steps), the real count in
    :attr:`Piece.steps`; with ``pad_rest`` too, the smaller last batch becomes the last real row
    of its call's order, padded to ``batch`` entries, the real count in :attr:`Piece.last_rows`
    (``batch`` in the other calls), and ``rest`` is empty. The steps that run are the same
    either way.

    Args:
        placement: where the data lives, from :func:`place`.
        order: the epoch's example indices, ``(steps, batch)`` or ``(steps, N, batch)``, as
            from :func:`epoch_order`.
        rest: the indices of the smaller last batch, ``(r,)`` (or ``(r, N)``); may be empty.
        pieces: with resident data and no ``steps_per_piece``, about how many calls to split
            the epoch into (1: the whole epoch in one call).
        steps_per_piece: with resident data, steps per call (Keras's ``steps_per_execution``);
            None: use ``pieces``.
        pad_steps: pad every call's order to one length.
        pad_rest: make the smaller last batch a padded row of the order (with ``pad_steps``
            only).

    Returns:
        An iterator of :class:`Piece`, in epoch order; together they cover every step once.
    """
    steps, batch_size = order.shape[0], (order.shape[-1] if order.ndim >= 2 else 0)
    pad_rest = pad_rest and pad_steps and batch_size > 0
    extra = int(pad_rest and rest.shape[0] > 0)  # an order row for the smaller last batch
    if placement.chunk is None:
        assert placement.device is not None  # resident: no chunks, the arrays on the device
        if steps_per_piece is not None:
            size = steps_per_piece
        else:
            size = max(steps, 1) if pieces <= 1 else max(1, -(-steps // pieces))
        starts = list(range(0, steps, size)) or [0]
        # With a fixed number of steps per piece (steps_per_execution), the smaller last batch
        # is a step of its own: it joins the last piece only while that piece has room.
        alone = steps_per_piece is not None and steps and starts[-1] + size <= steps
        calls = []
        for j, start in enumerate(starts):
            last = j == len(starts) - 1 and not (alone and rest.shape[0])
            calls.append((order[start : start + size], rest if last else rest[:0], start))
        if alone and rest.shape[0]:
            calls.append((order[steps:], rest, steps))
        # Bucketed as evaluate buckets rows: steps and the last batch together, so that an
        # epoch's order and its data (see pad_to_bucket) share a bucket.
        rows = size + extra if steps_per_piece is not None else bucket_rows(size + extra, 1)
        for part, part_rest, start in calls:
            if not pad_steps:
                yield Piece(placement.device, part, part_rest, start)
                continue
            last_rows = None
            if pad_rest:
                last_rows = part_rest.shape[0] or batch_size
                if part_rest.shape[0]:
                    part = np.concatenate([part, _rest_row(part_rest, batch_size)])
                part_rest = part_rest[:0]
            yield Piece(
                placement.device,
                _pad_rows_with_zeros(part, rows),
                part_rest,
                start,
                steps=part.shape[0],
                last_rows=last_rows,
            )
        return
    members = order.ndim == 3
    per_chunk = max(placement.chunk // batch_size, 1) if batch_size else 1
    for start in range(0, max(steps, 1), per_chunk):
        last = start + per_chunk >= steps
        k = min(per_chunk, steps - start)
        block = order[start : start + k]
        chunk_rest = rest if last else rest[:0]
        idx: np.ndarray
        tail: np.ndarray
        if members:  # (k, N, batch) -> per member (N, k * batch [+ rest])
            idx = block.transpose(1, 0, 2).reshape(block.shape[1], -1)
            tail = chunk_rest.T
        else:
            idx, tail = block.reshape(-1), chunk_rest
        real, last_rows = k, None
        if pad_rest:  # the last batch as one more row of the order, padded to a whole batch
            last_rows = tail.shape[-1] or batch_size
            if tail.shape[-1]:
                idx = np.concatenate(
                    [idx, _pad_rows_with_zeros(tail, batch_size, idx.ndim - 1)], -1
                )
                real += 1
            tail = tail[..., :0]
        # Padded, every chunk has one shape: per_chunk steps (+ the last batch's row).
        kept = per_chunk + extra if pad_steps else real
        idx = _pad_rows_with_zeros(idx, kept * batch_size, axis=idx.ndim - 1)
        idx = np.concatenate([idx, tail], axis=idx.ndim - 1)
        local = np.arange(idx.shape[-1], dtype=np.int32)
        yield Piece(
            _gather(placement, idx),
            local[: kept * batch_size].reshape(kept, batch_size),
            local[kept * batch_size :],
            start,
            members,
            steps=real if pad_steps else None,
            last_rows=last_rows,
        )


def sequential_pieces(placement: Placement) -> Iterator[tuple[Any, ...]]:
    """Device data for an in-order pass (evaluate, predict): whole, or chunk by chunk.

    Args:
        placement: where the data lives, from :func:`place`.

    Returns:
        An iterator of device array tuples (None for an absent array): the resident arrays
        once, or each chunk of ``placement.chunk`` consecutive rows, in order.
    """
    if placement.chunk is None:
        assert placement.device is not None  # resident: no chunks, the arrays on the device
        yield placement.device
        return
    n = next(a for a in placement.host if a is not None).shape[0]
    for start in range(0, n, placement.chunk):
        yield _gather(placement, np.arange(start, min(start + placement.chunk, n)))
