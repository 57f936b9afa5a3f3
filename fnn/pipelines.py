"""Data pipelines: batches from generators, sequences, Grain and PyTorch, grouped into chunks.

``fit``/``evaluate``/``predict`` take arrays (the fast path, see :mod:`fnn.data`) or a
*pipeline*: anything that hands out batches. This module is the data side of a pipeline pass:

- :func:`is_pipeline` / :func:`check_source` tell a pipeline from array data without ever calling
  ``np.asarray`` on it (a ``__getitem__`` that never raises ``IndexError`` must not hang).
- :class:`Source` pulls one epoch of batches as NumPy ``(x, y, sample_weight)`` tuples, checks
  every batch against the first one, and follows Keras's rules for ``steps_per_epoch`` and for
  running out of data.
- :func:`chunks` stacks consecutive batches into chunks of ``k`` steps, one compiled call each;
  :func:`choose_steps_per_chunk` picks ``k`` from measured costs.
- :class:`Prefetcher` moves chunks to the device on a background thread while the previous chunk
  trains (double-buffering).

Accepted sources (Keras's conventions):

- an iterator or generator, or any iterable that is not array data (a list of batch tuples,
  ``grain.IterDataset``, ``grain.DataLoader``, ``torch.utils.data.DataLoader``);
- a sequence in Keras's ``PyDataset`` protocol: ``__len__`` and ``__getitem__(i) -> batch``, with
  ``on_epoch_end()`` called after every epoch when it has one (``grain.MapDataset`` is one).

A batch is ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a tuple or list), each part
a NumPy array, a JAX array, a PyTorch tensor (converted with ``.numpy()``: no copy for a CPU
tensor), or anything with ``__array__``. Dicts are not accepted as batches (map Grain records to
tuples, e.g. ``.map(lambda r: (r["image"], r["label"]))``).

    >>> import numpy as np
    >>> from fnn.pipelines import Source, chunks
    >>> def gen():
    ...     for i in range(5):
    ...         yield np.full((2, 3), i, np.float32), np.full((2,), i, np.int32)
    >>> source = Source(gen())
    >>> [(c.steps, c.rest, c.first_batch) for c in chunks(source.batches(0), 2)]
    [(2, 0, 0), (2, 0, 2), (1, 0, 4)]
    >>> source.spec.batch_size, source.spec.x
    (2, ((3,), dtype('float32')))
"""

from __future__ import annotations

import math
import queue
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from numbers import Number
from typing import Any, NamedTuple

import numpy as np

#: One batch on the host: ``(x, y, sample_weight)``; ``y`` is None for predict, ``sample_weight``
#: None when the source gives none.
Batch = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]

ACCEPTED = (
    "NumPy or JAX arrays (np.memmap included), or a pipeline of batches: a generator or "
    "iterator, an iterable of (x, y[, sample_weight]) tuples, a sequence with __len__ and "
    "__getitem__ (Keras's PyDataset protocol), a grain MapDataset / IterDataset / DataLoader, "
    "or a torch.utils.data.DataLoader"
)

RAN_OUT_MESSAGE = (
    "Your input ran out of data; interrupting training. Make sure that your dataset or "
    "generator can generate at least `steps_per_epoch * epochs` batches. You may need to use "
    "the `.repeat()` function when building your dataset."
)


def _is_array(value: Any) -> bool:
    """Array data by type alone: NumPy/JAX arrays, objects with ``__array__`` (pandas, torch
    tensors), and Python numbers. Nothing is converted."""
    return isinstance(value, (np.ndarray, np.generic, Number)) or hasattr(value, "__array__")


def _is_batch_list(value: list | tuple) -> bool:
    """A list/tuple whose first element is a batch tuple holding an array with a batch axis
    (``[(x0, y0), (x1, y1)]``), as opposed to nested numbers or a tuple of arrays."""
    if not value or not isinstance(value[0], (list, tuple)):
        return False
    return any(getattr(part, "ndim", 0) >= 1 for part in value[0])


