"""fnn.interop.safetensors: round trips, the real safetensors reader/writer, hostile files."""

import json
import os
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import safetensors.numpy

import fnn
from fnn.interop.safetensors import (
    MAX_HEADER_BYTES,
    decode,
    encode,
    load_file,
    load_safetensors,
    save_safetensors,
)
from fnn.layers import BatchNormalization, Dense, Dropout, LayerNormalization


def make_model(seed=0):
    return fnn.Sequential(
        [
            Dense(8, activation="relu", input_shape=5),
            BatchNormalization(),
            Dropout(0.1),
            LayerNormalization(),
            Dense(3),
        ],
        seed=seed,
    )


def test_names_and_real_reader(tmp_path):
    model = make_model()
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(32, 5)), rng.normal(size=(32, 3)), epochs=1, verbose=0)
    path = tmp_path / "w.safetensors"
    save_safetensors(model, path)
    got = safetensors.numpy.load_file(str(path))
    expected = {
        "dense/kernel",
        "dense/bias",
        "batch_normalization/gamma",
        "batch_normalization/beta",
        "batch_normalization/moving_mean",
        "batch_normalization/moving_variance",
        "layer_normalization/gamma",
        "layer_normalization/beta",
        "dense_1/kernel",
        "dense_1/bias",
    }
    assert set(got) == expected
    for name, w in zip(fnn.interop.weight_names(model), model.get_weights()):
        np.testing.assert_array_equal(got[name], w)
    # The moving statistics moved in training, so the state really was written.
    assert not np.allclose(got["batch_normalization/moving_mean"], 0)


def test_round_trip_predictions(tmp_path):
    model, other = make_model(0), make_model(1)
    x = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32)
    assert not np.allclose(model.predict(x, verbose=0), other.predict(x, verbose=0))
    path = os.fspath(tmp_path / "w.safetensors")
    save_safetensors(model, path)
    load_safetensors(other, path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))


def test_reads_a_file_written_by_the_safetensors_package(tmp_path):
    model = fnn.Sequential([Dense(3, input_shape=2, name="d")])
    k = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.0, -2.0, 0.5], np.float32)
    path = str(tmp_path / "w.safetensors")
    safetensors.numpy.save_file({"d/bias": b, "d/kernel": k}, path)
    load_safetensors(model, path)
    np.testing.assert_array_equal(model.predict(np.eye(2), verbose=0), k + b)


def test_encode_decode_dtypes_match_the_package():
    import ml_dtypes

    arrays = {
        "f32": np.arange(6, dtype=np.float32).reshape(3, 2),
        "f16": np.ones(3, np.float16),
        "i64": np.arange(4, dtype=np.int64),
        "u8": np.arange(5, dtype=np.uint8),
        "bool": np.array([True, False]),
        "scalar": np.array(2.5, np.float64),
    }
    data = encode(arrays)
    theirs = safetensors.numpy.load(data)
    ours = decode(safetensors.numpy.save(arrays))
    for name, a in arrays.items():
        assert theirs[name].dtype == ours[name].dtype == np.asarray(a).dtype
        np.testing.assert_array_equal(theirs[name], a)
        np.testing.assert_array_equal(ours[name], a)
    # safetensors.numpy has no bfloat16; the header's name for it is "BF16" (the spec's).
    bf16 = np.full((2,), 1.5, ml_dtypes.bfloat16)
    data = encode({"b": bf16})
    assert b'"dtype":"BF16"' in data
    assert decode(data)["b"].dtype == bf16.dtype
    np.testing.assert_array_equal(decode(data)["b"], bf16)


def test_refuses_architecture_mismatch_and_leaves_model_unchanged(tmp_path):
    model = make_model()
    path = str(tmp_path / "w.safetensors")
    save_safetensors(model, path)
    before = model.get_weights()

    wrong_shape = fnn.Sequential([Dense(9, input_shape=5), Dense(3)])
    with pytest.raises(ValueError, match=r"'dense/kernel' is float32 \(5, 8\)"):
        load_safetensors(wrong_shape, path)

    tensors = dict(zip(fnn.interop.weight_names(model), before))
    tensors["dense/kernel"] = tensors["dense/kernel"].astype(np.float16)
    safetensors.numpy.save_file(tensors, path)
    with pytest.raises(ValueError, match="float16"):
        load_safetensors(model, path)

    del tensors["dense_1/bias"]
    tensors["extra"] = np.zeros(2, np.float32)
    tensors["dense/kernel"] = before[0] + 1
    safetensors.numpy.save_file(tensors, path)
    with pytest.raises(ValueError, match=r"missing \['dense_1/bias'\].*unexpected \['extra'\]"):
        load_safetensors(model, path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def write_raw(path, header, data=b"", n=None):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text) if n is None else n) + text + data)
    return str(path)


