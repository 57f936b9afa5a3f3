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

``shared_order=True`` makes every member see the batches in member 0's order. Members then
differ only in their initialisation and hyperparameters, and the data is gathered once per
epoch, not once per member; under ``vmap`` the first layer becomes one matmul of the shared batch
against all members' kernels side by side. On a CPU that is the faster formulation (see
``scripts/bench_population.py``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn import archive, saving, training
from fnn import data as data_lib
from fnn.callbacks import History
from fnn.layers import Dropout, Layer, Serial
from fnn.models import (
    Sequential,
    _add_sums,
    _due,
    evaluate_result,
    layer_key,
    root_key,
    run_epoch,
)
from fnn.progress import ProgressBar, format_logs, resolve_verbose
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


class Population:
    """``size`` copies of a compiled :class:`~fnn.models.Sequential`, trained side by side.

    Args:
        model: a compiled Sequential; its layers, loss, metrics and optimizer are reused (the
            model itself is left untouched).
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
            of them on an accelerator, :data:`CPU_PARALLEL_MEMBERS` on a CPU. Results do not
            depend on it beyond float rounding.

    Attributes ``params``, ``state`` and ``opt_state`` are the members' pytrees stacked along a
    leading axis of length N.
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
        self.size = data_lib.check_positive_int(size, "size")
        self.seeds = _check_seeds(seeds, model.seed, self.size)
        self.shared_order = bool(shared_order)
        if parallel_members is None:
            on_cpu = jax.default_backend() == "cpu"
            parallel_members = min(self.size, CPU_PARALLEL_MEMBERS) if on_cpu else self.size
        self.parallel_members = data_lib.check_positive_int(parallel_members, "parallel_members")
        # A private copy of the model's specification: building it on data never touches
        # ``model``, and later changes to ``model`` do not reach the population.
        self._spec = Sequential(
            [copy.copy(x) for x in model.layers], seed=model.seed, dtype_policy=model.dtype_policy
        )
        self._spec.name = model.name
        if model.built and not self._spec.built:
            self._spec.build(model.input_shape)
        self._spec.compile(**model._compile_args)
        if hyperparams is not None and not isinstance(hyperparams, Mapping):
            raise TypeError(
                "hyperparams must be a dict {name: one value per member}, e.g. "
                f"{{'learning_rate': [1e-3, 1e-2]}}, got {type(hyperparams).__name__}."
            )
        self._hyperparams_in = dict(hyperparams or {})
        self.hyperparams: dict[str, np.ndarray] = {}
        self.params: Any = None
        self.state: Any = None
        self.opt_state: Any = None
        self.history: History | None = None
        self._functions: dict[Any, Any] = {}
        # Check the hyperparameters now (names, lengths) so bad input fails at construction.
        self._check_hyperparams(self._hyperparams_in)
        if self._spec.built:
            self._init_members()

    # -- building ---------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.params is not None

    @property
    def metrics_names(self) -> list[str]:
        return self._spec.metrics_names

    def _check_hyperparams(self, hyperparams: dict[str, Any]) -> None:
        if not hyperparams:
            return
        probe_params = {"w": jnp.zeros((1,), jnp.float32)}
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
        """Member i's params are exactly ``Sequential(seed=seeds[i])``'s (same key derivation)."""
        layers = self._spec.layers
        shapes = Serial(layers).input_shapes(self._spec.input_shape)

        # One member at a time, as Sequential.build does it: the same eager ops and shapes, so
        # their compilations are shared with single models (a vmapped init compiles anew).
        members = [
            [layer.init(layer_key(seed, i), shapes[i]) for i, layer in enumerate(layers)]
            for seed in self.seeds
        ]
        params = jax.tree_util.tree_map(lambda *a: jnp.stack(a), *members)
        state = jax.tree_util.tree_map(
            lambda a: jnp.broadcast_to(a, (self.size, *jnp.shape(a))), self._spec.state
        )
        rates = None
        if self._swept_rate():
            given = self._hyperparams_in[DROPOUT_RATE]
            rates = jnp.broadcast_to(jnp.asarray(given, jnp.float32), (self.size,))
            for i in self._dropout_layers():
                state[i] = {"rate": rates}
        opt_state = jax.vmap(self._spec.optimizer.init)(params)
        hyper = getattr(opt_state, "hyperparams", None) or {}
        values = {}
        for name, given in self._hyperparams_in.items():
            if name == DROPOUT_RATE:
                continue
            old = hyper[name]
            values[name] = jnp.broadcast_to(jnp.asarray(given, old.dtype), old.shape)
        if values:
            opt_state = opt_state._replace(hyperparams={**hyper, **values})
        self.params, self.state, self.opt_state = params, state, opt_state
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
        _, new_state = self._spec.optimizer.update(zeros, state, params)
        for name in names:
            if float(new_state.hyperparams[name]) != 0.125:
                raise ValueError(
                    f"hyperparams[{name!r}]: the optimizer computes {name} from a schedule, so "
                    "a per-member value would be overwritten; compile the model with a constant "
                    f"{name} to sweep it."
                )

    def _ensure_built(self) -> None:
        """Initialise the members once the specification is built (on the first data)."""
        if not self.built:
            self._init_members()

    # -- compiled functions -----------------------------------------------------------------
    def _function(self, kind: str, batch_size: int | None = None) -> Any:
        """The jitted training/eval/predict function over all members, built once."""
        key = (kind, batch_size)
        if key not in self._functions:
            spec = self._spec
            net = self._net()
            over = self._over_members
            if kind == "train":
                step = training.make_train_step(
                    net, spec.loss, spec.optimizer, spec.compiled_metrics
                )
                loop = training.make_train_loop(step)

                def train(params, opt_state, state, data, order, rest, roots, epoch, step0):
                    # Stacked orders come step-major, (steps, N, batch) and (rest, N), so that
                    # data.epoch_pieces splits them by steps as it splits a single model's.
                    own = None if self.shared_order else (order.swapaxes(0, 1), rest.swapaxes(0, 1))

                    def one(member):
                        p, o, s, root, own_order = member
                        od, rd = (order, rest) if own_order is None else own_order
                        key = jax.random.fold_in(root, epoch)
                        return loop(p, o, s, data, od, rd, key, step0)

                    return over(one, (params, opt_state, state, roots, own))

                fn = jax.jit(train)
            elif kind == "eval":
                evaluate = training.make_eval_loop(
                    training.make_eval_step(net, spec.loss, spec.compiled_metrics), batch_size
                )
                fn = jax.jit(lambda p, s, data: over(lambda m: evaluate(*m, data), (p, s)))
            else:
                predict = training.make_predict_loop(net, batch_size)
                fn = jax.jit(lambda p, s, x: over(lambda m: predict(*m, x), (p, s)))
            self._functions[key] = fn
        return self._functions[key]

    def _over_members(self, fn: Any, members: Any) -> Any:
        """``fn`` over the members (the leading axis of ``members``): ``parallel_members`` of
        them side by side (``vmap``), groups one after another (``lax.map``)."""
        k = self.parallel_members
        if k >= self.size:
            return jax.vmap(fn)(members)
        return jax.lax.map(fn, members, batch_size=k if k > 1 else None)

    def _orders(
        self, n: int, batch_size: int, epoch: int, shuffle: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Each member's order, as its own single-model fit would draw it, stacked on axis 1
        (``(steps, N, batch)``, ``(rest, N)``); member 0's alone when the order is shared."""
        seeds = self.seeds[:1] if self.shared_order else self.seeds
        pairs = [
            data_lib.epoch_order(n, batch_size, seed=s, epoch=epoch, shuffle=shuffle) for s in seeds
        ]
        if self.shared_order:
            return pairs[0]
        return np.stack([p[0] for p in pairs], axis=1), np.stack([p[1] for p in pairs], axis=1)

    # -- training ---------------------------------------------------------------------------
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        validation_split: float = 0.0,
        validation_data: tuple[Any, ...] | None = None,
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
        check_finite: bool = True,
    ) -> History:
        """Train every member for ``epochs`` epochs, one compiled program per epoch.

        Arguments as :meth:`fnn.models.Sequential.fit` (no callbacks). Returns a History whose
        ``history[name]`` lists, per epoch, an array of shape ``(N,)``: one value per member.
        Progress (``verbose=1, 2``) shows the mean over members.
        """
        spec = self._spec
        # The door checks and data preparation are the single model's.
        plan = spec._fit_plan(
            x,
            y,
            batch_size,
            epochs,
            verbose,
            validation_split,
            validation_data,
            class_weight,
            sample_weight,
            initial_epoch,
            validation_batch_size,
            validation_freq,
            check_finite,
        )
        batch_size, epochs, verbose, arrays, val_arrays, val_batch = plan
        self._ensure_built()
        n = arrays[0].shape[0]

        loop = self._function("train")
        # The data stays whole on the device (no streaming: members read it in their own orders).
        placed = data_lib.place(arrays, batch_size, None)
        device_val = None if val_arrays is None else _to_device(val_arrays)
        dropout_roots = jax.vmap(lambda s: root_key(s, 1))(jnp.asarray(self.seeds, jnp.uint32))
        history = History()
        self.history = history
        steps_per_epoch = math.ceil(n / batch_size)
        for epoch in range(initial_epoch, epochs):
            order, rest = self._orders(n, batch_size, epoch, shuffle)
            carry = (self.params, self.opt_state, self.state)
            bar = None
            if verbose == 1:
                bar = ProgressBar(steps_per_epoch, desc=f"Epoch {epoch + 1}/{epochs}")
            carry, sums = run_epoch(
                loop,
                carry,
                placed,
                order,
                rest,
                (dropout_roots, jnp.int32(epoch)),
                bar,
                _mean_logs,
            )
            logs = spec._ordered(_member_means(sums))
            # The epoch completed: commit its results (an interrupted epoch commits nothing).
            self.params, self.opt_state, self.state = carry
            if device_val is not None and _due(epoch, validation_freq):
                val_logs = self._evaluate_arrays(device_val, val_batch)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            summary = {k: float(np.mean(v)) for k, v in logs.items()}
            if bar is not None:
                bar.close(summary)
            elif verbose == 2:
                print(
                    f"Epoch {epoch + 1}/{epochs} - {format_logs(summary)} "
                    f"(mean of {self.size} members)",
                    flush=True,
                )
            history.on_epoch_end(epoch, logs)
        return history

    def _evaluate_arrays(self, device_data: tuple[Any, ...], batch_size: int) -> dict[str, Any]:
        loop = self._function("eval", batch_size)
        sums = jax.device_get(loop(self.params, self.state, device_data))
        return self._spec._ordered(_member_means(_add_sums(None, sums)))

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        return_dict: bool = False,
        check_finite: bool = True,
    ) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
        """Each member's loss and metrics on ``(x, y)``: arrays of shape ``(N,)``, arranged as
        :meth:`fnn.models.Sequential.evaluate` arranges floats. One compiled pass."""
        batch_size = data_lib.check_batch_size(batch_size)
        verbose = resolve_verbose(verbose)
        arrays = self._spec._prepare_xy(x, y, sample_weight, check_finite=check_finite)
        self._ensure_built()
        logs = self._evaluate_arrays(_to_device(arrays), batch_size)
        if verbose:
            summary = {k: float(np.mean(v)) for k, v in logs.items()}
            print(f"{format_logs(summary)} (mean of {self.size} members)", flush=True)
        return evaluate_result(logs, self.metrics_names, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        reduce: str | None = None,
    ) -> np.ndarray:
        """Every member's outputs, shape ``(N, n, *output)``; ``reduce="mean"`` gives the
        ensemble mean over members, shape ``(n, *output)``."""
        batch_size = data_lib.check_batch_size(batch_size)
        resolve_verbose(verbose)
        if reduce not in (None, "mean"):
            raise ValueError(f"reduce must be None or 'mean', got {reduce!r}.")
        xa = self._spec._prepare_x(x, check_finite=False)
        self._ensure_built()
        out = self._function("predict", batch_size)(self.params, self.state, jnp.asarray(xa))
        if reduce == "mean":
            out = jnp.mean(out, axis=0)
        return np.asarray(out)

    # -- members ----------------------------------------------------------------------------
    def _require_built(self, method: str) -> None:
        if not self.built:
            raise ValueError(
                f"population.{method}() needs built members: give the model's first layer "
                "input_shape, or fit the population on data first."
            )

    def member(self, index: int) -> Sequential:
        """Member ``index`` as a plain, compiled Sequential: its seed, parameters, state and
        optimizer state (per-member hyperparameters included), ready to fit on alone."""
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
            layers[i].rate = float(np.broadcast_to(given, (self.size,))[index])
        model = Sequential(layers, seed=self.seeds[index], dtype_policy=spec.dtype_policy)
        model.name = spec.name
        if not model.built:
            model.build(spec.input_shape)
        model.compile(**spec._compile_args)
        pick = jax.tree_util.tree_map(lambda a: a[index], (self.params, self.state, self.opt_state))
        model.params, model.state, model.opt_state = pick
        for i in swept:
            model.state[i] = {}  # the rate lives in the member's Dropout layer again
        return model

    def best_index(self, metric: str | None = None, mode: str = "auto") -> int:
        """The member with the best value of ``metric`` in the last epoch of the last fit.

        ``metric`` defaults to ``"val_loss"`` when validation ran, else ``"loss"``; ``mode``
        ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, as Keras's callbacks decide).
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
        """The best member (see :meth:`best_index`) as a plain Sequential."""
        return self.member(self.best_index(metric, mode))

    # -- saving -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the population to ``path`` in fnn's archive format (:mod:`fnn.saving`: JSON
        and ``.npy`` members, no pickles, written atomically), format ``"fnn.population"``: the
        model's config and compile settings, the members' stacked arrays, seeds, per-member
        hyperparameters and the last fit's history. Read it with :func:`load_population`."""
        self._require_built("save")
        groups = {
            "params": archive.leaves(self.params),
            "state": archive.leaves(self.state),
            "optimizer_state": archive.leaves(self.opt_state),
        }
        history = None
        if self.history is not None:
            history = {
                k: [np.asarray(v).tolist() for v in vals]
                for k, vals in self.history.history.items()
            }
        config = {
            "model": saving.sequential_config(self._spec),
            "compile": saving.compile_config(self._spec),
            "population": {
                "size": self.size,
                "seeds": list(self.seeds),
                "shared_order": self.shared_order,
                "hyperparams": {k: np.asarray(v).tolist() for k, v in self.hyperparams.items()},
            },
            "history": history,
            "arrays": {g: archive.manifest(leaves) for g, leaves in groups.items()},
        }
        archive.write_archive(path, archive.POPULATION_FORMAT, config, archive.arrays_only(groups))


