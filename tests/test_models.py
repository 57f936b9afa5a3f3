import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import make_classification, seed_model

import fnn
from fnn.layers import Dense
from fnn.models import Sequential


def test_seed_workflow_end_to_end_learns():
    x, y, _ = make_classification(2000)
    X_train, Y_train, X_test, Y_test = x[:1600], y[:1600], x[1600:], y[1600:]
    model = Sequential()
    model.add(Dense(32, activation="relu", input_shape=10))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(X_train, Y_train, batch_size=32, epochs=10, verbose=0)
    score = model.evaluate(X_test, Y_test, verbose=0)
    assert isinstance(score, list) and len(score) == 2
    assert score[1] > 0.85
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert list(history.history) == ["loss", "accuracy"] and len(history.history["loss"]) == 10
    assert history.epoch == list(range(10))
    probs = model.predict(X_test)
    assert probs.shape == (400, 10) and isinstance(probs, np.ndarray)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_top_level_aliases():
    assert fnn.Sequential is Sequential
    assert fnn.models.Sequential is Sequential


def test_evaluate_without_metrics_returns_the_loss_alone():
    x, y, _ = make_classification(64)
    model = seed_model(compile=False)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss"]


def test_evaluate_matches_a_direct_computation():
    x, y, _ = make_classification(77)
    model = seed_model()
    loss, acc = model.evaluate(x, y, batch_size=10, verbose=0)
    probs = np.asarray(model.apply(model.params, jnp.asarray(x)))
    np.testing.assert_allclose(loss, -np.mean(np.sum(y * np.log(probs), axis=1)), rtol=1e-5)
    np.testing.assert_allclose(acc, np.mean(probs.argmax(1) == y.argmax(1)), rtol=1e-6)


def test_every_example_including_the_partial_last_batch_is_trained_on():
    # 33 examples at batch 32: the 33rd alone in a last batch of 1. An SGD model whose loss
    # only the 33rd example feels must move.
    x = np.zeros((33, 2), np.float32)
    y = np.zeros((33, 1), np.float32)
    x[32] = [1.0, 1.0]
    y[32] = [5.0]
    model = Sequential([Dense(1, use_bias=False, kernel_initializer="zeros", input_shape=2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    # batch 1 (all zeros) has zero gradient; batch 2 is the single example: w += 0.01 * 2 * 5
    np.testing.assert_allclose(model.get_weights()[0], [[0.1], [0.1]], rtol=1e-5)


def test_shuffle_is_reproducible_and_changes_the_order():
    x, y, _ = make_classification(200)
    weights = []
    for seed, shuffle in [(0, True), (0, True), (1, True), (0, False)]:
        m = seed_model(seed=0)
        m.seed = seed
        m.fit(x, y, epochs=2, verbose=0, shuffle=shuffle)
        weights.append(m.get_weights())
    for a, b in zip(weights[0], weights[1]):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(weights[0], weights[2]))
    assert any(not np.array_equal(a, b) for a, b in zip(weights[0], weights[3]))


def test_get_set_weights_in_keras_order():
    model = seed_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(10, 32), (32,), (32, 64), (64,), (64, 10), (10,)]
    new = [np.full(s, 0.5, np.float32) for s in shapes]
    model.set_weights(new)
    np.testing.assert_array_equal(model.params[1]["kernel"], new[2])
    with pytest.raises(ValueError, match=r"expected 6 arrays of shapes \[\(10, 32\)"):
        model.set_weights(new[:-1])
    with pytest.raises(ValueError, match="shapes"):
        model.set_weights([np.zeros((3, 3))] + new[1:])


def test_params_are_a_plain_pytree_and_apply_is_pure():
    model = seed_model()
    assert isinstance(model.params, list) and set(model.params[0]) == {"kernel", "bias"}
    x = jnp.ones((3, 10))
    grads = jax.grad(lambda p: jnp.sum(model.apply(p, x)[:, 0]))(model.params)
    assert jax.tree_util.tree_structure(grads) == jax.tree_util.tree_structure(model.params)
    np.testing.assert_allclose(jax.jit(model.apply)(model.params, x), model.predict(x), rtol=1e-6)


def test_seed_makes_init_reproducible():
    a, b, c = seed_model(0), seed_model(0), seed_model(1)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_lazy_build_from_data_and_layer_names():
    model = Sequential([Dense(4, activation="relu"), Dense(1)])
    assert not model.built
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((10, 3)), np.ones(10), verbose=0)
    assert model.built and model.input_shape == (3,) and model.output_shape == (1,)
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]


