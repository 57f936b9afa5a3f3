#!/usr/bin/env python
"""Benchmark fnn's training loop against a hand-written JAX + Optax floor and peer frameworks.

Every contender runs in this one process, on whatever ``jax.devices()`` offers first (CPU, GPU
or TPU; PyTorch uses CUDA when JAX does and CUDA is available to it, else the CPU).

Workloads
    seed   10-32-64-10 MLP, ReLU, softmax, categorical cross-entropy, Adam, batch 32,
           60 000 learnable synthetic examples.
    large  784-1024-1024-10 MLP, same recipe, batch 256, 16 384 examples.
    cnn    (``--cnn``) Conv2D(16, 3x3, same, ReLU) - MaxPooling2D - Conv2D(32, 3x3, same, ReLU) -
           GlobalAveragePooling2D - Dense(10, softmax) on 28x28x1 synthetic images, Adam,
           batch 128, 8 192 examples (8x8x1, 8/16 filters and 512 examples with --quick).
           Contenders: floor (the same network written out with ``lax.conv_general_dilated``
           and ``lax.reduce_window`` in one ``lax.scan`` per epoch), fnn, keras, keras_spe.

Contenders (``--contenders``; all by default)
    floor           hand-written JAX + Optax: one ``jax.lax.scan`` per epoch over data already on
                    the device as (steps, batch, features), in order, no shuffling, no metrics,
                    params and optimizer state donated. The reference for ``ratio_to_floor``.
    fnn             ``Sequential.fit(shuffle=True, metrics=['accuracy'], verbose=0)``.
    fnn_verbose     the same with ``verbose=1`` (progress output sent to a null stream); seed
                    workload only; also reports ``overhead_vs_fnn``.
    fnn_spe1/8/64   ``fnn`` compiled with ``steps_per_execution`` = 1, 8, 64 (a host sync and
                    batch hooks every N steps; ``fnn`` itself runs the whole epoch); seed only.
    keras           Keras 3 on the JAX backend, as shipped (``fit`` with shuffle and accuracy).
    keras_spe       the same with ``steps_per_execution`` = steps per epoch.
    flax_nnx        Flax NNX, ``nnx.jit`` train step called once per batch from Python, host
                    batches shuffled each epoch, loss and accuracy computed in the step.
    torch           PyTorch eager loop, data as tensors on the device, shuffled each epoch.
    pipeline_floor  the floor's scan fed chunk by chunk from a generator of shuffled in-memory
                    NumPy batches through fnn.pipelines (Source, chunks, Prefetcher): the data
                    side of a pipeline fit without the engine.
    fnn_generator   ``Sequential.fit`` on that generator with ``steps_per_epoch``.
    fnn_grain       ``Sequential.fit`` on a batched Grain ``MapDataset``, ``shuffle=True``.
    fnn_torch_loader ``Sequential.fit`` on a shuffled PyTorch ``DataLoader`` (TensorDataset).
    keras_generator Keras 3 (JAX backend) ``fit`` on the same generator.
    predict_floor   jitted raw forward pass (``lax.map`` over on-device batches), result copied
                    to the host. The reference for ``fnn_predict``.
    fnn_predict     ``Sequential.predict(X, batch_size=batch)``.
    evaluate_floor  jitted scan summing loss and correct predictions over on-device batches.
                    The reference for ``fnn_evaluate``.
    fnn_evaluate    ``Sequential.evaluate(X, Y, batch_size=batch, verbose=0)``.

Each contender runs one warm-up epoch (timed as ``compile_s``: time from building the model to
the end of the first epoch, compilation included) and then ``--epochs`` timed epochs (fewer
once they have taken ``--budget`` seconds); the reported throughput uses the median timed epoch.
fnn and Keras train in one ``fit`` call each, a callback recording when each epoch ends.

A contender that fails is recorded with its error message and the run goes on; a peer framework
that is not installed is reported as "not installed".

Usage::

    python scripts/bench.py                      # full default run, writes bench.json
    python scripts/bench.py --quick              # tiny seed workload, for smoke tests
    python scripts/bench.py --workloads seed --contenders floor,fnn --epochs 5 --json out.json
    python scripts/bench.py --profile traces     # also a jax.profiler trace of one fnn epoch
    python scripts/bench.py --no-table --first-result 5   # only time to first result

Time to first result (``--first-result REPEATS``)
    The seed deck's script (build, compile, fit 10 epochs of 60 000 examples, evaluate) end to
    end, each run in a fresh interpreter and timed from its start to its exit: ``fnn_cold``
    (fnn with an empty compilation cache directory), ``fnn_warm`` (the directory filled by an
    earlier untimed run), ``fnn_nocache`` (fnn's cache off), ``jax_optax`` (the same work
    hand-written: jitted init, a jitted ``lax.scan`` epoch, a jitted evaluate; JAX's persistent
    cache off, its default) and
    ``keras`` (Keras 3 on JAX, when installed). The contenders take turns in every repeat;
    reported are the median and min-max wall time, the ratio to ``jax_optax``, and each
    script's phases (fnn: import, build, compile, first fit, more epochs, first evaluate).
    python scripts/bench.py --cnn --workloads seed --contenders floor,fnn,keras   # + the CNN
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import functools
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

try:  # not available on Windows
    import resource
except ImportError:  # pragma: no cover
    resource = None  # type: ignore[assignment]

REPO_ROOT = Path(__file__).resolve().parents[1]
LEARNING_RATE = 1e-3
TRAIN, PREDICT, EVALUATE = "train", "predict", "evaluate"
BUSY_WARNING = 0.1  # flag results when other processes used more than this share of the CPU

Params = list[tuple[jax.Array, jax.Array]]


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """A model shape, a batch size and a data-set size to train on."""

    name: str
    sizes: tuple[int, ...]
    batch_size: int
    n_examples: int

    def __post_init__(self) -> None:
        if self.n_examples < self.batch_size or self.n_examples % self.batch_size:
            raise ValueError("n_examples must be a positive multiple of batch_size")

    @property
    def steps_per_epoch(self) -> int:
        """Number of batches in one epoch."""
        return self.n_examples // self.batch_size

    @property
    def forward_flops_per_example(self) -> int:
        """Matmul FLOPs of one forward pass for one example: ``2 * in * out`` per dense layer."""
        return sum(2 * a * b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))

    @property
    def train_flops_per_example(self) -> int:
        """Forward plus backward FLOPs for one example, counted as three forward passes."""
        return 3 * self.forward_flops_per_example

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape."""
        return (self.sizes[0],)

    @property
    def classes(self) -> int:
        """Number of classes (the output width)."""
        return self.sizes[-1]


@dataclass(frozen=True)
class CnnWorkload:
    """A small CNN: Conv2D-MaxPooling2D-Conv2D-GlobalAveragePooling2D-Dense on images."""

    name: str
    image: tuple[int, int, int]
    filters: tuple[int, int]
    classes: int
    batch_size: int
    n_examples: int

    @property
    def steps_per_epoch(self) -> int:
        """Number of batches in one epoch."""
        return self.n_examples // self.batch_size

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape (height, width, channels)."""
        return self.image

    @property
    def sizes(self) -> str:
        """The layers, for the report."""
        (h, w, c), (f1, f2) = self.image, self.filters
        return f"{h}x{w}x{c}-conv{f1}-pool-conv{f2}-gap-{self.classes}"

    @property
    def forward_flops_per_example(self) -> int:
        """Multiply-add FLOPs of one forward pass: ``2 * H * W * 9 * in * out`` per 3x3 conv
        (same padding; the second at half the resolution) plus the dense layer."""
        (h, w, c), (f1, f2) = self.image, self.filters
        return 2 * 9 * (h * w * c * f1 + (h // 2) * (w // 2) * f1 * f2) + 2 * f2 * self.classes

    @property
    def train_flops_per_example(self) -> int:
        """Forward plus backward FLOPs for one example, counted as three forward passes."""
        return 3 * self.forward_flops_per_example


CNN_WORKLOAD = CnnWorkload("cnn", (28, 28, 1), (16, 32), 10, 128, 8_192)
QUICK_CNN_WORKLOAD = CnnWorkload("cnn", (8, 8, 1), (8, 16), 10, 32, 512)
#: The contenders that run the CNN workload.
CNN_CONTENDERS = ("floor", "fnn", "keras", "keras_spe")


WORKLOADS: dict[str, Workload] = {
    "seed": Workload("seed", (10, 32, 64, 10), 32, 60_000),
    "large": Workload("large", (784, 1024, 1024, 10), 256, 16_384),
}
QUICK_WORKLOADS: dict[str, Workload] = {
    "seed": Workload("seed", (10, 32, 64, 10), 32, 1_024),
    "large": Workload("large", (784, 128, 128, 10), 128, 512),
}


@dataclass
class Context:
    """Everything a contender needs: the workload, its data, and how long to run."""

    workload: Workload
    x: np.ndarray
    y: np.ndarray
    timed_epochs: int
    seed: int
    budget_s: float = math.inf
    timeout_s: float = math.inf
    deadline: float = math.inf  # time.perf_counter() value; set by measure()

    def check_deadline(self, step: int | None = None) -> None:
        """Raise :class:`OutOfTimeError` once the contender has run past ``timeout_s``."""
        if time.perf_counter() > self.deadline:
            where = "" if step is None else f" at step {step + 1}/{self.workload.steps_per_epoch}"
            raise OutOfTimeError(f"ran past the {self.timeout_s:g} s limit{where}")


@dataclass
class Timing:
    """What a contender measured: the first epoch and each timed epoch, in seconds."""

    first_epoch_s: float
    epoch_s: list[float]
    steps_per_epoch: int
    examples_per_epoch: int
    extra: dict[str, Any] = field(default_factory=dict)


class NotInstalledError(Exception):
    """Raised when a peer framework cannot be imported because it is not installed."""


class OutOfTimeError(Exception):
    """Raised when a contender runs past its time limit (``--timeout``)."""


# --------------------------------------------------------------------------------------------
# Data, hand-written model, and helpers
# --------------------------------------------------------------------------------------------


def make_data(workload: Workload | CnnWorkload, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return learnable synthetic data: Gaussian inputs labelled by a random linear teacher.

    Args:
        workload: gives the number of examples, input shape and number of classes.
        seed: seed of the NumPy generator, so every run sees the same data.

    Returns:
        ``(x, y)`` with ``x`` float32 ``(n, *input_shape)`` and ``y`` one-hot float32
        ``(n, classes)``.
    """
    rng = np.random.default_rng(seed)
    n, n_out = workload.n_examples, workload.classes
    x = rng.standard_normal((n, *workload.input_shape), dtype=np.float32)
    teacher = rng.standard_normal((math.prod(workload.input_shape), n_out), dtype=np.float32)
    labels = np.argmax(x.reshape(n, -1) @ teacher, axis=1)
    y = np.eye(n_out, dtype=np.float32)[labels]
    return x, y


