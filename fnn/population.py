"""Populations: N independently initialised copies of a compiled model, trained in one program.

A research notebook rarely trains one model: it trains five seeds for error bars, or sweeps a
learning rate. :class:`Population` trains all of them together: the parameters and optimizer
states of its members are stacked along a leading axis and :mod:`fnn.training`'s fused epoch runs
under ``jax.vmap``, so one compiled XLA program per epoch trains every member. Member ``i`` is
exactly the model ``Sequential(seed=seeds[i])`` would train alone: the same initial parameters,
the same shuffle order, the same dropout keys, to float tolerance.

Float hyperparameters of fnn's optimizers (``learning_rate``, ``weight_decay``, ``b1``, ...)
live in the optimizer state (``optax.inject_hyperparams``), so a per-member value is one more
stacked array: a learning-rate sweep is one program, compiled once::

    >>> import numpy as np
    >>> import fnn
    >>> from fnn.layers import Dense
    >>> model = fnn.Sequential([Dense(8, activation="relu", input_shape=4), Dense(3)], seed=0)
    >>> model.compile(optimizer="adam", loss="mse")
    >>> pop = fnn.Population(model, size=3, hyperparams={"learning_rate": [1e-3, 1e-2, 1e-1]})
    >>> x, y = np.random.rand(64, 4), np.random.rand(64, 3)
    >>> history = pop.fit(x, y, epochs=2, verbose=0)
    >>> history.history["loss"][-1].shape
    (3,)
    >>> pop.predict(x, verbose=0).shape, pop.predict(x, reduce="mean", verbose=0).shape
    ((3, 64, 3), (64, 3))
    >>> best = pop.best("loss")  # a plain Sequential holding the best member

``parallel_members`` sets how many members a step trains side by side; groups of that many run
one after another inside the same program (``lax.map``). On an accelerator all members go at
once; on a CPU, where XLA's batched matmuls for such small shapes gain little and per-member
copies of the epoch's batches outgrow the caches, 8 at a time measured fastest.

Population inherits ``fit``, ``evaluate`` and ``predict`` from the engine
(:class:`fnn.engine.Trainer`): every argument of ``Sequential.fit`` works, callbacks included
(each log value an array with one entry per member; see :mod:`fnn.callbacks` for what
EarlyStopping, ReduceLROnPlateau, TerminateOnNaN and ModelCheckpoint do per member), data
larger than the device streams, and ``compile(distribution=DataParallel())`` shards each batch
while the members stay replicated; ``Population(..., distribution=MemberParallel())`` splits the
members across devices instead.

``shared_order=True`` makes every member see the batches in member 0's order. Members then
differ only in their initialisation and hyperparameters, and the data is gathered once per
epoch, not once per member; under ``vmap`` the first layer becomes one matmul of the shared batch
against all members' kernels side by side. On a CPU that is the faster formulation (see
``scripts/bench_population.py``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn import distributed as distributed_lib
from fnn import inputs, saving, training
from fnn.callbacks import History
from fnn.checks import check_seed
from fnn.engine import Engine, Lift, Trainer
from fnn.layers import Dropout, Layer, Serial
from fnn.models import Sequential
from fnn.registry import unknown_name_error

#: The ``hyperparams`` name of Dropout's rate (every Dropout layer of the model takes the value).
DROPOUT_RATE = "rate"

#: Members trained side by side on a CPU by default; groups of them run one after another in the
#: same program. Measured on a 2-core CPU, seed MLP, batch 32, 32 members, 60k examples
#: (scripts/bench_population.py): 8 at a time 1.33x the member-examples/s of 32 fits one after
#: another (1.42x with shared_order); all 32 at once 0.89x (1.00x): XLA's CPU batched matmuls
#: for such small shapes gain nothing, and the per-member copies of the epoch's batches outgrow
#: the caches.
CPU_PARALLEL_MEMBERS = 8


class Population(Trainer):
    """``size`` copies of a compiled :class:`~fnn.models.Sequential`, trained side by side.

    Attributes ``params``, ``state`` and ``opt_state`` are the members' pytrees stacked along a
    leading axis of length N; ``train_state`` holds them with the counters. ``active`` says which
    members still train (callbacks freeze the others, see :meth:`freeze`); ``hyperparams`` holds
    each swept hyperparameter's per-member values, ``(N,)`` arrays, once the members are built.

    Args:
        model: a compiled Sequential; its layers, loss, metrics, optimizer and distribution are
            reused (the model itself is left untouched).
        size: number of members, N ≥ 1.
        seeds: one int per member (init, shuffle order and dropout keys); by default
            ``model.seed + arange(size)``. Seeds may repeat (e.g. a learning-rate sweep from one
            initialisation).
        hyperparams: per-member values of the optimizer's injected float hyperparameters,
            ``{"learning_rate": [N floats], "weight_decay": [...]}``, and ``"rate"`` for the
            model's Dropout layers (all of them take the member's rate); a single float applies
            to every member.
        shared_order: all members see the batches in member 0's order (faster on a CPU; the
            members then differ only in initialisation and hyperparameters).
        parallel_members: how many members one compiled step trains side by side (``vmap``);
            groups run one after another inside the same program (``lax.map``). Default: all
            of them on an accelerator or with :class:`~fnn.distributed.MemberParallel`,
            :data:`CPU_PARALLEL_MEMBERS` on a CPU. Results do not depend on it beyond float
            rounding.
        distribution: where the members train: None (the model's compile distribution: one
            device, or :class:`~fnn.distributed.DataParallel` with each batch sharded and the
            members replicated), or :class:`~fnn.distributed.MemberParallel` (members split
            across devices, no communication).

    Raises:
        TypeError: if ``model`` is not a Sequential, ``hyperparams`` not a dict, or a value of
            the wrong type (``size``, ``seeds``, a hyperparameter's values).
        ValueError: if ``model`` is not compiled with an optimizer and a loss, ``size``,
            ``seeds`` or ``parallel_members`` is invalid, a hyperparameter name is unknown, has
            not N values, is not finite, or comes from a schedule, or the distribution cannot
            hold the members.

    Example:
        >>> import fnn
        >>> from fnn.layers import Dense
        >>> model = fnn.Sequential([Dense(1, input_shape=2)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> pop = fnn.Population(model, size=4, hyperparams={"learning_rate": 0.1})
        >>> pop.seeds, pop.params[0]["kernel"].shape
        ((0, 1, 2, 3), (4, 2, 1))
    """

    def __init__(
        self,
        model: Sequential,
        size: int,
        *,
        seeds: Sequence[int] | None = None,
        hyperparams: Mapping[str, Any] | None = None,
        shared_order: bool = False,
        parallel_members: int | None = None,
        distribution: distributed_lib.Distribution | None = None,
    ) -> None:
        if not isinstance(model, Sequential):
            raise TypeError(
                f"model must be a compiled fnn.Sequential, got {type(model).__name__}: {model!r}."
            )
        if model.optimizer is None or model.loss is None:
            raise ValueError(
                "model must be compiled with an optimizer and a loss: call "
                "model.compile(optimizer, loss) before fnn.Population(model, size)."
            )
        self.size = inputs.check_positive_int(size, "size")
        self._seeds = _check_seeds(seeds, model.seed, self.size)
        self.shared_order = bool(shared_order)
        dist = model.distribution_strategy if distribution is None else distribution
        self._distribution = distributed_lib.get(dist)
        self._distribution.check_lift(self.size)
        if parallel_members is None:
            on_cpu = jax.default_backend() == "cpu"
            split = isinstance(self._distribution, distributed_lib.MemberParallel)
            parallel_members = (
                min(self.size, CPU_PARALLEL_MEMBERS) if on_cpu and not split else self.size
            )
        self.parallel_members = inputs.check_positive_int(parallel_members, "parallel_members")
        # A private copy of the model's specification: building it on data never touches
        # ``model``, and later changes to ``model`` do not reach the population.
        self._spec = Sequential(
            [copy.copy(x) for x in model.layers], seed=model.seed, dtype_policy=model.dtype_policy
        )
        self._spec.name = model.name
        self._spec.compile(**model.compile_args)
        if model.input_shape is not None and model.built:
            self._spec.build(model.input_shape)
        if hyperparams is not None and not isinstance(hyperparams, Mapping):
            raise TypeError(
                "hyperparams must be a dict {name: one value per member}, e.g. "
                f"{{'learning_rate': [1e-3, 1e-2]}}, got {type(hyperparams).__name__}."
            )
        self._hyperparams_in = dict(hyperparams or {})
        self.hyperparams: dict[str, np.ndarray] = {}
        self.train_state = None
        self.history: History | None = None
        self.stop_training = False
        self.active = np.ones(self.size, bool)
        self._engine: tuple[Any, Engine] | None = None
        # Check the hyperparameters now (names, lengths) so bad input fails at construction.
        self._check_hyperparams(self._hyperparams_in)
        self._spec_snapshot = None
        if self._spec.built:
            self._init_members()

    # -- the train state --------------------------------------------------------------------
    @property
    def built(self) -> bool:
        """Whether the members' parameters exist (the input shape is known)."""
        return self.train_state is not None

    @property
    def metrics_names(self) -> list[str]:
        """``["loss", *compiled metric names]``, as the model's."""
        return self._spec.metrics_names

    @property
    def members(self) -> int:
        """The number of members, N (the leading axis of every train-state leaf)."""
        return self.size

    @property
    def seeds(self) -> tuple[int, ...]:
        """One seed per member (initialisation, shuffle order, dropout keys)."""
        return self._seeds

    # -- what the engine needs ---------------------------------------------------------------
    @property
    def spec(self) -> _PopulationSpec:
        """The model the door checks data against; building it on data builds the members."""
        return _PopulationSpec(self)

    def engine_distribution(self) -> distributed_lib.Distribution:
        """The population's distribution (``distribution``, else the model's).

        Returns:
            The resolved :class:`fnn.distributed.Distribution`.
        """
        return self._distribution

    def order_seeds(self) -> tuple[int, ...]:
        """The seeds whose permutations order each epoch's examples.

        Returns:
            Member 0's seed alone with ``shared_order``, else every member's seed.
        """
        return self.seeds[:1] if self.shared_order else self.seeds

    @property
    def engine(self) -> Engine:
        """The engine over the members (rebuilt only when the model's setup changes)."""
        spec = self._spec
        key = (spec.engine, self._distribution, self.parallel_members)
        if self._engine is None or any(
            a is not b for a, b in zip(self._engine[0], key, strict=True)
        ):
            base = spec.engine
            engine = Engine(
                self._net(),
                base.loss,
                base.optimizer,
                base.metrics,
                self._distribution,
                Lift(self.size, self.parallel_members),
            )
            self._engine = (key, engine)
        return self._engine[1]

    def commit_epoch(self, old: training.TrainState, new: training.TrainState) -> Any:
        """Frozen members (see :meth:`freeze`) keep their state from before the epoch.

        Args:
            old: the members' train state before the epoch.
            new: their train state after it.

        Returns:
            ``new`` for the active members and ``old`` for the frozen ones, leaf by leaf.
        """
        if self.active.all():
            return new
        mask = jnp.asarray(self.active)

        def pick(n: Any, o: Any) -> Any:
            return jnp.where(mask.reshape((-1,) + (1,) * (jnp.ndim(n) - 1)), n, o)

        return jax.tree.map(pick, new, old)

    def summarize_logs(self, logs: dict[str, Any]) -> dict[str, float]:
        """The members' mean of each log, for progress and evaluate's line.

        Args:
            logs: ``{name: (N,) values}`` of an epoch or an evaluation.

        Returns:
            ``{name: mean over members}``, floats.
        """
        return {k: float(np.mean(v)) for k, v in logs.items()}

    def describe_logs(self) -> str:
        """Says that the values shown are means over the members.

        Returns:
            ``" (mean of N members)"``.
        """
        return f" (mean of {self.size} members)"

    def freeze(self, members: Any) -> None:
        """Stop training the given members (a bool mask of length N, or indices): from the next
        epoch on their state stays as it is (callbacks such as EarlyStopping call this);
        training stops once every member is frozen. ``fit`` unfreezes all members when it
        starts.

        Args:
            members: which members to freeze: a bool mask of length N, or an int index or
                indices; members frozen before stay frozen.
        """
        mask = np.zeros(self.size, bool)
        mask[np.asarray(members)] = True
        self.active &= ~mask
        if not self.active.any():
            self.stop_training = True

    def begin_fit(self) -> None:
        """Every member trains again when a fit starts."""
        self.active = np.ones(self.size, bool)

    # -- building ---------------------------------------------------------------------------
    def _check_hyperparams(self, hyperparams: dict[str, Any]) -> None:
        if not hyperparams:
            return
        probe_params = {"w": jnp.zeros((1,), jnp.float32)}
        assert self._spec.optimizer is not None  # compiled: checked in __init__
        probe = self._spec.optimizer.init(probe_params)
        valid = sorted(getattr(probe, "hyperparams", None) or {})
        if self._dropout_layers():
            valid.append(DROPOUT_RATE)
        for name, values in hyperparams.items():
            if name not in valid:
                if not valid:
                    raise ValueError(
                        f"hyperparams got {name!r}, but the optimizer has no injected "
                        "hyperparameters (build it with a fnn.optimizers constructor or "
                        "optax.inject_hyperparams) and the model has no Dropout layer."
                    )
                raise unknown_name_error("hyperparams name", name, valid)
            arr = np.asarray(values, dtype=np.float64) if _is_numbers(values) else None
            if arr is None or arr.ndim > 1:
                raise TypeError(
                    f"hyperparams[{name!r}] must be a float or a list of {self.size} floats, "
                    f"got {values!r}."
                )
            if arr.ndim == 1 and arr.shape[0] != self.size:
                raise ValueError(
                    f"hyperparams[{name!r}] has {arr.shape[0]} values, but the population has "
                    f"size={self.size} members; give one value per member."
                )
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"hyperparams[{name!r}] holds NaN or inf: {values!r}.")
            if name == DROPOUT_RATE and not np.all((arr >= 0) & (arr < 1)):
                raise ValueError(
                    f"hyperparams['rate'] is the fraction of inputs Dropout drops and must be in "
                    f"[0, 1), got {values!r}."
                )
        swept = [name for name in hyperparams if name != DROPOUT_RATE]
        if swept:
            self._check_injected(probe_params, probe, swept)

    def _dropout_layers(self) -> list[int]:
        return [i for i, layer in enumerate(self._spec.layers) if isinstance(layer, Dropout)]

    def _swept_rate(self) -> bool:
        return DROPOUT_RATE in self._hyperparams_in

    def _net(self) -> Serial:
        """The network the compiled functions run: the model's, except that with a swept
        dropout rate each Dropout layer reads its member's rate from the (vmapped) state."""
        net = self._spec.net
        if not self._swept_rate():
            return net
        layers = [_RateFromState(x) if isinstance(x, Dropout) else x for x in net.layers]
        return Serial(layers, name=net.name, compute_dtype=net.compute_dtype)

    def _init_members(self) -> None:
        """Member i's train state is exactly ``Sequential(seed=seeds[i])``'s (same keys), all
        initialised by one compiled program."""
        spec = self._spec
        net, tx, shape = Serial(spec.layers), spec.optimizer, spec.input_shape
        init = jax.vmap(lambda s: training.init_train_state(net, tx, jax.random.key(s), shape))
        ts = training.run_once(init, np.asarray(self.seeds, np.uint32))
        state = list(ts.state)
        rates = None
        if self._swept_rate():
            given = self._hyperparams_in[DROPOUT_RATE]
            rates = jnp.broadcast_to(jnp.asarray(given, jnp.float32), (self.size,))
            for i in self._dropout_layers():
                state[i] = {"rate": rates}
        opt_state = ts.opt_state
        hyper = getattr(opt_state, "hyperparams", None) or {}
        values = {}
        for name, given in self._hyperparams_in.items():
            if name == DROPOUT_RATE:
                continue
            old = hyper[name]
            values[name] = jnp.broadcast_to(jnp.asarray(given, old.dtype), old.shape)
        if values:
            opt_state = opt_state._replace(hyperparams={**hyper, **values})
        ts = ts._replace(state=state, opt_state=opt_state)
        self.train_state = self._distribution.place_state(ts)
        self.hyperparams = {k: np.asarray(v) for k, v in values.items()}
        if rates is not None:
            self.hyperparams[DROPOUT_RATE] = np.asarray(rates)

    def _check_injected(self, params: Any, opt_state: Any, names: list[str]) -> None:
        """A schedule recomputes its hyperparameter every step: a stored value would be lost.
        One update of a probe state tells: a constant keeps the value it was given."""
        hyper = opt_state.hyperparams
        sentinel = {k: jnp.asarray(0.125, hyper[k].dtype) for k in names}
        state = opt_state._replace(hyperparams={**hyper, **sentinel})
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        assert self._spec.optimizer is not None
        _, new_state = self._spec.optimizer.update(zeros, state, params)
        for name in names:
            if float(new_state.hyperparams[name]) != 0.125:
                raise ValueError(
                    f"hyperparams[{name!r}]: the optimizer computes {name} from a schedule, so "
                    "a per-member value would be overwritten; compile the model with a constant "
                    f"{name} to sweep it."
                )

    # -- predict ----------------------------------------------------------------------------
    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        steps: int | None = None,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
        reduce: str | None = None,
    ) -> np.ndarray:
        """Every member's outputs, shape ``(N, n, *output)``; ``reduce="mean"`` gives the
        ensemble mean over members, shape ``(n, *output)``.

        Args:
            x: inputs, or a pipeline of batches (as :meth:`fnn.models.Sequential.predict`).
            batch_size: examples per step (default 32).
            verbose: accepted for Keras compatibility (nothing is printed).
            steps: batches to take from a pipeline (None: until it is exhausted).
            check_finite: scan ``x`` for NaN and inf first.
            max_device_bytes: data above this many bytes streams from the host in chunks
                (``"auto"``: half the accelerator's memory; None: no limit).
            reduce: None for every member's outputs, or ``"mean"`` for their mean.

        Returns:
            A NumPy array, ``(N, n, *output_shape)``, or ``(n, *output_shape)`` with
            ``reduce="mean"``.

        Raises:
            ValueError: if ``reduce`` is not None or ``"mean"``, or the data is invalid.
        """
        if reduce not in (None, "mean"):
            raise ValueError(f"reduce must be None or 'mean', got {reduce!r}.")
        out = super().predict(
            x,
            batch_size=batch_size,
            verbose=verbose,
            steps=steps,
            check_finite=check_finite,
            max_device_bytes=max_device_bytes,
        )
        return out.mean(axis=0) if reduce == "mean" else out

    # -- members ----------------------------------------------------------------------------
    def _require_built(self, method: str) -> None:
        if not self.built:
            raise ValueError(
                f"population.{method}() needs built members: give the model's first layer "
                "input_shape, or fit the population on data first."
            )

    def member(self, index: int) -> Sequential:
        """Member ``index`` as a plain, compiled Sequential: its seed, parameters, state and
        optimizer state (per-member hyperparameters included), ready to fit on alone.

        Args:
            index: the member's position, in ``[-N, N)`` (negative counts from the end).

        Returns:
            A new, compiled :class:`~fnn.models.Sequential` holding a copy of the member's
            train state (epoch counter and dropout key included); a swept dropout rate becomes
            its Dropout layers' ``rate``.

        Raises:
            TypeError: if ``index`` is not an int.
            ValueError: if ``index`` is out of range, or the members are not built yet.
        """
        self._require_built("member")
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an int, got {type(index).__name__}: {index!r}.")
        if not -self.size <= index < self.size:
            raise ValueError(f"index must be in [0, {self.size}), got {index}.")
        spec = self._spec
        layers = [copy.copy(x) for x in spec.layers]
        swept = self._dropout_layers() if self._swept_rate() else []
        for i in swept:
            given = np.asarray(self._hyperparams_in[DROPOUT_RATE], np.float64)
            layer = layers[i]
            assert isinstance(layer, Dropout)
            layer.rate = float(np.broadcast_to(given, (self.size,))[index])
        model = Sequential(layers, seed=self.seeds[index], dtype_policy=spec.dtype_policy)
        model.name = spec.name
        if not model.built and spec.input_shape is not None:
            model.build(spec.input_shape)
        model.compile(**spec.compile_args)
        # The member's whole train state: weights, optimizer state, epoch counter, dropout key.
        ts = jax.tree_util.tree_map(lambda a: a[index], self.train_state)
        state = list(ts.state)
        for i in swept:
            state[i] = {}  # the rate lives in the member's Dropout layer again
        model.train_state = ts._replace(state=state)
        return model

    def best_index(self, metric: str | None = None, mode: str = "auto") -> int:
        """The member with the best value of ``metric`` in the last epoch of the last fit.

        ``metric`` defaults to ``"val_loss"`` when validation ran, else ``"loss"``; ``mode``
        ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, as Keras's callbacks decide).

        Args:
            metric: a key of ``population.history.history`` (e.g. ``"val_accuracy"``); None:
                ``"val_loss"`` if validation ran, else ``"loss"``.
            mode: ``"min"``, ``"max"``, or ``"auto"`` (``"max"`` when the name contains
                ``acc`` or ``auc``, else ``"min"``).

        Returns:
            The index of the best member; a NaN value ranks last.

        Raises:
            ValueError: if the population has not been fit, ``metric`` is not in its history,
                or ``mode`` is not one of the three.
        """
        if self.history is None or not self.history.history:
            raise ValueError("best() ranks members by their last fit: call population.fit first.")
        logs = self.history.history
        if metric is None:
            metric = "val_loss" if "val_loss" in logs else "loss"
        if metric not in logs:
            raise unknown_name_error("metric", metric, list(logs))
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}.")
        if mode == "auto":
            mode = "max" if "acc" in metric or "auc" in metric else "min"
        values = np.asarray(logs[metric][-1], dtype=np.float64)
        values = np.where(np.isnan(values), np.inf if mode == "min" else -np.inf, values)
        return int(np.argmin(values) if mode == "min" else np.argmax(values))

    def best(self, metric: str | None = None, mode: str = "auto") -> Sequential:
        """The best member (see :meth:`best_index`) as a plain Sequential.

        Args:
            metric: as in :meth:`best_index`.
            mode: as in :meth:`best_index`.

        Returns:
            That member, as :meth:`member` gives it.
        """
        return self.member(self.best_index(metric, mode))

    # -- saving -----------------------------------------------------------------------------
    def export(
        self,
        filepath: str | os.PathLike[str],
        *,
        member: int | None = None,
        batch_size: int | None = None,
    ) -> Any:
        """A ``jax.export`` artifact of one member's inference function (``member=i``) or of
        the whole population (outputs ``(N, batch, ...)``); see :mod:`fnn.export`.

        Args:
            filepath: where to write the serialized artifact.
            member: export only this member; None: every member.
            batch_size: a fixed batch size; None: symbolic (any batch size at call time).

        Returns:
            The ``jax.export.Exported`` object.
        """
        from fnn.export import export_model

        return export_model(self, filepath, member=member, batch_size=batch_size)

    def save(self, path: str | Path) -> None:
        """Write the population to ``path`` in fnn's archive format (:mod:`fnn.archive`: JSON
        and ``.npy`` members, no pickles, written atomically), format ``"fnn.population"``: the
        model's config and compile settings, the members' stacked arrays, seeds, per-member
        hyperparameters, the epoch counter, the callbacks' state and the last fit's history.
        Read it with :func:`load_population`.

        Args:
            path: the file to write.
        """
        self._require_built("save")
        saving.save_population(self, path)

    @property
    def model_spec(self) -> Sequential:
        """The population's private copy of the model (its layers and compile settings)."""
        return self._spec


