"""fnn.export: jax.export artifacts, deserialized in a process that never imports fnn."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fnn
from fnn.export import export_model
from fnn.layers import BatchNormalization, Dense, Dropout


def trained_model():
    model = fnn.Sequential(
        [
            Dense(16, activation="relu", input_shape=6),
            BatchNormalization(),
            Dropout(0.5),
            Dense(4, activation="softmax"),
        ],
        seed=3,
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(64, 6)), np.eye(4)[rng.integers(0, 4, 64)], epochs=2, verbose=0)
    return model


def run_without_fnn(path, inputs, tmp_path):
    """Deserialize ``path`` in a fresh process that imports only jax and numpy; return outputs."""
    np.savez(tmp_path / "inputs.npz", *inputs)
    code = textwrap.dedent(
        f"""
        import sys
        import jax, numpy as np
        with open({os.fspath(path)!r}, "rb") as f:
            exported = jax.export.deserialize(bytearray(f.read()))
        inputs = np.load({os.fspath(tmp_path / "inputs.npz")!r})
        outs = [np.asarray(exported.call(inputs[k])) for k in sorted(inputs.files, key=lambda k: int(k.split("_")[1]))]
        assert not any(m == "fnn" or m.startswith("fnn.") for m in sys.modules), "fnn was imported"
        np.savez({os.fspath(tmp_path / "outputs.npz")!r}, *outs)
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = np.load(tmp_path / "outputs.npz")
    return [out[f"arr_{i}"] for i in range(len(inputs))]


def test_symbolic_batch_same_predictions_without_fnn(tmp_path):
    model = trained_model()
    path = tmp_path / "model.jax"
    exported = export_model(model, path)
    assert str(exported.in_avals[0].shape[0]) == "batch"
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(n, 6)).astype(np.float32) for n in (1, 7, 32, 100)]
    outputs = run_without_fnn(path, inputs, tmp_path)
    for x, y in zip(inputs, outputs):
        assert y.shape == (len(x), 4)
        np.testing.assert_allclose(y, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_fixed_batch_size_and_errors(tmp_path):
    model = trained_model()
    exported = export_model(model, batch_size=8)
    assert exported.in_avals[0].shape == (8, 6)
    x = np.ones((8, 6), np.float32)
    np.testing.assert_allclose(exported.call(x), model.predict(x, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match="batch_size"):
        export_model(model, batch_size=0)
    with pytest.raises(TypeError, match="path"):
        export_model(model, 3)
    with pytest.raises(ValueError, match="member"):
        export_model(model, member=0)
    with pytest.raises(ValueError, match="built"):
        export_model(fnn.Sequential([Dense(2)]))


@pytest.mark.parametrize("batch_size", [8.0, "8", True, [8]])
def test_a_batch_size_of_the_wrong_type_is_a_type_error(batch_size):
    model = fnn.Sequential([Dense(2, input_shape=3)])
    with pytest.raises(TypeError, match=r"batch_size must be None .* or a positive int, got"):
        export_model(model, batch_size=batch_size)
    assert export_model(model, batch_size=np.int64(4)).in_avals[0].shape == (4, 3)


def test_population_member_and_stacked(tmp_path):
    model = fnn.Sequential([Dense(5, activation="tanh", input_shape=3), Dense(2)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    pop = fnn.Population(model, size=3)
    x = np.random.default_rng(2).normal(size=(9, 3)).astype(np.float32)
    pop.fit(x, np.zeros((9, 2)), epochs=1, verbose=0)
    expected = pop.predict(x, verbose=0)  # (3, 9, 2)
    stacked = export_model(pop, tmp_path / "pop.jax")
    one = export_model(pop, tmp_path / "one.jax", member=1)
    assert stacked.out_avals[0].shape[0] == 3
    (got_stacked,) = run_without_fnn(tmp_path / "pop.jax", [x], tmp_path)
    np.testing.assert_allclose(got_stacked, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.call(x), expected[1], rtol=1e-5, atol=1e-6)
