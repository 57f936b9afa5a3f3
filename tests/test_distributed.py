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
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import make_classification, seed_model

import fnn
from fnn.distributed import DataParallel
from fnn.models import load_model

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 120

# The data, the fit settings and the single-device reference are shared by every test.
N, NV, BATCH, EVAL_BATCH, EPOCHS = 250, 40, 32, 32, 2

# One worker for both set-ups: it fits with DataParallel, each process passing its own shard of
# the data, and writes what the test compares with the single-device reference. Unequal shards
# (130 / 120) exercise the padding path; the last batch (250 % 32 = 26 examples, not divisible
# by the devices) the replicated-batch path.
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

data = np.load(f"{cfg['dir']}/data.npz")
rank = jax.process_index()
cut, vcut = cfg["cuts"], cfg["vcuts"]
x, y, w = (data[k][cut[rank]:cut[rank + 1]] for k in ("x", "y", "w"))
xv, yv = (data[k][vcut[rank]:vcut[rank + 1]] for k in ("xv", "yv"))
out = {"devices": jax.device_count()}

m = fnn.Sequential(seed=0)
m.add(fnn.layers.Dense(32, activation="relu", input_shape=10))
m.add(fnn.layers.BatchNormalization())  # batch statistics over the global batch
m.add(fnn.layers.Dropout(0.2))  # the same masks however the batch is sharded
m.add(fnn.layers.Dense(10, activation="softmax"))
m.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
          distribution=fnn.distributed.DataParallel())
before = m.get_weights()
try:
    m.fit(x, y, batch_size=30, verbose=0)
except ValueError as e:
    out["bad_batch_error"] = str(e)
out["unchanged_after_error"] = all(np.array_equal(a, b) for a, b in zip(before, m.get_weights()))

ckpt = fnn.callbacks.ModelCheckpoint(f"{cfg['dir']}/epoch-{rank}-{{epoch}}.fnn")
compiles = []  # XLA compilations after the first epoch: none, every epoch reuses its program

def count(name, duration, **kwargs):
    if name == "/jax/core/compile/backend_compile_duration":
        compiles.append(name)

listen = fnn.callbacks.LambdaCallback(
    on_epoch_end=lambda e, logs: e == 0 and jax.monitoring.register_event_duration_secs_listener(count)
)
hist = m.fit(x, y, sample_weight=w, batch_size=cfg["batch"], epochs=cfg["epochs"], verbose=2,
             validation_data=(xv, yv), callbacks=[ckpt, listen])
jax.monitoring.unregister_event_duration_listener(count)
out["compiles_after_first_epoch"] = len(compiles)
out["history"] = hist.history

out["evaluate"] = m.evaluate(x, y, batch_size=cfg["eval_batch"], verbose=0)
out["predict"] = m.predict(xv, batch_size=cfg["eval_batch"]).tolist()
out["weights"] = [a.tolist() for a in m.get_weights()]
out["replicated"] = all(a.sharding.is_fully_replicated for a in jax.tree.leaves(m.params))
if cfg["hlo"]:
    order, rest = fnn.data.epoch_order(cut[-1], cfg["batch"], seed=0, epoch=0, shuffle=True)
    args = (m.train_state, m.distribution.put_data([x, y, w]), order, rest, np.int32(0))
    hlo = m.engine.compiled("train").lower(*args).compile().as_text()
    out["hlo_all_reduce"], out["hlo_all_gather"] = "all-reduce" in hlo, "all-gather" in hlo

if cfg["stream"]:  # data bigger than the device budget: replicated chunks, same result
    s = fnn.Sequential(seed=0)
    s.add(fnn.layers.Dense(32, activation="relu", input_shape=10))
    s.add(fnn.layers.BatchNormalization())
    s.add(fnn.layers.Dropout(0.2))
    s.add(fnn.layers.Dense(10, activation="softmax"))
    s.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"],
              distribution=fnn.distributed.DataParallel())
    s.fit(x, y, sample_weight=w, batch_size=cfg["batch"], epochs=cfg["epochs"], verbose=0,
          validation_data=(xv, yv), max_device_bytes=100 * 4 * 21)
    out["stream_weight_error"] = max(
        float(np.abs(a - b).max()) for a, b in zip(s.get_weights(), m.get_weights()))

m.save(f"{cfg['dir']}/model-{rank}.fnn")  # process 0 alone writes
with open(f"{cfg['dir']}/out-{rank}.json", "w") as f:
    json.dump(out, f)
