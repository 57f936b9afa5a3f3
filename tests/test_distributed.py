"""fnn.distributed: data-parallel fit equals a single-device fit (8 virtual devices; 2 processes).

Runs needing several devices or processes are subprocesses with XLA_FLAGS set in their
environment before JAX starts, each bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import make_classification, seed_model

import fnn
from fnn.distributed import DataParallel

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120

# One worker for both set-ups. It fits the same model twice on the same global data: once with
# DataParallel (each process passing its own shard) and once on one device with no distribution,
# then writes what the test compares. Unequal shards (130 / 118) exercise the padding path.
WORKER = r"""
import json, sys
import numpy as np
import fnn

cfg = json.loads(sys.argv[1])
if cfg["processes"] > 1:
    fnn.distributed.initialize(
        f"127.0.0.1:{cfg['port']}", num_processes=cfg["processes"], process_id=cfg["rank"]
    )
import jax

rng = np.random.default_rng(0)
n, nv = 248, 40
x = rng.normal(size=(n + nv, 10)).astype(np.float32)
labels = np.argmax(x @ rng.normal(size=(10, 10)), axis=1)
y = np.eye(10, dtype=np.float32)[labels]
w = rng.uniform(0.5, 1.5, size=n + nv).astype(np.float32)
xv, yv, x, y, w = x[n:], y[n:], x[:n], y[:n], w[:n]


def model(distribution):
    m = fnn.Sequential(seed=0)
    m.add(fnn.layers.Dense(32, activation="relu", input_shape=10))
    m.add(fnn.layers.Dense(10, activation="softmax"))
    m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
              distribution=distribution)
    return m


def shard(a, cuts):
    rank = jax.process_index()
    return a[cuts[rank]:cuts[rank + 1]]


cuts = [0, 130, n] if cfg["processes"] > 1 else [0, n]
vcuts = [0, 24, nv] if cfg["processes"] > 1 else [0, nv]
out = {"devices": jax.device_count(), "rank": jax.process_index()}

dp = model(fnn.distributed.DataParallel())
before = dp.get_weights()
try:
    dp.fit(shard(x, cuts), shard(y, cuts), batch_size=30, verbose=0)
except ValueError as e:
    out["bad_batch_error"] = str(e)
out["unchanged_after_error"] = all(np.array_equal(a, b) for a, b in zip(before, dp.get_weights()))

hist = dp.fit(shard(x, cuts), shard(y, cuts), sample_weight=shard(w, cuts), batch_size=32,
              epochs=2, verbose=2, validation_data=(shard(xv, vcuts), shard(yv, vcuts)))
out["train_cache_size"] = dp._function("train")._cache_size()
out["history"] = hist.history
out["evaluate"] = dp.evaluate(shard(x, cuts), shard(y, cuts), batch_size=16, verbose=0)
pred = dp.predict(shard(xv, vcuts), batch_size=8)
out["weights"] = [a.tolist() for a in dp.get_weights()]
out["replicated"] = all(a.sharding.is_fully_replicated for a in jax.tree.leaves(dp.params))

order, rest = fnn.data.epoch_order(n, 32, seed=0, epoch=0, shuffle=True)
dist = dp._dist
hlo = dp._function("train").lower(dp.params, dp.opt_state, dp.state,
                                  dist.put_data([shard(x, cuts), shard(y, cuts), None]),
                                  order, rest, jax.random.key(0), np.int32(0)).compile().as_text()
out["hlo_all_reduce"] = "all-reduce" in hlo
out["hlo_all_gather"] = "all-gather" in hlo

ref = model(None)
ref_hist = ref.fit(x, y, sample_weight=w, batch_size=32, epochs=2, verbose=0,
                   validation_data=(xv, yv))
