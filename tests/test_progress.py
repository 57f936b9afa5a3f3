"""verbose=0/1/2 in fit, the progress bar with tqdm and without, in a captured terminal."""

import io
import sys

import numpy as np
import pytest
from conftest import make_classification

from fnn.layers import Dense
from fnn.models import Sequential
from fnn.progress import ProgressBar, resolve_verbose


def small_model():
    model = Sequential([Dense(10, activation="softmax", input_shape=10)], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def final_display(text: str) -> str:
    """What a terminal shows last on a line redrawn with carriage returns."""
    return text.rstrip("\n").split("\r")[-1]


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_fit_verbose_1_draws_a_bar_per_epoch_ending_with_the_epoch_logs(
    capsys, monkeypatch, with_tqdm
):
    if not with_tqdm:
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails: the text bar
    x, y, _ = make_classification(80)
    model = small_model()
    h = model.fit(x, y, epochs=2, batch_size=2, validation_split=0.25, validation_freq=2, verbose=1)
    out = capsys.readouterr().out
    loss, val_loss = h.history["loss"][1], h.history["val_loss"][0]
    per_epoch = [final_display(e) for e in out.split("\n") if e]
    assert len(per_epoch) == 2  # one finished line per epoch
    # 60 training examples, batch 2: 30 steps, drawn in several chunks
    if with_tqdm:
        assert "30/30" in per_epoch[0] and "100%" in per_epoch[0] and "step" in per_epoch[0]
        assert per_epoch[0].index("loss=") < per_epoch[0].index("accuracy=")
        assert "val_loss" not in per_epoch[0]  # validation_freq=2: none after epoch 1
        assert f"loss={loss:.4f}" in per_epoch[1] and f"val_loss={val_loss:.4f}" in per_epoch[1]
        assert "val_accuracy=" in per_epoch[1]
    else:
        assert per_epoch[0].startswith("Epoch 1/2 30/30 - ")
        assert " - loss: " in per_epoch[0] and "val_" not in per_epoch[0]
        assert f" - loss: {loss:.4f}" in per_epoch[1] and " - val_accuracy: " in per_epoch[1]
        assert f" - val_loss: {val_loss:.4f}" in per_epoch[1]
        assert "ETA" in out and "[" in out
        # redrawn per chunk of steps with the running logs (tqdm throttles its redraws)
        redraws = out.split("\n")[0].split("\r")
        assert len([r for r in redraws if " - loss: " in r]) >= 3


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(capsys):
    x, y, _ = make_classification(40)
    model = small_model()
    model.fit(x, y, epochs=3, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all("val_accuracy: " in line for line in lines)
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_text_bar_blanks_what_a_longer_line_left():
    out = io.StringIO()
    bar = ProgressBar(3, desc="E", file=out, use_tqdm=False)
    bar.update(1, {"loss": 1.0, "accuracy": 0.5, "mae": 0.25})
    long_line = out.getvalue()
    bar.close({"loss": 1.0})
    last = out.getvalue()[len(long_line) :]
    assert last.startswith("\rE 1/3 - ") and last.endswith("\n")
    assert len(last) >= len(long_line)  # padded over the previous, longer line


def test_tqdm_bar_shows_the_final_postfix_on_close():
    pytest.importorskip("tqdm")
    out = io.StringIO()
    bar = ProgressBar(2, desc="Epoch 1/1", file=out)
    bar.update(2, {"loss": 0.5})
    bar.close({"loss": 0.5, "val_loss": 0.25})
    assert "loss=0.5000, val_loss=0.2500" in final_display(out.getvalue())


@pytest.mark.parametrize("bad", [3, -1, 1.0, True, "loud", None])
def test_resolve_verbose_rejects_other_values(bad):
    with pytest.raises(ValueError, match="verbose"):
        resolve_verbose(bad)


def test_resolve_verbose_auto_and_ints():
    assert resolve_verbose("auto") == 1
    assert [resolve_verbose(v) for v in (0, 1, 2, np.int64(2))] == [0, 1, 2, 2]
