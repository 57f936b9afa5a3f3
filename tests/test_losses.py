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
