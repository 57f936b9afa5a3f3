"""Pooling layers: outputs against NumPy loops (valid/same, strides), shapes, errors, configs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fnn.layers import (
    AveragePooling1D,
    AveragePooling2D,
    Dense,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
    layer_from_config,
    layer_to_config,
)
from fnn.models import Sequential


def reference_pool(x, pool, strides, padding, reduce):
    """Pooling written out: each window's values (padding excluded), reduced."""
    rank = x.ndim - 2
    spatial = x.shape[1:-1]
    if padding == "valid":
        out = [(n - p) // s + 1 for n, p, s in zip(spatial, pool, strides, strict=True)]
        before = [0] * rank
    else:
        out = [math.ceil(n / s) for n, s in zip(spatial, strides, strict=True)]
        before = [
            max((o - 1) * s + p - n, 0) // 2
            for o, n, p, s in zip(out, spatial, pool, strides, strict=True)
        ]
    y = np.zeros((x.shape[0], *out, x.shape[-1]))
    for o in np.ndindex(*out):
        window = tuple(
            slice(max(o[i] * strides[i] - before[i], 0), o[i] * strides[i] - before[i] + pool[i])
            for i in range(rank)
        )
        values = x[(slice(None), *window, slice(None))].reshape(x.shape[0], -1, x.shape[-1])
        y[(slice(None), *o, slice(None))] = reduce(values, axis=1)
    return y


CASES = [
    (MaxPooling1D(), (9, 2)),
    (MaxPooling1D(3, strides=2, padding="same"), (8, 3)),
    (AveragePooling1D(2, strides=1), (5, 1)),
    (AveragePooling1D(3, strides=2, padding="SAME"), (8, 2)),
    (MaxPooling2D((2, 3)), (7, 7, 2)),
    (MaxPooling2D(3, strides=2, padding="same"), (6, 5, 1)),
    (AveragePooling2D(), (5, 4, 3)),
    (AveragePooling2D((3, 2), strides=(2, 1), padding="same"), (5, 4, 2)),
]


@pytest.mark.parametrize(
    "layer,shape", CASES, ids=[f"{type(c[0]).__name__}-{i}" for i, c in enumerate(CASES)]
)
def test_outputs_match_a_numpy_loop(layer, shape):
    x = np.asarray(jax.random.normal(jax.random.key(0), (2, *shape)), np.float64)
    y = np.asarray(layer.apply({}, jnp.asarray(x, jnp.float32)))
    reduce = np.max if "Max" in type(layer).__name__ else np.mean
    ref = reference_pool(x, layer.pool_size, layer.strides, layer.padding, reduce)
    assert y.shape == ref.shape == (2, *layer.output_shape(shape))
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_strides_default_to_pool_size_and_same_average_excludes_padding():
    assert MaxPooling2D((2, 3)).strides == (2, 3)
    # a 3-wide window at the edge of [1, 2, 3, 4] with "same" padding averages only real values
    y = AveragePooling1D(3, strides=1, padding="same").apply(
        {}, jnp.arange(1.0, 5.0)[None, :, None]
    )
    np.testing.assert_allclose(y[0, :, 0], [1.5, 2.0, 3.0, 3.5])
    y = MaxPooling1D(3, strides=1, padding="same").apply({}, -jnp.arange(1.0, 5.0)[None, :, None])
    np.testing.assert_allclose(y[0, :, 0], [-1.0, -1.0, -2.0, -3.0])  # padding is never the max


@pytest.mark.parametrize(
    "layer,reduce,axes",
    [
        (GlobalAveragePooling1D(), np.mean, (1,)),
        (GlobalMaxPooling1D(), np.max, (1,)),
        (GlobalAveragePooling2D(), np.mean, (1, 2)),
        (GlobalMaxPooling2D(keepdims=True), np.max, (1, 2)),
    ],
    ids=lambda v: getattr(v, "__name__", type(v).__name__),
)
def test_global_pooling(layer, reduce, axes):
    shape = (5, 3) if len(axes) == 1 else (4, 5, 3)
    x = np.asarray(jax.random.normal(jax.random.key(1), (2, *shape)))
    y = layer.apply({}, jnp.asarray(x))
    ref = reduce(x, axis=axes, keepdims=layer.keepdims)
    assert y.shape == ref.shape == (2, *layer.output_shape(shape))
    np.testing.assert_allclose(y, ref, rtol=1e-6)


def test_pooling_gradients_flow_to_the_selected_inputs():
    x = jnp.array([[[1.0], [3.0], [2.0], [0.0]]])
    grad = jax.grad(lambda v: MaxPooling1D().apply({}, v).sum())(x)
    np.testing.assert_array_equal(grad[0, :, 0], [0, 1, 1, 0])
    grad = jax.grad(lambda v: AveragePooling1D().apply({}, v).sum())(x)
    np.testing.assert_allclose(grad[0, :, 0], [0.5] * 4)


def test_bad_input_fails_at_build_naming_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"MaxPooling2D takes inputs of shape \(batch, height"):
        MaxPooling2D().output_shape((10,))
    with pytest.raises(ValueError, match=r"pool_size \(3, 3\) is larger than .*\(2, 5\)"):
        AveragePooling2D(3).output_shape((2, 5, 1))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling1D.*\(None, 4, 4, 2\)"):
        GlobalAveragePooling1D().output_shape((4, 4, 2))
    with pytest.raises(ValueError, match="takes inputs of shape"):
        Sequential([Dense(4, input_shape=3), GlobalMaxPooling2D()])
    with pytest.raises(ValueError, match="pool_size must be a positive int"):
        MaxPooling1D(0)
    with pytest.raises(ValueError, match="Unknown padding"):
        MaxPooling2D(padding="full")
    with pytest.raises(ValueError, match="channels_last"):
        GlobalMaxPooling2D(data_format="channels_first")


@pytest.mark.parametrize(
    "layer",
    [
        MaxPooling2D((2, 3), strides=1, padding="same", name="p"),
        GlobalAveragePooling1D(keepdims=True),
    ],
    ids=lambda x: type(x).__name__,
)
def test_config_round_trip(layer):
    clone = layer_from_config(layer_to_config(layer))
    assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


@settings(max_examples=25, deadline=None)
@given(
    rank=st.sampled_from([1, 2]),
    size=st.integers(1, 9),
    pool=st.integers(1, 4),
    stride=st.none() | st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
    kind=st.sampled_from(["max", "average"]),
)
def test_output_shape_matches_the_computed_shape(rank, size, pool, stride, padding, kind):
    classes = {
        ("max", 1): MaxPooling1D,
        ("max", 2): MaxPooling2D,
        ("average", 1): AveragePooling1D,
        ("average", 2): AveragePooling2D,
    }
    layer = classes[kind, rank](pool, strides=stride, padding=padding)
    shape = (size,) * rank + (2,)
    if padding == "valid" and pool > size:
        with pytest.raises(ValueError, match="larger than"):
            layer.output_shape(shape)
        return
    out = jax.eval_shape(
        lambda x: layer.apply({}, x), jax.ShapeDtypeStruct((3, *shape), jnp.float32)
    )
    assert out.shape == (3, *layer.output_shape(shape))
    s = stride or pool
    expected = -(-size // s) if padding == "same" else (size - pool) // s + 1
    assert layer.output_shape(shape) == (expected,) * rank + (2,)
