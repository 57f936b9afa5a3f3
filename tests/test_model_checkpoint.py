"""ModelCheckpoint: when it saves, where, and what."""

from __future__ import annotations

import numpy as np
import pytest

import fnn
from fnn.callbacks import ModelCheckpoint
from fnn.layers import Dense
from fnn.models import Sequential, load_model


def small_model(value: float = 0.0) -> Sequential:
    model = Sequential([Dense(2, input_shape=3)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    set_to(model, value)
    return model


def set_to(model: Sequential, value: float) -> None:
    model.set_weights([np.full_like(w, value) for w in model.get_weights()])


def kernel_of(path) -> float:
    return float(load_model(path).get_weights()[0][0, 0])


def drive(checkpoint: ModelCheckpoint, model: Sequential, logs_per_epoch: list[dict]) -> None:
    """Run the callback as fit would, with the weights set to the epoch number before each end."""
    checkpoint.set_model(model)
    for epoch, logs in enumerate(logs_per_epoch):
        set_to(model, epoch)
        checkpoint.on_epoch_end(epoch, logs)


def test_save_best_only_writes_only_on_improvement(tmp_path):
    path = tmp_path / "best.fnn"
    checkpoint = ModelCheckpoint(path, monitor="val_loss", save_best_only=True)
    losses = [1.0, 0.5, 0.7, 0.5, 0.2, 0.9]  # improvements at epochs 0, 1, 4 (ties do not count)
    saved_after = []
    model = small_model()
    checkpoint.set_model(model)
    for epoch, loss in enumerate(losses):
        set_to(model, epoch)
        checkpoint.on_epoch_end(epoch, {"loss": 9.0, "val_loss": loss})
        saved_after.append(kernel_of(path))
    assert saved_after == [0, 1, 1, 1, 4, 4]
    assert checkpoint.best == 0.2


def test_auto_mode_maximises_accuracies_and_initial_threshold_applies(tmp_path):
    path = tmp_path / "best.fnn"
    checkpoint = ModelCheckpoint(
        path, monitor="val_accuracy", save_best_only=True, initial_value_threshold=0.5
    )
    assert checkpoint.mode == "max"
    drive(checkpoint, small_model(), [{"val_accuracy": a} for a in (0.4, 0.6, 0.55, 0.8)])
    assert kernel_of(path) == 3
    assert ModelCheckpoint(path, monitor="val_loss").mode == "min"
    assert ModelCheckpoint(path, monitor="val_accuracy", mode="min").mode == "min"


def test_filepath_template_formats_epoch_one_based_and_metrics(tmp_path):
    template = str(tmp_path / "run" / "ckpt-{epoch:02d}-{val_loss:.2f}.fnn")
    drive(ModelCheckpoint(template), small_model(), [{"val_loss": 0.8312}, {"val_loss": 0.41}])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "ckpt-01-0.83.fnn",
        "ckpt-02-0.41.fnn",
    ]
    assert kernel_of(tmp_path / "run" / "ckpt-02-0.41.fnn") == 1


def test_a_template_field_missing_from_the_logs_names_what_is_available(tmp_path):
    checkpoint = ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.fnn"))
    checkpoint.set_model(small_model())
    with pytest.raises(ValueError, match=r"val_acc.*available: epoch, loss"):
        checkpoint.on_epoch_end(0, {"loss": 1.0})


def test_weights_only_versus_full_model(tmp_path):
    model = small_model(3.0)
    weights_cb = ModelCheckpoint(tmp_path / "w.fnn", save_weights_only=True)
    full_cb = ModelCheckpoint(tmp_path / "m.fnn")
    for cb in (weights_cb, full_cb):
        cb.set_model(model)
        cb.on_epoch_end(0, {"loss": 1.0})
    with pytest.raises(ValueError, match="weights only"):
        load_model(tmp_path / "w.fnn")
    target = small_model(0.0)
    target.load_weights(tmp_path / "w.fnn")
    assert all(np.all(w == 3.0) for w in target.get_weights())
    full = load_model(tmp_path / "m.fnn")
    assert full.optimizer is not None and all(np.all(w == 3.0) for w in full.get_weights())


def test_missing_monitor_warns_and_skips(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "m.fnn", save_best_only=True)
    checkpoint.set_model(small_model())
    with pytest.warns(UserWarning, match=r"'val_loss'.*available: loss"):
        checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert not (tmp_path / "m.fnn").exists()


def test_verbose_reports_improvements_and_saves(tmp_path, capsys):
    path = tmp_path / "m.fnn"
    drive(
        ModelCheckpoint(path, monitor="loss", save_best_only=True, verbose=1),
        small_model(),
        [{"loss": 1.0}, {"loss": 2.0}],
    )
    out = capsys.readouterr().out
    assert f"Epoch 1: loss improved from inf to 1.00000, saving model to {path}" in out
    assert "Epoch 2: loss did not improve from 1.00000" in out


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [
        ("mode", "largest", ValueError),
        ("save_freq", 0, ValueError),
        ("save_freq", "batch", ValueError),
        ("monitor", 3, TypeError),
        ("filepath", 3, TypeError),
    ],
)
def test_bad_arguments_are_refused_naming_them(argument, value, error, tmp_path):
    kwargs = {"filepath": tmp_path / "m.fnn", argument: value}
    with pytest.raises(error, match=argument):
        ModelCheckpoint(**kwargs)


def test_in_fit_each_epoch_file_holds_that_epoch(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)).astype(np.float32), rng.normal(size=(40, 2))
    model = small_model(0.1)
    seen = []

    class Record(fnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append([w.copy() for w in self.model.get_weights()])

    template = str(tmp_path / "e{epoch}-{val_loss:.4f}.fnn")
    history = model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
        callbacks=[ModelCheckpoint(template), Record()],
    )
    for epoch in range(3):
        val_loss = history.history["val_loss"][epoch]
        loaded = load_model(template.format(epoch=epoch + 1, val_loss=val_loss))
        assert loaded.epoch == epoch + 1
        assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), seen[epoch]))


@pytest.mark.parametrize(
    ("monitor", "mode"),
    [("val_auc", "max"), ("val_precision", "max"), ("val_accuracy", "max"), ("val_loss", "min")],
)
def test_auto_mode_maximises_what_keras_maximises(tmp_path, monitor, mode):
    from fnn.callbacks import ModelCheckpoint

    assert ModelCheckpoint(str(tmp_path / "m.keras"), monitor=monitor).mode == mode