def is_pipeline(value: Any) -> bool:
    """Whether ``value`` is a pipeline of batches rather than array data.

    True for generators and iterators, iterables that are not arrays (a list of batch tuples, a
    Grain ``IterDataset`` or ``DataLoader``, a PyTorch ``DataLoader``) and ``PyDataset``-style
    sequences (``__len__`` + ``__getitem__``; a Grain ``MapDataset``). False for NumPy arrays
    (``np.memmap`` included), JAX arrays, objects with ``__array__`` (pandas), numbers, lists or
    tuples of numbers or of arrays, strings, dicts, and None. Decided from the type and at most
    the first element of a list; nothing is converted or iterated.

    Args:
        value: what the user passed as ``x`` (or ``validation_data``).

    Returns:
        True when ``value`` should be read batch by batch with :class:`Source`.

    Example:
        >>> import numpy as np
        >>> is_pipeline(np.zeros((4, 2))), is_pipeline([[1.0, 2.0]]), is_pipeline(None)
        (False, False, False)
        >>> is_pipeline(iter([])), is_pipeline([(np.zeros((2, 1)), np.zeros(2))])
        (True, True)
    """
    if value is None or _is_array(value) or isinstance(value, (str, bytes, Mapping)):
        return False
    if isinstance(value, (list, tuple)):
        return _is_batch_list(value)
    if isinstance(value, (set, frozenset)):
        return False
    if hasattr(value, "__next__"):
        return True
    has_len = hasattr(value, "__len__")
    if has_len and hasattr(value, "__getitem__"):
        return True
    return hasattr(value, "__iter__")


def check_source(value: Any, argument: str = "x") -> bool:
    """Say whether ``value`` is a pipeline (True) or array data (False); refuse anything else.

    Args:
        value: the user's input.
        argument: its name in messages (``"x"``, ``"validation_data"``).

    Returns:
        True for a pipeline (read it with :class:`Source`), False for array data (lists and
        tuples included; :func:`fnn.data.to_numpy` checks them further).

    Raises:
        TypeError: ``value`` is neither array data nor a pipeline (a set, a dict, an object
            with neither ``__iter__`` nor ``__array__``), with what is accepted.

    Example:
        >>> check_source(object(), "x")
        Traceback (most recent call last):
        ...
        TypeError: x must be NumPy or JAX arrays ... got object.
    """
    if is_pipeline(value):
        return True
    if value is None or _is_array(value) or isinstance(value, (list, tuple, str, bytes)):
        return False
    raise TypeError(f"{argument} must be {ACCEPTED}; got {type(value).__name__}.")


class Spec(NamedTuple):
    """What every batch of a source must look like, taken from its first batch.

    ``batch_size`` is the full batch size: the first batch's, or the second's when that one is
    larger (the first was a short last batch); ``x``, ``y`` and ``w`` are
    ``(trailing shape, dtype)`` of each part, or None for a part the source does not give.
    """

    batch_size: int
    x: tuple[tuple[int, ...], np.dtype]
    y: tuple[tuple[int, ...], np.dtype] | None
    w: tuple[tuple[int, ...], np.dtype] | None


_PART_NAMES = ("x", "y", "sample_weight")


def _part_spec(part: np.ndarray | None) -> tuple[tuple[int, ...], np.dtype] | None:
    """A batch part's ``(trailing shape, dtype)``, or None for a part that is not given."""
    return None if part is None else (part.shape[1:], part.dtype)


def _part_to_numpy(value: Any, part: str, where: str) -> np.ndarray:
    """One batch part as a numeric NumPy array with a batch axis, or a TypeError/ValueError."""
    module = type(value).__module__
    if module.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()  # a view of a CPU tensor's memory: no copy
    elif not (_is_array(value) or isinstance(value, (list, tuple))):
        raise TypeError(
            f"{where}: {part} must be an array (NumPy, JAX, PyTorch), got {type(value).__name__}."
        )
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{where}: {part} could not be converted to an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{where}: {part} must hold numbers (bool, int or float), got an array of dtype "
            f"{arr.dtype}."
        )
    if arr.ndim == 0:
        raise ValueError(f"{where}: {part} must have a batch axis, got a scalar.")
    return arr


