"""Structure of fit/evaluate/predict: compile counts, host syncs, streaming, mixed precision.

No wall-clock assertions: speed is measured in scripts/bench.py.
"""

import contextlib

import jax
import numpy as np
import pytest
from conftest import make_classification, seed_model

from fnn.engine import PROGRESS_UPDATES
from fnn.layers import Dense
from fnn.models import Sequential


@contextlib.contextmanager
def count_compiles():
    """Count XLA backend compilations inside the block."""
    events = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(name)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_second_fit_evaluate_predict_compile_nothing():
    x, y, _ = make_classification(300)
    model = seed_model()
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.2)
    model.evaluate(x, y, verbose=0)
    model.predict(x)
    with count_compiles() as compiles:
        model.fit(x, y, epochs=3, verbose=0, validation_split=0.2)
        model.evaluate(x, y, verbose=0)
        model.predict(x)
    assert compiles == []


def test_one_host_sync_per_epoch(monkeypatch):
    x, y, _ = make_classification(300)
    model = seed_model()
    model.fit(x, y, epochs=1, verbose=0)
    calls = []
    real = jax.device_get
    monkeypatch.setattr(jax, "device_get", lambda v: calls.append(1) or real(v))
    # implicit device-to-host transfers (float(array), np.asarray(array)) are refused
    with jax.transfer_guard_device_to_host("disallow"):
        model.fit(x, y, epochs=4, verbose=0)
    assert len(calls) == 4


def test_progress_bar_updates_per_chunk_not_per_step(monkeypatch, capsys):
    x, y, _ = make_classification(3200)  # 100 steps per epoch at batch 32
    model = seed_model()
    calls = []
    real = jax.device_get
    monkeypatch.setattr(jax, "device_get", lambda v: calls.append(1) or real(v))
    model.fit(x, y, epochs=2, verbose=1)
    assert 2 <= len(calls) <= 2 * (PROGRESS_UPDATES + 1)


def test_streamed_data_gives_the_same_weights_as_resident_data():
    x, y, _ = make_classification(333)
    a, b = seed_model(), seed_model()
    ha = a.fit(x, y, batch_size=16, epochs=2, verbose=0, max_device_bytes=None)
    # 80 bytes per example (10 features + 10 one-hot, float32): 4000 bytes = 50 -> 48 examples
    hb = b.fit(x, y, batch_size=16, epochs=2, verbose=0, max_device_bytes=4000)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-6)
    np.testing.assert_allclose(
        a.evaluate(x, y, verbose=0), b.evaluate(x, y, verbose=0, max_device_bytes=4000), rtol=1e-6
    )
    np.testing.assert_allclose(a.predict(x), b.predict(x, max_device_bytes=1400), rtol=1e-6)


def test_budget_too_small_for_one_batch_is_a_clear_error():
    x, y, _ = make_classification(64)
    with pytest.raises(ValueError, match="max_device_bytes"):
        seed_model().fit(x, y, batch_size=32, verbose=0, max_device_bytes=100)


def test_mixed_bfloat16_trains_with_float32_params():
    x, y, _ = make_classification(512)
    model = Sequential(
        [Dense(32, activation="relu", input_shape=10), Dense(10, activation="softmax")],
        dtype_policy="mixed_bfloat16",
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.8 * history.history["loss"][0]
    assert all(w.dtype == np.float32 for w in model.get_weights())
    assert model.predict(x[:4]).dtype == np.float32
    jaxpr = str(jax.make_jaxpr(model.apply)(model.params, x[:4]))
    assert "bf16" in jaxpr
    with pytest.raises(ValueError, match="Did you mean 'mixed_bfloat16'"):
        Sequential(dtype_policy="mixed_bfloat")