def test_sparse_labels_and_binary_outputs_train():
    x, _, labels = make_classification(300, classes=3)
    model = Sequential(
        [Dense(16, activation="relu", input_shape=10), Dense(3, activation="softmax")]
    )
    model.compile(
        optimizer=fnn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"]
    )
    h = model.fit(x, labels, epochs=15, verbose=0)
    assert h.history["acc"][-1] > 0.8
    binary = Sequential([Dense(1, activation="sigmoid", input_shape=10)])
    binary.compile(
        optimizer=fnn.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"]
    )
    yb = (x[:, 0] > 0).astype(np.float32)
    h = binary.fit(x, yb, epochs=10, verbose=0)
    assert h.history["accuracy"][-1] > 0.9


def test_validation_split_and_data_add_val_entries():
    x, y, _ = make_classification(200)
    model = seed_model()
    h = model.fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    h = model.fit(x, y, epochs=2, validation_data=(x[:20], y[:20]), verbose=0)
    np.testing.assert_allclose(
        h.history["val_loss"][-1], model.evaluate(x[:20], y[:20], verbose=0)[0], rtol=1e-5
    )


def test_verbose_modes_print(capsys):
    x, y, _ = make_classification(64)
    model = seed_model()
    model.fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2 - loss:" in out and "Epoch 2/2" in out
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


def test_summary_counts(capsys):
    seed_model().summary()
    out = capsys.readouterr().out
    assert "Total params: 3,114" in out and "dense_2 (Dense)" in out


# -- bad input: a clear error at once, naming the argument --------------------------------------
def test_fit_before_compile():
    x, y, _ = make_classification(10)
    with pytest.raises(ValueError, match="compile"):
        seed_model(compile=False).fit(x, y)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"x": np.ones((10, 7))}, r"x has shape \(10, 7\).*\(batch, 10\)"),
        ({"y": np.ones((9, 10))}, "x has 10, y has 9"),
        ({"y": np.ones((10, 3))}, r"y has shape \(10, 3\)"),
        ({"x": np.array([["a"] * 10] * 10)}, "x must hold numbers"),
        ({"batch_size": 0}, "batch_size"),
        ({"epochs": -1}, "epochs"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"verbose": 5}, "verbose"),
    ],
)
def test_fit_bad_input(kwargs, match):
    x, y, _ = make_classification(10)
    args = {"x": x, "y": y, **kwargs}
    model = seed_model()
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match=match):
        model.fit(args.pop("x"), args.pop("y"), verbose=0, **args)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unknown_names_at_compile_and_in_layers():
    model = seed_model(compile=False)
    with pytest.raises(ValueError, match="Did you mean 'categorical_crossentropy'"):
        model.compile(optimizer="adam", loss="categorical_crosentropy")
    with pytest.raises(ValueError, match="Did you mean 'adam'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="activation"):
        Dense(3, activation="rellu")
    with pytest.raises(ValueError, match="initializer"):
        Dense(3, kernel_initializer="glorot")


def test_sparse_labels_out_of_range():
    model = Sequential([Dense(3, activation="softmax", input_shape=2)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="label 3 at row 1"):
        model.fit(np.ones((3, 2)), np.array([0, 3, 1]), verbose=0)


def test_nan_in_data_is_refused_with_the_row():
    x, y, _ = make_classification(10)
    x[4, 2] = np.nan
    with pytest.raises(ValueError, match="row 4"):
        seed_model().fit(x, y, verbose=0)


def test_add_rejects_non_layers():
    with pytest.raises(TypeError, match="layer must be"):
        Sequential().add("dense")


def test_layers_added_one_by_one_are_initialised_by_one_program_with_the_same_weights():
    import jax

    from fnn import training

    events = []

    def listener(name, duration, **kwargs):
        if name == "/jax/core/compile/backend_compile_duration":
            events.append(kwargs.get("fun_name"))

    whole = Sequential([Dense(32, input_shape=10), Dense(64), Dense(10)], seed=3)
    expected = whole.get_weights()
    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        model = Sequential(seed=3)
        model.add(Dense(32, activation="relu", input_shape=10))
        model.add(Dense(64, activation="relu"))
        model.add(Dense(10, activation="softmax"))
        added = len(events)
        weights = model.get_weights()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    assert added == 0  # add creates nothing yet
    assert model.built and model.count_params() == 32 * 11 + 64 * 33 + 10 * 65
    assert len([e for e in events if "threefry_seed" not in str(e)]) <= 2  # init (+ staging)
    for a, b in zip(weights, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    # a layer added after the others exist: only its own parameters are created
    model.add(Dense(5))
    whole.add(Dense(5))
    assert model._pending == 1
    for a, b in zip(model.get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert training.RUN_ONCE_OPTIONS  # the init programs compile for one run


def test_a_pending_model_pickles_and_pops():
    import pickle

    model = Sequential([Dense(4, input_shape=3), Dense(2)], seed=1)
    copy = pickle.loads(pickle.dumps(model))
    for a, b in zip(copy.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other = Sequential([Dense(4, input_shape=3), Dense(2), Dense(7)], seed=1)
    other.pop()
    for a, b in zip(other.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