def init_params(sizes: tuple[int, ...], seed: int) -> Params:
    """Glorot-uniform weights and zero biases for an MLP with the given layer widths."""
    keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
    params = []
    for key, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        limit = math.sqrt(6.0 / (n_in + n_out))
        w = jax.random.uniform(key, (n_in, n_out), jnp.float32, -limit, limit)
        params.append((w, jnp.zeros((n_out,), jnp.float32)))
    return params


def mlp_logits(params: Params, x: jax.Array) -> jax.Array:
    """Forward pass of the MLP: ReLU hidden layers, linear output (the logits)."""
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return x @ w + b


def glorot_uniform(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Keras's default kernel initializer; fans count the receptive field (conv kernels)."""
    field = math.prod(shape[:-2])
    limit = math.sqrt(6.0 / (field * (shape[-2] + shape[-1])))
    return jax.random.uniform(key, shape, jnp.float32, -limit, limit)


def init_cnn_params(workload: CnnWorkload, seed: int) -> dict[str, tuple[jax.Array, jax.Array]]:
    """Glorot-uniform kernels (Keras's layout) and zero biases for the CNN workload."""
    k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
    (f1, f2), c = workload.filters, workload.image[-1]
    shapes = {"conv1": (3, 3, c, f1), "conv2": (3, 3, f1, f2), "dense": (f2, workload.classes)}
    return {
        name: (glorot_uniform(k, shape), jnp.zeros((shape[-1],), jnp.float32))
        for k, (name, shape) in zip((k1, k2, k3), shapes.items(), strict=True)
    }


def cnn_logits(params: dict[str, tuple[jax.Array, jax.Array]], x: jax.Array) -> jax.Array:
    """Forward pass of the CNN written out with ``lax``: the logits."""

    def conv(x: jax.Array, w: jax.Array, b: jax.Array) -> jax.Array:
        dims = ("NHWC", "HWIO", "NHWC")
        y = jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dims)
        return jax.nn.relu(y + b)

    x = conv(x, *params["conv1"])
    x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    x = conv(x, *params["conv2"]).mean(axis=(1, 2))
    w, b = params["dense"]
    return x @ w + b


def floor_model(workload: Workload | CnnWorkload, seed: int) -> tuple[Any, Callable[..., Any]]:
    """The hand-written model of a workload: ``(params, logits_fn)``."""
    if isinstance(workload, CnnWorkload):
        return init_cnn_params(workload, seed), cnn_logits
    return init_params(workload.sizes, seed), mlp_logits


def batched(x: np.ndarray, batch_size: int) -> np.ndarray:
    """Reshape ``(n, ...)`` into ``(n // batch_size, batch_size, ...)``, dropping any remainder."""
    steps = x.shape[0] // batch_size
    return x[: steps * batch_size].reshape(steps, batch_size, *x.shape[1:])


def timed(fn: Callable[[], Any]) -> float:
    """Run ``fn`` once and return the elapsed wall-clock seconds."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_epochs(
    build: Callable[[], Any], epoch: Callable[[Any], None], ctx: Context, **extra: Any
) -> Timing:
    """Time ``build`` plus one warm-up epoch, then ``ctx.timed_epochs`` further epochs.

    Timing stops early, after at least one timed epoch, once the timed epochs have taken
    ``ctx.budget_s`` seconds or the contender's deadline has passed.

    Args:
        build: creates the model or state; its time counts towards the first epoch.
        epoch: runs one full epoch on what ``build`` returned and blocks until it is done.
        ctx: the benchmark context.
        **extra: stored in ``Timing.extra``.
    """
    start = time.perf_counter()
    state = build()
    epoch(state)
    first = time.perf_counter() - start
    times: list[float] = []
    while len(times) < ctx.timed_epochs:
        if times and (sum(times) >= ctx.budget_s or time.perf_counter() > ctx.deadline):
            break
        times.append(timed(lambda: epoch(state)))
    wl = ctx.workload
    return Timing(first, times, wl.steps_per_epoch, wl.n_examples, dict(extra))


def make_epoch_clock(base: type, ctx: Context) -> Any:
    """Return a callback (a subclass of ``base``) that records when each epoch of ``fit`` ends.

    It converts the epoch's logs to floats before reading the clock, so the epoch has finished
    on the device, and sets ``model.stop_training`` once the epochs after the first have taken
    ``ctx.budget_s`` seconds or the contender's deadline has passed.
    """

    class EpochClock(base):  # type: ignore[misc, valid-type]
        """Records ``time.perf_counter()`` and the logs at the end of every epoch."""

        def __init__(self) -> None:
            super().__init__()
            self.ends: list[float] = []
            self.logs: dict[str, float] = {}

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.logs = {k: float(v) for k, v in (logs or {}).items()}
            self.ends.append(time.perf_counter())
            if self.ends[-1] - self.ends[0] >= ctx.budget_s or self.ends[-1] > ctx.deadline:
                self.model.stop_training = True

        def timing(self, start: float, workload: Workload) -> Timing:
            """The first epoch counted from ``start``, then the time between epoch ends."""
            times = [b - a for a, b in zip(self.ends, self.ends[1:], strict=False)]
            if not times:
                ctx.check_deadline()
                raise RuntimeError("fit stopped before a timed epoch")
            extra = {f"final_{k}": v for k, v in self.logs.items()}
            return Timing(
                self.ends[0] - start,
                times,
                workload.steps_per_epoch,
                workload.n_examples,
                extra,
            )

    return EpochClock()


def import_optional(module: str) -> Any:
    """Import ``module``, raising :class:`NotInstalledError` if its package is absent."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            raise NotInstalledError(f"{exc.name} not installed") from exc
        raise


def import_fnn() -> Any:
    """Import fnn, falling back to the repository checkout this script lives in."""
    try:
        return importlib.import_module("fnn")
    except ModuleNotFoundError as exc:
        if exc.name != "fnn" or not (REPO_ROOT / "fnn" / "__init__.py").is_file():
            raise
        sys.path.insert(0, str(REPO_ROOT))
        return importlib.import_module("fnn")


