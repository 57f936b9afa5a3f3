import csv
import math

import jax
import numpy as np
import optax
import pytest

from fnn import optimizers
from fnn.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from fnn.layers import Dense
from fnn.models import Sequential


def linear_model(lr: float = 0.01, units_in: int = 2) -> Sequential:
    """y = x @ kernel, kernel starting at zero, trained by SGD on the MSE."""
    model = Sequential([Dense(1, use_bias=False, kernel_initializer="zeros", input_shape=units_in)])
    model.compile(optimizer=optimizers.SGD(lr), loss="mse")
    return model


def regression(n: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    return x, x @ np.array([[2.0], [-1.0]], np.float32)


def feed(key: str, values):
    """A callback that puts values[epoch] into the logs as ``key`` (a scripted metric)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.__setitem__(key, values[epoch]))


def recorder(store: list):
    """Records the model's weights after every epoch."""

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            store.append(self.model.get_weights())

    return Record()


def train_cache_size(model: Sequential) -> int:
    return model.engine.compiled("train")._cache_size()


# -- learning rate: reaches the update, never recompiles ----------------------------------------
def test_scheduled_learning_rate_reaches_the_sgd_update_exactly():
    # One example x=(1, 0), y=1, kernel 0: the MSE gradient is (-2, 0), so one SGD step with
    # rate lr gives kernel (2 lr, 0). The scheduler sets lr=0.125 (default was 0.01).
    model = linear_model(lr=0.01)
    x, y = np.array([[1.0, 0.0]], np.float32), np.array([[1.0]], np.float32)
    sched = LearningRateScheduler(lambda epoch, lr: 0.125)
    model.fit(x, y, epochs=1, batch_size=1, verbose=0, callbacks=[sched])
    np.testing.assert_array_equal(model.get_weights()[0], [[0.25], [0.0]])


def test_zero_learning_rate_freezes_the_weights_and_nothing_recompiles():
    model = linear_model()
    x, y = regression()
    model.fit(x, y, epochs=1, verbose=0)
    assert train_cache_size(model) == 1
    weights = []
    sched = LearningRateScheduler(lambda epoch, lr: 0.05 if epoch < 2 else 0.0)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[sched, recorder(weights)])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.05, 0.0, 0.0])
    assert not np.array_equal(weights[0][0], weights[1][0])  # lr 0.05 moves them
    np.testing.assert_array_equal(weights[1][0], weights[2][0])  # lr 0 freezes them
    np.testing.assert_array_equal(weights[2][0], weights[3][0])
    assert train_cache_size(model) == 1


def test_named_optimizers_take_scheduled_rates_without_recompiling():
    # A name gives fit's own choice of optimizer (flattened for small models): same guarantee.
    model = Sequential([Dense(1, input_shape=2)])
    model.compile(optimizer="adam", loss="mse")
    sched = LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(*regression(), epochs=3, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    assert optimizers.learning_rate(model.opt_state) == pytest.approx(0.1 / 3)
    assert train_cache_size(model) == 1


def test_schedule_receives_epoch_and_current_rate():
    seen = []

    def schedule(epoch, lr):
        seen.append((epoch, round(lr, 6)))
        return lr * 0.5

    model = linear_model(lr=0.1)
    model.fit(*regression(), epochs=3, verbose=0, callbacks=[LearningRateScheduler(schedule)])
    assert seen == [(0, 0.1), (1, 0.05), (2, 0.025)]
    assert optimizers.learning_rate(model.opt_state) == pytest.approx(0.0125)


def test_scheduler_refuses_optimizers_without_an_injected_rate():
    model = Sequential([Dense(1, input_shape=2)])
    model.compile(optimizer=optax.sgd(0.1), loss="mse")
    with pytest.raises(ValueError, match="LearningRateScheduler needs an optimizer"):
        model.fit(*regression(), verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr)])
    model.compile(optimizer=optimizers.SGD(optax.exponential_decay(0.1, 5, 0.5)), loss="mse")
    with pytest.raises(ValueError, match="Optax schedule"):
        model.fit(*regression(), verbose=0, callbacks=[LearningRateScheduler(lambda e, lr: lr)])


