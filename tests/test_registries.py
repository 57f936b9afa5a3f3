"""Every registered name resolves to something that works; unknown names fail clearly."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from fnn import activations, initializers, metrics, optimizers

ACTIVATIONS = [
    "sigmoid",
    "relu",
    "tanh",
    "softmax",
    "log_softmax",
    "linear",
    "gelu",
    "elu",
    "selu",
    "leaky_relu",
    "softplus",
    "silu",
    "swish",
]
INITIALIZERS = [
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_normal",
    "lecun_uniform",
    "zeros",
    "ones",
    "random_normal",
    "random_uniform",
]


def test_required_names_are_registered():
    assert set(ACTIVATIONS) <= set(activations.registry.names())
    assert set(INITIALIZERS) <= set(initializers.registry.names())
    assert {"sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam"} <= set(
        optimizers.registry.names()
    )


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activations_are_elementwise_and_correct(name):
    x = jnp.linspace(-3, 3, 12).reshape(3, 4)
    y = activations.get(name)(x)
    assert y.shape == x.shape and np.isfinite(y).all()
    reference = {
        "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
        "relu": lambda v: np.maximum(v, 0),
        "tanh": np.tanh,
        "linear": lambda v: v,
        "softplus": lambda v: np.log1p(np.exp(v)),
        "silu": lambda v: v / (1 + np.exp(-v)),
        "swish": lambda v: v / (1 + np.exp(-v)),
        "leaky_relu": lambda v: np.where(v > 0, v, 0.2 * v),
        "elu": lambda v: np.where(v > 0, v, np.exp(v) - 1),
        "softmax": lambda v: np.exp(v) / np.exp(v).sum(-1, keepdims=True),
        "log_softmax": lambda v: v - np.log(np.exp(v).sum(-1, keepdims=True)),
    }
    if name in reference:
        np.testing.assert_allclose(y, reference[name](np.asarray(x)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", INITIALIZERS)
def test_initializers_shapes_and_statistics(name):
    w = initializers.get(name)(jax.random.key(0), (200, 100), jnp.float32)
    assert w.shape == (200, 100) and w.dtype == jnp.float32
    if name == "zeros":
        assert float(jnp.abs(w).max()) == 0
    elif name == "ones":
        assert float(w.min()) == 1
    else:
        assert abs(float(w.mean())) < 0.01
        fan_in, fan_out = 200, 100
        expected_std = {
            "glorot_uniform": np.sqrt(2 / (fan_in + fan_out)),
            "glorot_normal": np.sqrt(2 / (fan_in + fan_out)),
            "he_uniform": np.sqrt(2 / fan_in),
            "he_normal": np.sqrt(2 / fan_in),
            "lecun_uniform": np.sqrt(1 / fan_in),
            "lecun_normal": np.sqrt(1 / fan_in),
            "random_normal": 0.05,
            "random_uniform": 0.05 / np.sqrt(3),
        }[name]
        np.testing.assert_allclose(float(w.std()), expected_std, rtol=0.1)


@pytest.mark.parametrize(
    "name,lr",
    [
        ("sgd", 0.01),
        ("adam", 0.001),
        ("adamw", 0.001),
        ("rmsprop", 0.001),
        ("adagrad", 0.001),
        ("nadam", 0.001),
    ],
)
def test_optimizers_have_keras_default_learning_rates_and_descend(name, lr):
    opt = optimizers.get(name)
    params = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(params)
    np.testing.assert_allclose(optimizers.learning_rate(state), lr, rtol=1e-6)
    grads = jax.grad(lambda p: jnp.sum(p["w"] ** 2))(params)
    updates, state = opt.update(grads, state, params)
    new = optax.apply_updates(params, updates)
    assert float(jnp.sum(new["w"] ** 2)) < float(jnp.sum(params["w"] ** 2))


def test_sgd_step_is_learning_rate_times_gradient():
    opt = optimizers.SGD(learning_rate=0.1)
    params = {"w": jnp.array(3.0)}
    updates, _ = opt.update({"w": jnp.array(2.0)}, opt.init(params), params)
    np.testing.assert_allclose(updates["w"], -0.2, rtol=1e-6)


def test_learning_rate_can_be_set_in_the_state():
    opt = optimizers.get("adam")
    state = optimizers.set_learning_rate(opt.init({"w": jnp.zeros(2)}), 0.5)
    np.testing.assert_allclose(optimizers.learning_rate(state), 0.5)


def test_optax_transformations_and_schedules_pass_through():
    chain = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1))
    assert optimizers.get(chain) is chain
    sched = optimizers.Adam(learning_rate=optax.exponential_decay(0.1, 10, 0.5))
    sched.init({"w": jnp.zeros(1)})


@pytest.mark.parametrize(
    "registry_get,bad,good",
    [
        (activations.get, "rleu", "relu"),
        (initializers.get, "glorot_unifrom", "glorot_uniform"),
        (optimizers.get, "adma", "adam"),
        (metrics.get, "accuracyy", "accuracy"),
    ],
)
def test_unknown_names_raise_value_error_with_choices(registry_get, bad, good):
    with pytest.raises(ValueError) as err:
        registry_get(bad)
    assert repr(bad) in str(err.value) and good in str(err.value)


def test_non_names_raise_type_error():
    with pytest.raises(TypeError, match="activation"):
        activations.get(3)
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.get(0.1)


def test_register_custom_activation():
    def cube(x):
        return x**3

    activations.register("test_cube", cube, overwrite=True)
    assert activations.get("TEST_CUBE") is cube
    assert activations.serialize(cube) == "test_cube"
    with pytest.raises(ValueError, match="already registered"):
        activations.register("test_cube", lambda x: x)