class _PopulationSpec:
    """The population's model specification as the door sees it: the private Sequential,
    whose lazy build also initialises the members."""

    def __init__(self, pop: Population) -> None:
        self._pop = pop
        spec = pop._spec
        self.layers, self.loss, self.optimizer = spec.layers, spec.loss, spec.optimizer
        self.net, self.compiled_metrics = spec.net, spec.compiled_metrics
        self.steps_per_execution = spec.steps_per_execution

    @property
    def built(self) -> bool:
        return self._pop._spec.built

    @property
    def input_shape(self) -> Any:
        return self._pop._spec.input_shape

    @property
    def output_shape(self) -> Any:
        return self._pop._spec.output_shape

    def build(self, input_shape: Any) -> None:
        self._pop._spec.build(input_shape)
        self._pop._init_members()

    def snapshot(self) -> Any:
        return self._pop._spec.snapshot(), self._pop.train_state, dict(self._pop.hyperparams)

    def restore(self, saved: Any) -> None:
        spec_saved, self._pop.train_state, self._pop.hyperparams = saved
        self._pop._spec.restore(spec_saved)


def load_population(
    path: str | Path, *, optimizer: optax.GradientTransformation | str | None = None
) -> Population:
    """Read a population written by :meth:`Population.save` (see
    :func:`fnn.saving.load_population`).

    ``optimizer`` replaces the saved one; it is required when the model was compiled with an
    Optax transformation that has no fnn name (as for :func:`fnn.models.load_model`). Any file
    that is not a valid population raises a ValueError before anything large is allocated.

    Args:
        path: the file :meth:`Population.save` wrote.
        optimizer: the optimizer to compile with instead of the saved one; the saved
            optimizer state is restored into it.

    Returns:
        The compiled :class:`Population`: its members' arrays, seeds, hyperparameters, epoch
        counter, callbacks' state and last fit's history as saved.
    """
    return saving.load_population(Population, Sequential, path, optimizer=optimizer)


class _RateFromState(Layer):
    """A Dropout layer whose rate comes from ``state["rate"]`` (a per-member, vmapped value)."""

    def __init__(self, inner: Dropout) -> None:
        super().__init__(input_shape=inner.input_shape, name=inner.name)
        self.inner = inner

    def output_shape(self, input_shape: Any) -> tuple[int, ...]:
        return self.inner.output_shape(input_shape)

    def call(self, params, state, x, *, key=None, training=False):
        if not training:
            return x, state
        return self.inner.drop(x, state["rate"], key), state


def _check_seeds(seeds: Any, base: int, size: int) -> tuple[int, ...]:
    if seeds is None:
        return tuple(check_seed(base + i, "seeds") for i in range(size))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise TypeError(f"seeds must be a list of {size} ints, got {type(seeds).__name__}.")
    seeds = list(seeds)
    if len(seeds) != size:
        raise ValueError(
            f"seeds has {len(seeds)} values, but the population has size={size} members."
        )
    return tuple(check_seed(s, f"seeds[{i}]") for i, s in enumerate(seeds))


def _is_numbers(values: Any) -> bool:
    try:
        arr = np.asarray(values)
    except Exception:
        return False
    return arr.dtype.kind in "iuf" and arr.dtype != object
