"""fnn.interop.keras: weights written by a real Keras 3 (JAX backend) give Keras's predictions."""

import os
import subprocess
import sys
import textwrap
import zipfile

import h5py
import numpy as np
import pytest

import fnn
from fnn.interop.keras import keras_key, load_keras_weights
from fnn.layers import BatchNormalization, Dense, Dropout, Input, LayerNormalization

KERAS_SCRIPT = """
import numpy as np, keras

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 5)).astype("float32")
y = np.eye(3)[rng.integers(0, 3, 64)]
# another model first, so that the layers' own names are not the keys (dense_2, ...)
keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model = keras.Sequential([
    keras.Input((5,)),
    keras.layers.Dense(8, activation="relu"),
    keras.layers.BatchNormalization(),
    keras.layers.Dropout(0.2),
    keras.layers.LayerNormalization(),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy")
model.fit(x, y, epochs=3, batch_size=16, verbose=0)  # moves BatchNormalization's statistics
model.save_weights("model.weights.h5")
model.save("model.keras")
x_test = rng.normal(size=(10, 5)).astype("float32")
np.savez("expected.npz", x=x_test, y=model.predict(x_test, verbose=0),
         names=np.array([layer.name for layer in model.layers]))
"""


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """Files written by Keras 3 in a subprocess (KERAS_BACKEND=jax), and its predictions."""
    d = tmp_path_factory.mktemp("keras")
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KERAS_SCRIPT)],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    assert done.returncode == 0, done.stderr
    return d, np.load(d / "expected.npz")


def fnn_model(**kwargs):
    return fnn.Sequential(
        [
            Dense(8, activation="relu", input_shape=5),
            BatchNormalization(),
            Dropout(0.2),
            LayerNormalization(),
            Dense(3, activation="softmax"),
        ],
        **kwargs,
    )


@pytest.mark.parametrize("filename", ["model.weights.h5", "model.keras"])
def test_same_predictions_as_keras(keras_files, filename):
    d, expected = keras_files
    assert "dense_2" in expected["names"]  # Keras's names differ from the file's keys
    model = fnn_model()
    load_keras_weights(model, d / filename)
    np.testing.assert_allclose(
        model.predict(expected["x"], verbose=0), expected["y"], rtol=1e-5, atol=1e-6
    )
    with h5py.File(d / "model.weights.h5") as f:
        moving_mean = f["layers/batch_normalization/vars/2"][()]
    assert not np.allclose(moving_mean, 0)
    np.testing.assert_array_equal(model.get_weights()[4], moving_mean)


def test_fnn_input_layer_is_skipped(keras_files):
    d, expected = keras_files
    model = fnn.Sequential(
        [Input(5), Dense(8, activation="relu"), BatchNormalization(), Dropout(0.2)]
        + [LayerNormalization(), Dense(3, activation="softmax")]
    )
    load_keras_weights(model, d / "model.keras")
    np.testing.assert_allclose(model.predict(expected["x"], verbose=0), expected["y"], rtol=1e-5)


def check_refused(model, path, match):
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        load_keras_weights(model, path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("filename", ["model.weights.h5", "model.keras"])
def test_refuses_other_architectures_and_keeps_weights(keras_files, filename):
    d, _ = keras_files
    path = d / filename
    fewer = fnn.Sequential([Dense(8, input_shape=5), Dense(3)])
    check_refused(fewer, path, "layers")
    wrong_shape = fnn.Sequential(
        [Dense(8, input_shape=4), BatchNormalization(), Dropout(0.2)]
        + [LayerNormalization(), Dense(3)]
    )
    check_refused(wrong_shape, path, r"'dense'.*\(5, 8\).*\(4, 8\)")
    no_beta = fnn.Sequential(
        [Dense(8, input_shape=5), BatchNormalization(center=False), Dropout(0.2)]
        + [LayerNormalization(), Dense(3)]
    )
    check_refused(no_beta, path, "'batch_normalization' holds arrays of shapes")


def test_keras_file_checks_the_order_of_layer_kinds(keras_files):
    d, _ = keras_files
    swapped = fnn.Sequential(
        [Dense(8, input_shape=5), LayerNormalization(), Dropout(0.2)]
        + [BatchNormalization(), Dense(3)]
    )
    check_refused(swapped, d / "model.keras", "holds a stack of 5 layers")
    # A .weights.h5 file names layers per class only (as Keras's own loader matches them), so
    # the same classes in another order load each class's weights into the same-class layer.
    load_keras_weights(swapped, d / "model.weights.h5")


def test_refuses_non_keras_files(tmp_path):
    model = fnn_model()
    bad = tmp_path / "x.weights.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="HDF5"):
        load_keras_weights(model, bad)
    with h5py.File(tmp_path / "empty.weights.h5", "w") as f:
        f.create_group("vars")
    with pytest.raises(ValueError, match="no 'layers' group"):
        load_keras_weights(model, tmp_path / "empty.weights.h5")
    with zipfile.ZipFile(tmp_path / "m.keras", "w") as z:
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"no model\.weights\.h5"):
        load_keras_weights(model, tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "big.keras", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\0" * (80 * 2**20))  # compresses to ~80 KB
    with pytest.raises(ValueError, match="declares"):
        load_keras_weights(model, tmp_path / "big.keras")
    with pytest.raises(ValueError, match="not a regular file"):
        load_keras_weights(model, "/dev/zero")
    with pytest.raises(TypeError, match="path"):
        load_keras_weights(model, 1)


def test_keras_key():
    assert [keras_key(c) for c in ("LayerNormalization", "Dropout", "Conv1D")] == [
        "layer_normalization",
        "dropout",
        "conv1d",
    ]
