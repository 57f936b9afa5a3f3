"""Structure of fit/evaluate/predict: compile counts, host syncs, streaming, mixed precision.

No wall-clock assertions: speed is measured in scripts/bench.py.
"""

import jax
import numpy as np
import pytest
from conftest import count_compiles, make_classification, seed_model

from fnn.engine import PROGRESS_UPDATES
from fnn.layers import Dense
from fnn.models import Sequential


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


# -- one epoch loop: executions, batch hooks, the epoch counter --------------------------------
def _dropout_model(seed=0, steps_per_execution=None):
    from fnn.layers import Dropout

    model = Sequential(seed=seed)
    model.add(Dense(16, activation="relu", input_shape=10))
    model.add(Dropout(0.3))
    model.add(Dense(10, activation="softmax"))
    model.compile(
        loss="categorical_crossentropy",
        optimizer="adam",
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model


@pytest.mark.parametrize("per_execution", [1, 3, 8])
def test_steps_per_execution_changes_nothing_numerically(per_execution):
    x, y, _ = make_classification(200)  # 7 batches of 32 (the last has 8)
    reference = _dropout_model()
    ref = reference.fit(x, y, epochs=2, verbose=0)
    model = _dropout_model(steps_per_execution=per_execution)
    begins, ends = [], []
    from fnn.callbacks import LambdaCallback

    hooks = LambdaCallback(
        on_train_batch_begin=lambda b, logs: begins.append(b),
        on_train_batch_end=lambda b, logs: ends.append((b, dict(logs))),
    )
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[hooks])
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(history.history["loss"], ref.history["loss"], rtol=1e-6)
    executions = -(-7 // per_execution)
    assert len(begins) == len(ends) == 2 * executions
    assert begins[:executions] == list(range(0, 7, per_execution))
    assert ends[executions - 1][0] == 6  # the last step's index
    # the logs at the end of the epoch's last execution are the epoch's means
    np.testing.assert_allclose(ends[executions - 1][1]["loss"], history.history["loss"][0])


def test_fit_one_epoch_twice_equals_two_epochs_and_counts_them():
    x, y, _ = make_classification(100)
    once = _dropout_model()
    once.fit(x, y, epochs=2, verbose=0)
    twice = _dropout_model()
    twice.fit(x, y, epochs=1, verbose=0)
    twice.fit(x, y, epochs=1, verbose=0)  # the notebook habit: fresh randomness each call
    assert twice.epoch == once.epoch == 2
    for a, b in zip(once.get_weights(), twice.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_every_n_steps(tmp_path):
    from fnn.callbacks import ModelCheckpoint

    x, y, _ = make_classification(200)
    model = _dropout_model(steps_per_execution=2)
    ckpt = ModelCheckpoint(str(tmp_path / "step-{epoch}-{loss:.4f}.fnn"), save_freq=4)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[ckpt])
    # 14 steps in 2 epochs, executions of 2: saves after steps 4, 8, 12
    assert len(list(tmp_path.iterdir())) == 3


def test_named_optimizer_on_a_model_without_parameters():
    from fnn.layers import Activation

    model = Sequential([Activation("relu", input_shape=3)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(np.ones((8, 3)), np.ones((8, 3)), epochs=1, verbose=0)
    assert history.history["loss"] == [0.0]


def test_model_builds_when_called_and_refuses_an_empty_model():
    model = Sequential([Dense(3), Dense(2)])
    assert model(np.ones((4, 5))).shape == (4, 2)
    assert model.input_shape == (5,)
    with pytest.raises(ValueError, match="no layers"):
        Sequential()(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"x has shape \(4, 6\)"):
        model(np.ones((4, 6)))


def test_pickle_and_deepcopy_keep_weights_and_resume_exactly():
    import copy
    import pickle

    x, y, _ = make_classification(64)
    model = _dropout_model()
    model.fit(x, y, epochs=1, verbose=0)
    for clone in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
        assert clone.epoch == 1
        np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    clone.fit(x, y, epochs=2, initial_epoch=1, verbose=0)
    model.fit(x, y, epochs=2, initial_epoch=1, verbose=0)
    for a, b in zip(model.get_weights(), clone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_predict_on_a_slightly_different_number_of_examples_compiles_nothing_new():
    x, _, _ = make_classification(1000)
    model = seed_model()
    first = model.predict(x[:990], verbose=0)
    with count_compiles() as compiles:
        second = model.predict(x[:1000], verbose=0)
        third = model.predict(x[: 1000 - 17], verbose=0)
    assert compiles == []
    assert second.shape == (1000, 10) and third.shape == (983, 10)
    np.testing.assert_allclose(second[:990], first, rtol=1e-6, atol=1e-7)


def test_frozen_layers_ema_and_the_variable_dtype():
    from fnn import optimizers

    x, y, _ = make_classification(64)
    frozen = Sequential([Dense(8, input_shape=10), Dense(10, activation="softmax")], seed=0)
    frozen.layers[0].trainable = False
    frozen.compile(optimizer=optimizers.AdamW(0.01), loss="categorical_crossentropy")
    before = frozen.get_weights()
    frozen.fit(x, y, epochs=2, verbose=0)
    after = frozen.get_weights()
    np.testing.assert_array_equal(before[0], after[0])  # no update, no weight decay
    assert not np.array_equal(before[2], after[2])

    ema = Sequential([Dense(8, input_shape=10), Dense(10, activation="softmax")], seed=0)
    ema.compile(optimizer=optimizers.Adam(0.01, use_ema=True), loss="categorical_crossentropy")
    ema.fit(x, y, epochs=2, verbose=0)
    average = optimizers.ema_weights(ema.opt_state)
    assert average is not None  # the weights became the moving average when fit ended

    bf16 = Sequential([Dense(4, input_shape=10)], dtype_policy="bfloat16")
    assert bf16.params[0]["kernel"].dtype == "bfloat16"


def test_convolutions_run_unrolled_on_a_cpu_with_the_same_results():
    """XLA's CPU backend runs convolutions inside a loop ~6x slower, so a network with one runs
    pieces of CPU_CONV_STEPS steps unrolled; the batches, keys and results are the same."""
    import jax

    from fnn.engine import CPU_CONV_STEPS
    from fnn.layers import Conv2D, Flatten

    x = np.random.default_rng(0).normal(size=(100, 6, 6, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[np.arange(100) % 3]

    def model(spe=None):
        m = Sequential(
            [
                Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)),
                Flatten(),
                Dense(3, activation="softmax"),
            ],
            seed=0,
        )
        m.compile(optimizer="adam", loss="categorical_crossentropy", steps_per_execution=spe)
        return m

    unrolled, looped = model(), model(spe=1000)
    if jax.default_backend() == "cpu":
        assert unrolled.engine.unrolled_steps == CPU_CONV_STEPS
    assert seed_model().engine.unrolled_steps is None  # dense networks keep one scan per epoch
    unrolled.fit(x, y, batch_size=10, epochs=2, verbose=0)
    looped.fit(x, y, batch_size=10, epochs=2, verbose=0)
    for a, b in zip(unrolled.get_weights(), looped.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_on_a_slightly_different_number_of_examples_compiles_nothing_new():
    x, y, _ = make_classification(1000)
    model = seed_model()
    reference = model.evaluate(x[:983], y[:983], verbose=0)
    model.evaluate(x[:990], y[:990], verbose=0)
    with count_compiles() as compiles:
        again = model.evaluate(x[:983], y[:983], verbose=0)
        model.evaluate(x[:1000], y[:1000], verbose=0, sample_weight=None)
        model.evaluate(x[: 1001 - 17], y[:984], verbose=0)
    assert compiles == []
    np.testing.assert_allclose(again, reference, rtol=1e-6)
    # the padded pass equals one over exactly the real rows, computed batch by batch
    starts = range(0, 983, 32)
    batches = [
        model.evaluate(x[i : min(i + 32, 983)], y[i : min(i + 32, 983)], verbose=0) for i in starts
    ]
    sizes = [min(i + 32, 983) - i for i in starts]
    expected = np.average(np.array(batches), axis=0, weights=sizes)
    np.testing.assert_allclose(reference, expected, rtol=1e-5)


def unpadded(model: Sequential) -> Sequential:
    """``model`` with its engine's epoch padding off: the exact shapes, for reference."""
    model.engine.pads_steps = model.engine.pads_rest = False
    return model


def test_fit_on_a_slightly_different_number_of_examples_compiles_nothing_new():
    x, y, _ = make_classification(1100)
    model = seed_model()
    model.fit(x[:1000], y[:1000], epochs=1, verbose=0)
    with count_compiles() as compiles:
        for n in (1013, 990, 1021, 1000):  # other full-step counts and other last batches
            model.fit(x[:n], y[:n], epochs=1, verbose=0)
    assert compiles == []


@pytest.mark.parametrize("n", [1013, 1024, 20])
def test_a_padded_epoch_trains_exactly_as_the_unpadded_one(n):
    """The padded order's extra steps never run, and the masked last batch gives the gradient,
    loss, metrics and count of the smaller batch (n=20: the epoch is only that batch)."""
    x, y, _ = make_classification(n)
    padded, exact = seed_model(), unpadded(seed_model())
    hp = padded.fit(x, y, epochs=2, verbose=0)
    he = exact.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(padded.get_weights(), exact.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(hp.history[name], he.history[name], rtol=1e-5)
    assert int(padded.train_state.step) == int(exact.train_state.step) == 2 * -(-n // 32)


def test_batch_statistics_keep_the_exact_last_batch():
    """BatchNormalization mixes a batch's rows: its last batch is never padded (the steps
    are), and training equals the unpadded engine's."""
    from fnn.layers import BatchNormalization

    def model():
        m = Sequential(seed=0)
        m.add(Dense(16, input_shape=10))
        m.add(BatchNormalization())
        m.add(Dense(10, activation="softmax"))
        m.compile(loss="categorical_crossentropy", optimizer="adam")
        return m

    x, y, _ = make_classification(1013)
    padded, exact = model(), unpadded(model())
    assert padded.engine.pads_steps and not padded.engine.pads_rest
    padded.fit(x, y, epochs=1, verbose=0)
    exact.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(padded.get_weights(), exact.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_every_streamed_chunk_and_progress_piece_is_one_program():
    x, y, _ = make_classification(333)  # 48-example chunks of 16: 7 chunks, the last partial
    model = seed_model()
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, max_device_bytes=4000)
    assert model.engine.compiled("train")._cache_size() == 1
    x, y, _ = make_classification(3210)  # progress pieces of ~5 steps, the last one shorter
    model = seed_model()
    model.fit(x, y, epochs=1, verbose=1)
    assert model.engine.compiled("train")._cache_size() == 1
