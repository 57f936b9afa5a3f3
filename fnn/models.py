"""The Sequential model: Keras's facade over fnn's pure layers and training functions.

It holds the layers, the parameters (``model.params``, a plain pytree), the non-trainable state,
the optimizer state and the compile settings, and calls :mod:`fnn.training` to do the work: one
compiled XLA program per epoch, the data on the device, one host sync per epoch::

    >>> import numpy as np
    >>> from fnn.models import Sequential
    >>> from fnn.layers import Dense
    >>> model = Sequential(seed=0)
    >>> model.add(Dense(8, activation="relu", input_shape=4))
    >>> model.add(Dense(3, activation="softmax"))
    >>> model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    >>> x = np.random.rand(64, 4).astype("float32")
    >>> y = np.eye(3)[np.random.randint(0, 3, 64)]
    >>> history = model.fit(x, y, epochs=2, verbose=0)
    >>> sorted(history.history)
    ['accuracy', 'loss']
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn import data as data_lib
from fnn import distributed as distributed_lib
from fnn import losses as losses_lib
from fnn import metrics as metrics_lib
from fnn import mixed_precision, saving, training
from fnn import optimizers as optimizers_lib
from fnn import summary as summary_lib
from fnn.callbacks import Callback, CallbackList, History
from fnn.callbacks.base import check_callbacks
from fnn.layers import Input, Layer, Serial, as_shape, count_params
from fnn.progress import ProgressBar, format_logs, resolve_verbose

#: Progress-bar updates per epoch at verbose=1 (each update is one host sync).
PROGRESS_UPDATES = 10

#: Optimizers given by name run on one flat parameter vector (``optax.flatten``) when the model
#: has at most this many parameters: fewer, larger element-wise ops per step. Measured on a 2-core
#: CPU: +8% examples/s on the 3k-parameter seed MLP, -13% on a 1.9M-parameter MLP (the ravel
#: copies cost more than they save), hence the bound.
FLATTEN_MAX_PARAMS = 1 << 17


class FitPlan(NamedTuple):
    """What fit's door checks return: validated settings and host arrays."""

    batch_size: int
    epochs: int
    verbose: int
    arrays: list[Any]
    val_arrays: list[Any] | None
    val_batch: int


