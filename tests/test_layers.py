import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_gradients_match_finite_differences

from fnn import activations
from fnn.layers import (
    Activation,
    Dense,
    Serial,
    as_shape,
    layer_from_config,
    layer_to_config,
    serial,
)


def test_int_input_shape_means_vector():
    assert as_shape(10) == (10,)
    assert as_shape([3, 4]) == (3, 4)
    with pytest.raises(ValueError, match="input_shape"):
        as_shape((0,))
    with pytest.raises(TypeError, match="input_shape"):
        as_shape("10")


def test_dense_params_layout_and_output():
    layer = Dense(3, activation="relu")
    params = layer.init(jax.random.key(0), 4)
    assert set(params) == {"kernel", "bias"}
    assert params["kernel"].shape == (4, 3) and params["bias"].shape == (3,)
    x = jax.random.normal(jax.random.key(1), (5, 4))
    expected = np.maximum(
        np.asarray(x) @ np.asarray(params["kernel"]) + np.asarray(params["bias"]), 0
    )
    np.testing.assert_allclose(layer.apply(params, x), expected, rtol=1e-5, atol=1e-6)
    assert layer.output_shape(4) == (3,)


def test_dense_without_bias_and_initializers():
    layer = Dense(2, use_bias=False, kernel_initializer="ones")
    params = layer.init(jax.random.key(0), 3)
    assert set(params) == {"kernel"}
    np.testing.assert_allclose(layer.apply(params, jnp.ones((1, 3))), [[3.0, 3.0]])


def test_dense_rejects_bad_units():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="units"):
            Dense(bad)
    for bad in (2.5, "8", True):  # one rule: a wrong type is a TypeError
        with pytest.raises(TypeError, match="units"):
            Dense(bad)


def test_activation_layer():
    out = Activation("sigmoid").apply({}, jnp.array([0.0]))
    np.testing.assert_allclose(out, [0.5])
    assert Activation(jnp.tanh).output_shape((7,)) == (7,)


def test_serial_init_apply_and_shapes():
    net = serial(Dense(8, activation="tanh"), Activation("relu"), Dense(2))
    params = net.init(jax.random.key(0), 5)
    assert [jax.tree_util.tree_structure(p).num_leaves for p in params] == [2, 0, 2]
    assert net.apply(params, jnp.ones((3, 5))).shape == (3, 2)
    assert net.input_shapes(5) == [(5,), (8,), (8,), (2,)]


def test_serial_rejects_non_layers():
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        Serial([Dense(2), "relu"])


def test_apply_is_jittable_and_vmappable_over_stacked_params():
    net = serial(Dense(4, activation="relu"), Dense(1))
    keys = jax.random.split(jax.random.key(0), 3)
    stacked = jax.vmap(lambda k: net.init(k, 2))(keys)
    x = jnp.ones((6, 2))
    ys = jax.jit(jax.vmap(net.apply, in_axes=(0, None)))(stacked, x)
    assert ys.shape == (3, 6, 1)
    for i in range(3):
        single = jax.tree_util.tree_map(lambda a, i=i: a[i], stacked)
        np.testing.assert_allclose(ys[i], net.apply(single, x), rtol=1e-6)
    # vmap over examples gives the batched result
    per_example = jax.vmap(
        lambda xi: net.apply(jax.tree_util.tree_map(lambda a: a[0], stacked), xi[None])[0]
    )(x)
    np.testing.assert_allclose(per_example, ys[0], rtol=1e-6)


def test_gradients_match_central_finite_differences_in_float64():
    net = serial(Dense(5, activation="tanh"), Dense(3, activation="sigmoid"), Dense(1))
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(
            lambda a: jnp.asarray(a, jnp.float64), net.init(jax.random.key(0), 4)
        )
        x = jax.random.normal(jax.random.key(1), (7, 4), dtype=jnp.float64)
        t = jax.random.normal(jax.random.key(2), (7, 1), dtype=jnp.float64)

        def loss(p):
            return jnp.mean((net.apply(p, x) - t) ** 2)

        assert_gradients_match_finite_differences(loss, params)


def test_output_activation_can_be_removed_for_logits():
    net = serial(Dense(4), Dense(3, activation="softmax"))
    params = net.init(jax.random.key(0), 2)
    logits = net.without_output_activation().apply(params, jnp.ones((1, 2)))
    probs = net.apply(params, jnp.ones((1, 2)))
    np.testing.assert_allclose(jax.nn.softmax(logits), probs, rtol=1e-6)
    assert activations.is_named(net.output_activation, "softmax")


def test_layer_config_round_trip():
    layer = Dense(
        7,
        activation="gelu",
        use_bias=False,
        kernel_initializer="he_normal",
        kernel_regularizer="l2",
        input_shape=3,
        name="d",
    )
    clone = layer_from_config(layer_to_config(layer))
    assert clone.get_config() == layer.get_config()
    with pytest.raises(ValueError, match="Unknown layer class"):
        layer_from_config({"class_name": "os.system", "config": {}})


