"""Weight penalties reach the loss fit reports and the gradient it descends."""

import jax
import numpy as np
import pytest

from fnn import regularizers
from fnn.layers import Dense
from fnn.models import Sequential


def linear_model(kernel_regularizer, bias_regularizer=None):
    model = Sequential(
        [
            Dense(
                2,
                input_shape=3,
                kernel_initializer="random_normal",
                bias_initializer="ones",
                kernel_regularizer=kernel_regularizer,
                bias_regularizer=bias_regularizer,
            )
        ],
        seed=1,
    )
    model.compile(optimizer="sgd", loss="mse")  # SGD, learning rate 0.01
    return model


@pytest.mark.parametrize(
    ("kernel_reg", "bias_reg"),
    [("l2", None), (regularizers.L1(0.1), "l1_l2"), (regularizers.l1_l2(0.2, 0.3), "l2")],
)
def test_penalty_in_the_reported_loss_and_the_update(kernel_reg, bias_reg):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    t = rng.normal(size=(16, 2)).astype(np.float32)
    model = linear_model(kernel_reg, bias_reg)
    W, b = (np.asarray(w, np.float64) for w in model.get_weights())
    kr, br = regularizers.get(kernel_reg), regularizers.get(bias_reg)

    def penalty(reg, w):
        return reg.l1 * np.abs(w).sum() + reg.l2 * (w**2).sum()

    def penalty_grad(reg, w):
        return reg.l1 * np.sign(w) + 2 * reg.l2 * w

    r = x @ W + b - t
    expected_loss = np.mean(r**2) + penalty(kr, W) + (penalty(br, b) if br else 0.0)
    # one full-batch step: the reported loss is the one before the update
    h = model.fit(x, t, batch_size=16, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(h.history["loss"][0], expected_loss, rtol=1e-5)
    grad_W = 2 * x.T @ r / r.size + penalty_grad(kr, W)
    grad_b = 2 * r.sum(0) / r.size + (penalty_grad(br, b) if br else 0.0)
    W1, b1 = model.get_weights()
    np.testing.assert_allclose(W1, W - 0.01 * grad_W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b1, b - 0.01 * grad_b, rtol=1e-5, atol=1e-6)


def test_evaluate_includes_the_penalty_too():
    x = np.ones((4, 3), np.float32)
    plain, reg = linear_model(None), linear_model(regularizers.L2(0.5))
    t = plain.predict(x, verbose=0)
    assert plain.evaluate(x, t, verbose=0) == pytest.approx(0.0, abs=1e-10)
    W = np.asarray(reg.get_weights()[0], np.float64)
    assert reg.evaluate(x, t, verbose=0) == pytest.approx(0.5 * (W**2).sum(), rel=1e-5)
    assert float(reg.net.regularization_loss(reg.params)) == pytest.approx(
        float(jax.numpy.sum(reg.params[0]["kernel"] ** 2) * 0.5), rel=1e-6
    )


def test_l1_l2_defaults_are_keras_3s_zeros():
    assert regularizers.l1_l2() == regularizers.L1L2(0.0, 0.0)
    assert regularizers.l1_l2(l2=1e-4).l1 == 0.0  # no hidden L1 penalty
    assert regularizers.get("l1_l2") == regularizers.L1L2(0.0, 0.0)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
@pytest.mark.parametrize("factory", [regularizers.L1, regularizers.L2, regularizers.l1_l2])
def test_negative_or_nan_factors_are_refused(factory, bad):
    with pytest.raises(ValueError, match="finite number >= 0"):
        factory(bad)


def test_non_number_factor_is_a_type_error():
    with pytest.raises(TypeError, match="l2"):
        regularizers.L2("0.1")


def test_keras_dict_form_works_and_other_dicts_are_refused():
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.1}}) == regularizers.L2(0.1)
    assert regularizers.get({"class_name": "L1L2", "config": {"l1": 0.2, "l2": 0.1}}) == (
        regularizers.L1L2(0.2, 0.1)
    )
    assert regularizers.get({"l1": 0.3}) == regularizers.L1(0.3)
    with pytest.raises(ValueError, match="regularizer dict"):
        regularizers.get({"L2": 0.1})
    with pytest.raises(ValueError, match="Unknown regularizer class"):
        regularizers.get({"class_name": "OrthogonalRegularizer", "config": {}})
    with pytest.raises(ValueError, match="unknown keys"):
        regularizers.get({"class_name": "L2", "config": {"l1": 0.1}})
