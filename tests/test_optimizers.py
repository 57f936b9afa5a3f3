"""fnn.optimizers against Keras 3's optimizers step by step, and the checks at construction."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fnn import optimizers

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras

W0 = np.array([[0.5, -1.5, 2.0], [3.0, 0.0, -0.25]], np.float32)
TARGET = np.array([[1.0, 1.0, -1.0], [0.0, 2.0, 0.5]], np.float32)


def grad(w):
    return 2.0 * (w - TARGET) * np.array([[1.0, 10.0, 0.1], [5.0, 1.0, 0.01]], np.float32)


def run_fnn(tx, steps):
    params = {"w": jnp.asarray(W0)}
    state = tx.init(params)
    update = jax.jit(tx.update)
    for _ in range(steps):
        g = {"w": jnp.asarray(grad(np.asarray(params["w"])))}
        updates, state = update(g, state, params)
        params = optax.apply_updates(params, updates)
    return np.asarray(params["w"]), state


def run_keras(opt, steps):
    var = keras.Variable(W0)
    for _ in range(steps):
        opt.apply_gradients([(grad(np.asarray(var.value)), var)])
    return np.asarray(var.value)


CASES = [
    ("SGD", {"learning_rate": 0.05}),
    ("SGD", {"learning_rate": 0.02, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.1, "epsilon": 0.5}),
    ("Adam", {"learning_rate": 0.1, "amsgrad": True, "clipnorm": 1.0}),
    ("AdamW", {"learning_rate": 0.1, "epsilon": 0.5, "weight_decay": 0.3}),
    ("Nadam", {"learning_rate": 0.1}),
    ("Nadam", {"learning_rate": 0.05, "epsilon": 0.3, "global_clipnorm": 2.0}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "clipvalue": 0.5}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1, "weight_decay": 0.01}),
    ("Adam", {"learning_rate": 0.1, "gradient_accumulation_steps": 2}),
    ("SGD", {"learning_rate": 0.1, "use_ema": True, "ema_overwrite_frequency": 3}),
]


@pytest.mark.parametrize("name,kwargs", CASES)
def test_steps_match_keras(name, kwargs):
    ours, _ = run_fnn(getattr(optimizers, name)(**kwargs), 6)
    theirs = run_keras(getattr(keras.optimizers, name)(**kwargs), 6)
    np.testing.assert_allclose(ours, theirs, rtol=2e-5, atol=2e-6)


def test_ema_average_matches_keras_and_is_readable():
    ours, state = run_fnn(optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5), 4)
    opt = keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5)
    var = keras.Variable(W0)
    for _ in range(4):
        opt.apply_gradients([(grad(np.asarray(var.value)), var)])
    np.testing.assert_allclose(ours, np.asarray(var.value), rtol=1e-6)
    opt.finalize_variable_values([var])
    ema = optimizers.ema_weights(state)["w"]
    np.testing.assert_allclose(ema, np.asarray(var.value), rtol=1e-5, atol=1e-6)
    assert optimizers.ema_weights(optimizers.SGD().init({"w": W0})) is None


def test_nadam_first_step_is_keras_not_optax():
    ours, _ = run_fnn(optimizers.Nadam(0.1), 1)
    optax_nadam, _ = run_fnn(optax.nadam(0.1, eps=1e-7), 1)
    theirs = run_keras(keras.optimizers.Nadam(0.1), 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert not np.allclose(optax_nadam, theirs, rtol=1e-3)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Nadam"])
def test_learning_rate_stays_injectable_and_serialize_round_trips(name):
    kwargs = {
        "clipnorm": 1.0,
        "use_ema": True,
        "gradient_accumulation_steps": 3,
        "weight_decay": 0.01,
    }
    tx = getattr(optimizers, name)(0.02, **kwargs)
    state = tx.init({"w": jnp.ones(2)})
    assert optimizers.learning_rate(state) == pytest.approx(0.02)
    state = optimizers.set_learning_rate(state, 0.5)
    assert optimizers.learning_rate(state) == pytest.approx(0.5)
    config = optimizers.serialize(tx)
    assert config["config"]["gradient_accumulation_steps"] == 3
    again = optimizers.deserialize(config)
    assert optimizers.serialize(again) == config
    assert jax.tree_util.tree_structure(
        again.init({"w": jnp.ones(2)})
    ) == jax.tree_util.tree_structure(tx.init({"w": jnp.ones(2)}))


@pytest.mark.parametrize(
    "call,error,argument",
    [
        (lambda: optimizers.Adam(learning_rate="0.01"), TypeError, "learning_rate"),
        (lambda: optimizers.SGD(float("nan")), ValueError, "learning_rate"),
        (lambda: optimizers.SGD(-0.1), ValueError, "learning_rate"),
        (lambda: optimizers.Adam(beta_1=1.5), ValueError, "beta_1"),
        (lambda: optimizers.Nadam(beta_2=1.0), ValueError, "beta_2"),
        (lambda: optimizers.SGD(momentum=1.5), ValueError, "momentum"),
        (lambda: optimizers.SGD(momentum=-0.1), ValueError, "momentum"),
        (lambda: optimizers.AdamW(weight_decay=None), ValueError, "weight_decay"),
        (lambda: optimizers.Adam(weight_decay=-1.0), ValueError, "weight_decay"),
        (lambda: optimizers.Adam(clipnorm=1.0, clipvalue=1.0), ValueError, "only one"),
        (
            lambda: optimizers.Adam(gradient_accumulation_steps=1),
            ValueError,
            "gradient_accumulation",
        ),
        (lambda: optimizers.Adam(amsgrad="yes"), TypeError, "amsgrad"),
        (lambda: optimizers.RMSprop(rho=2.0), ValueError, "rho"),
        (lambda: optimizers.Adam(betta_1=0.9), TypeError, "beta_1"),
    ],
)
def test_hyperparameters_are_checked_at_construction(call, error, argument):
    with pytest.raises(error, match=argument):
        call()


def test_schedules_and_numpy_scalars_are_accepted():
    optimizers.Adam(learning_rate=optax.exponential_decay(0.1, 10, 0.5))
    optimizers.SGD(np.float32(0.1), momentum=np.float64(0.9))
    assert math.isclose(
        optimizers.learning_rate(optimizers.SGD(jnp.float32(0.3)).init({})), 0.3, rel_tol=1e-6
    )


@pytest.mark.parametrize("config", [["Adam", {}], 3, "adam", None])
def test_deserialize_of_a_non_dict_is_a_type_error_naming_config(config):
    with pytest.raises(TypeError, match=r"config must be a dict \{'class_name'.*got"):
        optimizers.deserialize(config)
