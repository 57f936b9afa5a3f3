import jax
import jax.numpy as jnp
import numpy as np
import pytest

from fnn import losses


def test_every_loss_name_resolves_and_returns_per_example_values():
    y2 = jnp.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    p2 = jnp.array([[0.3, 0.7], [0.6, 0.4], [0.9, 0.1]])
    for name in losses.registry.names():
        loss = losses.get(name)
        y = jnp.array([1, 0, 0]) if "sparse" in name else y2
        per = loss.call(y, p2)
        assert per.shape == (3,), name
        assert np.all(np.isfinite(per)), name
        np.testing.assert_allclose(loss(y, p2), jnp.mean(per), rtol=1e-6)


def test_closed_forms():
    y = jnp.array([[1.0, 2.0]])
    p = jnp.array([[3.0, 0.0]])
    np.testing.assert_allclose(losses.get("mse").call(y, p), [(4 + 4) / 2])
    np.testing.assert_allclose(losses.get("mae").call(y, p), [2.0])
    # huber, delta 1: both errors are 2 -> 0.5 + 1 * (2 - 1) = 1.5
    np.testing.assert_allclose(losses.Huber().call(y, p), [1.5])
    np.testing.assert_allclose(losses.Huber(delta=3.0).call(y, p), [2.0])
    onehot = jnp.array([[0.0, 1.0, 0.0]])
    probs = jnp.array([[0.2, 0.5, 0.3]])
    np.testing.assert_allclose(
        losses.get("categorical_crossentropy").call(onehot, probs), [-np.log(0.5)], rtol=1e-6
    )
    np.testing.assert_allclose(
        losses.get("sparse_categorical_crossentropy").call(jnp.array([1]), probs),
        [-np.log(0.5)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.get("binary_crossentropy").call(jnp.array([[1.0, 0.0]]), jnp.array([[0.8, 0.4]])),
        [-(np.log(0.8) + np.log(0.6)) / 2],
        rtol=1e-6,
    )


@pytest.mark.parametrize("logit", [1e3, 1e4, 3e38])
def test_cross_entropy_from_logits_is_exact_and_finite_at_extremes(logit):
    # a confident wrong prediction: the loss is exactly the logit gap, not a clipped constant
    z = jnp.array([[logit, 0.0]])
    cce = losses.CategoricalCrossentropy(from_logits=True).call(jnp.array([[0.0, 1.0]]), z)
    assert np.isfinite(cce).all()
    np.testing.assert_allclose(cce, [logit], rtol=1e-6)
    scce = losses.SparseCategoricalCrossentropy(from_logits=True).call(jnp.array([1]), z)
    np.testing.assert_allclose(scce, [logit], rtol=1e-6)
    bce = losses.BinaryCrossentropy(from_logits=True).call(jnp.array([[0.0]]), jnp.array([[logit]]))
    np.testing.assert_allclose(bce, [logit], rtol=1e-6)
    grads = jax.grad(
        lambda z: losses.CategoricalCrossentropy(from_logits=True)(jnp.array([[0.0, 1.0]]), z)
    )(z)
    assert np.isfinite(grads).all()


def test_logits_and_probabilities_agree_in_the_normal_range():
    z = jnp.array([[0.5, -1.0, 2.0]])
    y = jnp.array([[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(
        losses.CategoricalCrossentropy(from_logits=True).call(y, z),
        losses.CategoricalCrossentropy().call(y, jax.nn.softmax(z)),
        rtol=1e-5,
    )


def test_sample_weight_reduction_is_sum_over_batch_size():
    y, p = jnp.array([[0.0], [0.0]]), jnp.array([[1.0], [3.0]])
    np.testing.assert_allclose(losses.get("mse")(y, p, jnp.array([1.0, 0.0])), 0.5)


def test_unknown_loss_name_lists_choices_and_closest():
    with pytest.raises(ValueError, match="Did you mean 'categorical_crossentropy'") as err:
        losses.get("categorical_crossentropi")
    assert "mse" in str(err.value)
    with pytest.raises(TypeError, match="loss must be"):
        losses.get(3)


def test_callable_losses_and_serialization():
    def my_loss(y, p):
        return jnp.sum(jnp.abs(y - p), axis=-1)

    wrapped = losses.get(my_loss)
    np.testing.assert_allclose(wrapped.call(jnp.ones((2, 2)), jnp.zeros((2, 2))), [2.0, 2.0])
    with pytest.raises(ValueError, match="register"):
        losses.serialize(wrapped)
    losses.registry.register("test_my_loss", my_loss, overwrite=True)
    restored = losses.deserialize(losses.serialize(wrapped))
    assert restored.fn is my_loss
    cce = losses.CategoricalCrossentropy(from_logits=True)
    assert losses.deserialize(losses.serialize(cce)) == cce


# -- Keras fidelity (issue 13 points 1 and 2; reduction, label_smoothing, ignore_class) ------
import os  # noqa: E402

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

RNG = np.random.default_rng(1)
Y2 = RNG.normal(size=(2, 3)).astype(np.float32)
P2 = RNG.normal(size=(2, 3)).astype(np.float32)
ONEHOT = np.eye(3, dtype=np.float32)[[0, 2, 1, 2]]
PROBS = RNG.uniform(0.05, 1.0, size=(4, 3)).astype(np.float32)
PROBS /= PROBS.sum(-1, keepdims=True)


def _close(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("w_shape", [(2,), (2, 1)])
def test_sample_weight_column_is_aligned_not_broadcast_to_n_by_n(w_shape):
    w = np.array([1.0, 3.0], np.float32).reshape(w_shape)
    _close(losses.MeanSquaredError()(Y2, P2, w), keras.losses.MeanSquaredError()(Y2, P2, w))
    cw = np.array([0.5, 2.0, 1.0, 0.0], np.float32).reshape((4,) + w_shape[1:])
    _close(
        losses.CategoricalCrossentropy()(ONEHOT, PROBS, cw),
        keras.losses.CategoricalCrossentropy()(ONEHOT, PROBS, cw),
    )


def test_sample_weight_per_timestep_with_a_trailing_one():
    y = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    p = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    w = RNG.uniform(size=(2, 5, 1)).astype(np.float32)
    _close(losses.MeanSquaredError()(y, p, w), keras.losses.MeanSquaredError()(y, p, w))


@pytest.mark.parametrize(
    "reduction", ["sum", "sum_over_batch_size", "mean", "mean_with_sample_weight", None, "none"]
)
def test_reductions_match_keras(reduction):
    w = np.array([0.5, 3.0], np.float32)
    ours = losses.MeanAbsoluteError(reduction=reduction)
    theirs = keras.losses.MeanAbsoluteError(reduction=reduction)
    _close(ours(Y2, P2, w), theirs(Y2, P2, w))
    _close(ours(Y2, P2), theirs(Y2, P2))
    assert losses.deserialize(losses.serialize(ours)) == ours
    with pytest.raises(ValueError, match="reduction"):
        losses.MeanSquaredError(reduction="average")


def test_functions_align_a_trailing_axis_and_refuse_mismatched_shapes():
    y, p = np.array([1.0, 8.0, 11.0], np.float32), np.zeros((3, 1), np.float32)
    _close(losses.mean_squared_error(y, p), keras.losses.mean_squared_error(y, p))
    with pytest.raises(ValueError, match="same shape"):
        losses.binary_crossentropy(np.ones((3, 1)), np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="same shape"):
        losses.categorical_crossentropy(np.ones((3, 1)), np.full((3, 3), 0.5))
    with pytest.raises(ValueError, match="y_true"):
        losses.sparse_categorical_crossentropy(np.ones((3, 2)), np.full((3, 3), 0.5))


@pytest.mark.parametrize("from_logits", [False, True])
def test_label_smoothing_matches_keras(from_logits):
    _close(
        losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.2)(ONEHOT, PROBS),
        keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=0.2)(
            ONEHOT, PROBS
        ),
    )
    yb, pb = ONEHOT[:, :1], PROBS[:, :1]
    _close(
        losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=0.3)(yb, pb),
        keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=0.3)(yb, pb),
    )
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.BinaryCrossentropy(label_smoothing=1.5)


def test_ignore_class_matches_keras():
    labels = np.array([0, 2, -1, 1], np.int32)
    w = np.array([1.0, 2.0, 3.0, 0.5], np.float32)
    ours = losses.SparseCategoricalCrossentropy(ignore_class=-1)
    theirs = keras.losses.SparseCategoricalCrossentropy(ignore_class=-1)
    _close(ours(labels, PROBS), theirs(labels, PROBS))
    _close(ours(labels, PROBS, w), theirs(labels, PROBS, w))
    assert float(ours.call(labels, PROBS)[2]) == 0.0
