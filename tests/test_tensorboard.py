"""fnn.callbacks.TensorBoard: event files read back with TensorBoard's own reader."""

import glob
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

import fnn
from fnn.callbacks import TensorBoard
from fnn.layers import BatchNormalization, Dense


def read_run(path):
    """{tag: [(step, value), ...]} of a run directory, through TensorBoard's reader."""
    acc = EventAccumulator(str(path), size_guidance={"tensors": 0})
    acc.Reload()
    return {
        tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)]
        for tag in acc.Tags()["tensors"]
    }


def scalars(run, tag):
    return [(step, float(v)) for step, v in run[tag]]


def test_fit_writes_keras_tags_histograms_and_learning_rate(tmp_path):
    model = fnn.Sequential(
        [Dense(6, activation="relu", input_shape=3), BatchNormalization(), Dense(1)], seed=0
    )
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    cb = TensorBoard(tmp_path, histogram_freq=2, write_steps_per_second=True)
    history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[cb])

    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = read_run(tmp_path / "train"), read_run(tmp_path / "validation")
    for name in ("loss", "mae"):
        got = scalars(train, f"epoch_{name}")
        assert [s for s, _ in got] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in got], history.history[name], rtol=1e-6)
        got = scalars(val, f"epoch_{name}")
        np.testing.assert_allclose([v for _, v in got], history.history[f"val_{name}"], rtol=1e-6)
    assert scalars(train, "epoch_learning_rate") == [(e, pytest.approx(1e-3)) for e in range(3)]
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))
    assert not any(t.startswith("epoch_val") for t in train)

    hist_tags = sorted(t for t in train if t.endswith("/histogram"))
    # one per weight, named as safetensors names them (literal names: test_interop_safetensors)
    assert len(hist_tags) == 8
    assert hist_tags == sorted(f"{n}/histogram" for n in fnn.interop.weight_names(model))
    assert "batch_normalization/moving_mean/histogram" in hist_tags
    # histogram_freq=2: epochs 0 and 2; the last one describes the final kernel's values.
    kernel = train["dense/kernel/histogram"]
    assert [s for s, _ in kernel] == [0, 2]
    buckets = kernel[-1][1]  # rows (left, right, count)
    w = model.get_weights()[0]
    assert buckets[:, 2].sum() == w.size
    assert buckets[0, 0] == pytest.approx(w.min()) and buckets[-1, 1] == pytest.approx(w.max())


def drive(cb, model, steps, ends, logs_of, epochs=1):
    """Call the hooks as the engine does: one begin/end pair per execution ending at ``ends``."""
    cb.set_model(model)
    cb.set_params({"epochs": epochs, "steps": steps, "verbose": 0})
    cb.on_train_begin()
    for epoch in range(epochs):
        cb.on_epoch_begin(epoch)
        first = 0
        for last in ends:
            cb.on_train_batch_begin(first)
            cb.on_train_batch_end(last, logs_of(epoch, last))
            first = last + 1
        cb.on_epoch_end(epoch, {"loss": 1.0})
    cb.on_train_end()


