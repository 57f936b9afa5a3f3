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
import math
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from fnn import data as data_lib
from fnn import distributed as distributed_lib
from fnn import inputs, training
from fnn.callbacks import Callback, CallbackList, History, TerminateOnNaN
from fnn.callbacks.base import check_callbacks
from fnn.layers import Layer
from fnn.progress import ProgressBar, format_logs, resolve_verbose

#: Progress-bar updates per epoch at verbose=1 (each update is one host sync).
PROGRESS_UPDATES = 10


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
        self.parallel = members if parallel is None else parallel

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
        #: The jitted functions, by ``(kind, batch_size)``.
        self.cache: dict[tuple[str, int | None], Any] = {}

    def compiled(self, kind: str, batch_size: int | None = None) -> Any:
        """The jitted ``"train"``, ``"eval"`` or ``"predict"`` function (built once)."""
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
        loop = training.make_train_loop(step, dist.shard_batch)

        def train(ts, data, order, rest, step0):
            if lift.members is None:
                return loop(ts, data, order, rest, step0)
            if order.ndim == 3:  # each member's own order, stacked step-major: (steps, N, batch)
                mapped = (ts, order.swapaxes(0, 1), rest.swapaxes(0, 1))
                return lift(lambda t, o, r: loop(t, data, o, r, step0), mapped)
            if members_data:  # streamed chunks gathered per member: data (N, chunk, ...)
                return lift(lambda t, d: loop(t, d, order, rest, step0), (ts, data))
            return lift(lambda t: loop(t, data, order, rest, step0), (ts,))

        return dist.jit(train)

    def _build_eval(self, batch_size: int) -> Any:
        step = training.make_eval_step(self.net, self.loss, self.metrics)
        loop = training.make_eval_loop(step, batch_size, self.distribution.shard_batch)
        lift = self.lift
        return self.distribution.jit(lambda p, s, data: lift(loop, (p, s), data))

    def _build_predict(self, batch_size: int) -> Any:
        loop = training.make_predict_loop(self.net, batch_size, self.distribution.shard_batch)
        lift = self.lift
        return self.distribution.jit(lambda p, s, x: lift(loop, (p, s), x))

    # -- passes ---------------------------------------------------------------------------------
    def train_piece(self, ts: training.TrainState, piece: data_lib.Piece) -> tuple[Any, Any]:
        """One compiled call: the steps of ``piece``. Returns ``(ts, sums)`` (on the device)."""
        loop = self.compiled("train_member_data" if piece.members_data else "train")
        return loop(
            ts,
            piece.data,
            jnp.asarray(piece.order),
            jnp.asarray(piece.rest),
            jnp.int32(piece.first_step),
        )

    def evaluate(
        self, ts: training.TrainState, placed: data_lib.Placement, batch_size: int
    ) -> dict[str, Any]:
        """The per-example means of the loss and metrics over ``placed`` (arrays of shape
        ``(N,)`` for a population)."""
        loop = self.compiled("eval", batch_size)
        sums = None
        for data in data_lib.sequential_pieces(placed):
            sums = _add_sums(sums, jax.device_get(loop(ts.params, ts.state, data)))
        return training.means(sums)

    def predict(
        self, ts: training.TrainState, placed: data_lib.Placement, batch_size: int, rows: int
    ) -> np.ndarray:
        """The network's outputs over ``placed``, as NumPy (members first for a population)."""
        loop = self.compiled("predict", batch_size)
        axis = 0 if self.lift.members is None else 1
        outputs = []
        for data in data_lib.sequential_pieces(placed):
            y = loop(ts.params, ts.state, data[0])
            outputs.append(self.distribution.fetch_rows(y, rows) if axis == 0 else np.asarray(y))
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=axis)


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

    train_state: training.TrainState | None = None

    # -- the train state, under Keras's names -----------------------------------------------------
    def _require_built(self, what: str) -> None:
        if self.train_state is None:
            raise ValueError(
                f"{what} needs a built model: give the first layer input_shape, call "
                "model.build(input_shape), or fit it on data first."
            )

    @property
    def params(self) -> Any:
        """The trainable parameters (one entry per layer; members stacked on axis 0)."""
        return None if self.train_state is None else self.train_state.params

    @params.setter
    def params(self, value: Any) -> None:
        self._require_built("params")
        self.train_state = self.train_state._replace(params=value)

    @property
    def state(self) -> Any:
        """The non-trainable layer state (running statistics)."""
        return None if self.train_state is None else self.train_state.state

    @state.setter
    def state(self, value: Any) -> None:
        self._require_built("state")
        self.train_state = self.train_state._replace(state=value)

    @property
    def opt_state(self) -> Any:
        """The optimizer state (None before compile)."""
        return None if self.train_state is None else self.train_state.opt_state

    @opt_state.setter
    def opt_state(self, value: Any) -> None:
        self._require_built("opt_state")
        self.train_state = self.train_state._replace(opt_state=value)

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
        ``old`` state)."""
        return new

    def summarize_logs(self, logs: dict[str, Any]) -> dict[str, float]:
        """Logs as progress shows them (floats)."""
        return logs

    def describe_logs(self) -> str:
        """A suffix for the verbose=2 epoch line and evaluate's line."""
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

        Args:
            x: inputs, shape ``(n, *input_shape)`` (NumPy, JAX, pandas, nested lists).
            y: targets (integer labels for sparse categorical cross-entropy).
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
        training.check_objective(
            spec.net, spec.loss, spec.compiled_metrics, spec.input_shape, plan.arrays[1]
        )
        with _exclusive(self, "fit"):
            return self._fit(plan, callbacks, budget)

    def _fit(self, plan: inputs.FitPlan, callbacks: list[Callback], budget: Any) -> History:
        engine = self.engine
        dist = engine.distribution
        verbose = plan.verbose if distributed_lib.is_primary() else 0  # only process 0 prints
        n = dist.num_examples(plan.arrays[0].shape[0])
        batch_size = plan.batch_size

        # History last, as in Keras: it records what other callbacks add to the logs.
        cbs = CallbackList([*callbacks, History()])
        self.history = cbs.callbacks[-1]
        cbs.set_model(self)
        steps_per_epoch = math.ceil(n / batch_size)
        cbs.set_params(
            {
                "epochs": plan.epochs,
                "steps": steps_per_epoch,
                "verbose": verbose,
                "steps_per_execution": self.spec.steps_per_execution or steps_per_epoch,
            }
        )

        placed = dist.place(plan.arrays, batch_size, budget)
        placed_val = None
        if plan.val_arrays is not None:
            placed_val = dist.place(plan.val_arrays, plan.val_batch, budget)

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
        cbs.on_train_end(logs)
        return self.history

    def _epochs(
        self,
        plan: inputs.FitPlan,
        engine: Engine,
        cbs: CallbackList,
        placed: data_lib.Placement,
        placed_val: data_lib.Placement | None,
        n: int,
        steps_per_epoch: int,
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
            order, rest = self._orders(n, batch_size, trained, plan.shuffle)
            bar = None
            if verbose == 1:
                bar = ProgressBar(steps_per_epoch, desc=f"Epoch {epoch + 1}/{plan.epochs}")
            new, sums = self._run_epoch(engine, start, placed, order, rest, bar, cbs)
            logs = self._ordered(training.means(sums))
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
            new = new._replace(epoch=new.epoch + 1)
            self.train_state = self.commit_epoch(start, new)
            if placed_val is not None and inputs.is_due(epoch, plan.validation_freq):
                cbs.on_test_begin({})
                state = self.train_state
                val_logs = self._ordered(engine.evaluate(state, placed_val, plan.val_batch))
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

    def _run_epoch(
        self,
        engine: Engine,
        ts: training.TrainState,
        placed: data_lib.Placement,
        order: np.ndarray,
        rest: np.ndarray,
        bar: ProgressBar | None,
        cbs: CallbackList,
    ) -> tuple[training.TrainState, dict[str, Any]]:
        """The epoch's compiled calls: one per execution of ``steps_per_execution`` steps (the
        whole epoch by default; :data:`PROGRESS_UPDATES` pieces with a progress bar; one per
        chunk when the data streams). Batch hooks fire once per execution. Returns the new train
        state (epoch counter not yet advanced) and the epoch's sums, fetched to the host.

        Without batch callbacks, a piece's sums are fetched only once the next piece is queued,
        so the host's progress work overlaps the device's steps. With an explicit
        ``steps_per_execution`` each execution's result is the model's state (callbacks see the
        weights as they are, and an interrupted epoch keeps its completed executions, as in
        Keras); otherwise the epoch commits as a whole.
        """
        per_execution = self.spec.steps_per_execution
        hooked = cbs.overrides_batch_hooks()
        pieces = PROGRESS_UPDATES if bar is not None else 1
        sums: dict[str, Any] | None = None
        pending = None

        def to_logs(s: dict[str, Any]) -> dict[str, Any]:
            return self._ordered(training.means(s))

        def report(done: Any) -> None:
            nonlocal sums
            piece_sums, steps, last = done
            sums = _add_sums(sums, jax.device_get(piece_sums))
            if bar is not None:
                bar.update(steps, self.summarize_logs(to_logs(sums)))
            if hooked:
                cbs.on_train_batch_end(last, to_logs(sums))

        for piece in data_lib.epoch_pieces(placed, order, rest, pieces, per_execution):
            steps = piece.order.shape[0] + (1 if piece.rest.shape[0] else 0)
            if hooked:
                cbs.on_train_batch_begin(piece.first_step)
            if per_execution is not None:
                ts = self.train_state
            ts, piece_sums = engine.train_piece(ts, piece)
            if per_execution is not None:
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
        """The seeds whose permutations order the examples (one, or one per member)."""
        return self.seeds[:1]

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        return_dict: bool = False,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> Any:
        """The loss and metrics on ``(x, y)``, in inference mode.

        One compiled pass (per streamed chunk when the data exceeds ``max_device_bytes``).

        Args:
            x: inputs.
            y: targets.
            batch_size: examples per step (default 32).
            verbose: 0 silent; otherwise one line with the results.
            sample_weight: per-example weights, shape ``(n,)``.
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
        with inputs.unchanged_on_error(self.spec):
            arrays = inputs.prepare_xy(self.spec, x, y, sample_weight, check=check_finite)
        with _exclusive(self, "evaluate"):
            engine = self.engine
            placed = dist.place(arrays, batch_size, _device_budget(max_device_bytes))
            logs = self._ordered(engine.evaluate(self.train_state, placed, batch_size))
        if verbose:
            print(f"{format_logs(self.summarize_logs(logs))}{self.describe_logs()}", flush=True)
        return evaluate_result(logs, self.metrics_names, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> np.ndarray:
        """The model's outputs for ``x``, as NumPy (one compiled pass over batches).

        Args:
            x: inputs.
            batch_size: examples per step (default 32).
            verbose: accepted for Keras compatibility (nothing is printed).
            check_finite: scan ``x`` for NaN and inf first.
            max_device_bytes: as in :meth:`fit`.

        Returns:
            ``(n, *output_shape)``; ``(N, n, *output_shape)`` for a population.
        """
        dist = self.engine_distribution()
        batch_size = inputs.check_batch_size(batch_size)
        dist.check_batch_size(batch_size, "batch_size")
        resolve_verbose(verbose)
        if not self.spec.layers:
            raise ValueError("The model has no layers; add one before calling predict().")
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
    def engine_distribution(self) -> distributed_lib.Distribution:
        """The distribution the engine uses (checked before the engine is built)."""
        return self.spec.distribution_strategy

    def predict_engine(self) -> Engine:
        """The engine for predict (an uncompiled model predicts too)."""
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
    ``[loss, *metrics]``."""
    if return_dict:
        return logs
    values = [logs[k] for k in names]
    return values[0] if len(values) == 1 else values


def _device_budget(max_device_bytes: int | str | None) -> int | None:
    if max_device_bytes == "auto":
        return data_lib.default_device_budget()
    if max_device_bytes is None:
        return None
    return inputs.check_positive_int(max_device_bytes, "max_device_bytes")


def _add_sums(total: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if total is None:
        return {k: np.asarray(v, np.float64) for k, v in new.items()}
    return {k: total[k] + np.asarray(v, np.float64) for k, v in new.items()}