def test_reduce_lr_on_plateau_follows_keras_rules():
    # score: improves, then flat. patience=1, factor 0.5, cooldown 1, min_lr 0.02.
    scores = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    model = linear_model(lr=0.1)
    plateau = ReduceLROnPlateau(
        monitor="score", factor=0.5, patience=1, cooldown=2, min_lr=0.02, mode="min"
    )
    history = model.fit(
        *regression(), epochs=len(scores), verbose=0, callbacks=[feed("score", scores), plateau]
    )
    # Epoch 2: first epoch without improvement -> 0.05. Epochs 3-4: cooldown (Keras counts it
    # down before checking), epoch 4 -> 0.025; epoch 6: 0.0125 clipped to min_lr 0.02.
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02]
    assert history.history["learning_rate"] == pytest.approx(expected)
    assert optimizers.learning_rate(model.opt_state) == pytest.approx(0.02)
    assert train_cache_size(model) == 1


def test_reduce_lr_on_plateau_reaches_the_update():
    weights = []
    model = linear_model(lr=0.05)
    plateau = ReduceLROnPlateau(monitor="score", factor=1e-30, patience=0, min_lr=0.0)
    model.fit(
        *regression(),
        epochs=3,
        verbose=0,
        callbacks=[feed("score", [1.0, 1.0, 1.0]), plateau, recorder(weights)],
    )
    # After epoch 1 the rate is 5e-32: the epoch-2 update changes nothing in float32.
    assert not np.array_equal(weights[0][0], weights[1][0])
    np.testing.assert_array_equal(weights[1][0], weights[2][0])


# -- EarlyStopping ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "scores,kwargs,stopped,best",
    [
        ([5, 4, 3, 3.5, 3.2, 3.1, 2, 1], {"patience": 2}, 4, 2),
        ([5, 4, 3, 3.5, 3.2, 3.1, 2, 1], {"patience": 3}, 5, 2),
        ([5, 4, 3, 3.5, 3.2, 2.9, 2, 1], {"patience": 3}, None, 7),
        ([5, 4.95, 4.9, 4.85], {"patience": 1, "min_delta": 0.1}, 1, 0),
        ([0.1, 0.5, 0.4, 0.45], {"patience": 1, "mode": "max"}, 2, 1),
        ([0.1, 0.5, 0.4, 0.45], {"patience": 1, "monitor": "val_accuracy"}, 2, 1),
        ([5, 6, 7, 8], {"patience": 2}, 2, 0),
        ([5, 6, 7, 8], {"patience": 2, "baseline": 4.0}, 1, 0),
        ([1, 2, 3, 4, 0.5, 0.4, 5], {"patience": 0, "start_from_epoch": 4}, 6, 5),
    ],
)
def test_early_stopping_stops_at_the_right_epoch(scores, kwargs, stopped, best):
    monitor = kwargs.pop("monitor", "score")
    stop = EarlyStopping(monitor=monitor, **kwargs)
    history = linear_model().fit(
        *regression(), epochs=len(scores), verbose=0, callbacks=[feed(monitor, scores), stop]
    )
    assert len(history.epoch) == (len(scores) if stopped is None else stopped + 1)
    assert stop.stopped_epoch == (stopped or 0)
    assert stop.best_epoch == best


