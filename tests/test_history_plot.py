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
    axes = h.plot()
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
    assert h.plot(["mae"], ax=ax) == [ax]
    assert set(lines_of(ax)) == {"mae"}
    with pytest.raises(ValueError, match="'loss'"):
        h.plot(["los"])
    with pytest.raises(ValueError, match="ax"):
        h.plot(ax=ax, metrics=["loss", "mae"])
    with pytest.raises(ValueError, match="empty"):
        History().plot()
    plt.close("all")
