"""verbose=0/1/2 in fit; the progress bar in an 80-column pseudo-terminal, in a pipe or a file,
and in a notebook without ipywidgets."""

import io
import os
import pty
import re
import select
import struct
import sys
import warnings

import numpy as np
import pytest
from conftest import make_classification

from fnn import progress
from fnn.layers import Dense
from fnn.models import Sequential
from fnn.progress import ProgressBar, format_logs, resolve_verbose, terminal_columns


def small_model():
    model = Sequential([Dense(10, activation="softmax", input_shape=10)], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def screen(raw: str, columns: int) -> tuple[list[str], bool]:
    """What a terminal of ``columns`` shows after ``raw``: its rows, and whether any row had to
    wrap. Understands carriage return, newline, cursor up (ESC [ n A) and clear (ESC [ J)."""
    rows, row, col, wrapped = [""], 0, 0, False
    for token in re.findall(r"\x1b\[(\d*)([AJ])|(.)", raw, flags=re.DOTALL):
        n, code, char = token
        if code == "A":
            row -= int(n or 1)
        elif code == "J":
            rows[row] = rows[row][:col]
            del rows[row + 1 :]
        elif char == "\r":
            col = 0
        elif char == "\n":
            row, col = row + 1, 0
        else:
            if col >= columns:
                wrapped = True
                row, col = row + 1, 0
            while len(rows) <= row:
                rows.append("")
            line = rows[row].ljust(col)
            rows[row] = line[:col] + char + line[col + 1 :]
            col += 1
        while len(rows) <= row:
            rows.append("")
    return [r for r in rows if r], wrapped


def read_all(fd: int) -> str:
    chunks = []
    while select.select([fd], [], [], 0.1)[0]:
        chunks.append(os.read(fd, 65536))
    return b"".join(chunks).decode()


@pytest.fixture
def terminal_80():
    """A pseudo-terminal of 80 columns: yields its writable end and a reader of its output."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    attrs = termios.tcgetattr(slave)
    attrs[1] &= ~termios.ONLCR  # "\n" stays "\n", as the program wrote it
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    out = os.fdopen(slave, "w", buffering=1)
    yield out, lambda: read_all(master)
    out.close()
    os.close(master)


def test_fit_in_an_80_column_terminal_shows_every_metric_without_wrapping(terminal_80, monkeypatch):
    out, read = terminal_80
    monkeypatch.setattr(sys, "stdout", out)  # here: pytest's capture replaces it before a test
    x, y, _ = make_classification(80)
    model = small_model()
    h = model.fit(x, y, epochs=2, batch_size=2, validation_split=0.25, verbose=1)
    raw = read()
    assert terminal_columns(sys.stdout) == 80
    rows, wrapped = screen(raw, 80)
    assert not wrapped and all(len(r) < 80 for r in rows)
    assert raw.count("\r") > 4  # redrawn per chunk of steps
    epochs = "\n".join(rows).split("Epoch ")[1:]
    assert [e.split("\n")[0] for e in epochs] == ["1/2", "2/2"]
    for i, text in enumerate(epochs):
        assert "30/30 [" in text  # 60 training examples, batch 2
        for name, values in h.history.items():
            assert f"{name}: {values[i]:.4f}" in text  # every metric, every digit
    assert len(rows) <= 2 * 3  # header + at most two rows per epoch: nothing stale left


def test_fit_into_a_pipe_writes_one_line_per_epoch_with_every_metric(capsys):
    x, y, _ = make_classification(80)
    model = small_model()
    h = model.fit(x, y, epochs=3, batch_size=2, validation_split=0.25, validation_freq=2)
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == [f"Epoch {e}/3 30/30" for e in (1, 2, 3)]
    for i, line in enumerate(lines):
        assert f"loss: {h.history['loss'][i]:.4f}" in line
        assert f"accuracy: {h.history['accuracy'][i]:.4f}" in line
    assert "val_" not in lines[0] and "val_" not in lines[2]
    assert f"val_loss: {h.history['val_loss'][0]:.4f}" in lines[1]
    assert f"val_accuracy: {h.history['val_accuracy'][0]:.4f}" in lines[1]


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(capsys):
    x, y, _ = make_classification(40)
    model = small_model()
    model.fit(x, y, epochs=3, verbose=2, validation_split=0.25)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all("val_accuracy: " in line for line in lines)
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


LOGS = {"loss": 0.0105, "accuracy": 0.9973, "val_loss": 0.0123, "val_accuracy": 0.995}


@pytest.mark.parametrize("columns", [20, 40, 80, 120, 200])
def test_render_shrinks_the_bar_never_the_numbers(columns):
    bar = ProgressBar(1875, file=io.StringIO(), columns=columns)
    bar.done = 900
    rows = bar.render("ETA 12.0s", LOGS)
    text = " - ".join(rows)
    for entry in format_logs(LOGS).split(" - "):
        assert entry in text
    longest_entry = max(len(e) for e in format_logs(LOGS).split(" - "))
    assert all(len(r) < max(columns, longest_entry + 3) for r in rows)
    bars = re.findall(r"\[(=*)(\.*)\]", text)
    assert len(bars) <= 1
    if bars:
        width = len(bars[0][0] + bars[0][1])
        assert progress.MIN_BAR_WIDTH <= width <= progress.BAR_WIDTH
        assert len(bars[0][0]) == int(width * 900 / 1875)
    if columns >= 120:
        assert len(rows) == 1 and len(bars) == 1
    if columns == 80:  # the numbers alone take 80: a second row, the bar kept on the first
        assert len(rows) == 2 and len(bars) == 1


def test_redraws_move_back_over_every_row_of_the_previous_drawing():
    out = io.StringIO()
    bar = ProgressBar(10, desc="Epoch 1/1", file=out, columns=40)
    for _ in range(5):
        bar.update(2, LOGS)
    bar.close({**LOGS, "lr": 0.001})
    rows, wrapped = screen(out.getvalue(), 40)
    assert not wrapped
    assert rows[0] == "Epoch 1/1"
    assert rows[1].startswith("10/10 [")
    assert " - ".join(rows[1:]).count("val_accuracy: 0.9950") == 1
    assert "lr: 0.0010" in " - ".join(rows[1:])
    assert out.getvalue().endswith("\n")


def test_a_file_gets_no_redraws():
    out = io.StringIO()
    bar = ProgressBar(4, desc="Epoch 2/5", file=out)
    bar.update(2, {"loss": 1.0})
    assert out.getvalue() == ""
    bar.update(2, {"loss": 0.5})
    bar.close({"loss": 0.5, "val_loss": 0.25})
    line = out.getvalue()
    assert re.fullmatch(r"Epoch 2/5 4/4 - \d+\.\ds - loss: 0\.5000 - val_loss: 0\.2500\n", line), (
        line
    )


class FakeShell:
    """Stands for IPython's kernel shell: only its class name is read."""


FakeShell.__name__ = "ZMQInteractiveShell"


def test_notebook_without_ipywidgets_falls_back_quietly(monkeypatch, capsys):
    ipython = type(sys)("IPython")
    ipython.get_ipython = FakeShell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    assert progress.in_notebook()
    real_find_spec = progress.importlib.util.find_spec
    monkeypatch.setattr(
        progress.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "ipywidgets" else real_find_spec(name, *a),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a TqdmWarning would fail here
        bar = ProgressBar(3, desc="Epoch 1/1")
        bar.update(3, {"loss": 0.5})
        bar.close({"loss": 0.5})
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.startswith("Epoch 1/1 3/3 - ") and out.out.endswith(" - loss: 0.5000\n")


def test_notebook_with_ipywidgets_uses_the_tqdm_widget(monkeypatch):
    pytest.importorskip("ipywidgets")
    ipython = type(sys)("IPython")
    ipython.get_ipython = FakeShell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    from tqdm.notebook import tqdm

    bar = ProgressBar(2, desc="Epoch 1/1")
    assert isinstance(bar._bar, tqdm)
    bar.update(2, {"loss": 0.5})
    bar.close({"loss": 0.5, "val_loss": 0.25})
    assert bar._bar.postfix == "loss=0.5000, val_loss=0.2500"


@pytest.mark.parametrize("bad", [3, -1, 1.0, True, "loud", None])
def test_resolve_verbose_rejects_other_values(bad):
    with pytest.raises(ValueError, match="verbose"):
        resolve_verbose(bad)


def test_resolve_verbose_auto_and_ints():
    assert resolve_verbose("auto") == 1
    assert [resolve_verbose(v) for v in (0, 1, 2, np.int64(2))] == [0, 1, 2, 2]


def test_live_tells_whether_updates_draw():
    assert not ProgressBar(3, file=io.StringIO()).live
    assert ProgressBar(3, file=io.StringIO(), columns=80).live
