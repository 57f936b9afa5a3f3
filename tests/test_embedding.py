"""Embedding: lookups against NumPy indexing, gradients, id checks, training and saving."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import fnn
from fnn.layers import Dense, Embedding, GlobalAveragePooling1D, layer_from_config, layer_to_config
from fnn.models import Sequential, load_model


def test_lookup_matches_numpy_indexing_for_int_and_float_ids():
    emb = Embedding(7, 3)
    params = emb.init(jax.random.key(0), (4,))
    table = np.asarray(params["embeddings"])
    ids = np.array([[0, 6, 2, 2], [5, 1, 3, 4]])
    for x in (jnp.asarray(ids), jnp.asarray(ids, jnp.float32)):
        np.testing.assert_array_equal(emb.apply(params, x), table[ids])
    assert emb.output_shape((4,)) == (4, 3) and emb.output_shape(()) == (3,)


def test_default_initializer_is_keras_uniform():
    table = np.asarray(Embedding(500, 40).init(jax.random.key(0), (1,))["embeddings"])
    assert table.shape == (500, 40)
    assert -0.05 <= table.min() < -0.049 and 0.049 < table.max() <= 0.05


def test_out_of_range_ids_give_nan_rows_not_another_row():
    emb = Embedding(4, 2, embeddings_initializer="ones")
    y = emb.apply(emb.init(jax.random.key(0), (3,)), jnp.array([[1, 4, -1]]))
    assert np.isfinite(y[0, 0]).all() and np.isnan(y[0, 1:]).all()


def test_gradient_is_the_count_weighted_sum_of_upstream_rows():
    emb = Embedding(5, 2)
    params = emb.init(jax.random.key(0), (3,))
    ids = jnp.array([[1, 3, 1], [0, 1, 4]])
    w = jax.random.normal(jax.random.key(1), (2, 3, 2))
    grad = jax.grad(lambda p: jnp.sum(emb.apply(p, ids) * w))(params)["embeddings"]
    expected = np.zeros((5, 2))
    np.add.at(expected, np.asarray(ids).ravel(), np.asarray(w).reshape(-1, 2))
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_check_ids_names_the_first_bad_id_and_its_row():
    emb = Embedding(10, 2, name="tokens")
    emb.check_ids(np.array([[0, 9], [3, 4]]))
    emb.check_ids(np.array([[0.0, 9.0]], np.float32))
    with pytest.raises(ValueError, match=r"x holds id 10 at row 2 \(index \(2, 0\)\).*\[0, 9\]"):
        emb.check_ids(np.array([[0, 1], [2, 3], [10, 11]]))
    with pytest.raises(ValueError, match=r"ids holds id -1 at row 0"):
        emb.check_ids([[-1]], argument="ids")
    with pytest.raises(ValueError, match=r"holds 1\.5 at row 1 .*whole-number ids"):
        emb.check_ids(np.array([[1.0], [1.5]]))
    with pytest.raises(ValueError, match="holds nan at row 0"):
        emb.check_ids(np.array([[np.nan]]))
    with pytest.raises(TypeError, match=r"integer ids .* dtype <U1"):
        emb.check_ids(np.array([["a"]]))


def test_bad_arguments():
    with pytest.raises(ValueError, match="mask_zero=True is not supported"):
        Embedding(10, 2, mask_zero=True)
    with pytest.raises(ValueError, match="input_dim must be a positive int"):
        Embedding(0, 2)
    with pytest.raises(ValueError, match="Unknown initializer"):
        Embedding(3, 2, embeddings_initializer="unifrom")


def test_config_round_trip_and_regularizer():
    emb = Embedding(6, 3, embeddings_regularizer="l1", input_shape=4, name="e")
    clone = layer_from_config(layer_to_config(emb))
    assert type(clone) is Embedding and clone.get_config() == emb.get_config()
    np.testing.assert_allclose(emb.regularization_loss({"embeddings": -jnp.ones((6, 3))}), 0.18)


def test_bag_of_tokens_model_trains_saves_and_loads(tmp_path):
    # label: whether token 1 occurs in the sequence
    rng = np.random.default_rng(0)
    x = rng.integers(2, 20, size=(512, 6))
    y = rng.integers(0, 2, size=512)
    x[y == 1, rng.integers(0, 6, size=int(y.sum()))] = 1
    model = Sequential(
        [Embedding(20, 8, input_shape=6), GlobalAveragePooling1D(), Dense(2, activation="softmax")],
        seed=0,
    )
    model.compile(fnn.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
    assert [w.shape for w in model.get_weights()] == [(20, 8), (8, 2), (2,)]
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] > 0.95
    model.save(tmp_path / "emb.fnn")
    loaded = load_model(tmp_path / "emb.fnn")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_mixed_precision_does_not_cast_the_ids():
    from fnn.layers import Serial

    emb = Embedding(1000, 2)
    net = Serial([emb, Dense(1)], compute_dtype=jnp.bfloat16)
    params = net.init(jax.random.key(0), (1,))
    ids = jnp.array([[999.0], [257.0]])  # not representable in bfloat16
    y = net.apply(params, ids)
    table, dense = params[0]["embeddings"], params[1]
    expected = table[jnp.array([999, 257])] @ dense["kernel"] + dense["bias"]
    assert y.dtype == jnp.float32
    np.testing.assert_allclose(y[:, 0, 0], expected[:, 0], rtol=2e-2, atol=1e-3)
