"""History.plot with matplotlib's Agg backend: training against validation, per epoch."""

import matplotlib
import numpy as np
import pytest
from conftest import make_classification

from fnn.callbacks import History
from fnn.layers import Dense
from fnn.models import Sequential

matplotlib.use("Agg")


def lines_of(axis):
    return {line.get_label(): line for line in axis.get_lines()}


def test_plot_after_fit_with_validation_every_second_epoch():
    import matplotlib.pyplot as plt

    x, y, _ = make_classification(40)
    model = Sequential([Dense(10, activation="softmax", input_shape=10)])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    h = model.fit(x, y, epochs=4, validation_split=0.25, validation_freq=2, verbose=0)
    assert h.epochs_of["loss"] == [0, 1, 2, 3] and h.epochs_of["val_loss"] == [1, 3]
    figure = h.plot()
    axes = figure.axes
    assert [a.get_title() for a in axes] == ["loss", "accuracy"]
    loss = lines_of(axes[0])
    assert set(loss) == {"loss", "val_loss"}
    np.testing.assert_array_equal(loss["loss"].get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(loss["loss"].get_ydata(), h.history["loss"])
    np.testing.assert_array_equal(loss["val_loss"].get_xdata(), [2, 4])
    np.testing.assert_allclose(loss["val_loss"].get_ydata(), h.history["val_loss"])
    assert set(lines_of(axes[1])) == {"accuracy", "val_accuracy"}
    plt.close("all")


def test_plot_chosen_metrics_on_given_axes_and_bad_arguments():
    import matplotlib.pyplot as plt

    h = History()
    for e in range(3):
        h.on_epoch_end(e, {"loss": 1.0 / (e + 1), "mae": 0.5})
    _, ax = plt.subplots()
    assert h.plot(["mae"], ax=ax) is ax.figure
    assert set(lines_of(ax)) == {"mae"}
    with pytest.raises(ValueError, match="'loss'"):
        h.plot(["los"])
    with pytest.raises(ValueError, match="ax"):
        h.plot(ax=ax, metrics=["loss", "mae"])
    with pytest.raises(ValueError, match="empty"):
        History().plot()
    plt.close("all")


def test_epoch_ticks_are_integers_from_1_and_a_plain_savefig_keeps_the_labels(tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    h = History()
    for e in range(10):
        h.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": e / 10})
    figure = h.plot()
    assert isinstance(figure, Figure)
    figure.savefig(tmp_path / "history.png")  # draws: the layout and the ticks are final now
    renderer = figure.canvas.get_renderer()
    box = figure.bbox
    for axis in figure.axes:
        lo, hi = axis.get_xlim()
        ticks = [t for t in axis.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() and t >= 1 for t in ticks), ticks
        y_lo, y_hi = axis.get_ylim()
        y_labels = [t for t in axis.get_yticklabels() if y_lo <= t.get_position()[1] <= y_hi]
        for text in (axis.xaxis.label, axis.title, *y_labels):
            extent = text.get_window_extent(renderer)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, text.get_text()
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1, text.get_text()
    plt.close("all")


def test_a_single_epoch_plots_with_tick_1():
    import matplotlib.pyplot as plt

    h = History()
    h.on_epoch_end(0, {"loss": 0.5})
    figure = h.plot()
    figure.canvas.draw()
    lo, hi = figure.axes[0].get_xlim()
    assert [t for t in figure.axes[0].get_xticks() if lo <= t <= hi] == [1]
    plt.close("all")