def package_version(name: str) -> str | None:
    """Installed version of distribution ``name``, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """Send everything written to ``sys.stdout`` and ``sys.stderr`` to a null stream."""
    with (
        open(os.devnull, "w") as null,
        contextlib.redirect_stdout(null),
        contextlib.redirect_stderr(null),
    ):
        yield


# --------------------------------------------------------------------------------------------
# Floors: plain JAX + Optax
# --------------------------------------------------------------------------------------------


def make_floor_epoch(
    tx: optax.GradientTransformation, logits_fn: Callable[..., jax.Array]
) -> Callable[..., tuple]:
    """The floor's jitted program: one ``lax.scan`` of Adam steps over ``(steps, batch, ...)``
    batches, params and optimizer state donated; returns ``(params, opt_state, mean loss)``."""

    def loss_fn(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        return optax.softmax_cross_entropy(logits_fn(params, x), y).mean()

    def step(carry: tuple[Params, Any], batch: tuple[jax.Array, jax.Array]) -> tuple[Any, Any]:
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def train_epoch(params: Params, opt_state: Any, xs: jax.Array, ys: jax.Array) -> tuple:
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (xs, ys))
        return params, opt_state, losses.mean()

    return jax.jit(train_epoch, donate_argnums=(0, 1))


def run_floor(ctx: Context) -> Timing:
    """Hand-written JAX + Optax training: one donated ``lax.scan`` per epoch, in order."""
    wl = ctx.workload
    tx = optax.adam(LEARNING_RATE)
    train_epoch_jit = make_floor_epoch(tx, floor_model(wl, ctx.seed)[1])
    state: dict[str, Any] = {}

    def build() -> dict[str, Any]:
        params = floor_model(wl, ctx.seed)[0]
        state.update(
            params=params,
            opt_state=tx.init(params),
            xs=jax.device_put(batched(ctx.x, wl.batch_size)),
            ys=jax.device_put(batched(ctx.y, wl.batch_size)),
        )
        return state

    def epoch(s: dict[str, Any]) -> None:
        s["params"], s["opt_state"], loss = train_epoch_jit(
            s["params"], s["opt_state"], s["xs"], s["ys"]
        )
        s["loss"] = float(loss)

    timing = run_epochs(build, epoch, ctx)
    timing.extra["final_loss"] = state["loss"]
    return timing


def run_predict_floor(ctx: Context) -> Timing:
    """Jitted raw forward pass over on-device batches; the softmax output is copied to the host."""
    wl = ctx.workload

    @jax.jit
    def predict(params: Params, xs: jax.Array) -> jax.Array:
        probs = jax.lax.map(lambda x: jax.nn.softmax(mlp_logits(params, x)), xs)
        return probs.reshape(-1, probs.shape[-1])

    def build() -> tuple[Params, jax.Array]:
        return init_params(wl.sizes, ctx.seed), jax.device_put(batched(ctx.x, wl.batch_size))

    def epoch(state: tuple[Params, jax.Array]) -> None:
        np.asarray(predict(*state))

    return run_epochs(build, epoch, ctx)


def run_evaluate_floor(ctx: Context) -> Timing:
    """Jitted scan summing cross-entropy and correct predictions over on-device batches."""
    wl = ctx.workload

    @jax.jit
    def evaluate(params: Params, xs: jax.Array, ys: jax.Array) -> jax.Array:
        def body(carry: jax.Array, batch: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, None]:
            x, y = batch
            logits = mlp_logits(params, x)
            loss = optax.softmax_cross_entropy(logits, y).sum()
            correct = jnp.sum(jnp.argmax(logits, -1) == jnp.argmax(y, -1)).astype(jnp.float32)
            return carry + jnp.stack([loss, correct]), None

        total, _ = jax.lax.scan(body, jnp.zeros(2, jnp.float32), (xs, ys))
        return total / (xs.shape[0] * xs.shape[1])

    def build() -> tuple[Params, jax.Array, jax.Array]:
        xs = jax.device_put(batched(ctx.x, wl.batch_size))
        ys = jax.device_put(batched(ctx.y, wl.batch_size))
        return init_params(wl.sizes, ctx.seed), xs, ys

    def epoch(state: tuple[Params, jax.Array, jax.Array]) -> None:
        np.asarray(evaluate(*state))

    return run_epochs(build, epoch, ctx)


# --------------------------------------------------------------------------------------------
# Pipelines: the same data fed batch by batch (generator, Grain, PyTorch DataLoader)
# --------------------------------------------------------------------------------------------


def batch_stream(ctx: Context) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """An endless generator of in-memory NumPy batches, reshuffled (NumPy) every pass."""
    wl = ctx.workload
    rng = np.random.default_rng(ctx.seed)
    while True:
        order = rng.permutation(wl.n_examples)
        for i in range(wl.steps_per_epoch):
            idx = order[i * wl.batch_size : (i + 1) * wl.batch_size]
            yield ctx.x[idx], ctx.y[idx]


def grain_batches(ctx: Context) -> Any:
    """A Grain ``MapDataset`` of the examples, batched (a sequence; the trainer shuffles it)."""
    grain = import_optional("grain")
    wl = ctx.workload
    return grain.MapDataset.source(list(zip(ctx.x, ctx.y, strict=True))).batch(wl.batch_size)


def torch_batches(ctx: Context) -> Any:
    """A PyTorch ``DataLoader`` over a ``TensorDataset`` of the examples, shuffled."""
    torch = import_optional("torch")
    data = importlib.import_module("torch.utils.data")
    dataset = data.TensorDataset(torch.from_numpy(ctx.x), torch.from_numpy(ctx.y))
    generator = torch.Generator().manual_seed(ctx.seed)
    return data.DataLoader(
        dataset, batch_size=ctx.workload.batch_size, shuffle=True, generator=generator
    )


def run_pipeline_floor(ctx: Context) -> Timing:
    """The floor's program fed from :func:`batch_stream` through :mod:`fnn.pipelines`.

    Batches are checked and stacked into chunks of ``choose_steps_per_chunk`` steps, moved to
    the device on the prefetch thread, and each chunk trains in one call of the floor's scan:
    the data side the engine drives, without the engine. Its ratio to the floor is what a
    generator costs at best.
    """
    import_fnn()
    pipelines = importlib.import_module("fnn.pipelines")
    wl = ctx.workload
    tx = optax.adam(LEARNING_RATE)
    train_chunk = make_floor_epoch(tx, floor_model(wl, ctx.seed)[1])
    batch_bytes = (ctx.x[0].nbytes + ctx.y[0].nbytes) * wl.batch_size
    k = pipelines.choose_steps_per_chunk(batch_bytes, max_steps=wl.steps_per_epoch)

    def put(arrays: tuple) -> tuple:
        return tuple(jax.device_put(batched(a, wl.batch_size)) for a in arrays[:2])

    def build() -> dict[str, Any]:
        params = init_params(wl.sizes, ctx.seed)
        source = pipelines.Source(batch_stream(ctx), steps=wl.steps_per_epoch)
        return {"params": params, "opt_state": tx.init(params), "source": source, "epoch": 0}

    def epoch(s: dict[str, Any]) -> None:
        chunks = pipelines.chunks(s["source"].batches(s["epoch"]), k)
        with pipelines.Prefetcher(chunks, put) as ready:
            for chunk in ready:
                s["params"], s["opt_state"], loss = train_chunk(
                    s["params"], s["opt_state"], *chunk.arrays
                )
        s["loss"], s["epoch"] = float(loss), s["epoch"] + 1

    state: dict[str, Any] = {}
    timing = run_epochs(lambda: state.update(build()) or state, epoch, ctx, steps_per_chunk=k)
    timing.extra["final_loss"] = state["loss"]
    return timing


# --------------------------------------------------------------------------------------------
# fnn
# --------------------------------------------------------------------------------------------


def workload_layers(
    layers: Any, workload: Workload | CnnWorkload, input_shape: tuple[int, ...] | None = None
) -> list[Any]:
    """The workload's layers, from a module with Keras's layer classes (fnn's or Keras's).

    Args:
        layers: ``fnn.layers`` or ``keras.layers``.
        workload: the workload.
        input_shape: given to the first layer when set (fnn); Keras takes an ``Input`` instead.
    """
    first = {} if input_shape is None else {"input_shape": input_shape}
    if isinstance(workload, CnnWorkload):
        f1, f2 = workload.filters
        return [
            layers.Conv2D(f1, 3, padding="same", activation="relu", **first),
            layers.MaxPooling2D(),
            layers.Conv2D(f2, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(workload.classes, activation="softmax"),
        ]
    widths = workload.sizes[1:]
    return [
        layers.Dense(
            w, activation="softmax" if i == len(widths) - 1 else "relu", **(first if i == 0 else {})
        )
        for i, w in enumerate(widths)
    ]


def build_fnn_model(ctx: Context, steps_per_execution: int | None = None) -> Any:
    """Build and compile the workload's network with fnn's Keras-style API."""
    import_fnn()
    Sequential = importlib.import_module("fnn.models").Sequential
    layers = importlib.import_module("fnn.layers")

    wl = ctx.workload
    model = Sequential(seed=ctx.seed)
    for layer in workload_layers(layers, wl, wl.input_shape):
        model.add(layer)
    model.compile(
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


def array_inputs(ctx: Context) -> dict[str, Any]:
    """``fit`` arguments for the in-memory arrays, shuffled, at the workload's batch size."""
    return {"x": ctx.x, "y": ctx.y, "batch_size": ctx.workload.batch_size, "shuffle": True}


def pipeline_inputs(ctx: Context, source: str) -> dict[str, Any]:
    """``fit`` arguments for the same examples fed by a pipeline: ``source`` is "generator"
    (:func:`batch_stream`, ``steps_per_epoch`` given), "grain" or "torch"."""
    if source == "generator":
        return {"x": batch_stream(ctx), "steps_per_epoch": ctx.workload.steps_per_epoch}
    if source == "grain":
        return {"x": grain_batches(ctx), "shuffle": True}
    return {"x": torch_batches(ctx)}