def load_population(
    path: str | Path, *, optimizer: optax.GradientTransformation | str | None = None
) -> Population:
    """Read a population written by :meth:`Population.save`.

    ``optimizer`` replaces the saved one; it is required when the model was compiled with an
    Optax transformation that has no fnn name (as for :func:`fnn.models.load_model`). Any file
    that is not a valid population raises a ValueError before anything large is allocated.
    """
    source = repr(str(path))
    stored = archive.read_archive(path, archive.POPULATION_FORMAT)
    config, arrays, manifests = stored.config, stored.arrays, stored.manifests
    try:
        settings = saving.check_population_record(config)
        size = data_lib.check_positive_int(settings["size"], "size")
        abstract = saving.abstract_weights(config["model"])
        if abstract is None:
            raise ValueError("the model config has no input shape")
        # The members' shapes must match the file before the population is built.
        stacked = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct((size, *a.shape), a.dtype), abstract[0]
        )
        archive.check_fits(stacked, manifests["params"], "parameters", source)
        model = saving.sequential_from_config(Sequential, config["model"])
        compile_settings = config["compile"]
        if optimizer is None and compile_settings.get("optimizer") is None:
            raise ValueError(
                "the model was compiled with an Optax transformation that has no fnn name; "
                "pass it again: load_population(path, optimizer=tx)"
            )
        saving.compile_from_config(model, compile_settings, optimizer)
        pop = Population(
            model,
            size,
            seeds=settings["seeds"],
            hyperparams=settings["hyperparams"],
            shared_order=settings["shared_order"],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise archive.invalid_config(source, exc) from None
    restored = [
        archive.restore(tree, arrays[g], manifests[g], g.replace("_", " "), source)
        for tree, g in zip(
            (pop.params, pop.state, pop.opt_state),
            archive.GROUPS[archive.POPULATION_FORMAT],
            strict=True,
        )
    ]
    pop.params, pop.state, pop.opt_state = restored
    hyper = getattr(pop.opt_state, "hyperparams", None) or {}
    pop.hyperparams = {k: np.asarray(hyper[k]) for k in pop.hyperparams}
    if config.get("history") is not None:
        pop.history = History()
        for name, values in config["history"].items():
            pop.history.history[name] = [np.asarray(v) for v in values]
    return pop


class _RateFromState(Layer):
    """A Dropout layer whose rate comes from ``state["rate"]`` (a per-member, vmapped value)."""

    def __init__(self, inner: Dropout) -> None:
        super().__init__(input_shape=inner.input_shape, name=inner.name)
        self.inner = inner

    def output_shape(self, input_shape: Any) -> tuple[int, ...]:
        return self.inner.output_shape(input_shape)

    def call(self, params, state, x, *, key=None, training=False):
        layer = copy.copy(self.inner)
        layer.rate = state["rate"]
        return layer.call(params, {}, x, key=key, training=training)[0], state


def _check_seeds(seeds: Any, base: int, size: int) -> tuple[int, ...]:
    if seeds is None:
        return tuple(base + i for i in range(size))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)):
        raise TypeError(f"seeds must be a list of {size} ints, got {type(seeds).__name__}.")
    seeds = list(seeds)
    if len(seeds) != size:
        raise ValueError(
            f"seeds has {len(seeds)} values, but the population has size={size} members."
        )
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"seeds must hold non-negative ints, got {s!r}.")
    return tuple(int(s) for s in seeds)


def _is_numbers(values: Any) -> bool:
    try:
        arr = np.asarray(values)
    except Exception:
        return False
    return arr.dtype.kind in "iuf" and arr.dtype != object


def _to_device(arrays: Sequence[np.ndarray | None]) -> tuple[Any, ...]:
    return tuple(None if a is None else jnp.asarray(a) for a in arrays)


def _member_means(sums: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per-member means from summed logs: arrays of shape (N,)."""
    count = np.asarray(sums["count"], np.float64)
    return {k: (np.asarray(v, np.float64) / count) for k, v in sums.items() if k != "count"}


def _mean_logs(sums: dict[str, Any]) -> dict[str, float]:
    return {k: float(np.mean(v)) for k, v in _member_means(sums).items()}