"""


def _data() -> dict[str, np.ndarray]:
    x, y, _ = make_classification(N + NV)
    w = np.random.default_rng(1).uniform(0.5, 1.5, size=N).astype(np.float32)
    return {"x": x[:N], "y": y[:N], "w": w, "xv": x[N:], "yv": y[N:]}


def _model(distribution=None) -> fnn.Sequential:
    model = fnn.Sequential(seed=0)
    model.add(fnn.layers.Dense(32, activation="relu", input_shape=10))
    model.add(fnn.layers.BatchNormalization())
    model.add(fnn.layers.Dropout(0.2))
    model.add(fnn.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer="adam",
        loss="categorical_crossentropy",
        metrics=["accuracy"],
        distribution=distribution,
    )
    return model


def _fit_and_measure(distribution=None) -> dict:
    d = _data()
    m = _model(distribution)
    hist = m.fit(
        d["x"],
        d["y"],
        sample_weight=d["w"],
        batch_size=BATCH,
        epochs=EPOCHS,
        verbose=0,
        validation_data=(d["xv"], d["yv"]),
    )
    return {
        "history": hist.history,
        "evaluate": m.evaluate(d["x"], d["y"], batch_size=EVAL_BATCH, verbose=0),
        "predict": m.predict(d["xv"], batch_size=EVAL_BATCH),
        "weights": m.get_weights(),
    }


@pytest.fixture(scope="module")
def reference() -> dict:
    """The same fit on one device, no distribution."""
    return _fit_and_measure(None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path: Path, devices: int, processes: int, hlo: bool) -> list[tuple[dict, str]]:
    """Run WORKER in ``processes`` processes of ``devices`` CPU devices each; their outputs."""
    np.savez(tmp_path / "data.npz", **_data())
    env = {
        **os.environ,
        # the suite's flags (conftest: XLA's fast-compiling optimisation level) and N devices
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
        f"--xla_force_host_platform_device_count={devices}",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    cuts = [0, 130, N] if processes == 2 else [0, N]
    vcuts = [0, 24, NV] if processes == 2 else [0, NV]
    port = _free_port()
    procs, logs = [], []
    for rank in range(processes):
        cfg = {
            **{"processes": processes, "rank": rank, "port": port, "dir": str(tmp_path)},
            **{"cuts": cuts, "vcuts": vcuts, "hlo": hlo, "stream": hlo, "batch": BATCH},
            **{"eval_batch": EVAL_BATCH, "epochs": EPOCHS},
        }
        logs.append(tmp_path / f"stdout-{rank}.txt")
        with logs[-1].open("w") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", WORKER, json.dumps(cfg)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    # Wait for all, but stop the others as soon as one fails (they would wait for it).
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    outputs = [log.read_text() for log in logs]
    for p, text in zip(procs, outputs):
        assert p.returncode == 0, text[-3000:]
    results = []
    for rank in range(processes):
        out = json.loads((tmp_path / f"out-{rank}.json").read_text())
        out["stdout"] = outputs[rank]
        out["rows"] = slice(vcuts[rank], vcuts[rank + 1])
        results.append(out)
    return results


def _check_matches(out: dict, ref: dict) -> None:
    """DataParallel's fit, evaluate and predict equal the single-device run's, to float tolerance."""
    assert out["history"].keys() == ref["history"].keys()
    for key, values in out["history"].items():
        np.testing.assert_allclose(values, ref["history"][key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["evaluate"], ref["evaluate"], rtol=1e-5, atol=1e-6)
    for a, b in zip(out["weights"], ref["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["predict"], ref["predict"][out["rows"]], atol=1e-5)


def _check_distributed(out: dict) -> None:
    # One compiled program per epoch, params left replicated, a bad global batch refused cleanly.
    assert out["compiles_after_first_epoch"] == 0
    assert out["replicated"]
    message = out["bad_batch_error"]
    assert "batch_size=30" in message and f"{out['devices']} devices" in message
    assert out["unchanged_after_error"]


def test_eight_virtual_devices_match_one_device(tmp_path, reference):
    (out,) = _launch(tmp_path, devices=8, processes=1, hlo=True)
    assert out["devices"] == 8
    _check_matches(out, reference)
    _check_distributed(out)
    # Gradients are all-reduced by XLA from the sharding annotations; the (replicated) data is
    # never moved between devices: each device gathers its own slice of every batch.
    assert out["hlo_all_reduce"] and not out["hlo_all_gather"]
    assert out["stdout"].count("Epoch ") == EPOCHS  # verbose=2 on the only (primary) process
    assert out["stream_weight_error"] < 1e-5


def test_two_processes_match_one_device_and_only_process_0_writes(tmp_path, reference):
    out0, out1 = _launch(tmp_path, devices=2, processes=2, hlo=False)
    for out in (out0, out1):
        assert out["devices"] == 4
        _check_matches(out, reference)
        _check_distributed(out)
    # Each process got the predictions for its own shard: 24 and 16 of the 40 rows.
    assert (len(out0["predict"]), len(out1["predict"])) == (24, 16)
    # model.save and ModelCheckpoint wrote from process 0 only; the file holds the trained model.
    written = sorted(p.name for p in tmp_path.glob("*.fnn"))
    assert written == ["epoch-0-1.fnn", "epoch-0-2.fnn", "model-0.fnn"]
    saved = load_model(tmp_path / "model-0.fnn")
    for a, b in zip(saved.get_weights(), out0["weights"]):
        np.testing.assert_array_equal(a, np.asarray(b, np.float32))
    assert out0["stdout"].count("Epoch ") == EPOCHS and out1["stdout"].count("Epoch ") == 0


def test_one_device_data_parallel_equals_no_distribution(reference):
    out = _fit_and_measure(DataParallel(jax.devices()[:1]))
    out["rows"] = slice(None)
    _check_matches(out, reference)


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


POPULATION_WORKER = r"""
import json
import numpy as np
import jax
import fnn