def run_fnn_fit(
    ctx: Context,
    verbose: int = 0,
    inputs: dict[str, Any] | None = None,
    steps_per_execution: int | None = None,
) -> Timing:
    """Time one ``fnn`` ``fit`` call of ``1 + ctx.timed_epochs`` epochs, shuffled, with accuracy.

    Epoch boundaries come from a callback; with ``verbose=1`` the progress output goes to a null
    stream. ``inputs``: the data arguments of ``fit`` (default: :func:`array_inputs`).
    """
    wl = ctx.workload
    start = time.perf_counter()
    model = build_fnn_model(ctx, steps_per_execution)
    clock = make_epoch_clock(importlib.import_module("fnn.callbacks").Callback, ctx)
    with silenced() if verbose else contextlib.nullcontext():
        model.fit(
            **(array_inputs(ctx) if inputs is None else inputs),
            epochs=1 + ctx.timed_epochs,
            verbose=verbose,
            callbacks=[clock],
        )
    return clock.timing(start, wl)


def profile_fnn_epoch(ctx: Context, directory: Path) -> dict[str, Any]:
    """Write a ``jax.profiler`` trace of one timed ``fnn`` epoch (after a warm-up epoch) under
    ``directory`` (``plugins/profile/<run>/*.xplane.pb``: TensorBoard's profile tab, Perfetto)."""
    wl = ctx.workload
    model = build_fnn_model(ctx)
    fit = functools.partial(
        model.fit, ctx.x, ctx.y, batch_size=wl.batch_size, epochs=1, verbose=0, shuffle=True
    )
    fit()  # compiles: the trace then holds one epoch of steady-state work
    with jax.profiler.trace(str(directory)):
        epoch_s = timed(fit)
    traces = sorted(str(p) for p in directory.glob("plugins/profile/*/*.xplane.pb"))
    return {"workload": wl.name, "dir": str(directory), "epoch_s": epoch_s, "traces": traces}


def run_fnn(ctx: Context) -> Timing:
    """``fnn`` fit with ``verbose=0``."""
    return run_fnn_fit(ctx, verbose=0)


def run_fnn_spe(n: int) -> Callable[[Context], Timing]:
    """``fnn`` fit compiled with ``steps_per_execution=n`` (a host sync every n steps)."""

    def run(ctx: Context) -> Timing:
        return run_fnn_fit(ctx, verbose=0, steps_per_execution=n)

    run.__doc__ = f"``fnn`` fit with ``steps_per_execution={n}``."
    return run


def run_fnn_verbose(ctx: Context) -> Timing:
    """``fnn`` fit with ``verbose=1`` (progress bar to a null stream)."""
    return run_fnn_fit(ctx, verbose=1)


def run_fnn_generator(ctx: Context) -> Timing:
    """``fnn`` fit on :func:`batch_stream` with ``steps_per_epoch``."""
    return run_fnn_fit(ctx, inputs=pipeline_inputs(ctx, "generator"))


def run_fnn_grain(ctx: Context) -> Timing:
    """``fnn`` fit on a batched Grain ``MapDataset``, ``shuffle=True``."""
    return run_fnn_fit(ctx, inputs=pipeline_inputs(ctx, "grain"))


def run_fnn_torch_loader(ctx: Context) -> Timing:
    """``fnn`` fit on a shuffled PyTorch ``DataLoader``."""
    return run_fnn_fit(ctx, inputs=pipeline_inputs(ctx, "torch"))


def run_fnn_predict(ctx: Context) -> Timing:
    """Time ``fnn`` ``predict`` over the whole data set at the workload's batch size."""
    wl = ctx.workload

    def epoch(model: Any) -> None:
        np.asarray(model.predict(ctx.x, batch_size=wl.batch_size))

    return run_epochs(lambda: build_fnn_model(ctx), epoch, ctx)


def run_fnn_evaluate(ctx: Context) -> Timing:
    """Time ``fnn`` ``evaluate`` over the whole data set at the workload's batch size."""
    wl = ctx.workload

    def epoch(model: Any) -> None:
        model.evaluate(ctx.x, ctx.y, batch_size=wl.batch_size, verbose=0)

    return run_epochs(lambda: build_fnn_model(ctx), epoch, ctx)


# --------------------------------------------------------------------------------------------
# Peer frameworks
# --------------------------------------------------------------------------------------------


def run_keras_fit(
    ctx: Context, steps_per_execution: int = 1, inputs: dict[str, Any] | None = None
) -> Timing:
    """Keras 3 on the JAX backend, as shipped: one ``fit`` call, shuffled, with accuracy.

    Args:
        ctx: the benchmark context.
        steps_per_execution: passed to ``Model.compile``.
        inputs: the data arguments of ``fit`` (default: :func:`array_inputs`).
    """
    keras = import_optional("keras")
    if keras.backend.backend() != "jax":
        raise RuntimeError(f"keras runs on the {keras.backend.backend()!r} backend, not 'jax'")
    wl = ctx.workload
    start = time.perf_counter()
    keras.backend.clear_session()
    keras.utils.set_random_seed(ctx.seed)
    model = keras.Sequential([keras.Input(wl.input_shape), *workload_layers(keras.layers, wl)])
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    clock = make_epoch_clock(keras.callbacks.Callback, ctx)
    model.fit(
        **(array_inputs(ctx) if inputs is None else inputs),
        epochs=1 + ctx.timed_epochs,
        verbose=0,
        callbacks=[clock],
    )
    timing = clock.timing(start, wl)
    timing.extra["steps_per_execution"] = steps_per_execution
    return timing


def run_keras(ctx: Context) -> Timing:
    """Keras 3 (JAX backend) as shipped."""
    return run_keras_fit(ctx, steps_per_execution=1)


def run_keras_spe(ctx: Context) -> Timing:
    """Keras 3 (JAX backend) with ``steps_per_execution`` equal to the steps in an epoch."""
    return run_keras_fit(ctx, steps_per_execution=ctx.workload.steps_per_epoch)


def run_keras_generator(ctx: Context) -> Timing:
    """Keras 3 (JAX backend) fed :func:`batch_stream`, ``steps_per_epoch`` given."""
    return run_keras_fit(ctx, inputs=pipeline_inputs(ctx, "generator"))


def run_flax_nnx(ctx: Context) -> Timing:
    """Flax NNX: an ``nnx.jit`` train step called per batch; host batches shuffled each epoch."""
    nnx = import_optional("flax.nnx")
    wl = ctx.workload

    @nnx.jit
    def train_step(model: Any, optimizer: Any, x: jax.Array, y: jax.Array) -> tuple:
        def loss_fn(model: Any) -> tuple[jax.Array, jax.Array]:
            logits = model(x)
            return optax.softmax_cross_entropy(logits, y).mean(), logits

        (loss, logits), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        accuracy = jnp.mean(jnp.argmax(logits, -1) == jnp.argmax(y, -1))
        return loss, accuracy

    def build() -> tuple[Any, Any, np.random.Generator]:
        rngs = nnx.Rngs(ctx.seed)
        layers: list[Any] = []
        for n_in, n_out in zip(wl.sizes[:-1], wl.sizes[1:], strict=True):
            layers += [nnx.Linear(n_in, n_out, rngs=rngs), nnx.relu]
        model = nnx.Sequential(*layers[:-1])
        optimizer = nnx.Optimizer(model, optax.adam(LEARNING_RATE), wrt=nnx.Param)
        return model, optimizer, np.random.default_rng(ctx.seed)

    last: dict[str, float] = {}

    def epoch(state: tuple[Any, Any, np.random.Generator]) -> None:
        model, optimizer, rng = state
        order = rng.permutation(wl.n_examples)
        losses, accuracies = [], []
        for i in range(wl.steps_per_epoch):
            ctx.check_deadline(i)
            idx = order[i * wl.batch_size : (i + 1) * wl.batch_size]
            loss, accuracy = train_step(model, optimizer, ctx.x[idx], ctx.y[idx])
            losses.append(loss)
            accuracies.append(accuracy)
        last["final_loss"] = float(jnp.mean(jnp.stack(losses)))
        last["final_accuracy"] = float(jnp.mean(jnp.stack(accuracies)))

    timing = run_epochs(build, epoch, ctx)
    timing.extra.update(last)
    return timing