@pytest.mark.parametrize(
    ("update_freq", "ends", "expected"),
    [
        ("batch", list(range(10)), list(range(1, 11)) + list(range(11, 21))),
        (3, list(range(10)), [3, 6, 9, 12, 15, 18]),
        # executions of 4 steps (steps_per_execution=4): one record per multiple of 3 passed
        (3, [3, 7, 9], [4, 8, 10, 14, 18]),
        ("epoch", list(range(10)), []),
    ],
)
def test_update_freq_from_batch_hooks(tmp_path, update_freq, ends, expected):
    model = fnn.Sequential([Dense(1, input_shape=2)])
    cb = TensorBoard(tmp_path, update_freq=update_freq)
    drive(cb, model, 10, ends, lambda e, b: {"loss": 100.0 * e + b}, epochs=2)
    train = read_run(tmp_path / "train")
    got = scalars(train, "batch_loss") if expected else train.get("batch_loss", [])
    assert [s for s, _ in got] == expected
    # the value written is the one the hook received at that step
    for step, value in got:
        assert value == 100.0 * ((step - 1) // 10) + (step - 1) % 10


def test_profile_batch_writes_a_trace_over_the_chosen_steps(tmp_path):
    model = fnn.Sequential([Dense(1, input_shape=2)])
    model.compile(optimizer="sgd", loss="mse")
    cb = TensorBoard(tmp_path, profile_batch=(3, 4))
    seen = []

    def logs_of(epoch, batch):
        seen.append((batch, cb._tracing))
        model.predict(np.ones((4, 2)), verbose=0)  # some device work to trace
        return {"loss": 0.0}

    drive(cb, model, 6, list(range(6)), logs_of)
    # tracing from the begin hook of step 3 (batch 2) to the end hook of step 4 (batch 3)
    assert seen == [(0, False), (1, False), (2, True), (3, True), (4, False), (5, False)]
    traces = glob.glob(str(tmp_path / "train" / "plugins" / "profile" / "*" / "*.xplane.pb"))
    assert len(traces) == 1 and os.path.getsize(traces[0]) > 0


def test_population_members_get_their_own_runs(tmp_path):
    model = fnn.Sequential([Dense(2, input_shape=3)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    pop = fnn.Population(model, size=2, hyperparams={"learning_rate": [0.1, 0.01]})
    pop.fit(np.ones((8, 3)), np.ones((8, 2)), epochs=1, verbose=0)
    cb = TensorBoard(tmp_path, histogram_freq=1)
    cb.set_model(pop)
    cb.set_params({"epochs": 1, "steps": 1})
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"loss": np.array([0.5, 0.25]), "val_loss": np.array([1.0, 2.0])})
    cb.on_train_end()
    assert sorted(os.listdir(tmp_path)) == ["member_0", "member_1"]
    for i, (loss, val, lr) in enumerate([(0.5, 1.0, 0.1), (0.25, 2.0, 0.01)]):
        train = read_run(tmp_path / f"member_{i}" / "train")
        assert scalars(train, "epoch_loss") == [(0, loss)]
        assert scalars(train, "epoch_learning_rate") == [(0, pytest.approx(lr))]
        assert scalars(read_run(tmp_path / f"member_{i}" / "validation"), "epoch_loss") == [
            (0, val)
        ]
        kernel = train["dense/kernel/histogram"][0][1]
        np.testing.assert_allclose(kernel[0, 0], pop.member(i).get_weights()[0].min(), rtol=1e-6)


def test_evaluation_vs_iterations_on_test_end(tmp_path):
    cb = TensorBoard(tmp_path)
    cb.set_model(fnn.Sequential([Dense(1, input_shape=2)]))
    cb.set_params({"epochs": 3, "steps": 5})
    cb.on_train_begin()
    cb.on_epoch_begin(1)  # initial_epoch=1: 5 steps already trained
    cb.on_epoch_end(1, {"loss": 1.0})
    cb.on_test_end({"loss": 0.5})
    cb.on_train_end()
    val = read_run(tmp_path / "validation")
    assert scalars(val, "evaluation_loss_vs_iterations") == [(10, 0.5)]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"update_freq": "step"}, "update_freq"),
        ({"update_freq": 0}, "update_freq"),
        ({"histogram_freq": -1}, "histogram_freq"),
        ({"profile_batch": (5, 2)}, "profile_batch"),
        ({"profile_batch": "a,b"}, "profile_batch"),
        ({"profile_batch": -1}, "profile_batch"),
        ({"write_graph": True}, "write_graph"),
        ({"embeddings_freq": 1}, "embeddings_freq"),
    ],
)
def test_bad_arguments(kwargs, error):
    with pytest.raises(ValueError, match=error):
        TensorBoard("logs", **kwargs)
    with pytest.raises(TypeError, match="log_dir"):
        TensorBoard(3)


def test_profile_batch_forms():
    assert TensorBoard("l", profile_batch="2,5").profile_range == (2, 5)
    assert TensorBoard("l", profile_batch=[2, 2]).profile_range == (2, 2)
    assert TensorBoard("l", profile_batch=7).profile_range == (7, 7)
    assert TensorBoard("l").profile_range is None
