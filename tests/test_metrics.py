import jax.numpy as jnp
import numpy as np
import pytest

from fnn import metrics


@pytest.mark.parametrize(
    "loss,expected",
    [
        ("categorical_crossentropy", metrics.categorical_accuracy),
        ("sparse_categorical_crossentropy", metrics.sparse_categorical_accuracy),
        ("binary_crossentropy", metrics.binary_accuracy),
    ],
)
def test_accuracy_resolves_from_the_loss(loss, expected):
    for name in ("accuracy", "acc"):
        m = metrics.get(name, loss=loss)
        assert m.fn is expected and m.name == name


def test_accuracy_for_single_unit_regression_is_binary():
    assert metrics.get("accuracy", loss="mse", output_units=1).fn is metrics.binary_accuracy


def test_metric_values():
    onehot = jnp.array([[0, 1, 0], [1, 0, 0]], jnp.float32)
    pred = jnp.array([[0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    np.testing.assert_allclose(metrics.categorical_accuracy(onehot, pred), [1, 0])
    np.testing.assert_allclose(metrics.sparse_categorical_accuracy(jnp.array([1, 0]), pred), [1, 0])
    np.testing.assert_allclose(
        metrics.binary_accuracy(jnp.array([[1.0], [0.0]]), jnp.array([[0.7], [0.6]])), [1, 0]
    )
    np.testing.assert_allclose(metrics.top_k_categorical_accuracy(onehot, pred, k=1), [1, 0])
    np.testing.assert_allclose(metrics.top_k_categorical_accuracy(onehot, pred, k=2), [1, 1])
    np.testing.assert_allclose(metrics.get("mse").fn(jnp.ones((1, 2)), jnp.zeros((1, 2))), [1.0])
    np.testing.assert_allclose(metrics.get("mae").fn(jnp.ones((1, 2)), 3 * jnp.ones((1, 2))), [2.0])


def test_callable_metric_takes_its_function_name():
    def my_metric(y, p):
        return jnp.zeros(y.shape[0])

    assert metrics.get(my_metric).name == "my_metric"


def test_metric_list_rejects_duplicates_and_bad_types():
    with pytest.raises(ValueError, match="distinct"):
        metrics.get_list(["mse", "mse"])
    with pytest.raises(TypeError, match="metrics"):
        metrics.get_list(3)