def run_torch(ctx: Context) -> Timing:
    """PyTorch eager training loop on tensors kept on the device, shuffled each epoch.

    Uses CUDA when JAX runs on a GPU and PyTorch sees CUDA, else the CPU.
    """
    torch = import_optional("torch")
    wl = ctx.workload
    use_cuda = jax.default_backend() == "gpu" and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    if use_cuda:
        torch.cuda.reset_peak_memory_stats(device)

    def sync() -> None:
        if use_cuda:
            torch.cuda.synchronize(device)

    def build() -> dict[str, Any]:
        torch.manual_seed(ctx.seed)
        layers: list[Any] = []
        for n_in, n_out in zip(wl.sizes[:-1], wl.sizes[1:], strict=True):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers[:-1]).to(device)
        return {
            "model": model,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE),
            "x": torch.from_numpy(ctx.x).to(device),
            "y": torch.from_numpy(ctx.y.argmax(axis=1)).to(device),
        }

    loss_fn = torch.nn.CrossEntropyLoss()
    last: dict[str, float] = {}

    def epoch(s: dict[str, Any]) -> None:
        model, optimizer, x, y = s["model"], s["optimizer"], s["x"], s["y"]
        order = torch.randperm(wl.n_examples, device=device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        for i in range(wl.steps_per_epoch):
            ctx.check_deadline(i)
            idx = order[i * wl.batch_size : (i + 1) * wl.batch_size]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                loss_sum += loss.detach()
                correct += (logits.argmax(dim=1) == yb).sum()
        sync()
        last["final_loss"] = float(loss_sum) / wl.steps_per_epoch
        last["final_accuracy"] = float(correct) / (wl.steps_per_epoch * wl.batch_size)

    timing = run_epochs(
        build, epoch, ctx, torch_device=str(device), torch_threads=torch.get_num_threads()
    )
    timing.extra.update(last)
    if use_cuda:
        timing.extra["peak_memory_bytes"] = int(torch.cuda.max_memory_allocated(device))
        timing.extra["peak_memory_source"] = "torch.cuda.max_memory_allocated"
    return timing


# --------------------------------------------------------------------------------------------
# Time to first result: the seed deck's script end to end, each run in a fresh process
# --------------------------------------------------------------------------------------------

# Each script runs as ``python -c SCRIPT EXAMPLES EPOCHS`` and prints one JSON line of phase
# times (seconds since the script started) and the final loss. The same recipe everywhere: the
# seed MLP, Adam, batch 32, EPOCHS epochs shuffled, accuracy, then one evaluate over the data.
_FIRST_RESULT_DATA = """
import numpy as np
n, epochs = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.standard_normal((n, 10), dtype=np.float32)
y = np.eye(10, dtype=np.float32)[np.argmax(x @ rng.standard_normal((10, 10)), axis=1)]
"""

FIRST_RESULT_SCRIPTS: dict[str, str] = {
    "fnn": """
import json, sys, time
t0 = time.perf_counter()
import fnn
phases = {"import": time.perf_counter() - t0}
"""
    + _FIRST_RESULT_DATA
    + """
t = time.perf_counter()
model = fnn.Sequential(seed=0)
model.add(fnn.layers.Dense(32, activation="relu", input_shape=10))
model.add(fnn.layers.Dense(64, activation="relu"))
model.add(fnn.layers.Dense(10, activation="softmax"))
phases["build"] = time.perf_counter() - t
t = time.perf_counter()
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
phases["compile"] = time.perf_counter() - t
t = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=1, verbose=0)
phases["first_fit"] = time.perf_counter() - t
t = time.perf_counter()
model.fit(x, y, batch_size=32, epochs=epochs, initial_epoch=1, verbose=0)
phases["more_epochs"] = time.perf_counter() - t
t = time.perf_counter()
loss = model.evaluate(x, y, batch_size=32, verbose=0)
phases["first_evaluate"] = time.perf_counter() - t
loss = loss[0] if isinstance(loss, (list, tuple)) else loss
print(json.dumps({"phases": phases, "total": time.perf_counter() - t0, "loss": float(loss)}))
""",
    "jax_optax": """
import json, sys, time
t0 = time.perf_counter()
import jax, jax.numpy as jnp, optax
phases = {"import": time.perf_counter() - t0}
"""
    + _FIRST_RESULT_DATA
    + """
sizes, batch = (10, 32, 64, 10), 32
tx = optax.adam(1e-3)

@jax.jit
def init(key):
    params = []
    for k, a, b in zip(jax.random.split(key, 3), sizes[:-1], sizes[1:]):
        lim = (6.0 / (a + b)) ** 0.5
        params.append((jax.random.uniform(k, (a, b), jnp.float32, -lim, lim), jnp.zeros(b)))
    return params, tx.init(params)

def logits(params, x):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    return x @ params[-1][0] + params[-1][1]

def loss_acc(params, x, y):
    z = logits(params, x)
    return optax.softmax_cross_entropy(z, y).mean(), jnp.mean(z.argmax(-1) == y.argmax(-1))

@jax.jit
def epoch(params, opt_state, xs, ys):
    def step(carry, batch):
        params, opt_state = carry
        (loss, acc), g = jax.value_and_grad(loss_acc, has_aux=True)(params, *batch)
        updates, opt_state = tx.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (loss, acc)
    (params, opt_state), logs = jax.lax.scan(step, (params, opt_state), (xs, ys))
    return params, opt_state, jax.tree.map(jnp.mean, logs)

@jax.jit
def evaluate(params, xs, ys):
    return jax.tree.map(jnp.mean, jax.lax.map(lambda b: loss_acc(params, *b), (xs, ys)))

params, opt_state = init(jax.random.key(0))
steps, order_rng = n // batch, np.random.default_rng(0)
for _ in range(epochs):
    order = order_rng.permutation(n)[: steps * batch].reshape(steps, batch)
    params, opt_state, logs = epoch(params, opt_state, x[order], y[order])
    jax.block_until_ready(logs)
m = steps * batch
loss, acc = evaluate(params, x[:m].reshape(steps, batch, 10), y[:m].reshape(steps, batch, 10))
print(json.dumps({"phases": phases, "total": time.perf_counter() - t0, "loss": float(loss)}))
""",
    "keras": """
import json, os, sys, time
os.environ["KERAS_BACKEND"] = "jax"
t0 = time.perf_counter()
import keras
phases = {"import": time.perf_counter() - t0}
"""
    + _FIRST_RESULT_DATA
    + """
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((10,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(64, activation="relu"),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
loss = model.evaluate(x, y, batch_size=32, verbose=0)[0]
print(json.dumps({"phases": phases, "total": time.perf_counter() - t0, "loss": float(loss)}))
""",
}

# contender -> (script, compilation cache state); fnn_cold gets an empty cache directory for
# every run, fnn_warm one filled by an untimed run first, fnn_nocache runs with fnn's cache off
# (what writing the cache costs: fnn_cold against it). The others run as their users run
# them: JAX's persistent cache off (its default), the environment otherwise the caller's.
FIRST_RESULT_CONTENDERS: dict[str, tuple[str, str]] = {
    "fnn_cold": ("fnn", "cold"),
    "fnn_warm": ("fnn", "warm"),
    "fnn_nocache": ("fnn", "off"),
    "jax_optax": ("jax_optax", "off"),
    "keras": ("keras", "off"),
}
FIRST_RESULT_BASELINE = "jax_optax"


def first_result_env(cache: str | None) -> dict[str, str]:
    """The child's environment: this checkout's fnn first on the path, fnn's cache at ``cache``.

    Args:
        cache: the directory for ``FNN_COMPILATION_CACHE``, or None to turn fnn's cache off.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))
    }
    if (REPO_ROOT / "fnn" / "__init__.py").is_file():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p)
    env["FNN_COMPILATION_CACHE"] = cache or "0"
    env["KERAS_BACKEND"] = "jax"
    return env


def run_first_result_child(
    script: str, env: dict[str, str], examples: int, epochs: int, timeout_s: float
) -> dict[str, Any]:
    """Run one first-result script in a fresh interpreter; its report plus the process's wall.

    Raises:
        NotInstalledError: if the script's framework is not installed.
        RuntimeError: if the script fails.
    """
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_RESULT_SCRIPTS[script], str(examples), str(epochs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode:
        if "ModuleNotFoundError" in proc.stderr:
            raise NotInstalledError(proc.stderr.strip().splitlines()[-1])
        raise RuntimeError(proc.stderr.strip()[-2000:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["wall"] = wall
    return report


def spread(values: list[float]) -> dict[str, float]:
    """Median, min and max of ``values``."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def run_first_result(args: argparse.Namespace) -> dict[str, Any]:
    """Time the seed deck's script end to end in fresh processes, contenders interleaved.

    Every repeat runs each contender once, in turn, so a busy moment of the host falls on all
    of them alike; reported are the median and min-max of each contender's process wall time
    (interpreter start to exit), its ratio to the hand-written JAX + Optax script, and fnn's
    phases.
    """
    examples, epochs = (2048, 2) if args.quick else (60_000, 10)
    repeats = 1 if args.quick else args.first_result
    names = [c for c in FIRST_RESULT_CONTENDERS if c in args.first_result_contenders]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="fnn-first-result-") as tmp:
        warm_dir = os.path.join(tmp, "warm")
        if "fnn_warm" in names:
            print("[bench] first result: filling the warm cache ...", file=sys.stderr, flush=True)
            with contextlib.suppress(Exception):
                run_first_result_child("fnn", first_result_env(warm_dir), examples, epochs, 600)
        for repeat in range(repeats):
            for name in names:
                if name in errors:
                    continue
                script, cache = FIRST_RESULT_CONTENDERS[name]
                cache_dir = {
                    "cold": os.path.join(tmp, f"cold{repeat}"),
                    "warm": warm_dir,
                    "off": None,
                }[cache]
                print(f"[bench] first result {repeat + 1}/{repeats}: {name} ...", file=sys.stderr)
                try:
                    runs[name].append(
                        run_first_result_child(
                            script, first_result_env(cache_dir), examples, epochs, args.timeout
                        )
                    )
                except NotInstalledError as exc:
                    errors[name] = f"not installed: {exc}"
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    errors[name] = f"error: {str(exc)[-500:]}"
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        if not runs[name]:
            results[name] = {"status": errors.get(name, "error: no run")}
            continue
        walls = [r["wall"] for r in runs[name]]
        row: dict[str, Any] = {"status": "ok", "wall_s": spread(walls), "walls": walls}
        row["phases_s"] = {
            phase: statistics.median(r["phases"][phase] for r in runs[name])
            for phase in runs[name][0]["phases"]
        }
        row["final_loss"] = runs[name][-1]["loss"]
        results[name] = row
    base = results.get(FIRST_RESULT_BASELINE, {})
    for row in results.values():
        if row["status"] == "ok" and base.get("status") == "ok":
            row["ratio_to_jax_optax"] = row["wall_s"]["median"] / base["wall_s"]["median"]
    return {"examples": examples, "epochs": epochs, "repeats": repeats, "results": results}