@pytest.mark.parametrize(
    ("header", "data", "n", "match"),
    [
        (b"", b"", 2**63, "declares a header"),
        (b"x" * 16, b"", MAX_HEADER_BYTES + 1, "declares a header"),
        (b"not json", b"", None, "not JSON"),
        (b"[1, 2]", b"", None, "not a JSON object"),
        (b"[" * 100000 + b"]" * 100000, b"", None, "not JSON"),
        (
            {"a": {"dtype": "F32", "shape": [2**40, 2**20], "data_offsets": [0, 8]}},
            b"",
            None,
            "shape",
        ),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"1234", None, "a"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"12345678", None, "8"),
        ({"a": {"dtype": "O", "shape": [1], "data_offsets": [0, 4]}}, b"1234", None, "dtype"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
            },
            b"0" * 12,
            None,
            "overlap",
        ),
        ({"__metadata__": {"a": 1}}, b"", None, "__metadata__"),
    ],
)
def test_refuses_malformed_files(tmp_path, header, data, n, match):
    path = write_raw(tmp_path / "bad.safetensors", header, data, n)
    with pytest.raises(ValueError, match=match):
        load_file(path)
    with pytest.raises(ValueError):
        load_safetensors(fnn.Sequential([Dense(2, input_shape=1)]), path)


def test_refuses_non_regular_files(tmp_path):
    model = fnn.Sequential([Dense(2, input_shape=1)])
    with pytest.raises(ValueError, match="not a regular file"):
        load_safetensors(model, "/dev/zero")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(ValueError, match="not a regular file"):
        load_safetensors(model, str(fifo))
    with pytest.raises(ValueError, match="not a regular file"):
        load_file(str(tmp_path))
    with pytest.raises(ValueError, match="has 3 bytes"):
        load_file(_short(tmp_path))
    with pytest.raises(TypeError, match="path"):
        load_safetensors(model, 3)


def _short(tmp_path):
    p = tmp_path / "short.safetensors"
    p.write_bytes(b"abc")
    return str(p)


def test_encode_refuses_bad_names_and_dtypes():
    with pytest.raises(ValueError, match="complex64"):
        encode({"c": np.ones(2, np.complex64)})
    with pytest.raises(ValueError, match="reserved"):
        encode({"__metadata__": np.ones(2)})
    with pytest.raises(TypeError, match="metadata"):
        encode({}, {"a": 1})


def test_hostile_files_stay_within_a_memory_limit(tmp_path):
    """Headers that declare huge tensors are refused before any allocation (RLIMIT_AS)."""
    huge = {"a": {"dtype": "F64", "shape": [2**20, 2**20], "data_offsets": [0, 2**43]}}
    fits_header = {"a": {"dtype": "F32", "shape": [2**28], "data_offsets": [0, 2**30]}}
    p1 = write_raw(tmp_path / "huge.safetensors", huge)
    p2 = write_raw(tmp_path / "claims.safetensors", fits_header, b"\0" * 16)
    p3 = write_raw(tmp_path / "bighead.safetensors", b" " * 64, b"", MAX_HEADER_BYTES)
    code = textwrap.dedent(
        f"""
        import resource
        import fnn
        from fnn.interop.safetensors import load_safetensors
        from fnn.layers import Dense
        model = fnn.Sequential([Dense(2, input_shape=1)])
        model.get_weights()  # its parameters (a compiled init) exist before the limit
        pages = int(open("/proc/self/statm").read().split()[0])
        limit = pages * resource.getpagesize() + 256 * 2**20  # what is mapped now + 256 MiB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        for path in {[p1, p2, p3]!r}:
            try:
                load_safetensors(model, path)
            except ValueError as exc:
                print("refused", str(exc)[:60])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("refused") == 3, out.stdout