out["ref_history"] = ref_hist.history
out["ref_evaluate"] = ref.evaluate(x, y, batch_size=16, verbose=0)
out["ref_weights"] = [a.tolist() for a in ref.get_weights()]
out["predict_error"] = float(np.abs(pred - shard(ref.predict(xv, batch_size=8), vcuts)).max())
out["predict_rows"] = len(pred)

fnn.distributed.on_primary(np.savez, f"{cfg['dir']}/ckpt-{jax.process_index()}.npz",
                           *dp.get_weights())
with open(f"{cfg['dir']}/out-{jax.process_index()}.json", "w") as f:
    json.dump(out, f)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, devices: int, processes: int) -> list[tuple[dict, str]]:
    env = {
        **os.environ,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    port = _free_port()
    procs = []
    for rank in range(processes):
        cfg = {"processes": processes, "rank": rank, "port": port, "dir": str(tmp_path)}
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(cfg)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    outputs = []
    try:
        for p in procs:
            outputs.append(p.communicate(timeout=TIMEOUT_S)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
    return [
        (json.loads((tmp_path / f"out-{rank}.json").read_text()), outputs[rank])
        for rank in range(processes)
    ]


def _check_matches_single_device(out: dict) -> None:
    assert out["history"].keys() == out["ref_history"].keys()
    for key, values in out["history"].items():
        np.testing.assert_allclose(values, out["ref_history"][key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["evaluate"], out["ref_evaluate"], rtol=1e-5, atol=1e-6)
    for a, b in zip(out["weights"], out["ref_weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert out["predict_error"] < 1e-5
    # One compiled program per epoch; params replicated; gradients all-reduced by XLA, the data
    # never moved between devices.
    assert out["train_cache_size"] == 1
    assert out["replicated"]
    assert out["hlo_all_reduce"] and not out["hlo_all_gather"]
    assert "global batch" in out["bad_batch_error"] and "batch_size=30" in out["bad_batch_error"]
    assert out["unchanged_after_error"]


def test_eight_virtual_devices_match_one_device(tmp_path):
    ((out, stdout),) = _launch(tmp_path, devices=8, processes=1)
    assert out["devices"] == 8
    _check_matches_single_device(out)
    assert "8 devices" in out["bad_batch_error"]
    assert out["predict_rows"] == 40
    assert stdout.count("Epoch ") == 2  # verbose=2 prints on the only (primary) process


def test_two_processes_match_one_device_and_only_process_0_writes(tmp_path):
    (out0, stdout0), (out1, stdout1) = _launch(tmp_path, devices=2, processes=2)
    for out in (out0, out1):
        assert out["devices"] == 4
        _check_matches_single_device(out)
    # Each process gets the predictions of its own shard (24 and 16 rows of 40).
    assert (out0["predict_rows"], out1["predict_rows"]) == (24, 16)
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == ["ckpt-0.npz"]
    assert stdout0.count("Epoch ") == 2 and stdout1.count("Epoch ") == 0


def test_one_device_data_parallel_equals_no_distribution():
    x, y, _ = make_classification(100)
    results = []
    for dist in (None, DataParallel(jax.devices()[:1])):
        model = seed_model(compile=False)
        model.compile(optimizer="adam", loss="categorical_crossentropy", distribution=dist)
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        results.append((history.history["loss"], model.predict(x, batch_size=16)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-7)


def test_bad_distribution_arguments_are_named():
    model = seed_model(compile=False)
    with pytest.raises(TypeError, match="distribution must be None or a"):
        model.compile(optimizer="adam", loss="mse", distribution="mirrored")
    assert model.optimizer is None  # the failed compile changed nothing
    with pytest.raises(TypeError, match="devices must be a non-empty sequence"):
        DataParallel(devices=[])
    with pytest.raises(TypeError, match="mesh_axis"):
        DataParallel(mesh_axis="")


def test_is_primary_and_on_primary_in_a_single_process():
    assert fnn.distributed.is_primary()
    assert fnn.distributed.on_primary(lambda a: a + 1, 1) == 2