def test_regularization_loss():
    layer = Dense(2, kernel_initializer="ones", kernel_regularizer="l2")
    params = layer.init(jax.random.key(0), 3)
    np.testing.assert_allclose(layer.regularization_loss(params), 0.01 * 6)


def test_weights_in_keras_order():
    net = serial(Dense(4), Dense(2))
    params = net.init(jax.random.key(0), 3)
    shapes = [w.shape for w in net.weights_of(params, net.init_state(3))]
    assert shapes == [(3, 4), (4,), (4, 2), (2,)]


# -- pickling, deep copies, trainable, input_dim (issue 13 points 15 and "missing") -----------
import copy as _copy  # noqa: E402
import pickle as _pickle  # noqa: E402

from fnn import initializers as _initializers  # noqa: E402
from fnn.layers.base import layer_to_config as _layer_to_config  # noqa: E402


@pytest.mark.parametrize("activation", activations.registry.names())
def test_layers_pickle_with_every_registered_activation(activation):
    layer = Dense(3, activation=activation, input_shape=2, name="d")
    for again in (_pickle.loads(_pickle.dumps(layer)), _copy.deepcopy(layer)):
        assert _layer_to_config(again) == _layer_to_config(layer)
        assert again.activation is layer.activation


@pytest.mark.parametrize("initializer", _initializers.registry.names())
def test_layers_pickle_with_every_registered_initializer(initializer):
    layer = Dense(2, kernel_initializer=initializer, input_shape=2)
    again = _pickle.loads(_pickle.dumps(layer))
    key = jax.random.key(0)
    for a, b in zip(
        jax.tree_util.tree_leaves(layer.init(key, 2)), jax.tree_util.tree_leaves(again.init(key, 2))
    ):
        np.testing.assert_array_equal(a, b)


def test_serial_and_extra_attributes_survive_a_deep_copy():
    net = serial(Dense(4, activation="relu", input_shape=3), Dense(2))
    net.layers[0].note = "kept"
    again = _copy.deepcopy(net)
    assert again.layers[0].note == "kept" and again.layers[0] is not net.layers[0]
    key = jax.random.key(1)
    np.testing.assert_array_equal(
        jax.tree_util.tree_leaves(net.init(key, 3))[0],
        jax.tree_util.tree_leaves(again.init(key, 3))[0],
    )


def test_trainable_is_a_config_key_and_input_dim_is_keras_legacy():
    layer = Dense(2, input_dim=5)
    assert layer.input_shape == (5,) and layer.trainable
    layer.trainable = False
    config = _layer_to_config(layer)
    assert config["config"]["trainable"] is False
    assert _pickle.loads(_pickle.dumps(layer)).trainable is False
    with pytest.raises(ValueError, match="input_dim"):
        Dense(2, input_dim=5, input_shape=5)
    with pytest.raises(ValueError, match="input_dim"):
        Dense(2, input_dim=0)


def test_from_weights_names_a_wrong_count_and_a_wrong_shape():
    from fnn.layers import BatchNormalization

    dense = Dense(2)
    params = dense.init(jax.random.key(0), 3)
    with pytest.raises(ValueError, match=r"Dense.from_weights: weights holds 1 array, expected 2"):
        dense.from_weights([np.ones((3, 2))], params, {})
    with pytest.raises(ValueError, match=r"weights holds 3 arrays, expected 2 \(kernel, bias\)"):
        dense.from_weights([np.ones((3, 2)), np.ones(2), np.ones(2)], params, {})
    with pytest.raises(ValueError, match=r"weights for 'bias' has shape \(3,\), expected \(2,\)"):
        dense.from_weights([np.ones((3, 2)), np.ones(3)], params, {})
    bn = BatchNormalization()
    with pytest.raises(ValueError, match=r"expected 4 \(gamma, beta, moving_mean, moving_variance"):
        bn.from_weights([np.ones(3)], bn.init(jax.random.key(0), 3), bn.init_state(3))
    # a combinator counts all its inner layers' arrays before filling any
    net = serial(Dense(4), Dense(2))
    p, s = net.init(jax.random.key(0), 3), net.init_state(3)
    weights = net.weights_of(p, s)
    for wrong in (weights[:1], weights[:3], [*weights, weights[-1]]):
        with pytest.raises(ValueError, match=rf"Serial.from_weights: .* {len(wrong)} arrays?, "):
            net.from_weights(wrong, p, s)
    new_p, _ = net.from_weights([w + 1 for w in weights], p, s)
    np.testing.assert_array_equal(new_p[1]["bias"], weights[3] + 1)
