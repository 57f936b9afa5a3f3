"""fnn.inputs, the door: labels checked against the loss, lengths checked across arguments."""

import numpy as np
import pytest

from fnn import inputs, losses
from fnn.layers import Dense
from fnn.models import Sequential

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 4)).astype(np.float32)
LABELS = RNG.integers(0, 3, 24)


def classifier(loss) -> Sequential:
    model = Sequential([Dense(3, activation="softmax", input_shape=4)], seed=0)
    model.compile(optimizer="sgd", loss=loss)
    return model


def with_label(value, row=5):
    y = LABELS.copy()
    y[row] = value
    return y


SPARSE_LOSSES = [
    "sparse_categorical_crossentropy",
    losses.SparseCategoricalCrossentropy(ignore_class=-1),
    losses.sparse_categorical_crossentropy,  # the per-example function, wrapped by compile
]


@pytest.mark.parametrize("loss", SPARSE_LOSSES)
@pytest.mark.parametrize("bad", [3, 7, -2])
def test_sparse_labels_out_of_range_are_refused_before_anything_compiles(loss, bad):
    model = classifier(loss)
    before = [np.asarray(w) for w in model.get_weights()]
    for run in (model.fit, model.evaluate):
        with pytest.raises(ValueError, match=rf"y holds label {bad} at row 5, .*\[0, 3\)"):
            run(X, with_label(bad), verbose=0)
    assert model.engine.compiled("train")._cache_size() == 0
    for w, w0 in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, w0)


def test_labels_equal_to_ignore_class_are_allowed():
    for ignore in (-1, 255):
        model = classifier(losses.SparseCategoricalCrossentropy(ignore_class=ignore))
        history = model.fit(X, with_label(ignore), epochs=1, verbose=0).history
        assert np.isfinite(history["loss"][0])
        with pytest.raises(ValueError, match=rf"label 3 .*ignore_class={ignore}"):
            model.fit(X, with_label(3), verbose=0)


def test_sparse_function_loss_gets_int_labels_and_trains():
    model = classifier(losses.sparse_categorical_crossentropy)
    loss = model.evaluate(X, LABELS, verbose=0)
    reference = classifier("sparse_categorical_crossentropy").evaluate(X, LABELS, verbose=0)
    assert loss == pytest.approx(reference, rel=1e-5)
    assert inputs.prepare_y(model, LABELS.astype(float)).dtype == np.int32


def test_check_lengths_counts_the_arrays_given_and_refuses_none_at_all():
    assert inputs.check_lengths(x=np.zeros((4, 2)), y=None, sample_weight=np.ones(4)) == 4
    with pytest.raises(ValueError, match=r"x has 4, y has 3"):
        inputs.check_lengths(x=np.zeros((4, 2)), y=np.zeros(3))
    with pytest.raises(ValueError, match=r"at least one array.*got x=None, y=None"):
        inputs.check_lengths(x=None, y=None)
    with pytest.raises(ValueError, match=r"at least one array.*no argument"):
        inputs.check_lengths()
