"""The training engine: what happens in an epoch, written once for one model and for a population.

``Sequential`` and ``Population`` are thin facades over this module. Each holds a
:class:`~fnn.training.TrainState` (parameters, optimizer state, layer state, counters, dropout
root key) and inherits :class:`Trainer`, whose ``fit``, ``evaluate`` and ``predict`` are the only
loops in fnn. A population's train state has a leading member axis, and the :class:`Lift` maps
the same pure functions over it (``jax.vmap``, in groups under ``lax.map``); one model's is
lifted by the identity.

An epoch of ``fit``, in order:

1. **order**: the epoch's example order, a NumPy permutation from ``(seed, epochs trained)``
   (each member's own seed in a population, unless the order is shared);
2. **placed data**: the data lives on the device whole, or streams in chunks
   (:mod:`fnn.data`), through the distribution's placement (:mod:`fnn.distributed`);
3. **the fused program**: one compiled call per piece of the epoch (one piece, or one per
   progress update, or one per streamed chunk) runs a ``lax.scan`` of train steps
   (:func:`fnn.training.make_train_loop`); a piece's metric sums are fetched only once the next
   piece is queued;
4. **commit**: the new train state replaces the old one only when the whole epoch completed (an
   interrupted epoch commits nothing); frozen population members keep their old state;
5. **validation**, every ``validation_freq`` epochs;
6. **progress and callbacks**, on the host, between compiled epochs.

The compiled functions are cached on the :class:`Engine`, which is built from exactly what
changes the programs (network, loss, optimizer, metrics, distribution, lift): a facade gets a new
engine when one of those changes and keeps the old one otherwise, so nothing is invalidated by
hand.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, overload

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from fnn import data as data_lib
from fnn import distributed as distributed_lib
from fnn import host, inputs, pipelines, training
from fnn import optimizers as optimizers_lib
from fnn.callbacks import Callback, CallbackList, History, TerminateOnNaN
from fnn.callbacks.base import check_callbacks
from fnn.layers import Layer
from fnn.progress import ProgressBar, format_logs, resolve_verbose

#: Progress-bar updates per epoch at verbose=1 (each update is one host sync).
PROGRESS_UPDATES = 10


#: Steps per compiled call, unrolled, for a network with convolutions on a CPU (see Engine).
CPU_CONV_STEPS = 8


def _has_conv(layer: Any) -> bool:
    """Whether ``layer`` is or contains a convolution (``lax.conv``-based layer)."""
    return _any_layer(layer, "is_convolution")


def _any_layer(layer: Any, flag: str) -> bool:
    """Whether ``layer`` or any layer inside it has the class flag ``flag`` set."""
    if getattr(layer, flag, False):
        return True
    return any(_any_layer(inner, flag) for inner in getattr(layer, "layers", ()) or ())


class Lift:
    """How the pure functions are lifted over the train state.

    Args:
        members: None for one model (the identity), else the number of population members, the
            leading axis of every train-state leaf.
        parallel: members computed side by side (``vmap``); groups of that many run one after
            another in the same program (``lax.map``). Default: all of them.
    """

    def __init__(self, members: int | None = None, parallel: int | None = None) -> None:
        self.members = members
        self.parallel: int = (members or 1) if parallel is None else parallel

    def __repr__(self) -> str:
        return f"Lift(members={self.members}, parallel={self.parallel})"

    def __call__(self, fn: Callable[..., Any], mapped: tuple[Any, ...], *shared: Any) -> Any:
        """``fn(*mapped, *shared)``, over the members of ``mapped`` (leading axis) if any."""
        if self.members is None:
            return fn(*mapped, *shared)

        def one(member: tuple[Any, ...]) -> Any:
            return fn(*member, *shared)

        if self.parallel >= self.members:
            return jax.vmap(one)(mapped)
        return jax.lax.map(one, mapped, batch_size=self.parallel if self.parallel > 1 else None)


class Engine:
    """The compiled functions of one training setup, built on demand and cached.

    Args:
        net: the network (its ``call`` is what runs).
        loss: the loss object.
        optimizer: the Optax transformation.
        metrics: the compiled metrics.
        distribution: where data and state live (:mod:`fnn.distributed`).
        lift: :class:`Lift` (identity for one model).
    """

    def __init__(
        self,
        net: Layer,
        loss: Any,
        optimizer: Any,
        metrics: Sequence[Any],
        distribution: distributed_lib.Distribution,
        lift: Lift,
    ) -> None:
        self.net, self.loss, self.optimizer, self.metrics = net, loss, optimizer, list(metrics)
        self.distribution, self.lift = distribution, lift
        #: Steps per compiled call with the loop unrolled (None: the epoch in one ``lax.scan``).
        #: XLA's CPU backend runs convolutions inside a loop ~6x slower than outside one
        #: (measured: a Conv-Pool-Conv gradient 286 ms a step in ``lax.scan``, 48 ms unrolled),
        #: so on a CPU a network with convolutions runs pieces of :data:`CPU_CONV_STEPS` steps,
        #: unrolled; the results are the same batches, keys and steps.
        self.unrolled_steps = (
            CPU_CONV_STEPS if jax.default_backend() == "cpu" and _has_conv(net) else None
        )
        #: Whether an epoch's calls pad their step order to one length, and their smaller last
        #: batch to a whole one (see :func:`fnn.data.epoch_pieces`): fits on different numbers
        #: of examples then share the epoch program. Not with unrolled steps (their count is
        #: fixed), nor the last batch for a network that mixes rows (batch statistics).
        self.pads_steps = self.unrolled_steps is None
        self.pads_rest = self.pads_steps and not _any_layer(net, "mixes_rows")
        #: The jitted functions, by ``(kind, batch_size)``.
        self.cache: dict[tuple[str, int | None], Any] = {}

    def compiled(self, kind: str, batch_size: int | None = None) -> Any:
        """The jitted ``"train"``, ``"eval"`` or ``"predict"`` function (built once).

        Args:
            kind: ``"train"`` (``(ts, data, order, rest, step0) -> (ts, sums)``),
                ``"train_member_data"`` (the same, the data with a leading member axis),
                ``"eval"`` (``(params, state, data, rows) -> sums``) or ``"predict"``
                (``(params, state, x) -> y``).
            batch_size: examples per step for ``"eval"`` and ``"predict"`` (part of the cache
                key: each batch size is its own program); None for the train functions (their
                batch size comes from the order's shape).

        Returns:
            The jitted function, from :attr:`cache` when it was built before.
        """
        key = (kind, batch_size)
        if key not in self.cache:
            self.cache[key] = getattr(self, f"_build_{kind}")(batch_size)
        return self.cache[key]

    def _build_train(self, _: None) -> Any:
        return self._train_function(members_data=False)

    def _build_train_member_data(self, _: None) -> Any:
        return self._train_function(members_data=True)

    def _train_function(self, members_data: bool) -> Any:
        dist, lift = self.distribution, self.lift
        step = training.make_train_step(self.net, self.loss, self.optimizer, self.metrics)
        loop = training.make_train_loop(step, dist.shard_batch, self.unrolled_steps or 1)

        def train(ts, data, order, rest, step0, steps=None, last_rows=None):
            counts = (steps, last_rows)
            if lift.members is None:
                return loop(ts, data, order, rest, step0, *counts)
            if order.ndim == 3:  # each member's own order, stacked step-major: (steps, N, batch)
                mapped = (ts, order.swapaxes(0, 1), rest.swapaxes(0, 1))
                return lift(lambda t, o, r: loop(t, data, o, r, step0, *counts), mapped)
            if members_data:  # streamed chunks gathered per member: data (N, chunk, ...)
                return lift(lambda t, d: loop(t, d, order, rest, step0, *counts), (ts, data))
            return lift(lambda t: loop(t, data, order, rest, step0, *counts), (ts,))

        return dist.jit(train)

    def _build_eval(self, batch_size: int) -> Any:
        step = training.make_eval_step(self.net, self.loss, self.metrics)
        loop = training.make_eval_loop(step, batch_size, self.distribution.shard_batch)
        lift = self.lift
        return self.distribution.jit(lambda p, s, data, rows: lift(loop, (p, s), data, rows))

    def _build_predict(self, batch_size: int) -> Any:
        loop = training.make_predict_loop(self.net, batch_size, self.distribution.shard_batch)
        lift = self.lift
        return self.distribution.jit(lambda p, s, x: lift(loop, (p, s), x))

    # -- passes ---------------------------------------------------------------------------------
    def train_piece(self, ts: training.TrainState, piece: data_lib.Piece) -> tuple[Any, Any]:
        """One compiled call: the steps of ``piece``.

        Args:
            ts: the train state before the piece (members on axis 0 for a population).
            piece: the piece's data, step order, last smaller batch and first step number, from
                :func:`fnn.data.epoch_pieces` or a pipeline.

        Returns:
            ``(ts, sums)``, both on the device (not synced): the train state after the piece's
            steps (epoch counter unchanged) and its summed loss, count and metric states (see
            :func:`fnn.training.means`).
        """
        loop = self.compiled("train_member_data" if piece.members_data else "train")
        counts = [None if c is None else np.int32(c) for c in (piece.steps, piece.last_rows)]
        return loop(
            ts,
            piece.data,
            jax.device_put(piece.order),  # a transfer; jnp.asarray would compile a program
            jax.device_put(piece.rest),
            np.int32(piece.first_step),
            *counts,
        )

    def evaluate(
        self,
        ts: training.TrainState,
        placed: data_lib.Placement,
        batch_size: int,
        rows: int | None = None,
    ) -> dict[str, Any]:
        """The per-example means of the loss and metrics over ``placed``.

        Args:
            ts: the train state (its params and layer state are used).
            placed: the data, ``(x, y, sample_weight or None)``, placed by the distribution.
            batch_size: examples per step.
            rows: how many leading rows are real (the rest pads the data to a bucket size, see
                :func:`fnn.data.pad_to_bucket`); None: all.

        Returns:
            ``{name: value}``: floats, or arrays of shape ``(N,)`` for a population.
        """
        loop = self.compiled("eval", batch_size)
        sums = None
        start = 0
        for data in data_lib.sequential_pieces(placed):
            size = data[0].shape[0]
            valid = size if rows is None else min(max(rows - start, 0), size)
            out = loop(ts.params, ts.state, data, np.int32(valid))
            sums = _add_sums(sums, jax.device_get(out), self.metrics)
            start += size
        assert sums is not None  # a placement has at least one piece
        return training.means(sums, self.metrics)

    def predict(
        self, ts: training.TrainState, placed: data_lib.Placement, batch_size: int, rows: int
    ) -> np.ndarray:
        """The network's outputs over ``placed``, as NumPy (members first for a population).

        Args:
            ts: the train state (its params and layer state are used).
            placed: the inputs, ``[x]``, placed by the distribution.
            batch_size: examples per step.
            rows: the number of rows of ``x`` in this process (padding included); the
                distribution fetches this process's rows with it.

        Returns:
            ``(rows, *output_shape)``; ``(N, rows, *output_shape)`` for a population of N.
        """
        loop = self.compiled("predict", batch_size)
        axis = 0 if self.lift.members is None else 1
        outputs = []
        for data in data_lib.sequential_pieces(placed):
            y = loop(ts.params, ts.state, data[0])
            outputs.append(self.distribution.fetch_rows(y, rows) if axis == 0 else np.asarray(y))
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=axis)


class _TrainStateField:
    """A Keras-named view (get and set) of one field of a facade's train state."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        ts = obj.train_state
        return None if ts is None else getattr(ts, self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        obj._require_built(self.name)
        obj.train_state = obj.train_state._replace(**{self.name: value})


class PipelineFeed:
    """The engine's side of a pipeline pass (:mod:`fnn.pipelines` is the data side): the
    source, the door checks each chunk gets on the host (in the prefetch thread), and its move
    to the device.

    Args:
        source: the training (or evaluation) :class:`fnn.pipelines.Source`.
        spec: the model specification the door checks against.
        put: host arrays -> device arrays (the distribution's placement).
        check: scan chunks for NaN and inf.
        class_weight: fit's ``class_weight`` (applied batch by batch), or None.
        validation: the validation source, or None.
        steps_per_chunk: steps per compiled call (None: chosen by
            :func:`fnn.pipelines.choose_steps_per_chunk`).
    """

    def __init__(
        self,
        source: pipelines.Source,
        spec: Any,
        put: Callable[[list[Any]], tuple[Any, ...]],
        check: bool,
        class_weight: Any = None,
        validation: pipelines.Source | None = None,
        steps_per_chunk: int | None = None,
    ) -> None:
        self.source, self.spec, self.put, self.check = source, spec, put, check
        self.class_weight, self.validation = class_weight, validation
        self.steps_per_chunk = steps_per_chunk
        self.first_arrays: list[Any] = []
        self._first_epoch: Iterator[Any] | None = None

    def peek(self, epoch: int) -> list[Any]:
        """Read and check the first batch (the model is built from it if need be); it is given
        back as the first batch of ``epoch``.

        Args:
            epoch: the epoch whose batches are read (the source's shuffle may depend on it);
                the next :meth:`pieces` of the same source yields that epoch, this batch first.

        Returns:
            The first batch's arrays after the door checks, ``[x, y, sample_weight]`` (y and
            sample_weight None for a source without targets); also kept as ``first_arrays``.

        Raises:
            ValueError: if the source gives no batch at all.
        """
        batches = self.source.batches(epoch)
        try:
            first = next(batches)
        except StopIteration:
            raise ValueError(f"{self.source.argument} gave no batch at all.") from None
        self._first_epoch = itertools.chain([first], batches)
        self.first_arrays = self.prepare(first, "batch 0: ")
        return self.first_arrays

    @property
    def batch_size(self) -> int:
        """The source's full batch size (known once its first batch is read)."""
        spec = self.source.spec
        if spec is None:
            raise RuntimeError("the batch size is known once the first batch is read (peek)")
        return spec.batch_size

    def steps_per_epoch(self) -> int | None:
        """Batches per epoch, where known (steps, or a sequence's length).

        Returns:
            The source's ``steps`` when given, else ``len()`` of a sequence, else None (a
            generator or loader of unknown length).
        """
        if self.source.steps is not None:
            return self.source.steps
        return len(self.source.data) if self.source.is_sequence else None

    def prepare(self, arrays: Any, prefix: str) -> list[Any]:
        """The door for one chunk's host arrays (``prefix`` names it in messages).

        Args:
            arrays: the chunk's host arrays ``(x, y, sample_weight)`` (y and sample_weight None
                where absent).
            prefix: put before the argument names in error messages, e.g. ``"batches 0-7: "``.

        Returns:
            ``[x, y, sample_weight]`` checked and converted by :mod:`fnn.inputs` (with
            ``class_weight`` folded into the weights); ``[x, None, None]`` without targets.
        """
        x, y, w = arrays
        if not self.source.with_targets:
            return [inputs.prepare_x(self.spec, x, prefix + "x", self.check), None, None]
        return inputs.prepare_xy(self.spec, x, y, w, self.class_weight, prefix, self.check)

    def _k(self, steps: int | None, progress: bool, batch_bytes: int) -> int:
        if self.steps_per_chunk is not None:
            return self.steps_per_chunk
        most = None if steps is None else max(1, -(-steps // (PROGRESS_UPDATES if progress else 1)))
        return pipelines.choose_steps_per_chunk(batch_bytes, max_steps=most)

    @contextlib.contextmanager
    def pieces(
        self, epoch: int, steps: int | None, progress: bool, source: pipelines.Source | None = None
    ) -> Iterator[Iterator[data_lib.Piece]]:
        """The epoch's compiled calls: chunks prepared and moved on a background thread.

        A context manager: leaving it stops the prefetch thread.

        Args:
            epoch: the epoch to read (for the source's shuffle); after :meth:`peek`, the peeked
                batch comes first.
            steps: batches in the epoch, if known (bounds the steps per chunk).
            progress: whether a progress bar shows the epoch (then, with ``steps`` known, a
                chunk holds at most ``steps / PROGRESS_UPDATES`` steps).
            source: the source to read; None: the training source.

        Yields:
            An iterator of :class:`fnn.data.Piece`, one per chunk of steps, their data already
            on the device.
        """
        source = source or self.source
        batches = source.batches(epoch)
        if source is self.source and self._first_epoch is not None:
            batches, self._first_epoch = self._first_epoch, None
        batch_bytes = sum(a.nbytes for a in self.first_arrays if a is not None) or 1
        k = self._k(steps, progress, batch_bytes)

        def prepared() -> Iterator[pipelines.Chunk]:
            for chunk in pipelines.chunks(batches, k):
                last = chunk.first_batch + chunk.steps + (1 if chunk.rest else 0) - 1
                prefix = f"batches {chunk.first_batch}-{last}: "
                yield chunk._replace(arrays=tuple(self.prepare(chunk.arrays, prefix)))

        def to_piece(chunk: pipelines.Chunk) -> data_lib.Piece:
            full = chunk.steps * chunk.batch_size
            order = np.arange(full, dtype=np.int32).reshape(chunk.steps, chunk.batch_size)
            rest = np.arange(full, full + chunk.rest, dtype=np.int32)
            return data_lib.Piece(chunk.arrays, order, rest, chunk.first_batch)

        with pipelines.Prefetcher(prepared(), put=lambda a: self.put(list(a))) as ready:
            yield (to_piece(chunk) for chunk in ready)

    def evaluate(self, trainer: Trainer, engine: Engine, source: pipelines.Source) -> Any:
        """The eval results over one pass of ``source`` (its chunks in order).

        Args:
            trainer: the model or population (its train state is used).
            engine: the engine whose eval function runs.
            source: the pipeline to evaluate on (the evaluation or validation source).

        Returns:
            ``{name: value}``: the per-example means of the loss and metrics (floats, or arrays
            ``(N,)`` for a population), as :func:`fnn.training.means` gives them.

        Raises:
            ValueError: if ``source`` gives no batch.
        """
        sums = None
        ts = trainer.train_state
        with self.pieces(0, source.steps, False, source) as pieces:
            for piece in pieces:
                loop = engine.compiled("eval", self.batch_size)
                rows = np.int32(piece.data[0].shape[0])
                fetched = jax.device_get(loop(ts.params, ts.state, piece.data, rows))
                sums = _add_sums(sums, fetched, engine.metrics)
        if sums is None:
            raise ValueError(f"{source.argument} gave no batch to evaluate on.")
        return training.means(sums, engine.metrics)

    def predict(self, trainer: Trainer, engine: Engine) -> np.ndarray:
        """The outputs over one pass of the source (members first for a population).

        Args:
            trainer: the model or population (its train state is used).
            engine: the engine whose predict function runs.

        Returns:
            ``(n, *output_shape)`` as NumPy, ``n`` the examples the source gave;
            ``(N, n, *output_shape)`` for a population.
        """
        ts = trainer.train_state
        loop = engine.compiled("predict", self.batch_size)
        outputs = []
        with self.pieces(0, self.source.steps, False) as pieces:
            for piece in pieces:
                outputs.append(np.asarray(loop(ts.params, ts.state, piece.data[0])))
        axis = 0 if engine.lift.members is None else 1
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=axis)

    def evaluate_validation(self, trainer: Trainer, engine: Engine) -> Any:
        """One pass of the validation source.

        Args:
            trainer: the model or population (its train state is used).
            engine: the engine whose eval function runs.

        Returns:
            The validation results, as :meth:`evaluate` gives them.
        """
        assert self.validation is not None
        return self.evaluate(trainer, engine, self.validation)


class Trainer:
    """``fit``, ``evaluate`` and ``predict``: Keras's loop, over an :class:`Engine`.

    A facade inheriting this provides: ``train_state`` (a :class:`~fnn.training.TrainState`,
    get and set), ``engine`` (the :class:`Engine` for its current setup), ``spec`` (the model
    whose layers, loss and shapes the door checks use), ``seeds`` (one per member, or the model's
    seed alone), ``members`` (None, or the population size), ``metrics_names``, and the
    attributes ``stop_training`` and ``history``. It may override :meth:`commit_epoch` (a
    population freezes members there) and :meth:`summarize_logs` (what progress shows).
    """

    stop_training: bool = False
    history: History | None = None
    _live_callbacks: CallbackList | None = None
    _saved_callback_states: dict[str, Any] = {}  # noqa: RUF012 (replaced, never mutated)

    @property
    def callback_states(self) -> dict[str, Any]:
        """The fit callbacks' states (:meth:`fnn.callbacks.Callback.get_state`): live during
        fit, the last fit's afterwards; saved with the model, and given back to the callbacks
        of a fit that resumes (``initial_epoch > 0``), so EarlyStopping's patience and
        ReduceLROnPlateau's wait continue where they were."""
        if self._live_callbacks is not None:
            return self._live_callbacks.states()
        return dict(self._saved_callback_states)

    @callback_states.setter
    def callback_states(self, value: dict[str, Any]) -> None:
        self._saved_callback_states = dict(value or {})

    #: The :class:`~fnn.training.TrainState` (None until the model is built).
    train_state: Any = None

    # -- what a facade provides ---------------------------------------------------------------
    @property
    def spec(self) -> Any:
        """The model whose layers, loss and shapes the door checks data against."""
        raise NotImplementedError

    @property
    def engine(self) -> Engine:
        """The :class:`Engine` for the current setup."""
        raise NotImplementedError

    @property
    def seeds(self) -> tuple[int, ...]:
        """One seed per member (the model's seed alone for one model)."""
        raise NotImplementedError

    @property
    def members(self) -> int | None:
        """None for one model, else the number of population members."""
        return None

    @property
    def metrics_names(self) -> list[str]:
        """``["loss", *metric names]``."""
        raise NotImplementedError

    # -- the train state, under Keras's names -----------------------------------------------------
    def _require_built(self, what: str) -> None:
        if self.train_state is None:
            raise ValueError(
                f"{what} needs a built model: give the first layer input_shape, call "
                "model.build(input_shape), or fit it on data first."
            )

    params = _TrainStateField("The trainable parameters (one entry per layer; members on axis 0).")
    state = _TrainStateField("The non-trainable layer state (running statistics).")
    opt_state = _TrainStateField("The optimizer state (None before compile).")

    @property
    def epoch(self) -> int:
        """Epochs trained so far (saved with the model): the ``initial_epoch`` to resume with,
        and what the next epoch's shuffle order and dropout keys derive from."""
        if self.train_state is None:
            return 0
        return int(np.asarray(self.train_state.epoch).reshape(-1)[0])

    @epoch.setter
    def epoch(self, value: int) -> None:
        if self.train_state is None and value == 0:
            return  # an unbuilt model has trained nothing
        self._require_built("epoch")
        count = jnp.full_like(self.train_state.epoch, value)
        self.train_state = self.train_state._replace(epoch=count)

    # -- hooks for the facades ------------------------------------------------------------------
    def commit_epoch(self, old: training.TrainState, new: training.TrainState) -> Any:
        """The train state to keep after an epoch (``new``; a population keeps frozen members'
        ``old`` state).

        Args:
            old: the train state before the epoch.
            new: the train state after it (epoch counter already advanced).

        Returns:
            The train state to commit: ``new`` here.
        """
        return new

    def begin_fit(self) -> None:
        """Called when a fit starts, before the callbacks (a population unfreezes members)."""

    def summarize_logs(self, logs: dict[str, Any]) -> dict[str, float]:
        """Logs as progress shows them (floats).

        Args:
            logs: ``{name: value}`` of an epoch or an evaluation.

        Returns:
            The logs to show: ``logs`` itself here (a population summarizes its members).
        """
        return logs

    def describe_logs(self) -> str:
        """A suffix for the verbose=2 epoch line and evaluate's line.

        Returns:
            The text to append (empty here).
        """
        return ""

    # -- the loops --------------------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Sequence[Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool | str = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        steps_per_epoch: int | None = None,
        validation_steps: int | None = None,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> History:
        """Train for ``epochs`` epochs (each one compiled XLA program); return the History.

        Every example is used once per epoch, the last smaller batch included. Each call draws
        fresh randomness: the shuffle order and the dropout keys of an epoch derive from the
        seed and the number of epochs trained so far (``model.epoch``, saved with the model), so
        ``fit(epochs=1)`` twice trains exactly as ``fit(epochs=2)``, and a saved and reloaded
        model continues exactly.

        ``x`` may also be a pipeline of ``(x, y[, sample_weight])`` batches: a generator, a
        sequence in Keras's ``PyDataset`` protocol, a Grain or PyTorch loader (see
        :mod:`fnn.pipelines`). Its batches are checked, stacked into chunks of steps and moved
        to the device on a background thread while the previous chunk trains, one compiled call
        per chunk; every chunk trained is kept, also when a later batch turns out bad.

        Args:
            x: inputs, shape ``(n, *input_shape)`` (NumPy, JAX, pandas, nested lists), or a
                pipeline of batches.
            y: targets (integer labels for sparse categorical cross-entropy); None for a
                pipeline.
            batch_size: examples per step (Keras's default 32); with a distribution, the
                global batch.
            epochs: the index of the last epoch to train (Keras's meaning with
                ``initial_epoch``).
            verbose: ``"auto"`` (1 in a terminal), 0 (silent), 1 (progress bar), 2 (a line per
                epoch).
            callbacks: :class:`fnn.callbacks.Callback` instances, called between epochs.
            validation_split: the last fraction of the examples, held out for validation.
            validation_data: ``(x_val, y_val)`` or ``(x_val, y_val, val_sample_weight)``.
            shuffle: shuffle the examples each epoch (``True``, ``False`` or ``"batch"``).
            class_weight: ``{class index: weight}`` multiplying each example's loss.
            sample_weight: per-example weights, shape ``(n,)``.
            initial_epoch: the epoch to start at (Keras's meaning; affects the epoch labels
                and how many epochs run: ``epochs - initial_epoch``).
            steps_per_epoch: batches per epoch from a pipeline (None: until it is exhausted,
                or ``len()`` of a sequence); an infinite generator needs it.
            validation_steps: batches per validation from a pipeline ``validation_data``.
            validation_batch_size: batch size for validation (default: ``batch_size``).
            validation_freq: validate every n-th epoch (int) or after the listed epochs (from 1).
            check_finite: scan the data for NaN and inf first.
            max_device_bytes: data above this many bytes streams from the host in chunks with
                the same results (``"auto"``: half the accelerator's memory; None: no limit).

        Returns:
            The :class:`~fnn.callbacks.History` (for a population, each value an array with one
            entry per member).

        Raises:
            TypeError, ValueError: bad arguments or data, before anything changes.
        """
        self._require_compiled("fit")
        callbacks = check_callbacks(callbacks)
        budget = _device_budget(max_device_bytes)
        dist = self.engine_distribution()
        if pipelines.check_source(x, "x"):
            stream = self._pipeline_plan(
                x,
                y,
                sample_weight=sample_weight,
                class_weight=class_weight,
                validation_split=validation_split,
                validation_data=validation_data,
                validation_steps=validation_steps,
                steps_per_epoch=steps_per_epoch,
                shuffle=shuffle,
                check_finite=check_finite,
            )
            plan = inputs.fit_plan(
                self.spec,
                *stream.first_arrays[:2],
                batch_size=stream.batch_size,
                epochs=epochs,
                verbose=verbose,
                validation_split=0.0,
                validation_data=None,
                shuffle=shuffle,
                class_weight=class_weight,
                sample_weight=stream.first_arrays[2],
                initial_epoch=initial_epoch,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
                check=check_finite,
                check_batch=dist.check_batch_size,
            )
            plan = plan._replace(arrays=None, stream=stream)
        else:
            if steps_per_epoch is not None or validation_steps is not None:
                raise ValueError(
                    "steps_per_epoch and validation_steps are for pipelines (generators, "
                    "sequences, loaders); with arrays every example is used once per epoch."
                )
            plan = inputs.fit_plan(
                self.spec,
                x,
                y,
                batch_size=batch_size,
                epochs=epochs,
                verbose=verbose,
                validation_split=validation_split,
                validation_data=validation_data,
                shuffle=shuffle,
                class_weight=class_weight,
                sample_weight=sample_weight,
                initial_epoch=initial_epoch,
                validation_batch_size=validation_batch_size,
                validation_freq=validation_freq,
                check=check_finite,
                check_batch=dist.check_batch_size,
            )
        spec = self.spec
        arrays = plan.arrays if plan.stream is None else plan.stream.first_arrays
        assert arrays is not None
        targets = arrays[1]
        training.check_objective(
            spec.net, spec.loss, spec.compiled_metrics, spec.input_shape, targets
        )
        with _exclusive(self, "fit"):
            return self._fit(plan, callbacks, budget)

    def _fit(self, plan: inputs.FitPlan, callbacks: list[Callback], budget: Any) -> History:
        engine = self.engine
        dist = engine.distribution
        verbose = plan.verbose if distributed_lib.is_primary() else 0  # only process 0 prints
        batch_size = plan.batch_size
        n: int | None = None
        if plan.arrays is not None:
            n = dist.num_examples(plan.arrays[0].shape[0])
            steps_per_epoch: int | None = math.ceil(n / batch_size)
        else:
            steps_per_epoch = plan.stream.steps_per_epoch()

        # History last, as in Keras: it records what other callbacks add to the logs.
        history = History()
        cbs = CallbackList([*callbacks, history])
        self.history = history
        cbs.set_model(self)
        cbs.set_params(
            {
                "epochs": plan.epochs,
                "steps": steps_per_epoch,
                "verbose": verbose,
                "steps_per_execution": self.spec.steps_per_execution or steps_per_epoch or 1,
            }
        )

        placed = placed_val = None
        if plan.arrays is not None:
            arrays = plan.arrays
            if engine.pads_steps:  # fits on slightly different numbers share the epoch program
                arrays = data_lib.pad_for_training(arrays, batch_size, budget)
            placed = dist.place(arrays, batch_size, budget)
            if plan.val_arrays is not None:
                val_arrays, val_rows = data_lib.pad_to_bucket(plan.val_arrays, plan.val_batch)
                placed_val = (dist.place(val_arrays, plan.val_batch, budget), val_rows)

        # The train state where the compiled epoch keeps it (replicated for DataParallel, split
        # by member for MemberParallel): every epoch's call then sees the same placement.
        self.train_state = dist.place_state(self.train_state)
        self.begin_fit()
        self.stop_training = False
        cbs.on_train_begin({})
        if plan.initial_epoch > 0 and self.callback_states:
            cbs.restore_states(self.callback_states)  # a resumed fit continues them exactly
        self._live_callbacks = cbs
        try:
            logs = self._epochs(plan, engine, cbs, placed, placed_val, n, steps_per_epoch, verbose)
        finally:
            self._live_callbacks = None
            self._saved_callback_states = cbs.states()
        self.train_state = _with_ema_weights(self.train_state, self.members)
        cbs.on_train_end(logs)
        return history

    def _epochs(
        self,
        plan: inputs.FitPlan,
        engine: Engine,
        cbs: CallbackList,
        placed: data_lib.Placement | None,
        placed_val: tuple[data_lib.Placement, int | None] | None,
        n: int | None,
        steps_per_epoch: int | None,
        verbose: int,
    ) -> dict[str, Any]:
        """The epoch loop of :meth:`fit`; returns the last epoch's logs."""
        batch_size = plan.batch_size
        logs: dict[str, Any] = {}
        # TerminateOnNaN reports divergence itself; otherwise fit warns once.
        warned_nan = any(isinstance(cb, TerminateOnNaN) for cb in cbs.callbacks)
        for epoch in range(plan.initial_epoch, plan.epochs):
            cbs.on_epoch_begin(epoch, {})
            self._check_unchanged(engine, "fit")
            start = self.train_state
            trained = self.epoch
            bar = None
            if verbose == 1 and steps_per_epoch is not None:
                bar = ProgressBar(steps_per_epoch, desc=f"Epoch {epoch + 1}/{plan.epochs}")
            if plan.stream is None:
                assert placed is not None and n is not None
                order, rest = self._orders(n, batch_size, trained, plan.shuffle)
                chosen = self.spec.steps_per_execution
                per_piece = chosen or engine.unrolled_steps
                updates = PROGRESS_UPDATES if bar is not None and bar.live else 1
                pieces = data_lib.epoch_pieces(
                    placed,
                    order,
                    rest,
                    updates,
                    per_piece,
                    pad_steps=engine.pads_steps,
                    pad_rest=engine.pads_rest,
                )
                new, sums = self._run_epoch(engine, start, pieces, bar, cbs, chosen is not None)
            else:
                stream = plan.stream
                with stream.pieces(trained, steps_per_epoch, bar is not None) as pieces:
                    new, sums = self._run_epoch(engine, start, pieces, bar, cbs, True)
                if not sums:  # the pipeline gave nothing this epoch: it ran out
                    self.stop_training = True
                    break
                if stream.source.ran_out:
                    self.stop_training = True
            logs = self._ordered(training.means(sums, engine.metrics))
            if not warned_nan and not np.all(np.isfinite(logs.get("loss", 0.0))):
                warned_nan = True
                warnings.warn(
                    f"Epoch {epoch + 1}: the loss is NaN or infinite; training has diverged "
                    "(lower the learning rate, check the data, or pass "
                    "callbacks=[fnn.callbacks.TerminateOnNaN()] to stop and keep the last good "
                    "weights).",
                    RuntimeWarning,
                    stacklevel=3,
                )
            # The epoch completed: commit its results (an interrupted epoch commits nothing).
            new = new._replace(epoch=_next_epoch(new.epoch))
            self.train_state = self.commit_epoch(start, new)
            has_val = placed_val is not None or (plan.stream and plan.stream.validation)
            if has_val and inputs.is_due(epoch, plan.validation_freq):
                cbs.on_test_begin({})
                state = self.train_state
                if placed_val is not None:
                    placement, rows = placed_val
                    val_sums = engine.evaluate(state, placement, plan.val_batch, rows)
                else:
                    val_sums = plan.stream.evaluate_validation(self, engine)
                val_logs = self._ordered(val_sums)
                cbs.on_test_end(dict(val_logs))
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            shown = self.summarize_logs(logs)
            if bar is not None:
                bar.close(shown)
            elif verbose == 2:
                print(
                    f"Epoch {epoch + 1}/{plan.epochs} - {format_logs(shown)}{self.describe_logs()}",
                    flush=True,
                )
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        return logs

    def _pipeline_plan(
        self,
        x: Any,
        y: Any,
        *,
        sample_weight: Any,
        class_weight: Any,
        validation_split: Any,
        validation_data: Any,
        validation_steps: Any,
        steps_per_epoch: Any,
        shuffle: Any,
        check_finite: bool,
    ) -> PipelineFeed:
        """fit's door for a pipeline: the arguments that cannot go with one are refused, the
        first batch is read and checked (building the model from it if need be)."""
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"{name} must be None when x is a pipeline ({type(x).__name__}): its batches "
                    "carry (x, y[, sample_weight])."
                )
        if validation_split:
            raise ValueError(
                "validation_split needs arrays (it takes their last rows); with a pipeline, pass "
                "validation_data."
            )
        spec = self.spec
        seed = self.seeds[0]
        shuffled = bool(inputs.check_shuffle(shuffle))
        source = pipelines.Source(x, steps=steps_per_epoch, shuffle=shuffled, seed=seed)
        validation = None
        if validation_data is not None and pipelines.check_source(
            validation_data, "validation_data"
        ):
            validation = pipelines.Source(
                validation_data, argument="validation_data", steps=validation_steps
            )
        elif validation_data is not None:
            raise ValueError(
                "validation_data must be a pipeline too when x is one (or pass arrays for both)."
            )
        elif validation_steps is not None:
            raise ValueError("validation_steps needs a pipeline as validation_data.")
        dist = self.engine_distribution()
        feed = PipelineFeed(
            source,
            spec,
            _putter(dist),
            check_finite,
            class_weight,
            validation,
            spec.steps_per_execution or self.engine.unrolled_steps,
        )
        with inputs.unchanged_on_error(spec):
            feed.peek(self.epoch)
        return feed

    def _run_epoch(
        self,
        engine: Engine,
        ts: training.TrainState,
        pieces: Iterable[data_lib.Piece],
        bar: ProgressBar | None,
        cbs: CallbackList,
        commit_each: bool,
    ) -> tuple[training.TrainState, dict[str, Any]]:
        """The epoch's compiled calls, one per piece: one per execution of
        ``steps_per_execution`` steps (the whole epoch by default; :data:`PROGRESS_UPDATES`
        pieces with a progress bar; one per chunk when the data streams or comes from a
        pipeline). Batch hooks fire once per piece. Returns the new train state (epoch counter
        not yet advanced) and the epoch's sums, fetched to the host.

        Without batch callbacks, a piece's sums are fetched only once the next piece is queued,
        so the host's progress work overlaps the device's steps. With ``commit_each`` (an
        explicit ``steps_per_execution``, or a pipeline) each piece's result is the model's
        state at once (callbacks see the weights as they are, and an interrupted epoch keeps
        its completed pieces, as in Keras); otherwise the epoch commits as a whole.
        """
        hooked = cbs.overrides_batch_hooks()
        sums: dict[str, Any] | None = None
        pending = None

        def to_logs(s: dict[str, Any]) -> dict[str, Any]:
            return self._ordered(training.means(s, engine.metrics))

        def report(done: Any) -> None:
            nonlocal sums
            piece_sums, steps, last = done
            sums = _add_sums(sums, jax.device_get(piece_sums), engine.metrics)
            if bar is not None:
                bar.update(steps, self.summarize_logs(to_logs(sums)))
            if hooked:
                cbs.on_train_batch_end(last, to_logs(sums))

        for piece in pieces:
            steps = piece.step_count
            if hooked:
                cbs.on_train_batch_begin(piece.first_step)
            if commit_each:
                ts = self.train_state
            ts, piece_sums = engine.train_piece(ts, piece)
            if commit_each:
                self.train_state = ts
            if pending is not None:
                report(pending)
            pending = (piece_sums, steps, piece.first_step + steps - 1)
            if hooked:  # the hooks see each execution before the next one starts
                report(pending)
                pending = None
        if pending is not None:
            report(pending)
        return ts, sums if sums is not None else {}

    def _orders(
        self, n: int, batch_size: int, trained: int, shuffle: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's example order: the model's, or each member's stacked on axis 1
        (``(steps, N, batch)``, ``(rest, N)``) unless the members share one."""
        seeds = self.order_seeds()
        pairs = [
            data_lib.epoch_order(n, batch_size, seed=s, epoch=trained, shuffle=bool(shuffle))
            for s in seeds
        ]
        if len(pairs) == 1:
            return pairs[0]
        return np.stack([p[0] for p in pairs], axis=1), np.stack([p[1] for p in pairs], axis=1)

    def order_seeds(self) -> tuple[int, ...]:
        """The seeds whose permutations order the examples (one, or one per member).

        Returns:
            The first of :attr:`seeds` alone here: one order for the model.
        """
        return self.seeds[:1]

    @overload
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        *,
        return_dict: Literal[True],
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> dict[str, Any]: ...

    @overload
    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        return_dict: bool = False,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> Any: ...

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        steps: int | None = None,
        return_dict: bool = False,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> Any:
        """The loss and metrics on ``(x, y)``, in inference mode.

        One compiled pass (per streamed chunk when the data exceeds ``max_device_bytes``).

        Args:
            x: inputs, or a pipeline of ``(x, y[, sample_weight])`` batches.
            y: targets (None for a pipeline).
            batch_size: examples per step (default 32).
            verbose: 0 silent; otherwise one line with the results.
            sample_weight: per-example weights, shape ``(n,)``.
            steps: batches to take from a pipeline (None: until it is exhausted).
            return_dict: return ``{name: value}``.
            check_finite: scan the data for NaN and inf first.
            max_device_bytes: as in :meth:`fit`.

        Returns:
            The loss alone when there are no metrics, else ``[loss, *metrics]``, or a dict with
            ``return_dict=True`` (floats; arrays of shape ``(N,)`` for a population).
        """
        self._require_compiled("evaluate")
        dist = self.engine_distribution()
        batch_size = inputs.check_batch_size(batch_size)
        dist.check_batch_size(batch_size, "batch_size")
        verbose = resolve_verbose(verbose)
        if not distributed_lib.is_primary():  # only process 0 prints
            verbose = 0
        if pipelines.check_source(x, "x"):
            feed = self._evaluation_feed(x, y, sample_weight, steps, True, check_finite)
            with _exclusive(self, "evaluate"):
                logs = self._ordered(feed.evaluate(self, self.engine, feed.source))
        else:
            _no_steps(steps)
            with inputs.unchanged_on_error(self.spec):
                arrays = inputs.prepare_xy(self.spec, x, y, sample_weight, check=check_finite)
            with _exclusive(self, "evaluate"):
                engine = self.engine
                arrays, rows = data_lib.pad_to_bucket(arrays, batch_size)
                placed = dist.place(arrays, batch_size, _device_budget(max_device_bytes))
                logs = self._ordered(engine.evaluate(self.train_state, placed, batch_size, rows))
        if verbose:
            print(f"{format_logs(self.summarize_logs(logs))}{self.describe_logs()}", flush=True)
        return evaluate_result(logs, self.metrics_names, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> np.ndarray:
        """The model's outputs for ``x``, as NumPy (one compiled pass over batches).

        Args:
            x: inputs, or a pipeline of batches (``x``, ``(x,)`` or ``(x, y[, w])``: ``x`` is
                used).
            batch_size: examples per step (default 32).
            verbose: accepted for Keras compatibility (nothing is printed).
            steps: batches to take from a pipeline (None: until it is exhausted).
            check_finite: scan ``x`` for NaN and inf first.
            max_device_bytes: as in :meth:`fit`.

        Returns:
            ``(n, *output_shape)``; ``(N, n, *output_shape)`` for a population.

        Raises:
            ValueError: if the model has no layers, or an argument is invalid.
            TypeError: an argument of the wrong type.
        """
        dist = self.engine_distribution()
        batch_size = inputs.check_batch_size(batch_size)
        dist.check_batch_size(batch_size, "batch_size")
        resolve_verbose(verbose)
        if not self.spec.layers:
            raise ValueError("The model has no layers; add one before calling predict().")
        if pipelines.check_source(x, "x"):
            feed = self._evaluation_feed(x, None, None, steps, False, check_finite)
            with _exclusive(self, "predict"):
                return feed.predict(self, self.predict_engine())
        _no_steps(steps)
        with inputs.unchanged_on_error(self.spec):
            xa = inputs.prepare_x(self.spec, x, check=check_finite)
        rows = len(xa)
        if jax.process_count() == 1:  # pad to a bucket: similar sizes share one program
            xa = data_lib.pad_rows(xa, data_lib.bucket_rows(rows, batch_size))
        with _exclusive(self, "predict"):
            engine = self.predict_engine()
            placed = dist.place([xa], batch_size, _device_budget(max_device_bytes))
            out = engine.predict(self.train_state, placed, batch_size, len(xa))
        return out[:rows] if self.members is None else out[:, :rows]

    # -- helpers --------------------------------------------------------------------------------
    def _evaluation_feed(
        self, x: Any, y: Any, sample_weight: Any, steps: Any, targets: bool, check: bool
    ) -> PipelineFeed:
        for name, value in (("y", y), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(
                    f"{name} must be None when x is a pipeline ({type(x).__name__}): its batches "
                    "carry them."
                )
        source = pipelines.Source(x, steps=steps, with_targets=targets)
        dist = self.engine_distribution()
        feed = PipelineFeed(source, self.spec, _putter(dist), check)
        with inputs.unchanged_on_error(self.spec):
            feed.peek(0)
        return feed

    def engine_distribution(self) -> distributed_lib.Distribution:
        """The distribution the engine uses (checked before the engine is built).

        Returns:
            The spec's resolved :class:`fnn.distributed.Distribution`.
        """
        return self.spec.distribution_strategy

    def predict_engine(self) -> Engine:
        """The engine for predict (an uncompiled model predicts too).

        Returns:
            :attr:`engine` here.
        """
        return self.engine

    def _ordered(self, logs: dict[str, Any]) -> dict[str, Any]:
        """Logs in compile order: loss first, then the metrics as given."""
        return {k: logs[k] for k in self.metrics_names if k in logs}

    def _require_compiled(self, method: str) -> None:
        spec = self.spec
        if spec.optimizer is None:
            raise ValueError(f"Call model.compile(optimizer, loss) before model.{method}().")
        if spec.loss is None:
            raise ValueError(
                f"model.{method}() needs a loss; the model was compiled with loss=None. "
                f"Pass e.g. loss='mse' or loss='categorical_crossentropy' to compile()."
            )

    def _check_unchanged(self, engine: Engine, method: str) -> None:
        """A callback that recompiles the model or changes its layers mid-fit is refused."""
        if self.engine is not engine:
            raise RuntimeError(
                f"The model was recompiled or its layers changed during {method}() (by a "
                "callback?); that is not supported: change the model between fit() calls."
            )


_BUSY: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_BUSY_GUARD = threading.Lock()


def check_idle(owner: Any, method: str) -> None:
    """Refuse to change a model (``compile``, ``add``, ``pop``, ``build``) while its fit,
    evaluate or predict runs, e.g. from a callback: the running loop would go on with stale
    compiled functions and optimizer state.

    Args:
        owner: the model or population about to change.
        method: the method's name, for the message (e.g. ``"compile"``).

    Raises:
        RuntimeError: the model is busy.
    """
    lock = _BUSY.get(owner)
    if lock is not None and lock.locked():
        raise RuntimeError(
            f"model.{method}() was called while the model is training or predicting (from a "
            "callback, or another thread); change the model between fit() calls, or set "
            "model.stop_training = True and change it after fit returns."
        )


@contextlib.contextmanager
def _exclusive(owner: Any, method: str) -> Iterator[None]:
    """Refuse a second fit/evaluate/predict on the same model from another thread while one
    runs: its results would be lost or mixed (fnn models are not thread-safe)."""
    with _BUSY_GUARD:
        lock = _BUSY.setdefault(owner, threading.Lock())
    if not lock.acquire(blocking=False):
        raise RuntimeError(
            f"model.{method}() was called while another fit/evaluate/predict of the same model "
            "is running (another thread?); models are not thread-safe: wait for it, or use one "
            "model per thread."
        )
    try:
        yield
    finally:
        lock.release()


def evaluate_result(logs: dict[str, Any], names: Sequence[str], return_dict: bool) -> Any:
    """Keras's evaluate result: the dict, else the loss alone without metrics, else
    ``[loss, *metrics]``.

    Args:
        logs: ``{name: value}`` of the evaluation.
        names: the model's ``metrics_names``, in order (``"loss"`` first).
        return_dict: return ``logs`` itself.

    Returns:
        ``logs`` when ``return_dict``; else the loss value when ``names`` is ``["loss"]``;
        else the list of values in ``names``'s order.
    """
    if return_dict:
        return logs
    values = [logs[k] for k in names]
    return values[0] if len(values) == 1 else values


def _with_ema_weights(ts: Any, members: int | None) -> Any:
    """Keras's ``use_ema``: when fit ends the parameters become their moving average."""
    ema = optimizers_lib.ema_weights(ts.opt_state)
    if ema is None:
        return ts
    if len(jax.tree.leaves(ema)) != len(jax.tree.leaves(ts.params)):  # a flattened optimizer
        if members is None:
            ema = ravel_pytree(ts.params)[1](ema)
        else:
            unravel = ravel_pytree(jax.tree.map(lambda a: a[0], ts.params))[1]
            ema = jax.vmap(unravel)(ema)
    return ts._replace(params=ema)


def _putter(dist: distributed_lib.Distribution) -> Callable[[list[Any]], tuple[Any, ...]]:
    """Host arrays to the device through ``dist``'s placement (whole, never streamed)."""

    def put(arrays: list[Any]) -> tuple[Any, ...]:
        device = dist.place(arrays, 1, None).device
        assert device is not None  # no byte budget: never streamed
        return device

    return put


def _no_steps(steps: Any) -> None:
    if steps is not None:
        raise ValueError(
            "steps is for pipelines (generators, sequences, loaders); with arrays every example "
            "is used once."
        )


def _device_budget(max_device_bytes: int | str | None) -> int | None:
    if max_device_bytes == "auto":
        return data_lib.default_device_budget()
    if max_device_bytes is None:
        return None
    return inputs.check_positive_int(max_device_bytes, "max_device_bytes")


def _next_epoch(epoch: jax.Array) -> jax.Array:
    """``epoch + 1`` computed on the host and put back as the counter was placed (sharding and
    commitment, which the compiled loops are keyed on): an eager ``+ 1`` compiles a program.
    Multi-host counters, not all addressable here, add on the device."""
    if getattr(epoch, "is_fully_addressable", False):
        return jax.device_put(np.asarray(epoch) + 1, epoch.sharding if epoch.committed else None)
    return epoch + 1


def _add_sums(
    total: dict[str, Any] | None, new: dict[str, Any], metrics: Sequence[Any]
) -> dict[str, Any]:
    """Two pieces' sums combined on the host (metric states through each metric's merge)."""
    if total is None:
        return jax.tree.map(lambda v: np.asarray(v, np.float64), new)
    out = {k: total[k] + np.asarray(v, np.float64) for k, v in new.items() if k != "metric_states"}
    if "metric_states" in new:
        old, add = total["metric_states"], new["metric_states"]
        out["metric_states"] = {}
        for m in metrics:
            merge = training.over_members(m.merge, total["count"])
            merged = host.call(merge, old[m.name], add[m.name])
            out["metric_states"][m.name] = jax.tree.map(np.asarray, merged)
    return out
