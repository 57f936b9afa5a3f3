"""Dropout, BatchNormalization, LayerNormalization, Flatten, Reshape and Input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_gradients_match_finite_differences, make_classification

from fnn.layers import (
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    LayerNormalization,
    Reshape,
    layer_from_config,
    layer_to_config,
    serial,
)
from fnn.models import Sequential


def rand(shape, seed=0, dtype=jnp.float32):
    return jax.random.normal(jax.random.key(seed), shape, dtype)


# -- Dropout ---------------------------------------------------------------------------------
def test_dropout_statistics_and_inverted_scaling():
    x = jnp.ones((200, 500))
    y = np.asarray(Dropout(0.3).apply({}, x, key=jax.random.key(0), training=True))
    dropped = np.mean(y == 0)
    assert abs(dropped - 0.3) < 0.01  # 100k draws: std ~0.0015
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # the mean is preserved


def test_dropout_is_the_identity_at_inference_and_needs_a_key_in_training():
    x = rand((4, 6))
    layer = Dropout(0.5)
    assert layer.apply({}, x) is x or np.array_equal(layer.apply({}, x), x)
    assert np.array_equal(layer.apply({}, x, key=jax.random.key(1), training=False), x)
    with pytest.raises(ValueError, match="key"):
        layer.apply({}, x, training=True)
    # rate 0 needs no key and changes nothing
    assert np.array_equal(Dropout(0.0).apply({}, x, training=True), x)


def test_dropout_masks_depend_on_the_key_only():
    x = jnp.ones((8, 64))
    layer = Dropout(0.5)
    a, b, c = (layer.apply({}, x, key=jax.random.key(k), training=True) for k in (0, 0, 1))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    # seed= folds into the key: another mask from the same key
    d = Dropout(0.5, seed=7).apply({}, x, key=jax.random.key(0), training=True)
    assert not np.array_equal(a, d)


def test_dropout_noise_shape_shares_the_mask():
    y = Dropout(0.5, noise_shape=(1, None)).apply(
        {}, jnp.ones((5, 32)), key=jax.random.key(0), training=True
    )
    assert np.all(y == y[0])
    with pytest.raises(ValueError, match="noise_shape"):
        Dropout(0.5, noise_shape=(1,)).apply(
            {}, jnp.ones((5, 3)), key=jax.random.key(0), training=True
        )


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_dropout_rate_outside_range(bad):
    with pytest.raises(ValueError, match="rate"):
        Dropout(bad)


def test_dropout_rate_type():
    with pytest.raises(TypeError, match="rate"):
        Dropout("0.5")


def dropout_model(seed, rate=0.5):
    model = Sequential(
        [
            Dense(16, activation="relu", input_shape=10),
            Dropout(rate),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def test_fit_with_dropout_is_reproducible_for_the_same_seed():
    x, y, _ = make_classification(64)
    runs = []
    for seed in (3, 3):
        model = dropout_model(seed)
        history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
        runs.append((model.get_weights(), history.history["loss"]))
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][0], runs[1][0]))
    assert runs[0][1] == runs[1][1]


# -- BatchNormalization ----------------------------------------------------------------------
def bn_reference(x, gamma, beta, mm, mv, momentum, eps, reduce):
    mean, var = x.mean(axis=reduce), x.var(axis=reduce)
    shape = [1] * x.ndim
    for a in range(x.ndim):
        if a not in reduce:
            shape[a] = x.shape[a]
    y = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
    y = y * gamma.reshape(shape) + beta.reshape(shape)
    inference = (x - mm.reshape(shape)) / np.sqrt(mv.reshape(shape) + eps)
    inference = inference * gamma.reshape(shape) + beta.reshape(shape)
    return y, momentum * mm + (1 - momentum) * mean, momentum * mv + (1 - momentum) * var, inference


@pytest.mark.parametrize(("shape", "axis", "reduce"), [((16, 5), -1, (0,)), ((6, 3, 4), 1, (0, 2))])
def test_batch_norm_matches_the_closed_form(shape, axis, reduce):
    layer = BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3)
    x = np.asarray(rand(shape) * 3 + 2)
    channels = shape[axis]
    params = {"gamma": rand((channels,), 1) + 1, "beta": rand((channels,), 2)}
    state = {"moving_mean": rand((channels,), 3), "moving_variance": jnp.exp(rand((channels,), 4))}
    assert jax.tree_util.tree_map(jnp.shape, layer.init(jax.random.key(0), shape[1:])) == {
        "gamma": (channels,),
        "beta": (channels,),
    }
    y, new_state = layer.call(params, state, jnp.asarray(x), training=True)
    # apply returns y alone, whatever its arguments
    np.testing.assert_array_equal(
        layer.apply(params, jnp.asarray(x), state=state, training=True), y
    )
    ref, mm, mv, inference = bn_reference(
        x,
        *(np.asarray(a) for a in (params["gamma"], params["beta"])),
        np.asarray(state["moving_mean"]),
        np.asarray(state["moving_variance"]),
        0.9,
        1e-3,
        reduce,
    )
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(new_state["moving_mean"], mm, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_state["moving_variance"], mv, rtol=1e-5, atol=1e-6)
    y_inf, same_state = layer.call(params, state, jnp.asarray(x), training=False)
    np.testing.assert_allclose(y_inf, inference, rtol=1e-4, atol=1e-5)
    assert same_state is state
    with pytest.raises(ValueError, match="state"):
        layer.apply(params, jnp.asarray(x))


def test_batch_norm_initial_state_and_keras_weight_order():
    layer = BatchNormalization(center=False)
    state = layer.init_state(4)
    np.testing.assert_array_equal(state["moving_mean"], np.zeros(4))
    np.testing.assert_array_equal(state["moving_variance"], np.ones(4))
    params = layer.init(jax.random.key(0), 4)
    assert set(params) == {"gamma"}
    full = BatchNormalization()
    weights = full.weights_of(full.init(jax.random.key(0), 4), full.init_state(4))
    np.testing.assert_array_equal(np.stack(weights), [[1] * 4, [0] * 4, [0] * 4, [1] * 4])


def test_batch_norm_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)
    with pytest.raises(TypeError, match="axis"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="axis"):
        BatchNormalization(axis=0).init(jax.random.key(0), 3)


def bn_model(seed=0):
    model = Sequential(
        [
            BatchNormalization(input_shape=10),
            Dense(16, activation="relu"),
            Dropout(0.3),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_fit_threads_batch_norm_state_through_every_step():
    # BN first: its batch statistics do not depend on the params, so the moving averages have
    # a closed form.
    x, y, _ = make_classification(64)
    model = bn_model()
    # 3 steps an epoch, the last one smaller; no shuffling, so the batches are known
    model.fit(x, y, epochs=2, batch_size=24, shuffle=False, verbose=0)
    mm, mv = np.zeros(10), np.ones(10)
    for _ in range(2):
        for start in range(0, 64, 24):
            batch = x[start : start + 24].astype(np.float64)
            mm, mv = 0.99 * mm + 0.01 * batch.mean(0), 0.99 * mv + 0.01 * batch.var(0)
    np.testing.assert_allclose(model.state[0]["moving_mean"], mm, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(model.state[0]["moving_variance"], mv, rtol=1e-4, atol=1e-6)


def test_model_with_dropout_and_batch_norm_trains_and_infers_deterministically():
    x, y, _ = make_classification(128)
    model = bn_model()
    before = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[0] < before
    p1, p2 = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(p1, p2)
    # inference mode: moving statistics, no dropout
    expected = model.apply(model.params, jnp.asarray(x), state=model.state, training=False)
    np.testing.assert_allclose(p1, expected, rtol=1e-5, atol=1e-6)
    trained = model.apply(
        model.params, jnp.asarray(x), state=model.state, key=jax.random.key(0), training=True
    )
    assert not np.allclose(trained, p1, atol=1e-3)
    loss = -np.mean(np.sum(y * np.log(np.clip(p1, 1e-7, 1)), axis=1))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0)[0], loss, rtol=1e-3)


def test_get_and_set_weights_with_batch_norm():
    model = bn_model()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(10,)] * 4 + [(10, 16), (16,), (16, 10), (10,)]
    new = [w + 1.0 for w in model.get_weights()]
    model.set_weights(new)
    np.testing.assert_array_equal(model.state[0]["moving_variance"], np.full(10, 2.0))
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), new))


# -- LayerNormalization ----------------------------------------------------------------------
@pytest.mark.parametrize(("shape", "axis"), [((4, 6), -1), ((3, 4, 5), [1, 2]), ((3, 4, 5), 1)])
def test_layer_norm_matches_numpy(shape, axis):
    layer = LayerNormalization(axis=axis, epsilon=1e-3)
    axes = tuple(a % len(shape) for a in ([axis] if isinstance(axis, int) else axis))
    pshape = tuple(shape[a] for a in axes)
    params = {"gamma": rand(pshape, 1) + 1, "beta": rand(pshape, 2)}
    assert jax.tree_util.tree_map(jnp.shape, layer.init(jax.random.key(0), shape[1:])) == {
        "gamma": pshape,
        "beta": pshape,
    }
    x = np.asarray(rand(shape) * 2 + 1)
    mean, var = x.mean(axes, keepdims=True), x.var(axes, keepdims=True)
    bshape = [shape[a] if a in axes else 1 for a in range(len(shape))]
    ref = (x - mean) / np.sqrt(var + 1e-3) * np.reshape(params["gamma"], bshape) + np.reshape(
        params["beta"], bshape
    )
    np.testing.assert_allclose(layer.apply(params, jnp.asarray(x)), ref, rtol=1e-4, atol=1e-5)
    assert layer.output_shape(shape[1:]) == shape[1:]


def test_layer_norm_without_center_and_scale_has_no_params():
    layer = LayerNormalization(center=False, scale=False)
    assert layer.init(jax.random.key(0), 3) == {}
    y = layer.apply({}, jnp.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_allclose(y.mean(), 0, atol=1e-6)


# -- Flatten, Reshape, Input -----------------------------------------------------------------
def test_flatten_and_reshape_shapes():
    x = jnp.arange(2 * 12.0).reshape(2, 3, 4)
    assert Flatten().apply({}, x).shape == (2, 12)
    assert Flatten().output_shape((3, 4)) == (12,)
    assert Reshape((4, 3)).apply({}, x).shape == (2, 4, 3)
    assert Reshape((-1, 2)).output_shape((3, 4)) == (6, 2)
    assert Reshape((2, -1)).apply({}, x).shape == (2, 2, 6)
    np.testing.assert_array_equal(Reshape((12,)).apply({}, x), Flatten().apply({}, x))
    net = serial(Reshape((2, 5)), Flatten(), Dense(3))
    assert net.input_shapes(10) == [(10,), (2, 5), (10,), (3,)]


@pytest.mark.parametrize("bad", [(), (0, 2), (-1, -1), (2.5,), ("a",)])
def test_reshape_rejects_bad_target_shapes(bad):
    with pytest.raises(ValueError, match="target_shape"):
        Reshape(bad)


def test_reshape_rejects_a_size_mismatch():
    with pytest.raises(ValueError, match="target_shape"):
        Reshape((5,)).output_shape((3, 4))
    with pytest.raises(ValueError, match="target_shape"):
        Reshape((-1, 5)).output_shape((3, 4))


def test_input_builds_the_model_at_once():
    model = Sequential([Input((10,)), Dense(3)])
    assert model.built and model.input_shape == (10,)
    assert model.output_shape == (3,)
    assert [type(x).__name__ for x in model.layers] == ["Dense"]  # Keras: Input is no layer
    assert model.params[0]["kernel"].shape == (10, 3)
    assert model.predict(np.ones((2, 10), np.float32), verbose=0).shape == (2, 3)
    with pytest.raises(ValueError, match="first layer"):
        Sequential([Dense(3, input_shape=4), Input((3,))])
    with pytest.raises(ValueError, match="shape"):
        serial(Input((4,)), Dense(2)).init(jax.random.key(0), 5)
    with pytest.raises(ValueError, match="shape"):
        Input((0,))


# -- configs and gradients, every layer kind ---------------------------------------------------
ALL_LAYERS = [
    Dropout(0.25, noise_shape=(None, 1), seed=3, name="drop"),
    BatchNormalization(
        momentum=0.9, epsilon=1e-4, center=False, gamma_regularizer="l2", input_shape=(4,)
    ),
    LayerNormalization(axis=[1, 2], scale=False, beta_initializer="ones", name="ln"),
    Flatten(name="flat"),
    Reshape((-1, 2), input_shape=8),
    Input((3, 2), name="inp"),
]


@pytest.mark.parametrize("layer", ALL_LAYERS, ids=lambda x: type(x).__name__)
def test_config_round_trip(layer):
    import json

    config = json.loads(json.dumps(layer_to_config(layer)))
    clone = layer_from_config(config)
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    assert clone.weight_keys == layer.weight_keys


@pytest.mark.parametrize(
    "layer",
    [BatchNormalization(momentum=0.5), LayerNormalization(), Dropout(0.4), Reshape((2, 3))],
    ids=lambda x: type(x).__name__,
)
def test_gradients_match_central_finite_differences_in_float64(layer):
    with jax.enable_x64(True):
        x = rand((5, 6), 1, jnp.float64)
        t = rand((5, 6), 2, jnp.float64).reshape((5, *layer.output_shape(6)))
        params = jax.tree_util.tree_map(
            lambda a: jnp.asarray(a, jnp.float64) + 0.3 * rand(a.shape, 3, jnp.float64),
            layer.init(jax.random.key(0), 6),
        )
        state = layer.init_state(6)
        key = jax.random.key(4)

        def loss(tree):
            y, _ = layer.call(tree["p"], state, tree["x"], key=key, training=True)
            return jnp.sum(jnp.sin(y) * t)

        assert_gradients_match_finite_differences(
            jax.jit(loss), {"p": params, "x": x}, atol=1e-7, rtol=1e-5
        )