rng = np.random.default_rng(0)
x = rng.normal(size=(100, 10)).astype("float32")
y = np.eye(4)[rng.integers(0, 4, 100)]


def model(distribution=None):
    m = fnn.Sequential(seed=0)
    m.add(fnn.layers.Dense(16, activation="relu", input_shape=10))
    m.add(fnn.layers.Dense(4, activation="softmax"))
    m.compile(loss="categorical_crossentropy", optimizer="adam", distribution=distribution)
    return m


out = {"devices": len(jax.devices())}
runs = {
    "single": fnn.Population(model(), 8),
    "data_parallel": fnn.Population(model(fnn.distributed.DataParallel()), 8),
    "member_parallel": fnn.Population(
        model(), 8, distribution=fnn.distributed.MemberParallel()
    ),
}
for name, pop in runs.items():
    h = pop.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(x[:40], y[:40]))
    out[name] = {
        "loss": np.asarray(h.history["val_loss"][-1]).tolist(),
        "kernel": np.asarray(pop.params[0]["kernel"]).tolist(),
        "predict": pop.predict(x[:5], verbose=0).tolist(),
    }
mp = runs["member_parallel"]
kernel = mp.params[0]["kernel"]
out["member_shards"] = len({s.device for s in kernel.addressable_shards})
out["shard_shape"] = list(kernel.addressable_shards[0].data.shape)
try:
    fnn.Population(model(), 6, distribution=fnn.distributed.MemberParallel())
except ValueError as e:
    out["uneven_error"] = str(e)
try:
    model(fnn.distributed.MemberParallel())
except ValueError as e:
    out["single_error"] = str(e)
print(json.dumps(out))
"""


def test_population_data_parallel_and_member_parallel_match_one_device(tmp_path):
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=4",
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-c", POPULATION_WORKER],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    ref = out["single"]
    for name in ("data_parallel", "member_parallel"):
        np.testing.assert_allclose(out[name]["loss"], ref["loss"], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out[name]["kernel"], ref["kernel"], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(out[name]["predict"], ref["predict"], rtol=1e-4, atol=1e-6)
    # MemberParallel: 8 members on 4 devices, 2 per device, no copy of the others
    assert out["member_shards"] == 4 and out["shard_shape"][0] == 2
    assert "size=6" in out["uneven_error"] and "4 devices" in out["uneven_error"]
    assert "DataParallel" in out["single_error"]


def test_every_public_name_of_the_module_is_exported():
    import inspect

    import fnn.distributed as module

    defined = {
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and obj.__module__ == module.__name__
    }
    assert "MemberParallel" in defined and defined == set(module.__all__)
    namespace: dict = {}
    exec("from fnn.distributed import *", namespace)
    assert namespace["MemberParallel"] is module.MemberParallel
