"""Shared fixtures: small learnable data sets and the seed model."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

# The suite builds thousands of models, many of them the same program (the seed model's epoch,
# evaluate, predict): a compilation cache shared by the whole run (every xdist worker inherits
# this directory) compiles each once; measured 30 s -> 19 s on tests/test_callbacks.py alone.
# Compile counts asserted in tests are all "nothing new", which a cache hit keeps true.
# tests/test_config.py tests fnn's own default with its own settings.
if "FNN_COMPILATION_CACHE" not in os.environ:
    os.environ["FNN_COMPILATION_CACHE"] = tempfile.mkdtemp(prefix="fnn-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["FNN_COMPILATION_CACHE"], ignore_errors=True)
# fnn caches every program however quick its compile (threshold 0 s); in the suite most
# compilations are eager single ops (metrics and losses called on arrays, initialisers) that
# compile in milliseconds, and writing each to the size-bounded, file-locked cache costs more
# than compiling it again: tests/test_metrics.py took 51 s of CPU with the threshold at 0 s,
# 36 s at 0.05 s and 35 s with no cache, while test_callbacks + test_population kept the cache's
# gain (41 s without a cache, 31 s at either threshold). Subprocesses inherit it; the tests of
# fnn's own default (tests/test_config.py) remove it from their children's environment.
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.05")

# The suite is bound by XLA compiling thousands of small programs, not by running them: LLVM's
# optimisation level 0 compiles ~1.7x faster (tests/test_population.py on 2 cores: 67 s -> 40 s).
# It changes how fast the machine code runs, not what it computes (XLA's HLO passes, which fix
# the numerics, run as always); speed is measured by scripts/bench.py at the default level.
# Subprocesses (notebooks, scripts, several processes) inherit it. FNN_TEST_XLA_OPT=1 keeps
# XLA's default.
if os.environ.get("FNN_TEST_XLA_OPT") != "1":
    _flag = "--xla_backend_optimization_level=0"
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_flag}".strip()

from fnn.layers import Dense
from fnn.models import Sequential

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(filename: str, module_name: str) -> ModuleType:
    """Import ``scripts/<filename>`` as module ``module_name`` (scripts are not in the package)."""
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, SCRIPTS / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def make_classification(n: int = 512, features: int = 10, classes: int = 10, seed: int = 0):
    """Linearly separable-ish classes: label = argmax(x @ W)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, classes))
    labels = np.argmax(x @ w, axis=1)
    return x, np.eye(classes, dtype=np.float32)[labels], labels


def seed_model(seed: int = 0, compile: bool = True) -> Sequential:
    """The deck's network: 10-32-64-10, ReLU, softmax, Adam, categorical cross-entropy."""
    model = Sequential(seed=seed)
    model.add(Dense(32, activation="relu", input_shape=10))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    if compile:
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


@pytest.fixture
def classification():
    return make_classification()


def assert_gradients_match_finite_differences(f, tree, eps=1e-6, atol=1e-8, rtol=1e-6):
    """``jax.grad(f)(tree)`` against central differences, one coordinate at a time (float64)."""
    import jax
    import jax.flatten_util
    import jax.numpy as jnp

    grads = jax.grad(f)(tree)
    flat, unravel = jax.flatten_util.ravel_pytree(tree)
    g_flat, _ = jax.flatten_util.ravel_pytree(grads)

    @jax.jit
    def central_difference(i):  # one compiled program serves every coordinate i
        e = jnp.zeros_like(flat).at[i].set(eps)
        return (f(unravel(flat + e)) - f(unravel(flat - e))) / (2 * eps)

    for i in range(flat.size):
        fd = central_difference(i)
        assert abs(float(fd) - float(g_flat[i])) < atol + rtol * abs(float(fd)), i


# -- fnn archives, taken apart and put together (tests/test_archive.py, tests/test_saving.py) --
def zip_members(path: Path) -> dict[str, bytes]:
    """Every member of a zip file, by name."""
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """A zip archive holding ``members`` (in order), as bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return buf.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as ``.npy`` bytes (pickled when it holds objects: hostile-file tests use it)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=True)
    return buf.getvalue()


@contextlib.contextmanager
def count_compiles():
    """Count XLA backend compilations inside the block (a list that grows by one per compile)."""
    import jax  # after the XLA flags above are set

    events = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