def format_first_result(section: dict[str, Any]) -> list[str]:
    """The first-result section as lines of the plain-text report."""
    lines = [
        "",
        f"## time to first result: the seed script end to end in a fresh process "
        f"({section['examples']} examples, {section['epochs']} epochs, evaluate; "
        f"{section['repeats']} interleaved repeats)",
        f"{'contender':<12} {'median s':>9} {'min-max s':>13} {'×jax_optax':>10}  "
        "phases (median s)",
    ]
    for name, row in section["results"].items():
        if row["status"] != "ok":
            lines.append(f"{name:<12} {row['status'][:100]}")
            continue
        wall, ratio = row["wall_s"], row.get("ratio_to_jax_optax")
        phases = ", ".join(f"{k} {v:.2f}" for k, v in row["phases_s"].items())
        lines.append(
            f"{name:<12} {wall['median']:>9.2f} {wall['min']:>6.2f}-{wall['max']:<6.2f} "
            f"{_fmt(ratio, '.2f'):>10}  {phases}"
        )
    return lines


# --------------------------------------------------------------------------------------------
# The contender table, measurement and reporting
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contender:
    """One thing to time: its kind, the row it is compared with, and how to run it."""

    name: str
    kind: str
    baseline: str | None
    run: Callable[[Context], Timing]
    only_workloads: tuple[str, ...] | None = None


CONTENDERS: tuple[Contender, ...] = (
    Contender("floor", TRAIN, "floor", run_floor),
    Contender("fnn", TRAIN, "floor", run_fnn),
    Contender("fnn_verbose", TRAIN, "floor", run_fnn_verbose, only_workloads=("seed",)),
    Contender("fnn_spe1", TRAIN, "floor", run_fnn_spe(1), only_workloads=("seed",)),
    Contender("fnn_spe8", TRAIN, "floor", run_fnn_spe(8), only_workloads=("seed",)),
    Contender("fnn_spe64", TRAIN, "floor", run_fnn_spe(64), only_workloads=("seed",)),
    Contender("keras", TRAIN, "floor", run_keras),
    Contender("keras_spe", TRAIN, "floor", run_keras_spe),
    Contender("flax_nnx", TRAIN, "floor", run_flax_nnx),
    Contender("torch", TRAIN, "floor", run_torch),
    Contender("pipeline_floor", TRAIN, "floor", run_pipeline_floor),
    Contender("fnn_generator", TRAIN, "floor", run_fnn_generator),
    Contender("fnn_grain", TRAIN, "floor", run_fnn_grain),
    Contender("fnn_torch_loader", TRAIN, "floor", run_fnn_torch_loader),
    Contender("keras_generator", TRAIN, "floor", run_keras_generator),
    Contender("predict_floor", PREDICT, "predict_floor", run_predict_floor),
    Contender("fnn_predict", PREDICT, "predict_floor", run_fnn_predict),
    Contender("evaluate_floor", EVALUATE, "evaluate_floor", run_evaluate_floor),
    Contender("fnn_evaluate", EVALUATE, "evaluate_floor", run_fnn_evaluate),
)
CONTENDER_NAMES = tuple(c.name for c in CONTENDERS)

DEFINITIONS = {
    "examples_per_s": "examples per second over the median timed epoch (pass over the data)",
    "epoch_s": "seconds of each timed epoch (for fit: between consecutive epoch ends)",
    "step_us": "median timed epoch divided by the number of batches, in microseconds",
    "compile_s": "seconds from building the model to the end of the first (warm-up) epoch, "
    "compilation included",
    "gflops": "achieved GFLOP/s counting 2*in*out per dense layer per example forward, "
    "times 3 for training (forward + backward)",
    "peak_fraction": "gflops divided by the measured float32 matmul peak (peak_matmul.gflops, "
    "the better of a measurement at the start and one at the end of the run)",
    "peak_memory_bytes": "device peak_bytes_in_use when the device reports memory stats (a "
    "high-water mark of the whole run so far), else the process's peak resident set size while "
    "the contender ran (reset before it through /proc/self/clear_refs where Linux allows, else "
    "the whole run's maximum); everything the process holds counts, e.g. the data set and "
    "imported libraries (see peak_memory_source)",
    "ratio_to_floor": "median epoch time divided by that of the baseline row of the same kind "
    "(floor, predict_floor or evaluate_floor); 1.0 = as fast as the floor, 2.0 = twice as slow",
    "host_busy_by_others": "share of the host's CPU time used by other processes while the "
    "contender ran (top level: over the whole run), from /proc/stat less this process's own "
    "CPU time; above ~0.1 the timings are suspect",
    "overhead_vs_fnn": "fnn_verbose only: its median epoch time divided by fnn's (verbose=0)",
    "ratio_spread": "min and max of ratio_to_floor over the interleaved rounds (--rounds); "
    "ratio_to_floor is then their median",
    "round_medians": "each round's median epoch time (--rounds)",
}


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter of this process (Linux 4.0+); True on success."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_memory(rss_reset: bool) -> tuple[int | None, str | None]:
    """Return the device's peak bytes in use if it reports them, else the process peak RSS.

    Args:
        rss_reset: whether :func:`reset_peak_rss` succeeded before the contender ran, so the
            process's peak RSS (VmHWM) covers that contender only.
    """
    with contextlib.suppress(Exception):
        stats = jax.devices()[0].memory_stats()
        if stats and "peak_bytes_in_use" in stats:
            return int(stats["peak_bytes_in_use"]), "device peak_bytes_in_use (whole run)"
    if rss_reset:
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
                    return kib * 1024, "process peak RSS during the contender"
    if resource is None:
        return None, None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) * (1 if sys.platform == "darwin" else 1024), "process max RSS (whole run)"


def measure_matmul_peak(n: int, repeats: int, chain: int) -> dict[str, Any]:
    """Measure float32 matmul throughput on the default device.

    One jitted program multiplies ``chain`` times in sequence by an ``n x n`` matrix (scaled so
    values stay bounded); the best of ``repeats`` runs gives the peak.
    """
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (n, n), jnp.float32)
    b = jax.random.normal(kb, (n, n), jnp.float32) / math.sqrt(n)

    @jax.jit
    def chained(a: jax.Array, b: jax.Array) -> jax.Array:
        return jax.lax.fori_loop(0, chain, lambda _, c: c @ b, a)

    chained(a, b).block_until_ready()
    best = min(timed(lambda: chained(a, b).block_until_ready()) for _ in range(repeats))
    return {
        "n": n,
        "dtype": "float32",
        "chain": chain,
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "best_s": best,
        "gflops": 2 * n**3 * chain / best / 1e9,
    }