def _split(batch: Any, with_targets: bool, where: str) -> tuple[Any, Any, Any]:
    """``x`` / ``(x,)`` / ``(x, y)`` / ``(x, y, w)`` -> ``(x, y, w)`` (absent parts None)."""
    if isinstance(batch, Mapping):
        raise TypeError(
            f"{where}: a batch must be x or a tuple (x, y[, sample_weight]), got a dict with keys "
            f"{sorted(map(str, batch))}; map it to a tuple first."
        )
    parts = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not 1 <= len(parts) <= 3:
        raise ValueError(
            f"{where}: a batch must be x or a tuple (x, y[, sample_weight]), got a "
            f"{type(batch).__name__} of {len(parts)} elements."
        )
    if not with_targets:
        return parts[0], None, None
    if len(parts) == 1 or parts[1] is None:
        raise ValueError(
            f"{where}: a batch for training or evaluation must be (x, y) or "
            f"(x, y, sample_weight), got x alone."
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _describe(part: tuple[tuple[int, ...], np.dtype] | None) -> str:
    return "none" if part is None else f"shape (batch, {', '.join(map(str, part[0]))}) {part[1]}"


def _check(batch: Batch, spec: Spec, where: str) -> None:
    """``batch`` agrees with ``spec``: same parts, trailing shapes and dtypes, size <= spec's."""
    sizes = {name: a.shape[0] for name, a in zip(_PART_NAMES, batch, strict=True) if a is not None}
    if len(set(sizes.values())) > 1:
        described = ", ".join(f"{name} has {n}" for name, n in sizes.items())
        raise ValueError(f"{where}: x, y and sample_weight must have the same size: {described}.")
    for name, arr, expected in zip(_PART_NAMES, batch, spec[1:], strict=True):
        got = None if arr is None else (arr.shape[1:], arr.dtype)
        if got != expected:
            raise ValueError(
                f"{where}: {name} has {_describe(got)}, expected {_describe(expected)} like the "
                f"first batch."
            )
    if sizes["x"] > spec.batch_size:
        raise ValueError(
            f"{where}: it has {sizes['x']} examples, more than the first batches' "
            f"{spec.batch_size}; only the last batch may differ, and only by being smaller."
        )
    if sizes["x"] == 0:
        raise ValueError(f"{where}: it is empty (0 examples).")


class Source:
    """One pipeline, read epoch by epoch as checked NumPy batches.

    Sequences (``__len__`` + ``__getitem__``; lists of batches and Grain ``MapDataset`` too) are
    read by index, ``len()`` batches an epoch, in an order shuffled per epoch from
    ``(seed, epoch)`` when ``shuffle``; with ``steps`` an epoch takes the next ``steps`` batches,
    wrapping into a new pass (see :meth:`batch_order`), so a sequence never runs out;
    ``on_epoch_end()`` is called after each epoch.

    Iterables follow Keras: with ``steps=None`` an epoch runs until the iterable is exhausted
    (a re-iterable one, e.g. a DataLoader, is iterated afresh each epoch); with ``steps=k`` an
    epoch takes ``k`` batches and the next epoch continues the same iterator (restarting a
    re-iterable one exactly when it ended at an epoch boundary). A source that runs out before
    ``steps`` batches (or a one-shot generator asked for a second epoch) warns with Keras's
    message and sets :attr:`ran_out`; the batches it did give are yielded, and the engine stops
    training after them.

    Every batch is converted to NumPy and checked against the first one (see :attr:`spec`)
    before it is yielded, so bad data raises here, naming the batch index, before anything
    reaches JAX.

    Args:
        data: the pipeline (see :func:`is_pipeline`).
        argument: its name in messages (``"x"``, ``"validation_data"``).
        steps: batches per epoch: Keras's ``steps_per_epoch`` / ``validation_steps`` / ``steps``;
            None: all of them (a sequence's ``len()``, an iterable until exhausted).
        shuffle: shuffle a sequence's batch order per epoch (ignored for iterables, which
            shuffle themselves, as in Keras).
        seed: seed of that order: epoch ``e`` uses ``np.random.default_rng([seed, e])``, like
            :func:`fnn.data.epoch_order`.
        with_targets: False for predict: batches may be ``x``, ``(x,)`` or ``(x, y[, w])`` and
            only ``x`` is kept.

    Raises:
        TypeError: ``data`` is not a pipeline, or ``shuffle`` / ``with_targets`` not bools.
        ValueError: ``steps`` is not an int >= 1, or a sequence is empty.

    Example:
        >>> import numpy as np
        >>> class Batches:  # Keras's PyDataset protocol
        ...     def __len__(self):
        ...         return 3
        ...     def __getitem__(self, i):
        ...         return np.full((2, 1), i, np.float32), np.full((2,), i)
        >>> source = Source(Batches(), shuffle=True, seed=2)
        >>> [[int(x[0, 0]) for x, y, w in source.batches(epoch)] for epoch in (0, 1)]
        [[2, 0, 1], [0, 2, 1]]
    """

    def __init__(
        self,
        data: Any,
        *,
        argument: str = "x",
        steps: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        with_targets: bool = True,
    ) -> None:
        if not check_source(data, argument):
            raise TypeError(
                f"{argument} is array data ({type(data).__name__}), not a pipeline; pass arrays "
                "to the array path instead."
            )
        for name, flag in (("shuffle", shuffle), ("with_targets", with_targets)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}: {flag!r}.")
        if steps is not None:
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
                raise TypeError(
                    f"steps for {argument} must be an int >= 1 or None, got "
                    f"{type(steps).__name__}: {steps!r}."
                )
            if steps < 1:
                raise ValueError(f"steps for {argument} must be an int >= 1 or None, got {steps}.")
            steps = int(steps)
        self.data = data
        self.argument = argument
        self.steps = steps
        self.shuffle = shuffle
        self.seed = seed
        self.with_targets = with_targets
        #: Shapes and dtypes every batch must have; None until the first batch is read.
        self.spec: Spec | None = None
        #: True once the source ran out of data before the steps asked of it (Keras stops).
        self.ran_out = False
        #: A one-shot iterator or generator: every epoch continues it, it is never restarted.
        self.one_shot = hasattr(data, "__next__")
        self.is_sequence = (
            not self.one_shot and hasattr(data, "__len__") and hasattr(data, "__getitem__")
        )
        self._iterator: Iterator[Any] | None = data if self.one_shot else None
        self._seen = 0  # batches read so far, all epochs
        if self.is_sequence:
            n = len(data)
            if n < 1:
                raise ValueError(f"{argument} is an empty sequence (len() is 0).")

    # -- converting and checking -------------------------------------------------------------

    def _convert(self, raw: Any, index: int) -> Batch:
        where = f"{self.argument}: batch {index}"
        parts = _split(raw, self.with_targets, where)
        batch: Batch = tuple(  # type: ignore[assignment]
            None if part is None else _part_to_numpy(part, name, where)
            for name, part in zip(_PART_NAMES, parts, strict=True)
        )
        size = batch[0].shape[0]
        if self.spec is None:
            x, y, w = batch
            self.spec = Spec(size, (x.shape[1:], x.dtype), _part_spec(y), _part_spec(w))
        elif self._seen == 1 and size > self.spec.batch_size:
            # The first batch was a short one (a resumed iterator, a shuffled sequence's last
            # batch): the full size is this one's.
            self.spec = self.spec._replace(batch_size=size)
        _check(batch, self.spec, where)
        self._seen += 1
        return batch

    # -- resuming --------------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any] | None:
        """What a checkpoint must hold to resume reading where this source is, between epochs.

        Returns:
            ``{}`` when the epoch number is enough (a sequence, or an iterable re-iterated each
            epoch because ``steps`` is None); ``{"iterator": ...}`` with the iterator's own
            state when it continues across epochs and can save it (Grain's dataset and
            DataLoader iterators: ``get_state()``); None when it cannot be resumed exactly
            (a plain generator: a resumed fit reads on from wherever the new generator starts).

        Example:
            >>> import grain, numpy as np
            >>> data = grain.MapDataset.source(np.ones((6, 1))).batch(2).repeat(None)
            >>> source = Source(data.to_iter_dataset(), steps=2, with_targets=False)
            >>> _ = list(source.batches(0))
            >>> source.get_state()
            {'iterator': {'next_index': 2}}
        """
        if self.is_sequence or (self.steps is None and not self.one_shot):
            return {}
        get = getattr(self._iterator, "get_state", None)
        if self._iterator is None or not callable(get):
            return {} if self._iterator is None and not self.one_shot else None
        return {"iterator": get()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`get_state`'s result (on a new Source over the same data).

        Args:
            state: a dict from :meth:`get_state`.

        Raises:
            TypeError: ``state`` is not a dict.
            ValueError: it holds an iterator state but this source's iterator cannot take one.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict from get_state(), got {type(state).__name__}.")
        if "iterator" not in state:
            return
        if self._iterator is None and not self.one_shot:
            self._iterator = iter(self.data)
        setter = getattr(self._iterator, "set_state", None)
        if not callable(setter):
            raise ValueError(
                f"{self.argument}'s iterator ({type(self._iterator).__name__}) has no set_state(); "
                "it cannot resume from a saved iterator state."
            )
        setter(state["iterator"])

    # -- epochs --------------------------------------------------------------------------------

    def _pass_order(self, n: int, index: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, index]).permutation(n)

    def batch_order(self, epoch: int) -> np.ndarray:
        """A sequence's batch indices for ``epoch``.

        Pass ``p`` over the sequence reads its batches in order, or shuffled from
        ``(seed, p)``. With ``steps=None`` epoch ``e`` is pass ``e``; with ``steps=k`` epoch
        ``e`` takes the batches at positions ``[e * k, (e + 1) * k)`` of the passes laid end to
        end (Keras continues the iterator across epochs; this is the same, computed from the
        epoch number alone, so a resumed fit reads what an uninterrupted one would).

        Args:
            epoch: the epoch number, from 0.

        Returns:
            The batch indices, an int array.

        Example:
            >>> s = Source([(np.ones((1, 1)), np.ones(1))] * 3, steps=2)
            >>> [s.batch_order(e).tolist() for e in range(3)]
            [[0, 1], [2, 0], [1, 2]]
        """
        n = len(self.data)
        if self.steps is None:
            return self._pass_order(n, epoch)
        start = epoch * self.steps
        passes = range(start // n, (start + self.steps - 1) // n + 1)
        joined = np.concatenate([self._pass_order(n, p) for p in passes])
        offset = start - passes[0] * n
        return joined[offset : offset + self.steps]

    def batches(self, epoch: int) -> Iterator[Batch]:
        """The checked NumPy batches of one epoch, as ``(x, y, sample_weight)`` tuples.

        Args:
            epoch: the epoch number (from 0); it seeds a sequence's shuffled order.

        Yields:
            ``(x, y, sample_weight)``: NumPy arrays, ``y`` None for predict, ``sample_weight``
            None when the source gives none.

        Raises:
            TypeError: a batch holds non-numeric data or is not an array/tuple (the batch index
                is named).
            ValueError: a batch's shapes, dtypes or parts differ from the first batch's, it is
                larger than the first, or its x/y/sample_weight sizes disagree.
        """
        if self.is_sequence:
            yield from self._sequence_batches(epoch)
        else:
            yield from self._iterable_batches()

    def _sequence_batches(self, epoch: int) -> Iterator[Batch]:
        order = self.batch_order(epoch)
        held: dict[int, Any] = {}
        if self.spec is None and len(order) and order[0] != 0:
            # The spec comes from a full batch: with a shuffled order the short last batch may
            # come first. Batch 0 is kept for its turn in this epoch (read once).
            held[0] = self.data[0]
            self._convert(held[0], 0)
        for i in order:
            raw = held.pop(int(i)) if int(i) in held else self.data[int(i)]
            yield self._convert(raw, int(i))
        on_epoch_end = getattr(self.data, "on_epoch_end", None)
        if callable(on_epoch_end):
            on_epoch_end()

    def _iterable_batches(self) -> Iterator[Batch]:
        if self.ran_out:
            return
        fresh = self._iterator is None or self.steps is None
        if fresh and not self.one_shot:
            self._iterator = iter(self.data)
        taken = 0
        while self.steps is None or taken < self.steps:
            try:
                raw = next(self._iterator)  # type: ignore[arg-type]
            except StopIteration:
                if taken == 0 and not fresh and not self.one_shot:
                    # A re-iterable source ended exactly at the last epoch's end: restart it.
                    self._iterator, fresh = iter(self.data), True
                    continue
                if self.steps is not None or taken == 0:
                    self.ran_out = True
                    warnings.warn(RAN_OUT_MESSAGE, UserWarning, stacklevel=2)
                return
            yield self._convert(raw, taken)
            taken += 1


class Chunk(NamedTuple):
    """Consecutive batches of an epoch stacked for one compiled call.

    ``arrays`` is ``(x, y, sample_weight)``, each the concatenation of the chunk's batches along
    axis 0 (None for an absent part): first ``steps`` full batches of ``batch_size`` examples,
    then ``rest`` examples of a trailing smaller batch (0: none). ``first_batch`` is the index
    of the chunk's first batch in the epoch. ``batch_size`` is the source's full batch size (a
    chunk of a short batch alone has ``steps == 0``).
    """

    arrays: tuple[Any, Any, Any]
    steps: int
    rest: int
    first_batch: int
    batch_size: int


def _stack(batches: list[Batch]) -> tuple[Any, Any, Any]:
    return tuple(  # type: ignore[return-value]
        None if parts[0] is None else np.concatenate(parts) if len(parts) > 1 else parts[0]
        for parts in zip(*batches, strict=True)
    )


def chunks(
    batches: Iterator[Batch], steps_per_chunk: int, batch_size: int | None = None
) -> Iterator[Chunk]:
    """Group an epoch's batches into chunks of up to ``steps_per_chunk`` full-size batches.

    A batch smaller than the full size ends its chunk as the chunk's ``rest`` (it may come
    mid-epoch: a shuffled sequence's short last batch), also a chunk that already has
    ``steps_per_chunk`` steps (a chunk is emitted when the batch after it arrives); the last
    chunk may have fewer steps.
    So an epoch compiles at most the programs for ``steps_per_chunk`` steps, for the last
    chunk's steps, and each of those with a rest.

    Args:
        batches: ``(x, y, sample_weight)`` batches, e.g. :meth:`Source.batches`.
        steps_per_chunk: most full batches in one chunk (see :func:`choose_steps_per_chunk`).
        batch_size: the full batch size; None: the largest seen so far (the first batch's,
            unless that one was short; a short batch seen before any full one becomes a chunk
            of its own with ``steps == 0``).

    Yields:
        :class:`Chunk` s, in epoch order.

    Raises:
        ValueError: ``steps_per_chunk`` is not an int >= 1.

    Example:
        >>> import numpy as np
        >>> sizes = [4, 4, 4, 2, 4, 4]
        >>> batches = ((np.zeros((n, 1)), np.zeros(n), None) for n in sizes)
        >>> [(c.steps, c.rest, c.first_batch) for c in chunks(batches, 2)]
        [(2, 0, 0), (1, 2, 2), (2, 0, 4)]
    """
    if (
        isinstance(steps_per_chunk, bool)
        or not isinstance(steps_per_chunk, (int, np.integer))
        or steps_per_chunk < 1
    ):
        raise ValueError(f"steps_per_chunk must be an int >= 1, got {steps_per_chunk!r}.")
    full = batch_size
    pending: list[Batch] = []
    first = 0  # index of pending[0] in the epoch
    for index, batch in enumerate(batches):
        n = batch[0].shape[0]
        if full is None or n > full:
            # Everything pending was smaller than this batch: each becomes a rest-only chunk.
            for j, short in enumerate(pending):
                yield Chunk(_stack([short]), 0, short[0].shape[0], first + j, n)
            pending, first, full = [], index, n
        if n == full:
            # A full chunk waits for the next batch: a short one joins it as its rest.
            if len(pending) == steps_per_chunk:
                yield Chunk(_stack(pending), len(pending), 0, first, full)
                pending, first = [], index
            pending.append(batch)
        else:
            yield Chunk(_stack([*pending, batch]), len(pending), n, first, full)
            pending, first = [], index + 1
    if pending:
        yield Chunk(_stack(pending), len(pending), 0, first, full)  # type: ignore[arg-type]


# Costs measured on the development machine (2-core AMD EPYC, JAX 0.10.2 on CPU, 2026-11-21) with
# best-of-5 timing loops: the dispatch of a jitted call (~6 µs with two tiny arguments, ~60-140
# µs for a train-state pytree of ~30 leaves: params, Adam moments, counters), and
# ``jax.device_put`` of a NumPy array (~40 µs fixed latency, then ~5.8 GB/s: 1 KiB 38 µs,
# 64 KiB 42 µs, 1 MiB 200 µs, 16 MiB 2.9 ms).
#: Fixed host cost of one chunk: one call's dispatch plus three ``device_put`` latencies (s).
CHUNK_OVERHEAD_SECONDS = 100e-6 + 3 * 40e-6
#: Step time assumed when none is given: the seed MLP (10-32-64-10, batch 32, Adam) on CPU,
#: ~19 µs; most models are slower, which only makes the overhead a smaller fraction.
DEFAULT_STEP_SECONDS = 19e-6
#: Bytes of host-to-device bandwidth measured (``jax.device_put``, CPU backend).
PUT_BYTES_PER_SECOND = 5.8e9


def choose_steps_per_chunk(
    batch_bytes: int,
    *,
    step_seconds: float | None = None,
    overhead_seconds: float = CHUNK_OVERHEAD_SECONDS,
    overhead_fraction: float = 0.05,
    max_chunk_bytes: int = 64 << 20,
    max_steps: int | None = None,
) -> int:
    """Steps per chunk ``k``: enough that the per-chunk overhead is a small part of the chunk.

    Rule: ``k = ceil(overhead_seconds / (overhead_fraction * step_seconds))`` so the fixed cost
    of a chunk (dispatching its compiled call and starting its transfers: ~220 µs measured on a
    2-core CPU, see ``CHUNK_OVERHEAD_SECONDS``) is at most 5% of its compute; then bounded by
    ``max_chunk_bytes`` (a chunk is transferred while the previous one trains, and the
    :class:`Prefetcher` holds ``depth`` more: about ``depth + 2`` chunks live at once) and by
    ``max_steps`` (e.g. the epoch's steps, or a tenth of them for progress updates). Transfer
    bandwidth (~5.8 GB/s for ``device_put`` on CPU) does not change ``k``: the transfer of a
    chunk and its compute both grow with ``k``, so a pipeline whose batches take longer to move
    than to train is transfer-bound at any ``k``; double-buffering hides the transfer otherwise.
    On the seed workload (batch 32 of 10 floats + an int label, ~1.4 KB) ``k`` = 232, ~0.3 MB.

    Args:
        batch_bytes: bytes of one batch (x, y and sample_weight together).
        step_seconds: measured (or estimated) time of one training step; None: the seed MLP's
            19 µs on CPU, a lower bound for most models (so ``k`` errs large).
        overhead_seconds: fixed host cost of one chunk.
        overhead_fraction: the largest fraction of a chunk's time the overhead may take.
        max_chunk_bytes: most bytes in one chunk.
        max_steps: most steps in one chunk (None: no bound).

    Returns:
        ``k >= 1``.

    Raises:
        ValueError: a non-positive ``batch_bytes``, ``step_seconds``, ``overhead_fraction`` or
            ``max_chunk_bytes``, or ``max_steps`` < 1.

    Example:
        >>> choose_steps_per_chunk(1408)
        232
        >>> choose_steps_per_chunk(1 << 20, max_chunk_bytes=16 << 20)
        16
        >>> choose_steps_per_chunk(1408, max_steps=100)
        100
    """
    step = DEFAULT_STEP_SECONDS if step_seconds is None else step_seconds
    for name, value in (
        ("batch_bytes", batch_bytes),
        ("step_seconds", step),
        ("overhead_fraction", overhead_fraction),
        ("max_chunk_bytes", max_chunk_bytes),
    ):
        if isinstance(value, bool) or not isinstance(value, Number) or not value > 0:
            raise ValueError(f"{name} must be a number > 0, got {value!r}.")
    if overhead_seconds < 0:
        raise ValueError(f"overhead_seconds must be >= 0, got {overhead_seconds!r}.")
    if max_steps is not None and (isinstance(max_steps, bool) or max_steps < 1):
        raise ValueError(f"max_steps must be an int >= 1 or None, got {max_steps!r}.")
    k = max(1, math.ceil(overhead_seconds / (overhead_fraction * step) - 1e-9))
    k = min(k, max(1, int(max_chunk_bytes // batch_bytes)))
    return min(k, int(max_steps)) if max_steps is not None else k


_END = object()


class Prefetcher:
    """Chunks moved to the device on a background thread, ``depth`` ahead of the consumer.

    The thread pulls a chunk, applies ``put`` to its arrays (host to device, e.g.
    ``jax.device_put``, which returns at once) and queues it; it starts a new chunk only while
    fewer than ``depth`` are waiting, so at most ``depth`` chunks are ever ahead of the one being
    consumed. An exception in the thread (a bad batch, a failing ``put``) is raised in the
    consumer when it reaches that chunk; the chunks before it are consumed normally (steps
    already trained stay trained, as in Keras). :meth:`close` (also on leaving a ``with``
    block, on an exception or KeyboardInterrupt in the consumer, or after the last chunk) stops
    the thread and joins it.

    Args:
        chunks: the chunks to move, e.g. :func:`chunks`.
        put: maps a chunk's ``arrays`` to their device copies.
        depth: chunks prepared ahead (2: double-buffering with one spare).

    Raises:
        ValueError: ``depth`` is not an int >= 1.

    Example:
        >>> import numpy as np
        >>> batches = ((np.ones((2, 1)), np.ones(2), None) for _ in range(3))
        >>> with Prefetcher(chunks(batches, 2), put=lambda arrays: arrays) as ready:
        ...     [c.steps for c in ready]
        [2, 1]
    """

    def __init__(
        self, chunks: Iterator[Chunk], put: Callable[[tuple], tuple], depth: int = 2
    ) -> None:
        if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
            raise ValueError(f"depth must be an int >= 1, got {depth!r}.")
        self._chunks = chunks
        self._put = put
        self._queue: queue.Queue[Any] = queue.Queue()
        self._slots = threading.Semaphore(int(depth))
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._work, name="fnn-prefetch", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            while True:
                while not self._slots.acquire(timeout=0.05):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                chunk = next(self._chunks, None)
                if chunk is None:
                    self._queue.put((_END, None))
                    return
                self._queue.put((chunk._replace(arrays=self._put(chunk.arrays)), None))
        except BaseException as exc:  # re-raised in the consumer
            self._queue.put((None, exc))

    def __iter__(self) -> Prefetcher:
        return self

    def __next__(self) -> Chunk:
        if self._done:
            raise StopIteration
        try:
            item, error = self._queue.get()
        except BaseException:
            self.close()
            raise
        if error is not None:
            self.close()
            raise error
        if item is _END:
            self.close()
            raise StopIteration
        self._slots.release()
        return item

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop the thread and wait for it.

        The thread stops at once when it waits for a free slot; when it is preparing a chunk
        it finishes that one first (a source that blocks for longer than ``timeout`` seconds
        is left to the daemon thread, with a warning).

        Args:
            timeout: seconds to wait for the thread; None: as long as it takes.
        """
        self._done = True
        self._stop.set()
        self._slots.release()  # wake the thread if it waits for a slot
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                warnings.warn(
                    f"the prefetch thread did not stop within {timeout} s (its source is "
                    "blocked); it is left running as a daemon thread.",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if not self._thread.is_alive():
            close = getattr(self._chunks, "close", None)
            if callable(close):
                close()  # run the generators' cleanup (finally blocks) in this thread

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


__all__ = [
    "ACCEPTED",
    "RAN_OUT_MESSAGE",
    "Batch",
    "Chunk",
    "Prefetcher",
    "Source",
    "Spec",
    "check_source",
    "choose_steps_per_chunk",
    "chunks",
    "is_pipeline",
]
