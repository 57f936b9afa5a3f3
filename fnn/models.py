"""The Sequential model: Keras's facade over fnn's pure layers and the training engine.

It holds the layers, the compile settings and a :class:`~fnn.training.TrainState` (parameters,
optimizer state, non-trainable state, counters); ``fit``, ``evaluate`` and ``predict`` come from
:class:`fnn.engine.Trainer` (one compiled XLA program per epoch, the data on the device, one
host sync per epoch)::

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
    >>> sorted(history.history), model.epoch
    (['accuracy', 'loss'], 2)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from fnn import distributed as distributed_lib
from fnn import inputs, mixed_precision, saving, training
from fnn import losses as losses_lib
from fnn import metrics as metrics_lib
from fnn import optimizers as optimizers_lib
from fnn import summary as summary_lib
from fnn.checks import check_seed
from fnn.engine import Engine, Lift, Trainer, check_idle, evaluate_result
from fnn.layers import Input, Layer, Serial, as_shape, count_params

__all__ = ["Sequential", "evaluate_result", "layer_key", "load_model", "root_key"]

#: Optimizers given by name run on one flat parameter vector (``optax.flatten``) when the model
#: has at most this many parameters: fewer, larger element-wise ops per step. Measured on a 2-core
#: CPU: +8% examples/s on the 3k-parameter seed MLP, -13% on a 1.9M-parameter MLP (the ravel
#: copies cost more than they save), hence the bound.
FLATTEN_MAX_PARAMS = 1 << 17


class CompileSettings(NamedTuple):
    """What ``compile`` was given, resolved once: the one record of the compile settings."""

    args: dict[str, Any]
    loss: losses_lib.Loss | None
    metrics: list[metrics_lib.Metric]
    distribution: distributed_lib.Distribution

    def transformation(self, num_params: int | None) -> optax.GradientTransformation:
        """The optimizer for a model of ``num_params`` parameters (None: not built yet).

        Args:
            num_params: the model's parameter count; None (or 0) before the model is built.

        Returns:
            ``compile``'s optimizer as an Optax transformation, wrapped in ``optax.flatten``
            when it was given by name and ``num_params`` is at most :data:`FLATTEN_MAX_PARAMS`.
        """
        spec = self.args["optimizer"]
        tx = optimizers_lib.get(spec)
        if isinstance(spec, str) and num_params and num_params <= FLATTEN_MAX_PARAMS:
            tx = optax.flatten(tx)
        return tx


class Sequential(Trainer):
    """A linear stack of layers with Keras's ``compile`` / ``fit`` / ``evaluate`` / ``predict``.

    Args:
        layers: layers to add, in order.
        seed: makes initialisation, shuffling and dropout reproducible (an int in [0, 2**32)).
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
        self.seed = check_seed(seed)
        self.name = name or "sequential"
        self.dtype_policy = mixed_precision.get(dtype_policy)
        self._layers: list[Layer] = []
        self._input_shape: tuple[int, ...] | None = None
        #: Trailing layers whose parameters are not created yet (see :attr:`train_state`).
        self._pending = 0
        #: Everything training changes (None until the model is built).
        self.train_state = None
        self.compiled: CompileSettings | None = None
        self.optimizer: optax.GradientTransformation | None = None
        self._engine: tuple[tuple[Any, ...], Engine] | None = None
        self.stop_training = False
        self.history = None
        for layer in layers or []:
            self.add(layer)

    # -- what the engine needs ---------------------------------------------------------------
    @property
    def spec(self) -> Sequential:
        """The model the door checks data against (itself)."""
        return self

    @property
    def seeds(self) -> tuple[int, ...]:
        """The model's seed alone, ``(seed,)`` (a population has one per member)."""
        return (self.seed,)

    @property
    def distribution_strategy(self) -> distributed_lib.Distribution:
        """The resolved ``distribution`` of compile (one device when none was given)."""
        return distributed_lib.get(None) if self.compiled is None else self.compiled.distribution

    @property
    def engine(self) -> Engine:
        """The :class:`~fnn.engine.Engine` for the current layers and compile settings: the
        same object (and its compiled functions) until one of them changes."""
        key = (*self._layers, self._input_shape, self.compiled, self.optimizer)
        if self._engine is None or not _same(self._engine[0], key):
            c = self.compiled
            engine = Engine(
                self.net,
                None if c is None else c.loss,
                self.optimizer,
                [] if c is None else c.metrics,
                self.distribution_strategy,
                Lift(),
            )
            self._engine = (key, engine)
        return self._engine[1]

    def snapshot(self) -> Any:
        """What a lazy build changes, for :func:`fnn.inputs.unchanged_on_error`.

        Returns:
            ``(train_state, input_shape, optimizer)``, to give back to :meth:`restore`.
        """
        return (self.train_state, self._input_shape, self.optimizer)

    def restore(self, saved: Any) -> None:
        """Put back what :meth:`snapshot` saved (after a failed lazy build).

        Args:
            saved: a :meth:`snapshot` result.
        """
        self.train_state, self._input_shape, self.optimizer = saved

    # -- building ---------------------------------------------------------------------------
    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (a copy of the list; an ``Input`` is not one of them)."""
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
    def train_state(self) -> Any:
        """Everything training changes (a :class:`~fnn.training.TrainState`; None until the
        model is built).

        Layers added to a built model get their parameters when something first reads them
        (compile, fit, get_weights, summary...), all in one compiled program: a model built
        layer by layer compiles one initialisation, not one per layer (nor dozens of small
        eager operations). Layer ``i`` gets ``layer_key(seed, i)`` either way.
        """
        if self._pending:
            self._create_pending()
        return self.__dict__.get("_train_state")

    @train_state.setter
    def train_state(self, value: Any) -> None:
        self.__dict__["_train_state"] = value
        self._pending = 0

    @property
    def built(self) -> bool:
        """Whether the parameters exist (an input shape is known)."""
        return self._pending > 0 or self.__dict__.get("_train_state") is not None

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The shape of one example, no batch axis (None until known)."""
        return self._input_shape

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        """The shape of one output, no batch axis (None until the input shape is known)."""
        if self._input_shape is None:
            return None
        return self.net.output_shape(self._input_shape)

    def _root_key(self, purpose: int) -> jax.Array:
        return root_key(self.seed, purpose)

    def add(self, layer: Layer) -> None:
        """Append a layer. The first layer (or an earlier ``build``) fixes the input shape.

        A layer without a name gets its class's in snake case (``dense``, ``dense_1``, ...). An
        :class:`fnn.layers.Input` only sets the input shape, as in Keras. When the input shape
        is known the model is built (or the new layer's parameters are created from
        ``layer_key(seed, index)``); the optimizer state then starts afresh.

        Args:
            layer: a fnn layer, e.g. :class:`fnn.layers.Dense`.

        Raises:
            TypeError: if ``layer`` is not a fnn layer.
            ValueError: if a layer of the same name is in the model, or an ``Input`` is not
                the first layer.
            RuntimeError: if the model is training or predicting (e.g. from a callback).
        """
        check_idle(self, "add")
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
        if isinstance(layer, Input):
            # As in Keras, Input only fixes the input shape: it is not one of model.layers.
            if self._layers or self._input_shape is not None:
                raise ValueError(f"{layer.describe()} must be the model's first layer.")
            self._input_shape = layer.shape
            return
        self._layers.append(layer)
        if self.built:
            assert self._input_shape is not None
            try:  # shape errors now, naming the layer; the parameters come when first read
                Serial(self._layers).output_shape(self._input_shape)
            except (ValueError, TypeError):
                self._layers.pop()
                raise
            self._pending += 1
            self._reset_optimizer()
        elif len(self._layers) == 1:
            shape = layer.input_shape or self._input_shape
            if shape is not None:
                self.build(shape)

    def pop(self) -> Layer:
        """Remove and return the last layer (Keras's ``Sequential.pop``); the other layers keep
        their weights, the optimizer state starts afresh.

        Returns:
            The removed layer. Popping the last one leaves the model unbuilt.

        Raises:
            ValueError: if the model has no layers.
            RuntimeError: if the model is training or predicting (e.g. from a callback).
        """
        check_idle(self, "pop")
        if not self._layers:
            raise ValueError("The model has no layers to pop.")
        layer = self._layers.pop()
        if not self.built:
            return layer
        if not self._layers:
            self.train_state, self._input_shape = None, None
        elif self._pending:  # the popped layer had no parameters yet
            self._pending -= 1
            self._reset_optimizer()
        else:
            ts = self.train_state
            self.train_state = ts._replace(params=ts.params[:-1], state=ts.state[:-1])
            self._reset_optimizer()
        return layer

    def _create_pending(self) -> None:
        """Create the parameters of the pending trailing layers, in one compiled program."""
        n = len(self._layers)
        first = n - self._pending
        shape = self._input_shape
        assert shape is not None  # pending layers exist only once the input shape is known
        if first == 0:
            net = Serial(self._layers)
            seed = self.seed  # the key is made inside: on the host, nothing is compiled for it
            ts = training.run_once(
                lambda: training.init_train_state(net, None, jax.random.key(seed), shape)
            )
        else:
            shapes = Serial(self._layers).input_shapes(shape)
            new = range(first, n)
            layers = self._layers

            def init_new() -> tuple[list[Any], list[Any]]:
                params = [layers[i].init(layer_key(self.seed, i), shapes[i]) for i in new]
                return params, [layers[i].init_state(shapes[i]) for i in new]

            params, state = training.run_once(init_new)
            old = self.__dict__["_train_state"]
            ts = old._replace(params=[*old.params, *params], state=[*old.state, *state])
        # The policy's variable dtype: bfloat16 parameters for "bfloat16", float64 for "float64".
        self.train_state = ts._replace(params=self.dtype_policy.cast_variables(ts.params))

    def build(self, input_shape: int | Sequence[int]) -> None:
        """Create the parameters for inputs of ``input_shape`` (no batch axis), in one compiled
        program when they are first read; layer ``i`` is initialised from
        ``fold_in(fold_in(key(seed), 0), i)``.

        Parameters take the dtype policy's variable dtype; the optimizer state starts afresh.

        Args:
            input_shape: one example's shape, an int or a sequence of ints (Keras's
                ``build(input_shape)`` without the batch axis).

        Raises:
            ValueError: if the model has no layers, or ``input_shape`` does not suit them.
            TypeError: if ``input_shape`` is not an int or a sequence of ints.
            RuntimeError: if the model is training or predicting (e.g. from a callback).
        """
        check_idle(self, "build")
        if not self._layers:
            raise ValueError("The model has no layers; add one before building it.")
        shape = as_shape(input_shape)
        net = Serial(self._layers)
        net.output_shape(shape)  # shape errors here, before anything changes
        self._input_shape = shape
        self.train_state = None
        self._pending = len(self._layers)  # created when first read (one compiled program)
        self._reset_optimizer()

    # -- compile ----------------------------------------------------------------------------
    def compile(
        self,
        optimizer: str | optax.GradientTransformation = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        distribution: distributed_lib.Distribution | None = None,
        steps_per_execution: int | str | None = None,
        weighted_metrics: Any = None,
    ) -> None:
        """Set the optimizer, loss and metrics (names as in Keras, or callables/Optax).

        Args:
            optimizer: a name (``"adam"``, ...), a :mod:`fnn.optimizers` instance, or any Optax
                transformation.
            loss: a loss name, :class:`fnn.losses.Loss` or function ``(y_true, y_pred)``.
            metrics: metric names, objects or functions; ``"accuracy"`` is resolved from the
                loss. As in Keras they are not weighted by ``sample_weight``/``class_weight``.
            weighted_metrics: metrics that are weighted by ``sample_weight`` and
                ``class_weight`` (Keras's argument).
            distribution: e.g. :class:`fnn.distributed.DataParallel` spreads each batch over
                several devices; ``batch_size`` then means the global batch.
            steps_per_execution: train steps per compiled call, between host syncs (Keras's
                argument). None or ``"epoch"`` (the default): the whole epoch, fastest. An int
                ``N``: batch callbacks, ``ModelCheckpoint(save_freq=...)`` and the progress bar
                see the model every N steps. Results are the same for every N.

        Raises:
            TypeError, ValueError: an unknown name or a wrong type; nothing changes then.
        """
        check_idle(self, "compile")
        if steps_per_execution == "epoch":
            steps_per_execution = None
        if steps_per_execution is not None:
            steps_per_execution = inputs.check_positive_int(
                steps_per_execution, "steps_per_execution"
            )
        dist = distributed_lib.get(distribution)
        dist.check_lift(None)
        optimizers_lib.get(optimizer)  # validate everything before changing anything
        loss_obj = None if loss is None else losses_lib.get(loss)
        units = self.output_shape[-1] if self.output_shape else None
        compiled_metrics = training.resolve_metrics(metrics, weighted_metrics, loss_obj, units)
        args = {"optimizer": optimizer, "loss": loss, "metrics": metrics}
        if weighted_metrics is not None:
            args["weighted_metrics"] = weighted_metrics
        if distribution is not None:
            args["distribution"] = distribution
        if steps_per_execution is not None:
            args["steps_per_execution"] = steps_per_execution
        self.compiled = CompileSettings(args, loss_obj, compiled_metrics, dist)
        self._reset_optimizer()

    def _reset_optimizer(self) -> None:
        """The optimizer for the current compile settings and parameters, fresh state."""
        if self.compiled is None:
            return
        n = count_params(self.params) if self.built else None
        self.optimizer = self.compiled.transformation(n)
        if self.built:
            self.opt_state = training.run_once(self.optimizer.init, self.params)

    @property
    def loss(self) -> losses_lib.Loss | None:
        """The compiled loss (None before compile)."""
        return None if self.compiled is None else self.compiled.loss

    @property
    def compiled_metrics(self) -> list[metrics_lib.Metric]:
        """The compiled metrics, in order."""
        return [] if self.compiled is None else list(self.compiled.metrics)

    @property
    def distribution(self) -> distributed_lib.Distribution | None:
        """``compile``'s ``distribution`` argument (None: one device)."""
        return None if self.compiled is None else self.compiled.args.get("distribution")

    @property
    def steps_per_execution(self) -> int | None:
        """Train steps per compiled call (None: the whole epoch)."""
        return None if self.compiled is None else self.compiled.args.get("steps_per_execution")

    @property
    def compile_args(self) -> dict[str, Any]:
        """``compile``'s arguments as given (``{}`` before compile)."""
        return {} if self.compiled is None else dict(self.compiled.args)

    @property
    def metrics_names(self) -> list[str]:
        """``["loss", *compiled metric names]``: the order of evaluate's list result."""
        return ["loss", *(m.name for m in self.compiled_metrics)]

    # -- calling ----------------------------------------------------------------------------
    def __call__(self, x: Any) -> jax.Array:
        """Forward pass in inference mode on a batch (not compiled; for small inputs). An
        unbuilt model is built from ``x``'s shape, as in Keras."""
        if not self._layers:
            raise ValueError("The model has no layers; add one before calling it.")
        if isinstance(x, jax.core.Tracer):
            if not self.built:
                raise ValueError("Build the model (or call it on data) before tracing it.")
            return self.net.apply(self.params, x, state=self.state)
        with inputs.unchanged_on_error(self):
            xa = inputs.prepare_x(self, x, check=False)
        return self.net.apply(self.params, jnp.asarray(xa), state=self.state)

    def apply(self, params: Any, x: jax.Array, **kwargs: Any) -> Any:
        """The model's pure forward function: ``model.apply(model.params, x) -> y``.

        Keyword arguments (``state=``, ``key=``, ``training=``) follow the layer contract; use
        ``model.net.call`` for the new state too.

        Args:
            params: parameters shaped as :attr:`params` (one entry per layer).
            x: a batch of inputs, ``(batch, *input_shape)``.
            **kwargs: passed on to the network's ``apply``: ``state=`` (the layer state;
                required when a layer keeps running statistics), ``key=`` (a PRNG key for
                dropout), ``training=`` (default False).

        Returns:
            The outputs, ``(batch, *output_shape)``.
        """
        return self.net.apply(params, x, **kwargs)

    # -- weights ----------------------------------------------------------------------------
    def _require_built(self, method: str) -> None:
        super()._require_built(f"model.{method}()")

    def get_weights(self) -> list[np.ndarray]:
        """All weights as NumPy arrays in Keras's order (per layer: kernel, bias, ...).

        Returns:
            A list of NumPy arrays, non-trainable weights (e.g. moving statistics) included,
            as Keras's ``get_weights``.
        """
        self._require_built("get_weights")
        return [np.asarray(w) for w in self.net.weights_of(self.params, self.state)]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Replace all weights, given in :meth:`get_weights`'s order and shapes.

        Args:
            weights: a list (or tuple) of arrays of numbers, one per weight, as
                :meth:`get_weights` returns them.

        Raises:
            TypeError: if ``weights`` is not a list or tuple, or an array does not hold
                numbers.
            ValueError: if the number of arrays or their shapes differ from the model's.
        """
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
        self.train_state = self.train_state._replace(params=params, state=state)

    def count_params(self) -> int:
        """Number of scalars in the parameters and state.

        Returns:
            The count, trainable and non-trainable weights together (Keras's
            ``count_params``).
        """
        self._require_built("count_params")
        return count_params(self.params) + count_params(self.state)

    def summary(self, print_fn: Any = print) -> None:
        """Print the layers, their output shapes and parameter counts (trainable and not).

        Args:
            print_fn: called with each line of the summary (Keras's argument); default
                ``print``.
        """
        for line in summary_lib.to_text(summary_lib.summarize(self)):
            print_fn(line)

    def _repr_html_(self) -> str:
        """The summary as an HTML table, for notebooks."""
        return summary_lib.to_html(summary_lib.summarize(self))

    def __repr__(self) -> str:
        status = []
        if self.built:
            status.append(f"input_shape={self._input_shape}, params={self.count_params():,}")
        status.append("compiled" if self.compiled is not None else "not compiled")
        return f"<Sequential {self.name!r}: {len(self._layers)} layers, {', '.join(status)}>"

    # -- pickling and copying ---------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Picklable state: compiled functions and the built optimizer (closures) are left out
        and rebuilt from the compile arguments; arrays travel as NumPy."""
        state = dict(self.__dict__)
        state["_engine"] = None
        state["optimizer"] = None
        compiled = state.pop("compiled")
        state["_compile_args"] = None if compiled is None else self.compile_args
        state["train_state"] = jax.tree.map(_to_host, self.train_state)
        state.pop("_train_state", None)
        state["_pending"] = 0
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        compile_args = state.pop("_compile_args")
        train_state = state.pop("train_state")
        self.__dict__.update(state, compiled=None, _train_state=None, _pending=0)
        if train_state is not None:
            self.train_state = jax.tree.map(_to_device, train_state)
        if compile_args is not None:
            opt_state = self.opt_state
            self.compile(**compile_args)
            if opt_state is not None:
                self.opt_state = opt_state

    # -- saving (the format and its checks live in fnn.saving) -------------------------------
    def save(self, filepath: str | os.PathLike[str]) -> None:
        """Save everything needed to predict and to resume training exactly (atomic write).

        Architecture, weights, non-trainable state, optimizer state, compile settings, the
        epoch counter and the seed, in fnn's zip format (see :mod:`fnn.saving`); read it with
        :func:`fnn.models.load_model`.

        Args:
            filepath: the file to write (any extension; Keras uses ``.keras``).
        """
        saving.save_model(self, filepath)

    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Save the parameters and non-trainable state only (atomic write).

        The format follows the extension: ``.safetensors`` writes safetensors (tensors named
        ``dense/kernel``, ...; see :mod:`fnn.interop.safetensors`), anything else fnn's archive.

        Args:
            filepath: the file to write; its extension picks the format.
        """
        if os.fspath(filepath).endswith(".safetensors"):
            from fnn.interop.safetensors import save_safetensors

            save_safetensors(self, filepath)
            return
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Load weights into this built model, checked against its architecture first.

        Accepts what :meth:`save_weights` or :meth:`save` wrote, ``.safetensors`` files, and
        Keras 3's ``.weights.h5`` and ``.keras`` files for the layers fnn has
        (:mod:`fnn.interop.keras`; needs h5py).

        Args:
            filepath: the file to read; ``.safetensors``, ``.weights.h5`` and ``.keras`` pick
                those readers, anything else is read as fnn's archive.
        """
        path = os.fspath(filepath)
        if path.endswith(".safetensors"):
            from fnn.interop.safetensors import load_safetensors

            load_safetensors(self, filepath)
        elif path.endswith((".weights.h5", ".keras")):
            from fnn.interop.keras import load_keras_weights

            load_keras_weights(self, filepath)
        else:
            saving.load_weights(self, filepath)

    def export(self, filepath: str | os.PathLike[str], *, batch_size: int | None = None) -> Any:
        """Write a ``jax.export`` artifact of the inference function (weights baked in, a
        symbolic batch size unless ``batch_size`` is given), loadable with
        ``jax.export.deserialize`` where fnn is not installed (see :mod:`fnn.export`).

        Args:
            filepath: where to write the serialized artifact.
            batch_size: a fixed batch size for the exported function; None: symbolic (any
                batch size at call time).

        Returns:
            The ``jax.export.Exported`` object.
        """
        from fnn.export import export_model

        return export_model(self, filepath, batch_size=batch_size)

    def get_config(self) -> dict[str, Any]:
        """The architecture as JSON-able data: name, seed, input shape and layer configs.

        Returns:
            A dict of plain Python values; :meth:`from_config` rebuilds the model from it
            (weights not included).
        """
        return saving.sequential_config(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """A new model (built if the config has an input shape) from :meth:`get_config`.

        Args:
            config: a dict as :meth:`get_config` returns it.

        Returns:
            A new, uncompiled model of this class, with fresh weights from its seed.
        """
        return saving.sequential_from_config(cls, config)


def load_model(
    filepath: str | os.PathLike[str],
    *,
    compile: bool = True,
    optimizer: optax.GradientTransformation | str | None = None,
) -> Sequential:
    """Load a model saved by :meth:`Sequential.save` (see :func:`fnn.saving.load_sequential`).

    Architecture, weights, layer state, optimizer state, compile settings, epoch counter and
    seed are restored, so ``fit`` continues exactly as if never interrupted.

    Args:
        filepath: the file :meth:`Sequential.save` wrote.
        compile: False: return the model uncompiled (no optimizer state restored), as
            Keras's ``load_model(compile=False)``.
        optimizer: the optimizer to compile with instead of the saved one (needed when the
            model was compiled with an Optax transformation that has no fnn name); the saved
            optimizer state is restored into it. Not with ``compile=False``.

    Returns:
        The loaded :class:`Sequential`.

    Raises:
        ValueError: the file is not a valid fnn model file, or does not describe a valid model.
    """
    return saving.load_sequential(Sequential, filepath, compile=compile, optimizer=optimizer)


def root_key(seed: Any, purpose: int) -> jax.Array:
    """The key a model with ``seed`` derives for ``purpose`` (0: initialisation, 1: dropout).

    ``seed`` may be traced, so ``jax.vmap`` over seeds gives many models' keys at once.

    Args:
        seed: the model's seed (an int, or a traced integer).
        purpose: 0 for initialisation, 1 for the dropout root.

    Returns:
        ``fold_in(jax.random.key(seed), purpose)``, a typed PRNG key.
    """
    return jax.random.fold_in(jax.random.key(seed), purpose)


def layer_key(seed: Any, index: int) -> jax.Array:
    """The initialisation key of layer ``index`` in a model with ``seed``.

    Args:
        seed: the model's seed (an int, or a traced integer).
        index: the layer's position in ``model.layers`` (0-based).

    Returns:
        ``fold_in(root_key(seed, 0), index)``, a typed PRNG key.
    """
    return jax.random.fold_in(root_key(seed, 0), index)


class _HostKey:
    """A PRNG key taken to the host for pickling (its implementation and raw data)."""

    def __init__(self, key: jax.Array) -> None:
        self.impl = str(jax.random.key_impl(key))
        self.data = np.asarray(jax.random.key_data(key))

    def restore(self) -> jax.Array:
        return jax.random.wrap_key_data(jax.device_put(self.data), impl=self.impl)


def _to_host(x: Any) -> Any:
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        return _HostKey(x)
    return np.asarray(x) if isinstance(x, jax.Array) else x


def _to_device(x: Any) -> Any:
    if isinstance(x, _HostKey):
        return x.restore()
    return jax.device_put(x) if isinstance(x, np.ndarray) else x


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """The same objects (shapes, plain tuples, by value)."""
    return len(a) == len(b) and all(
        x is y or (type(x) is tuple and x == y) for x, y in zip(a, b, strict=True)
    )


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i and not name[i - 1].isupper():
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