def cpu_model() -> str | None:
    """The CPU model name from /proc/cpuinfo when present, else ``platform.processor()``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def cpu_count() -> int | None:
    """Cores this process may run on (its affinity where the OS tells it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def describe_device() -> dict[str, Any]:
    """The device the benchmark runs on, and the host around it."""
    devices = jax.devices()
    return {
        "backend": jax.default_backend(),
        "device": str(devices[0]),
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "cpu_model": cpu_model(),
        "cpu_count": cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def collect_versions() -> dict[str, str | None]:
    """Versions of Python and of every package a contender may use (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("jax", "jaxlib", "optax", "numpy", "fnn", "keras", "flax", "torch"):
        versions[name] = package_version(name)
    if versions["fnn"] is None:
        with contextlib.suppress(Exception):
            versions["fnn"] = getattr(import_fnn(), "__version__", None)
    return versions


@dataclass(frozen=True)
class CpuSample:
    """A reading of the host's busy CPU time and of this process's own CPU time (its finished
    children's included: the first-result scripts run in child processes)."""

    wall_s: float
    host_busy_s: float
    own_s: float

    @staticmethod
    def take() -> CpuSample | None:
        """Read /proc/stat and ``os.times``; None where /proc/stat is absent (not Linux)."""
        try:
            ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
            hz = os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, AttributeError):
            return None
        idle = ticks[3] + ticks[4]  # idle + iowait
        own = os.times()
        mine = own.user + own.system + own.children_user + own.children_system
        return CpuSample(time.monotonic(), (sum(ticks) - idle) / hz, mine)

    def others_share_since(self, earlier: CpuSample | None) -> float | None:
        """Share of the host's cores that other processes kept busy since ``earlier``."""
        cores = os.cpu_count()
        wall = self.wall_s - earlier.wall_s if earlier else 0.0
        if earlier is None or wall <= 0 or not cores:
            return None
        others = (self.host_busy_s - earlier.host_busy_s) - (self.own_s - earlier.own_s)
        return round(min(max(others / (wall * cores), 0.0), 1.0), 3)


def measure(contender: Contender, ctx: Context) -> dict[str, Any]:
    """Run one contender on one workload and return its result row; never raises ``Exception``.

    A missing peer framework gives ``status`` "not installed"; any other failure gives
    ``status`` "error" with the message in ``error``.
    """
    wl = ctx.workload
    row: dict[str, Any] = {
        "workload": wl.name,
        "contender": contender.name,
        "kind": contender.kind,
        "status": "ok",
        "error": None,
    }
    gc.collect()
    rss_reset = reset_peak_rss()
    ctx.deadline = time.perf_counter() + ctx.timeout_s
    cpu_before = CpuSample.take()
    try:
        timing = contender.run(ctx)
    except NotInstalledError as exc:
        row.update(status="not installed", error=str(exc))
        return row
    except OutOfTimeError as exc:
        row.update(status="timeout", error=str(exc))
        return row
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}".strip()
        row.update(status="error", error=message[:2000])
        print(f"\n[bench] {wl.name}/{contender.name} failed:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return row

    median = statistics.median(timing.epoch_s)
    flops = wl.train_flops_per_example if contender.kind == TRAIN else wl.forward_flops_per_example
    examples_per_s = timing.examples_per_epoch / median
    gflops = examples_per_s * flops / 1e9
    memory, source = peak_memory(rss_reset)
    cpu_after = CpuSample.take()
    row.update(
        examples_per_s=examples_per_s,
        step_us=median / timing.steps_per_epoch * 1e6,
        compile_s=timing.first_epoch_s,
        epoch_s_median=median,
        epoch_s=timing.epoch_s,
        gflops=gflops,
        peak_fraction=None,  # filled in by run_benchmark once the peak is known
        peak_memory_bytes=memory,
        peak_memory_source=source,
        ratio_to_floor=None,
        host_busy_by_others=cpu_after.others_share_since(cpu_before) if cpu_after else None,
    )
    row.update(timing.extra)
    return row


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Fill ``ratio_to_floor`` (and ``overhead_vs_fnn``) for the rows of one workload."""
    medians = {r["contender"]: r.get("epoch_s_median") for r in rows if r["status"] == "ok"}
    baselines = {c.name: c.baseline for c in CONTENDERS}
    for row in rows:
        if row["status"] != "ok":
            continue
        base = medians.get(baselines.get(row["contender"]))
        row["ratio_to_floor"] = row["epoch_s_median"] / base if base else None
        if row["contender"] == "fnn_verbose":
            fnn = medians.get("fnn")
            row["overhead_vs_fnn"] = row["epoch_s_median"] / fnn if fnn else None


def ratio_spread(row: dict[str, Any]) -> str:
    """``"(min-max) "`` of a row's per-round ratios, when there were several rounds."""
    low_high = row.get("ratio_spread")
    if not low_high or len(row.get("round_medians", ())) < 2:
        return ""
    return f"({low_high[0]:.2f}-{low_high[1]:.2f}) "


def merge_rounds(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per contender from interleaved rounds (each round: every contender once, in
    turn, ratios taken within the round). The merged row's epoch times are all the rounds'
    together (median over them); ``ratio_to_floor`` is the median of the per-round ratios, with
    their min and max in ``ratio_spread`` and each round's median epoch in ``round_medians``.
    A contender that failed in any round keeps its first failed row."""
    merged = []
    for rows in zip(*rounds, strict=True):
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            merged.append(failed[0])
            continue
        row = dict(rows[0])
        examples = row["examples_per_s"] * row["epoch_s_median"]
        steps = row["epoch_s_median"] / row["step_us"] * 1e6
        times = [t for r in rows for t in r["epoch_s"]]
        median = statistics.median(times)
        row.update(
            epoch_s=times,
            epoch_s_median=median,
            examples_per_s=examples / median,
            step_us=median / steps * 1e6,
            gflops=row["gflops"] * row["epoch_s_median"] / median,
            round_medians=[r["epoch_s_median"] for r in rows],
            host_busy_by_others=max((r.get("host_busy_by_others") or 0.0) for r in rows),
        )
        ratios = [r["ratio_to_floor"] for r in rows if r.get("ratio_to_floor") is not None]
        if ratios:
            row["ratio_to_floor"] = statistics.median(ratios)
            row["ratio_spread"] = [min(ratios), max(ratios)]
        if row.get("overhead_vs_fnn") is not None:
            row["overhead_vs_fnn"] = statistics.median(r["overhead_vs_fnn"] for r in rows)
        merged.append(row)
    return merged


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Measure the matmul peak, then every selected contender on every selected workload."""
    workloads = QUICK_WORKLOADS if args.quick else WORKLOADS
    timed_epochs = args.epochs if args.epochs is not None else (1 if args.quick else 5)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    device = describe_device()
    on_cpu = device["backend"] == "cpu"
    n = 1024 if on_cpu else 2048
    peak_args = {"n": n, "repeats": 3 if args.quick else 10, "chain": 2 if on_cpu else 20}
    cpu_start = CpuSample.take()
    if args.first_result:  # first: fresh processes, before this one holds memory and threads
        first_result = run_first_result(args)
    print(f"[bench] measuring float32 matmul peak ({n}x{n}) ...", file=sys.stderr)
    peak = measure_matmul_peak(**peak_args)
    report: dict[str, Any] = {
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "config": {
            "quick": args.quick,
            "timed_epochs": timed_epochs,
            "budget_s": args.budget,
            "timeout_s": args.timeout,
            "warmup_epochs": 1,
            "seed": args.seed,
            "workloads": args.workloads,
            "contenders": args.contenders,
            "cnn": args.cnn,
        },
        "device": device,
        "versions": collect_versions(),
        "peak_matmul": peak,
        "workloads": {},
        "results": [],
        "definitions": DEFINITIONS,
    }
    selected = [] if args.no_table else [workloads[name] for name in args.workloads]
    if args.cnn and not args.no_table:
        selected.append(QUICK_CNN_WORKLOAD if args.quick else CNN_WORKLOAD)
    for wl in selected:
        name = wl.name
        report["workloads"][name] = {
            **asdict(wl),
            "sizes": wl.sizes,
            "steps_per_epoch": wl.steps_per_epoch,
            "forward_flops_per_example": wl.forward_flops_per_example,
            "train_flops_per_example": wl.train_flops_per_example,
        }
        x, y = make_data(wl, args.seed)
        ctx = Context(wl, x, y, timed_epochs, args.seed, args.budget, args.timeout)
        chosen = [
            c
            for c in CONTENDERS
            if c.name in args.contenders
            and not (c.only_workloads and name not in c.only_workloads)
            and not (isinstance(wl, CnnWorkload) and c.name not in CNN_CONTENDERS)
        ]
        rounds = []
        for r in range(args.rounds):  # contenders take turns: a quiet moment favours none
            rows = []
            for contender in chosen:
                print(
                    f"[bench] {name} (round {r + 1}/{args.rounds}): {contender.name} ...",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
                start = time.perf_counter()
                rows.append(measure(contender, ctx))
                elapsed = time.perf_counter() - start
                print(f" {rows[-1]['status']} ({elapsed:.1f} s)", file=sys.stderr, flush=True)
            add_ratios(rows)
            rounds.append(rows)
        report["results"].extend(merge_rounds(rounds))
        if args.profile is not None:
            print(f"[bench] {name}: profiling one fnn epoch ...", file=sys.stderr, flush=True)
            report.setdefault("profile", []).append(profile_fnn_epoch(ctx, args.profile / name))
    # Measured again at the end, since other load on the host only ever lowers the figure.
    peak_end = measure_matmul_peak(**peak_args)
    peak["gflops_at_start"], peak["gflops_at_end"] = peak["gflops"], peak_end["gflops"]
    peak["gflops"] = max(peak["gflops"], peak_end["gflops"])
    for row in report["results"]:
        if row.get("gflops") is not None:
            row["peak_fraction"] = row["gflops"] / peak["gflops"]
    if args.first_result:
        report["first_result"] = first_result
    if args.scaling:
        report["scaling"] = run_scaling(args, on_cpu)
    if args.population:
        report["population"] = run_population(args)
    cpu_end = CpuSample.take()
    report["host_busy_by_others"] = cpu_end.others_share_since(cpu_start) if cpu_end else None
    return report


def load_sibling(name: str) -> Any:
    """Import another script of this folder (they are not a package)."""
    import importlib.util

    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"fnn_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scaling(args: argparse.Namespace, on_cpu: bool) -> list[dict[str, Any]]:
    """Data-parallel fit of the large MLP on 1, 2, 4, 8 devices (weak scaling)."""
    scaling = load_sibling("bench_scaling")
    devices = [int(n) for n in args.scaling.split(",") if n.strip()]
    print(f"[bench] scaling on {devices} devices ...", file=sys.stderr, flush=True)
    kwargs: dict[str, Any] = {"cpu_devices": on_cpu}
    if args.quick:
        kwargs.update(layers=(32, 64, 10), per_device_batch=16, steps=8, epochs=2)
    return scaling.scaling_table(devices, **kwargs)


def run_population(args: argparse.Namespace) -> dict[str, Any]:
    """A Population of ``args.population`` seed models against as many fits in a row."""
    population = load_sibling("bench_population")
    argv = ["--members", str(args.population), "--contenders", "sequential,population"]
    if args.quick:
        argv += ["--examples", "2048", "--epochs", "1"]
    print(f"[bench] population of {args.population} ...", file=sys.stderr, flush=True)
    with silenced():
        return population.main(argv)


def _fmt(value: float | None, spec: str) -> str:
    """Format a number with ``spec``, or a dash when it is missing."""
    return "-" if value is None else format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    """Render the report as a plain-text table."""
    dev, ver, peak = report["device"], report["versions"], report["peak_matmul"]
    lines = [
        f"device: {dev['device']} ({dev['device_kind']}, backend {dev['backend']}, "
        f"{dev['device_count']} device(s)); cpu: {dev['cpu_model']} x{dev['cpu_count']}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in ver.items() if v is not None),
        f"matmul peak: {peak['gflops']:.1f} GFLOP/s (float32 {peak['n']}x{peak['n']})",
    ]
    busy = report.get("host_busy_by_others")
    if busy is not None and busy > BUSY_WARNING:
        lines.append(
            f"warning: other processes kept {100 * busy:.0f}% of the host's CPU busy during the "
            "run; rows marked 'busy' were measured on a loaded host"
        )
    header = (
        f"{'contender':<15} {'kind':<8} {'examples/s':>11} {'step µs':>9} {'compile s':>9} "
        f"{'GFLOP/s':>8} {'%peak':>6} {'mem MiB':>8} {'×floor':>7}  status"
    )
    sources = {r.get("peak_memory_source") for r in report["results"]} - {None}
    for name, wl in report["workloads"].items():
        sizes = wl["sizes"] if isinstance(wl["sizes"], str) else "-".join(map(str, wl["sizes"]))
        lines += [
            "",
            f"workload {name}: {sizes}, batch {wl['batch_size']}, {wl['n_examples']} examples, "
            f"{wl['steps_per_epoch']} steps/epoch",
            header,
            "-" * len(header),
        ]
        for r in (r for r in report["results"] if r["workload"] == name):
            mem = r.get("peak_memory_bytes")
            frac = r.get("peak_fraction")
            status = r["status"] if r["status"] in ("ok", "not installed") else ""
            status = status or f"{r['status']}: {r['error']}"
            if r.get("overhead_vs_fnn") is not None:
                status += f" (×{r['overhead_vs_fnn']:.2f} vs fnn verbose=0)"
            if (r.get("host_busy_by_others") or 0) > BUSY_WARNING:
                status += f" (busy: others used {100 * r['host_busy_by_others']:.0f}% of CPU)"
            lines.append(
                f"{r['contender']:<15} {r['kind']:<8} {_fmt(r.get('examples_per_s'), ',.0f'):>11} "
                f"{_fmt(r.get('step_us'), '.1f'):>9} {_fmt(r.get('compile_s'), '.2f'):>9} "
                f"{_fmt(r.get('gflops'), '.2f'):>8} "
                f"{_fmt(None if frac is None else 100 * frac, '.2f'):>6} "
                f"{_fmt(None if mem is None else mem / 2**20, '.0f'):>8} "
                f"{_fmt(r.get('ratio_to_floor'), '.2f'):>7}  {ratio_spread(r)}{status[:120]}"
            )
    lines += (
        []
        if not report["workloads"]
        else [
            "",
            "×floor = epoch time / floor's epoch time of the same kind (train: floor, predict: "
            "predict_floor, evaluate: evaluate_floor); mem = "
            + (", ".join(sorted(sources)) or "-"),
        ]
    )
    if report.get("first_result"):
        lines += format_first_result(report["first_result"])
    if report.get("scaling"):
        lines += ["", "## data-parallel scaling (weak: batch per device fixed)", ""]
        lines.append(load_sibling("bench_scaling").format_table(report["scaling"]))
    if report.get("population"):
        pop = report["population"]["results"]
        lines += ["", f"## population of {report['population']['config']['members']} seed models"]
        for name, r in pop.items():
            ratio = r.get("speedup_vs_sequential")
            lines.append(
                f"{name:<12} {r['member_examples_per_s']:>14,.0f} member-examples/s"
                + ("" if ratio is None else f"  {ratio:.2f}x one after another")
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""

    def names(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
        def parse(text: str) -> list[str]:
            chosen = [t.strip() for t in text.split(",") if t.strip()]
            unknown = sorted(set(chosen) - set(choices))
            if unknown or not chosen:
                raise argparse.ArgumentTypeError(
                    f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(choices)}"
                )
            return chosen

        return parse

    def positive(text: str) -> int:
        value = int(text)
        if value < 1:
            raise argparse.ArgumentTypeError("must be at least 1")
        return value

    def seconds(text: str) -> float:
        value = float(text)
        if not value > 0:
            raise argparse.ArgumentTypeError("must be a positive number of seconds")
        return value

    parser = argparse.ArgumentParser(
        description="Benchmark fnn against a plain JAX + Optax floor and peer frameworks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="contenders: " + ", ".join(CONTENDER_NAMES),
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 1 timed epoch, for smoke tests (seed workload unless --workloads)",
    )
    parser.add_argument(
        "--workloads",
        type=names(tuple(WORKLOADS)),
        default=None,
        help="comma-separated workloads (default: seed,large; seed with --quick)",
    )
    parser.add_argument(
        "--contenders",
        type=names(CONTENDER_NAMES),
        default=list(CONTENDER_NAMES),
        help="comma-separated contenders (default: all)",
    )
    parser.add_argument(
        "--epochs",
        type=positive,
        default=None,
        help="timed epochs after the warm-up epoch (default: 5, or 1 with --quick)",
    )
    parser.add_argument(
        "--rounds",
        type=positive,
        default=None,
        help="rounds of the table, the contenders taking turns in each (default: 3, or 1 with "
        "--quick); ratios are the median of the rounds' ratios, min-max beside them",
    )
    parser.add_argument(
        "--budget",
        type=seconds,
        default=20.0,
        help="stop timing a contender after this many seconds of timed epochs, once at least "
        "one is done (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=120.0,
        help="give up on a contender (status 'timeout') once it has run this many seconds; "
        "checked between epochs, and between steps in per-step loops (default: %(default)s)",
    )
    parser.add_argument(
        "--scaling",
        default="",
        help="also time data-parallel fit on these device counts, e.g. 1,2,4,8 (virtual CPU "
        "devices on a CPU host; see scripts/bench_scaling.py). Default: off",
    )
    parser.add_argument(
        "--population",
        type=int,
        default=0,
        help="also compare a Population of this many seed models with as many fits one after "
        "another (see scripts/bench_population.py). Default: off",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="also write a jax.profiler trace of one timed fnn epoch per workload to "
        "DIR/<workload> "
        "(open with TensorBoard's profile tab). Default: off",
    )
    parser.add_argument(
        "--first-result",
        type=int,
        default=0,
        metavar="REPEATS",
        help="also time the seed deck's script end to end in fresh processes (fnn with a cold "
        "and a warm compilation cache, hand-written JAX + Optax, Keras), this many interleaved "
        "repeats (1 with --quick). Default: off",
    )
    parser.add_argument(
        "--first-result-contenders",
        type=names(tuple(FIRST_RESULT_CONTENDERS)),
        default=list(FIRST_RESULT_CONTENDERS),
        help="comma-separated first-result contenders (default: all)",
    )
    parser.add_argument(
        "--no-table",
        action="store_true",
        help="skip the matmul peak and the contender table (e.g. to run only --first-result)",
    )
    parser.add_argument(
        "--cnn",
        action="store_true",
        help="also time the CNN workload (Conv2D, pooling; contenders "
        + ", ".join(CNN_CONTENDERS)
        + "). Default: off",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for data and models")
    parser.add_argument(
        "--json", type=Path, default=Path("bench.json"), help="output path (default: bench.json)"
    )
    args = parser.parse_args(argv)
    if args.first_result < 0:
        parser.error("--first-result must be 0 (off) or a number of repeats")
    if args.workloads is None:
        args.workloads = ["seed"] if args.quick else list(WORKLOADS)
    return args


def configure_environment() -> None:
    """Set the variables that must precede Keras's import and JAX's backend start.

    Keras picks its backend when first imported; without preallocation JAX and PyTorch can share
    one GPU.
    """
    os.environ["KERAS_BACKEND"] = "jax"
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table and write the JSON report."""
    args = parse_args(argv)
    configure_environment()
    warnings.filterwarnings("ignore", message="Some donated buffers were not usable")
    report = run_benchmark(args)
    print(format_report(report))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