def test_restore_best_weights_restores_exactly_the_best_epoch():
    weights, scores = [], [3.0, 1.0, 2.0, 2.5, 0.5]
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    model = linear_model(lr=0.05)
    model.fit(
        *regression(),
        epochs=5,
        verbose=0,
        callbacks=[feed("score", scores), recorder(weights), stop],
    )
    assert stop.stopped_epoch == 3 and len(weights) == 4
    assert not np.array_equal(weights[1][0], weights[3][0])
    for got, want in zip(model.get_weights(), weights[1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_on_a_rising_validation_loss():
    # Train y = 2x, validate on y = -2x: from kernel 0, every SGD step moves towards 2, so the
    # validation loss rises from the first epoch on; the best weights are epoch 0's.
    x = np.linspace(-1, 1, 16, dtype=np.float32)[:, None]
    model = linear_model(lr=0.1, units_in=1)
    weights = []
    stop = EarlyStopping(patience=1, restore_best_weights=True)
    history = model.fit(
        x,
        2 * x,
        epochs=10,
        batch_size=16,
        verbose=0,
        validation_data=(x, -2 * x),
        callbacks=[recorder(weights), stop],
    )
    val = history.history["val_loss"]
    assert val == sorted(val) and len(val) == 2  # epoch 1 did not improve: patience 1 ends it
    np.testing.assert_array_equal(model.get_weights()[0], weights[0][0])


def test_a_missing_monitor_warns_and_is_skipped():
    stop = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="'val_loss'.*available: loss"):
        history = linear_model().fit(*regression(), epochs=3, verbose=0, callbacks=[stop])
    assert len(history.epoch) == 3


# -- TerminateOnNaN -----------------------------------------------------------------------------
def test_terminate_on_nan_keeps_the_last_good_weights(capsys):
    weights = []
    blow_up = LearningRateScheduler(lambda epoch, lr: 0.01 if epoch < 2 else 1e30)
    stop = TerminateOnNaN()
    model = linear_model()
    x, y = regression()
    history = model.fit(
        x, 100 * y, epochs=8, batch_size=4, verbose=0, callbacks=[blow_up, recorder(weights), stop]
    )
    # Epoch 2 (8 steps at rate 1e30) overflows: training stops there, with epoch 1's weights.
    assert stop.terminated_epoch == 2 and len(history.epoch) == 3 and model.epoch == 2
    assert not np.isfinite(history.history["loss"][2])
    last_good = weights[1]
    assert all(np.isfinite(w).all() for w in last_good)
    for got, want in zip(model.get_weights(), last_good, strict=True):
        np.testing.assert_array_equal(got, want)
    assert np.isfinite(model.evaluate(x, y, verbose=0))
    assert "invalid loss" in capsys.readouterr().out


def test_terminate_on_nan_catches_weights_that_overflow_while_the_loss_is_finite():
    # Loss 1e38 (finite), gradient -2e19, rate 1e20: the step's update overflows the kernel to
    # inf although the epoch's loss is finite. The kernel must go back to its start, 0.
    model = linear_model(lr=1e20, units_in=1)
    stop = TerminateOnNaN()
    x, y = np.ones((1, 1), np.float32), np.full((1, 1), 1e19, np.float32)
    history = model.fit(x, y, epochs=3, batch_size=1, verbose=0, callbacks=[stop])
    assert np.isfinite(history.history["loss"][0]) and stop.terminated_epoch == 0
    np.testing.assert_array_equal(model.get_weights()[0], [[0.0]])


def test_verbose_callbacks_say_what_they_do(capsys):
    scores = [3.0, 1.0, 2.0, 2.0, 2.0]
    callbacks = [
        feed("score", scores),
        LearningRateScheduler(lambda epoch, lr: lr, verbose=1),
        ReduceLROnPlateau(monitor="score", patience=1, verbose=1),
        EarlyStopping(monitor="score", patience=2, verbose=1, restore_best_weights=True),
    ]
    linear_model().fit(*regression(), epochs=5, verbose=0, callbacks=callbacks)
    out = capsys.readouterr().out
    assert "Epoch 1: LearningRateScheduler setting learning rate to 0.01" in out
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.001" in out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_terminate_on_nan_does_not_change_a_healthy_run():
    x, y = regression()
    plain, guarded = linear_model(), linear_model()
    plain.fit(x, y, epochs=3, verbose=0)
    history = guarded.fit(x, y, epochs=3, verbose=0, callbacks=[TerminateOnNaN()])
    assert len(history.epoch) == 3
    np.testing.assert_array_equal(plain.get_weights()[0], guarded.get_weights()[0])


# -- CSVLogger, LambdaCallback ------------------------------------------------------------------
def test_csv_logger_writes_each_epoch_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    model = linear_model()
    x, y = regression()
    history = model.fit(
        x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)]
    )
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["loss"]) for r in rows] == pytest.approx(history.history["loss"])
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(history.history["val_loss"])
    model.fit(x, y, epochs=5, initial_epoch=3, verbose=0, callbacks=[CSVLogger(path, ";", True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines[0] == "epoch,loss,val_loss" and lines[-1].startswith("4;")


def test_lambda_callback_hooks_in_order():
    events = []
    cb = LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"begin {epoch}"),
        on_epoch_end=lambda epoch, logs: events.append(f"end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"),
    )
    linear_model().fit(*regression(), epochs=2, verbose=0, callbacks=[cb])
    assert events == [
        "train_begin",
        "begin 0",
        "end 0 ['loss']",
        "begin 1",
        "end 1 ['loss']",
        "train_end",
    ]


@pytest.mark.parametrize(
    "make,error,match",
    [
        (lambda: EarlyStopping(mode="minn"), ValueError, "mode 'minn'.*Did you mean 'min'"),
        (lambda: EarlyStopping(patience=-1), ValueError, r"patience=.*-1"),
        (lambda: EarlyStopping(monitor=3), TypeError, "monitor"),
        (lambda: EarlyStopping(baseline="low"), TypeError, "baseline"),
        (lambda: EarlyStopping(min_delta=math.nan), TypeError, "min_delta"),
        (lambda: EarlyStopping(start_from_epoch=1.5), TypeError, "start_from_epoch"),
        (lambda: ReduceLROnPlateau(factor=1.0), ValueError, r"factor=.*\(0, 1\)"),
        (lambda: ReduceLROnPlateau(min_lr=-1.0), ValueError, "min_lr"),
        (lambda: ReduceLROnPlateau(cooldown=-2), ValueError, "cooldown"),
        (lambda: LearningRateScheduler(0.1), TypeError, "schedule"),
        (lambda: LambdaCallback(on_predict_end=print), TypeError, "on_predict_end.*accepted"),
        (lambda: LambdaCallback(on_epoch_end=3), TypeError, "on_epoch_end"),
        (lambda: CSVLogger(123), TypeError, "filename"),
        (lambda: CSVLogger("log.csv", separator=",,"), ValueError, "separator"),
    ],
)
def test_callback_arguments_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_schedule_returning_a_bad_rate_fails_before_training():
    model = linear_model()
    before = jax.tree.leaves(model.params)
    sched = LearningRateScheduler(lambda epoch, lr: "fast")
    with pytest.raises(ValueError, match=r"schedule must return a finite float.*'fast'"):
        model.fit(*regression(), verbose=0, callbacks=[sched])
    for a, b in zip(before, jax.tree.leaves(model.params), strict=True):
        np.testing.assert_array_equal(a, b)


# -- Keras fidelity: one-argument schedules, logs={} in every hook (issue 13 points 10, 11) ------
def test_one_argument_schedule_is_accepted_as_keras():
    model = linear_model(lr=0.01)
    x, y = np.array([[1.0, 0.0]], np.float32), np.array([[1.0]], np.float32)
    sched = LearningRateScheduler(lambda epoch: 0.125)
    model.fit(x, y, epochs=1, batch_size=1, verbose=0, callbacks=[sched])
    np.testing.assert_array_equal(model.get_weights()[0], [[0.25], [0.0]])
    with pytest.raises(TypeError, match=r"\(epoch\) or \(epoch, lr\)"):
        LearningRateScheduler(lambda: 0.1)


def test_every_hook_gets_a_dict():
    seen = []

    class Probe(Callback):
        def on_train_begin(self, logs=None):
            seen.append(("train_begin", logs.get("loss", "absent")))

        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch_begin", logs.get("loss", "absent")))

        def on_train_end(self, logs=None):
            seen.append(("train_end", type(logs).__name__))

    linear_model().fit(*regression(), epochs=1, verbose=0, callbacks=[Probe()])
    assert seen == [("train_begin", "absent"), ("epoch_begin", "absent"), ("train_end", "dict")]


def test_callback_list_hooks_take_keras_argument_names():
    import inspect

    from fnn.callbacks.base import CallbackList

    seen = []

    class Probe(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(("epoch_end", epoch, logs))

        def on_test_batch_end(self, batch, logs=None):
            seen.append(("test_batch_end", batch, logs))

    hooks = CallbackList([Probe()])
    for name in dir(Callback):
        if name.startswith("on_"):
            expected = list(inspect.signature(getattr(Callback, name)).parameters)
            assert list(inspect.signature(getattr(hooks, name)).parameters) == expected[1:]
            assert list(inspect.signature(getattr(CallbackList, name)).parameters) == expected
    assert "epoch: the epoch's index" in CallbackList.on_epoch_end.__doc__
    hooks.on_epoch_end(epoch=2, logs={"loss": 1.0})
    hooks.on_test_batch_end(batch=5)
    assert seen == [("epoch_end", 2, {"loss": 1.0}), ("test_batch_end", 5, {})]
