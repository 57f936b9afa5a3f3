"""Combinators: serial, parallel, FanOut, FanInSum, FanInConcat, Identity and Residual."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_gradients_match_finite_differences, make_classification
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.layers import (
    BatchNormalization,
    Dense,
    Dropout,
    FanInConcat,
    FanInSum,
    FanOut,
    Identity,
    Parallel,
    Residual,
    Serial,
    as_shape,
    layer_from_config,
    layer_to_config,
    parallel,
    serial,
)
from fnn.models import Sequential, load_model


def test_fan_out_parallel_and_fan_in_compute_what_stax_does():
    block = serial(FanOut(3), parallel(Dense(2), Identity, Dense(4)), FanInConcat())
    assert block.output_shape(2) == (8,)
    params = block.init(jax.random.key(0), 2)
    x = jax.random.normal(jax.random.key(1), (5, 2))
    d1, d3 = params[1][0], params[1][2]
    expected = np.concatenate(
        [x @ d1["kernel"] + d1["bias"], x, x @ d3["kernel"] + d3["bias"]], axis=1
    )
    np.testing.assert_allclose(block.apply(params, x), expected, rtol=1e-6)
    summed = serial(FanOut(2), parallel(Dense(2), Dense(2)), FanInSum)
    p = summed.init(jax.random.key(2), 2)
    a, b = p[1]
    expected = x @ a["kernel"] + a["bias"] + x @ b["kernel"] + b["bias"]
    np.testing.assert_allclose(summed.apply(p, x), expected, rtol=1e-6)


def test_shapes_between_combinators_are_tuples_of_shapes():
    net = serial(FanOut(2), parallel(Dense(3), Identity))
    assert net.input_shapes(4) == [(4,), ((4,), (4,)), ((3,), (4,))]
    assert as_shape([[3], (4, 5)], multi=True) == ((3,), (4, 5))
    with pytest.raises(ValueError, match="must be one shape"):
        as_shape(((3,), (4,)))
    assert FanInConcat(axis=1).output_shape(((2, 3), (4, 3))) == (6, 3)


def test_residual_is_x_plus_the_serial_block():
    block = Residual(Dense(6, activation="relu"), Dense(3))
    inner = serial(Dense(6, activation="relu"), Dense(3))
    params = block.init(jax.random.key(0), 3)
    x = jax.random.normal(jax.random.key(1), (4, 3))
    np.testing.assert_allclose(block.apply(params, x), x + inner.apply(params, x), rtol=1e-6)
    with jax.enable_x64(True):
        p64 = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float64), params)
        x64 = jnp.asarray(x, jnp.float64)
        assert_gradients_match_finite_differences(
            jax.jit(lambda t: jnp.sum(jnp.sin(block.apply(t["p"], t["x"])))), {"p": p64, "x": x64}
        )


def test_mismatched_shapes_fail_at_build_naming_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"FanInSum\('m'\) sums inputs of one shape, got .*3.*4"):
        serial(FanOut(2), parallel(Dense(3), Dense(4)), FanInSum(name="m")).output_shape(2)
    with pytest.raises(
        ValueError, match=r"Dense\('dense_1'\) takes one input, got 2 inputs.*FanInSum"
    ):
        Sequential([Dense(3, input_shape=2), FanOut(2), Dense(3)])
    with pytest.raises(ValueError, match=r"FanInConcat takes a tuple of inputs.*\(None, 3\)"):
        serial(Dense(3), FanInConcat()).init(jax.random.key(0), 2)
    with pytest.raises(ValueError, match=r"Residual.*input \(None, 3\), output \(None, 5\)"):
        Sequential([Dense(3, input_shape=2), Residual(Dense(5))])
    with pytest.raises(ValueError, match="applies 2 layers to a tuple of 2 inputs, got 3"):
        serial(FanOut(3), parallel(Dense(1), Dense(1))).output_shape(2)
    with pytest.raises(ValueError, match="batch axis 0 cannot be concatenated"):
        FanInConcat(axis=0).output_shape(((3,), (3,)))
    with pytest.raises(TypeError, match=r"layers\[1\] must be a fnn layer"):
        serial(Dense(1), "relu")
    with pytest.raises(TypeError, match="FanOut, which needs arguments"):
        serial(FanOut)


def test_config_round_trip_nests_inner_layers():
    block = Residual(
        Dense(4, activation="relu"),
        serial(FanOut(2), parallel(Dense(4), Identity), FanInSum),
        BatchNormalization(),
        name="res",
    )
    config = layer_to_config(block)
    assert config["class_name"] == "Residual"
    assert [c["class_name"] for c in config["config"]["layers"]] == [
        "Dense",
        "Serial",
        "BatchNormalization",
    ]
    clone = layer_from_config(config)
    assert type(clone) is Residual and clone.get_config() == block.get_config()
    p = layer_from_config(layer_to_config(Parallel([Dense(2), FanInConcat(axis=-1)])))
    assert [type(x) for x in p.layers] == [Dense, FanInConcat]


def residual_mlp(seed=0, dropout=0.0):
    model = Sequential(
        [
            Dense(16, activation="relu", input_shape=10),
            Residual(
                Dense(16, activation="relu"), BatchNormalization(), Dropout(dropout), Dense(16)
            ),
            serial(FanOut(2), parallel(Dense(8), Dense(8, activation="tanh")), FanInConcat()),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(fnn.optimizers.Adam(0.01), "categorical_crossentropy", ["accuracy"])
    return model


def test_get_set_weights_flatten_inner_layers_in_order():
    model = residual_mlp()
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [
        (10, 16), (16,),                      # dense
        (16, 16), (16,), (16,), (16,), (16,), (16,), (16, 16), (16,),  # residual: Dense, BN, Dense
        (16, 8), (8,), (16, 8), (8,),         # the two branches
        (16, 10), (10,),
    ]  # fmt: skip
    new = [np.full(s, i, np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    assert [float(w.flat[0]) for w in model.get_weights()] == list(range(len(shapes)))
    assert float(model.state[1][1]["moving_mean"][0]) == 6.0  # after Dense's 2, BN's gamma, beta
    with pytest.raises(ValueError, match="set_weights expected 16 arrays"):
        model.set_weights(new[:-1])


def test_state_and_keys_reach_inner_layers_and_the_model_saves(tmp_path):
    x, y, _ = make_classification(n=256)
    model = residual_mlp(dropout=0.3)
    before = np.asarray(model.state[1][1]["moving_mean"])
    history = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert not np.allclose(model.state[1][1]["moving_mean"], before)  # BN ran in training mode
    net, params, state = model.net, model.params, model.state
    runs = [
        net.call(params, state, jnp.asarray(x[:8]), key=jax.random.key(k), training=True)[0]
        for k in (0, 0, 1)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])  # the inner Dropout draws from the key
    assert model.evaluate(x, y, verbose=0)[1] > 0.7
    model.save(tmp_path / "res.fnn")
    loaded = load_model(tmp_path / "res.fnn")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    loaded.fit(x, y, epochs=1, verbose=0)  # and it trains on


def test_regularization_sums_inner_layers():
    block = Residual(Dense(3, kernel_regularizer="l1", kernel_initializer="ones"))
    outer = serial(block, parallel_free := Dense(3, kernel_regularizer="l2"))
    params = outer.init(jax.random.key(0), 3)
    expected = 0.01 * 9 + float(parallel_free.regularization_loss(params[1]))
    np.testing.assert_allclose(outer.regularization_loss(params), expected, rtol=1e-6)


def test_summary_shows_inner_layers_indented_with_thousands_separators(capsys):
    model = Sequential([Dense(1000, input_shape=30), Residual(Dense(1000), Dense(1000))])
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 2,033,000" in out
    lines = [line for line in out.splitlines() if "Dense" in line or "Residual" in line]
    assert lines[1].startswith("residual (Residual)") and "2,002,000" in lines[1]
    assert lines[2].startswith("  Dense ") and "1,001,000" in lines[2]


def test_population_trains_a_residual_model():
    x, y, _ = make_classification(n=128)
    model = Sequential(
        [
            Dense(8, activation="relu", input_shape=10),
            Residual(Dense(8)),
            Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "categorical_crossentropy")
    population = fnn.Population(model, size=2)
    population.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(np.asarray(population.evaluate(x, y, verbose=0))).all()


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), width=st.integers(1, 5), depth=st.integers(1, 3))
def test_fan_out_then_concat_multiplies_the_last_axis(n, width, depth):
    net = Serial([FanOut(n), FanInConcat()])
    shape = (2,) * (depth - 1) + (width,)
    assert net.output_shape(shape) == (*shape[:-1], n * width)
    y = net.apply(net.init(jax.random.key(0), shape), jnp.ones((3, *shape)))
    assert y.shape == (3, *net.output_shape(shape))


def test_a_frozen_combinator_reloads_frozen():
    from fnn.layers.base import layer_from_config, layer_to_config

    block = Serial([Dense(4), Dense(2)])
    block.trainable = False
    again = layer_from_config(layer_to_config(block))
    assert type(again) is Serial and again.trainable is False
    assert layer_from_config(layer_to_config(Serial([Dense(4)]))).trainable is True


def test_an_empty_serial_without_output_activation_is_an_equal_empty_serial():
    net = Serial([], name="empty", compute_dtype="bfloat16")
    plain = net.without_output_activation()
    assert isinstance(plain, Serial) and plain is not net and plain.layers == []
    assert (plain.name, plain.compute_dtype, plain.output_activation) == (
        "empty",
        jnp.bfloat16,
        None,
    )
    x = jnp.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(plain.apply(plain.init(jax.random.key(0), 3), x), x)
    # a non-empty Serial still swaps its last layer for its logits twin
    head = Serial([Dense(2, activation="softmax")]).without_output_activation()
    assert head.output_activation is None and head.layers[0].units == 2
