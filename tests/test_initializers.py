"""fnn.initializers: Keras's classes, their statistics, configs, pickling and default dtype."""

import json
import pickle
import subprocess
import sys

import jax
import numpy as np
import pytest

from fnn import initializers

KEY = jax.random.key(0)
SHAPE = (400, 300)  # fan_in 400, fan_out 300


@pytest.mark.parametrize(
    "init,std",
    [
        (initializers.RandomNormal(mean=1.0, stddev=0.3), 0.3),
        (initializers.RandomUniform(-0.2, 0.4), 0.6 / np.sqrt(12)),
        (initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal"), np.sqrt(2 / 300)),
        (initializers.VarianceScaling(3.0, "fan_avg", "uniform"), np.sqrt(3 / 350)),
        (initializers.VarianceScaling(), np.sqrt(1 / 400)),  # truncated, corrected to the target
        (initializers.GlorotUniform(), np.sqrt(2 / 700)),
        (initializers.HeNormal(), np.sqrt(2 / 400)),
        (initializers.LecunUniform(), np.sqrt(1 / 400)),
    ],
)
def test_statistics_follow_the_closed_forms(init, std):
    w = np.asarray(init(KEY, SHAPE))
    assert w.shape == SHAPE and w.dtype == np.float32
    assert w.std() == pytest.approx(std, rel=0.02)


def test_truncated_normal_and_constant_and_orthogonal():
    w = np.asarray(initializers.TruncatedNormal(mean=2.0, stddev=0.5)(KEY, SHAPE))
    assert w.min() >= 1.0 and w.max() <= 3.0 and w.mean() == pytest.approx(2.0, abs=0.01)
    np.testing.assert_array_equal(initializers.Constant(0.5)(KEY, (2, 2)), np.full((2, 2), 0.5))
    q = np.asarray(initializers.Orthogonal(gain=2.0)(KEY, (6, 4)))
    np.testing.assert_allclose(q.T @ q, 4.0 * np.eye(4), atol=1e-5)
    np.testing.assert_array_equal(initializers.Identity()(KEY, (2, 3)), np.eye(2, 3))


def test_seed_fixes_the_values_whatever_the_key():
    init = initializers.RandomNormal(seed=3)
    np.testing.assert_array_equal(init(KEY, (3,)), init(jax.random.key(9), (3,)))


def test_configs_round_trip_through_json_and_pickle():
    for cls in initializers.INITIALIZER_CLASSES.values():
        init = cls()
        config = json.loads(json.dumps(initializers.serialize(init)))
        assert initializers.get(config) == init
        assert pickle.loads(pickle.dumps(init)) == init
    assert initializers.serialize("he_normal") == "he_normal"
    assert initializers.serialize(initializers.get("zeros")) == "zeros"
    with pytest.raises(ValueError, match="Unknown initializer class"):
        initializers.get({"class_name": "Evil", "config": {}})
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="stddev"):
        initializers.RandomNormal(stddev=-1.0)
    with pytest.raises(ValueError, match="bad config"):
        initializers.get({"class_name": "Constant", "config": {"val": 1.0}})


def test_default_dtype_follows_jax_x64():
    code = (
        "import jax; jax.config.update('jax_enable_x64', True)\n"
        "from fnn import initializers as i\n"
        "k = jax.random.key(0)\n"
        "print(i.zeros(k, (2,)).dtype, i.get('glorot_uniform')(k, (2, 2)).dtype, "
        "i.HeNormal()(k, (2, 2)).dtype, i.RandomNormal()(k, (2,), 'float32').dtype)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float64", "float64", "float64", "float32"]


@pytest.mark.parametrize("name", ["glorot_uniform", "he_uniform", "lecun_uniform"])
def test_variance_scaling_takes_keras_fans_for_1d_and_scalar_shapes(name):
    # Keras's compute_fans: (n,) has fan_in = fan_out = n, () has both 1; so every mode
    # divides by the same fan and the uniform limit is sqrt(3 * scale / fan).
    scale = 2.0 if name.startswith("he") else 1.0
    for init in (initializers.get(name), initializers.get(initializers.serialize(name))):
        w = np.asarray(init(KEY, (20000,)))
        assert w.shape == (20000,) and w.dtype == np.float32
        limit = np.sqrt(3 * scale / 20000)
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
        assert w.std() == pytest.approx(np.sqrt(scale / 20000), rel=0.02)
        s = np.asarray(init(KEY, ()))
        assert s.shape == () and abs(float(s)) <= np.sqrt(3 * scale)


@pytest.mark.parametrize(
    "cls", [initializers.GlorotNormal, initializers.HeNormal, initializers.LecunNormal]
)
def test_variance_scaling_classes_accept_1d_and_scalar_shapes(cls):
    init = cls()
    std = np.sqrt(init.scale / 20000)
    w = np.asarray(init(KEY, (20000,)))
    assert w.shape == (20000,) and w.std() == pytest.approx(std, rel=0.02)
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6  # truncated at 2 stddevs
    for mode in ("fan_in", "fan_out", "fan_avg"):
        vs = initializers.VarianceScaling(3.0, mode, "untruncated_normal")
        assert np.asarray(vs(KEY, (20000,))).std() == pytest.approx(np.sqrt(3 / 20000), rel=0.02)
        assert vs(KEY, ()).shape == ()


def test_variance_scaling_kernels_keep_jax_values():
    # Rank >= 2 keeps JAX's draws exactly (saved seeds reproduce the same weights).
    for shape in [(5, 3), (3, 3, 4, 6)]:
        np.testing.assert_array_equal(
            initializers.get("glorot_uniform")(KEY, shape),
            jax.nn.initializers.glorot_uniform()(KEY, shape),
        )
        np.testing.assert_array_equal(
            initializers.HeNormal()(KEY, shape), jax.nn.initializers.he_normal()(KEY, shape)
        )


@pytest.mark.parametrize("seed", [1.5, "3", True, [1]])
def test_a_seed_of_the_wrong_type_is_a_type_error(seed):
    for cls in (initializers.RandomNormal, initializers.GlorotUniform, initializers.Orthogonal):
        with pytest.raises(TypeError, match=r"seed"):
            cls(seed=seed)


def test_a_seed_out_of_range_is_a_value_error_and_numpy_ints_are_taken():
    with pytest.raises(ValueError, match=r"RandomUniform\(seed=\.\.\.\) must be an int in"):
        initializers.RandomUniform(seed=-1)
    with pytest.raises(ValueError, match="seed"):
        initializers.HeNormal(seed=2**32)
    init = initializers.RandomNormal(seed=np.int64(3))
    assert type(init.seed) is int and init == initializers.RandomNormal(seed=3)
    np.testing.assert_array_equal(init(KEY, (3,)), initializers.RandomNormal(seed=3)(KEY, (3,)))
