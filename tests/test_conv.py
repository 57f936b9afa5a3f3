"""Conv1D and Conv2D: outputs against a NumPy loop, gradients, errors, weights, saving, digits."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_gradients_match_finite_differences
from hypothesis import given, settings
from hypothesis import strategies as st

import fnn
from fnn.layers import (
    Conv1D,
    Conv2D,
    Dense,
    Flatten,
    MaxPooling2D,
    layer_from_config,
    layer_to_config,
)
from fnn.models import Sequential, load_model


def reference_conv(x, kernel, strides, padding, dilation, groups=1):
    """Convolution written out: a loop over output positions and kernel taps (channels_last)."""
    rank = x.ndim - 2
    taps = kernel.shape[:rank]
    eff = [(k - 1) * d + 1 for k, d in zip(taps, dilation, strict=True)]
    pads = []
    for n, e, s in zip(x.shape[1:-1], eff, strides, strict=True):
        if padding == "valid":
            pads.append((0, 0))
        elif padding == "same":  # TensorFlow's rule: the extra padding goes after
            total = max((math.ceil(n / s) - 1) * s + e - n, 0)
            pads.append((total // 2, total - total // 2))
        else:  # causal
            pads.append((e - 1, 0))
    xp = np.pad(x, [(0, 0), *pads, (0, 0)])
    out = [(xp.shape[1 + i] - eff[i]) // strides[i] + 1 for i in range(rank)]
    cin, filters = kernel.shape[-2], kernel.shape[-1]
    fg = filters // groups
    y = np.zeros((x.shape[0], *out, filters))
    for o in np.ndindex(*out):
        for t in np.ndindex(*taps):
            pos = tuple(o[i] * strides[i] + t[i] * dilation[i] for i in range(rank))
            patch = xp[(slice(None), *pos)]  # (batch, channels)
            for g in range(groups):
                y[(slice(None), *o, slice(g * fg, (g + 1) * fg))] += (
                    patch[:, g * cin : (g + 1) * cin]
                    @ kernel[(*t, slice(None), slice(g * fg, (g + 1) * fg))]
                )
    return y


CASES = [
    # layer, input shape (no batch axis)
    (Conv1D(3, 3), (10, 2)),
    (Conv1D(3, 3, strides=2, padding="SAME"), (9, 2)),
    (Conv1D(2, 2, dilation_rate=2, padding="causal"), (7, 3)),
    (Conv1D(2, 3, dilation_rate=2, padding="same", use_bias=False), (8, 1)),
    (Conv2D(4, (3, 2), strides=(2, 1)), (7, 6, 2)),
    (Conv2D(3, 3, strides=2, padding="same", activation="relu"), (6, 5, 2)),
    (Conv2D(2, (2, 3), dilation_rate=(2, 1), padding="Same"), (6, 7, 1)),
    (Conv2D(6, 2, groups=2), (4, 4, 4)),
]


@pytest.mark.parametrize(
    "layer,shape", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_outputs_match_a_numpy_loop(layer, shape):
    params = layer.init(jax.random.key(0), shape)
    params = {k: v + 0.1 * jax.random.normal(jax.random.key(5), v.shape) for k, v in params.items()}
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, *shape)), np.float64)
    y = np.asarray(layer.apply(params, jnp.asarray(x, jnp.float32)))
    kernel = np.asarray(params["kernel"], np.float64)
    assert kernel.shape == (*layer.kernel_size, shape[-1] // layer.groups, layer.filters)
    ref = reference_conv(x, kernel, layer.strides, layer.padding, layer.dilation_rate, layer.groups)
    if layer.use_bias:
        ref = ref + np.asarray(params["bias"])
    ref = np.asarray(layer.activation(jnp.asarray(ref)))
    assert y.shape == ref.shape == (2, *layer.output_shape(shape))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)


def test_same_padding_keeps_the_size_and_causal_output_sees_only_the_past():
    assert Conv2D(5, 3, padding="same").output_shape((8, 8, 1)) == (8, 8, 5)
    assert Conv2D(5, 3, strides=3, padding="same").output_shape((8, 7, 1)) == (3, 3, 5)
    conv = Conv1D(1, 3, padding="causal", kernel_initializer="ones", use_bias=False)
    params = conv.init(jax.random.key(0), (6, 1))
    x = jnp.zeros((1, 6, 1)).at[0, 3, 0].set(1.0)  # an impulse at t = 3
    np.testing.assert_array_equal(conv.apply(params, x)[0, :, 0], [0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize(
    "layer,shape",
    [
        (Conv1D(2, 2, padding="causal", dilation_rate=2), (5, 2)),
        (Conv2D(2, 2, strides=2), (5, 4, 1)),
    ],
    ids=["conv1d", "conv2d"],
)
def test_gradients_match_central_finite_differences_in_float64(layer, shape):
    with jax.enable_x64(True):
        params = jax.tree_util.tree_map(
            lambda a: jnp.asarray(a, jnp.float64), layer.init(jax.random.key(0), shape)
        )
        x = jax.random.normal(jax.random.key(1), (2, *shape), jnp.float64)
        t = jax.random.normal(jax.random.key(2), (2, *layer.output_shape(shape)), jnp.float64)

        def loss(tree):
            return jnp.sum(jnp.tanh(layer.apply(tree["p"], tree["x"])) * t)

        assert_gradients_match_finite_differences(
            jax.jit(loss), {"p": params, "x": x}, atol=1e-7, rtol=1e-5
        )


def test_bad_input_fails_at_build_naming_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2D\('c'\) takes inputs of shape \(batch, height"):
        Conv2D(2, 3, name="c").output_shape((10,))
    with pytest.raises(ValueError, match=r"Conv1D.*\(None, 4, 4, 1\)"):
        Conv1D(2, 3).init(jax.random.key(0), (4, 4, 1))
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) is larger than .*\(4, 6\)"):
        Conv2D(2, 5).output_shape((4, 6, 1))
    with pytest.raises(ValueError, match=r"dilated to \(5,\)"):
        Conv1D(2, 3, dilation_rate=2).init(jax.random.key(0), (4, 1))
    # "same" pads, so a kernel larger than the input is fine there
    assert Conv2D(2, 5, padding="same").output_shape((4, 6, 1)) == (4, 6, 2)
    # Sequential refuses at build, before any data
    with pytest.raises(ValueError, match="takes inputs of shape"):
        Sequential([Dense(4, input_shape=3), Conv2D(2, 3)])
    with pytest.raises(ValueError, match="multiple of groups"):
        Conv2D(4, 3, groups=2).output_shape((5, 5, 3))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Unknown padding 'vaild'\. Did you mean 'valid'"):
        Conv2D(2, 3, padding="vaild")
    with pytest.raises(ValueError, match="causal"):
        Conv2D(2, 3, padding="causal")  # Conv1D only, as in Keras
    with pytest.raises(ValueError, match="kernel_size must be a positive int or a tuple of 2"):
        Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="strides > 1 is not supported together"):
        Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="channels_last"):
        Conv2D(2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="filters must be a positive int"):
        Conv2D(0, 3)


def test_config_round_trip_and_regularizer():
    layer = Conv2D(
        4, (3, 2), strides=2, padding="same", activation="relu", use_bias=False,
        kernel_initializer="he_normal", kernel_regularizer="l2", name="c",
    )  # fmt: skip
    clone = layer_from_config(layer_to_config(layer))
    assert type(clone) is Conv2D and clone.get_config() == layer.get_config()
    params = {"kernel": jnp.ones((3, 2, 1, 4))}
    np.testing.assert_allclose(layer.regularization_loss(params), 0.01 * 24)


def small_cnn(seed=0):
    model = Sequential(
        [
            Conv2D(8, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
            MaxPooling2D(),
            Flatten(),
            Dense(10, activation="softmax"),
        ],
        seed=seed,
    )
    model.compile(
        optimizer=fnn.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_get_set_weights_in_keras_layout_and_save_load(tmp_path):
    model = small_cnn()
    assert [w.shape for w in model.get_weights()] == [(3, 3, 1, 8), (8,), (128, 10), (10,)]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype(np.float32)
    model.fit(x, rng.integers(0, 10, 16), epochs=1, verbose=0)
    weights = [w * 0.5 for w in model.get_weights()]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    model.save(tmp_path / "cnn.fnn")
    loaded = load_model(tmp_path / "cnn.fnn")
    assert [type(x) for x in loaded.layers] == [type(x) for x in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_small_cnn_learns_the_digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]  # 8x8x1 images
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    model = small_cnn()
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95


@settings(max_examples=25, deadline=None)
@given(
    rank=st.sampled_from([1, 2]),
    size=st.integers(1, 9),
    kernel=st.integers(1, 4),
    stride=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same", "causal"]),
)
def test_output_shape_matches_the_computed_shape(rank, size, kernel, stride, padding):
    if padding == "causal" and rank == 2:
        padding = "same"
    layer = (Conv1D if rank == 1 else Conv2D)(2, kernel, strides=stride, padding=padding)
    shape = (size,) * rank + (1,)
    if padding == "valid" and kernel > size:
        with pytest.raises(ValueError, match="larger than"):
            layer.output_shape(shape)
        return
    out = jax.eval_shape(
        lambda p: layer.apply(p, jnp.zeros((3, *shape))),
        jax.eval_shape(lambda: layer.init(jax.random.key(0), shape)),
    )
    assert out.shape == (3, *layer.output_shape(shape))
    expected = -(-size // stride) if padding != "valid" else (size - kernel) // stride + 1
    assert layer.output_shape(shape) == (expected,) * rank + (2,)