class Sequential:
    """A linear stack of layers with Keras's ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

    Args:
        layers: layers to add, in order.
        seed: makes initialisation, shuffling and dropout reproducible.
        name: the model's name.
        dtype_policy: ``"float32"`` (default) or ``"mixed_bfloat16"``: float32 parameters,
            bfloat16 layer computation (see :mod:`fnn.mixed_precision`).
    """

    def __init__(
        self,
        layers: Sequence[Layer] | None = None,
        *,
        seed: int = 0,
        name: str | None = None,
        dtype_policy: str | mixed_precision.Policy | None = None,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}: {seed!r}.")
        self.seed = int(seed)
        self.name = name or "sequential"
        self.dtype_policy = mixed_precision.get(dtype_policy)
        self._layers: list[Layer] = []
        self.params: Any = None
        self.state: Any = None
        self.opt_state: Any = None
        self.optimizer: optax.GradientTransformation | None = None
        self.loss: losses_lib.Loss | None = None
        self.compiled_metrics: list[metrics_lib.Metric] = []
        self._compile_args: dict[str, Any] = {}
        self._input_shape: tuple[int, ...] | None = None
        self._functions: dict[Any, Any] = {}
        self.distribution: distributed_lib.Distribution | None = None
        self._dist = distributed_lib.get(None)
        self.stop_training = False
        self.history: History | None = None
        #: Completed epochs: fit sets it after each epoch; the ``initial_epoch`` to resume with.
        self.epoch = 0
        for layer in layers or []:
            self.add(layer)

    # -- building ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def net(self) -> Serial:
        """The model as one pure layer: ``net.apply(params, x)``."""
        compute = self.dtype_policy.compute_dtype
        return Serial(
            self._layers,
            name=self.name,
            compute_dtype=None if compute == jnp.float32 else compute,
        )

    @property
    def built(self) -> bool:
        return self.params is not None

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        return self._input_shape

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        if self._input_shape is None:
            return None
        return self.net.output_shape(self._input_shape)

    def _root_key(self, purpose: int) -> jax.Array:
        return root_key(self.seed, purpose)

    def add(self, layer: Layer) -> None:
        """Append a layer. The first layer (or an earlier ``build``) fixes the input shape."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be a fnn layer (e.g. fnn.layers.Dense), got "
                f"{type(layer).__name__}: {layer!r}."
            )
        if layer.name is None:
            base = _snake(type(layer).__name__)
            taken = {x.name for x in self._layers}
            layer.name = base
            i = 0
            while layer.name in taken:
                i += 1
                layer.name = f"{base}_{i}"
        elif layer.name in {x.name for x in self._layers}:
            raise ValueError(f"A layer named {layer.name!r} is already in the model.")
        if isinstance(layer, Input) and self._layers:
            raise ValueError(f"{layer.describe()} must be the model's first layer.")
        self._layers.append(layer)
        self._functions.clear()
        if self.built:
            self._build_layer(len(self._layers) - 1)
        elif len(self._layers) == 1 and layer.input_shape is not None:
            self.build(layer.input_shape)

    def _build_layer(self, i: int) -> None:
        shapes = Serial(self._layers).input_shapes(self._input_shape)
        key = layer_key(self.seed, i)
        self.params.append(self._layers[i].init(key, shapes[i]))
        self.state.append(self._layers[i].init_state(shapes[i]))
        if self.optimizer is not None:
            self._reset_optimizer()

    def build(self, input_shape: int | Sequence[int]) -> None:
        """Create the parameters for inputs of ``input_shape`` (no batch axis)."""
        if not self._layers:
            raise ValueError("The model has no layers; add one before building it.")
        self._input_shape = as_shape(input_shape)
        self.params, self.state = [], []
        for i in range(len(self._layers)):
            self._build_layer(i)
        self._functions.clear()

    # -- compile ----------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optax.GradientTransformation = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        distribution: distributed_lib.Distribution | None = None,
    ) -> None:
        """Set the optimizer, loss and metrics (names as in Keras, or callables/Optax).

        ``distribution`` (e.g. :class:`fnn.distributed.DataParallel`) spreads each batch over
        several devices; ``batch_size`` then means the global batch.
        """
        dist = distributed_lib.get(distribution)
        optimizers_lib.get(optimizer)  # validate everything before changing anything
        loss_obj = None if loss is None else losses_lib.get(loss)
        units = self.output_shape[-1] if self.output_shape else None
        self.compiled_metrics = metrics_lib.get_list(metrics, loss_obj, units)
        self.loss = loss_obj
        self._compile_args = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
        self.distribution, self._dist = distribution, dist
        self._reset_optimizer()

    def _reset_optimizer(self) -> None:
        """Build the optimizer from the compile arguments and a fresh state for the params."""
        spec = self._compile_args["optimizer"]
        tx = optimizers_lib.get(spec)
        if isinstance(spec, str) and self.built and count_params(self.params) <= FLATTEN_MAX_PARAMS:
            tx = optax.flatten(tx)
        self.optimizer = tx
        self.opt_state = tx.init(self.params) if self.built else None
        self._functions.clear()

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *(m.name for m in self.compiled_metrics)]

    def _require_compiled(self, method: str) -> None:
        if self.optimizer is None:
            raise ValueError(f"Call model.compile(optimizer, loss) before model.{method}().")
        if self.loss is None:
            raise ValueError(
                f"model.{method}() needs a loss; the model was compiled with loss=None. "
                f"Pass e.g. loss='mse' or loss='categorical_crossentropy' to compile()."
            )

    def _function(self, kind: str, batch_size: int | None = None) -> Any:
        """The jitted training/eval/predict function, built once per compile."""
        key = (kind, batch_size)
        if key not in self._functions:
            net, jit, shard = self.net, self._dist.jit, self._dist.shard_batch
            if kind == "train":
                step = training.make_train_step(
                    net, self.loss, self.optimizer, self.compiled_metrics
                )
                fn = jit(training.make_train_loop(step, shard))
            elif kind == "eval":
                step = training.make_eval_step(net, self.loss, self.compiled_metrics)
                fn = jit(training.make_eval_loop(step, batch_size, shard))
            else:
                fn = jit(training.make_predict_loop(net, batch_size, shard))
            self._functions[key] = fn
        return self._functions[key]

    # -- data -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _unchanged_on_error(self):
        """Put back what a lazy build sets (params, state, optimizer and its state, input shape,
        compiled functions) if the block raises."""
        saved = (self.params, self.state, self.optimizer, self.opt_state, self._input_shape)
        functions = dict(self._functions)
        try:
            yield
        except BaseException:
            self.params, self.state, self.optimizer, self.opt_state, self._input_shape = saved
            self._functions = functions
            raise

    def _prepare_x(self, x: Any, argument: str = "x", check_finite: bool = True) -> np.ndarray:
        arr = data_lib.to_numpy(x, argument, dtype=np.float32)
        if not self.built:
            self.build(arr.shape[1:])
        if tuple(arr.shape[1:]) != self._input_shape:
            raise ValueError(
                f"{argument} has shape {arr.shape}: each example is {arr.shape[1:]}, but the "
                f"model expects inputs of shape (batch, {', '.join(map(str, self._input_shape))})."
            )
        if check_finite:
            data_lib.check_finite(arr, argument)
        return arr

    def _prepare_y(self, y: Any, argument: str = "y", check_finite: bool = True) -> np.ndarray:
        arr = data_lib.to_numpy(y, argument)
        out_shape = self.output_shape
        units = out_shape[-1]
        if isinstance(self.loss, losses_lib.SparseCategoricalCrossentropy):
            if arr.ndim == 2 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 1:
                raise ValueError(
                    f"{argument} must hold integer class labels of shape (n,) for "
                    f"sparse_categorical_crossentropy, got shape {arr.shape}."
                )
            if check_finite:
                data_lib.check_finite(arr, argument)
            if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
                raise ValueError(f"{argument} must hold integer class labels, got fractions.")
            labels = arr.astype(np.int64)
            bad = np.flatnonzero((labels < 0) | (labels >= units))
            if bad.size:
                raise ValueError(
                    f"{argument} holds label {labels[bad[0]]} at row {bad[0]}, outside the "
                    f"model's {units} classes [0, {units - 1}]."
                )
            return labels.astype(np.int32)
        arr = arr.astype(np.float32, copy=False)
        if arr.ndim == 1 and out_shape == (1,):
            arr = arr[:, None]
        if check_finite:
            data_lib.check_finite(arr, argument)
        builtin = isinstance(self.loss, tuple(losses_lib.LOSS_CLASSES.values()))
        if builtin and tuple(arr.shape[1:]) != tuple(out_shape):
            hint = ""
            if isinstance(self.loss, losses_lib.CategoricalCrossentropy) and arr.ndim == 1:
                hint = (
                    " For integer labels use loss='sparse_categorical_crossentropy', or one-hot "
                    "encode them."
                )
            raise ValueError(
                f"{argument} has shape {arr.shape}, but the model's output is (batch, "
                f"{', '.join(map(str, out_shape))}) and {self.loss.name} compares them "
                f"element-wise.{hint}"
            )
        return arr

    def _prepare_weights(
        self, y: np.ndarray, sample_weight: Any, class_weight: Any, argument: str = "sample_weight"
    ) -> np.ndarray | None:
        weights = None
        if sample_weight is not None:
            weights = data_lib.to_numpy(sample_weight, argument, dtype=np.float32)
            data_lib.check_sample_weight(weights, argument)
        if class_weight is not None:
            units = self.output_shape[-1]
            class_weight = data_lib.check_class_weight(class_weight, max(units, 2))
            classes = y if y.ndim == 1 else np.argmax(y, axis=-1)
            if y.ndim == 2 and y.shape[1] == 1:
                classes = (y[:, 0] > 0.5).astype(np.int64)
            table = np.ones(int(max(classes.max(), *class_weight.keys(), 0)) + 1, np.float32)
            for cls, w in class_weight.items():
                table[int(cls)] = float(w)
            cw = table[classes.astype(np.int64)]
            weights = cw if weights is None else weights * cw
        return weights

    def _prepare_xy(
        self,
        x: Any,
        y: Any,
        sample_weight: Any = None,
        class_weight: Any = None,
        prefix: str = "",
        check_finite: bool = True,
    ) -> list[np.ndarray | None]:
        xa = self._prepare_x(x, prefix + "x", check_finite)
        ya = self._prepare_y(y, prefix + "y", check_finite)
        wa = self._prepare_weights(ya, sample_weight, class_weight, prefix + "sample_weight")
        data_lib.check_lengths(**{prefix + "x": xa, prefix + "y": ya, prefix + "sample_weight": wa})
        return [xa, ya, wa]

    # -- training ---------------------------------------------------------------------------
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
        shuffle: bool = True,
        class_weight: dict[int, float] | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int | Sequence[int] = 1,
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> History:
        """Train for ``epochs`` epochs (each one compiled XLA program); return the History.

        Every example is used once per epoch, the last smaller batch included. The shuffle
        order of epoch ``e`` is derived from ``(seed, e)``, dropout keys from ``(seed, e,
        step)``, so runs are reproducible and ``initial_epoch`` resumes exactly.
        ``check_finite=False`` skips the scan for NaN/inf in the data. Data larger than
        ``max_device_bytes`` ("auto": half the accelerator's memory; None: no limit) streams
        from the host in chunks, with the same batches and results.
        """
        self._require_compiled("fit")
        callbacks = check_callbacks(callbacks)
        budget = _device_budget(max_device_bytes)
        plan = self._fit_plan(
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
        if not distributed_lib.is_primary():  # only process 0 prints
            verbose = 0
        n = self._dist.num_examples(arrays[0].shape[0])

        # History last, as in Keras: it records what other callbacks add to the logs.
        cbs = CallbackList([*callbacks, History()])
        self.history = cbs.callbacks[-1]
        cbs.set_model(self)
        steps_per_epoch = math.ceil(n / batch_size)
        cbs.set_params({"epochs": epochs, "steps": steps_per_epoch, "verbose": verbose})

        loop = self._function("train")
        placed = self._dist.place(arrays, batch_size, budget)
        placed_val = None if val_arrays is None else self._dist.place(val_arrays, val_batch, budget)
        dropout_root = self._root_key(1)

        self.stop_training = False
        cbs.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            cbs.on_epoch_begin(epoch)
            order, rest = data_lib.epoch_order(
                n, batch_size, seed=self.seed, epoch=epoch, shuffle=shuffle
            )
            epoch_key = jax.random.fold_in(dropout_root, epoch)
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
                (epoch_key,),
                bar,
                lambda sums: self._ordered(training.means(sums)),
            )
            logs = self._ordered(training.means(sums))
            # The epoch completed: commit its results (an interrupted epoch commits nothing).
            self.params, self.opt_state, self.state = carry
            self.epoch = epoch + 1
            if placed_val is not None and _due(epoch, validation_freq):
                val_logs = self._evaluate_arrays(placed_val, val_batch)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            if bar is not None:
                bar.close(logs)
            elif verbose == 2:
                print(f"Epoch {epoch + 1}/{epochs} - {format_logs(logs)}", flush=True)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        return self.history

    def _fit_plan(
        self,
        x: Any,
        y: Any,
        batch_size: int | None,
        epochs: int,
        verbose: int | str,
        validation_split: float,
        validation_data: Any,
        class_weight: Any,
        sample_weight: Any,
        initial_epoch: int,
        validation_batch_size: int | None,
        validation_freq: Any,
        check_finite: bool,
    ) -> FitPlan:
        """fit's checks at the door and its host arrays (also used by fnn.Population.fit).

        Raises before anything changes; a lazy build from ``x`` is undone if a check fails.
        """
        batch_size = data_lib.check_batch_size(batch_size)
        epochs = data_lib.check_positive_int(epochs, "epochs", minimum=0)
        initial_epoch = data_lib.check_positive_int(initial_epoch, "initial_epoch", minimum=0)
        if initial_epoch > epochs:
            raise ValueError(
                f"initial_epoch ({initial_epoch}) must not be greater than epochs ({epochs})."
            )
        self._dist.check_batch_size(batch_size, "batch_size")
        if validation_batch_size is not None:
            data_lib.check_positive_int(validation_batch_size, "validation_batch_size")
            self._dist.check_batch_size(validation_batch_size, "validation_batch_size")
        verbose = resolve_verbose(verbose)
        data_lib.check_validation_freq(validation_freq)
        with self._unchanged_on_error():
            arrays = self._prepare_xy(x, y, sample_weight, class_weight, check_finite=check_finite)
            val_arrays = None
            if validation_data is not None:
                val_arrays = self._prepare_validation(validation_data, check_finite)
            if validation_split:
                if validation_data is not None:
                    raise ValueError("Pass validation_split or validation_data, not both.")
                arrays, val_arrays = data_lib.split_validation(arrays, validation_split)
        return FitPlan(
            batch_size, epochs, verbose, arrays, val_arrays, validation_batch_size or batch_size
        )

    def _prepare_validation(self, validation_data: Any, check_finite: bool) -> list[Any]:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"val_sample_weight), got {type(validation_data).__name__}."
            )
        vx, vy, *vw = validation_data
        return self._prepare_xy(
            vx, vy, vw[0] if vw else None, prefix="val_", check_finite=check_finite
        )

    def _evaluate_arrays(self, placed: data_lib.Placement, batch_size: int) -> dict[str, float]:
        loop = self._function("eval", batch_size)
        sums = None
        for data in data_lib.sequential_pieces(placed):
            sums = _add_sums(sums, jax.device_get(loop(self.params, self.state, data)))
        return self._ordered(training.means(sums))

    def _ordered(self, logs: dict[str, float]) -> dict[str, float]:
        """Logs in compile order: loss first, then the metrics as given."""
        return {k: logs[k] for k in self.metrics_names if k in logs}

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
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics on ``(x, y)``: the loss alone without metrics, else
        ``[loss, *metrics]`` (or a dict with ``return_dict=True``). One compiled pass (per
        streamed chunk when the data exceeds ``max_device_bytes``, as in :meth:`fit`)."""
        self._require_compiled("evaluate")
        batch_size = data_lib.check_batch_size(batch_size)
        self._dist.check_batch_size(batch_size, "batch_size")
        verbose = resolve_verbose(verbose)
        if not distributed_lib.is_primary():  # only process 0 prints
            verbose = 0
        with self._unchanged_on_error():
            arrays = self._prepare_xy(x, y, sample_weight, check_finite=check_finite)
        placed = self._dist.place(arrays, batch_size, _device_budget(max_device_bytes))
        logs = self._evaluate_arrays(placed, batch_size)
        if verbose:
            print(format_logs(logs), flush=True)
        return evaluate_result(logs, self.metrics_names, return_dict)

    def predict(
        self,
        x: Any,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        check_finite: bool = True,
        max_device_bytes: int | str | None = "auto",
    ) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array (one compiled pass over batches; per
        streamed chunk when ``x`` exceeds ``max_device_bytes``, as in :meth:`fit`).
        ``check_finite=False`` skips the scan for NaN/inf in ``x``."""
        batch_size = data_lib.check_batch_size(batch_size)
        self._dist.check_batch_size(batch_size, "batch_size")
        resolve_verbose(verbose)
        if not self._layers:
            raise ValueError("The model has no layers; add one before calling predict().")
        with self._unchanged_on_error():
            xa = self._prepare_x(x, check_finite=check_finite)
        loop = self._function("predict", batch_size)
        placed = self._dist.place([xa], batch_size, _device_budget(max_device_bytes))
        outputs = [
            self._dist.fetch_rows(loop(self.params, self.state, data[0]), len(xa))
            for data in data_lib.sequential_pieces(placed)
        ]
        return outputs[0] if len(outputs) == 1 else np.concatenate(outputs, axis=0)

    def __call__(self, x: Any) -> jax.Array:
        """Forward pass in inference mode on a batch (not compiled; for small inputs)."""
        return self.net.apply(self.params, jnp.asarray(x, jnp.float32), state=self.state)[0]

    # -- pure access ------------------------------------------------------------------------
    def apply(self, params: Any, x: jax.Array, **kwargs: Any) -> Any:
        """The model's pure forward function: ``model.apply(model.params, x)``.

        Keyword arguments (``state=``, ``key=``, ``training=``) follow the layer contract.
        """
        return self.net.apply(params, x, **kwargs)

    # -- weights ----------------------------------------------------------------------------
    def _require_built(self, method: str) -> None:
        if not self.built:
            raise ValueError(
                f"model.{method}() needs a built model: give the first layer input_shape, call "
                "model.build(input_shape), or fit it on data first."
            )

    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays in Keras's order (per layer: kernel, bias, ...)."""
        self._require_built("get_weights")
        return [np.asarray(w) for w in self.net.weights_of(self.params, self.state)]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace all weights, given in :meth:`get_weights`'s order and shapes."""
        self._require_built("set_weights")
        shapes = Serial(self._layers).input_shapes(self._input_shape)
        expected = [
            s
            for layer, shp in zip(self._layers, shapes, strict=False)
            for s in layer.weight_shapes(shp)
        ]
        if not isinstance(weights, (list, tuple)):
            raise TypeError(
                f"weights must be a list of arrays (as get_weights returns) of shapes "
                f"{expected}, got {type(weights).__name__}."
            )
        weights = list(weights)
        got = [tuple(np.shape(w)) for w in weights]
        if got != expected:
            raise ValueError(
                f"set_weights expected {len(expected)} arrays of shapes {expected}, got "
                f"{len(got)} of shapes {got}."
            )
        for i, w in enumerate(weights):
            if np.asarray(w).dtype.kind not in "biuf":
                raise TypeError(
                    f"weights[{i}] must hold numbers, got an array of dtype {np.asarray(w).dtype}."
                )
        params, state, i = [], [], 0
        for layer, p, s, shp in zip(self._layers, self.params, self.state, shapes, strict=False):
            k = len(layer.weight_shapes(shp))
            new_p, new_s = layer.from_weights(weights[i : i + k], p, s)
            params.append(new_p)
            state.append(new_s)
            i += k
        self.params, self.state = params, state

    def count_params(self) -> int:
        """Number of scalars in the parameters and state."""
        self._require_built("count_params")
        return count_params(self.params) + count_params(self.state)

    def summary(self, print_fn: Any = print) -> None:
        """Print the layers, their output shapes and parameter counts (trainable and not)."""
        for line in summary_lib.to_text(summary_lib.summarize(self)):
            print_fn(line)

    def _repr_html_(self) -> str:
        """The summary as an HTML table, for notebooks."""
        return summary_lib.to_html(summary_lib.summarize(self))

    # -- saving (the format and its checks live in fnn.saving) -------------------------------
    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Save everything needed to predict and to resume training exactly (atomic write).

        Architecture, weights, non-trainable state, optimizer state, compile settings, the
        epoch counter and the seed, in fnn's zip format (see :mod:`fnn.saving`); read it with
        :func:`fnn.models.load_model`.
        """
        saving.save_model(self, filepath)

    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Save the parameters and non-trainable state only (atomic write)."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Load weights saved by :meth:`save_weights` (or :meth:`save`) into this built model."""
        saving.load_weights(self, filepath)

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-able data: name, seed, input shape and layer configs."""
        return saving.sequential_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new model (built if the config has an input shape) from :meth:`get_config`."""
        return saving.sequential_from_config(cls, config)


def load_model(
    filepath: str | os.PathLike[str],
    *,
    compile: bool = True,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (see :func:`fnn.saving.load_sequential`).

    Raises:
        ValueError: the file is not a valid fnn model file, or does not describe a valid model.
    """
    return saving.load_sequential(Sequential, filepath, compile=compile, optimizer=optimizer)


def root_key(seed: Any, purpose: int) -> jax.Array:
    """The key a model with ``seed`` derives for ``purpose`` (0: initialisation, 1: dropout).

    ``seed`` may be traced, so ``jax.vmap`` over seeds gives many models' keys at once.
    """
    return jax.random.fold_in(jax.random.key(seed), purpose)


def layer_key(seed: Any, index: int) -> jax.Array:
    """The initialisation key of layer ``index`` in a model with ``seed``."""
    return jax.random.fold_in(root_key(seed, 0), index)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def _device_budget(max_device_bytes: int | str | None) -> int | None:
    if max_device_bytes == "auto":
        return data_lib.default_device_budget()
    if max_device_bytes is None:
        return None
    return data_lib.check_positive_int(max_device_bytes, "max_device_bytes")


def evaluate_result(logs: dict[str, Any], names: Sequence[str], return_dict: bool) -> Any:
    """Keras's evaluate result: the dict, else the loss alone without metrics, else
    ``[loss, *metrics]``."""
    if return_dict:
        return logs
    values = [logs[k] for k in names]
    return values[0] if len(values) == 1 else values


def run_epoch(
    loop: Any,
    carry: tuple[Any, Any, Any],
    placed: data_lib.Placement,
    order: np.ndarray,
    rest: np.ndarray,
    step_args: tuple[Any, ...],
    bar: ProgressBar | None,
    to_logs: Any,
) -> tuple[tuple[Any, Any, Any], dict[str, Any]]:
    """One epoch of a fused train loop: one call per piece of the epoch (one piece without a
    progress bar, :data:`PROGRESS_UPDATES` with one, one per chunk when the data streams).

    ``loop(*carry, data, order, rest, *step_args, first_step)`` is the jitted loop;
    ``to_logs(sums)`` turns the running sums into the bar's logs. Returns the new carry
    ``(params, opt_state, state)`` and the epoch's sums, fetched to the host.
    """
    sums = pending = None
    pieces = PROGRESS_UPDATES if bar is not None else 1
    for data, piece, piece_rest, start in data_lib.epoch_pieces(placed, order, rest, pieces):
        result = loop(
            *carry,
            data,
            jnp.asarray(piece),
            jnp.asarray(piece_rest),
            *step_args,
            jnp.int32(start),
        )
        carry = result[:3]
        # Fetch the previous piece's sums only now, with this piece already queued: the host's
        # progress work overlaps the device's steps.
        sums = _report_piece(sums, pending, bar, to_logs)
        pending = (result[3], len(piece) + (1 if len(piece_rest) else 0))
    return carry, _report_piece(sums, pending, bar, to_logs)


def _report_piece(sums: Any, pending: Any, bar: ProgressBar | None, to_logs: Any) -> Any:
    """Add a finished piece's sums (one host sync) and advance the progress bar."""
    if pending is None:
        return sums
    sums = _add_sums(sums, jax.device_get(pending[0]))
    if bar is not None:
        bar.update(pending[1], to_logs(sums))
    return sums


def _add_sums(total: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    if total is None:
        return {k: np.float64(v) for k, v in new.items()}
    return {k: total[k] + np.float64(v) for k, v in new.items()}


def _due(epoch: int, validation_freq: int | Sequence[int]) -> bool:
    if isinstance(validation_freq, int):
        return (epoch + 1) % validation_freq == 0
    return (epoch + 1) in set(validation_freq)
